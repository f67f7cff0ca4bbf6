use toggles::Variants;

#[derive(Clone, Copy, Variants)]
enum Checkout {
    Classic,
    #[variant(name = "One Page")]
    OnePage,
    #[variant(nme = "express")]
    Express,
}

fn main() {}
