//! Spawning the pool threads and handing them work.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle, Thread};

use crossbeam_queue::ArrayQueue;
use sluice_transcode::Settings;

use super::digits::DigitReporter;
use super::job::{Job, MediaKey, OutputQueue};
use super::session::PoolThread;
use crate::worker::pin;

/// How the pool runs.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Pool threads.
    pub threads: usize,
    /// Cores to pin them to, round-robin (none: unpinned).
    pub cores: Vec<usize>,
    /// Codec and timing settings for every transcoder.
    pub transcode: Settings,
    /// Where DTMF digit reports go as JSON datagrams, if anywhere.
    pub dtmf_log_dest: Option<SocketAddr>,
    /// Capacity of each thread's job queue.
    pub queue_capacity: usize,
}

/// One thread's inbox.
#[derive(Debug)]
struct Inbox {
    jobs: Arc<ArrayQueue<Job>>,
    thread: Thread,
}

/// What workers hold to hand work to the pool: cheap to clone.
#[derive(Debug, Clone)]
pub struct PoolHandle {
    inboxes: Arc<[Inbox]>,
}

impl PoolHandle {
    /// Queues `job` for the thread that owns `key` (all jobs of one call
    /// go to one thread, in order) and wakes it. Gives the job back when
    /// that thread's queue is full.
    #[allow(
        clippy::result_large_err,
        reason = "the caller gets its job back without an allocation"
    )]
    pub fn submit(&self, key: MediaKey, job: Job) -> Result<(), Job> {
        let inbox = &self.inboxes[(key.call.0 % self.inboxes.len() as u64) as usize];
        inbox.jobs.push(job)?;
        inbox.thread.unpark();
        Ok(())
    }
}

/// The running pool.
#[derive(Debug)]
pub struct TranscoderPool {
    handle: PoolHandle,
    threads: Vec<JoinHandle<()>>,
}

impl TranscoderPool {
    /// Starts the threads; `outputs[w]` is worker `w`'s inbox.
    pub fn spawn(settings: &PoolSettings, outputs: Vec<OutputQueue>) -> io::Result<Self> {
        let outputs: Arc<[OutputQueue]> = outputs.into();
        let mut inboxes = Vec::new();
        let mut threads = Vec::new();
        for index in 0..settings.threads.max(1) {
            let jobs = Arc::new(ArrayQueue::new(settings.queue_capacity));
            let core =
                (!settings.cores.is_empty()).then(|| settings.cores[index % settings.cores.len()]);
            let reporter = DigitReporter::new(settings.dtmf_log_dest)?;
            let mut pool_thread = PoolThread::new(
                Arc::clone(&jobs),
                Arc::clone(&outputs),
                settings.transcode.clone(),
                reporter,
                index as u64,
            );
            let handle = thread::Builder::new()
                .name(format!("mc-transcode-{index}"))
                .spawn(move || {
                    if let Some(core) = core {
                        if let Err(e) = pin::to_core(core) {
                            tracing::warn!(thread = index, core, error = %e, "cannot pin transcoder thread");
                        }
                    }
                    pool_thread.run();
                })?;
            inboxes.push(Inbox {
                jobs,
                thread: handle.thread().clone(),
            });
            threads.push(handle);
        }
        Ok(Self {
            handle: PoolHandle {
                inboxes: inboxes.into(),
            },
            threads,
        })
    }

    /// A handle for workers.
    pub fn handle(&self) -> PoolHandle {
        self.handle.clone()
    }

    /// Stops the threads (after the workers, which feed them).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for inbox in self.handle.inboxes.iter() {
            while inbox.jobs.push(Job::Shutdown).is_err() {
                inbox.thread.unpark();
                thread::yield_now();
            }
            inbox.thread.unpark();
        }
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a transcoder thread panicked");
            }
        }
    }
}

impl Drop for TranscoderPool {
    fn drop(&mut self) {
        self.stop();
    }
}
