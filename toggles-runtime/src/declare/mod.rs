//! Layer 1, declarations: the toggle types, their metadata, the cells their cached state lives
//! in, and the registry of every toggle in the binary. Nothing here knows of rules, stores or
//! the state in force; the `state` layer fills the cells and gives the types their read API.

mod adopted;
mod cached;
mod flag;
mod kind;
mod meta;
mod outcomes;
mod registry;
mod run_times;
mod setting;
mod setting_value;
mod switch;
mod timings;
mod toggle;
mod usage;
mod variant;

pub use self::adopted::{adopt, AdoptError, Adoption};
pub(crate) use self::cached::{published, set_published, EVAL, OFF, ON, SLOW, STORED};
pub use self::flag::Flag;
pub use self::kind::{Kind, Value};
#[cfg(test)]
pub(crate) use self::meta::test_meta;
pub use self::meta::{Life, Meta, MetaParts, Source};
pub use self::outcomes::{ArmOutcome, Counts, Outcome};
pub(crate) use self::outcomes::{ArmOutcomes, OutcomeCells};
pub use self::registry::{registry, Duplicate, Registry, ToggleInfo};
pub(crate) use self::run_times::{RunTimeCells, RunTimes, Runs};
pub use self::setting::Setting;
pub(crate) use self::setting_value::sealed::Refusal;
pub use self::setting_value::SettingValue;
pub(crate) use self::setting_value::{checker, STRING_ROOM};
pub use self::timings::Timings;

/// A setting's JSON as its type's word, or why it is not a value of the type.
pub(crate) type Decode = fn(&serde_json::Value) -> Result<u64, Refusal>;
pub use self::switch::Switch;
pub(crate) use self::toggle::{key, Cells};
pub use self::toggle::{Registration, Toggle};
pub(crate) use self::usage::{UsageCell, NOTE, NOTE_WORD, USED};
pub(crate) use self::variant::ARM_SHIFT;
pub use self::variant::{Variant, Variants};
