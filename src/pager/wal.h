/*
 * wal.h — the write-ahead log file (`-wal`): its header, commit frames, the
 * recovery scan, and the in-memory index from page number to latest frame.
 *
 * Layout: the first page_size bytes are the log header; frame i (i >= 1)
 * occupies [i * page_size, (i+1) * page_size) and is a sealed page image
 * (codec.h).  A transaction appends its data frames followed by one commit
 * frame (kind 2) whose encrypted payload holds the new meta, the full
 * 64-bit salt, the frame's own index and a SHA-256 chain over the trailers
 * of every frame of this log generation before it.  A commit is valid only
 * if its frame authenticates and the chain matches: a torn, stale, missing
 * or reordered frame anywhere before it invalidates it and every later one.
 *
 * Restarting the log (after a complete checkpoint) writes a new header with
 * a new random salt; frames of the old generation no longer match.
 */
#ifndef BLAZEDB_WAL_H
#define BLAZEDB_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "pager.h"

#define WAL_CHAIN_LEN 32

/* page number -> latest committed frame, open addressing. */
typedef struct {
    uint32_t *keys;
    uint32_t *vals;
    size_t cap;      /* power of two, 0 when empty */
    size_t n;
} WalIndex;

void wal_index_init(WalIndex *w);
void wal_index_free(WalIndex *w);
void wal_index_clear(WalIndex *w);
int wal_index_put(WalIndex *w, Pgno pgno, uint32_t frame);
uint32_t wal_index_get(const WalIndex *w, Pgno pgno);

/* Writes the header of a new generation.  Returns errno or 0. */
int wal_write_header(OsFile *f, size_t page_size, const uint8_t file_id[16],
                     uint64_t salt);
/* Reads the header: 0 and *salt when valid for this database, 1 when the log
 * is absent, empty or belongs to something else, or errno (> 1) on I/O
 * error (EIO etc. are always > 1). */
int wal_read_header(OsFile *f, size_t page_size, const uint8_t file_id[16],
                    uint64_t *salt);

/* chain_0 = SHA-256(file_id || salt) */
void wal_chain_init(const uint8_t file_id[16], uint64_t salt,
                    uint8_t chain[WAL_CHAIN_LEN]);
/* chain = SHA-256(chain || trailer of the frame image) */
void wal_chain_step(uint8_t chain[WAL_CHAIN_LEN], const uint8_t *img,
                    size_t page_size);

/* Commit frame payload layout (within the page payload). */
#define WAL_COMMIT_SALT_OFF 256
#define WAL_COMMIT_FRAME_OFF 264
#define WAL_COMMIT_CHAIN_OFF 272

typedef struct {
    uint32_t frames;            /* last valid commit frame (0 = none) */
    int have_meta;
    PagerMeta meta;             /* meta of that commit */
    uint8_t chain[WAL_CHAIN_LEN]; /* chain after that commit frame */
} WalRecovery;

/* Scans the log of generation `salt` from frame 1, filling `idx` with the
 * frames of valid commits.  Stops quietly at the first frame that does not
 * belong (torn, stale, other salt).  Returns errno on an I/O error, 0
 * otherwise. */
int wal_recover(OsFile *f, const CodecKeys *keys, size_t page_size,
                const uint8_t file_id[16], uint64_t salt, WalIndex *idx,
                WalRecovery *out);

/* Adds frames (from, to] of generation `salt` to `idx` by reading their
 * trailers (frames written and committed by another handle).  Returns
 * errno, 0, or -1 when a trailer's salt does not match (the log was
 * restarted meanwhile). */
int wal_catch_up(OsFile *f, size_t page_size, uint64_t salt, WalIndex *idx,
                 uint32_t from, uint32_t to);

#endif /* BLAZEDB_WAL_H */
