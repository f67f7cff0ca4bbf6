//! The rules of the compile-error catalogue: every check on a declaration, each error on the
//! token at fault, all of them reported in one compile.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Expr, ExprLit, Lit, Meta, PathArguments, Type};

use crate::ast::Item;
use crate::attr::{list, Attrs, Entry};
use crate::errors::Errors;
use crate::names;
use toggles_vocab::{Date, DateError, UseCase};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Switch,
    Flag,
    Variant,
    Setting,
}

pub(crate) enum Life {
    Temporary(Date),
    Permanent(String),
}

pub(crate) enum Default {
    Bool(bool),
    Expr(TokenStream),
}

/// A declaration that passed every rule, ready to expand.
pub(crate) struct Toggle {
    pub(crate) kind: Kind,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) life: Life,
    pub(crate) created: Option<Date>,
    pub(crate) owner: Option<String>,
    pub(crate) use_cases: Vec<UseCase>,
    pub(crate) tickets: Option<String>,
    pub(crate) warning: Option<String>,
    pub(crate) default: Default,
}

impl Toggle {
    pub(crate) fn full_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

/// The names written in `use_cases = "..."`.
fn use_case_names() -> Vec<&'static str> {
    UseCase::ALL.iter().map(|c| c.as_str()).collect()
}

/// The toggle type named by the static's type, or an error on the type.
pub(crate) fn kind(ty: &Type, errors: &mut Errors) -> Option<Kind> {
    let shown = as_written(ty.to_token_stream());
    let segment = match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    };
    let kind = segment.and_then(|s| match (s.ident.to_string().as_str(), &s.arguments) {
        ("Switch", PathArguments::None) => Some(Kind::Switch),
        ("Flag", PathArguments::None) => Some(Kind::Flag),
        // A bare or odd `Setting` is left to rustc, whose "missing generics" error says the fix.
        ("Setting", _) => Some(Kind::Setting),
        ("Variant", _) => Some(Kind::Variant),
        _ => None,
    });
    if kind.is_none() {
        let hint = if matches!(
            shown.as_str(),
            "bool"
                | "u8"
                | "u16"
                | "u32"
                | "u64"
                | "usize"
                | "i8"
                | "i16"
                | "i32"
                | "i64"
                | "isize"
                | "f32"
                | "f64"
                | "&str"
                | "&'static str"
        ) {
            format!(
                "; for a configuration value write `Setting<{}>`",
                shown.replace("&str", "&'static str")
            )
        } else {
            String::new()
        };
        errors.spanned(
            ty,
            format!("`{shown}` is not a toggle type: use `Switch`, `Flag`, `Variant<E>` or `Setting<T>`{hint}"),
        );
    }
    kind
}

/// Tokens as a person writes them: `&'static Flag`, `Setting<u8>`, `[Flag; 2]`, where
/// `TokenStream`'s `Display` puts a space between every two tokens (`& 'static Flag`).
pub(crate) fn as_written(tokens: TokenStream) -> String {
    let mut out = String::new();
    // Whether the last token ends a word, so a following word needs a space between them.
    let mut after_word = false;
    for tt in tokens {
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    proc_macro2::Delimiter::Parenthesis => ("(", ")"),
                    proc_macro2::Delimiter::Bracket => ("[", "]"),
                    proc_macro2::Delimiter::Brace => ("{ ", " }"),
                    proc_macro2::Delimiter::None => ("", ""),
                };
                out.push_str(open);
                out.push_str(&as_written(g.stream()));
                out.push_str(close);
                after_word = false;
            }
            TokenTree::Ident(_) | TokenTree::Literal(_) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&tt.to_string());
                after_word = true;
            }
            TokenTree::Punct(p) => {
                let c = p.as_char();
                match c {
                    ',' | ';' => {
                        out.push(c);
                        out.push(' ');
                    }
                    '+' | '=' => {
                        out.push(' ');
                        out.push(c);
                        out.push(' ');
                    }
                    _ => out.push(c),
                }
                // A lifetime's `'` binds to its name; everything else leaves no word open.
                after_word = false;
            }
        }
    }
    out.replace("  ", " ").trim().to_owned()
}

fn span_of(tokens: &impl ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// Checks a declaration against every rule; `None` if any failed (each failure is in `errors`).
pub(crate) fn validate(
    item: &Item,
    kind: Option<Kind>,
    attrs: &Attrs,
    errors: &mut Errors,
) -> Option<Toggle> {
    if let Some(m) = &item.mutability {
        errors.at(
            m.span,
            "a toggle cannot be `static mut`: its state changes only through the toggles runtime; remove `mut`",
        );
    }
    let default = kind.and_then(|kind| default(item, kind, errors));
    let description = description(item, errors);
    let namespace = required(attrs, attrs.namespace.as_ref(), "namespace", "`namespace = \"...\"` (lower-case words joined by `.` or `_`, like `courseware.exams`)", errors)
        .and_then(|ns| {
            toggles_vocab::is_namespace(&ns.value.value()).then(|| ns.value.value()).or_else(|| {
                errors.at(ns.span(), format!(
                    "invalid namespace `{}`: use lower-case words joined by `.` or `_`, like `courseware.exams`",
                    ns.value.value()
                ));
                None
            })
        });
    let name = name(item, attrs, errors);
    let life = life(attrs, errors);
    let created = attrs.created.as_ref().and_then(|e| date(e, errors));
    if let (Some(Life::Temporary(remove_by)), Some(created), Some(entry)) =
        (&life, created, &attrs.remove_by)
    {
        if *remove_by < created {
            errors.at(
                entry.span(),
                format!(
                    "`remove_by` ({}) is before `created` ({}); a toggle cannot be due before it exists",
                    entry.value.value(),
                    attrs.created.as_ref().map(|c| c.value.value()).unwrap_or_default()
                ),
            );
        }
    }
    let use_cases = use_cases(attrs, errors);
    let owner = optional_text(attrs.owner.as_ref(), errors);
    let tickets = optional_text(attrs.tickets.as_ref(), errors);
    let warning = optional_text(attrs.warning.as_ref(), errors);
    if let Some(krate) = &attrs.krate {
        if krate.value.parse::<syn::Path>().is_err() {
            errors.at(
                krate.span(),
                "`crate` takes the path to the toggles crate, like `crate = \"my_toggles\"`",
            );
        }
    }
    if !errors.is_empty() {
        return None;
    }
    Some(Toggle {
        kind: kind?,
        namespace: namespace?,
        name: name?,
        description: description?,
        life: life?,
        created,
        owner,
        use_cases,
        tickets,
        warning,
        default: default?,
    })
}

fn required<'a>(
    attrs: &Attrs,
    entry: Option<&'a Entry>,
    key: &str,
    example: &str,
    errors: &mut Errors,
) -> Option<&'a Entry> {
    if entry.is_none() && !attrs.mentions(key) {
        errors.at(Span::call_site(), format!("missing `{key}`: add {example}"));
    }
    entry
}

fn default(item: &Item, kind: Kind, errors: &mut Errors) -> Option<Default> {
    match (kind, &item.init) {
        (Kind::Setting, Some(expr)) => Some(Default::Expr(expr.clone())),
        (Kind::Setting, None) => {
            errors.at(
                item.semi_span,
                format!(
                    "a setting needs a default value: `static {}: Setting<T> = value;`",
                    item.ident
                ),
            );
            None
        }
        (Kind::Variant, Some(expr)) => {
            if is_path(expr) {
                Some(Default::Expr(expr.clone()))
            } else {
                errors.spanned(
                    expr,
                    format!(
                        "a variant toggle starts with its control arm, written as one of the enum's variants: `= {}::Control`, not `{}`",
                        arms_type(&item.ty),
                        as_written(expr.clone())
                    ),
                );
                None
            }
        }
        (Kind::Variant, None) => {
            errors.at(
                item.semi_span,
                format!(
                    "a variant toggle needs its control arm, the one everyone gets by default: `static {}: Variant<{}> = {}::Control;`",
                    item.ident,
                    arms_type(&item.ty),
                    arms_type(&item.ty)
                ),
            );
            None
        }
        (_, None) => Some(Default::Bool(false)),
        (_, Some(expr)) => {
            let mut tokens = expr.clone().into_iter();
            match (tokens.next(), tokens.next()) {
                (Some(TokenTree::Ident(b)), None) if b == "true" || b == "false" => {
                    Some(Default::Bool(b == "true"))
                }
                (first, _) => {
                    let what = if kind == Kind::Switch {
                        "switch"
                    } else {
                        "flag"
                    };
                    errors.at(
                        first.map_or(item.semi_span, |t| t.span()),
                        format!("a {what} starts `true` or `false`: write `= true`, `= false`, or no initializer for off"),
                    );
                    None
                }
            }
        }
    }
}

/// Whether `expr` is a path, like `Checkout::Classic`: what names an enum's variant.
pub(crate) fn is_path(expr: &TokenStream) -> bool {
    let tokens: Vec<TokenTree> = expr.clone().into_iter().collect();
    !tokens.is_empty()
        && tokens.iter().all(|t| match t {
            TokenTree::Ident(_) => true,
            TokenTree::Punct(p) => p.as_char() == ':',
            _ => false,
        })
        && matches!(tokens.last(), Some(TokenTree::Ident(_)))
}

/// `E` of `Variant<E>` as written, for messages; `E` when it cannot be read.
fn arms_type(ty: &Type) -> String {
    let Type::Path(p) = ty else {
        return "E".to_owned();
    };
    match p.path.segments.last().map(|s| &s.arguments) {
        Some(PathArguments::AngleBracketed(args)) => as_written(args.args.to_token_stream()),
        _ => "E".to_owned(),
    }
}

/// The doc comment, as rustdoc would show it: `///` markers and common indentation removed.
fn description(item: &Item, errors: &mut Errors) -> Option<String> {
    let mut lines = Vec::new();
    let mut first_span = None;
    // `#[doc(hidden)]` and friends are lists, not text: they neither describe nor count.
    let docs = item.attrs.iter().filter_map(|a| match &a.meta {
        Meta::NameValue(nv) if nv.path.is_ident("doc") => Some((a, &nv.value)),
        _ => None,
    });
    for (attr, value) in docs {
        first_span.get_or_insert_with(|| span_of(attr));
        let Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) = value
        else {
            errors.at(
                span_of(attr),
                "write the toggle's description as a `///` doc comment",
            );
            return None;
        };
        lines.extend(s.value().lines().map(str::to_owned));
    }
    let Some(span) = first_span else {
        errors.at(
            item.ident.span(),
            format!(
                "toggle `{}` needs a doc comment saying what it does: add `/// ...` above it",
                item.ident
            ),
        );
        return None;
    };
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let text = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    if text.is_empty() {
        errors.at(span, "the doc comment is empty: say what the toggle does");
        None
    } else if toggles_vocab::is_placeholder(&text) {
        errors.at(
            span,
            format!("`{text}` is a placeholder, not a description: say what the toggle does"),
        );
        None
    } else {
        Some(text)
    }
}

fn name(item: &Item, attrs: &Attrs, errors: &mut Errors) -> Option<String> {
    if let Some(entry) = &attrs.name {
        let name = entry.value.value();
        if toggles_vocab::is_name(&name) {
            return Some(name);
        }
        errors.at(
            entry.span(),
            format!("invalid name `{name}`: use lower-case words joined by `_`, like `new_grader`"),
        );
        return None;
    }
    let ident = item.ident.to_string();
    let derived = ident.trim_start_matches("r#").to_lowercase();
    if toggles_vocab::is_name(&derived) {
        Some(derived)
    } else {
        errors.at(
            item.ident.span(),
            format!("`{ident}` does not make a valid toggle name (`{derived}`): rename the static, or set `name = \"...\"` in lower-case words joined by `_`"),
        );
        None
    }
}

fn life(attrs: &Attrs, errors: &mut Errors) -> Option<Life> {
    let life = required(attrs, attrs.life.as_ref(), "life", "`life = \"temporary\"` (with `remove_by`) or `life = \"permanent\"` (with `justification`)", errors);
    let remove_by = attrs.remove_by.as_ref().and_then(|e| date(e, errors));
    let life = life?;
    match life.value.value().as_str() {
        "temporary" => {
            if let Some(j) = &attrs.justification {
                errors.at(
                    j.key.span(),
                    "`justification` is for permanent toggles; a temporary one has `remove_by` instead: remove it, or make the toggle `life = \"permanent\"`",
                );
            }
            if attrs.remove_by.is_none() && !attrs.mentions("remove_by") {
                errors.at(
                    life.span(),
                    "temporary toggle needs `remove_by = \"YYYY-MM-DD\"`, the date it should be gone by",
                );
            }
            remove_by.map(Life::Temporary)
        }
        "permanent" => {
            if let Some(r) = &attrs.remove_by {
                errors.at(
                    r.key.span(),
                    "permanent toggle has no `remove_by`: remove it, or make the toggle `life = \"temporary\"`",
                );
            }
            let justification = attrs.justification.as_ref();
            if justification.is_none() && !attrs.mentions("justification") {
                errors.at(
                    life.span(),
                    "permanent toggle needs `justification = \"...\"` saying why it must stay",
                );
            }
            let justification = justification?;
            let text = justification.value.value();
            if text.trim().is_empty() || toggles_vocab::is_placeholder(&text) {
                errors.at(
                    justification.span(),
                    format!(
                        "`{}` is a placeholder, not a justification: say why the toggle must stay",
                        text.trim()
                    ),
                );
                return None;
            }
            Some(Life::Permanent(text))
        }
        other => {
            errors.at(
                life.span(),
                format!("`life` is `\"temporary\"` or `\"permanent\"`, not `\"{other}\"`"),
            );
            None
        }
    }
}

fn date(entry: &Entry, errors: &mut Errors) -> Option<Date> {
    let (key, text) = (entry.key.to_string(), entry.value.value());
    let message = match text.parse::<Date>() {
        Ok(date) => return Some(date),
        Err(DateError::Month(month)) => format!(
            "`{text}` is not a real date: there is no month {month}; write `{key} = \"YYYY-MM-DD\"`"
        ),
        Err(e @ DateError::Day { .. }) => format!("`{text}` is not a real date: {e}"),
        Err(_) => format!("`{key}` must be a date written `YYYY-MM-DD`, not `{text}`"),
    };
    errors.at(entry.span(), message);
    None
}

fn use_cases(attrs: &Attrs, errors: &mut Errors) -> Vec<UseCase> {
    let Some(entry) = &attrs.use_cases else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for case in entry.value.value().split(',').map(str::trim) {
        match case.parse::<UseCase>() {
            Ok(known) if found.contains(&known) => {
                errors.at(entry.span(), format!("use case `{case}` is listed twice"));
            }
            Ok(known) => found.push(known),
            Err(_) => {
                let all = use_case_names();
                let hint = names::closest(case, &all).map_or_else(
                    || format!("the use cases are {}", list(&all)),
                    |c| format!("did you mean `{c}`?"),
                );
                errors.at(entry.span(), format!("unknown use case `{case}`; {hint}"));
            }
        }
    }
    found
}

fn optional_text(entry: Option<&Entry>, errors: &mut Errors) -> Option<String> {
    let entry = entry?;
    let text = entry.value.value();
    if text.trim().is_empty() {
        errors.at(
            entry.span(),
            format!("`{}` is empty: fill it in or remove it", entry.key),
        );
        return None;
    }
    Some(text)
}
