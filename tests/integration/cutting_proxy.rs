//! A TCP proxy that cuts connections, put between vapp and a state engine (PostgreSQL, moto) to
//! show what a real network does to it: an answer lost after the request reached the server (a
//! COMMIT or a PUT that landed), an answer cut short, a connection dropped before its request got
//! through, and another connection (the lock's) dropped while it idles.
//!
//! It cuts in one of two ways:
//! - scripted: [`CuttingProxy::cut_next`] names the next request to cut by bytes it carries, and
//!   [`CuttingProxy::cut_carrying`] drops every connection that ever carried some bytes;
//! - at random, with [`CuttingProxy::at_random`]: each request is cut with the given probability, by
//!   a generator seeded with the seed given. The same seed makes the same decisions for the same
//!   traffic (which requests go on which connection depends on the engine's client, not on luck).
//!
//! Listens on 127.0.0.1 only; every connection it holds is closed when it is dropped. Threads and
//! blocking sockets keep it apart from the runtimes of the tests that use it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The most connections one proxy makes: a test that needs more has gone wrong.
const MAX_CONNECTIONS: usize = 20_000;
/// How much of each connection's traffic is remembered, for [`CuttingProxy::cut_carrying`].
const REMEMBERED: usize = 64 * 1024;

/// What is done to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// The request reaches the server; its answer never comes back (the connection drops first).
    LoseAnswer,
    /// The request reaches the server; the first half of its answer's first read comes back, then
    /// the connection drops.
    ShortAnswer,
    /// The connection drops before the request gets through.
    DropRequest,
    /// The request goes through; the oldest other open connection (an idle lock's) drops.
    DropOther,
}

const KINDS: [Cut; 4] = [Cut::LoseAnswer, Cut::ShortAnswer, Cut::DropRequest, Cut::DropOther];

#[derive(Default)]
struct Plan {
    /// Scripted cuts: the next request carrying these bytes gets this cut.
    scripted: Vec<(Vec<u8>, Cut)>,
    random: Option<(StdRng, f64)>,
}

struct Connection {
    id: usize,
    client: TcpStream,
    server: TcpStream,
    /// The start of what the client sent (to find the connections that carried some bytes).
    carried: Vec<u8>,
    /// What happens to the server's next answer on this connection.
    answer: Option<Cut>,
    open: bool,
}

impl Connection {
    fn cut(&mut self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
        self.open = false;
    }
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<Plan>,
    connections: Mutex<Vec<Connection>>,
    stopping: AtomicBool,
    /// Every cut made, in order (for a failing test's message).
    made: Mutex<Vec<(usize, Cut)>>,
}

pub struct CuttingProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl CuttingProxy {
    /// A proxy to `upstream` that cuts nothing until told to.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(Plan::default()),
            connections: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            made: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || accept(listener, accepting));
        CuttingProxy { address, shared }
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The next request that carries `needle` gets `cut`.
    pub fn cut_next(&self, needle: &str, cut: Cut) {
        lock(&self.shared.plan).scripted.push((needle.as_bytes().to_vec(), cut));
    }

    /// Whether every scripted cut was made.
    pub fn scripted_cuts_made(&self) -> bool {
        lock(&self.shared.plan).scripted.is_empty()
    }

    /// Each request from now on is cut with probability `rate`, the cut and its kind drawn from a
    /// generator seeded with `seed`.
    pub fn at_random(&self, seed: u64, rate: f64) {
        lock(&self.shared.plan).random = Some((StdRng::seed_from_u64(seed), rate));
    }

    /// Cuts nothing more (scripted cuts not yet made are forgotten).
    pub fn calm(&self) {
        *lock(&self.shared.plan) = Plan::default();
    }

    /// Drops every open connection that ever carried `needle`; how many.
    pub fn cut_carrying(&self, needle: &str) -> usize {
        let mut connections = lock(&self.shared.connections);
        let mut cut = 0;
        for connection in connections.iter_mut().filter(|c| c.open) {
            if contains(&connection.carried, needle.as_bytes()) {
                connection.cut();
                cut += 1;
            }
        }
        cut
    }

    /// The cuts made so far.
    pub fn made(&self) -> Vec<Cut> {
        lock(&self.shared.made).iter().map(|(_, cut)| *cut).collect()
    }

    /// How many times `needle` was sent, over every connection (as far as each is remembered).
    pub fn seen(&self, needle: &str) -> usize {
        let needle = needle.as_bytes();
        lock(&self.shared.connections)
            .iter()
            .map(|c| c.carried.windows(needle.len()).filter(|w| *w == needle).count())
            .sum()
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees it should stop.
        let _ = TcpStream::connect(self.address);
        for connection in lock(&self.shared.connections).iter_mut() {
            connection.cut();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    for (id, client) in listener.incoming().enumerate().take(MAX_CONNECTIONS) {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(10)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client_side), Ok(server_side)) = (client.try_clone(), server.try_clone()) else { continue };
        let (Ok(to_server), Ok(to_client)) = (server.try_clone(), client.try_clone()) else { continue };
        lock(&shared.connections).push(Connection {
            id,
            client,
            server,
            carried: Vec::new(),
            answer: None,
            open: true,
        });
        let upstream = shared.clone();
        std::thread::spawn(move || requests(id, client_side, to_server, upstream));
        let downstream = shared.clone();
        std::thread::spawn(move || answers(id, server_side, to_client, downstream));
    }
}

/// What to do with the request just read on connection `id`.
fn decide(shared: &Shared, bytes: &[u8]) -> Option<Cut> {
    let mut plan = lock(&shared.plan);
    if let Some(at) = plan.scripted.iter().position(|(needle, _)| contains(bytes, needle)) {
        return Some(plan.scripted.remove(at).1);
    }
    let (rng, rate) = plan.random.as_mut()?;
    let roll: f64 = rng.gen();
    let kind = KINDS[rng.gen_range(0..KINDS.len())];
    (roll < *rate).then_some(kind)
}

/// Client to server, deciding each request's fate.
fn requests(id: usize, mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let bytes = &buffer[..read];
        let cut = decide(&shared, bytes);
        {
            let mut connections = lock(&shared.connections);
            let Some(connection) = connections.iter_mut().find(|c| c.id == id) else { break };
            let room = REMEMBERED.saturating_sub(connection.carried.len());
            connection.carried.extend_from_slice(&bytes[..read.min(room)]);
            if let Some(cut) = cut {
                lock(&shared.made).push((id, cut));
                match cut {
                    Cut::DropRequest => {
                        connection.cut();
                        break;
                    }
                    Cut::LoseAnswer | Cut::ShortAnswer => connection.answer = Some(cut),
                    Cut::DropOther => {
                        if let Some(other) = connections.iter_mut().find(|c| c.open && c.id != id) {
                            other.cut();
                        }
                    }
                }
            }
        }
        if to.write_all(bytes).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    closed(&shared, id);
}

/// Server to client, losing or shortening the answers marked so.
fn answers(id: usize, mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let forward = {
            let mut connections = lock(&shared.connections);
            let Some(connection) = connections.iter_mut().find(|c| c.id == id) else { break };
            match connection.answer.take() {
                None => read,
                Some(Cut::ShortAnswer) => {
                    let _ = to.write_all(&buffer[..read / 2]);
                    connection.cut();
                    break;
                }
                Some(_) => {
                    connection.cut();
                    break;
                }
            }
        };
        if to.write_all(&buffer[..forward]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    closed(&shared, id);
}

fn closed(shared: &Shared, id: usize) {
    if let Some(connection) = lock(&shared.connections).iter_mut().find(|c| c.id == id) {
        connection.open = false;
    }
}
