//! Log output: tracing to standard error or to a file that SIGHUP reopens
//! (for logrotate's `postrotate kill -HUP`). Only cold threads log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Handle to reopen the log file.
#[derive(Clone)]
pub struct LogHandle {
    file: Option<(PathBuf, Arc<Mutex<File>>)>,
}

impl LogHandle {
    /// Reopen the log file (a no-op for standard error).
    pub fn reopen(&self) -> std::io::Result<()> {
        if let Some((path, f)) = &self.file {
            let new = open_append(path)?;
            *f.lock() = new;
        }
        Ok(())
    }

    /// A handle for tests and in-process engines: nothing to reopen.
    pub fn none() -> LogHandle {
        LogHandle { file: None }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

struct FileWriter(Arc<Mutex<File>>);

struct Guarded<'a>(parking_lot::MutexGuard<'a, File>);

impl Write for Guarded<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = Guarded<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        Guarded(self.0.lock())
    }
}

/// Install the global subscriber. `RUST_LOG` overrides `level`.
pub fn init(level: &str, file: Option<&Path>) -> std::io::Result<LogHandle> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    match file {
        None => {
            use std::io::IsTerminal;
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_thread_names(true)
                .try_init();
            Ok(LogHandle { file: None })
        }
        Some(path) => {
            let f = Arc::new(Mutex::new(open_append(path)?));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(FileWriter(f.clone()))
                .with_ansi(false)
                .with_thread_names(true)
                .try_init();
            Ok(LogHandle {
                file: Some((path.to_path_buf(), f)),
            })
        }
    }
}
