//! Folding ticks and bars into a [`Bar`]: the one definition of OHLCV that the
//! streaming aggregator and the scalar batch kernel share.

use crate::{Bar, Side, SymbolId, Timeframe};

/// Earliest event time accepted, ns (about 1823-12-02 UTC).
pub const TS_MIN: i64 = -(1 << 62);
/// Latest event time accepted, ns (about 2116-02-20 UTC).
pub const TS_MAX: i64 = 1 << 62;

/// Whether a tick can be applied to a bar: event time within
/// [`TS_MIN`] ..= [`TS_MAX`], finite price, finite size `>= 0`.
///
/// Everything else is skipped (and counted) by every path, so that streaming
/// and batch stay equal on any input.
#[inline(always)]
pub fn tick_is_valid(ts: i64, price: f64, size: f64) -> bool {
    (TS_MIN..=TS_MAX).contains(&ts) & price_size_ok(price, size)
}

/// The price and size half of [`tick_is_valid`]: finite price, finite size
/// `>= 0` (`-0.0` included). Four instructions on the hot path (the
/// streaming hot path gets the time half from its window, which lies within
/// `TS_MIN ..= TS_MAX`).
#[inline(always)]
pub(crate) fn price_size_ok(price: f64, size: f64) -> bool {
    // `size + 0.0` is the size with -0.0 made +0.0; `price * 0.0` is ±0.0
    // for a finite price and NaN otherwise, and adding ±0.0 to a number
    // keeps it (+0.0 stays +0.0). So `v` is NaN unless the price is finite,
    // and otherwise the size, -0.0 as +0.0. Then one unsigned comparison on
    // the bits: +0.0 ..< +inf is below the bits of +inf; negatives (sign
    // bit) and NaNs are above.
    let v = (size + 0.0) + price * 0.0;
    v.to_bits() < f64::INFINITY.to_bits()
}

/// A cheaper test for the inline hot path: `true` only when
/// [`price_size_ok`] is (sound), and for every valid pair but a size of
/// `-0.0` with a negative (or `-0.0`) price, which then takes the full check
/// on the cold path. `price * 0.0` is ±0.0 for a finite price, NaN otherwise;
/// adding it to the size keeps any size but `-0.0`, which can turn `+0.0`.
/// Bits below those of `+inf`: a non-negative finite number.
#[inline(always)]
pub(crate) fn price_size_surely_ok(price: f64, size: f64) -> bool {
    (size + price * 0.0).to_bits() < f64::INFINITY.to_bits()
}

/// An empty bar (count 0) for `[start, start + tf)`.
#[inline]
pub(crate) fn empty_bar(symbol: SymbolId, tf: Timeframe, start: i64, flags: u32) -> Bar {
    Bar {
        symbol,
        timeframe: tf,
        start,
        end: tf.bucket_end(start),
        open: 0.0,
        high: 0.0,
        low: 0.0,
        close: 0.0,
        volume: 0.0,
        vwap: 0.0,
        vwap_num: 0.0,
        buy_volume: 0.0,
        sell_volume: 0.0,
        count: 0,
        first_ts: start,
        last_ts: start,
        revision: 0,
        flags,
    }
}

/// A flat bar for an empty bucket: every price `close`, volume 0, count 0.
#[inline]
pub(crate) fn filled_bar(
    symbol: SymbolId,
    tf: Timeframe,
    start: i64,
    close: f64,
    flags: u32,
) -> Bar {
    let mut b = empty_bar(symbol, tf, start, flags | Bar::FLAG_FILLED);
    b.open = close;
    b.high = close;
    b.low = close;
    b.close = close;
    b
}

/// Applies one valid tick. Open is the price at the smallest event time (the
/// first arrived among equal times), close the price at the largest (the last
/// arrived among equal times), so late ticks land where their time puts them.
#[inline(always)]
pub(crate) fn apply(b: &mut Bar, ts: i64, price: f64, size: f64, side: Side) {
    if b.count == 0 {
        b.open = price;
        b.high = price;
        b.low = price;
        b.close = price;
        b.first_ts = ts;
        b.last_ts = ts;
        b.flags &= !Bar::FLAG_FILLED;
    } else {
        b.high = if price > b.high { price } else { b.high };
        b.low = if price < b.low { price } else { b.low };
        if ts < b.first_ts {
            b.first_ts = ts;
            b.open = price;
        }
        if ts >= b.last_ts {
            b.last_ts = ts;
            b.close = price;
        }
    }
    add_sums(b, price, size, side);
}

/// [`apply`] to a bar known to hold a tick already (hot path, direct mode).
#[inline(always)]
pub(crate) fn apply_held(b: &mut Bar, ts: i64, price: f64, size: f64, side: Side) {
    debug_assert!(b.count > 0);
    b.high = if price > b.high { price } else { b.high };
    b.low = if price < b.low { price } else { b.low };
    if ts < b.first_ts {
        b.first_ts = ts;
        b.open = price;
    }
    if ts >= b.last_ts {
        b.last_ts = ts;
        b.close = price;
    }
    add_sums(b, price, size, side);
}

/// By [`Side`]: all ones in the lane of its sum (unknown, buy, sell).
static SIDE_MASKS: [[u64; 3]; 3] = [[!0, 0, 0], [0, !0, 0], [0, 0, !0]];

/// Fold mode: the newest finest bar of a symbol as the hot path updates it,
/// kept apart from the rings (a dense array by symbol, 128 bytes each, the
/// per-tick fields in the first cache line). Prices and times are the bar's
/// own values; the sums are deltas since the bar was loaded from its ring
/// slot, which stays the base; side volumes go to one slot per [`Side`] (one
/// add per tick instead of three). [`Hot::bar`] folds the deltas into the
/// base; its sums then differ from a row-by-row sum only in rounding (fold
/// mode's documented 1e-12).
///
/// Windows: a tick with `last_ts <= ts < limit` is in order within the bar
/// and closes nothing ([`Hot::push`]); `start <= ts < last_ts` is an earlier
/// tick of the same bar ([`Hot::apply`]); `roll_from <= ts < roll_until`
/// starts the next finest bar with nothing else due (the aggregator's roll).
/// All three lie within `TS_MIN ..= TS_MAX` and are empty while the bar is
/// not loaded.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hot {
    pub(crate) last_ts: i64,
    /// End of the hot path's window: `warm_limit` when the aggregator takes
    /// the inline hot path, else `i64::MIN` (every tick goes to the warm
    /// check).
    pub(crate) limit: i64,
    // High and low apart: side by side, the compiler pairs them into a
    // packed compare-and-blend that costs more than two scalar max/min.
    pub(crate) high: f64,
    pub(crate) close: f64,
    pub(crate) low: f64,
    pub(crate) vwap_num: f64,
    /// Σ size since loading, by side: unknown, buy, sell.
    pub(crate) side_vol: [f64; 3],
    /// Ticks applied since loading.
    pub(crate) count: u64,
    /// The bar's window, `start ..warm_limit`; `start == i64::MAX` when
    /// nothing is loaded.
    pub(crate) start: i64,
    pub(crate) warm_limit: i64,
    pub(crate) first_ts: i64,
    pub(crate) open: f64,
    pub(crate) roll_from: i64,
    pub(crate) roll_until: i64,
}

const _: () = assert!(std::mem::size_of::<Hot>() == 128);

impl Hot {
    /// Nothing loaded: every window empty.
    pub(crate) const UNLOADED: Hot = Hot {
        last_ts: i64::MAX,
        limit: i64::MIN,
        high: 0.0,
        low: 0.0,
        close: 0.0,
        side_vol: [0.0; 3],
        vwap_num: 0.0,
        count: 0,
        start: i64::MAX,
        warm_limit: i64::MIN,
        first_ts: 0,
        open: 0.0,
        roll_from: i64::MAX,
        roll_until: i64::MIN,
    };

    /// A bar is loaded (its ring slot is stale until written back).
    #[inline(always)]
    pub(crate) fn cached(&self) -> bool {
        self.start != i64::MAX
    }

    /// Loads `b` (holding at least one tick) with the in-bar window
    /// `start ..limit` (`start` is not `i64::MAX`); `inline`: the inline hot
    /// path may take it. The roll window stays as it was.
    #[inline]
    pub(crate) fn load(&mut self, b: &Bar, start: i64, limit: i64, inline: bool) {
        debug_assert!(b.count > 0 && start != i64::MAX);
        self.last_ts = b.last_ts;
        self.limit = if inline { limit } else { i64::MIN };
        self.warm_limit = limit;
        self.high = b.high;
        self.low = b.low;
        self.close = b.close;
        self.side_vol = [0.0; 3];
        self.vwap_num = 0.0;
        self.count = 0;
        self.start = start;
        self.first_ts = b.first_ts;
        self.open = b.open;
    }

    /// Drops the loaded bar (after writing it back): every window empty.
    #[inline]
    pub(crate) fn unload(&mut self) {
        *self = Hot::UNLOADED;
    }

    /// Applies a valid tick at or after the bar's last time: no time
    /// comparisons left but the window's.
    #[inline(always)]
    pub(crate) fn push(&mut self, ts: i64, price: f64, size: f64, side: Side) {
        debug_assert!(self.cached() && ts >= self.last_ts);
        self.high = if price > self.high { price } else { self.high };
        self.low = if price < self.low { price } else { self.low };
        self.close = price;
        self.last_ts = ts;
        self.side_vol[side as usize] += size;
        self.vwap_num += price * size;
        self.count += 1;
    }

    /// [`Hot::push`] for each tick of `ticks` from the first, while they
    /// are trades of `symbol` within the hot window with a price and size
    /// that [`price_size_surely_ok`] passes; returns how many it applied.
    /// The bar lives in registers for the run, so a run of one symbol's
    /// ticks is not chained through memory (a store and a reload of the same
    /// fields per tick); the results are those of `push` bit for bit (a
    /// side's sum gains the size, the other two `+0.0`, which leaves a sum of
    /// non-negative sizes unchanged).
    #[inline(always)]
    pub(crate) fn push_run(&mut self, symbol: crate::SymbolId, ticks: &[crate::Tick]) -> usize {
        debug_assert!(self.cached());
        let limit = self.limit;
        let mut last_ts = self.last_ts;
        let (mut high, mut low, mut close) = (self.high, self.low, self.close);
        let mut vwap_num = self.vwap_num;
        let [mut unknown, mut buy, mut sell] = self.side_vol;
        let mut count = self.count;
        let mut n = 0;
        for t in ticks {
            let (ts, price, size) = (t.ts_event, t.price, t.size);
            if t.symbol != symbol
                || t.kind != crate::TickKind::Trade
                || ts < last_ts
                || ts >= limit
                || !price_size_surely_ok(price, size)
            {
                break;
            }
            high = if price > high { price } else { high };
            low = if price < low { price } else { low };
            close = price;
            last_ts = ts;
            // Masks from a table, not compares: the compiler turns a compare
            // into a branch, and sides are a coin toss.
            let q = size.to_bits();
            let m = &SIDE_MASKS[t.side as usize];
            unknown += f64::from_bits(q & m[0]);
            buy += f64::from_bits(q & m[1]);
            sell += f64::from_bits(q & m[2]);
            vwap_num += price * size;
            count += 1;
            n += 1;
        }
        if n > 0 {
            self.last_ts = last_ts;
            self.high = high;
            self.low = low;
            self.close = close;
            self.vwap_num = vwap_num;
            self.side_vol = [unknown, buy, sell];
            self.count = count;
        }
        n
    }

    /// Applies a valid tick of the bar's bucket, at any time.
    #[inline]
    pub(crate) fn apply(&mut self, ts: i64, price: f64, size: f64, side: Side) {
        debug_assert!(self.cached());
        self.high = if price > self.high { price } else { self.high };
        self.low = if price < self.low { price } else { self.low };
        if ts < self.first_ts {
            self.first_ts = ts;
            self.open = price;
        }
        if ts >= self.last_ts {
            self.last_ts = ts;
            self.close = price;
        }
        self.side_vol[side as usize] += size;
        self.vwap_num += price * size;
        self.count += 1;
    }

    /// The bar: `base` (its ring slot, as loaded) with prices, times and the
    /// deltas folded in.
    #[inline]
    pub(crate) fn bar(&self, base: &Bar) -> Bar {
        let mut b = *base;
        b.open = self.open;
        b.high = self.high;
        b.low = self.low;
        b.close = self.close;
        b.first_ts = self.first_ts;
        b.last_ts = self.last_ts;
        let [u, buy, sell] = self.side_vol;
        b.volume += (u + buy) + sell;
        b.buy_volume += buy;
        b.sell_volume += sell;
        b.vwap_num += self.vwap_num;
        b.count += self.count;
        b
    }
}

#[inline(always)]
fn add_sums(b: &mut Bar, price: f64, size: f64, side: Side) {
    b.volume += size;
    b.vwap_num += price * size;
    // Branch-free (sides are unpredictable): masking the size to +0.0 and
    // adding it leaves a sum of non-negative sizes bit-identical.
    let q = size.to_bits();
    let buy = u64::from(side == Side::Buy).wrapping_neg();
    let sell = u64::from(side == Side::Sell).wrapping_neg();
    b.buy_volume += f64::from_bits(q & buy);
    b.sell_volume += f64::from_bits(q & sell);
    b.count += 1;
}

/// Merges `src` (ticks of a later arrival, or of a disjoint time range) into `dst`.
#[inline]
pub(crate) fn merge(dst: &mut Bar, src: &Bar) {
    if src.count == 0 {
        return;
    }
    if dst.count == 0 {
        dst.open = src.open;
        dst.high = src.high;
        dst.low = src.low;
        dst.close = src.close;
        dst.first_ts = src.first_ts;
        dst.last_ts = src.last_ts;
        dst.flags &= !Bar::FLAG_FILLED;
    } else {
        // Selects, not branches: whether a finer bar makes a new high or
        // low of a coarser one is a coin toss, and a roll merges into five
        // coarser bars (mispredictions were most of its cost).
        dst.high = if src.high > dst.high {
            src.high
        } else {
            dst.high
        };
        dst.low = if src.low < dst.low { src.low } else { dst.low };
        let earlier = src.first_ts < dst.first_ts;
        dst.open = if earlier { src.open } else { dst.open };
        dst.first_ts = if earlier { src.first_ts } else { dst.first_ts };
        let later = src.last_ts >= dst.last_ts;
        dst.close = if later { src.close } else { dst.close };
        dst.last_ts = if later { src.last_ts } else { dst.last_ts };
    }
    dst.volume += src.volume;
    dst.vwap_num += src.vwap_num;
    dst.buy_volume += src.buy_volume;
    dst.sell_volume += src.sell_volume;
    dst.count += src.count;
}

/// [`merge`] when `src` (holding a tick) lies wholly after `dst`'s ticks
/// (a later finest bar of the same coarser bucket): open and first time stay,
/// close and last time are `src`'s; the same result, fewer selects.
#[inline]
pub(crate) fn merge_later(dst: &mut Bar, src: &Bar) {
    debug_assert!(src.count > 0 && (dst.count == 0 || src.first_ts > dst.last_ts));
    if dst.count == 0 {
        dst.open = src.open;
        dst.high = src.high;
        dst.low = src.low;
        dst.first_ts = src.first_ts;
        dst.flags &= !Bar::FLAG_FILLED;
    } else {
        dst.high = if src.high > dst.high {
            src.high
        } else {
            dst.high
        };
        dst.low = if src.low < dst.low { src.low } else { dst.low };
    }
    dst.close = src.close;
    dst.last_ts = src.last_ts;
    dst.volume += src.volume;
    dst.vwap_num += src.vwap_num;
    dst.buy_volume += src.buy_volume;
    dst.sell_volume += src.sell_volume;
    dst.count += src.count;
}

/// The bar as emitted: `vwap` computed from its numerator.
#[inline]
pub(crate) fn finish(b: &Bar) -> Bar {
    let mut o = *b;
    o.vwap = Bar::vwap_of(o.vwap_num, o.volume, o.close);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_size_ok_is_finite_price_and_finite_non_negative_size() {
        let vals = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7FF0_0000_0000_0001),
            101.25,
        ];
        for &p in &vals {
            for &q in &vals {
                let want = p.is_finite() && q.is_finite() && q >= 0.0;
                assert_eq!(price_size_ok(p, q), want, "{p} {q}");
                let sure = price_size_surely_ok(p, q);
                assert!(!sure || want, "surely ok but not ok: {p} {q}");
                let negative_zero_size = q.to_bits() == (-0.0f64).to_bits();
                if want && !(negative_zero_size && p.is_sign_negative()) {
                    assert!(sure, "ok but not surely: {p} {q}");
                }
            }
        }
    }
}
