//! One protect + one unprotect of a 172-byte RTP packet (12-byte header,
//! 160-byte payload) per suite, for sluice-srtp, libsrtp2 and rtc-srtp side
//! by side in one run; then a table of medians and ratios read back from
//! this run's criterion estimates.
//!
//! `cargo bench -p sluice-srtp-compare --bench srtp_compare`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criterion::Criterion;
use sluice_srtp::{SrtpContext, SrtpOptions, Suite};
use sluice_srtp_compare::libsrtp::{self, Direction, Libsrtp};
use sluice_srtp_compare::rtc::RtcSrtp;
use sluice_srtp_compare::{key_salt, write_rtp, BENCH_RTP_LEN, RTP_HEADER_LEN};

const SSRC: u32 = 0xcafe_babe;
const BUF: usize = 512;
const SLUICE: &str = "sluice-srtp";
const LIBSRTP: &str = "libsrtp2";
const RTC: &str = "rtc-srtp";

fn group_name(suite: Suite) -> String {
    format!("srtp_compare_{suite}")
}

/// The plain packet, and a copy of it with `seq` written in, into `buf`.
fn refill(buf: &mut [u8; BUF], plain: &[u8; BUF], seq: &mut u16) {
    buf[..BENCH_RTP_LEN].copy_from_slice(&plain[..BENCH_RTP_LEN]);
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    *seq = seq.wrapping_add(1);
}

fn bench_suite(c: &mut Criterion, suite: Suite) {
    let ks = key_salt(suite, 42);
    let mut plain = [0u8; BUF];
    let len = write_rtp(&mut plain, 0, SSRC, BENCH_RTP_LEN - RTP_HEADER_LEN);
    assert_eq!(len, BENCH_RTP_LEN);
    let mut group = c.benchmark_group(group_name(suite));

    let new_sluice = || {
        SrtpContext::from_key_salt(suite, &ks, SrtpOptions::default())
            .expect("sluice-srtp takes every suite it lists")
    };
    let (mut tx, mut rx) = (new_sluice(), new_sluice());
    let (mut buf, mut seq) = ([0u8; BUF], 0u16);
    group.bench_function(SLUICE, |b| {
        b.iter(|| {
            refill(&mut buf, &plain, &mut seq);
            let n = tx
                .protect_rtp(&mut buf, BENCH_RTP_LEN)
                .expect("sluice protect");
            black_box(rx.unprotect_rtp(&mut buf, n).expect("sluice unprotect"))
        });
    });

    match (
        Libsrtp::new(suite, &ks, Direction::Outbound),
        Libsrtp::new(suite, &ks, Direction::Inbound),
    ) {
        (Ok(mut tx), Ok(mut rx)) => {
            let (mut buf, mut seq) = ([0u8; BUF], 0u16);
            group.bench_function(LIBSRTP, |b| {
                b.iter(|| {
                    refill(&mut buf, &plain, &mut seq);
                    let n = tx
                        .protect_rtp(&mut buf, BENCH_RTP_LEN)
                        .expect("libsrtp protect");
                    black_box(rx.unprotect_rtp(&mut buf, n).expect("libsrtp unprotect"))
                });
            });
        }
        (Err(e), _) | (_, Err(e)) => eprintln!("libsrtp: {suite} not measured: {e}"),
    }

    match (RtcSrtp::new(suite, &ks), RtcSrtp::new(suite, &ks)) {
        (Ok(mut tx), Ok(mut rx)) => {
            let (mut buf, mut seq) = ([0u8; BUF], 0u16);
            group.bench_function(RTC, |b| {
                b.iter(|| {
                    refill(&mut buf, &plain, &mut seq);
                    let srtp = tx
                        .protect_rtp(&buf[..BENCH_RTP_LEN])
                        .expect("rtc-srtp protect");
                    black_box(rx.unprotect_rtp(&srtp).expect("rtc-srtp unprotect"))
                });
            });
        }
        (Err(e), _) | (_, Err(e)) => eprintln!("rtc-srtp: {suite} not measured: {e}"),
    }
    group.finish();
}

/// Where criterion writes its results, found the way criterion 0.5 finds
/// it: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, the target
/// directory `cargo metadata` reports, then `target/criterion`.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&target).join("criterion");
    }
    let from_metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let out = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .ok()?;
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(PathBuf::from(meta["target_directory"].as_str()?))
    });
    from_metadata.map_or_else(|| "target/criterion".into(), |t| t.join("criterion"))
}

/// The median (ns per protect + unprotect) criterion estimated for one
/// benchmark in this run; `None` when there is no estimate written since
/// `start` (not measured, filtered out, or `--test` mode).
fn median_ns(dir: &Path, suite: Suite, function: &str, start: SystemTime) -> Option<f64> {
    let path = dir
        .join(group_name(suite))
        .join(function)
        .join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= start;
    if !fresh {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn first_line_with(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn print_table(start: SystemTime) {
    let dir = criterion_dir();
    let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "n/a".to_owned(),
    };
    let rows: Vec<_> = Suite::ALL
        .into_iter()
        .map(|suite| {
            let ns = |f| median_ns(&dir, suite, f, start);
            (suite, ns(SLUICE), ns(LIBSRTP), ns(RTC))
        })
        .collect();
    if rows
        .iter()
        .all(|&(_, s, l, r)| s.is_none() && l.is_none() && r.is_none())
    {
        println!(
            "(no estimates from this run in {}: not a benchmark run?)",
            dir.display()
        );
        return;
    }
    println!();
    println!(
        "protect + unprotect, {BENCH_RTP_LEN}-byte RTP packet, criterion median in ns (this run)"
    );
    println!(
        "CPU: {}; kernel {}; {}; rtc-srtp 0.21 (ring)",
        first_line_with("/proc/cpuinfo", "model name"),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
        libsrtp::version(),
    );
    println!(
        "{:<24} {:>12} {:>10} {:>10} {:>15} {:>15}",
        "suite", SLUICE, LIBSRTP, RTC, "libsrtp/sluice", "rtc/sluice"
    );
    for (suite, s, l, r) in rows {
        println!(
            "{:<24} {:>12} {:>10} {:>10} {:>15} {:>15}",
            suite.name(),
            cell(s),
            cell(l),
            cell(r),
            ratio(l, s),
            ratio(r, s)
        );
    }
}

fn main() {
    let start = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for suite in Suite::ALL {
        bench_suite(&mut c, suite);
    }
    c.final_summary();
    print_table(start);
}
