//! The admin pages' session: a signed cookie holding a random id, the principal and when the
//! session ends — never a token — and the anti-forgery token of its forms.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::IntoResponse as _;
use axum_extra::extract::cookie::{Cookie, Key, SameSite, SignedCookieJar};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use toggles_runtime::policy::Principal;
use toggles_runtime::Timestamp;

/// The session cookie's name.
const SESSION: &str = "toggles_session";

/// How long a session lasts unless [`Config::session_for`](crate::Config::session_for) says.
pub(crate) const SESSION_FOR: Duration = Duration::from_secs(8 * 3600);

/// What a session cookie holds, signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    /// A random id: what its forms' anti-forgery token is bound to, and what a logout revokes.
    pub(crate) id: String,
    pub(crate) principal: Principal,
    /// When it ends, in Unix seconds.
    expires: i64,
}

/// The keys sessions and their forms are signed with, and the sessions logged out before their
/// end.
pub(crate) struct Sessions {
    cookies: Key,
    forms: [u8; 32],
    lasts: Duration,
    /// Logged-out session ids, with when each would have ended (forgotten after).
    revoked: Mutex<HashMap<String, i64>>,
}

impl Sessions {
    /// Sessions signed with keys derived from `secret` (replicas given the same secret accept
    /// each other's sessions and forms), lasting `lasts`.
    pub(crate) fn new(secret: &[u8], lasts: Duration) -> Sessions {
        let derive = |label: &[u8]| -> [u8; 64] {
            let mut key = [0u8; 64];
            for (half, part) in key.chunks_mut(32).zip([b"1", b"2"]) {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
                mac.update(label);
                mac.update(part);
                half.copy_from_slice(&mac.finalize().into_bytes());
            }
            key
        };
        let mut forms = [0u8; 32];
        forms.copy_from_slice(&derive(b"toggles forms")[..32]);
        Sessions {
            cookies: Key::from(&derive(b"toggles sessions")),
            forms,
            lasts,
            revoked: Mutex::new(HashMap::new()),
        }
    }

    /// A new session for `principal`, and the `Set-Cookie` that starts it: `HttpOnly`,
    /// `SameSite=Strict`, for `path` only, `Secure` with `secure`, ending with the session.
    pub(crate) fn start(&self, principal: Principal, path: &str, secure: bool) -> HeaderValue {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).expect("the system has a source of randomness");
        let lasts = i64::try_from(self.lasts.as_secs()).unwrap_or(i64::MAX);
        let session = Session {
            id: crate::hex::encode(&id),
            principal,
            expires: Timestamp::now().unix_seconds().saturating_add(lasts),
        };
        let value = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&session).expect("serializes"));
        let cookie = Cookie::build((SESSION, value))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path(path.to_owned())
            .max_age(cookie_duration(self.lasts))
            .build();
        self.set_cookie(cookie)
    }

    /// The session the request's cookie proves: signed with this router's key, not ended, not
    /// logged out.
    pub(crate) fn of(&self, headers: &HeaderMap) -> Option<Session> {
        let jar = SignedCookieJar::from_headers(headers, self.cookies.clone());
        let cookie = jar.get(SESSION)?;
        let bytes = URL_SAFE_NO_PAD.decode(cookie.value()).ok()?;
        let session: Session = serde_json::from_slice(&bytes).ok()?;
        let now = Timestamp::now().unix_seconds();
        let revoked = self
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&session.id);
        (session.expires > now && !revoked).then_some(session)
    }

    /// Ends `session` here (a copy of its cookie shown to another replica stays good there
    /// until it ends), and the `Set-Cookie` that clears it from the browser.
    pub(crate) fn end(&self, session: &Session, path: &str) -> HeaderValue {
        let now = Timestamp::now().unix_seconds();
        let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
        revoked.retain(|_, ends| *ends > now);
        revoked.insert(session.id.clone(), session.expires);
        drop(revoked);
        let cookie = Cookie::build((SESSION, ""))
            .http_only(true)
            .same_site(SameSite::Strict)
            .path(path.to_owned())
            .max_age(cookie::time::Duration::ZERO)
            .build();
        HeaderValue::from_str(&cookie.to_string()).expect("a cookie is a header value")
    }

    /// The anti-forgery token of `session`'s forms: an HMAC of its id, so another site can
    /// neither read nor compute it.
    pub(crate) fn form_token(&self, session: &Session) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.forms).expect("any key length");
        mac.update(session.id.as_bytes());
        crate::hex::encode(&mac.finalize().into_bytes())
    }

    /// Whether `token` is `session`'s anti-forgery token, compared in constant time.
    pub(crate) fn form_token_is(&self, session: &Session, token: &str) -> bool {
        let Some(bytes) = crate::hex::decode(token) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.forms).expect("any key length");
        mac.update(session.id.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The `Set-Cookie` header of `cookie`, signed.
    fn set_cookie(&self, cookie: Cookie<'static>) -> HeaderValue {
        let response = SignedCookieJar::new(self.cookies.clone())
            .add(cookie)
            .into_response();
        response
            .headers()
            .get(SET_COOKIE)
            .cloned()
            .expect("a jar with a cookie sets it")
    }
}

/// Where the router is mounted, from a request to `…/admin/<page>` whose own path within the
/// router is `within`: the cookie's `Path`.
pub(crate) fn mount_path(uri: &Uri, within: &str) -> String {
    let path = uri.path().strip_suffix(within).unwrap_or("");
    if path.is_empty() {
        "/".to_owned()
    } else {
        format!("{path}/")
    }
}

/// Whether the request came over HTTPS: its URI says so, or the proxy in front of it does
/// (`X-Forwarded-Proto: https`).
pub(crate) fn over_https(uri: &Uri, headers: &HeaderMap) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie_duration(d: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
