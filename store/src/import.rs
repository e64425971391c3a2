//! Bulk import: history written straight into sealed segments, no daemon.
//!
//! # Dedup: by file fingerprint
//!
//! An import is identified by a 128-bit xxh3 fingerprint of the source file's
//! bytes ([`fingerprint_file`]) — or of anything the caller chooses to hash.
//! A completed import is recorded in `imports.log`; importing the same
//! fingerprint again returns [`ImportReport::already_imported`] and writes
//! nothing. Output files are named after the fingerprint
//! (`data/<day>/i-<fp>-<k>.seg`), so an import interrupted by a crash is simply
//! redone: its leftovers are deleted first.
//!
//! Limits: the same ticks arriving through a *different* file (re-exported,
//! recompressed, overlapping ranges) or through the live feed are not
//! recognised as duplicates; until an import completes, readers already see
//! the days it has finished.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use mtf::Tick;
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Result, StoreError};
use crate::format::{FILE_SEALED, FileHeader, day_of};
use crate::layout;
use crate::segment::SealedWriter;
use crate::symbols::SymbolMap;

/// File name of the import manifest inside the store directory.
pub const IMPORTS_FILE: &str = "imports.log";
const MANIFEST_REC: usize = 16 + 8 + 8 + 4;

/// Import settings.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Values per sealed block. Default 65,536.
    pub block: usize,
    /// zstd level. Default 15 (see `docs/storage.md`: ratio vs level).
    pub zstd_level: i32,
    /// Ticks buffered across all (symbol, day) streams before a flush. Default 4M.
    pub max_buffered: usize,
    /// Day files open at once. Default 8.
    pub max_open_days: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            block: 65_536,
            zstd_level: 15,
            max_buffered: 4 << 20,
            max_open_days: 8,
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// The fingerprint.
    pub fingerprint: u128,
    /// True when this fingerprint was imported before: nothing was written.
    pub already_imported: bool,
    /// Ticks written.
    pub ticks: u64,
    /// Segment files written.
    pub files: Vec<PathBuf>,
    /// Bytes of those files.
    pub bytes: u64,
}

/// xxh3-128 of a file's bytes, streamed.
pub fn fingerprint_file(path: &Path) -> Result<u128> {
    let mut f = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| StoreError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.digest128())
}

/// The fingerprints of completed imports.
pub fn imported(root: &Path) -> Result<Vec<u128>> {
    let path = root.join(IMPORTS_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    Ok(bytes
        .chunks_exact(MANIFEST_REC)
        .filter(|r| crc32c::crc32c(&r[..32]) == u32::from_le_bytes([r[32], r[33], r[34], r[35]]))
        .map(|r| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&r[..16]);
            u128::from_le_bytes(a)
        })
        .collect())
}

pub(crate) fn import_prefix(fp: u128) -> String {
    format!("i-{fp:032x}-")
}

/// Imports `(symbol name, tick)` pairs as the source with fingerprint `fp`.
///
/// Names are resolved through the store's symbol table (new names get the next
/// free id); each tick's `symbol` field is replaced by that id. Input order is
/// kept per symbol and day.
pub fn import_ticks<I, S>(
    root: &Path,
    fp: u128,
    ticks: I,
    opts: &ImportOptions,
) -> Result<ImportReport>
where
    I: IntoIterator<Item = (S, Tick)>,
    S: AsRef<str>,
{
    try_import_ticks(
        root,
        fp,
        ticks.into_iter().map(Ok::<_, std::convert::Infallible>),
        opts,
    )
}

/// [`import_ticks`] over a fallible source (an importer that can fail with an
/// I/O error): an `Err` item abandons the import — its files are removed and
/// nothing is recorded — and comes back as [`StoreError::Source`].
///
/// With `ingest`'s importers, see `store/tests/import_ingest.rs`: ids come
/// from the importer's symbol table, names are looked up once per id.
pub fn try_import_ticks<I, S, E>(
    root: &Path,
    fp: u128,
    ticks: I,
    opts: &ImportOptions,
) -> Result<ImportReport>
where
    I: IntoIterator<Item = std::result::Result<(S, Tick), E>>,
    S: AsRef<str>,
    E: std::fmt::Display,
{
    if opts.block == 0
        || opts.block > crate::format::MAX_BLOCK_COUNT as usize
        || opts.max_open_days == 0
    {
        return Err(StoreError::Config(
            "import block must be 1..=131072 and max_open_days ≥ 1",
        ));
    }
    fs::create_dir_all(layout::data_dir(root)).map_err(|e| StoreError::io(root, e))?;
    let mut report = ImportReport {
        fingerprint: fp,
        ..ImportReport::default()
    };
    if imported(root)?.contains(&fp) {
        report.already_imported = true;
        return Ok(report);
    }
    remove_leftovers(root, fp)?;
    let mut symbols = SymbolMap::load(root)?;
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut bufs: HashMap<(u32, i32), Vec<Tick>> = HashMap::new();
    let mut buffered = 0usize;
    let mut days: HashMap<i32, (SealedWriter, u64)> = HashMap::new();
    let mut chunk: HashMap<i32, u32> = HashMap::new();
    let mut seq = 0u64;
    let mut ctx = Ctx {
        root,
        fp,
        opts,
        days: &mut days,
        chunk: &mut chunk,
        report: &mut report,
        seq: &mut seq,
    };
    let res = (|| -> Result<()> {
        for item in ticks {
            let (name, mut t) = item.map_err(|e| StoreError::Source(e.to_string()))?;
            let name = name.as_ref();
            let id = match ids.get(name) {
                Some(&id) => id,
                None => {
                    let id = symbols.resolve(root, name)?;
                    ids.insert(name.to_owned(), id);
                    id
                }
            };
            t.symbol = id;
            let day = day_of(t.ts_event);
            let b = bufs.entry((id, day)).or_default();
            b.push(t);
            buffered += 1;
            if b.len() >= opts.block {
                let full = std::mem::take(b);
                buffered -= full.len();
                ctx.write(id, day, &full)?;
            }
            if buffered >= opts.max_buffered {
                flush_in_order(&mut bufs, &mut ctx)?;
                buffered = 0;
            }
        }
        flush_in_order(&mut bufs, &mut ctx)?;
        let mut open: Vec<i32> = ctx.days.keys().copied().collect();
        open.sort_unstable();
        for d in open {
            ctx.finish(d)?;
        }
        Ok(())
    })();
    if let Err(e) = res {
        for (_, (w, _)) in days.drain() {
            w.abandon();
        }
        remove_leftovers(root, fp)?;
        return Err(e);
    }
    // the import is complete only once recorded
    let mut r = Vec::with_capacity(MANIFEST_REC);
    r.extend_from_slice(&fp.to_le_bytes());
    r.extend_from_slice(&report.ticks.to_le_bytes());
    r.extend_from_slice(&crate::writer::now_ns().to_le_bytes());
    let crc = crc32c::crc32c(&r);
    r.extend_from_slice(&crc.to_le_bytes());
    let path = root.join(IMPORTS_FILE);
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    let len = f.metadata().map_err(|e| StoreError::io(&path, e))?.len() as usize;
    if !len.is_multiple_of(MANIFEST_REC) {
        f.write_all(&vec![0u8; MANIFEST_REC - len % MANIFEST_REC])
            .map_err(|e| StoreError::io(&path, e))?;
    }
    f.write_all(&r).map_err(|e| StoreError::io(&path, e))?;
    f.sync_data().map_err(|e| StoreError::io(&path, e))?;
    Ok(report)
}

struct Ctx<'a> {
    root: &'a Path,
    fp: u128,
    opts: &'a ImportOptions,
    days: &'a mut HashMap<i32, (SealedWriter, u64)>,
    chunk: &'a mut HashMap<i32, u32>,
    report: &'a mut ImportReport,
    seq: &'a mut u64,
}

/// Writes every buffered (symbol, day) run, by day then symbol: the order
/// decides which day files stay open and how days split into parts, so a
/// hash map's order would make the same input store different files.
fn flush_in_order(bufs: &mut HashMap<(u32, i32), Vec<Tick>>, ctx: &mut Ctx<'_>) -> Result<()> {
    let mut runs: Vec<_> = bufs.drain().collect();
    runs.sort_unstable_by_key(|(k, _)| (k.1, k.0));
    for ((id, day), b) in runs {
        ctx.write(id, day, &b)?;
    }
    Ok(())
}

impl Ctx<'_> {
    fn write(&mut self, symbol: u32, day: i32, ticks: &[Tick]) -> Result<()> {
        if ticks.is_empty() {
            return Ok(());
        }
        *self.seq += 1;
        if !self.days.contains_key(&day) {
            if self.days.len() >= self.opts.max_open_days {
                let lru = self
                    .days
                    .iter()
                    .min_by_key(|(_, (_, s))| *s)
                    .map(|(d, _)| *d)
                    .unwrap_or(day);
                self.finish(lru)?;
            }
            let dir = layout::day_dir(self.root, day);
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            let k = self.chunk.entry(day).or_insert(0);
            let path = dir.join(format!("{}{k:03}.seg", import_prefix(self.fp)));
            *k += 1;
            let header = FileHeader {
                kind: FILE_SEALED,
                writer: 0,
                day,
                part: *k - 1,
                created: crate::writer::now_ns(),
            };
            let w = SealedWriter::create(&path, header, self.opts.zstd_level)
                .map_err(|e| StoreError::io(&path, e))?;
            self.days.insert(day, (w, *self.seq));
            self.report.files.push(path);
        }
        let (w, used) = self
            .days
            .get_mut(&day)
            .ok_or(StoreError::Config("import day"))?;
        *used = *self.seq;
        w.ticks(symbol, ticks)
            .map_err(|e| StoreError::io(layout::day_dir(self.root, day), e))?;
        self.report.ticks += ticks.len() as u64;
        Ok(())
    }

    fn finish(&mut self, day: i32) -> Result<()> {
        if let Some((w, _)) = self.days.remove(&day) {
            let dir = layout::day_dir(self.root, day);
            self.report.bytes += w.finish().map_err(|e| StoreError::io(&dir, e))?;
        }
        Ok(())
    }
}

fn remove_leftovers(root: &Path, fp: u128) -> Result<()> {
    let prefix = import_prefix(fp);
    for day in layout::list_days(root).map_err(|e| StoreError::io(root, e))? {
        let dir = layout::day_dir(root, day);
        let rd = fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
        for e in rd.flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
            {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}
