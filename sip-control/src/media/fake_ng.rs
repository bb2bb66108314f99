//! A scriptable NG server on loopback for the client and node tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sluice_ng::{frame, Dict, Value};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// What the server sends back for one request.
#[derive(Debug, Clone)]
pub enum Out {
    /// A reply under the request's cookie.
    Reply(Dict),
    /// These bytes, as they are.
    Raw(Vec<u8>),
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The cookie.
    pub cookie: Vec<u8>,
    /// The dictionary.
    pub dict: Dict,
}

impl Seen {
    /// The request's `command`.
    pub fn command(&self) -> &str {
        self.dict
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A running fake server; stops when dropped.
pub struct FakeNg {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for FakeNg {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeNg {
    /// Serves with `script`, called with each request (and the number of
    /// requests before it) for the datagrams to send back; none drops it.
    pub async fn start<F>(mut script: F) -> Self
    where
        F: FnMut(usize, &Seen) -> Vec<Out> + Send + 'static,
    {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok((cookie, dict)) = frame::decode(&buf[..n]) else {
                    continue;
                };
                let req = Seen {
                    cookie: cookie.to_vec(),
                    dict,
                };
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(req.clone());
                    log.len() - 1
                };
                for out in script(index, &req) {
                    let bytes = match out {
                        Out::Reply(d) => frame::encode(&req.cookie, &d),
                        Out::Raw(b) => b,
                    };
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        Self { addr, seen, task }
    }

    /// A server that answers like a relay: `pong` to `ping`, an SDP to
    /// `offer` and `answer`, `ok` to the rest.
    pub async fn relay() -> Self {
        Self::start(|_, req| vec![Out::Reply(relay_reply(req))]).await
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests seen so far with this `command`.
    pub fn seen_command(&self, command: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.command() == command)
            .collect()
    }
}

/// The reply a healthy relay would send to `req`.
pub fn relay_reply(req: &Seen) -> Dict {
    match req.command() {
        "ping" => sluice_ng::reply::pong(),
        "offer" | "answer" => sluice_ng::reply::ok().with("sdp", "v=0\r\n"),
        _ => sluice_ng::reply::ok(),
    }
}
