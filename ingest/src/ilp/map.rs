//! Which ILP tag and field names map to which [`mtf::Tick`] field, per table.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

/// What a line of a table is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KindRule {
    /// A trade when a price field is present, a quote when a bid or ask field is.
    #[default]
    Auto,
    /// Always a trade.
    Trade,
    /// Always a quote.
    Quote,
}

/// The tick field a tag or field name feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Symbol name (tag, or string field).
    Symbol,
    /// Aggressor side (tag, or string field): `buy`/`b`, `sell`/`s`, `unknown`.
    Side,
    /// Trade price.
    Price,
    /// Trade size.
    Size,
    /// Quote bid.
    Bid,
    /// Quote ask.
    Ask,
    /// Quote bid size.
    BidSize,
    /// Quote ask size.
    AskSize,
    /// Trade id or update id (integer).
    Id,
}

/// The names of one table (or the default for tables not configured).
///
/// Every list may hold several names; the first present in a line wins, a
/// second one present is an error ([`crate::ilp::IlpError::DuplicateField`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMap {
    /// Trade, quote, or decided by the fields present.
    pub kind: KindRule,
    /// Default `["symbol"]`.
    pub symbol: Vec<String>,
    /// Default `["side"]`.
    pub side: Vec<String>,
    /// Default `["price"]`.
    pub price: Vec<String>,
    /// Default `["size", "amount", "qty", "volume"]`.
    pub size: Vec<String>,
    /// Default `["bid"]`.
    pub bid: Vec<String>,
    /// Default `["ask"]`.
    pub ask: Vec<String>,
    /// Default `["bid_size"]`.
    pub bid_size: Vec<String>,
    /// Default `["ask_size"]`.
    pub ask_size: Vec<String>,
    /// Default `["id", "trade_id"]`.
    pub id: Vec<String>,
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for FieldMap {
    fn default() -> FieldMap {
        FieldMap {
            kind: KindRule::Auto,
            symbol: names(&["symbol"]),
            side: names(&["side"]),
            price: names(&["price"]),
            size: names(&["size", "amount", "qty", "volume"]),
            bid: names(&["bid"]),
            ask: names(&["ask"]),
            bid_size: names(&["bid_size"]),
            ask_size: names(&["ask_size"]),
            id: names(&["id", "trade_id"]),
        }
    }
}

/// Why an [`IlpConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IlpConfigError {
    /// One name feeds two tick fields in the same table.
    #[error("ILP table {table:?}: name {name:?} is mapped to two tick fields")]
    NameTwice {
        /// Table (`*` for the default map).
        table: String,
        /// The name.
        name: String,
    },
    /// An empty name, or one with a byte ILP cannot carry unescaped in a key.
    #[error("ILP table {table:?}: bad name {name:?}")]
    BadName {
        /// Table.
        table: String,
        /// The name.
        name: String,
    },
    /// More than 128 names in one table's mapping.
    #[error("ILP table {table:?}: more than 128 names mapped")]
    TooManyNames {
        /// Table.
        table: String,
    },
    /// `max_line` below 64 bytes or above 16 MiB.
    #[error("ILP max_line {0} outside 64..=16777216")]
    MaxLine(usize),
}

/// The ILP receiver's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IlpConfig {
    /// Mapping for tables not listed in `tables`; `None`: such lines are refused
    /// ([`crate::ilp::IlpError::UnknownTable`]).
    pub default: Option<FieldMap>,
    /// Per-table mappings (table = measurement).
    pub tables: Vec<(String, FieldMap)>,
    /// Longest line in bytes, newline excluded (default 64 KiB).
    pub max_line: usize,
}

impl Default for IlpConfig {
    fn default() -> IlpConfig {
        IlpConfig {
            default: Some(FieldMap::default()),
            tables: Vec::new(),
            max_line: 64 * 1024,
        }
    }
}

/// A [`FieldMap`] compiled for lookups: `(name, target)` pairs.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub kind: KindRule,
    /// `(first 8 bytes zero-padded, length, name, target)`.
    pub names: Vec<(u64, usize, Box<[u8]>, Target)>,
    /// Open-addressing index into `names` (entry + 1; 0 = empty), keyed by
    /// prefix and length: one or two probes per key instead of a scan.
    slots: [u8; SLOTS],
}

const SLOTS: usize = 256;

#[inline]
fn prefix(key: &[u8]) -> u64 {
    // No variable-length copy: a `memcpy` call followed by an 8-byte load
    // stalls on store forwarding, and this runs for every tag and field key.
    if key.len() >= 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&key[..8]);
        u64::from_le_bytes(b)
    } else {
        key.iter()
            .enumerate()
            .fold(0u64, |p, (i, &c)| p | (c as u64) << (8 * i))
    }
}

#[inline]
fn slot_of(p: u64, len: usize) -> usize {
    ((p ^ (len as u64).rotate_left(56)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
}

impl Compiled {
    fn new(kind: KindRule, names: Vec<(u64, usize, Box<[u8]>, Target)>) -> Compiled {
        let mut slots = [0u8; SLOTS];
        for (i, (p, l, _, _)) in names.iter().enumerate() {
            let mut s = slot_of(*p, *l);
            while slots[s] != 0 {
                s = (s + 1) % SLOTS;
            }
            slots[s] = (i + 1) as u8;
        }
        Compiled { kind, names, slots }
    }

    #[inline]
    pub fn target(&self, key: &[u8]) -> Option<Target> {
        let p = prefix(key);
        let mut s = slot_of(p, key.len());
        loop {
            let e = self.slots[s] as usize;
            if e == 0 {
                return None;
            }
            let (np, nl, n, t) = &self.names[e - 1];
            if *nl == key.len() && *np == p && (*nl <= 8 || n[8..] == key[8..]) {
                return Some(*t);
            }
            s = (s + 1) % SLOTS;
        }
    }
}

/// The compiled form of an [`IlpConfig`].
#[derive(Clone, Debug)]
pub(crate) struct CompiledConfig {
    pub default: Option<Compiled>,
    pub tables: HashMap<Box<[u8]>, Compiled, FxBuildHasher>,
    pub max_line: usize,
}

/// Most names one table maps (the index holds them at most half full).
const MAX_NAMES: usize = 128;

fn compile(table: &str, m: &FieldMap) -> Result<Compiled, IlpConfigError> {
    let mut out: Vec<(u64, usize, Box<[u8]>, Target)> = Vec::new();
    for (list, t) in [
        (&m.symbol, Target::Symbol),
        (&m.side, Target::Side),
        (&m.price, Target::Price),
        (&m.size, Target::Size),
        (&m.bid, Target::Bid),
        (&m.ask, Target::Ask),
        (&m.bid_size, Target::BidSize),
        (&m.ask_size, Target::AskSize),
        (&m.id, Target::Id),
    ] {
        for name in list {
            let b = name.as_bytes();
            if b.is_empty()
                || b.iter()
                    .any(|&c| c < 0x21 || c == 0x7f || c == b'=' || c == b',')
            {
                return Err(IlpConfigError::BadName {
                    table: table.to_string(),
                    name: name.clone(),
                });
            }
            if let Some((_, _, _, other)) = out.iter().find(|(_, _, n, _)| **n == *b) {
                if *other != t {
                    return Err(IlpConfigError::NameTwice {
                        table: table.to_string(),
                        name: name.clone(),
                    });
                }
                continue;
            }
            if out.len() >= MAX_NAMES {
                return Err(IlpConfigError::TooManyNames {
                    table: table.to_string(),
                });
            }
            out.push((prefix(b), b.len(), b.into(), t));
        }
    }
    Ok(Compiled::new(m.kind, out))
}

impl IlpConfig {
    pub(crate) fn compile(&self) -> Result<CompiledConfig, IlpConfigError> {
        if !(64..=16 << 20).contains(&self.max_line) {
            return Err(IlpConfigError::MaxLine(self.max_line));
        }
        let default = self.default.as_ref().map(|m| compile("*", m)).transpose()?;
        let mut tables = HashMap::default();
        for (name, m) in &self.tables {
            tables.insert(name.as_bytes().into(), compile(name, m)?);
        }
        Ok(CompiledConfig {
            default,
            tables,
            max_line: self.max_line,
        })
    }

    /// Adds or replaces the mapping of one table.
    pub fn with_table(mut self, table: &str, map: FieldMap) -> IlpConfig {
        self.tables.retain(|(t, _)| t != table);
        self.tables.push((table.to_string(), map));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_compile_and_conflicts_are_refused() {
        let c = IlpConfig::default().compile().unwrap();
        let d = c.default.unwrap();
        assert_eq!(d.target(b"amount"), Some(Target::Size));
        assert_eq!(d.target(b"bid_size"), Some(Target::BidSize));
        assert_eq!(d.target(b"bid_siz"), None);
        assert_eq!(d.target(b"bid_sizee"), None);
        assert_eq!(d.target(b""), None);
        let many = FieldMap {
            id: (0..100).map(|i| format!("id_number_{i}")).collect(),
            ..FieldMap::default()
        };
        let c = IlpConfig::default()
            .with_table("t", many)
            .compile()
            .unwrap();
        for i in 0..100 {
            assert_eq!(
                c.tables[b"t".as_slice()].target(format!("id_number_{i}").as_bytes()),
                Some(Target::Id)
            );
        }
        assert_eq!(c.tables[b"t".as_slice()].target(b"id_number_100"), None);
        let too_many = FieldMap {
            id: (0..200).map(|i| format!("n{i}")).collect(),
            ..FieldMap::default()
        };
        assert!(
            IlpConfig::default()
                .with_table("t", too_many)
                .compile()
                .is_err()
        );
        assert_eq!(d.target(b"bid_size"), Some(Target::BidSize));
        assert_eq!(d.target(b"nope"), None);
        let mut m = FieldMap::default();
        m.price.push("bid".into());
        let e = IlpConfig::default()
            .with_table("t", m)
            .compile()
            .unwrap_err();
        assert!(matches!(e, IlpConfigError::NameTwice { .. }), "{e}");
        let m = FieldMap {
            id: vec!["a b".into()],
            ..FieldMap::default()
        };
        assert!(IlpConfig::default().with_table("t", m).compile().is_err());
        let cfg = IlpConfig {
            max_line: 10,
            ..IlpConfig::default()
        };
        assert_eq!(cfg.compile().unwrap_err(), IlpConfigError::MaxLine(10));
    }
}
