//! HTTP for [`toggles`](https://docs.rs/toggles): an [axum] router a service nests at a path of
//! its choice, with the discoverability endpoint, one toggle with its audit history, writes made
//! as the request's [`Principal`](toggles_runtime::policy::Principal) under the runtime's policy, and
//! OFREP evaluation for OpenFeature SDKs in any language.
//!
//! ```
//! use toggles::http::{router, BearerTokens, Config};
//!
//! let tokens = BearerTokens::from_json(r#"{"s3cret": {"id": "ana", "teams": ["grading-team"]}}"#).unwrap();
//! let app: axum::Router = axum::Router::new().nest("/toggles", router(Config::new(tokens)));
//! ```
//!
//! Authentication is the host's: an [`Authenticate`] turns a request into a principal,
//! awaited once per request before any handler
//! ([`authenticate_request`](Authenticate::authenticate_request): the host's single sign-on
//! may ask its server), and
//! [`BearerTokens`] maps bearer tokens from a file, for small deployments ([`TokenFile`] reads
//! the file again while the router runs). Reads are
//! open — the discoverability endpoint exists to be read — unless
//! [`Config::require_credentials`], and no request without a principal reaches a write. A
//! credential may be limited to some [`Scope`]s (`read`, `evaluate`, `write`, `admin`: a token
//! file's `scopes`); a request whose credential leaves out what it needs is answered `403` with
//! the reason. Store work runs on tokio's blocking pool, never on the async workers.
//!
//! The admin pages sign a browser in with a token posted once: the session is a signed cookie
//! holding a random id, the principal and its end — never the token — `HttpOnly`,
//! `SameSite=Strict`, for the router's path only, `Secure` over HTTPS (or behind a proxy saying
//! `X-Forwarded-Proto: https`), ending after [`Config::session_for`] (8 hours), and ended by
//! signing out (`POST admin/logout`). Its forms carry an anti-forgery token bound to the
//! session, verified in constant time. Replicas given one [`Config::key`] accept each other's
//! sessions and forms; a signed-out session is refused by the replica that signed it out, and
//! by the others once it ends. The JSON API never takes the session cookie: a write there
//! carries `Authorization: Bearer`.
//!
//! # Endpoints (relative to where the router is nested)
//!
//! **`GET /`** — the registry's report with live state: the JSON of
//! [`Report`](toggles_runtime::report::Report).
//!
//! **`GET /{name}?skip=0&limit=20`** — one toggle and a page of its audit history, newest
//! first, with the revision of its stored entry as the `ETag` (`"0123456789abcdef"`); `404` for
//! a name this service does not declare.
//!
//! ```json
//! { "toggle": { "full_name": "grading.new_grader", "kind": "flag", "state": { ... }, ... },
//!   "audit": [ { "at": "2026-11-22T10:00:00Z", "actor": "ana", "toggle": "grading.new_grader",
//!                "before": { "percent": 10.0 }, "after": { "percent": 50.0 }, "reason": "..." } ],
//!   "next": { "skip": 20, "limit": 20 } }
//! ```
//!
//! **`GET /{name}/results`** — a variant toggle's experiment results per arm: the JSON of
//! [`Results`](toggles_runtime::experiment::Results) (units exposed, conversions per goal,
//! rates with their 95% intervals, the difference from the control); `404` for a name that is
//! not a variant toggle of this service.
//!
//! **`POST /{name}/feedback`** with `{"arm": "on", "unit": "42", "text": "…"}` — a piece of
//! feedback on the arm the unit saw (`on`/`off` for a flag, an arm's name for a variant
//! toggle), open to anonymous clients: `201 {"feedback": …}`, `404` for a name this service
//! does not declare, `422` for an arm it does not declare or a text empty or over 2,000
//! characters, `503` when the store cannot keep it. The store keeps the newest 1,000 per toggle.
//!
//! **`GET /{name}/feedback?limit=50`** — for a signed-in principal (`401` otherwise): the newest
//! pieces, newest first, and every piece's count per arm (the JSON of
//! [`FeedbackLog`](toggles_runtime::store::FeedbackLog)).
//!
//! **`POST /{name}`** with `Authorization: Bearer <token>` and
//! `{"change": {"flag": {"percent": 50}}, "reason": "error rate flat"}` (or `{"switch": false}`,
//! `{"variant": {"coverage": 50, "weights": {"one_page": 5000, "express": 5000}}}`,
//! `{"setting": 5000000}`, `"reset"`), and optionally `If-Match: "<revision>"` (the `ETag` of the
//! `GET` the change was decided on; a weak `W/` tag is taken too): compare-and-set, checked
//! inside the store's transaction.
//!
//! | status | body |
//! |---|---|
//! | 200 | `{"entry": <the audit entry>}` |
//! | 400 | `{"error": "bad_request", "message": ...}`: not a write body, or an `If-Match` that is not a revision |
//! | 401 | `{"error": "unauthenticated", ...}`, with `WWW-Authenticate: Bearer` |
//! | 403 | `{"error": "forbidden", "message": "write refused: `catalog.recommendations` is owned by `catalog-team`: ..."}` |
//! | 409 | `{"error": "conflict", "message": ..., "revision": "<the entry's revision now>"}`: the entry changed since the `If-Match` revision; nothing changed |
//! | 413 | the body is larger than [`Config::body_limit`] |
//! | 422 | `{"error": "invalid", "message": ..., "problems": [{"toggle": ..., "message": ...}]}`: every problem, nothing changed |
//! | 503 | `{"error": "store_unavailable", "message": ...}`: the store is down; nothing changed, reads still serve the last good state |
//!
//! **`POST /ofrep/v1/evaluate/flags/{key}`** and **`POST /ofrep/v1/evaluate/flags`** (bulk), with
//! `{"context": {"targetingKey": "42", "site": "...", "environment": "...", "groups": {"course":
//! ["c1"]}, "region": "RO"}}`, read by the runtime's one mapping
//! ([`OwnedContext::from_json`](toggles_runtime::OwnedContext::from_json), which the OpenFeature
//! provider uses too): `targetingKey` is the user; `site` and `environment` are the context's;
//! groups come as `groups` (kind → ids) or `group.<kind>` (comma-separated ids); every other
//! text, number, boolean or time is an attribute, and what is none of these (a nested object) is
//! left out.
//!
//! ```json
//! { "key": "grading.new_grader", "value": true, "variant": "on", "reason": "SPLIT",
//!   "metadata": { "kind": "flag" } }
//! ```
//!
//! What `metadata` tells is [`OfrepMetadata`]: for a client that is not signed in, the kind
//! (and a variant toggle's `arms`) by default; for a signed-in principal, or with
//! [`Config::ofrep_metadata`]`(OfrepMetadata::Full)`, also `life`, `expired`, `remove_by`,
//! `owner` and `source`. The bulk answer carries an `ETag` (a hash of its body), and a request
//! whose `If-None-Match` names it is answered `304` with no body. A page on another origin calls
//! OFREP (and gives feedback) once [`Config::allow_origins`] names its origin: the preflight is
//! answered, and `ETag` and `Retry-After` are exposed to it.
//!
//! With [`Config::rate_limit`], a client past its allowance on OFREP or feedback is answered
//! `429` with `Retry-After` (whole seconds): see [`RateLimit`] for who counts as one client.
//!
//! **`GET /ofrep/v1/events`** — the change stream the bulk answer names in `eventStreams`
//! (`{"type": "sse", "endpoint": {"requestUri": ".../ofrep/v1/events"}, "inactivityDelaySec":
//! 120}`), so a web provider fetches again when something changed instead of polling:
//! server-sent events `{"type": "refetchEvaluation"}`, each with the generation of the state put
//! in force as its `id`. A client reconnecting with an older `Last-Event-ID` is told at once;
//! an idle stream carries a comment every 15 s.
//!
//! **`sync/v1/…`** — the store's contents for followers (a `RemoteStore`, another relay):
//! `GET sync/v1/snapshot` answers `{"version": "<16 hex>", "snapshot": {...}}` with the version
//! as the `ETag` (`304` for `If-None-Match`); `GET sync/v1/stream` sends server-sent `snapshot`
//! events of the same body, id the version: on connect (unless `Last-Event-ID` names the
//! version in force) and at each change, a comment every 15 s, ending after
//! [`Config::sync_max_age`]. Reads need what the other reads need. What a follower forwards:
//! `POST sync/v1/write` (`{"toggle", "section", "after", "actor", "reason", "revision"}`,
//! scope `admin`: validated, compare-and-set on `revision` — `409` when it moved — and audited
//! as `actor`), `GET sync/v1/audit?toggle=&skip=&limit=`, `GET`/`POST sync/v1/published` and
//! `POST sync/v1/seen` (scope `write` to post), and `POST sync/v1/store` (`{"call":
//! "record_outcomes", ...}`: the store's calls for guards, experiments and feedback, `write` to
//! record), so a follower's guards judge on the fleet's counts and its experiments' results and
//! feedback are the fleet's.
//!
//! Reasons: `SPLIT` (a percentage), `TARGETING_MATCH` (a listed site, user or group), `DISABLED`
//! (a gate: inactive, window, environment, `requires`, constraint), `STATIC` (`everyone`, a
//! switch, a setting, a test override), `DEFAULT` (the compiled default): only the specification's reasons. An unknown key answers
//! `404 {"errorCode": "FLAG_NOT_FOUND"}`; a context whose reserved fields are malformed
//! (`"groups": 3`) `400 {"errorCode": "INVALID_CONTEXT"}`. Settings evaluate to their typed value, their variant its text.
//! A variant toggle evaluates to its arm's name, as value and variant (`SPLIT` for a unit the
//! experiment drew, `TARGETING_MATCH` for a pinned one; metadata `arms` lists them all). A
//! single evaluation of a tracked experiment exposes the unit it draws, as a check in the
//! service does; the bulk evaluation exposes nobody (a client prefetching every flag has not
//! shown its user any of them).

mod admin;
mod api;
mod auth;
mod events;
mod experiment;
mod feedback;
mod hex;
mod limit;
mod ofrep;
mod session;
mod sync;
mod timeline;
mod token_file;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use axum::http::{HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use crate::auth::{Authenticate, Authenticated, BearerTokens, Scope};
pub use crate::events::Streams;
pub use crate::limit::RateLimit;
pub use crate::token_file::TokenFile;

/// How the router authenticates and what it accepts.
pub struct Config {
    auth: Arc<dyn Authenticate>,
    body_limit: usize,
    origins: Origins,
    metadata: OfrepMetadata,
    key: Option<[u8; 32]>,
    session_for: Duration,
    reads_need_credentials: bool,
    streams: Streams,
    rate_limit: Option<RateLimit>,
    sync_max_age: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("body_limit", &self.body_limit)
            .field("origins", &self.origins)
            .field("metadata", &self.metadata)
            .field("key", &self.key.map(|_| "[redacted]"))
            .field("session_for", &self.session_for)
            .field("reads_need_credentials", &self.reads_need_credentials)
            .field("rate_limit", &self.rate_limit)
            .field("sync_max_age", &self.sync_max_age)
            .finish_non_exhaustive()
    }
}

/// The other origins whose pages may call OFREP and give feedback from a browser.
#[derive(Debug, Clone)]
enum Origins {
    None,
    Any,
    These(Vec<HeaderValue>),
}

/// What an OFREP answer's `metadata` tells a client that is not signed in (a signed-in
/// principal always gets [`Full`](OfrepMetadata::Full)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OfrepMetadata {
    /// The toggle's `kind`, and a variant toggle's `arms`: what a client needs to use the
    /// answer, and nothing of how the service is built or who owns what.
    #[default]
    Public,
    /// Also `life`, `expired`, `remove_by`, `owner` and `source` (the file and line that
    /// declare the toggle).
    Full,
}

/// An origin [`Config::allow_origins`] cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOrigin(String);

impl std::fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is not an origin: a scheme and a host, and a port if not the scheme's own (`https://app.example.com`, `http://localhost:5173`), with no path",
            self.0
        )
    }
}

impl std::error::Error for InvalidOrigin {}

impl Config {
    /// Requests authenticated by `auth`; bodies up to 64 KiB; no other origin's page may call
    /// it from a browser; anonymous OFREP clients see [`OfrepMetadata::Public`].
    pub fn new(auth: impl Authenticate) -> Config {
        Config {
            auth: Arc::new(auth),
            body_limit: 64 * 1024,
            origins: Origins::None,
            metadata: OfrepMetadata::Public,
            key: None,
            session_for: session::SESSION_FOR,
            reads_need_credentials: false,
            streams: Streams::new(),
            rate_limit: None,
            sync_max_age: Duration::from_secs(300),
        }
    }

    /// How long a follower's sync stream lasts before the relay ends it (5 minutes by
    /// default): the follower reconnects, through the load balancer, so followers spread over
    /// the relays as they come and go.
    #[must_use]
    pub fn sync_max_age(mut self, age: Duration) -> Config {
        self.sync_max_age = age.max(Duration::from_secs(1));
        self
    }

    /// Limits how often each client may call OFREP and give feedback ([`RateLimit`]): past
    /// its allowance a client is answered `429` with `Retry-After`. No limit by default.
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Config {
        self.rate_limit = Some(limit);
        self
    }

    /// The router's change streams are counted and closed through `streams` (see [`Streams`]).
    #[must_use]
    pub fn streams(mut self, streams: &Streams) -> Config {
        self.streams = streams.clone();
        self
    }

    /// Reads need a credential too: the report, a toggle, results (scope `read`), OFREP
    /// (scope `evaluate`) and the admin pages (a session), answered `401` without one and `403`
    /// with one that does not allow it. By default reads are open, as a discoverability
    /// endpoint is meant to be, and only writes (and feedback's list) need one.
    #[must_use]
    pub fn require_credentials(mut self) -> Config {
        self.reads_need_credentials = true;
        self
    }

    /// Signs the admin sessions and their forms' anti-forgery tokens with keys derived from
    /// `secret` (32 random bytes, kept like a password). Replicas behind one address given the
    /// same secret accept each other's sessions and forms; without it each router draws its
    /// own, and its sessions end with it.
    #[must_use]
    pub fn key(mut self, secret: [u8; 32]) -> Config {
        self.key = Some(secret);
        self
    }

    /// How long an admin session lasts (8 hours by default).
    #[must_use]
    pub fn session_for(mut self, lasts: Duration) -> Config {
        self.session_for = lasts;
        self
    }

    /// Refuses bodies larger than `bytes` with `413`.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Config {
        self.body_limit = bytes;
        self
    }

    /// Lets pages served from `origins` call OFREP and give feedback from a browser (CORS:
    /// preflights answered, `ETag` and `Retry-After` readable by the page). The admin pages
    /// and the JSON API stay same-origin.
    ///
    /// ```
    /// use toggles::http::{BearerTokens, Config};
    ///
    /// let config = Config::new(BearerTokens::from_json("{}").unwrap())
    ///     .allow_origins(["https://app.example.com", "http://localhost:5173"])
    ///     .unwrap();
    /// let refused = Config::new(BearerTokens::from_json("{}").unwrap())
    ///     .allow_origins(["app.example.com/"]);
    /// assert!(refused.is_err());
    /// ```
    pub fn allow_origins<I, S>(mut self, origins: I) -> Result<Config, InvalidOrigin>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut allowed = Vec::new();
        for origin in origins {
            let origin = origin.as_ref();
            let shaped = origin.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
            });
            match HeaderValue::from_str(origin) {
                Ok(value) if shaped => allowed.push(value),
                _ => return Err(InvalidOrigin(origin.to_owned())),
            }
        }
        self.origins = Origins::These(allowed);
        Ok(self)
    }

    /// Lets a page from any origin call OFREP and give feedback (`Access-Control-Allow-Origin:
    /// *`): for a public OFREP endpoint.
    #[must_use]
    pub fn allow_any_origin(mut self) -> Config {
        self.origins = Origins::Any;
        self
    }

    /// What OFREP answers tell a client that is not signed in.
    #[must_use]
    pub fn ofrep_metadata(mut self, metadata: OfrepMetadata) -> Config {
        self.metadata = metadata;
        self
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) auth: Arc<dyn Authenticate>,
    /// The admin pages' sessions and their forms' tokens.
    pub(crate) sessions: session::Sessions,
    /// What anonymous OFREP clients see of a toggle.
    pub(crate) metadata: OfrepMetadata,
    /// Whether reads need a credential ([`Config::require_credentials`]).
    pub(crate) reads_need_credentials: bool,
    /// The generation of the state in force, for the change stream.
    pub(crate) generations: Arc<tokio::sync::watch::Sender<u64>>,
    /// The change streams, counted and closed by the server.
    pub(crate) streams: Streams,
    /// The rate limit of OFREP and feedback, if any.
    pub(crate) limiter: Option<limit::Limiter>,
    /// The contents in force, encoded for followers.
    pub(crate) sync: sync::Cache,
    /// How long a sync stream lasts.
    pub(crate) sync_max_age: Duration,
    /// The discoverability report as last built.
    pub(crate) report: tokio::sync::Mutex<Option<api::BuiltReport>>,
    /// Every toggle's OFREP metadata, encoded for today.
    pub(crate) ofrep_metadata: std::sync::Mutex<Option<Arc<ofrep::Metadata>>>,
    /// Recent bulk answers' entity tags, for pollers.
    pub(crate) etags: ofrep::Etags,
    /// The last bulk answer's size, to size the next one's buffer.
    pub(crate) bulk_size: std::sync::atomic::AtomicUsize,
}

/// The CORS layer for the routes browsers on other origins call, if any origin may.
fn cors(origins: &Origins) -> Option<CorsLayer> {
    let origin = match origins {
        Origins::None => return None,
        Origins::Any => AllowOrigin::any(),
        Origins::These(list) => AllowOrigin::list(list.iter().cloned()),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([CONTENT_TYPE, AUTHORIZATION, IF_NONE_MATCH])
            .expose_headers([ETAG, RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The router: nest it where the service wants it (`Router::new().nest("/toggles", ...)`),
/// in a router of any state: the toggles' handlers keep their own.
///
/// ```
/// use toggles::http::{router, BearerTokens, Config};
///
/// #[derive(Clone)]
/// struct AppState { greeting: &'static str }
///
/// let tokens = BearerTokens::from_json("{}").unwrap();
/// let app: axum::Router = axum::Router::new()
///     .route("/hello", axum::routing::get(|axum::extract::State(s): axum::extract::State<AppState>| async move { s.greeting }))
///     .nest("/toggles", router(Config::new(tokens)))
///     .with_state(AppState { greeting: "hi" });
/// ```
pub fn router<S>(config: Config) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let secret = config.key.unwrap_or_else(|| {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the system has a source of randomness");
        secret
    });
    let shared = Arc::new(Shared {
        auth: config.auth,
        sessions: session::Sessions::new(&secret, config.session_for),
        metadata: config.metadata,
        generations: events::generations(),
        reads_need_credentials: config.reads_need_credentials,
        streams: config.streams,
        limiter: config.rate_limit.map(limit::Limiter::new),
        sync: sync::Cache::default(),
        sync_max_age: config.sync_max_age,
        report: tokio::sync::Mutex::new(None),
        ofrep_metadata: std::sync::Mutex::new(None),
        etags: ofrep::Etags::default(),
        bulk_size: std::sync::atomic::AtomicUsize::new(4096),
    });
    // What a browser on another origin may call: OFREP, and giving feedback.
    let mut cross_origin = Router::new()
        .route("/{name}/feedback", get(feedback::list).post(feedback::give))
        .route("/ofrep/v1/evaluate/flags", post(ofrep::bulk))
        .route("/ofrep/v1/evaluate/flags/{key}", post(ofrep::one))
        .route("/ofrep/v1/events", get(events::stream))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            limit::limit,
        ));
    if let Some(cors) = cors(&config.origins) {
        cross_origin = cross_origin.layer(cors);
    }
    Router::new()
        .route("/admin", get(admin::to_the_list))
        .route("/admin/", get(admin::list))
        .route("/admin/login", get(admin::login_page).post(admin::login))
        .route("/admin/logout", post(admin::logout))
        .route("/admin/t/{name}", get(admin::toggle).post(admin::edit))
        .route("/", get(api::report))
        .route("/{name}", get(api::toggle).post(api::write))
        .route("/{name}/results", get(api::results))
        .route("/sync/v1/snapshot", get(sync::snapshot))
        .route("/sync/v1/stream", get(sync::stream))
        .route("/sync/v1/write", post(sync::write))
        .route("/sync/v1/audit", get(sync::audit))
        .route(
            "/sync/v1/published",
            get(sync::published).post(sync::publish),
        )
        .route("/sync/v1/seen", post(sync::seen))
        // A drain's exposures come in batches larger than a write.
        .route(
            "/sync/v1/store",
            post(sync::store).layer(DefaultBodyLimit::max(16 * 1024 * 1024)),
        )
        .merge(cross_origin)
        .layer(DefaultBodyLimit::max(config.body_limit))
        // Outermost: who makes the request is found once, before the rate limit and handlers.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            auth::identify,
        ))
        .with_state(shared)
}
