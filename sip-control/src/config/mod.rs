//! The configuration file: its shape ([`types`]), how it is read
//! ([`load`], [`parse`]) and its checks, each error naming the file, the
//! dotted key and the reason ([`ConfigError`]).

mod cidr;
mod error;
mod load;
mod locate;
mod lookup;
pub mod types;
mod uri;
mod validate;

pub use cidr::{Cidr, CidrError};
pub use error::ConfigError;
pub use load::{load, parse};
pub use types::*;
