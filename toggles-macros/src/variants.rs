//! `#[derive(Variants)]`: the arms of a variant toggle, from an enum of unit variants.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::errors::Errors;
use crate::names;

/// The most arms a variant toggle has: its cached state keeps the arm in eight bits.
const MOST_ARMS: usize = 256;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    let krate = crate_path(&input, &mut errors);
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        let (what, span) = match &input.data {
            Data::Struct(s) => ("a struct", s.struct_token.span),
            Data::Union(u) => ("a union", u.union_token.span),
            Data::Enum(_) => unreachable!(),
        };
        errors.at(
            span,
            format!("`Variants` is derived on an enum whose unit variants are the arms, and `{ident}` is {what}: write `enum {ident} {{ Control, Treatment }}`"),
        );
        return errors
            .into_error()
            .map(|e| e.to_compile_error())
            .unwrap_or_default();
    };
    if !input.generics.params.is_empty() {
        errors.spanned(
            &input.generics,
            format!("the arms of a variant toggle are a plain enum: remove the generic parameters of `{ident}`"),
        );
    }
    if data.variants.is_empty() {
        errors.at(
            ident.span(),
            format!("`{ident}` has no variants, so a toggle of it would have no arm: add one variant per arm"),
        );
    }
    if data.variants.len() > MOST_ARMS {
        errors.at(
            ident.span(),
            format!(
                "`{ident}` has {} variants; a variant toggle has at most {MOST_ARMS} arms",
                data.variants.len()
            ),
        );
    }
    let mut arms: Vec<(String, &syn::Ident, Span)> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            errors.spanned(
                &variant.fields,
                format!(
                    "arm `{}` has fields, and an arm is a unit variant: write `{},` (a value per arm belongs in a method on `{ident}`, or in a `Setting` the arm reads)",
                    variant.ident, variant.ident
                ),
            );
        }
        let Some((name, span)) = arm_name(variant, &mut errors) else {
            continue;
        };
        if let Some((_, first, _)) = arms.iter().find(|(n, ..)| *n == name) {
            errors.at(
                span,
                format!(
                    "arms `{first}` and `{}` are both named `{name}`: rename one, or name it with `#[variant(name = \"...\")]`",
                    variant.ident
                ),
            );
            continue;
        }
        arms.push((name, &variant.ident, span));
    }
    if let Some(error) = errors.into_error() {
        return error.to_compile_error();
    }
    let names = arms.iter().map(|(name, ..)| name);
    let variants: Vec<_> = data.variants.iter().map(|v| &v.ident).collect();
    let indices = 0..variants.len();
    let indices_back = 0..variants.len();
    quote! {
        impl #krate::__private::Variants for #ident {
            const ARMS: &'static [&'static str] = &[#(#names),*];

            #[inline]
            fn index(self) -> usize {
                match self {
                    #(#ident::#variants => #indices,)*
                }
            }

            #[inline]
            fn from_index(index: usize) -> #krate::__private::Option<Self> {
                match index {
                    #(#indices_back => #krate::__private::Some(#ident::#variants),)*
                    _ => #krate::__private::None,
                }
            }
        }
    }
}

/// `::toggles`, or the path `#[variants(crate = "...")]` gives.
fn crate_path(input: &DeriveInput, errors: &mut Errors) -> TokenStream {
    let mut krate = quote!(::toggles);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("variants")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                let path: syn::Path = path.parse()?;
                krate = quote!(#path);
                Ok(())
            } else {
                Err(meta.error("`#[variants]` takes `crate = \"path::to::toggles\"`"))
            }
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    krate
}

/// The arm's name: `#[variant(name = "...")]`, or the variant's in snake case; `None` after an
/// error.
fn arm_name(variant: &syn::Variant, errors: &mut Errors) -> Option<(String, Span)> {
    let mut named: Option<LitStr> = None;
    for attr in variant
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("variant"))
    {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                named = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                let key = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let hint = names::closest(&key, &["name"])
                    .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
                Err(meta.error(format!(
                    "unknown key `{key}` in `#[variant]`, which takes `name = \"...\"`{hint}"
                )))
            }
        });
        if let Err(e) = parsed {
            errors.push(e);
            return None;
        }
    }
    let (name, span) = match named {
        Some(lit) => (lit.value(), lit.span()),
        None => (snake_case(&variant.ident.to_string()), variant.ident.span()),
    };
    if toggles_vocab::is_name(&name) {
        Some((name, span))
    } else {
        errors.at(
            span,
            format!("`{name}` is not an arm name: use lower-case words joined by `_`, like `one_page` (set it with `#[variant(name = \"...\")]`)"),
        );
        None
    }
}

/// `OnePage` as `one_page`, `HTTPServer` as `http_server`, `Step2` as `step2`.
fn snake_case(ident: &str) -> String {
    let chars: Vec<char> = ident.trim_start_matches("r#").chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let before = chars[i - 1];
            let after_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if before.is_lowercase()
                || before.is_ascii_digit()
                || (before.is_uppercase() && after_is_lower)
            {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_of_variant_names() {
        assert_eq!(snake_case("OnePage"), "one_page");
        assert_eq!(snake_case("Classic"), "classic");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Step2"), "step2");
        assert_eq!(snake_case("Step2Fast"), "step2_fast");
        assert_eq!(snake_case("r#Type"), "type");
        assert_eq!(snake_case("A"), "a");
    }
}
