//! The mio receivers over loopback, with in-memory sinks (issue 3: receivers,
//! backpressure, sequence tracking, ILP over TCP and UDP).

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::net::{Listener, Receiver, ReceiverConfig, SendBatch};
use ingest::sink::{Sink, SinkFull, VecSink};
use ingest::wire::{FRAME_SEQ_RESET, FrameEncoder, WireMsg};
use ingest::{Reject, SymbolName, SymbolTable};
use mtf::{Side, Tick};

const T0: i64 = 1_763_700_000_000_000_000;

fn any_port() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

fn trades(n: usize, first_id: u64) -> Vec<(Tick, SymbolName)> {
    (0..n)
        .map(|i| {
            let id = first_id + i as u64;
            let t = Tick::trade(
                0,
                T0 + id as i64,
                100.0 + (id % 7) as f64,
                1.0 + (id % 3) as f64,
                Side::Buy,
                id,
            );
            let name: SymbolName = format!("SYM{}", id % 5).parse().unwrap();
            (t, name)
        })
        .collect()
}

fn frames(ticks: &[(Tick, SymbolName)], stream: u32, first_seq: u64, tcp: bool) -> Vec<Vec<u8>> {
    let mut e = if tcp {
        FrameEncoder::new_tcp(stream, first_seq, 1400).unwrap()
    } else {
        FrameEncoder::new(stream, first_seq, 1400).unwrap()
    };
    let mut out = Vec::new();
    for (t, n) in ticks {
        let m = WireMsg::from_tick(t, *n);
        if e.push(&m).is_err() {
            out.push(e.finish(0).to_vec());
            e.push(&m).unwrap();
        }
    }
    if e.pending() > 0 {
        out.push(e.finish(0).to_vec());
    }
    out
}

/// Polls until `done` holds or 10 s pass.
fn pump<S: Sink>(rx: &mut Receiver<S>, mut done: impl FnMut(&mut Receiver<S>) -> bool) {
    let t = Instant::now();
    while !done(rx) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "timed out: {:?}",
            rx.stats()
        );
        rx.poll_once(Some(Duration::from_millis(5))).unwrap();
    }
}

fn ids(s: &[Tick]) -> Vec<u64> {
    s.iter().map(|t| t.id).collect()
}

#[test]
fn udp_binary_delivers_dedups_and_counts_gaps() {
    let cfg = ReceiverConfig {
        udp_binary: any_port(),
        udp_recv_buffer: 4 << 20,
        ..ReceiverConfig::default()
    };
    let table = Arc::new(SymbolTable::new(100));
    let mut rx = Receiver::bind(&cfg, table.clone(), VecSink::with_capacity(100_000)).unwrap();
    let addr = rx.local_addr(Listener::UdpBinary).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(addr).unwrap();
    let ticks = trades(1000, 1);
    let fs = frames(&ticks, 7, 1, false);
    let mut sb = SendBatch::new(64);
    let send = |fs: &[Vec<u8>], sb: &mut SendBatch| {
        let refs: Vec<&[u8]> = fs.iter().map(|f| f.as_slice()).collect();
        let mut i = 0;
        while i < refs.len() {
            i += sb.send(&tx, &refs[i..]).unwrap();
        }
    };
    send(&fs, &mut sb);
    pump(&mut rx, |rx| rx.sink().ticks.len() == 1000);
    // the whole feed again: all duplicates
    send(&fs, &mut sb);
    pump(&mut rx, |rx| rx.stats().seq.duplicates == 1000);
    // a gap of 500 numbers, then a reset
    let later = trades(10, 5000);
    send(&frames(&later, 7, 1501, false), &mut sb);
    pump(&mut rx, |rx| rx.sink().ticks.len() == 1010);
    let mut reset = frames(&trades(3, 9000), 7, 1, false);
    reset[0][5] = FRAME_SEQ_RESET;
    send(&reset, &mut sb);
    pump(&mut rx, |rx| rx.sink().ticks.len() == 1013);
    let s = rx.stats();
    assert_eq!((s.seq.gaps, s.seq.missing, s.seq.resets), (1, 500, 1));
    assert_eq!(s.net.udp_kernel_drops, 0);
    assert_eq!(s.net.ticks, 1013);
    let got = &rx.sink().ticks;
    assert_eq!(ids(&got[..1000]), (1..=1000).collect::<Vec<_>>());
    for (g, (t, n)) in got.iter().zip(&ticks) {
        assert_eq!(table.name(g.symbol), Some(*n));
        assert_eq!((g.price, g.size, g.ts_event), (t.price, t.size, t.ts_event));
        assert!(g.ts_recv > T0);
    }
}

#[test]
fn udp_drops_at_a_full_sink_are_counted_apart() {
    let cfg = ReceiverConfig {
        udp_binary: any_port(),
        udp_recv_buffer: 4 << 20,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        VecSink::with_capacity(100),
    )
    .unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr(Listener::UdpBinary).unwrap())
        .unwrap();
    for f in frames(&trades(250, 1), 1, 1, false) {
        tx.send(&f).unwrap();
    }
    pump(&mut rx, |rx| {
        let s = rx.stats().net;
        s.ticks + s.udp_sink_full_drops == 250
    });
    assert_eq!(rx.stats().net.udp_sink_full_drops, 150);
    assert_eq!(ids(&rx.sink().ticks), (1..=100).collect::<Vec<_>>());
}

/// A sink that takes at most `room` ticks between drains by the test.
struct Trickle {
    got: Vec<Tick>,
    room: usize,
}

impl Sink for Trickle {
    fn offer(&mut self, t: &Tick) -> Result<(), SinkFull> {
        if self.room == 0 {
            return Err(SinkFull);
        }
        self.room -= 1;
        self.got.push(*t);
        Ok(())
    }
}

#[test]
fn tcp_binary_backpressure_never_drops_and_keeps_order() {
    let cfg = ReceiverConfig {
        tcp_binary: any_port(),
        tcp_buffer: 4096,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        Trickle {
            got: Vec::new(),
            room: 0,
        },
    )
    .unwrap();
    let addr = rx.local_addr(Listener::TcpBinary).unwrap();
    let n = 20_000;
    let fs = frames(&trades(n, 1), 3, 1, true);
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for f in &fs {
            s.write_all(f).unwrap();
        }
    });
    let mut rounds = 0;
    pump(&mut rx, |rx| {
        rounds += 1;
        rx.sink_mut().room = 37; // a slow consumer
        rx.sink().got.len() == n
    });
    sender.join().unwrap();
    let s = rx.stats();
    assert!(s.net.tcp_backpressure > 0, "{s:?}");
    assert_eq!(s.net.ticks, n as u64);
    assert_eq!(ids(&rx.sink().got), (1..=n as u64).collect::<Vec<_>>());
    assert!(rounds > n / 37);
}

#[test]
fn tcp_binary_bad_length_closes_after_delivering_what_came_before() {
    let cfg = ReceiverConfig {
        tcp_binary: any_port(),
        max_frame: 2048,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        VecSink::with_capacity(1000),
    )
    .unwrap();
    let mut s = TcpStream::connect(rx.local_addr(Listener::TcpBinary).unwrap()).unwrap();
    for f in frames(&trades(30, 1), 1, 1, true) {
        s.write_all(&f).unwrap();
    }
    // a frame that is garbage but correctly framed is skipped, the connection lives
    let mut junk = vec![0u8; 4 + 40];
    junk[..4].copy_from_slice(&40u32.to_le_bytes());
    s.write_all(&junk).unwrap();
    for f in frames(&trades(5, 31), 1, 31, true) {
        s.write_all(&f).unwrap();
    }
    s.write_all(&100_000u32.to_le_bytes()).unwrap();
    s.write_all(&[0; 64]).unwrap();
    pump(&mut rx, |rx| rx.stats().net.tcp_closed == 1);
    let st = rx.stats();
    assert_eq!(ids(&rx.sink().ticks), (1..=35).collect::<Vec<_>>());
    assert_eq!((st.net.tcp_bad_length, st.wire.bad_frames_total()), (1, 2));
    assert_eq!(st.open_connections, 0);
}

#[test]
fn ilp_tcp_keeps_the_connection_and_the_good_lines() {
    let cfg = ReceiverConfig {
        ilp_tcp: any_port(),
        ..ReceiverConfig::default()
    };
    let table = Arc::new(SymbolTable::new(100));
    let mut rx = Receiver::bind(&cfg, table.clone(), VecSink::with_capacity(1000)).unwrap();
    let mut s = TcpStream::connect(rx.local_addr(Listener::IlpTcp).unwrap()).unwrap();
    let body = format!(
        "trades,symbol=AAPL,side=buy price=190.5,size=10i {}\n\
         trades,symbol=AAPL price=oops,size=1\n\
         quotes,symbol=EURUSD bid=1.1,ask=1.2,bid_size=5,ask_size=6 {}\n\
         trades,symbol=AAPL price=-1,size=1\n",
        T0 + 1,
        T0 + 2
    );
    // split mid-line to exercise reassembly
    let (a, b) = body.as_bytes().split_at(50);
    s.write_all(a).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    s.write_all(b).unwrap();
    pump(&mut rx, |rx| rx.stats().ilp.lines == 4);
    s.write_all(b"trades,symbol=MSFT price=1,size=2\n").unwrap();
    pump(&mut rx, |rx| rx.sink().ticks.len() == 3);
    let st = rx.stats();
    assert_eq!(st.ilp.get(ingest::ilp::IlpError::BadValue), 1);
    assert_eq!(st.ilp.rejects.get(Reject::Price), 1);
    assert_eq!(st.open_connections, 1);
    let t = &rx.sink().ticks;
    assert_eq!(
        (t[0].price, t[0].size, t[0].side, t[0].ts_event),
        (190.5, 10.0, Side::Buy, T0 + 1)
    );
    assert_eq!((t[1].bid(), t[1].ask, t[1].ask_size), (1.1, 1.2, 6.0));
    assert_eq!(table.name(t[2].symbol).unwrap().as_str(), "MSFT");
    assert!(
        t[2].ts_event > T0,
        "receive time stands in for a missing timestamp"
    );
}

#[test]
fn ilp_udp_datagrams() {
    let cfg = ReceiverConfig {
        ilp_udp: any_port(),
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        VecSink::with_capacity(10_000),
    )
    .unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr(Listener::IlpUdp).unwrap();
    // more lines in one datagram than one burst of ticks holds
    let mut d = String::new();
    for i in 0..1500 {
        d.push_str(&format!("t,symbol=X price={}.5,size=1\n", i + 1));
    }
    d.push_str("t,symbol=X price=1,size=9"); // no newline at the end of a datagram
    tx.send_to(d.as_bytes(), to).unwrap();
    pump(&mut rx, |rx| rx.sink().ticks.len() == 1501);
    assert_eq!(rx.sink().ticks[1500].size, 9.0);
}

#[test]
fn connections_beyond_the_maximum_are_refused() {
    let cfg = ReceiverConfig {
        ilp_tcp: any_port(),
        max_connections: 2,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        VecSink::with_capacity(10),
    )
    .unwrap();
    let a = rx.local_addr(Listener::IlpTcp).unwrap();
    let _c: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(a).unwrap()).collect();
    pump(&mut rx, |rx| {
        let s = rx.stats().net;
        s.tcp_accepted == 2 && s.tcp_refused == 1
    });
    drop(_c);
    pump(&mut rx, |rx| rx.stats().open_connections == 0);
}

#[test]
fn config_is_checked() {
    let bad = ReceiverConfig {
        udp_binary: any_port(),
        udp_batch: 0,
        ..ReceiverConfig::default()
    };
    assert!(Receiver::bind(&bad, Arc::new(SymbolTable::new(1)), VecSink::default()).is_err());
    assert!(
        Receiver::bind(
            &ReceiverConfig::default(),
            Arc::new(SymbolTable::new(1)),
            VecSink::default()
        )
        .is_err()
    );
}

#[test]
fn ilp_tcp_over_long_line_is_skipped_across_reads_and_the_connection_lives() {
    let cfg = ReceiverConfig {
        ilp_tcp: any_port(),
        tcp_buffer: 4096,
        ilp: ingest::ilp::IlpConfig {
            max_line: 100,
            ..Default::default()
        },
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        VecSink::with_capacity(100),
    )
    .unwrap();
    let mut s = TcpStream::connect(rx.local_addr(Listener::IlpTcp).unwrap()).unwrap();
    s.write_all(b"t,symbol=A price=1,size=1\nt,symbol=A price=2,size=1,pad=\"")
        .unwrap();
    s.write_all(&vec![b'x'; 50_000]).unwrap();
    s.write_all(b"\"\nt,symbol=A price=3,size=1\n").unwrap();
    pump(&mut rx, |rx| rx.sink().ticks.len() == 2);
    let st = rx.stats();
    assert_eq!(st.ilp.get(ingest::ilp::IlpError::LineTooLong), 1);
    assert_eq!((st.open_connections, st.net.tcp_closed), (1, 0));
    let prices: Vec<f64> = rx.sink().ticks.iter().map(|t| t.price).collect();
    assert_eq!(prices, [1.0, 3.0]);
}

#[test]
fn udp_datagrams_longer_than_the_buffer_are_counted_as_truncated() {
    let cfg = ReceiverConfig {
        udp_binary: any_port(),
        max_datagram: 200,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::bind(
        &cfg,
        Arc::new(SymbolTable::new(100)),
        VecSink::with_capacity(100),
    )
    .unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr(Listener::UdpBinary).unwrap())
        .unwrap();
    let fs = frames(&trades(20, 1), 1, 1, false);
    tx.send(&fs[0]).unwrap();
    let small = frames(&trades(2, 100), 1, 100, false);
    tx.send(&small[0]).unwrap();
    pump(&mut rx, |rx| rx.stats().net.udp_datagrams == 2);
    let st = rx.stats();
    assert_eq!((st.net.udp_truncated, st.net.ticks), (1, 2));
}

#[test]
fn receivers_and_senders_move_to_their_threads() {
    fn is_send<T: Send>() {}
    is_send::<Receiver<VecSink>>();
    is_send::<ingest::net::send::WireSender>();
    is_send::<ingest::ilp::IlpParser>();
    is_send::<ingest::wire::WireDecoder>();
}

/// A receiver that never blocks in poll (`spin_after_work: MAX`, the inline
/// engine's `idle = "spin"`) still delivers everything and still sees `stop`.
#[test]
fn a_spinning_receiver_delivers_and_stops() {
    for spin in [Duration::MAX, Duration::from_millis(50)] {
        let cfg = ReceiverConfig {
            udp_binary: any_port(),
            udp_recv_buffer: 4 << 20,
            spin_after_work: spin,
            ..ReceiverConfig::default()
        };
        let table = Arc::new(SymbolTable::new(100));
        let mut rx = Receiver::bind(&cfg, table, VecSink::with_capacity(10_000)).unwrap();
        let addr = rx.local_addr(Listener::UdpBinary).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let h = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                rx.run(&stop).unwrap();
                rx
            })
        };
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(addr).unwrap();
        let mut sent = 0;
        for (k, f) in frames(&trades(1000, 1), 3, 1, false).iter().enumerate() {
            tx.send(f).unwrap();
            sent += 1;
            if k % 3 == 0 {
                // some idle time between datagrams: the spin window expires
                // with the 50 ms setting, never with MAX
                std::thread::sleep(Duration::from_millis(if k % 9 == 0 { 80 } else { 1 }));
            }
        }
        assert!(sent > 1);
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rx = h.join().unwrap();
        assert_eq!(rx.sink().ticks.len(), 1000, "{spin:?}");
        assert_eq!(ids(&rx.sink().ticks), (1..=1000).collect::<Vec<_>>());
    }
}
