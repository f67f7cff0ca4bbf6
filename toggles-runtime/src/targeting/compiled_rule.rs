//! A flag's rule made ready to evaluate, and its evaluation: a pure function of the rule, the
//! context and the answers of the flags it requires.

use crate::targeting::bucket::{bucket, Percent};
use crate::targeting::gates::{Gates, Pins, RuleNames};
use crate::targeting::{Context, Explanation, FlagRule, Guard};

/// A rule made ready to evaluate: lists as hash maps, the salt resolved, the percent in basis
/// points, `requires` as registry ids.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    gates: Gates,
    pins: Pins<bool>,
    everyone: Option<bool>,
    percent: Option<Percent>,
    salt: String,
    stickiness: Option<String>,
    /// Whether its guard has a run-time limit, so outcomes under the flag time themselves.
    timed: bool,
}

/// A rule's answer as far as it can be known without a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constant<T = bool> {
    /// The same answer for every context.
    Is(T),
    /// Nothing in the rule applies to anyone: the compiled default.
    CompiledDefault,
    /// The context (or the clock) decides.
    Contextual,
}

/// Which step of a rule decided, in a form that costs nothing to produce.
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
    /// A variant's experiment: in it when `bucket < coverage`; `bucket` is `None` when the
    /// context lacks the unit.
    Split {
        bucket: Option<u16>,
        coverage: u16,
    },
    /// A variant's arm, dropped to the control.
    Dropped(u8),
    Default,
}

fn on_off(targets: &crate::targeting::Targets) -> [(bool, &[String]); 2] {
    [(true, &targets.on), (false, &targets.off)]
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
            gates: Gates::new(
                rule.active,
                (rule.from, rule.until),
                &rule.environments,
                requires,
                &rule.constraints,
            ),
            pins: Pins::new(
                on_off(&rule.sites),
                on_off(&rule.users),
                rule.groups.iter().map(|g| {
                    let lists = vec![(true, g.on.as_slice()), (false, g.off.as_slice())];
                    (g.kind.as_str(), lists)
                }),
            ),
            everyone: rule.everyone,
            percent: rule.percent.and_then(|p| Percent::new(p).ok()),
            salt: rule.salt.clone().unwrap_or_else(|| full_name.to_owned()),
            stickiness: rule.stickiness.clone(),
            timed: rule.guard.as_ref().is_some_and(Guard::times_runs),
        }
    }

    /// Whether outcomes under the flag time themselves: its guard has a run-time limit.
    pub(crate) fn timed(&self) -> bool {
        self.timed
    }

    /// The answer when it does not depend on the context or the clock. Must agree with
    /// [`evaluate`](Self::evaluate) for every context: a property test holds it to that.
    pub(crate) fn constant(&self) -> Constant {
        match self.gates.constant() {
            Some(false) => return Constant::Is(false),
            None => return Constant::Contextual,
            Some(true) if !self.pins.is_empty() => return Constant::Contextual,
            Some(true) => {}
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
        if let Some(gate) = self.gates.closed(ctx, required) {
            return Some((false, gate));
        }
        // Off beats on within a group kind.
        if let Some(pinned) = self.pins.pinned(ctx, |a, _| !a) {
            return Some(pinned);
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
        self.gates.required()
    }
}

impl RuleNames for CompiledRule {
    fn gates(&self) -> &Gates {
        &self.gates
    }

    fn group_kind(&self, i: usize) -> &str {
        self.pins.group_kind(i)
    }

    fn stickiness(&self) -> Option<&str> {
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
            self.requires
                .get(id as usize)
                .is_some_and(|name| required(name))
        });
        let (enabled, decided) = answer.unwrap_or((default, Decided::Default));
        Explanation::new(enabled, Some((Some(&compiled), decided)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::targeting::Timestamp;

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
