//! The back-to-back user agent.
