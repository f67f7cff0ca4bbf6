//! OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK, in any language,
//! evaluates this service's toggles over HTTP.

use axum::extract::rejection::JsonRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value as JsonValue};
use toggles_runtime::{registry, Context, Date, Kind, OwnedContext, ToggleInfo, Value};

/// An evaluation request: `{"context": {"targetingKey": "42", ...}}`.
#[derive(Deserialize, Default)]
pub(crate) struct Request {
    #[serde(default)]
    context: Map<String, JsonValue>,
}

fn metadata(info: &ToggleInfo) -> JsonValue {
    let m = info.meta();
    let mut metadata = json!({
        "kind": info.kind().as_str(),
        "life": m.life().as_str(),
        "expired": m.is_expired_on(Date::today()),
        "source": m.source().to_string(),
    });
    // OFREP metadata values are strings, numbers or booleans: absent rather than null.
    if let Some(owner) = m.owner() {
        metadata["owner"] = json!(owner);
    }
    if let Some(remove_by) = m.remove_by() {
        metadata["remove_by"] = json!(remove_by.to_string());
    }
    let arms = info.toggle().arms();
    if !arms.is_empty() {
        metadata["arms"] = json!(arms.join(","));
    }
    metadata
}

fn not_found(key: &str) -> (StatusCode, JsonValue) {
    (
        StatusCode::NOT_FOUND,
        json!({
            "key": key,
            "errorCode": "FLAG_NOT_FOUND",
            "errorDetails": format!("`{key}` is not a toggle of this service"),
        }),
    )
}

/// One evaluation: the status and the OFREP body. With `expose`, a unit a tracked experiment
/// draws is exposed, as a check in the service exposes it; a bulk evaluation (a client's
/// prefetch of every flag, most of which its user never sees) exposes nobody.
fn evaluate(key: &str, ctx: &Context<'_>, expose: bool) -> (StatusCode, JsonValue) {
    let Some(info) = registry().get(key) else {
        return not_found(key);
    };
    let (value, variant, reason) = match info.kind() {
        Kind::Flag => {
            let why = info.explain(ctx).expect("a toggle of kind `flag` explains");
            let variant = if why.enabled { "on" } else { "off" };
            (
                json!(why.enabled),
                variant.to_owned(),
                why.step.openfeature_reason(),
            )
        }
        Kind::Variant => {
            let why = if expose {
                info.assign(ctx)
            } else {
                info.explain_arm(ctx)
            }
            .expect("a toggle of kind `variant` assigns");
            (
                json!(why.arm),
                why.arm.to_owned(),
                why.step.openfeature_reason(),
            )
        }
        _ => {
            let value = info.current().unwrap_or(info.default_value());
            let variant = match value {
                Value::Bool(true) => "on".to_owned(),
                Value::Bool(false) => "off".to_owned(),
                other => other.to_string().trim_matches('"').to_owned(),
            };
            (json!(value), variant, "STATIC")
        }
    };
    (
        StatusCode::OK,
        json!({
            "key": key,
            "value": value,
            "variant": variant,
            "reason": reason,
            "metadata": metadata(info),
        }),
    )
}

fn invalid_context(key: Option<&str>, details: &str) -> Response {
    let mut body = json!({ "errorCode": "INVALID_CONTEXT", "errorDetails": details });
    if let Some(key) = key {
        body["key"] = json!(key);
    }
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `POST /ofrep/v1/evaluate/flags/{key}`.
pub(crate) async fn one(
    Path(key): Path<String>,
    request: Result<Json<Request>, JsonRejection>,
) -> Response {
    let request = match request {
        Ok(Json(request)) => request,
        Err(e) => return invalid_context(Some(&key), &e.body_text()),
    };
    let subject = match OwnedContext::from_json(&request.context) {
        Ok(subject) => subject,
        Err(e) => return invalid_context(Some(&key), &e.to_string()),
    };
    let (status, body) = subject.with(|ctx| evaluate(&key, ctx, true));
    (status, Json(body)).into_response()
}

/// `POST /ofrep/v1/evaluate/flags`: every toggle, for one context (one pinned state for all).
pub(crate) async fn bulk(request: Result<Json<Request>, JsonRejection>) -> Response {
    let request = match request {
        Ok(Json(request)) => request,
        Err(e) => return invalid_context(None, &e.body_text()),
    };
    let subject = match OwnedContext::from_json(&request.context) {
        Ok(subject) => subject,
        Err(e) => return invalid_context(None, &e.to_string()),
    };
    let flags: Vec<JsonValue> = subject.with(|ctx| {
        registry()
            .iter()
            .map(|info| evaluate(info.full_name(), ctx, false).1)
            .collect()
    });
    (StatusCode::OK, Json(json!({ "flags": flags }))).into_response()
}
