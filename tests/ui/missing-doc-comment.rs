use toggles::{toggle, Flag};

#[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
pub static NEW_GRADER: Flag;

fn main() {}
