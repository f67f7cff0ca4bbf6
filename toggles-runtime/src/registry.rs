//! Every toggle linked into the binary, found through `inventory` with no list kept by hand
//! (OEP-17 Req 11, discoverability, and Req 12, reports).
//!
//! # JSON shape
//!
//! [`Registry`] and [`Report`] serialize with serde to the discoverability endpoint's body.
//! The shape is stable: fields may be added, none renamed or removed within a major version.
//!
//! ```json
//! {
//!   "as_of": "2026-11-21",
//!   "toggles": [
//!     {
//!       "full_name": "grading.new_grader",
//!       "namespace": "grading",
//!       "name": "new_grader",
//!       "kind": "flag",
//!       "value_type": "bool",
//!       "default": false,
//!       "description": "Grade problems with the rewritten engine.",
//!       "life": "temporary",
//!       "remove_by": "2025-06-01",
//!       "justification": null,
//!       "expired": true,
//!       "created": null,
//!       "owner": null,
//!       "use_cases": [],
//!       "tickets": null,
//!       "warning": null,
//!       "source": {
//!         "crate": "grading", "crate_version": "0.1.0", "module_path": "grading::engine",
//!         "file": "src/engine.rs", "line": 12, "column": 1
//!       },
//!       "state": {
//!         "source": "store", "value": { "percent": 20.0 },
//!         "first_modified": "2025-03-01T09:00:00Z", "last_modified": "2025-04-02T14:30:00Z",
//!         "modified_by": "ana@example.com"
//!       }
//!     }
//!   ],
//!   "expired": ["grading.new_grader"],
//!   "duplicates": []
//! }
//! ```
//!
//! Each toggle also carries `"state"`: `{"source": "store" | "default", "value": ..., "first_modified",
//! "last_modified", "modified_by"}` — the switch state, flag rule or setting value in force,
//! and who changed it when, from the audit log (`null` when never changed).
//!
//! `kind` is `"switch"`, `"flag"` or `"setting"`; `default` is a JSON boolean, number or string
//! after `value_type`; dates are `YYYY-MM-DD`; `expired` is judged on `as_of` (a temporary
//! toggle is expired the day after its `remove_by`); `duplicates` lists full names declared more
//! than once, with every `source`.

use std::sync::OnceLock;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::cache;
use crate::toggle::Registration;
use crate::{Date, Kind, Meta, Source, Timestamp, Toggle, Value};

/// The toggles of this binary, in full-name order.
///
/// ```
/// use toggles::{registry, toggle, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// static NEW_GRADER: Flag;
///
/// let info = registry().get("grading.new_grader").unwrap();
/// assert_eq!(info.meta().description(), "Grade problems with the rewritten engine.");
/// assert!(info.meta().is_expired_on("2025-06-02".parse().unwrap()));
/// println!("{}", serde_json::to_string_pretty(registry()).unwrap());
/// ```
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Registry::from_toggles(
            inventory::iter::<Registration>
                .into_iter()
                .map(|r| r.toggle),
        )
    })
}

/// Every declared toggle, sorted by full name, and any full name declared twice.
///
/// Get it with [`registry()`].
pub struct Registry {
    toggles: Vec<ToggleInfo>,
    duplicates: Vec<Duplicate>,
}

impl Registry {
    fn from_toggles(toggles: impl Iterator<Item = &'static dyn Toggle>) -> Registry {
        let mut toggles: Vec<ToggleInfo> = toggles.map(|toggle| ToggleInfo { toggle }).collect();
        // Ties broken by source so duplicates come out in a stable order.
        toggles.sort_by(|a, b| {
            let key = |t: &ToggleInfo| {
                let s = t.meta().source();
                (t.full_name(), s.file, s.line, s.column)
            };
            key(a).cmp(&key(b))
        });
        for (id, t) in toggles.iter().enumerate() {
            t.toggle
                .set_id(u32::try_from(id).expect("fewer than 2^32 toggles"));
        }
        let duplicates = toggles
            .chunk_by(|a, b| a.full_name() == b.full_name())
            .filter(|group| group.len() > 1)
            .map(|group| Duplicate {
                full_name: group[0].full_name(),
                sources: group.iter().map(|t| *t.meta().source()).collect(),
            })
            .collect();
        Registry {
            toggles,
            duplicates,
        }
    }

    /// Every toggle, in full-name order.
    pub fn iter(&self) -> std::slice::Iter<'_, ToggleInfo> {
        self.toggles.iter()
    }

    /// The toggle with this full name (`namespace.name`).
    pub fn get(&self, full_name: &str) -> Option<&ToggleInfo> {
        let i = self.toggles.partition_point(|t| t.full_name() < full_name);
        self.toggles.get(i).filter(|t| t.full_name() == full_name)
    }

    /// The toggle at position `id` in full-name order.
    pub(crate) fn by_id(&self, id: u32) -> Option<&ToggleInfo> {
        self.toggles.get(id as usize)
    }

    /// The position of `full_name` in full-name order.
    pub(crate) fn id_of(&self, full_name: &str) -> Option<u32> {
        let i = self.toggles.partition_point(|t| t.full_name() < full_name);
        (self.toggles.get(i)?.full_name() == full_name)
            .then(|| u32::try_from(i).expect("fewer than 2^32 toggles"))
    }

    /// How many toggles are declared.
    pub fn len(&self) -> usize {
        self.toggles.len()
    }

    /// Whether no toggle is declared.
    pub fn is_empty(&self) -> bool {
        self.toggles.is_empty()
    }

    /// Full names declared more than once. Two declarations of one name are a compile error in
    /// one crate and a link error across crates; this reports any that got past both.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// The temporary toggles past their `remove_by` on `date`.
    pub fn expired_on(&self, date: Date) -> impl Iterator<Item = &ToggleInfo> + '_ {
        self.iter().filter(move |t| t.meta().is_expired_on(date))
    }

    /// The report as of `date`: what serializes to JSON, with `expired` judged on that date.
    pub fn report_as_of(&self, date: Date) -> Report<'_> {
        Report {
            registry: self,
            as_of: date,
        }
    }
}

impl<'r> IntoIterator for &'r Registry {
    type Item = &'r ToggleInfo;
    type IntoIter = std::slice::Iter<'r, ToggleInfo>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(ToggleInfo::full_name))
            .finish()
    }
}

/// Serializes as the report as of today (UTC).
impl Serialize for Registry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.report_as_of(Date::today()).serialize(serializer)
    }
}

/// One toggle as the registry sees it: its metadata, kind and default.
#[derive(Clone, Copy)]
pub struct ToggleInfo {
    toggle: &'static dyn Toggle,
}

impl ToggleInfo {
    /// `namespace.name`.
    pub fn full_name(&self) -> &'static str {
        self.toggle.meta().full_name()
    }

    /// The declared metadata.
    pub fn meta(&self) -> &'static Meta {
        self.toggle.meta()
    }

    /// Switch, flag or setting.
    pub fn kind(&self) -> Kind {
        self.toggle.kind()
    }

    /// `bool` for switches and flags, `T` for `Setting<T>`.
    pub fn value_type(&self) -> &'static str {
        self.toggle.value_type()
    }

    /// The compiled default.
    pub fn default_value(&self) -> Value {
        self.toggle.default_value()
    }

    /// The toggle itself.
    pub fn toggle(&self) -> &'static dyn Toggle {
        self.toggle
    }

    /// What is in force for the toggle now: the store's entry or the compiled default, and
    /// who changed it when (OEP-17 Req 5 and 12).
    pub fn live(&self) -> Live {
        let compiled = cache::current();
        let name = self.full_name();
        let stored = compiled.as_ref().and_then(|c| c.snapshot.entry(name));
        let history = compiled.as_ref().and_then(|c| c.history.get(name).cloned());
        Live {
            source: if stored.is_some() {
                LiveSource::Store
            } else {
                LiveSource::Default
            },
            value: stored.unwrap_or_else(|| {
                serde_json::to_value(self.default_value()).expect("a value serializes")
            }),
            first_modified: history.as_ref().map(|h| h.first_modified),
            last_modified: history.as_ref().map(|h| h.last_modified),
            modified_by: history.map(|h| h.modified_by),
        }
    }
}

/// A toggle's state in force, for the registry's live view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Live {
    /// Where `value` comes from.
    pub source: LiveSource,
    /// A switch's state, a flag's rule or a setting's value, as the store holds it; the
    /// compiled default when the store holds nothing.
    pub value: serde_json::Value,
    /// The first audited change, if any.
    pub first_modified: Option<Timestamp>,
    /// The last audited change, if any.
    pub last_modified: Option<Timestamp>,
    /// Who made the last audited change.
    pub modified_by: Option<String>,
}

/// Where a toggle's state in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveSource {
    /// The installed store holds an entry for it.
    Store,
    /// Nothing does: the compiled default applies.
    Default,
}

impl std::fmt::Debug for ToggleInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToggleInfo")
            .field("full_name", &self.full_name())
            .field("kind", &self.kind())
            .field("default", &self.default_value())
            .field("source", self.meta().source())
            .finish()
    }
}

/// A full name declared more than once, with where.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    /// The full name declared twice or more.
    pub full_name: &'static str,
    /// Every declaration of it.
    pub sources: Vec<Source>,
}

/// The registry as of a date: serializes to the discoverability endpoint's JSON body.
#[derive(Clone, Copy)]
pub struct Report<'r> {
    registry: &'r Registry,
    as_of: Date,
}

impl Serialize for Report<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("as_of", &self.as_of)?;
        map.serialize_entry("toggles", &Entries(*self))?;
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

struct Entries<'r>(Report<'r>);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.registry.len()))?;
        for t in self.0.registry {
            seq.serialize_element(&Entry {
                info: t,
                as_of: self.0.as_of,
            })?;
        }
        seq.end()
    }
}

struct Entry<'r> {
    info: &'r ToggleInfo,
    as_of: Date,
}

impl Serialize for Entry<'_> {
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
        map.serialize_entry("state", &self.info.live())?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::MetaParts;
    use crate::{Flag, Life, Switch};

    const fn meta(full_name: &'static str, file: &'static str, line: u32) -> Meta {
        Meta::__new(MetaParts {
            full_name,
            namespace: "grading",
            name: "new_grader",
            description: "Grade problems with the rewritten engine.",
            life: Life::Permanent {
                justification: "test",
            },
            created: None,
            owner: None,
            use_cases: &[],
            tickets: None,
            warning: None,
            source: Source {
                crate_name: "test",
                crate_version: "0.0.0",
                module_path: "test",
                file,
                line,
                column: 1,
            },
        })
    }

    // What the compile and link errors normally prevent: one full name declared twice.
    static SECOND: Flag = Flag::__new(meta("grading.new_grader", "b.rs", 7), false);
    static FIRST: Switch = Switch::__new(meta("grading.new_grader", "a.rs", 3), false);
    static OTHER: Flag = Flag::__new(meta("grading.other", "a.rs", 9), false);

    #[test]
    fn reports_a_full_name_declared_twice_with_both_sources() {
        let toggles: [&'static dyn Toggle; 3] = [&SECOND, &OTHER, &FIRST];
        let registry = Registry::from_toggles(toggles.into_iter());
        assert_eq!(registry.len(), 3);
        let [dup] = registry.duplicates() else {
            panic!("one duplicate expected: {:?}", registry.duplicates())
        };
        assert_eq!(dup.full_name, "grading.new_grader");
        let sources: Vec<_> = dup.sources.iter().map(ToString::to_string).collect();
        assert_eq!(sources, ["a.rs:3:1", "b.rs:7:1"]);
        // Lookup is deterministic: the first declaration by source location.
        assert_eq!(
            registry.get("grading.new_grader").unwrap().kind(),
            Kind::Switch
        );

        let json =
            serde_json::to_value(registry.report_as_of(Date::__checked(2026, 1, 1))).unwrap();
        assert_eq!(json["duplicates"][0]["full_name"], "grading.new_grader");
        assert_eq!(json["duplicates"][0]["sources"][1]["file"], "b.rs");
    }
}
