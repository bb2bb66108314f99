//! Pinning a thread to one CPU core.

use std::io;

/// Pins the calling thread to `core` (modulo the cores present).
#[allow(unsafe_code, reason = "sched_setaffinity(2) and the CPU_SET macros")]
pub fn to_core(core: usize) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let core = core % cores;
    // SAFETY: cpu_set_t is a plain bit array; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `core` is below the number of CPUs, far below CPU_SETSIZE.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 is the calling thread; the set lives across the call.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
