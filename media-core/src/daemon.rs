//! Start-up and shutdown: workers, the NG server, signals.

use std::net::UdpSocket;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use crossbeam_queue::ArrayQueue;

use crate::config::Config;
use crate::control::ports::OsBinder;
use crate::control::{Engine, NgServer};
use crate::transcoder::digits::DigitReporter;
use crate::transcoder::{OutputQueue, PoolSettings, TranscoderPool};
use crate::worker::{Doorbell, TranscodeLink, TranscodeMode, Worker, WorkerTuning};
use crate::xdp::XdpFastPath;

/// A daemon ready to serve: NG socket bound, workers running.
#[derive(Debug)]
pub struct Daemon {
    server: NgServer,
    stop: Arc<AtomicBool>,
    /// Detaches the XDP program when dropped, after the workers stopped.
    xdp: Option<XdpFastPath>,
    /// Stopped after the workers, which feed it (none when the workers
    /// transcode themselves).
    pool: Option<TranscoderPool>,
}

impl Daemon {
    /// Binds the NG socket and starts the workers.
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind(config.listen_ng).with_context(|| {
            format!(
                "cannot bind NG socket {} (key `listen-ng`)",
                config.listen_ng
            )
        })?;
        widen_receive_buffer(&socket);
        let xdp = start_xdp(config);
        let flows = xdp.as_ref().map(XdpFastPath::flows);
        let tuning = WorkerTuning::default();
        let events = Arc::new(ArrayQueue::new(tuning.queue_capacity));
        // Cores inside the process's affinity mask (`taskset`, cgroups).
        let allowed = crate::worker::pin::allowed_cores();
        let inboxes = (0..config.workers)
            .map(|_| {
                Ok(OutputQueue {
                    queue: Arc::new(ArrayQueue::new(TRANSCODE_QUEUE)),
                    doorbell: Arc::new(Doorbell::new()?),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()
            .context("cannot create worker doorbells")?;
        let settings = pool_settings(config);
        // `transcode-threads = 0`: each worker transcodes its own calls.
        let pool = if settings.threads == 0 {
            None
        } else {
            Some(
                TranscoderPool::spawn(&settings, inboxes.clone())
                    .context("cannot start the transcoder threads")?,
            )
        };
        let mode = match &pool {
            Some(pool) => TranscodeMode::Pool(pool.handle()),
            None => TranscodeMode::Inline {
                settings: settings.transcode.clone(),
                dtmf_log_dest: settings.dtmf_log_dest,
            },
        };
        let workers = (0..config.workers)
            .map(|i| {
                let core = crate::worker::pin::core_for_worker(i, config.workers, &allowed);
                Worker::spawn(
                    i,
                    Some(core),
                    tuning,
                    Arc::clone(&events),
                    std::thread::current(),
                    flows.clone(),
                    Some(TranscodeLink {
                        mode: mode.clone(),
                        inbox: inboxes[i].clone(),
                    }),
                )
                .with_context(|| {
                    format!("cannot start worker {i} (io_uring needs Linux 6.0 or later)")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let engine = Engine::new(config, Box::new(OsBinder));
        let digits = DigitReporter::new(config.transcode.dtmf_log_dest)
            .context("cannot open a socket for `dtmf-log-dest`")?;
        let server = NgServer::new(
            socket,
            engine,
            workers,
            events,
            config.timeout,
            flows,
            digits,
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .context("cannot install signal handler")?;
        }
        tracing::info!(
            ng = %server.local_addr()?,
            workers = config.workers,
            interfaces = ?config.interfaces.iter().map(|i| format!("{}/{}", i.name, i.address)).collect::<Vec<_>>(),
            ports = format!("{}-{}", config.port_min, config.port_max),
            "media-core ready"
        );
        Ok(Self {
            server,
            stop,
            xdp,
            pool,
        })
    }

    /// Serves until SIGTERM or SIGINT, then drains the workers.
    pub fn run(self) -> anyhow::Result<()> {
        self.server.run(&self.stop)?;
        if let Some(pool) = self.pool {
            pool.shutdown();
        }
        drop(self.xdp);
        tracing::info!("media-core stopped");
        Ok(())
    }
}

/// Capacity of each worker's queue from the pool and of each pool
/// thread's job queue (packets travel inline, ~1.5 KB each).
const TRANSCODE_QUEUE: usize = 8192;

/// The pool's settings from the configuration.
fn pool_settings(config: &Config) -> PoolSettings {
    let t = &config.transcode;
    let transcode = sluice_transcode::Settings {
        opus_complexity: t.opus_complexity,
        opus_bitrate: t.opus_bitrate,
        max_jitter_delay: t.jitter_buffer_max,
        ..sluice_transcode::Settings::default()
    };
    PoolSettings {
        threads: t.threads,
        cores: Vec::new(),
        transcode,
        dtmf_log_dest: t.dtmf_log_dest,
        queue_capacity: TRANSCODE_QUEUE,
    }
}

/// Loads the XDP fast path if interfaces are configured; when it cannot
/// load, says why once and carries on userspace-only.
fn start_xdp(config: &Config) -> Option<XdpFastPath> {
    if config.xdp.interfaces.is_empty() {
        return None;
    }
    match XdpFastPath::start(&config.xdp) {
        Ok(xdp) => {
            for a in xdp.attached() {
                tracing::info!(interface = %a.name, ifindex = a.ifindex, mode = a.mode, "XDP fast path attached");
            }
            Some(xdp)
        }
        Err(reason) => {
            tracing::warn!("XDP fast path unavailable, forwarding in userspace only: {reason}");
            None
        }
    }
}

/// The NG socket's receive buffer: room for a few thousand commands, so a
/// burst of call set-ups that arrives while the control thread is not
/// scheduled waits in the kernel instead of being dropped (and then
/// retransmitted by every client at once). The kernel caps it at
/// `net.core.rmem_max`.
const NG_RECEIVE_BUFFER: usize = 4 << 20;

fn widen_receive_buffer(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    if let Err(error) = socket.set_recv_buffer_size(NG_RECEIVE_BUFFER) {
        tracing::warn!(%error, "cannot widen the NG socket's receive buffer");
    }
}
