//! `toggles variant`, `toggles show` of a variant toggle, and `toggles results`: a variant
//! rule written and refused from a terminal, the arm a context gets, and an experiment's
//! results against figures worked by hand.

mod support;

use support::{experiment_fleet, file_store, stderr, stdout, toggles};
use toggles_runtime::experiment::{Converted, Exposed, Results};
use toggles_runtime::store::Store;
use toggles_runtime::Timestamp;

const FLOW: &str = "checkout.checkout_flow";

/// A file store in `dir` to which the experiment fleet published, with the checkout's rule
/// written through the command; its `--store` argument.
fn written(dir: &std::path::Path) -> String {
    let store = file_store(dir, &experiment_fleet());
    let written = toggles(&store)
        .args(["variant", FLOW, "--coverage", "50"])
        .args(["--weights", "one_page=5000,express=5000"])
        .args(["--users", "express:qa-1,qa-2", "--track"])
        .args(["--reason", "checkout test", "--actor", "ana"])
        .output()
        .unwrap();
    assert!(written.status.success(), "{}", stderr(&written));
    store
}

#[test]
fn a_variant_rule_is_written_shown_and_refused_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());

    let show = toggles(&store)
        .args(["show", FLOW, "--user", "qa-1"])
        .output()
        .unwrap();
    let out = stdout(&show);
    assert!(
        out.contains("for user qa-1: arm `express` — the user is listed"),
        "{out}"
    );
    assert!(
        out.contains("state: users→express 2 · 50% in · express 5000, one_page 5000 · tracked"),
        "{out}"
    );
    let drawn = toggles(&store)
        .args(["show", FLOW, "--user", "42"])
        .output()
        .unwrap();
    let out = stdout(&drawn);
    assert!(out.contains("for user 42: arm `"), "{out}");
    assert!(out.contains("(50% coverage)"), "{out}");

    // A misspelled arm: refused whole, with the closest name, and nothing changed.
    let refused = toggles(&store)
        .args(["variant", FLOW, "--coverage", "50"])
        .args(["--weights", "one_pag=5000,express=5000"])
        .args(["--reason", "typo", "--actor", "ana"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("did you mean `one_page`?"),
        "{}",
        stderr(&refused)
    );
    let set = toggles(&store)
        .args(["set", FLOW, "express", "--reason", "x", "--actor", "ana"])
        .output()
        .unwrap();
    assert!(
        stderr(&set).contains("is a variant toggle: give its rule with `toggles variant"),
        "{}",
        stderr(&set)
    );
    let unchanged = toggles(&store)
        .args(["show", FLOW, "--user", "qa-1"])
        .output()
        .unwrap();
    assert!(stdout(&unchanged).contains("arm `express`"));
}

#[test]
fn a_file_stores_results_and_an_arm_dropped_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let store = written(dir.path());
    // The services' exposures and conversions, kept beside the store's file: the results read
    // them.
    let file = toggles_runtime::store::FileStore::open(dir.path().join("toggles.json")).unwrap();
    let at = Timestamp::from_unix_seconds(1_800_000_000);
    file.record_exposures(&[
        Exposed::new(FLOW, "u1", "one_page", at),
        Exposed::new(FLOW, "u2", "express", at),
    ])
    .unwrap();
    file.record_conversions(&[Converted::new(FLOW, "u1", "purchase", at)])
        .unwrap();
    let results = toggles(&store).args(["results", FLOW]).output().unwrap();
    let out = stdout(&results);
    assert!(results.status.success(), "{}", stderr(&results));
    let one_page = out
        .lines()
        .find(|l| l.trim_start().starts_with("one_page"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(one_page.contains("100.00%"), "{out}");

    // Guarded, with an arm dropped by hand: its pinned users get the control.
    let guarded = toggles(&store)
        .args(["variant", FLOW, "--coverage", "50"])
        .args(["--weights", "one_page=5000,express=5000"])
        .args(["--users", "express:qa-1", "--drop", "express"])
        .args([
            "--guard-margin",
            "5",
            "--reason",
            "express pay is down",
            "--actor",
            "ana",
        ])
        .output()
        .unwrap();
    assert!(guarded.status.success(), "{}", stderr(&guarded));
    let show = toggles(&store)
        .args(["show", FLOW, "--user", "qa-1"])
        .output()
        .unwrap();
    let out = stdout(&show);
    assert!(
        out.contains("for user qa-1: arm `classic` — arm `express` was dropped to the control"),
        "{out}"
    );
    assert!(
        out.contains(
            "dropped express · guarded: an arm dropped if errors > the control + 5 points"
        ),
        "{out}"
    );
}

/// 100 of 1,000 on the control against 130 of 1,000: the example worked by hand in the
/// runtime's tests (p = 0.035), read through the command from a PostgreSQL store.
#[test]
fn results_read_the_fleets_counts() {
    let Some(schema) = support::postgres_schema("experiment_results") else {
        return;
    };
    let settings = support::postgres_settings();
    let pg = toggles_postgres::PostgresStore::new(&settings, &schema).unwrap();
    support::publish(&pg, &experiment_fleet());
    let at = Timestamp::from_unix_seconds(1_800_000_000);
    let mut exposed = Vec::new();
    let mut converted = Vec::new();
    for (arm, n, x) in [("classic", 1000, 100), ("one_page", 1000, 130)] {
        for i in 0..n {
            let unit = format!("{arm}-{i}");
            exposed.push(Exposed::new(FLOW, unit.clone(), arm, at));
            if i < x {
                converted.push(Converted::new(FLOW, unit, "purchase", at));
            }
        }
    }
    pg.record_exposures(&exposed).unwrap();
    pg.record_conversions(&converted).unwrap();
    let store = format!("postgres:{settings}");
    let run = |args: &[&str]| {
        toggles(&store)
            .args(["--schema", &schema])
            .args(args)
            .output()
            .unwrap()
    };
    let table = run(&["results", FLOW]);
    let out = stdout(&table);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(out.contains("against `classic`, the control"), "{out}");
    let line = |arm: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(arm))
            .unwrap_or_else(|| panic!("no {arm} row in {out}"))
            .to_owned()
    };
    assert!(line("classic").contains("10.00%  [8.29%, 12.02%]"), "{out}");
    let one_page = line("one_page");
    assert!(one_page.contains("13.00%  [11.06%, 15.23%]"), "{out}");
    assert!(
        one_page.contains("+3.00 pts [+0.21, +5.79], +30.0%, p = 0.035 (significant)"),
        "{out}"
    );
    assert!(
        line("express").contains('—'),
        "no unit exposed to express: {out}"
    );

    let json = run(&["results", FLOW, "--json"]);
    let results: Results = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(results.arms[1].exposed, 1000);
    assert_eq!(results.arms[1].goals[0].converted, 130);

    let flag = run(&["results", "grading.new_grader"]);
    assert!(
        stderr(&flag).contains("is not a variant toggle of the fleet"),
        "{}",
        stderr(&flag)
    );
}
