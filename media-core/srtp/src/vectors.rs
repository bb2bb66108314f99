//! Published test vectors: RFC 3711 appendix B.2/B.3, RFC 7714 sections
//! 16 and 17, and libsrtp's `srtp_validate` known answers for AES-CM.

use aes::cipher::KeyInit;
use aes::Aes128Enc;

use crate::context::{cm_iv, cm_xor};
use crate::{kdf, SrtpContext, SrtpError, SrtpOptions, Suite};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex is valid"))
        .collect()
}

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let enc = Aes128Enc::new_from_slice(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();
    let mut salt = [0u8; 14];
    salt.copy_from_slice(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
    let iv = cm_iv(&salt, 0, 0);
    assert_eq!(iv[..], hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")[..]);
    let mut ks = vec![0u8; 0xff02 * 16];
    cm_xor(&enc, &iv, &mut ks).unwrap();
    assert_eq!(
        ks[..48],
        hex("E03EAD0935C95E80E166B16DD92B4EB4
             D23513162B02D0F72A43A2FE4A5F97AB
             41E95B3BB0A2E8DD477901E4FCA894C0")[..]
    );
    assert_eq!(
        ks[0xfeff * 16..],
        hex("EC8CDF7398607CB0F2D21675EA9EA1E4
             362B7C3C6773516318A077D7FC5073AE
             6A2CC3787889374FBEB4C81B17BA6C44")[..]
    );
}

#[test]
fn rfc3711_b3_key_derivation() {
    let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
    let mut out = [0u8; 16];
    kdf::derive(&key, &salt, kdf::LABEL_RTP_ENCRYPTION, &mut out);
    assert_eq!(out[..], hex("C61E7A93744F39EE10734AFE3FF7A087")[..]);
    let mut out = [0u8; 14];
    kdf::derive(&key, &salt, kdf::LABEL_RTP_SALT, &mut out);
    assert_eq!(out[..], hex("30CBBC08863D8C85D49DB34A9AE1")[..]);
    let mut out = [0u8; 94];
    kdf::derive(&key, &salt, kdf::LABEL_RTP_AUTH, &mut out);
    assert_eq!(
        out[..],
        hex(
            "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE
             E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25
             6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
        )[..]
    );
}

const GCM_KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const GCM_KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const GCM_SALT: &str = "517569642070726f2071756f";
const GCM_RTP: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                       20646976 69736120 696e2070 61727465 73207472 6573";
const GCM_RTCP: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                        4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
const RTCP_SSRC: u32 = 0x4d61_7273;

fn gcm(suite: Suite, options: SrtpOptions) -> SrtpContext {
    let key = if suite == Suite::AeadAes128Gcm {
        GCM_KEY_128
    } else {
        GCM_KEY_256
    };
    SrtpContext::from_session_keys(suite, &hex(key), &[], &hex(GCM_SALT), options)
}

/// Protect `plain` and compare with `wire`, then unprotect `wire` back.
fn both_ways(mut tx: SrtpContext, mut rx: SrtpContext, rtcp: bool, plain: &[u8], wire: &[u8]) {
    let mut buf = [0u8; 256];
    buf[..plain.len()].copy_from_slice(plain);
    let n = if rtcp {
        tx.protect_rtcp(&mut buf, plain.len())
    } else {
        tx.protect_rtp(&mut buf, plain.len())
    }
    .unwrap();
    assert_eq!(buf[..n], wire[..], "protect");
    let mut buf = [0u8; 256];
    buf[..wire.len()].copy_from_slice(wire);
    let n = if rtcp {
        rx.unprotect_rtcp(&mut buf, wire.len())
    } else {
        rx.unprotect_rtp(&mut buf, wire.len())
    }
    .unwrap();
    assert_eq!(buf[..n], plain[..], "unprotect");
    buf[..wire.len()].copy_from_slice(wire);
    let again = if rtcp {
        rx.unprotect_rtcp(&mut buf, wire.len())
    } else {
        rx.unprotect_rtp(&mut buf, wire.len())
    };
    assert_eq!(again, Err(SrtpError::Replay));
}

fn rtcp_pair(suite: Suite, options: SrtpOptions) -> (SrtpContext, SrtpContext) {
    let mut tx = gcm(suite, options);
    tx.set_rtcp_index(RTCP_SSRC, 0x5d4);
    (tx, gcm(suite, options))
}

#[test]
fn rfc7714_16_1_rtp_aes_128_gcm() {
    let wire = hex(
        "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5
         0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce",
    );
    let s = Suite::AeadAes128Gcm;
    let o = SrtpOptions::default();
    both_ways(gcm(s, o), gcm(s, o), false, &hex(GCM_RTP), &wire);
}

#[test]
fn rfc7714_16_2_rtp_aes_256_gcm() {
    let wire = hex(
        "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238
         9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13",
    );
    let s = Suite::AeadAes256Gcm;
    let o = SrtpOptions::default();
    both_ways(gcm(s, o), gcm(s, o), false, &hex(GCM_RTP), &wire);
}

#[test]
fn rfc7714_17_1_srtcp_aes_128_gcm() {
    let wire = hex(
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d
         c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
         45d9eade 800005d4",
    );
    let (tx, rx) = rtcp_pair(Suite::AeadAes128Gcm, SrtpOptions::default());
    both_ways(tx, rx, true, &hex(GCM_RTCP), &wire);
}

#[test]
fn rfc7714_17_2_srtcp_aes_256_gcm() {
    let wire = hex(
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50
         a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c
         b26ac3be 800005d4",
    );
    let (tx, rx) = rtcp_pair(Suite::AeadAes256Gcm, SrtpOptions::default());
    both_ways(tx, rx, true, &hex(GCM_RTCP), &wire);
}

#[test]
fn rfc7714_17_3_srtcp_aes_128_gcm_unencrypted() {
    let wire = hex(&format!(
        "{GCM_RTCP} 841dd968 3dd78ec9 2ae58790 125f62b3 000005d4"
    ));
    let o = SrtpOptions::default().with_encrypt_rtcp(false);
    let (tx, rx) = rtcp_pair(Suite::AeadAes128Gcm, o);
    both_ways(tx, rx, true, &hex(GCM_RTCP), &wire);
}

#[test]
fn rfc7714_17_4_srtcp_aes_256_gcm_unencrypted() {
    let wire = hex(&format!(
        "{GCM_RTCP} 91db4afb feee5a97 8fab4393 ed2615fe 000005d4"
    ));
    let o = SrtpOptions::default().with_encrypt_rtcp(false);
    let (tx, rx) = rtcp_pair(Suite::AeadAes256Gcm, o);
    both_ways(tx, rx, true, &hex(GCM_RTCP), &wire);
}

/// libsrtp `srtp_validate` known answers (AES_CM_128_HMAC_SHA1_80, master
/// key and salt of RFC 3711 B.3), through the full key derivation.
#[test]
fn libsrtp_known_answer_aes_cm_128_sha1_80() {
    let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
    let s = Suite::AesCm128HmacSha1_80;
    let ctx = || SrtpContext::new(s, &key, &salt, SrtpOptions::default()).unwrap();
    let rtp = hex("800f1234 decafbad cafebabe abababab abababab abababab abababab");
    let srtp = hex(
        "800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc
         99ea179b 8dbb",
    );
    both_ways(ctx(), ctx(), false, &rtp, &srtp);

    let rtcp = hex("81c8000b cafebabe abababab abababab abababab abababab");
    let srtcp = hex(
        "81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001 993e08cd
         54d6c123 0798",
    );
    let mut tx = ctx();
    tx.set_rtcp_index(0xcafe_babe, 1);
    both_ways(tx, ctx(), true, &rtcp, &srtcp);
}

/// RFC 3711 section 9.2: SRTCP refuses once the 31-bit index is used up.
#[test]
fn srtcp_index_exhaustion_refuses() {
    let mut tx = gcm(Suite::AeadAes128Gcm, SrtpOptions::default());
    tx.set_rtcp_index(RTCP_SSRC, 0x7fff_ffff);
    let plain = hex(GCM_RTCP);
    let mut buf = [0u8; 256];
    buf[..plain.len()].copy_from_slice(&plain);
    assert!(tx.protect_rtcp(&mut buf, plain.len()).is_ok());
    buf[..plain.len()].copy_from_slice(&plain);
    assert_eq!(
        tx.protect_rtcp(&mut buf, plain.len()),
        Err(SrtpError::KeyExhausted)
    );
}

/// RFC 3711 section 9.2: SRTP refuses after 2^48 packets, and when the
/// rollover counter would wrap past 2^32.
#[test]
fn srtp_key_lifetime_refuses() {
    let s = Suite::AesCm128HmacSha1_80;
    let mut tx = SrtpContext::new(s, &[1; 16], &[2; 14], SrtpOptions::default()).unwrap();
    let mut buf = [0u8; 64];
    let rtp = [0x80, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4];
    buf[..16].copy_from_slice(&rtp);
    tx.set_rtp_packets((1 << 48) - 1);
    assert!(tx.protect_rtp(&mut buf, 16).is_ok());
    buf[..16].copy_from_slice(&rtp);
    assert_eq!(tx.protect_rtp(&mut buf, 16), Err(SrtpError::KeyExhausted));

    let mut tx = SrtpContext::new(s, &[1; 16], &[2; 14], SrtpOptions::default()).unwrap();
    tx.set_rtp_highest(9, (u64::from(u32::MAX) << 16) | 0xfff0);
    buf[..16].copy_from_slice(&rtp);
    assert!(tx.protect_rtp(&mut buf, 16).is_ok(), "last ROC, seq 0xfffe");
    let mut wrap = rtp;
    wrap[2..4].copy_from_slice(&[0, 1]);
    buf[..16].copy_from_slice(&wrap);
    assert_eq!(tx.protect_rtp(&mut buf, 16), Err(SrtpError::KeyExhausted));
}

#[test]
fn sdes_inline_key_material_splits_key_then_salt() {
    let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
    let s = Suite::AesCm128HmacSha1_80;
    let mut a = SrtpContext::new(s, &key, &salt, SrtpOptions::default()).unwrap();
    let both: Vec<u8> = key.iter().chain(&salt).copied().collect();
    let mut b = SrtpContext::from_key_salt(s, &both, SrtpOptions::default()).unwrap();
    let rtp = hex("800f1234 decafbad cafebabe abababab");
    let (mut x, mut y) = ([0u8; 64], [0u8; 64]);
    x[..16].copy_from_slice(&rtp);
    y[..16].copy_from_slice(&rtp);
    assert_eq!(a.protect_rtp(&mut x, 16), b.protect_rtp(&mut y, 16));
    assert_eq!(x, y);
    assert!(SrtpContext::from_key_salt(s, &both[1..], SrtpOptions::default()).is_err());
}
