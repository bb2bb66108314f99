//! Shared harness for sluice's integration tests: processes, peers, NG client.
//!
//! - [`relay`]: the relay under test (media-core or rtpengine, chosen by
//!   `SLUICE_RELAY`), started on the test's own loopback ports.
//! - [`ports`]: non-colliding UDP port blocks.
//! - [`ng`]: NG requests and the reply keys tests read.
//! - [`netns`]: network namespaces, veth links and sockets inside them.
//! - [`sdp`]: SDP for test endpoints and reading the relay's rewrite.
//! - [`media`]: ffmpeg senders/receivers, `sox stat`, WAV alignment and SNR.
//! - [`dtmf`]: tshark decoding RFC 4733 events, media-core's DTMF log.
//! - [`sip`]: Kamailio with its rtpengine module, and SIPp.
//! - [`sip_control`]: the B2BUA under test, its config, metrics and CDRs.
//! - [`sipp`]: SIPp running the scenario files of `tests/sipp/`, bounded,
//!   with parsed call statistics.
//! - [`rtp`]: plain-socket RTP streams with full accounting.
//! - [`pcap`]: pcap files for SIPp to play (SRTP, Opus) and reading them.
//! - [`peers`]: skipping (or failing in CI) when a peer is not installed.
//! - [`proc`]: processes stopped by PID on drop, temporary directories.
//!
//! Every process is stopped on drop, every wait is bounded, every address
//! is in 127.0.0.0/8 or inside namespaces the test creates and removes.
#![deny(unsafe_code)]

pub mod dtmf;
pub mod media;
pub mod netns;
pub mod ng;
pub mod pcap;
pub mod peers;
pub mod ports;
pub mod proc;
pub mod relay;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod sip_control;
pub mod sipp;

pub use peers::require;
pub use ports::PortBlock;
pub use proc::{Proc, TempDir};
pub use relay::{Relay, RelayKind, RelayOptions};

/// A call-id unique to this process and test.
pub fn call_id(test: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{test}-{}-{}@sluice.test",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
