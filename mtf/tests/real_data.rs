//! Issue 2, real data: Binance BTCUSDT perpetual trades (Tardis CSV, via
//! NautilusTrader) aggregated to 1s, 1m and 1h by the streaming aggregator
//! (fold and direct modes) and every batch kernel, against bars computed by a
//! plain loop written here, sharing no code with the crate (the CSV is parsed
//! here too).
//!
//! Data: `<repo>/../shared/data/nautilus_trader/tardis/trades.csv`, or
//! `$TICKD_SHARED_DATA/nautilus_trader/tardis/trades.csv`; skipped with a
//! visible message when absent.

use std::path::PathBuf;

use mtf::batch::{Avx2, Avx512, BatchSpec, Kernel, SortedColumns};
use mtf::{AggConfig, Aggregator, Bar, BarEventKind, Side, Tick, Timeframe};

fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("TICKD_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    dir.is_dir().then_some(dir)
}

struct Row {
    ts: i64,
    recv: i64,
    id: u64,
    buy: Option<bool>,
    price: f64,
    amount: f64,
}

/// `exchange,symbol,timestamp,local_timestamp,id,side,price,amount`, times in µs.
fn parse(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if n == 0 || line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 8, "line {n}: {line}");
        rows.push(Row {
            ts: f[2].parse::<i64>().unwrap() * 1000,
            recv: f[3].parse::<i64>().unwrap() * 1000,
            id: f[4].parse().unwrap(),
            buy: match f[5] {
                "buy" => Some(true),
                "sell" => Some(false),
                _ => None,
            },
            price: f[6].parse().unwrap(),
            amount: f[7].parse().unwrap(),
        });
    }
    rows
}

/// (start, open, high, low, close, volume, Σ price·amount, buy, sell, count, first, last)
type Plain = (i64, f64, f64, f64, f64, f64, f64, f64, f64, u64, i64, i64);

/// Bars by a plain loop over rows sorted by time.
fn plain_bars(rows: &[Row], width_ns: i64) -> Vec<Plain> {
    let mut out: Vec<Plain> = Vec::new();
    for r in rows {
        let start = r.ts - r.ts.rem_euclid(width_ns);
        let fresh = out.last().is_none_or(|b| b.0 != start);
        if fresh {
            out.push((
                start, r.price, r.price, r.price, r.price, 0.0, 0.0, 0.0, 0.0, 0, r.ts, r.ts,
            ));
        }
        let b = out.last_mut().unwrap();
        if r.price > b.2 {
            b.2 = r.price;
        }
        if r.price < b.3 {
            b.3 = r.price;
        }
        b.4 = r.price;
        b.5 += r.amount;
        b.6 += r.price * r.amount;
        match r.buy {
            Some(true) => b.7 += r.amount,
            Some(false) => b.8 += r.amount,
            None => {}
        }
        b.9 += 1;
        b.11 = r.ts;
    }
    out
}

fn close(a: f64, b: f64, exact: bool) -> bool {
    if exact {
        a == b
    } else {
        a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }
}

fn check(what: &str, got: &[Bar], want: &[Plain], exact_sums: bool) {
    assert_eq!(got.len(), want.len(), "{what}: bar count");
    for (g, w) in got.iter().zip(want) {
        let ctx = format!("{what}: {g:?} vs {w:?}");
        assert_eq!(
            (
                g.start, g.open, g.high, g.low, g.close, g.count, g.first_ts, g.last_ts
            ),
            (w.0, w.1, w.2, w.3, w.4, w.9, w.10, w.11),
            "{ctx}"
        );
        assert!(close(g.volume, w.5, exact_sums), "volume {ctx}");
        assert!(close(g.vwap_num, w.6, exact_sums), "vwap_num {ctx}");
        assert!(close(g.buy_volume, w.7, exact_sums), "buy {ctx}");
        assert!(close(g.sell_volume, w.8, exact_sums), "sell {ctx}");
        assert!(close(g.vwap, w.6 / w.5, false), "vwap {ctx}");
        assert_eq!(g.end - g.start, g.timeframe.nanos());
    }
}

#[test]
fn tardis_trades_match_a_plain_loop() {
    let Some(dir) = data_dir() else {
        eprintln!("SKIP: tardis trades test (../shared/data not found)");
        return;
    };
    let path = dir.join("nautilus_trader/tardis/trades.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIP: tardis trades test ({} not readable)", path.display());
        return;
    };
    let rows = parse(&text);
    assert_eq!(rows.len(), 9_999);
    assert!(rows.windows(2).all(|w| w[0].ts <= w[1].ts));

    let tfs = [Timeframe::S1, Timeframe::M1, Timeframe::H1];
    let want: Vec<Vec<Plain>> = tfs.iter().map(|tf| plain_bars(&rows, tf.nanos())).collect();
    assert_eq!(want[2].len(), 3, "00:00 to 02:05 UTC is three 1h bars");

    let ticks: Vec<Tick> = rows
        .iter()
        .map(|r| {
            let side = match r.buy {
                Some(true) => Side::Buy,
                Some(false) => Side::Sell,
                None => Side::Unknown,
            };
            Tick::trade(3, r.ts, r.price, r.amount, side, r.id).with_recv(r.recv)
        })
        .collect();

    // Streaming, fold (sums within 1e-12) and direct (sums bit-equal).
    for fold in [true, false] {
        let mut agg = Aggregator::new(AggConfig {
            timeframes: tfs.to_vec(),
            fold,
            ..AggConfig::default()
        })
        .unwrap();
        let mut out = Vec::with_capacity(agg.max_events_per_update());
        let mut bars: Vec<Vec<Bar>> = vec![Vec::new(); 3];
        for t in &ticks {
            agg.update(t, &mut out);
            for ev in out.drain(..) {
                assert_eq!(ev.kind, BarEventKind::Closed);
                let k = tfs.iter().position(|&tf| tf == ev.bar.timeframe).unwrap();
                bars[k].push(ev.bar);
            }
        }
        agg.flush(&mut out);
        for ev in out.drain(..) {
            let k = tfs.iter().position(|&tf| tf == ev.bar.timeframe).unwrap();
            bars[k].push(ev.bar);
        }
        assert_eq!(agg.folds(), fold);
        assert_eq!(agg.stats().applied, 9_999);
        for k in 0..3 {
            check(
                &format!("streaming fold={fold} {}", tfs[k]),
                &bars[k],
                &want[k],
                !fold,
            );
        }
    }

    // Batch, every kernel this CPU has.
    let ts: Vec<i64> = ticks.iter().map(|t| t.ts_event).collect();
    let px: Vec<f64> = ticks.iter().map(|t| t.price).collect();
    let sz: Vec<f64> = ticks.iter().map(|t| t.size).collect();
    let sd: Vec<Side> = ticks.iter().map(|t| t.side).collect();
    let cols = SortedColumns::new(&ts, &px, &sz, Some(&sd)).unwrap();
    let mut kernels = vec![Kernel::Scalar];
    kernels.extend(Avx2::detect().map(Kernel::Avx2));
    kernels.extend(Avx512::detect().map(Kernel::Avx512));
    for k in kernels {
        for (i, &tf) in tfs.iter().enumerate() {
            let spec = BatchSpec {
                symbol: 3,
                timeframe: tf,
                origin_ns: 0,
                flags: 0,
            };
            let mut bars = Vec::new();
            let st = k.aggregate(&cols, &spec, &mut bars);
            assert_eq!((st.rows, st.invalid), (9_999, 0));
            check(
                &format!("batch {k:?} {tf}"),
                &bars,
                &want[i],
                k == Kernel::Scalar,
            );
        }
    }
}
