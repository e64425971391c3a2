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
        match cols.side.map_or(Side::Unknown, |sd| sd[k]) {
            Side::Buy => s.buy += q,
            Side::Sell => s.sell += q,
            Side::Unknown => {}
        }
        s.count += 1;
    }
    s
}
