//! [`Publisher`] and [`Subscriber`]: a ring and its snapshot file, used together.

use crate::error::Error;
use crate::record::{BarKind, EncodeError, Record};
use crate::ring::{
    Filter, ReaderOptions, Received, RingConfig, RingReader, RingWriter, Wait, WaitError,
};
use crate::snapshot::{SnapshotConfig, SnapshotError, SnapshotReader, SnapshotWriter};
use mtf::{Bar, SymbolId, Tick, Timeframe};
use std::path::Path;

/// The daemon's side: one ring and one snapshot file.
pub struct Publisher {
    ring: RingWriter,
    snapshot: SnapshotWriter,
    snapshot_skipped: u64,
}

impl Publisher {
    /// Creates both files (each atomically replacing an older one).
    pub fn create(
        ring_path: impl AsRef<Path>,
        ring: &RingConfig,
        snapshot_path: impl AsRef<Path>,
        snapshot: &SnapshotConfig,
    ) -> Result<Publisher, Error> {
        let snapshot = SnapshotWriter::create(snapshot_path, snapshot)?;
        let ring = RingWriter::create(ring_path, ring)?;
        Ok(Publisher {
            ring,
            snapshot,
            snapshot_skipped: 0,
        })
    }

    /// Stores the bar in the snapshot, then publishes it: a subscriber that
    /// got the record finds at least this state in the snapshot. A bar whose
    /// symbol has no snapshot slot (id >= `max_symbols`) or whose timeframe
    /// the snapshot does not hold still goes to the ring; it is counted in
    /// [`Publisher::snapshot_skipped`].
    #[inline]
    pub fn bar(&mut self, kind: BarKind, bar: &Bar) -> Result<u64, EncodeError> {
        match self.snapshot.update(kind, bar) {
            Ok(()) => {}
            Err(SnapshotError::Encode(e)) => return Err(e),
            Err(_) => self.snapshot_skipped += 1,
        }
        self.ring.publish_bar(kind, bar)
    }

    /// Bars published to the ring only, because the snapshot has no slot
    /// for their symbol or timeframe.
    pub fn snapshot_skipped(&self) -> u64 {
        self.snapshot_skipped
    }

    /// Publishes a tick (ring only).
    #[inline]
    pub fn tick(&mut self, t: &Tick) -> Result<u64, EncodeError> {
        self.ring.publish_tick(t)
    }

    /// Publishes an engine event, e.g. [`Record::FeedGap`].
    pub fn event(&mut self, r: &Record) -> Result<u64, EncodeError> {
        self.ring.publish(r)
    }

    /// Adds (or renames) a symbol in the directory, then announces it.
    pub fn add_symbol(&mut self, symbol: SymbolId, name: &str) -> Result<u64, SnapshotError> {
        self.snapshot.set_symbol(symbol, name)?;
        Ok(self.ring.publish_symbol_added(symbol)?)
    }

    /// Heartbeat of both files, plus a heartbeat record.
    pub fn heartbeat(&mut self) -> u64 {
        self.snapshot.heartbeat();
        self.ring.heartbeat()
    }

    /// The ring writer.
    pub fn ring(&mut self) -> &mut RingWriter {
        &mut self.ring
    }

    /// The snapshot writer.
    pub fn snapshot(&mut self) -> &mut SnapshotWriter {
        &mut self.snapshot
    }

    /// Shutdown record, then both files marked shut down.
    pub fn shutdown(self) {
        let Publisher { ring, snapshot, .. } = self;
        ring.shutdown();
        snapshot.shutdown();
    }
}

/// A subscriber's side: a ring reader and a snapshot reader.
pub struct Subscriber {
    ring: RingReader,
    snapshot: SnapshotReader,
}

impl Subscriber {
    /// Opens both files read-only.
    pub fn open(
        ring_path: impl AsRef<Path>,
        snapshot_path: impl AsRef<Path>,
        opts: &ReaderOptions,
    ) -> Result<Subscriber, Error> {
        Ok(Subscriber {
            snapshot: SnapshotReader::open(snapshot_path, opts)?,
            ring: RingReader::open(ring_path, opts)?,
        })
    }

    /// Delivers only bars and ticks of these symbol names (and of these
    /// timeframes, when given). Returns the names the directory does not
    /// hold (yet); they are left out of the filter.
    pub fn subscribe(
        &mut self,
        names: &[&str],
        timeframes: Option<&[Timeframe]>,
    ) -> Result<Vec<String>, SnapshotError> {
        let mut ids = Vec::with_capacity(names.len());
        let mut unknown = Vec::new();
        for &n in names {
            match self.snapshot.symbol_id(n)? {
                Some(id) => ids.push(id),
                None => unknown.push(n.to_owned()),
            }
        }
        let mut f = Filter::all().symbols(ids);
        if let Some(t) = timeframes {
            f = f.timeframes(t.iter().copied());
        }
        self.ring.set_filter(f);
        Ok(unknown)
    }

    /// Non-blocking: the next record or lap notice, `None` when none.
    #[inline]
    // Not an Iterator: `None` means "nothing yet", not "finished".
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Received> {
        self.ring.next()
    }

    /// Waiting: spin, yield, then park (see [`Wait`]).
    pub fn next_wait(&mut self, wait: &Wait) -> Result<Received, WaitError> {
        self.ring.next_wait(wait)
    }

    /// The latest bar of a symbol (by name) and timeframe.
    pub fn snapshot(
        &mut self,
        symbol: &str,
        tf: Timeframe,
    ) -> Result<Option<(BarKind, Bar)>, SnapshotError> {
        match self.snapshot.symbol_id(symbol)? {
            Some(id) => self.snapshot.get(id, tf),
            None => Ok(None),
        }
    }

    /// The ring reader.
    pub fn ring(&mut self) -> &mut RingReader {
        &mut self.ring
    }

    /// The snapshot reader.
    pub fn snapshot_reader(&mut self) -> &mut SnapshotReader {
        &mut self.snapshot
    }
}
