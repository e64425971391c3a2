//! The engine's side of the segment store (`store` crate): the [`Persist`]
//! backend driven by the store thread, the symbol-table reconciliation and
//! the restart recovery of the aggregators.
//!
//! Layout: the store lives in `<data_dir>/store`; the engine's symbol table
//! (ingest's, name → dense id) in `<data_dir>/symbols.bin`. The store keeps
//! its own copy of every name it holds data for (`store/symbols.tbl`); the
//! store thread records new names there (and saves `symbols.bin`) before it
//! appends the first tick of a new id, so after any crash `symbols.bin` ⊇ the
//! ids in the store, or it can be rebuilt from the store's table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ingest::{SymbolName, SymbolTable};
use mtf::{Aggregator, BarEvent, BarEventKind, SymbolId, Tick, Timeframe};
use store::{FsyncPolicy, HotCompression, StoreConfig, StoreReader, StoreWriter, WriterStats};

use crate::config::{Config, Fsync};
use crate::pipeline::{EngineError, Persist};

/// `<data_dir>/store`.
pub fn store_dir(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("store")
}

/// The store writer settings of the engine config.
pub fn store_config(cfg: &Config) -> StoreConfig {
    StoreConfig {
        flush_interval: cfg.store.flush_interval,
        fsync: match cfg.store.fsync {
            Fsync::Never => FsyncPolicy::Never,
            Fsync::Always => FsyncPolicy::Always,
            Fsync::Interval(d) => FsyncPolicy::Interval(d),
        },
        segment_bytes: cfg.store.segment_bytes,
        hot_compression: if cfg.store.hot_lz4 {
            HotCompression::Lz4
        } else {
            HotCompression::None
        },
        ..StoreConfig::default()
    }
}

/// Open the segment store for writing (writer 0), with its recovery.
pub fn open_store(
    cfg: &Config,
    symbols: Arc<SymbolTable>,
) -> Result<Box<dyn Persist>, EngineError> {
    let dir = store_dir(cfg);
    let w = StoreWriter::open(&dir, 0, store_config(cfg))
        .map_err(|e| EngineError::Store(format!("{}: {e}", dir.display())))?;
    let stats = w.stats().clone();
    Ok(Box::new(StorePersist {
        w,
        stats,
        symbols,
        defined: 0,
        symbols_path: crate::pipeline::symbols_path(cfg),
        last_symbols_check: Instant::now(),
    }))
}

struct StorePersist {
    w: StoreWriter,
    stats: Arc<WriterStats>,
    symbols: Arc<SymbolTable>,
    /// Ids `0 .. defined` are recorded in the store's table and `symbols.bin`.
    defined: usize,
    symbols_path: PathBuf,
    last_symbols_check: Instant,
}

impl StorePersist {
    /// Record every name interned since the last call (cold: once per new symbol).
    fn define_new_symbols(&mut self) -> Result<(), String> {
        let n = self.symbols.len();
        if n <= self.defined {
            return Ok(());
        }
        self.symbols
            .save(&self.symbols_path)
            .map_err(|e| format!("saving {}: {e}", self.symbols_path.display()))?;
        for id in self.defined..n {
            let id = id as SymbolId;
            if let Some(name) = self.symbols.name(id) {
                self.w
                    .define_symbol(id, name.as_str())
                    .map_err(|e| format!("defining symbol {id}: {e}"))?;
            }
        }
        self.defined = n;
        Ok(())
    }

    fn bytes(&self) -> u64 {
        self.stats.bytes.load(Ordering::Relaxed)
    }
}

impl Persist for StorePersist {
    fn ticks(&mut self, ticks: &[Tick]) -> Result<u64, String> {
        if ticks.iter().any(|t| t.symbol as usize >= self.defined) {
            self.define_new_symbols()?;
        }
        let before = self.bytes();
        self.w
            .append_ticks(ticks)
            .map_err(|e| format!("append: {e}"))?;
        Ok(self.bytes().saturating_sub(before))
    }

    fn bars(&mut self, bars: &[BarEvent]) -> Result<u64, String> {
        let before = self.bytes();
        for e in bars {
            if e.kind != BarEventKind::Open {
                self.w
                    .append_bar(&e.bar)
                    .map_err(|e| format!("append bar: {e}"))?;
            }
        }
        Ok(self.bytes().saturating_sub(before))
    }

    fn poll(&mut self) -> Result<u64, String> {
        let before = self.bytes();
        let now = Instant::now();
        if now.duration_since(self.last_symbols_check) >= Duration::from_millis(100) {
            self.last_symbols_check = now;
            self.define_new_symbols()?;
        }
        self.w.poll(now).map_err(|e| format!("flush: {e}"))?;
        Ok(self.bytes().saturating_sub(before))
    }

    fn close(mut self: Box<Self>) -> Result<(), String> {
        let r = self.define_new_symbols();
        self.w.close().map_err(|e| format!("close: {e}"))?;
        r
    }
}

/// Make the engine's symbol table agree with the store's: every (id, name)
/// the store holds data for must have the same id in the table. Names the
/// table lacks are added in id order (ids are dense in both).
pub fn reconcile_symbols(cfg: &Config, table: &SymbolTable) -> Result<(), EngineError> {
    let dir = store_dir(cfg);
    if !dir.join(store::SYMBOLS_FILE).exists() {
        return Ok(());
    }
    let map = store::SymbolMap::load(&dir).map_err(|e| EngineError::Symbols {
        path: dir.join(store::SYMBOLS_FILE),
        message: e.to_string(),
    })?;
    let mut pairs: Vec<(SymbolId, String)> =
        map.iter().map(|(id, n)| (id, n.to_string())).collect();
    pairs.sort();
    for (id, name) in pairs {
        let bad = |why: String| EngineError::Symbols {
            path: dir.join(store::SYMBOLS_FILE),
            message: why,
        };
        match table.name(id) {
            Some(n) if n.as_str() == name => {}
            Some(n) => {
                return Err(bad(format!(
                    "id {id} is {name:?} in the store but {:?} in symbols.bin",
                    n.as_str()
                )));
            }
            None if table.len() == id as usize => {
                let sym: SymbolName = name
                    .parse()
                    .map_err(|e| bad(format!("stored name {name:?}: {e}")))?;
                let got = table.intern(sym).map_err(|e| bad(e.to_string()))?;
                if got != id {
                    return Err(bad(format!("{name:?} got id {got}, the store has {id}")));
                }
            }
            None => {
                return Err(bad(format!(
                    "the store names id {id} ({name:?}) but the symbol table has only {} ids",
                    table.len()
                )));
            }
        }
    }
    Ok(())
}

/// What restart recovery did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Symbols whose state was restored.
    pub symbols: u64,
    /// Last stored bars used as seeds.
    pub seeded_bars: u64,
    /// Stored ticks replayed into the aggregators (after the last stored bars).
    pub replayed_ticks: u64,
    /// Bars closed by that replay that the store did not have (stored now).
    pub recovered_bars: u64,
}

/// Restore the aggregators of one worker from the store: seed each (symbol,
/// timeframe) with its last stored bar, then replay the stored ticks after
/// the earliest of those bars' ends, so open bars are rebuilt and bars that
/// closed but were not stored before a crash are emitted again (into `out`).
/// A timeframe without any stored bar replays only its bucket holding the
/// last stored tick, so recovery never grows with the history stored.
pub fn recover(
    cfg: &Config,
    owns: impl Fn(SymbolId) -> bool,
    trades: &mut Aggregator,
    quotes: &mut Aggregator,
    out: &mut Vec<BarEvent>,
) -> Result<Recovery, EngineError> {
    let dir = store_dir(cfg);
    let mut r = Recovery::default();
    if !dir.exists() {
        return Ok(r);
    }
    let reader = StoreReader::open(&dir).map_err(|e| EngineError::Store(e.to_string()))?;
    let map = reader
        .symbols()
        .map_err(|e| EngineError::Store(e.to_string()))?;
    let suffix = crate::worker::QUOTE_SUFFIX;
    let ids: Vec<(SymbolId, Option<SymbolId>)> = map
        .iter()
        .filter(|(id, name)| owns(*id) && !name.ends_with(suffix))
        .map(|(id, name)| (id, map.id(&format!("{name}{suffix}"))))
        .collect();
    let tfs: Vec<Timeframe> = cfg.aggregation.timeframes.clone();
    let err = |e: store::StoreError| EngineError::Store(e.to_string());
    for (id, quote_id) in ids {
        let Some(last_tick) = reader.last_tick_time(id).map_err(err)? else {
            continue;
        };
        r.symbols += 1;
        // Replay from the earliest end of a stored bar (each timeframe
        // ignores ticks before its own seed). A timeframe with no stored bar
        // (newly configured, or never closed) is rebuilt from the start of
        // its bucket holding the last stored tick: its open bar comes back
        // whole, while start-up time and memory stay bounded by one bucket,
        // not by the history stored. Its older bars remain available from
        // the ticks through the store's rebuilding query.
        let mut from = i64::MAX;
        for &tf in &tfs {
            let trade_bar = reader.last_bar(id, tf).map_err(err)?;
            let quote_bar = match quote_id {
                Some(q) => reader.last_bar(q, tf).map_err(err)?,
                None => None,
            };
            if trade_bar.is_none() && quote_bar.is_none() {
                from = from.min(tf.bucket_start(last_tick, cfg.aggregation.origin_ns));
            }
            if let Some(b) = trade_bar {
                if trades.seed(&b).is_ok() {
                    r.seeded_bars += 1;
                }
                from = from.min(b.end);
            }
            if let Some(mut b) = quote_bar {
                // Stored under the companion id; the aggregator knows the tick's id.
                b.symbol = id;
                if quotes.seed(&b).is_ok() {
                    r.seeded_bars += 1;
                }
                from = from.min(b.end);
            }
        }
        if from == i64::MAX || from > last_tick {
            continue;
        }
        let mut it = reader.ticks(id, from, i64::MAX).map_err(err)?;
        while let Some(batch) = it.next_batch() {
            for t in batch.map_err(err)? {
                match t.kind {
                    mtf::TickKind::Trade => trades.update(t, out),
                    mtf::TickKind::Quote => {
                        let before = out.len();
                        quotes.update(t, out);
                        if let Some(q) = quote_id {
                            for e in &mut out[before..] {
                                e.bar.symbol = q;
                            }
                        }
                    }
                }
                r.replayed_ticks += 1;
            }
        }
    }
    out.retain(|e| e.kind != BarEventKind::Open);
    r.recovered_bars = out.len() as u64;
    Ok(r)
}

/// Whether a data directory holds a store.
pub fn has_store(data_dir: &Path) -> bool {
    data_dir.join("store").join(store::SYMBOLS_FILE).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtf::{Bar, Side};

    /// Three days of ticks with only 1m bars stored: a configured 1h
    /// timeframe without stored bars is rebuilt from its last bucket, not
    /// from the first stored tick.
    #[test]
    fn a_timeframe_without_stored_bars_replays_one_bucket_not_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.data_dir = dir.path().to_path_buf();
        cfg.aggregation.timeframes = vec![Timeframe::M1, Timeframe::H1];
        const DAY: i64 = 86_400_000_000_000;
        const MIN: i64 = 60_000_000_000;
        let t0 = 1_700_006_400_000_000_000 / DAY * DAY; // a UTC midnight
        let ticks: Vec<Tick> = (0..3 * 24 * 60)
            .map(|m| Tick::trade(0, t0 + m * MIN + 1, 100.0 + m as f64, 1.0, Side::Buy, 0))
            .collect();
        {
            let mut w = StoreWriter::open(&store_dir(&cfg), 0, store_config(&cfg)).unwrap();
            w.define_symbol(0, "AAA").unwrap();
            w.append_ticks(&ticks).unwrap();
            // Every 1m bar but the open one, as a running daemon stores them.
            for t in &ticks[..ticks.len() - 1] {
                let start = t.ts_event - 1;
                w.append_bar(&Bar {
                    symbol: 0,
                    timeframe: Timeframe::M1,
                    start,
                    end: start + MIN,
                    open: t.price,
                    high: t.price,
                    low: t.price,
                    close: t.price,
                    volume: 1.0,
                    vwap: t.price,
                    vwap_num: t.price,
                    buy_volume: 1.0,
                    sell_volume: 0.0,
                    count: 1,
                    first_ts: t.ts_event,
                    last_ts: t.ts_event,
                    revision: 0,
                    flags: 0,
                })
                .unwrap();
            }
            w.close().unwrap();
        }
        let mut trades = Aggregator::new(crate::pipeline::agg_config(&cfg, false)).unwrap();
        let mut quotes = Aggregator::new(crate::pipeline::agg_config(&cfg, true)).unwrap();
        let mut out = Vec::new();
        let r = recover(&cfg, |_| true, &mut trades, &mut quotes, &mut out).unwrap();
        assert_eq!(r.symbols, 1);
        // The last hour: 60 ticks (the 1m seed's end is later, inside it).
        assert_eq!(r.replayed_ticks, 60, "{r:?}");
        // The open 1h bar holds that whole hour.
        let mut sink = Vec::new();
        trades.flush(&mut sink);
        let h1 = sink
            .iter()
            .find(|e| e.bar.timeframe == Timeframe::H1)
            .expect("the open 1h bar");
        assert_eq!(h1.bar.count, 60);
        assert_eq!(h1.bar.start, t0 + 71 * 60 * MIN);
    }
}
