//! The store's tables, and the numbered migrations that create them.

use postgres::Client;

/// Migrations, in order; the version of each is its position plus one. Append, never edit.
/// `{s}` stands for the quoted schema name.
const MIGRATIONS: &[&str] = &[
    // 1: entries by section and full name, the state row writers lock, the audit log.
    "CREATE TABLE {s}.state (
         id integer PRIMARY KEY CHECK (id = 1),
         version bigint NOT NULL
     );
     INSERT INTO {s}.state (id, version) VALUES (1, 0);
     CREATE TABLE {s}.entries (
         section text NOT NULL CHECK (section IN ('switches', 'flags', 'settings')),
         name text NOT NULL,
         value jsonb NOT NULL,
         PRIMARY KEY (section, name)
     );
     CREATE TABLE {s}.audit (
         id bigserial PRIMARY KEY,
         at text NOT NULL,
         actor text NOT NULL,
         toggle text NOT NULL,
         before jsonb,
         after jsonb,
         reason text NOT NULL
     );
     CREATE INDEX audit_by_toggle ON {s}.audit (toggle, id DESC);",
    // 2: each instance's published declarations and its last sign of life.
    "CREATE TABLE {s}.instances (
         instance text PRIMARY KEY,
         service text NOT NULL,
         version text NOT NULL,
         declarations jsonb NOT NULL,
         published_at text NOT NULL,
         last_seen text NOT NULL
     );",
    // 3: outcome counts under guarded flags, one row per instance, flag and guard tick.
    "CREATE TABLE {s}.outcomes (
         instance text NOT NULL,
         toggle text NOT NULL,
         at bigint NOT NULL,
         on_ok bigint NOT NULL,
         on_err bigint NOT NULL,
         off_ok bigint NOT NULL,
         off_err bigint NOT NULL
     );
     CREATE INDEX outcomes_by_toggle ON {s}.outcomes (toggle, at);
     CREATE INDEX outcomes_by_age ON {s}.outcomes (at);",
    // 4: a digest of each instance's toggles, so a fleet read fetches each distinct list once.
    "ALTER TABLE {s}.instances ADD COLUMN toggles_digest text;
     UPDATE {s}.instances SET toggles_digest = md5((declarations->'toggles')::text);
     ALTER TABLE {s}.instances ALTER COLUMN toggles_digest SET NOT NULL;",
    // 5: times as `timestamptz`, not text; a row that does not read as a time stops the
    //    migration (and is reported) rather than becoming some other time.
    "ALTER TABLE {s}.audit ALTER COLUMN at TYPE timestamptz USING at::timestamptz;
     ALTER TABLE {s}.instances
         ALTER COLUMN published_at TYPE timestamptz USING published_at::timestamptz,
         ALTER COLUMN last_seen TYPE timestamptz USING last_seen::timestamptz;",
    // 6: any section name, not only the first three: variant rules, and sections a newer
    //    version adds, which this one carries along.
    "ALTER TABLE {s}.entries DROP CONSTRAINT IF EXISTS entries_section_check;
     ALTER TABLE {s}.entries ADD CONSTRAINT entries_section_check
         CHECK (section ~ '^[a-z][a-z_]*$');",
    // 7: experiments: each unit's first exposure to a variant toggle (its arm), and each
    //    unit's conversions on its goals.
    "CREATE TABLE {s}.exposed (
         toggle text NOT NULL,
         unit text NOT NULL,
         arm text NOT NULL,
         at timestamptz NOT NULL,
         PRIMARY KEY (toggle, unit)
     );
     CREATE TABLE {s}.converted (
         toggle text NOT NULL,
         unit text NOT NULL,
         goal text NOT NULL,
         at timestamptz NOT NULL,
         PRIMARY KEY (toggle, unit, goal)
     );",
    // 8: feedback on toggles: the newest pieces per toggle (older ones are deleted as new ones
    //    come), and a count per arm of every piece.
    "CREATE TABLE {s}.feedback (
         id bigserial PRIMARY KEY,
         toggle text NOT NULL,
         arm text NOT NULL,
         unit text,
         text text NOT NULL,
         at timestamptz NOT NULL
     );
     CREATE INDEX feedback_by_toggle ON {s}.feedback (toggle, id DESC);
     CREATE TABLE {s}.feedback_counts (
         toggle text NOT NULL,
         arm text NOT NULL,
         count bigint NOT NULL,
         PRIMARY KEY (toggle, arm)
     );",
    // 9: run times under guarded flags with a run-time limit, one row per instance, key, arm
    //    (0 on, 1 off) and guard tick: counts per bucket of the runtime's log-linear scale.
    "CREATE TABLE {s}.run_times (
         instance text NOT NULL,
         toggle text NOT NULL,
         at bigint NOT NULL,
         arm smallint NOT NULL,
         buckets smallint[] NOT NULL,
         counts bigint[] NOT NULL
     );
     CREATE INDEX run_times_by_toggle ON {s}.run_times (toggle, at);
     CREATE INDEX run_times_by_age ON {s}.run_times (at);",
    // 10: what the fleet evaluates, per toggle and service: when it was first and last
    //     evaluated, and when each answer was last given.
    "CREATE TABLE {s}.usage (
         toggle text NOT NULL,
         service text NOT NULL,
         first_evaluated timestamptz NOT NULL,
         last_evaluated timestamptz NOT NULL,
         PRIMARY KEY (toggle, service)
     );
     CREATE TABLE {s}.usage_answers (
         toggle text NOT NULL,
         service text NOT NULL,
         answer text NOT NULL,
         last_given timestamptz NOT NULL,
         PRIMARY KEY (toggle, service, answer)
     );",
];

/// A schema name the store accepts: lower-case letters, digits and `_`, starting with a letter,
/// at most 40 characters (it also names the notification channel).
pub(crate) fn is_valid_name(schema: &str) -> bool {
    schema.len() <= 40
        && schema.starts_with(|c: char| c.is_ascii_lowercase())
        && schema
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Creates the schema if need be and applies each migration it lacks, in order, in one transaction under
/// an advisory lock keyed by the schema, so concurrent starters apply each migration once.
pub(crate) fn migrate(client: &mut Client, schema: &str) -> Result<(), postgres::Error> {
    let quoted = format!("\"{schema}\"");
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("toggles migrations {schema}")],
    )?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {quoted};
         CREATE TABLE IF NOT EXISTS {quoted}.migrations (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))?;
    let applied: Vec<i32> = tx
        .query(&format!("SELECT version FROM {quoted}.migrations"), &[])?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    for (i, migration) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(i + 1).expect("few migrations");
        if applied.contains(&version) {
            continue;
        }
        tx.batch_execute(&migration.replace("{s}", &quoted))?;
        tx.execute(
            &format!("INSERT INTO {quoted}.migrations (version) VALUES ($1)"),
            &[&version],
        )?;
    }
    tx.commit()
}

/// How many migrations this version of the crate knows.
pub(crate) fn latest() -> usize {
    MIGRATIONS.len()
}
