//! The symbol table: symbol name → dense [`SymbolId`], stable for the life of
//! a data directory and persistable.
//!
//! Ids are handed out in order of first sight (0, 1, 2, …) and never change or
//! get reused, so they can be stored in segments and in the shared-memory ring.
//! The table is bounded (`max_symbols`): a feed that sends endless new names
//! gets [`SymbolError::TableFull`], not unbounded memory.
//!
//! Hot paths resolve names through a per-thread [`SymbolCache`]; only the first
//! sight of a name in a thread takes the table's lock.
//!
//! # Persisted form ([`SymbolTable::encode`])
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `TKSYMTB1` |
//! | 8 | 4 | count `n`, u32 LE |
//! | 12 | 4 | reserved, 0 |
//! | 16 | 16·n | names in id order, each zero-padded to 16 bytes |
//! | 16+16n | 4 | crc32c of bytes `0 .. 16+16n`, u32 LE |

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use mtf::SymbolId;
use parking_lot::RwLock;
use rustc_hash::FxBuildHasher;

/// The longest symbol name, in bytes.
pub const MAX_SYMBOL_LEN: usize = 16;
const MAGIC: &[u8; 8] = b"TKSYMTB1";
const HEADER_LEN: usize = 16;

/// A symbol name: 1 to 16 printable ASCII bytes (0x20..=0x7E), stored
/// zero-padded in 16 bytes (the wire format's symbol field).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SymbolName([u8; MAX_SYMBOL_LEN]);

impl SymbolName {
    /// Validates `name`: 1 to 16 bytes, each printable ASCII.
    pub fn new(name: &[u8]) -> Result<SymbolName, SymbolError> {
        if name.is_empty() {
            return Err(SymbolError::Empty);
        }
        if name.len() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(name.len()));
        }
        if let Some(&b) = name.iter().find(|&&b| !(0x20..=0x7E).contains(&b)) {
            return Err(SymbolError::BadByte(b));
        }
        let mut bytes = [0u8; MAX_SYMBOL_LEN];
        bytes[..name.len()].copy_from_slice(name);
        Ok(SymbolName(bytes))
    }

    /// Validates a zero-padded 16-byte field: the name runs up to the first zero
    /// byte, and every byte after it must be zero too.
    pub fn from_padded(field: &[u8; MAX_SYMBOL_LEN]) -> Result<SymbolName, SymbolError> {
        let len = memchr::memchr(0, field).unwrap_or(MAX_SYMBOL_LEN);
        if field[len..].iter().any(|&b| b != 0) {
            return Err(SymbolError::BadPadding);
        }
        SymbolName::new(&field[..len])
    }

    /// The name's bytes, without padding.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let len = memchr::memchr(0, &self.0).unwrap_or(MAX_SYMBOL_LEN);
        &self.0[..len]
    }

    /// The name as text (always valid: the bytes are printable ASCII).
    #[inline]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The zero-padded 16-byte form.
    #[inline]
    pub fn padded(&self) -> [u8; MAX_SYMBOL_LEN] {
        self.0
    }
}

impl Hash for SymbolName {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (a, b) = self.0.split_at(8);
        state.write_u64(u64::from_le_bytes(a.try_into().unwrap_or_default()));
        state.write_u64(u64::from_le_bytes(b.try_into().unwrap_or_default()));
    }
}

impl fmt::Debug for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SymbolName {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<SymbolName, SymbolError> {
        SymbolName::new(s.as_bytes())
    }
}

/// Why a name or a table was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    /// A zero-length name.
    #[error("empty symbol name")]
    Empty,
    /// More than 16 bytes.
    #[error("symbol name of {0} bytes: at most 16 allowed")]
    TooLong(usize),
    /// A byte outside printable ASCII.
    #[error("symbol name has byte 0x{0:02x}: only printable ASCII (0x20-0x7e) allowed")]
    BadByte(u8),
    /// Non-zero bytes after the first zero of a padded field.
    #[error("symbol field has bytes after its zero padding")]
    BadPadding,
    /// The table holds `max_symbols` names already.
    #[error("symbol table full ({0} symbols): raise the limit or check the feed")]
    TableFull(usize),
    /// A persisted table that does not decode.
    #[error("corrupt symbol table: {0}")]
    Corrupt(&'static str),
    /// Reading or writing the persisted table failed.
    #[error("symbol table I/O: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Default)]
struct Inner {
    ids: HashMap<SymbolName, SymbolId, FxBuildHasher>,
    names: Vec<SymbolName>,
}

/// Name → id, shared by every thread (behind an `Arc`).
pub struct SymbolTable {
    inner: RwLock<Inner>,
    max_symbols: usize,
}

impl SymbolTable {
    /// An empty table that holds at most `max_symbols` names.
    pub fn new(max_symbols: usize) -> SymbolTable {
        SymbolTable {
            inner: RwLock::new(Inner::default()),
            max_symbols: max_symbols.min(u32::MAX as usize),
        }
    }

    /// The id of `name`, if it has one.
    pub fn get(&self, name: &SymbolName) -> Option<SymbolId> {
        self.inner.read().ids.get(name).copied()
    }

    /// The id of `name`, assigning the next id on first sight.
    pub fn intern(&self, name: SymbolName) -> Result<SymbolId, SymbolError> {
        if let Some(id) = self.get(&name) {
            return Ok(id);
        }
        let mut inner = self.inner.write();
        if let Some(&id) = inner.ids.get(&name) {
            return Ok(id);
        }
        if inner.names.len() >= self.max_symbols {
            return Err(SymbolError::TableFull(self.max_symbols));
        }
        let id = inner.names.len() as SymbolId;
        inner.names.push(name);
        inner.ids.insert(name, id);
        Ok(id)
    }

    /// The name of `id`.
    pub fn name(&self, id: SymbolId) -> Option<SymbolName> {
        self.inner.read().names.get(id as usize).copied()
    }

    /// How many names the table holds.
    pub fn len(&self) -> usize {
        self.inner.read().names.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most names it takes.
    pub fn max_symbols(&self) -> usize {
        self.max_symbols
    }

    /// Every name, in id order (index = id).
    pub fn names(&self) -> Vec<SymbolName> {
        self.inner.read().names.clone()
    }

    /// The persisted form (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let inner = self.inner.read();
        let mut out = Vec::with_capacity(HEADER_LEN + 16 * inner.names.len() + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(inner.names.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for n in &inner.names {
            out.extend_from_slice(&n.0);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the persisted form; refuses more than `max_symbols` names.
    pub fn decode(bytes: &[u8], max_symbols: usize) -> Result<SymbolTable, SymbolError> {
        if bytes.len() < HEADER_LEN + 4 || &bytes[..8] != MAGIC {
            return Err(SymbolError::Corrupt("bad magic or too short"));
        }
        let count = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        let body_len = count
            .checked_mul(MAX_SYMBOL_LEN)
            .and_then(|n| n.checked_add(HEADER_LEN))
            .ok_or(SymbolError::Corrupt("count overflows"))?;
        if bytes.len() != body_len + 4 {
            return Err(SymbolError::Corrupt("length does not match count"));
        }
        let stored = u32::from_le_bytes([
            bytes[body_len],
            bytes[body_len + 1],
            bytes[body_len + 2],
            bytes[body_len + 3],
        ]);
        if crc32c::crc32c(&bytes[..body_len]) != stored {
            return Err(SymbolError::Corrupt("checksum mismatch"));
        }
        if count > max_symbols {
            return Err(SymbolError::TableFull(max_symbols));
        }
        let table = SymbolTable::new(max_symbols);
        for chunk in bytes[HEADER_LEN..body_len].chunks_exact(MAX_SYMBOL_LEN) {
            let field: &[u8; MAX_SYMBOL_LEN] = chunk
                .try_into()
                .map_err(|_| SymbolError::Corrupt("name field"))?;
            let name = SymbolName::from_padded(field)?;
            let before = table.len();
            table.intern(name)?;
            if table.len() == before {
                return Err(SymbolError::Corrupt("duplicate name"));
            }
        }
        Ok(table)
    }

    /// Writes the persisted form to `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), SymbolError> {
        let bytes = self.encode();
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable; not every filesystem allows opening a directory.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Reads a table written by [`SymbolTable::save`]; a missing file gives an empty table.
    pub fn load(path: &Path, max_symbols: usize) -> Result<SymbolTable, SymbolError> {
        match std::fs::read(path) {
            Ok(bytes) => SymbolTable::decode(&bytes, max_symbols),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SymbolTable::new(max_symbols)),
            Err(e) => Err(e.into()),
        }
    }
}

impl fmt::Debug for SymbolTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymbolTable")
            .field("len", &self.len())
            .field("max_symbols", &self.max_symbols)
            .finish()
    }
}

/// A per-thread front of a shared [`SymbolTable`]: lock-free after the first
/// sight of each name in this thread.
pub struct SymbolCache {
    table: Arc<SymbolTable>,
    local: HashMap<SymbolName, SymbolId, FxBuildHasher>,
}

impl SymbolCache {
    /// A cache in front of `table`.
    pub fn new(table: Arc<SymbolTable>) -> SymbolCache {
        SymbolCache {
            table,
            local: HashMap::default(),
        }
    }

    /// The id of `name`, interning it in the shared table on first sight.
    #[inline]
    pub fn resolve(&mut self, name: SymbolName) -> Result<SymbolId, SymbolError> {
        if let Some(&id) = self.local.get(&name) {
            return Ok(id);
        }
        let id = self.table.intern(name)?;
        self.local.insert(name, id);
        Ok(id)
    }

    /// Validates `bytes` as a name, then resolves it.
    #[inline]
    pub fn resolve_bytes(&mut self, bytes: &[u8]) -> Result<SymbolId, SymbolError> {
        self.resolve(SymbolName::new(bytes)?)
    }

    /// The shared table.
    pub fn table(&self) -> &Arc<SymbolTable> {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_validate() {
        assert_eq!(SymbolName::new(b"SPY").unwrap().as_str(), "SPY");
        assert_eq!(SymbolName::new(b"BRK B").unwrap().as_str(), "BRK B");
        assert_eq!(
            SymbolName::new(b"ABCDEFGHIJKLMNOP")
                .unwrap()
                .as_bytes()
                .len(),
            16
        );
        assert!(matches!(SymbolName::new(b""), Err(SymbolError::Empty)));
        assert!(matches!(
            SymbolName::new(b"ABCDEFGHIJKLMNOPQ"),
            Err(SymbolError::TooLong(17))
        ));
        assert!(matches!(
            SymbolName::new(b"A\tB"),
            Err(SymbolError::BadByte(b'\t'))
        ));
        assert!(matches!(
            SymbolName::new("É".as_bytes()),
            Err(SymbolError::BadByte(0xc3))
        ));
        let mut f = [0u8; 16];
        f[..3].copy_from_slice(b"BAC");
        assert_eq!(SymbolName::from_padded(&f).unwrap().as_str(), "BAC");
        f[5] = b'X';
        assert!(matches!(
            SymbolName::from_padded(&f),
            Err(SymbolError::BadPadding)
        ));
        assert!(matches!(
            SymbolName::from_padded(&[0; 16]),
            Err(SymbolError::Empty)
        ));
    }

    #[test]
    fn ids_are_dense_stable_and_bounded() {
        let t = Arc::new(SymbolTable::new(3));
        let mut c = SymbolCache::new(t.clone());
        assert_eq!(c.resolve_bytes(b"SPY").unwrap(), 0);
        assert_eq!(c.resolve_bytes(b"BAC").unwrap(), 1);
        assert_eq!(c.resolve_bytes(b"SPY").unwrap(), 0);
        assert_eq!(t.intern("EURUSD".parse().unwrap()).unwrap(), 2);
        assert!(matches!(
            c.resolve_bytes(b"MORE"),
            Err(SymbolError::TableFull(3))
        ));
        assert_eq!(t.name(1).unwrap().as_str(), "BAC");
        assert_eq!(t.name(3), None);
    }

    #[test]
    fn persisted_form_round_trips_and_detects_damage() {
        let t = SymbolTable::new(100);
        for n in ["SPY", "BAC", "BTCUSDT", "ABCDEFGHIJKLMNOP"] {
            t.intern(n.parse().unwrap()).unwrap();
        }
        let bytes = t.encode();
        assert_eq!(bytes.len(), 16 + 4 * 16 + 4);
        let back = SymbolTable::decode(&bytes, 100).unwrap();
        assert_eq!(back.names(), t.names());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(SymbolTable::decode(&bad, 100).is_err(), "flip at {i}");
        }
        for len in 0..bytes.len() {
            assert!(SymbolTable::decode(&bytes[..len], 100).is_err());
        }
        assert!(matches!(
            SymbolTable::decode(&bytes, 2),
            Err(SymbolError::TableFull(2))
        ));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("symbols.bin");
        assert!(SymbolTable::load(&path, 10).unwrap().is_empty());
        t.save(&path).unwrap();
        assert_eq!(SymbolTable::load(&path, 100).unwrap().names(), t.names());
    }
}
