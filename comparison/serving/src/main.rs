//! Writes one set of toggles twice, for the two servers `comparison/serve` measures:
//! `DIR/toggles.json`, a file store a fleet published its declarations to, with each toggle's
//! rule written through the audited write path (so the report reads a store with history), and
//! `DIR/features.json`, the same toggles as an Unleash Edge bootstrap (its client API's
//! features document).
//!
//! Usage: `serving-fixture DIR COUNT`. Toggle `i` is `bench.flag_{i}`: on for everyone when
//! `i % 3 == 0`, a 30% rollout by user id when `i % 3 == 1`, off otherwise — the same answers
//! from both servers, so neither does less work than the other.

use std::path::PathBuf;

use serde_json::{json, Value as Json};
use toggles::fleet::{Declarations, Declared};
use toggles::rules::FlagRule;
use toggles::store::{FileStore, Store};
use toggles::{Change, Service, Timestamp};

/// What toggle `i` does, on both servers.
enum Rule {
    On,
    Rollout,
    Off,
}

fn rule(i: usize) -> Rule {
    match i % 3 {
        0 => Rule::On,
        1 => Rule::Rollout,
        _ => Rule::Off,
    }
}

fn name(i: usize) -> String {
    format!("bench.flag_{i}")
}

fn declared(i: usize) -> Declared {
    serde_json::from_value(json!({
        "full_name": name(i), "kind": "flag", "value_type": "bool", "default": false,
        "description": format!("Benchmark toggle {i}."), "life": "temporary",
        "remove_by": "2030-01-01", "justification": null, "created": "2026-01-01",
        "owner": "team-bench", "use_cases": [], "tickets": null, "warning": null,
        "source": { "crate": "bench", "crate_version": "1.0.0", "module_path": "bench",
                    "file": "src/toggles.rs", "line": i + 1, "column": 1 }
    }))
    .expect("a declaration of this version's shape")
}

/// The toggles store: declarations published, then one audited write per toggle with a rule.
fn toggles_store(path: &std::path::Path, count: usize) {
    let _ = std::fs::remove_file(path);
    let store = FileStore::open(path).expect("a file store");
    let declarations = Declarations::new(
        Service::new("bench", "1.0.0"),
        (0..count).map(declared).collect(),
    );
    store
        .publish(&declarations, Timestamp::now())
        .expect("publish");
    for i in 0..count {
        let rule = match rule(i) {
            Rule::On => FlagRule::new().everyone(true),
            Rule::Rollout => FlagRule::new().percent(30.0),
            Rule::Off => continue,
        };
        toggles::write(
            Change::flag(name(i), rule)
                .by("bench")
                .because("benchmark fixture")
                .to(&store),
        )
        .expect("a valid write");
    }
}

/// The same toggles as Unleash's client features document.
fn edge_bootstrap(count: usize) -> Json {
    let features: Vec<Json> = (0..count)
        .map(|i| {
            let (enabled, strategies) = match rule(i) {
                Rule::On => (true, json!([{ "name": "default", "parameters": {} }])),
                Rule::Rollout => (
                    true,
                    json!([{ "name": "flexibleRollout", "parameters": {
                        "rollout": "30", "stickiness": "userId", "groupId": name(i)
                    } }]),
                ),
                Rule::Off => (false, json!([{ "name": "default", "parameters": {} }])),
            };
            json!({
                "name": name(i), "type": "release", "project": "default",
                "description": format!("Benchmark toggle {i}."),
                "enabled": enabled, "stale": false, "impressionData": false,
                "strategies": strategies, "variants": []
            })
        })
        .collect();
    json!({ "version": 2, "features": features, "segments": [] })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: serving-fixture DIR COUNT");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let count: usize = count.parse().expect("COUNT is a number");
    std::fs::create_dir_all(&dir).expect("the fixture directory");
    toggles_store(&dir.join("toggles.json"), count);
    let bootstrap = serde_json::to_vec_pretty(&edge_bootstrap(count)).expect("JSON");
    std::fs::write(dir.join("features.json"), bootstrap).expect("features.json");
}
