//! The JSON API: the discoverability report, one toggle with its audit history, and writes.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use toggles_runtime::experiment::{Results, ResultsError};
use toggles_runtime::report::Report;
use toggles_runtime::rules::{FlagRule, VariantRule};
use toggles_runtime::store::AuditQuery;
use toggles_runtime::{registry, Change, Date, Revision, StoreError, WriteError};

use crate::auth::{Authenticated, Scope};
use crate::Shared;

/// An answer that is not a success, as JSON: `{"error": kind, "message": ..., ...}`.
pub(crate) struct Failure {
    status: StatusCode,
    body: JsonValue,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            body: json!({ "error": error, "message": message.into() }),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, "Bearer".parse().expect("a header value"));
        }
        response
    }
}

impl From<WriteError> for Failure {
    fn from(e: WriteError) -> Failure {
        let message = e.to_string();
        match e {
            WriteError::Forbidden(_) => Failure::new(StatusCode::FORBIDDEN, "forbidden", message),
            WriteError::Invalid(invalid) => {
                let problems: Vec<JsonValue> = invalid
                    .problems
                    .iter()
                    .map(|p| json!({ "toggle": p.toggle, "message": p.message }))
                    .collect();
                Failure {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    body: json!({ "error": "invalid", "message": message, "problems": problems }),
                }
            }
            WriteError::Unattributed => {
                Failure::new(StatusCode::UNPROCESSABLE_ENTITY, "unattributed", message)
            }
            WriteError::Conflict { found, .. } => Failure {
                status: StatusCode::CONFLICT,
                body: json!({ "error": "conflict", "message": message, "revision": found }),
            },
            _ => Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                message,
            ),
        }
    }
}

/// How many requests' store work runs at once in a process; the rest wait their turn, so a
/// burst of requests cannot grow the blocking pool (a thread each) without bound.
static STORE_WORK: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(16);

/// Runs blocking work (the store may be a database) off the async workers, at most 16 at once.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    let _turn = STORE_WORK.acquire().await.expect("never closed");
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the request's work failed: {e}"),
        )
    })
}

/// A store that cannot be read: 503, saying why.
pub(crate) fn unavailable(e: &StoreError) -> Failure {
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        e.to_string(),
    )
}

/// The request's credential, if it allows `scope`: `401` without one, `403` with one that does
/// not allow it.
pub(crate) fn credential(
    shared: &Shared,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Authenticated, Failure> {
    let Some(authenticated) = crate::auth::authenticated(shared, headers) else {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!(
                "this needs a credential allowed `{scope}`: send `Authorization: Bearer <token>`"
            ),
        ));
    };
    if authenticated.may(scope) {
        Ok(authenticated)
    } else {
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            authenticated.lacks(scope),
        ))
    }
}

/// For a router whose reads need a credential ([`Config::require_credentials`]
/// (crate::Config::require_credentials)), the request's, if it allows `scope`.
pub(crate) fn may_read(shared: &Shared, headers: &HeaderMap, scope: Scope) -> Result<(), Failure> {
    if shared.reads_need_credentials {
        credential(shared, headers, scope).map(|_| ())
    } else {
        Ok(())
    }
}

/// The report as last built, for the state and the day it was built on.
#[derive(Debug)]
pub(crate) struct BuiltReport {
    generation: u64,
    date: Date,
    at: std::time::Instant,
    body: axum::body::Bytes,
}

/// How long a report is answered again before it is built anew, within one state: what an
/// audited write that changed nothing (no new state) may take to show in its history.
const REPORT_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /toggles`: the registry's report with live state, as of today; 503 when the store's
/// audit log cannot be read (a report without the history would say nothing ever changed).
/// Built once per state and day (and at most every 5 s), however many ask at once: it reads
/// the whole audit log.
pub(crate) async fn report(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    let json = |body: axum::body::Bytes| {
        (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response()
    };
    // One build at a time; those waiting take what it built.
    let mut built = shared.report.lock().await;
    let generation = toggles_runtime::status().generation;
    let date = Date::today();
    if let Some(b) = built.as_ref() {
        if b.generation == generation && b.date == date && b.at.elapsed() < REPORT_FOR {
            return Ok(json(b.body.clone()));
        }
    }
    let body = blocking(move || {
        let report: Report = registry().report_as_of(date).map_err(|e| unavailable(&e))?;
        Ok::<_, Failure>(axum::body::Bytes::from(
            serde_json::to_vec(&report).expect("a report serializes"),
        ))
    })
    .await??;
    *built = Some(BuiltReport {
        generation,
        date,
        at: std::time::Instant::now(),
        body: body.clone(),
    });
    Ok(json(body))
}

#[derive(Deserialize)]
pub(crate) struct Page {
    #[serde(default)]
    skip: usize,
    limit: Option<usize>,
}

/// `GET /toggles/{name}?skip=&limit=`: one toggle's report entry and a page of its history, with
/// the revision of its stored entry as the `ETag`.
pub(crate) async fn toggle(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    let limit = page.limit.unwrap_or(20).min(500);
    blocking(move || {
        let Some(info) = registry().get(&name) else {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("`{name}` is not a toggle of this service"),
            ));
        };
        let query = AuditQuery::toggle(&name).skip(page.skip).limit(limit + 1);
        let mut audit = toggles_runtime::report::audit(&query).map_err(|e| unavailable(&e))?;
        let more = audit.len() > limit;
        audit.truncate(limit);
        let next = more.then(|| json!({ "skip": page.skip + limit, "limit": limit }));
        let report = info
            .report_as_of(Date::today())
            .map_err(|e| unavailable(&e))?;
        let etag = format!("\"{}\"", report.state.revision);
        let mut response = Json(json!({
            "toggle": report,
            "audit": audit,
            "next": next,
        }))
        .into_response();
        response.headers_mut().insert(
            ETAG,
            HeaderValue::from_str(&etag).expect("a revision is a header value"),
        );
        Ok(response)
    })
    .await?
}

/// `GET /toggles/{name}/results`: the experiment's results per arm
/// ([`Results`](toggles_runtime::experiment::Results)); 404 for a name that is not a variant
/// toggle of this service, 503 when the store cannot be read.
pub(crate) async fn results(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Results>, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    blocking(move || {
        toggles_runtime::experiment::results(&name)
            .map(Json)
            .map_err(|e| match e {
                ResultsError::NotAVariant(_) => {
                    Failure::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
                }
                ResultsError::Store(e) => unavailable(&e),
                other => Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    other.to_string(),
                ),
            })
    })
    .await?
}

/// The revision an `If-Match` header names (`"0123456789abcdef"`, quoted as an entity tag; a
/// weak `W/` one is taken too), if there is one.
fn if_match(headers: &HeaderMap) -> Result<Option<Revision>, Failure> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`If-Match` takes the toggle's revision, as its `ETag` gives it: `\"0123456789abcdef\"`",
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse().map(Some).map_err(|_| bad())
}

/// The body of a write: the change, and why.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteBody {
    change: ChangeBody,
    reason: String,
}

/// `{"switch": true}`, `{"flag": {...rule...}}`, `{"variant": {...rule...}}`, `{"setting": 5}`
/// or `"reset"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ChangeBody {
    Switch(bool),
    Flag(Box<FlagRule>),
    Variant(Box<VariantRule>),
    Setting(JsonValue),
    Reset,
}

/// `POST /toggles/{name}`: a change as the request's principal; with `If-Match`, only if the
/// toggle's entry is still at that revision (409 otherwise).
pub(crate) async fn write(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<WriteBody>, JsonRejection>,
) -> Result<Json<JsonValue>, Failure> {
    let principal = credential(&shared, &headers, Scope::Write)?.principal;
    let expected = if_match(&headers)?;
    let Json(body) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than the router accepts: {e}"),
            )
        } else {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the body is not a write: {e}"),
            )
        }
    })?;
    let change = match body.change {
        ChangeBody::Switch(on) => Change::switch(name, on),
        ChangeBody::Flag(rule) => Change::flag(name, *rule),
        ChangeBody::Variant(rule) => Change::variant(name, *rule),
        ChangeBody::Setting(value) => Change::setting(name, value),
        ChangeBody::Reset => Change::reset(name),
    };
    let entry = blocking(move || {
        let request = change.by(principal).because(body.reason);
        toggles_runtime::write(match expected {
            Some(revision) => request.if_revision(revision),
            None => request,
        })
    })
    .await??;
    Ok(Json(json!({ "entry": entry })))
}
