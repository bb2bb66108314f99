//! The only module of the load tool that calls into libc directly: the
//! monotonic clock, epoll, `recvmmsg`, `setns`, clock ticks and signals.
//! Everything else uses the safe wrappers below.
#![allow(
    unsafe_code,
    reason = "thin wrappers over libc calls (clock_gettime, epoll, recvmmsg, setns, kill) that std does not expose"
)]

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// `CLOCK_MONOTONIC` in nanoseconds (the clock `Instant` also uses).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) cannot fail");
    // Both fields are non-negative for CLOCK_MONOTONIC.
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Clock ticks per second, the unit of utime/stime in `/proc/<pid>/stat`.
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

/// Sends `SIGTERM` to one process by id.
pub fn terminate(pid: u32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill has no memory-safety preconditions; the pid is one we started.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Moves the calling thread into the network namespace at `path`
/// (e.g. `/var/run/netns/NAME`); sockets it creates afterwards live there.
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: the fd is a valid open namespace file for the duration of the call;
    // setns only affects the calling thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A level-triggered epoll instance whose events carry a `u64` token.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// Creates a close-on-exec epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 has no memory-safety preconditions.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Watches `fd` for readability, reporting `token`.
    pub fn add_readable(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both fds are valid and `ev` is a valid epoll_event for the call.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Waits up to `timeout_ms` and returns the ready tokens in `out`.
    pub fn wait(
        &self,
        events: &mut [libc::epoll_event],
        timeout_ms: i32,
        out: &mut Vec<u64>,
    ) -> io::Result<()> {
        out.clear();
        let max = i32::try_from(events.len()).unwrap_or(i32::MAX);
        // SAFETY: `events` is a writable buffer of `max` epoll_event entries.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        out.extend(events[..n as usize].iter().map(|e| e.u64));
        Ok(())
    }
}

/// `CLOCK_REALTIME` minus `CLOCK_MONOTONIC`, in ns: converts kernel
/// receive timestamps (realtime) to the monotonic clock of the payload.
pub fn realtime_offset_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mono_before = now_ns();
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let mono_after = now_ns();
    let real = ts.tv_sec * 1_000_000_000 + ts.tv_nsec;
    real - ((mono_before + mono_after) / 2) as i64
}

/// Asks the kernel to stamp every datagram received on `fd` (`SO_TIMESTAMPNS`).
pub fn enable_rx_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a valid c_int that outlives the call; the length matches it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Control-message room per datagram: one `SCM_TIMESTAMPNS` (a timespec).
const CTRL_LEN: usize = 64;

/// Reusable buffers for one `recvmmsg` call of up to `N` datagrams.
pub struct RecvBatch {
    bufs: Vec<[u8; 2048]>,
    ctrl: Vec<[u64; CTRL_LEN / 8]>,
    iovecs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers inside point only into this struct's own heap
// buffers, which move with it; nothing is shared between threads.
unsafe impl Send for RecvBatch {}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("len", &self.bufs.len())
            .finish()
    }
}

impl RecvBatch {
    /// Buffers for `n` datagrams of up to 2048 bytes.
    pub fn new(n: usize) -> Self {
        let mut bufs = vec![[0u8; 2048]; n];
        let iovecs: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
        let msgs = (0..n)
            .map(|_| unsafe { std::mem::zeroed::<libc::mmsghdr>() })
            .collect();
        let ctrl = vec![[0u64; CTRL_LEN / 8]; n];
        let mut batch = Self {
            bufs,
            ctrl,
            iovecs,
            msgs,
        };
        for ((m, iov), c) in batch
            .msgs
            .iter_mut()
            .zip(batch.iovecs.iter_mut())
            .zip(batch.ctrl.iter_mut())
        {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_control = c.as_mut_ptr().cast();
        }
        batch
    }

    /// The kernel receive time (`SO_TIMESTAMPNS`, CLOCK_REALTIME ns) of the
    /// `i`-th datagram of the last `recv`, if the socket asked for it.
    pub fn timestamp(&self, i: usize) -> Option<u64> {
        let hdr = &self.msgs[i].msg_hdr;
        if hdr.msg_controllen == 0 {
            return None;
        }
        // SAFETY: `hdr` was filled by recvmmsg: msg_control points at this
        // struct's aligned control buffer and msg_controllen bounds what the
        // kernel wrote; the CMSG_* macros stay within that length.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                {
                    let ts =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                    return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                }
                cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
            }
        }
        None
    }

    /// Reads up to the batch size of datagrams from non-blocking `fd`
    /// without waiting; returns how many arrived (0 on EAGAIN).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        for m in &mut self.msgs {
            m.msg_len = 0;
            m.msg_hdr.msg_controllen = CTRL_LEN as _;
        }
        let vlen = u32::try_from(self.msgs.len()).unwrap_or(u32::MAX);
        // SAFETY: every mmsghdr points at one iovec of this struct, which points at
        // one 2048-byte buffer of this struct; all stay alive and unaliased for the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                vlen,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }

    /// The `i`-th datagram of the last `recv`.
    pub fn get(&self, i: usize) -> &[u8] {
        let len = (self.msgs[i].msg_len as usize).min(self.bufs[i].len());
        &self.bufs[i][..len]
    }
}

/// Raises the soft open-file limit to the hard limit (one socket per leg
/// adds up quickly); returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit with cur <= max.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// Restricts this process's threads created from now on (and the caller)
/// to `cpus` (`sched_setaffinity`).
pub fn pin_to_cpus(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain old data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: CPU_SET bounds-checks `c` against the set's size itself.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t and the size matches it; pid 0 is this thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
