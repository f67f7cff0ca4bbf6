use toggles::{toggle, Context, Variant, Variants};

#[derive(Clone, Copy, Variants)]
pub enum Checkout {
    Classic,
    OnePage,
    Express,
}

/// Try the one-page checkout against the classic one.
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2027-03-01")]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

fn main() {
    let page = match CHECKOUT_FLOW.get(&Context::new()) {
        Checkout::Classic => "classic",
        Checkout::OnePage => "one page",
    };
    println!("{page}");
}
