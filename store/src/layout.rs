//! Names of things in a store directory.
//!
//! ```text
//! <root>/symbols.tbl                       symbol names (symbols.rs)
//! <root>/imports.log                       completed imports (import.rs)
//! <root>/locks/wNNN.lock                   writer NNN's lock (flock)
//! <root>/stage/wNNN.stage                  writer NNN's open blocks (stage.rs)
//! <root>/data/YYYY-MM-DD/wNNN-pPPPPP.hot   hot segment: writer NNN, part PPPPP
//! <root>/data/YYYY-MM-DD/wNNN-pPPPPP.seg   the same part, sealed
//! <root>/data/YYYY-MM-DD/i-<fp>.seg        an import, by file fingerprint
//! <root>/data/YYYY-MM-DD/c-PPPPP.seg       a compaction of the day's sealed files
//! *.tmp                                    unfinished output, deleted on open
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::format::{day_name, parse_day};

pub(crate) fn data_dir(root: &Path) -> PathBuf {
    root.join("data")
}

pub(crate) fn day_dir(root: &Path, day: i32) -> PathBuf {
    data_dir(root).join(day_name(day))
}

pub(crate) fn lock_path(root: &Path, writer: u16) -> PathBuf {
    root.join("locks").join(format!("w{writer:03}.lock"))
}

pub(crate) fn stage_path(root: &Path, writer: u16) -> PathBuf {
    root.join("stage").join(format!("w{writer:03}.stage"))
}

pub(crate) fn hot_name(writer: u16, part: u32) -> String {
    format!("w{writer:03}-p{part:05}.hot")
}

/// (writer, part) of a `wNNN-pPPPPP.hot|seg|*.tmp` name.
pub(crate) fn parse_writer_part(name: &str) -> Option<(u16, u32)> {
    let stem = name.split('.').next()?;
    let rest = stem.strip_prefix('w')?;
    let (w, p) = rest.split_once("-p")?;
    Some((w.parse().ok()?, p.parse().ok()?))
}

/// The days that have a directory, ascending.
pub(crate) fn list_days(root: &Path) -> io::Result<Vec<i32>> {
    let mut days = Vec::new();
    let rd = match fs::read_dir(data_dir(root)) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(days),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        if let Some(d) = e.file_name().to_str().and_then(parse_day) {
            days.push(d);
        }
    }
    days.sort_unstable();
    Ok(days)
}

/// One segment file of a day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DayFile {
    pub name: String,
    pub path: PathBuf,
    pub hot: bool,
}

/// The segment files of a day in reading order (by name); when both
/// `X.hot` and `X.seg` exist (a seal that was not cleaned up) only `X.seg`.
pub(crate) fn list_day_files(dir: &Path) -> io::Result<Vec<DayFile>> {
    let mut v = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let hot = name.ends_with(".hot");
        if hot || name.ends_with(".seg") {
            v.push(DayFile {
                path: e.path(),
                name,
                hot,
            });
        }
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    let sealed: std::collections::HashSet<String> = v
        .iter()
        .filter(|f| !f.hot)
        .map(|f| f.name.trim_end_matches(".seg").to_owned())
        .collect();
    v.retain(|f| !(f.hot && sealed.contains(f.name.trim_end_matches(".hot"))));
    Ok(v)
}
