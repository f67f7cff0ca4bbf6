//! A flag's rule: who gets the flag, and the order the parts are applied in.
//!
//! First match wins:
//!
//! 1. a test override in scope ([`testing`](crate::testing));
//! 2. gates, all of which must pass or the flag is off: `active` (the master kill switch),
//!    the activation window `from`/`until`, `environments`, `requires` (other flags that must be
//!    on), `constraints` (attribute -> allowed values);
//! 3. a site override: on or off for the context's site;
//! 4. a user override: on or off for listed user ids;
//! 5. group overrides, in the order the rule lists the kinds;
//! 6. `everyone`, when set;
//! 7. `percent`: on if the unit's [bucket](crate::bucket) is below it;
//! 8. the compiled default.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::bucket::{bucket, Percent};
use crate::{Context, Timestamp};

/// The targeting rule of a [`Flag`](crate::Flag), as a store holds it.
///
/// Serialized in JSON with every part optional: `{"percent": 20, "users": {"on": ["42"]}}`.
/// Build one in code with the chained setters:
///
/// ```
/// use toggles_runtime::FlagRule;
///
/// let rule = FlagRule::new()
///     .percent(20.0)
///     .users_on(["42"])
///     .group_on("course", ["course-v1:edX+DemoX"])
///     .site_off(["white-label.example.com"]);
/// assert_eq!(rule.percent, Some(20.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
        }
    }
}

/// Ids forced on and ids forced off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    /// Ids the flag is on for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<String>,
    /// Ids the flag is off for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub off: Vec<String>,
}

impl Targets {
    /// Whether no id is listed.
    pub fn is_empty(&self) -> bool {
        self.on.is_empty() && self.off.is_empty()
    }

    fn overlap(&self) -> Option<&str> {
        self.on
            .iter()
            .find(|id| self.off.contains(id))
            .map(String::as_str)
    }

    fn compile(&self) -> HashMap<String, bool> {
        let on = self.on.iter().map(|id| (id.clone(), true));
        on.chain(self.off.iter().map(|id| (id.clone(), false)))
            .collect()
    }
}

/// The members of one kind of group (course, org, ...) the flag is forced on or off for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub fn site_on<I: IntoIterator<Item = S>, S: Into<String>>(mut self, sites: I) -> Self {
        self.sites.on.extend(strings(sites));
        self
    }

    /// Forces the flag off for these sites.
    #[must_use]
    pub fn site_off<I: IntoIterator<Item = S>, S: Into<String>>(mut self, sites: I) -> Self {
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
    pub fn group_on<I: IntoIterator<Item = S>, S: Into<String>>(self, kind: &str, ids: I) -> Self {
        self.group(kind, ids, true)
    }

    /// Forces the flag off for members of these groups of `kind`.
    #[must_use]
    pub fn group_off<I: IntoIterator<Item = S>, S: Into<String>>(self, kind: &str, ids: I) -> Self {
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

    /// What is wrong with the rule on its own (the store checks `requires` against the registry).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(p) = self.percent {
            if Percent::new(p).is_err() {
                problems.push(format!("`percent` is from 0 to 100, not {p}"));
            }
        }
        if let (Some(from), Some(until)) = (self.from, self.until) {
            if from >= until {
                problems.push(format!("`from` ({from}) must be before `until` ({until})"));
            }
        }
        for (what, targets) in [("sites", &self.sites), ("users", &self.users)] {
            if let Some(id) = targets.overlap() {
                problems.push(format!("`{id}` is listed both on and off in `{what}`"));
            }
        }
        for (i, g) in self.groups.iter().enumerate() {
            if g.kind.is_empty() {
                problems.push("a group target has an empty `kind`".to_owned());
            }
            if self.groups[..i]
                .iter()
                .any(|earlier| earlier.kind == g.kind)
            {
                problems.push(format!("group kind `{}` is listed twice", g.kind));
            }
            let targets = Targets {
                on: g.on.clone(),
                off: g.off.clone(),
            };
            if let Some(id) = targets.overlap() {
                problems.push(format!(
                    "`{id}` is listed both on and off in group kind `{}`",
                    g.kind
                ));
            }
        }
        for (attribute, values) in &self.constraints {
            if values.is_empty() {
                problems.push(format!(
                    "constraint `{attribute}` allows no value, so the flag could never be on"
                ));
            }
        }
        if self.stickiness.as_deref() == Some("") {
            problems.push("`stickiness` names no attribute".to_owned());
        }
        problems
    }
}

/// A rule made ready to evaluate: lists as hash sets, the salt resolved, `requires` as registry
/// ids.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    active: bool,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    environments: Vec<String>,
    requires: Vec<(u32, String)>,
    constraints: Vec<(String, Vec<String>)>,
    sites: HashMap<String, bool>,
    users: HashMap<String, bool>,
    groups: Vec<(String, HashMap<String, bool>)>,
    everyone: Option<bool>,
    percent: Option<Percent>,
    salt: String,
    stickiness: Option<String>,
}

/// A rule's answer as far as it can be known without a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constant {
    /// On or off for every context.
    Is(bool),
    /// Nothing in the rule applies to anyone: the compiled default.
    CompiledDefault,
    /// The context (or the clock) decides.
    Contextual,
}

/// Which step of the rule decided, in a form that costs nothing to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decided {
    Inactive,
    Window,
    Environment,
    Requires(usize),
    Constraint(usize),
    Site,
    User,
    Group(usize),
    Everyone,
    Percent { bucket: u16, basis_points: u16 },
    Default,
}

impl CompiledRule {
    /// `requires` must already be resolved to registry ids, in the rule's order.
    pub(crate) fn compile(
        rule: &FlagRule,
        full_name: &str,
        requires: Vec<(u32, String)>,
    ) -> CompiledRule {
        CompiledRule {
            active: rule.active,
            from: rule.from,
            until: rule.until,
            environments: rule.environments.clone(),
            requires,
            constraints: rule
                .constraints
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            sites: rule.sites.compile(),
            users: rule.users.compile(),
            groups: rule
                .groups
                .iter()
                .map(|g| {
                    (
                        g.kind.clone(),
                        Targets {
                            on: g.on.clone(),
                            off: g.off.clone(),
                        }
                        .compile(),
                    )
                })
                .collect(),
            everyone: rule.everyone,
            percent: rule.percent.and_then(|p| Percent::new(p).ok()),
            salt: rule.salt.clone().unwrap_or_else(|| full_name.to_owned()),
            stickiness: rule.stickiness.clone(),
        }
    }

    /// The answer when it does not depend on the context or the clock.
    pub(crate) fn constant(&self) -> Constant {
        if !self.active {
            return Constant::Is(false);
        }
        let gated = self.from.is_some()
            || self.until.is_some()
            || !self.environments.is_empty()
            || !self.requires.is_empty()
            || !self.constraints.is_empty();
        let targeted = !self.sites.is_empty() || !self.users.is_empty() || !self.groups.is_empty();
        if gated || targeted {
            return Constant::Contextual;
        }
        match (self.everyone, self.percent) {
            (Some(on), _) => Constant::Is(on),
            (None, None) => Constant::CompiledDefault,
            (None, Some(p)) if p == Percent::NONE => Constant::CompiledDefault,
            (None, Some(_)) => Constant::Contextual,
        }
    }

    /// The rule's answer for `ctx` at `now`; `required(id)` answers for a required flag.
    pub(crate) fn evaluate(
        &self,
        ctx: &Context<'_>,
        now: Timestamp,
        required: &dyn Fn(u32) -> bool,
    ) -> Option<(bool, Decided)> {
        if !self.active {
            return Some((false, Decided::Inactive));
        }
        if self.from.is_some_and(|from| now < from) || self.until.is_some_and(|until| now >= until)
        {
            return Some((false, Decided::Window));
        }
        if !self.environments.is_empty()
            && !ctx
                .environment_name()
                .is_some_and(|env| self.environments.iter().any(|e| e == env))
        {
            return Some((false, Decided::Environment));
        }
        if let Some(i) = self.requires.iter().position(|(id, _)| !required(*id)) {
            return Some((false, Decided::Requires(i)));
        }
        if let Some(i) = self.constraints.iter().position(|(attr, allowed)| {
            !ctx.attribute(attr)
                .is_some_and(|v| allowed.iter().any(|a| a == v))
        }) {
            return Some((false, Decided::Constraint(i)));
        }
        if let Some(&on) = ctx.site_id().and_then(|site| self.sites.get(site)) {
            return Some((on, Decided::Site));
        }
        if let Some(&on) = ctx.user_id().and_then(|user| self.users.get(user)) {
            return Some((on, Decided::User));
        }
        for (i, (kind, members)) in self.groups.iter().enumerate() {
            if let Some(&on) = ctx.group_ids(kind).find_map(|id| members.get(id)) {
                return Some((on, Decided::Group(i)));
            }
        }
        if let Some(on) = self.everyone {
            return Some((on, Decided::Everyone));
        }
        if let Some(percent) = self.percent {
            let unit = match &self.stickiness {
                Some(attribute) => ctx.attribute(attribute),
                None => ctx.user_id(),
            };
            if let Some(unit) = unit {
                let b = bucket(&self.salt, unit);
                return Some((
                    percent.contains(b),
                    Decided::Percent {
                        bucket: b,
                        basis_points: percent.basis_points(),
                    },
                ));
            }
        }
        None
    }

    pub(crate) fn required_name(&self, i: usize) -> &str {
        &self.requires[i].1
    }

    pub(crate) fn constraint_attribute(&self, i: usize) -> &str {
        &self.constraints[i].0
    }

    pub(crate) fn group_kind(&self, i: usize) -> &str {
        &self.groups[i].0
    }
}
