//! The one loop every comparison program runs, so that a difference between two rows is the
//! libraries' and not the harness's.
//!
//! Each program installs [`Counting`] as its global allocator, sets up its library (outside the
//! measurement), and calls [`measure`] once per row with a closure that does one evaluation for
//! the user it is given. `measure` prints one tab-separated line that `../run` turns into the table:
//!
//! ```text
//! library  path  row  ns-per-evaluation  allocations-per-evaluation  share-on
//! ```
//!
//! The rows are fixed here ([`Row`]); the users are `user-0` … `user-1023`, visited in order, so
//! a 50% rollout sees the same 1,024 units in every program.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The system allocator, counting every allocation (reallocations included).
///
/// One relaxed increment per allocation: a cost each program pays only when it allocates, which
/// is the thing being counted.
pub struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// How many users the loop cycles through.
pub const USERS: usize = 1024;

/// The user ids every program evaluates for, in the order the loop visits them.
pub fn users() -> Vec<String> {
    (0..USERS).map(|i| format!("user-{i}")).collect()
}

/// What is evaluated, and whether the request builds its context for this one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// A flag on for everyone; the library's context is built from the user id for each check
    /// (one request, one check).
    OnOffFresh,
    /// The same flag, with a context built once per user before the loop.
    OnOffReused,
    /// A 50% rollout by user id, a fresh context per check.
    RolloutFresh,
    /// The same rollout, contexts built before the loop.
    RolloutReused,
}

impl Row {
    /// Every row, in the table's order.
    pub const ALL: [Row; 4] = [
        Row::OnOffFresh,
        Row::OnOffReused,
        Row::RolloutFresh,
        Row::RolloutReused,
    ];

    /// The row's label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Row::OnOffFresh => "on/off flag, fresh context",
            Row::OnOffReused => "on/off flag, reused context",
            Row::RolloutFresh => "50% rollout, fresh context",
            Row::RolloutReused => "50% rollout, reused context",
        }
    }

    /// Whether the row evaluates the rollout (else the on/off flag).
    pub fn is_rollout(self) -> bool {
        matches!(self, Row::RolloutFresh | Row::RolloutReused)
    }

    /// The key every program gives the row's flag.
    pub fn flag_key(self) -> &'static str {
        if self.is_rollout() {
            "bench.rollout"
        } else {
            "bench.onoff"
        }
    }

    /// Whether the row builds a context per check.
    pub fn is_fresh(self) -> bool {
        matches!(self, Row::OnOffFresh | Row::RolloutFresh)
    }
}

/// Evaluations per timed round: 256 full passes over the users.
const PER_ROUND: usize = USERS * 256;
/// Timed rounds; the median is reported.
const ROUNDS: usize = 9;

/// Runs `evaluate(user_index)` in the shared loop and prints the row's line.
///
/// One untimed warm-up round, then [`ROUNDS`] timed rounds of [`PER_ROUND`] evaluations; the
/// median round gives ns per evaluation, all timed rounds together give allocations per
/// evaluation. Panics (a wrong row is worse than none) when the on/off flag is not on for every
/// user or the rollout is not on for 40–60% of them: a peer answering its default would
/// otherwise look fast.
pub fn measure(library: &str, path: &str, row: Row, mut evaluate: impl FnMut(usize) -> bool) {
    let mut on = 0usize;
    for i in 0..PER_ROUND {
        on += usize::from(evaluate(black_box(i % USERS)));
    }
    let share_on = on as f64 / PER_ROUND as f64;
    if row.is_rollout() {
        assert!(
            (0.4..=0.6).contains(&share_on),
            "{library} {path}: the 50% rollout was on for {:.1}% of users",
            share_on * 100.0
        );
    } else {
        assert!(
            on == PER_ROUND,
            "{library} {path}: the on/off flag was off for {} of {PER_ROUND} checks",
            PER_ROUND - on
        );
    }

    let mut rounds = [0f64; ROUNDS];
    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    for round in &mut rounds {
        let start = Instant::now();
        for i in 0..PER_ROUND {
            black_box(evaluate(black_box(i % USERS)));
        }
        *round = start.elapsed().as_nanos() as f64 / PER_ROUND as f64;
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
    rounds.sort_by(f64::total_cmp);
    println!(
        "{library}\t{path}\t{}\t{:.2}\t{:.2}\t{:.3}",
        row.label(),
        rounds[ROUNDS / 2],
        allocations as f64 / (ROUNDS * PER_ROUND) as f64,
        share_on,
    );
}

/// The output of `future`, which must be ready without waiting (an OpenFeature evaluation
/// against an in-process provider always is: its locks are uncontended here).
///
/// Polls once with a waker that does nothing, where an executor such as `pollster` would
/// allocate and signal: a cost that belongs to no library, so the OpenFeature rows leave it out.
/// Panics if the future is pending.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("an in-process evaluation had to wait"),
    }
}
