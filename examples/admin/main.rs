//! The admin pages and the JSON API over the quickstart's toggles, on a file store: open the
//! printed address, sign in with one of the two printed tokens, and change a toggle.
//!
//! Run: `cargo run --example admin --features http` (listens on 127.0.0.1:8080, or `$PORT`).
//! It works on a copy of `examples/quickstart/toggles.json` in a temporary directory.

#[path = "../quickstart/catalog.rs"]
mod catalog;
#[path = "../quickstart/grading.rs"]
mod grading;

use toggles::http::{router, BearerTokens, Config};
use toggles::store::FileStore;
use toggles::{Installer, Service};

const TOKENS: &str = r#"{
    "grading-token": {"id": "ana@example.com", "teams": ["grading-team"]},
    "admin-token": {"id": "root@example.com", "admin": true}
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = (&catalog::RECOMMENDATIONS, &grading::NEW_GRADER);
    // Removed when the example ends (Ctrl-C shuts the server down gracefully).
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("toggles.json");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/quickstart/toggles.json"
        ),
        &path,
    )?;
    let _toggles = Installer::new(FileStore::open(&path)?)
        .service(Service::new("quickstart", "0.1.0"))
        .install()?;

    let app = axum::Router::new().nest(
        "/toggles",
        router(Config::new(BearerTokens::from_json(TOKENS)?)),
    );
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let address = listener.local_addr()?;
    println!("Toggles from {}", path.display());
    println!("Admin pages:    http://{address}/toggles/admin/");
    println!("JSON report:    http://{address}/toggles");
    println!("OFREP:          POST http://{address}/toggles/ofrep/v1/evaluate/flags");
    println!();
    println!("Sign in with `grading-token` (ana, grading-team: may change the grading toggles)");
    println!("        or with `admin-token`  (root, admin: may change everything).");
    println!("From a terminal: curl -H 'Authorization: Bearer grading-token' -H 'content-type: application/json' \\");
    println!("  -d '{{\"change\": {{\"flag\": {{\"percent\": 50}}}}, \"reason\": \"wider\"}}' http://{address}/toggles/grading.new_grader");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
