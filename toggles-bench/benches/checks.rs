//! The cost of a check, each beside the baseline it is judged against, in the same run:
//! a switch and a context-free flag against a raw `AtomicU8` load; a 50% rollout against the raw
//! SHA-256 bucket computation; user-list and group flags; building a context.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};
use toggles::{toggle, Change, Context, Flag, FlagRule, MemoryStore, Setting, Switch};

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

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

static RAW: AtomicU8 = AtomicU8::new(1);

/// The bucketing formula with nothing around it: the baseline for a rollout check.
fn raw_bucket(salt: &str, unit: &str) -> u16 {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(b":")
        .chain_update(unit.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u16::try_from(u64::from_be_bytes(first) % 10_000).expect("below 10,000")
}

fn setup() {
    toggles::install(MemoryStore::new()).unwrap();
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
                .group_off("org", ["org-x"])
                .group_on("course", (0..100).map(|i| format!("course-{i}"))),
        ),
    ];
    for (name, rule) in rules {
        toggles::write(&Change::flag(name, rule), "bench", "set up").unwrap();
    }
    toggles::write(
        &Change::setting("uploads.max_upload_bytes", 5_000_000),
        "bench",
        "set up",
    )
    .unwrap();
}

fn checks(c: &mut Criterion) {
    setup();
    let mut g = c.benchmark_group("check");
    g.bench_function("baseline: raw AtomicU8 load", |b| {
        b.iter(|| black_box(&RAW).load(Ordering::Relaxed) == 1);
    });
    g.bench_function("switch", |b| {
        b.iter(|| black_box(&RECOMMENDATIONS).is_enabled());
    });
    let ctx = Context::new().user("user-7");
    g.bench_function("flag, context-free rule", |b| {
        b.iter(|| black_box(&EVERYONE).is_enabled(black_box(&ctx)));
    });
    g.bench_function("setting", |b| b.iter(|| black_box(&MAX_UPLOAD_BYTES).get()));
    g.finish();

    let mut g = c.benchmark_group("rollout");
    g.bench_function("baseline: raw sha256 bucket", |b| {
        b.iter(|| raw_bucket(black_box("bench.rollout"), black_box("user-7")) < 5000);
    });
    g.bench_function("flag, 50% rollout by user", |b| {
        b.iter(|| black_box(&ROLLOUT).is_enabled(black_box(&ctx)));
    });
    g.finish();

    let mut g = c.benchmark_group("targeting");
    g.bench_function("flag, user list (1,000 users)", |b| {
        b.iter(|| black_box(&USERS).is_enabled(black_box(&ctx)));
    });
    let groups = [("org", "org-y"), ("course", "course-42")];
    let member = Context::new().user("user-7").groups(&groups);
    g.bench_function("flag, groups (org off, 100 courses on)", |b| {
        b.iter(|| black_box(&GROUPS).is_enabled(black_box(&member)));
    });
    g.finish();

    let mut g = c.benchmark_group("context");
    g.bench_function("build a context", |b| {
        b.iter(|| {
            let ctx = Context::new()
                .user(black_box("user-7"))
                .site(black_box("learning.example.com"))
                .groups(black_box(&groups));
            black_box(ctx)
        });
    });
    g.bench_function("build a context and make its first check", |b| {
        b.iter(|| {
            let ctx = Context::new().user(black_box("user-7"));
            EVERYONE.is_enabled(&ctx)
        });
    });
    g.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
