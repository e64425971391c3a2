//! [`Engine`]: the whole pipeline as a library type. `tickd` runs one; the
//! bench crate and the tests start one in-process.
//!
//! ```text
//!  UDP/TCP/ILP ──▶ ingest thread i ──(SPSC, by symbol)──▶ worker w ──▶ ring + snapshot
//!  injectors   ──▶ (Dispatcher)                              │
//!                                                            └──(SPSC)──▶ store thread ──▶ segments
//! ```
//!
//! Stopping ([`Engine::shutdown`]): the ingest threads stop reading and drop
//! their queue ends; each worker drains its queues, hands the rest to the store
//! and stops; the store thread drains, flushes and closes the segments.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ingest::{SymbolTable, Validator};
use mtf::{AggConfig, Aggregator, BarSource, CloseAt, OpenUpdates};

use crate::config::{Config, QuotePrice, UpdatePolicy, WorkerMode};
use crate::dispatch::Dispatcher;
use crate::metrics::MetricsServer;
use crate::queue::{TickRx, TickTx, tick_queue};
use crate::report::Report;
use crate::stats::{Snapshot, Stats};
use crate::worker::{
    Inline, NameOf, Publish, StoreRx, Worker, WorkerCore, WorkerSummary, store_queue,
};

/// Feed-gap events in flight from the ingest threads to the publishing worker.
const GAP_EVENTS: usize = 4096;

/// Most symbols the engine tracks.
pub const MAX_SYMBOLS: usize = 1 << 20;

/// Why the engine could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The aggregator refused the configuration.
    #[error("aggregation config: {0}")]
    Aggregation(String),
    /// The symbol table could not be loaded.
    #[error("symbol table {path}: {message}")]
    Symbols {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
    /// The ring could not be created.
    #[error("ring: {0}")]
    Ring(String),
    /// A thread could not be started.
    #[error("cannot start thread {name}: {source}")]
    Thread {
        /// Thread name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// Inline mode with other than one producing thread.
    #[error(
        "workers.mode = \"inline\" needs exactly one ingest thread or injector (got {0}): \
         one thread must see every tick of a symbol"
    )]
    InlineProducers(usize),
    /// Draining did not finish within the shutdown timeout.
    #[error("shutdown did not finish within {0:?}")]
    ShutdownTimeout(Duration),
}

/// Where ticks and bars are persisted, driven by the store thread.
pub trait Persist: Send {
    /// Append ticks (in arrival order per worker). When this returns `Ok`
    /// the ticks survive a kill of the process. Returns bytes committed.
    fn ticks(&mut self, ticks: &[mtf::Tick]) -> Result<u64, String>;
    /// Append closed or corrected bars; returns bytes committed.
    fn bars(&mut self, bars: &[mtf::BarEvent]) -> Result<u64, String>;
    /// Periodic work (every few ms): make appended data visible to readers
    /// after the flush interval. Returns bytes committed.
    fn poll(&mut self) -> Result<u64, String>;
    /// Flush and close everything (shutdown).
    fn close(self: Box<Self>) -> Result<(), String>;
}

/// Builds worker `w`'s publisher (or none).
pub type PublisherFactory = Box<dyn FnMut(usize) -> Option<Box<dyn Publish>> + Send>;

/// Options beyond the config, for in-process use.
#[derive(Default)]
pub struct EngineOptions {
    /// Extra producers handed to the caller ([`Engine::take_injectors`]).
    pub injectors: usize,
    /// Whether to start the configured socket listeners.
    pub listeners: bool,
    /// Ring publisher per worker (index); `None`: the engine builds its own
    /// from the config.
    pub publishers: Option<PublisherFactory>,
    /// Persistence; `None`: the engine opens the store from the config.
    pub persist: Option<Box<dyn Persist>>,
}

/// Addresses the engine is reachable at.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoints {
    /// UDP binary.
    pub udp_binary: Option<SocketAddr>,
    /// TCP binary.
    pub tcp_binary: Option<SocketAddr>,
    /// ILP over TCP.
    pub ilp_tcp: Option<SocketAddr>,
    /// ILP over UDP.
    pub ilp_udp: Option<SocketAddr>,
    /// Metrics.
    pub metrics: Option<SocketAddr>,
}

/// A running engine.
pub struct Engine {
    cfg: Arc<Config>,
    stats: Stats,
    symbols: Arc<SymbolTable>,
    stop_ingest: Arc<AtomicBool>,
    stop_cold: Arc<AtomicBool>,
    ingest: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<WorkerSummary>>,
    /// Inline mode: the producers do the workers' processing.
    inline: bool,
    store: Option<JoinHandle<()>>,
    reporter: Option<JoinHandle<()>>,
    metrics: Option<MetricsServer>,
    injectors: Vec<Dispatcher>,
    endpoints: Endpoints,
    started: Instant,
}

/// The aggregator configuration for trade or quote bars.
pub fn agg_config(cfg: &Config, quotes: bool) -> AggConfig {
    let a = &cfg.aggregation;
    AggConfig {
        timeframes: a.timeframes.clone(),
        origin_ns: a.origin_ns,
        allowed_lateness_ns: i64::try_from(a.allowed_lateness.as_nanos()).unwrap_or(i64::MAX),
        close_at: CloseAt::EndPlusLateness,
        source: if quotes {
            BarSource::Quotes(match a.quote_price {
                QuotePrice::Mid => mtf::QuotePrice::Mid,
                QuotePrice::Bid => mtf::QuotePrice::Bid,
                QuotePrice::Ask => mtf::QuotePrice::Ask,
            })
        } else {
            BarSource::Trades
        },
        open_updates: match a.updates {
            UpdatePolicy::None => OpenUpdates::None,
            UpdatePolicy::EveryTick => OpenUpdates::EveryTick,
            UpdatePolicy::Interval(d) => {
                OpenUpdates::Every(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            }
        },
        fill_empty: a.fill_empty,
        ..AggConfig::default()
    }
}

fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, EngineError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|source| EngineError::Thread { name, source })
}

impl Engine {
    /// Start the pipeline.
    pub fn start(cfg: Config, mut opts: EngineOptions) -> Result<Engine, EngineError> {
        let started = Instant::now();
        let cfg = Arc::new(cfg);
        std::fs::create_dir_all(&cfg.data_dir).map_err(|source| EngineError::DataDir {
            path: cfg.data_dir.clone(),
            source,
        })?;
        let symbols = load_symbols(&cfg)?;
        if cfg.store.enabled && opts.persist.is_none() {
            crate::storage::reconcile_symbols(&cfg, &symbols)?;
        }
        let symbols = Arc::new(symbols);
        let stats = Stats::new();

        // One queue per (producer, worker).
        let n_ingest = if opts.listeners && crate::sources::any_listener(&cfg) {
            cfg.ingest.threads
        } else {
            0
        };
        let producers = n_ingest + opts.injectors;
        let inline = cfg.workers.mode == WorkerMode::Inline;
        if inline && producers != 1 {
            return Err(EngineError::InlineProducers(producers));
        }
        // Inline: one "worker" (the producer's processing), no queues.
        let m = if inline { 1 } else { cfg.workers.threads };
        let queued = if inline { 0 } else { producers };
        let mut txs: Vec<Vec<TickTx>> = (0..producers).map(|_| Vec::with_capacity(m)).collect();
        let mut rxs: Vec<Vec<TickRx>> = (0..m).map(|_| Vec::with_capacity(queued)).collect();
        for p in txs.iter_mut().take(queued) {
            for r in rxs.iter_mut() {
                let (tx, rx) = tick_queue(cfg.workers.queue_capacity);
                p.push(tx);
                r.push(rx);
            }
        }

        let validator = Validator {
            earliest_ns: cfg.ingest.min_event_ns,
            max_ahead_ns: i64::try_from(cfg.ingest.max_future.as_nanos()).unwrap_or(i64::MAX),
            max_behind_ns: None,
        };

        // Store thread.
        let mut store_rxs: Vec<StoreRx> = Vec::new();
        let mut store_txs = Vec::new();
        let persist: Option<Box<dyn Persist>> = match opts.persist.take() {
            Some(p) => Some(p),
            None if cfg.store.enabled => crate::persist::open(&cfg, symbols.clone())?,
            None => None,
        };
        if persist.is_some() {
            for _ in 0..m {
                let (tx, rx) = store_queue(cfg.store.queue_capacity);
                store_txs.push(Some(tx));
                store_rxs.push(rx);
            }
        } else {
            store_txs.extend((0..m).map(|_| None));
        }

        // Workers.
        let names: NameOf = {
            let symbols = symbols.clone();
            Arc::new(move |id| symbols.name(id).map(|n| n.as_str().to_string()))
        };
        let companion: crate::worker::CompanionOf = {
            let symbols = symbols.clone();
            Arc::new(move |id| {
                let base = symbols.name(id)?;
                let name = format!("{}{}", base.as_str(), crate::worker::QUOTE_SUFFIX);
                let sym: ingest::SymbolName = name.parse().ok()?;
                let cid = symbols.intern(sym).ok()?;
                Some((cid, name))
            })
        };
        let mut workers = Vec::with_capacity(m);
        let mut inline_core = None;
        // Feed gaps seen by the ingest threads, on their way to worker 0's ring.
        let gap_events = Arc::new(crossbeam_queue::ArrayQueue::new(GAP_EVENTS));
        let mut recovered_bars = Vec::new();
        let router = crate::queue::Router::new(m);
        for (w, (rx, store_tx)) in rxs.into_iter().zip(store_txs).enumerate() {
            let mut trades = Aggregator::new(agg_config(&cfg, false))
                .map_err(|e| EngineError::Aggregation(e.to_string()))?;
            let mut quotes = Aggregator::new(agg_config(&cfg, true))
                .map_err(|e| EngineError::Aggregation(e.to_string()))?;
            if store_tx.is_some() && cfg.store.enabled {
                let r = crate::storage::recover(
                    &cfg,
                    |id| router.worker_of(id) == w,
                    &mut trades,
                    &mut quotes,
                    &mut recovered_bars,
                )?;
                if r.symbols > 0 {
                    tracing::info!(
                        worker = w,
                        symbols = r.symbols,
                        seeded_bars = r.seeded_bars,
                        replayed_ticks = r.replayed_ticks,
                        recovered_bars = r.recovered_bars,
                        "aggregators restored from the store"
                    );
                }
            }
            let publish = match opts.publishers.as_mut() {
                Some(f) => f(w),
                None if cfg.ring.enabled => crate::publish::open(&cfg, w, m)?,
                None => None,
            };
            let core = WorkerCore::new(
                &cfg,
                trades,
                quotes,
                publish,
                store_tx,
                stats.register(&format!("worker-{w}")),
                names.clone(),
                companion.clone(),
                (w == 0).then(|| gap_events.clone()),
            );
            if inline {
                inline_core = Some(core);
                continue;
            }
            let worker = Worker::with_core(w, &cfg, rx, core);
            workers.push(spawn(format!("tickd-worker-{w}"), move || worker.run())?);
        }
        // Inline: the one producer gets the processing (it is built first).
        let mut inline_core = inline_core.map(Inline::new);
        let mut dispatcher = |tx: Vec<TickTx>, name: String| match inline_core.take() {
            Some(core) => Dispatcher::inline(core, validator, stats.register(&name)),
            None => Dispatcher::new(tx, validator, stats.register(&name)),
        };

        let store = match persist {
            Some(p) => {
                let stats2 = stats.clone();
                Some(spawn("tickd-store".into(), move || {
                    crate::persist::run_store_thread(p, store_rxs, stats2, recovered_bars)
                })?)
            }
            None => None,
        };

        // Ingest threads and injectors.
        let stop_ingest = Arc::new(AtomicBool::new(false));
        let mut txs = txs.into_iter();
        let mut ingest = Vec::new();
        let mut endpoints = Endpoints::default();
        if n_ingest > 0 {
            let dispatchers: Vec<Dispatcher> = (0..n_ingest)
                .map_while(|i| {
                    let tx = txs.next()?;
                    Some(dispatcher(tx, format!("ingest-{i}")))
                })
                .collect();
            let (receivers, eps) = crate::sources::bind(&cfg, validator, &symbols, dispatchers)?;
            endpoints = eps;
            for (i, r) in receivers.into_iter().enumerate() {
                let stop = stop_ingest.clone();
                let core = cfg.ingest.cores.get(i).copied();
                let net = stats.register(&format!("ingest-{i}-net"));
                let gaps = gap_events.clone();
                ingest.push(spawn(format!("tickd-ingest-{i}"), move || {
                    crate::pin::pin_current(&format!("ingest-{i}"), core);
                    crate::sources::run_receiver(r, net, &stop, &gaps);
                })?);
            }
        }
        let injectors = txs
            .enumerate()
            .map(|(i, tx)| dispatcher(tx, format!("injector-{i}")))
            .collect();

        let stop_cold = Arc::new(AtomicBool::new(false));
        let metrics = match cfg.metrics_listen {
            Some(addr) => Some(MetricsServer::start(addr, stats.clone(), started).map_err(
                |source| EngineError::Listen {
                    what: "metrics",
                    addr,
                    source,
                },
            )?),
            None => None,
        };
        let endpoints = Endpoints {
            metrics: metrics.as_ref().map(|m| m.addr()),
            ..endpoints
        };
        let reporter = match cfg.report.interval {
            Some(every) => {
                let (stats, stop, rc) = (stats.clone(), stop_cold.clone(), cfg.report.clone());
                Some(spawn("tickd-report".into(), move || {
                    let mut prev = stats.snapshot();
                    let mut at = Instant::now();
                    while !stop.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(50));
                        if at.elapsed() >= every {
                            let cur = stats.snapshot();
                            Report::between(&prev, &cur, at.elapsed(), &rc).log();
                            (prev, at) = (cur, Instant::now());
                        }
                    }
                })?)
            }
            None => None,
        };

        Ok(Engine {
            cfg,
            stats,
            symbols,
            stop_ingest,
            stop_cold,
            ingest,
            workers,
            inline,
            store,
            reporter,
            metrics,
            injectors,
            endpoints,
            started,
        })
    }

    /// The in-process producers asked for in [`EngineOptions::injectors`]
    /// (once; later calls return none). Drop them before [`Engine::shutdown`]
    /// completes: a worker drains until all its producers are gone.
    pub fn take_injectors(&mut self) -> Vec<Dispatcher> {
        std::mem::take(&mut self.injectors)
    }

    /// The stats registry.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A snapshot of all stats.
    pub fn snapshot(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// The symbol table (shared with the receivers).
    pub fn symbols(&self) -> &Arc<SymbolTable> {
        &self.symbols
    }

    /// Bound addresses.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether a thread ended before a shutdown was asked for: an ingest or
    /// store thread never ends on its own, and a worker ends on its own only
    /// when every producer is gone. The daemon exits with an error on it.
    pub fn thread_died(&self) -> bool {
        if self.stop_ingest.load(Ordering::Acquire) {
            return false;
        }
        let producers_alive = !self.ingest.is_empty() || !self.injectors.is_empty();
        // Whoever feeds the store: the workers, or (inline) the producers.
        let feeders_alive = if self.inline {
            producers_alive
        } else {
            !self.workers.iter().all(|h| h.is_finished())
        };
        self.ingest.iter().any(|h| h.is_finished())
            || (producers_alive && self.workers.iter().any(|h| h.is_finished()))
            || (feeders_alive && self.store.as_ref().is_some_and(|h| h.is_finished()))
    }

    /// Stop accepting, drain, flush and close, within `timeout`.
    pub fn shutdown(mut self, timeout: Duration) -> Result<ShutdownSummary, EngineError> {
        let deadline = Instant::now() + timeout;
        // Release: pairs with the Acquire loads in the sources.
        self.stop_ingest.store(true, Ordering::Release);
        self.injectors.clear();
        for h in &self.ingest {
            if !finished_by(h, deadline) {
                return Err(EngineError::ShutdownTimeout(timeout));
            }
        }
        for h in self.ingest.drain(..) {
            let _ = h.join();
        }
        let mut summary = ShutdownSummary::default();
        for h in &self.workers {
            if !finished_by(h, deadline) {
                return Err(EngineError::ShutdownTimeout(timeout));
            }
        }
        for h in self.workers.drain(..) {
            if let Ok(s) = h.join() {
                summary.processed += s.processed;
                summary.bars += s.bars;
            }
        }
        if let Some(h) = self.store.take() {
            if !finished_by(&h, deadline) {
                return Err(EngineError::ShutdownTimeout(timeout));
            }
            let _ = h.join();
        }
        if self.inline {
            // The producers did the processing; they published their counts
            // when they were dropped.
            let s = self.stats.snapshot();
            summary.processed = s.counter(crate::stats::Counter::Processed);
            summary.bars = s.counter(crate::stats::Counter::BarsEmitted);
        }
        self.stop_cold.store(true, Ordering::Release);
        if let Some(h) = self.reporter.take() {
            let _ = h.join();
        }
        if let Err(e) = self.symbols.save(&symbols_path(&self.cfg)) {
            tracing::error!(error = %e, "cannot save the symbol table");
        }
        self.metrics.take();
        summary.elapsed = self.started.elapsed();
        Ok(summary)
    }
}

fn finished_by<T>(h: &JoinHandle<T>, deadline: Instant) -> bool {
    while !h.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// What a clean shutdown reports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShutdownSummary {
    /// Ticks processed by the workers.
    pub processed: u64,
    /// Bars emitted.
    pub bars: u64,
    /// Uptime.
    pub elapsed: Duration,
}

/// `<data_dir>/symbols.bin`.
pub fn symbols_path(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("symbols.bin")
}

fn load_symbols(cfg: &Config) -> Result<SymbolTable, EngineError> {
    let path = symbols_path(cfg);
    if path.exists() {
        SymbolTable::load(&path, MAX_SYMBOLS).map_err(|e| EngineError::Symbols {
            path,
            message: e.to_string(),
        })
    } else {
        Ok(SymbolTable::new(MAX_SYMBOLS))
    }
}
