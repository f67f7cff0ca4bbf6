//! What a flag is evaluated for: the user, their groups, the site and environment of a request.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::declare::published;
use crate::targeting::Timestamp;

/// The subject of a flag check: who is asking, in which groups, on which site and environment.
///
/// A context borrows everything it holds, so building one per request costs no allocation.
///
/// # One request, one state
///
/// A context pins the state in force when it is built (a generation number: one atomic load,
/// no write to memory another thread reads). Every flag check through it answers from that
/// state, so a request sees stable flag values even if the store changes while it runs; the
/// next context sees the change. Build one context per request, after the state it should see.
/// A clone belongs to the same request and pins the same state.
///
/// A superseded state stays available to the contexts that pinned it for at least a minute, or
/// while it is among the 64 newest, whichever is longer (up to 1,024 states, which bounds what a
/// storm of writes can hold). A context kept beyond that answers from the oldest state still
/// held, and a warning is logged once: hold a context for a request, not for a process.
///
/// The clock is read only by rules with an activation window, once per context; [`with_time`](Self::with_time)
/// sets the instant instead.
///
/// ```
/// use toggles::Context;
///
/// let groups = [("course", "course-v1:edX+DemoX"), ("org", "edX")];
/// let ctx = Context::new()
///     .with_user("42")
///     .with_site("learning.example.com")
///     .with_groups(&groups)
///     .with_attributes(&[("region", "RO")]);
/// assert_eq!(ctx.user(), Some("42"));
/// assert_eq!(ctx.group_ids("course").collect::<Vec<_>>(), ["course-v1:edX+DemoX"]);
/// assert_eq!(ctx.attribute("region"), Some("RO"));
/// ```
pub struct Context<'a> {
    user: Option<&'a str>,
    site: Option<&'a str>,
    environment: Option<&'a str>,
    groups: &'a [(&'a str, &'a str)],
    attributes: &'a [(&'a str, &'a str)],
    /// The generation of the state this context answers from.
    generation: u64,
    /// Unix microseconds the windows are judged at, or `UNREAD`: set on the first need, once. Only
    /// this context's threads touch it.
    now: AtomicI64,
}

const UNREAD: i64 = i64::MIN;

impl Default for Context<'_> {
    fn default() -> Self {
        Context::new()
    }
}

/// A clone shares the pinned state and instant: it belongs to the same request.
impl Clone for Context<'_> {
    fn clone(&self) -> Self {
        Context {
            user: self.user,
            site: self.site,
            environment: self.environment,
            groups: self.groups,
            attributes: self.attributes,
            generation: self.generation,
            now: AtomicI64::new(self.now.load(Ordering::Relaxed)),
        }
    }
}

impl<'a> Context<'a> {
    /// An empty context — no user, no groups, no site — pinned to the state in force now.
    /// Flags that target nobody in particular still answer for it.
    #[inline]
    pub fn new() -> Context<'a> {
        Context {
            user: None,
            site: None,
            environment: None,
            groups: &[],
            attributes: &[],
            generation: published(),
            now: AtomicI64::new(UNREAD),
        }
    }

    /// The user the check is for.
    #[must_use]
    pub const fn with_user(mut self, id: &'a str) -> Self {
        self.user = Some(id);
        self
    }

    /// The site (tenant) the request is for.
    #[must_use]
    pub const fn with_site(mut self, site: &'a str) -> Self {
        self.site = Some(site);
        self
    }

    /// The deployment environment: `production`, `staging`, ...
    #[must_use]
    pub const fn with_environment(mut self, environment: &'a str) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The groups the user belongs to, as `(kind, id)` pairs: `("course", "course-v1:...")`.
    #[must_use]
    pub const fn with_groups(mut self, groups: &'a [(&'a str, &'a str)]) -> Self {
        self.groups = groups;
        self
    }

    /// Free attributes as `(name, value)` pairs: `("region", "US")`, `("account_type", "premium")`.
    #[must_use]
    pub const fn with_attributes(mut self, attributes: &'a [(&'a str, &'a str)]) -> Self {
        self.attributes = attributes;
        self
    }

    /// Judges activation windows at `instant` instead of the clock: for tests, and for
    /// re-evaluating a past request.
    #[must_use]
    pub fn with_time(self, instant: Timestamp) -> Self {
        self.now.store(instant.unix_micros(), Ordering::Relaxed);
        self
    }

    /// The user id, if any.
    pub const fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The site, if any.
    pub const fn site(&self) -> Option<&'a str> {
        self.site
    }

    /// The environment, if any.
    pub const fn environment(&self) -> Option<&'a str> {
        self.environment
    }

    /// The user's groups, as `(kind, id)` pairs.
    pub const fn groups(&self) -> &'a [(&'a str, &'a str)] {
        self.groups
    }

    /// The free attributes, as `(name, value)` pairs.
    pub const fn attributes(&self) -> &'a [(&'a str, &'a str)] {
        self.attributes
    }

    /// The ids of the user's groups of one kind.
    pub fn group_ids(&self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.groups
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|&(_, id)| id)
    }

    /// The value of a free attribute; the first one wins if it is given twice.
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }

    /// The generation of the state this context answers from.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The instant windows are judged at: the clock, read on the first need and then kept.
    pub(crate) fn now(&self) -> Timestamp {
        let seen = self.now.load(Ordering::Relaxed);
        if seen != UNREAD {
            return Timestamp::from_unix_micros(seen);
        }
        let now = Timestamp::now().unix_micros();
        // Two threads sharing the context may both read the clock; the first to store wins, so
        // both judge at one instant.
        match self
            .now
            .compare_exchange(UNREAD, now, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Timestamp::from_unix_micros(now),
            Err(first) => Timestamp::from_unix_micros(first),
        }
    }
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("user", &self.user)
            .field("site", &self.site)
            .field("environment", &self.environment)
            .field("groups", &self.groups)
            .field("attributes", &self.attributes)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}
