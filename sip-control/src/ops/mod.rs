//! Operations: Prometheus metrics, CDR lines, the metrics HTTP endpoint.

pub mod cdr;
#[cfg(feature = "server")]
pub mod http;
pub mod metrics;

pub use cdr::{Cdr, CdrWriter};
pub use metrics::Metrics;
