//! Builds `shim/libsrtp_shim.c` and links it against the system libsrtp2
//! (Debian `libsrtp2-dev`, found with pkg-config).

fn main() {
    println!("cargo:rerun-if-changed=shim/libsrtp_shim.c");
    let lib = pkg_config::Config::new()
        .atleast_version("2.0")
        .cargo_metadata(false)
        .probe("libsrtp2")
        .unwrap_or_else(|e| {
            panic!(
                "libsrtp2 not found via pkg-config ({e}); \
                 install libsrtp2-dev and pkg-config (scripts/setup.sh)"
            )
        });
    let mut build = cc::Build::new();
    build
        .file("shim/libsrtp_shim.c")
        .warnings(true)
        .extra_warnings(true);
    for dir in &lib.include_paths {
        build.include(dir);
    }
    build.compile("sluice_libsrtp_shim");
    // After the shim, so the linker sees the shim's references to libsrtp2
    // before the library itself.
    for dir in &lib.link_paths {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for name in &lib.libs {
        println!("cargo:rustc-link-lib={name}");
    }
}
