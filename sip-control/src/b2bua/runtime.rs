//! What a configuration turns into: the router, the allowlist, the known
//! peer hosts and the media nodes. Swapped whole on SIGHUP; each call keeps
//! the `Runtime` it started with.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::media::MediaNodes;
use crate::security::{Allowlist, AllowlistError};

use super::uri;
use crate::signal::routing::Router;

/// One loaded configuration.
pub struct Runtime {
    /// The file as loaded.
    pub config: Config,
    /// DID routing.
    pub router: Router,
    /// Source address to trunk.
    pub allowlist: Allowlist,
    /// Hosts sip-control sends requests to (targets, queues, registrars,
    /// carrier proxies): their in-dialog requests and responses pass the gate.
    pub peers: HashSet<IpAddr>,
    /// Trunks that accept any source with valid credentials.
    pub auth_only_trunks: Vec<usize>,
    /// The NG nodes.
    pub media: Arc<MediaNodes>,
}

impl Runtime {
    /// Builds the runtime of a checked configuration.
    pub fn new(config: Config, media: Arc<MediaNodes>) -> Result<Self, AllowlistError> {
        let router = Router::new(&config.dids, &config.numbering);
        let allowlist = Allowlist::new(
            config
                .allowlist()
                .into_iter()
                .map(|(trunk, cidr)| (trunk, cidr.network(), cidr.prefix_len())),
        )?;
        let mut peers = HashSet::new();
        let uris = config
            .platforms
            .iter()
            .flat_map(|p| p.targets.iter())
            .chain(config.dids.iter().flat_map(|d| d.queues.iter()))
            .chain(config.trunks.iter().filter_map(|t| t.proxy.as_ref()))
            .chain(
                config
                    .trunks
                    .iter()
                    .filter_map(|t| t.register.as_ref().map(|r| &r.registrar)),
            );
        for text in uris {
            if let Some(ip) = uri::host_ip(text) {
                peers.insert(ip);
            }
        }
        let auth_only_trunks = config
            .trunks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.allow.is_empty() && t.auth.is_some())
            .map(|(i, _)| i)
            .collect();
        Ok(Runtime {
            config,
            router,
            allowlist,
            peers,
            auth_only_trunks,
            media,
        })
    }

    /// Whether a source may talk to sip-control at all, and as which trunk.
    pub fn classify(&self, ip: IpAddr) -> Source {
        if let Some(trunk) = self.allowlist.trunk_for(ip) {
            Source::Trunk(trunk)
        } else if self.peers.contains(&ip) {
            Source::Peer
        } else if !self.auth_only_trunks.is_empty() {
            Source::AuthCandidate
        } else {
            Source::Unknown
        }
    }
}

/// Who a request's source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Inside a trunk's allowlist.
    Trunk(usize),
    /// A platform target, queue, registrar or carrier proxy.
    Peer,
    /// Unknown, but some trunk authenticates by digest alone.
    AuthCandidate,
    /// Nobody sip-control talks to.
    Unknown,
}
