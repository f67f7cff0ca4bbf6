//! The catalog team's toggles.

use toggles::{toggle, Setting, Switch};

/// Turn recommendations off when the catalog is under load.
#[toggle(
    namespace = "catalog",
    life = "permanent",
    owner = "catalog-team",
    justification = "circuit breaker for traffic spikes",
    created = "2024-03-02",
    use_cases = "circuit_breaker",
    warning = "turning it off empties the home page's recommendation row"
)]
pub static RECOMMENDATIONS: Switch = true;

/// Largest upload accepted, in bytes.
#[toggle(
    namespace = "uploads",
    life = "permanent",
    justification = "sized per deployment"
)]
pub static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;
