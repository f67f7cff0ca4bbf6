//! The process-wide store, taken in turns; waiting for the file store's poll. (A store a test
//! keeps a handle on installs as an `Arc`.)

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use toggles::store::{AuditEntry, AuditQuery};

static SERIAL: Mutex<()> = Mutex::new(());

/// The installed store is process-wide: tests that install one take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every audit entry of the installed store, newest first.
pub fn all_audit() -> Vec<AuditEntry> {
    toggles::report::audit(&AuditQuery::all().limit(usize::MAX)).unwrap()
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
