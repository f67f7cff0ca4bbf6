//! Test overrides: values forced on toggles within a scope — the thread that made them, or,
//! with the `tokio` feature, the task scope they were made in.
//!
//! A toggle with any override in scope anywhere has its cached state forced to `SLOW` (counted
//! in the static), so checks of every other toggle — and of this one where no test overrides
//! it — never look here.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

struct Active {
    guard: u64,
    scope: u64,
    key: usize,
    value: Box<dyn Any + Send + Sync>,
}

/// Every override in force, oldest first.
static ACTIVE: Mutex<Vec<Active>> = Mutex::new(Vec::new());
/// Numbers for guards and scopes, never reused.
static NEXT: AtomicU64 = AtomicU64::new(1);

fn next() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static THREAD_SCOPE: u64 = next();
}

#[cfg(feature = "tokio")]
tokio::task_local! {
    static TASK_SCOPE: u64;
}

/// The scope an override made here belongs to: the task scope, if there is one, else the thread.
fn scope() -> u64 {
    #[cfg(feature = "tokio")]
    if let Ok(scope) = TASK_SCOPE.try_with(|scope| *scope) {
        return scope;
    }
    THREAD_SCOPE.with(|scope| *scope)
}

/// Runs `future` in a scope of its own: overrides made inside it hold wherever the task runs.
#[cfg(feature = "tokio")]
pub(crate) async fn in_task_scope<F: std::future::Future>(future: F) -> F::Output {
    TASK_SCOPE.scope(next(), future).await
}

fn active() -> std::sync::MutexGuard<'static, Vec<Active>> {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The innermost override of the toggle at `key` in the current scope.
pub(crate) fn lookup<T: Copy + 'static>(key: usize) -> Option<T> {
    let scope = scope();
    active()
        .iter()
        .rev()
        .find(|a| a.key == key && a.scope == scope)
        .and_then(|a| a.value.downcast_ref::<T>().copied())
}

/// One override in force; the state layer counts it on the toggle and rebuilds the toggle's
/// cached state as it comes and goes.
pub(crate) struct Override {
    guard: u64,
}

impl Override {
    pub(crate) fn push(key: usize, value: Box<dyn Any + Send + Sync>) -> Override {
        let guard = next();
        active().push(Active {
            guard,
            scope: scope(),
            key,
            value,
        });
        Override { guard }
    }

    /// Ends the override, from whichever thread drops its guard.
    pub(crate) fn pop(&self) {
        active().retain(|a| a.guard != self.guard);
    }
}
