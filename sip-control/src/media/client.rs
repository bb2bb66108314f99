//! An async NG client: one connected UDP socket per node, requests matched
//! to replies by cookie, retransmissions within one total timeout.
//!
//! A background task reads the socket and hands each reply to the request
//! waiting on its cookie. Datagrams that are not NG frames are counted and
//! dropped; so are replies nobody waits for any more (the answer to a
//! retransmission after the first answer arrived, or a late one).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_ng::bencode::{self, Value};
use sluice_ng::frame::{self, FrameError};
use sluice_ng::Dict;
use tokio::net::UdpSocket;
use tokio::sync::oneshot::error::RecvError;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::cookie;
use super::error::{MalformedReply, NgError};
use super::pending::{Pending, Reply};

/// Largest datagram read; NG replies with a full `query` can be large.
const MAX_DATAGRAM: usize = 65_535;

/// A client for one NG server. Clones share the socket and its receiver.
#[derive(Debug, Clone)]
pub struct NgClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    socket: Arc<UdpSocket>,
    server: SocketAddr,
    pending: Arc<Pending>,
    counters: Arc<Counters>,
    receiver: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

#[derive(Debug, Default)]
struct Counters {
    garbage: AtomicU64,
    unmatched: AtomicU64,
    retransmits: AtomicU64,
    recv_errors: AtomicU64,
}

/// The socket's receive buffer (bytes) asked of the kernel.
const REPLY_BUFFER: usize = 4 << 20;

/// Counters of one client since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Datagrams that were not NG frames (or whose body did not decode).
    pub garbage: u64,
    /// Well-formed replies no request was waiting for.
    pub unmatched: u64,
    /// Requests sent again after no reply.
    pub retransmits: u64,
    /// Errors reading the socket (`ECONNREFUSED` from a closed port).
    pub recv_errors: u64,
}

impl NgClient {
    /// A client for `server`, on a socket bound to loopback or to the
    /// unspecified address of the server's family and connected to it (so
    /// the kernel drops datagrams from anywhere else). Must be called
    /// within a tokio runtime, which runs the receiver task.
    pub fn new(server: SocketAddr) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let std_socket = std::net::UdpSocket::bind(local_for(server))?;
        std_socket.connect(server)?;
        // Room for the replies to a burst of requests: a reply dropped here
        // costs a retransmission on both ends. Capped by net.core.rmem_max.
        let _ = socket2::SockRef::from(&std_socket).set_recv_buffer_size(REPLY_BUFFER);
        std_socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(std_socket)?);
        let pending = Arc::new(Pending::default());
        let counters = Arc::new(Counters::default());
        let receiver = runtime
            .spawn(receive(
                Arc::clone(&socket),
                Arc::clone(&pending),
                Arc::clone(&counters),
            ))
            .abort_handle();
        Ok(Self {
            inner: Arc::new(Inner {
                socket,
                server,
                pending,
                counters,
                receiver,
            }),
        })
    }

    /// The server's NG address.
    pub fn server(&self) -> SocketAddr {
        self.inner.server
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.socket.local_addr()
    }

    /// Counters since the client was created.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            garbage: c.garbage.load(Ordering::Relaxed),
            unmatched: c.unmatched.load(Ordering::Relaxed),
            retransmits: c.retransmits.load(Ordering::Relaxed),
            recv_errors: c.recv_errors.load(Ordering::Relaxed),
        }
    }

    /// Requests waiting for their reply now.
    pub fn waiting(&self) -> usize {
        self.inner.pending.len()
    }

    /// Sends `dict` under a fresh cookie and waits up to `timeout` for the
    /// reply, sending the very same datagram again at a quarter, half and
    /// three quarters of `timeout` (servers answer a repeated cookie from
    /// their reply cache instead of running the command twice).
    ///
    /// `result: ok` and `pong` are `Ok` with the whole reply (a `warning`
    /// included); `error` and `load limit` are errors.
    pub async fn request(&self, dict: Dict, timeout: Duration) -> Result<Dict, NgError> {
        let cookie = cookie::next();
        let datagram = frame::encode(cookie.as_bytes(), &dict);
        let mut waiter = self.inner.pending.register(cookie.as_bytes());
        let start = Instant::now();
        let mut sends = 0u32;
        for at in send_times(timeout) {
            tokio::select! {
                biased;
                reply = waiter.reply() => return finish(reply),
                () = tokio::time::sleep_until(start + at) => {}
            }
            if sends > 0 {
                self.inner
                    .counters
                    .retransmits
                    .fetch_add(1, Ordering::Relaxed);
            }
            self.inner.socket.send(&datagram).await?;
            sends += 1;
        }
        tokio::select! {
            biased;
            reply = waiter.reply() => finish(reply),
            () = tokio::time::sleep_until(start + timeout) => Err(NgError::Timeout {
                server: self.inner.server,
                after: timeout,
                tries: sends,
            }),
        }
    }
}

/// Offsets from the first send at which the datagram is sent: 0, T/4,
/// T/2 and 3T/4 (fewer when `timeout` is too short to tell them apart).
fn send_times(timeout: Duration) -> Vec<Duration> {
    let mut times = vec![Duration::ZERO];
    for quarter in 1..4 {
        let at = timeout * quarter / 4;
        if times.last().is_some_and(|&last| at > last) {
            times.push(at);
        }
    }
    times
}

/// Where a client for `server` binds: loopback for a loopback server
/// (nothing else can reach it), else the unspecified address.
fn local_for(server: SocketAddr) -> SocketAddr {
    let ip = match server.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(v6) if v6.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

fn finish(reply: Result<Reply, RecvError>) -> Result<Dict, NgError> {
    match reply {
        Ok(Ok(dict)) => interpret(dict),
        Ok(Err(frame)) => Err(MalformedReply::Frame(frame).into()),
        Err(RecvError { .. }) => Err(NgError::Closed),
    }
}

/// Sorts a reply by its `result`: `ok` and `pong` are success.
pub fn interpret(reply: Dict) -> Result<Dict, NgError> {
    let result = reply
        .get("result")
        .and_then(Value::as_bytes)
        .ok_or(MalformedReply::NoResult)?;
    match result {
        b"ok" | b"pong" => Ok(reply),
        b"error" => Err(NgError::Error {
            reason: reply
                .get("error-reason")
                .and_then(Value::as_bytes)
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .unwrap_or_default(),
        }),
        b"load limit" => Err(NgError::LoadLimit),
        other => {
            Err(MalformedReply::UnknownResult(String::from_utf8_lossy(other).into_owned()).into())
        }
    }
}

/// The receiver task: reads until aborted.
async fn receive(socket: Arc<UdpSocket>, pending: Arc<Pending>, counters: Arc<Counters>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv(&mut buf).await {
            Ok(n) => route(buf.get(..n).unwrap_or_default(), &pending, &counters),
            Err(e) => {
                counters.recv_errors.fetch_add(1, Ordering::Relaxed);
                // A closed port on the server answers with ICMP, reported
                // here once per datagram; anything else may repeat at once,
                // so back off a little rather than spin.
                if e.kind() != io::ErrorKind::ConnectionRefused {
                    tracing::debug!(error = %e, "NG socket read failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Hands one datagram to the request waiting on its cookie.
fn route(datagram: &[u8], pending: &Pending, counters: &Counters) {
    let Ok((cookie, body)) = frame::split(datagram) else {
        counters.garbage.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let reply = match bencode::decode(body) {
        Ok(Value::Dict(d)) => Ok(d),
        Ok(_) => Err(FrameError::NotADict),
        Err(e) => Err(FrameError::Bencode(e)),
    };
    let well_formed = reply.is_ok();
    // A broken body under a waiting cookie fails that request at once:
    // the server caches its reply, so waiting would only repeat it.
    let delivered = pending.deliver(cookie, reply);
    if !well_formed {
        counters.garbage.fetch_add(1, Ordering::Relaxed);
    } else if !delivered {
        counters.unmatched.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
