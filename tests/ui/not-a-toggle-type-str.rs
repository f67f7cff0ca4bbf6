use toggles::toggle;

/// Greeting on the home page.
#[toggle(namespace = "home", life = "permanent", justification = "per deployment")]
pub static GREETING: &'static str = "Welcome";

fn main() {}
