//! Installing a store: the builder, the handle that owns what the installation started, and
//! the typed error that says how far it got.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::declare::{registry, Kind};
use crate::state::exposure::{self, Subscriber, EXPOSURE_TICK, EXPOSURE_WINDOW};
use crate::state::guard::{self, GUARD_TICK};
use crate::state::install::{
    install_store, installed, last_load_failed, reload_installed, uninstall,
};
use crate::stores::{Declarations, Service, Store, StoreError};
use crate::targeting::Timestamp;

/// How often an installation tells its store this instance is alive, unless told otherwise
/// ([`Installer::heartbeat`]).
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// How a store is installed: which service this process is, and what runs in the background.
///
/// ```
/// use std::time::Duration;
/// use toggles::{Installer, Service};
/// use toggles::store::MemoryStore;
///
/// let toggles = Installer::new(MemoryStore::new())
///     .service(Service::new("grading", "1.4.2"))
///     .heartbeat(Duration::from_secs(10))
///     .install()?;
/// // ... the service runs; dropping `toggles` (or `toggles.shutdown()`) stops what it started.
/// # Ok::<(), toggles::InstallError>(())
/// ```
#[must_use = "an installer does nothing until `install` is called"]
pub struct Installer {
    store: Arc<dyn Store>,
    service: Option<Service>,
    heartbeat: Option<Duration>,
    guard_tick: Option<Duration>,
    subscribers: Vec<Arc<dyn Subscriber>>,
    exposure_tick: Option<Duration>,
    exposure_window: Duration,
}

impl Installer {
    /// An installer of `store`, as this program ([`Service::of_program`]), with a heartbeat
    /// every [`HEARTBEAT`] and guards checked every [`GUARD_TICK`].
    pub fn new(store: impl Store) -> Installer {
        Installer {
            store: Arc::new(store),
            service: None,
            heartbeat: Some(HEARTBEAT),
            guard_tick: Some(GUARD_TICK),
            subscribers: Vec::new(),
            exposure_tick: Some(EXPOSURE_TICK),
            exposure_window: EXPOSURE_WINDOW,
        }
    }

    /// Publishes this program's declarations to the store as `service`: a shared store is the
    /// fleet's meeting point, and a fleet report reads who declares what from it.
    pub fn service(mut self, service: Service) -> Installer {
        self.service = Some(service);
        self
    }

    /// Tells the store this instance is alive every `interval` (and retries a failed load or
    /// publish then). A fleet report counts an instance as running for three heartbeats by
    /// default ([`LIVE_WITHIN`](crate::fleet::LIVE_WITHIN)): keep the two in step.
    pub fn heartbeat(mut self, interval: Duration) -> Installer {
        self.heartbeat = Some(interval);
        self
    }

    /// No heartbeat thread: the declarations are published once, at install, and the instance
    /// goes quiet in the fleet's eyes after [`LIVE_WITHIN`](crate::fleet::LIVE_WITHIN).
    pub fn without_heartbeat(mut self) -> Installer {
        self.heartbeat = None;
        self
    }

    /// Checks the guards of guarded flags, and advances the staged rollouts that are due, every
    /// `interval` (see [`Guard`](crate::rules::Guard), [`Plan`](crate::rules::Plan)).
    pub fn guard_tick(mut self, interval: Duration) -> Installer {
        self.guard_tick = Some(interval);
        self
    }

    /// No guard thread: guards are checked, and staged rollouts advanced, only when
    /// [`Installation::check_guards`] is called (a test deciding when, say).
    pub fn without_guard_thread(mut self) -> Installer {
        self.guard_tick = None;
        self
    }

    /// Hands every exposure of a tracked experiment (each unit a
    /// [`VariantRule`](crate::rules::VariantRule) with `track` draws) to `subscriber`: a host's
    /// analytics, [`TracingSubscriber`](crate::experiment::TracingSubscriber), a closure taking
    /// `&[Exposure]`. Exposures reach it in batches, every exposure tick, on the installation's
    /// own thread, off every check's path: a check that draws a unit appends the exposure to
    /// its thread's bounded buffer ([`EXPOSURE_BUFFER`](crate::experiment::EXPOSURE_BUFFER)) and
    /// goes on; when the buffer is full the exposure is dropped and counted in
    /// [`Status::exposures`](crate::Status::exposures). Add as many as needed.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use toggles::experiment::Exposure;
    /// use toggles::rules::VariantRule;
    /// use toggles::store::MemoryStore;
    /// use toggles::{toggle, Change, Context, Installer, Variant, Variants};
    ///
    /// #[derive(Clone, Copy, PartialEq, Debug, Variants)]
    /// enum Checkout { Classic, OnePage }
    ///
    /// /// Try the one-page checkout against the classic one.
    /// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
    /// static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
    ///
    /// let seen: Arc<Mutex<Vec<Exposure>>> = Arc::default();
    /// let sink = Arc::clone(&seen);
    /// let toggles = Installer::new(MemoryStore::new())
    ///     .subscribe(move |batch: &[Exposure]| sink.lock().unwrap().extend_from_slice(batch))
    ///     .install()?;
    /// let rule = VariantRule::new().coverage(100.0).weight("one_page", 1).track(true);
    /// toggles::write(Change::variant("checkout.checkout_flow", rule).by("ana").because("test"))?;
    ///
    /// assert_eq!(CHECKOUT_FLOW.get(&Context::new().with_user("42")), Checkout::OnePage);
    /// toggles.drain_exposures();
    /// let seen = seen.lock().unwrap();
    /// assert_eq!((seen[0].toggle, seen[0].arm, seen[0].unit.as_str()), ("checkout.checkout_flow", "one_page", "42"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(mut self, subscriber: impl Subscriber) -> Installer {
        self.subscribers.push(Arc::new(subscriber));
        self
    }

    /// Hands exposures to the subscribers every `interval` ([`EXPOSURE_TICK`] by default). The
    /// time an exposure carries is the drain's, so this is also its resolution.
    pub fn exposure_tick(mut self, interval: Duration) -> Installer {
        self.exposure_tick = Some(interval);
        self
    }

    /// No exposure thread: exposures wait in the buffer until
    /// [`Installation::drain_exposures`] is called (a test deciding when, say).
    pub fn without_exposure_thread(mut self) -> Installer {
        self.exposure_tick = None;
        self
    }

    /// Hands over a unit's exposure to one arm of one toggle once per `window`
    /// ([`EXPOSURE_WINDOW`] by default, an hour), as analytics count it: windows are aligned
    /// to the clock (each hour on the hour), and the same unit checked again in the same one is
    /// not an exposure again. A zero window makes every drawn check an exposure.
    pub fn exposure_window(mut self, window: Duration) -> Installer {
        self.exposure_window = window;
        self
    }

    /// Installs the store: reads it, checks it against the registry, puts it in force, and
    /// follows its changes; publishes this program's declarations to it; starts the heartbeat
    /// and guard threads. It replaces any store installed before (whose installation then stops
    /// its threads and speaks for nothing).
    ///
    /// If the first read fails — the store is unreachable — the store is installed and followed
    /// all the same, so its contents take effect once it answers, and
    /// [`InstallError::FirstLoad`] hands back the installation with the error. Any other error
    /// means nothing was installed.
    pub fn install(self) -> Result<Installation, InstallError> {
        let service = self.service.unwrap_or_else(Service::of_program);
        let (epoch, first) =
            install_store(&self.store, &service.instance).map_err(InstallError::NotInstalled)?;
        let stop = Arc::new(Stop::default());
        let mut installation = Installation {
            store: Arc::clone(&self.store),
            epoch,
            stop: Arc::clone(&stop),
            threads: Vec::new(),
            drains: false,
        };
        let declarations = Arc::new(Declarations::of(registry(), service));
        let published = publish(&*self.store, &declarations);
        if let Some(interval) = self.heartbeat {
            let mut beat = Beat {
                store: Arc::clone(&self.store),
                declarations,
                published,
            };
            let stop = Arc::clone(&stop);
            let thread = spawn("toggles-heartbeat", move || {
                while stop.wait(interval) && is_installed(epoch) {
                    beat.beat();
                }
            });
            installation.add(thread)?;
        }
        if let Some(tick) = self.guard_tick {
            let stop = Arc::clone(&stop);
            let thread = spawn("toggles-guard", move || {
                while stop.wait(tick) && is_installed(epoch) {
                    guard::check_guards();
                }
            });
            installation.add(thread)?;
        }
        // Only a program that declares a variant toggle has exposures to drain.
        if registry().iter().any(|t| t.kind() == Kind::Variant) {
            exposure::start(self.subscribers, self.exposure_window);
            installation.drains = true;
            if let Some(tick) = self.exposure_tick {
                let thread = spawn("toggles-exposures", move || {
                    while stop.wait(tick) && is_installed(epoch) {
                        exposure::drain();
                    }
                });
                installation.add(thread)?;
            }
        }
        match first {
            None => Ok(installation),
            Some(source) => Err(InstallError::FirstLoad {
                installation,
                source,
            }),
        }
    }
}

impl fmt::Debug for Installer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installer")
            .field("store", &self.store.describe())
            .field("service", &self.service)
            .field("heartbeat", &self.heartbeat)
            .field("guard_tick", &self.guard_tick)
            .field("subscribers", &self.subscribers.len())
            .field("exposure_tick", &self.exposure_tick)
            .field("exposure_window", &self.exposure_window)
            .finish()
    }
}

/// Installs `store` as this program with the default intervals: [`Installer::new`]`(store)`
/// [`.install()`](Installer::install).
///
/// ```
/// use toggles::{toggle, Change, Switch};
/// use toggles::store::MemoryStore;
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let toggles = toggles::install(MemoryStore::new())?;
/// toggles::write(Change::switch("catalog.recommendations", false).by("ops").because("spike"))?;
/// assert!(!RECOMMENDATIONS.is_enabled());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install(store: impl Store) -> Result<Installation, InstallError> {
    Installer::new(store).install()
}

/// An installed store, and the threads its installation started. Dropping it (or
/// [`shutdown`](Installation::shutdown)) stops following the store: the threads end, writes are
/// refused, and the state in force stays as it was, so checks go on answering.
///
/// # Threads
///
/// - `toggles-heartbeat` (unless [`Installer::without_heartbeat`]): every heartbeat, marks this
///   instance as seen in the store, publishes its declarations again if the store forgot them
///   or the first publish failed, and retries a failed load.
/// - `toggles-guard` (unless [`Installer::without_guard_thread`]): checks the guards, and
///   advances the staged rollouts that are due, every tick.
/// - `toggles-exposures` (when the program declares a variant toggle, unless
///   [`Installer::without_exposure_thread`]): hands the exposures of tracked experiments to the
///   subscribers every exposure tick.
/// - the store's own, which it starts when the installation watches it and which end once the
///   store is dropped: the file store's `toggles-file-watch` (file-system events and the poll),
///   the PostgreSQL store's `toggles-postgres-listen` (`LISTEN`, reconnecting). An installation
///   holds the store until it is shut down; a program that keeps another handle on the store
///   keeps those threads.
#[must_use = "dropping the installation stops following the store at once"]
pub struct Installation {
    store: Arc<dyn Store>,
    epoch: u64,
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<()>>,
    /// Whether this installation drains exposures.
    drains: bool,
}

impl Installation {
    fn add(&mut self, thread: Result<JoinHandle<()>, std::io::Error>) -> Result<(), InstallError> {
        match thread {
            Ok(thread) => {
                self.threads.push(thread);
                Ok(())
            }
            Err(e) => Err(InstallError::NotInstalled(StoreError::backend_caused(
                "cannot start a thread",
                e,
            ))),
        }
    }

    /// The installed store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether this installation's store is still the one the program follows (another
    /// installation replaces it).
    pub fn is_installed(&self) -> bool {
        is_installed(self.epoch)
    }

    /// Reads the store again and puts its contents in force now. The store's own notifications
    /// do this by themselves; this forces it (after fixing a file by hand, say). See
    /// [`Status`](crate::Status) for what a bad store or a bad entry does.
    pub fn reload(&self) -> Result<(), StoreError> {
        if self.is_installed() {
            reload_installed()
        } else {
            Ok(())
        }
    }

    /// Checks every guard now, as the guard thread does each tick (see
    /// [`Guard`](crate::rules::Guard)), then advances each staged rollout that is due and whose
    /// guard held (see [`Plan`](crate::rules::Plan)); returns the full names of the flags it
    /// tripped.
    pub fn check_guards(&self) -> Vec<String> {
        if self.is_installed() {
            guard::check_guards()
        } else {
            Vec::new()
        }
    }

    /// [`check_guards`](Self::check_guards) as if it were `at`: the outcomes recorded since the
    /// last check are taken as of `at`, and each guard's window ends there. For tests on a
    /// clock they control (a guard's window, a quiet night): checks at increasing times replay
    /// hours of traffic in milliseconds.
    ///
    /// ```
    /// use toggles::rules::{FlagRule, Guard, Timestamp};
    /// use toggles::store::MemoryStore;
    /// use toggles::{toggle, Change, Flag, Installer};
    ///
    /// /// Grade problems with the rewritten engine.
    /// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_GRADER: Flag;
    ///
    /// let toggles = Installer::new(MemoryStore::new()).without_guard_thread().install().unwrap();
    /// let guard = Guard::error_rate(10.0).window_secs(60).min_requests(10);
    /// let rule = FlagRule::new().percent(50.0).guard(guard);
    /// toggles::write(Change::flag("grading.new_grader", rule).by("ana").because("try")).unwrap();
    ///
    /// let start = Timestamp::now().unix_seconds();
    /// for _ in 0..9 {
    ///     NEW_GRADER.record(true, false);
    /// }
    /// let at = |secs| Timestamp::from_unix_seconds(start + secs);
    /// assert!(toggles.check_guards_at(at(1)).is_empty(), "9 outcomes: below the minimum");
    /// // Two minutes on, the failures have left the 60 s window: ten successes do not trip it
    /// // (within the window, 9 of 19 would).
    /// for _ in 0..10 {
    ///     NEW_GRADER.record(true, true);
    /// }
    /// assert!(toggles.check_guards_at(at(121)).is_empty());
    /// ```
    pub fn check_guards_at(&self, at: Timestamp) -> Vec<String> {
        if self.is_installed() {
            guard::check_guards_at(at)
        } else {
            Vec::new()
        }
    }

    /// Hands the exposures waiting in the buffer to the subscribers now, as the exposure thread
    /// does every tick; returns how many were delivered.
    pub fn drain_exposures(&self) -> usize {
        if self.is_installed() && self.drains {
            exposure::drain()
        } else {
            0
        }
    }

    /// Stops following the store and waits for the installation's threads to end (each within
    /// a moment: they wait on the stop, not on their interval).
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // What was drawn while this installation was in force reaches its subscribers and its
        // store, which is why this comes before the store is let go.
        if self.drains && self.is_installed() {
            exposure::stop();
        }
        uninstall(self.epoch);
        self.stop.stop();
        for thread in self.threads.drain(..) {
            // A thread that panicked has stopped too; its panic was reported when it happened.
            let _ = thread.join();
        }
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl fmt::Debug for Installation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installation")
            .field("store", &self.store.describe())
            .field("epoch", &self.epoch)
            .field("installed", &self.is_installed())
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

/// Why [`Installer::install`] did not simply succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The store is installed and followed, but its first load failed (it is unreachable, or
    /// unreadable): the compiled defaults stay in force until it loads, which happens by
    /// itself once it answers. Keep the installation, or drop it to give up.
    #[error("the store is installed and followed, but its first load failed: {source}")]
    FirstLoad {
        /// The installation, following the store.
        installation: Installation,
        /// Why the load failed.
        #[source]
        source: StoreError,
    },
    /// Nothing was installed: the store could not be watched, or a thread could not start.
    #[error("nothing was installed: {0}")]
    NotInstalled(#[source] StoreError),
}

impl InstallError {
    /// The installation, if the store was installed.
    pub fn into_installation(self) -> Option<Installation> {
        match self {
            InstallError::FirstLoad { installation, .. } => Some(installation),
            InstallError::NotInstalled(_) => None,
        }
    }
}

fn is_installed(epoch: u64) -> bool {
    installed().is_some_and(|(_, e)| e == epoch)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, std::io::Error> {
    std::thread::Builder::new().name(name.to_owned()).spawn(f)
}

/// What the installation's threads wait on between their ticks, so a shutdown ends them at
/// once rather than after an interval.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    /// Waits `interval`, or until stopped; `true` when the thread goes on.
    fn wait(&self, interval: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, interval, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !*stopped
    }

    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }
}

fn publish(store: &dyn Store, declarations: &Declarations) -> bool {
    match store.publish(declarations, Timestamp::now()) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(store = %store.describe(), error = %e, "toggles: declarations not published; trying again at the next heartbeat");
            false
        }
    }
}

/// What the heartbeat speaks for.
struct Beat {
    store: Arc<dyn Store>,
    declarations: Arc<Declarations>,
    published: bool,
}

impl Beat {
    fn beat(&mut self) {
        let store = &*self.store;
        // A load that failed (the store was down, its first read after coming back failed
        // too) is tried again: a store that says nothing more would leave it failed for good.
        if last_load_failed() {
            let _ = reload_installed();
        }
        if !self.published {
            self.published = publish(store, &self.declarations);
            return;
        }
        let instance = &self.declarations.service.instance;
        match store.seen(instance, Timestamp::now()) {
            Ok(true) => {}
            // Forgotten (unheard past the store's retention): publish again.
            Ok(false) => self.published = publish(store, &self.declarations),
            Err(e) => {
                tracing::warn!(store = %store.describe(), error = %e, "toggles: last-seen time not refreshed");
            }
        }
        let used = super::usage::sweep();
        if let Err(e) = store.record_usage(&self.declarations.service.name, Timestamp::now(), &used)
        {
            // The interval's uses are lost; the next interval's are counted as usual.
            tracing::warn!(store = %store.describe(), error = %e, "toggles: usage not recorded");
        }
    }
}
