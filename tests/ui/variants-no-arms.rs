use toggles::Variants;

#[derive(Clone, Copy, Variants)]
enum Checkout {}

fn main() {}
