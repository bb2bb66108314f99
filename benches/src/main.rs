//! loadgen: per-packet latency through any NG-speaking relay.
fn main() {}
