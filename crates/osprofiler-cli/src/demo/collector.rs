//! The demo's collector: `osprofiler serve`'s ([`osprofiler_collector::Collector`]) over its
//! default store, on loopback, served by a task of this process. The traces stay in that
//! store, so `osprofiler serve` shows them again after the demo.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use osprofiler::driver::mask_password;
use osprofiler_collector::{Collector, CollectorConfig};
use osprofiler_sql::store::TraceStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::serve::{default_store, DEFAULT_LISTEN};

/// How long the HTTP server may take to finish the requests under way at shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A collector serving on [`RunningCollector::addr`].
pub struct RunningCollector {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its store's connection string, password masked.
    pub store: String,
    /// Why it does not listen where asked by default (the default port was taken).
    pub fallback: Option<String>,
    traces: Arc<TraceStore>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl RunningCollector {
    /// Its base URL, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes the requests under way and closes the store.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        let served = tokio::time::timeout(STOP_TIMEOUT, self.server).await;
        self.traces.close().await;
        match served {
            Ok(Ok(result)) => result.context("the collector's HTTP server failed"),
            Ok(Err(e)) => Err(anyhow!("the collector's HTTP server task failed: {e}")),
            Err(_) => Err(anyhow!(
                "the collector's HTTP server did not stop within {STOP_TIMEOUT:?}"
            )),
        }
    }
}

/// Opens the collector's default store and serves it on `listen`; without one, on
/// [`DEFAULT_LISTEN`] (`osprofiler serve`'s), or on a free loopback port when that one is
/// taken. A store that cannot be opened, or an address given that cannot be listened on, is
/// an error.
pub async fn start(listen: Option<&str>) -> Result<RunningCollector> {
    let store_cs = default_store();
    let masked = mask_password(&store_cs);
    let traces = Arc::new(crate::serve::open_store(&store_cs).await?);
    let bound = bind(listen).await;
    let (listener, fallback) = match bound {
        Ok(b) => b,
        Err(e) => {
            traces.close().await;
            return Err(e);
        }
    };
    let addr = listener
        .local_addr()
        .context("the collector's listening address")?;
    let collector = Collector::new(traces.clone(), CollectorConfig::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, collector.router())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningCollector {
        addr,
        store: masked,
        fallback,
        traces,
        stop,
        server,
    })
}

/// The listener, and why it is not on the default address when it is not.
async fn bind(listen: Option<&str>) -> Result<(TcpListener, Option<String>)> {
    if let Some(addr) = listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        return Ok((listener, None));
    }
    match TcpListener::bind(DEFAULT_LISTEN).await {
        Ok(listener) => Ok((listener, None)),
        Err(e) => {
            let listener = TcpListener::bind("127.0.0.1:0").await.with_context(|| {
                format!("cannot listen on {DEFAULT_LISTEN} ({e}) nor on a free loopback port")
            })?;
            Ok((listener, Some(format!("{DEFAULT_LISTEN} is taken: {e}"))))
        }
    }
}
