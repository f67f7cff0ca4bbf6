//! Layer 2, rules: the rule model a store holds for a flag, its pure evaluation, percentage
//! bucketing, the [`Context`] a flag is checked for, and the explanation of an answer. Nothing
//! here reads a global: evaluation takes the context and the compiled rule as arguments.

pub mod bucket;
mod compiled_rule;
mod compiled_variant;
mod context;
mod explain;
mod gates;
mod guard;
mod logarithm;
mod owned;
mod plan;
mod rule;
mod time;
mod variant_rule;
mod words;

pub(crate) use self::compiled_rule::{CompiledRule, Constant, Decided};
pub(crate) use self::compiled_variant::{CompiledVariant, MOST_ARMS};
pub use self::context::Context;
pub use self::explain::{Assignment, Explanation, Step};
pub(crate) use self::gates::RuleNames;
pub use self::guard::{Guard, Latency, Limit, Traffic, Trip};
pub use self::owned::{ContextError, OwnedContext};
pub(crate) use self::plan::in_units;
pub use self::plan::{Plan, PlanState, Stage, Steer};
pub use self::rule::{FlagRule, GroupTargets, Targets};
pub use self::time::{Timestamp, TimestampError};
pub use self::variant_rule::{GroupPins, VariantRule};
