use toggles::Variants;

#[derive(Clone, Copy, Variants)]
enum Checkout {
    Classic,
    OnePage,
    #[variant(name = "one_page")]
    SinglePage,
}

fn main() {}
