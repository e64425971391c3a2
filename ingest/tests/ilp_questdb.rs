//! The ILP listener fed by the real `questdb` Python client (PyPI `questdb`),
//! over TCP with the conf string `tcp::addr=127.0.0.1:PORT;`: every row must
//! arrive intact, in order.
//!
//! Skips (with a visible `SKIP:` line) when `python3` or the client is
//! missing; CI installs it with `python3 -m pip install questdb`.
//! `TICKD_PYTHON` overrides the interpreter.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::SymbolTable;
use ingest::net::{Listener, Receiver, ReceiverConfig};
use ingest::sink::VecSink;
use mtf::{Side, Tick, TickKind};

const T0: i64 = 1_763_700_000_000_000_000;

fn python() -> String {
    std::env::var("TICKD_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn have_client(py: &str) -> bool {
    Command::new(py)
        .args(["-c", "import questdb.ingress"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python string literal.
fn py_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

struct Row {
    name: String,
    tick: Tick,
    /// Sent without a timestamp (the receiver stamps its receive time).
    server_time: bool,
}

fn rows() -> Vec<Row> {
    let names = [
        "SPY",
        "BTC USDT",
        "EUR,USD",
        "A=B",
        "back\\slash",
        "ABCDEFGHIJKLMNOP",
        "x\"q",
    ];
    let mut out = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..3000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let name = names[(x % names.len() as u64) as usize].to_string();
        let ts = T0 + (i as i64) * 1_000_003;
        let price = 1.0 + (x % 1_000_000) as f64 / 7.0;
        let tick = if i % 3 == 2 {
            let mut q = Tick::quote(
                0,
                ts,
                price,
                (x % 500) as f64,
                price * 1.0001,
                0.5 + (x % 9) as f64,
            );
            q.id = 0;
            q
        } else {
            let side = [Side::Buy, Side::Sell, Side::Unknown][(x % 3) as usize];
            let size = if i % 2 == 0 {
                (x % 10_000) as f64
            } else {
                (x % 10_000) as f64 / 1e6
            };
            Tick::trade(0, ts, price, size, side, i + 1)
        };
        out.push(Row {
            name,
            tick,
            server_time: i % 97 == 0,
        });
    }
    out
}

fn script(port: u16, rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("import sys\n");
    s.push_str("try:\n    from questdb.ingress import Sender, TimestampNanos, ServerTimestamp\n");
    s.push_str(
        "except ImportError:\n    from questdb import Sender, TimestampNanos, ServerTimestamp\n",
    );
    let _ = writeln!(
        s,
        "with Sender.from_conf(\"tcp::addr=127.0.0.1:{port};\") as q:"
    );
    for r in rows {
        let t = &r.tick;
        let at = if r.server_time {
            "ServerTimestamp".to_string()
        } else {
            format!("TimestampNanos({})", t.ts_event)
        };
        let sym = py_str(&r.name);
        match t.kind {
            TickKind::Trade => {
                let side = match t.side {
                    Side::Buy => ", \"side\": \"buy\"",
                    Side::Sell => ", \"side\": \"sell\"",
                    Side::Unknown => "",
                };
                let size = if t.size.fract() == 0.0 {
                    format!("{}", t.size as i64) // a Python int: sent with the `i` suffix
                } else {
                    format!("{:?}", t.size)
                };
                let _ = writeln!(
                    s,
                    "    q.row(\"trades\", symbols={{\"symbol\": {sym}{side}}}, columns={{\"price\": {:?}, \"amount\": {size}, \"id\": {}, \"venue\": \"X\"}}, at={at})",
                    t.price, t.id
                );
            }
            TickKind::Quote => {
                let _ = writeln!(
                    s,
                    "    q.row(\"quotes\", symbols={{\"symbol\": {sym}}}, columns={{\"bid\": {:?}, \"ask\": {:?}, \"bid_size\": {:?}, \"ask_size\": {:?}}}, at={at})",
                    t.price, t.ask, t.size, t.ask_size
                );
            }
        }
    }
    s.push_str("    q.flush()\nprint('sent', file=sys.stderr)\n");
    s
}

/// Kills and reaps the child on every way out of the test.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn questdb_python_client_rows_arrive_intact() {
    let py = python();
    if !have_client(&py) {
        eprintln!("SKIP: questdb Python client not available (python3 -m pip install questdb)");
        return;
    }
    let cfg = ReceiverConfig {
        ilp_tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..ReceiverConfig::default()
    };
    let table = Arc::new(SymbolTable::new(100));
    let mut rx = Receiver::bind(&cfg, table.clone(), VecSink::with_capacity(10_000)).unwrap();
    let port = rx.local_addr(Listener::IlpTcp).unwrap().port();
    let rows = rows();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("send.py");
    std::fs::write(&path, script(port, &rows)).unwrap();
    let mut child = Reaped(Command::new(&py).arg(&path).spawn().unwrap());
    let start = Instant::now();
    let mut exited = None;
    while rx.sink().ticks.len() < rows.len() || exited.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: {:?}",
            rx.stats()
        );
        rx.poll_once(Some(Duration::from_millis(5))).unwrap();
        if exited.is_none() {
            exited = child.0.try_wait().unwrap();
        }
        if exited.is_some_and(|s| !s.success()) {
            panic!("python client failed: {exited:?}");
        }
    }
    // Let the close be seen too.
    let t = Instant::now();
    while rx.stats().net.tcp_closed == 0 && t.elapsed() < Duration::from_secs(5) {
        rx.poll_once(Some(Duration::from_millis(5))).unwrap();
    }
    let st = rx.stats();
    assert_eq!(st.ilp.malformed_total(), 0, "{st:?}");
    assert_eq!(st.ilp.rejects.total(), 0, "{st:?}");
    let got = &rx.sink().ticks;
    assert_eq!(got.len(), rows.len());
    for (i, (g, r)) in got.iter().zip(&rows).enumerate() {
        let mut want = r.tick;
        want.symbol = g.symbol;
        want.ts_recv = g.ts_recv;
        if r.server_time {
            assert!(g.ts_event >= T0 && g.ts_event == g.ts_recv, "row {i}");
            want.ts_event = g.ts_event;
        }
        assert_eq!(*g, want, "row {i}");
        assert_eq!(table.name(g.symbol).unwrap().as_str(), r.name, "row {i}");
    }
}
