use toggles::{toggle, Setting};

/// Names of the upload buckets.
#[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
pub static BUCKETS: Setting<Vec<u8>> = Vec::new();

fn main() {}
