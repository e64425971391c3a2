//! [`Tick`]: one trade or one quote, 64 bytes.

/// Dense symbol id, assigned by the symbol table (name → id) of the ingest layer.
pub type SymbolId = u32;

/// What a [`Tick`] is.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TickKind {
    /// A trade: `price`, `size`, `side`, `id` = trade id.
    #[default]
    Trade = 1,
    /// A top-of-book quote: `price` = bid, `size` = bid size, `ask`, `ask_size`,
    /// `id` = the venue's update id when it has one.
    Quote = 2,
}

impl TickKind {
    /// The kind for its wire/storage code, `None` for an unknown code.
    #[inline]
    pub const fn from_u8(v: u8) -> Option<TickKind> {
        match v {
            1 => Some(TickKind::Trade),
            2 => Some(TickKind::Quote),
            _ => None,
        }
    }
}

/// The aggressor side of a trade, when the venue tells it.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Side {
    /// Not known (most consolidated equity tapes), or not a trade.
    #[default]
    Unknown = 0,
    /// The buyer was the aggressor (lifted the offer).
    Buy = 1,
    /// The seller was the aggressor (hit the bid).
    Sell = 2,
}

impl Side {
    /// The side for its wire/storage code; unknown codes map to [`Side::Unknown`].
    #[inline]
    pub const fn from_u8(v: u8) -> Side {
        match v {
            1 => Side::Buy,
            2 => Side::Sell,
            _ => Side::Unknown,
        }
    }
}

/// One market event: a trade or a top-of-book quote.
///
/// Exactly 64 bytes and 64-byte aligned: one cache line, so a queue slot or a
/// ring record holds one tick and never shares a line with its neighbour.
///
/// | offset | field      | trade              | quote          |
/// |-------:|------------|--------------------|----------------|
/// | 0      | `ts_event` | event time, ns UTC | event time     |
/// | 8      | `ts_recv`  | receive time, ns   | receive time   |
/// | 16     | `symbol`   | symbol id          | symbol id      |
/// | 20     | `kind`     | 1                  | 2              |
/// | 21     | `side`     | aggressor side     | 0              |
/// | 22     | `flags`    | `FLAG_*` bits      | `FLAG_*` bits  |
/// | 24     | `price`    | price              | bid price      |
/// | 32     | `size`     | size               | bid size       |
/// | 40     | `ask`      | 0                  | ask price      |
/// | 48     | `ask_size` | 0                  | ask size       |
/// | 56     | `id`       | trade id (0: none) | update id (0: none) |
///
/// Times are nanoseconds since the Unix epoch, UTC. Values are `f64` as the
/// venue sent them; ingest rejects non-finite prices, but nothing downstream
/// may rely on that for memory safety or to avoid a panic.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tick {
    /// Event (exchange) time, ns since the Unix epoch, UTC.
    pub ts_event: i64,
    /// Time tickd (or the capturing machine) received it, ns since the Unix epoch.
    pub ts_recv: i64,
    /// Symbol id.
    pub symbol: SymbolId,
    /// Trade or quote.
    pub kind: TickKind,
    /// Aggressor side of a trade.
    pub side: Side,
    /// `FLAG_*` bits.
    pub flags: u16,
    /// Trade price, or bid price of a quote.
    pub price: f64,
    /// Trade size, or bid size of a quote.
    pub size: f64,
    /// Ask price of a quote (0 for a trade).
    pub ask: f64,
    /// Ask size of a quote (0 for a trade).
    pub ask_size: f64,
    /// Trade id, or a quote's update id; 0 when the venue gives none.
    pub id: u64,
}

const _: () = assert!(std::mem::size_of::<Tick>() == 64);
const _: () = assert!(std::mem::align_of::<Tick>() == 64);

impl Tick {
    /// The vendor marked this tick as suspicious (for example AlgoSeek's flag in LEAN data).
    pub const FLAG_SUSPICIOUS: u16 = 1 << 0;
    /// A quote where only one side was updated by the source (the other side is carried over).
    pub const FLAG_ONE_SIDED: u16 = 1 << 1;
    /// Came from a history import or replay, not a live feed.
    pub const FLAG_REPLAY: u16 = 1 << 2;

    /// A trade. `ts_recv` is set equal to `ts_event`; set it after if known.
    #[inline]
    pub const fn trade(
        symbol: SymbolId,
        ts_event: i64,
        price: f64,
        size: f64,
        side: Side,
        id: u64,
    ) -> Tick {
        Tick {
            ts_event,
            ts_recv: ts_event,
            symbol,
            kind: TickKind::Trade,
            side,
            flags: 0,
            price,
            size,
            ask: 0.0,
            ask_size: 0.0,
            id,
        }
    }

    /// A top-of-book quote. `ts_recv` is set equal to `ts_event`; set it after if known.
    #[inline]
    pub const fn quote(
        symbol: SymbolId,
        ts_event: i64,
        bid: f64,
        bid_size: f64,
        ask: f64,
        ask_size: f64,
    ) -> Tick {
        Tick {
            ts_event,
            ts_recv: ts_event,
            symbol,
            kind: TickKind::Quote,
            side: Side::Unknown,
            flags: 0,
            price: bid,
            size: bid_size,
            ask,
            ask_size,
            id: 0,
        }
    }

    /// Builder-style receive time.
    #[inline]
    pub const fn with_recv(mut self, ts_recv: i64) -> Tick {
        self.ts_recv = ts_recv;
        self
    }

    /// Whether this is a trade.
    #[inline]
    pub const fn is_trade(&self) -> bool {
        matches!(self.kind, TickKind::Trade)
    }

    /// Whether this is a quote.
    #[inline]
    pub const fn is_quote(&self) -> bool {
        matches!(self.kind, TickKind::Quote)
    }

    /// Bid price of a quote (the `price` slot).
    #[inline]
    pub const fn bid(&self) -> f64 {
        self.price
    }

    /// Bid size of a quote (the `size` slot).
    #[inline]
    pub const fn bid_size(&self) -> f64 {
        self.size
    }

    /// Mid price of a quote: `(bid + ask) / 2`.
    #[inline]
    pub fn mid(&self) -> f64 {
        0.5 * (self.price + self.ask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layout_matches_the_table() {
        assert_eq!(offset_of!(Tick, ts_event), 0);
        assert_eq!(offset_of!(Tick, ts_recv), 8);
        assert_eq!(offset_of!(Tick, symbol), 16);
        assert_eq!(offset_of!(Tick, kind), 20);
        assert_eq!(offset_of!(Tick, side), 21);
        assert_eq!(offset_of!(Tick, flags), 22);
        assert_eq!(offset_of!(Tick, price), 24);
        assert_eq!(offset_of!(Tick, size), 32);
        assert_eq!(offset_of!(Tick, ask), 40);
        assert_eq!(offset_of!(Tick, ask_size), 48);
        assert_eq!(offset_of!(Tick, id), 56);
    }

    #[test]
    fn codes_round_trip() {
        for k in [TickKind::Trade, TickKind::Quote] {
            assert_eq!(TickKind::from_u8(k as u8), Some(k));
        }
        assert_eq!(TickKind::from_u8(0), None);
        for s in [Side::Unknown, Side::Buy, Side::Sell] {
            assert_eq!(Side::from_u8(s as u8), s);
        }
        assert_eq!(Side::from_u8(9), Side::Unknown);
    }

    #[test]
    fn quote_accessors() {
        let q = Tick::quote(1, 5, 99.0, 2.0, 101.0, 3.0);
        assert!(q.is_quote());
        assert_eq!(
            (q.bid(), q.bid_size(), q.ask, q.ask_size),
            (99.0, 2.0, 101.0, 3.0)
        );
        assert_eq!(q.mid(), 100.0);
    }
}
