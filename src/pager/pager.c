/*
 * pager.c — transactions over sealed pages: open and recovery, snapshots and
 * reader slots, page access through the cache, copy-on-write allocation,
 * commit to the write-ahead log (one sync), checkpoints and log restarts.
 *
 * Why copy-on-write makes this simple (the invariant everything rests on):
 * a page number is reused only once no live snapshot can reach its previous
 * version (pager_oldest_reader).  So every page a live reader can reach has
 * exactly one version on disk that matters, the newest one: the log index
 * maps a page number to its newest committed frame, a checkpoint may copy
 * any committed frame home at any time, and a reader that loses a race with
 * a log restart sees an authentication failure (the parent pins the version
 * counter), notices the new log generation and re-reads from the main file.
 * Reading the wrong location can never produce wrong data.
 */
#include "pager.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blazedb.h"
#include "cache.h"
#include "codec.h"
#include "header.h"
#include "shm.h"
#include "wal.h"

#define ERRBUF 512
#define WAL_GROW_MIN (4u << 20)

typedef struct {
    Page page;                  /* must be first */
    uint64_t birth;             /* PagerTxn.births when it became dirty */
    uint64_t sp_mark;           /* savepoint epoch it was last saved for */
} DirtyPage;

/* One undo record of a savepoint: the content a dirty page had when the
 * savepoint was taken (copy != NULL), or a dirty page that was freed since
 * (copy == NULL: put it back on rollback). */
typedef struct {
    DirtyPage *d;
    uint8_t *copy;
    uint64_t old_mark;
} SpUndo;

typedef struct {
    uint64_t epoch;             /* pages with sp_mark < epoch are unsaved */
    uint64_t births;            /* pages born after have birth > births */
    PagerMeta meta;
    size_t nfreed;
    Pgno *pool;
    size_t npool;
    SpUndo *undo;
    size_t nundo, cundo;
} PagerSp;

/* pgno -> DirtyPage*, open addressing with tombstones */
typedef struct {
    Pgno *keys;                 /* 0 empty, UINT32_MAX tombstone */
    DirtyPage **vals;
    size_t cap, n, used;
} DirtyMap;

struct Pager {
    OsVfs *vfs;
    char *path, *wal_path, *shm_path;
    OsFile *db, *wal, *shm;
    ShmState *sh;
    FileHeader hdr;             /* the header as this handle last read it */
    uint8_t dk[CRYPTO_KEY_LEN]; /* data key of hdr.key_epoch */
    uint8_t next_dk[CRYPTO_KEY_LEN]; /* of hdr.key_epoch + 1 when rekeying */
    uint8_t kek[CRYPTO_KEY_LEN];     /* from the password given at open */
    CodecKeys keys;
    pthread_mutex_t keys_mu;    /* serialises keys_refresh (hdr: err_mu too) */
    _Atomic uint64_t seen_key_seq; /* shm key_seq when hdr was last read */
    size_t page_size, payload;
    int readonly, durability;
    uint32_t autockpt, busy_ms;
    Cache cache;

    pthread_mutex_t idx_mu;     /* guards the log index fields */
    WalIndex idx;
    uint64_t idx_gen, idx_salt;
    uint32_t idx_frames;
    /* idx_gen (low 32 bits) << 32 | idx_frames, stored after every change
     * under idx_mu: a begin whose snapshot the index already covers skips
     * the mutex.  Only a hint: should it ever claim too much (it ignores
     * the salt), read_page meets a version that fails authentication and
     * catches the index up under the mutex. */
    _Atomic uint64_t idx_pub;

    pthread_mutex_t write_mu;   /* one writer per handle at a time */

    /* Group commit.  A committer writes its frames under write_mu, then
     * releases it and waits for a sync that covers its frames; the next
     * writer of this handle builds on `local_base` meanwhile.  The process
     * keeps the WRITER lock until no transaction is active or pending, so
     * no other process can see or build on an unsynced state.  Snapshots
     * are published in commit order once durable. */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    int wl_held;                /* WRITER byte lock held by this handle */
    int writer_active;          /* a transaction holds write_mu */
    uint32_t npending;          /* written, not yet durable */
    int syncing;                /* a leader is in fdatasync */
    uint64_t written_frames, durable_frames; /* in log generation sync_gen */
    uint64_t sync_gen;
    /* The log's size as last seen by this handle's writer, in generation
     * room_gen.  Asking the file system for the size at every commit would
     * cost more than the call: a stat makes the next write take a
     * fine-grained mtime, and fdatasync then writes the inode too.  A
     * re-encryption's cut of the log starts a new generation first; the
     * one cut that does not, by a handle whose sync failed, removes only
     * frames nobody else can build on, so another writer of that
     * generation then appends at the file's end, correct if slower.  Under
     * write_mu. */
    uint64_t wal_room, room_gen;
    uint64_t serial;            /* unique per open in this process */
    _Atomic uintptr_t write_owner;  /* thread holding write_mu (thread_id()) */
    ShmSnapshot latest_written; /* snapshot after the last written commit */
    int have_local_base;
    ShmSnapshot local_base;
    pthread_mutex_t ckpt_mu;    /* with the CKPT byte, the checkpoint lock (ckpt_acquire) */
    pthread_mutex_t slot_mu;
    /* Reader slots this handle holds the lock of.  owned[k] for k < nowned
     * never changes while the handle is open, so a read transaction takes
     * an idle one (txnid 0) and publishes its snapshot in it with one
     * compare-and-swap, and gives it back with a store, without slot_mu;
     * slot_mu orders the growth of the list (and close). */
    uint32_t owned[SHM_NSLOTS];
    _Atomic size_t nowned;
    /* Cache hits and misses of read transactions, added when one ends by
     * the reader holding owned[k], before it gives the slot back: one
     * writer at a time, so a relaxed load and store on a line of its own
     * (writers add theirs to st with an atomic add). */
    struct {
        _Atomic uint64_t hits, misses;
        char pad[48];
    } slot_stats[SHM_NSLOTS];

    PagerRefillFn refill;
    void *refill_arg;
    /* auto-vacuum (src/tools/vacuum.c): called after each commit that
     * wrote something; hook_free(hook_arg) at close */
    PagerCommitHookFn commit_hook;
    void *hook_arg;
    void (*hook_free)(void *arg);

    pthread_mutex_t err_mu;
    char errbuf[ERRBUF];
    _Atomic int failed;

    /* background checkpointer */
    pthread_t ckpt_thread;
    int ckpt_thread_started;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
    int bg_pending, bg_stop;

    struct {
        _Atomic uint64_t cache_hits, cache_misses, pages_read, pages_written,
            bytes_written, syncs, checkpoints, lock_waits, commits, rollbacks;
        _Atomic uint64_t lock_wait_us; /* time spent waiting (monitor.c) */
    } st;
};

struct PagerTxn {
    Pager *p;
    int write;
    uint64_t txnid;
    int slot;                   /* reader slot, -1 for writers */
    size_t slot_k;              /* its index in the handle's owned[] */
    uint64_t change_seq;
    DirtyMap dirty;
    Pgno *freed;
    size_t nfreed, cfreed;
    Pgno *pool;
    size_t npool, cpool;
    int in_refill;
    int alloc_low;              /* vacuum: the pool hands out its lowest page
                                   first (pager_set_alloc_low) */
    /* Dirty pages freed in this txn: kept until it ends, because a cursor
     * may still hold them (their page numbers may meanwhile be reused). */
    DirtyPage **grave;
    size_t ngrave, cgrave;
    /* savepoints, innermost last */
    PagerSp *sp;
    size_t nsp, csp;
    uint64_t sp_epoch, births;
    /* cache hits and misses, added to the handle's counters at the end
     * (one shared write per transaction, not one per page) */
    uint64_t hits, misses;
    /* last: pager_begin fills them, and zeroes only what comes before */
    PagerMeta meta;
    ShmSnapshot base;
    /* Kept from the struct's last use (see spare_take): a read
     * transaction's base was read from the handle of serial base_serial
     * when the shared snapshot's sequence stood at base_seq (0: base is
     * not such a copy). */
    uint64_t base_serial, base_seq;
};

static _Thread_local uint8_t tl_raw[65536];

/* ---- errors ------------------------------------------------------------- */

int pager_error(Pager *p, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&p->err_mu);
    vsnprintf(p->errbuf, sizeof p->errbuf, fmt, ap);
    pthread_mutex_unlock(&p->err_mu);
    va_end(ap);
    return rc;
}

const char *pager_errmsg(Pager *p) { return p->errbuf; }

static int io_rc(int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return BLAZEDB_FULL;
    if (e == ENOMEM)
        return BLAZEDB_NOMEM;
    return BLAZEDB_IO_ERROR;
}

static int io_error(Pager *p, int e, const char *what)
{
    return pager_error(p, io_rc(e), "%s: %s", what, strerror(e));
}

/* ---- small helpers ------------------------------------------------------- */

static char *str_concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static int push_pgno(Pgno **arr, size_t *n, size_t *cap, Pgno v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        Pgno *na = realloc(*arr, nc * sizeof *na);
        if (!na)
            return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

/* Takes a lock, retrying until the busy timeout.  Returns 0, EAGAIN on
 * timeout, or errno. */
static int lock_wait(Pager *p, uint64_t off, int kind, uint32_t timeout_ms)
{
    uint64_t start = 0, sleep_us = 20;
    for (;;) {
        int e = os_lock(p->shm, off, 1, kind);
        if (e != EAGAIN) {
            if (start)
                atomic_fetch_add(&p->st.lock_wait_us, p->vfs->now_us(p->vfs) - start);
            return e;
        }
        uint64_t now = p->vfs->now_us(p->vfs);
        if (!start) {
            start = now;
            atomic_fetch_add(&p->st.lock_waits, 1);
        }
        if (now - start >= (uint64_t)timeout_ms * 1000) {
            atomic_fetch_add(&p->st.lock_wait_us, now - start);
            return EAGAIN;
        }
        p->vfs->sleep_us(p->vfs, sleep_us);
        if (sleep_us < 2000)
            sleep_us *= 2;
    }
}

/*
 * The checkpoint lock: this handle's ckpt_mu, then the shared CKPT byte.
 * Both are needed.  The byte is an open-file-description lock, which every
 * thread of the handle shares: it keeps other processes' checkpoints and
 * log restarts out, but not this handle's own, such as the background
 * thread's, whose frames a restart taking only the byte would overwrite
 * while it copies them home.  With try_mu the
 * mutex is only tried; timeout_ms bounds the wait for the byte (0 tries
 * once).  Returns 0, EAGAIN when busy, or an errno.
 */
static int ckpt_acquire(Pager *p, int try_mu, uint32_t timeout_ms)
{
    if (try_mu) {
        if (pthread_mutex_trylock(&p->ckpt_mu) != 0)
            return EAGAIN;
    } else {
        pthread_mutex_lock(&p->ckpt_mu);
    }
    int e = lock_wait(p, SHM_LOCK_CKPT, OS_LOCK_EXCLUSIVE, timeout_ms);
    if (e)
        pthread_mutex_unlock(&p->ckpt_mu);
    return e;
}

static void ckpt_release(Pager *p)
{
    os_lock(p->shm, SHM_LOCK_CKPT, 1, OS_LOCK_UNLOCK);
    pthread_mutex_unlock(&p->ckpt_mu);
}

/* ---- dirty map ------------------------------------------------------------ */

#define TOMB 0xFFFFFFFFu

static size_t dm_slot(Pgno k, size_t cap) { return (size_t)(k * 2654435761u) & (cap - 1); }

static int dm_grow(DirtyMap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    while (m->n * 2 >= nc)
        nc *= 2;
    Pgno *nk = calloc(nc, sizeof *nk);
    DirtyPage **nv = calloc(nc, sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0 || m->keys[i] == TOMB)
            continue;
        size_t j = dm_slot(m->keys[i], nc);
        while (nk[j])
            j = (j + 1) & (nc - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = nc;
    m->used = m->n;
    return 0;
}

static DirtyPage *dm_get(const DirtyMap *m, Pgno k)
{
    if (!m->n)
        return NULL;
    size_t j = dm_slot(k, m->cap);
    while (m->keys[j]) {
        if (m->keys[j] == k)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

static int dm_put(DirtyMap *m, DirtyPage *d)
{
    if ((m->used + 1) * 2 > m->cap && dm_grow(m))
        return -1;
    size_t j = dm_slot(d->page.pgno, m->cap);
    while (m->keys[j] && m->keys[j] != TOMB)
        j = (j + 1) & (m->cap - 1);
    if (m->keys[j] == 0)
        m->used++;
    m->keys[j] = d->page.pgno;
    m->vals[j] = d;
    m->n++;
    return 0;
}

static DirtyPage *dm_remove(DirtyMap *m, Pgno k)
{
    if (!m->n)
        return NULL;
    size_t j = dm_slot(k, m->cap);
    while (m->keys[j]) {
        if (m->keys[j] == k) {
            DirtyPage *d = m->vals[j];
            m->keys[j] = TOMB;
            m->vals[j] = NULL;
            m->n--;
            return d;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

static void dirty_page_free(DirtyPage *d)
{
    if (d) {
        free(d->page.data);
        free(d);
    }
}

static void dm_free(DirtyMap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] && m->keys[i] != TOMB)
            dirty_page_free(m->vals[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- log index ------------------------------------------------------------- */

/* Caller holds idx_mu and has just changed the index fields. */
static void idx_publish(Pager *p)
{
    atomic_store_explicit(&p->idx_pub, p->idx_gen << 32 | p->idx_frames,
                          memory_order_release);
}

/* Brings the local log index up to the snapshot `s`.  Caller holds idx_mu.
 * Returns 0, -1 if the log restarted under us (re-read the snapshot), or a
 * BlazeDB error code. */
static int index_catch_up_locked(Pager *p, const ShmSnapshot *s)
{
    if (p->idx_gen != s->wal_gen || p->idx_salt != s->wal_salt) {
        wal_index_clear(&p->idx);
        p->idx_gen = s->wal_gen;
        p->idx_salt = s->wal_salt;
        p->idx_frames = 0;
        idx_publish(p);
    }
    if (p->idx_frames >= s->wal_frames)
        return 0;
    int e = wal_catch_up(p->wal, p->page_size, s->wal_salt, &p->idx,
                         p->idx_frames, (uint32_t)s->wal_frames);
    if (e == -1) {
        wal_index_clear(&p->idx);
        p->idx_frames = 0;
        p->idx_gen = 0;
        idx_publish(p);
        return -1;
    }
    if (e) {
        idx_publish(p);
        return io_error(p, e, "reading the log");
    }
    p->idx_frames = (uint32_t)s->wal_frames;
    idx_publish(p);
    return 0;
}

static int read_snapshot(Pager *p, ShmSnapshot *s, uint64_t *seq)
{
    if (shm_read_snapshot(p->sh, s, seq) == 0)
        return 0;
    uint64_t start = p->vfs->now_us(p->vfs);
    while (shm_read_snapshot(p->sh, s, seq) != 0) {
        if (p->vfs->now_us(p->vfs) - start > (uint64_t)p->busy_ms * 1000 + 100000)
            return pager_error(p, BLAZEDB_BUSY,
                               "the shared state is being repaired by another process");
        p->vfs->sleep_us(p->vfs, 1000);
    }
    return 0;
}

/* Does the log index cover snapshot s?  Only a hint (the index may move
 * on at once; read_page authenticates what it finds). */
static int index_covers(Pager *p, const ShmSnapshot *s)
{
    if (!p->wal)
        return 1;
    uint64_t pub = atomic_load_explicit(&p->idx_pub, memory_order_acquire);
    return (uint32_t)(pub >> 32) == (uint32_t)s->wal_gen && (uint32_t)pub >= s->wal_frames;
}

/* Snapshot + index caught up to it.  *seq (if not NULL) gets the shared
 * sequence the snapshot was read at. */
static int snapshot_and_index_seq(Pager *p, ShmSnapshot *s, uint64_t *seq)
{
    for (int tries = 0; tries < 100; tries++) {
        int rc = read_snapshot(p, s, seq);
        if (rc)
            return rc;
        if (index_covers(p, s))
            return 0;
        pthread_mutex_lock(&p->idx_mu);
        rc = index_catch_up_locked(p, s);
        pthread_mutex_unlock(&p->idx_mu);
        if (rc != -1)
            return rc;
    }
    return pager_error(p, BLAZEDB_BUSY, "the log keeps restarting");
}

static int snapshot_and_index(Pager *p, ShmSnapshot *s)
{
    return snapshot_and_index_seq(p, s, NULL);
}

/* ---- page reads -------------------------------------------------------------- */

static int keys_install(Pager *p);
static int keys_refresh(Pager *p);
static int keys_check(Pager *p);

/* Reads and authenticates the newest committed image of pgno; ctr 0 accepts
 * any version, whose ctr then goes to *got (if not NULL).  *epoch (if not
 * NULL) gets the key epoch byte of the image. */
static int read_page(Pager *p, Pgno pgno, uint64_t ctr, uint8_t *payload, uint64_t *got,
                     uint8_t *epoch)
{
    uint8_t *raw = tl_raw;
    int refreshed = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        uint32_t frame = 0;
        uint64_t gen = 0;
        if (p->wal) {
            pthread_mutex_lock(&p->idx_mu);
            frame = wal_index_get(&p->idx, pgno);
            gen = p->idx_gen;
            pthread_mutex_unlock(&p->idx_mu);
        }
        int e = frame ? os_read(p->wal, raw, p->page_size,
                                (uint64_t)frame * p->page_size, NULL)
                      : os_read(p->db, raw, p->page_size,
                                (uint64_t)pgno * p->page_size, NULL);
        if (e)
            return io_error(p, e, "reading a page");
        atomic_fetch_add_explicit(&p->st.pages_read, 1, memory_order_relaxed);
        int o = codec_open(&p->keys, raw, payload, p->page_size, pgno, ctr, PAGE_KIND_DATA);
        if (o == 0) {
            PageTrailer tr;
            codec_read_trailer(raw, p->page_size, &tr);
            if (got)
                *got = tr.ctr;
            if (epoch)
                *epoch = tr.epoch;
            return BLAZEDB_OK;
        }
        if (o == CODEC_NOKEY && !refreshed) {
            /* sealed under a key a re-encryption made since we last read
             * the header: learn it and retry */
            refreshed = 1;
            int rc = keys_refresh(p);
            if (rc)
                return rc;
            attempt--;
            continue;
        }
        if (!p->wal)
            break;
        /* Did the log restart since we looked?  Then refresh and retry. */
        ShmSnapshot s;
        if (read_snapshot(p, &s, NULL))
            break;
        if (s.wal_gen == gen && attempt > 0)
            break;
        pthread_mutex_lock(&p->idx_mu);
        int rc = index_catch_up_locked(p, &s);
        pthread_mutex_unlock(&p->idx_mu);
        if (rc > 0)
            return rc;
    }
    return pager_error(p, BLAZEDB_CORRUPT,
                       "page %u (version %llu) failed authentication", pgno,
                       (unsigned long long)ctr);
}

int pager_get(PagerTxn *t, PageRef ref, Page **out)
{
    Pager *p = t->p;
    *out = NULL;
    if (ref.pgno < PAGER_FIRST_DATA_PGNO || ref.pgno >= t->meta.npages ||
        ref.ctr == 0 || ref.ctr > t->txnid)
        return pager_error(p, BLAZEDB_CORRUPT,
                           "reference to page %u (version %llu) is out of range",
                           ref.pgno, (unsigned long long)ref.ctr);
    if (t->write) {
        DirtyPage *d = dm_get(&t->dirty, ref.pgno);
        if (d) {
            if (d->page.ctr != ref.ctr)
                return pager_error(p, BLAZEDB_CORRUPT,
                                   "stale reference to page %u", ref.pgno);
            *out = &d->page;
            return BLAZEDB_OK;
        }
        if (ref.ctr == t->txnid)
            return pager_error(p, BLAZEDB_CORRUPT,
                               "reference to a freed page %u", ref.pgno);
    }
    CacheEntry *e;
    int r = cache_fetch(&p->cache, ref.pgno, ref.ctr, &e);
    if (r < 0)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory for the page cache");
    if (r == 1) {
        t->hits++;
        *out = &e->page;
        return BLAZEDB_OK;
    }
    t->misses++;
    int rc = read_page(p, ref.pgno, ref.ctr, e->page.data, NULL, &e->page.key_epoch);
    if (rc) {
        cache_abandon(&p->cache, e);
        return rc;
    }
    cache_loaded(&p->cache, e);
    *out = &e->page;
    return BLAZEDB_OK;
}

int pager_snapshot_read(PagerTxn *t, Pgno pgno, uint8_t *payload, uint64_t *ctr)
{
    Pager *p = t->p;
    if (t->write)
        return pager_error(p, BLAZEDB_MISUSE, "pager_snapshot_read in a write transaction");
    if (pgno < PAGER_FIRST_DATA_PGNO || pgno >= t->meta.npages)
        return pager_error(p, BLAZEDB_CORRUPT, "page %u is out of range", pgno);
    int rc = read_page(p, pgno, 0, payload, ctr, NULL);
    if (rc == BLAZEDB_OK && (*ctr == 0 || *ctr > t->txnid))
        rc = pager_error(p, BLAZEDB_CORRUPT,
                         "page %u has version %llu, newer than the snapshot %llu", pgno,
                         (unsigned long long)*ctr, (unsigned long long)t->txnid);
    return rc;
}

void pager_key_info(Pager *p, FileHeader *h, uint8_t dk[CRYPTO_KEY_LEN])
{
    pthread_mutex_lock(&p->err_mu); /* also guards hdr and dk against changes */
    *h = p->hdr;
    memcpy(dk, p->dk, CRYPTO_KEY_LEN);
    pthread_mutex_unlock(&p->err_mu);
}

int pager_is_dirty(const PagerTxn *t, const Page *pg)
{
    return t->write && pg && pg->ctr == t->txnid;
}

uint8_t *pager_hint_room(const PagerTxn *t, Page *pg, size_t *size)
{
    *size = 0;
    if (!pg || pager_is_dirty(t, pg))
        return NULL;
    *size = CACHE_HINT_ROOM;
    return cache_hint_room(pg);
}

void pager_unpin(PagerTxn *t, Page *pg)
{
    if (!pg || pager_is_dirty(t, pg))
        return;
    cache_unpin(&t->p->cache, (CacheEntry *)pg);
}

/* ---- savepoints ------------------------------------------------------------------ */

/*
 * A savepoint records the transaction's meta, freed-list length and pool,
 * and from then on the old content of every dirty page the first time it
 * changes (pager_dirty) or is freed (pager_free).  Pages allocated after it
 * are recognised by their birth number.  Rolling back applies the undo
 * records of the inner savepoints and then its own, newest first; releasing
 * hands the records the enclosing savepoint still needs to it.
 */

static void sp_free(PagerSp *sp)
{
    for (size_t i = 0; i < sp->nundo; i++)
        free(sp->undo[i].copy);
    free(sp->undo);
    free(sp->pool);
    memset(sp, 0, sizeof *sp);
}

static int sp_push(PagerSp *sp, DirtyPage *d, uint8_t *copy, uint64_t old_mark)
{
    if (sp->nundo == sp->cundo) {
        size_t nc = sp->cundo ? sp->cundo * 2 : 16;
        SpUndo *nu = realloc(sp->undo, nc * sizeof *nu);
        if (!nu)
            return -1;
        sp->undo = nu;
        sp->cundo = nc;
    }
    sp->undo[sp->nundo++] = (SpUndo){d, copy, old_mark};
    return 0;
}

int pager_savepoint(PagerTxn *t, size_t *level)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_READONLY, "savepoint in a read transaction");
    if (t->nsp == t->csp) {
        size_t nc = t->csp ? t->csp * 2 : 4;
        PagerSp *ns = realloc(t->sp, nc * sizeof *ns);
        if (!ns)
            return pager_error(p, BLAZEDB_NOMEM, "out of memory for a savepoint");
        t->sp = ns;
        t->csp = nc;
    }
    PagerSp *sp = &t->sp[t->nsp];
    memset(sp, 0, sizeof *sp);
    sp->pool = malloc((t->npool ? t->npool : 1) * sizeof *sp->pool);
    if (!sp->pool)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory for a savepoint");
    if (t->npool)
        memcpy(sp->pool, t->pool, t->npool * sizeof *sp->pool);
    sp->npool = t->npool;
    sp->epoch = ++t->sp_epoch;
    sp->births = t->births;
    sp->meta = t->meta;
    sp->nfreed = t->nfreed;
    t->nsp++;
    *level = t->nsp;
    return BLAZEDB_OK;
}

size_t pager_savepoint_depth(const PagerTxn *t) { return t->nsp; }

/* Takes d out of the grave (it goes back into the dirty map). */
static void grave_take(PagerTxn *t, DirtyPage *d)
{
    for (size_t i = t->ngrave; i-- > 0;)
        if (t->grave[i] == d) {
            t->grave[i] = t->grave[--t->ngrave];
            return;
        }
}

static int grave_put(PagerTxn *t, DirtyPage *d)
{
    if (t->ngrave == t->cgrave) {
        size_t nc = t->cgrave ? t->cgrave * 2 : 16;
        DirtyPage **ng = realloc(t->grave, nc * sizeof *ng);
        if (!ng)
            return -1;
        t->grave = ng;
        t->cgrave = nc;
    }
    t->grave[t->ngrave++] = d;
    return 0;
}

int pager_savepoint_rollback(PagerTxn *t, size_t level)
{
    Pager *p = t->p;
    if (level == 0 || level > t->nsp)
        return pager_error(p, BLAZEDB_MISUSE, "no savepoint %zu (%zu open)", level, t->nsp);
    PagerSp *target = &t->sp[level - 1];
    /* 1. pages born since the savepoint leave the dirty map (into the
     *    grave: a cursor may still point at them) */
    for (size_t i = 0; i < t->dirty.cap; i++) {
        if (!t->dirty.keys[i] || t->dirty.keys[i] == TOMB)
            continue;
        DirtyPage *d = t->dirty.vals[i];
        if (d->birth <= target->births)
            continue;
        if (grave_put(t, d))
            return pager_error(p, BLAZEDB_NOMEM, "out of memory in a rollback");
        t->dirty.keys[i] = TOMB;
        t->dirty.vals[i] = NULL;
        t->dirty.n--;
    }
    /* 2. undo records, newest first, from the innermost savepoint out */
    for (size_t s = t->nsp; s-- > level - 1;) {
        PagerSp *sp = &t->sp[s];
        for (size_t i = sp->nundo; i-- > 0;) {
            SpUndo *u = &sp->undo[i];
            if (u->copy) {
                memcpy(u->d->page.data, u->copy, p->payload);
                free(u->copy);
            } else if (u->d->birth <= target->births) {
                grave_take(t, u->d);
                if (dm_put(&t->dirty, u->d))
                    return pager_error(p, BLAZEDB_NOMEM, "out of memory in a rollback");
            }
            u->d->sp_mark = u->old_mark;
        }
        sp->nundo = 0;
        if (s > level - 1)
            sp_free(sp);
    }
    t->nsp = level;
    /* 3. the transaction's own state */
    t->meta = target->meta;
    t->nfreed = target->nfreed;
    if (target->npool > t->cpool) {
        Pgno *np = realloc(t->pool, target->npool * sizeof *np);
        if (!np)
            return pager_error(p, BLAZEDB_NOMEM, "out of memory in a rollback");
        t->pool = np;
        t->cpool = target->npool;
    }
    if (target->npool)
        memcpy(t->pool, target->pool, target->npool * sizeof *t->pool);
    t->npool = target->npool;
    t->change_seq++;
    return BLAZEDB_OK;
}

int pager_savepoint_release(PagerTxn *t, size_t level)
{
    Pager *p = t->p;
    if (level == 0 || level > t->nsp)
        return pager_error(p, BLAZEDB_MISUSE, "no savepoint %zu (%zu open)", level, t->nsp);
    PagerSp *parent = level >= 2 ? &t->sp[level - 2] : NULL;
    for (size_t s = level - 1; s < t->nsp; s++) {
        PagerSp *sp = &t->sp[s];
        for (size_t i = 0; i < sp->nundo; i++) {
            SpUndo *u = &sp->undo[i];
            int keep = parent && (u->copy ? u->old_mark < parent->epoch
                                          : u->d->birth <= parent->births);
            if (keep && sp_push(parent, u->d, u->copy, u->old_mark))
                return pager_error(p, BLAZEDB_NOMEM, "out of memory releasing a savepoint");
            if (!keep)
                free(u->copy);
        }
        sp->nundo = 0;
        sp_free(sp);
    }
    t->nsp = level - 1;
    return BLAZEDB_OK;
}

/* ---- allocation --------------------------------------------------------------- */

int pager_alloc(PagerTxn *t, Page **out)
{
    Pager *p = t->p;
    *out = NULL;
    if (!t->write)
        return pager_error(p, BLAZEDB_READONLY, "allocation in a read transaction");
    Pgno pgno = 0;
    if (t->npool == 0 && p->refill && !t->in_refill) {
        t->in_refill = 1;
        int rc = p->refill(t, p->refill_arg);
        t->in_refill = 0;
        if (rc)
            return rc;
    }
    if (t->npool > 0) {
        /* the refill hook may run here too: it adds a record's pages to the
         * pool before deleting the record, and that deletion's copies are
         * served from them */
        if (t->alloc_low) {
            /* vacuum: take the lowest page number, so that pages move
             * towards the start of the file (O(pool) per allocation) */
            size_t lo = t->npool - 1;
            for (size_t i = 0; i + 1 < t->npool; i++)
                if (t->pool[i] < t->pool[lo])
                    lo = i;
            Pgno tmp = t->pool[lo];
            t->pool[lo] = t->pool[t->npool - 1];
            t->pool[t->npool - 1] = tmp;
        }
        pgno = t->pool[--t->npool];
    } else {
        if (t->meta.npages >= PAGER_MAX_PGNO)
            return pager_error(p, BLAZEDB_FULL, "the database reached its maximum size");
        pgno = t->meta.npages++;
    }
    DirtyPage *d = calloc(1, sizeof *d);
    uint8_t *data = d ? calloc(1, p->payload) : NULL;
    if (!d || !data || (d->page.data = data, d->page.pgno = pgno,
                        d->page.ctr = t->txnid, d->birth = ++t->births,
                        d->sp_mark = t->sp_epoch, dm_put(&t->dirty, d))) {
        free(data);
        free(d);
        push_pgno(&t->pool, &t->npool, &t->cpool, pgno);
        return pager_error(p, BLAZEDB_NOMEM, "out of memory for a dirty page");
    }
    t->change_seq++;
    *out = &d->page;
    return BLAZEDB_OK;
}

int pager_free(PagerTxn *t, PageRef ref)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_READONLY, "free in a read transaction");
    t->change_seq++;
    if (ref.ctr == t->txnid) {
        DirtyPage *d = dm_get(&t->dirty, ref.pgno);
        if (!d)
            return pager_error(p, BLAZEDB_CORRUPT, "double free of page %u", ref.pgno);
        if (t->nsp && d->birth <= t->sp[t->nsp - 1].births &&
            sp_push(&t->sp[t->nsp - 1], d, NULL, d->sp_mark))
            return pager_error(p, BLAZEDB_NOMEM, "out of memory");
        dm_remove(&t->dirty, ref.pgno);
        if (t->ngrave == t->cgrave) {
            size_t nc = t->cgrave ? t->cgrave * 2 : 16;
            DirtyPage **ng = realloc(t->grave, nc * sizeof *ng);
            if (!ng) {
                dm_put(&t->dirty, d);
                return pager_error(p, BLAZEDB_NOMEM, "out of memory");
            }
            t->grave = ng;
            t->cgrave = nc;
        }
        t->grave[t->ngrave++] = d;
        if (push_pgno(&t->pool, &t->npool, &t->cpool, ref.pgno))
            return pager_error(p, BLAZEDB_NOMEM, "out of memory");
        return BLAZEDB_OK;
    }
    if (push_pgno(&t->freed, &t->nfreed, &t->cfreed, ref.pgno))
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    return BLAZEDB_OK;
}

int pager_dirty(PagerTxn *t, Page *pg, Page **out)
{
    if (pager_is_dirty(t, pg)) {
        DirtyPage *d = (DirtyPage *)pg;
        if (t->nsp && d->sp_mark < t->sp[t->nsp - 1].epoch) {
            /* first change since the innermost savepoint: keep the old
             * content for a rollback to it */
            uint8_t *copy = malloc(t->p->payload);
            if (!copy || sp_push(&t->sp[t->nsp - 1], d, copy, d->sp_mark)) {
                free(copy);
                return pager_error(t->p, BLAZEDB_NOMEM, "out of memory for a savepoint");
            }
            memcpy(copy, pg->data, t->p->payload);
            d->sp_mark = t->sp[t->nsp - 1].epoch;
        }
        t->change_seq++; /* the caller is about to modify it: cursors must notice */
        *out = pg;
        return BLAZEDB_OK;
    }
    Page *n;
    int rc = pager_alloc(t, &n);
    if (rc)
        return rc;
    memcpy(n->data, pg->data, t->p->payload);
    PageRef old = {pg->pgno, 0, pg->ctr};
    rc = pager_free(t, old);
    if (rc) {
        pager_free(t, (PageRef){n->pgno, 0, n->ctr});
        return rc;
    }
    pager_unpin(t, pg);
    *out = n;
    return BLAZEDB_OK;
}

size_t pager_freed(PagerTxn *t, const Pgno **out)
{
    *out = t->freed;
    return t->nfreed;
}

int pager_pool_add(PagerTxn *t, const Pgno *pgnos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (push_pgno(&t->pool, &t->npool, &t->cpool, pgnos[i]))
            return pager_error(t->p, BLAZEDB_NOMEM, "out of memory");
    return BLAZEDB_OK;
}

size_t pager_pool_take(PagerTxn *t, Pgno **out)
{
    size_t n = t->npool;
    *out = t->pool;
    t->pool = NULL;
    t->npool = t->cpool = 0;
    return n;
}

size_t pager_pool_size(const PagerTxn *t) { return t->npool; }

/* ---- vacuum support (src/tools/vacuum.c) --------------------------------------- */

void pager_set_alloc_low(PagerTxn *t, int on) { t->alloc_low = on; }

size_t pager_pool_count_below(const PagerTxn *t, Pgno cut)
{
    size_t n = 0;
    for (size_t i = 0; i < t->npool; i++)
        n += t->pool[i] < cut;
    return n;
}

void pager_set_commit_hook(Pager *p, PagerCommitHookFn fn, void *arg,
                           void (*free_arg)(void *arg))
{
    if (p->hook_free)
        p->hook_free(p->hook_arg);
    p->commit_hook = fn;
    p->hook_arg = arg;
    p->hook_free = free_arg;
}

void pager_set_refill(Pager *p, PagerRefillFn fn, void *arg)
{
    p->refill = fn;
    p->refill_arg = arg;
}

uint64_t pager_oldest_reader(PagerTxn *t)
{
    Pager *p = t->p;
    /* Only published (durable) commits count: pages freed by transactions
     * still waiting for their sync stay untouched until then. */
    uint64_t committed = atomic_load(&p->sh->txn_hint);
    if (!t->write && t->txnid < committed)
        committed = t->txnid;
    uint64_t oldest = committed;
    for (uint32_t i = 0; i < SHM_NSLOTS; i++) {
        uint64_t v = atomic_load(&p->sh->slots[i].txnid);
        if (v == 0 || v >= oldest)
            continue;
        if (v + 64 < committed) {
            /* a reader lagging far behind: is its owner still alive? */
            int mine = 0;
            pthread_mutex_lock(&p->slot_mu);
            for (size_t k = 0; k < p->nowned; k++)
                if (p->owned[k] == i)
                    mine = 1;
            pthread_mutex_unlock(&p->slot_mu);
            int held = 1;
            if (!mine &&
                p->shm->io->lock_held(p->shm, SHM_LOCK_SLOT + i, 1, &held) == 0 &&
                !held) {
                uint64_t expect = v;
                atomic_compare_exchange_strong(&p->sh->slots[i].txnid, &expect, 0);
                continue;
            }
        }
        oldest = v;
    }
    return oldest;
}

/* ---- reader slots ------------------------------------------------------------- */

/* The index into owned[] this thread took last (of whichever handle): a
 * thread that reads again tries the same slot first, so threads reading
 * at once keep to slots of their own instead of racing for the first. */
static _Thread_local size_t tl_slot_k;

/* What a slot holds for snapshot txnid (0 means idle). */
static uint64_t slot_id(uint64_t txnid) { return txnid ? txnid : 1; }

/* Takes a free slot among those this handle holds and publishes txnid in
 * it, with one compare-and-swap (a full barrier: the caller's next load
 * of txn_hint comes after it).  1 (and the slot in *out, its index in
 * owned[] in *out_k) when one was free. */
static int slot_take_owned(Pager *p, uint64_t txnid, int *out, size_t *out_k)
{
    size_t n = atomic_load_explicit(&p->nowned, memory_order_acquire);
    size_t k = tl_slot_k < n ? tl_slot_k : 0;
    uint64_t id = slot_id(txnid);
    for (size_t j = 0; j < n; j++, k = k + 1 < n ? k + 1 : 0) {
        _Atomic uint64_t *v = &p->sh->slots[p->owned[k]].txnid;
        uint64_t z = 0;
        if (atomic_load_explicit(v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(v, &z, id)) {
            tl_slot_k = k;
            *out = (int)p->owned[k];
            *out_k = k;
            return 1;
        }
    }
    return 0;
}

static int slot_acquire(Pager *p, uint64_t txnid, int *out, size_t *out_k)
{
    if (slot_take_owned(p, txnid, out, out_k))
        return 0;
    pthread_mutex_lock(&p->slot_mu);
    if (slot_take_owned(p, txnid, out, out_k)) { /* one came back meanwhile */
        pthread_mutex_unlock(&p->slot_mu);
        return 0;
    }
    uint64_t pid = (uint64_t)getpid();
    /* slots 0, 4, 8, ... first, then 1, 5, 9, ...: four ShmSlots share a
     * cache line, and readers in different threads or processes should
     * not write to one line */
    enum { PER_LINE = 64 / sizeof(ShmSlot) };
    for (uint32_t j = 0; j < SHM_NSLOTS; j++) {
        uint32_t i = (j * PER_LINE) % SHM_NSLOTS + j / (SHM_NSLOTS / PER_LINE);
        int mine = 0;
        for (size_t k = 0; k < p->nowned; k++)
            if (p->owned[k] == i)
                mine = 1;
        if (mine)
            continue;
        if (os_lock(p->shm, SHM_LOCK_SLOT + i, 1, OS_LOCK_EXCLUSIVE) != 0)
            continue;
        /* we own slot i now (its previous owner, if any, is gone) */
        atomic_store(&p->sh->slots[i].owner, pid);
        atomic_store(&p->sh->slots[i].txnid, slot_id(txnid));
        size_t n = atomic_load_explicit(&p->nowned, memory_order_relaxed);
        p->owned[n] = i;
        tl_slot_k = n;
        *out_k = n;
        atomic_store_explicit(&p->nowned, n + 1, memory_order_release);
        *out = (int)i;
        pthread_mutex_unlock(&p->slot_mu);
        return 0;
    }
    pthread_mutex_unlock(&p->slot_mu);
    return pager_error(p, BLAZEDB_BUSY, "too many concurrent read transactions (%u)",
                       SHM_NSLOTS);
}

/* Gives back slot owned[k].  A release store is enough: the writer that
 * sees the slot idle may reuse pages, and every read of ours came before;
 * the next reader of this handle may take it at once (its compare-and-swap
 * then also sees our slot_stats). */
static void slot_release(Pager *p, int slot)
{
    atomic_store_explicit(&p->sh->slots[slot].txnid, 0, memory_order_release);
}

static void stat_add(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

/* Ends a read transaction's hold on its slot: its cache counters go to
 * the slot's, then the slot goes back. */
static void slot_end(PagerTxn *t)
{
    Pager *p = t->p;
    if (t->hits)
        stat_add(&p->slot_stats[t->slot_k].hits, t->hits);
    if (t->misses)
        stat_add(&p->slot_stats[t->slot_k].misses, t->misses);
    t->hits = t->misses = 0;
    slot_release(p, t->slot);
    t->slot = -1;
}

static void slots_release_all(Pager *p)
{
    pthread_mutex_lock(&p->slot_mu);
    for (size_t k = 0; k < p->nowned; k++) {
        uint32_t i = p->owned[k];
        atomic_store(&p->sh->slots[i].txnid, 0);
        atomic_store(&p->sh->slots[i].owner, 0);
        os_lock(p->shm, SHM_LOCK_SLOT + i, 1, OS_LOCK_UNLOCK);
    }
    p->nowned = 0;
    pthread_mutex_unlock(&p->slot_mu);
}

/* ---- recovery ------------------------------------------------------------------- */

/* Reads the two meta pages; picks the valid one with the highest txnid.
 * *slot_txn gets each slot's txnid (0 if invalid). */
/*
 * Reads both meta slots and picks the newest that authenticates.  A slot
 * that fails while its (unauthenticated) trailer claims a version newer
 * than the chosen one may have been the newest: *doubt is set to that
 * version, and recovery must find something newer in the log (the case of
 * a checkpoint torn while writing it) or refuse to open an older state.
 * One claiming the chosen version itself is a torn reseal of that same
 * meta (re-encryption writes it to both slots): nothing is missing.
 */
static int load_main_meta(Pager *p, PagerMeta *m, uint64_t slot_txn[2], uint64_t *doubt)
{
    int found = 0;
    uint64_t claim[2] = {0, 0};
    *doubt = 0;
    uint8_t *payload = malloc(p->payload);
    if (!payload)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    for (Pgno pg = 1; pg <= 2; pg++) {
        slot_txn[pg - 1] = 0;
        int e = os_read(p->db, tl_raw, p->page_size, (uint64_t)pg * p->page_size, NULL);
        if (e) {
            free(payload);
            return io_error(p, e, "reading a meta page");
        }
        PagerMeta cand;
        PageTrailer tr;
        codec_read_trailer(tl_raw, p->page_size, &tr);
        if (codec_open(&p->keys, tl_raw, payload, p->page_size, pg, 0, PAGE_KIND_META) ||
            codec_meta_decode(payload, &cand) || tr.ctr != cand.txnid) {
            /* an unrecognisable trailer claims anything */
            claim[pg - 1] = tr.kind == PAGE_KIND_META && tr.pgno == pg ? tr.ctr : UINT64_MAX;
            continue;
        }
        slot_txn[pg - 1] = cand.txnid ? cand.txnid : 1;
        if (!found || cand.txnid > m->txnid)
            *m = cand;
        found = 1;
    }
    free(payload);
    if (!found)
        return pager_error(p, BLAZEDB_CORRUPT, "both meta pages are damaged");
    for (int i = 0; i < 2; i++)
        if (!slot_txn[i] && claim[i] > m->txnid)
            *doubt = claim[i];
    return BLAZEDB_OK;
}

static int write_meta_page(Pager *p, const PagerMeta *m, Pgno slot)
{
    uint8_t *img = tl_raw;
    memset(img, 0, p->page_size);
    codec_meta_encode(m, img);
    PageTrailer tr = {m->txnid, slot, PAGE_KIND_META, 0, 0};
    if (codec_seal(&p->keys, img, img, p->page_size, &tr))
        return pager_error(p, BLAZEDB_INTERNAL_ERROR, "sealing a meta page failed");
    int e = os_write(p->db, img, p->page_size, (uint64_t)slot * p->page_size);
    if (e)
        return io_error(p, e, "writing a meta page");
    atomic_fetch_add(&p->st.bytes_written, p->page_size);
    return BLAZEDB_OK;
}

/* First handle on the file: rebuild the shared state from disk.  Caller
 * holds DMS exclusive (or WRITER, when repairing a torn publication). */
static int recover(Pager *p, int reset_slots)
{
    PagerMeta meta;
    uint64_t slot_txn[2], doubt;
    int rc = load_main_meta(p, &meta, slot_txn, &doubt);
    if (rc)
        return rc;
    uint64_t salt = 0;
    WalRecovery rec;
    memset(&rec, 0, sizeof rec);
    wal_index_clear(&p->idx);
    if (p->wal) {
        int e = wal_read_header(p->wal, p->page_size, p->hdr.file_id, &salt);
        if (e > 1)
            return io_error(p, e, "reading the log header");
        if (e == 0) {
            e = wal_recover(p->wal, &p->keys, p->page_size, p->hdr.file_id, salt,
                            &p->idx, &rec);
            if (e)
                return io_error(p, e, "recovering the log");
        } else {
            salt = 0;
            wal_chain_init(p->hdr.file_id, 0, rec.chain);
        }
    }
    if (doubt && !(rec.have_meta && rec.meta.txnid > meta.txnid))
        return pager_error(p, BLAZEDB_CORRUPT,
                           "the newer meta page is damaged and the log does not cover it; "
                           "opening would silently return an older state");
    uint64_t backfill = 0;
    if (rec.have_meta && rec.meta.txnid > meta.txnid) {
        meta = rec.meta;
    } else if (reset_slots) {
        /*
         * Everything in the log is already in the main file.  Drop it and
         * let the next writer start a fresh generation: its frames may be
         * the old generation that a restart was overwriting when power
         * failed, with intact trailers over torn bodies.
         */
        wal_index_clear(&p->idx);
        rec.frames = 0;
        salt = 0;
        wal_chain_init(p->hdr.file_id, 0, rec.chain);
    } else {
        /* other processes may still read these frames: keep them */
        backfill = rec.frames;
        if (!rec.have_meta)
            rec.frames = 0;
    }
    ShmState *s = p->sh;
    uint64_t oldgen = atomic_load(&s->wal_gen);
    atomic_store(&s->initialised, 0);
    atomic_store(&s->magic, SHM_MAGIC);
    atomic_store(&s->version, SHM_VERSION);
    uint64_t fid[2];
    memcpy(fid, p->hdr.file_id, 16);
    atomic_store(&s->file_id[0], fid[0]);
    atomic_store(&s->file_id[1], fid[1]);
    for (uint32_t i = 0; reset_slots && i < SHM_NSLOTS; i++) {
        atomic_store(&s->slots[i].txnid, 0);
        atomic_store(&s->slots[i].owner, 0);
    }
    ShmSnapshot snap;
    memset(&snap, 0, sizeof snap);
    snap.meta = meta;
    snap.wal_salt = salt;
    snap.wal_frames = rec.frames;
    snap.wal_gen = oldgen + 1;
    memcpy(snap.wal_chain, rec.chain, sizeof snap.wal_chain);
    shm_publish(s, &snap);
    atomic_store(&s->backfill, backfill);
    atomic_store(&s->backfill_gen, snap.wal_gen);
    pthread_mutex_lock(&p->idx_mu);
    p->idx_gen = snap.wal_gen;
    p->idx_salt = salt;
    p->idx_frames = rec.frames;
    idx_publish(p);
    pthread_mutex_unlock(&p->idx_mu);
    atomic_store(&s->initialised, 1);
    return BLAZEDB_OK;
}

/* ---- transactions -------------------------------------------------------------- */

/* Each thread keeps the struct of the last transaction it ended (of any
 * handle) for its next begin: a read outside a transaction then
 * allocates nothing, threads share nothing for it, and a read on the
 * handle whose snapshot has not moved reuses the copy of it the struct
 * still holds (pager_begin).  The pointer is thread-local; a key whose
 * value is the thread's holder frees the struct when the thread exits. */
static _Thread_local struct SpareHolder {
    PagerTxn *t;
} tl_spare;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static int spare_ok;
static _Thread_local int spare_registered;

static void spare_dtor(void *v)
{
    struct SpareHolder *h = v;
    free(h->t);
    h->t = NULL;
}

static void spare_init(void) { spare_ok = pthread_key_create(&spare_key, spare_dtor) == 0; }

/* A transaction struct zeroed up to meta (the fields after it keep what
 * they held), or NULL when out of memory. */
static PagerTxn *spare_take(void)
{
    PagerTxn *t = tl_spare.t;
    if (!t)
        return calloc(1, sizeof *t);
    tl_spare.t = NULL;
    memset(t, 0, offsetof(PagerTxn, meta)); /* meta and base: pager_begin sets */
    return t;
}

static void spare_put(PagerTxn *t)
{
    if (!tl_spare.t) {
        if (!spare_registered) {
            pthread_once(&spare_once, spare_init);
            spare_registered = spare_ok && pthread_setspecific(spare_key, &tl_spare) == 0;
        }
        if (spare_registered) {
            tl_spare.t = t;
            return;
        }
    }
    free(t);
}

static void txn_free(PagerTxn *t)
{
    if (t->hits)
        atomic_fetch_add_explicit(&t->p->st.cache_hits, t->hits, memory_order_relaxed);
    if (t->misses)
        atomic_fetch_add_explicit(&t->p->st.cache_misses, t->misses, memory_order_relaxed);
    for (size_t i = 0; i < t->nsp; i++)
        sp_free(&t->sp[i]);
    free(t->sp);
    for (size_t i = 0; i < t->ngrave; i++)
        dirty_page_free(t->grave[i]);
    free(t->grave);
    dm_free(&t->dirty);
    free(t->freed);
    free(t->pool);
    spare_put(t);
}

/* Releases the WRITER byte lock when nothing of ours is active or pending.
 * Caller holds sync_mu. */
static void maybe_release_writer_locked(Pager *p)
{
    if (p->wl_held && !p->writer_active && p->npending == 0) {
        os_lock(p->shm, SHM_LOCK_WRITER, 1, OS_LOCK_UNLOCK);
        p->wl_held = 0;
        p->have_local_base = 0;
    }
}

/* A value unique to the calling thread while it lives. */
static uintptr_t thread_id(void)
{
    static _Thread_local char me;
    return (uintptr_t)&me;
}

static int writer_lock(Pager *p)
{
    if (atomic_load(&p->write_owner) == thread_id())
        return pager_error(p, BLAZEDB_MISUSE,
                           "this thread already has a write transaction on this handle");
    if (p->busy_ms == 0) {
        if (pthread_mutex_trylock(&p->write_mu) != 0)
            return pager_error(p, BLAZEDB_BUSY, "another write transaction is active");
    } else if (pthread_mutex_trylock(&p->write_mu) != 0) {
        /* another thread of this handle writes: a lock wait (counted and
         * timed like the cross-process ones in lock_wait) */
        uint64_t w0 = p->vfs->now_us(p->vfs);
        atomic_fetch_add(&p->st.lock_waits, 1);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += p->busy_ms / 1000;
        ts.tv_nsec += (long)(p->busy_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int e = pthread_mutex_timedlock(&p->write_mu, &ts);
        atomic_fetch_add(&p->st.lock_wait_us, p->vfs->now_us(p->vfs) - w0);
        if (e != 0)
            return pager_error(p, BLAZEDB_BUSY,
                               "timed out waiting for another write transaction");
    }
    atomic_store(&p->write_owner, thread_id());
    pthread_mutex_lock(&p->sync_mu);
    p->writer_active = 1;
    int need = !p->wl_held;
    pthread_mutex_unlock(&p->sync_mu);
    if (!need)
        return BLAZEDB_OK;
    int e = lock_wait(p, SHM_LOCK_WRITER, OS_LOCK_EXCLUSIVE, p->busy_ms);
    pthread_mutex_lock(&p->sync_mu);
    if (e == 0) {
        p->wl_held = 1;
        p->have_local_base = 0;
    } else {
        p->writer_active = 0;
    }
    pthread_mutex_unlock(&p->sync_mu);
    if (e) {
        atomic_store(&p->write_owner, 0);
        pthread_mutex_unlock(&p->write_mu);
        if (e == EAGAIN)
            return pager_error(p, BLAZEDB_BUSY,
                               "another process holds the write lock");
        return io_error(p, e, "taking the write lock");
    }
    return BLAZEDB_OK;
}

static void writer_unlock(Pager *p)
{
    pthread_mutex_lock(&p->sync_mu);
    p->writer_active = 0;
    pthread_cond_broadcast(&p->sync_cv); /* a leader may be gathering */
    maybe_release_writer_locked(p);
    pthread_mutex_unlock(&p->sync_mu);
    atomic_store(&p->write_owner, 0);
    pthread_mutex_unlock(&p->write_mu);
}

/* Waits until the commit ending at frame `last` is durable (leading the
 * sync when nobody else is), publishing snapshots in order. */
/*
 * The commit ending at frame `last` of log generation `gen` is durable when
 * the durable mark of that generation has passed it, or when the log has
 * moved to a later generation: a restart happens only once everything in
 * the log was published and copied (so ours too), possibly while we were
 * still waiting for the sync another thread did for us.
 */
#define COMMIT_DURABLE(p, gen, last) ((p)->sync_gen != (gen) || (p)->durable_frames >= (last))

/* How long a committer about to sync waits for a transaction that
 * another thread of the handle is building, so that one sync covers both. */
#define GATHER_US 150

/* Waits, up to GATHER_US, while another transaction of this handle is
 * active and has not written its frames.  Caller holds sync_mu. */
static void gather(Pager *p)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += GATHER_US * 1000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    uint64_t w0 = p->written_frames;
    while (p->writer_active && p->written_frames == w0 && !p->syncing)
        if (pthread_cond_timedwait(&p->sync_cv, &p->sync_mu, &dl) != 0)
            break;
}

/* Group commit: a committer about to lead a sync that sees another
 * transaction of the handle in progress first gives it a moment to write
 * (gather), so that one sync covers both. */
static int wait_durable(Pager *p, uint64_t gen, uint64_t last)
{
    int rc = BLAZEDB_OK, gathered = 0;
    pthread_mutex_lock(&p->sync_mu);
    while (!COMMIT_DURABLE(p, gen, last) && !atomic_load(&p->failed)) {
        if (p->syncing) {
            pthread_cond_wait(&p->sync_cv, &p->sync_mu);
            continue;
        }
        if (!gathered && p->writer_active && p->durability == BLAZEDB_DURABILITY_FULL) {
            gathered = 1;
            gather(p);
            continue;
        }
        uint64_t target = p->written_frames;
        ShmSnapshot snap = p->latest_written;
        int e = 0;
        if (p->durability == BLAZEDB_DURABILITY_FULL) {
            p->syncing = 1;
            pthread_mutex_unlock(&p->sync_mu);
            e = os_sync(p->wal);
            atomic_fetch_add(&p->st.syncs, 1);
            pthread_mutex_lock(&p->sync_mu);
            p->syncing = 0;
        }
        if (e) {
            /* After a failed fsync the kernel may have dropped the pages:
             * nothing written since the last good sync can be trusted. */
            atomic_store(&p->failed, 1);
            p->have_local_base = 0;
            /* Best effort: cut the unsynced commits off the log so that a
             * later recovery does not bring back what we report failed. */
            os_truncate(p->wal, (p->durable_frames + 1) * p->page_size);
            rc = pager_error(p, io_rc(e) == BLAZEDB_FULL ? BLAZEDB_FULL : BLAZEDB_IO_ERROR,
                             "syncing the log failed (%s); the handle refuses further writes",
                             strerror(e));
        } else {
            p->durable_frames = target;
            shm_publish(p->sh, &snap);
        }
        pthread_cond_broadcast(&p->sync_cv);
    }
    if (!COMMIT_DURABLE(p, gen, last) && rc == BLAZEDB_OK)
        rc = pager_error(p, BLAZEDB_FAILED,
                         "the log could not be synced; the handle refuses further writes");
    p->npending--;
    maybe_release_writer_locked(p);
    pthread_mutex_unlock(&p->sync_mu);
    return rc;
}

static int checkpoint(Pager *p, int wait);

/* A read transaction's base: the published snapshot, remembered with the
 * handle's serial and the sequence it was read at (see PagerTxn). */
static int read_base(Pager *p, PagerTxn *t)
{
    t->base_serial = 0;
    int rc = snapshot_and_index_seq(p, &t->base, &t->base_seq);
    if (rc == BLAZEDB_OK)
        t->base_serial = p->serial;
    return rc;
}

int pager_begin(Pager *p, int write, PagerTxn **out)
{
    *out = NULL;
    if (write && p->readonly)
        return pager_error(p, BLAZEDB_READONLY, "the database was opened read-only");
    if (write && atomic_load(&p->failed))
        return pager_error(p, BLAZEDB_FAILED,
                           "an earlier I/O error left the handle unusable for writes; reopen it");
    PagerTxn *t = spare_take();
    if (!t)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    t->p = p;
    t->write = write;
    t->slot = -1;
    int rc;
    if (write) {
        t->base_serial = 0; /* base is about to be a writer's */
        if ((rc = writer_lock(p))) {
            free(t);
            return rc;
        }
        if (shm_torn(p->sh)) {
            /* a writer died while publishing: rebuild from disk */
            if ((rc = recover(p, 0))) {
                writer_unlock(p);
                free(t);
                return rc;
            }
        }
        /* seal under the key the header now names */
        if ((rc = keys_check(p))) {
            writer_unlock(p);
            free(t);
            return rc;
        }
        pthread_mutex_lock(&p->sync_mu);
        int local = p->have_local_base;
        if (local)
            t->base = p->local_base;
        pthread_mutex_unlock(&p->sync_mu);
        if (!local && (rc = snapshot_and_index(p, &t->base))) {
            writer_unlock(p);
            free(t);
            return rc;
        }
        if (!local && p->wal && p->autockpt != UINT32_MAX &&
            t->base.wal_frames >= 2ull * p->autockpt) {
            uint64_t bf = atomic_load(&p->sh->backfill_gen) == t->base.wal_gen
                              ? atomic_load(&p->sh->backfill) : 0;
            if (bf < t->base.wal_frames) {
                /* The background checkpoint fell behind a steady writer.
                 * Copy the log here, under the write lock (no commit can
                 * slip in), so that this transaction starts a new log
                 * generation: the log stays bounded.  An I/O error is the
                 * caller's to see (nothing was changed; a retry checkpoints
                 * again); BUSY (another process checkpointing) is not. */
                rc = checkpoint(p, 1);
                if (rc && rc != BLAZEDB_BUSY) {
                    writer_unlock(p);
                    free(t);
                    return rc;
                }
            }
        }
        t->meta = t->base.meta;
        t->txnid = t->base.meta.txnid + 1;
        t->meta.txnid = t->txnid;
        *out = t;
        return BLAZEDB_OK;
    }
    /* The struct still holds the snapshot it last read for this handle:
     * when nothing was published since, that is the snapshot to take,
     * and only the index needs checking */
    if ((t->base_serial != p->serial || shm_seq(p->sh) != t->base_seq ||
         !index_covers(p, &t->base)) &&
        (rc = read_base(p, t))) {
        free(t);
        return rc;
    }
    /* Publishing the snapshot in a slot, then seeing that it is still the
     * newest one, keeps every page of it from being reused or
     * overwritten until the slot is given back (the writer reads the
     * slots after publishing a newer one: see pager_oldest_reader) */
    if ((rc = slot_acquire(p, t->base.meta.txnid, &t->slot, &t->slot_k))) {
        free(t);
        return rc;
    }
    while (atomic_load(&p->sh->txn_hint) != t->base.meta.txnid) {
        if ((rc = read_base(p, t))) {
            slot_release(p, t->slot);
            free(t);
            return rc;
        }
        atomic_store(&p->sh->slots[t->slot].txnid, slot_id(t->base.meta.txnid));
    }
    t->meta = t->base.meta;
    t->txnid = t->base.meta.txnid;
    *out = t;
    return BLAZEDB_OK;
}

int pager_txn_is_write(const PagerTxn *t) { return t->write; }
uint64_t pager_published_txn(Pager *p) { return atomic_load(&p->sh->txn_hint); }
uint64_t pager_serial(const Pager *p) { return p->serial; }

Pager *pager_txn_pager(PagerTxn *t) { return t->p; }
uint64_t pager_txn_id(const PagerTxn *t) { return t->txnid; }
PagerMeta *pager_txn_meta(PagerTxn *t) { return &t->meta; }
uint64_t pager_txn_change_seq(const PagerTxn *t) { return t->change_seq; }

void pager_abort(PagerTxn *t)
{
    if (!t)
        return;
    Pager *p = t->p;
    if (t->write) {
        atomic_fetch_add(&p->st.rollbacks, 1);
        writer_unlock(p);
    } else if (t->slot >= 0) {
        slot_end(t);
    }
    txn_free(t);
}

/* Starts a new log generation.  Caller holds WRITER and CKPT. */
static int wal_restart(Pager *p, PagerTxn *t)
{
    uint64_t salt = 0;
    while (salt == 0)
        if (p->vfs->random(p->vfs, &salt, sizeof salt))
            return pager_error(p, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
    int e = wal_write_header(p->wal, p->page_size, p->hdr.file_id, salt);
    if (e)
        return io_error(p, e, "writing the log header");
    ShmSnapshot s = t->base;
    s.wal_salt = salt;
    s.wal_frames = 0;
    s.wal_gen = t->base.wal_gen + 1;
    wal_chain_init(p->hdr.file_id, salt, s.wal_chain);
    pthread_mutex_lock(&p->idx_mu);
    wal_index_clear(&p->idx);
    p->idx_gen = s.wal_gen;
    p->idx_salt = salt;
    p->idx_frames = 0;
    idx_publish(p);
    pthread_mutex_unlock(&p->idx_mu);
    shm_publish(p->sh, &s);
    atomic_store(&p->sh->backfill, 0);
    atomic_store(&p->sh->backfill_gen, s.wal_gen);
    pthread_mutex_lock(&p->sync_mu);
    p->written_frames = p->durable_frames = 0; /* nothing is pending here */
    p->sync_gen = s.wal_gen;
    pthread_mutex_unlock(&p->sync_mu);
    t->base = s;
    return BLAZEDB_OK;
}

/* Makes sure the log has room up to `end` bytes; grows it in large steps
 * with zeros so that later commits overwrite allocated blocks (cheaper
 * syncs). */
static int wal_reserve(Pager *p, uint64_t gen, uint64_t end)
{
    if (p->room_gen == gen && p->wal_room >= end)
        return BLAZEDB_OK;
    uint64_t size;
    int e = os_size(p->wal, &size);
    if (e)
        return io_error(p, e, "sizing the log");
    p->room_gen = gen;
    p->wal_room = size;
    if (size >= end)
        return BLAZEDB_OK;
    uint64_t grow = size / 4 > WAL_GROW_MIN ? size / 4 : WAL_GROW_MIN;
    uint64_t target = end + grow;
    static const uint8_t zeros[65536];
    for (uint64_t off = size; off < target;) {
        size_t n = target - off > sizeof zeros ? sizeof zeros : (size_t)(target - off);
        if ((e = os_write(p->wal, zeros, n, off)))
            return io_error(p, e, "growing the log");
        off += n;
        p->wal_room = off;
    }
    return BLAZEDB_OK;
}

static int cmp_pgno(const void *a, const void *b)
{
    Pgno x = *(const Pgno *)a, y = *(const Pgno *)b;
    return x < y ? -1 : x > y;
}

#define WRITE_CHUNK 32 /* frames per pwrite */

static void bg_signal(Pager *p);

static int commit_write(PagerTxn *t, uint64_t *gen_out, uint64_t *last_out)
{
    Pager *p = t->p;
    int rc;
    if (atomic_load(&p->failed))
        return pager_error(p, BLAZEDB_FAILED,
                           "an earlier I/O error left the handle unusable for writes; reopen it");
    *last_out = 0;
    if (t->dirty.n == 0 && memcmp(&t->meta.roots, &t->base.meta.roots,
                                  sizeof t->meta.roots) == 0 &&
        t->meta.npages == t->base.meta.npages)
        return BLAZEDB_OK; /* nothing changed */

    /* New log generation when the log is empty of unsaved work. */
    int need_restart = t->base.wal_salt == 0;
    if (!need_restart && t->base.wal_frames > 0 &&
        atomic_load(&p->sh->backfill_gen) == t->base.wal_gen &&
        atomic_load(&p->sh->backfill) >= t->base.wal_frames)
        need_restart = 1;
    if (need_restart) {
        /* A checkpoint running now (here or in another process) keeps the
         * old generation: its frames are being copied. */
        int must = t->base.wal_salt == 0;
        int e = ckpt_acquire(p, !must, must ? p->busy_ms : 0);
        if (e == 0) {
            rc = wal_restart(p, t);
            ckpt_release(p);
            if (rc)
                return rc;
        } else if (must) {
            return e == EAGAIN ? pager_error(p, BLAZEDB_BUSY, "could not start the log")
                               : io_error(p, e, "taking the checkpoint lock");
        }
    }

    /* Collect dirty pages in page order. */
    size_t n = t->dirty.n;
    Pgno *order = malloc((n ? n : 1) * sizeof *order);
    uint8_t *buf = malloc(p->page_size * WRITE_CHUNK);
    uint32_t *frames = malloc((n ? n : 1) * sizeof *frames);
    if (!order || !buf || !frames) {
        free(order);
        free(buf);
        free(frames);
        return pager_error(p, BLAZEDB_NOMEM, "out of memory at commit");
    }
    size_t k = 0;
    for (size_t i = 0; i < t->dirty.cap; i++)
        if (t->dirty.keys[i] && t->dirty.keys[i] != TOMB)
            order[k++] = t->dirty.keys[i];
    qsort(order, n, sizeof *order, cmp_pgno);

    uint32_t first = (uint32_t)t->base.wal_frames + 1;
    uint64_t end = ((uint64_t)first + n + 1) * p->page_size;
    if (end / p->page_size > 0xFFFFFFF0u) {
        rc = pager_error(p, BLAZEDB_FULL, "the log is full; checkpoint first");
        goto fail;
    }
    if ((rc = wal_reserve(p, t->base.wal_gen, end)))
        goto fail;
    uint8_t chain[WAL_CHAIN_LEN];
    memcpy(chain, t->base.wal_chain, sizeof chain);
    uint32_t salt32 = (uint32_t)t->base.wal_salt;
    size_t inbuf = 0;
    uint32_t bufstart = first;
    for (size_t i = 0; i <= n; i++) {
        uint8_t *img = buf + inbuf * p->page_size;
        uint32_t frame = first + (uint32_t)i;
        PageTrailer tr;
        if (i < n) {
            DirtyPage *d = dm_get(&t->dirty, order[i]);
            tr = (PageTrailer){t->txnid, d->page.pgno, PAGE_KIND_DATA, salt32, 0};
            if (codec_seal(&p->keys, d->page.data, img, p->page_size, &tr)) {
                rc = pager_error(p, BLAZEDB_INTERNAL_ERROR, "sealing a page failed");
                goto fail;
            }
            frames[i] = frame;
        } else {
            memset(img, 0, p->payload);
            codec_meta_encode(&t->meta, img);
            put_le64(img + WAL_COMMIT_SALT_OFF, t->base.wal_salt);
            put_le64(img + WAL_COMMIT_FRAME_OFF, frame);
            memcpy(img + WAL_COMMIT_CHAIN_OFF, chain, WAL_CHAIN_LEN);
            tr = (PageTrailer){t->txnid, 0, PAGE_KIND_COMMIT, salt32, 0};
            if (codec_seal(&p->keys, img, img, p->page_size, &tr)) {
                rc = pager_error(p, BLAZEDB_INTERNAL_ERROR, "sealing a commit failed");
                goto fail;
            }
        }
        wal_chain_step(chain, img, p->page_size);
        inbuf++;
        if (inbuf == WRITE_CHUNK || i == n) {
            int e = os_write(p->wal, buf, inbuf * p->page_size,
                             (uint64_t)bufstart * p->page_size);
            if (e) {
                rc = io_error(p, e, "writing the log");
                goto fail;
            }
            atomic_fetch_add(&p->st.bytes_written, inbuf * p->page_size);
            bufstart += (uint32_t)inbuf;
            inbuf = 0;
        }
    }
    atomic_fetch_add(&p->st.pages_written, n + 1);

    /* Written.  Index the frames and hand the pages to the cache: only
     * transactions that build on this one can reach them (copy-on-write),
     * and readers of older snapshots never look at them. */
    uint32_t last = first + (uint32_t)n;
    pthread_mutex_lock(&p->idx_mu);
    int idx_ok = p->idx_gen == t->base.wal_gen && p->idx_frames == t->base.wal_frames;
    for (size_t i = 0; idx_ok && i < n; i++)
        if (wal_index_put(&p->idx, order[i], frames[i]))
            idx_ok = 0;
    if (idx_ok) {
        p->idx_frames = last;
    } else {
        wal_index_clear(&p->idx);
        p->idx_frames = 0;
        p->idx_gen = 0; /* forces a rebuild from the log at next use */
    }
    idx_publish(p);
    pthread_mutex_unlock(&p->idx_mu);
    uint8_t we = (uint8_t)codec_keys_write_epoch(&p->keys); /* stable under WRITER */
    for (size_t i = 0; i < n; i++) {
        DirtyPage *d = dm_remove(&t->dirty, order[i]);
        cache_install(&p->cache, d->page.pgno, d->page.ctr, d->page.data, we);
        free(d);
    }
    ShmSnapshot s = t->base;
    s.meta = t->meta;
    s.wal_frames = last;
    memcpy(s.wal_chain, chain, sizeof chain);
    pthread_mutex_lock(&p->sync_mu);
    if (p->sync_gen != s.wal_gen) {
        /* Our first commit in a generation another process started or
         * extended: every frame before ours was published, so durable.
         * (Nothing of ours can be pending: we keep the write lock while
         * it is, and nobody restarts the log under us.) */
        p->sync_gen = s.wal_gen;
        p->durable_frames = p->written_frames = t->base.wal_frames;
    }
    p->npending++;
    p->latest_written = s;
    p->written_frames = last;
    p->local_base = s;
    p->have_local_base = 1;
    pthread_cond_broadcast(&p->sync_cv); /* a leader may be gathering */
    pthread_mutex_unlock(&p->sync_mu);
    *last_out = last;
    *gen_out = s.wal_gen;
    free(order);
    free(buf);
    free(frames);
    return BLAZEDB_OK;
fail:
    free(order);
    free(buf);
    free(frames);
    return rc;
}

int pager_commit(PagerTxn *t)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    Pager *p = t->p;
    if (!t->write) {
        if (t->slot >= 0)
            slot_end(t);
        txn_free(t);
        return BLAZEDB_OK;
    }
    uint64_t gen = 0, last = 0;
    int rc = commit_write(t, &gen, &last);
    writer_unlock(p);
    txn_free(t);
    if (rc == BLAZEDB_OK && last)
        rc = wait_durable(p, gen, last);
    if (rc) {
        atomic_fetch_add(&p->st.rollbacks, 1);
        return rc;
    }
    atomic_fetch_add(&p->st.commits, 1);
    ShmSnapshot s;
    if (last && shm_read_snapshot(p->sh, &s, NULL) == 0) {
        uint64_t bf = atomic_load(&p->sh->backfill_gen) == s.wal_gen
                          ? atomic_load(&p->sh->backfill) : 0;
        if (s.wal_frames > bf && s.wal_frames - bf >= p->autockpt)
            bg_signal(p);
    }
    if (last && p->commit_hook)
        p->commit_hook(p, p->hook_arg); /* auto-vacuum; best effort */
    return BLAZEDB_OK;
}

/* ---- checkpoint ------------------------------------------------------------------ */

typedef struct {
    Pgno pgno;
    uint32_t frame;
} PF;

static int cmp_pf(const void *a, const void *b)
{
    const PF *x = a, *y = b;
    return x->pgno < y->pgno ? -1 : x->pgno > y->pgno;
}

static int checkpoint_locked(Pager *p)
{
    ShmSnapshot s;
    int rc = keys_check(p); /* the meta page is sealed under the write key */
    if (rc)
        return rc;
    rc = snapshot_and_index(p, &s);
    if (rc)
        return rc;
    if (!s.wal_frames || (atomic_load(&p->sh->backfill_gen) == s.wal_gen &&
                          atomic_load(&p->sh->backfill) >= s.wal_frames))
        return BLAZEDB_OK;
    /* Copy the index entries of published frames.  An entry pointing past
     * the published end belongs to a commit still waiting for its sync; the
     * page's earlier version is unreachable from any published meta (it
     * was freed before being reused), so it need not be copied. */
    pthread_mutex_lock(&p->idx_mu);
    if (p->idx_gen != s.wal_gen || p->idx_frames < s.wal_frames) {
        pthread_mutex_unlock(&p->idx_mu);
        return BLAZEDB_OK; /* raced with a restart; nothing to do */
    }
    uint32_t upto = (uint32_t)s.wal_frames;
    size_t cnt = p->idx.n, k = 0;
    PF *list = malloc((cnt ? cnt : 1) * sizeof *list);
    if (!list) {
        pthread_mutex_unlock(&p->idx_mu);
        return pager_error(p, BLAZEDB_NOMEM, "out of memory in checkpoint");
    }
    for (size_t i = 0; i < p->idx.cap; i++)
        if (p->idx.keys[i] && p->idx.vals[i] <= upto)
            list[k++] = (PF){p->idx.keys[i], p->idx.vals[i]};
    pthread_mutex_unlock(&p->idx_mu);
    qsort(list, k, sizeof *list, cmp_pf);

    uint8_t *img = malloc(p->page_size);
    uint8_t *payload = malloc(p->page_size);
    rc = BLAZEDB_OK;
    if (!img || !payload) {
        rc = pager_error(p, BLAZEDB_NOMEM, "out of memory in checkpoint");
        goto out;
    }
    /* the meta of the last frame we copy */
    int e = os_read(p->wal, img, p->page_size, (uint64_t)upto * p->page_size, NULL);
    if (e) {
        rc = io_error(p, e, "reading the log");
        goto out;
    }
    PageTrailer tr;
    codec_read_trailer(img, p->page_size, &tr);
    PagerMeta m;
    if (tr.kind != PAGE_KIND_COMMIT ||
        codec_open(&p->keys, img, payload, p->page_size, 0, tr.ctr, PAGE_KIND_COMMIT) ||
        codec_meta_decode(payload, &m)) {
        rc = pager_error(p, BLAZEDB_CORRUPT, "log frame %u is not a valid commit", upto);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        /* A page at or above the copied meta's high-water mark is an old
         * version a vacuum cut off (the meta's npages went down): no
         * snapshot can reach it any more (vacuum lowers npages only over
         * pages free and reusable), so it is not copied home. */
        if (list[i].pgno >= m.npages)
            continue;
        if ((e = os_read(p->wal, img, p->page_size,
                         (uint64_t)list[i].frame * p->page_size, NULL)) ||
            (e = os_write(p->db, img, p->page_size,
                          (uint64_t)list[i].pgno * p->page_size))) {
            rc = io_error(p, e, "copying a page from the log");
            goto out;
        }
    }
    atomic_fetch_add(&p->st.bytes_written, k * p->page_size);
    if ((e = os_sync(p->db))) {
        rc = io_error(p, e, "syncing the database file");
        goto out;
    }
    atomic_fetch_add(&p->st.syncs, 1);
    /* overwrite the older meta slot */
    uint64_t t1 = 0, t2 = 0;
    uint8_t trb[PAGER_TRAILER];
    PageTrailer a, b;
    if (!os_read(p->db, trb, sizeof trb, 2 * p->page_size - PAGER_TRAILER, NULL)) {
        codec_read_trailer(trb, PAGER_TRAILER, &a);
        t1 = a.kind == PAGE_KIND_META && a.pgno == 1 ? a.ctr : 0;
    }
    if (!os_read(p->db, trb, sizeof trb, 3 * p->page_size - PAGER_TRAILER, NULL)) {
        codec_read_trailer(trb, PAGER_TRAILER, &b);
        t2 = b.kind == PAGE_KIND_META && b.pgno == 2 ? b.ctr : 0;
    }
    Pgno slot = t1 <= t2 ? 1 : 2;
    if ((rc = write_meta_page(p, &m, slot)))
        goto out;
    if ((e = os_sync(p->db))) {
        rc = io_error(p, e, "syncing the database file");
        goto out;
    }
    atomic_fetch_add(&p->st.syncs, 1);
    atomic_store(&p->sh->backfill_gen, s.wal_gen);
    atomic_store(&p->sh->backfill, upto);
    atomic_fetch_add(&p->st.checkpoints, 1);
    /* Vacuum: a main file longer than the meta's npages holds only pages
     * no snapshot can reach (see above); give the space back.  A crash
     * before or during this leaves a longer file, which is harmless. */
    uint64_t fsize = 0, want = (uint64_t)m.npages * p->page_size;
    if ((e = os_size(p->db, &fsize)) == 0 && fsize > want) {
        if ((e = os_truncate(p->db, want)) || (e = os_sync(p->db)))
            rc = io_error(p, e, "truncating the database file");
    }
out:
    free(list);
    free(img);
    free(payload);
    return rc;
}

static int checkpoint(Pager *p, int wait)
{
    if (p->readonly || !p->wal)
        return BLAZEDB_OK;
    int e = ckpt_acquire(p, 0, wait ? p->busy_ms : 0);
    if (e == EAGAIN)
        return wait ? pager_error(p, BLAZEDB_BUSY, "another checkpoint is running")
                    : BLAZEDB_OK;
    if (e)
        return io_error(p, e, "taking the checkpoint lock");
    int rc = checkpoint_locked(p);
    ckpt_release(p);
    return rc;
}

int pager_checkpoint(Pager *p) { return checkpoint(p, 1); }

static void *bg_main(void *arg)
{
    Pager *p = arg;
    pthread_mutex_lock(&p->bg_mu);
    for (;;) {
        while (!p->bg_pending && !p->bg_stop)
            pthread_cond_wait(&p->bg_cv, &p->bg_mu);
        if (p->bg_stop)
            break;
        p->bg_pending = 0;
        pthread_mutex_unlock(&p->bg_mu);
        checkpoint(p, 0); /* errors are retried at the next trigger */
        pthread_mutex_lock(&p->bg_mu);
    }
    pthread_mutex_unlock(&p->bg_mu);
    return NULL;
}

static void bg_signal(Pager *p)
{
    if (!p->ckpt_thread_started)
        return;
    pthread_mutex_lock(&p->bg_mu);
    p->bg_pending = 1;
    pthread_cond_signal(&p->bg_cv);
    pthread_mutex_unlock(&p->bg_mu);
}

/* ---- open / close -------------------------------------------------------------------- */

static void pager_free_all(Pager *p)
{
    if (p->hook_free)
        p->hook_free(p->hook_arg);
    if (p->ckpt_thread_started) {
        pthread_mutex_lock(&p->bg_mu);
        p->bg_stop = 1;
        pthread_cond_signal(&p->bg_cv);
        pthread_mutex_unlock(&p->bg_mu);
        pthread_join(p->ckpt_thread, NULL);
    }
    if (p->sh)
        p->shm->io->unmap(p->shm, p->sh, SHM_SIZE);
    os_close(p->shm);
    os_close(p->wal);
    os_close(p->db);
    codec_keys_free(&p->keys);
    crypto_wipe(p->dk, sizeof p->dk);
    crypto_wipe(p->next_dk, sizeof p->next_dk);
    crypto_wipe(p->kek, sizeof p->kek);
    cache_destroy(&p->cache);
    wal_index_free(&p->idx);
    pthread_mutex_destroy(&p->idx_mu);
    pthread_mutex_destroy(&p->write_mu);
    pthread_mutex_destroy(&p->sync_mu);
    pthread_cond_destroy(&p->sync_cv);
    pthread_mutex_destroy(&p->ckpt_mu);
    pthread_mutex_destroy(&p->slot_mu);
    pthread_mutex_destroy(&p->err_mu);
    pthread_mutex_destroy(&p->keys_mu);
    pthread_mutex_destroy(&p->bg_mu);
    pthread_cond_destroy(&p->bg_cv);
    free(p->path);
    free(p->wal_path);
    free(p->shm_path);
    free(p);
}

#define CREATE_LOCK_OFF (1ull << 40)

/* Builds the header and both (empty) meta pages of a new database and
 * writes them to `f` in one write and one sync. */
static int create_db(Pager *p, const PagerConfig *cfg, const void *pw, size_t pwlen,
                     OsFile *f)
{
    uint32_t ps = cfg->page_size ? cfg->page_size : 8192;
    int rc = header_create(ps, cfg->plaintext, &cfg->kdf, pw, pwlen, &p->hdr,
                           p->dk, p->kek, p->errbuf, sizeof p->errbuf);
    if (rc)
        return rc;
    p->page_size = ps;
    p->payload = ps - PAGER_TRAILER;
    if (codec_keys_add(&p->keys, 0, cfg->plaintext ? NULL : p->dk))
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    uint8_t *img = calloc(PAGER_FIRST_DATA_PGNO, ps);
    if (!img)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    header_encode_page(&p->hdr, img);
    PagerMeta m;
    memset(&m, 0, sizeof m);
    m.npages = PAGER_FIRST_DATA_PGNO;
    for (Pgno slot = 1; slot <= 2; slot++) {
        uint8_t *pg = img + (size_t)slot * ps;
        codec_meta_encode(&m, pg);
        PageTrailer tr = {m.txnid, slot, PAGE_KIND_META, 0, 0};
        if (codec_seal(&p->keys, pg, pg, ps, &tr)) {
            free(img);
            return pager_error(p, BLAZEDB_INTERNAL_ERROR, "sealing a meta page failed");
        }
    }
    int e = os_write(f, img, (size_t)PAGER_FIRST_DATA_PGNO * ps, 0);
    free(img);
    if (e)
        return io_error(p, e, "writing the new database");
    if ((e = os_sync(f)))
        return io_error(p, e, "syncing the new database");
    return BLAZEDB_OK;
}

/*
 * Creates a database where there is no file: written whole under a
 * temporary name, then given its real name with link(), which never
 * replaces anything.  So the name only ever shows a complete database, an
 * interrupted creation leaves nothing at it, and of several processes
 * creating at once one wins and the others open its file.  Sets *created
 * when ours won (header, key and codec are then set up).
 */
static int create_new_file(Pager *p, const PagerConfig *cfg, const void *pw,
                           size_t pwlen, int *created)
{
    *created = 0;
    uint32_t r = 0;
    p->vfs->random(p->vfs, &r, sizeof r);
    size_t n = strlen(p->path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    snprintf(tmp, n, "%s-creating-%08x", p->path, r);
    OsFile *f = NULL;
    int e = p->vfs->open(p->vfs, tmp, OS_OPEN_READWRITE | OS_OPEN_CREATE | OS_OPEN_EXCL, &f);
    if (e) {
        int rc = pager_error(p, e == EACCES || e == EROFS ? BLAZEDB_READONLY : io_rc(e),
                             "creating %s: %s", tmp, strerror(e));
        free(tmp);
        return rc;
    }
    int rc = create_db(p, cfg, pw, pwlen, f);
    os_close(f);
    if (rc == BLAZEDB_OK) {
        e = p->vfs->link(p->vfs, tmp, p->path);
        if (e == 0) {
            *created = 1;
            p->vfs->sync_dir(p->vfs, p->path);
        } else if (e != EEXIST) {
            rc = pager_error(p, io_rc(e), "naming the new database %s: %s", p->path,
                             strerror(e));
        }
    }
    p->vfs->remove(p->vfs, tmp);
    free(tmp);
    if (rc == BLAZEDB_OK && !*created) {
        /* another process created it first: forget our key, use theirs */
        codec_keys_free(&p->keys);
        memset(&p->keys, 0, sizeof p->keys);
        crypto_wipe(p->dk, sizeof p->dk);
        crypto_wipe(p->kek, sizeof p->kek);
    }
    return rc;
}

/* Takes the creation lock (a byte of the main file) in `mode`, waiting up
 * to the busy timeout (and at least a second). */
static int create_lock(Pager *p, int mode)
{
    uint64_t start = p->vfs->now_us(p->vfs);
    int e;
    while ((e = p->db->io->lock(p->db, CREATE_LOCK_OFF, 1, mode)) == EAGAIN) {
        if (p->vfs->now_us(p->vfs) - start > (uint64_t)p->busy_ms * 1000 + 1000000)
            return pager_error(p, BLAZEDB_BUSY, "another process is creating %s", p->path);
        p->vfs->sleep_us(p->vfs, 1000);
    }
    return e ? io_error(p, e, "locking the database file") : BLAZEDB_OK;
}

int pager_open(const char *path, const void *pw, size_t pwlen,
               const PagerConfig *cfg, Pager **out, char *errbuf,
               size_t errbuf_len)
{
    *out = NULL;
    Pager *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(errbuf, errbuf_len, "out of memory");
        return BLAZEDB_NOMEM;
    }
    static _Atomic uint64_t next_serial = 1;
    p->serial = atomic_fetch_add(&next_serial, 1);
    pthread_mutex_init(&p->idx_mu, NULL);
    pthread_mutex_init(&p->write_mu, NULL);
    pthread_mutex_init(&p->sync_mu, NULL);
    pthread_cond_init(&p->sync_cv, NULL);
    pthread_mutex_init(&p->ckpt_mu, NULL);
    pthread_mutex_init(&p->slot_mu, NULL);
    pthread_mutex_init(&p->err_mu, NULL);
    pthread_mutex_init(&p->keys_mu, NULL);
    pthread_mutex_init(&p->bg_mu, NULL);
    pthread_cond_init(&p->bg_cv, NULL);
    wal_index_init(&p->idx);
    p->vfs = cfg->vfs ? cfg->vfs : os_default_vfs();
    p->readonly = cfg->readonly;
    p->durability = cfg->durability;
    p->busy_ms = cfg->busy_timeout_ms;
    p->autockpt = cfg->autocheckpoint ? cfg->autocheckpoint : 4096;
    int rc = BLAZEDB_OK, e;
    p->path = strdup(path);
    p->wal_path = str_concat(path, "-wal");
    p->shm_path = str_concat(path, "-shm");
    if (!p->path || !p->wal_path || !p->shm_path) {
        rc = pager_error(p, BLAZEDB_NOMEM, "out of memory");
        goto fail;
    }

    /* main file */
    int flags = p->readonly ? 0 : OS_OPEN_READWRITE;
    int created = 0;
    e = p->vfs->open(p->vfs, path, flags, &p->db);
    if (e == ENOENT) {
        if (!cfg->create || p->readonly) {
            rc = pager_error(p, BLAZEDB_NOT_FOUND, "%s: no such database", path);
            goto fail;
        }
        if ((rc = create_new_file(p, cfg, pw, pwlen, &created)))
            goto fail;
        e = p->vfs->open(p->vfs, path, flags, &p->db);
    } else if (e == 0 && cfg->exclusive && cfg->create) {
        rc = pager_error(p, BLAZEDB_EXISTS, "%s already exists", path);
        goto fail;
    }
    if (e) {
        rc = pager_error(p, e == EISDIR ? BLAZEDB_INVALID_ARGUMENT : io_rc(e),
                         "%s: %s", path, strerror(e));
        goto fail;
    }
    /*
     * An empty file (made by someone else, as SQLite allows) becomes a new
     * database in place.  The creation lock, a byte of the main file,
     * serialises that: openers hold it shared while they read the header,
     * the creator exclusively while it writes.
     */
    if (!created && (rc = create_lock(p, OS_LOCK_SHARED)))
        goto fail;
    uint64_t size;
    if (!created && (e = os_size(p->db, &size))) {
        rc = io_error(p, e, "sizing the database file");
        goto fail;
    }
    if (!created && size == 0) {
        if (p->readonly || !cfg->create) {
            rc = pager_error(p, BLAZEDB_NOT_A_DATABASE, "%s is empty", path);
            goto fail;
        }
        p->db->io->lock(p->db, CREATE_LOCK_OFF, 1, OS_LOCK_UNLOCK);
        if ((rc = create_lock(p, OS_LOCK_EXCLUSIVE)))
            goto fail;
        if ((e = os_size(p->db, &size))) {
            rc = io_error(p, e, "sizing the database file");
            goto fail;
        }
        if (size == 0) {
            if ((rc = create_db(p, cfg, pw, pwlen, p->db)))
                goto fail;      /* closing the file drops the lock */
            created = 1;
        }
    }
    if (!created) {
        int stale = 0;
        rc = header_load_kek(p->db, pw, pwlen, &p->hdr, p->dk, p->kek, &stale, p->errbuf,
                             sizeof p->errbuf);
        if (rc)
            goto fail;      /* closing the file drops the lock */
        p->page_size = p->hdr.page_size;
        p->payload = p->page_size - PAGER_TRAILER;
        if ((rc = keys_install(p)))
            goto fail;
        if (stale && !p->readonly &&
            (rc = header_write_both(p->db, &p->hdr, p->errbuf, sizeof p->errbuf)))
            goto fail;
    }
    p->db->io->lock(p->db, CREATE_LOCK_OFF, 1, OS_LOCK_UNLOCK);

    /* sidecars */
    e = p->vfs->open(p->vfs, p->wal_path,
                     p->readonly ? 0 : OS_OPEN_READWRITE | OS_OPEN_CREATE, &p->wal);
    if (e && !(p->readonly && e == ENOENT)) {
        rc = pager_error(p, io_rc(e), "%s: %s", p->wal_path, strerror(e));
        goto fail;
    }
    e = p->vfs->open(p->vfs, p->shm_path, OS_OPEN_READWRITE | OS_OPEN_CREATE, &p->shm);
    if (e) {
        rc = pager_error(p, io_rc(e), "%s: %s", p->shm_path, strerror(e));
        goto fail;
    }
    if ((e = os_size(p->shm, &size))) {
        rc = io_error(p, e, "sizing the shared-memory file");
        goto fail;
    }
    if (size < SHM_SIZE && (e = os_truncate(p->shm, SHM_SIZE))) {
        rc = io_error(p, e, "sizing the shared-memory file");
        goto fail;
    }
    void *map;
    if ((e = p->shm->io->map(p->shm, SHM_SIZE, &map))) {
        rc = io_error(p, e, "mapping the shared-memory file");
        goto fail;
    }
    p->sh = map;
    size_t cache_pages = (size_t)((cfg->cache_bytes ? cfg->cache_bytes : (64u << 20)) /
                                  p->page_size);
    if (cache_init(&p->cache, cache_pages, p->payload)) {
        rc = pager_error(p, BLAZEDB_NOMEM, "out of memory for the page cache");
        goto fail;
    }

    /* join or initialise the shared state */
    uint64_t start = p->vfs->now_us(p->vfs);
    uint64_t fid[2];
    memcpy(fid, p->hdr.file_id, 16);
    for (;;) {
        e = os_lock(p->shm, SHM_LOCK_DMS, 1, OS_LOCK_EXCLUSIVE);
        if (e == 0) {
            rc = recover(p, 1);
            if (rc == BLAZEDB_OK && !p->readonly && p->wal &&
                atomic_load(&p->sh->wal_salt) == 0) {
                /* give the (absent or foreign) log a fresh generation */
                ShmSnapshot s;
                shm_read_snapshot(p->sh, &s, NULL);
                PagerTxn tmp;
                memset(&tmp, 0, sizeof tmp);
                tmp.p = p;
                tmp.base = s;
                rc = wal_restart(p, &tmp);
                if (rc == BLAZEDB_OK && (e = os_truncate(p->wal, p->page_size)))
                    rc = io_error(p, e, "truncating the log");
            }
            int e2 = os_lock(p->shm, SHM_LOCK_DMS, 1, OS_LOCK_SHARED);
            if (rc)
                goto fail;
            if (e2) {
                rc = io_error(p, e2, "locking the shared-memory file");
                goto fail;
            }
            break;
        }
        if (e != EAGAIN) {
            rc = io_error(p, e, "locking the shared-memory file");
            goto fail;
        }
        e = os_lock(p->shm, SHM_LOCK_DMS, 1, OS_LOCK_SHARED);
        if (e == 0) {
            if (atomic_load(&p->sh->initialised) == 1 &&
                atomic_load(&p->sh->magic) == SHM_MAGIC &&
                atomic_load(&p->sh->file_id[0]) == fid[0] &&
                atomic_load(&p->sh->file_id[1]) == fid[1])
                break;
            os_lock(p->shm, SHM_LOCK_DMS, 1, OS_LOCK_UNLOCK);
        } else if (e != EAGAIN) {
            rc = io_error(p, e, "locking the shared-memory file");
            goto fail;
        }
        if (p->vfs->now_us(p->vfs) - start > (uint64_t)p->busy_ms * 1000 + 2000000) {
            rc = pager_error(p, BLAZEDB_BUSY,
                             "another process keeps the database locked while opening or closing it");
            goto fail;
        }
        p->vfs->sleep_us(p->vfs, 500);
    }
    if (!p->readonly && p->wal) {
        if (pthread_create(&p->ckpt_thread, NULL, bg_main, p) == 0)
            p->ckpt_thread_started = 1;
    }
    *out = p;
    return BLAZEDB_OK;
fail:
    if (errbuf)
        snprintf(errbuf, errbuf_len, "%s", p->errbuf);
    pager_free_all(p);
    return rc;
}

void pager_close(Pager *p)
{
    if (!p)
        return;
    if (p->ckpt_thread_started) {
        pthread_mutex_lock(&p->bg_mu);
        p->bg_stop = 1;
        pthread_cond_signal(&p->bg_cv);
        pthread_mutex_unlock(&p->bg_mu);
        pthread_join(p->ckpt_thread, NULL);
        p->ckpt_thread_started = 0;
    }
    slots_release_all(p);
    /* Last handle on the file?  Then fold the log into the main file. */
    if (p->sh && os_lock(p->shm, SHM_LOCK_DMS, 1, OS_LOCK_EXCLUSIVE) == 0) {
        if (!p->readonly && p->wal && !atomic_load(&p->failed) &&
            checkpoint(p, 0) == BLAZEDB_OK) {
            ShmSnapshot s;
            if (shm_read_snapshot(p->sh, &s, NULL) == 0 &&
                (s.wal_frames == 0 ||
                 (atomic_load(&p->sh->backfill_gen) == s.wal_gen &&
                  atomic_load(&p->sh->backfill) >= s.wal_frames)))
                os_truncate(p->wal, 0);
        }
        atomic_store(&p->sh->initialised, 0);
    }
    os_lock(p->shm, SHM_LOCK_DMS, 1, OS_LOCK_UNLOCK);
    pager_free_all(p);
}

/* ---- misc ----------------------------------------------------------------------------- */

size_t pager_page_size(const Pager *p) { return p->page_size; }
size_t pager_payload_size(const Pager *p) { return p->payload; }
int pager_is_readonly(const Pager *p) { return p->readonly; }

void pager_get_stats(Pager *p, PagerStats *st)
{
    st->cache_hits = atomic_load(&p->st.cache_hits);
    st->cache_misses = atomic_load(&p->st.cache_misses);
    size_t n = atomic_load_explicit(&p->nowned, memory_order_acquire);
    for (size_t k = 0; k < n; k++) {
        st->cache_hits += atomic_load_explicit(&p->slot_stats[k].hits, memory_order_relaxed);
        st->cache_misses += atomic_load_explicit(&p->slot_stats[k].misses, memory_order_relaxed);
    }
    st->pages_read = atomic_load(&p->st.pages_read);
    st->pages_written = atomic_load(&p->st.pages_written);
    st->bytes_written = atomic_load(&p->st.bytes_written);
    st->syncs = atomic_load(&p->st.syncs);
    st->checkpoints = atomic_load(&p->st.checkpoints);
    st->lock_waits = atomic_load(&p->st.lock_waits);
    st->commits = atomic_load(&p->st.commits);
    st->rollbacks = atomic_load(&p->st.rollbacks);
    ShmSnapshot s;
    if (shm_read_snapshot(p->sh, &s, NULL) == 0) {
        uint64_t bf = atomic_load(&p->sh->backfill_gen) == s.wal_gen
                          ? atomic_load(&p->sh->backfill) : 0;
        st->wal_pages = s.wal_frames > bf ? s.wal_frames - bf : 0;
        st->wal_frames = s.wal_frames;
    } else {
        st->wal_pages = 0;
        st->wal_frames = 0;
    }
    st->lock_wait_us = atomic_load(&p->st.lock_wait_us);
    st->failed = atomic_load(&p->failed);
    st->autockpt = p->autockpt;
    st->db_file_bytes = st->wal_file_bytes = 0;
    if (p->db)
        os_size(p->db, &st->db_file_bytes);
    if (p->wal)
        os_size(p->wal, &st->wal_file_bytes);
}

int pager_rekey(Pager *p, const void *pw, size_t pwlen, const CryptoKdfParams *kdf)
{
    if (p->readonly)
        return pager_error(p, BLAZEDB_READONLY, "the database was opened read-only");
    int rc = writer_lock(p);
    if (rc)
        return rc;
    /* from the header on disk (a re-encryption may have started), whose
     * both slots are then rewritten */
    if ((rc = keys_refresh(p))) {
        writer_unlock(p);
        return rc;
    }
    pthread_mutex_lock(&p->keys_mu);
    FileHeader h = p->hdr;
    uint8_t kek[CRYPTO_KEY_LEN];
    rc = header_rewrap(p->db, &h, p->dk, pw, pwlen, kdf ? kdf : &p->hdr.kdf, p->vfs,
                       kek, p->errbuf, sizeof p->errbuf);
    if (rc == BLAZEDB_OK) {
        pthread_mutex_lock(&p->err_mu); /* pager_key_info reads hdr under it */
        p->hdr = h;
        memcpy(p->kek, kek, sizeof kek);
        pthread_mutex_unlock(&p->err_mu);
    }
    crypto_wipe(kek, sizeof kek);
    pthread_mutex_unlock(&p->keys_mu);
    writer_unlock(p);
    return rc;
}

/* ---- keys and re-encryption ------------------------------------------------------ */

/* Puts the keys of p->hdr into the keyring (p->dk is its key_epoch's) and
 * sets the write key.  Caller holds keys_mu (or is opening). */
static int keys_install(Pager *p)
{
    int plain = (p->hdr.flags & HEADER_FLAG_PLAINTEXT) != 0;
    if (codec_keys_add(&p->keys, p->hdr.key_epoch, plain ? NULL : p->dk))
        return pager_error(p, BLAZEDB_NOMEM, "out of memory for the page keys");
    uint32_t we = p->hdr.key_epoch;
    if (p->hdr.rekeying) {
        int rc = header_unwrap_next(&p->hdr, p->dk, p->next_dk);
        if (rc)
            return pager_error(p, rc == BLAZEDB_AUTH_FAILED ? BLAZEDB_CORRUPT : rc,
                               "the file header's next data key does not authenticate");
        if (codec_keys_add(&p->keys, p->hdr.key_epoch + 1, p->next_dk))
            return pager_error(p, BLAZEDB_NOMEM, "out of memory for the page keys");
        we = p->hdr.key_epoch + 1;
    } else {
        crypto_wipe(p->next_dk, sizeof p->next_dk); /* the finished one's */
    }
    codec_keys_set_write(&p->keys, we);
    return BLAZEDB_OK;
}

/* Rereads the header and learns its keys: the data key of its epoch comes
 * from what this handle knows (the same epoch, or the next key of the
 * re-encryption it saw start), else from the password given at open. */
static int keys_refresh(Pager *p)
{
    if (p->hdr.flags & HEADER_FLAG_PLAINTEXT)
        return BLAZEDB_OK;
    pthread_mutex_lock(&p->keys_mu);
    uint64_t seq = p->sh ? atomic_load(&p->sh->key_seq) : 0;
    FileHeader h;
    char err[200];
    int rc = header_read(p->db, &h, err, sizeof err);
    if (rc) {
        pthread_mutex_unlock(&p->keys_mu);
        return pager_error(p, rc, "%s", err);
    }
    uint8_t dk[CRYPTO_KEY_LEN];
    if (h.key_epoch == p->hdr.key_epoch)
        memcpy(dk, p->dk, sizeof dk);
    else if (p->hdr.rekeying && h.key_epoch == p->hdr.key_epoch + 1)
        memcpy(dk, p->next_dk, sizeof dk);
    else if (header_unwrap_kek(&h, p->kek, dk) != BLAZEDB_OK) {
        pthread_mutex_unlock(&p->keys_mu);
        return pager_error(p, BLAZEDB_AUTH_FAILED,
                           "the database was re-encrypted and its password changed since "
                           "this handle opened it; reopen it with the current password");
    }
    pthread_mutex_lock(&p->err_mu);
    p->hdr = h;
    memcpy(p->dk, dk, sizeof dk);
    pthread_mutex_unlock(&p->err_mu);
    crypto_wipe(dk, sizeof dk);
    rc = keys_install(p);
    if (rc == BLAZEDB_OK)
        atomic_store(&p->seen_key_seq, seq);
    pthread_mutex_unlock(&p->keys_mu);
    return rc;
}

/* keys_refresh when the header's keys changed since this handle read it. */
static int keys_check(Pager *p)
{
    if (!p->sh || atomic_load(&p->sh->key_seq) == atomic_load(&p->seen_key_seq))
        return BLAZEDB_OK;
    return keys_refresh(p);
}

/* The checkpoint lock for the re-encryption steps, waiting up to the
 * busy timeout. */
static int ckpt_lock(Pager *p)
{
    int e = ckpt_acquire(p, 0, p->busy_ms);
    if (e)
        return e == EAGAIN ? pager_error(p, BLAZEDB_BUSY, "another checkpoint is running")
                           : io_error(p, e, "taking the checkpoint lock");
    return BLAZEDB_OK;
}

/* Writes a new header (both slots) and publishes the change of keys.
 * key_seq moves even when the write fails: one slot may have been written,
 * and every handle must then reread the header before it seals again. */
static int keys_publish(Pager *p, const FileHeader *h, const uint8_t dk[CRYPTO_KEY_LEN])
{
    int rc = ckpt_lock(p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->keys_mu);
    rc = header_write_both(p->db, h, p->errbuf, sizeof p->errbuf);
    if (rc == BLAZEDB_OK) {
        pthread_mutex_lock(&p->err_mu);
        p->hdr = *h;
        memcpy(p->dk, dk, CRYPTO_KEY_LEN);
        pthread_mutex_unlock(&p->err_mu);
        rc = keys_install(p);
    }
    uint64_t seq = atomic_fetch_add(&p->sh->key_seq, 1) + 1;
    if (rc == BLAZEDB_OK)
        atomic_store(&p->seen_key_seq, seq);
    pthread_mutex_unlock(&p->keys_mu);
    ckpt_release(p);
    return rc;
}

/* Can this handle still wrap a key under the password (unchanged since
 * it opened)? */
static int kek_current(Pager *p)
{
    uint8_t chk[CRYPTO_KEY_LEN];
    int rc = header_unwrap_kek(&p->hdr, p->kek, chk);
    crypto_wipe(chk, sizeof chk);
    if (rc == BLAZEDB_AUTH_FAILED)
        return pager_error(p, BLAZEDB_AUTH_FAILED,
                           "the password was changed by another handle since this one "
                           "opened the database; reopen it with the current password");
    return rc ? pager_error(p, rc, "unwrapping the data key failed") : BLAZEDB_OK;
}

int pager_reencrypt_start(PagerTxn *t)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_MISUSE, "re-encryption needs a write transaction");
    if (p->hdr.flags & HEADER_FLAG_PLAINTEXT)
        return pager_error(p, BLAZEDB_INVALID_ARGUMENT,
                           "a plaintext database has no data key to replace");
    int rc = keys_refresh(p); /* under WRITER: nobody changes it now */
    if (rc)
        return rc;
    if (p->hdr.rekeying) {
        /* Resuming.  The header may carry the next key without every
         * handle knowing (a start whose header write failed half-way):
         * make them all reread it before they seal again, so that nothing
         * is written under the old key after the walk has passed. */
        atomic_fetch_add(&p->sh->key_seq, 1);
        return BLAZEDB_OK;
    }
    if ((rc = kek_current(p)))
        return rc;
    uint8_t next[CRYPTO_KEY_LEN];
    FileHeader h = p->hdr;
    if (crypto_random(next, sizeof next))
        return pager_error(p, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
    rc = header_set_next(&h, p->dk, next);
    crypto_wipe(next, sizeof next);
    if (rc)
        return pager_error(p, rc, "wrapping the new data key failed");
    uint8_t dk[CRYPTO_KEY_LEN];
    memcpy(dk, p->dk, sizeof dk);
    rc = keys_publish(p, &h, dk);
    crypto_wipe(dk, sizeof dk);
    return rc;
}

int pager_page_stale(const PagerTxn *t, const Page *pg)
{
    return t->write && !pager_is_dirty(t, pg) &&
           pg->key_epoch != (uint8_t)codec_keys_write_epoch(&t->p->keys);
}

int pager_reencrypt_flush(PagerTxn *t)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_MISUSE, "re-encryption needs a write transaction");
    /* this handle's commits still waiting for their sync come first */
    uint64_t start = p->vfs->now_us(p->vfs);
    for (;;) {
        pthread_mutex_lock(&p->sync_mu);
        uint32_t pending = p->npending;
        pthread_mutex_unlock(&p->sync_mu);
        if (!pending)
            break;
        if (p->vfs->now_us(p->vfs) - start > (uint64_t)p->busy_ms * 1000 + 100000)
            return pager_error(p, BLAZEDB_BUSY, "commits of this handle are still syncing");
        p->vfs->sleep_us(p->vfs, 1000);
    }
    if (!p->wal)
        return BLAZEDB_OK;
    int rc = ckpt_lock(p);
    if (rc)
        return rc;
    rc = checkpoint_locked(p);
    /* both meta pages: the checkpointed meta, under the write key; the
     * page that is not the newest first, so a torn write of either
     * leaves the other intact */
    PagerMeta m;
    uint64_t st[2], doubt;
    if (rc == BLAZEDB_OK)
        rc = load_main_meta(p, &m, st, &doubt);
    int e = 0;
    for (int i = 0; rc == BLAZEDB_OK && i < 2; i++) {
        Pgno slot = (st[0] == m.txnid) == (i == 0) ? 2 : 1;
        if ((rc = write_meta_page(p, &m, slot)) == BLAZEDB_OK && (e = os_sync(p->db)))
            rc = io_error(p, e, "syncing the database file");
    }
    /* a new log generation; the old frames (under the old key) go */
    if (rc == BLAZEDB_OK) {
        if (!t->base.wal_salt || t->base.wal_frames) {
            rc = snapshot_and_index(p, &t->base);
            if (rc == BLAZEDB_OK)
                rc = wal_restart(p, t);
        }
        if (rc == BLAZEDB_OK && ((e = os_truncate(p->wal, p->page_size)) ||
                                 (e = os_sync(p->wal))))
            rc = io_error(p, e, "truncating the log");
        pthread_mutex_lock(&p->sync_mu);
        p->have_local_base = 0;
        pthread_mutex_unlock(&p->sync_mu);
    }
    ckpt_release(p);
    return rc;
}

int pager_wipe_pages(PagerTxn *t, const Pgno *pgnos, size_t n, uint64_t *wiped)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_MISUSE, "wiping pages needs a write transaction");
    uint8_t we = (uint8_t)codec_keys_write_epoch(&p->keys);
    uint8_t *zero = calloc(1, p->page_size);
    if (!zero)
        return pager_error(p, BLAZEDB_NOMEM, "out of memory");
    uint64_t size = 0;
    int e = os_size(p->db, &size), rc = BLAZEDB_OK;
    uint64_t done = 0;
    for (size_t i = 0; !e && i < n; i++) {
        uint64_t off = (uint64_t)pgnos[i] * p->page_size;
        if (pgnos[i] < PAGER_FIRST_DATA_PGNO || off + p->page_size > size)
            continue;
        uint8_t trb[PAGER_TRAILER];
        if ((e = os_read(p->db, trb, sizeof trb, off + p->page_size - PAGER_TRAILER, NULL)))
            break;
        PageTrailer tr;
        codec_read_trailer(trb, PAGER_TRAILER, &tr);
        if ((tr.epoch == we && tr.ctr != 0) || memcmp(trb, zero, sizeof trb) == 0)
            continue; /* under the new key already, or zeros */
        if ((e = os_write(p->db, zero, p->page_size, off)))
            break;
        done++;
    }
    if (!e && done)
        e = os_sync(p->db);
    free(zero);
    if (e)
        rc = io_error(p, e, "overwriting free pages");
    atomic_fetch_add(&p->st.bytes_written, done * p->page_size);
    *wiped += done;
    return rc;
}

int pager_reencrypt_finish(PagerTxn *t)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_MISUSE, "re-encryption needs a write transaction");
    int rc = keys_refresh(p);
    if (rc || !p->hdr.rekeying)
        return rc;
    if ((rc = kek_current(p)))
        return rc;
    FileHeader h = p->hdr;
    h.generation++;
    uint8_t dk[CRYPTO_KEY_LEN];
    memcpy(dk, p->next_dk, sizeof dk);
    rc = header_finish_next(&h, p->kek, dk);
    if (rc == BLAZEDB_OK)
        rc = keys_publish(p, &h, dk);
    else
        rc = pager_error(p, rc, "wrapping the new data key failed");
    crypto_wipe(dk, sizeof dk);
    return rc;
}

int pager_key_state(Pager *p, uint32_t *key_epoch, int *rekeying)
{
    FileHeader h;
    char err[200];
    int rc = header_read(p->db, &h, err, sizeof err);
    if (rc)
        return pager_error(p, rc, "%s", err);
    *key_epoch = h.key_epoch;
    *rekeying = h.rekeying != 0;
    return BLAZEDB_OK;
}
