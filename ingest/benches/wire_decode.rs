//! One core decodes binary wire frames: how many ticks per second?
//!
//! Measured in thread CPU time (see `common/cpu_time.rs`; `TICKD_BENCH_WALL=1`
//! for wall time).
//!
//! `cargo bench -p ingest --bench wire_decode`
//!
//! Input: 1,000 UDP-sized frames (1376 bytes: 24 trades each, 16 symbols,
//! the layout a 1408-byte datagram budget gives), decoded three ways:
//! the layout check and message reads alone; the full decoder (symbol ids,
//! validation, `Tick`s into a caller buffer); and the full decoder behind the
//! sequence tracker, as the receiver runs it.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;
use ingest::seq::SeqTracker;
use ingest::wire::{FrameEncoder, FrameView, WireDecoder, WireMsg};
use ingest::{SymbolCache, SymbolTable, Validator};
use mtf::{Side, Tick};

const NOW: i64 = 1_763_700_000_000_000_000;

fn frames() -> (Vec<Vec<u8>>, usize) {
    let names: Vec<_> = (0..16)
        .map(|i| format!("SYM{i:02}").parse().unwrap())
        .collect();
    let mut e = FrameEncoder::new(1, 1, 1408).unwrap();
    let mut out = Vec::new();
    let mut n = 0;
    let mut i = 0u64;
    while out.len() < 1000 {
        let t = Tick::trade(
            0,
            NOW - 1_000 + i as i64,
            100.0 + (i % 13) as f64 * 0.01,
            1.0 + (i % 5) as f64,
            Side::Sell,
            i,
        );
        let m = WireMsg::from_tick(&t, names[(i % 16) as usize]);
        if e.push(&m).is_err() {
            out.push(e.finish(0).to_vec());
            e.push(&m).unwrap();
        }
        i += 1;
        n += 1;
    }
    let ticks = out
        .iter()
        .map(|f| FrameView::parse(f).unwrap().header.count as usize)
        .sum();
    let _ = n;
    (out, ticks)
}

fn bench(c: &mut Criterion<CpuTime>) {
    let (frames, ticks) = frames();
    let mut out = vec![Tick::default(); 64];
    let table = Arc::new(SymbolTable::new(1024));
    let mut dec = WireDecoder::new(SymbolCache::new(table), Validator::history());
    // behaviour before timing
    let mut total = 0;
    for f in &frames {
        total += dec.decode(f, NOW, &mut out).unwrap().ticks;
    }
    assert_eq!(total, ticks);
    assert_eq!(dec.counts.rejects.total(), 0);

    let mut g = c.benchmark_group("wire_decode");
    g.throughput(Throughput::Elements(ticks as u64));
    g.bench_function("layout_and_read", |b| {
        b.iter(|| {
            let mut s = 0u64;
            for f in &frames {
                for m in FrameView::parse(black_box(f)).unwrap().messages() {
                    s = s.wrapping_add(m.id).wrapping_add(m.price.to_bits());
                }
            }
            s
        })
    });
    g.bench_function("decode_to_ticks", |b| {
        b.iter(|| {
            let mut s = 0usize;
            for f in &frames {
                s += dec.decode(black_box(f), NOW, &mut out).unwrap().ticks;
            }
            s
        })
    });
    g.bench_function("decode_with_seq", |b| {
        let mut seq = SeqTracker::new(16);
        let mut base = 0u64;
        b.iter(|| {
            let mut s = 0usize;
            for f in &frames {
                let v = FrameView::parse(black_box(f)).unwrap();
                let mut h = v.header;
                h.seq += base; // every round is new data to the tracker
                let skip = seq.check(7, &h, NOW);
                s += dec.decode_from(&v, skip, NOW, &mut out).unwrap().ticks;
            }
            base += ticks as u64;
            s
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
