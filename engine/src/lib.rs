//! The tickd daemon and the tickctl tool, as a library.
#![doc = "WIP"]

pub mod clock;
pub mod config;
pub mod dispatch;
pub mod lifecycle;
pub mod metrics;
pub mod pin;
pub mod queue;
pub mod stats;
pub mod units;
