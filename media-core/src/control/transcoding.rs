//! Keeps the transcoder pool in step with the calls: a section with a
//! plan gets its transcoder set up (or updated), one without has it
//! removed, and a call's end removes them all. Commands travel through
//! the worker that owns the call, in order with its packets.

use super::call::{Call, MediaPair, Side};
use crate::transcoder::{CallLabels, LegSockets, MediaKey, PoolCommand, TranscodeSetup};
use crate::worker::WorkerCommand;

/// The pool's key for section `pair` of `call`.
pub fn media_key(call: &Call, pair: &MediaPair) -> MediaKey {
    MediaKey {
        call: call.serial,
        media: u16::try_from(pair.index).unwrap_or(u16::MAX),
    }
}

/// Set-up or removal for every section of `call`, after an offer or
/// answer changed it. A removal of a section the pool never ran is
/// harmless.
pub fn sync(call: &Call, commands: &mut Vec<(usize, WorkerCommand)>) {
    for pair in &call.media {
        let command = match &pair.transcode {
            Some(plan) => PoolCommand::Setup(Box::new(TranscodeSetup {
                worker: call.worker,
                plan: plan.clone(),
                sockets: [leg_sockets(&pair.sides[0]), leg_sockets(&pair.sides[1])],
                labels: labels(call),
                block_dtmf: [call.legs[0].block_dtmf, call.legs[1].block_dtmf],
            })),
            None => PoolCommand::Remove,
        };
        commands.push((
            call.worker,
            WorkerCommand::Transcoder {
                key: media_key(call, pair),
                command,
            },
        ));
    }
}

/// Removal of every transcoded section of a call that ends.
pub fn remove_all(call: &Call, commands: &mut Vec<(usize, WorkerCommand)>) {
    for pair in call.media.iter().filter(|p| p.transcode.is_some()) {
        commands.push((
            call.worker,
            WorkerCommand::Transcoder {
                key: media_key(call, pair),
                command: PoolCommand::Remove,
            },
        ));
    }
}

/// The sockets the pool sends to a leg from.
fn leg_sockets(side: &Side) -> LegSockets {
    LegSockets {
        rtp: side.rtp,
        rtcp: if side.rtcp_mux { side.rtp } else { side.rtcp },
    }
}

/// The names digit reports carry.
pub fn labels(call: &Call) -> CallLabels {
    CallLabels {
        call_id: call.call_id.clone(),
        tags: [
            call.legs[0].tag.clone().unwrap_or_default(),
            call.legs[1].tag.clone().unwrap_or_default(),
        ],
    }
}
