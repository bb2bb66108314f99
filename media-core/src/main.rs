//! The `media-core` daemon.
fn main() {}
