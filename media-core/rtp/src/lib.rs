//! Zero-copy RTP and RTCP views.
#![deny(unsafe_code)]
