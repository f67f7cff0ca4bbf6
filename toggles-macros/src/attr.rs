//! The `key = "value"` pairs inside `#[toggle(...)]`.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token};

use crate::errors::Errors;
use crate::names;

/// One `key = "value"` as written, spans kept for errors.
pub(crate) struct Entry {
    pub(crate) key: Ident,
    pub(crate) value: LitStr,
}

/// The attribute's keys, each at most once.
#[derive(Default)]
pub(crate) struct Attrs {
    pub(crate) namespace: Option<Entry>,
    pub(crate) life: Option<Entry>,
    pub(crate) remove_by: Option<Entry>,
    pub(crate) justification: Option<Entry>,
    pub(crate) created: Option<Entry>,
    pub(crate) name: Option<Entry>,
    pub(crate) owner: Option<Entry>,
    pub(crate) use_cases: Option<Entry>,
    pub(crate) tickets: Option<Entry>,
    pub(crate) warning: Option<Entry>,
    pub(crate) krate: Option<Entry>,
    /// Keys written with a bad value, or misspelled with a clear suggestion: already reported,
    /// so not reported again as missing.
    pub(crate) mentioned: Vec<&'static str>,
}

const KEYS: [&str; 11] = [
    "namespace",
    "life",
    "remove_by",
    "justification",
    "created",
    "name",
    "owner",
    "use_cases",
    "tickets",
    "warning",
    "crate",
];

/// Keys people reach for out of habit (OEP-17 annotations, other flag libraries), with where
/// that information goes here.
const HABITS: [(&str, &str); 9] = [
    (
        "description",
        "the description is the doc comment: write `/// ...` above the static",
    ),
    (
        "toggle_description",
        "the description is the doc comment: write `/// ...` above the static",
    ),
    (
        "default",
        "the default is the static's initializer: `static NAME: Switch = true;`",
    ),
    (
        "toggle_default",
        "the default is the static's initializer: `static NAME: Switch = true;`",
    ),
    ("target_removal_date", "did you mean `remove_by`?"),
    ("toggle_target_removal_date", "did you mean `remove_by`?"),
    ("creation_date", "did you mean `created`?"),
    ("toggle_creation_date", "did you mean `created`?"),
    (
        "type",
        "the toggle's type is the static's type: `Switch`, `Flag` or `Setting<T>`",
    ),
];

impl Attrs {
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Attrs {
        let mut attrs = Attrs::default();
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                let key = input.call(Ident::parse_any)?;
                if !input.peek(Token![=]) {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("expected `{key} = \"...\"`"),
                    ));
                }
                input.parse::<Token![=]>()?;
                let mut value = Vec::new();
                while !input.is_empty() && !input.peek(Token![,]) {
                    value.push(input.parse::<TokenTree>()?);
                }
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
                match string_value(&value) {
                    Some(value) => attrs.insert(Entry { key, value }, errors),
                    // A string and then something more: most likely a missing comma.
                    None if value.len() > 1 && string_value(&value[..1]).is_some() => {
                        attrs.mention(&key.unraw().to_string());
                        let extra: TokenStream = value[1..].iter().cloned().collect();
                        errors.spanned(
                            &extra,
                            format!(
                                "unexpected `{}` after `{key} = {}`; separate keys with `,`",
                                crate::valid::as_written(extra.clone()),
                                value[0]
                            ),
                        );
                    }
                    None => {
                        attrs.mention(&key.unraw().to_string());
                        let span = value.first().map_or(key.span(), TokenTree::span);
                        errors.at(span, format!("`{key}` takes a string: `{key} = \"...\"`"));
                    }
                }
            }
            Ok(())
        };
        if let Err(e) = parser.parse2(args) {
            errors.push(e);
        }
        attrs
    }

    fn insert(&mut self, entry: Entry, errors: &mut Errors) {
        let key = entry.key.unraw().to_string();
        let slot = match key.as_str() {
            "namespace" => &mut self.namespace,
            "life" => &mut self.life,
            "remove_by" => &mut self.remove_by,
            "justification" => &mut self.justification,
            "created" => &mut self.created,
            "name" => &mut self.name,
            "owner" => &mut self.owner,
            "use_cases" => &mut self.use_cases,
            "tickets" => &mut self.tickets,
            "warning" => &mut self.warning,
            "crate" => &mut self.krate,
            _ => {
                let suggestion = names::closest(&key, &KEYS);
                if let Some(k) = suggestion {
                    self.mention(k);
                }
                let hint = HABITS
                    .iter()
                    .find(|(habit, _)| *habit == key)
                    .map(|(_, hint)| (*hint).to_owned())
                    .or_else(|| suggestion.map(|k| format!("did you mean `{k}`?")))
                    .unwrap_or_else(|| format!("the keys are {}", list(&KEYS)));
                errors.at(entry.key.span(), format!("unknown key `{key}`; {hint}"));
                return;
            }
        };
        if slot.is_some() {
            errors.at(
                entry.key.span(),
                format!("duplicate key `{key}`; give each key once"),
            );
        } else {
            *slot = Some(entry);
        }
    }
}

impl Attrs {
    fn mention(&mut self, key: &str) {
        if let Some(k) = KEYS.iter().find(|k| **k == key) {
            self.mentioned.push(k);
        }
    }

    /// Whether `key` was written at all, well or badly.
    pub(crate) fn mentions(&self, key: &str) -> bool {
        self.mentioned.contains(&key)
    }
}

fn string_value(tokens: &[TokenTree]) -> Option<LitStr> {
    match tokens {
        [TokenTree::Literal(lit)] => syn::parse2(TokenTree::Literal(lit.clone()).into()).ok(),
        _ => None,
    }
}

/// `a`, `b` and `c`, each quoted as code.
pub(crate) fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} and `{last}`",
            init.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Entry {
    pub(crate) fn span(&self) -> Span {
        self.value.span()
    }
}
