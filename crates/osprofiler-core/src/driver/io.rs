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

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A current-thread runtime driven by a named thread until this is dropped.
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
}

impl Drop for IoThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Not joined when dropped on the I/O thread itself (the last `Arc` released there).
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
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
}
