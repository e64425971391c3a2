//! The tickd daemon and the tickctl tool, as a library.
#![doc = "WIP"]

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
