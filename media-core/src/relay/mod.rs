//! The sans-IO forwarding core each worker runs: which socket a packet
//! leaves through, to where, and what gets counted.

pub mod counters;
pub mod crypto;
pub mod dtmf;
pub mod offload;
pub mod table;

pub use counters::{Counter, DropReason, StreamStats};
pub use crypto::{KeyParams, SocketCrypto, SrtpKey, SRTP_TAILROOM};
pub use dtmf::SeenDigit;
pub use offload::{FlowSpec, Offload};
pub use table::{
    CallSerial, LatchPolicy, MediaHandling, RelayTable, Role, SlotRef, SocketConfig, SocketKey,
    TranscodeRoute, Verdict,
};
