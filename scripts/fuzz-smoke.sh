#!/usr/bin/env bash
# A short, bounded run of every cargo-fuzz target (NG requests, rtpp-flags,
# SDP, RTP/RTCP + relay verdict; sip-control's config file, digest
# Authorization header and the SIP header values it reads itself). Finds
# regressions in the parsers that read network bytes (and the config
# loader); the long runs are for a fuzzing box, not CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz or the $TOOLCHAIN toolchain is missing (scripts/setup.sh installs them)" >&2
    exit 1
fi

run() {
    local dir="$1" target="$2" log
    log="$(mktemp)"
    echo "fuzz-smoke: $dir $target for ${SECONDS_PER_TARGET}s" >&2
    if ! (cd "$dir" && cargo "+$TOOLCHAIN" fuzz run "$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048) >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz-smoke: $target found a crash (artifact under $dir/fuzz/artifacts/$target)" >&2
        rm -f "$log"
        exit 1
    fi
    grep -E "^Done [0-9]+ runs" "$log" >&2 || true
    rm -f "$log"
}

run media-core/ng ng_request
run media-core/ng ng_rtpp_flags
run media-core/sdp sdp_parse
run media-core/rtp rtp_packet
run sip-control config
run sip-control digest
run sip-control sip_values
echo "fuzz-smoke: all targets ran without a crash" >&2
