//! Carrying the current profiler into new tasks and threads.
//!
//! Python's thread-local means a new thread starts unprofiled; an OpenStack service passes the
//! trace on explicitly. These helpers do it in one call: the new task or thread gets a fork of
//! the profiler current at the call, so its points are children of the point open here.

use super::{enter, get, Profiler};

/// Spawns a thread that runs `f` with a fork of the current profiler.
pub fn spawn_thread<F, T>(f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let profiler = get();
    std::thread::spawn(move || with_profiler(profiler, f))
}

/// Runs `f` with `profiler` as the current one, then restores the previous profiler.
pub fn with_profiler<T>(profiler: Option<Profiler>, f: impl FnOnce() -> T) -> T {
    let mut slot = profiler;
    let _entered = enter(&mut slot);
    f()
}

/// Spawns a tokio task that runs with a fork of the current profiler.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    use super::ProfilerExt;
    tokio::spawn(future.in_current_profiler())
}

/// Runs blocking work on tokio's blocking pool with a fork of the current profiler.
pub fn spawn_blocking<F, T>(f: F) -> tokio::task::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let profiler = get();
    tokio::task::spawn_blocking(move || with_profiler(profiler, f))
}
