//! DTMF digit reports: one log line per digit and, with `dtmf-log-dest`,
//! one JSON datagram per digit (the shape of rtpengine's DTMF log, so
//! tools written for it can listen to media-core too).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_transcode::{DigitReport, DigitSource};

use super::job::CallLabels;

/// Sends digit reports.
#[derive(Debug)]
pub struct DigitReporter {
    dest: Option<(UdpSocket, SocketAddr)>,
}

impl DigitReporter {
    /// A reporter that logs, and sends JSON to `dest` when given.
    pub fn new(dest: Option<SocketAddr>) -> io::Result<Self> {
        let dest = match dest {
            Some(addr) => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = UdpSocket::bind(local)?;
                socket.set_nonblocking(true)?;
                Some((socket, addr))
            }
            None => None,
        };
        Ok(Self { dest })
    }

    /// Reports a digit leg `from_leg` of the call sent.
    pub fn report(&mut self, labels: &CallLabels, from_leg: usize, digit: &DigitReport) {
        let source_tag = &labels.tags[from_leg & 1];
        tracing::info!(
            call_id = %labels.call_id,
            from_tag = %source_tag,
            digit = %digit.digit.as_char(),
            duration_ms = digit.duration_ms,
            volume = digit.volume,
            source = source_name(digit.source),
            "DTMF digit"
        );
        if let Some((socket, addr)) = &self.dest {
            let json = report_json(labels, from_leg, digit, SystemTime::now());
            // Best effort: a missing listener must never stall media.
            let _ = socket.send_to(json.as_bytes(), addr);
        }
    }
}

/// The JSON body of one digit report.
pub fn report_json(
    labels: &CallLabels,
    from_leg: usize,
    digit: &DigitReport,
    now: SystemTime,
) -> String {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    serde_json::json!({
        "callid": labels.call_id,
        "source_tag": labels.tags[from_leg & 1],
        "tags": labels.tags,
        "type": "DTMF",
        "timestamp": timestamp,
        "event": digit.digit.event_code(),
        "digit": digit.digit.as_char().to_string(),
        "duration": digit.duration_ms,
        "volume": digit.volume,
        "source": source_name(digit.source),
    })
    .to_string()
}

/// How a report names the way a digit was seen.
fn source_name(source: DigitSource) -> &'static str {
    match source {
        DigitSource::Event => "RFC 4733",
        DigitSource::Inband => "in-band",
    }
}
