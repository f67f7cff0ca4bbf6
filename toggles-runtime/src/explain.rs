//! Why a flag answered as it did.

use std::fmt;

/// A flag's answer for one context, and the step of its rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The answer.
    pub enabled: bool,
    /// What decided it.
    pub step: Step,
}

/// The step of a flag's evaluation that decided its answer, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        /// The unit's bucket, 0 to 9,999.
        bucket: u16,
        /// The rollout size in basis points.
        basis_points: u16,
    },
    /// Nothing in the rule decided (or there is no rule): the compiled default.
    Default,
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
            } => write!(
                f,
                "bucket {bucket} {} {basis_points} ({}% rollout)",
                if bucket < basis_points { "<" } else { ">=" },
                f64::from(*basis_points) / 100.0
            ),
            Step::Default => f.write_str("the compiled default"),
        }
    }
}
