//! The little URI handling sip-control does itself; everything else goes
//! through rsipstack's parser.

use std::net::IpAddr;

use rsipstack::sip::{Host, Uri};

/// The host of a `sip:`/`sips:` URI when it is an IP address.
pub fn host_ip(text: &str) -> Option<IpAddr> {
    let uri = Uri::try_from(text).ok()?;
    match uri.host() {
        Host::IpAddr(ip) => Some(*ip),
        Host::Domain(_) => None,
    }
}

/// A parsed URI, or `None`.
pub fn parse(text: &str) -> Option<Uri> {
    Uri::try_from(text).ok()
}
