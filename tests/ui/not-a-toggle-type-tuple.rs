use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2030-06-01")]
pub static NEW_GRADER: (Flag, Flag);

fn main() {}
