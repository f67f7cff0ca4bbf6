//! Where the fleet's toggles come from: a store, or registry JSON files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::Deserialize;
use serde_json::Value as Json;
use toggles_runtime::fleet::Declared;
use toggles_runtime::report::{Live, LiveSource, ToggleReport};
use toggles_runtime::store::{Declarations, FileStore, History, Published, Snapshot, Store};
use toggles_runtime::{Kind, Service, Timestamp};

/// The store every command reads, and writes go to.
#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// The fleet's store: `postgres://USER@HOST/DB` (or `postgres:KEY=VALUE …`), `file:PATH`, or
    /// a path to a file store.
    #[arg(long, global = true, env = "TOGGLES_STORE", value_name = "STORE")]
    store: Option<String>,
    /// The PostgreSQL schema that holds the store's tables.
    #[arg(
        long,
        global = true,
        env = "TOGGLES_SCHEMA",
        default_value = "toggles",
        value_name = "SCHEMA"
    )]
    schema: String,
}

impl StoreArgs {
    /// The store, opened; an error that says what to pass when none was given.
    pub(crate) fn open(&self) -> Result<Box<dyn Store>> {
        let Some(store) = &self.store else {
            bail!(
                "no store given: pass `--store postgres://USER@HOST/DB` or `--store file:PATH` \
                 (or set TOGGLES_STORE)"
            );
        };
        if store.starts_with("postgres://") || store.starts_with("postgresql://") {
            return postgres(store, &self.schema);
        }
        // libpq's key=value form: `postgres:host=db user=ops dbname=toggles`.
        if let Some(settings) = store.strip_prefix("postgres:") {
            return postgres(settings, &self.schema);
        }
        let path = Path::new(store.strip_prefix("file:").unwrap_or(store));
        if !path.is_file() {
            bail!(
                "no toggles store at {}: the file does not exist (a service creates it when it \
                 installs `FileStore::open`; a database store is given as `postgres://…`)",
                path.display()
            );
        }
        let file = FileStore::open(path)
            .with_context(|| format!("cannot open the store at {}", path.display()))?;
        Ok(Box::new(file))
    }

    /// How to name the store in messages: without a password.
    pub(crate) fn describe(&self) -> String {
        match &self.store {
            Some(s) => redact(s),
            None => "no store".to_owned(),
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres(url: &str, schema: &str) -> Result<Box<dyn Store>> {
    let store = toggles_postgres::PostgresStore::new(url, schema)
        .with_context(|| format!("cannot use the store at {}", redact(url)))?;
    Ok(Box::new(store))
}

#[cfg(not(feature = "postgres"))]
fn postgres(url: &str, _schema: &str) -> Result<Box<dyn Store>> {
    bail!(
        "{} is a PostgreSQL store, and this `toggles` was built without the `postgres` feature",
        redact(url)
    )
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact(store: &str) -> String {
    let Some((scheme, rest)) = store.split_once("://") else {
        return store.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _password)) => format!("{scheme}://{name}:***@{host}"),
            None => store.to_owned(),
        },
        None => store.to_owned(),
    }
}

/// Reads `load()`-style results with a message naming the store.
pub(crate) fn reading<T>(
    store: &StoreArgs,
    what: &str,
    result: Result<T, toggles_runtime::StoreError>,
) -> Result<T> {
    result.with_context(|| format!("cannot read {what} from {}", store.describe()))
}

/// The parts of a fleet report, from files that services or their tests wrote.
pub(crate) struct Parts {
    pub(crate) published: Vec<Published>,
    pub(crate) snapshot: Snapshot,
    pub(crate) histories: HashMap<String, History>,
}

/// The toggles of a registry report (a service's `GET /`, or `toggles::registry().report()`
/// as JSON): each toggle's declaration, and the state the service saw — the runtime's own
/// [`ToggleReport`], so the command reads what a service writes.
#[derive(Deserialize)]
struct RegistryReport {
    toggles: Vec<ToggleReport>,
}

/// Reads `files`: each a registry report, named by its file stem or `SERVICE=PATH`, or the
/// declarations a service publishes (`toggles::store::Declarations` as JSON, which names its service).
pub(crate) fn read_files(files: &[String], now: Timestamp) -> Result<Parts> {
    let mut parts = Parts {
        published: Vec::new(),
        snapshot: Snapshot::default(),
        histories: HashMap::new(),
    };
    for file in files {
        let (service, path) = match file.split_once('=') {
            Some((service, path)) => (Some(service.to_owned()), PathBuf::from(path)),
            None => (None, PathBuf::from(file)),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let json: Json = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let declarations = if json.get("service").is_some() {
            serde_json::from_value::<Declarations>(json).with_context(|| {
                format!(
                    "{} is not a service's published declarations",
                    path.display()
                )
            })?
        } else if json.get("toggles").is_some() {
            let report: RegistryReport = serde_json::from_value(json)
                .with_context(|| format!("{} is not a toggles registry report", path.display()))?;
            let name = service.unwrap_or_else(|| stem(&path));
            let mut toggles = Vec::with_capacity(report.toggles.len());
            for t in report.toggles {
                add_state(&mut parts, &t.declaration, t.state);
                toggles.push(t.declaration);
            }
            Declarations::new(Service::new(name, ""), toggles)
        } else {
            return Err(anyhow!(
                "{} is neither a registry report (a service's `GET /`, or \
                 `serde_json::to_string(toggles::registry())`) nor a service's declarations",
                path.display()
            ));
        };
        parts.published.push(Published::new(declarations, now));
    }
    Ok(parts)
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || "unknown".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// The state a service saw, unless an earlier file already gave this toggle's.
fn add_state(parts: &mut Parts, declared: &Declared, state: Live) {
    let name = &declared.full_name;
    if state.source == LiveSource::Store {
        let value = state.value;
        let section = match declared.kind {
            Kind::Switch => &mut parts.snapshot.switches,
            Kind::Flag => &mut parts.snapshot.flags,
            Kind::Setting => &mut parts.snapshot.settings,
            // A newer version's kind: this version cannot tell which section holds it.
            _ => return,
        };
        if !section.contains_key(name) {
            section.insert(name.clone(), value);
        }
    }
    if let (Some(first_modified), Some(last_modified), Some(modified_by)) =
        (state.first_modified, state.last_modified, state.modified_by)
    {
        parts.histories.entry(name.clone()).or_insert(History {
            first_modified,
            last_modified,
            modified_by,
        });
    }
}
