//! The OpenFeature SDK with an in-memory provider, through the SDK's client (`get_bool_value`)
//! and through the provider alone.
//!
//! The Rust SDK (0.3.0) ships no in-memory provider, only `NoOpProvider`, though the
//! specification's Appendix A says SDKs should: a provider built from a fixed map of flags, each
//! with its variants, a default variant and an optional context evaluator that picks a variant.
//! This program writes that provider, as small as the appendix allows — a `HashMap` lookup, the
//! default variant or the evaluator's — so the figures show the SDK's own overhead with the
//! cheapest provider it could have. The rollout's evaluator buckets the targeting key with the
//! same SHA-256 formula as the baseline.

use std::collections::HashMap;

use async_trait::async_trait;
use open_feature::provider::{FeatureProvider, ProviderMetadata, ResolutionDetails};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, EvaluationResult,
    OpenFeature, StructValue,
};
use sha2::{Digest, Sha256};

use harness::{measure, users, Counting, Row};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Picks a variant name from the evaluation context.
type Evaluator = fn(&EvaluationContext) -> &'static str;

/// One flag of the in-memory provider (Appendix A's structure).
struct InMemoryFlag {
    variants: HashMap<&'static str, bool>,
    default_variant: &'static str,
    evaluator: Option<Evaluator>,
}

/// Appendix A's in-memory provider, for boolean flags and string flags whose variants are
/// their values (the experiment's arms).
struct InMemoryProvider {
    metadata: ProviderMetadata,
    flags: HashMap<String, InMemoryFlag>,
    strings: HashMap<String, Evaluator>,
}

fn unsupported<T>(flag_key: &str) -> EvaluationResult<T> {
    Err(EvaluationError {
        code: EvaluationErrorCode::TypeMismatch,
        message: Some(format!(
            "{flag_key}: the in-memory provider holds booleans only"
        )),
    })
}

#[async_trait]
impl FeatureProvider for InMemoryProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        let Some(flag) = self.flags.get(flag_key) else {
            return Err(EvaluationError {
                code: EvaluationErrorCode::FlagNotFound,
                message: Some(format!("no flag {flag_key}")),
            });
        };
        let (variant, reason) = match flag.evaluator {
            Some(evaluate) => (
                evaluate(evaluation_context),
                EvaluationReason::TargetingMatch,
            ),
            None => (flag.default_variant, EvaluationReason::Static),
        };
        Ok(ResolutionDetails {
            value: flag.variants[variant],
            variant: Some(variant.to_owned()),
            reason: Some(reason),
            flag_metadata: None,
        })
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        unsupported(flag_key)
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        unsupported(flag_key)
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        let Some(evaluate) = self.strings.get(flag_key) else {
            return unsupported(flag_key);
        };
        let variant = evaluate(evaluation_context);
        Ok(ResolutionDetails {
            value: variant.to_owned(),
            variant: Some(variant.to_owned()),
            reason: Some(EvaluationReason::Split),
            flag_metadata: None,
        })
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        unsupported(flag_key)
    }
}

/// The baseline's SHA-256 bucket of a targeting key under `salt`.
fn bucket(salt: &[u8], key: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(key.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 10_000
}

/// Half the targeting keys "on", by the baseline's SHA-256 bucket.
fn half_by_targeting_key(context: &EvaluationContext) -> &'static str {
    match context.targeting_key.as_deref() {
        Some(key) if bucket(b"bench.rollout:", key) < 5_000 => "on",
        _ => "off",
    }
}

/// A third of the targeting keys in each arm, by the baseline's SHA-256 bucket.
fn thirds_by_targeting_key(context: &EvaluationContext) -> &'static str {
    match context
        .targeting_key
        .as_deref()
        .map(|k| bucket(b"bench.experiment:", k))
    {
        Some(b) if b < 3_334 => "classic",
        Some(b) if b < 6_667 => "one_page",
        Some(_) => "express",
        None => "classic",
    }
}

fn provider() -> InMemoryProvider {
    let on_off = || HashMap::from([("on", true), ("off", false)]);
    InMemoryProvider {
        metadata: ProviderMetadata::new("in-memory"),
        flags: HashMap::from([
            (
                "bench.onoff".to_owned(),
                InMemoryFlag {
                    variants: on_off(),
                    default_variant: "on",
                    evaluator: None,
                },
            ),
            (
                "bench.rollout".to_owned(),
                InMemoryFlag {
                    variants: on_off(),
                    default_variant: "off",
                    evaluator: Some(half_by_targeting_key),
                },
            ),
        ]),
        strings: HashMap::from([(
            "bench.experiment".to_owned(),
            thirds_by_targeting_key as Evaluator,
        )]),
    }
}

fn main() {
    let client = pollster::block_on(async {
        let mut api = OpenFeature::singleton_mut().await;
        api.set_provider(provider()).await;
        api.create_client()
    });
    let provider = provider();
    let users = users();

    for row in Row::ARMS {
        let key = row.flag_key();
        measure("open-feature", "client + in-memory provider", row, |i| {
            let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
            harness::ready(client.get_string_value(key, Some(&context), None)).expect("a string")
                == "one_page"
        });
        measure("open-feature", "in-memory provider alone", row, |i| {
            let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
            harness::ready(provider.resolve_string_value(key, &context))
                .expect("a string")
                .value
                == "one_page"
        });
    }
    for row in Row::ALL {
        let key = row.flag_key();
        if row.is_fresh() {
            measure("open-feature", "client + in-memory provider", row, |i| {
                let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
                harness::ready(client.get_bool_value(key, Some(&context), None)).expect("a boolean")
            });
            measure("open-feature", "in-memory provider alone", row, |i| {
                let context = EvaluationContext::default().with_targeting_key(users[i].as_str());
                harness::ready(provider.resolve_bool_value(key, &context))
                    .expect("a boolean")
                    .value
            });
        } else {
            let contexts: Vec<EvaluationContext> = users
                .iter()
                .map(|u| EvaluationContext::default().with_targeting_key(u.as_str()))
                .collect();
            measure("open-feature", "client + in-memory provider", row, |i| {
                harness::ready(client.get_bool_value(key, Some(&contexts[i]), None))
                    .expect("a boolean")
            });
            measure("open-feature", "in-memory provider alone", row, |i| {
                harness::ready(provider.resolve_bool_value(key, &contexts[i]))
                    .expect("a boolean")
                    .value
            });
        }
    }
}
