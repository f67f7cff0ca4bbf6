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
//!
//! Run times go the same way: a store that keeps them (PostgreSQL) receives each instance's
//! per tick, a row per flag and arm holding the buckets in use, and a guard judges the
//! fleet's; with the others each process judges what it measured of the code it runs.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value as Json;

use crate::compile::{Change, Revision};
use crate::declare::{registry, ArmOutcomes, Cells, Counts, RunTimes, Runs, Timings};
use crate::state::install::{installed, installed_instance};
use crate::state::retained;
use crate::state::rollout::Held;
use crate::stores::{OutcomeWindow, RunBuckets, Store, WriteError};
use crate::targeting::bucket::Percent;
use crate::targeting::{FlagRule, Guard, PlanState, Timestamp, VariantRule};

/// How often an installation checks its guards unless told otherwise
/// ([`Installer::guard_tick`](crate::Installer::guard_tick)). Each tick writes at most one row per
/// guarded flag to a store that keeps outcomes.
pub const GUARD_TICK: Duration = Duration::from_secs(10);

/// The audit log's actor for a guard's write.
pub const GUARD_ACTOR: &str = "guard";

/// A trip whose write has not landed yet: the flag is off (or the arm dropped) in this process
/// meanwhile.
struct Pending {
    /// What tripped: a flag, or an arm of a variant toggle.
    subject: Subject,
    /// The stored rule the guard tripped on: the write goes through only if it is still there.
    rule: Json,
    /// The audit entry's reason.
    reason: String,
}

/// What a guard watches: a flag (its "on" against its "off"), or one arm of a variant toggle
/// (against the control).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Subject {
    /// The toggle's full name.
    toggle: String,
    /// The arm, for a variant toggle's guard, and the control.
    arm: Option<(String, String)>,
}

impl Subject {
    /// The key its counts are kept and shared under: the toggle's name for a flag,
    /// `name#arm` for an arm.
    fn key(&self) -> String {
        match &self.arm {
            Some((arm, _)) => format!("{}#{arm}", self.toggle),
            None => self.toggle.clone(),
        }
    }
}

/// What one tick took of a guarded subject's outcomes in this process.
struct Tick {
    at: Timestamp,
    counts: Counts,
    /// Run times under the "on" arm (the arm, for a variant's), and the "off" arm (the control).
    on: Runs,
    off: Runs,
}

#[derive(Default)]
struct Guards {
    /// Per flag: this process's outcomes per tick, oldest first.
    windows: HashMap<String, VecDeque<Tick>>,
    /// Per guarded flag: the stored rule being watched, and since when. A new rule (re-enabled,
    /// widened) starts its window afresh.
    armed: HashMap<String, (Json, Timestamp)>,
    /// What a store that keeps outcomes has not accepted yet.
    unshared: Unshared,
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

/// Turns off, in `snapshot`, every flag (and drops every arm) whose trip has not landed while
/// the store still holds the rule it tripped on: what this process puts in force until the
/// write lands.
pub(crate) fn patch(snapshot: &mut crate::compile::Snapshot) {
    let guards = guards();
    // A toggle's trips — one for a flag, one per tripped arm — each stand on the rule the store
    // held; those still standing are applied together.
    let mut by_toggle: BTreeMap<(bool, &str), Vec<&Pending>> = BTreeMap::new();
    for pending in guards.pending.values() {
        let subject = &pending.subject;
        by_toggle
            .entry((subject.arm.is_some(), subject.toggle.as_str()))
            .or_default()
            .push(pending);
    }
    for ((arm, toggle), trips) in by_toggle {
        let section = if arm {
            &mut snapshot.variants
        } else {
            &mut snapshot.flags
        };
        let Some(rule) = section.get_mut(toggle) else {
            continue;
        };
        let standing: Vec<(&Subject, &str)> = trips
            .iter()
            .filter(|p| p.rule == *rule)
            .map(|p| (&p.subject, p.reason.as_str()))
            .collect();
        if let Some(tripped) = tripped_all(rule, &standing) {
            *rule = tripped;
        }
    }
}

/// `rule` with every one of `trips` (what tripped, and why) applied; `None` when there is none
/// to apply or the rule cannot be read.
fn tripped_all(rule: &Json, trips: &[(&Subject, &str)]) -> Option<Json> {
    let ((subject, reason), rest) = trips.split_first()?;
    rest.iter().try_fold(
        tripped(rule, subject, reason)?,
        |rule, (subject, reason)| tripped(&rule, subject, reason),
    )
}

/// The rule `rule` becomes when `subject`'s guard trips for `reason`: the flag inactive (and
/// its staged rollout, unless done, stopped with the reason), or the arm dropped.
fn tripped(rule: &Json, subject: &Subject, reason: &str) -> Option<Json> {
    match &subject.arm {
        None => {
            let mut off = serde_json::from_value::<FlagRule>(rule.clone()).ok()?;
            off.active = false;
            if let Some(plan) = off.plan.as_mut() {
                if matches!(plan.state, PlanState::Running | PlanState::Paused) {
                    plan.state = PlanState::Stopped;
                    plan.stopped = Some(reason.to_owned());
                }
            }
            serde_json::to_value(off).ok()
        }
        Some((arm, _)) => {
            let mut dropped = serde_json::from_value::<VariantRule>(rule.clone()).ok()?;
            if !dropped.dropped.contains(arm) {
                dropped.dropped.push(arm.clone());
            }
            serde_json::to_value(dropped).ok()
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
    check_guards_at(Timestamp::now())
}

/// [`check_guards`] as of `now`: the tick's outcomes are stamped with it and windows end at
/// it, so a test's clock decides what is in a window.
pub(crate) fn check_guards_at(now: Timestamp) -> Vec<String> {
    let installed = installed();
    let store = installed.as_ref().map(|(store, _)| Arc::clone(store));
    let guarded = guarded_rules();

    // Under the guards' lock only what is in memory; the store is asked outside it.
    let (mut unshared, watched) = {
        let mut g = guards();
        drain(&mut g, &guarded, now);
        let watched: Vec<Watched> = guarded
            .into_iter()
            .filter(|(subject, _, _, _)| !g.pending.contains_key(&subject.key()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(subject, json, guard, split)| {
                let key = subject.key();
                let since = window_start(&mut g, &key, &json, &guard, now);
                let (local, runs) = local_outcomes(&g, &key, since, guard.times_runs());
                Watched {
                    subject,
                    json,
                    guard,
                    local,
                    runs,
                    split,
                }
            })
            .collect();
        (std::mem::take(&mut g.unshared), watched)
    };
    // Run times are shared only for the guards that judge them.
    let timed: BTreeSet<String> = watched
        .iter()
        .filter(|w| w.runs.is_some())
        .map(|w| w.subject.key())
        .collect();
    unshared.runs.retain(|key, _| timed.contains(key));
    let view = FleetView::read(store.as_deref(), &unshared, &watched, now);

    let mut tripped = Vec::new();
    // Flags whose guard held this tick, with what it judged on: their staged rollouts may
    // advance.
    let mut held: HashMap<String, Held> = HashMap::new();
    let writes: Vec<(String, Json, String)> = {
        let mut g = guards();
        view.keep_unshared(&mut g.unshared, unshared);
        for ((mut w, fleet), fleet_runs) in watched.into_iter().zip(view.counts).zip(view.runs) {
            let counts = fleet.unwrap_or(w.local);
            let runs_fleet = fleet_runs.is_some();
            if fleet_runs.is_some() {
                w.runs = fleet_runs;
            }
            let Some(trip) = w.judge(&counts) else {
                if w.subject.arm.is_none() {
                    let scope = if fleet.is_some() {
                        "across the fleet"
                    } else {
                        "in this process"
                    };
                    let window_secs = w.guard.window_secs;
                    let held_on = Held {
                        counts,
                        scope,
                        window_secs,
                        rule: w.json,
                    };
                    held.insert(w.subject.toggle, held_on);
                }
                continue;
            };
            let key = w.subject.key();
            let pending = w.tripped(&trip, fleet.is_some(), runs_fleet);
            g.pending.insert(key.clone(), pending);
            tripped.push(key);
        }
        g.pending
            .iter()
            .map(|(key, p)| (key.clone(), p.rule.clone(), p.reason.clone()))
            .collect()
    };
    if !tripped.is_empty() {
        // Off in this process at once, whatever becomes of the write.
        crate::state::install::apply_trips();
    }
    if let Some((store, _)) = &installed {
        for (key, rule, reason) in writes {
            land(&**store, &key, &rule, &reason);
        }
        crate::state::rollout::advance_due(&**store, now, &held);
    }
    tripped
}

/// A guarded flag or arm this tick: the rule it is watched under, its guard, and this
/// process's counts in its window.
struct Watched {
    subject: Subject,
    json: Json,
    guard: Guard,
    local: Counts,
    /// This process's run times in the window, "on" (or the arm) and "off" (or the control),
    /// for a guard with a run-time limit.
    runs: Option<(Timings, Timings)>,
    /// The proportion (on, off) the arms serve traffic in when nothing is wrong.
    split: Option<(u64, u64)>,
}

impl Watched {
    /// The pending trip of `trip`, its reason in words and logged; `fleet` when it was judged
    /// on the fleet's counts, `runs_fleet` on the fleet's run times.
    fn tripped(self, trip: &crate::targeting::Trip, fleet: bool, runs_fleet: bool) -> Pending {
        let across = if trip.latency.is_some() {
            runs_fleet
        } else {
            fleet
        };
        let scope = if across {
            "across the fleet"
        } else {
            "in this process"
        };
        let what = match &self.subject.arm {
            Some((arm, control)) => trip.of_arm(arm, control),
            None => trip.to_string(),
        };
        let reason = format!(
            "guard tripped: {what} over the last {}s {scope}",
            self.guard.window_secs
        );
        match &self.subject.arm {
            Some((arm, _)) => {
                tracing::warn!(toggle = %self.subject.toggle, %arm, %reason, "toggles: a guard dropped an arm to the control");
            }
            None => {
                tracing::warn!(toggle = %self.subject.toggle, %reason, "toggles: a guard turned a flag off");
            }
        }
        Pending {
            subject: self.subject,
            rule: self.json,
            reason,
        }
    }

    /// Whether `counts` (this process's or the fleet's) and this process's run times trip the
    /// guard: the error limits first, then the run times', then the traffic's.
    fn judge(&self, counts: &Counts) -> Option<crate::targeting::Trip> {
        let guard = &self.guard;
        guard
            .verdict(counts)
            .or_else(|| {
                let (on, off) = self.runs.as_ref()?;
                guard.run_time_verdict(counts, on, off)
            })
            .or_else(|| {
                self.split
                    .and_then(|split| guard.traffic_verdict(counts, split))
            })
    }
}

/// A guarded subject in force: what it is, the stored rule, its guard, and the proportion
/// (on, off) its arms serve traffic in when nothing is wrong (for a traffic limit).
type Guarded = (Subject, Json, Guard, Option<(u64, u64)>);

/// The guarded rules in force, as the store holds them: each active flag with a guard, and
/// each arm of a variant toggle with a guard but the control and the arms already dropped.
fn guarded_rules() -> Vec<Guarded> {
    let Some(compiled) = retained::newest() else {
        return Vec::new();
    };
    let flags = compiled
        .snapshot
        .flags
        .iter()
        .filter(|(_, json)| json.get("guard").is_some())
        .filter_map(|(name, json)| {
            let rule: FlagRule = serde_json::from_value(json.clone()).ok()?;
            let guard = rule.guard.filter(|_| rule.active)?;
            let subject = Subject {
                toggle: name.to_owned(),
                arm: None,
            };
            // A traffic limit is refused on a rule whose "off" answers come from anything but
            // the split, so the percent is the proportion.
            let split = rule.percent.and_then(|p| Percent::new(p).ok()).map(|p| {
                let on = u64::from(p.basis_points());
                (on, 10_000 - on)
            });
            Some((subject, json.clone(), guard, split))
        });
    let arms = compiled
        .snapshot
        .variants
        .iter()
        .filter(|(_, json)| json.get("guard").is_some())
        .filter_map(|(name, json)| {
            let rule: VariantRule = serde_json::from_value(json.clone()).ok()?;
            let guard = rule.guard.clone().filter(|_| rule.active)?;
            let Cells::Variant(cells) = registry().get(name)?.toggle().cells() else {
                return None;
            };
            let control = cells.arms[cells.control];
            let watched: Vec<_> = cells
                .arms
                .iter()
                .filter(|arm| **arm != control && !rule.dropped.iter().any(|d| d == *arm))
                .map(|arm| {
                    let subject = Subject {
                        toggle: name.to_owned(),
                        arm: Some(((*arm).to_owned(), control.to_owned())),
                    };
                    let split = arm_split(&rule, cells.arms, arm, control);
                    (subject, json.clone(), guard.clone(), split)
                })
                .collect();
            Some(watched)
        })
        .flatten();
    flags.chain(arms).collect()
}

/// The proportion (arm, control) in which `arm` and the control serve traffic when nothing is
/// wrong: the arm's part of the covered units' weights, against the control's part plus the
/// units outside the coverage and those of dropped arms, which the control serves — in whole
/// numbers (basis points of coverage times weights), over the arms this process declares.
fn arm_split(rule: &VariantRule, arms: &[&str], arm: &str, control: &str) -> Option<(u64, u64)> {
    let coverage = u64::from(Percent::new(rule.coverage?).ok()?.basis_points());
    let weight = |name: &str| u64::from(rule.weights.get(name).copied().unwrap_or(0));
    let total: u64 = arms.iter().map(|a| weight(a)).sum();
    let dropped: u64 = arms
        .iter()
        .filter(|a| **a != control && rule.dropped.iter().any(|d| d == *a))
        .map(|a| weight(a))
        .sum();
    if total == 0 {
        return None;
    }
    let ours = coverage * weight(arm);
    let controls = (10_000 - coverage) * total + coverage * (weight(control) + dropped);
    Some((ours, controls))
}

/// Where `name`'s window of this process's counts starts: `window_secs` ago, or when this
/// process first saw the rule in force, whichever is later (a new rule is a new rollout).
fn window_start(
    g: &mut Guards,
    name: &str,
    json: &Json,
    guard: &Guard,
    now: Timestamp,
) -> Timestamp {
    let armed_since = match g.armed.get(name) {
        Some((watched, since)) if watched == json => *since,
        _ => {
            g.armed.insert(name.to_owned(), (json.clone(), now));
            now
        }
    };
    let window = i64::try_from(guard.window_secs).unwrap_or(i64::MAX);
    Timestamp::from_unix_seconds(
        now.unix_seconds()
            .saturating_sub(window)
            .max(armed_since.unix_seconds()),
    )
}

/// Takes every flag's counts since the last tick into its window; forgets counts older than
/// the longest guard's window, and those of flags with no guard.
fn drain(g: &mut Guards, guarded: &[Guarded], now: Timestamp) {
    let longest: BTreeMap<String, i64> = guarded
        .iter()
        .map(|(subject, _, guard, _)| {
            let secs = i64::try_from(guard.window_secs).unwrap_or(i64::MAX);
            (subject.key(), secs)
        })
        .collect();
    for info in registry() {
        let name = info.full_name();
        match info.toggle().cells() {
            Cells::Flag(flag) => {
                let [on, off] = flag.take_run_times();
                let tick = Tick {
                    at: now,
                    counts: flag.take_outcomes(),
                    on,
                    off,
                };
                keep(g, &longest, name.to_owned(), tick);
            }
            Cells::Variant(cells) => {
                let per_arm = cells
                    .outcomes
                    .get()
                    .map(ArmOutcomes::take)
                    .unwrap_or_default();
                let times = cells
                    .run_times
                    .get()
                    .map(RunTimes::take)
                    .unwrap_or_default();
                let timings = |i: usize| times.get(i).cloned().unwrap_or_default();
                let (control_ok, control_err) =
                    per_arm.get(cells.control).copied().unwrap_or_default();
                for (i, arm) in cells.arms.iter().enumerate() {
                    if i == cells.control {
                        continue;
                    }
                    let (ok, err) = per_arm.get(i).copied().unwrap_or_default();
                    let tick = Tick {
                        at: now,
                        counts: Counts::new(ok, err, control_ok, control_err),
                        on: timings(i),
                        off: timings(cells.control),
                    };
                    keep(g, &longest, format!("{name}#{arm}"), tick);
                }
            }
            _ => {}
        }
    }
    g.armed.retain(|key, _| longest.contains_key(key));
}

/// Takes `tick` of the guarded subject `key` into its window (and its counts into the unshared
/// ones), and lets go of what fell out of the window; forgets a subject no guard watches.
fn keep(g: &mut Guards, longest: &BTreeMap<String, i64>, key: String, tick: Tick) {
    let Some(&window) = longest.get(&key) else {
        g.windows.remove(&key);
        return;
    };
    if !tick.counts.is_empty() {
        *g.unshared.counts.entry(key.clone()).or_default() += tick.counts;
    }
    if !(tick.on.is_empty() && tick.off.is_empty()) {
        let (on, off) = g.unshared.runs.entry(key.clone()).or_default();
        on.merge(&tick.on);
        off.merge(&tick.off);
    }
    let oldest = tick.at.unix_seconds().saturating_sub(window);
    let ticks = g.windows.entry(key).or_default();
    if !(tick.counts.is_empty() && tick.on.is_empty() && tick.off.is_empty()) {
        ticks.push_back(tick);
    }
    while ticks.front().is_some_and(|t| t.at.unix_seconds() < oldest) {
        ticks.pop_front();
    }
}

/// What this process has not yet handed to a store that keeps outcomes: counts per guarded
/// key, and the run times of guards with a run-time limit.
#[derive(Default)]
struct Unshared {
    counts: BTreeMap<String, Counts>,
    runs: BTreeMap<String, (Runs, Runs)>,
}

/// What one tick handed the store and read back of the fleet.
struct FleetView {
    /// For counts, then run times: `Some(true)` if the store keeps them and took this
    /// process's, `Some(false)` if it keeps none, `None` if it failed (kept for the next tick).
    shared: (Option<bool>, Option<bool>),
    /// Per watched subject, the fleet's counts in its window, where the store could say.
    counts: Vec<Option<Counts>>,
    /// Per watched subject with a run-time limit, the fleet's run times in its window.
    runs: Vec<Option<(Timings, Timings)>>,
}

impl FleetView {
    /// Hands `unshared` to `store` (stamped `now`), then reads the fleet's counts and run
    /// times for `watched`: a statement or two each for a database, however many subjects.
    fn read(
        store: Option<&dyn Store>,
        unshared: &Unshared,
        watched: &[Watched],
        now: Timestamp,
    ) -> FleetView {
        let Some(store) = store else {
            return FleetView {
                shared: (Some(false), Some(false)),
                counts: nones(watched.len()),
                runs: nones(watched.len()),
            };
        };
        let instance = installed_instance().unwrap_or_default();
        let counts: Vec<(String, Counts)> = unshared
            .counts
            .iter()
            .map(|(n, c)| (n.clone(), *c))
            .collect();
        let shared_counts = shared(
            store,
            "outcome counts",
            store.record_outcomes(&instance, now, &counts),
        );
        let runs: Vec<(String, RunBuckets)> = unshared
            .runs
            .iter()
            .map(|(key, (on, off))| {
                let buckets = RunBuckets::new(on.buckets().to_vec(), off.buckets().to_vec());
                (key.clone(), buckets)
            })
            .collect();
        let shared_runs = match shared_counts {
            // A store that keeps no counts keeps no run times either.
            Some(true) => shared(
                store,
                "run times",
                store.record_run_times(&instance, now, &runs),
            ),
            other => other,
        };
        FleetView {
            shared: (shared_counts, shared_runs),
            counts: match shared_counts {
                Some(true) => fleet_counts(store, watched, now),
                _ => nones(watched.len()),
            },
            runs: match shared_runs {
                Some(true) => fleet_runs(store, watched, now),
                _ => nones(watched.len()),
            },
        }
    }

    /// Puts back into `kept` what this tick failed to share, for the next tick: nothing is
    /// lost while the store is down.
    fn keep_unshared(&self, kept: &mut Unshared, unshared: Unshared) {
        if self.shared.0.is_none() {
            for (name, counts) in unshared.counts {
                *kept.counts.entry(name).or_default() += counts;
            }
        }
        if self.shared.1.is_none() {
            for (name, (on, off)) in unshared.runs {
                let (kept_on, kept_off) = kept.runs.entry(name).or_default();
                kept_on.merge(&on);
                kept_off.merge(&off);
            }
        }
    }
}

/// `n` unknowns.
fn nones<T>(n: usize) -> Vec<Option<T>> {
    (0..n).map(|_| None).collect()
}

/// `Some(keeps)` from a store's answer to a share, `None` (logged) if it failed.
fn shared(store: &dyn Store, what: &str, answer: Result<bool, crate::StoreError>) -> Option<bool> {
    match answer {
        Ok(keeps) => Some(keeps),
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: {what} not shared; trying again next tick");
            None
        }
    }
}

/// The fleet's run times for each of `watched` with a run-time limit, in its window (as
/// [`fleet_counts`] reads counts); `None`s where the store cannot say.
fn fleet_runs(
    store: &dyn Store,
    watched: &[Watched],
    now: Timestamp,
) -> Vec<Option<(Timings, Timings)>> {
    let timed: Vec<usize> = (0..watched.len())
        .filter(|&i| watched[i].runs.is_some())
        .collect();
    let mut runs = nones(watched.len());
    if timed.is_empty() {
        return runs;
    }
    let windows: Vec<OutcomeWindow> = timed.iter().map(|&i| window_of(&watched[i], now)).collect();
    match store.fleet_run_times(&windows) {
        Ok(Some(answered)) if answered.len() == windows.len() => {
            for (&i, buckets) in timed.iter().zip(answered) {
                let timings = |b: &[(u16, u64)]| {
                    let mut timings = Timings::new();
                    Runs::from_buckets(b).add_to(&mut timings);
                    timings
                };
                runs[i] = Some((timings(&buckets.on), timings(&buckets.off)));
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: the fleet's run times cannot be read; this process decides on its own");
        }
    }
    runs
}

/// The window `w` is judged over, as the store is asked for it: `window_secs` back from
/// `now`, no earlier than the toggle's newest audited change (the store's to apply).
fn window_of(w: &Watched, now: Timestamp) -> OutcomeWindow {
    let window = i64::try_from(w.guard.window_secs).unwrap_or(i64::MAX);
    let since = Timestamp::from_unix_seconds(now.unix_seconds().saturating_sub(window));
    OutcomeWindow::new(w.subject.key(), &w.subject.toggle, since)
}

/// The fleet's counts for each of `watched` since its window starts: `window_secs` ago, or at
/// the rule's last audited change, whichever is later. Every instance reads the same audit
/// log, so all agree on where the window starts — unlike when each of them first saw the rule
/// — and counts from before a person re-enabled the flag stay out of it. One question to the
/// store for every guarded flag (one statement for PostgreSQL), so a fleet's reads per tick
/// grow with its instances, not with instances times flags. `None`s when the store cannot say:
/// this process then decides on its own counts.
fn fleet_counts(store: &dyn Store, watched: &[Watched], now: Timestamp) -> Vec<Option<Counts>> {
    let windows: Vec<OutcomeWindow> = watched.iter().map(|w| window_of(w, now)).collect();
    if windows.is_empty() {
        return Vec::new();
    }
    match store.fleet_outcomes(&windows) {
        Ok(Some(counts)) if counts.len() == windows.len() => counts.into_iter().map(Some).collect(),
        Ok(_) => vec![None; windows.len()],
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: the fleet's outcome counts cannot be read; this process decides on its own");
            vec![None; windows.len()]
        }
    }
}

/// This process's counts and run times for `name` since `since`; the run times only with
/// `timed`, so a guard without a run-time limit builds no histograms.
fn local_outcomes(
    g: &Guards,
    name: &str,
    since: Timestamp,
    timed: bool,
) -> (Counts, Option<(Timings, Timings)>) {
    let mut counts = Counts::default();
    let mut runs = timed.then(|| (Timings::new(), Timings::new()));
    for tick in g.windows.get(name).into_iter().flatten() {
        if tick.at >= since {
            counts += tick.counts;
            if let Some((on, off)) = &mut runs {
                tick.on.add_to(on);
                tick.off.add_to(off);
            }
        }
    }
    (counts, runs)
}

/// Writes a trip — `active: false` on the flag's rule it tripped on, or the arm added to the
/// variant rule's `dropped` — by [`GUARD_ACTOR`], if the store still holds that rule. Landed,
/// or overtaken by another write (another instance's trip, a person's edit): no longer
/// pending. The store down: pending, retried next tick.
fn land(store: &dyn Store, key: &str, rule: &Json, reason: &str) {
    // Every trip of the toggle that stands on the same rule lands in this one write: two arms
    // tripped in one tick are both dropped, not one and a conflict.
    let (keys, trips, reason): (Vec<String>, Vec<(Subject, String)>, String) = {
        let g = guards();
        let Some(subject) = g.pending.get(key).map(|p| p.subject.clone()) else {
            return;
        };
        let siblings: Vec<(&String, &Pending)> = g
            .pending
            .iter()
            .filter(|(_, p)| p.subject.toggle == subject.toggle && p.rule == *rule)
            .collect();
        let reasons: Vec<&str> = siblings.iter().map(|(_, p)| p.reason.as_str()).collect();
        let reason = if reasons.len() > 1 {
            reasons.join("; ")
        } else {
            reason.to_owned()
        };
        (
            siblings.iter().map(|(k, _)| (*k).clone()).collect(),
            siblings
                .iter()
                .map(|(_, p)| (p.subject.clone(), p.reason.clone()))
                .collect(),
            reason,
        )
    };
    let forget = |keys: &[String]| {
        let mut g = guards();
        for key in keys {
            g.pending.remove(key);
        }
    };
    let trips: Vec<(&Subject, &str)> = trips.iter().map(|(s, r)| (s, r.as_str())).collect();
    let change = trips.first().and_then(|(subject, _)| {
        let tripped = tripped_all(rule, &trips)?;
        Some(match subject.arm {
            Some(_) => Change::variant(&subject.toggle, serde_json::from_value(tripped).ok()?),
            None => Change::flag(&subject.toggle, serde_json::from_value(tripped).ok()?),
        })
    });
    let Some(change) = change else {
        forget(&keys);
        return;
    };
    let name = change.name().to_owned();
    let written = crate::state::write(
        change
            .by(GUARD_ACTOR)
            .because(&reason)
            .if_revision(Revision::of(Some(rule))),
    );
    match written {
        Ok(_) => forget(&keys),
        // Uninstalled meanwhile: nothing to land in.
        Err(WriteError::NoStore) => {}
        Err(WriteError::Store(e)) => {
            tracing::warn!(store = %store.describe(), error = %e, toggle = %name, "toggles: a guard's write did not land; the trip stays in force in this process, and the write is retried next tick");
        }
        Err(_) => {
            let _ = crate::state::install::reload_installed();
            // A staged rollout that advanced meanwhile (another instance's tick, a person's
            // skip) does not fix what tripped: the trip goes onto the rule now stored.
            let stored = retained::newest().and_then(|c| c.snapshot.flags.get(&name).cloned());
            match stored.filter(|now| trips.len() == 1 && only_progressed(rule, now)) {
                Some(now) => {
                    {
                        let mut g = guards();
                        if let Some(p) = g.pending.get_mut(key) {
                            p.rule.clone_from(&now);
                        }
                    }
                    land(store, key, &now, &reason);
                }
                // Any other change (another instance's trip, a person's edit) wins, and what
                // the store holds goes back in force.
                None => forget(&keys),
            }
        }
    }
}

/// Whether the flag rule `now` is `before` with only its staged rollout's progress moved (a
/// stage advanced, skipped, paused or resumed, the percent with it) and still active.
fn only_progressed(before: &Json, now: &Json) -> bool {
    let read = |json: &Json| serde_json::from_value::<FlagRule>(json.clone()).ok();
    let (Some(mut before), Some(mut now)) = (read(before), read(now)) else {
        return false;
    };
    let (Some(was), Some(is)) = (before.plan.take(), now.plan.take()) else {
        return false;
    };
    before.percent = None;
    now.percent = None;
    now.active && was.stages == is.stages && before == now && is.stage >= was.stage
}
