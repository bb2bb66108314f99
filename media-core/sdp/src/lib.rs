//! SDP parsing and rewriting for a media relay.
#![deny(unsafe_code)]
