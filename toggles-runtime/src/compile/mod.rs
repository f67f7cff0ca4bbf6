//! Layer 3, compile: one pure step from what a store holds and the registry of this program to
//! the state checks answer from — or to every problem with it. All validation lives here: of a
//! loaded snapshot, and of a snapshot a write would leave behind.

mod catalog;
mod compiled;
mod problem;
mod revision;
mod rule_problems;
mod section;
mod snapshot;

pub(crate) use self::catalog::{Catalog, Fleet};
pub(crate) use self::compiled::{
    change_problems, check_target, closest, compile, Compiled, Entries, Entry,
};
pub use self::problem::{Invalid, Problem};
pub use self::revision::{Revision, RevisionError};
pub use self::section::{Section, SectionIter};
pub use self::snapshot::{Change, Snapshot};
