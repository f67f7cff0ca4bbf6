//! `toggles show NAME`: one toggle across the fleet, and how a flag answers a given context.

use std::cell::RefCell;
use std::fmt::Write as _;

use anyhow::{bail, Context as _, Result};
use toggles_runtime::fleet::{FleetReport, FleetToggle};
use toggles_runtime::rules::{FlagRule, VariantRule};
use toggles_runtime::{Assignment, Context, Explanation, Kind, OwnedContext};

use crate::fleet::{self, FleetArgs};
use crate::report;
use crate::source::StoreArgs;
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The toggle's full name: `namespace.name`.
    name: String,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Explain the flag's answer for this user id.
    #[arg(long)]
    user: Option<String>,
    /// … for this site.
    #[arg(long)]
    site: Option<String>,
    /// … in this environment.
    #[arg(long)]
    environment: Option<String>,
    /// … for a member of this group: `KIND:ID` (repeat for more).
    #[arg(long, value_name = "KIND:ID", value_parser = pair(':'))]
    group: Vec<(String, String)>,
    /// … with this attribute: `NAME=VALUE` (repeat for more).
    #[arg(long, value_name = "NAME=VALUE", value_parser = pair('='))]
    attribute: Vec<(String, String)>,
}

/// A parser of `A<sep>B` arguments.
fn pair(separator: char) -> impl Fn(&str) -> Result<(String, String), String> + Clone {
    move |s: &str| match s.split_once(separator) {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_owned(), b.to_owned())),
        _ => Err(format!("expected `A{separator}B`, got `{s}`")),
    }
}

impl Args {
    fn has_context(&self) -> bool {
        self.user.is_some()
            || self.site.is_some()
            || self.environment.is_some()
            || !self.group.is_empty()
            || !self.attribute.is_empty()
    }

    /// "user ana, site s1, group course:c1"
    fn describe_context(&self) -> String {
        let mut parts = Vec::new();
        if let Some(u) = &self.user {
            parts.push(format!("user {u}"));
        }
        if let Some(s) = &self.site {
            parts.push(format!("site {s}"));
        }
        if let Some(e) = &self.environment {
            parts.push(format!("environment {e}"));
        }
        for (k, id) in &self.group {
            parts.push(format!("group {k}:{id}"));
        }
        for (k, v) in &self.attribute {
            parts.push(format!("{k}={v}"));
        }
        parts.join(", ")
    }
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let report = args.fleet.report(store)?;
    let t = fleet::find(&report, &args.name)?;
    let mut out = describe(t);
    if args.has_context() {
        let kind = t.declaration.as_ref().map(|d| d.kind);
        let mut owned = OwnedContext::new();
        owned.user.clone_from(&args.user);
        owned.site.clone_from(&args.site);
        owned.environment.clone_from(&args.environment);
        owned.groups.clone_from(&args.group);
        owned.attributes.clone_from(&args.attribute);
        let (answer, step) = match kind {
            Some(Kind::Flag) => {
                let why = owned.with(|ctx| explain(&report, t, ctx, 0))?;
                let answer = if why.enabled { "on" } else { "off" };
                (answer.to_owned(), why.step)
            }
            Some(Kind::Variant) => {
                let why = owned.with(|ctx| assign(&report, t, ctx))?;
                let exposed = if why.is_exposure() { ", exposed" } else { "" };
                (format!("arm `{}`{exposed}", why.arm), why.step)
            }
            _ => bail!(
                "`{}` is a {}: only a flag's or a variant toggle's answer depends on the context",
                t.full_name,
                kind.map_or_else(
                    || "toggle no service declares".to_owned(),
                    |k| k.to_string()
                )
            ),
        };
        let _ = writeln!(out, "for {}: {answer} — {step}", args.describe_context());
    }
    print!("{out}");
    Ok(Outcome::Clean)
}

fn describe(t: &FleetToggle) -> String {
    let mut out = String::new();
    match &t.declaration {
        Some(d) => {
            let removal = d
                .remove_by
                .map(|r| {
                    let expired = if t.expired { ", expired" } else { "" };
                    format!(", remove by {r}{expired}")
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{} — {} of {}, {}{removal}",
                t.full_name, d.kind, d.value_type, d.life
            );
            let _ = writeln!(out, "  {}", d.description.replace('\n', "\n  "));
            let facts = [
                ("owner", d.owner.clone()),
                ("justification", d.justification.clone()),
                ("created", d.created.map(|c| c.to_string())),
                ("tickets", d.tickets.clone()),
                ("warning", d.warning.clone()),
                ("default", Some(d.default.to_string())),
            ];
            for (what, value) in facts {
                if let Some(value) = value {
                    let _ = writeln!(out, "  {what}: {value}");
                }
            }
            if !t.disagreements.is_empty() {
                let _ = writeln!(
                    out,
                    "  services declare it differently: {}",
                    t.disagreements.join(", ")
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "{} — held in the store, declared by no running service",
                t.full_name
            );
        }
    }
    let _ = writeln!(out, "services:");
    if t.declared_by.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for by in &t.declared_by {
        let _ = writeln!(
            out,
            "  {} — {}:{} ({}, last seen {})",
            fleet::service_label(by),
            by.file,
            by.line,
            if by.live { "running" } else { "gone" },
            by.last_seen
        );
    }
    let _ = writeln!(out, "state: {}", report::state(t));
    if let Some(value) = &t.state.value {
        let _ = writeln!(out, "  stored: {value}");
        let plan = (t.declaration.as_ref().map(|d| d.kind) == Some(Kind::Flag))
            .then(|| serde_json::from_value::<FlagRule>(value.clone()).ok())
            .flatten()
            .and_then(|rule| rule.plan.map(|plan| (plan, rule.guard)));
        if let Some((plan, guard)) = plan {
            let _ = writeln!(out, "rollout: {}", plan.status());
            if let (Some(guard), Some(_)) = (guard, plan.due()) {
                let _ = writeln!(
                    out,
                    "  once its guard holds on {} outcomes under \"on\" in the stage",
                    guard.min_requests
                );
            }
            let _ = writeln!(out, "  stages: {}", plan.outline());
        }
    }
    if let (Some(first), Some(last), Some(by)) = (
        &t.state.first_modified,
        &t.state.last_modified,
        &t.state.modified_by,
    ) {
        let _ = writeln!(out, "  last changed {last} by {by} (first {first})");
    }
    out
}

/// The arm `t`'s stored variant rule gives `ctx`, by name, its `requires` answered from the
/// fleet's flags.
fn assign(report: &FleetReport, t: &FleetToggle, ctx: &Context<'_>) -> Result<Assignment<String>> {
    let declared = t
        .declaration
        .as_ref()
        .expect("a variant toggle is declared");
    let rule = match &t.state.value {
        Some(value) => serde_json::from_value::<VariantRule>(value.clone()).with_context(|| {
            format!(
                "the store's rule for `{}` is not a variant rule",
                t.full_name
            )
        })?,
        None => VariantRule::new(),
    };
    let arms: Vec<&str> = declared.arms.iter().map(String::as_str).collect();
    let control = declared.default.as_str().unwrap_or_default();
    let failed = RefCell::new(None);
    let why = rule.explain(&t.full_name, &arms, control, ctx, &|name| {
        let Some(required) = report.toggles.iter().find(|r| r.full_name == name) else {
            return false;
        };
        explain(report, required, ctx, 1).map_or_else(
            |e| {
                failed.borrow_mut().get_or_insert(e);
                false
            },
            |why| why.enabled,
        )
    });
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    Ok(Assignment {
        arm: why.arm.to_owned(),
        step: why.step,
    })
}

/// How `t`'s stored rule answers `ctx`, its `requires` answered from the fleet's other rules.
fn explain(
    report: &FleetReport,
    t: &FleetToggle,
    ctx: &Context<'_>,
    depth: usize,
) -> Result<Explanation> {
    // Stored rules are checked for cycles when written; this bounds a hand-edited store.
    if depth > 32 {
        bail!("`{}` requires flags 32 deep: a cycle?", t.full_name);
    }
    let default = t
        .declaration
        .as_ref()
        .and_then(|d| d.default.as_bool())
        .unwrap_or(false);
    let rule = match &t.state.value {
        Some(value) => serde_json::from_value::<FlagRule>(value.clone()).with_context(|| {
            format!("the store's rule for `{}` is not a flag rule", t.full_name)
        })?,
        None => FlagRule::new(),
    };
    // The first error of a required flag's rule; `explain` takes an `Fn`, so a cell.
    let failed = RefCell::new(None);
    let why = rule.explain(&t.full_name, default, ctx, &|name| match report
        .toggles
        .iter()
        .find(|r| r.full_name == name)
    {
        Some(required) => match explain(report, required, ctx, depth + 1) {
            Ok(why) => why.enabled,
            Err(e) => {
                failed.borrow_mut().get_or_insert(e);
                false
            }
        },
        None => false,
    });
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    Ok(why)
}
