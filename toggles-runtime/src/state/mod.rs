//! Layer 5, state: the one owner of process-wide state. It holds the installed store, the
//! compiled states in force and recently in force, the status, the test overrides, the write
//! policy, and the lock that orders changes to them; it installs, reloads and writes (as a
//! principal, under the policy, for every way in); and it gives the toggle types their read API,
//! which answers from what it publishes.
//!
//! # Publishing, and what a check reads
//!
//! A check must cost about one atomic load, so no check reads the store, takes a lock, or
//! writes to memory another thread reads. Instead every toggle static caches its answer, as
//! tracing-core's callsites cache their interest:
//!
//! - a `Switch` holds `OFF`, `ON` or `SLOW` in an `AtomicU8`;
//! - a `Flag` holds, in one `AtomicU64`, the *generation* of the compiled state its answer was
//!   computed from (high bits) and `OFF`, `ON`, `EVAL` ("the context decides") or `SLOW` (low
//!   two bits);
//! - a `Setting<T>` holds its value as one 64-bit word and a state byte: `STORED`, the default,
//!   or `SLOW`.
//!
//! When the store's contents change, a reload reads and compiles them (the `compile` layer)
//! and `publish` gives the result the next generation number, *retains* it, makes the number the
//! *published* one, and walks the registry storing each toggle's new cached state. Publishing
//! happens under the state lock, so publishes never interleave, and a test override coming or
//! going (which forces a toggle to `SLOW` and back) takes the same lock.
//!
//! # No store I/O under the state lock
//!
//! A guard trip (the circuit breaker) and a test override need the state lock, and a store that
//! is sick (a database connect timing out) must not hold them up. So the store is read and its
//! contents compiled with no lock held, noting the generation published when the read began;
//! the result is published under the lock only if that generation is still the published one.
//! Otherwise another state was published meanwhile — from a read that may have started later,
//! or a guard's trip — and the store is read again (after a few tries, under the lock, so a
//! reload always ends). A write publishes the state its own transaction left in the store,
//! compiled inside it, on the same condition, without reading the store back.
//!
//! # One request, one state, at the price of one load
//!
//! A [`Context`](crate::Context) pins the published generation when it is built: one load of
//! a word only a publish writes. A flag check loads the flag's state word and compares its
//! generation with the context's: equal, and the state is `ON` or `OFF`, the answer is right
//! there. Anything else — the rule needs the context, a publish is half-way through its walk,
//! the store changed since the request began, an override is in scope — takes the cold path,
//! which evaluates the flag's rule in the compiled state *of the context's generation*. So a
//! check never sees a state no compiled state held, and one context never sees two.
//!
//! The cold path finds that compiled state without touching a reference count that other
//! threads touch: each thread keeps the few compiled states it used last in a thread-local
//! cache and borrows from it in place. On a miss (once per thread per publish) it takes the
//! newest `RETAINED` compiled states' lock and copies an `Arc` into its cache.
//!
//! **Limits.** Only the last `RETAINED` (64) compiled states stay reachable from a generation
//! number, besides what each thread's cache holds. A context whose generation has dropped out
//! of both — more than 64 publishes happened while it lived, before its first contextual
//! check on this thread — answers from the oldest state still retained, and a warning is
//! logged. Each thread's cache keeps up to four compiled states alive until that thread next
//! misses, so an idle thread may hold an old state's memory.
//!
//! Relaxed ordering suffices for the state words: a word is only ever compared with the
//! generation it carries, and the compiled state it was computed from is retained before the
//! generation is published (release) and found by the generation a context loaded (acquire).
//!
//! # Locks
//!
//! One order, never the reverse: the state lock (`lock()`), then the installed store's
//! `RwLock`, then the status `Mutex`, then the guards' `Mutex`, then the retained states'
//! `Mutex`, then the overrides' `Mutex`. Checks take none of them, except a thread's first cold
//! path after a publish (the retained states') and a toggle that a test overrides (the
//! overrides'). No store is called while the state lock is held, except by the last try of a
//! reload that lost the race eight times (see above).

mod changes;
mod check;
mod exposure;
mod external;
mod feedback;
mod guard;
mod install;
mod installation;
mod overrides;
mod permission;
mod publish;
mod retained;
mod rollout;
mod usage;
mod write;

/// [`usage::sweep`], counted.
pub(crate) fn sweep_usage() -> usize {
    usage::sweep().len()
}

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use self::changes::on_state_change;
pub use self::exposure::{
    Exposure, ExposureCounts, Subscriber, TracingSubscriber, EXPOSURE_BUFFER, EXPOSURE_TICK,
    EXPOSURE_WINDOW, UNIT_ROOM,
};
pub use self::feedback::{feedback, feedback_of, FeedbackError, FEEDBACK_TEXT_MAX};
pub use self::guard::{GUARD_ACTOR, GUARD_TICK};
pub(crate) use self::install::current;
pub use self::install::{audit, installed_store, snapshot_in_force, status, Status};
pub use self::installation::{install, InstallError, Installation, Installer, HEARTBEAT};
#[cfg(feature = "tokio")]
pub(crate) use self::overrides::in_task_scope;
pub(crate) use self::overrides::Override;
pub use self::permission::{
    may_change, set_policy, OwnersAndAdmins, Policy, Principal, Refusal, Target,
};
pub(crate) use self::publish::{end_override, start_override};
pub use self::rollout::ROLLOUT_ACTOR;
pub use self::write::{write, Actor, WriteRequest};

static STATE: Mutex<()> = Mutex::new(());

/// The state lock: held while compiled states are published and cached states written.
fn lock() -> MutexGuard<'static, ()> {
    // A panic while holding it leaves nothing half-written that the next holder cannot redo.
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}
