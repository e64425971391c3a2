//! tickd, the tick processing daemon, and tickctl, its tool, as a library:
//! the pipeline, its configuration, stats and lifecycle. `src/bin/tickd.rs`
//! and `src/bin/tickctl.rs` only parse flags and map errors to exit codes.
//!
//! # Contract
//!
//! - **Pipeline** ([`pipeline::Engine`]): N ingest threads (socket receivers
//!   of `ingest::net`, or in-process [`dispatch::Dispatcher`]s) route every
//!   tick by symbol through bounded lock-free SPSC queues ([`queue`]) to M
//!   worker threads, so one symbol always goes to one worker, in order. A
//!   worker aggregates (`mtf`), publishes bars (and optionally ticks) to the
//!   shared-memory ring and snapshot table (`ring`), and hands ticks and bars
//!   to the store thread (`store`). Hot threads never allocate, lock, log or
//!   make a system call per tick; they bump counters ([`stats`]) that cold
//!   threads report ([`report`], [`metrics`]).
//! - **Never losing a tick**: TCP senders are paused (backpressure) when a
//!   queue is full; UDP ticks that find a full queue are dropped and counted
//!   (`tickd_queue_full_drops_total`). A tick is counted *accepted* only once
//!   the store holds it (it then survives a `kill -9`).
//! - **Bad input** never panics: it is counted by reason (`rejected`,
//!   `malformed`, `gaps`, `duplicates`) and logged rate-limited by the
//!   receivers. Configuration errors name the key path and what is allowed
//!   ([`config`]).
//! - **Lifecycle** ([`daemon`], [`lifecycle`]): SIGTERM/SIGINT drain and exit
//!   0 within `daemon.shutdown_timeout`; SIGHUP reopens the log file;
//!   `READY=1`, `WATCHDOG=1`, `STOPPING=1` go to `NOTIFY_SOCKET`. On start
//!   the store recovers, the symbol table is reconciled with it, and the
//!   aggregators continue from the stored bars and ticks ([`storage`]).
//!
//! # Example: the pipeline in-process
//!
//! ```
//! use engine::config::Config;
//! use engine::pipeline::{Engine, EngineOptions};
//! use mtf::{Side, Tick};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let cfg = Config::load(None, &[
//!     format!("daemon.data_dir={}", dir.path().display()),
//!     "ring.enabled=false".into(),
//!     "store.enabled=false".into(),
//!     "metrics.listen=".into(),
//!     "report.interval=0s".into(),
//!     "ingest.cores=[]".into(),
//!     "workers.cores=[]".into(),
//! ]).unwrap();
//! let mut engine = Engine::start(cfg, EngineOptions { injectors: 1, ..Default::default() }).unwrap();
//! let id = engine.symbols().intern("ABC".parse().unwrap()).unwrap();
//! let mut inj = engine.take_injectors().pop().unwrap();
//! let now = inj.begin_batch();
//! for i in 0..1000 {
//!     let t = Tick::trade(id, now - 5_000_000_000 + i * 10_000_000, 10.0, 1.0, Side::Buy, 0).with_recv(now);
//!     inj.offer(&t);
//! }
//! inj.end_batch();
//! drop(inj);
//! let stats = engine.stats().clone();
//! let done = engine.shutdown(Duration::from_secs(5)).unwrap();
//! assert_eq!(done.processed, 1000);
//! assert_eq!(stats.snapshot().counter(engine::stats::Counter::Accepted), 1000);
//! ```

pub mod clock;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod dispatch;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod persist;
pub mod pin;
pub mod pipeline;
pub mod publish;
pub mod queue;
pub mod report;
pub mod sources;
pub mod stats;
pub mod storage;
pub mod synth;
pub mod units;
pub mod worker;
