//! OpenFeature's evaluation context, as a toggles context: its fields written as the JSON the
//! OFREP endpoint receives, so both go through the runtime's one mapping
//! ([`OwnedContext::from_json`]).

use open_feature::{EvaluationContext, EvaluationContextFieldValue};
use serde_json::{Map, Value as Json};
use toggles_runtime::{ContextError, OwnedContext, Timestamp};

/// A field as JSON; `None` for an opaque structure, which no rule can compare with.
fn json(value: &EvaluationContextFieldValue) -> Option<Json> {
    match value {
        EvaluationContextFieldValue::String(s) => Some(Json::String(s.clone())),
        EvaluationContextFieldValue::Bool(b) => Some(Json::Bool(*b)),
        EvaluationContextFieldValue::Int(i) => Some(Json::from(*i)),
        EvaluationContextFieldValue::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number),
        EvaluationContextFieldValue::DateTime(t) => {
            let micros = i64::try_from(t.unix_timestamp_nanos().div_euclid(1000)).ok()?;
            Some(Json::String(
                Timestamp::from_unix_micros(micros).to_string(),
            ))
        }
        EvaluationContextFieldValue::Struct(_) => None,
    }
}

/// The toggles context `context` describes.
pub(crate) fn owned(context: &EvaluationContext) -> Result<OwnedContext, ContextError> {
    let mut fields = Map::new();
    if let Some(key) = &context.targeting_key {
        fields.insert("targetingKey".to_owned(), Json::String(key.clone()));
    }
    for (key, value) in &context.custom_fields {
        if let Some(value) = json(value) {
            fields.insert(key.clone(), value);
        }
    }
    OwnedContext::from_json(&fields)
}
