#!/usr/bin/env bash
# Installs everything `make run` and `make test` need on a fresh Debian 12
# machine (run as root). Idempotent and fast when all is present: it only
# checks, and touches apt or rustup for what is actually missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: the real peers the interop tests run against (and
# sipvicious, the scanners sip-control must teach nothing; openssl and
# python3, the certificate and TLS client of the SIP-over-TLS test; espeak-ng, the
# voice the DTMF talk-off test speaks with), the C toolchain cargo links
# with, cmake (opusic-sys builds its bundled libopus with it), and for the
# XDP program: the LLVM 22 that bpf-linker is built against (llvm-22-dev,
# from bookworm-security) and bpftool for inspecting loaded programs and
# maps.
PACKAGES=(
    rtpengine-daemon
    sip-tester
    sipvicious
    openssl
    python3
    kamailio
    ffmpeg
    sox
    espeak-ng
    tshark
    iproute2
    procps
    ethtool
    gcc
    libc6-dev
    cmake
    libsrtp2-dev
    pkg-config
    llvm-22-dev
    bpftool
)

installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "missing packages: ${missing[*]} (run this script as root to install them)"
        exit 1
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark's postinst asks whether non-root users may capture.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "Debian packages present"
fi

# Rust: the toolchain pinned in rust-toolchain.toml, with rustfmt and clippy.
if ! command -v rustup >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v rustup >/dev/null 2>&1; then
    log "rustup not found: install Rust via rustup first (https://rustup.rs)"
    exit 1
fi

toolchain="$(sed -n 's/^[[:space:]]*channel[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' rust-toolchain.toml)"
if [ -z "$toolchain" ]; then
    log "cannot read the toolchain channel from rust-toolchain.toml"
    exit 1
fi

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    log "installing Rust toolchain $toolchain"
    rustup toolchain install "$toolchain" --profile minimal --component rustfmt,clippy
fi

have_components="$(rustup component list --toolchain "$toolchain" --installed 2>/dev/null || true)"
want=()
for comp in rustfmt clippy; do
    grep -q "^${comp}" <<<"$have_components" || want+=("$comp")
done
if [ "${#want[@]}" -gt 0 ]; then
    log "adding rustup components: ${want[*]}"
    rustup component add --toolchain "$toolchain" "${want[@]}"
else
    log "Rust $toolchain with rustfmt and clippy present"
fi

# Fuzzing (a short bounded run in `make test`): the nightly toolchain the
# machine image carries, and cargo-fuzz from crates.io.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "installing the nightly toolchain for cargo-fuzz"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
else
    log "cargo-fuzz present"
fi

# The XDP program (ebpf/xdp, built by media-core/build.rs): the nightly
# toolchain with rust-src (for -Z build-std=core), and bpf-linker built
# against Debian's LLVM 22 (the default build of 0.13 wants LLVM 23, which
# Debian lacks, and fails at link time).
nightly_components="$(rustup component list --toolchain nightly --installed 2>/dev/null || true)"
if ! grep -q '^rust-src' <<<"$nightly_components"; then
    log "adding rust-src to the nightly toolchain (for the XDP program)"
    rustup component add rust-src --toolchain nightly
else
    log "nightly rust-src present"
fi
if ! command -v bpf-linker >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/bpf-linker" ]; then
    log "installing bpf-linker (built against LLVM 22; takes a few minutes)"
    if ! LLVM_PREFIX=/usr/lib/llvm-22 cargo install bpf-linker \
        --version 0.13.0 --no-default-features --features llvm-22 --locked; then
        log "bpf-linker with its lockfile failed; retrying with fresh dependencies"
        LLVM_PREFIX=/usr/lib/llvm-22 cargo install bpf-linker \
            --version 0.13.0 --no-default-features --features llvm-22
    fi
else
    log "bpf-linker present"
fi
