//! `Setting<T>`: a typed configuration value.

use std::fmt;

use crate::toggle::{DeclaredWithToggleAttribute, Sealed};
use crate::{Kind, Meta, SettingValue, Toggle, Value};

/// A typed configuration value with a compiled default: config as code.
///
/// `T` is `bool`, an integer or float type, or `&'static str` (see [`SettingValue`]).
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
    meta: Meta,
    default: T,
}

impl<T: SettingValue> Setting<T> {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: T) -> Setting<T> {
        Setting { meta, default }
    }

    #[doc(hidden)]
    pub const fn __placeholder(meta: Meta) -> Setting<T> {
        Setting {
            meta,
            default: T::PLACEHOLDER,
        }
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

    /// The current value.
    #[inline]
    pub fn get(&self) -> T {
        self.default
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

impl<T: SettingValue> Sealed for Setting<T> {}

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
            .field("value", &self.get())
            .finish_non_exhaustive()
    }
}
