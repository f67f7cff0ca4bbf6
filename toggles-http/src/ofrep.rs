//! OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK, in any language,
//! evaluates this service's toggles over HTTP.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value as JsonValue};
use sha2::{Digest, Sha256};
use toggles_runtime::{registry, Context, Date, Kind, OwnedContext, ToggleInfo, Value};

use crate::api::may_read;
use crate::auth::Scope;
use crate::{OfrepMetadata, Shared};

/// An evaluation request: `{"context": {"targetingKey": "42", ...}}`.
#[derive(Deserialize, Default)]
pub(crate) struct Request {
    #[serde(default)]
    context: Map<String, JsonValue>,
}

/// What `info`'s answers tell of it: its kind and arms, and with `full` its life, removal
/// date, owner and source.
fn metadata(info: &ToggleInfo, full: bool) -> JsonValue {
    let m = info.meta();
    let mut metadata = json!({ "kind": info.kind().as_str() });
    let arms = info.toggle().arms();
    if !arms.is_empty() {
        metadata["arms"] = json!(arms.join(","));
    }
    if full {
        metadata["life"] = json!(m.life().as_str());
        metadata["expired"] = json!(m.is_expired_on(Date::today()));
        metadata["source"] = json!(m.source().to_string());
        // OFREP metadata values are strings, numbers or booleans: absent rather than null.
        if let Some(owner) = m.owner() {
            metadata["owner"] = json!(owner);
        }
        if let Some(remove_by) = m.remove_by() {
            metadata["remove_by"] = json!(remove_by.to_string());
        }
    }
    metadata
}

/// Whether the request's client sees [`OfrepMetadata::Full`]: signed in, or so configured.
fn full_metadata(shared: &Shared, headers: &HeaderMap) -> bool {
    shared.metadata == OfrepMetadata::Full
        || shared
            .auth
            .authenticate(headers)
            .is_some_and(|a| a.may(Scope::Read))
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
fn evaluate(key: &str, ctx: &Context<'_>, expose: bool, full: bool) -> (StatusCode, JsonValue) {
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
            "metadata": metadata(info, full),
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
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    request: Result<Json<Request>, JsonRejection>,
) -> Response {
    if let Err(failure) = may_read(&shared, &headers, Scope::Evaluate) {
        return failure.into_response();
    }
    let full = full_metadata(&shared, &headers);
    let request = match request {
        Ok(Json(request)) => request,
        Err(e) => return invalid_context(Some(&key), &e.body_text()),
    };
    let subject = match OwnedContext::from_json(&request.context) {
        Ok(subject) => subject,
        Err(e) => return invalid_context(Some(&key), &e.to_string()),
    };
    let (status, body) = subject.with(|ctx| evaluate(&key, ctx, true, full));
    (status, Json(body)).into_response()
}

/// `POST /ofrep/v1/evaluate/flags`: every toggle, for one context (one pinned state for all),
/// with an `ETag` that is a hash of the body; an `If-None-Match` naming it answers `304` with
/// no body, so a polling client downloads the flags only when an answer changed.
pub(crate) async fn bulk(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Result<Json<Request>, JsonRejection>,
) -> Response {
    if let Err(failure) = may_read(&shared, &headers, Scope::Evaluate) {
        return failure.into_response();
    }
    let full = full_metadata(&shared, &headers);
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
            .map(|info| evaluate(info.full_name(), ctx, false, full).1)
            .collect()
    });
    // The change stream beside this endpoint, wherever the router is nested.
    let events = uri
        .path()
        .strip_suffix("/evaluate/flags")
        .map(|base| format!("{base}/events"));
    let body = json!({
        "flags": flags,
        "eventStreams": [{
            "type": "sse",
            "endpoint": { "requestUri": events },
            "inactivityDelaySec": crate::events::INACTIVITY_DELAY_SECS,
        }],
    });
    let body = serde_json::to_vec(&body).expect("JSON serializes");
    let etag = entity_tag(&body);
    let mut response = if none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, "application/json")], body).into_response()
    };
    response.headers_mut().insert(
        ETAG,
        HeaderValue::from_str(&etag).expect("hex is a header value"),
    );
    response
}

/// A strong entity tag of `body`: the first 16 bytes of its SHA-256, quoted hex.
fn entity_tag(body: &[u8]) -> String {
    format!("\"{}\"", crate::hex::encode(&Sha256::digest(body)[..16]))
}

/// Whether the request's `If-None-Match` names `etag` (or is `*`): compared weakly, as a
/// `GET`'s is, since a client revalidating a bulk answer asks whether the flags changed.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}
