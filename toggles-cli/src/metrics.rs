//! `toggles serve`'s Prometheus metrics (`GET /metrics`): requests by status, open
//! connections and change streams, the store's state, and how long a change takes to be in force
//! here.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use toggles_runtime::store::AuditQuery;

use crate::serve::{seconds_since, Serving};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Status {
    code: u16,
}

/// Every metric, registered once.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<Status, Counter>,
    pub(crate) connections: Gauge,
    streams: Gauge,
    followers: Gauge,
    store_up: Gauge,
    generation: Gauge,
    state_age: Gauge<f64, AtomicU64>,
    propagation: Gauge<f64, AtomicU64>,
    toggles: Gauge,
    invalid_entries: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("toggles");
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            connections: Gauge::default(),
            streams: Gauge::default(),
            followers: Gauge::default(),
            store_up: Gauge::default(),
            generation: Gauge::default(),
            state_age: Gauge::default(),
            propagation: Gauge::default(),
            toggles: Gauge::default(),
            invalid_entries: Gauge::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by status code",
            m.requests.clone(),
        );
        registry.register("connections", "Connections open", m.connections.clone());
        registry.register(
            "change_streams",
            "OFREP change streams (eventStreams) open",
            m.streams.clone(),
        );
        registry.register(
            "sync_followers",
            "Followers (RemoteStores, relays) on this server's sync stream",
            m.followers.clone(),
        );
        registry.register(
            "store_up",
            "1 when the last load of the store succeeded, 0 when it failed or none has yet",
            m.store_up.clone(),
        );
        registry.register(
            "state_generation",
            "The generation of the state in force",
            m.generation.clone(),
        );
        registry.register(
            "state_age_seconds",
            "Seconds since the state in force was loaded or confirmed unchanged",
            m.state_age.clone(),
        );
        registry.register(
            "propagation_seconds",
            "For the newest state put in force: seconds from the newest audited change to its being in force here",
            m.propagation.clone(),
        );
        registry.register(
            "toggles_served",
            "Toggles served, from the fleet's declarations",
            m.toggles.clone(),
        );
        registry.register(
            "invalid_entries",
            "Store entries this server cannot use, each toggle keeping its last good state",
            m.invalid_entries.clone(),
        );
        Metrics { registry, ..m }
    }
}

/// Counts each answer by its status.
pub(crate) async fn count(
    State(serving): State<Arc<Serving>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    serving
        .metrics
        .requests
        .get_or_create(&Status {
            code: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics`: the Prometheus text format.
pub(crate) async fn scrape(State(serving): State<Arc<Serving>>) -> Response {
    let m = &serving.metrics;
    let status = toggles_runtime::status();
    let up = status.loaded_at.is_some() && status.last_error.is_none();
    m.store_up.set(i64::from(up));
    m.generation
        .set(i64::try_from(status.generation).unwrap_or(i64::MAX));
    m.state_age
        .set(status.loaded_at.map_or(f64::NAN, seconds_since));
    m.streams
        .set(i64::try_from(serving.streams.open()).unwrap_or(i64::MAX));
    m.followers
        .set(i64::try_from(serving.streams.following()).unwrap_or(i64::MAX));
    m.toggles
        .set(i64::try_from(toggles_runtime::registry().len()).unwrap_or(i64::MAX));
    m.invalid_entries
        .set(i64::try_from(status.invalid_entries.len()).unwrap_or(i64::MAX));
    let mut body = String::new();
    encode(&mut body, &m.registry).expect("writing to a string cannot fail");
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Keeps `propagation_seconds` up to date: on each state put in force, the time since the
/// newest audited change, read off the hot path.
pub(crate) fn follow_propagation(serving: Arc<Serving>) {
    let (tx, mut rx) = tokio::sync::watch::channel(0u64);
    toggles_runtime::on_state_change(move |generation| tx.send(generation).is_ok());
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let newest = tokio::task::spawn_blocking(|| {
                toggles_runtime::report::audit(&AuditQuery::all().limit(1))
            })
            .await;
            if let Ok(Ok(entries)) = newest {
                if let Some(entry) = entries.first() {
                    serving.metrics.propagation.set(seconds_since(entry.at));
                }
            }
        }
    });
}
