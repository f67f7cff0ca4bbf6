//! `toggles feedback NAME`: what people said about a toggle, per arm, newest first.

use anyhow::Result;

use crate::fleet::{self, FleetArgs};
use crate::source::{self, StoreArgs};
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The flag or variant toggle: `namespace.name`.
    name: String,
    /// How many pieces to list, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print the feedback as JSON (`toggles::store::FeedbackLog`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    fleet: FleetArgs,
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let report = args.fleet.report(store)?;
    let t = fleet::find(&report, &args.name)?;
    let opened = store.open()?;
    let log = source::reading(
        store,
        "the feedback",
        opened.feedback(&t.full_name, args.limit),
    )?
    .unwrap_or_default();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&log)?);
        return Ok(Outcome::Clean);
    }
    if log.per_arm.is_empty() {
        println!("{}: no feedback yet", t.full_name);
        return Ok(Outcome::Clean);
    }
    let counts: Vec<String> = log
        .per_arm
        .iter()
        .map(|(arm, n)| format!("{arm} {n}"))
        .collect();
    println!(
        "{}: {} pieces of feedback ({})",
        t.full_name,
        log.total(),
        counts.join(", ")
    );
    for f in &log.entries {
        let unit = f
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        println!(
            "  {} [{}]{unit}: {}",
            f.at,
            f.arm,
            f.text.replace('\n', "\n    ")
        );
    }
    Ok(Outcome::Clean)
}
