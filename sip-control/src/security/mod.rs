//! Trunk security: allowlists, digest authentication, lock-out, rate limits.
//!
//! Sans-IO: nothing here opens sockets, reads clocks, spawns threads or
//! draws random numbers. Time comes in as `now: Instant` arguments and the
//! nonce secret is passed in, so every decision is reproducible in tests.
//!
//! - [`allowlist`]: which trunk a source address belongs to.
//! - [`auth_params`]: the `Digest k=v, ...` header values.
//! - [`algorithm`]: MD5 and SHA-256 and the digest `H()`.
//! - [`digest`]: stateless challenges and response verification.
//! - [`lockout`]: sources locked out after repeated failures.
//! - [`rate_limit`]: per-source token buckets.
//!
//! The per-source tables are bounded (by default [`DEFAULT_MAX_SOURCES`]
//! each), so spoofed floods cost a fixed amount of memory.

pub mod algorithm;
pub mod allowlist;
pub mod auth_params;
pub mod digest;
pub mod lockout;
mod nonce;
pub mod rate_limit;
mod source_table;

pub use algorithm::{Algorithm, AlgorithmError};
pub use allowlist::{Allowlist, AllowlistError};
pub use auth_params::{AuthParams, ParamsError};
pub use digest::{AuthError, Credentials, DigestServer, Verified};
pub use lockout::Lockout;
pub use rate_limit::RateLimiter;

/// Sources a [`Lockout`] or [`RateLimiter`] tracks unless told otherwise.
pub const DEFAULT_MAX_SOURCES: usize = 65_536;
