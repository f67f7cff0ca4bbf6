//! The discoverability report is built once per state, however many ask at once: it reads the
//! whole audit log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use toggles::rules::FlagRule;
use toggles::store::{AuditEntry, AuditQuery, MemoryStore, OnChange, Snapshot, Store};
use toggles::{toggle, Change, Flag, StoreError, WriteError};
use toggles_http::{router, BearerTokens, Config};
use tower::ServiceExt as _;

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
static NEW_GRADER: Flag;

/// A memory store that counts how often its audit log is read.
struct Counting {
    inner: MemoryStore,
    audit_reads: Arc<AtomicUsize>,
}

impl Store for Counting {
    fn describe(&self) -> String {
        "counting memory".to_owned()
    }
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.load()
    }
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError> {
        self.inner.update(edit)
    }
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.audit(query)
    }
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
        self.inner.watch(on_change)
    }
}

async fn report(app: &axum::Router) -> (StatusCode, serde_json::Value) {
    let response = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_at_once_share_one_build_and_a_change_builds_it_anew() {
    let _ = &NEW_GRADER;
    let audit_reads = Arc::new(AtomicUsize::new(0));
    let store = Counting {
        inner: MemoryStore::new(),
        audit_reads: Arc::clone(&audit_reads),
    };
    let _toggles = toggles::install(store).unwrap();
    let write = |percent: f64| {
        toggles::write(
            Change::flag("grading.new_grader", FlagRule::new().percent(percent))
                .by("ana")
                .because("rollout"),
        )
        .unwrap();
    };
    write(10.0);
    let app: axum::Router = router(Config::new(BearerTokens::default()));
    audit_reads.store(0, Ordering::SeqCst);
    let answers = futures_join_all((0..64).map(|_| {
        let app = app.clone();
        tokio::spawn(async move { report(&app).await })
    }))
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(body["toggles"][0]["state"]["value"]["percent"], 10.0);
    }
    assert_eq!(
        audit_reads.load(Ordering::SeqCst),
        1,
        "one build for 64 requests"
    );

    write(50.0);
    let (_, body) = report(&app).await;
    assert_eq!(
        body["toggles"][0]["state"]["value"]["percent"], 50.0,
        "a new state, a new report"
    );
    assert_eq!(audit_reads.load(Ordering::SeqCst), 2);
}

/// Every task's answer, in order.
async fn futures_join_all<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut answers = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        answers.push(task.await.unwrap());
    }
    answers
}
