//! `Flag`: on or off, targeted per user, group and site.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

use crate::declare::toggle::{sealed::Sealed, Cells, DeclaredWithToggleAttribute, NO_ID};
use crate::declare::{Kind, Meta, OutcomeCells, RunTimeCells, Toggle, UsageCell, Value, OFF, ON};

/// A toggle that is on or off per request: rolled out to a percentage of users, to listed users,
/// groups and sites, behind gates. Its rule comes from the store; see [`FlagRule`](crate::rules::FlagRule)
/// for the order the rule is applied in.
///
/// Declared with `#[toggle]`; off unless initialized with `= true`. When the answer does not
/// depend on the context (no rule, or a rule that is on or off for everyone), a check is one
/// relaxed atomic load and a compare with the generation the context pinned.
///
/// ```
/// use toggles::{toggle, Context, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// pub static NEW_GRADER: Flag;
///
/// let ctx = Context::new().with_user("42");
/// assert!(!NEW_GRADER.is_enabled(&ctx));
/// assert_eq!(NEW_GRADER.explain(&ctx).step, toggles::Step::Default);
/// ```
pub struct Flag {
    pub(crate) meta: Meta,
    pub(crate) default: bool,
    /// `generation << 2 | OFF/ON/EVAL/SLOW`: the state, and the generation it was computed for.
    pub(crate) state: AtomicU64,
    pub(crate) id: AtomicU32,
    pub(crate) overrides: AtomicU32,
    /// Outcomes recorded for the guard since its last tick.
    pub(crate) outcomes: OutcomeCells,
    /// Run times recorded for the guard since its last tick.
    pub(crate) run_times: RunTimeCells,
    /// Whether an [`Outcome`](crate::Outcome) times itself: the rule in force has a guard with
    /// a run-time limit.
    pub(crate) timed: AtomicBool,
    pub(crate) usage: UsageCell,
}

impl Flag {
    #[doc(hidden)]
    pub const fn __new(meta: Meta, default: bool) -> Flag {
        Flag {
            meta,
            default,
            state: AtomicU64::new(if default { ON as u64 } else { OFF as u64 }),
            id: AtomicU32::new(NO_ID),
            overrides: AtomicU32::new(0),
            outcomes: OutcomeCells::new(),
            usage: UsageCell::new(),
            run_times: RunTimeCells::new(),
            timed: AtomicBool::new(false),
        }
    }

    /// Not a constructor: toggles are declared with `#[toggle]`. This exists so that writing
    /// `Flag::new()` is an error that says so.
    #[doc(hidden)]
    pub const fn new() -> Flag
    where
        for<'a> &'a Flag: DeclaredWithToggleAttribute,
    {
        unreachable!()
    }

    /// The declared metadata.
    pub const fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The compiled default.
    pub const fn default_value(&self) -> bool {
        self.default
    }
}

impl Sealed for Flag {
    fn cells(&self) -> Cells<'_> {
        Cells::Flag(self)
    }
}

impl Toggle for Flag {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Flag
    }
    fn value_type(&self) -> &'static str {
        "bool"
    }
    fn default_value(&self) -> Value {
        Value::Bool(self.default)
    }
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flag")
            .field("full_name", &self.meta.full_name())
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}
