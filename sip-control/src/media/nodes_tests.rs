use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_ng::reply;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::{MediaConfig, MediaNode};
use crate::media::fake_ng::{relay_reply, FakeNg, Out};

const TIMEOUT: Duration = Duration::from_millis(200);

fn config(addrs: &[SocketAddr], ping_interval: Duration) -> MediaConfig {
    MediaConfig {
        nodes: addrs
            .iter()
            .enumerate()
            .map(|(i, &address)| MediaNode {
                name: format!("node{i}"),
                address,
            })
            .collect(),
        timeout: TIMEOUT,
        ping_interval,
    }
}

fn nodes(addrs: &[SocketAddr]) -> Arc<MediaNodes> {
    MediaNodes::new(&config(addrs, Duration::from_secs(60))).unwrap()
}

fn offer_params() -> OfferParams {
    OfferParams {
        call_id: "call-1".into(),
        from_tag: "carrier".into(),
        sdp: b"v=0\r\n".to_vec(),
        ..Default::default()
    }
}

/// A port nothing listens on (bound, then closed).
async fn closed_port() -> SocketAddr {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.local_addr().unwrap()
}

fn ids(v: &[u16]) -> Vec<NodeId> {
    v.iter().map(|&i| NodeId(i)).collect()
}

#[test]
fn offer_order_starts_at_the_hash_among_up_nodes() {
    assert_eq!(offer_order(&[true, true, true], 0), ids(&[0, 1, 2]));
    assert_eq!(offer_order(&[true, true, true], 4), ids(&[1, 2, 0]));
    assert_eq!(offer_order(&[true, true, true], u64::MAX), ids(&[0, 1, 2]));
    // Node 1 down: the hash picks among 0 and 2; 1 comes last.
    assert_eq!(offer_order(&[true, false, true], 1), ids(&[2, 0, 1]));
    assert_eq!(offer_order(&[false, false, true], 7), ids(&[2, 1, 0]));
    assert_eq!(offer_order(&[false, false], 2), ids(&[0, 1]));
    assert!(offer_order(&[], 9).is_empty());
}

#[test]
fn call_hash_is_stable_fnv1a() {
    assert_eq!(call_hash(""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(call_hash("a"), 0xaf63_dc4c_8601_ec8c);
    assert_ne!(call_hash("call-1"), call_hash("call-2"));
}

#[tokio::test]
async fn offer_goes_to_the_hashed_node_and_the_call_stays_there() {
    let (a, b) = (FakeNg::relay().await, FakeNg::relay().await);
    let set = nodes(&[a.addr, b.addr]);
    let (node, reply) = set.offer(&offer_params(), 1).await.unwrap();
    assert_eq!(node, NodeId(1));
    assert_eq!(crate::media::reply_sdp(&reply).unwrap(), b"v=0\r\n");
    set.request_on(node, commands::query("call-1"))
        .await
        .unwrap();
    assert!(a.seen().is_empty());
    let at_b: Vec<String> = b.seen().iter().map(|s| s.command().to_owned()).collect();
    assert_eq!(at_b, ["offer", "query"]);
    assert_eq!(set.name(node), Some("node1"));
}

#[tokio::test]
async fn load_limit_moves_on_to_the_next_node() {
    let a = FakeNg::start(|_, _| vec![Out::Reply(reply::load_limit())]).await;
    let b = FakeNg::relay().await;
    let set = nodes(&[a.addr, b.addr]);
    let (node, _) = set.offer(&offer_params(), 0).await.unwrap();
    assert_eq!(node, NodeId(1));
    assert_eq!(a.seen_command("offer").len(), 1);
    assert_eq!(b.seen_command("offer").len(), 1);
    let snap = set.snapshot();
    assert!(snap[0].up, "a full node is still up");
    assert_eq!(snap[0].failures, 0);
}

#[tokio::test]
async fn a_silent_node_is_marked_down_and_skipped() {
    let a = FakeNg::start(|_, _| vec![]).await;
    let b = FakeNg::relay().await;
    let set = nodes(&[a.addr, b.addr]);
    let (node, _) = set.offer(&offer_params(), 0).await.unwrap();
    assert_eq!(node, NodeId(1));
    assert_eq!(a.seen_command("offer").len(), 4, "sent and retransmitted");
    let snap = set.snapshot();
    assert!(!snap[0].up);
    assert_eq!(snap[0].failures, 1);
    assert!(snap[1].up);
    // The next offer hashed to node 0 goes to the up node first.
    let (node, _) = set.offer(&offer_params(), 0).await.unwrap();
    assert_eq!(node, NodeId(1));
    assert_eq!(a.seen_command("offer").len(), 4, "down node not tried");
}

#[tokio::test]
async fn a_closed_port_is_marked_down_and_skipped() {
    let dead = closed_port().await;
    let b = FakeNg::relay().await;
    let set = nodes(&[dead, b.addr]);
    let (node, _) = set.offer(&offer_params(), 0).await.unwrap();
    assert_eq!(node, NodeId(1));
    let snap = set.snapshot();
    assert!(!snap[0].up);
    assert_eq!(snap[0].address, dead);
    assert_eq!(snap[0].name, "node0");
}

#[tokio::test]
async fn down_nodes_are_the_last_resort() {
    let a = FakeNg::relay().await;
    let set = nodes(&[a.addr]);
    set.nodes[0].health.mark_down();
    let (node, _) = set.offer(&offer_params(), 5).await.unwrap();
    assert_eq!(node, NodeId(0));
    assert!(set.snapshot()[0].up, "a reply marks it up again");
}

#[tokio::test]
async fn all_nodes_failing_reports_the_last_failure() {
    let a = FakeNg::start(|_, _| vec![Out::Reply(reply::load_limit())]).await;
    let dead = closed_port().await;
    let c = FakeNg::start(|_, _| vec![Out::Reply(reply::load_limit())]).await;
    let set = nodes(&[a.addr, dead, c.addr]);
    match set.offer(&offer_params(), 0).await {
        Err(MediaError::AllNodesFailed {
            tried: 3,
            last: NgError::LoadLimit,
        }) => {}
        other => panic!("{other:?}"),
    }
    let empty = nodes(&[]);
    assert!(matches!(
        empty.offer(&offer_params(), 0).await,
        Err(MediaError::NoNodes)
    ));
}

#[tokio::test]
async fn an_error_reply_is_not_failed_over() {
    let a = FakeNg::start(|_, _| vec![Out::Reply(reply::error("no usable codec"))]).await;
    let b = FakeNg::relay().await;
    let set = nodes(&[a.addr, b.addr]);
    match set.offer(&offer_params(), 0).await {
        Err(MediaError::Node {
            node,
            source: NgError::Error { reason },
        }) => {
            assert_eq!(node, NodeId(0));
            assert_eq!(reason, "no usable codec");
        }
        other => panic!("{other:?}"),
    }
    assert!(b.seen().is_empty());
    assert!(set.snapshot()[0].up);
}

#[tokio::test]
async fn a_foreign_node_id_is_an_error() {
    let set = nodes(&[]);
    assert!(matches!(
        set.request_on(NodeId(3), commands::ping()).await,
        Err(NgError::UnknownNode(NodeId(3)))
    ));
    assert_eq!(set.ping(NodeId(3)).await, None);
}

#[tokio::test]
async fn health_checks_take_a_node_out_and_bring_it_back() {
    let answering = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&answering);
    let a = FakeNg::start(move |_, req| {
        if flag.load(Ordering::Relaxed) {
            vec![Out::Reply(relay_reply(req))]
        } else {
            vec![]
        }
    })
    .await;
    let set = MediaNodes::new(&config(&[a.addr], Duration::from_millis(50))).unwrap();
    let cancel = CancellationToken::new();
    let task = set.spawn_health_checks(cancel.clone());

    let wait_for = |up: bool| {
        let set = Arc::clone(&set);
        async move {
            tokio::time::timeout(Duration::from_secs(5), async {
                while set.snapshot()[0].up != up {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("node never became up={up}: {:?}", set.snapshot()));
        }
    };
    wait_for(false).await;
    assert!(set.snapshot()[0].failures >= 1);
    assert_eq!(set.snapshot()[0].rtt, None);
    answering.store(true, Ordering::Relaxed);
    wait_for(true).await;
    let status = &set.snapshot()[0];
    let rtt = status.rtt.expect("a pong measures the round trip");
    assert!(rtt < TIMEOUT, "{rtt:?}");
    assert!(!a.seen_command("ping").is_empty());

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("health task ends when cancelled")
        .unwrap();
}
