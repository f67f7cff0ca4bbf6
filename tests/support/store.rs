//! The process-wide store, taken in turns; a store a test keeps a handle on; waiting for the
//! file store's poll.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use toggles::store::{AuditQuery, OnChange, Store};
use toggles::{
    AuditEntry, Declarations, MemoryStore, Published, Snapshot, StoreError, Timestamp, WriteError,
};

static SERIAL: Mutex<()> = Mutex::new(());

/// The installed store is process-wide: tests that install one take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every audit entry of the installed store, newest first.
pub fn all_audit() -> Vec<AuditEntry> {
    toggles::audit(&AuditQuery::all().limit(usize::MAX)).unwrap()
}

/// A memory store the test keeps a handle on after installing it.
pub struct SharedStore(pub Arc<MemoryStore>);

impl Store for SharedStore {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.0.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        self.0.update(edit)
    }
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.audit(query)
    }
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        self.0.watch(on_change)
    }
    fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
        self.0.publish(declarations, at)
    }
    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.0.seen(instance, at)
    }
    fn published(&self) -> Result<Vec<Published>, StoreError> {
        self.0.published()
    }
}

/// Waits up to 10 seconds for `done`, for the file store's poll.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            // Polls every 50 ms take far less; the margin is for a loaded machine.
            start.elapsed() < Duration::from_secs(10),
            "not within 10 seconds: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Replaces the whole file, as an operator's editor would.
pub fn write_file(path: &Path, text: &str) {
    let tmp = path.with_extension("edit");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
