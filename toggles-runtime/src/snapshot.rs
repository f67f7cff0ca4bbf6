//! What a store holds: switch states, flag rules and setting values by full name; the changes
//! that can be written to it, and their validation against the registry.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::{registry, FlagRule, Kind, ToggleInfo};

/// The contents of a store. Serialized as the file store's JSON:
///
/// ```json
/// {
///   "switches": { "catalog.recommendations": false },
///   "flags": { "grading.new_grader": { "percent": 20, "users": { "on": ["42"] } } },
///   "settings": { "uploads.max_upload_bytes": 5000000 }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Snapshot {
    /// Switch states.
    pub switches: BTreeMap<String, bool>,
    /// Flag rules.
    pub flags: BTreeMap<String, FlagRule>,
    /// Setting values, as JSON of the setting's type.
    pub settings: BTreeMap<String, Json>,
}

/// One write to a store.
// A change is built, written and dropped; boxing the rule would only make building one clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Turn a switch on or off.
    Switch {
        /// The switch's full name.
        name: String,
        /// On or off.
        on: bool,
    },
    /// Replace a flag's rule.
    Flag {
        /// The flag's full name.
        name: String,
        /// The new rule.
        rule: FlagRule,
    },
    /// Set a setting's value.
    Setting {
        /// The setting's full name.
        name: String,
        /// The value, as JSON of the setting's type.
        value: Json,
    },
    /// Remove what the store holds for a toggle, so its compiled default applies again.
    Reset {
        /// The toggle's full name.
        name: String,
    },
}

impl Change {
    /// Turn switch `name` on or off.
    pub fn switch(name: impl Into<String>, on: bool) -> Change {
        Change::Switch {
            name: name.into(),
            on,
        }
    }

    /// Give flag `name` this rule.
    pub fn flag(name: impl Into<String>, rule: FlagRule) -> Change {
        Change::Flag {
            name: name.into(),
            rule,
        }
    }

    /// Set setting `name` to `value`.
    pub fn setting(name: impl Into<String>, value: impl Into<Json>) -> Change {
        Change::Setting {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Forget what the store holds for `name`.
    pub fn reset(name: impl Into<String>) -> Change {
        Change::Reset { name: name.into() }
    }

    /// The full name the change is about.
    pub fn name(&self) -> &str {
        match self {
            Change::Switch { name, .. }
            | Change::Flag { name, .. }
            | Change::Setting { name, .. }
            | Change::Reset { name } => name,
        }
    }
}

impl Snapshot {
    /// What the snapshot holds for `name`, as JSON; `None` when it holds nothing.
    pub fn entry(&self, name: &str) -> Option<Json> {
        if let Some(on) = self.switches.get(name) {
            return Some(Json::Bool(*on));
        }
        if let Some(rule) = self.flags.get(name) {
            return Some(serde_json::to_value(rule).expect("a rule serializes"));
        }
        self.settings.get(name).cloned()
    }

    /// Applies `change`, without validating it.
    pub fn apply(&mut self, change: &Change) {
        let name = change.name();
        self.switches.remove(name);
        self.flags.remove(name);
        self.settings.remove(name);
        match change {
            Change::Switch { name, on } => {
                self.switches.insert(name.clone(), *on);
            }
            Change::Flag { name, rule } => {
                self.flags.insert(name.clone(), rule.clone());
            }
            Change::Setting { name, value } => {
                self.settings.insert(name.clone(), value.clone());
            }
            Change::Reset { .. } => {}
        }
    }

    /// Checks the snapshot against the toggles of this binary: every entry of the right kind,
    /// every rule sound, setting values of the setting's type, no `requires` cycle.
    ///
    /// Entries for toggles this binary does not declare are problems when `unknown_is_error`
    /// (a write), and are skipped otherwise (a store shared with other services).
    pub fn validate(&self, unknown_is_error: bool) -> Result<(), Invalid> {
        let mut problems = Vec::new();
        let known =
            |name: &str, kind: Kind, problems: &mut Vec<Problem>| -> Option<&'static ToggleInfo> {
                match registry().get(name) {
                    Some(t) if t.kind() == kind => Some(t),
                    Some(t) => {
                        problems.push(Problem::new(
                            name,
                            format!("is a {}, not a {kind}", t.kind()),
                        ));
                        None
                    }
                    None => {
                        if unknown_is_error {
                            problems.push(Problem::new(name, "is not a toggle of this program"));
                        }
                        None
                    }
                }
            };
        for name in self.switches.keys() {
            known(name, Kind::Switch, &mut problems);
        }
        for (name, value) in &self.settings {
            if let Some(t) = known(name, Kind::Setting, &mut problems) {
                if let Err(e) = t.toggle().check_value(value) {
                    problems.push(Problem::new(name, e));
                }
            }
        }
        for (name, rule) in &self.flags {
            if known(name, Kind::Flag, &mut problems).is_none() {
                continue;
            }
            problems.extend(rule.problems().into_iter().map(|p| Problem::new(name, p)));
            for required in &rule.requires {
                match registry().get(required) {
                    Some(t) if t.kind() == Kind::Flag => {}
                    Some(t) => problems.push(Problem::new(
                        name,
                        format!(
                            "requires `{required}`, a {}; only flags can be required",
                            t.kind()
                        ),
                    )),
                    None => problems.push(Problem::new(
                        name,
                        format!("requires `{required}`, which is not a flag of this program"),
                    )),
                }
            }
        }
        if let Some(cycle) = self.requires_cycle() {
            problems.push(Problem::new(
                &cycle[0],
                format!("`requires` goes round in a cycle: {}", cycle.join(" -> ")),
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Invalid { problems })
        }
    }

    /// A cycle in `requires`, as the names along it (first repeated at the end).
    fn requires_cycle(&self) -> Option<Vec<String>> {
        fn visit<'a>(
            name: &'a str,
            flags: &'a BTreeMap<String, FlagRule>,
            path: &mut Vec<&'a str>,
            done: &mut HashSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|n| *n == name) {
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(name.to_owned());
                return Some(cycle);
            }
            if done.contains(name) {
                return None;
            }
            path.push(name);
            for next in flags
                .get(name)
                .map(|r| r.requires.as_slice())
                .unwrap_or_default()
            {
                if let Some(cycle) = visit(next, flags, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            done.insert(name);
            None
        }
        let mut done = HashSet::new();
        self.flags
            .keys()
            .find_map(|name| visit(name, &self.flags, &mut Vec::new(), &mut done))
    }
}

/// A snapshot or write that does not fit the toggles of this program, with every problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong, toggle by toggle.
    pub problems: Vec<Problem>,
}

/// One thing wrong with one toggle's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The toggle's full name.
    pub toggle: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    fn new(toggle: &str, message: impl Into<String>) -> Problem {
        Problem {
            toggle: toggle.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {}", p.toggle, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}
