use toggles::{toggle, Variant};

#[derive(Clone, Copy)]
pub enum Checkout {
    Classic,
    OnePage,
}

/// Try the one-page checkout against the classic one.
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2027-03-01")]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

fn main() {}
