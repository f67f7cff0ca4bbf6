//! The variant toggle the experiment tests share: a checkout in three flows.

// Shared by several test binaries, each using what it needs.
#![allow(dead_code, unreachable_pub)]

use toggles::{toggle, Variant, Variants};

/// The checkout flows under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Variants)]
pub enum Checkout {
    /// Cart, address, payment: the control.
    Classic,
    /// Everything on one page.
    OnePage,
    /// Pay with a saved card.
    Express,
}

/// Try the one-page and express checkouts against the classic one.
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

/// Its full name.
pub const NAME: &str = "checkout.checkout_flow";
