//! `rtc-srtp` (the webrtc-rs sans-IO line, ring backend) behind the same
//! key material and suite names as sluice-srtp.
//!
//! Its API copies: every call takes `&[u8]` and returns a new `BytesMut`.

use bytes::BytesMut;
use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;
use sluice_srtp::Suite;

/// Replay window given to rtc-srtp contexts, as sluice-srtp's default.
pub const REPLAY_WINDOW: usize = 64;

/// The rtc-srtp profile for a suite, if rtc-srtp has one.
pub fn profile(suite: Suite) -> Option<ProtectionProfile> {
    match suite {
        Suite::AesCm128HmacSha1_80 => Some(ProtectionProfile::Aes128CmHmacSha1_80),
        Suite::AesCm128HmacSha1_32 => Some(ProtectionProfile::Aes128CmHmacSha1_32),
        Suite::Aes256CmHmacSha1_80 => Some(ProtectionProfile::Aes256CmHmacSha1_80),
        Suite::Aes256CmHmacSha1_32 => Some(ProtectionProfile::Aes256CmHmacSha1_32),
        Suite::AeadAes128Gcm => Some(ProtectionProfile::AeadAes128Gcm),
        Suite::AeadAes256Gcm => Some(ProtectionProfile::AeadAes256Gcm),
        _ => None,
    }
}

/// One rtc-srtp context (one direction, like sluice's), with a
/// [`REPLAY_WINDOW`]-packet replay window on SRTP and SRTCP.
pub struct RtcSrtp {
    ctx: Context,
}

impl core::fmt::Debug for RtcSrtp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RtcSrtp").finish_non_exhaustive()
    }
}

impl RtcSrtp {
    /// Create a context from SDES `inline:` material (key followed by
    /// salt).
    ///
    /// # Errors
    /// A message when rtc-srtp lacks the suite or refuses the key.
    pub fn new(suite: Suite, key_salt: &[u8]) -> Result<Self, String> {
        let profile =
            profile(suite).ok_or_else(|| format!("rtc-srtp has no profile for {suite}"))?;
        if key_salt.len() != suite.key_salt_len() {
            return Err(format!(
                "{suite} needs {} bytes of key||salt",
                suite.key_salt_len()
            ));
        }
        let (key, salt) = key_salt.split_at(suite.key_len());
        let provider = rtc_srtp::crypto::default_provider().map_err(|e| e.to_string())?;
        let ctx = Context::new(
            key,
            salt,
            profile,
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
            provider.crypto(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Self { ctx })
    }

    /// Protect one RTP packet; returns the SRTP packet.
    ///
    /// # Errors
    /// rtc-srtp's error, as text.
    pub fn protect_rtp(&mut self, rtp: &[u8]) -> Result<BytesMut, String> {
        self.ctx.encrypt_rtp(rtp).map_err(|e| e.to_string())
    }

    /// Unprotect one SRTP packet; returns the RTP packet.
    ///
    /// # Errors
    /// rtc-srtp's error (authentication, replay), as text.
    pub fn unprotect_rtp(&mut self, srtp: &[u8]) -> Result<BytesMut, String> {
        self.ctx.decrypt_rtp(srtp).map_err(|e| e.to_string())
    }

    /// Protect one RTCP compound packet; returns the SRTCP packet.
    ///
    /// # Errors
    /// rtc-srtp's error, as text.
    pub fn protect_rtcp(&mut self, rtcp: &[u8]) -> Result<BytesMut, String> {
        self.ctx.encrypt_rtcp(rtcp).map_err(|e| e.to_string())
    }

    /// Unprotect one SRTCP packet; returns the RTCP packet.
    ///
    /// # Errors
    /// rtc-srtp's error (authentication, replay), as text.
    pub fn unprotect_rtcp(&mut self, srtcp: &[u8]) -> Result<BytesMut, String> {
        self.ctx.decrypt_rtcp(srtcp).map_err(|e| e.to_string())
    }
}
