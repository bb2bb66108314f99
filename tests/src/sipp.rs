//! SIPp peers running the scenario files in `tests/sipp/` (roles, keys and
//! verified command lines are in `tests/sipp/README.md`).
//!
//! [`Sipp`] builds one SIPp command line; [`Sipp::run`] runs it to the end
//! within a bound, [`Sipp::start`] leaves it running in the background (a
//! UAS) until [`SippPeer::finish`] or [`SippPeer::wait`]. Both give a
//! [`SippRun`]: the exit status, and the statistics SIPp wrote with
//! `-trace_stat` (successful and failed calls, the reason counters such as
//! `FailedTimeoutOnRecv`, and the scenarios' own counters such as
//! `completed`).
//!
//! Every run is bounded twice: SIPp's own `-timeout N -timeout_error`
//! (exit status 255 when it is hit) and a process bound 10 s later. Every
//! run goes to a directory of the test's own ([`TempDir`]) holding a copy
//! of the scenario, a `pcap` link to the packaged pcap files
//! ([`link_pcap`]), and SIPp's statistics, error and message logs.

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::ports::udp_port_bound;
use crate::proc::{run_bounded, Proc, TempDir};
use crate::sip::SIPP_PCAP_DIR;

/// SIPp's exit statuses (SIPp 3.6.1).
pub mod exit {
    /// Every call succeeded.
    pub const ALL_OK: i32 = 0;
    /// At least one call failed; also a scenario SIPp refused to load
    /// (missing file, unknown keyword such as a `-key` not given).
    pub const CALL_FAILED: i32 = 1;
    /// Ended by an `int_cmd` (`stop_now`).
    pub const INTERNAL_COMMAND: i32 = 97;
    /// Ended normally without processing any call.
    pub const NO_CALLS: i32 = 99;
    /// Could not bind a socket (SIP port taken).
    pub const BIND_ERROR: i32 = 254;
    /// Fatal error, including `-timeout` reached with `-timeout_error`.
    pub const FATAL_OR_TIMEOUT: i32 = 255;
}

/// How long the process may outlive SIPp's own `-timeout`.
const PROCESS_MARGIN: Duration = Duration::from_secs(10);

/// The directory holding the scenario files.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp")
}

/// The path of scenario `name` (`"carrier_uac"` or `"carrier_uac.xml"`);
/// panics if there is no such file.
pub fn scenario_path(name: &str) -> PathBuf {
    let file = if name.ends_with(".xml") {
        name.to_owned()
    } else {
        format!("{name}.xml")
    };
    let path = scenario_dir().join(file);
    assert!(path.is_file(), "no SIPp scenario {}", path.display());
    path
}

/// Makes `dir/pcap` a link to the packaged pcap files
/// (`/usr/share/sip-tester`: `g711a.pcap`, `dtmf_2833_*.pcap`), which the
/// scenarios play as `pcap/...`; SIPp looks for them next to the scenario
/// file, then in its working directory. Idempotent; returns the link.
pub fn link_pcap(dir: &Path) -> PathBuf {
    let link = dir.join("pcap");
    if fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(SIPP_PCAP_DIR, &link)
            .unwrap_or_else(|e| panic!("linking {} -> {SIPP_PCAP_DIR}: {e}", link.display()));
    }
    link
}

/// Copies scenario `name` into `dir` (next to the `pcap` link, so that
/// SIPp finds the pcap files without a warning) and returns the copy.
pub fn install_scenario(dir: &Path, name: &str) -> PathBuf {
    let src = scenario_path(name);
    let file = src.file_name().expect("a scenario path has a file name");
    let dst = dir.join(file);
    fs::copy(&src, &dst)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", src.display(), dst.display()));
    link_pcap(dir);
    dst
}

/// One SIPp command line around a scenario of `tests/sipp/`.
///
/// Always passed: `-sf` (a copy of the scenario in the run directory),
/// `-i`/`-p` (SIP address), `-mi`/`-mp` (media: SIPp binds the media port
/// and the one two above it, so give each instance four ports), `-ci`
/// (its control socket on the same address, not `0.0.0.0`), `-nostdin`,
/// `-timeout N -timeout_error`, and the statistics (`-trace_stat -fd 1`),
/// error (`-trace_err`) and message (`-trace_msg`) logs.
#[derive(Debug, Clone)]
pub struct Sipp {
    scenario: String,
    remote: Option<SocketAddr>,
    local: SocketAddr,
    media_port: u16,
    args: Vec<String>,
    timeout: Duration,
}

impl Sipp {
    /// A client (UAC) calling `remote` from `local`, media on `media_port`.
    pub fn uac(scenario: &str, remote: SocketAddr, local: SocketAddr, media_port: u16) -> Self {
        Self::new(scenario, Some(remote), local, media_port)
    }

    /// A server (UAS) listening on `local`, media on `media_port`.
    pub fn uas(scenario: &str, local: SocketAddr, media_port: u16) -> Self {
        Self::new(scenario, None, local, media_port)
    }

    fn new(scenario: &str, remote: Option<SocketAddr>, local: SocketAddr, media_port: u16) -> Self {
        // Fail on a misspelt name now rather than in SIPp's log.
        scenario_path(scenario);
        Self {
            scenario: scenario.trim_end_matches(".xml").to_owned(),
            remote,
            local,
            media_port,
            args: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The scenario's name (without `.xml`).
    pub fn scenario(&self) -> &str {
        &self.scenario
    }

    /// The SIP address (`-i`/`-p`).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The media port (`-mp`): in its SDP, and where its RTP leaves from.
    pub fn media_port(&self) -> u16 {
        self.media_port
    }

    /// Adds raw arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one raw argument.
    pub fn arg(self, arg: impl Into<String>) -> Self {
        self.args([arg.into()])
    }

    /// `-s USER`: the Request-URI user (the dialled number of a carrier).
    pub fn service(self, user: &str) -> Self {
        self.args(["-s", user])
    }

    /// `-m N`: exit after N calls. With sip-control in front of a UAS leave
    /// it out: its OPTIONS probes count as calls (use [`SippPeer::finish`]).
    pub fn calls(self, n: u32) -> Self {
        self.args(["-m".to_owned(), n.to_string()])
    }

    /// `-d MS`: the length of the scenario's `<pause/>` (time in the call).
    pub fn hold(self, d: Duration) -> Self {
        self.args(["-d".to_owned(), d.as_millis().to_string()])
    }

    /// `-key NAME VALUE`: the `[NAME]` keyword of the scenario.
    pub fn key(self, name: &str, value: &str) -> Self {
        self.args(["-key", name, value])
    }

    /// `-au USER -ap PASS`: digest credentials for `[authentication]`.
    pub fn credentials(self, user: &str, password: &str) -> Self {
        self.args(["-au", user, "-ap", password])
    }

    /// `-auth_uri URI`: the digest `uri=` without `sip:` (SIPp signs
    /// `sip:HOST:PORT` by default, not the Request-URI).
    pub fn auth_uri(self, uri: &str) -> Self {
        self.args(["-auth_uri", uri])
    }

    /// `-aa`: answer INFO, NOTIFY, UPDATE and OPTIONS the scenario does not
    /// expect with 200.
    pub fn auto_answer(self) -> Self {
        self.arg("-aa")
    }

    /// `-recv_timeout MS`: a call waiting longer for a message fails.
    pub fn recv_timeout(self, d: Duration) -> Self {
        self.args(["-recv_timeout".to_owned(), d.as_millis().to_string()])
    }

    /// `-t MODE`: `u1` (UDP, the default) or `t1` (TCP). TLS (`l1`) is not
    /// in Debian's SIPp build.
    pub fn transport(self, mode: &str) -> Self {
        self.args(["-t", mode])
    }

    /// SIPp's own `-timeout` (default 30 s); the process is bounded 10 s
    /// later.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    fn is_tcp(&self) -> bool {
        self.args
            .windows(2)
            .any(|w| w[0] == "-t" && w[1].starts_with('t'))
    }

    fn files(&self, dir: &Path) -> SippFiles {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let stem = format!("{}-{}-{n}", self.scenario, self.local.port());
        SippFiles {
            name: format!("sipp-{stem}"),
            stats: dir.join(format!("{stem}-stats.csv")),
            errors: dir.join(format!("{stem}-errors.log")),
            messages: dir.join(format!("{stem}-messages.log")),
        }
    }

    /// The command line, with the scenario installed in `dir`.
    pub fn command(&self, dir: &Path) -> Command {
        self.command_with(dir, &self.files(dir))
    }

    fn command_with(&self, dir: &Path, files: &SippFiles) -> Command {
        let xml = install_scenario(dir, &self.scenario);
        let ip = self.local.ip().to_string();
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir);
        if let Some(remote) = self.remote {
            cmd.arg(remote.to_string());
        }
        cmd.arg("-sf")
            .arg(&xml)
            .args(["-i", &ip, "-p", &self.local.port().to_string()])
            .args(["-mi", &ip, "-mp", &self.media_port.to_string()])
            .args(["-ci", &ip, "-nostdin"])
            .args(["-timeout", &format!("{}s", self.timeout.as_secs().max(1))])
            .arg("-timeout_error")
            .args(["-trace_stat", "-fd", "1", "-stf"])
            .arg(&files.stats)
            .args(["-trace_err", "-error_file"])
            .arg(&files.errors)
            .args(["-trace_msg", "-message_file"])
            .arg(&files.messages)
            .args(&self.args);
        cmd
    }

    /// Runs SIPp to its end (use `calls(n)`), within its `-timeout` plus
    /// 10 s (panics with the log if it outlives that).
    pub fn run(self, dir: &TempDir) -> SippRun {
        let files = self.files(dir.path());
        let cmd = self.command_with(dir.path(), &files);
        let (status, log) = run_bounded(&files.name, cmd, dir, self.timeout + PROCESS_MARGIN);
        SippRun::collect(status, log, &files)
    }

    /// Starts SIPp in the background and waits (up to 10 s) until it
    /// listens on its SIP port.
    pub fn start(self, dir: &TempDir) -> SippPeer {
        let files = self.files(dir.path());
        let cmd = self.command_with(dir.path(), &files);
        let log = dir.join(&format!("{}.log", files.name));
        let mut proc = Proc::spawn(&files.name, cmd, log);
        let port = self.local.port();
        let tcp = self.is_tcp();
        let listening = || {
            if tcp {
                tcp_port_listening(port)
            } else {
                udp_port_bound(port)
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening() {
            if let Some(s) = proc.try_status() {
                panic!(
                    "{} exited during start-up ({s}):\n{}\nerrors:\n{}",
                    files.name,
                    proc.log_tail(40),
                    fs::read_to_string(&files.errors).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {port} within 10 s:\n{}",
                files.name,
                proc.log_tail(40)
            );
            thread::sleep(Duration::from_millis(20));
        }
        SippPeer {
            proc,
            files,
            bound: self.timeout + PROCESS_MARGIN,
        }
    }
}

#[derive(Debug, Clone)]
struct SippFiles {
    name: String,
    stats: PathBuf,
    errors: PathBuf,
    messages: PathBuf,
}

/// A SIPp instance running in the background (usually a UAS). Dropping it
/// stops it (`SIGTERM`, then `SIGKILL`, by its PID).
#[derive(Debug)]
pub struct SippPeer {
    proc: Proc,
    files: SippFiles,
    bound: Duration,
}

impl SippPeer {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Whether SIPp is still running.
    pub fn running(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// The statistics of the last periodic dump (every second), if any.
    pub fn stats(&self) -> Option<SippStats> {
        SippStats::read(&self.files.stats)
    }

    /// Waits until the statistics show `counter` at `value` or more, at
    /// most `timeout`; returns whether it got there.
    pub fn wait_counter(&mut self, counter: &str, value: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stats().is_some_and(|s| s.counter(counter) >= value) {
                return true;
            }
            if Instant::now() >= deadline || !self.running() {
                return self.stats().is_some_and(|s| s.counter(counter) >= value);
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last `lines` lines of its screen output.
    pub fn log_tail(&self, lines: usize) -> String {
        self.proc.log_tail(lines)
    }

    /// Waits for SIPp to end by itself (`-m` reached, or its `-timeout`),
    /// at most `timeout`; panics with the log if it does not.
    pub fn wait(mut self, timeout: Duration) -> SippRun {
        let status = self.proc.wait_or_panic(timeout.min(self.bound));
        SippRun::collect(status, self.proc.log(), &self.files)
    }

    /// Ends SIPp softly (`SIGUSR1`: no new calls, calls in progress run to
    /// their end, exit status 0 if none failed), waiting at most `grace`;
    /// then `SIGTERM`, whose status shows no exit code.
    pub fn finish(mut self, grace: Duration) -> SippRun {
        let status = match self.proc.try_status() {
            Some(s) => Some(s),
            None => {
                self.proc.signal("USR1");
                match self.proc.wait_timeout(grace) {
                    Some(s) => Some(s),
                    None => self.proc.stop_with("TERM", Duration::from_secs(3)),
                }
            }
        };
        let status = status.unwrap_or_else(|| {
            panic!(
                "{} (pid {}) did not stop:\n{}",
                self.files.name,
                self.proc.pid(),
                self.proc.log_tail(40)
            )
        });
        SippRun::collect(status, self.proc.log(), &self.files)
    }
}

/// The statistics SIPp dumped (`-trace_stat`): the cumulative value of every
/// integer column of the last line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SippStats {
    /// Calls that reached the end of the scenario.
    pub successful: u64,
    /// Calls that failed.
    pub failed: u64,
    /// Every cumulative counter by name, without the `(C)` suffix:
    /// `IncomingCall`, `OutgoingCall`, `Retransmissions`,
    /// `FailedTimeoutOnRecv`, `FailedUnexpectedMessage`, ..., and the
    /// scenario's own `counter="..."` names (`invites`, `completed`, ...).
    pub counters: BTreeMap<String, u64>,
}

impl SippStats {
    /// Reads a statistics file; `None` if it is missing or has no data
    /// line yet.
    pub fn read(path: &Path) -> Option<Self> {
        Self::parse(&fs::read_to_string(path).ok()?)
    }

    /// Parses the text of a statistics file (`;`-separated: a header line,
    /// then one line per dump).
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last: Vec<&str> = lines.next_back()?.split(';').collect();
        let mut counters = BTreeMap::new();
        for (name, value) in header.iter().zip(last.iter()) {
            let Some(name) = name.trim().strip_suffix("(C)") else {
                continue;
            };
            if let Ok(v) = value.trim().parse::<u64>() {
                counters.insert(name.to_owned(), v);
            }
        }
        Some(Self {
            successful: counters.get("SuccessfulCall").copied().unwrap_or(0),
            failed: counters.get("FailedCall").copied().unwrap_or(0),
            counters,
        })
    }

    /// A counter's cumulative value; 0 if it is absent.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

/// The end of one SIPp run.
#[derive(Debug)]
pub struct SippRun {
    /// The exit status.
    pub status: ExitStatus,
    /// The statistics; `None` if SIPp wrote none (it did not start: a
    /// missing `-key`, a bind error).
    pub stats: Option<SippStats>,
    /// Its screen output.
    pub log: String,
    /// Its error log (unexpected messages, failed checks, why calls
    /// aborted).
    pub errors: String,
    /// Every SIP message it sent and received.
    pub messages: PathBuf,
}

impl SippRun {
    fn collect(status: ExitStatus, log: String, files: &SippFiles) -> Self {
        Self {
            status,
            stats: SippStats::read(&files.stats),
            log,
            errors: fs::read_to_string(&files.errors).unwrap_or_default(),
            messages: files.messages.clone(),
        }
    }

    /// SIPp's exit code (`None` if a signal ended it); see [`exit`].
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Successful calls.
    pub fn successful(&self) -> u64 {
        self.stats.as_ref().map_or(0, |s| s.successful)
    }

    /// Failed calls.
    pub fn failed(&self) -> u64 {
        self.stats.as_ref().map_or(0, |s| s.failed)
    }

    /// A counter's cumulative value (0 if absent).
    pub fn counter(&self, name: &str) -> u64 {
        self.stats.as_ref().map_or(0, |s| s.counter(name))
    }

    /// Exit status 0, no failed call, at least one successful call.
    pub fn all_ok(&self) -> bool {
        self.code() == Some(exit::ALL_OK) && self.failed() == 0 && self.successful() > 0
    }

    /// The message log's text.
    pub fn message_log(&self) -> String {
        fs::read_to_string(&self.messages).unwrap_or_default()
    }

    /// Every SIP message of the message log, in order.
    pub fn messages(&self) -> Vec<SipMessage> {
        parse_messages(&self.message_log())
    }

    /// The messages it received whose first line starts with `start`
    /// (`"SIP/2.0 183"`, `"INVITE "`), in order.
    pub fn received(&self, start: &str) -> Vec<SipMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.received && m.first_line().starts_with(start))
            .collect()
    }

    /// The body of the first message it received whose first line starts
    /// with `start` and whose `CSeq` ends with `method`; panics with the
    /// message log's path if there is none.
    pub fn received_body(&self, start: &str, method: &str) -> String {
        self.received(start)
            .into_iter()
            .find(|m| m.header("CSeq").is_some_and(|c| c.ends_with(method)))
            .map(|m| m.body().to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "no `{start}` for {method} received; messages: {}",
                    self.messages.display()
                )
            })
    }

    /// Everything worth printing when a test fails.
    pub fn diagnostics(&self) -> String {
        let log: Vec<&str> = self.log.lines().collect();
        let tail = log[log.len().saturating_sub(60)..].join("\n");
        format!(
            "exit: {}\nstats: {:?}\nerrors:\n{}\nscreen:\n{tail}\nmessages: {}",
            self.status,
            self.stats,
            self.errors,
            self.messages.display()
        )
    }
}

/// One SIP message of SIPp's message log (`-trace_msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipMessage {
    /// Received (`true`) or sent by SIPp.
    pub received: bool,
    /// The message as SIPp logged it (CRLF line ends).
    pub text: String,
}

impl SipMessage {
    /// The request or status line.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or_default().trim_end()
    }

    /// The value of the first header called `name` (case-insensitive;
    /// compact forms are not expanded).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.text
            .lines()
            .skip(1)
            .take_while(|l| !l.trim_end().is_empty())
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
    }

    /// The body: everything after the first empty line.
    pub fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .or_else(|| self.text.split_once("\n\n"))
            .map_or("", |(_, body)| body)
    }
}

/// Splits the text of a SIPp 3.6.1 message log: each message follows a
/// line of dashes and a date, then `UDP message received [N] bytes :` or
/// `UDP message sent (N bytes):` (TCP likewise) and an empty line.
pub fn parse_messages(log: &str) -> Vec<SipMessage> {
    log.split("-----------------------------------------------")
        .filter_map(|chunk| {
            let mut parts = chunk.splitn(3, '\n');
            let _date = parts.next()?;
            let what = parts.next()?;
            let received = if what.contains("message received") {
                true
            } else if what.contains("message sent") {
                false
            } else {
                return None;
            };
            let text = parts.next()?.trim_start_matches(['\r', '\n']);
            let text = text.trim_end_matches(['\r', '\n']).to_owned() + "\r\n";
            Some(SipMessage { received, text })
        })
        .collect()
}

/// Whether some socket listens on TCP `port` (IPv4 or IPv6).
pub fn tcp_port_listening(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|file| {
        fs::read_to_string(file).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let mut cols = line.split_whitespace();
                let local = cols.nth(1);
                let state = cols.nth(1);
                state == Some("0A")
                    && local
                        .and_then(|l| l.rsplit_once(':'))
                        .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                        == Some(port)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_last_dump() {
        let text = "StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(C);CallLength(C);probes(C);completed(C);\n\
                    a;0;0;0;00:00:00:000000;0;0;\n\
                    b;1;2;1;00:00:01:257000;3;2;\n";
        let s = SippStats::parse(text).unwrap();
        assert_eq!(s.successful, 2);
        assert_eq!(s.failed, 1);
        assert_eq!(s.counter("probes"), 3);
        assert_eq!(s.counter("completed"), 2);
        assert_eq!(s.counter("CallLength"), 0);
        assert_eq!(s.counter("missing"), 0);
    }

    #[test]
    fn splits_the_message_log() {
        let log = "----------------------------------------------- 2026-11-25 04:52:07.401734\n\
                   UDP message sent (10 bytes):\n\n\
                   INVITE sip:1@h SIP/2.0\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nv=0\r\n\n\
                   ----------------------------------------------- 2026-11-25 04:52:07.402095\n\
                   UDP message received [5] bytes :\n\n\
                   SIP/2.0 183 Session Progress\r\ncseq: 1 INVITE\r\n\r\nm=audio 1 RTP/AVP 8\r\n\n";
        let m = parse_messages(log);
        assert_eq!(m.len(), 2);
        assert!(!m[0].received);
        assert_eq!(m[0].first_line(), "INVITE sip:1@h SIP/2.0");
        assert_eq!(m[0].body(), "v=0\r\n");
        assert!(m[1].received);
        assert_eq!(m[1].header("CSeq"), Some("1 INVITE"));
        assert_eq!(m[1].body(), "m=audio 1 RTP/AVP 8\r\n");
    }

    #[test]
    fn no_data_line_is_no_stats() {
        assert_eq!(SippStats::parse("StartTime;SuccessfulCall(C);\n"), None);
        assert_eq!(SippStats::parse(""), None);
    }

    /// The carrier calls the platform directly, which also answers a probe
    /// first; both ends count one completed call.
    #[test]
    fn carrier_calls_platform_directly() {
        if !crate::require("carrier_calls_platform_directly", "sipp") {
            return;
        }
        let mut ports = crate::PortBlock::new();
        let uas_addr: SocketAddr = format!("127.0.0.1:{}", ports.take(2)).parse().unwrap();
        let uas_media = ports.take(4);
        let probe_addr: SocketAddr = format!("127.0.0.1:{}", ports.take(2)).parse().unwrap();
        let probe_media = ports.take(4);
        let uac_addr: SocketAddr = format!("127.0.0.1:{}", ports.take(2)).parse().unwrap();
        let uac_media = ports.take(4);
        let dir = TempDir::new("sipp-pair");

        let uas = Sipp::uas("platform_uas", uas_addr, uas_media).start(&dir);
        let probe = Sipp::uac("uac_options", uas_addr, probe_addr, probe_media)
            .calls(1)
            .recv_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .run(&dir);
        assert!(probe.all_ok(), "{}", probe.diagnostics());
        let uac = Sipp::uac("carrier_uac", uas_addr, uac_addr, uac_media)
            .service("15551230001")
            .calls(1)
            .hold(Duration::from_millis(500))
            .timeout(Duration::from_secs(15))
            .run(&dir);
        assert!(uac.all_ok(), "{}", uac.diagnostics());
        assert_eq!(uac.counter("answered"), 1);
        assert_eq!(uac.counter("completed"), 1);
        let uas = uas.finish(Duration::from_secs(5));
        assert!(uas.all_ok(), "{}", uas.diagnostics());
        assert_eq!(uas.counter("probes"), 1);
        assert_eq!(uas.counter("invites"), 1);
        assert_eq!(uas.counter("completed"), 1);
        assert_eq!(uas.successful(), 2, "the probe and the call");
    }

    #[test]
    fn every_scenario_is_found() {
        for name in [
            "carrier_uac",
            "carrier_uac_wait_bye",
            "carrier_uac_dtmf",
            "carrier_uac_auth",
            "carrier_uac_refer",
            "carrier_uac_reject",
            "carrier_uac_replaces",
            "carrier_uac_session_timer",
            "platform_uas",
            "platform_uas_bye",
            "platform_uas_info_dtmf",
            "platform_uas_refer",
            "platform_uas_refer_replaces",
            "platform_uas_session_timer",
            "platform_uas_503",
            "platform_uas_early_media",
            "platform_uas_ring_cancel",
            "platform_uas_srtp",
            "platform_uas_opus",
            "carrier_uac_early_media",
            "carrier_uac_cancel",
            "carrier_uac_pcma_only",
            "queue_uas",
            "queue_uas_replaces",
            "uas_challenge",
            "registrar_challenge",
            "uac_options",
            "uac_register",
        ] {
            assert!(scenario_path(name).is_file(), "{name}");
        }
    }
}
