//! The relay's side of `sync/v1`: the store's contents for followers (a `RemoteStore`) — one
//! ETag'd snapshot for pollers, a stream of snapshots for the rest — and what a follower
//! forwards: its writes, its audit reads, its declarations and heartbeats.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use sha2::{Digest as _, Sha256};
use toggles_runtime::fleet::{Declarations, Published};
use toggles_runtime::rules::{FlagRule, VariantRule};
use toggles_runtime::store::{
    AuditQuery, Converted, Counts, Exposed, Feedback, OutcomeWindow, RunBuckets, Snapshot, Store,
    Use,
};
use toggles_runtime::{Change, Revision, StoreError, Timestamp};
use tokio_stream::wrappers::{IntervalStream, WatchStream};
use tokio_stream::StreamExt as _;

use crate::api::{blocking, credential, may_read, unavailable, Failure};
use crate::auth::Scope;
use crate::Shared;

/// How often an idle sync stream carries a comment, so a follower knows the relay is there.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The contents in force, encoded once per generation for every follower.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    generation: u64,
    /// The first 16 hex digits of the SHA-256 of `body`'s snapshot: the same contents give the
    /// same version on every relay, so a follower may reconnect to another replica.
    version: String,
    /// `{"version": ..., "snapshot": ...}`.
    body: Bytes,
    /// `body` as one server-sent `snapshot` event with `version` as its id, framed once for
    /// every stream: 10,000 followers then cost 10,000 writes of one buffer, not 10,000 copies.
    frame: Bytes,
}

/// The last encoding, shared by the router's handlers.
#[derive(Debug, Default)]
pub(crate) struct Cache(Mutex<Option<Arc<Encoded>>>);

impl Cache {
    /// The encoding of `generation` or a newer state, for a stream told of `generation`:
    /// every follower's stream hears of one change, and only the first to ask encodes it.
    fn at_least(&self, generation: u64) -> Option<Arc<Encoded>> {
        {
            let cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(encoded) = cached.as_ref().filter(|e| e.generation >= generation) {
                return Some(Arc::clone(encoded));
            }
        }
        self.current()
    }

    /// The contents in force, encoded; `None` before a store's contents are in force.
    fn current(&self) -> Option<Arc<Encoded>> {
        let (generation, snapshot) = toggles_runtime::snapshot_in_force()?;
        let mut cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(encoded) = cached.as_ref().filter(|e| e.generation == generation) {
            return Some(Arc::clone(encoded));
        }
        let encoded = Arc::new(encode(generation, &snapshot));
        *cached = Some(Arc::clone(&encoded));
        Some(encoded)
    }
}

/// The version of `snapshot`: what a follower names in `If-None-Match` and `Last-Event-ID`.
pub(crate) fn version_of(snapshot: &Snapshot) -> String {
    let json = serde_json::to_vec(snapshot).expect("a snapshot serializes");
    let digest = Sha256::digest(&json);
    crate::hex::encode(&digest[..8])
}

fn encode(generation: u64, snapshot: &Snapshot) -> Encoded {
    let version = version_of(snapshot);
    let body = serde_json::to_vec(&json!({ "version": version, "snapshot": snapshot }))
        .expect("a snapshot serializes");
    // Compact JSON holds no line break (strings escape theirs), so it is one `data` line.
    let mut frame = Vec::with_capacity(body.len() + version.len() + 32);
    frame.extend_from_slice(b"event: snapshot\nid: ");
    frame.extend_from_slice(version.as_bytes());
    frame.extend_from_slice(b"\ndata: ");
    frame.extend_from_slice(&body);
    frame.extend_from_slice(b"\n\n");
    Encoded {
        generation,
        version,
        body: Bytes::from(body),
        frame: Bytes::from(frame),
    }
}

fn not_yet() -> Failure {
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "the relay's store has not been loaded yet",
    )
}

/// An entity tag's value, unquoted (a weak `W/` tag taken too).
fn tag(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    Some(text.trim_matches('"'))
}

/// `GET /sync/v1/snapshot`: the contents in force with their version as the `ETag`; `304`
/// when `If-None-Match` names it.
pub(crate) async fn snapshot(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    let encoded = shared.sync.current().ok_or_else(not_yet)?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", encoded.version)).expect("hex");
    if headers.get(IF_NONE_MATCH).and_then(tag) == Some(encoded.version.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response());
    }
    Ok((
        [
            (ETAG, etag),
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
        ],
        encoded.body.clone(),
    )
        .into_response())
}

/// `GET /sync/v1/stream`: server-sent `snapshot` events, each the contents in force with their
/// version as its `id`: at once (unless `Last-Event-ID` names the version in force), then at
/// each change. A comment every 15 s; the stream ends after [`Config::sync_max_age`]
/// (crate::Config::sync_max_age), so load balancers spread reconnecting followers.
pub(crate) async fn stream(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    shared.sync.current().ok_or_else(not_yet)?;
    let mut last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    let mut changes = shared.generations.subscribe();
    let now = *changes.borrow_and_update();
    let closed = WatchStream::new(shared.streams.closed.subscribe())
        .filter(|closed| *closed)
        .map(|_| Tick::End);
    let max_age = shared.sync_max_age;
    let start = tokio::time::Instant::now();
    let aged =
        IntervalStream::new(tokio::time::interval_at(start + max_age, max_age)).map(|_| Tick::End);
    let beats = IntervalStream::new(tokio::time::interval_at(start + HEARTBEAT, HEARTBEAT))
        .map(|_| Tick::Beat);
    let relay = Arc::clone(&shared);
    let open = crate::events::Open::follower(&shared.streams);
    let frames = tokio_stream::iter([Tick::Change(now)])
        .chain(WatchStream::from_changes(changes).map(Tick::Change))
        .merge(closed)
        .merge(aged)
        .merge(beats)
        .take_while(|tick| !matches!(tick, Tick::End))
        .filter_map(move |tick| {
            let _open = &open;
            let generation = match tick {
                Tick::Change(generation) => generation,
                Tick::Beat => return Some(Ok::<_, Infallible>(Bytes::from_static(b":\n\n"))),
                Tick::End => return None,
            };
            let encoded = relay.sync.at_least(generation)?;
            if last.as_deref() == Some(encoded.version.as_str()) {
                return None;
            }
            last = Some(encoded.version.clone());
            Some(Ok(encoded.frame.clone()))
        });
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}

/// What a follower's stream does next.
enum Tick {
    /// The state in force may have changed: send it unless the follower has it.
    Change(u64),
    /// Nothing changed for a while: a comment, so the follower knows the relay is there.
    Beat,
    /// The server is closing its streams, or the stream reached its age.
    End,
}

/// A follower's write: one toggle's entry, as its own transaction left it, recorded as the
/// actor it names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Forwarded {
    toggle: String,
    /// The section the entry is in (`switches`, `flags`, `variants`, `settings`); `null` with
    /// no entry (a reset).
    section: Option<String>,
    after: Option<JsonValue>,
    actor: String,
    reason: String,
    /// The entry's revision the follower's write was decided on.
    revision: Revision,
}

/// `POST /sync/v1/write`: a follower's write, for a credential allowed `admin` (the follower's
/// own runtime applied the policy to whoever made it): validated against this relay's
/// declarations, stored only if the entry is still at `revision` (`409` otherwise), and
/// audited as the follower's actor.
pub(crate) async fn write(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(forwarded): Json<Forwarded>,
) -> Result<Json<JsonValue>, Failure> {
    credential(&shared, &headers, Scope::Admin)?;
    let name = forwarded.toggle;
    let bad = |e: serde_json::Error| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("the entry is not a rule of its section: {e}"),
        )
    };
    let change = match (forwarded.section.as_deref(), forwarded.after) {
        (_, None) => Change::reset(name),
        (Some("switches"), Some(JsonValue::Bool(on))) => Change::switch(name, on),
        (Some("flags"), Some(rule)) => {
            Change::flag(name, serde_json::from_value::<FlagRule>(rule).map_err(bad)?)
        }
        (Some("variants"), Some(rule)) => Change::variant(
            name,
            serde_json::from_value::<VariantRule>(rule).map_err(bad)?,
        ),
        (Some("settings"), Some(value)) => Change::setting(name, value),
        (section, Some(_)) => {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!(
                    "`{}` is not a section this relay writes",
                    section.unwrap_or("null")
                ),
            ))
        }
    };
    let entry = blocking(move || {
        let actor = toggles_runtime::Actor::System(forwarded.actor);
        toggles_runtime::write(
            change
                .by(actor)
                .because(forwarded.reason)
                .if_revision(forwarded.revision),
        )
    })
    .await??;
    Ok(Json(json!({ "entry": entry })))
}

#[derive(Deserialize)]
pub(crate) struct AuditParams {
    toggle: Option<String>,
    #[serde(default)]
    skip: usize,
    limit: Option<usize>,
}

/// `GET /sync/v1/audit?toggle=&skip=&limit=`: the store's audit entries, newest first, for a
/// follower's reads (all toggles without `toggle`; 100 unless `limit`).
pub(crate) async fn audit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<AuditParams>,
) -> Result<Json<JsonValue>, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    let mut query = match params.toggle {
        Some(toggle) => AuditQuery::toggle(toggle),
        None => AuditQuery::all(),
    }
    .limit(params.limit.unwrap_or(100));
    query.skip = params.skip;
    let entries = blocking(move || toggles_runtime::report::audit(&query))
        .await?
        .map_err(|e| unavailable(&e))?;
    Ok(Json(json!({ "entries": entries })))
}

/// `GET /sync/v1/published`: every instance's declarations as the store keeps them.
pub(crate) async fn published(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<JsonValue>, Failure> {
    may_read(&shared, &headers, Scope::Read)?;
    let published: Vec<Published> = blocking(|| match toggles_runtime::store::installed() {
        Some(store) => store.published(),
        None => Ok(Vec::new()),
    })
    .await?
    .map_err(|e| unavailable(&e))?;
    Ok(Json(json!({ "published": published })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Publish {
    declarations: Declarations,
    at: Timestamp,
}

/// `POST /sync/v1/published`: a follower's declarations, for a credential allowed `write`.
pub(crate) async fn publish(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(publish): Json<Publish>,
) -> Result<StatusCode, Failure> {
    credential(&shared, &headers, Scope::Write)?;
    blocking(move || match toggles_runtime::store::installed() {
        Some(store) => store.publish(&publish.declarations, publish.at),
        None => Ok(()),
    })
    .await?
    .map_err(|e| unavailable(&e))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seen {
    instance: String,
    at: Timestamp,
}

/// `POST /sync/v1/seen`: a follower's heartbeat, for a credential allowed `write`:
/// `{"known": false}` when the store has no record of the instance (it publishes again).
pub(crate) async fn seen(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(seen): Json<Seen>,
) -> Result<Json<JsonValue>, Failure> {
    credential(&shared, &headers, Scope::Write)?;
    let known = blocking(move || match toggles_runtime::store::installed() {
        Some(store) => store.seen(&seen.instance, seen.at),
        None => Ok(false),
    })
    .await?
    .map_err(|e| unavailable(&e))?;
    Ok(Json(json!({ "known": known })))
}

/// One store call a follower forwards, as `POST sync/v1/store` takes it: what its runtime
/// records or reads for guards, experiments and feedback, on the relay's store.
#[derive(Deserialize)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Call {
    RecordOutcomes {
        instance: String,
        at: Timestamp,
        counts: Vec<(String, Counts)>,
    },
    Outcomes {
        toggle: String,
        since: Timestamp,
    },
    FleetOutcomes {
        windows: Vec<Window>,
    },
    RecordRunTimes {
        instance: String,
        at: Timestamp,
        runs: Vec<(String, RunBuckets)>,
    },
    FleetRunTimes {
        windows: Vec<Window>,
    },
    RecordExposures {
        exposures: Vec<Exposed>,
    },
    RecordConversions {
        conversions: Vec<Converted>,
    },
    ExperimentCounts {
        toggle: String,
    },
    RecordFeedback {
        feedback: Feedback,
    },
    Feedback {
        toggle: String,
        limit: usize,
    },
    RecordUsage {
        service: String,
        at: Timestamp,
        used: Vec<Use>,
    },
    Usage {},
}

/// An [`OutcomeWindow`] on the wire.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Window {
    key: String,
    toggle: String,
    since: Timestamp,
}

impl Call {
    /// Whether the call records (and so needs `write`) rather than reads.
    fn records(&self) -> bool {
        matches!(
            self,
            Call::RecordOutcomes { .. }
                | Call::RecordRunTimes { .. }
                | Call::RecordExposures { .. }
                | Call::RecordConversions { .. }
                | Call::RecordFeedback { .. }
                | Call::RecordUsage { .. }
        )
    }

    /// The call, on `store`: its answer as JSON.
    fn on(self, store: &dyn Store) -> Result<JsonValue, StoreError> {
        let windows = |windows: Vec<Window>| -> Vec<OutcomeWindow> {
            windows
                .into_iter()
                .map(|w| OutcomeWindow::new(w.key, w.toggle, w.since))
                .collect()
        };
        match self {
            Call::RecordOutcomes {
                instance,
                at,
                counts,
            } => json(store.record_outcomes(&instance, at, &counts)),
            Call::Outcomes { toggle, since } => json(store.outcomes(&toggle, since)),
            Call::FleetOutcomes { windows: w } => json(store.fleet_outcomes(&windows(w))),
            Call::RecordRunTimes { instance, at, runs } => {
                json(store.record_run_times(&instance, at, &runs))
            }
            Call::FleetRunTimes { windows: w } => json(store.fleet_run_times(&windows(w))),
            Call::RecordExposures { exposures } => json(store.record_exposures(&exposures)),
            Call::RecordConversions { conversions } => json(store.record_conversions(&conversions)),
            Call::ExperimentCounts { toggle } => json(store.experiment_counts(&toggle)),
            Call::RecordFeedback { feedback } => json(store.record_feedback(&feedback)),
            Call::Feedback { toggle, limit } => json(store.feedback(&toggle, limit)),
            Call::RecordUsage { service, at, used } => {
                json(store.record_usage(&service, at, &used))
            }
            Call::Usage {} => json(store.usage()),
        }
    }
}

/// `POST sync/v1/store`: a follower's call on the relay's store — outcomes and run times for
/// the fleet's guards, exposures and conversions for experiments' results, feedback — with
/// `write` to record and what reads need to read: `{"result": <the store's answer>}`.
pub(crate) async fn store(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(call): Json<Call>,
) -> Result<Json<JsonValue>, Failure> {
    if call.records() {
        credential(&shared, &headers, Scope::Write)?;
    } else {
        may_read(&shared, &headers, Scope::Read)?;
    }
    let result = blocking(move || match toggles_runtime::store::installed() {
        Some(store) => call.on(&*store),
        None => Err(StoreError::backend("the relay has no store installed")),
    })
    .await?
    .map_err(|e| unavailable(&e))?;
    Ok(Json(json!({ "result": result })))
}

/// A store's answer as JSON.
fn json<T: serde::Serialize>(answer: Result<T, StoreError>) -> Result<JsonValue, StoreError> {
    answer.map(|value| json!(value))
}
