use toggles::{toggle, Flag};

mod grading {
    use super::*;

    /// Grade problems with the rewritten engine.
    #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
    pub static NEW_GRADER: Flag;
}

mod exams {
    use super::*;

    /// Grade exams with the rewritten engine.
    #[toggle(namespace = "grading", name = "new_grader", life = "temporary", remove_by = "2025-09-01")]
    pub static EXAM_GRADER: Flag;
}

fn main() {}
