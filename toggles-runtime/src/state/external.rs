//! Writes from outside any service — an admin tool, a command line — validated against the
//! declarations the fleet published to the store.

use crate::compile::Fleet;
use crate::stores::Roster;

/// The toggles the fleet declares now, each as the declaration that speaks for it, and those
/// only stopped or replaced versions declared, by who declared them last.
pub(super) fn fleet(roster: &Roster<'_>) -> Fleet {
    let mut declared = Vec::new();
    let mut retired = Vec::new();
    for name in roster.names() {
        match roster.speaker(name) {
            Some((d, true)) => declared.push(d.clone()),
            _ => {
                let last = roster.last_declarer(name).map(|(i, _)| {
                    let s = &roster.published()[i].declarations.service;
                    format!("{} {}", s.name, s.version)
                });
                retired.push((name.to_owned(), last.unwrap_or_default()));
            }
        }
    }
    Fleet::new(declared, retired)
}
