//! A minimal Rust subscriber: prints what the ring carries, optionally only
//! some symbols and timeframes, and the snapshot's latest bars at the end.
//!
//! ```sh
//! cargo run -p ring --example subscribe -- /dev/shm/tickd.ring /dev/shm/tickd.snap [SYMBOL...] [--tf 1m]...
//! ```

use mtf::Timeframe;
use ring::{ReaderOptions, Received, Record, Subscriber, Wait, WaitError};
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        eprintln!("subscribe: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(ring_path), Some(snap_path)) = (args.next(), args.next()) else {
        return Err("usage: subscribe RING SNAPSHOT [SYMBOL...] [--tf 1m]...".into());
    };
    let (mut names, mut tfs) = (Vec::new(), Vec::new());
    while let Some(a) = args.next() {
        if a == "--tf" {
            let tf: Timeframe = args.next().ok_or("--tf needs a value")?.parse()?;
            tfs.push(tf);
        } else {
            names.push(a);
        }
    }
    let mut sub = Subscriber::open(&ring_path, &snap_path, &ReaderOptions::default())?;
    if !names.is_empty() || !tfs.is_empty() {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let unknown = if refs.is_empty() {
            // all symbols, some timeframes
            let all: Vec<String> = sub
                .snapshot_reader()
                .symbols()?
                .into_iter()
                .map(|(_, n)| n)
                .collect();
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            sub.subscribe(&all, Some(&tfs))?
        } else {
            sub.subscribe(&refs, (!tfs.is_empty()).then_some(&tfs[..]))?
        };
        if !unknown.is_empty() {
            eprintln!("subscribe: not (yet) in the directory: {unknown:?}");
        }
    }
    let wait = Wait {
        timeout: Some(Duration::from_secs(5)),
        ..Wait::default()
    };
    loop {
        match sub.next_wait(&wait) {
            Ok(Received::Record { seq, record }) => {
                println!("{seq} {record:?}");
                if matches!(record, Record::Shutdown { .. }) {
                    break;
                }
            }
            Ok(Received::Lapped { lost }) => eprintln!("subscribe: lapped, {lost} records lost"),
            Err(WaitError::Timeout) => eprintln!("subscribe: quiet for 5 s"),
            Err(e) => {
                eprintln!("subscribe: {e}");
                break;
            }
        }
    }
    for name in &names {
        for tf in &tfs {
            println!("snapshot {name} {tf}: {:?}", sub.snapshot(name, *tf)?);
        }
    }
    Ok(())
}
