//! SIP peers: Kamailio (with its rtpengine module pointed at the relay under
//! test) and SIPp user agents with scenarios written here.
//!
//! Kamailio routes every request to `127.0.0.1:<R-URI user>`, so a UAC
//! chooses its UAS by dialling the UAS's SIP port as the user part
//! (`sipp -s <port>`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use crate::ports::udp_port_bound;
use crate::proc::{Proc, TempDir};

/// Where Debian's sip-tester keeps the pcap files SIPp plays.
pub const SIPP_PCAP_DIR: &str = "/usr/share/sip-tester";

/// The flags Kamailio passes to every `rtpengine_offer`/`rtpengine_answer`.
pub const RTPENGINE_FLAGS: &str = "replace-origin replace-session-connection ICE=remove";

/// A minimal stateful proxy config that calls the relay for every call.
pub fn kamailio_cfg(sip_port: u16, ng: SocketAddr) -> String {
    kamailio_cfg_with(sip_port, ng, "")
}

/// [`kamailio_cfg`] with `offer_flags` (e.g. `codec-transcode-opus`)
/// added to the flags of every `rtpengine_offer`.
pub fn kamailio_cfg_with(sip_port: u16, ng: SocketAddr, offer_flags: &str) -> String {
    let offer = format!("{RTPENGINE_FLAGS} {offer_flags}");
    let offer = offer.trim_end();
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
disable_tcp=yes
disable_sctp=yes
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:{sip_port}

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "rtpengine.so"

modparam("rtpengine", "rtpengine_sock", "udp:{ng}")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        loose_route();
        if (is_method("BYE")) {{
            rtpengine_delete();
        }}
        route(FORWARD);
    }}
    if (is_method("CANCEL")) {{
        rtpengine_delete();
        route(FORWARD);
    }}
    if (is_method("INVITE")) {{
        record_route();
        if (has_body("application/sdp")) {{
            if (!rtpengine_offer("{offer}")) {{
                xlog("L_ERR", "rtpengine_offer failed for $ci\n");
                sl_send_reply("503", "Media Relay Unavailable");
                exit;
            }}
        }}
        t_on_reply("MEDIA");
        t_on_failure("FAILED");
    }}
    route(FORWARD);
}}

route[FORWARD] {{
    $du = "sip:127.0.0.1:" + $rU;
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

onreply_route[MEDIA] {{
    if (has_body("application/sdp")) {{
        rtpengine_answer("{RTPENGINE_FLAGS}");
    }}
}}

failure_route[FAILED] {{
    rtpengine_delete();
}}
"#
    )
}

/// A running Kamailio.
#[derive(Debug)]
pub struct Kamailio {
    proc: Proc,
    port: u16,
    _dir: TempDir,
}

impl Kamailio {
    /// Writes the config, starts Kamailio on `127.0.0.1:sip_port` and waits
    /// until it listens.
    pub fn start(sip_port: u16, ng: SocketAddr) -> Self {
        Self::start_with(sip_port, ng, "")
    }

    /// [`Kamailio::start`] passing `offer_flags` to every `rtpengine_offer`.
    pub fn start_with(sip_port: u16, ng: SocketAddr, offer_flags: &str) -> Self {
        let dir = TempDir::new("kamailio");
        let cfg = dir.write("kamailio.cfg", kamailio_cfg_with(sip_port, ng, offer_flags));
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap_or_else(|e| panic!("creating {}: {e}", run.display()));
        let mut cmd = Command::new("kamailio");
        cmd.arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-Y"])
            .arg(&run)
            .arg("-P")
            .arg(dir.join("kamailio.pid"))
            .args(["-m", "64", "-M", "8"]);
        let mut proc = Proc::spawn("kamailio", cmd, dir.join("kamailio.log"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while !udp_port_bound(sip_port) {
            if let Some(s) = proc.try_status() {
                panic!(
                    "kamailio exited during start-up ({s}):\n{}",
                    proc.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "kamailio did not listen on {sip_port} within 15 s:\n{}",
                proc.log_tail(40)
            );
            thread::sleep(Duration::from_millis(50));
        }
        // Children ping the NG node during their initialisation.
        thread::sleep(Duration::from_millis(500));
        Self {
            proc,
            port: sip_port,
            _dir: dir,
        }
    }

    /// The SIP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kamailio's log so far.
    pub fn log_tail(&self, lines: usize) -> String {
        self.proc.log_tail(lines)
    }
}

/// The SDP media lines of [`uas_pcma_scenario`].
const PCMA_ANSWER: &str = "m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-11,16
      a=ptime:30";

/// A UAS that answers PCMA (and telephone-event) to match the pcap the UAC
/// plays, then waits for BYE.
pub fn uas_pcma_scenario() -> String {
    uas_scenario(PCMA_ANSWER)
}

/// A UAS whose 200 OK carries `media` (the SDP from the `m=` line on, one
/// attribute per line, `[media_port]` for its media port), then waits for BYE.
pub fn uas_scenario(media: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="sluice UAS answering PCMA">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SluiceUas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SluiceUas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=uas 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      {media}

    ]]>
  </send>
  <recv request="ACK" optional="true" rtd="true" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="500"/>
</scenario>
"#
    )
}

/// A UAC offering PCMA that plays `pcap` once the call is up, stays in the
/// call `hold_ms`, then hangs up.
pub fn uac_pcap_scenario(pcap: &Path, hold_ms: u32) -> String {
    uac_pcaps_scenario(&[pcap], 0, hold_ms)
}

/// A UAC offering PCMA that plays each of `pcaps` in turn once the call is
/// up (`gap_ms` apart, from the start of one to the start of the next),
/// stays in the call `hold_ms` after the last, then hangs up.
pub fn uac_pcaps_scenario(pcaps: &[&Path], gap_ms: u32, hold_ms: u32) -> String {
    let mut play = String::new();
    for (i, pcap) in pcaps.iter().enumerate() {
        if i > 0 {
            play.push_str(&format!("  <pause milliseconds=\"{gap_ms}\"/>\n"));
        }
        play.push_str(&format!(
            "  <nop>\n    <action>\n      <exec play_pcap_audio=\"{}\"/>\n    </action>\n  </nop>\n",
            pcap.display()
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="sluice UAC playing a pcap">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SluiceUac[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=uac 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[local_ip_type] [local_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-11,16
      a=ptime:30

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" crlf="true"/>
  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SluiceUac[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
{play}  <pause milliseconds="{hold_ms}"/>
  <send retrans="500">
    <![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SluiceUac[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"#
    )
}

/// A SIPp UAS on `127.0.0.1:sip_port` with media on `media_port`, running
/// [`uas_pcma_scenario`] until dropped.
#[derive(Debug)]
pub struct SippUas {
    proc: Proc,
    port: u16,
}

impl SippUas {
    /// Starts it (with `-rtp_echo` if `echo`) and waits until it listens.
    pub fn start(dir: &TempDir, sip_port: u16, media_port: u16, echo: bool) -> Self {
        Self::start_scenario(dir, sip_port, media_port, echo, &uas_pcma_scenario())
    }

    /// [`SippUas::start`] running `scenario_xml` (e.g. from [`uas_scenario`]).
    pub fn start_scenario(
        dir: &TempDir,
        sip_port: u16,
        media_port: u16,
        echo: bool,
        scenario_xml: &str,
    ) -> Self {
        let xml = dir.write(&format!("uas-{sip_port}.xml"), scenario_xml);
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .arg("-sf")
            .arg(&xml)
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p"])
            .arg(sip_port.to_string())
            .arg("-mp")
            .arg(media_port.to_string())
            .args(["-nostdin", "-trace_err", "-error_file"])
            .arg(dir.join(&format!("uas-{sip_port}-errors.log")));
        if echo {
            cmd.arg("-rtp_echo");
        }
        let mut proc = Proc::spawn("sipp-uas", cmd, dir.join(&format!("uas-{sip_port}.log")));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !udp_port_bound(sip_port) {
            if let Some(s) = proc.try_status() {
                panic!(
                    "sipp UAS exited during start-up ({s}):\n{}",
                    proc.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "sipp UAS did not listen on {sip_port} within 10 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
        Self {
            proc,
            port: sip_port,
        }
    }

    /// The UAS's SIP port (dial it as the R-URI user through Kamailio).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The UAS's errors so far (SIPp's `-error_file`) and log tail.
    pub fn log_tail(&self, lines: usize) -> String {
        self.proc.log_tail(lines)
    }
}

/// Where and how a [`SippUac`] calls.
#[derive(Debug, Clone, Copy)]
pub struct UacParams {
    /// The proxy (Kamailio) address.
    pub proxy: SocketAddr,
    /// The UAS's SIP port, dialled as the R-URI user.
    pub uas_port: u16,
    /// The UAC's own SIP port.
    pub sip_port: u16,
    /// The UAC's media port.
    pub media_port: u16,
    /// Calls to place (`-m`).
    pub calls: u32,
    /// Most calls at once (`-l`).
    pub concurrent: u32,
}

/// A SIPp UAC placing calls through a proxy to a UAS.
#[derive(Debug)]
pub struct SippUac {
    proc: Proc,
    errors: PathBuf,
}

impl SippUac {
    /// Starts the UAC with a scenario file written by [`uac_pcap_scenario`].
    pub fn start(dir: &TempDir, scenario_xml: &str, p: UacParams) -> Self {
        let UacParams {
            proxy,
            uas_port,
            sip_port,
            media_port,
            calls,
            concurrent,
        } = p;
        let xml = dir.write(&format!("uac-{sip_port}.xml"), scenario_xml);
        let errors = dir.join(&format!("uac-{sip_port}-errors.log"));
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .arg(proxy.to_string())
            .arg("-sf")
            .arg(&xml)
            .arg("-s")
            .arg(uas_port.to_string())
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p"])
            .arg(sip_port.to_string())
            .arg("-mp")
            .arg(media_port.to_string())
            .arg("-m")
            .arg(calls.to_string())
            .arg("-l")
            .arg(concurrent.to_string())
            .args([
                "-r",
                "5",
                "-timeout",
                "60s",
                "-timeout_error",
                "-nostdin",
                "-trace_err",
            ])
            .arg("-error_file")
            .arg(&errors);
        let proc = Proc::spawn("sipp-uac", cmd, dir.join(&format!("uac-{sip_port}.log")));
        Self { proc, errors }
    }

    /// Waits at most `timeout` for SIPp to finish; returns its exit status.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        self.proc.wait_or_panic(timeout)
    }

    /// Whether SIPp is still running.
    pub fn running(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// SIPp's own error log plus the tail of its screen output.
    pub fn diagnostics(&self) -> String {
        let errors = std::fs::read_to_string(&self.errors).unwrap_or_default();
        format!("errors:\n{errors}\nscreen:\n{}", self.proc.log_tail(60))
    }
}
