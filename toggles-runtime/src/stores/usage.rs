//! What a store keeps of the fleet's evaluations: per toggle and service, when it was first
//! and last evaluated and when each answer was last given — enough to tell a toggle whose
//! answers vary from one that gives everyone the same answer, and one nobody evaluates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::targeting::Timestamp;

/// One toggle's use by one process in one heartbeat interval, as the heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Use {
    /// The toggle's full name.
    pub toggle: String,
    /// The answers it gave: `off` and `on` for a switch or a flag, arms' names for a variant
    /// toggle; none for a setting (a read is a use, its value is not an answer).
    pub answers: Vec<String>,
}

impl Use {
    /// `toggle` evaluated, giving `answers`.
    pub fn new(toggle: impl Into<String>, answers: Vec<String>) -> Use {
        Use {
            toggle: toggle.into(),
            answers,
        }
    }
}

/// A toggle's evaluations by one service, as a store keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// The toggle's full name.
    pub toggle: String,
    /// The service's name.
    pub service: String,
    /// The interval it was first reported evaluated in.
    pub first_evaluated: Timestamp,
    /// The latest.
    pub last_evaluated: Timestamp,
    /// When each answer was last given.
    pub answers: BTreeMap<String, Timestamp>,
}

impl Usage {
    /// `toggle`'s usage by `service`, evaluated from `first_evaluated` to `last_evaluated`,
    /// with no answer recorded yet (a store fills [`answers`](Usage::answers)).
    pub fn new(
        toggle: impl Into<String>,
        service: impl Into<String>,
        first_evaluated: Timestamp,
        last_evaluated: Timestamp,
    ) -> Usage {
        Usage {
            toggle: toggle.into(),
            service: service.into(),
            first_evaluated,
            last_evaluated,
            answers: BTreeMap::new(),
        }
    }
}

/// Every toggle's usage, keyed by toggle then service: what the memory and file stores keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct UsageBook(BTreeMap<String, BTreeMap<String, Usage>>);

impl UsageBook {
    /// Adds `service`'s uses of the interval that ended `at`.
    pub(crate) fn record(&mut self, service: &str, at: Timestamp, used: &[Use]) {
        for u in used {
            let usage = self
                .0
                .entry(u.toggle.clone())
                .or_default()
                .entry(service.to_owned())
                .or_insert_with(|| Usage {
                    toggle: u.toggle.clone(),
                    service: service.to_owned(),
                    first_evaluated: at,
                    last_evaluated: at,
                    answers: BTreeMap::new(),
                });
            usage.first_evaluated = usage.first_evaluated.min(at);
            usage.last_evaluated = usage.last_evaluated.max(at);
            for answer in &u.answers {
                let last = usage.answers.entry(answer.clone()).or_insert(at);
                *last = (*last).max(at);
            }
        }
    }

    pub(crate) fn all(&self) -> Vec<Usage> {
        self.0.values().flat_map(|s| s.values().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_keeps_when_it_was_last_given() {
        let mut book = UsageBook::default();
        let t = Timestamp::from_unix_seconds;
        book.record("lms", t(100), &[Use::new("a.b", vec!["on".into()])]);
        book.record("lms", t(200), &[Use::new("a.b", vec!["off".into()])]);
        // A late report from a slower instance moves nothing back.
        book.record("lms", t(150), &[Use::new("a.b", vec!["on".into()])]);
        book.record("cms", t(300), &[Use::new("a.b", vec![])]);
        let all = book.all();
        assert_eq!(all.len(), 2);
        let lms = all.iter().find(|u| u.service == "lms").unwrap();
        assert_eq!((lms.first_evaluated, lms.last_evaluated), (t(100), t(200)));
        assert_eq!(lms.answers["on"], t(150));
        assert_eq!(lms.answers["off"], t(200));
        let cms = all.iter().find(|u| u.service == "cms").unwrap();
        assert!(cms.answers.is_empty());
    }
}
