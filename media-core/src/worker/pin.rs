//! Pinning a thread to one CPU core, chosen among the cores the process
//! may run on (its affinity mask: `taskset`, cgroups), never outside them.

use std::io;

/// The CPUs the calling thread may run on, ascending (at least one).
#[allow(unsafe_code, reason = "sched_getaffinity(2) and the CPU_ISSET macro")]
pub fn allowed_cores() -> Vec<usize> {
    // SAFETY: cpu_set_t is a plain bit array; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; the kernel writes at most
    // `size_of::<cpu_set_t>()` bytes into the set.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return vec![0];
    }
    let cores: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's size in bits.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    if cores.is_empty() {
        vec![0]
    } else {
        cores
    }
}

/// The core for worker `index` of `workers`: with more allowed cores than
/// workers the first allowed core is left to the control thread and the
/// kernel; otherwise workers share the allowed cores round-robin.
pub fn core_for_worker(index: usize, workers: usize, allowed: &[usize]) -> usize {
    let n = allowed.len().max(1);
    let slot = if n > workers { index + 1 } else { index };
    allowed.get(slot % n).copied().unwrap_or(0)
}

/// Pins the calling thread to CPU `core`.
#[allow(unsafe_code, reason = "sched_setaffinity(2) and the CPU_SET macros")]
pub fn to_core(core: usize) -> io::Result<()> {
    if core >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {core} is beyond CPU_SETSIZE"),
        ));
    }
    // SAFETY: cpu_set_t is a plain bit array; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `core` is below CPU_SETSIZE (checked above).
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 is the calling thread; the set lives across the call.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::{allowed_cores, core_for_worker};

    #[test]
    fn workers_stay_inside_the_allowed_set() {
        // `taskset -c 1`: one allowed core, CPU 1; the worker goes there,
        // not to CPU 0.
        assert_eq!(core_for_worker(0, 1, &[1]), 1);
        // Two allowed cores, one worker: the second, leaving the first.
        assert_eq!(core_for_worker(0, 1, &[2, 3]), 3);
        // As many workers as cores: one each.
        assert_eq!(core_for_worker(0, 2, &[4, 5]), 4);
        assert_eq!(core_for_worker(1, 2, &[4, 5]), 5);
        // More workers than cores: round-robin inside the set.
        assert_eq!(core_for_worker(2, 3, &[6, 7]), 6);
        let allowed = allowed_cores();
        assert!(!allowed.is_empty());
        assert!(allowed.windows(2).all(|w| w[0] < w[1]));
    }
}
