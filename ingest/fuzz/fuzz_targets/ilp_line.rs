//! Fuzz target: the ILP stream parser.
//!
//! Any bytes, parsed whole and parsed in two chunks split where the first
//! byte says: no panic, consumption never exceeds the input, and both ways
//! give the same ticks and the same counts (reassembly is invisible);
//! every tick passes the validator.
#![no_main]

use std::sync::Arc;

use ingest::ilp::{IlpConfig, IlpCounts, IlpParser, IlpStream};
use ingest::{SymbolCache, SymbolTable, Validator};
use libfuzzer_sys::fuzz_target;
use mtf::Tick;

const NOW: i64 = 1_900_000_000_000_000_000;

fn run(chunks: &[&[u8]]) -> (Vec<Tick>, IlpCounts, Vec<String>) {
    let table = Arc::new(SymbolTable::new(64));
    let cfg = IlpConfig {
        max_line: 64,
        ..IlpConfig::default()
    };
    let mut p =
        IlpParser::new(&cfg, SymbolCache::new(table.clone()), Validator::history()).unwrap();
    let mut st = IlpStream::default();
    let mut out = vec![Tick::default(); 4096];
    let mut ticks = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        buf.extend_from_slice(c);
        let eof = i + 1 == chunks.len();
        let r = p.parse_buf(&mut st, &buf, eof, NOW, &mut out);
        assert!(r.consumed <= buf.len());
        assert!(!eof || r.consumed == buf.len() || r.ticks == out.len());
        ticks.extend_from_slice(&out[..r.ticks]);
        buf.drain(..r.consumed);
    }
    let names = ticks
        .iter()
        .map(|t| table.name(t.symbol).unwrap().as_str().to_string())
        .collect();
    for t in &ticks {
        assert!(Validator::history().check(t, NOW).is_ok());
    }
    (ticks, p.counts, names)
}

fuzz_target!(|data: &[u8]| {
    let whole = run(&[data]);
    let cut = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (a, b) = data.split_at(cut);
    let split = run(&[a, b]);
    // Symbol ids depend on order of first sight, which is the same both ways.
    assert_eq!(whole.0, split.0);
    assert_eq!(whole.2, split.2);
    assert_eq!(whole.1, split.1);
});
