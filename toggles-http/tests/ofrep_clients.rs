//! The OpenFeature OFREP clients other languages use, from npm, against the router served on
//! 127.0.0.1: the web provider (`@openfeature/ofrep-web-provider`) evaluates, polls the bulk
//! endpoint and gets `304`s while nothing changes, and sees a change at its next poll; told of
//! the event stream, it fetches only when the stream says something changed. The server
//! provider (`@openfeature/ofrep-provider`) and the Python SDK's (`openfeature-provider-ofrep`
//! from PyPI) evaluate a rollout over 2,000 users, a listed user, a setting, a type mismatch
//! and an unknown key.
//!
//! Needs Node.js and the clients installed (`npm ci --prefix toggles-http/tests/ofrep-clients`,
//! which `.ci/run` does). Without them the test says so loudly and passes, except under CI
//! (`CI=true`), where it fails.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag, Setting};
use toggles_http::{router, BearerTokens, Config};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ofrep-clients")
}

/// Whether Node.js and the clients are here; if not, say so, and fail under CI.
fn clients_available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = clients()
        .join("node_modules/@openfeature/ofrep-web-provider")
        .exists();
    if node && installed {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the OFREP client tests need Node.js and `npm ci --prefix toggles-http/tests/ofrep-clients` under CI"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED the OFREP client test: no Node.js, or the clients are not installed (npm ci --prefix toggles-http/tests/ofrep-clients) ***\n"
    );
    false
}

/// The router nested at `/toggles` on a free port; its base URL.
async fn serve() -> String {
    let app = axum::Router::new().nest(
        "/toggles",
        router(Config::new(BearerTokens::from_json("{}").unwrap())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/toggles", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// Runs the web provider (`mode`: `poll` or `sse`), turns the flag on once it is ready, and
/// returns what it saw: the statuses of its requests, in order.
async fn watch_a_change(mode: &str) -> Vec<u64> {
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let _ = &NEW_GRADER;
    let base = serve().await;
    let mut node = Command::new("node")
        .arg(clients().join("web-provider.mjs"))
        .arg(&base)
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut next = move || -> Value {
        let line = lines.next().expect("a line from the client").unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let (ready, next) = tokio::task::spawn_blocking(move || (next(), next))
        .await
        .unwrap();
    assert_eq!(ready["step"], "ready");
    assert_eq!(ready["value"], false);
    assert_eq!(ready["reason"], "DEFAULT");

    // A while with nothing changed: polls, or an open stream.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().everyone(true))
            .by("ana")
            .because("on for everyone"),
    )
    .unwrap();
    let mut stdin = node.stdin.take().unwrap();
    writeln!(stdin, "changed").unwrap();
    let changed = tokio::task::spawn_blocking(next).await.unwrap();
    assert_eq!(changed["step"], "changed");
    assert_eq!(changed["value"], true, "{changed}");
    assert_eq!(changed["reason"], "STATIC");
    assert!(node.wait().unwrap().success());
    changed["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_provider_polls_with_its_etag_and_sees_a_change() {
    if !clients_available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let statuses = watch_a_change("poll").await;
    assert_eq!(statuses.first(), Some(&200), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 304).count() >= 3,
        "polls with nothing changed are 304s: {statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&200),
        "the change is a full answer: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_provider_follows_the_event_stream_instead_of_polling() {
    if !clients_available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let statuses = watch_a_change("sse").await;
    assert_eq!(
        statuses,
        [200, 200],
        "one fetch at start, one when the stream tells of the change, none between"
    );
}

/// The Python client's interpreter: the virtual environment `.ci/run` makes beside the npm
/// clients, with `requirements.txt` installed; `None` (said loudly; a failure under CI) when
/// it is not there.
fn python() -> Option<PathBuf> {
    let python = clients().join(".venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the Python OFREP client test needs {} under CI: `python3 -m venv` there and `pip install -r requirements.txt`",
        python.display()
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED the Python OFREP client test: no {} (python3 -m venv toggles-http/tests/ofrep-clients/.venv, then pip install -r requirements.txt) ***\n",
        python.display()
    );
    None
}

/// Puts the grader at 30% with `vip` listed, and the upload limit at 5,000,000, then runs
/// `program` (a client's interpreter and script) with the router's base URL as its last
/// argument; what it printed, as JSON.
async fn evaluate_with(program: Vec<PathBuf>) -> Value {
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let _ = (&NEW_GRADER, &MAX_UPLOAD_BYTES);
    toggles::write(
        Change::flag(
            "grading.new_grader",
            FlagRule::new().percent(30.0).users_on(["vip"]),
        )
        .by("ana")
        .because("30% and the vip"),
    )
    .unwrap();
    toggles::write(
        Change::setting("uploads.max_upload_bytes", 5_000_000)
            .by("ana")
            .because("smaller"),
    )
    .unwrap();
    let base = serve().await;
    let run = tokio::task::spawn_blocking(move || {
        Command::new(&program[0])
            .args(&program[1..])
            .arg(base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// What every client must have got from [`evaluate_with`].
fn assert_evaluations(got: &Value) {
    let on = got["on_of_2000"].as_u64().unwrap();
    assert!(
        (540..=660).contains(&on),
        "30% of 2,000 within 3 points: {on}"
    );
    assert_eq!(
        got["vip"],
        serde_json::json!({"value": true, "reason": "TARGETING_MATCH", "variant": "on", "error": null})
    );
    assert_eq!(got["setting"]["value"], 5_000_000);
    assert_eq!(got["setting"]["reason"], "STATIC");
    assert_eq!(got["mismatch"]["value"], "x");
    assert_eq!(got["mismatch"]["error"], "TYPE_MISMATCH");
    assert_eq!(got["missing"]["value"], true);
    assert_eq!(got["missing"]["error"], "FLAG_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_provider_evaluates_rollouts_settings_and_errors() {
    let Some(python) = python() else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let got = evaluate_with(vec![python, clients().join("python-provider.py")]).await;
    assert_evaluations(&got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_server_provider_evaluates_rollouts_settings_and_errors() {
    if !clients_available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let got = evaluate_with(vec!["node".into(), clients().join("server-provider.mjs")]).await;
    assert_evaluations(&got);
}
