//! How long a write in one process takes to be in force in another process's checks, through
//! the PostgreSQL store (`LISTEN`/`NOTIFY`): 250 writes, each timed from the call to `write` to
//! the moment a follower process's `Setting::get` returns the new value — the write's own
//! transaction included, so an upper bound on commit-to-in-force.
//!
//! Needs the PostgreSQL server at `$TOGGLES_TEST_POSTGRES` (default: 127.0.0.1:5432, user
//! `postgres`, database `test`); says so and stops when there is none. Run:
//! `cargo bench -p toggles-bench --bench propagation`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use toggles::postgres::PostgresStore;
use toggles::{toggle, Change, Setting};

/// The value the leader writes and the follower watches.
#[toggle(namespace = "bench", life = "permanent", justification = "benchmark")]
static COUNTER: Setting<u64> = 0;

const WRITES: u64 = 250;
const SCHEMA: &str = "bench_propagation";
const FOLLOWER: &str = "TOGGLES_BENCH_FOLLOWER";

fn url() -> String {
    std::env::var("TOGGLES_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Follows the counter and prints `value nanos` each time it changes.
fn follow() {
    let _toggles = toggles::install(PostgresStore::new(&url(), SCHEMA).unwrap()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut last = COUNTER.get();
    loop {
        let now = COUNTER.get();
        if now != last {
            writeln!(out, "{now} {}", nanos()).unwrap();
            out.flush().unwrap();
            last = now;
            if now == WRITES {
                return;
            }
        }
        std::thread::yield_now();
    }
}

/// The `p`th percentile of `sorted` microseconds, as milliseconds for printing.
fn percentile(sorted: &[u64], p: usize) -> String {
    let micros = sorted[(sorted.len() - 1) * p / 100];
    format!("{}.{:02} ms", micros / 1000, micros % 1000 / 10)
}

/// From `earlier` to `later`, in whole microseconds.
fn micros(earlier: u128, later: u128) -> u64 {
    u64::try_from(later.saturating_sub(earlier) / 1000).unwrap_or(u64::MAX)
}

fn main() {
    if std::env::var_os(FOLLOWER).is_some() {
        follow();
        return;
    }
    if let Err(e) = postgres::Client::connect(&url(), postgres::NoTls) {
        println!(
            "propagation: skipped, no PostgreSQL server at `{}`: {e}",
            url()
        );
        return;
    }
    let mut admin = postgres::Client::connect(&url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .unwrap();
    let _toggles = toggles::install(PostgresStore::new(&url(), SCHEMA).unwrap()).unwrap();

    let mut follower = Command::new(std::env::current_exe().unwrap())
        .env(FOLLOWER, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");

    let mut latencies = Vec::new();
    let started = Instant::now();
    for i in 1..=WRITES {
        let called = nanos();
        toggles::write(
            Change::setting("bench.counter", i)
                .by("bench")
                .because("propagation"),
        )
        .unwrap();
        let line = lines.next().expect("the follower reports").unwrap();
        let (seen_value, seen_at) = line.split_once(' ').unwrap();
        assert_eq!(
            seen_value.parse::<u64>().unwrap(),
            i,
            "values arrive in order"
        );
        let seen_at: u128 = seen_at.parse().unwrap();
        // Clocks of one machine: the follower's instant minus ours.
        latencies.push(micros(called, seen_at));
    }
    assert!(follower.wait().unwrap().success());
    latencies.sort_unstable();
    println!(
        "propagation, write called -> in force in the other process, {WRITES} writes: p50 {}, p90 {}, p99 {}, max {}",
        percentile(&latencies, 50),
        percentile(&latencies, 90),
        percentile(&latencies, 99),
        percentile(&latencies, 100),
    );
    println!("({:.1} s in all)", started.elapsed().as_secs_f64());
}
