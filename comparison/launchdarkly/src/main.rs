//! launchdarkly-server-sdk, offline: the client's data source is the SDK's `TestData` (no
//! streaming connection) and its events go to `NullEventProcessorBuilder` (nothing queued or
//! sent — in production each evaluation also queues an analytics event, so these figures are
//! the SDK at its cheapest). The on/off flag comes from `FlagBuilder::variation_for_all`; the
//! rollout is a flag as LaunchDarkly serves it, a 50/50 fallthrough rollout by context key, given
//! to `TestData::use_preconfigured_flag`.
//!
//! `ConfigBuilder::offline(true)` is not used: in offline mode the client answers every
//! variation with the caller's default without evaluating anything.

use std::time::Duration;

use launchdarkly_server_sdk::{
    Client, ConfigBuilder, Context, ContextBuilder, Flag, FlagBuilder, NullEventProcessorBuilder,
    TestData,
};

use harness::{measure, users, Counting, Row};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A 50/50 rollout of the fallthrough by context key, as the LaunchDarkly service would send it.
const ROLLOUT: &str = r#"{
  "key": "bench.rollout",
  "version": 1,
  "on": true,
  "targets": [],
  "rules": [],
  "prerequisites": [],
  "fallthrough": {
    "rollout": {
      "variations": [
        { "variation": 0, "weight": 50000 },
        { "variation": 1, "weight": 50000 }
      ]
    }
  },
  "offVariation": 1,
  "variations": [true, false],
  "clientSideAvailability": { "usingMobileKey": false, "usingEnvironmentId": false },
  "salt": "bench.rollout"
}"#;

/// A three-arm experiment: string variations, the fallthrough a rollout of a third each by
/// context key.
const EXPERIMENT: &str = r#"{
  "key": "bench.experiment",
  "version": 1,
  "on": true,
  "targets": [],
  "rules": [],
  "prerequisites": [],
  "fallthrough": {
    "rollout": {
      "variations": [
        { "variation": 0, "weight": 33334 },
        { "variation": 1, "weight": 33333 },
        { "variation": 2, "weight": 33333 }
      ]
    }
  },
  "offVariation": 0,
  "variations": ["classic", "one_page", "express"],
  "clientSideAvailability": { "usingMobileKey": false, "usingEnvironmentId": false },
  "salt": "bench.experiment"
}"#;

fn context(user: &str) -> Context {
    ContextBuilder::new(user).build().expect("a valid context")
}

fn main() {
    let data = TestData::new();
    data.update(FlagBuilder::new("bench.onoff").variation_for_all(true));
    let rollout: Flag = serde_json::from_str(ROLLOUT).expect("the rollout flag's JSON");
    data.use_preconfigured_flag(rollout);
    let experiment: Flag = serde_json::from_str(EXPERIMENT).expect("the experiment's JSON");
    data.use_preconfigured_flag(experiment);
    let config = ConfigBuilder::new("sdk-key-not-used")
        .data_source(&data)
        .event_processor(&NullEventProcessorBuilder::new())
        .build()
        .expect("a configuration");
    let client = Client::build(config).expect("a client");
    client.start_with_runtime().expect("start the client");
    for _ in 0..500 {
        if client.initialized() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        client.initialized(),
        "the test data source did not initialize the client"
    );
    let users = users();

    for row in Row::ARMS {
        let key = row.flag_key();
        measure("launchdarkly", "str_variation", row, |i| {
            client.str_variation(&context(&users[i]), key, "classic".to_owned()) == "one_page"
        });
    }
    for row in Row::ALL {
        let key = row.flag_key();
        if row.is_fresh() {
            measure("launchdarkly", "bool_variation", row, |i| {
                client.bool_variation(&context(&users[i]), key, false)
            });
        } else {
            let contexts: Vec<Context> = users.iter().map(|u| context(u)).collect();
            measure("launchdarkly", "bool_variation", row, |i| {
                client.bool_variation(&contexts[i], key, false)
            });
        }
    }
}
