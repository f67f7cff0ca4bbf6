use toggles::Variants;

#[derive(Clone, Copy, Variants)]
enum Checkout<T> {
    Classic,
    OnePage(T),
}

fn main() {}
