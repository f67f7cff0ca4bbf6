//! Who is asking: the host's authentication, as a trait, and a ready one for bearer tokens.

use std::collections::HashMap;
use std::path::Path;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use toggles_runtime::policy::Principal;

use crate::Shared;

/// Turns a request into the [`Principal`] making it, or `None` when the request does not
/// authenticate. The host's own scheme (a session cookie, a signed header from a gateway, its
/// single sign-on) implements it; [`BearerTokens`] is ready for small deployments.
///
/// A scheme that must ask elsewhere (an identity provider's session endpoint, a database of
/// API keys) implements [`authenticate_request`](Authenticate::authenticate_request), which
/// the router awaits once per request before any handler, off no thread of its own:
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
///
/// use axum::http::{request::Parts, HeaderMap};
/// use toggles::http::{Authenticate, Authenticated, Scope};
/// use toggles::policy::Principal;
///
/// /// Sessions of the company's sign-on, checked with its server.
/// struct SignOn;
///
/// impl Authenticate for SignOn {
///     // Only asked where no request is at hand: the router always asks the method below.
///     fn principal(&self, _headers: &HeaderMap) -> Option<Principal> {
///         None
///     }
///
///     fn authenticate_request<'a>(
///         &'a self,
///         request: &'a Parts,
///     ) -> Pin<Box<dyn Future<Output = Option<Authenticated>> + Send + 'a>> {
///         Box::pin(async move {
///             let session = request.headers.get("x-sso-session")?.to_str().ok()?;
///             // ... ask the sign-on server about `session` (an HTTP call, awaited) ...
///             let user = session.strip_prefix("valid:")?;
///             Some(Authenticated::new(Principal::new(user).team("ops"), &[Scope::Read, Scope::Write]))
///         })
///     }
/// }
/// ```
pub trait Authenticate: Send + Sync + 'static {
    /// The principal the headers prove, if any.
    fn principal(&self, headers: &HeaderMap) -> Option<Principal>;

    /// The principal the headers prove and what its credentials allow; every [`Scope`] unless
    /// the scheme says otherwise ([`BearerTokens`] reads them from its file).
    fn authenticate(&self, headers: &HeaderMap) -> Option<Authenticated> {
        self.principal(headers)
            .map(|principal| Authenticated::new(principal, Scope::ALL))
    }

    /// The principal `request` proves and what it allows, found however the scheme needs,
    /// awaited: what the router asks for every request it serves (the JSON API, OFREP, sync,
    /// the rate limit's client). By default [`authenticate`](Authenticate::authenticate) on
    /// its headers. The admin pages sign in with a token posted once, checked with
    /// `authenticate`, and keep their own session.
    fn authenticate_request<'a>(
        &'a self,
        request: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Option<Authenticated>> + Send + 'a>> {
        Box::pin(std::future::ready(self.authenticate(&request.headers)))
    }
}

tokio::task_local! {
    /// The principal of the request being served, found once by [`identify`].
    static IDENTITY: Option<Authenticated>;
}

/// Finds who makes the request, once, before any handler runs: every check of a credential
/// during the request reads what this found.
pub(crate) async fn identify(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let who = shared.auth.authenticate_request(&parts).await;
    IDENTITY
        .scope(who, next.run(Request::from_parts(parts, body)))
        .await
}

/// The principal of the request being served (as [`identify`] found it), or, outside a
/// request's scope, what the headers prove.
pub(crate) fn authenticated(shared: &Shared, headers: &HeaderMap) -> Option<Authenticated> {
    IDENTITY
        .try_with(Clone::clone)
        .unwrap_or_else(|_| shared.auth.authenticate(headers))
}

/// What a credential may be used for, endpoint by endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// The report, a toggle and its history, results, feedback.
    Read,
    /// OFREP evaluation (with the toggles' full metadata).
    Evaluate,
    /// Writes through the JSON API (as the policy allows the principal).
    Write,
    /// Signing in to the admin pages, whose forms write.
    Admin,
}

impl Scope {
    /// Every scope: what a credential may do unless it says otherwise.
    pub const ALL: &'static [Scope] = &[Scope::Read, Scope::Evaluate, Scope::Write, Scope::Admin];

    fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Evaluate => "evaluate",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A principal, and the scopes its credential allows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authenticated {
    /// Who.
    pub principal: Principal,
    /// What for.
    pub scopes: Vec<Scope>,
}

impl Authenticated {
    /// `principal`, allowed `scopes`.
    pub fn new(principal: Principal, scopes: &[Scope]) -> Authenticated {
        Authenticated {
            principal,
            scopes: scopes.to_vec(),
        }
    }

    /// Whether the credential allows `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Why the credential may not do `scope`: `the credential of ana allows read, evaluate;
    /// this needs write`.
    pub(crate) fn lacks(&self, scope: Scope) -> String {
        let allowed: Vec<&str> = self.scopes.iter().map(|s| s.as_str()).collect();
        format!(
            "the credential of `{}` allows {}; this needs `{scope}`",
            self.principal.id,
            if allowed.is_empty() {
                "nothing".to_owned()
            } else {
                allowed.join(", ")
            }
        )
    }
}

/// Principals by bearer token (`Authorization: Bearer <token>`, the scheme in any case), from a
/// JSON object of token to principal. A key is the token itself, or `sha256:` and the hex of
/// its SHA-256 so the file need not hold the token; `scopes` limits what the token is for
/// ([`Scope`]: `read`, `evaluate`, `write`, `admin`; all of them when left out):
///
/// ```json
/// {
///   "9f2c…": { "id": "ana@example.com", "teams": ["grading-team"] },
///   "sha256:5e88…": { "id": "root@example.com", "admin": true },
///   "c0ff…": { "id": "web-app", "scopes": ["evaluate"] }
/// }
/// ```
///
/// Only the tokens' SHA-256 is kept, and a presented token's is compared with each in constant
/// time. A session cookie of the admin pages is not a token: the JSON API takes only the
/// header.
///
/// ```
/// use toggles::http::{Authenticate, BearerTokens};
///
/// let tokens = BearerTokens::from_json(r#"{"s3cret": {"id": "ana", "teams": ["grading-team"]}}"#).unwrap();
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("authorization", "bearer s3cret".parse().unwrap());
/// assert_eq!(tokens.principal(&headers).unwrap().id, "ana");
/// // A `Debug` print names the principals, never a token.
/// assert!(!format!("{tokens:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct BearerTokens {
    /// Each token's SHA-256, its principal and its scopes.
    tokens: Vec<([u8; 32], Authenticated)>,
}

/// The principals, never the tokens: a `Debug` print lands in logs.
impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut principals: Vec<&str> = self
            .tokens
            .iter()
            .map(|(_, a)| a.principal.id.as_str())
            .collect();
        principals.sort_unstable();
        f.debug_struct("BearerTokens")
            .field("principals", &principals)
            .field("tokens", &"[redacted]")
            .finish()
    }
}

/// A token file's key as the digest it stands for, or why it is not one.
fn digest_of(key: &str) -> Result<[u8; 32], String> {
    let Some(hex) = key.strip_prefix("sha256:") else {
        return Ok(Sha256::digest(key.as_bytes()).into());
    };
    crate::hex::decode(hex)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            format!("`sha256:` is followed by the 64 hex digits of a SHA-256, not `{hex}`")
        })
}

impl BearerTokens {
    /// The tokens of a JSON object.
    pub fn from_json(json: &str) -> Result<BearerTokens, serde_json::Error> {
        let by_key: HashMap<String, Entry> = serde_json::from_str(json)?;
        let mut tokens = Vec::with_capacity(by_key.len());
        for (key, entry) in by_key {
            let digest = digest_of(&key).map_err(serde::de::Error::custom)?;
            let scopes = entry.scopes.as_deref().unwrap_or(Scope::ALL);
            tokens.push((digest, Authenticated::new(entry.principal, scopes)));
        }
        Ok(BearerTokens { tokens })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there is none: nobody can sign in.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens of a JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<BearerTokens, Box<dyn std::error::Error>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        BearerTokens::from_json(&text)
            .map_err(|e| format!("{} is not a token file: {e}", path.display()).into())
    }
}

/// A token file's entry: the principal, and the scopes if limited.
#[derive(Deserialize)]
struct Entry {
    #[serde(flatten)]
    principal: Principal,
    #[serde(default)]
    scopes: Option<Vec<Scope>>,
}

impl Authenticate for BearerTokens {
    fn principal(&self, headers: &HeaderMap) -> Option<Principal> {
        self.authenticate(headers).map(|a| a.principal)
    }

    /// The principal and scopes of the token of `Authorization: Bearer <token>`.
    fn authenticate(&self, headers: &HeaderMap) -> Option<Authenticated> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        // Every digest compared, none skipped: the time taken says nothing of which matched.
        let mut found = None;
        for (digest, authenticated) in &self.tokens {
            if bool::from(digest.ct_eq(&presented)) {
                found = Some(authenticated);
            }
        }
        found.cloned()
    }
}
