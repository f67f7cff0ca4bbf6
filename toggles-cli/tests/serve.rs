//! `toggles serve` end to end: the built binary over a file store the fleet published to,
//! spoken to over sockets as a client in another language would.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use support::{experiment_fleet, file_store, stderr, toggles};

/// A running `toggles serve`, killed when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    /// What it printed on standard error after it started listening, read on a thread.
    log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(store: &str, extra: &[&str]) -> Served {
        Served::start_on(store, "127.0.0.1:0", extra)
    }

    fn start_on(store: &str, listen: &str, extra: &[&str]) -> Served {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("toggles"))
            .env_remove("TOGGLES_STORE")
            .env_remove("TOGGLES_STORE_TOKEN")
            .args(["--store", store, "serve", "--listen", listen])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut before = Vec::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!(
                    "the server stopped before listening:\n{}",
                    before.join("\n")
                );
            };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim_end_matches('/').parse().expect("an address");
            }
            before.push(line);
        };
        let (tx, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Served { child, addr, log }
    }

    /// One request on a connection of its own: status, headers and body.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &str,
    ) -> (u16, String, String) {
        let mut socket = TcpStream::connect(self.addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        socket.write_all(head.as_bytes()).unwrap();
        socket.write_all(body.as_bytes()).unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
        let status = head[9..12].parse().expect("a status code");
        (status, head.to_owned(), body.to_owned())
    }

    fn json(&self, method: &str, path: &str, headers: &[&str], body: &Json) -> (u16, Json) {
        let (status, _, text) = self.request(method, path, headers, &body.to_string());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Json::String(text)),
        )
    }
}

fn tokens(dir: &Path) -> String {
    let path = dir.join("tokens.json");
    let tokens = json!({
        "ops-token": {"id": "ops", "admin": true},
        "reader-token": {"id": "dashboard", "scopes": ["read", "evaluate"]},
    });
    std::fs::write(&path, tokens.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn serves_the_fleets_toggles_over_ofrep_and_the_json_api_without_a_service_in_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let set = toggles(&store)
        .args([
            "flag",
            "grading.new_grader",
            "--users-on",
            "ana",
            "--percent",
            "30",
        ])
        .args(["--reason", "rollout", "--actor", "ops"])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr(&set));
    let served = Served::start(&store, &["--tokens", &tokens(dir.path())]);

    let (status, _, body) = served.request("GET", "/healthz", &[], "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, body) = served.request("GET", "/readyz", &[], "");
    assert_eq!(status, 200, "{body}");

    // OFREP, evaluated against the declarations the fleet published.
    let ofrep = "/ofrep/v1/evaluate/flags/";
    let (status, answer) = served.json(
        "POST",
        &format!("{ofrep}grading.new_grader"),
        &[],
        &json!({"context": {"targetingKey": "ana"}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["value"].clone(), answer["reason"].clone()),
        (json!(true), json!("TARGETING_MATCH"))
    );
    let on = (0..2_000)
        .filter(|i| {
            let (_, a) = served.json(
                "POST",
                &format!("{ofrep}grading.new_grader"),
                &[],
                &json!({"context": {"targetingKey": format!("user-{i}")}}),
            );
            a["value"] == json!(true)
        })
        .count();
    assert!(
        (540..=660).contains(&on),
        "30% of 2,000 users within three points: {on}"
    );
    let (_, setting) = served.json(
        "POST",
        &format!("{ofrep}uploads.max_bytes"),
        &[],
        &json!({"context": {}}),
    );
    assert_eq!(setting["value"], json!(1024));
    let (_, arm) = served.json(
        "POST",
        &format!("{ofrep}checkout.checkout_flow"),
        &[],
        &json!({"context": {"targetingKey": "42"}}),
    );
    assert_eq!(arm["value"], json!("classic"), "{arm}");
    assert_eq!(arm["metadata"]["arms"], json!("classic,one_page,express"));
    assert!(
        arm["metadata"].get("owner").is_none(),
        "no owner for anonymous clients: {arm}"
    );
    let (status, missing) = served.json(
        "POST",
        &format!("{ofrep}grading.nope"),
        &[],
        &json!({"context": {}}),
    );
    assert_eq!(
        (status, missing["errorCode"].clone()),
        (404, json!("FLAG_NOT_FOUND"))
    );
    let (_, bulk) = served.json(
        "POST",
        "/ofrep/v1/evaluate/flags",
        &[],
        &json!({"context": {"targetingKey": "ana"}}),
    );
    assert_eq!(bulk["flags"].as_array().map(Vec::len), Some(4), "{bulk}");
}

#[test]
fn writes_through_it_are_validated_against_the_fleets_declarations_and_audited_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let served = Served::start(&store, &["--tokens", &tokens(dir.path())]);
    let ofrep = "/ofrep/v1/evaluate/flags/";
    // Writes, validated against the declarations and made as the bearer.
    let write = |token: &str, name: &str, body: Json| {
        served.json(
            "POST",
            &format!("/{name}"),
            &[&format!("Authorization: Bearer {token}")],
            &body,
        )
    };
    let (status, refused) = write(
        "ops-token",
        "checkout.checkout_flow",
        json!({"change": {"variant": {"coverage": 50, "weights": {"one_pag": 10000}}}, "reason": "try"}),
    );
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused.to_string().contains("one_page"),
        "the closest arm suggested: {refused}"
    );
    let (status, refused) = write(
        "reader-token",
        "grading.new_grader",
        json!({"change": {"flag": {"everyone": true}}, "reason": "go"}),
    );
    assert_eq!(status, 403, "a credential without `write`: {refused}");
    let (status, entry) = write(
        "ops-token",
        "grading.new_grader",
        json!({"change": {"flag": {"everyone": true}}, "reason": "go"}),
    );
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["entry"]["actor"], json!("ops"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, a) = served.json(
            "POST",
            &format!("{ofrep}grading.new_grader"),
            &[],
            &json!({"context": {"targetingKey": "zed"}}),
        );
        if a["value"] == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "the write is in force: {a}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let audit = toggles(&store)
        .args(["audit", "grading.new_grader", "--json"])
        .output()
        .unwrap();
    let newest: Json =
        serde_json::from_slice(audit.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (newest["actor"].clone(), newest["reason"].clone()),
        (json!("ops"), json!("go")),
        "the audit entry is in the store"
    );

    // The report is the fleet's, and the server publishes no declaration of its own.
    let (_, report) = served.json("GET", "/", &[], &Json::Null);
    let names: Vec<&str> = report["toggles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "catalog.recommendations",
            "checkout.checkout_flow",
            "grading.new_grader",
            "uploads.max_bytes"
        ]
    );
    let fleet = toggles(&store)
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    let fleet: Json = serde_json::from_slice(&fleet.stdout).expect("the fleet report as JSON");
    for t in fleet["toggles"].as_array().unwrap() {
        let declarers = t["declared_by"].to_string();
        assert!(
            !declarers.contains("toggles-serve"),
            "the server declares nothing: {declarers}"
        );
    }

    let (status, _, metrics) = served.request("GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    for line in [
        "toggles_toggles_served 4",
        "toggles_store_up 1",
        "toggles_http_requests_total{code=\"200\"}",
        "toggles_http_requests_total{code=\"422\"} 1",
        "toggles_connections 1",
    ] {
        assert!(metrics.contains(line), "`{line}` in\n{metrics}");
    }
}

#[test]
fn closes_connections_that_never_finish_their_request_head_and_bounds_how_many_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let served = Served::start(
        &store,
        &["--header-timeout", "1s", "--max-connections", "2"],
    );
    let half_open = || {
        let mut socket = TcpStream::connect(served.addr).unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket
    };
    let started = Instant::now();
    let mut held = [half_open(), half_open()];
    // A third client waits in the listen queue while both slots are held.
    let mut third = TcpStream::connect(served.addr).unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut answer = Vec::new();
    assert!(
        third.read_to_end(&mut answer).is_err() && answer.is_empty(),
        "not served while two connections are open"
    );
    for socket in &mut held {
        let mut rest = Vec::new();
        // The server closes it, with or without a 408 first.
        socket.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty() || String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&rest)
        );
    }
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(5),
        "closed after {closed_after:?}"
    );
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    third.read_to_end(&mut answer).unwrap();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "served once a slot freed: {}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn on_sigterm_ends_the_change_streams_and_exits_once_requests_are_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "shutdown_grace = \"5s\"\nofrep_metadata = \"full\"\n",
    )
    .unwrap();
    let mut served = Served::start(&store, &["--config", config.to_str().unwrap()]);
    let (_, full) = served.json(
        "POST",
        "/ofrep/v1/evaluate/flags/grading.new_grader",
        &[],
        &json!({"context": {}}),
    );
    assert_eq!(
        full["metadata"]["owner"],
        json!("team-grading"),
        "the config file is read: {full}"
    );

    let mut stream = TcpStream::connect(served.addr).unwrap();
    stream
        .write_all(b"GET /ofrep/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !served
        .request("GET", "/metrics", &[], "")
        .2
        .contains("toggles_change_streams 1")
    {
        assert!(Instant::now() < deadline, "the stream is counted");
        std::thread::sleep(Duration::from_millis(20));
    }

    let stopping = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = Vec::new();
    stream
        .read_to_end(&mut rest)
        .expect("the stream ends instead of holding the server");
    let status = served.child.wait().unwrap();
    assert!(status.success(), "exits 0 on SIGTERM: {status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "without waiting out the grace period: {:?}",
        stopping.elapsed()
    );
    let log: Vec<String> = served.log.try_iter().collect();
    assert!(log.iter().any(|l| l.contains("shutting down")), "{log:?}");
    assert!(
        TcpStream::connect(served.addr).is_err(),
        "no longer listening"
    );
}

#[test]
fn rate_limits_each_client_by_its_address_and_reloads_tokens_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let tokens_path = tokens(dir.path());
    let served = Served::start(
        &store,
        &[
            "--tokens",
            &tokens_path,
            "--rate-limit",
            "1",
            "--rate-burst",
            "2",
        ],
    );
    let evaluate = |headers: &[&str]| {
        served.request(
            "POST",
            "/ofrep/v1/evaluate/flags/grading.new_grader",
            headers,
            r#"{"context": {}}"#,
        )
    };
    assert_eq!(evaluate(&[]).0, 200);
    assert_eq!(evaluate(&[]).0, 200);
    let (status, head, _) = evaluate(&[]);
    assert_eq!(status, 429, "a third request at once from one address");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );

    // The token file is read again when it changes: a revoked token stops working, a new one
    // starts; a broken file keeps the tokens in force.
    let bearer = |token: &str| format!("Authorization: Bearer {token}");
    let reset = |token: &str| {
        served
            .json(
                "POST",
                "/grading.new_grader",
                &[&bearer(token)],
                &json!({"change": "reset", "reason": "tidy"}),
            )
            .0
    };
    assert_eq!(reset("ops-token"), 200);
    std::thread::sleep(Duration::from_millis(1_100)); // a new modification time
    std::fs::write(
        &tokens_path,
        json!({"new-ops-token": {"id": "ops", "admin": true}}).to_string(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reset("ops-token") != 401 {
        assert!(
            Instant::now() < deadline,
            "the revoked token is refused within the poll"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(reset("new-ops-token"), 200);
    std::thread::sleep(Duration::from_millis(1_100));
    std::fs::write(&tokens_path, "{ half written").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served
        .log
        .try_iter()
        .any(|l| l.contains("the tokens in force stay"))
    {
        assert!(Instant::now() < deadline, "the broken file is reported");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(reset("new-ops-token"), 200, "the tokens in force stay");
}

/// Polls `check` every 20 ms until it holds, for at most `within`; how long it took.
fn until(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// `grading.new_grader`'s answer for a user no rule names.
fn answer(served: &Served) -> Json {
    let context = json!({"context": {"targetingKey": "zed"}});
    served
        .json(
            "POST",
            "/ofrep/v1/evaluate/flags/grading.new_grader",
            &[],
            &context,
        )
        .1["value"]
        .clone()
}

/// A file store the fleet published to, and where its tokens are.
struct Fleet {
    _dir: tempfile::TempDir,
    store: String,
    tokens: String,
}

/// A server over a file store (the upstream), and a relay following it with `ops-token`.
fn relays() -> (Fleet, Served, Served) {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let tokens = tokens(dir.path());
    let upstream = Served::start(&store, &["--tokens", &tokens]);
    let relay = Served::start(
        &format!("http://{}", upstream.addr),
        &["--tokens", &tokens, "--store-token", "ops-token"],
    );
    let fleet = Fleet {
        _dir: dir,
        store,
        tokens,
    };
    (fleet, upstream, relay)
}

#[test]
fn a_relay_follows_a_relay_and_writes_through_it_land_in_the_store_audited() {
    let (dir, upstream, relay) = relays();
    let store = dir.store.as_str();
    assert_eq!(
        answer(&relay),
        json!(false),
        "the relay serves the fleet's declarations"
    );
    until(
        Duration::from_secs(10),
        "the relay follows the upstream's stream",
        || {
            upstream
                .request("GET", "/metrics", &[], "")
                .2
                .contains("toggles_sync_followers 1")
        },
    );

    // A change in the store reaches the relay of the relay through both streams.
    let set = toggles(store)
        .args([
            "flag",
            "grading.new_grader",
            "--everyone",
            "on",
            "--reason",
            "launch",
            "--actor",
            "ana",
        ])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr(&set));
    let took = until(
        Duration::from_secs(10),
        "the change reaches the second relay",
        || answer(&relay) == json!(true),
    );
    eprintln!("a change in the file store reached the second relay in {took:?}");

    // A write through the second relay lands in the store, audited as its principal.
    let (status, entry) = relay.json(
        "POST",
        "/grading.new_grader",
        &["Authorization: Bearer ops-token"],
        &json!({"change": {"flag": {"percent": 0}}, "reason": "roll back"}),
    );
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["entry"]["actor"], json!("ops"));
    until(
        Duration::from_secs(10),
        "the write is in force upstream",
        || answer(&upstream) == json!(false),
    );
    assert_eq!(
        answer(&relay),
        json!(false),
        "and at once where it was made"
    );
    let audit = toggles(store)
        .args(["audit", "grading.new_grader", "--json"])
        .output()
        .unwrap();
    let newest: Json =
        serde_json::from_slice(audit.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        (newest["actor"].clone(), newest["reason"].clone()),
        (json!("ops"), json!("roll back"))
    );
    // Through the relays, a write the declarations refuse is refused whole.
    let (status, refused) = relay.json(
        "POST",
        "/uploads.max_bytes",
        &["Authorization: Bearer ops-token"],
        &json!({"change": {"setting": "lots"}, "reason": "more"}),
    );
    assert_eq!(status, 422, "{refused}");
}

#[test]
fn a_relay_whose_upstream_goes_away_keeps_its_last_good_state_and_catches_up_on_return() {
    let (dir, upstream, relay) = relays();
    let (store, tokens) = (dir.store.as_str(), dir.tokens.as_str());
    let upstream_url = format!("http://{}", upstream.addr);
    // The fleet report reads through a relay, and both servers are in it.
    let report = toggles(&upstream_url)
        .args(["--store-token", "ops-token", "report", "--format", "json"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", stderr(&report));
    let report: Json = serde_json::from_slice(&report.stdout).unwrap();
    let serve = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == json!("toggles-serve"))
        .cloned();
    assert_eq!(
        serve.map(|s| s["instances"].clone()),
        Some(json!(2)),
        "both servers published through the relay: {}",
        report["services"]
    );
    // The upstream relay goes away: the second keeps serving its last good state and says so.
    let upstream_addr = upstream.addr.to_string();
    drop(upstream);
    until(Duration::from_secs(10), "the outage is reported", || {
        relay
            .request("GET", "/metrics", &[], "")
            .2
            .contains("toggles_store_up 0")
    });
    assert_eq!(
        answer(&relay),
        json!(false),
        "the last good state stays in force"
    );
    let (status, body) = relay.json(
        "POST",
        "/grading.new_grader",
        &["Authorization: Bearer ops-token"],
        &json!({"change": "reset", "reason": "r"}),
    );
    assert_eq!(
        status, 503,
        "a write with the relay away is refused: {body}"
    );

    // It comes back, changed meanwhile: the second relay catches up.
    let set = toggles(store)
        .args([
            "flag",
            "grading.new_grader",
            "--everyone",
            "on",
            "--reason",
            "again",
            "--actor",
            "ana",
        ])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr(&set));
    let _upstream = Served::start_on(store, &upstream_addr, &["--tokens", tokens]);
    until(
        Duration::from_secs(20),
        "the second relay catches up",
        || answer(&relay) == json!(true),
    );
    until(Duration::from_secs(10), "and says the store is up", || {
        relay
            .request("GET", "/metrics", &[], "")
            .2
            .contains("toggles_store_up 1")
    });
}

#[test]
fn two_hundred_followers_on_one_relay_each_hear_of_a_change() {
    use std::sync::{Arc, Mutex};
    use toggles_runtime::store::{RemoteStore, Store as _};

    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path(), &experiment_fleet());
    let relay = Served::start(&store, &[]);
    let url = format!("http://{}", relay.addr);
    let heard: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let followers: Vec<RemoteStore> = (0..200)
        .map(|_| {
            let follower = RemoteStore::new(&url);
            follower.load().expect("the relay answers");
            let heard = Arc::clone(&heard);
            follower
                .watch(Arc::new(move || heard.lock().unwrap().push(Instant::now())))
                .unwrap();
            follower
        })
        .collect();
    until(
        Duration::from_secs(20),
        "every follower is on the stream",
        || {
            relay
                .request("GET", "/metrics", &[], "")
                .2
                .contains("toggles_sync_followers 200")
        },
    );
    heard.lock().unwrap().clear();
    let wrote = Instant::now();
    let set = toggles(&store)
        .args([
            "set",
            "catalog.recommendations",
            "off",
            "--reason",
            "load",
            "--actor",
            "ops",
        ])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr(&set));
    until(
        Duration::from_secs(10),
        "all 200 hear of the change",
        || heard.lock().unwrap().len() >= 200,
    );
    let mut took: Vec<Duration> = heard.lock().unwrap().iter().map(|t| *t - wrote).collect();
    took.sort();
    eprintln!(
        "200 followers of one relay heard of a change in the store: median {:?}, slowest {:?} (the `toggles set` process included)",
        took[took.len() / 2],
        took[took.len() - 1]
    );
    for follower in &followers {
        let snapshot = follower.load().unwrap();
        assert_eq!(
            snapshot.switches.get("catalog.recommendations"),
            Some(&json!(false))
        );
    }
}

#[test]
fn followers_of_a_relay_over_postgresql_count_outcomes_and_exposures_fleet_wide() {
    use toggles_runtime::store::{Counts, Exposed, OutcomeWindow, RemoteStore, Store as _, Use};
    use toggles_runtime::Timestamp;

    let Some(schema) = support::postgres_schema("relay_counts") else {
        return;
    };
    let settings = support::postgres_settings();
    let pg = toggles_postgres::PostgresStore::new(&settings, &schema).unwrap();
    support::publish(&pg, &experiment_fleet());
    let dir = tempfile::tempdir().unwrap();
    let tokens = tokens(dir.path());
    let relay = Served::start(
        &format!("postgres:{settings}"),
        &["--schema", &schema, "--tokens", &tokens],
    );
    let url = format!("http://{}", relay.addr);
    let (web_1, web_2) = (
        RemoteStore::new(&url).token("ops-token"),
        RemoteStore::new(&url).token("ops-token"),
    );
    let now = Timestamp::now();
    let key = "grading.new_grader";
    // Two instances' outcomes, each through the relay, summed by the relay's database.
    assert!(web_1
        .record_outcomes(
            "web-1",
            now,
            &[(key.to_owned(), Counts::new(90, 10, 95, 5))]
        )
        .unwrap());
    assert!(web_2
        .record_outcomes(
            "web-2",
            now,
            &[(key.to_owned(), Counts::new(80, 20, 99, 1))]
        )
        .unwrap());
    let since = Timestamp::from_unix_seconds(now.unix_seconds() - 60);
    let fleet = web_1
        .fleet_outcomes(&[OutcomeWindow::new(key, key, since)])
        .unwrap()
        .expect("PostgreSQL keeps outcome counts");
    assert_eq!(fleet, [Counts::new(170, 30, 194, 6)]);
    // Exposures from both, counted once per unit in the results.
    let flow = "checkout.checkout_flow";
    let exposed = |unit: &str, arm: &str| Exposed::new(flow, unit, arm, now);
    assert!(web_1
        .record_exposures(&[exposed("u1", "one_page"), exposed("u2", "classic")])
        .unwrap());
    assert!(web_2
        .record_exposures(&[exposed("u1", "one_page"), exposed("u3", "one_page")])
        .unwrap());
    let counts = web_2.experiment_counts(flow).unwrap().expect("counts");
    assert_eq!(
        (counts["one_page"].exposed, counts["classic"].exposed),
        (2, 1)
    );
    // Two instances of one service report what they evaluated: kept per toggle and service.
    assert!(web_1
        .record_usage("web", now, &[Use::new(key, vec!["on".to_owned()])])
        .unwrap());
    assert!(web_2
        .record_usage("web", now, &[Use::new(key, vec!["off".to_owned()])])
        .unwrap());
    let usage = web_2.usage().unwrap().expect("PostgreSQL keeps usage");
    let web = usage
        .iter()
        .find(|u| u.toggle == key && u.service == "web")
        .expect("the toggle's usage by `web`");
    assert_eq!(web.answers.keys().collect::<Vec<_>>(), ["off", "on"]);
    // A follower without a credential records nothing.
    let anonymous = RemoteStore::new(&url);
    let refused =
        anonymous.record_outcomes("web-3", now, &[(key.to_owned(), Counts::new(1, 0, 1, 0))]);
    assert!(refused.unwrap_err().to_string().contains("401"));
}
