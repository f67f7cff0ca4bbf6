//! The PostgreSQL store of [`toggles`](https://docs.rs/toggles): toggle states that a fleet of
//! services and instances shares and changes without a deploy.
//!
//! ```no_run
//! use toggles::postgres::PostgresStore;
//!
//! let store = PostgresStore::new("host=127.0.0.1 user=postgres dbname=app", "toggles")?;
//! let _toggles = toggles_runtime::install(store)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **Schema.** Everything lives in one schema of the caller's choosing (tests and tenants stay
//!   apart), created and migrated on first use. Migrations are numbered and applied in one
//!   transaction under an advisory lock, so ten instances starting at once migrate once.
//! - **Writes.** [`write`](toggles_runtime::write) runs one transaction: lock the store's state
//!   row (writers from every process queue there, so none loses another's update), read the
//!   entries, run the runtime's validating edit, write the changed entries and the audit row,
//!   and `NOTIFY` — committed together or not at all.
//! - **Propagation.** Each installed store `LISTEN`s on a dedicated connection, on a thread of
//!   its own, and reloads on every notification from another store handle. Notifications sent
//!   while it was disconnected are lost, so after every (re)connect it reloads in full.
//! - **Connections.** Loads, writes, audit queries and fleet reads share a few connections (up
//!   to four kept idle, one more opened whenever none is free), so a slow fleet report or audit
//!   page never holds up a reload.
//! - **TLS.** `sslmode` and `sslrootcert` mean what they mean to libpq, so the connection
//!   string a managed database documents works as written: `prefer` (the default) encrypts if
//!   the server offers it, `require` always, `verify-ca` and `verify-full` check the server's
//!   certificate against `sslrootcert` (a PEM file, or `system` for the operating system's
//!   roots, which is also the default) — `verify-full` for the host connected to as well.
//!   Encryption is rustls's.
//!
//!   ```no_run
//!   # use toggles::postgres::PostgresStore;
//!   let store = PostgresStore::new(
//!       "postgres://app@db.example.com/app?sslmode=verify-full&sslrootcert=/etc/ssl/rds-ca.pem",
//!       "toggles",
//!   )?;
//!   # Ok::<(), toggles_runtime::StoreError>(())
//!   ```
//! - **Times** are `timestamptz`, to the microsecond. A row that does not read as this version
//!   expects is an error that names the column, never a made-up value.
//! - **The fleet.** Each instance's declarations are kept until it has not been seen for a week
//!   ([`forget_instances_after`](PostgresStore::forget_instances_after) sets another retention);
//!   each publish and heartbeat deletes the instances gone longer.
//! - **Outages.** No check ever waits for the database: checks read the state the runtime
//!   published. Down at start-up: [`install`](toggles_runtime::install) says so
//!   ([`InstallError::FirstLoad`](toggles_runtime::InstallError::FirstLoad), with the installation), the
//!   compiled defaults stay in force, and the listener keeps trying, with backoff; when the
//!   database answers, the store's contents take effect. Down later: the last good state stays,
//!   [`status`](toggles_runtime::status) reports the error, the listener reconnects with backoff
//!   and reloads. A write during an outage fails with the connection's error and changes nothing.
//!
//! # Why the synchronous `postgres` crate
//!
//! The [`Store`] API is synchronous, so a program need not run an async runtime. `postgres` is
//! the synchronous face of `tokio-postgres` (each client drives its own small runtime), it
//! speaks `LISTEN`/`NOTIFY` through `Client::notifications`, and its queries are checked at run
//! time, so building needs no database. `sqlx` would bring an async runtime into every program
//! and a larger build; `tokio-postgres` on a private thread would be this crate re-implemented.

mod listen;
mod pool;
mod schema;
mod store;
mod tls;

pub use crate::store::PostgresStore;
pub use toggles_runtime::store::Store;
