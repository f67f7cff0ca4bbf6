use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(life = "temporary", remove_by = "2025-06-01")]
pub static NEW_GRADER: Flag;

fn main() {}
