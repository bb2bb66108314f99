//! SRTP on a worker: the keys the control thread negotiated for a socket
//! ([`SocketCrypto`], plain data that travels in a command) and the live
//! contexts built from them ([`Transforms`], owned by the socket's slot).
//! A packet arriving on a socket is unprotected with that socket's `rx`
//! key; a packet leaving through a socket is protected with its `tx` key.

use std::fmt;

use sluice_srtp::{SrtpContext, SrtpError, SrtpOptions, Suite};

use super::counters::DropReason;

/// Longest master key plus salt of any suite (AES-256: 32 + 14).
pub const MAX_KEY_SALT: usize = 46;

/// Bytes a receive buffer must keep free after the packet so that
/// protecting it in place always fits (GCM tag 16 + SRTCP index 4).
pub const SRTP_TAILROOM: usize = 32;

/// SSRCs one context tracks (a stream rarely has more than one or two; a
/// re-INVITE or a forked early-media branch may add some).
const MAX_SSRCS_PER_STREAM: usize = 16;

/// The SDES session parameters that change the transform (RFC 4568
/// section 6.3), plus the replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParams {
    /// RTP payloads are encrypted (no `UNENCRYPTED_SRTP`).
    pub encrypt_rtp: bool,
    /// RTCP is encrypted (no `UNENCRYPTED_SRTCP`).
    pub encrypt_rtcp: bool,
    /// RTP is authenticated (no `UNAUTHENTICATED_SRTP`).
    pub authenticate_rtp: bool,
    /// Replay window in packets.
    pub replay_window: u16,
}

impl KeyParams {
    /// Same session parameters (the replay window aside).
    pub fn same_session(&self, other: &KeyParams) -> bool {
        self.encrypt_rtp == other.encrypt_rtp
            && self.encrypt_rtcp == other.encrypt_rtcp
            && self.authenticate_rtp == other.authenticate_rtp
    }
}

impl Default for KeyParams {
    fn default() -> Self {
        Self {
            encrypt_rtp: true,
            encrypt_rtcp: true,
            authenticate_rtp: true,
            replay_window: 64,
        }
    }
}

/// One SDES master key: suite, key || salt, parameters. `Copy` so it can
/// ride in a socket's configuration; `Debug` never prints the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpKey {
    suite: Suite,
    material: [u8; MAX_KEY_SALT],
    /// Session parameters.
    pub params: KeyParams,
}

impl SrtpKey {
    /// A key for `suite` from `key_salt` ([`Suite::key_salt_len`] bytes).
    ///
    /// # Errors
    /// The reason the context cannot be built (wrong length, an
    /// unsupported parameter combination such as unauthenticated GCM).
    pub fn new(suite: Suite, key_salt: &[u8], params: KeyParams) -> Result<Self, SrtpError> {
        let mut material = [0u8; MAX_KEY_SALT];
        if key_salt.len() != suite.key_salt_len() {
            return Err(sluice_srtp::Misuse::KeyLength {
                expected: suite.key_salt_len(),
                actual: key_salt.len(),
            }
            .into());
        }
        material[..key_salt.len()].copy_from_slice(key_salt);
        let key = Self {
            suite,
            material,
            params,
        };
        // Building a context checks every parameter once, here, so a
        // worker never meets a key it cannot use.
        key.context()?;
        Ok(key)
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Master key || master salt.
    pub fn key_salt(&self) -> &[u8] {
        &self.material[..self.suite.key_salt_len()]
    }

    fn context(&self) -> Result<SrtpContext, SrtpError> {
        let options = SrtpOptions::default()
            .with_replay_window(self.params.replay_window)
            .with_max_ssrcs(MAX_SSRCS_PER_STREAM)
            .with_encrypt_rtp(self.params.encrypt_rtp)
            .with_encrypt_rtcp(self.params.encrypt_rtcp)
            .with_authenticate_rtp(self.params.authenticate_rtp);
        SrtpContext::from_key_salt(self.suite, self.key_salt(), options)
    }
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKey")
            .field("suite", &self.suite)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The keys of one socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCrypto {
    /// Unprotects what arrives on the socket (the key its leg sends with).
    pub rx: Option<SrtpKey>,
    /// Protects what leaves through the socket toward its leg.
    pub tx: Option<SrtpKey>,
}

/// One direction's live transform.
#[derive(Default)]
enum Transform {
    /// Plain RTP: bytes pass unchanged.
    #[default]
    Plain,
    /// SRTP with this key.
    Srtp(SrtpKey, Box<SrtpContext>),
    /// The key could not be used: drop everything rather than send or
    /// accept plain media where SRTP was negotiated.
    Broken,
}

impl Transform {
    fn update(&mut self, key: Option<SrtpKey>) {
        match (&*self, key) {
            (Transform::Plain, None) => {}
            // Same key: keep the context, its rollover counters and
            // replay windows (a re-INVITE that changed nothing).
            (Transform::Srtp(old, _), Some(new)) if *old == new => {}
            (_, None) => *self = Transform::Plain,
            (_, Some(new)) => {
                *self = match new.context() {
                    Ok(ctx) => Transform::Srtp(new, Box::new(ctx)),
                    Err(e) => {
                        tracing::error!(error = %e, "SRTP key unusable; dropping the stream's media");
                        Transform::Broken
                    }
                }
            }
        }
    }

    fn suite(&self) -> Option<Suite> {
        match self {
            Transform::Srtp(key, _) => Some(key.suite()),
            _ => None,
        }
    }
}

/// The SRTP contexts of one socket.
#[derive(Default)]
pub struct Transforms {
    rx: Transform,
    tx: Transform,
}

impl fmt::Debug for Transforms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transforms")
            .field("rx", &self.rx.suite())
            .field("tx", &self.tx.suite())
            .finish()
    }
}

impl Transforms {
    /// Whether packets pass this socket's receive side unchanged.
    pub fn rx_is_plain(&self) -> bool {
        matches!(self.rx, Transform::Plain)
    }

    /// Whether packets leave through this socket unchanged.
    pub fn tx_is_plain(&self) -> bool {
        matches!(self.tx, Transform::Plain)
    }

    /// Applies new keys, keeping contexts whose key did not change.
    pub fn update(&mut self, crypto: &SocketCrypto) {
        self.rx.update(crypto.rx);
        self.tx.update(crypto.tx);
    }

    /// Authenticates and decrypts `buf[..len]` in place if this socket
    /// receives SRTP; returns the plain length.
    #[inline]
    pub fn unprotect(
        &mut self,
        buf: &mut [u8],
        len: usize,
        rtcp: bool,
    ) -> Result<usize, DropReason> {
        match &mut self.rx {
            Transform::Plain => Ok(len),
            Transform::Srtp(_, ctx) => if rtcp {
                ctx.unprotect_rtcp(buf, len)
            } else {
                ctx.unprotect_rtp(buf, len)
            }
            .map_err(drop_reason),
            Transform::Broken => Err(DropReason::SrtpError),
        }
    }

    /// Encrypts and tags `buf[..len]` in place if this socket sends SRTP;
    /// returns the protected length.
    #[inline]
    pub fn protect(&mut self, buf: &mut [u8], len: usize, rtcp: bool) -> Result<usize, DropReason> {
        match &mut self.tx {
            Transform::Plain => Ok(len),
            Transform::Srtp(_, ctx) => if rtcp {
                ctx.protect_rtcp(buf, len)
            } else {
                ctx.protect_rtp(buf, len)
            }
            .map_err(drop_reason),
            Transform::Broken => Err(DropReason::SrtpError),
        }
    }

    /// Suites in use: (received, sent).
    pub fn suites(&self) -> (Option<Suite>, Option<Suite>) {
        (self.rx.suite(), self.tx.suite())
    }
}

fn drop_reason(e: SrtpError) -> DropReason {
    match e {
        SrtpError::AuthFailed => DropReason::SrtpAuth,
        SrtpError::Replay => DropReason::SrtpReplay,
        _ => DropReason::SrtpError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SrtpKey {
        let suite = Suite::AesCm128HmacSha1_80;
        SrtpKey::new(
            suite,
            &vec![byte; suite.key_salt_len()],
            KeyParams::default(),
        )
        .expect("valid key")
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0x55; 160]);
        p.resize(p.len() + SRTP_TAILROOM, 0);
        p
    }

    #[test]
    fn reencrypts_and_counts_failures_by_reason() {
        let mut sender = Transforms::default();
        sender.update(&SocketCrypto {
            rx: None,
            tx: Some(key(1)),
        });
        let mut relay = Transforms::default();
        relay.update(&SocketCrypto {
            rx: Some(key(1)),
            tx: None,
        });
        let mut buf = rtp(7);
        let n = sender.protect(&mut buf, 172, false).expect("protects");
        assert_eq!(n, 182);
        let copy = buf.clone();
        assert_eq!(relay.unprotect(&mut buf, n, false), Ok(172));
        assert_eq!(buf[..172], rtp(7)[..172]);
        assert_eq!(
            relay.unprotect(&mut copy.clone(), n, false),
            Err(DropReason::SrtpReplay)
        );
        let mut tampered = rtp(8);
        let n = sender.protect(&mut tampered, 172, false).expect("protects");
        tampered[20] ^= 1;
        assert_eq!(
            relay.unprotect(&mut tampered, n, false),
            Err(DropReason::SrtpAuth)
        );
        assert_eq!(
            relay.unprotect(&mut rtp(9), 30, false),
            Err(DropReason::SrtpAuth)
        );
        assert_eq!(
            relay.unprotect(&mut rtp(8), 5, false),
            Err(DropReason::SrtpError)
        );
    }

    #[test]
    fn same_key_keeps_state_and_new_key_resets_it() {
        let mut relay = Transforms::default();
        let crypto = SocketCrypto {
            rx: Some(key(1)),
            tx: None,
        };
        relay.update(&crypto);
        let mut sender = Transforms::default();
        sender.update(&SocketCrypto {
            rx: None,
            tx: Some(key(1)),
        });
        let mut buf = rtp(7);
        let n = sender.protect(&mut buf, 172, false).expect("protects");
        let replay = buf.clone();
        assert!(relay.unprotect(&mut buf, n, false).is_ok());
        relay.update(&crypto);
        assert_eq!(
            relay.unprotect(&mut replay.clone(), n, false),
            Err(DropReason::SrtpReplay)
        );
        relay.update(&SocketCrypto {
            rx: Some(key(2)),
            tx: None,
        });
        assert_eq!(
            relay.unprotect(&mut replay.clone(), n, false),
            Err(DropReason::SrtpAuth)
        );
        assert_eq!(relay.suites().0, Some(Suite::AesCm128HmacSha1_80));
        relay.update(&SocketCrypto::default());
        assert_eq!(relay.unprotect(&mut replay.clone(), n, false), Ok(n));
    }

    #[test]
    fn bad_parameters_are_refused_at_negotiation() {
        let suite = Suite::AeadAes128Gcm;
        let params = KeyParams {
            authenticate_rtp: false,
            ..KeyParams::default()
        };
        assert!(SrtpKey::new(suite, &[0; 28], params).is_err());
        assert!(SrtpKey::new(suite, &[0; 27], KeyParams::default()).is_err());
        assert!(format!("{:?}", key(0xab)).find("171").is_none());
    }
}
