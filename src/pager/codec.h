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
 *   P+41  3       zero
 *   P+44  4       low 32 bits of the log salt (log frames; 0 in pages
 *                 written to the main file by a checkpoint are copies and
 *                 keep it — it is not authenticated)
 * Associated data = bytes P+28 .. P+41 (ctr, pgno, kind).
 */
#ifndef BLAZEDB_CODEC_H
#define BLAZEDB_CODEC_H

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
} PageTrailer;

void codec_read_trailer(const uint8_t *img, size_t page_size, PageTrailer *t);

/* Seals payload (page_size-48 bytes at `payload`) into `img` (page_size
 * bytes; may alias payload at the same address).  Returns 0 or -1. */
int codec_seal(CryptoAead *a, const uint8_t *payload, uint8_t *img,
               size_t page_size, const PageTrailer *t);

/* Opens `img` into `payload` (may alias).  The trailer must carry exactly
 * the expected pgno, ctr and kind (ctr 0 = accept any, for meta pages).
 * Returns 0, or -1 when anything does not match or fails authentication. */
int codec_open(CryptoAead *a, const uint8_t *img, uint8_t *payload,
               size_t page_size, Pgno pgno, uint64_t ctr, uint8_t kind);

/* Meta record: encoded at the start of a meta page or commit frame. */
#define CODEC_META_SIZE 256
void codec_meta_encode(const PagerMeta *m, uint8_t out[CODEC_META_SIZE]);
/* Returns 0, or -1 on a bad magic or impossible values. */
int codec_meta_decode(const uint8_t in[CODEC_META_SIZE], PagerMeta *m);

#endif /* BLAZEDB_CODEC_H */
