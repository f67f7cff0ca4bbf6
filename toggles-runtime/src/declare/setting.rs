//! `Setting<T>`: a typed configuration value.

use std::any::TypeId;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};

use crate::declare::toggle::{
    sealed::Sealed, Cells, DeclaredWithToggleAttribute, SettingCells, NO_ID,
};
use crate::declare::{Kind, Meta, SettingValue, Toggle, UsageCell, Value, OFF};

/// A typed configuration value with a compiled default: config as code.
///
/// `T` is `bool`, an integer or float type, or `&'static str` (see [`SettingValue`]). The store
/// may set a value; [`get`](Setting::get) returns it, or the compiled default, with one atomic
/// load.
///
/// ```
/// use toggles::{toggle, Setting};
///
/// /// Largest upload accepted, in bytes.
/// #[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
/// static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;
///
/// assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);
/// ```
pub struct Setting<T: SettingValue> {
    pub(crate) meta: Meta,
    pub(crate) default: T,
    /// `STORED` (the value is in `bits`), `OFF` (the compiled default) or `SLOW`.
    pub(crate) state: AtomicU8,
    /// The store's value, as `T::to_bits` wrote it.
    pub(crate) bits: AtomicU64,
    pub(crate) id: AtomicU32,
    pub(crate) overrides: AtomicU32,
    pub(crate) usage: UsageCell,
}

impl<T: SettingValue> Setting<T> {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: T) -> Setting<T> {
        Setting {
            meta,
            default,
            state: AtomicU8::new(OFF),
            bits: AtomicU64::new(0),
            id: AtomicU32::new(NO_ID),
            overrides: AtomicU32::new(0),
            usage: UsageCell::new(),
        }
    }

    #[doc(hidden)]
    pub const fn __placeholder(meta: Meta) -> Setting<T> {
        Setting::__new(meta, T::PLACEHOLDER)
    }

    /// Not a constructor: toggles are declared with `#[toggle]`. This exists so that writing
    /// `Setting::new(..)` is an error that says so.
    #[doc(hidden)]
    pub const fn new(default: T) -> Setting<T>
    where
        for<'a> &'a Setting<T>: DeclaredWithToggleAttribute,
    {
        let _ = default;
        unreachable!()
    }

    /// The declared metadata.
    pub const fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The compiled default.
    pub const fn default_value(&self) -> T {
        self.default
    }
}

fn value<T: SettingValue>(bits: u64) -> Value {
    T::from_bits(bits).to_value()
}

impl<T: SettingValue> Sealed for Setting<T> {
    fn cells(&self) -> Cells<'_> {
        Cells::Setting(SettingCells {
            state: &self.state,
            bits: &self.bits,
            id: &self.id,
            overrides: &self.overrides,
            usage: &self.usage,
            decode: T::decode,
            value: value::<T>,
            default: self.default.to_value(),
            value_type: TypeId::of::<T>(),
        })
    }
}

impl<T: SettingValue> Toggle for Setting<T> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Setting
    }
    fn value_type(&self) -> &'static str {
        T::TYPE_NAME
    }
    fn default_value(&self) -> Value {
        self.default.to_value()
    }
}

impl<T: SettingValue + fmt::Debug> fmt::Debug for Setting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setting")
            .field("full_name", &self.meta.full_name())
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}
