//! What every toggle type shares, and how a toggle enters the registry.

use std::any::TypeId;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};

use crate::declare::{Flag, Kind, Meta, Switch, UsageCell, Value};

pub(crate) mod sealed {
    /// The runtime's side of a toggle: not callable, nor implementable, outside this crate.
    pub trait Sealed {
        /// The cells the runtime keeps the toggle's cached state in.
        #[doc(hidden)]
        fn cells(&self) -> super::Cells<'_>;
    }
}

/// What the registry knows of any toggle, whatever its type. Implemented by [`Switch`],
/// [`Flag`], [`Variant`](crate::Variant) and [`Setting`](crate::Setting); not implementable
/// outside this crate.
pub trait Toggle: Sync + sealed::Sealed + 'static {
    /// The declared metadata.
    fn meta(&self) -> &Meta;
    /// Switch, flag, variant or setting.
    fn kind(&self) -> Kind;
    /// The value type as written in Rust: `bool` for switches and flags, `E` for `Variant<E>`,
    /// `T` for `Setting<T>`.
    fn value_type(&self) -> &'static str;
    /// The compiled default: the value when no store says otherwise (a variant's control, by
    /// name).
    fn default_value(&self) -> Value;
    /// A variant toggle's arms, by name in declaration order; empty for the other kinds.
    fn arms(&self) -> &'static [&'static str] {
        &[]
    }
}

/// A toggle's cells, by type.
// `pub` only because the sealed trait names it; its module keeps it out of reach.
#[allow(unreachable_pub, missing_debug_implementations)]
#[doc(hidden)]
pub enum Cells<'a> {
    Switch(&'a Switch),
    Flag(&'a Flag),
    Variant(VariantCells<'a>),
    Setting(SettingCells<'a>),
}

/// A `Variant<E>`'s cells, with what the runtime needs of `E` as plain data.
#[allow(unreachable_pub, missing_debug_implementations)]
#[doc(hidden)]
pub struct VariantCells<'a> {
    /// `generation << ARM_SHIFT | arm << 2 | OFF/ON/EVAL/SLOW`.
    pub(crate) state: &'a AtomicU64,
    pub(crate) id: &'a AtomicU32,
    pub(crate) overrides: &'a AtomicU32,
    pub(crate) usage: &'a UsageCell,
    /// The arms' names, in declaration order.
    pub(crate) arms: &'static [&'static str],
    /// The control's position among them.
    pub(crate) control: usize,
    pub(crate) value_type: TypeId,
    /// Outcomes recorded per arm, for the guard.
    pub(crate) outcomes: &'a crate::declare::outcomes::ArmOutcomeCells,
    /// Run times recorded per arm, for the guard.
    pub(crate) run_times: &'a crate::declare::RunTimeCells,
    /// Whether outcomes time themselves.
    pub(crate) timed: &'a std::sync::atomic::AtomicBool,
}

/// A `Setting<T>`'s cells, with what the runtime needs of `T` behind function pointers.
#[allow(unreachable_pub, missing_debug_implementations)]
#[doc(hidden)]
pub struct SettingCells<'a> {
    /// `STORED` (the value is in `bits`), or `OFF` (the compiled default), or `SLOW`.
    pub(crate) state: &'a AtomicU8,
    pub(crate) bits: &'a AtomicU64,
    pub(crate) id: &'a AtomicU32,
    pub(crate) overrides: &'a AtomicU32,
    pub(crate) usage: &'a UsageCell,
    /// The store's JSON as `T`'s word, if it is a value of `T`.
    pub(crate) decode: crate::declare::Decode,
    /// `T`'s word as a [`Value`](crate::Value).
    pub(crate) value: fn(u64) -> crate::declare::Value,
    /// The compiled default.
    pub(crate) default: crate::declare::Value,
    pub(crate) value_type: TypeId,
}

impl Cells<'_> {
    /// The toggle's position in the registry, set once when the registry is built.
    pub(crate) fn id(&self) -> &AtomicU32 {
        match self {
            Cells::Switch(s) => &s.id,
            Cells::Flag(f) => &f.id,
            Cells::Variant(v) => v.id,
            Cells::Setting(s) => s.id,
        }
    }

    /// Active test overrides of this toggle, in any scope.
    pub(crate) fn overrides(&self) -> &AtomicU32 {
        match self {
            Cells::Switch(s) => &s.overrides,
            Cells::Flag(f) => &f.overrides,
            Cells::Variant(v) => v.overrides,
            Cells::Setting(s) => s.overrides,
        }
    }

    /// The answers given since the heartbeat last asked.
    pub(crate) fn usage(&self) -> &UsageCell {
        match self {
            Cells::Switch(s) => &s.usage,
            Cells::Flag(f) => &f.usage,
            Cells::Variant(v) => v.usage,
            Cells::Setting(s) => s.usage,
        }
    }

    /// The type a test override of the toggle holds: `bool`, `E` for `Variant<E>`, or `T` for
    /// `Setting<T>`.
    pub(crate) fn value_type(&self) -> TypeId {
        match self {
            Cells::Switch(_) | Cells::Flag(_) => TypeId::of::<bool>(),
            Cells::Variant(v) => v.value_type,
            Cells::Setting(s) => s.value_type,
        }
    }
}

/// The address that keys a toggle's test overrides.
pub(crate) fn key(toggle: &dyn Toggle) -> usize {
    std::ptr::from_ref(toggle).cast::<()>() as usize
}

/// One toggle's entry in the registry, submitted by the `#[toggle]` macro through `inventory`.
/// Not public API.
#[doc(hidden)]
pub struct Registration {
    pub(crate) toggle: &'static dyn Toggle,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registration")
            .field(&self.toggle.meta().full_name())
            .finish()
    }
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
    note = "write `/// What it does.` and `#[toggle(namespace = \"...\", life = \"...\", ...)]` above `static NAME: Flag;` (or `Switch`, `Variant<E> = E::Control`, `Setting<T> = value`)"
)]
pub trait DeclaredWithToggleAttribute {}
