//! What can be wrong with a flag rule on its own, before it meets the other rules of a store.

use crate::targeting::bucket::Percent;
use crate::targeting::FlagRule;

/// Every problem of `rule` taken alone (`requires` is checked against the registry by
/// `compile`): a percent out of range or finer than a basis point, a window that ends before it
/// starts, an id listed both on and off, a group kind listed twice or unnamed, a constraint that
/// allows nothing, an empty `stickiness`.
pub(super) fn rule_problems(rule: &FlagRule) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(guard) = &rule.guard {
        problems.extend(guard.problems());
    }
    if let Some(p) = rule.percent {
        if let Err(e) = Percent::new(p) {
            problems.push(format!("`percent` {e}"));
        }
    }
    if let (Some(from), Some(until)) = (rule.from, rule.until) {
        if from >= until {
            problems.push(format!("`from` ({from}) must be before `until` ({until})"));
        }
    }
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
    for (attribute, values) in &rule.constraints {
        if values.is_empty() {
            problems.push(format!(
                "constraint `{attribute}` allows no value, so the flag could never be on"
            ));
        }
    }
    if rule.stickiness.as_deref() == Some("") {
        problems.push("`stickiness` names no attribute".to_owned());
    }
    problems
}

fn overlap<'a>(on: &'a [String], off: &[String]) -> Option<&'a str> {
    on.iter().find(|id| off.contains(id)).map(String::as_str)
}
