/*
 * vacuum.c — the drivers that rewrite pages by relocation walks: vacuum
 * (compacts the database so that its free pages leave the end of the
 * file, then gives that space back to the file system; and auto-vacuum
 * after commits) and re-encryption under a new data key.  Both online and
 * crash-safe at every step.
 *
 * Owns: the vacuum and re-encryption drivers and the per-handle auto-vacuum
 * state.  Not: the
 * mechanics it drives, which live with the data they touch — moving a
 * tree's pages (btree_relocate, btree.c), taking free pages below a cut
 * and lowering the high-water mark (freelist_take_low / freelist_shrink,
 * freelist.c), handing out the lowest free page first and truncating the
 * file at checkpoint (pager.c).
 *
 * DESIGN: compaction by relocation, in ordinary write transactions.
 *
 *  1. Target.  used = npages - free_pages (pages of every tree, the free
 *     tree's own included); cut = used + a little slack (copy-on-write
 *     needs room to move).  Goal: no page >= cut in use.
 *
 *  2. Relocation batches.  Each is one write transaction:
 *     freelist_take_low puts up to ~batch free page numbers below the cut
 *     into the allocation pool — only from free-tree records whose pages
 *     no snapshot can reach (deferred reuse holds, as for any allocation);
 *     pager_set_alloc_low makes every allocation take the lowest one; then
 *     btree_relocate walks the trees in key order and copies every page
 *     numbered >= cut (branches, leaves, overflow chains) into one of them,
 *     rewriting the parents up to the root (copy-on-write does exactly
 *     that), and the root's holder is updated: the meta (byte-KV tree,
 *     catalog, change log), a collection record (document tree), an index
 *     definition (index tree), or the free tree itself (relocated with the
 *     free-list's refill switched off).  The walk stops when the batch is
 *     full or the low pages run out, remembers the tree and the key it
 *     reached, and the transaction commits.  Other writers interleave
 *     between batches.  A pass ends when every tree was walked; passes
 *     repeat (at most VAC_MAX_PASSES) until one moves nothing, which also
 *     catches pages that concurrent writers put above the cut.
 *
 *  3. Shrink.  One write transaction: freelist_shrink finds N, one past
 *     the highest page that is not free-and-reusable, sets meta.npages = N
 *     and deletes the free-tree records holding pages >= N.  Because those
 *     pages are reusable, no live snapshot can reach them, and every later
 *     snapshot has npages <= N until a commit extends the file again.
 *
 *  4. Truncate.  A checkpoint (pager.c) copies the log home, skipping pages
 *     >= the copied meta's npages, writes the meta page, syncs, and
 *     truncates the main file to npages pages.  vacuum runs one at the end;
 *     any later checkpoint does it too.
 *
 * Crash safety: steps 2 and 3 are ordinary commits (atomic: the old state
 * or the new, through the log's recovery); step 4 happens after the meta
 * page naming the smaller npages is durable, and a main file longer than
 * npages pages is valid (the tail is unreachable), so a crash before,
 * during or after the truncation leaves a consistent database.  Recovery
 * never compares the file size with npages: pages not yet copied home are
 * read from the log.
 *
 * Readers keep their snapshots: relocation frees the old page versions
 * under the relocating transaction's id, so they are reused (or dropped
 * by the shrink) only once no snapshot older than that remains.  A reader
 * older than the relocation therefore holds the shrink back: vacuum then
 * returns BUSY after shrinking what it could; running it again after the
 * reader ended finishes the job.
 *
 * Re-encryption (blazedb_reencrypt) uses the same walk with another
 * predicate: instead of the pages above a cut, the pages still sealed
 * under an older data key (pager_page_stale); copy-on-write reseals them
 * under the write key.  Its steps:
 *
 *  1. Start (pager_reencrypt_start): a new random data key goes into the
 *     header, wrapped under the current one, and the shared key_seq moves,
 *     so every handle (any process) rereads the header before its next
 *     seal: from then on every writer seals under the new key.
 *  2. Walk passes, as in vacuum, until one rewrites nothing.  Pages other
 *     writers write meanwhile are already under the new key.
 *  3. One write transaction: pager_reencrypt_flush copies the log home,
 *     reseals both meta pages and starts the log afresh (its old frames
 *     are cut off); the free pages no snapshot can reach that still hold
 *     old ciphertext are overwritten with zeros (pager_wipe_pages); if no
 *     free page is held by a reader older than the walk,
 *     pager_reencrypt_finish wraps the new key under the password and the
 *     header forgets the old one.  Otherwise BUSY: both keys stay, and a
 *     later call (nothing left to walk) finishes.
 *
 * Until step 3 ends, the header can unlock both keys, so a crash anywhere
 * leaves a database that opens and reads, and a new call resumes.
 *
 * Auto-vacuum (blazedb_auto_vacuum) installs a pager commit hook: after a
 * commit, when the free pages pass the threshold, the committing thread
 * runs one relocation batch (or the final shrink and checkpoint) of a
 * vacuum whose state is kept per handle, so the cost per commit stays
 * bounded by one batch.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blazedb.h"
#include "../btree/btree.h"
#include "../catalog/catalog.h"
#include "../db/db.h"
#include "../index/index.h"
#include "../pager/pager.h"

#define VAC_DEFAULT_BATCH 1024u
#define VAC_MAX_BATCH (1u << 20)
#define VAC_MAX_PASSES 4
/* Auto-vacuum: commits to skip after a cycle that returned nothing. */
#define AUTO_BACKOFF 256u
/* Fewer low pages than this in a batch: no room to move anything. */
#define VAC_MIN_LOW 8u

/* Set while this thread runs a vacuum step: its own commits must not
 * re-enter auto-vacuum. */
static _Thread_local int tl_in_vacuum;

typedef enum { VT_META, VT_COLL, VT_INDEX, VT_FREE } VacKind;

typedef struct {
    VacKind kind;
    int slot;               /* VT_META */
    char *name;             /* VT_COLL (collection), VT_INDEX (index) */
    size_t nlen;
} VacTree;

typedef struct {
    Pager *p;
    int stale;              /* re-encryption: move stale-key pages, no cut */
    uint32_t batch;
    Pgno cut;
    Pgno npages0;
    VacTree *trees;
    size_t ntrees, cur;
    BtRelocate rel;         /* position in trees[cur] */
    int pass;
    uint64_t moved_pass, moved_total;
} Vac;

static void vac_init(Vac *v, Pager *p, uint32_t batch, int stale)
{
    memset(v, 0, sizeof *v);
    v->p = p;
    v->batch = batch;
    v->stale = stale;
}

/* ---- tree list ------------------------------------------------------------------ */

static void vac_trees_free(Vac *v)
{
    for (size_t i = 0; i < v->ntrees; i++)
        free(v->trees[i].name);
    free(v->trees);
    v->trees = NULL;
    v->ntrees = v->cur = 0;
}

static int vac_push(Vac *v, size_t *cap, VacKind kind, int slot, const char *name,
                    size_t nlen)
{
    if (v->ntrees == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        VacTree *nt = realloc(v->trees, nc * sizeof *nt);
        if (!nt)
            return BLAZEDB_NOMEM;
        v->trees = nt;
        *cap = nc;
    }
    VacTree *e = &v->trees[v->ntrees];
    e->kind = kind;
    e->slot = slot;
    e->name = NULL;
    e->nlen = nlen;
    if (name) {
        if (!(e->name = malloc(nlen + 1)))
            return BLAZEDB_NOMEM;
        memcpy(e->name, name, nlen);
        e->name[nlen] = 0;
    }
    v->ntrees++;
    return BLAZEDB_OK;
}

typedef struct {
    Vac *v;
    size_t *cap;
    PagerTxn *t;
} ListCtx;

static int list_coll(const char *name, size_t len, const CatColl *c, void *arg)
{
    ListCtx *lc = arg;
    int rc = vac_push(lc->v, lc->cap, VT_COLL, 0, name, len);
    if (rc || !(c->flags & CAT_F_HAS_INDEXES))
        return rc;
    IdxDef *defs;
    size_t n;
    if ((rc = idx_list(lc->t, c->id, &defs, &n)))
        return rc;
    for (size_t i = 0; !rc && i < n; i++)
        rc = vac_push(lc->v, lc->cap, VT_INDEX, 0, defs[i].name, strlen(defs[i].name));
    idx_defs_free(defs, n);
    return rc;
}

/* Lists every tree of the latest snapshot: meta slots, collections and
 * their indexes (catalog order), the free tree last. */
static int vac_list(Vac *v)
{
    vac_trees_free(v);
    PagerTxn *t;
    int rc = pager_begin(v->p, 0, &t);
    if (rc)
        return rc;
    size_t cap = 0;
    for (int i = 0; !rc && i < PAGER_NROOTS; i++)
        if (i != PAGER_ROOT_FREE)
            rc = vac_push(v, &cap, VT_META, i, NULL, 0);
    ListCtx lc = {v, &cap, t};
    if (!rc && pager_txn_meta(t)->roots[PAGER_ROOT_CATALOG].root.pgno)
        rc = cat_each(t, list_coll, &lc);
    if (!rc)
        rc = vac_push(v, &cap, VT_FREE, 0, NULL, 0);
    pager_commit(t);
    if (rc == BLAZEDB_NOMEM)
        pager_error(v->p, rc, "vacuum: out of memory");
    v->cur = 0;
    memset(&v->rel, 0, sizeof v->rel);
    return rc;
}

/* ---- one batch ------------------------------------------------------------------- */

/* Relocates in trees[cur] from the saved position.  *gone = 1 when the
 * tree no longer exists. */
static int vac_tree(Vac *v, PagerTxn *t, int *gone)
{
    VacTree *e = &v->trees[v->cur];
    *gone = 0;
    int rc;
    v->rel.low = v->stale ? SIZE_MAX : pager_pool_count_below(t, v->cut);
    switch (e->kind) {
    case VT_META:
        return btree_relocate(t, &pager_txn_meta(t)->roots[e->slot], &v->rel);
    case VT_FREE:
        return freelist_relocate(t, &v->rel);
    case VT_COLL: {
        CatColl c;
        rc = cat_get(t, e->name, e->nlen, &c);
        if (rc == BLAZEDB_NOT_FOUND) {
            *gone = 1;
            return BLAZEDB_OK;
        }
        PageRef before = c.docs.root;
        if (!rc)
            rc = btree_relocate(t, &c.docs, &v->rel);
        if (!rc && memcmp(&before, &c.docs.root, sizeof before) != 0)
            rc = cat_put(t, e->name, e->nlen, &c);
        return rc;
    }
    case VT_INDEX: {
        IdxDef d;
        rc = idx_find(t, e->name, &d);
        if (rc == BLAZEDB_NOT_FOUND) {
            *gone = 1;
            return BLAZEDB_OK;
        }
        PageRef before = d.root.root;
        if (!rc)
            rc = btree_relocate(t, &d.root, &v->rel);
        if (!rc && memcmp(&before, &d.root.root, sizeof before) != 0)
            rc = idx_def_store(t, &d);
        idx_def_clear(&d);
        return rc;
    }
    }
    return BLAZEDB_INTERNAL_ERROR;
}

static int vac_commit(PagerTxn *t)
{
    int rc = freelist_commit(t);
    if (rc) {
        pager_abort(t);
        return rc;
    }
    return pager_commit(t);
}

/*
 * One relocation transaction.  *pass_done = 1 when the walk of every tree
 * is complete; *stalled = 1 when there were no free pages below the cut
 * to move anything into (deferred reuse: readers hold them, or the cut is
 * too tight).
 */
static int vac_batch(Vac *v, int *pass_done, int *stalled)
{
    *pass_done = *stalled = 0;
    if (v->cur >= v->ntrees) {
        *pass_done = 1;
        return BLAZEDB_OK;
    }
    PagerTxn *t;
    int rc = pager_begin(v->p, 1, &t);
    if (rc)
        return rc;
    if (!v->stale) {
        pager_set_alloc_low(t, 1);
        size_t got = 0;
        size_t want = (size_t)v->batch + v->batch / 4 + 64;
        if ((rc = freelist_take_low(t, v->cut, want, &got))) {
            pager_abort(t);
            return rc;
        }
        if (got < VAC_MIN_LOW) {
            pager_abort(t);
            *stalled = 1;
            return BLAZEDB_OK;
        }
    }
    v->rel.cut = v->stale ? (Pgno)(PAGER_MAX_PGNO + 1u) : v->cut;
    v->rel.stale_keys = v->stale;
    v->rel.max_cows = v->batch;
    v->rel.cows = 0;
    uint64_t moved0 = v->rel.moved;
    while (v->cur < v->ntrees) {
        int gone = 0;
        v->rel.stopped = 0;
        if ((rc = vac_tree(v, t, &gone))) {
            pager_abort(t);
            return rc;
        }
        if (v->rel.stopped)
            break;
        v->cur++;
        v->rel.resume = 0;
    }
    uint64_t moved = v->rel.moved - moved0;
    v->rel.moved = 0;
    if (v->cur >= v->ntrees)
        *pass_done = 1;
    if (v->rel.cows == 0) {
        pager_abort(t); /* nothing moved: leave the free tree as it was */
        return BLAZEDB_OK;
    }
    if ((rc = vac_commit(t)))
        return rc;
    v->moved_pass += moved;
    v->moved_total += moved;
    return BLAZEDB_OK;
}

/* ---- start, shrink ------------------------------------------------------------ */

/* Reads the sizes and sets the cut.  *worth = 0 when nothing is free. */
static int vac_start(Vac *v, int *worth)
{
    PagerTxn *t;
    int rc = pager_begin(v->p, 0, &t);
    if (rc)
        return rc;
    PagerMeta *m = pager_txn_meta(t);
    Pgno npages = m->npages;
    uint64_t fr = m->free_pages;
    pager_commit(t);
    v->npages0 = npages;
    uint64_t used = npages > fr ? npages - fr : PAGER_FIRST_DATA_PGNO;
    uint64_t slack = 32 + used / 32 + fr / 256;
    uint64_t cut = used + slack;
    v->cut = cut < npages ? (Pgno)cut : npages;
    v->pass = 0;
    v->moved_pass = v->moved_total = 0;
    *worth = fr > 0;
    return BLAZEDB_OK;
}

/* The shrink transaction, then a checkpoint (which truncates the file);
 * without `always`, the checkpoint only when the shrink lowered npages. */
static int vac_shrink(Vac *v, Pgno *npages_after, int *blocked, int always)
{
    PagerTxn *t;
    int rc = pager_begin(v->p, 1, &t);
    if (rc)
        return rc;
    pager_set_alloc_low(t, 1);
    Pgno before = pager_txn_meta(t)->npages, after = before;
    if ((rc = freelist_shrink(t, &after, blocked))) {
        pager_abort(t);
        return rc;
    }
    if (after >= before) {
        pager_abort(t);
    } else if ((rc = vac_commit(t))) {
        return rc;
    }
    *npages_after = after < before ? after : before;
    if (!always && after >= before)
        return BLAZEDB_OK;
    rc = pager_checkpoint(v->p);
    if (rc == BLAZEDB_BUSY)
        rc = BLAZEDB_OK; /* another checkpoint runs: it truncates too */
    return rc;
}

/* ---- public API ------------------------------------------------------------------ */

void blazedb_vacuum_options_init(BlazeDBVacuumOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->pages_per_txn = VAC_DEFAULT_BATCH;
}

static uint64_t db_npages(Pager *p)
{
    PagerTxn *t;
    if (pager_begin(p, 0, &t))
        return 0;
    uint64_t n = pager_txn_meta(t)->npages;
    pager_commit(t);
    return n;
}

/* The options of both drivers: BlazeDBVacuumOptions and
 * BlazeDBReencryptOptions have this layout. */
typedef struct {
    uint32_t struct_size;
    uint32_t pages_per_txn;
    BlazeDBProgressFn progress;
    void *progress_arg;
} DrvOpts;

#define SAME_LAYOUT(T)                                                                   \
    _Static_assert(sizeof(T) == sizeof(DrvOpts) &&                                      \
                       offsetof(T, pages_per_txn) == offsetof(DrvOpts, pages_per_txn) && \
                       offsetof(T, progress) == offsetof(DrvOpts, progress) &&           \
                       offsetof(T, progress_arg) == offsetof(DrvOpts, progress_arg),     \
                   #T " and DrvOpts differ")
SAME_LAYOUT(BlazeDBVacuumOptions);
SAME_LAYOUT(BlazeDBReencryptOptions);

/* Checks the handle and a driver's options (opts may be NULL; its first
 * struct_size bytes are taken) into *o, with the defaults filled in. */
static BlazeDBResult drv_opts(BlazeDB *db, const char *what, const char *init_fn,
                              const void *opts, DrvOpts *o)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    if (opts) {
        uint32_t ss;
        memcpy(&ss, opts, sizeof ss);
        if (ss < sizeof(uint32_t) || ss > sizeof *o)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                            "%s options: struct_size is %u; initialise with %s", what, ss,
                            init_fn);
        memcpy(o, opts, ss);
    }
    if (o->pages_per_txn == 0)
        o->pages_per_txn = VAC_DEFAULT_BATCH;
    if (o->pages_per_txn < 8 || o->pages_per_txn > VAC_MAX_BATCH)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "%s options: pages_per_txn %u is not in 8..%u", what, o->pages_per_txn,
                        VAC_MAX_BATCH);
    if (pager_is_readonly(db_pager(db)))
        return db_error(db, BLAZEDB_READONLY, "%s: the database was opened read-only", what);
    return BLAZEDB_OK;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Between two re-encryption batches the write lock is left free for a
 * third of the time the batch held it (at most 20 ms; less the time of a
 * checkpoint run in between), so other writers, in this process or
 * another, keep a share of it instead of queueing behind back-to-back
 * batches. */
#define RK_YIELD_DIV 3
#define RK_YIELD_MAX_US 20000u

static void rk_yield(uint64_t batch_us)
{
    uint64_t us = batch_us / RK_YIELD_DIV;
    if (us > RK_YIELD_MAX_US)
        us = RK_YIELD_MAX_US;
    struct timespec ts = {0, (long)(us * 1000u)};
    nanosleep(&ts, NULL);
}

/* Between two re-encryption batches (the last began at batch_start):
 * copies the log home once it holds half the checkpoint budget, while the
 * write lock is free, rather than leave it to the next writer's begin;
 * then leaves the lock free for a while. */
static int rk_between(Pager *p, uint64_t batch_start)
{
    uint64_t t1 = mono_us();
    PagerStats ps;
    pager_get_stats(p, &ps);
    if (ps.autockpt != UINT32_MAX && ps.wal_pages >= ps.autockpt / 2) {
        int rc = pager_checkpoint(p);
        if (rc && rc != BLAZEDB_BUSY)
            return rc;
    }
    uint64_t t2 = mono_us();
    rk_yield(t1 - batch_start > t2 - t1 ? (t1 - batch_start) - (t2 - t1) : 0);
    return BLAZEDB_OK;
}

/* The relocation passes of a driver: batches until a pass moves nothing
 * (or, vacuum, finds no room to move into), with progress against `total`
 * after each batch.  *cancelled = 1 when the callback or blazedb_interrupt
 * stopped it between two batches. */
static int vac_passes(Vac *v, BlazeDB *db, const DrvOpts *o, uint64_t total, unsigned intr0,
                      int *cancelled)
{
    *cancelled = 0;
    for (int pass = 0; pass < VAC_MAX_PASSES; pass++) {
        int rc = vac_list(v);
        if (rc)
            return rc;
        v->moved_pass = 0;
        int pass_done = 0, stalled = 0;
        while (!pass_done && !stalled) {
            uint64_t t0 = mono_us();
            if ((rc = vac_batch(v, &pass_done, &stalled)))
                return rc;
            if (v->stale && !pass_done && (rc = rk_between(v->p, t0)))
                return rc;
            uint64_t done = v->moved_total < total ? v->moved_total : total - 1;
            if ((o->progress && o->progress(done, total, o->progress_arg) != 0) ||
                db_interrupts(db) != intr0) {
                *cancelled = 1;
                return BLAZEDB_OK;
            }
        }
        if (stalled || v->moved_pass == 0)
            break;
    }
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_vacuum(BlazeDB *db, const BlazeDBVacuumOptions *opts,
                             uint64_t *bytes_reclaimed)
{
    if (bytes_reclaimed)
        *bytes_reclaimed = 0;
    DrvOpts o;
    BlazeDBResult orc = drv_opts(db, "vacuum", "blazedb_vacuum_options_init", opts, &o);
    if (orc)
        return orc;
    Pager *p = db_pager(db);
    unsigned intr0 = db_interrupts(db);
    int outer = tl_in_vacuum;
    tl_in_vacuum = 1;
    Vac v;
    vac_init(&v, p, o.pages_per_txn, 0);
    int worth = 0, blocked = 0, cancelled = 0;
    int rc = vac_start(&v, &worth);
    uint64_t total = v.npages0 > v.cut ? v.npages0 - v.cut : 0;
    if (!rc && worth && total)
        rc = vac_passes(&v, db, &o, total, intr0, &cancelled);
    vac_trees_free(&v);
    Pgno after = v.npages0;
    if (!rc && !cancelled)
        rc = vac_shrink(&v, &after, &blocked, 1);
    tl_in_vacuum = outer;
    if (rc)
        return (BlazeDBResult)rc;
    if (cancelled)
        return db_error(db, BLAZEDB_CANCELLED,
                        "vacuum cancelled; the pages moved so far stay moved");
    uint64_t now = db_npages(p);
    uint64_t ps = pager_page_size(p);
    uint64_t reclaimed = now && now < v.npages0 ? (v.npages0 - now) * ps : 0;
    if (bytes_reclaimed)
        *bytes_reclaimed = reclaimed;
    if (o.progress)
        o.progress(total, total, o.progress_arg);
    if (blocked)
        return db_error(db, BLAZEDB_BUSY,
                        "vacuum: %llu bytes returned; more is held by a read transaction "
                        "older than the vacuum (run it again once that has ended)",
                        (unsigned long long)reclaimed);
    return BLAZEDB_OK;
}

/* ---- auto-vacuum ------------------------------------------------------------------ */

typedef struct {
    pthread_mutex_t mu;
    double fraction;
    uint64_t min_pages;
    uint32_t batch;
    int active;             /* a vacuum is under way */
    uint32_t backoff;       /* commits to let pass before the next check */
    int shrinking;          /* relocation finished: shrink next */
    Vac v;
} AutoVac;

static void auto_free(void *arg)
{
    AutoVac *a = arg;
    if (!a)
        return;
    vac_trees_free(&a->v);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* One step of the handle's auto-vacuum, after a commit (any thread). */
static void auto_hook(Pager *p, void *arg)
{
    AutoVac *a = arg;
    if (tl_in_vacuum || pthread_mutex_trylock(&a->mu) != 0)
        return;
    tl_in_vacuum = 1;
    int rc = BLAZEDB_OK;
    if (!a->active && a->backoff > 0) {
        a->backoff--;
    } else if (!a->active) {
        PagerTxn *t;
        if (pager_begin(p, 0, &t) == BLAZEDB_OK) {
            PagerMeta *m = pager_txn_meta(t);
            int over = m->free_pages >= a->min_pages && m->npages > 0 &&
                       (double)m->free_pages > a->fraction * (double)m->npages;
            pager_commit(t);
            if (over) {
                vac_init(&a->v, p, a->batch, 0);
                int worth = 0;
                rc = vac_start(&a->v, &worth);
                if (!rc && worth)
                    rc = vac_list(&a->v);
                a->active = !rc && worth;
                a->shrinking = a->v.npages0 <= a->v.cut;
            }
        }
    } else if (!a->shrinking) {
        int pass_done = 0, stalled = 0;
        rc = vac_batch(&a->v, &pass_done, &stalled);
        if (!rc && (stalled || pass_done)) {
            a->v.pass++;
            if (stalled || a->v.moved_pass == 0 || a->v.pass >= VAC_MAX_PASSES) {
                a->shrinking = 1;
            } else {
                a->v.moved_pass = 0;
                rc = vac_list(&a->v);
            }
        }
    } else {
        Pgno after = a->v.npages0;
        int blocked = 0;
        rc = vac_shrink(&a->v, &after, &blocked, 0);
        vac_trees_free(&a->v);
        a->active = 0;
        /* Nothing came back (readers hold the pages, or the free pages are
         * not where moving helps): do not start over at the next commit. */
        if (rc || after >= a->v.npages0)
            a->backoff = AUTO_BACKOFF;
    }
    if (rc) {
        /* best effort: start afresh a while later */
        vac_trees_free(&a->v);
        a->active = 0;
        a->backoff = AUTO_BACKOFF;
    }
    tl_in_vacuum = 0;
    pthread_mutex_unlock(&a->mu);
}

BlazeDBResult blazedb_auto_vacuum(BlazeDB *db, double free_fraction, uint64_t min_free_bytes,
                                  uint32_t pages_per_txn)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    Pager *p = db_pager(db);
    if (!(free_fraction >= 0.0 && free_fraction < 1.0))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "auto-vacuum: free_fraction must be in [0, 1); 0 turns it off");
    if (pages_per_txn == 0)
        pages_per_txn = VAC_DEFAULT_BATCH;
    if (pages_per_txn < 8 || pages_per_txn > VAC_MAX_BATCH)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "auto-vacuum: pages_per_txn %u is not in 8..%u", pages_per_txn,
                        VAC_MAX_BATCH);
    if (free_fraction == 0.0) {
        pager_set_commit_hook(p, NULL, NULL, NULL);
        return BLAZEDB_OK;
    }
    if (pager_is_readonly(p))
        return db_error(db, BLAZEDB_READONLY, "auto-vacuum: the database was opened read-only");
    AutoVac *a = calloc(1, sizeof *a);
    if (!a)
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    a->fraction = free_fraction;
    uint64_t ps = pager_page_size(p);
    a->min_pages = (min_free_bytes + ps - 1) / ps;
    if (a->min_pages == 0)
        a->min_pages = 1;
    a->batch = pages_per_txn;
    pager_set_commit_hook(p, auto_hook, a, auto_free);
    return BLAZEDB_OK;
}

/* ---- re-encryption ------------------------------------------------------------- */

void blazedb_reencrypt_options_init(BlazeDBReencryptOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->pages_per_txn = VAC_DEFAULT_BATCH;
}

/* Step 1: the new key, in a write transaction that changes no page. */
static int rk_start(Pager *p)
{
    PagerTxn *t;
    int rc = pager_begin(p, 1, &t);
    if (rc)
        return rc;
    rc = pager_reencrypt_start(t);
    pager_abort(t);
    return rc;
}

/* Step 3.  *held = free pages a reader older than the walk still holds. */
static int rk_finish(Pager *p, uint64_t *wiped, uint64_t *held)
{
    PagerTxn *t;
    int rc = pager_begin(p, 1, &t);
    if (rc)
        return rc;
    Pgno *free_pages = NULL;
    size_t nfree = 0;
    if ((rc = pager_reencrypt_flush(t)) == BLAZEDB_OK &&
        (rc = freelist_reusable(t, &free_pages, &nfree, held)) == BLAZEDB_OK &&
        (rc = pager_wipe_pages(t, free_pages, nfree, wiped)) == BLAZEDB_OK && *held == 0)
        rc = pager_reencrypt_finish(t);
    free(free_pages);
    pager_abort(t); /* it changed no page */
    return rc;
}

BlazeDBResult blazedb_reencrypt(BlazeDB *db, const BlazeDBReencryptOptions *opts,
                                uint64_t *pages_rewritten)
{
    if (pages_rewritten)
        *pages_rewritten = 0;
    DrvOpts o;
    BlazeDBResult orc = drv_opts(db, "re-encryption", "blazedb_reencrypt_options_init", opts,
                                 &o);
    if (orc)
        return orc;
    Pager *p = db_pager(db);
    unsigned intr0 = db_interrupts(db);
    int outer = tl_in_vacuum;
    tl_in_vacuum = 1;
    Vac v;
    vac_init(&v, p, o.pages_per_txn, 1);
    int cancelled = 0;
    int rc = rk_start(p);
    /* the estimate: pages in use (the free tree's own included) */
    uint64_t total = 0;
    if (rc == BLAZEDB_OK) {
        PagerTxn *t;
        if ((rc = pager_begin(p, 0, &t)) == BLAZEDB_OK) {
            PagerMeta *m = pager_txn_meta(t);
            total = m->npages > m->free_pages + PAGER_FIRST_DATA_PGNO
                        ? m->npages - m->free_pages - PAGER_FIRST_DATA_PGNO : 1;
            pager_commit(t);
        }
    }
    if (rc == BLAZEDB_OK)
        rc = vac_passes(&v, db, &o, total, intr0, &cancelled);
    vac_trees_free(&v);
    uint64_t wiped = 0, held = 0;
    if (rc == BLAZEDB_OK && !cancelled && v.moved_pass != 0)
        rc = pager_error(p, BLAZEDB_BUSY,
                         "re-encryption: writers kept sealing pages under the old key");
    if (rc == BLAZEDB_OK && !cancelled)
        rc = rk_finish(p, &wiped, &held);
    tl_in_vacuum = outer;
    if (pages_rewritten)
        *pages_rewritten = v.moved_total;
    if (rc)
        return (BlazeDBResult)rc;
    if (cancelled)
        return db_error(db, BLAZEDB_CANCELLED,
                        "re-encryption cancelled; both keys stay until a later call "
                        "finishes it, and nothing is lost");
    if (held)
        return db_error(db, BLAZEDB_BUSY,
                        "re-encryption: every page in use is under the new key, but %llu "
                        "free pages are still readable by a read transaction older than "
                        "the re-encryption; run it again once that has ended",
                        (unsigned long long)held);
    if (o.progress)
        o.progress(total, total, o.progress_arg);
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_key_state(BlazeDB *db, uint32_t *key_epoch, int *in_progress)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    uint32_t e = 0;
    int r = 0;
    int rc = pager_key_state(db_pager(db), &e, &r);
    if (rc)
        return (BlazeDBResult)rc;
    if (key_epoch)
        *key_epoch = e;
    if (in_progress)
        *in_progress = r;
    return BLAZEDB_OK;
}
