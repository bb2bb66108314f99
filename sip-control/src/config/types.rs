//! The configuration file's shape: one struct per TOML table.
//!
//! Every table denies unknown keys, so a misspelt key stops start-up with
//! its name. Semantic checks (CIDRs, URIs, references between tables)
//! happen in `validate.rs` after deserialization.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// SIP listeners and protocol timers.
    pub sip: SipConfig,
    /// Carrier trunks that may send calls (and receive transfers).
    #[serde(default, rename = "trunk")]
    pub trunks: Vec<Trunk>,
    /// Groups of AI-platform targets, tried in order.
    #[serde(default, rename = "platform")]
    pub platforms: Vec<Platform>,
    /// DIDs and where each goes.
    #[serde(default, rename = "did")]
    pub dids: Vec<Did>,
    /// How dialed numbers are normalized before DID lookup.
    #[serde(default)]
    pub numbering: Numbering,
    /// The media-core (or rtpengine) nodes sip-control drives over NG.
    pub media: MediaConfig,
    /// Abuse controls that apply to every source.
    #[serde(default)]
    pub security: SecurityConfig,
    /// Prometheus endpoint, CDR file and logging.
    #[serde(default)]
    pub observability: Observability,
}

/// Transport of a listener or a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS (SIPS).
    Tls,
}

/// One SIP listening socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Listener {
    /// udp, tcp or tls.
    pub transport: Transport,
    /// Local address and port.
    pub address: SocketAddr,
    /// PEM certificate chain (tls only).
    pub certificate: Option<PathBuf>,
    /// PEM private key (tls only).
    pub private_key: Option<PathBuf>,
}

/// What an unknown source gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectMode {
    /// Nothing at all (the default): scanners learn nothing.
    #[default]
    Drop,
    /// A bare `403 Forbidden` with no identifying headers.
    Forbidden,
}

/// `[sip]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SipConfig {
    /// At least one listener.
    pub listen: Vec<Listener>,
    /// User-Agent / Server header value; empty to send none.
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// Requests from outside every allowlist: `drop` or `forbidden`.
    #[serde(default)]
    pub unknown_source: RejectMode,
    /// How long a target may stay silent (no provisional or final response)
    /// before the next one is tried. Far shorter than Timer B (32 s).
    #[serde(default = "default_target_timeout", with = "humantime_serde")]
    pub target_timeout: Duration,
    /// How long a target may ring before the next is tried; none by default.
    #[serde(default, with = "humantime_serde")]
    pub ring_timeout: Option<Duration>,
    /// Final responses from a target that move the call to the next one.
    #[serde(default = "default_failover_codes")]
    pub failover_codes: Vec<u16>,
    /// Ask the media node for a DTMF injector on every call, so that SIP
    /// INFO digits become RFC 4733 events. It routes the call's audio
    /// through the media node's transcoder (a copy, no decode); off means
    /// INFO is relayed as INFO and the audio can stay on the fast path.
    #[serde(default = "default_true")]
    pub inject_dtmf: bool,
    /// Largest SIP message accepted, in bytes. Over UDP rsipstack reads
    /// at most 8192 bytes of a datagram; a longer one arrives cut short
    /// (less body than its Content-Length) and the gate drops it.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: usize,
    /// RFC 4028 session timers on every leg: asked for toward platforms
    /// and queues, offered to carriers.
    #[serde(default = "default_true")]
    pub session_timers: bool,
    /// The session interval asked for (`Session-Expires`), whole seconds.
    #[serde(default = "default_session_expires", with = "humantime_serde")]
    pub session_expires: Duration,
    /// The shortest interval accepted (`Min-SE`), whole seconds: a
    /// carrier's INVITE asking for less gets 422.
    #[serde(default = "default_min_se", with = "humantime_serde")]
    pub min_se: Duration,
    /// Lets `min-se` go below RFC 4028's floor of 90 s. For tests only.
    #[serde(default)]
    pub short_session_timers: bool,
}

/// SRTP policy of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP/AVP toward this side.
    #[default]
    Off,
    /// SDES-keyed RTP/SAVP toward this side.
    Sdes,
    /// Whatever this side offered (pass-through of the profile).
    Pass,
}

/// Inbound digest credentials of a trunk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrunkAuth {
    /// Realm in the challenge.
    pub realm: String,
    /// Expected username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Offered algorithms, strongest first: `SHA-256`, `MD5`.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
}

/// Outbound registration to a carrier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Registration {
    /// Registrar URI, e.g. `sip:registrar.carrier.example:5060`.
    pub registrar: String,
    /// Address of record, e.g. `sip:trunk123@carrier.example`.
    pub aor: String,
    /// Digest username.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// Requested expiry in seconds.
    #[serde(default = "default_register_expires")]
    pub expires: u32,
}

/// `[[trunk]]`: one carrier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Trunk {
    /// Unique name, used in logs, metrics and CDRs.
    pub name: String,
    /// CIDRs whose requests belong to this trunk.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Digest credentials required of this trunk's requests.
    pub auth: Option<TrunkAuth>,
    /// Registration with the carrier.
    pub register: Option<Registration>,
    /// The carrier's SIP URI for requests sip-control sends it
    /// (pass-through REFER targets, calls toward the carrier).
    pub proxy: Option<String>,
    /// SRTP toward the carrier.
    #[serde(default)]
    pub srtp: SrtpPolicy,
    /// Codecs in preference order (`PCMU`, `PCMA`, `opus`, ...). Empty:
    /// whatever the carrier offers.
    #[serde(default)]
    pub codecs: Vec<String>,
    /// Pass a platform's REFER through to the carrier instead of bridging.
    #[serde(default)]
    pub refer_pass_through: bool,
    /// NG `direction` interface name for this side (media-core/rtpengine).
    pub media_interface: Option<String>,
}

/// `[[platform]]`: AI-platform targets in priority order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Platform {
    /// Unique name.
    pub name: String,
    /// SIP URIs tried in order, e.g. `sip:agent@10.0.0.5:5060;transport=tcp`.
    pub targets: Vec<String>,
    /// SRTP toward the platform.
    #[serde(default)]
    pub srtp: SrtpPolicy,
    /// Codecs the platform takes, in preference order. A codec the carrier
    /// did not offer is transcoded to.
    #[serde(default)]
    pub codecs: Vec<String>,
    /// OPTIONS probe interval; a target that fails a probe is tried last.
    /// `0s` turns probing off.
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub probe_interval: Duration,
    /// NG `direction` interface name for this side.
    pub media_interface: Option<String>,
}

/// How a platform's REFER to a human queue is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    /// sip-control calls the queue and bridges the carrier to it.
    #[default]
    Bridge,
    /// The platform leg stays until the human answers.
    Warm,
    /// The REFER goes to the carrier (needs `refer-pass-through`).
    Refer,
}

/// `[[did]]`: a dialed number (or prefix ending in `*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Did {
    /// E.164 number (`+15551230001`) or prefix pattern (`+1555*`).
    pub number: String,
    /// Name of the platform that answers it.
    pub platform: String,
    /// SIP URIs of human queues the platform may transfer to.
    #[serde(default)]
    pub queues: Vec<String>,
    /// How transfers are carried out.
    #[serde(default)]
    pub transfer: TransferMode,
}

/// `[numbering]`: E.164 normalization.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Numbering {
    /// Country code added to national numbers (`1`, `44`).
    pub country_code: Option<String>,
    /// National trunk prefix removed before adding it (`0`, `1`).
    pub national_prefix: Option<String>,
    /// International prefix replaced by `+` (`00`, `011`).
    pub international_prefix: Option<String>,
}

/// One NG node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MediaNode {
    /// Unique name.
    pub name: String,
    /// NG address (UDP).
    pub address: SocketAddr,
}

/// `[media]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MediaConfig {
    /// Nodes; a call stays on the node that took its offer.
    pub nodes: Vec<MediaNode>,
    /// How long one NG request waits for its reply (retransmitted within).
    #[serde(default = "default_ng_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// NG `ping` interval; a node that misses one is skipped until it answers.
    #[serde(default = "default_ping_interval", with = "humantime_serde")]
    pub ping_interval: Duration,
}

/// `[security]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecurityConfig {
    /// Requests per second one admitted source address may send (token
    /// bucket); strangers are dropped before this.
    #[serde(default = "default_rate")]
    pub rate_per_source: u32,
    /// Burst above the rate.
    #[serde(default = "default_burst")]
    pub burst_per_source: u32,
    /// Failed digest attempts before a source is locked out.
    #[serde(default = "default_max_auth_failures")]
    pub max_auth_failures: u32,
    /// How long a lock-out lasts.
    #[serde(default = "default_lockout", with = "humantime_serde")]
    pub lockout: Duration,
    /// How long a digest nonce stays valid.
    #[serde(default = "default_nonce_lifetime", with = "humantime_serde")]
    pub nonce_lifetime: Duration,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            rate_per_source: default_rate(),
            burst_per_source: default_burst(),
            max_auth_failures: default_max_auth_failures(),
            lockout: default_lockout(),
            nonce_lifetime: default_nonce_lifetime(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[observability]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Observability {
    /// Prometheus `/metrics` listener.
    pub metrics: Option<SocketAddr>,
    /// File CDR lines (JSON) are appended to; none by default.
    pub cdr: Option<PathBuf>,
    /// Log format.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Log filter (`info`, `sip_control=debug`).
    pub log_level: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_user_agent() -> String {
    "sluice".to_owned()
}
fn default_target_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_failover_codes() -> Vec<u16> {
    vec![408, 480, 500, 502, 503, 504]
}
fn default_max_message_size() -> usize {
    16 * 1024
}
fn default_session_expires() -> Duration {
    Duration::from_secs(1800)
}
fn default_min_se() -> Duration {
    Duration::from_secs(90)
}
fn default_algorithms() -> Vec<String> {
    vec!["SHA-256".to_owned(), "MD5".to_owned()]
}
fn default_register_expires() -> u32 {
    3600
}
fn default_probe_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_ng_timeout() -> Duration {
    Duration::from_millis(1500)
}
fn default_ping_interval() -> Duration {
    Duration::from_secs(2)
}
/// A carrier's SBC sends every call of a trunk from one address, about
/// three requests per call (INVITE, ACK, BYE): 1000/s lets ~330 calls/s in.
fn default_rate() -> u32 {
    1000
}
fn default_burst() -> u32 {
    2000
}
fn default_max_auth_failures() -> u32 {
    5
}
fn default_lockout() -> Duration {
    Duration::from_secs(300)
}
fn default_nonce_lifetime() -> Duration {
    Duration::from_secs(60)
}
