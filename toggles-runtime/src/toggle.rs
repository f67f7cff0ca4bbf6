//! What every toggle type shares, and how a toggle enters the registry.

use std::sync::atomic::AtomicU32;

use serde_json::Value as Json;

use crate::{Context, Kind, Meta, Value};

pub(crate) mod sealed {
    use super::{AtomicU32, Context, Json};
    use crate::cache::Compiled;

    /// The runtime's side of a toggle: not callable, nor implementable, outside this crate.
    pub trait Sealed {
        /// The toggle's position in the registry, set once when the registry is built.
        fn set_id(&self, id: u32);
        /// Recomputes the cached state from `compiled` (`None`: compiled defaults).
        fn rebuild(&self, compiled: Option<&Compiled>);
        /// Active test overrides of this toggle, on any thread.
        fn override_count(&self) -> &AtomicU32;
        /// Whether `value` is a valid value for this toggle; only settings have values.
        fn check_value(&self, value: &Json) -> Result<(), String> {
            let _ = value;
            Ok(())
        }
        /// A flag's answer for `ctx`; `None` for other kinds.
        fn flag_enabled(&self, ctx: &Context<'_>) -> Option<bool> {
            let _ = ctx;
            None
        }
        /// The type a test override of this toggle holds: `bool`, or `T` for `Setting<T>`.
        fn override_type(&self) -> std::any::TypeId;
        /// The address that keys this toggle's test overrides.
        fn key(&self) -> usize {
            std::ptr::from_ref(self).cast::<()>() as usize
        }
    }
}

pub(crate) use sealed::Sealed;

/// What the registry knows of any toggle, whatever its type. Implemented by [`Switch`],
/// [`Flag`] and [`Setting`]; not implementable outside this crate.
///
/// [`Switch`]: crate::Switch
/// [`Flag`]: crate::Flag
/// [`Setting`]: crate::Setting
pub trait Toggle: Sync + Sealed + 'static {
    /// The declared metadata.
    fn meta(&self) -> &Meta;
    /// Switch, flag or setting.
    fn kind(&self) -> Kind;
    /// The value type as written in Rust: `bool` for switches and flags, `T` for `Setting<T>`.
    fn value_type(&self) -> &'static str;
    /// The compiled default: the value when no store says otherwise.
    fn default_value(&self) -> Value;
}

/// One toggle's entry in the registry, submitted by the `#[toggle]` macro through `inventory`.
/// Not public API.
#[doc(hidden)]
pub struct Registration {
    pub(crate) toggle: &'static dyn Toggle,
}

impl Registration {
    #[doc(hidden)]
    pub const fn new(toggle: &'static dyn Toggle) -> Registration {
        Registration { toggle }
    }
}

inventory::collect!(Registration);

/// Marks "no registry id yet" in a static.
pub(crate) const NO_ID: u32 = u32::MAX;

/// The bound that makes a hand-written toggle constructor a compile error that names the fix.
///
/// A higher-ranked bound with no implementation is accepted where it is declared and fails
/// only where it is used, and `on_unimplemented` lets the failure speak.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "toggles are declared with `#[toggle(...)]`, not constructed by hand",
    label = "declare this toggle with `#[toggle(...)]`",
    note = "write `/// What it does.` and `#[toggle(namespace = \"...\", life = \"...\", ...)]` above `static NAME: Flag;` (or `Switch`, `Setting<T> = value`)"
)]
pub trait DeclaredWithToggleAttribute {}
