//! The XDP fast path, userspace side: loads the program `ebpf/xdp`
//! builds (embedded at build time), attaches it to the configured
//! interfaces, and gives workers a handle to install, update and remove
//! the streams it forwards and to read back their counters.
//!
//! Which streams qualify is decided by the sans-IO relay table
//! ([`crate::relay::offload`]); the workers apply its decisions through
//! [`XdpFlows`].

mod fast_path;
mod flows;
mod object;

pub use fast_path::{Attached, XdpFastPath};
pub use flows::{XdpError, XdpFlows};
pub use object::{build_status, object};
