//! A flag's rule made ready to evaluate, and its evaluation: a pure function of the rule, the
//! context and the answers of the flags it requires.

use std::collections::HashMap;

use crate::targeting::bucket::{bucket, Percent};
use crate::targeting::{Context, Explanation, FlagRule, Targets, Timestamp};

/// A rule made ready to evaluate: lists as hash maps, the salt resolved, the percent in basis
/// points, `requires` as registry ids.
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
    /// `bucket` is `None` when none was needed (0% or 100%) or the context lacks the unit.
    Percent {
        bucket: Option<u16>,
        basis_points: u16,
    },
    Default,
}

fn lookup(targets: &Targets) -> HashMap<String, bool> {
    let on = targets.on.iter().map(|id| (id.clone(), true));
    on.chain(targets.off.iter().map(|id| (id.clone(), false)))
        .collect()
}

impl CompiledRule {
    /// Compiles a rule that has no problems (`FlagRule::problems` is empty); `requires` must
    /// already be resolved to registry ids, in the rule's order.
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
            sites: lookup(&rule.sites),
            users: lookup(&rule.users),
            groups: rule
                .groups
                .iter()
                .map(|g| {
                    let targets = Targets {
                        on: g.on.clone(),
                        off: g.off.clone(),
                    };
                    (g.kind.clone(), lookup(&targets))
                })
                .collect(),
            everyone: rule.everyone,
            percent: rule.percent.and_then(|p| Percent::new(p).ok()),
            salt: rule.salt.clone().unwrap_or_else(|| full_name.to_owned()),
            stickiness: rule.stickiness.clone(),
        }
    }

    /// The answer when it does not depend on the context or the clock. Must agree with
    /// [`evaluate`](Self::evaluate) for every context: a property test holds it to that.
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
            (None, Some(Percent::NONE)) => Constant::Is(false),
            (None, Some(Percent::ALL)) => Constant::Is(true),
            (None, Some(_)) => Constant::Contextual,
        }
    }

    /// The rule's answer for `ctx`, `None` for "the compiled default"; `required(id)` answers
    /// for a required flag. Reads the clock (through the context, once per request) only when
    /// the rule has a window.
    pub(crate) fn evaluate(
        &self,
        ctx: &Context<'_>,
        required: &dyn Fn(u32) -> bool,
    ) -> Option<(bool, Decided)> {
        if !self.active {
            return Some((false, Decided::Inactive));
        }
        if self.from.is_some() || self.until.is_some() {
            let now = ctx.now();
            if self.from.is_some_and(|from| now < from)
                || self.until.is_some_and(|until| now >= until)
            {
                return Some((false, Decided::Window));
            }
        }
        if !self.environments.is_empty()
            && !ctx
                .environment()
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
        if !self.sites.is_empty() {
            if let Some(&on) = ctx.site().and_then(|site| self.sites.get(site)) {
                return Some((on, Decided::Site));
            }
        }
        if !self.users.is_empty() {
            if let Some(&on) = ctx.user().and_then(|user| self.users.get(user)) {
                return Some((on, Decided::User));
            }
        }
        for (i, (kind, members)) in self.groups.iter().enumerate() {
            // Off beats on within a kind, so the context's order of its groups cannot matter.
            let mut listed = None;
            for id in ctx.group_ids(kind) {
                match members.get(id) {
                    Some(false) => return Some((false, Decided::Group(i))),
                    Some(true) => listed = Some(true),
                    None => {}
                }
            }
            if let Some(on) = listed {
                return Some((on, Decided::Group(i)));
            }
        }
        if let Some(on) = self.everyone {
            return Some((on, Decided::Everyone));
        }
        let percent = self.percent?;
        let basis_points = percent.basis_points();
        if percent == Percent::NONE || percent == Percent::ALL {
            let bucket = None;
            return Some((
                percent == Percent::ALL,
                Decided::Percent {
                    bucket,
                    basis_points,
                },
            ));
        }
        let unit = match &self.stickiness {
            Some(attribute) => ctx.attribute(attribute),
            None => ctx.user(),
        };
        let bucket = unit.map(|unit| bucket(&self.salt, unit));
        let on = bucket.is_some_and(|b| percent.contains(b));
        Some((
            on,
            Decided::Percent {
                bucket,
                basis_points,
            },
        ))
    }

    /// The flags this rule requires, by registry id and full name, in the rule's order.
    pub(crate) fn required(&self) -> impl Iterator<Item = (u32, &str)> {
        self.requires.iter().map(|(id, name)| (*id, name.as_str()))
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

    /// The attribute a partial rollout buckets by: `None` for the user id.
    pub(crate) fn stickiness(&self) -> Option<&str> {
        self.stickiness.as_deref()
    }
}

impl FlagRule {
    /// How this rule, stored for the flag `full_name` whose compiled default is `default`,
    /// answers `ctx`: for tools that explain a fleet's flags without declaring them (`toggles
    /// show`). `required(name)` answers for each flag the rule `requires`. A program that
    /// declares the flag asks [`Flag::explain`](crate::Flag::explain) instead, which also
    /// honours test overrides.
    ///
    /// ```
    /// use toggles::{Context, Step};
    /// use toggles::rules::FlagRule;
    ///
    /// let rule = FlagRule::new().users_on(["ana"]).percent(0.0);
    /// let why = rule.explain("grading.new_grader", false, &Context::new().with_user("ana"), &|_| true);
    /// assert!(why.enabled);
    /// assert_eq!(why.step, Step::User);
    /// ```
    pub fn explain(
        &self,
        full_name: &str,
        default: bool,
        ctx: &Context<'_>,
        required: &dyn Fn(&str) -> bool,
    ) -> Explanation {
        // The required flags' "ids" are their positions in the rule's own list.
        let by_position = (0u32..).zip(self.requires.iter().cloned()).collect();
        let compiled = CompiledRule::compile(self, full_name, by_position);
        let answer = compiled.evaluate(ctx, &|id| {
            compiled
                .requires
                .get(id as usize)
                .is_some_and(|(_, name)| required(name))
        });
        let (enabled, decided) = answer.unwrap_or((default, Decided::Default));
        Explanation::new(enabled, Some((Some(&compiled), decided)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rule_shapes() -> impl Strategy<Value = FlagRule> {
        // Mostly empty lists and no gates, so the rules whose answer is constant come up often.
        let ids = || {
            prop_oneof![
                3 => Just(Vec::new()),
                1 => proptest::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..3),
            ]
        };
        (
            any::<bool>(),
            prop::option::of(any::<bool>()),
            prop::option::of(prop::sample::select(vec![0u16, 1, 5000, 9999, 10_000])),
            (ids(), ids(), ids(), ids()),
            prop::option::weighted(0.3, prop::sample::select(vec!["prod", "dev"])),
            prop::bool::weighted(0.3),
            prop::option::of(prop::sample::select(vec!["region"])),
        )
            .prop_map(
                |(
                    active,
                    everyone,
                    bp,
                    (users_on, users_off, courses_on, courses_off),
                    env,
                    window,
                    sticky,
                )| {
                    let mut rule = FlagRule::new().active(active);
                    rule.everyone = everyone;
                    rule.percent = bp.map(|bp| f64::from(bp) / 100.0);
                    rule.users.on = users_on.iter().map(|s| (*s).to_owned()).collect();
                    rule.users.off = users_off
                        .iter()
                        .filter(|s| !users_on.contains(s))
                        .map(|s| (*s).to_owned())
                        .collect();
                    if !courses_on.is_empty() || !courses_off.is_empty() {
                        rule = rule
                            .groups_on("course", courses_on)
                            .groups_off("course", courses_off);
                    }
                    if let Some(env) = env {
                        rule = rule.environments([env]);
                    }
                    if window {
                        rule = rule.window(Some(Timestamp::from_unix_seconds(1000)), None);
                    }
                    if let Some(attribute) = sticky {
                        rule = rule.stickiness(attribute);
                    }
                    rule
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever `constant` says of a rule, `evaluate` says for every context: the cached
        /// state a check answers from and the explanation can never disagree.
        #[test]
        fn constant_agrees_with_evaluate(
            rule in rule_shapes(),
            user in prop::option::of(prop::sample::select(vec!["a", "b", "z", "42"])),
            courses in proptest::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3),
            env in prop::option::of(prop::sample::select(vec!["prod", "dev"])),
            region in prop::option::of(prop::sample::select(vec!["US", "RO"])),
            now in prop::sample::select(vec![0i64, 5000]),
        ) {
            let compiled = CompiledRule::compile(&rule, "test.flag", Vec::new());
            let groups: Vec<(&str, &str)> = courses.iter().map(|c| ("course", *c)).collect();
            let attributes: Vec<(&str, &str)> = region.iter().map(|r| ("region", *r)).collect();
            let mut ctx = Context::new()
                .with_groups(&groups)
                .with_attributes(&attributes)
                .with_time(Timestamp::from_unix_seconds(now));
            if let Some(user) = user {
                ctx = ctx.with_user(user);
            }
            if let Some(env) = env {
                ctx = ctx.with_environment(env);
            }
            let answer = compiled.evaluate(&ctx, &|_| true);
            match compiled.constant() {
                Constant::Is(on) => prop_assert_eq!(answer.map(|a| a.0), Some(on)),
                Constant::CompiledDefault => prop_assert_eq!(answer, None),
                Constant::Contextual => {}
            }
        }

        /// Within a group kind, off beats on whatever order the context lists its groups in.
        #[test]
        fn group_order_in_the_context_does_not_matter(
            mut courses in proptest::collection::vec(prop::sample::select(vec!["on", "off", "x"]), 1..4),
        ) {
            let rule = FlagRule::new().groups_on("course", ["on"]).groups_off("course", ["off"]);
            let compiled = CompiledRule::compile(&rule, "test.flag", Vec::new());
            let answer = |courses: &[&str]| {
                let groups: Vec<(&str, &str)> = courses.iter().map(|c| ("course", *c)).collect();
                compiled.evaluate(&Context::new().with_groups(&groups), &|_| true).map(|a| a.0)
            };
            let forward = answer(&courses);
            courses.reverse();
            prop_assert_eq!(forward, answer(&courses));
            if courses.contains(&"off") {
                prop_assert_eq!(forward, Some(false));
            }
        }
    }

    #[test]
    fn zero_percent_is_nobody_and_all_is_everybody() {
        let nobody = CompiledRule::compile(&FlagRule::new().percent(0.0), "t.f", Vec::new());
        assert_eq!(nobody.constant(), Constant::Is(false));
        let anonymous = Context::new();
        assert_eq!(
            nobody.evaluate(&anonymous, &|_| true).map(|a| a.0),
            Some(false)
        );
        let all = CompiledRule::compile(&FlagRule::new().percent(100.0), "t.f", Vec::new());
        assert_eq!(all.constant(), Constant::Is(true));
        assert_eq!(all.evaluate(&anonymous, &|_| true).map(|a| a.0), Some(true));
        // A partial rollout leaves out a context that lacks the unit, and says so.
        let half = CompiledRule::compile(&FlagRule::new().percent(50.0), "t.f", Vec::new());
        assert_eq!(
            half.evaluate(&anonymous, &|_| true),
            Some((
                false,
                Decided::Percent {
                    bucket: None,
                    basis_points: 5000
                }
            ))
        );
    }
}
