//! Test overrides, per thread: a stack of forced values keyed by the toggle static's address.
//!
//! A toggle with any override in scope on any thread has its cached state forced to `SLOW`
//! (counted in the static), so checks of every other toggle — and of this one when no test
//! overrides it — never look here.

use std::any::Any;
use std::cell::RefCell;

thread_local! {
    static STACK: RefCell<Vec<(usize, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

/// The innermost override of the toggle at `key` on this thread.
pub(crate) fn lookup<T: Copy + 'static>(key: usize) -> Option<T> {
    STACK.with_borrow(|stack| {
        stack
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.downcast_ref::<T>().copied())
    })
}

pub(crate) fn push(key: usize, value: Box<dyn Any>) {
    STACK.with_borrow_mut(|stack| stack.push((key, value)));
}

/// Removes the innermost override of `key` on this thread.
pub(crate) fn pop(key: usize) {
    STACK.with_borrow_mut(|stack| {
        if let Some(i) = stack.iter().rposition(|(k, _)| *k == key) {
            stack.remove(i);
        }
    });
}
