//! Process lifecycle: signals and systemd notifications.
//!
//! - [`Signals`]: SIGTERM and SIGINT ask for a drain-and-exit; SIGHUP asks to
//!   reopen the log file. The handlers only set flags (async-signal-safe);
//!   the daemon's control loop polls them.
//! - [`Notifier`]: `sd_notify` over the `NOTIFY_SOCKET` Unix datagram socket
//!   (path or abstract `@name`): `READY=1`, `STOPPING=1`, `WATCHDOG=1`,
//!   `STATUS=...`. A no-op when the variable is unset.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Flags set by signal handlers.
#[derive(Clone)]
pub struct Signals {
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    /// Install the handlers for SIGTERM, SIGINT and SIGHUP.
    pub fn install() -> std::io::Result<Signals> {
        let s = Signals::detached();
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, s.term.clone())?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, s.hup.clone())?;
        Ok(s)
    }

    /// Flags with no handler behind them (tests, in-process engines).
    pub fn detached() -> Signals {
        Signals {
            term: Arc::new(AtomicBool::new(false)),
            hup: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether a stop was asked for (SIGTERM, SIGINT, or [`Signals::request_stop`]).
    pub fn stop_requested(&self) -> bool {
        // Acquire: pairs with the handler's / request_stop's store.
        self.term.load(Ordering::Acquire)
    }

    /// Ask for a stop from code.
    pub fn request_stop(&self) {
        self.term.store(true, Ordering::Release);
    }

    /// Whether SIGHUP arrived since the last call (clears it).
    pub fn take_hup(&self) -> bool {
        self.hup.swap(false, Ordering::AcqRel)
    }
}

/// Sends sd_notify messages when `NOTIFY_SOCKET` is set.
pub struct Notifier {
    target: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|p| {
            let addr = socket_addr(&p)?;
            let sock = UnixDatagram::unbound().ok()?;
            Some((sock, addr))
        });
        let pid_ok = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && pid_ok)
            .map(Duration::from_micros);
        Notifier { target, watchdog }
    }

    /// Whether a notify socket is configured.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often to send `WATCHDOG=1` (half the configured timeout), if asked.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    /// Send one message (`READY=1`, `STOPPING=1`, ...). Errors are returned,
    /// not fatal: the daemon works without systemd.
    pub fn notify(&self, msg: &str) -> std::io::Result<()> {
        if let Some((sock, addr)) = &self.target {
            sock.send_to_addr(msg.as_bytes(), addr)?;
        }
        Ok(())
    }
}

fn socket_addr(p: &std::ffi::OsStr) -> Option<std::os::unix::net::SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = p.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name).ok()
    } else if bytes.starts_with(b"/") {
        std::os::unix::net::SocketAddr::from_pathname(p).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let addr = socket_addr(path.as_os_str()).unwrap();
        let n = Notifier {
            target: Some((UnixDatagram::unbound().unwrap(), addr)),
            watchdog: Some(Duration::from_secs(10)),
        };
        n.notify("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let k = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"READY=1");
        assert_eq!(n.watchdog_every(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn bad_socket_names_are_ignored() {
        assert!(socket_addr(std::ffi::OsStr::new("relative/path")).is_none());
        assert!(socket_addr(std::ffi::OsStr::new("@abstract-name")).is_some());
        let n = Notifier {
            target: None,
            watchdog: None,
        };
        assert!(n.notify("READY=1").is_ok());
        assert!(!n.enabled());
    }

    #[test]
    fn flags() {
        let s = Signals::detached();
        assert!(!s.stop_requested());
        s.request_stop();
        assert!(s.stop_requested());
        assert!(!s.take_hup());
    }
}
