//! Importers on generated inputs: containers (plain, gzip, zip) told apart by
//! magic bytes, LEAN futures zips with one member per contract, DST days, the
//! generic CSV mapping, raw TrueFX, Binance message variants, bad rows counted
//! with line numbers, and arbitrary bytes never panicking.

use std::io::Write;
use std::sync::Arc;

use ingest::import::{
    Column, Container, CsvFields, CsvMapping, Format, ImportError, ImportOptions, Importer, Input,
    LeanAsset, LeanOptions, Pacer, RowError, Skip, SymbolRule, TimeFormat, TimeUnit, Zone,
    days_from_civil,
};
use ingest::{Reject, SymbolCache, SymbolTable};
use mtf::{Side, Tick};
use proptest::prelude::*;

const TARDIS: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount
binance-futures,BTCUSDT,1582329602111000,1582329602418379,42377944,buy,9682,0.132
binance-futures,BTCUSDT,1582329602116000,1582329602418420,42377945,sell,9681.92,0.412
binance-futures,ETHUSDT,1582329602117000,1582329602418500,7,unknown,265.5,1.5
";

struct Run {
    ticks: Vec<Tick>,
    counts: ingest::import::ImportCounts,
    table: Arc<SymbolTable>,
    container: Container,
}

fn run_opts(name: &str, data: Vec<u8>, opts: ImportOptions) -> Result<Run, ImportError> {
    let table = Arc::new(SymbolTable::new(64));
    let mut cache = SymbolCache::new(table.clone());
    let input = Input::Bytes {
        name: name.into(),
        data: Arc::from(data),
    };
    let mut imp = Importer::open(input, opts)?;
    let container = imp.container();
    let mut ticks = Vec::new();
    // a small odd batch size exercises batch boundaries
    let mut buf = [Tick::default(); 7];
    loop {
        let n = imp.next_batch(&mut cache, &mut buf)?;
        if n == 0 {
            break;
        }
        ticks.extend_from_slice(&buf[..n]);
    }
    let counts = *imp.counts();
    assert!(counts.balanced(), "{counts}");
    Ok(Run {
        ticks,
        counts,
        table,
        container,
    })
}

fn run(name: &str, data: impl Into<Vec<u8>>, format: Format) -> Run {
    run_opts(name, data.into(), ImportOptions::new(format)).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zip(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn ns(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64) -> i64 {
    ((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000 + ms) * 1_000_000
}

#[test]
fn containers_by_magic_not_name() {
    let plain = run("t.csv", TARDIS, Format::Tardis);
    assert_eq!(plain.container, Container::Plain);
    assert_eq!(plain.ticks.len(), 3);
    // names that lie about the content
    let gz = run("t.csv", gzip(TARDIS.as_bytes()), Format::Tardis);
    assert_eq!(gz.container, Container::Gzip);
    let zs = run(
        "t.gz",
        zip(&[("a.csv", TARDIS.as_bytes())], false),
        Format::Tardis,
    );
    let zd = run(
        "t.txt",
        zip(&[("a.csv", TARDIS.as_bytes())], true),
        Format::Tardis,
    );
    assert_eq!(
        (zs.container, zd.container),
        (Container::Zip, Container::Zip)
    );
    // concatenated gzip members read as one stream
    let mut two = gzip(&TARDIS.as_bytes()[..100]);
    two.extend(gzip(&TARDIS.as_bytes()[100..]));
    let multi = run("t.gz", two, Format::Tardis);
    for r in [&gz, &zs, &zd, &multi] {
        assert_eq!(r.ticks, plain.ticks);
        assert_eq!(r.counts.rows, 3);
    }
    // two zip members: each starts with its header
    let z2 = run(
        "t.zip",
        zip(
            &[("a.csv", TARDIS.as_bytes()), ("b.csv", TARDIS.as_bytes())],
            true,
        ),
        Format::Tardis,
    );
    assert_eq!((z2.counts.members, z2.ticks.len()), (2, 6));
    assert_eq!(z2.counts.skipped(Skip::Header), 2);
    let t = &plain.ticks;
    assert_eq!(
        (t[0].side, t[1].side, t[2].side),
        (Side::Buy, Side::Sell, Side::Unknown)
    );
    assert_eq!(plain.table.name(t[2].symbol).unwrap().as_str(), "ETHUSDT");
    assert!(t.iter().all(|t| t.flags == Tick::FLAG_REPLAY));
    // files concatenated: the second header is read as a header again
    let twice = format!("{TARDIS}{TARDIS}");
    let r = run("t.csv", twice, Format::Tardis);
    assert_eq!(
        (
            r.ticks.len(),
            r.counts.skipped(Skip::Header),
            r.counts.total_errors()
        ),
        (6, 2, 0)
    );
    // empty inputs of each kind
    assert_eq!(run("e", Vec::new(), Format::Tardis).ticks.len(), 0);
    assert_eq!(run("e.gz", gzip(b""), Format::Tardis).ticks.len(), 0);
    assert_eq!(
        run("e.zip", zip(&[], true), Format::Tardis).counts.members,
        0
    );
}

#[test]
fn damaged_compression_is_an_io_error() {
    let mut gz = gzip(TARDIS.as_bytes());
    let mid = gz.len() / 2;
    gz[mid] ^= 0xff;
    let e = run_opts("t.gz", gz.clone(), ImportOptions::new(Format::Tardis)).err();
    assert!(matches!(e, Some(ImportError::Io { .. })), "{e:?}");
    gz.truncate(mid);
    let e = run_opts("t.gz", gz, ImportOptions::new(Format::Tardis)).err();
    assert!(matches!(e, Some(ImportError::Io { .. })), "{e:?}");
    // a stored zip member with a flipped byte fails its CRC
    let mut z = zip(&[("a.csv", TARDIS.as_bytes())], false);
    let at = z.windows(7).position(|w| w == b"BTCUSDT").unwrap();
    z[at] = b'X';
    let e = run_opts("t.zip", z, ImportOptions::new(Format::Tardis)).err();
    assert!(
        matches!(&e, Some(ImportError::Io { source, .. }) if source.to_string().contains("crc")),
        "{e:?}"
    );
    // not a zip after all
    let e = run_opts(
        "t.zip",
        b"PK\x03\x04garbage".to_vec(),
        ImportOptions::new(Format::Tardis),
    );
    assert!(matches!(e, Err(ImportError::Zip { .. })));
}

#[test]
fn lean_futures_zip_one_member_per_contract() {
    // LEAN docs: future/<market>/tick/<symbol>/YYYYMMDD_<type>.zip holding
    // YYYYMMDD_<symbol>_tick_<type>_<expiry>.csv; trade: time,price,qty,exchange,condition,suspicious
    let dec = b"3600000,1666.25,3,usa,null,0\n3600001,1666.5,1,usa,null,1\n";
    let mar = b"3600002,1670.75,2,usa,null,0\n";
    let z = zip(
        &[
            ("20131008_es_tick_trade_201312.csv", &dec[..]),
            ("20131008_es_tick_trade_201403.csv", &mar[..]),
        ],
        true,
    );
    let r = run(
        "data/future/cme/tick/es/20131008_trade.zip",
        z,
        Format::Lean(LeanOptions::default()),
    );
    assert_eq!((r.counts.members, r.ticks.len()), (2, 3));
    let names: Vec<String> = r
        .ticks
        .iter()
        .map(|t| r.table.name(t.symbol).unwrap().to_string())
        .collect();
    assert_eq!(names, ["ES201312", "ES201312", "ES201403"]);
    assert_eq!(
        r.ticks[0].ts_event,
        ns(2013, 10, 8, 1, 0, 0, 0),
        "futures data: UTC"
    );
    assert_eq!(
        (r.ticks[0].price, r.ticks[0].size),
        (1666.25, 3.0),
        "no price scaling"
    );
    assert_eq!(
        r.ticks[1].flags & Tick::FLAG_SUSPICIOUS,
        Tick::FLAG_SUSPICIOUS
    );
    // quotes: time,bid,bidsize,ask,asksize,exchange,suspicious; an empty side is carried over
    let q = b"1000,1666.25,10,1666.5,12,usa,0\n1001,,,1666.75,4,usa,0\n1002,1666.5,1,,,usa,0\n1003,,,,,usa,0\n";
    let z = zip(&[("20131008_es_tick_quote_201312.csv", &q[..])], true);
    let r = run(
        "future/cme/tick/es/20131008_quote.zip",
        z,
        Format::Lean(LeanOptions::default()),
    );
    let qs: Vec<_> = r
        .ticks
        .iter()
        .map(|t| {
            (
                t.price,
                t.size,
                t.ask,
                t.ask_size,
                t.flags & Tick::FLAG_ONE_SIDED != 0,
            )
        })
        .collect();
    assert_eq!(
        qs,
        [
            (1666.25, 10.0, 1666.5, 12.0, false),
            (1666.25, 10.0, 1666.75, 4.0, true),
            (1666.5, 1.0, 1666.75, 4.0, true)
        ]
    );
    assert_eq!(r.counts.errors(RowError::EmptyQuote), 1);
    assert_eq!(r.counts.first_errors().next().unwrap().line, 4);
    // a zone override: CME data in Chicago time
    let opts = LeanOptions {
        zone: Some(Zone::parse("America/Chicago").unwrap()),
        ..LeanOptions::default()
    };
    let z = zip(&[("20131008_es_tick_trade_201312.csv", &dec[..])], true);
    let r = run(
        "future/cme/tick/es/20131008_trade.zip",
        z,
        Format::Lean(opts),
    );
    assert_eq!(r.ticks[0].ts_event, ns(2013, 10, 8, 6, 0, 0, 0));
}

#[test]
fn lean_equity_across_dst_and_options() {
    // 2024-03-10: New York springs forward at 02:00 EST → 03:00 EDT
    let rows = b"7199999,1000000,1,P,1,0\n10800000,1000100,2,P,1,0\n";
    let z = zip(&[("20240310_xyz_Trade_Tick.csv", &rows[..])], true);
    let r = run(
        "equity/usa/tick/xyz/20240310_trade.zip",
        z,
        Format::Lean(LeanOptions::default()),
    );
    assert_eq!(r.ticks[0].ts_event, ns(2024, 3, 10, 6, 59, 59, 999));
    assert_eq!(
        r.ticks[1].ts_event,
        ns(2024, 3, 10, 7, 0, 0, 0),
        "03:00 EDT follows 01:59:59.999 EST"
    );
    assert_eq!((r.ticks[0].price, r.ticks[1].price), (100.0, 100.01));
    assert_eq!(r.table.name(r.ticks[0].symbol).unwrap().as_str(), "XYZ");
    // every option explicit: a path that says nothing
    let opts = LeanOptions {
        asset: Some(LeanAsset::Equity),
        kind: Some(ingest::import::LeanKind::Trade),
        zone: None,
        date: Some((2024, 3, 10)),
    };
    let r2 = run_opts(
        "blob",
        rows.to_vec(),
        ImportOptions::new(Format::Lean(opts)).symbol(SymbolRule::Default("XYZ".parse().unwrap())),
    )
    .unwrap();
    assert_eq!(r2.ticks, r.ticks);
    // no asset, no date: a configuration error, not a panic
    let e = Importer::open(
        Input::Bytes {
            name: "x.csv".into(),
            data: Arc::from(&rows[..]),
        },
        ImportOptions::new(Format::Lean(LeanOptions::default())),
    );
    assert!(matches!(e, Err(ImportError::Config { .. })));
}

#[test]
fn generic_csv_mappings() {
    // header, semicolons, quotes, µs epoch, side and id, a symbol column
    let data = "sym;\"ts\";px;qty;side;tid\nAAPL;1700000000000001;\"189.5\";100;B;17\n\"MSFT\";1700000000000002;370.25;5;sell;x\n";
    let m = CsvMapping {
        delimiter: b';',
        quote: Some(b'"'),
        header: true,
        time: "ts".into(),
        time_format: TimeFormat::Epoch(TimeUnit::Micros),
        recv_time: None,
        symbol: Some("sym".into()),
        fields: CsvFields::Trade {
            price: "px".into(),
            size: Some("qty".into()),
            side: Some("side".into()),
            id: Some("tid".into()),
        },
    };
    let r = run("x.csv", data, Format::Csv(m));
    assert_eq!(r.ticks.len(), 2, "{}", r.counts);
    let t = &r.ticks;
    assert_eq!(
        (t[0].ts_event, t[0].price, t[0].size, t[0].side, t[0].id),
        (1_700_000_000_000_001_000, 189.5, 100.0, Side::Buy, 17)
    );
    assert_eq!((t[1].side, t[1].id), (Side::Sell, 0));
    assert_eq!(r.table.name(t[1].symbol).unwrap().as_str(), "MSFT");

    // each unit, no header, symbol from the file name
    for (unit, v) in [
        (TimeUnit::Seconds, "1700000000.5"),
        (TimeUnit::Millis, "1700000000500"),
        (TimeUnit::Micros, "1700000000500000"),
        (TimeUnit::Nanos, "1700000000500000000"),
    ] {
        let m = CsvMapping::trades(0, unit, 1);
        let r = run("eurusd_2023.csv", format!("{v},1.5\n"), Format::Csv(m));
        assert_eq!(r.ticks[0].ts_event, 1_700_000_000_500_000_000, "{unit:?}");
        assert_eq!(r.table.name(r.ticks[0].symbol).unwrap().as_str(), "EURUSD");
    }

    // quotes with datetimes in a zone, tab-separated
    let m = CsvMapping {
        delimiter: b'\t',
        quote: None,
        header: false,
        time: 0.into(),
        time_format: TimeFormat::Datetime {
            zone: Zone::parse("Europe/London").unwrap(),
        },
        recv_time: None,
        symbol: None,
        fields: CsvFields::Quote {
            bid: 1.into(),
            ask: 2.into(),
            bid_size: Some(3.into()),
            ask_size: Some(4.into()),
        },
    };
    let r = run(
        "gbp.tsv",
        "2024-07-01 09:00:00.250\t1.26\t1.2601\t5\t6\n2024-01-02T09:00:00Z\t1.27\t1.2701\t1\t2\n",
        Format::Csv(m),
    );
    let q = &r.ticks;
    assert_eq!(q[0].ts_event, ns(2024, 7, 1, 8, 0, 0, 250), "BST = UTC+1");
    assert_eq!(q[1].ts_event, ns(2024, 1, 2, 9, 0, 0, 0), "explicit Z wins");
    assert_eq!(
        (q[0].price, q[0].ask, q[0].size, q[0].ask_size),
        (1.26, 1.2601, 5.0, 6.0)
    );

    // strftime
    let m = CsvMapping {
        time_format: TimeFormat::Strftime {
            format: "%d/%m/%Y %H:%M:%S%.f".into(),
            zone: Zone::parse("-05:00").unwrap(),
        },
        ..CsvMapping::trades(0, TimeUnit::Seconds, 1)
    };
    let r = run(
        "x.csv",
        "08/10/2013 04:00:00.464,167.41\n31/02/2013 04:00:00,1\n",
        Format::Csv(m),
    );
    assert_eq!(r.ticks[0].ts_event, ns(2013, 10, 8, 9, 0, 0, 464));
    assert_eq!(r.counts.errors(RowError::Format), 1);

    // a named column that is not in the header: rows counted as errors, no panic
    let m = CsvMapping {
        header: true,
        ..CsvMapping::trades("t", TimeUnit::Seconds, "p")
    };
    let r = run("x.csv", "a,b\n1,2\n", Format::Csv(m));
    assert_eq!((r.ticks.len(), r.counts.errors(RowError::Fields)), (0, 2));
    // names without a header: refused up front
    let e = Importer::open(
        Input::Bytes {
            name: "x".into(),
            data: Arc::from(&b""[..]),
        },
        ImportOptions::new(Format::Csv(CsvMapping::trades("t", TimeUnit::Seconds, "p"))),
    );
    assert!(matches!(e, Err(ImportError::Config { .. })));
}

#[test]
fn truefx_raw_layout() {
    let raw = "USD/JPY,20130101 22:00:00.295,86.655,86.665\nEUR/USD,20130101 22:00:01.000,1.3191,1.3193\n";
    let r = run("anything.csv", raw, Format::TrueFx);
    assert_eq!(r.ticks.len(), 2);
    assert_eq!(r.ticks[0].ts_event, ns(2013, 1, 1, 22, 0, 0, 295));
    assert_eq!(r.table.name(r.ticks[0].symbol).unwrap().as_str(), "USDJPY");
    assert_eq!(r.table.name(r.ticks[1].symbol).unwrap().as_str(), "EURUSD");
    assert!(matches!(
        Format::guess("x", raw.lines().next().unwrap().as_bytes()),
        Some(Format::TrueFx)
    ));
}

#[test]
fn binance_variants() {
    let lines = [
        // combined stream trade, aggTrade, spot and futures bookTicker, depth, a reply, bare trade
        r#"1723161600164378285 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161601438,"s":"BTCUSDT","t":3735693016,"p":"61685.99000000","q":"0.00017000","T":1723161601437,"m":true,"M":true}}"#,
        r#"1723161600164378286 {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161601438,"s":"BTCUSDT","a":99,"p":"61686.00","q":"1.5","f":1,"l":2,"T":1723161601437,"m":false,"M":true}}"#,
        r#"1723161600001692584 {"stream":"btcusdt@bookTicker","data":{"u":50093421613,"s":"BTCUSDT","b":"61685.99000000","B":"1.25869000","a":"61686.00000000","A":"2.44816000"}}"#,
        r#"1723161600001692585 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1","B":"2","a":"3","A":"4","T":1723161601000,"E":1723161601001}}"#,
        r#"1723161600001658384 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161601273,"s":"BTCUSDT","U":1,"u":2,"b":[["1","2"]],"a":[]}}"#,
        r#"1723161600001658386 {"result":null,"id":1}"#,
        r#"1723161600001658387 {"e":"trade","E":1723161601438,"s":"ETHUSDT","t":1,"p":"2600.5","q":"2","T":1723161601437,"m":false}"#,
        r#"1723161600001658388 {"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,"p":"x","q":"1","T":1,"m":true}}"#,
        r#"1723161600001658389 {"stream":"btcusdt@trade","data":{"e":"trade","#,
        r#"notanumber {"e":"trade"}"#,
    ]
    .join("\n");
    let r = run("cap.gz", gzip(lines.as_bytes()), Format::HftBinance);
    let c = &r.counts;
    assert_eq!((c.rows, r.ticks.len()), (10, 5), "{c}");
    assert_eq!(
        (c.skipped(Skip::Depth), c.skipped(Skip::OtherEvent)),
        (1, 1)
    );
    assert_eq!(
        (
            c.errors(RowError::Price),
            c.errors(RowError::Json),
            c.errors(RowError::Time)
        ),
        (1, 1, 1)
    );
    let errs: Vec<u64> = c.first_errors().map(|e| e.line).collect();
    assert_eq!(errs, [8, 9, 10]);
    let t = &r.ticks;
    assert_eq!(
        (t[0].side, t[0].id, t[0].ts_event, t[0].ts_recv),
        (
            Side::Sell,
            3735693016,
            1_723_161_601_437_000_000,
            1_723_161_600_164_378_285
        )
    );
    assert_eq!((t[1].side, t[1].id, t[1].size), (Side::Buy, 99, 1.5));
    assert_eq!(
        (t[2].price, t[2].size, t[2].ask, t[2].ask_size, t[2].id),
        (61685.99, 1.25869, 61686.0, 2.44816, 50093421613)
    );
    assert_eq!(
        t[2].ts_event, t[2].ts_recv,
        "spot bookTicker: no exchange time"
    );
    assert_eq!(
        t[3].ts_event, 1_723_161_601_000_000_000,
        "futures bookTicker: T"
    );
    assert_eq!(r.table.name(t[4].symbol).unwrap().as_str(), "ETHUSDT");
}

#[test]
fn bad_rows_are_counted_with_line_numbers_and_never_stop() {
    let data = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount
x,BTCUSDT,1582329602111000,1582329602418379,1,buy,9682,0.132
x,BTCUSDT,1582329602111000,1582329602418379,2,buy,abc,0.132
x,BTCUSDT,1582329602111000,1582329602418379,3,up,9682,0.132
x,BTCUSDT,1582329602111000,1582329602418379,4,buy,-5,0.132
x,BTCUSDT,1,1,5,buy,9682,0.132
x,BTCUSDT,1582329602111000,1582329602418379,6,buy,9682,NaN
x,THIS-NAME-IS-FAR-TOO-LONG,1582329602111000,1582329602418379,7,buy,9682,1
x,BTCUSDT
x,BTCUSDT,1582329602111000,1582329602418379,9,buy,9682,1
";
    let mut opts = ImportOptions::new(Format::Tardis);
    opts.log_errors = false;
    opts.max_line = 90;
    let mut long = data.to_owned();
    long.push_str(&format!(
        "x,BTCUSDT,1582329602111000,1582329602418379,10,buy,9682,1{}\n",
        "0".repeat(100)
    ));
    long.push_str("x,BTCUSDT,1582329602111000,1582329602418379,11,buy,9682,1\n");
    let r = run_opts("t.csv", long.into_bytes(), opts).unwrap();
    let c = &r.counts;
    assert_eq!(r.ticks.iter().map(|t| t.id).collect::<Vec<_>>(), [1, 9, 11]);
    assert_eq!(c.rows, 11);
    assert_eq!(c.errors(RowError::Price), 1);
    assert_eq!(c.errors(RowError::Side), 1);
    assert_eq!(c.errors(RowError::Size), 1);
    assert_eq!(c.errors(RowError::Fields), 1);
    assert_eq!(c.errors(RowError::TooLong), 1);
    assert_eq!(c.rejected(Reject::Price), 1);
    assert_eq!(c.rejected(Reject::TimeTooEarly), 1);
    assert_eq!(c.rejected(Reject::Symbol), 1);
    let errs: Vec<(u64, RowError)> = c.first_errors().map(|e| (e.line, e.error)).collect();
    assert_eq!(
        errs,
        [
            (3, RowError::Price),
            (4, RowError::Side),
            (7, RowError::Size),
            (9, RowError::Fields),
            (11, RowError::TooLong)
        ]
    );
}

#[test]
fn symbol_rules() {
    let force =
        ImportOptions::new(Format::Tardis).symbol(SymbolRule::Force("BTC-PERP".parse().unwrap()));
    let r = run_opts("t.csv", TARDIS.as_bytes().to_vec(), force).unwrap();
    assert!(
        r.ticks
            .iter()
            .all(|t| r.table.name(t.symbol).unwrap().as_str() == "BTC-PERP")
    );
    // no symbol anywhere (a date-only file name): every row refused as Symbol, counted
    let r = run(
        "20240101.csv",
        "1700000000,1.5\n",
        Format::Csv(CsvMapping::trades(0, TimeUnit::Seconds, 1)),
    );
    assert_eq!((r.ticks.len(), r.counts.rejected(Reject::Symbol)), (0, 1));
    let r = run_opts(
        "20240101.csv",
        b"1700000000,1.5\n".to_vec(),
        ImportOptions::new(Format::Csv(CsvMapping::trades(0, TimeUnit::Seconds, 1)))
            .symbol(SymbolRule::Default("ABC".parse().unwrap())),
    )
    .unwrap();
    assert_eq!(r.table.name(r.ticks[0].symbol).unwrap().as_str(), "ABC");
}

#[test]
fn pacer_follows_recorded_times() {
    let r = run(
        "cap",
        "1000000000 {\"e\":\"trade\",\"s\":\"X\",\"p\":\"1\",\"q\":\"1\",\"T\":1700000000000,\"m\":true}\n3000000000 {\"e\":\"trade\",\"s\":\"X\",\"p\":\"1\",\"q\":\"1\",\"T\":1700000000000,\"m\":true}\n",
        Format::HftBinance,
    );
    let mut p = Pacer::new(2.0, 0);
    let due: Vec<i64> = r.ticks.iter().map(|t| p.due_ns(t.ts_recv)).collect();
    assert_eq!(due, [0, 1_000_000_000], "2 s recorded at 2× = 1 s");
}

fn formats() -> Vec<Format> {
    vec![
        Format::Tardis,
        Format::HftBinance,
        Format::TrueFx,
        Format::Lean(LeanOptions::default()),
        Format::Lean(LeanOptions {
            asset: Some(LeanAsset::Forex),
            ..LeanOptions::default()
        }),
        Format::Lean(LeanOptions {
            asset: Some(LeanAsset::Future),
            kind: Some(ingest::import::LeanKind::Quote),
            ..LeanOptions::default()
        }),
        Format::Csv(CsvMapping {
            header: true,
            symbol: Some(Column::Name("s".into())),
            ..CsvMapping::trades("t", TimeUnit::Millis, "p")
        }),
        Format::Csv(CsvMapping {
            time_format: TimeFormat::Strftime {
                format: "%Y%m%d %H%M%S".into(),
                zone: Zone::Utc,
            },
            ..CsvMapping::trades(0, TimeUnit::Millis, 1)
        }),
    ]
}

/// Bytes biased toward the syntax the importers look at.
fn noisy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            2 => Just(b','),
            2 => Just(b'\n'),
            1 => Just(b'"'),
            1 => Just(b'{'),
            1 => Just(b'}'),
            1 => Just(b':'),
            2 => b'0'..=b'9',
            1 => Just(b'.'),
        ],
        0..600,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_bytes_never_panic(data in noisy(), wrap in 0u8..3, max_line in 1usize..200) {
        let data = match wrap {
            0 => data,
            1 => gzip(&data),
            _ => zip(&[("20131008_x_tick_quote_201312.csv", &data)], true),
        };
        for f in formats() {
            let mut opts = ImportOptions::new(f);
            opts.log_errors = false;
            opts.max_line = max_line;
            let r = run_opts("equity/usa/tick/spy/20131008_trade.zip", data.clone(), opts);
            if let Ok(r) = r {
                let v = ingest::Validator::history();
                for t in &r.ticks {
                    prop_assert!(v.check(t, i64::MAX / 2).is_ok());
                }
            }
        }
    }

    #[test]
    fn damaged_real_lines_never_panic(line in 0usize..9, at in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
        let mut d = TARDIS.as_bytes().to_vec();
        let i = at % d.len();
        d[i] = byte;
        d.truncate(d.len().saturating_sub(cut % 20));
        let _ = line;
        let mut opts = ImportOptions::new(Format::Tardis);
        opts.log_errors = false;
        let r = run_opts("t.csv", d, opts).unwrap();
        prop_assert!(r.counts.balanced());
    }
}

#[test]
fn importer_moves_between_threads() {
    fn send<T: Send>() {}
    send::<Importer>();
    send::<ingest::import::ImportCounts>();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The straight-line decoder of the standard trades header gives the same
    /// ticks as the general (any column order) decoder.
    #[test]
    fn tardis_standard_layout_matches_general(at in 0usize..400, byte in prop_oneof![Just(b','), Just(b'.'), Just(b'-'), Just(b'x'), b'0'..=b'9'], cut in 0usize..30) {
        let mut d = TARDIS.as_bytes().to_vec();
        let i = 64 + at % (d.len() - 64);
        d[i] = byte;
        d.truncate(d.len() - cut);
        let body = std::str::from_utf8(&d[64..]).unwrap_or("").to_owned();
        let standard = format!("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n{body}");
        // the same columns after an ignored first one: the general decoder
        let general = format!("zz,exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n{}",
            body.lines().map(|l| format!("0,{l}\n")).collect::<String>());
        let mut o1 = ImportOptions::new(Format::Tardis);
        o1.log_errors = false;
        let o2 = o1.clone();
        let a = run_opts("a.csv", standard.into_bytes(), o1).unwrap();
        let b = run_opts("b.csv", general.into_bytes(), o2).unwrap();
        prop_assert_eq!(&a.ticks, &b.ticks);
        prop_assert_eq!(a.counts.rows, b.counts.rows);
    }
}

#[test]
fn sniff_reads_through_containers() {
    use ingest::import::sniff;
    let bytes = |name: &str, data: Vec<u8>| Input::Bytes {
        name: name.into(),
        data: Arc::from(data),
    };
    let cases = [
        bytes("t.csv", TARDIS.as_bytes().to_vec()),
        bytes("t.gz", gzip(TARDIS.as_bytes())),
        bytes("t.zip", zip(&[("t.csv", TARDIS.as_bytes())], true)),
    ];
    for input in &cases {
        assert!(
            matches!(sniff(input), Ok(Some(Format::Tardis))),
            "{input:?}"
        );
    }
    let lean = bytes(
        "equity/usa/tick/spy/20131008_trade.zip",
        zip(&[("x.csv", b"1,2,3")], true),
    );
    assert!(matches!(sniff(&lean), Ok(Some(Format::Lean(_)))));
    assert!(matches!(
        sniff(&bytes("x", b"what is this".to_vec())),
        Ok(None)
    ));
    assert!(matches!(sniff(&bytes("x.zip", zip(&[], true))), Ok(None)));
}

#[test]
fn lean_decimal_milliseconds() {
    let rows = b"3600000.5,1666.25,3,usa,null,0\n3600001,1666.5,1,usa,null,0\n99999999999999999999,1,1,usa,null,0\n";
    let z = zip(&[("20131008_es_tick_trade_201312.csv", &rows[..])], true);
    let r = run(
        "future/cme/tick/es/20131008_trade.zip",
        z,
        Format::Lean(LeanOptions::default()),
    );
    assert_eq!(r.ticks[0].ts_event, ns(2013, 10, 8, 1, 0, 0, 0) + 500_000);
    assert_eq!(r.ticks[1].ts_event, ns(2013, 10, 8, 1, 0, 0, 1));
    assert_eq!(r.counts.errors(RowError::Time), 1);
}

/// A field a row might hold: numbers of every size and sign, dates of every
/// year, texts the decoders look for.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        (
            0u32..10_000,
            0u32..14,
            0u32..33,
            0u32..25,
            0u32..61,
            0u32..1_000_000_000,
            -24i32..25
        )
            .prop_map(|(y, mo, d, h, mi, ns, off)| format!(
                "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:00.{ns:09}{off:+03}:00"
            )),
        (0u32..10_000, 0u32..14, 0u32..33)
            .prop_map(|(y, mo, d)| format!("{y:04}{mo:02}{d:02} 23:59:59.999")),
        Just("buy".to_owned()),
        Just("".to_owned()),
        Just("BTCUSDT".to_owned()),
        "[0-9.eE+-]{1,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Structured rows with extreme values: no overflow panics anywhere.
    #[test]
    fn extreme_values_never_panic(rows in proptest::collection::vec(proptest::collection::vec(field(), 1..10), 1..8)) {
        let body: String = rows.iter().map(|r| r.join(",") + "\n").collect();
        let tardis = format!("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n{body}");
        let tardis_q = format!("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n{body}");
        let hft: String = rows.iter().map(|r| format!("{} {{\"e\":\"trade\",\"T\":{},\"p\":\"{}\",\"q\":\"{}\",\"m\":true,\"s\":\"X\"}}\n",
            r[0], r.get(1).map_or("1", |s| s), r.get(2).map_or("1", |s| s), r.get(3).map_or("1", |s| s))).collect();
        let cases: Vec<(&str, String, Format)> = vec![
            ("t.csv", tardis, Format::Tardis),
            ("q.csv", tardis_q, Format::Tardis),
            ("cap", hft, Format::HftBinance),
            ("usdjpy.csv", body.clone(), Format::TrueFx),
            ("equity/usa/tick/spy/20131008_trade.csv", body.clone(), Format::Lean(LeanOptions::default())),
            ("equity/usa/tick/spy/20131008_quote.csv", body.clone(), Format::Lean(LeanOptions::default())),
            ("forex/fxcm/tick/eurusd/20140508_quote.csv", body.clone(), Format::Lean(LeanOptions::default())),
            ("x.csv", body.clone(), Format::Csv(CsvMapping::trades(0, TimeUnit::Seconds, 1))),
            ("x.csv", body.clone(), Format::Csv(CsvMapping {
                time_format: TimeFormat::Datetime { zone: Zone::parse("America/New_York").unwrap() },
                ..CsvMapping::trades(0, TimeUnit::Seconds, 1)
            })),
            ("x.csv", body, Format::Csv(CsvMapping {
                time_format: TimeFormat::Strftime { format: "%Y-%m-%d %H:%M:%S%.f%:z".into(), zone: Zone::Utc },
                ..CsvMapping::trades(0, TimeUnit::Seconds, 1)
            })),
        ];
        for (name, data, format) in cases {
            let mut opts = ImportOptions::new(format);
            opts.log_errors = false;
            let r = run_opts(name, data.into_bytes(), opts).unwrap();
            prop_assert!(r.counts.balanced());
        }
    }
}
