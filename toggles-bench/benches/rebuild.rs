//! A change to the store with 10,000 toggles declared: the write validated, stored and
//! audited, the new state compiled and published, and every cached state rebuilt — with a store
//! of 10 and of 1,000 rules, and with a long audit history; and the registry report.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::rules::FlagRule;
use toggles::store::{MemoryStore, Snapshot};
use toggles::{registry, toggle, Change, Flag};

mod many {
    use super::{toggle, Flag};
    // Clippy lints a sample of what the generator writes; the benchmark declares them all.
    #[cfg(not(clippy))]
    include!(concat!(env!("OUT_DIR"), "/many_toggles.rs"));
    #[cfg(clippy)]
    include!(concat!(env!("OUT_DIR"), "/few_toggles.rs"));
}

/// A store holding rules for `rules` of the 10,000 flags, of each shape the cache tells apart.
fn store(rules: usize) -> MemoryStore {
    let mut snapshot = Snapshot::default();
    for i in (0..10_000).step_by(10_000 / rules) {
        let rule = match i / (10_000 / rules) % 3 {
            0 => FlagRule::new().everyone(true),
            1 => FlagRule::new().percent(25.0),
            _ => FlagRule::new().users_on(["1", "2", "3"]),
        };
        snapshot.apply(&Change::flag(format!("bench.t{i}"), rule));
    }
    MemoryStore::from(snapshot)
}

/// One write that changes the state: flag `bench.t1` on and off in turn.
fn flip(on: &mut bool) {
    *on = !*on;
    let change = Change::flag("bench.t1", FlagRule::new().everyone(*on));
    toggles::write(change.by("bench").because("flip")).unwrap();
}

fn rebuild(c: &mut Criterion) {
    assert!(black_box(&many::T0).meta().full_name() == "bench.t0");
    assert_eq!(registry().len(), 10_000);
    let mut g = c.benchmark_group("store change, 10,000 toggles");
    g.sample_size(30);
    let mut on = false;
    for rules in [10, 1000] {
        let _toggles = toggles::install(store(rules)).unwrap();
        g.bench_function(
            format!("write with {rules} rules: validate, store, audit, compile, publish, rebuild"),
            |b| b.iter(|| flip(&mut on)),
        );
    }
    // The audit log is read on demand, never by a write or a reload: a long one costs nothing.
    let _toggles = toggles::install(store(10)).unwrap();
    for _ in 0..10_000 {
        flip(&mut on);
    }
    g.bench_function(
        "write with 10 rules and 10,000 audit entries already",
        |b| b.iter(|| flip(&mut on)),
    );
    g.bench_function("registry report as JSON, 10,000 audit entries", |b| {
        b.iter(|| {
            serde_json::to_vec(&registry().report().unwrap())
                .unwrap()
                .len()
        });
    });
    g.finish();

    // One heartbeat interval's usage: the sweep takes every toggle's answers and sets the note
    // bit of each one-load toggle, then one check of each of the 10,000 takes its cold path to
    // note its answer. Against the same 10,000 checks on their fast paths.
    let ctx = toggles::Context::new();
    let mut g = c.benchmark_group("one usage interval, 10,000 toggles");
    g.sample_size(30);
    g.bench_function("10,000 checks, fast paths", |b| {
        b.iter(|| many::ALL.iter().filter(|f| f.is_enabled(&ctx)).count());
    });
    g.bench_function("sweep, then 10,000 checks, each its cold path once", |b| {
        b.iter(|| {
            toggles::__sweep_usage();
            many::ALL.iter().filter(|f| f.is_enabled(&ctx)).count()
        });
    });
    g.finish();

    c.bench_function("registry iteration, 10,000 toggles", |b| {
        b.iter(|| {
            registry()
                .iter()
                .filter(|t| t.meta().remove_by().is_some())
                .count()
        });
    });
}

criterion_group!(benches, rebuild);
criterion_main!(benches);
