//! The runtime of [`toggles`](https://docs.rs/toggles): the toggle types and their cached
//! state, flag rules and their evaluation, percentage bucketing, stores with an audit log, the
//! registry of every toggle in the binary, and test support.
//!
//! Use it through the `toggles` crate, which adds the `#[toggle]` attribute that declares
//! toggles; the types here are built only by that attribute.
//!
//! # Layers
//!
//! The modules are layers, and each names only the layers listed before it:
//!
//! 1. `declare`: the toggle types, their metadata and cached-state cells, the registry. It
//!    knows nothing of rules, stores or the state in force.
//! 2. `rules`: the rule model, its pure evaluation, bucketing, [`Context`], explanations.
//! 3. `compile`: one pure step from a store's [`Snapshot`](store::Snapshot) and the registry to the compiled
//!    state, or to every problem with it. All validation is here.
//! 4. `stores`: the [`Store`](store::Store) contract and its backends, which hold snapshots and audit logs.
//! 5. `state`: the one owner of process-wide state — the installed store, the compiled state in
//!    force, the status, the test overrides and the lock that orders them — with the installation,
//!    `reload` and `write`, and the read API of the toggle types (a check reads what `state`
//!    publishes).
//! 6. `report`: the live view of each toggle and the registry's JSON report, reading the audit
//!    log on demand.
//!
//! (The design lists the state before the stores; here the stores come first because the state
//! holds the installed store, and a store knows nothing of the state.) The crate root's
//! re-exports are for users; inside, modules import from their layer.

//! # When a store goes wrong
//!
//! A store that cannot be read leaves the last good state in force and says so in
//! [`status`]; a single entry the program cannot use holds back only its own toggle, which
//! keeps its last good state while [`Status::invalid_entries`] says why. No store is read while
//! the state lock is held (but by a reload that lost the race to other publishes eight times
//! over), so a store that hangs delays only its own reload — never a check, a guard's trip or a
//! test override. Stores forget a fleet's instance a week after they last
//! heard from it, and a fleet is judged by its current instances only (see [`FleetReport`](fleet::FleetReport)).

mod compile;
mod declare;
mod reports;
mod state;
mod stores;
mod targeting;
pub mod testing;

// The root: what declaring, checking, installing and writing need.
pub use crate::compile::{Change, Invalid, Problem, Revision, RevisionError};
pub use crate::declare::{
    registry, ArmOutcome, Duplicate, Flag, Kind, Life, Meta, Outcome, Registry, Setting,
    SettingValue, Source, Switch, Toggle, ToggleInfo, Value, Variant, Variants,
};
pub use crate::state::{
    feedback, feedback_of, install, on_state_change, snapshot_in_force, status, write, Actor,
    FeedbackError, InstallError, Installation, Installer, Status, WriteRequest, FEEDBACK_TEXT_MAX,
    GUARD_TICK, HEARTBEAT,
};
pub use crate::stores::{Service, StoreError, WriteError};
pub use crate::targeting::{
    Assignment, Context, ContextError, Explanation, OwnedContext, Step, Timestamp, TimestampError,
};
pub use toggles_vocab::{Date, DateError, UseCase};

/// Stores: the [`Store`](store::Store) contract, for a backend of your own, and the backends
/// that come with the runtime — in memory, and a JSON file — with everything their signatures
/// name. (The PostgreSQL store is the `postgres` feature's.)
pub mod store {
    pub use crate::compile::{Section, SectionIter, Snapshot};
    pub use crate::declare::Counts;
    pub use crate::state::installed_store as installed;
    pub use crate::state::Refusal;
    #[cfg(feature = "remote")]
    pub use crate::stores::RemoteStore;
    pub use crate::stores::{
        ArmCounts, AuditEntry, AuditQuery, Converted, Declarations, Declared, DeclaredAt,
        ExperimentCounts, Exposed, Feedback, FeedbackLog, FileStore, History, MemoryStore,
        OnChange, OutcomeWindow, Published, RunBuckets, Service, Store, StoreError, Usage, Use,
        WriteError, FEEDBACK_KEPT, FORGET_AFTER,
    };
    pub use crate::targeting::Timestamp;
}

/// The fleet: what each service's instances publish to a shared store, and the report built
/// from it — which services declare which toggles, what is expired, and the drift.
pub mod fleet {
    pub use crate::compile::Snapshot;
    pub use crate::declare::{adopt, AdoptError, Adoption};
    pub use crate::reports::LiveSource;
    pub use crate::reports::{
        Declarer, Drift, DriftKind, FleetReport, FleetService, FleetState, FleetToggle, Lifecycle,
        Stage, Staleness, STAGE_WINDOW,
    };
    pub use crate::stores::{
        Declarations, Declared, DeclaredAt, History, Published, Service, Store, FORGET_AFTER,
        LIVE_WITHIN,
    };
    pub use crate::targeting::Timestamp;
}

/// Experiments: the exposures of tracked variant toggles and who receives them, the units'
/// conversions, and the results per arm.
pub mod experiment {
    pub use crate::reports::{
        results, ArmResult, Comparison, GoalResult, Results, ResultsError, CONFIDENCE,
    };
    pub use crate::state::{
        Exposure, ExposureCounts, Subscriber, TracingSubscriber, EXPOSURE_BUFFER, EXPOSURE_TICK,
        EXPOSURE_WINDOW, UNIT_ROOM,
    };
    pub use crate::stores::{ArmCounts, Converted, ExperimentCounts, Exposed};
    pub use crate::targeting::{Assignment, Step, Timestamp};
}

/// Least privilege (OEP-17 Req 10): who may change which toggle. The host authenticates; the
/// policy in force authorizes every write made by a [`Principal`](policy::Principal).
pub mod policy {
    pub use crate::state::{
        may_change, set_policy, OwnersAndAdmins, Policy, Principal, Refusal, Target,
    };
}

/// Reports: the registry's discoverability report, each toggle's state in force, the audit log.
pub mod report {
    pub use crate::reports::{undeclared, DuplicateReport, Live, LiveSource, Report, ToggleReport};
    pub use crate::state::audit;
    pub use crate::stores::{AuditEntry, AuditQuery, Declared, DeclaredAt, History};
}

/// Rules: what a store holds for a flag — targeting, rollouts, guards — or a variant toggle —
/// pins, an experiment's coverage and weights — and how it is applied.
pub mod rules {
    pub use crate::declare::{Counts, Timings};
    pub use crate::state::{GUARD_ACTOR, ROLLOUT_ACTOR};
    pub use crate::targeting::{
        bucket, FlagRule, GroupPins, GroupTargets, Guard, Latency, Limit, Plan, PlanState, Stage,
        Steer, Targets, Timestamp, Traffic, Trip, VariantRule,
    };
}

// Not public API: what the `#[toggle]` macro's expansion names.
#[doc(hidden)]
pub mod __private {
    pub use crate::declare::{MetaParts, Registration};
    pub use crate::{Date, Flag, Life, Meta, Setting, Source, Switch, UseCase, Variant, Variants};
    pub use core;
    pub use core::option::Option::{self, None, Some};
    pub use inventory;
}

/// One heartbeat interval's usage sweep, for the benchmarks: every toggle's answers taken and
/// each one-load toggle asked to note its next check. Returns how many toggles were evaluated.
#[doc(hidden)]
pub fn __sweep_usage() -> usize {
    state::sweep_usage()
}
