//! One core parses ILP: how many lines per second?
//!
//! Measured in thread CPU time (see `common/cpu_time.rs`; `TICKD_BENCH_WALL=1`
//! for wall time).
//!
//! `cargo bench -p ingest --bench ilp_parse`
//!
//! Input: 10,000 lines as QuestDB's Python client writes them (trades with
//! symbol and side tags, price, integer amount, id, designated timestamp; one
//! line in four a quote), 16 symbols, parsed by the stream parser into a
//! caller buffer with symbol ids and validation.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;
use ingest::ilp::{IlpConfig, IlpParser, IlpStream};
use ingest::{SymbolCache, SymbolTable, Validator};
use mtf::Tick;

const NOW: i64 = 1_763_700_000_000_000_000;

fn input() -> (Vec<u8>, usize) {
    let mut s = String::new();
    let n = 10_000;
    for i in 0..n {
        let ts = NOW - 10_000_000 + i as i64 * 997;
        if i % 4 == 3 {
            let _ = writeln!(
                s,
                "quotes,symbol=SYM{:02} bid={}.{:02},ask={}.{:02},bid_size={}i,ask_size={}.5 {ts}",
                i % 16,
                100 + i % 7,
                i % 100,
                101 + i % 7,
                i % 100,
                100 + i % 900,
                i % 50
            );
        } else {
            let _ = writeln!(
                s,
                "trades,symbol=SYM{:02},side={} price={}.{:02},amount={}i,id={}i {ts}",
                i % 16,
                if i % 2 == 0 { "buy" } else { "sell" },
                100 + i % 7,
                i % 100,
                1 + i % 500,
                i
            );
        }
    }
    (s.into_bytes(), n)
}

fn bench(c: &mut Criterion<CpuTime>) {
    let (buf, lines) = input();
    let table = Arc::new(SymbolTable::new(1024));
    let mut p = IlpParser::new(
        &IlpConfig::default(),
        SymbolCache::new(table),
        Validator::history(),
    )
    .unwrap();
    let mut out = vec![Tick::default(); lines];
    let mut st = IlpStream::default();
    let r = p.parse_buf(&mut st, &buf, false, NOW, &mut out);
    assert_eq!((r.ticks, r.consumed), (lines, buf.len()));
    assert_eq!(p.counts.malformed_total() + p.counts.rejects.total(), 0);

    let mut g = c.benchmark_group("ilp_parse");
    g.throughput(Throughput::Elements(lines as u64));
    g.bench_function("parse_buf", |b| {
        b.iter(|| {
            p.parse_buf(&mut st, black_box(&buf), false, NOW, &mut out)
                .ticks
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime::from_env());
    targets = bench
}
criterion_main!(benches);
