//! The store's own copy of symbol names: `symbols.tbl` in the store directory.
//!
//! Ids are assigned by the feed's symbol table (`ingest`), or by
//! [`crate::import`] for names it has not seen; this file records every
//! (id, name) pair the store holds data for, so a fresh process can turn
//! `--symbol SPY` into an id without a daemon. A pair, once written, never
//! changes: redefining an id under another name is [`StoreError::SymbolConflict`].
//!
//! Records are appended with one `write` each (O_APPEND) and never rewritten:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | id, u32 LE |
//! | 4 | 16 | name, zero-padded |
//! | 20 | 4 | crc32c of bytes 0..20 |
//!
//! A torn last record fails its crc and is ignored (and overwritten by nothing:
//! the next append follows it, and readers skip records whose crc fails).

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use mtf::SymbolId;

use crate::error::{Result, StoreError};
use crate::format::rd_u32;

/// File name of the table inside the store directory.
pub const SYMBOLS_FILE: &str = "symbols.tbl";
const REC: usize = 24;

/// Ids of at most this value are accepted (the table is dense; a writer keeps
/// a 24-byte route per id, so at most 24 MiB).
pub const MAX_SYMBOL_ID: u32 = (1 << 20) - 1;

/// id ↔ name, as stored.
#[derive(Clone, Debug, Default)]
pub struct SymbolMap {
    by_id: HashMap<SymbolId, String>,
    by_name: HashMap<String, SymbolId>,
}

impl SymbolMap {
    /// Loads `dir/symbols.tbl` (empty when absent). Records failing their crc are skipped.
    pub fn load(dir: &Path) -> Result<SymbolMap> {
        let path = dir.join(SYMBOLS_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let mut m = SymbolMap::default();
        for r in bytes.chunks_exact(REC) {
            if crc32c::crc32c(&r[..20]) != rd_u32(r, 20) {
                continue;
            }
            let id = rd_u32(r, 0);
            let name = &r[4..20];
            let len = name.iter().position(|&b| b == 0).unwrap_or(16);
            let Ok(name) = std::str::from_utf8(&name[..len]) else {
                continue;
            };
            if valid_name(name) && !m.by_id.contains_key(&id) && !m.by_name.contains_key(name) {
                m.by_id.insert(id, name.to_owned());
                m.by_name.insert(name.to_owned(), id);
            }
        }
        Ok(m)
    }

    /// The id of `name`.
    pub fn id(&self, name: &str) -> Option<SymbolId> {
        self.by_name.get(name).copied()
    }

    /// The name of `id`.
    pub fn name(&self, id: SymbolId) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// All (id, name) pairs, by id.
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, &str)> {
        let mut v: Vec<_> = self.by_id.iter().map(|(&i, n)| (i, n.as_str())).collect();
        v.sort_unstable();
        v.into_iter()
    }

    /// The smallest id not in use above every id in use.
    pub fn next_id(&self) -> SymbolId {
        self.by_id.keys().max().map_or(0, |m| m + 1)
    }

    /// Records (id, name) in memory and in `dir`, unless already there.
    ///
    /// Takes an exclusive `flock` on the file and re-reads it first, so writers
    /// in other threads or processes (an import beside a daemon) never record
    /// two names for one id.
    pub(crate) fn define(&mut self, dir: &Path, id: SymbolId, name: &str) -> Result<bool> {
        if !valid_name(name) {
            return Err(StoreError::BadSymbol(name.to_owned()));
        }
        if id > MAX_SYMBOL_ID {
            return Err(StoreError::SymbolIdTooLarge(id));
        }
        if self.by_id.get(&id).is_some_and(|n| n == name) {
            return Ok(false);
        }
        let path: PathBuf = dir.join(SYMBOLS_FILE);
        let io = |e| StoreError::io(&path, e);
        let f = OpenOptions::new()
            .append(true)
            .read(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let _lock = crate::lock::Flock::exclusive(&f).map_err(io)?;
        *self = SymbolMap::load(dir)?;
        match (self.by_id.get(&id), self.by_name.get(name)) {
            (Some(n), _) if n == name => return Ok(false),
            (Some(n), _) => {
                return Err(StoreError::SymbolConflict {
                    id,
                    existing: n.clone(),
                    name: name.to_owned(),
                });
            }
            (None, Some(&other)) => {
                return Err(StoreError::SymbolConflict {
                    id: other,
                    existing: name.to_owned(),
                    name: format!("{name} (as id {id})"),
                });
            }
            (None, None) => {}
        }
        let mut r = [0u8; REC];
        r[..4].copy_from_slice(&id.to_le_bytes());
        r[4..4 + name.len()].copy_from_slice(name.as_bytes());
        let crc = crc32c::crc32c(&r[..20]);
        r[20..].copy_from_slice(&crc.to_le_bytes());
        // Keep records aligned even after a torn append: pad to a whole record.
        let len = f.metadata().map_err(io)?.len() as usize;
        if !len.is_multiple_of(REC) {
            (&f).write_all(&vec![0u8; REC - len % REC]).map_err(io)?;
        }
        (&f).write_all(&r).map_err(io)?;
        f.sync_data().map_err(io)?;
        self.by_id.insert(id, name.to_owned());
        self.by_name.insert(name.to_owned(), id);
        Ok(true)
    }

    /// The id of `name`, defining it with the next free id when new.
    pub(crate) fn resolve(&mut self, dir: &Path, name: &str) -> Result<SymbolId> {
        if let Some(id) = self.id(name) {
            return Ok(id);
        }
        *self = SymbolMap::load(dir)?;
        loop {
            if let Some(id) = self.id(name) {
                return Ok(id);
            }
            let id = self.next_id();
            match self.define(dir, id, name) {
                Ok(_) => return Ok(id),
                // another process took `id` meanwhile: `define` reloaded, retry
                Err(StoreError::SymbolConflict { .. }) if self.name(id).is_some() => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// 1 to 16 printable ASCII bytes.
pub fn valid_name(name: &str) -> bool {
    (1..=16).contains(&name.len()) && name.bytes().all(|b| (0x20..=0x7e).contains(&b))
}
