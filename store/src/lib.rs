//! store (work in progress: see the issues).
