#![doc = include_str!("../README.md")]
// The README shows the `#[test]` a user adds to enforce removal dates.
#![allow(clippy::test_attr_in_doctest)]

pub use toggles_macros::{toggle, Variants};
pub use toggles_runtime::*;

// The integrations' docs are shown here, in one place, rather than as links to other crates.
#[cfg(feature = "postgres")]
#[doc(inline)]
pub use toggles_postgres as postgres;

#[cfg(feature = "http")]
#[doc(inline)]
pub use toggles_http as http;

#[cfg(feature = "openfeature")]
#[doc(inline)]
pub use toggles_openfeature as openfeature;
