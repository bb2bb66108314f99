//! A safe handle on one libsrtp2 session, through `shim/libsrtp_shim.c`.
//!
//! The shim owns every libsrtp structure; Rust sees an opaque pointer and a
//! handful of functions taking `(buffer, capacity, length)`.
#![allow(
    unsafe_code,
    reason = "FFI to the C shim around the system libsrtp2; this module is the only unsafe code of the crate"
)]

use core::ffi::{c_char, c_int, CStr};
use core::fmt;
use core::ptr::NonNull;

use sluice_srtp::Suite;

/// The shim's session type: opaque, only ever behind a pointer.
#[repr(C)]
struct ShimSession {
    _opaque: [u8; 0],
}

extern "C" {
    fn sluice_libsrtp_trailer_room() -> usize;
    fn sluice_libsrtp_version() -> *const c_char;
    fn sluice_libsrtp_create(
        suite: c_int,
        outbound: c_int,
        key_salt: *const u8,
        key_salt_len: usize,
        out: *mut *mut ShimSession,
    ) -> c_int;
    fn sluice_libsrtp_free(s: *mut ShimSession);
    fn sluice_libsrtp_protect_rtp(
        s: *mut ShimSession,
        buf: *mut u8,
        cap: usize,
        len: *mut c_int,
    ) -> c_int;
    fn sluice_libsrtp_unprotect_rtp(
        s: *mut ShimSession,
        buf: *mut u8,
        cap: usize,
        len: *mut c_int,
    ) -> c_int;
    fn sluice_libsrtp_protect_rtcp(
        s: *mut ShimSession,
        buf: *mut u8,
        cap: usize,
        len: *mut c_int,
    ) -> c_int;
    fn sluice_libsrtp_unprotect_rtcp(
        s: *mut ShimSession,
        buf: *mut u8,
        cap: usize,
        len: *mut c_int,
    ) -> c_int;
}

type ShimOp = unsafe extern "C" fn(*mut ShimSession, *mut u8, usize, *mut c_int) -> c_int;

/// Tailroom a buffer needs after the packet for libsrtp's protect calls
/// (`SRTP_MAX_TRAILER_LEN` + the 4-byte SRTCP index word): libsrtp assumes
/// it may write that much.
pub fn trailer_room() -> usize {
    // SAFETY: a pure C function with no arguments that returns a constant.
    unsafe { sluice_libsrtp_trailer_room() }
}

/// libsrtp's own version string, e.g. `libsrtp2 2.5.0`.
pub fn version() -> String {
    // SAFETY: srtp_get_version_string returns a pointer to a static,
    // NUL-terminated string that lives as long as the library.
    let s = unsafe { CStr::from_ptr(sluice_libsrtp_version()) };
    s.to_string_lossy().into_owned()
}

/// Which way a session works: libsrtp's wildcard SSRC types
/// (`ssrc_any_outbound` protects, `ssrc_any_inbound` unprotects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Protects packets we send.
    Outbound,
    /// Unprotects packets we receive.
    Inbound,
}

/// A libsrtp `srtp_err_status_t` (positive) or a shim error (negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibsrtpError(pub i32);

impl LibsrtpError {
    /// `srtp_err_status_auth_fail`.
    pub const AUTH_FAIL: Self = Self(7);
    /// `srtp_err_status_replay_fail` (index already seen).
    pub const REPLAY_FAIL: Self = Self(9);
    /// `srtp_err_status_replay_old` (index older than the window).
    pub const REPLAY_OLD: Self = Self(10);

    fn name(self) -> &'static str {
        match self.0 {
            -1 => "shim: unknown suite",
            -2 => "shim: wrong key||salt length",
            -3 => "shim: buffer lacks tailroom",
            -4 => "shim: out of memory",
            -5 => "shim: length out of range",
            -6 => "wrong direction for this session",
            1 => "srtp_err_status_fail",
            2 => "srtp_err_status_bad_param",
            3 => "srtp_err_status_alloc_fail",
            5 => "srtp_err_status_init_fail",
            7 => "srtp_err_status_auth_fail",
            8 => "srtp_err_status_cipher_fail",
            9 => "srtp_err_status_replay_fail",
            10 => "srtp_err_status_replay_old",
            12 => "srtp_err_status_no_such_op",
            13 => "srtp_err_status_no_ctx",
            _ => "other libsrtp status",
        }
    }
}

impl fmt::Display for LibsrtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl std::error::Error for LibsrtpError {}

/// The shim's number for a suite (the enum at the top of the C file).
fn shim_suite(suite: Suite) -> c_int {
    match suite {
        Suite::AesCm128HmacSha1_80 => 1,
        Suite::AesCm128HmacSha1_32 => 2,
        Suite::Aes256CmHmacSha1_80 => 3,
        Suite::Aes256CmHmacSha1_32 => 4,
        Suite::AeadAes128Gcm => 5,
        Suite::AeadAes256Gcm => 6,
        // `Suite` is non-exhaustive; the shim rejects 0 as unknown.
        _ => 0,
    }
}

/// One libsrtp session: one suite, one master key, one direction, any
/// SSRC.
pub struct Libsrtp {
    session: NonNull<ShimSession>,
    direction: Direction,
}

impl fmt::Debug for Libsrtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Libsrtp")
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

impl Libsrtp {
    /// Create a session from SDES `inline:` material: master key followed
    /// by master salt (14 bytes for AES-CM, 12 for GCM).
    ///
    /// # Errors
    /// libsrtp's status when it refuses (for example a suite this build of
    /// libsrtp lacks), or a shim error for a wrong key length.
    pub fn new(suite: Suite, key_salt: &[u8], direction: Direction) -> Result<Self, LibsrtpError> {
        let mut out: *mut ShimSession = core::ptr::null_mut();
        // SAFETY: key_salt is valid for key_salt.len() bytes and only read;
        // out is a valid place for the shim to store the new session.
        let rc = unsafe {
            sluice_libsrtp_create(
                shim_suite(suite),
                c_int::from(direction == Direction::Outbound),
                key_salt.as_ptr(),
                key_salt.len(),
                &mut out,
            )
        };
        if rc != 0 {
            return Err(LibsrtpError(rc));
        }
        let session = NonNull::new(out).ok_or(LibsrtpError(-4))?;
        Ok(Self { session, direction })
    }

    fn run(
        &mut self,
        op: ShimOp,
        want: Direction,
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, LibsrtpError> {
        if self.direction != want {
            return Err(LibsrtpError(-6));
        }
        let mut n = c_int::try_from(len).map_err(|_| LibsrtpError(-5))?;
        // SAFETY: the session pointer came from sluice_libsrtp_create and is
        // freed only in Drop; buf is valid for writes of buf.len() bytes,
        // which is the capacity the shim checks len and libsrtp's trailer
        // against before libsrtp touches the buffer.
        let rc = unsafe { op(self.session.as_ptr(), buf.as_mut_ptr(), buf.len(), &mut n) };
        if rc != 0 {
            return Err(LibsrtpError(rc));
        }
        usize::try_from(n).map_err(|_| LibsrtpError(-5))
    }

    /// `srtp_protect` on `buf[..len]` in place; returns the SRTP length.
    /// `buf` needs [`trailer_room`] bytes after `len`.
    ///
    /// # Errors
    /// libsrtp's status, or a shim error for missing tailroom.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, LibsrtpError> {
        self.run(sluice_libsrtp_protect_rtp, Direction::Outbound, buf, len)
    }

    /// `srtp_unprotect` on `buf[..len]` in place; returns the RTP length.
    ///
    /// # Errors
    /// libsrtp's status ([`LibsrtpError::AUTH_FAIL`], replay, ...).
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, LibsrtpError> {
        self.run(sluice_libsrtp_unprotect_rtp, Direction::Inbound, buf, len)
    }

    /// `srtp_protect_rtcp` on `buf[..len]` in place; returns the SRTCP
    /// length. `buf` needs [`trailer_room`] bytes after `len`.
    ///
    /// # Errors
    /// libsrtp's status, or a shim error for missing tailroom.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, LibsrtpError> {
        self.run(sluice_libsrtp_protect_rtcp, Direction::Outbound, buf, len)
    }

    /// `srtp_unprotect_rtcp` on `buf[..len]` in place; returns the RTCP
    /// length.
    ///
    /// # Errors
    /// libsrtp's status ([`LibsrtpError::AUTH_FAIL`], replay, ...).
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, LibsrtpError> {
        self.run(sluice_libsrtp_unprotect_rtcp, Direction::Inbound, buf, len)
    }
}

impl Drop for Libsrtp {
    fn drop(&mut self) {
        // SAFETY: the pointer came from sluice_libsrtp_create, and Drop runs
        // once, so it is freed exactly once and never used afterwards.
        unsafe { sluice_libsrtp_free(self.session.as_ptr()) }
    }
}
