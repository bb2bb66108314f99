//! The back-to-back user agent: two independent SIP legs per call (carrier
//! and platform, each with its own Call-ID, tags and CSeq) joined through
//! a media node over NG.
//!
//! - [`server`]: listeners, the rsipstack endpoint and dialog layer, reload
//!   and graceful shutdown.
//! - [`gate`]: rate limits, lock-outs and allowlists before any transaction.
//! - [`dispatch`]: each new transaction: admission (digest), OPTIONS,
//!   in-dialog requests.
//! - [`call`]: one call from INVITE to BYE, with failover across targets.
//! - [`probe`]: OPTIONS health probes of platform targets.
//! - [`register`]: outbound registration of trunks to their carriers.
//! - [`uri`]: the URI facts sip-control reads through rsipstack's parser.
//!
//! The sans-IO parsers it uses live in [`crate::signal`].

pub mod call;
pub mod dispatch;
pub mod gate;
pub mod probe;
pub mod register;
pub mod runtime;
pub mod server;
pub mod uri;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::Uri;

use crate::ops::{CdrWriter, Metrics};
use crate::security::{DigestServer, Lockout, RateLimiter};

pub use runtime::Runtime;
pub use server::Server;

/// Per-source state of the gate and of digest admission.
pub struct Guard {
    /// Sources locked out after repeated digest failures.
    pub lockout: Lockout,
    /// Per-source request rate.
    pub rate: RateLimiter,
}

/// State every task of the server shares.
pub struct Shared {
    runtime: RwLock<Arc<Runtime>>,
    /// rsipstack's dialog layer (and through it the endpoint).
    pub dialogs: Arc<DialogLayer>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    guard: Mutex<Guard>,
    /// Digest challenges and verification.
    pub digest: DigestServer,
    /// CDR output, if configured.
    pub cdr: Option<CdrWriter>,
    /// Up/down state of platform targets from OPTIONS probes.
    pub health: probe::TargetHealth,
    /// Our Contact for dialogs.
    pub contact: Uri,
    active_calls: AtomicUsize,
    draining: AtomicBool,
}

impl Shared {
    /// The configuration new work uses.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the configuration; calls in progress keep theirs.
    pub fn replace_runtime(&self, runtime: Runtime) {
        *self.runtime.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(runtime);
    }

    /// The rate limiter and lock-out table.
    pub fn guard(&self) -> MutexGuard<'_, Guard> {
        self.guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether new calls are refused (graceful shutdown).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.active_calls.load(Ordering::Relaxed)
    }

    fn call_started(&self) {
        self.active_calls.fetch_add(1, Ordering::Relaxed);
        self.metrics.add_gauge("sluice_sip_active_calls", &[], 1.0);
    }

    fn call_ended(&self) {
        self.active_calls.fetch_sub(1, Ordering::Relaxed);
        self.metrics.add_gauge("sluice_sip_active_calls", &[], -1.0);
    }
}

/// Counts a call from creation to drop.
pub(crate) struct ActiveCall(Arc<Shared>);

impl ActiveCall {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.call_started();
        ActiveCall(shared)
    }
}

impl Drop for ActiveCall {
    fn drop(&mut self) {
        self.0.call_ended();
    }
}
