//! The registry as a JSON report: the discoverability endpoint's body.

use serde::{Deserialize, Serialize};
use toggles_vocab::Date;

use std::collections::HashMap;

use crate::declare::{Registry, ToggleInfo};
use crate::reports::lifecycle::{judge, Lifecycle, Staleness};
use crate::reports::Live;
use crate::stores::{Declared, DeclaredAt, StoreError, Usage};
use crate::targeting::Timestamp;

/// The registry as of a date, with every toggle's state in force and its history: the
/// discoverability endpoint's JSON body (OEP-17 Req 11 and 12).
///
/// A report is data: [`Registry::report`] builds it — reading the installed store's audit log
/// once, which may fail, and the clock once — and serializing it reads nothing. It reads back
/// from JSON too (the `toggles` command reads the reports services write), each toggle's entry
/// being its published declaration ([`Declared`]) and what the report adds.
///
/// # JSON shape
///
/// The shape is stable: fields may be added, none renamed or removed within a major version.
///
/// ```json
/// {
///   "as_of": "2026-11-21",
///   "toggles": [
///     {
///       "full_name": "grading.new_grader",
///       "namespace": "grading",
///       "name": "new_grader",
///       "kind": "flag",
///       "value_type": "bool",
///       "default": false,
///       "description": "Grade problems with the rewritten engine.",
///       "life": "temporary",
///       "remove_by": "2025-06-01",
///       "justification": null,
///       "expired": true,
///       "created": null,
///       "owner": null,
///       "use_cases": [],
///       "tickets": null,
///       "warning": null,
///       "source": {
///         "crate": "grading", "crate_version": "0.1.0", "module_path": "grading::engine",
///         "file": "src/engine.rs", "line": 12, "column": 1
///       },
///       "state": {
///         "source": "store", "value": { "percent": 20.0 }, "revision": "3f1c2a9e08b7d4c6",
///         "first_modified": "2025-03-01T09:00:00Z", "last_modified": "2025-04-02T14:30:00Z",
///         "modified_by": "ana@example.com"
///       }
///     }
///   ],
///   "expired": ["grading.new_grader"],
///   "duplicates": []
/// }
/// ```
///
/// Each toggle also carries `"state"`: `{"source": "store" | "default", "value": ...,
/// "revision", "first_modified", "last_modified", "modified_by"}` — the switch state, flag rule or
/// setting value in force, its [`Revision`](crate::Revision), and who changed it when, from the
/// audit log (`null` when never changed).
///
/// `kind` is `"switch"`, `"flag"` or `"setting"`; `default` is a JSON boolean, number or string
/// after `value_type`; dates are `YYYY-MM-DD`; `expired` is judged on `as_of` (a temporary
/// toggle is expired the day after its `remove_by`); `duplicates` lists full names declared more
/// than once, with every `source`.
///
/// ```
/// use toggles::{registry, toggle, Date, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// static NEW_GRADER: Flag;
///
/// let as_of: Date = "2026-01-01".parse().unwrap();
/// let report = registry().report_as_of(as_of)?;
/// assert_eq!(report.expired, ["grading.new_grader"]);
/// let json = serde_json::to_value(&report)?;
/// assert_eq!(json["toggles"][0]["state"]["source"], "default");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The date `expired` is judged on.
    pub as_of: Date,
    /// Every toggle, in full-name order.
    pub toggles: Vec<ToggleReport>,
    /// Full names of the toggles past their `remove_by` on `as_of`.
    pub expired: Vec<String>,
    /// Full names declared more than once, with every declaration.
    pub duplicates: Vec<DuplicateReport>,
}

/// One toggle's entry of the [`Report`]: its declaration as the program publishes it, what the
/// report adds — its namespace and name, whether it is expired, its state in force — and
/// nothing read when it is serialized.
///
/// ```
/// use toggles::{registry, toggle, Switch};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let info = registry().get("catalog.recommendations").unwrap();
/// let entry = info.report_as_of("2026-01-01".parse().unwrap())?;
/// assert_eq!(entry.state.value, true);
/// let json = serde_json::to_value(&entry)?;
/// assert_eq!(json["kind"], "switch");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToggleReport {
    /// What the program declares of the toggle (its fields are the entry's, in the JSON).
    #[serde(flatten)]
    pub declaration: Declared,
    /// The namespace.
    pub namespace: String,
    /// The name within it.
    pub name: String,
    /// Whether it is past its `remove_by` on the report's date.
    pub expired: bool,
    /// What is in force for it, and who changed it when.
    pub state: Live,
    /// Its lifecycle stage, from what the fleet evaluates (the installed store's usage, with
    /// the default windows); absent when the store keeps no usage or could not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

/// A full name declared more than once, as the report gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DuplicateReport {
    /// The full name.
    pub full_name: String,
    /// Every declaration of it.
    pub sources: Vec<DeclaredAt>,
}

impl Registry {
    /// The report as of today (UTC): every toggle with its state in force and history, the
    /// expired ones, the duplicates. Reads the installed store's audit log once; an `Err` means
    /// it could not be read (a report without the history would say nothing changed).
    pub fn report(&self) -> Result<Report, StoreError> {
        self.report_as_of(Date::today())
    }

    /// [`report`](Registry::report), with `expired` judged on `date`.
    pub fn report_as_of(&self, date: Date) -> Result<Report, StoreError> {
        let lives = self.live_all()?;
        let usage = fleet_usage();
        let toggles = self
            .iter()
            .zip(lives)
            .map(|(info, live)| ToggleReport::of(info, date, live, usage.as_ref()))
            .collect();
        Ok(Report {
            as_of: date,
            toggles,
            expired: self
                .expired_on(date)
                .map(|t| t.full_name().to_owned())
                .collect(),
            duplicates: self
                .duplicates()
                .iter()
                .map(|d| DuplicateReport {
                    full_name: d.full_name.to_owned(),
                    sources: d.sources.iter().map(DeclaredAt::of).collect(),
                })
                .collect(),
        })
    }
}

impl ToggleInfo {
    /// This toggle's entry of the report as of `as_of`, its history read from the installed
    /// store's audit log (an `Err` when it cannot be read).
    pub fn report_as_of(&self, as_of: Date) -> Result<ToggleReport, StoreError> {
        Ok(ToggleReport::of(
            self,
            as_of,
            self.live()?,
            fleet_usage().as_ref(),
        ))
    }
}

/// The installed store's usage by toggle; `None` when there is no store, it keeps none, or it
/// could not be read (the report goes on without stages, and the failure is logged).
fn fleet_usage() -> Option<HashMap<String, Vec<Usage>>> {
    let store = crate::state::installed_store()?;
    let usage = match store.usage() {
        Ok(usage) => usage?,
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: the report has no lifecycle stages: usage unreadable");
            return None;
        }
    };
    let mut by_toggle: HashMap<String, Vec<Usage>> = HashMap::new();
    for u in usage {
        by_toggle.entry(u.toggle.clone()).or_default().push(u);
    }
    Some(by_toggle)
}

impl ToggleReport {
    fn of(
        info: &ToggleInfo,
        as_of: Date,
        state: Live,
        usage: Option<&HashMap<String, Vec<Usage>>>,
    ) -> ToggleReport {
        let m = info.meta();
        let declaration = Declared::of(info);
        let expired = m.is_expired_on(as_of);
        let lifecycle = usage.map(|by_toggle| {
            let used: Vec<&Usage> = by_toggle
                .get(m.full_name())
                .map(|u| u.iter().collect())
                .unwrap_or_default();
            judge(
                Some(&declaration),
                expired,
                &used,
                Timestamp::now(),
                &Staleness::default(),
            )
        });
        ToggleReport {
            declaration,
            namespace: m.namespace().to_owned(),
            name: m.name().to_owned(),
            expired,
            state,
            lifecycle,
        }
    }
}
