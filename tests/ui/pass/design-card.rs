//! The declarations of the design card, exactly.
#![deny(warnings)]
use toggles::{toggle, Flag, Setting, Switch};

/// Grade problems with the rewritten engine.
#[toggle(namespace="grading", life="temporary", remove_by="2025-06-01")]
pub static NEW_GRADER: Flag;

/// Turn recommendations off when the catalog is under load.
#[toggle(namespace = "catalog", life = "permanent", owner = "catalog-team",
         justification = "circuit breaker for traffic spikes", created = "2024-03-02")]
pub static RECOMMENDATIONS: Switch = true;

/// Largest upload accepted, in bytes.
#[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
pub static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;

fn main() {
    assert!(!NEW_GRADER.is_enabled(&toggles::Context::new()));
    assert!(RECOMMENDATIONS.is_enabled());
    assert_eq!(MAX_UPLOAD_BYTES.get(), 10_000_000);
    let names: Vec<_> = toggles::registry().iter().map(|t| t.full_name()).collect();
    assert_eq!(names, ["catalog.recommendations", "grading.new_grader", "uploads.max_upload_bytes"]);
}
