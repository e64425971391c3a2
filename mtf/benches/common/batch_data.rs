//! The batch benchmark's columns, shared by `benches/batch.rs` and
//! `examples/batch_cpu.rs`.

#![allow(dead_code)]

use mtf::Side;

pub struct Cols {
    pub ts: Vec<i64>,
    pub price: Vec<f64>,
    pub size: Vec<f64>,
    pub side: Vec<Side>,
}

/// One symbol, about 1 ms apart (so ~60k ticks per 1-minute bar), random-walk
/// prices, sizes with 3 decimals, mixed sides, some equal timestamps.
pub fn columns(n: usize, huge: bool) -> Cols {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut c = Cols {
        ts: Vec::with_capacity(n),
        price: Vec::with_capacity(n),
        size: Vec::with_capacity(n),
        side: Vec::with_capacity(n),
    };
    if huge {
        // Before the first write, so the pages are faulted in as huge pages.
        advise_huge(&c.ts);
        advise_huge(&c.price);
        advise_huge(&c.size);
        advise_huge(&c.side);
    }
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut p = 30_000.0f64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ts += (x % 2_000_000) as i64;
        p += ((x >> 40) % 21) as f64 * 0.01 - 0.1;
        c.ts.push(ts);
        c.price.push(p);
        c.size.push(((x >> 20) % 5000) as f64 * 0.001);
        c.side.push(Side::from_u8(((x >> 50) % 3) as u8));
    }
    c
}

/// Advises the 2 MiB-aligned interior of `v`'s allocation for transparent
/// huge pages (a hint: the kernel may decline; the bench prints what it got).
fn advise_huge<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + v.capacity() * size_of::<T>();
        let (a, b) = ((start + HUGE - 1) & !(HUGE - 1), end & !(HUGE - 1));
        if b > a {
            // SAFETY: [a, b) lies inside `v`'s live allocation; MADV_HUGEPAGE
            // changes no contents and no mapping rights, only page size.
            let rc = unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE) };
            if rc != 0 {
                eprintln!(
                    "madvise(MADV_HUGEPAGE) refused: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// `AnonHugePages` from /proc/meminfo, in kB (0 when unknown).
pub fn anon_huge_kb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("AnonHugePages:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Rows ahead that the read floors prefetch, as the kernels do: into L1 and
/// into L2.
const AHEAD_L1: usize = 256;
const AHEAD_L2: usize = 2048;

/// One prefetch (`l2`: into L2 only). A hint that never faults.
#[inline(always)]
fn prefetch(p: *const i8, l2: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T2, _mm_prefetch};
        // SAFETY: prefetch is a hint that never faults, whatever the address.
        unsafe {
            if l2 {
                _mm_prefetch::<_MM_HINT_T2>(p);
            } else {
                _mm_prefetch::<_MM_HINT_T0>(p);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, l2);
}

/// Price and size `AHEAD_L1` rows on into L1 and `AHEAD_L2` rows on into L2.
#[inline(always)]
fn prefetch_rows(price: &[f64], size: &[f64], k: usize) {
    for col in [price, size] {
        prefetch(col.as_ptr().wrapping_add(k + AHEAD_L1).cast(), false);
        prefetch(col.as_ptr().wrapping_add(k + AHEAD_L2).cast(), true);
    }
}

/// Sums both columns 8 rows at a time (4-way sums the compiler vectorizes),
/// prefetching as the SIMD kernels do: 256 rows ahead into L1, 2048 rows
/// ahead into L2.
pub fn read_floor(price: &[f64], size: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let n = price.len().min(size.len()) / 8 * 8;
    let mut k = 0;
    while k < n {
        prefetch_rows(price, size, k);
        for j in 0..8 {
            acc[j % 4] += price[k + j];
            acc[4 + j % 4] += size[k + j];
        }
        k += 8;
    }
    acc.iter().sum()
}

/// [`read_floor`] plus the side column, read 8 sides at a time as a `u64`
/// and prefetched every 8 rows as the kernels do: the floor for the 17 bytes
/// per tick that the kernels read when sides are given.
pub fn read_floor_with_side(price: &[f64], size: &[f64], side: &[Side]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut sides = 0u64;
    let n = price.len().min(size.len()).min(side.len()) / 8 * 8;
    let mut k = 0;
    while k < n {
        prefetch_rows(price, size, k);
        prefetch(side.as_ptr().wrapping_add(k + AHEAD_L1).cast(), false);
        for j in 0..8 {
            acc[j % 4] += price[k + j];
            acc[4 + j % 4] += size[k + j];
        }
        let mut word = [0u8; 8];
        for (w, s) in word.iter_mut().zip(&side[k..k + 8]) {
            *w = *s as u8;
        }
        sides = sides.wrapping_add(u64::from_le_bytes(word));
        k += 8;
    }
    acc.iter().sum::<f64>() + sides as f64
}
