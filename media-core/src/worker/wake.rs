//! The doorbell: an eventfd the control thread writes and a worker's
//! io_uring reads, so a sleeping worker wakes for new commands.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd used as a doorbell.
#[derive(Debug)]
pub struct Doorbell {
    fd: OwnedFd,
}

impl Doorbell {
    /// A new non-blocking eventfd.
    #[allow(unsafe_code, reason = "eventfd(2) has no safe wrapper in std")]
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; a negative return is an error.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Wakes the worker (adds one to the counter).
    #[allow(unsafe_code, reason = "write(2) on a raw descriptor")]
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to an eventfd we own;
        // a full counter (EAGAIN) means a wake-up is pending anyway.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// The descriptor the worker reads.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
