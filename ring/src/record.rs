//! What travels through the ring: [`Record`], and its 15-word encoding.
//!
//! Payload word `i` is bytes `8 + 8i .. 16 + 8i` of the 128-byte record (word
//! 0 of the record is the sequence). The byte tables are in `docs/ring.md`.

use crate::layout::{
    KIND_BAR_CLOSED, KIND_BAR_CORRECTED, KIND_BAR_UPDATE, KIND_FEED_GAP, KIND_HEARTBEAT,
    KIND_SHUTDOWN, KIND_SYMBOL_ADDED, KIND_TICK,
};
use crate::seqlock::RECORD_PAYLOAD_WORDS;
use mtf::{Bar, Side, SymbolId, Tick, TickKind, Timeframe};

/// The encoded payload of one record (bytes 8..128).
pub(crate) type Payload = [u64; RECORD_PAYLOAD_WORDS];

/// Symbol id meaning "no symbol" in events.
pub const NO_SYMBOL: SymbolId = SymbolId::MAX;

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

#[inline]
fn head(kind: u8, byte9: u8, u16_at_10: u16, symbol: SymbolId) -> u64 {
    kind as u64 | (byte9 as u64) << 8 | (u16_at_10 as u64) << 16 | (symbol as u64) << 32
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
pub(crate) fn kind_of(p: &Payload) -> u8 {
    p[0] as u8
}

/// The symbol field of an encoded payload.
#[inline]
pub(crate) fn symbol_of(p: &Payload) -> SymbolId {
    hi32(p[0])
}

/// The timeframe (ms) of an encoded bar payload.
#[inline]
pub(crate) fn timeframe_ms_of(p: &Payload) -> u32 {
    lo32(p[1])
}

/// Encodes a bar: word 0 kind/flags/symbol, 1 timeframe ms/revision, 2 start,
/// 3..=11 open high low close volume vwap vwap_num buy_volume sell_volume,
/// 12 count, 13 first_ts, 14 last_ts.
#[inline]
pub(crate) fn encode_bar(kind: BarKind, bar: &Bar, p: &mut Payload) -> Result<(), EncodeError> {
    let flags = u16::try_from(bar.flags).map_err(|_| EncodeError::BarFlags(bar.flags))?;
    if bar.symbol == NO_SYMBOL {
        return Err(EncodeError::ReservedSymbol(bar.symbol));
    }
    *p = [
        head(kind.code(), 0, flags, bar.symbol),
        bar.timeframe.millis() as u64 | (bar.revision as u64) << 32,
        bar.start as u64,
        bar.open.to_bits(),
        bar.high.to_bits(),
        bar.low.to_bits(),
        bar.close.to_bits(),
        bar.volume.to_bits(),
        bar.vwap.to_bits(),
        bar.vwap_num.to_bits(),
        bar.buy_volume.to_bits(),
        bar.sell_volume.to_bits(),
        bar.count,
        bar.first_ts as u64,
        bar.last_ts as u64,
    ];
    Ok(())
}

/// Encodes a tick: word 0 kind/tick kind/side/symbol, 1 flags, 2 ts_event,
/// 3 ts_recv, 4 price, 5 size, 6 ask, 7 ask_size, 8 id, 9..=14 zero.
#[inline]
pub(crate) fn encode_tick(t: &Tick, p: &mut Payload) -> Result<(), EncodeError> {
    if t.symbol == NO_SYMBOL {
        return Err(EncodeError::ReservedSymbol(t.symbol));
    }
    *p = [
        head(KIND_TICK, t.kind as u8, t.side as u16, t.symbol),
        t.flags as u64,
        t.ts_event as u64,
        t.ts_recv as u64,
        t.price.to_bits(),
        t.size.to_bits(),
        t.ask.to_bits(),
        t.ask_size.to_bits(),
        t.id,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    Ok(())
}

/// Encodes any record (bars and ticks through their own encoders).
pub(crate) fn encode(r: &Record, p: &mut Payload) -> Result<(), EncodeError> {
    let ev = |kind: u8, symbol: SymbolId, ts: i64, a: u64, b: u64, c: u64| -> Payload {
        let mut p = [0u64; RECORD_PAYLOAD_WORDS];
        p[0] = head(kind, 0, 0, symbol);
        p[1] = ts as u64;
        p[2] = a;
        p[3] = b;
        p[4] = c;
        p
    };
    *p = match *r {
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
    };
    Ok(())
}

/// Decodes a bar payload (any of the three bar kinds).
pub(crate) fn decode_bar(p: &Payload) -> Result<(BarKind, Bar), DecodeError> {
    let kind = BarKind::from_code(kind_of(p)).ok_or(DecodeError::Kind(kind_of(p)))?;
    let timeframe = Timeframe::from_millis(lo32(p[1])).map_err(|_| DecodeError::Field)?;
    let start = p[2] as i64;
    let bar = Bar {
        symbol: symbol_of(p),
        timeframe,
        start,
        end: timeframe.bucket_end(start),
        open: f64::from_bits(p[3]),
        high: f64::from_bits(p[4]),
        low: f64::from_bits(p[5]),
        close: f64::from_bits(p[6]),
        volume: f64::from_bits(p[7]),
        vwap: f64::from_bits(p[8]),
        vwap_num: f64::from_bits(p[9]),
        buy_volume: f64::from_bits(p[10]),
        sell_volume: f64::from_bits(p[11]),
        count: p[12],
        first_ts: p[13] as i64,
        last_ts: p[14] as i64,
        revision: hi32(p[1]),
        flags: (p[0] >> 16) as u16 as u32,
    };
    Ok((kind, bar))
}

/// Decodes any payload.
pub(crate) fn decode(p: &Payload) -> Result<Record, DecodeError> {
    let kind = kind_of(p);
    let symbol = symbol_of(p);
    let ts = p[1] as i64;
    Ok(match kind {
        KIND_BAR_CLOSED | KIND_BAR_CORRECTED | KIND_BAR_UPDATE => {
            let (kind, bar) = decode_bar(p)?;
            Record::Bar { kind, bar }
        }
        KIND_TICK => {
            let tick_kind = TickKind::from_u8((p[0] >> 8) as u8).ok_or(DecodeError::Field)?;
            Record::Tick(Tick {
                ts_event: p[2] as i64,
                ts_recv: p[3] as i64,
                symbol,
                kind: tick_kind,
                side: Side::from_u8((p[0] >> 16) as u8),
                flags: p[1] as u16,
                price: f64::from_bits(p[4]),
                size: f64::from_bits(p[5]),
                ask: f64::from_bits(p[6]),
                ask_size: f64::from_bits(p[7]),
                id: p[8],
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
        let (mut pa, mut pb) = ([0; RECORD_PAYLOAD_WORDS], [0; RECORD_PAYLOAD_WORDS]);
        encode(a, &mut pa).unwrap();
        encode(b, &mut pb).unwrap();
        pa == pb && format!("{a:?}") == format!("{b:?}")
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
            let mut p = [0; RECORD_PAYLOAD_WORDS];
            encode(&r, &mut p).unwrap();
            let back = decode(&p).unwrap();
            prop_assert!(same_bits(&r, &back), "{r:?} != {back:?}");
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
            let mut p = [0; RECORD_PAYLOAD_WORDS];
            encode(&r, &mut p).unwrap();
            let back = decode(&p).unwrap();
            prop_assert!(same_bits(&r, &back), "{r:?} != {back:?}");
        }

        #[test]
        fn garbage_never_panics(p in proptest::array::uniform15(any::<u64>())) {
            let _ = decode(&p);
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
            let mut p = [0; RECORD_PAYLOAD_WORDS];
            encode(&r, &mut p).unwrap();
            assert_eq!(decode(&p).unwrap(), r);
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
        let mut p = [0; RECORD_PAYLOAD_WORDS];
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
        assert_eq!(decode(&p), Err(DecodeError::Kind(200)));
    }
}
