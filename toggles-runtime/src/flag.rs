//! `Flag`: on or off, targeted per user, group and site.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::toggle::{DeclaredWithToggleAttribute, Sealed};
use crate::{Context, Kind, Meta, Toggle, Value};

const OFF: u8 = 0;
const ON: u8 = 1;

/// A toggle that is on or off per request: rolled out to a percentage of users, to listed users,
/// groups and sites.
///
/// Declared with `#[toggle]`; off unless initialized with `= true`. Until a store supplies a
/// rule, every context gets the compiled default.
///
/// ```
/// use toggles::{toggle, Context, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// pub static NEW_GRADER: Flag;
///
/// let ctx = Context::new().user("42");
/// assert!(!NEW_GRADER.is_enabled(&ctx));
/// ```
pub struct Flag {
    meta: Meta,
    default: bool,
    state: AtomicU8,
}

impl Flag {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: bool) -> Flag {
        Flag {
            meta,
            default,
            state: AtomicU8::new(if default { ON } else { OFF }),
        }
    }

    /// Not a constructor: toggles are declared with `#[toggle]`. This exists so that writing
    /// `Flag::new()` is an error that says so.
    #[doc(hidden)]
    pub const fn new() -> Flag
    where
        for<'a> &'a Flag: DeclaredWithToggleAttribute,
    {
        unreachable!()
    }

    /// Whether the flag is on for this context.
    #[inline]
    pub fn is_enabled(&self, ctx: &Context<'_>) -> bool {
        // Until rules arrive every flag's answer is independent of the context.
        let _ = ctx;
        self.state.load(Ordering::Relaxed) == ON
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

impl Sealed for Flag {}

impl Toggle for Flag {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Flag
    }
    fn value_type(&self) -> &'static str {
        "bool"
    }
    fn default_value(&self) -> Value {
        Value::Bool(self.default)
    }
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flag")
            .field("full_name", &self.meta.full_name())
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}
