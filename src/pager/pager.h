/*
 * pager.h — pages, transactions, the write-ahead log, checkpoints, the page
 * cache, snapshots and the multi-process locking protocol.
 *
 * The pager knows pages, not B-trees.  Its model is copy-on-write:
 *
 *   - A committed page version is immutable.  A reference to a page is a
 *     PageRef {pgno, ctr}: ctr is the id of the transaction that wrote that
 *     version.  ctr is bound into the page's AEAD associated data, and every
 *     parent stores the child's ctr, so a page that is swapped, replayed or
 *     rolled back fails authentication (a Merkle tree rooted in the meta).
 *   - A write transaction never modifies a committed page: pager_dirty()
 *     copies it to a fresh page number and frees the old one; the caller
 *     updates the parent's PageRef.  Pages a transaction allocated itself are
 *     modified in place.
 *   - Freed page numbers are reused only once no live snapshot can reach
 *     them (the free-list layer above asks pager_oldest_reader()).
 *   - A read transaction is a snapshot: the meta (roots) of the last durable
 *     commit at the time it began.  Readers take no locks.
 *
 * Free-page bookkeeping lives above the pager (btree/freelist.c), which uses
 * pager_pool_add / pager_freed / pager_oldest_reader.
 */
#ifndef BLAZEDB_PAGER_H
#define BLAZEDB_PAGER_H

#include <stddef.h>
#include <stdint.h>

#include "../os/os.h"
#include "../crypto/crypto.h"
#include "header.h"

typedef uint32_t Pgno;

/* A reference to one version of a page.  pgno 0 means "no page". */
typedef struct {
    Pgno pgno;
    uint32_t reserved;   /* zero */
    uint64_t ctr;        /* id of the transaction that wrote this version */
} PageRef;

/* A pinned page.  `data` holds pager_payload_size() bytes of plaintext.
 * Pages returned by pager_get are read-only unless pager_is_dirty() says the
 * page belongs to the calling write transaction. */
typedef struct Page {
    uint8_t *data;
    /* A search aid the layer above may attach to a committed version,
     * once, with an atomic compare-and-swap (never to a dirty page):
     * malloc'd, or built in the version's own room (pager_hint_room),
     * which it claims first by swapping in PAGE_HINT_BUSY.  The pager
     * frees it with the version.  NULL when none. */
    void *hint;
    uint64_t ctr;
    Pgno pgno;
    /* Set (atomically, relaxed) by the layer above once it has validated the
     * page's structure; the pager clears it whenever it loads a version from
     * disk, so a committed page is validated once, not at every visit. */
    uint8_t checked;
    /* Low 8 bits of the key epoch this version is sealed under (set when
     * it is read or committed; meaningless for a dirty page). */
    uint8_t key_epoch;
} Page;

/* Bytes reserved at the end of every on-disk page for the seal trailer. */
#define PAGER_TRAILER 48
/* Page numbers 0 (file header), 1 and 2 (meta pages) are reserved. */
#define PAGER_FIRST_DATA_PGNO 3
/* Largest page number (the file may hold up to 2^32-1 pages). */
#define PAGER_MAX_PGNO 0xFFFFFFF0u

/* Tree slots in the meta.  The pager stores them; layers above give them
 * meaning. */
#define PAGER_NROOTS 8
enum {
    PAGER_ROOT_MAIN = 0,    /* byte-KV tree of the public KV API */
    PAGER_ROOT_FREE = 1,    /* free-page tree (btree/freelist.c) */
    PAGER_ROOT_CATALOG = 2, /* collections (catalog/catalog.c) */
    PAGER_ROOT_CHANGES = 3  /* change log (catalog/catalog.c) */
};

typedef struct {
    PageRef root;
    uint64_t count;         /* entries, maintained by the tree's owner */
} PagerRoot;

/* The meta record: the root of everything, written with every commit. */
typedef struct {
    uint64_t txnid;             /* id of the commit this meta describes */
    Pgno npages;                /* high-water mark: pgnos < npages exist */
    uint32_t reserved;
    uint64_t free_pages;        /* pages held by the free tree (stats) */
    PagerRoot roots[PAGER_NROOTS];
} PagerMeta;

typedef struct Pager Pager;
typedef struct PagerTxn PagerTxn;

/* Statistics counters (monotonic since open). */
typedef struct {
    uint64_t cache_hits, cache_misses, pages_read, pages_written;
    uint64_t bytes_written, syncs, checkpoints, lock_waits;
    uint64_t commits, rollbacks;
    uint64_t wal_pages;
    /* for the monitor (src/db/monitor.c) */
    uint64_t lock_wait_us;      /* total time spent in lock waits */
    uint64_t wal_frames;        /* frames in the current log generation */
    uint64_t wal_file_bytes, db_file_bytes; /* sizes on disk (0 if unknown) */
    uint32_t autockpt;          /* the autocheckpoint setting, in pages */
    int failed;                 /* an I/O error made the handle refuse writes */
} PagerStats;

/* ---- open/close ------------------------------------------------------- */

typedef struct {
    OsVfs *vfs;                 /* NULL: os_default_vfs() */
    int create;                 /* create when absent */
    int exclusive;              /* with create: EXISTS if present */
    int readonly;
    int plaintext;              /* at creation */
    CryptoKdfParams kdf;        /* at creation (salt filled by the pager) */
    uint32_t page_size;         /* at creation; 0 = 8192 */
    uint64_t cache_bytes;
    uint32_t busy_timeout_ms;
    int durability;             /* BLAZEDB_DURABILITY_* */
    uint32_t autocheckpoint;    /* pages in the log before a checkpoint */
} PagerConfig;

/* All pager functions return BlazeDBResult codes (int) and, on failure,
 * write a message into the pager's error buffer (pager_errmsg). */

/* Opens or creates the database at `path` (plus -wal and -shm sidecars).
 * On failure *out is NULL and errbuf (if non-NULL) holds the message. */
int pager_open(const char *path, const void *pw, size_t pwlen,
               const PagerConfig *cfg, Pager **out,
               char *errbuf, size_t errbuf_len);
void pager_close(Pager *p);

const char *pager_errmsg(Pager *p);
/* Formats a message into the pager's error buffer; returns rc. */
int pager_error(Pager *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

size_t pager_page_size(const Pager *p);
/* Usable bytes per page: page_size - PAGER_TRAILER. */
size_t pager_payload_size(const Pager *p);
int pager_is_readonly(const Pager *p);
void pager_get_stats(Pager *p, PagerStats *st);

/* Changes the password (rewraps the data key). */
int pager_rekey(Pager *p, const void *pw, size_t pwlen,
                const CryptoKdfParams *kdf);
/* Runs a checkpoint now. */
int pager_checkpoint(Pager *p);

/* ---- transactions ----------------------------------------------------- */

/* Begins a read (write = 0) or write transaction.  A write transaction waits
 * up to the busy timeout for the writer lock (BLAZEDB_BUSY after). */
int pager_begin(Pager *p, int write, PagerTxn **out);
/* Write: makes every dirty page and the meta durable, then publishes the new
 * snapshot.  Read: ends the snapshot.  The txn is freed in every case; on
 * failure everything it did is rolled back. */
int pager_commit(PagerTxn *t);
/* Discards the transaction and frees it. */
void pager_abort(PagerTxn *t);

int pager_txn_is_write(const PagerTxn *t);
/* The id of the latest published (durable) commit, read without a lock. */
uint64_t pager_published_txn(Pager *p);
Pager *pager_txn_pager(PagerTxn *t);
/* A number no other open of this process had or will have (for caches
 * keyed by a handle: page references are unique within one open file, a
 * Pager's address is not unique across opens). */
uint64_t pager_serial(const Pager *p);
/* The id this write transaction will commit as (last commit + 1), or the id
 * of the snapshot for a read transaction. */
uint64_t pager_txn_id(const PagerTxn *t);
/* The transaction's meta: the snapshot's for a read transaction, a private
 * mutable copy for a write transaction (changes take effect at commit). */
PagerMeta *pager_txn_meta(PagerTxn *t);
/* Incremented by every pager_dirty/pager_alloc/pager_free in this txn:
 * cursors use it to notice that the tree changed under them. */
uint64_t pager_txn_change_seq(const PagerTxn *t);

/* ---- savepoints ---------------------------------------------------------- */

/* Marks the write transaction's current state; *level (1, 2, ...) names it.
 * Costs O(1) plus a copy of the allocation pool; afterwards the first change
 * to each dirty page keeps a copy of its old content. */
int pager_savepoint(PagerTxn *t, size_t *level);
/* Returns the transaction to the state of savepoint `level`, which stays
 * open; savepoints inside it are discarded.  MISUSE if there is no such
 * savepoint.  Cursors notice through the change sequence. */
int pager_savepoint_rollback(PagerTxn *t, size_t level);
/* Forgets savepoint `level` and those inside it, keeping the changes. */
int pager_savepoint_release(PagerTxn *t, size_t level);
/* Savepoints open (0 = none). */
size_t pager_savepoint_depth(const PagerTxn *t);

/* ---- pages ------------------------------------------------------------ */

/* Reads and pins the page version `ref` (authenticating it against ref.ctr
 * on a cache miss).  In a write transaction, a page dirtied by this txn is
 * returned as that dirty page.  BLAZEDB_CORRUPT when the page fails
 * authentication or ref is out of range. */
int pager_get(PagerTxn *t, PageRef ref, Page **out);
/* Unpins a page from pager_get/pager_alloc/pager_dirty.  NULL ignored. */
void pager_unpin(PagerTxn *t, Page *pg);
/* Does `pg` belong to this write transaction (writable)? */
int pager_is_dirty(const PagerTxn *t, const Page *pg);
/* Page.hint while its room is being built into (not a hint). */
#define PAGE_HINT_BUSY ((void *)1)
/* The bytes kept next to a committed version for its hint (*size of
 * them), or NULL for a dirty page. */
uint8_t *pager_hint_room(const PagerTxn *t, Page *pg, size_t *size);

/* Allocates a writable, zero-filled page (pinned) with ctr = txn id. */
int pager_alloc(PagerTxn *t, Page **out);
/* Copy-on-write.  If `pg` is already dirty in this txn, *out = pg.  Otherwise
 * *out is a new pinned writable copy at a new page number, `pg` is unpinned
 * and its page number freed; the caller must update the parent's PageRef to
 * {(*out)->pgno, (*out)->ctr}.  On failure `pg` stays pinned. */
int pager_dirty(PagerTxn *t, Page *pg, Page **out);
/* Frees a page that the new tree no longer references.  A page allocated by
 * this txn goes straight back to the allocation pool. */
int pager_free(PagerTxn *t, PageRef ref);

/* ---- hooks for the free-page layer ------------------------------------ */

/* Page numbers freed by this txn that were committed before (they become
 * reusable once no snapshot older than this txn remains).  Borrowed until
 * the next pager call on the txn. */
size_t pager_freed(PagerTxn *t, const Pgno **out);
/* Adds reusable page numbers to the txn's allocation pool. */
int pager_pool_add(PagerTxn *t, const Pgno *pgnos, size_t n);
/* Takes back every unused pool page (for recording at commit); the caller
 * owns *out (free()). */
size_t pager_pool_take(PagerTxn *t, Pgno **out);
/* Pages currently in the pool. */
size_t pager_pool_size(const PagerTxn *t);
/* Called by pager_alloc when the pool is empty, before extending the file,
 * to let the free-page layer refill the pool.  It is not called again while
 * it runs (allocations it makes come from the pool, else from the end of
 * the file).  Set by the layer above at open. */
typedef int (*PagerRefillFn)(PagerTxn *t, void *arg);
void pager_set_refill(Pager *p, PagerRefillFn fn, void *arg);
/* Smallest snapshot id any live reader (in any process) still uses, or the
 * last commit id when there is none.  Pages freed by transactions with
 * id <= this value can be reused. */
uint64_t pager_oldest_reader(PagerTxn *t);

/* ---- for vacuum (src/tools/vacuum.c) ----------------------------------- */

/* On: pager_alloc takes the lowest page number in the pool (instead of the
 * last added), so copy-on-write moves pages towards the start of the file. */
void pager_set_alloc_low(PagerTxn *t, int on);
/* Pool pages with a number below `cut`. */
size_t pager_pool_count_below(const PagerTxn *t, Pgno cut);
/* Called at the end of every pager_commit that wrote something, in the
 * committing thread, after the commit is durable and the write lock is
 * released (auto-vacuum).  free_arg(arg) runs at close or when replaced.
 * Set once, before other threads use the pager. */
typedef void (*PagerCommitHookFn)(Pager *p, void *arg);
void pager_set_commit_hook(Pager *p, PagerCommitHookFn fn, void *arg,
                           void (*free_arg)(void *arg));
/*
 * Checkpoints skip log pages at or above the checkpointed meta's npages
 * and truncate the main file to npages pages when it is longer: a vacuum
 * lowers npages (in an ordinary commit) only over pages that are free and
 * that no snapshot can reach.
 */

/* ---- for maintenance tools (src/tools/backup.c) ------------------------ */

/* Reads the version of page `pgno` that the read transaction `t` sees,
 * whatever its ctr (which goes to *ctr): the newest committed image, from
 * the log or the main file, through the same retry-on-log-restart path as
 * pager_get, authenticated as a data page of that number.  CORRUPT when it
 * fails or its version is newer than the snapshot.  Bypasses the page
 * cache, so that reading every page does not evict the working set.  Meant
 * for pages reachable from the snapshot (a page free in it may be reused
 * meanwhile).  MISUSE in a write transaction. */
int pager_snapshot_read(PagerTxn *t, Pgno pgno, uint8_t *payload, uint64_t *ctr);

/* The file header in force (KDF parameters, salt, file id, wrapped data
 * key) and the data key of its key_epoch (all zero for a plaintext
 * database), as this handle last read them. */
void pager_key_info(Pager *p, FileHeader *h, uint8_t dk[CRYPTO_KEY_LEN]);

/* ---- re-encryption under a new data key (src/tools/vacuum.c) ------------
 *
 * The driver, in order: pager_reencrypt_start in a write transaction;
 * rewrite every page pager_page_stale reports (btree_relocate in its
 * stale-key mode, ordinary write transactions); then, in one write
 * transaction, pager_reencrypt_flush, pager_wipe_pages over the free pages
 * no snapshot can reach, and pager_reencrypt_finish.  The header keeps
 * both keys until the finish, so a crash anywhere before leaves a
 * database that opens with both.  All take the transaction's pager and
 * return BlazeDBResult codes.
 */

/* Makes a new data key, announces it in the header (wrapped under the
 * current one) and seals every later page under it, in every handle (they
 * reread the header when the shared key_seq moves).  Resumes when a
 * re-encryption is already under way.  INVALID_ARGUMENT for a plaintext
 * database, AUTH_FAILED when the password changed since this handle
 * opened (the finish could not wrap the new key). */
int pager_reencrypt_start(PagerTxn *t);
/* Is this committed page sealed under a key other than the write key? */
int pager_page_stale(const PagerTxn *t, const Page *pg);
/* Waits for this handle's pending commits, copies the whole log home,
 * reseals both meta pages under the write key, then starts a new log
 * generation and cuts the old frames off the log file. */
int pager_reencrypt_flush(PagerTxn *t);
/* Overwrites with zeros each listed page of the main file whose image is
 * sealed under an older key.  The pages must be free and unreachable from
 * every snapshot, after pager_reencrypt_flush.  *wiped += pages zeroed. */
int pager_wipe_pages(PagerTxn *t, const Pgno *pgnos, size_t n, uint64_t *wiped);
/* The header forgets the old key: the new one is wrapped under the
 * password in its place. */
int pager_reencrypt_finish(PagerTxn *t);
/* From the header on disk: completed re-encryptions, and whether one is
 * under way. */
int pager_key_state(Pager *p, uint32_t *key_epoch, int *rekeying);

#endif /* BLAZEDB_PAGER_H */
