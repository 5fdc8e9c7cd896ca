/*
 * codec.h — the on-disk image of a page: sealing and opening the 48-byte
 * trailer, and the encoding of the meta record.
 *
 * Page image (page_size bytes, identical in the main file and in the log):
 *   [0, P)        payload, encrypted (P = page_size - 48)
 *   P+0   12      nonce (random per seal)
 *   P+12  16      GCM tag (or truncated SHA-256 for plaintext databases)
 *   P+28  8       ctr: id of the transaction that wrote this version
 *   P+36  4       pgno
 *   P+40  1       kind: 0 data page, 1 meta page, 2 log commit frame
 *   P+41  1       key epoch (low 8 bits) of the data key that sealed it;
 *                 not authenticated: it only selects the key to try
 *   P+42  2       zero
 *   P+44  4       low 32 bits of the log salt (log frames; 0 in pages
 *                 written to the main file by a checkpoint are copies and
 *                 keep it — it is not authenticated)
 * Associated data = bytes P+28 .. P+41 (ctr, pgno, kind).
 */
#ifndef BLAZEDB_CODEC_H
#define BLAZEDB_CODEC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pager.h"
#include "../os/endian.h"

enum { PAGE_KIND_DATA = 0, PAGE_KIND_META = 1, PAGE_KIND_COMMIT = 2 };

typedef struct {
    uint64_t ctr;
    Pgno pgno;
    uint8_t kind;
    uint32_t salt32;
    uint8_t epoch;      /* read only: codec_seal writes the keyring's */
} PageTrailer;

void codec_read_trailer(const uint8_t *img, size_t page_size, PageTrailer *t);

/*
 * The page keys a handle knows, by key epoch (docs/FILE_FORMAT.md, "Key
 * hierarchy"): page key = HKDF-SHA256(data key of that epoch, "blazedb
 * page key v1").  A database has one epoch at a time, two while a
 * re-encryption runs (pages under either); slot = epoch % CODEC_KEY_SLOTS.
 * Pages are sealed under `write_epoch`.  Lookups (codec_open/codec_seal)
 * are lock-free and may run while codec_keys_add runs in another thread;
 * adds and codec_keys_set_write must be serialised by the caller.  A key a
 * slot held before is kept until codec_keys_free (a thread may be using
 * it), so the keyring only grows.
 */
#define CODEC_KEY_SLOTS 4
typedef struct {
    CryptoAead *_Atomic aead[CODEC_KEY_SLOTS];
    _Atomic uint32_t epoch[CODEC_KEY_SLOTS];
    _Atomic uint32_t write_epoch;
    CryptoAead **retired;
    size_t nretired;
} CodecKeys;

/* Adds the key of `epoch` from its data key (dk NULL: the integrity-only
 * codec of a plaintext database).  0, or -1 (out of memory or crypto
 * failure).  The first key added also becomes the write key. */
int codec_keys_add(CodecKeys *k, uint32_t epoch, const uint8_t *dk);
/* Seals under `epoch` from now on (its key must be known). */
void codec_keys_set_write(CodecKeys *k, uint32_t epoch);
uint32_t codec_keys_write_epoch(const CodecKeys *k);
/* Frees every key (the struct itself is the caller's). */
void codec_keys_free(CodecKeys *k);

/* Seals payload (page_size-48 bytes at `payload`) into `img` (page_size
 * bytes; may alias payload at the same address) under the write key; the
 * trailer gets its epoch.  Returns 0 or -1. */
int codec_seal(CodecKeys *k, const uint8_t *payload, uint8_t *img,
               size_t page_size, const PageTrailer *t);

/* Opens `img` into `payload` (may alias) with the key of the epoch its
 * trailer names.  The trailer must carry exactly the expected pgno, ctr
 * and kind (ctr 0 = accept any, for meta pages).  Returns 0; CODEC_NOKEY
 * when the keyring has no key for that epoch (the caller may learn it from
 * the header and retry); -1 when anything does not match or fails
 * authentication. */
#define CODEC_NOKEY (-2)
int codec_open(const CodecKeys *k, const uint8_t *img, uint8_t *payload,
               size_t page_size, Pgno pgno, uint64_t ctr, uint8_t kind);

/* Meta record: encoded at the start of a meta page or commit frame. */
#define CODEC_META_SIZE 256
void codec_meta_encode(const PagerMeta *m, uint8_t out[CODEC_META_SIZE]);
/* Returns 0, or -1 on a bad magic or impossible values. */
int codec_meta_decode(const uint8_t in[CODEC_META_SIZE], PagerMeta *m);

#endif /* BLAZEDB_CODEC_H */
