/*
 * shm.h — the `-shm` sidecar: state shared by every handle on one database
 * (in any process) through a shared mapping, and the byte-range locks that
 * order them.
 *
 * Contents (no user data, only counters and page/frame numbers):
 *   - the published snapshot: the meta of the last durable commit, the WAL
 *     salt and the number of committed WAL frames, under a sequence lock
 *     written only by the holder of the WRITER lock;
 *   - the number of WAL frames already copied into the main file (backfill);
 *   - reader slots: the snapshot id each live read transaction uses, so the
 *     writer knows which freed pages can be reused.
 *
 * Locks (open-file-description locks on the -shm file, past the mapping):
 *   DMS     shared by every open handle; exclusive while the first handle
 *           initialises the shared state (recovery) and while the last one
 *           closes;
 *   WRITER  exclusive while a write transaction runs;
 *   CKPT    exclusive while a checkpoint or a log restart runs;
 *   SLOT+i  exclusive by the handle that owns reader slot i (a crashed
 *           process's slots are recognised by their lock being free).
 */
#ifndef BLAZEDB_SHM_H
#define BLAZEDB_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "pager.h"

#define SHM_MAGIC 0x4d48534244425a42ull /* "BZBDBSHM" */
#define SHM_VERSION 1u
#define SHM_NSLOTS 256u
#define SHM_META_WORDS (sizeof(PagerMeta) / 8)

#define SHM_LOCK_BASE   (1u << 20)
#define SHM_LOCK_DMS    (SHM_LOCK_BASE + 0)
#define SHM_LOCK_WRITER (SHM_LOCK_BASE + 1)
#define SHM_LOCK_CKPT   (SHM_LOCK_BASE + 2)
#define SHM_LOCK_SLOT   (SHM_LOCK_BASE + 256)

typedef struct {
    _Atomic uint64_t txnid;     /* snapshot in use, 0 = idle */
    _Atomic uint64_t owner;     /* pid of the owning process, 0 = free */
} ShmSlot;

typedef struct {
    _Atomic uint64_t magic;
    _Atomic uint64_t version;
    _Atomic uint64_t file_id[2];
    _Atomic uint64_t initialised;     /* 1 once recovery published state */
    /* ---- published snapshot (sequence lock) ---- */
    _Atomic uint64_t seq;             /* odd while being written */
    _Atomic uint64_t meta[SHM_META_WORDS];
    _Atomic uint64_t wal_salt;
    _Atomic uint64_t wal_frames;      /* committed frames in the log */
    _Atomic uint64_t wal_gen;         /* bumps at every log restart */
    _Atomic uint64_t wal_chain[4];    /* chain hash after the last commit */
    /* ---- outside the sequence lock ---- */
    _Atomic uint64_t backfill;        /* frames copied to the main file */
    _Atomic uint64_t backfill_gen;    /* wal_gen the backfill refers to */
    _Atomic uint64_t txn_hint;        /* == meta.txnid, readable alone */
    ShmSlot slots[SHM_NSLOTS];
    /* bumped, under the WRITER lock, by every change of the header's keys
     * (re-encryption start, resumption and end; a header write that
     * failed half-way): a handle that sees it move rereads the header
     * before it seals anything */
    _Atomic uint64_t key_seq;
} ShmState;

#define SHM_SIZE 16384u
_Static_assert(sizeof(ShmState) <= SHM_SIZE, "shm state too large");

/* A consistent copy of the published snapshot. */
typedef struct {
    PagerMeta meta;
    uint64_t wal_salt;
    uint64_t wal_frames;
    uint64_t wal_gen;
    uint8_t wal_chain[32];
} ShmSnapshot;

/* 0, or -1 when the lock stayed odd (a writer died while publishing: the
 * next writer repairs it from disk).  *seq (if not NULL) gets the sequence
 * the copy was taken at: while shm_seq() still returns it, the published
 * snapshot is that copy (the sequence only grows while the state is
 * mapped). */
int shm_read_snapshot(ShmState *s, ShmSnapshot *out, uint64_t *seq);
/* The current sequence (odd while a publication is under way). */
static inline uint64_t shm_seq(ShmState *s)
{ return atomic_load_explicit(&s->seq, memory_order_acquire); }
/* Is a publication torn (seq odd)? */
static inline int shm_torn(ShmState *s)
{ return (int)(atomic_load(&s->seq) & 1); }
/* Writer only (holds WRITER): publishes a new snapshot. */
void shm_publish(ShmState *s, const ShmSnapshot *snap);

#endif /* BLAZEDB_SHM_H */
