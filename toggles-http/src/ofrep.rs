//! OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK, in any language,
//! evaluates this service's toggles over HTTP.

use axum::extract::rejection::JsonRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value as JsonValue};
use toggles_runtime::{registry, Context, Date, Kind, Step, ToggleInfo, Value};

/// An evaluation request: `{"context": {"targetingKey": "42", ...}}`.
#[derive(Deserialize, Default)]
pub(crate) struct Request {
    #[serde(default)]
    context: Map<String, JsonValue>,
}

/// The evaluation context, owned, so a [`Context`] can borrow it.
#[derive(Default)]
struct Subject {
    user: Option<String>,
    site: Option<String>,
    environment: Option<String>,
    groups: Vec<(String, String)>,
    attributes: Vec<(String, String)>,
}

/// `targetingKey` → user; `site`, `environment`; `groups` as `{"course": ["a", "b"]}` or
/// `group.<kind>` as `"a,b"`; every other scalar field → an attribute.
fn subject(context: &Map<String, JsonValue>) -> Result<Subject, String> {
    let mut subject = Subject::default();
    let text = |key: &str, v: &JsonValue| match v {
        JsonValue::String(s) => Ok(s.clone()),
        JsonValue::Number(n) => Ok(n.to_string()),
        JsonValue::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "`{key}` must be a string, number or boolean, not `{other}`"
        )),
    };
    let ids = |key: &str, v: &JsonValue| -> Result<Vec<String>, String> {
        match v {
            JsonValue::String(s) => Ok(s.split(',').map(|id| id.trim().to_owned()).collect()),
            JsonValue::Array(items) => items.iter().map(|i| text(key, i)).collect(),
            other => Err(format!("`{key}` must list group ids, not `{other}`")),
        }
    };
    for (key, value) in context {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "targetingKey" => subject.user = Some(text(key, value)?),
            "site" => subject.site = Some(text(key, value)?),
            "environment" => subject.environment = Some(text(key, value)?),
            "groups" => {
                let JsonValue::Object(kinds) = value else {
                    return Err(format!(
                        "`groups` must map a kind to its ids, not `{value}`"
                    ));
                };
                for (kind, list) in kinds {
                    for id in ids(kind, list)? {
                        subject.groups.push((kind.clone(), id));
                    }
                }
            }
            _ => match key.strip_prefix("group.") {
                Some(kind) => {
                    for id in ids(key, value)? {
                        subject.groups.push((kind.to_owned(), id));
                    }
                }
                None => subject.attributes.push((key.clone(), text(key, value)?)),
            },
        }
    }
    Ok(subject)
}

/// The OpenFeature reason for the step of a flag's rule that decided.
fn reason(step: &Step) -> &'static str {
    match step {
        Step::TestOverride => "TEST_OVERRIDE",
        Step::Inactive
        | Step::OutsideWindow
        | Step::Environment
        | Step::Requires { .. }
        | Step::Constraint { .. } => "DISABLED",
        Step::Site | Step::User | Step::Group { .. } => "TARGETING_MATCH",
        Step::Percent { .. } => "SPLIT",
        Step::Default => "DEFAULT",
        _ => "STATIC",
    }
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

/// One evaluation: the status and the OFREP body.
fn evaluate(key: &str, ctx: &Context<'_>) -> (StatusCode, JsonValue) {
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
                self::reason(&why.step),
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

fn with_context<R>(subject: &Subject, f: impl FnOnce(&Context<'_>) -> R) -> R {
    let groups: Vec<(&str, &str)> = subject
        .groups
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let attributes: Vec<(&str, &str)> = subject
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut ctx = Context::new()
        .with_groups(&groups)
        .with_attributes(&attributes);
    if let Some(user) = &subject.user {
        ctx = ctx.with_user(user);
    }
    if let Some(site) = &subject.site {
        ctx = ctx.with_site(site);
    }
    if let Some(environment) = &subject.environment {
        ctx = ctx.with_environment(environment);
    }
    f(&ctx)
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
    let subject = match subject(&request.context) {
        Ok(subject) => subject,
        Err(details) => return invalid_context(Some(&key), &details),
    };
    let (status, body) = with_context(&subject, |ctx| evaluate(&key, ctx));
    (status, Json(body)).into_response()
}

/// `POST /ofrep/v1/evaluate/flags`: every toggle, for one context (one pinned state for all).
pub(crate) async fn bulk(request: Result<Json<Request>, JsonRejection>) -> Response {
    let request = match request {
        Ok(Json(request)) => request,
        Err(e) => return invalid_context(None, &e.body_text()),
    };
    let subject = match subject(&request.context) {
        Ok(subject) => subject,
        Err(details) => return invalid_context(None, &details),
    };
    let flags: Vec<JsonValue> = with_context(&subject, |ctx| {
        registry()
            .iter()
            .map(|info| evaluate(info.full_name(), ctx).1)
            .collect()
    });
    (StatusCode::OK, Json(json!({ "flags": flags }))).into_response()
}
