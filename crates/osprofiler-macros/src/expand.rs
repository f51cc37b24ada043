//! Code generation for `#[trace]` and `#[trace_impl]`.
//!
//! Everything generated refers to `::osprofiler::__private` (runtime support) and to
//! `::core`; the generated locals are `__osp_*` identifiers with mixed-site hygiene, so the
//! user's body can neither see nor clash with them.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    AttrStyle, Attribute, Block, Expr, FnArg, Ident, ImplItem, ItemImpl, Pat, ReturnType,
    Signature, Stmt, Token, Type, Visibility,
};

use crate::attr::{take_method_mark, MethodMark, Place, Resolved, TraceArgs};

/// A fn's body: parsed, or kept as raw tokens when it does not parse (so that rustc, not
/// this macro, reports the user's syntax error, and the rest still expands).
pub(crate) enum Body {
    Parsed(Block),
    Raw(TokenStream),
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Body::Parsed(b) => b.to_tokens(tokens),
            Body::Raw(t) => t.to_tokens(tokens),
        }
    }
}

/// A fn item, free or in an impl, split into what the generator keeps and what it wraps.
pub(crate) struct FnParts {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    pub(crate) body: Body,
}

impl Parse for FnParts {
    /// A fn with a body. When the body does not parse, it is kept as tokens.
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let defaultness: Option<Token![default]> = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(syn::Error::new(
                input.span(),
                "#[trace] needs a fn with a body (a declaration without one has nothing to trace)",
            ));
        }
        let group: proc_macro2::Group = input.parse()?;
        if group.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(
                group.span(),
                "expected the fn's body `{ ... }`",
            ));
        }
        let tokens = group.to_token_stream();
        let (attrs, body) = match syn::parse2::<BlockWithInner>(tokens.clone()) {
            Ok(BlockWithInner { inner, block }) => {
                let mut attrs = attrs;
                attrs.extend(inner);
                (attrs, Body::Parsed(block))
            }
            Err(_) => (attrs, Body::Raw(tokens)),
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the fn"));
        }
        Ok(FnParts {
            attrs,
            vis,
            defaultness,
            sig,
            body,
        })
    }
}

/// `{ #![inner] stmts }`
struct BlockWithInner {
    inner: Vec<Attribute>,
    block: Block,
}

impl Parse for BlockWithInner {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        let brace_token = syn::braced!(content in input);
        let inner = content.call(Attribute::parse_inner)?;
        let stmts = content.call(Block::parse_within)?;
        Ok(BlockWithInner {
            inner,
            block: Block { brace_token, stmts },
        })
    }
}

/// How the point's `function.name` is made.
#[derive(Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// A fn on its own: `module::fn`, or `module::Type::fn` for a method (a fn with a
    /// receiver), the type taken from `Self` at run time.
    Free,
    /// A method of `#[trace_impl]`: `module::Type::fn`, all known at compile time.
    Impl(&'a str),
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `#[trace(...)] fn ...`
pub(crate) fn trace_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = match TraceArgs::parse_in(Place::Fn, args) {
        Ok(a) => a,
        Err(e) => return with_item(e, item),
    };
    let parts = match syn::parse2::<FnParts>(item.clone()) {
        Ok(p) => p,
        Err(e) => {
            let e = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(syn::Item::Impl(i)) => syn::Error::new(
                    i.impl_token.span,
                    "#[trace] goes on fns; on an impl block use #[trace_impl(name = \"...\")]",
                ),
                Ok(other) if !matches!(other, syn::Item::Fn(_)) => syn::Error::new(
                    item_span(&other),
                    "#[trace] goes on fns, async fns and methods only",
                ),
                _ => e,
            };
            return with_item(e, item);
        }
    };
    if args.skip {
        return item;
    }
    let Some(cfg) = args.resolve() else {
        return item;
    };
    match gen_fn(parts, &cfg, Owner::Free) {
        Ok(t) => t,
        Err(e) => with_item(e, item),
    }
}

/// `#[trace_impl(...)] impl ... { ... }`
pub(crate) fn trace_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = match TraceArgs::parse_in(Place::Impl, args) {
        Ok(a) => a,
        Err(e) => return with_item(e, item),
    };
    let mut imp = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(i) => i,
        Err(e) => {
            let e = match syn::parse2::<syn::Item>(item.clone()) {
                Ok(other) => syn::Error::new(
                    item_span(&other),
                    if matches!(other, syn::Item::Fn(_)) {
                        "#[trace_impl] goes on impl blocks; on a fn use #[trace(name = \"...\")]"
                    } else {
                        "#[trace_impl] goes on impl blocks (inherent or trait impls) only"
                    },
                ),
                Err(_) => e,
            };
            return with_item(e, item);
        }
    };
    // Errors go out with the impl, its methods' marks removed, so that rustc does not add
    // "cannot find attribute `trace`" to them.
    let errors = gen_impl(&mut imp, &args);
    let mut out = errors
        .map(syn::Error::into_compile_error)
        .unwrap_or_default();
    imp.to_tokens(&mut out);
    out
}

fn with_item(e: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = e.into_compile_error();
    out.extend(item);
    out
}

fn item_span(item: &syn::Item) -> Span {
    // The keyword that says what the item is (`struct`, `mod`, ...), after its attributes.
    let mut tokens = item.to_token_stream().into_iter().peekable();
    while let Some(t) = tokens.next() {
        match &t {
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
            }
            proc_macro2::TokenTree::Ident(i) if i == "pub" => {
                if let Some(proc_macro2::TokenTree::Group(_)) = tokens.peek() {
                    tokens.next();
                }
            }
            other => return other.span(),
        }
    }
    Span::call_site()
}

/// Traces the chosen methods of `imp` in place and removes the `#[trace]` / `#[notrace]`
/// marks of all of them; returns the errors (a method with an error is left untraced).
fn gen_impl(imp: &mut ItemImpl, args: &TraceArgs) -> Option<syn::Error> {
    let type_name = self_type_name(&imp.self_ty);
    let is_trait_impl = imp.trait_.is_some();
    let trace_private = args.trace_private.unwrap_or(false);
    let trace_static = args.trace_static_methods.unwrap_or(false);
    let mut errors: Option<syn::Error> = None;
    for item in &mut imp.items {
        let ImplItem::Fn(method) = item else {
            continue;
        };
        let mark = match take_method_mark(&mut method.attrs) {
            Ok(m) => m,
            Err(e) => {
                combine(&mut errors, e);
                continue;
            }
        };
        let name = unraw(&method.sig.ident);
        let own = match mark {
            MethodMark::Skip => continue,
            MethodMark::Own(own) => Some(own.over(args)),
            MethodMark::None => None,
        };
        if own.is_none() {
            // Python's trace_cls / TracedMeta: never `__x`, `_x` only with trace_private,
            // static methods only with trace_static_methods. A const fn cannot be traced.
            let private = name.starts_with('_')
                || (!is_trait_impl && matches!(method.vis, Visibility::Inherited));
            let is_static = method.sig.receiver().is_none();
            if name.starts_with("__")
                || (private && !trace_private)
                || (is_static && !trace_static)
                || method.sig.constness.is_some()
            {
                continue;
            }
        }
        let args = own.as_ref().unwrap_or(args);
        let Some(cfg) = args.resolve() else {
            continue;
        };
        let method = method.clone();
        let parts = FnParts {
            attrs: method.attrs,
            vis: method.vis,
            defaultness: method.modifiers.defaultness,
            sig: method.sig,
            body: Body::Parsed(method.block),
        };
        match gen_fn(parts, &cfg, Owner::Impl(&type_name)) {
            Ok(tokens) => *item = ImplItem::Verbatim(tokens),
            Err(e) => combine(&mut errors, e),
        }
    }
    errors
}

fn combine(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(first) => first.combine(e),
        None => *errors = Some(e),
    }
}

fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

/// `Repo` for `impl Repo`, `impl<T> db::Repo<T>` and `impl Trait for Repo`; other self types
/// (`[T]`, `&T`, tuples) as written, without spaces.
fn self_type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) if p.qself.is_none() => match p.path.segments.last() {
            Some(seg) => unraw(&seg.ident),
            None => String::new(),
        },
        Type::Group(g) => self_type_name(&g.elem),
        Type::Paren(p) => self_type_name(&p.elem),
        other => other
            .to_token_stream()
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    }
}

/// One traced fn.
pub(crate) fn gen_fn(parts: FnParts, cfg: &Resolved, owner: Owner<'_>) -> syn::Result<TokenStream> {
    let FnParts {
        attrs,
        vis,
        defaultness,
        mut sig,
        body,
    } = parts;
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span,
            "#[trace] cannot trace a `const fn`: a trace point sends a notification at run \
             time, which a const fn cannot do",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.dots.spans[0],
            "#[trace] cannot trace a variadic fn",
        ));
    }
    let (outer, inner): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Outer));

    let (arg_exprs, destructure) = args_of(&mut sig);
    let has_receiver = sig.receiver().is_some();
    let fn_name = unraw(&sig.ident);
    let name_expr = match owner {
        Owner::Impl(ty) => {
            quote!(::core::concat!(::core::module_path!(), "::", #ty, "::", #fn_name))
        }
        Owner::Free if has_receiver => quote!(
            ::osprofiler::__private::method_name::<Self>(::core::module_path!(), #fn_name)
        ),
        Owner::Free => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
    };
    let start_info = start_info(cfg, &name_expr, &arg_exprs);
    // Where type errors about the body's value point: the declared return type.
    let ret_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let point_name = &cfg.name;

    let new_body = if sig.asyncness.is_some() {
        let block = if destructure.is_empty() {
            body.to_token_stream()
        } else {
            quote!({ #(#destructure)* #body })
        };
        let fake = fake_return(&sig.output, ret_span);
        gen_async_body(&start_info, point_name, cfg, &fake, &block)
    } else if let Some(rewritten) = destructure
        .is_empty()
        .then(|| {
            // A fn whose value is an `async move` block, maybe boxed (`#[async_trait]`'s
            // output, or a hand-written `-> impl Future`): trace the block's execution, not
            // its creation. (Not when a parameter is a pattern: statements before the block
            // may use its bindings, so it is destructured in place and traced as a sync fn.)
            rewrite_async_block(&body, |block| {
                gen_async_body(&start_info, point_name, cfg, &TokenStream::new(), block)
            })
        })
        .flatten()
    {
        rewritten
    } else {
        let fake = fake_return(&sig.output, ret_span);
        let block = quote_spanned!(ret_span=> { #(#destructure)* #fake #body });
        let never =
            matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
        gen_sync_body(&start_info, point_name, cfg, &block, ret_span, never)
    };

    Ok(quote! {
        #(#outer)*
        #vis #defaultness #sig {
            #(#inner)*
            #new_body
        }
    })
}

/// The args' expressions for the start info, one per parameter, and the `let` statements that
/// destructure parameters whose pattern is not a plain name (they are renamed `__osp_argN` in
/// the signature so that the whole value can be printed, as Python prints each argument).
fn args_of(sig: &mut Signature) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut exprs = Vec::new();
    let mut destructure = Vec::new();
    for (i, arg) in sig.inputs.iter_mut().enumerate() {
        match arg {
            FnArg::Receiver(r) => {
                let self_token = r.self_token;
                if matches!(r.kind, syn::ReceiverKind::Reference(..)) {
                    exprs.push(quote!(&*#self_token));
                } else {
                    exprs.push(quote!(&#self_token));
                }
            }
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.subpat.is_none() => {
                    let ident = &pi.ident;
                    exprs.push(quote!(&#ident));
                }
                _ => {
                    let renamed = format_ident!("__osp_arg{}", i, span = Span::mixed_site());
                    let pat = std::mem::replace(
                        &mut *pt.pat,
                        Pat::Ident(syn::PatIdent {
                            attrs: Vec::new(),
                            by_ref: None,
                            mutability: None,
                            ident: renamed.clone(),
                            subpat: None,
                        }),
                    );
                    exprs.push(quote!(&#renamed));
                    destructure.push(quote!(let #pat = #renamed;));
                }
            },
        }
    }
    (exprs, destructure)
}

/// `::osprofiler::__private::start_info(<user info>, <fn name>, <args or None>)`
fn start_info(cfg: &Resolved, name_expr: &TokenStream, args: &[TokenStream]) -> TokenStream {
    let info = match &cfg.info {
        Some(e) => quote_spanned!(e.span()=> ::osprofiler::__private::IntoInfo::into_info(#e)),
        None => quote!(::osprofiler::__private::Info::new()),
    };
    let args = if cfg.hide_args {
        quote!(::core::option::Option::None)
    } else {
        let w = local("__osp_w");
        quote! {
            ::core::option::Option::Some({
                #[allow(unused_imports)]
                use ::osprofiler::__private::{ReprDebug as _, ReprTypeName as _};
                let mut #w = ::osprofiler::__private::ArgsWriter::new();
                #(
                    (&&::osprofiler::__private::Wrap(#args)).__osp_repr(#w.next_arg());
                )*
                #w.finish()
            })
        }
    };
    quote!(::osprofiler::__private::start_info(#info, #name_expr, #args))
}

/// The stop info made from the body's output `out` (a local holding it).
fn stop_info(cfg: &Resolved, out: &Ident) -> TokenStream {
    let v = local("__osp_v");
    let e = local("__osp_e");
    let ok_arm = if cfg.hide_result {
        quote!(::core::result::Result::Ok(_) => ::core::option::Option::None,)
    } else {
        quote! {
            ::core::result::Result::Ok(#v) => {
                let mut __osp_s = ::std::string::String::new();
                (&&::osprofiler::__private::Wrap(#v)).__osp_repr(&mut __osp_s);
                ::core::option::Option::Some(::osprofiler::__private::result_info(__osp_s))
            }
        }
    };
    quote! {
        {
            #[allow(unused_imports)]
            use ::osprofiler::__private::{
                KindPlain as _, KindResult as _, MessageDebug as _, MessageDisplay as _,
                MessageTypeName as _, ReprDebug as _, ReprTypeName as _,
            };
            match (&#out).__osp_kind().split(&#out) {
                #ok_arm
                ::core::result::Result::Err(#e) => ::core::option::Option::Some(
                    ::osprofiler::__private::failure_info(
                        ::osprofiler::__private::type_name_of(#e),
                        (&&&::osprofiler::__private::Wrap(#e)).__osp_message(),
                    ),
                ),
            }
        }
    }
}

/// The body of a traced sync fn: the user's block runs in a `FnOnce` closure (so `return` and
/// `?` keep their meaning), called directly when no profiler is current.
fn gen_sync_body(
    start_info: &TokenStream,
    point_name: &syn::LitStr,
    cfg: &Resolved,
    block: &TokenStream,
    ret_span: Span,
    never: bool,
) -> TokenStream {
    let start = local("__osp_start");
    let body = local("__osp_body");
    let info = local("__osp_info");
    let point = local("__osp_point");
    let out = local("__osp_out");
    if never {
        // `-> !`: the body only ends by panicking, which `run` records.
        let closure = quote_spanned!(ret_span=> move || -> ! #block);
        return quote! {
            let #start = if ::osprofiler::__private::is_active() {
                ::core::option::Option::Some(#start_info)
            } else {
                ::core::option::Option::None
            };
            let #body = ::osprofiler::__private::fn_once(#closure);
            match #start {
                ::core::option::Option::None => #body(),
                ::core::option::Option::Some(#info) => {
                    ::osprofiler::__private::SyncPoint::start(#point_name, #info).run(#body)
                }
            }
        };
    }
    let closure = quote_spanned!(ret_span=> move || #block);
    let stop = stop_info(cfg, &out);
    quote! {
        let #start = if ::osprofiler::__private::is_active() {
            ::core::option::Option::Some(#start_info)
        } else {
            ::core::option::Option::None
        };
        let #body = ::osprofiler::__private::fn_once(#closure);
        match #start {
            ::core::option::Option::None => #body(),
            ::core::option::Option::Some(#info) => {
                let mut #point = ::osprofiler::__private::SyncPoint::start(#point_name, #info);
                #[allow(clippy::let_unit_value)]
                let #out = #point.run(#body);
                #point.finish(#stop);
                #out
            }
        }
    }
}

/// The body of a traced async fn (or of the `async move` block a fn returns): at the first
/// poll, check for a profiler; with one, run the user's block inside
/// `__private::Traced`, which forks the profiler and starts the point.
fn gen_async_body(
    start_info: &TokenStream,
    point_name: &syn::LitStr,
    cfg: &Resolved,
    fake_return: &TokenStream,
    block: &TokenStream,
) -> TokenStream {
    let start = local("__osp_start");
    let body = local("__osp_body");
    let info = local("__osp_info");
    let stopper = local("__osp_stopper");
    let out = local("__osp_out");
    let stop = stop_info(cfg, &out);
    // Without a statement before it, the block goes in as the async block's own (wrapping it
    // in another pair of braces would trip `unused_braces` on the user's braces).
    let body_expr = if fake_return.is_empty() {
        quote!(async move #block)
    } else {
        quote!(async move { #fake_return #block })
    };
    quote! {
        let #start = if ::osprofiler::__private::is_active() {
            ::core::option::Option::Some(#start_info)
        } else {
            ::core::option::Option::None
        };
        let #body = #body_expr;
        match #start {
            ::core::option::Option::None => #body.await,
            ::core::option::Option::Some(#info) => {
                #[allow(clippy::let_unit_value)]
                let (#out, #stopper) =
                    ::osprofiler::__private::Traced::new(#point_name, #info, #body).await;
                #stopper.finish(#stop);
                #out
            }
        }
    }
}

/// A statement that fixes the type the user's block must return (the fn's return type, with
/// `impl Trait` left to inference), as tracing-attributes does, so that `?` and `return` in the
/// block infer as they would in the fn itself. Unreachable at run time.
fn fake_return(output: &ReturnType, span: Span) -> TokenStream {
    let ty = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            if matches!(**ty, Type::Never(_)) {
                return TokenStream::new();
            }
            let mut ty = (**ty).clone();
            ImplTraitEraser.visit_type_mut(&mut ty);
            ty.into_token_stream()
        }
    };
    let r = Ident::new("__osp_fake_return", Span::mixed_site().located_at(span));
    quote_spanned! {span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let #r: #ty = loop {};
            return #r;
        }
    }
}

struct ImplTraitEraser;

impl VisitMut for ImplTraitEraser {
    fn visit_type_mut(&mut self, t: &mut Type) {
        if let Type::ImplTrait(i) = t {
            *t = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: Token![_](i.span()),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, t);
        }
    }
}

/// When the fn's value is `async move { .. }` or `Box::pin(async move { .. })` (what
/// `#[async_trait]` writes), the body with that block replaced by
/// `async move { <gen(inner block)> }`.
fn rewrite_async_block(
    body: &Body,
    gen: impl FnOnce(&TokenStream) -> TokenStream,
) -> Option<TokenStream> {
    let Body::Parsed(block) = body else {
        return None;
    };
    let Some(Stmt::Expr(last, None)) = block.stmts.last() else {
        return None;
    };
    let moved_block = |e: &Expr| match e {
        Expr::Async(a) if a.capture.is_some() => Some(a.clone()),
        _ => None,
    };
    let (async_expr, boxed) = match last {
        Expr::Call(call) if call.args.len() == 1 => {
            let Expr::Path(p) = &*call.func else {
                return None;
            };
            let segs: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            if !segs.ends_with(&["Box".to_owned(), "pin".to_owned()]) {
                return None;
            }
            (moved_block(&call.args[0])?, Some(call))
        }
        other => (moved_block(other)?, None),
    };
    let inner = gen(&async_expr.block.to_token_stream());
    let attrs = &async_expr.attrs;
    let new_async = quote!(#(#attrs)* async move { #inner });
    let new_last = match boxed {
        Some(call) => {
            let func = &call.func;
            quote!(#func(#new_async))
        }
        None => new_async,
    };
    let stmts = &block.stmts[..block.stmts.len() - 1];
    Some(quote!(#(#stmts)* #new_last))
}
