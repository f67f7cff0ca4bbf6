//! Where toggle states, rules and values live, and the record of every change to them.
//!
//! The runtime reads a store's [`Snapshot`] when it is installed and whenever the store says
//! its contents changed, validates it against the registry, and rebuilds every toggle's cached
//! state from it; checks never touch the store. Writes go through [`write`](crate::write), which
//! validates them against the registry inside the store's own transaction, so a refused write
//! changes nothing and an accepted one is recorded in the audit log.
//!
//! Implement [`Store`] for a new backend (a shared database, say): it needs to load, to run a
//! transaction, to keep the audit log, and to call back when its contents change.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::{Invalid, Snapshot, Timestamp};

/// Called by a store whenever its contents may have changed.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// A backend that holds toggle states, rules and values, and an audit log.
pub trait Store: Send + Sync + 'static {
    /// A short description for status reports: `memory`, `file /etc/app/toggles.json`.
    fn describe(&self) -> String;

    /// The current contents.
    fn load(&self) -> Result<Snapshot, StoreError>;

    /// Runs one write transaction: `edit` receives the current contents, changes them (or
    /// refuses), and returns the audit entry. The store persists the new contents and appends
    /// the entry atomically — all of it or none of it — and serializes transactions, across
    /// processes where it is shared.
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError>;

    /// Every accepted change, oldest first.
    fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError>;

    /// Arranges for `on_change` to be called whenever the contents may have changed, by this
    /// process or another, for as long as the store lives.
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError>;
}

/// One accepted change: who, what (before and after), when and why (OEP-17 Req 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it was written.
    pub at: Timestamp,
    /// Who wrote it.
    pub actor: String,
    /// The toggle's full name.
    pub toggle: String,
    /// What the store held for the toggle before; `null` for nothing (the compiled default).
    pub before: Option<Json>,
    /// What it holds after; `null` for nothing.
    pub after: Option<Json>,
    /// Why.
    pub reason: String,
}

/// A store that cannot be read, or holds data that does not fit this program.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the store's files failed.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The store's file is not valid toggles JSON.
    #[error("{path} is not a valid toggles file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The contents do not fit the toggles of this program.
    #[error("the store holds entries this program cannot use: {0}")]
    Invalid(#[from] Invalid),
    /// Another backend's failure, in its own words.
    #[error("{0}")]
    Backend(String),
}

/// A write that was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The change does not fit the registry: unknown toggle, wrong kind, bad value or rule.
    #[error("write refused: {0}")]
    Invalid(#[from] Invalid),
    /// `actor` or `reason` is empty.
    #[error("write refused: every change needs an actor and a reason, for the audit log")]
    Unattributed,
    /// No store has been installed.
    #[error("write refused: no store is installed (call `toggles::install` first)")]
    NoStore,
    /// The store failed.
    #[error("write failed: {0}")]
    Store(#[from] StoreError),
}
