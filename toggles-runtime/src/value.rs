//! The kinds of toggle and the values a setting may hold.

use std::fmt;

/// Which of the three toggle types a toggle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A [`Switch`](crate::Switch): on or off for everyone.
    Switch,
    /// A [`Flag`](crate::Flag): on or off, targeted per user, group or site.
    Flag,
    /// A [`Setting`](crate::Setting): a typed configuration value.
    Setting,
}

impl Kind {
    /// `"switch"`, `"flag"` or `"setting"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Switch => "switch",
            Kind::Flag => "flag",
            Kind::Setting => "setting",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A toggle's value, whatever its type: what the registry reports as a default or current value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A switch's or flag's state, or a `Setting<bool>`.
    Bool(bool),
    /// A signed integer setting.
    Int(i64),
    /// An unsigned integer setting.
    UInt(u64),
    /// A floating-point setting.
    Float(f64),
    /// A `Setting<&'static str>`.
    Str(&'static str),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v:?}"),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Bool(v) => serializer.serialize_bool(v),
            Value::Int(v) => serializer.serialize_i64(v),
            Value::UInt(v) => serializer.serialize_u64(v),
            Value::Float(v) => serializer.serialize_f64(v),
            Value::Str(v) => serializer.serialize_str(v),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A type a [`Setting`](crate::Setting) can hold: `bool`, an integer or float type, or
/// `&'static str`.
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
    /// The value a store holds as JSON, if it is of this type.
    fn from_json(json: &serde_json::Value) -> Option<Self>;
}

macro_rules! setting_value {
    ($($ty:ty => $variant:ident as $as:ty, $zero:expr, $from:expr;)*) => {$(
        impl sealed::Sealed for $ty {}
        impl SettingValue for $ty {
            const TYPE_NAME: &'static str = stringify!($ty);
            const PLACEHOLDER: Self = $zero;
            #[allow(clippy::cast_lossless, trivial_numeric_casts, clippy::cast_possible_wrap)]
            fn to_value(self) -> Value {
                Value::$variant(self as $as)
            }
            #[allow(clippy::redundant_closure_call, clippy::cast_possible_truncation)]
            fn from_json(json: &serde_json::Value) -> Option<Self> {
                ($from)(json)
            }
        }
    )*};
}

setting_value! {
    u8 => UInt as u64, 0, |j: &serde_json::Value| j.as_u64().and_then(|v| v.try_into().ok());
    u16 => UInt as u64, 0, |j: &serde_json::Value| j.as_u64().and_then(|v| v.try_into().ok());
    u32 => UInt as u64, 0, |j: &serde_json::Value| j.as_u64().and_then(|v| v.try_into().ok());
    u64 => UInt as u64, 0, |j: &serde_json::Value| j.as_u64();
    usize => UInt as u64, 0, |j: &serde_json::Value| j.as_u64().and_then(|v| v.try_into().ok());
    i8 => Int as i64, 0, |j: &serde_json::Value| j.as_i64().and_then(|v| v.try_into().ok());
    i16 => Int as i64, 0, |j: &serde_json::Value| j.as_i64().and_then(|v| v.try_into().ok());
    i32 => Int as i64, 0, |j: &serde_json::Value| j.as_i64().and_then(|v| v.try_into().ok());
    i64 => Int as i64, 0, |j: &serde_json::Value| j.as_i64();
    isize => Int as i64, 0, |j: &serde_json::Value| j.as_i64().and_then(|v| v.try_into().ok());
    // A JSON number is an f64; an f32 setting takes the nearest f32 of a finite one.
    f32 => Float as f64, 0.0, |j: &serde_json::Value| j.as_f64().filter(|v| v.is_finite()).map(|v| v as f32);
    f64 => Float as f64, 0.0, |j: &serde_json::Value| j.as_f64();
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
}

impl sealed::Sealed for &'static str {}
impl SettingValue for &'static str {
    const TYPE_NAME: &'static str = "&'static str";
    const PLACEHOLDER: Self = "";
    fn to_value(self) -> Value {
        Value::Str(self)
    }
    fn from_json(json: &serde_json::Value) -> Option<Self> {
        json.as_str().map(intern)
    }
}

/// A `'static` copy of `s`, made once per distinct string: a `Setting<&'static str>` hands out
/// `&'static str`, and values come from the store at run time. What leaks is bounded by the
/// distinct values the store ever held.
fn intern(s: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, PoisonError};

    static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut set = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(existing) = set.get(s) {
        return existing;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}
