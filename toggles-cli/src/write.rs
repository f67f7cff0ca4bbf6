//! `toggles set`, `toggles flag`, `toggles reset`: audited writes, validated against the
//! declarations the fleet's services published, exactly as a service's own writes are.

use anyhow::{bail, Result};
use serde_json::Value as Json;
use std::collections::HashMap;

use toggles_runtime::fleet::{FleetReport, LIVE_WITHIN};
use toggles_runtime::rules::{FlagRule, Guard, Plan, Stage};
use toggles_runtime::store::{Snapshot, Store};
use toggles_runtime::{Change, Kind, Revision, Timestamp, WriteError};

use crate::audit;
use crate::fleet;
use crate::progress;
use crate::source::{self, StoreArgs};
use crate::Outcome;

/// Who writes, and why: every change is audited.
#[derive(clap::Args)]
pub(crate) struct Attribution {
    /// Why: recorded in the audit log.
    #[arg(long)]
    reason: String,
    /// Who: recorded in the audit log. Defaults to the OS user ($USER).
    #[arg(long)]
    actor: Option<String>,
}

impl Attribution {
    fn actor(&self) -> Result<String> {
        if let Some(actor) = &self.actor {
            return Ok(actor.clone());
        }
        ["USER", "LOGNAME", "USERNAME"]
            .into_iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
            .map_or_else(
                || bail!("cannot tell who you are from the environment: pass `--actor NAME`"),
                Ok,
            )
    }
}

#[derive(clap::Args)]
pub(crate) struct SetArgs {
    /// The switch or setting: `namespace.name`.
    name: String,
    /// `on`/`off` for a switch; for a setting, a value of its type (JSON, or bare text for a
    /// string setting).
    #[arg(allow_hyphen_values = true)]
    value: String,
    #[command(flatten)]
    by: Attribution,
}

#[derive(clap::Args)]
pub(crate) struct ResetArgs {
    /// The toggle whose stored state to delete.
    name: String,
    #[command(flatten)]
    by: Attribution,
}

/// A flag's whole rule: what is not given is not in it. The order it applies in is
/// `FlagRule`'s: gates, sites, users, groups, everyone, percent, the compiled default.
#[derive(clap::Args)]
pub(crate) struct FlagArgs {
    /// The flag: `namespace.name`.
    name: String,
    /// A percentage rollout by user id (or by `--stickiness`): 0 to 100, in basis points.
    #[arg(long)]
    percent: Option<f64>,
    /// A staged rollout that raises the percent by itself while the guard holds:
    /// `PERCENT:HOLD,…,PERCENT`, each stage held for its HOLD (`10m`, `1h`) before the next,
    /// the last stage with none (`1:10m,5:30m,25:1h,100`). Steer it with `toggles rollout`.
    #[arg(long, value_name = "STAGES", value_parser = stages, conflicts_with = "percent")]
    stages: Option<Stages>,
    /// On or off for everyone not listed.
    #[arg(long, value_parser = on_off)]
    everyone: Option<bool>,
    /// User ids the flag is on for.
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    users_on: Vec<String>,
    /// User ids the flag is off for.
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    users_off: Vec<String>,
    /// Sites the flag is on for.
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    sites_on: Vec<String>,
    /// Sites the flag is off for.
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    sites_off: Vec<String>,
    /// Groups the flag is on for: `KIND:ID,ID` (repeat for more kinds).
    // `--group-on` was its name in 0.1.
    #[arg(long, alias = "group-on", value_name = "KIND:ID,…", value_parser = group)]
    groups_on: Vec<(String, Vec<String>)>,
    /// Groups the flag is off for: `KIND:ID,ID`.
    #[arg(long, alias = "group-off", value_name = "KIND:ID,…", value_parser = group)]
    groups_off: Vec<(String, Vec<String>)>,
    /// Only in these environments.
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    environments: Vec<String>,
    /// Only where this other flag is on (repeat for more).
    #[arg(long, value_name = "FLAG")]
    requires: Vec<String>,
    /// Only where an attribute has one of these values: `NAME=V1,V2` (repeat for more).
    #[arg(long, value_name = "NAME=V,…", value_parser = constraint)]
    constraint: Vec<(String, Vec<String>)>,
    /// Bucket by this attribute instead of the user id.
    #[arg(long, value_name = "ATTRIBUTE")]
    stickiness: Option<String>,
    /// The rollout's salt (default: the flag's name).
    #[arg(long)]
    salt: Option<String>,
    /// Turn the flag off for everyone, whatever else the rule says (the kill switch).
    #[arg(long)]
    inactive: bool,
    #[command(flatten)]
    guard: GuardArgs,
    #[command(flatten)]
    by: Attribution,
}

/// A guard: what turns a flag off, or drops a variant toggle's arm to the control.
#[derive(clap::Args)]
pub(crate) struct GuardArgs {
    /// Guard: trip when the "on" arm's (a variant's: each arm's) error rate is above this
    /// percent.
    #[arg(long = "guard-error-rate", value_name = "PERCENT")]
    error_rate: Option<f64>,
    /// Guard: trip when the "on" arm's (a variant's: an arm's) error rate is this many points
    /// above the "off" arm's (the control's).
    #[arg(long = "guard-margin", value_name = "POINTS")]
    margin: Option<f64>,
    /// Guard: trip when more than `--guard-slow-share` percent of the "on" arm's (an arm's)
    /// runs take longer than this (code records run times with `outcome` or `record_timed`).
    #[arg(long = "guard-slow", value_name = "DURATION", value_parser = humantime::parse_duration, requires = "slow_share")]
    slow: Option<std::time::Duration>,
    /// The share of runs, in percent, slower than `--guard-slow` that trips the guard.
    #[arg(long = "guard-slow-share", value_name = "PERCENT", requires = "slow")]
    slow_share: Option<f64>,
    /// Guard: trip when the "on" arm's (an arm's) 95th-percentile run time is more than this
    /// percent above the "off" arm's (the control's).
    #[arg(long = "guard-p95-margin", value_name = "PERCENT")]
    p95_margin: Option<f64>,
    /// Guard: trip when the "on" arm's (an arm's) traffic, its outcomes, falls more than this
    /// percent below what the "off" arm's (the control's) predicts at the rule's split.
    #[arg(long = "guard-traffic-drop", value_name = "PERCENT")]
    traffic_drop: Option<f64>,
    /// The guard's window.
    #[arg(long = "guard-window", value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    window: std::time::Duration,
    /// Outcomes (and timed runs) an arm needs in the window before the guard judges it.
    #[arg(long = "guard-min-requests", value_name = "N", default_value_t = 100)]
    min_requests: u64,
}

impl GuardArgs {
    /// The guard given, if one is.
    pub(crate) fn guard(&self) -> Option<Guard> {
        let slow = self.slow.zip(self.slow_share);
        let mut guard = if let Some(rate) = self.error_rate {
            Guard::error_rate(rate)
        } else if let Some(points) = self.margin {
            Guard::margin(points)
        } else if let Some((baseline, share)) = slow {
            Guard::slow_share(baseline, share)
        } else if let Some(percent) = self.p95_margin {
            Guard::p95_margin(percent)
        } else {
            Guard::traffic_drop(self.traffic_drop?)
        };
        if let Some(points) = self.margin {
            guard = guard.max_margin(points);
        }
        if let Some((baseline, share)) = slow {
            guard = guard.max_slow_share(baseline, share);
        }
        if let Some(percent) = self.p95_margin {
            guard = guard.max_p95_margin(percent);
        }
        if let Some(percent) = self.traffic_drop {
            guard = guard.max_traffic_drop(percent);
        }
        Some(
            guard
                .window_secs(self.window.as_secs())
                .min_requests(self.min_requests),
        )
    }
}

pub(crate) fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("expected `on` or `off`, got `{s}`")),
    }
}

pub(crate) fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A staged rollout's stages, as `--stages` gives them.
#[derive(Clone)]
pub(crate) struct Stages(Vec<Stage>);

/// `1:10m,5:30m,100`: stages with their holds, the last without.
fn stages(s: &str) -> Result<Stages, String> {
    let parts = split(s);
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let (percent, hold) = match part.split_once(':') {
                Some((p, h)) => (p, Some(h)),
                None => (part.as_str(), None),
            };
            let percent: f64 = percent.parse().map_err(|_| {
                format!(
                    "`{part}`: expected `PERCENT:HOLD` (`5:30m`), or `PERCENT` for the last stage"
                )
            })?;
            match hold {
                Some(hold) => {
                    let hold = humantime::parse_duration(hold)
                        .map_err(|e| format!("`{part}`: the hold {e}"))?;
                    if hold.subsec_nanos() != 0 || hold.is_zero() {
                        return Err(format!(
                            "`{part}`: a stage is held for whole seconds, at least one (`30s`, `10m`)"
                        ));
                    }
                    Ok(Stage::hold(percent, hold))
                }
                None if i == last => Ok(Stage::last(percent)),
                None => Err(format!(
                    "`{part}`: every stage but the last is held for a time: `{percent}:30m`"
                )),
            }
        })
        .collect::<Result<_, _>>()
        .map(Stages)
}

fn group(s: &str) -> Result<(String, Vec<String>), String> {
    match s.split_once(':') {
        Some((kind, ids)) if !kind.is_empty() && !split(ids).is_empty() => {
            Ok((kind.to_owned(), split(ids)))
        }
        _ => Err(format!("expected `KIND:ID,ID`, got `{s}`")),
    }
}

pub(crate) fn constraint(s: &str) -> Result<(String, Vec<String>), String> {
    match s.split_once('=') {
        Some((name, values)) if !name.is_empty() && !split(values).is_empty() => {
            Ok((name.to_owned(), split(values)))
        }
        _ => Err(format!("expected `NAME=V1,V2`, got `{s}`")),
    }
}

impl FlagArgs {
    pub(crate) fn rule(&self) -> FlagRule {
        let mut rule = FlagRule::new().active(!self.inactive);
        if !self.environments.is_empty() {
            rule = rule.environments(self.environments.iter().cloned());
        }
        for r in &self.requires {
            rule = rule.requires(r.clone());
        }
        for (name, values) in &self.constraint {
            rule = rule.constraint(name.clone(), values.iter().cloned());
        }
        rule = rule
            .sites_on(self.sites_on.iter().cloned())
            .sites_off(self.sites_off.iter().cloned())
            .users_on(self.users_on.iter().cloned())
            .users_off(self.users_off.iter().cloned());
        for (kind, ids) in &self.groups_on {
            rule = rule.groups_on(kind, ids.iter().cloned());
        }
        for (kind, ids) in &self.groups_off {
            rule = rule.groups_off(kind, ids.iter().cloned());
        }
        if let Some(on) = self.everyone {
            rule = rule.everyone(on);
        }
        if let Some(p) = self.percent {
            rule = rule.percent(p);
        }
        if let Some(Stages(stages)) = &self.stages {
            rule = rule.staged(Plan::new(stages.iter().cloned()));
        }
        if let Some(s) = &self.salt {
            rule = rule.salt(s.clone());
        }
        if let Some(a) = &self.stickiness {
            rule = rule.stickiness(a.clone());
        }
        if let Some(guard) = self.guard.guard() {
            rule = rule.guard(guard);
        }
        rule
    }
}

/// The kind the fleet declares `name` as now, or an error suggesting declared names.
pub(crate) fn kind_of(store: &StoreArgs, opened: &dyn Store, name: &str) -> Result<Kind> {
    let published = source::reading(store, "the fleet's declarations", opened.published())?;
    if published.is_empty() {
        bail!(
            "no service has published its declarations to {}: there is nothing to check a change \
             against (a service publishes when it installs the store: `toggles::Installer`)",
            store.describe()
        );
    }
    // Judged as every write from outside is: by the fleet's current instances.
    let now = Timestamp::now();
    let fleet = FleetReport::from_parts(
        &published,
        &Snapshot::default(),
        &HashMap::new(),
        now.date(),
        now,
        LIVE_WITHIN,
    );
    match fleet.toggles.iter().find(|t| t.full_name == name) {
        Some(t) if t.declared_now => Ok(t.declaration.as_ref().expect("declared").kind),
        Some(_) => bail!(
            "`{name}` is declared by no running service any more: `toggles reset {name}` clears \
             the state it left"
        ),
        None => bail!(
            "{}",
            fleet::unknown(
                name,
                fleet
                    .toggles
                    .iter()
                    .filter(|t| t.declared_now)
                    .map(|t| t.full_name.as_str())
            )
        ),
    }
}

pub(crate) fn set(store: &StoreArgs, args: &SetArgs) -> Result<Outcome> {
    let opened = store.open()?;
    let change = match kind_of(store, opened.as_ref(), &args.name)? {
        Kind::Switch => match on_off(&args.value) {
            Ok(on) => Change::switch(&args.name, on),
            Err(e) => bail!("`{}` is a switch: {e}", args.name),
        },
        Kind::Setting => Change::setting(
            &args.name,
            serde_json::from_str::<Json>(&args.value)
                .unwrap_or_else(|_| Json::String(args.value.clone())),
        ),
        Kind::Flag => bail!(
            "`{}` is a flag: give its rule with `toggles flag {} --percent … --users-on …`",
            args.name,
            args.name
        ),
        Kind::Variant => bail!(
            "`{}` is a variant toggle: give its rule with `toggles variant {} --coverage … --weights ARM=W,…`",
            args.name,
            args.name
        ),
        _ => bail!(
            "`{}` is of a kind this version of the command does not know: use the version of \
             toggles that declares it",
            args.name
        ),
    };
    apply(store, opened.as_ref(), &change, &args.by)
}

pub(crate) fn flag(store: &StoreArgs, args: &FlagArgs) -> Result<Outcome> {
    let opened = store.open()?;
    match kind_of(store, opened.as_ref(), &args.name)? {
        Kind::Flag => {}
        Kind::Variant => bail!(
            "`{}` is a variant toggle: give its rule with `toggles variant {} --coverage … --weights ARM=W,…`",
            args.name,
            args.name
        ),
        _ => bail!(
            "`{}` is not a flag: set a switch or a setting with `toggles set {} VALUE`",
            args.name,
            args.name
        ),
    }
    apply(
        store,
        opened.as_ref(),
        &Change::flag(&args.name, args.rule()),
        &args.by,
    )
}

pub(crate) fn reset(store: &StoreArgs, args: &ResetArgs) -> Result<Outcome> {
    let opened = store.open()?;
    // A reset is how dead state is cleaned up: the name need not be declared any more.
    apply(store, opened.as_ref(), &Change::reset(&args.name), &args.by)
}

/// Writes `change`, printing the audit entry, or every problem of a refused write.
pub(crate) fn apply(
    store: &StoreArgs,
    opened: &dyn Store,
    change: &Change,
    by: &Attribution,
) -> Result<Outcome> {
    apply_if(store, opened, change, by, None)
}

/// [`apply`], refused if the toggle's stored state is no longer at `seen`.
pub(crate) fn apply_if(
    store: &StoreArgs,
    opened: &dyn Store,
    change: &Change,
    by: &Attribution,
    seen: Option<Revision>,
) -> Result<Outcome> {
    let actor = by.actor()?;
    let written = progress::during(&format!("writing to {}", store.describe()), || {
        let request = change.clone().by(&actor).because(&by.reason).to(opened);
        toggles_runtime::write(match seen {
            Some(revision) => request.if_revision(revision),
            None => request,
        })
    });
    match written {
        Ok(entry) => {
            println!("{}", audit::line(&entry));
            Ok(Outcome::Clean)
        }
        Err(WriteError::Invalid(invalid)) => {
            eprintln!("error: write refused, nothing changed:");
            for p in &invalid.problems {
                eprintln!("  - `{}` {}", p.toggle, p.message);
            }
            Ok(Outcome::Failed)
        }
        Err(WriteError::Store(e)) => Err(anyhow::Error::new(e).context(format!(
            "cannot write to {}; nothing changed",
            store.describe()
        ))),
        Err(refused) => {
            eprintln!("error: {refused}");
            Ok(Outcome::Failed)
        }
    }
}
