use toggles::{toggle, Flag};

/// TODO
#[toggle(namespace = "Grading", life = "temporary", remove_by = "2025-02-30", justification = "x", onwer = "grading-team")]
pub static mut NEW_GRADER: Flag = 1;

fn main() {}
