//! Parsing of the attribute arguments of `#[trace(...)]` and `#[trace_impl(...)]`.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitBool, LitStr, Meta, Token};

/// Where a list of arguments was written: each place accepts its own keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// `#[trace(...)]` on a fn: `name` is required.
    Fn,
    /// `#[trace(...)]` on a method inside `#[trace_impl]`: overrides the impl's arguments, so
    /// `name` may be left out.
    Method,
    /// `#[trace_impl(...)]`: also takes `trace_private` and `trace_static_methods`.
    Impl,
}

impl Place {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Place::Fn | Place::Method => &["name", "info", "hide_args", "hide_result", "skip"],
            Place::Impl => &[
                "name",
                "info",
                "hide_args",
                "hide_result",
                "trace_private",
                "trace_static_methods",
            ],
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Place::Fn | Place::Method => "#[trace]",
            Place::Impl => "#[trace_impl]",
        }
    }
}

/// The arguments as written; `None` is "not given".
#[derive(Default, Clone)]
pub(crate) struct TraceArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) info: Option<Expr>,
    pub(crate) hide_args: Option<bool>,
    pub(crate) hide_result: Option<bool>,
    pub(crate) skip: bool,
    pub(crate) trace_private: Option<bool>,
    pub(crate) trace_static_methods: Option<bool>,
}

/// What the code generator needs for one traced fn.
pub(crate) struct Resolved {
    pub(crate) name: LitStr,
    pub(crate) info: Option<Expr>,
    pub(crate) hide_args: bool,
    pub(crate) hide_result: bool,
}

impl TraceArgs {
    /// Parses the tokens inside `#[trace(...)]` / `#[trace_impl(...)]`.
    pub(crate) fn parse_in(place: Place, tokens: TokenStream) -> syn::Result<Self> {
        let parser = |input: ParseStream<'_>| TraceArgs::parse_stream(place, input);
        let args = parser.parse2(tokens)?;
        if place != Place::Method && !args.skip && args.name.is_none() {
            let message = match place {
                Place::Impl => {
                    "#[trace_impl] needs a point name, as Python's `trace_cls` does: \
                     #[trace_impl(name = \"rpc\")]"
                }
                _ => {
                    "#[trace] needs a point name, as Python's `trace` does: \
                     #[trace(name = \"db\")] or #[trace(\"db\")]"
                }
            };
            return Err(syn::Error::new(Span::call_site(), message));
        }
        Ok(args)
    }

    fn parse_stream(place: Place, input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = TraceArgs::default();
        let mut seen: Vec<String> = Vec::new();
        let mut first = true;
        while !input.is_empty() {
            // Python's `@profiler.trace("db")`: the name may come first, without its key.
            if first && input.peek(LitStr) {
                args.name = Some(parse_name(input)?);
                seen.push("name".to_owned());
            } else {
                let key = Ident::parse_any(input)?;
                let key_str = key.to_string();
                if !place.keys().contains(&key_str.as_str()) {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{key_str}` of {}; expected one of: {}",
                            place.attribute(),
                            place
                                .keys()
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                if seen.contains(&key_str) {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("`{key_str}` is given more than once"),
                    ));
                }
                seen.push(key_str.clone());
                match key_str.as_str() {
                    "name" => {
                        expect_eq(input, &key, "name = \"db\"")?;
                        args.name = Some(parse_name(input)?);
                    }
                    "info" => {
                        expect_eq(input, &key, "info = serde_json::json!({...})")?;
                        args.info = Some(input.parse()?);
                    }
                    "skip" => {
                        if input.peek(Token![=]) {
                            return Err(input.error("`skip` takes no value: #[trace(skip)]"));
                        }
                        args.skip = true;
                    }
                    "hide_args" => args.hide_args = Some(parse_flag(input, &key)?),
                    "hide_result" => args.hide_result = Some(parse_flag(input, &key)?),
                    "trace_private" => args.trace_private = Some(parse_flag(input, &key)?),
                    "trace_static_methods" => {
                        args.trace_static_methods = Some(parse_flag(input, &key)?)
                    }
                    _ => unreachable!("every key of Place::keys is handled"),
                }
            }
            first = false;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }

    /// These arguments, with `base` filling in what they leave out (a method's own
    /// `#[trace(...)]` inside `#[trace_impl(...)]`).
    pub(crate) fn over(self, base: &TraceArgs) -> TraceArgs {
        TraceArgs {
            name: self.name.or_else(|| base.name.clone()),
            info: self.info.or_else(|| base.info.clone()),
            hide_args: self.hide_args.or(base.hide_args),
            hide_result: self.hide_result.or(base.hide_result),
            skip: self.skip,
            trace_private: base.trace_private,
            trace_static_methods: base.trace_static_methods,
        }
    }

    /// The settings for code generation (Python's defaults: args shown, result hidden).
    /// `None` when the name is missing, which `parse_in` has already reported.
    pub(crate) fn resolve(&self) -> Option<Resolved> {
        Some(Resolved {
            name: self.name.clone()?,
            info: self.info.clone(),
            hide_args: self.hide_args.unwrap_or(false),
            hide_result: self.hide_result.unwrap_or(true),
        })
    }
}

fn parse_name(input: ParseStream<'_>) -> syn::Result<LitStr> {
    let expr: Expr = input.parse()?;
    match &expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => {
            if s.value().is_empty() {
                Err(syn::Error::new(
                    s.span(),
                    "the point name must not be empty",
                ))
            } else {
                Ok(s.clone())
            }
        }
        _ => Err(syn::Error::new(
            expr.span(),
            "`name` must be a string literal, e.g. name = \"db\"",
        )),
    }
}

/// The `=` after a key that needs a value.
fn expect_eq(input: ParseStream<'_>, key: &Ident, example: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Ok(())
    } else {
        Err(syn::Error::new(
            key.span(),
            format!("`{key}` needs a value: {example}"),
        ))
    }
}

/// `flag` (true) or `flag = true|false`.
fn parse_flag(input: ParseStream<'_>, key: &Ident) -> syn::Result<bool> {
    if !input.peek(Token![=]) {
        return Ok(true);
    }
    input.parse::<Token![=]>()?;
    let expr: Expr = input.parse()?;
    match &expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(LitBool { value, .. }),
            ..
        }) => Ok(*value),
        _ => Err(syn::Error::new(
            expr.span(),
            format!("`{key}` takes `true` or `false` (or no value, meaning `true`)"),
        )),
    }
}

/// How a method inside `#[trace_impl]` is marked.
pub(crate) enum MethodMark {
    /// No mark: the impl's rules decide.
    None,
    /// `#[notrace]` or `#[trace(skip)]`.
    Skip,
    /// Its own `#[trace(...)]`, to apply over the impl's arguments.
    Own(TraceArgs),
}

/// Finds and removes the `#[trace]` / `#[notrace]` attributes of a method inside
/// `#[trace_impl]`.
pub(crate) fn take_method_mark(attrs: &mut Vec<Attribute>) -> syn::Result<MethodMark> {
    let mut mark = MethodMark::None;
    let mut found: Option<Span> = None;
    let mut error: Option<syn::Error> = None;
    attrs.retain(|attr| {
        let kind = if is_path(attr.path(), "notrace") {
            Some(false)
        } else if is_path(attr.path(), "trace") {
            Some(true)
        } else {
            None
        };
        let Some(is_trace) = kind else {
            return true;
        };
        let result = if found.is_some() {
            Err(syn::Error::new(
                attr.span(),
                "a method takes one `#[trace(...)]` or `#[notrace]`",
            ))
        } else if is_trace {
            let tokens = match &attr.meta {
                Meta::Path(_) => Ok(TokenStream::new()),
                Meta::List(list) => Ok(list.tokens.clone()),
                Meta::NameValue(nv) => Err(syn::Error::new(
                    nv.eq_token.span,
                    "expected #[trace] or #[trace(...)]",
                )),
            };
            tokens
                .and_then(|t| TraceArgs::parse_in(Place::Method, t))
                .map(|args| {
                    if args.skip {
                        MethodMark::Skip
                    } else {
                        MethodMark::Own(args)
                    }
                })
        } else {
            match &attr.meta {
                Meta::Path(_) => Ok(MethodMark::Skip),
                _ => Err(syn::Error::new(
                    attr.meta.span(),
                    "`#[notrace]` takes no arguments",
                )),
            }
        };
        match result {
            Ok(m) => {
                mark = m;
                found = Some(attr.span());
            }
            Err(e) => match &mut error {
                Some(first) => first.combine(e),
                None => error = Some(e),
            },
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok(mark),
    }
}

/// `name`, `osprofiler::name` or `::osprofiler::name`.
fn is_path(path: &syn::Path, name: &str) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [one] => path.leading_colon.is_none() && one == name,
        [krate, one] => krate == "osprofiler" && one == name,
        _ => false,
    }
}
