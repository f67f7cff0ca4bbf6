//! Compiling a snapshot against the registry: every entry of a declared toggle interpreted and
//! checked, or every problem found.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use serde::Deserialize as _;
use serde_json::Value as Json;

use crate::compile::rule_problems::{rule_problems, variant_problems};
use crate::compile::Catalog;
use crate::compile::{Change, Invalid, Problem, Snapshot};
use crate::declare::{Kind, Refusal, STRING_ROOM};
use crate::targeting::{CompiledRule, CompiledVariant, FlagRule, VariantRule};

/// A snapshot made ready for checks: what it holds for each declared toggle, by registry id.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Set when the state layer publishes it; 0 until then.
    pub(crate) generation: u64,
    /// The snapshot as the store held it, undeclared entries included.
    pub(crate) snapshot: Snapshot,
    entries: Arc<Entries>,
    /// Registry ids of the declared toggles whose entry in `snapshot` was set aside.
    set_aside: BTreeSet<u32>,
    /// What is wrong with the entries set aside, toggle by toggle.
    pub(crate) problems: Vec<Problem>,
}

/// What a compiled state holds for each declared toggle: all a check needs, so a context that
/// pinned the state can still answer from it once the snapshot has been let go.
#[derive(Debug)]
pub(crate) struct Entries {
    /// Sorted by registry id; only toggles the snapshot holds an entry for.
    by_id: Vec<(u32, Entry)>,
}

impl Entries {
    /// Every entry, by registry id in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.by_id.iter().map(|(id, entry)| (*id, entry))
    }

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
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Switch(bool),
    /// Shared with the compiled state before, when the rule did not change.
    Flag(Arc<CompiledRule>),
    /// Shared as a flag's is.
    Variant(Arc<CompiledVariant>),
    /// The value as the setting's `T::to_bits` encodes it.
    Setting(u64),
}

impl Entry {
    /// The context attribute a variant rule draws units by; `None` for the user id, or for
    /// another kind of entry.
    pub(crate) fn stickiness(&self) -> Option<&str> {
        match self {
            Entry::Variant(rule) => crate::targeting::RuleNames::stickiness(&**rule),
            _ => None,
        }
    }
}

impl Compiled {
    /// The entry for the toggle at registry id `id`, if the snapshot holds one.
    #[inline]
    pub(crate) fn entry(&self, id: u32) -> Option<&Entry> {
        self.entries.entry(id)
    }

    /// The problems with the entries of `name` (all of them, for a write refused whole).
    pub(crate) fn problems_of(&self, name: &str) -> Vec<Problem> {
        self.problems
            .iter()
            .filter(|p| p.toggle == name)
            .cloned()
            .collect()
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
/// One invalid entry never holds the others back: a declared toggle whose entry has a problem
/// keeps what `previous` held for it (its last good entry), or no entry — its compiled default —
/// and the problem is listed in [`Compiled::problems`]; every other entry moves on. A flag rule
/// is checked for everything at once (its own fields, and every name in its `requires`), so a
/// refusal lists every problem.
///
/// A flag or variant rule that `previous` (compiled against the same registry) holds unchanged
/// is taken from it rather than parsed and compiled again: a change to one rule of a large
/// store costs about one rule.
pub(crate) fn compile(
    snapshot: Snapshot,
    registry: &dyn Catalog,
    previous: Option<&Compiled>,
) -> Compiled {
    let mut problems = Vec::new();
    // By registry id: the entry this snapshot gives, and whether it is new (not `previous`'s).
    let mut entries: BTreeMap<u32, (Entry, bool)> = BTreeMap::new();
    let mut set_aside: BTreeSet<u32> = BTreeSet::new();
    for (kind, section) in snapshot.sections() {
        // The previous snapshot's rules, walked beside these (both in name order), so an
        // unchanged rule is found without a lookup.
        let mut before = previous.and_then(|p| match kind {
            Kind::Flag => Some(p.snapshot.flags.iter().peekable()),
            Kind::Variant => Some(p.snapshot.variants.iter().peekable()),
            _ => None,
        });
        // The section is in name order: each name is sought from where the last one was.
        let mut at = 0;
        for (name, json) in section {
            let (next, id) = registry.seek(name, at);
            at = next;
            let Some(id) = id else {
                continue;
            };
            let was = before.as_mut().and_then(|before| {
                while before.next_if(|(n, _)| *n < name).is_some() {}
                before.next_if(|(n, _)| *n == name).map(|(_, json)| json)
            });
            match interpret(registry, id, name, kind, json, previous, was) {
                Ok(entry) => {
                    entries.insert(id, entry);
                }
                Err(found) => {
                    set_aside.insert(id);
                    problems.extend(found.into_iter().map(|p| Problem::new(name, p)));
                }
            }
        }
    }
    let last_good = |id: u32| previous.and_then(|p| p.entry(id)).cloned();
    for id in &set_aside {
        entries.remove(id);
        if let Some(entry) = last_good(*id) {
            entries.insert(*id, (entry, false));
        }
    }
    // A cycle would make a check recurse for ever, so the state in force never holds one. The
    // state before held none, so each cycle has new entries: they give way to their last good
    // ones (or to nothing), and the entries the state before held stay.
    while let Some(cycle) = requires_cycle(&entries, registry) {
        let names: Vec<&str> = cycle.iter().map(|(_, name)| name.as_str()).collect();
        let message = format!("`requires` goes round in a cycle: {}", names.join(" -> "));
        for (id, name) in &cycle[..cycle.len() - 1] {
            if !entries.get(id).is_some_and(|(_, new)| *new) {
                continue;
            }
            problems.push(Problem::new(name, message.clone()));
            set_aside.insert(*id);
            match last_good(*id) {
                Some(entry) => entries.insert(*id, (entry, false)),
                None => entries.remove(id),
            };
        }
    }
    Compiled {
        generation: 0,
        snapshot,
        entries: Arc::new(Entries {
            by_id: entries.into_iter().map(|(id, (e, _))| (id, e)).collect(),
        }),
        set_aside,
        problems,
    }
}

/// The entry `json` gives the toggle at `id`, declared as `declared`, found in the section of
/// `kind`; and whether it is new rather than `previous`'s. Otherwise every problem with it.
fn interpret(
    registry: &dyn Catalog,
    id: u32,
    name: &str,
    kind: Kind,
    json: &Json,
    previous: Option<&Compiled>,
    was: Option<&Json>,
) -> Result<(Entry, bool), Vec<String>> {
    let declared = registry.kind(id);
    if declared == Kind::Unknown {
        return Err(vec![
            "is of a kind this version of toggles does not know: a newer version declares it, and writes it"
                .to_owned(),
        ]);
    }
    if declared != kind {
        return Err(vec![format!("is a {declared}, not a {kind}")]);
    }
    if let Some(entry) = unchanged(previous, was, json, id) {
        return Ok((entry.clone(), false));
    }
    match (declared, json) {
        (Kind::Switch, Json::Bool(on)) => Ok((Entry::Switch(*on), true)),
        (Kind::Switch, other) => Err(vec![format!(
            "is a switch: `true` or `false`, not `{other}`"
        )]),
        (Kind::Setting, value) => match registry.decode(id, value) {
            Ok(bits) => Ok((Entry::Setting(bits), true)),
            Err(Refusal::Type) => Err(vec![format!(
                "takes a `{}`, not `{value}`",
                registry.value_type(id)
            )]),
            Err(Refusal::Full) => Err(vec![format!(
                "cannot take a new string: this process keeps the strings its `&'static str` settings were given for good, and already keeps {} KiB of them (a restart starts afresh)",
                STRING_ROOM / 1024
            )]),
        },
        (Kind::Unknown, _) => unreachable!("refused above"),
        (Kind::Flag, json) => {
            let rule = FlagRule::deserialize(json)
                .map_err(|e| vec![format!("is not a flag rule: {e}")])?;
            let resolved = flag_problems(&rule, registry)?;
            let rule = CompiledRule::compile(&rule, name, resolved);
            Ok((Entry::Flag(Arc::new(rule)), true))
        }
        (Kind::Variant, json) => {
            let rule = VariantRule::deserialize(json)
                .map_err(|e| vec![format!("is not a variant rule: {e}")])?;
            let (arms, control) = registry.arms(id);
            let resolved = variant_rule_problems(&rule, (&arms, control), false, registry)?;
            let rule = CompiledVariant::compile(&rule, name, resolved, &arms, control);
            Ok((Entry::Variant(Arc::new(rule)), true))
        }
    }
}

/// Every problem of a flag rule: its own (see `rule_problems`) and each name in its `requires`
/// that is not a flag of `registry`. Otherwise the required flags, resolved to registry ids.
fn flag_problems(
    rule: &FlagRule,
    registry: &dyn Catalog,
) -> Result<Vec<(u32, String)>, Vec<String>> {
    resolve_requires(rule_problems(rule), &rule.requires, registry)
}

/// Every problem of a variant rule for a toggle declaring `arms` (with `names`, arms it does
/// not declare among them): its own (see `variant_problems`) and each name in its `requires`
/// that is not a flag of `registry`.
/// Otherwise the required flags, resolved to registry ids.
fn variant_rule_problems(
    rule: &VariantRule,
    arms: (&[&str], usize),
    names: bool,
    registry: &dyn Catalog,
) -> Result<Vec<(u32, String)>, Vec<String>> {
    resolve_requires(
        variant_problems(rule, arms, names),
        &rule.requires,
        registry,
    )
}

/// The flags `requires` names as registry ids, in order, if neither they nor the rule have a
/// problem (`found`, the rule's own); otherwise every problem.
fn resolve_requires(
    mut found: Vec<String>,
    requires: &[String],
    registry: &dyn Catalog,
) -> Result<Vec<(u32, String)>, Vec<String>> {
    let mut resolved = Vec::new();
    for required in requires {
        match registry.id_of(required).map(|id| (id, registry.kind(id))) {
            Some((id, Kind::Flag)) => resolved.push((id, required.clone())),
            Some((_, kind)) => found.push(format!(
                "requires `{required}`, a {kind}; only flags can be required"
            )),
            None => found.push(format!(
                "requires `{required}`, which is not a flag of {}",
                registry.whose()
            )),
        }
    }
    if found.is_empty() {
        Ok(resolved)
    } else {
        Err(found)
    }
}

/// The compiled rule `previous` holds for the flag or variant toggle at registry id `id`, if
/// the JSON it was compiled from (`was`) is `json`.
fn unchanged<'p>(
    previous: Option<&'p Compiled>,
    was: Option<&Json>,
    json: &Json,
    id: u32,
) -> Option<&'p Entry> {
    let previous = previous?;
    // An entry set aside there holds a last good rule, not the one `json` describes.
    // A store's copies share their entries (see `Section`): the same entry is found by address.
    let same = was.is_some_and(|was| std::ptr::eq(was, json) || was == json);
    if !same || previous.set_aside.contains(&id) {
        return None;
    }
    previous
        .entry(id)
        .filter(|e| matches!(e, Entry::Flag(_) | Entry::Variant(_)))
}

/// What is wrong with `change` as it was given, before it becomes JSON: a flag or variant
/// rule's own problems. A value JSON cannot hold would otherwise be lost on the way (a NaN or
/// infinite percent becomes `null`, which reads as no percent at all) and the write would
/// erase what it meant to set.
pub(crate) fn change_problems(change: &Change, registry: &dyn Catalog) -> Vec<Problem> {
    let (name, kind) = match change {
        Change::Flag { name, .. } => (name, Kind::Flag),
        Change::Variant { name, .. } => (name, Kind::Variant),
        _ => return Vec::new(),
    };
    let Some(id) = registry.id_of(name).filter(|id| registry.kind(*id) == kind) else {
        // Not of the change's kind: the compiled snapshot says what it is.
        return Vec::new();
    };
    let (checked, survives) = match change {
        Change::Flag { rule, .. } => (flag_problems(rule, registry), round_trips::<FlagRule>(rule)),
        Change::Variant { rule, .. } => {
            let (arms, control) = registry.arms(id);
            (
                variant_rule_problems(rule, (&arms, control), true, registry),
                round_trips::<VariantRule>(rule),
            )
        }
        _ => unreachable!("matched above"),
    };
    let mut problems = checked.err().unwrap_or_default();
    if problems.is_empty() && !survives {
        problems.push(
            "cannot be stored as JSON without changing: every number must be finite".to_owned(),
        );
    }
    problems
        .into_iter()
        .map(|p| Problem::new(name, p))
        .collect()
}

/// Whether `rule` reads back from its JSON as itself.
fn round_trips<R>(rule: &R) -> bool
where
    R: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
{
    serde_json::to_value(rule)
        .and_then(R::deserialize)
        .is_ok_and(|stored| stored == *rule)
}

/// Refuses a write to a toggle `registry` does not declare, except a reset of the state a
/// toggle that is no longer declared left in `snapshot`. (The rest of a write — its kind, its
/// value or rule — is checked by compiling the snapshot it would leave behind.)
pub(crate) fn check_target(
    change: &Change,
    registry: &dyn Catalog,
    snapshot: &Snapshot,
) -> Result<(), Invalid> {
    let name = change.name();
    if registry.id_of(name).is_some() {
        return Ok(());
    }
    if let Some(last) = registry.retired(name) {
        if matches!(change, Change::Reset { .. }) && snapshot.entry(name).is_some() {
            return Ok(());
        }
        let last = if last.is_empty() {
            String::new()
        } else {
            format!(" (last by {last})")
        };
        return Err(Invalid {
            problems: vec![Problem::new(
                name,
                format!(
                    "is declared by no running service any more{last}: its state can only be reset"
                ),
            )],
        });
    }
    if !toggles_vocab::is_full_name(name) {
        return Err(Invalid {
            problems: vec![Problem::new(
                name,
                "is not a toggle's full name: `namespace.name`, in lower-case words joined by `_` (and `.` in the namespace)",
            )],
        });
    }
    let near = closest(name, registry.names())
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    Err(Invalid {
        problems: vec![Problem::new(
            name,
            format!("is not a toggle of {}{near}", registry.whose()),
        )],
    })
}

/// The candidate nearest `name`, if one is within two edits: for "did you mean".
pub(crate) fn closest<'c>(
    name: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .map(|c| (edit_distance(c, name), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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

/// A cycle in `requires` among the flags of `entries`, as the flags along it (first repeated
/// last). Only a new entry can close one (the state before held none), so the search starts
/// from those.
fn requires_cycle(
    entries: &BTreeMap<u32, (Entry, bool)>,
    registry: &dyn Catalog,
) -> Option<Vec<(u32, String)>> {
    fn visit(
        id: u32,
        entries: &BTreeMap<u32, (Entry, bool)>,
        path: &mut Vec<u32>,
        done: &mut HashSet<u32>,
    ) -> Option<Vec<u32>> {
        if let Some(start) = path.iter().position(|i| *i == id) {
            let mut cycle = path[start..].to_vec();
            cycle.push(id);
            return Some(cycle);
        }
        if !done.insert(id) {
            return None;
        }
        let Some((Entry::Flag(rule), _)) = entries.get(&id) else {
            return None;
        };
        path.push(id);
        for (next, _) in rule.required() {
            if let Some(cycle) = visit(next, entries, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = HashSet::new();
    let mut cycle = entries.iter().find_map(|(id, (entry, new))| match entry {
        Entry::Flag(_) if *new => visit(*id, entries, &mut Vec::new(), &mut done),
        _ => None,
    })?;
    // Told from its first flag in name order, wherever the search entered it, so one cycle
    // always reads the same.
    cycle.pop();
    let first = (0..cycle.len())
        .min_by_key(|i| cycle[*i])
        .expect("a cycle has a flag");
    cycle.rotate_left(first);
    cycle.push(cycle[0]);
    Some(
        cycle
            .into_iter()
            .map(|id| (id, registry.name(id).to_owned()))
            .collect(),
    )
}
