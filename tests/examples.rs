//! The examples run and say what they should: `cargo test` builds them beside the tests, and
//! these run the built binaries.

use std::path::PathBuf;
use std::process::Command;

use toggles::store::Store as _;

/// The built example `name`: `target/<profile>/examples/<name>`, beside this test's own
/// `target/<profile>/deps/`.
fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let profile = test
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps");
    profile.join("examples").join(name)
}

/// Runs the built example `name`, which must succeed; what it printed.
fn run(name: &str) -> String {
    let path = example(name);
    assert!(
        path.exists(),
        "{} is not built: `cargo test` builds the examples",
        path.display()
    );
    let run = Command::new(&path).output().unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out.into_owned()
}

#[test]
fn the_experiment_example_prints_its_results() {
    let out = run("experiment");
    assert!(
        out.contains("qa-1 gets OnePage: the user is listed"),
        "{out}"
    );
    assert!(
        out.contains("20000 exposures delivered to the subscriber"),
        "{out}"
    );
    assert!(out.contains("0 dropped"), "{out}");
    let row = |arm: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(arm))
            .unwrap_or_else(|| panic!("no {arm} row: {out}"))
    };
    assert!(row("classic").contains("(control)"), "{out}");
    assert!(row("one_page").contains(" pts ["), "{out}");
    assert!(row("one_page").contains("(significant)"), "{out}");
}

#[test]
fn the_guarded_rollout_example_is_caught_on_errors_then_climbs_in_stages_until_slow() {
    let out = run("guarded_rollout");
    for expected in [
        "The guard trips: [\"grading.new_grader\"].",
        "is above the limit of 5% over the last 300s in this process",
        "5. The next 1,000 requests: 0 on the new grader.",
        "reason: staged rollout: stage 1 of 4 (10%) after 10m held, now stage 2 of 4 (25%); guard held in this process on the stage's last 300s",
        "still fast: stage 3 of 4 (50%), running: stage 4 (100%) is due at ",
        "three times slower",
        "the plan: stage 3 of 4 (50%), stopped: guard tripped: the on arm's 95th-percentile run time 12",
        "is more than 25% above the off arm's",
    ] {
        assert!(out.contains(expected), "{expected}\n\n{out}");
    }
}

#[test]
fn the_quickstart_keeps_its_store_for_a_server_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let run = Command::new(example("quickstart"))
        .args(["--keep", path.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        out.contains("--store file:"),
        "it says how to serve it: {out}"
    );
    // What `toggles serve` reads: the states, and the declarations the quickstart published.
    let store = toggles::store::FileStore::open(&path).unwrap();
    let published = store.published().unwrap();
    let names: Vec<&str> = published
        .iter()
        .flat_map(|p| &p.declarations.toggles)
        .map(|d| d.full_name.as_str())
        .collect();
    assert!(names.contains(&"grading.new_grader"), "{names:?}");
    assert_eq!(
        store.load().unwrap().flags["grading.new_grader"]["percent"],
        60.0
    );
    // A second run uses the kept store as it is.
    let again = Command::new(example("quickstart"))
        .args(["--keep", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
