//! Software cost of one publish + one read, same thread, line in L1 (no
//! coherence traffic): what the library adds to a bare seqlock line per
//! record (`cargo run --release -p ring --example rt_overhead`).
use mtf::{Side, Tick};
use ring::{ReaderOptions, Received, Record, RingConfig, RingReader, RingWriter, StartAt};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let mut w = RingWriter::create(
        &path,
        &RingConfig {
            capacity: 1 << 16,
            group: None,
        },
    )
    .unwrap();
    let mut r = RingReader::open(
        &path,
        &ReaderOptions {
            start: StartAt::Newest,
            ..Default::default()
        },
    )
    .unwrap();
    let n = 20_000_000u64;
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut sum = 0u64;
        for i in 0..n {
            let t = Tick::trade(1, i as i64, 100.0, 1.0, Side::Buy, i).with_recv(i as i64);
            w.publish_tick(black_box(&t)).unwrap();
            if let Some(Received::Record {
                record: Record::Tick(t),
                ..
            }) = r.next()
            {
                sum = sum.wrapping_add(t.ts_recv as u64);
            }
        }
        let ns = t0.elapsed().as_nanos() as f64 / n as f64;
        println!("ring publish+next: {ns:.2} ns/record ({sum})");
        let t0 = Instant::now();
        for i in 0..n {
            let t = Tick::trade(1, i as i64, 100.0, 1.0, Side::Buy, i).with_recv(i as i64);
            w.publish_tick(black_box(&t)).unwrap();
        }
        println!(
            "ring publish only: {:.2} ns/record",
            t0.elapsed().as_nanos() as f64 / n as f64
        );
        w.touch();
        r = RingReader::open(
            &path,
            &ReaderOptions {
                start: StartAt::Newest,
                ..Default::default()
            },
        )
        .unwrap();
    }
}
