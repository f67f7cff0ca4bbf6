//! What recording an outcome under a guarded flag costs, beside a raw atomic increment: on one
//! thread, and on two threads at once (where one shared counter's cache line bounces between
//! the cores and the flag's per-thread stripes do not). And an outcome with its run time beside
//! a raw increment plus one reading of the clock: the timed outcome reads it twice (at its
//! creation and its end), and adds to the run-time counter of the run's bucket.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::rules::{FlagRule, Guard};
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag};

/// A flag whose outcomes are recorded.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static GUARDED: Flag;

/// A flag with a guard on run times: its outcomes time themselves.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static TIMED: Flag;

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
    let _toggles = toggles::Installer::new(MemoryStore::new())
        .without_guard_thread()
        .install()
        .unwrap();
    let guard = Guard::p95_margin(20.0);
    let rule = FlagRule::new().everyone(true).guard(guard);
    toggles::write(
        Change::flag("bench.timed", rule)
            .by("bench")
            .because("time it"),
    )
    .unwrap();
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
    let timed_outcome = |i: u64| {
        let outcome = black_box(&TIMED).outcome(true);
        if black_box(i & 7 != 0) {
            outcome.ok();
        }
    };
    let raw_timed = |i: u64| {
        black_box(Instant::now());
        black_box(&RAW).fetch_add(black_box(i & 1), Ordering::Relaxed);
    };
    let record_timed = |i: u64| {
        black_box(&GUARDED).record_timed(true, true, black_box(Duration::from_micros(i & 4095)));
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
        g.bench_function(
            format!("baseline: Instant::now + raw AtomicU64 fetch_add, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &raw_timed)),
        );
        g.bench_function(
            format!("Flag::record_timed, a given duration, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &record_timed)),
        );
        g.bench_function(
            format!("Flag::outcome + ok, timed (a guard on run times), {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &timed_outcome)),
        );
    }
    g.finish();
}

criterion_group!(benches, outcomes);
criterion_main!(benches);
