//! toggles, two ways: the direct API (`Flag::is_enabled(&Context)`) and through its OpenFeature
//! provider (`toggles::openfeature::TogglesProvider`), both via the OpenFeature client
//! (`get_bool_value`, what an OpenFeature-using service calls) and via the provider alone (to
//! say how much of the client's cost is the provider's), and the provider alone with flag
//! metadata (`TogglesProvider::with_flag_metadata`), which is opt-in for what it costs.
//!
//! The store is toggles' in-memory store with the rules written through the normal audited
//! write, as a service would have them after start-up. The experiment is a `Variant` over an
//! enum of three arms (`get`, and the provider's string evaluation).

use open_feature::provider::FeatureProvider;
use open_feature::{EvaluationContext, OpenFeature};
use toggles::openfeature::TogglesProvider;
use toggles::rules::{FlagRule, VariantRule};
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Flag, Variant, Variants};

use harness::{measure, users, Counting, Row};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// On for everyone.
#[toggle(namespace = "bench", life = "permanent", justification = "comparison")]
static ONOFF: Flag;

/// A 50% rollout by user.
#[toggle(namespace = "bench", life = "permanent", justification = "comparison")]
static ROLLOUT: Flag;

/// The three arms of the experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Variants)]
enum Checkout {
    Classic,
    OnePage,
    Express,
}

/// A three-arm experiment, everyone in it, a third each.
#[toggle(namespace = "bench", life = "permanent", justification = "comparison")]
static EXPERIMENT: Variant<Checkout> = Checkout::Classic;

fn main() {
    let _toggles = toggles::install(MemoryStore::new()).expect("install the memory store");
    for (name, rule) in [
        ("bench.onoff", FlagRule::new().everyone(true)),
        ("bench.rollout", FlagRule::new().percent(50.0)),
    ] {
        let change = Change::flag(name, rule).by("comparison").because("set up");
        toggles::write(change).expect("write a rule");
    }
    let thirds = VariantRule::new()
        .coverage(100.0)
        .weight("classic", 3334)
        .weight("one_page", 3333)
        .weight("express", 3333);
    let change = Change::variant("bench.experiment", thirds)
        .by("comparison")
        .because("set up");
    toggles::write(change).expect("write the experiment's rule");
    let client = pollster::block_on(async {
        let mut api = OpenFeature::singleton_mut().await;
        api.set_provider(TogglesProvider::new()).await;
        api.create_client()
    });
    let provider = TogglesProvider::new();
    let described = TogglesProvider::new().with_flag_metadata();
    let users = users();

    for row in Row::ARMS {
        let key = row.flag_key();
        measure("toggles", "direct", row, |i| {
            EXPERIMENT.get(&Context::new().with_user(&users[i])) == Checkout::OnePage
        });
        measure("toggles", "OpenFeature client + provider", row, |i| {
            let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
            harness::ready(client.get_string_value(key, Some(&context), None)).expect("a string")
                == "one_page"
        });
        measure("toggles", "provider alone", row, |i| {
            let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
            harness::ready(provider.resolve_string_value(key, &context))
                .expect("a string")
                .value
                == "one_page"
        });
    }
    for row in Row::ALL {
        let key = row.flag_key();
        let flag = if row.is_rollout() { &ROLLOUT } else { &ONOFF };
        if row.is_fresh() {
            measure("toggles", "direct", row, |i| {
                flag.is_enabled(&Context::new().with_user(&users[i]))
            });
            measure("toggles", "OpenFeature client + provider", row, |i| {
                let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
                harness::ready(client.get_bool_value(key, Some(&context), None)).expect("a boolean")
            });
            measure("toggles", "provider alone", row, |i| {
                let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
                harness::ready(provider.resolve_bool_value(key, &context))
                    .expect("a boolean")
                    .value
            });
            measure("toggles", "provider alone, flag metadata", row, |i| {
                let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
                harness::ready(described.resolve_bool_value(key, &context))
                    .expect("a boolean")
                    .value
            });
        } else {
            let contexts: Vec<Context<'_>> =
                users.iter().map(|u| Context::new().with_user(u)).collect();
            measure("toggles", "direct", row, |i| flag.is_enabled(&contexts[i]));
            let contexts: Vec<EvaluationContext> = users
                .iter()
                .map(|u| EvaluationContext::default().with_targeting_key(u.as_str()))
                .collect();
            measure("toggles", "OpenFeature client + provider", row, |i| {
                harness::ready(client.get_bool_value(key, Some(&contexts[i]), None))
                    .expect("a boolean")
            });
            measure("toggles", "provider alone", row, |i| {
                harness::ready(provider.resolve_bool_value(key, &contexts[i]))
                    .expect("a boolean")
                    .value
            });
            measure("toggles", "provider alone, flag metadata", row, |i| {
                harness::ready(described.resolve_bool_value(key, &contexts[i]))
                    .expect("a boolean")
                    .value
            });
        }
    }
}
