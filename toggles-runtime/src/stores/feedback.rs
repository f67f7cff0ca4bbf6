//! What a store keeps of the feedback people give on a toggle: the newest pieces, each with
//! the arm its unit saw, and a count per arm of every piece ever given.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::targeting::Timestamp;

/// How many pieces of feedback a store keeps per toggle: past it, the oldest are dropped (the
/// counts keep them).
pub const FEEDBACK_KEPT: usize = 1000;

/// A piece of feedback on a toggle, as a store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Feedback {
    /// The toggle's full name.
    pub toggle: String,
    /// The arm the unit saw: `on` or `off` for a flag, an arm's name for a variant toggle.
    pub arm: String,
    /// Who gave it (a user id), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What they said.
    pub text: String,
    /// When.
    pub at: Timestamp,
}

impl Feedback {
    /// `text` on `arm` of `toggle`, from `unit`, at `at`.
    pub fn new(
        toggle: impl Into<String>,
        arm: impl Into<String>,
        unit: Option<String>,
        text: impl Into<String>,
        at: Timestamp,
    ) -> Feedback {
        Feedback {
            toggle: toggle.into(),
            arm: arm.into(),
            unit,
            text: text.into(),
            at,
        }
    }
}

/// A toggle's feedback, as a store answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedbackLog {
    /// The newest pieces, newest first: at most [`FEEDBACK_KEPT`], and at most the limit asked
    /// for.
    pub entries: Vec<Feedback>,
    /// Every piece ever given, per arm, those dropped included.
    pub per_arm: BTreeMap<String, u64>,
}

impl FeedbackLog {
    /// How many pieces were ever given, on every arm.
    pub fn total(&self) -> u64 {
        self.per_arm.values().sum()
    }
}

/// Feedback held in memory, per toggle, bounded as a store keeps it: for the memory and file
/// stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FeedbackBook {
    toggles: HashMap<String, Kept>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Kept {
    /// Oldest first.
    entries: VecDeque<Feedback>,
    per_arm: BTreeMap<String, u64>,
}

impl FeedbackBook {
    /// Keeps `feedback`, dropping its toggle's oldest past [`FEEDBACK_KEPT`].
    pub(crate) fn record(&mut self, feedback: Feedback) {
        let kept = self.toggles.entry(feedback.toggle.clone()).or_default();
        *kept.per_arm.entry(feedback.arm.clone()).or_default() += 1;
        kept.entries.push_back(feedback);
        while kept.entries.len() > FEEDBACK_KEPT {
            kept.entries.pop_front();
        }
    }

    /// `toggle`'s feedback, its newest `limit` pieces; `None` when it has none.
    pub(crate) fn log(&self, toggle: &str, limit: usize) -> Option<FeedbackLog> {
        let kept = self.toggles.get(toggle)?;
        Some(FeedbackLog {
            entries: kept.entries.iter().rev().take(limit).cloned().collect(),
            per_arm: kept.per_arm.clone(),
        })
    }
}
