//! Opening an input: plain, gzip or zip, told apart by their magic bytes (not
//! by the file name), each member streamed with constant memory.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::{DeflateDecoder, MultiGzDecoder};
use zip::CompressionMethod;

use super::ImportError;

/// Most members a zip may list (its central directory is held in memory).
pub const MAX_ZIP_MEMBERS: usize = 65_536;

/// Where the bytes come from.
#[derive(Clone, Debug)]
pub enum Input {
    /// A file on disk.
    Path(PathBuf),
    /// Bytes in memory (tests, benchmarks, fuzzing, network payloads); `name`
    /// plays the role of the file name (date and symbol for LEAN, …).
    Bytes {
        /// The file name to derive a symbol or a date from.
        name: String,
        /// The bytes (compressed or not).
        data: Arc<[u8]>,
    },
}

impl Input {
    /// The file name (last path component), as text.
    pub fn file_name(&self) -> String {
        match self {
            Input::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Input::Bytes { name, .. } => Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// The whole path (for LEAN, whose directories name the asset class and symbol).
    pub fn path_text(&self) -> String {
        match self {
            Input::Path(p) => p.to_string_lossy().into_owned(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }

    fn open(&self) -> io::Result<Box<dyn ReadSeek>> {
        Ok(match self {
            Input::Path(p) => Box::new(BufReader::with_capacity(128 << 10, File::open(p)?)),
            Input::Bytes { data, .. } => Box::new(Cursor::new(data.clone())),
        })
    }
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The container format, from the first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Container {
    /// Uncompressed text.
    Plain,
    /// gzip (`1f 8b`), possibly several concatenated members.
    Gzip,
    /// zip (`PK\x03\x04`, or `PK\x05\x06` when empty).
    Zip,
}

impl Container {
    /// Tells the container from the first bytes of a file.
    pub fn detect(head: &[u8]) -> Container {
        match head {
            [0x1f, 0x8b, ..] => Container::Gzip,
            [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Container::Zip,
            _ => Container::Plain,
        }
    }
}

/// One stream of text inside an input: the input itself, its gzip payload, or one zip member.
pub struct Member {
    /// The member's name (zip entry name, else the input's file name).
    pub name: String,
    /// Its decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// The same bytes when they already sit in memory uncompressed (read zero-copy).
    pub bytes: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member").field("name", &self.name).finish()
    }
}

#[derive(Debug)]
struct ZipEntry {
    name: String,
    data_start: u64,
    compressed: u64,
    size: u64,
    crc: u32,
    deflated: bool,
}

/// An opened input: yields its members in order.
pub struct Source {
    input: Input,
    container: Container,
    zip: Vec<ZipEntry>,
    next: usize,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("input", &self.input.path_text())
            .field("container", &self.container)
            .field("members", &self.zip.len())
            .finish()
    }
}

impl Source {
    /// Opens `input` and reads a zip's directory.
    pub fn open(input: Input) -> Result<Source, ImportError> {
        let io_err = |e| ImportError::io(&input, e);
        let mut r = input.open().map_err(io_err)?;
        let mut head = [0u8; 4];
        let n = read_up_to(&mut r, &mut head).map_err(io_err)?;
        let container = Container::detect(&head[..n]);
        let mut zip = Vec::new();
        if container == Container::Zip {
            r.seek(SeekFrom::Start(0)).map_err(io_err)?;
            let mut archive =
                zip::ZipArchive::new(r).map_err(|e| ImportError::zip(&input, e.to_string()))?;
            if archive.len() > MAX_ZIP_MEMBERS {
                return Err(ImportError::zip(
                    &input,
                    format!("{} members, at most {MAX_ZIP_MEMBERS} read", archive.len()),
                ));
            }
            for i in 0..archive.len() {
                let f = archive
                    .by_index_raw(i)
                    .map_err(|e| ImportError::zip(&input, e.to_string()))?;
                if f.is_dir() {
                    continue;
                }
                if f.encrypted() {
                    return Err(ImportError::zip(
                        &input,
                        format!("member {:?} is encrypted", f.name()),
                    ));
                }
                let deflated = match f.compression() {
                    CompressionMethod::Stored => false,
                    CompressionMethod::Deflated => true,
                    m => {
                        return Err(ImportError::zip(
                            &input,
                            format!("member {:?}: compression {m} not supported", f.name()),
                        ));
                    }
                };
                zip.push(ZipEntry {
                    name: f.name().to_owned(),
                    data_start: f.data_start(),
                    compressed: f.compressed_size(),
                    size: f.size(),
                    crc: f.crc32(),
                    deflated,
                });
            }
        }
        Ok(Source {
            input,
            container,
            zip,
            next: 0,
        })
    }

    /// The container format found.
    pub fn container(&self) -> Container {
        self.container
    }

    /// The input.
    pub fn input(&self) -> &Input {
        &self.input
    }

    /// How many members the input has (1 unless zip).
    pub fn member_count(&self) -> usize {
        match self.container {
            Container::Zip => self.zip.len(),
            _ => 1,
        }
    }

    /// The next member, `None` after the last.
    pub fn next_member(&mut self) -> Result<Option<Member>, ImportError> {
        let i = self.next;
        self.next += 1;
        let io_err = |e| ImportError::io(&self.input, e);
        match self.container {
            Container::Plain | Container::Gzip if i == 0 => {
                let r = self.input.open().map_err(io_err)?;
                let reader: Box<dyn Read + Send> = if self.container == Container::Gzip {
                    Box::new(MultiGzDecoder::new(r))
                } else {
                    Box::new(r)
                };
                let bytes = match (&self.input, self.container) {
                    (Input::Bytes { data, .. }, Container::Plain) => Some(data.clone()),
                    _ => None,
                };
                Ok(Some(Member {
                    name: self.input.file_name(),
                    reader,
                    bytes,
                }))
            }
            Container::Zip if i < self.zip.len() => {
                let e = &self.zip[i];
                let mut r = self.input.open().map_err(io_err)?;
                r.seek(SeekFrom::Start(e.data_start)).map_err(io_err)?;
                let raw = r.take(e.compressed);
                let inner: Box<dyn Read + Send> = if e.deflated {
                    Box::new(DeflateDecoder::new(raw))
                } else {
                    Box::new(raw)
                };
                Ok(Some(Member {
                    name: e.name.clone(),
                    reader: Box::new(CrcCheck {
                        inner,
                        crc: flate2::Crc::new(),
                        len: 0,
                        want_crc: e.crc,
                        want_len: e.size,
                        name: e.name.clone(),
                    }),
                    bytes: None,
                }))
            }
            _ => Ok(None),
        }
    }
}

fn read_up_to<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Checks a zip member's CRC-32 and size when its end is reached.
struct CrcCheck {
    inner: Box<dyn Read + Send>,
    crc: flate2::Crc,
    len: u64,
    want_crc: u32,
    want_len: u64,
    name: String,
}

impl Read for CrcCheck {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if self.len != self.want_len || self.crc.sum() != self.want_crc {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "zip member {:?} corrupt: {} bytes with crc {:08x}, directory says {} bytes, crc {:08x}",
                        self.name,
                        self.len,
                        self.crc.sum(),
                        self.want_len,
                        self.want_crc
                    ),
                ));
            }
            return Ok(0);
        }
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        if self.len > self.want_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "zip member {:?} inflates past its declared {} bytes",
                    self.name, self.want_len
                ),
            ));
        }
        Ok(n)
    }
}
