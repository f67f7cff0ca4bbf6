//! A rollout that goes bad and is caught, twice: a flag with a guard in its rule, code under it
//! that records its outcomes, and the guard turning the flag off through an audited write when
//! the new code path starts failing — and, once resumed as a staged rollout that climbs by
//! itself while the guard holds, when it turns slow — printed step by step.
//!
//! `cargo run --example guarded_rollout`

use std::time::Duration;

use toggles::rules::{FlagRule, Guard, Plan, Stage, Timestamp};
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
    // A tick, as the guard thread's every 10 s: it takes these outcomes, so none of them is
    // counted against what comes next.
    toggles.check_guards();

    // Resumed as a staged rollout, guarded on run times too: off if the new grader's 95th
    // percentile is more than 25% above the old one's. The clock is the example's, so the
    // stages' hours pass at once.
    let start = Timestamp::now();
    let at = |secs: i64| Timestamp::from_unix_seconds(start.unix_seconds() + secs);
    let plan = Plan::new([
        Stage::hold(10.0, Duration::from_secs(600)),
        Stage::hold(25.0, Duration::from_secs(1800)),
        Stage::hold(50.0, Duration::from_secs(3600)),
        Stage::last(100.0),
    ])
    .since(start);
    let staged = FlagRule::new().staged(plan).guard(
        Guard::error_rate(5.0)
            .max_p95_margin(25.0)
            .window_secs(300)
            .min_requests(100),
    );
    toggles::write(
        Change::flag("grading.new_grader", staged)
            .by("ana@example.com")
            .because("grader fixed in 2.4.1; resume in stages"),
    )?;
    println!("6. Ana ships the fix and resumes the rollout in stages, guarded on run times too: 10% for 10 minutes, 25% for 30, 50% for an hour, then everyone.");

    let plan_now = || -> Result<String, Box<dyn std::error::Error>> {
        let live = toggles::registry()
            .get("grading.new_grader")
            .unwrap()
            .live()?;
        let rule: FlagRule = serde_json::from_value(live.value)?;
        Ok(rule.plan.map(|p| p.status()).unwrap_or_default())
    };
    let timed = |slow: bool| -> u32 {
        (0..2000)
            .map(|n| u32::from(timed_request(&format!("user-{n}"), slow)))
            .sum()
    };
    let served = timed(false);
    toggles.check_guards_at(at(600));
    let entry = &toggles::report::audit(&AuditQuery::toggle("grading.new_grader").limit(1))?[0];
    println!("7. Ten minutes of 2,000 timed requests, {served} on the new grader, as fast as the old. The guard holds, and the rollout advances by itself:");
    println!("     actor:  {}", entry.actor);
    println!("     reason: {}", entry.reason);

    let served = timed(false);
    toggles.check_guards_at(at(600 + 1800));
    println!(
        "8. Thirty minutes on, {served} of 2,000 on the new grader, still fast: {}.",
        plan_now()?
    );

    let served = timed(true);
    let tripped = toggles.check_guards_at(at(600 + 1800 + 600));
    println!("9. Release 2.4.2 makes the new grader three times slower: {served} slow requests. The guard trips: {tripped:?}.");
    println!("     the plan: {}", plan_now()?);
    Ok(())
}
