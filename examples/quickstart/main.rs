//! Declares toggles in two modules, then prints the registry as a table and as JSON, and lists
//! the toggles past their removal date: what a discoverability endpoint and a toggle report show.
//!
//! Run it with `cargo run --example quickstart`; add `-- --as-of 2025-07-01` to judge expiry on
//! another day.

mod catalog;
mod grading;

use toggles::{registry, Context, Date};

fn main() {
    let as_of = match parse_as_of() {
        Ok(date) => date,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };

    let ctx = Context::new().user("42");
    println!("The toggles in use:");
    println!(
        "  grading.new_grader is {}",
        on_off(grading::NEW_GRADER.is_enabled(&ctx))
    );
    println!(
        "  catalog.recommendations is {}",
        on_off(catalog::RECOMMENDATIONS.is_enabled())
    );
    println!(
        "  uploads.max_upload_bytes is {}",
        catalog::MAX_UPLOAD_BYTES.get()
    );
    println!();

    println!("Every toggle in this binary (as of {as_of}):");
    let width = registry()
        .iter()
        .map(|t| t.full_name().len())
        .max()
        .unwrap_or(0);
    println!(
        "  {:<width$} {:<8} {:<9} {:<10} {:<11} declared at",
        "full name", "kind", "default", "life", "remove by"
    );
    for t in registry() {
        let m = t.meta();
        let remove_by = m.remove_by().map(|d| d.to_string()).unwrap_or_default();
        let expired = if m.is_expired_on(as_of) {
            "  EXPIRED"
        } else {
            ""
        };
        println!(
            "  {:<width$} {:<8} {:<9} {:<10} {:<11} {}{expired}",
            t.full_name(),
            t.kind().as_str(),
            t.default_value().to_string(),
            m.life().as_str(),
            remove_by,
            m.source(),
        );
    }
    println!();

    let expired: Vec<_> = registry().expired_on(as_of).collect();
    if expired.is_empty() {
        println!("No toggle is past its removal date.");
    } else {
        println!(
            "{} toggle(s) past their removal date; remove them:",
            expired.len()
        );
        for t in expired {
            let owner = t.meta().owner().unwrap_or("no owner declared");
            println!(
                "  {} (remove by {}, {owner})",
                t.full_name(),
                t.meta().remove_by().unwrap()
            );
        }
    }
    println!();

    println!("The discoverability endpoint's body:");
    let report = registry().report_as_of(as_of);
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("the report serializes")
    );
}

fn parse_as_of() -> Result<Date, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(Date::today()),
        (Some("--as-of"), Some(date)) => date.parse().map_err(|e| format!("--as-of {date}: {e}")),
        _ => Err("usage: quickstart [--as-of YYYY-MM-DD]".to_owned()),
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}
