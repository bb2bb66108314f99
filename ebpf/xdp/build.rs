//! Linker arguments the XDP object needs whatever `RUSTFLAGS` says (the
//! build command adds `-C link-arg=--btf` itself; bpf-linker rejects a
//! repeated flag, so it is not repeated here).

fn main() {
    // bpf-linker passes `--bpf-expand-memcpy-in-order` to LLVM by default,
    // which (LLVM 22) also stops small `memset`s from being expanded into
    // stores: they become calls to a byte loop in a separate function.
    // Without it LLVM expands both memcpy and memset inline.
    println!("cargo::rustc-link-arg-bins=--disable-expand-memcpy-in-order");
    println!("cargo::rerun-if-changed=build.rs");
}
