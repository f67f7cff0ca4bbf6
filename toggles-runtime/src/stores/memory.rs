//! The in-memory store.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::compile::Snapshot;
use crate::stores::{
    AuditEntry, AuditQuery, Converted, Declarations, ExperimentCounts, Experiments, Exposed,
    Feedback, FeedbackBook, FeedbackLog, History, OnChange, Published, Store, StoreError, Usage,
    UsageBook, Use, WriteError, FORGET_AFTER,
};
use crate::targeting::Timestamp;

/// A store held in memory, lost when the process ends: for tests, and for programs whose
/// toggles change only through [`write`](crate::write).
///
/// ```
/// use toggles::{toggle, Change, Switch};
/// use toggles::store::MemoryStore;
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let _toggles = toggles::install(MemoryStore::new()).unwrap();
/// toggles::write(Change::switch("catalog.recommendations", false).by("ops@example.com").because("traffic spike")).unwrap();
/// assert!(!RECOMMENDATIONS.is_enabled());
/// ```
pub struct MemoryStore {
    inner: Mutex<Inner>,
    forget_after: Duration,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner();
        f.debug_struct("MemoryStore")
            .field("snapshot", &inner.snapshot)
            .field("audit_entries", &inner.audit.len())
            .field("instances", &inner.fleet.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore {
            inner: Mutex::default(),
            forget_after: FORGET_AFTER,
        }
    }
}

#[derive(Default)]
struct Inner {
    snapshot: Snapshot,
    /// Oldest first.
    audit: Vec<AuditEntry>,
    fleet: Vec<Published>,
    experiments: Experiments,
    feedback: FeedbackBook,
    usage: UsageBook,
}

impl MemoryStore {
    /// An empty store: every toggle at its compiled default.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Forgets an instance's declarations once it has not been seen for `after` ([`FORGET_AFTER`],
    /// a week, by default).
    #[must_use]
    pub fn forget_instances_after(mut self, after: Duration) -> MemoryStore {
        self.forget_after = after;
        self
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A store holding `snapshot`, with an empty audit log.
///
/// ```
/// use toggles::store::{MemoryStore, Snapshot, Store};
///
/// let mut held = Snapshot::default();
/// held.switches.insert("catalog.recommendations".into(), false.into());
/// let store = MemoryStore::from(held.clone());
/// assert_eq!(store.load()?, held);
/// # Ok::<(), toggles::StoreError>(())
/// ```
impl From<Snapshot> for MemoryStore {
    fn from(snapshot: Snapshot) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner {
                snapshot,
                ..Inner::default()
            }),
            ..MemoryStore::default()
        }
    }
}

impl Store for MemoryStore {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(self.inner().snapshot.clone())
    }

    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        let mut inner = self.inner();
        // Edit a copy, so a refused edit leaves nothing half-applied.
        let mut next = inner.snapshot.clone();
        let entry = edit(&mut next)?;
        inner.snapshot = next;
        inner.audit.push(entry.clone());
        Ok(entry)
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(query.select(self.inner().audit.iter()))
    }

    // Read in place: the defaults would copy the whole log, entries' rules included.
    fn history(&self, toggle: &str) -> Result<Option<History>, StoreError> {
        let inner = self.inner();
        let entries = inner.audit.iter().filter(|e| e.toggle == toggle);
        Ok(History::of(entries).remove(toggle))
    }

    fn histories(&self) -> Result<HashMap<String, History>, StoreError> {
        Ok(History::of(self.inner().audit.iter()))
    }

    /// Nothing but this handle's `update` changes a memory store, so there is nothing to watch.
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        let _ = on_change;
        Ok(())
    }

    fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
        Published::record(&mut self.inner().fleet, declarations, at, self.forget_after);
        Ok(())
    }

    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        let fleet = &mut self.inner().fleet;
        Ok(Published::record_seen(
            fleet,
            instance,
            at,
            self.forget_after,
        ))
    }

    fn record_exposures(&self, exposures: &[Exposed]) -> Result<bool, StoreError> {
        self.inner().experiments.record_exposures(exposures);
        Ok(true)
    }

    fn record_conversions(&self, conversions: &[Converted]) -> Result<bool, StoreError> {
        self.inner().experiments.record_conversions(conversions);
        Ok(true)
    }

    fn record_feedback(&self, feedback: &Feedback) -> Result<bool, StoreError> {
        self.inner().feedback.record(feedback.clone());
        Ok(true)
    }

    fn feedback(&self, toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
        Ok(self.inner().feedback.log(toggle, limit))
    }

    fn experiment_counts(&self, toggle: &str) -> Result<Option<ExperimentCounts>, StoreError> {
        Ok(self.inner().experiments.counts(toggle))
    }

    fn record_usage(&self, service: &str, at: Timestamp, used: &[Use]) -> Result<bool, StoreError> {
        self.inner().usage.record(service, at, used);
        Ok(true)
    }

    fn usage(&self) -> Result<Option<Vec<Usage>>, StoreError> {
        Ok(Some(self.inner().usage.all()))
    }

    fn published(&self) -> Result<Vec<Published>, StoreError> {
        let now = Timestamp::now();
        let fleet = &self.inner().fleet;
        Ok(fleet
            .iter()
            .filter(|p| !p.forgotten(now, self.forget_after))
            .cloned()
            .collect())
    }
}
