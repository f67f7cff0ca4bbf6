#![doc = include_str!("../README.md")]
// The README shows the `#[test]` a user adds to enforce removal dates.
#![allow(clippy::test_attr_in_doctest)]

pub use toggles_macros::toggle;
pub use toggles_runtime::*;

/// The PostgreSQL store, for toggles a fleet of services shares (feature `postgres`).
#[cfg(feature = "postgres")]
pub use toggles_postgres as postgres;

/// The HTTP router: discoverability, owner-scoped writes, OFREP (feature `http`).
#[cfg(feature = "http")]
pub use toggles_http as http;

/// The OpenFeature provider (feature `openfeature`).
#[cfg(feature = "openfeature")]
pub use toggles_openfeature as openfeature;
