//! `toggles check`: the toggle-debt gate. Exits 1 when a toggle is past its removal date (or on
//! drift, when asked), printing each with its owner, where it is declared, and the fix.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use toggles_runtime::fleet::{DriftKind, FleetReport, FleetToggle, Stage, Staleness};
use toggles_runtime::{Date, Timestamp};

use crate::fleet::{self, FleetArgs};
use crate::plural::count;
use crate::report::DriftArg;
use crate::source::StoreArgs;
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Also warn (without failing) about toggles due for removal within this long: `30d`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    warn_within: Option<Duration>,
    /// Only this team's toggles.
    #[arg(long)]
    owner: Option<String>,
    /// Also fail on drift: `undeclared`, `never-set`, `disagreement`, or any of them.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "any")]
    drift: Option<DriftArg>,
    /// Under each toggle to remove, the places that read it in these sources (a workspace's
    /// directory, `.` when none is given), as `toggles refs` finds them.
    #[arg(long, value_name = "PATH", num_args = 0.., default_missing_value = ".")]
    refs: Option<Vec<PathBuf>>,
    /// Also fail on stale toggles, judged from what the fleet evaluates: launched (one answer
    /// for everyone) or unused (evaluated by no one) for their life's window.
    #[arg(long)]
    stale: bool,
    /// A life's staleness window: `temporary=30d` (the default), `permanent=180d`
    /// (`permanent=never` is the default: a permanent toggle's justification is why it stays).
    #[arg(long, value_name = "LIFE=DURATION", value_parser = window, requires = "stale")]
    stale_after: Vec<(String, Option<Duration>)>,
}

/// `temporary=30d`, `permanent=never`.
fn window(s: &str) -> Result<(String, Option<Duration>), String> {
    let (life, after) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not LIFE=DURATION, like `temporary=30d`"))?;
    if life != "temporary" && life != "permanent" {
        return Err(format!(
            "`{life}` is not a life: `temporary` or `permanent`"
        ));
    }
    let after = match after {
        "never" => None,
        d => Some(humantime::parse_duration(d).map_err(|e| format!("`{d}`: {e}"))?),
    };
    Ok((life.to_owned(), after))
}

impl Args {
    fn staleness(&self) -> Staleness {
        let mut staleness = Staleness::default();
        for (life, after) in &self.stale_after {
            staleness = if life == "permanent" {
                staleness.permanent(*after)
            } else {
                staleness.temporary(*after)
            };
        }
        staleness
    }
}

/// The fleet report, its lifecycles judged with the asked windows when `--stale` is given.
fn report(store: &StoreArgs, args: &Args) -> Result<FleetReport> {
    let mut report = args.fleet.report(store)?;
    if args.stale {
        match args.fleet.usage(store)? {
            Some(usage) => report.judge(&usage, Timestamp::now(), &args.staleness()),
            None => anyhow::bail!(
                "--stale needs the fleet's evaluations, which {} does not keep",
                if args.fleet.reads_files() {
                    "a report read from files".to_owned()
                } else {
                    store.describe()
                }
            ),
        }
    }
    Ok(report)
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let report = report(store, args)?;
    let as_of = report.as_of;
    let owned = |t: &&FleetToggle| {
        args.owner
            .as_ref()
            .is_none_or(|o| t.declaration.as_ref().and_then(|d| d.owner.as_ref()) == Some(o))
    };
    let mine: Vec<&FleetToggle> = report.toggles.iter().filter(owned).collect();

    let mut out = String::new();
    // Expired is judged on the declaration shown, so an expired toggle has its removal date.
    let expired: Vec<(&FleetToggle, Date)> = mine
        .iter()
        .filter(|t| t.expired)
        .filter_map(|t| Some((*t, removal(t)?)))
        .collect();
    let refs = args
        .refs
        .as_deref()
        .map(|paths| crate::refs::find(paths, 1));
    for (t, remove_by) in &expired {
        let _ = writeln!(
            out,
            "error: `{}` is {} past its removal date ({remove_by})",
            t.full_name,
            count(
                as_of.days_since_epoch() - remove_by.days_since_epoch(),
                "day",
                "days"
            )
        );
        where_declared(&mut out, t);
        let _ = writeln!(
            out,
            "  = fix: remove the toggle and the code it guards, keeping the behaviour in force; or agree a later `remove_by` with its owner"
        );
        if let Some(refs) = &refs {
            places(&mut out, refs, &t.full_name);
        }
    }

    let due = due_section(&mut out, &mine, args.warn_within, as_of);

    let mut drifted = 0;
    if let Some(want) = args.drift {
        for t in &mine {
            let Some((what, fix)) = drift(t, want) else {
                continue;
            };
            drifted += 1;
            let _ = writeln!(out, "error: `{}` {what}", t.full_name);
            where_declared(&mut out, t);
            let _ = writeln!(out, "  = fix: {fix}");
        }
    }

    let stale = if args.stale {
        stale_section(&mut out, &mine, refs.as_ref())
    } else {
        0
    };
    let failed = !expired.is_empty() || drifted > 0 || stale > 0;
    let scope = args
        .owner
        .as_ref()
        .map(|o| format!(" owned by {o}"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "toggles check: {}{scope} as of {as_of}: {} expired",
        count(mine.len() as u64, "toggle", "toggles"),
        expired.len()
    );
    if let Some(within) = args.warn_within {
        let days = count(within.as_secs() / 86_400, "day", "days");
        let _ = write!(out, ", {due} due within {days}");
    }
    if args.drift.is_some() {
        let _ = write!(out, ", {drifted} drifted");
    }
    if args.stale {
        let _ = write!(out, ", {stale} stale");
    }
    let _ = writeln!(out, " — {}", if failed { "failed" } else { "passed" });
    print!("{out}");
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Clean
    })
}

/// Each toggle due for removal within `within` (when asked), as a warning; how many.
fn due_section(
    out: &mut String,
    mine: &[&FleetToggle],
    within: Option<Duration>,
    as_of: Date,
) -> usize {
    let Some(within) = within else {
        return 0;
    };
    let mut due = 0;
    let days = i64::try_from(within.as_secs() / 86_400).unwrap_or(i64::MAX);
    let horizon = Date::from_days_since_epoch(as_of.days_since_epoch().saturating_add(days));
    for t in mine.iter().filter(|t| !t.expired) {
        let Some(remove_by) = removal(t).filter(|r| *r <= horizon) else {
            continue;
        };
        due += 1;
        let left = remove_by.days_since_epoch() - as_of.days_since_epoch();
        let _ = writeln!(
            out,
            "warning: `{}` is due for removal in {} ({remove_by})",
            t.full_name,
            count(left, "day", "days")
        );
        where_declared(out, t);
    }
    due
}

/// Each stale toggle that is not expired (those are above), with the fix and, with `refs`, the
/// places to edit; how many.
fn stale_section(
    out: &mut String,
    mine: &[&FleetToggle],
    refs: Option<&crate::refs::Refs>,
) -> usize {
    let mut stale = 0;
    for t in mine {
        let Some(life) = t.lifecycle.as_ref().filter(|l| l.stale) else {
            continue;
        };
        let since = life
            .since
            .map(Timestamp::date)
            .map_or(String::new(), |d| format!(" since {d}"));
        let what = match (life.stage, life.answer.as_deref()) {
            (Stage::Launched, Some(answer)) => {
                format!("is launched: everyone got `{answer}`{since}")
            }
            (Stage::Unused, _) => format!("is unused: no service evaluated it{since}"),
            _ => continue,
        };
        stale += 1;
        let _ = writeln!(out, "error: `{}` {what}", t.full_name);
        where_declared(out, t);
        if let Some(fix) = &life.fix {
            let _ = writeln!(out, "  = fix: {fix}");
        }
        if let Some(refs) = refs {
            places(out, refs, &t.full_name);
        }
    }
    stale
}

/// The removal date of the declaration that speaks for `t`.
fn removal(t: &FleetToggle) -> Option<Date> {
    t.declaration.as_ref().and_then(|d| d.remove_by)
}

/// `  --> grading 1.4.2: src/engine.rs:12 (owner: team-grading)`, one line per declarer.
fn where_declared(out: &mut String, t: &FleetToggle) {
    let owner = t
        .declaration
        .as_ref()
        .and_then(|d| d.owner.as_deref())
        .unwrap_or("no owner declared");
    if t.declared_by.is_empty() {
        let _ = writeln!(out, "  --> declared by no running service (owner: {owner})");
    }
    for by in &t.declared_by {
        let stopped = if by.current { "" } else { ", stopped" };
        let _ = writeln!(
            out,
            "  --> {}: {}:{} (owner: {owner}{stopped})",
            fleet::service_label(by),
            by.file,
            by.line
        );
    }
}

/// What drifted and how to fix it, if `t` drifted in a way `want` asks about.
fn drift(t: &FleetToggle, want: DriftArg) -> Option<(String, String)> {
    let asked = |kind: DriftArg| want == DriftArg::Any || want == kind;
    match t.drift {
        Some(DriftKind::Undeclared) if asked(DriftArg::Undeclared) => Some((
            "has state in the store, but no running service declares it".to_owned(),
            format!(
                "`toggles reset {} --reason \"…\"` once no deployed version declares it",
                t.full_name
            ),
        )),
        Some(DriftKind::NeverSet) if asked(DriftArg::NeverSet) => Some((
            "is declared but was never set: its compiled default is all it has been".to_owned(),
            "if the default is the behaviour wanted for good, remove the toggle".to_owned(),
        )),
        _ if !t.disagreements.is_empty() && asked(DriftArg::Disagreement) => Some((
            format!(
                "is declared differently by its services: {}",
                t.disagreements.join(", ")
            ),
            "make the declarations agree (one crate should declare a shared toggle)".to_owned(),
        )),
        _ => None,
    }
}

/// The places to edit to remove `name`, or that these sources do not declare it.
fn places(out: &mut String, refs: &crate::refs::Refs, name: &str) {
    match refs.of(name) {
        Some(t) if t.declared_at.is_some() => {
            let declared = t.declared_at.as_ref().expect("checked");
            let _ = writeln!(
                out,
                "  = edit: the declaration at {}:{}, and {}:",
                declared.file,
                declared.line,
                count(
                    t.references.len() as u64,
                    "place that reads it",
                    "places that read it"
                )
            );
            crate::refs::write_places(out, t, "      ");
        }
        _ => {
            let _ = writeln!(
                out,
                "  = edit: not declared in the sources read ({} files); run `toggles refs` in the repository that declares it",
                refs.files
            );
        }
    }
}
