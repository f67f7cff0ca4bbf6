//! What is in force for a toggle now, and who changed it when.

use serde::{Deserialize, Serialize};

use crate::compile::{Compiled, Revision};
use crate::declare::{registry, ToggleInfo};
use crate::state::{current, installed_store};
use crate::stores::{History, StoreError};
use crate::targeting::Timestamp;

/// A toggle's state in force, for the registry's live view (OEP-17 Req 5 and 12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Live {
    /// Where `value` comes from.
    pub source: LiveSource,
    /// A switch's state, a flag's rule or a setting's value, as the store holds it; the
    /// compiled default when the store holds nothing.
    pub value: serde_json::Value,
    /// The first audited change, if any.
    pub first_modified: Option<Timestamp>,
    /// The last audited change, if any.
    pub last_modified: Option<Timestamp>,
    /// Who made the last audited change.
    pub modified_by: Option<String>,
    /// The revision of the stored entry in force (of no entry, for the compiled default): what
    /// a write decided on this state passes to
    /// [`if_revision`](crate::WriteRequest::if_revision). (Read from a report that has none —
    /// written by the first release — it is that of no entry.)
    #[serde(default)]
    pub revision: Revision,
}

/// Where a toggle's state in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveSource {
    /// The installed store holds an entry for it.
    Store,
    /// Nothing does: the compiled default applies.
    Default,
}

impl ToggleInfo {
    /// What is in force for the toggle now: the store's entry or the compiled default, and who
    /// changed it when, asked of the installed store's audit log (an `Err` when it cannot be
    /// read).
    ///
    /// ```
    /// use toggles::{registry, toggle, Change, Switch};
    /// use toggles::report::LiveSource;
    /// use toggles::store::MemoryStore;
    ///
    /// /// Turn recommendations off when the catalog is under load.
    /// #[toggle(namespace = "catalog", life = "permanent", justification = "circuit breaker")]
    /// static RECOMMENDATIONS: Switch = true;
    ///
    /// let _toggles = toggles::install(MemoryStore::new())?;
    /// toggles::write(Change::switch("catalog.recommendations", false).by("ops").because("spike"))?;
    /// let live = registry().get("catalog.recommendations").unwrap().live()?;
    /// assert_eq!(live.source, LiveSource::Store);
    /// assert_eq!(live.value, false);
    /// assert_eq!(live.modified_by.as_deref(), Some("ops"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn live(&self) -> Result<Live, StoreError> {
        let history = match installed_store() {
            Some(store) => store.history(self.full_name())?,
            None => None,
        };
        Ok(Live::of(self, current().as_deref(), history))
    }
}

/// The full names the state in force holds entries for that this program does not declare:
/// other services' toggles in a shared store, or state left behind by removed toggles (drift
/// to clean up, if no service declares them).
///
/// ```
/// use toggles::Change;
/// use toggles::store::{MemoryStore, Snapshot};
///
/// let mut held = Snapshot::default();
/// held.switches.insert("billing.retired".into(), true.into());
/// let _toggles = toggles::install(MemoryStore::from(held)).unwrap();
/// assert_eq!(toggles::report::undeclared(), ["billing.retired"]);
/// ```
pub fn undeclared() -> Vec<String> {
    let Some(compiled) = current() else {
        return Vec::new();
    };
    let s = &compiled.snapshot;
    let mut names: Vec<String> = s
        .sections()
        .into_iter()
        .flat_map(|(_, section)| section.keys())
        .filter(|name| registry().get(name).is_none())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

impl crate::declare::Registry {
    /// [`ToggleInfo::live`] of every toggle, in registry order, reading the audit log once (one
    /// query to a database) rather than once per toggle.
    pub fn live_all(&self) -> Result<Vec<Live>, StoreError> {
        let histories = match installed_store() {
            Some(store) => store.histories()?,
            None => std::collections::HashMap::new(),
        };
        let compiled = current();
        Ok(self
            .iter()
            .map(|t| {
                Live::of(
                    t,
                    compiled.as_deref(),
                    histories.get(t.full_name()).cloned(),
                )
            })
            .collect())
    }
}

impl Live {
    pub(crate) fn of(
        info: &ToggleInfo,
        compiled: Option<&Compiled>,
        history: Option<History>,
    ) -> Live {
        let stored = compiled.and_then(|c| c.snapshot.entry(info.full_name()));
        Live {
            source: if stored.is_some() {
                LiveSource::Store
            } else {
                LiveSource::Default
            },
            value: stored.cloned().unwrap_or_else(|| {
                serde_json::to_value(info.default_value()).expect("a value serializes")
            }),
            first_modified: history.as_ref().map(|h| h.first_modified),
            last_modified: history.as_ref().map(|h| h.last_modified),
            modified_by: history.map(|h| h.modified_by),
            revision: Revision::of(stored),
        }
    }
}
