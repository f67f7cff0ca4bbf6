use toggles::{toggle, Setting};

/// Largest upload accepted, in bytes.
#[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
pub static MAX_UPLOAD_BYTES: Setting<u64>;

fn main() {}
