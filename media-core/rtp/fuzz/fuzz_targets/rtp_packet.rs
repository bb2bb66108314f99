//! Any datagram through the RTP/RTCP views and the relay's verdict:
//! nothing may panic, and a forwarded packet must have parsed.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use media_core::relay::{CallSerial, LatchPolicy, RelayTable, Role, SocketConfig, SocketKey, Verdict};
use sluice_rtp::{classify, PacketKind, RtcpView, RtpView};

fuzz_target!(|data: &[u8]| {
    let kind = classify(data);
    if let Ok(v) = RtpView::parse(data) {
        let _ = (v.payload().len(), v.csrcs().count(), v.marker());
    }
    if let Ok(v) = RtcpView::parse(data) {
        let _ = v.sender_ssrc();
    }
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
            },
        );
    }
    if let Verdict::Forward { .. } = table.handle_packet(a, remote, data, false, now) {
        assert_ne!(kind, PacketKind::Unknown);
    }
});
