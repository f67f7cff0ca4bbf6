//! Fleets for the command's tests: the Open edX corpus as three services, and a small fleet to
//! write to; the built binary; the PostgreSQL server when there is one.

#![allow(dead_code, unreachable_pub)]

#[path = "../../../toggles-postgres/tests/support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use serde_json::{json, Value as Json};
use toggles_runtime::fleet::Declared;
use toggles_runtime::store::{Declarations, Store};
use toggles_runtime::{Service, Timestamp};

/// The `toggles` binary, with `--store STORE` and no store in the environment.
pub fn toggles(store: &str) -> Command {
    let mut cmd = Command::cargo_bin("toggles").expect("the binary is built");
    cmd.env_remove("TOGGLES_STORE")
        .env_remove("TOGGLES_SCHEMA")
        .args(["--store", store]);
    cmd
}

/// The command's standard output.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The command's standard error.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The 217 real Open edX toggle annotations vendored in the repository.
pub fn edx_records() -> Vec<Json> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/edx_toggle_annotations.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("the vendored corpus"))
        .expect("the corpus is JSON")
}

/// The service an annotation's source file belongs to: `lms`, `cms`, or `openedx` (for
/// `openedx/` and `common/`).
pub fn edx_service(record: &Json) -> &'static str {
    match record["source_file"]
        .as_str()
        .unwrap_or("")
        .split('/')
        .next()
    {
        Some("lms") => "lms",
        Some("cms") => "cms",
        _ => "openedx",
    }
}

/// An annotation's name as a toggles full name: lower-cased, other characters as `_`, the
/// service as namespace when the name has none.
pub fn edx_full_name(record: &Json) -> String {
    let raw = record["toggle_name"].as_str().expect("a toggle_name");
    let cleaned: String = raw
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.contains('.') {
        cleaned
    } else {
        format!("{}.{cleaned}", edx_service(record))
    }
}

/// One annotation as a service's declaration (its removal date kept only if it is a date).
fn edx_declared(index: usize, record: &Json) -> Declared {
    let text = |key: &str| record[key].as_str().map(str::trim).map(str::to_owned);
    let date = |key: &str| text(key).filter(|d| d.parse::<toggles_runtime::Date>().is_ok());
    let implementation = text("toggle_implementation").unwrap_or_default();
    let remove_by = date("toggle_target_removal_date");
    let service = edx_service(record);
    serde_json::from_value(json!({
        "full_name": edx_full_name(record),
        "kind": if implementation.contains("Flag") { "flag" } else { "switch" },
        "value_type": "bool",
        "default": text("toggle_default").as_deref() == Some("True"),
        "description": text("toggle_description").unwrap_or_default(),
        "life": if remove_by.is_some() { "temporary" } else { "permanent" },
        "remove_by": remove_by,
        "justification": if remove_by.is_some() { Json::Null } else { json!("Open edX") },
        "created": date("toggle_creation_date"),
        "owner": format!("team-{service}"),
        "use_cases": [],
        "tickets": text("toggle_tickets"),
        "warning": text("toggle_warning"),
        "source": {
            "crate": service, "crate_version": "1.0.0", "module_path": service,
            "file": record["source_file"], "line": index + 1, "column": 1
        }
    }))
    .expect("a declaration")
}

/// The corpus as three services' declarations: lms, cms, openedx.
pub fn edx_fleet() -> Vec<Declarations> {
    let mut by_service: BTreeMap<&str, Vec<Declared>> = BTreeMap::new();
    for (i, record) in edx_records().iter().enumerate() {
        by_service
            .entry(edx_service(record))
            .or_default()
            .push(edx_declared(i, record));
    }
    by_service
        .into_iter()
        .map(|(service, toggles)| Declarations::new(Service::new(service, "1.0.0"), toggles))
        .collect()
}

/// Publishes each of `fleet` to `store`, seen now.
pub fn publish(store: &dyn Store, fleet: &[Declarations]) {
    for d in fleet {
        store.publish(d, Timestamp::now()).expect("publish");
    }
}

/// A service declaring a switch, a flag and a setting, as the quickstart's would.
pub fn small_fleet() -> Vec<Declarations> {
    let declared = |name: &str, kind: &str, value_type: &str, default: Json, remove_by: Json| {
        serde_json::from_value::<Declared>(json!({
            "full_name": name, "kind": kind, "value_type": value_type, "default": default,
            "description": format!("The {name} toggle."),
            "life": if remove_by.is_null() { "permanent" } else { "temporary" },
            "remove_by": remove_by,
            "justification": if remove_by.is_null() { json!("tests") } else { Json::Null },
            "created": null, "owner": "team-grading", "use_cases": [], "tickets": null,
            "warning": null,
            "source": { "crate": "grading", "crate_version": "1.4.2", "module_path": "grading",
                        "file": "src/toggles.rs", "line": 10, "column": 1 }
        }))
        .expect("a declaration")
    };
    vec![Declarations::new(
        Service::new("grading", "1.4.2"),
        vec![
            declared(
                "catalog.recommendations",
                "switch",
                "bool",
                json!(true),
                Json::Null,
            ),
            declared(
                "grading.new_grader",
                "flag",
                "bool",
                json!(false),
                json!("2030-01-01"),
            ),
            declared(
                "uploads.max_bytes",
                "setting",
                "u64",
                json!(1024),
                Json::Null,
            ),
        ],
    )]
}

/// The small fleet and a checkout service declaring a variant toggle, `checkout.checkout_flow`
/// (arms `classic`, the control, `one_page` and `express`).
pub fn experiment_fleet() -> Vec<Declarations> {
    let mut fleet = small_fleet();
    let flow = serde_json::from_value::<Declared>(json!({
        "full_name": "checkout.checkout_flow", "kind": "variant", "value_type": "Checkout",
        "default": "classic", "arms": ["classic", "one_page", "express"],
        "description": "Try the one-page and express checkouts.", "life": "temporary",
        "remove_by": "2030-03-01", "justification": null, "created": null,
        "owner": "team-checkout", "use_cases": [], "tickets": null, "warning": null,
        "source": { "crate": "checkout", "crate_version": "2.0.0", "module_path": "checkout",
                    "file": "src/flow.rs", "line": 7, "column": 1 }
    }))
    .expect("a declaration");
    fleet.push(Declarations::new(
        Service::new("checkout", "2.0.0"),
        vec![flow],
    ));
    fleet
}

/// A file store at `dir/toggles.json` to which `fleet` was published; its `--store` argument.
pub fn file_store(dir: &Path, fleet: &[Declarations]) -> String {
    let path = dir.join("toggles.json");
    let store = toggles_runtime::store::FileStore::open(&path).expect("a file store");
    publish(&store, fleet);
    format!("file:{}", path.display())
}

#[allow(unused_imports)]
pub use self::server::url as postgres_settings;

/// A fresh schema `cli_<test>`, or `None` (said loudly) where no server answers on a machine
/// that does not require one (under CI or `TOGGLES_REQUIRE_POSTGRES=1` the test fails instead).
pub fn postgres_schema(test: &str) -> Option<String> {
    server::fresh_schema(&format!("cli_{test}"))
}
