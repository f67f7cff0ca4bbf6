//! The admin pages through tower's `oneshot`: the list and its filters, signing in, the edit
//! form only for those who may use it, forgery refused, and errors shown on the form.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag, Setting, Switch};
use toggles_http::{router, BearerTokens, Config};
use tower::ServiceExt as _;

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

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    owner = "grading-team",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

const TOKENS: &str = r#"{
    "ana-token": {"id": "ana", "teams": ["grading-team"]},
    "bob-token": {"id": "bob", "teams": ["catalog-team"]}
}"#;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Reply {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    session: Option<&str>,
    form: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = session {
        request = request.header("cookie", support::session_cookie(app, token).await);
    }
    let body = match form {
        Some(form) => {
            request = request.header("content-type", "application/x-www-form-urlencoded");
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, location) = (response.status(), header("location"));
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        location,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// The routers of these tests share a key, so a session signed in on one holds on the next.
fn app() -> axum::Router {
    router(Config::new(BearerTokens::from_json(TOKENS).unwrap()).key([7; 32]))
}

/// The anti-forgery token of the edit form on `page`.
fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("an edit form") + 19;
    page[at..at + 64].to_owned()
}

#[tokio::test]
async fn the_list_filters_and_marks_expired_toggles() {
    let _g = SERIAL.lock().await;
    let mut held = toggles::store::Snapshot::default();
    held.switches.insert("billing.retired".into(), true.into());
    let _toggles = toggles::install(MemoryStore::from(held)).unwrap();
    let _ = (&NEW_GRADER, &RECOMMENDATIONS, &MAX_UPLOAD_BYTES);
    let app = app();
    let all = call(&app, "GET", "/admin/", None, None).await;
    assert_eq!(all.status, StatusCode::OK);
    for name in [
        "grading.new_grader",
        "catalog.recommendations",
        "uploads.max_upload_bytes",
    ] {
        assert!(all.body.contains(name), "{name}");
    }
    assert!(
        all.body.contains(r#"<tr class="expired">"#),
        "an expired toggle stands out"
    );
    assert!(
        all.body.contains(r#"id="undeclared""#) && all.body.contains("billing.retired"),
        "state no toggle of this service declares is listed"
    );
    let flags = call(&app, "GET", "/admin/?kind=flag", None, None).await;
    assert!(
        flags.body.contains("grading.new_grader")
            && !flags.body.contains("catalog.recommendations")
    );
    let mine = call(&app, "GET", "/admin/?owner=catalog-team", None, None).await;
    assert!(
        mine.body.contains("catalog.recommendations") && !mine.body.contains("grading.new_grader")
    );
    let never_set = call(&app, "GET", "/admin/?never_set=1", None, None).await;
    assert!(never_set.body.contains("grading.new_grader"));
    let expired = call(&app, "GET", "/admin/?expired=1", None, None).await;
    assert!(
        expired.body.contains("grading.new_grader")
            && !expired.body.contains("uploads.max_upload_bytes")
    );
}

/// A store installed for one test, which keeps other tests out until dropped.
struct Installed {
    _toggles: toggles::Installation,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

/// A fresh store in which the grader is at 10%.
async fn grader_at_ten() -> Installed {
    let serial = SERIAL.lock().await;
    let toggles = toggles::install(MemoryStore::new()).unwrap();
    let rule = FlagRule::new().percent(10.0);
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana")
            .because("start"),
    )
    .unwrap();
    Installed {
        _toggles: toggles,
        _serial: serial,
    }
}

fn percent_in_force() -> serde_json::Value {
    let live = toggles::registry()
        .get("grading.new_grader")
        .unwrap()
        .live()
        .unwrap();
    live.value["percent"].clone()
}

/// Signs in with `token` on `app` (no cache): the `Set-Cookie` answered, whole.
async fn sign_in(app: &axum::Router, token: &str, headers: &[(&str, &str)]) -> Option<String> {
    let mut request = Request::builder()
        .method("POST")
        .uri("/admin/login")
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(format!("token={token}"))).unwrap())
        .await
        .unwrap();
    response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The page of the grader as the browser holding `cookie` sees it.
async fn page_with(app: &axum::Router, cookie: &str) -> String {
    let request = Request::builder()
        .uri("/admin/t/grading.new_grader")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_session_is_a_signed_id_never_the_token() {
    let _g = grader_at_ten().await;
    let app = app();
    let set = sign_in(&app, "ana-token", &[]).await.unwrap();
    assert!(!set.contains("ana-token"), "{set}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(attribute), "{attribute}: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(page_with(&app, &cookie)
        .await
        .contains("signed in as <strong>ana</strong>"));

    // The raw token in the cookie, as the cookie used to hold it, signs nobody in.
    let old = page_with(&app, "toggles_session=ana-token").await;
    assert!(old.contains(">sign in</a>") && !old.contains(r#"id="edit""#));
    // Nor does a session tampered with.
    let mut tampered = cookie.clone();
    tampered.insert(tampered.len() - 2, 'A');
    assert!(page_with(&app, &tampered).await.contains(">sign in</a>"));

    // A session writes through the forms only: the JSON API wants the bearer token.
    let write = Request::builder()
        .method("POST")
        .uri("/grading.new_grader")
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"change": {"flag": {"percent": 90}}, "reason": "cookie"}"#,
        ))
        .unwrap();
    let response = app.clone().oneshot(write).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(percent_in_force(), 10.0);

    // Behind HTTPS, and nested: `Secure`, and the router's path only.
    let nested = axum::Router::new().nest("/toggles", app.clone());
    let request = Request::builder()
        .method("POST")
        .uri("/toggles/admin/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(Body::from("token=ana-token"))
        .unwrap();
    let response = nested.oneshot(request).await.unwrap();
    let set = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("Secure") && set.contains("Path=/toggles/"),
        "{set}"
    );

    assert!(sign_in(&app, "nope", &[]).await.is_none());
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let _g = grader_at_ten().await;
    let app = app();
    let cookie = sign_in(&app, "ana-token", &[]).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = page_with(&app, &cookie).await;
    let token = csrf(&page);
    let forged = Request::builder()
        .method("POST")
        .uri("/admin/logout")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("csrf=0000"))
        .unwrap();
    let response = app.clone().oneshot(forged).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "another site cannot sign you out"
    );
    let logout = Request::builder()
        .method("POST")
        .uri("/admin/logout")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={token}")))
        .unwrap();
    let response = app.clone().oneshot(logout).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(
        page_with(&app, &cookie).await.contains(">sign in</a>"),
        "the cookie no longer signs in here"
    );
}

#[tokio::test]
async fn replicas_sharing_a_key_share_sessions_and_others_do_not() {
    let _g = grader_at_ten().await;
    let tokens = || BearerTokens::from_json(TOKENS).unwrap();
    let one = router(Config::new(tokens()).key([9; 32]));
    let two = router(Config::new(tokens()).key([9; 32]));
    let other = router(Config::new(tokens()).key([8; 32]));
    let cookie = sign_in(&one, "ana-token", &[]).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = page_with(&two, &cookie).await;
    assert!(page.contains("signed in as"), "the other replica");
    // A form rendered by one replica is saved by the other.
    let form = format!("csrf={}&active=1&percent=20&reason=replica", csrf(&page));
    let save = Request::builder()
        .method("POST")
        .uri("/admin/t/grading.new_grader")
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    assert_eq!(
        one.oneshot(save).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(percent_in_force(), 20.0);
    assert!(page_with(&other, &cookie).await.contains(">sign in</a>"));

    let brief = router(
        Config::new(tokens())
            .key([9; 32])
            .session_for(std::time::Duration::ZERO),
    );
    let cookie = sign_in(&brief, "ana-token", &[]).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert!(
        page_with(&brief, &cookie).await.contains(">sign in</a>"),
        "ended"
    );
}

#[tokio::test]
async fn an_owner_edits_through_the_form() {
    let _g = grader_at_ten().await;
    let app = app();
    let page = call(
        &app,
        "GET",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        None,
    )
    .await;
    assert!(page.body.contains(r#"id="edit""#));
    let token = csrf(&page.body);
    let form = format!("csrf={token}&active=1&everyone=&percent=50&reason=error+rate+flat");
    let saved = call(
        &app,
        "POST",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        Some(&form),
    )
    .await;
    assert_eq!(
        (saved.status, saved.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("grading.new_grader"))
    );
    let after = call(
        &app,
        "GET",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        None,
    )
    .await;
    assert!(after.body.contains("&quot;percent&quot;: 50.0"), "in force");
    assert!(after.body.contains("error rate flat"), "in the history");

    // An invalid percent: the error on the form, nothing changed.
    let form = format!("csrf={token}&active=1&percent=150&reason=too+far");
    let refused = call(
        &app,
        "POST",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        Some(&form),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("`percent` is from 0 to 100, not 150"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Nothing was changed"));
    assert_eq!(percent_in_force(), 50.0);
}

#[tokio::test]
async fn saving_the_form_keeps_what_it_does_not_show() {
    let _g = grader_at_ten().await;
    let guard = toggles::rules::Guard::error_rate(5.0)
        .max_p95_margin(20.0)
        .max_slow_share(std::time::Duration::from_millis(250), 10.0)
        .max_traffic_drop(30.0)
        .window_secs(60)
        .min_requests(10);
    let rule = FlagRule::new()
        .percent(10.0)
        .salt("grader-2025")
        .guard(guard.clone());
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana")
            .because("guard it"),
    )
    .unwrap();
    let app = app();
    let page = call(
        &app,
        "GET",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        None,
    )
    .await;
    assert!(
        page.body.contains(
            "Guarded: turned off by the guard when the on arm's error rate is above 5% \
             or more than 10% of the on arm's runs take longer than 250 ms \
             or the on arm's 95th-percentile run time is more than 20% above the off arm's \
             or the on arm's traffic falls more than 30% below what the off arm's predicts \
             over 60 s"
        ),
        "{}",
        page.body
    );
    let form = format!("csrf={}&active=1&percent=20&reason=wider", csrf(&page.body));
    let saved = call(
        &app,
        "POST",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        Some(&form),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let live = toggles::registry()
        .get("grading.new_grader")
        .unwrap()
        .live()
        .unwrap();
    let stored: FlagRule = serde_json::from_value(live.value).unwrap();
    assert_eq!(stored.percent, Some(20.0));
    assert_eq!(stored.guard, Some(guard), "the guard survives a save");
    assert_eq!(stored.salt.as_deref(), Some("grader-2025"), "and the salt");
}

#[tokio::test]
async fn others_see_no_form_and_forgery_is_refused() {
    let _g = grader_at_ten().await;
    let app = app();
    let other = call(
        &app,
        "GET",
        "/admin/t/grading.new_grader",
        Some("bob-token"),
        None,
    )
    .await;
    assert!(!other.body.contains(r#"id="edit""#));
    assert!(other.body.contains("You may not change this toggle."));
    // Bob's own valid token, from a page he may edit, on a toggle he may not.
    let bobs = call(
        &app,
        "GET",
        "/admin/t/catalog.recommendations",
        Some("bob-token"),
        None,
    )
    .await;
    let forged = format!(
        "csrf={}&active=1&percent=100&reason=mine+now",
        csrf(&bobs.body)
    );
    let refused = call(
        &app,
        "POST",
        "/admin/t/grading.new_grader",
        Some("bob-token"),
        Some(&forged),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // A form without the session's token (another site's form) is refused before anything.
    let cross_site = "csrf=x&percent=100&reason=x";
    let refused = call(
        &app,
        "POST",
        "/admin/t/grading.new_grader",
        Some("ana-token"),
        Some(cross_site),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(percent_in_force(), 10.0, "nothing changed");
}

#[tokio::test]
async fn switches_and_settings_have_forms_of_their_own() {
    let _g = SERIAL.lock().await;
    let _toggles = toggles::install(MemoryStore::new()).unwrap();
    let app = app();
    let page = call(
        &app,
        "GET",
        "/admin/t/catalog.recommendations",
        Some("bob-token"),
        None,
    )
    .await;
    let form = format!("csrf={}&on=false&reason=spike", csrf(&page.body));
    let saved = call(
        &app,
        "POST",
        "/admin/t/catalog.recommendations",
        Some("bob-token"),
        Some(&form),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(!RECOMMENDATIONS.is_enabled());

    let page = call(
        &app,
        "GET",
        "/admin/t/uploads.max_upload_bytes",
        Some("ana-token"),
        None,
    )
    .await;
    let form = format!("csrf={}&value=ten&reason=typo", csrf(&page.body));
    let refused = call(
        &app,
        "POST",
        "/admin/t/uploads.max_upload_bytes",
        Some("ana-token"),
        Some(&form),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("takes a `u64`, not `&quot;ten&quot;`"),
        "{}",
        refused.body
    );
    let form = format!("csrf={}&value=5000000&reason=smaller", csrf(&page.body));
    call(
        &app,
        "POST",
        "/admin/t/uploads.max_upload_bytes",
        Some("ana-token"),
        Some(&form),
    )
    .await;
    assert_eq!(MAX_UPLOAD_BYTES.get(), 5_000_000);
}

/// The revision the edit form on `page` stands on.
fn revision(page: &str) -> String {
    let at = page
        .find(r#"name="revision" value=""#)
        .expect("an edit form")
        + 23;
    page[at..at + 16].to_owned()
}

#[tokio::test]
async fn a_form_saved_over_a_change_made_meanwhile_is_refused() {
    let _g = grader_at_ten().await;
    let app = app();
    let open = |app| {
        call(
            app,
            "GET",
            "/admin/t/grading.new_grader",
            Some("ana-token"),
            None,
        )
    };
    let page = open(&app).await;
    let (token, seen) = (csrf(&page.body), revision(&page.body));
    // Someone else widens the rollout while the page is open.
    toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().percent(30.0))
            .by("bob")
            .because("wider"),
    )
    .unwrap();
    let form = format!("csrf={token}&revision={seen}&active=1&percent=50&reason=mine");
    let post = |app, form| {
        call(
            app,
            "POST",
            "/admin/t/grading.new_grader",
            Some("ana-token"),
            form,
        )
    };
    let refused = post(&app, Some(&form)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused
            .body
            .contains("Someone changed this toggle after you opened this page"),
        "{}",
        refused.body
    );
    assert_eq!(percent_in_force(), 30.0, "the other change stands");
    // The form shown with the refusal stands on what is stored now: saved after looking.
    let fresh = revision(&refused.body);
    assert_ne!(fresh, seen);
    let form = format!("csrf={token}&revision={fresh}&active=1&percent=50&reason=mine");
    assert_eq!(post(&app, Some(&form)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(percent_in_force(), 50.0);
}

#[tokio::test]
async fn a_staged_rollout_is_shown_to_all_and_steered_by_its_owners() {
    let _g = grader_at_ten().await;
    let plan = toggles::rules::Plan::new([
        toggles::rules::Stage::hold(10.0, std::time::Duration::from_secs(600)),
        toggles::rules::Stage::hold(50.0, std::time::Duration::from_secs(3600)),
        toggles::rules::Stage::last(100.0),
    ]);
    let guard = toggles::rules::Guard::error_rate(5.0).min_requests(200);
    let rule = FlagRule::new().staged(plan).guard(guard);
    toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana")
            .because("stage it"),
    )
    .unwrap();
    let app = app();
    let page_of = |who: &'static str| {
        let app = app.clone();
        async move { call(&app, "GET", "/admin/t/grading.new_grader", Some(who), None).await }
    };
    let bobs = page_of("bob-token").await;
    assert!(
        bobs.body
            .contains("stage 1 of 3 (10%), running: stage 2 (50%) is due at "),
        "{}",
        bobs.body
    );
    assert!(bobs
        .body
        .contains(", once its guard holds on 200 outcomes under “on” in the stage"));
    assert!(bobs.body.contains("stages: 10% for 10m, 50% for 1h, 100%"));
    assert!(!bobs.body.contains(r#"name="steer""#), "not bob's to steer");

    let anas = page_of("ana-token").await;
    let buttons = |body: &str| {
        ["pause", "resume", "skip", "rollback"]
            .into_iter()
            .filter(|step| body.contains(&format!(r#"name="steer" value="{step}""#)))
            .collect::<Vec<_>>()
    };
    assert_eq!(buttons(&anas.body), ["pause", "skip"]);
    let token = csrf(&anas.body);
    let steer = |step: &'static str| {
        let (app, token) = (app.clone(), token.clone());
        async move {
            let form = format!("csrf={token}&steer={step}&reason=hold+it");
            call(
                &app,
                "POST",
                "/admin/t/grading.new_grader",
                Some("ana-token"),
                Some(&form),
            )
            .await
        }
    };
    assert_eq!(steer("pause").await.status, StatusCode::SEE_OTHER);
    let paused = page_of("ana-token").await;
    assert!(
        paused.body.contains("stage 1 of 3 (10%), paused"),
        "{}",
        paused.body
    );
    assert_eq!(buttons(&paused.body), ["resume", "skip"]);
    let again = steer("pause").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again
        .body
        .contains("the plan is paused: only a running plan pauses"));
    assert_eq!(steer("skip").await.status, StatusCode::SEE_OTHER);
    assert_eq!(percent_in_force(), 50.0);
    assert_eq!(
        buttons(&page_of("ana-token").await.body),
        ["resume", "skip", "rollback"]
    );
}

#[tokio::test]
async fn feedback_is_listed_for_those_signed_in() {
    let _g = grader_at_ten().await;
    NEW_GRADER
        .feedback(true, Some("42"), "the new grader is <b>slow</b>")
        .unwrap();
    NEW_GRADER.feedback(false, None, "fine").unwrap();
    let app = app();
    let signed_in = call(
        &app,
        "GET",
        "/admin/t/grading.new_grader",
        Some("bob-token"),
        None,
    )
    .await;
    assert!(
        signed_in
            .body
            .contains(r#"<p id="feedback-counts">2 in all: off 1, on 1</p>"#),
        "{}",
        signed_in.body
    );
    assert!(
        signed_in
            .body
            .contains("the new grader is &lt;b&gt;slow&lt;/b&gt;"),
        "escaped"
    );
    let anonymous = call(&app, "GET", "/admin/t/grading.new_grader", None, None).await;
    assert!(!anonymous.body.contains(r#"id="feedback""#));
}

#[tokio::test]
async fn a_flag_says_who_gets_what_in_words() {
    let _g = grader_at_ten().await;
    let app = app();
    let page = call(&app, "GET", "/admin/t/grading.new_grader", None, None).await;
    assert!(
        page.body
            .contains(r#"<td id="words">on for 10% of users by user id</td>"#),
        "{}",
        page.body
    );
    let list = call(&app, "GET", "/admin/", None, None).await;
    assert!(
        list.body.contains(
            r#"<span class="words" title="{&quot;percent&quot;:10.0}">on for 10% of users by user id</span>"#
        ),
        "{}",
        list.body
    );
}

#[tokio::test]
async fn a_toggle_page_charts_its_share_over_time_from_the_audit_log() {
    let _g = grader_at_ten().await;
    for (rule, why) in [
        (FlagRule::new().percent(50.0), "error rate flat"),
        (FlagRule::new().everyone(true), "launch"),
    ] {
        toggles::write(
            Change::flag("grading.new_grader", rule)
                .by("ana")
                .because(why),
        )
        .unwrap();
    }
    let app = app();
    let page = call(&app, "GET", "/admin/t/grading.new_grader", None, None).await;
    let start = page.body.find(r#"<svg id="timeline""#).expect("a chart");
    let svg = &page.body[start..start + page.body[start..].find("</svg>").unwrap()];
    assert!(
        svg.contains(r#"aria-label="share of units answered on over time""#),
        "{svg}"
    );
    // One mark per change, each saying what it set, who and why.
    assert_eq!(svg.matches(r#"<circle class="change""#).count(), 3, "{svg}");
    for title in [
        "10% by ana (start)",
        "50% by ana (error rate flat)",
        "100% by ana (launch)",
    ] {
        assert!(svg.contains(title), "`{title}` in {svg}");
    }
    // The line starts at the compiled default (off: the bottom) and ends at 100% (the top).
    let d = svg
        .split(r#"class="level" d=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(d.starts_with("M48.0 128.0 H"), "{d}");
    assert!(d.contains("V10.0"), "{d}");
    assert!(
        svg.contains(r#"text-anchor="end">100%</text>"#),
        "what holds now: {svg}"
    );
}
