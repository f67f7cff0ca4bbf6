use toggles::{toggle, Switch};

/// Turn recommendations off when the catalog is under load.
#[toggle(namespace = "catalog", life = "permanent")]
pub static RECOMMENDATIONS: Switch = true;

fn main() {}
