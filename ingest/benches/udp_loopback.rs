//! The UDP receiver over loopback: offered rate in, loss and achieved rate out.
//!
//! ```text
//! cargo bench -p ingest --bench udp_loopback                      # smoke: 2 s at 1M ticks/s
//! cargo bench -p ingest --bench udp_loopback -- --rate 6000000 --duration 10
//! cargo bench -p ingest --bench udp_loopback -- --rate 1000000 --duration 60
//! cargo bench -p ingest --bench udp_loopback -- --rate 0          # as fast as sendmmsg goes
//! ```
//!
//! A sender thread sends binary frames of 24 trades (1376 bytes, within a
//! 1408-byte datagram budget) with `sendmmsg` in batches of 64, paced to
//! `--rate` ticks/s (0: unpaced). A receiver thread runs [`Receiver`] with a
//! counting sink. At the end it prints offered and received ticks, sequence
//! gaps, kernel drops, and the achieved rate; with `--assert-no-loss`
//! (default on) it exits non-zero when a tick was lost.
//! `--pin SENDER,RECEIVER` pins the two threads to cores.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ingest::net::{Listener, Receiver, ReceiverConfig, SendBatch};
use ingest::sink::CountingSink;
use ingest::wire::{FrameEncoder, OFF_SEND_TIME, OFF_SEQ, WireMsg};
use ingest::{SymbolTable, Validator};
use mtf::{Side, Tick};

struct Args {
    rate: u64,
    duration: f64,
    batch: usize,
    datagram: usize,
    recv_buffer: usize,
    assert_no_loss: bool,
    pin: Option<(usize, usize)>,
}

fn args() -> Args {
    let mut a = Args {
        rate: 1_000_000,
        duration: 2.0,
        batch: 64,
        datagram: 1408,
        recv_buffer: 64 << 20,
        assert_no_loss: true,
        pin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_default();
        match k.as_str() {
            "--rate" => a.rate = val().parse().expect("--rate TICKS_PER_S"),
            "--duration" => a.duration = val().parse().expect("--duration SECONDS"),
            "--batch" => a.batch = val().parse().expect("--batch N"),
            "--datagram" => a.datagram = val().parse().expect("--datagram BYTES"),
            "--recv-buffer" => a.recv_buffer = val().parse().expect("--recv-buffer BYTES"),
            "--no-assert" => a.assert_no_loss = false,
            "--pin" => {
                let v = val();
                let (s, r) = v.split_once(',').expect("--pin SENDER,RECEIVER");
                a.pin = Some((s.parse().unwrap(), r.parse().unwrap()));
            }
            _ => {} // `cargo bench` passes --bench and filters
        }
    }
    a
}

fn pin(core: Option<usize>) {
    let Some(c) = core else { return };
    // SAFETY: cpu_set_t is a plain bit array; zeroed is the empty set, CPU_SET
    // writes one bit inside it, and sched_setaffinity reads `size_of` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(c, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// CPU time this thread has used, seconds.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; the clock id is a valid constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let a = args();
    let now = ingest::net::now_ns();
    let cfg = ReceiverConfig {
        udp_binary: Some("127.0.0.1:0".parse().unwrap()),
        udp_recv_buffer: a.recv_buffer,
        udp_batch: 64,
        max_datagram: a.datagram.max(1500),
        // The template frame keeps its event times for the whole run: a live
        // window would start refusing them after the skew.
        validator: Validator::history(),
        poll_timeout: Duration::from_millis(1),
        ..ReceiverConfig::default()
    };
    let table = Arc::new(SymbolTable::new(1024));
    let mut rx = Receiver::bind(&cfg, table, CountingSink::default()).expect("bind");
    let addr = rx.local_addr(Listener::UdpBinary).unwrap();
    let stats0 = rx.stats();
    let buf = stats0.udp_binary_buffer.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let (stop2, received2) = (stop.clone(), received.clone());
    let rx_pin = a.pin.map(|p| p.1);
    let receiver = std::thread::spawn(move || {
        pin(rx_pin);
        // Release: pairs with the Acquire loads of the main thread.
        rx.run_reporting(&stop2, Duration::from_millis(20), |s| {
            received2.store(s.net.ticks, Ordering::Release)
        })
        .expect("receiver");
        (rx.stats(), thread_cpu_secs())
    });

    // One template frame of trades; each send patches sequence and send time.
    let names: Vec<_> = (0..16)
        .map(|i| format!("SYM{i:02}").parse().unwrap())
        .collect();
    let mut e = FrameEncoder::new(42, 0, a.datagram).unwrap();
    let mut i = 0u64;
    loop {
        let t = Tick::trade(0, now, 100.0 + (i % 10) as f64, 1.0, Side::Buy, i);
        if e.push(&WireMsg::from_tick(&t, names[(i % 16) as usize]))
            .is_err()
        {
            break;
        }
        i += 1;
    }
    let per = e.pending() as u64;
    let template = e.finish(0).to_vec();
    let mut bufs: Vec<Vec<u8>> = (0..a.batch).map(|_| template.clone()).collect();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(addr).unwrap();
    let mut sb = SendBatch::new(a.batch);
    pin(a.pin.map(|p| p.0));

    eprintln!(
        "udp_loopback: {} ticks/datagram ({} bytes), rate {} ticks/s, {} s, recv buffer {} (effective {}, forced {})",
        per,
        template.len(),
        if a.rate == 0 {
            "max".to_string()
        } else {
            a.rate.to_string()
        },
        a.duration,
        buf.requested,
        buf.effective,
        buf.forced
    );
    let start = Instant::now();
    let end = Duration::from_secs_f64(a.duration);
    let mut seq = 1u64;
    let mut sent_ticks = 0u64;
    let mut would_block = 0u64;
    while start.elapsed() < end {
        if a.rate > 0 {
            // pace: do not get ahead of rate × elapsed
            let due = (start.elapsed().as_secs_f64() * a.rate as f64) as u64;
            if sent_ticks > due {
                std::hint::spin_loop();
                continue;
            }
        }
        let t = ingest::net::now_ns();
        for b in bufs.iter_mut() {
            b[OFF_SEQ..OFF_SEQ + 8].copy_from_slice(&seq.to_le_bytes());
            b[OFF_SEND_TIME..OFF_SEND_TIME + 8].copy_from_slice(&t.to_le_bytes());
            seq += per;
        }
        let refs: Vec<&[u8]> = bufs.iter().map(|b| b.as_slice()).collect();
        let mut k = 0;
        while k < refs.len() {
            match sb.send(&tx, &refs[k..]) {
                Ok(n) => k += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => would_block += 1,
                Err(e) => panic!("send: {e}"),
            }
        }
        sent_ticks += per * refs.len() as u64;
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Wait until everything is in, or nothing moved for 5 s (a shared machine
    // can leave the receiver without a core for a while).
    let mut last = (received.load(Ordering::Acquire), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let r = received.load(Ordering::Acquire);
        if r >= sent_ticks {
            break;
        }
        if r != last.0 {
            last = (r, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let all_in = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let sender_cpu = thread_cpu_secs();
    let (s, receiver_cpu) = receiver.join().unwrap();
    let lost = sent_ticks.saturating_sub(s.net.ticks);
    println!(
        "offered {sent_ticks} ticks in {send_secs:.2} s ({:.2} M/s offered); received {} ({:.2} M/s over {all_in:.2} s); lost {lost}; \
         seq missing {} in {} gaps; kernel drops {} datagrams; sink-full drops {}; truncated {}; bad frames {}; rejected {}; sender would-block {would_block}",
        sent_ticks as f64 / send_secs / 1e6,
        s.net.ticks,
        s.net.ticks as f64 / all_in / 1e6,
        s.seq.missing,
        s.seq.gaps,
        s.net.udp_kernel_drops,
        s.net.udp_sink_full_drops,
        s.net.udp_truncated,
        s.wire.bad_frames_total(),
        s.wire.rejects.total(),
    );
    println!(
        "receiver thread CPU {receiver_cpu:.2} s: {:.2} M ticks per receiver CPU-second (its capacity on one core); sender thread CPU {sender_cpu:.2} s",
        s.net.ticks as f64 / receiver_cpu / 1e6
    );
    if a.assert_no_loss && lost > 0 {
        eprintln!("FAIL: {lost} ticks lost");
        std::process::exit(1);
    }
}
