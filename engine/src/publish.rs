//! Publishing to subscribers: one `ring::Publisher` (ring + snapshot table)
//! per worker, since a ring has a single writer.
//!
//! Worker 0 writes the configured `ring.path` and `ring.snapshot_path`;
//! worker `w > 0` writes the same paths with `.w` appended. The daemon's state
//! file lists them all; `tickctl subscribe` reads every one.

use std::path::{Path, PathBuf};

use ingest::seq::GapEvent;
use mtf::{BarEvent, BarEventKind, SymbolId, Tick};
use ring::{BarKind, Group, Publisher, Record, RingConfig, SnapshotConfig};

use crate::config::Config;
use crate::pipeline::EngineError;
use crate::worker::Publish;

/// The ring and snapshot paths of worker `w`.
pub fn paths_of(cfg: &Config, w: usize) -> (PathBuf, PathBuf) {
    let suffix = |p: &Path| {
        if w == 0 {
            p.to_path_buf()
        } else {
            let mut s = p.as_os_str().to_owned();
            s.push(format!(".{w}"));
            PathBuf::from(s)
        }
    };
    (suffix(&cfg.ring.path), suffix(&cfg.ring.snapshot_path))
}

/// Open worker `w`'s publisher (of `workers`).
pub fn open(
    cfg: &Config,
    w: usize,
    _workers: usize,
) -> Result<Option<Box<dyn Publish>>, EngineError> {
    let (ring_path, snap_path) = paths_of(cfg, w);
    for p in [&ring_path, &snap_path] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| EngineError::Ring(format!("{}: {e}", dir.display())))?;
        }
    }
    let group = cfg.ring.group.clone().map(Group::Name);
    let publisher = Publisher::create(
        &ring_path,
        &RingConfig {
            capacity: cfg.ring.capacity as u64,
            group: group.clone(),
        },
        &snap_path,
        &SnapshotConfig {
            max_symbols: cfg.ring.max_symbols,
            timeframes: cfg.aggregation.timeframes.clone(),
            group,
        },
    )
    .map_err(|e| EngineError::Ring(format!("{}: {e}", ring_path.display())))?;
    Ok(Some(Box::new(RingPublish {
        p: publisher,
        errors: 0,
    })))
}

struct RingPublish {
    p: Publisher,
    /// Records refused by the ring (symbol beyond the snapshot, bad name):
    /// counted, reported by the worker's stats as not published.
    errors: u64,
}

fn kind_of(k: BarEventKind) -> BarKind {
    match k {
        BarEventKind::Closed => BarKind::Closed,
        BarEventKind::Corrected => BarKind::Corrected,
        BarEventKind::Open => BarKind::Update,
    }
}

impl Publish for RingPublish {
    fn symbol(&mut self, id: SymbolId, name: &str) {
        if self.p.add_symbol(id, name).is_err() {
            self.errors += 1;
        }
    }

    #[inline]
    fn bars(&mut self, events: &[BarEvent]) -> u64 {
        let mut n = 0;
        for e in events {
            // A bar without a snapshot slot still goes to the ring (counted
            // by the publisher); only an unencodable bar is refused.
            match self.p.bar(kind_of(e.kind), &e.bar) {
                Ok(_) => n += 1,
                Err(_) => self.errors += 1,
            }
        }
        n
    }

    #[inline]
    fn ticks(&mut self, ticks: &[Tick]) -> u64 {
        let mut n = 0;
        for t in ticks {
            match self.p.tick(t) {
                Ok(_) => n += 1,
                Err(_) => self.errors += 1,
            }
        }
        n
    }

    fn heartbeat(&mut self) {
        self.p.heartbeat();
    }

    fn gap(&mut self, g: &GapEvent) {
        let r = Record::FeedGap {
            ts: crate::clock::now_ns(),
            feed: g.stream,
            symbol: None,
            expected: g.first_missing,
            received: g.last_missing.saturating_add(1),
        };
        if self.p.event(&r).is_err() {
            self.errors += 1;
        }
    }

    fn shutdown(self: Box<Self>) {
        self.p.shutdown();
    }
}
