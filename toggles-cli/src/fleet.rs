//! The fleet report every reading command starts from, and finding a toggle in it by name.

use std::time::Duration;

use anyhow::{bail, Result};
use toggles_runtime::fleet::{Declarer, FleetReport, FleetToggle};
use toggles_runtime::store::Usage;
use toggles_runtime::{Date, Timestamp};

use crate::progress;
use crate::source::{self, StoreArgs};

/// Where the report comes from and what day it is judged on.
#[derive(clap::Args)]
pub(crate) struct FleetArgs {
    /// Read these registry JSON files instead of a store: a service's `GET /` body or
    /// `serde_json::to_string(&toggles::registry().report()?)` (named by file stem, or `SERVICE=PATH`), or
    /// a service's published `Declarations`.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    from: Vec<String>,
    /// Judge removal dates as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE")]
    pub(crate) as_of: Option<Date>,
    /// Count a service instance as running if it was seen this recently (the default is three
    /// of the runtime's 30-second heartbeats, so one late heartbeat does not count it gone).
    #[arg(long, value_name = "DURATION", default_value = "90s", value_parser = humantime::parse_duration)]
    live_within: Duration,
}

impl FleetArgs {
    /// Whether the report is read from files (`--from`) rather than a store.
    pub(crate) fn reads_files(&self) -> bool {
        !self.from.is_empty()
    }

    /// The day removal dates are judged on.
    pub(crate) fn as_of(&self) -> Date {
        self.as_of.unwrap_or_else(Date::today)
    }

    /// The fleet's evaluations per toggle and service, from the store; `None` for a report
    /// read from files, or a store that keeps none.
    pub(crate) fn usage(&self, store: &StoreArgs) -> Result<Option<Vec<Usage>>> {
        if !self.from.is_empty() {
            return Ok(None);
        }
        let opened = store.open()?;
        source::reading(store, "the fleet's usage", opened.usage())
    }

    /// The fleet report, from the files or the store.
    pub(crate) fn report(&self, store: &StoreArgs) -> Result<FleetReport> {
        let now = Timestamp::now();
        if !self.from.is_empty() {
            let parts = source::read_files(&self.from, now)?;
            return Ok(FleetReport::from_parts(
                &parts.published,
                &parts.snapshot,
                &parts.histories,
                self.as_of(),
                now,
                // Files are the fleet as given: every service in them counts as running.
                Duration::MAX,
            ));
        }
        let opened = store.open()?;
        let report = progress::during(
            &format!("reading the fleet from {}", store.describe()),
            || FleetReport::of(opened.as_ref(), self.as_of(), now, self.live_within),
        );
        source::reading(store, "the fleet", report)
    }
}

/// The toggle named `name`, or an error suggesting the closest names the fleet has.
pub(crate) fn find<'r>(report: &'r FleetReport, name: &str) -> Result<&'r FleetToggle> {
    if let Some(t) = report.toggles.iter().find(|t| t.full_name == name) {
        return Ok(t);
    }
    let names = report.toggles.iter().map(|t| t.full_name.as_str());
    bail!("{}", unknown(name, names))
}

/// "no toggle named …; did you mean …?"
pub(crate) fn unknown<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let mut close: Vec<(f64, &str)> = known
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    let close: Vec<String> = close
        .into_iter()
        .take(3)
        .map(|(_, k)| format!("`{k}`"))
        .collect();
    if close.is_empty() {
        format!("no toggle named `{name}` in this fleet (`toggles report` lists them)")
    } else {
        format!(
            "no toggle named `{name}` in this fleet; did you mean {}?",
            close.join(" or ")
        )
    }
}

/// `grading 1.4.2`, or `grading` for a service that published no version (a registry file).
pub(crate) fn service_label(by: &Declarer) -> String {
    if by.version.is_empty() {
        by.service.clone()
    } else {
        format!("{} {}", by.service, by.version)
    }
}
