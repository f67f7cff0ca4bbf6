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

use proc_macro::TokenStream;

/// Declares a feature toggle on a `static` of type `Switch`, `Flag` or `Setting<T>`.
///
/// See the `toggles` crate for the keys and the errors it reports.
#[proc_macro_attribute]
pub fn toggle(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::toggle(args.into(), &input.into()).into()
}
