/*
 * header.c — the file header: two checksummed slots holding the format,
 * KDF parameters and the wrapped data key.  See header.h.
 */
#include "header.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blazedb.h"
#include "codec.h"

static const char MAGIC[16] = "BlazeDB format 1";
#define FORMAT_VERSION 1u
#define AD_LEN 88     /* bytes authenticated by the key wrap */
#define SUM_OFF 224   /* SHA-256 of bytes [0, 224) */

static int io_rc(int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return BLAZEDB_FULL;
    return BLAZEDB_IO_ERROR;
}

static void encode_slot(const FileHeader *h, uint8_t s[HEADER_SLOT_SIZE])
{
    memset(s, 0, HEADER_SLOT_SIZE);
    memcpy(s, MAGIC, 16);
    put_le32(s + 16, h->version);
    put_le32(s + 20, h->page_size);
    put_le32(s + 24, h->flags);
    put_le32(s + 28, h->kdf.kdf);
    put_le32(s + 32, h->kdf.iterations);
    put_le32(s + 36, h->kdf.memory_kib);
    put_le32(s + 40, h->kdf.parallelism);
    put_le64(s + 48, h->generation);
    memcpy(s + 56, h->kdf.salt, 16);
    memcpy(s + 72, h->file_id, 16);
    memcpy(s + 88, h->wrapped, CRYPTO_WRAPPED_LEN);
    put_le32(s + 44, h->key_epoch);
    if (h->rekeying) {
        put_le32(s + 148, h->rekeying);
        memcpy(s + 152, h->next, CRYPTO_WRAPPED_LEN);
    }
    crypto_sha256(s, SUM_OFF, s + SUM_OFF);
}

/* 0 ok, 1 not our magic, 2 damaged */
static int decode_slot(const uint8_t s[HEADER_SLOT_SIZE], FileHeader *h)
{
    if (memcmp(s, MAGIC, 16) != 0)
        return 1;
    uint8_t sum[32];
    crypto_sha256(s, SUM_OFF, sum);
    if (memcmp(sum, s + SUM_OFF, 32) != 0)
        return 2;
    memset(h, 0, sizeof *h);
    h->version = get_le32(s + 16);
    h->page_size = get_le32(s + 20);
    h->flags = get_le32(s + 24);
    h->kdf.kdf = get_le32(s + 28);
    h->kdf.iterations = get_le32(s + 32);
    h->kdf.memory_kib = get_le32(s + 36);
    h->kdf.parallelism = get_le32(s + 40);
    h->generation = get_le64(s + 48);
    memcpy(h->kdf.salt, s + 56, 16);
    memcpy(h->file_id, s + 72, 16);
    memcpy(h->wrapped, s + 88, CRYPTO_WRAPPED_LEN);
    h->key_epoch = get_le32(s + 44);
    h->rekeying = get_le32(s + 148);
    memcpy(h->next, s + 152, CRYPTO_WRAPPED_LEN);
    return 0;
}

static int valid_page_size(uint32_t ps)
{
    return ps >= 4096 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

static int wrap(FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN], const void *pw,
                size_t pwlen, uint8_t *kek_out, char *err, size_t errlen)
{
    if (h->flags & HEADER_FLAG_PLAINTEXT) {
        memset(h->wrapped, 0, sizeof h->wrapped);
        return BLAZEDB_OK;
    }
    uint8_t kek[CRYPTO_KEY_LEN], nonce[CRYPTO_NONCE_LEN], slot[HEADER_SLOT_SIZE];
    int rc = crypto_derive_kek(pw, pwlen, &h->kdf, kek);
    if (rc != CRYPTO_OK) {
        snprintf(err, errlen, "key derivation failed (%s)",
                 rc == CRYPTO_EINVAL ? "invalid KDF parameters" : "crypto error");
        return rc == CRYPTO_EINVAL ? BLAZEDB_INVALID_ARGUMENT : BLAZEDB_INTERNAL_ERROR;
    }
    encode_slot(h, slot);
    if (crypto_random(nonce, sizeof nonce) ||
        crypto_wrap_key(kek, dk, nonce, slot, AD_LEN, h->wrapped)) {
        crypto_wipe(kek, sizeof kek);
        snprintf(err, errlen, "key wrapping failed");
        return BLAZEDB_INTERNAL_ERROR;
    }
    if (kek_out)
        memcpy(kek_out, kek, sizeof kek);
    crypto_wipe(kek, sizeof kek);
    return BLAZEDB_OK;
}

int header_write_both(OsFile *f, const FileHeader *h, char *err, size_t errlen)
{
    uint8_t slot[HEADER_SLOT_SIZE];
    encode_slot(h, slot);
    int e;
    if ((e = os_write(f, slot, sizeof slot, 0)) || (e = os_sync(f)) ||
        (e = os_write(f, slot, sizeof slot, HEADER_SLOT_B_OFFSET)) ||
        (e = os_sync(f))) {
        snprintf(err, errlen, "writing the file header: %s", strerror(e));
        return io_rc(e);
    }
    return BLAZEDB_OK;
}

int header_create(uint32_t page_size, int plaintext,
                  const CryptoKdfParams *kdf, const void *pw, size_t pwlen,
                  FileHeader *h, uint8_t dk[CRYPTO_KEY_LEN], uint8_t *kek, char *err,
                  size_t errlen)
{
    if (!valid_page_size(page_size)) {
        snprintf(err, errlen, "page size %u is not a power of two in 4096..65536",
                 page_size);
        return BLAZEDB_INVALID_ARGUMENT;
    }
    memset(h, 0, sizeof *h);
    h->version = FORMAT_VERSION;
    h->page_size = page_size;
    h->flags = plaintext ? HEADER_FLAG_PLAINTEXT : 0;
    h->generation = 1;
    if (!plaintext)
        h->kdf = *kdf;
    if (crypto_random(h->file_id, sizeof h->file_id) ||
        (!plaintext && crypto_random(h->kdf.salt, sizeof h->kdf.salt))) {
        snprintf(err, errlen, "random number generator failed");
        return BLAZEDB_INTERNAL_ERROR;
    }
    if (plaintext)
        memset(dk, 0, CRYPTO_KEY_LEN);
    else if (crypto_random(dk, CRYPTO_KEY_LEN)) {
        snprintf(err, errlen, "random number generator failed");
        return BLAZEDB_INTERNAL_ERROR;
    }
    return wrap(h, dk, pw, pwlen, kek, err, errlen);
}

void header_encode_page(const FileHeader *h, uint8_t *page)
{
    memset(page, 0, h->page_size);
    encode_slot(h, page);
    encode_slot(h, page + HEADER_SLOT_B_OFFSET);
}

/* Reads page 0 and picks the slot in force. */
static int read_best(OsFile *f, FileHeader *h, int *stale, char *err, size_t errlen)
{
    uint8_t buf[HEADER_SLOT_B_OFFSET + HEADER_SLOT_SIZE];
    size_t got = 0;
    int e = os_read(f, buf, sizeof buf, 0, &got);
    if (e) {
        snprintf(err, errlen, "reading the file header: %s", strerror(e));
        return BLAZEDB_IO_ERROR;
    }
    FileHeader a, b;
    int ra = got >= HEADER_SLOT_SIZE ? decode_slot(buf, &a) : 1;
    int rb = got >= sizeof buf ? decode_slot(buf + HEADER_SLOT_B_OFFSET, &b) : 1;
    if (ra == 1 && rb == 1) {
        snprintf(err, errlen, "not a BlazeDB database (no header magic)");
        return BLAZEDB_NOT_A_DATABASE;
    }
    if (ra != 0 && rb != 0) {
        snprintf(err, errlen, "the file header is damaged (both copies fail their checksum)");
        return BLAZEDB_CORRUPT;
    }
    const FileHeader *best = ra != 0 ? &b : rb != 0 ? &a
                           : (b.generation > a.generation ? &b : &a);
    *stale = ra != 0 || rb != 0 || a.generation != b.generation ||
             memcmp(buf, buf + HEADER_SLOT_B_OFFSET, HEADER_SLOT_SIZE) != 0;
    *h = *best;
    if (h->version != FORMAT_VERSION) {
        snprintf(err, errlen, "unsupported format version %u", h->version);
        return BLAZEDB_NOT_A_DATABASE;
    }
    if (!valid_page_size(h->page_size) || (h->flags & ~HEADER_FLAG_PLAINTEXT) ||
        h->rekeying > 1 || ((h->flags & HEADER_FLAG_PLAINTEXT) && (h->rekeying || h->key_epoch))) {
        snprintf(err, errlen, "the file header has impossible values");
        return BLAZEDB_CORRUPT;
    }
    return BLAZEDB_OK;
}

int header_read(OsFile *f, FileHeader *h, char *err, size_t errlen)
{
    int stale;
    return read_best(f, h, &stale, err, errlen);
}

int header_load(OsFile *f, const void *pw, size_t pwlen, FileHeader *h,
                uint8_t dk[CRYPTO_KEY_LEN], int *stale, char *err,
                size_t errlen)
{
    return header_load_kek(f, pw, pwlen, h, dk, NULL, stale, err, errlen);
}

int header_load_kek(OsFile *f, const void *pw, size_t pwlen, FileHeader *h,
                    uint8_t dk[CRYPTO_KEY_LEN], uint8_t *kek_out, int *stale,
                    char *err, size_t errlen)
{
    int rc = read_best(f, h, stale, err, errlen);
    if (rc != BLAZEDB_OK)
        return rc;
    if (h->flags & HEADER_FLAG_PLAINTEXT) {
        memset(dk, 0, CRYPTO_KEY_LEN);
        return BLAZEDB_OK;
    }
    uint8_t kek[CRYPTO_KEY_LEN], slot[HEADER_SLOT_SIZE];
    rc = crypto_derive_kek(pw, pwlen, &h->kdf, kek);
    if (rc == CRYPTO_EINVAL) {
        snprintf(err, errlen, "the file header has invalid key-derivation parameters");
        return BLAZEDB_CORRUPT;
    }
    if (rc != CRYPTO_OK) {
        snprintf(err, errlen, "key derivation failed");
        return rc == CRYPTO_ENOMEM ? BLAZEDB_NOMEM : BLAZEDB_INTERNAL_ERROR;
    }
    encode_slot(h, slot);
    rc = crypto_unwrap_key(kek, h->wrapped, slot, AD_LEN, dk);
    if (kek_out && rc == CRYPTO_OK)
        memcpy(kek_out, kek, sizeof kek);
    crypto_wipe(kek, sizeof kek);
    if (rc == CRYPTO_EAUTH) {
        snprintf(err, errlen, "wrong password");
        return BLAZEDB_AUTH_FAILED;
    }
    if (rc != CRYPTO_OK) {
        snprintf(err, errlen, "key unwrapping failed");
        return BLAZEDB_INTERNAL_ERROR;
    }
    return BLAZEDB_OK;
}

int header_rewrap(OsFile *f, FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                  const void *pw, size_t pwlen, const CryptoKdfParams *kdf,
                  OsVfs *vfs, uint8_t *kek, char *err, size_t errlen)
{
    if (h->flags & HEADER_FLAG_PLAINTEXT) {
        snprintf(err, errlen, "a plaintext database has no password to change");
        return BLAZEDB_INVALID_ARGUMENT;
    }
    FileHeader n = *h;
    n.kdf = *kdf;
    if (vfs->random(vfs, n.kdf.salt, sizeof n.kdf.salt)) {
        snprintf(err, errlen, "random number generator failed");
        return BLAZEDB_INTERNAL_ERROR;
    }
    n.generation = h->generation + 1;
    int rc = wrap(&n, dk, pw, pwlen, kek, err, errlen);
    if (rc != BLAZEDB_OK)
        return rc;
    rc = header_write_both(f, &n, err, errlen);
    if (rc == BLAZEDB_OK)
        *h = n;
    return rc;
}

/* ---- slots as key containers (backups) ------------------------------------- */

void header_encode_slot(const FileHeader *h, uint8_t s[HEADER_SLOT_SIZE])
{
    encode_slot(h, s);
}

int header_decode_slot(const uint8_t s[HEADER_SLOT_SIZE], FileHeader *h)
{
    return decode_slot(s, h);
}

int header_wrap_kek(FileHeader *h, const uint8_t kek[CRYPTO_KEY_LEN],
                    const uint8_t dk[CRYPTO_KEY_LEN])
{
    uint8_t nonce[CRYPTO_NONCE_LEN], slot[HEADER_SLOT_SIZE];
    encode_slot(h, slot);
    if (crypto_random(nonce, sizeof nonce) ||
        crypto_wrap_key(kek, dk, nonce, slot, AD_LEN, h->wrapped))
        return BLAZEDB_INTERNAL_ERROR;
    return BLAZEDB_OK;
}

int header_unwrap_kek(const FileHeader *h, const uint8_t kek[CRYPTO_KEY_LEN],
                      uint8_t dk[CRYPTO_KEY_LEN])
{
    uint8_t slot[HEADER_SLOT_SIZE];
    encode_slot(h, slot);
    int rc = crypto_unwrap_key(kek, h->wrapped, slot, AD_LEN, dk);
    return rc == CRYPTO_OK ? BLAZEDB_OK
         : rc == CRYPTO_EAUTH ? BLAZEDB_AUTH_FAILED : BLAZEDB_INTERNAL_ERROR;
}

/* ---- re-encryption -------------------------------------------------------------- */

/* The link key and associated data of the next key: bound to this
 * database and to both epochs, not to the generation, so a password
 * change carries the wrapped next key over unchanged. */
static int next_kek(const FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                    uint8_t kek[CRYPTO_KEY_LEN], uint8_t ad[24])
{
    memcpy(ad, h->file_id, 16);
    put_le32(ad + 16, h->key_epoch);
    put_le32(ad + 20, h->key_epoch + 1);
    return crypto_hkdf(dk, CRYPTO_KEY_LEN, "blazedb next key v1", kek, CRYPTO_KEY_LEN)
               ? BLAZEDB_INTERNAL_ERROR : BLAZEDB_OK;
}

int header_unwrap_next(const FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                       uint8_t next[CRYPTO_KEY_LEN])
{
    if (!h->rekeying)
        return BLAZEDB_CORRUPT;
    uint8_t kek[CRYPTO_KEY_LEN], ad[24];
    int rc = next_kek(h, dk, kek, ad);
    if (rc == BLAZEDB_OK) {
        int c = crypto_unwrap_key(kek, h->next, ad, sizeof ad, next);
        rc = c == CRYPTO_OK ? BLAZEDB_OK
           : c == CRYPTO_EAUTH ? BLAZEDB_AUTH_FAILED : BLAZEDB_INTERNAL_ERROR;
    }
    crypto_wipe(kek, sizeof kek);
    return rc;
}

int header_set_next(FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                    const uint8_t next[CRYPTO_KEY_LEN])
{
    uint8_t kek[CRYPTO_KEY_LEN], ad[24], nonce[CRYPTO_NONCE_LEN];
    int rc = next_kek(h, dk, kek, ad);
    if (rc == BLAZEDB_OK &&
        (crypto_random(nonce, sizeof nonce) ||
         crypto_wrap_key(kek, next, nonce, ad, sizeof ad, h->next)))
        rc = BLAZEDB_INTERNAL_ERROR;
    crypto_wipe(kek, sizeof kek);
    if (rc == BLAZEDB_OK)
        h->rekeying = 1;
    return rc;
}

int header_finish_next(FileHeader *h, const uint8_t kek[CRYPTO_KEY_LEN],
                       const uint8_t next[CRYPTO_KEY_LEN])
{
    FileHeader n = *h;
    n.key_epoch = h->key_epoch + 1;
    n.rekeying = 0;
    memset(n.next, 0, sizeof n.next);
    int rc = header_wrap_kek(&n, kek, next);
    if (rc == BLAZEDB_OK)
        *h = n;
    return rc;
}
