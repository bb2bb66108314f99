//! The forwarding table one worker owns: its sockets, where each one's
//! packets go, latching, and counters. Pure: no sockets, no clock; the
//! worker's driver feeds it packets and carries out its verdicts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use sluice_rtp::{classify, PacketKind};

use super::counters::{DropReason, StreamStats};
use super::crypto::{SocketCrypto, Transforms};
use super::dtmf::{LastEnd, SeenDigit};
use super::offload::{self, FlowSpec, Inbound, Offload, Outbound};

/// Identifies a local media socket across the control thread and the
/// workers: interface index in the high half, port in the low half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey(pub u32);

impl SocketKey {
    /// The key of `port` on interface number `interface`.
    pub fn new(interface: u16, port: u16) -> Self {
        Self(u32::from(interface) << 16 | u32::from(port))
    }

    /// The local port.
    pub fn port(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The interface index.
    pub fn interface(self) -> u16 {
        (self.0 >> 16) as u16
    }
}

/// A call as workers know it: a number, not a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallSerial(pub u64);

/// What a socket was negotiated to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// RTP, and RTCP too when the leg multiplexes (RFC 5761).
    Rtp,
    /// RTCP only.
    Rtcp,
}

/// How a socket learns and trusts its remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatchPolicy {
    /// Learn the remote from the first packet (symmetric RTP). When
    /// false (`asymmetric`), media always goes to the SDP address.
    pub learn: bool,
    /// Before latching, accept only the SDP address (and, when not
    /// learning, never anything else). After latching, packets from other
    /// addresses are dropped whatever this says.
    pub strict_source: bool,
    /// Re-learn whenever a packet comes from a new address (NAT
    /// rebinding, a moved endpoint) instead of dropping it.
    pub media_handover: bool,
}

impl Default for LatchPolicy {
    fn default() -> Self {
        Self {
            learn: true,
            strict_source: false,
            media_handover: false,
        }
    }
}

/// Everything the control thread decides about one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    /// The call the socket belongs to.
    pub call: CallSerial,
    /// What it carries.
    pub role: Role,
    /// The remote endpoint the SDP names for this leg, if any.
    pub sdp_remote: Option<SocketAddr>,
    /// The socket RTP received here leaves through.
    pub rtp_out: Option<SocketKey>,
    /// The socket RTCP received here leaves through.
    pub rtcp_out: Option<SocketKey>,
    /// Latching behaviour.
    pub latch: LatchPolicy,
    /// SRTP keys: what arrives here is unprotected with `rx`, what leaves
    /// through here is protected with `tx`.
    pub crypto: SocketCrypto,
    /// Transcoding and DTMF handling of what arrives here.
    pub media: MediaHandling,
}

/// What the worker does to media received on a socket beyond relaying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaHandling {
    /// Packets received here go to the transcoder pool instead of
    /// straight to the other leg (the legs share no codec, or `ptime`,
    /// `always transcode` or `inject DTMF` asked for it).
    pub transcode: Option<TranscodeRoute>,
    /// The sender's telephone-event payload type, if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// `block DTMF`: telephone-events from this leg are dropped.
    pub block_dtmf: bool,
}

/// Which transcoded section a socket feeds, and as which leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscodeRoute {
    /// The `m=` section index.
    pub media: u16,
    /// The leg the socket faces (the sender of what arrives).
    pub leg: u8,
    /// RTP goes to the transcoder too (false: only RTCP does, and RTP of
    /// this direction is relayed unchanged).
    pub rtp: bool,
}

/// A handle to a live slot, checked against reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRef {
    /// Index into the slab.
    pub index: u32,
    /// Generation of the slot when the handle was made.
    pub generation: u32,
}

/// What to do with a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the first `len` bytes of the buffer out of `out` to `to`.
    Forward {
        /// Slot of the socket to send from.
        out: SlotRef,
        /// Destination.
        to: SocketAddr,
        /// Length to send (differs from the received length when SRTP
        /// was removed or added).
        len: usize,
        /// The packet is RTCP (counted as such).
        rtcp: bool,
    },
    /// Hand the first `len` bytes (SRTP removed) to the transcoder pool:
    /// the stream's legs share no codec.
    Transcode {
        /// The call.
        call: CallSerial,
        /// The media section and sending leg.
        route: TranscodeRoute,
        /// Plain length.
        len: usize,
        /// The packet is RTCP.
        rtcp: bool,
    },
    /// Drop it; the reason is already counted.
    Drop(DropReason),
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    live: Option<Live>,
}

#[derive(Debug)]
struct Live {
    key: SocketKey,
    config: SocketConfig,
    rtp_out: Option<SlotRef>,
    rtcp_out: Option<SlotRef>,
    latched: Option<SocketAddr>,
    created: Instant,
    stats: StreamStats,
    srtp: Transforms,
    /// The socket's bound address (for the fast path's rewrite).
    local: Option<SocketAddr>,
    /// The fast path's copy of this stream, if it holds one.
    offload: Option<Offload>,
    /// The last telephone-event end seen here (pass-through digits).
    dtmf_end: LastEnd,
}

impl Live {
    fn remote(&self) -> Option<SocketAddr> {
        if self.config.latch.learn {
            self.latched.or(self.config.sdp_remote)
        } else {
            self.config.sdp_remote
        }
    }
}

/// A packet that passed the receive checks.
#[derive(Debug, Clone, Copy)]
struct Received {
    rtcp: bool,
    /// The packet moved the latch.
    latched: bool,
    /// Length after SRTP was removed.
    plain_len: usize,
}

/// The sockets of one worker.
#[derive(Debug, Default)]
pub struct RelayTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_key: HashMap<SocketKey, u32>,
    /// Whether latches and route changes are recorded for the fast path.
    track_offloads: bool,
    /// Sockets whose fast-path flow may need installing, changing or
    /// removing (see [`RelayTable::take_offload_changes`]).
    dirty: Vec<SlotRef>,
    /// Telephone-events that ended in pass-through streams, to report
    /// (see [`RelayTable::take_digits`]).
    digits: Vec<SeenDigit>,
}

impl RelayTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live sockets.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are no sockets.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds a socket (not yet configured: it drops everything with
    /// `NoDestination` until [`RelayTable::configure`]).
    pub fn insert(&mut self, key: SocketKey, call: CallSerial, now: Instant) -> SlotRef {
        if let Some(old) = self.lookup(key) {
            self.remove(key);
            debug_assert!(self.get(old).is_none());
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    live: None,
                });
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 sockets per worker")
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.live = Some(Live {
            key,
            config: SocketConfig {
                call,
                role: Role::Rtp,
                sdp_remote: None,
                rtp_out: None,
                rtcp_out: None,
                latch: LatchPolicy::default(),
                crypto: SocketCrypto::default(),
                media: MediaHandling::default(),
            },
            rtp_out: None,
            rtcp_out: None,
            latched: None,
            created: now,
            stats: StreamStats::default(),
            srtp: Transforms::default(),
            local: None,
            offload: None,
            dtmf_end: LastEnd::default(),
        });
        self.by_key.insert(key, index);
        SlotRef {
            index,
            generation: slot.generation,
        }
    }

    /// Applies the control thread's decisions to a socket. Output sockets
    /// must already be inserted; a missing one leaves that route empty.
    /// Returns false if `key` is unknown.
    pub fn configure(&mut self, key: SocketKey, config: SocketConfig) -> bool {
        let rtp_out = config.rtp_out.and_then(|k| self.lookup(k));
        let rtcp_out = config.rtcp_out.and_then(|k| self.lookup(k));
        let Some(live) = self.live_by_key_mut(key) else {
            return false;
        };
        if live.config.sdp_remote != config.sdp_remote {
            // The endpoint moved (re-INVITE): learn it afresh.
            live.latched = None;
        }
        live.srtp.update(&config.crypto);
        live.config = config;
        live.rtp_out = rtp_out;
        live.rtcp_out = rtcp_out;
        if let Some(slot) = self.lookup(key) {
            self.mark_offload_change(slot);
        }
        true
    }

    /// Removes a socket; returns its slot if it was live. A fast-path
    /// flow it still holds must be taken first
    /// ([`RelayTable::set_offload`]); the stream feeding it is marked for
    /// review.
    pub fn remove(&mut self, key: SocketKey) -> Option<SlotRef> {
        if let Some(slot) = self.lookup(key) {
            self.mark_offload_change(slot);
        }
        let index = self.by_key.remove(&key)?;
        let slot = &mut self.slots[index as usize];
        let r = SlotRef {
            index,
            generation: slot.generation,
        };
        slot.live = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        Some(r)
    }

    /// The live slot for `key`.
    pub fn lookup(&self, key: SocketKey) -> Option<SlotRef> {
        let index = *self.by_key.get(&key)?;
        Some(SlotRef {
            index,
            generation: self.slots[index as usize].generation,
        })
    }

    /// The live slot at `index`, with its current generation.
    pub fn slot_at(&self, index: u32) -> Option<SlotRef> {
        let s = self.slots.get(index as usize)?;
        s.live.as_ref().map(|_| SlotRef {
            index,
            generation: s.generation,
        })
    }

    /// The call a live slot belongs to.
    pub fn call_of(&self, slot: SlotRef) -> Option<CallSerial> {
        self.get(slot).map(|l| l.config.call)
    }

    /// The key of a live slot.
    pub fn key_of(&self, slot: SlotRef) -> Option<SocketKey> {
        self.get(slot).map(|l| l.key)
    }

    fn get(&self, slot: SlotRef) -> Option<&Live> {
        let s = self.slots.get(slot.index as usize)?;
        (s.generation == slot.generation)
            .then_some(s.live.as_ref())
            .flatten()
    }

    fn get_mut(&mut self, slot: SlotRef) -> Option<&mut Live> {
        let s = self.slots.get_mut(slot.index as usize)?;
        if s.generation == slot.generation {
            s.live.as_mut()
        } else {
            None
        }
    }

    fn live_by_key_mut(&mut self, key: SocketKey) -> Option<&mut Live> {
        let slot = self.lookup(key)?;
        self.get_mut(slot)
    }

    /// Decides what happens to the packet in `buf[..len]`, received on
    /// `slot` from `source` at `now`; `truncated` is the kernel's word that
    /// it did not fit. SRTP is removed and added in place, so `buf` must
    /// extend [`SRTP_TAILROOM`](super::SRTP_TAILROOM) bytes past `len`.
    /// Counts the packet either way. Never allocates (with the fast path
    /// on, noting a latch may grow a vector once).
    pub fn handle_packet(
        &mut self,
        slot: SlotRef,
        source: SocketAddr,
        buf: &mut [u8],
        len: usize,
        truncated: bool,
        now: Instant,
    ) -> Verdict {
        let Some(live) = self.get_mut(slot) else {
            // A completion for a socket closed meanwhile; nothing to count.
            return Verdict::Drop(DropReason::NoDestination);
        };
        let received = match Self::receive(live, source, buf, len, truncated) {
            Ok(received) => received,
            Err(reason) => {
                // Junk, forgeries and strangers are counted but are not
                // activity: they must not keep a dead call (and its ports)
                // alive.
                live.stats.drop(reason);
                return Verdict::Drop(reason);
            }
        };
        live.stats.note_packet(now);
        if let Some(route) = live.config.media.transcode {
            if received.rtcp || route.rtp {
                let call = live.config.call;
                if received.rtcp {
                    live.stats.rtcp.add(len);
                } else {
                    live.stats.rtp.add(len);
                }
                return Verdict::Transcode {
                    call,
                    route,
                    len: received.plain_len,
                    rtcp: received.rtcp,
                };
            }
        }
        let mut seen = None;
        if !received.rtcp && is_dtmf(live, buf) {
            if live.config.media.block_dtmf {
                return self.drop_received(slot, DropReason::DtmfBlocked);
            }
            seen = live.dtmf_end.end_of_event(&buf[..received.plain_len]).map(
                |(event, duration, volume)| SeenDigit {
                    call: live.config.call,
                    socket: live.key,
                    event,
                    duration,
                    volume,
                },
            );
        }
        let out = if received.rtcp {
            live.rtcp_out
        } else {
            live.rtp_out
        };
        self.digits.extend(seen);
        if received.latched {
            self.mark_offload_change(slot);
        }
        let Some((out, out_live)) = out.and_then(|o| self.get_mut(o).map(|l| (o, l))) else {
            return self.drop_received(slot, DropReason::NoDestination);
        };
        let Some(to) = out_live.remote() else {
            return self.drop_received(slot, DropReason::NoDestination);
        };
        let sent = match out_live
            .srtp
            .protect(buf, received.plain_len, received.rtcp)
        {
            Ok(sent) => sent,
            Err(reason) => return self.drop_received(slot, reason),
        };
        let live = self
            .get_mut(slot)
            .expect("slot was live a moment ago and nothing removed it");
        if received.rtcp {
            live.stats.rtcp.add(len);
        } else {
            live.stats.rtp.add(len);
        }
        Verdict::Forward {
            out,
            to,
            len: sent,
            rtcp: received.rtcp,
        }
    }

    /// Prepares a packet the transcoder produced for sending from `out`:
    /// adds SRTP in place (`buf` needs the tail room) and counts it.
    /// Returns the destination and the length to send.
    pub fn prepare_generated(
        &mut self,
        out: SlotRef,
        buf: &mut [u8],
        len: usize,
        rtcp: bool,
    ) -> Result<(SocketAddr, usize), DropReason> {
        let live = self.get_mut(out).ok_or(DropReason::NoDestination)?;
        let to = live.remote().ok_or(DropReason::NoDestination)?;
        let sent = live.srtp.protect(buf, len, rtcp)?;
        live.stats.transcoded.add(sent);
        Ok((to, sent))
    }

    fn drop_received(&mut self, slot: SlotRef, reason: DropReason) -> Verdict {
        if let Some(live) = self.get_mut(slot) {
            live.stats.drop(reason);
        }
        Verdict::Drop(reason)
    }

    /// Classifies, checks the source, removes SRTP and latches: what is
    /// left is a packet worth forwarding.
    fn receive(
        live: &mut Live,
        source: SocketAddr,
        buf: &mut [u8],
        len: usize,
        truncated: bool,
    ) -> Result<Received, DropReason> {
        if truncated || len > buf.len() {
            return Err(DropReason::Oversize);
        }
        let rtcp = match (classify(&buf[..len]), live.config.role) {
            (PacketKind::Unknown, _) => return Err(DropReason::Malformed),
            (PacketKind::Rtcp, _) => true,
            (PacketKind::Rtp, Role::Rtp) => false,
            (PacketKind::Rtp, Role::Rtcp) => return Err(DropReason::RtpOnRtcpPort),
        };
        let learn = Self::check_source(live, source)?;
        // Authenticate before learning anything from the packet: a forged
        // packet must not move the latch.
        let plain_len = live.srtp.unprotect(buf, len, rtcp)?;
        if learn {
            live.latched = Some(source);
        }
        Ok(Received {
            rtcp,
            latched: learn,
            plain_len,
        })
    }

    /// Source checks under the latch policy; `Ok(true)` means the packet
    /// latches `source` once it proves genuine.
    fn check_source(live: &Live, source: SocketAddr) -> Result<bool, DropReason> {
        let policy = live.config.latch;
        let sdp_address = live.config.sdp_remote == Some(source);
        let from_sdp_address = live.config.sdp_remote.is_none_or(|r| r == source);
        if !policy.learn {
            // Asymmetric: nothing is learned; strict source still checks.
            if policy.strict_source && !from_sdp_address {
                return Err(DropReason::WrongSource);
            }
            return Ok(false);
        }
        match live.latched {
            None if policy.strict_source && !from_sdp_address => Err(DropReason::WrongSource),
            None => Ok(true),
            Some(known) if known == source => Ok(false),
            // The address the SDP names always wins the latch back: a
            // stranger who got in first holds it only until the real peer
            // speaks.
            Some(_) if sdp_address || policy.media_handover => Ok(true),
            // Once latched, a stranger's packets never reach the other
            // leg: no injection, no media bleed between calls.
            Some(_) => Err(DropReason::WrongSource),
        }
    }

    /// Moves the digits seen since the last call into `into`.
    pub fn take_digits(&mut self, into: &mut Vec<SeenDigit>) {
        into.append(&mut self.digits);
    }

    /// Whether digits wait to be taken.
    pub fn has_digits(&self) -> bool {
        !self.digits.is_empty()
    }

    /// Moves a packet already counted as forwarded to the `SendFailed`
    /// drops, when the kernel refused to send it.
    pub fn count_send_failure(&mut self, slot: SlotRef, is_rtcp: bool, len: usize) {
        self.count_undelivered(slot, is_rtcp, len, DropReason::SendFailed);
    }

    /// Moves a packet already counted as forwarded to the drops for
    /// `reason` (the kernel refused it, the transcoder queue was full).
    pub fn count_undelivered(
        &mut self,
        slot: SlotRef,
        is_rtcp: bool,
        len: usize,
        reason: DropReason,
    ) {
        if let Some(live) = self.get_mut(slot) {
            let counter = if is_rtcp {
                &mut live.stats.rtcp
            } else {
                &mut live.stats.rtp
            };
            counter.packets = counter.packets.saturating_sub(1);
            counter.bytes = counter.bytes.saturating_sub(len as u64);
            live.stats.drop(reason);
        }
    }

    /// Counts a packet the driver dropped on its own (a send the kernel
    /// refused, a receive it could not read), against the socket it came
    /// in on.
    pub fn count_drop(&mut self, slot: SlotRef, reason: DropReason) {
        if let Some(live) = self.get_mut(slot) {
            live.stats.drop(reason);
        }
    }

    /// Counters of every socket of `call`.
    pub fn call_stats(
        &self,
        call: CallSerial,
    ) -> impl Iterator<Item = (SocketKey, StreamStats)> + '_ {
        self.lives()
            .filter(move |l| l.config.call == call)
            .map(|l| (l.key, l.stats_with_latch()))
    }

    /// Counters of every socket.
    pub fn all_stats(&self) -> impl Iterator<Item = (CallSerial, SocketKey, StreamStats)> + '_ {
        self.lives()
            .map(|l| (l.config.call, l.key, l.stats_with_latch()))
    }

    /// Calls none of whose sockets has seen a packet since `deadline`
    /// (sockets that never saw one count from their creation).
    pub fn idle_calls(&self, deadline: Instant) -> Vec<CallSerial> {
        let mut latest: HashMap<CallSerial, Instant> = HashMap::new();
        for l in self.lives() {
            let seen = l.stats.last_packet.unwrap_or(l.created).max(l.created);
            latest
                .entry(l.config.call)
                .and_modify(|t| *t = (*t).max(seen))
                .or_insert(seen);
        }
        latest
            .into_iter()
            .filter(|(_, t)| *t < deadline)
            .map(|(c, _)| c)
            .collect()
    }

    /// Starts recording which streams the fast path should review (off
    /// by default: without a fast path nothing needs it).
    pub fn track_offloads(&mut self) {
        self.track_offloads = true;
    }

    /// Records that `slot`'s flow, and that of the stream feeding the
    /// socket it sends to, may have changed.
    fn mark_offload_change(&mut self, slot: SlotRef) {
        if !self.track_offloads {
            return;
        }
        let peer = self.get(slot).and_then(|l| l.rtp_out);
        self.dirty.push(slot);
        self.dirty.extend(peer);
    }

    /// Moves into `into` the sockets whose flow may need installing,
    /// changing or removing since the last call (stale handles included;
    /// they resolve to nothing). Both vectors keep their capacity.
    pub fn take_offload_changes(&mut self, into: &mut Vec<SlotRef>) {
        into.clear();
        into.append(&mut self.dirty);
    }

    /// Records the address a socket is bound to.
    pub fn set_local(&mut self, slot: SlotRef, local: SocketAddr) {
        if let Some(live) = self.get_mut(slot) {
            live.local = Some(local);
        }
    }

    /// The flow the fast path should hold for packets arriving on `slot`
    /// right now, if they need nothing but a rewrite.
    pub fn desired_flow(&self, slot: SlotRef) -> Option<FlowSpec> {
        let live = self.get(slot)?;
        let media = live.config.media;
        if media.transcode.is_some_and(|r| r.rtp) {
            // The payload changes.
            return None;
        }
        let out = self.get(live.rtp_out?)?;
        // Muxed RTCP goes the RTP route; a separate RTCP route is fine too
        // since RTCP never takes the fast path.
        let inbound = Inbound {
            local: live.local,
            role: live.config.role,
            latch: live.config.latch,
            latched: live.latched,
            sdp_remote: live.config.sdp_remote,
            plain: live.srtp.rx_is_plain(),
            // Telephone-events come up to the worker (reported, blocked
            // with `block DTMF`); the audio stays in the kernel.
            dtmf_payload_type: media.dtmf_payload_type,
        };
        let outbound = Outbound {
            local: out.local,
            remote: out.remote(),
            plain: out.srtp.tx_is_plain(),
        };
        offload::flow_for(&inbound, &outbound)
    }

    /// The flow the fast path holds for `slot`.
    pub fn offload(&self, slot: SlotRef) -> Option<Offload> {
        self.get(slot)?.offload
    }

    /// Records what the fast path holds for `slot` now.
    pub fn set_offload(&mut self, slot: SlotRef, offload: Option<Offload>) {
        if let Some(live) = self.get_mut(slot) {
            live.offload = offload;
        }
    }

    /// Folds the fast path's running `total` for `slot` into the
    /// stream's counters; new packets count as activity at `now`.
    pub fn count_offloaded(&mut self, slot: SlotRef, total: super::Counter, now: Instant) {
        let Some(live) = self.get_mut(slot) else {
            return;
        };
        let Some(offload) = live.offload.as_mut() else {
            return;
        };
        let packets = total.packets.saturating_sub(offload.seen.packets);
        let bytes = total.bytes.saturating_sub(offload.seen.bytes);
        offload.seen = total;
        if packets > 0 {
            let delta = super::Counter { packets, bytes };
            live.stats.rtp = live.stats.rtp.plus(delta);
            live.stats.xdp = live.stats.xdp.plus(delta);
            live.stats.note_packet(now);
        }
    }

    /// Sockets the fast path holds a flow for: only `call`'s if given,
    /// and only those without a packet since `quiet_since` if given (the
    /// idle sweep needs to read no others).
    pub fn offloaded(
        &self,
        call: Option<CallSerial>,
        quiet_since: Option<Instant>,
    ) -> Vec<(SlotRef, Offload)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, s)| {
                let live = s.live.as_ref()?;
                if call.is_some_and(|c| c != live.config.call) {
                    return None;
                }
                if let (Some(since), Some(last)) = (quiet_since, live.stats.last_packet) {
                    if last >= since {
                        return None;
                    }
                }
                let slot = SlotRef {
                    index: u32::try_from(index).ok()?,
                    generation: s.generation,
                };
                Some((slot, live.offload?))
            })
            .collect()
    }

    /// Keys of all live sockets.
    pub fn keys(&self) -> impl Iterator<Item = SocketKey> + '_ {
        self.by_key.keys().copied()
    }

    fn lives(&self) -> impl Iterator<Item = &Live> {
        self.slots.iter().filter_map(|s| s.live.as_ref())
    }
}

impl Live {
    fn stats_with_latch(&self) -> StreamStats {
        StreamStats {
            latched: self.remote(),
            xdp_active: self.offload.is_some(),
            ..self.stats
        }
    }
}

/// Whether the RTP packet in `buf` carries the sender's negotiated
/// telephone-event payload type.
fn is_dtmf(live: &Live, buf: &[u8]) -> bool {
    live.config
        .media
        .dtmf_payload_type
        .is_some_and(|pt| buf.get(1).is_some_and(|b| b & 0x7f == pt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const A: SocketKey = SocketKey(1000);
    const B: SocketKey = SocketKey(1002);

    fn rtp() -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
        p.extend_from_slice(&[0xff; 160]);
        p
    }

    /// Feeds a copy of `packet` (with SRTP tailroom) to the table; plain
    /// forwarding keeps the length.
    fn feed(
        t: &mut RelayTable,
        slot: SlotRef,
        from: SocketAddr,
        packet: &[u8],
        truncated: bool,
        now: Instant,
    ) -> Result<(SlotRef, SocketAddr), DropReason> {
        let mut buf = packet.to_vec();
        buf.resize(packet.len() + crate::relay::SRTP_TAILROOM, 0);
        match t.handle_packet(slot, from, &mut buf, packet.len(), truncated, now) {
            Verdict::Forward { out, to, len, .. } => {
                assert_eq!(len, packet.len());
                Ok((out, to))
            }
            Verdict::Drop(reason) => Err(reason),
            other => panic!("a pass-through call got {other:?}"),
        }
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A call: socket A faces the caller at :5000, socket B faces the callee at :6000.
    fn call(latch: LatchPolicy) -> (RelayTable, SlotRef, SlotRef, Instant) {
        let now = Instant::now();
        let mut t = RelayTable::new();
        let a = t.insert(A, CallSerial(1), now);
        let b = t.insert(B, CallSerial(1), now);
        let cfg = |remote: u16, out: SocketKey| SocketConfig {
            call: CallSerial(1),
            role: Role::Rtp,
            sdp_remote: Some(addr(remote)),
            rtp_out: Some(out),
            rtcp_out: Some(out),
            latch,
            crypto: SocketCrypto::default(),
            media: MediaHandling::default(),
        };
        assert!(t.configure(A, cfg(5000, B)));
        assert!(t.configure(B, cfg(6000, A)));
        (t, a, b, now)
    }

    /// Re-configures socket `key` (out `out`, SDP peer `remote`) with
    /// `media` handling.
    fn handle_with(
        t: &mut RelayTable,
        key: SocketKey,
        remote: u16,
        out: SocketKey,
        media: MediaHandling,
    ) {
        assert!(t.configure(
            key,
            SocketConfig {
                call: CallSerial(1),
                role: Role::Rtp,
                sdp_remote: Some(addr(remote)),
                rtp_out: Some(out),
                rtcp_out: Some(out),
                latch: LatchPolicy::default(),
                crypto: SocketCrypto::default(),
                media,
            },
        ));
    }

    #[test]
    fn transcoded_streams_go_to_the_pool_and_generated_packets_are_counted() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        let route = TranscodeRoute {
            media: 0,
            leg: 0,
            rtp: true,
        };
        handle_with(
            &mut t,
            A,
            5000,
            B,
            MediaHandling {
                transcode: Some(route),
                ..MediaHandling::default()
            },
        );
        let p = rtp();
        let mut buf = p.clone();
        buf.resize(p.len() + crate::relay::SRTP_TAILROOM, 0);
        assert_eq!(
            t.handle_packet(a, addr(5000), &mut buf, p.len(), false, now),
            Verdict::Transcode {
                call: CallSerial(1),
                route,
                len: p.len(),
                rtcp: false
            }
        );
        // The transcoder's output leaves from B to B's peer, counted there.
        let (to, len) = t.prepare_generated(b, &mut buf, p.len(), false).unwrap();
        assert_eq!((to, len), (addr(6000), p.len()));
        let stats = t.call_stats(CallSerial(1)).collect::<Vec<_>>();
        let of = |k: SocketKey| stats.iter().find(|(key, _)| *key == k).unwrap().1;
        assert_eq!(of(A).rtp.packets, 1);
        assert_eq!(of(B).transcoded.packets, 1);
        // A transcoded stream never goes to the fast path.
        assert_eq!(t.desired_flow(a), None);
        // RTP of a direction that is not transcoded is relayed as before.
        handle_with(
            &mut t,
            A,
            5000,
            B,
            MediaHandling {
                transcode: Some(TranscodeRoute {
                    rtp: false,
                    ..route
                }),
                ..MediaHandling::default()
            },
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &p, false, now),
            Ok((b, addr(6000)))
        );
    }

    #[test]
    fn blocked_dtmf_is_dropped_on_pass_through_streams() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        handle_with(
            &mut t,
            A,
            5000,
            B,
            MediaHandling {
                dtmf_payload_type: Some(101),
                block_dtmf: true,
                ..MediaHandling::default()
            },
        );
        let audio = rtp();
        let mut event = rtp();
        event.truncate(16);
        event[1] = 101;
        assert_eq!(
            feed(&mut t, a, addr(5000), &audio, false, now),
            Ok((b, addr(6000)))
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &event, false, now),
            Err(DropReason::DtmfBlocked)
        );
        // Marker bit set: still the event's payload type.
        event[1] = 0x80 | 101;
        assert_eq!(
            feed(&mut t, a, addr(5000), &event, false, now),
            Err(DropReason::DtmfBlocked)
        );
        handle_with(
            &mut t,
            A,
            5000,
            B,
            MediaHandling {
                dtmf_payload_type: Some(101),
                block_dtmf: false,
                ..MediaHandling::default()
            },
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &event, false, now),
            Ok((b, addr(6000)))
        );
    }

    #[test]
    fn forwards_both_ways_and_latches() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        let p = rtp();
        assert_eq!(
            feed(&mut t, a, addr(5000), &p, false, now),
            Ok((b, addr(6000)))
        );
        // The callee sends from a port other than its SDP says: latch it.
        assert_eq!(
            feed(&mut t, b, addr(6100), &p, false, now),
            Ok((a, addr(5000)))
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &p, false, now),
            Ok((b, addr(6100)))
        );
        let stats: Vec<_> = t.call_stats(CallSerial(1)).collect();
        let a_stats = stats.iter().find(|(k, _)| *k == A).unwrap().1;
        assert_eq!(a_stats.rtp.packets, 2);
        assert_eq!(a_stats.rtp.bytes, 2 * 172);
    }

    #[test]
    fn strict_source_drops_strangers_and_counts_them() {
        let (mut t, a, _, now) = call(LatchPolicy {
            strict_source: true,
            ..LatchPolicy::default()
        });
        let p = rtp();
        assert!(feed(&mut t, a, addr(5000), &p, false, now).is_ok());
        assert_eq!(
            feed(&mut t, a, addr(7777), &p, false, now),
            Err(DropReason::WrongSource)
        );
        let s = t
            .call_stats(CallSerial(1))
            .find(|(k, _)| *k == A)
            .unwrap()
            .1;
        assert_eq!(s.drops_for(DropReason::WrongSource), 1);
        assert_eq!(s.rtp.packets, 1);
    }

    #[test]
    fn media_handover_relatches() {
        let (mut t, a, b, now) = call(LatchPolicy {
            media_handover: true,
            ..LatchPolicy::default()
        });
        let p = rtp();
        let _ = feed(&mut t, a, addr(5000), &p, false, now);
        let _ = feed(&mut t, a, addr(5500), &p, false, now);
        assert_eq!(
            feed(&mut t, b, addr(6000), &p, false, now),
            Ok((a, addr(5500)))
        );
    }

    #[test]
    fn without_handover_strangers_are_dropped_after_latching() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        let p = rtp();
        // The first packet latches, even from an address the SDP did not name.
        assert!(feed(&mut t, a, addr(5100), &p, false, now).is_ok());
        assert_eq!(
            feed(&mut t, a, addr(5500), &p, false, now),
            Err(DropReason::WrongSource)
        );
        assert_eq!(
            feed(&mut t, b, addr(6000), &p, false, now),
            Ok((a, addr(5100)))
        );
    }

    #[test]
    fn strict_source_before_latching_accepts_only_the_sdp_address() {
        let (mut t, a, _, now) = call(LatchPolicy {
            strict_source: true,
            ..LatchPolicy::default()
        });
        let p = rtp();
        assert_eq!(
            feed(&mut t, a, addr(5100), &p, false, now),
            Err(DropReason::WrongSource)
        );
        assert!(feed(&mut t, a, addr(5000), &p, false, now).is_ok());
    }

    #[test]
    fn asymmetric_sends_to_sdp_address() {
        let (mut t, a, b, now) = call(LatchPolicy {
            learn: false,
            ..LatchPolicy::default()
        });
        let p = rtp();
        let _ = feed(&mut t, b, addr(6100), &p, false, now);
        assert_eq!(
            feed(&mut t, a, addr(5000), &p, false, now),
            Ok((b, addr(6000)))
        );
    }

    #[test]
    fn garbage_runts_and_oversize_are_counted_drops() {
        let (mut t, a, _, now) = call(LatchPolicy::default());
        assert_eq!(
            feed(&mut t, a, addr(5000), b"x", false, now),
            Err(DropReason::Malformed)
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &[0u8; 40], false, now),
            Err(DropReason::Malformed)
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &rtp(), true, now),
            Err(DropReason::Oversize)
        );
        let s = t
            .call_stats(CallSerial(1))
            .find(|(k, _)| *k == A)
            .unwrap()
            .1;
        assert_eq!(s.errors(), 3);
        assert_eq!(s.rtp.packets, 0);
        // Garbage must not latch: the caller's real address still wins.
        assert!(s.latched == Some(addr(5000)));
    }

    #[test]
    fn no_destination_until_the_other_leg_is_known() {
        let now = Instant::now();
        let mut t = RelayTable::new();
        let a = t.insert(A, CallSerial(1), now);
        t.insert(B, CallSerial(1), now);
        t.configure(
            A,
            SocketConfig {
                call: CallSerial(1),
                role: Role::Rtp,
                sdp_remote: Some(addr(5000)),
                rtp_out: Some(B),
                rtcp_out: Some(B),
                latch: LatchPolicy::default(),
                crypto: SocketCrypto::default(),
                media: MediaHandling::default(),
            },
        );
        assert_eq!(
            feed(&mut t, a, addr(5000), &rtp(), false, now),
            Err(DropReason::NoDestination)
        );
    }

    #[test]
    fn rtcp_goes_its_own_way_and_rtp_on_rtcp_port_is_dropped() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        const A_RTCP: SocketKey = SocketKey(1001);
        const B_RTCP: SocketKey = SocketKey(1003);
        let ar = t.insert(A_RTCP, CallSerial(1), now);
        let br = t.insert(B_RTCP, CallSerial(1), now);
        for (key, remote, out) in [(A_RTCP, 5001, B_RTCP), (B_RTCP, 6001, A_RTCP)] {
            t.configure(
                key,
                SocketConfig {
                    call: CallSerial(1),
                    role: Role::Rtcp,
                    sdp_remote: Some(addr(remote)),
                    rtp_out: None,
                    rtcp_out: Some(out),
                    latch: LatchPolicy::default(),
                    crypto: SocketCrypto::default(),
                    media: MediaHandling::default(),
                },
            );
        }
        // A muxes RTCP on its RTP port; B does not: route A's RTCP to B's RTCP socket.
        t.configure(
            A,
            SocketConfig {
                call: CallSerial(1),
                role: Role::Rtp,
                sdp_remote: Some(addr(5000)),
                rtp_out: Some(B),
                rtcp_out: Some(B_RTCP),
                latch: LatchPolicy::default(),
                crypto: SocketCrypto::default(),
                media: MediaHandling::default(),
            },
        );
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 5];
        assert_eq!(
            feed(&mut t, a, addr(5000), &rr, false, now),
            Ok((br, addr(6001)))
        );
        assert_eq!(
            feed(&mut t, br, addr(6001), &rr, false, now),
            Ok((ar, addr(5001)))
        );
        assert_eq!(
            feed(&mut t, ar, addr(5001), &rtp(), false, now),
            Err(DropReason::RtpOnRtcpPort)
        );
        let _ = b;
    }

    #[test]
    fn removed_sockets_stop_forwarding_and_slots_are_reused_safely() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        t.remove(B);
        assert_eq!(
            feed(&mut t, a, addr(5000), &rtp(), false, now),
            Err(DropReason::NoDestination)
        );
        assert_eq!(
            feed(&mut t, b, addr(6000), &rtp(), false, now),
            Err(DropReason::NoDestination)
        );
        let again = t.insert(SocketKey(2000), CallSerial(2), now);
        assert_eq!(again.index, b.index);
        assert_ne!(again.generation, b.generation);
    }

    #[test]
    fn the_sdp_address_wins_the_latch_back_from_a_stranger() {
        let (mut t, a, b, now) = call(LatchPolicy::default());
        let p = rtp();
        // A stranger gets in first ...
        assert!(feed(&mut t, a, addr(7777), &p, false, now).is_ok());
        // ... until the caller, at its SDP address, speaks.
        assert!(feed(&mut t, a, addr(5000), &p, false, now).is_ok());
        assert_eq!(
            feed(&mut t, a, addr(7777), &p, false, now),
            Err(DropReason::WrongSource)
        );
        assert_eq!(
            feed(&mut t, b, addr(6000), &p, false, now),
            Ok((a, addr(5000)))
        );
    }

    #[test]
    fn junk_is_not_activity() {
        let (mut t, a, _, now) = call(LatchPolicy::default());
        let _ = feed(&mut t, a, addr(5000), &rtp(), false, now);
        let later = now + Duration::from_secs(30);
        let _ = feed(&mut t, a, addr(5000), b"junk", false, later);
        let _ = feed(&mut t, a, addr(7777), &rtp(), false, later);
        assert_eq!(
            t.idle_calls(now + Duration::from_secs(10)),
            vec![CallSerial(1)]
        );
    }

    #[test]
    fn a_failed_send_is_not_counted_as_forwarded() {
        let (mut t, a, _, now) = call(LatchPolicy::default());
        let _ = feed(&mut t, a, addr(5000), &rtp(), false, now);
        t.count_send_failure(a, false, 172);
        let s = t
            .call_stats(CallSerial(1))
            .find(|(k, _)| *k == A)
            .unwrap()
            .1;
        assert_eq!(
            (
                s.rtp.packets,
                s.rtp.bytes,
                s.drops_for(DropReason::SendFailed)
            ),
            (0, 0, 1)
        );
    }

    #[test]
    fn a_new_sdp_address_unlatches() {
        let (mut t, a, _, now) = call(LatchPolicy::default());
        let _ = feed(&mut t, a, addr(5000), &rtp(), false, now);
        let moved = SocketConfig {
            call: CallSerial(1),
            role: Role::Rtp,
            sdp_remote: Some(addr(5200)),
            rtp_out: Some(B),
            rtcp_out: Some(B),
            latch: LatchPolicy::default(),
            crypto: SocketCrypto::default(),
            media: MediaHandling::default(),
        };
        t.configure(A, moved);
        assert!(feed(&mut t, a, addr(5200), &rtp(), false, now).is_ok());
    }

    #[test]
    fn idle_calls_are_found() {
        let (mut t, a, _, now) = call(LatchPolicy::default());
        let later = now + Duration::from_secs(30);
        assert_eq!(
            t.idle_calls(now + Duration::from_secs(10)),
            vec![CallSerial(1)]
        );
        let _ = feed(&mut t, a, addr(5000), &rtp(), false, later);
        assert!(t.idle_calls(now + Duration::from_secs(10)).is_empty());
    }
}
