//! Operator settings for every transcoded stream.

use std::time::Duration;

/// Operator settings (from media-core's configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Opus encoder complexity 0..=10 (default 5: a fair trade of CPU for
    /// quality on voice).
    pub opus_complexity: u8,
    /// Opus target bit rate when the receiver gave no `maxaveragebitrate`
    /// (`None`: libopus' choice).
    pub opus_bitrate: Option<u32>,
    /// Longest the jitter buffer holds packets waiting for a missing one
    /// (default 60 ms).
    pub max_jitter_delay: Duration,
    /// Interval between RTCP reports per stream (default 5 s).
    pub rtcp_interval: Duration,
    /// Send RTCP SR/RR to each leg (default true).
    pub generate_rtcp: bool,
    /// Level of in-band DTMF tones generated from telephone-events, dBm0
    /// per tone (default -8).
    pub inband_dtmf_level_dbm0: f64,
    /// Packet loss the Opus encoder expects when FEC is on (default 10 %).
    pub opus_fec_loss_percent: u8,
    /// RTCP SDES CNAME (default "sluice").
    pub cname: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            opus_complexity: 5,
            opus_bitrate: None,
            max_jitter_delay: Duration::from_millis(60),
            rtcp_interval: Duration::from_secs(5),
            generate_rtcp: true,
            inband_dtmf_level_dbm0: -8.0,
            opus_fec_loss_percent: 10,
            cname: "sluice",
        }
    }
}
