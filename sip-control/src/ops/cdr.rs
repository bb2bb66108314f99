//! Call detail records: one JSON line per call, appended to a file.

use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One finished call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cdr {
    /// The carrier leg's Call-ID.
    pub call_id: String,
    /// Trunk name.
    pub trunk: String,
    /// Calling party (From user).
    pub from: String,
    /// Dialed number as normalized.
    pub did: String,
    /// Target that answered, if any.
    pub target: Option<String>,
    /// Media node that anchored the media, if any.
    pub media_node: Option<String>,
    /// Unix time (ms) the INVITE arrived.
    pub start_ms: u64,
    /// Milliseconds from INVITE to answer, if answered.
    pub answer_after_ms: Option<u64>,
    /// Milliseconds from INVITE to the first platform media packet.
    pub ttfa_ms: Option<u64>,
    /// Milliseconds from answer to the end.
    pub talk_ms: Option<u64>,
    /// How the call ended (`carrier-bye`, `platform-bye`, `no-target`, ...).
    pub end: String,
    /// SIP status the carrier got when the call was not answered.
    pub status: Option<u16>,
    /// Targets tried before the one that answered.
    pub failovers: u32,
    /// Transfer outcome, if the platform transferred the call.
    pub transfer: Option<String>,
    /// DTMF digits carried.
    pub dtmf_digits: u32,
}

/// Appends CDR lines to a file; writes are serialized.
#[derive(Debug)]
pub struct CdrWriter {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl CdrWriter {
    /// Opens (creating) the CDR file for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(CdrWriter {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends one record; a failed write is logged, never fatal.
    pub fn write(&self, cdr: &Cdr) {
        let Ok(mut line) = serde_json::to_vec(cdr) else {
            return;
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = file.write_all(&line) {
            tracing::warn!(path = %self.path.display(), %error, "cannot write CDR");
        }
    }
}
