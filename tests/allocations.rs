#![allow(unsafe_code)] // A counting global allocator is unsafe by contract (`GlobalAlloc`).
//! A toggle check allocates nothing: counted with a global allocator that counts this thread's
//! allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use toggles::rules::{FlagRule, VariantRule};
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Flag, Setting, Switch, Variant, Variants};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// Safety: every call is forwarded to the system allocator unchanged; counting touches only a
// thread-local `Cell` with a const initializer, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // Safety: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

/// Context-free: on for everyone.
#[toggle(namespace = "bench", life = "temporary", remove_by = "2030-01-01")]
static EVERYONE: Flag;

/// A 50% rollout.
#[toggle(namespace = "bench", life = "temporary", remove_by = "2030-01-01")]
static ROLLOUT: Flag;

/// On for listed users.
#[toggle(namespace = "bench", life = "temporary", remove_by = "2030-01-01")]
static USERS: Flag;

/// On for a course, off for an org, behind a constraint.
#[toggle(namespace = "bench", life = "temporary", remove_by = "2030-01-01")]
static GROUPS: Flag;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

/// The checkout flows of an experiment.
#[derive(Clone, Copy, PartialEq, Variants)]
enum Checkout {
    /// The control.
    Classic,
    /// Everything on one page.
    OnePage,
    /// Pay with a saved card.
    Express,
}

/// An experiment on half the users, with pins, tracked.
#[toggle(namespace = "bench", life = "temporary", remove_by = "2030-01-01")]
static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

#[test]
fn evaluations_allocate_nothing() {
    let installation = toggles::install(MemoryStore::new()).unwrap();
    for (name, rule) in [
        ("bench.everyone", FlagRule::new().everyone(true)),
        ("bench.rollout", FlagRule::new().percent(50.0)),
        (
            "bench.users",
            FlagRule::new().users_on((0..100).map(|i| format!("user-{i}"))),
        ),
        (
            "bench.groups",
            FlagRule::new()
                .constraint("region", ["US", "RO"])
                .groups_off("org", ["org-x"])
                .groups_on("course", ["course-a", "course-b"]),
        ),
    ] {
        toggles::write(Change::flag(name, rule).by("test").because("set up")).unwrap();
    }
    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5)
            .by("test")
            .because("set up"),
    )
    .unwrap();
    let experiment = VariantRule::new()
        .coverage(50.0)
        .weight("classic", 5000)
        .weight("one_page", 2500)
        .weight("express", 2500)
        .users("express", ["user-700"])
        .groups("org", "classic", ["org-x"])
        // Each drawn unit is an exposure, handed to the installation's exposure thread.
        .track(true);
    toggles::write(
        Change::variant("bench.checkout_flow", experiment)
            .by("test")
            .because("set up"),
    )
    .unwrap();

    let groups = [("org", "org-y"), ("course", "course-b")];
    let attributes = [("region", "RO")];
    let mut on = 0;
    let mut arms = [0usize; 4];
    // A thread's first exposure makes its buffer, once: done before counting.
    for i in 0..20 {
        CHECKOUT_FLOW.get(&Context::new().with_user(&format!("warm-{i}")));
    }
    let n = allocations_in(|| {
        for i in 0..1000 {
            let user = if i % 2 == 0 { "user-7" } else { "user-700" };
            let ctx = Context::new()
                .with_user(user)
                .with_groups(&groups)
                .with_attributes(&attributes);
            on += usize::from(RECOMMENDATIONS.is_enabled());
            on += usize::from(EVERYONE.is_enabled(&ctx));
            on += usize::from(ROLLOUT.is_enabled(&ctx));
            on += usize::from(USERS.is_enabled(&ctx));
            on += usize::from(GROUPS.is_enabled(&ctx));
            on += usize::try_from(MAX_UPLOAD_BYTES.get()).unwrap();
            let anyone = format!("user-{i}");
            arms[usize::from(CHECKOUT_FLOW.get(&ctx) == Checkout::Express)] += 1;
            arms[usize::from(
                CHECKOUT_FLOW.get(&ctx.clone().with_user(&anyone)) != Checkout::Classic,
            ) + 2] += 1;
        }
    });
    // The `format!` of each request's user id is the test's own: one allocation a request.
    assert_eq!(n, 1000, "allocations in 1,000 requests of 8 checks each");
    assert_eq!(arms[1], 500, "user-700 is pinned to express");
    // Half the users are in the experiment, and half of those drawn into a treatment.
    assert!(
        (200..300).contains(&arms[3]),
        "a quarter out of the control: {arms:?}"
    );
    installation.drain_exposures();
    assert!(
        toggles::status().exposures.delivered >= 250,
        "the tracked checks handed their exposures over"
    );
    // The checks ran and answered: switch, everyone, groups and the setting on every request,
    // the user list for user-7's half.
    assert!(on > 1000 * (1 + 1 + 1 + 5) + 500, "{on}");
}

#[test]
fn recording_outcomes_allocates_nothing_after_the_first() {
    // The first outcome allocates the flag's counters, the first timed one its run-time
    // counters (once per flag and process).
    ROLLOUT.record(true, true);
    ROLLOUT.record_timed(true, true, Duration::from_millis(1));
    let n = allocations_in(|| {
        for i in 0..10_000 {
            ROLLOUT.record(i % 3 == 0, i % 7 != 0);
            ROLLOUT.record_timed(i % 2 == 0, true, Duration::from_micros(i));
            let outcome = EVERYONE.outcome(true);
            if i % 2 == 0 {
                outcome.ok();
            }
        }
    });
    // `EVERYONE`'s counters are allocated by its first outcome inside the loop: one (its rule
    // has no guard on run times, so its outcomes do not time themselves).
    assert_eq!(n, 1, "allocations in 30,000 recorded outcomes");
}
