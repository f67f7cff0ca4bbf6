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
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// The system allocator, counting every allocation (reallocations included).
///
/// Each thread counts its own, in a thread-local cell: one increment per allocation, paid only
/// when a program allocates (the thing being counted), and no cache line shared between threads,
/// so counting adds no contention to the two-thread rows.
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: an allocation while the thread is being torn down goes uncounted, not wrong.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// This thread's allocations so far.
fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
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
    /// [`OnOffFresh`](Row::OnOffFresh) on two threads at once, as two requests would run.
    OnOffFreshTwoThreads,
    /// [`RolloutFresh`](Row::RolloutFresh) on two threads at once.
    RolloutFreshTwoThreads,
    /// A multivariate flag: a three-arm experiment (`classic`, `one_page`, `express`, a third
    /// each, everyone in it), a fresh context per check; the evaluation answers whether the
    /// user got `one_page`.
    ArmsFresh,
    /// [`ArmsFresh`](Row::ArmsFresh) on two threads at once.
    ArmsFreshTwoThreads,
}

impl Row {
    /// Every row, in the table's order.
    pub const ALL: [Row; 6] = [
        Row::OnOffFresh,
        Row::OnOffReused,
        Row::RolloutFresh,
        Row::RolloutReused,
        Row::OnOffFreshTwoThreads,
        Row::RolloutFreshTwoThreads,
    ];

    /// The multivariate rows, measured by each program on its own after [`ALL`](Row::ALL).
    pub const ARMS: [Row; 2] = [Row::ArmsFresh, Row::ArmsFreshTwoThreads];

    /// The row's label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Row::OnOffFresh => "on/off flag, fresh context",
            Row::OnOffReused => "on/off flag, reused context",
            Row::RolloutFresh => "50% rollout, fresh context",
            Row::RolloutReused => "50% rollout, reused context",
            Row::OnOffFreshTwoThreads => "on/off flag, fresh context, 2 threads",
            Row::RolloutFreshTwoThreads => "50% rollout, fresh context, 2 threads",
            Row::ArmsFresh => "3-arm experiment, fresh context",
            Row::ArmsFreshTwoThreads => "3-arm experiment, fresh context, 2 threads",
        }
    }

    /// Whether the row evaluates the three-arm experiment.
    pub fn is_arms(self) -> bool {
        matches!(self, Row::ArmsFresh | Row::ArmsFreshTwoThreads)
    }

    /// Whether the row evaluates the rollout (else the on/off flag).
    pub fn is_rollout(self) -> bool {
        matches!(
            self,
            Row::RolloutFresh | Row::RolloutReused | Row::RolloutFreshTwoThreads
        )
    }

    /// The key every program gives the row's flag.
    pub fn flag_key(self) -> &'static str {
        if self.is_arms() {
            "bench.experiment"
        } else if self.is_rollout() {
            "bench.rollout"
        } else {
            "bench.onoff"
        }
    }

    /// Whether the row builds a context per check.
    pub fn is_fresh(self) -> bool {
        !matches!(self, Row::OnOffReused | Row::RolloutReused)
    }

    /// How many threads evaluate at once.
    pub fn threads(self) -> usize {
        match self {
            Row::OnOffFreshTwoThreads | Row::RolloutFreshTwoThreads | Row::ArmsFreshTwoThreads => 2,
            _ => 1,
        }
    }
}

/// Evaluations per timed round: 256 full passes over the users.
const PER_ROUND: usize = USERS * 256;
/// Timed rounds; the median is reported.
const ROUNDS: usize = 9;

/// Runs `evaluate(user_index)` in the shared loop and prints the row's line.
///
/// One untimed warm-up round, then [`ROUNDS`] timed rounds in which each of the row's threads
/// runs [`PER_ROUND`] evaluations, all starting together; the median round's time per
/// evaluation as the threads saw it on average (so a library that contends across threads shows
/// it) is reported, and all timed rounds together give allocations per evaluation. Panics (a
/// wrong row is worse than none) when the on/off flag is not on for every user, the rollout is
/// not on for 40–60% of them, or the experiment's `one_page` arm does not get 25–42%: a peer
/// answering its default would otherwise look fast.
pub fn measure(library: &str, path: &str, row: Row, evaluate: impl Fn(usize) -> bool + Sync) {
    let mut on = 0usize;
    for i in 0..PER_ROUND {
        on += usize::from(evaluate(black_box(i % USERS)));
    }
    let share_on = on as f64 / PER_ROUND as f64;
    if row.is_arms() {
        assert!(
            (0.25..=0.42).contains(&share_on),
            "{library} {path}: the experiment's one_page arm got {:.1}% of users, not about a third",
            share_on * 100.0
        );
    } else if row.is_rollout() {
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

    let threads = row.threads();
    let mut rounds = [0f64; ROUNDS];
    let mut allocated = 0u64;
    for round in &mut rounds {
        let start = Barrier::new(threads);
        // Each thread times and counts its own evaluations: a clock read by a coordinating
        // thread would wait for a core the evaluating threads hold.
        let (nanos, allocs) = std::thread::scope(|s| {
            let running: Vec<_> = (0..threads)
                .map(|t| {
                    let (start, evaluate) = (&start, &evaluate);
                    s.spawn(move || {
                        start.wait();
                        let (started, before) = (Instant::now(), allocations());
                        // Each thread from its own place in the users, as separate requests.
                        for i in 0..PER_ROUND {
                            black_box(evaluate(black_box((i + t * USERS / 2) % USERS)));
                        }
                        (started.elapsed().as_nanos(), allocations() - before)
                    })
                })
                .collect();
            running
                .into_iter()
                .map(|t| t.join().expect("an evaluating thread"))
                .fold((0u128, 0u64), |(n, a), (tn, ta)| (n + tn, a + ta))
        });
        *round = nanos as f64 / (threads * PER_ROUND) as f64;
        allocated += allocs;
    }
    rounds.sort_by(f64::total_cmp);
    println!(
        "{library}\t{path}\t{}\t{:.2}\t{:.2}\t{:.3}",
        row.label(),
        rounds[ROUNDS / 2],
        allocated as f64 / (ROUNDS * PER_ROUND * threads) as f64,
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
