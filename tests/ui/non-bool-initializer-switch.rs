use toggles::{toggle, Switch};

/// Turn recommendations off when the catalog is under load.
#[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker for traffic spikes")]
pub static RECOMMENDATIONS: Switch = 1;

fn main() {}
