//! `Switch`: on or off for everyone.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use crate::cache::{self, Compiled, Entry, OFF, ON, SLOW};
use crate::toggle::{DeclaredWithToggleAttribute, Sealed, NO_ID};
use crate::{overrides, Kind, Meta, Toggle, Value};

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
    meta: Meta,
    default: bool,
    state: AtomicU8,
    id: AtomicU32,
    overrides: AtomicU32,
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
        match self.state.load(Ordering::Relaxed) {
            ON => true,
            OFF => false,
            _ => self.resolve(),
        }
    }

    #[cold]
    #[inline(never)]
    fn resolve(&self) -> bool {
        if let Some(on) = overrides::lookup::<bool>(self.key()) {
            return on;
        }
        let compiled = cache::current();
        self.stored(compiled.as_deref())
    }

    fn stored(&self, compiled: Option<&Compiled>) -> bool {
        match compiled.map(|c| c.entry(self.id.load(Ordering::Relaxed))) {
            Some(Entry::Switch(on)) => *on,
            _ => self.default,
        }
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
    fn set_id(&self, id: u32) {
        self.id.store(id, Ordering::Relaxed);
    }

    fn rebuild(&self, compiled: Option<&Compiled>) {
        let state = if self.overrides.load(Ordering::Relaxed) > 0 {
            SLOW
        } else if self.stored(compiled) {
            ON
        } else {
            OFF
        };
        self.state.store(state, Ordering::Relaxed);
    }

    fn override_count(&self) -> &AtomicU32 {
        &self.overrides
    }

    fn override_type(&self) -> std::any::TypeId {
        std::any::TypeId::of::<bool>()
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
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}
