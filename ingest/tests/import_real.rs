//! Every real file in `../shared/data` (except the ITCH slice, which holds no
//! trades) imports with the row counts, times and price ranges its README states.
//!
//! The data lives beside the repository (`<repo>/../shared/data`, or
//! `$TICKD_SHARED_DATA`); without it each test prints `SKIP:` and passes.

use std::path::PathBuf;
use std::sync::Arc;

use ingest::import::{
    Format, ImportCounts, ImportOptions, Importer, Input, LeanOptions, RowError, Skip,
    days_from_civil,
};
use ingest::{SymbolCache, SymbolTable};
use mtf::{Side, Tick};

fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("TICKD_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    dir.is_dir().then_some(dir)
}

macro_rules! data_or_skip {
    () => {
        match data_dir() {
            Some(d) => d,
            None => {
                eprintln!("SKIP: real-data import test (../shared/data not found)");
                return;
            }
        }
    };
}

fn import(path: PathBuf, format: Format) -> (Vec<Tick>, ImportCounts, Arc<SymbolTable>) {
    let table = Arc::new(SymbolTable::new(64));
    let mut cache = SymbolCache::new(table.clone());
    let imp = Importer::open(Input::Path(path), ImportOptions::new(format)).unwrap();
    let mut ticks = Vec::new();
    let counts = imp.run(&mut cache, |b| ticks.extend_from_slice(b)).unwrap();
    assert!(counts.balanced(), "{counts}");
    (ticks, counts, table)
}

/// ns UTC of a wall-clock time at a fixed offset (hours east of UTC).
#[allow(clippy::too_many_arguments)]
fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64, offset_h: i64) -> i64 {
    ((days_from_civil(y, mo, d) * 86_400 + (h - offset_h) * 3600 + mi * 60 + s) * 1_000 + ms)
        * 1_000_000
}

fn range(it: impl Iterator<Item = f64>) -> (f64, f64) {
    it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

fn sorted(ticks: &[Tick]) -> bool {
    ticks.windows(2).all(|w| w[0].ts_event <= w[1].ts_event)
}

fn name(t: &SymbolTable, tick: &Tick) -> String {
    t.name(tick.symbol).unwrap().to_string()
}

#[test]
fn lean_equity_trades() {
    let dir = data_or_skip!();
    // file, rows, first (h, m, s, ms), last, price range, size range, suspicious
    type Row = (
        &'static str,
        u32,
        u64,
        [i64; 4],
        [i64; 4],
        (f64, f64),
        (f64, f64),
        usize,
    );
    let cases: [Row; 6] = [
        (
            "spy",
            20131007,
            250_601,
            [4, 0, 0, 464],
            [19, 59, 59, 536],
            (167.01, 168.90),
            (100.0, 3_166_418.0),
            0,
        ),
        (
            "spy",
            20131008,
            451_545,
            [4, 0, 17, 34],
            [19, 59, 58, 962],
            (165.16, 167.72),
            (40.0, 2_764_728.0),
            0,
        ),
        (
            "spy",
            20131009,
            439_677,
            [4, 0, 0, 924],
            [19, 59, 47, 840],
            (164.53, 166.33),
            (100.0, 6_211_548.0),
            0,
        ),
        (
            "spy",
            20131010,
            460_032,
            [4, 0, 0, 795],
            [19, 59, 36, 983],
            (165.57, 169.26),
            (100.0, 4_052_204.0),
            10,
        ),
        (
            "spy",
            20131011,
            285_605,
            [4, 0, 42, 164],
            [19, 59, 32, 543],
            (167.88, 170.57),
            (100.0, 4_162_639.0),
            0,
        ),
        (
            "bac",
            20131008,
            125_872,
            [5, 59, 8, 450],
            [19, 59, 53, 231],
            (13.67, 14.10),
            (90.0, 2_631_493.0),
            0,
        ),
    ];
    let mut total = 0;
    for (sym, date, rows, first, last, prices, sizes, suspicious) in cases {
        let path = dir.join(format!("lean/equity/usa/tick/{sym}/{date}_trade.zip"));
        let (ticks, c, table) = import(path, Format::Lean(LeanOptions::default()));
        let (y, mo, d) = ((date / 10_000) as i64, date / 100 % 100, date % 100);
        assert_eq!(
            (c.rows, c.ticks, c.total_errors()),
            (rows, rows, 0),
            "{sym} {date}: {c}"
        );
        assert_eq!(ticks.len() as u64, rows);
        // New York is on EDT (UTC−4) on these dates
        let t0 = ticks[0].ts_event;
        let t1 = ticks[ticks.len() - 1].ts_event;
        assert_eq!(
            t0,
            at(y, mo, d, first[0], first[1], first[2], first[3], -4),
            "{sym} {date}"
        );
        assert_eq!(
            t1,
            at(y, mo, d, last[0], last[1], last[2], last[3], -4),
            "{sym} {date}"
        );
        assert!(sorted(&ticks));
        assert_eq!(range(ticks.iter().map(|t| t.price)), prices, "{sym} {date}");
        assert_eq!(range(ticks.iter().map(|t| t.size)), sizes, "{sym} {date}");
        let sus = ticks
            .iter()
            .filter(|t| t.flags & Tick::FLAG_SUSPICIOUS != 0)
            .count();
        assert_eq!(sus, suspicious, "{sym} {date}");
        assert!(ticks.iter().all(|t| t.is_trade()
            && t.side == Side::Unknown
            && t.flags & Tick::FLAG_REPLAY != 0
            && t.ts_recv == t.ts_event));
        assert_eq!(name(&table, &ticks[0]), sym.to_uppercase());
        // every price is whole cents: the f64 is the decimal exactly as parsed from text
        for t in ticks.iter().step_by(997) {
            let cents = (t.price * 100.0).round();
            assert_eq!(
                t.price,
                format!("{}.{:02}", cents as i64 / 100, cents as i64 % 100)
                    .parse::<f64>()
                    .unwrap()
            );
        }
        total += rows;
    }
    assert_eq!(
        total - 125_872,
        1_887_460,
        "SPY total of the README's table"
    );
}

#[test]
fn lean_equity_quotes_one_sided() {
    let dir = data_or_skip!();
    let (ticks, c, _) = import(
        dir.join("lean/equity/usa/tick/bac/20131008_quote.zip"),
        Format::Lean(LeanOptions::default()),
    );
    assert_eq!(c.rows, 576_096, "{c}");
    // the first row has only a bid: nothing to give until the first ask arrives
    assert_eq!(c.skipped(Skip::OneSidedWarmup), 1);
    assert_eq!(c.ticks, 576_095);
    assert_eq!(c.total_errors(), 0);
    assert_eq!(ticks[0].ts_event, at(2013, 10, 8, 4, 0, 0, 142, -4));
    assert_eq!(
        ticks[ticks.len() - 1].ts_event,
        at(2013, 10, 8, 20, 0, 0, 97, -4)
    );
    assert!(sorted(&ticks));
    assert!(
        ticks
            .iter()
            .all(|t| t.is_quote() && t.flags & Tick::FLAG_ONE_SIDED != 0)
    );
    assert_eq!(range(ticks.iter().map(|t| t.bid())), (13.67, 13.89));
    assert_eq!(range(ticks.iter().map(|t| t.ask)), (13.68, 13.92));
    // the first rows, by hand: bid 13.80×1000 (warm-up), ask 13.92×500, bid, ask 13.91×1000
    let q = |t: &Tick| (t.price, t.size, t.ask, t.ask_size);
    assert_eq!(q(&ticks[0]), (13.80, 1000.0, 13.92, 500.0));
    assert_eq!(q(&ticks[1]), (13.80, 1000.0, 13.92, 500.0));
    assert_eq!(q(&ticks[2]), (13.80, 1000.0, 13.91, 1000.0));
    // README: 288,048 bid-only and 288,048 ask-only rows, counted in the raw CSV
    let f = std::fs::File::open(dir.join("lean/equity/usa/tick/bac/20131008_quote.zip")).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut z.by_index(0).unwrap(), &mut text).unwrap();
    let (mut bid_only, mut ask_only) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split(',').collect();
        match (f[1] != "0", f[3] != "0") {
            (true, false) => bid_only += 1,
            (false, true) => ask_only += 1,
            _ => panic!("two-sided or empty row {l}"),
        }
    }
    assert_eq!((bid_only, ask_only), (288_048, 288_048));
}

#[test]
fn lean_fxcm_quotes() {
    let dir = data_or_skip!();
    // day, rows, first, last (UTC−5), bid range
    type Row = (u32, u64, [i64; 4], [i64; 4], (f64, f64));
    let cases: [Row; 6] = [
        (
            4,
            8_025,
            [14, 0, 51, 815],
            [23, 59, 58, 346],
            (1.38645, 1.38874),
        ),
        (
            5,
            58_143,
            [0, 0, 3, 74],
            [23, 59, 58, 807],
            (1.38692, 1.38861),
        ),
        (
            6,
            102_682,
            [0, 0, 0, 339],
            [23, 59, 59, 577],
            (1.38756, 1.39514),
        ),
        (
            7,
            89_504,
            [0, 0, 1, 14],
            [23, 59, 59, 234],
            (1.39054, 1.39386),
        ),
        (
            8,
            167_466,
            [0, 0, 17, 7],
            [23, 59, 59, 235],
            (1.38319, 1.39938),
        ),
        (
            9,
            102_122,
            [0, 0, 0, 900],
            [15, 59, 11, 407],
            (1.37447, 1.38434),
        ),
    ];
    let mut total = 0;
    for (day, rows, first, last, bids) in cases {
        let path = dir.join(format!(
            "lean/forex/fxcm/tick/eurusd/201405{day:02}_quote.zip"
        ));
        let (ticks, c, table) = import(path, Format::Lean(LeanOptions::default()));
        assert_eq!((c.rows, c.ticks), (rows, rows), "{day}: {c}");
        assert_eq!(
            ticks[0].ts_event,
            at(2014, 5, day, first[0], first[1], first[2], first[3], -5)
        );
        assert_eq!(
            ticks[ticks.len() - 1].ts_event,
            at(2014, 5, day, last[0], last[1], last[2], last[3], -5)
        );
        assert!(sorted(&ticks));
        assert_eq!(range(ticks.iter().map(|t| t.bid())), bids, "{day}");
        assert_eq!(name(&table, &ticks[0]), "EURUSD");
        if day == 8 {
            // locked and crossed books are real data and pass validation
            assert_eq!(ticks.iter().filter(|t| t.price == t.ask).count(), 19_051);
            assert_eq!(ticks.iter().filter(|t| t.price > t.ask).count(), 18_285);
        }
        total += rows;
    }
    assert_eq!(total, 527_942);
}

#[test]
fn tardis_trades() {
    let dir = data_or_skip!();
    let (ticks, c, table) = import(
        dir.join("nautilus_trader/tardis/trades.csv"),
        Format::Tardis,
    );
    assert_eq!(
        (c.rows, c.ticks, c.skipped(Skip::Header)),
        (9_999, 9_999, 1),
        "{c}"
    );
    assert_eq!(ticks[0].ts_event, at(2020, 2, 22, 0, 0, 2, 111, 0));
    assert_eq!(ticks[9_998].ts_event, at(2020, 2, 22, 2, 5, 47, 728, 0));
    assert_eq!(ticks[0].ts_recv, 1_582_329_602_418_379_000);
    assert!(sorted(&ticks));
    assert_eq!(ticks.iter().filter(|t| t.side == Side::Buy).count(), 5_267);
    assert_eq!(ticks.iter().filter(|t| t.side == Side::Sell).count(), 4_732);
    assert_eq!(range(ticks.iter().map(|t| t.price)), (9_653.07, 9_710.70));
    assert_eq!(range(ticks.iter().map(|t| t.size)), (0.001, 23.139));
    assert_eq!(ticks[0].id, 42_377_944);
    assert_eq!(name(&table, &ticks[0]), "BTCUSDT");
}

#[test]
fn tardis_quotes() {
    let dir = data_or_skip!();
    let (ticks, c, _) = import(
        dir.join("nautilus_trader/tardis/quotes.csv"),
        Format::Tardis,
    );
    assert_eq!((c.rows, c.ticks), (9_999, 9_999), "{c}");
    assert_eq!(ticks[0].ts_event, at(2020, 2, 22, 0, 0, 1, 96, 0));
    assert_eq!(ticks[9_998].ts_event, at(2020, 2, 22, 0, 3, 47, 61, 0));
    assert!(sorted(&ticks));
    let (lo, hi) = range(ticks.iter().flat_map(|t| [t.price, t.ask]));
    assert_eq!((lo, hi), (9_666.66, 9_684.70));
    let (lo, hi) = range(ticks.iter().flat_map(|t| [t.size, t.ask_size]));
    assert_eq!((lo, hi), (0.001, 29.15));
    assert_eq!(
        (
            ticks[0].price,
            ticks[0].size,
            ticks[0].ask,
            ticks[0].ask_size
        ),
        (9681.92, 0.67, 9682.0, 0.84)
    );
}

#[test]
fn hftbacktest_binance_capture() {
    let dir = data_or_skip!();
    let (ticks, c, table) = import(
        dir.join("hftbacktest/spot/btcusdt_20240809.gz"),
        Format::HftBinance,
    );
    assert_eq!(c.rows, 58_325, "{c}");
    assert_eq!(c.skipped(Skip::Depth), 3_044);
    assert_eq!(c.ticks, 10_147 + 45_134);
    assert_eq!(c.total_errors(), 0);
    let trades: Vec<&Tick> = ticks.iter().filter(|t| t.is_trade()).collect();
    let quotes: Vec<&Tick> = ticks.iter().filter(|t| t.is_quote()).collect();
    assert_eq!((trades.len(), quotes.len()), (10_147, 45_134));
    assert_eq!(
        trades.iter().filter(|t| t.side == Side::Sell).count(),
        5_157,
        "m=true: aggressor sold"
    );
    assert_eq!(trades.iter().filter(|t| t.side == Side::Buy).count(), 4_990);
    assert_eq!(
        range(trades.iter().map(|t| t.price)),
        (61_556.04, 61_744.37)
    );
    assert!(quotes.iter().all(|q| q.price < q.ask), "never crossed here");
    // spot bookTicker has no time: event time = capture time
    assert!(quotes.iter().all(|q| q.ts_event == q.ts_recv));
    // capture times: the README's span runs from the first to the last line,
    // both depth lines; the first and last ticks are the lines next to them
    assert_eq!(ticks[0].ts_recv, 1_723_161_600_001_692_584);
    assert_eq!(ticks[ticks.len() - 1].ts_recv, 1_723_161_904_525_430_833);
    assert!(ticks[0].ts_recv - at(2024, 8, 9, 0, 0, 0, 1, 0) < 1_000_000);
    assert!(at(2024, 8, 9, 0, 5, 4, 535, 0) - ticks[ticks.len() - 1].ts_recv < 10_000_000);
    // exchange event times E of trades lie within the README's E range
    assert!(
        trades
            .iter()
            .all(|t| (1_723_161_601_273_000_000..=1_723_161_905_809_000_000).contains(&t.ts_event))
    );
    assert!(
        ticks.windows(2).all(|w| w[0].ts_recv <= w[1].ts_recv),
        "capture order"
    );
    // the capture clock runs ~1.27 s behind the exchange: recv − T within [−1.28 s, −1.26 s] … plus latency
    for t in &trades {
        let d = t.ts_recv - t.ts_event;
        assert!((-1_300_000_000..0).contains(&d), "{d}");
    }
    assert_eq!(name(&table, &ticks[0]), "BTCUSDT");
    assert_eq!(trades[0].id, 3_735_693_016);
    assert_eq!((trades[0].price, trades[0].size), (61_685.99, 0.00017));
}

#[test]
fn truefx_nautilus_layout() {
    let dir = data_or_skip!();
    let (ticks, c, table) = import(
        dir.join("nautilus_trader/truefx/usdjpy-ticks.csv"),
        Format::TrueFx,
    );
    assert_eq!(
        (c.rows, c.ticks, c.skipped(Skip::Header)),
        (1_000, 1_000, 1),
        "{c}"
    );
    assert_eq!(ticks[0].ts_event, at(2013, 1, 1, 22, 0, 0, 295, 0));
    assert_eq!(ticks[999].ts_event, at(2013, 1, 1, 22, 35, 13, 494, 0));
    assert_eq!(range(ticks.iter().map(|t| t.bid())), (86.655, 86.846));
    assert_eq!(name(&table, &ticks[0]), "USDJPY", "from the file name");
    assert_eq!(c.errors(RowError::Time), 0);
}

#[test]
fn format_guess_matches_every_file() {
    let dir = data_or_skip!();
    use std::io::BufRead;
    for (rel, want) in [
        ("lean/equity/usa/tick/spy/20131008_trade.zip", "Lean"),
        ("nautilus_trader/tardis/trades.csv", "Tardis"),
        ("nautilus_trader/tardis/quotes.csv", "Tardis"),
        ("nautilus_trader/truefx/usdjpy-ticks.csv", "TrueFx"),
    ] {
        let path = dir.join(rel);
        let mut first = String::new();
        if !rel.ends_with(".zip") {
            std::io::BufReader::new(std::fs::File::open(&path).unwrap())
                .read_line(&mut first)
                .unwrap();
        }
        let got = Format::guess(path.to_str().unwrap(), first.trim_end().as_bytes());
        assert!(
            format!("{got:?}").starts_with(&format!("Some({want}")),
            "{rel}: {got:?}"
        );
    }
    let line = b"1723161600001692584 {\"stream\":\"btcusdt@bookTicker\",\"data\":{}}";
    assert!(matches!(
        Format::guess("x.gz", line),
        Some(Format::HftBinance)
    ));
}
