//! `toggles audit [NAME]`: the audit log, newest first, a page at a time.

use std::io::{self, Write};

use anyhow::{bail, Result};
use serde_json::Value as Json;
use toggles_runtime::store::{AuditEntry, AuditQuery, Section};

use crate::fleet;
use crate::progress;
use crate::source::{self, StoreArgs};
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Only this toggle's changes.
    name: Option<String>,
    /// Entries per page.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Which page: 1 is the newest.
    #[arg(long, default_value_t = 1)]
    page: usize,
    /// Print JSON lines (one entry per line) instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    if args.page == 0 || args.limit == 0 {
        bail!("`--page` and `--limit` start at 1");
    }
    let opened = store.open()?;
    let query = match &args.name {
        Some(name) => AuditQuery::toggle(name),
        None => AuditQuery::all(),
    }
    .limit(args.limit)
    .skip((args.page - 1) * args.limit);
    let entries = progress::during(
        &format!("reading the audit log of {}", store.describe()),
        || opened.audit(&query),
    );
    let entries = source::reading(store, "the audit log", entries)?;

    if let (Some(name), true, 1) = (&args.name, entries.is_empty(), args.page) {
        // No history: say whether the name is a toggle at all.
        let published = source::reading(store, "the fleet", opened.published())?;
        let snapshot = source::reading(store, "the state", opened.load())?;
        let mut known: Vec<&str> = published
            .iter()
            .flat_map(|p| p.declarations.toggles.iter().map(|d| d.full_name.as_str()))
            .chain(
                [&snapshot.switches, &snapshot.flags, &snapshot.settings]
                    .into_iter()
                    .flat_map(Section::keys),
            )
            .collect();
        known.sort_unstable();
        known.dedup();
        if !known.contains(&name.as_str()) {
            bail!("{}", fleet::unknown(name, known.into_iter()));
        }
    }

    let mut out = io::stdout().lock();
    for e in &entries {
        if args.json {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", line(e))?;
        }
    }
    if !args.json {
        let more = if entries.len() == args.limit {
            format!("; `--page {}` for older", args.page + 1)
        } else {
            String::new()
        };
        writeln!(out, "{} entries, page {}{more}", entries.len(), args.page)?;
    }
    Ok(Outcome::Clean)
}

/// `2026-11-20T10:00:00Z  ana  grading.new_grader  {"percent":20.0} → {"percent":30.0}  "widen"`
pub(crate) fn line(e: &AuditEntry) -> String {
    let value = |v: &Option<Json>| {
        v.as_ref()
            .map_or_else(|| "(default)".to_owned(), Json::to_string)
    };
    format!(
        "{}  {}  {}  {} → {}  {:?}",
        e.at,
        e.actor,
        e.toggle,
        value(&e.before),
        value(&e.after),
        e.reason
    )
}
