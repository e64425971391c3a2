//! The checks every ingest path applies before a tick is accepted.
//!
//! Prices, bids and asks are finite and > 0; sizes are finite and ≥ 0; the
//! event time lies inside a window around "now"; symbol names are checked where
//! they are parsed ([`crate::SymbolName::new`], counted as [`Reject::Symbol`]).
//! Crossed and locked quotes (bid ≥ ask) are real market data and pass.
//!
//! ```
//! use ingest::{Reject, RejectCounts, Validator};
//! use mtf::{Side, Tick};
//! let v = Validator::history();
//! let now = 1_700_000_000_000_000_000;
//! let mut counts = RejectCounts::default();
//! let t = Tick::trade(0, now - 5, f64::NAN, 1.0, Side::Buy, 0);
//! match v.check(&t, now) {
//!     Ok(()) => unreachable!(),
//!     Err(r) => counts.bump(r),
//! }
//! assert_eq!(counts.get(Reject::Price), 1);
//! ```

use mtf::{Tick, TickKind};

/// 1990-01-01T00:00:00Z in ns since the Unix epoch.
pub const NS_1990: i64 = 631_152_000 * 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Why a tick was refused. Counted per reason; `as_str` is its metric label.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Trade price not finite or not > 0.
    Price = 0,
    /// Trade size not finite or < 0.
    Size,
    /// Quote bid not finite or not > 0.
    Bid,
    /// Quote ask not finite or not > 0.
    Ask,
    /// Quote bid size not finite or < 0.
    BidSize,
    /// Quote ask size not finite or < 0.
    AskSize,
    /// Event time before the window.
    TimeTooEarly,
    /// Event time after the window.
    TimeTooLate,
    /// Symbol name not 1-16 printable ASCII bytes, or the symbol table is full.
    Symbol,
}

impl Reject {
    /// How many reasons there are.
    pub const COUNT: usize = 9;
    /// Every reason, in code order.
    pub const ALL: [Reject; Reject::COUNT] = [
        Reject::Price,
        Reject::Size,
        Reject::Bid,
        Reject::Ask,
        Reject::BidSize,
        Reject::AskSize,
        Reject::TimeTooEarly,
        Reject::TimeTooLate,
        Reject::Symbol,
    ];

    /// Stable snake_case label, for metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reject::Price => "price",
            Reject::Size => "size",
            Reject::Bid => "bid",
            Reject::Ask => "ask",
            Reject::BidSize => "bid_size",
            Reject::AskSize => "ask_size",
            Reject::TimeTooEarly => "time_too_early",
            Reject::TimeTooLate => "time_too_late",
            Reject::Symbol => "symbol",
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rejections counted by reason (plain integers: one per thread, merged by a cold thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectCounts([u64; Reject::COUNT]);

impl RejectCounts {
    /// Counts one rejection.
    #[inline]
    pub fn bump(&mut self, r: Reject) {
        self.0[r as usize] += 1;
    }

    /// The count for `r`.
    #[inline]
    pub fn get(&self, r: Reject) -> u64 {
        self.0[r as usize]
    }

    /// Sum over every reason.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &RejectCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    /// `(reason, count)` for every reason.
    pub fn iter(&self) -> impl Iterator<Item = (Reject, u64)> + '_ {
        Reject::ALL.iter().map(|&r| (r, self.get(r)))
    }
}

/// The event-time window and value checks.
///
/// The window at time `now` is `[max(earliest_ns, now - max_behind_ns), now + max_ahead_ns]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validator {
    /// No event time before this, ns since the epoch.
    pub earliest_ns: i64,
    /// How far after "now" an event time may be, ns.
    pub max_ahead_ns: i64,
    /// How far before "now" an event time may be, ns (`None`: any, down to `earliest_ns`).
    pub max_behind_ns: Option<i64>,
}

impl Default for Validator {
    fn default() -> Validator {
        Validator::history()
    }
}

impl Validator {
    /// The default for history: 1990-01-01 up to now + 1 day.
    pub const fn history() -> Validator {
        Validator {
            earliest_ns: NS_1990,
            max_ahead_ns: NS_PER_DAY,
            max_behind_ns: None,
        }
    }

    /// A live feed: event times within `skew_ns` of now, either way.
    pub const fn live(skew_ns: i64) -> Validator {
        Validator {
            earliest_ns: NS_1990,
            max_ahead_ns: skew_ns,
            max_behind_ns: Some(skew_ns),
        }
    }

    /// The window `[lo, hi]` at `now_ns`.
    #[inline]
    pub fn window(&self, now_ns: i64) -> (i64, i64) {
        let lo = match self.max_behind_ns {
            Some(b) => self.earliest_ns.max(now_ns.saturating_sub(b)),
            None => self.earliest_ns,
        };
        (lo, now_ns.saturating_add(self.max_ahead_ns))
    }

    /// Checks one tick; `now_ns` is the caller's clock (read once per batch, not per tick).
    #[inline]
    pub fn check(&self, t: &Tick, now_ns: i64) -> Result<(), Reject> {
        Validator::check_in(t, self.window(now_ns))
    }

    /// Checks one tick against a window computed once per batch by
    /// [`Validator::window`] (the same result as [`Validator::check`] at that
    /// `now`, without recomputing the window per tick).
    #[inline]
    pub fn check_in(t: &Tick, (lo, hi): (i64, i64)) -> Result<(), Reject> {
        match t.kind {
            TickKind::Trade => {
                if !positive(t.price) {
                    return Err(Reject::Price);
                }
                if !non_negative(t.size) {
                    return Err(Reject::Size);
                }
            }
            TickKind::Quote => {
                if !positive(t.price) {
                    return Err(Reject::Bid);
                }
                if !positive(t.ask) {
                    return Err(Reject::Ask);
                }
                if !non_negative(t.size) {
                    return Err(Reject::BidSize);
                }
                if !non_negative(t.ask_size) {
                    return Err(Reject::AskSize);
                }
            }
        }
        if t.ts_event < lo {
            return Err(Reject::TimeTooEarly);
        }
        if t.ts_event > hi {
            return Err(Reject::TimeTooLate);
        }
        Ok(())
    }
}

impl Validator {
    /// Whether a trade with these fields passes [`Validator::check_in`]: the
    /// same decision, as one branch-free expression (the batch import paths,
    /// whose rejects then go the per-row path to be counted by reason).
    #[inline(always)]
    pub(crate) fn trade_ok(price: f64, size: f64, ts_event: i64, (lo, hi): (i64, i64)) -> bool {
        positive(price) & non_negative(size) & (ts_event >= lo) & (ts_event <= hi)
    }
}

/// `x` finite and > 0, on its bits: 1 (the least subnormal) to the largest
/// finite value; zeros, negatives, infinities and NaNs fall outside. Integer
/// compares on the bits, as the tick is in memory anyway: fewer instructions
/// than the float tests LLVM otherwise rewrites into integer code.
#[inline(always)]
fn positive(x: f64) -> bool {
    x.to_bits().wrapping_sub(1) < f64::INFINITY.to_bits() - 1
}

/// `x` finite and ≥ 0 (−0.0 included), on its bits.
#[inline(always)]
fn non_negative(x: f64) -> bool {
    let b = x.to_bits();
    b < f64::INFINITY.to_bits() || b == (-0.0f64).to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtf::Side;
    use proptest::prelude::*;

    const NOW: i64 = 1_763_700_000_000_000_000;

    proptest! {
        /// The batch paths' trade check decides as `check_in`.
        #[test]
        fn trade_ok_is_check_in(price in prop_oneof![any::<f64>(), Just(0.0), Just(-0.0), Just(f64::MIN_POSITIVE), Just(f64::INFINITY), Just(f64::NAN)],
                                size in prop_oneof![any::<f64>(), Just(0.0), Just(-0.0), Just(f64::NEG_INFINITY), Just(f64::NAN)],
                                ts in prop_oneof![any::<i64>(), Just(NS_1990), Just(NS_1990 - 1), Just(NOW)]) {
            let window = Validator::history().window(NOW);
            let t = Tick::trade(0, ts, price, size, Side::Buy, 1);
            prop_assert_eq!(Validator::trade_ok(price, size, ts, window), Validator::check_in(&t, window).is_ok());
        }
    }

    fn trade(price: f64, size: f64) -> Tick {
        Tick::trade(1, NOW, price, size, Side::Unknown, 0)
    }

    #[test]
    fn trade_values() {
        let v = Validator::history();
        assert_eq!(v.check(&trade(100.0, 0.0), NOW), Ok(()));
        assert_eq!(v.check(&trade(1e-300, 5.0), NOW), Ok(()));
        for p in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(v.check(&trade(p, 1.0), NOW), Err(Reject::Price), "{p}");
        }
        for s in [-1.0, -1e-300, f64::NAN, f64::INFINITY] {
            assert_eq!(v.check(&trade(1.0, s), NOW), Err(Reject::Size), "{s}");
        }
    }

    #[test]
    fn quote_values_and_crossed_books() {
        let v = Validator::history();
        let q = |b, bs, a, as_| Tick::quote(1, NOW, b, bs, a, as_);
        assert_eq!(
            v.check(&q(1.3902, 0.0, 1.3901, 0.0), NOW),
            Ok(()),
            "crossed passes"
        );
        assert_eq!(v.check(&q(0.0, 1.0, 1.0, 1.0), NOW), Err(Reject::Bid));
        assert_eq!(v.check(&q(1.0, 1.0, f64::NAN, 1.0), NOW), Err(Reject::Ask));
        assert_eq!(v.check(&q(1.0, -1.0, 1.0, 1.0), NOW), Err(Reject::BidSize));
        assert_eq!(
            v.check(&q(1.0, 1.0, 1.0, f64::INFINITY), NOW),
            Err(Reject::AskSize)
        );
    }

    #[test]
    fn time_windows() {
        let h = Validator::history();
        let at = |ts| Tick::trade(1, ts, 1.0, 1.0, Side::Buy, 0);
        assert_eq!(h.check(&at(NS_1990), NOW), Ok(()));
        assert_eq!(h.check(&at(NS_1990 - 1), NOW), Err(Reject::TimeTooEarly));
        assert_eq!(h.check(&at(NOW + NS_PER_DAY), NOW), Ok(()));
        assert_eq!(
            h.check(&at(NOW + NS_PER_DAY + 1), NOW),
            Err(Reject::TimeTooLate)
        );
        let live = Validator::live(5_000_000_000);
        assert_eq!(live.check(&at(NOW - 5_000_000_000), NOW), Ok(()));
        assert_eq!(
            live.check(&at(NOW - 5_000_000_001), NOW),
            Err(Reject::TimeTooEarly)
        );
        assert_eq!(
            live.check(&at(NOW + 5_000_000_001), NOW),
            Err(Reject::TimeTooLate)
        );
        // extreme clocks do not overflow
        assert_eq!(
            live.check(&at(i64::MAX), i64::MAX),
            Ok(()),
            "saturating window"
        );
        let _ = live.check(&at(i64::MIN), i64::MIN);
    }

    #[test]
    fn counts() {
        let mut c = RejectCounts::default();
        c.bump(Reject::Ask);
        c.bump(Reject::Ask);
        c.bump(Reject::Symbol);
        let mut d = RejectCounts::default();
        d.merge(&c);
        d.merge(&c);
        assert_eq!(d.get(Reject::Ask), 4);
        assert_eq!(d.total(), 6);
        let labels: Vec<_> = Reject::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), Reject::COUNT);
        for (i, r) in Reject::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn bit_tests_match_float_tests() {
        let special = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            1.0,
            -1.0,
        ];
        for x in special {
            assert_eq!(positive(x), x.is_finite() && x > 0.0, "{x:?}");
            assert_eq!(non_negative(x), x.is_finite() && x >= 0.0, "{x:?}");
        }
    }

    proptest! {
        #[test]
        fn bit_tests_match_float_tests_anywhere(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(positive(x), x.is_finite() && x > 0.0);
            prop_assert_eq!(non_negative(x), x.is_finite() && x >= 0.0);
        }

        #[test]
        fn accepted_ticks_are_sane(
            price in any::<f64>(), size in any::<f64>(), ask in any::<f64>(),
            ask_size in any::<f64>(), ts in any::<i64>(), quote in any::<bool>(),
        ) {
            let t = if quote {
                Tick::quote(1, ts, price, size, ask, ask_size)
            } else {
                Tick::trade(1, ts, price, size, Side::Sell, 0)
            };
            let v = Validator::history();
            prop_assert_eq!(v.check(&t, NOW), Validator::check_in(&t, v.window(NOW)));
            if Validator::history().check(&t, NOW).is_ok() {
                prop_assert!(t.price.is_finite() && t.price > 0.0);
                prop_assert!(t.size.is_finite() && t.size >= 0.0);
                if quote {
                    prop_assert!(t.ask.is_finite() && t.ask > 0.0);
                    prop_assert!(t.ask_size.is_finite() && t.ask_size >= 0.0);
                }
                prop_assert!((NS_1990..=NOW + NS_PER_DAY).contains(&ts));
            }
        }
    }
}
