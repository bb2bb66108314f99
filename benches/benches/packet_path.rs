//! Per-packet work of the relay, measured alone: RTP parsing and
//! classification, the relay table's verdict (session lookup, latching,
//! routing, counting) at small and large table sizes, and, for the
//! control path, one SDP offer rewrite through the engine.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use media_core::relay::{
    CallSerial, LatchPolicy, MediaHandling, RelayTable, Role, SlotRef, SocketConfig, SocketCrypto,
    SocketKey, SRTP_TAILROOM,
};
use sluice_rtp::{classify, RtpView};

fn packet() -> [u8; 172] {
    let mut p = [0xffu8; 172];
    p[..12].copy_from_slice(&[
        0x80, 0x00, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef,
    ]);
    p
}

fn parse(c: &mut Criterion) {
    let p = packet();
    let mut g = c.benchmark_group("rtp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("classify+parse 172B", |b| {
        b.iter(|| {
            let p = black_box(&p[..]);
            let kind = classify(p);
            let view = RtpView::parse(p).expect("valid packet");
            black_box((kind, view.ssrc(), view.seq(), view.payload().len()))
        })
    });
    g.finish();
}

/// A table of `calls` calls, two sockets each, latched; returns the
/// caller-facing slot of the middle call.
fn table(calls: u32) -> (RelayTable, SlotRef, SocketAddr) {
    let now = Instant::now();
    let mut t = RelayTable::new();
    let mut probe = None;
    for i in 0..calls {
        let a = SocketKey(2 * i);
        let b = SocketKey(2 * i + 1);
        let call = CallSerial(u64::from(i));
        let slot = t.insert(a, call, now);
        t.insert(b, call, now);
        let remote = |port: u32| {
            SocketAddr::from((
                [10, 0, (i >> 8) as u8, i as u8],
                (port % 60000) as u16 + 1024,
            ))
        };
        for (key, out, port) in [(a, b, 2 * i), (b, a, 2 * i + 1)] {
            t.configure(
                key,
                SocketConfig {
                    call,
                    role: Role::Rtp,
                    sdp_remote: Some(remote(port)),
                    rtp_out: Some(out),
                    rtcp_out: Some(out),
                    latch: LatchPolicy::default(),
                    crypto: SocketCrypto::default(),
                    media: MediaHandling::default(),
                },
            );
        }
        if i == calls / 2 {
            probe = Some((slot, remote(2 * i)));
        }
    }
    let (slot, source) = probe.expect("at least one call");
    (t, slot, source)
}

fn verdict(c: &mut Criterion) {
    let p = packet();
    let mut g = c.benchmark_group("relay verdict");
    g.throughput(Throughput::Elements(1));
    for calls in [1u32, 10_000] {
        let (mut t, slot, source) = table(calls);
        let now = Instant::now();
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{calls} calls")),
            &calls,
            |b, _| {
                let mut buf = p.to_vec();
                buf.resize(p.len() + SRTP_TAILROOM, 0);
                b.iter(|| {
                    black_box(t.handle_packet(
                        black_box(slot),
                        source,
                        black_box(&mut buf),
                        p.len(),
                        false,
                        now,
                    ))
                })
            },
        );
    }
    g.finish();
}

fn sdp_rewrite(c: &mut Criterion) {
    use sluice_sdp::SessionDescription;
    let offer = "v=0\r\no=- 1234 5678 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\nm=audio 10000 RTP/AVP 96 0 8 101\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";
    let ip = "127.0.0.1".parse().expect("literal");
    c.bench_function("sdp parse+rewrite+print (control path)", |b| {
        b.iter(|| {
            let mut sdp = SessionDescription::parse(black_box(offer)).expect("valid SDP");
            sdp.set_connection(ip);
            sdp.set_origin_address(ip);
            let m = &mut sdp.media_mut()[0];
            m.set_port(30000);
            m.set_rtcp(30001, None);
            m.remove_ice();
            black_box(sdp.to_sdp_string())
        })
    });
}

criterion_group!(benches, parse, verdict, sdp_rewrite);
criterion_main!(benches);
