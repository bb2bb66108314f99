//! A dependency-free SVG chart: p50/p99/p99.9 latency (log scale) against
//! calls (or offered pkt/s when the calls never change), one colour per relay
//! (and mode: SRTP series are named `RELAY srtp`, their suites in the title).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::report::PointResult;

const W: f64 = 900.0;
const H: f64 = 540.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];
const SERIES: [(&str, &str); 3] = [("p50", ""), ("p99", "6,4"), ("p99.9", "2,3")];

fn log_scale(v: f64, lo: f64, hi: f64, from: f64, to: f64) -> f64 {
    let t = (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln()).max(1e-9);
    from + t * (to - from)
}

fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                ticks.push(v);
            }
        }
        decade *= 10.0;
    }
    ticks
}

fn label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// A point's series: the relay, with ` srtp` for SRTP runs.
fn series(p: &PointResult) -> String {
    if p.mode.starts_with("srtp") {
        format!("{} srtp", p.relay)
    } else {
        p.relay.clone()
    }
}

/// Writes the chart of `points` to `path`.
pub fn write_svg(points: &[PointResult], path: &Path) -> Result<()> {
    if points.is_empty() {
        bail!("nothing to plot");
    }
    let mut calls: Vec<usize> = points.iter().map(|p| p.calls).collect();
    calls.sort_unstable();
    calls.dedup();
    let by_calls = calls.len() > 1;
    let x_of = |p: &PointResult| {
        if by_calls {
            p.calls as f64
        } else {
            p.offered_pps
        }
    };
    let x_name = if by_calls { "calls" } else { "offered pkt/s" };

    let mut relays: Vec<String> = Vec::new();
    let mut srtp_modes: Vec<&str> = Vec::new();
    for p in points {
        if !relays.contains(&series(p)) {
            relays.push(series(p));
        }
        if p.mode != "plain" && !srtp_modes.contains(&p.mode.as_str()) {
            srtp_modes.push(&p.mode);
        }
    }
    let subtitle = if srtp_modes.is_empty() {
        String::new()
    } else {
        // Mode labels may hold `<` and `>` (`transcode PCMU<->opus`).
        format!(" ({})", srtp_modes.join(", "))
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let xs: Vec<f64> = points.iter().map(x_of).collect();
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.latency.p50_us, p.latency.p99_us, p.latency.p999_us])
        .filter(|v| *v > 0.0)
        .collect();
    let fold = |v: &[f64], init: f64, f: fn(f64, f64) -> f64| v.iter().copied().fold(init, f);
    let (x_lo, x_hi) = (fold(&xs, f64::MAX, f64::min), fold(&xs, 0.0, f64::max));
    let (x_lo, x_hi) = if x_hi > x_lo {
        (x_lo, x_hi)
    } else {
        (x_lo * 0.5, x_hi * 2.0)
    };
    let y_lo = 10f64.powf(fold(&ys, f64::MAX, f64::min).max(1.0).log10().floor());
    let y_hi = 10f64
        .powf(fold(&ys, 1.0, f64::max).log10().ceil())
        .max(y_lo * 10.0);
    let (px0, px1, py0, py1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let sx = |x: f64| log_scale(x, x_lo, x_hi, px0, px1);
    let sy = |y: f64| log_scale(y, y_lo, y_hi, py0, py1);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">One-way latency through the relay vs {x_name}{subtitle}</text>"#,
        (px0 + px1) / 2.0
    );
    for t in nice_ticks(y_lo, y_hi) {
        let y = sy(t);
        let _ = writeln!(
            s,
            r##"<line x1="{px0}" x2="{px1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            px0 - 6.0,
            y + 4.0,
            label(t)
        );
    }
    let mut x_ticks: Vec<f64> = xs.clone();
    x_ticks.sort_by(f64::total_cmp);
    x_ticks.dedup();
    for t in x_ticks {
        let x = sx(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{py1}" y2="{py0}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            py0 + 18.0,
            label(t.round())
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{px0}" y="{py1}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        px1 - px0,
        py0 - py1
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{x_name} (log)</text>"#,
        (px0 + px1) / 2.0,
        H - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">latency, µs (log)</text>"#,
        (py0 + py1) / 2.0,
        (py0 + py1) / 2.0
    );

    let mut legend_y = TOP + 10.0;
    for (ri, relay) in relays.iter().enumerate() {
        let colour = COLOURS[ri % COLOURS.len()];
        let mut mine: Vec<&PointResult> = points.iter().filter(|p| series(p) == *relay).collect();
        mine.sort_by(|a, b| x_of(a).total_cmp(&x_of(b)));
        for (si, (name, dash)) in SERIES.iter().enumerate() {
            let pts: Vec<String> = mine
                .iter()
                .map(|p| {
                    let l = &p.latency;
                    let v = [l.p50_us, l.p99_us, l.p999_us][si];
                    format!("{:.1},{:.1}", sx(x_of(p)), sy(v))
                })
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                pts.join(" ")
            );
            for pt in &pts {
                let (x, y) = pt.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
            }
            let lx = px1 + 15.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" x2="{}" y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{relay} {name}</text>"#,
                lx + 30.0,
                lx + 36.0,
                legend_y + 4.0
            );
            legend_y += 18.0;
        }
        legend_y += 8.0;
    }
    let _ = writeln!(s, "</svg>");
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}
