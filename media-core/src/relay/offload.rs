//! Which streams the XDP fast path may forward, decided without I/O.
//!
//! A stream qualifies when forwarding it changes nothing but addresses
//! and ports: RTP on an RTP socket, no SRTP transform on either side
//! (plain, or SRTP passed end to end), IPv4 local and remote addresses,
//! and a known source to accept (the latched address, or any source when
//! the leg is asymmetric and not strict). RTCP always stays in userspace.

use std::net::{SocketAddr, SocketAddrV4};

use sluice_ebpf_common::{FlowAction, FlowKey, FLOW_ANY_SOURCE};

use super::counters::Counter;
use super::table::{LatchPolicy, Role};

/// One stream as the program sees it: packets to `key` get `action`
/// (whose `counter` the installer fills in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSpec {
    /// The local address and port packets arrive at.
    pub key: FlowKey,
    /// Rewrite and source check.
    pub action: FlowAction,
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

fn v4(addr: Option<SocketAddr>) -> Option<SocketAddrV4> {
    match addr? {
        SocketAddr::V4(a) if !a.ip().is_unspecified() && a.port() != 0 => Some(a),
        _ => None,
    }
}

/// The flow the fast path should hold for packets arriving at `inbound`
/// and leaving through `outbound`, or `None` if they must stay in
/// userspace.
pub fn flow_for(inbound: &Inbound, outbound: &Outbound) -> Option<FlowSpec> {
    if inbound.role != Role::Rtp || !inbound.plain || !outbound.plain {
        return None;
    }
    let local_in = v4(inbound.local)?;
    let local_out = v4(outbound.local)?;
    let remote = v4(outbound.remote)?;
    let (expect, flags) = if inbound.latch.learn {
        // Until a genuine packet latches the source, userspace decides.
        (v4(inbound.latched)?, 0)
    } else if inbound.latch.strict_source {
        (v4(inbound.sdp_remote)?, 0)
    } else {
        (SocketAddrV4::new([0, 0, 0, 0].into(), 0), FLOW_ANY_SOURCE)
    };
    Some(FlowSpec {
        key: FlowKey::new(local_in.ip().octets(), local_in.port()),
        action: FlowAction {
            expect_addr: expect.ip().octets(),
            expect_port: expect.port().to_be_bytes(),
            flags,
            src_addr: local_out.ip().octets(),
            dst_addr: remote.ip().octets(),
            src_port: local_out.port().to_be_bytes(),
            dst_port: remote.port().to_be_bytes(),
            counter: 0,
        },
    })
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
        }
    }

    fn outbound() -> Outbound {
        Outbound {
            local: addr("10.0.1.1:30002"),
            remote: addr("10.0.1.2:5000"),
            plain: true,
        }
    }

    #[test]
    fn a_latched_plain_stream_is_offloaded_with_its_rewrite() {
        let spec = flow_for(&inbound(), &outbound()).unwrap();
        assert_eq!(spec.key, FlowKey::new([10, 0, 0, 1], 30000));
        let a = spec.action;
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
                "IPv6 remote",
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
    fn asymmetric_legs_accept_any_source_unless_strict() {
        let asymmetric = LatchPolicy {
            learn: false,
            ..LatchPolicy::default()
        };
        let spec = flow_for(
            &Inbound {
                latch: asymmetric,
                latched: None,
                ..inbound()
            },
            &outbound(),
        )
        .unwrap();
        assert_eq!(spec.action.flags, FLOW_ANY_SOURCE);
        let strict = LatchPolicy {
            learn: false,
            strict_source: true,
            ..LatchPolicy::default()
        };
        let spec = flow_for(
            &Inbound {
                latch: strict,
                latched: None,
                ..inbound()
            },
            &outbound(),
        )
        .unwrap();
        assert_eq!(spec.action.flags, 0);
        assert_eq!(spec.action.expect_port, 4000u16.to_be_bytes());
    }
}
