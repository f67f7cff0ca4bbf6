//! What a store holds, and the changes that can be written to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::compile::Section;
use crate::declare::Kind;
use crate::targeting::{FlagRule, VariantRule};

/// The contents of a store: switch states, flag rules, variant rules and setting values by full
/// name, as JSON.
///
/// Serialized as the file store's JSON:
///
/// ```json
/// {
///   "switches": { "catalog.recommendations": false },
///   "flags": { "grading.new_grader": { "percent": 20, "users": { "on": ["42"] } } },
///   "variants": { "checkout.checkout_flow": { "coverage": 50, "weights": { "classic": 5000, "one_page": 5000 } } },
///   "settings": { "uploads.max_upload_bytes": 5000000 }
/// }
/// ```
///
/// Entries stay JSON until they are compiled against the toggles of a program: a store shared
/// by several services holds entries for toggles this program does not declare, perhaps with
/// fields a newer version added, and those are carried along as they are, never read. So are
/// sections this version does not know (`other`), which a newer version may have added. An
/// entry of a toggle this program declares that it cannot use is set aside on its own: its
/// toggle keeps its last good state and [`status`](crate::status) says why; the other entries
/// take effect.
///
/// ```
/// use toggles::Change;
/// use toggles::rules::FlagRule;
/// use toggles::store::Snapshot;
///
/// let mut snapshot = Snapshot::default();
/// snapshot.apply(&Change::flag("grading.new_grader", FlagRule::new().percent(20.0)));
/// assert_eq!(snapshot.entry("grading.new_grader").unwrap()["percent"], 20.0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// Switch states: `true` or `false`.
    pub switches: Section,
    /// Flag rules, each a [`FlagRule`] as JSON.
    pub flags: Section,
    /// Variant rules, each a [`VariantRule`] as JSON. (A store an older version wrote has
    /// none; that version carries this section along among `other`.)
    pub variants: Section,
    /// Setting values, as JSON of the setting's type.
    pub settings: Section,
    /// Sections this version does not know, by name, carried along as they are.
    #[serde(flatten)]
    pub other: BTreeMap<String, Json>,
}

/// One write to a store. Build it with [`Change::switch`], [`Change::flag`],
/// [`Change::variant`], [`Change::setting`] or [`Change::reset`].
// A change is built, written and dropped; boxing the rule would only make building one clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
    /// Replace a variant toggle's rule.
    Variant {
        /// The toggle's full name.
        name: String,
        /// The new rule.
        rule: VariantRule,
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

    /// Give variant toggle `name` this rule.
    pub fn variant(name: impl Into<String>, rule: VariantRule) -> Change {
        Change::Variant {
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
            | Change::Variant { name, .. }
            | Change::Setting { name, .. }
            | Change::Reset { name } => name,
        }
    }
}

impl Snapshot {
    /// Each section with the kind of toggle whose entries it holds.
    pub(crate) fn sections(&self) -> [(Kind, &Section); 4] {
        [
            (Kind::Switch, &self.switches),
            (Kind::Flag, &self.flags),
            (Kind::Variant, &self.variants),
            (Kind::Setting, &self.settings),
        ]
    }

    /// What the snapshot holds for `name`, as JSON; `None` when it holds nothing.
    pub fn entry(&self, name: &str) -> Option<&Json> {
        self.switches
            .get(name)
            .or_else(|| self.flags.get(name))
            .or_else(|| self.variants.get(name))
            .or_else(|| self.settings.get(name))
    }

    /// Applies `change`, without validating it: the runtime's writes validate the result.
    pub fn apply(&mut self, change: &Change) {
        let name = change.name();
        self.switches.remove(name);
        self.flags.remove(name);
        self.variants.remove(name);
        self.settings.remove(name);
        match change {
            Change::Switch { name, on } => {
                self.switches.insert(name.clone(), Json::Bool(*on));
            }
            Change::Flag { name, rule } => {
                let rule = serde_json::to_value(rule).expect("a rule serializes");
                self.flags.insert(name.clone(), rule);
            }
            Change::Variant { name, rule } => {
                let rule = serde_json::to_value(rule).expect("a rule serializes");
                self.variants.insert(name.clone(), rule);
            }
            Change::Setting { name, value } => {
                self.settings.insert(name.clone(), value.clone());
            }
            Change::Reset { .. } => {}
        }
    }
}
