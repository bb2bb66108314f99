//! Start-up, reload and shutdown of the B2BUA: listeners per transport,
//! the rsipstack endpoint behind the [`Gate`], the dialog layer, media node
//! health checks, target probes and the metrics endpoint.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::transaction::endpoint::EndpointOption;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::tls::{TlsConfig, TlsListenerConnection};
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::TransportLayer;
use rsipstack::EndpointBuilder;
use tokio_util::sync::CancellationToken;

use super::gate::Gate;
use super::{dispatch, probe, register, Guard, Runtime, Shared};
use crate::config::{Config, Transport};
use crate::media::MediaNodes;
use crate::ops::{http, CdrWriter, Metrics};
use crate::security::{DigestServer, Lockout, RateLimiter};

/// A running sip-control.
pub struct Server {
    shared: Arc<Shared>,
    cancel: CancellationToken,
    /// Cancels the health checks of the current media nodes on reload.
    media_cancel: Mutex<CancellationToken>,
    /// Outbound registrations: stopped (un-REGISTERing) first on shutdown.
    register: (CancellationToken, tokio::task::JoinHandle<()>),
}

impl Server {
    /// Binds every listener and starts serving. Errors name what failed.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        let mut contact = None;
        for listener in &config.sip.listen {
            let address = listener.address;
            match listener.transport {
                Transport::Udp => {
                    let udp =
                        UdpConnection::create_connection(address, None, Some(cancel.child_token()))
                            .await
                            .map_err(|e| anyhow!("cannot bind SIP udp {address}: {e}"))?;
                    if contact.is_none() {
                        contact = Some(udp.get_addr().clone());
                    }
                    transport_layer.add_transport(udp.into());
                }
                Transport::Tcp => {
                    let tcp = TcpListenerConnection::new(address, None)
                        .await
                        .map_err(|e| anyhow!("cannot bind SIP tcp {address}: {e}"))?;
                    transport_layer.add_transport(tcp.into());
                }
                Transport::Tls => {
                    let read = |path: &Option<std::path::PathBuf>, what: &str| {
                        let path = path
                            .as_ref()
                            .ok_or_else(|| anyhow!("tls listener {address} has no {what}"))?;
                        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
                    };
                    let tls = TlsConfig {
                        cert: Some(read(&listener.certificate, "certificate")?),
                        key: Some(read(&listener.private_key, "private-key")?),
                        ..TlsConfig::default()
                    };
                    let tls = TlsListenerConnection::new(address, None, tls)
                        .await
                        .map_err(|e| anyhow!("cannot set up SIP tls {address}: {e}"))?;
                    transport_layer.add_transport(tls.into());
                }
            }
        }
        let contact_addr = contact
            .or_else(|| transport_layer.get_addrs().into_iter().next())
            .ok_or_else(|| anyhow!("no SIP listener"))?;
        let contact: rsipstack::sip::Uri = format!("sip:sluice@{}", contact_addr.addr)
            .as_str()
            .try_into()
            .map_err(|e| anyhow!("contact URI: {e}"))?;

        let gate = Arc::new(Gate::default());
        // Sources outside every allowlist stop at the transport (see
        // `Gate::admits_source`): not even rsipstack's keepalive answer.
        let whitelist_gate = gate.clone();
        transport_layer.set_whitelist(move |ip: std::net::IpAddr| {
            let admitted = whitelist_gate.admits_source(ip);
            async move { admitted }
        });
        let endpoint = EndpointBuilder::new()
            .with_user_agent(&config.sip.user_agent)
            .with_transport_layer(transport_layer)
            .with_cancel_token(cancel.child_token())
            .with_option(EndpointOption::default())
            .with_transport_inspector(Box::new(GateRef(gate.clone())))
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| anyhow!("rsipstack: {e}"))?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));

        let media_cancel = cancel.child_token();
        let media = MediaNodes::new(&config.media).context("media nodes")?;
        media.spawn_health_checks(media_cancel.clone());
        let metrics = Arc::new(Metrics::default());
        let cdr = match &config.observability.cdr {
            Some(path) => Some(
                CdrWriter::open(path).with_context(|| format!("CDR file {}", path.display()))?,
            ),
            None => None,
        };
        let metrics_listener = match config.observability.metrics {
            Some(address) => Some(
                http::bind(address)
                    .await
                    .with_context(|| format!("metrics listener {address}"))?,
            ),
            None => None,
        };
        let security = &config.security;
        let guard = Guard {
            lockout: Lockout::new(security.max_auth_failures, security.lockout),
            rate: RateLimiter::new(security.rate_per_source, security.burst_per_source),
        };
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow!("no OS randomness: {e}"))?;
        let digest = DigestServer::new(secret, security.nonce_lifetime, std::time::Instant::now());
        let runtime = Runtime::new(config, media).context("allowlist")?;

        let shared = Arc::new(Shared {
            runtime: RwLock::new(Arc::new(runtime)),
            dialogs,
            metrics: metrics.clone(),
            guard: Mutex::new(guard),
            digest,
            cdr,
            health: probe::TargetHealth::default(),
            contact,
            active_calls: Default::default(),
            draining: Default::default(),
        });
        gate.attach(shared.clone());

        let endpoint_inner = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(error) = endpoint_inner.serve().await {
                tracing::error!(%error, "SIP endpoint stopped");
            }
        });
        // Keep the endpoint (and its listeners) alive as long as the server.
        let keep = endpoint;
        let token = cancel.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            keep.shutdown();
        });
        tokio::spawn(dispatch::run(shared.clone(), incoming));
        tokio::spawn(probe::run(shared.clone(), cancel.child_token()));
        let register_cancel = cancel.child_token();
        let register = tokio::spawn(register::run(shared.clone(), register_cancel.clone()));
        if let Some(listener) = metrics_listener {
            tokio::spawn(http::serve(listener, metrics, cancel.child_token()));
        }
        tracing::info!(contact = %shared.contact, "sip-control listening");
        Ok(Server {
            shared,
            cancel,
            media_cancel: Mutex::new(media_cancel),
            register: (register_cancel, register),
        })
    }

    /// State shared with the tasks (tests read metrics through it).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Applies a new configuration to new calls. Listeners are not rebound:
    /// a changed `[sip] listen` needs a restart (and is said so).
    pub fn reload(&self, config: Config) -> anyhow::Result<()> {
        let old = self.shared.runtime();
        let listen_changed = old.config.sip.listen.len() != config.sip.listen.len()
            || old
                .config
                .sip
                .listen
                .iter()
                .zip(&config.sip.listen)
                .any(|(a, b)| a.address != b.address || a.transport != b.transport);
        if listen_changed {
            tracing::warn!("[sip] listen changed: restart sip-control to rebind listeners");
        }
        let token = self.cancel.child_token();
        let media = MediaNodes::new(&config.media).context("media nodes")?;
        media.spawn_health_checks(token.clone());
        let previous = std::mem::replace(
            &mut *self.media_cancel.lock().unwrap_or_else(|p| p.into_inner()),
            token,
        );
        previous.cancel();
        self.shared
            .replace_runtime(Runtime::new(config, media).context("allowlist")?);
        tracing::info!("configuration reloaded; calls in progress keep the previous one");
        Ok(())
    }

    /// Stops taking calls, un-REGISTERs the trunks (within 2 s), waits up
    /// to `grace` for calls in progress to end, then stops everything.
    pub async fn shutdown(self, grace: Duration) {
        self.shared.draining.store(true, Ordering::Relaxed);
        // Un-REGISTER first, so carriers stop routing calls here.
        let (register_cancel, register) = self.register;
        register_cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(3), register).await;
        let deadline = tokio::time::Instant::now() + grace;
        let mut last_reported = usize::MAX;
        loop {
            let active = self.shared.active_calls();
            if active == 0 {
                break;
            }
            if active != last_reported {
                tracing::info!(active, "waiting for calls to finish");
                last_reported = active;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(active, "grace period over; stopping");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.cancel.cancel();
    }
}

/// The endpoint wants a `Box<dyn TransportEventInspector>`; the gate is
/// shared so that it can be attached after the endpoint is built.
struct GateRef(Arc<Gate>);

#[async_trait::async_trait]
impl rsipstack::transaction::endpoint::TransportEventInspector for GateRef {
    async fn handle(
        &self,
        event: rsipstack::transport::TransportEvent,
    ) -> Option<rsipstack::transport::TransportEvent> {
        self.0.handle(event).await
    }
}
