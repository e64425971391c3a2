//! A criterion [`Measurement`] in thread CPU time (`CLOCK_THREAD_CPUTIME_ID`).
//!
//! These benchmarks are single-threaded loops; on a quiet machine their CPU
//! time equals their wall time. On a shared machine wall time also counts the
//! time the thread waited for a core, CPU time does not, so figures taken
//! while others compile stay close to the quiet ones (cache sharing still
//! costs something). Set `TICKD_BENCH_WALL=1` to measure wall time instead.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// Thread CPU time, or wall time when `TICKD_BENCH_WALL` is set.
pub struct CpuTime {
    wall: bool,
}

impl CpuTime {
    pub fn from_env() -> CpuTime {
        CpuTime {
            wall: std::env::var_os("TICKD_BENCH_WALL").is_some(),
        }
    }

    fn now(&self) -> u64 {
        let clock = if self.wall {
            libc::CLOCK_MONOTONIC
        } else {
            libc::CLOCK_THREAD_CPUTIME_ID
        };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a live, writable timespec; the clock id is a valid constant.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        self.now()
    }
    fn end(&self, i: u64) -> u64 {
        self.now().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (f, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else if ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for v in values {
            *v *= f;
        }
        unit
    }

    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => b as f64,
            Throughput::Elements(e) => e as f64,
        };
        let per_s = n * 1e9 / typical;
        let (d, unit) = if per_s < 1e6 {
            (1e3, "K/s")
        } else if per_s < 1e9 {
            (1e6, "M/s")
        } else {
            (1e9, "G/s")
        };
        for v in values {
            *v = n * 1e9 / *v / d;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
