//! A program that checks its flags through OpenFeature switches its provider to toggles: the
//! checks stay as they are, and now answer from the toggles declared in the program.
//!
//! Run: `cargo run --example openfeature --features openfeature`.

use open_feature::provider::NoOpProvider;
use open_feature::{EvaluationContext, OpenFeature};
use toggles::openfeature::TogglesProvider;
use toggles::rules::FlagRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Flag, Setting};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2027-06-01")]
static NEW_GRADER: Flag;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

/// The program's checks, written against OpenFeature only.
async fn checks(provider: &str) {
    let client = OpenFeature::singleton().await.create_client();
    for user in ["ana", "bob", "carol"] {
        let ctx = EvaluationContext::default().with_targeting_key(user);
        let grader = client
            .get_bool_details("grading.new_grader", Some(&ctx), None)
            .await;
        let limit = client
            .get_int_value("uploads.max_upload_bytes", None, None)
            .await;
        match (grader, limit) {
            (Ok(d), Ok(limit)) => println!(
                "  [{provider}] {user}: new grader {} ({}), upload limit {limit}",
                d.value,
                d.reason.map(|r| r.to_string()).unwrap_or_default()
            ),
            (grader, limit) => println!(
                "  [{provider}] {user}: {:?} / {:?}",
                grader.map(|d| d.value).map_err(|e| e.code.to_string()),
                limit.map_err(|e| e.code.to_string())
            ),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = (&NEW_GRADER, &MAX_UPLOAD_BYTES);
    let _toggles = toggles::install(MemoryStore::new())?;
    toggles::write(
        Change::flag(
            "grading.new_grader",
            FlagRule::new().users_on(["ana"]).percent(30.0),
        )
        .by("ana@example.com")
        .because("beta for ana, 30% for the rest"),
    )?;

    OpenFeature::singleton_mut()
        .await
        .set_provider(NoOpProvider::default())
        .await;
    println!("Before: OpenFeature's no-op provider has no flags to answer with:");
    checks("no-op").await;

    OpenFeature::singleton_mut()
        .await
        .set_provider(TogglesProvider::new())
        .await;
    println!("After: the same checks, answered by toggles:");
    checks("toggles").await;
    Ok(())
}
