//! DTMF as real peers see it: tshark capturing RFC 4733 events on a
//! loopback port and decoding them, and a listener for media-core's
//! `--dtmf-log-dest` JSON datagrams. The capture also serves other
//! checks: several ports at once, and any tshark field of its packets
//! ([`Capture::finish_fields`]).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::proc::{run_bounded, Proc, TempDir};

/// tshark capturing UDP to one loopback port into a pcapng file.
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    file: PathBuf,
    port: u16,
}

impl Capture {
    /// Starts `tshark -i lo` for UDP to `port`, stopping by itself after
    /// `limit` at the latest, and waits until it captures.
    pub fn start(dir: &TempDir, port: u16, limit: Duration) -> Self {
        Self::start_ports(dir, &[port], limit)
    }

    /// Like [`Capture::start`], for UDP to any of `ports` (RTP and SIP of
    /// one party, say); [`Capture::finish`] decodes the first port's.
    pub fn start_ports(dir: &TempDir, ports: &[u16], limit: Duration) -> Self {
        let port = *ports.first().expect("at least one port to capture");
        let filter = ports
            .iter()
            .map(|p| format!("udp dst port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let file = dir.join(&format!("capture-{port}.pcapng"));
        let mut cmd = Command::new("tshark");
        cmd.args(["-i", "lo", "-q", "-f"])
            .arg(filter)
            .arg("-a")
            .arg(format!("duration:{}", limit.as_secs().max(1)))
            .arg("-w")
            .arg(&file);
        let proc = Proc::spawn("tshark", cmd, dir.join(&format!("tshark-{port}.log")));
        let mut c = Self { proc, file, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !c.proc.log().contains("Capturing on") {
            if let Some(s) = c.proc.try_status() {
                panic!("tshark exited during start-up ({s}):\n{}", c.proc.log());
            }
            assert!(
                Instant::now() < deadline,
                "tshark did not start capturing within 15 s:\n{}",
                c.proc.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
        // dumpcap reports before the filter is attached on some kernels.
        thread::sleep(Duration::from_millis(200));
        c
    }

    /// Stops the capture (SIGINT) and returns the RTP packets tshark
    /// decodes in it, with `event_pt` decoded as RFC 4733 events.
    pub fn finish(mut self, dir: &TempDir, event_pt: u8) -> Vec<RtpPacket> {
        self.stop();
        decode(dir, &self.file, self.port, event_pt)
    }

    /// Stops the capture and gives, for every packet matching the display
    /// filter `filter`, tshark's `fields` (`-T fields -e ...`, empty
    /// strings where a packet has none), UDP ports decoded as `decode_as`
    /// says (`(port, "rtp")`, `(port, "sip")`).
    pub fn finish_fields(
        mut self,
        dir: &TempDir,
        decode_as: &[(u16, &str)],
        filter: &str,
        fields: &[&str],
    ) -> Vec<Vec<String>> {
        self.stop();
        fields_of(dir, &self.file, decode_as, filter, fields)
    }

    fn stop(&mut self) {
        thread::sleep(Duration::from_millis(300));
        self.proc.stop_with("INT", Duration::from_secs(10));
        assert!(
            self.file.is_file(),
            "tshark wrote no capture:\n{}",
            self.proc.log()
        );
    }
}

/// tshark's `fields` of every packet of `file` that matches the display
/// filter `filter`, UDP ports decoded as `decode_as` says
/// (`(port, "rtp")`).
pub fn fields_of(
    dir: &TempDir,
    file: &std::path::Path,
    decode_as: &[(u16, &str)],
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file);
    for (port, protocol) in decode_as {
        cmd.arg("-d").arg(format!("udp.port=={port},{protocol}"));
    }
    cmd.args(["-Y", filter, "-T", "fields", "-E", "separator=;"]);
    for field in fields {
        cmd.args(["-e", field]);
    }
    let (status, out) = run_bounded("tshark-fields", cmd, dir, Duration::from_secs(60));
    assert!(status.success(), "tshark -r failed ({status}):\n{out}");
    out.lines()
        .map(|l| l.split(';').map(str::to_owned).collect::<Vec<_>>())
        .filter(|row| row.len() == fields.len())
        .collect()
}

/// One RTP packet as tshark decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// `rtp.ssrc`
    pub ssrc: u32,
    /// `rtp.seq`
    pub seq: u16,
    /// `rtp.timestamp`
    pub timestamp: u32,
    /// `rtp.p_type`
    pub pt: u8,
    /// `rtp.marker`
    pub marker: bool,
    /// `rtpevent.*` when tshark decoded the payload as an RFC 4733 event:
    /// (event id, end of event, duration).
    pub event: Option<(u8, bool, u16)>,
}

/// Decodes every packet to UDP `port` in `file` as RTP, `event_pt` as
/// telephone-event.
pub fn decode(dir: &TempDir, file: &std::path::Path, port: u16, event_pt: u8) -> Vec<RtpPacket> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .arg("-d")
        .arg(format!("udp.port=={port},rtp"))
        .arg("-d")
        .arg(format!("rtp.pt=={event_pt},rtpevent"))
        .args(["-Y", "rtp", "-T", "fields", "-E", "separator=;"])
        .args(["-e", "rtp.ssrc", "-e", "rtp.seq", "-e", "rtp.timestamp"])
        .args(["-e", "rtp.p_type", "-e", "rtp.marker"])
        .args(["-e", "rtpevent.event_id", "-e", "rtpevent.end_of_event"])
        .args(["-e", "rtpevent.duration"]);
    let (status, out) = run_bounded("tshark-decode", cmd, dir, Duration::from_secs(60));
    assert!(status.success(), "tshark -r failed ({status}):\n{out}");
    out.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<RtpPacket> {
    let f: Vec<&str> = line.split(';').collect();
    if f.len() < 8 {
        return None;
    }
    let ssrc = u32::from_str_radix(f[0].trim_start_matches("0x"), 16).ok()?;
    let flag = |s: &str| s == "1" || s.eq_ignore_ascii_case("true");
    let event = match (f[5].parse(), f[7].parse()) {
        (Ok(id), Ok(d)) => Some((id, flag(f[6]), d)),
        _ => None,
    };
    Some(RtpPacket {
        ssrc,
        seq: f[1].parse().ok()?,
        timestamp: f[2].parse().ok()?,
        pt: f[3].parse().ok()?,
        marker: flag(f[4]),
        event,
    })
}

/// One digit: the event packets sharing an RTP timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digit {
    /// The event id (0-9, 10 = `*`, 11 = `#`, 12-15 = A-D).
    pub event: u8,
    /// Payload type of its packets.
    pub pt: u8,
    /// The RTP timestamp they share.
    pub timestamp: u32,
    /// Packets carrying it (end retransmissions included).
    pub packets: usize,
    /// Whether any packet had the end bit.
    pub ended: bool,
    /// Whether the first packet had the marker bit.
    pub marker: bool,
    /// Largest duration field seen, timestamp units.
    pub duration: u16,
}

/// Groups the event packets of a capture into digits, in arrival order.
pub fn digits(packets: &[RtpPacket]) -> Vec<Digit> {
    let mut out: Vec<Digit> = Vec::new();
    for p in packets {
        let Some((event, end, duration)) = p.event else {
            continue;
        };
        match out.last_mut() {
            Some(d) if d.timestamp == p.timestamp && d.event == event => {
                d.packets += 1;
                d.ended |= end;
                d.duration = d.duration.max(duration);
            }
            _ => out.push(Digit {
                event,
                pt: p.pt,
                timestamp: p.timestamp,
                packets: 1,
                ended: end,
                marker: p.marker,
                duration,
            }),
        }
    }
    out
}

/// The character of an RFC 4733 DTMF event id.
pub fn digit_char(event: u8) -> char {
    match event {
        0..=9 => char::from(b'0' + event),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + event - 12),
        _ => '?',
    }
}

/// A UDP socket on loopback collecting media-core's `--dtmf-log-dest`
/// datagrams.
#[derive(Debug)]
pub struct DtmfLog {
    socket: UdpSocket,
}

impl DtmfLog {
    /// Binds `127.0.0.1:port`.
    pub fn bind(port: u16) -> Self {
        let socket = UdpSocket::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("binding 127.0.0.1:{port} for the DTMF log: {e}"));
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("setting a read timeout on a bound socket");
        Self { socket }
    }

    /// Its address (for `--dtmf-log-dest`).
    pub fn addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("a bound socket knows its address")
    }

    /// Collects datagrams until `count` have arrived or `limit` passes.
    pub fn collect(&self, count: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.len() < count && Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        out
    }
}

/// A top-level string or number field of a flat JSON object, as text
/// (strings unquoted; escapes other than `\"` and `\\` left as they are).
pub fn json_field(json: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = json[at..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        None
    } else {
        let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
        Some(rest[..end].trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_fields() {
        let j = r##"{"callid":"c\"1","digit":"#","duration":240,"tags":["a","b"],"volume":10}"##;
        assert_eq!(json_field(j, "callid").as_deref(), Some("c\"1"));
        assert_eq!(json_field(j, "digit").as_deref(), Some("#"));
        assert_eq!(json_field(j, "duration").as_deref(), Some("240"));
        assert_eq!(json_field(j, "volume").as_deref(), Some("10"));
        assert_eq!(json_field(j, "nope"), None);
    }

    #[test]
    fn groups_digits() {
        let p = |ts, ev, end, d| RtpPacket {
            ssrc: 1,
            seq: 0,
            timestamp: ts,
            pt: 97,
            marker: false,
            event: Some((ev, end, d)),
        };
        let got = digits(&[
            p(10, 1, false, 160),
            p(10, 1, true, 320),
            p(500, 11, true, 9),
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].event, got[0].ended, got[0].duration),
            (1, true, 320)
        );
        assert_eq!(got[1].event, 11);
        assert_eq!(digit_char(11), '#');
    }
}
