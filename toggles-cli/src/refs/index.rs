//! One pass over a Rust source file with `syn`: the toggle statics it declares, its modules and
//! `use` items (into [`Scopes`]), and every path it reads, in code and inside macro calls.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;

use super::scope::{ModulePath, Scopes};

/// A `#[toggle]` static found in the sources.
#[derive(Debug, Clone)]
pub(crate) struct Declaration {
    /// `namespace.name`, as the macro makes it.
    pub(crate) full_name: String,
    /// Its path from its crate's root.
    pub(crate) path: ModulePath,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
}

/// A path read somewhere, not yet resolved.
#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) module: ModulePath,
    pub(crate) path: Vec<String>,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// Inside a test: a `#[test]` function, a `#[cfg(test)]` module or a test crate.
    pub(crate) in_test: bool,
}

/// A `mod name;` whose body is in another file, to be read next.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) module: ModulePath,
    pub(crate) file: PathBuf,
}

/// What indexing one file found besides what went into the scopes.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) declarations: Vec<Declaration>,
    pub(crate) reads: Vec<Read>,
    pub(crate) children: Vec<Child>,
}

/// Where a file's module lives on disk, for the files of its `mod name;` items.
pub(crate) struct Place<'a> {
    pub(crate) file: &'a Path,
    /// The directory its child modules' files are in: a root's or `mod.rs`'s own directory,
    /// `a/b/` for `a/b.rs`.
    pub(crate) children_dir: PathBuf,
    pub(crate) module: ModulePath,
    pub(crate) crate_root: ModulePath,
    pub(crate) in_test: bool,
}

/// Indexes `ast`, the parsed contents of `place.file`.
pub(crate) fn index(ast: &syn::File, place: Place<'_>, scopes: &mut Scopes) -> Found {
    scopes.scope(&place.module, &place.crate_root);
    let mut visitor = Visitor {
        file: place.file,
        dirs: vec![place.children_dir],
        modules: vec![place.module],
        crate_root: place.crate_root,
        tests: usize::from(place.in_test),
        scopes,
        found: Found::default(),
    };
    visitor.visit_file(ast);
    visitor.found
}

struct Visitor<'a> {
    file: &'a Path,
    /// The directory of child module files, per module entered.
    dirs: Vec<PathBuf>,
    modules: Vec<ModulePath>,
    crate_root: ModulePath,
    /// How many test items the visitor is inside.
    tests: usize,
    scopes: &'a mut Scopes,
    found: Found,
}

impl Visitor<'_> {
    fn module(&self) -> &ModulePath {
        self.modules.last().expect("the file's module")
    }

    fn read(&mut self, path: Vec<String>, span: Span) {
        let start = span.start();
        self.found.reads.push(Read {
            module: self.module().clone(),
            path,
            file: self.file.to_owned(),
            line: start.line,
            column: start.column + 1,
            in_test: self.tests > 0,
        });
    }

    fn declare(&mut self, ident: &syn::Ident, attrs: &[syn::Attribute]) {
        let Some(args) = attrs
            .iter()
            .find(|a| is_toggle(a.path()))
            .and_then(|a| match &a.meta {
                syn::Meta::List(list) => Some(list.tokens.clone()),
                _ => None,
            })
        else {
            return;
        };
        self.declare_tokens(ident, &args);
    }

    fn declare_tokens(&mut self, ident: &syn::Ident, args: &TokenStream) {
        let Some(namespace) = string_arg(args, "namespace") else {
            return; // the macro refuses it: nothing is declared
        };
        let ident_text = ident.to_string();
        let name = string_arg(args, "name")
            .unwrap_or_else(|| ident_text.trim_start_matches("r#").to_lowercase());
        let module = self.module().clone();
        self.scopes
            .scope(&module, &self.crate_root)
            .items
            .insert(ident_text.clone());
        let mut path = module;
        path.push(ident_text);
        self.found.declarations.push(Declaration {
            full_name: format!("{namespace}.{name}"),
            path,
            file: self.file.to_owned(),
            line: ident.span().start().line,
        });
    }

    /// `#[toggle(...)] static NAME: Type;` has no initializer, so `syn` keeps it as tokens.
    fn verbatim(&mut self, tokens: &TokenStream) {
        let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
        let mut toggle_args = None;
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    if let Some(TokenTree::Group(g)) = trees.get(i + 1) {
                        if let Ok(attr) = syn::parse2::<AttrBody>(g.stream()) {
                            if attr.toggle {
                                toggle_args = Some(attr.args);
                            }
                        }
                    }
                    i += 2;
                }
                TokenTree::Ident(word) if word == "static" => {
                    let ident = trees[i + 1..].iter().find_map(|t| match t {
                        TokenTree::Ident(id) if id != "mut" => Some(id.clone()),
                        _ => None,
                    });
                    if let (Some(ident), Some(args)) = (ident, toggle_args) {
                        self.declare_tokens(&ident, &args);
                    }
                    return;
                }
                _ => i += 1,
            }
        }
    }

    /// Every path in a macro call's tokens: `assert!(NEW_GRADER.is_enabled(&ctx))`.
    fn macro_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => {
                    self.macro_tokens(g.stream());
                    i += 1;
                }
                TokenTree::Ident(first) => {
                    let after_dot =
                        i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '.');
                    let span = first.span();
                    let mut path = vec![first.to_string()];
                    i += 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (trees.get(i), trees.get(i + 1), trees.get(i + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        i += 3;
                    }
                    // `x.NAME` is a field, `NAME!` a macro, `NAME(` in a macro may be a call:
                    // only the first is never a static.
                    if !after_dot {
                        self.read(path, span);
                    }
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => i += 1,
            }
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        let module = self.module().clone();
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let (alias, target) = if name == "self" {
                    (prefix.last().cloned(), prefix.clone())
                } else {
                    let mut target = prefix.clone();
                    target.push(name.clone());
                    (Some(name), target)
                };
                if let Some(alias) = alias {
                    let scope = self.scopes.scope(&module, &self.crate_root);
                    scope.aliases.insert(alias, target);
                }
            }
            syn::UseTree::Rename(r) => {
                let mut target = prefix.clone();
                if r.ident != "self" {
                    target.push(r.ident.to_string());
                }
                let scope = self.scopes.scope(&module, &self.crate_root);
                scope.aliases.insert(r.rename.to_string(), target);
            }
            syn::UseTree::Glob(_) => {
                let scope = self.scopes.scope(&module, &self.crate_root);
                scope.globs.push(prefix.clone());
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn enter_test(&mut self, attrs: &[syn::Attribute]) -> bool {
        let test = attrs.iter().any(is_test_attr);
        if test {
            self.tests += 1;
        }
        test
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let name = item.ident.to_string();
        let parent = self.module().clone();
        self.scopes
            .scope(&parent, &self.crate_root)
            .items
            .insert(name.clone());
        let mut module = parent;
        module.push(name.clone());
        let dir = self.dirs.last().expect("a directory").clone();
        let explicit = item.attrs.iter().find_map(path_attr);
        let test = self.enter_test(&item.attrs);
        match &item.content {
            Some((_, items)) => {
                self.scopes.scope(&module, &self.crate_root);
                self.modules.push(module);
                self.dirs
                    .push(explicit.map_or_else(|| dir.join(&name), |p| dir.join(p)));
                for i in items {
                    self.visit_item(i);
                }
                self.dirs.pop();
                self.modules.pop();
            }
            None => {
                let file = match explicit {
                    // At a file's top level, `#[path]` is relative to the file's own directory.
                    Some(p) if self.dirs.len() == 1 => {
                        self.file.parent().unwrap_or(Path::new(".")).join(p)
                    }
                    Some(p) => dir.join(p),
                    None if dir.join(format!("{name}.rs")).is_file() => {
                        dir.join(format!("{name}.rs"))
                    }
                    None => dir.join(&name).join("mod.rs"),
                };
                self.found.children.push(Child { module, file });
            }
        }
        if test {
            self.tests -= 1;
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let test = self.enter_test(&item.attrs);
        syn::visit::visit_item_fn(self, item);
        if test {
            self.tests -= 1;
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let test = self.enter_test(&item.attrs);
        syn::visit::visit_impl_item_fn(self, item);
        if test {
            self.tests -= 1;
        }
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.declare(&item.ident, &item.attrs);
        // The initializer may read other statics; the name itself is not a read.
        self.visit_expr(&item.expr);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if let syn::Item::Verbatim(tokens) = item {
            self.verbatim(tokens);
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if item.leading_colon.is_some() {
            prefix.push(String::new());
        }
        self.use_tree(&mut prefix, &item.tree);
    }

    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        if expr.qself.is_none() {
            let mut path: Vec<String> = Vec::new();
            if expr.path.leading_colon.is_some() {
                path.push(String::new());
            }
            path.extend(expr.path.segments.iter().map(|s| s.ident.to_string()));
            let span = expr
                .path
                .segments
                .last()
                .map_or_else(Span::call_site, |s| s.ident.span());
            self.read(path, span);
        }
        syn::visit::visit_expr_path(self, expr);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // A macro wrapping items (`cfg_feature! { mod x; pub use x::Y; }`) is read as items,
        // so its modules and `use`s count; any other macro's paths are found in its tokens.
        match syn::parse2::<syn::File>(mac.tokens.clone()) {
            Ok(items) if !items.items.is_empty() => {
                for item in &items.items {
                    self.visit_item(item);
                }
            }
            _ => self.macro_tokens(mac.tokens.clone()),
        }
    }
}

/// `toggle` or `toggles::toggle`.
fn is_toggle(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "toggle")
}

/// `#[test]`, `#[tokio::test]`, `#[cfg(test)]`.
fn is_test_attr(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    if path.segments.last().is_some_and(|s| s.ident == "test") {
        return true;
    }
    path.is_ident("cfg")
        && matches!(&attr.meta, syn::Meta::List(list)
            if list.tokens.clone().into_iter().any(|t| matches!(t, TokenTree::Ident(i) if i == "test")))
}

/// `#[path = "other.rs"]`.
fn path_attr(attr: &syn::Attribute) -> Option<String> {
    match &attr.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

/// The string given to `key = "..."` among an attribute's arguments.
fn string_arg(args: &TokenStream, key: &str) -> Option<String> {
    let trees: Vec<TokenTree> = args.clone().into_iter().collect();
    trees.windows(3).find_map(|w| match w {
        [TokenTree::Ident(k), TokenTree::Punct(eq), TokenTree::Literal(lit)]
            if k == key && eq.as_char() == '=' =>
        {
            match syn::parse2::<syn::LitStr>(TokenTree::Literal(lit.clone()).into()) {
                Ok(s) => Some(s.value()),
                Err(_) => None,
            }
        }
        _ => None,
    })
}

/// An attribute's insides, `toggle(...)` or anything else: whether it is the toggle macro, and
/// its arguments.
struct AttrBody {
    toggle: bool,
    args: TokenStream,
}

impl syn::parse::Parse for AttrBody {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let path: syn::Path = input.call(syn::Path::parse_mod_style)?;
        let args = if input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            content.parse::<TokenStream>()?
        } else {
            input.parse::<TokenStream>()?;
            TokenStream::new()
        };
        Ok(AttrBody {
            toggle: is_toggle(&path),
            args,
        })
    }
}
