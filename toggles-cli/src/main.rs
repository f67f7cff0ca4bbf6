//! `toggles`: one command for a fleet's feature toggles — what exists, what is in force, what is
//! overdue, what is dead — with a gate for CI and audited changes from a terminal.
//!
//! Exit codes: 0 when all is well; 1 when `check` finds toggle debt or a write is refused;
//! 2 when the command could not do its work (bad arguments, an unreachable store, a file that
//! is not what it should be).

mod audit;
mod check;
mod feedback;
mod fleet;
#[cfg(feature = "serve")]
mod metrics;
mod plural;
mod progress;
mod refs;
mod report;
mod results;
mod rollout;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod server;
mod show;
mod source;
mod variant;
mod write;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::source::StoreArgs;

/// Feature toggles across a fleet: report, toggle-debt gate, audited changes.
///
/// Every command reads a store that the fleet's services share: `--store postgres://…` (the
/// PostgreSQL store; `--schema` names its schema) or `--store file:PATH` (a file store), also
/// given as $TOGGLES_STORE. `report` and `check` can instead read registry JSON files that
/// services or their tests wrote (`--from`).
#[derive(Parser)]
#[command(name = "toggles", version, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The fleet report: every toggle, who declares it, its state, its debt.
    Report(report::Args),
    /// Fail (exit 1) when a toggle is past its removal date, or on drift when asked: for CI.
    Check(check::Args),
    /// One toggle: metadata, services, state, history, and how a flag answers a context.
    Show(show::Args),
    /// The audit log, newest first.
    Audit(audit::Args),
    /// Set a switch (on/off) or a setting (a value of its type).
    Set(write::SetArgs),
    /// Replace a flag's rule: percentage, targeting, gates, guard.
    Flag(Box<write::FlagArgs>),
    /// Steer a flag's staged rollout: pause, resume, skip a stage, or roll back one.
    Rollout(rollout::Args),
    /// Replace a variant toggle's rule: the experiment's coverage and weights, pins, gates.
    Variant(Box<variant::Args>),
    /// An experiment's results per arm: units exposed, conversions per goal, rates with their
    /// 95% intervals, and the difference from the control.
    Results(results::Args),
    /// What people said about a flag or a variant toggle, per arm, newest first.
    Feedback(feedback::Args),
    /// Delete a toggle's stored state, so its compiled default applies again.
    Reset(write::ResetArgs),
    /// Where each toggle is read in a workspace's Rust sources, and which are read nowhere.
    Refs(Box<refs::Args>),
    /// Serve the fleet's toggles over HTTP: the admin pages, the JSON API and OFREP, evaluated
    /// against the declarations the fleet published, with probes and metrics.
    #[cfg(feature = "serve")]
    Serve(Box<serve::Args>),
}

/// How a command ended, when it ran to the end.
enum Outcome {
    /// Nothing to report.
    Clean,
    /// The command found what it looks for (debt, drift) or a write was refused.
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Report(args) => report::run(&cli.store, args),
        Command::Check(args) => check::run(&cli.store, args),
        Command::Show(args) => show::run(&cli.store, args),
        Command::Audit(args) => audit::run(&cli.store, args),
        Command::Set(args) => write::set(&cli.store, args),
        Command::Flag(args) => write::flag(&cli.store, args),
        Command::Rollout(args) => rollout::run(&cli.store, args),
        Command::Variant(args) => variant::run(&cli.store, args),
        Command::Results(args) => results::run(&cli.store, args),
        Command::Feedback(args) => feedback::run(&cli.store, args),
        Command::Reset(args) => write::reset(&cli.store, args),
        Command::Refs(args) => refs::run(&cli.store, args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&cli.store, args),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn groups_take_the_plural_like_users_and_sites_and_the_old_name_still_parses() {
        let rule_of = |option: &str| {
            let cli =
                Cli::try_parse_from(["toggles", "flag", "g.f", option, "org:o1", "--reason", "r"])
                    .unwrap();
            let Command::Flag(args) = cli.command else {
                panic!("a flag command")
            };
            serde_json::to_value(args.rule()).unwrap()
        };
        assert_eq!(rule_of("--groups-on"), rule_of("--group-on"));
        assert_eq!(rule_of("--groups-on")["groups"][0]["on"][0], "o1");
        assert_eq!(rule_of("--groups-off")["groups"][0]["off"][0], "o1");
        assert_eq!(rule_of("--groups-off"), rule_of("--group-off"));
    }
}
