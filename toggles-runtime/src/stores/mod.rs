//! Layer 4, stores: where toggle states, rules and values live, and the record of every change
//! to them — the [`Store`] contract, and the memory and file backends.

mod declarations;
mod experiments;
mod feedback;
mod file;
mod memory;
#[cfg(feature = "remote")]
mod remote;
mod roster;
mod store;
mod usage;

pub use self::declarations::{
    Declarations, Declared, DeclaredAt, Published, Service, FORGET_AFTER,
};
pub(crate) use self::experiments::Experiments;
pub use self::experiments::{ArmCounts, Converted, ExperimentCounts, Exposed};
pub(crate) use self::feedback::FeedbackBook;
pub use self::feedback::{Feedback, FeedbackLog, FEEDBACK_KEPT};
pub use self::file::FileStore;
pub use self::memory::MemoryStore;
#[cfg(feature = "remote")]
pub use self::remote::RemoteStore;
pub(crate) use self::roster::Roster;
pub use self::roster::LIVE_WITHIN;
pub use self::store::{
    AuditEntry, AuditQuery, History, OnChange, OutcomeWindow, RunBuckets, Store, StoreError,
    WriteError,
};
pub(crate) use self::usage::UsageBook;
pub use self::usage::{Usage, Use};
