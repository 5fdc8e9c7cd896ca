/*
 * mock_pager.c — an in-memory stand-in for src/pager/pager.c, for testing
 * the B+tree and free-page layers (src/btree/) without files, crypto or WAL.
 *
 * Implements the page/transaction/free-page-hook part of pager.h with the
 * same copy-on-write contract, and checks it strictly:
 *   - committed pages are stored per page number with the ctr (txn id) of the
 *     version; pager_get fails with BLAZEDB_CORRUPT when ref.ctr differs
 *     (a parent that was not updated, or a snapshot whose page was reused);
 *   - reading a page the transaction freed, or a pool page, is CORRUPT;
 *     freeing twice or freeing a stale ref is INTERNAL_ERROR;
 *   - pins are counted (mock_pager_pins) so tests can assert none leak.
 * Only the latest committed version of a page number is kept: a reused page
 * number simply overwrites it, which an old snapshot then notices.
 *
 * Test-only extras (declared by the tests themselves): mock_pager_open/close,
 * mock_pager_pins, mock_txn_pins, mock_pager_set_oldest_reader, mock_pager_npages,
 * mock_pager_fail_after, mock_pager_poke, mock_pager_page.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../../src/pager/pager.h"

enum { ST_NORMAL = 0, ST_FREED, ST_POOL, ST_DIRTY, ST_TAKEN };

typedef struct {
    Page pg;            /* first: Page* <-> MockPage* */
    int pins;
    int dirty;          /* owned by the txn's dirty map */
    int orphan;         /* freed or txn ended while pinned */
} MockPage;

struct Pager {
    size_t page_size, payload;
    Pgno cap;
    uint8_t **data;     /* committed versions */
    uint64_t *ctr;
    PagerMeta meta;     /* last commit */
    char err[512];
    PagerRefillFn refill;
    void *refill_arg;
    uint64_t oldest_override;
    long pins;
    uint64_t *readers;
    size_t nreaders, creaders;
    int writer;
    long fail_after;    /* < 0: off */
};

struct PagerTxn {
    Pager *p;
    int write;
    uint64_t id;
    PagerMeta meta;
    uint64_t seq;
    Pgno cap;
    MockPage **dirty;
    uint8_t *state;
    Pgno *pool;
    size_t npool, cpool;
    Pgno *freed;
    size_t nfreed, cfreed;
    int in_refill;
    long pins;          /* pins taken through this txn and not yet released */
};

static void mock_bug(const char *msg)
{
    fprintf(stderr, "mock_pager: %s\n", msg);
    abort();
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        mock_bug("out of memory");
    return q;
}

static void push(Pgno **arr, size_t *n, size_t *cap, Pgno v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = xrealloc(*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = v;
}

/* ---- test helpers ------------------------------------------------------ */

int mock_pager_open(uint32_t page_size, Pager **out)
{
    if (page_size < 4096 || page_size > 65536 || (page_size & (page_size - 1)))
        return BLAZEDB_INVALID_ARGUMENT;
    Pager *p = calloc(1, sizeof *p);
    if (!p)
        return BLAZEDB_NOMEM;
    p->page_size = page_size;
    p->payload = page_size - PAGER_TRAILER;
    p->meta.npages = PAGER_FIRST_DATA_PGNO;
    p->fail_after = -1;
    *out = p;
    return BLAZEDB_OK;
}

void mock_pager_close(Pager *p)
{
    if (!p)
        return;
    for (Pgno i = 0; i < p->cap; i++)
        free(p->data[i]);
    free(p->data);
    free(p->ctr);
    free(p->readers);
    free(p);
}

long mock_pager_pins(const Pager *p) { return p->pins; }
long mock_txn_pins(const PagerTxn *t) { return t->pins; }
void mock_pager_set_oldest_reader(Pager *p, uint64_t id) { p->oldest_override = id; }
Pgno mock_pager_npages(const Pager *p) { return p->meta.npages; }
/* After n more successful get/alloc/dirty/free calls, every such call fails
 * with BLAZEDB_IO_ERROR; n < 0 switches the fault off. */
void mock_pager_fail_after(Pager *p, long n) { p->fail_after = n; }

/* XORs a byte of the committed version of pgno (simulates a tampered page
 * whose authentication still passes, i.e. a forged ref inside it). */
int mock_pager_poke(Pager *p, Pgno pgno, size_t off, uint8_t x)
{
    if (pgno >= p->cap || !p->data[pgno] || off >= p->payload)
        return BLAZEDB_INVALID_ARGUMENT;
    p->data[pgno][off] ^= x;
    return BLAZEDB_OK;
}

/* The committed bytes of pgno (NULL if none). */
const uint8_t *mock_pager_page(const Pager *p, Pgno pgno)
{
    return pgno < p->cap ? p->data[pgno] : NULL;
}

static int fault(Pager *p, const char *what)
{
    if (p->fail_after < 0)
        return BLAZEDB_OK;
    if (p->fail_after == 0)
        return pager_error(p, BLAZEDB_IO_ERROR, "mock: injected failure in %s", what);
    p->fail_after--;
    return BLAZEDB_OK;
}

/* ---- pager.h ----------------------------------------------------------- */

const char *pager_errmsg(Pager *p) { return p->err; }

int pager_error(Pager *p, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return rc;
}

size_t pager_page_size(const Pager *p) { return p->page_size; }
size_t pager_payload_size(const Pager *p) { return p->payload; }
int pager_is_readonly(const Pager *p) { (void)p; return 0; }

int pager_begin(Pager *p, int write, PagerTxn **out)
{
    *out = NULL;
    if (write && p->writer)
        return pager_error(p, BLAZEDB_BUSY, "mock: a write transaction is active");
    PagerTxn *t = calloc(1, sizeof *t);
    if (!t)
        return BLAZEDB_NOMEM;
    t->p = p;
    t->write = write;
    t->meta = p->meta;
    if (write) {
        p->writer = 1;
        t->id = p->meta.txnid + 1;
        t->cap = p->meta.npages + 64;
        t->dirty = calloc(t->cap, sizeof *t->dirty);
        t->state = calloc(t->cap, 1);
        if (!t->dirty || !t->state)
            mock_bug("out of memory");
    } else {
        t->id = p->meta.txnid;
        if (p->nreaders == p->creaders) {
            p->creaders = p->creaders ? 2 * p->creaders : 8;
            p->readers = xrealloc(p->readers, p->creaders * sizeof *p->readers);
        }
        p->readers[p->nreaders++] = t->id;
    }
    *out = t;
    return BLAZEDB_OK;
}

static void page_release(Pager *p, MockPage *mp)
{
    (void)p;
    free(mp->pg.data);
    free(mp->pg.hint); /* the b-tree's search hint of a committed copy */
    free(mp);
}

static void txn_free(PagerTxn *t)
{
    Pager *p = t->p;
    if (t->write) {
        for (Pgno i = 0; i < t->cap; i++) {
            MockPage *mp = t->dirty[i];
            if (!mp)
                continue;
            if (mp->pins > 0)
                mp->orphan = 1;
            else
                page_release(p, mp);
        }
        p->writer = 0;
    } else {
        for (size_t i = 0; i < p->nreaders; i++) {
            if (p->readers[i] == t->id) {
                p->readers[i] = p->readers[--p->nreaders];
                break;
            }
        }
    }
    free(t->dirty);
    free(t->state);
    free(t->pool);
    free(t->freed);
    free(t);
}

static void store_grow(Pager *p, Pgno need)
{
    if (need <= p->cap)
        return;
    Pgno nc = p->cap ? p->cap : 64;
    while (nc < need)
        nc *= 2;
    p->data = xrealloc(p->data, nc * sizeof *p->data);
    p->ctr = xrealloc(p->ctr, nc * sizeof *p->ctr);
    memset(p->data + p->cap, 0, (nc - p->cap) * sizeof *p->data);
    memset(p->ctr + p->cap, 0, (nc - p->cap) * sizeof *p->ctr);
    p->cap = nc;
}

int pager_commit(PagerTxn *t)
{
    Pager *p = t->p;
    if (t->write) {
        store_grow(p, t->meta.npages);
        for (Pgno i = 0; i < t->cap && i < t->meta.npages; i++) {
            MockPage *mp = t->dirty[i];
            if (!mp)
                continue;
            if (!p->data[i])
                p->data[i] = xrealloc(NULL, p->payload);
            memcpy(p->data[i], mp->pg.data, p->payload);
            p->ctr[i] = t->id;
        }
        p->meta = t->meta;
        p->meta.txnid = t->id;
    }
    txn_free(t);
    return BLAZEDB_OK;
}

void pager_abort(PagerTxn *t)
{
    if (t)
        txn_free(t);
}

int pager_txn_is_write(const PagerTxn *t) { return t->write; }
Pager *pager_txn_pager(PagerTxn *t) { return t->p; }
uint64_t pager_txn_id(const PagerTxn *t) { return t->id; }
PagerMeta *pager_txn_meta(PagerTxn *t) { return &t->meta; }
uint64_t pager_txn_change_seq(const PagerTxn *t) { return t->seq; }

static void txn_grow(PagerTxn *t, Pgno need)
{
    if (need <= t->cap)
        return;
    Pgno nc = t->cap;
    while (nc < need)
        nc *= 2;
    t->dirty = xrealloc(t->dirty, nc * sizeof *t->dirty);
    t->state = xrealloc(t->state, nc);
    memset(t->dirty + t->cap, 0, (nc - t->cap) * sizeof *t->dirty);
    memset(t->state + t->cap, 0, nc - t->cap);
    t->cap = nc;
}

int pager_get(PagerTxn *t, PageRef ref, Page **out)
{
    Pager *p = t->p;
    *out = NULL;
    int rc = fault(p, "pager_get");
    if (rc != BLAZEDB_OK)
        return rc;
    Pgno pg = ref.pgno;
    if (pg < PAGER_FIRST_DATA_PGNO || pg >= t->meta.npages)
        return pager_error(p, BLAZEDB_CORRUPT, "mock: page %u out of range", (unsigned)pg);
    if (t->write) {
        int st = t->state[pg];
        if (st == ST_DIRTY) {
            MockPage *mp = t->dirty[pg];
            if (mp->pg.ctr != ref.ctr)
                return pager_error(p, BLAZEDB_CORRUPT,
                                   "mock: page %u fails authentication (ctr %llu, have %llu)",
                                   (unsigned)pg, (unsigned long long)ref.ctr,
                                   (unsigned long long)mp->pg.ctr);
            mp->pins++;
            p->pins++;
            t->pins++;
            *out = &mp->pg;
            return BLAZEDB_OK;
        }
        if (st != ST_NORMAL)
            return pager_error(p, BLAZEDB_CORRUPT, "mock: page %u read after being freed",
                               (unsigned)pg);
    }
    if (pg >= p->cap || !p->data[pg] || p->ctr[pg] != ref.ctr)
        return pager_error(p, BLAZEDB_CORRUPT,
                           "mock: page %u fails authentication (ctr %llu, have %llu)",
                           (unsigned)pg, (unsigned long long)ref.ctr,
                           (unsigned long long)(pg < p->cap ? p->ctr[pg] : 0));
    MockPage *mp = calloc(1, sizeof *mp);
    if (!mp)
        mock_bug("out of memory");
    mp->pg.pgno = pg;
    mp->pg.ctr = ref.ctr;
    mp->pg.data = xrealloc(NULL, p->payload);
    memcpy(mp->pg.data, p->data[pg], p->payload);
    mp->pins = 1;
    p->pins++;
    t->pins++;
    *out = &mp->pg;
    return BLAZEDB_OK;
}

void pager_unpin(PagerTxn *t, Page *pg)
{
    if (!pg)
        return;
    MockPage *mp = (MockPage *)pg;
    if (mp->pins <= 0)
        mock_bug("unpin of a page that is not pinned");
    mp->pins--;
    t->p->pins--;
    t->pins--;
    if (mp->pins == 0 && (!mp->dirty || mp->orphan))
        page_release(t->p, mp);
}

int pager_is_dirty(const PagerTxn *t, const Page *pg)
{
    const MockPage *mp = (const MockPage *)pg;
    return t->write && mp->dirty && !mp->orphan;
}

/* Mock pages keep no room: their hints are always malloc'd (freed with
 * the page). */
uint8_t *pager_hint_room(const PagerTxn *t, Page *pg, size_t *size)
{
    static uint8_t none;
    *size = 0;
    return pg && !pager_is_dirty(t, pg) ? &none : NULL;
}

static int alloc_pgno(PagerTxn *t, Pgno *out)
{
    Pager *p = t->p;
    if (t->npool == 0 && p->refill && !t->in_refill) {
        t->in_refill = 1;
        int rc = p->refill(t, p->refill_arg);
        t->in_refill = 0;
        if (rc != BLAZEDB_OK)
            return rc;
    }
    if (t->npool > 0) {
        *out = t->pool[--t->npool];
        return BLAZEDB_OK;
    }
    if (t->meta.npages >= PAGER_MAX_PGNO)
        return pager_error(p, BLAZEDB_FULL, "mock: database full");
    *out = t->meta.npages++;
    txn_grow(t, t->meta.npages);
    return BLAZEDB_OK;
}

static MockPage *new_dirty(PagerTxn *t, Pgno pgno)
{
    MockPage *mp = calloc(1, sizeof *mp);
    if (!mp)
        mock_bug("out of memory");
    mp->pg.pgno = pgno;
    mp->pg.ctr = t->id;
    mp->pg.data = calloc(1, t->p->payload);
    if (!mp->pg.data)
        mock_bug("out of memory");
    mp->pins = 1;
    mp->dirty = 1;
    t->p->pins++;
    t->pins++;
    t->dirty[pgno] = mp;
    t->state[pgno] = ST_DIRTY;
    t->seq++;
    return mp;
}

int pager_alloc(PagerTxn *t, Page **out)
{
    *out = NULL;
    if (!t->write)
        return pager_error(t->p, BLAZEDB_READONLY, "mock: alloc in a read transaction");
    int rc = fault(t->p, "pager_alloc");
    if (rc != BLAZEDB_OK)
        return rc;
    Pgno pg;
    if ((rc = alloc_pgno(t, &pg)) != BLAZEDB_OK)
        return rc;
    *out = &new_dirty(t, pg)->pg;
    return BLAZEDB_OK;
}

int pager_dirty(PagerTxn *t, Page *pg, Page **out)
{
    MockPage *old = (MockPage *)pg;
    if (!t->write)
        return pager_error(t->p, BLAZEDB_READONLY, "mock: dirty in a read transaction");
    if (old->dirty) {
        if (old->orphan)
            mock_bug("pager_dirty on a freed page");
        t->seq++;           /* every call counts: the caller is about to write */
        *out = pg;
        return BLAZEDB_OK;
    }
    int rc = fault(t->p, "pager_dirty");
    if (rc != BLAZEDB_OK)
        return rc;
    Pgno np;
    if ((rc = alloc_pgno(t, &np)) != BLAZEDB_OK)
        return rc;
    if (t->state[pg->pgno] != ST_NORMAL)
        mock_bug("pager_dirty of a page already freed");
    MockPage *mp = new_dirty(t, np);
    memcpy(mp->pg.data, pg->data, t->p->payload);
    t->state[pg->pgno] = ST_FREED;
    push(&t->freed, &t->nfreed, &t->cfreed, pg->pgno);
    pager_unpin(t, pg);
    *out = &mp->pg;
    return BLAZEDB_OK;
}

int pager_free(PagerTxn *t, PageRef ref)
{
    Pager *p = t->p;
    if (!t->write)
        return pager_error(p, BLAZEDB_READONLY, "mock: free in a read transaction");
    int rc = fault(p, "pager_free");
    if (rc != BLAZEDB_OK)
        return rc;
    Pgno pg = ref.pgno;
    if (pg < PAGER_FIRST_DATA_PGNO || pg >= t->meta.npages)
        return pager_error(p, BLAZEDB_INTERNAL_ERROR, "mock: free of page %u out of range",
                           (unsigned)pg);
    switch (t->state[pg]) {
    case ST_DIRTY: {
        MockPage *mp = t->dirty[pg];
        if (mp->pg.ctr != ref.ctr)
            return pager_error(p, BLAZEDB_INTERNAL_ERROR, "mock: free of a stale ref to %u",
                               (unsigned)pg);
        t->dirty[pg] = NULL;
        if (mp->pins > 0)
            mp->orphan = 1;
        else
            page_release(p, mp);
        t->state[pg] = ST_POOL;
        push(&t->pool, &t->npool, &t->cpool, pg);
        break;
    }
    case ST_NORMAL:
        if (pg >= p->cap || !p->data[pg] || p->ctr[pg] != ref.ctr)
            return pager_error(p, BLAZEDB_INTERNAL_ERROR, "mock: free of a stale ref to %u",
                               (unsigned)pg);
        t->state[pg] = ST_FREED;
        push(&t->freed, &t->nfreed, &t->cfreed, pg);
        break;
    default:
        return pager_error(p, BLAZEDB_INTERNAL_ERROR, "mock: double free of page %u",
                           (unsigned)pg);
    }
    t->seq++;
    return BLAZEDB_OK;
}

size_t pager_freed(PagerTxn *t, const Pgno **out)
{
    *out = t->freed;
    return t->nfreed;
}

int pager_pool_add(PagerTxn *t, const Pgno *pgnos, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Pgno pg = pgnos[i];
        if (pg < PAGER_FIRST_DATA_PGNO || pg >= t->meta.npages ||
            (t->state[pg] != ST_NORMAL && t->state[pg] != ST_TAKEN))
            return pager_error(t->p, BLAZEDB_INTERNAL_ERROR,
                               "mock: pool_add of page %u in state %d", (unsigned)pg,
                               pg < t->meta.npages ? t->state[pg] : -1);
        t->state[pg] = ST_POOL;
        push(&t->pool, &t->npool, &t->cpool, pg);
    }
    return BLAZEDB_OK;
}

size_t pager_pool_take(PagerTxn *t, Pgno **out)
{
    size_t n = t->npool;
    *out = NULL;
    if (n == 0)
        return 0;
    *out = xrealloc(NULL, n * sizeof **out);
    memcpy(*out, t->pool, n * sizeof **out);
    for (size_t i = 0; i < n; i++)
        t->state[t->pool[i]] = ST_TAKEN;
    t->npool = 0;
    return n;
}

size_t pager_pool_size(const PagerTxn *t) { return t->npool; }

void pager_set_refill(Pager *p, PagerRefillFn fn, void *arg)
{
    p->refill = fn;
    p->refill_arg = arg;
}

/* The mock has one key: nothing is ever sealed under an older one. */
int pager_page_stale(const PagerTxn *t, const Page *pg)
{
    (void)t;
    (void)pg;
    return 0;
}

uint64_t pager_oldest_reader(PagerTxn *t)
{
    Pager *p = t->p;
    if (p->oldest_override)
        return p->oldest_override;
    uint64_t m = p->meta.txnid;
    for (size_t i = 0; i < p->nreaders; i++)
        if (p->readers[i] < m)
            m = p->readers[i];
    return m;
}
