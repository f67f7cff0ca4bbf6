use toggles::{toggle, Context, Variant, Variants};

#[derive(Clone, Copy, Debug, PartialEq, Variants)]
pub enum Checkout {
    Classic,
    OnePage,
    #[variant(name = "express_pay")]
    Express,
}

mod arms {
    #[derive(Clone, Copy, toggles::Variants)]
    pub enum Banner {
        Plain,
        Bold,
    }
}

use self::arms::Banner::{self, Plain};

/// Try the one-page checkout against the classic one.
#[toggle(namespace = "checkout", life = "temporary", remove_by = "2027-03-01")]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

/// Which banner the home page shows.
#[toggle(namespace = "home", life = "temporary", remove_by = "2027-03-01", owner = "growth")]
static BANNER: toggles::Variant<arms::Banner> = Plain;

fn main() {
    let ctx = Context::new().with_user("42");
    assert_eq!(CHECKOUT_FLOW.get(&ctx), Checkout::Classic);
    assert!(matches!(BANNER.get(&ctx), Banner::Plain));
    assert_eq!(
        toggles::registry().get("checkout.checkout_flow").unwrap().toggle().arms(),
        ["classic", "one_page", "express_pay"]
    );
}
