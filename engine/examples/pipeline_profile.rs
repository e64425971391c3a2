//! The in-process pipeline of `benches/pipeline.rs`, once, for a profiler:
//! one injector offers N synthetic ticks (8 symbols) to the engine in the
//! given `workers.mode`, with or without the store, then shuts it down.
//!
//! ```text
//! cargo build --release -p engine --example pipeline_profile
//! valgrind --tool=callgrind --separate-threads=yes \
//!     target/release/examples/pipeline_profile inline store 200000
//! ```
//!
//! Instructions per tick of a thread: its `Ir` total over N (the fixed
//! start-up and shutdown cost is small beside 200,000 ticks).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use engine::config::Config;
use engine::pipeline::{Engine, EngineOptions};
use engine::synth::{Synth, SynthOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("inline", String::as_str);
    let store = args.get(2).is_some_and(|s| s == "store");
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let cfg = Config::load(
        None,
        &[
            format!("daemon.data_dir={}", dir.path().join("data").display()),
            format!("ring.path={}", dir.path().join("r").display()),
            format!("ring.snapshot_path={}", dir.path().join("s").display()),
            "ring.capacity=65536".into(),
            format!("store.enabled={store}"),
            "metrics.listen=".into(),
            "report.interval=0s".into(),
            "ingest.cores=[]".into(),
            "workers.cores=[]".into(),
            format!("workers.mode=\"{mode}\""),
        ],
    )
    .expect("config");
    let mut engine = Engine::start(
        cfg,
        EngineOptions {
            injectors: 1,
            ..EngineOptions::default()
        },
    )
    .expect("engine");
    let mut g = Synth::new(SynthOptions {
        symbols: 8,
        ..SynthOptions::default()
    });
    let ticks: Vec<mtf::Tick> = (0..n).map(|_| g.next_tick().0).collect();
    for i in 0..8 {
        let name = format!("SYN{i:04}").parse().expect("symbol name");
        engine.symbols().intern(name).expect("intern");
    }
    let mut inj = engine.take_injectors().pop().expect("one injector");
    let stop = AtomicBool::new(false);
    let mut now = inj.begin_batch();
    for (i, t) in ticks.iter().enumerate() {
        if i % 256 == 0 {
            inj.end_batch();
            now = inj.begin_batch();
        }
        inj.offer_wait(&t.with_recv(now), &stop);
    }
    inj.end_batch();
    drop(inj);
    let done = engine
        .shutdown(Duration::from_secs(60))
        .expect("clean shutdown");
    println!("{mode} store={store}: {} ticks processed", done.processed);
}
