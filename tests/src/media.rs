//! Audio peers: ffmpeg RTP senders and receivers, and `sox stat`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::ports::udp_port_bound;
use crate::proc::{run_bounded, Proc, TempDir};

/// SDES keying of an ffmpeg endpoint: suite name and base64 master
/// key || salt (ffmpeg does the AES_CM_128 suites).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeying {
    /// `AES_CM_128_HMAC_SHA1_80` or `AES_CM_128_HMAC_SHA1_32`.
    pub suite: String,
    /// base64 of the 30-byte key and salt.
    pub key: String,
}

/// Starts ffmpeg sending `secs` seconds of a `freq` Hz sine as PCMU in exact
/// 20 ms packets (160 samples) from `127.0.0.1:local_port` (RTCP from
/// `local_port + 1`) to `dest` (RTCP to `dest.port() + 1`).
pub fn pcmu_sine_sender(
    dir: &TempDir,
    dest: SocketAddr,
    local_port: u16,
    secs: u32,
    freq: u32,
) -> Proc {
    sine_sender(dir, dest, local_port, secs, freq, None)
}

/// [`pcmu_sine_sender`], SRTP-protected with `srtp` when given.
pub fn sine_sender(
    dir: &TempDir,
    dest: SocketAddr,
    local_port: u16,
    secs: u32,
    freq: u32,
    srtp: Option<&SrtpKeying>,
) -> Proc {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-re",
        "-f",
        "lavfi",
        "-i",
    ])
    .arg(format!(
        "sine=frequency={freq}:sample_rate=8000:samples_per_frame=160"
    ))
    .arg("-t")
    .arg(secs.to_string())
    .args([
        "-c:a",
        "pcm_mulaw",
        "-ar",
        "8000",
        "-ac",
        "1",
        "-f",
        "rtp",
        "-packetsize",
        "172",
    ]);
    match srtp {
        Some(k) => cmd
            .args(["-srtp_out_suite", &k.suite, "-srtp_out_params", &k.key])
            .arg(format!("srtp://{dest}?localport={local_port}")),
        None => cmd.arg(format!("rtp://{dest}?localport={local_port}")),
    };
    Proc::spawn(
        "ffmpeg-tx",
        cmd,
        dir.join(&format!("ffmpeg-tx-{local_port}.log")),
    )
}

/// An ffmpeg receiving PCMU on `127.0.0.1:port` (RTCP on `port + 1`) into a
/// WAV file.
#[derive(Debug)]
pub struct PcmuReceiver {
    proc: Proc,
    wav: PathBuf,
    port: u16,
}

impl PcmuReceiver {
    /// Writes the SDP, starts ffmpeg and waits until it has bound `port`.
    pub fn start(dir: &TempDir, port: u16) -> Self {
        Self::start_keyed(dir, port, None)
    }

    /// [`PcmuReceiver::start`] for SRTP keyed with `srtp` when given.
    pub fn start_keyed(dir: &TempDir, port: u16, srtp: Option<&SrtpKeying>) -> Self {
        let (proto, crypto) = match srtp {
            Some(k) => (
                "RTP/SAVP",
                format!("a=crypto:1 {} inline:{}\r\n", k.suite, k.key),
            ),
            None => ("RTP/AVP", String::new()),
        };
        let sdp = format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=rx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n{crypto}"
        );
        let sdp_path = dir.write(&format!("rx-{port}.sdp"), sdp);
        let wav = dir.join(&format!("rx-{port}.wav"));
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-y"])
            .args(["-protocol_whitelist", "file,udp,rtp,srtp"])
            // Start decoding as soon as the first packets arrive.
            .args(["-analyzeduration", "200000", "-probesize", "2048"])
            .arg("-i")
            .arg(&sdp_path)
            .args(["-t", "30", "-ac", "1", "-c:a", "pcm_s16le"])
            .arg(&wav);
        let mut proc = Proc::spawn("ffmpeg-rx", cmd, dir.join(&format!("ffmpeg-rx-{port}.log")));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !udp_port_bound(port) {
            if let Some(s) = proc.try_status() {
                panic!("ffmpeg receiver exited early ({s}):\n{}", proc.log_tail(30));
            }
            assert!(
                Instant::now() < deadline,
                "ffmpeg receiver did not bind port {port} within 10 s:\n{}",
                proc.log_tail(30)
            );
            thread::sleep(Duration::from_millis(20));
        }
        Self { proc, wav, port }
    }

    /// The RTP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it gracefully (SIGINT, so the WAV header is finalised) and
    /// returns the WAV file.
    pub fn finish(mut self) -> PathBuf {
        let status = self.proc.stop_with("INT", Duration::from_secs(10));
        assert!(
            self.wav.is_file(),
            "ffmpeg receiver on {} wrote no WAV (exit {status:?}):\n{}",
            self.port,
            self.proc.log_tail(30)
        );
        self.wav.clone()
    }
}

/// Sends `secs` seconds of a `freq` Hz sine from `from_port` to `relay`
/// (SRTP with `tx` when given), records it on `to_port` (SRTP with `rx`),
/// and returns what sox says about the recording.
pub fn sine_through(
    dir: &TempDir,
    from_port: u16,
    relay: SocketAddr,
    to_port: u16,
    (secs, freq): (u32, u32),
    tx: Option<&SrtpKeying>,
    rx: Option<&SrtpKeying>,
) -> SoxStat {
    let receiver = PcmuReceiver::start_keyed(dir, to_port, rx);
    let mut sender = sine_sender(dir, relay, from_port, secs, freq, tx);
    let status = sender.wait_or_panic(Duration::from_secs(u64::from(secs) + 15));
    assert!(
        status.success(),
        "ffmpeg sender failed ({status}):\n{}",
        sender.log_tail(30)
    );
    // Let the last packets through the relay and the receiver's buffer.
    thread::sleep(Duration::from_millis(700));
    let wav = receiver.finish();
    sox_stat(dir, &wav)
}

/// Asserts that a recording of a `secs` s, `freq` Hz sine kept its
/// length, pitch and level (against `reference`, the same sine without
/// a network).
pub fn check_sine(what: &str, got: SoxStat, reference: SoxStat, secs: u32, freq: u32) {
    eprintln!("{what}: {got:?} (reference {reference:?})");
    assert!(
        (got.seconds - f64::from(secs)).abs() <= 0.3,
        "{what}: recorded {:.3} s, sent {secs} s",
        got.seconds
    );
    // sox's "rough frequency" of the clean reference is itself ~2.5% off.
    assert!(
        (got.frequency - f64::from(freq)).abs() <= 50.0
            && (got.frequency - reference.frequency).abs() <= 20.0,
        "{what}: rough frequency {} Hz, sent {freq} Hz (reference reads {} Hz)",
        got.frequency,
        reference.frequency
    );
    assert!(
        (got.rms - reference.rms).abs() <= reference.rms * 0.1,
        "{what}: RMS {:.5}, source {:.5}",
        got.rms,
        reference.rms
    );
}

/// What `sox FILE -n stat` says about a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoxStat {
    /// `Length (seconds)`
    pub seconds: f64,
    /// `RMS amplitude` (full scale = 1.0)
    pub rms: f64,
    /// `Rough frequency` in Hz
    pub frequency: f64,
}

/// Runs `sox wav -n stat` (bounded) and parses it.
pub fn sox_stat(dir: &TempDir, wav: &Path) -> SoxStat {
    let mut cmd = Command::new("sox");
    cmd.arg(wav).args(["-n", "stat"]);
    let (status, out) = run_bounded("sox-stat", cmd, dir, Duration::from_secs(30));
    assert!(
        status.success(),
        "sox stat {} failed ({status}):\n{out}",
        wav.display()
    );
    parse_sox_stat(&out).unwrap_or_else(|| panic!("cannot parse sox stat output:\n{out}"))
}

/// Parses the text `sox ... stat` prints.
pub fn parse_sox_stat(text: &str) -> Option<SoxStat> {
    let field = |name: &str| -> Option<f64> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k: Vec<&str> = k.split_whitespace().collect();
            (k.join(" ") == name)
                .then(|| v.trim().parse().ok())
                .flatten()
        })
    };
    Some(SoxStat {
        seconds: field("Length (seconds)")?,
        rms: field("RMS amplitude")?,
        frequency: field("Rough frequency")?,
    })
}

/// The sox statistics of the reference signal: the same sine through the
/// same PCMU encoding, without any network (for comparing RMS levels).
pub fn reference_pcmu_sine(dir: &TempDir, secs: u32, freq: u32) -> SoxStat {
    let wav = dir.join(&format!("ref-{freq}.wav"));
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
    ])
    .arg(format!("sine=frequency={freq}:sample_rate=8000"))
    .arg("-t")
    .arg(secs.to_string())
    .args(["-c:a", "pcm_mulaw", "-f", "wav"])
    .arg(&wav);
    let (status, out) = run_bounded("ffmpeg-ref", cmd, dir, Duration::from_secs(30));
    assert!(
        status.success(),
        "ffmpeg reference failed ({status}):\n{out}"
    );
    sox_stat(dir, &wav)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sox_stat() {
        let text = "Samples read:             32000\nLength (seconds):      4.000000\n\
                    Scaled by:         2147483647.0\nMaximum amplitude:     0.124969\n\
                    RMS     amplitude:     0.088354\nRough   frequency:         1000\n";
        let s = parse_sox_stat(text).expect("parses");
        assert!((s.seconds - 4.0).abs() < 1e-9);
        assert!((s.rms - 0.088354).abs() < 1e-9);
        assert!((s.frequency - 1000.0).abs() < 1e-9);
    }
}
