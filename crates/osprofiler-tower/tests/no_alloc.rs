//! An untraced request (no `X-Trace-Info`, or the layer disabled) costs the middleware a
//! header lookup and nothing else: not one heap allocation, counted with a global allocator
//! that counts this thread's allocations. (A request that carries `X-Trace-Info` pays for
//! checking it.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use osprofiler_tower::ServerTraceLayer;
use tower::{service_fn, Service};
use tower_layer::Layer;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged; the counter is a const thread-local
// `Cell` (no allocation, no destructor), so counting cannot recurse into the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Calls the service and polls its (immediately ready) future; returns the allocations made
/// in between.
fn allocations_of_one_call<S>(svc: &mut S, req: Request<()>) -> usize
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let before = allocations();
    let mut future = pin!(svc.call(req));
    let ready = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    let after = allocations();
    assert!(matches!(ready, Poll::Ready(Ok(_))));
    after - before
}

#[test]
fn an_untraced_request_allocates_nothing_in_the_middleware() {
    let inner = service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let mut svc = ServerTraceLayer::new(["k1", "k2", "k3"])
        .enabled(true)
        .layer(inner);
    let mut bare = inner;

    let plain = || {
        Request::get("/v2/servers?limit=1")
            .header("accept", "application/json")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(())
            .unwrap()
    };
    // The bare service allocates nothing either: the whole difference would be ours.
    assert_eq!(allocations_of_one_call(&mut bare, plain()), 0);
    for _ in 0..3 {
        assert_eq!(allocations_of_one_call(&mut svc, plain()), 0);
    }
    // A disabled layer does not even look at the headers.
    let mut off = ServerTraceLayer::new(["k"]).layer(inner);
    let signed = || {
        let (info, hmac) = osprofiler::signing::pack_ids("b", "p", "k");
        Request::get("/")
            .header("x-trace-info", info)
            .header("x-trace-hmac", hmac)
            .body(())
            .unwrap()
    };
    assert_eq!(allocations_of_one_call(&mut off, signed()), 0);
    // Sanity check of the counter: a traced request does allocate (its profiler, its info).
    let mut on = ServerTraceLayer::new(["k"])
        .enabled(true)
        .notifier(std::sync::Arc::new(osprofiler::notifier::NoopNotifier))
        .layer(inner);
    assert!(allocations_of_one_call(&mut on, signed()) > 0);
}
