//! Pinning threads to cores, with a fallback when a core is missing.
//!
//! A configured core that the machine (or the process's CPU set, e.g. under
//! systemd's `CPUAffinity=`) does not have gives a warning and an unpinned
//! thread that still works: never a crash.

/// What happened when a thread asked for a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinned {
    /// Pinned to this core.
    Core(usize),
    /// No core was configured: runs wherever the scheduler puts it.
    NotConfigured,
    /// The core is not available here: runs unpinned.
    Unavailable(usize),
    /// The OS refused: runs unpinned.
    Refused(usize),
}

/// The cores this process may run on.
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// Pin the calling thread to `core` (if any). Logs a warning on fallback.
pub fn pin_current(thread: &str, core: Option<usize>) -> Pinned {
    let Some(core) = core else {
        return Pinned::NotConfigured;
    };
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    let Some(id) = ids.into_iter().find(|c| c.id == core) else {
        tracing::warn!(
            thread,
            core,
            available = ?available_cores(),
            "configured core is not available on this machine; the thread runs unpinned"
        );
        return Pinned::Unavailable(core);
    };
    if core_affinity::set_for_current(id) {
        tracing::debug!(thread, core, "pinned");
        Pinned::Core(core)
    } else {
        tracing::warn!(
            thread,
            core,
            "pinning refused by the OS; the thread runs unpinned"
        );
        Pinned::Refused(core)
    }
}

/// Warn once at start when two hot threads share a core (works, but they compete).
pub fn warn_on_shared_cores(ingest: &[usize], workers: &[usize]) {
    let mut all: Vec<usize> = ingest.iter().chain(workers).copied().collect();
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    if all.len() != before {
        tracing::warn!(
            ?ingest,
            ?workers,
            "two hot threads are pinned to the same core; they will compete for it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_core_falls_back() {
        let r = std::thread::spawn(|| pin_current("t", Some(100_000)))
            .join()
            .unwrap();
        assert_eq!(r, Pinned::Unavailable(100_000));
        assert_eq!(pin_current("t", None), Pinned::NotConfigured);
    }

    #[test]
    fn an_available_core_pins() {
        let cores = available_cores();
        if let Some(&c) = cores.first() {
            let r = std::thread::spawn(move || pin_current("t", Some(c)))
                .join()
                .unwrap();
            assert_eq!(r, Pinned::Core(c));
        }
    }
}
