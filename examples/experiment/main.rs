//! A two-arm experiment end to end: a `Variant` toggle whose arms are an enum, a tracked rule
//! written through the audited write path, simulated visitors drawn into the arms (their
//! exposures handed to a subscriber), conversions recorded, and the results per arm with their
//! intervals and the test against the control.
//!
//! Run it with `cargo run --example experiment`. It uses an in-memory store; with PostgreSQL
//! the same code counts the whole fleet's units.

use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use toggles::experiment::Exposure;
use toggles::rules::bucket::bucket;
use toggles::rules::VariantRule;
use toggles::store::MemoryStore;
use toggles::{toggle, Change, Context, Installer, Variant, Variants};

/// The checkout flows under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Variants)]
pub enum Checkout {
    /// Cart, address, payment: the control.
    Classic,
    /// Everything on one page.
    OnePage,
}

/// Try the one-page checkout against the classic one.
#[toggle(
    namespace = "checkout",
    life = "temporary",
    remove_by = "2030-03-01",
    owner = "checkout-team"
)]
pub static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;

const VISITORS: u32 = 20_000;

/// Whether `user` buys, as the simulation decides it: 10% of the classic flow's visitors, 12%
/// of the one-page flow's (the effect the experiment should find).
fn buys(user: &str, flow: Checkout) -> bool {
    let chance = match flow {
        Checkout::Classic => 1000,
        Checkout::OnePage => 1200,
    };
    bucket("simulation", user) < chance
}

fn main() -> Result<(), Box<dyn Error>> {
    let exposures = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&exposures);
    let toggles = Installer::new(MemoryStore::new())
        .subscribe(move |batch: &[Exposure]| {
            // A host's analytics would send these on; the example counts them.
            seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
        })
        .install()?;

    let rule = VariantRule::new()
        .coverage(100.0)
        .weight("classic", 5000)
        .weight("one_page", 5000)
        .users("one_page", ["qa-1"])
        .track(true);
    let entry = toggles::write(
        Change::variant("checkout.checkout_flow", rule)
            .by("ana")
            .because("does one page sell more?"),
    )?;
    println!(
        "{} set {} to {}\n",
        entry.actor,
        entry.toggle,
        entry.after.unwrap_or_default()
    );

    let why = CHECKOUT_FLOW.explain(&Context::new().with_user("qa-1"));
    println!(
        "qa-1 gets {:?}: {} (pinned, not part of the results)",
        why.arm, why.step
    );
    let why = CHECKOUT_FLOW.explain(&Context::new().with_user("visitor-1"));
    println!("visitor-1 gets {:?}: {}\n", why.arm, why.step);

    for i in 0..VISITORS {
        let user = format!("visitor-{i}");
        let ctx = Context::new().with_user(&user);
        // Every visitor sees a page twice: one exposure each all the same.
        CHECKOUT_FLOW.get(&ctx);
        let flow = CHECKOUT_FLOW.get(&ctx);
        let steps = match flow {
            Checkout::Classic => "cart, address, payment",
            Checkout::OnePage => "one page",
        };
        if i < 2 {
            println!("visitor-{i}: {steps}");
        }
        if buys(&user, flow) {
            CHECKOUT_FLOW.convert(&ctx, "purchase");
        }
        // Real visitors come over hours, and the exposure thread hands their exposures over
        // every tick; 20,000 simulated ones come in a blink, so the example drains as it goes
        // (what overflows the buffer is dropped and counted, never waited for).
        if i % 1000 == 999 {
            toggles.drain_exposures();
        }
    }
    toggles.drain_exposures();
    println!(
        "\n{} exposures delivered to the subscriber ({} visitors, each checked twice; {} dropped)\n",
        exposures.load(Ordering::Relaxed),
        VISITORS,
        toggles::status().exposures.dropped
    );

    let results = toggles::experiment::results("checkout.checkout_flow")?;
    // A table per goal; each figure is also a field of `results`.
    print!("{results}");
    Ok(())
}
