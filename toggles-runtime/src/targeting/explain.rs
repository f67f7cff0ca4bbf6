//! Why a flag answered as it did, and why a variant toggle gave the arm it gave.

use std::fmt;

use crate::targeting::gates::RuleNames;
use crate::targeting::Decided;

/// A flag's answer for one context, and the step of its rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The answer.
    pub enabled: bool,
    /// What decided it.
    pub step: Step,
}

/// The step of a flag's or variant toggle's evaluation that decided its answer, in the order
/// they are tried (see [`FlagRule`](crate::rules::FlagRule) and
/// [`VariantRule`](crate::rules::VariantRule) for the orders).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// A test override in scope.
    TestOverride,
    /// The rule's `active` is false.
    Inactive,
    /// Now is outside the rule's `from`/`until` window.
    OutsideWindow,
    /// The context's environment is not one of the rule's `environments`.
    Environment,
    /// A flag the rule `requires` is off.
    Requires {
        /// The required flag's full name.
        flag: String,
    },
    /// The context's attribute is missing or not among the allowed values.
    Constraint {
        /// The constrained attribute.
        attribute: String,
    },
    /// The context's site is listed.
    Site,
    /// The context's user is listed.
    User,
    /// One of the context's groups of this kind is listed.
    Group {
        /// The group kind that matched.
        kind: String,
    },
    /// The rule sets `everyone`.
    Everyone,
    /// The percentage rollout: in when `bucket < basis_points`.
    Percent {
        /// The unit's bucket, 0 to 9,999; `None` for a 0% or 100% rollout, which needs none, and
        /// for a context without the unit (the user id, or the rule's `stickiness` attribute),
        /// which a partial rollout leaves out.
        bucket: Option<u16>,
        /// The rollout size in basis points.
        basis_points: u16,
        /// The context attribute the rollout buckets by; `None` for the user id.
        stickiness: Option<String>,
    },
    /// A variant toggle's experiment: a unit whose bucket is below the coverage is in it, and
    /// its arm was drawn by the weights; any other gets the control.
    Split {
        /// The unit's bucket, 0 to 9,999; `None` for a context without the unit (the user id,
        /// or the rule's `stickiness` attribute), which gets the control.
        bucket: Option<u16>,
        /// The share of units in the experiment, in basis points.
        coverage: u16,
        /// The context attribute units are drawn by; `None` for the user id.
        stickiness: Option<String>,
    },
    /// The arm a variant rule would give was dropped to the control (by its guard): the
    /// control.
    Dropped {
        /// The dropped arm.
        arm: String,
    },
    /// Nothing in the rule decided (or there is no rule): the compiled default.
    Default,
}

impl Step {
    /// The OpenFeature reason for an answer this step decided — the one mapping the OFREP
    /// endpoint and the OpenFeature provider share: `TARGETING_MATCH` (a site, user or group
    /// listed), `SPLIT` (the percentage rollout), `DISABLED` (a gate closed: inactive, outside
    /// the window, another environment, a required flag off, a constraint unmet), `DEFAULT` (the
    /// compiled default), `STATIC` (the rule's `everyone`, or a test's override: reasons come
    /// only from the specification's list).
    pub const fn openfeature_reason(&self) -> &'static str {
        match self {
            Step::Inactive
            | Step::OutsideWindow
            | Step::Environment
            | Step::Requires { .. }
            | Step::Constraint { .. }
            | Step::Dropped { .. } => "DISABLED",
            Step::Site | Step::User | Step::Group { .. } => "TARGETING_MATCH",
            Step::Percent { .. } | Step::Split { .. } => "SPLIT",
            Step::Default => "DEFAULT",
            // A test override fixes the value for every context: of the specification's
            // reasons, a static one.
            Step::Everyone | Step::TestOverride => "STATIC",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::TestOverride => f.write_str("a test override"),
            Step::Inactive => f.write_str("the rule is inactive"),
            Step::OutsideWindow => f.write_str("outside the activation window"),
            Step::Environment => f.write_str("not an allowed environment"),
            Step::Requires { flag } => write!(f, "required flag `{flag}` is off"),
            Step::Constraint { attribute } => write!(f, "`{attribute}` is not an allowed value"),
            Step::Site => f.write_str("the site is listed"),
            Step::User => f.write_str("the user is listed"),
            Step::Group { kind } => write!(f, "a {kind} group is listed"),
            Step::Everyone => f.write_str("`everyone` is set"),
            Step::Percent {
                bucket,
                basis_points,
                stickiness,
            } => {
                let size = f64::from(*basis_points) / 100.0;
                match bucket {
                    Some(b) => write!(
                        f,
                        "bucket {b} {} {basis_points} ({size}% rollout)",
                        if b < basis_points { "<" } else { ">=" }
                    ),
                    None if *basis_points == 0 => f.write_str("a 0% rollout: nobody"),
                    None if *basis_points == 10_000 => f.write_str("a 100% rollout: everybody"),
                    None => match stickiness {
                        Some(a) => write!(f, "no `{a}` attribute to bucket by ({size}% rollout)"),
                        None => write!(f, "no user id to bucket by ({size}% rollout)"),
                    },
                }
            }
            Step::Split {
                bucket,
                coverage,
                stickiness,
            } => {
                let size = f64::from(*coverage) / 100.0;
                match bucket {
                    Some(b) if b < coverage => write!(
                        f,
                        "bucket {b} < {coverage}: in the experiment ({size}% coverage), its arm drawn by weight"
                    ),
                    Some(b) => write!(
                        f,
                        "bucket {b} >= {coverage}: not in the experiment ({size}% coverage)"
                    ),
                    None => match stickiness {
                        Some(a) => write!(f, "no `{a}` attribute to draw an arm by"),
                        None => f.write_str("no user id to draw an arm by"),
                    },
                }
            }
            Step::Dropped { arm } => write!(f, "arm `{arm}` was dropped to the control"),
            Step::Default => f.write_str("the compiled default"),
        }
    }
}

impl Step {
    /// The step `decided` names, in `rule` (`None`: there is no rule).
    pub(crate) fn of(decided: Decided, rule: Option<&dyn RuleNames>) -> Step {
        let name =
            |f: &dyn Fn(&dyn RuleNames) -> &str| rule.map(|r| f(r).to_owned()).unwrap_or_default();
        match decided {
            Decided::Inactive => Step::Inactive,
            Decided::Window => Step::OutsideWindow,
            Decided::Environment => Step::Environment,
            Decided::Requires(i) => Step::Requires {
                flag: name(&|r| r.required_name(i)),
            },
            Decided::Constraint(i) => Step::Constraint {
                attribute: name(&|r| r.constraint_attribute(i)),
            },
            Decided::Site => Step::Site,
            Decided::User => Step::User,
            Decided::Group(i) => Step::Group {
                kind: name(&|r| r.group_kind(i)),
            },
            Decided::Everyone => Step::Everyone,
            Decided::Percent {
                bucket,
                basis_points,
            } => Step::Percent {
                bucket,
                basis_points,
                stickiness: rule.and_then(|r| r.stickiness().map(str::to_owned)),
            },
            Decided::Split { bucket, coverage } => Step::Split {
                bucket,
                coverage,
                stickiness: rule.and_then(|r| r.stickiness().map(str::to_owned)),
            },
            Decided::Dropped(arm) => Step::Dropped {
                arm: name(&|r| r.arm_name(arm).unwrap_or_default()),
            },
            Decided::Default => Step::Default,
        }
    }

    /// Whether a unit this step decided for was exposed to an experiment: drawn into it, not
    /// pinned, gated or left out.
    pub fn is_exposure(&self) -> bool {
        matches!(self, Step::Split { bucket: Some(b), coverage, .. } if b < coverage)
    }
}

impl Explanation {
    /// The explanation of an evaluation: `decided` is `None` when a test override answered.
    pub(crate) fn new(enabled: bool, decided: Option<(Option<&dyn RuleNames>, Decided)>) -> Self {
        let step = match decided {
            None => Step::TestOverride,
            Some((rule, decided)) => Step::of(decided, rule),
        };
        Explanation { enabled, step }
    }
}

/// A variant toggle's arm for one context, and the step of its rule that decided it: what
/// [`Variant::explain`](crate::Variant::explain) returns (the arm as the enum's variant), and
/// [`VariantRule::explain`](crate::rules::VariantRule::explain) (the arm's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment<E> {
    /// The arm.
    pub arm: E,
    /// What decided it.
    pub step: Step,
}

impl<E> Assignment<E> {
    /// Whether the unit was exposed to the experiment: drawn into it rather than pinned, gated
    /// or left out (see [`Step::is_exposure`]).
    pub fn is_exposure(&self) -> bool {
        self.step.is_exposure()
    }
}
