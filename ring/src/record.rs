//! What travels through the ring: [`Record`], and its encoding into one to
//! three 64-byte lines of 7 payload words each.
//!
//! Payload word `k` is line `k / 7`, bytes `8 + 8 (k % 7)` of that line (word
//! 0 of every line is its line word). The byte tables are in `docs/ring.md`.

use crate::layout::{
    KIND_BAR_CLOSED, KIND_BAR_CORRECTED, KIND_BAR_UPDATE, KIND_FEED_GAP, KIND_HEARTBEAT,
    KIND_SHUTDOWN, KIND_SYMBOL_ADDED, KIND_TICK, LINE_PAYLOAD_WORDS, MAX_LINES,
};
use crate::seqlock::SLOT_PAYLOAD_WORDS;
use mtf::{Bar, Side, SymbolId, Tick, TickKind, Timeframe};

/// Payload words of the longest record.
pub(crate) const PAYLOAD_WORDS: usize = MAX_LINES * LINE_PAYLOAD_WORDS;

/// The encoded payload of one record: room for [`MAX_LINES`] lines.
pub(crate) type Payload = [u64; PAYLOAD_WORDS];

/// Payload words of a snapshot bar slot.
pub(crate) type SlotPayload = [u64; SLOT_PAYLOAD_WORDS];

/// Symbol id meaning "no symbol" in events.
pub const NO_SYMBOL: SymbolId = SymbolId::MAX;

/// Bar `aux`: VWAP is `vwap_num / volume` (`close` at zero volume), not sent.
const VWAP_DERIVED: u8 = 0;
/// Bar `aux`: VWAP is sent in payload word 14 (a third line in the ring).
const VWAP_EXPLICIT: u8 = 1;
/// Payload words of a bar with a derived VWAP (two lines).
const BAR_WORDS: usize = 14;

/// Tick form (bits 4..6 of `aux`): one line, word 5 = id, no ask.
const TICK_FORM_ID: u8 = 0;
/// Tick form: one line, words 5 and 6 = ask and ask size, id 0.
const TICK_FORM_ASK: u8 = 1;
/// Tick form: two lines, words 5, 6, 7 = ask, ask size, id.
const TICK_FORM_FULL: u8 = 2;

/// Which bar message a bar record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarKind {
    /// The bar just closed (revision 0).
    Closed,
    /// A closed bar was corrected by a late tick; `revision` counts corrections.
    Corrected,
    /// The bar is still open; this is its state so far.
    Update,
}

impl BarKind {
    /// The record kind code (`layout::KIND_BAR_*`).
    #[inline]
    pub const fn code(self) -> u8 {
        match self {
            BarKind::Closed => KIND_BAR_CLOSED,
            BarKind::Corrected => KIND_BAR_CORRECTED,
            BarKind::Update => KIND_BAR_UPDATE,
        }
    }

    /// The kind for a record kind code, `None` when it is not a bar code.
    #[inline]
    pub const fn from_code(code: u8) -> Option<BarKind> {
        match code {
            KIND_BAR_CLOSED => Some(BarKind::Closed),
            KIND_BAR_CORRECTED => Some(BarKind::Corrected),
            KIND_BAR_UPDATE => Some(BarKind::Update),
            _ => None,
        }
    }
}

/// One message of the ring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Record {
    /// A bar: closed, corrected or an update of an open bar. Every field of
    /// [`Bar`] arrives exactly (`end` is `timeframe.bucket_end(start)`, as the
    /// aggregator defines it).
    Bar {
        /// Closed, corrected or update.
        kind: BarKind,
        /// The bar.
        bar: Bar,
    },
    /// One tick, every field exact.
    Tick(Tick),
    /// The engine saw a gap in a feed's sequence numbers: messages
    /// `expected .. received` were lost upstream.
    FeedGap {
        /// Writer wall clock, ns since the Unix epoch.
        ts: i64,
        /// Engine-assigned feed id.
        feed: u32,
        /// The symbol when the feed is per symbol, else `None`.
        symbol: Option<SymbolId>,
        /// The sequence number the engine expected.
        expected: u64,
        /// The sequence number it received.
        received: u64,
    },
    /// The writer is alive (it also updates the header's heartbeat).
    Heartbeat {
        /// Writer wall clock, ns since the Unix epoch.
        ts: i64,
    },
    /// The writer shuts down: no record follows.
    Shutdown {
        /// Writer wall clock, ns since the Unix epoch.
        ts: i64,
    },
    /// A symbol was added to the snapshot directory (read its name there).
    SymbolAdded {
        /// Writer wall clock, ns since the Unix epoch.
        ts: i64,
        /// The new id.
        symbol: SymbolId,
    },
}

/// Why a value cannot be encoded into a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Bar flags use bits above the 16 a record carries.
    #[error("bar flags {0:#x} use bits above bit 15, which the ring layout does not carry")]
    BarFlags(u32),
    /// [`NO_SYMBOL`] is reserved for "no symbol".
    #[error("symbol id {0} is reserved")]
    ReservedSymbol(SymbolId),
}

/// Why a payload does not decode (a writer of a newer minor layout, or a bug).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Unknown record kind code.
    Kind(u8),
    /// A field holds a value outside its domain (bad timeframe, tick kind).
    Field,
}

/// Payload word 0: kind, aux, flags, symbol.
#[inline]
fn head(kind: u8, aux: u8, flags: u16, symbol: SymbolId) -> u64 {
    kind as u64 | (aux as u64) << 8 | (flags as u64) << 16 | (symbol as u64) << 32
}

/// The `aux` byte of an encoded payload.
#[inline]
fn aux_of(p: &[u64]) -> u8 {
    (p[0] >> 8) as u8
}

/// The lines a payload needs, from its head (what a writer sends and a
/// reader checks against the line word).
#[inline]
pub(crate) fn lines_of(p: &[u64]) -> usize {
    match kind_of(p) {
        KIND_BAR_CLOSED | KIND_BAR_CORRECTED | KIND_BAR_UPDATE => {
            if aux_of(p) == VWAP_DERIVED {
                2
            } else {
                3
            }
        }
        KIND_TICK if aux_of(p) >> 4 == TICK_FORM_FULL => 2,
        _ => 1,
    }
}

#[inline]
fn lo32(w: u64) -> u32 {
    w as u32
}

#[inline]
fn hi32(w: u64) -> u32 {
    (w >> 32) as u32
}

/// The record kind code of an encoded payload.
#[inline]
pub(crate) fn kind_of(p: &[u64]) -> u8 {
    p[0] as u8
}

/// The symbol field of an encoded payload.
#[inline]
pub(crate) fn symbol_of(p: &[u64]) -> SymbolId {
    hi32(p[0])
}

/// The timeframe (ms) of an encoded bar payload.
#[inline]
pub(crate) fn timeframe_ms_of(p: &[u64]) -> u32 {
    lo32(p[1])
}

/// Encodes a bar into `p[..14]` (word 0 kind/aux/flags/symbol, 1 timeframe
/// ms/revision, 2 start, 3..=10 open high low close volume vwap_num
/// buy_volume sell_volume, 11 count, 12 first_ts, 13 last_ts) and, when
/// `explicit` or when the VWAP is not the one `Bar::vwap_of` derives, word 14
/// = vwap. Returns the words used: 14 or 15.
#[inline]
fn encode_bar_words(
    kind: BarKind,
    bar: &Bar,
    explicit: bool,
    p: &mut [u64],
) -> Result<usize, EncodeError> {
    let flags = u16::try_from(bar.flags).map_err(|_| EncodeError::BarFlags(bar.flags))?;
    if bar.symbol == NO_SYMBOL {
        return Err(EncodeError::ReservedSymbol(bar.symbol));
    }
    let explicit = explicit
        || Bar::vwap_of(bar.vwap_num, bar.volume, bar.close).to_bits() != bar.vwap.to_bits();
    let aux = if explicit {
        VWAP_EXPLICIT
    } else {
        VWAP_DERIVED
    };
    p[..BAR_WORDS].copy_from_slice(&[
        head(kind.code(), aux, flags, bar.symbol),
        bar.timeframe.millis() as u64 | (bar.revision as u64) << 32,
        bar.start as u64,
        bar.open.to_bits(),
        bar.high.to_bits(),
        bar.low.to_bits(),
        bar.close.to_bits(),
        bar.volume.to_bits(),
        bar.vwap_num.to_bits(),
        bar.buy_volume.to_bits(),
        bar.sell_volume.to_bits(),
        bar.count,
        bar.first_ts as u64,
        bar.last_ts as u64,
    ]);
    if explicit {
        p[BAR_WORDS] = bar.vwap.to_bits();
        Ok(BAR_WORDS + 1)
    } else {
        Ok(BAR_WORDS)
    }
}

/// Encodes a bar for the ring; returns its lines (2, or 3 with an explicit
/// VWAP). Unused words of the last line are zero.
#[inline]
pub(crate) fn encode_bar(kind: BarKind, bar: &Bar, p: &mut Payload) -> Result<usize, EncodeError> {
    let words = encode_bar_words(kind, bar, false, p)?;
    let lines = words.div_ceil(LINE_PAYLOAD_WORDS);
    p[words..lines * LINE_PAYLOAD_WORDS].fill(0);
    Ok(lines)
}

/// Encodes a bar for a snapshot slot: the ring's words with the VWAP always
/// explicit (word 14).
#[inline]
pub(crate) fn encode_slot_bar(
    kind: BarKind,
    bar: &Bar,
    p: &mut SlotPayload,
) -> Result<(), EncodeError> {
    encode_bar_words(kind, bar, true, p).map(|_| ())
}

/// Encodes a tick: word 0 kind/aux (tick kind, side, form)/flags/symbol,
/// 1 ts_event, 2 ts_recv, 3 price, 4 size, then by form: id (no ask); ask and
/// ask size (id 0); or ask, ask size, id in a second line. Returns the first
/// line's words and whether the id needs a second line.
#[inline]
pub(crate) fn tick_words(t: &Tick) -> Result<([u64; LINE_PAYLOAD_WORDS], bool), EncodeError> {
    if t.symbol == NO_SYMBOL {
        return Err(EncodeError::ReservedSymbol(t.symbol));
    }
    let (ask, ask_size) = (t.ask.to_bits(), t.ask_size.to_bits());
    let (form, w5, w6) = if ask | ask_size == 0 {
        (TICK_FORM_ID, t.id, 0)
    } else if t.id == 0 {
        (TICK_FORM_ASK, ask, ask_size)
    } else {
        (TICK_FORM_FULL, ask, ask_size)
    };
    let aux = t.kind as u8 | (t.side as u8) << 2 | form << 4;
    Ok((
        [
            head(KIND_TICK, aux, t.flags, t.symbol),
            t.ts_event as u64,
            t.ts_recv as u64,
            t.price.to_bits(),
            t.size.to_bits(),
            w5,
            w6,
        ],
        form == TICK_FORM_FULL,
    ))
}

/// Encodes a tick into `p` (see [`tick_words`]); returns its lines.
#[inline]
pub(crate) fn encode_tick(t: &Tick, p: &mut Payload) -> Result<usize, EncodeError> {
    let (first, full) = tick_words(t)?;
    p[..LINE_PAYLOAD_WORDS].copy_from_slice(&first);
    if full {
        p[LINE_PAYLOAD_WORDS..2 * LINE_PAYLOAD_WORDS].copy_from_slice(&[t.id, 0, 0, 0, 0, 0, 0]);
        Ok(2)
    } else {
        Ok(1)
    }
}

/// Encodes any record; returns its lines.
pub(crate) fn encode(r: &Record, p: &mut Payload) -> Result<usize, EncodeError> {
    let mut ev = |kind: u8, symbol: SymbolId, ts: i64, a: u64, b: u64, c: u64| -> usize {
        p[..LINE_PAYLOAD_WORDS].copy_from_slice(&[
            head(kind, 0, 0, symbol),
            ts as u64,
            a,
            b,
            c,
            0,
            0,
        ]);
        1
    };
    Ok(match *r {
        Record::Bar { kind, ref bar } => return encode_bar(kind, bar, p),
        Record::Tick(ref t) => return encode_tick(t, p),
        Record::FeedGap {
            ts,
            feed,
            symbol,
            expected,
            received,
        } => {
            let symbol = match symbol {
                Some(NO_SYMBOL) => return Err(EncodeError::ReservedSymbol(NO_SYMBOL)),
                Some(s) => s,
                None => NO_SYMBOL,
            };
            ev(KIND_FEED_GAP, symbol, ts, feed as u64, expected, received)
        }
        Record::Heartbeat { ts } => ev(KIND_HEARTBEAT, NO_SYMBOL, ts, 0, 0, 0),
        Record::Shutdown { ts } => ev(KIND_SHUTDOWN, NO_SYMBOL, ts, 0, 0, 0),
        Record::SymbolAdded { ts, symbol } => {
            if symbol == NO_SYMBOL {
                return Err(EncodeError::ReservedSymbol(symbol));
            }
            ev(KIND_SYMBOL_ADDED, symbol, ts, 0, 0, 0)
        }
    })
}

/// Decodes a bar payload (any of the three bar kinds; `p` holds at least
/// the words its `aux` says).
pub(crate) fn decode_bar(p: &[u64]) -> Result<(BarKind, Bar), DecodeError> {
    let kind = BarKind::from_code(kind_of(p)).ok_or(DecodeError::Kind(kind_of(p)))?;
    let timeframe = Timeframe::from_millis(lo32(p[1])).map_err(|_| DecodeError::Field)?;
    let start = p[2] as i64;
    let f = |i: usize| f64::from_bits(p[i]);
    let (volume, vwap_num, close) = (f(7), f(8), f(6));
    let vwap = match aux_of(p) {
        VWAP_DERIVED => Bar::vwap_of(vwap_num, volume, close),
        VWAP_EXPLICIT => f(BAR_WORDS),
        _ => return Err(DecodeError::Field),
    };
    let bar = Bar {
        symbol: symbol_of(p),
        timeframe,
        start,
        end: timeframe.bucket_end(start),
        open: f(3),
        high: f(4),
        low: f(5),
        close,
        volume,
        vwap,
        vwap_num,
        buy_volume: f(9),
        sell_volume: f(10),
        count: p[11],
        first_ts: p[12] as i64,
        last_ts: p[13] as i64,
        revision: hi32(p[1]),
        flags: (p[0] >> 16) as u16 as u32,
    };
    Ok((kind, bar))
}

/// Decodes a ring payload of `lines` lines (the count its line word gave).
#[inline]
pub(crate) fn decode(p: &Payload, lines: usize) -> Result<Record, DecodeError> {
    if lines != lines_of(p) {
        return Err(DecodeError::Field);
    }
    let kind = kind_of(p);
    let symbol = symbol_of(p);
    let ts = p[1] as i64;
    Ok(match kind {
        KIND_BAR_CLOSED | KIND_BAR_CORRECTED | KIND_BAR_UPDATE => {
            let (kind, bar) = decode_bar(p)?;
            Record::Bar { kind, bar }
        }
        KIND_TICK => {
            let aux = aux_of(p);
            let tick_kind = TickKind::from_u8(aux & 3).ok_or(DecodeError::Field)?;
            let (ask, ask_size, id) = match aux >> 4 {
                TICK_FORM_ID => (0, 0, p[5]),
                TICK_FORM_ASK => (p[5], p[6], 0),
                TICK_FORM_FULL => (p[5], p[6], p[7]),
                _ => return Err(DecodeError::Field),
            };
            Record::Tick(Tick {
                ts_event: p[1] as i64,
                ts_recv: p[2] as i64,
                symbol,
                kind: tick_kind,
                side: Side::from_u8((aux >> 2) & 3),
                flags: (p[0] >> 16) as u16,
                price: f64::from_bits(p[3]),
                size: f64::from_bits(p[4]),
                ask: f64::from_bits(ask),
                ask_size: f64::from_bits(ask_size),
                id,
            })
        }
        KIND_FEED_GAP => Record::FeedGap {
            ts,
            feed: p[2] as u32,
            symbol: (symbol != NO_SYMBOL).then_some(symbol),
            expected: p[3],
            received: p[4],
        },
        KIND_HEARTBEAT => Record::Heartbeat { ts },
        KIND_SHUTDOWN => Record::Shutdown { ts },
        KIND_SYMBOL_ADDED => Record::SymbolAdded { ts, symbol },
        k => return Err(DecodeError::Kind(k)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bar_strategy() -> impl Strategy<Value = (BarKind, Bar)> {
        (
            prop_oneof![
                Just(BarKind::Closed),
                Just(BarKind::Corrected),
                Just(BarKind::Update)
            ],
            0..NO_SYMBOL,
            1u32..=86_400_000,
            any::<i64>(),
            proptest::array::uniform9(any::<u64>()),
            any::<u64>(),
            any::<(i64, i64, u32)>(),
            0u32..=0xffff,
        )
            .prop_map(|(kind, symbol, ms, start, f, count, (a, b, rev), flags)| {
                let timeframe = Timeframe::from_millis(ms).unwrap();
                let x = |i: usize| f64::from_bits(f[i]);
                let bar = Bar {
                    symbol,
                    timeframe,
                    start,
                    end: timeframe.bucket_end(start),
                    open: x(0),
                    high: x(1),
                    low: x(2),
                    close: x(3),
                    volume: x(4),
                    vwap: x(5),
                    vwap_num: x(6),
                    buy_volume: x(7),
                    sell_volume: x(8),
                    count,
                    first_ts: a,
                    last_ts: b,
                    revision: rev,
                    flags,
                };
                (kind, bar)
            })
    }

    /// Bitwise equality (NaN payloads included), as `PartialEq` on f64 is not.
    fn same_bits(a: &Record, b: &Record) -> bool {
        let (mut pa, mut pb): (Payload, Payload) = Default::default();
        encode(a, &mut pa).unwrap() == encode(b, &mut pb).unwrap()
            && pa == pb
            && format!("{a:?}") == format!("{b:?}")
    }

    proptest! {
        #![proptest_config(if cfg!(miri) {
            // Miri: few cases, and no failure file (isolation forbids it).
            ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() }
        } else {
            ProptestConfig::with_cases(512)
        })]

        #[test]
        fn bars_round_trip((kind, bar) in bar_strategy()) {
            let r = Record::Bar { kind, bar };
            let mut p: Payload = Default::default();
            let lines = encode(&r, &mut p).unwrap();
            prop_assert_eq!(lines, lines_of(&p));
            let back = decode(&p, lines).unwrap();
            prop_assert!(same_bits(&r, &back), "{r:?} != {back:?}");
            // the same bar with the VWAP its numerator gives takes two lines
            let mut derived = bar;
            derived.vwap = Bar::vwap_of(bar.vwap_num, bar.volume, bar.close);
            let r = Record::Bar { kind, bar: derived };
            prop_assert_eq!(encode(&r, &mut p).unwrap(), 2);
            prop_assert!(same_bits(&r, &decode(&p, 2).unwrap()));
            // and the snapshot's fifteen words hold it too
            let mut s: SlotPayload = Default::default();
            encode_slot_bar(kind, &bar, &mut s).unwrap();
            let (k2, b2) = decode_bar(&s).unwrap();
            let (orig, back) = (Record::Bar { kind, bar }, Record::Bar { kind: k2, bar: b2 });
            prop_assert!(same_bits(&orig, &back), "{orig:?} != {back:?}");
            prop_assert_eq!(symbol_of(&p), bar.symbol);
            prop_assert_eq!(timeframe_ms_of(&p), bar.timeframe.millis());
        }

        #[test]
        fn ticks_round_trip(
            symbol in 0..NO_SYMBOL,
            quote in any::<bool>(),
            side in 0u8..3,
            flags in any::<u16>(),
            ts in any::<(i64, i64)>(),
            f in proptest::array::uniform4(any::<u64>()),
            id in any::<u64>(),
        ) {
            let t = Tick {
                ts_event: ts.0,
                ts_recv: ts.1,
                symbol,
                kind: if quote { TickKind::Quote } else { TickKind::Trade },
                side: Side::from_u8(side),
                flags,
                price: f64::from_bits(f[0]),
                size: f64::from_bits(f[1]),
                ask: f64::from_bits(f[2]),
                ask_size: f64::from_bits(f[3]),
                id,
            };
            let r = Record::Tick(t);
            let mut p: Payload = Default::default();
            let lines = encode(&r, &mut p).unwrap();
            prop_assert_eq!(lines, lines_of(&p));
            let back = decode(&p, lines).unwrap();
            prop_assert!(same_bits(&r, &back), "{r:?} != {back:?}");
            // the usual ticks take one line: trades without ask, quotes without id
            let t1 = Tick { ask: 0.0, ask_size: 0.0, ..t };
            prop_assert_eq!(encode_tick(&t1, &mut p).unwrap(), 1);
            prop_assert!(same_bits(&Record::Tick(t1), &decode(&p, 1).unwrap()));
            let t2 = Tick { id: 0, ..t };
            prop_assert_eq!(encode_tick(&t2, &mut p).unwrap(), 1);
            prop_assert!(same_bits(&Record::Tick(t2), &decode(&p, 1).unwrap()));
        }

        #[test]
        fn garbage_never_panics(
            w in proptest::collection::vec(any::<u64>(), 21),
            lines in 0usize..5,
        ) {
            let mut p: Payload = Default::default();
            p.copy_from_slice(&w);
            let _ = decode(&p, lines);
            p[0] &= !0xf000; // a valid tick form more often
            let _ = decode(&p, lines);
        }
    }

    #[test]
    fn events_round_trip() {
        for r in [
            Record::FeedGap {
                ts: -5,
                feed: 3,
                symbol: Some(9),
                expected: 10,
                received: 14,
            },
            Record::FeedGap {
                ts: 1,
                feed: u32::MAX,
                symbol: None,
                expected: 0,
                received: u64::MAX,
            },
            Record::Heartbeat { ts: 77 },
            Record::Shutdown { ts: i64::MAX },
            Record::SymbolAdded { ts: 0, symbol: 0 },
        ] {
            let mut p: Payload = Default::default();
            assert_eq!(encode(&r, &mut p).unwrap(), 1);
            assert_eq!(decode(&p, 1).unwrap(), r);
        }
    }

    #[test]
    fn unencodable_values_are_typed_errors() {
        let mut bar = Bar {
            symbol: 1,
            timeframe: Timeframe::M1,
            start: 0,
            end: 60_000_000_000,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 0.0,
            vwap: 1.0,
            vwap_num: 0.0,
            buy_volume: 0.0,
            sell_volume: 0.0,
            count: 1,
            first_ts: 0,
            last_ts: 0,
            revision: 0,
            flags: 1 << 16,
        };
        let mut p: Payload = Default::default();
        assert_eq!(
            encode_bar(BarKind::Closed, &bar, &mut p),
            Err(EncodeError::BarFlags(1 << 16))
        );
        bar.flags = 0;
        bar.symbol = NO_SYMBOL;
        assert_eq!(
            encode_bar(BarKind::Closed, &bar, &mut p),
            Err(EncodeError::ReservedSymbol(NO_SYMBOL))
        );
        p[0] = 200;
        assert_eq!(decode(&p, 1), Err(DecodeError::Kind(200)));
        // a line count the head does not match
        bar.symbol = 1;
        assert_eq!(encode_bar(BarKind::Closed, &bar, &mut p), Ok(2));
        assert_eq!(decode(&p, 1), Err(DecodeError::Field));
    }
}
