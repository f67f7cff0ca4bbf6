//! OEP-17's list of what a toggle is for.

use std::fmt;

/// Why a toggle exists, from OEP-17's list of use cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum UseCase {
    /// Code ships dark and is turned on when ready.
    IncrementalRelease,
    /// A feature goes live at a set time.
    LaunchDate,
    /// A percentage rollout watched on the dashboards.
    MonitoredRollout,
    /// A kill switch for when a dependency or load misbehaves.
    CircuitBreaker,
    /// Early access for chosen users or groups.
    BetaTesting,
    /// Special treatment for chosen customers.
    Vip,
    /// On by default, users may turn it off.
    OptOut,
    /// Off by default, users may turn it on.
    OptIn,
    /// A feature operators of an Open edX deployment choose.
    OpenEdx,
}

impl UseCase {
    /// Every use case, in the order of the attribute's documentation.
    pub const ALL: [UseCase; 9] = [
        UseCase::IncrementalRelease,
        UseCase::LaunchDate,
        UseCase::MonitoredRollout,
        UseCase::CircuitBreaker,
        UseCase::BetaTesting,
        UseCase::Vip,
        UseCase::OptOut,
        UseCase::OptIn,
        UseCase::OpenEdx,
    ];

    /// The name written in `use_cases = "..."`: `monitored_rollout`.
    pub const fn as_str(self) -> &'static str {
        match self {
            UseCase::IncrementalRelease => "incremental_release",
            UseCase::LaunchDate => "launch_date",
            UseCase::MonitoredRollout => "monitored_rollout",
            UseCase::CircuitBreaker => "circuit_breaker",
            UseCase::BetaTesting => "beta_testing",
            UseCase::Vip => "vip",
            UseCase::OptOut => "opt_out",
            UseCase::OptIn => "opt_in",
            UseCase::OpenEdx => "open_edx",
        }
    }

    /// The variant's name in Rust, `MonitoredRollout`, for code that writes code.
    pub const fn variant_name(self) -> &'static str {
        match self {
            UseCase::IncrementalRelease => "IncrementalRelease",
            UseCase::LaunchDate => "LaunchDate",
            UseCase::MonitoredRollout => "MonitoredRollout",
            UseCase::CircuitBreaker => "CircuitBreaker",
            UseCase::BetaTesting => "BetaTesting",
            UseCase::Vip => "Vip",
            UseCase::OptOut => "OptOut",
            UseCase::OptIn => "OptIn",
            UseCase::OpenEdx => "OpenEdx",
        }
    }
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of OEP-17's use cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownUseCase(pub String);

impl fmt::Display for UnknownUseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown use case `{}`", self.0)
    }
}

impl std::error::Error for UnknownUseCase {}

/// ```
/// use toggles_vocab::UseCase;
///
/// assert_eq!("vip".parse::<UseCase>(), Ok(UseCase::Vip));
/// assert!("temporary".parse::<UseCase>().is_err());
/// ```
impl std::str::FromStr for UseCase {
    type Err = UnknownUseCase;

    fn from_str(s: &str) -> Result<UseCase, UnknownUseCase> {
        UseCase::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownUseCase(s.to_owned()))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for UseCase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for UseCase {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
