//! OEP-17 Req 8, non-collision across crates: two crates that declare the same full name cannot
//! be linked into one binary, and the linker's error names the toggle and both declarations.
//! (In one crate it is a compile error: `tests/ui/duplicate-full-name.rs`.)

mod support;

#[test]
fn same_full_name_in_two_crates_fails_to_link_naming_the_toggle() {
    let fixture = support::cargo::fixture("collision");

    // Each crate on its own is fine: the clash exists only once both are linked together.
    let libs = support::cargo::cargo(&fixture, &["build", "-p", "grading_a", "-p", "grading_b"]);
    assert!(
        libs.status.success(),
        "the libraries alone should build:\n{}",
        libs.stderr
    );

    let app = support::cargo::cargo(&fixture, &["build", "-p", "app"]);
    assert!(
        !app.status.success(),
        "linking both crates should fail:\n{}",
        app.stderr
    );
    assert!(
        app.stderr
            .contains("toggle grading.new_grader is declared twice; full names must be unique"),
        "the link error should name the toggle:\n{}",
        app.stderr
    );
    for declaration in ["grading_a/src/lib.rs", "grading_b/src/lib.rs"] {
        assert!(
            app.stderr.contains(declaration),
            "the link error should point at {declaration}:\n{}",
            app.stderr
        );
    }
}
