//! Who speaks for the fleet now: which published instances are current, and whose declaration
//! of each toggle counts — for the fleet report, and for writes checked against the fleet.
//!
//! A store keeps instances for a while after they stop (see each store's retention), so a
//! report can say that a service went quiet. They must not judge: a toggle removed from the
//! code is not expired because a stopped process once declared it, a description edited
//! between two versions is not a disagreement once the old version is gone, and the team that
//! owns a toggle is the one the running code names. So judgements use the *current* instances:
//!
//! - an instance seen within the live window is current, unless a process of the same service
//!   on the same host published after it was last seen: that process replaced it (a restart),
//!   even before it is missed;
//! - a service none of whose instances is current (all stopped, or a batch job between runs)
//!   is spoken for by its newest instance, by the time it published.
//!
//! Among the current instances declaring a toggle, the one that published last speaks for it:
//! its metadata, its owner, its removal date. Versions are ordered by when they were published,
//! never by their strings (`1.10.0` is newer than `1.9.0` because it was deployed later).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::stores::{Declared, Published};
use crate::targeting::Timestamp;

/// The fleet's instances as of a moment, and who of them speaks for what.
pub(crate) struct Roster<'p> {
    published: &'p [Published],
    live: Vec<bool>,
    current: Vec<bool>,
    /// Per toggle, the instances (by position) declaring it, with their declaration.
    declarers: BTreeMap<&'p str, Vec<(usize, &'p Declared)>>,
}

/// How long an instance counts as running after its last heartbeat when no one says otherwise:
/// three of the runtime's heartbeats, so one late heartbeat does not count it gone.
pub const LIVE_WITHIN: Duration = Duration::from_secs(90);

impl<'p> Roster<'p> {
    /// The roster of `published` at `now`, counting as live the instances seen within
    /// `live_within`.
    pub(crate) fn new(published: &'p [Published], now: Timestamp, live_within: Duration) -> Self {
        let window = i64::try_from(live_within.as_secs()).unwrap_or(i64::MAX);
        let seen_lately = |p: &Published| p.unheard_secs(now) <= window;
        let replaced = |p: &Published| {
            let s = &p.declarations.service;
            !s.host.is_empty()
                && published.iter().any(|q| {
                    let t = &q.declarations.service;
                    t.name == s.name
                        && t.host == s.host
                        && t.instance != s.instance
                        && q.published_at > p.last_seen
                })
        };
        let live: Vec<bool> = published
            .iter()
            .map(|p| seen_lately(p) && !replaced(p))
            .collect();
        let mut current = live.clone();
        // Services with no live instance: their newest instance stands in.
        let mut newest: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, p) in published.iter().enumerate() {
            let name = p.declarations.service.name.as_str();
            let slot = newest.entry(name).or_insert(i);
            if newer(p, &published[*slot]) {
                *slot = i;
            }
        }
        for (name, i) in newest {
            let any_live = published
                .iter()
                .zip(&live)
                .any(|(p, live)| *live && p.declarations.service.name == name);
            if !any_live {
                current[i] = true;
            }
        }
        let mut declarers: BTreeMap<&str, Vec<(usize, &Declared)>> = BTreeMap::new();
        for (i, p) in published.iter().enumerate() {
            for d in &p.declarations.toggles {
                declarers.entry(&d.full_name).or_default().push((i, d));
            }
        }
        Roster {
            published,
            live,
            current,
            declarers,
        }
    }

    /// The instances, as the store gave them.
    pub(crate) fn published(&self) -> &'p [Published] {
        self.published
    }

    /// Whether the instance at `i` is running: seen within the live window, not replaced.
    pub(crate) fn is_live(&self, i: usize) -> bool {
        self.live[i]
    }

    /// Whether the instance at `i` speaks for its service now: live, or its service's newest
    /// when none of its instances is.
    pub(crate) fn is_current(&self, i: usize) -> bool {
        self.current[i]
    }

    /// Every toggle any instance on record declares, in full-name order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'p str> + '_ {
        self.declarers.keys().copied()
    }

    /// The instances on record declaring `name`, by position, with their declarations.
    pub(crate) fn declarers(&self, name: &str) -> &[(usize, &'p Declared)] {
        self.declarers
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The current instances declaring `name`, by position, with their declarations.
    pub(crate) fn current_declarers(
        &self,
        name: &str,
    ) -> impl Iterator<Item = (usize, &'p Declared)> + '_ {
        self.declarers(name)
            .iter()
            .copied()
            .filter(|(i, _)| self.current[*i])
    }

    /// The declaration that speaks for `name`, and whether a current instance makes it: the
    /// current declarer that published last; when no current instance declares it, the
    /// newest declaration on record (for a report to show what it was).
    pub(crate) fn speaker(&self, name: &str) -> Option<(&'p Declared, bool)> {
        if let Some((_, d)) = self.newest(self.current_declarers(name)) {
            return Some((d, true));
        }
        self.last_declarer(name).map(|(_, d)| (d, false))
    }

    /// The newest declaration of `name` on record, current or not, with the index of the
    /// instance that published it.
    pub(crate) fn last_declarer(&self, name: &str) -> Option<(usize, &'p Declared)> {
        self.newest(self.declarers(name).iter().copied())
    }

    /// Of `declarers`, the one published last.
    fn newest(
        &self,
        declarers: impl Iterator<Item = (usize, &'p Declared)>,
    ) -> Option<(usize, &'p Declared)> {
        declarers.fold(None, |found, (i, d)| match found {
            Some((j, _)) if !newer(&self.published[i], &self.published[j]) => found,
            _ => Some((i, d)),
        })
    }
}

/// Whether `a` was published after `b` (ties broken by instance id, so the answer is the same
/// for every reader).
fn newer(a: &Published, b: &Published) -> bool {
    (a.published_at, &a.declarations.service.instance)
        > (b.published_at, &b.declarations.service.instance)
}
