//! The types a `Setting<T>` may hold, and how each fits in the one word a setting caches.

use crate::declare::Value;

mod sealed {
    pub trait Sealed {}
}

/// A type a [`Setting`](crate::Setting) can hold: `bool`, an integer or float type, or
/// `&'static str`.
///
/// Every such value fits in one 64-bit word, so [`Setting::get`](crate::Setting::get) reads it
/// with one atomic load.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the value of a `Setting`",
    label = "not a setting value type",
    note = "a `Setting<T>` holds `bool`, an integer type (`u8` to `u64`, `i8` to `i64`, `usize`, `isize`), `f32`, `f64` or `&'static str`"
)]
pub trait SettingValue: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The type as written in Rust: `"u64"`.
    const TYPE_NAME: &'static str;
    /// Stands in for the value of a declaration the macro rejected, so the error does not cascade.
    #[doc(hidden)]
    const PLACEHOLDER: Self;
    /// The value as a [`Value`].
    fn to_value(self) -> Value;
    /// The value a store holds as JSON, if it is a value of this type: a number out of the
    /// type's range (`300` for a `u8`, `1e300` for an `f32`) is not.
    fn from_json(json: &serde_json::Value) -> Option<Self>;
    #[doc(hidden)]
    fn to_bits(self) -> u64;
    /// The value `to_bits` encoded.
    #[doc(hidden)]
    fn from_bits(bits: u64) -> Self;
}

macro_rules! integer {
    ($($ty:ty => $variant:ident as $wide:ty, $json:ident;)*) => {$(
        impl sealed::Sealed for $ty {}
        impl SettingValue for $ty {
            const TYPE_NAME: &'static str = stringify!($ty);
            const PLACEHOLDER: Self = 0;
            #[allow(clippy::cast_lossless, trivial_numeric_casts, clippy::cast_possible_wrap)]
            fn to_value(self) -> Value {
                Value::$variant(self as $wide)
            }
            fn from_json(json: &serde_json::Value) -> Option<Self> {
                json.$json().and_then(|v| v.try_into().ok())
            }
            // The bits round-trip through the same width: sign extension and truncation cancel.
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::cast_lossless, trivial_numeric_casts)]
            fn to_bits(self) -> u64 {
                self as $wide as u64
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap, clippy::cast_sign_loss, trivial_numeric_casts)]
            fn from_bits(bits: u64) -> Self {
                bits as $wide as $ty
            }
        }
    )*};
}

integer! {
    u8 => UInt as u64, as_u64;
    u16 => UInt as u64, as_u64;
    u32 => UInt as u64, as_u64;
    u64 => UInt as u64, as_u64;
    usize => UInt as u64, as_u64;
    i8 => Int as i64, as_i64;
    i16 => Int as i64, as_i64;
    i32 => Int as i64, as_i64;
    i64 => Int as i64, as_i64;
    isize => Int as i64, as_i64;
}

impl sealed::Sealed for f32 {}
impl SettingValue for f32 {
    const TYPE_NAME: &'static str = "f32";
    const PLACEHOLDER: Self = 0.0;
    fn to_value(self) -> Value {
        Value::Float(f64::from(self))
    }
    fn from_json(json: &serde_json::Value) -> Option<Self> {
        // The nearest f32 of a JSON number; one too large for an f32 would become infinity.
        #[allow(clippy::cast_possible_truncation)]
        json.as_f64().map(|v| v as f32).filter(|v| v.is_finite())
    }
    fn to_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
    #[allow(clippy::cast_possible_truncation)]
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

impl sealed::Sealed for f64 {}
impl SettingValue for f64 {
    const TYPE_NAME: &'static str = "f64";
    const PLACEHOLDER: Self = 0.0;
    fn to_value(self) -> Value {
        Value::Float(self)
    }
    fn from_json(json: &serde_json::Value) -> Option<Self> {
        json.as_f64().filter(|v| v.is_finite())
    }
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl sealed::Sealed for bool {}
impl SettingValue for bool {
    const TYPE_NAME: &'static str = "bool";
    const PLACEHOLDER: Self = false;
    fn to_value(self) -> Value {
        Value::Bool(self)
    }
    fn from_json(json: &serde_json::Value) -> Option<Self> {
        json.as_bool()
    }
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}

impl sealed::Sealed for &'static str {}
impl SettingValue for &'static str {
    const TYPE_NAME: &'static str = "&'static str";
    const PLACEHOLDER: Self = "";
    fn to_value(self) -> Value {
        Value::Str(self)
    }
    fn from_json(json: &serde_json::Value) -> Option<Self> {
        json.as_str().map(|s| *intern(s))
    }
    /// The address of the interned string's `&'static str`.
    fn to_bits(self) -> u64 {
        std::ptr::from_ref(intern(self)) as usize as u64
    }
    // The word holds an address, so it fits a pointer on any target.
    #[allow(clippy::cast_possible_truncation)]
    fn from_bits(bits: u64) -> Self {
        let cell = bits as usize as *const &'static str;
        // Safety: a setting's bits are only ever written with `to_bits` of its own type, and
        // for `&'static str` that is the address of an interned `&'static str`, which is never
        // freed.
        unsafe { *cell }
    }
}

/// A setting's JSON as its word, if it is a value of the setting's type.
pub(crate) type Decode = fn(&serde_json::Value) -> Option<u64>;

/// How a setting of the type named `type_name` (its `TYPE_NAME`) turns JSON into its word, for
/// settings known only by their published declaration.
pub(crate) fn decoder(type_name: &str) -> Option<Decode> {
    fn decode<T: SettingValue>(json: &serde_json::Value) -> Option<u64> {
        T::from_json(json).map(T::to_bits)
    }
    let decoders: [(&str, Decode); 14] = [
        (u8::TYPE_NAME, decode::<u8>),
        (u16::TYPE_NAME, decode::<u16>),
        (u32::TYPE_NAME, decode::<u32>),
        (u64::TYPE_NAME, decode::<u64>),
        (usize::TYPE_NAME, decode::<usize>),
        (i8::TYPE_NAME, decode::<i8>),
        (i16::TYPE_NAME, decode::<i16>),
        (i32::TYPE_NAME, decode::<i32>),
        (i64::TYPE_NAME, decode::<i64>),
        (isize::TYPE_NAME, decode::<isize>),
        (f32::TYPE_NAME, decode::<f32>),
        (f64::TYPE_NAME, decode::<f64>),
        (bool::TYPE_NAME, decode::<bool>),
        (<&str>::TYPE_NAME, decode::<&'static str>),
    ];
    decoders
        .into_iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, decode)| decode)
}

/// A `'static` copy of `s`, made once per distinct string: a `Setting<&'static str>` hands out
/// `&'static str`, and values come from the store at run time. What leaks is bounded by the
/// distinct strings the store ever offered.
fn intern(s: &str) -> &'static &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};

    static INTERNED: Mutex<Option<HashMap<&'static str, &'static &'static str>>> = Mutex::new(None);
    let mut map = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let map = map.get_or_insert_with(HashMap::new);
    if let Some(existing) = map.get(s) {
        return existing;
    }
    let text: &'static str = Box::leak(s.to_owned().into_boxed_str());
    let cell: &'static &'static str = Box::leak(Box::new(text));
    map.insert(text, cell);
    cell
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: SettingValue + PartialEq + std::fmt::Debug>(values: &[T]) {
        for &v in values {
            assert_eq!(T::from_bits(v.to_bits()), v);
        }
    }

    #[test]
    fn every_value_survives_its_word() {
        round_trip(&[i8::MIN, -1, 0, i8::MAX]);
        round_trip(&[i64::MIN, -1, i64::MAX]);
        round_trip(&[u64::MAX, 0]);
        round_trip(&[f32::MIN_POSITIVE, -0.5, f32::MAX]);
        round_trip(&[f64::MAX, -1e-300]);
        round_trip(&[true, false]);
        round_trip(&["", "hello", "hello"]);
    }

    #[test]
    fn values_out_of_the_types_range_are_refused() {
        assert_eq!(f32::from_json(&json!(1e300)), None);
        assert_eq!(f32::from_json(&json!(1.5)), Some(1.5));
        assert_eq!(u8::from_json(&json!(256)), None);
        assert_eq!(i8::from_json(&json!(-129)), None);
        assert_eq!(u64::from_json(&json!(-1)), None);
        assert_eq!(i64::from_json(&json!(1.5)), None);
        assert_eq!(bool::from_json(&json!(1)), None);
    }
}
