use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2023-10")]
pub static NEW_GRADER: Flag;

fn main() {}
