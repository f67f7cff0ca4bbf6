//! A store that follows a relay (`toggles serve`, or any service's router) over HTTP: the
//! relay's stream of snapshots, a poll as the safety net, and writes, audit reads,
//! declarations and heartbeats forwarded to it.

use std::io::{BufRead as _, BufReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use crate::compile::{Invalid, Problem, Revision, Snapshot};
use crate::declare::Counts;
use crate::stores::{
    AuditEntry, AuditQuery, Converted, Declarations, ExperimentCounts, Exposed, Feedback,
    FeedbackLog, OnChange, OutcomeWindow, Published, RunBuckets, Store, StoreError, Usage, Use,
    WriteError,
};
use crate::targeting::Timestamp;

/// How long a follower waits for the relay to answer a request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often a follower asks the relay for its version (a `304` while nothing changed), so a
/// change reaches it even when its stream silently broke.
const POLL: Duration = Duration::from_secs(30);
/// How many times a write the relay answers `409` is tried again on the newer contents.
const WRITE_TRIES: usize = 3;

/// The contents of a relay, followed: a process of a large fleet installs this instead of a
/// database store, so the relay holds the database connections and its followers none.
///
/// [`load`](Store::load) asks the relay for its snapshot with the version it last had (a
/// `304` costs the relay no encoding); [`watch`](Store::watch) follows the relay's stream of
/// snapshots — the whole contents on connect, then at each change, resumed with
/// `Last-Event-ID` — and polls every 30 s besides, so a stream broken silently delays a change
/// by the poll at most. While the relay cannot be reached, the last good contents stay in force
/// and the failure is in [`status()`](crate::status()). Writes go to the relay as
/// compare-and-set on the toggle's revision (tried again on the newer contents when another
/// write came first), with the audit entry naming the actor that made them here; the
/// follower's token then needs the relay's `admin` scope — the follower's own runtime applied
/// the policy, as it does for a database it writes directly. Audit reads, declarations and
/// heartbeats go to the relay too, so the fleet report stays whole.
///
/// ```no_run
/// use toggles::store::RemoteStore;
///
/// let relay = RemoteStore::new("http://toggles-relay.internal:8080").token("s3cret");
/// let _toggles = toggles::install(relay)?;
/// # Ok::<(), toggles::InstallError>(())
/// ```
#[derive(Clone)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The relay's base URL, without a trailing `/`.
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    poll: Duration,
    /// The last contents the relay gave, with their version.
    last: Mutex<Option<(String, Snapshot)>>,
    watchers: Mutex<Vec<OnChange>>,
    following: AtomicBool,
    /// The relay could not be reached at the last look: the runtime is told once when it
    /// goes (its reload then fails and `status()` says so) and once when it comes back.
    failing: AtomicBool,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("relay", &self.inner.base)
            .field("token", &self.inner.token.as_ref().map(|_| "[redacted]"))
            .field("poll", &self.inner.poll)
            .finish_non_exhaustive()
    }
}

/// What the relay answered, as the follower reads it.
#[derive(Deserialize)]
struct Versioned {
    version: String,
    snapshot: Snapshot,
}

impl RemoteStore {
    /// The relay at `base` (`http://relay:8080`, or the path a service nests its router at:
    /// `https://app.example.com/toggles`).
    pub fn new(base: impl Into<String>) -> RemoteStore {
        Self::build(&base.into(), None, POLL)
    }

    /// Sends `token` as `Authorization: Bearer` with every request.
    #[must_use]
    pub fn token(self, token: impl Into<String>) -> RemoteStore {
        let inner = &self.inner;
        Self::build(&inner.base, Some(token.into()), inner.poll)
    }

    /// Polls the relay every `interval` besides following its stream (30 s by default).
    #[must_use]
    pub fn poll_every(self, interval: Duration) -> RemoteStore {
        let inner = &self.inner;
        Self::build(&inner.base, inner.token.clone(), interval)
    }

    fn build(base: &str, token: Option<String>, poll: Duration) -> RemoteStore {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        RemoteStore {
            inner: Arc::new(Inner {
                base: base.trim_end_matches('/').to_owned(),
                token,
                agent,
                poll,
                last: Mutex::new(None),
                watchers: Mutex::new(Vec::new()),
                following: AtomicBool::new(false),
                failing: AtomicBool::new(false),
            }),
        }
    }
}

/// A failure to reach the relay, or an answer that is not what it should be.
fn relay_error(base: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("the relay at {base}: {what}"))
}

impl Inner {
    fn url(&self, path: &str) -> String {
        format!("{}/sync/v1/{path}", self.base)
    }

    fn auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// A `GET` of `path`, read as JSON.
    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, StoreError> {
        let mut response = self
            .auth(self.agent.get(&self.url(path)))
            .call()
            .map_err(|e| relay_error(&self.base, e))?;
        expect_ok(&self.base, &mut response)?;
        response
            .body_mut()
            .read_json()
            .map_err(|e| relay_error(&self.base, e))
    }

    /// A `POST` of `body` to `path`: the status and the answer's JSON (`null` for none).
    fn post(&self, path: &str, body: &Json) -> Result<(u16, Json), StoreError> {
        let mut response = self
            .auth(self.agent.post(&self.url(path)))
            .send_json(body)
            .map_err(|e| relay_error(&self.base, e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| relay_error(&self.base, e))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Json::Null)))
    }

    /// A call on the relay's store (`sync/v1/store`), and its answer.
    fn call<T: DeserializeOwned>(&self, body: &Json) -> Result<T, StoreError> {
        match self.post("store", body)? {
            (200, answer) => {
                T::deserialize(&answer["result"]).map_err(|e| relay_error(&self.base, e))
            }
            (status, answer) => Err(relay_error(
                &self.base,
                format!(
                    "{status}: {}",
                    answer["message"].as_str().unwrap_or_default()
                ),
            )),
        }
    }

    /// The relay's contents: asked with the version last had, so an unchanged relay answers
    /// `304`. Whether they changed since, too.
    fn fetch(&self) -> Result<(Snapshot, bool), StoreError> {
        let known = self.last().map(|(version, _)| version);
        let mut request = self.auth(self.agent.get(&self.url("snapshot")));
        if let Some(version) = &known {
            request = request.header("if-none-match", format!("\"{version}\""));
        }
        let mut response = request.call().map_err(|e| relay_error(&self.base, e))?;
        if response.status() == 304 {
            if let Some((_, snapshot)) = self.last() {
                return Ok((snapshot, false));
            }
        }
        expect_ok(&self.base, &mut response)?;
        let got: Versioned = response
            .body_mut()
            .read_json()
            .map_err(|e| relay_error(&self.base, e))?;
        Ok((got.snapshot.clone(), self.keep(got)))
    }

    fn last(&self) -> Option<(String, Snapshot)> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps what the relay gave; whether it differs from what was kept.
    fn keep(&self, got: Versioned) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = last.as_ref().is_none_or(|(v, _)| *v != got.version);
        *last = Some((got.version, got.snapshot));
        changed
    }

    fn tell(&self) {
        let watchers = self
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for watcher in watchers {
            watcher();
        }
    }

    /// Follows the stream until it ends or breaks, keeping and telling each new snapshot.
    fn follow_stream(&self) -> Result<(), StoreError> {
        let mut request = self
            .auth(self.agent.get(&self.url("stream")))
            .header("accept", "text/event-stream")
            .config()
            // A stream lasts as long as the relay keeps it (its maximum age).
            .timeout_global(None)
            .build();
        if let Some((version, _)) = self.last() {
            request = request.header("last-event-id", version);
        }
        let mut response = request.call().map_err(|e| relay_error(&self.base, e))?;
        expect_ok(&self.base, &mut response)?;
        // Back: the runtime's next load succeeds and clears what its status said.
        if self.failing.swap(false, Ordering::AcqRel) {
            self.tell();
        }
        let reader = BufReader::new(response.body_mut().as_reader());
        let mut data = String::new();
        for line in reader.lines() {
            let line = line.map_err(|e| relay_error(&self.base, e))?;
            if line.is_empty() {
                // The end of an event: a snapshot, if it carried data.
                if !data.is_empty() {
                    let got: Versioned = serde_json::from_str(&data)
                        .map_err(|e| relay_error(&self.base, format!("a stream event: {e}")))?;
                    let changed = self.keep(got);
                    if changed | self.failing.swap(false, Ordering::AcqRel) {
                        self.tell();
                    }
                    data.clear();
                }
            } else if let Some(chunk) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(chunk.strip_prefix(' ').unwrap_or(chunk));
            }
            // `id:`, `event:` and comments (the heartbeat) carry nothing more to keep.
        }
        Ok(())
    }
}

/// `Ok` for a `200`, else the relay's own message.
fn expect_ok(
    base: &str,
    response: &mut ureq::http::Response<ureq::Body>,
) -> Result<(), StoreError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<Json>(&body)
        .ok()
        .and_then(|j| j["message"].as_str().map(str::to_owned))
        .unwrap_or(body);
    Err(relay_error(base, format!("{status}: {message}")))
}

/// The stream, followed again after each end or break, until the store is dropped.
fn follow(weak: &Weak<Inner>) {
    let mut wait = Duration::from_millis(100);
    while let Some(inner) = weak.upgrade() {
        match inner.follow_stream() {
            // The relay ended it (its maximum age, or shutting down): reconnect at once.
            Ok(()) => wait = Duration::from_millis(100),
            Err(e) => {
                if !inner.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "toggles: the relay's stream broke; following it again");
                    inner.tell();
                }
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
        drop(inner);
        std::thread::sleep(wait);
    }
}

/// Asks the relay for its version every `poll`, until the store is dropped.
fn poll(weak: &Weak<Inner>, every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(inner) = weak.upgrade() else { return };
        let tell = match inner.fetch() {
            Ok((_, changed)) => changed | inner.failing.swap(false, Ordering::AcqRel),
            Err(_) => !inner.failing.swap(true, Ordering::AcqRel),
        };
        if tell {
            inner.tell();
        }
    }
}

impl Store for RemoteStore {
    fn describe(&self) -> String {
        format!("relay {}", self.inner.base)
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.fetch().map(|(snapshot, _)| snapshot)
    }

    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        let inner = &self.inner;
        let mut conflict = None;
        for _ in 0..WRITE_TRIES {
            let (before, _) = inner.fetch()?;
            let mut after = before.clone();
            let entry = edit(&mut after)?;
            let name = entry.toggle.clone();
            let section = section_of(&after, &name);
            let body = json!({
                "toggle": name,
                "section": section,
                "after": entry.after,
                "actor": entry.actor,
                "reason": entry.reason,
                "revision": Revision::of(before.entry(&name)),
            });
            let (status, answer) = inner.post("write", &body)?;
            match status {
                200 => {
                    let entry = AuditEntry::deserialize(&answer["entry"])
                        .map_err(|e| relay_error(&inner.base, e))?;
                    return Ok(entry);
                }
                409 => {
                    let found = answer["revision"].as_str().and_then(|r| r.parse().ok());
                    conflict = Some((name, Revision::of(before.entry(&entry.toggle)), found));
                }
                422 => {
                    let problems = answer["problems"].as_array().map_or_else(
                        || {
                            let message = answer["message"].as_str().unwrap_or("refused");
                            vec![Problem::new(&name, message)]
                        },
                        |all| {
                            all.iter()
                                .map(|p| {
                                    Problem::new(
                                        p["toggle"].as_str().unwrap_or(&name),
                                        p["message"].as_str().unwrap_or_default(),
                                    )
                                })
                                .collect()
                        },
                    );
                    return Err(Invalid { problems }.into());
                }
                _ => {
                    let message = answer["message"].as_str().unwrap_or("no reason given");
                    return Err(relay_error(&inner.base, format!("{status}: {message}")).into());
                }
            }
        }
        let (toggle, expected, found) = conflict.expect("every try ended in a conflict");
        Err(WriteError::Conflict {
            toggle,
            expected,
            found: found.unwrap_or(expected),
        })
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        #[derive(Deserialize)]
        struct Entries {
            entries: Vec<AuditEntry>,
        }
        let mut path = format!(
            "audit?skip={}&limit={}",
            query.skip,
            query.limit.min(100_000)
        );
        if let Some(toggle) = &query.toggle {
            path.push_str("&toggle=");
            path.push_str(&encode_component(toggle));
        }
        self.inner.get::<Entries>(&path).map(|e| e.entries)
    }

    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        let inner = &self.inner;
        inner
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(on_change);
        if inner.following.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(work)
                .map_err(|e| StoreError::backend_caused("cannot follow the relay", e))
        };
        let weak = Arc::downgrade(inner);
        spawn("toggles-relay-stream", Box::new(move || follow(&weak)))?;
        let weak = Arc::downgrade(inner);
        let every = inner.poll;
        spawn("toggles-relay-poll", Box::new(move || poll(&weak, every)))?;
        Ok(())
    }

    fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
        let body = json!({ "declarations": declarations, "at": at });
        match self.inner.post("published", &body)? {
            (204 | 200, _) => Ok(()),
            (status, answer) => Err(relay_error(
                &self.inner.base,
                format!(
                    "{status}: {}",
                    answer["message"].as_str().unwrap_or_default()
                ),
            )),
        }
    }

    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        let body = json!({ "instance": instance, "at": at });
        match self.inner.post("seen", &body)? {
            (200, answer) => Ok(answer["known"].as_bool().unwrap_or(false)),
            (status, answer) => Err(relay_error(
                &self.inner.base,
                format!(
                    "{status}: {}",
                    answer["message"].as_str().unwrap_or_default()
                ),
            )),
        }
    }

    fn record_outcomes(
        &self,
        instance: &str,
        at: Timestamp,
        counts: &[(String, Counts)],
    ) -> Result<bool, StoreError> {
        self.inner.call(&json!({
            "call": "record_outcomes", "instance": instance, "at": at, "counts": counts,
        }))
    }

    fn outcomes(&self, toggle: &str, since: Timestamp) -> Result<Option<Counts>, StoreError> {
        self.inner
            .call(&json!({ "call": "outcomes", "toggle": toggle, "since": since }))
    }

    fn fleet_outcomes(&self, windows: &[OutcomeWindow]) -> Result<Option<Vec<Counts>>, StoreError> {
        self.inner
            .call(&json!({ "call": "fleet_outcomes", "windows": wire(windows) }))
    }

    fn record_run_times(
        &self,
        instance: &str,
        at: Timestamp,
        runs: &[(String, RunBuckets)],
    ) -> Result<bool, StoreError> {
        self.inner.call(&json!({
            "call": "record_run_times", "instance": instance, "at": at, "runs": runs,
        }))
    }

    fn fleet_run_times(
        &self,
        windows: &[OutcomeWindow],
    ) -> Result<Option<Vec<RunBuckets>>, StoreError> {
        self.inner
            .call(&json!({ "call": "fleet_run_times", "windows": wire(windows) }))
    }

    fn record_exposures(&self, exposures: &[Exposed]) -> Result<bool, StoreError> {
        self.inner
            .call(&json!({ "call": "record_exposures", "exposures": exposures }))
    }

    fn record_conversions(&self, conversions: &[Converted]) -> Result<bool, StoreError> {
        self.inner
            .call(&json!({ "call": "record_conversions", "conversions": conversions }))
    }

    fn experiment_counts(&self, toggle: &str) -> Result<Option<ExperimentCounts>, StoreError> {
        self.inner
            .call(&json!({ "call": "experiment_counts", "toggle": toggle }))
    }

    fn record_feedback(&self, feedback: &Feedback) -> Result<bool, StoreError> {
        self.inner
            .call(&json!({ "call": "record_feedback", "feedback": feedback }))
    }

    fn feedback(&self, toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
        self.inner
            .call(&json!({ "call": "feedback", "toggle": toggle, "limit": limit }))
    }

    fn record_usage(&self, service: &str, at: Timestamp, used: &[Use]) -> Result<bool, StoreError> {
        self.inner.call(&json!({
            "call": "record_usage", "service": service, "at": at, "used": used,
        }))
    }

    fn usage(&self) -> Result<Option<Vec<Usage>>, StoreError> {
        self.inner.call(&json!({ "call": "usage" }))
    }

    fn published(&self) -> Result<Vec<Published>, StoreError> {
        #[derive(Deserialize)]
        struct All {
            published: Vec<Published>,
        }
        self.inner.get::<All>("published").map(|a| a.published)
    }
}

/// The section of `snapshot` that holds `name`'s entry; `None` when it holds none.
fn section_of(snapshot: &Snapshot, name: &str) -> Option<&'static str> {
    [
        ("switches", &snapshot.switches),
        ("flags", &snapshot.flags),
        ("variants", &snapshot.variants),
        ("settings", &snapshot.settings),
    ]
    .into_iter()
    .find(|(_, section)| section.get(name).is_some())
    .map(|(name, _)| name)
}

/// `text` for a query string: everything but unreserved characters percent-encoded.
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Outcome windows as the relay reads them.
fn wire(windows: &[OutcomeWindow]) -> Vec<Json> {
    windows
        .iter()
        .map(|w| json!({ "key": w.key, "toggle": w.toggle, "since": w.since }))
        .collect()
}
