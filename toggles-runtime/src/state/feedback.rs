//! Feedback on a toggle: checked against what the toggle declares, then kept by the installed
//! store with the arm the unit saw.

use crate::compile::closest;
use crate::declare::{registry, Cells, Flag, ToggleInfo, Variant, Variants};
use crate::state::install::installed_store;
use crate::stores::{Feedback, FeedbackLog, StoreError};
use crate::targeting::Timestamp;

/// The longest piece of feedback kept, in characters.
pub const FEEDBACK_TEXT_MAX: usize = 2000;

/// The longest unit id a piece of feedback names, in characters.
const UNIT_MAX: usize = 256;

/// Why a piece of feedback was not kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedbackError {
    /// The feedback names a toggle or an arm this program does not declare, or its text is
    /// empty or too long.
    #[error("feedback refused: {0}")]
    Invalid(String),
    /// No store has been installed.
    #[error("feedback not kept: no store is installed (call `toggles::install` first)")]
    NoStore,
    /// The installed store keeps no feedback.
    #[error("feedback not kept: {0} keeps no feedback")]
    NotKept(String),
    /// The store failed.
    #[error("feedback not kept: {0}")]
    Store(#[from] StoreError),
}

/// Keeps `text` as feedback on arm `arm` of the toggle `toggle` (a full name) from `unit`, in the
/// installed store: for feedback that arrives by name (the HTTP API's); code holding the static
/// calls [`Flag::feedback`] or [`Variant::feedback`].
///
/// `arm` is `on` or `off` for a flag, an arm's name for a variant toggle. Refused unless this
/// program declares the toggle and the arm, and the text is 1 to [`FEEDBACK_TEXT_MAX`]
/// characters (once trimmed). One write to the store: not for the hot path of a request.
///
/// ```
/// use toggles::{toggle, Flag};
/// use toggles::store::MemoryStore;
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
/// static NEW_GRADER: Flag;
///
/// let _toggles = toggles::install(MemoryStore::new())?;
/// NEW_GRADER.feedback(true, Some("42"), "the new grader took my partial credit away")?;
/// toggles::feedback("grading.new_grader", "off", None, "fine as it is")?;
/// let refused = toggles::feedback("grading.new_grader", "maybe", None, "?").unwrap_err();
/// assert_eq!(
///     refused.to_string(),
///     "feedback refused: `grading.new_grader` is a flag: its arms are `on` and `off`, not `maybe`"
/// );
///
/// let log = toggles::feedback_of("grading.new_grader", 10)?.unwrap();
/// assert_eq!(log.per_arm["on"], 1);
/// assert_eq!(log.entries[0].text, "fine as it is");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn feedback(
    toggle: &str,
    arm: &str,
    unit: Option<&str>,
    text: &str,
) -> Result<Feedback, FeedbackError> {
    let Some(info) = registry().get(toggle) else {
        let near = closest(toggle, registry().iter().map(ToggleInfo::full_name))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        return Err(FeedbackError::Invalid(format!(
            "`{toggle}` is not a toggle of this program{near}"
        )));
    };
    match info.toggle().cells() {
        Cells::Flag(_) if arm == "on" || arm == "off" => {}
        Cells::Flag(_) => {
            return Err(FeedbackError::Invalid(format!(
                "`{toggle}` is a flag: its arms are `on` and `off`, not `{arm}`"
            )));
        }
        Cells::Variant(cells) if cells.arms.contains(&arm) => {}
        Cells::Variant(cells) => {
            let near = closest(arm, cells.arms.iter().copied())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            return Err(FeedbackError::Invalid(format!(
                "`{toggle}` has no arm `{arm}`: its arms are `{}`{near}",
                cells.arms.join("`, `")
            )));
        }
        _ => {
            return Err(FeedbackError::Invalid(format!(
                "`{toggle}` is a {}: feedback is on an arm a unit saw, and only flags and variant toggles answer units differently",
                info.kind()
            )));
        }
    }
    let text = text.trim();
    if text.is_empty() || text.chars().count() > FEEDBACK_TEXT_MAX {
        return Err(FeedbackError::Invalid(format!(
            "feedback on `{toggle}` is 1 to {FEEDBACK_TEXT_MAX} characters, not {}",
            text.chars().count()
        )));
    }
    let unit = unit.map(str::trim).filter(|u| !u.is_empty());
    if unit.is_some_and(|u| u.chars().count() > UNIT_MAX) {
        return Err(FeedbackError::Invalid(format!(
            "the unit of feedback on `{toggle}` is at most {UNIT_MAX} characters"
        )));
    }
    let store = installed_store().ok_or(FeedbackError::NoStore)?;
    let piece = Feedback::new(
        info.full_name(),
        arm,
        unit.map(str::to_owned),
        text,
        Timestamp::now(),
    );
    if store.record_feedback(&piece)? {
        Ok(piece)
    } else {
        Err(FeedbackError::NotKept(store.describe()))
    }
}

/// The feedback the installed store keeps on `toggle`: its newest `limit` pieces, newest first,
/// and every piece's count per arm. `None` when the store holds none for it (or keeps none),
/// or no store is installed.
pub fn feedback_of(toggle: &str, limit: usize) -> Result<Option<FeedbackLog>, StoreError> {
    match installed_store() {
        Some(store) => store.feedback(toggle, limit),
        None => Ok(None),
    }
}

impl Flag {
    /// Keeps `text` as feedback on this flag from `unit`, who saw it `on` or off: see
    /// [`feedback`](crate::feedback).
    pub fn feedback(
        &'static self,
        on: bool,
        unit: Option<&str>,
        text: &str,
    ) -> Result<Feedback, FeedbackError> {
        let arm = if on { "on" } else { "off" };
        feedback(self.meta().full_name(), arm, unit, text)
    }
}

impl<E: Variants> Variant<E> {
    /// Keeps `text` as feedback on this toggle from `unit`, who saw `arm`: see
    /// [`feedback`](crate::feedback).
    pub fn feedback(
        &'static self,
        arm: E,
        unit: Option<&str>,
        text: &str,
    ) -> Result<Feedback, FeedbackError> {
        feedback(self.meta().full_name(), E::ARMS[arm.index()], unit, text)
    }
}
