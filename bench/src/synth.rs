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
}

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
        self.cdf.partition_point(|&c| c < u).min(n as usize - 1) as SymbolId
    }

    /// The next tick.
    #[inline]
    pub fn next_tick(&mut self) -> Tick {
        let r = self.next_u64();
        let gap = (r % (2 * self.cfg.mean_gap_ns as u64 + 1)) as i64;
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
