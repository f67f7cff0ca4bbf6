//! Layer 4, stores: where toggle states, rules and values live, and the record of every change
//! to them — the [`Store`] contract, and the memory and file backends.

mod declarations;
mod file;
mod memory;
mod store;

pub use self::declarations::{Declarations, Declared, DeclaredAt, Published, Service};
pub use self::file::FileStore;
pub use self::memory::MemoryStore;
pub use self::store::{AuditEntry, AuditQuery, History, OnChange, Store, StoreError, WriteError};
