//! `Setting<T>`: a typed configuration value.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::cache::{Compiled, Entry};
use crate::toggle::{DeclaredWithToggleAttribute, Sealed, NO_ID};
use crate::{overrides, Kind, Meta, SettingValue, Toggle, Value};

/// A typed configuration value with a compiled default: config as code.
///
/// `T` is `bool`, an integer or float type, or `&'static str` (see [`SettingValue`]). The store
/// may set a value; [`get`](Setting::get) returns it, or the compiled default.
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
    /// The store's value; `None` for the default.
    value: ArcSwapOption<T>,
    id: AtomicU32,
    overrides: AtomicU32,
}

impl<T: SettingValue> Setting<T> {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: T) -> Setting<T> {
        Setting {
            meta,
            default,
            value: ArcSwapOption::const_empty(),
            id: AtomicU32::new(NO_ID),
            overrides: AtomicU32::new(0),
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

    /// The current value: a test override in scope, else the store's value, else the default.
    #[inline]
    pub fn get(&self) -> T {
        if self.overrides.load(Ordering::Relaxed) > 0 {
            if let Some(v) = overrides::lookup::<T>(self.key()) {
                return v;
            }
        }
        self.value
            .load()
            .as_deref()
            .copied()
            .unwrap_or(self.default)
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

impl<T: SettingValue> Sealed for Setting<T> {
    fn set_id(&self, id: u32) {
        self.id.store(id, Ordering::Relaxed);
    }

    fn rebuild(&self, compiled: Option<&Compiled>) {
        let value = match compiled.map(|c| c.entry(self.id.load(Ordering::Relaxed))) {
            Some(Entry::Setting(json)) => T::from_json(json).map(Arc::new),
            _ => None,
        };
        self.value.store(value);
    }

    fn override_count(&self) -> &AtomicU32 {
        &self.overrides
    }

    fn check_value(&self, value: &serde_json::Value) -> Result<(), String> {
        match T::from_json(value) {
            Some(_) => Ok(()),
            None => Err(format!("takes a `{}`, not `{value}`", T::TYPE_NAME)),
        }
    }

    fn override_type(&self) -> std::any::TypeId {
        std::any::TypeId::of::<T>()
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
            .field("value", &self.get())
            .finish_non_exhaustive()
    }
}
