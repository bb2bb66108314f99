//! A blocking NG client over UDP with retransmission, for tests, the
//! load tool and any program that drives a relay synchronously.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::bencode::Dict;
use crate::frame::{self, FrameError};

/// Why a request got no usable reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Socket trouble.
    #[error("NG socket: {0}")]
    Io(#[from] io::Error),
    /// No reply within the timeout after all retransmissions.
    #[error("no NG reply from {0} after {1} tries")]
    Timeout(SocketAddr, u32),
    /// A reply that does not parse.
    #[error("malformed NG reply: {0}")]
    Malformed(#[from] FrameError),
}

/// A connected NG client; each request gets a fresh cookie.
#[derive(Debug)]
pub struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    prefix: String,
    seq: u64,
    /// Wait for one reply before retransmitting.
    pub retransmit_after: Duration,
    /// Total tries before giving up.
    pub tries: u32,
}

impl Client {
    /// Binds an ephemeral local port and targets `server`.
    pub fn new(server: SocketAddr) -> io::Result<Self> {
        let bind: SocketAddr = if server.is_ipv4() {
            "127.0.0.1:0".parse().expect("literal address parses")
        } else {
            "[::1]:0".parse().expect("literal address parses")
        };
        let socket = UdpSocket::bind(bind)?;
        let prefix = format!("{}_{}", std::process::id(), socket.local_addr()?.port());
        Ok(Self {
            socket,
            server,
            prefix,
            seq: 0,
            retransmit_after: Duration::from_millis(1000),
            tries: 3,
        })
    }

    /// Sends `request` and waits for the reply carrying the same cookie.
    pub fn request(&mut self, request: &Dict) -> Result<Dict, ClientError> {
        self.seq += 1;
        let cookie = format!("{}_{}", self.prefix, self.seq);
        self.request_with_cookie(cookie.as_bytes(), request)
    }

    /// Sends `request` under a given cookie (to test retransmissions).
    pub fn request_with_cookie(
        &mut self,
        cookie: &[u8],
        request: &Dict,
    ) -> Result<Dict, ClientError> {
        let datagram = frame::encode(cookie, request);
        let mut buf = vec![0u8; 65536];
        for _ in 0..self.tries {
            self.socket.send_to(&datagram, self.server)?;
            let deadline = Instant::now() + self.retransmit_after;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                self.socket
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                let n = match self.socket.recv_from(&mut buf) {
                    Ok((n, _)) => n,
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::TimedOut =>
                    {
                        break
                    }
                    Err(e) => return Err(e.into()),
                };
                let (got, reply) = frame::decode(&buf[..n])?;
                if got == cookie {
                    return Ok(reply);
                }
            }
        }
        Err(ClientError::Timeout(self.server, self.tries))
    }

    /// Sends raw bytes and returns the raw reply, if any, within the
    /// retransmit interval (for malformed-input tests).
    pub fn raw(&mut self, datagram: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.socket.send_to(datagram, self.server)?;
        self.socket.set_read_timeout(Some(self.retransmit_after))?;
        let mut buf = vec![0u8; 65536];
        match self.socket.recv_from(&mut buf) {
            Ok((n, _)) => Ok(Some(buf[..n].to_vec())),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
