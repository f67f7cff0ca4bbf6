//! Helpers for a project's own tests.
//!
//! OEP-17 asks that temporary toggles be removed by their date. A past `remove_by` is not a
//! compile error — a build must not break because a calendar page turned — so a team that wants
//! CI to enforce removal dates adds one test:
//!
//! ```
//! #[cfg(test)]
//! mod toggle_debt {
//!     #[test]
//!     fn no_toggle_is_past_its_removal_date() {
//!         toggles::testing::assert_no_expired_toggles();
//!     }
//! }
//! ```

// The example above shows the test a user adds to their own crate.
#![allow(clippy::test_attr_in_doctest)]

use crate::{registry, Date, ToggleInfo};

/// Panics, listing each one, if any temporary toggle in the binary is past its `remove_by` today.
#[track_caller]
pub fn assert_no_expired_toggles() {
    assert_no_expired_toggles_on(Date::today());
}

/// Panics, listing each one, if any temporary toggle in the binary is past its `remove_by` on
/// `date`.
///
/// ```should_panic
/// use toggles::{toggle, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// static NEW_GRADER: Flag;
///
/// toggles::testing::assert_no_expired_toggles_on("2025-06-02".parse().unwrap());
/// ```
#[track_caller]
pub fn assert_no_expired_toggles_on(date: Date) {
    check(registry().expired_on(date), date, None);
}

/// Like [`assert_no_expired_toggles_on`], for the toggles declared by one package only
/// (`env!("CARGO_PKG_NAME")`), so a crate's tests judge its own toggles and not its dependencies'.
#[track_caller]
pub fn assert_no_expired_toggles_in(package: &str, date: Date) {
    check(
        registry()
            .expired_on(date)
            .filter(|t| t.meta().source().crate_name == package),
        date,
        Some(package),
    );
}

#[track_caller]
fn check<'a>(expired: impl Iterator<Item = &'a ToggleInfo>, date: Date, package: Option<&str>) {
    let expired: Vec<_> = expired.collect();
    if let Some(message) = expired_message(&expired, date, package) {
        panic!("{message}");
    }
}

fn expired_message(expired: &[&ToggleInfo], date: Date, package: Option<&str>) -> Option<String> {
    use std::fmt::Write as _;

    if expired.is_empty() {
        return None;
    }
    let width = expired
        .iter()
        .map(|t| t.full_name().len())
        .max()
        .unwrap_or(0);
    let (n, s) = (expired.len(), if expired.len() == 1 { "" } else { "s" });
    let scope = package.map_or(String::new(), |p| format!(" in `{p}`"));
    let mut msg = format!("{n} toggle{s}{scope} past the `remove_by` date (as of {date}):\n");
    for t in expired {
        let m = t.meta();
        let remove_by = m.remove_by().map(|d| d.to_string()).unwrap_or_default();
        let owner = m
            .owner()
            .map(|o| format!("  owner {o}"))
            .unwrap_or_default();
        let _ = writeln!(
            msg,
            "  {:width$}  remove_by {remove_by}  {}{owner}",
            t.full_name(),
            m.source(),
        );
    }
    msg.push_str("remove each toggle and the code behind it, or agree on a later `remove_by`");
    Some(msg)
}
