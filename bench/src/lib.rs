//! tickd's proof of speed: a load generator, the end-to-end scenarios of
//! `bench/RESULTS.md`, and comparisons with the tools users have today.
//!
//! # Contract
//!
//! - [`load::run`] offers ticks to a tickd listener over UDP binary, TCP
//!   binary or ILP over TCP, at a fixed rate (every tick has a scheduled send
//!   time and its id is its stream position, so latency is measured from the
//!   schedule and stalls are never hidden) or at the maximum rate.
//! - [`synth::Synth`] is the deterministic tick source every benchmark and
//!   every rival shares: same seed, same ticks, bit for bit.
//! - [`sink::Sink`] receives with tickd's own parsers: the generator's
//!   self-test and the network floor of a scenario.
//! - [`daemon::Daemon`] starts a real `tickd` on free loopback ports and reads
//!   its state file, `/stats.json` and Prometheus histograms; [`scenario`]
//!   holds the five scenarios of `bench/RESULTS.md`, one command each.
//! - Figures belong to the `scenario` and `tickload` binaries and the criterion
//!   benches, never to unit tests; unit tests check behaviour only.
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, atomic::AtomicBool};
//! use std::time::Duration;
//! use bench::load::{self, LoadConfig, Protocol, Rate, SynthSource};
//! use bench::sink::Sink;
//! use bench::synth::SynthConfig;
//!
//! let slot = Arc::new(parking_lot::Mutex::new(None));
//! let sink = Sink::start(Protocol::TcpBinary, slot.clone()).unwrap();
//! let mut cfg = LoadConfig::new(Protocol::TcpBinary, sink.addr());
//! cfg.rate = Rate::Max;
//! cfg.max_ticks = 10_000;
//! let mut src = SynthSource::new(SynthConfig { symbols: 10, ..SynthConfig::default() });
//! let rep = load::run(&cfg, &mut src, &AtomicBool::new(false)).unwrap();
//! let got = sink.finish(Duration::from_millis(50)).unwrap();
//! assert_eq!((rep.ticks, got.ticks, got.malformed), (10_000, 10_000, 0));
//! ```

pub mod daemon;
pub mod frames;
pub mod hist;
pub mod load;
pub mod scenario;
pub mod sink;
pub mod synth;
pub mod sys;
pub mod udp;
