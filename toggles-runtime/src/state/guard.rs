//! Guarded rollouts: each tick drains every flag's recorded outcomes, shares them through the
//! store when it keeps them, and trips any guard whose window passes its limit — at once in
//! this process, and through an audited write for the fleet, retried until it lands.
//!
//! # The trade-off
//!
//! A store that keeps outcomes (PostgreSQL) gives every instance the fleet's totals: each
//! instance writes one row per guarded flag per tick (not per request), and a guard decides on
//! everyone's traffic, so a rollout failing on one small instance in ten still trips on the
//! fleet's rate, and one instance's noise does not. The memory and file stores keep none: each
//! process decides on its own counts, which is what one process can know — faster to trip on a
//! busy instance, blind to a failure spread thin across many. Either way the trip is an
//! ordinary write, so the flag is off fleet-wide once one instance's write lands.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value as Json;

use crate::compile::{Change, Revision};
use crate::declare::{registry, Cells, Counts};
use crate::state::install::{installed, installed_instance};
use crate::state::retained;
use crate::stores::{AuditQuery, Store, WriteError};
use crate::targeting::{FlagRule, Timestamp};

/// How often an installation checks its guards unless told otherwise
/// ([`Installer::guard_tick`](crate::Installer::guard_tick)). Each tick writes at most one row per
/// guarded flag to a store that keeps outcomes.
pub const GUARD_TICK: Duration = Duration::from_secs(10);

/// The audit log's actor for a guard's write.
pub const GUARD_ACTOR: &str = "guard";

/// A trip whose write has not landed yet: the flag is off in this process meanwhile.
struct Pending {
    /// The stored rule the guard tripped on: the write goes through only if it is still there.
    rule: Json,
    /// The audit entry's reason.
    reason: String,
}

#[derive(Default)]
struct Guards {
    /// Per flag: this process's counts per tick, oldest first.
    windows: HashMap<String, VecDeque<(Timestamp, Counts)>>,
    /// Per guarded flag: the stored rule being watched, and since when. A new rule (re-enabled,
    /// widened) starts its window afresh.
    armed: HashMap<String, (Json, Timestamp)>,
    /// Counts not yet accepted by a store that keeps outcomes.
    unshared: BTreeMap<String, Counts>,
    /// Trips whose write has not landed.
    pending: BTreeMap<String, Pending>,
}

static GUARDS: OnceLock<Mutex<Guards>> = OnceLock::new();

fn guards() -> std::sync::MutexGuard<'static, Guards> {
    GUARDS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Full names of flags whose guard tripped and whose write has not landed: in [`status`](crate::status).
pub(crate) fn pending() -> Vec<String> {
    guards().pending.keys().cloned().collect()
}

/// Turns off, in `snapshot`, every flag whose trip has not landed while the store still holds
/// the rule it tripped on: what this process puts in force until the write lands.
pub(crate) fn patch(snapshot: &mut crate::compile::Snapshot) {
    let guards = guards();
    for (name, pending) in &guards.pending {
        if let Some(rule) = snapshot.flags.get_mut(name).filter(|r| **r == pending.rule) {
            if let Some(object) = rule.as_object_mut() {
                object.insert("active".to_owned(), Json::Bool(false));
            }
        }
    }
}

/// Checks every guard now: drains the outcomes recorded since the last check, shares them when
/// the installed store keeps outcomes, trips any guard over its limit, and retries trips whose
/// write has not landed. An installation's guard thread calls it every tick
/// ([`Installation::check_guards`](crate::Installation::check_guards) calls it at once).
///
/// Per process or fleet-wide: a store that keeps outcomes (PostgreSQL) receives each
/// instance's counts once per tick, one row per guarded flag, and a guard then decides on the
/// fleet's totals — a rollout failing on a small share of instances trips on the fleet's rate,
/// and one instance's noise does not. The memory and file stores keep none, and each process
/// decides on its own counts: quicker to trip on a busy instance, blind to a failure spread
/// thin across many. Either way the trip is an ordinary write, so once it lands the flag is off
/// wherever the store is followed.
///
/// Returns the full names of the flags tripped by this call.
pub(crate) fn check_guards() -> Vec<String> {
    let now = Timestamp::now();
    let installed = installed();
    let store = installed.as_ref().map(|(store, _)| Arc::clone(store));
    let guarded = guarded_rules();

    // Under the guards' lock only what is in memory; the store is asked outside it.
    let (unshared, watched) = {
        let mut g = guards();
        drain(&mut g, &guarded, now);
        let watched: Vec<Watched> = guarded
            .into_iter()
            .filter(|(name, _, _)| !g.pending.contains_key(name))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(name, json, rule)| {
                let since = window_start(&mut g, &name, &json, &rule, now);
                let local = local_counts(&g, &name, since);
                Watched {
                    name,
                    json,
                    rule,
                    local,
                }
            })
            .collect();
        (std::mem::take(&mut g.unshared), watched)
    };
    let shared = share(store.as_deref(), &unshared, now);
    let fleet: Vec<Option<Counts>> = watched
        .iter()
        .map(|w| match (shared, store.as_deref()) {
            (Some(true), Some(s)) => fleet_counts(s, w, now),
            _ => None,
        })
        .collect();

    let mut tripped = Vec::new();
    let writes: Vec<(String, Json, String)> = {
        let mut g = guards();
        if shared.is_none() {
            // Kept for the next tick: nothing is lost while the store is down.
            for (name, counts) in unshared {
                *g.unshared.entry(name).or_default() += counts;
            }
        }
        for (w, fleet) in watched.into_iter().zip(fleet) {
            let guard = w.rule.guard.as_ref().expect("filtered on a guard");
            let Some(trip) = guard.verdict(&fleet.unwrap_or(w.local)) else {
                continue;
            };
            let scope = if fleet.is_some() {
                "across the fleet"
            } else {
                "in this process"
            };
            let reason = format!(
                "guard tripped: {trip} over the last {}s {scope}",
                guard.window_secs
            );
            tracing::warn!(toggle = %w.name, %reason, "toggles: a guard turned a flag off");
            g.pending.insert(
                w.name.clone(),
                Pending {
                    rule: w.json,
                    reason,
                },
            );
            tripped.push(w.name);
        }
        g.pending
            .iter()
            .map(|(name, p)| (name.clone(), p.rule.clone(), p.reason.clone()))
            .collect()
    };
    if !tripped.is_empty() {
        // Off in this process at once, whatever becomes of the write.
        crate::state::install::apply_trips();
    }
    if let Some((store, _)) = &installed {
        for (name, rule, reason) in writes {
            land(&**store, &name, &rule, &reason);
        }
    }
    tripped
}

/// A guarded flag this tick: its rule, and this process's counts in its window.
struct Watched {
    name: String,
    json: Json,
    rule: FlagRule,
    local: Counts,
}

/// The guarded rules in force: active, with a guard, as the store holds them.
fn guarded_rules() -> Vec<(String, Json, FlagRule)> {
    let Some(compiled) = retained::newest() else {
        return Vec::new();
    };
    compiled
        .snapshot
        .flags
        .iter()
        .filter(|(_, json)| json.get("guard").is_some())
        .filter_map(|(name, json)| {
            let rule: FlagRule = serde_json::from_value(json.clone()).ok()?;
            (rule.active && rule.guard.is_some()).then(|| (name.to_owned(), json.clone(), rule))
        })
        .collect()
}

/// Where `name`'s window of this process's counts starts: `window_secs` ago, or when this
/// process first saw the rule in force, whichever is later (a new rule is a new rollout).
fn window_start(
    g: &mut Guards,
    name: &str,
    json: &Json,
    rule: &FlagRule,
    now: Timestamp,
) -> Timestamp {
    let armed_since = match g.armed.get(name) {
        Some((watched, since)) if watched == json => *since,
        _ => {
            g.armed.insert(name.to_owned(), (json.clone(), now));
            now
        }
    };
    let window = rule.guard.as_ref().map_or(0, |g| g.window_secs);
    let window = i64::try_from(window).unwrap_or(i64::MAX);
    Timestamp::from_unix_seconds(
        now.unix_seconds()
            .saturating_sub(window)
            .max(armed_since.unix_seconds()),
    )
}

/// Takes every flag's counts since the last tick into its window; forgets counts older than
/// the longest guard's window, and those of flags with no guard.
fn drain(g: &mut Guards, guarded: &[(String, Json, FlagRule)], now: Timestamp) {
    let longest: BTreeMap<&str, i64> = guarded
        .iter()
        .map(|(name, _, rule)| {
            let secs = rule.guard.as_ref().map_or(0, |g| g.window_secs);
            (name.as_str(), i64::try_from(secs).unwrap_or(i64::MAX))
        })
        .collect();
    for info in registry() {
        let Cells::Flag(flag) = info.toggle().cells() else {
            continue;
        };
        let counts = flag.take_outcomes();
        let name = info.full_name();
        let Some(&window) = longest.get(name) else {
            g.windows.remove(name);
            continue;
        };
        let ticks = g.windows.entry(name.to_owned()).or_default();
        if !counts.is_empty() {
            ticks.push_back((now, counts));
            *g.unshared.entry(name.to_owned()).or_default() += counts;
        }
        let oldest = now.unix_seconds().saturating_sub(window);
        while ticks
            .front()
            .is_some_and(|(at, _)| at.unix_seconds() < oldest)
        {
            ticks.pop_front();
        }
    }
    g.armed
        .retain(|name, _| longest.contains_key(name.as_str()));
}

/// Hands `counts` to the store: `Some(true)` if it keeps outcomes and took them, `Some(false)`
/// if it keeps none, `None` if it failed (the counts are then kept for the next tick).
fn share(
    store: Option<&dyn Store>,
    counts: &BTreeMap<String, Counts>,
    now: Timestamp,
) -> Option<bool> {
    let Some(store) = store else {
        return Some(false);
    };
    let counts: Vec<(String, Counts)> = counts.iter().map(|(n, c)| (n.clone(), *c)).collect();
    let instance = installed_instance().unwrap_or_default();
    match store.record_outcomes(&instance, now, &counts) {
        Ok(keeps) => Some(keeps),
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: outcome counts not shared; trying again next tick");
            None
        }
    }
}

/// The fleet's counts for `w` since its window starts: `window_secs` ago, or at the rule's last
/// audited change, whichever is later. Every instance reads the same audit log, so all agree on
/// where the window starts — unlike when each of them first saw the rule — and counts from
/// before a person re-enabled the flag stay out of it. `None` when the store cannot say: this
/// process then decides on its own counts.
fn fleet_counts(store: &dyn Store, w: &Watched, now: Timestamp) -> Option<Counts> {
    let window = w.rule.guard.as_ref().map_or(0, |g| g.window_secs);
    let window_start = now
        .unix_seconds()
        .saturating_sub(i64::try_from(window).unwrap_or(i64::MAX));
    let read = store
        .audit(&AuditQuery::toggle(&w.name).limit(1))
        .and_then(|newest| {
            let changed = newest.first().map_or(i64::MIN, |e| e.at.unix_seconds());
            let since = Timestamp::from_unix_seconds(window_start.max(changed));
            store.outcomes(&w.name, since)
        });
    match read {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, toggle = %w.name, "toggles: the fleet's outcome counts cannot be read; this process decides on its own");
            None
        }
    }
}

fn local_counts(g: &Guards, name: &str, since: Timestamp) -> Counts {
    g.windows
        .get(name)
        .into_iter()
        .flatten()
        .filter(|(at, _)| *at >= since)
        .fold(Counts::default(), |sum, (_, c)| sum + *c)
}

/// Writes a trip: `active: false` on the rule it tripped on, by [`GUARD_ACTOR`], if the store
/// still holds that rule. Landed, or overtaken by another write (another instance's trip, a
/// person's edit): no longer pending. The store down: pending, retried next tick.
fn land(store: &dyn Store, name: &str, rule: &Json, reason: &str) {
    let Ok(mut off) = serde_json::from_value::<FlagRule>(rule.clone()) else {
        guards().pending.remove(name);
        return;
    };
    off.active = false;
    let written = crate::state::write(
        Change::flag(name, off)
            .by(GUARD_ACTOR)
            .because(reason)
            .if_revision(Revision::of(Some(rule))),
    );
    match written {
        Ok(_) => {
            guards().pending.remove(name);
        }
        // Uninstalled meanwhile: nothing to land in.
        Err(WriteError::NoStore) => {}
        Err(WriteError::Store(e)) => {
            tracing::warn!(store = %store.describe(), error = %e, toggle = %name, "toggles: a guard's write did not land; the flag stays off in this process, and the write is retried next tick");
        }
        Err(_) => {
            // The rule changed since (another instance's trip, a person's edit): that write
            // wins, and what the store holds goes back in force.
            guards().pending.remove(name);
            let _ = crate::state::install::reload_installed();
        }
    }
}
