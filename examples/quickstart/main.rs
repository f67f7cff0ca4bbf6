//! Declares toggles in two modules, loads their states from a file store, shows who gets each
//! flag and why, applies an audited change, and prints the registry as a table and as JSON.
//!
//! Run it with `cargo run --example quickstart`; add `-- --as-of 2025-07-01` to judge expiry on
//! another day. It works on a copy of `examples/quickstart/toggles.json` in a temporary
//! directory, so the shipped file stays as it is.

mod catalog;
mod grading;

use toggles::rules::FlagRule;
use toggles::store::FileStore;
use toggles::{registry, Change, Context, Date};

/// A request's subject: who, on which site, in which groups, with which attributes.
struct Visitor {
    user: &'static str,
    site: &'static str,
    groups: &'static [(&'static str, &'static str)],
    attributes: &'static [(&'static str, &'static str)],
}

const VISITORS: [Visitor; 6] = [
    Visitor {
        user: "ana",
        site: "learning.example.com",
        groups: &[],
        attributes: &[],
    },
    Visitor {
        user: "bob",
        site: "learning.example.com",
        groups: &[],
        attributes: &[],
    },
    Visitor {
        user: "carol",
        site: "learning.example.com",
        groups: &[],
        attributes: &[],
    },
    Visitor {
        user: "dan",
        site: "white-label.example.com",
        groups: &[],
        attributes: &[],
    },
    Visitor {
        user: "erin",
        site: "learning.example.com",
        groups: &[("course", "course-v1:edX+DemoX")],
        attributes: &[("account_type", "premium")],
    },
    Visitor {
        user: "frank",
        site: "learning.example.com",
        groups: &[("course", "course-v1:edX+DemoX")],
        attributes: &[("account_type", "free")],
    },
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args { as_of, keep } = parse_args()?;

    // The store: a copy of the shipped file, watched for changes and written atomically — in a
    // temporary directory, or where `--keep` says (an existing store there is used as it is).
    let dir = std::env::temp_dir().join(format!("toggles-quickstart-{}", std::process::id()));
    let path = match &keep {
        Some(path) => path.clone(),
        None => {
            std::fs::create_dir_all(&dir)?;
            dir.join("toggles.json")
        }
    };
    if !path.exists() {
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/quickstart/toggles.json"
            ),
            &path,
        )?;
    }
    let _toggles = toggles::install(FileStore::open(&path)?)?;
    println!("Toggles loaded from {}", path.display());
    println!(
        "  catalog.recommendations is {}; grading.job_timeout_secs is {}",
        on_off(catalog::RECOMMENDATIONS.is_enabled()),
        grading::JOB_TIMEOUT_SECS.get()
    );
    println!();

    println!("Who gets what, and why:");
    who_gets_what();

    println!("Widening the new grader to 60% of users, through the store:");
    let rule = FlagRule::new()
        .percent(60.0)
        .users_on(["ana"])
        .users_off(["carol"])
        .sites_off(["white-label.example.com"]);
    let entry = toggles::write(
        Change::flag("grading.new_grader", rule)
            .by("ana@example.com")
            .because("error rate flat at 30%"),
    )?;
    println!("  audit entry: {}", serde_json::to_string(&entry)?);
    let refused = toggles::write(
        Change::flag("grading.new_grader", FlagRule::new().percent(120.0))
            .by("ana@example.com")
            .because("typo"),
    );
    if let Err(e) = refused {
        println!("  and a bad write, refused whole: {e}");
    }
    println!();
    who_gets_what();

    print_registry(as_of)?;
    match &keep {
        // The store now holds this program's declarations too: a server can serve them.
        Some(path) => println!(
            "The store is kept at {}: serve it with\n  cargo run -p toggles-cli -- --store file:{} serve\nand open http://127.0.0.1:8080/admin/",
            path.display(),
            path.display()
        ),
        None => std::fs::remove_dir_all(&dir)?,
    }
    Ok(())
}

fn who_gets_what() {
    for v in &VISITORS {
        let ctx = Context::new()
            .with_user(v.user)
            .with_site(v.site)
            .with_groups(v.groups)
            .with_attributes(v.attributes);
        let grader = grading::NEW_GRADER.explain(&ctx);
        let breakdown = grading::PARTIAL_CREDIT_BREAKDOWN.explain(&ctx);
        println!(
            "  {:<6} new_grader {:<3} ({})",
            v.user,
            on_off(grader.enabled),
            grader.step
        );
        println!(
            "  {:<6} partial_credit_breakdown {:<3} ({})",
            "",
            on_off(breakdown.enabled),
            breakdown.step
        );
    }
    println!();
}

fn print_registry(as_of: Date) -> Result<(), Box<dyn std::error::Error>> {
    println!("Every toggle in this binary (as of {as_of}):");
    let width = registry()
        .iter()
        .map(|t| t.full_name().len())
        .max()
        .unwrap_or(0);
    println!(
        "  {:<width$} {:<8} {:<9} {:<10} {:<11} {:<8} declared at",
        "full name", "kind", "default", "life", "remove by", "source"
    );
    // The report reads the store's audit log once; printing it reads nothing more.
    let report = registry().report_as_of(as_of)?;
    for (t, entry) in registry().iter().zip(&report.toggles) {
        let m = t.meta();
        let remove_by = m.remove_by().map(|d| d.to_string()).unwrap_or_default();
        let expired = if m.is_expired_on(as_of) {
            "  EXPIRED"
        } else {
            ""
        };
        let source = match entry.state.source {
            toggles::report::LiveSource::Store => "store",
            toggles::report::LiveSource::Default => "default",
        };
        println!(
            "  {:<width$} {:<8} {:<9} {:<10} {:<11} {:<8} {}{expired}",
            t.full_name(),
            t.kind().as_str(),
            t.default_value().to_string(),
            m.life().as_str(),
            remove_by,
            source,
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
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The command line: `[--as-of YYYY-MM-DD] [--keep PATH]`.
struct Args {
    as_of: Date,
    keep: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let usage = || "usage: quickstart [--as-of YYYY-MM-DD] [--keep PATH]".to_owned();
    let mut parsed = Args {
        as_of: Date::today(),
        keep: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(usage)?;
        match arg.as_str() {
            "--as-of" => {
                parsed.as_of = value.parse().map_err(|e| format!("--as-of {value}: {e}"))?;
            }
            "--keep" => parsed.keep = Some(value.into()),
            _ => return Err(usage()),
        }
    }
    Ok(parsed)
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}
