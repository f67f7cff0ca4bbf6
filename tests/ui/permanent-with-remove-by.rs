use toggles::{toggle, Switch};

/// Turn recommendations off when the catalog is under load.
#[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker for traffic spikes", remove_by = "2025-06-01")]
pub static RECOMMENDATIONS: Switch = true;

fn main() {}
