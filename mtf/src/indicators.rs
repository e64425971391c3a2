//! Incremental indicators over the closed bars of any timeframe: [`Sma`],
//! [`Ema`], [`Rsi`] (Wilder), O(1) per bar, and batch versions over a slice.
//!
//! Feed them the close (or any value) of each *closed* bar, in order. A
//! non-finite input is skipped (counted in `skipped`) and the value stays as
//! it was. Before `period` inputs (RSI: `period + 1`) there is no value: the
//! incremental forms return `None`, the batch forms `NaN`.
//!
//! ```
//! use mtf::indicators::{Sma, rsi};
//! let mut sma = Sma::new(3).unwrap();
//! assert_eq!(sma.update(1.0), None);
//! assert_eq!(sma.update(2.0), None);
//! assert_eq!(sma.update(3.0), Some(2.0));
//! let r = rsi(&[1.0, 2.0, 3.0, 2.0], 2).unwrap();
//! assert!(r[1].is_nan() && r[2] == 100.0);
//! ```

/// Longest period accepted (bounds the SMA window allocation).
pub const MAX_PERIOD: usize = 1 << 20;

/// Why an indicator could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndicatorError {
    /// Period 0, or above [`MAX_PERIOD`].
    #[error("indicator period must be within 1 ..= {MAX_PERIOD}, got {0}")]
    Period(usize),
}

fn check(period: usize) -> Result<(), IndicatorError> {
    if period == 0 || period > MAX_PERIOD {
        Err(IndicatorError::Period(period))
    } else {
        Ok(())
    }
}

/// Simple moving average of the last `period` inputs.
///
/// Keeps a running sum, recomputed exactly from the window each time the
/// window wraps (O(1) amortised), so rounding never drifts over long runs.
#[derive(Clone, Debug)]
pub struct Sma {
    buf: Box<[f64]>,
    pos: usize,
    len: usize,
    sum: f64,
    /// Non-finite inputs skipped.
    pub skipped: u64,
}

impl Sma {
    /// An SMA over `period` inputs.
    pub fn new(period: usize) -> Result<Sma, IndicatorError> {
        check(period)?;
        Ok(Sma {
            buf: vec![0.0; period].into_boxed_slice(),
            pos: 0,
            len: 0,
            sum: 0.0,
            skipped: 0,
        })
    }

    /// Adds one input; the average once `period` inputs were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            self.skipped += 1;
            return self.value();
        }
        let n = self.buf.len();
        let old = self.buf[self.pos];
        self.buf[self.pos] = x;
        self.pos += 1;
        if self.len < n {
            self.len += 1;
            self.sum += x;
        } else {
            self.sum += x - old;
        }
        if self.pos == n {
            self.pos = 0;
            self.sum = self.buf.iter().sum();
        }
        self.value()
    }

    /// The current average, `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        (self.len == self.buf.len()).then(|| self.sum / self.len as f64)
    }
}

/// Exponential moving average, `alpha = 2 / (period + 1)`, seeded with the
/// SMA of the first `period` inputs.
#[derive(Clone, Debug)]
pub struct Ema {
    period: usize,
    alpha: f64,
    seen: usize,
    acc: f64,
    /// Non-finite inputs skipped.
    pub skipped: u64,
}

impl Ema {
    /// An EMA over `period`.
    pub fn new(period: usize) -> Result<Ema, IndicatorError> {
        check(period)?;
        Ok(Ema {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            seen: 0,
            acc: 0.0,
            skipped: 0,
        })
    }

    /// Adds one input; the EMA once `period` inputs were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            self.skipped += 1;
            return self.value();
        }
        if self.seen < self.period {
            self.acc += x;
            self.seen += 1;
            if self.seen == self.period {
                self.acc /= self.period as f64;
            }
        } else {
            self.acc += self.alpha * (x - self.acc);
        }
        self.value()
    }

    /// The current EMA, `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        (self.seen == self.period).then_some(self.acc)
    }
}

/// Wilder's RSI: average gain and loss seeded with the mean of the first
/// `period` changes, then `avg = (avg·(period−1) + change) / period`.
/// `RSI = 100 − 100 / (1 + gain/loss)`; 100 when the average loss is 0, and
/// 50 when both averages are 0 (a flat market).
#[derive(Clone, Debug)]
pub struct Rsi {
    period: usize,
    prev: Option<f64>,
    changes: usize,
    gain: f64,
    loss: f64,
    /// Non-finite inputs skipped.
    pub skipped: u64,
}

impl Rsi {
    /// An RSI over `period` changes.
    pub fn new(period: usize) -> Result<Rsi, IndicatorError> {
        check(period)?;
        Ok(Rsi {
            period,
            prev: None,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
            skipped: 0,
        })
    }

    /// Adds one input; the RSI once `period + 1` inputs were seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            self.skipped += 1;
            return self.value();
        }
        let prev = self.prev.replace(x)?;
        let d = x - prev;
        let (g, l) = if d > 0.0 { (d, 0.0) } else { (0.0, -d) };
        let n = self.period as f64;
        if self.changes < self.period {
            self.gain += g;
            self.loss += l;
            self.changes += 1;
            if self.changes == self.period {
                self.gain /= n;
                self.loss /= n;
            }
        } else {
            self.gain = (self.gain * (n - 1.0) + g) / n;
            self.loss = (self.loss * (n - 1.0) + l) / n;
        }
        self.value()
    }

    /// The current RSI, `None` during warm-up.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        if self.changes < self.period {
            return None;
        }
        Some(if self.loss == 0.0 {
            if self.gain == 0.0 { 50.0 } else { 100.0 }
        } else {
            100.0 - 100.0 / (1.0 + self.gain / self.loss)
        })
    }
}

fn batch<F: FnMut(f64) -> Option<f64>>(xs: &[f64], mut f: F) -> Vec<f64> {
    xs.iter().map(|&x| f(x).unwrap_or(f64::NAN)).collect()
}

/// SMA of every prefix of `xs` (`NaN` during warm-up).
pub fn sma(xs: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let mut s = Sma::new(period)?;
    Ok(batch(xs, |x| s.update(x)))
}

/// EMA of every prefix of `xs` (`NaN` during warm-up).
pub fn ema(xs: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let mut s = Ema::new(period)?;
    Ok(batch(xs, |x| s.update(x)))
}

/// Wilder RSI of every prefix of `xs` (`NaN` during warm-up).
pub fn rsi(xs: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let mut s = Rsi::new(period)?;
    Ok(batch(xs, |x| s.update(x)))
}
