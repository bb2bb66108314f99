//! sluice-srtp against the system libsrtp2, every suite both support, both
//! directions: RTP across the 65535 -> 0 wrap (so the rollover counter
//! matters), in order and reordered, RTCP, and tampered or replayed
//! packets that must be refused.

use sluice_srtp::{SrtpContext, SrtpError, SrtpOptions, Suite};
use sluice_srtp_compare::libsrtp::{self, Direction, Libsrtp, LibsrtpError};
use sluice_srtp_compare::{key_salt, write_rtcp, write_rtp};

const BUF: usize = 512;
const SSRC: u32 = 0x5eed_0001;
/// A second stream in the same contexts, delivered out of order.
const SSRC_REORDERED: u32 = 0x5eed_0002;
/// Twelve packets whose sequence numbers cross 65535 -> 0.
const SEQS: [u16; 12] = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5];
/// Delivery order (indexes into `SEQS`) with packets swapped across the
/// wrap: 0 (ROC 1) arrives before 65535 (ROC 0).
const REORDER: [usize; 12] = [0, 1, 3, 2, 4, 6, 5, 8, 7, 9, 11, 10];
/// Payload lengths cycled over the packets, odd ones included.
const PAYLOADS: [usize; 6] = [160, 0, 1, 15, 17, 255];

fn sluice(suite: Suite, ks: &[u8]) -> SrtpContext {
    SrtpContext::from_key_salt(suite, ks, SrtpOptions::default())
        .unwrap_or_else(|e| panic!("sluice-srtp refuses {suite}: {e}"))
}

fn lib(suite: Suite, ks: &[u8], dir: Direction) -> Libsrtp {
    Libsrtp::new(suite, ks, dir).unwrap_or_else(|e| panic!("libsrtp refuses {suite} {dir:?}: {e}"))
}

/// The suites this libsrtp build can run. AES-CM is in every libsrtp
/// build, so missing it fails; a missing GCM suite is reported loudly and
/// skipped.
fn suites() -> Vec<Suite> {
    let mut ok = Vec::new();
    for suite in Suite::ALL {
        match Libsrtp::new(suite, &key_salt(suite, 0), Direction::Inbound) {
            Ok(_) => ok.push(suite),
            Err(e) if suite.is_aead() => eprintln!(
                "SKIPPED {suite}: this libsrtp ({}) cannot create it: {e}; \
                 interop for {suite} is NOT tested",
                libsrtp::version()
            ),
            Err(e) => panic!("libsrtp ({}) refuses {suite}: {e}", libsrtp::version()),
        }
    }
    assert!(!ok.is_empty(), "no suite to test");
    eprintln!("{} interop suites: {ok:?}", libsrtp::version());
    ok
}

/// The plain RTP packets of one stream, in sequence order.
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

#[test]
fn rtp_sluice_protects_libsrtp_unprotects() {
    for suite in suites() {
        let ks = key_salt(suite, 1);
        let mut tx = sluice(suite, &ks);
        let mut reference = lib(suite, &ks, Direction::Outbound);
        let mut rx = lib(suite, &ks, Direction::Inbound);
        for (ssrc, order) in [(SSRC, None), (SSRC_REORDERED, Some(REORDER))] {
            let plain = rtp_stream(ssrc);
            let mut wire = Vec::new();
            for (i, p) in plain.iter().enumerate() {
                let mut buf = [0u8; BUF];
                buf[..p.len()].copy_from_slice(p);
                let n = tx.protect_rtp(&mut buf, p.len()).expect("sluice protect");
                assert_eq!(n, p.len() + suite.rtp_tag_len(), "{suite} length");
                // Same key, same index: libsrtp must produce the same bytes.
                let mut theirs = [0u8; BUF];
                theirs[..p.len()].copy_from_slice(p);
                let m = reference
                    .protect_rtp(&mut theirs, p.len())
                    .expect("libsrtp protect");
                assert_eq!(
                    &buf[..n],
                    &theirs[..m],
                    "{suite} SRTP bytes differ from libsrtp's at seq {}",
                    SEQS[i]
                );
                wire.push(buf[..n].to_vec());
            }
            let order = order.unwrap_or(core::array::from_fn(|i| i));
            for i in order {
                let mut buf = [0u8; BUF];
                buf[..wire[i].len()].copy_from_slice(&wire[i]);
                let n = rx
                    .unprotect_rtp(&mut buf, wire[i].len())
                    .unwrap_or_else(|e| {
                        panic!("libsrtp rejects sluice's {suite} seq {}: {e}", SEQS[i])
                    });
                assert_eq!(&buf[..n], &plain[i][..], "{suite} seq {}", SEQS[i]);
            }
        }
    }
}

#[test]
fn rtp_libsrtp_protects_sluice_unprotects() {
    for suite in suites() {
        let ks = key_salt(suite, 2);
        let mut tx = lib(suite, &ks, Direction::Outbound);
        let mut rx = sluice(suite, &ks);
        for (ssrc, order) in [(SSRC, None), (SSRC_REORDERED, Some(REORDER))] {
            let plain = rtp_stream(ssrc);
            let wire: Vec<Vec<u8>> = plain
                .iter()
                .map(|p| {
                    let mut buf = [0u8; BUF];
                    buf[..p.len()].copy_from_slice(p);
                    let n = tx.protect_rtp(&mut buf, p.len()).expect("libsrtp protect");
                    buf[..n].to_vec()
                })
                .collect();
            let order = order.unwrap_or(core::array::from_fn(|i| i));
            for i in order {
                let mut buf = [0u8; BUF];
                buf[..wire[i].len()].copy_from_slice(&wire[i]);
                let n = rx
                    .unprotect_rtp(&mut buf, wire[i].len())
                    .unwrap_or_else(|e| {
                        panic!("sluice rejects libsrtp's {suite} seq {}: {e}", SEQS[i])
                    });
                assert_eq!(&buf[..n], &plain[i][..], "{suite} seq {}", SEQS[i]);
            }
        }
    }
}

#[test]
fn rtcp_both_directions() {
    for suite in suites() {
        let ks = key_salt(suite, 3);
        let (mut s_tx, mut s_rx) = (sluice(suite, &ks), sluice(suite, &ks));
        let mut l_tx = lib(suite, &ks, Direction::Outbound);
        let mut l_rx = lib(suite, &ks, Direction::Inbound);
        for k in 0..5u32 {
            let mut plain = [0u8; BUF];
            let len = write_rtcp(&mut plain, SSRC, k);

            let mut buf = plain;
            let n = s_tx
                .protect_rtcp(&mut buf, len)
                .expect("sluice protect_rtcp");
            assert_eq!(n, len + suite.rtcp_overhead(), "{suite} SRTCP length");
            assert_ne!(&buf[8..len], &plain[8..len], "{suite} SRTCP not encrypted");
            let n = l_rx
                .unprotect_rtcp(&mut buf, n)
                .unwrap_or_else(|e| panic!("libsrtp rejects sluice's {suite} SRTCP #{k}: {e}"));
            assert_eq!(
                &buf[..n],
                &plain[..len],
                "{suite} SRTCP #{k} sluice -> libsrtp"
            );

            let mut buf = plain;
            let n = l_tx
                .protect_rtcp(&mut buf, len)
                .expect("libsrtp protect_rtcp");
            assert_eq!(
                n,
                len + suite.rtcp_overhead(),
                "{suite} libsrtp SRTCP length"
            );
            let n = s_rx
                .unprotect_rtcp(&mut buf, n)
                .unwrap_or_else(|e| panic!("sluice rejects libsrtp's {suite} SRTCP #{k}: {e}"));
            assert_eq!(
                &buf[..n],
                &plain[..len],
                "{suite} SRTCP #{k} libsrtp -> sluice"
            );
        }
    }
}

/// Flip one bit at `at` (negative: from the end) of a copy of `wire`.
fn flipped(wire: &[u8], at: isize) -> Vec<u8> {
    let mut bad = wire.to_vec();
    let i = if at < 0 {
        bad.len() - at.unsigned_abs()
    } else {
        at.unsigned_abs()
    };
    bad[i] ^= 0x01;
    bad
}

#[test]
fn sluice_refuses_tampered_and_replayed_libsrtp_packets() {
    for suite in suites() {
        let ks = key_salt(suite, 4);
        let mut tx = lib(suite, &ks, Direction::Outbound);
        let mut rx = sluice(suite, &ks);
        let mut buf = [0u8; BUF];

        let len = write_rtp(&mut buf, 65535, SSRC, 160);
        let n = tx.protect_rtp(&mut buf, len).expect("libsrtp protect");
        let wire = buf[..n].to_vec();
        // Last byte of the tag, and one payload byte.
        for bad in [flipped(&wire, -1), flipped(&wire, 20)] {
            let mut b = [0u8; BUF];
            b[..n].copy_from_slice(&bad);
            assert_eq!(
                rx.unprotect_rtp(&mut b, n),
                Err(SrtpError::AuthFailed),
                "{suite} tampered RTP"
            );
        }
        let mut b = [0u8; BUF];
        b[..n].copy_from_slice(&wire);
        assert_eq!(
            rx.unprotect_rtp(&mut b, n),
            Ok(len),
            "{suite} untampered RTP after the forgeries"
        );
        b[..n].copy_from_slice(&wire);
        assert_eq!(
            rx.unprotect_rtp(&mut b, n),
            Err(SrtpError::Replay),
            "{suite} replayed RTP"
        );

        let len = write_rtcp(&mut buf, SSRC, 1);
        let n = tx
            .protect_rtcp(&mut buf, len)
            .expect("libsrtp protect_rtcp");
        let wire = buf[..n].to_vec();
        for bad in [flipped(&wire, -1), flipped(&wire, 12)] {
            let mut b = [0u8; BUF];
            b[..n].copy_from_slice(&bad);
            assert_eq!(
                rx.unprotect_rtcp(&mut b, n),
                Err(SrtpError::AuthFailed),
                "{suite} tampered RTCP"
            );
        }
        b[..n].copy_from_slice(&wire);
        assert_eq!(
            rx.unprotect_rtcp(&mut b, n),
            Ok(len),
            "{suite} untampered RTCP after the forgeries"
        );
    }
}

#[test]
fn libsrtp_refuses_tampered_sluice_packets() {
    for suite in suites() {
        let ks = key_salt(suite, 5);
        let mut tx = sluice(suite, &ks);
        let mut rx = lib(suite, &ks, Direction::Inbound);
        let mut buf = [0u8; BUF];

        let len = write_rtp(&mut buf, 7, SSRC, 160);
        let n = tx.protect_rtp(&mut buf, len).expect("sluice protect");
        let wire = buf[..n].to_vec();
        for bad in [flipped(&wire, -1), flipped(&wire, 20)] {
            let mut b = [0u8; BUF];
            b[..n].copy_from_slice(&bad);
            assert_eq!(
                rx.unprotect_rtp(&mut b, n),
                Err(LibsrtpError::AUTH_FAIL),
                "{suite} tampered RTP"
            );
        }
        let mut b = [0u8; BUF];
        b[..n].copy_from_slice(&wire);
        assert_eq!(
            rx.unprotect_rtp(&mut b, n),
            Ok(len),
            "{suite} untampered RTP after the forgeries"
        );

        let len = write_rtcp(&mut buf, SSRC, 1);
        let n = tx.protect_rtcp(&mut buf, len).expect("sluice protect_rtcp");
        let bad = flipped(&buf[..n], -1);
        b[..n].copy_from_slice(&bad);
        assert_eq!(
            rx.unprotect_rtcp(&mut b, n),
            Err(LibsrtpError::AUTH_FAIL),
            "{suite} tampered RTCP"
        );
    }
}

#[test]
fn shim_guards_tailroom_and_direction() {
    let suite = Suite::AesCm128HmacSha1_80;
    let ks = key_salt(suite, 6);
    let mut tx = lib(suite, &ks, Direction::Outbound);
    let mut small = [0u8; 40];
    let len = write_rtp(&mut small, 1, SSRC, 20);
    assert!(
        tx.protect_rtp(&mut small, len).is_err(),
        "protect without libsrtp's tailroom"
    );
    let mut big = vec![0u8; len + libsrtp::trailer_room()];
    big[..len].copy_from_slice(&small[..len]);
    assert!(tx.protect_rtp(&mut big, len).is_ok());
    assert!(
        tx.unprotect_rtp(&mut big, len).is_err(),
        "unprotect on an outbound session"
    );
}
