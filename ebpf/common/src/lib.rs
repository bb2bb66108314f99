//! Types shared between sluice's XDP fast path (`ebpf/xdp`) and the
//! loader in media-core: the map layouts, the names both sides look up,
//! and the pure packet helpers the program runs (tested here on the host).
//!
//! Every map type is `repr(C)` with explicit padding and its size asserted
//! at compile time; [`LAYOUT_VERSION`] is part of the program's name, so a
//! loader never drives an object built for another layout.
#![no_std]

pub mod maps;
pub mod packet;
pub mod packet6;

pub use maps::*;
