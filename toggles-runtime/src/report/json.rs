//! The registry as a JSON report: the discoverability endpoint's body.

use std::borrow::Cow;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use toggles_vocab::Date;

use crate::declare::{Registry, ToggleInfo};
use crate::report::Live;

/// The registry as of a date, with every toggle's live state: serializes to the
/// discoverability endpoint's JSON body (OEP-17 Req 11 and 12).
///
/// # JSON shape
///
/// [`Registry`](crate::Registry) and [`Report`] serialize with serde to the discoverability endpoint's body.
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
///         "source": "store", "value": { "percent": 20.0 },
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
/// Each toggle also carries `"state"`: `{"source": "store" | "default", "value": ..., "first_modified",
/// "last_modified", "modified_by"}` — the switch state, flag rule or setting value in force,
/// and who changed it when, from the audit log (`null` when never changed).
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
/// let json = serde_json::to_value(registry().report_as_of(as_of)).unwrap();
/// assert_eq!(json["expired"][0], "grading.new_grader");
/// assert_eq!(json["toggles"][0]["state"]["source"], "default");
/// ```
#[derive(Clone, Copy)]
pub struct Report<'r> {
    registry: &'r Registry,
    as_of: Date,
}

impl Registry {
    /// The report as of `date`: what serializes to JSON, with `expired` judged on that date.
    pub fn report_as_of(&self, date: Date) -> Report<'_> {
        Report {
            registry: self,
            as_of: date,
        }
    }
}

/// Serializes as the [`Report`] as of today (UTC).
impl Serialize for Registry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.report_as_of(Date::today()).serialize(serializer)
    }
}

impl Serialize for Report<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // One read of the state in force and of the audit log for the whole report.
        let lives = self.registry.live_all();
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("as_of", &self.as_of)?;
        map.serialize_entry(
            "toggles",
            &Entries {
                report: *self,
                lives: &lives,
            },
        )?;
        let expired: Vec<_> = self
            .registry
            .expired_on(self.as_of)
            .map(ToggleInfo::full_name)
            .collect();
        map.serialize_entry("expired", &expired)?;
        map.serialize_entry("duplicates", self.registry.duplicates())?;
        map.end()
    }
}

struct Entries<'r> {
    report: Report<'r>,
    /// By registry position.
    lives: &'r [Live],
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.report.registry.len()))?;
        for (info, live) in self.report.registry.iter().zip(self.lives) {
            seq.serialize_element(&ToggleReport {
                info,
                as_of: self.report.as_of,
                live: Cow::Borrowed(live),
            })?;
        }
        seq.end()
    }
}

/// One toggle's entry of the [`Report`], as of a date, with its live state: what the
/// discoverability endpoint answers for one toggle. Same JSON as an element of the report's
/// `toggles`.
///
/// ```
/// use toggles::{registry, toggle, Switch};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let info = registry().get("catalog.recommendations").unwrap();
/// let json = serde_json::to_value(info.report_as_of("2026-01-01".parse().unwrap())).unwrap();
/// assert_eq!(json["kind"], "switch");
/// assert_eq!(json["state"]["value"], true);
/// ```
pub struct ToggleReport<'r> {
    info: &'r ToggleInfo,
    as_of: Date,
    live: Cow<'r, Live>,
}

impl ToggleInfo {
    /// This toggle's entry of the report as of `as_of`, with its live state (its history read
    /// from the installed store).
    pub fn report_as_of(&self, as_of: Date) -> ToggleReport<'_> {
        ToggleReport {
            info: self,
            as_of,
            live: Cow::Owned(self.live()),
        }
    }
}

impl ToggleReport<'_> {
    /// The toggle's state in force, as the report gives it.
    pub fn live(&self) -> &Live {
        &self.live
    }
}

impl Serialize for ToggleReport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.info.meta();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("full_name", m.full_name())?;
        map.serialize_entry("namespace", m.namespace())?;
        map.serialize_entry("name", m.name())?;
        map.serialize_entry("kind", &self.info.kind())?;
        map.serialize_entry("value_type", self.info.value_type())?;
        map.serialize_entry("default", &self.info.default_value())?;
        map.serialize_entry("description", m.description())?;
        map.serialize_entry("life", m.life().as_str())?;
        map.serialize_entry("remove_by", &m.remove_by())?;
        map.serialize_entry("justification", &m.justification())?;
        map.serialize_entry("expired", &m.is_expired_on(self.as_of))?;
        map.serialize_entry("created", &m.created())?;
        map.serialize_entry("owner", &m.owner())?;
        map.serialize_entry("use_cases", m.use_cases())?;
        map.serialize_entry("tickets", &m.tickets())?;
        map.serialize_entry("warning", &m.warning())?;
        map.serialize_entry("source", m.source())?;
        map.serialize_entry("state", self.live.as_ref())?;
        map.end()
    }
}
