//! Visibility, `#[cfg]` and other attributes on the static survive the expansion, and the
//! static is usable from other modules like any static.
#![deny(warnings)]
mod flags {
    use toggles::{toggle, Flag, Switch};

    /// Grade problems with the rewritten engine.
    #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
    pub(crate) static NEW_GRADER: Flag = true;

    /// Compiled out: neither the static nor its registration exist.
    #[cfg(any())]
    #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
    pub static COMPILED_OUT: Switch;

    /// Kept in, with a lint attribute riding along.
    #[cfg(all())]
    #[allow(dead_code)]
    #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
    static NEVER_READ: Switch;
}

fn main() {
    assert!(flags::NEW_GRADER.is_enabled(&toggles::Context::new()));
    let names: Vec<_> = toggles::registry().iter().map(|t| t.full_name()).collect();
    assert_eq!(names, ["grading.never_read", "grading.new_grader"]);
}
