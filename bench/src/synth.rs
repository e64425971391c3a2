//! Synthetic ticks: a seeded random walk per symbol, the same sequence on
//! every machine and in every benchmark of a run.
//!
//! This file depends on `mtf` and `std` only, so that the comparison crates
//! outside the workspace (`bench/compare-nautilus`) include it verbatim and
//! feed their rivals exactly the ticks tickd gets.

use mtf::{Side, SymbolId, Tick};

/// 2023-11-14 22:13:20 UTC: the default first event time.
pub const DEFAULT_START_NS: i64 = 1_700_000_000_000_000_000;

/// What [`Synth`] generates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthConfig {
    /// Symbols `0 .. symbols` (at least 1).
    pub symbols: u32,
    /// Seed of the generator: same seed, same ticks.
    pub seed: u64,
    /// Event time of the first tick, ns since the Unix epoch.
    pub start_ns: i64,
    /// Mean gap between consecutive ticks of the whole stream, ns (≥ 1).
    /// Gaps are uniform in `[0, 2·mean]`, so event times never decrease.
    pub mean_gap_ns: i64,
    /// One tick in `quote_every` is a quote (0: trades only).
    pub quote_every: u32,
    /// Symbol weights are skewed: symbol `k` is drawn with weight `1 / (k + 1)^skew`
    /// (0.0: uniform). Real feeds have a few hot symbols and a long sparse tail.
    pub skew: f64,
}

impl Default for SynthConfig {
    /// 1 symbol, seed 42, 1 ms mean gap, trades only, uniform.
    fn default() -> SynthConfig {
        SynthConfig {
            symbols: 1,
            seed: 42,
            start_ns: DEFAULT_START_NS,
            mean_gap_ns: 1_000_000,
            quote_every: 0,
            skew: 0.0,
        }
    }
}

/// The generator: an endless iterator of ticks in event-time order.
///
/// Each tick's `id` is its position in the stream (0, 1, 2, …), so a
/// receiver can tell exactly which ticks arrived and when each was due.
#[derive(Clone, Debug)]
pub struct Synth {
    cfg: SynthConfig,
    rng: u64,
    ts: i64,
    next_id: u64,
    /// Price of each symbol, in cents (integers keep the walk exact).
    cents: Vec<i64>,
    /// Cumulative symbol weights scaled to `u32::MAX` (empty: uniform).
    cdf: Vec<u32>,
    /// `guide[b]`: the first symbol whose `cdf` entry is at least
    /// `b << GUIDE_SHIFT`, so the symbol of a draw `u` is found by a short
    /// forward scan from `guide[u >> GUIDE_SHIFT]` instead of a binary search
    /// over the whole `cdf` (same answer, a fraction of the dependent loads).
    guide: Vec<u32>,
    /// The gap divisor `2·mean_gap_ns + 1` and its [`fastmod`] constant:
    /// a 64-bit `div` is tens of cycles on the CPUs this runs on.
    gap_d: u64,
    gap_m: u128,
}

/// Lemire's constant for [`fastmod`]: `⌊(2¹²⁸ − 1) / d⌋ + 1` (wraps to 0 for `d = 1`).
#[inline]
fn fastmod_constant(d: u64) -> u128 {
    (u128::MAX / d as u128).wrapping_add(1)
}

/// `a % d`, exactly, for every `a` and `d ≥ 1`, from `m = fastmod_constant(d)`
/// with three multiplications (Lemire, Kaser, Kurz: "Faster remainder by
/// direct computation", 2019: the 64-bit case with a 128-bit constant).
#[inline]
fn fastmod(a: u64, m: u128, d: u64) -> u64 {
    let low = m.wrapping_mul(a as u128);
    let bottom = ((low as u64) as u128 * d as u128) >> 64;
    let top = (low >> 64) * d as u128;
    ((bottom + top) >> 64) as u64
}

/// Bits of a 32-bit symbol draw that pick a [`Synth`] guide bucket.
const GUIDE_BITS: u32 = 12;
const GUIDE_SHIFT: u32 = 32 - GUIDE_BITS;

impl Synth {
    /// A generator for `cfg` (`symbols` and `mean_gap_ns` are raised to 1 if 0).
    pub fn new(cfg: SynthConfig) -> Synth {
        let n = cfg.symbols.max(1);
        let cfg = SynthConfig {
            symbols: n,
            mean_gap_ns: cfg.mean_gap_ns.max(1),
            ..cfg
        };
        let mut rng = cfg.seed ^ 0x9E37_79B9_7F4A_7C15;
        if rng == 0 {
            rng = 1;
        }
        let mut s = Synth {
            cfg,
            rng,
            ts: cfg.start_ns,
            next_id: 0,
            cents: Vec::with_capacity(n as usize),
            cdf: Vec::new(),
            guide: Vec::new(),
            gap_d: 2 * cfg.mean_gap_ns as u64 + 1,
            gap_m: fastmod_constant(2 * cfg.mean_gap_ns as u64 + 1),
        };
        for _ in 0..n {
            let p = 1_000 + (s.next_u64() % 500_000) as i64; // 10.00 .. 5010.00
            s.cents.push(p);
        }
        if cfg.skew > 0.0 && n > 1 {
            let w: Vec<f64> = (0..n)
                .map(|k| 1.0 / ((k + 1) as f64).powf(cfg.skew))
                .collect();
            let total: f64 = w.iter().sum();
            let mut acc = 0.0;
            s.cdf = w
                .iter()
                .map(|x| {
                    acc += x / total;
                    (acc.min(1.0) * u32::MAX as f64) as u32
                })
                .collect();
            if let Some(last) = s.cdf.last_mut() {
                *last = u32::MAX;
            }
            s.guide = (0..1u32 << GUIDE_BITS)
                .map(|b| s.cdf.partition_point(|&c| c < b << GUIDE_SHIFT) as u32)
                .collect();
        }
        s
    }

    /// The configuration in force.
    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    /// xorshift64*: fast, good enough for a price walk, identical everywhere.
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[inline]
    fn pick_symbol(&mut self, r: u64) -> SymbolId {
        let n = self.cfg.symbols;
        if self.cdf.is_empty() {
            return ((r >> 32) % n as u64) as SymbolId;
        }
        let u = (r >> 32) as u32;
        // The first `k` with `cdf[k] >= u` is at or after the guide's entry
        // for `u`'s bucket (the cdf is non-decreasing), and `cdf` ends with
        // `u32::MAX`, so the scan stops inside the slice.
        let mut k = self.guide[(u >> GUIDE_SHIFT) as usize] as usize;
        while self.cdf.get(k).is_some_and(|&c| c < u) {
            k += 1;
        }
        k.min(n as usize - 1) as SymbolId
    }

    /// The next tick.
    #[inline]
    pub fn next_tick(&mut self) -> Tick {
        let r = self.next_u64();
        let gap = fastmod(r, self.gap_m, self.gap_d) as i64;
        self.ts = self.ts.saturating_add(gap);
        let r2 = self.next_u64();
        let sym = self.pick_symbol(r2);
        let slot = &mut self.cents[sym as usize];
        // Step of -2 ..= +2 cents, floored at 1 cent.
        *slot = (*slot + (r2 & 0x7) as i64 % 5 - 2).max(1);
        let price = *slot as f64 / 100.0;
        let size = (1 + (r2 >> 8) % 500) as f64;
        let id = self.next_id;
        self.next_id += 1;
        let quote = self.cfg.quote_every > 0 && id.is_multiple_of(self.cfg.quote_every as u64);
        if quote {
            let spread = 0.01 * (1 + (r2 >> 20) % 3) as f64;
            let mut t = Tick::quote(sym, self.ts, price, size, price + spread, size + 1.0);
            t.id = id;
            t
        } else {
            let side = if (r2 >> 16) & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            Tick::trade(sym, self.ts, price, size, side, id)
        }
    }

    /// Fills `out` with the next `out.len()` ticks.
    pub fn fill(&mut self, out: &mut [Tick]) {
        for t in out {
            *t = self.next_tick();
        }
    }

    /// The next `n` ticks in a new vector.
    pub fn take_vec(&mut self, n: usize) -> Vec<Tick> {
        let mut v = vec![Tick::default(); n];
        self.fill(&mut v);
        v
    }
}

impl Iterator for Synth {
    type Item = Tick;

    #[inline]
    fn next(&mut self) -> Option<Tick> {
        Some(self.next_tick())
    }
}

/// Name of synthetic symbol `k` on the wire: `S0000`, `S0001`, …
pub fn symbol_name(k: u32) -> String {
    format!("S{k:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The symbol a binary search over the cdf picks (the rule before the guide table).
    fn reference_pick(s: &Synth, r: u64) -> SymbolId {
        let n = s.cfg.symbols;
        if s.cdf.is_empty() {
            return ((r >> 32) % n as u64) as SymbolId;
        }
        let u = (r >> 32) as u32;
        s.cdf.partition_point(|&c| c < u).min(n as usize - 1) as SymbolId
    }

    /// `next_tick` as it was before the guide table and `fastmod`.
    fn reference_next(s: &mut Synth) -> Tick {
        let r = s.next_u64();
        let gap = (r % (2 * s.cfg.mean_gap_ns as u64 + 1)) as i64;
        s.ts = s.ts.saturating_add(gap);
        let r2 = s.next_u64();
        let sym = reference_pick(s, r2);
        let slot = &mut s.cents[sym as usize];
        *slot = (*slot + (r2 & 0x7) as i64 % 5 - 2).max(1);
        let price = *slot as f64 / 100.0;
        let size = (1 + (r2 >> 8) % 500) as f64;
        let id = s.next_id;
        s.next_id += 1;
        if s.cfg.quote_every > 0 && id.is_multiple_of(s.cfg.quote_every as u64) {
            let spread = 0.01 * (1 + (r2 >> 20) % 3) as f64;
            let mut t = Tick::quote(sym, s.ts, price, size, price + spread, size + 1.0);
            t.id = id;
            t
        } else {
            let side = if (r2 >> 16) & 1 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            Tick::trade(sym, s.ts, price, size, side, id)
        }
    }

    #[test]
    fn same_ticks_as_before_bit_for_bit() {
        for (symbols, skew, mean_gap_ns, quote_every, seed) in [
            (100, 1.0, 1_000, 0, 42),
            (1, 0.0, 1, 0, 1),
            (7, 0.0, 1_000_000, 4, 9),
            (5000, 1.3, 123, 3, 77),
        ] {
            let cfg = SynthConfig {
                symbols,
                skew,
                mean_gap_ns,
                quote_every,
                seed,
                ..SynthConfig::default()
            };
            let mut a = Synth::new(cfg);
            let mut b = a.clone();
            for _ in 0..200_000 {
                let (x, y) = (a.next_tick(), reference_next(&mut b));
                assert_eq!(x, y);
                assert_eq!(
                    (x.price.to_bits(), x.size.to_bits()),
                    (y.price.to_bits(), y.size.to_bits())
                );
            }
        }
    }

    #[test]
    fn guided_symbol_pick_equals_the_binary_search() {
        for symbols in [1, 2, 3, 7, 100, 1000, 5000] {
            for skew in [0.0, 0.3, 1.0, 2.5] {
                let mut s = Synth::new(SynthConfig {
                    symbols,
                    skew,
                    ..SynthConfig::default()
                });
                // Every boundary of the cdf and its neighbours, then random draws.
                let mut draws: Vec<u32> = vec![0, 1, u32::MAX - 1, u32::MAX];
                for &c in &s.cdf {
                    draws.extend([c.saturating_sub(1), c, c.saturating_add(1)]);
                }
                for b in 0..1u32 << GUIDE_BITS {
                    let lo = b << GUIDE_SHIFT;
                    draws.extend([lo, lo.wrapping_sub(1)]);
                }
                for _ in 0..20_000 {
                    draws.push((s.next_u64() >> 32) as u32);
                }
                for u in draws {
                    let r = (u as u64) << 32 | 0x1234;
                    assert_eq!(
                        s.pick_symbol(r),
                        reference_pick(&s, r),
                        "symbols {symbols} skew {skew} u {u}"
                    );
                }
            }
        }
    }

    #[test]
    fn fastmod_is_the_remainder() {
        let mut s = Synth::new(SynthConfig::default());
        let mut ds: Vec<u64> = vec![1, 2, 3, 5, 7, 1_001, 2_001, 2_000_001, u32::MAX as u64];
        ds.extend([
            u32::MAX as u64 + 1,
            1 << 40,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ]);
        for _ in 0..200 {
            ds.push(s.next_u64() >> (s.next_u64() % 64));
        }
        for d in ds.into_iter().filter(|&d| d > 0) {
            let m = fastmod_constant(d);
            let mut as_: Vec<u64> = vec![0, 1, d - 1, d, d.wrapping_add(1), u64::MAX, u64::MAX - 1];
            as_.extend([d.wrapping_mul(3), d.wrapping_mul(3).wrapping_sub(1)]);
            for _ in 0..2_000 {
                as_.push(s.next_u64());
            }
            for a in as_ {
                assert_eq!(fastmod(a, m, d), a % d, "{a} % {d}");
            }
        }
    }

    #[test]
    fn event_times_never_decrease_and_ids_count_up() {
        let mut s = Synth::new(SynthConfig {
            symbols: 100,
            skew: 1.0,
            quote_every: 7,
            ..SynthConfig::default()
        });
        let mut last = i64::MIN;
        for i in 0..100_000u64 {
            let t = s.next_tick();
            assert!(t.ts_event >= last);
            assert_eq!(t.id, i);
            assert!(t.symbol < 100 && t.price > 0.0);
            last = t.ts_event;
        }
    }
}
