//! sluice-srtp against `rtc-srtp` (webrtc-rs sans-IO line), every suite
//! rtc-srtp has, both directions: RTP across the 65535 -> 0 wrap, in order
//! and reordered, RTCP, and tampered packets that must be refused.

use sluice_srtp::{SrtpContext, SrtpError, SrtpOptions, Suite};
use sluice_srtp_compare::rtc::{self, RtcSrtp};
use sluice_srtp_compare::{key_salt, write_rtcp, write_rtp};

const BUF: usize = 512;
const SSRC: u32 = 0x5eed_0101;
const SSRC_REORDERED: u32 = 0x5eed_0102;
/// Twelve packets whose sequence numbers cross 65535 -> 0.
const SEQS: [u16; 12] = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5];
/// Delivery order (indexes into `SEQS`): 0 (ROC 1) before 65535 (ROC 0).
const REORDER: [usize; 12] = [0, 1, 3, 2, 4, 6, 5, 8, 7, 9, 11, 10];
const PAYLOADS: [usize; 6] = [160, 0, 1, 15, 17, 255];

fn sluice(suite: Suite, ks: &[u8]) -> SrtpContext {
    SrtpContext::from_key_salt(suite, ks, SrtpOptions::default())
        .unwrap_or_else(|e| panic!("sluice-srtp refuses {suite}: {e}"))
}

fn rtc(suite: Suite, ks: &[u8]) -> RtcSrtp {
    RtcSrtp::new(suite, ks).unwrap_or_else(|e| panic!("rtc-srtp refuses {suite}: {e}"))
}

/// The suites rtc-srtp has; any it lacks is reported loudly.
fn suites() -> Vec<Suite> {
    let mut ok = Vec::new();
    for suite in Suite::ALL {
        if rtc::profile(suite).is_none() {
            eprintln!("SKIPPED {suite}: rtc-srtp has no profile for it; NOT tested");
            continue;
        }
        match RtcSrtp::new(suite, &key_salt(suite, 0)) {
            Ok(_) => ok.push(suite),
            Err(e) => eprintln!("SKIPPED {suite}: rtc-srtp refuses it ({e}); NOT tested"),
        }
    }
    assert!(
        ok.contains(&Suite::AesCm128HmacSha1_80),
        "rtc-srtp lacks the default suite"
    );
    eprintln!("rtc-srtp interop suites: {ok:?}");
    ok
}

fn rtp_stream(ssrc: u32) -> Vec<Vec<u8>> {
    SEQS.iter()
        .zip(PAYLOADS.iter().cycle())
        .map(|(&seq, &payload)| {
            let mut buf = [0u8; BUF];
            let n = write_rtp(&mut buf, seq, ssrc, payload);
            buf[..n].to_vec()
        })
        .collect()
}

fn in_order() -> [usize; 12] {
    core::array::from_fn(|i| i)
}

#[test]
fn rtp_sluice_protects_rtc_unprotects() {
    for suite in suites() {
        let ks = key_salt(suite, 11);
        let mut tx = sluice(suite, &ks);
        let mut reference = rtc(suite, &ks);
        let mut rx = rtc(suite, &ks);
        for (ssrc, order) in [(SSRC, in_order()), (SSRC_REORDERED, REORDER)] {
            let plain = rtp_stream(ssrc);
            let mut wire = Vec::new();
            for (i, p) in plain.iter().enumerate() {
                let mut buf = [0u8; BUF];
                buf[..p.len()].copy_from_slice(p);
                let n = tx.protect_rtp(&mut buf, p.len()).expect("sluice protect");
                let theirs = reference.protect_rtp(p).expect("rtc-srtp protect");
                assert_eq!(
                    &buf[..n],
                    &theirs[..],
                    "{suite} SRTP bytes differ from rtc-srtp's at seq {}",
                    SEQS[i]
                );
                wire.push(buf[..n].to_vec());
            }
            for i in order {
                let got = rx.unprotect_rtp(&wire[i]).unwrap_or_else(|e| {
                    panic!("rtc-srtp rejects sluice's {suite} seq {}: {e}", SEQS[i])
                });
                assert_eq!(&got[..], &plain[i][..], "{suite} seq {}", SEQS[i]);
            }
        }
    }
}

#[test]
fn rtp_rtc_protects_sluice_unprotects() {
    for suite in suites() {
        let ks = key_salt(suite, 12);
        let mut tx = rtc(suite, &ks);
        let mut rx = sluice(suite, &ks);
        for (ssrc, order) in [(SSRC, in_order()), (SSRC_REORDERED, REORDER)] {
            let plain = rtp_stream(ssrc);
            let wire: Vec<Vec<u8>> = plain
                .iter()
                .map(|p| tx.protect_rtp(p).expect("rtc-srtp protect").to_vec())
                .collect();
            for i in order {
                let mut buf = [0u8; BUF];
                buf[..wire[i].len()].copy_from_slice(&wire[i]);
                let n = rx
                    .unprotect_rtp(&mut buf, wire[i].len())
                    .unwrap_or_else(|e| {
                        panic!("sluice rejects rtc-srtp's {suite} seq {}: {e}", SEQS[i])
                    });
                assert_eq!(&buf[..n], &plain[i][..], "{suite} seq {}", SEQS[i]);
            }
        }
    }
}

#[test]
fn rtcp_both_directions() {
    for suite in suites() {
        let ks = key_salt(suite, 13);
        let (mut s_tx, mut s_rx) = (sluice(suite, &ks), sluice(suite, &ks));
        let (mut r_tx, mut r_rx) = (rtc(suite, &ks), rtc(suite, &ks));
        for k in 0..5u32 {
            let mut plain = [0u8; BUF];
            let len = write_rtcp(&mut plain, SSRC, k);

            let mut buf = plain;
            let n = s_tx
                .protect_rtcp(&mut buf, len)
                .expect("sluice protect_rtcp");
            let got = r_rx
                .unprotect_rtcp(&buf[..n])
                .unwrap_or_else(|e| panic!("rtc-srtp rejects sluice's {suite} SRTCP #{k}: {e}"));
            assert_eq!(
                &got[..],
                &plain[..len],
                "{suite} SRTCP #{k} sluice -> rtc-srtp"
            );

            let wire = r_tx
                .protect_rtcp(&plain[..len])
                .expect("rtc-srtp protect_rtcp");
            assert_eq!(
                wire.len(),
                len + suite.rtcp_overhead(),
                "{suite} rtc-srtp SRTCP length"
            );
            let mut buf = [0u8; BUF];
            buf[..wire.len()].copy_from_slice(&wire);
            let n = s_rx
                .unprotect_rtcp(&mut buf, wire.len())
                .unwrap_or_else(|e| panic!("sluice rejects rtc-srtp's {suite} SRTCP #{k}: {e}"));
            assert_eq!(
                &buf[..n],
                &plain[..len],
                "{suite} SRTCP #{k} rtc-srtp -> sluice"
            );
        }
    }
}

fn flip_last(wire: &[u8]) -> Vec<u8> {
    let mut bad = wire.to_vec();
    if let Some(b) = bad.last_mut() {
        *b ^= 0x01;
    }
    bad
}

#[test]
fn tampered_packets_are_refused_both_ways() {
    for suite in suites() {
        let ks = key_salt(suite, 14);
        let mut plain = [0u8; BUF];
        let len = write_rtp(&mut plain, 65535, SSRC, 160);

        // rtc-srtp protects, sluice must refuse the forgery and accept the
        // original.
        let wire = rtc(suite, &ks)
            .protect_rtp(&plain[..len])
            .expect("rtc-srtp protect");
        let mut rx = sluice(suite, &ks);
        let mut buf = [0u8; BUF];
        buf[..wire.len()].copy_from_slice(&flip_last(&wire));
        assert_eq!(
            rx.unprotect_rtp(&mut buf, wire.len()),
            Err(SrtpError::AuthFailed),
            "{suite} tampered RTP"
        );
        buf[..wire.len()].copy_from_slice(&wire);
        assert_eq!(
            rx.unprotect_rtp(&mut buf, wire.len()),
            Ok(len),
            "{suite} original RTP"
        );

        // sluice protects, rtc-srtp must refuse the forgery.
        let mut buf = plain;
        let n = sluice(suite, &ks)
            .protect_rtp(&mut buf, len)
            .expect("sluice protect");
        let mut rx = rtc(suite, &ks);
        assert!(
            rx.unprotect_rtp(&flip_last(&buf[..n])).is_err(),
            "{suite} tampered RTP accepted by rtc-srtp"
        );
        assert!(
            rx.unprotect_rtp(&buf[..n]).is_ok(),
            "{suite} original RTP refused by rtc-srtp"
        );

        let len = write_rtcp(&mut plain, SSRC, 1);
        let wire = rtc(suite, &ks)
            .protect_rtcp(&plain[..len])
            .expect("rtc-srtp protect_rtcp");
        let mut rx = sluice(suite, &ks);
        let mut buf = [0u8; BUF];
        buf[..wire.len()].copy_from_slice(&flip_last(&wire));
        assert_eq!(
            rx.unprotect_rtcp(&mut buf, wire.len()),
            Err(SrtpError::AuthFailed),
            "{suite} tampered RTCP"
        );
    }
}
