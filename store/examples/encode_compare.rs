//! The column encoder against the previous one (kept frozen as
//! `store::encode_reference`), side by side in one process: thread CPU time
//! medians of interleaved runs on the SPY trades of 2013-10-08, in 65,536-
//! (sealed) and 4,096-tick (hot) blocks, plus encode + lz4 as a hot commit
//! does it. Checks first that both give the same bytes.
//!
//! `cargo run --release -p store --features reference-encoder --example encode_compare`

#[path = "../benches/common/mod.rs"]
mod data;

use store::encode_reference as old;

fn cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass; no other memory.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let Some(root) = data::shared_data() else {
        return;
    };
    let f = data::spy_files(&root)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("20131008"))
        .unwrap();
    let ticks = data::load_lean_trades(&f, 0);
    let n = ticks.len() as f64;
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let mut s = store::EncodeScratch::default();
    let mut rs = old::EncodeScratch::default();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    // APPEND_ONLY=1: only the append loop (for profiling it)
    let blocks: &[usize] = if std::env::var_os("APPEND_ONLY").is_some() {
        &[]
    } else {
        &[65_536, 4096]
    };
    for &block in blocks {
        for c in ticks.chunks(block) {
            a.clear();
            b.clear();
            store::encode_ticks(c, &mut a, &mut s);
            old::encode_ticks(c, &mut b, &mut rs);
            assert!(a == b, "the encoders disagree");
        }
        let (mut tn, mut to, mut tnz, mut toz) = (vec![], vec![], vec![], vec![]);
        let mut lz = Vec::new();
        for _ in 0..reps {
            let t = cpu();
            for c in ticks.chunks(block) {
                a.clear();
                old::encode_ticks(c, &mut a, &mut rs);
            }
            to.push(cpu() - t);
            let t = cpu();
            for c in ticks.chunks(block) {
                a.clear();
                store::encode_ticks(c, &mut a, &mut s);
            }
            tn.push(cpu() - t);
            let t = cpu();
            for c in ticks.chunks(block) {
                a.clear();
                old::encode_ticks(c, &mut a, &mut rs);
                lz.resize(lz4_flex::block::get_maximum_output_size(a.len()), 0);
                std::hint::black_box(lz4_flex::block::compress_into(&a, &mut lz).unwrap());
            }
            toz.push(cpu() - t);
            let t = cpu();
            for c in ticks.chunks(block) {
                a.clear();
                store::encode_ticks(c, &mut a, &mut s);
                lz.resize(lz4_flex::block::get_maximum_output_size(a.len()), 0);
                std::hint::black_box(lz4_flex::block::compress_into(&a, &mut lz).unwrap());
            }
            tnz.push(cpu() - t);
        }
        let r = |v: Vec<f64>| n / median(v) / 1e6;
        println!(
            "{block}-tick blocks: encode to columns old {:.1}M new {:.1}M ticks/s; encode + lz4 old {:.1}M new {:.1}M ticks/s",
            r(to),
            r(tn),
            r(toz),
            r(tnz)
        );
    }
    // lz4 alone over the encoded 4,096-tick blocks (the hot commit's compression)
    let raws: Vec<Vec<u8>> = ticks
        .chunks(4096)
        .map(|c| {
            let mut raw = Vec::new();
            store::encode_ticks(c, &mut raw, &mut s);
            raw
        })
        .collect();
    let bytes: usize = raws.iter().map(Vec::len).sum();
    let mut lz = Vec::new();
    let mut tl = Vec::new();
    let mut zbytes = 0;
    for _ in 0..reps {
        let t = cpu();
        zbytes = 0;
        for raw in &raws {
            lz.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
            zbytes += lz4_flex::block::compress_into(raw, &mut lz).unwrap();
        }
        tl.push(cpu() - t);
    }
    println!(
        "lz4 of the 4,096-tick blocks: {:.1}M ticks/s ({:.2} raw, {:.3} compressed bytes/tick)",
        n / median(tl) / 1e6,
        bytes as f64 / n,
        zbytes as f64 / n
    );
    // the whole append path (stage, blocks of 4,096, lz4, hot segment), new code only
    let mut ta = Vec::new();
    for _ in 0..reps {
        let dir = tempfile::tempdir().unwrap();
        let cfg = store::StoreConfig {
            fsync: store::FsyncPolicy::Never,
            ..store::StoreConfig::default()
        };
        let mut w = store::StoreWriter::open(dir.path(), 0, cfg).unwrap();
        let t = cpu();
        for x in &ticks {
            w.append_tick(x).unwrap();
        }
        w.flush().unwrap();
        ta.push(cpu() - t);
    }
    println!(
        "StoreWriter append (fsync never): {:.1}M ticks/s",
        n / median(ta) / 1e6
    );
}
