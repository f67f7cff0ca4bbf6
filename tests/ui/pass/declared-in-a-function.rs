//! A toggle declared inside a function body is registered like any other.
#![deny(warnings)]
use toggles::{toggle, Switch};

fn main() {
    /// Declared where it is used.
    #[toggle(namespace = "local", life = "temporary", remove_by = "2030-01-01")]
    static LOCAL: Switch = true;

    assert!(LOCAL.is_enabled());
    assert_eq!(toggles::registry().iter().map(|t| t.full_name()).collect::<Vec<_>>(), ["local.local"]);
}
