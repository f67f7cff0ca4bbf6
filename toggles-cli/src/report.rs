//! `toggles report`: the fleet report as a terminal table, JSON or CSV, filtered.

use std::collections::BTreeSet;
use std::io::{self, Write};

use anyhow::Result;
use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value as Json;
use toggles_runtime::fleet::{DriftKind, FleetReport, FleetToggle};
use toggles_runtime::rules::{FlagRule, Guard, VariantRule};
use toggles_runtime::Kind;

use crate::fleet::{self, FleetArgs};
use crate::plural::count;
use crate::source::StoreArgs;
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    fleet: FleetArgs,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    filter: Filter,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// A table for the terminal.
    Table,
    /// The fleet report's JSON (the shape `FleetReport` documents).
    Json,
    /// CSV with the columns of Open edX's feature-toggle report, and the fleet's.
    Csv,
}

/// Which toggles to keep; all of them unless asked.
#[derive(clap::Args)]
pub(crate) struct Filter {
    /// Only this namespace's toggles.
    #[arg(long)]
    namespace: Option<String>,
    /// Only toggles this team owns.
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// Only toggles this service declares.
    #[arg(long)]
    service: Option<String>,
    /// Only toggles of this kind.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Only toggles past their removal date.
    #[arg(long)]
    expired: bool,
    /// Only drift: `undeclared` (state no running service declares), `never-set`, `disagreement`
    /// (services declare it differently), or `any`.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "any")]
    drift: Option<DriftArg>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KindArg {
    Switch,
    Flag,
    Variant,
    Setting,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DriftArg {
    Any,
    Undeclared,
    NeverSet,
    Disagreement,
}

impl Filter {
    fn keeps(&self, t: &FleetToggle) -> bool {
        let d = t.declaration.as_ref();
        self.namespace.as_ref().is_none_or(|ns| {
            t.full_name
                .strip_prefix(ns.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        }) && self
            .owner
            .as_ref()
            .is_none_or(|o| d.and_then(|d| d.owner.as_ref()) == Some(o))
            && self
                .service
                .as_ref()
                .is_none_or(|s| t.declared_by.iter().any(|by| &by.service == s))
            && self.kind.is_none_or(|k| {
                d.is_some_and(|d| {
                    d.kind
                        == match k {
                            KindArg::Switch => Kind::Switch,
                            KindArg::Flag => Kind::Flag,
                            KindArg::Variant => Kind::Variant,
                            KindArg::Setting => Kind::Setting,
                        }
                })
            })
            && (!self.expired || t.expired)
            && self.drift.is_none_or(|want| {
                let disagrees = !t.disagreements.is_empty();
                match want {
                    DriftArg::Any => t.drift.is_some() || disagrees,
                    DriftArg::Undeclared => t.drift == Some(DriftKind::Undeclared),
                    DriftArg::NeverSet => t.drift == Some(DriftKind::NeverSet),
                    DriftArg::Disagreement => disagrees,
                }
            })
    }

    /// `report` with only the toggles kept, its lists cut to match.
    pub(crate) fn apply(&self, mut report: FleetReport) -> FleetReport {
        report.toggles.retain(|t| self.keeps(t));
        let kept: BTreeSet<String> = report.toggles.iter().map(|t| t.full_name.clone()).collect();
        report.expired.retain(|n| kept.contains(n));
        report.drift.undeclared.retain(|n| kept.contains(n));
        report.drift.never_set.retain(|n| kept.contains(n));
        report.drift.disagreements.retain(|n| kept.contains(n));
        report.stale.retain(|n| kept.contains(n));
        report
    }
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let report = args.filter.apply(args.fleet.report(store)?);
    let mut out = io::stdout().lock();
    match args.format {
        Format::Table => writeln!(out, "{}", table(&report))?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Csv => csv(&report, &mut out)?,
    }
    Ok(Outcome::Clean)
}

fn table(report: &FleetReport) -> String {
    let mut table = Table::new();
    // Aligned columns, one toggle per line, never wrapped (as `kubectl get` prints): names run
    // to 60 characters, and a table wrapped to a terminal's width reads worse than a long line.
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "NAME",
            "KIND",
            "SERVICES",
            "OWNER",
            "LIFE",
            "REMOVE BY",
            "STATE",
            "LAST CHANGE",
        ]);
    for t in &report.toggles {
        let d = t.declaration.as_ref();
        let remove_by = d
            .and_then(|d| d.remove_by)
            .map(|r| {
                if t.expired {
                    format!("{r} (expired)")
                } else {
                    r.to_string()
                }
            })
            .unwrap_or_default();
        table.add_row([
            t.full_name.clone(),
            d.map(|d| d.kind.to_string()).unwrap_or_default(),
            services(t),
            d.and_then(|d| d.owner.clone()).unwrap_or_default(),
            d.map(|d| d.life.clone()).unwrap_or_default(),
            remove_by,
            state(t),
            last_change(t),
        ]);
    }
    let mut services: Vec<&str> = report.services.iter().map(|s| s.service.as_str()).collect();
    services.dedup();
    format!(
        "{}\n{} across {} as of {}; {} expired; drift: {} undeclared, {} never set, {} declared differently",
        table.trim_fmt(),
        count(report.toggles.len() as u64, "toggle", "toggles"),
        count(services.len() as u64, "service", "services"),
        report.as_of,
        report.expired.len(),
        report.drift.undeclared.len(),
        report.drift.never_set.len(),
        report.drift.disagreements.len(),
    )
}

/// `grading 1.4.2, lms 2.0.0`, or the drift when nothing running declares it.
fn services(t: &FleetToggle) -> String {
    if t.declared_by.is_empty() {
        return "(none)".to_owned();
    }
    t.declared_by
        .iter()
        .map(|by| {
            let name = fleet::service_label(by);
            if by.live {
                name
            } else {
                format!("{name} (gone)")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The state in force, in a few words: `on`, `30% · users +2`, `default (false)`.
pub(crate) fn state(t: &FleetToggle) -> String {
    let Some(value) = &t.state.value else {
        return match &t.declaration {
            Some(d) => format!("default ({})", d.default),
            None => "default".to_owned(),
        };
    };
    let kind = t.declaration.as_ref().map(|d| d.kind);
    match (kind, value) {
        (Some(Kind::Switch), Json::Bool(on)) => (if *on { "on" } else { "off" }).to_owned(),
        (Some(Kind::Variant), rule) => serde_json::from_value::<VariantRule>(rule.clone())
            .map_or_else(|_| rule.to_string(), |r| variant_summary(&r)),
        (Some(Kind::Flag), rule) | (None, rule @ Json::Object(_)) => {
            serde_json::from_value::<FlagRule>(rule.clone())
                .map_or_else(|_| rule.to_string(), |r| rule_summary(&r))
        }
        (_, value) => value.to_string(),
    }
}

/// A guard's limits in a few words: `off if errors > 5%` for a flag, `an arm dropped if errors
/// > the control + 5 points` for a variant toggle, `off if over 10% of runs > 250 ms`,
/// `off if p95 run time > off's + 20%`.
fn guard_limits(g: &Guard, what: &str, against: &str) -> String {
    let mut limits = Vec::new();
    if let Some(rate) = g.max_error_rate {
        limits.push(format!("errors > {rate}%"));
    }
    if let Some(margin) = g.max_margin {
        limits.push(format!("errors > {against} + {margin} points"));
    }
    if let (Some(share), Some(ms)) = (g.max_slow_share, g.latency_baseline_ms) {
        limits.push(format!("over {share}% of runs > {ms} ms"));
    }
    if let Some(margin) = g.max_p95_margin {
        limits.push(format!("p95 run time > {against}'s + {margin}%"));
    }
    if let Some(drop) = g.max_traffic_drop {
        limits.push(format!("traffic > {drop}% below {against}'s"));
    }
    let verb = if what == "off" {
        "off if"
    } else {
        "an arm dropped if"
    };
    format!("{verb} {}", limits.join(" or "))
}

/// A rule's gates in a few words: `inactive`, `window`, `env prod`, `requires x`, `if region`.
fn gates<'r>(
    active: bool,
    window: bool,
    environments: &[String],
    requires: &[String],
    constraints: impl Iterator<Item = &'r String>,
) -> Vec<String> {
    let mut parts = Vec::new();
    if !active {
        parts.push("inactive".to_owned());
    }
    if window {
        parts.push("window".to_owned());
    }
    if !environments.is_empty() {
        parts.push(format!("env {}", environments.join(",")));
    }
    parts.extend(requires.iter().map(|r| format!("requires {r}")));
    parts.extend(constraints.map(|attribute| format!("if {attribute}")));
    parts
}

/// A variant rule in a few words: `50% in · one_page 5000, express 5000 · users→express 1 ·
/// tracked`.
pub(crate) fn variant_summary(rule: &VariantRule) -> String {
    let mut parts = gates(
        rule.active,
        rule.from.is_some() || rule.until.is_some(),
        &rule.environments,
        &rule.requires,
        rule.constraints.keys(),
    );
    for (what, pins) in [("sites", &rule.sites), ("users", &rule.users)] {
        for (arm, ids) in pins {
            parts.push(format!("{what}→{arm} {}", ids.len()));
        }
    }
    for g in &rule.groups {
        for (arm, ids) in &g.arms {
            parts.push(format!("{} groups→{arm} {}", g.kind, ids.len()));
        }
    }
    if let Some(arm) = &rule.everyone {
        parts.push(format!("everyone {arm}"));
    }
    if let Some(c) = rule.coverage {
        let weights: Vec<String> = rule
            .weights
            .iter()
            .filter(|(_, w)| **w > 0)
            .map(|(arm, w)| format!("{arm} {w}"))
            .collect();
        parts.push(format!("{c}% in"));
        parts.push(weights.join(", "));
    }
    if rule.track {
        parts.push("tracked".to_owned());
    }
    if !rule.dropped.is_empty() {
        parts.push(format!("dropped {}", rule.dropped.join(",")));
    }
    if let Some(g) = &rule.guard {
        parts.push(format!(
            "guarded: {}",
            guard_limits(g, "an arm", "the control")
        ));
    }
    if parts.is_empty() {
        "empty rule (the control)".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// A flag rule in a few words.
pub(crate) fn rule_summary(rule: &FlagRule) -> String {
    let mut parts = gates(
        rule.active,
        rule.from.is_some() || rule.until.is_some(),
        &rule.environments,
        &rule.requires,
        rule.constraints.keys(),
    );
    let count = |what: &str, on: usize, off: usize| {
        let mut s = Vec::new();
        if on > 0 {
            s.push(format!("{what} +{on}"));
        }
        if off > 0 {
            s.push(format!("{what} -{off}"));
        }
        s
    };
    parts.extend(count("sites", rule.sites.on.len(), rule.sites.off.len()));
    parts.extend(count("users", rule.users.on.len(), rule.users.off.len()));
    for g in &rule.groups {
        parts.extend(count(
            &format!("{} groups", g.kind),
            g.on.len(),
            g.off.len(),
        ));
    }
    if let Some(on) = rule.everyone {
        parts.push(format!("everyone {}", if on { "on" } else { "off" }));
    }
    if let Some(p) = rule.percent {
        parts.push(format!("{p}%"));
    }
    if let Some(g) = &rule.guard {
        parts.push(format!("guarded: {}", guard_limits(g, "off", "off")));
    }
    if parts.is_empty() {
        "empty rule (default)".to_owned()
    } else {
        parts.join(" · ")
    }
}

fn last_change(t: &FleetToggle) -> String {
    match (&t.state.last_modified, &t.state.modified_by) {
        (Some(at), Some(by)) => format!("{} by {by}", at.date()),
        _ => String::new(),
    }
}

/// The columns of Open edX's feature-toggle report (its annotation names, so the same
/// spreadsheet tooling reads both), then the fleet's.
const CSV_COLUMNS: [&str; 17] = [
    "toggle_name",
    "toggle_implementation",
    "toggle_default",
    "toggle_description",
    "toggle_use_cases",
    "toggle_creation_date",
    "toggle_target_removal_date",
    "toggle_warning",
    "toggle_tickets",
    "code_owner",
    "services",
    "source",
    "state",
    "last_modified",
    "modified_by",
    "expired",
    "drift",
];

fn csv(report: &FleetReport, out: &mut impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    for t in &report.toggles {
        let d = t.declaration.as_ref();
        let text = |f: &dyn Fn(&toggles_runtime::fleet::Declared) -> Option<String>| {
            d.and_then(f).unwrap_or_default()
        };
        let drift = match (t.drift, t.disagreements.is_empty()) {
            (Some(kind), _) => kind.as_str().to_owned(),
            (None, false) => format!("disagreement: {}", t.disagreements.join(" ")),
            (None, true) => String::new(),
        };
        w.write_record([
            t.full_name.clone(),
            text(&|d| Some(d.kind.to_string())),
            text(&|d| Some(d.default.to_string())),
            text(&|d| Some(d.description.clone())),
            text(&|d| {
                Some(
                    d.use_cases
                        .iter()
                        .map(|u| u.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            }),
            text(&|d| d.created.map(|c| c.to_string())),
            text(&|d| d.remove_by.map(|r| r.to_string())),
            text(&|d| d.warning.clone()),
            text(&|d| d.tickets.clone()),
            text(&|d| d.owner.clone()),
            t.declared_by
                .iter()
                .map(|by| by.service.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            text(&|d| Some(format!("{}:{}", d.source.file, d.source.line))),
            t.state
                .value
                .as_ref()
                .map(Json::to_string)
                .unwrap_or_default(),
            t.state
                .last_modified
                .map(|m| m.to_string())
                .unwrap_or_default(),
            t.state.modified_by.clone().unwrap_or_default(),
            t.expired.to_string(),
            drift,
        ])?;
    }
    w.flush()?;
    Ok(())
}
