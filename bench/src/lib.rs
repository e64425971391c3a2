//! bench (work in progress: see the issues).
