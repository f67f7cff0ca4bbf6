use toggles::{toggle, Flag};

/// Grade problems with the rewritten engine.
#[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
pub static NEW_GRADER: Flag;

pub fn grade() -> bool {
    /// Grade problems with the rewritten engine, declared again where it is used.
    #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
    static NEW_GRADER: Flag;

    NEW_GRADER.is_enabled(&toggles::Context::new())
}

fn main() {}
