//! The rule a store holds for a variant toggle: an experiment's coverage and weights, pins, and
//! the gates a flag has.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::targeting::{Guard, Timestamp};

/// The rule of a [`Variant`](crate::Variant) toggle, as a store holds it: which arm each unit
/// gets.
///
/// # The order a rule is applied in
///
/// First match wins; every step that gives no arm of its own gives the control (the declared
/// default):
///
/// 1. a test override in scope ([`testing`](crate::testing));
/// 2. gates, as a [flag's](crate::rules::FlagRule): `active`, the window `from`/`until`,
///    `environments`, `requires` (flags that must be on), `constraints`. A closed gate gives
///    the control;
/// 3. a site pinned to an arm;
/// 4. a user pinned to an arm;
/// 5. group pins, kind by kind in the order the rule lists the kinds; within one kind, when the
///    context's groups are pinned to different arms, the control wins, then the arm declared
///    first — whatever order the context lists its groups in;
/// 6. `everyone`: one arm for everyone the earlier steps did not decide;
/// 7. the experiment: a unit whose [bucket](crate::rules::bucket::draw) is below `coverage` is
///    in it and gets an arm drawn by `weights` ([`arm`](crate::rules::bucket::arm)); any other
///    unit, and a context without the unit (the user id, or the `stickiness` attribute), gets
///    the control;
/// 8. the control.
///
/// An arm listed in `dropped` (a [`Guard`] drops a failing arm by an audited write) is never
/// given: whoever any step would give it gets the control instead
/// ([`Step::Dropped`](crate::Step::Dropped)), and is not exposed.
///
/// Only a unit the experiment took in (step 7, inside the coverage) is *exposed*: pinned units
/// were chosen, not drawn, and stay out of an experiment's results. With `track`, each exposure
/// is handed to the subscribers the host registered on its installation
/// ([`Installer::subscribe`](crate::Installer::subscribe)), once per unit and arm within a
/// window.
///
/// # Weights
///
/// Each arm's weight is a whole number from 0 to 10,000, and an arm gets a share of the
/// experiment proportional to it: weights that add up to 10,000 read as basis points. An arm
/// the rule gives no weight gets none. Raising one arm's weight moves units only into that arm;
/// lowering it moves units only out of it (no scheme can keep every other arm's units in place
/// when two weights change at once, so a change of one arm at a time is the one to make).
///
/// # JSON
///
/// Every part is optional; arms are named as the enum's [`Variants`](crate::Variants) names
/// them. A rule naming an arm the toggle does not declare is refused when written, with the
/// closest name suggested.
///
/// ```json
/// {
///   "coverage": 50,
///   "weights": {"classic": 5000, "one_page": 5000},
///   "users": {"express": ["42"]},
///   "groups": [{"kind": "org", "arms": {"classic": ["edX"]}}],
///   "track": true
/// }
/// ```
///
/// ```
/// use toggles::rules::VariantRule;
///
/// let rule = VariantRule::new()
///     .coverage(50.0)
///     .weight("classic", 5000)
///     .weight("one_page", 5000)
///     .users("express", ["42"]);
/// assert_eq!(rule.weights["one_page"], 5000);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct VariantRule {
    /// The master kill switch: when `false` everyone gets the control.
    #[serde(skip_serializing_if = "is_true")]
    pub active: bool,
    /// The control before this instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// The control from this instant on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// The environments the experiment runs in; empty means any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Flags (full names) that must be on for the experiment to run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Context attributes and the values they must have: `{"region": ["US", "RO"]}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, Vec<String>>,
    /// Sites pinned to an arm: arm name -> site ids.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sites: BTreeMap<String, Vec<String>>,
    /// Users pinned to an arm: arm name -> user ids.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, Vec<String>>,
    /// Members of groups pinned to an arm, kind by kind, first match wins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupPins>,
    /// One arm for everyone the earlier steps did not decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub everyone: Option<String>,
    /// The share of units in the experiment, 0 to 100, in whole basis points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// Each arm's weight in the experiment, 0 to 10,000: arm name -> weight.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, u16>,
    /// The salt of the draw; the toggle's full name when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The context attribute that identifies a unit; the user id when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
    /// Whether each unit the experiment draws is an exposure, handed to the subscribers the
    /// host registered ([`Installer::subscribe`](crate::Installer::subscribe)).
    #[serde(skip_serializing_if = "is_false")]
    pub track: bool,
    /// When an arm is dropped to the control: see [`Guard`]. Each arm but the control is
    /// judged against the control, as a flag's "on" against its "off". It takes no part in an
    /// evaluation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// Arms dropped to the control (by their guard, or by hand): whoever would get one gets the
    /// control instead, and is not exposed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_true(b: &bool) -> bool {
    *b
}

impl Default for VariantRule {
    fn default() -> VariantRule {
        VariantRule {
            active: true,
            from: None,
            until: None,
            environments: Vec::new(),
            requires: Vec::new(),
            constraints: BTreeMap::new(),
            sites: BTreeMap::new(),
            users: BTreeMap::new(),
            groups: Vec::new(),
            everyone: None,
            coverage: None,
            weights: BTreeMap::new(),
            salt: None,
            stickiness: None,
            track: false,
            guard: None,
            dropped: Vec::new(),
        }
    }
}

/// The members of one kind of group (course, org, ...) pinned to arms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GroupPins {
    /// The kind of group, as the context names it: `course`, `org`.
    pub kind: String,
    /// Arm name -> ids of the groups whose members get it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arms: BTreeMap<String, Vec<String>>,
}

impl GroupPins {
    /// No pins yet for groups of `kind`.
    pub fn new(kind: impl Into<String>) -> GroupPins {
        GroupPins {
            kind: kind.into(),
            arms: BTreeMap::new(),
        }
    }
}

fn pin<I: IntoIterator<Item = S>, S: Into<String>>(
    pins: &mut BTreeMap<String, Vec<String>>,
    arm: &str,
    ids: I,
) {
    pins.entry(arm.to_owned())
        .or_default()
        .extend(ids.into_iter().map(Into::into));
}

impl VariantRule {
    /// An empty rule: active, pinning nobody, no experiment, so everyone gets the control.
    pub fn new() -> VariantRule {
        VariantRule::default()
    }

    /// Sets `active`.
    #[must_use]
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Sets the activation window.
    #[must_use]
    pub fn window(mut self, from: Option<Timestamp>, until: Option<Timestamp>) -> Self {
        self.from = from;
        self.until = until;
        self
    }

    /// Sets the environments the experiment runs in.
    #[must_use]
    pub fn environments<I: IntoIterator<Item = S>, S: Into<String>>(mut self, envs: I) -> Self {
        self.environments = envs.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a flag that must be on.
    #[must_use]
    pub fn requires(mut self, full_name: impl Into<String>) -> Self {
        self.requires.push(full_name.into());
        self
    }

    /// Adds a constraint: `attribute` must have one of `values`.
    #[must_use]
    pub fn constraint<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        attribute: impl Into<String>,
        values: I,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.constraints.insert(attribute.into(), values);
        self
    }

    /// Pins these sites to `arm`.
    #[must_use]
    pub fn sites<I: IntoIterator<Item = S>, S: Into<String>>(mut self, arm: &str, ids: I) -> Self {
        pin(&mut self.sites, arm, ids);
        self
    }

    /// Pins these users to `arm`.
    #[must_use]
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(mut self, arm: &str, ids: I) -> Self {
        pin(&mut self.users, arm, ids);
        self
    }

    /// Pins members of these groups of `kind` to `arm`.
    #[must_use]
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        kind: &str,
        arm: &str,
        ids: I,
    ) -> Self {
        let i = match self.groups.iter().position(|g| g.kind == kind) {
            Some(i) => i,
            None => {
                self.groups.push(GroupPins::new(kind));
                self.groups.len() - 1
            }
        };
        pin(&mut self.groups[i].arms, arm, ids);
        self
    }

    /// Gives everyone the earlier steps did not decide `arm`.
    #[must_use]
    pub fn everyone(mut self, arm: impl Into<String>) -> Self {
        self.everyone = Some(arm.into());
        self
    }

    /// Sets the share of units in the experiment, in percent.
    #[must_use]
    pub fn coverage(mut self, percent: f64) -> Self {
        self.coverage = Some(percent);
        self
    }

    /// Sets `arm`'s weight in the experiment.
    #[must_use]
    pub fn weight(mut self, arm: impl Into<String>, weight: u16) -> Self {
        self.weights.insert(arm.into(), weight);
        self
    }

    /// Sets the salt of the draw.
    #[must_use]
    pub fn salt(mut self, salt: impl Into<String>) -> Self {
        self.salt = Some(salt.into());
        self
    }

    /// Draws by this context attribute instead of the user id.
    #[must_use]
    pub fn stickiness(mut self, attribute: impl Into<String>) -> Self {
        self.stickiness = Some(attribute.into());
        self
    }

    /// Guards the arms: an arm failing too often against the control is dropped to the control
    /// (see [`Guard`]; [`Variant::record`](crate::Variant::record) counts).
    #[must_use]
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Drops `arm` to the control.
    #[must_use]
    pub fn drop_arm(mut self, arm: impl Into<String>) -> Self {
        self.dropped.push(arm.into());
        self
    }

    /// Makes each unit the experiment draws an exposure, for the host's subscribers.
    #[must_use]
    pub fn track(mut self, track: bool) -> Self {
        self.track = track;
        self
    }

    /// Every arm name the rule mentions, with where: for the check against the declared arms.
    pub(crate) fn arms_named(&self) -> Vec<(&str, String)> {
        let mut named = placed(self.sites.keys(), "`sites`");
        named.extend(placed(self.users.keys(), "`users`"));
        for group in &self.groups {
            let kind = format!("`groups` ({})", group.kind);
            named.extend(placed(group.arms.keys(), &kind));
        }
        named.extend(placed(self.everyone.iter(), "`everyone`"));
        named.extend(placed(self.weights.keys(), "`weights`"));
        named.extend(placed(self.dropped.iter(), "`dropped`"));
        named
    }
}

/// Each arm name with the place it is named in.
fn placed<'r>(arms: impl Iterator<Item = &'r String>, place: &str) -> Vec<(&'r str, String)> {
    arms.map(|arm| (arm.as_str(), place.to_owned())).collect()
}
