//! The on-disk layout, as `docs/storage.md` states it. Every offset is a
//! chained constant and a test checks each one against the document.
//!
//! All integers are little-endian; nothing here depends on the host's order.

use crate::codec::Corrupt;

/// `TICKDSEG`: the first 8 bytes of every segment file.
pub const FILE_MAGIC: [u8; 8] = *b"TICKDSEG";
/// Format version written in the file header.
pub const FORMAT_VERSION: u16 = 3;
/// Oldest format version still read (version 1 differs only in its integer
/// columns, which the decoder still reads).
pub const MIN_FORMAT_VERSION: u16 = 1;

/// A hot (appendable, lz4) segment.
pub const FILE_HOT: u8 = 1;
/// A sealed (zstd, footer index) segment.
pub const FILE_SEALED: u8 = 2;

// ---- file header (64 bytes)
pub const FH_MAGIC: usize = 0;
pub const FH_VERSION: usize = FH_MAGIC + 8;
pub const FH_KIND: usize = FH_VERSION + 2;
pub const FH_RESERVED0: usize = FH_KIND + 1;
pub const FH_WRITER: usize = FH_RESERVED0 + 1;
pub const FH_RESERVED1: usize = FH_WRITER + 2;
pub const FH_DAY: usize = FH_RESERVED1 + 2;
pub const FH_PART: usize = FH_DAY + 4;
pub const FH_CREATED: usize = FH_PART + 4;
pub const FH_RESERVED2: usize = FH_CREATED + 8;
pub const FH_CRC: usize = 60;
pub const FILE_HEADER_LEN: usize = FH_CRC + 4;

// ---- block record header (64 bytes)
/// `TBLK` as a little-endian u32.
pub const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"TBLK");
/// `CMIT` as a little-endian u32: the commit marker's first half.
pub const COMMIT_MAGIC: u32 = u32::from_le_bytes(*b"CMIT");
pub const BH_MAGIC: usize = 0;
pub const BH_KIND: usize = BH_MAGIC + 4;
pub const BH_CODEC: usize = BH_KIND + 1;
pub const BH_FLAGS: usize = BH_CODEC + 1;
pub const BH_SYMBOL: usize = BH_FLAGS + 2;
pub const BH_COUNT: usize = BH_SYMBOL + 4;
pub const BH_TIMEFRAME: usize = BH_COUNT + 4;
pub const BH_PAYLOAD_LEN: usize = BH_TIMEFRAME + 4;
pub const BH_RAW_LEN: usize = BH_PAYLOAD_LEN + 4;
pub const BH_PAYLOAD_CRC: usize = BH_RAW_LEN + 4;
pub const BH_T_MIN: usize = BH_PAYLOAD_CRC + 4;
pub const BH_T_MAX: usize = BH_T_MIN + 8;
pub const BH_TAG: usize = BH_T_MAX + 8;
pub const BH_PREV_CRC: usize = BH_TAG + 8;
pub const BH_CRC: usize = BH_PREV_CRC + 4;
pub const BLOCK_HEADER_LEN: usize = BH_CRC + 4;
/// The commit marker: `CMIT` and the header's crc, after the padded payload.
pub const COMMIT_LEN: usize = 8;

/// Block kind: ticks.
pub const KIND_TICKS: u8 = 1;
/// Block kind: bars.
pub const KIND_BARS: u8 = 2;
/// Payload stored as the column encoding itself.
pub const CODEC_NONE: u8 = 0;
/// Payload compressed with lz4 (block format, lz4_flex).
pub const CODEC_LZ4: u8 = 1;
/// Payload compressed with zstd.
pub const CODEC_ZSTD: u8 = 2;

/// The most values one block may hold (readers reject larger counts).
pub const MAX_BLOCK_COUNT: u32 = 1 << 17;
/// The largest uncompressed payload a reader accepts (bounds its allocation).
pub const MAX_RAW_LEN: u32 = 64 << 20;

// ---- footer index of a sealed segment
pub const IX_KIND: usize = 0;
pub const IX_CODEC: usize = IX_KIND + 1;
pub const IX_RESERVED: usize = IX_CODEC + 1;
pub const IX_SYMBOL: usize = IX_RESERVED + 2;
pub const IX_TIMEFRAME: usize = IX_SYMBOL + 4;
pub const IX_COUNT: usize = IX_TIMEFRAME + 4;
pub const IX_T_MIN: usize = IX_COUNT + 4;
pub const IX_T_MAX: usize = IX_T_MIN + 8;
pub const IX_OFFSET: usize = IX_T_MAX + 8;
pub const IX_RECORD_LEN: usize = IX_OFFSET + 8;
pub const IX_RAW_LEN: usize = IX_RECORD_LEN + 4;
pub const INDEX_ENTRY_LEN: usize = IX_RAW_LEN + 4;

/// `TIDX`: the trailer's first 4 bytes.
pub const TRAILER_MAGIC: u32 = u32::from_le_bytes(*b"TIDX");
pub const TR_MAGIC: usize = 0;
pub const TR_ENTRIES: usize = TR_MAGIC + 4;
pub const TR_INDEX_OFFSET: usize = TR_ENTRIES + 4;
pub const TR_SOURCES_LEN: usize = TR_INDEX_OFFSET + 8;
pub const TR_INDEX_CRC: usize = TR_SOURCES_LEN + 4;
pub const TR_CRC: usize = TR_INDEX_CRC + 4;
pub const TR_END_MAGIC: usize = TR_CRC + 4;
pub const TRAILER_LEN: usize = TR_END_MAGIC + 8;
/// `TICKDEND`: the last 8 bytes of a sealed segment.
pub const END_MAGIC: [u8; 8] = *b"TICKDEND";

/// Rounds up to a multiple of 8.
#[inline]
pub const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Total bytes of a record whose payload is `payload_len` bytes.
#[inline]
pub const fn record_len(payload_len: usize) -> usize {
    BLOCK_HEADER_LEN + pad8(payload_len) + COMMIT_LEN
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(crate) fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
fn rd_i64(b: &[u8], at: usize) -> i64 {
    rd_u64(b, at) as i64
}
fn wr(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// The fixed header at the start of a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// [`FILE_HOT`] or [`FILE_SEALED`].
    pub kind: u8,
    /// Writer number (0 for imports and compactions).
    pub writer: u16,
    /// UTC day, days since 1970-01-01.
    pub day: i32,
    /// Part number within (day, writer).
    pub part: u32,
    /// Creation time, ns since the epoch.
    pub created: i64,
}

impl FileHeader {
    /// The 64 header bytes.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        let mut b = [0u8; FILE_HEADER_LEN];
        wr(&mut b, FH_MAGIC, &FILE_MAGIC);
        wr(&mut b, FH_VERSION, &FORMAT_VERSION.to_le_bytes());
        b[FH_KIND] = self.kind;
        wr(&mut b, FH_WRITER, &self.writer.to_le_bytes());
        wr(&mut b, FH_DAY, &self.day.to_le_bytes());
        wr(&mut b, FH_PART, &self.part.to_le_bytes());
        wr(&mut b, FH_CREATED, &self.created.to_le_bytes());
        let crc = crc32c::crc32c(&b[..FH_CRC]);
        wr(&mut b, FH_CRC, &crc.to_le_bytes());
        b
    }

    /// Parses and checks a header.
    pub fn decode(b: &[u8]) -> Result<(FileHeader, u32), Corrupt> {
        if b.len() < FILE_HEADER_LEN {
            return Err(Corrupt("file shorter than its header"));
        }
        if b[FH_MAGIC..FH_MAGIC + 8] != FILE_MAGIC {
            return Err(Corrupt("not a tickd segment (magic)"));
        }
        let crc = rd_u32(b, FH_CRC);
        if crc32c::crc32c(&b[..FH_CRC]) != crc {
            return Err(Corrupt("file header checksum"));
        }
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&rd_u16(b, FH_VERSION)) {
            return Err(Corrupt("unsupported format version"));
        }
        let kind = b[FH_KIND];
        if kind != FILE_HOT && kind != FILE_SEALED {
            return Err(Corrupt("unknown file kind"));
        }
        Ok((
            FileHeader {
                kind,
                writer: rd_u16(b, FH_WRITER),
                day: rd_u32(b, FH_DAY) as i32,
                part: rd_u32(b, FH_PART),
                created: rd_i64(b, FH_CREATED),
            },
            crc,
        ))
    }
}

/// The header of one block record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// [`KIND_TICKS`] or [`KIND_BARS`].
    pub kind: u8,
    /// [`CODEC_NONE`], [`CODEC_LZ4`] or [`CODEC_ZSTD`].
    pub codec: u8,
    /// Symbol id.
    pub symbol: u32,
    /// Number of ticks or bars.
    pub count: u32,
    /// Bar timeframe in ms (0 for ticks).
    pub timeframe_ms: u32,
    /// Stored payload bytes.
    pub payload_len: u32,
    /// Payload bytes after decompression.
    pub raw_len: u32,
    /// crc32c of the stored payload.
    pub payload_crc: u32,
    /// Smallest event time (bar start for bars).
    pub t_min: i64,
    /// Largest event time (bar start for bars).
    pub t_max: i64,
    /// Stage tag (writer slot and generation) of hot blocks; 0 otherwise.
    pub tag: u64,
    /// Header crc of the previous record (file header crc for the first).
    pub prev_crc: u32,
}

impl BlockHeader {
    /// The 64 header bytes and their crc.
    pub fn encode(&self) -> ([u8; BLOCK_HEADER_LEN], u32) {
        let mut b = [0u8; BLOCK_HEADER_LEN];
        wr(&mut b, BH_MAGIC, &BLOCK_MAGIC.to_le_bytes());
        b[BH_KIND] = self.kind;
        b[BH_CODEC] = self.codec;
        wr(&mut b, BH_SYMBOL, &self.symbol.to_le_bytes());
        wr(&mut b, BH_COUNT, &self.count.to_le_bytes());
        wr(&mut b, BH_TIMEFRAME, &self.timeframe_ms.to_le_bytes());
        wr(&mut b, BH_PAYLOAD_LEN, &self.payload_len.to_le_bytes());
        wr(&mut b, BH_RAW_LEN, &self.raw_len.to_le_bytes());
        wr(&mut b, BH_PAYLOAD_CRC, &self.payload_crc.to_le_bytes());
        wr(&mut b, BH_T_MIN, &self.t_min.to_le_bytes());
        wr(&mut b, BH_T_MAX, &self.t_max.to_le_bytes());
        wr(&mut b, BH_TAG, &self.tag.to_le_bytes());
        wr(&mut b, BH_PREV_CRC, &self.prev_crc.to_le_bytes());
        let crc = crc32c::crc32c(&b[..BH_CRC]);
        wr(&mut b, BH_CRC, &crc.to_le_bytes());
        (b, crc)
    }

    /// Parses and checks a header (not its payload): magic, crc, kinds, bounds.
    pub fn decode(b: &[u8]) -> Result<(BlockHeader, u32), Corrupt> {
        if b.len() < BLOCK_HEADER_LEN {
            return Err(Corrupt("block header cut"));
        }
        if rd_u32(b, BH_MAGIC) != BLOCK_MAGIC {
            return Err(Corrupt("no block magic"));
        }
        let crc = rd_u32(b, BH_CRC);
        if crc32c::crc32c(&b[..BH_CRC]) != crc {
            return Err(Corrupt("block header checksum"));
        }
        let h = BlockHeader {
            kind: b[BH_KIND],
            codec: b[BH_CODEC],
            symbol: rd_u32(b, BH_SYMBOL),
            count: rd_u32(b, BH_COUNT),
            timeframe_ms: rd_u32(b, BH_TIMEFRAME),
            payload_len: rd_u32(b, BH_PAYLOAD_LEN),
            raw_len: rd_u32(b, BH_RAW_LEN),
            payload_crc: rd_u32(b, BH_PAYLOAD_CRC),
            t_min: rd_i64(b, BH_T_MIN),
            t_max: rd_i64(b, BH_T_MAX),
            tag: rd_u64(b, BH_TAG),
            prev_crc: rd_u32(b, BH_PREV_CRC),
        };
        if h.kind != KIND_TICKS && h.kind != KIND_BARS {
            return Err(Corrupt("unknown block kind"));
        }
        if h.codec > CODEC_ZSTD {
            return Err(Corrupt("unknown codec"));
        }
        if h.count > MAX_BLOCK_COUNT || h.raw_len > MAX_RAW_LEN || h.payload_len > MAX_RAW_LEN {
            return Err(Corrupt("block too large"));
        }
        if (h.kind == KIND_BARS) == (h.timeframe_ms == 0) {
            return Err(Corrupt("timeframe does not match the kind"));
        }
        Ok((h, crc))
    }

    /// Total record bytes (header, padded payload, commit marker).
    pub fn record_len(&self) -> usize {
        record_len(self.payload_len as usize)
    }
}

/// One footer index entry of a sealed segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Block kind.
    pub kind: u8,
    /// Payload codec.
    pub codec: u8,
    /// Symbol id.
    pub symbol: u32,
    /// Bar timeframe in ms, 0 for ticks.
    pub timeframe_ms: u32,
    /// Values in the block.
    pub count: u32,
    /// Smallest time.
    pub t_min: i64,
    /// Largest time.
    pub t_max: i64,
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// Record length in bytes.
    pub record_len: u32,
    /// Uncompressed payload length.
    pub raw_len: u32,
}

impl IndexEntry {
    /// From a block header at `offset`.
    pub fn of(h: &BlockHeader, offset: u64) -> IndexEntry {
        IndexEntry {
            kind: h.kind,
            codec: h.codec,
            symbol: h.symbol,
            timeframe_ms: h.timeframe_ms,
            count: h.count,
            t_min: h.t_min,
            t_max: h.t_max,
            offset,
            record_len: h.record_len() as u32,
            raw_len: h.raw_len,
        }
    }

    /// Appends the entry's bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; INDEX_ENTRY_LEN];
        b[IX_KIND] = self.kind;
        b[IX_CODEC] = self.codec;
        wr(&mut b, IX_SYMBOL, &self.symbol.to_le_bytes());
        wr(&mut b, IX_TIMEFRAME, &self.timeframe_ms.to_le_bytes());
        wr(&mut b, IX_COUNT, &self.count.to_le_bytes());
        wr(&mut b, IX_T_MIN, &self.t_min.to_le_bytes());
        wr(&mut b, IX_T_MAX, &self.t_max.to_le_bytes());
        wr(&mut b, IX_OFFSET, &self.offset.to_le_bytes());
        wr(&mut b, IX_RECORD_LEN, &self.record_len.to_le_bytes());
        wr(&mut b, IX_RAW_LEN, &self.raw_len.to_le_bytes());
        out.extend_from_slice(&b);
    }

    /// Parses one entry (`b.len() >= INDEX_ENTRY_LEN`).
    pub fn decode(b: &[u8]) -> IndexEntry {
        IndexEntry {
            kind: b[IX_KIND],
            codec: b[IX_CODEC],
            symbol: rd_u32(b, IX_SYMBOL),
            timeframe_ms: rd_u32(b, IX_TIMEFRAME),
            count: rd_u32(b, IX_COUNT),
            t_min: rd_i64(b, IX_T_MIN),
            t_max: rd_i64(b, IX_T_MAX),
            offset: rd_u64(b, IX_OFFSET),
            record_len: rd_u32(b, IX_RECORD_LEN),
            raw_len: rd_u32(b, IX_RAW_LEN),
        }
    }
}

/// What a sealed segment's trailer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Index entries.
    pub entries: u32,
    /// Offset of the first index entry.
    pub index_offset: u64,
    /// Bytes of the sources list after the entries.
    pub sources_len: u32,
    /// crc32c of the entries and the sources list.
    pub index_crc: u32,
}

/// The trailer bytes.
pub fn encode_trailer(t: &Trailer) -> [u8; TRAILER_LEN] {
    let mut b = [0u8; TRAILER_LEN];
    wr(&mut b, TR_MAGIC, &TRAILER_MAGIC.to_le_bytes());
    wr(&mut b, TR_ENTRIES, &t.entries.to_le_bytes());
    wr(&mut b, TR_INDEX_OFFSET, &t.index_offset.to_le_bytes());
    wr(&mut b, TR_SOURCES_LEN, &t.sources_len.to_le_bytes());
    let index_crc = t.index_crc;
    wr(&mut b, TR_INDEX_CRC, &index_crc.to_le_bytes());
    let crc = crc32c::crc32c(&b[..TR_CRC]);
    wr(&mut b, TR_CRC, &crc.to_le_bytes());
    wr(&mut b, TR_END_MAGIC, &END_MAGIC);
    b
}

/// Parses a trailer.
pub fn decode_trailer(b: &[u8]) -> Result<Trailer, Corrupt> {
    if b.len() != TRAILER_LEN
        || rd_u32(b, TR_MAGIC) != TRAILER_MAGIC
        || b[TR_END_MAGIC..] != END_MAGIC
    {
        return Err(Corrupt("no trailer"));
    }
    if crc32c::crc32c(&b[..TR_CRC]) != rd_u32(b, TR_CRC) {
        return Err(Corrupt("trailer checksum"));
    }
    Ok(Trailer {
        entries: rd_u32(b, TR_ENTRIES),
        index_offset: rd_u64(b, TR_INDEX_OFFSET),
        sources_len: rd_u32(b, TR_SOURCES_LEN),
        index_crc: rd_u32(b, TR_INDEX_CRC),
    })
}

/// Days since 1970-01-01 of an ns timestamp (UTC, floor).
#[inline]
pub fn day_of(ts_ns: i64) -> i32 {
    ts_ns.div_euclid(mtf::NANOS_PER_DAY) as i32
}

/// `YYYY-MM-DD` of a day number (proleptic Gregorian, Howard Hinnant's algorithm).
pub fn day_name(day: i32) -> String {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of a `YYYY-MM-DD` name, `None` if it is not one.
pub fn parse_day(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = era * 146_097 + doe - 719_468;
    let day = i32::try_from(day).ok()?;
    (day_name(day) == s).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table row of `docs/storage.md` whose last cell names a constant:
    /// the row's offset must equal it.
    #[test]
    fn doc_tables_match_the_constants() {
        use crate::stage::*;
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/storage.md"));
        let consts: &[(&str, usize)] = &[
            ("FH_MAGIC", FH_MAGIC),
            ("FH_VERSION", FH_VERSION),
            ("FH_KIND", FH_KIND),
            ("FH_RESERVED0", FH_RESERVED0),
            ("FH_WRITER", FH_WRITER),
            ("FH_RESERVED1", FH_RESERVED1),
            ("FH_DAY", FH_DAY),
            ("FH_PART", FH_PART),
            ("FH_CREATED", FH_CREATED),
            ("FH_RESERVED2", FH_RESERVED2),
            ("FH_CRC", FH_CRC),
            ("FILE_HEADER_LEN", FILE_HEADER_LEN),
            ("BH_MAGIC", BH_MAGIC),
            ("BH_KIND", BH_KIND),
            ("BH_CODEC", BH_CODEC),
            ("BH_FLAGS", BH_FLAGS),
            ("BH_SYMBOL", BH_SYMBOL),
            ("BH_COUNT", BH_COUNT),
            ("BH_TIMEFRAME", BH_TIMEFRAME),
            ("BH_PAYLOAD_LEN", BH_PAYLOAD_LEN),
            ("BH_RAW_LEN", BH_RAW_LEN),
            ("BH_PAYLOAD_CRC", BH_PAYLOAD_CRC),
            ("BH_T_MIN", BH_T_MIN),
            ("BH_T_MAX", BH_T_MAX),
            ("BH_TAG", BH_TAG),
            ("BH_PREV_CRC", BH_PREV_CRC),
            ("BH_CRC", BH_CRC),
            ("BLOCK_HEADER_LEN", BLOCK_HEADER_LEN),
            ("IX_KIND", IX_KIND),
            ("IX_CODEC", IX_CODEC),
            ("IX_RESERVED", IX_RESERVED),
            ("IX_SYMBOL", IX_SYMBOL),
            ("IX_TIMEFRAME", IX_TIMEFRAME),
            ("IX_COUNT", IX_COUNT),
            ("IX_T_MIN", IX_T_MIN),
            ("IX_T_MAX", IX_T_MAX),
            ("IX_OFFSET", IX_OFFSET),
            ("IX_RECORD_LEN", IX_RECORD_LEN),
            ("IX_RAW_LEN", IX_RAW_LEN),
            ("INDEX_ENTRY_LEN", INDEX_ENTRY_LEN),
            ("TR_MAGIC", TR_MAGIC),
            ("TR_ENTRIES", TR_ENTRIES),
            ("TR_INDEX_OFFSET", TR_INDEX_OFFSET),
            ("TR_SOURCES_LEN", TR_SOURCES_LEN),
            ("TR_INDEX_CRC", TR_INDEX_CRC),
            ("TR_CRC", TR_CRC),
            ("TR_END_MAGIC", TR_END_MAGIC),
            ("TRAILER_LEN", TRAILER_LEN),
            ("SH_MAGIC", SH_MAGIC),
            ("SH_VERSION", SH_VERSION),
            ("SH_WRITER", SH_WRITER),
            ("SH_SLOTS", SH_SLOTS),
            ("SH_SLOT_BYTES", SH_SLOT_BYTES),
            ("SH_EPOCH", SH_EPOCH),
            ("SH_CRC", SH_CRC),
            ("SL_KIND", SL_KIND),
            ("SL_SYMBOL", SL_SYMBOL),
            ("SL_TIMEFRAME", SL_TIMEFRAME),
            ("SL_DAY", SL_DAY),
            ("SL_TAG", SL_TAG),
            ("SL_COUNT", SL_COUNT),
        ];
        let mut seen = std::collections::HashSet::new();
        for line in doc.lines() {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            let Some(last) = cells.last() else { continue };
            let Some(name) = last.strip_prefix('`').and_then(|l| l.strip_suffix('`')) else {
                continue;
            };
            let Some(&(_, value)) = consts.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let off: usize = cells[0]
                .parse()
                .unwrap_or_else(|_| panic!("bad offset in {line}"));
            assert_eq!(off, value, "docs/storage.md row for {name}: {line}");
            seen.insert(name);
        }
        for (n, _) in consts {
            assert!(seen.contains(n), "{n} is not in docs/storage.md");
        }
        assert!(doc.contains(&format!("{} (this version)", FORMAT_VERSION)));
        assert!(doc.contains(&format!(
            "# tickd storage format (version {FORMAT_VERSION})"
        )));
        assert_eq!(COMMIT_LEN, 8);
        assert_eq!(crate::stage::SLOT_HEADER_LEN, 64);
    }

    #[test]
    fn day_names_round_trip() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(15_986), "2013-10-08");
        for d in [-700_000, -1, 0, 1, 15_986, 20_000, 2_000_000] {
            assert_eq!(parse_day(&day_name(d)), Some(d));
        }
        assert_eq!(parse_day("2013-02-30"), None);
        assert_eq!(parse_day("2013-1-01x"), None);
    }

    #[test]
    fn headers_round_trip() {
        let h = BlockHeader {
            kind: KIND_BARS,
            codec: CODEC_ZSTD,
            symbol: 9,
            count: 3,
            timeframe_ms: 60_000,
            payload_len: 17,
            raw_len: 40,
            payload_crc: 5,
            t_min: -4,
            t_max: 99,
            tag: 1 << 40,
            prev_crc: 77,
        };
        let (b, crc) = h.encode();
        assert_eq!(BlockHeader::decode(&b).unwrap(), (h, crc));
        let f = FileHeader {
            kind: FILE_SEALED,
            writer: 3,
            day: 15_986,
            part: 2,
            created: 1,
        };
        assert_eq!(FileHeader::decode(&f.encode()).unwrap().0, f);
        // version 1 files are still read; unknown versions are not
        for (v, ok) in [(0u16, false), (1, true), (2, true), (3, true), (4, false)] {
            let mut b = f.encode();
            wr(&mut b, FH_VERSION, &v.to_le_bytes());
            let crc = crc32c::crc32c(&b[..FH_CRC]);
            wr(&mut b, FH_CRC, &crc.to_le_bytes());
            assert_eq!(FileHeader::decode(&b).is_ok(), ok, "version {v}");
        }
    }
}
