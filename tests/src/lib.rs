//! Shared harness for sluice's integration tests: processes, peers, NG client.
#![deny(unsafe_code)]
