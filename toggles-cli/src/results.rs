//! `toggles results NAME`: an experiment's results, arm by arm, from the counts the store keeps.

use anyhow::{bail, Result};
use toggles_runtime::experiment::Results;
use toggles_runtime::Kind;

use crate::fleet::{self, FleetArgs};
use crate::source::{self, StoreArgs};
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The variant toggle: `namespace.name`.
    name: String,
    /// Print the results as JSON (`toggles::experiment::Results`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    fleet: FleetArgs,
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let report = args.fleet.report(store)?;
    let t = fleet::find(&report, &args.name)?;
    let Some(declared) = t.declaration.as_ref().filter(|d| d.kind == Kind::Variant) else {
        bail!(
            "`{}` is not a variant toggle of the fleet: results are an experiment's",
            args.name
        );
    };
    let opened = store.open()?;
    let counts = source::reading(
        store,
        "the experiment's counts",
        opened.experiment_counts(&args.name),
    )?;
    let arms: Vec<&str> = declared.arms.iter().map(String::as_str).collect();
    let control = declared.default.as_str().unwrap_or_default();
    let results = Results::from_counts(&args.name, &arms, control, &counts.unwrap_or_default());
    let feedback = source::reading(store, "the feedback", opened.feedback(&args.name, 0))?;
    let results = match feedback {
        Some(log) => results.with_feedback(&log),
        None => results,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print!("{results}");
    }
    Ok(Outcome::Clean)
}
