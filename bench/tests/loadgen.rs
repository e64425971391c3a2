//! The load generator against tickd's own parsers (issue 7): every tick sent
//! is decoded, nothing is malformed, ids are the stream positions, and the
//! latency is measured from each tick's schedule.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bench::load::{self, LoadConfig, Protocol, Rate, SynthSource};
use bench::sink::Sink;
use bench::synth::SynthConfig;

fn roundtrip(protocol: Protocol, rate: Rate, ticks: u64) {
    let slot = Arc::new(parking_lot::Mutex::new(None));
    let sink = Sink::start(protocol, slot.clone()).unwrap();
    let mut cfg = LoadConfig::new(protocol, sink.addr());
    cfg.rate = rate;
    cfg.max_ticks = ticks;
    cfg.duration = Duration::from_secs(30);
    let mut src = SynthSource::new(SynthConfig {
        symbols: 100,
        quote_every: 7,
        skew: 1.0,
        ..SynthConfig::default()
    });
    let publish = |s| *slot.lock() = Some(s);
    let rep = load::run_observed(&cfg, &mut src, &AtomicBool::new(false), &publish).unwrap();
    let got = sink.finish(Duration::from_millis(100)).unwrap();
    assert_eq!(rep.ticks, ticks, "{protocol:?}");
    assert_eq!(got.malformed, 0, "{protocol:?}");
    assert_eq!(got.ticks, ticks, "{protocol:?}: received");
    assert_eq!(got.id_end, ticks, "{protocol:?}: ids are stream positions");
    assert_eq!(got.reordered, 0, "{protocol:?}");
    assert!(rep.bytes > 0 && rep.frames > 0);
    match rate {
        Rate::Fixed(r) => {
            assert_eq!(rep.offered_rate, Some(r));
            assert_eq!(rep.lag.count, ticks, "every tick's lag is recorded");
            // Sending `ticks` at `r`/s cannot take less than the schedule.
            let min_s = (ticks - 1) as f64 / r as f64;
            assert!(rep.elapsed_s >= min_s * 0.99, "{} < {min_s}", rep.elapsed_s);
            // The sink measured every tick from its schedule.
            assert_eq!(got.latency.len(), ticks);
        }
        Rate::Max => assert_eq!(rep.offered_rate, None),
    }
}

#[test]
fn tcp_binary_max_rate() {
    roundtrip(Protocol::TcpBinary, Rate::Max, 50_000);
}

#[test]
fn tcp_binary_fixed_rate() {
    roundtrip(Protocol::TcpBinary, Rate::Fixed(200_000), 20_000);
}

#[test]
fn ilp_tcp_max_rate() {
    roundtrip(Protocol::IlpTcp, Rate::Max, 50_000);
}

#[test]
fn ilp_tcp_fixed_rate() {
    roundtrip(Protocol::IlpTcp, Rate::Fixed(100_000), 10_000);
}

#[test]
fn udp_binary_fixed_rate() {
    // A modest rate: a debug-build sink must keep up or loopback drops.
    roundtrip(Protocol::UdpBinary, Rate::Fixed(50_000), 5_000);
}

#[test]
fn bad_options_are_typed_errors() {
    let addr = "127.0.0.1:9".parse().unwrap();
    let mut cfg = LoadConfig::new(Protocol::UdpBinary, addr);
    cfg.rate = Rate::Fixed(0);
    let mut src = SynthSource::new(SynthConfig::default());
    let stop = AtomicBool::new(false);
    assert!(matches!(
        load::run(&cfg, &mut src, &stop),
        Err(load::LoadError::Config(_))
    ));
    cfg.rate = Rate::Max;
    cfg.frame_bytes = 10;
    assert!(load::run(&cfg, &mut src, &stop).is_err());
    assert!("carrier-pigeon".parse::<Protocol>().is_err());
}

#[test]
fn a_sink_nobody_connects_to_still_stops() {
    for p in [Protocol::TcpBinary, Protocol::IlpTcp, Protocol::UdpBinary] {
        let sink = Sink::start(p, Arc::new(parking_lot::Mutex::new(None))).unwrap();
        let got = sink.finish(Duration::from_millis(10)).unwrap();
        assert_eq!((got.ticks, got.malformed), (0, 0));
    }
}
