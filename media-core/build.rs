//! Builds the XDP program (`ebpf/xdp`, its own workspace) with the nightly
//! toolchain and bpf-linker, and leaves the object where
//! `src/xdp/object.rs` embeds it.
//!
//! The contract with the loader: `$OUT_DIR/sluice-xdp.o` always exists
//! (empty when the program was not built), and `SLUICE_XDP_STATUS` says
//! `built` or, in one line, why not.
//!
//! `SLUICE_XDP` chooses: `off` skips the program; `require` fails the build
//! when it cannot be built (CI: no silent skipping); unset or `auto` builds
//! it when the toolchain is there and otherwise warns once and goes on
//! without (the daemon then runs its complete userspace path).

use std::{
    env,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{self, Command},
};

/// The flags platform.md gives for the XDP object: debug info, and BTF
/// from bpf-linker (aya needs it for the map definitions' types).
const RUSTFLAGS: [&str; 4] = ["-C", "debuginfo=2", "-C", "link-arg=--btf"];

const SETUP_HINT: &str = "run scripts/setup.sh";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Auto,
    Require,
}

/// Where the tools are: rustup (to run the nightly cargo) and bpf-linker.
struct Toolchain {
    rustup: PathBuf,
    bpf_linker: PathBuf,
}

fn main() {
    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"));
    let manifest_dir = PathBuf::from(
        env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts"),
    );
    let root = manifest_dir
        .parent()
        .expect("media-core sits directly under the workspace root")
        .to_path_buf();

    println!("cargo::rerun-if-env-changed=SLUICE_XDP");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");
    for path in [
        "ebpf/xdp/src",
        "ebpf/xdp/Cargo.toml",
        "ebpf/xdp/Cargo.lock",
        "ebpf/xdp/build.rs",
        "ebpf/common/src",
        "ebpf/common/Cargo.toml",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(path).display());
    }

    let mode = match env::var("SLUICE_XDP").as_deref() {
        Err(_) | Ok("" | "auto") => Mode::Auto,
        Ok("off") => Mode::Off,
        Ok("require") => Mode::Require,
        Ok(other) => fail(&format!(
            "SLUICE_XDP={other}: expected off, auto or require"
        )),
    };

    let result = match mode {
        Mode::Off => Err(Failure::short("disabled at build time (SLUICE_XDP=off)")),
        Mode::Auto | Mode::Require => find_toolchain().and_then(|tools| build(&tools, &root)),
    };

    let object_path = out_dir.join("sluice-xdp.o");
    match result {
        Ok(object) => {
            write(&object_path, &object);
            println!("cargo::rustc-env=SLUICE_XDP_STATUS=built");
        }
        Err(failure) => {
            if mode == Mode::Require {
                fail(&format!(
                    "SLUICE_XDP=require, but the XDP program was {}{}",
                    failure.reason, failure.detail
                ));
            }
            write(&object_path, &[]);
            println!("cargo::rustc-env=SLUICE_XDP_STATUS={}", failure.reason);
            if mode == Mode::Auto {
                println!(
                    "cargo::warning=XDP fast path {} (SLUICE_XDP=off silences this, SLUICE_XDP=require makes it an error)",
                    failure.reason
                );
                for line in failure.detail.lines().filter(|l| !l.trim().is_empty()) {
                    println!("cargo::warning=  {line}");
                }
            }
        }
    }
}

/// Why the object was not built: a one-line reason (the status the binary
/// reports) and, for a failed build, the tail of its output.
struct Failure {
    reason: String,
    detail: String,
}

impl Failure {
    fn short(reason: &str) -> Self {
        Self {
            reason: reason.to_owned(),
            detail: String::new(),
        }
    }
}

fn find_toolchain() -> Result<Toolchain, Failure> {
    let home_bin = home_cargo_bin();
    let bpf_linker = find_executable("bpf-linker", home_bin.as_deref()).ok_or_else(|| {
        // Installing it later (into ~/.cargo/bin) should make the next
        // build try again.
        if let Some(dir) = &home_bin {
            println!("cargo::rerun-if-changed={}", dir.display());
        }
        Failure::short(&format!(
            "not built: bpf-linker not found on PATH or in ~/.cargo/bin ({SETUP_HINT})"
        ))
    })?;
    println!("cargo::rerun-if-changed={}", bpf_linker.display());

    let rustup = find_executable("rustup", home_bin.as_deref())
        .ok_or_else(|| Failure::short(&format!("not built: rustup not found ({SETUP_HINT})")))?;

    let sysroot = nightly(&rustup)
        .args(["rustc", "--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| PathBuf::from(s.trim()))
        .ok_or_else(|| {
            Failure::short(&format!(
                "not built: no nightly Rust toolchain (rustup run nightly rustc failed; {SETUP_HINT})"
            ))
        })?;
    let core_src = sysroot.join("lib/rustlib/src/rust/library/core/Cargo.toml");
    if !core_src.is_file() {
        return Err(Failure::short(&format!(
            "not built: rust-src is not installed for the nightly toolchain ({SETUP_HINT})"
        )));
    }

    Ok(Toolchain { rustup, bpf_linker })
}

/// Runs the nested nightly build and returns the object's bytes.
fn build(tools: &Toolchain, root: &Path) -> Result<Vec<u8>, Failure> {
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("bpf");
    let manifest = root.join("ebpf/xdp/Cargo.toml");

    let mut cmd = nightly(&tools.rustup);
    cmd.arg("cargo")
        .args([
            "build",
            "--release",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(root.join("ebpf/xdp"));
    scrub_env(&mut cmd);
    cmd.env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS.join("\x1f"))
        .env("PATH", search_path(tools));

    let output = cmd.output().map_err(|e| Failure {
        reason: "not built: could not run the nightly cargo".to_owned(),
        detail: format!(": {e}"),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        return Err(Failure {
            reason: format!("not built: the nightly build of ebpf/xdp failed ({})", output.status),
            detail: format!(
                "\n--- tail of `rustup run nightly cargo build --release --target bpfel-unknown-none -Z build-std=core --manifest-path {}` ---\n{tail}",
                manifest.display()
            ),
        });
    }

    let built = target_dir.join("bpfel-unknown-none/release/sluice-xdp");
    let object = fs::read(&built).map_err(|e| Failure {
        reason: "not built: the nightly build left no object".to_owned(),
        detail: format!(": {}: {e}", built.display()),
    })?;
    if object.is_empty() {
        return Err(Failure::short(
            "not built: the nightly build left an empty object",
        ));
    }
    Ok(object)
}

/// `rustup run nightly ...`.
fn nightly(rustup: &Path) -> Command {
    let mut cmd = Command::new(rustup);
    cmd.args(["run", "nightly"]).env_remove("RUSTUP_TOOLCHAIN");
    cmd
}

/// Removes what the outer cargo (and tools like cargo-fuzz, with their
/// sanitizer flags) set for this build script, so none of it leaks into a
/// build for another target with another toolchain.
fn scrub_env(cmd: &mut Command) {
    const EXACT: &[&str] = &[
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "RUSTDOC",
        "RUSTDOCFLAGS",
        "RUSTUP_TOOLCHAIN",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_TARGET_DIR",
        "CARGO",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_PRIMARY_",
        "CARGO_PROFILE_",
        "CARGO_TARGET_",
        "CARGO_ENCODED_",
        "DEP_",
    ];
    for (key, _) in env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        if EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

/// PATH for the nested build: bpf-linker's and rustup's directories
/// first (rustc finds the linker by name), then the inherited PATH.
fn search_path(tools: &Toolchain) -> OsString {
    let mut dirs: Vec<PathBuf> = [&tools.bpf_linker, &tools.rustup]
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    if let Some(path) = env::var_os("PATH") {
        dirs.extend(env::split_paths(&path));
    }
    env::join_paths(dirs).unwrap_or_else(|_| env::var_os("PATH").unwrap_or_default())
}

fn home_cargo_bin() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|cargo_home| cargo_home.join("bin"))
}

/// `name` on PATH, else in `fallback_dir`.
fn find_executable(name: &str, fallback_dir: Option<&Path>) -> Option<PathBuf> {
    let on_path = env::var_os("PATH")
        .into_iter()
        .flat_map(|path| env::split_paths(&path).collect::<Vec<_>>());
    on_path
        .chain(fallback_dir.map(Path::to_path_buf))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn write(path: &Path, bytes: &[u8]) {
    if let Err(e) = fs::write(path, bytes) {
        fail(&format!("cannot write {}: {e}", path.display()));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    process::exit(1);
}
