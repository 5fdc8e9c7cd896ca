/*
 * header.h — page 0 of the main file: format identification, KDF
 * parameters and the wrapped data key.
 *
 * Page 0 holds two 256-byte header slots, at offsets 0 and 512, each with a
 * generation number and a SHA-256 checksum.  A password change writes the
 * slot with the lower generation, syncs, then writes the other: a torn write
 * leaves one valid slot, and the slot with the highest valid generation is
 * the one in force.  Slot layout: docs/FILE_FORMAT.md.
 */
#ifndef BLAZEDB_HEADER_H
#define BLAZEDB_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/crypto.h"
#include "../os/os.h"

#define HEADER_SLOT_SIZE 256
#define HEADER_SLOT_B_OFFSET 512
#define HEADER_FLAG_PLAINTEXT 0x1u

typedef struct {
    uint32_t version;
    uint32_t page_size;
    uint32_t flags;
    CryptoKdfParams kdf;
    uint64_t generation;
    uint8_t file_id[16];
    uint8_t wrapped[CRYPTO_WRAPPED_LEN];  /* data key of key_epoch */
    uint32_t key_epoch;         /* re-encryptions completed */
    /* re-encryption under way: the data key of key_epoch + 1, wrapped
     * under HKDF(data key of key_epoch, "blazedb next key v1") */
    uint32_t rekeying;
    uint8_t next[CRYPTO_WRAPPED_LEN];
} FileHeader;

/* Result codes are BlazeDBResult values. */

/* Builds a fresh header (random salt, file id, data key) in memory and
 * returns the data key; header_encode_page gives page 0 to write. */
int header_create(uint32_t page_size, int plaintext,
                  const CryptoKdfParams *kdf, const void *pw, size_t pwlen,
                  FileHeader *h, uint8_t dk[CRYPTO_KEY_LEN], uint8_t *kek,
                  char *err, size_t errlen);

/* Encodes page 0 (h->page_size bytes: both slots, zero elsewhere). */
void header_encode_page(const FileHeader *h, uint8_t *page);

/* Reads page 0, picks the valid slot with the highest generation, derives
 * the key and unwraps the data key (AUTH_FAILED on a wrong password,
 * NOT_A_DATABASE for a foreign file, CORRUPT for a damaged header).
 * *stale = 1 when the other slot is older or damaged (rekey interrupted). */
int header_load(OsFile *f, const void *pw, size_t pwlen, FileHeader *h,
                uint8_t dk[CRYPTO_KEY_LEN], int *stale, char *err,
                size_t errlen);
/* The same, also giving the key-encryption key (kek may be NULL). */
int header_load_kek(OsFile *f, const void *pw, size_t pwlen, FileHeader *h,
                    uint8_t dk[CRYPTO_KEY_LEN], uint8_t *kek, int *stale,
                    char *err, size_t errlen);
/* Reads the slot in force without unwrapping anything (OK, IO_ERROR,
 * NOT_A_DATABASE, CORRUPT). */
int header_read(OsFile *f, FileHeader *h, char *err, size_t errlen);

/* ---- re-encryption (src/tools/vacuum.c through the pager) ---------------- */

/* The next data key of a header that is rekeying, from the data key of
 * key_epoch: OK, AUTH_FAILED (wrong key or altered), CORRUPT (not
 * rekeying). */
int header_unwrap_next(const FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                       uint8_t next[CRYPTO_KEY_LEN]);
/* Starts a re-encryption in *h: rekeying = 1, next = `next` wrapped under
 * `dk` (the data key of key_epoch). */
int header_set_next(FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                    const uint8_t next[CRYPTO_KEY_LEN]);
/* Ends it: key_epoch + 1, `next` wrapped under `kek` in place of the old
 * data key, no next key. */
int header_finish_next(FileHeader *h, const uint8_t kek[CRYPTO_KEY_LEN],
                       const uint8_t next[CRYPTO_KEY_LEN]);

/* Rewraps `dk` under a new password (and KDF), writing both slots in turn
 * with a sync after each.  Updates *h; the new key-encryption key goes to
 * kek (may be NULL).  A next key (re-encryption under way) carries over. */
int header_rewrap(OsFile *f, FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN],
                  const void *pw, size_t pwlen, const CryptoKdfParams *kdf,
                  OsVfs *vfs, uint8_t *kek, char *err, size_t errlen);

/* Rewrites both slots from *h (repairs a torn/stale slot). */
int header_write_both(OsFile *f, const FileHeader *h, char *err,
                      size_t errlen);

/* ---- for backups (src/tools/backup.c): a slot as a key container -------- */

/* Encodes one slot (layout: docs/FILE_FORMAT.md), checksum included. */
void header_encode_slot(const FileHeader *h, uint8_t s[HEADER_SLOT_SIZE]);
/* Decodes one slot: 0 ok, 1 no header magic, 2 checksum mismatch. */
int header_decode_slot(const uint8_t s[HEADER_SLOT_SIZE], FileHeader *h);
/* Wraps dk under an already derived kek into h->wrapped; the associated
 * data is the slot's first 88 bytes, as for a password.  BlazeDBResult. */
int header_wrap_kek(FileHeader *h, const uint8_t kek[CRYPTO_KEY_LEN],
                    const uint8_t dk[CRYPTO_KEY_LEN]);
/* Unwraps h->wrapped with kek: OK, or AUTH_FAILED (wrong key, or a field
 * of the slot was altered). */
int header_unwrap_kek(const FileHeader *h, const uint8_t kek[CRYPTO_KEY_LEN],
                      uint8_t dk[CRYPTO_KEY_LEN]);

#endif /* BLAZEDB_HEADER_H */
