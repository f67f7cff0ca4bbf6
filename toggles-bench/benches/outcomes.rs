//! What recording an outcome under a guarded flag costs, beside a raw atomic increment: on one
//! thread, and on two threads at once (where one shared counter's cache line bounces between
//! the cores and the flag's per-thread stripes do not).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::{toggle, Flag};

/// A flag whose outcomes are recorded.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static GUARDED: Flag;

static RAW: AtomicU64 = AtomicU64::new(0);

/// Wall time for `iters` runs of `work` split over `threads` threads.
fn split<F: Fn(u64) + Sync>(iters: u64, threads: u64, work: &F) -> Duration {
    let per_thread = (iters / threads).max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    work(i);
                }
            });
        }
    });
    start.elapsed()
}

fn outcomes(c: &mut Criterion) {
    let raw = |i: u64| {
        black_box(&RAW).fetch_add(black_box(i & 1), Ordering::Relaxed);
    };
    let record = |i: u64| black_box(&GUARDED).record(true, black_box(i & 7 != 0));
    let outcome = |i: u64| {
        let outcome = black_box(&GUARDED).outcome(true);
        if black_box(i & 7 != 0) {
            outcome.ok();
        }
    };
    let mut g = c.benchmark_group("outcomes");
    g.measurement_time(Duration::from_secs(3));
    for threads in [1, 2] {
        g.bench_function(
            format!("baseline: raw AtomicU64 fetch_add, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &raw)),
        );
        g.bench_function(format!("Flag::record, {threads} thread(s)"), |b| {
            b.iter_custom(|iters| split(iters, threads, &record));
        });
        g.bench_function(format!("Flag::outcome + ok, {threads} thread(s)"), |b| {
            b.iter_custom(|iters| split(iters, threads, &outcome));
        });
    }
    g.finish();
}

criterion_group!(benches, outcomes);
criterion_main!(benches);
