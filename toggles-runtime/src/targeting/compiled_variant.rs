//! A variant toggle's rule made ready to evaluate, and its evaluation: a pure function of the
//! rule, the context and the answers of the flags it requires.

use std::collections::BTreeMap;

use crate::targeting::bucket::{arm_key, draw, Percent, WeightedArms};
use crate::targeting::gates::{Gates, Pins, RuleNames};
use crate::targeting::{Assignment, Constant, Context, Decided, Guard, Step, VariantRule};

/// The most arms a variant toggle has: its cached state keeps the arm in eight bits.
pub(crate) const MOST_ARMS: usize = 256;

/// A variant rule made ready to evaluate: arms as their positions among the declared arms, the
/// salt resolved, the coverage in basis points, `requires` as registry ids.
#[derive(Debug)]
pub(crate) struct CompiledVariant {
    gates: Gates,
    pins: Pins<u8>,
    everyone: Option<u8>,
    coverage: Option<Percent>,
    /// The arms with a weight, ready to draw from.
    arms: WeightedArms,
    salt: String,
    stickiness: Option<String>,
    /// The control's position among the declared arms.
    control: u8,
    /// Whether a drawn unit is an exposure.
    track: bool,
    /// Whether its guard has a run-time limit, so outcomes under an arm time themselves.
    timed: bool,
    /// Per declared arm: its name.
    names: Vec<Box<str>>,
    /// Per declared arm, whether it is dropped to the control; empty when none is, so a check
    /// of such a rule looks no further.
    dropped: Box<[bool]>,
}

/// Pins by arm name as `(position, ids)` lists.
fn lists<'r>(
    pins: &'r BTreeMap<String, Vec<String>>,
    position: &dyn Fn(&str) -> u8,
) -> Vec<(u8, &'r [String])> {
    pins.iter()
        .map(|(arm, ids)| (position(arm), ids.as_slice()))
        .collect()
}

impl CompiledVariant {
    /// Compiles a rule that has no problems for a toggle declaring `arms` (by name, in
    /// declaration order; at most 256), the control at position `control`; `requires` already
    /// resolved to registry ids, in the rule's order.
    pub(crate) fn compile(
        rule: &VariantRule,
        full_name: &str,
        requires: Vec<(u32, String)>,
        arms: &[&str],
        control: usize,
    ) -> CompiledVariant {
        // More arms are refused when written; arms declared elsewhere are not this one's to
        // trust, so they are cut here rather than panicked on.
        let arms = &arms[..arms.len().min(MOST_ARMS)];
        let control = if control < arms.len() { control } else { 0 };
        let position = |name: &str| {
            let i = arms.iter().position(|a| *a == name).unwrap_or(control);
            u8::try_from(i).expect("at most 256 arms")
        };
        CompiledVariant {
            gates: Gates::new(
                rule.active,
                (rule.from, rule.until),
                &rule.environments,
                requires,
                &rule.constraints,
            ),
            pins: Pins::new(
                lists(&rule.sites, &position),
                lists(&rule.users, &position),
                rule.groups
                    .iter()
                    .map(|g| (g.kind.as_str(), lists(&g.arms, &position))),
            ),
            everyone: rule.everyone.as_deref().map(position),
            coverage: rule.coverage.and_then(|p| Percent::new(p).ok()),
            arms: WeightedArms::new(
                &arms
                    .iter()
                    .map(|name| {
                        let weight = rule.weights.get(*name).copied().unwrap_or(0);
                        (arm_key(name), weight)
                    })
                    .collect::<Vec<_>>(),
            ),
            salt: rule.salt.clone().unwrap_or_else(|| full_name.to_owned()),
            stickiness: rule.stickiness.clone(),
            control: u8::try_from(control).expect("at most 256 arms"),
            track: rule.track,
            timed: rule.guard.as_ref().is_some_and(Guard::times_runs),
            names: arms.iter().map(|a| Box::from(*a)).collect(),
            dropped: if arms.iter().any(|a| rule.dropped.iter().any(|d| d == a)) {
                arms.iter()
                    .map(|a| rule.dropped.iter().any(|d| d == a))
                    .collect()
            } else {
                Box::default()
            },
        }
    }

    /// The arm when it does not depend on the context or the clock. Must agree with
    /// [`evaluate`](Self::evaluate) for every context: a property test holds it to that.
    pub(crate) fn constant(&self) -> Constant<u8> {
        match self.constant_given() {
            Constant::Is(arm) if self.is_dropped(arm) => Constant::Is(self.control),
            other => other,
        }
    }

    #[inline]
    fn is_dropped(&self, arm: u8) -> bool {
        self.dropped.get(usize::from(arm)).copied().unwrap_or(false)
    }

    /// The arm's name.
    pub(crate) fn arm_name(&self, arm: u8) -> &str {
        self.names.get(usize::from(arm)).map_or("", |n| n)
    }

    /// [`constant`](Self::constant) before dropped arms fall back to the control.
    fn constant_given(&self) -> Constant<u8> {
        match self.gates.constant() {
            Some(false) => return Constant::Is(self.control),
            None => return Constant::Contextual,
            Some(true) if !self.pins.is_empty() => return Constant::Contextual,
            Some(true) => {}
        }
        match (self.everyone, self.coverage) {
            (Some(arm), _) => Constant::Is(arm),
            (None, None) => Constant::CompiledDefault,
            (None, Some(Percent::NONE)) => Constant::Is(self.control),
            (None, Some(_)) => Constant::Contextual,
        }
    }

    /// The arm for `ctx`, by position among the declared arms, and the step that decided it;
    /// `required(id)` answers for a required flag.
    #[inline]
    pub(crate) fn evaluate(
        &self,
        ctx: &Context<'_>,
        required: &dyn Fn(u32) -> bool,
    ) -> (u8, Decided) {
        let (arm, decided, _) = self.evaluate_drawn(ctx, required);
        (arm, decided)
    }

    /// Whether outcomes under an arm time themselves: its guard has a run-time limit.
    pub(crate) fn timed(&self) -> bool {
        self.timed
    }

    /// Whether the rule asks for exposures.
    pub(crate) fn tracks(&self) -> bool {
        self.track
    }

    /// The seed of `unit`'s draw under this rule's salt.
    pub(crate) fn seed(&self, unit: &str) -> u64 {
        draw(&self.salt, unit).1
    }

    /// The unit `ctx` is drawn by: its user id, or the `stickiness` attribute.
    pub(crate) fn unit<'c>(&self, ctx: &Context<'c>) -> Option<&'c str> {
        match &self.stickiness {
            Some(attribute) => ctx.attribute(attribute),
            None => ctx.user(),
        }
    }

    /// [`evaluate`](Self::evaluate), with the seed of the unit's draw (0 when there was none).
    #[inline]
    pub(crate) fn evaluate_drawn(
        &self,
        ctx: &Context<'_>,
        required: &dyn Fn(u32) -> bool,
    ) -> (u8, Decided, u64) {
        match self.evaluate_given(ctx, required) {
            (arm, _, seed) if self.is_dropped(arm) => (self.control, Decided::Dropped(arm), seed),
            answer => answer,
        }
    }

    /// [`evaluate_drawn`](Self::evaluate_drawn) before dropped arms fall back to the control.
    #[inline]
    fn evaluate_given(
        &self,
        ctx: &Context<'_>,
        required: &dyn Fn(u32) -> bool,
    ) -> (u8, Decided, u64) {
        let (arm, decided) = match self.settled(ctx, required) {
            Ok(answer) => answer,
            Err((coverage, unit)) => {
                let (bucket, seed) = draw(&self.salt, unit);
                let split = Decided::Split {
                    bucket: Some(bucket),
                    coverage: coverage.basis_points(),
                };
                if !coverage.contains(bucket) {
                    return (self.control, split, seed);
                }
                // Every weight 0 inside a coverage is refused when written; the control is the
                // answer a rule from elsewhere that slipped through would give.
                let drawn = self
                    .arms
                    .pick(seed)
                    .map_or(self.control, |i| u8::try_from(i).expect("at most 256 arms"));
                return (drawn, split, seed);
            }
        };
        (arm, decided, 0)
    }

    /// The arm every step but the draw gives, or the coverage and the unit to draw.
    #[inline]
    fn settled<'c>(
        &self,
        ctx: &Context<'c>,
        required: &dyn Fn(u32) -> bool,
    ) -> Result<(u8, Decided), (Percent, &'c str)> {
        if let Some(gate) = self.gates.closed(ctx, required) {
            return Ok((self.control, gate));
        }
        // Within a group kind the control beats any arm, then the arm declared first.
        let rank = |arm: u8| {
            if arm == self.control {
                0
            } else {
                u16::from(arm) + 1
            }
        };
        if let Some(pinned) = self.pins.pinned(ctx, |a, b| rank(a) < rank(b)) {
            return Ok(pinned);
        }
        if let Some(arm) = self.everyone {
            return Ok((arm, Decided::Everyone));
        }
        let Some(coverage) = self.coverage else {
            return Ok((self.control, Decided::Default));
        };
        let nobody = Decided::Split {
            bucket: None,
            coverage: coverage.basis_points(),
        };
        if coverage == Percent::NONE {
            return Ok((self.control, nobody));
        }
        match self.unit(ctx) {
            Some(unit) => Err((coverage, unit)),
            None => Ok((self.control, nobody)),
        }
    }
}

impl RuleNames for CompiledVariant {
    fn gates(&self) -> &Gates {
        &self.gates
    }

    fn group_kind(&self, i: usize) -> &str {
        self.pins.group_kind(i)
    }

    fn stickiness(&self) -> Option<&str> {
        self.stickiness.as_deref()
    }

    fn arm_name(&self, arm: u8) -> Option<&str> {
        Some(CompiledVariant::arm_name(self, arm))
    }
}

impl VariantRule {
    /// The arm this rule, stored for the variant toggle `full_name` declaring `arms` (in
    /// declaration order, the control named `control`), gives `ctx`, by name: for tools that
    /// explain a fleet's toggles without declaring them (`toggles show`). `required(name)`
    /// answers for each flag the rule `requires`. A program that declares the toggle asks
    /// [`Variant::explain`](crate::Variant::explain) instead, which also honours test overrides.
    ///
    /// A rule naming an arm that is not among `arms` (which a write would have refused) gives
    /// the control where it names that arm.
    ///
    /// ```
    /// use toggles::{Context, Step};
    /// use toggles::rules::VariantRule;
    ///
    /// let rule = VariantRule::new().users("express", ["ana"]);
    /// let arms = ["classic", "one_page", "express"];
    /// let why = rule.explain("checkout.checkout_flow", &arms, "classic", &Context::new().with_user("ana"), &|_| true);
    /// assert_eq!(why.arm, "express");
    /// assert_eq!(why.step, Step::User);
    /// ```
    pub fn explain<'a>(
        &self,
        full_name: &str,
        arms: &[&'a str],
        control: &str,
        ctx: &Context<'_>,
        required: &dyn Fn(&str) -> bool,
    ) -> Assignment<&'a str> {
        let by_position = (0u32..).zip(self.requires.iter().cloned()).collect();
        let control = arms.iter().position(|a| *a == control).unwrap_or(0);
        let compiled = CompiledVariant::compile(self, full_name, by_position, arms, control);
        let (arm, decided) = compiled.evaluate(ctx, &|id| {
            self.requires
                .get(id as usize)
                .is_some_and(|name| required(name))
        });
        Assignment {
            arm: arms.get(usize::from(arm)).copied().unwrap_or_default(),
            step: Step::of(decided, Some(&compiled)),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::targeting::Timestamp;

    const ARMS: [&str; 3] = ["classic", "one_page", "express"];

    fn compile(rule: &VariantRule) -> CompiledVariant {
        CompiledVariant::compile(rule, "checkout.checkout_flow", Vec::new(), &ARMS, 0)
    }

    fn arm_of(compiled: &CompiledVariant, user: &str) -> u8 {
        compiled
            .evaluate(&Context::new().with_user(user), &|_| true)
            .0
    }

    fn rule_shapes() -> impl Strategy<Value = VariantRule> {
        let arm = || prop::sample::select(ARMS.to_vec());
        let pins = || {
            prop_oneof![
                3 => Just(Vec::new()),
                1 => proptest::collection::vec((arm(), prop::sample::select(vec!["a", "b", "c"])), 1..3),
            ]
        };
        (
            any::<bool>(),
            prop::option::weighted(0.2, arm()),
            prop::option::of(prop::sample::select(vec![0u16, 1, 5000, 10_000])),
            proptest::collection::vec(prop::sample::select(vec![0u16, 1, 2500, 10_000]), 3),
            (pins(), pins()),
            prop::option::weighted(0.3, prop::sample::select(vec!["prod", "dev"])),
            (
                prop::bool::weighted(0.3),
                prop::option::weighted(0.3, prop::sample::select(vec!["one_page", "express"])),
            ),
        )
            .prop_map(
                |(
                    active,
                    everyone,
                    coverage,
                    weights,
                    (users, courses),
                    env,
                    (window, dropped),
                )| {
                    let mut rule = VariantRule::new().active(active);
                    if let Some(arm) = dropped {
                        rule = rule.drop_arm(arm);
                    }
                    rule.everyone = everyone.map(str::to_owned);
                    rule.coverage = coverage.map(|bp| f64::from(bp) / 100.0);
                    for (name, weight) in ARMS.iter().zip(weights) {
                        rule = rule.weight(*name, weight);
                    }
                    for (arm, user) in users {
                        rule = rule.users(arm, [user]);
                    }
                    for (arm, course) in courses {
                        rule = rule.groups("course", arm, [course]);
                    }
                    if let Some(env) = env {
                        rule = rule.environments([env]);
                    }
                    if window {
                        rule = rule.window(Some(Timestamp::from_unix_seconds(1000)), None);
                    }
                    rule
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever `constant` says of a rule, `evaluate` says for every context, so the cached
        /// arm a check answers from and the explanation can never disagree.
        #[test]
        fn constant_agrees_with_evaluate(
            rule in rule_shapes(),
            user in prop::option::of(prop::sample::select(vec!["a", "b", "z", "42"])),
            courses in proptest::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3),
            env in prop::option::of(prop::sample::select(vec!["prod", "dev"])),
            now in prop::sample::select(vec![0i64, 5000]),
        ) {
            let compiled = compile(&rule);
            let groups: Vec<(&str, &str)> = courses.iter().map(|c| ("course", *c)).collect();
            let mut ctx = Context::new()
                .with_groups(&groups)
                .with_time(Timestamp::from_unix_seconds(now));
            if let Some(user) = user {
                ctx = ctx.with_user(user);
            }
            if let Some(env) = env {
                ctx = ctx.with_environment(env);
            }
            let (arm, decided) = compiled.evaluate(&ctx, &|_| true);
            match compiled.constant() {
                Constant::Is(constant) => prop_assert_eq!(arm, constant),
                Constant::CompiledDefault => {
                    prop_assert_eq!((arm, decided), (0, Decided::Default));
                }
                Constant::Contextual => {}
            }
        }

        /// Within a group kind, the control wins over any arm, then the arm declared first,
        /// whatever order the context lists its groups in.
        #[test]
        fn group_order_in_the_context_does_not_matter(
            mut courses in proptest::collection::vec(prop::sample::select(vec!["c", "o", "e", "x"]), 1..4),
        ) {
            let rule = VariantRule::new()
                .groups("course", "classic", ["c"])
                .groups("course", "one_page", ["o"])
                .groups("course", "express", ["e"]);
            let compiled = compile(&rule);
            let answer = |courses: &[&str]| {
                let groups: Vec<(&str, &str)> = courses.iter().map(|c| ("course", *c)).collect();
                compiled.evaluate(&Context::new().with_groups(&groups), &|_| true).0
            };
            let forward = answer(&courses);
            courses.reverse();
            prop_assert_eq!(forward, answer(&courses));
            let expected = if courses.contains(&"c") {
                0
            } else if courses.contains(&"o") {
                1
            } else if courses.contains(&"e") {
                2
            } else {
                0
            };
            prop_assert_eq!(forward, expected);
        }

        /// Widening the coverage takes new units in and moves no unit's arm.
        #[test]
        fn widening_coverage_never_reshuffles_arms(
            narrow in 1u16..10_000,
            wider in 1u16..10_000,
            unit in 0u32..1_000_000,
        ) {
            let (narrow, wide) = (narrow.min(wider), narrow.max(wider));
            let rule = |bp: u16| {
                compile(
                    &VariantRule::new()
                        .coverage(f64::from(bp) / 100.0)
                        .weight("classic", 3000)
                        .weight("one_page", 3000)
                        .weight("express", 4000),
                )
            };
            let user = unit.to_string();
            let ctx = Context::new().with_user(&user);
            let (before, was) = rule(narrow).evaluate(&ctx, &|_| true);
            let (after, is) = rule(wide).evaluate(&ctx, &|_| true);
            let exposed = |d: Decided| matches!(d, Decided::Split { bucket: Some(b), coverage } if b < coverage);
            if exposed(was) {
                prop_assert!(exposed(is), "a unit in the narrow coverage is in the wide one");
                prop_assert_eq!(before, after);
            }
        }

        /// Raising one arm's weight moves units only into that arm; lowering it moves units
        /// only out of it.
        #[test]
        fn changing_one_weight_moves_units_only_into_or_out_of_that_arm(
            weights in proptest::collection::vec(1u16..=10_000, 3),
            changed in 0usize..3,
            new_weight in 0u16..=10_000,
            unit in 0u32..1_000_000,
        ) {
            let rule = |weights: &[u16]| {
                let mut rule = VariantRule::new().coverage(100.0);
                for (name, w) in ARMS.iter().zip(weights) {
                    rule = rule.weight(*name, *w);
                }
                compile(&rule)
            };
            let mut after = weights.clone();
            after[changed] = new_weight;
            prop_assume!(after.iter().any(|w| *w > 0));
            let user = unit.to_string();
            let (before, now) = (arm_of(&rule(&weights), &user), arm_of(&rule(&after), &user));
            if before != now {
                let target = u8::try_from(changed).unwrap();
                if new_weight > weights[changed] {
                    prop_assert_eq!(now, target, "raising an arm moves units into it only");
                } else {
                    prop_assert_eq!(before, target, "lowering an arm moves units out of it only");
                }
            }
        }
    }

    /// Arms get shares proportional to their weights, and the draw of the arm is independent
    /// of the coverage bucket: units inside a coverage split as everyone does.
    #[test]
    fn arms_get_their_weights_share_independently_of_coverage() {
        let compiled = compile(
            &VariantRule::new()
                .coverage(100.0)
                .weight("classic", 5000)
                .weight("one_page", 3000)
                .weight("express", 2000),
        );
        let n = 100_000u32;
        // Arm counts among units whose bucket is below 30% (a narrower coverage), and above.
        let mut low = [0u32; 3];
        let mut high = [0u32; 3];
        for i in 0..n {
            let user = format!("user-{i}");
            let (bucket, _) = draw("checkout.checkout_flow", &user);
            let arm = usize::from(arm_of(&compiled, &user));
            if bucket < 3000 {
                low[arm] += 1;
            } else {
                high[arm] += 1;
            }
        }
        let expected = [0.5, 0.3, 0.2];
        for counts in [low, high] {
            let total: u32 = counts.iter().sum();
            // Chi-square with 2 degrees of freedom: its 0.999 quantile is 13.8.
            let chi2: f64 = counts
                .iter()
                .zip(expected)
                .map(|(&c, p)| {
                    let e = f64::from(total) * p;
                    (f64::from(c) - e).powi(2) / e
                })
                .sum();
            assert!(
                chi2 < 13.8,
                "arm counts {counts:?} of {total}: chi-square {chi2:.1}"
            );
        }
    }

    #[test]
    fn a_context_without_the_unit_gets_the_control() {
        let compiled = compile(&VariantRule::new().coverage(100.0).weight("express", 1));
        assert_eq!(
            compiled.evaluate(&Context::new(), &|_| true),
            (
                0,
                Decided::Split {
                    bucket: None,
                    coverage: 10_000
                }
            )
        );
        assert_eq!(arm_of(&compiled, "42"), 2);
        let sticky = compile(
            &VariantRule::new()
                .coverage(100.0)
                .weight("express", 1)
                .stickiness("org"),
        );
        assert_eq!(arm_of(&sticky, "42"), 0, "no `org` attribute: the control");
    }
}
