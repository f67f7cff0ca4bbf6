//! Flag rules: every step of the evaluation order, and which step wins when two apply.
//! The store is process-wide, so these tests take turns (`serial`).

mod support;

use std::sync::MutexGuard;

use support::store::serial;
use toggles::rules::bucket::bucket;
use toggles::rules::FlagRule;
use toggles::store::{MemoryStore, Snapshot};
use toggles::{toggle, Change, Context, Flag, Step, Timestamp};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Show the new course outline; on unless a rule says otherwise.
#[toggle(namespace = "courseware", life = "temporary", remove_by = "2030-01-01")]
static NEW_OUTLINE: Flag = true;

/// The grading engine's new queue, which the new grader needs.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_QUEUE: Flag;

/// A store installed for one test, which keeps other tests out until dropped.
struct Installed {
    _toggles: toggles::Installation,
    _serial: MutexGuard<'static, ()>,
}

/// Installs a fresh store holding `rules`.
fn rules(rules: &[(&str, FlagRule)]) -> Installed {
    let serial = serial();
    let mut snapshot = Snapshot::default();
    for (name, rule) in rules {
        snapshot.apply(&Change::flag(*name, rule.clone()));
    }
    let toggles = toggles::install(MemoryStore::from(snapshot)).expect("valid rules");
    Installed {
        _toggles: toggles,
        _serial: serial,
    }
}

fn grader(rule: FlagRule) -> Installed {
    rules(&[("grading.new_grader", rule)])
}

#[track_caller]
fn check(ctx: &Context<'_>, enabled: bool, step: Step) {
    let why = NEW_GRADER.explain(ctx);
    assert_eq!((why.enabled, why.step), (enabled, step), "explain");
    assert_eq!(NEW_GRADER.is_enabled(ctx), enabled, "is_enabled");
}

fn user(id: &str) -> Context<'_> {
    Context::new().with_user(id)
}

/// A user id whose bucket under the grader's salt is below (`inside`) or not below `basis_points`.
fn user_for(basis_points: u16, inside: bool) -> String {
    (0..100_000)
        .map(|i| format!("user-{i}"))
        .find(|u| (bucket("grading.new_grader", u) < basis_points) == inside)
        .unwrap()
}

#[test]
fn no_rule_means_the_compiled_default() {
    let _g = rules(&[]);
    check(&user("1"), false, Step::Default);
    assert!(NEW_OUTLINE.is_enabled(&user("1")));
    assert_eq!(NEW_OUTLINE.explain(&user("1")).step, Step::Default);
}

#[test]
fn an_empty_rule_keeps_the_compiled_default() {
    let _g = rules(&[("courseware.new_outline", FlagRule::new())]);
    assert!(NEW_OUTLINE.is_enabled(&user("1")));
}

#[test]
fn inactive_is_off_for_everyone() {
    let _g = grader(
        FlagRule::new()
            .active(false)
            .everyone(true)
            .users_on(["1"])
            .sites_on(["s"]),
    );
    check(&user("1").with_site("s"), false, Step::Inactive);
}

#[test]
fn the_activation_window_gates() {
    let past: Timestamp = "2020-01-01T00:00:00Z".parse().unwrap();
    let future: Timestamp = "2999-01-01T00:00:00Z".parse().unwrap();
    {
        let _g = grader(FlagRule::new().window(Some(future), None).everyone(true));
        check(&user("1"), false, Step::OutsideWindow);
    }
    {
        let _g = grader(FlagRule::new().window(None, Some(past)).everyone(true));
        check(&user("1"), false, Step::OutsideWindow);
    }
    let _g = grader(
        FlagRule::new()
            .window(Some(past), Some(future))
            .everyone(true),
    );
    check(&user("1"), true, Step::Everyone);
}

#[test]
fn environments_gate() {
    let _g = grader(FlagRule::new().environments(["staging"]).everyone(true));
    check(
        &user("1").with_environment("production"),
        false,
        Step::Environment,
    );
    check(&user("1"), false, Step::Environment);
    check(&user("1").with_environment("staging"), true, Step::Everyone);
}

#[test]
fn requires_gates_on_another_flag() {
    let needs_queue = FlagRule::new().requires("grading.new_queue").everyone(true);
    {
        let _g = rules(&[("grading.new_grader", needs_queue.clone())]);
        check(
            &user("1"),
            false,
            Step::Requires {
                flag: "grading.new_queue".into(),
            },
        );
    }
    // The required flag is evaluated for the same context: on for user 7 only.
    let _g = rules(&[
        ("grading.new_grader", needs_queue),
        ("grading.new_queue", FlagRule::new().users_on(["7"])),
    ]);
    check(
        &user("1"),
        false,
        Step::Requires {
            flag: "grading.new_queue".into(),
        },
    );
    check(&user("7"), true, Step::Everyone);
}

#[test]
fn constraints_gate_on_attributes() {
    let _g = grader(
        FlagRule::new()
            .constraint("region", ["US", "RO"])
            .everyone(true),
    );
    let constraint = Step::Constraint {
        attribute: "region".into(),
    };
    check(&user("1"), false, constraint.clone());
    check(
        &user("1").with_attributes(&[("region", "FR")]),
        false,
        constraint,
    );
    check(
        &user("1").with_attributes(&[("region", "RO")]),
        true,
        Step::Everyone,
    );
}

#[test]
fn sites_users_and_groups_force_on_or_off() {
    let _g = grader(
        FlagRule::new()
            .sites_on(["beta.example.com"])
            .sites_off(["white-label.example.com"])
            .users_on(["1"])
            .users_off(["2"])
            .groups_on("course", ["course-a"])
            .groups_off("org", ["org-x"])
            .everyone(true),
    );
    check(
        &Context::new().with_site("beta.example.com"),
        true,
        Step::Site,
    );
    check(&user("2").with_site("beta.example.com"), true, Step::Site);
    check(
        &user("1").with_site("white-label.example.com"),
        false,
        Step::Site,
    );
    check(&user("1"), true, Step::User);
    check(&user("2"), false, Step::User);
    let in_course = [("course", "course-a")];
    check(
        &user("3").with_groups(&in_course),
        true,
        Step::Group {
            kind: "course".into(),
        },
    );
    let in_org = [("org", "org-x"), ("course", "course-b")];
    check(
        &user("3").with_groups(&in_org),
        false,
        Step::Group { kind: "org".into() },
    );
    check(&user("3"), true, Step::Everyone);
}

#[test]
fn group_kinds_apply_in_the_rules_order() {
    let both = [("org", "org-x"), ("course", "course-a")];
    {
        let _g = grader(
            FlagRule::new()
                .groups_on("course", ["course-a"])
                .groups_off("org", ["org-x"]),
        );
        check(
            &user("3").with_groups(&both),
            true,
            Step::Group {
                kind: "course".into(),
            },
        );
    }
    let _g = grader(
        FlagRule::new()
            .groups_off("org", ["org-x"])
            .groups_on("course", ["course-a"]),
    );
    check(
        &user("3").with_groups(&both),
        false,
        Step::Group { kind: "org".into() },
    );
}

#[test]
fn everyone_decides_for_the_rest() {
    let _g = grader(FlagRule::new().everyone(true));
    check(&Context::new(), true, Step::Everyone);
}

#[test]
fn percent_rolls_out_by_the_users_bucket() {
    let _g = grader(FlagRule::new().percent(30.0));
    let (inside, outside) = (user_for(3000, true), user_for(3000, false));
    let b_in = bucket("grading.new_grader", &inside);
    let b_out = bucket("grading.new_grader", &outside);
    check(
        &user(&inside),
        true,
        Step::Percent {
            bucket: Some(b_in),
            basis_points: 3000,
            stickiness: None,
        },
    );
    check(
        &user(&outside),
        false,
        Step::Percent {
            bucket: Some(b_out),
            basis_points: 3000,
            stickiness: None,
        },
    );
    // No unit to bucket: a partial rollout leaves the context out, and says why.
    let why = NEW_GRADER.explain(&Context::new());
    assert_eq!(
        why.step.to_string(),
        "no user id to bucket by (30% rollout)"
    );
    check(
        &Context::new(),
        false,
        Step::Percent {
            bucket: None,
            basis_points: 3000,
            stickiness: None,
        },
    );
}

#[test]
fn stickiness_and_salt_choose_the_unit_and_the_hash() {
    let _g = grader(
        FlagRule::new()
            .percent(50.0)
            .stickiness("account")
            .salt("shared-salt"),
    );
    let account = (0..100_000)
        .map(|i| format!("acct-{i}"))
        .find(|a| bucket("shared-salt", a) < 5000)
        .unwrap();
    let attributes = [("account", account.as_str())];
    let ctx = Context::new()
        .with_user("anyone")
        .with_attributes(&attributes);
    check(
        &ctx,
        true,
        Step::Percent {
            bucket: Some(bucket("shared-salt", &account)),
            basis_points: 5000,
            stickiness: Some("account".into()),
        },
    );
    check(
        &user("anyone"),
        false,
        Step::Percent {
            bucket: None,
            basis_points: 5000,
            stickiness: Some("account".into()),
        },
    );
}

#[test]
fn precedence_pairs() {
    // A site forced off beats a listed user.
    {
        let _g = grader(FlagRule::new().sites_off(["s"]).users_on(["1"]));
        check(&user("1").with_site("s"), false, Step::Site);
    }
    // A user forced off beats a group forced on.
    {
        let _g = grader(FlagRule::new().users_off(["1"]).groups_on("course", ["c"]));
        check(
            &user("1").with_groups(&[("course", "c")]),
            false,
            Step::User,
        );
    }
    // A group forced on beats `everyone = false`.
    {
        let _g = grader(FlagRule::new().groups_on("course", ["c"]).everyone(false));
        check(
            &user("1").with_groups(&[("course", "c")]),
            true,
            Step::Group {
                kind: "course".into(),
            },
        );
    }
    // `everyone` beats the percentage.
    {
        let _g = grader(FlagRule::new().everyone(false).percent(100.0));
        check(&user("1"), false, Step::Everyone);
    }
    // A gate beats a site forced on.
    {
        let _g = grader(FlagRule::new().constraint("region", ["US"]).sites_on(["s"]));
        check(
            &Context::new().with_site("s"),
            false,
            Step::Constraint {
                attribute: "region".into(),
            },
        );
    }
    // The kill switch beats the window, and a test override beats the kill switch.
    let _g = grader(
        FlagRule::new()
            .active(false)
            .window(Some("2999-01-01T00:00:00Z".parse().unwrap()), None),
    );
    check(&user("1"), false, Step::Inactive);
    let _on = toggles::testing::set(&NEW_GRADER, true);
    check(&user("1"), true, Step::TestOverride);
}

#[test]
fn zero_percent_is_nobody_even_for_a_flag_on_by_default() {
    let _g = rules(&[("courseware.new_outline", FlagRule::new().percent(0.0))]);
    for ctx in [Context::new(), user("1"), user("2")] {
        let why = NEW_OUTLINE.explain(&ctx);
        assert_eq!(
            NEW_OUTLINE.is_enabled(&ctx),
            why.enabled,
            "check and explain agree"
        );
        assert_eq!(
            (why.enabled, why.step),
            (
                false,
                Step::Percent {
                    bucket: None,
                    basis_points: 0,
                    stickiness: None
                }
            )
        );
    }
}

#[test]
fn a_full_rollout_is_everybody_even_without_a_user() {
    let _g = grader(FlagRule::new().percent(100.0));
    for ctx in [Context::new(), user("1")] {
        check(
            &ctx,
            true,
            Step::Percent {
                bucket: None,
                basis_points: 10_000,
                stickiness: None,
            },
        );
    }
}

#[test]
fn within_a_group_kind_off_wins_whatever_the_order() {
    let _g = grader(
        FlagRule::new()
            .groups_on("course", ["on-course"])
            .groups_off("course", ["off-course"]),
    );
    let kind = Step::Group {
        kind: "course".into(),
    };
    check(
        &user("1").with_groups(&[("course", "on-course"), ("course", "off-course")]),
        false,
        kind.clone(),
    );
    check(
        &user("1").with_groups(&[("course", "off-course"), ("course", "on-course")]),
        false,
        kind.clone(),
    );
    check(
        &user("1").with_groups(&[("course", "on-course")]),
        true,
        kind,
    );
}

#[test]
fn a_percent_finer_than_a_basis_point_is_refused_not_rounded() {
    let _g = grader(FlagRule::new());
    for (percent, message) in [
        (12.344, "write refused: `grading.new_grader` `percent` is held in whole basis points (0.01%): 12.344 is finer; write 12.34 or 12.35"),
        (0.004, "write refused: `grading.new_grader` `percent` is held in whole basis points (0.01%): 0.004 is finer; write 0 or 0.01"),
    ] {
        let change = Change::flag("grading.new_grader", FlagRule::new().percent(percent));
        let err = toggles::write(change.clone().by("ana").because("finer")).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    // 12.34 is whole basis points, though not exact in binary: accepted, as 1234.
    let change = Change::flag("grading.new_grader", FlagRule::new().percent(12.34));
    toggles::write(change.clone().by("ana").because("exact")).unwrap();
    let unit = user_for(1234, false);
    let unit_below = (0..100_000)
        .map(|i| format!("user-{i}"))
        .find(|u| bucket("grading.new_grader", u) == 1233)
        .unwrap();
    assert!(
        NEW_GRADER.is_enabled(&user(&unit_below)),
        "bucket 1233 < 1234"
    );
    assert!(!NEW_GRADER.is_enabled(&user(&unit)));
}

#[test]
fn a_context_answers_from_one_snapshot() {
    let _g = grader(FlagRule::new().everyone(false));
    let request = user("1");
    assert!(!NEW_GRADER.is_enabled(&request));
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().everyone(true))
            .by("ana")
            .because("launch"),
    )
    .unwrap();
    assert!(
        !NEW_GRADER.is_enabled(&request),
        "the request keeps the answer it started with"
    );
    assert!(
        NEW_GRADER.is_enabled(&user("1")),
        "a new request sees the change"
    );

    // A context pins the state in force when it is built, not at its first check.
    let built_before = user("1");
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().percent(0.0))
            .by("ana")
            .because("roll back"),
    )
    .unwrap();
    assert!(NEW_GRADER.is_enabled(&built_before));
    assert!(NEW_GRADER.explain(&built_before).enabled);
    assert!(!NEW_GRADER.is_enabled(&user("1")));
}

#[test]
fn a_burst_of_writes_does_not_cut_a_request_short() {
    let _g = grader(FlagRule::new().everyone(true));
    let request = user("1");
    // Answered from the flag's cached state, which leaves no trace of the state it came from.
    assert!(NEW_GRADER.is_enabled(&request));
    // Far more writes than the newest few states a count alone would keep.
    for i in 0..300 {
        let rule = if i % 2 == 0 {
            FlagRule::new().everyone(false)
        } else {
            FlagRule::new().percent(0.0)
        };
        toggles::write(
            Change::flag("grading.new_grader", rule)
                .by("ana")
                .because("burst"),
        )
        .unwrap();
    }
    assert!(
        NEW_GRADER.explain(&request).enabled,
        "the request still answers from the state it pinned"
    );
    assert!(NEW_GRADER.is_enabled(&request));
    assert!(
        !NEW_GRADER.is_enabled(&user("1")),
        "a new request sees the burst"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Through the statics and the store, whatever the rule, the context and the compiled
    /// default: the check and its explanation agree, and one context answers the same twice.
    #[test]
    fn checks_and_explanations_never_disagree(
        everyone in proptest::option::of(proptest::bool::ANY),
        basis_points in proptest::option::of(proptest::sample::select(vec![0u16, 1, 3000, 9999, 10_000])),
        users_on in proptest::collection::vec(proptest::sample::select(vec!["1", "2"]), 0..2),
        courses_off in proptest::collection::vec(proptest::sample::select(vec!["c1", "c2"]), 0..2),
        active in proptest::bool::weighted(0.8),
        who in proptest::option::of(proptest::sample::select(vec!["1", "2", "3"])),
        course in proptest::option::of(proptest::sample::select(vec!["c1", "c2", "c3"])),
    ) {
        let mut rule = FlagRule::new().active(active).users_on(users_on);
        if !courses_off.is_empty() {
            rule = rule.groups_off("course", courses_off);
        }
        rule.everyone = everyone;
        rule.percent = basis_points.map(|bp| f64::from(bp) / 100.0);
        let _g = rules(&[
            ("grading.new_grader", rule.clone()),
            ("courseware.new_outline", rule),
        ]);
        let groups: Vec<(&str, &str)> = course.iter().map(|c| ("course", *c)).collect();
        let mut ctx = Context::new().with_groups(&groups);
        if let Some(who) = who {
            ctx = ctx.with_user(who);
        }
        for flag in [&NEW_GRADER, &NEW_OUTLINE] {
            let first = flag.is_enabled(&ctx);
            proptest::prop_assert_eq!(flag.explain(&ctx).enabled, first);
            proptest::prop_assert_eq!(flag.is_enabled(&ctx), first);
        }
    }
}
