//! RFC 3711 section 4.3 key derivation with the AES-CM PRF, key derivation
//! rate 0 (session keys derived once per master key).

use aes::{Aes128, Aes256};
use ctr::cipher::{KeyIvInit, StreamCipher};

/// SRTP encryption key label.
pub(crate) const LABEL_RTP_ENCRYPTION: u8 = 0x00;
/// SRTP authentication key label.
pub(crate) const LABEL_RTP_AUTH: u8 = 0x01;
/// SRTP salt label.
pub(crate) const LABEL_RTP_SALT: u8 = 0x02;
/// SRTCP encryption key label.
pub(crate) const LABEL_RTCP_ENCRYPTION: u8 = 0x03;
/// SRTCP authentication key label.
pub(crate) const LABEL_RTCP_AUTH: u8 = 0x04;
/// SRTCP salt label.
pub(crate) const LABEL_RTCP_SALT: u8 = 0x05;

/// Fill `out` with the AES-CM PRF output for `label`.
///
/// `master_salt` is 14 bytes (AES-CM suites) or 12 bytes (AES-GCM); a
/// 12-byte salt is multiplied by 2^16 (zero bytes appended) to form the
/// 112-bit salt, per RFC 7714 erratum 4938. With kdr = 0 the key id is the
/// label alone: `x = (label << 48) XOR salt`, IV = `x * 2^16`.
///
/// `master_key` must be 16 or 32 bytes; the caller checked that.
pub(crate) fn derive(master_key: &[u8], master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    let n = master_salt.len().min(14);
    iv[..n].copy_from_slice(&master_salt[..n]);
    iv[7] ^= label;
    out.fill(0);
    match master_key.len() {
        32 => {
            if let Ok(mut c) = ctr::Ctr128BE::<Aes256>::new_from_slices(master_key, &iv) {
                c.apply_keystream(out);
            }
        }
        _ => {
            if let Ok(mut c) = ctr::Ctr128BE::<Aes128>::new_from_slices(master_key, &iv) {
                c.apply_keystream(out);
            }
        }
    }
}
