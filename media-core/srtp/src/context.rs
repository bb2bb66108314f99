//! The per-direction SRTP/SRTCP context and the packet transforms.

use aes::{Aes128Enc, Aes256Enc};
use aes_gcm::aead::array::Array;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use ctr::cipher::{BlockCipherEncrypt, BlockSizeUser, InnerIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::error::{Malformed, Misuse, SrtpError, Unsupported};
use crate::kdf;
use crate::replay::{estimate_index, ReplayWindow, MAX_REPLAY_WINDOW};
use crate::suite::Suite;

/// Largest packet accepted, in bytes (a UDP payload cannot be larger).
const MAX_PACKET: usize = 65_535;
/// SRTP key lifetime in packets (RFC 3711 section 9.2).
const RTP_LIFETIME: u64 = 1 << 48;
/// SRTCP key lifetime in packets (RFC 3711 section 9.2).
const RTCP_LIFETIME: u64 = 1 << 31;
/// The SRTCP E flag in the index word.
const E_FLAG: u32 = 0x8000_0000;
const HMAC_LEN: usize = 20;
const GCM_TAG: usize = 16;
const RTCP_HEADER: usize = 8;

/// Per-context options, mostly the SDES session parameters (RFC 4568
/// section 6.3).
///
/// Start from [`SrtpOptions::default`] and adjust with the `with_*` methods
/// or by assigning fields.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpOptions {
    /// Replay window size in packets, 1..=[`MAX_REPLAY_WINDOW`]. Default 64.
    pub replay_window: u16,
    /// How many SSRCs one context tracks; space for all of them is allocated
    /// up front. Default 8.
    pub max_ssrcs: usize,
    /// Encrypt SRTP payloads (`false` = `UNENCRYPTED_SRTP`). Default `true`.
    pub encrypt_rtp: bool,
    /// Encrypt SRTCP (`false` = `UNENCRYPTED_SRTCP`, E flag clear). Default
    /// `true`. Received SRTCP is decrypted according to its own E flag.
    pub encrypt_rtcp: bool,
    /// Authenticate SRTP (`false` = `UNAUTHENTICATED_SRTP`, AES-CM suites
    /// only; SRTCP is always authenticated). Default `true`. Without
    /// authentication there is no replay protection either (RFC 3711
    /// section 3.3.2): any packet is accepted.
    pub authenticate_rtp: bool,
    /// MKI length in bytes. Must be 0: MKI is not supported.
    pub mki_len: u8,
}

impl Default for SrtpOptions {
    fn default() -> Self {
        Self {
            replay_window: 64,
            max_ssrcs: 8,
            encrypt_rtp: true,
            encrypt_rtcp: true,
            authenticate_rtp: true,
            mki_len: 0,
        }
    }
}

impl SrtpOptions {
    /// Set the replay window (packets).
    #[must_use]
    pub const fn with_replay_window(mut self, packets: u16) -> Self {
        self.replay_window = packets;
        self
    }

    /// Set how many SSRCs the context can track.
    #[must_use]
    pub const fn with_max_ssrcs(mut self, n: usize) -> Self {
        self.max_ssrcs = n;
        self
    }

    /// `UNENCRYPTED_SRTP` when `false`.
    #[must_use]
    pub const fn with_encrypt_rtp(mut self, on: bool) -> Self {
        self.encrypt_rtp = on;
        self
    }

    /// `UNENCRYPTED_SRTCP` when `false`.
    #[must_use]
    pub const fn with_encrypt_rtcp(mut self, on: bool) -> Self {
        self.encrypt_rtcp = on;
        self
    }

    /// `UNAUTHENTICATED_SRTP` when `false`.
    #[must_use]
    pub const fn with_authenticate_rtp(mut self, on: bool) -> Self {
        self.authenticate_rtp = on;
        self
    }

    /// MKI length; anything but 0 makes [`SrtpContext::new`] fail.
    #[must_use]
    pub const fn with_mki_len(mut self, len: u8) -> Self {
        self.mki_len = len;
        self
    }
}

/// The cipher of one session key set.
#[derive(Clone)]
enum Cipher {
    Cm128 { enc: Aes128Enc, mac: Hmac<Sha1> },
    Cm256 { enc: Aes256Enc, mac: Hmac<Sha1> },
    Gcm(GcmKey),
}

/// An AES-GCM key (boxed: the key schedules for every backend are large).
#[derive(Clone)]
enum GcmKey {
    A128(Box<Aes128Gcm>),
    A256(Box<Aes256Gcm>),
}

/// Session keys for SRTP or for SRTCP.
#[derive(Clone)]
struct SessionKeys {
    cipher: Cipher,
    /// Session salt: 14 bytes for AES-CM, the first 12 for GCM.
    salt: [u8; 14],
}

impl SessionKeys {
    fn new(suite: Suite, enc_key: &[u8], auth_key: &[u8], salt: &[u8]) -> Self {
        let mut s = [0u8; 14];
        s[..salt.len()].copy_from_slice(salt);
        let mac = || Hmac::<Sha1>::new_from_slice(auth_key).expect("HMAC accepts any key length");
        let cipher = match suite {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 => Cipher::Cm128 {
                enc: Aes128Enc::new_from_slice(enc_key).expect("suite key length is 16"),
                mac: mac(),
            },
            Suite::Aes256CmHmacSha1_80 | Suite::Aes256CmHmacSha1_32 => Cipher::Cm256 {
                enc: Aes256Enc::new_from_slice(enc_key).expect("suite key length is 32"),
                mac: mac(),
            },
            Suite::AeadAes128Gcm => Cipher::Gcm(GcmKey::A128(Box::new(
                Aes128Gcm::new_from_slice(enc_key).expect("suite key length is 16"),
            ))),
            Suite::AeadAes256Gcm => Cipher::Gcm(GcmKey::A256(Box::new(
                Aes256Gcm::new_from_slice(enc_key).expect("suite key length is 32"),
            ))),
        };
        Self { cipher, salt: s }
    }

    /// Derive SRTP (`rtcp == false`) or SRTCP session keys from the master.
    fn derive(suite: Suite, master_key: &[u8], master_salt: &[u8], rtcp: bool) -> Self {
        let (le, la, ls) = if rtcp {
            (
                kdf::LABEL_RTCP_ENCRYPTION,
                kdf::LABEL_RTCP_AUTH,
                kdf::LABEL_RTCP_SALT,
            )
        } else {
            (
                kdf::LABEL_RTP_ENCRYPTION,
                kdf::LABEL_RTP_AUTH,
                kdf::LABEL_RTP_SALT,
            )
        };
        let mut enc = [0u8; 32];
        let mut auth = [0u8; HMAC_LEN];
        let mut salt = [0u8; 14];
        let enc = &mut enc[..suite.key_len()];
        let salt = &mut salt[..suite.salt_len()];
        kdf::derive(master_key, master_salt, le, enc);
        kdf::derive(master_key, master_salt, ls, salt);
        if !suite.is_aead() {
            kdf::derive(master_key, master_salt, la, &mut auth);
        }
        let keys = Self::new(suite, enc, &auth, salt);
        enc.zeroize();
        auth.zeroize();
        salt.zeroize();
        keys
    }
}

/// Per-SSRC state.
#[derive(Clone)]
struct SsrcState {
    ssrc: u32,
    rtp: ReplayWindow,
    rtcp: ReplayWindow,
    /// Next SRTCP index to send.
    rtcp_next: u32,
}

/// SRTP/SRTCP state for one master key and one direction.
///
/// See the [crate documentation](crate) for the threading and direction
/// rules. All packet methods work in place on `buf[..len]` and never
/// allocate.
#[derive(Clone)]
pub struct SrtpContext {
    suite: Suite,
    options: SrtpOptions,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    streams: Vec<SsrcState>,
    rtp_packets: u64,
    rtcp_packets: u64,
}

impl core::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("options", &self.options)
            .field("ssrcs", &self.streams.len())
            .finish_non_exhaustive()
    }
}

/// Parsed fixed RTP header fields.
struct RtpHeader {
    len: usize,
    seq: u16,
    ssrc: u32,
}

fn parse_rtp(pkt: &[u8]) -> Result<RtpHeader, SrtpError> {
    if pkt.len() < 12 {
        return Err(Malformed::TooShort.into());
    }
    if pkt[0] >> 6 != 2 {
        return Err(Malformed::BadVersion.into());
    }
    let mut len = 12 + 4 * usize::from(pkt[0] & 0x0f);
    if pkt[0] & 0x10 != 0 {
        let ext = pkt.get(len..len + 4).ok_or(Malformed::HeaderOverrun)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    if len > pkt.len() {
        return Err(Malformed::HeaderOverrun.into());
    }
    Ok(RtpHeader {
        len,
        seq: u16::from_be_bytes([pkt[2], pkt[3]]),
        ssrc: u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
    })
}

fn rtcp_ssrc(pkt: &[u8]) -> Result<u32, SrtpError> {
    if pkt.len() < RTCP_HEADER {
        return Err(Malformed::TooShort.into());
    }
    if pkt[0] >> 6 != 2 {
        return Err(Malformed::BadVersion.into());
    }
    Ok(u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]))
}

fn check_len(buf: &[u8], len: usize) -> Result<(), SrtpError> {
    if len > buf.len() {
        return Err(Misuse::LenExceedsBuffer.into());
    }
    if len > MAX_PACKET {
        return Err(Malformed::TooLong.into());
    }
    Ok(())
}

/// AES-CM IV: `(salt * 2^16) XOR (ssrc * 2^64) XOR (index * 2^16)`; the
/// SRTCP index is used the same way (RFC 3711 section 4.1.1).
pub(crate) fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *d ^= s;
    }
    for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *d ^= s;
    }
    iv
}

/// RFC 7714 section 8.1 SRTP IV: `00 00 || SSRC || ROC || SEQ` XOR salt.
fn gcm_rtp_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
    for (d, s) in iv.iter_mut().zip(salt) {
        *d ^= s;
    }
    iv
}

/// RFC 7714 section 9.1 SRTCP IV: `00 00 || SSRC || 00 00 || 0 || index`
/// XOR salt.
fn gcm_rtcp_iv(salt: &[u8; 14], ssrc: u32, index: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..12].copy_from_slice(&index.to_be_bytes());
    for (d, s) in iv.iter_mut().zip(salt) {
        *d ^= s;
    }
    iv
}

/// XOR the AES-CM keystream for `iv` into `data`.
pub(crate) fn cm_xor<B>(block: &B, iv: &[u8; 16], data: &mut [u8]) -> Result<(), SrtpError>
where
    B: BlockCipherEncrypt + BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    let core = ctr::CtrCore::<&B, ctr::flavors::Ctr128BE>::inner_iv_init(block, &Array::from(*iv));
    let mut c = ctr::Ctr128BE::<&B>::from_core(core);
    c.try_apply_keystream(data)
        .map_err(|_| SrtpError::Malformed(Malformed::TooLong))
}

/// HMAC-SHA1 over `data` (and the ROC for SRTP).
fn hmac_sha1(mac: &Hmac<Sha1>, data: &[u8], roc: Option<u32>) -> [u8; HMAC_LEN] {
    let mut m = mac.clone();
    m.update(data);
    if let Some(roc) = roc {
        m.update(&roc.to_be_bytes());
    }
    let out = m.finalize().into_bytes();
    let mut tag = [0u8; HMAC_LEN];
    tag.copy_from_slice(&out);
    tag
}

/// Encrypt `payload` in place with GCM and return the tag.
fn gcm_seal(
    key: &GcmKey,
    iv: &[u8; 12],
    aad: &[u8],
    payload: &mut [u8],
) -> Result<[u8; GCM_TAG], SrtpError> {
    let nonce = Array::from(*iv);
    let tag = match key {
        GcmKey::A128(c) => c.encrypt_inout_detached(&nonce, aad, payload.into()),
        GcmKey::A256(c) => c.encrypt_inout_detached(&nonce, aad, payload.into()),
    }
    .map_err(|_| SrtpError::Malformed(Malformed::TooLong))?;
    let mut out = [0u8; GCM_TAG];
    out.copy_from_slice(&tag);
    Ok(out)
}

/// Verify and decrypt `payload` in place with GCM.
fn gcm_open(
    key: &GcmKey,
    iv: &[u8; 12],
    aad: &[u8],
    payload: &mut [u8],
    tag: &[u8; GCM_TAG],
) -> Result<(), SrtpError> {
    let nonce = Array::from(*iv);
    let tag = Array::from(*tag);
    match key {
        GcmKey::A128(c) => c.decrypt_inout_detached(&nonce, aad, payload.into(), &tag),
        GcmKey::A256(c) => c.decrypt_inout_detached(&nonce, aad, payload.into(), &tag),
    }
    .map_err(|_| SrtpError::AuthFailed)
}

impl SrtpContext {
    /// Create a context from an SDES master key and salt
    /// ([`Suite::key_len`] and [`Suite::salt_len`] bytes).
    ///
    /// # Errors
    /// [`Misuse`] for wrong key/salt lengths or out-of-range options,
    /// [`Unsupported`] for MKI or unauthenticated AEAD.
    pub fn new(
        suite: Suite,
        master_key: &[u8],
        master_salt: &[u8],
        options: SrtpOptions,
    ) -> Result<Self, SrtpError> {
        if master_key.len() != suite.key_len() {
            return Err(Misuse::KeyLength {
                expected: suite.key_len(),
                actual: master_key.len(),
            }
            .into());
        }
        if master_salt.len() != suite.salt_len() {
            return Err(Misuse::SaltLength {
                expected: suite.salt_len(),
                actual: master_salt.len(),
            }
            .into());
        }
        Self::validate(suite, &options)?;
        let rtp = SessionKeys::derive(suite, master_key, master_salt, false);
        let rtcp = SessionKeys::derive(suite, master_key, master_salt, true);
        Ok(Self::with_keys(suite, options, rtp, rtcp))
    }

    fn validate(suite: Suite, options: &SrtpOptions) -> Result<(), SrtpError> {
        if options.mki_len != 0 {
            return Err(Unsupported::Mki.into());
        }
        if suite.is_aead() && !options.authenticate_rtp {
            return Err(Unsupported::UnauthenticatedAead.into());
        }
        if options.replay_window == 0 || options.replay_window > MAX_REPLAY_WINDOW {
            return Err(Misuse::ReplayWindow.into());
        }
        if options.max_ssrcs == 0 {
            return Err(Misuse::MaxSsrcs.into());
        }
        Ok(())
    }

    fn with_keys(suite: Suite, options: SrtpOptions, rtp: SessionKeys, rtcp: SessionKeys) -> Self {
        Self {
            suite,
            options,
            rtp,
            rtcp,
            streams: Vec::with_capacity(options.max_ssrcs),
            rtp_packets: 0,
            rtcp_packets: 0,
        }
    }

    /// Build a context from session keys directly (the RFC 7714 vectors
    /// give session keys, not master keys).
    #[cfg(test)]
    pub(crate) fn from_session_keys(
        suite: Suite,
        key: &[u8],
        auth_key: &[u8],
        salt: &[u8],
        options: SrtpOptions,
    ) -> Self {
        let keys = SessionKeys::new(suite, key, auth_key, salt);
        Self::with_keys(suite, options, keys.clone(), keys)
    }

    /// Set the next SRTCP index to send for `ssrc` (tests only).
    #[cfg(test)]
    pub(crate) fn set_rtcp_index(&mut self, ssrc: u32, index: u32) {
        if let Ok(i) = self.stream(ssrc, true) {
            self.streams[i].rtcp_next = index;
        }
    }

    /// Create a context from SDES `inline:` key material: the master key
    /// followed by the master salt ([`Suite::key_salt_len`] bytes).
    ///
    /// # Errors
    /// As [`Self::new`]; a wrong total length is [`Misuse::KeyLength`]
    /// with the combined lengths.
    pub fn from_key_salt(
        suite: Suite,
        key_salt: &[u8],
        options: SrtpOptions,
    ) -> Result<Self, SrtpError> {
        if key_salt.len() != suite.key_salt_len() {
            return Err(Misuse::KeyLength {
                expected: suite.key_salt_len(),
                actual: key_salt.len(),
            }
            .into());
        }
        let (key, salt) = key_salt.split_at(suite.key_len());
        Self::new(suite, key, salt, options)
    }

    /// Pretend `n` SRTP packets were already processed (tests only).
    #[cfg(test)]
    pub(crate) fn set_rtp_packets(&mut self, n: u64) {
        self.rtp_packets = n;
    }

    /// Set the highest SRTP index of `ssrc` (tests only).
    #[cfg(test)]
    pub(crate) fn set_rtp_highest(&mut self, ssrc: u32, index: u64) {
        if let Ok(i) = self.stream(ssrc, true) {
            self.streams[i].rtp.advance(index);
        }
    }

    /// The suite this context runs.
    pub const fn suite(&self) -> Suite {
        self.suite
    }

    /// The options this context was built with.
    pub const fn options(&self) -> &SrtpOptions {
        &self.options
    }

    /// Bytes [`Self::protect_rtp`] appends (the SRTP tag, or 0 for
    /// `UNAUTHENTICATED_SRTP`).
    pub const fn rtp_overhead(&self) -> usize {
        if self.options.authenticate_rtp {
            self.suite.rtp_tag_len()
        } else {
            0
        }
    }

    /// Bytes [`Self::protect_rtcp`] appends (SRTCP index word and tag).
    pub const fn rtcp_overhead(&self) -> usize {
        self.suite.rtcp_overhead()
    }

    /// Index of `ssrc` in the table, inserting it when `insert` is set.
    fn stream(&mut self, ssrc: u32, insert: bool) -> Result<usize, SrtpError> {
        if let Some(i) = self.find(ssrc) {
            return Ok(i);
        }
        if !insert {
            return Err(SrtpError::TooManySsrcs);
        }
        if self.streams.len() >= self.options.max_ssrcs {
            return Err(SrtpError::TooManySsrcs);
        }
        // Capacity was reserved in `with_keys`: this push never allocates.
        self.streams.push(SsrcState {
            ssrc,
            rtp: ReplayWindow::new(),
            rtcp: ReplayWindow::new(),
            rtcp_next: 0,
        });
        Ok(self.streams.len() - 1)
    }

    fn find(&self, ssrc: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.ssrc == ssrc)
    }

    /// Protect the RTP packet in `buf[..len]` in place: encrypt the payload
    /// and append the tag in the tailroom. Returns the SRTP length.
    ///
    /// # Errors
    /// [`Malformed`] for unparsable RTP, [`Misuse::BufferTooSmall`] without
    /// tailroom for the tag, [`SrtpError::TooManySsrcs`],
    /// [`SrtpError::KeyExhausted`], and [`SrtpError::Replay`] for a sequence
    /// number that would fall before the stream's index 0.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        if self.rtp_packets >= RTP_LIFETIME {
            return Err(SrtpError::KeyExhausted);
        }
        let hdr = parse_rtp(&buf[..len])?;
        let tag_len = self.rtp_overhead();
        if buf.len() < len + tag_len {
            return Err(Misuse::BufferTooSmall.into());
        }
        let si = self.stream(hdr.ssrc, true)?;
        let window = &mut self.streams[si].rtp;
        let index = if window.started {
            estimate_index(window.highest, hdr.seq).ok_or_else(|| {
                if window.highest > u64::from(u16::MAX) {
                    SrtpError::KeyExhausted
                } else {
                    SrtpError::Replay
                }
            })?
        } else {
            u64::from(hdr.seq)
        };
        let roc = (index >> 16) as u32;
        let keys = &self.rtp;
        let encrypt = self.options.encrypt_rtp;
        match &keys.cipher {
            Cipher::Cm128 { enc, mac } => {
                if encrypt {
                    cm_xor(
                        enc,
                        &cm_iv(&keys.salt, hdr.ssrc, index),
                        &mut buf[hdr.len..len],
                    )?;
                }
                if tag_len > 0 {
                    let tag = hmac_sha1(mac, &buf[..len], Some(roc));
                    buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
                }
            }
            Cipher::Cm256 { enc, mac } => {
                if encrypt {
                    cm_xor(
                        enc,
                        &cm_iv(&keys.salt, hdr.ssrc, index),
                        &mut buf[hdr.len..len],
                    )?;
                }
                if tag_len > 0 {
                    let tag = hmac_sha1(mac, &buf[..len], Some(roc));
                    buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
                }
            }
            Cipher::Gcm(gcm) => {
                let iv = gcm_rtp_iv(&keys.salt, hdr.ssrc, index);
                let aad_len = if encrypt { hdr.len } else { len };
                let (aad, rest) = buf.split_at_mut(aad_len);
                let tag = gcm_seal(gcm, &iv, aad, &mut rest[..len - aad_len])?;
                buf[len..len + GCM_TAG].copy_from_slice(&tag);
            }
        }
        self.streams[si].rtp.advance(index);
        self.rtp_packets += 1;
        Ok(len + tag_len)
    }

    /// Unprotect the SRTP packet in `buf[..len]` in place: authenticate,
    /// check replay, decrypt. Returns the RTP length (tag removed).
    ///
    /// Nothing about the stream changes unless the packet authenticates.
    ///
    /// # Errors
    /// [`Malformed`], [`SrtpError::AuthFailed`], [`SrtpError::Replay`],
    /// [`SrtpError::TooManySsrcs`] (authentic packet of one SSRC too many),
    /// [`SrtpError::KeyExhausted`].
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        if self.rtp_packets >= RTP_LIFETIME {
            return Err(SrtpError::KeyExhausted);
        }
        let tag_len = self.rtp_overhead();
        if len < 12 + tag_len {
            return Err(Malformed::TooShort.into());
        }
        let body = len - tag_len;
        let hdr = parse_rtp(&buf[..body])?;
        let existing = self.find(hdr.ssrc);
        let window = existing.map_or(&FRESH, |i| &self.streams[i].rtp);
        let index = if window.started {
            estimate_index(window.highest, hdr.seq).ok_or_else(|| {
                if window.highest > u64::from(u16::MAX) {
                    SrtpError::KeyExhausted
                } else {
                    SrtpError::Replay
                }
            })?
        } else {
            u64::from(hdr.seq)
        };
        if tag_len > 0 && !window.check(index, self.options.replay_window) {
            return Err(SrtpError::Replay);
        }
        if existing.is_none() && self.streams.len() >= self.options.max_ssrcs {
            return Err(SrtpError::TooManySsrcs);
        }
        let roc = (index >> 16) as u32;
        let keys = &self.rtp;
        let decrypt = self.options.encrypt_rtp;
        match &keys.cipher {
            Cipher::Cm128 { enc, mac } => {
                cm_verify(mac, buf, body, len, roc)?;
                if decrypt {
                    cm_xor(
                        enc,
                        &cm_iv(&keys.salt, hdr.ssrc, index),
                        &mut buf[hdr.len..body],
                    )?;
                }
            }
            Cipher::Cm256 { enc, mac } => {
                cm_verify(mac, buf, body, len, roc)?;
                if decrypt {
                    cm_xor(
                        enc,
                        &cm_iv(&keys.salt, hdr.ssrc, index),
                        &mut buf[hdr.len..body],
                    )?;
                }
            }
            Cipher::Gcm(gcm) => {
                let iv = gcm_rtp_iv(&keys.salt, hdr.ssrc, index);
                let mut tag = [0u8; GCM_TAG];
                tag.copy_from_slice(&buf[body..len]);
                let aad_len = if decrypt { hdr.len } else { body };
                let (aad, rest) = buf.split_at_mut(aad_len);
                gcm_open(gcm, &iv, aad, &mut rest[..body - aad_len], &tag)?;
            }
        }
        let si = self.stream(hdr.ssrc, true)?;
        self.streams[si].rtp.commit(index);
        self.rtp_packets += 1;
        Ok(body)
    }

    /// Protect the RTCP compound packet in `buf[..len]` in place: encrypt
    /// (unless `UNENCRYPTED_SRTCP`), append the E flag/SRTCP index word and
    /// the tag. Returns the SRTCP length.
    ///
    /// # Errors
    /// [`Malformed`], [`Misuse::BufferTooSmall`], [`SrtpError::TooManySsrcs`],
    /// [`SrtpError::KeyExhausted`] once the SRTCP index would pass 2^31 - 1.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        if self.rtcp_packets >= RTCP_LIFETIME {
            return Err(SrtpError::KeyExhausted);
        }
        let ssrc = rtcp_ssrc(&buf[..len])?;
        let out_len = len + self.rtcp_overhead();
        if buf.len() < out_len {
            return Err(Misuse::BufferTooSmall.into());
        }
        let si = self.stream(ssrc, true)?;
        let index = self.streams[si].rtcp_next;
        if index & E_FLAG != 0 {
            return Err(SrtpError::KeyExhausted);
        }
        let encrypt = self.options.encrypt_rtcp;
        let word = if encrypt { index | E_FLAG } else { index }.to_be_bytes();
        let keys = &self.rtcp;
        match &keys.cipher {
            Cipher::Cm128 { enc, mac } => {
                if encrypt {
                    let iv = cm_iv(&keys.salt, ssrc, u64::from(index));
                    cm_xor(enc, &iv, &mut buf[RTCP_HEADER..len])?;
                }
                cm_rtcp_tag(mac, buf, len, word);
            }
            Cipher::Cm256 { enc, mac } => {
                if encrypt {
                    let iv = cm_iv(&keys.salt, ssrc, u64::from(index));
                    cm_xor(enc, &iv, &mut buf[RTCP_HEADER..len])?;
                }
                cm_rtcp_tag(mac, buf, len, word);
            }
            Cipher::Gcm(gcm) => {
                let iv = gcm_rtcp_iv(&keys.salt, ssrc, index);
                let tag = if encrypt {
                    let mut aad = [0u8; RTCP_HEADER + 4];
                    aad[..RTCP_HEADER].copy_from_slice(&buf[..RTCP_HEADER]);
                    aad[RTCP_HEADER..].copy_from_slice(&word);
                    gcm_seal(gcm, &iv, &aad, &mut buf[RTCP_HEADER..len])?
                } else {
                    // AAD is the whole packet followed by the index word.
                    buf[len..len + 4].copy_from_slice(&word);
                    gcm_seal(gcm, &iv, &buf[..len + 4], &mut [])?
                };
                buf[len..len + GCM_TAG].copy_from_slice(&tag);
                buf[len + GCM_TAG..out_len].copy_from_slice(&word);
            }
        }
        self.streams[si].rtcp_next = index + 1;
        self.rtcp_packets += 1;
        Ok(out_len)
    }

    /// Unprotect the SRTCP packet in `buf[..len]` in place: authenticate,
    /// check replay, decrypt if the E flag is set. Returns the RTCP length.
    ///
    /// # Errors
    /// [`Malformed`], [`SrtpError::AuthFailed`], [`SrtpError::Replay`],
    /// [`SrtpError::TooManySsrcs`], [`SrtpError::KeyExhausted`].
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        check_len(buf, len)?;
        if self.rtcp_packets >= RTCP_LIFETIME {
            return Err(SrtpError::KeyExhausted);
        }
        let overhead = self.rtcp_overhead();
        if len < RTCP_HEADER + overhead {
            return Err(Malformed::TooShort.into());
        }
        let ssrc = rtcp_ssrc(&buf[..len])?;
        let body = len - overhead;
        let tag_len = self.suite.rtcp_tag_len();
        // AES-CM: body | word | tag.  GCM: body | tag | word.
        let word_at = if self.suite.is_aead() { len - 4 } else { body };
        let word = u32::from_be_bytes([
            buf[word_at],
            buf[word_at + 1],
            buf[word_at + 2],
            buf[word_at + 3],
        ]);
        let encrypted = word & E_FLAG != 0;
        let index = word & !E_FLAG;
        let existing = self.find(ssrc);
        let window = existing.map_or(&FRESH, |i| &self.streams[i].rtcp);
        if !window.check(u64::from(index), self.options.replay_window) {
            return Err(SrtpError::Replay);
        }
        if existing.is_none() && self.streams.len() >= self.options.max_ssrcs {
            return Err(SrtpError::TooManySsrcs);
        }
        let keys = &self.rtcp;
        match &keys.cipher {
            Cipher::Cm128 { enc, mac } => {
                cm_rtcp_verify(mac, buf, len, tag_len)?;
                if encrypted {
                    let iv = cm_iv(&keys.salt, ssrc, u64::from(index));
                    cm_xor(enc, &iv, &mut buf[RTCP_HEADER..body])?;
                }
            }
            Cipher::Cm256 { enc, mac } => {
                cm_rtcp_verify(mac, buf, len, tag_len)?;
                if encrypted {
                    let iv = cm_iv(&keys.salt, ssrc, u64::from(index));
                    cm_xor(enc, &iv, &mut buf[RTCP_HEADER..body])?;
                }
            }
            Cipher::Gcm(gcm) => {
                let iv = gcm_rtcp_iv(&keys.salt, ssrc, index);
                let mut tag = [0u8; GCM_TAG];
                tag.copy_from_slice(&buf[body..body + GCM_TAG]);
                let word = word.to_be_bytes();
                if encrypted {
                    let mut aad = [0u8; RTCP_HEADER + 4];
                    aad[..RTCP_HEADER].copy_from_slice(&buf[..RTCP_HEADER]);
                    aad[RTCP_HEADER..].copy_from_slice(&word);
                    gcm_open(gcm, &iv, &aad, &mut buf[RTCP_HEADER..body], &tag)?;
                } else {
                    // Lay the index word after the packet to form the AAD;
                    // it only overwrites the (already copied) tag.
                    buf[body..body + 4].copy_from_slice(&word);
                    gcm_open(gcm, &iv, &buf[..body + 4], &mut [], &tag)?;
                }
            }
        }
        let si = self.stream(ssrc, true)?;
        self.streams[si].rtcp.commit(u64::from(index));
        self.rtcp_packets += 1;
        Ok(body)
    }
}

/// The window of an SSRC not seen yet.
static FRESH: ReplayWindow = ReplayWindow::new();

/// Verify the truncated HMAC-SHA1 tag at `buf[body..len]` over
/// `buf[..body] || ROC`.
fn cm_verify(
    mac: &Hmac<Sha1>,
    buf: &[u8],
    body: usize,
    len: usize,
    roc: u32,
) -> Result<(), SrtpError> {
    if body == len {
        return Ok(()); // UNAUTHENTICATED_SRTP
    }
    let tag = hmac_sha1(mac, &buf[..body], Some(roc));
    if bool::from(tag[..len - body].ct_eq(&buf[body..len])) {
        Ok(())
    } else {
        Err(SrtpError::AuthFailed)
    }
}

/// Write `word` at `buf[len..len+4]` and the 80-bit tag over
/// `buf[..len+4]` after it.
fn cm_rtcp_tag(mac: &Hmac<Sha1>, buf: &mut [u8], len: usize, word: [u8; 4]) {
    buf[len..len + 4].copy_from_slice(&word);
    let tag = hmac_sha1(mac, &buf[..len + 4], None);
    buf[len + 4..len + 14].copy_from_slice(&tag[..10]);
}

/// Verify the SRTCP tag in the last `tag_len` bytes of `buf[..len]`.
fn cm_rtcp_verify(
    mac: &Hmac<Sha1>,
    buf: &[u8],
    len: usize,
    tag_len: usize,
) -> Result<(), SrtpError> {
    let auth_end = len - tag_len;
    let tag = hmac_sha1(mac, &buf[..auth_end], None);
    if bool::from(tag[..tag_len].ct_eq(&buf[auth_end..len])) {
        Ok(())
    } else {
        Err(SrtpError::AuthFailed)
    }
}
