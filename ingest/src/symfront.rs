//! [`SymbolFront`]: a direct-mapped cache in front of a [`SymbolCache`], keyed
//! by the raw zero-padded 16-byte symbol field of the wire format.
//!
//! A hit costs one hash of two `u64`s and one 16-byte compare, and skips name
//! validation (an entry is only stored after its name passed
//! [`SymbolName::from_padded`]). A miss validates, resolves through the
//! per-thread [`SymbolCache`] (which may take the shared table's lock on the
//! first sight of a name in this thread) and fills the slot.

use mtf::SymbolId;

use crate::symbols::{MAX_SYMBOL_LEN, SymbolCache, SymbolError, SymbolName};

const SLOTS: usize = 512;

#[derive(Clone, Copy)]
struct Slot {
    key: [u8; MAX_SYMBOL_LEN],
    id: SymbolId,
}

/// A per-thread, allocation-free (after construction) front for symbol lookups.
pub struct SymbolFront {
    cache: SymbolCache,
    // Empty slots hold the all-zero key; a lookup only hits when the key's
    // first byte is non-zero, which every valid name has.
    slots: Box<[Slot; SLOTS]>,
}

#[inline]
fn slot_of(key: &[u8; MAX_SYMBOL_LEN]) -> usize {
    let (a, b) = key.split_at(8);
    let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
    let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
    let h = (a ^ b.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - SLOTS.trailing_zeros())) as usize
}

impl SymbolFront {
    /// A front for `cache`.
    pub fn new(cache: SymbolCache) -> SymbolFront {
        SymbolFront {
            cache,
            slots: Box::new(
                [Slot {
                    key: [0; MAX_SYMBOL_LEN],
                    id: 0,
                }; SLOTS],
            ),
        }
    }

    /// The id for a zero-padded 16-byte symbol field (validated on a miss).
    #[inline]
    pub fn resolve_padded(&mut self, key: &[u8; MAX_SYMBOL_LEN]) -> Result<SymbolId, SymbolError> {
        let i = slot_of(key);
        let s = &self.slots[i];
        if s.key == *key && key[0] != 0 {
            return Ok(s.id);
        }
        self.miss(i, key)
    }

    /// The id for an unpadded name of 1-16 bytes (validated on a miss).
    #[inline]
    pub fn resolve_bytes(&mut self, name: &[u8]) -> Result<SymbolId, SymbolError> {
        if name.is_empty() {
            return Err(SymbolError::Empty);
        }
        if name.len() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(name.len()));
        }
        // A byte loop, not a variable-length copy (see `ilp::map::prefix`).
        let mut key = [0u8; MAX_SYMBOL_LEN];
        for (k, &c) in key.iter_mut().zip(name) {
            *k = c;
        }
        // A name with an interior zero byte would alias a shorter name's key.
        if memchr::memchr(0, name).is_some() {
            return Err(SymbolError::BadByte(0));
        }
        self.resolve_padded(&key)
    }

    #[cold]
    fn miss(&mut self, i: usize, key: &[u8; MAX_SYMBOL_LEN]) -> Result<SymbolId, SymbolError> {
        let name = SymbolName::from_padded(key)?;
        let id = self.cache.resolve(name)?;
        self.slots[i] = Slot { key: *key, id };
        Ok(id)
    }

    /// The per-thread cache behind this front.
    pub fn cache(&self) -> &SymbolCache {
        &self.cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SymbolTable;
    use std::sync::Arc;

    #[test]
    fn hits_misses_and_bad_names() {
        let t = Arc::new(SymbolTable::new(1000));
        let mut f = SymbolFront::new(SymbolCache::new(t.clone()));
        let names: Vec<String> = (0..700).map(|i| format!("S{i}")).collect();
        for round in 0..2 {
            for (i, n) in names.iter().enumerate() {
                assert_eq!(f.resolve_bytes(n.as_bytes()).unwrap(), i as u32, "{round}");
                let padded = SymbolName::new(n.as_bytes()).unwrap().padded();
                assert_eq!(f.resolve_padded(&padded).unwrap(), i as u32);
            }
        }
        assert!(f.resolve_padded(&[0; 16]).is_err());
        assert!(f.resolve_bytes(b"").is_err());
        assert!(f.resolve_bytes(b"A\0").is_err());
        assert!(f.resolve_bytes(b"ABCDEFGHIJKLMNOPQ").is_err());
        let mut bad = [0u8; 16];
        bad[0] = b'A';
        bad[3] = b'B';
        assert!(f.resolve_padded(&bad).is_err());
        assert_eq!(t.len(), 700);
    }
}
