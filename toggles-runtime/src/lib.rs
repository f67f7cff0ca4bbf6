//! The runtime of [`toggles`](https://docs.rs/toggles): the toggle types and their cached
//! state, flag rules and their evaluation, percentage bucketing, stores with an audit log, the
//! registry of every toggle in the binary, and test support.
//!
//! Use it through the `toggles` crate, which adds the `#[toggle]` attribute that declares
//! toggles; the types here are built only by that attribute.

pub mod bucket;
mod cache;
mod context;
mod date;
mod explain;
mod file_store;
mod flag;
mod install;
mod memory_store;
mod meta;
mod overrides;
mod registry;
mod rule;
mod setting;
mod snapshot;
pub mod store;
mod switch;
pub mod testing;
mod time;
mod toggle;
mod value;

pub use crate::context::Context;
pub use crate::date::{Date, DateError};
pub use crate::explain::{Explanation, Step};
pub use crate::file_store::FileStore;
pub use crate::flag::Flag;
pub use crate::install::{audit_log, install, reload, status, write, Status};
pub use crate::memory_store::MemoryStore;
pub use crate::meta::{Life, Meta, Source, UseCase};
pub use crate::registry::{registry, Duplicate, Live, LiveSource, Registry, Report, ToggleInfo};
pub use crate::rule::{FlagRule, GroupTargets, Targets};
pub use crate::setting::Setting;
pub use crate::snapshot::{Change, Invalid, Problem, Snapshot};
pub use crate::store::{AuditEntry, Store, StoreError, WriteError};
pub use crate::switch::Switch;
pub use crate::time::{Timestamp, TimestampError};
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
