use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", created = "2024-03-02", remove_by = "2024-01-01")]
pub static NEW_GRADER: Flag;

fn main() {}
