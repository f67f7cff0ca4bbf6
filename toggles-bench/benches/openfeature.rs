//! How much an evaluation through OpenFeature costs, and how much of it is the provider's: a
//! fresh evaluation context per check (one request, one check), 50% rollout and context-free
//! flag, through the OpenFeature client, through the provider alone, and through the direct API.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use open_feature::provider::FeatureProvider;
use open_feature::{EvaluationContext, OpenFeature};
use toggles::openfeature::TogglesProvider;
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Flag};

/// On for everyone: a rule the context does not decide.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static EVERYONE: Flag;

/// A 50% rollout by user.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static ROLLOUT: Flag;

fn openfeature(c: &mut Criterion) {
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    for (name, rule) in [
        ("bench.everyone", FlagRule::new().everyone(true)),
        ("bench.rollout", FlagRule::new().percent(50.0)),
    ] {
        toggles::write(Change::flag(name, rule).by("bench").because("set up")).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        let mut api = OpenFeature::singleton_mut().await;
        api.set_provider(TogglesProvider::new()).await;
        api.create_client()
    });
    let provider = TogglesProvider::new();
    let users: Vec<String> = (0..1024).map(|i| format!("user-{i}")).collect();

    for (key, flag) in [("bench.everyone", &EVERYONE), ("bench.rollout", &ROLLOUT)] {
        let mut g = c.benchmark_group(format!("openfeature, {key}, fresh context per check"));
        let mut i = 0usize;
        g.bench_function("direct: Context::new().with_user(u) + is_enabled", |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                flag.is_enabled(&Context::new().with_user(black_box(&users[i])))
            });
        });
        g.bench_function("provider: EvaluationContext + resolve_bool_value", |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ctx =
                    EvaluationContext::default().with_targeting_key(black_box(users[i].as_str()));
                runtime
                    .block_on(provider.resolve_bool_value(key, &ctx))
                    .unwrap()
                    .value
            });
        });
        g.bench_function("client: EvaluationContext + get_bool_value", |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ctx =
                    EvaluationContext::default().with_targeting_key(black_box(users[i].as_str()));
                runtime
                    .block_on(client.get_bool_value(key, Some(&ctx), None))
                    .unwrap()
            });
        });
        g.finish();
    }
}

criterion_group!(benches, openfeature);
criterion_main!(benches);
