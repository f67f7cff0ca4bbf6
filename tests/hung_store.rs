//! A store that hangs holds up only its own reload: while a load waits (a database connect
//! timing out, say), a guard trip — the circuit breaker, needed most when the database is sick —
//! and a test override still complete, and checks answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use toggles::rules::{FlagRule, Guard};
use toggles::store::{AuditEntry, MemoryStore, Snapshot};
use toggles::store::{AuditQuery, OnChange, Store};
use toggles::{toggle, Change, Context, Flag, Installer, StoreError, WriteError};

/// A rollout with a guard.
#[toggle(namespace = "hung", life = "temporary", remove_by = "2030-01-01")]
static ROLLOUT: Flag;

/// A flag a test overrides.
#[toggle(namespace = "hung", life = "temporary", remove_by = "2030-01-01")]
static OVERRIDDEN: Flag;

/// A memory store whose next load, once armed, waits until the test lets it go.
struct HangingStore {
    inner: MemoryStore,
    armed: AtomicBool,
    /// Told when a load starts waiting.
    waiting: Mutex<Sender<()>>,
    /// Lets the waiting load go.
    release: Mutex<Receiver<()>>,
}

/// The installed handle; the test keeps another.
struct Shared(Arc<HangingStore>);

impl Store for Shared {
    fn describe(&self) -> String {
        "hanging".into()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        let store = &self.0;
        if store.armed.swap(false, Ordering::SeqCst) {
            store.waiting.lock().unwrap().send(()).unwrap();
            store.release.lock().unwrap().recv().unwrap();
        }
        store.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        self.0.inner.update(edit)
    }
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.inner.audit(query)
    }
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        self.0.inner.watch(on_change)
    }
}

/// Runs `f` on a thread of its own and returns what it returned, or fails the test if it has not
/// finished within 20 seconds (it would never finish if it waited for the hung load).
fn completes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || done.send(f()).unwrap());
    finished
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} waited for the hung load"))
}

#[test]
fn a_guard_trip_and_a_test_override_complete_while_a_load_hangs() {
    let (waiting, started) = mpsc::channel();
    let (release, released) = mpsc::channel();
    let store = Arc::new(HangingStore {
        inner: MemoryStore::new(),
        armed: AtomicBool::new(false),
        waiting: Mutex::new(waiting),
        release: Mutex::new(released),
    });
    // The guard is checked by the test, not by the background thread.
    let toggles = Arc::new(
        Installer::new(Shared(Arc::clone(&store)))
            .without_guard_thread()
            .install()
            .unwrap(),
    );
    let guard = Guard::error_rate(10.0).window_secs(60).min_requests(10);
    let rule = FlagRule::new().everyone(true).guard(guard);
    toggles::write(
        Change::flag("hung.rollout", rule)
            .by("ana")
            .because("start"),
    )
    .unwrap();
    assert!(ROLLOUT.is_enabled(&Context::new()));

    store.armed.store(true, Ordering::SeqCst);
    let reloading = Arc::clone(&toggles);
    let reload = std::thread::spawn(move || reloading.reload());
    started.recv().unwrap();

    // The load is hung. The rollout goes bad; its guard trips and turns it off.
    for _ in 0..10 {
        ROLLOUT.record(true, false);
    }
    let checking = Arc::clone(&toggles);
    let tripped = completes("the guard trip", move || checking.check_guards());
    assert_eq!(tripped, ["hung.rollout"]);
    assert!(!ROLLOUT.is_enabled(&Context::new()), "off at once");
    // A test override comes and goes.
    completes("the test override", || {
        let _on = toggles::testing::set(&OVERRIDDEN, true);
        assert!(OVERRIDDEN.is_enabled(&Context::new()));
    });
    assert!(!OVERRIDDEN.is_enabled(&Context::new()));

    // Let the load go: it read before the trip was published, so it reads again rather than
    // put an older state back in force.
    release.send(()).unwrap();
    reload.join().unwrap().unwrap();
    assert!(!ROLLOUT.is_enabled(&Context::new()), "still off");
    let audit = store
        .inner
        .audit(&AuditQuery::toggle("hung.rollout"))
        .unwrap();
    assert_eq!(
        audit[0].actor,
        toggles::rules::GUARD_ACTOR,
        "the trip is audited"
    );
}
