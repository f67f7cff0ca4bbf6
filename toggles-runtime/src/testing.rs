//! Helpers for a project's own tests: forcing toggles into a state, running a test in every
//! state, and enforcing removal dates.
//!
//! # Overrides
//!
//! [`set`] forces a toggle to a value until the returned guard is dropped. Overrides belong to
//! the thread that made them, so tests that `cargo test` runs in parallel threads never see each
//! other's; they hold across `.await` in a `#[tokio::test]` on the current-thread runtime (it
//! runs the test on the test's thread). A thread the test spawns does not see them. They cost
//! nothing on the hot path of toggles nobody overrides.
//!
//! On tokio's multi-thread runtime a task moves between threads; with the `tokio` feature,
//! `scope` gives a future a scope of its own, and overrides made inside it hold wherever the
//! task runs (a task it spawns has its own scope again).
//!
//! ```
//! use toggles::{toggle, Context, Flag, Setting};
//!
//! /// Grade problems with the rewritten engine.
//! #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
//! static NEW_GRADER: Flag;
//!
//! /// Largest upload accepted, in bytes.
//! #[toggle(namespace = "uploads", life = "permanent", justification = "sized per deployment")]
//! static MAX_UPLOAD_BYTES: Setting<u64> = 10_000_000;
//!
//! {
//!     let _on = toggles::testing::set(&NEW_GRADER, true);
//!     let _small = toggles::testing::set(&MAX_UPLOAD_BYTES, 1_000);
//!     assert!(NEW_GRADER.is_enabled(&Context::new()));
//!     assert_eq!(MAX_UPLOAD_BYTES.get(), 1_000);
//! }
//! assert!(!NEW_GRADER.is_enabled(&Context::new()));
//!
//! // OEP-17: test every toggle in both states.
//! toggles::testing::with_both(&NEW_GRADER, |on| {
//!     assert_eq!(NEW_GRADER.is_enabled(&Context::new()), on);
//! });
//! ```
//!
//! # Removal dates
//!
//! A past `remove_by` is not a compile error — a build must not break because a calendar page
//! turned — so a team that wants CI to enforce removal dates adds one test:
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

use toggles_vocab::Date;

use crate::declare::{
    registry, Flag, Kind, Setting, SettingValue, Switch, Toggle, ToggleInfo, Variant, Variants,
};
use crate::state::{end_override, start_override, Override as Active};

/// A toggle type and the type of value that overrides it.
pub trait Overridable: Toggle {
    /// `bool` for switches and flags, `E` for `Variant<E>`, `T` for `Setting<T>`.
    type Value: Copy + Send + Sync + 'static;
}

impl<E: Variants> Overridable for Variant<E> {
    type Value = E;
}

impl Overridable for Switch {
    type Value = bool;
}

impl Overridable for Flag {
    type Value = bool;
}

impl<T: SettingValue> Overridable for Setting<T> {
    type Value = T;
}

/// A test override in scope; dropping it ends the override.
#[must_use = "the override ends when this guard is dropped"]
pub struct Override {
    toggle: &'static dyn Toggle,
    active: Active,
}

impl std::fmt::Debug for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Override")
            .field("toggle", &self.toggle.meta().full_name())
            .finish_non_exhaustive()
    }
}

/// Forces `toggle` to `value` in this thread (or `scope`, with the `tokio` feature) until the
/// guard is dropped;
/// overrides nest, the innermost winning.
pub fn set<T: Overridable>(toggle: &'static T, value: T::Value) -> Override {
    push(toggle, Box::new(value))
}

fn push(toggle: &'static dyn Toggle, value: Box<dyn std::any::Any + Send + Sync>) -> Override {
    let active = start_override(toggle, value).unwrap_or_else(|| {
        panic!(
            "`{}` is overridden with a `{}`",
            toggle.meta().full_name(),
            toggle.value_type()
        )
    });
    Override { toggle, active }
}

impl Drop for Override {
    fn drop(&mut self) {
        end_override(self.toggle, &self.active);
    }
}

/// Runs `future` in a test scope of its own: overrides [`set`] inside it hold wherever the
/// task runs, on tokio's multi-thread runtime too, and are not seen outside it.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// use toggles::{toggle, Switch};
///
/// /// Turn recommendations off when the catalog is under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let task = tokio::spawn(toggles::testing::scope(async {
///     let _off = toggles::testing::set(&RECOMMENDATIONS, false);
///     tokio::task::yield_now().await; // may resume on another worker thread
///     RECOMMENDATIONS.is_enabled()
/// }));
/// assert!(!task.await.unwrap());
/// # }
/// ```
#[cfg(feature = "tokio")]
pub async fn scope<F: std::future::Future>(future: F) -> F::Output {
    crate::state::in_task_scope(future).await
}

/// Runs `body` with `toggle` forced off, then forced on: the practice's "test both states".
pub fn with_both<T: Overridable<Value = bool>>(toggle: &'static T, mut body: impl FnMut(bool)) {
    for on in [false, true] {
        let _guard = set(toggle, on);
        body(on);
    }
}

/// Runs `body` once per arm of `variant`, in declaration order, with the toggle forced to that
/// arm: "test both states" for an experiment, however many arms it has.
///
/// ```
/// use toggles::{toggle, Context, Variant, Variants};
///
/// #[derive(Clone, Copy, Debug, PartialEq, Variants)]
/// enum Checkout { Classic, OnePage, Express }
///
/// /// Try the one-page checkout against the classic one.
/// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
/// static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
///
/// let mut seen = Vec::new();
/// toggles::testing::with_each(&CHECKOUT_FLOW, |arm| {
///     assert_eq!(CHECKOUT_FLOW.get(&Context::new()), arm);
///     seen.push(arm);
/// });
/// assert_eq!(seen, [Checkout::Classic, Checkout::OnePage, Checkout::Express]);
/// ```
pub fn with_each<E: Variants>(variant: &'static Variant<E>, mut body: impl FnMut(E)) {
    for arm in (0..E::ARMS.len()).filter_map(E::from_index) {
        let _guard = set(variant, arm);
        body(arm);
    }
}

/// [`with_both`] for async code: awaits `body(false)`, then `body(true)`, each with `toggle`
/// forced to that state, so a handler is tested in both states on the test's own runtime.
///
/// On tokio's current-thread runtime (`#[tokio::test]`'s default) overrides hold across
/// `.await` as they are. With the `tokio` feature each state also runs in a `scope` of its own,
/// so they hold on the multi-thread runtime too (`#[tokio::test(flavor = "multi_thread")]`),
/// wherever the task resumes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use toggles::{toggle, Context, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
/// static NEW_GRADER: Flag;
///
/// async fn grade(user: &str) -> &'static str {
///     tokio::task::yield_now().await;
///     if NEW_GRADER.is_enabled(&Context::new().with_user(user)) { "new" } else { "old" }
/// }
///
/// toggles::testing::with_both_async(&NEW_GRADER, |on| async move {
///     assert_eq!(grade("42").await, if on { "new" } else { "old" });
/// })
/// .await;
/// # }
/// ```
pub async fn with_both_async<T, F, Fut>(toggle: &'static T, mut body: F)
where
    T: Overridable<Value = bool>,
    F: FnMut(bool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for on in [false, true] {
        let body = &mut body;
        // The override is in place before `body` is called: what it does before its first
        // `.await` sees the state too.
        scoped(async move {
            let _guard = set(toggle, on);
            body(on).await;
        })
        .await;
    }
}

/// [`with_each_combination`] for async code: awaits `body(states)` once for every combination
/// of on and off of `toggles`, each in a scope of its own as [`with_both_async`] describes.
pub async fn with_each_combination_async<F, Fut>(toggles: &[&'static dyn Toggle], mut body: F)
where
    F: FnMut(Vec<bool>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for states in combinations(toggles) {
        let body = &mut body;
        scoped(async move {
            let _guards: Vec<Override> = toggles
                .iter()
                .zip(&states)
                .map(|(t, on)| push(*t, Box::new(*on)))
                .collect();
            body(states).await;
        })
        .await;
    }
}

/// Runs `future` in a task scope of its own when the `tokio` feature gives one.
async fn scoped<F: std::future::Future>(future: F) -> F::Output {
    #[cfg(feature = "tokio")]
    {
        crate::state::in_task_scope(future).await
    }
    #[cfg(not(feature = "tokio"))]
    {
        future.await
    }
}

/// Every combination of on and off of `toggles` (switches or flags), in order.
fn combinations(toggles: &[&'static dyn Toggle]) -> Vec<Vec<bool>> {
    for t in toggles {
        assert!(
            matches!(t.kind(), Kind::Switch | Kind::Flag),
            "`{}` is a {}; combinations are of switches and flags (`with_each` runs a variant's arms)",
            t.meta().full_name(),
            t.kind()
        );
    }
    let n = toggles.len();
    assert!(
        n < 16,
        "{n} toggles make {} combinations; test fewer at once",
        1u64 << n
    );
    (0..1u32 << n)
        .map(|mask| (0..n).map(|i| mask & (1 << i) != 0).collect())
        .collect()
}

/// Runs `body` once for every combination of on and off of `toggles` (switches or flags),
/// `2^n` runs; `body` gets the states in the order of `toggles`.
///
/// ```
/// use toggles::{toggle, Context, Flag, Switch};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
/// static NEW_GRADER: Flag;
///
/// /// Turn recommendations off under load.
/// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
/// static RECOMMENDATIONS: Switch = true;
///
/// let mut seen = Vec::new();
/// toggles::testing::with_each_combination(&[&NEW_GRADER, &RECOMMENDATIONS], |states| {
///     assert_eq!(NEW_GRADER.is_enabled(&Context::new()), states[0]);
///     assert_eq!(RECOMMENDATIONS.is_enabled(), states[1]);
///     seen.push(states.to_vec());
/// });
/// assert_eq!(seen.len(), 4);
/// ```
pub fn with_each_combination(toggles: &[&'static dyn Toggle], mut body: impl FnMut(&[bool])) {
    for states in combinations(toggles) {
        let _guards: Vec<Override> = toggles
            .iter()
            .zip(&states)
            .map(|(t, on)| push(*t, Box::new(*on)))
            .collect();
        body(&states);
    }
}

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
