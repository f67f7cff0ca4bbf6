//! Least privilege (OEP-17 Req 10): who may change which toggle. The host authenticates; the
//! runtime authorizes every write made as a [`Principal`], whichever way it comes in.

use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::declare::{registry, Kind};

/// Who asks for a change: the id the audit log records, the teams it belongs to, and whether it
/// is an admin.
///
/// ```
/// use toggles::policy::Principal;
///
/// let ana = Principal::new("ana@example.com").team("grading-team");
/// assert_eq!(ana.teams, ["grading-team"]);
/// assert!(!ana.admin);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Principal {
    /// The audit log's actor: `ana@example.com`.
    pub id: String,
    /// The teams it belongs to, as toggles name their `owner`.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Whether it may change every toggle.
    #[serde(default)]
    pub admin: bool,
}

impl Principal {
    /// A principal with no team, not an admin.
    pub fn new(id: impl Into<String>) -> Principal {
        Principal {
            id: id.into(),
            teams: Vec::new(),
            admin: false,
        }
    }

    /// Adds a team.
    #[must_use]
    pub fn team(mut self, team: impl Into<String>) -> Principal {
        self.teams.push(team.into());
        self
    }

    /// Makes it an admin.
    #[must_use]
    pub fn admin(mut self) -> Principal {
        self.admin = true;
        self
    }
}

/// The toggle a principal asks to change, as a [`Policy`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target<'a> {
    /// `namespace.name`.
    pub full_name: &'a str,
    /// The namespace.
    pub namespace: &'a str,
    /// Switch, flag or setting.
    pub kind: Kind,
    /// The team that owns it, if declared.
    pub owner: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// The toggle `full_name` of `kind`, owned by `owner`.
    pub fn new(full_name: &'a str, kind: Kind, owner: Option<&'a str>) -> Target<'a> {
        let namespace = full_name.rsplit_once('.').map_or("", |(ns, _)| ns);
        Target {
            full_name,
            namespace,
            kind,
            owner,
        }
    }
}

/// Who may change what. [`OwnersAndAdmins`] is the default; a service installs its own rule
/// with [`set_policy`].
///
/// ```
/// use toggles::policy::{Policy, Principal, Refusal, Target};
///
/// /// Each team changes the toggles of its namespace: `grading-team` those in `grading`.
/// struct NamespacePerTeam;
///
/// impl Policy for NamespacePerTeam {
///     fn may_change(&self, who: &Principal, toggle: &Target<'_>) -> Result<(), Refusal> {
///         let team = format!("{}-team", toggle.namespace);
///         if who.admin || who.teams.contains(&team) {
///             Ok(())
///         } else {
///             let why = format!("`{}` may be changed by team `{team}` or an admin", toggle.full_name);
///             Err(Refusal::new(toggle.full_name, why))
///         }
///     }
/// }
/// toggles::policy::set_policy(NamespacePerTeam);
/// # toggles::policy::set_policy(toggles::policy::OwnersAndAdmins);
/// ```
pub trait Policy: Send + Sync + 'static {
    /// `Ok` if `principal` may change `toggle`; otherwise why not, naming who may.
    fn may_change(&self, principal: &Principal, toggle: &Target<'_>) -> Result<(), Refusal>;
}

/// A policy's refusal: which toggle, and why not, in words that name who may.
///
/// ```
/// use toggles::policy::Refusal;
///
/// let no = Refusal::new("catalog.recommendations", "only the catalog team may change it");
/// assert_eq!(no.to_string(), "only the catalog team may change it");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct Refusal {
    /// The toggle's full name.
    pub toggle: String,
    /// Why not, naming who may.
    pub message: String,
}

impl Refusal {
    /// A refusal to change `toggle`, for `message`.
    pub fn new(toggle: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            toggle: toggle.into(),
            message: message.into(),
        }
    }
}

/// The default policy, least privilege: an admin may change any toggle; a member of the team a
/// toggle declares as its `owner` may change it; a toggle with no owner, only an admin.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnersAndAdmins;

impl Policy for OwnersAndAdmins {
    fn may_change(&self, principal: &Principal, toggle: &Target<'_>) -> Result<(), Refusal> {
        if principal.admin {
            return Ok(());
        }
        let why = match toggle.owner {
            Some(owner) if principal.teams.iter().any(|t| t == owner) => return Ok(()),
            Some(owner) => format!(
                "`{}` is owned by `{owner}`: only its members and admins may change it, and `{}` is neither",
                toggle.full_name, principal.id
            ),
            None => format!(
                "`{}` has no owner, so only admins may change it, and `{}` is not an admin",
                toggle.full_name, principal.id
            ),
        };
        Err(Refusal::new(toggle.full_name, why))
    }
}

static POLICY: RwLock<Option<Arc<dyn Policy>>> = RwLock::new(None);

/// Makes `policy` decide who may change what, for every write made as a principal from now on.
pub fn set_policy(policy: impl Policy) {
    *POLICY.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(policy));
}

pub(super) fn policy() -> Arc<dyn Policy> {
    POLICY
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| Arc::new(OwnersAndAdmins))
}

/// Whether `principal` may change the toggle `full_name` of this program under the policy in
/// force: what an admin page asks before it shows a control. `false` for an unknown name.
pub fn may_change(principal: &Principal, full_name: &str) -> bool {
    registry().get(full_name).is_some_and(|t| {
        let target = Target::new(t.full_name(), t.kind(), t.meta().owner());
        policy().may_change(principal, &target).is_ok()
    })
}
