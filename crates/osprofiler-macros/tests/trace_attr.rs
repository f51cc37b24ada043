//! Behaviour of `#[trace]` and `#[trace_impl]`: the exact points, infos and parent ids they
//! record (Python's `@profiler.trace` / `trace_cls`), for sync fns, methods and async fns.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use osprofiler::notifier::CollectingNotifier;
use osprofiler::{profiler, trace, trace_impl, Notification, Profiler, ProfilerExt};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Helpers

fn new_profiler() -> (Arc<CollectingNotifier>, Profiler) {
    let points = Arc::new(CollectingNotifier::new());
    let p = Profiler::with_notifier("SECRET_KEY", None, None, points.clone());
    (points, p)
}

/// Runs `f` on this thread with a fresh profiler current; returns what it recorded.
fn recorded(f: impl FnOnce()) -> Vec<Notification> {
    let (points, p) = new_profiler();
    profiler::set_current(Some(p));
    f();
    profiler::clean();
    points.notifications()
}

fn names(ns: &[Notification]) -> Vec<&str> {
    ns.iter().map(|n| n.name.as_str()).collect()
}

/// `info` without `host`, checking that `host` is there and last (as Python adds it).
fn info(n: &Notification) -> Value {
    let mut info = n.info.clone();
    assert_eq!(info.keys().next_back().map(String::as_str), Some("host"));
    assert_eq!(
        info.shift_remove("host"),
        Some(Value::from(osprofiler::hostname()))
    );
    Value::Object(info)
}

fn function_name(n: &Notification) -> &str {
    n.info["function"]["name"].as_str().expect("function.name")
}

// ---------------------------------------------------------------------------------------
// Sync fns

#[derive(Debug)]
struct DbError(u32);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no user {}", self.0)
    }
}

impl std::error::Error for DbError {}

#[derive(Debug)]
struct OnlyDebugError;

/// A type without `Debug`.
struct Conn;

mod db {
    use super::*;

    /// Doc comments and other attributes stay.
    #[trace(name = "db")]
    #[must_use]
    pub fn get_user(id: u64, name: &str) -> String {
        format!("{id}:{name}")
    }

    #[trace("db", hide_result = false)]
    pub fn one(id: u64) -> Result<u64, DbError> {
        if id == 0 {
            return Err(DbError(0));
        }
        Ok(id * 2)
    }
}

#[trace(name = "noargs", hide_result = false)]
fn no_args() {}

#[trace(name = "info", info = json!({"db": {"table": "users"}, "function": "replaced"}))]
fn with_info(id: u8) -> u8 {
    id
}

#[trace(name = "info", info = { let mut m = serde_json::Map::new(); m.insert("id".into(), id.into()); m })]
fn info_from_args(id: u8) -> u8 {
    id
}

#[trace(name = "secret", hide_args, hide_result = false)]
fn login(_user: &str, password: &str) -> usize {
    password.len()
}

#[trace(name = "db")]
fn only_debug_error() -> Result<(), OnlyDebugError> {
    Err(OnlyDebugError)
}

#[trace(name = "db", hide_result = false)]
fn not_debug(conn: Conn, n: u8) -> Conn {
    let _ = n;
    conn
}

#[trace(name = "db", hide_result = false)]
fn patterns((a, b): (u32, u32), _: u8, [c, ..]: [u8; 2]) -> u32 {
    a + b + u32::from(c)
}

#[trace(name = "db")]
fn generic<T: fmt::Debug, U>(t: T, u: U) -> usize {
    let _ = (t, u);
    2
}

#[trace(name = "boom")]
fn panics(n: u32) -> u32 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[trace(name = "parse", hide_result = false)]
fn question_mark(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    Ok(n)
}

#[trace(name = "iter", hide_result = false)]
fn evens(n: u32) -> impl Iterator<Item = u32> {
    (0..n).filter(|x| x % 2 == 0)
}

#[trace(name = "unsafe")]
unsafe fn read_raw(p: *const u8) -> u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *p }
}

#[trace(name = "ffi")]
extern "C" fn ffi_add(a: i32, b: i32) -> i32 {
    #![allow(clippy::needless_return)]
    return a + b;
}

#[trace(name = "outer")]
fn outer() -> u32 {
    inner(1) + inner(2)
}

#[trace(name = "inner")]
fn inner(n: u32) -> u32 {
    n
}

#[trace(name = "never")]
fn never_returns(msg: &str) -> ! {
    panic!("{msg}")
}

#[test]
fn sync_fn_records_pythons_infos() {
    let ns = recorded(|| assert_eq!(db::get_user(1, "alice"), "1:alice"));
    assert_eq!(names(&ns), ["db-start", "db-stop"]);
    assert_eq!(
        info(&ns[0]),
        json!({"function": {
            "name": "trace_attr::db::get_user",
            "args": "(1, \"alice\")",
            "kwargs": "{}"
        }})
    );
    // "function" keys in Python's order.
    let function = ns[0].info["function"].as_object().unwrap();
    assert_eq!(
        function.keys().collect::<Vec<_>>(),
        ["name", "args", "kwargs"]
    );
    // No result by default (hide_result = true).
    assert_eq!(info(&ns[1]), json!({}));
    assert_eq!(ns[0].trace_id, ns[1].trace_id);
    assert_eq!(ns[0].parent_id, ns[0].base_id);
}

#[test]
fn args_print_as_a_python_tuple() {
    let ns = recorded(|| {
        db::one(3).unwrap();
        no_args();
        patterns((1, 2), 3, [4, 5]);
        generic(1u8, 2u16);
        not_debug(Conn, 7);
    });
    let args: Vec<&str> = ns
        .iter()
        .filter(|n| n.name.ends_with("-start"))
        .map(|n| n.info["function"]["args"].as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "(3,)",
            "()",
            "((1, 2), 3, [4, 5])",
            // `U` has no `Debug` bound: its type name.
            "(1, <u16>)",
            "(<trace_attr::Conn>, 7)",
        ]
    );
}

#[test]
fn result_is_recorded_when_asked() {
    let ns = recorded(|| {
        db::one(3).unwrap();
        no_args();
        not_debug(Conn, 1);
        patterns((1, 2), 3, [4, 5]);
        assert_eq!(login("bob", "hunter2"), 7);
        assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    });
    let stops: Vec<Value> = ns
        .iter()
        .filter(|n| n.name.ends_with("-stop"))
        .map(info)
        .collect();
    assert_eq!(
        stops[0],
        json!({"function": {"result": "6"}}),
        "the Ok value"
    );
    assert_eq!(stops[1], json!({"function": {"result": "()"}}));
    assert_eq!(
        stops[2],
        json!({"function": {"result": "<trace_attr::Conn>"}})
    );
    assert_eq!(stops[3], json!({"function": {"result": "7"}}));
    assert_eq!(stops[4], json!({"function": {"result": "7"}}));
    // An `impl Iterator` return prints with its hidden type's `Debug`.
    assert_eq!(
        stops[5],
        json!({"function": {"result": "Filter { iter: 0..5 }"}})
    );
}

#[test]
fn user_info_comes_first_and_function_replaces_its_key() {
    let ns = recorded(|| {
        with_info(1);
        info_from_args(9);
    });
    let start = &ns[0];
    assert_eq!(
        start.info.keys().collect::<Vec<_>>(),
        ["db", "function", "host"]
    );
    assert_eq!(
        info(start),
        json!({
            "db": {"table": "users"},
            "function": {"name": "trace_attr::with_info", "args": "(1,)", "kwargs": "{}"}
        })
    );
    assert_eq!(ns[2].info["id"], json!(9));
}

#[test]
fn hide_args_keeps_only_the_name() {
    let ns = recorded(|| {
        login("bob", "hunter2");
    });
    assert_eq!(names(&ns), ["secret-start", "secret-stop"]);
    assert_eq!(
        info(&ns[0]),
        json!({"function": {"name": "trace_attr::login"}})
    );
}

#[test]
fn err_is_recorded_as_pythons_exception() {
    let ns = recorded(|| {
        assert!(db::one(0).is_err());
        assert!(only_debug_error().is_err());
        assert!(question_mark("x").is_err());
        assert_eq!(question_mark("").unwrap(), 0);
        assert_eq!(question_mark("12").unwrap(), 12);
    });
    let stops: Vec<Value> = ns
        .iter()
        .filter(|n| n.name.ends_with("-stop"))
        .map(info)
        .collect();
    assert_eq!(
        stops[0],
        json!({"etype": "trace_attr::DbError", "message": "no user 0"})
    );
    assert_eq!(
        stops[1],
        json!({"etype": "trace_attr::OnlyDebugError", "message": "OnlyDebugError"})
    );
    assert_eq!(
        stops[2],
        json!({
            "etype": "alloc::boxed::Box<dyn core::error::Error>",
            "message": "invalid digit found in string"
        })
    );
    assert_eq!(stops[3], json!({"function": {"result": "0"}}));
    assert_eq!(stops[4], json!({"function": {"result": "12"}}));
    assert!(ns[5].is_error() && !ns[7].is_error());
}

#[test]
fn panic_is_recorded_and_goes_on() {
    let (points, p) = new_profiler();
    profiler::set_current(Some(p));
    let caught = std::panic::catch_unwind(|| panics(7));
    let payload = caught.expect_err("the panic goes on");
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 7");
    // The profiler is still current and its stack is clean.
    assert_eq!(profiler::get().unwrap().depth(), 0);
    assert_eq!(panics(0), 0);
    profiler::clean();
    let ns = points.notifications();
    assert_eq!(
        names(&ns),
        ["boom-start", "boom-stop", "boom-start", "boom-stop"]
    );
    assert_eq!(info(&ns[1]), json!({"etype": "panic", "message": "boom 7"}));
    assert_eq!(info(&ns[3]), json!({}));
}

#[test]
fn nested_calls_get_the_right_parents() {
    let ns = recorded(|| assert_eq!(outer(), 3));
    assert_eq!(
        names(&ns),
        [
            "outer-start",
            "inner-start",
            "inner-stop",
            "inner-start",
            "inner-stop",
            "outer-stop"
        ]
    );
    let outer_id = &ns[0].trace_id;
    assert_eq!(&ns[0].parent_id, &ns[0].base_id);
    for n in &ns[1..5] {
        assert_eq!(&n.parent_id, outer_id);
        assert_ne!(&n.trace_id, outer_id);
    }
    assert_ne!(ns[1].trace_id, ns[3].trace_id);
}

#[test]
fn unsafe_and_extern_fns_keep_their_signature() {
    let x = 42u8;
    let f: unsafe fn(*const u8) -> u8 = read_raw;
    let g: extern "C" fn(i32, i32) -> i32 = ffi_add;
    let ns = recorded(|| {
        // SAFETY: `x` is a live u8.
        assert_eq!(unsafe { f(&x) }, 42);
        assert_eq!(g(1, 2), 3);
    });
    assert_eq!(
        names(&ns),
        ["unsafe-start", "unsafe-stop", "ffi-start", "ffi-stop"]
    );
}

#[test]
fn never_returning_fn_records_its_panic() {
    let ns = recorded(|| {
        let caught = std::panic::catch_unwind(|| never_returns("gave up"));
        assert!(caught.is_err());
    });
    assert_eq!(names(&ns), ["never-start", "never-stop"]);
    assert_eq!(
        info(&ns[1]),
        json!({"etype": "panic", "message": "gave up"})
    );
}

#[test]
fn nothing_is_recorded_without_a_profiler() {
    let (points, p) = new_profiler();
    profiler::set_current(Some(p));
    profiler::clean();
    assert!(!profiler::is_active());
    assert_eq!(db::get_user(1, "a"), "1:a");
    assert_eq!(outer(), 3);
    assert!(db::one(0).is_err());
    assert!(std::panic::catch_unwind(|| panics(1)).is_err());
    let repo = Repo { name: "r".into() };
    assert_eq!(repo.get(2), 2);
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(async_leaf(5).await, 5);
    });
    assert!(points.points().is_empty());
}

// ---------------------------------------------------------------------------------------
// Methods

#[derive(Debug)]
struct Repo {
    name: String,
}

impl Repo {
    #[trace(name = "db", hide_result = false)]
    pub fn get(&self, id: u32) -> u32 {
        id
    }

    #[trace(name = "db")]
    pub fn name_mut(&mut self) -> &mut String {
        &mut self.name
    }

    #[trace(name = "db")]
    pub fn into_name(self: Box<Self>) -> String {
        self.name
    }

    #[trace(name = "db")]
    pub fn consume(mut self, suffix: &str) -> String {
        self.name.push_str(suffix);
        self.name
    }
}

struct Opaque;

impl Opaque {
    #[trace(name = "db")]
    fn poke(&self) {}
}

#[test]
fn methods_are_named_after_their_type_and_print_self() {
    let ns = recorded(|| {
        let mut repo = Repo { name: "r".into() };
        assert_eq!(repo.get(5), 5);
        repo.name_mut().push('!');
        assert_eq!(repo.name, "r!");
        assert_eq!(Box::new(Repo { name: "b".into() }).into_name(), "b");
        assert_eq!(repo.consume("?"), "r!?");
        Opaque.poke();
    });
    let starts: Vec<(&str, &str)> = ns
        .iter()
        .filter(|n| n.name.ends_with("-start"))
        .map(|n| {
            (
                function_name(n),
                n.info["function"]["args"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        starts,
        [
            ("trace_attr::Repo::get", "(Repo { name: \"r\" }, 5)"),
            ("trace_attr::Repo::name_mut", "(Repo { name: \"r\" },)"),
            ("trace_attr::Repo::into_name", "(Repo { name: \"b\" },)"),
            (
                "trace_attr::Repo::consume",
                "(Repo { name: \"r!\" }, \"?\")"
            ),
            ("trace_attr::Opaque::poke", "(<trace_attr::Opaque>,)"),
        ]
    );
    assert_eq!(info(&ns[1]), json!({"function": {"result": "5"}}));
}

// ---------------------------------------------------------------------------------------
// trace_impl

#[derive(Debug, Default)]
struct Manager {
    calls: u32,
}

#[trace_impl(name = "rpc")]
impl Manager {
    pub fn new() -> Self {
        Manager::default()
    }

    pub fn public(&mut self, n: u32) -> u32 {
        self.calls += 1;
        self.private(n)
    }

    pub(crate) fn crate_visible(&self) {}

    fn private(&self, n: u32) -> u32 {
        n
    }

    pub fn _underscore(&self) {}

    pub fn __dunder(&self) {}

    #[notrace]
    pub fn not_traced(&self) {}

    #[trace(skip)]
    pub fn skipped(&self) {}

    #[trace(hide_args, hide_result = false)]
    pub fn overridden(&self, _password: &str) -> u8 {
        1
    }

    #[trace(name = "db")]
    fn private_opt_in(&self) {}

    pub const fn constant(&self) -> u8 {
        3
    }

    pub async fn later(&self, n: u32) -> u32 {
        tokio::task::yield_now().await;
        n
    }
}

#[derive(Debug)]
struct Worker;

#[trace_impl(name = "driver", trace_private, trace_static_methods, hide_args)]
impl Worker {
    fn private(&self) {}
    fn _underscore(&self) {}
    fn __dunder(&self) {}
    fn make() -> Self {
        Worker
    }
}

trait Service {
    fn handle(&self, req: u32) -> u32;
    fn _hidden(&self) {}
    fn create() -> Self;
    async fn handle_async(&self, req: u32) -> u32;
}

#[trace_impl(name = "wsgi", hide_result = false)]
impl Service for Worker {
    fn handle(&self, req: u32) -> u32 {
        req + 1
    }
    fn _hidden(&self) {}
    fn create() -> Self {
        Worker
    }
    async fn handle_async(&self, req: u32) -> u32 {
        tokio::task::yield_now().await;
        self.handle(req)
    }
}

#[test]
fn trace_impl_traces_pythons_choice_of_methods() {
    let ns = recorded(|| {
        let mut m = Manager::new();
        assert_eq!(m.public(4), 4);
        m.crate_visible();
        m._underscore();
        m.__dunder();
        m.not_traced();
        m.skipped();
        assert_eq!(m.overridden("pw"), 1);
        m.private_opt_in();
        assert_eq!(m.constant(), 3);
    });
    let starts: Vec<(&str, &str)> = ns
        .iter()
        .filter(|n| n.name.ends_with("-start"))
        .map(|n| (n.name.as_str(), function_name(n)))
        .collect();
    assert_eq!(
        starts,
        [
            ("rpc-start", "trace_attr::Manager::public"),
            ("rpc-start", "trace_attr::Manager::crate_visible"),
            ("rpc-start", "trace_attr::Manager::overridden"),
            ("db-start", "trace_attr::Manager::private_opt_in"),
        ]
    );
    assert_eq!(
        info(&ns[0]),
        json!({"function": {
            "name": "trace_attr::Manager::public",
            "args": "(Manager { calls: 0 }, 4)",
            "kwargs": "{}"
        }})
    );
    // The override: impl's name, its own hide_args / hide_result.
    assert_eq!(
        info(&ns[4]),
        json!({"function": {"name": "trace_attr::Manager::overridden"}})
    );
    assert_eq!(info(&ns[5]), json!({"function": {"result": "1"}}));
}

#[test]
fn trace_impl_private_and_static_when_asked() {
    let ns = recorded(|| {
        let w = Worker::make();
        w.private();
        w._underscore();
        w.__dunder();
    });
    let starts: Vec<&str> = ns
        .iter()
        .filter(|n| n.name.ends_with("-start"))
        .map(function_name)
        .collect();
    assert_eq!(
        starts,
        [
            "trace_attr::Worker::make",
            "trace_attr::Worker::private",
            "trace_attr::Worker::_underscore",
        ]
    );
}

#[test]
fn trace_impl_on_a_trait_impl() {
    let ns = recorded(|| {
        let w = <Worker as Service>::create();
        assert_eq!(w.handle(1), 2);
        w._hidden();
    });
    assert_eq!(names(&ns), ["wsgi-start", "wsgi-stop"]);
    assert_eq!(
        info(&ns[0]),
        json!({"function": {
            "name": "trace_attr::Worker::handle",
            "args": "(Worker, 1)",
            "kwargs": "{}"
        }})
    );
    assert_eq!(info(&ns[1]), json!({"function": {"result": "2"}}));
}

// ---------------------------------------------------------------------------------------
// Async fns

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[trace(name = "leaf", hide_result = false)]
async fn async_leaf(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[trace(name = "mid")]
async fn async_mid(n: u32) -> Result<u32, DbError> {
    let a = async_leaf(n).await;
    tokio::task::yield_now().await;
    let b = async_leaf(n + 1).await;
    if n == 0 {
        return Err(DbError(n));
    }
    Ok(a + b + inner(0))
}

#[trace(name = "top")]
async fn async_top() -> u32 {
    let mut total = 0;
    for n in 1..=3 {
        tokio::task::yield_now().await;
        total += async_mid(n).await.unwrap();
    }
    let (x, y) = tokio::join!(async_leaf(10), async_leaf(20));
    total + x + y
}

#[trace(name = "boom")]
async fn async_panics(n: u32) -> u32 {
    tokio::task::yield_now().await;
    if n > 0 {
        panic!("async boom {n}");
    }
    n
}

#[trace(name = "slow")]
async fn async_slow() {
    async_leaf(1).await;
    std::future::pending::<()>().await;
}

/// A hand-written `-> impl Future` returning an `async move` block: traced when it runs.
#[trace(name = "handmade")]
fn handmade(n: u32) -> impl Future<Output = u32> {
    let doubled = n * 2;
    async move {
        tokio::task::yield_now().await;
        async_leaf(doubled).await
    }
}

#[test]
fn a_returned_async_block_is_traced_when_it_runs() {
    let rt = runtime();
    let (points, p) = new_profiler();
    // Made without a profiler, run with one: the point belongs to the run.
    let fut = handmade(2);
    assert_eq!(rt.block_on(fut.with_profiler(Some(p))), 4);
    let ns = points.notifications();
    assert_eq!(
        names(&ns),
        ["handmade-start", "leaf-start", "leaf-stop", "handmade-stop"]
    );
    assert_eq!(function_name(&ns[0]), "trace_attr::handmade");
    assert_eq!(ns[0].info["function"]["args"], "(2,)");
    assert_eq!(ns[1].parent_id, ns[0].trace_id);
}

/// Checks the tree of a trace: every point's parent is `parent_of(point)`.
fn check_tree(ns: &[Notification], expect: &[(&str, Option<&str>)]) {
    // Each point's start names its parent; map trace ids to names.
    let mut by_id = std::collections::HashMap::new();
    for n in ns {
        by_id.insert(
            n.trace_id.clone(),
            n.name
                .trim_end_matches("-start")
                .trim_end_matches("-stop")
                .to_owned(),
        );
    }
    let starts: Vec<(String, Option<String>)> = ns
        .iter()
        .filter(|n| n.name.ends_with("-start"))
        .map(|n| {
            (
                n.name.trim_end_matches("-start").to_owned(),
                by_id.get(&n.parent_id).cloned(),
            )
        })
        .collect();
    let expect: Vec<(String, Option<String>)> = expect
        .iter()
        .map(|(a, b)| ((*a).to_owned(), b.map(str::to_owned)))
        .collect();
    assert_eq!(starts, expect);
    // Every point started is stopped, with the start's parent.
    for n in ns.iter().filter(|n| n.name.ends_with("-start")) {
        let stop = ns
            .iter()
            .find(|s| s.name.ends_with("-stop") && s.trace_id == n.trace_id)
            .expect("a stop for each start");
        assert_eq!(stop.parent_id, n.parent_id);
    }
}

#[test]
fn async_fns_follow_the_trace_across_awaits_and_workers() {
    let rt = runtime();
    let (points, p) = new_profiler();
    let total = rt
        .block_on(async { tokio::spawn(async_top().with_profiler(Some(p))).await })
        .unwrap();
    assert_eq!(total, 1 + 2 + 2 + 3 + 3 + 4 + 30);
    let ns = points.notifications();
    assert_eq!(ns.len(), 2 * (1 + 3 * 4 + 2));
    let mut expect = vec![("top", None)];
    for _ in 0..3 {
        expect.extend([
            ("mid", Some("top")),
            ("leaf", Some("mid")),
            ("leaf", Some("mid")),
            ("inner", Some("mid")),
        ]);
    }
    expect.extend([("leaf", Some("top")), ("leaf", Some("top"))]);
    check_tree(&ns, &expect);
    assert_eq!(ns.last().unwrap().name, "top-stop");
    let leaf_stop = ns.iter().find(|n| n.name == "leaf-stop").unwrap();
    assert_eq!(info(leaf_stop), json!({"function": {"result": "1"}}));
    // Workers are left without a profiler.
    let leaked = rt.block_on(async { tokio::spawn(async { profiler::is_active() }).await });
    assert!(!leaked.unwrap());
}

#[test]
fn async_trace_starts_at_first_poll_and_needs_no_wrapped_task() {
    let rt = runtime();
    let (points, p) = new_profiler();
    // First poll here, with the profiler current on this thread...
    profiler::set_current(Some(p));
    let mut fut = Box::pin(async_top());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    profiler::clean();
    // ... then the rest on the runtime's workers, in a task with no profiler of its own.
    let total = rt.block_on(async { tokio::spawn(fut).await }).unwrap();
    assert_eq!(total, 45);
    let ns = points.notifications();
    assert_eq!(names(&ns).first(), Some(&"top-start"));
    assert_eq!(ns.len(), 2 * 15);
    assert_eq!(
        ns.iter()
            .filter(|n| function_name_opt(n) == Some("trace_attr::async_leaf"))
            .count(),
        8
    );
    let top = &ns[0].trace_id;
    assert_eq!(
        ns.iter()
            .filter(|n| n.name == "mid-start" && &n.parent_id == top)
            .count(),
        3
    );
}

fn function_name_opt(n: &Notification) -> Option<&str> {
    n.info.get("function")?.get("name")?.as_str()
}

#[test]
fn async_unprofiled_at_first_poll_is_not_traced() {
    let rt = runtime();
    let (points, p) = new_profiler();
    let fut = async_top();
    // The profiler becomes current only after the first poll: too late for `top`, whose
    // point would have started then; the calls it makes later are traced (at the top level).
    let total = rt.block_on(async move {
        let mut fut = pin!(fut);
        std::future::poll_fn(|cx| {
            assert!(fut.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        fut.with_profiler(Some(p)).await
    });
    assert_eq!(total, 45);
    let ns = points.notifications();
    assert!(!names(&ns).contains(&"top-start"));
    let mids: Vec<&Notification> = ns.iter().filter(|n| n.name == "mid-start").collect();
    assert_eq!(mids.len(), 3);
    assert!(mids.iter().all(|n| n.parent_id == n.base_id));
}

#[test]
fn async_err_and_panic_are_recorded() {
    let rt = runtime();
    let (points, p) = new_profiler();
    let result = rt.block_on(async_mid(0).with_profiler(Some(p.clone())));
    assert!(result.is_err());
    let ns = points.take();
    let stop = ns
        .last()
        .unwrap()
        .clone()
        .into_notification("h", None, None);
    assert_eq!(stop.name, "mid-stop");
    assert_eq!(
        Value::Object(stop.info),
        json!({"etype": "trace_attr::DbError", "message": "no user 0", "host": "h"})
    );

    let joined =
        rt.block_on(async move { tokio::spawn(async_panics(3).with_profiler(Some(p))).await });
    let payload = joined.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "async boom 3");
    let ns = points.notifications();
    assert_eq!(names(&ns), ["boom-start", "boom-stop"]);
    assert_eq!(
        info(&ns[1]),
        json!({"etype": "panic", "message": "async boom 3"})
    );
}

#[test]
fn async_dropped_before_completion_is_cancelled() {
    let rt = runtime();
    let (points, p) = new_profiler();
    rt.block_on(
        async {
            let r = tokio::time::timeout(std::time::Duration::from_millis(20), async_slow()).await;
            assert!(r.is_err());
            // The caller's context is untouched.
            assert_eq!(profiler::get().unwrap().depth(), 0);
        }
        .with_profiler(Some(p)),
    );
    let ns = points.notifications();
    assert_eq!(
        names(&ns),
        ["slow-start", "leaf-start", "leaf-stop", "slow-stop"]
    );
    assert_eq!(ns[1].parent_id, ns[0].trace_id);
    assert_eq!(
        info(&ns[3]),
        json!({"etype": "cancelled", "message": "the future was dropped before it completed"})
    );
}

#[test]
fn async_methods_in_impls_and_trait_impls() {
    let rt = runtime();
    let (points, p) = new_profiler();
    let (a, b) = rt.block_on(
        async {
            let m = Manager::new();
            let a = m.later(3).await;
            let b = Worker.handle_async(4).await;
            (a, b)
        }
        .with_profiler(Some(p)),
    );
    assert_eq!((a, b), (3, 5));
    let ns = points.notifications();
    assert_eq!(
        names(&ns),
        [
            "rpc-start",
            "rpc-stop",
            "wsgi-start",
            "wsgi-start",
            "wsgi-stop",
            "wsgi-stop"
        ]
    );
    assert_eq!(function_name(&ns[0]), "trace_attr::Manager::later");
    assert_eq!(function_name(&ns[2]), "trace_attr::Worker::handle_async");
    assert_eq!(ns[3].parent_id, ns[2].trace_id);
    assert_eq!(info(&ns[5]), json!({"function": {"result": "5"}}));
}

// `#[async_trait]`: either order of the attributes.

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: u32) -> Result<u32, DbError>;
    async fn save(&self, key: u32);
}

#[derive(Debug)]
struct Sql;

#[trace_impl(name = "db", hide_result = false)]
#[async_trait::async_trait]
impl Store for Sql {
    async fn load(&self, key: u32) -> Result<u32, DbError> {
        tokio::task::yield_now().await;
        if key == 0 {
            return Err(DbError(0));
        }
        Ok(key)
    }
    async fn save(&self, key: u32) {
        let _ = self.load(key).await;
    }
}

#[derive(Debug)]
struct Kv;

#[async_trait::async_trait]
#[trace_impl(name = "kv")]
impl Store for Kv {
    async fn load(&self, key: u32) -> Result<u32, DbError> {
        tokio::task::yield_now().await;
        Err(DbError(key))
    }
    #[notrace]
    async fn save(&self, _key: u32) {}
}

#[test]
fn async_trait_methods_are_traced() {
    let rt = runtime();
    let (points, p) = new_profiler();
    rt.block_on(
        async {
            Sql.save(2).await;
            assert!(Sql.load(0).await.is_err());
            assert!(Kv.load(7).await.is_err());
            Kv.save(1).await;
        }
        .with_profiler(Some(p)),
    );
    let ns = points.notifications();
    assert_eq!(
        names(&ns),
        [
            "db-start", "db-start", "db-stop", "db-stop", "db-start", "db-stop", "kv-start",
            "kv-stop"
        ]
    );
    assert_eq!(
        info(&ns[0]),
        json!({"function": {"name": "trace_attr::Sql::save", "args": "(Sql, 2)", "kwargs": "{}"}})
    );
    assert_eq!(ns[1].parent_id, ns[0].trace_id);
    assert_eq!(info(&ns[2]), json!({"function": {"result": "2"}}));
    assert_eq!(
        info(&ns[5]),
        json!({"etype": "trace_attr::DbError", "message": "no user 0"})
    );
    assert_eq!(function_name(&ns[6]), "trace_attr::Kv::load");
    assert_eq!(
        info(&ns[7]),
        json!({"etype": "trace_attr::DbError", "message": "no user 7"})
    );
}
