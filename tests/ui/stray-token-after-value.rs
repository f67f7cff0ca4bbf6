use toggles::{toggle, Switch};

/// Turn recommendations off when the catalog is under load.
#[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker" owner = "catalog-team")]
pub static RECOMMENDATIONS: Switch = true;

fn main() {}
