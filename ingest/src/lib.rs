//! ingest (work in progress: see the issues).
