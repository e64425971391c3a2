//! What an import did: rows, ticks, and every row that gave no tick, counted by reason.

use crate::validate::{Reject, RejectCounts};

/// Why a row did not parse. Counted per reason; `as_str` is its metric label.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowError {
    /// Fewer fields than the format needs.
    Fields = 0,
    /// The time field is malformed or out of range.
    Time,
    /// A price (or bid/ask) field is malformed.
    Price,
    /// A size field is malformed.
    Size,
    /// The side field is not a known side.
    Side,
    /// The id field is malformed.
    Id,
    /// A JSON message that does not parse, or lacks a needed field.
    Json,
    /// A line longer than the configured cap (skipped unread).
    TooLong,
    /// A quote row without the sides the format needs (neither side for LEAN's
    /// one-sided quotes; an empty book side for Tardis).
    EmptyQuote,
    /// A datetime that does not match the configured format.
    Format,
}

impl RowError {
    /// How many reasons there are.
    pub const COUNT: usize = 10;
    /// Every reason, in code order.
    pub const ALL: [RowError; RowError::COUNT] = [
        RowError::Fields,
        RowError::Time,
        RowError::Price,
        RowError::Size,
        RowError::Side,
        RowError::Id,
        RowError::Json,
        RowError::TooLong,
        RowError::EmptyQuote,
        RowError::Format,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            RowError::Fields => "fields",
            RowError::Time => "time",
            RowError::Price => "price",
            RowError::Size => "size",
            RowError::Side => "side",
            RowError::Id => "id",
            RowError::Json => "json",
            RowError::TooLong => "too_long",
            RowError::EmptyQuote => "empty_quote",
            RowError::Format => "datetime_format",
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a well-formed line gave no tick (by design, not an error).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Skip {
    /// A header line.
    Header = 0,
    /// An empty line.
    Empty,
    /// An order-book depth message (Binance `depthUpdate`).
    Depth,
    /// A message of another kind (unknown event type, subscription reply, …).
    OtherEvent,
    /// A one-sided quote before both the bid and the ask were known.
    OneSidedWarmup,
}

impl Skip {
    /// How many reasons there are.
    pub const COUNT: usize = 5;
    /// Every reason, in code order.
    pub const ALL: [Skip; Skip::COUNT] = [
        Skip::Header,
        Skip::Empty,
        Skip::Depth,
        Skip::OtherEvent,
        Skip::OneSidedWarmup,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Skip::Header => "header",
            Skip::Empty => "empty",
            Skip::Depth => "depth",
            Skip::OtherEvent => "other_event",
            Skip::OneSidedWarmup => "one_sided_warmup",
        }
    }
}

/// A row error with where it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorAt {
    /// Index of the member (0 unless zip).
    pub member: u32,
    /// 1-based line number in the member.
    pub line: u64,
    /// What was wrong.
    pub error: RowError,
}

/// How many errors [`ImportCounts::first_errors`] keeps.
pub const KEPT_ERRORS: usize = 8;

/// Counters of one import (plain integers: one per thread, merge with [`ImportCounts::merge`]).
///
/// Invariant: `rows = ticks + Σ skipped (except header and empty) + Σ errors + rejects.total()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Lines read, every kind.
    pub lines: u64,
    /// Data rows: lines that are not headers or empty (what a data README counts).
    pub rows: u64,
    /// Ticks handed out.
    pub ticks: u64,
    /// Members (streams) opened.
    pub members: u64,
    /// Bytes read after decompression.
    pub bytes: u64,
    skipped: [u64; Skip::COUNT],
    errors: [u64; RowError::COUNT],
    /// Ticks refused by the [`crate::Validator`] (and symbols refused by the table).
    pub rejects: RejectCounts,
    first: [Option<ErrorAt>; KEPT_ERRORS],
}

impl ImportCounts {
    /// Rows skipped for `s`.
    #[inline]
    pub fn skipped(&self, s: Skip) -> u64 {
        self.skipped[s as usize]
    }

    /// Rows that failed to parse for `e`.
    #[inline]
    pub fn errors(&self, e: RowError) -> u64 {
        self.errors[e as usize]
    }

    /// Every row error.
    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Ticks refused by the validator, for `r`.
    pub fn rejected(&self, r: Reject) -> u64 {
        self.rejects.get(r)
    }

    /// The first few row errors, with line numbers.
    pub fn first_errors(&self) -> impl Iterator<Item = ErrorAt> + '_ {
        self.first.iter().flatten().copied()
    }

    #[inline]
    pub(crate) fn skip(&mut self, s: Skip) {
        self.skipped[s as usize] += 1;
    }

    /// Counts `e`; returns whether it is worth a log line (rate limit: the first
    /// 16, then at every power of two).
    #[inline]
    pub(crate) fn error(&mut self, at: ErrorAt) -> bool {
        let total = self.total_errors();
        if (total as usize) < KEPT_ERRORS {
            self.first[total as usize] = Some(at);
        }
        self.errors[at.error as usize] += 1;
        let n = total + 1;
        n <= 16 || n.is_power_of_two()
    }

    /// Adds `other` into `self` (its kept errors fill the free slots).
    pub fn merge(&mut self, other: &ImportCounts) {
        self.lines += other.lines;
        self.rows += other.rows;
        self.ticks += other.ticks;
        self.members += other.members;
        self.bytes += other.bytes;
        for (a, b) in self.skipped.iter_mut().zip(other.skipped) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.rejects.merge(&other.rejects);
        let mut free = self.first.iter_mut().filter(|s| s.is_none());
        for e in other.first.iter().flatten() {
            match free.next() {
                Some(slot) => *slot = Some(*e),
                None => break,
            }
        }
    }

    /// Whether the row invariant holds (see the type docs).
    pub fn balanced(&self) -> bool {
        let skipped: u64 = Skip::ALL
            .iter()
            .filter(|s| !matches!(s, Skip::Header | Skip::Empty))
            .map(|&s| self.skipped(s))
            .sum();
        self.rows == self.ticks + skipped + self.total_errors() + self.rejects.total()
    }
}

impl std::fmt::Display for ImportCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows, {} ticks, {} members",
            self.rows, self.ticks, self.members
        )?;
        for s in Skip::ALL {
            if self.skipped(s) > 0 {
                write!(f, ", skipped {}={}", s.as_str(), self.skipped(s))?;
            }
        }
        for e in RowError::ALL {
            if self.errors(e) > 0 {
                write!(f, ", error {}={}", e.as_str(), self.errors(e))?;
            }
        }
        for (r, n) in self.rejects.iter() {
            if n > 0 {
                write!(f, ", rejected {}={}", r.as_str(), n)?;
            }
        }
        Ok(())
    }
}
