//! The NG server: one thread reading NG datagrams, answering from the
//! reply cache or the [`Engine`], handing worker commands over the
//! lock-free queues, and running the timers (idle sweep, delayed
//! deletes). Replies that need counters ask the owning worker and wait
//! briefly for its answer.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_queue::ArrayQueue;
use sluice_ng::request::{parse_request, Command, Request};
use sluice_ng::{frame, reply, Dict, ReplyCache};

use super::engine::{Engine, Failure};
use super::render::{self, Totals, WallClock};
use crate::relay::{CallSerial, SocketKey, StreamStats};
use crate::transcoder::digits::DigitReporter;
use crate::worker::{Worker, WorkerCommand, WorkerEvent};
use crate::xdp::XdpFlows;

/// How long a worker has to answer a counters request.
const STATS_WAIT: Duration = Duration::from_millis(500);
/// How often idle calls are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Largest NG datagram accepted.
const MAX_DATAGRAM: usize = 65_535;

/// The control thread: NG socket, engine, worker handles.
pub struct NgServer {
    socket: UdpSocket,
    engine: Engine,
    workers: Vec<Worker>,
    events: Arc<ArrayQueue<WorkerEvent>>,
    cache: ReplyCache,
    clock: WallClock,
    started: Instant,
    timeout: Duration,
    next_request: u64,
    last_sweep: Instant,
    /// The XDP fast path's maps, for its counters in `statistics`.
    xdp: Option<XdpFlows>,
    /// Reports digits seen in pass-through streams.
    digits: DigitReporter,
}

impl std::fmt::Debug for NgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NgServer")
            .field("socket", &self.socket)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl NgServer {
    /// A server on `socket` driving `workers`.
    pub fn new(
        socket: UdpSocket,
        engine: Engine,
        workers: Vec<Worker>,
        events: Arc<ArrayQueue<WorkerEvent>>,
        timeout: Duration,
        xdp: Option<XdpFlows>,
        digits: DigitReporter,
    ) -> io::Result<Self> {
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let now = Instant::now();
        Ok(Self {
            socket,
            engine,
            workers,
            events,
            cache: ReplyCache::new(sluice_ng::cache::DEFAULT_TTL, 100_000),
            clock: WallClock::new(now, SystemTime::now()),
            started: now,
            timeout,
            next_request: 1,
            last_sweep: now,
            xdp,
            digits,
        })
    }

    /// The NG socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves until `stop` becomes true, then shuts the workers down.
    pub fn run(mut self, stop: &AtomicBool) -> io::Result<()> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while !stop.load(Ordering::Relaxed) {
            match self.socket.recv_from(&mut buf) {
                Ok((n, peer)) => {
                    let now = Instant::now();
                    if let Some(reply) = self.handle_datagram(&buf[..n], now) {
                        if let Err(e) = self.socket.send_to(&reply, peer) {
                            tracing::warn!(%peer, error = %e, "cannot send NG reply");
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => tracing::warn!(error = %e, "NG receive failed"),
            }
            self.tick(Instant::now());
            if let Some(dead) = self.workers.iter().position(|w| !w.is_alive()) {
                tracing::error!(
                    worker = dead,
                    "a worker stopped unexpectedly; shutting down"
                );
                for worker in self.workers.drain(..) {
                    if let Err(e) = worker.shutdown() {
                        tracing::error!(error = %e, "worker error");
                    }
                }
                return Err(io::Error::other(format!(
                    "worker {dead} stopped unexpectedly"
                )));
            }
        }
        tracing::info!(
            calls = self.engine.call_count(),
            "shutting down: draining workers"
        );
        for worker in self.workers.drain(..) {
            worker.shutdown()?;
        }
        Ok(())
    }

    /// Timers: worker events, idle sweeps, delayed deletes.
    fn tick(&mut self, now: Instant) {
        self.drain_events();
        if now.duration_since(self.last_sweep) >= SWEEP_EVERY {
            self.last_sweep = now;
            if let Some(deadline) = now.checked_sub(self.timeout) {
                for worker in &self.workers {
                    let _ = worker.send(WorkerCommand::SweepIdle { deadline });
                }
            }
            self.engine.run_delayed_deletes(now);
            self.flush_commands();
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.events.pop() {
            self.handle_unrequested(event);
        }
    }

    fn handle_unrequested(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Idle { calls } => {
                self.engine.expire(&calls, Instant::now());
                self.flush_commands();
            }
            WorkerEvent::Digits { digits } => {
                for seen in &digits {
                    if let Some((labels, leg, report)) = self.engine.digit_report(seen) {
                        self.digits.report(&labels, leg, &report);
                    }
                }
            }
            _ => {}
        }
        // Late counters replies (after STATS_WAIT) are dropped.
    }

    /// Answers one datagram; `None` when it cannot even carry a reply.
    pub fn handle_datagram(&mut self, datagram: &[u8], now: Instant) -> Option<Vec<u8>> {
        let (cookie, body) = match frame::split(datagram) {
            Ok(parts) => parts,
            Err(e) => {
                self.engine.counters.ng_malformed += 1;
                tracing::debug!(error = %e, "NG datagram without a cookie dropped");
                return None;
            }
        };
        if let Some(cached) = self.cache.get(cookie, now) {
            return Some(cached.to_vec());
        }
        let reply = match sluice_ng::bencode::decode(body) {
            Ok(sluice_ng::Value::Dict(dict)) => self.handle_dict(&dict, now),
            Ok(_) => reply::error("message body is not a dictionary"),
            Err(e) => reply::error(&format!("malformed bencode: {e}")),
        };
        if reply.get("result").and_then(|r| r.as_str()) == Some("error") {
            self.engine.counters.ng_errors += 1;
        }
        let bytes = frame::encode(cookie, &reply);
        self.cache.insert(cookie, bytes.clone(), now);
        Some(bytes)
    }

    fn handle_dict(&mut self, dict: &Dict, now: Instant) -> Dict {
        let request = match parse_request(dict) {
            Ok(r) => r,
            Err(e) => return reply::error(&e.to_string()),
        };
        let _span = tracing::debug_span!("ng", command = %request.command, call_id = request.call_id.as_deref().unwrap_or("")).entered();
        let result = match request.command {
            Command::Ping => Ok(reply::pong()),
            Command::Offer | Command::Answer => self.offer_answer(&request, now),
            Command::Delete => self.delete(&request, now),
            Command::Query => self.query(&request),
            Command::List => Ok(self.list(&request)),
            Command::Statistics => Ok(self.statistics(now)),
            Command::PlayDtmf => self.engine.play_dtmf(&request).map(|()| reply::ok()),
            Command::BlockDtmf => self.engine.block_dtmf(&request, true).map(|()| reply::ok()),
            Command::UnblockDtmf => self
                .engine
                .block_dtmf(&request, false)
                .map(|()| reply::ok()),
            other => Err(Failure::Error(format!(
                "command not supported yet: {other}"
            ))),
        };
        self.flush_commands();
        match result {
            Ok(d) => d,
            Err(Failure::LoadLimit) if request.options.supports_load_limit => reply::load_limit(),
            Err(Failure::LoadLimit) => reply::error("load limit: no free sessions or ports"),
            Err(Failure::Error(reason)) => reply::error(&reason),
        }
    }

    fn offer_answer(&mut self, request: &Request, now: Instant) -> Result<Dict, Failure> {
        let is_offer = request.command == Command::Offer;
        let sdp = self.engine.offer_answer(request, is_offer, now)?;
        Ok(reply::ok().with("sdp", sdp))
    }

    fn delete(&mut self, request: &Request, now: Instant) -> Result<Dict, Failure> {
        let location = request
            .call_id
            .as_deref()
            .and_then(|id| self.engine.call(id))
            .map(|c| (c.worker, c.serial));
        let stats = match location {
            Some((worker, serial)) => self.call_stats(worker, serial).unwrap_or_default(),
            None => HashMap::new(),
        };
        match self.engine.delete(request, now)? {
            Some(call) => Ok(ok_with(render::call_report(&call, &stats, &self.clock))),
            None => Ok(reply::ok_with_warning(
                "Call-ID not found or tags didn't match",
            )),
        }
    }

    fn query(&mut self, request: &Request) -> Result<Dict, Failure> {
        let call_id = request
            .call_id
            .as_deref()
            .ok_or_else(|| Failure::Error("missing key: call-id".into()))?;
        let (worker, serial) = self
            .engine
            .call(call_id)
            .map(|c| (c.worker, c.serial))
            .ok_or_else(|| Failure::Error("Unknown call-id".into()))?;
        let stats = self
            .call_stats(worker, serial)
            .ok_or_else(|| Failure::Error("worker did not report counters in time".into()))?;
        let call = self
            .engine
            .call(call_id)
            .ok_or_else(|| Failure::Error("Unknown call-id".into()))?;
        Ok(ok_with(render::call_report(call, &stats, &self.clock)))
    }

    fn list(&self, request: &Request) -> Dict {
        let limit = request.options.limit.map_or(32, |l| l as usize);
        ok_with(render::call_list(self.engine.calls(), limit))
    }

    fn statistics(&mut self, now: Instant) -> Dict {
        let mut totals = Totals::default();
        for index in 0..self.workers.len() {
            let request = self.request_id();
            if self.workers[index]
                .send(WorkerCommand::AllStats { request })
                .is_err()
            {
                continue;
            }
            if let Some(WorkerEvent::AllStats { stats, .. }) = self.wait_for(request) {
                for (_, key, s) in stats {
                    totals.add(&s, key.port() & 1 == 1);
                }
            }
        }
        let mut body = render::statistics(
            self.engine.call_count(),
            &self.engine.counters,
            totals,
            now.duration_since(self.started),
        );
        if let Some(xdp) = &self.xdp {
            match xdp.outcomes() {
                Ok(outcomes) => body.insert("XDP", render::xdp_outcomes(&outcomes)),
                Err(e) => tracing::warn!(error = %e, "cannot read XDP counters"),
            }
        }
        ok_with(body)
    }

    fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// Asks a worker for one call's counters and waits for the answer.
    fn call_stats(
        &mut self,
        worker: usize,
        call: CallSerial,
    ) -> Option<HashMap<SocketKey, StreamStats>> {
        let request = self.request_id();
        self.workers
            .get(worker)?
            .send(WorkerCommand::CallStats { call, request })
            .ok()?;
        match self.wait_for(request)? {
            WorkerEvent::Stats { stats, .. } => Some(stats.into_iter().collect()),
            _ => None,
        }
    }

    /// Waits for the reply to `request`, handling other events meanwhile.
    fn wait_for(&mut self, request: u64) -> Option<WorkerEvent> {
        let deadline = Instant::now() + STATS_WAIT;
        loop {
            while let Some(event) = self.events.pop() {
                match event {
                    WorkerEvent::Stats { request: r, .. }
                    | WorkerEvent::AllStats { request: r, .. }
                        if r == request =>
                    {
                        return Some(event)
                    }
                    other => self.handle_unrequested(other),
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            std::thread::park_timeout(left.min(Duration::from_millis(5)));
        }
    }

    fn flush_commands(&mut self) {
        for (worker, command) in self.engine.take_commands() {
            let Some(w) = self.workers.get(worker) else {
                continue;
            };
            let mut command = command;
            // A full queue means the worker is far behind; wait for room
            // rather than lose a socket or a close.
            let deadline = Instant::now() + Duration::from_secs(1);
            loop {
                match w.try_send(command) {
                    Ok(()) => break,
                    Err(back) if Instant::now() < deadline => {
                        command = back;
                        std::thread::yield_now();
                    }
                    Err(_) => {
                        tracing::error!(worker, "worker command queue stuck; command lost");
                        break;
                    }
                }
            }
        }
    }
}

/// A report body turned into an `ok` reply.
fn ok_with(body: Dict) -> Dict {
    body.with("result", "ok")
}
