//! What a snapshot is compiled against: the toggles some program declares — this program's
//! registry, or the declarations a fleet published to a shared store.

use serde_json::Value as Json;

use crate::declare::{checker, Cells, Kind, Refusal, Registry, ToggleInfo};
use crate::stores::Declared;

/// Declared toggles by position in full-name order: their kind, their value type, and how a
/// setting's JSON becomes its cached word.
pub(crate) trait Catalog {
    /// The position of `full_name`, if declared.
    fn id_of(&self, full_name: &str) -> Option<u32>;
    /// Where `full_name` is or would be among the declared names, searching from `from` (a
    /// lookup of names in increasing order passes the last answer back), and its id if declared.
    /// A catalog without an order answers `from` and [`id_of`](Catalog::id_of).
    fn seek(&self, full_name: &str, from: usize) -> (usize, Option<u32>) {
        (from, self.id_of(full_name))
    }
    /// The full name of the toggle at `id`.
    fn name(&self, id: u32) -> &str;
    /// The kind of the toggle at `id`.
    fn kind(&self, id: u32) -> Kind;
    /// The value type of the toggle at `id`: `bool`, or `T` of `Setting<T>`.
    fn value_type(&self, id: u32) -> &str;
    /// A setting's value as its word, if `json` is a value of its type.
    fn decode(&self, id: u32, json: &Json) -> Result<u64, Refusal>;
    /// A variant toggle's arms by name, in declaration order, and the control's position among
    /// them; no arms for the other kinds.
    fn arms(&self, id: u32) -> (Vec<&str>, usize);
    /// Every declared full name, in order.
    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_>;
    /// Who declares the toggles, for messages: `this program`, `the fleet`.
    fn whose(&self) -> &'static str;
    /// For a name declared once but no longer: who declared it last (`lms 1.9.0`). A catalog
    /// that knows such names lets their state be reset.
    fn retired(&self, full_name: &str) -> Option<&str> {
        let _ = full_name;
        None
    }
}

impl Catalog for Registry {
    fn id_of(&self, full_name: &str) -> Option<u32> {
        Registry::id_of(self, full_name)
    }

    fn seek(&self, full_name: &str, from: usize) -> (usize, Option<u32>) {
        Registry::seek(self, full_name, from)
    }

    fn name(&self, id: u32) -> &str {
        self.by_id(id).expect("an id of the registry").full_name()
    }

    fn kind(&self, id: u32) -> Kind {
        self.by_id(id).expect("an id of the registry").kind()
    }

    fn value_type(&self, id: u32) -> &str {
        self.by_id(id).expect("an id of the registry").value_type()
    }

    fn decode(&self, id: u32, json: &Json) -> Result<u64, Refusal> {
        match self.by_id(id).map(|t| t.toggle().cells()) {
            Some(Cells::Setting(cells)) => (cells.decode)(json),
            _ => Err(Refusal::Type),
        }
    }

    fn arms(&self, id: u32) -> (Vec<&str>, usize) {
        match self.by_id(id).map(|t| t.toggle().cells()) {
            Some(Cells::Variant(cells)) => (cells.arms.to_vec(), cells.control),
            _ => (Vec::new(), 0),
        }
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        let name: fn(&ToggleInfo) -> &str = |t| t.full_name();
        Box::new(self.iter().map(name))
    }

    fn whose(&self) -> &'static str {
        "this program"
    }
}

/// The toggles a fleet declares, from the declarations its instances published.
pub(crate) struct Fleet {
    /// By full name.
    toggles: Vec<Declared>,
    /// Names only stopped or replaced versions declared, with who declared them last.
    retired: Vec<(String, String)>,
}

impl Fleet {
    /// The toggles `declared` lists, one declaration each, and those `retired` lists as
    /// `(full name, who declared it last)`.
    pub(crate) fn new(mut declared: Vec<Declared>, mut retired: Vec<(String, String)>) -> Fleet {
        declared.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        declared.dedup_by(|a, b| a.full_name == b.full_name);
        retired.sort();
        Fleet {
            toggles: declared,
            retired,
        }
    }

    fn at(&self, id: u32) -> &Declared {
        &self.toggles[id as usize]
    }
}

impl Catalog for Fleet {
    fn id_of(&self, full_name: &str) -> Option<u32> {
        let i = self
            .toggles
            .binary_search_by(|d| d.full_name.as_str().cmp(full_name))
            .ok()?;
        u32::try_from(i).ok()
    }

    fn name(&self, id: u32) -> &str {
        &self.at(id).full_name
    }

    fn kind(&self, id: u32) -> Kind {
        self.at(id).kind
    }

    fn value_type(&self, id: u32) -> &str {
        &self.at(id).value_type
    }

    /// Checked only: a fleet's compiled state is never read, so nothing is kept for it.
    fn decode(&self, id: u32, json: &Json) -> Result<u64, Refusal> {
        let check = checker(&self.at(id).value_type).ok_or(Refusal::Type)?;
        check(json).map(|()| 0)
    }

    fn arms(&self, id: u32) -> (Vec<&str>, usize) {
        let declared = self.at(id);
        let arms: Vec<&str> = declared.arms.iter().map(String::as_str).collect();
        let control = arms
            .iter()
            .position(|a| Some(*a) == declared.default.as_str())
            .unwrap_or(0);
        (arms, control)
    }

    fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Box::new(self.toggles.iter().map(|d| d.full_name.as_str()))
    }

    fn whose(&self) -> &'static str {
        "the fleet"
    }

    fn retired(&self, full_name: &str) -> Option<&str> {
        let i = self
            .retired
            .binary_search_by(|(name, _)| name.as_str().cmp(full_name))
            .ok()?;
        Some(&self.retired[i].1)
    }
}
