# The README's two commands: `make run` and `make test`.
# Both first make sure the machine has what they need (scripts/setup.sh).

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO ?= cargo
# media-core/build.rs builds and embeds the XDP program (ebpf/xdp). Here a
# missing eBPF toolchain or a failed XDP build fails the build instead of
# producing a daemon without its fast path (`setup` installs the toolchain).
# Set for every target, not only the tests: the build script reruns, and
# media-core recompiles, whenever SLUICE_XDP changes. Override with
# SLUICE_XDP=auto (build if possible) or SLUICE_XDP=off.
export SLUICE_XDP ?= require
# Extra arguments for media-core, e.g. `make run ARGS="--workers 2"`.
ARGS ?=

.PHONY: all run run-sip test setup fmt-check clippy test-only fuzz-smoke build xdp

all: test

setup:
	./scripts/setup.sh

# media-core with its embedded default config (NG on 127.0.0.1:2223).
run: setup
	$(CARGO) run --release -p media-core -- $(ARGS)

# sip-control with the example config (one trunk, one platform, one DID,
# media-core on 127.0.0.1:2223: start `make run` first).
run-sip: setup
	$(CARGO) run --release -p sip-control -- --config sip-control/sluice-sip.example.toml

# Release build for tests: the relay tests measure audio timing.
test: setup fmt-check clippy test-only fuzz-smoke

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-only:
	$(CARGO) test --workspace --release

# 20 s of each cargo-fuzz target (FUZZ_SECONDS to change).
fuzz-smoke:
	./scripts/fuzz-smoke.sh

build: setup
	$(CARGO) build --workspace --release

# The XDP object alone, as media-core/build.rs builds it (into target/bpf).
xdp: setup
	cd ebpf/xdp && RUSTFLAGS="-C debuginfo=2 -C link-arg=--btf" \
		cargo +nightly build --release --target bpfel-unknown-none -Z build-std=core \
		--target-dir ../../target/bpf
