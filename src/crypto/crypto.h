/*
 * crypto.h — key derivation, key wrapping, HKDF subkeys and per-page AEAD.
 *
 * Owns every use of OpenSSL (and libargon2) in BlazeDB.  Knows nothing about
 * pages, files or B-trees: callers pass bytes and associated data.
 *
 * Key hierarchy (see docs/FILE_FORMAT.md):
 *   password --KDF(salt, params)--> KEK (32 bytes)
 *   KEK --AES-256-GCM wrap--> data key DK (32 random bytes), stored wrapped
 *   DK --HKDF-SHA256(info)--> page key, header MAC key, ...
 *
 * Plaintext databases use the same calls with a CryptoAead made by
 * crypto_aead_new_plain(): data is copied unchanged and the 16-byte tag is a
 * truncated SHA-256 over (ad || data), so corruption is still detected.
 *
 * All functions are thread-safe.  Return values: 0 on success,
 * CRYPTO_EAUTH when authentication fails, CRYPTO_EINVAL for bad parameters,
 * CRYPTO_ENOMEM, CRYPTO_EINTERNAL when the library reports an error.
 */
#ifndef BLAZEDB_CRYPTO_H
#define BLAZEDB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN   32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN   16
#define CRYPTO_SALT_LEN  16
/* nonce || ciphertext(32) || tag */
#define CRYPTO_WRAPPED_LEN (CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN + CRYPTO_TAG_LEN)

enum {
    CRYPTO_OK = 0,
    CRYPTO_EAUTH = 1,
    CRYPTO_EINVAL = 2,
    CRYPTO_ENOMEM = 3,
    CRYPTO_EINTERNAL = 4
};

/* KDF identifiers as stored in the file header (never renumber). */
enum { CRYPTO_KDF_ARGON2ID = 1, CRYPTO_KDF_PBKDF2_SHA256 = 2 };

typedef struct {
    uint32_t kdf;          /* CRYPTO_KDF_* */
    uint32_t iterations;   /* PBKDF2 iterations, or Argon2id passes (t) */
    uint32_t memory_kib;   /* Argon2id m; ignored for PBKDF2 */
    uint32_t parallelism;  /* Argon2id p; ignored for PBKDF2 */
    uint8_t salt[CRYPTO_SALT_LEN];
} CryptoKdfParams;

/* Bounds accepted by crypto_derive_kek (also guard hostile headers). */
#define CRYPTO_PBKDF2_MIN_ITER 1u
#define CRYPTO_PBKDF2_MAX_ITER 100000000u
#define CRYPTO_ARGON2_MIN_T 1u
#define CRYPTO_ARGON2_MAX_T 64u
#define CRYPTO_ARGON2_MIN_M 8u          /* KiB; libargon2 needs >= 8*p */
#define CRYPTO_ARGON2_MAX_M (4u << 20)  /* 4 GiB */
#define CRYPTO_ARGON2_MAX_P 16u

/* password (pwlen bytes, may contain NUL) -> 32-byte KEK. */
int crypto_derive_kek(const void *pw, size_t pwlen, const CryptoKdfParams *kp,
                      uint8_t kek[CRYPTO_KEY_LEN]);

/* Wraps `dk` under `kek` with AES-256-GCM; `nonce` is fresh random bytes the
 * caller supplies; `ad` binds the header fields.  out = nonce||ct||tag. */
int crypto_wrap_key(const uint8_t kek[CRYPTO_KEY_LEN],
                    const uint8_t dk[CRYPTO_KEY_LEN],
                    const uint8_t nonce[CRYPTO_NONCE_LEN],
                    const void *ad, size_t adlen,
                    uint8_t out[CRYPTO_WRAPPED_LEN]);
/* Inverse; CRYPTO_EAUTH for a wrong KEK or altered data. */
int crypto_unwrap_key(const uint8_t kek[CRYPTO_KEY_LEN],
                      const uint8_t in[CRYPTO_WRAPPED_LEN],
                      const void *ad, size_t adlen,
                      uint8_t dk[CRYPTO_KEY_LEN]);

/* HKDF-SHA256 (no salt) of `ikm` with the string `info` -> out[outlen]. */
int crypto_hkdf(const uint8_t *ikm, size_t ikmlen, const char *info,
                uint8_t *out, size_t outlen);

/* HMAC-SHA256 of data under key -> 32 bytes. */
int crypto_hmac(const uint8_t key[CRYPTO_KEY_LEN], const void *data, size_t n,
                uint8_t out[32]);

/* SHA-256. */
int crypto_sha256(const void *data, size_t n, uint8_t out[32]);

/* Constant-time comparison: 0 when equal. */
int crypto_memcmp(const void *a, const void *b, size_t n);

/* Wipes secrets (not optimised away). */
void crypto_wipe(void *p, size_t n);

/* ---- page AEAD ---------------------------------------------------------- */

typedef struct CryptoAead CryptoAead;

/* AES-256-GCM under `key` (copied).  Thread-safe; keeps per-thread or pooled
 * pre-keyed cipher contexts so a seal/open does no key schedule.
 * NULL on allocation failure. */
CryptoAead *crypto_aead_new(const uint8_t key[CRYPTO_KEY_LEN]);
/* Integrity-only variant for plaintext databases (see top comment). */
CryptoAead *crypto_aead_new_plain(void);
void crypto_aead_free(CryptoAead *a);
int crypto_aead_is_plain(const CryptoAead *a);

/* Encrypts n bytes (in may equal out) with associated data; writes tag. */
int crypto_aead_seal(CryptoAead *a, const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const void *ad, size_t adlen,
                     const uint8_t *in, size_t n, uint8_t *out,
                     uint8_t tag[CRYPTO_TAG_LEN]);
/* Decrypts and verifies; CRYPTO_EAUTH on mismatch (out is then garbage and
 * must not be used).  in may equal out. */
int crypto_aead_open(CryptoAead *a, const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const void *ad, size_t adlen,
                     const uint8_t *in, size_t n, uint8_t *out,
                     const uint8_t tag[CRYPTO_TAG_LEN]);

/* Fresh random bytes from OpenSSL's CSPRNG (for nonces and keys). */
int crypto_random(void *buf, size_t n);
/* A fresh random AEAD nonce, from a per-thread pool of random bytes that a
 * fork invalidates (cheaper than crypto_random per page). */
int crypto_nonce(uint8_t out[CRYPTO_NONCE_LEN]);

#endif /* BLAZEDB_CRYPTO_H */
