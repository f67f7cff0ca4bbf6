//! `Switch`: on or off for everyone.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::toggle::{DeclaredWithToggleAttribute, Sealed};
use crate::{Kind, Meta, Toggle, Value};

/// A toggle that is on or off for everyone: a kill switch, a launch switch.
///
/// Declared with `#[toggle]`; off unless initialized with `= true`.
///
/// ```
/// use toggles::{toggle, Switch};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// if RECOMMENDATIONS.is_enabled() {
///     // ...
/// }
/// # assert!(RECOMMENDATIONS.is_enabled());
/// ```
pub struct Switch {
    meta: Meta,
    default: bool,
    state: AtomicBool,
}

impl Switch {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: bool) -> Switch {
        Switch {
            meta,
            default,
            state: AtomicBool::new(default),
        }
    }

    /// Not a constructor: toggles are declared with `#[toggle]`. This exists so that writing
    /// `Switch::new()` is an error that says so.
    #[doc(hidden)]
    pub const fn new() -> Switch
    where
        for<'a> &'a Switch: DeclaredWithToggleAttribute,
    {
        unreachable!()
    }

    /// Whether the switch is on.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.state.load(Ordering::Relaxed)
    }

    /// The declared metadata.
    pub const fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The compiled default.
    pub const fn default_value(&self) -> bool {
        self.default
    }
}

impl Sealed for Switch {}

impl Toggle for Switch {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Switch
    }
    fn value_type(&self) -> &'static str {
        "bool"
    }
    fn default_value(&self) -> Value {
        Value::Bool(self.default)
    }
}

impl fmt::Debug for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Switch")
            .field("full_name", &self.meta.full_name())
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}
