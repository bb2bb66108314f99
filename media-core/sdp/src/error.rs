//! Errors returned by [`SessionDescription::parse`](crate::SessionDescription::parse).

/// Why an SDP body was rejected.
///
/// Line numbers are 1-based and count lines of the input as given (so they
/// match what a packet capture shows).
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// The body is larger than the parser accepts.
    #[error("SDP is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The limit, [`MAX_SDP_LEN`](crate::MAX_SDP_LEN).
        max: usize,
    },
    /// The body has more media sections than the parser accepts.
    #[error("SDP has more than {max} media sections")]
    TooManyMedia {
        /// The limit, [`MAX_MEDIA_SECTIONS`](crate::MAX_MEDIA_SECTIONS).
        max: usize,
    },
    /// The first line is not a `v=` line.
    #[error("SDP does not start with a v= line")]
    MissingVersion,
    /// The `v=` line carries a version other than `0`.
    #[error("unsupported SDP version on line 1")]
    UnsupportedVersion,
    /// A line is not of the form `<letter>=<value>`.
    #[error("line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: LineError,
    },
    /// A line that may appear once (`v=`, `o=`, session-level `c=`)
    /// appears again, or a session-only line appears inside a media section.
    #[error("line {line}: unexpected or duplicate {kind}= line")]
    UnexpectedLine {
        /// 1-based line number.
        line: usize,
        /// The line's type letter.
        kind: char,
    },
    /// The `o=` line does not have its six fields.
    #[error("line {line}: malformed o= line")]
    BadOrigin {
        /// 1-based line number.
        line: usize,
    },
    /// A `c=` line does not have its three fields.
    #[error("line {line}: malformed c= line")]
    BadConnection {
        /// 1-based line number.
        line: usize,
    },
    /// An `m=` line is malformed.
    #[error("line {line}: malformed m= line: {reason}")]
    BadMediaLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: MediaLineError,
    },
}

/// What is wrong with a line that is not `<letter>=<value>`.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineError {
    /// An empty line before the end of the body.
    #[error("empty line")]
    Empty,
    /// The line does not start with an ASCII letter followed by `=`.
    #[error("not of the form <type>=<value>")]
    NotTypeValue,
    /// The line contains a CR or NUL character.
    #[error("control character inside the line")]
    ControlCharacter,
}

/// What is wrong with an `m=` line.
#[non_exhaustive]
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaLineError {
    /// Fewer than the media, port and protocol fields.
    #[error("missing field")]
    MissingField,
    /// The port is not a number in 0..=65535.
    #[error("bad port")]
    BadPort,
    /// The `/<number of ports>` suffix is not a number in 1..=65535.
    #[error("bad port count")]
    BadPortCount,
    /// No format (payload type) follows the protocol.
    #[error("no formats")]
    NoFormats,
}
