//! Generates the typed static, its registration, and the guards that make a full name unique.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::ast::Item;
use crate::attr::Attrs;
use crate::errors::Errors;
use crate::valid::{self, Default, Kind, Life, Toggle};

pub(crate) fn toggle(args: TokenStream, input: &TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        // Not a static we can read: keep the item as written so only this error shows.
        Err(e) => {
            let error = e.to_compile_error();
            return quote!(#error #input);
        }
    };
    let mut errors = Errors::default();
    let attrs = Attrs::parse(args, &mut errors);
    let kind = valid::kind(&item.ty, &mut errors);
    let toggle = valid::validate(&item, kind, &attrs, &mut errors);
    let private = private_path(&attrs);
    match (toggle, errors.into_error()) {
        (Some(toggle), None) => expand(&item, &toggle, &private),
        (_, error) => {
            let error = error.map(|e| e.to_compile_error());
            placeholder(&item, kind, &private, error.as_ref())
        }
    }
}

/// `::toggles::__private`, or the `crate = "..."` path's.
fn private_path(attrs: &Attrs) -> TokenStream {
    let krate = attrs
        .krate
        .as_ref()
        .and_then(|k| k.value.parse::<syn::Path>().ok())
        .map_or_else(|| quote!(::toggles), |p| quote!(#p));
    quote!(#krate::__private)
}

fn expand(item: &Item, toggle: &Toggle, private: &TokenStream) -> TokenStream {
    let Item {
        attrs,
        vis,
        static_token,
        ident,
        ty,
        ..
    } = item;
    let meta = meta(item, toggle, private);
    let value = match (&toggle.kind, &toggle.default) {
        (Kind::Switch, Default::Bool(b)) => quote!(#private::Switch::__new(#meta, #b)),
        (Kind::Flag, Default::Bool(b)) => quote!(#private::Flag::__new(#meta, #b)),
        // The user's expression keeps its spans, so a type error points at it.
        (Kind::Variant, Default::Expr(expr)) => quote!(#private::Variant::__new(#meta, #expr)),
        (_, Default::Expr(expr)) => quote!(#private::Setting::__new(#meta, #expr)),
        (Kind::Setting | Kind::Variant, Default::Bool(_)) => {
            unreachable!("a setting's or variant's default is an expression")
        }
    };
    let cfgs: Vec<_> = attrs.iter().filter(|a| a.path().is_ident("cfg")).collect();
    let full_name = toggle.full_name();
    // One link symbol per full name: two crates declaring the same toggle fail to link, and the
    // linker's "duplicate symbol" message carries the name.
    let symbol = format!("toggle {full_name} is declared twice; full names must be unique");
    // One crate-root macro per full name: a second declaration in the same crate is rustc's
    // "defined multiple times" error, underlining both statics, already under `cargo check`.
    let guard = format_ident!(
        "toggle__{}",
        full_name.replace('.', "__"),
        span = ident.span()
    );
    quote! {
        #(#attrs)*
        #vis #static_token #ident: #ty = #value;

        #(#cfgs)*
        const _: () = {
            #private::inventory::submit! {
                #private::Registration::new(&#ident)
            }
            #[used]
            #[export_name = #symbol]
            static FULL_NAME_IS_UNIQUE: u8 = 0;
        };

        // Declared in a function body the guard is still exported to the crate root, which is
        // what makes it collide; the lint that says so is about macros meant to be called.
        #(#cfgs)*
        #[doc(hidden)]
        #[macro_export]
        #[allow(non_local_definitions)]
        macro_rules! #guard {
            () => {};
        }
    }
}

fn meta(item: &Item, toggle: &Toggle, private: &TokenStream) -> TokenStream {
    let opt = |s: &Option<String>| match s {
        Some(s) => quote!(#private::Some(#s)),
        None => quote!(#private::None),
    };
    let date = |d: &toggles_vocab::Date| {
        let (y, m, day) = (d.year(), d.month(), d.day());
        quote!(#private::Date::__checked(#y, #m, #day))
    };
    let full_name = toggle.full_name();
    let Toggle {
        namespace,
        name,
        description,
        ..
    } = toggle;
    let life = match &toggle.life {
        Life::Temporary(d) => {
            let d = date(d);
            quote!(#private::Life::Temporary { remove_by: #d })
        }
        Life::Permanent(j) => quote!(#private::Life::Permanent { justification: #j }),
    };
    let created = match &toggle.created {
        Some(d) => {
            let d = date(d);
            quote!(#private::Some(#d))
        }
        None => quote!(#private::None),
    };
    let (owner, tickets, warning) = (
        opt(&toggle.owner),
        opt(&toggle.tickets),
        opt(&toggle.warning),
    );
    let use_cases = toggle.use_cases.iter().map(|c| {
        let variant = format_ident!("{}", c.variant_name());
        quote!(#private::UseCase::#variant)
    });
    let source = source(item.ident.span(), private);
    quote! {
        #private::Meta::__new(#private::MetaParts {
            full_name: #full_name,
            namespace: #namespace,
            name: #name,
            description: #description,
            life: #life,
            created: #created,
            owner: #owner,
            use_cases: &[#(#use_cases),*],
            tickets: #tickets,
            warning: #warning,
            source: #source,
        })
    }
}

/// `file!()`, `line!()` and friends, spanned on the static's name so they say where it is.
fn source(span: Span, private: &TokenStream) -> TokenStream {
    quote_spanned! {span=>
        #private::Source::__new(
            match #private::core::option_env!("CARGO_PKG_NAME") {
                #private::Some(name) => name,
                #private::None => "",
            },
            match #private::core::option_env!("CARGO_PKG_VERSION") {
                #private::Some(version) => version,
                #private::None => "",
            },
            #private::core::module_path!(),
            #private::core::file!(),
            #private::core::line!(),
            #private::core::column!(),
        )
    }
}

/// A stand-in for a rejected declaration: the static still exists with its type, so code that
/// uses it compiles and the only errors are the ones about the attribute.
fn placeholder(
    item: &Item,
    kind: Option<Kind>,
    private: &TokenStream,
    error: Option<&TokenStream>,
) -> TokenStream {
    let Item {
        attrs,
        vis,
        static_token,
        ident,
        ty,
        init,
        ..
    } = item;
    let meta = quote!(#private::Meta::__placeholder());
    let control = init.as_ref().filter(|expr| valid::is_path(expr));
    let value = match (kind, init) {
        (Some(Kind::Variant), _) if control.is_some() => {
            quote!(#private::Variant::__new(#meta, #control))
        }
        (Some(Kind::Switch), _) => quote!(#private::Switch::__new(#meta, false)),
        (Some(Kind::Flag), _) => quote!(#private::Flag::__new(#meta, false)),
        (Some(Kind::Setting), Some(expr)) => quote!(#private::Setting::__new(#meta, #expr)),
        (Some(Kind::Setting), None) => quote!(#private::Setting::__placeholder(#meta)),
        (None, Some(expr)) => expr.clone(),
        // Not a toggle type, or a variant toggle without its control arm: no value of an
        // arbitrary type can be made up, but an initializer that is the error itself has the
        // type of whatever it stands for, so rustc neither type-checks nor evaluates it, and
        // reports nothing more.
        (None | Some(Kind::Variant), _) => {
            return quote! {
                #(#attrs)*
                #[allow(unused_braces)]
                #vis #static_token #ident: #ty = { #error };
            }
        }
    };
    quote! {
        #error
        #(#attrs)*
        #vis #static_token #ident: #ty = #value;
    }
}
