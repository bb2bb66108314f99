//! Data-path workers: one pinned thread per core, each with its own
//! io_uring and its own sockets (shared nothing). The control thread
//! talks to a worker only through two bounded lock-free queues and an
//! eventfd doorbell; nothing on the packet path takes a lock.

mod bufring;
mod event_loop;
mod offload;
pub(crate) mod pin;
mod sockaddr;
mod wake;

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};
use std::time::Instant;

use crossbeam_queue::ArrayQueue;

use crate::relay::{CallSerial, SeenDigit, SocketConfig, SocketKey, StreamStats};
use crate::transcoder::{MediaKey, OutputQueue, PoolCommand, PoolHandle};
use crate::xdp::XdpFlows;

pub use wake::Doorbell;

/// Commands the control thread sends a worker (owned values only).
#[derive(Debug)]
#[non_exhaustive]
pub enum WorkerCommand {
    /// Take ownership of a bound socket and start receiving on it.
    Open {
        /// Its key.
        key: SocketKey,
        /// The bound socket.
        socket: UdpSocket,
        /// Its call.
        call: CallSerial,
        /// When the control thread created it.
        now: Instant,
    },
    /// Set or change where a socket's packets go.
    Configure {
        /// The socket.
        key: SocketKey,
        /// The new routing, latching and keys (boxed: keys are large and
        /// commands travel by value through a bounded queue).
        config: Box<SocketConfig>,
    },
    /// Stop receiving on a socket and close it.
    Close {
        /// The socket.
        key: SocketKey,
    },
    /// Report the counters of a call's sockets (reply: [`WorkerEvent::Stats`]).
    CallStats {
        /// The call.
        call: CallSerial,
        /// Echoed in the reply.
        request: u64,
    },
    /// Report the counters of every socket (reply: [`WorkerEvent::AllStats`]).
    AllStats {
        /// Echoed in the reply.
        request: u64,
    },
    /// Report calls with no packet since `deadline` (reply: [`WorkerEvent::Idle`]).
    SweepIdle {
        /// The inactivity deadline.
        deadline: Instant,
    },
    /// Pass a command to the transcoder pool, in order with this
    /// worker's packets of that section.
    Transcoder {
        /// The section.
        key: MediaKey,
        /// What to do.
        command: PoolCommand,
    },
    /// Close everything and end the thread.
    Shutdown,
}

/// Where a worker's transcoding runs.
#[derive(Debug, Clone)]
pub enum TranscodeMode {
    /// On the pool's threads: the worker never waits for a codec.
    Pool(PoolHandle),
    /// On the worker itself (`transcode-threads = 0`), a bounded batch
    /// per loop turn after the turn's relayed packets are sent: no
    /// hand-off between threads, but a relayed packet that arrives during
    /// a batch waits for it.
    Inline {
        /// Codec and timing settings.
        settings: sluice_transcode::Settings,
        /// Where digit reports go as JSON.
        dtmf_log_dest: Option<std::net::SocketAddr>,
    },
}

/// A worker's connection to its transcoder.
#[derive(Debug, Clone)]
pub struct TranscodeLink {
    /// Pool or inline.
    pub mode: TranscodeMode,
    /// Where transcoded output for this worker comes back; its doorbell
    /// becomes the worker's doorbell.
    pub inbox: OutputQueue,
}

/// What a worker tells the control thread.
#[derive(Debug)]
#[non_exhaustive]
pub enum WorkerEvent {
    /// Counters of one call's sockets.
    Stats {
        /// From the command.
        request: u64,
        /// Key and counters per socket.
        stats: Vec<(SocketKey, StreamStats)>,
    },
    /// Counters of all sockets of this worker.
    AllStats {
        /// From the command.
        request: u64,
        /// Call, key and counters per socket.
        stats: Vec<(CallSerial, SocketKey, StreamStats)>,
    },
    /// Calls without media since the sweep's deadline.
    Idle {
        /// The idle calls.
        calls: Vec<CallSerial>,
    },
    /// Telephone-events that ended in pass-through streams.
    Digits {
        /// What was seen, in order.
        digits: Vec<SeenDigit>,
    },
}

/// Sizes of a worker's rings and buffers.
#[derive(Debug, Clone, Copy)]
pub struct WorkerTuning {
    /// Submission queue entries.
    pub ring_entries: u32,
    /// Receive buffers in the provided-buffer ring (power of two).
    pub buffers: u16,
    /// Bytes per receive buffer; larger datagrams count as oversize.
    pub buffer_size: u32,
    /// Capacity of each command and event queue.
    pub queue_capacity: usize,
}

impl Default for WorkerTuning {
    fn default() -> Self {
        Self {
            ring_entries: 4096,
            buffers: 8192,
            buffer_size: 2048,
            queue_capacity: 65536,
        }
    }
}

/// The control thread's handle to one worker.
#[derive(Debug)]
pub struct Worker {
    index: usize,
    commands: Arc<ArrayQueue<WorkerCommand>>,
    doorbell: Arc<Doorbell>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Error from handing a command to a worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The worker's command queue is full.
    #[error("worker {0} command queue is full")]
    Full(usize),
}

impl Worker {
    /// Starts worker `index`, pinned to `core` when given. Events go to
    /// `events`; `control` is unparked after each one. With `xdp`, the
    /// worker hands streams that need no payload change to the fast path;
    /// with `transcode`, streams without a common codec go to the pool.
    pub fn spawn(
        index: usize,
        core: Option<usize>,
        tuning: WorkerTuning,
        events: Arc<ArrayQueue<WorkerEvent>>,
        control: Thread,
        xdp: Option<XdpFlows>,
        transcode: Option<TranscodeLink>,
    ) -> io::Result<Self> {
        let commands = Arc::new(ArrayQueue::new(tuning.queue_capacity));
        let doorbell = match &transcode {
            Some(link) => Arc::clone(&link.inbox.doorbell),
            None => Arc::new(Doorbell::new()?),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = {
            let commands = Arc::clone(&commands);
            let doorbell = Arc::clone(&doorbell);
            thread::Builder::new()
                .name(format!("mc-worker-{index}"))
                .spawn(move || {
                    if let Some(core) = core {
                        if let Err(e) = pin::to_core(core) {
                            tracing::warn!(worker = index, core, error = %e, "cannot pin worker");
                        }
                    }
                    let mut lp = match event_loop::EventLoop::new(
                        tuning, commands, doorbell, events, control, xdp, transcode,
                    ) {
                        Ok(lp) => {
                            let _ = ready_tx.send(Ok(()));
                            lp
                        }
                        Err(e) => {
                            let kind = e.kind();
                            let _ = ready_tx.send(Err(e));
                            return Err(io::Error::from(kind));
                        }
                    };
                    lp.run()
                })?
        };
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(io::Error::other("worker thread died during start-up")),
        }
        Ok(Self {
            index,
            commands,
            doorbell,
            thread: Some(thread),
        })
    }

    /// Whether the worker thread is still running.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// This worker's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Queues a command and rings the doorbell.
    pub fn send(&self, command: WorkerCommand) -> Result<(), SendError> {
        self.try_send(command)
            .map_err(|_| SendError::Full(self.index))
    }

    /// Queues a command and rings the doorbell; gives the command back
    /// when the queue is full.
    pub fn try_send(&self, command: WorkerCommand) -> Result<(), WorkerCommand> {
        self.commands.push(command)?;
        self.doorbell.ring();
        Ok(())
    }

    /// Asks the worker to stop and waits for it.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        while self.commands.push(WorkerCommand::Shutdown).is_err() {
            if thread.is_finished() {
                break; // Died with a full queue: nothing will drain it.
            }
            self.doorbell.ring();
            thread::yield_now();
        }
        self.doorbell.ring();
        thread
            .join()
            .map_err(|_| io::Error::other("worker thread panicked"))?
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
