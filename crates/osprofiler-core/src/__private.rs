//! Support for the code that `#[trace]` and `#[trace_impl]` generate. Not a public API: it
//! changes with the macros.
//!
//! - Formatting that works for every type, by autoref specialization (the method call picks
//!   the impl on the most references that applies): arguments and results print with `Debug`,
//!   else as `<type name>` ([`ReprDebug`], [`ReprTypeName`]); error messages with `Display`,
//!   else `Debug`, else the type name ([`MessageDisplay`], [`MessageDebug`],
//!   [`MessageTypeName`]); and `Result` outputs are told from other outputs ([`KindResult`],
//!   [`KindPlain`]).
//! - The infos Python's `@trace` records ([`start_info`], [`result_info`], [`failure_info`]).
//! - The traced call itself: [`SyncPoint`] for sync fns, [`Traced`] for async ones.
//!
//! Everything here runs only when a profiler is current, except [`is_active`] and
//! [`fn_once`].

#![allow(missing_docs)]

use std::any::Any;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use serde_json::Value;

use crate::id::TraceId;
use crate::profiler::{enter, Profiler};
use crate::Trace;

pub use crate::notification::Info;
pub use crate::profiler::is_active;

/// Returns `f`; makes the compiler type the closure as `FnOnce`, so that the user's body may
/// move out of its captures and return borrows of them (`&mut self.field`).
#[inline(always)]
pub fn fn_once<R, F: FnOnce() -> R>(f: F) -> F {
    f
}

// ---------------------------------------------------------------------------------------
// Formatting any value

/// A borrowed value to format; see the module docs.
pub struct Wrap<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> fmt::Debug for Wrap<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Wrap")
    }
}

/// `Debug` of a value, for types that implement it. Called as
/// `(&&Wrap(&value)).__osp_repr(out)`.
pub trait ReprDebug {
    fn __osp_repr(&self, out: &mut String);
}

impl<T: fmt::Debug + ?Sized> ReprDebug for &Wrap<'_, T> {
    #[inline]
    fn __osp_repr(&self, out: &mut String) {
        let _ = write!(out, "{:?}", self.0);
    }
}

/// `<type name>` for types without `Debug` (the fallback of [`ReprDebug`]).
pub trait ReprTypeName {
    fn __osp_repr(&self, out: &mut String);
}

impl<T: ?Sized> ReprTypeName for Wrap<'_, T> {
    #[inline]
    fn __osp_repr(&self, out: &mut String) {
        out.push('<');
        out.push_str(std::any::type_name::<T>());
        out.push('>');
    }
}

/// An error's message: `Display`. Called as `(&&&Wrap(&error)).__osp_message()`.
pub trait MessageDisplay {
    fn __osp_message(&self) -> String;
}

impl<T: fmt::Display + ?Sized> MessageDisplay for &&Wrap<'_, T> {
    #[inline]
    fn __osp_message(&self) -> String {
        self.0.to_string()
    }
}

/// An error's message without `Display`: `Debug`.
pub trait MessageDebug {
    fn __osp_message(&self) -> String;
}

impl<T: fmt::Debug + ?Sized> MessageDebug for &Wrap<'_, T> {
    #[inline]
    fn __osp_message(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// An error's message without `Display` or `Debug`: its type name.
pub trait MessageTypeName {
    fn __osp_message(&self) -> String;
}

impl<T: ?Sized> MessageTypeName for Wrap<'_, T> {
    #[inline]
    fn __osp_message(&self) -> String {
        std::any::type_name::<T>().to_owned()
    }
}

/// Marks a `Result` output: `Err` is a failure. Called as `(&out).__osp_kind()`.
pub trait KindResult {
    #[inline]
    fn __osp_kind(&self) -> ResultTag {
        ResultTag
    }
}

impl<T, E> KindResult for Result<T, E> {}

/// Marks any other output: always a success.
pub trait KindPlain {
    #[inline]
    fn __osp_kind(&self) -> PlainTag {
        PlainTag
    }
}

impl<T: ?Sized> KindPlain for &T {}

/// See [`KindResult`].
#[derive(Debug, Clone, Copy)]
pub struct ResultTag;

impl ResultTag {
    /// The `Ok` value or the error.
    #[inline]
    pub fn split<T, E>(self, out: &Result<T, E>) -> Result<&T, &E> {
        out.as_ref()
    }
}

/// See [`KindPlain`].
#[derive(Debug, Clone, Copy)]
pub struct PlainTag;

impl PlainTag {
    /// The value, which is never an error.
    #[inline]
    pub fn split<T: ?Sized>(self, out: &T) -> Result<&T, &std::convert::Infallible> {
        Ok(out)
    }
}

/// `std::any::type_name` of what `_value` points to.
#[inline]
pub fn type_name_of<T: ?Sized>(_value: &T) -> &'static str {
    std::any::type_name::<T>()
}

/// Writes arguments as Python's `str(args)` writes a tuple: `()`, `(1,)`, `(1, "x")`.
#[derive(Debug)]
pub struct ArgsWriter {
    out: String,
    count: usize,
}

impl ArgsWriter {
    #[inline]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let mut out = String::with_capacity(32);
        out.push('(');
        ArgsWriter { out, count: 0 }
    }

    /// Where the next argument goes.
    #[inline]
    pub fn next_arg(&mut self) -> &mut String {
        if self.count > 0 {
            self.out.push_str(", ");
        }
        self.count += 1;
        &mut self.out
    }

    /// The tuple.
    #[inline]
    pub fn finish(mut self) -> String {
        if self.count == 1 {
            self.out.push(',');
        }
        self.out.push(')');
        self.out
    }
}

/// `module::Type::method` for a method traced on its own, `Type` being `Self` without its
/// path and generic arguments.
pub fn method_name<T: ?Sized>(module: &str, method: &str) -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let ty = base.rsplit("::").next().unwrap_or(base);
    let mut s = String::with_capacity(module.len() + ty.len() + method.len() + 4);
    s.push_str(module);
    s.push_str("::");
    s.push_str(ty);
    s.push_str("::");
    s.push_str(method);
    s
}

// ---------------------------------------------------------------------------------------
// Infos

/// What `info = ...` accepts: a JSON object (a map, or a `Value` that is an object; other
/// values are ignored), or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`info` of #[trace] must be a JSON object, not `{Self}`",
    label = "expected a `serde_json::Map<String, Value>` or `serde_json::json!({{...}})`"
)]
pub trait IntoInfo {
    fn into_info(self) -> Info;
}

impl IntoInfo for Info {
    #[inline]
    fn into_info(self) -> Info {
        self
    }
}

impl IntoInfo for &Info {
    #[inline]
    fn into_info(self) -> Info {
        self.clone()
    }
}

impl IntoInfo for Value {
    #[inline]
    fn into_info(self) -> Info {
        match self {
            Value::Object(map) => map,
            _ => Info::new(),
        }
    }
}

impl IntoInfo for &Value {
    #[inline]
    fn into_info(self) -> Info {
        match self {
            Value::Object(map) => map.clone(),
            _ => Info::new(),
        }
    }
}

impl<T: IntoInfo> IntoInfo for Option<T> {
    #[inline]
    fn into_info(self) -> Info {
        self.map(IntoInfo::into_info).unwrap_or_default()
    }
}

/// The user's `info = ...` as a map.
#[inline]
pub fn into_info(info: impl IntoInfo) -> Info {
    info.into_info()
}

/// Python's start info: `info` with `"function": {"name", "args", "kwargs"}` set (`args` and
/// `kwargs` only when shown).
pub fn start_info(mut info: Info, name: impl Into<String>, args: Option<String>) -> Info {
    let mut function = Info::new();
    function.insert("name".to_owned(), Value::String(name.into()));
    if let Some(args) = args {
        function.insert("args".to_owned(), Value::String(args));
        function.insert("kwargs".to_owned(), Value::String("{}".to_owned()));
    }
    info.insert("function".to_owned(), Value::Object(function));
    info
}

/// `{"function": {"result": <repr>}}`
pub fn result_info(repr: String) -> Info {
    let mut function = Info::new();
    function.insert("result".to_owned(), Value::String(repr));
    let mut info = Info::new();
    info.insert("function".to_owned(), Value::Object(function));
    info
}

/// `{"etype": <etype>, "message": <message>}`
#[inline]
pub fn failure_info(etype: &str, message: String) -> Info {
    crate::error_info(etype, message)
}

/// The stop info of a panic: `{"etype": "panic", "message": <payload when a string>}`.
pub fn panic_info(payload: &(dyn Any + Send)) -> Info {
    let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    crate::error_info("panic", message)
}

/// The stop info of a traced future dropped before it completed: the integrations' one
/// ([`crate::propagation::cancelled_info`]).
#[inline]
pub fn cancelled_info() -> Info {
    crate::propagation::cancelled_info()
}

// ---------------------------------------------------------------------------------------
// Sync fns

/// The point of a traced sync call, started in the current profiler.
#[derive(Debug)]
pub struct SyncPoint(Option<Trace>);

impl SyncPoint {
    #[inline]
    pub fn start(name: &'static str, info: Info) -> Self {
        SyncPoint(Some(Trace::start(name, Some(info))))
    }

    /// Runs the body; if it panics, stops the point with the panic's info and lets the
    /// panic go on.
    #[inline]
    pub fn run<R>(&mut self, body: impl FnOnce() -> R) -> R {
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(out) => out,
            Err(payload) => {
                if let Some(trace) = self.0.take() {
                    trace.stop_with(panic_info(&*payload));
                }
                resume_unwind(payload)
            }
        }
    }

    /// Stops the point, with `info` when there is some.
    #[inline]
    pub fn finish(mut self, info: Option<Info>) {
        if let (Some(trace), Some(info)) = (self.0.take(), info) {
            trace.stop_with(info);
        }
        // Without info, the `Trace` (if still there) stops as it drops.
    }
}

// ---------------------------------------------------------------------------------------
// Async fns

pin_project! {
    /// The body of a traced async fn, run in a fork of the profiler that was current at its
    /// first poll, with the point open in the fork.
    ///
    /// Its output comes with a [`Stopper`] that the generated code stops the point with (the
    /// stop info depends on the output's concrete type). A panic while polling stops the
    /// point with the panic's info; dropping it before completion stops it with
    /// [`cancelled_info`]. The fork is current while the body is polled and while it is
    /// dropped, so points and guards inside it land in this trace, under this point.
    ///
    /// Not [`PointFuture`](crate::propagation::PointFuture), which the integrations share:
    /// this one forks the profiler itself when the call is made (a `PointFuture` is run
    /// inside a `Profiled` its caller set up), catches a panic to stop the point with the
    /// panic's own message, and yields the output with a [`Stopper`] because the stop info
    /// depends on the output's concrete type, known only to the generated code. A dropped
    /// call stops with the same [`cancelled_info`].
    pub struct Traced<F> {
        #[pin]
        inner: ManuallyDrop<F>,
        profiler: Option<Profiler>,
        point: Option<TraceId>,
    }

    impl<F> PinnedDrop for Traced<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            {
                let _entered = enter(this.profiler);
                // SAFETY: `inner` is pinned and never used again; dropping it in place keeps
                // the pinning guarantee.
                unsafe { ManuallyDrop::drop(this.inner.get_unchecked_mut()) };
            }
            if let (Some(id), Some(profiler)) = (this.point.take(), this.profiler.as_mut()) {
                profiler.stop_id(&id, Some(cancelled_info()));
            }
        }
    }
}

impl<F: Future> Traced<F> {
    /// Forks the current profiler and starts the point `name` in the fork.
    pub fn new(name: &'static str, info: Info, inner: F) -> Self {
        let mut profiler = crate::profiler::get();
        let point = profiler.as_mut().map(|p| {
            p.start(name, Some(info));
            p.id().clone()
        });
        Traced {
            inner: ManuallyDrop::new(inner),
            profiler,
            point,
        }
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = (F::Output, Stopper);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // SAFETY: projecting through `ManuallyDrop` keeps the future pinned where it is.
        let inner = unsafe { this.inner.map_unchecked_mut(|f| &mut **f) };
        let polled = {
            let _entered = enter(this.profiler);
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready((
                out,
                Stopper {
                    profiler: this.profiler.take(),
                    point: this.point.take(),
                },
            )),
            Err(payload) => {
                if let (Some(id), Some(profiler)) = (this.point.take(), this.profiler.as_mut()) {
                    profiler.stop_id(&id, Some(panic_info(&*payload)));
                }
                resume_unwind(payload)
            }
        }
    }
}

impl<F> fmt::Debug for Traced<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traced")
            .field("profiler", &self.profiler)
            .field("point", &self.point)
            .finish_non_exhaustive()
    }
}

/// Stops the point of a completed [`Traced`] body.
#[derive(Debug)]
pub struct Stopper {
    profiler: Option<Profiler>,
    point: Option<TraceId>,
}

impl Stopper {
    #[inline]
    pub fn finish(mut self, info: Option<Info>) {
        self.stop(info);
    }

    fn stop(&mut self, info: Option<Info>) {
        if let (Some(id), Some(profiler)) = (self.point.take(), self.profiler.as_mut()) {
            profiler.stop_id(&id, info);
        }
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        // Only when making the stop info panicked (a `Debug` impl, say).
        if self.point.is_some() {
            let info = std::thread::panicking().then(|| {
                crate::error_info("panic", "panicked while recording the result".to_owned())
            });
            self.stop(info);
        }
    }
}

#[cfg(test)]
// The extra borrows choose the autoref-specialization impl under test; removing them would
// test a different impl.
#[allow(clippy::needless_borrow, clippy::needless_borrows_for_generic_args)]
mod tests {
    use super::*;

    struct NoDebug;

    #[test]
    fn args_print_like_a_python_tuple() {
        let w = ArgsWriter::new();
        assert_eq!(w.finish(), "()");
        let mut w = ArgsWriter::new();
        (&&Wrap(&1)).__osp_repr(w.next_arg());
        assert_eq!(w.finish(), "(1,)");
        let mut w = ArgsWriter::new();
        (&&Wrap(&1)).__osp_repr(w.next_arg());
        (&&Wrap(&"x")).__osp_repr(w.next_arg());
        (&&Wrap(&NoDebug)).__osp_repr(w.next_arg());
        assert_eq!(
            w.finish(),
            "(1, \"x\", <osprofiler_core::__private::tests::NoDebug>)"
        );
    }

    #[test]
    fn messages_prefer_display_then_debug() {
        #[derive(Debug)]
        struct OnlyDebug;
        let e = std::io::Error::other("boom");
        assert_eq!((&&&Wrap(&e)).__osp_message(), "boom");
        assert_eq!((&&&Wrap(&OnlyDebug)).__osp_message(), "OnlyDebug");
        assert_eq!(
            (&&&Wrap(&NoDebug)).__osp_message(),
            "osprofiler_core::__private::tests::NoDebug"
        );
    }

    #[test]
    fn results_are_told_apart() {
        let ok: Result<u8, String> = Ok(1);
        assert_eq!((&ok).__osp_kind().split(&ok), Ok(&1));
        let err: Result<u8, String> = Err("e".into());
        assert_eq!((&err).__osp_kind().split(&err), Err(&"e".to_owned()));
        let plain = 5u8;
        assert_eq!((&plain).__osp_kind().split(&plain), Ok(&5));
    }

    #[test]
    fn method_names_drop_path_and_generics() {
        assert_eq!(
            method_name::<Vec<u8>>("my_crate::db", "push"),
            "my_crate::db::Vec::push"
        );
    }

    #[test]
    fn panic_messages() {
        let p: Box<dyn Any + Send> = Box::new("static");
        assert_eq!(panic_info(&*p)["message"], "static");
        let p: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_info(&*p)["message"], "owned");
        let p: Box<dyn Any + Send> = Box::new(5);
        assert_eq!(panic_info(&*p)["message"], "Box<dyn Any>");
        assert_eq!(panic_info(&*p)["etype"], "panic");
    }
}
