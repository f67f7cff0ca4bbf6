//! Layer 6, report: each toggle's live state — what the store holds for it, and who changed it
//! when, from the audit log read on demand — and the registry's JSON report.

mod json;
mod live;

pub use self::json::Report;
pub use self::live::{Live, LiveSource};
