//! Serving the collector over TLS (cargo feature `tls`): rustls with the `ring` provider.
//!
//! [`server_config`] reads a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or
//! SEC1) and checks that they go together; [`TlsListener`] wraps a bound [`TcpListener`] and is
//! an [`axum::serve::Listener`], so the router is served as over plain TCP (graceful shutdown
//! included):
//!
//! ```no_run
//! # async fn run(collector: osprofiler_collector::Collector) -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! use osprofiler_collector::tls::{server_config, TlsListener};
//!
//! let config = server_config(Path::new("collector.pem"), Path::new("collector.key"))?;
//! let tcp = tokio::net::TcpListener::bind("0.0.0.0:9411").await?;
//! axum::serve(TlsListener::new(tcp, config), collector.router()).await?;
//! # Ok(()) }
//! ```
//!
//! Handshakes run on tasks of their own (at most [`MAX_HANDSHAKES`] at once, each bounded by
//! [`HANDSHAKE_TIMEOUT`]), so a slow or silent client holds no other connection up. A
//! connection that fails its handshake (a client that does not trust the certificate, a
//! scanner) is closed and logged at debug level. A client that speaks plain HTTP to the TLS
//! port gets one plain-text answer, `400 {"error": "this port serves TLS: use https://"}`,
//! and the connection is closed.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::rustls;
pub use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The longest a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes under way at once; more connections wait in the kernel's backlog.
pub const MAX_HANDSHAKES: usize = 512;

/// The answer to plain HTTP on the TLS port.
const PLAIN_HTTP_ANSWER: &str = "{\"error\": \"this port serves TLS: use https://\"}";

/// A certificate or key that cannot be served.
#[derive(Debug)]
pub enum TlsError {
    /// The file cannot be read.
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The file holds no usable PEM section of its kind, or a broken one.
    Pem {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refuses them together (a key that is not the certificate's, an unsupported
    /// key type).
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        reason: String,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { what, path, error } => {
                write!(f, "TLS {what} {}: cannot read it: {error}", path.display())
            }
            TlsError::Pem { what, path, reason } => {
                write!(f, "TLS {what} {}: {reason}", path.display())
            }
            TlsError::Refused { cert, key, reason } => write!(
                f,
                "TLS certificate {} with key {}: {reason}",
                cert.display(),
                key.display()
            ),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The rustls `ring` provider, which every TLS config of this crate is built with (the
/// process-wide default provider is neither needed nor set). rustls 0.23.48 deprecates it
/// for lacking post-quantum key exchange; its other provider, aws-lc-rs, needs cmake and a
/// long C build, which this project keeps out.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server config for the PEM certificate chain in `cert` (the server's certificate
/// first, then its intermediates) and the PEM private key in `key`: TLS 1.2 and 1.3, no
/// client certificates, ALPN `http/1.1`. Errors name the file and what is wrong with it.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|error| TlsError::Read {
            what,
            path: path.to_owned(),
            error,
        })
    };
    let pem_error = |what: &'static str, path: &Path, reason: String| TlsError::Pem {
        what,
        path: path.to_owned(),
        reason,
    };
    let cert_pem = read("certificate", cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificate", cert, format!("not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(pem_error(
            "certificate",
            cert,
            "no PEM certificate in it (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    let key_pem = read("key", key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let reason = match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PEM private key in it (PKCS#8, PKCS#1 or SEC1: -----BEGIN PRIVATE KEY-----)"
                    .to_owned()
            }
            e => format!("not a PEM private key: {e}"),
        };
        pem_error("key", key, reason)
    })?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|e| TlsError::Refused {
            cert: cert.to_owned(),
            key: key.to_owned(),
            reason: match e {
                rustls::Error::InconsistentKeys(_) => {
                    "the key is not the certificate's (its public key differs)".to_owned()
                }
                e => e.to_string(),
            },
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener whose connections are served over TLS: an [`axum::serve::Listener`]
/// giving only connections whose handshake succeeded (see the [module docs](self)).
///
/// Dropping it stops accepting and closes the listening socket.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: io::Result<SocketAddr>,
    accepting: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Serves TLS with `config` on `listener`'s connections. Starts accepting at once, on a
    /// task of the current tokio runtime (call it inside one).
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> TlsListener {
        let local = listener.local_addr();
        let (tx, incoming) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(listener, TlsAcceptor::from(config), tx));
        TlsListener {
            incoming,
            local,
            accepting,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // The accepting task ended (it only does when the listener is dropped).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// Accepts TCP connections and hands each to a handshake task of its own.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // As axum does: out of file descriptors and the like pass; wait a little.
                tracing::warn!("osprofiler collector: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let shaken = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, tcp)).await;
            drop(permit);
            match shaken {
                Ok(Ok(stream)) => {
                    let _ = tx.send((stream, peer)).await;
                }
                Ok(Err(e)) => {
                    tracing::debug!("osprofiler collector: TLS handshake with {peer} failed: {e}")
                }
                Err(_) => tracing::debug!(
                    "osprofiler collector: TLS handshake with {peer} timed out after {}s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            }
        });
    }
}

/// One connection's handshake; plain HTTP gets its `400` here.
async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    if tcp.peek(&mut first).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before the handshake",
        ));
    }
    // Every TLS connection starts with a handshake record (content type 22).
    if first[0] != 0x16 {
        if first[0].is_ascii_uppercase() {
            answer_plain_http(tcp).await;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "plain HTTP on the TLS port (answered 400)",
            ));
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a TLS handshake",
        ));
    }
    acceptor.accept(tcp).await
}

/// Answers a plain HTTP request with `400` and closes. The request (its head and what
/// comes of its body within a moment) is read first, so the client is not reset before it
/// reads the answer.
async fn answer_plain_http(mut tcp: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    let head = async {
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), head).await;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{PLAIN_HTTP_ANSWER}",
        PLAIN_HTTP_ANSWER.len()
    );
    if tcp.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let _ = tcp.shutdown().await;
    // Drains the rest (a body) until the client closes, for a bounded time.
    let drain = async {
        let mut total = 0usize;
        while total < 16 * 1024 * 1024 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}
