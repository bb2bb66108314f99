//! Any datagram through the RTP/RTCP views and the relay's verdict, plain
//! and with SRTP on the receiving socket: nothing may panic, a forwarded
//! packet must have parsed, and no unauthenticated SRTP is forwarded.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use media_core::relay::{
    CallSerial, KeyParams, LatchPolicy, MediaHandling, RelayTable, Role, SocketConfig, SocketCrypto, SocketKey,
    SrtpKey, Verdict, SRTP_TAILROOM,
};
use sluice_srtp::Suite;
use sluice_rtp::{classify, PacketKind, RtcpView, RtpView};

fuzz_target!(|data: &[u8]| {
    let kind = classify(data);
    if let Ok(v) = RtpView::parse(data) {
        let _ = (v.payload().len(), v.csrcs().count(), v.marker());
    }
    if let Ok(v) = RtcpView::parse(data) {
        let _ = v.sender_ssrc();
    }
    for suite in [None, Some(Suite::AesCm128HmacSha1_80), Some(Suite::AeadAes128Gcm)] {
        let crypto = suite.map(|suite| SocketCrypto {
            rx: Some(SrtpKey::new(suite, &[7u8; 30][..suite.key_salt_len()], KeyParams::default()).expect("valid key")),
            tx: Some(SrtpKey::new(suite, &[9u8; 30][..suite.key_salt_len()], KeyParams::default()).expect("valid key")),
        });
        let verdict = relay(data, crypto.unwrap_or_default());
        if let Verdict::Forward { len, .. } = verdict {
            assert_ne!(kind, PacketKind::Unknown);
            assert!(suite.is_none(), "a random packet authenticated");
            assert_eq!(len, data.len());
        }
    }
});

fn relay(data: &[u8], crypto: SocketCrypto) -> Verdict {
    let now = Instant::now();
    let mut table = RelayTable::new();
    let a = table.insert(SocketKey(1), CallSerial(1), now);
    table.insert(SocketKey(2), CallSerial(1), now);
    let remote: SocketAddr = ([127, 0, 0, 1], 4000).into();
    for (key, out) in [(SocketKey(1), SocketKey(2)), (SocketKey(2), SocketKey(1))] {
        table.configure(
            key,
            SocketConfig {
                call: CallSerial(1),
                role: Role::Rtp,
                sdp_remote: Some(remote),
                rtp_out: Some(out),
                rtcp_out: Some(out),
                latch: LatchPolicy::default(),
                crypto,
                // Telephone-events (PT 101) are parsed for digit reports,
                // or dropped when the first byte says "blocked".
                media: MediaHandling {
                    transcode: None,
                    dtmf_payload_type: Some(101),
                    block_dtmf: data.first().is_some_and(|b| b & 1 == 1),
                },
            },
        );
    }
    let mut buf = data.to_vec();
    buf.resize(data.len() + SRTP_TAILROOM, 0);
    table.handle_packet(a, remote, &mut buf, data.len(), false, now)
}
