//! A real browser on the admin pages: headless Chromium, driven through chromedriver, against the
//! router served on 127.0.0.1. An owner widens a rollout from 10% to 50% through the form and
//! sees it in the history; an invalid percent shows its error on the page; a non-owner sees no
//! form, and a forged POST is refused. Screenshots of the list and the toggle page are saved
//! under `target/screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them). Without them the test says so loudly and passes,
//! except under CI (`CI=true`), where it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag, Switch};
use toggles_http::{router, BearerTokens, Config};

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2025-06-01",
    owner = "grading-team"
)]
static NEW_GRADER: Flag;

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    owner = "catalog-team",
    justification = "circuit breaker"
)]
static RECOMMENDATIONS: Switch = true;

const TOKENS: &str = r#"{
    "ana-token": {"id": "ana", "teams": ["grading-team"]},
    "bob-token": {"id": "bob", "teams": ["catalog-team"]}
}"#;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser is here; if not, say so, and fail under CI.
fn browser_available() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the browser tests need {CHROMIUM} and {CHROMEDRIVER} under CI: install Debian's `chromium` and `chromium-driver`"
    );
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED the browser test: no {CHROMIUM} or {CHROMEDRIVER} (apt-get install chromium chromium-driver) ***\n"
    );
    false
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until the page's source satisfies `done`: a click that navigates returns before the
/// next page has loaded.
async fn settle(client: &Client, what: &str, done: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let source = client.source().await.unwrap_or_default();
        if done(&source) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not within 15 s: {what}\n{source}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(client: &Client, base: &str, token: &str) {
    client.goto(&format!("{base}/admin/login")).await.unwrap();
    client
        .find(Locator::Css("input[name=token]"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    click(client, Locator::Css("form button")).await;
    settle(client, "signed in, on the list", |page| {
        page.contains("signed in as") && page.contains("<h1>Toggles</h1>")
    })
    .await;
}

async fn click(client: &Client, locator: Locator<'_>) {
    client.find(locator).await.unwrap().click().await.unwrap();
}

async fn fill(client: &Client, name: &str, text: &str) {
    let field = client
        .find(Locator::Css(&format!("[name={name}]")))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_widens_a_rollout_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let _ = (&NEW_GRADER, &RECOMMENDATIONS);
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let rule = FlagRule::new().percent(10.0);
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana")
            .because("start the rollout"),
    )
    .unwrap();

    let base = serve().await;
    let driver = Driver::start();
    let profile = tempfile_dir();
    let client = browser(&driver, &profile).await;

    owner_widens_the_rollout(&client, &base).await;
    others_cannot(&client, &base).await;
    client.close().await.unwrap();
    let _ = std::fs::remove_dir_all(profile);
}

/// The router, nested at `/toggles`, on a free port of 127.0.0.1; its base address.
async fn serve() -> String {
    let app = axum::Router::new().nest(
        "/toggles",
        router(Config::new(BearerTokens::from_json(TOKENS).unwrap())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/toggles", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A fresh, empty browser profile.
fn tempfile_dir() -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The owner signs in, sees the list, widens the rollout through the form, and then tries a
/// percent out of range.
async fn owner_widens_the_rollout(client: &Client, base: &str) {
    sign_in(client, base, "ana-token").await;
    let list = client.source().await.unwrap();
    assert!(
        list.contains("grading.new_grader") && list.contains("EXPIRED"),
        "{list}"
    );
    let states = client.find_all(Locator::Css("span.words")).await.unwrap();
    let mut words = Vec::new();
    for state in &states {
        assert!(state.is_displayed().await.unwrap());
        words.push(state.text().await.unwrap());
    }
    assert_eq!(
        words,
        [
            "on for everyone (the compiled default)",
            "on for 10% of users by user id"
        ]
    );
    std::fs::write(
        screenshots().join("admin-list.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    click(client, Locator::LinkText("grading.new_grader")).await;
    settle(client, "the toggle's page", |page| {
        page.contains(r#"id="edit""#)
    })
    .await;
    fill(client, "percent", "50").await;
    fill(client, "reason", "error rate flat at 10%").await;
    click(client, Locator::Css("#edit button")).await;
    settle(client, "the saved rollout", |page| {
        page.contains(r#""percent": 50.0"#) && page.contains("error rate flat at 10%")
    })
    .await;
    let state = client
        .find(Locator::Id("state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(state.contains("\"percent\": 50.0"), "{state}");
    let history = client
        .find(Locator::Id("history"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(history.contains("error rate flat at 10%"), "{history}");
    reads_at_a_glance(client).await;
    std::fs::write(
        screenshots().join("admin-toggle.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // An invalid percent: the error is on the page, and nothing changed.
    fill(client, "percent", "150").await;
    fill(client, "reason", "too far").await;
    click(client, Locator::Css("#edit button")).await;
    settle(client, "the refused change's page", |page| {
        page.contains(r#"id="problems""#)
    })
    .await;
    let problems = client
        .find(Locator::Id("problems"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        problems.contains("`percent` is from 0 to 100, not 150"),
        "{problems}"
    );
    std::fs::write(
        screenshots().join("admin-error.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    let live = toggles::registry()
        .get("grading.new_grader")
        .unwrap()
        .live()
        .unwrap();
    assert_eq!(live.value["percent"], 50.0);
}

/// The toggle's page at 50%: the rule in words, and the share over time drawn by the browser.
async fn reads_at_a_glance(client: &Client) {
    let words = client
        .find(Locator::Id("words"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(words, "on for 50% of users by user id");
    let chart = client.find(Locator::Id("timeline")).await.unwrap();
    assert!(chart.is_displayed().await.unwrap());
    let (_, _, width, height) = chart.rectangle().await.unwrap();
    assert!(
        width > 500.0 && height > 100.0,
        "the chart is drawn: {width}×{height}"
    );
    let marks = client
        .find_all(Locator::Css("#timeline circle.change"))
        .await
        .unwrap();
    assert_eq!(marks.len(), 2, "the start at 10% and the widening to 50%");
}

/// Someone else: no form; a POST forged in the page is refused.
async fn others_cannot(client: &Client, base: &str) {
    client.delete_all_cookies().await.unwrap();
    sign_in(client, base, "bob-token").await;
    client
        .goto(&format!("{base}/admin/t/grading.new_grader"))
        .await
        .unwrap();
    assert!(
        client.find(Locator::Id("edit")).await.is_err(),
        "no edit control"
    );
    client
        .execute(
            "const f = document.createElement('form'); f.method = 'post';
             for (const [k, v] of [['csrf', 'forged'], ['percent', '100'], ['active', '1'], ['reason', 'mine']]) {
               const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
             }
             document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap();
    let start = Instant::now();
    while !client
        .source()
        .await
        .unwrap()
        .contains("did not come from this page")
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the forged POST is refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let live = toggles::registry()
        .get("grading.new_grader")
        .unwrap()
        .live()
        .unwrap();
    assert_eq!(live.value["percent"], 50.0, "nothing changed");
}
