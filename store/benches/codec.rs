//! Append and decode throughput on the SPY trades of 2013-10-08 (451,545 ticks).
//!
//! `cargo bench -p store --bench codec`

#[path = "common/mod.rs"]
mod data;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mtf::Tick;
use store::{EncodeScratch, FsyncPolicy, StoreConfig, StoreWriter, decode_ticks, encode_ticks};

fn spy_day() -> Option<Vec<Tick>> {
    let root = data::shared_data()?;
    let f = data::spy_files(&root)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("20131008"))?;
    let t = data::load_lean_trades(&f, 0);
    assert_eq!(t.len(), 451_545, "the README's row count");
    Some(t)
}

fn benches(c: &mut Criterion) {
    let Some(ticks) = spy_day() else { return };
    let n = ticks.len() as u64;

    // behaviour first: every block decodes to what was encoded
    let mut blocks = Vec::new();
    let mut s = EncodeScratch::default();
    for chunk in ticks.chunks(65_536) {
        let mut raw = Vec::new();
        encode_ticks(chunk, &mut raw, &mut s);
        let mut back = Vec::new();
        decode_ticks(&raw, chunk.len(), 0, &mut back).unwrap();
        assert_eq!(back, chunk);
        blocks.push((raw, chunk.len()));
    }

    let mut g = c.benchmark_group("spy-2013-10-08");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);

    g.bench_function("encode columns (65,536-tick blocks)", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for chunk in ticks.chunks(65_536) {
                out.clear();
                encode_ticks(chunk, &mut out, &mut s);
            }
            out.len()
        })
    });

    g.bench_function("decode columns (65,536-tick blocks)", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut k = 0;
            for (raw, len) in &blocks {
                decode_ticks(raw, *len, 0, &mut out).unwrap();
                k += out.len();
            }
            k
        })
    });

    let zblocks: Vec<(Vec<u8>, usize, usize)> = blocks
        .iter()
        .map(|(raw, len)| (zstd::bulk::compress(raw, 15).unwrap(), raw.len(), *len))
        .collect();
    g.bench_function("decode sealed blocks (zstd-15 + columns)", |b| {
        let mut out = Vec::new();
        let mut raw = Vec::new();
        let mut dz = zstd::bulk::Decompressor::new().unwrap();
        b.iter(|| {
            let mut k = 0;
            for (z, rawlen, len) in &zblocks {
                raw.clear();
                raw.reserve(*rawlen);
                dz.decompress_to_buffer(z, &mut raw).unwrap();
                decode_ticks(&raw, *len, 0, &mut out).unwrap();
                k += out.len();
            }
            k
        })
    });

    g.bench_function(
        "append (StoreWriter, stage + lz4 blocks, fsync never)",
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let cfg = StoreConfig {
                        fsync: FsyncPolicy::Never,
                        ..StoreConfig::default()
                    };
                    let w = StoreWriter::open(dir.path(), 0, cfg).unwrap();
                    (dir, w)
                },
                |(dir, mut w)| {
                    for t in &ticks {
                        w.append_tick(t).unwrap();
                    }
                    w.flush().unwrap();
                    (dir, w)
                },
                BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

criterion_group!(codec, benches);
criterion_main!(codec);
