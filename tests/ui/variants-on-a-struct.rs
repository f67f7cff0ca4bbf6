use toggles::Variants;

#[derive(Clone, Copy, Variants)]
struct Checkout {
    one_page: bool,
}

fn main() {}
