//! The NG control protocol: bencoded dictionaries over UDP, as spoken by
//! Kamailio's and OpenSIPS's `rtpengine` modules.
#![deny(unsafe_code)]
