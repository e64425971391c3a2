use super::*;
use crate::SymbolTable;
use proptest::prelude::*;
use rstest::rstest;
use std::sync::Arc;

const NOW: i64 = 1_763_700_000_000_000_000;

fn parser_with(cfg: &IlpConfig) -> (IlpParser, Arc<SymbolTable>) {
    let t = Arc::new(SymbolTable::new(1000));
    let p = IlpParser::new(cfg, SymbolCache::new(t.clone()), Validator::history()).unwrap();
    (p, t)
}

fn parser() -> (IlpParser, Arc<SymbolTable>) {
    parser_with(&IlpConfig::default())
}

#[test]
fn questdb_client_output_parses() {
    // Bytes captured from the questdb Python client 6.0 (protocol version 1).
    let (mut p, t) = parser();
    let a = p
        .parse_line(
            b"trades,symbol=BTC\\ USDT,side=buy price=101.25,amount=3i,qty2=0.1,s=\"a\\\"b\\\\c\\\nd\",b=t 1700000000123456789",
            NOW,
        )
        .unwrap();
    assert_eq!(t.name(a.symbol).unwrap().as_str(), "BTC USDT");
    assert_eq!(
        (a.kind, a.side, a.price, a.size, a.ts_event, a.ts_recv),
        (
            TickKind::Trade,
            Side::Buy,
            101.25,
            3.0,
            1_700_000_000_123_456_789,
            NOW
        )
    );
    let q = p
        .parse_line(
            b"quotes,symbol=EUR\\,USD\\=x bid=1.1,ask=1.2,bid_size=1000000.0,ask_size=2.5e-7 1763699999059896550",
            NOW,
        )
        .unwrap();
    assert_eq!(t.name(q.symbol).unwrap().as_str(), "EUR,USD=x");
    assert_eq!(
        (q.kind, q.bid(), q.ask, q.bid_size(), q.ask_size),
        (TickKind::Quote, 1.1, 1.2, 1e6, 2.5e-7)
    );
    let x = p
        .parse_line(
            b"tx\\ y,symbol=a\\\\b,k=x\\\ny\\=\\ \\, p\\ q=1.0,price=2,size=0,s=\"q\\\\\\\"\\\n\",i=-5i,ts=0t,big=1e300,neg=-0.0,inf=Infinity 7",
            NOW,
        );
    // event time 7 ns is before 1990: refused by validation, after a full parse
    assert_eq!(x, Err(IlpError::Rejected(Reject::TimeTooEarly)));
    assert!(t.get(&"a\\b".parse().unwrap()).is_some());
}

#[rstest]
#[case(b"".as_slice(), IlpError::NoMeasurement)]
#[case(b" price=1", IlpError::NoMeasurement)]
#[case(b",symbol=A price=1", IlpError::NoMeasurement)]
#[case(b"t", IlpError::NoFields)]
#[case(b"t,symbol=A", IlpError::NoFields)]
#[case(b"t,symbol=A ", IlpError::NoFields)]
#[case(b"t,symbol price=1,size=1", IlpError::BadTag)]
#[case(b"t,symbol= price=1,size=1", IlpError::BadTag)]
#[case(b"t,=A price=1,size=1", IlpError::BadTag)]
#[case(b"t,symbol=A price", IlpError::BadField)]
#[case(b"t,symbol=A =1", IlpError::BadField)]
#[case(b"t,symbol=A price=1,", IlpError::BadField)]
#[case(b"t,symbol=A price=abc,size=1", IlpError::BadValue)]
#[case(b"t,symbol=A price=,size=1", IlpError::BadValue)]
#[case(b"t,symbol=A price=t,size=1", IlpError::BadValue)]
#[case(b"t,symbol=A price=1,size=1,x=zz", IlpError::BadValue)]
#[case(b"t,symbol=A,price=1 size=1", IlpError::BadValue)]
#[case(b"t,symbol=A price=1,size=1,id=-1i", IlpError::BadValue)]
#[case(b"t,symbol=A price=1,size=1,id=1.5", IlpError::BadValue)]
#[case(b"t,symbol=A price=1,size=1,s=\"abc", IlpError::UnterminatedString)]
#[case(b"t,symbol=A price=1,size=1 12a", IlpError::BadTimestamp)]
#[case(b"t,symbol=A price=1,size=1 ", IlpError::BadTimestamp)]
#[case(
    b"t,symbol=A price=1,size=1 99999999999999999999",
    IlpError::BadTimestamp
)]
#[case(b"t,symbol=A\\", IlpError::BadEscape)]
#[case(b"t,symbol=A price=1,size=1,amount=2", IlpError::DuplicateField)]
#[case(b"t,symbol=A,symbol=B price=1,size=1", IlpError::DuplicateField)]
#[case(b"t price=1,size=1", IlpError::MissingSymbol)]
#[case(b"t,symbol=A size=1", IlpError::MissingPrice)]
#[case(b"t,symbol=A price=1", IlpError::MissingSize)]
#[case(b"t,symbol=A price=1,size=1,bid=2", IlpError::AmbiguousKind)]
#[case(b"t,symbol=A,side=up price=1,size=1", IlpError::BadSide)]
#[case(b"t,symbol=A price=NaN,size=1", IlpError::Rejected(Reject::Price))]
#[case(b"t,symbol=A price=-1,size=1", IlpError::Rejected(Reject::Price))]
#[case(b"t,symbol=A price=1,size=-1i", IlpError::Rejected(Reject::Size))]
#[case(b"t,symbol=A bid=1,ask=-Infinity", IlpError::Rejected(Reject::Ask))]
#[case(
    b"t,symbol=ABCDEFGHIJKLMNOPQ price=1,size=1",
    IlpError::Rejected(Reject::Symbol)
)]
#[case(b"t,symbol=A\\\tB price=1,size=1", IlpError::Rejected(Reject::Symbol))]
#[case(
    b"t,symbol=A price=1,size=1 0",
    IlpError::Rejected(Reject::TimeTooEarly)
)]
fn malformed_lines(#[case] line: &[u8], #[case] e: IlpError) {
    let (mut p, _) = parser();
    assert_eq!(p.parse_line(line, NOW), Err(e), "{}", Snippet(line));
}

#[rstest]
#[case(b"t,symbol=A price=1.5,size=2".as_slice(), 1.5, 2.0)]
#[case(b"t,symbol=A price=15i,volume=2u", 15.0, 2.0)]
#[case(b"t,symbol=A price=1e2,qty=0.25", 100.0, 0.25)]
#[case(b"t,symbol=A,exch=Q price=.5,size=1.,b=true,c=F,ts=5t,tn=7n", 0.5, 1.0)]
#[case(
    b"t,symbol=A price=0.1,size=123456789012345678",
    0.1,
    123456789012345678.0
)]
#[case(
    b"t,symbol=A price=3.14159265358979323846,size=0",
    std::f64::consts::PI,
    0.0
)]
fn values(#[case] line: &[u8], #[case] price: f64, #[case] size: f64) {
    let (mut p, _) = parser();
    let t = p.parse_line(line, NOW).unwrap();
    assert_eq!((t.price, t.size, t.ts_event), (price, size, NOW));
}

#[test]
fn sides_ids_and_kind_rules() {
    let (mut p, _) = parser();
    let t = p
        .parse_line(b"t,symbol=A,side=SELL price=1,size=1,id=77i", NOW)
        .unwrap();
    assert_eq!((t.side, t.id), (Side::Sell, 77));
    let t = p
        .parse_line(b"t,symbol=A price=1,size=1,side=\"b\",trade_id=5u", NOW)
        .unwrap();
    assert_eq!((t.side, t.id), (Side::Buy, 5));
    let t = p.parse_line(b"q,symbol=A bid=1,ask=2", NOW).unwrap();
    assert_eq!((t.kind, t.size, t.ask_size), (TickKind::Quote, 0.0, 0.0));
    assert_eq!(
        p.parse_line(b"q,symbol=A ask=2", NOW),
        Err(IlpError::MissingQuote)
    );
}

#[test]
fn per_table_mapping() {
    let fx = FieldMap {
        kind: KindRule::Quote,
        symbol: vec!["pair".into()],
        bid: vec!["b".into()],
        ask: vec!["a".into()],
        ..FieldMap::default()
    };
    let cfg = IlpConfig {
        default: None,
        ..IlpConfig::default()
    }
    .with_table("fx", fx)
    .with_table("trades", FieldMap::default());
    let (mut p, t) = parser_with(&cfg);
    let q = p.parse_line(b"fx,pair=EURUSD b=1.1,a=1.2", NOW).unwrap();
    assert_eq!((q.kind, q.price, q.ask), (TickKind::Quote, 1.1, 1.2));
    assert_eq!(t.name(q.symbol).unwrap().as_str(), "EURUSD");
    assert_eq!(
        p.parse_line(b"fx,pair=EURUSD bid=1.1,ask=1.2", NOW),
        Err(IlpError::MissingQuote)
    );
    assert!(p.parse_line(b"trades,symbol=X price=1,size=1", NOW).is_ok());
    assert_eq!(
        p.parse_line(b"other,symbol=X price=1,size=1", NOW),
        Err(IlpError::UnknownTable)
    );
}

#[test]
fn stream_keeps_good_lines_counts_bad_ones_and_numbers_lines() {
    let (mut p, _) = parser();
    let mut st = IlpStream::new(3, None);
    let buf = b"t,symbol=A price=1,size=1\n\nbad line\n# comment\r\nt,symbol=B price=2,size=1\r\nt,symbol=C price=3,size=1\nt,symbol=D pri";
    let mut out = [Tick::default(); 8];
    let r = p.parse_buf(&mut st, buf, false, NOW, &mut out);
    assert_eq!(r.ticks, 3);
    assert_eq!(&buf[r.consumed..], b"t,symbol=D pri");
    assert_eq!(st.line_no, 6);
    assert_eq!(p.counts.get(IlpError::BadField), 1);
    assert_eq!(p.counts.blank, 2);
    assert_eq!(p.counts.ticks, 3);
    assert_eq!(out[2].price, 3.0);
    // the rest arrives
    let r = p.parse_buf(&mut st, b"t,symbol=D price=4,size=1", true, NOW, &mut out);
    assert_eq!((r.ticks, out[0].price, st.line_no), (1, 4.0, 7));
    // a full output stops early without losing a line
    let mut small = [Tick::default(); 1];
    let two = b"t,symbol=A price=1,size=1\nt,symbol=A price=2,size=1\n";
    let r = p.parse_buf(&mut st, two, false, NOW, &mut small);
    assert_eq!((r.ticks, r.consumed), (1, 26));
    // an escaped newline does not end the line
    let r = p.parse_buf(
        &mut st,
        b"t,symbol=A price=1,size=1,s=\"x\\\ny\"\nt,symbol=B\\\\ price=1,size=1\n",
        false,
        NOW,
        &mut out,
    );
    assert_eq!(r.ticks, 2);
}

#[test]
fn over_long_lines_are_skipped_to_their_newline() {
    let cfg = IlpConfig {
        max_line: 64,
        ..IlpConfig::default()
    };
    let (mut p, _) = parser_with(&cfg);
    let mut st = IlpStream::default();
    let mut out = [Tick::default(); 8];
    let long = vec![b'x'; 100];
    let r = p.parse_buf(&mut st, &long, false, NOW, &mut out);
    assert_eq!((r.consumed, r.ticks), (100, 0));
    let r = p.parse_buf(
        &mut st,
        b"xxxx\nt,symbol=A price=1,size=1\n",
        false,
        NOW,
        &mut out,
    );
    assert_eq!(r.ticks, 1);
    assert_eq!(p.counts.get(IlpError::LineTooLong), 1);
    // a complete over-long line in one buffer
    let mut line = b"t,symbol=A price=1,size=1,pad=\"".to_vec();
    line.extend(std::iter::repeat_n(b'p', 60));
    line.extend_from_slice(b"\"\nt,symbol=A price=1,size=1\n");
    let r = p.parse_buf(&mut st, &line, false, NOW, &mut out);
    assert_eq!(r.ticks, 1);
    assert_eq!(p.counts.get(IlpError::LineTooLong), 2);
    assert_eq!(st.line_no, 4);
}

#[test]
fn float_fast_path_matches_std() {
    for s in [
        "0",
        "1",
        "-1",
        "0.1",
        "0.3",
        "123.456",
        "999999999999999",
        "0.000000000000000000001",
        "1.7976931348623157",
        "5e-324",
        "1e308",
        "12345678901234567890",
        ".5",
        "1.",
        "-0.0",
        "3.0000000000000004",
        "0.1000000000000000055511151231257827",
    ] {
        assert_eq!(
            parse_f64(s.as_bytes()).map(f64::to_bits),
            s.parse::<f64>().ok().map(f64::to_bits),
            "{s}"
        );
    }
    assert_eq!(parse_f64(b"."), None);
    assert_eq!(parse_f64(b"-"), None);
    assert_eq!(parse_f64(b"1.2.3"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_floats_are_correctly_rounded(m in 0u64..1_000_000_000_000_000, k in 0usize..23, neg in any::<bool>()) {
        let mut s = m.to_string();
        if k > 0 {
            while s.len() <= k { s.insert(0, '0'); }
            s.insert(s.len() - k, '.');
        }
        if neg { s.insert(0, '-'); }
        prop_assert_eq!(parse_f64(s.as_bytes()).map(f64::to_bits), s.parse::<f64>().ok().map(f64::to_bits));
    }

    #[test]
    fn written_lines_parse_back(
        name in "[ -~]{1,16}", price in 1e-6f64..1e9, size in 0f64..1e9, id in 0i64..i64::MAX,
        side in 0u8..3, ts in crate::validate::NS_1990..NOW,
    ) {
        let esc: String = name.chars().flat_map(|c| {
            let e = matches!(c, ',' | ' ' | '=' | '\\');
            e.then_some('\\').into_iter().chain(std::iter::once(c))
        }).collect();
        let side_s = ["unknown", "buy", "sell"][side as usize];
        let line = format!("trades,symbol={esc},side={side_s} price={price:?},size={size:?},id={id}i {ts}");
        let (mut p, t) = parser();
        let tick = p.parse_line(line.as_bytes(), NOW).unwrap();
        let stored = t.name(tick.symbol).unwrap();
        prop_assert_eq!(stored.as_str(), name.as_str());
        prop_assert_eq!((tick.price, tick.size, tick.id, tick.ts_event), (price, size, id as u64, ts));
        prop_assert_eq!(tick.side, Side::from_u8(side));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), eof in any::<bool>()) {
        let (mut p, _) = parser_with(&IlpConfig { max_line: 64, ..IlpConfig::default() });
        let mut st = IlpStream::default();
        let mut out = [Tick::default(); 4];
        let r = p.parse_buf(&mut st, &bytes, eof, NOW, &mut out);
        prop_assert!(r.consumed <= bytes.len());
        let _ = p.parse_line(&bytes, NOW);
    }
}

#[test]
fn integers_at_their_limits() {
    assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_i64(b"-9223372036854775807"), Some(-i64::MAX));
    assert_eq!(parse_i64(b"9223372036854775808"), None);
    assert_eq!(parse_i64(b"9999999999999999999"), None);
    assert_eq!(parse_i64(b"10000000000000000000"), None);
    assert_eq!(parse_i64(b"0000000000000000001"), Some(1));
    assert_eq!(parse_i64(b"-0"), Some(0));
    assert_eq!(parse_i64(b"1a"), None);
    assert_eq!(parse_i64(b"-"), None);
    assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64(b"18446744073709551616"), None);
}

proptest! {
    #[test]
    fn integers_match_std(s in "-?[0-9]{1,19}") {
        prop_assert_eq!(parse_i64(s.as_bytes()), s.parse::<i64>().ok().filter(|&x| x != i64::MIN));
    }
}

/// Parses `chunks` in order as one stream (as a TCP connection delivers
/// them), returning the ticks' (symbol, price) and the counts.
fn parse_chunked(chunks: &[&[u8]]) -> (Vec<(u32, u64)>, IlpCounts) {
    let (mut p, _) = parser_with(&IlpConfig {
        max_line: 64,
        ..IlpConfig::default()
    });
    let mut st = IlpStream::default();
    let mut out = vec![Tick::default(); 4096];
    let mut buf = Vec::new();
    let mut ticks = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        buf.extend_from_slice(c);
        let r = p.parse_buf(&mut st, &buf, i + 1 == chunks.len(), NOW, &mut out);
        ticks.extend(out[..r.ticks].iter().map(|t| (t.symbol, t.price.to_bits())));
        buf.drain(..r.consumed);
    }
    (ticks, p.counts)
}

/// An over-long line being discarded across reads: a run of backslashes
/// split between two reads still escapes the newline after it, as it does
/// when the bytes arrive at once (found by the `ilp_line` fuzz target).
#[test]
fn discarding_an_overlong_line_keeps_escapes_across_reads() {
    let crash: &[u8] = b"mamuPtuno\\\\\\\n\\matuno\\\x7f\0\0\0\0\0\0\0\\\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88)))\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88\x88))))))))))))))))\x88\x88\x88\x88\x88\\\n\\";
    let long = "x".repeat(80);
    let cases: Vec<Vec<u8>> = vec![
        crash.to_vec(),
        format!("{long}\\\\\\\nt,symbol=A price=1,size=1 1\n").into_bytes(),
        format!("{long}\\\\\nt,symbol=A price=1,size=1 1\n").into_bytes(),
        format!("{long}\\\\\\\\\\\nstill the long line\nt,symbol=B price=2,size=1 1\n")
            .into_bytes(),
    ];
    for data in &cases {
        let whole = parse_chunked(&[data]);
        for cut in 0..=data.len() {
            let (a, b) = data.split_at(cut);
            assert_eq!(parse_chunked(&[a, b]), whole, "cut at {cut} of {data:?}");
        }
        for cut in 1..data.len() {
            let (a, rest) = data.split_at(cut);
            let (b, c) = rest.split_at(rest.len() / 2);
            assert_eq!(
                parse_chunked(&[a, b, c]),
                whole,
                "cuts at {cut} of {data:?}"
            );
        }
    }
}

proptest! {
    /// Any split of any mix of long lines, backslashes and newlines parses
    /// as the bytes whole do.
    #[test]
    fn splits_are_invisible(
        parts in proptest::collection::vec(prop_oneof![
            Just(b"\\".to_vec()), Just(b"\n".to_vec()), Just(b"x".repeat(40)),
            Just(b"t,symbol=A price=1,size=1 1".to_vec()), Just(b" ".to_vec()),
        ], 0..24),
        cut in any::<proptest::sample::Index>(),
    ) {
        let data = parts.concat();
        let whole = parse_chunked(&[&data]);
        let (a, b) = data.split_at(cut.index(data.len() + 1));
        prop_assert_eq!(parse_chunked(&[a, b]), whole);
    }
}
