//! The installation handle: what it starts, it stops — on `shutdown`, on drop, and when another
//! installation replaces it — and the state in force outlives it.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::store::{serial, wait_for};
use toggles::store::{AuditEntry, FileStore, MemoryStore, Snapshot};
use toggles::store::{AuditQuery, OnChange, Store};
use toggles::{
    toggle, Change, InstallError, Installer, Service, StoreError, Switch, Timestamp, WriteError,
};

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// A memory store that counts its heartbeats.
struct Counting {
    inner: Arc<MemoryStore>,
    beats: Arc<AtomicUsize>,
}

impl Store for Counting {
    fn describe(&self) -> String {
        "counting".into()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        self.inner.update(edit)
    }
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(query)
    }
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        self.inner.watch(on_change)
    }
    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.beats.fetch_add(1, Ordering::SeqCst);
        self.inner.seen(instance, at)
    }
}

fn counting() -> (Counting, Arc<AtomicUsize>) {
    let beats = Arc::new(AtomicUsize::new(0));
    let store = Counting {
        inner: Arc::new(MemoryStore::new()),
        beats: Arc::clone(&beats),
    };
    (store, beats)
}

/// The names of this process's threads that the runtime started.
fn runtime_threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .filter(|name| name.starts_with("toggles-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn shutdown_stops_every_thread_and_the_state_stays() {
    let _s = serial();
    let (store, beats) = counting();
    let dir = tempfile::tempdir().unwrap();
    let file = FileStore::open(dir.path().join("toggles.json")).unwrap();
    // A file store's watch thread, besides the heartbeat and the guards'.
    let toggles = Installer::new(file)
        .heartbeat(Duration::from_millis(20))
        .guard_tick(Duration::from_millis(20))
        .install()
        .unwrap();
    toggles::write(
        Change::switch("catalog.recommendations", false)
            .by("ops")
            .because("spike"),
    )
    .unwrap();
    if std::path::Path::new("/proc/self/task").exists() {
        // Linux keeps the first 15 bytes of a thread's name.
        assert_eq!(
            runtime_threads(),
            ["toggles-file-wa", "toggles-guard", "toggles-heartbe"]
        );
    }
    toggles.shutdown();
    if std::path::Path::new("/proc/self/task").exists() {
        // The store's own thread ends at its next look once the store is dropped.
        wait_for("every thread of the installation ends", || {
            runtime_threads().is_empty()
        });
    }
    assert!(!RECOMMENDATIONS.is_enabled(), "the state in force stays");
    assert!(matches!(
        toggles::write(
            Change::switch("catalog.recommendations", true)
                .by("ops")
                .because("x")
        ),
        Err(WriteError::NoStore)
    ));

    // Dropping does the same; so does being replaced.
    let first = Installer::new(store)
        .heartbeat(Duration::from_millis(20))
        .install()
        .unwrap();
    wait_for("the heartbeat beats", || beats.load(Ordering::SeqCst) >= 2);
    let (second_store, second_beats) = counting();
    let second = Installer::new(second_store)
        .heartbeat(Duration::from_millis(20))
        .install()
        .unwrap();
    assert!(!first.is_installed() && second.is_installed());
    wait_for("the new installation beats", || {
        second_beats.load(Ordering::SeqCst) >= 2
    });
    let before = beats.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        beats.load(Ordering::SeqCst) <= before + 1,
        "a replaced installation's heartbeat stops"
    );
    drop(first);
    assert!(second.is_installed(), "dropping the old one leaves the new");
    drop(second);
    assert!(matches!(
        toggles::write(
            Change::switch("catalog.recommendations", true)
                .by("ops")
                .because("x")
        ),
        Err(WriteError::NoStore)
    ));
}

/// A store that cannot be read.
struct Unreachable;

impl Store for Unreachable {
    fn describe(&self) -> String {
        "unreachable".into()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        Err(StoreError::Backend("connection refused".into()))
    }
    fn update(
        &self,
        _: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        Err(StoreError::Backend("connection refused".into()).into())
    }
    fn audit(&self, _: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn watch(&self, _: OnChange) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A store that cannot be watched.
struct Unwatchable;

impl Store for Unwatchable {
    fn describe(&self) -> String {
        "unwatchable".into()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }
    fn update(
        &self,
        _: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        Err(StoreError::Backend("read-only".into()).into())
    }
    fn audit(&self, _: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn watch(&self, _: OnChange) -> Result<(), StoreError> {
        Err(StoreError::Backend("no watcher left".into()))
    }
}

#[test]
fn the_install_error_says_whether_anything_was_installed() {
    let _s = serial();
    let err = Installer::new(Unreachable)
        .service(Service::new("grading", "1.4.2"))
        .install()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the store is installed and followed, but its first load failed: connection refused"
    );
    let installation = err.into_installation().expect("installed");
    assert!(installation.is_installed());
    assert_eq!(
        toggles::status().last_error.as_deref(),
        Some("connection refused")
    );
    drop(installation);

    let err = Installer::new(Unwatchable).install().unwrap_err();
    assert!(matches!(err, InstallError::NotInstalled(_)), "{err}");
    assert_eq!(err.to_string(), "nothing was installed: no watcher left");
    assert!(err.into_installation().is_none());
    assert!(matches!(
        toggles::write(
            Change::switch("catalog.recommendations", true)
                .by("ops")
                .because("x")
        ),
        Err(WriteError::NoStore)
    ));
}
