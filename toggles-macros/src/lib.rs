//! The `#[toggle]` attribute of the [`toggles`](https://docs.rs/toggles) crate.
//!
//! Use it through `toggles`: `use toggles::toggle;`. The expansion names only
//! `::toggles::__private`, so this crate is useless on its own.

mod ast;
mod attr;
mod errors;
mod expand;
mod names;
mod valid;
mod variants;

use proc_macro::TokenStream;

/// Declares a feature toggle on a `static` of type `Switch`, `Flag`, `Variant<E>` or
/// `Setting<T>`.
///
/// See the `toggles` crate for the keys and the errors it reports.
#[proc_macro_attribute]
pub fn toggle(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::toggle(args.into(), &input.into()).into()
}

/// Derives `Variants` on an enum of unit variants: its arms, for a `Variant<E>` toggle.
///
/// See the `toggles` crate; `#[variant(name = "...")]` names an arm, `#[variants(crate =
/// "...")]` gives the path to a renamed toggles crate.
#[proc_macro_derive(Variants, attributes(variant, variants))]
pub fn derive_variants(input: TokenStream) -> TokenStream {
    variants::derive(input.into()).into()
}
