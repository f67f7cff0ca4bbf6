//! The fleet report: every service's published declarations merged with the stored states and
//! the audit log, built from a shared store alone (OEP-17 Req 11, 12 and 13).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;
use toggles_vocab::Date;

use crate::compile::Snapshot;
use crate::reports::lifecycle::{judge, Lifecycle, Staleness};
use crate::reports::LiveSource;
use crate::stores::{Declared, History, Published, Roster, Store, StoreError, Usage};
use crate::targeting::Timestamp;

/// What a shared store says of the fleet's toggles: per toggle, which services declare it and
/// where, its metadata (flagged where services disagree), its state and history, whether it is
/// expired, and the drift OEP-17's report exists to show.
///
/// It serializes to JSON with the conventions of the registry's [`Report`](crate::report::Report)
/// (`YYYY-MM-DD` dates, `null` for what is missing, snake-case names):
///
/// ```json
/// {
///   "as_of": "2026-11-22",
///   "services": [
///     { "service": "grading", "version": "1.4.2", "instances": 3, "live_instances": 3,
///       "last_seen": "2026-11-22T10:00:00Z" }
///   ],
///   "toggles": [
///     {
///       "full_name": "grading.new_grader",
///       "declared_by": [
///         { "service": "grading", "version": "1.4.2", "file": "src/engine.rs", "line": 12,
///           "live": true, "current": true, "last_seen": "2026-11-22T10:00:00Z" }
///       ],
///       "declared_now": true,
///       "declaration": { "kind": "flag", "description": "...", "remove_by": "2025-06-01", ... },
///       "disagreements": [],
///       "state": { "source": "store", "value": { "percent": 20.0 },
///                  "first_modified": "...", "last_modified": "...", "modified_by": "ana" },
///       "last_seen": "2026-11-22T10:00:00Z",
///       "expired": true,
///       "drift": null
///     }
///   ],
///   "expired": ["grading.new_grader"],
///   "drift": { "undeclared": [], "never_set": [], "disagreements": [] }
/// }
/// ```
///
/// # Who is judged
///
/// The store keeps stopped instances for a while (its retention, a week by default), so the
/// report can show a service that went quiet; they are listed, but they do not judge. An
/// instance seen within `live_within` of `now` is *live*, unless a process of the same service
/// on the same host published after it was last seen (a restart replaced it). The *current*
/// instances are the live ones, and, for a service with no live instance (stopped, or a batch
/// job between runs), its newest one. Everything the report judges — expiry, disagreements,
/// the declaration and its owner, drift — is judged on the current instances; among them the one
/// that published last speaks for a toggle's metadata. Versions are ordered by when they were
/// published, never as strings.
///
/// `drift` on a toggle is `"undeclared"` (the store holds state for it but no current instance
/// declares it: dead state to clean up with a reset) or `"never_set"` (declared, but the store
/// holds nothing for it and never did: the default is all it has been).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct FleetReport {
    /// The date `expired` is judged on.
    pub as_of: Date,
    /// Each service and version that published, with its instances: by service name, then by
    /// when the version was first published.
    pub services: Vec<FleetService>,
    /// Every toggle declared by any instance or held by the store, in full-name order.
    pub toggles: Vec<FleetToggle>,
    /// Full names of the toggles expired on `as_of`.
    pub expired: Vec<String>,
    /// The drift, toggle names by kind.
    pub drift: Drift,
    /// Full names of the toggles whose lifecycle is stale: expired, or launched or unused past
    /// their life's window (empty when the store keeps no usage).
    pub stale: Vec<String>,
}

/// A service at one version, as its instances published it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FleetService {
    /// The service's name.
    pub service: String,
    /// Its version.
    pub version: String,
    /// Instances the store keeps.
    pub instances: usize,
    /// Instances running: seen within the report's `live_within`, not replaced by a restart.
    pub live_instances: usize,
    /// The latest sign of life of any of its instances.
    pub last_seen: Timestamp,
}

/// One toggle across the fleet.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct FleetToggle {
    /// `namespace.name`.
    pub full_name: String,
    /// Every service and version on record that declares it, and where: by service name, then
    /// by when the version was first published.
    pub declared_by: Vec<Declarer>,
    /// Whether a current instance declares it (see [`FleetReport`]): `false` for a toggle only
    /// stopped or replaced versions declared, which is judged by no one.
    pub declared_now: bool,
    /// The metadata as the current declarer that published last declares it; when no current
    /// instance declares the toggle, as the newest instance on record did; `None` when no
    /// instance on record declares it.
    pub declaration: Option<Declared>,
    /// The metadata fields the current declarers disagree on: `kind`, `value_type`, `default`,
    /// `description`, `life`, `remove_by`, `justification`, `owner`.
    pub disagreements: Vec<&'static str>,
    /// What the store holds, and who changed it when.
    pub state: FleetState,
    /// The latest sign of life of an instance declaring it.
    pub last_seen: Option<Timestamp>,
    /// Whether the declaration's `remove_by` is before `as_of`, for a toggle declared now.
    pub expired: bool,
    /// How it drifted, if it did.
    pub drift: Option<DriftKind>,
    /// Its lifecycle stage from the fleet's evaluations, for a toggle declared now; `None`
    /// when the store keeps no usage.
    pub lifecycle: Option<Lifecycle>,
}

/// How a toggle drifted from what the fleet declares (OEP-17's report exists to show it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DriftKind {
    /// The store holds state for it, but no current instance declares it: state a removed
    /// toggle left behind, to clean up with a reset.
    Undeclared,
    /// Declared, but the store holds nothing for it and never did: its compiled default is all
    /// it has been.
    NeverSet,
}

impl DriftKind {
    /// `"undeclared"` or `"never_set"`, as the JSON writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DriftKind::Undeclared => "undeclared",
            DriftKind::NeverSet => "never_set",
        }
    }
}

impl std::fmt::Display for DriftKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service and version declaring a toggle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Declarer {
    /// The service.
    pub service: String,
    /// Its version.
    pub version: String,
    /// The declaring file.
    pub file: String,
    /// The line of the declaration.
    pub line: u32,
    /// Whether an instance of it is running: seen within `live_within`, not replaced.
    pub live: bool,
    /// Whether an instance of it speaks for its service now: running, or its service's newest
    /// when none of its instances runs.
    pub current: bool,
    /// Its instances' latest sign of life.
    pub last_seen: Timestamp,
}

/// A toggle's stored state and history in the fleet report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FleetState {
    /// `store` when the store holds an entry, else `default`.
    pub source: LiveSource,
    /// The stored entry; `null` when the store holds none (each service's compiled default
    /// applies: see `declaration.default`).
    pub value: Option<Json>,
    /// The first audited change.
    pub first_modified: Option<Timestamp>,
    /// The last audited change.
    pub last_modified: Option<Timestamp>,
    /// Who made the last change.
    pub modified_by: Option<String>,
}

/// The drift across the fleet, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Drift {
    /// Held in the store, declared by no live service.
    pub undeclared: Vec<String>,
    /// Declared, never set.
    pub never_set: Vec<String>,
    /// Declared differently by different services.
    pub disagreements: Vec<String>,
}

impl FleetReport {
    /// The report of `store`'s fleet as of `as_of`, counting as live the instances seen within
    /// `live_within` of `now` ([`LIVE_WITHIN`](crate::fleet::LIVE_WITHIN), three heartbeats, is a fair
    /// window).
    pub fn of(
        store: &dyn Store,
        as_of: Date,
        now: Timestamp,
        live_within: Duration,
    ) -> Result<FleetReport, StoreError> {
        let published = store.published()?;
        let snapshot = store.load()?;
        let histories = store.histories()?;
        let mut report =
            FleetReport::from_parts(&published, &snapshot, &histories, as_of, now, live_within);
        if let Some(usage) = store.usage()? {
            report.judge(&usage, now, &Staleness::default());
        }
        Ok(report)
    }

    /// Gives each toggle declared now its lifecycle stage from the fleet's `usage` (a store's
    /// [`usage`](Store::usage)) at `now`, with `staleness`'s windows, and lists the stale ones.
    /// [`of`](FleetReport::of) judges with the default windows.
    pub fn judge(&mut self, usage: &[Usage], now: Timestamp, staleness: &Staleness) {
        let mut by_toggle: HashMap<&str, Vec<&Usage>> = HashMap::new();
        for u in usage {
            by_toggle.entry(u.toggle.as_str()).or_default().push(u);
        }
        self.stale.clear();
        for t in &mut self.toggles {
            if !t.declared_now {
                t.lifecycle = None;
                continue;
            }
            let used = by_toggle
                .get(t.full_name.as_str())
                .map_or(&[][..], Vec::as_slice);
            let lifecycle = judge(t.declaration.as_ref(), t.expired, used, now, staleness);
            if lifecycle.stale {
                self.stale.push(t.full_name.clone());
            }
            t.lifecycle = Some(lifecycle);
        }
    }

    /// The report of what a store would hold, gathered some other way: declarations that
    /// services wrote to files, say, and the states and histories they saw (the `toggles report
    /// --from` command). [`of`](FleetReport::of) reads these three from a store.
    pub fn from_parts(
        published: &[Published],
        snapshot: &Snapshot,
        histories: &HashMap<String, History>,
        as_of: Date,
        now: Timestamp,
        live_within: Duration,
    ) -> FleetReport {
        let roster = Roster::new(published, now, live_within);
        let stored: BTreeMap<&str, &Json> = snapshot
            .sections()
            .into_iter()
            .flat_map(|(_, section)| section.iter())
            .collect();
        let names: Vec<&str> = {
            let mut names: Vec<&str> = roster.names().chain(stored.keys().copied()).collect();
            names.sort_unstable();
            names.dedup();
            names
        };
        let mut drift = Drift::default();
        let mut expired = Vec::new();
        let toggles = names
            .into_iter()
            .map(|name| {
                let toggle = toggle(
                    name,
                    &roster,
                    stored.get(name).copied(),
                    histories.get(name),
                    as_of,
                );
                match toggle.drift {
                    Some(DriftKind::Undeclared) => drift.undeclared.push(name.to_owned()),
                    Some(DriftKind::NeverSet) => drift.never_set.push(name.to_owned()),
                    None => {}
                }
                if !toggle.disagreements.is_empty() {
                    drift.disagreements.push(name.to_owned());
                }
                if toggle.expired {
                    expired.push(name.to_owned());
                }
                toggle
            })
            .collect();
        FleetReport {
            as_of,
            services: services(&roster),
            toggles,
            expired,
            drift,
            stale: Vec::new(),
        }
    }
}

/// `instances` (indexes into `published`, each with what it brings) grouped by service and
/// version: a group made by `start` from its first instance and updated by `add` with every
/// instance (the first included), ordered by service name, then by when the version was first
/// published.
fn by_version<'p, D, T>(
    published: &'p [Published],
    instances: impl IntoIterator<Item = (usize, D)>,
    mut start: impl FnMut(&'p Published, D) -> T,
    mut add: impl FnMut(&mut T, usize, &'p Published),
) -> Vec<T> {
    let mut by: BTreeMap<(&str, &str), (Timestamp, T)> = BTreeMap::new();
    for (i, d) in instances {
        let p = &published[i];
        let s = &p.declarations.service;
        let (first, group) = by
            .entry((&s.name, &s.version))
            .or_insert_with(|| (p.published_at, start(p, d)));
        *first = (*first).min(p.published_at);
        add(group, i, p);
    }
    let mut groups: Vec<_> = by.into_iter().collect();
    groups.sort_by(
        |((a, a_version), (a_first, _)), ((b, b_version), (b_first, _))| {
            (a, a_first, a_version).cmp(&(b, b_first, b_version))
        },
    );
    groups.into_iter().map(|(_, (_, group))| group).collect()
}

/// Each service and version, by service name, then by when the version was first published.
fn services(roster: &Roster<'_>) -> Vec<FleetService> {
    let published = roster.published();
    by_version(
        published,
        (0..published.len()).map(|i| (i, ())),
        |p, ()| FleetService {
            service: p.declarations.service.name.clone(),
            version: p.declarations.service.version.clone(),
            instances: 0,
            live_instances: 0,
            last_seen: p.last_seen,
        },
        |service, i, p| {
            service.instances += 1;
            service.live_instances += usize::from(roster.is_live(i));
            service.last_seen = service.last_seen.max(p.last_seen);
        },
    )
}

fn toggle(
    name: &str,
    roster: &Roster<'_>,
    stored: Option<&Json>,
    history: Option<&History>,
    as_of: Date,
) -> FleetToggle {
    let declared_by = by_version(
        roster.published(),
        roster.declarers(name).iter().copied(),
        |p, d| Declarer {
            service: p.declarations.service.name.clone(),
            version: p.declarations.service.version.clone(),
            file: d.source.file.clone(),
            line: d.source.line,
            live: false,
            current: false,
            last_seen: p.last_seen,
        },
        |declarer, i, p| {
            declarer.live |= roster.is_live(i);
            declarer.current |= roster.is_current(i);
            declarer.last_seen = declarer.last_seen.max(p.last_seen);
        },
    );
    let speaker = roster.speaker(name);
    let declared_now = speaker.is_some_and(|(_, now)| now);
    let drift = if stored.is_some() && !declared_now {
        Some(DriftKind::Undeclared)
    } else if stored.is_none() && history.is_none() && declared_now {
        Some(DriftKind::NeverSet)
    } else {
        None
    };
    let current: Vec<&Declared> = roster.current_declarers(name).map(|(_, d)| d).collect();
    FleetToggle {
        full_name: name.to_owned(),
        declared_by,
        declared_now,
        disagreements: disagreements(&current),
        declaration: speaker.map(|(d, _)| d.clone()),
        state: FleetState {
            source: if stored.is_some() {
                LiveSource::Store
            } else {
                LiveSource::Default
            },
            value: stored.cloned(),
            first_modified: history.map(|h| h.first_modified),
            last_modified: history.map(|h| h.last_modified),
            modified_by: history.map(|h| h.modified_by.clone()),
        },
        last_seen: roster
            .declarers(name)
            .iter()
            .map(|(i, _)| roster.published()[*i].last_seen)
            .max(),
        expired: speaker
            .filter(|(_, now)| *now)
            .and_then(|(d, _)| d.remove_by)
            .is_some_and(|r| r < as_of),
        drift,
        lifecycle: None,
    }
}

/// Whether two declarations agree on one field.
type Same = fn(&Declared, &Declared) -> bool;

/// The metadata fields on which the declarations of one toggle differ.
fn disagreements(by: &[&Declared]) -> Vec<&'static str> {
    let Some((first, rest)) = by.split_first() else {
        return Vec::new();
    };
    let fields: [(&'static str, Same); 8] = [
        ("kind", |a, b| a.kind == b.kind),
        ("value_type", |a, b| a.value_type == b.value_type),
        ("default", |a, b| a.default == b.default),
        ("description", |a, b| a.description == b.description),
        ("life", |a, b| a.life == b.life),
        ("remove_by", |a, b| a.remove_by == b.remove_by),
        ("justification", |a, b| a.justification == b.justification),
        ("owner", |a, b| a.owner == b.owner),
    ];
    fields
        .into_iter()
        .filter(|(_, same)| rest.iter().any(|d| !same(first, d)))
        .map(|(field, _)| field)
        .collect()
}
