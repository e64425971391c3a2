//! The reference kernel: one row at a time, in row order.

use super::{RunSums, SortedColumns, row_ok};
use crate::Side;

/// Reduces rows `a..b` (`a` and `b - 1` valid).
pub(crate) fn reduce(cols: &SortedColumns<'_>, a: usize, b: usize) -> RunSums {
    let mut s = RunSums {
        count: 0,
        high: cols.price[a],
        low: cols.price[a],
        volume: 0.0,
        vwap_num: 0.0,
        buy: 0.0,
        sell: 0.0,
    };
    for k in a..b {
        let (p, q) = (cols.price[k], cols.size[k]);
        if !row_ok(p, q) {
            continue;
        }
        if p > s.high {
            s.high = p;
        }
        if p < s.low {
            s.low = p;
        }
        s.volume += q;
        s.vwap_num += p * q;
        // Branch-free side sums (sides are unpredictable; a mispredicted
        // branch per row cost more than the rest of the row): the size
        // masked to +0.0 for the other sides. Adding +0.0 to a sum that
        // started at +0.0 leaves it bit-identical, so this is the same
        // row-order sum as `if side == Buy { buy += q }`.
        let sd = cols.side.map_or(Side::Unknown, |sd| sd[k]);
        let bits = q.to_bits();
        s.buy += f64::from_bits(bits & u64::from(sd == Side::Buy).wrapping_neg());
        s.sell += f64::from_bits(bits & u64::from(sd == Side::Sell).wrapping_neg());
        s.count += 1;
    }
    s
}
