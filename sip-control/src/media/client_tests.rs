use std::time::{Duration, Instant};

use sluice_ng::frame::FrameError;
use sluice_ng::{reply, Dict, Value};

use super::*;
use crate::media::commands;
use crate::media::fake_ng::{relay_reply, FakeNg, Out};

const T: Duration = Duration::from_millis(400);

#[test]
fn sends_at_quarters_of_the_timeout() {
    let ms = Duration::from_millis;
    assert_eq!(send_times(ms(1000)), vec![ms(0), ms(250), ms(500), ms(750)]);
    assert_eq!(send_times(Duration::ZERO), vec![Duration::ZERO]);
}

#[test]
fn binds_by_the_servers_family() {
    let local = |s: &str| local_for(s.parse().unwrap()).to_string();
    assert_eq!(local("127.0.0.1:2223"), "127.0.0.1:0");
    assert_eq!(local("10.0.0.5:2223"), "0.0.0.0:0");
    assert_eq!(local("[::1]:2223"), "[::1]:0");
    assert_eq!(local("[2001:db8::1]:2223"), "[::]:0");
}

#[test]
fn sorts_replies_by_result() {
    assert!(interpret(reply::pong()).is_ok());
    let warned = interpret(reply::ok_with_warning("Call-ID not found")).unwrap();
    assert_eq!(
        warned.get("warning").and_then(Value::as_str),
        Some("Call-ID not found"),
        "warnings pass through"
    );
    match interpret(reply::error("Unknown call-id")) {
        Err(NgError::Error { reason }) => assert_eq!(reason, "Unknown call-id"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        interpret(Dict::new().with("result", "error")),
        Err(NgError::Error { reason }) if reason.is_empty()
    ));
    assert!(matches!(
        interpret(reply::load_limit()),
        Err(NgError::LoadLimit)
    ));
    assert!(matches!(
        interpret(Dict::new().with("sdp", "v=0")),
        Err(NgError::Malformed(MalformedReply::NoResult))
    ));
    assert!(matches!(
        interpret(Dict::new().with("result", 1i64)),
        Err(NgError::Malformed(MalformedReply::NoResult))
    ));
    assert!(matches!(
        interpret(Dict::new().with("result", "maybe")),
        Err(NgError::Malformed(MalformedReply::UnknownResult(r))) if r == "maybe"
    ));
}

#[tokio::test]
async fn answers_a_ping() {
    let server = FakeNg::relay().await;
    let client = NgClient::new(server.addr).unwrap();
    let reply = client.request(commands::ping(), T).await.unwrap();
    assert_eq!(reply.get("result").and_then(Value::as_str), Some("pong"));
    assert_eq!(client.stats(), ClientStats::default());
    assert_eq!(client.waiting(), 0);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].dict, commands::ping());
}

#[tokio::test]
async fn retransmits_the_same_cookie_when_the_first_datagram_is_lost() {
    let server = FakeNg::start(|i, req| match i {
        0 => vec![],
        _ => vec![Out::Reply(relay_reply(req))],
    })
    .await;
    let client = NgClient::new(server.addr).unwrap();
    let start = Instant::now();
    let reply = client.request(commands::query("c1"), T).await.unwrap();
    let took = start.elapsed();
    assert_eq!(reply.get("result").and_then(Value::as_str), Some("ok"));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "original and one retransmission");
    assert_eq!(seen[0].cookie, seen[1].cookie, "same cookie");
    assert_eq!(seen[0].dict, seen[1].dict, "same request");
    assert!(
        took >= T / 4,
        "resent after a quarter of the timeout: {took:?}"
    );
    assert!(took < T, "{took:?}");
    assert_eq!(client.stats().retransmits, 1);
    assert_eq!(client.waiting(), 0);
}

#[tokio::test]
async fn times_out_after_four_sends_and_forgets_the_request() {
    let server = FakeNg::start(|_, _| vec![]).await;
    let client = NgClient::new(server.addr).unwrap();
    let start = Instant::now();
    let err = client.request(commands::ping(), T).await.unwrap_err();
    let took = start.elapsed();
    match err {
        NgError::Timeout {
            server: s,
            after,
            tries,
        } => {
            assert_eq!(s, server.addr);
            assert_eq!(after, T);
            assert_eq!(tries, 4);
        }
        other => panic!("{other:?}"),
    }
    assert!(took >= T, "{took:?}");
    assert!(took < T * 2, "{took:?}");
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|s| s.cookie == seen[0].cookie));
    assert_eq!(client.waiting(), 0, "timed-out request unregistered");
    assert_eq!(client.stats().retransmits, 3);
}

#[tokio::test]
async fn ignores_garbage_and_stale_replies() {
    let server = FakeNg::start(|_, req| {
        vec![
            Out::Raw(b"no cookie here".to_vec()),
            Out::Raw(b"stranger_1 d6:result".to_vec()),
            Out::Raw(b"\xff\xfe d6:result2:oke".to_vec()),
            Out::Raw(b"stranger_2 d6:result2:oke".to_vec()),
            Out::Reply(relay_reply(req)),
        ]
    })
    .await;
    let client = NgClient::new(server.addr).unwrap();
    let reply = client.request(commands::ping(), T).await.unwrap();
    assert_eq!(reply.get("result").and_then(Value::as_str), Some("pong"));
    // The receiver handles datagrams in order, so all four came first.
    let stats = client.stats();
    assert_eq!(stats.garbage, 3, "{stats:?}");
    assert_eq!(stats.unmatched, 1, "{stats:?}");
    assert_eq!(stats.retransmits, 0);
}

#[tokio::test]
async fn a_duplicate_reply_is_unmatched() {
    let server = FakeNg::start(|_, req| {
        let r = Out::Reply(relay_reply(req));
        vec![r.clone(), r]
    })
    .await;
    let client = NgClient::new(server.addr).unwrap();
    client.request(commands::ping(), T).await.unwrap();
    client.request(commands::ping(), T).await.unwrap();
    // At least the first duplicate has been read by the second request's end.
    assert!(client.stats().unmatched >= 1, "{:?}", client.stats());
    assert_eq!(client.stats().garbage, 0);
}

#[tokio::test]
async fn error_and_load_limit_replies_are_errors() {
    let server = FakeNg::start(|_, req| {
        vec![Out::Reply(match req.command() {
            "offer" => reply::load_limit(),
            "answer" => reply::error("Unknown call-id"),
            _ => reply::ok_with_warning("Call-ID not found"),
        })]
    })
    .await;
    let client = NgClient::new(server.addr).unwrap();
    let offer = commands::offer(&commands::OfferParams::default());
    assert!(matches!(
        client.request(offer, T).await,
        Err(NgError::LoadLimit)
    ));
    let answer = commands::answer(&commands::AnswerParams::default());
    match client.request(answer, T).await {
        Err(NgError::Error { reason }) => assert_eq!(reason, "Unknown call-id"),
        other => panic!("{other:?}"),
    }
    let deleted = client
        .request(commands::delete("c", "t", None), T)
        .await
        .unwrap();
    assert_eq!(
        crate::media::replies::warning(&deleted),
        Some("Call-ID not found")
    );
}

#[tokio::test]
async fn a_malformed_reply_under_our_cookie_fails_at_once() {
    let server = FakeNg::start(|i, req| {
        let mut bytes = req.cookie.clone();
        bytes.extend_from_slice(if i == 0 { b" li1ee" } else { b" d3:sdp0:e" });
        vec![Out::Raw(bytes)]
    })
    .await;
    let client = NgClient::new(server.addr).unwrap();
    let start = Instant::now();
    assert!(matches!(
        client.request(commands::ping(), T).await,
        Err(NgError::Malformed(MalformedReply::Frame(
            FrameError::NotADict
        )))
    ));
    assert!(matches!(
        client.request(commands::ping(), T).await,
        Err(NgError::Malformed(MalformedReply::NoResult))
    ));
    assert!(start.elapsed() < T, "no waiting for the timeout");
    assert_eq!(server.seen().len(), 2);
    assert_eq!(client.stats().garbage, 1, "the undecodable body is counted");
}

#[tokio::test]
async fn concurrent_requests_get_their_own_replies() {
    let server = FakeNg::start(|_, req| {
        let id = req.dict.get("call-id").cloned().unwrap_or(Value::Int(-1));
        vec![Out::Reply(reply::ok().with("call-id", id))]
    })
    .await;
    let client = NgClient::new(server.addr).unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..32 {
        let c = client.clone();
        set.spawn(async move {
            let id = format!("call-{i}");
            let r = c.request(commands::query(&id), T).await.unwrap();
            assert_eq!(r.get("call-id").and_then(Value::as_str), Some(id.as_str()));
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let cookies: std::collections::HashSet<_> =
        server.seen().into_iter().map(|s| s.cookie).collect();
    assert_eq!(cookies.len(), 32, "a cookie per request");
    assert_eq!(client.stats().unmatched, 0);
}

#[test]
fn new_outside_a_runtime_is_an_error_not_a_panic() {
    let err = NgClient::new("127.0.0.1:9".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
}
