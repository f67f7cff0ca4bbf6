//! The item under the attribute, parsed by hand (as linkme does) so syn's `full` feature,
//! which roughly doubles its build time, is not needed.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, Type, Visibility};

pub(crate) struct Item {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) static_token: Token![static],
    pub(crate) mutability: Option<Token![mut]>,
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    pub(crate) init: Option<TokenStream>,
    /// Where an initializer would go, for "needs an initializer" errors.
    pub(crate) semi_span: Span,
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![static]) {
            let what = input
                .fork()
                .parse::<TokenTree>()
                .map_or_else(|_| "nothing".to_owned(), |tt| format!("`{tt}`"));
            return Err(input.error(format!(
                "`#[toggle]` goes on a `static` item, not on {what}: `static NAME: Flag;`"
            )));
        }
        let static_token = input.parse()?;
        let mutability = input.parse()?;
        let ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let ty = input.parse()?;
        let init = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            let mut expr = TokenStream::new();
            while !(input.peek(Token![;]) && is_last_token(input)) {
                if input.is_empty() {
                    return Err(input.error("expected `;` after the initializer"));
                }
                expr.extend([input.parse::<TokenTree>()?]);
            }
            Some(expr)
        } else {
            None
        };
        let semi: Token![;] = input.parse()?;
        Ok(Item {
            attrs,
            vis,
            static_token,
            mutability,
            ident,
            ty,
            init,
            semi_span: semi.span,
        })
    }
}

fn is_last_token(input: ParseStream) -> bool {
    let fork = input.fork();
    fork.parse::<Token![;]>().is_ok() && fork.is_empty()
}
