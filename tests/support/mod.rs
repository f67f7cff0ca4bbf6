//! Fixtures the integration tests share, declared once.

#![allow(dead_code, unreachable_pub)]

pub mod cargo;
pub mod store;
