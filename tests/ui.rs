//! The compile-error catalogue: each `tests/ui/*.rs` holds one mistake, and its `.stderr` the
//! exact error rustc prints. Passing declarations are under `tests/ui/pass/`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
