//! A TCP proxy on loopback that a test puts between the code under test and a real server (a
//! database, a broker), to take the server away and give it back without touching the server
//! that other tests share. Three faults:
//!
//! - [`Proxy::cut`] / [`Proxy::restore`]: the server is gone (connections torn down, new ones
//!   hung up at once), then back;
//! - [`Proxy::freeze`] / [`Proxy::thaw`]: the server is silent (connections stay open, nothing
//!   more is forwarded either way, new connections are accepted but go nowhere), then answers
//!   again with everything held meanwhile, in order;
//! - [`Proxy::delay`]: a slow link that answers (every chunk, either way, held for a while).
//!
//! [`Proxy::while_frozen`] runs code on a thread of its own while the proxy stays frozen: the
//! proof, by structure rather than by the clock, that the code does not wait on the server.
//!
//! Plain threads, no runtime: it works the same from a `#[test]` and a `#[tokio::test]`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A running proxy to one `host:port`. Dropping it cuts every connection and stops it.
#[derive(Debug)]
pub struct Proxy {
    /// Where it listens (`127.0.0.1:<free port>`).
    pub addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    inner: Mutex<Inner>,
    /// Signalled on every change of `inner` that a waiting thread may care about.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Inner {
    up: bool,
    closed: bool,
    frozen: bool,
    delay: Duration,
    /// Bumped by every cut: a connection of an older epoch is dead, and so is what it held.
    epoch: u64,
    /// Both ends of every open connection, to cut them.
    streams: Vec<TcpStream>,
    /// Chunks being written right now (let through before a freeze).
    writing: usize,
    /// Bytes written to either side.
    forwarded: u64,
    /// `forwarded` when the last freeze took hold.
    forwarded_at_freeze: u64,
    /// Bytes read from either side and not yet written (or discarded by a cut).
    held: u64,
}

/// Bytes read from one side, to be written to the other no earlier than `due`.
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, Inner>) -> MutexGuard<'a, Inner> {
        self.changed.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    fn wait_for<'a>(&self, g: MutexGuard<'a, Inner>, d: Duration) -> MutexGuard<'a, Inner> {
        self.changed
            .wait_timeout(g, d)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0)
    }

    fn cut(&self) {
        let mut g = self.lock();
        g.up = false;
        g.epoch += 1;
        for s in g.streams.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        drop(g);
        self.changed.notify_all();
    }

    /// Keeps `streams` for a later cut; false (and hung up) if a cut came since `epoch`.
    fn register(&self, epoch: u64, streams: &[&TcpStream]) -> bool {
        let mut g = self.lock();
        if g.epoch != epoch || g.closed {
            drop(g);
            for s in streams {
                let _ = s.shutdown(Shutdown::Both);
            }
            return false;
        }
        for s in streams {
            if let Ok(s) = s.try_clone() {
                g.streams.push(s);
            }
        }
        true
    }

    /// Waits while frozen; false if a cut (or the end) came since `epoch`.
    fn wait_open(&self, epoch: u64) -> bool {
        let mut g = self.lock();
        while g.frozen && g.epoch == epoch && !g.closed {
            g = self.wait(g);
        }
        g.epoch == epoch && !g.closed
    }

    /// `n` bytes were read: when they may be written.
    fn read(&self, n: usize) -> Instant {
        let mut g = self.lock();
        g.held += n as u64;
        Instant::now() + g.delay
    }

    /// Waits until a chunk due at `due` may be written (not frozen, due); false if a cut (or
    /// the end) came since `epoch`. On true the caller writes, then calls [`State::written`].
    fn pass(&self, epoch: u64, due: Instant) -> bool {
        let mut g = self.lock();
        loop {
            if g.closed || g.epoch != epoch {
                return false;
            }
            if g.frozen {
                g = self.wait(g);
                continue;
            }
            let now = Instant::now();
            if now < due {
                g = self.wait_for(g, due - now);
                continue;
            }
            g.writing += 1;
            return true;
        }
    }

    /// A chunk of `n` bytes let through by [`State::pass`] was written (`ok`) or not.
    fn written(&self, n: usize, ok: bool) {
        let mut g = self.lock();
        g.writing -= 1;
        g.held -= n as u64;
        if ok {
            g.forwarded += n as u64;
        }
        drop(g);
        self.changed.notify_all();
    }

    /// A chunk of `n` bytes that will never be written.
    fn discarded(&self, n: usize) {
        self.lock().held -= n as u64;
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `target`
    /// (`host:port`).
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the proxy binds a free port");
        let addr = listener.local_addr().expect("the proxy has an address");
        let state = Arc::new(State::default());
        state.lock().up = true;
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

    /// The server is "gone": open connections are torn down (with whatever a freeze or a
    /// delay held), new ones hung up at once.
    pub fn cut(&self) {
        self.state.cut();
    }

    /// The server is back: new connections go through again (once thawed, if frozen).
    pub fn restore(&self) {
        self.state.lock().up = true;
    }

    /// The server goes silent: nothing more is forwarded either way (not even the end of a
    /// connection) until [`Proxy::thaw`]; what arrives meanwhile is held, in order. Open
    /// connections stay open; new ones are accepted and go nowhere until the thaw.
    ///
    /// Returns once no chunk let through before the freeze is still being written, so
    /// [`Proxy::forwarded`] does not change from then until the thaw.
    pub fn freeze(&self) {
        let limit = Duration::from_secs(30);
        let deadline = Instant::now() + limit;
        let mut g = self.state.lock();
        g.frozen = true;
        while g.writing > 0 {
            let now = Instant::now();
            assert!(
                now < deadline,
                "proxy {}: a write begun before the freeze did not end within {limit:?} \
                 (its reader does not read)",
                self.addr
            );
            g = self.state.wait_for(g, deadline - now);
        }
        g.forwarded_at_freeze = g.forwarded;
    }

    /// Forwards again: first what was held during the freeze (each direction in order), then
    /// whatever comes.
    pub fn thaw(&self) {
        self.state.lock().frozen = false;
        self.state.changed.notify_all();
    }

    /// Whether the proxy is frozen (between [`Proxy::freeze`] and [`Proxy::thaw`]).
    pub fn is_frozen(&self) -> bool {
        self.state.lock().frozen
    }

    /// Holds every chunk read from now on, in either direction, for `delay` before writing it:
    /// a link that is slow but answers. Order is kept, nothing is lost. `Duration::ZERO` ends
    /// the delay (chunks already read keep theirs).
    pub fn delay(&self, delay: Duration) {
        self.state.lock().delay = delay;
    }

    /// Bytes written so far, to either side.
    pub fn forwarded(&self) -> u64 {
        self.state.lock().forwarded
    }

    /// Bytes read from either side and not yet written: held by a freeze or a delay.
    pub fn held(&self) -> u64 {
        self.state.lock().held
    }

    /// Waits until the proxy holds some bytes (a request reached it and waits there); panics
    /// after `within`. Used while frozen: the code under test is then known to be waiting on
    /// the silent server.
    pub fn wait_holding(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let mut g = self.state.lock();
        while g.held == 0 {
            let now = Instant::now();
            assert!(
                now < deadline,
                "proxy {}: nothing arrived within {within:?}",
                self.addr
            );
            // `read` does not signal: poll.
            g = self
                .state
                .wait_for(g, (deadline - now).min(Duration::from_millis(10)));
        }
    }

    /// Runs `work` on a thread of its own while this proxy is frozen and returns what it
    /// returns: the proof that `work` does not wait on the server behind the proxy.
    ///
    /// Panics if the proxy is not frozen, if `work` has not finished within `within` (a bound
    /// on a hang, not a speed claim: make it generous), if it panicked, or if, at the moment
    /// it finished, the proxy was no longer frozen or had forwarded anything since the freeze.
    pub fn while_frozen<T: Send + 'static>(
        &self,
        within: Duration,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let at_freeze = {
            let g = self.state.lock();
            assert!(g.frozen, "proxy {}: while_frozen but not frozen", self.addr);
            g.forwarded_at_freeze
        };
        let state = self.state.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("testkit-while-frozen".into())
            .spawn(move || {
                let out = work();
                let seen = {
                    let g = state.lock();
                    (g.frozen, g.forwarded)
                };
                let _ = tx.send((out, seen));
            })
            .expect("a thread starts");
        let (out, (frozen, forwarded)) = match rx.recv_timeout(within) {
            Ok(done) => done,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the work did not finish within {within:?} while the server behind proxy {} \
                 was frozen: it waits on the server",
                self.addr
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the work run while proxy {} was frozen panicked", self.addr)
            }
        };
        assert!(
            frozen,
            "proxy {} was thawed before the work finished",
            self.addr
        );
        assert_eq!(
            forwarded, at_freeze,
            "proxy {} forwarded bytes while frozen",
            self.addr
        );
        out
    }

    /// `url` with its `host:port` `real` replaced by this proxy's address.
    pub fn route(&self, url: &str, real: &str) -> String {
        assert!(url.contains(real), "{real} is not in {url}");
        url.replacen(real, &self.addr.to_string(), 1)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.lock().closed = true;
        self.state.cut();
        // Wake the accepting thread so that it sees `closed`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept(listener: TcpListener, target: Vec<SocketAddr>, state: Arc<State>) {
    for inbound in listener.incoming() {
        let Ok(inbound) = inbound else { continue };
        let epoch = {
            let g = state.lock();
            if g.closed {
                return;
            }
            if !g.up {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            }
            g.epoch
        };
        if !state.register(epoch, &[&inbound]) {
            continue;
        }
        let (target, state) = (target.clone(), state.clone());
        let _ = std::thread::Builder::new()
            .name("testkit-proxy-conn".into())
            .spawn(move || connect(inbound, &target, state, epoch));
    }
}

/// Connects `inbound` to the target (once thawed) and starts forwarding both ways.
fn connect(inbound: TcpStream, target: &[SocketAddr], state: Arc<State>, epoch: u64) {
    // A frozen server does not answer a new connection either.
    if !state.wait_open(epoch) {
        let _ = inbound.shutdown(Shutdown::Both);
        return;
    }
    let outbound = target
        .iter()
        .find_map(|a| TcpStream::connect_timeout(a, Duration::from_secs(5)).ok());
    let Some(outbound) = outbound else {
        let _ = inbound.shutdown(Shutdown::Both);
        return;
    };
    if !state.register(epoch, &[&outbound]) {
        let _ = inbound.shutdown(Shutdown::Both);
        return;
    }
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (Ok(in2), Ok(out2)) = (inbound.try_clone(), outbound.try_clone()) else {
        let _ = inbound.shutdown(Shutdown::Both);
        let _ = outbound.shutdown(Shutdown::Both);
        return;
    };
    pipe(inbound, outbound, &state, epoch);
    pipe(out2, in2, &state, epoch);
}

/// Forwards `from` to `to` until either side ends: a thread reads (as soon as bytes come),
/// another writes each chunk once the proxy lets it through (not frozen, its delay over).
fn pipe(from: TcpStream, to: TcpStream, state: &Arc<State>, epoch: u64) {
    let (Ok(reader), Ok(from2)) = (from.try_clone(), from.try_clone()) else {
        let _ = from.shutdown(Shutdown::Both);
        return;
    };
    let (tx, rx) = mpsc::channel();
    let (s1, s2) = (state.clone(), state.clone());
    let _ = std::thread::Builder::new()
        .name("testkit-proxy-read".into())
        .spawn(move || read_side(reader, &tx, &s1));
    let _ = std::thread::Builder::new()
        .name("testkit-proxy-write".into())
        .spawn(move || write_side(&rx, to, from2, &s2, epoch));
}

fn read_side(mut from: TcpStream, tx: &Sender<Chunk>, state: &State) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let due = state.read(n);
                let chunk = Chunk {
                    due,
                    bytes: buf[..n].to_vec(),
                };
                if let Err(mpsc::SendError(chunk)) = tx.send(chunk) {
                    state.discarded(chunk.bytes.len());
                    return;
                }
            }
        }
    }
}

fn write_side(rx: &Receiver<Chunk>, mut to: TcpStream, from: TcpStream, state: &State, epoch: u64) {
    let mut ended = true;
    while let Ok(chunk) = rx.recv() {
        let n = chunk.bytes.len();
        if !state.pass(epoch, chunk.due) {
            state.discarded(n);
            ended = false;
            break;
        }
        let ok = to.write_all(&chunk.bytes).is_ok();
        state.written(n, ok);
        if !ok {
            ended = false;
            break;
        }
    }
    if ended {
        // `from` ended: so does `to`, once the proxy lets that through too.
        if state.pass(epoch, Instant::now()) {
            let _ = to.shutdown(Shutdown::Write);
            state.written(0, true);
        }
        return;
    }
    // Cut, or `to` is gone: stop reading `from`, and drop what it still sends.
    let _ = from.shutdown(Shutdown::Read);
    for chunk in rx.iter() {
        state.discarded(chunk.bytes.len());
    }
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

    /// A bound on a hang in these tests, never a speed claim.
    const HANG: Duration = Duration::from_secs(30);

    /// A server whose accepted connections the test gets, to read and write its side itself.
    fn server() -> (String, Receiver<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { continue };
                if tx.send(s).is_err() {
                    return;
                }
            }
        });
        (addr, rx)
    }

    /// A client through `proxy` and the server's side of its connection.
    fn connection(proxy: &Proxy, accepted: &Receiver<TcpStream>) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(proxy.addr).unwrap();
        let server = accepted.recv_timeout(HANG).expect("the proxy connects");
        for s in [&client, &server] {
            s.set_read_timeout(Some(HANG)).unwrap();
        }
        (client, server)
    }

    /// Waits (up to [`HANG`]) until `ok` holds.
    fn eventually(what: &str, ok: impl Fn() -> bool) {
        let deadline = Instant::now() + HANG;
        while !ok() {
            assert!(Instant::now() < deadline, "not {what} within {HANG:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Reads exactly `n` bytes.
    fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0u8; n];
        s.read_exact(&mut got).unwrap();
        got
    }

    /// Whether `s` stays without data for `wait` (true), or something (data, an end) comes.
    fn nothing_for(s: &mut TcpStream, wait: Duration) -> bool {
        s.set_read_timeout(Some(wait)).unwrap();
        let mut b = [0u8; 1];
        use std::io::ErrorKind::{TimedOut, WouldBlock};
        let quiet = matches!(s.read(&mut b), Err(e) if matches!(e.kind(), WouldBlock | TimedOut));
        s.set_read_timeout(Some(HANG)).unwrap();
        quiet
    }

    /// `count` numbered messages `<tag>-<i>;`, written one by one (so the proxy sees many
    /// chunks), and all of them as one byte string.
    fn write_numbered(s: &mut TcpStream, tag: &str, count: usize) -> Vec<u8> {
        let mut all = Vec::new();
        for i in 0..count {
            let m = format!("{tag}-{i};");
            s.write_all(m.as_bytes()).unwrap();
            all.extend_from_slice(m.as_bytes());
            if i % 10 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        all
    }

    #[test]
    fn delayed_chunks_arrive_after_the_delay_in_order_and_complete() {
        let (target, accepted) = server();
        let proxy = Proxy::start(&target);
        let (mut client, mut server) = connection(&proxy, &accepted);
        let delay = Duration::from_millis(300);
        proxy.delay(delay);

        // Each way, a chunk arrives no earlier than `delay` after it was sent.
        let sent = Instant::now();
        client.write_all(b"ping").unwrap();
        assert_eq!(read_n(&mut server, 4), b"ping");
        let took = sent.elapsed();
        assert!(took >= delay, "to the server after {took:?}");
        let sent = Instant::now();
        server.write_all(b"pong").unwrap();
        assert_eq!(read_n(&mut client, 4), b"pong");
        let took = sent.elapsed();
        assert!(took >= delay, "to the client after {took:?}");

        // Many chunks both ways at once: all arrive, in order, none before its delay.
        let sent = Instant::now();
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let up = std::thread::spawn(move || write_numbered(&mut c2, "up", 500));
        let down = std::thread::spawn(move || write_numbered(&mut s2, "down", 500));
        let (up, down) = (up.join().unwrap(), down.join().unwrap());
        let mut first = [0u8; 1];
        server.read_exact(&mut first).unwrap();
        assert!(sent.elapsed() >= delay);
        let mut got_up = first.to_vec();
        got_up.extend(read_n(&mut server, up.len() - 1));
        assert_eq!(got_up, up);
        assert_eq!(read_n(&mut client, down.len()), down);
        let all = (8 + up.len() + down.len()) as u64;
        eventually("all counted", || {
            proxy.held() == 0 && proxy.forwarded() == all
        });

        // No delay: still a working link.
        proxy.delay(Duration::ZERO);
        client.write_all(b"again").unwrap();
        assert_eq!(read_n(&mut server, 5), b"again");
    }

    #[test]
    fn frozen_connections_carry_nothing_until_thawed_then_everything_in_order() {
        let (target, accepted) = server();
        let proxy = Proxy::start(&target);
        let (mut client, mut server) = connection(&proxy, &accepted);
        client.write_all(b"hello").unwrap();
        assert_eq!(read_n(&mut server, 5), b"hello");
        server.write_all(b"hi").unwrap();
        assert_eq!(read_n(&mut client, 2), b"hi");

        proxy.freeze();
        assert!(proxy.is_frozen());
        let mark = proxy.forwarded();
        assert_eq!(mark, 7);
        // Both ways, many chunks, and then the client's end of its writing: all held.
        let up = write_numbered(&mut client, "up", 300);
        let down = write_numbered(&mut server, "down", 300);
        client.shutdown(Shutdown::Write).unwrap();
        let all = (up.len() + down.len()) as u64;
        eventually("all held", || proxy.held() == all);
        assert!(nothing_for(&mut server, Duration::from_millis(500)));
        assert!(nothing_for(&mut client, Duration::from_millis(100)));
        // A new connection is accepted, but the server does not see it while frozen.
        let mut late = TcpStream::connect(proxy.addr).unwrap();
        late.write_all(b"late").unwrap();
        assert!(accepted.recv_timeout(Duration::from_millis(500)).is_err());
        assert_eq!(proxy.forwarded(), mark, "nothing forwarded while frozen");
        // Work that does not touch the server finishes while frozen.
        assert_eq!(proxy.while_frozen(HANG, || 6 * 7), 42);

        proxy.thaw();
        assert!(!proxy.is_frozen());
        assert_eq!(read_n(&mut server, up.len()), up);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the client's end comes after its bytes");
        assert_eq!(read_n(&mut client, down.len()), down);
        let mut late_server = accepted
            .recv_timeout(HANG)
            .expect("connected after the thaw");
        late_server.set_read_timeout(Some(HANG)).unwrap();
        assert_eq!(read_n(&mut late_server, 4), b"late");
        eventually("all counted", || {
            proxy.held() == 0 && proxy.forwarded() == mark + all + 4
        });
    }

    #[test]
    fn while_frozen_fails_on_work_that_waits_for_the_server() {
        let (target, accepted) = server();
        let proxy = Proxy::start(&target);
        let (mut client, mut echo_server) = connection(&proxy, &accepted);
        std::thread::spawn(move || {
            let mut b = [0u8; 4];
            if echo_server.read_exact(&mut b).is_ok() {
                let _ = echo_server.write_all(&b);
            }
        });
        proxy.freeze();
        let (echoed_tx, echoed_rx) = mpsc::channel();
        let waits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            proxy.while_frozen(Duration::from_millis(500), move || {
                client.write_all(b"ping").unwrap();
                let mut b = [0u8; 4];
                let echoed = client.read_exact(&mut b).is_ok() && &b == b"ping";
                let _ = echoed_tx.send(echoed);
            })
        }));
        let message = *waits
            .expect_err("a round trip cannot end while frozen")
            .downcast::<String>()
            .unwrap();
        assert!(message.contains("did not finish"), "{message}");
        proxy.thaw();
        assert!(
            echoed_rx.recv_timeout(HANG).unwrap(),
            "the round trip ends after the thaw"
        );
    }

    #[test]
    fn a_cut_drops_what_a_freeze_held() {
        let (target, accepted) = server();
        let proxy = Proxy::start(&target);
        let (mut client, mut server) = connection(&proxy, &accepted);
        proxy.freeze();
        client.write_all(b"never").unwrap();
        proxy.wait_holding(HANG);
        proxy.cut();
        let mut rest = Vec::new();
        // The server's side ends without the held bytes; so does the client's.
        let _ = server.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{rest:?}");
        let _ = client.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{rest:?}");
        eventually("nothing held", || proxy.held() == 0);
        proxy.restore();
        proxy.thaw();
        let (mut client, mut server) = connection(&proxy, &accepted);
        client.write_all(b"again").unwrap();
        assert_eq!(read_n(&mut server, 5), b"again");
    }
}
