//! Everything that turns bytes from the outside world into [`mtf::Tick`]s.
//!
//! # Contract
//!
//! - Parsers are pure: bytes (and the caller's clock) in; ticks written into a
//!   caller-provided slice, or a typed error, out. They can be fuzzed and
//!   replayed, and never panic or allocate per tick on any input.
//! - Every path validates every tick ([`Validator`]: prices finite and > 0,
//!   sizes finite and ≥ 0, event time in a window, symbol 1-16 printable
//!   ASCII) and counts each refusal by reason; nothing is dropped silently.
//! - Counters are plain per-thread structs (`*Counts`, [`net::ReceiverStats`])
//!   that a cold thread merges; hot paths never lock, and log only through a
//!   rate limiter ([`ratelog::LogLimiter`]).
//! - The socket receivers ([`net::Receiver`]) are a thin mio shell around the
//!   parsers and hand ticks to a caller's [`sink::Sink`]; TCP pushes back when
//!   the sink is full (never drops), UDP drops and counts apart.
//!
//! # Modules
//!
//! - [`wire`]: tickd's binary wire format v1 (`docs/wire.md`): parser, decoder, encoder.
//! - [`seq`]: sequence tracking per (source, stream): gaps, duplicates, replays.
//! - [`ilp`]: InfluxDB line protocol as QuestDB's clients send it, per-table field mapping.
//! - [`net`]: the UDP/TCP receivers (`recvmmsg`, backpressure) and `sendmmsg` batches.
//! - [`sink`]: the trait receivers hand ticks to.
//! - [`import`]: streaming history importers (`docs/formats.md`).
//! - [`symbols`]: the symbol table, name → dense [`mtf::SymbolId`], stable and persistable.
//! - [`validate`]: the checks every path applies before a tick is accepted.
//!
//! # Example
//!
//! A replay tool encodes ticks into frames; an ingest thread decodes them:
//!
//! ```
//! use std::sync::Arc;
//! use ingest::seq::SeqTracker;
//! use ingest::wire::{FrameEncoder, FrameView, WireDecoder, WireMsg};
//! use ingest::{SymbolCache, SymbolTable, Validator};
//! use mtf::{Side, Tick};
//!
//! let now = 1_700_000_000_000_000_000;
//! let mut enc = FrameEncoder::new(1, 1, ingest::wire::DEFAULT_MAX_DATAGRAM).unwrap();
//! let t = Tick::trade(0, now - 1_000, 412.5, 100.0, Side::Sell, 7);
//! enc.push(&WireMsg::from_tick(&t, "SPY".parse().unwrap())).unwrap();
//! let datagram = enc.finish(now).to_vec();
//!
//! let table = Arc::new(SymbolTable::new(1 << 16));
//! let mut dec = WireDecoder::new(SymbolCache::new(table.clone()), Validator::live(5_000_000_000));
//! let mut seq = SeqTracker::new(1024);
//! let mut out = [Tick::default(); 64];
//! let view = FrameView::parse(&datagram).unwrap();
//! let skip = seq.check(0, &view.header, now); // 0 the first time; all of them on a replay
//! let got = dec.decode_from(&view, skip, now, &mut out).unwrap();
//! assert_eq!(got.ticks, 1);
//! assert_eq!(table.name(out[0].symbol).unwrap().as_str(), "SPY");
//! ```

pub mod ilp;
pub mod import;
pub mod net;
pub mod ratelog;
pub mod seq;
pub mod sink;
pub mod symbols;
mod symfront;
pub mod validate;
pub mod wire;

pub use symbols::{SymbolCache, SymbolError, SymbolName, SymbolTable};
pub use symfront::SymbolFront;
pub use validate::{Reject, RejectCounts, Validator};
