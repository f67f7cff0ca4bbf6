//! What each module of a workspace names: the modules and toggle statics it defines, what its
//! `use` items bring in (renamed or not, globs too), and how a path read in it resolves to the
//! item it means — through `crate`, `self`, `super`, re-exports and other crates of the
//! workspace, as rustc would for the paths that can name a static.

use std::collections::{HashMap, HashSet};

/// A module's path from its crate's root: `["grading", "toggles"]`. A library's root is its
/// crate name, so `grading::toggles::X` from another crate and `crate::toggles::X` inside it
/// are the same path; a binary, test or example root has a name no path can spell.
pub(crate) type ModulePath = Vec<String>;

/// What one module names.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    /// The root of the module's crate.
    pub(crate) crate_root: ModulePath,
    /// Modules and toggle statics defined here.
    pub(crate) items: HashSet<String>,
    /// Names brought in by `use`: the name here, and the path as written.
    pub(crate) aliases: HashMap<String, Vec<String>>,
    /// `use path::*;`, the paths as written.
    pub(crate) globs: Vec<Vec<String>>,
}

/// Every module of the workspace, and the library crates a path may start with.
#[derive(Debug, Default)]
pub(crate) struct Scopes {
    pub(crate) modules: HashMap<ModulePath, Scope>,
    pub(crate) libraries: HashSet<String>,
}

/// Aliases and globs chain (a re-export of a re-export); a cycle ends here.
const MOST_HOPS: u8 = 24;

impl Scopes {
    pub(crate) fn scope(&mut self, module: &[String], crate_root: &[String]) -> &mut Scope {
        self.modules
            .entry(module.to_vec())
            .or_insert_with(|| Scope {
                crate_root: crate_root.to_vec(),
                ..Scope::default()
            })
    }

    /// The item `path` names when written in `module`, as a path from its crate's root; `None`
    /// for a path outside the workspace (`std::…`, a local variable) or one that names nothing.
    pub(crate) fn resolve(&self, module: &[String], path: &[String]) -> Option<ModulePath> {
        self.resolve_in(module, path, 0)
    }

    fn resolve_in(&self, module: &[String], path: &[String], hops: u8) -> Option<ModulePath> {
        if hops > MOST_HOPS {
            return None;
        }
        let (first, rest) = path.split_first()?;
        let mut at: ModulePath = match first.as_str() {
            "crate" => self.modules.get(module)?.crate_root.clone(),
            "self" => module.to_vec(),
            "super" => {
                let mut at = module[..module.len().checked_sub(1)?].to_vec();
                let mut rest = rest;
                while let Some(("super", more)) = rest.split_first().map(|(s, m)| (s.as_str(), m)) {
                    at.pop()?;
                    rest = more;
                }
                return self.walk(at, rest, hops);
            }
            // `::name`: a crate, never a local item.
            "" => return self.walk(vec![rest.first()?.clone()], &rest[1..], hops),
            name => self
                .named_in(module, name, hops)
                .or_else(|| self.libraries.contains(name).then(|| vec![name.to_owned()]))?,
        };
        if first == "crate" || first == "self" {
            return self.walk(at, rest, hops);
        }
        for segment in rest {
            at = self.child(&at, segment, hops)?;
        }
        Some(at)
    }

    /// From module `at`, down `rest`.
    fn walk(&self, mut at: ModulePath, rest: &[String], hops: u8) -> Option<ModulePath> {
        for segment in rest {
            at = self.child(&at, segment, hops)?;
        }
        Some(at)
    }

    /// What `name` means inside `module`: an item defined there, a name brought in, or an item
    /// of a glob's module.
    fn named_in(&self, module: &[String], name: &str, hops: u8) -> Option<ModulePath> {
        let scope = self.modules.get(module)?;
        if scope.items.contains(name) {
            let mut path = module.to_vec();
            path.push(name.to_owned());
            return Some(path);
        }
        if let Some(target) = scope.aliases.get(name) {
            return self.resolve_in(module, target, hops + 1);
        }
        scope.globs.iter().find_map(|glob| {
            let from = self.resolve_in(module, glob, hops + 1)?;
            self.child(&from, name, hops + 1)
        })
    }

    /// `at::segment`, followed through what `at` re-exports.
    fn child(&self, at: &[String], segment: &str, hops: u8) -> Option<ModulePath> {
        if self.modules.contains_key(at) {
            self.named_in(at, segment, hops + 1)
        } else {
            None
        }
    }
}
