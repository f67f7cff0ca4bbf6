//! The vocabulary that the `#[toggle]` macro checks at compile time and the runtime works with at
//! run time, written once: calendar dates, OEP-17's use cases, and the rules for names.
//!
//! Dependency-free (serde only behind the `serde` feature, which the runtime turns on), so the
//! proc-macro crate can use it without building the runtime's dependencies for the host.
//!
//! Use it through the `toggles` crate, which re-exports [`Date`] and [`UseCase`].

mod date;
mod names;
mod use_case;

pub use crate::date::{Date, DateError};
pub use crate::names::{is_full_name, is_name, is_namespace, is_placeholder, PLACEHOLDERS};
pub use crate::use_case::{UnknownUseCase, UseCase};
