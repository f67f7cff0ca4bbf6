//! The kinds of toggle, and a toggle's value whatever its type.

use std::fmt;

/// Which of the toggle types a toggle is.
///
/// A toggle declared by a newer version of toggles, of a kind this version does not know, is
/// [`Kind::Unknown`] in the declarations it published: reported, never written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// A [`Switch`](crate::Switch): on or off for everyone.
    Switch,
    /// A [`Flag`](crate::Flag): on or off, targeted per user, group or site.
    Flag,
    /// A [`Variant`](crate::Variant): one arm of an enum per context, for experiments.
    Variant,
    /// A [`Setting`](crate::Setting): a typed configuration value.
    Setting,
    /// A kind a newer version of toggles declared, read from its published declarations: this
    /// version reports the toggle but refuses writes to it.
    #[serde(other)]
    Unknown,
}

impl Kind {
    /// `"switch"`, `"flag"`, `"variant"` or `"setting"` (`"unknown"` for a newer version's kind).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Switch => "switch",
            Kind::Flag => "flag",
            Kind::Variant => "variant",
            Kind::Setting => "setting",
            Kind::Unknown => "unknown",
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
