//! A workspace's Rust sources as rustc sees their modules: each package's crate roots (from its
//! `Cargo.toml`, or Cargo's usual places), every file their `mod` items reach, and any other
//! `.rs` file under the paths given, each read once.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

use super::index::{index, Declaration, Found, Place, Read};
use super::scope::{ModulePath, Scopes};

/// What reading the sources found.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    pub(crate) scopes: Scopes,
    pub(crate) declarations: Vec<Declaration>,
    pub(crate) reads: Vec<Read>,
    pub(crate) files: usize,
    pub(crate) lines: usize,
    /// Files that could not be read or parsed, with why: left out, never fatal.
    pub(crate) unreadable: Vec<(PathBuf, String)>,
}

/// A crate root to start from.
struct Root {
    file: PathBuf,
    name: String,
    in_test: bool,
}

/// Reads every Rust source under `paths` (files or directories).
pub(crate) fn read(paths: &[PathBuf]) -> Workspace {
    let mut rust_files = Vec::new();
    let mut manifests = Vec::new();
    for path in paths {
        if path.is_file() {
            if path.file_name().is_some_and(|n| n == "Cargo.toml") {
                manifests.push(path.clone());
            } else {
                rust_files.push(path.clone());
            }
        } else {
            walk(path, &mut rust_files, &mut manifests);
        }
    }
    let mut workspace = Workspace::default();
    let mut roots = Vec::new();
    for manifest in &manifests {
        match package_roots(manifest) {
            Ok((library, found)) => {
                workspace.scopes.libraries.extend(library);
                roots.extend(found);
            }
            Err(why) => workspace.unreadable.push((manifest.clone(), why)),
        }
    }
    let mut seen = HashSet::new();
    for root in roots {
        if seen.contains(&key(&root.file)) {
            continue;
        }
        let module = vec![root.name];
        follow(
            &mut workspace,
            &mut seen,
            &root.file,
            module,
            true,
            root.in_test,
        );
    }
    // Files no crate reaches (a script, a file no `mod` names): each read as a crate of its own.
    for file in rust_files {
        if !seen.contains(&key(&file)) {
            let module = vec![format!("#{}", file.display())];
            let is_root = file
                .file_name()
                .is_some_and(|n| n == "lib.rs" || n == "main.rs");
            follow(&mut workspace, &mut seen, &file, module, is_root, false);
        }
    }
    workspace
}

fn key(file: &Path) -> PathBuf {
    file.canonicalize().unwrap_or_else(|_| file.to_owned())
}

/// Reads `file` as the module `module` (a crate's root file when `is_root`: its modules' files
/// sit beside it) and every module file it reaches.
fn follow(
    workspace: &mut Workspace,
    seen: &mut HashSet<PathBuf>,
    file: &Path,
    module: ModulePath,
    is_root: bool,
    in_test: bool,
) {
    let crate_root = module.clone();
    let mut queue = VecDeque::from([(file.to_owned(), module, is_root)]);
    while let Some((file, module, is_root)) = queue.pop_front() {
        if !seen.insert(key(&file)) {
            continue;
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                workspace.unreadable.push((file, e.to_string()));
                continue;
            }
        };
        let ast = match syn::parse_file(&text) {
            Ok(ast) => ast,
            Err(e) => {
                let at = e.span().start();
                workspace
                    .unreadable
                    .push((file, format!("{}:{}: {e}", at.line, at.column + 1)));
                continue;
            }
        };
        workspace.files += 1;
        workspace.lines += text.lines().count();
        let dir = file.parent().unwrap_or(Path::new(".")).to_owned();
        // A root's and a `mod.rs`'s children sit beside them; `a/b.rs`'s are in `a/b/`.
        let children_dir = if is_root || file.file_name().is_some_and(|n| n == "mod.rs") {
            dir
        } else {
            dir.join(file.file_stem().unwrap_or_default())
        };
        let place = Place {
            file: &file,
            children_dir,
            module,
            crate_root: crate_root.clone(),
            in_test,
        };
        let Found {
            declarations,
            reads,
            children,
        } = index(&ast, place, &mut workspace.scopes);
        workspace.declarations.extend(declarations);
        workspace.reads.extend(reads);
        for child in children {
            queue.push_back((child.file, child.module, false));
        }
    }
}

/// Every `.rs` file and `Cargo.toml` under `dir`, leaving out build output and hidden folders.
fn walk(dir: &Path, rust_files: &mut Vec<PathBuf>, manifests: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                walk(&path, rust_files, manifests);
            }
        } else if name == "Cargo.toml" {
            manifests.push(path);
        } else if name.ends_with(".rs") {
            rust_files.push(path);
        }
    }
}

/// A package's library name (if it has one) and crate roots: those its manifest names, and
/// Cargo's usual places (`src/lib.rs`, `src/main.rs`, `src/bin/`, `tests/`, `examples/`,
/// `benches/`). A manifest with no `[package]` (a virtual workspace) has none.
fn package_roots(manifest: &Path) -> Result<(Option<String>, Vec<Root>), String> {
    let text = std::fs::read_to_string(manifest).map_err(|e| e.to_string())?;
    let toml: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    let Some(package) = toml
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
    else {
        return Ok((None, Vec::new()));
    };
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let lib_section = toml.get("lib");
    let library = lib_section
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or(package)
        .replace('-', "_");
    let mut roots = Vec::new();
    let lib_file = lib_section
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .map_or_else(|| dir.join("src/lib.rs"), |p| dir.join(p));
    let has_library = lib_file.is_file();
    if has_library {
        roots.push(Root {
            file: lib_file,
            name: library.clone(),
            in_test: false,
        });
    }
    // Targets the manifest names, then the usual places (a file named twice is read once).
    for (section, kind) in [
        ("bin", "bin"),
        ("test", "test"),
        ("example", "example"),
        ("bench", "bench"),
    ] {
        let targets = toml
            .get(section)
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten();
        for target in targets {
            if let Some(path) = target.get("path").and_then(|p| p.as_str()) {
                roots.push(Root {
                    file: dir.join(path),
                    name: format!("{library}#{kind}:{path}"),
                    in_test: kind == "test",
                });
            }
        }
    }
    let main = dir.join("src/main.rs");
    if main.is_file() {
        roots.push(Root {
            file: main,
            name: format!("{library}#bin"),
            in_test: false,
        });
    }
    for (folder, kind) in [
        ("src/bin", "bin"),
        ("tests", "test"),
        ("examples", "example"),
        ("benches", "bench"),
    ] {
        for file in target_files(&dir.join(folder)) {
            roots.push(Root {
                name: format!("{library}#{kind}:{}", file.display()),
                file,
                in_test: kind == "test",
            });
        }
    }
    Ok((has_library.then_some(library), roots))
}

/// `dir/*.rs` and `dir/*/main.rs`: the targets Cargo finds in a folder by itself.
fn target_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            if p.extension().is_some_and(|e| e == "rs") {
                Some(p)
            } else {
                Some(p.join("main.rs")).filter(|m| m.is_file())
            }
        })
        .collect();
    files.sort();
    files
}
