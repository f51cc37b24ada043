//! The SQL driver's own I/O thread.
//!
//! Why: a sqlx connection to a server is a socket registered with the tokio runtime that
//! opened it. The driver is made on one runtime (a service's, the CLI's) and written to from
//! another (the notifier's worker blocks on its own small runtime between batches): a
//! connection opened on either would stall while that runtime is idle, or die with it. So the
//! pool lives on one thread of its own where every call runs; callers on any runtime await
//! the result.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A current-thread runtime driven by a thread (`osprofiler-sql`) until this is dropped.
#[derive(Debug)]
pub(super) struct IoThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    /// Starts the thread.
    pub(super) fn start() -> std::io::Result<IoThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("osprofiler-sql".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Tasks still running (a call whose caller gave up) are dropped here.
                runtime.shutdown_background();
            })?;
        Ok(IoThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `fut` on the I/O thread and waits for it from whatever runtime the caller is on.
    /// `Err` when the thread is gone (a panic in the task, or shutdown).
    pub(super) async fn run<T, F>(&self, fut: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        match self.handle.spawn(fut).await {
            Ok(v) => Ok(v),
            Err(e) if e.is_panic() => Err("the SQL driver's task panicked".to_owned()),
            Err(_) => Err("the SQL driver is shut down".to_owned()),
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
        let io = IoThread::start().unwrap();
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
