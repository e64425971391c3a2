//! How fast the load generator makes and encodes ticks (it must outrun tickd).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ingest::SymbolName;
use ingest::wire::{FrameEncoder, WireMsg};

use bench::frames::{FrameBuilder, NameCache};
use bench::load::ilp_line;
use bench::synth::{Synth, SynthConfig};

fn encode(c: &mut Criterion) {
    const N: usize = 100_000;
    let ticks = Synth::new(SynthConfig {
        symbols: 100,
        ..SynthConfig::default()
    })
    .take_vec(N);
    let name = SymbolName::new(b"S0042").unwrap();
    let mut g = c.benchmark_group("loadgen");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("synth", |b| {
        let mut s = Synth::new(SynthConfig::default());
        b.iter(|| {
            let mut acc = 0.0;
            for _ in 0..N {
                acc += s.next_tick().price;
            }
            acc
        })
    });
    // What scenarios 1 and 2 and tickload generate: 100 symbols, skewed, 1 µs gaps.
    g.bench_function("synth_skewed_100", |b| {
        let mut s = Synth::new(SynthConfig {
            symbols: 100,
            mean_gap_ns: 1_000,
            skew: 1.0,
            ..SynthConfig::default()
        });
        b.iter(|| {
            let mut acc = 0.0;
            for _ in 0..N {
                acc += s.next_tick().price;
            }
            acc
        })
    });
    // Both TCP encoders append finished frames to a send buffer that is
    // emptied at 256 KiB, as the sender's `write_all` does at the maximum rate.
    const SEND: usize = 256 << 10;
    g.bench_function("wire_tcp_64k_frames", |b| {
        let mut enc = FrameEncoder::new_tcp(1, 0, 65_536).unwrap();
        let mut out = Vec::with_capacity(SEND + 2 * 65_540);
        b.iter(|| {
            let mut bytes = 0usize;
            for t in &ticks {
                let m = WireMsg::from_tick(t, name);
                if enc.push(&m).is_err() {
                    out.extend_from_slice(enc.finish(0));
                    if out.len() >= SEND {
                        bytes += out.len();
                        out.clear();
                    }
                    enc.push(&m).unwrap();
                }
            }
            out.extend_from_slice(enc.finish(0));
            bytes += out.len();
            out.clear();
            bytes
        })
    });
    // The load generator's encoder (same bytes as FrameEncoder, into the send buffer).
    g.bench_function("frames_tcp_64k", |b| {
        let mut fb = FrameBuilder::new(1, 0, 65_536, true).unwrap();
        let mut names = NameCache::default();
        let mut out = Vec::with_capacity(SEND + 2 * 65_540);
        b.iter(|| {
            let mut bytes = 0usize;
            for t in &ticks {
                let n = names.get(t.symbol, |_| name);
                if !fb.push(&mut out, t, &n) {
                    fb.finish(&mut out, 0);
                    if out.len() >= SEND {
                        bytes += out.len();
                        out.clear();
                    }
                    fb.push(&mut out, t, &n);
                }
            }
            fb.finish(&mut out, 0);
            bytes += out.len();
            out.clear();
            bytes
        })
    });
    g.bench_function("ilp_lines", |b| {
        let mut out = Vec::with_capacity(N * 96);
        b.iter(|| {
            out.clear();
            for t in &ticks {
                ilp_line(&mut out, t, &name);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
