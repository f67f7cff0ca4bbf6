//! Compiling a snapshot against the registry: every entry of a declared toggle interpreted and
//! checked, or every problem found.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Deserialize as _;
use serde_json::Value as Json;

use crate::compile::rule_problems::rule_problems;
use crate::compile::Catalog;
use crate::compile::{Change, Invalid, Problem, Snapshot};
use crate::declare::Kind;
use crate::rules::{CompiledRule, FlagRule};

/// A snapshot made ready for checks: what it holds for each declared toggle, by registry id.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Set when the state layer publishes it; 0 until then.
    pub(crate) generation: u64,
    /// The snapshot as the store held it, undeclared entries included.
    pub(crate) snapshot: Snapshot,
    entries: Arc<Entries>,
}

/// What a compiled state holds for each declared toggle: all a check needs, so a context that
/// pinned the state can still answer from it once the snapshot has been let go.
#[derive(Debug)]
pub(crate) struct Entries {
    /// Sorted by registry id; only toggles the snapshot holds an entry for.
    by_id: Vec<(u32, Entry)>,
}

impl Entries {
    /// The entry for the toggle at registry id `id`, if the snapshot holds one.
    #[inline]
    pub(crate) fn entry(&self, id: u32) -> Option<&Entry> {
        self.by_id
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|i| &self.by_id[i].1)
    }
}

/// What a snapshot holds for one declared toggle, interpreted for its type.
#[derive(Debug)]
pub(crate) enum Entry {
    Switch(bool),
    /// Shared with the compiled state before, when the rule did not change.
    Flag(Arc<CompiledRule>),
    /// The value as the setting's `T::to_bits` encodes it.
    Setting(u64),
}

impl Compiled {
    /// The entry for the toggle at registry id `id`, if the snapshot holds one.
    #[inline]
    pub(crate) fn entry(&self, id: u32) -> Option<&Entry> {
        self.entries.entry(id)
    }

    /// The entries alone, shared.
    pub(crate) fn entries(&self) -> &Arc<Entries> {
        &self.entries
    }
}

/// Interprets every entry of `snapshot` that names a toggle of `registry`, checking each against
/// the toggle's kind and type, and `requires` across flags. Entries for toggles `registry` does
/// not declare are carried along unread.
///
/// A flag rule that `previous` (compiled against the same registry) holds unchanged is taken
/// from it rather than parsed and compiled again: a change to one rule of a large store costs
/// about one rule.
pub(crate) fn compile(
    snapshot: Snapshot,
    registry: &dyn Catalog,
    previous: Option<&Compiled>,
) -> Result<Compiled, Invalid> {
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    // The new rules, parsed; and every valid rule's `requires`, for the cycle check.
    let mut rules: BTreeMap<&str, FlagRule> = BTreeMap::new();
    let mut requires: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let sections = [
        (Kind::Switch, &snapshot.switches),
        (Kind::Flag, &snapshot.flags),
        (Kind::Setting, &snapshot.settings),
    ];
    for (kind, section) in sections {
        for (name, json) in section {
            let Some(id) = registry.id_of(name) else {
                continue;
            };
            let declared = registry.kind(id);
            if declared != kind {
                problems.push(Problem::new(name, format!("is a {declared}, not a {kind}")));
                continue;
            }
            if let Some(rule) = unchanged(previous, name, json, id) {
                requires.insert(name, rule.required_names().map(str::to_owned).collect());
                entries.push((id, Entry::Flag(Arc::clone(rule))));
                continue;
            }
            match (declared, json) {
                (Kind::Switch, Json::Bool(on)) => entries.push((id, Entry::Switch(*on))),
                (Kind::Switch, other) => problems.push(Problem::new(
                    name,
                    format!("is a switch: `true` or `false`, not `{other}`"),
                )),
                (Kind::Setting, value) => match registry.decode(id, value) {
                    Some(bits) => entries.push((id, Entry::Setting(bits))),
                    None => problems.push(Problem::new(
                        name,
                        format!("takes a `{}`, not `{value}`", registry.value_type(id)),
                    )),
                },
                (Kind::Flag, json) => match FlagRule::deserialize(json) {
                    Ok(rule) => {
                        let found = rule_problems(&rule);
                        if found.is_empty() {
                            rules.insert(name, rule);
                        }
                        problems.extend(found.into_iter().map(|p| Problem::new(name, p)));
                    }
                    Err(e) => {
                        problems.push(Problem::new(name, format!("is not a flag rule: {e}")));
                    }
                },
            }
        }
    }
    for (name, rule) in &rules {
        requires.insert(name, rule.requires.clone());
        let mut resolved = Vec::new();
        for required in &rule.requires {
            match registry.id_of(required).map(|id| (id, registry.kind(id))) {
                Some((id, Kind::Flag)) => resolved.push((id, required.clone())),
                Some((_, kind)) => problems.push(Problem::new(
                    name,
                    format!("requires `{required}`, a {kind}; only flags can be required"),
                )),
                None => problems.push(Problem::new(
                    name,
                    format!(
                        "requires `{required}`, which is not a flag of {}",
                        registry.whose()
                    ),
                )),
            }
        }
        let id = registry.id_of(name).expect("a declared flag");
        let rule = CompiledRule::compile(rule, name, resolved);
        entries.push((id, Entry::Flag(Arc::new(rule))));
    }
    if let Some(cycle) = requires_cycle(&requires) {
        problems.push(Problem::new(
            &cycle[0],
            format!("`requires` goes round in a cycle: {}", cycle.join(" -> ")),
        ));
    }
    if !problems.is_empty() {
        return Err(Invalid { problems });
    }
    entries.sort_unstable_by_key(|(id, _)| *id);
    Ok(Compiled {
        generation: 0,
        snapshot,
        entries: Arc::new(Entries { by_id: entries }),
    })
}

/// The compiled rule `previous` holds for flag `name` (registry id `id`), if its JSON is `json`.
fn unchanged<'p>(
    previous: Option<&'p Compiled>,
    name: &str,
    json: &Json,
    id: u32,
) -> Option<&'p Arc<CompiledRule>> {
    let previous = previous?;
    if previous.snapshot.flags.get(name) != Some(json) {
        return None;
    }
    match previous.entry(id) {
        Some(Entry::Flag(rule)) => Some(rule),
        _ => None,
    }
}

/// Refuses a write to a toggle this program does not declare. (The rest of a write — its kind,
/// its value or rule — is checked by compiling the snapshot it would leave behind.)
pub(crate) fn check_target(change: &Change, registry: &dyn Catalog) -> Result<(), Invalid> {
    let name = change.name();
    if registry.id_of(name).is_some() {
        return Ok(());
    }
    if !toggles_vocab::is_full_name(name) {
        return Err(Invalid {
            problems: vec![Problem::new(
                name,
                "is not a toggle's full name: `namespace.name`, in lower-case words joined by `_` (and `.` in the namespace)",
            )],
        });
    }
    let near = registry
        .names()
        .find(|candidate| edit_distance(candidate, name) <= 2)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    Err(Invalid {
        problems: vec![Problem::new(
            name,
            format!("is not a toggle of {}{near}", registry.whose()),
        )],
    })
}

/// Levenshtein distance, for "did you mean" on a mistyped name.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A cycle in `requires` among the declared flags, as the names along it (first repeated last).
fn requires_cycle(requires: &BTreeMap<&str, Vec<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        name: &'a str,
        requires: &'a BTreeMap<&str, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut HashSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> = path[start..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(name.to_owned());
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        path.push(name);
        for next in requires.get(name).map(Vec::as_slice).unwrap_or_default() {
            if let Some(cycle) = visit(next, requires, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = HashSet::new();
    requires
        .keys()
        .find_map(|name| visit(name, requires, &mut Vec::new(), &mut done))
}
