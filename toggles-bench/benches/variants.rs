//! What a variant toggle's check costs, each beside its baseline in the same run: an
//! experiment's draw (coverage and weights, a fresh context per request) against the raw
//! SHA-256 bucket a flag's rollout is judged by; a variant with no rule or one arm for everyone
//! against a context-free flag and a fresh context with a raw atomic load; and two threads
//! against one, beside a loop that shares nothing.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::experiment::Exposure;
use toggles::rules::{FlagRule, VariantRule};
use toggles::store::{MemoryStore, Store};
use toggles::{toggle, Change, Context, Flag, Installation, Installer, Switch, Variant, Variants};
use toggles_bench::{raw_bucket, split};

/// The arms of the benchmark's experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Variants)]
pub enum Checkout {
    /// The control.
    Classic,
    /// Everything on one page.
    OnePage,
    /// Pay with a saved card.
    Express,
}

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// On for everyone: a flag whose rule the context does not decide.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static EVERYONE: Flag;

/// A 50% rollout: the same hash a draw takes, and no arm to draw.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static ROLLOUT: Flag;

/// No rule: everyone gets the control.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static NO_RULE: Variant<Checkout> = Checkout::Classic;

/// One arm for everyone.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static PINNED: Variant<Checkout> = Checkout::Classic;

/// Everyone in the experiment, three weighted arms.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static EXPERIMENT: Variant<Checkout> = Checkout::Classic;

/// The three-arm experiment, tracked: each unit drawn is an exposure.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static TRACKED: Variant<Checkout> = Checkout::Classic;

/// Everyone in the experiment, two arms of one weight (an A/B test).
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static EVEN: Variant<Checkout> = Checkout::Classic;

/// Everyone in the experiment, three arms of three weights: a logarithm for each.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static DISTINCT: Variant<Checkout> = Checkout::Classic;

/// Half the users in the experiment, two weighted arms.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static HALF: Variant<Checkout> = Checkout::Classic;

static RAW: AtomicU8 = AtomicU8::new(1);

/// The three-arm experiment's rule.
fn three_arms() -> VariantRule {
    VariantRule::new()
        .coverage(100.0)
        .weight("classic", 5000)
        .weight("one_page", 2500)
        .weight("express", 2500)
}

fn setup() -> Installation {
    let toggles = toggles::install(Arc::new(MemoryStore::new())).unwrap();
    for (name, rule) in [
        ("bench.everyone", FlagRule::new().everyone(true)),
        ("bench.rollout", FlagRule::new().percent(50.0)),
    ] {
        toggles::write(Change::flag(name, rule).by("bench").because("set up")).unwrap();
    }
    let rules = [
        ("bench.pinned", VariantRule::new().everyone("express")),
        ("bench.experiment", three_arms()),
        (
            "bench.even",
            VariantRule::new()
                .coverage(100.0)
                .weight("classic", 5000)
                .weight("one_page", 5000),
        ),
        ("bench.tracked", three_arms().track(true)),
        (
            "bench.distinct",
            VariantRule::new()
                .coverage(100.0)
                .weight("classic", 5000)
                .weight("one_page", 3000)
                .weight("express", 2000),
        ),
        (
            "bench.half",
            VariantRule::new()
                .coverage(50.0)
                .weight("classic", 5000)
                .weight("one_page", 5000),
        ),
    ];
    for (name, rule) in rules {
        toggles::write(Change::variant(name, rule).by("bench").because("set up")).unwrap();
    }
    toggles
}

fn checks(c: &mut Criterion) {
    let toggles = setup();
    let users: Vec<String> = (0..1024).map(|i| format!("user-{i}")).collect();
    let mut g = c.benchmark_group("variant");
    let mut i = 0usize;
    g.bench_function("baseline: fresh context + raw AtomicU8 load", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let ctx = Context::new().with_user(black_box(&users[i]));
            black_box(&ctx);
            black_box(&RAW).load(Ordering::Relaxed) == 1
        });
    });
    g.bench_function("fresh context + flag, context-free rule", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let ctx = Context::new().with_user(black_box(&users[i]));
            black_box(&EVERYONE).is_enabled(&ctx)
        });
    });
    for (label, toggle) in [
        ("fresh context + variant, no rule", &NO_RULE),
        ("fresh context + variant, one arm for everyone", &PINNED),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ctx = Context::new().with_user(black_box(&users[i]));
                black_box(toggle).get(&ctx) == Checkout::Express
            });
        });
    }
    g.bench_function("baseline: raw sha256 bucket", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            raw_bucket(black_box("bench.experiment"), black_box(&users[i])) < 5000
        });
    });
    g.bench_function("fresh context + flag, 50% rollout", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let ctx = Context::new().with_user(black_box(&users[i]));
            black_box(&ROLLOUT).is_enabled(&ctx)
        });
    });
    for (label, toggle) in [
        (
            "fresh context + variant, 100% coverage, 3 weighted arms",
            &EXPERIMENT,
        ),
        (
            "fresh context + variant, 100% coverage, 3 arms of 3 weights",
            &DISTINCT,
        ),
        (
            "fresh context + variant, 100% coverage, 2 arms of one weight",
            &EVEN,
        ),
        (
            "fresh context + variant, 50% coverage, 2 weighted arms",
            &HALF,
        ),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ctx = Context::new().with_user(black_box(&users[i]));
                black_box(toggle).get(&ctx) == Checkout::Express
            });
        });
    }
    g.finish();
    threads(c, &users);
    exposures(c, toggles.store(), &users);
}

/// A tracked check beside the same check untracked: units seen within the window (each thread
/// remembers the units it handed over), a new unit every check with the drain keeping up, and a
/// new unit every check with the thread's buffer full (each exposure dropped and counted).
///
/// Keeping up is measured as a host would see it, and as the check alone costs it: checks run
/// in batches of [`BATCH`] new units, timed; between batches, untimed, another thread (on the
/// other core, so the exposures cross cores as they do in a service) drains the buffer and
/// delivers the batch. The drain's own time per exposure is printed: the rate a subscriber
/// keeps up with. The two vCPUs here may share a physical core, so a drain running during the
/// timed checks would slow them as any busy thread of the host would; it is kept apart.
fn exposures(c: &mut Criterion, store: &Arc<dyn Store>, users: &[String]) {
    let many: Vec<String> = (0..1 << 20).map(|i| format!("unit-{i:07}")).collect();
    let mut g = c.benchmark_group("exposure");
    let mut i = 0usize;
    let mut check = |g: &mut criterion::BenchmarkGroup<'_, _>,
                     label: &str,
                     toggle: &'static Variant<Checkout>,
                     units: &[String]| {
        let mask = units.len() - 1;
        g.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) & mask;
                let ctx = Context::new().with_user(black_box(&units[i]));
                black_box(toggle).get(&ctx) == Checkout::Express
            });
        });
    };
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&delivered);
    let drained = Installer::new(Arc::clone(store))
        .subscribe(move |batch: &[Exposure]| {
            counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
        })
        .without_exposure_thread()
        .install()
        .unwrap();
    check(
        &mut g,
        "fresh context + variant, untracked",
        &EXPERIMENT,
        users,
    );
    check(
        &mut g,
        "fresh context + variant, tracked, units seen within the window",
        &TRACKED,
        users,
    );
    new_units(&mut g, &drained, &many);
    drained.shutdown();
    let full = Installer::new(Arc::clone(store))
        .without_exposure_thread()
        .install()
        .unwrap();
    for unit in many.iter().take(toggles::experiment::EXPOSURE_BUFFER) {
        TRACKED.get(&Context::new().with_user(unit));
    }
    check(
        &mut g,
        "fresh context + variant, tracked, a new unit every check, buffer full",
        &TRACKED,
        &many,
    );
    g.finish();
    let status = toggles::status().exposures;
    eprintln!(
        "exposures: {} delivered, {} deduplicated, {} dropped",
        status.delivered, status.deduplicated, status.dropped
    );
    drop(full);
}

/// A new unit every check, untracked and tracked, timed in batches of [`BATCH`] with another
/// thread draining between them, untimed; prints what the drain took per exposure.
fn new_units(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    drained: &Installation,
    many: &[String],
) {
    let (ask, asked) = mpsc::channel::<()>();
    let (tell, told) = mpsc::channel::<Duration>();
    std::thread::scope(|s| {
        s.spawn(move || {
            for () in asked {
                let start = Instant::now();
                drained.drain_exposures();
                tell.send(start.elapsed()).unwrap();
            }
        });
        let mut next = 0usize;
        for (label, toggle) in [
            (
                "fresh context + variant, untracked, a new unit every check",
                &EXPERIMENT,
            ),
            (
                "fresh context + variant, tracked, a new unit every check, drain keeping up",
                &TRACKED,
            ),
        ] {
            let before = toggles::status().exposures;
            let mut draining = Duration::ZERO;
            g.bench_function(label, |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        let n = BATCH.min(iters - done);
                        let start = Instant::now();
                        for _ in 0..n {
                            next = (next + 1) & (many.len() - 1);
                            let ctx = Context::new().with_user(black_box(&many[next]));
                            black_box(black_box(toggle).get(&ctx) == Checkout::Express);
                        }
                        spent += start.elapsed();
                        done += n;
                        ask.send(()).unwrap();
                        draining += told.recv().unwrap();
                    }
                    spent
                });
            });
            let after = toggles::status().exposures;
            let handled =
                (after.delivered + after.deduplicated) - (before.delivered + before.deduplicated);
            let per = draining.as_nanos() / u128::from(handled.max(1));
            eprintln!(
                "{label}: {handled} exposures drained at {per} ns each, {} dropped",
                after.dropped - before.dropped
            );
        }
        drop(ask);
    });
}

/// New units checked between two drains: well within one thread's buffer.
const BATCH: u64 = 2_000;

/// The same work on one thread and on two: time per check, so two threads that scale report
/// half the time of one.
fn threads(c: &mut Criterion, users: &[String]) {
    let mut g = c.benchmark_group("variant threads");
    g.measurement_time(Duration::from_secs(3));
    let share_nothing = |i: usize| {
        let ctx = Context::new().with_user(black_box(&users[i]));
        black_box(&ctx);
        black_box(black_box(&RECOMMENDATIONS).is_enabled());
    };
    let experiment = |i: usize| {
        let ctx = Context::new().with_user(black_box(&users[i]));
        black_box(black_box(&EXPERIMENT).get(&ctx) == Checkout::Express);
    };
    for threads in [1, 2] {
        g.bench_function(
            format!("baseline: fresh context + switch, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &share_nothing)),
        );
        g.bench_function(
            format!("fresh context + variant, 3 weighted arms, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &experiment)),
        );
    }
    g.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
