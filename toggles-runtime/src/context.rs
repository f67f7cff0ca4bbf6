//! What a flag is evaluated for: the user, their groups, the site and environment of a request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::cache::Pinned;

/// The subject of a flag check: who is asking, in which groups, on which site and environment.
///
/// A context borrows everything it holds, so building one per request costs no allocation.
///
/// On its first flag check a context pins the store's snapshot in force and the time: every
/// later check through it answers from that snapshot, so a request sees stable flag values even
/// if the store changes while it runs. Build one context per request.
///
/// ```
/// use toggles_runtime::Context;
///
/// let groups = [("course", "course-v1:edX+DemoX"), ("org", "edX")];
/// let ctx = Context::new()
///     .user("42")
///     .site("learning.example.com")
///     .groups(&groups)
///     .attributes(&[("region", "RO")]);
/// assert_eq!(ctx.user_id(), Some("42"));
/// assert_eq!(ctx.group_ids("course").collect::<Vec<_>>(), ["course-v1:edX+DemoX"]);
/// assert_eq!(ctx.attribute("region"), Some("RO"));
/// ```
pub struct Context<'a> {
    user: Option<&'a str>,
    site: Option<&'a str>,
    environment: Option<&'a str>,
    groups: &'a [(&'a str, &'a str)],
    attributes: &'a [(&'a str, &'a str)],
    /// `pinned`'s generation, or `UNPINNED`: read on every flag check, so kept where one plain
    /// load reaches it.
    generation: AtomicU64,
    pinned: OnceLock<Pinned>,
}

const UNPINNED: u64 = u64::MAX;

impl Default for Context<'_> {
    fn default() -> Self {
        Context::new()
    }
}

/// A clone shares the pinned snapshot: it belongs to the same request.
impl Clone for Context<'_> {
    fn clone(&self) -> Self {
        Context {
            user: self.user,
            site: self.site,
            environment: self.environment,
            groups: self.groups,
            attributes: self.attributes,
            generation: AtomicU64::new(self.generation.load(Ordering::Relaxed)),
            pinned: self.pinned.clone(),
        }
    }
}

impl<'a> Context<'a> {
    /// An empty context: no user, no groups, no site. Flags that target nobody in particular
    /// still answer for it.
    pub const fn new() -> Context<'a> {
        Context {
            user: None,
            site: None,
            environment: None,
            groups: &[],
            attributes: &[],
            generation: AtomicU64::new(UNPINNED),
            pinned: OnceLock::new(),
        }
    }

    /// The user the check is for.
    #[must_use]
    pub const fn user(mut self, id: &'a str) -> Self {
        self.user = Some(id);
        self
    }

    /// The site (tenant) the request is for.
    #[must_use]
    pub const fn site(mut self, site: &'a str) -> Self {
        self.site = Some(site);
        self
    }

    /// The deployment environment: `production`, `staging`, ...
    #[must_use]
    pub const fn environment(mut self, environment: &'a str) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The groups the user belongs to, as `(kind, id)` pairs: `("course", "course-v1:...")`.
    #[must_use]
    pub const fn groups(mut self, groups: &'a [(&'a str, &'a str)]) -> Self {
        self.groups = groups;
        self
    }

    /// Free attributes as `(name, value)` pairs: `("region", "US")`, `("account_type", "premium")`.
    #[must_use]
    pub const fn attributes(mut self, attributes: &'a [(&'a str, &'a str)]) -> Self {
        self.attributes = attributes;
        self
    }

    /// The user id, if any.
    pub const fn user_id(&self) -> Option<&'a str> {
        self.user
    }

    /// The site, if any.
    pub const fn site_id(&self) -> Option<&'a str> {
        self.site
    }

    /// The environment, if any.
    pub const fn environment_name(&self) -> Option<&'a str> {
        self.environment
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

    /// The snapshot and time this context answers from, pinned on first use.
    #[inline]
    pub(crate) fn pinned(&self) -> &Pinned {
        self.pinned.get_or_init(Pinned::now)
    }

    /// The generation of the pinned snapshot.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        match self.generation.load(Ordering::Relaxed) {
            UNPINNED => self.pin_generation(),
            generation => generation,
        }
    }

    #[cold]
    fn pin_generation(&self) -> u64 {
        let generation = self.pinned().generation();
        self.generation.store(generation, Ordering::Relaxed);
        generation
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
            .field(
                "pinned_generation",
                &self.pinned.get().map(Pinned::generation),
            )
            .finish()
    }
}
