//! media-core: sluice's media plane.
#![deny(unsafe_code)]
