#!/usr/bin/env bash
# Installs everything `make run` and `make test` need on a fresh Debian 12
# machine (run as root). Idempotent and fast when all is present: it only
# checks, and touches apt or rustup for what is actually missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: the real peers the interop tests run against, plus the
# C toolchain cargo links with.
PACKAGES=(
    rtpengine-daemon
    sip-tester
    kamailio
    ffmpeg
    sox
    tshark
    iproute2
    ethtool
    gcc
    libc6-dev
    libsrtp2-dev
    pkg-config
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
