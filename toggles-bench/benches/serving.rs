//! What the serving tier costs a request, in process (tower's `oneshot`, no sockets): OFREP
//! single and bulk evaluation over 10 and 350 flags, the bulk answer's `304`, the report, and a
//! follower's snapshot — beside a handler that answers a fixed body of the bulk answer's size,
//! measured in the same run: what routing and the body cost without any toggle work.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt as _;
use serde_json::json;
use toggles::fleet::{adopt, Declared};
use toggles::http::{router, BearerTokens, Config};
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::Change;
use tower::ServiceExt as _;

/// How many flags the bench serves: as many as the largest row needs.
const FLAGS: usize = 350;

fn declared(i: usize) -> Declared {
    serde_json::from_value(json!({
        "full_name": format!("bench.flag_{i:03}"), "kind": "flag", "value_type": "bool",
        "default": false, "description": "A flag of the bench.", "life": "permanent",
        "remove_by": null, "justification": "benchmark", "created": null, "owner": "bench-team",
        "use_cases": [], "tickets": null, "warning": null,
        "source": {"crate": "bench", "crate_version": "0.1.0", "module_path": "bench",
                   "file": "src/flags.rs", "line": 1, "column": 1}
    }))
    .expect("a declaration")
}

/// The answer's status and body, read whole.
async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, usize) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.len())
}

fn post(uri: &str, body: String) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// The router over 350 flags adopted as `toggles serve` adopts a fleet's, each a 30% rollout
/// with a listed user, in a memory store.
fn served() -> (toggles::Installation, axum::Router) {
    let all: Vec<Declared> = (0..FLAGS).map(declared).collect();
    adopt(&all).expect("before the registry is built");
    let toggles = toggles::install(MemoryStore::new()).unwrap();
    for d in &all {
        let rule = FlagRule::new().percent(30.0).users_on(["ana"]);
        toggles::write(
            Change::flag(&d.full_name, rule)
                .by("bench")
                .because("set up"),
        )
        .unwrap();
    }
    (toggles, router(Config::new(BearerTokens::default())))
}

fn serving(c: &mut Criterion) {
    let (_toggles, app) = served();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut user = 0u64;
    let mut next_user = move || {
        user += 1;
        format!("user-{user}")
    };

    let mut g = c.benchmark_group("serving");
    // The baseline: a fixed body as large as the bulk answer over 350 flags, through a router.
    let (_, bulk_len) = runtime.block_on(call(
        &app,
        post(
            "/ofrep/v1/evaluate/flags",
            json!({"context": {"targetingKey": "u"}}).to_string(),
        ),
    ));
    let fixed = axum::body::Bytes::from(vec![b'x'; bulk_len]);
    let baseline: axum::Router = axum::Router::new().route(
        "/fixed",
        axum::routing::post(move || {
            let fixed = fixed.clone();
            async move { fixed }
        }),
    );
    g.bench_function(format!("baseline: a fixed {bulk_len}-byte answer"), |b| {
        b.iter(|| runtime.block_on(call(&baseline, post("/fixed", String::new()))));
    });
    g.bench_function("OFREP single, a fresh user", |b| {
        b.iter(|| {
            let body = json!({"context": {"targetingKey": next_user()}}).to_string();
            let (status, _) = runtime.block_on(call(
                &app,
                post("/ofrep/v1/evaluate/flags/bench.flag_007", black_box(body)),
            ));
            assert_eq!(status, StatusCode::OK);
        });
    });
    g.bench_function(format!("OFREP bulk, {FLAGS} flags, a fresh user"), |b| {
        b.iter(|| {
            let body = json!({"context": {"targetingKey": next_user()}}).to_string();
            let (status, _) = runtime.block_on(call(&app, post("/ofrep/v1/evaluate/flags", body)));
            assert_eq!(status, StatusCode::OK);
        });
    });
    // A poller that has the answer: the same user, its ETag.
    let etag = runtime.block_on(async {
        let response = app
            .clone()
            .oneshot(post(
                "/ofrep/v1/evaluate/flags",
                json!({"context": {"targetingKey": "same"}}).to_string(),
            ))
            .await
            .unwrap();
        response.headers()["etag"].clone()
    });
    g.bench_function(
        format!("OFREP bulk, {FLAGS} flags, 304 for its ETag"),
        |b| {
            b.iter(|| {
                let mut request = post(
                    "/ofrep/v1/evaluate/flags",
                    json!({"context": {"targetingKey": "same"}}).to_string(),
                );
                request.headers_mut().insert("if-none-match", etag.clone());
                let (status, _) = runtime.block_on(call(&app, request));
                assert_eq!(status, StatusCode::NOT_MODIFIED);
            });
        },
    );
    g.bench_function(format!("GET / (the report), {FLAGS} flags"), |b| {
        b.iter(|| {
            let (status, _) =
                runtime.block_on(call(&app, Request::get("/").body(Body::empty()).unwrap()));
            assert_eq!(status, StatusCode::OK);
        });
    });
    g.bench_function(format!("sync snapshot, {FLAGS} rules"), |b| {
        b.iter(|| {
            let (status, _) = runtime.block_on(call(
                &app,
                Request::get("/sync/v1/snapshot")
                    .body(Body::empty())
                    .unwrap(),
            ));
            assert_eq!(status, StatusCode::OK);
        });
    });
    g.finish();
}

criterion_group!(benches, serving);
criterion_main!(benches);
