//! Benchmarks of `toggles` live in `benches/`; run them with
//! `cargo bench -p toggles-bench`. See BENCHMARKS.md for the figures and how to read them.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The bucketing formula with nothing around it, by the streaming hasher: the baseline a
/// rollout's or an experiment's check is judged against.
pub fn raw_bucket(salt: &str, unit: &str) -> u16 {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(b":")
        .chain_update(unit.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u16::try_from(u64::from_be_bytes(first) % 10_000).expect("below 10,000")
}

/// Wall time for `iters` runs of `work` split over `threads` threads; `work` gets an index
/// below 1,024, each thread its own half, for per-request data.
pub fn split<F: Fn(usize) + Sync>(iters: u64, threads: u64, work: &F) -> Duration {
    let per_thread = usize::try_from(iters / threads).unwrap().max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    work(usize::try_from(t).unwrap() * 512 + (i & 511));
                }
            });
        }
    });
    start.elapsed()
}
