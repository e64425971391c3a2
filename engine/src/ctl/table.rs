//! Output helpers: bars and ticks as JSON objects, CSV rows, or table rows.

use mtf::{Bar, Tick, TickKind};
use serde_json::{Value, json};

/// A UTC timestamp `2024-08-09T00:00:01.273Z` (ns precision when needed).
pub fn ts_text(ns: i64) -> String {
    match jiff::Timestamp::from_nanosecond(ns as i128) {
        Ok(t) => format!("{t:?}"),
        Err(_) => ns.to_string(),
    }
}

/// A bar as a JSON object.
pub fn bar_json(kind: &str, name: &str, b: &Bar) -> Value {
    json!({
        "type": "bar",
        "kind": kind,
        "symbol": name,
        "symbol_id": b.symbol,
        "timeframe": b.timeframe.to_string(),
        "start": b.start,
        "end": b.end,
        "start_utc": ts_text(b.start),
        "open": b.open,
        "high": b.high,
        "low": b.low,
        "close": b.close,
        "volume": b.volume,
        "vwap": b.vwap,
        "buy_volume": b.buy_volume,
        "sell_volume": b.sell_volume,
        "count": b.count,
        "first_ts": b.first_ts,
        "last_ts": b.last_ts,
        "revision": b.revision,
        "quotes": b.flags & Bar::FLAG_QUOTES != 0,
        "filled": b.flags & Bar::FLAG_FILLED != 0,
    })
}

/// A tick as a JSON object.
pub fn tick_json(name: &str, t: &Tick) -> Value {
    match t.kind {
        TickKind::Trade => json!({
            "type": "trade",
            "symbol": name,
            "ts_event": t.ts_event,
            "ts_recv": t.ts_recv,
            "price": t.price,
            "size": t.size,
            "side": match t.side { mtf::Side::Buy => "buy", mtf::Side::Sell => "sell", mtf::Side::Unknown => "unknown" },
            "id": t.id,
            "flags": t.flags,
        }),
        TickKind::Quote => json!({
            "type": "quote",
            "symbol": name,
            "ts_event": t.ts_event,
            "ts_recv": t.ts_recv,
            "bid": t.price,
            "bid_size": t.size,
            "ask": t.ask,
            "ask_size": t.ask_size,
            "id": t.id,
            "flags": t.flags,
        }),
    }
}

/// Header of the bar table / CSV.
pub const BAR_COLUMNS: [&str; 12] = [
    "symbol",
    "timeframe",
    "start_utc",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "count",
    "revision",
    "kind",
];

/// A bar as table cells.
pub fn bar_cells(kind: &str, name: &str, b: &Bar) -> Vec<String> {
    vec![
        name.to_string(),
        b.timeframe.to_string(),
        ts_text(b.start),
        fmt_f(b.open),
        fmt_f(b.high),
        fmt_f(b.low),
        fmt_f(b.close),
        fmt_f(b.volume),
        fmt_f(b.vwap),
        b.count.to_string(),
        b.revision.to_string(),
        kind.to_string(),
    ]
}

/// Shortest exact float text.
pub fn fmt_f(v: f64) -> String {
    let mut b = ryu::Buffer::new();
    b.format(v).to_string()
}

/// Print rows as an aligned table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.len());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// A CSV field, quoted when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
