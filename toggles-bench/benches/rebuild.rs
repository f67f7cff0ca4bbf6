//! A store change with 10,000 toggles declared: the snapshot is loaded, validated and compiled,
//! and every cached state rebuilt; and walking the registry of 10,000.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::{registry, toggle, Flag, FlagRule, MemoryStore, Snapshot};

mod many {
    use super::{toggle, Flag};
    include!(concat!(env!("OUT_DIR"), "/many_toggles.rs"));
}

fn rebuild(c: &mut Criterion) {
    assert!(black_box(&many::T0).meta().full_name() == "bench.t0");
    assert_eq!(registry().len(), 10_000);
    let mut g = c.benchmark_group("store change, 10,000 toggles");
    g.sample_size(30);
    for rules in [10, 1000] {
        // Rules for `rules` flags, of each shape the cache tells apart.
        let mut snapshot = Snapshot::default();
        for i in (0..10_000).step_by(10_000 / rules) {
            let rule = match i / (10_000 / rules) % 3 {
                0 => FlagRule::new().everyone(true),
                1 => FlagRule::new().percent(25.0),
                _ => FlagRule::new().users_on(["1", "2", "3"]),
            };
            snapshot.flags.insert(format!("bench.t{i}"), rule);
        }
        toggles::install(MemoryStore::with(snapshot)).unwrap();
        g.bench_function(
            format!(
                "reload with {rules} rules: load, validate, compile, rebuild every cached state"
            ),
            |b| {
                b.iter(|| toggles::reload().unwrap());
            },
        );
    }
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
