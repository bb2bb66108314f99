//! One pool thread: its sections, the loop that feeds them packets and
//! timers, and the sink that hands their output to the workers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_queue::ArrayQueue;
use sluice_transcode::{DigitReport, DropCause, MediaTranscoder, Settings, Sink};

use super::digits::DigitReporter;
use super::job::{
    Job, LegSockets, MediaKey, Output, OutputQueue, PoolCommand, TranscodeSetup, MAX_PACKET,
};
use crate::relay::{CallSerial, DropReason, SocketKey, SRTP_TAILROOM};

/// Jobs handled before timers get a turn.
const JOB_BATCH: usize = 256;
/// Longest sleep without jobs: the upper bound on timer lateness.
const MAX_SLEEP: Duration = Duration::from_millis(20);

/// A section this thread runs.
struct Section {
    route: Route,
    transcoder: MediaTranscoder,
}

/// Where a section's output goes.
struct Route {
    call: CallSerial,
    worker: usize,
    sockets: [LegSockets; 2],
    labels: super::job::CallLabels,
}

/// A pool thread's state.
pub(crate) struct PoolThread {
    jobs: Arc<ArrayQueue<Job>>,
    outputs: Arc<[OutputQueue]>,
    settings: Settings,
    reporter: DigitReporter,
    sections: HashMap<MediaKey, Section>,
    /// Workers that got output since their doorbell last rang.
    pending_ring: Vec<bool>,
    /// Earliest timer of any section (`None`: no timers).
    next_poll: Option<Instant>,
    /// Seeds SSRCs and sequence starts: thread index, then a counter.
    seed: u64,
    /// Output lost because a worker's inbox was full.
    lost_outputs: u64,
    /// Run by a worker itself (`transcode-threads = 0`): all output goes
    /// to `outputs[0]`, that worker's inbox, and no doorbell rings.
    inline: bool,
}

impl PoolThread {
    pub(super) fn new(
        jobs: Arc<ArrayQueue<Job>>,
        outputs: Arc<[OutputQueue]>,
        settings: Settings,
        reporter: DigitReporter,
        index: u64,
    ) -> Self {
        let mut seed = [0u8; 8];
        // A fresh random base per thread; counters make each section's
        // seed distinct. Falling back to the index keeps it running.
        let seed = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed) ^ index,
            Err(_) => index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        };
        Self {
            pending_ring: vec![false; outputs.len()],
            jobs,
            outputs,
            settings,
            reporter,
            sections: HashMap::new(),
            next_poll: None,
            seed,
            lost_outputs: 0,
            inline: false,
        }
    }

    /// A transcoder a worker runs itself, outside any thread of its own:
    /// its output goes to `inbox`, which the worker drains.
    pub(crate) fn inline(inbox: OutputQueue, settings: Settings, reporter: DigitReporter) -> Self {
        let mut me = Self::new(
            Arc::new(ArrayQueue::new(1)),
            vec![inbox].into(),
            settings,
            reporter,
            0,
        );
        me.inline = true;
        me
    }

    /// Carries out one job (inline mode).
    pub(crate) fn run_job(&mut self, job: Job) {
        self.handle(job);
    }

    /// When the next timer is due (inline mode).
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.next_poll
    }

    /// Runs due timers (inline mode) and says when the next one is due.
    pub(crate) fn run_timers(&mut self, now: Instant) -> Option<Instant> {
        if self.next_poll.is_some_and(|t| t <= now) {
            self.poll_all(now);
        }
        self.next_poll
    }

    /// Runs until a [`Job::Shutdown`].
    pub(super) fn run(&mut self) {
        loop {
            let mut handled = 0;
            while handled < JOB_BATCH {
                let Some(job) = self.jobs.pop() else { break };
                if matches!(job, Job::Shutdown) {
                    self.ring_doorbells();
                    return;
                }
                self.handle(job);
                handled += 1;
            }
            let now = Instant::now();
            if self.next_poll.is_some_and(|t| t <= now) {
                self.poll_all(now);
            }
            self.ring_doorbells();
            if self.jobs.is_empty() {
                let wait = self
                    .next_poll
                    .map_or(MAX_SLEEP, |t| t.saturating_duration_since(now))
                    .min(MAX_SLEEP);
                if !wait.is_zero() {
                    std::thread::park_timeout(wait);
                }
            }
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Control { key, command } => self.control(key, command),
            Job::Packet {
                key,
                from_leg,
                rtcp,
                arrival,
                len,
                data,
            } => {
                let Some(section) = self.sections.get_mut(&key) else {
                    return; // Set-up refused or already removed.
                };
                let leg = usize::from(from_leg & 1);
                let packet = &data[..usize::from(len).min(MAX_PACKET)];
                let mut sink = QueueSink::new(
                    &section.route,
                    &self.outputs,
                    self.inline,
                    &mut self.reporter,
                );
                if rtcp {
                    section
                        .transcoder
                        .push_rtcp(leg, packet, arrival, &mut sink);
                } else {
                    section.transcoder.push_rtp(leg, packet, arrival, &mut sink);
                }
                let lost = sink.lost;
                self.after_output(key, lost);
            }
            Job::Shutdown => {}
        }
    }

    fn control(&mut self, key: MediaKey, command: PoolCommand) {
        match command {
            PoolCommand::Setup(setup) => self.setup(key, *setup),
            PoolCommand::Remove => {
                self.sections.remove(&key);
            }
            PoolCommand::PlayDtmf {
                to_leg,
                code,
                duration_ms,
                volume,
            } => {
                let Some(section) = self.sections.get_mut(&key) else {
                    return;
                };
                let leg = usize::from(to_leg & 1);
                let result =
                    section
                        .transcoder
                        .play_dtmf(leg, code, duration_ms, volume, Instant::now());
                if let Err(e) = result {
                    tracing::warn!(call_id = %section.route.labels.call_id, error = %e, "play DTMF refused");
                }
                self.after_output(key, 0);
            }
            PoolCommand::BlockDtmf { from_leg, blocked } => {
                if let Some(section) = self.sections.get_mut(&key) {
                    section
                        .transcoder
                        .set_dtmf_blocked(usize::from(from_leg & 1), blocked);
                }
            }
        }
    }

    fn setup(&mut self, key: MediaKey, setup: TranscodeSetup) {
        let now = Instant::now();
        let worker = setup.worker;
        if let Some(section) = self.sections.get_mut(&key) {
            section.route = Route {
                call: key.call,
                worker,
                sockets: setup.sockets,
                labels: setup.labels,
            };
            if let Err(e) = section.transcoder.update(&setup.plan, now) {
                // The control thread only hands over plans the transcoder
                // takes; should one slip through, the call keeps its
                // media as negotiated before.
                tracing::warn!(call_id = %section.route.labels.call_id, error = %e, "transcoder cannot follow the new plan; keeping the previous one");
            }
        } else {
            self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let transcoder = match MediaTranscoder::new(
                &setup.plan,
                &self.settings,
                self.seed,
                now,
                SystemTime::now(),
            ) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(call_id = %setup.labels.call_id, error = %e, "cannot start transcoder");
                    return;
                }
            };
            self.sections.insert(
                key,
                Section {
                    route: Route {
                        call: key.call,
                        worker,
                        sockets: setup.sockets,
                        labels: setup.labels,
                    },
                    transcoder,
                },
            );
        }
        if let Some(section) = self.sections.get_mut(&key) {
            for (leg, blocked) in setup.block_dtmf.into_iter().enumerate() {
                section.transcoder.set_dtmf_blocked(leg, blocked);
            }
        }
        self.after_output(key, 0);
    }

    /// Notes a section's new timer and which worker needs waking.
    fn after_output(&mut self, key: MediaKey, lost: u64) {
        let Some(section) = self.sections.get(&key) else {
            return;
        };
        if let Some(slot) = self.pending_ring.get_mut(section.route.worker) {
            *slot = true;
        }
        if let Some(deadline) = section.transcoder.next_deadline() {
            self.next_poll = Some(self.next_poll.map_or(deadline, |t| t.min(deadline)));
        }
        self.count_lost(lost);
    }

    fn count_lost(&mut self, lost: u64) {
        if lost == 0 {
            return;
        }
        if self.lost_outputs == 0 || (self.lost_outputs + lost) / 1000 > self.lost_outputs / 1000 {
            tracing::warn!(
                total = self.lost_outputs + lost,
                "worker inbox full; transcoded packets lost"
            );
        }
        self.lost_outputs += lost;
    }

    /// Runs every section's due timers and finds the next one.
    fn poll_all(&mut self, now: Instant) {
        let mut next: Option<Instant> = None;
        let mut lost = 0;
        for section in self.sections.values_mut() {
            if section.transcoder.next_deadline().is_some_and(|t| t <= now) {
                if let Some(slot) = self.pending_ring.get_mut(section.route.worker) {
                    *slot = true;
                }
                let mut sink = QueueSink::new(
                    &section.route,
                    &self.outputs,
                    self.inline,
                    &mut self.reporter,
                );
                section.transcoder.poll(now, &mut sink);
                lost += sink.lost;
            }
            if let Some(deadline) = section.transcoder.next_deadline() {
                next = Some(next.map_or(deadline, |t| t.min(deadline)));
            }
        }
        self.next_poll = next;
        self.count_lost(lost);
    }

    fn ring_doorbells(&mut self) {
        if self.inline {
            return;
        }
        for (worker, pending) in self.pending_ring.iter_mut().enumerate() {
            if std::mem::take(pending) {
                if let Some(out) = self.outputs.get(worker) {
                    out.doorbell.ring();
                }
            }
        }
    }
}

/// Hands one section's output to its worker.
struct QueueSink<'a> {
    call: CallSerial,
    queue: Option<&'a OutputQueue>,
    sockets: [LegSockets; 2],
    labels: &'a super::job::CallLabels,
    reporter: &'a mut DigitReporter,
    lost: u64,
}

impl<'a> QueueSink<'a> {
    fn new(
        section: &'a Route,
        outputs: &'a [OutputQueue],
        inline: bool,
        reporter: &'a mut DigitReporter,
    ) -> Self {
        Self {
            call: section.call,
            queue: if inline {
                outputs.first()
            } else {
                outputs.get(section.worker)
            },
            sockets: section.sockets,
            labels: &section.labels,
            reporter,
            lost: 0,
        }
    }

    fn send(&mut self, out: SocketKey, rtcp: bool, packet: &[u8]) {
        let Some(queue) = self.queue else { return };
        let Ok(len) = u16::try_from(packet.len()) else {
            self.lost += 1;
            return;
        };
        if packet.len() > MAX_PACKET {
            self.lost += 1;
            return;
        }
        let mut data = [0u8; MAX_PACKET + SRTP_TAILROOM];
        data[..packet.len()].copy_from_slice(packet);
        if queue
            .queue
            .push(Output::Packet {
                call: self.call,
                out,
                rtcp,
                len,
                data,
            })
            .is_err()
        {
            self.lost += 1;
        }
    }
}

impl Sink for QueueSink<'_> {
    fn rtp(&mut self, to_leg: usize, packet: &[u8]) {
        let out = self.sockets[to_leg & 1].rtp;
        self.send(out, false, packet);
    }

    fn rtcp(&mut self, to_leg: usize, packet: &[u8]) {
        let out = self.sockets[to_leg & 1].rtcp;
        self.send(out, true, packet);
    }

    fn dropped(&mut self, from_leg: usize, cause: DropCause) {
        let Some(queue) = self.queue else { return };
        let origin = self.sockets[from_leg & 1].rtp;
        let reason = drop_reason(cause);
        let dropped = Output::Dropped {
            call: self.call,
            origin,
            reason,
        };
        if queue.queue.push(dropped).is_err() {
            self.lost += 1;
        }
    }

    fn digit(&mut self, from_leg: usize, digit: DigitReport) {
        self.reporter.report(self.labels, from_leg & 1, &digit);
    }
}

/// The relay's counter for a transcoder's refusal.
fn drop_reason(cause: DropCause) -> DropReason {
    match cause {
        DropCause::UnknownPayloadType => DropReason::PayloadType,
        DropCause::Undecodable => DropReason::Undecodable,
        DropCause::BadDtmf => DropReason::BadDtmf,
        DropCause::DtmfBlocked => DropReason::DtmfBlocked,
        DropCause::TooLate | DropCause::Duplicate => DropReason::Late,
        DropCause::RtcpMalformed | DropCause::Malformed => DropReason::Malformed,
        DropCause::NoDirection => DropReason::NoDestination,
        DropCause::Overflow => DropReason::TranscoderBusy,
        _ => DropReason::Undecodable,
    }
}
