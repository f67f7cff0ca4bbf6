//! `PostgresStore`: the `Store` contract over a PostgreSQL schema.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use postgres::types::FromSql;
use postgres::{Client, Config, GenericClient, Row};
use serde_json::Value as Json;
use toggles_runtime::fleet::Declared;
use toggles_runtime::store::{
    ArmCounts, Converted, Counts, ExperimentCounts, Exposed, Feedback, FeedbackLog, Section,
    Snapshot, FEEDBACK_KEPT,
};
use toggles_runtime::store::{
    AuditEntry, AuditQuery, Declarations, History, OnChange, OutcomeWindow, Published, RunBuckets,
    Service, Store, StoreError, Usage, Use, WriteError, FORGET_AFTER,
};
use toggles_runtime::Timestamp;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::pool::{Pool, Unavailable};
use crate::tls::Tls;
use crate::{listen, schema};

/// A [`Store`] in a PostgreSQL schema, shared by every process that opens the same schema. See
/// the [crate docs](crate) for its transactions, propagation and outage behaviour.
///
/// ```no_run
/// use toggles::postgres::PostgresStore;
///
/// // Nothing connects yet: the first load does, and the schema is created then.
/// let store = PostgresStore::new("postgres://postgres@127.0.0.1:5432/app", "toggles")?;
/// let _toggles = match toggles_runtime::install(store) {
///     Ok(installation) => installation,
///     // The database is down: the compiled defaults are in force, and the store takes
///     // effect by itself when the database comes back.
///     Err(toggles_runtime::InstallError::FirstLoad { installation, source }) => {
///         eprintln!("toggles: {source}");
///         installation
///     }
///     Err(e) => return Err(e.into()),
/// };
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PostgresStore {
    inner: Arc<Inner>,
    /// How long an instance's declarations are kept after it was last seen.
    forget_after: Duration,
}

/// The store's description (server, database, schema, TLS); never the connection's password.
impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PostgresStore")
            .field(&self.inner.description)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    /// How connections are encrypted and certificates checked.
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) schema: String,
    /// The schema, quoted for SQL.
    quoted: String,
    /// The `LISTEN`/`NOTIFY` channel: the schema's changes.
    pub(crate) channel: String,
    description: String,
    /// The connections loads, writes, audit queries and reports share: a report or an audit
    /// page never holds up a reload. Opened on first use; a broken one is dropped.
    pool: Pool,
    /// Whether this handle has migrated the schema (once per handle, on first use).
    migrated: AtomicBool,
    /// What this handle's writes name in their notification, so the listener leaves them alone
    /// (the runtime publishes its own writes itself).
    pub(crate) writer: String,
    watching: AtomicBool,
}

/// Numbers the handles of this process, so a listener tells one handle's writes from another's.
static HANDLES: AtomicU64 = AtomicU64::new(0);

/// How many idle connections a store keeps open: one for a reload, one for a write, one for a
/// report or an audit page, one to spare. (The listener holds one more of its own.)
const KEEP_IDLE: usize = 4;
/// How many it opens at most; an operation past that waits for one to be given back.
const MOST: usize = 8;
/// How long it waits.
const WAIT: Duration = Duration::from_secs(10);

impl PostgresStore {
    /// A store in `schema` of the database `connection` names (a `postgres://` URL or libpq's
    /// `key=value` pairs, `sslmode` and `sslrootcert` included: see the [crate docs](crate)).
    /// Nothing connects until the store is used; the schema is created and migrated then.
    ///
    /// Fails only for a connection string that does not parse, an `sslrootcert` that cannot be
    /// read, or a schema name that is not lower-case letters, digits and `_` (starting with a
    /// letter, at most 40 characters).
    pub fn new(connection: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        let (connection, tls) = crate::tls::split(connection)
            .map_err(|e| StoreError::backend(format!("not a PostgreSQL connection string: {e}")))?;
        let mut config: Config = connection
            .parse()
            .map_err(|e| StoreError::backend_caused("not a PostgreSQL connection string", e))?;
        if !schema::is_valid_name(schema) {
            return Err(StoreError::backend(format!(
                "`{schema}` is not a schema name the toggles store uses: lower-case letters, digits and `_`, starting with a letter, at most 40 characters"
            )));
        }
        config.ssl_mode(tls.driver_mode());
        // A check never waits on the database, but a write or a reload does: bound the wait.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        config.application_name("toggles");
        let description = describe(&config, schema, &tls);
        let connector = tls.connector().map_err(StoreError::backend)?;
        let writer = format!(
            "{}-{}",
            std::process::id(),
            HANDLES.fetch_add(1, Ordering::Relaxed)
        );
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                config,
                tls: connector,
                quoted: format!("\"{schema}\""),
                channel: format!("toggles_{schema}"),
                schema: schema.to_owned(),
                description,
                pool: Pool::new(KEEP_IDLE, MOST),
                migrated: AtomicBool::new(false),
                writer,
                watching: AtomicBool::new(false),
            }),
            forget_after: FORGET_AFTER,
        })
    }

    /// Forgets an instance's declarations once it has not been seen for `after`
    /// ([`FORGET_AFTER`], a week, by default): each publish and heartbeat deletes the instances
    /// gone longer, and a read leaves them out.
    #[must_use]
    pub fn forget_instances_after(mut self, after: Duration) -> PostgresStore {
        self.forget_after = after;
        self
    }

    /// The schema the store keeps its tables in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// How many migrations this version applies to a schema.
    pub fn migrations() -> usize {
        schema::latest()
    }
}

fn describe(config: &Config, schema: &str, tls: &Tls) -> String {
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |h| match h {
            postgres::config::Host::Tcp(host) => host.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    let tls = match tls.mode {
        crate::tls::SslMode::Disable | crate::tls::SslMode::Prefer => "",
        crate::tls::SslMode::Require => " (TLS)",
        crate::tls::SslMode::VerifyCa => " (TLS, verify-ca)",
        crate::tls::SslMode::VerifyFull => " (TLS, verify-full)",
    };
    format!("postgres {host}:{port}/{db} schema {schema}{tls}")
}

impl PostgresStore {
    /// The last-seen time before which an instance is forgotten, as of `now`; `None` for a
    /// retention longer than PostgreSQL's times reach back (about 4,700 years before 1970), which
    /// forgets nothing.
    fn forgotten_before(&self, now: Timestamp) -> Option<SystemTime> {
        const REACH: u64 = 6_000 * 366 * 86_400;
        let after = self.forget_after.as_secs();
        if after >= REACH {
            return None;
        }
        let after = i64::try_from(after).expect("below REACH");
        Some(Timestamp::from_unix_seconds(now.unix_seconds() - after).into())
    }
}

impl Inner {
    /// The driver's error, kept as the cause (a caller can downcast `source()` to
    /// `postgres::Error`), said with the store it happened to.
    pub(crate) fn error(&self, e: postgres::Error) -> StoreError {
        StoreError::backend_caused(self.description.clone(), e)
    }

    /// A row that does not read as this version expects: an error, never a made-up value.
    fn unreadable(&self, what: &str, e: &dyn std::fmt::Display) -> StoreError {
        StoreError::backend(format!("{}: {what}: {e}", self.description))
    }

    /// Column `i` of `row`, or an error naming it.
    fn get<'r, T: FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T, StoreError> {
        row.try_get(i).map_err(|e| {
            let column = row.columns().get(i).map_or("?", |c| c.name());
            StoreError::backend_caused(
                format!("{}: column `{column}` does not read", self.description),
                e,
            )
        })
    }

    /// Runs `f` on one of the store's connections, opening one (and migrating the schema, the
    /// first time) if none is free; a connection that broke is dropped, so the next use opens
    /// another.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut client = self
            .pool
            .get(|| self.config.connect(self.tls.clone()), WAIT)
            .map_err(|e| match e {
                Unavailable::Connect(e) => self.error(e),
                Unavailable::Busy(most) => StoreError::backend(format!(
                    "{}: all {most} connections stayed busy for {} s",
                    self.description,
                    WAIT.as_secs()
                )),
            })?;
        if !self.migrated.load(Ordering::Acquire) {
            schema::migrate(&mut client, &self.schema).map_err(|e| self.error(e))?;
            self.migrated.store(true, Ordering::Release);
        }
        f(&mut client).map_err(|e| self.error(e))
    }

    fn read(&self, client: &mut impl GenericClient) -> Result<Snapshot, postgres::Error> {
        let mut snapshot = Snapshot::default();
        let rows = client.query(
            &format!("SELECT section, name, value FROM {}.entries", self.quoted),
            &[],
        )?;
        for row in rows {
            // The columns are the store's own and constrained: a mismatch is a broken schema.
            let (section, name, value): (String, String, Json) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            match section_of(&mut snapshot, &section) {
                Some(known) => {
                    known.insert(name, value);
                }
                // A section a newer version added: carried along as a JSON object, as the file
                // store carries it.
                None => {
                    let other = snapshot
                        .other
                        .entry(section)
                        .or_insert_with(|| Json::Object(serde_json::Map::new()));
                    if let Some(object) = other.as_object_mut() {
                        object.insert(name, value);
                    }
                }
            }
        }
        Ok(snapshot)
    }

    /// Writes what differs between `before` and `after`: deletes and upserts, entry by entry.
    fn write_changes(
        &self,
        tx: &mut postgres::Transaction<'_>,
        before: &Snapshot,
        after: &Snapshot,
    ) -> Result<(), postgres::Error> {
        let q = &self.quoted;
        let (old, new) = (rows(before), rows(after));
        for (section, name) in old.keys().filter(|key| !new.contains_key(*key)) {
            tx.execute(
                &format!("DELETE FROM {q}.entries WHERE section = $1 AND name = $2"),
                &[section, name],
            )?;
        }
        for ((section, name), value) in new
            .iter()
            .filter(|(key, value)| old.get(*key) != Some(*value))
        {
            tx.execute(
                &format!(
                    "INSERT INTO {q}.entries (section, name, value) VALUES ($1, $2, $3)
                     ON CONFLICT (section, name) DO UPDATE SET value = excluded.value"
                ),
                &[section, name, *value],
            )?;
        }
        Ok(())
    }

    /// One write transaction; the outer `Result` is the database's, the inner the edit's.
    fn transaction(
        &self,
        client: &mut Client,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<Result<AuditEntry, WriteError>, postgres::Error> {
        let q = &self.quoted;
        let mut tx = client.transaction()?;
        // Every writer of the schema queues here: no read-modify-write overlaps another.
        tx.query_one(
            &format!("SELECT version FROM {q}.state WHERE id = 1 FOR UPDATE"),
            &[],
        )?;
        let before = self.read(&mut tx)?;
        let mut after = before.clone();
        let entry = match edit(&mut after) {
            Ok(entry) => entry,
            // Refused: dropping the transaction rolls it back.
            Err(refused) => return Ok(Err(refused)),
        };
        self.write_changes(&mut tx, &before, &after)?;
        tx.execute(
            &format!("UPDATE {q}.state SET version = version + 1 WHERE id = 1"),
            &[],
        )?;
        tx.execute(
            &format!(
                "INSERT INTO {q}.audit (at, actor, toggle, before, after, reason)
                 VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            &[
                &SystemTime::from(entry.at),
                &entry.actor,
                &entry.toggle,
                &entry.before,
                &entry.after,
                &entry.reason,
            ],
        )?;
        tx.execute("SELECT pg_notify($1, $2)", &[&self.channel, &self.writer])?;
        tx.commit()?;
        Ok(Ok(entry))
    }
}

/// Every entry of `snapshot` as the table holds it, by section and name: the known sections'
/// and those of sections a newer version added.
fn rows(snapshot: &Snapshot) -> BTreeMap<(&str, &str), &Json> {
    let known = [
        ("switches", &snapshot.switches),
        ("flags", &snapshot.flags),
        ("variants", &snapshot.variants),
        ("settings", &snapshot.settings),
    ];
    let known = known.into_iter().flat_map(|(section, entries)| {
        entries
            .iter()
            .map(move |(name, json)| ((section, name), json))
    });
    let other = snapshot.other.iter().flat_map(|(section, object)| {
        object
            .as_object()
            .into_iter()
            .flatten()
            .map(move |(name, json)| ((section.as_str(), name.as_str()), json))
    });
    known.chain(other).collect()
}

/// The known section named `section`; `None` for one this version does not know.
fn section_of<'s>(snapshot: &'s mut Snapshot, section: &str) -> Option<&'s mut Section> {
    match section {
        "switches" => Some(&mut snapshot.switches),
        "flags" => Some(&mut snapshot.flags),
        "variants" => Some(&mut snapshot.variants),
        "settings" => Some(&mut snapshot.settings),
        _ => None,
    }
}

impl Inner {
    fn entry_of(&self, row: &Row) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry::new(
            self.get::<String>(row, 2)?,
            self.get::<String>(row, 1)?,
            self.get::<String>(row, 5)?,
        )
        .before(self.get(row, 3)?)
        .after(self.get(row, 4)?)
        .at(self.get::<SystemTime>(row, 0)?.into()))
    }
}

impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.inner.description.clone()
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        let inner = &self.inner;
        inner.with(|client| inner.read(client))
    }

    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        let inner = &self.inner;
        match inner.with(|client| inner.transaction(client, edit)) {
            Ok(result) => result,
            // Not committed: the transaction is rolled back with the connection or explicitly.
            Err(e) => Err(WriteError::Store(e)),
        }
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let q = &self.inner.quoted;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let skip = i64::try_from(query.skip).unwrap_or(i64::MAX);
        let columns = "at, actor, toggle, before, after, reason";
        self.inner.with(|client| {
            let rows = match &query.toggle {
                Some(toggle) => client.query(
                    &format!("SELECT {columns} FROM {q}.audit WHERE toggle = $1 ORDER BY id DESC OFFSET $2 LIMIT $3"),
                    &[toggle, &skip, &limit],
                )?,
                None => client.query(
                    &format!("SELECT {columns} FROM {q}.audit ORDER BY id DESC OFFSET $1 LIMIT $2"),
                    &[&skip, &limit],
                )?,
            };
            Ok(rows)
        })?
        .iter()
        .map(|row| self.inner.entry_of(row))
        .collect()
    }

    fn history(&self, toggle: &str) -> Result<Option<History>, StoreError> {
        let mut histories = self.histories_where(Some(toggle))?;
        Ok(histories.remove(toggle))
    }

    fn histories(&self) -> Result<HashMap<String, History>, StoreError> {
        self.histories_where(None)
    }

    fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
        let q = &self.inner.quoted;
        let service = &declarations.service;
        let json = serde_json::to_value(declarations).expect("declarations serialize");
        let forgotten = self.forgotten_before(at);
        let at = SystemTime::from(at);
        self.inner.with(|client| {
            client.execute(
                &format!(
                    "INSERT INTO {q}.instances
                         (instance, service, version, declarations, toggles_digest, published_at, last_seen)
                     VALUES ($1, $2, $3, $4, md5(($4::jsonb->'toggles')::text), $5, $5)
                     ON CONFLICT (instance) DO UPDATE SET service = excluded.service,
                         version = excluded.version, declarations = excluded.declarations,
                         toggles_digest = excluded.toggles_digest,
                         published_at = excluded.published_at, last_seen = excluded.last_seen"
                ),
                &[&service.instance, &service.name, &service.version, &json, &at],
            )?;
            client.execute(
                &format!("DELETE FROM {q}.instances WHERE last_seen < $1"),
                &[&forgotten],
            )?;
            Ok(())
        })
    }

    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        let q = &self.inner.quoted;
        let forgotten = self.forgotten_before(at);
        self.inner.with(|client| {
            let known = client.execute(
                &format!("UPDATE {q}.instances SET last_seen = $2 WHERE instance = $1"),
                &[&instance, &SystemTime::from(at)],
            )?;
            client.execute(
                &format!("DELETE FROM {q}.instances WHERE last_seen < $1"),
                &[&forgotten],
            )?;
            Ok(known > 0)
        })
    }

    /// Instances of one build publish the same toggles: each distinct list crosses the wire and
    /// is parsed once (on the first row that has it, by the digest stored at publish), and every
    /// other row carries only its service and times. One statement, so one consistent view.
    fn published(&self) -> Result<Vec<Published>, StoreError> {
        let q = &self.inner.quoted;
        let forgotten = self.forgotten_before(Timestamp::now());
        let rows = self.inner.with(|client| {
            client.query(
                &format!(
                    "SELECT instance, service, version, published_at, last_seen, toggles_digest,
                            CASE WHEN row_number() OVER (
                                PARTITION BY toggles_digest ORDER BY instance
                            ) = 1 THEN declarations->'toggles' END,
                            coalesce(declarations->'service'->>'host', '')
                     FROM {q}.instances
                     WHERE $1::timestamptz IS NULL OR last_seen >= $1 ORDER BY instance"
                ),
                &[&forgotten],
            )
        })?;
        let inner = &self.inner;
        let mut lists: HashMap<String, Vec<Declared>> = HashMap::new();
        let mut fleet = Vec::with_capacity(rows.len());
        for row in rows {
            let digest: String = inner.get(&row, 5)?;
            if let Some(toggles) = inner.get::<Option<Json>>(&row, 6)? {
                // Read declaration by declaration: one a newer version wrote that this version
                // cannot read is left out, not the whole fleet.
                lists.insert(digest.clone(), Declared::readable(toggles));
            }
            // The first row of each digest holds its toggles: a row without is a broken query.
            let toggles = lists.get(&digest).cloned().ok_or_else(|| {
                inner.unreadable(
                    "published declarations",
                    &"a row came back without its toggles",
                )
            })?;
            let service = Service::instance(
                inner.get::<String>(&row, 1)?,
                inner.get::<String>(&row, 2)?,
                inner.get::<String>(&row, 0)?,
            )
            .on_host(inner.get::<String>(&row, 7)?);
            let published_at = inner.get::<SystemTime>(&row, 3)?.into();
            let mut published = Published::new(Declarations::new(service, toggles), published_at);
            published.last_seen = inner.get::<SystemTime>(&row, 4)?.into();
            fleet.push(published);
        }
        Ok(fleet)
    }

    /// One row per guarded flag per tick, in one statement; rows older than a day (longer
    /// than any sensible guard window) are deleted as it goes.
    fn record_outcomes(
        &self,
        instance: &str,
        at: Timestamp,
        counts: &[(String, Counts)],
    ) -> Result<bool, StoreError> {
        if counts.is_empty() {
            return Ok(true);
        }
        let q = &self.inner.quoted;
        let number = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (mut toggles, mut on_ok, mut on_err, mut off_ok, mut off_err) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (toggle, c) in counts {
            toggles.push(toggle.as_str());
            on_ok.push(number(c.on_ok));
            on_err.push(number(c.on_err));
            off_ok.push(number(c.off_ok));
            off_err.push(number(c.off_err));
        }
        let at = at.unix_seconds();
        self.inner.with(|client| {
            client.execute(
                &format!(
                    "INSERT INTO {q}.outcomes (instance, toggle, at, on_ok, on_err, off_ok, off_err)
                     SELECT $1, t, $2, a, b, c, d
                     FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
                          AS u(t, a, b, c, d)"
                ),
                &[&instance, &at, &toggles, &on_ok, &on_err, &off_ok, &off_err],
            )?;
            client.execute(
                &format!("DELETE FROM {q}.outcomes WHERE at < $1"),
                &[&(at - 86_400)],
            )?;
            Ok(true)
        })
    }

    fn outcomes(&self, toggle: &str, since: Timestamp) -> Result<Option<Counts>, StoreError> {
        let q = &self.inner.quoted;
        let row = self.inner.with(|client| {
            client.query_one(
                &format!(
                    "SELECT coalesce(sum(on_ok), 0)::bigint, coalesce(sum(on_err), 0)::bigint,
                            coalesce(sum(off_ok), 0)::bigint, coalesce(sum(off_err), 0)::bigint
                     FROM {q}.outcomes WHERE toggle = $1 AND at >= $2"
                ),
                &[&toggle, &since.unix_seconds()],
            )
        })?;
        let count = |i: usize| -> Result<u64, StoreError> {
            let n: i64 = self.inner.get(&row, i)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(Some(Counts::new(
            count(0)?,
            count(1)?,
            count(2)?,
            count(3)?,
        )))
    }

    /// One statement for every guarded key of a tick: each window's sums from the later of its
    /// start and its toggle's newest audited change (found by the audit log's index by toggle),
    /// so a fleet's reads per tick grow with its instances, not with instances times flags.
    fn fleet_outcomes(&self, windows: &[OutcomeWindow]) -> Result<Option<Vec<Counts>>, StoreError> {
        if windows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let q = &self.inner.quoted;
        let (keys, toggles, since) = window_columns(windows);
        let from = windows_from(q);
        let rows = self.inner.with(|client| {
            client.query(
                &format!(
                    "SELECT coalesce(sum(o.on_ok), 0)::bigint, coalesce(sum(o.on_err), 0)::bigint,
                            coalesce(sum(o.off_ok), 0)::bigint, coalesce(sum(o.off_err), 0)::bigint
                     {from}
                     LEFT JOIN {q}.outcomes o
                          ON o.toggle = w.key AND o.at >= greatest(w.since, c.changed)
                     GROUP BY w.i ORDER BY w.i"
                ),
                &[&keys, &toggles, &since],
            )
        })?;
        let count = |row: &Row, i: usize| -> Result<u64, StoreError> {
            let n: i64 = self.inner.get(row, i)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        rows.iter()
            .map(|row| {
                Ok(Counts::new(
                    count(row, 0)?,
                    count(row, 1)?,
                    count(row, 2)?,
                    count(row, 3)?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// One statement: a row per key and arm, its buckets and counts as arrays (sent as one
    /// JSON document, as rows of arrays do not go through `unnest`), and the rows older than a
    /// day deleted by the same statement.
    fn record_run_times(
        &self,
        instance: &str,
        at: Timestamp,
        runs: &[(String, RunBuckets)],
    ) -> Result<bool, StoreError> {
        let rows: Vec<Json> = runs
            .iter()
            .flat_map(|(key, runs)| {
                [(0, &runs.on), (1, &runs.off)]
                    .into_iter()
                    .filter(|(_, buckets)| !buckets.is_empty())
                    .map(move |(arm, buckets)| {
                        let (b, c): (Vec<u16>, Vec<u64>) = buckets.iter().copied().unzip();
                        serde_json::json!({ "t": key, "a": arm, "b": b, "c": c })
                    })
            })
            .collect();
        if rows.is_empty() {
            return Ok(true);
        }
        let q = &self.inner.quoted;
        let at = at.unix_seconds();
        let rows = Json::Array(rows);
        self.inner.with(|client| {
            client.execute(
                &format!(
                    "WITH gone AS (DELETE FROM {q}.run_times WHERE at < $2::bigint - 86400)
                     INSERT INTO {q}.run_times (instance, toggle, at, arm, buckets, counts)
                     SELECT $1, r.t, $2::bigint, r.a,
                            ARRAY(SELECT jsonb_array_elements_text(r.b)::smallint),
                            ARRAY(SELECT jsonb_array_elements_text(r.c)::bigint)
                     FROM jsonb_to_recordset($3::jsonb) AS r(t text, a smallint, b jsonb, c jsonb)"
                ),
                &[&instance, &at, &rows],
            )?;
            Ok(true)
        })
    }

    /// One statement for every window: each window's rows (from the later of its start and
    /// its toggle's newest audited change, as [`fleet_outcomes`](Store::fleet_outcomes)),
    /// summed bucket by bucket.
    fn fleet_run_times(
        &self,
        windows: &[OutcomeWindow],
    ) -> Result<Option<Vec<RunBuckets>>, StoreError> {
        if windows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let q = &self.inner.quoted;
        let (keys, toggles, since) = window_columns(windows);
        let from = windows_from(q);
        let rows = self.inner.with(|client| {
            client.query(
                &format!(
                    "SELECT w.i, r.arm, u.b, sum(u.c)::bigint
                     {from}
                     JOIN {q}.run_times r
                          ON r.toggle = w.key AND r.at >= greatest(w.since, c.changed)
                     CROSS JOIN LATERAL unnest(r.buckets, r.counts) AS u(b, c)
                     GROUP BY w.i, r.arm, u.b ORDER BY w.i, r.arm, u.b"
                ),
                &[&keys, &toggles, &since],
            )
        })?;
        let mut runs = vec![RunBuckets::default(); windows.len()];
        for row in &rows {
            let i: i64 = self.inner.get(row, 0)?;
            let arm: i16 = self.inner.get(row, 1)?;
            let bucket: i16 = self.inner.get(row, 2)?;
            let n: i64 = self.inner.get(row, 3)?;
            let (Some(window), Ok(bucket), Ok(n)) = (
                usize::try_from(i - 1).ok().and_then(|i| runs.get_mut(i)),
                u16::try_from(bucket),
                u64::try_from(n),
            ) else {
                continue;
            };
            match arm {
                0 => window.on.push((bucket, n)),
                _ => window.off.push((bucket, n)),
            }
        }
        Ok(Some(runs))
    }

    /// One statement per batch; a unit keeps its earliest exposure (by time, whichever instance
    /// records it), so its arm is the one it was first drawn into.
    fn record_exposures(&self, exposures: &[Exposed]) -> Result<bool, StoreError> {
        if exposures.is_empty() {
            return Ok(true);
        }
        let q = &self.inner.quoted;
        let toggles: Vec<&str> = exposures.iter().map(|e| e.toggle.as_str()).collect();
        let units: Vec<&str> = exposures.iter().map(|e| e.unit.as_str()).collect();
        let arms: Vec<&str> = exposures.iter().map(|e| e.arm.as_str()).collect();
        let at: Vec<SystemTime> = exposures.iter().map(|e| SystemTime::from(e.at)).collect();
        self.inner.with(|client| {
            client.execute(
                &format!(
                    "INSERT INTO {q}.exposed AS e (toggle, unit, arm, at)
                     SELECT DISTINCT ON (t, u) t, u, a, w
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS x(t, u, a, w)
                     ORDER BY t, u, w
                     ON CONFLICT (toggle, unit) DO UPDATE SET arm = excluded.arm, at = excluded.at
                     WHERE excluded.at < e.at"
                ),
                &[&toggles, &units, &arms, &at],
            )?;
            Ok(true)
        })
    }

    /// Two statements per heartbeat, whatever the number of toggles: the times only move
    /// forward (a late report from a slower instance moves nothing back).
    fn record_usage(&self, service: &str, at: Timestamp, used: &[Use]) -> Result<bool, StoreError> {
        if used.is_empty() {
            return Ok(true);
        }
        let q = &self.inner.quoted;
        let at = SystemTime::from(at);
        let toggles: Vec<&str> = used.iter().map(|u| u.toggle.as_str()).collect();
        let (answered, answers): (Vec<&str>, Vec<&str>) = used
            .iter()
            .flat_map(|u| u.answers.iter().map(|a| (u.toggle.as_str(), a.as_str())))
            .unzip();
        self.inner.with(|client| {
            let mut tx = client.transaction()?;
            tx.execute(
                &format!(
                    "INSERT INTO {q}.usage AS u (toggle, service, first_evaluated, last_evaluated)
                     SELECT DISTINCT t, $2, $3::timestamptz, $3::timestamptz FROM unnest($1::text[]) AS x(t)
                     ON CONFLICT (toggle, service) DO UPDATE SET
                         first_evaluated = LEAST(u.first_evaluated, excluded.first_evaluated),
                         last_evaluated = GREATEST(u.last_evaluated, excluded.last_evaluated)"
                ),
                &[&toggles, &service, &at],
            )?;
            tx.execute(
                &format!(
                    "INSERT INTO {q}.usage_answers AS a (toggle, service, answer, last_given)
                     SELECT DISTINCT t, $3, w, $4::timestamptz
                     FROM unnest($1::text[], $2::text[]) AS x(t, w)
                     ON CONFLICT (toggle, service, answer) DO UPDATE SET
                         last_given = GREATEST(a.last_given, excluded.last_given)"
                ),
                &[&answered, &answers, &service, &at],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn usage(&self) -> Result<Option<Vec<Usage>>, StoreError> {
        let q = &self.inner.quoted;
        let (toggles, answers) = self.inner.with(|client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let toggles = tx.query(
                &format!(
                    "SELECT toggle, service, first_evaluated, last_evaluated FROM {q}.usage
                     ORDER BY toggle, service"
                ),
                &[],
            )?;
            let answers = tx.query(
                &format!("SELECT toggle, service, answer, last_given FROM {q}.usage_answers"),
                &[],
            )?;
            tx.commit()?;
            Ok((toggles, answers))
        })?;
        let mut by_key: BTreeMap<(String, String), Usage> = BTreeMap::new();
        for row in &toggles {
            let toggle: String = self.inner.get(row, 0)?;
            let service: String = self.inner.get(row, 1)?;
            let first: Timestamp = self.inner.get::<SystemTime>(row, 2)?.into();
            let last: Timestamp = self.inner.get::<SystemTime>(row, 3)?.into();
            by_key.insert(
                (toggle.clone(), service.clone()),
                Usage::new(toggle, service, first, last),
            );
        }
        for row in &answers {
            let key = (self.inner.get(row, 0)?, self.inner.get(row, 1)?);
            if let Some(usage) = by_key.get_mut(&key) {
                let given: Timestamp = self.inner.get::<SystemTime>(row, 3)?.into();
                usage.answers.insert(self.inner.get(row, 2)?, given);
            }
        }
        Ok(Some(by_key.into_values().collect()))
    }

    /// One statement per batch; a unit's latest conversion per goal is kept.
    fn record_conversions(&self, conversions: &[Converted]) -> Result<bool, StoreError> {
        if conversions.is_empty() {
            return Ok(true);
        }
        let q = &self.inner.quoted;
        let toggles: Vec<&str> = conversions.iter().map(|c| c.toggle.as_str()).collect();
        let units: Vec<&str> = conversions.iter().map(|c| c.unit.as_str()).collect();
        let goals: Vec<&str> = conversions.iter().map(|c| c.goal.as_str()).collect();
        let at: Vec<SystemTime> = conversions.iter().map(|c| SystemTime::from(c.at)).collect();
        self.inner.with(|client| {
            client.execute(
                &format!(
                    "INSERT INTO {q}.converted AS c (toggle, unit, goal, at)
                     SELECT DISTINCT ON (t, u, g) t, u, g, w
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS x(t, u, g, w)
                     ORDER BY t, u, g, w DESC
                     ON CONFLICT (toggle, unit, goal) DO UPDATE SET at = excluded.at
                     WHERE excluded.at > c.at"
                ),
                &[&toggles, &units, &goals, &at],
            )?;
            Ok(true)
        })
    }

    /// Two grouped queries in one read-only snapshot (so no unit counts as converted without
    /// counting as exposed): units per arm, and converted units per arm and goal, joined to
    /// their exposure.
    fn experiment_counts(&self, toggle: &str) -> Result<Option<ExperimentCounts>, StoreError> {
        let q = &self.inner.quoted;
        let (exposed, converted) = self.inner.with(|client| {
            let mut client = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let exposed = client.query(
                &format!("SELECT arm, count(*) FROM {q}.exposed WHERE toggle = $1 GROUP BY arm"),
                &[&toggle],
            )?;
            let converted = client.query(
                &format!(
                    "SELECT e.arm, c.goal, count(*) FROM {q}.converted c
                     JOIN {q}.exposed e ON e.toggle = c.toggle AND e.unit = c.unit
                     WHERE c.toggle = $1 AND c.at >= e.at
                     GROUP BY e.arm, c.goal"
                ),
                &[&toggle],
            )?;
            client.commit()?;
            Ok((exposed, converted))
        })?;
        if exposed.is_empty() {
            return Ok(None);
        }
        let count = |row: &Row, i: usize| -> Result<u64, StoreError> {
            let n: i64 = self.inner.get(row, i)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let mut counts = ExperimentCounts::new();
        for row in &exposed {
            let arm: String = self.inner.get(row, 0)?;
            counts.insert(arm, ArmCounts::new(count(row, 1)?, []));
        }
        for row in &converted {
            let (arm, goal): (String, String) = (self.inner.get(row, 0)?, self.inner.get(row, 1)?);
            let n = count(row, 2)?;
            counts.entry(arm).or_default().converted.insert(goal, n);
        }
        Ok(Some(counts))
    }

    /// One transaction: the piece inserted, its arm's count raised, and the toggle's pieces
    /// past the newest [`FEEDBACK_KEPT`] deleted.
    fn record_feedback(&self, feedback: &Feedback) -> Result<bool, StoreError> {
        let q = &self.inner.quoted;
        let kept_past = i64::try_from(FEEDBACK_KEPT).unwrap_or(i64::MAX) - 1;
        let at = SystemTime::from(feedback.at);
        self.inner.with(|client| {
            let mut tx = client.transaction()?;
            tx.execute(
                &format!(
                    "INSERT INTO {q}.feedback (toggle, arm, unit, text, at) VALUES ($1, $2, $3, $4, $5)"
                ),
                &[&feedback.toggle, &feedback.arm, &feedback.unit, &feedback.text, &at],
            )?;
            tx.execute(
                &format!(
                    "INSERT INTO {q}.feedback_counts (toggle, arm, count) VALUES ($1, $2, 1)
                     ON CONFLICT (toggle, arm) DO UPDATE SET count = {q}.feedback_counts.count + 1"
                ),
                &[&feedback.toggle, &feedback.arm],
            )?;
            tx.execute(
                &format!(
                    "DELETE FROM {q}.feedback WHERE toggle = $1 AND id < (
                         SELECT id FROM {q}.feedback WHERE toggle = $1
                         ORDER BY id DESC OFFSET $2 LIMIT 1)"
                ),
                &[&feedback.toggle, &kept_past],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// The newest pieces by the toggle's index, and the counts, in one read-only snapshot.
    fn feedback(&self, toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
        let q = &self.inner.quoted;
        let limit = i64::try_from(limit.min(FEEDBACK_KEPT)).unwrap_or(0);
        let (pieces, counts) = self.inner.with(|client| {
            let mut client = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let pieces = client.query(
                &format!(
                    "SELECT arm, unit, text, at FROM {q}.feedback WHERE toggle = $1
                     ORDER BY id DESC LIMIT $2"
                ),
                &[&toggle, &limit],
            )?;
            let counts = client.query(
                &format!("SELECT arm, count FROM {q}.feedback_counts WHERE toggle = $1"),
                &[&toggle],
            )?;
            client.commit()?;
            Ok((pieces, counts))
        })?;
        if counts.is_empty() {
            return Ok(None);
        }
        let mut log = FeedbackLog::default();
        for row in &counts {
            let n: i64 = self.inner.get(row, 1)?;
            log.per_arm
                .insert(self.inner.get(row, 0)?, u64::try_from(n).unwrap_or(0));
        }
        for row in &pieces {
            let at: SystemTime = self.inner.get(row, 3)?;
            log.entries.push(Feedback::new(
                toggle,
                self.inner.get::<String>(row, 0)?,
                self.inner.get(row, 1)?,
                self.inner.get::<String>(row, 2)?,
                Timestamp::from(at),
            ));
        }
        Ok(Some(log))
    }

    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        if !self.inner.watching.swap(true, Ordering::Relaxed) {
            let weak = Arc::downgrade(&self.inner);
            std::thread::Builder::new()
                .name("toggles-postgres-listen".to_owned())
                .spawn(move || listen::run(&weak, &on_change))
                .map_err(|e| StoreError::backend_caused("cannot start the listener", e))?;
        }
        Ok(())
    }
}

impl PostgresStore {
    /// First and last change of each toggle (or of one), in one aggregate query.
    fn histories_where(
        &self,
        toggle: Option<&str>,
    ) -> Result<HashMap<String, History>, StoreError> {
        let q = &self.inner.quoted;
        let rows = self.inner.with(|client| {
            let rows = client.query(
                &format!(
                    "SELECT toggle,
                            (array_agg(at ORDER BY id))[1],
                            (array_agg(at ORDER BY id DESC))[1],
                            (array_agg(actor ORDER BY id DESC))[1]
                     FROM {q}.audit WHERE $1::text IS NULL OR toggle = $1 GROUP BY toggle"
                ),
                &[&toggle],
            )?;
            Ok(rows)
        })?;
        let inner = &self.inner;
        rows.iter()
            .map(|row| {
                let history = History {
                    first_modified: inner.get::<SystemTime>(row, 1)?.into(),
                    last_modified: inner.get::<SystemTime>(row, 2)?.into(),
                    modified_by: inner.get(row, 3)?,
                };
                Ok((inner.get(row, 0)?, history))
            })
            .collect()
    }
}

/// The windows of a fleet read as the three arrays its statement takes: keys, toggles, starts.
fn window_columns(windows: &[OutcomeWindow]) -> (Vec<&str>, Vec<&str>, Vec<i64>) {
    (
        windows.iter().map(|w| w.key.as_str()).collect(),
        windows.iter().map(|w| w.toggle.as_str()).collect(),
        windows.iter().map(|w| w.since.unix_seconds()).collect(),
    )
}

/// The `FROM` of a fleet read: the windows (`w`, numbered by `i` from 1, from the arrays
/// `$1`-`$3`), each with its toggle's newest audited change (`c.changed`, by the audit log's
/// index by toggle), which a window starts no earlier than.
fn windows_from(q: &str) -> String {
    format!(
        "FROM unnest($1::text[], $2::text[], $3::bigint[])
              WITH ORDINALITY AS w(key, toggle, since, i)
         LEFT JOIN LATERAL (
             SELECT floor(extract(epoch FROM a.at::timestamptz))::bigint AS changed
             FROM {q}.audit a WHERE a.toggle = w.toggle ORDER BY a.id DESC LIMIT 1
         ) c ON true"
    )
}
