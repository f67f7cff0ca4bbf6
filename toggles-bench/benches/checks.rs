//! The cost of a check as a service pays it, each beside the baseline it is judged against, in
//! the same run: a fresh context per request (one request, one check) against the same context
//! and a raw `AtomicU8` load; a 50% rollout with a fresh context against the raw SHA-256 bucket;
//! settings against a raw load; and two threads against one, beside a loop that shares nothing.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Flag, Setting, Switch};
use toggles_bench::{raw_bucket, split};

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// On for everyone: a rule the context does not decide.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static EVERYONE: Flag;

/// A 50% rollout by user.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static ROLLOUT: Flag;

/// On for 1,000 listed users.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static USERS: Flag;

/// On for members of listed courses, off for an org.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static GROUPS: Flag;

/// On for everyone from a launch date on: the one rule that reads the clock.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static LAUNCHED: Flag;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

/// Whether uploads are scanned.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "per deployment"
)]
static SCAN_UPLOADS: Setting<bool> = false;

static RAW: AtomicU8 = AtomicU8::new(1);

fn setup() {
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let rules = [
        ("bench.everyone", FlagRule::new().everyone(true)),
        ("bench.rollout", FlagRule::new().percent(50.0)),
        (
            "bench.users",
            FlagRule::new().users_on((0..1000).map(|i| format!("user-{i}"))),
        ),
        (
            "bench.groups",
            FlagRule::new()
                .groups_off("org", ["org-x"])
                .groups_on("course", (0..100).map(|i| format!("course-{i}"))),
        ),
        (
            "bench.launched",
            FlagRule::new()
                .window(Some("2020-01-01T00:00:00Z".parse().unwrap()), None)
                .everyone(true),
        ),
    ];
    for (name, rule) in rules {
        toggles::write(Change::flag(name, rule).by("bench").because("set up")).unwrap();
    }
    for change in [
        Change::setting("uploads.max_upload_bytes", 5_000_000),
        Change::setting("uploads.scan_uploads", true),
    ] {
        toggles::write(change.by("bench").because("set up")).unwrap();
    }
}

/// Distinct users, so a rollout check hashes a different id each time, as requests do.
fn users() -> Vec<String> {
    (0..1024).map(|i| format!("user-{i}")).collect()
}

fn checks(c: &mut Criterion) {
    setup();
    let users = users();

    let mut g = c.benchmark_group("warm");
    g.bench_function("baseline: raw AtomicU8 load", |b| {
        b.iter(|| black_box(&RAW).load(Ordering::Relaxed) == 1);
    });
    g.bench_function("switch", |b| {
        b.iter(|| black_box(&RECOMMENDATIONS).is_enabled());
    });
    let ctx = Context::new().with_user("user-7");
    g.bench_function("flag, context-free rule, context reused", |b| {
        b.iter(|| black_box(&EVERYONE).is_enabled(black_box(&ctx)));
    });
    g.bench_function("setting<u64>", |b| {
        b.iter(|| black_box(&MAX_UPLOAD_BYTES).get());
    });
    g.bench_function("setting<bool>", |b| {
        b.iter(|| black_box(&SCAN_UPLOADS).get());
    });
    g.finish();

    // What a service pays: one context per request, and that request's first check.
    let mut g = c.benchmark_group("request");
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
    g.bench_function("baseline: raw sha256 bucket", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            raw_bucket(black_box("bench.rollout"), black_box(&users[i])) < 5000
        });
    });
    g.bench_function("fresh context + flag, 50% rollout", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let ctx = Context::new().with_user(black_box(&users[i]));
            black_box(&ROLLOUT).is_enabled(&ctx)
        });
    });
    g.bench_function("fresh context + flag, user list of 1,000", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let ctx = Context::new().with_user(black_box(&users[i]));
            black_box(&USERS).is_enabled(&ctx)
        });
    });
    let groups = [("org", "org-y"), ("course", "course-42")];
    g.bench_function(
        "fresh context + flag, groups (org off, 100 courses on)",
        |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ctx = Context::new()
                    .with_user(black_box(&users[i]))
                    .with_groups(&groups);
                black_box(&GROUPS).is_enabled(&ctx)
            });
        },
    );
    g.bench_function(
        "fresh context + flag, activation window (reads the clock)",
        |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ctx = Context::new().with_user(black_box(&users[i]));
                black_box(&LAUNCHED).is_enabled(&ctx)
            });
        },
    );
    g.finish();

    threads(c, &users);
}

/// The same work on one thread and on two: time per check, so two threads that scale report
/// half the time of one.
fn threads(c: &mut Criterion, users: &[String]) {
    let mut g = c.benchmark_group("threads");
    g.measurement_time(Duration::from_secs(3));
    let share_nothing = |i: usize| {
        let ctx = Context::new().with_user(black_box(&users[i]));
        black_box(&ctx);
        black_box(black_box(&RECOMMENDATIONS).is_enabled());
    };
    let flag = |i: usize| {
        let ctx = Context::new().with_user(black_box(&users[i]));
        black_box(black_box(&EVERYONE).is_enabled(&ctx));
    };
    let rollout = |i: usize| {
        let ctx = Context::new().with_user(black_box(&users[i]));
        black_box(black_box(&ROLLOUT).is_enabled(&ctx));
    };
    for threads in [1, 2] {
        g.bench_function(
            format!("baseline: fresh context + switch, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &share_nothing)),
        );
        g.bench_function(
            format!("fresh context + flag, context-free rule, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &flag)),
        );
        g.bench_function(
            format!("fresh context + flag, 50% rollout, {threads} thread(s)"),
            |b| b.iter_custom(|iters| split(iters, threads, &rollout)),
        );
    }
    g.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
