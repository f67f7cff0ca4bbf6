//! What a store keeps of experiments: each unit's first exposure (its arm) and each unit's
//! conversions, so results count units, not requests.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::targeting::Timestamp;

/// A unit's exposure to an arm of a variant toggle, as a store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exposed {
    /// The toggle's full name.
    pub toggle: String,
    /// The unit: a user id, or the rule's `stickiness` attribute.
    pub unit: String,
    /// The arm it got.
    pub arm: String,
    /// When.
    pub at: Timestamp,
}

impl Exposed {
    /// `unit`'s exposure to `arm` of `toggle` at `at`.
    pub fn new(
        toggle: impl Into<String>,
        unit: impl Into<String>,
        arm: impl Into<String>,
        at: Timestamp,
    ) -> Exposed {
        Exposed {
            toggle: toggle.into(),
            unit: unit.into(),
            arm: arm.into(),
            at,
        }
    }
}

/// A unit's conversion on a goal of an experiment, as a store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Converted {
    /// The variant toggle's full name.
    pub toggle: String,
    /// The unit.
    pub unit: String,
    /// The goal: `purchase`, `signup`.
    pub goal: String,
    /// When.
    pub at: Timestamp,
}

impl Converted {
    /// `unit`'s conversion on `goal` of `toggle` at `at`.
    pub fn new(
        toggle: impl Into<String>,
        unit: impl Into<String>,
        goal: impl Into<String>,
        at: Timestamp,
    ) -> Converted {
        Converted {
            toggle: toggle.into(),
            unit: unit.into(),
            goal: goal.into(),
            at,
        }
    }
}

/// An experiment's counts per arm, as a store answers them: units exposed, and of those, units
/// that converted on each goal after their exposure.
pub type ExperimentCounts = BTreeMap<String, ArmCounts>;

/// One arm's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArmCounts {
    /// Units first exposed to this arm.
    pub exposed: u64,
    /// Of those, units that converted on each goal at or after their exposure.
    pub converted: BTreeMap<String, u64>,
}

impl ArmCounts {
    /// `exposed` units, of which `converted` converted, goal by goal.
    pub fn new<'g>(exposed: u64, converted: impl IntoIterator<Item = (&'g str, u64)>) -> ArmCounts {
        ArmCounts {
            exposed,
            converted: converted
                .into_iter()
                .map(|(goal, n)| (goal.to_owned(), n))
                .collect(),
        }
    }
}

/// Exposures and conversions kept in memory, with a database's semantics: a unit's earliest
/// exposure to a toggle is the one kept, and of its conversions on a goal the latest, so a
/// conversion after the exposure counts even when an earlier one came before it.
#[derive(Debug, Default)]
pub(crate) struct Experiments {
    /// `(toggle, unit)` -> `(arm, at)`.
    exposed: HashMap<(String, String), (String, Timestamp)>,
    /// `(toggle, unit, goal)` -> `at`.
    converted: HashMap<(String, String, String), Timestamp>,
}

impl Experiments {
    pub(crate) fn record_exposures(&mut self, exposures: &[Exposed]) {
        for e in exposures {
            let kept = self
                .exposed
                .entry((e.toggle.clone(), e.unit.clone()))
                .or_insert_with(|| (e.arm.clone(), e.at));
            if e.at < kept.1 {
                *kept = (e.arm.clone(), e.at);
            }
        }
    }

    pub(crate) fn record_conversions(&mut self, conversions: &[Converted]) {
        for c in conversions {
            let kept = self
                .converted
                .entry((c.toggle.clone(), c.unit.clone(), c.goal.clone()))
                .or_insert(c.at);
            *kept = (*kept).max(c.at);
        }
    }

    /// The counts of `toggle`, `None` when it has no exposure.
    pub(crate) fn counts(&self, toggle: &str) -> Option<ExperimentCounts> {
        let mut counts = ExperimentCounts::new();
        let mut units: HashMap<&str, (&str, Timestamp)> = HashMap::new();
        for ((t, unit), (arm, at)) in &self.exposed {
            if t == toggle {
                counts.entry(arm.clone()).or_default().exposed += 1;
                units.insert(unit, (arm, *at));
            }
        }
        if counts.is_empty() {
            return None;
        }
        for ((t, unit, goal), at) in &self.converted {
            let Some((arm, exposed_at)) = units.get(unit.as_str()) else {
                continue;
            };
            if t == toggle && at >= exposed_at {
                let arm = counts.get_mut(*arm).expect("counted above");
                *arm.converted.entry(goal.clone()).or_default() += 1;
            }
        }
        Some(counts)
    }
}
