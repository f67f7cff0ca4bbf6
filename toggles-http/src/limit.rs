//! Rate limits per client for the endpoints anyone may call (OFREP and giving feedback):
//! `429 Too Many Requests` with `Retry-After`, as OFREP's specification answers a client past
//! its allowance.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde_json::json;

use crate::Shared;

/// How many requests a client may make to OFREP and feedback: a sustained rate and a burst
/// above it. A client is its principal when it is signed in, else its address: the peer's (when
/// the router is served with `into_make_service_with_connect_info::<SocketAddr>()`, as `toggles
/// serve` does), or the address a proxy in front names first in `X-Forwarded-For` when
/// [`behind_proxy`](RateLimit::behind_proxy). Clients with neither share one allowance.
///
/// ```
/// use toggles::http::{BearerTokens, Config, RateLimit};
///
/// let config = Config::new(BearerTokens::from_json("{}").unwrap())
///     .rate_limit(RateLimit::per_second(50).burst(200));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    per_second: NonZeroU32,
    burst: NonZeroU32,
    behind_proxy: bool,
}

impl RateLimit {
    /// `requests` a second per client, in bursts of as many (at least one).
    pub fn per_second(requests: u32) -> RateLimit {
        let rate = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
        RateLimit {
            per_second: rate,
            burst: rate,
            behind_proxy: false,
        }
    }

    /// Lets a client that was quiet make up to `requests` at once (at least one).
    #[must_use]
    pub fn burst(mut self, requests: u32) -> RateLimit {
        self.burst = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// Takes an anonymous client's address from the first `X-Forwarded-For` entry: only behind
    /// a proxy that sets it, since a client reaching the router directly could name any address.
    #[must_use]
    pub fn behind_proxy(mut self) -> RateLimit {
        self.behind_proxy = true;
        self
    }
}

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Principal(String),
    Address(IpAddr),
    Unknown,
}

/// The limiter in force, with the clients it forgets once they are quiet.
pub(crate) struct Limiter {
    limit: RateLimit,
    clients: DefaultKeyedRateLimiter<Client>,
    checks: AtomicU64,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Limiter {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Limiter {
            limit,
            clients: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }
    }

    /// How long `client` must wait, if it is past its allowance.
    fn check(&self, client: &Client) -> Option<Duration> {
        // Clients whose allowance is whole again are forgotten now and then, so a flood of
        // addresses does not keep memory.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.clients.retain_recent();
        }
        self.clients
            .check_key(client)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    fn client(&self, shared: &Shared, request: &Request) -> Client {
        let headers = request.headers();
        if let Some(who) = crate::auth::authenticated(shared, headers) {
            return Client::Principal(who.principal.id);
        }
        if self.limit.behind_proxy {
            if let Some(address) = forwarded_for(headers) {
                return Client::Address(address);
            }
        }
        match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => Client::Address(peer.ip()),
            None => Client::Unknown,
        }
    }
}

/// The first address of `X-Forwarded-For`: the client, as the first proxy saw it.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get("x-forwarded-for")?.to_str().ok()?;
    value.split(',').next()?.trim().parse().ok()
}

/// Answers `429` with `Retry-After` (whole seconds, rounded up) to a client past its allowance.
pub(crate) async fn limit(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &shared.limiter else {
        return next.run(request).await;
    };
    let client = limiter.client(&shared, &request);
    match limiter.check(&client) {
        None => next.run(request).await,
        Some(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "errorCode": "GENERAL",
                    "errorDetails": format!("rate limited: try again in {secs} s"),
                })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
            response
        }
    }
}
