//! The one write path: a change, who makes it and why, optionally the store of a fleet to write
//! to and the revision it was decided on — checked, authorized, and stored whole or refused
//! whole, whichever way it comes in (code, HTTP, the command line).

use std::fmt;

use crate::compile::{Change, Invalid, Problem, Revision};
use crate::declare::published;
use crate::declare::registry;
use crate::state::external::fleet;
use crate::state::install::{follow, installed, transact_if};
use crate::state::permission::{policy, Principal, Target};
use crate::state::retained;
use crate::stores::{AuditEntry, Roster, Store, WriteError, LIVE_WITHIN};
use crate::targeting::Timestamp;

/// Who makes a change: what the audit log records, and what the policy judges.
///
/// ```
/// use toggles::Actor;
/// use toggles::policy::Principal;
///
/// // A program, or a person the host vouches for: recorded as given, no policy applies.
/// let deploy: Actor = "deploy-bot".into();
/// // A principal: the policy in force decides whether it may change the toggle.
/// let ana: Actor = Principal::new("ana@example.com").team("grading-team").into();
/// assert_eq!(ana.id(), "ana@example.com");
/// # let _ = deploy;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// A system (a program, a migration, a person the host already authorized), by name.
    System(String),
    /// A principal the [`Policy`](crate::policy::Policy) in force authorizes, toggle by toggle.
    Principal(Principal),
}

impl Actor {
    /// The id the audit log records.
    pub fn id(&self) -> &str {
        match self {
            Actor::System(name) => name,
            Actor::Principal(p) => &p.id,
        }
    }
}

impl From<&str> for Actor {
    fn from(name: &str) -> Actor {
        Actor::System(name.to_owned())
    }
}

impl From<&String> for Actor {
    fn from(name: &String) -> Actor {
        Actor::System(name.clone())
    }
}

impl From<String> for Actor {
    fn from(name: String) -> Actor {
        Actor::System(name)
    }
}

impl From<Principal> for Actor {
    fn from(principal: Principal) -> Actor {
        Actor::Principal(principal)
    }
}

impl From<&Principal> for Actor {
    fn from(principal: &Principal) -> Actor {
        Actor::Principal(principal.clone())
    }
}

/// One write, as [`write`](fn@write) takes it: made from a [`Change`] with [`Change::by`], given its
/// reason with [`because`](WriteRequest::because), and optionally a store of the fleet to write
/// to ([`to`](WriteRequest::to)) and the revision it was decided on
/// ([`if_revision`](WriteRequest::if_revision)).
#[must_use = "a write request does nothing until `toggles::write` takes it"]
#[derive(Clone)]
pub struct WriteRequest<'s> {
    change: Change,
    actor: Actor,
    reason: String,
    store: Option<&'s dyn Store>,
    expected: Option<Revision>,
}

impl Change {
    /// A request to write this change on behalf of `actor` (a system's name, or a
    /// [`Principal`] the policy judges); give its reason with
    /// [`because`](WriteRequest::because).
    pub fn by(self, actor: impl Into<Actor>) -> WriteRequest<'static> {
        WriteRequest {
            change: self,
            actor: actor.into(),
            reason: String::new(),
            store: None,
            expected: None,
        }
    }
}

impl WriteRequest<'_> {
    /// Why: the audit log's reason. A write without one is refused.
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Writes to `store`, a store a fleet shares, from outside any service that installed it
    /// (an admin tool, a command line): checked against the declarations the fleet's current
    /// instances published to it (see [`FleetReport`](crate::fleet::FleetReport)), with the rules and
    /// messages of a write to the installed store. Without it, the write goes to the installed
    /// store and is checked against this program's registry.
    pub fn to(self, store: &dyn Store) -> WriteRequest<'_> {
        WriteRequest {
            change: self.change,
            actor: self.actor,
            reason: self.reason,
            store: Some(store),
            expected: self.expected,
        }
    }

    /// Compare-and-set: writes only if the toggle's entry is still at `revision` (the one the
    /// change was decided on, from [`Live::revision`](crate::report::Live::revision) or the HTTP API's
    /// `ETag`), checked inside the store's transaction; otherwise it is refused with
    /// [`WriteError::Conflict`] and nothing changes.
    pub fn if_revision(mut self, revision: Revision) -> Self {
        self.expected = Some(revision);
        self
    }

    /// The change.
    pub fn change(&self) -> &Change {
        &self.change
    }

    /// Who makes it.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

impl fmt::Debug for WriteRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteRequest")
            .field("change", &self.change)
            .field("actor", &self.actor)
            .field("reason", &self.reason)
            .field("store", &self.store.map(Store::describe))
            .field("expected", &self.expected)
            .finish()
    }
}

/// Writes a change: checked — unknown toggle, wrong kind, a rule out of range or finer than a
/// basis point, a `requires` cycle, a setting value its type cannot hold — and authorized (a
/// [`Principal`] by the policy in force), then stored together with its audit entry, or refused
/// whole with every problem listed.
///
/// `Err` means nothing changed. `Ok` means the change is stored and audited; written to the
/// installed store, it is also in force in this process when this returns. Entries of other
/// toggles that this program cannot use do not stop a write (they are set aside on load, see
/// [`Status::invalid_entries`](crate::Status::invalid_entries)).
///
/// ```
/// use toggles::{toggle, Change, Flag, WriteError};
/// use toggles::policy::Principal;
/// use toggles::rules::FlagRule;
/// use toggles::store::MemoryStore;
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01", owner = "grading-team")]
/// static NEW_GRADER: Flag;
///
/// let _toggles = toggles::install(MemoryStore::new())?;
/// let refused = toggles::write(
///     Change::flag("grading.new_grader", FlagRule::new().percent(150.0)).by("ana").because("wider"),
/// );
/// assert_eq!(
///     refused.unwrap_err().to_string(),
///     "write refused: `grading.new_grader` `percent` is from 0 to 100, not 150"
/// );
///
/// // As a principal, on the condition that nobody changed the rule meanwhile.
/// let ana = Principal::new("ana").team("grading-team");
/// let seen = toggles::registry().get("grading.new_grader").unwrap().live()?.revision;
/// let rule = FlagRule::new().percent(20.0);
/// let entry = toggles::write(
///     Change::flag("grading.new_grader", rule.clone()).by(&ana).because("start").if_revision(seen),
/// )?;
/// assert_eq!(entry.actor, "ana");
/// // Decided on the same, now outdated, revision: refused.
/// let late = toggles::write(
///     Change::flag("grading.new_grader", rule).by(&ana).because("again").if_revision(seen),
/// );
/// assert!(matches!(late, Err(WriteError::Conflict { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write(request: WriteRequest<'_>) -> Result<AuditEntry, WriteError> {
    let WriteRequest {
        change,
        actor,
        reason,
        store,
        expected,
    } = request;
    let name = change.name().to_owned();
    match store {
        None => {
            let (store, epoch) = installed().ok_or(WriteError::NoStore)?;
            if let (Actor::Principal(principal), Some(t)) = (&actor, registry().get(&name)) {
                // An unknown name is refused by the write's own validation, with its message.
                let target = Target::new(t.full_name(), t.kind(), t.meta().owner());
                policy()
                    .may_change(principal, &target)
                    .map_err(WriteError::Forbidden)?;
            }
            let base = published();
            let current = retained::newest();
            let (entry, compiled) = transact_if(
                &*store,
                &change,
                actor.id(),
                &reason,
                registry(),
                current.as_deref(),
                expected,
            )?;
            // Failure here is reported by the reload itself; the write stands.
            let _ = follow(&*store, epoch, compiled.map(|c| (base, c)));
            Ok(entry)
        }
        Some(store) => {
            let published = store.published()?;
            if published.is_empty() {
                return Err(WriteError::Invalid(Invalid {
                    problems: vec![Problem::new(
                        &name,
                        "cannot be checked: no service has published its declarations to this store",
                    )],
                }));
            }
            let roster = Roster::new(&published, Timestamp::now(), LIVE_WITHIN);
            if let Actor::Principal(principal) = &actor {
                // The owner the declaration that speaks for the toggle names; the state a toggle
                // no running service declares any more has none (admins only, by default).
                let target = match roster.speaker(&name) {
                    Some((d, true)) => Some(Target::new(&d.full_name, d.kind, d.owner.as_deref())),
                    Some((d, false)) => Some(Target::new(&d.full_name, d.kind, None)),
                    None => None,
                };
                if let Some(target) = target {
                    policy()
                        .may_change(principal, &target)
                        .map_err(WriteError::Forbidden)?;
                }
            }
            transact_if(
                store,
                &change,
                actor.id(),
                &reason,
                &fleet(&roster),
                None,
                expected,
            )
            .map(|(entry, _)| entry)
        }
    }
}
