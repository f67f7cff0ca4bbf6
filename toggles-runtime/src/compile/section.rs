//! One section of a snapshot: entries by full name, shared between copies.

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::Index;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

/// One section of a [`Snapshot`](crate::store::Snapshot) (its switches, flags or settings): the
/// JSON entry of each toggle by full name, in name order.
///
/// A map like `BTreeMap<String, Json>`, whose copies share their entries: a clone copies the
/// map's structure, never an entry, so the runtime keeps the state in force beside the store's
/// without copying a rule per write. Changing an entry ([`insert`](Section::insert),
/// [`get_mut`](Section::get_mut)) changes this copy only.
///
/// Serialized as a JSON object.
///
/// ```
/// use serde_json::json;
/// use toggles::store::Section;
///
/// let mut flags = Section::new();
/// flags.insert("grading.new_grader".into(), json!({"percent": 20}));
/// let copy = flags.clone();
/// flags.get_mut("grading.new_grader").unwrap()["percent"] = json!(50);
/// assert_eq!(flags.get("grading.new_grader").unwrap()["percent"], 50);
/// assert_eq!(copy.get("grading.new_grader").unwrap()["percent"], 20);
/// assert_eq!(copy.iter().map(|(name, _)| name).collect::<Vec<_>>(), ["grading.new_grader"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Section {
    // Equality compares `Arc`s of `Eq` types, which the standard library answers by pointer
    // first: comparing a copy with its original never looks at an entry.
    entries: BTreeMap<Arc<str>, Arc<Json>>,
}

impl Section {
    /// An empty section.
    pub fn new() -> Section {
        Section::default()
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&Json> {
        self.entries.get(name).map(|json| &**json)
    }

    /// The entry for `name`, to change in this copy only.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Json> {
        self.entries.get_mut(name).map(Arc::make_mut)
    }

    /// Whether the section holds an entry for `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Sets the entry for `name`, returning the one it replaces.
    pub fn insert(&mut self, name: String, entry: Json) -> Option<Json> {
        self.entries
            .insert(Arc::from(name), Arc::new(entry))
            .map(Arc::unwrap_or_clone)
    }

    /// Removes the entry for `name`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Json> {
        self.entries.remove(name).map(Arc::unwrap_or_clone)
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Json) -> bool) {
        self.entries.retain(|name, entry| keep(name, entry));
    }

    /// How many entries the section holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the section holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, in name order.
    pub fn iter(&self) -> SectionIter<'_> {
        SectionIter {
            inner: self.entries.iter(),
        }
    }

    /// Every name, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        self.entries.keys().map(|name| &**name)
    }

    /// Every entry's JSON, in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Json> + ExactSizeIterator + '_ {
        self.entries.values().map(|json| &**json)
    }
}

/// An iterator over a [`Section`]'s entries, in name order.
#[derive(Clone, Debug)]
pub struct SectionIter<'a> {
    inner: btree_map::Iter<'a, Arc<str>, Arc<Json>>,
}

impl<'a> Iterator for SectionIter<'a> {
    type Item = (&'a str, &'a Json);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(name, json)| (&**name, &**json))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for SectionIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .next_back()
            .map(|(name, json)| (&**name, &**json))
    }
}

impl ExactSizeIterator for SectionIter<'_> {}

impl FusedIterator for SectionIter<'_> {}

impl<'a> IntoIterator for &'a Section {
    type Item = (&'a str, &'a Json);
    type IntoIter = SectionIter<'a>;

    fn into_iter(self) -> SectionIter<'a> {
        self.iter()
    }
}

impl<N: Into<String>> FromIterator<(N, Json)> for Section {
    fn from_iter<I: IntoIterator<Item = (N, Json)>>(entries: I) -> Section {
        let mut section = Section::new();
        section.extend(entries);
        section
    }
}

impl<N: Into<String>> Extend<(N, Json)> for Section {
    fn extend<I: IntoIterator<Item = (N, Json)>>(&mut self, entries: I) {
        for (name, entry) in entries {
            self.insert(name.into(), entry);
        }
    }
}

impl<N: Into<String>, const K: usize> From<[(N, Json); K]> for Section {
    fn from(entries: [(N, Json); K]) -> Section {
        entries.into_iter().collect()
    }
}

impl From<BTreeMap<String, Json>> for Section {
    fn from(entries: BTreeMap<String, Json>) -> Section {
        entries.into_iter().collect()
    }
}

impl Index<&str> for Section {
    type Output = Json;

    /// The entry for `name`.
    ///
    /// # Panics
    ///
    /// If the section holds none, as `BTreeMap`'s index does.
    fn index(&self, name: &str) -> &Json {
        self.get(name).expect("no entry found for key")
    }
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Section {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Section {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Section, D::Error> {
        BTreeMap::<String, Json>::deserialize(deserializer).map(Section::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shared(a: &Section, b: &Section, name: &str) -> bool {
        std::ptr::eq(a.get(name).unwrap(), b.get(name).unwrap())
    }

    #[test]
    fn a_copy_shares_entries_until_either_changes_one() {
        let mut a = Section::from([("x.a", json!(1)), ("x.b", json!(2))]);
        let b = a.clone();
        assert!(shared(&a, &b, "x.a") && shared(&a, &b, "x.b"));
        *a.get_mut("x.a").unwrap() = json!(3);
        assert!(
            !shared(&a, &b, "x.a"),
            "changed in one copy: no longer shared"
        );
        assert!(shared(&a, &b, "x.b"));
        assert_eq!(
            b.get("x.a"),
            Some(&json!(1)),
            "the other copy keeps its entry"
        );
        assert_ne!(a, b);
        a.insert("x.a".into(), json!(1));
        assert_eq!(a, b, "equal by contents, shared or not");
        assert!(!shared(&a, &b, "x.a"));
    }

    #[test]
    fn it_reads_and_writes_as_a_json_object_in_name_order() {
        let section: Section = serde_json::from_str(r#"{"b": true, "a": {"percent": 5}}"#).unwrap();
        assert_eq!(section.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            serde_json::to_string(&section).unwrap(),
            r#"{"a":{"percent":5},"b":true}"#
        );
        assert_eq!(
            format!("{section:?}"),
            r#"{"a": Object {"percent": Number(5)}, "b": Bool(true)}"#
        );
    }

    #[test]
    fn removing_and_replacing_return_the_entry_that_was_there() {
        let mut section = Section::new();
        assert_eq!(section.insert("a".into(), json!(1)), None);
        let copy = section.clone();
        assert_eq!(
            section.insert("a".into(), json!(2)),
            Some(json!(1)),
            "shared: a copy is returned"
        );
        assert_eq!(section.remove("a"), Some(json!(2)));
        assert_eq!(section.remove("a"), None);
        assert!(section.is_empty());
        assert_eq!(copy.len(), 1);
        assert!(copy.contains_key("a") && !section.contains_key("a"));
    }
}
