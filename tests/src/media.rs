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
    /// Raw s16le output at this rate (see [`PcmuReceiver::finish`]).
    raw_rate: Option<u32>,
}

impl PcmuReceiver {
    /// Writes the SDP, starts ffmpeg and waits until it has bound `port`.
    pub fn start(dir: &TempDir, port: u16) -> Self {
        Self::start_keyed(dir, port, None)
    }

    /// A receiver of payload type `pt` mapped to `rtpmap` (e.g.
    /// `opus/48000/2`, `PCMA/8000`, `PCMU/8000`), recording mono at
    /// `out_rate` Hz; it can be stopped behind a transcoding relay.
    pub fn start_format(dir: &TempDir, port: u16, pt: u8, rtpmap: &str, out_rate: u32) -> Self {
        let sdp = format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=rx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {rtpmap}\r\n"
        );
        Self::spawn(dir, port, &sdp, Some(out_rate))
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
        Self::spawn(dir, port, &sdp, None)
    }

    fn spawn(dir: &TempDir, port: u16, sdp: &str, raw_rate: Option<u32>) -> Self {
        let sdp_path = dir.write(&format!("rx-{port}.sdp"), sdp);
        let wav = dir.join(&format!("rx-{port}.wav"));
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-y"])
            .args(["-protocol_whitelist", "file,udp,rtp,srtp"])
            // Start decoding as soon as the first packets arrive.
            .args(["-analyzeduration", "200000", "-probesize", "2048"])
            .arg("-i")
            .arg(&sdp_path)
            .args(["-t", "30", "-ac", "1", "-c:a", "pcm_s16le"]);
        match raw_rate {
            Some(rate) => cmd
                .arg("-ar")
                .arg(rate.to_string())
                .args(["-f", "s16le", "-flush_packets", "1"])
                .arg(wav.with_extension("raw")),
            None => cmd.arg(&wav),
        };
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
        Self {
            proc,
            wav,
            port,
            raw_rate,
        }
    }

    /// The RTP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it gracefully (SIGINT, so the WAV header is finalised) and
    /// returns the WAV file.
    ///
    /// A receiver from [`PcmuReceiver::start_format`] writes raw PCM
    /// flushed per packet instead: behind a transcoding relay (which ends
    /// the sender's RTCP and sends its own) ffmpeg neither sees a BYE nor
    /// times out, and only a second SIGINT, which also aborts writing the
    /// WAV trailer, interrupts its read. The raw file loses nothing and is
    /// converted to WAV here.
    pub fn finish(mut self) -> PathBuf {
        let Some(rate) = self.raw_rate else {
            let status = self.proc.stop_with("INT", Duration::from_secs(10));
            assert!(
                self.wav.is_file(),
                "ffmpeg receiver on {} wrote no WAV (exit {status:?}):\n{}",
                self.port,
                self.proc.log_tail(30)
            );
            return self.wav.clone();
        };
        self.proc.signal("INT");
        if self.proc.wait_timeout(Duration::from_millis(500)).is_none() {
            self.proc.stop_with("INT", Duration::from_secs(5));
        }
        let raw = self.wav.with_extension("raw");
        assert!(
            raw.is_file(),
            "ffmpeg receiver on {} wrote nothing:\n{}",
            self.port,
            self.proc.log_tail(30)
        );
        let mut cmd = Command::new("sox");
        cmd.args(["-t", "raw", "-r"])
            .arg(rate.to_string())
            .args(["-e", "signed", "-b", "16", "-c", "1"])
            .arg(&raw)
            .arg(&self.wav);
        let dir = self
            .wav
            .parent()
            .expect("the WAV sits in the test's directory")
            .to_path_buf();
        let mut p = Proc::spawn(
            "sox-raw",
            cmd,
            dir.join(format!("sox-raw-{}.log", self.port)),
        );
        let status = p.wait_or_panic(Duration::from_secs(30));
        assert!(
            status.success(),
            "sox raw -> WAV failed ({status}):\n{}",
            p.log()
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

/// The codec an ffmpeg [`lavfi_sender`] encodes to, and the payload type
/// ffmpeg's RTP muxer gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxCodec {
    /// G.711 µ-law, 8 kHz, 20 ms packets, PT 0.
    Pcmu,
    /// G.711 A-law, 8 kHz, 20 ms packets, PT 8.
    Pcma,
    /// libopus at 48 kHz mono, 32 kbit/s, 20 ms frames, PT 97.
    Opus,
}

impl TxCodec {
    /// The payload type ffmpeg's RTP muxer uses.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::Opus => 97,
        }
    }
}

/// Starts ffmpeg sending `secs` seconds of the lavfi audio `source` (e.g.
/// `sine=frequency=1000:sample_rate=8000:samples_per_frame=160` or an
/// `aevalsrc=...` expression) encoded as `codec` in real time from
/// `127.0.0.1:local_port` to `dest`.
pub fn lavfi_sender(
    dir: &TempDir,
    source: &str,
    secs: u32,
    codec: TxCodec,
    dest: SocketAddr,
    local_port: u16,
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
        source,
        "-t",
    ])
    .arg(secs.to_string());
    match codec {
        TxCodec::Pcmu | TxCodec::Pcma => {
            let c = if codec == TxCodec::Pcmu {
                "pcm_mulaw"
            } else {
                "pcm_alaw"
            };
            cmd.args(["-c:a", c, "-ar", "8000", "-ac", "1", "-f", "rtp"])
                .args(["-packetsize", "172"]);
        }
        TxCodec::Opus => {
            cmd.args(["-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k"])
                .args(["-frame_duration", "20", "-f", "rtp"]);
        }
    }
    cmd.arg(format!("rtp://{dest}?localport={local_port}"));
    Proc::spawn(
        "ffmpeg-tx",
        cmd,
        dir.join(&format!("ffmpeg-tx-{local_port}.log")),
    )
}

/// Runs a [`lavfi_sender`] to completion into `receiver` and returns the
/// WAV the receiver wrote.
pub fn send_into(
    dir: &TempDir,
    (source, secs, codec): (&str, u32, TxCodec),
    dest: SocketAddr,
    local_port: u16,
    receiver: PcmuReceiver,
) -> PathBuf {
    let mut sender = lavfi_sender(dir, source, secs, codec, dest, local_port);
    let status = sender.wait_or_panic(Duration::from_secs(u64::from(secs) + 15));
    assert!(
        status.success(),
        "ffmpeg sender failed ({status}):\n{}",
        sender.log_tail(30)
    );
    thread::sleep(Duration::from_millis(700));
    receiver.finish()
}

/// Renders `secs` seconds of the lavfi `source` to a 16-bit mono WAV at
/// `rate` Hz without any network (the reference a recording is compared to).
pub fn render_lavfi(dir: &TempDir, name: &str, source: &str, secs: u32, rate: u32) -> PathBuf {
    let wav = dir.join(name);
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
        source,
        "-t",
    ])
    .arg(secs.to_string())
    .args(["-ac", "1", "-ar"])
    .arg(rate.to_string())
    .args(["-c:a", "pcm_s16le"])
    .arg(&wav);
    let (status, out) = run_bounded("ffmpeg-render", cmd, dir, Duration::from_secs(30));
    assert!(status.success(), "ffmpeg render failed ({status}):\n{out}");
    wav
}

/// Reads a 16-bit PCM mono WAV: (sample rate, samples scaled to ±1.0).
pub fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    parse_wav(&bytes).unwrap_or_else(|| panic!("{} is not a 16-bit mono WAV", path.display()))
}

fn parse_wav(b: &[u8]) -> Option<(u32, Vec<f32>)> {
    if b.get(0..4)? != b"RIFF" || b.get(8..12)? != b"WAVE" {
        return None;
    }
    let le32 = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let mut at = 12;
    let mut rate = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = usize::try_from(le32(at + 4)?).ok()?;
        let body = at + 8;
        if id == b"fmt " {
            let channels = u16::from_le_bytes(b.get(body + 2..body + 4)?.try_into().ok()?);
            let bits = u16::from_le_bytes(b.get(body + 14..body + 16)?.try_into().ok()?);
            if channels != 1 || bits != 16 {
                return None;
            }
            rate = Some(le32(body + 4)?);
        } else if id == b"data" {
            // ffmpeg stopped by a signal may leave the length unpatched.
            let end = if len == 0 || body + len > b.len() {
                b.len()
            } else {
                body + len
            };
            let samples = b[body..end]
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
                .collect();
            return Some((rate?, samples));
        }
        at = body + len + (len & 1);
    }
    None
}

/// How well a recording matches its reference after alignment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// Samples the recording lags the reference by (negative: the
    /// recording starts after the reference did).
    pub lag: i64,
    /// Normalised cross-correlation at that lag (1.0 = identical shape).
    pub correlation: f64,
    /// Least-squares gain from reference to recording.
    pub gain: f64,
    /// Signal-to-noise ratio in dB of the recording against the reference
    /// scaled by `gain`, over the compared window.
    pub snr_db: f64,
}

/// Compares `window` samples of `reference` starting at `skip` with every
/// stretch of `got` starting at 0..=`skip + max_lag`, picks the one with
/// the highest normalised cross-correlation, and computes gain and SNR
/// there.
pub fn align(
    reference: &[f32],
    got: &[f32],
    skip: usize,
    window: usize,
    max_lag: usize,
) -> Alignment {
    assert!(
        reference.len() >= skip + window,
        "reference has {} samples, need {}",
        reference.len(),
        skip + window
    );
    let r = &reference[skip..skip + window];
    let energy_r: f64 = r.iter().map(|x| f64::from(*x).powi(2)).sum();
    let mut best = (0usize, f64::MIN);
    for off in 0..=skip + max_lag {
        let Some(g) = got.get(off..off + window) else {
            break;
        };
        let (mut xy, mut yy) = (0.0f64, 0.0f64);
        for (x, y) in r.iter().zip(g) {
            xy += f64::from(*x) * f64::from(*y);
            yy += f64::from(*y).powi(2);
        }
        let c = if yy > 0.0 {
            xy / (energy_r * yy).sqrt()
        } else {
            0.0
        };
        if c > best.1 {
            best = (off, c);
        }
    }
    let (off, correlation) = best;
    assert!(
        got.len() >= off + window,
        "recording of {} samples too short to compare {window} samples",
        got.len()
    );
    let g = &got[off..off + window];
    let xy: f64 = r
        .iter()
        .zip(g)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let gain = xy / energy_r;
    let noise: f64 = r
        .iter()
        .zip(g)
        .map(|(x, y)| (f64::from(*y) - gain * f64::from(*x)).powi(2))
        .sum();
    let signal = energy_r * gain * gain;
    let as_i64 = |n: usize| i64::try_from(n).expect("sample offsets fit i64");
    Alignment {
        lag: as_i64(off) - as_i64(skip),
        correlation,
        gain,
        snr_db: 10.0 * (signal / noise.max(f64::MIN_POSITIVE)).log10(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_a_delayed_copy() {
        let reference: Vec<f32> = (0..4000)
            .map(|i| ((i * i) as f32 * 1e-4).sin() * 0.5)
            .collect();
        let mut got = vec![0.0f32; 123];
        got.extend(reference.iter().map(|x| x * 0.8));
        let a = align(&reference, &got, 100, 3000, 400);
        assert_eq!(a.lag, 123);
        assert!((a.gain - 0.8).abs() < 1e-3, "{a:?}");
        assert!(a.snr_db > 60.0, "{a:?}");
        let late: Vec<f32> = reference[50..].to_vec();
        assert_eq!(align(&reference, &late, 100, 3000, 400).lag, -50);
    }

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
