use toggles::Variants;

#[derive(Clone, Copy, Variants)]
enum Checkout {
    Classic,
    OnePage { steps: u8 },
    Express(u32),
}

fn main() {}
