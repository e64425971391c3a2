//! The pipeline started in-process (as the bench crate does): ticks injected
//! through [`Dispatcher`]s come out of the ring as the same bars the `mtf`
//! aggregator builds on its own, and a shutdown drains everything.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use engine::config::Config;
use engine::pipeline::{Engine, EngineOptions, agg_config};
use engine::stats::{Counter, Stage};
use mtf::{Aggregator, Bar, BarEvent, BarEventKind, Side, Tick, Timeframe};
use ring::{BarKind, ReaderOptions, Received, Record, StartAt, Subscriber};

fn config(dir: &Path, extra: &[&str]) -> Config {
    let mut o: Vec<String> = vec![
        format!("daemon.data_dir={}", dir.join("data").display()),
        format!("ring.path={}", dir.join("tickd.ring").display()),
        format!("ring.snapshot_path={}", dir.join("tickd.snap").display()),
        "ring.capacity=262144".into(),
        "store.enabled=false".into(),
        "metrics.listen=127.0.0.1:0".into(),
        "report.interval=0s".into(),
        "ingest.cores=[]".into(),
        "workers.cores=[]".into(),
        "workers.queue_capacity=1024".into(),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    Config::load(None, &o).unwrap()
}

/// A deterministic random walk over `symbols`, event times increasing by 0-40 ms.
fn walk(symbols: &[u32], n: usize, seed: u64) -> Vec<Tick> {
    let mut x = seed;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut px = vec![100.0f64; symbols.len()];
    (0..n)
        .map(|i| {
            let k = (rnd() % symbols.len() as u64) as usize;
            ts += (rnd() % 40_000_000) as i64;
            px[k] = (px[k] + ((rnd() % 201) as f64 - 100.0) * 0.01).max(1.0);
            let side = if rnd() % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            if rnd() % 4 == 0 {
                Tick::quote(symbols[k], ts, px[k] - 0.01, 3.0, px[k] + 0.01, 4.0)
            } else {
                Tick::trade(
                    symbols[k],
                    ts,
                    px[k],
                    (rnd() % 100 + 1) as f64,
                    side,
                    i as u64,
                )
            }
        })
        .collect()
}

fn reference(cfg: &Config, ticks: &[Tick]) -> BTreeMap<(u32, Timeframe, i64, bool), Bar> {
    let mut tr = Aggregator::new(agg_config(cfg, false)).unwrap();
    let mut qu = Aggregator::new(agg_config(cfg, true)).unwrap();
    let mut out: Vec<BarEvent> = Vec::new();
    for t in ticks {
        if t.is_trade() {
            tr.update(t, &mut out);
        } else {
            qu.update(t, &mut out);
        }
    }
    out.iter()
        .filter(|e| e.kind == BarEventKind::Closed)
        .map(|e| {
            let b = e.bar;
            (
                (
                    b.symbol,
                    b.timeframe,
                    b.start,
                    b.flags & Bar::FLAG_QUOTES != 0,
                ),
                b,
            )
        })
        .collect()
}

fn read_ring(dir: &Path, workers: usize) -> BTreeMap<(u32, Timeframe, i64, bool), Bar> {
    let mut got = BTreeMap::new();
    for w in 0..workers {
        let sfx = if w == 0 {
            String::new()
        } else {
            format!(".{w}")
        };
        let opts = ReaderOptions {
            start: StartAt::Oldest,
            require_live: false,
            ..ReaderOptions::default()
        };
        let mut sub = Subscriber::open(
            dir.join(format!("tickd.ring{sfx}")),
            dir.join(format!("tickd.snap{sfx}")),
            &opts,
        )
        .unwrap();
        while let Some(r) = sub.next() {
            match r {
                Received::Record {
                    record: Record::Bar { kind, bar },
                    ..
                } => {
                    assert_eq!(kind, BarKind::Closed);
                    let key = (
                        bar.symbol,
                        bar.timeframe,
                        bar.start,
                        bar.flags & Bar::FLAG_QUOTES != 0,
                    );
                    assert!(got.insert(key, bar).is_none(), "bar twice: {key:?}");
                }
                Received::Lapped { lost } => panic!("lapped, lost {lost}"),
                _ => {}
            }
        }
    }
    got
}

#[test]
fn injected_ticks_become_the_reference_bars_in_the_ring() {
    injected_ticks_become_the_reference_bars(&["workers.mode=\"threads\"", "workers.threads=2"], 2);
}

#[test]
fn injected_ticks_become_the_reference_bars_in_the_ring_inline() {
    injected_ticks_become_the_reference_bars(&["workers.mode=\"inline\""], 1);
}

fn injected_ticks_become_the_reference_bars(sets: &[&str], rings: usize) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), sets);
    let mut engine = Engine::start(
        cfg.clone(),
        EngineOptions {
            injectors: 1,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let ids: Vec<u32> = ["AAA", "BBB", "CCC", "DDD", "EEE"]
        .iter()
        .map(|n| engine.symbols().intern(n.parse().unwrap()).unwrap())
        .collect();
    let ticks = walk(&ids, 100_000, 42);
    let mut inj = engine.take_injectors().pop().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    inj.begin_batch();
    for (i, t) in ticks.iter().enumerate() {
        if i % 64 == 0 {
            inj.end_batch();
            inj.begin_batch();
        }
        let t = t.with_recv(inj.batch_time());
        inj.offer_wait(&t, &stop);
    }
    drop(inj);
    let symbols = engine.symbols().clone();
    let summary = engine.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(summary.processed, ticks.len() as u64);

    // Quote bars travel under the companion symbol `NAME~q`.
    let mut want = BTreeMap::new();
    for ((sym, tf, start, q), mut b) in reference(&cfg, &ticks) {
        if q {
            let name = format!("{}~q", symbols.name(sym).unwrap().as_str());
            b.symbol = symbols.get(&name.parse().unwrap()).unwrap();
        }
        want.insert((b.symbol, tf, start, q), b);
    }
    let got = read_ring(dir.path(), rings);
    assert!(want.len() > 1000, "{}", want.len());
    assert_eq!(got.len(), want.len());
    for (k, b) in &want {
        assert_eq!(got.get(k), Some(b), "{k:?}");
    }
}

#[test]
fn inline_mode_refuses_more_than_one_producer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &["workers.mode=\"inline\""]);
    let opts = EngineOptions {
        injectors: 2,
        ..EngineOptions::default()
    };
    let err = Engine::start(cfg, opts)
        .err()
        .expect("two producers refused");
    assert!(
        err.to_string().starts_with(
            "workers.mode = \"inline\" needs exactly one ingest thread or injector (got 2)"
        ),
        "{err}"
    );
}

#[test]
fn stats_count_every_tick_and_latency_stage() {
    stats_count_every_tick("threads", 2);
}

#[test]
fn stats_count_every_tick_and_latency_stage_inline() {
    stats_count_every_tick("inline", 1);
}

fn stats_count_every_tick(mode: &str, injectors: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mode = format!("workers.mode=\"{mode}\"");
    let cfg = config(dir.path(), &["ring.enabled=false", &mode]);
    let mut engine = Engine::start(
        cfg,
        EngineOptions {
            injectors: injectors as usize,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let id = engine.symbols().intern("XYZ".parse().unwrap()).unwrap();
    let stats = engine.stats().clone();
    let injs = engine.take_injectors();
    let handles: Vec<_> = injs
        .into_iter()
        .enumerate()
        .map(|(k, mut inj)| {
            std::thread::spawn(move || {
                let stop = std::sync::atomic::AtomicBool::new(false);
                let now = inj.begin_batch();
                for i in 0..10_000u64 {
                    let price = if i % 100 == 7 { f64::NAN } else { 10.0 };
                    let t =
                        Tick::trade(id, now - 1_000_000_000 + i as i64, price, 1.0, Side::Buy, i)
                            .with_recv(now);
                    inj.offer_wait(&t, &stop);
                }
                inj.end_batch();
                k
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    engine.shutdown(Duration::from_secs(10)).unwrap();
    let s = stats.snapshot();
    let (all, kept) = (10_000 * injectors, 9_900 * injectors);
    assert_eq!(s.counter(Counter::Received), all);
    assert_eq!(s.rejected(ingest::Reject::Price), 100 * injectors);
    assert_eq!(s.counter(Counter::Accepted), kept);
    assert_eq!(s.counter(Counter::Processed), kept);
    assert_eq!(s.latency(Stage::EndToEnd).len(), kept);
    assert_eq!(s.latency(Stage::QueueWait).len(), kept);
    assert_eq!(s.latency(Stage::RecvToEnqueue).len(), kept);
    assert_eq!(s.latency(Stage::Aggregate).len(), kept);
}
