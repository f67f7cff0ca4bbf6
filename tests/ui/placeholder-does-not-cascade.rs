use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary")]
pub static NEW_GRADER: Flag;

fn uses_it() -> bool {
    NEW_GRADER.is_enabled(&toggles::Context::new())
}

fn main() {
    uses_it();
}
