//! The contract between the runtime and a backend that holds toggle states and their audit log.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::compile::{Invalid, Revision, Snapshot};
use crate::declare::Counts;
use crate::stores::{
    Converted, Declarations, ExperimentCounts, Exposed, Feedback, FeedbackLog, Published, Usage,
    Use,
};
use crate::targeting::Timestamp;

/// Called by a store whenever its contents may have changed.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// A backend that holds toggle states, rules and values, and an audit log of every change.
///
/// # The contract
///
/// The runtime reads a store's [`Snapshot`] when it is installed
/// ([`Installer`](crate::Installer)) and whenever the store reports a change, compiles it against
/// the program's toggles, and publishes the result; checks never touch the store. A store:
///
/// - **loads** its current contents whole, as one consistent snapshot. A load that fails
///   changes nothing: the last good state stays in force and the problem is reported
///   ([`status`](crate::status)). An entry that does not fit the program (a field a newer
///   version wrote, a value out of range) is set aside on its own: its toggle keeps its last
///   good state, [`Status::invalid_entries`](crate::Status::invalid_entries) says why, and every
///   other entry takes effect.
/// - **updates** in one transaction: [`update`](Store::update) hands the current contents to
///   the runtime's `edit`, which validates the change and returns its audit entry or refuses.
///   The store then persists the new contents and appends the entry, all of it or none of it,
///   and serializes transactions across every process sharing the store. An `Err` means
///   nothing changed; `Ok` means stored and audited.
/// - **watches**: after [`watch`](Store::watch), it calls `on_change` whenever its contents
///   change other than through this handle's own `update` (the runtime publishes those
///   itself) — counting from its last `load`, so a change between the runtime's first load and
///   the start of the watch is reported too. Calling it more often is harmless: an unchanged
///   snapshot is not published again.
/// - **answers audit queries** newest first, by toggle, with a limit
///   ([`audit`](Store::audit)), so a database answers them with an index rather than the whole
///   log. The audit log never decides whether the state loads.
/// - **keeps the fleet's declarations**: each process that installs the store publishes which
///   service it is and every toggle it declares ([`publish`](Store::publish)), and refreshes its
///   last-seen time while it runs ([`seen`](Store::seen)); [`published`](Store::published)
///   returns them, for a fleet report built from the store alone. It **forgets** an instance
///   not seen for its retention ([`FORGET_AFTER`](crate::store::FORGET_AFTER), a week, unless the
///   store is told otherwise): `published` leaves it out, and a publish or a heartbeat deletes
///   it. A declaration a newer version wrote that this version cannot read is left out on its
///   own ([`Declared::readable`](crate::fleet::Declared::readable)), never the whole fleet.
/// - never blocks a check and never panics on bad data: errors are values.
///
/// Entries for toggles the program does not declare are part of the snapshot and must be kept
/// as they are: a store may be shared by services that declare different toggles.
pub trait Store: Send + Sync + 'static {
    /// A short description for status reports: `memory`, `file /etc/app/toggles.json`.
    fn describe(&self) -> String;

    /// The current contents.
    fn load(&self) -> Result<Snapshot, StoreError>;

    /// Runs one write transaction: `edit` receives the current contents, changes them (or
    /// refuses), and returns the audit entry. The store persists the new contents and appends
    /// the entry atomically — all of it or none of it — and serializes transactions, across
    /// processes where it is shared.
    fn update(
        &self,
        edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
    ) -> Result<AuditEntry, WriteError>;

    /// Accepted changes matching `query`, newest first.
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Who changed `toggle` first and last, and when; `None` if it never changed. The default
    /// reads the toggle's whole history; a database answers with one aggregate query.
    fn history(&self, toggle: &str) -> Result<Option<History>, StoreError> {
        let entries = self.audit(&AuditQuery::toggle(toggle).limit(usize::MAX))?;
        Ok(History::of(entries.iter().rev()).remove(toggle))
    }

    /// [`history`](Store::history) of every toggle that ever changed, for a report. The default
    /// reads the whole log once.
    fn histories(&self) -> Result<HashMap<String, History>, StoreError> {
        let entries = self.audit(&AuditQuery::all().limit(usize::MAX))?;
        Ok(History::of(entries.iter().rev()))
    }

    /// Arranges for `on_change` to be called whenever the contents change other than through
    /// this handle's `update`, by this process or another, for as long as the store lives.
    fn watch(&self, on_change: OnChange) -> Result<(), StoreError>;

    /// Records `declarations` as its instance's, replacing what that instance published before,
    /// published and seen at `at`. The default keeps nothing: a store that is not shared has no
    /// fleet to tell.
    fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
        let _ = (declarations, at);
        Ok(())
    }

    /// Marks `instance` as seen running at `at`. Returns whether the store had it on record:
    /// `false` when it forgot the instance (it went unheard past the retention, say while the
    /// store was unreachable), and the instance then publishes its declarations again. The
    /// default keeps nothing, and says the instance is on record.
    fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
        let _ = (instance, at);
        Ok(true)
    }

    /// Every instance's published declarations.
    fn published(&self) -> Result<Vec<Published>, StoreError> {
        Ok(Vec::new())
    }

    /// Adds `instance`'s outcome counts of the interval ending `at`, per guarded flag, for the
    /// fleet's guards (see [`Guard`](crate::rules::Guard)). Returns whether the store keeps them: the
    /// default keeps nothing and returns `false`, and each process's guards then decide on its
    /// own counts.
    fn record_outcomes(
        &self,
        instance: &str,
        at: Timestamp,
        counts: &[(String, Counts)],
    ) -> Result<bool, StoreError> {
        let _ = (instance, at, counts);
        Ok(false)
    }

    /// The fleet's outcome counts for `toggle` recorded at or after `since`; `None` from a store
    /// that keeps none.
    fn outcomes(&self, toggle: &str, since: Timestamp) -> Result<Option<Counts>, StoreError> {
        let _ = (toggle, since);
        Ok(None)
    }

    /// The fleet's outcome counts for several guarded keys at once, in the order asked: for
    /// each window, the outcomes recorded under its `key` since the later of its `since` and
    /// its `toggle`'s newest audited change (so counts from before a person re-enabled a flag
    /// stay out). `None` from a store that keeps no outcomes. A guard tick asks this once for
    /// all its guarded flags; the default asks [`audit`](Store::audit) and
    /// [`outcomes`](Store::outcomes) for each, and a database answers in one statement.
    fn fleet_outcomes(&self, windows: &[OutcomeWindow]) -> Result<Option<Vec<Counts>>, StoreError> {
        let mut counts = Vec::with_capacity(windows.len());
        for w in windows {
            let newest = self.audit(&AuditQuery::toggle(&w.toggle).limit(1))?;
            let changed = newest.first().map_or(i64::MIN, |e| e.at.unix_seconds());
            let since = Timestamp::from_unix_seconds(w.since.unix_seconds().max(changed));
            match self.outcomes(&w.key, since)? {
                Some(c) => counts.push(c),
                None => return Ok(None),
            }
        }
        Ok(Some(counts))
    }

    /// Adds this instance's run times of one tick (`at`), one [`RunBuckets`] per guarded key
    /// with a run-time limit, so guards judge on the fleet's run times. Returns whether the
    /// store keeps them: the default keeps none and returns `false`, and each process then
    /// judges on its own.
    fn record_run_times(
        &self,
        instance: &str,
        at: Timestamp,
        runs: &[(String, RunBuckets)],
    ) -> Result<bool, StoreError> {
        let _ = (instance, at, runs);
        Ok(false)
    }

    /// The fleet's run times in each of `windows` (as [`fleet_outcomes`](Store::fleet_outcomes)
    /// reads counts: from `since`, or the toggle's newest audited change if later), summed
    /// bucket by bucket; `None` from a store that keeps none.
    fn fleet_run_times(
        &self,
        windows: &[OutcomeWindow],
    ) -> Result<Option<Vec<RunBuckets>>, StoreError> {
        let _ = windows;
        Ok(None)
    }

    /// Adds units exposed to an arm of a tracked experiment, for its results. The store keeps
    /// each unit's earliest exposure to the toggle (by its time, whichever instance records it
    /// first), so results count each unit once, in the arm it was first drawn into. Returns
    /// whether the store keeps them: the default keeps nothing and returns `false`.
    fn record_exposures(&self, exposures: &[Exposed]) -> Result<bool, StoreError> {
        let _ = exposures;
        Ok(false)
    }

    /// Adds units' conversions on the goals of experiments: the store keeps each unit's latest
    /// per goal, so a unit converts on a goal once, and a conversion after its exposure counts
    /// even when an earlier one came before it. Returns whether the store keeps them (the default
    /// keeps nothing).
    fn record_conversions(&self, conversions: &[Converted]) -> Result<bool, StoreError> {
        let _ = conversions;
        Ok(false)
    }

    /// The counts of the experiment of `toggle`, per arm: units exposed, and of those, units
    /// that converted on each goal at or after their exposure. `None` from a store that keeps
    /// none, or holds no exposure of the toggle.
    fn experiment_counts(&self, toggle: &str) -> Result<Option<ExperimentCounts>, StoreError> {
        let _ = toggle;
        Ok(None)
    }

    /// Keeps a piece of feedback on a toggle: the newest
    /// [`FEEDBACK_KEPT`](crate::store::FEEDBACK_KEPT) per toggle, the
    /// oldest dropped past them, and a count per arm of every piece. Returns whether the store
    /// keeps feedback: the default keeps none and returns `false`.
    fn record_feedback(&self, feedback: &Feedback) -> Result<bool, StoreError> {
        let _ = feedback;
        Ok(false)
    }

    /// `toggle`'s feedback: its newest `limit` pieces, newest first, and the count per arm of
    /// every piece given. `None` from a store that keeps none, or holds none for the toggle.
    fn feedback(&self, toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
        let _ = (toggle, limit);
        Ok(None)
    }

    /// Adds `service`'s evaluations of the heartbeat interval ending `at`: for each toggle,
    /// when it was first and last evaluated and when each answer was last given (the latest
    /// time wins, whichever instance reports it). Returns whether the store keeps usage: the
    /// default keeps none and returns `false`.
    fn record_usage(&self, service: &str, at: Timestamp, used: &[Use]) -> Result<bool, StoreError> {
        let _ = (service, at, used);
        Ok(false)
    }

    /// Every toggle's usage per service; `None` from a store that keeps none.
    fn usage(&self) -> Result<Option<Vec<Usage>>, StoreError> {
        Ok(None)
    }
}

/// One tick's run times under a guarded key's two arms, as a store keeps them: counts per
/// bucket of the runtime's log-linear scale of microseconds (bucket indexes are opaque to a
/// store, which only sums counts bucket by bucket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunBuckets {
    /// The "on" arm's (an arm's): `(bucket, runs)`, by increasing bucket.
    pub on: Vec<(u16, u64)>,
    /// The "off" arm's (the control's).
    pub off: Vec<(u16, u64)>,
}

impl RunBuckets {
    /// Run times of the two arms, as counts per bucket.
    pub fn new(on: Vec<(u16, u64)>, off: Vec<(u16, u64)>) -> RunBuckets {
        RunBuckets { on, off }
    }

    /// Whether no run is counted.
    pub fn is_empty(&self) -> bool {
        self.on.is_empty() && self.off.is_empty()
    }
}

/// One guarded key's window, as [`Store::fleet_outcomes`] is asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeWindow {
    /// The key the counts are kept under: the flag's full name, or `name#arm` for an arm.
    pub key: String,
    /// The toggle whose newest audited change the window starts no earlier than.
    pub toggle: String,
    /// Where the window starts at the earliest.
    pub since: Timestamp,
}

impl OutcomeWindow {
    /// The window of `key` (under `toggle`) from `since`.
    pub fn new(key: impl Into<String>, toggle: impl Into<String>, since: Timestamp) -> Self {
        OutcomeWindow {
            key: key.into(),
            toggle: toggle.into(),
            since,
        }
    }
}

/// Which audit entries to read: every toggle's or one toggle's, newest first, a page at a time.
///
/// ```
/// use toggles::store::AuditQuery;
///
/// let page_two = AuditQuery::toggle("grading.new_grader").skip(20).limit(20);
/// assert_eq!(page_two.toggle.as_deref(), Some("grading.new_grader"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only this toggle's entries; every toggle's when `None`.
    pub toggle: Option<String>,
    /// How many of the newest entries to pass over (for paging).
    pub skip: usize,
    /// At most this many entries.
    pub limit: usize,
}

impl AuditQuery {
    /// The newest 100 entries of every toggle.
    pub fn all() -> AuditQuery {
        AuditQuery {
            toggle: None,
            skip: 0,
            limit: 100,
        }
    }

    /// The newest 100 entries of one toggle.
    pub fn toggle(full_name: impl Into<String>) -> AuditQuery {
        AuditQuery {
            toggle: Some(full_name.into()),
            ..AuditQuery::all()
        }
    }

    /// At most `limit` entries.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> AuditQuery {
        self.limit = limit;
        self
    }

    /// Passes over the newest `skip` matching entries.
    #[must_use]
    pub fn skip(mut self, skip: usize) -> AuditQuery {
        self.skip = skip;
        self
    }

    /// Whether `entry` is one the query asks for (ignoring paging).
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.toggle.as_ref().is_none_or(|t| *t == entry.toggle)
    }

    /// Applies the query to `entries`, given oldest first: what a store that keeps its log in
    /// order of writing returns.
    pub fn select<'a, I>(&self, entries: I) -> Vec<AuditEntry>
    where
        I: DoubleEndedIterator<Item = &'a AuditEntry>,
    {
        entries
            .rev()
            .filter(|e| self.matches(e))
            .skip(self.skip)
            .take(self.limit)
            .cloned()
            .collect()
    }
}

/// One accepted change: who, what (before and after), when and why (OEP-17 Req 5).
///
/// ```
/// use serde_json::json;
/// use toggles::store::AuditEntry;
///
/// let entry = AuditEntry::new("catalog.recommendations", "ops", "spike")
///     .before(Some(json!(true)))
///     .after(Some(json!(false)));
/// assert_eq!(entry.after, Some(json!(false)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// When it was written.
    pub at: Timestamp,
    /// Who wrote it.
    pub actor: String,
    /// The toggle's full name.
    pub toggle: String,
    /// What the store held for the toggle before; `null` for nothing (the compiled default).
    pub before: Option<Json>,
    /// What it holds after; `null` for nothing.
    pub after: Option<Json>,
    /// Why.
    pub reason: String,
}

impl AuditEntry {
    /// A change of `toggle` by `actor` for `reason`, now, from nothing to nothing: set
    /// [`before`](AuditEntry::before) and [`after`](AuditEntry::after).
    pub fn new(
        toggle: impl Into<String>,
        actor: impl Into<String>,
        reason: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            at: Timestamp::now(),
            actor: actor.into(),
            toggle: toggle.into(),
            before: None,
            after: None,
            reason: reason.into(),
        }
    }

    /// What the store held before.
    #[must_use]
    pub fn before(mut self, before: Option<Json>) -> AuditEntry {
        self.before = before;
        self
    }

    /// What it holds after.
    #[must_use]
    pub fn after(mut self, after: Option<Json>) -> AuditEntry {
        self.after = after;
        self
    }

    /// When, if not now.
    #[must_use]
    pub fn at(mut self, at: Timestamp) -> AuditEntry {
        self.at = at;
        self
    }
}

/// Who changed a toggle first and last, and when, from the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    /// The first audited change.
    pub first_modified: Timestamp,
    /// The last audited change.
    pub last_modified: Timestamp,
    /// Who made the last change.
    pub modified_by: String,
}

impl History {
    /// The history of every toggle in `entries`, given oldest first.
    pub fn of<'a>(entries: impl Iterator<Item = &'a AuditEntry>) -> HashMap<String, History> {
        let mut histories: HashMap<String, History> = HashMap::new();
        for e in entries {
            histories
                .entry(e.toggle.clone())
                .and_modify(|h| {
                    h.last_modified = e.at;
                    h.modified_by.clone_from(&e.actor);
                })
                .or_insert_with(|| History {
                    first_modified: e.at,
                    last_modified: e.at,
                    modified_by: e.actor.clone(),
                });
        }
        histories
    }
}

/// A store that cannot be read, or holds data that does not fit this program.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing the store's files failed.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The store's file is not valid toggles JSON.
    #[error("{path} is not a valid toggles file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The contents do not fit the toggles of this program.
    #[error("the store holds entries this program cannot use: {0}")]
    Invalid(#[from] Invalid),
    /// Another backend's failure, with its cause (`source()` leads to the driver's error).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A backend's failure: an error of its own, or a message.
    pub fn backend(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Backend(error.into())
    }

    /// A backend's failure told as `context`, caused by `cause`: shown as `context: cause` with
    /// the causes of `cause` after it (a driver's terse error is said with its reason), and
    /// `source()` leads to `cause`, which a caller can downcast to the driver's error type.
    ///
    /// ```
    /// use std::error::Error;
    /// use toggles::StoreError;
    ///
    /// let io = std::io::Error::other("connection reset");
    /// let e = StoreError::backend_caused("cannot reach the flag service", io);
    /// assert_eq!(e.to_string(), "cannot reach the flag service: connection reset");
    /// assert_eq!(e.source().unwrap().to_string(), "connection reset");
    /// ```
    pub fn backend_caused(
        context: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::Backend(Box::new(Caused {
            context: context.into(),
            cause: cause.into(),
        }))
    }
}

/// What [`StoreError::backend_caused`] wraps.
#[derive(Debug)]
struct Caused {
    context: String,
    cause: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for Caused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.cause)?;
        let mut next = self.cause.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for Caused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.cause)
    }
}

/// A write that was refused or failed; either way, nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The change does not fit the registry: unknown toggle, wrong kind, bad value or rule.
    #[error("write refused: {0}")]
    Invalid(#[from] Invalid),
    /// `actor` or `reason` is empty.
    #[error("write refused: every change needs an actor and a reason, for the audit log")]
    Unattributed,
    /// The policy in force does not let the principal change the toggle; the refusal names
    /// who may.
    #[error("write refused: {0}")]
    Forbidden(crate::state::Refusal),
    /// Decided on a revision of the toggle's entry that is no longer the stored one: someone
    /// changed it meanwhile ([`WriteRequest::if_revision`](crate::WriteRequest::if_revision)).
    #[error("write refused: `{toggle}` changed since the write was decided (revision {found}, not {expected}): look again, then decide")]
    Conflict {
        /// The toggle's full name.
        toggle: String,
        /// The revision the write was decided on.
        expected: Revision,
        /// The revision the store holds.
        found: Revision,
    },
    /// No store has been installed.
    #[error("write refused: no store is installed (call `toggles::install` first)")]
    NoStore,
    /// The store failed; it changed nothing.
    #[error("write failed, nothing changed: {0}")]
    Store(#[from] StoreError),
}

/// Forwards every method, the defaulted ones included, so a store behind a smart pointer
/// installs as itself (tracing does the same for `Subscriber`).
macro_rules! forward_store {
    ($($pointer:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $pointer {
            fn describe(&self) -> String {
                (**self).describe()
            }
            fn load(&self) -> Result<Snapshot, StoreError> {
                (**self).load()
            }
            fn update(
                &self,
                edit: &mut dyn FnMut(&mut Snapshot) -> Result<AuditEntry, WriteError>,
            ) -> Result<AuditEntry, WriteError> {
                (**self).update(edit)
            }
            fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
                (**self).audit(query)
            }
            fn history(&self, toggle: &str) -> Result<Option<History>, StoreError> {
                (**self).history(toggle)
            }
            fn histories(&self) -> Result<HashMap<String, History>, StoreError> {
                (**self).histories()
            }
            fn watch(&self, on_change: OnChange) -> Result<(), StoreError> {
                (**self).watch(on_change)
            }
            fn publish(&self, declarations: &Declarations, at: Timestamp) -> Result<(), StoreError> {
                (**self).publish(declarations, at)
            }
            fn seen(&self, instance: &str, at: Timestamp) -> Result<bool, StoreError> {
                (**self).seen(instance, at)
            }
            fn published(&self) -> Result<Vec<Published>, StoreError> {
                (**self).published()
            }
            fn record_outcomes(
                &self,
                instance: &str,
                at: Timestamp,
                counts: &[(String, Counts)],
            ) -> Result<bool, StoreError> {
                (**self).record_outcomes(instance, at, counts)
            }
            fn outcomes(&self, toggle: &str, since: Timestamp) -> Result<Option<Counts>, StoreError> {
                (**self).outcomes(toggle, since)
            }
            fn fleet_outcomes(
                &self,
                windows: &[OutcomeWindow],
            ) -> Result<Option<Vec<Counts>>, StoreError> {
                (**self).fleet_outcomes(windows)
            }
            fn record_run_times(
                &self,
                instance: &str,
                at: Timestamp,
                runs: &[(String, RunBuckets)],
            ) -> Result<bool, StoreError> {
                (**self).record_run_times(instance, at, runs)
            }
            fn fleet_run_times(
                &self,
                windows: &[OutcomeWindow],
            ) -> Result<Option<Vec<RunBuckets>>, StoreError> {
                (**self).fleet_run_times(windows)
            }
            fn record_exposures(&self, exposures: &[Exposed]) -> Result<bool, StoreError> {
                (**self).record_exposures(exposures)
            }
            fn record_conversions(&self, conversions: &[Converted]) -> Result<bool, StoreError> {
                (**self).record_conversions(conversions)
            }
            fn experiment_counts(&self, toggle: &str) -> Result<Option<ExperimentCounts>, StoreError> {
                (**self).experiment_counts(toggle)
            }
            fn record_feedback(&self, feedback: &Feedback) -> Result<bool, StoreError> {
                (**self).record_feedback(feedback)
            }
            fn feedback(&self, toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
                (**self).feedback(toggle, limit)
            }
            fn record_usage(&self, service: &str, at: Timestamp, used: &[Use]) -> Result<bool, StoreError> {
                (**self).record_usage(service, at, used)
            }
            fn usage(&self) -> Result<Option<Vec<Usage>>, StoreError> {
                (**self).usage()
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>, &'static S);
