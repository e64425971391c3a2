//! The atomics the publish/read protocol uses: `core`'s normally, loom's under
//! `--cfg loom` so that `tests/loom.rs` can model-check the protocol
//! (the crossbeam-utils pattern).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering, fence};
