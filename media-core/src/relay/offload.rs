//! Which streams the XDP fast path may forward, decided without I/O.
//!
//! A stream qualifies when forwarding it changes nothing but addresses
//! and ports: RTP on an RTP socket, no SRTP transform on either side
//! (plain, or SRTP passed end to end), bound and known addresses of one
//! family on both sides (IPv4 or IPv6; a leg translated between them
//! changes the header size, which the program does not do), and a known
//! source to accept (the latched address, or any source when the leg is
//! asymmetric and not strict). RTCP always stays in userspace, and so do
//! the sender's telephone-events: the flow punts their payload type, so
//! the worker sees (reports, and may block) every DTMF event while the
//! audio stays in the kernel.

use std::net::{IpAddr, SocketAddr};

use sluice_ebpf_common::{
    flags_with_punt, FlowAction, FlowAction6, FlowKey, FlowKey6, FLOW_ANY_SOURCE,
};

use super::counters::Counter;
use super::table::{LatchPolicy, Role};

/// One stream as the program sees it: packets to `key` get `action`
/// (whose `counter` the installer fills in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowSpec {
    /// An IPv4 stream.
    V4 {
        /// The local address and port packets arrive at.
        key: FlowKey,
        /// Rewrite and source check.
        action: FlowAction,
    },
    /// An IPv6 stream.
    V6 {
        /// The local address and port packets arrive at.
        key: FlowKey6,
        /// Rewrite and source check.
        action: FlowAction6,
    },
}

impl FlowSpec {
    /// Whether both describe packets to the same local address and port
    /// (so one can replace the other in place).
    pub fn same_key(&self, other: &FlowSpec) -> bool {
        match (self, other) {
            (FlowSpec::V4 { key: a, .. }, FlowSpec::V4 { key: b, .. }) => a == b,
            (FlowSpec::V6 { key: a, .. }, FlowSpec::V6 { key: b, .. }) => a == b,
            _ => false,
        }
    }

    /// The same flow counting into slot `counter`.
    pub fn with_counter(mut self, counter: u32) -> Self {
        match &mut self {
            FlowSpec::V4 { action, .. } => action.counter = counter,
            FlowSpec::V6 { action, .. } => action.counter = counter,
        }
        self
    }
}

/// A stream the fast path is forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offload {
    /// What was installed.
    pub spec: FlowSpec,
    /// The counter slot it counts into.
    pub counter: u32,
    /// The slot's counts already added to the stream's own counters.
    pub seen: Counter,
}

/// The receiving socket's side of a stream.
#[derive(Debug, Clone, Copy)]
pub struct Inbound {
    /// The socket's local address.
    pub local: Option<SocketAddr>,
    /// What it carries.
    pub role: Role,
    /// Its latching rules.
    pub latch: LatchPolicy,
    /// The source it latched.
    pub latched: Option<SocketAddr>,
    /// The source the SDP names.
    pub sdp_remote: Option<SocketAddr>,
    /// No SRTP to remove.
    pub plain: bool,
    /// The sender's telephone-event payload type: its packets pass to
    /// userspace.
    pub dtmf_payload_type: Option<u8>,
}

/// The sending socket's side of a stream.
#[derive(Debug, Clone, Copy)]
pub struct Outbound {
    /// The socket's local address (the new source).
    pub local: Option<SocketAddr>,
    /// Where its packets go.
    pub remote: Option<SocketAddr>,
    /// No SRTP to add.
    pub plain: bool,
}

/// A concrete address (not the wildcard, not port 0), as its own family
/// (IPv4-mapped IPv6 counts as IPv4).
fn usable(addr: Option<SocketAddr>) -> Option<SocketAddr> {
    let addr = addr?;
    let ip = addr.ip().to_canonical();
    (!ip.is_unspecified() && addr.port() != 0).then_some(SocketAddr::new(ip, addr.port()))
}

/// The flow the fast path should hold for packets arriving at `inbound`
/// and leaving through `outbound`, or `None` if they must stay in
/// userspace.
pub fn flow_for(inbound: &Inbound, outbound: &Outbound) -> Option<FlowSpec> {
    if inbound.role != Role::Rtp || !inbound.plain || !outbound.plain {
        return None;
    }
    let local_in = usable(inbound.local)?;
    let local_out = usable(outbound.local)?;
    let remote = usable(outbound.remote)?;
    let (expect, flags) = if inbound.latch.learn {
        // Until a genuine packet latches the source, userspace decides.
        (usable(inbound.latched)?, 0)
    } else if inbound.latch.strict_source {
        (usable(inbound.sdp_remote)?, 0)
    } else {
        // Any source: the address only has to be of the right family.
        (
            SocketAddr::new(unspecified_like(local_in.ip()), 0),
            FLOW_ANY_SOURCE,
        )
    };
    let flags = match inbound.dtmf_payload_type {
        Some(pt) => flags_with_punt(flags, pt),
        None => flags,
    };
    let port = |a: SocketAddr| a.port().to_be_bytes();
    match (local_in.ip(), expect.ip(), local_out.ip(), remote.ip()) {
        (IpAddr::V4(local), IpAddr::V4(exp), IpAddr::V4(src), IpAddr::V4(dst)) => {
            Some(FlowSpec::V4 {
                key: FlowKey::new(local.octets(), local_in.port()),
                action: FlowAction {
                    expect_addr: exp.octets(),
                    expect_port: port(expect),
                    flags,
                    src_addr: src.octets(),
                    dst_addr: dst.octets(),
                    src_port: port(local_out),
                    dst_port: port(remote),
                    counter: 0,
                },
            })
        }
        (IpAddr::V6(local), IpAddr::V6(exp), IpAddr::V6(src), IpAddr::V6(dst)) => {
            Some(FlowSpec::V6 {
                key: FlowKey6::new(local.octets(), local_in.port()),
                action: FlowAction6 {
                    expect_addr: exp.octets(),
                    src_addr: src.octets(),
                    dst_addr: dst.octets(),
                    expect_port: port(expect),
                    src_port: port(local_out),
                    dst_port: port(remote),
                    flags,
                    counter: 0,
                },
            })
        }
        // The legs are of different families: userspace translates.
        _ => None,
    }
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    fn inbound() -> Inbound {
        Inbound {
            local: addr("10.0.0.1:30000"),
            role: Role::Rtp,
            latch: LatchPolicy::default(),
            latched: addr("10.0.0.2:4000"),
            sdp_remote: addr("10.0.0.2:4000"),
            plain: true,
            dtmf_payload_type: None,
        }
    }

    fn outbound() -> Outbound {
        Outbound {
            local: addr("10.0.1.1:30002"),
            remote: addr("10.0.1.2:5000"),
            plain: true,
        }
    }

    /// The IPv4 key and action of a flow.
    fn v4_flow(spec: Option<FlowSpec>) -> (FlowKey, FlowAction) {
        match spec {
            Some(FlowSpec::V4 { key, action }) => (key, action),
            other => panic!("expected an IPv4 flow, got {other:?}"),
        }
    }

    #[test]
    fn a_latched_plain_stream_is_offloaded_with_its_rewrite() {
        let (key, a) = v4_flow(flow_for(&inbound(), &outbound()));
        assert_eq!(key, FlowKey::new([10, 0, 0, 1], 30000));
        assert_eq!(
            (a.expect_addr, a.expect_port),
            ([10, 0, 0, 2], 4000u16.to_be_bytes())
        );
        assert_eq!(
            (a.src_addr, a.src_port),
            ([10, 0, 1, 1], 30002u16.to_be_bytes())
        );
        assert_eq!(
            (a.dst_addr, a.dst_port),
            ([10, 0, 1, 2], 5000u16.to_be_bytes())
        );
        assert_eq!(a.flags, 0);
    }

    #[test]
    fn streams_that_need_userspace_stay_there() {
        let cases: [(&str, Inbound, Outbound); 8] = [
            (
                "not latched yet",
                Inbound {
                    latched: None,
                    ..inbound()
                },
                outbound(),
            ),
            (
                "SRTP to remove",
                Inbound {
                    plain: false,
                    ..inbound()
                },
                outbound(),
            ),
            (
                "SRTP to add",
                inbound(),
                Outbound {
                    plain: false,
                    ..outbound()
                },
            ),
            (
                "RTCP socket",
                Inbound {
                    role: Role::Rtcp,
                    ..inbound()
                },
                outbound(),
            ),
            (
                "no destination",
                inbound(),
                Outbound {
                    remote: None,
                    ..outbound()
                },
            ),
            (
                "wildcard bind",
                Inbound {
                    local: addr("0.0.0.0:30000"),
                    ..inbound()
                },
                outbound(),
            ),
            (
                "IPv4 leg to an IPv6 leg",
                inbound(),
                Outbound {
                    remote: addr("[2001:db8::1]:5000"),
                    ..outbound()
                },
            ),
            (
                "zero-address hold",
                inbound(),
                Outbound {
                    remote: addr("0.0.0.0:5000"),
                    ..outbound()
                },
            ),
        ];
        for (what, i, o) in cases {
            assert_eq!(flow_for(&i, &o), None, "{what}");
        }
    }

    #[test]
    fn the_senders_telephone_events_are_punted_to_userspace() {
        use sluice_ebpf_common::{punt_payload_type, FLOW_PUNT_PAYLOAD_TYPE};
        let dtmf = Inbound {
            dtmf_payload_type: Some(101),
            ..inbound()
        };
        let (_, a) = v4_flow(flow_for(&dtmf, &outbound()));
        assert_eq!(a.flags, FLOW_PUNT_PAYLOAD_TYPE | (101 << 8));
        assert_eq!(punt_payload_type(a.flags), Some(101));
        // Everything else about the flow is as without DTMF.
        let (_, plain) = v4_flow(flow_for(&inbound(), &outbound()));
        assert_eq!(FlowAction { flags: 0, ..a }, plain);
        assert_eq!(punt_payload_type(plain.flags), None);

        // Any source and punting together.
        let (_, a) = v4_flow(flow_for(
            &Inbound {
                latch: LatchPolicy {
                    learn: false,
                    ..LatchPolicy::default()
                },
                latched: None,
                ..dtmf
            },
            &outbound(),
        ));
        assert_ne!(a.flags & FLOW_ANY_SOURCE, 0);
        assert_eq!(punt_payload_type(a.flags), Some(101));

        // IPv6 flows carry it too.
        let spec = flow_for(
            &Inbound {
                local: addr("[2001:db8::1]:30000"),
                latched: addr("[2001:db8::2]:4000"),
                dtmf_payload_type: Some(96),
                ..inbound()
            },
            &Outbound {
                local: addr("[2001:db8:1::1]:30002"),
                remote: addr("[2001:db8:1::2]:5000"),
                plain: true,
            },
        );
        let Some(FlowSpec::V6 { action, .. }) = spec else {
            panic!("expected an IPv6 flow, got {spec:?}");
        };
        assert_eq!(punt_payload_type(action.flags), Some(96));
    }

    #[test]
    fn asymmetric_legs_accept_any_source_unless_strict() {
        let asymmetric = LatchPolicy {
            learn: false,
            ..LatchPolicy::default()
        };
        let (_, action) = v4_flow(flow_for(
            &Inbound {
                latch: asymmetric,
                latched: None,
                ..inbound()
            },
            &outbound(),
        ));
        assert_eq!(action.flags, FLOW_ANY_SOURCE);
        let strict = LatchPolicy {
            learn: false,
            strict_source: true,
            ..LatchPolicy::default()
        };
        let (_, action) = v4_flow(flow_for(
            &Inbound {
                latch: strict,
                latched: None,
                ..inbound()
            },
            &outbound(),
        ));
        assert_eq!(action.flags, 0);
        assert_eq!(action.expect_port, 4000u16.to_be_bytes());
    }

    #[test]
    fn ipv6_streams_get_ipv6_flows_and_mapped_addresses_count_as_ipv4() {
        let v6 = |text: &str| addr(text);
        let spec = flow_for(
            &Inbound {
                local: v6("[2001:db8::1]:30000"),
                latched: v6("[2001:db8::2]:4000"),
                sdp_remote: v6("[2001:db8::2]:4000"),
                ..inbound()
            },
            &Outbound {
                local: v6("[2001:db8:1::1]:30002"),
                remote: v6("[2001:db8:1::2]:5000"),
                plain: true,
            },
        );
        let Some(FlowSpec::V6 { key, action }) = spec else {
            panic!("expected an IPv6 flow, got {spec:?}");
        };
        let ip = |t: &str| t.parse::<std::net::Ipv6Addr>().unwrap().octets();
        assert_eq!(key, FlowKey6::new(ip("2001:db8::1"), 30000));
        assert_eq!(action.expect_addr, ip("2001:db8::2"));
        assert_eq!(action.src_addr, ip("2001:db8:1::1"));
        assert_eq!(action.dst_addr, ip("2001:db8:1::2"));
        assert_eq!(action.dst_port, 5000u16.to_be_bytes());

        // A socket bound to an IPv4-mapped address is an IPv4 stream.
        let (key, _) = v4_flow(flow_for(
            &Inbound {
                local: v6("[::ffff:10.0.0.1]:30000"),
                ..inbound()
            },
            &outbound(),
        ));
        assert_eq!(key, FlowKey::new([10, 0, 0, 1], 30000));
        assert!(FlowSpec::V4 {
            key,
            action: FlowAction::default()
        }
        .same_key(&FlowSpec::V4 {
            key,
            action: FlowAction {
                counter: 9,
                ..FlowAction::default()
            },
        }));
    }

    mod table_tracking {
        //! The relay table's side: which sockets it marks for review, the
        //! flow it derives from live state, and how it folds counters.
        use std::time::{Duration, Instant};

        use super::super::super::crypto::{KeyParams, SocketCrypto, SrtpKey};
        use super::super::super::table::{
            CallSerial, MediaHandling, RelayTable, SlotRef, SocketConfig, SocketKey, Verdict,
        };
        use super::super::*;

        const A: SocketKey = SocketKey(1000);
        const B: SocketKey = SocketKey(1002);

        fn at(text: &str) -> SocketAddr {
            text.parse().unwrap()
        }

        fn config(remote: &str, out: SocketKey) -> SocketConfig {
            SocketConfig {
                call: CallSerial(1),
                role: Role::Rtp,
                sdp_remote: Some(at(remote)),
                rtp_out: Some(out),
                rtcp_out: Some(out),
                latch: LatchPolicy::default(),
                crypto: SocketCrypto::default(),
                media: MediaHandling::default(),
            }
        }

        /// Caller at 10.0.0.2:4000 on A (10.0.0.1:30000), callee at
        /// 10.0.1.2:5000 on B (10.0.1.1:30002).
        fn call() -> (RelayTable, SlotRef, SlotRef, Instant) {
            let now = Instant::now();
            let mut t = RelayTable::new();
            t.track_offloads();
            let a = t.insert(A, CallSerial(1), now);
            let b = t.insert(B, CallSerial(1), now);
            t.set_local(a, at("10.0.0.1:30000"));
            t.set_local(b, at("10.0.1.1:30002"));
            assert!(t.configure(A, config("10.0.0.2:4000", B)));
            assert!(t.configure(B, config("10.0.1.2:5000", A)));
            (t, a, b, now)
        }

        fn changes(t: &mut RelayTable) -> Vec<SlotRef> {
            let mut v = Vec::new();
            t.take_offload_changes(&mut v);
            v
        }

        fn feed(t: &mut RelayTable, slot: SlotRef, from: &str, now: Instant) -> Verdict {
            let mut buf = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
            buf.resize(12 + 160 + crate::relay::SRTP_TAILROOM, 0);
            t.handle_packet(slot, at(from), &mut buf, 172, false, now)
        }

        #[test]
        fn a_latch_marks_the_stream_and_its_peer_and_yields_the_flow() {
            let (mut t, a, b, now) = call();
            let _ = changes(&mut t);
            assert_eq!(t.desired_flow(a), None, "not latched yet");
            assert!(matches!(
                feed(&mut t, a, "10.0.0.2:4000", now),
                Verdict::Forward { .. }
            ));
            let marked = changes(&mut t);
            assert!(marked.contains(&a) && marked.contains(&b), "{marked:?}");
            let (key, action) = super::v4_flow(t.desired_flow(a));
            assert_eq!(key, FlowKey::new([10, 0, 0, 1], 30000));
            assert_eq!(action.expect_addr, [10, 0, 0, 2]);
            assert_eq!(
                action.dst_addr,
                [10, 0, 1, 2],
                "the callee's SDP address until it latches"
            );
            // A second packet from the same source changes nothing.
            let _ = feed(&mut t, a, "10.0.0.2:4000", now);
            assert!(changes(&mut t).is_empty());
            // The callee latches elsewhere (NAT): A's flow must follow.
            let _ = feed(&mut t, b, "10.0.1.2:5999", now);
            assert!(changes(&mut t).contains(&a));
            assert_eq!(
                super::v4_flow(t.desired_flow(a)).1.dst_port,
                5999u16.to_be_bytes()
            );
        }

        #[test]
        fn re_keying_a_leg_takes_its_streams_out_of_the_fast_path() {
            let (mut t, a, b, now) = call();
            let _ = feed(&mut t, a, "10.0.0.2:4000", now);
            assert!(t.desired_flow(a).is_some());
            let key = SrtpKey::new(
                sluice_srtp::Suite::AesCm128HmacSha1_80,
                &[7; 30],
                KeyParams::default(),
            )
            .unwrap();
            let mut srtp = config("10.0.1.2:5000", A);
            srtp.crypto = SocketCrypto {
                rx: Some(key),
                tx: Some(key),
            };
            assert!(t.configure(B, srtp));
            assert!(changes(&mut t).contains(&a));
            assert_eq!(t.desired_flow(a), None, "B now protects what A sends");
            // Removing B leaves A without a route.
            let _ = t.remove(B);
            assert!(changes(&mut t).contains(&a));
            assert_eq!(t.desired_flow(a), None);
            assert_eq!(t.desired_flow(b), None, "a stale handle has no flow");
        }

        #[test]
        fn dtmf_is_punted_not_a_reason_to_stay_in_userspace() {
            use sluice_ebpf_common::punt_payload_type;

            use super::super::super::counters::DropReason;

            let (mut t, a, _, now) = call();
            let _ = feed(&mut t, a, "10.0.0.2:4000", now);
            let _ = changes(&mut t);
            let (_, action) = super::v4_flow(t.desired_flow(a));
            assert_eq!(punt_payload_type(action.flags), None, "no DTMF negotiated");

            // Telephone-events negotiated: the re-INVITE re-installs the
            // flow with the punt bits.
            let mut dtmf = config("10.0.0.2:4000", B);
            dtmf.media = MediaHandling {
                dtmf_payload_type: Some(101),
                ..MediaHandling::default()
            };
            assert!(t.configure(A, dtmf));
            assert!(changes(&mut t).contains(&a));
            let _ = feed(&mut t, a, "10.0.0.2:4000", now);
            let with_dtmf = t.desired_flow(a);
            let (_, action) = super::v4_flow(with_dtmf);
            assert_eq!(punt_payload_type(action.flags), Some(101));

            // `block DTMF` keeps the stream offloaded, unchanged: the
            // events already come up to the worker, which drops them.
            dtmf.media.block_dtmf = true;
            assert!(t.configure(A, dtmf));
            assert!(changes(&mut t).contains(&a));
            assert_eq!(t.desired_flow(a), with_dtmf);
            // Digit 1, marker bit set.
            let mut event = vec![
                0x80,
                0x80 | 101,
                0,
                2,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                7,
                1,
                0x0a,
                0,
                160,
            ];
            let len = event.len();
            event.resize(len + crate::relay::SRTP_TAILROOM, 0);
            assert_eq!(
                t.handle_packet(a, at("10.0.0.2:4000"), &mut event, len, false, now),
                Verdict::Drop(DropReason::DtmfBlocked)
            );

            // Another payload type re-installs the flow with it.
            dtmf.media.dtmf_payload_type = Some(96);
            assert!(t.configure(A, dtmf));
            assert!(changes(&mut t).contains(&a));
            let (_, action) = super::v4_flow(t.desired_flow(a));
            assert_eq!(punt_payload_type(action.flags), Some(96));

            // Transcoding still keeps the stream in userspace.
            dtmf.media.transcode = Some(super::super::super::table::TranscodeRoute {
                media: 0,
                leg: 0,
                rtp: true,
            });
            assert!(t.configure(A, dtmf));
            assert_eq!(t.desired_flow(a), None);
        }

        #[test]
        fn kernel_counts_fold_into_the_stream_once_and_count_as_activity() {
            let (mut t, a, _, now) = call();
            let _ = feed(&mut t, a, "10.0.0.2:4000", now);
            let spec = t.desired_flow(a).unwrap();
            t.set_offload(
                a,
                Some(Offload {
                    spec,
                    counter: 3,
                    seen: Counter::default(),
                }),
            );
            let later = now + Duration::from_secs(30);
            t.count_offloaded(
                a,
                Counter {
                    packets: 10,
                    bytes: 1720,
                },
                later,
            );
            t.count_offloaded(
                a,
                Counter {
                    packets: 10,
                    bytes: 1720,
                },
                later + Duration::from_secs(5),
            );
            let (_, stats) = t.call_stats(CallSerial(1)).find(|(k, _)| *k == A).unwrap();
            assert_eq!(
                stats.rtp,
                Counter {
                    packets: 11,
                    bytes: 11 * 172
                }
            );
            assert_eq!(
                stats.xdp,
                Counter {
                    packets: 10,
                    bytes: 1720
                }
            );
            assert!(stats.xdp_active);
            assert_eq!(
                stats.last_packet,
                Some(later),
                "only new packets are activity"
            );
            assert_eq!(stats.first_packet, Some(now), "the first stays first");
            assert!(t.idle_calls(later - Duration::from_secs(1)).is_empty());
            assert_eq!(t.offloaded(Some(CallSerial(2)), None).len(), 0);
            assert_eq!(t.offloaded(None, None).len(), 1);
            assert_eq!(
                t.offloaded(None, Some(later)).len(),
                0,
                "active since: no need to read"
            );
            assert_eq!(
                t.offloaded(None, Some(later + Duration::from_secs(1)))
                    .len(),
                1
            );
        }
    }
}
