use toggles::toggle;

/// Largest upload accepted, in bytes.
#[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
pub static MAX_UPLOAD_BYTES: u64 = 10_000_000;

fn main() {}
