use toggles::{Variant, Variants};

#[derive(Clone, Copy, Variants)]
pub enum Checkout {
    Classic,
    OnePage,
}

pub static CHECKOUT_FLOW: Variant<Checkout> = Variant::new(Checkout::Classic);

fn main() {}
