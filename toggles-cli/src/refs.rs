//! `toggles refs`: where each toggle is read. The workspace's Rust sources are parsed with `syn`
//! and every path resolved as rustc would (through `use` renames, globs, re-exports and module
//! paths), so removing a toggle is a list of places to edit, not a text search; a toggle
//! declared and read nowhere is a dead declaration.

mod index;
mod scope;
mod workspace;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::fleet::FleetArgs;
use crate::source::StoreArgs;
use crate::Outcome;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The sources to read: directories (a workspace, a crate) or `.rs` files.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    /// Lines of code shown before and after each place.
    #[arg(long, default_value_t = 1, value_name = "N")]
    context: usize,
    /// `text`, or `json` for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The fleet's declarations too, from `--store` or `--from`: toggles the fleet declares
    /// that these sources do not are listed as such. Without a store, the sources alone.
    #[command(flatten)]
    fleet: FleetArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Where every toggle is declared and read.
#[derive(Debug, Serialize)]
pub(crate) struct Refs {
    /// By full name.
    pub(crate) toggles: Vec<ToggleRefs>,
    /// Full names of toggles declared in the sources and read nowhere.
    pub(crate) dead: Vec<String>,
    pub(crate) files: usize,
    pub(crate) lines: usize,
    /// Files left out, with why (unreadable, or not Rust `syn` can parse).
    pub(crate) unreadable: Vec<Unreadable>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Unreadable {
    pub(crate) file: String,
    pub(crate) error: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToggleRefs {
    pub(crate) full_name: String,
    /// Where the sources declare it; `None` for a toggle only the fleet declares.
    pub(crate) declared_at: Option<Place>,
    /// Whether the fleet's store (or `--from`) declares it; `None` when none was read.
    pub(crate) in_fleet: Option<bool>,
    pub(crate) references: Vec<Reference>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Place {
    pub(crate) file: String,
    pub(crate) line: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct Reference {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// In a `#[test]` function, a `#[cfg(test)]` module or a test crate.
    pub(crate) in_test: bool,
    /// The place's line with `context` lines either side.
    pub(crate) lines: Vec<Line>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Line {
    pub(crate) line: usize,
    pub(crate) text: String,
}

/// `path` as given, without a leading `./`.
fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").map_or(text.clone(), str::to_owned)
}

/// The names a path reading a toggle can end in: a toggle's own, or one a `use` gave it (to a
/// fixpoint, for a rename of a rename). Other paths are never resolved at all.
fn names_of_toggles(workspace: &workspace::Workspace) -> HashSet<&str> {
    let mut names: HashSet<&str> = workspace
        .declarations
        .iter()
        .filter_map(|d| d.path.last().map(String::as_str))
        .collect();
    loop {
        let before = names.len();
        for scope in workspace.scopes.modules.values() {
            for (alias, target) in &scope.aliases {
                if target.last().is_some_and(|t| names.contains(t.as_str())) {
                    names.insert(alias);
                }
            }
        }
        if names.len() == before {
            return names;
        }
    }
}

/// Reads the sources under `paths` and finds every read of a declared toggle.
pub(crate) fn find(paths: &[PathBuf], context: usize) -> Refs {
    let workspace = workspace::read(paths);
    let by_path: HashMap<&[String], usize> = workspace
        .declarations
        .iter()
        .enumerate()
        .map(|(i, d)| (d.path.as_slice(), i))
        .collect();
    let names = names_of_toggles(&workspace);
    let mut found: Vec<Vec<&index::Read>> = vec![Vec::new(); workspace.declarations.len()];
    for read in &workspace.reads {
        if !read.path.last().is_some_and(|n| names.contains(n.as_str())) {
            continue;
        }
        if let Some(&i) = workspace
            .scopes
            .resolve(&read.module, &read.path)
            .and_then(|p| by_path.get(p.as_slice()))
        {
            found[i].push(read);
        }
    }
    let mut texts: HashMap<&Path, Vec<String>> = HashMap::new();
    let mut toggles: BTreeMap<String, ToggleRefs> = BTreeMap::new();
    for (declaration, reads) in workspace.declarations.iter().zip(found) {
        let mut references: Vec<Reference> = reads
            .into_iter()
            .map(|read| {
                let lines = texts.entry(&read.file).or_insert_with(|| {
                    std::fs::read_to_string(&read.file)
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_owned)
                        .collect()
                });
                let from = read.line.saturating_sub(context).max(1);
                let to = (read.line + context).min(lines.len());
                Reference {
                    file: shown(&read.file),
                    line: read.line,
                    column: read.column,
                    in_test: read.in_test,
                    lines: (from..=to)
                        .map(|n| Line {
                            line: n,
                            text: lines[n - 1].clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        references.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        references.dedup_by(|a, b| (&a.file, a.line, a.column) == (&b.file, b.line, b.column));
        toggles.insert(
            declaration.full_name.clone(),
            ToggleRefs {
                full_name: declaration.full_name.clone(),
                declared_at: Some(Place {
                    file: shown(&declaration.file),
                    line: declaration.line,
                }),
                in_fleet: None,
                references,
            },
        );
    }
    let dead = toggles
        .values()
        .filter(|t| t.references.is_empty())
        .map(|t| t.full_name.clone())
        .collect();
    Refs {
        toggles: toggles.into_values().collect(),
        dead,
        files: workspace.files,
        lines: workspace.lines,
        unreadable: workspace
            .unreadable
            .into_iter()
            .map(|(file, error)| Unreadable {
                file: shown(&file),
                error,
            })
            .collect(),
    }
}

impl Refs {
    /// Joins what the fleet declares: each toggle found says whether the fleet declares it, and
    /// the fleet's toggles the sources do not declare are added with no place.
    fn with_fleet(mut self, fleet: &[String]) -> Refs {
        let declared: HashSet<&str> = fleet.iter().map(String::as_str).collect();
        for t in &mut self.toggles {
            t.in_fleet = Some(declared.contains(t.full_name.as_str()));
        }
        let known: HashSet<String> = self.toggles.iter().map(|t| t.full_name.clone()).collect();
        for name in fleet.iter().filter(|n| !known.contains(*n)) {
            self.toggles.push(ToggleRefs {
                full_name: name.clone(),
                declared_at: None,
                in_fleet: Some(true),
                references: Vec::new(),
            });
        }
        self.toggles.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        self
    }

    pub(crate) fn of(&self, full_name: &str) -> Option<&ToggleRefs> {
        self.toggles.iter().find(|t| t.full_name == full_name)
    }
}

/// The places, as `toggles refs` and `toggles check --refs` print them.
pub(crate) fn write_places(out: &mut String, t: &ToggleRefs, indent: &str) {
    for r in &t.references {
        let test = if r.in_test { " (a test)" } else { "" };
        let _ = writeln!(out, "{indent}{}:{}:{}{test}", r.file, r.line, r.column);
        let width = r.lines.last().map_or(1, |l| l.line.to_string().len());
        for l in &r.lines {
            let mark = if l.line == r.line { '>' } else { ' ' };
            let _ = writeln!(out, "{indent}  {mark} {:>width$} | {}", l.line, l.text);
        }
    }
}

pub(crate) fn run(store: &StoreArgs, args: &Args) -> Result<Outcome> {
    let mut refs = find(&args.paths, args.context);
    if store.given() || args.fleet.reads_files() {
        let report = args.fleet.report(store)?;
        let names: Vec<String> = report
            .toggles
            .iter()
            .filter(|t| t.declared_now)
            .map(|t| t.full_name.clone())
            .collect();
        refs = refs.with_fleet(&names);
    }
    let mut out = String::new();
    match args.format {
        Format::Json => {
            out = serde_json::to_string_pretty(&refs)?;
            out.push('\n');
        }
        Format::Text => text(&mut out, &refs),
    }
    print!("{out}");
    Ok(Outcome::Clean)
}

fn text(out: &mut String, refs: &Refs) {
    for t in &refs.toggles {
        let declared = match (&t.declared_at, t.in_fleet) {
            (Some(p), Some(false)) => {
                format!("declared at {}:{}, not by the fleet", p.file, p.line)
            }
            (Some(p), _) => format!("declared at {}:{}", p.file, p.line),
            (None, _) => "declared by the fleet, not in these sources".to_owned(),
        };
        let _ = writeln!(
            out,
            "{} ({declared}): {}",
            t.full_name,
            crate::plural::count(t.references.len() as u64, "place", "places")
        );
        write_places(out, t, "  ");
    }
    for name in &refs.dead {
        if let Some(p) = refs.of(name).and_then(|t| t.declared_at.as_ref()) {
            let _ = writeln!(
                out,
                "warning: `{name}` is declared at {}:{} and read nowhere: a dead declaration; remove it",
                p.file, p.line
            );
        }
    }
    for u in &refs.unreadable {
        let _ = writeln!(out, "warning: {} was left out: {}", u.file, u.error);
    }
    let _ = writeln!(
        out,
        "{} of Rust in {} read",
        crate::plural::count(refs.lines as u64, "line", "lines"),
        crate::plural::count(refs.files as u64, "file", "files")
    );
}
