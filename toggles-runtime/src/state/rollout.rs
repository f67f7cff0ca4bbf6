//! Staged rollouts advancing: each guard tick raises every due plan's percent to its next
//! stage through an audited write that lands only on the rule the tick read, so a fleet of
//! instances ticking at once writes each advance once.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::compile::{Change, Revision};
use crate::declare::registry;
use crate::declare::Counts;
use crate::state::retained;
use crate::stores::{Store, WriteError};
use crate::targeting::{in_units, FlagRule, Timestamp};

/// The audit log's actor for a staged rollout's advance.
pub const ROLLOUT_ACTOR: &str = "rollout";

/// A guarded flag whose guard held this tick: what it judged on.
pub(crate) struct Held {
    /// The counts over the guard's window.
    pub(crate) counts: Counts,
    /// Where they come from: "across the fleet" or "in this process".
    pub(crate) scope: &'static str,
    pub(crate) window_secs: u64,
    /// The stored rule the guard judged under.
    pub(crate) rule: Json,
}

/// Advances every staged rollout in force that is due by `now`: its flag active, its plan
/// running, its stage held long enough and — for a guarded flag — its guard held this tick
/// (`held`) on at least the guard's `min_requests` outcomes under "on". Each advance is written
/// by [`ROLLOUT_ACTOR`] on the condition that the store still holds the rule read here; one
/// that lost to another write (another instance's advance, a person's) is dropped, and what
/// the store holds goes back in force. Returns the full names of the flags advanced.
pub(crate) fn advance_due(
    store: &dyn Store,
    now: Timestamp,
    held: &HashMap<String, Held>,
) -> Vec<String> {
    let Some(compiled) = retained::newest() else {
        return Vec::new();
    };
    let due: Vec<(String, Json, FlagRule, FlagRule)> = compiled
        .snapshot
        .flags
        .iter()
        // Only toggles this program declares: another service's is its own to advance.
        .filter(|(name, json)| json.get("plan").is_some() && registry().get(name).is_some())
        .filter_map(|(name, json)| {
            let rule: FlagRule = serde_json::from_value(json.clone()).ok()?;
            let next = rule.advanced(now)?;
            Some((name.to_owned(), json.clone(), rule, next))
        })
        .collect();
    let mut advanced = Vec::new();
    for (name, json, rule, next) in due {
        let Some(reason) = reason(&name, &json, &rule, &next, held) else {
            continue;
        };
        let written = crate::state::write(
            Change::flag(&name, next)
                .by(ROLLOUT_ACTOR)
                .because(&reason)
                .if_revision(Revision::of(Some(&json))),
        );
        match written {
            Ok(_) => {
                tracing::info!(toggle = %name, %reason, "toggles: a staged rollout advanced");
                advanced.push(name);
            }
            Err(WriteError::NoStore) => {}
            Err(WriteError::Store(e)) => {
                tracing::warn!(store = %store.describe(), error = %e, toggle = %name, "toggles: a staged rollout's advance did not land; it is tried again next tick");
            }
            Err(WriteError::Conflict { .. }) => {
                // Another instance advanced it, or a person changed it: theirs stands.
                let _ = crate::state::install::reload_installed();
            }
            Err(e) => {
                tracing::warn!(toggle = %name, error = %e, "toggles: a staged rollout's advance was refused; the plan stays where it is");
            }
        }
    }
    advanced
}

/// The audit reason for advancing `name` from `rule` to `next`, with the guard's figures;
/// `None` while its guard has not held this tick (tripped, its trip pending, or with fewer
/// outcomes than it needs to judge).
fn reason(
    name: &str,
    json: &Json,
    rule: &FlagRule,
    next: &FlagRule,
    held: &HashMap<String, Held>,
) -> Option<String> {
    let (plan, next_plan) = (rule.plan.as_ref()?, next.plan.as_ref()?);
    let held_for = plan.stages.get(plan.stage)?.hold_secs?;
    let climb = format!(
        "staged rollout: {} after {} held, now {}",
        plan.position(),
        in_units(held_for),
        next_plan.position()
    );
    let Some(guard) = &rule.guard else {
        return Some(format!("{climb}; no guard"));
    };
    // Judged on the rule the advance is written on, or not at all (it changed mid-tick).
    let h = held.get(name).filter(|h| h.rule == *json)?;
    let c = &h.counts;
    let on = c.on_ok + c.on_err;
    if on < guard.min_requests.max(1) {
        tracing::debug!(toggle = %name, outcomes = on, needed = guard.min_requests, "toggles: a staged rollout waits for its guard to have enough outcomes to judge");
        return None;
    }
    Some(format!(
        "{climb}; guard held {} on the stage's last {}s: the on arm's errors {} of {on}, the off arm's {} of {}",
        h.scope,
        h.window_secs,
        c.on_err,
        c.off_err,
        c.off_ok + c.off_err
    ))
}
