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
    /// The fleet's store: `postgres://USER@HOST/DB` (or `postgres:KEY=VALUE …`), a relay
    /// (`http(s)://HOST:PORT`, `toggles serve`), `file:PATH`, or a path to a file store.
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
    /// The bearer token sent to a relay given as `--store http(s)://…`.
    #[arg(
        long,
        global = true,
        env = "TOGGLES_STORE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    store_token: Option<String>,
}

impl StoreArgs {
    /// Whether a store was named (`--store` or `TOGGLES_STORE`).
    pub(crate) fn given(&self) -> bool {
        self.store.is_some()
    }

    /// The store, opened; an error that says what to pass when none was given.
    pub(crate) fn open(&self) -> Result<Box<dyn Store>> {
        let Some(store) = &self.store else {
            bail!(
                "no store given: pass `--store postgres://USER@HOST/DB` or `--store file:PATH` \
                 (or set TOGGLES_STORE)"
            );
        };
        if store.starts_with("http://") || store.starts_with("https://") {
            return remote(store, self.store_token.as_deref());
        }
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

#[cfg(feature = "remote")]
#[allow(clippy::unnecessary_wraps)]
fn remote(url: &str, token: Option<&str>) -> Result<Box<dyn Store>> {
    let relay = toggles_runtime::store::RemoteStore::new(url);
    Ok(Box::new(match token {
        Some(token) => relay.token(token),
        None => relay,
    }))
}

#[cfg(not(feature = "remote"))]
fn remote(url: &str, _token: Option<&str>) -> Result<Box<dyn Store>> {
    bail!("{url} is a relay, and this `toggles` was built without the `remote` feature")
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

/// A store named without its passwords: `postgres://user:secret@host/db` →
/// `postgres://user:***@host/db`, and any `password=` (or `sslpassword=`) in a URL's query or
/// in libpq's `key=value` form → `password=***`.
fn redact(store: &str) -> String {
    let store = match store.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _password)) => format!("{scheme}://{name}:***@{host}"),
                None => store.to_owned(),
            },
            None => store.to_owned(),
        },
        None => store.to_owned(),
    };
    let mut out = String::with_capacity(store.len());
    let mut rest = store.as_str();
    while let Some(at) = rest.find("password") {
        let key_end = at + "password".len();
        // libpq takes spaces around `=`.
        let after_key = rest[key_end..].trim_start();
        let Some(value) = after_key.strip_prefix('=').map(str::trim_start) else {
            out.push_str(&rest[..key_end]);
            rest = &rest[key_end..];
            continue;
        };
        out.push_str(&rest[..rest.len() - value.len()]);
        out.push_str("***");
        rest = &value[secret_len(value)..];
    }
    out.push_str(rest);
    out
}

/// How long the value at the start of `value` is: quoted (`'it''s'`, `'a\' b'`) up to its
/// closing quote, else up to a space or a URL's `&` or `#`.
fn secret_len(value: &str) -> usize {
    let Some(quoted) = value.strip_prefix('\'') else {
        return value.find([' ', '\t', '&', '#']).unwrap_or(value.len());
    };
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' => return i + 2,
            _ => {}
        }
    }
    value.len()
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
                 `serde_json::to_string(&toggles::registry().report()?)`) nor a service's declarations",
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
            Kind::Variant => &mut parts.snapshot.variants,
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

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_a_message() {
        for (store, shown) in [
            (
                "postgres://ops:s3cret@db/toggles",
                "postgres://ops:***@db/toggles",
            ),
            (
                "postgresql://db/toggles?user=ops&password=s3cret&sslmode=require",
                "postgresql://db/toggles?user=ops&password=***&sslmode=require",
            ),
            (
                "postgres:host=db password=s3cret dbname=toggles",
                "postgres:host=db password=*** dbname=toggles",
            ),
            (
                r"postgres:host=db password='it\'s secret' sslpassword=k dbname=t",
                "postgres:host=db password=*** sslpassword=*** dbname=t",
            ),
            (
                "postgres:host=db password=",
                "postgres:host=db password=***",
            ),
            (
                "postgres:host=db password = 's3cret' passwords=x",
                "postgres:host=db password = *** passwords=x",
            ),
            ("file:/var/lib/toggles.json", "file:/var/lib/toggles.json"),
        ] {
            assert_eq!(redact(store), shown, "{store}");
        }
    }
}
