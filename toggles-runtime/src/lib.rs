//! The runtime of [`toggles`](https://docs.rs/toggles): the toggle types, their metadata, the
//! registry of every toggle in the binary, and its reports.
//!
//! Use it through the `toggles` crate, which adds the `#[toggle]` attribute that declares
//! toggles; the types here are built only by that attribute.

pub mod bucket;
mod context;
mod date;
mod flag;
mod meta;
mod registry;
mod setting;
mod switch;
pub mod testing;
mod toggle;
mod value;

pub use crate::context::Context;
pub use crate::date::{Date, DateError};
pub use crate::flag::Flag;
pub use crate::meta::{Life, Meta, Source, UseCase};
pub use crate::registry::{registry, Duplicate, Registry, Report, ToggleInfo};
pub use crate::setting::Setting;
pub use crate::switch::Switch;
pub use crate::toggle::Toggle;
pub use crate::value::{Kind, SettingValue, Value};

// Not public API: what the `#[toggle]` macro's expansion names.
#[doc(hidden)]
pub mod __private {
    pub use crate::meta::MetaParts;
    pub use crate::toggle::Registration;
    pub use crate::{Date, Flag, Life, Meta, Setting, Source, Switch, UseCase};
    pub use core;
    pub use core::option::Option::{None, Some};
    pub use inventory;
}
