//! Bearer tokens from a file that can be read again while the server runs: a token added,
//! limited or revoked takes effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use axum::http::HeaderMap;
use toggles_runtime::policy::Principal;

use crate::auth::{Authenticate, Authenticated, BearerTokens};

/// [`BearerTokens`] read from a file, and read again by [`reload`](TokenFile::reload) — on
/// SIGHUP, or when [`reload_if_changed`](TokenFile::reload_if_changed) sees the file changed.
/// A file that no longer reads is reported and the tokens in force stay: a bad edit locks
/// nobody out. Clones share the tokens, so one can be given to [`Config`](crate::Config) and
/// another kept to reload.
///
/// ```
/// use toggles::http::{Authenticate, TokenFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("tokens.json");
/// std::fs::write(&path, r#"{"s3cret": {"id": "ana"}}"#)?;
/// let tokens = TokenFile::open(&path)?;
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("authorization", "Bearer s3cret".parse()?);
/// assert_eq!(tokens.principal(&headers).unwrap().id, "ana");
///
/// std::fs::write(&path, r#"{"n3w": {"id": "ana"}}"#)?;
/// tokens.reload()?;
/// assert!(tokens.principal(&headers).is_none(), "the old token is revoked");
///
/// std::fs::write(&path, "{ not json")?;
/// assert!(tokens.reload().is_err());
/// headers.insert("authorization", "Bearer n3w".parse()?);
/// assert!(tokens.principal(&headers).is_some(), "a bad file keeps the tokens in force");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenFile {
    path: PathBuf,
    state: Arc<RwLock<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    tokens: Arc<BearerTokens>,
    /// The file's modification time when it was last read.
    modified: Option<SystemTime>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl TokenFile {
    /// The tokens in the JSON file at `path` (the format of [`BearerTokens`]).
    pub fn open(path: impl Into<PathBuf>) -> Result<TokenFile, Box<dyn std::error::Error>> {
        let path = path.into();
        let modified = modified(&path);
        let tokens = Arc::new(BearerTokens::from_file(&path)?);
        Ok(TokenFile {
            path,
            state: Arc::new(RwLock::new(Loaded { tokens, modified })),
        })
    }

    /// Reads the file again and puts its tokens in force; on an error the tokens in force
    /// stay. Answers how many tokens are in force.
    pub fn reload(&self) -> Result<usize, Box<dyn std::error::Error>> {
        let modified = modified(&self.path);
        let tokens = Arc::new(BearerTokens::from_file(&self.path)?);
        let count = tokens.len();
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = Loaded { tokens, modified };
        Ok(count)
    }

    /// [`reload`](Self::reload) if the file's modification time changed since it was last
    /// read: `None` when it did not.
    pub fn reload_if_changed(&self) -> Option<Result<usize, Box<dyn std::error::Error>>> {
        let now = modified(&self.path);
        let then = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .modified;
        if now == then {
            return None;
        }
        let reloaded = self.reload();
        if reloaded.is_err() {
            // Reported once per change of the file, not at every look.
            self.state
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .modified = now;
        }
        Some(reloaded)
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tokens(&self) -> Arc<BearerTokens> {
        Arc::clone(
            &self
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .tokens,
        )
    }
}

impl Authenticate for TokenFile {
    fn principal(&self, headers: &HeaderMap) -> Option<Principal> {
        self.tokens().principal(headers)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Option<Authenticated> {
        self.tokens().authenticate(headers)
    }
}
