//! Retention (drop old days) and compaction (merge a day's sealed segments).
//!
//! Both work without a daemon and beside one: they never touch hot segments
//! (a writer's own files), only sealed ones, and readers that still hold an
//! unlinked file keep reading it. Two maintenance runs exclude each other
//! through `locks/maintenance.lock`.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use crate::error::{Result, StoreError};
use crate::format::{FILE_SEALED, FileHeader};
use crate::import::{import_prefix, imported};
use crate::layout;
use crate::reader::open_day;
use crate::segment::{self, Input, SealedWriter};

/// What [`drop_days_before`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Days removed.
    pub dropped: Vec<i32>,
    /// Days kept because a writer still has hot segments there (sealed later).
    pub kept_hot: Vec<i32>,
}

/// What [`compact_day`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Segment files merged.
    pub inputs: usize,
    /// Bytes before.
    pub bytes_before: u64,
    /// Bytes after.
    pub bytes_after: u64,
    /// Ticks and bars written (superseded bar revisions dropped).
    pub ticks: u64,
    /// Bars written.
    pub bars: u64,
    /// Blocks that failed their checks and were left out.
    pub bad_blocks: u64,
}

fn maintenance_lock(root: &Path) -> Result<File> {
    let dir = root.join("locks");
    fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let p = dir.join("maintenance.lock");
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&p)
        .map_err(|e| StoreError::io(&p, e))?;
    if !crate::lock::try_lock_exclusive(&f).map_err(|e| StoreError::io(&p, e))? {
        return Err(StoreError::Locked(p));
    }
    Ok(f)
}

/// Removes every day before `day` (UTC day number) whose segments are all sealed.
pub fn drop_days_before(root: &Path, day: i32) -> Result<RetentionReport> {
    let _lock = maintenance_lock(root)?;
    let mut rep = RetentionReport::default();
    for d in layout::list_days(root).map_err(|e| StoreError::io(root, e))? {
        if d >= day {
            break;
        }
        let dir = layout::day_dir(root, d);
        let files = layout::list_day_files(&dir).map_err(|e| StoreError::io(&dir, e))?;
        if files.iter().any(|f| f.hot) {
            rep.kept_hot.push(d);
            continue;
        }
        fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        rep.dropped.push(d);
    }
    segment::sync_dir(&layout::data_dir(root)).map_err(|e| StoreError::io(root, e))?;
    Ok(rep)
}

/// Merges the sealed segments of `day` into one (`c-NNNNN.seg`): blocks
/// re-chunked to `block` values per stream, superseded bar revisions dropped.
///
/// Atomic for readers: the new file names the files it replaces; readers skip
/// those from the moment it exists, and they are deleted after it is durable.
pub fn compact_day(root: &Path, day: i32, zstd_level: i32, block: usize) -> Result<CompactReport> {
    let _lock = maintenance_lock(root)?;
    if block == 0 || block > crate::format::MAX_BLOCK_COUNT as usize {
        return Err(StoreError::Config("compaction block must be 1..=131072"));
    }
    let done = imported(root)?;
    let complete_import = |name: &str| done.iter().any(|&fp| name.starts_with(&import_prefix(fp)));
    let dir = layout::day_dir(root, day);
    let mut segs = open_day(root, day)?;
    segs.retain(|s| {
        s.toc.header.kind == FILE_SEALED
            && s.path.extension().is_some_and(|e| e == "seg")
            && (!s.name.starts_with("i-") || complete_import(&s.name))
    });
    let mut rep = CompactReport::default();
    if segs.len() < 2 {
        return Ok(rep);
    }
    let next = fs::read_dir(&dir)
        .map_err(|e| StoreError::io(&dir, e))?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            n.strip_prefix("c-")?.split('.').next()?.parse::<u32>().ok()
        })
        .max()
        .map_or(0, |m| m + 1);
    let out_path = dir.join(format!("c-{next:05}.seg"));
    let header = FileHeader {
        kind: FILE_SEALED,
        writer: 0,
        day,
        part: next,
        created: crate::writer::now_ns(),
    };
    let mut out = SealedWriter::create(&out_path, header, zstd_level)
        .map_err(|e| StoreError::io(&out_path, e))?;
    // every file replaced so far stays listed, so leftovers stay hidden
    out.sources = segs
        .iter()
        .flat_map(|s| s.toc.sources.iter().cloned().chain([s.name.clone()]))
        .collect();
    for s in &segs {
        rep.bytes_before += s.file.metadata().map(|m| m.len()).unwrap_or(0);
    }
    let inputs: Vec<Input<'_>> = segs
        .iter()
        .map(|s| Input {
            src: &s.file,
            toc: &s.toc,
        })
        .collect();
    let stats = match segment::rewrite(&inputs, &mut out, block, true) {
        Ok(s) => s,
        Err(e) => {
            out.abandon();
            return Err(StoreError::io(&out_path, e));
        }
    };
    rep.bytes_after = out.finish().map_err(|e| StoreError::io(&out_path, e))?;
    rep.inputs = segs.len();
    rep.ticks = stats.ticks;
    rep.bars = stats.bars;
    rep.bad_blocks = stats.bad_blocks;
    for s in &segs {
        let _ = fs::remove_file(&s.path);
    }
    segment::sync_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
    Ok(rep)
}
