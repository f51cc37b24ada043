//! Attribute macros for [osprofiler]: `#[trace]` (Python's `@profiler.trace`) and
//! `#[trace_impl]` (Python's `@profiler.trace_cls` and `TracedMeta`).
//!
//! Use them through the `osprofiler` crate (`osprofiler::trace`, `osprofiler::trace_impl`, with
//! its default `macros` feature); the generated code refers to `::osprofiler`.
//!
//! [osprofiler]: https://docs.rs/osprofiler

#![forbid(unsafe_code)]

mod attr;
mod expand;

use proc_macro::TokenStream;

/// Traces every call of a fn, async fn or method as one trace point, as Python's
/// `@profiler.trace(name, info=None, hide_args=False, hide_result=True)` does.
///
/// ```ignore
/// use osprofiler::trace;
///
/// #[trace(name = "db")]
/// fn get_user(id: u64, name: &str) -> Result<User, DbError> { /* ... */ }
///
/// #[trace("rpc", info = serde_json::json!({"service": "compute"}), hide_result = false)]
/// async fn call(host: &str) -> u32 { /* ... */ }
/// ```
///
/// # Arguments
///
/// | argument | meaning |
/// |---|---|
/// | `name = "db"` (or the string first, `#[trace("db")]`) | the point's name: notifications `db-start` and `db-stop`. Required, as in Python. |
/// | `info = <expr>` | extra start info: a `serde_json::Map<String, Value>`, a `serde_json::json!({...})` object (other JSON values are ignored), or an `Option` of those. Evaluated on each traced call, only when a profiler is current; it may read the fn's arguments. |
/// | `hide_args` / `hide_args = true` | leave the arguments out of the start info (passwords). |
/// | `hide_result = false` | put the result's `Debug` in the stop info (hidden by default). |
/// | `skip` | leave the fn untouched (mostly for methods inside `#[trace_impl]`). |
///
/// # What is recorded
///
/// Start: the user's `info` with `"function"` added last (or replacing the user's own
/// `"function"` key, as Python does):
/// `{"function": {"name": "my_crate::db::get_user", "args": "(1, \"alice\")", "kwargs": "{}"}}`.
///
/// - `name` is `module_path!()` and the fn name; for a method (a fn with a `self` receiver)
///   the type's name comes in between (`my_crate::db::Repo::get_user`), taken from `Self`
///   without its module and generic arguments. Inside `#[trace_impl]` every method, with or
///   without a receiver, gets the impl's type name.
/// - `args` prints the arguments as Python's `str(args)` prints its tuple: `()`, `(1,)`,
///   `(1, "x")`. Each argument (and `self`) prints with `Debug` when its type implements it
///   (for a generic parameter: when the fn's bounds say so), and as `<type name>` otherwise
///   (`<my_crate::Conn>`): arguments need not implement `Debug`. A parameter written as a
///   pattern (`(a, b): (u32, u32)`) is printed whole; the macro renames it in the signature
///   and destructures it at the top of the body.
/// - `kwargs` is always `"{}"`: Rust has no keyword arguments.
/// - With `hide_args`: `{"function": {"name": ...}}` only.
///
/// Stop:
/// - nothing by default;
/// - with `hide_result = false`, `{"function": {"result": "<Debug of the result>"}}` (the `Ok`
///   value for a `Result`, the whole value otherwise; `<type name>` without `Debug`);
/// - when the fn returns `Err(e)` (its return type is a `Result`):
///   `{"etype": "<type name of E>", "message": "<e's Display, else Debug, else type name>"}`,
///   as Python records a raised exception;
/// - when the body panics: `{"etype": "panic", "message": "<the panic message>"}` (the
///   message when the payload is a string, else `Box<dyn Any>`), and the panic then goes on
///   unchanged.
///
/// # Cost when profiling is off
///
/// The fn first asks whether a profiler is current (one thread-local read) and, if none is,
/// runs its body right away: nothing is formatted, allocated or caught.
///
/// # Async fns
///
/// The check happens at the future's first poll. With a profiler current there, the future
/// forks it, starts the point in the fork and keeps the fork current whenever the body is
/// polled, on whichever worker thread, so the trace follows `.await`s even in a task that
/// was spawned without `osprofiler::profiler::spawn` or `.in_current_profiler()`; traced calls
/// inside are children of this point. The point stops when the body completes (with the info
/// above). If the future is dropped before it completes (a `select!` branch that lost, a
/// timeout, an aborted task), the point stops with
/// `{"etype": "cancelled", "message": "the future was dropped before it completed"}`.
///
/// A non-async fn whose value is an `async move` block, boxed or not
/// (`Box::pin(async move { .. })`, which is what `#[async_trait]` writes), is traced the same
/// way: the block's execution, not its creation (unless one of its parameters is a
/// destructuring pattern). Any other fn returning a future is traced as a sync fn (the point
/// covers making the future).
///
/// # Kept as written
///
/// The signature (generics, where clauses, `unsafe`, `extern`, `impl Trait` in arguments and
/// return), attributes and doc comments. In the body, `return` and `?` work as before: a
/// sync body runs in a `move` closure called once, an async body in an `async move` block.
/// Errors in the body are reported at the user's code (type mismatches point at the declared
/// return type). A `-> !` fn is traced too: its point can only stop with a panic.
///
/// # Not supported (compile errors)
///
/// `const fn`, variadic fns, fns without a body, and anything that is not a fn (use
/// `#[trace_impl]` on impl blocks).
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::trace_fn(args.into(), item.into()).into()
}

/// Traces the methods of an impl block (inherent or trait impl), as Python's
/// `@profiler.trace_cls(name, info=None, hide_args=False, hide_result=True,
/// trace_private=False, trace_static_methods=False)` and `TracedMeta` do.
///
/// ```ignore
/// use osprofiler::trace_impl;
///
/// #[trace_impl(name = "rpc", hide_result = false)]
/// impl ComputeManager {
///     pub fn build_instance(&self, id: u32) -> Result<(), Error> { /* traced */ }
///     pub async fn reboot(&self, id: u32) { /* traced */ }
///     fn helper(&self) { /* private: not traced */ }
///     #[notrace]
///     pub fn hot_path(&self) { /* not traced */ }
///     #[trace(hide_args)]
///     pub fn login(&self, password: &str) { /* traced, without arguments */ }
/// }
/// ```
///
/// Each traced method gets exactly `#[trace]`'s behaviour (see [`macro@trace`]) with the
/// impl's arguments, and the name `module::Type::method`.
///
/// # Which methods
///
/// Python traces the methods whose name does not start with `_`, those starting with a
/// single `_` only with `trace_private=True`, never `__dunder__` ones, and static and class
/// methods only when asked. Here:
///
/// - **private** is a method without `pub` in an inherent impl (restricted visibility such as
///   `pub(crate)` counts as public: it is callable from other modules), or any method whose
///   name starts with `_`. Methods of a trait impl take the trait's visibility: public.
///   Private methods are traced only with `trace_private` (or `trace_private = true`).
/// - methods whose name starts with `__` are never traced;
/// - associated fns without a `self` receiver (Python's static and class methods, e.g.
///   constructors) are traced only with `trace_static_methods`;
/// - `const fn` methods are left alone;
/// - `#[notrace]` or `#[trace(skip)]` on a method leaves it alone;
/// - `#[trace(...)]` on a method traces it whatever the rules above say, its arguments taking
///   the place of the impl's ones they name (`#[trace(hide_args)]` keeps the impl's `name`).
///
/// Arguments: `name` (required), `info`, `hide_args`, `hide_result`, `trace_private`,
/// `trace_static_methods`.
#[proc_macro_attribute]
pub fn trace_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::trace_impl(args.into(), item.into()).into()
}
