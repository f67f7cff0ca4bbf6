//! Layer 6, report: each toggle's live state — what the store holds for it, and who changed it
//! when, from the audit log read on demand — the registry's JSON report, the fleet report
//! built from a shared store alone, and experiments' results.

mod fleet;
mod json;
mod lifecycle;
mod live;
mod results;

pub use self::fleet::{
    Declarer, Drift, DriftKind, FleetReport, FleetService, FleetState, FleetToggle,
};
pub use self::json::{DuplicateReport, Report, ToggleReport};
pub use self::lifecycle::{Lifecycle, Stage, Staleness, STAGE_WINDOW};
pub use self::live::{undeclared, Live, LiveSource};
pub use self::results::{
    results, ArmResult, Comparison, GoalResult, Results, ResultsError, CONFIDENCE,
};
