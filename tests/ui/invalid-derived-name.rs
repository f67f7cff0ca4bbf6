use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
pub static NEW__GRADER: Flag;

fn main() {}
