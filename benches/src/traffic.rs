//! The media plane of a run: paced sender threads and epoll/recvmmsg
//! receiver threads over every leg's socket.
//!
//! Endpoint `i` is leg A of call `i / 2` when `i` is even, leg B when odd.
//! It sends stream `i` and receives stream `i ^ 1`, so a probe arriving on
//! the wrong socket shows the relay crossed legs.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;

use crate::pacing::Schedule;
use crate::rtp::{self, Stream};
use crate::stats::{RxStats, TxStats};
use crate::sys::{self, Epoll, RecvBatch};

/// One leg's socket.
#[derive(Debug)]
pub struct Endpoint {
    /// Non-blocking UDP socket of this leg, connected to the relay
    /// address it sends its media to.
    pub socket: UdpSocket,
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
            // Connected to `ep.dest`: no per-packet route lookup.
            match ep.socket.send(packet) {
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
            got += read_socket(&endpoints[i], i, &mut batch, plan, &mut stats, u64::MAX);
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
        for i in (index..total).step_by(threads.max(1)) {
            let got = read_socket(
                &endpoints[i],
                i,
                &mut batch,
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

/// Reads socket `i` until it is empty; probes received after `cutoff_ns`
/// (kernel stamps only) are not counted. Returns datagrams read.
fn read_socket(
    endpoint: &Endpoint,
    i: usize,
    batch: &mut RecvBatch,
    plan: Plan,
    stats: &mut RxStats,
    cutoff_ns: u64,
) -> u64 {
    let fd = endpoint.socket.as_raw_fd();
    let expected = (i ^ 1) as u32;
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
            let Some(probe) = rtp::parse(batch.get(k)) else {
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
