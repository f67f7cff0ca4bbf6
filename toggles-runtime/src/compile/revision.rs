//! Which version of a toggle's stored entry a write was decided on: what compare-and-set
//! compares.

use std::fmt;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// The revision of a toggle's entry in a store: a digest of what the store holds for it (or of
/// its holding nothing). Two reads that give one revision saw the same entry; a write made
/// [`if_revision`](crate::WriteRequest::if_revision) goes through only while the entry is still
/// at that revision, so it never overwrites a change it did not see.
///
/// It is written as 16 hexadecimal digits — what the HTTP API sends as an `ETag` and takes in
/// `If-Match` — and is computed from the entry alone, so every process and language reading the
/// store agrees on it: the first 8 bytes of the SHA-256 of the entry's JSON (object keys in
/// order, no spaces), or of the empty string for no entry.
///
/// ```
/// use serde_json::json;
/// use toggles::Revision;
///
/// let held = Revision::of(Some(&json!({"percent": 20})));
/// assert_eq!(held, Revision::of(Some(&json!({"percent": 20}))));
/// assert_ne!(held, Revision::of(None));
/// assert_eq!(held.to_string().parse::<Revision>(), Ok(held));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Revision(u64);

impl Revision {
    /// The revision of `entry` (`None`: the store holds nothing for the toggle).
    pub fn of(entry: Option<&Json>) -> Revision {
        let text = entry.map(Json::to_string).unwrap_or_default();
        let digest = Sha256::digest(text.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Revision(u64::from_be_bytes(first))
    }
}

/// The revision of no entry.
impl Default for Revision {
    fn default() -> Revision {
        Revision::of(None)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Revision({self})")
    }
}

/// Text that is not a revision: 16 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a revision: 16 hexadecimal digits")]
pub struct RevisionError(String);

impl std::str::FromStr for Revision {
    type Err = RevisionError;

    fn from_str(s: &str) -> Result<Revision, RevisionError> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RevisionError(s.to_owned()));
        }
        u64::from_str_radix(s, 16)
            .map(Revision)
            .map_err(|_| RevisionError(s.to_owned()))
    }
}

impl serde::Serialize for Revision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Revision {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
