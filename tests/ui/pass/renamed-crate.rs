//! `crate = "..."` points the expansion at a renamed toggles crate.
#![deny(warnings)]
use toggles as flags_lib;

/// Grade problems with the rewritten engine.
#[flags_lib::toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01", crate = "flags_lib")]
pub static NEW_GRADER: flags_lib::Flag;

fn main() {
    assert_eq!(NEW_GRADER.meta().full_name(), "grading.new_grader");
}
