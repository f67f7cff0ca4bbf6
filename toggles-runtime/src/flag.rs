//! `Flag`: on or off, targeted per user, group and site.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::cache::{Compiled, Entry, EVAL, OFF, ON, SLOW};
use crate::rule::{Constant, Decided};
use crate::toggle::{DeclaredWithToggleAttribute, Sealed, NO_ID};
use crate::{overrides, registry, Context, Explanation, Kind, Meta, Step, Toggle, Value};

/// A toggle that is on or off per request: rolled out to a percentage of users, to listed users,
/// groups and sites, behind gates. Its rule comes from the store; see [`FlagRule`](crate::FlagRule)
/// for the order the rule is applied in.
///
/// Declared with `#[toggle]`; off unless initialized with `= true`. When the answer does not
/// depend on the context (no rule, or a rule that is on or off for everyone), a check is one
/// relaxed atomic load and a compare.
///
/// ```
/// use toggles::{toggle, Context, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// pub static NEW_GRADER: Flag;
///
/// let ctx = Context::new().user("42");
/// assert!(!NEW_GRADER.is_enabled(&ctx));
/// assert_eq!(NEW_GRADER.explain(&ctx).step, toggles::Step::Default);
/// ```
pub struct Flag {
    meta: Meta,
    default: bool,
    /// `generation << 2 | OFF/ON/EVAL/SLOW`; see the `cache` module.
    state: AtomicU64,
    id: AtomicU32,
    overrides: AtomicU32,
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

    /// Whether the flag is on for this context.
    #[inline]
    pub fn is_enabled(&self, ctx: &Context<'_>) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if state >> 2 == ctx.generation() {
            match (state & 3) as u8 {
                ON => return true,
                OFF => return false,
                _ => {}
            }
        }
        self.resolve(ctx)
    }

    #[cold]
    #[inline(never)]
    fn resolve(&self, ctx: &Context<'_>) -> bool {
        self.decide(ctx).0
    }

    /// The answer for this context and the step of the rule that decided it.
    ///
    /// ```
    /// use toggles::{toggle, Context, Flag, Step};
    ///
    /// /// Show the new course outline.
    /// #[toggle(namespace = "courseware", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_OUTLINE: Flag = true;
    ///
    /// let why = NEW_OUTLINE.explain(&Context::new());
    /// assert!(why.enabled);
    /// assert_eq!(why.step, Step::Default);
    /// ```
    pub fn explain(&self, ctx: &Context<'_>) -> Explanation {
        let (enabled, decided) = self.decide(ctx);
        let step = match decided {
            None => Step::TestOverride,
            Some((rule, d)) => match d {
                Decided::Inactive => Step::Inactive,
                Decided::Window => Step::OutsideWindow,
                Decided::Environment => Step::Environment,
                Decided::Requires(i) => Step::Requires {
                    flag: rule
                        .map(|r| r.required_name(i).to_owned())
                        .unwrap_or_default(),
                },
                Decided::Constraint(i) => Step::Constraint {
                    attribute: rule
                        .map(|r| r.constraint_attribute(i).to_owned())
                        .unwrap_or_default(),
                },
                Decided::Site => Step::Site,
                Decided::User => Step::User,
                Decided::Group(i) => Step::Group {
                    kind: rule.map(|r| r.group_kind(i).to_owned()).unwrap_or_default(),
                },
                Decided::Everyone => Step::Everyone,
                Decided::Percent {
                    bucket,
                    basis_points,
                } => Step::Percent {
                    bucket,
                    basis_points,
                },
                Decided::Default => Step::Default,
            },
        };
        Explanation { enabled, step }
    }

    /// The full evaluation: `None` as the step when a test override decided.
    #[allow(clippy::type_complexity)]
    fn decide<'c>(
        &self,
        ctx: &'c Context<'_>,
    ) -> (
        bool,
        Option<(Option<&'c crate::rule::CompiledRule>, Decided)>,
    ) {
        if self.overrides.load(Ordering::Relaxed) > 0 {
            if let Some(on) = overrides::lookup::<bool>(self.key()) {
                return (on, None);
            }
        }
        let pinned = ctx.pinned();
        let Some(compiled) = pinned.compiled.as_deref() else {
            return (self.default, Some((None, Decided::Default)));
        };
        match compiled.entry(self.id.load(Ordering::Relaxed)) {
            Entry::Flag(rule) => {
                let required = |id: u32| {
                    registry()
                        .by_id(id)
                        .and_then(|t| t.toggle().flag_enabled(ctx))
                        .unwrap_or(false)
                };
                match rule.evaluate(ctx, pinned.now, &required) {
                    Some((on, d)) => (on, Some((Some(rule), d))),
                    None => (self.default, Some((Some(rule), Decided::Default))),
                }
            }
            _ => (self.default, Some((None, Decided::Default))),
        }
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
    fn set_id(&self, id: u32) {
        self.id.store(id, Ordering::Relaxed);
    }

    fn rebuild(&self, compiled: Option<&Compiled>) {
        let generation = compiled.map_or(0, |c| c.generation);
        let state = if self.overrides.load(Ordering::Relaxed) > 0 {
            SLOW
        } else {
            match compiled.map(|c| c.entry(self.id.load(Ordering::Relaxed))) {
                Some(Entry::Flag(rule)) => match rule.constant() {
                    Constant::Is(on) => u8::from(on),
                    Constant::CompiledDefault => u8::from(self.default),
                    Constant::Contextual => EVAL,
                },
                _ => u8::from(self.default),
            }
        };
        self.state
            .store(generation << 2 | u64::from(state), Ordering::Relaxed);
    }

    fn override_count(&self) -> &AtomicU32 {
        &self.overrides
    }

    fn flag_enabled(&self, ctx: &Context<'_>) -> Option<bool> {
        Some(self.is_enabled(ctx))
    }

    fn override_type(&self) -> std::any::TypeId {
        std::any::TypeId::of::<bool>()
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
