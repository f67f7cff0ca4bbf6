//! A rollout that goes bad and is caught, twice: a flag with a guard in its rule, code under it
//! that records its outcomes, and the guard turning the flag off through an audited write when
//! the new code path starts failing — and, once resumed, when it turns slow — printed step by
//! step.
//!
//! `cargo run --example guarded_rollout`

use std::time::Duration;

use toggles::rules::{FlagRule, Guard};
use toggles::store::{AuditQuery, MemoryStore};
use toggles::{toggle, Change, Context, Flag, Installer};

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    owner = "team-grading",
    life = "temporary",
    remove_by = "2030-01-01"
)]
static NEW_GRADER: Flag;

/// One request: the flag decides which grader runs, and the outcome is recorded under the
/// answer it gave. `failure_every` makes the new grader fail one request in that many.
fn request(user: &str, failure_every: u32, n: u32) -> bool {
    let on = NEW_GRADER.is_enabled(&Context::new().with_user(user));
    let outcome = NEW_GRADER.outcome(on);
    let failed = on && n.is_multiple_of(failure_every);
    if !failed {
        outcome.ok();
    }
    on
}

/// One request that records how long it took: the old grader takes 40 ms, the new one 40 ms
/// or, in a slow release, 120 ms (the times are made up, so the example does not wait for them;
/// code that measures its own calls `outcome`, which times itself).
fn timed_request(user: &str, slow: bool) -> bool {
    let on = NEW_GRADER.is_enabled(&Context::new().with_user(user));
    let took = Duration::from_millis(if on && slow { 120 } else { 40 });
    NEW_GRADER.record_timed(on, true, took);
    on
}

/// 1,000 requests from 1,000 users; how many the new grader served.
fn traffic(failure_every: u32) -> u32 {
    (0..1000)
        .map(|n| u32::from(request(&format!("user-{n}"), failure_every, n)))
        .sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The guards are checked below, at the moments the example shows, not by a background tick.
    let toggles = Installer::new(MemoryStore::new())
        .without_guard_thread()
        .install()?;
    let guard = Guard::error_rate(5.0).window_secs(300).min_requests(200);
    let rule = FlagRule::new().percent(50.0).guard(guard);
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana@example.com")
            .because("start the rollout: half the users, off above 5% errors"),
    )?;
    println!("1. The rollout starts: 50% of users, guarded at 5% errors over 5 minutes (from 200 requests).");

    let served = traffic(100);
    let tripped = toggles.check_guards();
    println!("2. 1,000 requests, {served} on the new grader, 1% of those failing: the guard holds (tripped: {tripped:?}).");

    let served = traffic(8);
    let tripped = toggles.check_guards();
    println!("3. A bad deploy: 1,000 more, {served} on the new grader, 12.5% failing. The guard trips: {tripped:?}.");

    let entry = &toggles::report::audit(&AuditQuery::toggle("grading.new_grader").limit(1))?[0];
    println!("4. The audit log's newest entry:");
    println!("     actor:  {}", entry.actor);
    println!("     reason: {}", entry.reason);
    println!(
        "     after:  {}",
        entry.after.as_ref().map_or("-".into(), ToString::to_string)
    );

    let served = traffic(8);
    println!("5. The next 1,000 requests: {served} on the new grader. The flag is off for everyone, and stays off.");

    // Resumed with a guard on run times too: off if the new grader's 95th percentile is more
    // than 25% above the old one's.
    let fixed = FlagRule::new().percent(50.0).guard(
        Guard::error_rate(5.0)
            .max_p95_margin(25.0)
            .window_secs(300)
            .min_requests(200),
    );
    toggles::write(
        Change::flag("grading.new_grader", fixed)
            .by("ana@example.com")
            .because("grader fixed in 2.4.1; resume the rollout"),
    )?;
    let served = traffic(1000);
    println!("6. Ana ships the fix and turns the rollout back on, guarded on run times too (a person's write; the guard's window starts afresh): {served} of 1,000 on the new grader.");

    let served: u32 = (0..1000)
        .map(|n| u32::from(timed_request(&format!("user-{n}"), false)))
        .sum();
    let tripped = toggles.check_guards();
    println!("7. 1,000 timed requests, {served} on the new grader, as fast as the old: the guard holds (tripped: {tripped:?}).");

    let served: u32 = (0..1000)
        .map(|n| u32::from(timed_request(&format!("user-{n}"), true)))
        .sum();
    let tripped = toggles.check_guards();
    println!("8. Release 2.4.2 makes the new grader three times slower: {served} slow requests. The guard trips: {tripped:?}.");
    let entry = &toggles::report::audit(&AuditQuery::toggle("grading.new_grader").limit(1))?[0];
    println!("     actor:  {}", entry.actor);
    println!("     reason: {}", entry.reason);
    Ok(())
}
