//! NG command handling: the call table, offer/answer, delete and the
//! commands that turn decisions into worker instructions. Pure apart
//! from binding sockets (through [`Binder`]): time comes in as `now`,
//! work goes out through [`Engine::take_commands`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sluice_ng::request::{Options, Request};
use sluice_sdp::{MediaSection, SessionDescription};

use super::call::{Call, Leg, MediaPair, Side};
use super::codecs::{self, CodecPlan, CodecPolicy, Negotiation};
use super::crypto_plan::{self, CryptoPlan};
use super::ports::{Binder, BoundPair, PortAllocator};
use super::sdes::{SdesPolicy, SideSdes};
use super::transcoding;
use crate::config::{Config, Interface};
use crate::relay::{CallSerial, LatchPolicy, SocketKey};
use crate::worker::WorkerCommand;

/// Media sections one call may have: a bound on what one SDP can take
/// from the port range.
pub const MAX_MEDIA_PER_CALL: usize = 16;

/// How long a call without an answer is kept without media (a call may
/// ring for a long time before anyone sends a packet).
pub const OFFER_TIMEOUT: Duration = Duration::from_secs(3600);

/// Why an NG command failed: an error reply, or a full server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// Reply `result: error` with this reason.
    #[error("{0}")]
    Error(String),
    /// Reply `result: load limit` (sessions or ports exhausted).
    #[error("load limit")]
    LoadLimit,
}

fn error(reason: impl Into<String>) -> Failure {
    Failure::Error(reason.into())
}

/// Counters about the control plane itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineCounters {
    /// Calls created since start.
    pub calls_created: u64,
    /// Calls removed for lack of media.
    pub calls_timed_out: u64,
    /// Calls removed by `delete`.
    pub calls_deleted: u64,
    /// Offers refused with `load limit`.
    pub load_limited: u64,
    /// NG requests answered with an error.
    pub ng_errors: u64,
    /// NG datagrams dropped because they carry no cookie.
    pub ng_malformed: u64,
}

/// The control thread's state.
pub struct Engine {
    interfaces: Vec<Interface>,
    ports: Vec<PortAllocator>,
    binder: Box<dyn Binder + Send>,
    calls: HashMap<String, Call>,
    by_serial: HashMap<CallSerial, String>,
    next_serial: u64,
    workers: usize,
    max_sessions: usize,
    commands: Vec<(usize, WorkerCommand)>,
    /// Sockets bound for a request in progress, not yet given to a worker.
    pending_sockets: HashMap<SocketKey, UdpSocket>,
    /// SRTP replay window for new keys.
    srtp_replay_window: u16,
    /// Control-plane counters.
    pub counters: EngineCounters,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("calls", &self.calls.len())
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine for `config`, binding sockets through `binder`.
    pub fn new(config: &Config, binder: Box<dyn Binder + Send>) -> Self {
        Self {
            interfaces: config.interfaces.clone(),
            ports: config
                .interfaces
                .iter()
                .map(|_| PortAllocator::new(config.port_min, config.port_max))
                .collect(),
            binder,
            calls: HashMap::new(),
            by_serial: HashMap::new(),
            next_serial: 1,
            workers: config.workers,
            max_sessions: config.max_sessions,
            commands: Vec::new(),
            pending_sockets: HashMap::new(),
            srtp_replay_window: config.srtp_replay_window,
            counters: EngineCounters::default(),
        }
    }

    /// Worker instructions produced since the last call.
    pub fn take_commands(&mut self) -> Vec<(usize, WorkerCommand)> {
        std::mem::take(&mut self.commands)
    }

    /// Number of calls.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// A call by Call-ID.
    pub fn call(&self, call_id: &str) -> Option<&Call> {
        self.calls.get(call_id)
    }

    /// All calls.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// The configured interfaces.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Handles `offer` (`is_offer`) or `answer`; returns the rewritten SDP.
    pub fn offer_answer(
        &mut self,
        req: &Request,
        is_offer: bool,
        now: Instant,
    ) -> Result<String, Failure> {
        let call_id = req
            .call_id
            .as_deref()
            .ok_or_else(|| error("missing key: call-id"))?;
        let from_tag = req
            .from_tag
            .as_deref()
            .ok_or_else(|| error("missing key: from-tag"))?;
        let sdp_text = req
            .sdp
            .as_deref()
            .ok_or_else(|| error("missing key: sdp"))?;
        let mut sdp =
            SessionDescription::parse(sdp_text).map_err(|e| error(format!("bad SDP: {e}")))?;
        if sdp.media().is_empty() {
            return Err(error("SDP has no media sections"));
        }
        if sdp.media().len() > MAX_MEDIA_PER_CALL {
            return Err(error(format!(
                "SDP has {} media sections; at most {MAX_MEDIA_PER_CALL} are relayed",
                sdp.media().len()
            )));
        }
        let opts = &req.options;
        if let Some(proto) = &opts.transport_protocol {
            if !matches!(
                proto.as_str(),
                "RTP/AVP" | "RTP/AVPF" | "RTP/SAVP" | "RTP/SAVPF"
            ) {
                return Err(error(format!(
                    "transport-protocol {proto} is not supported"
                )));
            }
        }
        let interfaces = self.resolve_direction(opts)?;

        let exists = self.calls.contains_key(call_id);
        if !exists {
            if !is_offer {
                return Err(error("Unknown call-id"));
            }
            if self.calls.len() >= self.max_sessions {
                self.counters.load_limited += 1;
                return Err(Failure::LoadLimit);
            }
            self.create_call(call_id, from_tag, now);
        }
        let call = self
            .calls
            .get_mut(call_id)
            .expect("call exists or was just created");
        let from = identify_leg(call, from_tag, req.to_tag.as_deref(), is_offer)?;
        let to = 1 - from;
        if call.legs[from].tag.is_none() || is_offer {
            call.legs[from].tag = Some(from_tag.to_string());
        }
        if call.legs[from].created.is_none() {
            call.legs[from].created = Some(now);
        }
        if is_offer {
            call.last_offerer = from;
            // Interfaces are fixed once sockets exist: a re-INVITE with
            // another (or no) `direction` must not move bound media.
            if call.media.is_empty() {
                call.legs[from].interface = interfaces.0;
                call.legs[to].interface = interfaces.1;
            }
            if let Some(tag) = &req.to_tag {
                if call.legs[to].tag.is_none() {
                    call.legs[to].tag = Some(tag.clone());
                }
            }
        } else {
            call.answered = true;
        }
        call.last_signal = now;
        apply_latch_flags(&mut call.latch, opts);

        let result = self.relay_media(call_id, &mut sdp, from, is_offer, req, now);
        match result {
            Ok(()) => {
                // A new offer or answer revives a call a `delete delay` was
                // about to remove (the proxy tries the next branch).
                if let Some(call) = self.calls.get_mut(call_id) {
                    call.delete_at = None;
                }
                Ok(sdp.to_sdp_string())
            }
            Err(e) => {
                if !exists {
                    self.remove_call(call_id);
                    self.counters.calls_created -= 1;
                }
                if e == Failure::LoadLimit {
                    self.counters.load_limited += 1;
                }
                Err(e)
            }
        }
    }

    fn create_call(&mut self, call_id: &str, from_tag: &str, now: Instant) {
        let serial = CallSerial(self.next_serial);
        self.next_serial += 1;
        let worker = (fnv1a(call_id.as_bytes()) % self.workers as u64) as usize;
        self.calls.insert(
            call_id.to_string(),
            Call {
                serial,
                call_id: call_id.to_string(),
                worker,
                legs: [
                    Leg {
                        tag: Some(from_tag.to_string()),
                        interface: 0,
                        created: Some(now),
                        block_dtmf: false,
                    },
                    Leg::default(),
                ],
                last_offerer: 0,
                media: Vec::new(),
                latch: LatchPolicy::default(),
                created: now,
                last_signal: now,
                answered: false,
                delete_at: None,
            },
        );
        self.by_serial.insert(serial, call_id.to_string());
        self.counters.calls_created += 1;
    }

    fn resolve_direction(&self, opts: &Options) -> Result<(usize, usize), Failure> {
        let find = |name: &str| {
            self.interfaces
                .iter()
                .position(|i| i.name == name)
                .ok_or_else(|| error(format!("unknown interface in direction: {name}")))
        };
        match opts.direction.as_slice() {
            [] => Ok((0, 0)),
            [one] => find(one).map(|i| (i, i)),
            [a, b, ..] => Ok((find(a)?, find(b)?)),
        }
    }

    /// Updates the call's media from the SDP of leg `from` and rewrites it
    /// for the other leg.
    fn relay_media(
        &mut self,
        call_id: &str,
        sdp: &mut SessionDescription,
        from: usize,
        is_offer: bool,
        req: &Request,
        now: Instant,
    ) -> Result<(), Failure> {
        let opts = &req.options;
        let sdes_policy = &SdesPolicy::parse(&opts.sdes).map_err(error)?;
        let to = 1 - from;
        let (iface_from, iface_to, existing, serial, worker) = {
            let call = &self.calls[call_id];
            (
                call.legs[from].interface,
                call.legs[to].interface,
                call.media.len(),
                call.serial,
                call.worker,
            )
        };
        let session_ip = sdp.connection().and_then(|c| c.ip());
        let wanted = sdp.media().len();
        if !is_offer && wanted > existing {
            return Err(error("answer has more media sections than the offer"));
        }

        for (index, section) in sdp.media().iter().enumerate().take(existing) {
            let kind = &self.calls[call_id].media[index].kind;
            if section.kind() != kind {
                return Err(error(format!(
                    "media section {index} changed type from {kind} to {}",
                    section.kind()
                )));
            }
        }
        // Decide SDES for every section before anything changes, so a
        // refused SDP leaves the call as it was.
        let plans = {
            let media = &self.calls[call_id].media;
            sdp.media()
                .iter()
                .enumerate()
                .map(|(index, section)| {
                    crypto_plan::plan(
                        media.get(index),
                        section,
                        from,
                        is_offer,
                        opts.transport_protocol.as_deref(),
                        sdes_policy,
                        self.srtp_replay_window,
                    )
                })
                .collect::<Result<Vec<CryptoPlan>, String>>()
                .map_err(error)?
        };
        let codec_policy = CodecPolicy::from_options(opts);
        let codec_plans = {
            let media = &self.calls[call_id].media;
            sdp.media()
                .iter()
                .enumerate()
                .map(|(index, section)| {
                    codecs::plan(media.get(index), section, from, is_offer, &codec_policy)
                })
                .collect::<Result<Vec<CodecPlan>, String>>()
                .map_err(error)?
        };
        // Allocate sockets for new media sections first, so a failure
        // changes nothing.
        let mut fresh: Vec<MediaPair> = Vec::new();
        for index in existing..wanted {
            let kind = sdp.media()[index].kind().to_string();
            match self.allocate_pair(
                index,
                &kind,
                [
                    iface_for(from, 0, iface_from, iface_to),
                    iface_for(from, 1, iface_from, iface_to),
                ],
            ) {
                Some(pair) => fresh.push(pair),
                None => {
                    for pair in &fresh {
                        self.release_pair(pair);
                    }
                    return Err(Failure::LoadLimit);
                }
            }
        }

        let to_ip = self.interfaces[iface_to].address;
        let call = self
            .calls
            .get_mut(call_id)
            .expect("caller checked the call exists");
        call.media.extend(fresh);
        let mut any_without_own_connection = false;
        let sections = sdp.media_mut().iter_mut().enumerate();
        for ((index, section), (plan, codec_plan)) in
            sections.zip(plans.into_iter().zip(codec_plans))
        {
            let pair = &mut call.media[index];
            update_side(&mut pair.sides[from], section, session_ip, req, is_offer);
            crypto_plan::apply(plan, pair, section, from);
            codecs::apply(codec_plan, pair, section);
            let held = section
                .connection()
                .and_then(|c| c.ip())
                .or(session_ip)
                .filter(IpAddr::is_unspecified);
            rewrite_section(section, pair, to, to_ip, is_offer, opts);
            if let Some(zero) = held.filter(|_| !opts.replace.zero_address) {
                // Old-style hold (c=0.0.0.0) passes through unless
                // `replace: zero-address` asks otherwise.
                section.set_connection(zero);
            }
            if section.connection().is_none() && !section.is_rejected() {
                any_without_own_connection = true;
            }
        }
        if any_without_own_connection || sdp.connection().is_some() {
            sdp.set_or_insert_connection(to_ip);
        }
        if opts.replace.origin {
            sdp.set_origin_address(to_ip);
        }
        if opts.replace.session_name {
            sdp.set_session_name("sluice");
        }
        if opts.replace.sdp_version {
            sdp.bump_origin_version();
        }
        sdp.remove_ice();

        // Tell the worker: open new sockets, then (re)configure all.
        let latch = call.latch;
        for pair in &call.media[existing..] {
            for side in &pair.sides {
                for key in [side.rtp, side.rtcp] {
                    let socket = self.pending_sockets.remove(&key).expect("allocated above");
                    self.commands.push((
                        worker,
                        WorkerCommand::Open {
                            key,
                            socket,
                            call: serial,
                            now,
                        },
                    ));
                }
            }
        }
        // The transcoder first: a socket configured to feed it must find
        // its section set up.
        transcoding::sync(call, &mut self.commands);
        for pair in &call.media {
            for leg in 0..2 {
                let block_dtmf = call.legs[leg].block_dtmf;
                for (key, config) in pair.socket_configs(leg, serial, latch, block_dtmf) {
                    self.commands.push((
                        worker,
                        WorkerCommand::Configure {
                            key,
                            config: Box::new(config),
                        },
                    ));
                }
            }
        }
        Ok(())
    }

    fn allocate_pair(
        &mut self,
        index: usize,
        kind: &str,
        interfaces: [usize; 2],
    ) -> Option<MediaPair> {
        let mut sides: Vec<Side> = Vec::with_capacity(2);
        for &iface in &interfaces {
            let ip = self.interfaces[iface].address;
            let Some(BoundPair {
                rtp_port,
                rtp,
                rtcp,
            }) = self.ports[iface].allocate(ip, self.binder.as_mut())
            else {
                for side in &sides {
                    self.release_side(side);
                }
                return None;
            };
            let iface16 = u16::try_from(iface).expect("fewer than 65536 interfaces");
            let side = Side {
                rtp: SocketKey::new(iface16, rtp_port),
                rtcp: SocketKey::new(iface16, rtp_port + 1),
                remote_rtp: None,
                remote_rtcp: None,
                rtcp_mux: false,
                protocol: String::new(),
                sdes: SideSdes::default(),
                telephone_event: None,
            };
            self.pending_sockets.insert(side.rtp, rtp);
            self.pending_sockets.insert(side.rtcp, rtcp);
            sides.push(side);
        }
        let [a, b]: [Side; 2] = sides.try_into().ok()?;
        Some(MediaPair {
            index,
            kind: kind.to_string(),
            sides: [a, b],
            transcode: None,
            codecs: Negotiation::default(),
        })
    }

    fn release_side(&mut self, side: &Side) {
        self.pending_sockets.remove(&side.rtp);
        self.pending_sockets.remove(&side.rtcp);
        self.ports[usize::from(side.rtp.interface())].release(side.rtp.port());
    }

    fn release_pair(&mut self, pair: &MediaPair) {
        for side in &pair.sides {
            self.release_side(side);
        }
    }

    /// Removes a call at once: closes its sockets and frees its ports.
    pub fn remove_call(&mut self, call_id: &str) -> Option<Call> {
        let call = self.calls.remove(call_id)?;
        self.by_serial.remove(&call.serial);
        transcoding::remove_all(&call, &mut self.commands);
        for key in call.socket_keys() {
            self.commands
                .push((call.worker, WorkerCommand::Close { key }));
        }
        for pair in &call.media {
            self.release_pair(pair);
        }
        Some(call)
    }

    /// Handles `delete`: removes the call now or after `delete delay`.
    /// `Ok(None)` means the call is unknown and `fatal` was not given.
    pub fn delete(&mut self, req: &Request, now: Instant) -> Result<Option<Call>, Failure> {
        let call_id = req
            .call_id
            .as_deref()
            .ok_or_else(|| error("missing key: call-id"))?;
        let Some(call) = self.calls.get_mut(call_id) else {
            return if req.options.flags.fatal {
                Err(error("Unknown call-id"))
            } else {
                Ok(None)
            };
        };
        // A `to-tag` naming no leg of this dialogue is a failed branch of a
        // forked call: the call itself stays.
        if let Some(tag) = &req.to_tag {
            if call.leg_of(tag).is_none() && !req.options.flags.all {
                return Ok(None);
            }
        }
        if let Some(tag) = &req.from_tag {
            if call.leg_of(tag).is_none() && !req.options.flags.all {
                return if req.options.flags.fatal {
                    Err(error("Unknown from-tag"))
                } else {
                    Ok(None)
                };
            }
        }
        call.last_signal = now;
        match req.options.delete_delay {
            Some(delay) if delay > 0 => {
                call.delete_at = Some(now + Duration::from_secs(u64::from(delay)));
                Ok(Some(call.clone()))
            }
            _ => {
                self.counters.calls_deleted += 1;
                Ok(self.remove_call(call_id))
            }
        }
    }

    /// Removes calls whose `delete delay` has passed.
    pub fn run_delayed_deletes(&mut self, now: Instant) {
        let due: Vec<String> = self
            .calls
            .values()
            .filter(|c| c.delete_at.is_some_and(|t| t <= now))
            .map(|c| c.call_id.clone())
            .collect();
        for id in due {
            self.counters.calls_deleted += 1;
            self.remove_call(&id);
        }
    }

    /// Removes calls a worker found idle past the timeout, except calls
    /// still waiting for an answer, which get [`OFFER_TIMEOUT`] from their
    /// last signal.
    pub fn expire(&mut self, serials: &[CallSerial], now: Instant) {
        for serial in serials {
            let Some(call) = self.by_serial.get(serial).and_then(|id| self.calls.get(id)) else {
                continue;
            };
            if !call.answered && now.duration_since(call.last_signal) < OFFER_TIMEOUT {
                continue;
            }
            if let Some(id) = self.by_serial.get(serial).cloned() {
                tracing::info!(call_id = %id, "no media within the timeout; removing call");
                self.counters.calls_timed_out += 1;
                self.remove_call(&id);
            }
        }
    }

    /// Workers in use.
    pub fn workers(&self) -> usize {
        self.workers
    }
}

/// Interface for side `side` when leg `from` offers on `from_iface` and
/// the other leg uses `to_iface`.
fn iface_for(from: usize, side: usize, from_iface: usize, to_iface: usize) -> usize {
    if side == from {
        from_iface
    } else {
        to_iface
    }
}

/// Which leg sent this SDP.
fn identify_leg(
    call: &mut Call,
    from_tag: &str,
    to_tag: Option<&str>,
    is_offer: bool,
) -> Result<usize, Failure> {
    if is_offer {
        if let Some(leg) = call.leg_of(from_tag) {
            return Ok(leg);
        }
        // A new tag re-offering: the callee if it names the caller as its
        // peer, otherwise a new caller branch.
        if to_tag.is_some() && to_tag == call.legs[0].tag.as_deref() {
            return Ok(1);
        }
        return Ok(call.last_offerer);
    }
    // Answer: the SDP belongs to whichever tag is not the offerer's.
    let offerer_tag = call.legs[call.last_offerer].tag.clone();
    let answerer = 1 - call.last_offerer;
    let answer_tag = if offerer_tag.as_deref() == Some(from_tag) {
        to_tag.ok_or_else(|| error("missing key: to-tag"))?
    } else if to_tag.is_some() && offerer_tag.as_deref() == to_tag {
        from_tag
    } else {
        return Err(error("Unknown from-tag"));
    };
    call.legs[answerer].tag = Some(answer_tag.to_string());
    Ok(answerer)
}

fn apply_latch_flags(latch: &mut LatchPolicy, opts: &Options) {
    let f = &opts.flags;
    if f.asymmetric {
        latch.learn = false;
    }
    if f.symmetric {
        latch.learn = true;
    }
    latch.strict_source |= f.strict_source;
    latch.media_handover |= f.media_handover;
}

/// Records what leg `side` announces in its media section.
fn update_side(
    side: &mut Side,
    section: &MediaSection,
    session_ip: Option<IpAddr>,
    req: &Request,
    is_offer: bool,
) {
    let sdp_ip = section.connection().and_then(|c| c.ip()).or(session_ip);
    let ip = if req.options.flags.sip_source_address && !req.options.flags.trust_address {
        req.received_from.or(sdp_ip)
    } else {
        sdp_ip
    };
    let port = section.port();
    let usable = ip.filter(|ip| !ip.is_unspecified()).filter(|_| port != 0);
    side.remote_rtp = usable.map(|ip| SocketAddr::new(ip, port));
    let offered_mux = section.is_rtcp_mux();
    side.rtcp_mux = if is_offer {
        offered_mux && !req.options.rtcp_mux.reject
    } else {
        offered_mux
    };
    side.remote_rtcp = usable.map(|ip| match section.rtcp() {
        _ if side.rtcp_mux => SocketAddr::new(ip, port),
        Some(rtcp) => SocketAddr::new(rtcp.address.unwrap_or(ip), rtcp.port),
        None => SocketAddr::new(ip, port.saturating_add(1)),
    });
    side.protocol = section.protocol().to_string();
}

/// Points one media section at the relay sockets facing leg `to`.
fn rewrite_section(
    section: &mut MediaSection,
    pair: &mut MediaPair,
    to: usize,
    to_ip: IpAddr,
    is_offer: bool,
    opts: &Options,
) {
    if section.is_rejected() {
        return;
    }
    let from_mux = pair.sides[1 - to].rtcp_mux;
    let target = &mut pair.sides[to];
    section.set_port(target.rtp.port());
    if section.connection().is_some() {
        section.set_connection(to_ip);
    }
    if is_offer {
        if let Some(proto) = &opts.transport_protocol {
            section.set_protocol(proto);
        }
        target.protocol = section.protocol().to_string();
    } else if !target.protocol.is_empty() && !section.is_rejected() {
        // The offerer gets its own protocol back, whatever the answerer
        // speaks: the relay converts between them.
        section.set_protocol(&target.protocol);
    }
    let mux_toward_target = if is_offer {
        (from_mux && !opts.rtcp_mux.demux) || opts.rtcp_mux.offer || opts.rtcp_mux.require
    } else {
        target.rtcp_mux
    };
    if mux_toward_target {
        if !section.is_rtcp_mux() {
            section.add_attribute("rtcp-mux", None);
        }
    } else {
        section.remove_attributes(&["rtcp-mux"]);
    }
    let rtcp_port = if mux_toward_target && !is_offer {
        target.rtp.port()
    } else {
        target.rtcp.port()
    };
    section.set_rtcp(rtcp_port, None);
    section.remove_ice();
}

/// FNV-1a: spreads Call-IDs over workers, stable across restarts.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

mod dtmf;

#[cfg(test)]
mod tests;
