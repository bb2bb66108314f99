//! The media plane of a run: paced sender threads and epoll/recvmmsg
//! receiver threads over every leg's socket.
//!
//! Endpoint `i` is leg A of call `i / 2` when `i` is even, leg B when odd.
//! It sends stream `i` and receives stream `i ^ 1`, so a probe arriving on
//! the wrong socket shows the relay crossed legs.
//!
//! With `--srtp` every endpoint carries its two SRTP contexts; each sender
//! and receiver thread clones the ones of its own endpoints at start, so
//! no context is shared. A probe is protected in a copy with tailroom for
//! the tag (the stream's plaintext buffer stays as it is), and a received
//! datagram is unprotected in a copy (the receive batch's buffers belong
//! to `recvmmsg`) before its payload, send time included, is read. A probe
//! that fails to unprotect counts as an SRTP error, not as received (and
//! not as misrouted: a crossed leg shows as SRTP errors here).

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use sluice_srtp::SrtpContext;

use crate::pacing::Schedule;
use crate::rtp::{self, Stream, PACKET_LEN};
use crate::srtp::{LegSrtp, MAX_TAG_LEN};
use crate::stats::{RxStats, TxStats};
use crate::sys::{self, Epoll, RecvBatch};

/// One leg's socket.
#[derive(Debug)]
pub struct Endpoint {
    /// Non-blocking UDP socket of this leg, connected to the relay
    /// address it sends its media to.
    pub socket: UdpSocket,
    /// Fresh SRTP contexts of this leg with `--srtp`, `None` for plain RTP.
    pub srtp: Option<LegSrtp>,
}

/// Timing of one run, all in CLOCK_MONOTONIC ns.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Packets per second per stream.
    pub pps: f64,
    /// When sending starts (warm-up begins).
    pub start_ns: u64,
    /// Probes sent from here on count.
    pub window_start_ns: u64,
    /// Sending stops here; probes sent later do not count.
    pub window_end_ns: u64,
    /// Receivers keep reading until here.
    pub drain_end_ns: u64,
    /// Sender wake-up granularity.
    pub tick: Duration,
    /// How receive times are taken.
    pub rx_clock: RxClock,
}

/// Where a probe's receive time comes from.
#[derive(Debug, Clone, Copy)]
pub enum RxClock {
    /// CLOCK_MONOTONIC read once per `recvmmsg` batch in the receiver
    /// thread: includes the receiver's own wake-up delay.
    User,
    /// The kernel's `SO_TIMESTAMPNS` stamp (when the datagram reached our
    /// socket), so the receiver may poll lazily and batch.
    Kernel {
        /// CLOCK_REALTIME - CLOCK_MONOTONIC, ns.
        offset_ns: i64,
        /// Pause between receive passes.
        poll: Duration,
    },
}

/// Live counters for the progress bar.
#[derive(Debug, Default)]
pub struct Progress {
    /// Packets sent so far (all of the run).
    pub sent: AtomicU64,
    /// Probes received so far (all of the run).
    pub received: AtomicU64,
}

/// Sends the streams of `endpoints[i]` for every `i` with `i % threads == index`.
pub fn sender(
    endpoints: &[Endpoint],
    index: usize,
    threads: usize,
    plan: Plan,
    stop: &AtomicBool,
    progress: &Progress,
) -> TxStats {
    let total = endpoints.len();
    let mine: Vec<usize> = (index..total).step_by(threads.max(1)).collect();
    let mut streams: Vec<Stream> = mine.iter().map(|&i| Stream::new(i as u32)).collect();
    // One per slot with --srtp, empty without: the plain path pays one branch.
    let mut protect: Vec<SrtpContext> = mine
        .iter()
        .filter_map(|&i| endpoints[i].srtp.as_ref().map(|s| s.tx.clone()))
        .collect();
    let mut srtp_buf = [0u8; PACKET_LEN + MAX_TAG_LEN];
    let period_ns = (1e9 / plan.pps).max(1.0) as u64;
    let phases: Vec<u64> = mine
        .iter()
        .map(|&i| (i as u64 * period_ns) / total.max(1) as u64)
        .collect();
    let mut schedule = Schedule::new(plan.start_ns, period_ns, phases);
    let mut stats = TxStats {
        sent: vec![0; total],
        ..TxStats::default()
    };
    let tick_ns = plan.tick.as_nanos() as u64;
    let mut pending_progress = 0u64;
    while !mine.is_empty() {
        let mut now = sys::now_ns();
        if now >= plan.window_end_ns || stop.load(Ordering::Relaxed) {
            break;
        }
        while let Some((slot, due)) = schedule.due(now) {
            if due >= plan.window_end_ns {
                break;
            }
            let ep = &endpoints[mine[slot]];
            let packet = streams[slot].next_packet(now);
            // Connected to the relay: no per-packet route lookup.
            let sent = match protect.get_mut(slot) {
                None => ep.socket.send(packet),
                Some(ctx) => send_protected(&ep.socket, ctx, packet, &mut srtp_buf),
            };
            match sent {
                Ok(_) => {
                    // The same window the receiver counts by: a probe sent
                    // late (catching up after a stall) past the window's end
                    // is counted on neither side.
                    if now >= plan.window_start_ns && now < plan.window_end_ns {
                        stats.sent[mine[slot]] += 1;
                        stats.max_lag_ns = stats.max_lag_ns.max(now - due);
                    }
                    pending_progress += 1;
                }
                Err(_) => {
                    if now >= plan.window_start_ns && now < plan.window_end_ns {
                        stats.send_errors += 1;
                    }
                }
            }
            schedule.advance();
            now = sys::now_ns();
        }
        progress.sent.fetch_add(pending_progress, Ordering::Relaxed);
        pending_progress = 0;
        let next = schedule.next_due();
        let wait = next.saturating_sub(sys::now_ns()).max(tick_ns);
        std::thread::sleep(Duration::from_nanos(wait.min(50_000_000)));
    }
    stats
}

/// Protects `packet` in a copy in `buf` and sends it; a protect failure
/// (not expected: the sender owns its stream) is a send error.
fn send_protected(
    socket: &UdpSocket,
    ctx: &mut SrtpContext,
    packet: &[u8; PACKET_LEN],
    buf: &mut [u8; PACKET_LEN + MAX_TAG_LEN],
) -> io::Result<usize> {
    buf[..PACKET_LEN].copy_from_slice(packet);
    match ctx.protect_rtp(buf, PACKET_LEN) {
        Ok(n) => socket.send(&buf[..n]),
        Err(_) => Err(io::ErrorKind::InvalidData.into()),
    }
}

/// Receives on `endpoints[i]` for every `i` with `i % threads == index`.
pub fn receiver(
    endpoints: &[Endpoint],
    index: usize,
    threads: usize,
    plan: Plan,
    stop: &AtomicBool,
    progress: &Progress,
) -> Result<RxStats> {
    let total = endpoints.len();
    let epoll = Epoll::new()?;
    for i in (index..total).step_by(threads.max(1)) {
        let fd = endpoints[i].socket.as_raw_fd();
        if matches!(plan.rx_clock, RxClock::Kernel { .. }) {
            sys::enable_rx_timestamps(fd)?;
        }
        epoll.add_readable(fd, i as u64)?;
    }
    let mut stats = RxStats::new(total);
    // With --srtp, the unprotect context of my endpoint `index + k * threads` at `k`.
    let mut unprotect: Vec<SrtpContext> = (index..total)
        .step_by(threads.max(1))
        .filter_map(|i| endpoints[i].srtp.as_ref().map(|s| s.rx.clone()))
        .collect();
    let mut scratch = [0u8; RECV_LEN];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut ready = Vec::with_capacity(256);
    let mut batch = RecvBatch::new(BATCH);
    loop {
        let now = sys::now_ns();
        if now >= plan.drain_end_ns || stop.load(Ordering::Relaxed) {
            break;
        }
        let left_ms = ((plan.drain_end_ns - now) / 1_000_000).clamp(1, 20) as i32;
        epoll.wait(&mut events, left_ms, &mut ready)?;
        let mut got = 0u64;
        for &token in &ready {
            let i = token as usize;
            let mut rx = RxSocket {
                endpoint: &endpoints[i],
                i,
                srtp: unprotect.get_mut((i - index) / threads.max(1)),
            };
            got += read_socket(
                &mut rx,
                &mut batch,
                &mut scratch,
                plan,
                &mut stats,
                u64::MAX,
            );
        }
        progress.received.fetch_add(got, Ordering::Relaxed);
        if let RxClock::Kernel { poll, .. } = plan.rx_clock {
            if !poll.is_zero() {
                std::thread::sleep(poll);
            }
        }
    }
    // Whatever already sits in our queues reached us in time even if this
    // thread did not get to read it: a slow receiver is not relay loss.
    // With kernel stamps, only what arrived before the drain ended counts.
    if !stop.load(Ordering::Relaxed) {
        for (k, i) in (index..total).step_by(threads.max(1)).enumerate() {
            let mut rx = RxSocket {
                endpoint: &endpoints[i],
                i,
                srtp: unprotect.get_mut(k),
            };
            let got = read_socket(
                &mut rx,
                &mut batch,
                &mut scratch,
                plan,
                &mut stats,
                plan.drain_end_ns,
            );
            stats.swept += got;
        }
    }
    Ok(stats)
}

const BATCH: usize = 32;
/// Largest datagram `RecvBatch` holds.
const RECV_LEN: usize = 2048;

/// One endpoint as its receiver thread sees it.
struct RxSocket<'a> {
    endpoint: &'a Endpoint,
    /// Its index (it receives stream `i ^ 1`).
    i: usize,
    /// Its unprotect context with `--srtp`.
    srtp: Option<&'a mut SrtpContext>,
}

/// Reads `rx`'s socket until it is empty; probes received after
/// `cutoff_ns` (kernel stamps only) are not counted. Returns datagrams read.
fn read_socket(
    rx: &mut RxSocket<'_>,
    batch: &mut RecvBatch,
    scratch: &mut [u8; RECV_LEN],
    plan: Plan,
    stats: &mut RxStats,
    cutoff_ns: u64,
) -> u64 {
    let fd = rx.endpoint.socket.as_raw_fd();
    let expected = (rx.i ^ 1) as u32;
    let mut got = 0u64;
    loop {
        let n = match batch.recv(fd) {
            Ok(n) => n,
            Err(_) => {
                // e.g. ECONNREFUSED from an ICMP error: note it, go on.
                stats.foreign += 1;
                break;
            }
        };
        if n == 0 {
            break;
        }
        let t_user = sys::now_ns();
        got += n as u64;
        for k in 0..n {
            let probe = match rx.srtp.as_deref_mut() {
                None => rtp::parse(batch.get(k)),
                Some(ctx) => {
                    let datagram = batch.get(k);
                    let len = datagram.len().min(RECV_LEN);
                    scratch[..len].copy_from_slice(&datagram[..len]);
                    match ctx.unprotect_rtp(scratch, len) {
                        Ok(len) => rtp::parse(&scratch[..len]),
                        Err(_) => {
                            stats.srtp_errors += 1;
                            continue;
                        }
                    }
                }
            };
            let Some(probe) = probe else {
                stats.foreign += 1;
                continue;
            };
            if probe.stream != expected {
                stats.misrouted += 1;
                continue;
            }
            let t = match plan.rx_clock {
                RxClock::User => t_user,
                RxClock::Kernel { offset_ns, .. } => batch
                    .timestamp(k)
                    .map_or(t_user, |real| (real as i64 - offset_ns) as u64),
            };
            if t > cutoff_ns {
                continue;
            }
            if probe.send_ns >= plan.window_start_ns && probe.send_ns < plan.window_end_ns {
                stats.received[probe.stream as usize] += 1;
                stats
                    .latency
                    .saturating_record(t.saturating_sub(probe.send_ns).max(1));
            }
        }
        if n < BATCH {
            break;
        }
    }
    got
}
