//! Shared-memory broadcast of tickd's bars, ticks and events to subscriber
//! processes on the same machine: no socket, no copy through the kernel.
//!
//! # Contract
//!
//! - **Ring**: one [`RingWriter`] per file, any number of [`RingReader`]s in any
//!   processes. A record is one to three 64-byte lines (a tick or an event
//!   one, a bar two), each line guarded by its own line word (a seqlock), so
//!   a reader never returns a torn record. The writer never waits;
//!   a reader that falls more than the capacity behind gets
//!   [`Received::Lapped`] with the exact number of records it lost, then
//!   continues at the newest record. Every sequence number is either delivered
//!   once or counted lost once.
//! - **Snapshot**: [`SnapshotWriter`] keeps the latest bar of every (symbol,
//!   timeframe) and the symbol directory; [`SnapshotReader::get`] reads any of
//!   them at once, seqlock-protected.
//! - **Access**: files are created mode 0640 with a configurable [`Group`],
//!   under a temporary name renamed into place when complete. Readers map them
//!   read-only (`PROT_READ`): they cannot write into the writer's memory.
//! - **Liveness**: the header carries the writer's pid, heartbeat and shutdown
//!   flag; readers refuse a dead writer at open (unless asked not to) and
//!   [`RingReader::next_wait`] reports its death.
//! - Bad input is a typed error ([`Error`], [`EncodeError`], [`SnapshotError`],
//!   [`WaitError`]), never a panic; nothing allocates in proportion to a value
//!   read from a file beyond the validated file size.
//!
//! Most callers use the pairs: [`Publisher`] (the daemon: `bar`, `tick`,
//! `event`, `add_symbol`, `heartbeat`, `shutdown`) and [`Subscriber`]
//! (`subscribe` by names and timeframes, `next`, `next_wait`, `snapshot`).
//!
//! The byte layout and the read protocol, for subscribers in other languages,
//! are in `docs/ring.md`; `examples/subscriber.py` is one in Python.
//!
//! # Example
//!
//! ```
//! use ring::{Filter, ReaderOptions, Received, Record, RingConfig, RingReader, RingWriter, StartAt};
//! use mtf::{Side, Tick};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tickd.ring");
//! let mut w = RingWriter::create(&path, &RingConfig { capacity: 1024, group: None }).unwrap();
//! let opts = ReaderOptions { start: StartAt::Oldest, ..ReaderOptions::default() };
//! let mut r = RingReader::open(&path, &opts).unwrap().with_filter(Filter::all().symbols([7]));
//!
//! w.publish_tick(&Tick::trade(7, 1_700_000_000_000_000_000, 101.25, 3.0, Side::Buy, 42)).unwrap();
//! w.publish_tick(&Tick::trade(8, 1_700_000_000_000_000_001, 99.0, 1.0, Side::Sell, 43)).unwrap();
//! match r.next() {
//!     Some(Received::Record { seq: 0, record: Record::Tick(t) }) => assert_eq!(t.id, 42),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(r.next(), None); // symbol 8 filtered out
//! ```

#![cfg_attr(loom, allow(dead_code, unused_imports))]

#[cfg(not(target_endian = "little"))]
compile_error!(
    "the ring layout is little-endian and is only implemented for little-endian targets"
);

pub mod layout;
mod record;
mod seqlock;
mod sync;

#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod header;
#[cfg(not(loom))]
mod pubsub;
#[cfg(not(loom))]
mod ring;
#[cfg(not(loom))]
mod shm;
#[cfg(not(loom))]
mod snapshot;

pub use record::{BarKind, EncodeError, NO_SYMBOL, Record};

#[cfg(not(loom))]
pub use error::{DeadReason, Error, WriterStatus};
#[cfg(not(loom))]
pub use pubsub::{Publisher, Subscriber};
#[cfg(not(loom))]
pub use ring::{
    Filter, MAX_CAPACITY, MIN_CAPACITY, ReaderOptions, ReaderStats, Received, RingConfig,
    RingReader, RingWriter, StartAt, Wait, WaitError,
};
#[cfg(not(loom))]
pub use shm::{FILE_MODE, Group, monotonic_ns, unix_ns};
#[cfg(not(loom))]
pub use snapshot::{
    MAX_SNAPSHOT_BYTES, MAX_SYMBOLS, SnapshotConfig, SnapshotError, SnapshotReader, SnapshotWriter,
};

/// The publish/read protocol on loom's atomics, for `tests/loom.rs` only.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api {
    pub use crate::seqlock::{
        LineRead, Pos, Step, line_word, newest, ring_next, ring_publish_at, ring_read, slot_store,
        slot_try_load, writing_word,
    };
}
