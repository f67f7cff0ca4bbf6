use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary")]
pub static NEW_GRADER: Flag;

fn main() {}
