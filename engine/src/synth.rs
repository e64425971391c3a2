//! A synthetic random-walk tick generator: deterministic for a seed, several
//! symbols, trades and (optionally) quotes, event times strictly increasing.
//! Used by `tickctl send --synthetic`, the tests and the benchmarks.
//!
//! ```
//! use engine::synth::{Synth, SynthOptions};
//! let mut g = Synth::new(SynthOptions { symbols: 3, ..SynthOptions::default() });
//! let (a, name) = g.next_tick();
//! assert_eq!(name, format!("SYN{:04}", a.symbol));
//! let (b, _) = g.next_tick();
//! assert!(b.ts_event > a.ts_event);
//! ```

use mtf::{Side, Tick};

/// Generator options.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Number of symbols (`SYN0000` ...).
    pub symbols: u32,
    /// Seed of the xorshift generator.
    pub seed: u64,
    /// First event time, ns since the epoch.
    pub start_ns: i64,
    /// Mean gap between ticks, ns (uniform in `1 ..= 2 × mean`).
    pub mean_gap_ns: i64,
    /// One tick in this many is a quote (0: trades only).
    pub quote_every: u32,
    /// Starting price.
    pub price: f64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            symbols: 4,
            seed: 0x5eed,
            start_ns: 1_700_000_000_000_000_000,
            mean_gap_ns: 1_000_000,
            quote_every: 4,
            price: 100.0,
        }
    }
}

/// The generator. Ticks carry symbol ids `0 .. symbols` and a name.
pub struct Synth {
    o: SynthOptions,
    x: u64,
    ts: i64,
    px: Vec<f64>,
    names: Vec<String>,
    n: u64,
}

impl Synth {
    /// A generator.
    pub fn new(o: SynthOptions) -> Synth {
        let k = o.symbols.max(1) as usize;
        Synth {
            x: o.seed | 1,
            ts: o.start_ns,
            px: vec![o.price; k],
            names: (0..k).map(|i| format!("SYN{i:04}")).collect(),
            n: 0,
            o,
        }
    }

    #[inline]
    fn rnd(&mut self) -> u64 {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        self.x
    }

    /// The symbol names, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The next tick (its `symbol` is the index into [`Synth::names`]) and its symbol name.
    pub fn next_tick(&mut self) -> (Tick, &str) {
        let k = (self.rnd() % self.px.len() as u64) as usize;
        let gap = 1 + (self.rnd() % (2 * self.o.mean_gap_ns.max(1) as u64)) as i64;
        self.ts = self.ts.saturating_add(gap);
        let step = ((self.rnd() % 201) as f64 - 100.0) * 0.0001 * self.px[k];
        // Two decimals, like a real tick size; never below one cent.
        self.px[k] = ((self.px[k] + step).max(0.01) * 100.0).round() / 100.0;
        let p = self.px[k];
        self.n += 1;
        let quote = self.o.quote_every > 0 && self.rnd().is_multiple_of(self.o.quote_every as u64);
        let t = if quote {
            Tick::quote(k as u32, self.ts, p - 0.01, 5.0, p + 0.01, 7.0)
        } else {
            let side = if self.rnd().is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            };
            let size = (1 + self.rnd() % 100) as f64;
            Tick::trade(k as u32, self.ts, p, size, side, self.n)
        };
        (t, &self.names[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_valid() {
        let mut a = Synth::new(SynthOptions::default());
        let mut b = Synth::new(SynthOptions::default());
        let mut last = i64::MIN;
        for _ in 0..10_000 {
            let (x, _) = a.next_tick();
            let (y, _) = b.next_tick();
            assert_eq!(x, y);
            assert!(x.ts_event > last);
            last = x.ts_event;
            assert!(x.price > 0.0 && x.price.is_finite());
        }
    }
}
