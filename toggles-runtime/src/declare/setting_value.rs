//! The types a `Setting<T>` may hold, and how each fits in the one word a setting caches.

use crate::declare::Value;

/// What the runtime needs of a setting's value type, out of reach of every other crate: no one
/// outside can implement it, name it or call its methods (tokio's `sealed::ToSocketAddrsPriv`),
/// so a word is only ever turned back into a value of the type that made it.
pub(crate) mod sealed {
    /// Why a store's JSON is not a value a setting can take.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Refusal {
        /// Not a value of the type.
        Type,
        /// A `&'static str` this process has no room left to keep (see `intern`).
        Full,
    }

    pub trait Sealed: Sized {
        /// Stands in for the value of a declaration the macro rejected, so the error does not
        /// cascade.
        const PLACEHOLDER: Self;
        /// The value a store holds as JSON, as the setting's word, if it is a value of this
        /// type: a number out of the type's range (`300` for a `u8`, `1e300` for an `f32`) is
        /// not.
        fn decode(json: &serde_json::Value) -> Result<u64, Refusal>;
        /// Whether `decode` would take `json`, without keeping anything: for writes checked
        /// against a fleet's declarations, whose compiled state is never read.
        fn check(json: &serde_json::Value) -> Result<(), Refusal> {
            Self::decode(json).map(drop)
        }
        /// The word of a value.
        fn to_bits(self) -> u64;
        /// The value `to_bits` or `decode` made this word from.
        fn from_bits(bits: u64) -> Self;
    }
}

use self::sealed::{Refusal, Sealed};

/// A type a [`Setting`](crate::Setting) can hold: `bool`, an integer or float type, or
/// `&'static str`. Implemented for those types only; no other crate can implement it.
///
/// Every such value fits in one 64-bit word, so [`Setting::get`](crate::Setting::get) reads it
/// with one atomic load.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the value of a `Setting`",
    label = "not a setting value type",
    note = "a `Setting<T>` holds `bool`, an integer type (`u8` to `u64`, `i8` to `i64`, `usize`, `isize`), `f32`, `f64` or `&'static str`"
)]
pub trait SettingValue: Copy + Send + Sync + 'static + Sealed {
    /// The type as written in Rust: `"u64"`.
    const TYPE_NAME: &'static str;
    /// The value as a [`Value`].
    fn to_value(self) -> Value;
}

macro_rules! integer {
    ($($ty:ty => $variant:ident as $wide:ty, $json:ident;)*) => {$(
        impl SettingValue for $ty {
            const TYPE_NAME: &'static str = stringify!($ty);
            #[allow(clippy::cast_lossless, trivial_numeric_casts, clippy::cast_possible_wrap)]
            fn to_value(self) -> Value {
                Value::$variant(self as $wide)
            }
        }
        impl Sealed for $ty {
            const PLACEHOLDER: Self = 0;
            fn decode(json: &serde_json::Value) -> Result<u64, Refusal> {
                json.$json()
                    .and_then(|v| <$ty>::try_from(v).ok())
                    .map(Self::to_bits)
                    .ok_or(Refusal::Type)
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

impl SettingValue for f32 {
    const TYPE_NAME: &'static str = "f32";
    fn to_value(self) -> Value {
        Value::Float(f64::from(self))
    }
}

impl Sealed for f32 {
    const PLACEHOLDER: Self = 0.0;
    fn decode(json: &serde_json::Value) -> Result<u64, Refusal> {
        // The nearest f32 of a JSON number; one too large for an f32 would become infinity.
        #[allow(clippy::cast_possible_truncation)]
        json.as_f64()
            .map(|v| v as f32)
            .filter(|v| v.is_finite())
            .map(<f32 as Sealed>::to_bits)
            .ok_or(Refusal::Type)
    }
    fn to_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
    #[allow(clippy::cast_possible_truncation)]
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

impl SettingValue for f64 {
    const TYPE_NAME: &'static str = "f64";
    fn to_value(self) -> Value {
        Value::Float(self)
    }
}

impl Sealed for f64 {
    const PLACEHOLDER: Self = 0.0;
    fn decode(json: &serde_json::Value) -> Result<u64, Refusal> {
        json.as_f64()
            .filter(|v| v.is_finite())
            .map(f64::to_bits)
            .ok_or(Refusal::Type)
    }
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl SettingValue for bool {
    const TYPE_NAME: &'static str = "bool";
    fn to_value(self) -> Value {
        Value::Bool(self)
    }
}

impl Sealed for bool {
    const PLACEHOLDER: Self = false;
    fn decode(json: &serde_json::Value) -> Result<u64, Refusal> {
        json.as_bool().map(u64::from).ok_or(Refusal::Type)
    }
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
}

impl SettingValue for &'static str {
    const TYPE_NAME: &'static str = "&'static str";
    fn to_value(self) -> Value {
        Value::Str(self)
    }
}

impl Sealed for &'static str {
    const PLACEHOLDER: Self = "";
    fn decode(json: &serde_json::Value) -> Result<u64, Refusal> {
        let text = json.as_str().ok_or(Refusal::Type)?;
        intern::intern(text).map(cell_address).ok_or(Refusal::Full)
    }
    fn check(json: &serde_json::Value) -> Result<(), Refusal> {
        json.as_str().map(drop).ok_or(Refusal::Type)
    }
    /// The address of the interned string's `&'static str`.
    fn to_bits(self) -> u64 {
        // Words of strings come from `decode`, which refuses a string past the room; a word
        // made from a value (a round-trip test's) is held to the same room.
        cell_address(intern::intern(self).expect("a string within the room for settings' strings"))
    }
    // The word holds an address, so it fits a pointer on any target.
    #[allow(clippy::cast_possible_truncation)]
    fn from_bits(bits: u64) -> Self {
        let cell = bits as usize as *const &'static str;
        // Safety: `from_bits` is reachable only inside this crate (the trait is sealed), and
        // this crate only ever passes it the word of a `Setting<&'static str>`, which only
        // `to_bits` or `decode` of this type writes: the address of a `&'static str` that
        // `intern` leaked, which is never freed.
        #[allow(unsafe_code)]
        unsafe {
            *cell
        }
    }
}

fn cell_address(cell: &'static &'static str) -> u64 {
    std::ptr::from_ref(cell) as usize as u64
}

/// Checks a setting's JSON, by the name of the setting's type (its `TYPE_NAME`).
pub(crate) type Check = fn(&serde_json::Value) -> Result<(), Refusal>;

/// How a setting of the type named `type_name` (its `TYPE_NAME`) checks JSON, for settings known
/// only by their published declaration.
pub(crate) fn checker(type_name: &str) -> Option<Check> {
    let checkers: [(&str, Check); 14] = [
        (u8::TYPE_NAME, <u8>::check),
        (u16::TYPE_NAME, <u16>::check),
        (u32::TYPE_NAME, <u32>::check),
        (u64::TYPE_NAME, <u64>::check),
        (usize::TYPE_NAME, <usize>::check),
        (i8::TYPE_NAME, <i8>::check),
        (i16::TYPE_NAME, <i16>::check),
        (i32::TYPE_NAME, <i32>::check),
        (i64::TYPE_NAME, <i64>::check),
        (isize::TYPE_NAME, <isize>::check),
        (f32::TYPE_NAME, <f32>::check),
        (f64::TYPE_NAME, <f64>::check),
        (bool::TYPE_NAME, <bool>::check),
        (<&str>::TYPE_NAME, <&'static str>::check),
    ];
    checkers
        .into_iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, check)| check)
}

/// How many bytes of distinct strings a process keeps for its `&'static str` settings.
pub(crate) const STRING_ROOM: usize = intern::ROOM;

mod intern {
    //! The `'static` copies of the strings `Setting<&'static str>`s hand out.
    //!
    //! A setting hands out `&'static str`, and values come from the store at run time, so each
    //! distinct value a store gives is copied once and never freed. What a process keeps is
    //! bounded: a value past `ROOM` (counting every distinct string kept so far) is refused like
    //! a value of the wrong type — a write is refused, an entry loaded is set aside and its
    //! toggle keeps its last good value — so no writer, however busy, can grow the process
    //! without limit. Only values a state took in are kept: a refused write keeps nothing.

    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};

    /// The most bytes of distinct strings a process keeps for its settings: far more than any
    /// configuration needs, far less than a process notices.
    pub(crate) const ROOM: usize = 1 << 20;

    struct Kept {
        cells: HashMap<&'static str, &'static &'static str>,
        bytes: usize,
    }

    static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

    fn with<R>(f: impl FnOnce(&mut Kept) -> R) -> R {
        let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
        f(kept.get_or_insert_with(|| Kept {
            cells: HashMap::new(),
            bytes: 0,
        }))
    }

    fn keep(kept: &mut Kept, s: &str) -> &'static &'static str {
        let text: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let cell: &'static &'static str = Box::leak(Box::new(text));
        kept.cells.insert(text, cell);
        kept.bytes += s.len().max(1);
        cell
    }

    /// The kept copy of `s`, made if there is room for it.
    pub(crate) fn intern(s: &str) -> Option<&'static &'static str> {
        with(|kept| match kept.cells.get(s) {
            Some(cell) => Some(*cell),
            None if kept.bytes + s.len().max(1) <= ROOM => Some(keep(kept, s)),
            None => None,
        })
    }
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
        let word = <&str>::decode(&json!("from a store")).unwrap();
        assert_eq!(<&str>::from_bits(word), "from a store");
    }

    #[test]
    fn values_out_of_the_types_range_are_refused() {
        let decoded = |v| f32::decode(&v).map(<f32 as Sealed>::from_bits);
        assert_eq!(decoded(json!(1e300)), Err(Refusal::Type));
        assert_eq!(decoded(json!(1.5)), Ok(1.5));
        assert_eq!(u8::decode(&json!(256)), Err(Refusal::Type));
        assert_eq!(i8::decode(&json!(-129)), Err(Refusal::Type));
        assert_eq!(u64::decode(&json!(-1)), Err(Refusal::Type));
        assert_eq!(i64::decode(&json!(1.5)), Err(Refusal::Type));
        assert_eq!(bool::decode(&json!(1)), Err(Refusal::Type));
        assert_eq!(<&str>::check(&json!(1)), Err(Refusal::Type));
    }
}
