//! `Switch`: on or off for everyone.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU8};

use crate::declare::toggle::{sealed::Sealed, Cells, DeclaredWithToggleAttribute, NO_ID};
use crate::declare::{Kind, Meta, Toggle, UsageCell, Value, OFF, ON};

/// A toggle that is on or off for everyone: a kill switch, a launch switch.
///
/// Declared with `#[toggle]`; off unless initialized with `= true`. A check is one relaxed
/// atomic load of a state the runtime keeps up to date with the store.
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
    pub(crate) meta: Meta,
    pub(crate) default: bool,
    /// `OFF`, `ON` or `SLOW`.
    pub(crate) state: AtomicU8,
    pub(crate) id: AtomicU32,
    pub(crate) overrides: AtomicU32,
    pub(crate) usage: UsageCell,
}

impl Switch {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: bool) -> Switch {
        Switch {
            meta,
            default,
            state: AtomicU8::new(if default { ON } else { OFF }),
            id: AtomicU32::new(NO_ID),
            overrides: AtomicU32::new(0),
            usage: UsageCell::new(),
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

    /// The declared metadata.
    pub const fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The compiled default.
    pub const fn default_value(&self) -> bool {
        self.default
    }
}

impl Sealed for Switch {
    fn cells(&self) -> Cells<'_> {
        Cells::Switch(self)
    }
}

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
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}
