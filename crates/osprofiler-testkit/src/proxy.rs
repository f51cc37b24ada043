//! A TCP proxy on loopback that a test can cut and restore: the way to take a real server
//! (a database, a broker) away from the code under test, and give it back, without
//! touching the server that other tests share.
//!
//! Plain threads, no runtime: it works the same from a `#[test]` and a `#[tokio::test]`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running proxy to one `host:port`. Dropping it cuts every connection and stops it.
#[derive(Debug)]
pub struct Proxy {
    /// Where it listens (`127.0.0.1:<free port>`).
    pub addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    up: AtomicBool,
    closed: AtomicBool,
    /// Both ends of every open connection, to cut them.
    streams: Mutex<Vec<TcpStream>>,
}

impl State {
    fn cut_all(&self) {
        for s in self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `target`
    /// (`host:port`).
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the proxy binds a free port");
        let addr = listener.local_addr().expect("the proxy has an address");
        let state = Arc::new(State::default());
        state.up.store(true, Ordering::SeqCst);
        let target: Vec<SocketAddr> = target
            .to_socket_addrs()
            .unwrap_or_else(|e| panic!("the proxy's target {target}: {e}"))
            .collect();
        let accept_state = state.clone();
        std::thread::Builder::new()
            .name("testkit-proxy".into())
            .spawn(move || accept(listener, target, accept_state))
            .expect("the proxy's thread starts");
        Proxy { addr, state }
    }

    /// The server is "gone": open connections are torn down, new ones hung up at once.
    pub fn cut(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        self.state.cut_all();
    }

    /// The server is back: new connections go through again.
    pub fn restore(&self) {
        self.state.up.store(true, Ordering::SeqCst);
    }

    /// `url` with its `host:port` `real` replaced by this proxy's address.
    pub fn route(&self, url: &str, real: &str) -> String {
        assert!(url.contains(real), "{real} is not in {url}");
        url.replacen(real, &self.addr.to_string(), 1)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accepting thread so that it sees `closed`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept(listener: TcpListener, target: Vec<SocketAddr>, state: Arc<State>) {
    for inbound in listener.incoming() {
        if state.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(inbound) = inbound else { continue };
        if !state.up.load(Ordering::SeqCst) {
            let _ = inbound.shutdown(Shutdown::Both);
            continue;
        }
        let outbound = target
            .iter()
            .find_map(|a| TcpStream::connect_timeout(a, Duration::from_secs(5)).ok());
        let Some(outbound) = outbound else {
            let _ = inbound.shutdown(Shutdown::Both);
            continue;
        };
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let (Ok(in2), Ok(out2)) = (inbound.try_clone(), outbound.try_clone()) else {
            continue;
        };
        if let (Ok(a), Ok(b)) = (inbound.try_clone(), outbound.try_clone()) {
            state
                .streams
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend([a, b]);
        }
        pipe(inbound, outbound);
        pipe(out2, in2);
    }
}

/// Copies `from` to `to` on a thread of its own until either side ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::thread::Builder::new()
        .name("testkit-proxy-pipe".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Write);
            let _ = from.shutdown(Shutdown::Read);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_cuts_and_restores() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = server.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for s in server.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = Proxy::start(&target);
        let echo = |c: &mut TcpStream| {
            c.write_all(b"ping").unwrap();
            let mut got = [0u8; 4];
            c.read_exact(&mut got).map(|()| got)
        };
        let mut c = TcpStream::connect(proxy.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(&echo(&mut c).unwrap(), b"ping");
        proxy.cut();
        assert!(echo(&mut c).is_err(), "a cut connection carries nothing");
        let mut refused = TcpStream::connect(proxy.addr).unwrap();
        refused
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(echo(&mut refused).is_err(), "a new connection is hung up");
        proxy.restore();
        let mut again = TcpStream::connect(proxy.addr).unwrap();
        again
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(&echo(&mut again).unwrap(), b"ping");
        assert_eq!(
            proxy.route("postgresql://u@127.0.0.1:5432/db", "127.0.0.1:5432"),
            format!("postgresql://u@{}/db", proxy.addr)
        );
    }
}
