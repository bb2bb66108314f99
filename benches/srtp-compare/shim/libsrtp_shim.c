/*
 * A small C face for libsrtp2, so the Rust side never mirrors the layout of
 * srtp_policy_t. One session = one suite, one master key, one direction,
 * any SSRC (libsrtp's ssrc_any_inbound / ssrc_any_outbound wildcards).
 *
 * Return values: 0 on success, a positive srtp_err_status_t from libsrtp, or
 * a negative SHIM_ERR_* code for a mistake this file catches itself.
 * The suite numbers and error codes are mirrored in src/libsrtp.rs.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

enum {
    SHIM_AES_CM_128_HMAC_SHA1_80 = 1,
    SHIM_AES_CM_128_HMAC_SHA1_32 = 2,
    SHIM_AES_256_CM_HMAC_SHA1_80 = 3,
    SHIM_AES_256_CM_HMAC_SHA1_32 = 4,
    SHIM_AEAD_AES_128_GCM = 5,
    SHIM_AEAD_AES_256_GCM = 6,
};

#define SHIM_ERR_SUITE (-1)
#define SHIM_ERR_KEY_LEN (-2)
#define SHIM_ERR_ROOM (-3)
#define SHIM_ERR_ALLOC (-4)
#define SHIM_ERR_LEN (-5)

/* Tailroom protect needs: libsrtp may write a tag plus an MKI, and SRTCP
 * adds its 4-byte E flag/index word. */
#define SHIM_TRAILER_ROOM (SRTP_MAX_TRAILER_LEN + 4)

struct sluice_libsrtp {
    srtp_t session;
    /* libsrtp is handed a pointer to the key; keep our copy alive for as
     * long as the session, whatever libsrtp does with the pointer. */
    unsigned char key[SRTP_MAX_KEY_LEN];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = (int)srtp_err_status_init_fail;
/* srtp_init is not thread-safe, and with NSS every session set-up and
 * tear-down opens or closes an NSS context: serialise both. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;

static void init_library(void) { init_status = (int)srtp_init(); }

/* Fill the SRTP and SRTCP crypto policies for one suite and report the
 * length of key || salt it expects, or return SHIM_ERR_SUITE. */
static int set_policies(int suite, srtp_crypto_policy_t *rtp,
                        srtp_crypto_policy_t *rtcp, size_t *key_salt_len)
{
    switch (suite) {
    case SHIM_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
        *key_salt_len = SRTP_AES_ICM_128_KEY_LEN_WSALT;
        return 0;
    case SHIM_AES_CM_128_HMAC_SHA1_32:
        /* RFC 4568 6.2: the _32 suites keep an 80-bit tag on SRTCP. */
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
        *key_salt_len = SRTP_AES_ICM_128_KEY_LEN_WSALT;
        return 0;
    case SHIM_AES_256_CM_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
        *key_salt_len = SRTP_AES_ICM_256_KEY_LEN_WSALT;
        return 0;
    case SHIM_AES_256_CM_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
        *key_salt_len = SRTP_AES_ICM_256_KEY_LEN_WSALT;
        return 0;
    case SHIM_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
        *key_salt_len = SRTP_AES_GCM_128_KEY_LEN_WSALT;
        return 0;
    case SHIM_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
        *key_salt_len = SRTP_AES_GCM_256_KEY_LEN_WSALT;
        return 0;
    default:
        return SHIM_ERR_SUITE;
    }
}

size_t sluice_libsrtp_trailer_room(void) { return SHIM_TRAILER_ROOM; }

const char *sluice_libsrtp_version(void) { return srtp_get_version_string(); }

int sluice_libsrtp_create(int suite, int outbound,
                          const unsigned char *key_salt, size_t key_salt_len,
                          struct sluice_libsrtp **out)
{
    srtp_policy_t policy;
    size_t want = 0;
    struct sluice_libsrtp *s;
    int rc;

    *out = NULL;
    pthread_once(&init_once, init_library);
    if (init_status != (int)srtp_err_status_ok)
        return init_status;

    memset(&policy, 0, sizeof(policy));
    rc = set_policies(suite, &policy.rtp, &policy.rtcp, &want);
    if (rc != 0)
        return rc;
    if (key_salt_len != want || want > SRTP_MAX_KEY_LEN)
        return SHIM_ERR_KEY_LEN;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SHIM_ERR_ALLOC;
    memcpy(s->key, key_salt, key_salt_len);

    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = s->key;
    policy.window_size = 0; /* libsrtp's default replay window (128) */
    policy.allow_repeat_tx = 0;
    policy.next = NULL;

    pthread_mutex_lock(&setup_lock);
    rc = (int)srtp_create(&s->session, &policy);
    pthread_mutex_unlock(&setup_lock);
    if (rc != (int)srtp_err_status_ok) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sluice_libsrtp_free(struct sluice_libsrtp *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&setup_lock);
    srtp_dealloc(s->session);
    pthread_mutex_unlock(&setup_lock);
    free(s);
}

/* Check that buf[..*len] fits in cap with `room` bytes to spare. */
static int check_room(int len, size_t cap, size_t room)
{
    if (len < 0 || (size_t)len > cap)
        return SHIM_ERR_LEN;
    if (cap - (size_t)len < room)
        return SHIM_ERR_ROOM;
    return 0;
}

int sluice_libsrtp_protect_rtp(struct sluice_libsrtp *s, unsigned char *buf,
                               size_t cap, int *len)
{
    int rc = check_room(*len, cap, SHIM_TRAILER_ROOM);
    return rc != 0 ? rc : (int)srtp_protect(s->session, buf, len);
}

int sluice_libsrtp_unprotect_rtp(struct sluice_libsrtp *s, unsigned char *buf,
                                 size_t cap, int *len)
{
    int rc = check_room(*len, cap, 0);
    return rc != 0 ? rc : (int)srtp_unprotect(s->session, buf, len);
}

int sluice_libsrtp_protect_rtcp(struct sluice_libsrtp *s, unsigned char *buf,
                                size_t cap, int *len)
{
    int rc = check_room(*len, cap, SHIM_TRAILER_ROOM);
    return rc != 0 ? rc : (int)srtp_protect_rtcp(s->session, buf, len);
}

int sluice_libsrtp_unprotect_rtcp(struct sluice_libsrtp *s,
                                  unsigned char *buf, size_t cap, int *len)
{
    int rc = check_room(*len, cap, 0);
    return rc != 0 ? rc : (int)srtp_unprotect_rtcp(s->session, buf, len);
}
