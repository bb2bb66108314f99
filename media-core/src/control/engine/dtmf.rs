//! NG `play DTMF`, `block DTMF` and `unblock DTMF`.
//!
//! As in rtpengine, the `from-tag` names the party the digit comes from
//! (for `play DTMF`, the one it is played on behalf of): the other party
//! hears it. Without a `from-tag`, `block DTMF` applies to both parties.

use sluice_ng::request::Request;

use sluice_dtmf::Digit;
use sluice_transcode::{DigitReport, DigitSource};

use super::{error, Engine, Failure};
use crate::control::transcoding;
use crate::relay::SeenDigit;
use crate::transcoder::{CallLabels, PoolCommand};
use crate::worker::WorkerCommand;

/// Shortest and longest `play DTMF` duration (ms), and the default.
const DURATION_MS: (u32, u32, u32) = (100, 5000, 100);
/// Default volume: -8 dBm0.
const DEFAULT_VOLUME: u8 = 8;

impl Engine {
    /// Handles `play DTMF`: the digit is played to the party opposite
    /// `from-tag` in every audio section that runs through a transcoder
    /// (offer with `inject DTMF`, or a transcoded call).
    pub fn play_dtmf(&mut self, req: &Request) -> Result<(), Failure> {
        let call_id = req
            .call_id
            .as_deref()
            .ok_or_else(|| error("missing key: call-id"))?;
        let code_text = req
            .options
            .dtmf_code
            .as_deref()
            .ok_or_else(|| error("missing key: code"))?;
        let code = parse_code(code_text)?;
        let duration_ms = req.options.dtmf_duration_ms.unwrap_or(DURATION_MS.2);
        if !(DURATION_MS.0..=DURATION_MS.1).contains(&duration_ms) {
            return Err(error(format!(
                "duration {duration_ms} ms is not in {}..={} ms",
                DURATION_MS.0, DURATION_MS.1
            )));
        }
        // rtpengine takes the level as dB below full scale, either sign.
        let volume = req.options.dtmf_volume.map_or(DEFAULT_VOLUME, |v| {
            u8::try_from(v.unsigned_abs().min(63)).unwrap_or(63)
        });
        let call = self
            .calls
            .get(call_id)
            .ok_or_else(|| error("Unknown call-id"))?;
        let from = match req.from_tag.as_deref() {
            Some(tag) => call.leg_of(tag).ok_or_else(|| error("Unknown from-tag"))?,
            None => 0,
        };
        let to_leg = u8::from(from == 0);
        let mut played = false;
        for pair in call.media.iter().filter(|p| p.transcode.is_some()) {
            played = true;
            self.commands.push((
                call.worker,
                WorkerCommand::Transcoder {
                    key: transcoding::media_key(call, pair),
                    command: PoolCommand::PlayDtmf {
                        to_leg,
                        code,
                        duration_ms,
                        volume,
                    },
                },
            ));
        }
        if !played {
            return Err(error(
                "no media of this call can take injected DTMF; offer it with the `inject DTMF` flag",
            ));
        }
        Ok(())
    }

    /// Handles `block DTMF` (`blocked`) and `unblock DTMF`.
    pub fn block_dtmf(&mut self, req: &Request, blocked: bool) -> Result<(), Failure> {
        let call_id = req
            .call_id
            .as_deref()
            .ok_or_else(|| error("missing key: call-id"))?;
        let call = self
            .calls
            .get_mut(call_id)
            .ok_or_else(|| error("Unknown call-id"))?;
        let legs: Vec<usize> = match req.from_tag.as_deref() {
            Some(tag) => vec![call.leg_of(tag).ok_or_else(|| error("Unknown from-tag"))?],
            None => vec![0, 1],
        };
        for &leg in &legs {
            call.legs[leg].block_dtmf = blocked;
        }
        let call = &self.calls[call_id];
        for pair in &call.media {
            for &leg in &legs {
                for (key, config) in pair.socket_configs(leg, call.serial, call.latch, blocked) {
                    self.commands.push((
                        call.worker,
                        WorkerCommand::Configure {
                            key,
                            config: Box::new(config),
                        },
                    ));
                }
                if pair.transcode.is_some() {
                    self.commands.push((
                        call.worker,
                        WorkerCommand::Transcoder {
                            key: transcoding::media_key(call, pair),
                            command: PoolCommand::BlockDtmf {
                                from_leg: u8::from(leg == 1),
                                blocked,
                            },
                        },
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Who sent a digit seen in a pass-through stream, and the digit as a
    /// report: `None` for a call or socket gone meanwhile, or an event
    /// that is not a DTMF digit.
    pub fn digit_report(&self, seen: &SeenDigit) -> Option<(CallLabels, usize, DigitReport)> {
        let call = self.calls.get(self.by_serial.get(&seen.call)?)?;
        let (leg, side) = call.media.iter().find_map(|pair| {
            pair.sides
                .iter()
                .enumerate()
                .find(|(_, side)| side.rtp == seen.socket || side.rtcp == seen.socket)
        })?;
        let clock = side.telephone_event.map_or(8000, |f| f.clock_rate).max(1);
        let report = DigitReport {
            digit: Digit::from_event_code(seen.event)?,
            duration_ms: u32::from(seen.duration) * 1000 / clock,
            volume: seen.volume,
            source: DigitSource::Event,
        };
        Some((transcoding::labels(call), leg, report))
    }
}

/// A DTMF `code`: a digit (`0`-`9`, `*`, `#`, `A`-`D`) or an event number
/// 0-15.
fn parse_code(text: &str) -> Result<u8, Failure> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u8>() {
        if n <= 15 {
            return Ok(n);
        }
    }
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if let Some(digit) = sluice_dtmf::Digit::from_char(c.to_ascii_uppercase()) {
            return Ok(digit.event_code());
        }
    }
    Err(error(format!(
        "`{text}` is not a DTMF code (0-15, 0-9, *, #, A-D)"
    )))
}

#[cfg(test)]
mod tests {
    use super::parse_code;

    #[test]
    fn codes_and_digits() {
        assert_eq!(parse_code("5").ok(), Some(5));
        assert_eq!(parse_code("15").ok(), Some(15));
        assert_eq!(parse_code("*").ok(), Some(10));
        assert_eq!(parse_code("#").ok(), Some(11));
        assert_eq!(parse_code("d").ok(), Some(15));
        assert!(parse_code("16").is_err());
        assert!(parse_code("x").is_err());
        assert!(parse_code("").is_err());
    }
}
