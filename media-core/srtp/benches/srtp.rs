//! protect + unprotect of a 172-byte RTP packet (12-byte header, 160-byte
//! G.711 20 ms payload) per suite, side by side in one run; also SRTCP.
//!
//! `cargo bench -p sluice-srtp --bench srtp`
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_srtp::{SrtpContext, SrtpOptions, Suite};

const RTP_LEN: usize = 172;

fn context(suite: Suite) -> SrtpContext {
    let key = [0x42u8; 32];
    let salt = [0x24u8; 14];
    SrtpContext::new(
        suite,
        &key[..suite.key_len()],
        &salt[..suite.salt_len()],
        SrtpOptions::default(),
    )
    .expect("bench configuration is valid")
}

fn packet() -> [u8; RTP_LEN] {
    let mut p = [0xd5u8; RTP_LEN];
    p[..12].copy_from_slice(&[0x80, 0x00, 0, 0, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe]);
    p
}

fn bench(c: &mut Criterion) {
    let plain = packet();
    let mut group = c.benchmark_group("rtp_172B_protect+unprotect");
    group.throughput(Throughput::Elements(1));
    for suite in Suite::ALL {
        let (mut tx, mut rx) = (context(suite), context(suite));
        let mut buf = [0u8; 256];
        let mut seq: u16 = 0;
        group.bench_function(BenchmarkId::from_parameter(suite), |b| {
            b.iter(|| {
                buf[..RTP_LEN].copy_from_slice(&plain);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                seq = seq.wrapping_add(1);
                let n = tx
                    .protect_rtp(&mut buf, RTP_LEN)
                    .expect("protect cannot fail here");
                let n = rx
                    .unprotect_rtp(&mut buf, n)
                    .expect("unprotect of our own packet");
                std::hint::black_box(n)
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("rtp_172B_protect");
    group.throughput(Throughput::Elements(1));
    for suite in Suite::ALL {
        let mut tx = context(suite);
        let mut buf = [0u8; 256];
        let mut seq: u16 = 0;
        group.bench_function(BenchmarkId::from_parameter(suite), |b| {
            b.iter(|| {
                buf[..RTP_LEN].copy_from_slice(&plain);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                seq = seq.wrapping_add(1);
                std::hint::black_box(tx.protect_rtp(&mut buf, RTP_LEN))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
