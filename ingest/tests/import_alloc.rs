//! Memory bounds of the importers, measured with a counting allocator:
//! constant memory whatever the input size (an endless line included), and no
//! allocation per tick once an import runs. One test only in this binary, so
//! no other test allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use ingest::import::{Format, ImportOptions, Importer, Input, RowError};
use ingest::{SymbolCache, SymbolTable};
use mtf::Tick;

struct Counting;

/// Bytes currently allocated, and the number of allocations, by every thread.
/// Relaxed: the test reads them from the thread that allocates.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size() as isize, Ordering::Relaxed) + l.size() as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
        COUNT.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn constant_memory_and_no_allocation_per_tick() {
    // 8 MB of one line without a newline, then 200,000 rows: gzip'd, so it streams
    let mut text = vec![b'x'; 8 << 20];
    text.push(b'\n');
    for i in 0..200_000u64 {
        writeln!(
            text,
            "binance-futures,BTCUSDT,{},{},{i},buy,9682.5,0.132",
            1_582_329_602_111_000u64 + i,
            1_582_329_602_418_379u64 + i
        )
        .unwrap();
    }
    let mut data = b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n".to_vec();
    data.extend_from_slice(&text);
    let gz: Arc<[u8]> = Arc::from(gzip(&data));
    drop((text, data));

    let mut cache = SymbolCache::new(Arc::new(SymbolTable::new(4)));
    let mut buf = vec![Tick::default(); 1024];
    let mut opts = ImportOptions::new(Format::Tardis);
    opts.log_errors = false;
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut imp = Importer::open(
        Input::Bytes {
            name: "t.gz".into(),
            data: gz,
        },
        opts,
    )
    .unwrap();
    let mut ticks = imp.next_batch(&mut cache, &mut buf).unwrap() as u64;
    let allocs = COUNT.load(Ordering::Relaxed);
    loop {
        let n = imp.next_batch(&mut cache, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        ticks += n as u64;
    }
    assert_eq!(ticks, 200_000);
    assert_eq!(imp.counts().errors(RowError::TooLong), 1);
    assert_eq!(
        COUNT.load(Ordering::Relaxed),
        allocs,
        "no allocation after the first batch"
    );
    let peak = PEAK.load(Ordering::Relaxed) - base;
    // line buffer (256 KiB) + inflate state (~ 100 KiB) + gzip header; far below the 8 MB line
    assert!(peak < 1 << 20, "peak {peak} bytes");
}
