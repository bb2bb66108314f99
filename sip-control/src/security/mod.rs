//! Trunk security: allowlists, digest authentication, lock-out, rate limits.
