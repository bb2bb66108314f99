//! The XDP object file, built by `media-core/build.rs` when the eBPF
//! toolchain is present (empty otherwise).

/// The program's ELF bytes, aligned as aya's parser needs them.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sluice-xdp.o"));

/// The embedded object, or `None` when this binary was built without it.
pub fn object() -> Option<&'static [u8]> {
    (!OBJECT.is_empty()).then_some(OBJECT)
}

/// What the build said about the object: `built`, or why not.
pub fn build_status() -> &'static str {
    env!("SLUICE_XDP_STATUS")
}
