/*
 * crypto.c — every use of OpenSSL and libargon2 in BlazeDB: key derivation
 * (Argon2id, PBKDF2-HMAC-SHA256), AES-256-GCM key wrapping, HKDF-SHA256,
 * HMAC/SHA-256, and the per-page AEAD.  See crypto.h.
 *
 * The page AEAD keeps a pool of pre-keyed EVP_CIPHER_CTXs per key (one for
 * sealing, one for opening in each pooled slot): a seal or open only sets
 * the IV, so no AES key schedule or GHASH table is computed per page.
 */
#include "crypto.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- page AEAD ----------------------------------------------------------- */

typedef struct CtxPair {
    EVP_CIPHER_CTX *enc, *dec;
    struct CtxPair *next;
} CtxPair;

struct CryptoAead {
    uint8_t key[CRYPTO_KEY_LEN];
    int plain;
    pthread_mutex_t mu;
    CtxPair *free_list;
};

static const EVP_CIPHER *gcm_cipher(void)
{
    return EVP_aes_256_gcm();
}

static CtxPair *pair_new(const CryptoAead *a)
{
    CtxPair *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->enc = EVP_CIPHER_CTX_new();
    p->dec = EVP_CIPHER_CTX_new();
    if (!p->enc || !p->dec ||
        EVP_EncryptInit_ex(p->enc, gcm_cipher(), NULL, a->key, NULL) != 1 ||
        EVP_DecryptInit_ex(p->dec, gcm_cipher(), NULL, a->key, NULL) != 1) {
        EVP_CIPHER_CTX_free(p->enc);
        EVP_CIPHER_CTX_free(p->dec);
        free(p);
        return NULL;
    }
    return p;
}

static CtxPair *pair_get(CryptoAead *a)
{
    pthread_mutex_lock(&a->mu);
    CtxPair *p = a->free_list;
    if (p)
        a->free_list = p->next;
    pthread_mutex_unlock(&a->mu);
    return p ? p : pair_new(a);
}

static void pair_put(CryptoAead *a, CtxPair *p)
{
    pthread_mutex_lock(&a->mu);
    p->next = a->free_list;
    a->free_list = p;
    pthread_mutex_unlock(&a->mu);
}

CryptoAead *crypto_aead_new(const uint8_t key[CRYPTO_KEY_LEN])
{
    CryptoAead *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    memcpy(a->key, key, CRYPTO_KEY_LEN);
    pthread_mutex_init(&a->mu, NULL);
    CtxPair *p = pair_new(a); /* fail early if OpenSSL cannot do GCM */
    if (!p) {
        crypto_aead_free(a);
        return NULL;
    }
    pair_put(a, p);
    return a;
}

CryptoAead *crypto_aead_new_plain(void)
{
    CryptoAead *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->plain = 1;
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void crypto_aead_free(CryptoAead *a)
{
    if (!a)
        return;
    CtxPair *p = a->free_list;
    while (p) {
        CtxPair *n = p->next;
        EVP_CIPHER_CTX_free(p->enc);
        EVP_CIPHER_CTX_free(p->dec);
        free(p);
        p = n;
    }
    pthread_mutex_destroy(&a->mu);
    OPENSSL_cleanse(a->key, sizeof a->key);
    free(a);
}

int crypto_aead_is_plain(const CryptoAead *a) { return a->plain; }

/* SHA-256, fetched from the provider once: EVP_sha256() makes every
 * digest look the implementation up again (a tenth of the CPU of a small
 * commit, whose log frames are chained by SHA-256).  NULL only when the
 * fetch failed; the digest functions then report an internal error. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md;
}

/* Tag of a plaintext page: first 16 bytes of SHA-256(ad || data). */
static int plain_tag(const void *ad, size_t adlen, const uint8_t *data, size_t n,
                     uint8_t tag[CRYPTO_TAG_LEN])
{
    uint8_t h[32];
    unsigned int hl = 0;
    const EVP_MD *md = sha256();
    EVP_MD_CTX *c = md ? EVP_MD_CTX_new() : NULL;
    int ok = c && EVP_DigestInit_ex(c, md, NULL) == 1 &&
             EVP_DigestUpdate(c, ad, adlen) == 1 && EVP_DigestUpdate(c, data, n) == 1 &&
             EVP_DigestFinal_ex(c, h, &hl) == 1;
    EVP_MD_CTX_free(c);
    if (!ok)
        return CRYPTO_EINTERNAL;
    memcpy(tag, h, CRYPTO_TAG_LEN);
    return CRYPTO_OK;
}

int crypto_aead_seal(CryptoAead *a, const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const void *ad, size_t adlen, const uint8_t *in, size_t n,
                     uint8_t *out, uint8_t tag[CRYPTO_TAG_LEN])
{
    if (n > INT32_MAX || adlen > INT32_MAX)
        return CRYPTO_EINVAL;
    if (a->plain) {
        if (in != out)
            memmove(out, in, n);
        return plain_tag(ad, adlen, out, n, tag);
    }
    CtxPair *p = pair_get(a);
    if (!p)
        return CRYPTO_ENOMEM;
    int len, ok = EVP_EncryptInit_ex(p->enc, NULL, NULL, NULL, nonce) == 1 &&
                  (adlen == 0 || EVP_EncryptUpdate(p->enc, NULL, &len, ad, (int)adlen) == 1) &&
                  (n == 0 || EVP_EncryptUpdate(p->enc, out, &len, in, (int)n) == 1) &&
                  EVP_EncryptFinal_ex(p->enc, out + n, &len) == 1 &&
                  EVP_CIPHER_CTX_ctrl(p->enc, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) == 1;
    pair_put(a, p);
    return ok ? CRYPTO_OK : CRYPTO_EINTERNAL;
}

int crypto_aead_open(CryptoAead *a, const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const void *ad, size_t adlen, const uint8_t *in, size_t n,
                     uint8_t *out, const uint8_t tag[CRYPTO_TAG_LEN])
{
    if (n > INT32_MAX || adlen > INT32_MAX)
        return CRYPTO_EINVAL;
    if (a->plain) {
        uint8_t t[CRYPTO_TAG_LEN];
        if (in != out)
            memmove(out, in, n);
        int rc = plain_tag(ad, adlen, out, n, t);
        if (rc)
            return rc;
        return CRYPTO_memcmp(t, tag, CRYPTO_TAG_LEN) == 0 ? CRYPTO_OK : CRYPTO_EAUTH;
    }
    CtxPair *p = pair_get(a);
    if (!p)
        return CRYPTO_ENOMEM;
    uint8_t tg[CRYPTO_TAG_LEN];
    memcpy(tg, tag, sizeof tg);
    int len;
    int ok = EVP_DecryptInit_ex(p->dec, NULL, NULL, NULL, nonce) == 1 &&
             (adlen == 0 || EVP_DecryptUpdate(p->dec, NULL, &len, ad, (int)adlen) == 1) &&
             (n == 0 || EVP_DecryptUpdate(p->dec, out, &len, in, (int)n) == 1) &&
             EVP_CIPHER_CTX_ctrl(p->dec, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, tg) == 1;
    int rc = CRYPTO_EINTERNAL;
    if (ok)
        rc = EVP_DecryptFinal_ex(p->dec, out + n, &len) == 1 ? CRYPTO_OK : CRYPTO_EAUTH;
    pair_put(a, p);
    return rc;
}

/* ---- one-shot GCM (key wrapping) ---------------------------------------------- */

static int gcm_once(int enc, const uint8_t key[CRYPTO_KEY_LEN],
                    const uint8_t nonce[CRYPTO_NONCE_LEN], const void *ad, size_t adlen,
                    const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[CRYPTO_TAG_LEN])
{
    CryptoAead *a = crypto_aead_new(key);
    if (!a)
        return CRYPTO_ENOMEM;
    int rc = enc ? crypto_aead_seal(a, nonce, ad, adlen, in, n, out, tag)
                 : crypto_aead_open(a, nonce, ad, adlen, in, n, out, tag);
    crypto_aead_free(a);
    return rc;
}

int crypto_wrap_key(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t dk[CRYPTO_KEY_LEN],
                    const uint8_t nonce[CRYPTO_NONCE_LEN], const void *ad, size_t adlen,
                    uint8_t out[CRYPTO_WRAPPED_LEN])
{
    memcpy(out, nonce, CRYPTO_NONCE_LEN);
    return gcm_once(1, kek, nonce, ad, adlen, dk, CRYPTO_KEY_LEN, out + CRYPTO_NONCE_LEN,
                    out + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN);
}

int crypto_unwrap_key(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t in[CRYPTO_WRAPPED_LEN],
                      const void *ad, size_t adlen, uint8_t dk[CRYPTO_KEY_LEN])
{
    uint8_t tag[CRYPTO_TAG_LEN], tmp[CRYPTO_KEY_LEN];
    memcpy(tag, in + CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN, CRYPTO_TAG_LEN);
    int rc = gcm_once(0, kek, in, ad, adlen, in + CRYPTO_NONCE_LEN, CRYPTO_KEY_LEN, tmp, tag);
    if (rc == CRYPTO_OK)
        memcpy(dk, tmp, CRYPTO_KEY_LEN);
    OPENSSL_cleanse(tmp, sizeof tmp);
    return rc;
}

/* ---- KDFs ------------------------------------------------------------------------ */

int crypto_derive_kek(const void *pw, size_t pwlen, const CryptoKdfParams *kp,
                      uint8_t kek[CRYPTO_KEY_LEN])
{
    if (!kp || (!pw && pwlen))
        return CRYPTO_EINVAL;
    if (kp->kdf == CRYPTO_KDF_PBKDF2_SHA256) {
        if (kp->iterations < CRYPTO_PBKDF2_MIN_ITER || kp->iterations > CRYPTO_PBKDF2_MAX_ITER ||
            pwlen > INT32_MAX)
            return CRYPTO_EINVAL;
        return PKCS5_PBKDF2_HMAC(pw ? pw : "", (int)pwlen, kp->salt, CRYPTO_SALT_LEN,
                                 (int)kp->iterations, EVP_sha256(), CRYPTO_KEY_LEN, kek) == 1
                   ? CRYPTO_OK : CRYPTO_EINTERNAL;
    }
    if (kp->kdf == CRYPTO_KDF_ARGON2ID) {
        if (kp->iterations < CRYPTO_ARGON2_MIN_T || kp->iterations > CRYPTO_ARGON2_MAX_T ||
            kp->parallelism < 1 || kp->parallelism > CRYPTO_ARGON2_MAX_P ||
            kp->memory_kib < CRYPTO_ARGON2_MIN_M || kp->memory_kib > CRYPTO_ARGON2_MAX_M ||
            kp->memory_kib < 8 * kp->parallelism || pwlen > UINT32_MAX)
            return CRYPTO_EINVAL;
        int rc = argon2id_hash_raw(kp->iterations, kp->memory_kib, kp->parallelism,
                                   pw ? pw : "", pwlen, kp->salt, CRYPTO_SALT_LEN, kek,
                                   CRYPTO_KEY_LEN);
        if (rc == ARGON2_OK)
            return CRYPTO_OK;
        return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? CRYPTO_ENOMEM : CRYPTO_EINTERNAL;
    }
    return CRYPTO_EINVAL;
}

int crypto_hkdf(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out,
                size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!c)
        return CRYPTO_EINTERNAL;
    OSSL_PARAM params[4];
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string("key", (void *)ikm, ikmlen);
    params[2] = OSSL_PARAM_construct_octet_string("info", (void *)info, strlen(info));
    params[3] = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(c, out, outlen, params) == 1;
    EVP_KDF_CTX_free(c);
    return ok ? CRYPTO_OK : CRYPTO_EINTERNAL;
}

int crypto_hmac(const uint8_t key[CRYPTO_KEY_LEN], const void *data, size_t n, uint8_t out[32])
{
    size_t outl = 0;
    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, CRYPTO_KEY_LEN, data, n, out, 32,
                     &outl) != NULL && outl == 32
               ? CRYPTO_OK : CRYPTO_EINTERNAL;
}

int crypto_sha256(const void *data, size_t n, uint8_t out[32])
{
    const EVP_MD *md = sha256();
    return md && EVP_Digest(data, n, out, NULL, md, NULL) == 1 ? CRYPTO_OK : CRYPTO_EINTERNAL;
}

int crypto_memcmp(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n); }

void crypto_wipe(void *p, size_t n) { OPENSSL_cleanse(p, n); }

/*
 * Nonces: 12 random bytes per sealed page.  RAND_bytes per call costs more
 * than the sealing of a small page, so each thread draws 1 KiB at a time.
 * A forked child must never reuse its parent's unread bytes (two processes
 * sealing with the same key and nonce would break GCM): a fork handler
 * bumps a generation that invalidates every buffer.
 */
#define NONCE_POOL 1024
static atomic_uint fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void on_fork_child(void) { atomic_fetch_add(&fork_gen, 1); }
static void register_fork(void) { pthread_atfork(NULL, NULL, on_fork_child); }

static _Thread_local struct {
    uint8_t b[NONCE_POOL];
    size_t used;        /* bytes consumed; NONCE_POOL when empty */
    unsigned gen;
    int init;
} tl_nonce;

int crypto_nonce(uint8_t out[CRYPTO_NONCE_LEN])
{
    pthread_once(&fork_once, register_fork);
    unsigned gen = atomic_load(&fork_gen);
    if (!tl_nonce.init || tl_nonce.gen != gen || tl_nonce.used + CRYPTO_NONCE_LEN > NONCE_POOL) {
        if (RAND_bytes(tl_nonce.b, NONCE_POOL) != 1)
            return CRYPTO_EINTERNAL;
        tl_nonce.used = 0;
        tl_nonce.gen = gen;
        tl_nonce.init = 1;
    }
    memcpy(out, tl_nonce.b + tl_nonce.used, CRYPTO_NONCE_LEN);
    crypto_wipe(tl_nonce.b + tl_nonce.used, CRYPTO_NONCE_LEN);
    tl_nonce.used += CRYPTO_NONCE_LEN;
    return CRYPTO_OK;
}

int crypto_random(void *buf, size_t n)
{
    if (n > INT32_MAX)
        return CRYPTO_EINVAL;
    return RAND_bytes(buf, (int)n) == 1 ? CRYPTO_OK : CRYPTO_EINTERNAL;
}
