//! Behaviour of the public API: round trips for every suite, rollover,
//! reordering near a wrap, replay, tampering, truncation and garbage input.

use proptest::prelude::*;
use sluice_srtp::{Malformed, Misuse, SrtpContext, SrtpError, SrtpOptions, Suite, Unsupported};

const KEY: [u8; 32] = [0x11; 32];
const SALT: [u8; 14] = [0x22; 14];

fn ctx(suite: Suite, options: SrtpOptions) -> SrtpContext {
    ctx_keyed(suite, options, &KEY)
}

fn ctx_keyed(suite: Suite, options: SrtpOptions, key: &[u8]) -> SrtpContext {
    SrtpContext::new(
        suite,
        &key[..suite.key_len()],
        &SALT[..suite.salt_len()],
        options,
    )
    .expect("valid test configuration")
}

fn pair(suite: Suite) -> (SrtpContext, SrtpContext) {
    (
        ctx(suite, SrtpOptions::default()),
        ctx(suite, SrtpOptions::default()),
    )
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn rtcp(ssrc: u32, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x81, 0xc8, 0x00, 0x00];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; plain.len() + 64];
    buf[..plain.len()].copy_from_slice(plain);
    let n = tx.protect_rtp(&mut buf, plain.len()).expect("protect");
    buf.truncate(n);
    buf
}

fn unprotect(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    let n = rx.unprotect_rtp(&mut buf, wire.len())?;
    buf.truncate(n);
    Ok(buf)
}

fn protect_rtcp(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; plain.len() + 64];
    buf[..plain.len()].copy_from_slice(plain);
    let n = tx
        .protect_rtcp(&mut buf, plain.len())
        .expect("protect_rtcp");
    buf.truncate(n);
    buf
}

fn unprotect_rtcp(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = wire.to_vec();
    let n = rx.unprotect_rtcp(&mut buf, wire.len())?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn suite_names_round_trip() {
    for suite in Suite::ALL {
        assert_eq!(suite.to_string().parse::<Suite>(), Ok(suite));
        assert_eq!(suite.key_salt_len(), suite.key_len() + suite.salt_len());
    }
    assert_eq!(
        "AES_CM_128_HMAC_SHA1_80".parse::<Suite>(),
        Ok(Suite::AesCm128HmacSha1_80)
    );
    assert_eq!(
        "F8_128_HMAC_SHA1_80".parse::<Suite>(),
        Err(SrtpError::Unsupported(Unsupported::UnknownSuite))
    );
    assert_eq!(Suite::AeadAes256Gcm.key_salt_len(), 44);
    assert_eq!(Suite::AesCm128HmacSha1_32.rtp_tag_len(), 4);
    assert_eq!(Suite::AesCm128HmacSha1_32.rtcp_tag_len(), 10);
}

#[test]
fn configuration_errors() {
    let s = Suite::AesCm128HmacSha1_80;
    let o = SrtpOptions::default();
    assert_eq!(
        SrtpContext::new(s, &[0; 15], &[0; 14], o).map(|_| ()),
        Err(SrtpError::Misuse(Misuse::KeyLength {
            expected: 16,
            actual: 15
        }))
    );
    assert_eq!(
        SrtpContext::new(s, &[0; 16], &[0; 12], o).map(|_| ()),
        Err(SrtpError::Misuse(Misuse::SaltLength {
            expected: 14,
            actual: 12
        }))
    );
    assert_eq!(
        SrtpContext::new(s, &[0; 16], &[0; 14], o.with_mki_len(4)).map(|_| ()),
        Err(SrtpError::Unsupported(Unsupported::Mki))
    );
    assert_eq!(
        SrtpContext::new(
            Suite::AeadAes128Gcm,
            &[0; 16],
            &[0; 12],
            o.with_authenticate_rtp(false)
        )
        .map(|_| ()),
        Err(SrtpError::Unsupported(Unsupported::UnauthenticatedAead))
    );
    for w in [0, 1025] {
        assert_eq!(
            SrtpContext::new(s, &[0; 16], &[0; 14], o.with_replay_window(w)).map(|_| ()),
            Err(SrtpError::Misuse(Misuse::ReplayWindow))
        );
    }
}

#[test]
fn every_suite_and_session_parameter_round_trips() {
    let variants = [
        SrtpOptions::default(),
        SrtpOptions::default().with_encrypt_rtp(false),
        SrtpOptions::default().with_encrypt_rtcp(false),
        SrtpOptions::default().with_authenticate_rtp(false),
    ];
    for suite in Suite::ALL {
        for o in variants {
            if suite.is_aead() && !o.authenticate_rtp {
                continue;
            }
            let (mut tx, mut rx) = (ctx(suite, o), ctx(suite, o));
            let plain = rtp(7, 0xabcd, b"hello, carrier");
            let wire = protect(&mut tx, &plain);
            assert_eq!(wire.len(), plain.len() + tx.rtp_overhead());
            assert_eq!(
                wire[12..12 + 14] == plain[12..],
                !o.encrypt_rtp,
                "{suite} {o:?}: payload encryption"
            );
            assert_eq!(unprotect(&mut rx, &wire).expect("unprotect"), plain);

            let plain = rtcp(0xabcd, b"sender report body..");
            let wire = protect_rtcp(&mut tx, &plain);
            assert_eq!(wire.len(), plain.len() + suite.rtcp_overhead());
            assert_eq!(wire[8..28] == plain[8..], !o.encrypt_rtcp);
            assert_eq!(unprotect_rtcp(&mut rx, &wire).expect("rtcp"), plain);
        }
    }
}

#[test]
fn rollover_across_several_wraps() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        // 3.5 wraps in steps of 1000: each step is well inside the 2^15
        // estimation half-window, so both sides track the ROC.
        let mut seq: u16 = 60_000;
        for i in 0..230u32 {
            let plain = rtp(seq, 1, &i.to_be_bytes());
            let wire = protect(&mut tx, &plain);
            assert_eq!(unprotect(&mut rx, &wire), Ok(plain), "{suite} step {i}");
            seq = seq.wrapping_add(1000);
        }
        // A receiver that missed the wraps has ROC 0 and cannot
        // authenticate (the ROC is part of the tag / nonce).
        let (_, mut late) = pair(suite);
        let wire = protect(&mut tx, &rtp(seq, 1, b"x"));
        let first = unprotect(&mut late, &wire);
        assert_eq!(first, Err(SrtpError::AuthFailed), "{suite}");
    }
}

#[test]
fn reordering_near_the_wrap() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let seqs: Vec<u16> = (65_525..=65_535).chain(0..=10).collect();
        let wires: Vec<(u16, Vec<u8>)> = seqs
            .iter()
            .map(|&s| (s, protect(&mut tx, &rtp(s, 9, &s.to_be_bytes()))))
            .collect();
        // Delivery order: jumps across the wrap, then stragglers from the
        // old cycle, then back to the new cycle.
        let order = [
            0, 1, 11, 12, 2, 13, 10, 3, 20, 9, 14, 4, 8, 5, 21, 7, 6, 15, 16, 18, 17, 19,
        ];
        for &i in &order {
            let (s, wire) = &wires[i];
            assert_eq!(
                unprotect(&mut rx, wire),
                Ok(rtp(*s, 9, &s.to_be_bytes())),
                "{suite} seq {s}"
            );
        }
        for (s, wire) in &wires {
            assert_eq!(unprotect(&mut rx, wire), Err(SrtpError::Replay), "{s}");
        }
    }
}

#[test]
fn straggler_from_before_the_first_packet_is_refused() {
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
    let w65530 = protect(&mut tx, &rtp(65_530, 3, b"a"));
    let w65535 = protect(&mut tx, &rtp(65_535, 3, b"b"));
    let w0 = protect(&mut tx, &rtp(0, 3, b"c"));
    // The receiver's first packet is 65535 (ROC 0), then 0 (ROC 1).
    assert!(unprotect(&mut rx, &w65535).is_ok());
    assert!(unprotect(&mut rx, &w0).is_ok());
    // A receiver whose first packet is seq 5 sees 65530 as ROC -1.
    let (mut tx2, mut rx2) = pair(Suite::AesCm128HmacSha1_80);
    let w5 = protect(&mut tx2, &rtp(5, 3, b"d"));
    assert!(unprotect(&mut rx2, &w5).is_ok());
    assert_eq!(unprotect(&mut rx2, &w65530), Err(SrtpError::Replay));
}

#[test]
fn replay_and_window() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let wires: Vec<Vec<u8>> = (0..200u16)
            .map(|s| protect(&mut tx, &rtp(s, 5, b"p")))
            .collect();
        assert!(unprotect(&mut rx, &wires[0]).is_ok());
        assert_eq!(unprotect(&mut rx, &wires[0]), Err(SrtpError::Replay));
        assert!(unprotect(&mut rx, &wires[150]).is_ok());
        // 63 behind: inside the default window of 64.
        assert!(unprotect(&mut rx, &wires[87]).is_ok());
        // 64 behind: outside.
        assert_eq!(unprotect(&mut rx, &wires[86]), Err(SrtpError::Replay));

        let o = SrtpOptions::default().with_replay_window(1024);
        let (mut tx, mut rx) = (ctx(suite, o), ctx(suite, o));
        let wires: Vec<Vec<u8>> = (0..1100u16)
            .map(|s| protect(&mut tx, &rtp(s, 5, b"p")))
            .collect();
        assert!(unprotect(&mut rx, &wires[1099]).is_ok());
        assert!(unprotect(&mut rx, &wires[100]).is_ok());
        assert_eq!(unprotect(&mut rx, &wires[100]), Err(SrtpError::Replay));
        assert_eq!(unprotect(&mut rx, &wires[75]), Err(SrtpError::Replay));

        // SRTCP replay.
        let w = protect_rtcp(&mut tx, &rtcp(5, b"rr"));
        assert!(unprotect_rtcp(&mut rx, &w).is_ok());
        assert_eq!(unprotect_rtcp(&mut rx, &w), Err(SrtpError::Replay));
    }
}

#[test]
fn tampering_and_wrong_keys_fail_authentication() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let plain = rtp(100, 77, &[0x5a; 160]);
        let wire = protect(&mut tx, &plain);
        for pos in [1, 3, 8, 12, 50, wire.len() - 1] {
            let mut bad = wire.clone();
            bad[pos] ^= 0x01;
            assert_eq!(
                unprotect(&mut rx, &bad),
                Err(SrtpError::AuthFailed),
                "{suite} byte {pos}"
            );
        }
        let mut wrong = ctx_keyed(suite, SrtpOptions::default(), &[0x33; 32]);
        assert_eq!(unprotect(&mut wrong, &wire), Err(SrtpError::AuthFailed));
        // Failures did not disturb the stream.
        assert_eq!(unprotect(&mut rx, &wire), Ok(plain));

        let plain = rtcp(77, &[0x11; 40]);
        let wire = protect_rtcp(&mut tx, &plain);
        for pos in [0, 4, 9, wire.len() - 5, wire.len() - 1] {
            let mut bad = wire.clone();
            bad[pos] ^= 0x80;
            let got = unprotect_rtcp(&mut rx, &bad);
            assert!(
                matches!(got, Err(SrtpError::AuthFailed | SrtpError::Malformed(_))),
                "{suite} rtcp byte {pos}: {got:?}"
            );
        }
        assert_eq!(
            unprotect_rtcp(&mut wrong, &wire),
            Err(SrtpError::AuthFailed)
        );
        assert_eq!(unprotect_rtcp(&mut rx, &wire), Ok(plain));
    }
}

#[test]
fn truncated_and_malformed_packets() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let wire = protect(&mut tx, &rtp(1, 1, &[1; 20]));
        for cut in 0..wire.len() {
            let got = unprotect(&mut rx, &wire[..cut]);
            assert!(
                matches!(got, Err(SrtpError::Malformed(_) | SrtpError::AuthFailed)),
                "{suite} cut {cut}: {got:?}"
            );
        }
        assert_eq!(
            unprotect(&mut rx, &wire[..11]),
            Err(SrtpError::Malformed(Malformed::TooShort))
        );
        let wire_rtcp = protect_rtcp(&mut tx, &rtcp(1, &[2; 20]));
        for cut in 0..wire_rtcp.len() {
            let got = unprotect_rtcp(&mut rx, &wire_rtcp[..cut]);
            assert!(
                matches!(got, Err(SrtpError::Malformed(_) | SrtpError::AuthFailed)),
                "{suite} rtcp cut {cut}: {got:?}"
            );
        }

        // Version 1.
        let mut v1 = rtp(2, 1, &[0; 30]);
        v1[0] = 0x40;
        let mut buf = v1.clone();
        buf.resize(100, 0);
        assert_eq!(
            tx.protect_rtp(&mut buf, v1.len()),
            Err(SrtpError::Malformed(Malformed::BadVersion))
        );
        // Extension header longer than the packet.
        let mut ext = rtp(2, 1, &[0xbe, 0xde, 0x00, 0x40, 1, 2, 3, 4]);
        ext[0] |= 0x10;
        let mut buf = ext.clone();
        buf.resize(200, 0);
        assert_eq!(
            tx.protect_rtp(&mut buf, ext.len()),
            Err(SrtpError::Malformed(Malformed::HeaderOverrun))
        );
        // No tailroom.
        let plain = rtp(3, 1, &[0; 10]);
        let mut tight = plain.clone();
        assert_eq!(
            tx.protect_rtp(&mut tight, plain.len()),
            Err(SrtpError::Misuse(Misuse::BufferTooSmall))
        );
        assert_eq!(
            tx.protect_rtp(&mut tight, plain.len() + 1),
            Err(SrtpError::Misuse(Misuse::LenExceedsBuffer))
        );
    }
}

#[test]
fn csrcs_and_extensions_stay_in_clear_and_authenticated() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = pair(suite);
        let mut p = rtp(4, 2, &[]);
        p[0] = 0x92; // X bit, CC = 2
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // CSRCs
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00]);
        p.extend_from_slice(b"payload");
        let wire = protect(&mut tx, &p);
        assert_eq!(wire[..p.len() - 7], p[..p.len() - 7], "header in clear");
        assert_ne!(wire[p.len() - 7..p.len()], p[p.len() - 7..]);
        assert_eq!(unprotect(&mut rx, &wire), Ok(p));
    }
}

#[test]
fn ssrc_table_is_bounded() {
    let o = SrtpOptions::default().with_max_ssrcs(2);
    let s = Suite::AesCm128HmacSha1_80;
    let (mut tx, mut rx) = (ctx(s, o), ctx(s, o));
    for ssrc in [1, 2] {
        let w = protect(&mut tx, &rtp(1, ssrc, b"x"));
        assert!(unprotect(&mut rx, &w).is_ok());
    }
    let mut buf = rtp(1, 3, b"x");
    let len = buf.len();
    buf.resize(100, 0);
    assert_eq!(tx.protect_rtp(&mut buf, len), Err(SrtpError::TooManySsrcs));
    let mut other = ctx(s, SrtpOptions::default());
    let w = protect(&mut other, &rtp(1, 3, b"x"));
    assert_eq!(unprotect(&mut rx, &w), Err(SrtpError::TooManySsrcs));
}

fn suite_strategy() -> impl Strategy<Value = Suite> {
    prop::sample::select(Suite::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn protect_then_unprotect_is_identity(
        suite in suite_strategy(),
        seq in any::<u16>(),
        ssrc in any::<u32>(),
        csrcs in 0usize..4,
        payload in prop::collection::vec(any::<u8>(), 0..400),
        rtcp_body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let (mut tx, mut rx) = pair(suite);
        let mut p = rtp(seq, ssrc, &[]);
        p[0] |= csrcs as u8;
        p.extend(std::iter::repeat_n(0xcc, 4 * csrcs));
        p.extend_from_slice(&payload);
        let wire = protect(&mut tx, &p);
        prop_assert_eq!(unprotect(&mut rx, &wire), Ok(p));

        let c = rtcp(ssrc, &rtcp_body);
        let wire = protect_rtcp(&mut tx, &c);
        prop_assert_eq!(unprotect_rtcp(&mut rx, &wire), Ok(c));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        suite in suite_strategy(),
        mut bytes in prop::collection::vec(any::<u8>(), 0..300),
        force_v2 in any::<bool>(),
        extra in 0usize..40,
    ) {
        if force_v2 && !bytes.is_empty() {
            bytes[0] = (bytes[0] & 0x3f) | 0x80;
        }
        let len = bytes.len();
        let (mut tx, mut rx) = pair(suite);
        let mut buf = bytes.clone();
        prop_assert!(rx.unprotect_rtp(&mut buf, len).is_err());
        let mut buf = bytes.clone();
        prop_assert!(rx.unprotect_rtcp(&mut buf, len).is_err());
        let mut buf = bytes.clone();
        buf.resize(len + extra, 0);
        let _ = tx.protect_rtp(&mut buf, len);
        let mut buf = bytes.clone();
        buf.resize(len + extra, 0);
        let _ = tx.protect_rtcp(&mut buf, len);
    }
}
