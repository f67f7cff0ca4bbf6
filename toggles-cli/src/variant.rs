//! `toggles variant NAME`: replace a variant toggle's rule — its experiment's coverage and
//! weights, its pins, its gates — validated against the arms the fleet's services declare.

use anyhow::{bail, Result};
use toggles_runtime::rules::VariantRule;
use toggles_runtime::{Change, Kind};

use crate::source::StoreArgs;
use crate::write::{self, Attribution, GuardArgs};
use crate::Outcome;

/// A variant toggle's whole rule: what is not given is not in it. The order it applies in is
/// `VariantRule`'s: gates, sites, users, groups, everyone, the experiment, the control.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The variant toggle: `namespace.name`.
    name: String,
    /// The share of units in the experiment, 0 to 100 (in basis points); the rest get the
    /// control.
    #[arg(long)]
    coverage: Option<f64>,
    /// Each arm's weight in the experiment: `ARM=WEIGHT,…` (0 to 10,000 each; weights summing
    /// to 10,000 read as basis points).
    #[arg(long, value_delimiter = ',', value_name = "ARM=W,…", value_parser = weight)]
    weights: Vec<(String, u16)>,
    /// One arm for everyone the pins do not decide.
    #[arg(long, value_name = "ARM")]
    everyone: Option<String>,
    /// Pin users to an arm: `ARM:ID,ID` (repeat for more arms).
    #[arg(long, value_name = "ARM:ID,…", value_parser = pins)]
    users: Vec<(String, Vec<String>)>,
    /// Pin sites to an arm: `ARM:ID,ID`.
    #[arg(long, value_name = "ARM:ID,…", value_parser = pins)]
    sites: Vec<(String, Vec<String>)>,
    /// Pin members of groups to an arm: `KIND:ARM:ID,ID` (repeat for more).
    #[arg(long, value_name = "KIND:ARM:ID,…", value_parser = group_pins)]
    groups: Vec<(String, String, Vec<String>)>,
    /// Only in these environments.
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    environments: Vec<String>,
    /// Only where this flag is on (repeat for more).
    #[arg(long, value_name = "FLAG")]
    requires: Vec<String>,
    /// Only where an attribute has one of these values: `NAME=V1,V2` (repeat for more).
    #[arg(long, value_name = "NAME=V,…", value_parser = write::constraint)]
    constraint: Vec<(String, Vec<String>)>,
    /// Draw by this attribute instead of the user id.
    #[arg(long, value_name = "ATTRIBUTE")]
    stickiness: Option<String>,
    /// The draw's salt (default: the toggle's name).
    #[arg(long)]
    salt: Option<String>,
    /// Make each unit the experiment draws an exposure: for the host's subscribers, and for
    /// `toggles results`.
    #[arg(long)]
    track: bool,
    /// Give everyone the control, whatever else the rule says (the kill switch).
    #[arg(long)]
    inactive: bool,
    /// Drop these arms to the control (a guard does it by itself when one fails).
    #[arg(long, value_delimiter = ',', value_name = "ARM,…")]
    drop: Vec<String>,
    #[command(flatten)]
    guard: GuardArgs,
    #[command(flatten)]
    by: Attribution,
}

fn weight(pair: &str) -> Result<(String, u16), String> {
    match pair.trim().split_once('=') {
        Some((arm, w)) if !arm.is_empty() => {
            w.parse::<u16>().map(|w| (arm.to_owned(), w)).map_err(|_| {
                format!("the weight of `{arm}` is a whole number from 0 to 10,000, not `{w}`")
            })
        }
        _ => Err(format!("expected `ARM=WEIGHT`, got `{pair}`")),
    }
}

fn pins(s: &str) -> Result<(String, Vec<String>), String> {
    match s.split_once(':') {
        Some((arm, ids)) if !arm.is_empty() && !write::split(ids).is_empty() => {
            Ok((arm.to_owned(), write::split(ids)))
        }
        _ => Err(format!("expected `ARM:ID,ID`, got `{s}`")),
    }
}

fn group_pins(s: &str) -> Result<(String, String, Vec<String>), String> {
    match s.split_once(':').map(|(kind, rest)| (kind, pins(rest))) {
        Some((kind, Ok((arm, ids)))) if !kind.is_empty() => Ok((kind.to_owned(), arm, ids)),
        _ => Err(format!("expected `KIND:ARM:ID,ID`, got `{s}`")),
    }
}

impl Args {
    fn rule(&self) -> VariantRule {
        let mut rule = VariantRule::new().active(!self.inactive).track(self.track);
        if !self.environments.is_empty() {
            rule = rule.environments(self.environments.iter().cloned());
        }
        for r in &self.requires {
            rule = rule.requires(r.clone());
        }
        for (name, values) in &self.constraint {
            rule = rule.constraint(name.clone(), values.iter().cloned());
        }
        for (arm, ids) in &self.sites {
            rule = rule.sites(arm, ids.iter().cloned());
        }
        for (arm, ids) in &self.users {
            rule = rule.users(arm, ids.iter().cloned());
        }
        for (kind, arm, ids) in &self.groups {
            rule = rule.groups(kind, arm, ids.iter().cloned());
        }
        if let Some(arm) = &self.everyone {
            rule = rule.everyone(arm.clone());
        }
        if let Some(c) = self.coverage {
            rule = rule.coverage(c);
        }
        for (arm, w) in &self.weights {
            rule = rule.weight(arm.clone(), *w);
        }
        if let Some(s) = &self.salt {
            rule = rule.salt(s.clone());
        }
        if let Some(a) = &self.stickiness {
            rule = rule.stickiness(a.clone());
        }
        for arm in &self.drop {
            rule = rule.drop_arm(arm.clone());
        }
        if let Some(guard) = self.guard.guard() {
            rule = rule.guard(guard);
        }
        rule
    }
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let opened = store.open()?;
    let kind = write::kind_of(store, opened.as_ref(), &args.name)?;
    if kind != Kind::Variant {
        bail!(
            "`{}` is a {kind}, not a variant toggle: {}",
            args.name,
            match kind {
                Kind::Flag => format!("give its rule with `toggles flag {} …`", args.name),
                _ => format!("set it with `toggles set {} VALUE`", args.name),
            }
        );
    }
    let change = Change::variant(&args.name, args.rule());
    write::apply(store, opened.as_ref(), &change, &args.by)
}
