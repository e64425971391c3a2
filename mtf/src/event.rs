//! [`BarEvent`]: what the aggregator emits, and [`BarSink`]: where it goes.

use crate::Bar;

/// What a [`BarEvent`] says about its bar.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarEventKind {
    /// The bar is final (revision 0). Filled bars for empty buckets are
    /// `Closed` too, with [`Bar::FLAG_FILLED`].
    Closed = 1,
    /// A late tick changed a bar already emitted as `Closed`; `bar.revision`
    /// is one more than the previous emission of the same bar.
    Corrected = 2,
    /// An update of a bar that is not closed yet (carries [`Bar::FLAG_OPEN`]).
    Open = 3,
}

/// One bar emitted by the aggregator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarEvent {
    /// Closed, corrected or open update.
    pub kind: BarEventKind,
    /// The bar, with `vwap` computed.
    pub bar: Bar,
}

/// A caller-provided destination for [`BarEvent`]s.
///
/// The aggregator never allocates; a sink may. `Vec<BarEvent>` is a sink: give
/// it capacity up front (see [`crate::Aggregator::max_events_per_update`]) and
/// `clear` it after publishing, and it never reallocates on the hot path.
pub trait BarSink {
    /// Takes one event.
    fn push_event(&mut self, ev: BarEvent);
}

impl BarSink for Vec<BarEvent> {
    #[inline]
    fn push_event(&mut self, ev: BarEvent) {
        self.push(ev);
    }
}

/// A sink that only counts what it gets (benchmarks, dry runs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountingSink {
    /// `Closed` events.
    pub closed: u64,
    /// `Corrected` events.
    pub corrected: u64,
    /// `Open` events.
    pub open: u64,
}

impl BarSink for CountingSink {
    #[inline]
    fn push_event(&mut self, ev: BarEvent) {
        match ev.kind {
            BarEventKind::Closed => self.closed += 1,
            BarEventKind::Corrected => self.corrected += 1,
            BarEventKind::Open => self.open += 1,
        }
    }
}
