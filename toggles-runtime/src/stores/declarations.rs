//! What a process publishes to a shared store: which service it is, and every toggle it
//! declares, so a fleet's toggles can be discovered and reported from the store alone.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use toggles_vocab::{Date, UseCase};

use crate::declare::{Kind, Registry, Source, ToggleInfo};
use crate::targeting::Timestamp;

/// The service a process belongs to, as it publishes itself to a shared store.
///
/// ```
/// use toggles::Service;
///
/// let grading = Service::new("grading", "1.4.2");
/// assert_eq!(grading.name, "grading");
/// assert!(!grading.instance.is_empty(), "one id per process");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Service {
    /// The service's name: `grading`, `lms`.
    pub name: String,
    /// Its version: `1.4.2`.
    pub version: String,
    /// This process, among the service's instances: host, process id and start time.
    pub instance: String,
    /// The machine (or container) it runs on: a newer process of the same service on the same
    /// host replaces this one in the fleet's eyes (a restart), even before this one is missed.
    /// Empty when unknown.
    #[serde(default)]
    pub host: String,
}

impl Service {
    /// The service `name` at `version`, as this process (on this host, with this process id
    /// and start time).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Service {
        let host = host_name();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Service {
            name: name.into(),
            version: version.into(),
            instance: format!("{host}-{}-{started:x}", std::process::id()),
            host,
        }
    }

    /// This program, as it names itself without being told: the executable's file name, and
    /// the version of the crate of that name among those declaring toggles (`cargo run --bin
    /// grading` in a crate `grading` 1.4.2 is `grading` 1.4.2), else `unknown`. What an
    /// [`Installer`](crate::Installer) publishes unless given a service.
    pub fn of_program() -> Service {
        let name = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".to_owned());
        let version = crate_version(&name).unwrap_or_else(|| "unknown".to_owned());
        Service::new(name, version)
    }

    /// One instance of the service `name` at `version`, as a store recorded it (for stores
    /// that keep the parts apart).
    ///
    /// ```
    /// use toggles::Service;
    ///
    /// let recorded = Service::instance("grading", "1.4.2", "web-1-4242-18a2b");
    /// assert_eq!(recorded.instance, "web-1-4242-18a2b");
    /// ```
    pub fn instance(
        name: impl Into<String>,
        version: impl Into<String>,
        instance: impl Into<String>,
    ) -> Service {
        Service {
            name: name.into(),
            version: version.into(),
            instance: instance.into(),
            host: String::new(),
        }
    }

    /// The same instance, running on `host`.
    #[must_use]
    pub fn on_host(mut self, host: impl Into<String>) -> Service {
        self.host = host.into();
        self
    }

    /// The service `$TOGGLES_SERVICE` names at the version `$TOGGLES_SERVICE_VERSION` gives,
    /// each falling back to [`of_program`](Service::of_program)'s: for deployments that name
    /// their services in the environment. Only this constructor reads it.
    pub fn from_env() -> Service {
        let mut service = Service::of_program();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(name) = var("TOGGLES_SERVICE") {
            service.name = name;
        }
        if let Some(version) = var("TOGGLES_SERVICE_VERSION") {
            service.version = version;
        }
        service
    }
}

/// This machine's name (a container's, in a container), from the kernel or `/etc/hostname`;
/// `localhost` when neither says.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .into_iter()
        .find_map(|path| {
            std::fs::read_to_string(path)
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The version of the crate named `name` (`-` and `_` alike), if it declares a toggle.
fn crate_version(name: &str) -> Option<String> {
    let wanted = name.replace('-', "_");
    crate::declare::registry()
        .iter()
        .map(|t| t.meta().source())
        .find(|s| s.crate_name.replace('-', "_") == wanted)
        .map(|s| s.crate_version.to_owned())
}

/// A service instance's declarations: what a process publishes when it installs a store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Declarations {
    /// Who publishes them.
    pub service: Service,
    /// Every toggle the process declares, in full-name order. Read back, a declaration this
    /// version cannot read (a newer version's field gone wrong) is left out with a warning
    /// rather than failing the others; one of a kind it does not know is [`Kind::Unknown`].
    #[serde(deserialize_with = "readable")]
    pub toggles: Vec<Declared>,
}

/// The declarations of a published list that this version can read.
fn readable<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Declared>, D::Error> {
    Json::deserialize(deserializer).map(Declared::readable)
}

impl Declarations {
    /// The declarations of every toggle `registry` declares (not those it
    /// [adopted](crate::fleet::adopt)), as `service`.
    pub fn of(registry: &Registry, service: Service) -> Declarations {
        Declarations {
            service,
            // Adopted toggles are their declaring services' to publish.
            toggles: registry
                .iter()
                .filter(|t| !t.is_adopted())
                .map(Declared::of)
                .collect(),
        }
    }

    /// Declarations given field by field, for tools and tests that speak for a service.
    pub fn new(service: Service, toggles: Vec<Declared>) -> Declarations {
        Declarations { service, toggles }
    }
}

/// One toggle as a service declares it: its metadata and where it is declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Declared {
    /// `namespace.name`.
    pub full_name: String,
    /// Switch, flag, variant or setting.
    pub kind: Kind,
    /// `bool` for switches and flags, `E` for `Variant<E>`, `T` for `Setting<T>`.
    pub value_type: String,
    /// The compiled default (a variant's control, by name).
    pub default: Json,
    /// A variant toggle's arms, by name in declaration order; empty for the other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arms: Vec<String>,
    /// The doc comment.
    pub description: String,
    /// `temporary` or `permanent`.
    pub life: String,
    /// A temporary toggle's removal date.
    pub remove_by: Option<Date>,
    /// Why a permanent toggle stays.
    pub justification: Option<String>,
    /// When it was introduced.
    pub created: Option<Date>,
    /// The team that owns it.
    pub owner: Option<String>,
    /// What it is for. Read back, a use case this version does not know is left out.
    #[serde(deserialize_with = "known_use_cases")]
    pub use_cases: Vec<UseCase>,
    /// Tickets or links.
    pub tickets: Option<String>,
    /// A caution for whoever changes it.
    pub warning: Option<String>,
    /// Where it is declared.
    pub source: DeclaredAt,
}

/// Where a published toggle is declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredAt {
    /// The crate's package name.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// The crate's version.
    pub crate_version: String,
    /// The module path.
    pub module_path: String,
    /// The file.
    pub file: String,
    /// The line.
    pub line: u32,
    /// The column.
    pub column: u32,
}

impl DeclaredAt {
    /// Where a toggle of this program is declared.
    pub fn of(source: &Source) -> DeclaredAt {
        DeclaredAt {
            crate_name: source.crate_name.to_owned(),
            crate_version: source.crate_version.to_owned(),
            module_path: source.module_path.to_owned(),
            file: source.file.to_owned(),
            line: source.line,
            column: source.column,
        }
    }
}

impl Declared {
    /// The declarations in `list` (a published JSON array) that this version can read, each on
    /// its own: one it cannot read (a newer version's field gone wrong) is left out, with a
    /// warning, so a newer version's declarations never break a fleet report.
    pub fn readable(list: Json) -> Vec<Declared> {
        let Json::Array(all) = list else {
            tracing::warn!("toggles: published declarations that are not a list are left out");
            return Vec::new();
        };
        all.into_iter()
            .filter_map(|json| match Declared::deserialize(&json) {
                Ok(declared) => Some(declared),
                Err(e) => {
                    let name = json.get("full_name").and_then(Json::as_str).unwrap_or("?");
                    tracing::warn!(toggle = name, error = %e, "toggles: a published declaration this version cannot read is left out");
                    None
                }
            })
            .collect()
    }

    /// The declaration of one toggle of this program.
    pub fn of(info: &ToggleInfo) -> Declared {
        let m = info.meta();
        let s = m.source();
        Declared {
            full_name: m.full_name().to_owned(),
            kind: info.kind(),
            value_type: info.value_type().to_owned(),
            default: serde_json::to_value(info.default_value()).expect("a value serializes"),
            arms: info
                .toggle()
                .arms()
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
            description: m.description().to_owned(),
            life: m.life().as_str().to_owned(),
            remove_by: m.remove_by(),
            justification: m.justification().map(str::to_owned),
            created: m.created(),
            owner: m.owner().map(str::to_owned),
            use_cases: m.use_cases().to_vec(),
            tickets: m.tickets().map(str::to_owned),
            warning: m.warning().map(str::to_owned),
            source: DeclaredAt::of(s),
        }
    }
}

/// Declarations as a store keeps them: when they were published, and when their instance was
/// last seen running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Published {
    /// What was published.
    pub declarations: Declarations,
    /// When.
    pub published_at: Timestamp,
    /// The instance's last sign of life.
    pub last_seen: Timestamp,
}

/// How long a store keeps an instance it has not heard from, unless told otherwise: a week, so a
/// weekly job's declarations outlive the days between its runs.
pub const FORGET_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

impl Published {
    /// Whether a store keeping instances for `after` has forgotten this one at `now`.
    pub fn forgotten(&self, now: Timestamp, after: std::time::Duration) -> bool {
        self.unheard_secs(now) > i64::try_from(after.as_secs()).unwrap_or(i64::MAX)
    }

    /// How many whole seconds before `now` the instance was last seen.
    pub(crate) fn unheard_secs(&self, now: Timestamp) -> i64 {
        now.unix_seconds()
            .saturating_sub(self.last_seen.unix_seconds())
    }

    /// What a store that keeps the fleet as a list does on a publish: `declarations` replace
    /// what their instance published before, published and seen `at`, and the instances not
    /// seen for `after` are forgotten.
    pub(crate) fn record(
        fleet: &mut Vec<Published>,
        declarations: &Declarations,
        at: Timestamp,
        after: std::time::Duration,
    ) {
        let instance = &declarations.service.instance;
        fleet.retain(|p| p.declarations.service.instance != *instance && !p.forgotten(at, after));
        fleet.push(Published::new(declarations.clone(), at));
    }

    /// What a store that keeps the fleet as a list does on a heartbeat: `instance` is seen `at`,
    /// and the instances not seen for `after` are forgotten. Whether `instance` was on record.
    pub(crate) fn record_seen(
        fleet: &mut Vec<Published>,
        instance: &str,
        at: Timestamp,
        after: std::time::Duration,
    ) -> bool {
        let mut known = false;
        for p in fleet.iter_mut() {
            if p.declarations.service.instance == instance {
                p.last_seen = at;
                known = true;
            }
        }
        fleet.retain(|p| !p.forgotten(at, after));
        known
    }

    /// `declarations`, published and seen `at`.
    pub fn new(declarations: Declarations, at: Timestamp) -> Published {
        Published {
            declarations,
            published_at: at,
            last_seen: at,
        }
    }
}

/// The use cases of a published declaration that this version knows, by name.
fn known_use_cases<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<UseCase>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
}
