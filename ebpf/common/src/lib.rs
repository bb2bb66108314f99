//! Types shared between the XDP fast path and media-core's loader.
//!
//! Placeholder: the XDP fast path is not built yet (see the XDP issue).
//! This crate holds no types so that nothing pretends to be an eBPF
//! program; it exists so the workspace layout is final.
#![no_std]
#![deny(unsafe_code)]
