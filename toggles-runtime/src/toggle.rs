//! What every toggle type shares, and how a toggle enters the registry.

use crate::{Kind, Meta, Value};

mod sealed {
    pub trait Sealed {}
}

/// What the registry knows of any toggle, whatever its type. Implemented by [`Switch`],
/// [`Flag`] and [`Setting`]; not implementable outside this crate.
///
/// [`Switch`]: crate::Switch
/// [`Flag`]: crate::Flag
/// [`Setting`]: crate::Setting
pub trait Toggle: Sync + sealed::Sealed + 'static {
    /// The declared metadata.
    fn meta(&self) -> &Meta;
    /// Switch, flag or setting.
    fn kind(&self) -> Kind;
    /// The value type as written in Rust: `bool` for switches and flags, `T` for `Setting<T>`.
    fn value_type(&self) -> &'static str;
    /// The compiled default: the value when no store says otherwise.
    fn default_value(&self) -> Value;
}

pub(crate) use sealed::Sealed;

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
