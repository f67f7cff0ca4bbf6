//! Real data: the 217 Open edX toggle annotations in `tests/data/edx_toggle_annotations.json`,
//! with their real mistakes, turned into `#[toggle]` declarations and compiled.
//!
//! # The mapping
//!
//! | annotation | declaration |
//! |---|---|
//! | `toggle_name` `prefix.NAME` (last `.` outside `[...]`) | `namespace = "prefix"`, `name = "name"` (lower-cased, as a Rust static's name would be) |
//! | `toggle_name` with no prefix | `namespace` = the source file's module path (`lms/envs/common.py` -> `lms.envs.common`) |
//! | `toggle_implementation` `WaffleFlag`, `CourseWaffleFlag` | `Flag` |
//! | `toggle_implementation` `WaffleSwitch`, `ConfigurationModel` | `Switch` |
//! | `toggle_implementation` `DjangoSetting`, `SettingToggle` | `Setting<bool>` |
//! | `toggle_default` `True` / `False` | `= true` / `= false` |
//! | `toggle_description` | the doc comment, one `///` line per line, each trimmed |
//! | `toggle_use_cases` containing `temporary` | `life = "temporary"`; the other use cases go to `use_cases` |
//! | `toggle_use_cases` without `temporary` | `life = "permanent"`, `justification = "Seems permanent, but toggle defined before justification was required."` (OEP-17's own wording for legacy toggles) |
//! | `toggle_target_removal_date` | `remove_by`, verbatim; except `None` on a permanent toggle, the annotation's way of saying "no date", which is left out |
//! | `toggle_creation_date` | `created`, verbatim |
//! | `toggle_tickets`, `toggle_warning` | `tickets`, `warning`, verbatim |
//! | stray legacy tokens `toggle_warnings`, `toggle_type`, `toggle_category`, `toggle_expiration_date` | a key of the same name without `toggle_` (each an unknown key) |
//!
//! The test computes, independently of the macro, which catalogue rules each record breaks;
//! compiles all 217 in one crate and checks every record fails with exactly the errors expected;
//! then compiles the records that break nothing into a binary and checks the registry it prints.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use toggles::Date;

const LEGACY_JUSTIFICATION: &str =
    "Seems permanent, but toggle defined before justification was required.";
const LEGACY_TOKENS: [&str; 4] = [
    "toggle_warnings",
    "toggle_type",
    "toggle_category",
    "toggle_expiration_date",
];
/// The fixed "today" for the expired check.
const AS_OF: &str = "2026-01-01";

/// A record after the mapping, before it is written as Rust.
struct Declaration {
    index: usize,
    source_file: String,
    ty: &'static str,
    default: bool,
    doc: Vec<String>,
    namespace: String,
    name: String,
    life: &'static str,
    remove_by: Option<String>,
    created: String,
    use_cases: Vec<String>,
    tickets: Option<String>,
    warning: Option<String>,
    legacy_keys: Vec<String>,
}

impl Declaration {
    fn from_record(index: usize, r: &Json) -> Declaration {
        let field = |k: &str| r.get(k).and_then(Json::as_str).map(str::to_owned);
        let raw_name = field("toggle_name").unwrap();
        let source_file = field("source_file").unwrap();
        let (namespace, name) = match last_dot_outside_brackets(&raw_name) {
            Some(i) => (raw_name[..i].to_owned(), raw_name[i + 1..].to_lowercase()),
            None => (
                source_file.trim_end_matches(".py").replace('/', "."),
                raw_name.to_lowercase(),
            ),
        };
        let ty = match field("toggle_implementation").unwrap().as_str() {
            "WaffleFlag" | "CourseWaffleFlag" => "Flag",
            "WaffleSwitch" | "ConfigurationModel" => "Switch",
            "DjangoSetting" | "SettingToggle" => "Setting<bool>",
            other => panic!("record {index}: no mapping for implementation {other}"),
        };
        let cases: Vec<String> = field("toggle_use_cases")
            .unwrap()
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        let temporary = cases.iter().any(|c| c == "temporary");
        let remove_by = field("toggle_target_removal_date")
            .filter(|d| temporary || !d.eq_ignore_ascii_case("none"));
        Declaration {
            index,
            source_file,
            ty,
            default: field("toggle_default").unwrap() == "True",
            doc: field("toggle_description")
                .unwrap()
                .lines()
                .map(|l| l.trim().to_owned())
                .collect(),
            namespace,
            name,
            life: if temporary { "temporary" } else { "permanent" },
            remove_by,
            created: field("toggle_creation_date").unwrap(),
            use_cases: cases.into_iter().filter(|c| c != "temporary").collect(),
            tickets: field("toggle_tickets"),
            warning: field("toggle_warning"),
            legacy_keys: LEGACY_TOKENS
                .iter()
                .filter(|t| r.get(**t).is_some())
                .map(|t| t.trim_start_matches("toggle_").to_owned())
                .collect(),
        }
    }

    fn full_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }

    fn description(&self) -> String {
        self.doc.join("\n").trim().to_owned()
    }

    /// The Rust source of the declaration.
    fn write(&self, out: &mut String) {
        for line in &self.doc {
            let _ = writeln!(out, "/// {line}");
        }
        let mut keys = vec![
            ("namespace".to_owned(), self.namespace.clone()),
            ("name".to_owned(), self.name.clone()),
            ("life".to_owned(), self.life.to_owned()),
        ];
        if let Some(d) = &self.remove_by {
            keys.push(("remove_by".to_owned(), d.clone()));
        }
        if self.life == "permanent" {
            keys.push(("justification".to_owned(), LEGACY_JUSTIFICATION.to_owned()));
        }
        keys.push(("created".to_owned(), self.created.clone()));
        if !self.use_cases.is_empty() {
            keys.push(("use_cases".to_owned(), self.use_cases.join(", ")));
        }
        if let Some(t) = &self.tickets {
            keys.push(("tickets".to_owned(), t.clone()));
        }
        if let Some(w) = &self.warning {
            keys.push(("warning".to_owned(), w.clone()));
        }
        for k in &self.legacy_keys {
            keys.push((k.clone(), "None".to_owned()));
        }
        let _ = writeln!(out, "#[toggle(");
        for (k, v) in keys {
            let _ = writeln!(out, "    {k} = {v:?},");
        }
        let _ = writeln!(out, ")]");
        let init = match (self.ty, self.default) {
            ("Setting<bool>", d) => format!(" = {d}"),
            (_, true) => " = true".to_owned(),
            (_, false) => String::new(),
        };
        let _ = writeln!(
            out,
            "pub static TOGGLE_{}: {}{init};\n",
            self.index, self.ty
        );
    }

    /// The catalogue rules this record breaks, worked out without the macro.
    fn expected_errors(&self) -> BTreeSet<&'static str> {
        let mut e = BTreeSet::new();
        if !is_words(&self.namespace, true) {
            e.insert("invalid namespace");
        }
        if !is_words(&self.name, false) {
            e.insert("invalid name");
        }
        let description = self.description();
        if description.is_empty()
            || ["none", "n/a", "todo", "-"].contains(&description.to_lowercase().as_str())
        {
            e.insert("placeholder description");
        }
        let remove_by = self.remove_by.as_ref().map(|d| d.parse::<Date>());
        match (self.life, &remove_by) {
            ("temporary", None) => {
                e.insert("temporary without remove_by");
            }
            ("permanent", Some(_)) => {
                e.insert("permanent with remove_by");
            }
            _ => {}
        }
        if let Some(Err(_)) = remove_by {
            e.insert("bad date");
        }
        let created = self.created.parse::<Date>();
        if created.is_err() {
            e.insert("bad date");
        }
        if let (Some(Ok(r)), Ok(c), "temporary") = (remove_by, created, self.life) {
            if r < c {
                e.insert("remove_by before created");
            }
        }
        if !self.legacy_keys.is_empty() {
            e.insert("unknown key");
        }
        if [&self.tickets, &self.warning]
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.trim().is_empty()))
        {
            e.insert("empty value");
        }
        e
    }
}

fn last_dot_outside_brackets(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut last = None;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => last = Some(i),
            _ => {}
        }
    }
    last
}

fn is_words(s: &str, dots: bool) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.split(|c| c == '_' || (dots && c == '.')).all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Which catalogue rule a compiler error message reports.
fn classify(message: &str) -> &'static str {
    let rules = [
        ("invalid namespace", "invalid namespace"),
        ("invalid name", "invalid name"),
        (
            "is a placeholder, not a description",
            "placeholder description",
        ),
        ("the doc comment is empty", "placeholder description"),
        (
            "temporary toggle needs `remove_by",
            "temporary without remove_by",
        ),
        (
            "permanent toggle has no `remove_by`",
            "permanent with remove_by",
        ),
        ("must be a date written", "bad date"),
        ("is not a real date", "bad date"),
        ("is before `created`", "remove_by before created"),
        ("unknown key", "unknown key"),
        ("is empty: fill it in or remove it", "empty value"),
        ("is defined multiple times", "duplicate full name"),
    ];
    rules
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map_or_else(
            || panic!("an error no rule expects: {message}"),
            |(_, rule)| rule,
        )
}

fn records() -> Vec<Json> {
    let path = std::env::var_os("TOGGLES_EDX_DATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/edx_toggle_annotations.json"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the real-data test reads {} (or $TOGGLES_EDX_DATA): {e}",
            path.display()
        )
    });
    serde_json::from_str::<Vec<Json>>(&text).expect("the annotations are a JSON array")
}

/// Writes a crate whose `main.rs` declares `decls`; returns, for each, its first and last line.
fn write_crate(
    name: &str,
    decls: &[&Declaration],
    main: &str,
) -> (PathBuf, Vec<(usize, usize, usize)>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let toggles = Path::new(env!("CARGO_MANIFEST_DIR")).display().to_string();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\ntoggles = {{ path = {toggles:?} }}\nserde_json = \"1\"\n\n[workspace]\n"),
    )
    .unwrap();
    let mut src = String::from("#![allow(dead_code)]\n//! Generated from the Open edX annotations by tests/edx_annotations.rs.\n\nuse toggles::{toggle, Flag, Setting, Switch};\n\n");
    let mut lines = Vec::new();
    for d in decls {
        let first = src.lines().count() + 1;
        let _ = writeln!(src, "// record {}: {}", d.index, d.source_file);
        d.write(&mut src);
        lines.push((d.index, first, src.lines().count()));
    }
    src.push_str(main);
    std::fs::write(dir.join("src/main.rs"), src).unwrap();
    (dir, lines)
}

#[test]
fn edx_annotations_compile_or_fail_by_the_catalogue() {
    let records = records();
    assert_eq!(records.len(), 217);
    let decls: Vec<Declaration> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Declaration::from_record(i, r))
        .collect();

    let mut expected: BTreeMap<usize, BTreeSet<&str>> = decls
        .iter()
        .map(|d| (d.index, d.expected_errors()))
        .collect();
    // Of valid declarations sharing a full name, every one after the first is a collision.
    let mut seen = BTreeSet::new();
    for d in &decls {
        if expected[&d.index].is_empty() && !seen.insert(d.full_name()) {
            expected
                .get_mut(&d.index)
                .unwrap()
                .insert("duplicate full name");
        }
    }

    // 1. Everything in one crate: each record fails with exactly the errors expected of it.
    check_rejections(&decls, &expected);

    // 2. The records that break nothing compile, and the registry describes each of them.
    let passing: Vec<&Declaration> = decls
        .iter()
        .filter(|d| expected[&d.index].is_empty())
        .collect();
    let expired = check_registry(&passing);

    let rejected = decls.len() - passing.len();
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for rules in expected.values() {
        for rule in rules {
            *by_rule.entry(rule).or_default() += 1;
        }
    }
    println!(
        "records {}, compiled {}, rejected {rejected}, expired as of {AS_OF}: {}\nrejections by rule (a record may break several): {by_rule:?}",
        decls.len(),
        passing.len(),
        expired
    );
}

/// Compiles every declaration in one crate; each must fail with exactly the errors expected.
fn check_rejections(decls: &[Declaration], expected: &BTreeMap<usize, BTreeSet<&str>>) {
    let all: Vec<&Declaration> = decls.iter().collect();
    let (dir, lines) = write_crate("edx_all", &all, "fn main() {}\n");
    let out = support::cargo::cargo(&dir, &["check", "--quiet", "--message-format=json"]);
    let mut actual: BTreeMap<usize, BTreeSet<&str>> =
        decls.iter().map(|d| (d.index, BTreeSet::new())).collect();
    for line in out.stdout.lines() {
        let msg: Json = serde_json::from_str(line).unwrap();
        if msg["reason"] != "compiler-message" || msg["message"]["level"] != "error" {
            continue;
        }
        let text = msg["message"]["message"].as_str().unwrap();
        if text.starts_with("aborting due to") {
            continue;
        }
        let spans = msg["message"]["spans"].as_array().unwrap();
        let primary = spans
            .iter()
            .find(|s| s["is_primary"] == true)
            .expect("a primary span");
        let at = usize::try_from(primary["line_start"].as_u64().unwrap()).unwrap();
        let (index, _, _) = lines
            .iter()
            .find(|(_, first, last)| (*first..=*last).contains(&at))
            .unwrap_or_else(|| panic!("error outside any declaration, line {at}: {text}"));
        actual.get_mut(index).unwrap().insert(classify(text));
    }
    let wrong: Vec<String> = decls
        .iter()
        .filter(|d| expected[&d.index] != actual[&d.index])
        .map(|d| {
            format!(
                "record {} `{}`: expected {:?}, got {:?}",
                d.index,
                d.full_name(),
                expected[&d.index],
                actual[&d.index]
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "records judged wrongly:\n{}",
        wrong.join("\n")
    );
}

/// Compiles and runs the declarations expected to pass; checks the registry they produce, and
/// returns how many are expired on `AS_OF`.
fn check_registry(passing: &[&Declaration]) -> usize {
    let main = format!(
        "fn main() {{\n    let report = toggles::registry().report_as_of({AS_OF:?}.parse().unwrap()).unwrap();\n    println!(\"{{}}\", serde_json::to_string(&report).unwrap());\n}}\n"
    );
    let (dir, _) = write_crate("edx_ok", passing, &main);
    let run = support::cargo::cargo(&dir, &["run", "--quiet"]);
    assert!(
        run.status.success(),
        "the valid records should compile and run:\n{}",
        run.stderr
    );
    let report: Json = serde_json::from_str(&run.stdout).unwrap();
    let toggles = report["toggles"].as_array().unwrap();
    assert_eq!(toggles.len(), passing.len());
    let as_of: Date = AS_OF.parse().unwrap();
    let mut expired = Vec::new();
    for d in passing {
        let t = toggles
            .iter()
            .find(|t| t["full_name"] == d.full_name().as_str())
            .unwrap_or_else(|| panic!("{} is missing from the registry", d.full_name()));
        let kind = match d.ty {
            "Flag" => "flag",
            "Switch" => "switch",
            _ => "setting",
        };
        assert_eq!(t["kind"], kind, "{}", d.full_name());
        assert_eq!(t["default"], d.default, "{}", d.full_name());
        assert_eq!(
            t["description"],
            d.description().as_str(),
            "{}",
            d.full_name()
        );
        assert_eq!(t["life"], d.life, "{}", d.full_name());
        assert_eq!(
            t["remove_by"].as_str(),
            d.remove_by.as_deref(),
            "{}",
            d.full_name()
        );
        assert_eq!(t["created"], d.created.as_str(), "{}", d.full_name());
        let justification = (d.life == "permanent").then_some(LEGACY_JUSTIFICATION);
        assert_eq!(
            t["justification"].as_str(),
            justification,
            "{}",
            d.full_name()
        );
        let cases: Vec<&str> = t["use_cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(cases, d.use_cases, "{}", d.full_name());
        assert_eq!(
            t["tickets"].as_str(),
            d.tickets.as_deref(),
            "{}",
            d.full_name()
        );
        assert_eq!(
            t["warning"].as_str(),
            d.warning.as_deref(),
            "{}",
            d.full_name()
        );
        if d.remove_by
            .as_ref()
            .is_some_and(|r| r.parse::<Date>().unwrap() < as_of)
        {
            expired.push(d.full_name());
        }
    }
    expired.sort();
    let reported: Vec<&str> = report["expired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(reported, expired);

    expired.len()
}
