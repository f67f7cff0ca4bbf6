//! The grading team's toggles.

use toggles::{toggle, Flag, Setting};

/// Grade problems with the rewritten engine.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2025-06-01",
    owner = "grading-team",
    use_cases = "incremental_release, monitored_rollout"
)]
pub static NEW_GRADER: Flag;

/// Show learners a breakdown of partial credit on each problem.
#[toggle(
    namespace = "grading",
    life = "temporary",
    remove_by = "2027-03-31",
    created = "2026-10-01",
    owner = "grading-team",
    use_cases = "beta_testing",
    tickets = "GRADE-812"
)]
pub static PARTIAL_CREDIT_BREAKDOWN: Flag;

/// Seconds a grading job may run before it is cancelled.
#[toggle(
    namespace = "grading",
    life = "permanent",
    owner = "grading-team",
    justification = "operators tune it to their hardware"
)]
pub static JOB_TIMEOUT_SECS: Setting<u32> = 30;
