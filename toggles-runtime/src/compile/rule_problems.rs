//! What can be wrong with a flag or variant rule on its own, before it meets the other rules
//! of a store.

use std::collections::BTreeMap;

use crate::targeting::bucket::Percent;
use crate::targeting::MOST_ARMS;
use crate::targeting::{FlagRule, Timestamp, VariantRule};

/// Every problem of `rule` taken alone (`requires` is checked against the registry by
/// `compile`): a percent out of range or finer than a basis point, a window that ends before it
/// starts, an id listed both on and off, a group kind listed twice or unnamed, a constraint that
/// allows nothing, an empty `stickiness`.
pub(super) fn rule_problems(rule: &FlagRule) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(guard) = &rule.guard {
        problems.extend(guard.problems());
        // The off arm predicts the on arm's traffic only if the split alone sends units off:
        // a gate, a site list or a unit listed off would add to the off arm's traffic.
        let split = rule.percent.is_some_and(|p| p > 0.0 && p < 100.0)
            && rule.everyone.is_none()
            && ungated(
                (rule.from, rule.until),
                [&rule.environments, &rule.requires],
                &rule.constraints,
                rule.stickiness.as_deref(),
            )
            && rule.sites.on.is_empty()
            && rule.sites.off.is_empty()
            && rule.users.off.is_empty()
            && rule.groups.iter().all(|g| g.off.is_empty());
        if guard.max_traffic_drop.is_some() && !split {
            problems.push(
                "`guard.max_traffic_drop` predicts the on arm's traffic from the off arm's at the rule's split, so only the split may answer off: it needs a `percent` above 0 and below 100, and no `everyone`, `from`, `until`, `environments`, `requires`, `constraints`, `sites`, users or groups listed off, or `stickiness`"
                    .to_owned(),
            );
        }
    }
    if let Some(p) = rule.percent {
        if let Err(e) = Percent::new(p) {
            problems.push(format!("`percent` {e}"));
        }
    }
    if let Some(plan) = &rule.plan {
        problems.extend(plan.problems(rule));
    }
    gate_problems(
        &mut problems,
        (rule.from, rule.until),
        &rule.constraints,
        rule.stickiness.as_deref(),
        "the flag could never be on",
    );
    for (what, targets) in [("sites", &rule.sites), ("users", &rule.users)] {
        if let Some(id) = overlap(&targets.on, &targets.off) {
            problems.push(format!("`{id}` is listed both on and off in `{what}`"));
        }
    }
    for (i, g) in rule.groups.iter().enumerate() {
        if g.kind.is_empty() {
            problems.push("a group target has an empty `kind`".to_owned());
        }
        if rule.groups[..i]
            .iter()
            .any(|earlier| earlier.kind == g.kind)
        {
            problems.push(format!("group kind `{}` is listed twice", g.kind));
        }
        if let Some(id) = overlap(&g.on, &g.off) {
            problems.push(format!(
                "`{id}` is listed both on and off in group kind `{}`",
                g.kind
            ));
        }
    }
    problems
}

/// The problems of the parts flag and variant rules share: a window that ends before it
/// starts, a constraint that allows nothing (`never` says what that would mean), an empty
/// `stickiness`.
fn gate_problems(
    problems: &mut Vec<String>,
    (from, until): (Option<Timestamp>, Option<Timestamp>),
    constraints: &BTreeMap<String, Vec<String>>,
    stickiness: Option<&str>,
    never: &str,
) {
    if let (Some(from), Some(until)) = (from, until) {
        if from >= until {
            problems.push(format!("`from` ({from}) must be before `until` ({until})"));
        }
    }
    for (attribute, values) in constraints {
        if values.is_empty() {
            problems.push(format!(
                "constraint `{attribute}` allows no value, so {never}"
            ));
        }
    }
    if stickiness == Some("") {
        problems.push("`stickiness` names no attribute".to_owned());
    }
}

/// Whether a rule has no gate and no `stickiness`: every unit with a user id reaches its split.
fn ungated(
    (from, until): (Option<Timestamp>, Option<Timestamp>),
    lists: [&Vec<String>; 2],
    constraints: &BTreeMap<String, Vec<String>>,
    stickiness: Option<&str>,
) -> bool {
    from.is_none()
        && until.is_none()
        && lists.iter().all(|l| l.is_empty())
        && constraints.is_empty()
        && stickiness.is_none()
}

/// Every problem of the variant rule `rule` taken alone, for a toggle declaring `arms`: an id
/// pinned to two arms, a group kind listed twice or unnamed, a weight over 10,000, a coverage
/// out of range or finer than a basis point, a coverage with no weight to draw arms by, the
/// control dropped, more arms than a toggle has; and the gates' problems as a flag's. With
/// `names`, also an arm the toggle does not declare (the closest suggested): a write is checked
/// for those, while a load tolerates them — another version of the service, declaring another
/// set of arms, may have written the rule — and gives the control where they are named.
pub(super) fn variant_problems(
    rule: &VariantRule,
    (arms, control): (&[&str], usize),
    names: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if arms.len() > MOST_ARMS {
        problems.push(format!(
            "is declared with {} arms; a variant toggle has at most {MOST_ARMS}",
            arms.len()
        ));
    }
    if let Some(guard) = &rule.guard {
        problems.extend(guard.problems());
        // The control predicts an arm's traffic only if the draw alone decides who gets what,
        // and the control serves some of it.
        let control_serves = rule.coverage.is_some_and(|c| c < 100.0)
            || arms.iter().enumerate().any(|(i, a)| {
                (i == control || rule.dropped.iter().any(|d| d == a))
                    && rule.weights.get(*a).is_some_and(|w| *w > 0)
            });
        let split = rule.coverage.is_some_and(|c| c > 0.0)
            && control_serves
            && rule.everyone.is_none()
            && ungated(
                (rule.from, rule.until),
                [&rule.environments, &rule.requires],
                &rule.constraints,
                rule.stickiness.as_deref(),
            )
            && rule.sites.is_empty()
            && rule.users.is_empty()
            && rule.groups.is_empty();
        if guard.max_traffic_drop.is_some() && !split {
            problems.push(
                "`guard.max_traffic_drop` predicts each arm's traffic from the control's at the rule's weights, so only the draw may decide: it needs a `coverage` above 0 with the control serving some of it, and no `everyone`, `from`, `until`, `environments`, `requires`, `constraints`, or pins"
                    .to_owned(),
            );
        }
    }
    if let Some(control) = arms
        .get(control)
        .filter(|c| rule.dropped.iter().any(|d| d == *c))
    {
        problems.push(format!(
            "`dropped` names `{control}`, the control, which everyone else falls back to: it cannot be dropped"
        ));
    }
    for (arm, place) in rule.arms_named().into_iter().filter(|_| names) {
        if !arms.contains(&arm) {
            let hint = crate::compile::compiled::closest(arm, arms.iter().copied())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            problems.push(format!(
                "{place} names arm `{arm}`, which is not one of its arms ({}){hint}",
                arms.join(", ")
            ));
        }
    }
    let coverage = rule.coverage.map(Percent::new);
    if let Some(Err(e)) = coverage {
        problems.push(format!("`coverage` {e}"));
    }
    for (arm, weight) in &rule.weights {
        if *weight > 10_000 {
            problems.push(format!(
                "the weight of `{arm}` is from 0 to 10,000, not {weight}"
            ));
        }
    }
    let weighted = rule.weights.values().any(|w| *w > 0);
    if matches!(coverage, Some(Ok(c)) if c != Percent::NONE) && !weighted {
        problems.push(
            "`coverage` takes units into the experiment, but no arm has a weight to draw them by: give `weights`"
                .to_owned(),
        );
    }
    gate_problems(
        &mut problems,
        (rule.from, rule.until),
        &rule.constraints,
        rule.stickiness.as_deref(),
        "the experiment could never run",
    );
    pinned_twice(&mut problems, "`sites`", &rule.sites);
    pinned_twice(&mut problems, "`users`", &rule.users);
    for (i, g) in rule.groups.iter().enumerate() {
        if g.kind.is_empty() {
            problems.push("a group pin has an empty `kind`".to_owned());
        }
        if rule.groups[..i]
            .iter()
            .any(|earlier| earlier.kind == g.kind)
        {
            problems.push(format!("group kind `{}` is listed twice", g.kind));
        }
        pinned_twice(&mut problems, &format!("group kind `{}`", g.kind), &g.arms);
    }
    problems
}

/// An id pinned to two arms in one list of pins.
fn pinned_twice(problems: &mut Vec<String>, place: &str, pins: &BTreeMap<String, Vec<String>>) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (arm, ids) in pins {
        for id in ids {
            if let Some(first) = seen.insert(id, arm) {
                if first != arm {
                    problems.push(format!(
                        "`{id}` is pinned to both `{first}` and `{arm}` in {place}"
                    ));
                }
            }
        }
    }
}

fn overlap<'a>(on: &'a [String], off: &[String]) -> Option<&'a str> {
    on.iter().find(|id| off.contains(id)).map(String::as_str)
}
