//! Feature toggles for Rust, declared at compile time.
pub use toggles_macros::toggle;
pub use toggles_runtime::*;
