//! SRTP through the relay with ffmpeg's independent SRTP on both ends:
//! SRTP -> plain, plain -> SRTP, and SRTP(key A) -> SRTP(key B) with a
//! different suite per leg. Each direction carries a 1 kHz PCMU sine that
//! sox checks after ffmpeg decrypted and decoded it; the SDES keys the
//! receivers use are the ones the relay put in its SDP. Runs against
//! media-core, or rtpengine with `SLUICE_RELAY=rtpengine`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use sluice_ng::Value;
use sluice_tests::media::{check_sine, reference_pcmu_sine, sine_through, SoxStat, SrtpKeying};
use sluice_tests::relay::RelayKind;
use sluice_tests::sdp::{
    audio_endpoint, audio_protocol, audio_sdp, crypto_lines, savp_audio_sdp, Crypto, PCMU,
};
use sluice_tests::{call_id, ng, peers, PortBlock, Relay, TempDir};

const TEST: &str = "srtp_interop";
const SECS: u32 = 3;
const FREQ: u32 = 1000;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SHA1_80: &str = "AES_CM_128_HMAC_SHA1_80";
const SHA1_32: &str = "AES_CM_128_HMAC_SHA1_32";
/// The caller's and callee's own master keys (base64 of 30 bytes).
const KEY_A: &str = "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO";
const KEY_B: &str = "BRAbJjE8R1JdaHN+iZSfqrXAy9bh7PcCDRgjLjlE";

fn keying(suite: &str, key: &str) -> SrtpKeying {
    SrtpKeying {
        suite: suite.to_owned(),
        key: key.to_owned(),
    }
}

/// One call set up through the relay.
struct Setup {
    call: String,
    a_port: u16,
    b_port: u16,
    relay_for_a: SocketAddr,
    relay_for_b: SocketAddr,
    /// What the relay's offer told B.
    offer_to_b: String,
    /// What the relay's answer told A.
    answer_to_a: String,
}

struct Fixture {
    dir: TempDir,
    ports: PortBlock,
    relay: Relay,
    reference: SoxStat,
}

impl Fixture {
    /// Offers `a_sdp` (A's SDP built for its port) with `extra` NG keys,
    /// then lets `answer_for` build B's answer from the relay's offer.
    fn call(
        &mut self,
        name: &str,
        a_sdp: impl Fn(u16) -> String,
        extra: &[(&str, Value)],
        answer_for: impl Fn(u16, &str) -> String,
    ) -> Setup {
        let mut ng_client = self.relay.client();
        let a_port = self.ports.take(2);
        let b_port = self.ports.take(2);
        let call = call_id(&format!("{TEST}-{name}"));
        let offer_to_b = ng::offer_with(&mut ng_client, &call, "tag-a", &a_sdp(a_port), extra);
        let relay_for_b = audio_endpoint(&offer_to_b)
            .unwrap_or_else(|| panic!("no audio endpoint in the relay's offer:\n{offer_to_b}"));
        let answer_to_a = ng::answer(
            &mut ng_client,
            &call,
            "tag-a",
            "tag-b",
            &answer_for(b_port, &offer_to_b),
        );
        let relay_for_a = audio_endpoint(&answer_to_a)
            .unwrap_or_else(|| panic!("no audio endpoint in the relay's answer:\n{answer_to_a}"));
        Setup {
            call,
            a_port,
            b_port,
            relay_for_a,
            relay_for_b,
            offer_to_b,
            answer_to_a,
        }
    }

    /// A -> B then B -> A, each checked with sox.
    fn both_ways(
        &self,
        name: &str,
        s: &Setup,
        a_sends: Option<&SrtpKeying>,
        b_receives: Option<&SrtpKeying>,
        b_sends: Option<&SrtpKeying>,
        a_receives: Option<&SrtpKeying>,
    ) {
        let ab = sine_through(
            &self.dir,
            s.a_port,
            s.relay_for_a,
            s.b_port,
            (SECS, FREQ),
            a_sends,
            b_receives,
        );
        check_sine(&format!("{name} A->B"), ab, self.reference, SECS, FREQ);
        let ba = sine_through(
            &self.dir,
            s.b_port,
            s.relay_for_b,
            s.a_port,
            (SECS, FREQ),
            b_sends,
            a_receives,
        );
        check_sine(&format!("{name} B->A"), ba, self.reference, SECS, FREQ);
    }

    /// The relay's counters for the call: RTP forwarded, and (media-core)
    /// that nothing failed authentication beyond `srtcp_refused` packets.
    fn check_counts(&self, s: &Setup, srtcp_refused: i64) {
        let mut ng_client = self.relay.client();
        let q = ng::query(&mut ng_client, &s.call);
        let (rtp, rtcp) = ng::totals(&q);
        eprintln!("{}: RTP {rtp:?}, RTCP {rtcp:?}", s.call);
        let expected = 2 * i64::from(SECS) * 50;
        assert!(
            rtp.packets >= expected - 4,
            "relay counted {} RTP packets, ffmpeg sent about {expected}",
            rtp.packets
        );
        if self.relay.kind() == RelayKind::MediaCore {
            let auth = ng::media_core_drops_for(&q, "SRTP auth failed").unwrap_or(-1);
            assert!(
                (0..=srtcp_refused).contains(&auth),
                "{auth} SRTP auth failures (at most {srtcp_refused} expected) in {}",
                ng::show(&q)
            );
            for reason in ["SRTP replay", "SRTP error"] {
                assert_eq!(
                    ng::media_core_drops_for(&q, reason),
                    Some(0),
                    "{reason} drops in {}",
                    ng::show(&q)
                );
            }
        }
        ng::delete(&mut ng_client, &s.call, "tag-a");
    }
}

/// The relay's line for `suite` in an SDP.
fn find_line(sdp: &str, suite: &str) -> Crypto {
    crypto_lines(sdp)
        .into_iter()
        .find(|l| l.suite == suite)
        .unwrap_or_else(|| panic!("no {suite} a=crypto line:\n{sdp}"))
}

fn only_line(sdp: &str, what: &str) -> SrtpKeying {
    let lines = crypto_lines(sdp);
    assert_eq!(lines.len(), 1, "{what}: expected one a=crypto line:\n{sdp}");
    keying(&lines[0].suite, &lines[0].key)
}

#[test]
fn ffmpeg_srtp_through_the_relay_three_ways() {
    let kind = RelayKind::from_env();
    if !kind.available(TEST) || !peers::require_all(TEST, &["ffmpeg", "sox"]) {
        return;
    }
    let dir = TempDir::new(TEST);
    let mut ports = PortBlock::new();
    let relay = Relay::from_env(&mut ports);
    let reference = reference_pcmu_sine(&dir, SECS, FREQ);
    let mut f = Fixture {
        dir,
        ports,
        relay,
        reference,
    };
    let a_key = keying(SHA1_80, KEY_A);

    // 1. SRTP caller, plain callee: the relay decrypts toward B and
    //    encrypts toward A with a key it announces in its answer.
    let srtp_a = |port| {
        savp_audio_sdp(
            LOCALHOST,
            port,
            &[PCMU],
            20,
            &[format!("1 {SHA1_80} inline:{KEY_A}")],
        )
    };
    let to_plain = [("transport-protocol", Value::from("RTP/AVP"))];
    let s = f.call("to-plain", srtp_a, &to_plain, |port, offer| {
        assert_eq!(audio_protocol(offer).as_deref(), Some("RTP/AVP"), "{offer}");
        assert!(
            crypto_lines(offer).is_empty(),
            "keys sent to a plain leg:\n{offer}"
        );
        audio_sdp(LOCALHOST, port, &[PCMU], 20)
    });
    assert_eq!(audio_protocol(&s.answer_to_a).as_deref(), Some("RTP/SAVP"));
    let relay_to_a = only_line(&s.answer_to_a, "answer to A");
    assert_eq!(relay_to_a.suite, SHA1_80);
    assert_ne!(relay_to_a.key, KEY_A, "the relay must use a key of its own");
    f.both_ways(
        "SRTP->plain",
        &s,
        Some(&a_key),
        None,
        None,
        Some(&relay_to_a),
    );
    f.check_counts(&s, 0);

    // 2. Plain caller, SRTP callee: B receives with the key the relay
    //    offered it and sends with its own.
    let to_srtp = [("transport-protocol", Value::from("RTP/SAVP"))];
    let plain_a = |port| audio_sdp(LOCALHOST, port, &[PCMU], 20);
    let s = f.call("to-srtp", plain_a, &to_srtp, |port, offer| {
        let line = find_line(offer, SHA1_80);
        savp_audio_sdp(
            LOCALHOST,
            port,
            &[PCMU],
            20,
            &[format!("{} {SHA1_80} inline:{KEY_B}", line.tag)],
        )
    });
    let relay_to_b = find_line(&s.offer_to_b, SHA1_80);
    let relay_to_b = keying(&relay_to_b.suite, &relay_to_b.key);
    assert!(crypto_lines(&s.answer_to_a).is_empty(), "{}", s.answer_to_a);
    assert_eq!(audio_protocol(&s.answer_to_a).as_deref(), Some("RTP/AVP"));
    f.both_ways(
        "plain->SRTP",
        &s,
        None,
        Some(&relay_to_b),
        Some(&keying(SHA1_80, KEY_B)),
        None,
    );
    f.check_counts(&s, 0);

    // 3. SRTP both sides, B picks a suite A did not offer: the relay
    //    re-encrypts each direction from one key and suite to another.
    let s = f.call("reencrypt", srtp_a, &[], |port, offer| {
        let lines = crypto_lines(offer);
        assert_eq!(
            lines[0].key, KEY_A,
            "the offerer's line comes first:\n{offer}"
        );
        let ours = lines
            .iter()
            .find(|l| l.suite == SHA1_32)
            .unwrap_or_else(|| panic!("relay offered no {SHA1_32}:\n{offer}"));
        savp_audio_sdp(
            LOCALHOST,
            port,
            &[PCMU],
            20,
            &[format!("{} {SHA1_32} inline:{KEY_B}", ours.tag)],
        )
    });
    let relay_to_b = find_line(&s.offer_to_b, SHA1_32);
    let relay_to_b = keying(&relay_to_b.suite, &relay_to_b.key);
    let relay_to_a = only_line(&s.answer_to_a, "answer to A");
    assert_eq!(relay_to_a.suite, SHA1_80);
    assert_ne!(relay_to_a.key, KEY_A);
    if f.relay.kind() == RelayKind::MediaCore {
        let q = ng::query(&mut f.relay.client(), &s.call);
        let text = ng::show(&q);
        assert!(
            text.contains("re-encrypt") && text.contains(SHA1_32),
            "{text}"
        );
    }
    f.both_ways(
        "SRTP->SRTP",
        &s,
        Some(&a_key),
        Some(&relay_to_b),
        Some(&keying(SHA1_32, KEY_B)),
        Some(&relay_to_a),
    );
    // ffmpeg tags SRTCP of AES_CM_128_HMAC_SHA1_32 with 32 bits; RFC 4568
    // (and libsrtp, and rtpengine) use 80 bits for SRTCP in that suite,
    // so B's sender report and BYE fail authentication and are dropped.
    f.check_counts(&s, 2);
}
