use toggles::{toggle, Switch};

/// Turn recommendations off when the catalog is under load.
#[toggle(namespace = "catalog", life = "permanent", justification = "N/A")]
pub static RECOMMENDATIONS: Switch = true;

fn main() {}
