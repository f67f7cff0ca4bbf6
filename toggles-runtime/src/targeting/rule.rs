//! The rule a store holds for a flag, and what is wrong with one on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::targeting::{Guard, Plan, Timestamp};

/// The targeting rule of a [`Flag`](crate::Flag), as a store holds it.
///
/// # The order a rule is applied in
///
/// First match wins:
///
/// 1. a test override in scope ([`testing`](crate::testing));
/// 2. gates, all of which must pass or the flag is off: `active` (the master kill switch), the
///    activation window `from`/`until` (the only part that reads the clock), `environments`,
///    `requires` (other flags that must be on), `constraints` (attribute -> allowed values);
/// 3. a site override: on or off for the context's site;
/// 4. a user override: on or off for listed user ids;
/// 5. group overrides, kind by kind in the order the rule lists the kinds; within one kind, a
///    group listed off beats a group listed on, whatever order the context lists them in;
/// 6. `everyone`, when set;
/// 7. `percent`: 0 is nobody and 100 is everybody, contexts without a user id included; a
///    partial rollout is on when the unit's [bucket](crate::rules::bucket) is below it, and off for a
///    context that lacks the unit (the user id, or the `stickiness` attribute);
/// 8. the flag's compiled default.
///
/// [`Flag::explain`](crate::Flag::explain) names the step that decided.
///
/// # JSON
///
/// Every part is optional: `{"percent": 20, "users": {"on": ["42"]}}`. A percent is a whole
/// number of basis points (`12.34`, not `12.345`); an unknown field is an error, for a flag this
/// program declares (entries for other programs' toggles are carried along unread).
///
/// Build one in code with the chained setters:
///
/// ```
/// use toggles::rules::FlagRule;
///
/// let rule = FlagRule::new()
///     .percent(20.0)
///     .users_on(["42"])
///     .groups_on("course", ["course-v1:edX+DemoX"])
///     .sites_off(["white-label.example.com"]);
/// assert_eq!(rule.percent, Some(20.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FlagRule {
    /// The master kill switch: when `false` the flag is off for everyone.
    #[serde(skip_serializing_if = "is_true")]
    pub active: bool,
    /// Off before this instant (a launch date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Off from this instant on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// The environments the flag may be on in; empty means any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Flags (full names) that must be on for this one to be.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Context attributes and the values they must have: `{"region": ["US", "RO"]}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, Vec<String>>,
    /// Sites the flag is forced on or off for.
    #[serde(skip_serializing_if = "Targets::is_empty")]
    pub sites: Targets,
    /// Users the flag is forced on or off for.
    #[serde(skip_serializing_if = "Targets::is_empty")]
    pub users: Targets,
    /// Group members the flag is forced on or off for, kind by kind, first match wins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupTargets>,
    /// On or off for everyone the earlier steps did not decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub everyone: Option<bool>,
    /// The share of units in the rollout, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// The bucketing salt; the flag's full name when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The context attribute that identifies a unit for the rollout; the user id when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<String>,
    /// When the flag turns itself off: see [`Guard`]. It takes no part in an evaluation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// A staged rollout that raises `percent` by itself: see [`Plan`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_true(b: &bool) -> bool {
    *b
}

impl Default for FlagRule {
    fn default() -> FlagRule {
        FlagRule {
            active: true,
            from: None,
            until: None,
            environments: Vec::new(),
            requires: Vec::new(),
            constraints: BTreeMap::new(),
            sites: Targets::default(),
            users: Targets::default(),
            groups: Vec::new(),
            everyone: None,
            percent: None,
            salt: None,
            stickiness: None,
            guard: None,
            plan: None,
        }
    }
}

/// Ids forced on and ids forced off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Targets {
    /// Ids the flag is on for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<String>,
    /// Ids the flag is off for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub off: Vec<String>,
}

impl Targets {
    /// `on` forced on, `off` forced off.
    pub fn new<I, J, S, T>(on: I, off: J) -> Targets
    where
        I: IntoIterator<Item = S>,
        J: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        Targets {
            on: strings(on),
            off: strings(off),
        }
    }

    /// Whether no id is listed.
    pub fn is_empty(&self) -> bool {
        self.on.is_empty() && self.off.is_empty()
    }
}

/// The members of one kind of group (course, org, ...) the flag is forced on or off for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GroupTargets {
    /// The kind of group, as the context names it: `course`, `org`.
    pub kind: String,
    /// Group ids the flag is on for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<String>,
    /// Group ids the flag is off for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub off: Vec<String>,
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Vec<String> {
    ids.into_iter().map(Into::into).collect()
}

impl GroupTargets {
    /// Members of groups of `kind` forced on (`on`) and off (`off`).
    pub fn new<I, J, S, T>(kind: impl Into<String>, on: I, off: J) -> GroupTargets
    where
        I: IntoIterator<Item = S>,
        J: IntoIterator<Item = T>,
        S: Into<String>,
        T: Into<String>,
    {
        GroupTargets {
            kind: kind.into(),
            on: strings(on),
            off: strings(off),
        }
    }
}

impl FlagRule {
    /// An empty rule: active, targeting nobody, so the compiled default applies.
    pub fn new() -> FlagRule {
        FlagRule::default()
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

    /// Sets the environments the flag may be on in.
    #[must_use]
    pub fn environments<I: IntoIterator<Item = S>, S: Into<String>>(mut self, envs: I) -> Self {
        self.environments = strings(envs);
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
        self.constraints.insert(attribute.into(), strings(values));
        self
    }

    /// Forces the flag on for these sites.
    #[must_use]
    pub fn sites_on<I: IntoIterator<Item = S>, S: Into<String>>(mut self, sites: I) -> Self {
        self.sites.on.extend(strings(sites));
        self
    }

    /// Forces the flag off for these sites.
    #[must_use]
    pub fn sites_off<I: IntoIterator<Item = S>, S: Into<String>>(mut self, sites: I) -> Self {
        self.sites.off.extend(strings(sites));
        self
    }

    /// Forces the flag on for these users.
    #[must_use]
    pub fn users_on<I: IntoIterator<Item = S>, S: Into<String>>(mut self, users: I) -> Self {
        self.users.on.extend(strings(users));
        self
    }

    /// Forces the flag off for these users.
    #[must_use]
    pub fn users_off<I: IntoIterator<Item = S>, S: Into<String>>(mut self, users: I) -> Self {
        self.users.off.extend(strings(users));
        self
    }

    /// Forces the flag on for members of these groups of `kind`.
    #[must_use]
    pub fn groups_on<I: IntoIterator<Item = S>, S: Into<String>>(self, kind: &str, ids: I) -> Self {
        self.group(kind, ids, true)
    }

    /// Forces the flag off for members of these groups of `kind`.
    #[must_use]
    pub fn groups_off<I: IntoIterator<Item = S>, S: Into<String>>(
        self,
        kind: &str,
        ids: I,
    ) -> Self {
        self.group(kind, ids, false)
    }

    fn group<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        kind: &str,
        ids: I,
        on: bool,
    ) -> Self {
        let i = match self.groups.iter().position(|g| g.kind == kind) {
            Some(i) => i,
            None => {
                self.groups.push(GroupTargets {
                    kind: kind.to_owned(),
                    ..GroupTargets::default()
                });
                self.groups.len() - 1
            }
        };
        let list = if on {
            &mut self.groups[i].on
        } else {
            &mut self.groups[i].off
        };
        list.extend(strings(ids));
        self
    }

    /// Sets `everyone`.
    #[must_use]
    pub fn everyone(mut self, on: bool) -> Self {
        self.everyone = Some(on);
        self
    }

    /// Sets the rollout percentage.
    #[must_use]
    pub fn percent(mut self, percent: f64) -> Self {
        self.percent = Some(percent);
        self
    }

    /// Sets the bucketing salt.
    #[must_use]
    pub fn salt(mut self, salt: impl Into<String>) -> Self {
        self.salt = Some(salt.into());
        self
    }

    /// Buckets by this context attribute instead of the user id.
    #[must_use]
    pub fn stickiness(mut self, attribute: impl Into<String>) -> Self {
        self.stickiness = Some(attribute.into());
        self
    }

    /// Guards the flag: it turns itself off when its error rate climbs (see [`Guard`]).
    #[must_use]
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }
}
