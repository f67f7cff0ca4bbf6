//! What flag and variant rules share, made ready to evaluate: the gates every context must pass,
//! and the sites, users and groups a rule pins to an answer.

use std::collections::{BTreeMap, HashMap};

use crate::targeting::{Context, Decided, Timestamp};

/// A rule's gates: all must pass, or the rule gives its closed answer (off, or the control).
#[derive(Debug)]
pub(crate) struct Gates {
    active: bool,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    environments: Vec<String>,
    requires: Vec<(u32, String)>,
    constraints: Vec<(String, Vec<String>)>,
}

impl Gates {
    pub(crate) fn new(
        active: bool,
        (from, until): (Option<Timestamp>, Option<Timestamp>),
        environments: &[String],
        requires: Vec<(u32, String)>,
        constraints: &BTreeMap<String, Vec<String>>,
    ) -> Gates {
        Gates {
            active,
            from,
            until,
            environments: environments.to_vec(),
            requires,
            constraints: constraints
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Whether the gates close for everyone (`Some(false)`: the rule is inactive), open for
    /// everyone (`Some(true)`: there are none), or depend on the context or the clock.
    pub(crate) fn constant(&self) -> Option<bool> {
        if !self.active {
            return Some(false);
        }
        let gated = self.from.is_some()
            || self.until.is_some()
            || !self.environments.is_empty()
            || !self.requires.is_empty()
            || !self.constraints.is_empty();
        (!gated).then_some(true)
    }

    /// The gate that closes for `ctx`, if one does; `required(id)` answers for a required flag.
    /// Reads the clock (through the context, once per request) only when there is a window.
    pub(crate) fn closed(
        &self,
        ctx: &Context<'_>,
        required: &dyn Fn(u32) -> bool,
    ) -> Option<Decided> {
        if !self.active {
            return Some(Decided::Inactive);
        }
        if self.from.is_some() || self.until.is_some() {
            let now = ctx.now();
            if self.from.is_some_and(|from| now < from)
                || self.until.is_some_and(|until| now >= until)
            {
                return Some(Decided::Window);
            }
        }
        if !self.environments.is_empty()
            && !ctx
                .environment()
                .is_some_and(|env| self.environments.iter().any(|e| e == env))
        {
            return Some(Decided::Environment);
        }
        if let Some(i) = self.requires.iter().position(|(id, _)| !required(*id)) {
            return Some(Decided::Requires(i));
        }
        self.constraints
            .iter()
            .position(|(attr, allowed)| {
                !ctx.attribute(attr)
                    .is_some_and(|v| allowed.iter().any(|a| a == v))
            })
            .map(Decided::Constraint)
    }

    /// The flags required, by registry id and full name, in the rule's order.
    pub(crate) fn required(&self) -> impl Iterator<Item = (u32, &str)> {
        self.requires.iter().map(|(id, name)| (*id, name.as_str()))
    }
}

/// Sites, users and members of groups pinned to an answer `T` (on or off, an arm).
#[derive(Debug)]
pub(crate) struct Pins<T> {
    sites: HashMap<String, T>,
    users: HashMap<String, T>,
    groups: Vec<(String, HashMap<String, T>)>,
}

impl<T: Copy> Pins<T> {
    /// Pins from `(answer, ids)` lists: the sites', the users', and each group kind's.
    pub(crate) fn new<'r>(
        sites: impl IntoIterator<Item = (T, &'r [String])>,
        users: impl IntoIterator<Item = (T, &'r [String])>,
        groups: impl IntoIterator<Item = (&'r str, Vec<(T, &'r [String])>)>,
    ) -> Pins<T> {
        fn lookup<'r, T>(lists: impl IntoIterator<Item = (T, &'r [String])>) -> HashMap<String, T>
        where
            T: Copy,
        {
            lists
                .into_iter()
                .flat_map(|(answer, ids)| ids.iter().map(move |id| (id.clone(), answer)))
                .collect()
        }
        Pins {
            sites: lookup(sites),
            users: lookup(users),
            groups: groups
                .into_iter()
                .map(|(kind, lists)| (kind.to_owned(), lookup(lists)))
                .collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.users.is_empty() && self.groups.is_empty()
    }

    /// The answer `ctx`'s site, user or groups are pinned to, first match wins. Within one
    /// group kind, of two answers the context's groups are pinned to, the one `beats` prefers
    /// wins, so the order the context lists its groups in cannot matter.
    pub(crate) fn pinned(
        &self,
        ctx: &Context<'_>,
        beats: impl Fn(T, T) -> bool,
    ) -> Option<(T, Decided)> {
        if !self.sites.is_empty() {
            if let Some(&answer) = ctx.site().and_then(|site| self.sites.get(site)) {
                return Some((answer, Decided::Site));
            }
        }
        if !self.users.is_empty() {
            if let Some(&answer) = ctx.user().and_then(|user| self.users.get(user)) {
                return Some((answer, Decided::User));
            }
        }
        for (i, (kind, members)) in self.groups.iter().enumerate() {
            let mut best: Option<T> = None;
            for id in ctx.group_ids(kind) {
                if let Some(&answer) = members.get(id) {
                    if best.is_none_or(|b| beats(answer, b)) {
                        best = Some(answer);
                    }
                }
            }
            if let Some(answer) = best {
                return Some((answer, Decided::Group(i)));
            }
        }
        None
    }

    pub(crate) fn group_kind(&self, i: usize) -> &str {
        &self.groups[i].0
    }
}

/// What an explanation names from the rule that decided: the required flag, the constrained
/// attribute, the group kind, the attribute units are drawn by.
pub(crate) trait RuleNames {
    fn gates(&self) -> &Gates;
    fn group_kind(&self, i: usize) -> &str;
    /// `None` for the user id.
    fn stickiness(&self) -> Option<&str>;
    /// A variant's arm by position; `None` for a flag's rule.
    fn arm_name(&self, arm: u8) -> Option<&str> {
        let _ = arm;
        None
    }

    fn required_name(&self, i: usize) -> &str {
        &self.gates().requires[i].1
    }

    fn constraint_attribute(&self, i: usize) -> &str {
        &self.gates().constraints[i].0
    }
}
