//! Every toggle linked into the binary, found through `inventory` with no list kept by hand
//! (OEP-17 Req 11, discoverability, and Req 12, reports).
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use serde::Serialize;
use toggles_vocab::Date;

use crate::declare::{Kind, Meta, Registration, Source, Toggle, Value};

/// The toggles of this binary, in full-name order.
///
/// ```
/// use toggles::{registry, toggle, Flag};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2025-06-01")]
/// static NEW_GRADER: Flag;
///
/// let info = registry().get("grading.new_grader").unwrap();
/// assert_eq!(info.meta().description(), "Grade problems with the rewritten engine.");
/// assert!(info.meta().is_expired_on("2025-06-02".parse().unwrap()));
/// // The discoverability endpoint's body: built once (it reads the audit log), then serialized.
/// println!("{}", serde_json::to_string_pretty(&registry().report()?)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let declared = inventory::iter::<Registration>
            .into_iter()
            .map(|r| (r.toggle, false));
        let adopted = crate::declare::adopted::take()
            .into_iter()
            .map(|t| (t, true));
        Registry::from_toggles(declared.chain(adopted))
    })
}

/// Every declared toggle, sorted by full name, and any full name declared twice.
///
/// Get it with [`registry()`]. [`report`](Registry::report) builds the discoverability
/// endpoint's JSON body from it, the [`Report`](crate::report::Report); see there for the shape.
pub struct Registry {
    toggles: Vec<ToggleInfo>,
    /// `toggles`' full names, in the same order: a lookup by name searches these without a
    /// virtual call per probe.
    names: Vec<&'static str>,
    duplicates: Vec<Duplicate>,
}

impl Registry {
    fn from_toggles(toggles: impl Iterator<Item = (&'static dyn Toggle, bool)>) -> Registry {
        let mut toggles: Vec<ToggleInfo> = toggles
            .map(|(toggle, adopted)| ToggleInfo { toggle, adopted })
            .collect();
        // Ties broken by source so duplicates come out in a stable order.
        toggles.sort_by(|a, b| {
            let key = |t: &ToggleInfo| {
                let s = t.meta().source();
                (t.full_name(), s.file, s.line, s.column)
            };
            key(a).cmp(&key(b))
        });
        for (id, t) in toggles.iter().enumerate() {
            let id = u32::try_from(id).expect("fewer than 2^32 toggles");
            t.toggle.cells().id().store(id, Ordering::Relaxed);
        }
        let duplicates = toggles
            .chunk_by(|a, b| a.full_name() == b.full_name())
            .filter(|group| group.len() > 1)
            .map(|group| Duplicate {
                full_name: group[0].full_name(),
                sources: group.iter().map(|t| *t.meta().source()).collect(),
            })
            .collect();
        Registry {
            names: toggles.iter().map(ToggleInfo::full_name).collect(),
            toggles,
            duplicates,
        }
    }

    /// Every toggle, in full-name order.
    pub fn iter(&self) -> std::slice::Iter<'_, ToggleInfo> {
        self.toggles.iter()
    }

    /// The toggle with this full name (`namespace.name`).
    pub fn get(&self, full_name: &str) -> Option<&ToggleInfo> {
        self.id_of(full_name).and_then(|id| self.by_id(id))
    }

    /// The toggle at position `id` in full-name order.
    pub(crate) fn by_id(&self, id: u32) -> Option<&ToggleInfo> {
        self.toggles.get(id as usize)
    }

    /// The position of `full_name` in full-name order.
    pub(crate) fn id_of(&self, full_name: &str) -> Option<u32> {
        // With duplicates, the first of them (as `partition_point` found it before).
        let i = self.names.partition_point(|&n| n < full_name);
        (self.names.get(i) == Some(&full_name))
            .then(|| u32::try_from(i).expect("fewer than 2^32 toggles"))
    }

    /// Where `full_name` is or would be in full-name order, searching from `from` (names looked
    /// up in increasing order pass the last answer, so each search starts near its answer), and
    /// its id if declared.
    pub(crate) fn seek(&self, full_name: &str, from: usize) -> (usize, Option<u32>) {
        let i = lower_bound_from(&self.names, full_name, from);
        let id = (self.names.get(i) == Some(&full_name))
            .then(|| u32::try_from(i).expect("fewer than 2^32 toggles"));
        (i, id)
    }

    /// How many toggles are declared.
    pub fn len(&self) -> usize {
        self.toggles.len()
    }

    /// Whether no toggle is declared.
    pub fn is_empty(&self) -> bool {
        self.toggles.is_empty()
    }

    /// Full names declared more than once. Two declarations of one name are a compile error in
    /// one crate and a link error across crates; this reports any that got past both.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// The temporary toggles past their `remove_by` on `date`.
    pub fn expired_on(&self, date: Date) -> impl Iterator<Item = &ToggleInfo> + '_ {
        self.iter().filter(move |t| t.meta().is_expired_on(date))
    }
}

impl<'r> IntoIterator for &'r Registry {
    type Item = &'r ToggleInfo;
    type IntoIter = std::slice::Iter<'r, ToggleInfo>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(ToggleInfo::full_name))
            .finish()
    }
}

/// One toggle as the registry sees it: its metadata, kind and default.
#[derive(Clone, Copy)]
pub struct ToggleInfo {
    toggle: &'static dyn Toggle,
    adopted: bool,
}

impl ToggleInfo {
    /// `namespace.name`.
    pub fn full_name(&self) -> &'static str {
        self.toggle.meta().full_name()
    }

    /// The declared metadata.
    pub fn meta(&self) -> &'static Meta {
        self.toggle.meta()
    }

    /// Switch, flag or setting.
    pub fn kind(&self) -> Kind {
        self.toggle.kind()
    }

    /// `bool` for switches and flags, `T` for `Setting<T>`.
    pub fn value_type(&self) -> &'static str {
        self.toggle.value_type()
    }

    /// The compiled default.
    pub fn default_value(&self) -> Value {
        self.toggle.default_value()
    }

    /// The toggle itself.
    pub fn toggle(&self) -> &'static dyn Toggle {
        self.toggle
    }

    /// Whether this program serves the toggle from another service's declaration
    /// ([`adopt`](crate::fleet::adopt)) rather than declaring it.
    pub fn is_adopted(&self) -> bool {
        self.adopted
    }
}

impl std::fmt::Debug for ToggleInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToggleInfo")
            .field("full_name", &self.full_name())
            .field("kind", &self.kind())
            .field("default", &self.default_value())
            .field("source", self.meta().source())
            .finish()
    }
}

/// A full name declared more than once, with where.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    /// The full name declared twice or more.
    pub full_name: &'static str,
    /// Every declaration of it.
    pub sources: Vec<Source>,
}

/// The first position of `names` (sorted) at or after `from` whose name is not below
/// `full_name`, for a caller that knows every name before `from` is below it.
fn lower_bound_from(names: &[&str], full_name: &str, from: usize) -> usize {
    let rest = names.get(from..).unwrap_or_default();
    // Galloping: the bound doubles until it passes `full_name`, then a binary search between —
    // a few comparisons when the answer is near, as it is for names sought in order, and the
    // entries probed are near each other in memory.
    let mut end = 1;
    while end < rest.len() && rest[end - 1] < full_name {
        end *= 2;
    }
    let end = end.min(rest.len());
    from + rest[..end].partition_point(|&n| n < full_name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Names sought in increasing order, each from the last answer, land where a binary
        /// search of the whole list does — duplicates, absent names and the ends included.
        #[test]
        fn seeking_in_order_finds_what_a_full_search_finds(
            mut names in proptest::collection::vec("[a-d]{0,3}", 0..40),
            sought in proptest::collection::btree_set("[a-d]{0,3}", 0..20),
        ) {
            names.sort();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut at = 0;
            for name in &sought {
                let found = lower_bound_from(&names, name, at);
                prop_assert_eq!(found, names.partition_point(|&n| n < name.as_str()));
                at = found;
            }
        }
    }
    use crate::declare::test_meta as meta;
    use crate::declare::{Flag, Switch};

    // What the compile and link errors normally prevent: one full name declared twice.
    static SECOND: Flag = Flag::__new(meta("grading.new_grader", "b.rs", 7), false);
    static FIRST: Switch = Switch::__new(meta("grading.new_grader", "a.rs", 3), false);
    static OTHER: Flag = Flag::__new(meta("grading.other", "a.rs", 9), false);

    #[test]
    fn reports_a_full_name_declared_twice_with_both_sources() {
        let toggles: [&'static dyn Toggle; 3] = [&SECOND, &OTHER, &FIRST];
        let registry = Registry::from_toggles(toggles.into_iter().map(|t| (t, false)));
        assert_eq!(registry.len(), 3);
        let [dup] = registry.duplicates() else {
            panic!("one duplicate expected: {:?}", registry.duplicates())
        };
        assert_eq!(dup.full_name, "grading.new_grader");
        let sources: Vec<_> = dup.sources.iter().map(ToString::to_string).collect();
        assert_eq!(sources, ["a.rs:3:1", "b.rs:7:1"]);
        // Lookup is deterministic: the first declaration by source location.
        assert_eq!(
            registry.get("grading.new_grader").unwrap().kind(),
            Kind::Switch
        );

        let json = serde_json::to_value(registry.duplicates()).unwrap();
        assert_eq!(json[0]["full_name"], "grading.new_grader");
        assert_eq!(json[0]["sources"][1]["file"], "b.rs");
    }
}
