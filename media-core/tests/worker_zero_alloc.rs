//! A worker forwards real UDP both ways through io_uring, plain and with
//! SRTP re-encryption, and in steady state it does so without a single
//! heap allocation (counted by a global allocator that tallies
//! allocations made on worker threads).
#![allow(clippy::unwrap_used, reason = "a test fails loudly on any setup error")]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use media_core::relay::{
    CallSerial, KeyParams, LatchPolicy, MediaHandling, Role, SocketConfig, SocketCrypto, SocketKey,
    SrtpKey,
};
use media_core::worker::{Worker, WorkerCommand, WorkerEvent, WorkerTuning};
use sluice_srtp::{SrtpContext, SrtpOptions, Suite};

/// The counting allocator (the only unsafe code of this test).
#[allow(
    unsafe_code,
    reason = "a counting global allocator must implement GlobalAlloc"
)]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub struct CountingAlloc;

    pub static WORKER_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    thread_local! {
        static IS_WORKER: Cell<Option<bool>> = const { Cell::new(None) };
    }

    fn on_worker_thread() -> bool {
        IS_WORKER
            .try_with(|w| match w.get() {
                Some(v) => v,
                None => {
                    // Thread names are set before the thread runs any of our code.
                    let v = std::thread::current()
                        .name()
                        .is_some_and(|n| n.starts_with("mc-worker"));
                    w.set(Some(v));
                    v
                }
            })
            .unwrap_or(false)
    }

    // SAFETY: delegates every call to the system allocator unchanged.
    unsafe impl GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if on_worker_thread() {
                WORKER_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: same contract as ours.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as ours.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: CountingAlloc = CountingAlloc;
}

use counting::WORKER_ALLOCATIONS;

fn rtp(seq: u16) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p
}

fn bind() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

const KEY_CALLER: [u8; 30] = [1; 30];
const KEY_RELAY: [u8; 30] = [2; 30];
const SUITE: Suite = Suite::AesCm128HmacSha1_80;

fn srtp_key(material: &[u8]) -> SrtpKey {
    SrtpKey::new(SUITE, material, KeyParams::default()).unwrap()
}

fn context(material: &[u8]) -> SrtpContext {
    SrtpContext::from_key_salt(SUITE, material, SrtpOptions::default()).unwrap()
}

/// Plain forwarding, then SRTP: the caller speaks SRTP with its own key;
/// the relay decrypts for the plain callee and encrypts the callee's
/// media with a key of its own. One test, one worker at a time: the
/// allocation counter covers every worker thread.
#[test]
fn forwards_plain_and_reencrypts_srtp_without_allocating() {
    forwards_both_ways_without_allocating(false);
    forwards_both_ways_without_allocating(true);
}

fn forwards_both_ways_without_allocating(srtp: bool) {
    let events = Arc::new(ArrayQueue::new(64));
    let tuning = WorkerTuning {
        buffers: 256,
        ring_entries: 256,
        ..WorkerTuning::default()
    };
    let worker = Worker::spawn(
        0,
        None,
        tuning,
        Arc::clone(&events),
        std::thread::current(),
        None,
        None,
    )
    .expect("io_uring worker starts (kernel >= 6.0)");

    // Relay sockets facing the caller (a) and the callee (b).
    let relay_a = bind();
    let relay_b = bind();
    let (port_a, port_b) = (
        relay_a.local_addr().unwrap().port(),
        relay_b.local_addr().unwrap().port(),
    );
    let (key_a, key_b) = (SocketKey::new(0, port_a), SocketKey::new(0, port_b));
    let caller = bind();
    let callee = bind();
    let call = CallSerial(7);
    let now = Instant::now();
    for (key, socket) in [(key_a, relay_a), (key_b, relay_b)] {
        worker
            .send(WorkerCommand::Open {
                key,
                socket,
                call,
                now,
            })
            .unwrap();
    }
    let config = |remote: SocketAddr, out: SocketKey, crypto: SocketCrypto| SocketConfig {
        call,
        role: Role::Rtp,
        sdp_remote: Some(remote),
        rtp_out: Some(out),
        rtcp_out: Some(out),
        latch: LatchPolicy::default(),
        crypto,
        media: MediaHandling::default(),
    };
    let caller_crypto = if srtp {
        SocketCrypto {
            rx: Some(srtp_key(&KEY_CALLER)),
            tx: Some(srtp_key(&KEY_RELAY)),
        }
    } else {
        SocketCrypto::default()
    };
    worker
        .send(WorkerCommand::Configure {
            key: key_a,
            config: Box::new(config(caller.local_addr().unwrap(), key_b, caller_crypto)),
        })
        .unwrap();
    worker
        .send(WorkerCommand::Configure {
            key: key_b,
            config: Box::new(config(
                callee.local_addr().unwrap(),
                key_a,
                SocketCrypto::default(),
            )),
        })
        .unwrap();

    let to_a: SocketAddr = ([127, 0, 0, 1], port_a).into();
    let to_b: SocketAddr = ([127, 0, 0, 1], port_b).into();
    let mut buf = [0u8; 2048];
    let mut caller_tx = context(&KEY_CALLER);
    let mut caller_rx = context(&KEY_RELAY);
    let mut exchange = |seq: u16| {
        let mut out = [0u8; 256];
        out[..172].copy_from_slice(&rtp(seq));
        let len = if srtp {
            caller_tx.protect_rtp(&mut out, 172).unwrap()
        } else {
            172
        };
        caller.send_to(&out[..len], to_a).unwrap();
        let (n, from) = callee.recv_from(&mut buf).expect("callee receives");
        assert_eq!(n, 172);
        assert_eq!(buf[..172], rtp(seq), "callee gets the plain packet");
        assert_eq!(
            from, to_b,
            "symmetric RTP: sent from the callee-facing socket"
        );
        assert_eq!(
            u16::from_be_bytes([buf[2], buf[3]]),
            seq,
            "sequence untouched"
        );
        callee.send_to(&rtp(seq), to_b).unwrap();
        let (n, from) = caller.recv_from(&mut buf).expect("caller receives");
        assert_eq!(from, to_a);
        let n = if srtp {
            assert_eq!(n, 182, "SRTP tag added");
            caller_rx
                .unprotect_rtp(&mut buf, n)
                .expect("relay's key verifies")
        } else {
            n
        };
        assert_eq!(buf[..n], rtp(seq));
    };
    // Warm-up: latching, first-touch of buffers and send slots.
    for seq in 0..600 {
        exchange(seq);
    }
    let before = WORKER_ALLOCATIONS.load(Ordering::SeqCst);
    for seq in 600..5600 {
        exchange(seq);
    }
    let after = WORKER_ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "worker allocated while forwarding 10,000 packets"
    );

    // The counters saw every packet.
    worker
        .send(WorkerCommand::CallStats { call, request: 1 })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let stats = loop {
        if let Some(WorkerEvent::Stats { request: 1, stats }) = events.pop() {
            break stats;
        }
        assert!(Instant::now() < deadline, "no stats reply");
        std::thread::park_timeout(Duration::from_millis(10));
    };
    let total: u64 = stats.iter().map(|(_, s)| s.rtp.packets).sum();
    assert_eq!(total, 2 * 5600);
    worker.shutdown().unwrap();
}
