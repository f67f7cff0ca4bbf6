//! OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK, in any language,
//! evaluates this service's toggles over HTTP.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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
fn metadata(info: &ToggleInfo, full: bool, today: Date) -> JsonValue {
    let m = info.meta();
    let mut metadata = json!({ "kind": info.kind().as_str() });
    let arms = info.toggle().arms();
    if !arms.is_empty() {
        metadata["arms"] = json!(arms.join(","));
    }
    if full {
        metadata["life"] = json!(m.life().as_str());
        metadata["expired"] = json!(m.is_expired_on(today));
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

/// Every toggle's `metadata`, public and full, encoded once per day (`expired` is judged on
/// it): they change only with the declarations.
pub(crate) struct Metadata {
    date: Date,
    /// By registry position: (public, full).
    encoded: Vec<(Box<RawValue>, Box<RawValue>)>,
}

impl Metadata {
    fn of_today() -> Metadata {
        let date = Date::today();
        let raw = |json: JsonValue| RawValue::from_string(json.to_string()).expect("JSON");
        Metadata {
            date,
            encoded: registry()
                .iter()
                .map(|info| {
                    (
                        raw(metadata(info, false, date)),
                        raw(metadata(info, true, date)),
                    )
                })
                .collect(),
        }
    }

    fn of(&self, position: usize, full: bool) -> &RawValue {
        let (public, all) = &self.encoded[position];
        if full {
            all
        } else {
            public
        }
    }
}

/// Today's metadata, from the router's cache.
fn metadata_today(shared: &Shared) -> Arc<Metadata> {
    let mut cached = shared
        .ofrep_metadata
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match cached.as_ref() {
        Some(m) if m.date == Date::today() => Arc::clone(m),
        _ => {
            let fresh = Arc::new(Metadata::of_today());
            *cached = Some(Arc::clone(&fresh));
            fresh
        }
    }
}

/// Whether the request's client sees [`OfrepMetadata::Full`]: signed in, or so configured.
fn full_metadata(shared: &Shared, headers: &HeaderMap) -> bool {
    shared.metadata == OfrepMetadata::Full
        || crate::auth::authenticated(shared, headers).is_some_and(|a| a.may(Scope::Read))
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

/// An answer's value: a flag's state, an arm's name, a setting's value.
#[derive(Serialize)]
#[serde(untagged)]
enum Answered {
    Arm(&'static str),
    Value(Value),
}

/// One evaluation, as OFREP writes it.
#[derive(Serialize)]
struct Answer<'a> {
    key: &'a str,
    value: Answered,
    variant: Cow<'static, str>,
    reason: &'static str,
    metadata: &'a RawValue,
}

/// `info`'s answer for `ctx`: its value, variant and reason. With `expose`, a unit a tracked
/// experiment draws is exposed, as a check in the service exposes it; a bulk evaluation (a
/// client's prefetch of every flag, most of which its user never sees) exposes nobody.
fn answer(
    info: &ToggleInfo,
    ctx: &Context<'_>,
    expose: bool,
) -> (Answered, Cow<'static, str>, &'static str) {
    match info.kind() {
        Kind::Flag => {
            let why = info.explain(ctx).expect("a toggle of kind `flag` explains");
            let variant = if why.enabled { "on" } else { "off" };
            (
                Answered::Value(Value::Bool(why.enabled)),
                Cow::Borrowed(variant),
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
                Answered::Arm(why.arm),
                Cow::Borrowed(why.arm),
                why.step.openfeature_reason(),
            )
        }
        _ => {
            let value = info.current().unwrap_or(info.default_value());
            let variant = match value {
                Value::Bool(true) => Cow::Borrowed("on"),
                Value::Bool(false) => Cow::Borrowed("off"),
                Value::Str(text) => Cow::Borrowed(text),
                other => Cow::Owned(other.to_string()),
            };
            (Answered::Value(value), variant, "STATIC")
        }
    }
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
    // The registry is in full-name order.
    let all = registry().iter().as_slice();
    let Ok(position) = all.binary_search_by(|t| t.full_name().cmp(key.as_str())) else {
        let (status, body) = not_found(&key);
        return (status, Json(body)).into_response();
    };
    let info = &all[position];
    let metadata = metadata_today(&shared);
    let body = subject.with(|ctx| {
        let (value, variant, reason) = answer(info, ctx, true);
        serde_json::to_vec(&Answer {
            key: &key,
            value,
            variant,
            reason,
            metadata: metadata.of(position, full),
        })
        .expect("an answer serializes")
    });
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// How long a bulk answer's entity tag is taken as current for a request it was computed
/// for, within one state: what a rule's time window may take to show to a poller.
const ETAG_FOR: Duration = Duration::from_secs(5);
/// How many requests' entity tags are kept for pollers.
const ETAGS_KEPT: usize = 4096;

/// The entity tags of recent bulk answers, by a hash of what they answered (the request's
/// body and what its client may see): a poller that names the one in force is answered `304`
/// without the flags being evaluated again.
#[derive(Default)]
pub(crate) struct Etags(Mutex<HashMap<u64, (u64, Instant, String)>>);

impl Etags {
    fn get(&self, request: u64, generation: u64) -> Option<String> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.get(&request)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < ETAG_FOR)
            .map(|(_, _, etag)| etag.clone())
    }

    fn keep(&self, request: u64, generation: u64, etag: &str) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= ETAGS_KEPT {
            kept.clear();
        }
        kept.insert(request, (generation, Instant::now(), etag.to_owned()));
    }
}

/// `POST /ofrep/v1/evaluate/flags`: every toggle, for one context (one pinned state for all),
/// with an `ETag` that is a hash of the body; an `If-None-Match` naming it answers `304` with
/// no body, so a polling client downloads the flags only when an answer changed.
pub(crate) async fn bulk(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(failure) = may_read(&shared, &headers, Scope::Evaluate) {
        return failure.into_response();
    }
    let full = full_metadata(&shared, &headers);
    let generation = toggles_runtime::status().generation;
    let request_key = {
        let mut hasher = std::hash::DefaultHasher::new();
        (&body[..], full, uri.path()).hash(&mut hasher);
        hasher.finish()
    };
    let revalidating = headers.contains_key(IF_NONE_MATCH);
    if revalidating {
        if let Some(etag) = shared.etags.get(request_key, generation) {
            if none_match(&headers, &etag) {
                return not_modified(&etag);
            }
        }
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return invalid_context(None, &format!("the body is not an evaluation request: {e}"))
        }
    };
    let subject = match OwnedContext::from_json(&request.context) {
        Ok(subject) => subject,
        Err(e) => return invalid_context(None, &e.to_string()),
    };
    let metadata = metadata_today(&shared);
    let mut out = Vec::with_capacity(shared.bulk_size.load(Ordering::Relaxed));
    out.extend_from_slice(b"{\"flags\":[");
    subject.with(|ctx| {
        for (position, info) in registry().iter().enumerate() {
            if position > 0 {
                out.push(b',');
            }
            let (value, variant, reason) = answer(info, ctx, false);
            let answer = Answer {
                key: info.full_name(),
                value,
                variant,
                reason,
                metadata: metadata.of(position, full),
            };
            serde_json::to_writer(&mut out, &answer).expect("an answer serializes");
        }
    });
    // The change stream beside this endpoint, wherever the router is nested.
    let events = uri
        .path()
        .strip_suffix("/evaluate/flags")
        .map(|base| format!("{base}/events"));
    out.extend_from_slice(b"],\"eventStreams\":");
    let streams = json!([{
        "type": "sse",
        "endpoint": { "requestUri": events },
        "inactivityDelaySec": crate::events::INACTIVITY_DELAY_SECS,
    }]);
    serde_json::to_writer(&mut out, &streams).expect("JSON serializes");
    out.push(b'}');
    shared.bulk_size.store(out.len(), Ordering::Relaxed);
    let etag = entity_tag(&out);
    shared.etags.keep(request_key, generation, &etag);
    if revalidating && none_match(&headers, &etag) {
        return not_modified(&etag);
    }
    let mut response = ([(CONTENT_TYPE, "application/json")], out).into_response();
    response.headers_mut().insert(
        ETAG,
        HeaderValue::from_str(&etag).expect("hex is a header value"),
    );
    response
}

fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    response.headers_mut().insert(
        ETAG,
        HeaderValue::from_str(etag).expect("hex is a header value"),
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
