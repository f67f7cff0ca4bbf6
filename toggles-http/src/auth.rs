//! Who is asking: the host's authentication, as a trait, and a ready one for bearer tokens.

use std::collections::HashMap;
use std::path::Path;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use toggles_runtime::policy::Principal;

/// Turns a request's headers into the [`Principal`] making it, or `None` when the request does
/// not authenticate. The host's own scheme (a session cookie, a signed header from a gateway)
/// implements it; [`BearerTokens`] is ready for small deployments.
pub trait Authenticate: Send + Sync + 'static {
    /// The principal the headers prove, if any.
    fn principal(&self, headers: &HeaderMap) -> Option<Principal>;
}

/// Principals by bearer token (`Authorization: Bearer <token>`, or the admin pages' session
/// cookie, which holds the token a browser signed in with), from a JSON object of token to
/// principal:
///
/// ```json
/// {
///   "9f2c…": { "id": "ana@example.com", "teams": ["grading-team"] },
///   "77a1…": { "id": "root@example.com", "admin": true }
/// }
/// ```
///
/// ```
/// use toggles::http::{Authenticate, BearerTokens};
///
/// let tokens = BearerTokens::from_json(r#"{"s3cret": {"id": "ana", "teams": ["grading-team"]}}"#).unwrap();
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("authorization", "Bearer s3cret".parse().unwrap());
/// assert_eq!(tokens.principal(&headers).unwrap().id, "ana");
/// // A `Debug` print names the principals, never a token.
/// assert!(!format!("{tokens:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct BearerTokens {
    tokens: HashMap<String, Principal>,
}

/// The principals, never the tokens: a `Debug` print lands in logs.
impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut principals: Vec<&str> = self.tokens.values().map(|p| p.id.as_str()).collect();
        principals.sort_unstable();
        f.debug_struct("BearerTokens")
            .field("principals", &principals)
            .field("tokens", &"[redacted]")
            .finish()
    }
}

impl BearerTokens {
    /// The tokens of a JSON object.
    pub fn from_json(json: &str) -> Result<BearerTokens, serde_json::Error> {
        Ok(BearerTokens {
            tokens: serde_json::from_str(json)?,
        })
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

impl Authenticate for BearerTokens {
    /// The token of `Authorization: Bearer <token>`, else of the admin pages' session cookie.
    fn principal(&self, headers: &HeaderMap) -> Option<Principal> {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let token = bearer.or_else(|| crate::admin::session(headers))?;
        self.tokens.get(&token).cloned()
    }
}
