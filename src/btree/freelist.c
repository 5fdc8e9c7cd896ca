/*
 * freelist.c — the free-page tree: which page numbers are free, and since
 * which transaction.  It refills the pager's allocation pool (the pager's
 * refill hook) and records, at commit, the pages a transaction freed.
 *
 * The free tree is an ordinary B+tree (btree.c) rooted in
 * meta->roots[PAGER_ROOT_FREE]; root.count is its number of records and
 * meta->free_pages the number of page numbers they hold.
 *
 * RECORD FORMAT
 *   key   = 12 bytes: u64 txnid big-endian, u32 seq big-endian
 *           (txnid = the transaction that freed the pages; seq = 0, 1, 2...
 *           within it), so records sort oldest first;
 *   value = n * u32 page numbers, little-endian, 1 <= n <= max_entries,
 *           where max_entries keeps the value inline in its leaf
 *           (btree_inline_max_value(12) / 4: 503 with 8 KiB pages, 247 with
 *           4 KiB pages).
 *   The pages of record {X, s} are reusable once pager_oldest_reader() >= X:
 *   no snapshot older than X, which could still reach them, remains.
 *
 * Allocation (refill): when the pool is empty the pager calls fl_refill,
 * which takes the FIRST record if it is reusable: its pages go into the pool
 * *before* the record is deleted, so the copy-on-write of the free tree that
 * the deletion causes is served from those pages instead of growing the file.
 *
 * Commit (freelist_commit): first tops the pool up from reusable records (so
 * that rewriting the free tree does not grow the file), then, with refills
 * disabled (the free tree is being modified), records under {txnid, seq...}
 * the pages pager_freed() lists and the pool pages left unused, looping
 * until a pass frees nothing new (writing records copies free-tree pages,
 * which frees their old versions).  Relies on pager_freed() being
 * append-only during a transaction.  It may run more than once in a
 * transaction: pages already recorded under this txnid are skipped.
 *
 * While freelist code modifies the free tree a thread-local flag makes the
 * refill hook do nothing: allocations then come from the end of the file.
 */
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "btree.h"
#include "btree_page.h"
#include "../os/endian.h"

#define FL_KEY 12
/* Pool pages wanted before the commit rewrites the free tree. */
#define FL_RESERVE 16
/* Records taken per refill / per commit top-up at most. */
#define FL_MAX_TAKE 8

static _Thread_local int fl_busy;

static void fl_make_key(uint8_t k[FL_KEY], uint64_t txnid, uint32_t seq)
{
    put_be64(k, txnid);
    put_be32(k + 8, seq);
}

static uint64_t fl_key_txnid(const uint8_t *k) { return get_be64(k); }
static uint32_t fl_key_seq(const uint8_t *k) { return get_be32(k + 8); }

static int fl_corrupt(PagerTxn *t, const char *what)
{
    return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT, "free tree: %s", what);
}

static int pgno_cmp(const void *a, const void *b)
{
    Pgno x = *(const Pgno *)a, y = *(const Pgno *)b;
    return x < y ? -1 : x > y;
}

static PagerRoot *fl_root(PagerTxn *t)
{
    return &pager_txn_meta(t)->roots[PAGER_ROOT_FREE];
}

/* Moves the first record into the pool when no snapshot needs its pages.
 * *took = 1 when a record was consumed. */
static int fl_take_first(PagerTxn *t, int *took)
{
    PagerMeta *meta = pager_txn_meta(t);
    PagerRoot *fr = fl_root(t);
    BtCursor *c;
    *took = 0;
    if (fr->root.pgno == 0)
        return BLAZEDB_OK;
    int rc = btc_open(t, fr, &c);
    if (rc != BLAZEDB_OK)
        return rc;
    const void *kp, *vp;
    size_t kl, vl;
    rc = btc_first(c);
    if (rc == BLAZEDB_OK)
        rc = btc_key(c, &kp, &kl);
    if (rc == BLAZEDB_OK)
        rc = btc_value(c, &vp, &vl);
    if (rc != BLAZEDB_OK) {
        btc_close(c);
        return rc == BLAZEDB_NOT_FOUND ? BLAZEDB_OK : rc;
    }
    if (kl != FL_KEY || vl % 4 != 0) {
        btc_close(c);
        return fl_corrupt(t, "malformed record");
    }
    uint8_t key[FL_KEY];
    memcpy(key, kp, FL_KEY);
    if (fl_key_txnid(key) > pager_oldest_reader(t)) {
        btc_close(c);
        return BLAZEDB_OK;
    }
    size_t n = vl / 4;
    Pgno *pages = malloc(n ? n * sizeof *pages : 1);
    if (!pages) {
        btc_close(c);
        return pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        pages[i] = rd32((const uint8_t *)vp + 4 * i);
        if (pages[i] < PAGER_FIRST_DATA_PGNO || pages[i] >= meta->npages) {
            free(pages);
            btc_close(c);
            return fl_corrupt(t, "page number out of range");
        }
    }
    btc_close(c);
    /* The pool hands out its last page first: add the record's pages
     * (stored ascending) in descending order, so that allocations take the
     * lowest numbers first and the file stays compact (vacuum.c). */
    for (size_t i = 0; i < n / 2; i++) {
        Pgno tmp = pages[i];
        pages[i] = pages[n - 1 - i];
        pages[n - 1 - i] = tmp;
    }
    fl_busy++;
    rc = n ? pager_pool_add(t, pages, n) : BLAZEDB_OK;
    if (rc == BLAZEDB_OK)
        rc = btree_delete(t, fr, key, FL_KEY, NULL);
    fl_busy--;
    free(pages);
    if (rc == BLAZEDB_OK) {
        meta->free_pages = meta->free_pages >= n ? meta->free_pages - n : 0;
        *took = 1;
    }
    return rc;
}

static int fl_refill(PagerTxn *t, void *arg)
{
    (void)arg;
    if (fl_busy)
        return BLAZEDB_OK;
    for (int i = 0; i < FL_MAX_TAKE; i++) {
        int took;
        int rc = fl_take_first(t, &took);
        if (rc != BLAZEDB_OK || !took || pager_pool_size(t) > 0)
            return rc;
    }
    return BLAZEDB_OK;
}

void freelist_attach(Pager *p)
{
    pager_set_refill(p, fl_refill, NULL);
}

/* Records this transaction already wrote (when freelist_commit runs more than
 * once): the next free seq, and their page numbers, sorted (caller frees). */
static int fl_own_records(PagerTxn *t, uint32_t *seq, Pgno **out, size_t *nout)
{
    uint64_t id = pager_txn_id(t);
    uint8_t key[FL_KEY];
    BtCursor *c;
    Pgno *pages = NULL;
    size_t n = 0, cap = 0;
    *seq = 0;
    *out = NULL;
    *nout = 0;
    if (fl_root(t)->root.pgno == 0)
        return BLAZEDB_OK;
    int rc = btc_open(t, fl_root(t), &c);
    if (rc != BLAZEDB_OK)
        return rc;
    fl_make_key(key, id, 0);
    for (rc = btc_seek(c, key, FL_KEY, NULL); rc == BLAZEDB_OK; rc = btc_next(c)) {
        const void *kp, *vp;
        size_t kl, vl;
        if ((rc = btc_key(c, &kp, &kl)) != BLAZEDB_OK)
            break;
        if (kl != FL_KEY || fl_key_txnid(kp) != id)
            break;
        *seq = fl_key_seq(kp) + 1;
        if ((rc = btc_value(c, &vp, &vl)) != BLAZEDB_OK)
            break;
        if (n + vl / 4 > cap) {
            cap = (n + vl / 4) * 2;
            Pgno *np = realloc(pages, cap * sizeof *pages);
            if (!np) {
                rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
                break;
            }
            pages = np;
        }
        for (size_t i = 0; i < vl / 4; i++)
            pages[n++] = rd32((const uint8_t *)vp + 4 * i);
    }
    btc_close(c);
    if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND) {
        free(pages);
        return rc;
    }
    if (n > 1)
        qsort(pages, n, sizeof *pages, pgno_cmp);
    *out = pages;
    *nout = n;
    return BLAZEDB_OK;
}

/* Writes `pages` as records {txnid, *seq...}. */
static int fl_record(PagerTxn *t, const Pgno *pages, size_t n, uint32_t *seq)
{
    size_t per = btree_inline_max_value(pager_txn_pager(t), FL_KEY) / 4;
    uint8_t *val = malloc(per * 4);
    if (!val)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
    int rc = BLAZEDB_OK;
    for (size_t off = 0; off < n && rc == BLAZEDB_OK; off += per) {
        size_t m = n - off < per ? n - off : per;
        for (size_t i = 0; i < m; i++) {
            Pgno pg = pages[off + i];
            val[4 * i] = (uint8_t)pg;
            val[4 * i + 1] = (uint8_t)(pg >> 8);
            val[4 * i + 2] = (uint8_t)(pg >> 16);
            val[4 * i + 3] = (uint8_t)(pg >> 24);
        }
        uint8_t key[FL_KEY];
        int replaced = 0;
        fl_make_key(key, pager_txn_id(t), (*seq)++);
        rc = btree_put(t, fl_root(t), key, FL_KEY, val, m * 4, &replaced);
        if (rc == BLAZEDB_OK && replaced)
            rc = pager_error(pager_txn_pager(t), BLAZEDB_INTERNAL_ERROR,
                             "free tree: record written twice");
        if (rc == BLAZEDB_OK)
            pager_txn_meta(t)->free_pages += m;
    }
    free(val);
    return rc;
}

int freelist_commit(PagerTxn *t)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!pager_txn_is_write(t))
        return BLAZEDB_OK;
    if (fl_busy)
        return pager_error(pager_txn_pager(t), BLAZEDB_MISUSE,
                           "free tree: freelist_commit called from inside the free tree");
    int rc = BLAZEDB_OK;
    /* Top the pool up so the rewrite below does not extend the file. */
    for (int i = 0; i < FL_MAX_TAKE && pager_pool_size(t) < FL_RESERVE; i++) {
        int took;
        if ((rc = fl_take_first(t, &took)) != BLAZEDB_OK)
            return rc;
        if (!took)
            break;
    }
    uint32_t seq;
    Pgno *own;
    size_t nown;
    if ((rc = fl_own_records(t, &seq, &own, &nown)) != BLAZEDB_OK)
        return rc;
    fl_busy++;
    size_t done = 0;
    for (;;) {
        const Pgno *fr;
        size_t n = pager_freed(t, &fr);
        Pgno *batch = NULL;
        size_t m = 0;
        if (n > done) {
            m = n - done;
            batch = malloc(m * sizeof *batch);
            if (!batch) {
                rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
                break;
            }
            memcpy(batch, fr + done, m * sizeof *batch);
            done = n;
            if (nown) {     /* drop pages an earlier call already recorded */
                size_t k = 0;
                for (size_t i = 0; i < m; i++)
                    if (!bsearch(&batch[i], own, nown, sizeof *own, pgno_cmp))
                        batch[k++] = batch[i];
                m = k;
            }
        } else if (pager_pool_size(t) > 0) {
            m = pager_pool_take(t, &batch);
        } else {
            break;
        }
        if (m > 0) {
            qsort(batch, m, sizeof *batch, pgno_cmp);
            rc = fl_record(t, batch, m, &seq);
        }
        free(batch);
        if (rc != BLAZEDB_OK)
            break;
    }
    fl_busy--;
    free(own);
    return rc;
}

int freelist_check(PagerTxn *t, void (*visit)(Pgno pgno, void *arg),
                   void (*visit_tree_page)(Pgno pgno, void *arg), void *arg)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    PagerMeta *meta = pager_txn_meta(t);
    PagerRoot *fr = fl_root(t);
    int rc = btree_check(t, fr, visit_tree_page, arg);
    if (rc != BLAZEDB_OK || fr->root.pgno == 0) {
        if (rc == BLAZEDB_OK && meta->free_pages != 0)
            return fl_corrupt(t, "free page count is not zero in an empty free tree");
        return rc;
    }
    BtCursor *c;
    if ((rc = btc_open(t, fr, &c)) != BLAZEDB_OK)
        return rc;
    uint64_t total = 0;
    for (rc = btc_first(c); rc == BLAZEDB_OK; rc = btc_next(c)) {
        const void *kp, *vp;
        size_t kl, vl;
        if ((rc = btc_key(c, &kp, &kl)) != BLAZEDB_OK ||
            (rc = btc_value(c, &vp, &vl)) != BLAZEDB_OK)
            break;
        if (kl != FL_KEY || vl % 4 != 0 || vl == 0) {
            rc = fl_corrupt(t, "malformed record");
            break;
        }
        for (size_t i = 0; i < vl / 4; i++) {
            Pgno pg = rd32((const uint8_t *)vp + 4 * i);
            if (pg < PAGER_FIRST_DATA_PGNO || pg >= meta->npages) {
                btc_close(c);
                return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                                   "free tree: page number %u out of range", (unsigned)pg);
            }
            if (visit)
                visit(pg, arg);
        }
        total += vl / 4;
    }
    btc_close(c);
    if (rc != BLAZEDB_NOT_FOUND)
        return rc;
    if (total != meta->free_pages)
        return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                           "free tree: holds %llu pages but the meta says %llu",
                           (unsigned long long)total, (unsigned long long)meta->free_pages);
    return BLAZEDB_OK;
}

/* ---- vacuum (src/tools/vacuum.c) -----------------------------------------------
 *
 * Moving pages down needs free page numbers below the cut: take_low pulls
 * exactly those out of reusable records (the rest of each record stays,
 * under its transaction id) into the pool, before the records are
 * rewritten, so that rewriting them is served from those pages.  shrink
 * lowers the high-water mark over the free, reusable pages at the end of
 * the file: no snapshot can reach them, so the commit that drops them from
 * the free tree can also drop them from the file (the checkpoint then
 * truncates it; pager.h).  Setting npages first means that an allocation
 * that finds the pool empty extends the file from the new end, reusing one
 * of the dropped (reusable) numbers.
 */

typedef struct {
    uint8_t key[FL_KEY];
    Pgno *pages;            /* sorted as stored */
    size_t n;
} FlRec;

static void fl_recs_free(FlRec *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].pages);
    free(r);
}

/* Loads every record of the free tree (oldest first). */
static int fl_load(PagerTxn *t, FlRec **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (fl_root(t)->root.pgno == 0)
        return BLAZEDB_OK;
    Pgno npages = pager_txn_meta(t)->npages;
    BtCursor *c;
    int rc = btc_open(t, fl_root(t), &c);
    if (rc != BLAZEDB_OK)
        return rc;
    FlRec *recs = NULL;
    size_t n = 0, cap = 0;
    for (rc = btc_first(c); rc == BLAZEDB_OK; rc = btc_next(c)) {
        const void *kp, *vp;
        size_t kl, vl;
        if ((rc = btc_key(c, &kp, &kl)) != BLAZEDB_OK ||
            (rc = btc_value(c, &vp, &vl)) != BLAZEDB_OK)
            break;
        if (kl != FL_KEY || vl % 4 != 0) {
            rc = fl_corrupt(t, "malformed record");
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            FlRec *nr = realloc(recs, nc * sizeof *nr);
            if (!nr) {
                rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
                break;
            }
            recs = nr;
            cap = nc;
        }
        FlRec *r = &recs[n];
        memcpy(r->key, kp, FL_KEY);
        r->n = vl / 4;
        r->pages = malloc(r->n ? r->n * sizeof *r->pages : 1);
        if (!r->pages) {
            rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
            break;
        }
        n++;
        for (size_t i = 0; i < r->n; i++) {
            r->pages[i] = rd32((const uint8_t *)vp + 4 * i);
            if (r->pages[i] < PAGER_FIRST_DATA_PGNO || r->pages[i] >= npages)
                rc = fl_corrupt(t, "page number out of range");
        }
        if (rc != BLAZEDB_OK)
            break;
    }
    btc_close(c);
    if (rc != BLAZEDB_NOT_FOUND) {
        fl_recs_free(recs, n);
        return rc;
    }
    *out = recs;
    *nout = n;
    return BLAZEDB_OK;
}

/* Writes record r back holding only its pages for which keep[i] is set
 * (deleted when none is). */
static int fl_rewrite(PagerTxn *t, const FlRec *r, const uint8_t *keep)
{
    size_t m = 0;
    uint8_t *val = malloc(r->n ? r->n * 4 : 1);
    if (!val)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
    for (size_t i = 0; i < r->n; i++) {
        if (!keep[i])
            continue;
        Pgno pg = r->pages[i];
        val[4 * m] = (uint8_t)pg;
        val[4 * m + 1] = (uint8_t)(pg >> 8);
        val[4 * m + 2] = (uint8_t)(pg >> 16);
        val[4 * m + 3] = (uint8_t)(pg >> 24);
        m++;
    }
    int rc = m ? btree_put(t, fl_root(t), r->key, FL_KEY, val, m * 4, NULL)
               : btree_delete(t, fl_root(t), r->key, FL_KEY, NULL);
    free(val);
    return rc;
}

int freelist_take_low(PagerTxn *t, Pgno cut, size_t want, size_t *got)
{
    *got = 0;
    if (!t || !pager_txn_is_write(t))
        return BLAZEDB_INVALID_ARGUMENT;
    FlRec *recs;
    size_t n;
    int rc = fl_load(t, &recs, &n);
    if (rc != BLAZEDB_OK)
        return rc;
    uint64_t oldest = pager_oldest_reader(t);
    uint8_t **keep = calloc(n ? n : 1, sizeof *keep);
    Pgno *take = malloc((want ? want : 1) * sizeof *take);
    size_t taken = 0, last = 0;
    if (!keep || !take)
        rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
    for (size_t i = 0; rc == BLAZEDB_OK && i < n && taken < want; i++) {
        if (fl_key_txnid(recs[i].key) > oldest)
            break;      /* records are in txnid order: none after is reusable */
        keep[i] = malloc(recs[i].n ? recs[i].n : 1);
        if (!keep[i]) {
            rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
            break;
        }
        size_t before = taken;
        for (size_t j = 0; j < recs[i].n; j++) {
            keep[i][j] = !(recs[i].pages[j] < cut && taken < want);
            if (!keep[i][j])
                take[taken++] = recs[i].pages[j];
        }
        if (taken > before)
            last = i + 1;
        else {
            free(keep[i]);
            keep[i] = NULL;
        }
    }
    if (rc == BLAZEDB_OK && taken) {
        fl_busy++;
        /* pool first: rewriting the records is served from these pages */
        rc = pager_pool_add(t, take, taken);
        for (size_t i = 0; rc == BLAZEDB_OK && i < last; i++)
            if (keep[i])
                rc = fl_rewrite(t, &recs[i], keep[i]);
        fl_busy--;
        if (rc == BLAZEDB_OK) {
            PagerMeta *meta = pager_txn_meta(t);
            meta->free_pages = meta->free_pages >= taken ? meta->free_pages - taken : 0;
            *got = taken;
        }
    }
    for (size_t i = 0; keep && i < n; i++)
        free(keep[i]);
    free(keep);
    free(take);
    fl_recs_free(recs, n);
    return rc;
}

int freelist_relocate(PagerTxn *t, BtRelocate *r)
{
    fl_busy++;  /* no refill while the free tree itself is being walked */
    int rc = btree_relocate(t, fl_root(t), r);
    fl_busy--;
    return rc;
}

/* Splits the records' pages by whether a snapshot may still reach them:
 * *reuse (malloc'd, sorted; *nr of them) gets those no snapshot can reach,
 * *held counts the others and *maxheld is the highest of them (0: none). */
static int fl_split(PagerTxn *t, const FlRec *recs, size_t n, Pgno **reuse, size_t *nr,
                    uint64_t *held, Pgno *maxheld)
{
    uint64_t oldest = pager_oldest_reader(t);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += recs[i].n;
    *reuse = malloc((total ? total : 1) * sizeof **reuse);
    if (!*reuse)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
    *nr = 0;
    *held = 0;
    *maxheld = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = fl_key_txnid(recs[i].key) <= oldest;
        for (size_t j = 0; j < recs[i].n; j++) {
            if (ok) {
                (*reuse)[(*nr)++] = recs[i].pages[j];
            } else {
                (*held)++;
                if (recs[i].pages[j] > *maxheld)
                    *maxheld = recs[i].pages[j];
            }
        }
    }
    qsort(*reuse, *nr, sizeof **reuse, pgno_cmp);
    return BLAZEDB_OK;
}

int freelist_shrink(PagerTxn *t, Pgno *new_npages, int *blocked)
{
    *blocked = 0;
    if (!t || !pager_txn_is_write(t))
        return BLAZEDB_INVALID_ARGUMENT;
    PagerMeta *meta = pager_txn_meta(t);
    *new_npages = meta->npages;
    FlRec *recs;
    size_t n;
    int rc = fl_load(t, &recs, &n);
    if (rc != BLAZEDB_OK)
        return rc;
    Pgno *reuse = NULL, maxblocked = 0;
    size_t nr = 0;
    uint64_t nheld = 0;
    uint8_t *drop = calloc(n ? n : 1, 1);
    if (!drop)
        rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "free tree: out of memory");
    else
        rc = fl_split(t, recs, n, &reuse, &nr, &nheld, &maxblocked);
    if (rc != BLAZEDB_OK) {
        free(drop);
        fl_recs_free(recs, n);
        return rc;
    }
    Pgno N = meta->npages;
    for (size_t k = nr; k > 0 && reuse[k - 1] == N - 1 && N > PAGER_FIRST_DATA_PGNO; k--)
        N--;
    *blocked = maxblocked != 0 && maxblocked == N - 1;
    if (N < meta->npages) {
        uint64_t dropped = meta->npages - N;
        meta->npages = N;
        /* Records holding dropped pages are deleted; their pages below N
         * go to the pool first (they serve the rewrite).  Only reusable
         * records can hold pages >= N. */
        size_t pooled = 0;
        for (size_t i = 0; i < n; i++) {
            FlRec *r = &recs[i];
            size_t w = 0;
            for (size_t j = 0; j < r->n; j++) {
                if (r->pages[j] >= N)
                    drop[i] = 1;
                else
                    r->pages[w++] = r->pages[j];
            }
            if (drop[i]) {
                r->n = w;
                pooled += w;
            }
        }
        fl_busy++;
        for (size_t i = 0; rc == BLAZEDB_OK && i < n; i++)
            if (drop[i] && recs[i].n)
                rc = pager_pool_add(t, recs[i].pages, recs[i].n);
        for (size_t i = 0; rc == BLAZEDB_OK && i < n; i++)
            if (drop[i])
                rc = btree_delete(t, fl_root(t), recs[i].key, FL_KEY, NULL);
        fl_busy--;
        if (rc == BLAZEDB_OK) {
            uint64_t gone = dropped + pooled;
            meta->free_pages = meta->free_pages >= gone ? meta->free_pages - gone : 0;
            *new_npages = meta->npages; /* N, or a little more if the
                                           rewrite extended the file */
        }
    }
    free(reuse);
    free(drop);
    fl_recs_free(recs, n);
    return rc;
}

int freelist_reusable(PagerTxn *t, Pgno **out, size_t *n, uint64_t *held)
{
    *out = NULL;
    *n = 0;
    *held = 0;
    FlRec *recs;
    size_t nr;
    int rc = fl_load(t, &recs, &nr);
    if (rc != BLAZEDB_OK)
        return rc;
    Pgno maxheld;
    rc = fl_split(t, recs, nr, out, n, held, &maxheld);
    fl_recs_free(recs, nr);
    return rc;
}
