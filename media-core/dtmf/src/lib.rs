//! DTMF for media-core: RFC 4733 telephone-events and in-band tones.
//!
//! Everything here is sans-IO: no sockets, no clock, no threads, no
//! randomness. Time is RTP timestamp units or sample counts passed in by
//! the caller; output is returned values.
//!
//! - [`event`]: the 4-byte telephone-event payload, parsed in place and
//!   written into a caller's buffer; [`Digit`] for the sixteen DTMF keys.
//! - [`sender`]: the packet sequence for one event (marker, updates, three
//!   end reports, long-duration segments) and clock-rate rescaling.
//! - [`receiver`]: telephone-event packets to digit start/end events,
//!   tolerant of loss, duplication and reordering.
//! - [`goertzel`] and [`detector`]: in-band DTMF detection on 8 kHz PCM.
//! - [`tone`]: the two-sine DTMF generator.
#![deny(unsafe_code)]

pub mod detector;
pub mod digit;
pub mod event;
pub mod goertzel;
pub mod receiver;
pub mod sender;
pub mod tone;

pub use detector::{DetectedDigit, Detector, DetectorConfig, DigitEdge};
pub use digit::Digit;
pub use event::{EventError, EventKind, EventPayload, EventView};
pub use receiver::{DropReason, EventReceiver, ReceivedEvent, ReceiverConfig};
pub use sender::{EventPacket, EventSender, SendConfig, SendError};
pub use tone::ToneGenerator;
