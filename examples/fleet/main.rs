//! Two processes sharing toggles through PostgreSQL: this one (an admin tool) widens a rollout
//! step by step; a second one (the `grading` service, started as a child process) follows each
//! change live; then the fleet report, built from the database alone.
//!
//! Needs the PostgreSQL server at `$DATABASE_URL` (default: 127.0.0.1:5432, user `postgres`,
//! database `test`). Run: `cargo run --example fleet --features postgres`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toggles::fleet::FleetReport;
use toggles::postgres::PostgresStore;
use toggles::rules::FlagRule;
use toggles::store::Store;
use toggles::{toggle, Change, Context, Date, Flag, Installer, Service, Switch, Timestamp};

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2027-06-01",
    owner = "grading-team"
)]
static NEW_GRADER: Flag;

/// Stops the follower: the example's way to end.
#[toggle(
    namespace = "example",
    life = "permanent",
    justification = "ends the example"
)]
static STOP: Switch;

const SCHEMA: &str = "example_fleet";

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// How many of 1,000 users the new grader is on for, as this process sees it now.
fn users_on() -> usize {
    let users: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    users
        .iter()
        .filter(|u| NEW_GRADER.is_enabled(&Context::new().with_user(u)))
        .count()
}

/// The `grading` service: follows the rollout and says what it sees, until told to stop.
fn follow() -> Result<(), Box<dyn std::error::Error>> {
    let store = PostgresStore::new(&url(), SCHEMA)?;
    let _toggles = Installer::new(store)
        .service(Service::new("grading", "1.4.2"))
        .install()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    let mut seen = usize::MAX;
    while !STOP.is_enabled() {
        let now = users_on();
        if now != seen {
            writeln!(
                out,
                "grading sees the new grader on for {now} of 1000 users"
            )?;
            out.flush()?;
            seen = now;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("follow") {
        return follow();
    }
    let mut admin = match postgres::Client::connect(&url(), postgres::NoTls) {
        Ok(client) => client,
        Err(e) => {
            eprintln!(
                "this example needs PostgreSQL at `{}` ({e}); set DATABASE_URL to another server",
                url()
            );
            std::process::exit(1);
        }
    };
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))?;
    let _toggles = Installer::new(PostgresStore::new(&url(), SCHEMA)?)
        .service(Service::new("admin-tool", "0.1.0"))
        .install()?;

    let mut grading = Command::new(std::env::current_exe()?)
        .arg("follow")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(grading.stdout.take().expect("piped")).lines();
    assert_eq!(lines.next().transpose()?.as_deref(), Some("ready"));
    println!("{}", lines.next().transpose()?.unwrap_or_default());

    for percent in [10.0, 30.0, 60.0] {
        let started = Instant::now();
        toggles::write(
            Change::flag("grading.new_grader", FlagRule::new().percent(percent))
                .by("ana@example.com")
                .because("widening the rollout: error rate flat"),
        )?;
        println!("admin-tool writes: new grader at {percent}%");
        let line = lines.next().transpose()?.unwrap_or_default();
        println!(
            "{line}   ({} ms after the write)",
            started.elapsed().as_millis()
        );
    }

    let store = PostgresStore::new(&url(), SCHEMA)?;
    let today = Date::today();
    let report = FleetReport::of(&store, today, Timestamp::now(), toggles::fleet::LIVE_WITHIN)?;
    println!("\nThe fleet, from the database alone (as of {today}):");
    for s in &report.services {
        println!(
            "  service {} {}: {} instance(s), {} live",
            s.service, s.version, s.instances, s.live_instances
        );
    }
    for t in &report.toggles {
        let by: Vec<String> = t
            .declared_by
            .iter()
            .map(|d| format!("{} {} ({}:{})", d.service, d.version, d.file, d.line))
            .collect();
        println!(
            "  {:20} state {:28} last changed by {:16} drift {:10} declared by {}",
            t.full_name,
            t.state
                .value
                .as_ref()
                .map_or_else(|| "default".to_owned(), ToString::to_string),
            t.state.modified_by.as_deref().unwrap_or("-"),
            t.drift.map_or("-", |d| d.as_str()),
            by.join(", ")
        );
    }
    let history =
        store.audit(&toggles::store::AuditQuery::toggle("grading.new_grader").limit(3))?;
    println!("\nThe new grader's history, newest first:");
    for e in history {
        println!(
            "  {} {} {}: {}",
            e.at,
            e.actor,
            e.after.unwrap_or_default(),
            e.reason
        );
    }

    toggles::write(
        Change::switch("example.stop", true)
            .by("ana@example.com")
            .because("end of example"),
    )?;
    grading.wait()?;
    Ok(())
}
