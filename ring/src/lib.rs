//! ring (work in progress: see the issues).
