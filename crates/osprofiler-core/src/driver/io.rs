//! A driver's own I/O thread, shared by every store that talks to a server (SQL, Redis,
//! messaging).
//!
//! Why: a connection to a server is a socket registered with the tokio runtime that opened
//! it. A driver is made on one runtime (a service's, the CLI's) and written to from another
//! (the notifier's worker blocks on its own small runtime between batches): a connection
//! opened on either would stall while that runtime is idle, or die with it. So the driver's
//! connections live on one thread of its own where every call runs; callers on any runtime
//! await the result. See `docs/architecture.md`.

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A current-thread runtime driven by a named thread until this is dropped.
///
/// Dropping it stops the thread: tasks still running (a call whose caller gave up) are
/// dropped, and the drop waits for the thread to end (at most the rest of one task's poll),
/// unless it happens on the I/O thread itself. It never panics inside a runtime, so a
/// driver may be dropped anywhere. The runtime has tokio's time and (where the driver's
/// client library enables tokio's `net`) I/O drivers.
#[derive(Debug)]
pub struct IoThread {
    name: String,
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    /// Starts the thread, named `name` (`osprofiler-sql`, `osprofiler-redis`, ...).
    pub fn start(name: &str) -> std::io::Result<IoThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Tasks still running (a call whose caller gave up) are dropped here.
                runtime.shutdown_background();
            })?;
        Ok(IoThread {
            name: name.to_owned(),
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `fut` on the I/O thread and waits for it from whatever runtime the caller is on.
    /// `Err` when the thread is gone (a panic in the task, or shutdown).
    pub async fn run<T, F>(&self, fut: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        match self.handle.spawn(fut).await {
            Ok(v) => Ok(v),
            Err(e) if e.is_panic() => Err(format!("the driver's task panicked ({})", self.name)),
            Err(_) => Err(format!("the driver is shut down ({})", self.name)),
        }
    }

    /// Runs `fut` on the I/O thread and blocks the calling thread until it is done, at most
    /// `limit`: for work that must end before a driver is gone, from its `Drop` (closing a
    /// connection politely), on any thread, inside a runtime or not. `fut` runs on the I/O
    /// thread, never the caller's, so the wait cannot deadlock; it should bound its own
    /// time. `None` when it did not finish within `limit` (it is left running), when it
    /// panicked, or when called on the I/O thread itself (where waiting would hold up the
    /// thread `fut` needs: it is then started and not waited for).
    pub fn run_blocking<T, F>(&self, fut: F, limit: Duration) -> Option<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (done, wait) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = done.send(fut.await);
        });
        if self.is_current() {
            return None;
        }
        wait.recv_timeout(limit).ok()
    }

    /// Whether the caller is on the I/O thread.
    fn is_current(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|t| t.thread().id() == std::thread::current().id())
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Not joined when dropped on the I/O thread itself (the last `Arc` released there).
        if !self.is_current() {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_futures_from_a_caller_without_a_runtime_of_its_own() {
        let io = IoThread::start("osprofiler-sql").unwrap();
        let caller = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let name = caller.block_on(io.run(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            std::thread::current().name().map(str::to_owned)
        }));
        assert_eq!(name.unwrap().as_deref(), Some("osprofiler-sql"));
        drop(io);
    }

    #[test]
    fn run_blocking_waits_from_inside_a_runtime_and_gives_up_at_the_limit() {
        let io = std::sync::Arc::new(IoThread::start("osprofiler-test").unwrap());
        let caller = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let on = caller.block_on(async {
            io.run_blocking(
                async { std::thread::current().name().map(str::to_owned) },
                Duration::from_secs(5),
            )
        });
        assert_eq!(on.flatten().as_deref(), Some("osprofiler-test"));
        let slow = io.run_blocking(
            async { tokio::time::sleep(Duration::from_secs(10)).await },
            Duration::from_millis(10),
        );
        assert!(slow.is_none());
        // On the I/O thread itself: started, not waited for.
        let inner = io.clone();
        let nested = io.run_blocking(
            async move { inner.run_blocking(async { 1 }, Duration::from_secs(5)) },
            Duration::from_secs(5),
        );
        assert_eq!(nested, Some(None));
        // Dropped with the slow task still running: it is dropped, the thread ends.
        let started = std::time::Instant::now();
        drop(io);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
