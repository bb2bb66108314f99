//! One measurement point: bind the legs, set up the calls, run paced
//! traffic through the relay, read its CPU, tear the calls down.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sluice_ng::client::Client;
use socket2::{Domain, Protocol, Socket, Type};

use crate::cpu::{self, Sample};
use crate::host;
use crate::ng::{self, CallIds};
use crate::report::PointResult;
use crate::srtp::{self, SrtpMode};
use crate::stats;
use crate::sys;
use crate::traffic::{self, Endpoint, Plan, Progress, RxClock};
use crate::transcode;
use crate::udp;
use crate::xdp::{self, ProgRuns, XdpCheck, XdpCount};

/// The relay under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name for the report.
    pub name: String,
    /// NG address.
    pub ng: SocketAddr,
    /// Process id, for CPU accounting.
    pub pid: Option<u32>,
    /// Its worker threads, if known.
    pub threads: Option<usize>,
    /// How it was started, if we started it.
    pub command: Option<String>,
    /// No relay: each leg sends straight to the other (through the root
    /// namespace's IP forwarding with `--netns`), the baseline.
    pub direct: bool,
    /// Ask the relay (NG `query`) how many streams the XDP fast path took.
    pub xdp_check: bool,
    /// Read its XDP programs' run statistics (`--bpf-stats`).
    pub bpf_stats: bool,
}

/// How many calls the XDP check samples just before the window.
const XDP_SAMPLE_CALLS: usize = 16;

/// Where the two legs live.
#[derive(Debug, Clone)]
pub struct Legs {
    /// Callers' bind address.
    pub caller_ip: IpAddr,
    /// Callees' bind address.
    pub callee_ip: IpAddr,
    /// Callers' network namespace, if any.
    pub caller_ns: Option<PathBuf>,
    /// Callees' network namespace, if any.
    pub callee_ns: Option<PathBuf>,
}

/// The load of one point.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Calls (two streams each).
    pub calls: usize,
    /// Packets per second per stream.
    pub pps: f64,
    /// Measuring window.
    pub duration: Duration,
    /// Traffic before the window.
    pub warmup: Duration,
    /// Receive time after the window.
    pub drain: Duration,
    /// Sender threads.
    pub tx_threads: usize,
    /// Receiver threads.
    pub rx_threads: usize,
    /// Sender wake-up granularity.
    pub tick: Duration,
    /// Take receive times from the kernel (`SO_TIMESTAMPNS`) and poll
    /// every this often; `None`: read the clock in the receiver thread.
    pub kernel_rx_poll: Option<Duration>,
    /// SRTP on both legs, re-encrypted by the relay; `None`: plain RTP.
    pub srtp: Option<SrtpMode>,
    /// Transcoding (PCMU caller, Opus callee, `--transcode`): the Opus
    /// payload type the callees send (the one the relay offered them,
    /// learned at set-up); `None`: the probes of the other modes.
    pub transcode: Option<u8>,
}

impl Load {
    /// The mode label of reports.
    pub fn mode_label(&self) -> String {
        if self.transcode.is_some() {
            transcode::MODE.into()
        } else {
            srtp::mode_label(self.srtp)
        }
    }
}

static RUN: AtomicU32 = AtomicU32::new(0);

fn bind_one(ip: IpAddr) -> Result<UdpSocket> {
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = s.set_recv_buffer_size(1 << 20);
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::new(ip, 0).into())
        .with_context(|| format!("binding a UDP socket on {ip}"))?;
    Ok(s.into())
}

/// Binds `n` sockets on `ip`, inside namespace `ns` if given (from a
/// helper thread that `setns`es first; the sockets stay in that namespace).
fn bind_legs(n: usize, ip: IpAddr, ns: Option<&Path>) -> Result<Vec<UdpSocket>> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<Vec<UdpSocket>> {
            if let Some(path) = ns {
                sys::enter_netns(path).with_context(|| format!("setns {}", path.display()))?;
            }
            (0..n).map(|_| bind_one(ip)).collect()
        })
        .join()
        .map_err(|_| anyhow!("socket thread panicked"))?
    })
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// Runs one point against `target`.
pub fn run_point(
    target: &Target,
    legs: &Legs,
    mut load: Load,
    stop: &AtomicBool,
) -> Result<PointResult> {
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let a_socks = bind_legs(load.calls, legs.caller_ip, legs.caller_ns.as_deref())?;
    let b_socks = bind_legs(load.calls, legs.callee_ip, legs.callee_ns.as_deref())?;

    if target.direct {
        return run_direct(target, legs, load, stop, a_socks, b_socks);
    }
    // Set-up: offer + answer per call, one after another.
    let mut client = Client::new(target.ng)?;
    let pb = bar(
        load.calls as u64,
        "{prefix:>12} setup   [{bar:30}] {pos}/{len} calls {per_sec}",
    );
    pb.set_prefix(target.name.clone());
    let mut ids = Vec::with_capacity(load.calls);
    let mut ends = Vec::with_capacity(load.calls);
    let mut keys = Vec::with_capacity(load.calls);
    let setup_start = Instant::now();
    let mut setup_result = Ok(());
    for (i, (a, b)) in a_socks.iter().zip(&b_socks).enumerate() {
        if stop.load(Ordering::Relaxed) {
            setup_result = Err(anyhow!("interrupted"));
            break;
        }
        let call = CallIds::new(run, i);
        let legs = (a.local_addr()?, b.local_addr()?);
        let r = match load.transcode {
            Some(_) => transcode::setup_call(&mut client, &call, i, legs).map(|(ends, pt)| {
                load.transcode = Some(pt);
                (ends, None)
            }),
            None => ng::setup_call(&mut client, &call, i, legs, load.srtp),
        };
        ids.push(call);
        match r {
            Ok((e, k)) => {
                ends.push(e);
                keys.push(k);
            }
            Err(e) => {
                setup_result = Err(e.context(format!("setting up call {i}")));
                break;
            }
        }
        pb.inc(1);
    }
    let setup_s = setup_start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    if let Err(e) = setup_result {
        teardown(&mut client, &ids);
        return Err(e);
    }

    let caller_addrs: HashSet<SocketAddr> =
        a_socks.iter().filter_map(|s| s.local_addr().ok()).collect();
    let callee_addrs: HashSet<SocketAddr> =
        b_socks.iter().filter_map(|s| s.local_addr().ok()).collect();
    let relay_addrs: HashSet<SocketAddr> = ends.iter().flat_map(|e| [e.for_a, e.for_b]).collect();
    let mut endpoints = Vec::with_capacity(2 * load.calls);
    for ((a, b), e) in a_socks.iter().zip(&b_socks).zip(&ends) {
        a.connect(e.for_a).context("connecting leg A")?;
        b.connect(e.for_b).context("connecting leg B")?;
    }
    for ((a, b), k) in a_socks.into_iter().zip(b_socks).zip(keys) {
        let (a_srtp, b_srtp) = k.map_or((None, None), |k| (Some(k.a), Some(k.b)));
        endpoints.push(Endpoint {
            socket: a,
            srtp: a_srtp,
        });
        endpoints.push(Endpoint {
            socket: b,
            srtp: b_srtp,
        });
    }

    let traffic = run_traffic(target, &endpoints, load, stop, &ids);
    // Socket drops, read before teardown closes the relay's sockets.
    let loadgen_drops = udp::drops(&caller_addrs, legs.caller_ns.as_deref())
        .and_then(|a| Ok(a + udp::drops(&callee_addrs, legs.callee_ns.as_deref())?))
        .ok();
    let relay_drops = udp::drops(&relay_addrs, None).ok();
    // Whole-run XDP counters of every call, outside the window.
    let after_run = (target.xdp_check && traffic.is_ok()).then(|| {
        let programs = target
            .pid
            .filter(|_| target.bpf_stats)
            .and_then(xdp::prog_runs);
        let all: Vec<&CallIds> = ids.iter().collect();
        (xdp::count(&mut client, &all), programs)
    });
    let teardown_start = Instant::now();
    teardown(&mut client, &ids);
    let teardown_s = teardown_start.elapsed().as_secs_f64();
    let (totals, before, after, at_window_start) = traffic?;
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    let xdp = after_run.map(|(after_run, programs_after)| {
        let (sampled, programs_before) = at_window_start.unwrap_or_default();
        XdpCheck {
            at_window_start: sampled,
            after_run,
            program: match (programs_before, programs_after) {
                (Some(b), Some(a)) => Some(a.since(&b)),
                _ => None,
            },
        }
    });
    if let Some(x) = &xdp {
        report_xdp(&target.name, x);
    }
    Ok(point(
        target,
        load,
        Measured {
            totals,
            before,
            after,
            loadgen_drops,
            relay_drops,
            setup_s,
            teardown_s,
            xdp,
        },
    ))
}

/// Prints what the XDP check found; a loud warning when nothing was offloaded.
fn report_xdp(name: &str, x: &XdpCheck) {
    eprintln!("{name}: {}", x.summary());
    if let Some(p) = &x.program {
        eprintln!(
            "{name}: XDP program: {} runs, {} ns per run (kernel.bpf_stats_enabled)",
            p.runs,
            p.ns_per_run
                .map_or_else(|| "-".into(), |v| format!("{v:.0}"))
        );
    }
    if x.offloaded_nothing() {
        eprintln!(
            "WARNING: {name}: no stream was offloaded to XDP: this point measured the userspace path"
        );
    }
}

/// The baseline without a relay: each caller socket and its callee socket
/// send straight to each other.
fn run_direct(
    target: &Target,
    legs: &Legs,
    load: Load,
    stop: &AtomicBool,
    a_socks: Vec<UdpSocket>,
    b_socks: Vec<UdpSocket>,
) -> Result<PointResult> {
    if load.srtp.is_some() || load.transcode.is_some() {
        bail!("the direct baseline sends plain RTP only (no --srtp, no --transcode)");
    }
    let caller_addrs: HashSet<SocketAddr> =
        a_socks.iter().filter_map(|s| s.local_addr().ok()).collect();
    let callee_addrs: HashSet<SocketAddr> =
        b_socks.iter().filter_map(|s| s.local_addr().ok()).collect();
    let mut endpoints = Vec::with_capacity(2 * load.calls);
    for (a, b) in a_socks.into_iter().zip(b_socks) {
        a.connect(b.local_addr()?).context("connecting leg A")?;
        b.connect(a.local_addr()?).context("connecting leg B")?;
        endpoints.push(Endpoint {
            socket: a,
            srtp: None,
        });
        endpoints.push(Endpoint {
            socket: b,
            srtp: None,
        });
    }
    let traffic = run_traffic(target, &endpoints, load, stop, &[]);
    let loadgen_drops = udp::drops(&caller_addrs, legs.caller_ns.as_deref())
        .and_then(|a| Ok(a + udp::drops(&callee_addrs, legs.callee_ns.as_deref())?))
        .ok();
    let (totals, before, after, _) = traffic?;
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    Ok(point(
        target,
        load,
        Measured {
            totals,
            before,
            after,
            loadgen_drops,
            relay_drops: None,
            setup_s: 0.0,
            teardown_s: 0.0,
            xdp: None,
        },
    ))
}

/// What one point's traffic phase produced.
struct Measured {
    totals: stats::Totals,
    before: Sample,
    after: Sample,
    loadgen_drops: Option<u64>,
    relay_drops: Option<u64>,
    setup_s: f64,
    teardown_s: f64,
    xdp: Option<XdpCheck>,
}

fn delta(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    }
}

fn point(target: &Target, load: Load, m: Measured) -> PointResult {
    let Measured {
        totals,
        before,
        after,
        loadgen_drops,
        relay_drops,
        setup_s,
        teardown_s,
        xdp,
    } = m;

    let window_s = (after.at_ns - before.at_ns) as f64 / 1e9;
    let relay_cpu = delta(before.relay, after.relay);
    let own_cpu = delta(before.own, after.own);
    let system_cpu = cpu::machine_busy(&before, &after, host::online_cpus().len());
    let softirq_cpu = delta(before.softirq, after.softirq);
    let foreign_cpu = match (&before.foreign, &after.foreign) {
        (Some(b), Some(a)) => Some(a.used_since(b)),
        _ => None,
    };
    let other_cpu = system_cpu.map(|s| {
        s.saturating_sub(relay_cpu.unwrap_or_default())
            .saturating_sub(own_cpu.unwrap_or_default())
    });
    // The whole machine's busy time, less the visible noise of unrelated
    // processes: with and without this tool's own share.
    let machine_total = system_cpu.map(|s| s.saturating_sub(foreign_cpu.unwrap_or_default()));
    let machine_excl_loadgen = machine_total.map(|s| s.saturating_sub(own_cpu.unwrap_or_default()));
    let per_pkt = |c: Option<Duration>| {
        c.filter(|_| totals.received > 0)
            .map(|c| c.as_secs_f64() * 1e6 / totals.received as f64)
    };
    let pct = |c: Option<Duration>| c.map(|c| 100.0 * c.as_secs_f64() / window_s);
    let streams = 2 * load.calls;
    PointResult {
        relay: target.name.clone(),
        relay_threads: target.threads,
        relay_pid: target.pid,
        relay_cpus: target.pid.and_then(cpu::cpus_allowed),
        relay_command: target.command.clone(),
        mode: load.mode_label(),
        calls: load.calls,
        streams,
        pps_per_stream: load.pps,
        offered_pps: streams as f64 * load.pps,
        duration_s: load.duration.as_secs_f64(),
        warmup_s: load.warmup.as_secs_f64(),
        sent: totals.sent,
        received: totals.received,
        lost: totals.sent as i64 - totals.received as i64,
        loss_pct: if totals.sent == 0 {
            0.0
        } else {
            100.0 * (totals.sent as f64 - totals.received as f64) / totals.sent as f64
        },
        streams_with_loss: totals.streams_with_loss,
        misrouted: totals.misrouted,
        foreign: totals.foreign,
        srtp_errors: totals.srtp_errors,
        send_errors: totals.send_errors,
        max_send_lag_us: totals.max_lag_ns as f64 / 1000.0,
        loadgen_backlog: totals.swept,
        sent_pps: totals.sent as f64 / load.duration.as_secs_f64(),
        relay_cpu_pct: pct(relay_cpu),
        relay_cpu_us_per_pkt: per_pkt(relay_cpu),
        machine_cpu_us_per_pkt: per_pkt(machine_excl_loadgen),
        machine_total_cpu_us_per_pkt: per_pkt(machine_total),
        loadgen_cpu_us_per_pkt: per_pkt(own_cpu),
        loadgen_cpu_pct: pct(own_cpu),
        other_cpu_pct: pct(other_cpu),
        foreign_cpu_pct: pct(foreign_cpu),
        system_cpu_pct: pct(system_cpu),
        softirq_cpu_pct: pct(softirq_cpu),
        forks_in_window: match (before.forks, after.forks) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        },
        xdp,
        noisy_attempts_discarded: 0,
        loadgen_socket_drops: loadgen_drops,
        relay_socket_drops: relay_drops,
        latency: totals.latency,
        setup_s,
        setup_rate: if setup_s > 0.0 {
            load.calls as f64 / setup_s
        } else {
            0.0
        },
        teardown_s,
        tx_threads: load.tx_threads,
        rx_threads: load.rx_threads,
        rx_clock: match load.kernel_rx_poll {
            Some(p) => format!("kernel SO_TIMESTAMPNS, poll {} us", p.as_micros()),
            None => "user CLOCK_MONOTONIC per recvmmsg".into(),
        },
        transcode: totals.transcode.as_ref().map(|x| {
            transcode::summary(
                x,
                totals.sent_by_direction,
                totals.received_by_direction,
                relay_cpu.map(|c| c.as_secs_f64()),
                window_s,
                load.calls,
            )
        }),
    }
}

type TrafficOut = (
    stats::Totals,
    Sample,
    Sample,
    Option<(XdpCount, Option<ProgRuns>)>,
);

fn run_traffic(
    target: &Target,
    endpoints: &[Endpoint],
    load: Load,
    stop: &AtomicBool,
    ids: &[CallIds],
) -> Result<TrafficOut> {
    let start_ns = sys::now_ns() + 20_000_000;
    let window_start_ns = start_ns + load.warmup.as_nanos() as u64;
    let window_end_ns = window_start_ns + load.duration.as_nanos() as u64;
    let plan = Plan {
        pps: load.pps,
        start_ns,
        window_start_ns,
        window_end_ns,
        drain_end_ns: window_end_ns + load.drain.as_nanos() as u64,
        tick: load.tick,
        rx_clock: match load.kernel_rx_poll {
            Some(poll) => RxClock::Kernel {
                offset_ns: sys::realtime_offset_ns(),
                poll,
            },
            None => RxClock::User,
        },
    };
    let progress = Progress::default();
    let total_ms = (plan.drain_end_ns - start_ns) / 1_000_000;
    let pb = bar(
        total_ms,
        "{prefix:>12} traffic [{bar:30}] {elapsed_precise} {msg}",
    );
    pb.set_prefix(target.name.clone());

    // With --transcode: the send time of every stream's recent frames.
    let times = load
        .transcode
        .map(|_| transcode::SendTimes::new(endpoints.len()));
    std::thread::scope(|s| -> Result<TrafficOut> {
        let rx: Vec<_> = (0..load.rx_threads)
            .map(|i| {
                let (progress, times) = (&progress, times.as_ref());
                s.spawn(move || match (times, load.transcode) {
                    (Some(times), Some(pt)) => transcode::receiver(
                        endpoints,
                        i,
                        load.rx_threads,
                        plan,
                        stop,
                        progress,
                        times,
                        pt,
                    ),
                    _ => traffic::receiver(endpoints, i, load.rx_threads, plan, stop, progress),
                })
            })
            .collect();
        let tx: Vec<_> = (0..load.tx_threads)
            .map(|i| {
                let (progress, times) = (&progress, times.as_ref());
                s.spawn(move || match (times, load.transcode) {
                    (Some(times), Some(pt)) => transcode::sender(
                        endpoints,
                        i,
                        load.tx_threads,
                        plan,
                        stop,
                        progress,
                        times,
                        pt,
                    ),
                    _ => Ok(traffic::sender(
                        endpoints,
                        i,
                        load.tx_threads,
                        plan,
                        stop,
                        progress,
                    )),
                })
            })
            .collect();

        // The XDP check queries a sample of calls shortly before the
        // window opens (warm-up has latched both directions by then), from
        // its own thread so a slow reply cannot delay the CPU readings.
        let check_ns =
            window_start_ns.saturating_sub((load.warmup.as_nanos() as u64 / 4).min(250_000_000));
        let mut check = None;
        let mut before = None;
        let mut after = None;
        loop {
            let now = sys::now_ns();
            if target.xdp_check && check.is_none() && now >= check_ns {
                let ng = target.ng;
                let programs = target
                    .pid
                    .filter(|_| target.bpf_stats)
                    .and_then(xdp::prog_runs);
                check = Some(s.spawn(move || {
                    let mut client = Client::new(ng).ok()?;
                    client.retransmit_after = Duration::from_millis(200);
                    client.tries = 2;
                    let count = xdp::count(&mut client, &xdp::sample(ids, XDP_SAMPLE_CALLS));
                    Some((count, programs))
                }));
            }
            if before.is_none() && now >= window_start_ns {
                before = Some(Sample::take(target.pid));
            }
            if after.is_none() && now >= window_end_ns {
                after = Some(Sample::take(target.pid));
            }
            if now >= plan.drain_end_ns || stop.load(Ordering::Relaxed) {
                break;
            }
            pb.set_position(now.saturating_sub(start_ns) / 1_000_000);
            pb.set_message(format!(
                "sent {} recv {}",
                progress.sent.load(Ordering::Relaxed),
                progress.received.load(Ordering::Relaxed)
            ));
            // Wake exactly at the window edges so the CPU readings line up.
            let next_edge = [check_ns, window_start_ns, window_end_ns, plan.drain_end_ns]
                .into_iter()
                .find(|&e| e > now)
                .unwrap_or(now);
            let nap = (next_edge - now).min(100_000_000);
            std::thread::sleep(Duration::from_nanos(nap.max(1_000)));
        }
        pb.finish_and_clear();
        let tx_stats: Vec<_> = tx
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("sender thread panicked"))?)
            .collect::<Result<_>>()?;
        let rx_stats: Vec<_> = rx
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("receiver thread panicked"))?)
            .collect::<Result<_>>()?;
        let before = before.unwrap_or_else(|| Sample::take(target.pid));
        let after = after.unwrap_or_else(|| Sample::take(target.pid));
        let checked = check.and_then(|h| h.join().ok().flatten());
        Ok((
            stats::merge(endpoints.len(), &tx_stats, &rx_stats),
            before,
            after,
            checked,
        ))
    })
}

fn teardown(client: &mut Client, ids: &[CallIds]) {
    let mut failed = 0usize;
    for call in ids {
        if ng::delete_call(client, call).is_err() {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("warning: {failed} of {} deletes failed", ids.len());
    }
}
