//! The compiled state in force, and the entries of the states a pinned generation number can
//! still reach: for every thread, and a few per thread in a thread-local cache that checks
//! borrow from in place.
//!
//! A context answers from the state it pinned for as long as that state's entries are retained,
//! and a check answered from a flag's cached state leaves no trace of which state it used: a
//! state let go too soon would let a long request's later checks answer from another one. So a
//! state's entries are kept while it is among the newest `RETAINED` or was superseded less than
//! `RETAIN_FOR` ago — a burst of writes does not cut short the requests running through it — and
//! at most `RETAINED_MAX` are kept, which bounds what a write storm can hold. Only the state in
//! force keeps its snapshot; the others keep their entries, whose flag rules are shared between
//! states where they did not change.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::compile::{Compiled, Entries};

/// How many of the newest compiled states are kept however old.
const RETAINED: usize = 64;
/// How long a superseded state stays reachable, within `RETAINED_MAX`.
const RETAIN_FOR: Duration = Duration::from_secs(60);
/// The most compiled states kept at once.
const RETAINED_MAX: usize = 1024;
/// How many compiled states a thread keeps at hand.
const LOCAL: usize = 4;

/// One retained state: its generation, its entries, and when it was published (which is when
/// the state before it was superseded).
type Pinned = (u64, Arc<Entries>, Instant);

struct Retained {
    newest: Option<Arc<Compiled>>,
    /// Oldest first; the last is the newest's.
    recent: VecDeque<Pinned>,
}

static RETAINED_STATES: Mutex<Retained> = Mutex::new(Retained {
    newest: None,
    recent: VecDeque::new(),
});

/// A thread's states at hand, by generation.
type Local = RefCell<[Option<(u64, Arc<Entries>)>; LOCAL]>;

thread_local! {
    static CACHE: Local = const { RefCell::new([None, None, None, None]) };
}

fn states() -> std::sync::MutexGuard<'static, Retained> {
    RETAINED_STATES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Makes `compiled` the newest state and keeps its entries reachable by its generation; the
/// caller holds the state lock and publishes generations in increasing order.
pub(super) fn retain(compiled: Arc<Compiled>) {
    let now = Instant::now();
    let mut retained = states();
    let pinned = (compiled.generation, Arc::clone(compiled.entries()), now);
    retained.recent.push_back(pinned);
    retained.newest = Some(compiled);
    let recent = &mut retained.recent;
    while recent.len() > RETAINED {
        let superseded = recent[1].2;
        if recent.len() <= RETAINED_MAX && now.duration_since(superseded) < RETAIN_FOR {
            break;
        }
        recent.pop_front();
    }
}

/// The newest compiled state: the one in force.
pub(super) fn newest() -> Option<Arc<Compiled>> {
    states().newest.clone()
}

/// The entries of `generation`, or, if they are no longer retained, the oldest that are.
fn find(generation: u64) -> Option<Arc<Entries>> {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let retained = states();
    let recent = &retained.recent;
    if let Some((_, found, _)) = recent.iter().find(|(g, _, _)| *g == generation) {
        return Some(Arc::clone(found));
    }
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            generation,
            "toggles: a context outlived the compiled states retained for it (the newest 64, and those superseded in the last minute up to 1,024); it answers from the oldest retained one (logged once)"
        );
    }
    recent.front().map(|(_, found, _)| Arc::clone(found))
}

/// Calls `f` with the entries of `generation` (`None` for generation 0, the compiled
/// defaults), borrowed from this thread's cache when they are there.
#[inline]
pub(super) fn with<R>(generation: u64, f: impl FnOnce(Option<&Entries>) -> R) -> R {
    if generation == 0 {
        return f(None);
    }
    CACHE.with(|cache| {
        // A shared borrow: a flag's rule may require another flag, whose check borrows again.
        if let Ok(slots) = cache.try_borrow() {
            if let Some((_, hit)) = slots.iter().flatten().find(|(g, _)| *g == generation) {
                return f(Some(hit));
            }
        }
        miss(cache, generation, f)
    })
}

#[cold]
#[inline(never)]
fn miss<R>(cache: &Local, generation: u64, f: impl FnOnce(Option<&Entries>) -> R) -> R {
    let found = find(generation);
    // Cached under the generation asked for, which a fallback answers for from now on too.
    // Inside another check's borrow the cache cannot be written; the entries are used uncached.
    if let (Some(entries), Ok(mut slots)) = (&found, cache.try_borrow_mut()) {
        let oldest = slots
            .iter_mut()
            .min_by_key(|slot| slot.as_ref().map_or(0, |(g, _)| *g))
            .expect("the cache has slots");
        *oldest = Some((generation, Arc::clone(entries)));
    }
    f(found.as_deref())
}
