//! One worker's io_uring loop: multishot `recvmsg` on every socket into a
//! shared provided-buffer ring, the relay table's verdict per packet, and
//! `sendmsg` straight out of the receive buffer, all submitted in batches
//! with one `io_uring_enter` per loop turn.
#![allow(
    unsafe_code,
    reason = "io_uring submissions point the kernel at our memory"
)]

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::Thread;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::bufring::BufRing;
use super::offload::Offloader;
use super::sockaddr::{self, RawAddr};
use super::wake::Doorbell;
use super::{TranscodeLink, TranscodeMode, WorkerCommand, WorkerEvent, WorkerTuning};
use crate::relay::{DropReason, RelayTable, SlotRef, Verdict, SRTP_TAILROOM};
use crate::transcoder::digits::DigitReporter;
use crate::transcoder::job::MAX_PACKET;
use crate::transcoder::session::PoolThread;
use crate::transcoder::{Job, MediaKey, Output};
use crate::xdp::XdpFlows;

const TAG_SHIFT: u32 = 60;
const TAG_WAKE: u64 = 0;
const TAG_RECV: u64 = 1;
const TAG_SEND: u64 = 2;
const TAG_CANCEL: u64 = 3;
const BUFFER_GROUP: u16 = 0;
/// Completions handled per loop turn before submitting again.
const CQE_BATCH: usize = 512;
/// Inline transcoding: packets transcoded per loop turn (each up to an
/// Opus encode, ~0.1 ms), which bounds how long a relayed packet that
/// arrives meanwhile can wait.
const INLINE_BATCH: usize = 8;
/// Inline transcoding: packets waiting for their turn at most.
const INLINE_QUEUE: usize = 4096;

fn recv_user_data(slot: SlotRef) -> u64 {
    TAG_RECV << TAG_SHIFT | u64::from(slot.generation & 0x00ff_ffff) << 32 | u64::from(slot.index)
}

fn slot_from_user_data(user_data: u64, table: &RelayTable) -> Option<SlotRef> {
    let index = (user_data & 0xffff_ffff) as u32;
    let generation = ((user_data >> 32) & 0x00ff_ffff) as u32;
    // The table's own generation is wider; compare the bits we carried.
    let live = table.slot_at(index)?;
    (live.generation & 0x00ff_ffff == generation).then_some(live)
}

/// Where one in-flight `sendmsg` keeps its arguments (one per buffer id,
/// since each send forwards exactly one receive buffer).
struct SendSlot {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: RawAddr,
    origin: Option<SlotRef>,
    /// What the origin socket counted for this packet.
    received_len: usize,
    received_rtcp: bool,
}

/// One forward decided by the table, ready to submit.
struct Send {
    origin: SlotRef,
    out: SlotRef,
    bid: u16,
    offset: usize,
    len: usize,
    to: SocketAddr,
    received_len: usize,
    received_rtcp: bool,
}

/// A worker's state. Field order matters: the ring is dropped before the
/// buffer memory it points at.
pub struct EventLoop {
    ring: IoUring,
    bufs: BufRing,
    table: RelayTable,
    sockets: Vec<Option<UdpSocket>>,
    recv_template: Box<libc::msghdr>,
    sends: Box<[SendSlot]>,
    wake_value: Box<u64>,
    completions: Vec<(u64, i32, u32)>,
    commands: Arc<ArrayQueue<WorkerCommand>>,
    doorbell: Arc<Doorbell>,
    events: Arc<ArrayQueue<WorkerEvent>>,
    control: Thread,
    /// Sockets closed since the last submission (see [`EventLoop::close`]).
    closing: Vec<UdpSocket>,
    sends_in_flight: usize,
    receives_armed: usize,
    shutting_down: bool,
    /// The XDP fast path, when it is loaded.
    offloader: Option<Offloader>,
    /// The transcoder pool, when there is one.
    transcode: Option<TranscodeLink>,
    /// Inline mode: the transcoder this worker runs itself, and its work.
    inline: Option<Box<PoolThread>>,
    inline_jobs: VecDeque<Job>,
}

impl EventLoop {
    /// Sets up the ring and buffers; fails if the kernel lacks a feature.
    pub fn new(
        tuning: WorkerTuning,
        commands: Arc<ArrayQueue<WorkerCommand>>,
        doorbell: Arc<Doorbell>,
        events: Arc<ArrayQueue<WorkerEvent>>,
        control: Thread,
        xdp: Option<XdpFlows>,
        transcode: Option<TranscodeLink>,
    ) -> io::Result<Self> {
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(tuning.ring_entries)?;
        let bufs = BufRing::new(
            &ring.submitter(),
            tuning.buffers,
            tuning.buffer_size,
            SRTP_TAILROOM as u32,
            BUFFER_GROUP,
        )?;
        // SAFETY: msghdr is plain data; all-zero (null pointers, zero
        // lengths) is a valid empty header.
        let mut recv_template: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        recv_template.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        let sends = (0..tuning.buffers)
            .map(|_| SendSlot {
                // SAFETY: as above, an all-zero msghdr is valid.
                msg: unsafe { std::mem::zeroed() },
                iov: libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                },
                addr: RawAddr::default(),
                origin: None,
                received_len: 0,
                received_rtcp: false,
            })
            .collect();
        let inline = match &transcode {
            Some(TranscodeLink {
                mode:
                    TranscodeMode::Inline {
                        settings,
                        dtmf_log_dest,
                    },
                inbox,
            }) => Some(Box::new(PoolThread::inline(
                inbox.clone(),
                settings.clone(),
                DigitReporter::new(*dtmf_log_dest)?,
            ))),
            _ => None,
        };
        let has_inline = inline.is_some();
        let mut table = RelayTable::new();
        if xdp.is_some() {
            table.track_offloads();
        }
        Ok(Self {
            ring,
            bufs,
            table,
            sockets: Vec::new(),
            recv_template,
            sends,
            wake_value: Box::new(0),
            completions: Vec::with_capacity(CQE_BATCH),
            commands,
            doorbell,
            events,
            control,
            closing: Vec::new(),
            sends_in_flight: 0,
            receives_armed: 0,
            shutting_down: false,
            offloader: xdp.map(Offloader::new),
            inline,
            inline_jobs: VecDeque::with_capacity(if has_inline { INLINE_QUEUE } else { 0 }),
            transcode,
        })
    }

    /// Runs until a `Shutdown` command has been carried out.
    pub fn run(&mut self) -> io::Result<()> {
        self.arm_doorbell();
        loop {
            if self.shutting_down && self.sends_in_flight == 0 && self.receives_armed == 0 {
                return Ok(());
            }
            match self.submit_and_wait() {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINTR | libc::EBUSY | libc::EAGAIN | libc::ETIME)
                    ) => {}
                Err(e) => return Err(e),
            }
            // Everything queued so far has reached the kernel, which holds
            // its own file references now.
            self.closing.clear();
            let now = Instant::now();
            loop {
                self.completions.clear();
                self.completions.extend(
                    self.ring
                        .completion()
                        .take(CQE_BATCH)
                        .map(|c| (c.user_data(), c.result(), c.flags())),
                );
                if self.completions.is_empty() {
                    break;
                }
                for i in 0..self.completions.len() {
                    let (user_data, result, flags) = self.completions[i];
                    self.handle_completion(user_data, result, flags, now);
                }
            }
            self.bufs.publish();
            if self.inline.is_some() {
                self.run_inline(now);
            }
            if self.table.has_digits() {
                let mut digits = Vec::new();
                self.table.take_digits(&mut digits);
                self.emit(WorkerEvent::Digits { digits });
            }
            if let Some(offloader) = &mut self.offloader {
                offloader.sync(&mut self.table, now);
            }
        }
    }

    fn handle_completion(&mut self, user_data: u64, result: i32, flags: u32, now: Instant) {
        match user_data >> TAG_SHIFT {
            TAG_RECV => self.on_receive(user_data, result, flags, now),
            TAG_SEND => self.on_sent(user_data, result),
            TAG_WAKE => self.on_doorbell(now),
            _ => {} // TAG_CANCEL: nothing to do; the receive reports its own end.
        }
    }

    fn on_receive(&mut self, user_data: u64, result: i32, flags: u32, now: Instant) {
        let slot = slot_from_user_data(user_data, &self.table);
        let more = cqueue::more(flags);
        if !more {
            self.receives_armed -= 1;
        }
        if let Some(bid) = cqueue::buffer_select(flags) {
            match slot {
                Some(slot) if result >= 0 => self.forward(slot, bid, result as usize, now),
                _ => self.bufs.push(bid),
            }
        }
        if !more {
            // ENOBUFS (ring ran dry) or an error ends a multishot receive;
            // re-arm unless the socket was closed meanwhile.
            if let Some(slot) = slot {
                if !self.shutting_down {
                    self.arm_receive(slot);
                }
            }
        }
    }

    fn forward(&mut self, slot: SlotRef, bid: u16, len: usize, now: Instant) {
        // SAFETY: `bid` was just selected by this completion and is not
        // recycled until the send below completes or we push it back.
        let buffer = unsafe { self.bufs.buffer_mut(bid) };
        let Some(len) = (len <= buffer.len()).then_some(len) else {
            self.table.count_drop(slot, DropReason::Malformed);
            self.bufs.push(bid);
            return;
        };
        let parsed = types::RecvMsgOut::parse(&buffer[..len], &self.recv_template).map(|msg| {
            let offset = msg.payload_data().as_ptr() as usize - buffer.as_ptr() as usize;
            (
                offset,
                msg.payload_data().len(),
                msg.is_payload_truncated(),
                sockaddr::from_bytes(msg.name_data()),
            )
        });
        let Ok((offset, payload_len, truncated, Some(source))) = parsed else {
            self.table.count_drop(slot, DropReason::Malformed);
            self.bufs.push(bid);
            return;
        };
        let packet = &mut buffer[offset..];
        let verdict = self
            .table
            .handle_packet(slot, source, packet, payload_len, truncated, now);
        match verdict {
            Verdict::Forward { out, to, len, rtcp } => {
                let send = Send {
                    origin: slot,
                    out,
                    bid,
                    offset,
                    len,
                    to,
                    received_len: payload_len,
                    received_rtcp: rtcp,
                };
                self.send(send);
            }
            Verdict::Transcode {
                call,
                route,
                len,
                rtcp,
            } => {
                let key = MediaKey {
                    call,
                    media: route.media,
                };
                let job = (len <= MAX_PACKET).then(|| {
                    let mut data = [0u8; MAX_PACKET];
                    data[..len].copy_from_slice(&packet[..len]);
                    Job::Packet {
                        key,
                        from_leg: route.leg,
                        rtcp,
                        arrival: now,
                        len: len as u16,
                        data,
                    }
                });
                self.bufs.push(bid);
                self.submit_to_pool(slot, key, job, rtcp, payload_len);
            }
            Verdict::Drop(_) => self.bufs.push(bid),
        }
    }

    /// Hands a packet's job to the transcoder pool; no job (too large),
    /// a full queue or no pool drops it, counted.
    fn submit_to_pool(
        &mut self,
        slot: SlotRef,
        key: MediaKey,
        job: Option<Job>,
        rtcp: bool,
        received_len: usize,
    ) {
        let Some(job) = job else {
            self.table
                .count_undelivered(slot, rtcp, received_len, DropReason::Oversize);
            return;
        };
        let submitted = match self.transcode.as_ref().map(|l| &l.mode) {
            Some(TranscodeMode::Pool(pool)) => pool.submit(key, job).is_ok(),
            Some(TranscodeMode::Inline { .. }) if self.inline_jobs.len() < INLINE_QUEUE => {
                self.inline_jobs.push_back(job);
                true
            }
            _ => false,
        };
        if !submitted {
            self.table
                .count_undelivered(slot, rtcp, received_len, DropReason::TranscoderBusy);
        }
    }

    /// Waits for completions; in inline mode not past the transcoder's
    /// next timer, and not at all while transcoding work waits.
    fn submit_and_wait(&mut self) -> io::Result<usize> {
        let Some(inline) = &mut self.inline else {
            return self.ring.submit_and_wait(1);
        };
        if !self.inline_jobs.is_empty() {
            return self.ring.submit();
        }
        let now = Instant::now();
        match inline.run_timers(now) {
            None => self.ring.submit_and_wait(1),
            Some(due) => {
                let wait = types::Timespec::from(due.saturating_duration_since(now));
                let args = types::SubmitArgs::new().timespec(&wait);
                self.ring.submitter().submit_with_args(1, &args)
            }
        }
    }

    /// Inline mode: sends this turn's relayed packets first, then runs a
    /// bounded batch of transcoding and the transcoder's due timers, and
    /// sends what they produced.
    fn run_inline(&mut self, now: Instant) {
        if self.inline_jobs.is_empty()
            && self
                .inline
                .as_ref()
                .and_then(|i| i.next_timer())
                .is_none_or(|t| t > now)
        {
            return;
        }
        if let Err(e) = self.ring.submit() {
            tracing::warn!(error = %e, "io_uring submit failed");
        }
        if let Some(inline) = &mut self.inline {
            for _ in 0..INLINE_BATCH {
                let Some(job) = self.inline_jobs.pop_front() else {
                    break;
                };
                inline.run_job(job);
            }
            inline.run_timers(Instant::now());
        }
        self.drain_transcoded();
    }

    /// Sends what the pool finished for this worker's sockets.
    fn drain_transcoded(&mut self) {
        let Some(link) = &self.transcode else { return };
        let inbox = Arc::clone(&link.inbox.queue);
        while let Some(output) = inbox.pop() {
            match output {
                Output::Packet {
                    call,
                    out,
                    rtcp,
                    len,
                    mut data,
                } => {
                    let Some(slot) = self.table.lookup(out) else {
                        continue; // Closed meanwhile.
                    };
                    if self.table.call_of(slot) != Some(call) {
                        continue; // The port went to another call meanwhile.
                    }
                    let prepared =
                        self.table
                            .prepare_generated(slot, &mut data, usize::from(len), rtcp);
                    let Ok((to, len)) = prepared else { continue };
                    if let Some(socket) = self
                        .sockets
                        .get(slot.index as usize)
                        .and_then(Option::as_ref)
                    {
                        // A plain non-blocking send: the packet lives on
                        // this stack, not in a buffer the ring owns.
                        let sent = socket2::SockRef::from(socket).send_to_with_flags(
                            &data[..len],
                            &to.into(),
                            libc::MSG_DONTWAIT,
                        );
                        if sent.is_err() {
                            self.table.count_drop(slot, DropReason::SendFailed);
                        }
                    }
                }
                Output::Dropped {
                    call,
                    origin,
                    reason,
                } => {
                    // Counted as received when it went to the pool.
                    let slot = self.table.lookup(origin);
                    if let Some(slot) = slot.filter(|&s| self.table.call_of(s) == Some(call)) {
                        self.table.count_undelivered(slot, false, 0, reason);
                    }
                }
            }
        }
    }

    fn send(&mut self, send: Send) {
        let Some(fd) = self.fd_of(send.out) else {
            self.bufs.push(send.bid);
            return;
        };
        // SAFETY: offset + len lies inside buffer `bid`: the table never
        // grows a packet past the buffer it was given.
        let base = unsafe { self.bufs.buffer_ptr(send.bid).add(send.offset) };
        let slot = &mut self.sends[usize::from(send.bid)];
        let (name, name_len) = slot.addr.set(send.to);
        slot.iov.iov_base = base.cast();
        slot.iov.iov_len = send.len;
        slot.msg.msg_name = name;
        slot.msg.msg_namelen = name_len;
        slot.msg.msg_iov = &raw mut slot.iov;
        slot.msg.msg_iovlen = 1;
        slot.origin = Some(send.origin);
        slot.received_len = send.received_len;
        slot.received_rtcp = send.received_rtcp;
        let entry = opcode::SendMsg::new(types::Fd(fd), &raw const slot.msg)
            .build()
            .user_data(TAG_SEND << TAG_SHIFT | u64::from(send.bid));
        self.sends_in_flight += 1;
        self.push(&entry);
    }

    fn on_sent(&mut self, user_data: u64, result: i32) {
        let bid = (user_data & 0xffff) as u16;
        self.sends_in_flight -= 1;
        let slot = &mut self.sends[usize::from(bid)];
        if let (Some(origin), true) = (slot.origin.take(), result < 0) {
            self.table
                .count_send_failure(origin, slot.received_rtcp, slot.received_len);
        }
        self.bufs.push(bid);
    }

    fn on_doorbell(&mut self, now: Instant) {
        while let Some(command) = self.commands.pop() {
            self.handle_command(command, now);
        }
        self.drain_transcoded();
        if !self.shutting_down {
            self.arm_doorbell();
        }
    }

    fn handle_command(&mut self, command: WorkerCommand, now: Instant) {
        match command {
            WorkerCommand::Open {
                key,
                socket,
                call,
                now: created,
            } => {
                // A key can only be reopened after a close; never leak the
                // old socket's receive if a command ever repeats one.
                self.close(key);
                let slot = self.table.insert(key, call, created.min(now));
                if let Ok(local) = socket.local_addr() {
                    self.table.set_local(slot, local);
                }
                let index = slot.index as usize;
                if self.sockets.len() <= index {
                    self.sockets.resize_with(index + 1, || None);
                }
                self.sockets[index] = Some(socket);
                self.arm_receive(slot);
            }
            WorkerCommand::Configure { key, config } => {
                self.table.configure(key, *config);
            }
            WorkerCommand::Close { key } => self.close(key),
            WorkerCommand::CallStats { call, request } => {
                if let Some(offloader) = &mut self.offloader {
                    offloader.refresh(&mut self.table, Some(call), None, now);
                }
                let stats = self.table.call_stats(call).collect();
                self.emit(WorkerEvent::Stats { request, stats });
            }
            WorkerCommand::AllStats { request } => {
                if let Some(offloader) = &mut self.offloader {
                    offloader.refresh(&mut self.table, None, None, now);
                }
                let stats = self.table.all_stats().collect();
                self.emit(WorkerEvent::AllStats { request, stats });
            }
            WorkerCommand::SweepIdle { deadline } => {
                // Kernel-forwarded packets are activity too. Streams seen
                // active since the deadline cannot make their call idle,
                // so only the quiet ones are read: a stream costs one map
                // read per timeout period, not per sweep.
                if let Some(offloader) = &mut self.offloader {
                    offloader.refresh(&mut self.table, None, Some(deadline), now);
                }
                let calls = self.table.idle_calls(deadline);
                if !calls.is_empty() {
                    self.emit(WorkerEvent::Idle { calls });
                }
            }
            WorkerCommand::Transcoder { key, command } => {
                let job = Job::Control { key, command };
                match self.transcode.as_ref().map(|l| &l.mode) {
                    Some(TranscodeMode::Pool(pool)) => {
                        if let Err(job) = pool.submit(key, job) {
                            drop(job);
                            tracing::warn!(
                                call = key.call.0,
                                "transcoder queue full; command lost"
                            );
                        }
                    }
                    // In order with the packets queued before it; never
                    // refused (commands are few).
                    Some(TranscodeMode::Inline { .. }) => self.inline_jobs.push_back(job),
                    None => {}
                }
            }
            WorkerCommand::Shutdown => {
                let keys: Vec<_> = self.table.keys().collect();
                for key in keys {
                    self.close(key);
                }
                self.shutting_down = true;
            }
        }
    }

    fn close(&mut self, key: crate::relay::SocketKey) {
        if let (Some(offloader), Some(slot)) = (&mut self.offloader, self.table.lookup(key)) {
            offloader.retire(&mut self.table, slot, Instant::now());
        }
        let Some(slot) = self.table.remove(key) else {
            return;
        };
        let cancel = opcode::AsyncCancel::new(recv_user_data(slot))
            .build()
            .user_data(TAG_CANCEL << TAG_SHIFT);
        self.push(&cancel);
        // Entries already queued may still name this descriptor number;
        // keep the socket open until they are submitted, or a new socket
        // given the same number could send or receive in its place.
        if let Some(socket) = self
            .sockets
            .get_mut(slot.index as usize)
            .and_then(Option::take)
        {
            self.closing.push(socket);
        }
    }

    fn emit(&mut self, event: WorkerEvent) {
        if self.events.push(event).is_err() {
            tracing::warn!("control event queue full; dropping a worker report");
        }
        self.control.unpark();
    }

    fn arm_receive(&mut self, slot: SlotRef) {
        let Some(fd) = self.fd_of(slot) else {
            return;
        };
        let entry = opcode::RecvMsgMulti::new(
            types::Fd(fd),
            &raw const *self.recv_template,
            self.bufs.group(),
        )
        .build()
        .user_data(recv_user_data(slot));
        self.receives_armed += 1;
        self.push(&entry);
    }

    /// The descriptor of a slot's socket, if it is open.
    fn fd_of(&self, slot: SlotRef) -> Option<std::os::fd::RawFd> {
        self.sockets
            .get(slot.index as usize)
            .and_then(Option::as_ref)
            .map(AsRawFd::as_raw_fd)
    }

    fn arm_doorbell(&mut self) {
        let entry = opcode::Read::new(
            types::Fd(self.doorbell.raw_fd()),
            (&raw mut *self.wake_value).cast::<u8>(),
            8,
        )
        .build()
        .user_data(TAG_WAKE << TAG_SHIFT);
        self.push(&entry);
    }

    /// Queues a submission, flushing the queue to the kernel when full.
    fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: every entry points at memory this struct owns and
            // keeps in place until the matching completion: the receive
            // template and wake value are boxed, send arguments live in
            // `sends[bid]` and buffers in `bufs`, none reused before their
            // completion arrives.
            let pushed = unsafe { self.ring.submission().push(entry) };
            if pushed.is_ok() {
                return;
            }
            if let Err(e) = self.ring.submit() {
                tracing::error!(error = %e, "io_uring submit failed");
            }
        }
    }
}
