//! The PostgreSQL store of [`toggles`](https://docs.rs/toggles): toggle states that a fleet of
//! services and instances shares and changes without a deploy.
//!
//! ```no_run
//! use toggles_postgres::PostgresStore;
//!
//! let store = PostgresStore::new("host=127.0.0.1 user=postgres dbname=app", "toggles")?;
//! toggles_runtime::install(store)?;
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
//!   its own, and reloads on every notification from another connection. Notifications sent
//!   while it was disconnected are lost, so after every (re)connect it reloads in full.
//! - **Outages.** No check ever waits for the database: checks read the state the runtime
//!   published. Down at start-up: [`install`](toggles_runtime::install) returns the error, the
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
mod schema;
mod store;

pub use crate::store::PostgresStore;
pub use toggles_runtime::store::Store;
