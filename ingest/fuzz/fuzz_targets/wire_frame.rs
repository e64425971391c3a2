//! Fuzz target: the binary wire frame parser and decoder.
//!
//! Any bytes as a frame: no panic; a frame that parses accounts for every
//! message (ticks + skipped = count); every tick passes the validator; every
//! tick re-encoded and decoded again comes back identical; the sequence
//! tracker never asks to skip more messages than the frame holds.
#![no_main]

use std::sync::Arc;

use ingest::seq::SeqTracker;
use ingest::wire::{FrameEncoder, FrameView, WireDecoder, WireMsg};
use ingest::{SymbolCache, SymbolTable, Validator};
use libfuzzer_sys::fuzz_target;
use mtf::Tick;

const NOW: i64 = 1_900_000_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    let table = Arc::new(SymbolTable::new(64));
    let v = Validator::history();
    let mut dec = WireDecoder::new(SymbolCache::new(table.clone()), v);
    let mut out = vec![Tick::default(); 1200];
    let Ok(view) = FrameView::parse(data) else {
        assert!(dec.decode(data, NOW, &mut out).is_err());
        return;
    };
    let count = view.header.count as usize;
    assert_eq!(view.messages().count(), count);
    let mut seq = SeqTracker::new(4);
    let skip = seq.check(1, &view.header, NOW);
    assert!(skip <= count);
    let again = seq.check(1, &view.header, NOW);
    assert!(again <= count);
    let Ok(d) = dec.decode_from(&view, 0, NOW, &mut out) else {
        assert!(count > out.len());
        return;
    };
    assert_eq!(d.ticks + d.skipped, count);
    let mut enc = FrameEncoder::new(view.header.stream_id, 0, 65_507).unwrap();
    for t in &out[..d.ticks] {
        assert!(v.check(t, NOW).is_ok());
        let name = table.name(t.symbol).expect("interned");
        enc.push(&WireMsg::from_tick(t, name)).unwrap();
    }
    let frame = enc.finish(0).to_vec();
    let mut back = vec![Tick::default(); 1200];
    let r = dec.decode(&frame, NOW, &mut back).unwrap();
    assert_eq!(r.ticks, d.ticks);
    for (a, b) in out[..d.ticks].iter().zip(&back) {
        let mut a = *a;
        // The replay bit of the frame is not carried by a plain encoder frame.
        a.flags &= !Tick::FLAG_REPLAY;
        let mut b = *b;
        b.flags &= !Tick::FLAG_REPLAY;
        assert_eq!(a, b);
    }
});
