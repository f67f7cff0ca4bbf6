//! `toggles rollout NAME STEP`: a person's hand on a flag's staged rollout.

use anyhow::{bail, Context as _, Result};
use toggles_runtime::rules::{FlagRule, Steer};
use toggles_runtime::{Change, Kind, Revision, Timestamp};

use crate::source::{self, StoreArgs};
use crate::write::{self, Attribution};
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The flag: `namespace.name`.
    name: String,
    /// `pause` (hold at the current stage), `resume` (climb again; the stage's hold starts
    /// afresh, and a plan a guard stopped turns its flag back on), `skip` (to the next stage
    /// now) or `rollback` (to the previous stage, paused).
    #[arg(value_parser = |s: &str| s.parse::<Steer>())]
    step: Steer,
    #[command(flatten)]
    by: Attribution,
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let opened = store.open()?;
    if write::kind_of(store, opened.as_ref(), &args.name)? != Kind::Flag {
        bail!(
            "`{}` is not a flag: only a flag has a staged rollout",
            args.name
        );
    }
    let snapshot = source::reading(store, "the toggles' state", opened.load())?;
    let Some(stored) = snapshot.flags.get(&args.name) else {
        bail!(
            "`{}` has no rule in {}: give it a staged rollout with `toggles flag {} --stages …`",
            args.name,
            store.describe(),
            args.name
        );
    };
    let rule: FlagRule = serde_json::from_value(stored.clone())
        .with_context(|| format!("the store's rule for `{}` is not a flag rule", args.name))?;
    let steered = match rule.steer(args.step, Timestamp::now()) {
        Ok(rule) => rule,
        Err(why) => {
            eprintln!("error: `{}`: {why}", args.name);
            return Ok(Outcome::Failed);
        }
    };
    let status = steered
        .plan
        .as_ref()
        .map(toggles_runtime::rules::Plan::status);
    // Refused if the plan moved meanwhile (an advance by the fleet): the step was decided on
    // what was read here.
    let outcome = write::apply_if(
        store,
        opened.as_ref(),
        &Change::flag(&args.name, steered),
        &args.by,
        Some(Revision::of(Some(stored))),
    )?;
    if let (Outcome::Clean, Some(status)) = (&outcome, status) {
        println!("rollout: {status}");
    }
    Ok(outcome)
}
