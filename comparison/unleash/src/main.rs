//! unleash-api-client, offline: the client is built with a transport that never answers and
//! bootstrapped with the features JSON an Unleash server would serve (`Client::memoize`), so
//! every evaluation runs the SDK's own engine (Yggdrasil) against cached state, as it does
//! between polls in production. Metrics are counted per evaluation as in production; sending
//! them is disabled.

use std::sync::Arc;

use unleash_api_client::client::{ClientBuilder, FeatureKey};
use unleash_api_client::context::Context;
use unleash_api_client::http::{Request, Response, Transport};
use unleash_types::client_features::ClientFeatures;

use harness::{measure, users, Counting, Row};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What `GET /api/client/features` would return: an on/off feature (the `default` strategy),
/// a 50% rollout by user id (`flexibleRollout`), and a three-arm experiment: a feature on for
/// everyone with three variants of equal weight, sticky by user id.
const FEATURES: &str = r#"{
  "version": 2,
  "features": [
    {
      "name": "bench.onoff",
      "enabled": true,
      "strategies": [{ "name": "default", "parameters": {} }]
    },
    {
      "name": "bench.rollout",
      "enabled": true,
      "strategies": [{
        "name": "flexibleRollout",
        "parameters": { "rollout": "50", "stickiness": "userId", "groupId": "bench.rollout" }
      }]
    },
    {
      "name": "bench.experiment",
      "enabled": true,
      "strategies": [{
        "name": "flexibleRollout",
        "parameters": { "rollout": "100", "stickiness": "userId", "groupId": "bench.experiment" }
      }],
      "variants": [
        { "name": "classic", "weight": 334, "weightType": "variable", "stickiness": "userId" },
        { "name": "one_page", "weight": 333, "weightType": "variable", "stickiness": "userId" },
        { "name": "express", "weight": 333, "weightType": "variable", "stickiness": "userId" }
      ]
    }
  ]
}"#;

#[derive(Clone, Copy, Debug)]
enum Feature {
    OnOff,
    Rollout,
    Experiment,
}

impl FeatureKey for Feature {
    fn name(self) -> &'static str {
        match self {
            Feature::OnOff => "bench.onoff",
            Feature::Rollout => "bench.rollout",
            Feature::Experiment => "bench.experiment",
        }
    }
}

/// No server: the client never polls in this program, and nothing is sent.
struct Offline;

#[async_trait::async_trait]
impl Transport for Offline {
    async fn execute(&self, request: Request) -> Result<Response, anyhow::Error> {
        anyhow::bail!("offline: {} not sent", request.url)
    }
}

fn main() {
    let client = ClientBuilder::default()
        .disable_metric_submission()
        .into_client_with_transport::<Feature>(
            "http://unleash.invalid/api",
            "comparison",
            "comparison-1",
            None,
            Arc::new(Offline),
        )
        .expect("build the client");
    let features: ClientFeatures = serde_json::from_str(FEATURES).expect("the features JSON");
    client.memoize(features).expect("bootstrap the features");
    let users = users();

    for row in Row::ARMS {
        measure("unleash", "get_variant", row, |i| {
            let context = Context {
                user_id: Some(users[i].clone()),
                ..Context::default()
            };
            client.get_variant(Feature::Experiment, &context).name == "one_page"
        });
    }
    for row in Row::ALL {
        let feature = if row.is_rollout() {
            Feature::Rollout
        } else {
            Feature::OnOff
        };
        if row.is_fresh() {
            measure("unleash", "is_enabled", row, |i| {
                let context = Context {
                    user_id: Some(users[i].clone()),
                    ..Context::default()
                };
                client.is_enabled(feature, Some(&context), false)
            });
        } else {
            let contexts: Vec<Context> = users
                .iter()
                .map(|u| Context {
                    user_id: Some(u.clone()),
                    ..Context::default()
                })
                .collect();
            measure("unleash", "is_enabled", row, |i| {
                client.is_enabled(feature, Some(&contexts[i]), false)
            });
        }
    }
}
