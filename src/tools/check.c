/*
 * check.c — the integrity check (blazedb_check) and the salvage of a
 * damaged database into a new one (blazedb_repair).  Owns: the report of
 * both, a fault-tolerant B+tree walker over any page source, and the
 * recovery rules.  Not: the page format (btree.c owns it; the walker reads
 * the layout documented at the top of btree.c), the document or index
 * formats (docbin.c, index.c, keyenc.c).
 *
 * WHY A WALKER OF ITS OWN.  btree_check (used by db_check) stops at the
 * first problem and reads through the page cache.  A check must report
 * every problem it can (up to CHK_MAX_LISTED, then a count), go on past a
 * damaged page (skipping only what hangs below it), and read the whole
 * database without evicting the handle's working set; repair must walk
 * trees whose pages come from a file that the pager refuses to open.  So
 * the walker takes a page source (a function that reads and authenticates
 * one page and returns its version) and reports damage through hooks,
 * with the key range of the subtree that was lost.
 *
 * CHECK.  Runs in a pager read transaction (a snapshot; writers go on).
 * Every tree reachable from the meta is walked depth first: the free-page
 * tree, the byte-KV tree, the catalog, every collection's document tree,
 * every index tree, the change log and any other meta slot.  Each page is
 * read with pager_snapshot_read (no cache), authenticated against the
 * version its parent names, and checked: page layout, cell area, key order
 * within the page and against the parent's separators, equal leaf depth,
 * overflow chains (full pages, exact length), entry counts against the
 * root.  Each page number is attributed to the tree that reached it (the
 * free tree's records attribute free pages), so a page reached twice
 * (overlap) and a page reached by nothing (leak) are both named, as
 * db_check's invariant requires: every page below the high-water mark is
 * used exactly once.
 * Full mode adds, per document: docbin_validate, its "id" equals its key,
 * isDeleted against the catalog's soft-deleted list and counts, stored
 * bytes; per index: the multiset of entries the documents give (computed
 * as index.c does) against the entries in the tree.  Both sides are
 * reduced to order-independent 128-bit sums of entry hashes while the
 * trees are walked once, in order; only when the sums or counts differ is
 * the slow diagnosis run (cursor lookups) that names each stale entry and
 * each document missing from the index.  The change log's records are
 * decoded.  Quick mode does everything structural (every page is still
 * read and authenticated, counts and page accounting included) but decodes
 * no document, change record or index entry.
 *
 * REPAIR.  Reads the source file directly (never through the pager, which
 * refuses a damaged database; nothing is written to it): page 0 gives the
 * key; the log's committed frames (wal_recover) and the main file give
 * candidate images; each page is opened with the number and version its
 * own trailer claims (codec_open binds both).  The newest meta that
 * authenticates (meta pages or the log) is walked like the check does,
 * tolerating damage: each damaged reference records the tree and key range
 * lost with it.  Pages that authenticate but were reached by no tree and
 * are not listed free ("orphans": what hung below a damaged branch) are
 * read as leaves: a leaf whose keys fall inside the lost range of exactly
 * one tree is given back to it (documents of a collection, or byte-KV
 * entries); other document leaves go to a collection `lost_and_found`.
 * When a document id is found more than once, the copy on the page with
 * the newest version wins.  The output is a new database created under a
 * temporary name next to out_path and linked to it when complete:
 * collections with their options, documents byte for byte, soft-deleted
 * lists, byte-KV entries, and the indexes re-created from their
 * definitions (built from the documents).  The report lists the pages that
 * failed authentication (with the tree and key range when a reference
 * named them) and the ids known to be lost (from index entries and older
 * versions of the damaged pages).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blazedb.h"
#include "../btree/btree.h"
#include "../btree/btree_page.h"
#include "../catalog/catalog.h"
#include "../crypto/crypto.h"
#include "../db/db.h"
#include "../db/sqlexec.h"
#include "../doc/docbin.h"
#include "../doc/textbuf.h"
#include "../index/index.h"
#include "../index/keyenc.h"
#include "../pager/codec.h"
#include "../pager/header.h"
#include "../pager/pager.h"
#include "../pager/wal.h"
#include "../query/sql.h"

#define CHK_MAX_LISTED 1000u

/* ---- page layout: btree_page.h; the free tree's keys (freelist.c) ------------------ */

#define W_MAXD 40          /* deepest tree walked */
#define FL_KEY 12          /* free tree: u64 BE txnid + u32 BE seq */


/* ---- text buffers ---------------------------------------------------------------- */

/* A name or id as printable ASCII: other bytes as \xHH, at most 200 bytes
 * of input (then "..."). */
static void buf_safe(TextBuf *b, const void *s, size_t n)
{
    const uint8_t *p = s;
    size_t lim = n > 200 ? 200 : n;
    for (size_t i = 0; i < lim; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            tb_put(b, (const char *)p + i, 1);
        else
            tb_printf(b, "\\x%02x", p[i]);
    }
    if (lim < n)
        tb_put(b, "...", 3);
}

static char *safe_dup(const void *s, size_t n)
{
    TextBuf b = {0};
    buf_safe(&b, s, n);
    if (!b.p && !b.oom)
        tb_put(&b, "", 0);
    return b.oom ? (free(b.p), NULL) : b.p;
}


/* ---- problems -------------------------------------------------------------------- */

typedef struct {
    Pgno page;     /* 0: not about one page */
    char *where;   /* tree, collection or index (printable) */
    char *id;      /* document id or key (printable), or NULL */
    char *msg;
} Prob;

typedef struct {
    Prob *v;
    size_t n, cap;
    uint64_t total;
} Probs;

static void probs_free(Probs *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].where);
        free(ps->v[i].id);
        free(ps->v[i].msg);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

static void prob_add(Probs *ps, Pgno page, const char *where, const void *id, size_t idlen,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void prob_add(Probs *ps, Pgno page, const char *where, const void *id, size_t idlen,
                     const char *fmt, ...)
{
    ps->total++;
    if (ps->n >= CHK_MAX_LISTED)
        return;
    if (ps->n == ps->cap) {
        size_t nc = ps->cap ? ps->cap * 2 : 16;
        Prob *nv = realloc(ps->v, nc * sizeof *nv);
        if (!nv)
            return;
        ps->v = nv;
        ps->cap = nc;
    }
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Prob *p = &ps->v[ps->n];
    p->page = page;
    p->where = strdup(where ? where : "");
    p->id = id ? safe_dup(id, idlen) : NULL;
    p->msg = strdup(msg);
    if (!p->where || !p->msg) {
        free(p->where);
        free(p->id);
        free(p->msg);
        return;
    }
    ps->n++;
}

static void probs_text(TextBuf *b, const Probs *ps, const char *label)
{
    for (size_t i = 0; i < ps->n; i++) {
        const Prob *p = &ps->v[i];
        tb_printf(b, "%s: ", label);
        if (p->page)
            tb_printf(b, "page %u: ", (unsigned)p->page);
        tb_put(b, p->where, strlen(p->where));
        if (p->id)
            tb_printf(b, ": id '%s'", p->id);
        tb_printf(b, ": %s\n", p->msg);
    }
    if (ps->total > ps->n)
        tb_printf(b, "... and %llu more\n", (unsigned long long)(ps->total - ps->n));
}

static void probs_json(TextBuf *b, const Probs *ps)
{
    tb_put(b, "[", 1);
    for (size_t i = 0; i < ps->n; i++) {
        const Prob *p = &ps->v[i];
        tb_put(b, i ? ",{" : "{", i ? 2 : 1);
        if (p->page)
            tb_printf(b, "\"page\":%u,", (unsigned)p->page);
        tb_put(b, "\"where\":", 8);
        tb_json_cstr(b, p->where);
        if (p->id) {
            tb_put(b, ",\"id\":", 6);
            tb_json_cstr(b, p->id);
        }
        tb_put(b, ",\"message\":", 11);
        tb_json_cstr(b, p->msg);
        tb_put(b, "}", 1);
    }
    tb_put(b, "]", 1);
}

/* ---- order-independent set hash --------------------------------------------------- */

typedef struct {
    uint64_t a, b, n;
} SetHash;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void sh_add(SetHash *s, const uint8_t *p, size_t n)
{
    /* two independent multiply-rotate lanes, finalised with mix64 */
    uint64_t a = 0x9E3779B97F4A7C15ULL ^ n, b = 0xC2B2AE3D27D4EB4FULL + n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a = (a ^ w) * 0x87C37B91114253D5ULL;
        a = a << 31 | a >> 33;
        b = (b + w) * 0x4CF5AD432745937FULL;
        b = b << 29 | b >> 35;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    a = mix64(a ^ w);
    b = mix64(b + w + 0x5555);
    s->a += a;
    s->b += b;
    s->n++;
}

static int sh_eq(const SetHash *x, const SetHash *y)
{
    return x->a == y->a && x->b == y->b && x->n == y->n;
}

/* ---- the fault-tolerant walker ------------------------------------------------------ */

/* Reads page `pg` into payload (payload size bytes), authenticated, and its
 * version into *ctr.  BlazeDBResult: CORRUPT (fails authentication), IO_ERROR,
 * NOMEM (fatal). */
typedef int (*PageReadFn)(void *ctx, Pgno pg, uint8_t *payload, uint64_t *ctr);

typedef struct {
    const uint8_t *key;
    size_t klen;
    const uint8_t *val; /* NULL: an overflow value not assembled or damaged */
    size_t vlen;
    Pgno leaf;
    uint64_t leaf_ctr;
    unsigned cell;
} WCell;

typedef struct {
    Pgno pg;
    const char *msg;
    int lost;                  /* the page and what hangs below it are lost */
    const uint8_t *lo, *hi;    /* the key range it covered (NULL: open) */
    size_t lol, hil;
    const uint8_t *key;        /* an overflow chain: the key whose value */
    size_t kl;
} WBad;

typedef struct Walk Walk;
struct Walk {
    PageReadFn read;
    void *rctx;
    size_t P, maxkey;
    Pgno npages;
    int assemble;             /* build overflow values for the cell hook */
    int check_order;          /* 0: keys are not compared (repair) */
    void (*page)(Walk *w, Pgno pg, int type);
    int (*cell)(Walk *w, const WCell *c);   /* non-zero: stop with that code */
    void (*bad)(Walk *w, const WBad *b);
    void *arg;
    /* state */
    uint8_t *buf[W_MAXD];
    uint8_t *obuf, *vbuf;
    size_t vcap;
    int leaf_depth;
    int lost;                 /* some subtree was lost */
    uint64_t count;
    int rc;                   /* fatal error (NOMEM, cancel) */
};

static void walk_init(Walk *w, PageReadFn read, void *rctx, size_t P, size_t maxkey,
                      Pgno npages)
{
    memset(w, 0, sizeof *w);
    w->read = read;
    w->rctx = rctx;
    w->P = P;
    w->maxkey = maxkey;
    w->npages = npages;
    w->check_order = 1;
}

static void walk_free(Walk *w)
{
    for (int i = 0; i < W_MAXD; i++)
        free(w->buf[i]);
    free(w->obuf);
    free(w->vbuf);
    memset(w->buf, 0, sizeof w->buf);
    w->obuf = w->vbuf = NULL;
}

static void wbad(Walk *w, Pgno pg, int lost, const uint8_t *lo, size_t lol, const uint8_t *hi,
                 size_t hil, const uint8_t *key, size_t kl, const char *msg)
{
    if (lost)
        w->lost = 1;
    if (!w->bad)
        return;
    WBad b = {pg, msg, lost, lo, hi, lol, hil, key, kl};
    w->bad(w, &b);
}

static const char *read_why(int rc)
{
    if (rc == BLAZEDB_IO_ERROR)
        return "cannot be read (I/O error)";
    return "fails authentication";
}

/* Reads one page of the tree; 0 ok, 1 lost (reported), -1 fatal. */
static int walk_get(Walk *w, PageRef ref, uint8_t *d, const uint8_t *lo, size_t lol,
                    const uint8_t *hi, size_t hil, const uint8_t *key, size_t kl)
{
    char msg[160];
    if (ref.pgno < PAGER_FIRST_DATA_PGNO || ref.pgno >= w->npages) {
        snprintf(msg, sizeof msg, "a reference to page %u, out of range", (unsigned)ref.pgno);
        wbad(w, 0, 1, lo, lol, hi, hil, key, kl, msg);
        return 1;
    }
    uint64_t ctr = 0;
    int rc = w->read(w->rctx, ref.pgno, d, &ctr);
    if (rc == BLAZEDB_NOMEM || rc == BLAZEDB_CANCELLED) {
        w->rc = rc;
        return -1;
    }
    if (rc) {
        wbad(w, ref.pgno, 1, lo, lol, hi, hil, key, kl, read_why(rc));
        return 1;
    }
    if (ctr != ref.ctr) {
        snprintf(msg, sizeof msg, "holds version %llu where its parent expects %llu",
                 (unsigned long long)ctr, (unsigned long long)ref.ctr);
        wbad(w, ref.pgno, 1, lo, lol, hi, hil, key, kl, msg);
        return 1;
    }
    return 0;
}

/* Walks an overflow chain of `total` bytes; copies it to out when non-NULL.
 * 0 complete, 1 damaged (reported), -1 fatal. */
static int walk_ovf(Walk *w, PageRef ref, uint32_t total, uint8_t *out, const uint8_t *key,
                    size_t kl)
{
    if (!w->obuf && !(w->obuf = malloc(w->P))) {
        w->rc = BLAZEDB_NOMEM;
        return -1;
    }
    size_t got = 0, cap = w->P - OVF_HDR, steps = 0, maxsteps = total / cap + 2;
    char msg[160];
    while (ref.pgno) {
        if (++steps > maxsteps) {
            wbad(w, ref.pgno, 1, NULL, 0, NULL, 0, key, kl, "overflow chain longer than its value");
            return 1;
        }
        int r = walk_get(w, ref, w->obuf, NULL, 0, NULL, 0, key, kl);
        if (r)
            return r;
        const uint8_t *d = w->obuf;
        uint32_t used = rd32(d + 4);
        if (d[0] != BT_OVERFLOW || used == 0 || used > cap || got + used > total) {
            wbad(w, ref.pgno, 1, NULL, 0, NULL, 0, key, kl, "not a valid overflow page");
            return 1;
        }
        if (w->page)
            w->page(w, ref.pgno, BT_OVERFLOW);
        if (out)
            memcpy(out + got, d + OVF_HDR, used);
        got += used;
        PageRef next = mkref(rd32(d + 8), rd64(d + 12));
        if (next.pgno && used != cap) {
            wbad(w, ref.pgno, 0, NULL, 0, NULL, 0, key, kl,
                 "overflow page not full but not the last of its chain");
        }
        ref = next;
    }
    if (got != total) {
        snprintf(msg, sizeof msg, "overflow chain holds %zu bytes, its cell says %u", got,
                 (unsigned)total);
        wbad(w, 0, 1, NULL, 0, NULL, 0, key, kl, msg);
        return 1;
    }
    return 0;
}

static void walk_node(Walk *w, PageRef ref, int depth, const uint8_t *lo, size_t lol,
                      const uint8_t *hi, size_t hil)
{
    if (w->rc)
        return;
    if (depth >= W_MAXD) {
        wbad(w, ref.pgno, 1, lo, lol, hi, hil, NULL, 0, "tree deeper than 40 levels");
        return;
    }
    if (!w->buf[depth] && !(w->buf[depth] = malloc(w->P))) {
        w->rc = BLAZEDB_NOMEM;
        return;
    }
    uint8_t *d = w->buf[depth];
    if (walk_get(w, ref, d, lo, lol, hi, hil, NULL, 0))
        return;
    if (!node_ok(d, w->P)) {
        wbad(w, ref.pgno, 1, lo, lol, hi, hil, NULL, 0, "not a valid B+tree page");
        return;
    }
    int type = d[0];
    if (w->page)
        w->page(w, ref.pgno, type);
    unsigned n = nkeys(d);
    size_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += cell_len(type, cell_at(d, i));
    if (n == 0)
        wbad(w, ref.pgno, 0, lo, lol, hi, hil, NULL, 0, "page has no keys");
    else if (sum + rd16(d + 6) != w->P - rd16(d + 4))
        wbad(w, ref.pgno, 0, lo, lol, hi, hil, NULL, 0,
             "cell area does not add up (overlapping cells)");
    if (w->check_order) {
        const uint8_t *pk = lo;
        size_t pkl = lol;
        for (unsigned i = 0; i < n; i++) {
            size_t kl;
            const uint8_t *key = cell_key(type, cell_at(d, i), &kl);
            const char *bad = NULL;
            if (kl > w->maxkey)
                bad = "key longer than the limit";
            else if (pk && (i > 0 ? keycmp(pk, pkl, key, kl) >= 0 : keycmp(pk, pkl, key, kl) > 0))
                bad = i > 0 ? "keys out of order" : "key below its parent's separator";
            else if (hi && keycmp(key, kl, hi, hil) >= 0)
                bad = "key beyond its parent's separator";
            if (bad) {
                wbad(w, ref.pgno, 0, lo, lol, hi, hil, key, kl, bad);
                break;
            }
            pk = key;
            pkl = kl;
        }
    }
    if (type == BT_LEAF) {
        if (w->leaf_depth < 0)
            w->leaf_depth = depth;
        else if (w->leaf_depth != depth)
            wbad(w, ref.pgno, 0, lo, lol, hi, hil, NULL, 0, "leaves at different depths");
        w->count += n;
        for (unsigned i = 0; i < n && !w->rc; i++) {
            const uint8_t *c = cell_at(d, i);
            WCell wc;
            wc.key = c + LCELL_HDR;
            wc.klen = rd16(c);
            wc.vlen = rd32(c + 3);
            wc.leaf = ref.pgno;
            wc.leaf_ctr = ref.ctr;
            wc.cell = i;
            wc.val = NULL;
            if (!(c[2] & LCELL_OVF)) {
                wc.val = c + LCELL_HDR + wc.klen;
            } else {
                uint8_t *out = NULL;
                if (w->assemble) {
                    if (w->vcap < wc.vlen) {
                        uint8_t *nb = realloc(w->vbuf, wc.vlen ? wc.vlen : 1);
                        if (!nb) {
                            w->rc = BLAZEDB_NOMEM;
                            return;
                        }
                        w->vbuf = nb;
                        w->vcap = wc.vlen;
                    }
                    out = w->vbuf;
                }
                const uint8_t *rp = c + LCELL_HDR + wc.klen;
                int r = walk_ovf(w, mkref(rd32(rp), rd64(rp + 4)), (uint32_t)wc.vlen, out,
                                 wc.key, wc.klen);
                if (r < 0)
                    return;
                if (r == 0 && out)
                    wc.val = out;
            }
            if (w->cell) {
                int r = w->cell(w, &wc);
                if (r) {
                    w->rc = r;
                    return;
                }
            }
        }
        return;
    }
    for (unsigned i = 0; i <= n && !w->rc; i++) {
        size_t l1 = lol, h1 = hil;
        const uint8_t *lk = lo, *hk = hi;
        if (i > 0)
            lk = cell_key(BT_BRANCH, cell_at(d, i - 1), &l1);
        if (i < n)
            hk = cell_key(BT_BRANCH, cell_at(d, i), &h1);
        walk_node(w, branch_child(d, i), depth + 1, lk, l1, hk, h1);
    }
}

/* Walks the tree `root`; returns w->rc (0, NOMEM or a cancel code). */
static int walk_tree(Walk *w, const PagerRoot *root)
{
    w->leaf_depth = -1;
    w->lost = 0;
    w->count = 0;
    w->rc = 0;
    if (root->root.pgno)
        walk_node(w, root->root, 0, NULL, 0, NULL, 0);
    return w->rc;
}

/* ---- catalog records and index definitions ------------------------------------------ */

static char *dup_n(const void *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

/* ---- the entries a document gives an index (index.h: idx_doc_keys) ------------------ */

static int keys_has(const IdxDocKeys *s, const uint8_t *k, size_t kl)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].len == kl && memcmp(s->keys.p + s->e[i].off, k, kl) == 0)
            return 1;
    return 0;
}

/* ===================================================================================== */
/*                                     CHECK                                             */
/* ===================================================================================== */

typedef struct {
    IdxDef d;
    void *pred;           /* compiled partial-index predicate */
    int pred_bad;
    int has_j;
    int damaged;          /* its tree lost a subtree */
    char *where;          /* "index 'x' on 'coll'" */
    SetHash exp, act;
    const uint8_t *prev;  /* previous entry (unique check) */
    size_t prevl;
    uint8_t *prevbuf;
    size_t prevcap;
} CIdx;

typedef struct {
    char *name;           /* NUL-terminated (as stored) */
    size_t nlen;
    char *where;          /* "collection 'x'" (printable) */
    CatColl c;
    CIdx *idx;
    size_t nidx;
    SetHash dlist;        /* "d" entries */
    SetHash ddocs;        /* soft-deleted documents */
    uint64_t bytes;
    int damaged;
    int bad_docs;         /* documents that could not be indexed */
} CColl;

typedef struct {
    BlazeDB *db;
    PagerTxn *pt;
    PagerMeta meta;
    int full;
    unsigned intr;
    BlazeDBProgressFn progress;
    void *parg;
    uint64_t done;
    Probs pr;
    uint32_t *owner;     /* per page: tree number + 1 (0 = unseen) */
    char **tnames;       /* tree names by number */
    size_t ntrees, ctrees;
    uint32_t cur;        /* the tree being walked */
    const char *where;   /* its name */
    CColl *colls;
    size_t ncolls, ccolls;
    int have_next;
    uint64_t next_id;
    uint8_t **jnames;    /* "j" entries: name, cid */
    size_t *jlens;
    uint64_t *jcids;
    size_t nj, cj;
    /* what was checked */
    uint64_t docs, entries, kv, changes, free_listed, pages_read;
    uint32_t free_id;    /* the tree number of "free pages" */
    int rc;
    IdxDocKeys ents;
    CColl *cc;           /* collection of the tree being walked */
    CIdx *ci;            /* index of the tree being walked */
} Chk;

static uint32_t chk_tree(Chk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static uint32_t chk_tree(Chk *k, const char *fmt, ...)
{
    char name[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (k->ntrees == k->ctrees) {
        size_t nc = k->ctrees ? k->ctrees * 2 : 16;
        char **nt = realloc(k->tnames, nc * sizeof *nt);
        if (!nt) {
            k->rc = BLAZEDB_NOMEM;
            return 0;
        }
        k->tnames = nt;
        k->ctrees = nc;
    }
    if (!(k->tnames[k->ntrees] = strdup(name))) {
        k->rc = BLAZEDB_NOMEM;
        return 0;
    }
    k->cur = (uint32_t)k->ntrees++;
    k->where = k->tnames[k->cur];
    return k->cur;
}

static int chk_tick(Chk *k)
{
    if ((++k->done & 255) == 0) {
        if (k->progress && k->progress(k->done, k->meta.npages, k->parg))
            return BLAZEDB_CANCELLED;
        if (db_interrupts(k->db) != k->intr)
            return BLAZEDB_CANCELLED;
    }
    return 0;
}

static int chk_read(void *ctx, Pgno pg, uint8_t *payload, uint64_t *ctr)
{
    Chk *k = ctx;
    int rc = chk_tick(k);
    if (rc)
        return rc;
    k->pages_read++;
    return pager_snapshot_read(k->pt, pg, payload, ctr);
}

static void chk_own(Chk *k, Pgno pg, uint32_t tree)
{
    if (pg < PAGER_FIRST_DATA_PGNO || pg >= k->meta.npages)
        return;
    if (k->owner[pg]) {
        const char *other = k->tnames[k->owner[pg] - 1];
        prob_add(&k->pr, pg, k->tnames[tree], NULL, 0, "page is also used by %s%s", other,
                 k->owner[pg] - 1 == tree ? " (twice in one tree)" : "");
        return;
    }
    k->owner[pg] = tree + 1;
}

static void chk_page(Walk *w, Pgno pg, int type)
{
    Chk *k = w->arg;
    chk_own(k, pg, k->cur);
    (void)type;
}

static void chk_bad(Walk *w, const WBad *b)
{
    Chk *k = w->arg;
    char range[160] = "";
    if (b->lost && !b->key && (b->lo || b->hi))
        snprintf(range, sizeof range, " (a subtree is lost)");
    if (b->key)
        prob_add(&k->pr, b->pg, k->where, b->key, b->kl, "%s%s", b->msg, range);
    else
        prob_add(&k->pr, b->pg, k->where, NULL, 0, "%s%s", b->msg, range);
}

/* The byte-KV tree and any tree whose entries are not decoded. */
static int cell_plain(Walk *w, const WCell *c)
{
    (void)w;
    (void)c;
    return 0;
}

static int cell_free(Walk *w, const WCell *c)
{
    Chk *k = w->arg;
    if (c->klen != FL_KEY || c->vlen % 4 != 0 || c->vlen == 0 || !c->val) {
        prob_add(&k->pr, c->leaf, k->where, NULL, 0, "malformed free-page record");
        return 0;
    }
    uint32_t fl = k->free_id;
    for (size_t i = 0; i < c->vlen / 4; i++) {
        Pgno pg = rd32(c->val + 4 * i);
        if (pg < PAGER_FIRST_DATA_PGNO || pg >= k->meta.npages) {
            prob_add(&k->pr, c->leaf, k->where, NULL, 0,
                     "lists page %u as free, out of range", (unsigned)pg);
            continue;
        }
        chk_own(k, pg, fl);
    }
    k->free_listed += c->vlen / 4;
    return 0;
}

static CColl *coll_by_id(Chk *k, uint64_t id)
{
    for (size_t i = 0; i < k->ncolls; i++)
        if (k->colls[i].c.id == id)
            return &k->colls[i];
    return NULL;
}

static int cell_catalog(Walk *w, const WCell *c)
{
    Chk *k = w->arg;
    const uint8_t *key = c->key, *v = c->val;
    size_t kl = c->klen, vl = c->vlen;
    if (!v)
        return 0; /* overflow damage was reported */
    switch (key[0]) {
    case 'c': {
        CatColl cc;
        if (cat_name_ok((const char *)key + 1, kl - 1) || cat_record_decode(v, vl, &cc)) {
            prob_add(&k->pr, c->leaf, "catalog", key + 1, kl - 1, "collection record is damaged");
            return 0;
        }
        CColl *dup = coll_by_id(k, cc.id);
        if (dup) {
            prob_add(&k->pr, c->leaf, "catalog", key + 1, kl - 1,
                     "collection id %llu is also the id of '%s'", (unsigned long long)cc.id,
                     dup->where);
            return 0;
        }
        if (cc.docs.root.pgno &&
            (cc.docs.root.pgno < PAGER_FIRST_DATA_PGNO || cc.docs.root.pgno >= k->meta.npages)) {
            prob_add(&k->pr, c->leaf, "catalog", key + 1, kl - 1,
                     "collection's root page %u is out of range", (unsigned)cc.docs.root.pgno);
            return 0;
        }
        if (k->ncolls == k->ccolls) {
            size_t nc = k->ccolls ? k->ccolls * 2 : 8;
            CColl *n = realloc(k->colls, nc * sizeof *n);
            if (!n)
                return BLAZEDB_NOMEM;
            k->colls = n;
            k->ccolls = nc;
        }
        CColl *co = &k->colls[k->ncolls];
        memset(co, 0, sizeof *co);
        co->c = cc;
        co->nlen = kl - 1;
        co->name = dup_n(key + 1, kl - 1);
        char *sn = safe_dup(key + 1, kl - 1);
        TextBuf b = {0};
        tb_printf(&b, "collection '%s'", sn ? sn : "");
        free(sn);
        co->where = b.p;
        if (!co->name || !co->where || b.oom) {
            free(co->name);
            free(co->where);
            return BLAZEDB_NOMEM;
        }
        k->ncolls++;
        return 0;
    }
    case 'n':
        if (kl != 1 || vl != 8)
            prob_add(&k->pr, c->leaf, "catalog", NULL, 0, "next-id record is damaged");
        else {
            k->have_next = 1;
            k->next_id = rd64(v);
        }
        return 0;
    case 'd': {
        CColl *co = kl > 9 ? coll_by_id(k, get_be64(key + 1)) : NULL;
        if (!co)
            prob_add(&k->pr, c->leaf, "catalog", kl > 9 ? key + 9 : NULL, kl > 9 ? kl - 9 : 0,
                     "soft-deleted list entry of no collection");
        else if (vl != 0)
            prob_add(&k->pr, c->leaf, co->where, key + 9, kl - 9,
                     "soft-deleted list entry has a value");
        else
            sh_add(&co->dlist, key + 9, kl - 9);
        return 0;
    }
    case 'i': {
        CColl *co = kl > 9 ? coll_by_id(k, get_be64(key + 1)) : NULL;
        if (!co) {
            prob_add(&k->pr, c->leaf, "catalog", kl > 9 ? key + 9 : NULL, kl > 9 ? kl - 9 : 0,
                     "index definition of no collection");
            return 0;
        }
        CIdx *ni = realloc(co->idx, (co->nidx + 1) * sizeof *ni);
        if (!ni)
            return BLAZEDB_NOMEM;
        co->idx = ni;
        CIdx *ix = &co->idx[co->nidx];
        memset(ix, 0, sizeof *ix);
        int r = idx_def_decode(v, vl, co->c.id, (const char *)key + 9, kl - 9, &ix->d);
        if (r < 0)
            return BLAZEDB_NOMEM;
        if (r == 0 || kl - 9 > IDX_MAX_NAME) {
            if (r)
                idx_def_clear(&ix->d);
            prob_add(&k->pr, c->leaf, co->where, key + 9, kl - 9,
                     "index definition is damaged");
            return 0;
        }
        char *sn = safe_dup(key + 9, kl - 9);
        TextBuf b = {0};
        tb_printf(&b, "index '%s' on %s", sn ? sn : "", co->where);
        free(sn);
        if (b.oom) {
            idx_def_clear(&ix->d);
            return BLAZEDB_NOMEM;
        }
        ix->where = b.p;
        char pmsg[SQL_ERRMAX];
        if (ix->d.where && idx_pred_compile(&ix->d, &ix->pred, pmsg, sizeof pmsg)) {
            ix->pred_bad = 1;
            prob_add(&k->pr, 0, ix->where, NULL, 0, "its predicate does not compile");
        }
        co->nidx++;
        return 0;
    }
    case 'j':
        if (kl < 2 || vl != 8) {
            prob_add(&k->pr, c->leaf, "catalog", NULL, 0, "index name record is damaged");
            return 0;
        }
        if (k->nj == k->cj) {
            size_t nc = k->cj ? k->cj * 2 : 8;
            uint8_t **nn = realloc(k->jnames, nc * sizeof *nn);
            if (!nn)
                return BLAZEDB_NOMEM;
            k->jnames = nn;
            size_t *nl = realloc(k->jlens, nc * sizeof *nl);
            if (!nl)
                return BLAZEDB_NOMEM;
            k->jlens = nl;
            uint64_t *ncid = realloc(k->jcids, nc * sizeof *ncid);
            if (!ncid)
                return BLAZEDB_NOMEM;
            k->jcids = ncid;
            k->cj = nc;
        }
        if (!(k->jnames[k->nj] = (uint8_t *)dup_n(key + 1, kl - 1)))
            return BLAZEDB_NOMEM;
        k->jlens[k->nj] = kl - 1;
        k->jcids[k->nj] = rd64(v);
        k->nj++;
        return 0;
    default:
        prob_add(&k->pr, c->leaf, "catalog", key, kl, "unknown kind of catalog record");
        return 0;
    }
}

static int cell_doc(Walk *w, const WCell *c)
{
    Chk *k = w->arg;
    CColl *co = k->cc;
    co->bytes += c->vlen;
    k->docs++;
    if (!k->full)
        return 0;
    if (!c->val) {
        co->bad_docs++;
        return 0;
    }
    char err[DOC_ERRMAX];
    if (docbin_validate(c->val, c->vlen, err)) {
        prob_add(&k->pr, c->leaf, co->where, c->key, c->klen, "document does not decode: %s",
                 err);
        co->bad_docs++;
        return 0;
    }
    DocView v;
    if (docbin_lookup_valid(c->val, c->vlen, "id", &v) != BLAZEDB_OK || v.type != DOC_STRING)
        prob_add(&k->pr, c->leaf, co->where, c->key, c->klen, "document has no string id");
    else if (v.dlen != c->klen || memcmp(v.data, c->key, c->klen) != 0)
        prob_add(&k->pr, c->leaf, co->where, c->key, c->klen,
                 "document's id field differs from its key");
    int sd = cat_doc_deleted(c->val, c->vlen);
    if (sd)
        sh_add(&co->ddocs, c->key, c->klen);
    for (size_t i = 0; i < co->nidx; i++) {
        CIdx *ix = &co->idx[i];
        if (ix->pred_bad)
            continue;
        int r = idx_doc_keys(&ix->d, ix->pred, (const char *)c->key, c->klen, c->val, c->vlen, sd, &k->ents);
        if (r == BLAZEDB_NOMEM)
            return r;
        if (r) {
            prob_add(&k->pr, c->leaf, ix->where, c->key, c->klen,
                     "document cannot be indexed (damaged, or its predicate fails)");
            continue;
        }
        for (size_t e = 0; e < k->ents.n; e++)
            sh_add(&ix->exp, k->ents.keys.p + k->ents.e[e].off, k->ents.e[e].len);
    }
    return 0;
}

static int cell_index(Walk *w, const WCell *c)
{
    Chk *k = w->arg;
    CIdx *ix = k->ci;
    k->entries++;
    if (!k->full)
        return 0;
    const char *id;
    size_t idl;
    if (c->vlen != 0)
        prob_add(&k->pr, c->leaf, ix->where, NULL, 0, "index entry with a value");
    if (idx_key_id(c->key, c->klen, &id, &idl)) {
        prob_add(&k->pr, c->leaf, ix->where, c->key, c->klen, "malformed index entry");
        return 0;
    }
    size_t pl = c->klen - 2 - idl, off = 0;
    for (size_t i = 0; i < ix->d.nfields && off <= pl; i++) {
        size_t n = keyenc_skip(c->key + off, pl - off, ix->d.fields[i].desc);
        if (!n) {
            off = pl + 1;
            break;
        }
        off += n;
    }
    if (off != pl) {
        prob_add(&k->pr, c->leaf, ix->where, id, idl, "malformed index entry");
        return 0;
    }
    sh_add(&ix->act, c->key, c->klen);
    if ((ix->d.flags & IDX_F_UNIQUE) && !idx_key_has_null(&ix->d, c->key, pl)) {
        if (ix->prev && ix->prevl == pl && memcmp(ix->prev, c->key, pl) == 0)
            prob_add(&k->pr, c->leaf, ix->where, id, idl,
                     "unique index holds this value for two documents");
        if (ix->prevcap < pl) {
            uint8_t *nb = realloc(ix->prevbuf, pl);
            if (!nb)
                return BLAZEDB_NOMEM;
            ix->prevbuf = nb;
            ix->prevcap = pl;
        }
        memcpy(ix->prevbuf, c->key, pl);
        ix->prev = ix->prevbuf;
        ix->prevl = pl;
    }
    return 0;
}

static int cell_change(Walk *w, const WCell *c)
{
    Chk *k = w->arg;
    k->changes++;
    if (!k->full)
        return 0;
    char where[64] = "change log";
    if (c->klen != 12) {
        prob_add(&k->pr, c->leaf, where, NULL, 0, "malformed change key");
        return 0;
    }
    if (!c->val)
        return 0;
    const uint8_t *v = c->val;
    size_t vl = c->vlen, off = 0;
    const char *bad = NULL;
    if (vl < 1 + 8 + 2 || v[0] < CAT_CHANGE_INSERT || v[0] > CAT_CHANGE_DELETE)
        bad = "malformed change record";
    else {
        off = 9;
        size_t nl = rd16(v + off);
        off += 2;
        if (vl - off < nl + 2)
            bad = "malformed change record";
        else {
            off += nl;
            size_t il = rd16(v + off);
            off += 2;
            if (vl - off < il || il == 0)
                bad = "malformed change record";
            else {
                off += il;
                char err[DOC_ERRMAX];
                /* a delete may carry the document (a soft delete does) */
                if ((v[0] != CAT_CHANGE_DELETE || vl != off) &&
                    docbin_validate(v + off, vl - off, err) != 0)
                    bad = "the change's document does not decode";
            }
        }
    }
    if (bad) {
        snprintf(where, sizeof where, "change log (commit %llu, #%u)",
                 (unsigned long long)get_be64(c->key), (unsigned)get_be32(c->key + 8));
        prob_add(&k->pr, c->leaf, where, NULL, 0, "%s", bad);
    }
    return 0;
}

static int chk_walk(Chk *k, Walk *w, const PagerRoot *root, int (*cell)(Walk *, const WCell *),
                    int assemble)
{
    w->cell = cell;
    w->assemble = assemble;
    int rc = walk_tree(w, root);
    if (rc)
        return rc;
    if (!w->lost && w->count != root->count)
        prob_add(&k->pr, root->root.pgno, k->where, NULL, 0,
                 "tree holds %llu entries, its root says %llu", (unsigned long long)w->count,
                 (unsigned long long)root->count);
    return k->rc;
}

/* ---- diagnosis of an index whose entries do not match its collection ------------- */

static int diag_index(Chk *k, CColl *co, CIdx *ix)
{
    uint64_t before = k->pr.total;
    PagerRoot docs = co->c.docs, iroot = ix->d.root;
    BtCursor *cur = NULL;
    int rc = BLAZEDB_OK;
    /* stale entries: entries no document gives */
    if (iroot.root.pgno && (rc = btc_open(k->pt, &iroot, &cur)) == BLAZEDB_OK) {
        for (rc = btc_first(cur); rc == BLAZEDB_OK; rc = btc_next(cur)) {
            const void *kv;
            size_t kl;
            if ((rc = btc_key(cur, &kv, &kl)))
                break;
            const char *id;
            size_t idl;
            if (idx_key_id(kv, kl, &id, &idl))
                continue;
            void *doc = NULL;
            size_t dl = 0;
            int g = docs.root.pgno ? btree_get(k->pt, &docs, id, idl, &doc, &dl)
                                   : BLAZEDB_NOT_FOUND;
            if (g == BLAZEDB_NOT_FOUND) {
                prob_add(&k->pr, 0, ix->where, id, idl,
                         "stale index entry: no such document");
            } else if (g == BLAZEDB_OK) {
                char err[DOC_ERRMAX];
                if (docbin_validate(doc, dl, err) == BLAZEDB_OK) {
                    int r = idx_doc_keys(&ix->d, ix->pred, id, idl, doc, dl, -1, &k->ents);
                    if (r == BLAZEDB_NOMEM) {
                        free(doc);
                        rc = r;
                        break;
                    }
                    if (r == BLAZEDB_OK && !keys_has(&k->ents, kv, kl))
                        prob_add(&k->pr, 0, ix->where, id, idl,
                                 "stale index entry: the document does not give it");
                }
            } else {
                free(doc);
                rc = g;
                break;
            }
            free(doc);
        }
        btc_close(cur);
        cur = NULL;
    }
    if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND)
        goto out;
    /* documents missing from the index */
    rc = BLAZEDB_OK;
    if (docs.root.pgno && (rc = btc_open(k->pt, &docs, &cur)) == BLAZEDB_OK) {
        for (rc = btc_first(cur); rc == BLAZEDB_OK; rc = btc_next(cur)) {
            const void *kv, *v;
            size_t kl, vl;
            if ((rc = btc_key(cur, &kv, &kl)) || (rc = btc_value(cur, &v, &vl)))
                break;
            char err[DOC_ERRMAX];
            if (docbin_validate(v, vl, err))
                continue;
            int r = idx_doc_keys(&ix->d, ix->pred, kv, kl, v, vl, -1, &k->ents);
            if (r == BLAZEDB_NOMEM) {
                rc = r;
                break;
            }
            for (size_t e = 0; r == BLAZEDB_OK && e < k->ents.n; e++) {
                void *val = NULL;
                size_t vlen;
                int g = iroot.root.pgno ? btree_get(k->pt, &iroot, k->ents.keys.p + k->ents.e[e].off,
                                                    k->ents.e[e].len, &val, &vlen)
                                        : BLAZEDB_NOT_FOUND;
                free(val);
                if (g == BLAZEDB_NOT_FOUND) {
                    prob_add(&k->pr, 0, ix->where, kv, kl, "document is missing from the index");
                    break;
                }
                if (g) {
                    rc = g;
                    break;
                }
            }
            if (rc != BLAZEDB_OK)
                break;
        }
        btc_close(cur);
    }
out:
    if (rc == BLAZEDB_NOMEM)
        return rc;
    if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND)
        prob_add(&k->pr, 0, ix->where, NULL, 0, "could not be compared entry by entry: %s",
                 blazedb_strerror((BlazeDBResult)rc));
    else if (k->pr.total == before)
        prob_add(&k->pr, 0, ix->where, NULL, 0,
                 "holds %llu entries, its documents give %llu",
                 (unsigned long long)ix->act.n, (unsigned long long)ix->exp.n);
    return BLAZEDB_OK;
}

static int diag_softdel(Chk *k, CColl *co)
{
    uint64_t before = k->pr.total;
    PagerRoot cat = k->meta.roots[PAGER_ROOT_CATALOG], docs = co->c.docs;
    uint8_t pre[9];
    pre[0] = 'd';
    for (int i = 0; i < 8; i++)
        pre[1 + i] = (uint8_t)(co->c.id >> (56 - 8 * i));
    BtCursor *cur;
    int rc = btc_open(k->pt, &cat, &cur);
    if (rc)
        return rc == BLAZEDB_NOMEM ? rc : BLAZEDB_OK;
    for (rc = btc_seek(cur, pre, 9, NULL); rc == BLAZEDB_OK; rc = btc_next(cur)) {
        const void *kv;
        size_t kl;
        if ((rc = btc_key(cur, &kv, &kl)))
            break;
        if (kl <= 9 || memcmp(kv, pre, 9) != 0)
            break;
        const uint8_t *id = (const uint8_t *)kv + 9;
        void *doc = NULL;
        size_t dl = 0;
        int g = docs.root.pgno ? btree_get(k->pt, &docs, id, kl - 9, &doc, &dl) : BLAZEDB_NOT_FOUND;
        if (g == BLAZEDB_NOT_FOUND)
            prob_add(&k->pr, 0, co->where, id, kl - 9,
                     "soft-deleted list names a document that does not exist");
        else if (g == BLAZEDB_OK && !cat_doc_deleted(doc, dl))
            prob_add(&k->pr, 0, co->where, id, kl - 9,
                     "soft-deleted list names a document that is not soft-deleted");
        free(doc);
    }
    btc_close(cur);
    if (docs.root.pgno && btc_open(k->pt, &docs, &cur) == BLAZEDB_OK) {
        uint8_t *kb = NULL;
        for (rc = btc_first(cur); rc == BLAZEDB_OK; rc = btc_next(cur)) {
            const void *kv, *v;
            size_t kl, vl;
            if ((rc = btc_key(cur, &kv, &kl)) || (rc = btc_value(cur, &v, &vl)))
                break;
            if (!cat_doc_deleted(v, vl))
                continue;
            uint8_t *nk = realloc(kb, 9 + kl);
            if (!nk)
                break;
            kb = nk;
            memcpy(kb, pre, 9);
            memcpy(kb + 9, kv, kl);
            void *val = NULL;
            size_t vlen;
            int g = btree_get(k->pt, &cat, kb, 9 + kl, &val, &vlen);
            free(val);
            if (g == BLAZEDB_NOT_FOUND)
                prob_add(&k->pr, 0, co->where, kv, kl,
                         "soft-deleted document is missing from the soft-deleted list");
        }
        free(kb);
        btc_close(cur);
    }
    if (k->pr.total == before)
        prob_add(&k->pr, 0, co->where, NULL, 0,
                 "soft-deleted list holds %llu ids, %llu documents are soft-deleted",
                 (unsigned long long)co->dlist.n, (unsigned long long)co->ddocs.n);
    return BLAZEDB_OK;
}

/* ---- the check --------------------------------------------------------------------- */

static void chk_free_all(Chk *k)
{
    for (size_t i = 0; i < k->ncolls; i++) {
        CColl *co = &k->colls[i];
        for (size_t j = 0; j < co->nidx; j++) {
            idx_def_clear(&co->idx[j].d);
            idx_pred_free(co->idx[j].pred);
            free(co->idx[j].where);
            free(co->idx[j].prevbuf);
        }
        free(co->idx);
        free(co->name);
        free(co->where);
    }
    free(k->colls);
    for (size_t i = 0; i < k->nj; i++)
        free(k->jnames[i]);
    free(k->jnames);
    free(k->jlens);
    free(k->jcids);
    for (size_t i = 0; i < k->ntrees; i++)
        free(k->tnames[i]);
    free(k->tnames);
    free(k->owner);
    idx_doc_keys_free(&k->ents);
    probs_free(&k->pr);
}

static int chk_run(Chk *k)
{
    PagerMeta *m = &k->meta;
    Pager *p = pager_txn_pager(k->pt);
    Walk w;
    walk_init(&w, chk_read, k, pager_payload_size(p), btree_max_key(p), m->npages);
    w.page = chk_page;
    w.bad = chk_bad;
    w.arg = k;
    int rc = BLAZEDB_OK;
    /* free pages first, so that a tree page listed free is named as an overlap */
    k->free_id = chk_tree(k, "free pages");
    chk_tree(k, "free-page tree");
    if (k->rc)
        goto out;
    if ((rc = chk_walk(k, &w, &m->roots[PAGER_ROOT_FREE], cell_free, 1)))
        goto out;
    if (!w.lost && k->free_listed != m->free_pages)
        prob_add(&k->pr, 0, "free-page tree", NULL, 0,
                 "lists %llu free pages, the meta says %llu",
                 (unsigned long long)k->free_listed, (unsigned long long)m->free_pages);
    chk_tree(k, "key-value tree");
    if (k->rc || (rc = chk_walk(k, &w, &m->roots[PAGER_ROOT_MAIN], cell_plain, 0)))
        goto out;
    k->kv = w.count;
    chk_tree(k, "catalog");
    if (k->rc || (rc = chk_walk(k, &w, &m->roots[PAGER_ROOT_CATALOG], cell_catalog, 1)))
        goto out;
    int cat_lost = w.lost;
    uint64_t maxid = 0;
    for (size_t i = 0; i < k->ncolls; i++)
        if (k->colls[i].c.id > maxid)
            maxid = k->colls[i].c.id;
    if (!cat_lost && k->ncolls && (!k->have_next || k->next_id <= maxid))
        prob_add(&k->pr, 0, "catalog", NULL, 0,
                 "the next collection id (%llu) is not above every collection id (%llu)",
                 (unsigned long long)k->next_id, (unsigned long long)maxid);
    /* index names: one "j" record per index, naming its collection */
    for (size_t i = 0; i < k->nj && !cat_lost; i++) {
        int found = 0;
        for (size_t c = 0; c < k->ncolls && !found; c++)
            for (size_t j = 0; j < k->colls[c].nidx && !found; j++) {
                CIdx *ix = &k->colls[c].idx[j];
                if (strlen(ix->d.name) == k->jlens[i] &&
                    memcmp(ix->d.name, k->jnames[i], k->jlens[i]) == 0) {
                    found = 1;
                    ix->has_j = 1;
                    if (k->colls[c].c.id != k->jcids[i])
                        prob_add(&k->pr, 0, ix->where, NULL, 0,
                                 "its name record names collection id %llu",
                                 (unsigned long long)k->jcids[i]);
                }
            }
        if (!found)
            prob_add(&k->pr, 0, "catalog", k->jnames[i], k->jlens[i],
                     "index name record of no index");
    }
    for (size_t c = 0; c < k->ncolls; c++) {
        CColl *co = &k->colls[c];
        if (!cat_lost && (co->nidx > 0) != ((co->c.flags & CAT_F_HAS_INDEXES) != 0))
            prob_add(&k->pr, 0, co->where, NULL, 0,
                     co->nidx ? "has indexes but not the flag that says so"
                              : "has the has-indexes flag but no index");
        for (size_t j = 0; j < co->nidx && !cat_lost; j++)
            if (!co->idx[j].has_j)
                prob_add(&k->pr, 0, co->idx[j].where, NULL, 0, "has no name record");
    }
    /* collections, then their indexes */
    for (size_t c = 0; c < k->ncolls; c++) {
        CColl *co = &k->colls[c];
        k->cc = co;
        chk_tree(k, "%s", co->where);
        if (k->rc || (rc = chk_walk(k, &w, &co->c.docs, cell_doc, k->full)))
            goto out;
        co->damaged = w.lost;
        if (!w.lost && co->bytes != co->c.bytes)
            prob_add(&k->pr, 0, co->where, NULL, 0,
                     "documents take %llu bytes, the catalog says %llu",
                     (unsigned long long)co->bytes, (unsigned long long)co->c.bytes);
        if (k->full && !w.lost && !cat_lost) {
            if (co->ddocs.n != co->c.deleted)
                prob_add(&k->pr, 0, co->where, NULL, 0,
                         "%llu documents are soft-deleted, the catalog says %llu",
                         (unsigned long long)co->ddocs.n, (unsigned long long)co->c.deleted);
            if (!sh_eq(&co->ddocs, &co->dlist) && (rc = diag_softdel(k, co)))
                goto out;
        }
        for (size_t j = 0; j < co->nidx; j++) {
            CIdx *ix = &co->idx[j];
            k->ci = ix;
            chk_tree(k, "%s", ix->where);
            if (k->rc || (rc = chk_walk(k, &w, &ix->d.root, cell_index, 0)))
                goto out;
            ix->damaged = w.lost;
            if (k->full && !w.lost && !co->damaged && !co->bad_docs && !ix->pred_bad &&
                !sh_eq(&ix->exp, &ix->act) && (rc = diag_index(k, co, ix)))
                goto out;
        }
    }
    chk_tree(k, "change log");
    if (k->rc || (rc = chk_walk(k, &w, &m->roots[PAGER_ROOT_CHANGES], cell_change, k->full)))
        goto out;
    for (int i = PAGER_ROOT_CHANGES + 1; i < PAGER_NROOTS; i++) {
        if (!m->roots[i].root.pgno && !m->roots[i].count)
            continue;
        chk_tree(k, "tree of meta slot %d", i);
        if (k->rc || (rc = chk_walk(k, &w, &m->roots[i], cell_plain, 0)))
            goto out;
    }
    /* page accounting: every page below the high-water mark used once */
    if (!k->rc) {
        Pgno start = 0;
        for (Pgno pg = PAGER_FIRST_DATA_PGNO; pg <= m->npages; pg++) {
            int unseen = pg < m->npages && !k->owner[pg];
            if (unseen && !start)
                start = pg;
            if (!unseen && start) {
                if (pg - 1 == start)
                    prob_add(&k->pr, start, "page accounting", NULL, 0,
                             "page is neither used nor free (leaked)");
                else
                    prob_add(&k->pr, start, "page accounting", NULL, 0,
                             "pages %u..%u (%u pages) are neither used nor free (leaked)",
                             (unsigned)start, (unsigned)(pg - 1), (unsigned)(pg - start));
                start = 0;
            }
        }
    }
out:
    walk_free(&w);
    return rc ? rc : k->rc;
}

static char *chk_report(Chk *k, int json)
{
    TextBuf b = {0};
    const PagerMeta *m = &k->meta;
    size_t ps = pager_page_size(pager_txn_pager(k->pt));
    uint64_t nidx = 0;
    for (size_t i = 0; i < k->ncolls; i++)
        nidx += k->colls[i].nidx;
    const char *mode = k->full ? "full" : "quick";
    if (json) {
        tb_printf(&b,
                   "{\"check\":\"%s\",\"snapshot\":%llu,\"page_size\":%zu,\"pages\":%u,"
                   "\"checked\":{\"pages_read\":%llu,\"free_pages\":%llu,\"collections\":%zu,"
                   "\"documents\":%llu,\"indexes\":%llu,\"index_entries\":%llu,"
                   "\"kv_entries\":%llu,\"changes\":%llu},\"problems\":",
                   mode, (unsigned long long)m->txnid, ps, (unsigned)m->npages,
                   (unsigned long long)k->pages_read, (unsigned long long)k->free_listed,
                   k->ncolls, (unsigned long long)k->docs, (unsigned long long)nidx,
                   (unsigned long long)k->entries, (unsigned long long)k->kv,
                   (unsigned long long)k->changes);
        probs_json(&b, &k->pr);
        tb_printf(&b, ",\"problems_total\":%llu,\"problems_not_listed\":%llu,\"verdict\":\"%s\"}",
                   (unsigned long long)k->pr.total, (unsigned long long)(k->pr.total - k->pr.n),
                   k->pr.total ? "corrupt" : "ok");
    } else {
        tb_printf(&b, "BlazeDB integrity check (%s) of commit %llu: %u pages of %zu bytes\n",
                   mode, (unsigned long long)m->txnid, (unsigned)m->npages, ps);
        tb_printf(&b,
                   "checked: %llu pages read, %llu free, %zu collections, %llu documents, "
                   "%llu indexes with %llu entries, %llu key-value entries, %llu change "
                   "records\n",
                   (unsigned long long)k->pages_read, (unsigned long long)k->free_listed,
                   k->ncolls, (unsigned long long)k->docs, (unsigned long long)nidx,
                   (unsigned long long)k->entries, (unsigned long long)k->kv,
                   (unsigned long long)k->changes);
        probs_text(&b, &k->pr, "problem");
        if (k->pr.total)
            tb_printf(&b, "verdict: CORRUPT (%llu problem%s)\n",
                       (unsigned long long)k->pr.total, k->pr.total == 1 ? "" : "s");
        else
            tb_printf(&b, "verdict: OK (no problems found)\n");
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

BlazeDBResult blazedb_check(BlazeDB *db, unsigned flags, BlazeDBProgressFn progress, void *arg,
                            char **report, uint64_t *problems)
{
    if (report)
        *report = NULL;
    if (problems)
        *problems = 0;
    if (!db)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!db_handle_ok(db))
        return BLAZEDB_MISUSE;
    if (flags & ~(unsigned)(BLAZEDB_CHECK_QUICK | BLAZEDB_CHECK_JSON))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "check: unknown flags 0x%x", flags);
    sqlapi_init(); /* partial-index predicates need the SQL layer's functions */
    Chk k;
    memset(&k, 0, sizeof k);
    k.db = db;
    k.full = !(flags & BLAZEDB_CHECK_QUICK);
    k.progress = progress;
    k.parg = arg;
    k.intr = db_interrupts(db);
    int rc = pager_begin(db_pager(db), 0, &k.pt);
    if (rc)
        return db_error(db, (BlazeDBResult)rc, "check: %s", pager_errmsg(db_pager(db)));
    k.meta = *pager_txn_meta(k.pt);
    if (!(k.owner = calloc(k.meta.npages ? k.meta.npages : 1, sizeof *k.owner))) {
        pager_commit(k.pt);
        return db_error(db, BLAZEDB_NOMEM, "check: out of memory");
    }
    rc = chk_run(&k);
    if (rc == BLAZEDB_OK && progress && progress(k.meta.npages, k.meta.npages, arg))
        rc = BLAZEDB_CANCELLED;
    char *rep = NULL;
    if (rc == BLAZEDB_OK && report && !(rep = chk_report(&k, (flags & BLAZEDB_CHECK_JSON) != 0)))
        rc = BLAZEDB_NOMEM;
    uint64_t total = k.pr.total;
    pager_commit(k.pt);
    chk_free_all(&k);
    if (rc == BLAZEDB_CANCELLED)
        return db_error(db, BLAZEDB_CANCELLED, "check: cancelled");
    if (rc)
        return db_error(db, (BlazeDBResult)rc, "check: %s", blazedb_strerror((BlazeDBResult)rc));
    if (report)
        *report = rep;
    if (problems)
        *problems = total;
    if (total)
        return db_error(db, BLAZEDB_CORRUPT, "check: %llu problem%s found",
                        (unsigned long long)total, total == 1 ? "" : "s");
    return BLAZEDB_OK;
}

/* ===================================================================================== */
/*                                     REPAIR                                            */
/* ===================================================================================== */

/* The source, read at the page level. */
typedef struct {
    OsVfs *vfs;
    OsFile *main, *wal;
    CodecKeys keys;
    size_t ps, P;
    Pgno nfile;            /* whole pages in the main file */
    WalIndex widx;
    int have_wal;
    uint8_t *img;
    int last_blank;        /* the last failed read found an all-zero image */
    int io_error;
} RSrc;

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The newest committed image of pg (the log's, else the main file's),
 * opened with the number and version its trailer claims. */
static int rs_read(void *ctx, Pgno pg, uint8_t *payload, uint64_t *ctr)
{
    RSrc *s = ctx;
    PageTrailer tr;
    s->last_blank = 0;
    uint32_t fr = s->have_wal ? wal_index_get(&s->widx, pg) : 0;
    if (fr && os_read(s->wal, s->img, s->ps, (uint64_t)fr * s->ps, NULL) == 0) {
        codec_read_trailer(s->img, s->ps, &tr);
        if (codec_open(&s->keys, s->img, payload, s->ps, pg, tr.ctr, PAGE_KIND_DATA) == 0 &&
            tr.ctr) {
            *ctr = tr.ctr;
            return BLAZEDB_OK;
        }
    }
    if (pg >= s->nfile) {
        s->last_blank = 1;
        return BLAZEDB_CORRUPT;
    }
    if (os_read(s->main, s->img, s->ps, (uint64_t)pg * s->ps, NULL)) {
        s->io_error = 1;
        return BLAZEDB_IO_ERROR;
    }
    codec_read_trailer(s->img, s->ps, &tr);
    if (tr.ctr && codec_open(&s->keys, s->img, payload, s->ps, pg, tr.ctr, PAGE_KIND_DATA) == 0) {
        *ctr = tr.ctr;
        return BLAZEDB_OK;
    }
    s->last_blank = all_zero(s->img, s->ps);
    return BLAZEDB_CORRUPT;
}

/* A key range lost with a damaged page. */
typedef struct {
    uint8_t *lo, *hi;      /* NULL: open end */
    size_t lol, hil;
} RRange;

typedef struct {
    char *name;            /* as stored */
    size_t nlen;
    char *where;           /* "collection 'x'" */
    CatColl c;
    uint64_t rec_ctr;      /* version of the catalog page it came from */
    IdxDef *idx;
    size_t nidx;
    RRange *lost;
    size_t nlost;
    int walked;
    uint64_t docs, orphans;
    CatColl out;           /* its record in the new database */
    int created;
} RColl;

/* A recovered entry: where to read it again. */
typedef struct {
    uint32_t target;       /* collection index, or KV / lost_and_found */
    uint32_t klen;
    uint8_t *key;
    uint64_t ctr;
    Pgno pg;
    uint32_t cell;
    int orphan;
} Cand;

typedef struct {
    uint32_t target;
    uint8_t *id;
    size_t idl;
    const char *how;
} LostId;

typedef struct {
    RSrc src;
    Pgno maxp;
    uint8_t *st;           /* per page: 0 unread, 1 ok, 2 failed, 3 blank */
    uint8_t *type;         /* per page: payload[0] when ok */
    uint8_t *claimed;      /* reached by a tree walk */
    uint8_t *freep;        /* listed by the free tree */
    char **pwhere;         /* per page: the tree a damaged reference named */
    int free_ok;           /* the free tree was read completely */
    int stale;             /* no meta, or pages newer than the meta used */
    uint64_t maxctr;       /* newest page version seen */
    int have_meta;
    PagerMeta meta;
    const char *meta_from;
    RColl *colls;
    size_t ncolls;
    uint32_t kv_target, lf_target;
    RRange *kv_lost, *cat_lost;
    size_t nkv_lost, ncat_lost;
    Cand *cands;
    size_t ncands, ccands;
    uint32_t *ht;          /* hash table of cand indexes + 1 */
    size_t htcap;
    LostId *lost;
    size_t nlost, clost;
    Probs dmg, notes;
    /* walk context */
    int kind;              /* RK_* of the tree being walked */
    uint32_t target;
    RColl *cur;
    const char *where;
    uint64_t kv, lf_docs, orphan_docs, bad_docs;
    BlazeDBProgressFn progress;
    void *parg;
    uint64_t done, total;
    int rc;
} Rep;

enum { RK_FREE, RK_KV, RK_CATALOG, RK_DOCS, RK_INDEX, RK_OTHER };

static int rep_tick(Rep *r)
{
    if ((++r->done & 255) == 0 && r->progress && r->progress(r->done, r->total, r->parg))
        return BLAZEDB_CANCELLED;
    return 0;
}

static uint64_t key_hash(uint32_t target, const uint8_t *k, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ target;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001B3ULL;
    return mix64(h);
}

static Cand *cand_find(Rep *r, uint32_t target, const uint8_t *k, size_t kl, size_t *slot)
{
    if (!r->htcap)
        return NULL;
    size_t j = key_hash(target, k, kl) & (r->htcap - 1);
    while (r->ht[j]) {
        Cand *c = &r->cands[r->ht[j] - 1];
        if (c->target == target && c->klen == kl && memcmp(c->key, k, kl) == 0) {
            if (slot)
                *slot = j;
            return c;
        }
        j = (j + 1) & (r->htcap - 1);
    }
    if (slot)
        *slot = j;
    return NULL;
}

static int ht_grow(Rep *r)
{
    size_t nc = r->htcap ? r->htcap * 2 : 1024;
    uint32_t *nt = calloc(nc, sizeof *nt);
    if (!nt)
        return BLAZEDB_NOMEM;
    for (size_t i = 0; i < r->ncands; i++) {
        size_t j = key_hash(r->cands[i].target, r->cands[i].key, r->cands[i].klen) & (nc - 1);
        while (nt[j])
            j = (j + 1) & (nc - 1);
        nt[j] = (uint32_t)i + 1;
    }
    free(r->ht);
    r->ht = nt;
    r->htcap = nc;
    return BLAZEDB_OK;
}

/* Offers an entry; the newest page version wins. */
static int cand_add(Rep *r, uint32_t target, const uint8_t *k, size_t kl, uint64_t ctr, Pgno pg,
                    unsigned cell, int orphan)
{
    if ((r->ncands + 1) * 2 > r->htcap && ht_grow(r))
        return BLAZEDB_NOMEM;
    size_t slot;
    Cand *c = cand_find(r, target, k, kl, &slot);
    if (c) {
        if (ctr > c->ctr) {
            c->ctr = ctr;
            c->pg = pg;
            c->cell = cell;
            c->orphan = orphan;
        }
        return BLAZEDB_OK;
    }
    if (r->ncands == r->ccands) {
        size_t nc = r->ccands ? r->ccands * 2 : 1024;
        Cand *n = realloc(r->cands, nc * sizeof *n);
        if (!n)
            return BLAZEDB_NOMEM;
        r->cands = n;
        r->ccands = nc;
    }
    c = &r->cands[r->ncands];
    if (!(c->key = malloc(kl ? kl : 1)))
        return BLAZEDB_NOMEM;
    memcpy(c->key, k, kl);
    c->klen = (uint32_t)kl;
    c->target = target;
    c->ctr = ctr;
    c->pg = pg;
    c->cell = cell;
    c->orphan = orphan;
    r->ht[slot] = (uint32_t)++r->ncands;
    return BLAZEDB_OK;
}

static int range_add(RRange **v, size_t *n, const uint8_t *lo, size_t lol, const uint8_t *hi,
                     size_t hil)
{
    RRange *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return BLAZEDB_NOMEM;
    *v = nv;
    RRange *g = &nv[*n];
    memset(g, 0, sizeof *g);
    if (lo && !(g->lo = (uint8_t *)dup_n(lo, lol)))
        return BLAZEDB_NOMEM;
    if (hi && !(g->hi = (uint8_t *)dup_n(hi, hil))) {
        free(g->lo);
        return BLAZEDB_NOMEM;
    }
    g->lol = lol;
    g->hil = hil;
    (*n)++;
    return BLAZEDB_OK;
}

static void ranges_free(RRange *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].lo);
        free(v[i].hi);
    }
    free(v);
}

/* Is [a, b] inside one of the ranges? */
static int in_ranges(const RRange *v, size_t n, const uint8_t *a, size_t al, const uint8_t *b,
                     size_t bl)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].lo && keycmp(a, al, v[i].lo, v[i].lol) < 0)
            continue;
        if (v[i].hi && keycmp(b, bl, v[i].hi, v[i].hil) >= 0)
            continue;
        return 1;
    }
    return 0;
}

static int lost_add(Rep *r, uint32_t target, const uint8_t *id, size_t idl, const char *how)
{
    if (r->nlost == r->clost) {
        size_t nc = r->clost ? r->clost * 2 : 64;
        LostId *n = realloc(r->lost, nc * sizeof *n);
        if (!n)
            return BLAZEDB_NOMEM;
        r->lost = n;
        r->clost = nc;
    }
    LostId *l = &r->lost[r->nlost];
    if (!(l->id = (uint8_t *)dup_n(id, idl)))
        return BLAZEDB_NOMEM;
    l->idl = idl;
    l->target = target;
    l->how = how;
    r->nlost++;
    return BLAZEDB_OK;
}

static const char *target_name(Rep *r, uint32_t t)
{
    if (t < r->ncolls)
        return r->colls[t].where;
    return t == r->kv_target ? "key-value tree" : "collection 'lost_and_found'";
}

static void rep_page(Walk *w, Pgno pg, int type)
{
    Rep *r = w->arg;
    (void)type;
    if (pg < r->maxp)
        r->claimed[pg] = 1;
}

static void rep_bad(Walk *w, const WBad *b)
{
    Rep *r = w->arg;
    if (!b->lost)
        return;
    if (r->kind == RK_FREE)
        r->free_ok = 0;
    if (b->pg && b->pg < r->maxp && !r->pwhere[b->pg]) {
        TextBuf t = {0};
        tb_put(&t, r->where, strlen(r->where));
        if (b->key) {
            tb_put(&t, ", the value of '", 16);
            buf_safe(&t, b->key, b->kl);
            tb_put(&t, "'", 1);
        } else if (b->lo || b->hi) {
            tb_put(&t, ", keys from ", 12);
            if (b->lo) {
                tb_put(&t, "'", 1);
                buf_safe(&t, b->lo, b->lol);
                tb_put(&t, "'", 1);
            } else
                tb_put(&t, "the first", 9);
            tb_put(&t, " up to ", 7);
            if (b->hi) {
                tb_put(&t, "'", 1);
                buf_safe(&t, b->hi, b->hil);
                tb_put(&t, "'", 1);
            } else
                tb_put(&t, "the last", 8);
        } else {
            tb_put(&t, ", the whole tree", 16);
        }
        if (!t.oom)
            r->pwhere[b->pg] = t.p;
        else
            free(t.p);
        if (r->st[b->pg] == 1)
            prob_add(&r->notes, b->pg, r->where, NULL, 0, "%s", b->msg);
    }
    int rc = BLAZEDB_OK;
    if (b->key) {
        if (r->kind == RK_DOCS || r->kind == RK_KV)
            rc = lost_add(r, r->target, b->key, b->kl, "its value's overflow chain is damaged");
    } else if (r->kind == RK_DOCS) {
        rc = range_add(&r->cur->lost, &r->cur->nlost, b->lo, b->lol, b->hi, b->hil);
    } else if (r->kind == RK_KV) {
        rc = range_add(&r->kv_lost, &r->nkv_lost, b->lo, b->lol, b->hi, b->hil);
    } else if (r->kind == RK_CATALOG) {
        rc = range_add(&r->cat_lost, &r->ncat_lost, b->lo, b->lol, b->hi, b->hil);
    }
    if (rc)
        w->rc = rc;
}

static int rep_cell_free(Walk *w, const WCell *c)
{
    Rep *r = w->arg;
    if (c->klen != FL_KEY || !c->val || c->vlen % 4)
        return 0;
    for (size_t i = 0; i < c->vlen / 4; i++) {
        Pgno pg = rd32(c->val + 4 * i);
        if (pg < r->maxp)
            r->freep[pg] = 1;
    }
    return 0;
}

static RColl *rcoll_by_id(Rep *r, uint64_t id)
{
    for (size_t i = 0; i < r->ncolls; i++)
        if (r->colls[i].c.id == id)
            return &r->colls[i];
    return NULL;
}

static int rep_cell_catalog(Walk *w, const WCell *c)
{
    Rep *r = w->arg;
    if (!c->val || c->klen < 2)
        return 0;
    if (c->key[0] == 'c') {
        CatColl cc;
        if (cat_name_ok((const char *)c->key + 1, c->klen - 1) || cat_record_decode(c->val, c->vlen, &cc))
            return 0;
        for (size_t i = 0; i < r->ncolls; i++) {
            RColl *o = &r->colls[i];
            if (o->nlen == c->klen - 1 && memcmp(o->name, c->key + 1, o->nlen) == 0) {
                if (c->leaf_ctr > o->rec_ctr && !o->walked) {
                    o->c = cc;
                    o->rec_ctr = c->leaf_ctr;
                }
                return 0;
            }
        }
        if (rcoll_by_id(r, cc.id))
            return 0;
        RColl *n = realloc(r->colls, (r->ncolls + 1) * sizeof *n);
        if (!n)
            return BLAZEDB_NOMEM;
        r->colls = n;
        RColl *co = &n[r->ncolls];
        memset(co, 0, sizeof *co);
        co->c = cc;
        co->rec_ctr = c->leaf_ctr;
        co->nlen = c->klen - 1;
        co->name = dup_n(c->key + 1, co->nlen);
        char *sn = safe_dup(c->key + 1, co->nlen);
        TextBuf b = {0};
        tb_printf(&b, "collection '%s'", sn ? sn : "");
        free(sn);
        co->where = b.p;
        if (!co->name || b.oom) {
            free(co->name);
            free(b.p);
            return BLAZEDB_NOMEM;
        }
        r->ncolls++;
    } else if (c->key[0] == 'i' && c->klen > 9) {
        RColl *co = rcoll_by_id(r, get_be64(c->key + 1));
        if (!co || c->klen - 9 > IDX_MAX_NAME)
            return 0;
        for (size_t i = 0; i < co->nidx; i++)
            if (strlen(co->idx[i].name) == c->klen - 9 &&
                memcmp(co->idx[i].name, c->key + 9, c->klen - 9) == 0)
                return 0;
        IdxDef *ni = realloc(co->idx, (co->nidx + 1) * sizeof *ni);
        if (!ni)
            return BLAZEDB_NOMEM;
        co->idx = ni;
        int d = idx_def_decode(c->val, c->vlen, co->c.id, (const char *)c->key + 9, c->klen - 9,
                               &ni[co->nidx]);
        if (d < 0)
            return BLAZEDB_NOMEM;
        if (d)
            co->nidx++;
    }
    return 0;
}

/* A valid document stored under key k (its "id" equals the key). */
static int doc_ok(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    char err[DOC_ERRMAX];
    DocView d;
    return v && docbin_validate(v, vl, err) == BLAZEDB_OK &&
           docbin_lookup_valid(v, vl, "id", &d) == BLAZEDB_OK && d.type == DOC_STRING &&
           d.dlen == kl && memcmp(d.data, k, kl) == 0;
}

static int rep_cell_docs(Walk *w, const WCell *c)
{
    Rep *r = w->arg;
    int rc = rep_tick(r);
    if (rc)
        return rc;
    if (!c->val)
        return 0; /* a damaged overflow chain: counted as lost */
    if (!doc_ok(c->key, c->klen, c->val, c->vlen)) {
        r->bad_docs++;
        prob_add(&r->notes, c->leaf, r->where, c->key, c->klen,
                 "document does not decode; not recovered");
        return lost_add(r, r->target, c->key, c->klen, "it does not decode");
    }
    return cand_add(r, r->target, c->key, c->klen, c->leaf_ctr, c->leaf, c->cell, 0);
}

static int rep_cell_kv(Walk *w, const WCell *c)
{
    Rep *r = w->arg;
    if (!c->val)
        return 0;
    return cand_add(r, r->kv_target, c->key, c->klen, c->leaf_ctr, c->leaf, c->cell, 0);
}

/* Index entries name ids: those inside a lost range may be lost. */
static int rep_cell_index(Walk *w, const WCell *c)
{
    Rep *r = w->arg;
    const char *id;
    size_t idl;
    if (idx_key_id(c->key, c->klen, &id, &idl))
        return 0;
    const uint8_t *u = (const uint8_t *)id;
    if (r->cur->nlost && in_ranges(r->cur->lost, r->cur->nlost, u, idl, u, idl))
        return lost_add(r, r->target, u, idl, "an index entry names it");
    return 0;
}

static int rep_walk(Rep *r, Walk *w, const PagerRoot *root, int kind, uint32_t target,
                    const char *where, int (*cell)(Walk *, const WCell *), int assemble)
{
    r->kind = kind;
    r->target = target;
    r->where = where;
    w->cell = cell;
    w->assemble = assemble;
    return walk_tree(w, root);
}

/* Reads an orphan or free leaf and calls fn(r, page, ctr, first, last, ...)
 * for it; the page data is in buf. */
static int leaf_bounds(const uint8_t *d, size_t P, const uint8_t **a, size_t *al,
                       const uint8_t **b, size_t *bl)
{
    if (!node_ok(d, P) || d[0] != BT_LEAF || nkeys(d) == 0)
        return -1;
    *a = cell_key(BT_LEAF, cell_at(d, 0), al);
    *b = cell_key(BT_LEAF, cell_at(d, nkeys(d) - 1), bl);
    return 0;
}

/* The value of leaf cell i (overflow assembled through w); NULL when its
 * chain is damaged. */
static const uint8_t *leaf_value(Walk *w, const uint8_t *d, unsigned i, size_t *vl)
{
    const uint8_t *c = cell_at(d, i);
    size_t kl = rd16(c);
    *vl = rd32(c + 3);
    if (!(c[2] & LCELL_OVF))
        return c + LCELL_HDR + kl;
    if (w->vcap < *vl) {
        uint8_t *nb = realloc(w->vbuf, *vl ? *vl : 1);
        if (!nb) {
            w->rc = BLAZEDB_NOMEM;
            return NULL;
        }
        w->vbuf = nb;
        w->vcap = *vl;
    }
    const uint8_t *rp = c + LCELL_HDR + kl;
    void (*bad)(Walk *, const WBad *) = w->bad;
    void (*page)(Walk *, Pgno, int) = w->page;
    w->bad = NULL;
    w->page = NULL;
    int rc = walk_ovf(w, mkref(rd32(rp), rd64(rp + 4)), (uint32_t)*vl, w->vbuf, c + LCELL_HDR, kl);
    w->bad = bad;
    w->page = page;
    return rc == 0 ? w->vbuf : NULL;
}

/* The leaf looks like the catalog's: every key a catalog record kind, and
 * at least one collection record or index definition. */
static int catalog_like(const uint8_t *d)
{
    int seen = 0;
    for (unsigned i = 0; i < nkeys(d); i++) {
        const uint8_t *c = cell_at(d, i);
        size_t kl = rd16(c);
        uint8_t k0 = c[LCELL_HDR];
        if (!memchr("cdijn", k0, 5))
            return 0;
        if (k0 == 'c' && !(c[2] & LCELL_OVF) && rd32(c + 3) == CAT_RECORD_SIZE &&
            rd32(c + LCELL_HDR + kl) == 1)
            seen = 1;
        if (k0 == 'i' && kl > 9)
            seen = 1;
    }
    return seen;
}

/* The leaf may be the byte-KV tree's: it does not look like an index
 * (empty values, keys ending in an id length), the free tree or the change
 * log (12-byte keys), or the catalog. */
static int kv_like(const uint8_t *d)
{
    unsigned n = nkeys(d);
    int idx = 1, twelve = 1;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *c = cell_at(d, i);
        size_t kl = rd16(c);
        const char *id;
        size_t idl;
        if ((c[2] & LCELL_OVF) || rd32(c + 3) != 0 || idx_key_id(c + LCELL_HDR, kl, &id, &idl))
            idx = 0;
        if (kl != FL_KEY)
            twelve = 0;
    }
    return !idx && !twelve && !catalog_like(d);
}

/* Which collection's lost ranges hold [a, b]: its index, or -1 (none or
 * several). */
static long coll_for_range(Rep *r, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    long found = -1;
    for (size_t i = 0; i < r->ncolls; i++)
        if (r->colls[i].nlost && in_ranges(r->colls[i].lost, r->colls[i].nlost, a, al, b, bl)) {
            if (found >= 0)
                return -1;
            found = (long)i;
        }
    return found;
}

/* Pass over leaves no tree reached.  stage 0: catalog leaves inside the
 * catalog's lost ranges; stage 1: document and byte-KV leaves; stage 2:
 * free leaves, for ids lost with a damaged page (older versions). */
static int orphan_pass(Rep *r, Walk *w, int stage)
{
    uint8_t *d = malloc(r->src.P);
    if (!d)
        return BLAZEDB_NOMEM;
    int rc = BLAZEDB_OK;
    for (Pgno pg = PAGER_FIRST_DATA_PGNO; pg < r->maxp && !rc; pg++) {
        if (r->st[pg] != 1 || r->claimed[pg] || r->type[pg] != BT_LEAF)
            continue;
        if (stage == 2 ? !r->freep[pg] : (r->free_ok && r->freep[pg]))
            continue;
        if ((rc = rep_tick(r)))
            break;
        uint64_t ctr;
        if (rs_read(&r->src, pg, d, &ctr))
            continue;
        const uint8_t *a, *b;
        size_t al, bl;
        if (leaf_bounds(d, r->src.P, &a, &al, &b, &bl))
            continue;
        unsigned n = nkeys(d);
        if (stage == 0) {
            if (!catalog_like(d) ||
                (!r->stale && !in_ranges(r->cat_lost, r->ncat_lost, a, al, b, bl)))
                continue;
            for (unsigned i = 0; i < n && !rc; i++) {
                WCell wc;
                const uint8_t *c = cell_at(d, i);
                wc.key = c + LCELL_HDR;
                wc.klen = rd16(c);
                wc.val = leaf_value(w, d, i, &wc.vlen);
                wc.leaf = pg;
                wc.leaf_ctr = ctr;
                wc.cell = i;
                rc = w->rc ? w->rc : rep_cell_catalog(w, &wc);
            }
            r->claimed[pg] = 1;
            continue;
        }
        /* a document leaf? */
        int docs = 1;
        for (unsigned i = 0; i < n && docs; i++) {
            size_t vl, kl;
            const uint8_t *k = cell_key(BT_LEAF, cell_at(d, i), &kl);
            const uint8_t *v = leaf_value(w, d, i, &vl);
            if (w->rc) {
                rc = w->rc;
                break;
            }
            docs = v ? doc_ok(k, kl, v, vl) : (cell_at(d, i)[2] & LCELL_OVF) != 0;
        }
        if (rc)
            break;
        long t = coll_for_range(r, a, al, b, bl);
        /* a leaf holding ids a collection already has is (a version of) one
         * of its pages, e.g. a newer version of a page an older meta still
         * reaches */
        for (unsigned i = 0; i < n && t < 0 && docs && stage == 1; i++) {
            size_t kl;
            const uint8_t *k = cell_key(BT_LEAF, cell_at(d, i), &kl);
            for (size_t c = 0; c < r->ncolls && t < 0; c++)
                if (cand_find(r, (uint32_t)c, k, kl, NULL))
                    t = (long)c;
        }
        if (stage == 2) {
            if (!docs || t < 0)
                continue;
            for (unsigned i = 0; i < n && !rc; i++) {
                size_t kl;
                const uint8_t *k = cell_key(BT_LEAF, cell_at(d, i), &kl);
                if (in_ranges(r->colls[t].lost, r->colls[t].nlost, k, kl, k, kl))
                    rc = lost_add(r, (uint32_t)t, k, kl, "an older version of its page holds it");
            }
            continue;
        }
        uint32_t target;
        if (docs)
            target = t >= 0 ? (uint32_t)t : r->lf_target;
        else if (kv_like(d) &&
                 (r->stale || (r->nkv_lost && in_ranges(r->kv_lost, r->nkv_lost, a, al, b, bl))))
            target = r->kv_target;
        else
            continue;
        r->claimed[pg] = 1;
        for (unsigned i = 0; i < n && !rc; i++) {
            size_t kl, vl;
            const uint8_t *k = cell_key(BT_LEAF, cell_at(d, i), &kl);
            const uint8_t *v = leaf_value(w, d, i, &vl);
            if (!v) {
                rc = w->rc ? w->rc : lost_add(r, target, k, kl, "its value's overflow chain is damaged");
                continue;
            }
            if (target == r->lf_target) {
                /* a copy of a document recovered in its collection is
                 * an older version left on a page nothing reaches */
                int known = 0;
                for (size_t c = 0; c < r->ncolls && !known; c++) {
                    Cand *x = cand_find(r, (uint32_t)c, k, kl, NULL);
                    known = x && x->ctr >= ctr;
                }
                if (known)
                    continue;
            }
            rc = cand_add(r, target, k, kl, ctr, pg, i, 1);
        }
    }
    free(d);
    return rc;
}

/* ---- writing the new database ------------------------------------------------------- */

static int cand_cmp(const void *x, const void *y)
{
    const Cand *a = *(const Cand *const *)x, *b = *(const Cand *const *)y;
    if (a->pg != b->pg)
        return a->pg < b->pg ? -1 : 1;
    return a->cell < b->cell ? -1 : a->cell > b->cell;
}

static const char *lf_name = "lost_and_found";

/* Stores the records of every collection touched in this transaction. */
static int out_flush(Rep *r, PagerTxn *pt, RColl *lf)
{
    for (size_t i = 0; i <= r->ncolls; i++) {
        RColl *co = i < r->ncolls ? &r->colls[i] : lf;
        if (!co || !co->created)
            continue;
        int rc = cat_put(pt, co->name, co->nlen, &co->out);
        if (rc)
            return rc;
    }
    return BLAZEDB_OK;
}

static int out_write(Rep *r, BlazeDB *db, RColl *lf, char *err, size_t errlen)
{
    Cand **order = malloc((r->ncands ? r->ncands : 1) * sizeof *order);
    uint8_t *d = malloc(r->src.P);
    Walk w;
    walk_init(&w, rs_read, &r->src, r->src.P, BTREE_MAX_KEY, r->maxp);
    int rc = order && d ? BLAZEDB_OK : BLAZEDB_NOMEM;
    BlazeDBTxn *txn = NULL;
    if (rc)
        goto out;
    for (size_t i = 0; i < r->ncands; i++)
        order[i] = &r->cands[i];
    if (r->ncands)
        qsort(order, r->ncands, sizeof *order, cand_cmp);
    /* collections first (empty ones too) */
    if ((rc = blazedb_txn_begin(db, 0, &txn)))
        goto out;
    uint64_t now = (uint64_t)time(NULL) * 1000;
    for (size_t i = 0; i <= r->ncolls && !rc; i++) {
        RColl *co = i < r->ncolls ? &r->colls[i] : lf;
        if (!co)
            continue;
        rc = cat_create(db_txn_pt(txn), co->name, co->nlen,
                        co->c.flags & CAT_F_NO_TIMESTAMPS, co->c.created_ms ? co->c.created_ms : now,
                        &co->out);
        if (rc == BLAZEDB_OK)
            co->created = 1;
        else {
            snprintf(err, errlen, "cannot create %s: %s", co->where,
                     blazedb_strerror((BlazeDBResult)rc));
        }
    }
    size_t batch = 0;
    Pgno cur = 0;
    for (size_t i = 0; i < r->ncands && !rc; i++) {
        Cand *c = order[i];
        uint64_t ctr;
        if (c->pg != cur) {
            if ((rc = rep_tick(r)))
                break;
            if (rs_read(&r->src, c->pg, d, &ctr) || !node_ok(d, r->src.P) || d[0] != BT_LEAF) {
                cur = 0;
                continue; /* it did authenticate before: an I/O error now */
            }
            cur = c->pg;
        }
        if (c->cell >= nkeys(d))
            continue;
        size_t vl;
        const uint8_t *v = leaf_value(&w, d, c->cell, &vl);
        if (!v) {
            if (w.rc) {
                rc = w.rc;
                break;
            }
            continue;
        }
        PagerTxn *pt = db_txn_pt(txn);
        if (c->target == r->kv_target) {
            rc = blazedb_txn_put(txn, c->key, c->klen, v, vl);
            if (!rc)
                r->kv++;
        } else {
            RColl *co = c->target < r->ncolls ? &r->colls[c->target] : lf;
            if (!co || !co->created)
                continue;
            int replaced = 0;
            rc = btree_put(pt, &co->out.docs, c->key, c->klen, v, vl, &replaced);
            if (!rc && !replaced) {
                co->out.bytes += vl;
                co->docs++;
                if (c->orphan)
                    co->orphans++;
                if (cat_doc_deleted(v, vl)) {
                    uint8_t *k = malloc(9 + (size_t)c->klen);
                    if (!k) {
                        rc = BLAZEDB_NOMEM;
                        break;
                    }
                    k[0] = 'd';
                    for (int b = 0; b < 8; b++)
                        k[1 + b] = (uint8_t)(co->out.id >> (56 - 8 * b));
                    memcpy(k + 9, c->key, c->klen);
                    rc = btree_put(pt, &pager_txn_meta(pt)->roots[PAGER_ROOT_CATALOG], k,
                                   9 + (size_t)c->klen, "", 0, NULL);
                    free(k);
                    co->out.deleted++;
                }
            }
        }
        batch += vl + c->klen;
        if (!rc && batch > (8u << 20)) {
            if (!(rc = out_flush(r, pt, lf)))
                rc = blazedb_txn_commit(txn);
            txn = NULL;
            batch = 0;
            if (!rc)
                rc = blazedb_txn_begin(db, 0, &txn);
        }
    }
    if (!rc && txn && !(rc = out_flush(r, db_txn_pt(txn), lf))) {
        rc = blazedb_txn_commit(txn);
        txn = NULL;
    }
    if (rc && !err[0])
        snprintf(err, errlen, "writing the new database: %s", blazedb_errmsg(db));
out:
    if (txn)
        blazedb_txn_abort(txn);
    walk_free(&w);
    free(order);
    free(d);
    return rc;
}

/* Re-creates the indexes of the collections (built from the documents). */
static void out_indexes(Rep *r, BlazeDB *db, uint32_t *made, uint32_t *failed)
{
    for (size_t i = 0; i < r->ncolls; i++) {
        RColl *co = &r->colls[i];
        for (size_t j = 0; j < co->nidx && co->created; j++) {
            IdxDef *d = &co->idx[j];
            BlazeDBIndexField f[IDX_MAX_FIELDS];
            for (size_t q = 0; q < d->nfields; q++) {
                f[q].path = d->fields[q].path;
                f[q].descending = d->fields[q].desc;
                f[q].each = d->fields[q].each;
            }
            BlazeDBResult rc = blazedb_index_create(db, NULL, co->name, d->name, f, d->nfields,
                                                    d->flags & BLAZEDB_INDEX_UNIQUE, d->where);
            if (rc == BLAZEDB_OK)
                (*made)++;
            else {
                (*failed)++;
                char *sn = safe_dup(d->name, strlen(d->name));
                prob_add(&r->notes, 0, co->where, NULL, 0, "index '%s' could not be re-created: %s",
                         sn ? sn : "", blazedb_errmsg(db));
                free(sn);
            }
        }
    }
}

/* ---- the repair ---------------------------------------------------------------------- */

static int lost_cmp(const void *x, const void *y)
{
    const LostId *a = x, *b = y;
    if (a->target != b->target)
        return a->target < b->target ? -1 : 1;
    return keycmp(a->id, a->idl, b->id, b->idl);
}

static void rep_free(Rep *r)
{
    if (r->src.main)
        os_close(r->src.main);
    if (r->src.wal)
        os_close(r->src.wal);
    codec_keys_free(&r->src.keys);
    wal_index_free(&r->src.widx);
    free(r->src.img);
    free(r->st);
    free(r->type);
    free(r->claimed);
    free(r->freep);
    if (r->pwhere)
        for (Pgno i = 0; i < r->maxp; i++)
            free(r->pwhere[i]);
    free(r->pwhere);
    for (size_t i = 0; i < r->ncolls; i++) {
        RColl *co = &r->colls[i];
        free(co->name);
        free(co->where);
        idx_defs_free(co->idx, co->nidx);
        ranges_free(co->lost, co->nlost);
    }
    free(r->colls);
    ranges_free(r->kv_lost, r->nkv_lost);
    ranges_free(r->cat_lost, r->ncat_lost);
    for (size_t i = 0; i < r->ncands; i++)
        free(r->cands[i].key);
    free(r->cands);
    free(r->ht);
    for (size_t i = 0; i < r->nlost; i++)
        free(r->lost[i].id);
    free(r->lost);
    probs_free(&r->dmg);
    probs_free(&r->notes);
}

/* Opens the source: header, key, log.  Errors set err. */
static int rep_open(Rep *r, const char *src, const char *password, FileHeader *h, char *err,
                    size_t errlen)
{
    RSrc *s = &r->src;
    s->vfs = os_default_vfs();
    int e = s->vfs->open(s->vfs, src, 0, &s->main);
    if (e) {
        snprintf(err, errlen, "cannot open %s: %s", src, strerror(e));
        return e == ENOENT ? BLAZEDB_NOT_FOUND : BLAZEDB_IO_ERROR;
    }
    uint8_t dk[CRYPTO_KEY_LEN];
    int stale = 0;
    const char *pw = password ? password : "";
    char herr[256] = "";
    int rc = header_load(s->main, pw, strlen(pw), h, dk, &stale, herr, sizeof herr);
    if (rc) {
        snprintf(err, errlen, "%s: %s", src, herr[0] ? herr : blazedb_strerror((BlazeDBResult)rc));
        return rc;
    }
    s->ps = h->page_size;
    s->P = s->ps - PAGER_TRAILER;
    /* both keys while a re-encryption is under way: pages are under either */
    int plain = (h->flags & HEADER_FLAG_PLAINTEXT) != 0;
    int keyed = codec_keys_add(&s->keys, h->key_epoch, plain ? NULL : dk) == 0;
    if (keyed && h->rekeying) {
        uint8_t next[CRYPTO_KEY_LEN];
        if (header_unwrap_next(h, dk, next) == BLAZEDB_OK)
            keyed = codec_keys_add(&s->keys, h->key_epoch + 1, next) == 0;
        else
            prob_add(&r->notes, 0, "header", NULL, 0,
                     "the next data key of the re-encryption under way does not "
                     "authenticate: pages already under it cannot be read");
        crypto_wipe(next, sizeof next);
    }
    crypto_wipe(dk, sizeof dk);
    if (!keyed || !(s->img = malloc(s->ps))) {
        snprintf(err, errlen, "out of memory");
        return BLAZEDB_NOMEM;
    }
    uint64_t size = 0;
    if ((e = os_size(s->main, &size))) {
        snprintf(err, errlen, "%s: %s", src, strerror(e));
        return BLAZEDB_IO_ERROR;
    }
    uint64_t np = size / s->ps;
    s->nfile = np > PAGER_MAX_PGNO ? PAGER_MAX_PGNO : (Pgno)np;
    if (size % s->ps)
        prob_add(&r->notes, 0, "source", NULL, 0,
                 "the file ends inside a page (%llu bytes past page %u): truncated",
                 (unsigned long long)(size % s->ps), (unsigned)s->nfile);
    /* the log: committed frames only */
    wal_index_init(&s->widx);
    size_t wl = strlen(src) + 5;
    char *wp = malloc(wl);
    if (!wp)
        return BLAZEDB_NOMEM;
    snprintf(wp, wl, "%s-wal", src);
    if (s->vfs->open(s->vfs, wp, 0, &s->wal) == 0) {
        uint64_t salt;
        WalRecovery rec;
        if (wal_read_header(s->wal, s->ps, h->file_id, &salt) == 0 &&
            wal_recover(s->wal, &s->keys, s->ps, h->file_id, salt, &s->widx, &rec) == 0 &&
            rec.frames) {
            s->have_wal = 1;
            if (rec.have_meta && (!r->have_meta || rec.meta.txnid > r->meta.txnid)) {
                r->meta = rec.meta;
                r->have_meta = 1;
                r->meta_from = "the log";
            }
        }
    }
    free(wp);
    return BLAZEDB_OK;
}

static void rep_metas(Rep *r)
{
    RSrc *s = &r->src;
    uint8_t *pl = malloc(s->ps);
    if (!pl)
        return;
    for (Pgno pg = 1; pg <= 2; pg++) {
        PagerMeta m;
        if (pg >= s->nfile || os_read(s->main, s->img, s->ps, (uint64_t)pg * s->ps, NULL))
            continue;
        if (codec_open(&s->keys, s->img, pl, s->ps, pg, 0, PAGE_KIND_META) ||
            codec_meta_decode(pl, &m)) {
            prob_add(&r->dmg, pg, "meta page", NULL, 0, "fails authentication");
            continue;
        }
        if (!r->have_meta || m.txnid > r->meta.txnid) {
            r->meta = m;
            r->have_meta = 1;
            r->meta_from = pg == 1 ? "meta page 1" : "meta page 2";
        }
    }
    free(pl);
}

static char *rep_report(Rep *r, const char *src, const char *out, const BlazeDBRepairStats *st,
                        int json)
{
    TextBuf b = {0};
    if (json) {
        tb_put(&b, "{\"source\":", 10);
        tb_json_cstr(&b, src);
        tb_put(&b, ",\"output\":", 10);
        tb_json_cstr(&b, out);
        tb_printf(&b, ",\"page_size\":%zu,\"pages\":%llu,\"meta\":", r->src.ps,
                   (unsigned long long)st->pages);
        if (r->have_meta)
            tb_printf(&b, "{\"commit\":%llu,\"from\":\"%s\"}", (unsigned long long)r->meta.txnid,
                       r->meta_from);
        else
            tb_put(&b, "null", 4);
        tb_printf(&b, ",\"pages_failed\":%llu,\"damaged\":", (unsigned long long)st->pages_failed);
        probs_json(&b, &r->dmg);
        tb_printf(&b, ",\"damaged_not_listed\":%llu,\"ids_lost\":%llu,\"lost\":[",
                   (unsigned long long)(r->dmg.total - r->dmg.n), (unsigned long long)st->ids_lost);
        size_t listed = 0;
        for (size_t i = 0; i < r->nlost && listed < CHK_MAX_LISTED; i++) {
            if (!r->lost[i].how)
                continue;
            char *sid = safe_dup(r->lost[i].id, r->lost[i].idl);
            tb_put(&b, listed ? ",{\"where\":" : "{\"where\":", listed ? 10 : 9);
            tb_json_cstr(&b, target_name(r, r->lost[i].target));
            tb_put(&b, ",\"id\":", 6);
            tb_json_cstr(&b, sid ? sid : "");
            tb_put(&b, ",\"why\":", 7);
            tb_json_cstr(&b, r->lost[i].how);
            tb_put(&b, "}", 1);
            free(sid);
            listed++;
        }
        tb_put(&b, "],\"collections\":[", 17);
        int first = 1;
        for (size_t i = 0; i < r->ncolls; i++) {
            RColl *co = &r->colls[i];
            if (!co->created)
                continue;
            tb_put(&b, first ? "{\"name\":" : ",{\"name\":", first ? 8 : 9);
            char *sn = safe_dup(co->name, co->nlen);
            tb_json_cstr(&b, sn ? sn : "");
            free(sn);
            tb_printf(&b, ",\"documents\":%llu,\"from_orphaned_pages\":%llu,\"indexes\":%zu}",
                       (unsigned long long)co->docs, (unsigned long long)co->orphans, co->nidx);
            first = 0;
        }
        tb_printf(&b,
                   "],\"documents\":%llu,\"orphans\":%llu,\"lost_and_found\":%llu,"
                   "\"kv_entries\":%llu,\"indexes\":%u,\"indexes_failed\":%u,\"notes\":",
                   (unsigned long long)st->documents, (unsigned long long)st->orphans,
                   (unsigned long long)st->lost_and_found, (unsigned long long)st->kv_entries,
                   st->indexes, st->indexes_failed);
        probs_json(&b, &r->notes);
        tb_printf(&b, ",\"verdict\":\"%s\"}", st->complete ? "complete" : "partial");
    } else {
        tb_printf(&b, "BlazeDB repair of %s into %s\n", src, out);
        tb_printf(&b, "source: %llu pages of %zu bytes", (unsigned long long)st->pages,
                   r->src.ps);
        if (r->have_meta)
            tb_printf(&b, "; newest readable meta: commit %llu (%s)\n",
                       (unsigned long long)r->meta.txnid, r->meta_from);
        else
            tb_printf(&b, "; no meta authenticates: every tree is rebuilt from its pages\n");
        if (st->pages_failed) {
            tb_printf(&b, "pages that fail authentication (%llu):",
                       (unsigned long long)st->pages_failed);
            size_t listed = 0;
            for (Pgno pg = 1; pg < r->maxp && listed < CHK_MAX_LISTED; pg++)
                if (r->st[pg] == 2) {
                    tb_printf(&b, " %u", (unsigned)pg);
                    listed++;
                }
            for (size_t i = 0; i < r->dmg.n; i++)
                if (r->dmg.v[i].page <= 2)
                    tb_printf(&b, " %u", (unsigned)r->dmg.v[i].page);
            tb_put(&b, "\n", 1);
        }
        probs_text(&b, &r->dmg, "damaged");
        size_t listed = 0;
        for (size_t i = 0; i < r->nlost && listed < CHK_MAX_LISTED; i++) {
            if (!r->lost[i].how)
                continue;
            char *sid = safe_dup(r->lost[i].id, r->lost[i].idl);
            tb_printf(&b, "lost: %s: id '%s' (%s)\n", target_name(r, r->lost[i].target),
                       sid ? sid : "", r->lost[i].how);
            free(sid);
            listed++;
        }
        if (st->ids_lost > listed)
            tb_printf(&b, "... and %llu more lost ids\n",
                       (unsigned long long)(st->ids_lost - listed));
        for (size_t i = 0; i < r->ncolls; i++) {
            RColl *co = &r->colls[i];
            if (!co->created)
                continue;
            tb_printf(&b, "recovered: %s: %llu documents", co->where,
                       (unsigned long long)co->docs);
            if (co->orphans)
                tb_printf(&b, " (%llu from pages no tree reached)",
                           (unsigned long long)co->orphans);
            tb_printf(&b, ", %zu index definition%s\n", co->nidx, co->nidx == 1 ? "" : "s");
        }
        if (st->lost_and_found)
            tb_printf(&b,
                       "recovered: collection '%s': %llu documents whose collection could not "
                       "be told\n",
                       lf_name, (unsigned long long)st->lost_and_found);
        tb_printf(&b, "recovered: key-value tree: %llu entries\n",
                   (unsigned long long)st->kv_entries);
        probs_text(&b, &r->notes, "note");
        if (st->complete)
            tb_printf(&b, "verdict: COMPLETE (%llu documents, %llu key-value entries, %u "
                           "indexes; nothing was damaged)\n",
                       (unsigned long long)st->documents, (unsigned long long)st->kv_entries,
                       st->indexes);
        else
            tb_printf(&b,
                       "verdict: PARTIAL (%llu documents and %llu key-value entries recovered; "
                       "%llu pages failed authentication; %llu ids known lost)\n",
                       (unsigned long long)st->documents, (unsigned long long)st->kv_entries,
                       (unsigned long long)st->pages_failed, (unsigned long long)st->ids_lost);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void blazedb_repair_options_init(BlazeDBRepairOptions *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

static BlazeDBResult rep_fail(BlazeDBResult rc, const char *err)
{
    return db_set_errmsg(rc, "repair: %s", err[0] ? err : blazedb_strerror(rc));
}

BlazeDBResult blazedb_repair(const char *src_path, const char *password, const char *out_path,
                             const BlazeDBRepairOptions *opts, BlazeDBRepairStats *stats,
                             char **report)
{
    if (report)
        *report = NULL;
    if (!src_path || !out_path || !*src_path || !*out_path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "repair: a path is NULL or empty");
    if (stats && stats->struct_size < sizeof(uint32_t))
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "repair: stats->struct_size is not set");
    BlazeDBRepairOptions o;
    blazedb_repair_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(uint32_t) || opts->struct_size > sizeof o)
            return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "repair: bad options struct_size");
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.flags & ~(unsigned)BLAZEDB_REPAIR_JSON)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "repair: unknown flags 0x%x", o.flags);
    OsVfs *vfs = os_default_vfs();
    if (vfs->exists(vfs, out_path) == 0)
        return db_set_errmsg(BLAZEDB_EXISTS, "repair: %s exists", out_path);
    sqlapi_init();
    Rep *r = calloc(1, sizeof *r);
    if (!r)
        return db_set_errmsg(BLAZEDB_NOMEM, "repair: out of memory");
    r->progress = o.progress;
    r->parg = o.progress_arg;
    char err[512] = "";
    FileHeader h;
    BlazeDB *db = NULL;
    char *tmp = NULL;
    BlazeDBRepairStats st;
    memset(&st, 0, sizeof st);
    int rc = rep_open(r, src_path, password, &h, err, sizeof err);
    if (rc)
        goto fail;
    rep_metas(r);
    /* the pages to examine */
    Pgno maxp = r->src.nfile;
    if (r->have_meta && r->meta.npages > maxp)
        maxp = r->meta.npages;
    for (size_t i = 0; i < r->src.widx.cap; i++)
        if (r->src.widx.keys[i] >= maxp && r->src.widx.keys[i] < PAGER_MAX_PGNO)
            maxp = r->src.widx.keys[i] + 1;
    if (maxp < PAGER_FIRST_DATA_PGNO)
        maxp = PAGER_FIRST_DATA_PGNO;
    r->maxp = maxp;
    r->total = 2 * (uint64_t)maxp;
    if (!(r->st = calloc(maxp, 1)) || !(r->type = calloc(maxp, 1)) ||
        !(r->claimed = calloc(maxp, 1)) || !(r->freep = calloc(maxp, 1)) ||
        !(r->pwhere = calloc(maxp, sizeof *r->pwhere))) {
        rc = BLAZEDB_NOMEM;
        goto fail;
    }
    {
        uint8_t *pl = malloc(r->src.P);
        if (!pl) {
            rc = BLAZEDB_NOMEM;
            goto fail;
        }
        for (Pgno pg = PAGER_FIRST_DATA_PGNO; pg < maxp; pg++) {
            if ((rc = rep_tick(r)))
                break;
            uint64_t ctr;
            int e = rs_read(&r->src, pg, pl, &ctr);
            if (e == BLAZEDB_OK) {
                r->st[pg] = 1;
                r->type[pg] = pl[0];
                if (ctr > r->maxctr)
                    r->maxctr = ctr;
            } else {
                r->st[pg] = r->src.last_blank ? 3 : 2;
                if (r->st[pg] == 2)
                    st.pages_failed++;
            }
        }
        free(pl);
        if (rc)
            goto fail;
    }
    st.pages = maxp;
    for (size_t i = 0; i < r->dmg.n; i++)
        st.pages_failed++; /* meta pages */
    /* walk what the meta reaches */
    Walk w;
    walk_init(&w, rs_read, &r->src, r->src.P, BTREE_MAX_KEY, maxp);
    w.page = rep_page;
    w.bad = rep_bad;
    w.arg = r;
    w.check_order = 0;
    r->kv_target = UINT32_MAX - 1;
    r->lf_target = UINT32_MAX;
    if (r->have_meta) {
        PagerMeta *m = &r->meta;
        r->free_ok = 1;
        if ((rc = rep_walk(r, &w, &m->roots[PAGER_ROOT_FREE], RK_FREE, 0, "free-page tree",
                           rep_cell_free, 1)) ||
            (rc = rep_walk(r, &w, &m->roots[PAGER_ROOT_CATALOG], RK_CATALOG, 0, "catalog",
                           rep_cell_catalog, 1)) ||
            (rc = rep_walk(r, &w, &m->roots[PAGER_ROOT_CHANGES], RK_OTHER, 0, "change log",
                           NULL, 0)))
            goto walk_fail;
        for (int i = PAGER_ROOT_CHANGES + 1; i < PAGER_NROOTS; i++)
            if ((rc = rep_walk(r, &w, &m->roots[i], RK_OTHER, 0, "meta slot tree", NULL, 0)))
                goto walk_fail;
    }
    r->stale = !r->have_meta || r->maxctr > r->meta.txnid;
    if (r->stale) {
        /* the newest meta is lost: the trees it named are found by their
         * pages (the newest version of each catalog record, byte-KV leaves
         * by their look); the free tree it had cannot be trusted */
        r->free_ok = 0;
        prob_add(&r->notes, 0, "source", NULL, 0,
                 "the newest meta is lost (pages up to version %llu exist, the newest meta "
                 "that authenticates is %s): collections are found through the newest "
                 "catalog pages and documents by their pages; documents deleted before the "
                 "damage may come back",
                 (unsigned long long)r->maxctr, r->have_meta ? "older" : "none");
    }
    /* orphans inside the catalog's lost ranges (any catalog page when the
     * meta is stale) are catalog leaves */
    if ((r->ncat_lost && r->free_ok) || r->stale) {
        size_t before = r->ncolls;
        if ((rc = orphan_pass(r, &w, 0)))
            goto walk_fail;
        if (r->ncolls > before)
            prob_add(&r->notes, 0, "catalog", NULL, 0,
                     "%zu collection records found on catalog pages below a damaged one",
                     r->ncolls - before);
    }
    /* the KV tree after the catalog: the recovered catalog names the
     * collections' trees, which then cannot be taken for the KV tree's */
    if (r->have_meta &&
        (rc = rep_walk(r, &w, &r->meta.roots[PAGER_ROOT_MAIN], RK_KV, r->kv_target,
                       "key-value tree", rep_cell_kv, 1)))
        goto walk_fail;
    for (size_t i = 0; i < r->ncolls; i++) {
        RColl *co = &r->colls[i];
        r->cur = co;
        co->walked = 1;
        if ((rc = rep_walk(r, &w, &co->c.docs, RK_DOCS, (uint32_t)i, co->where, rep_cell_docs, 1)))
            goto walk_fail;
        for (size_t j = 0; j < co->nidx; j++) {
            r->cur = co;
            if ((rc = rep_walk(r, &w, &co->idx[j].root, RK_INDEX, (uint32_t)i, co->where,
                               co->nlost ? rep_cell_index : NULL, 0)))
                goto walk_fail;
        }
    }
    if (r->have_meta && !r->free_ok)
        prob_add(&r->notes, 0, "free-page tree", NULL, 0,
                 "damaged: pages no tree reached may be old versions, so a document deleted "
                 "or changed before the damage may come back in an older version");
    if ((rc = orphan_pass(r, &w, 1)))
        goto walk_fail;
    if (r->free_ok && (rc = orphan_pass(r, &w, 2)))
        goto walk_fail;
    walk_free(&w);
    /* damaged pages, named with what they held when a reference told */
    for (Pgno pg = PAGER_FIRST_DATA_PGNO; pg < maxp; pg++)
        if (r->st[pg] == 2)
            prob_add(&r->dmg, pg, r->pwhere[pg] ? r->pwhere[pg]
                                                : (r->freep[pg] ? "a free page"
                                                                : "a page no readable tree names"),
                     NULL, 0, "fails authentication");
        else if (r->st[pg] == 3 && r->pwhere[pg])
            prob_add(&r->dmg, pg, r->pwhere[pg], NULL, 0, "is missing (zero or past the end)");
    /* lost ids: those not recovered after all, once each */
    if (r->nlost)
        qsort(r->lost, r->nlost, sizeof *r->lost, lost_cmp);
    for (size_t i = 0; i < r->nlost; i++) {
        LostId *l = &r->lost[i];
        if ((i > 0 && r->lost[i - 1].target == l->target &&
             keycmp(r->lost[i - 1].id, r->lost[i - 1].idl, l->id, l->idl) == 0) ||
            cand_find(r, l->target, l->id, l->idl, NULL))
            l->how = NULL;
        else
            st.ids_lost++;
    }
    /* write the new database */
    {
        uint8_t rnd[6];
        if (crypto_random(rnd, sizeof rnd)) {
            rc = BLAZEDB_INTERNAL_ERROR;
            goto fail;
        }
        size_t tl = strlen(out_path) + 32;
        if (!(tmp = malloc(tl))) {
            rc = BLAZEDB_NOMEM;
            goto fail;
        }
        snprintf(tmp, tl, "%s-repairing-%02x%02x%02x%02x%02x%02x", out_path, rnd[0], rnd[1],
                 rnd[2], rnd[3], rnd[4], rnd[5]);
    }
    BlazeDBOptions dbo;
    blazedb_options_init(&dbo);
    dbo.flags = BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE;
    if (h.flags & HEADER_FLAG_PLAINTEXT)
        dbo.flags |= BLAZEDB_OPEN_PLAINTEXT;
    dbo.kdf = (BlazeDBKdf)h.kdf.kdf;
    dbo.kdf_iterations = h.kdf.iterations;
    dbo.kdf_memory_kib = h.kdf.memory_kib;
    dbo.kdf_parallelism = h.kdf.parallelism;
    dbo.page_size = (uint32_t)r->src.ps;
    dbo.durability = BLAZEDB_DURABILITY_NORMAL;
    rc = blazedb_open_ex(tmp, (h.flags & HEADER_FLAG_PLAINTEXT) ? NULL : password, &dbo, &db);
    if (rc) {
        snprintf(err, sizeof err, "cannot create %s: %s", tmp, blazedb_errmsg(NULL));
        goto fail;
    }
    RColl lf;
    memset(&lf, 0, sizeof lf);
    int need_lf = 0;
    for (size_t i = 0; i < r->ncands && !need_lf; i++)
        need_lf = r->cands[i].target == r->lf_target;
    if (need_lf) {
        /* a name no recovered collection has */
        char name[64];
        snprintf(name, sizeof name, "%s", lf_name);
        for (int n = 2;; n++) {
            int taken = 0;
            for (size_t i = 0; i < r->ncolls && !taken; i++)
                taken = r->colls[i].nlen == strlen(name) && memcmp(r->colls[i].name, name, r->colls[i].nlen) == 0;
            if (!taken)
                break;
            snprintf(name, sizeof name, "%s_%d", lf_name, n);
        }
        lf.name = strdup(name);
        lf.nlen = strlen(name);
        TextBuf b = {0};
        tb_printf(&b, "collection '%s'", name);
        lf.where = b.p;
        if (!lf.name || !lf.where) {
            free(lf.name);
            free(lf.where);
            rc = BLAZEDB_NOMEM;
            goto fail;
        }
    }
    rc = out_write(r, db, need_lf ? &lf : NULL, err, sizeof err);
    if (!rc)
        out_indexes(r, db, &st.indexes, &st.indexes_failed);
    for (size_t i = 0; i < r->ncolls; i++) {
        st.documents += r->colls[i].docs;
        st.orphans += r->colls[i].orphans;
        st.collections += r->colls[i].created;
    }
    if (need_lf) {
        st.documents += lf.docs;
        st.orphans += lf.docs;
        st.lost_and_found = lf.docs;
        st.collections += lf.created;
        if (lf.docs)
            prob_add(&r->notes, 0, lf.where, NULL, 0,
                     "holds %llu documents found on pages that no readable collection names",
                     (unsigned long long)lf.docs);
    }
    free(lf.name);
    free(lf.where);
    st.kv_entries = r->kv;
    if (rc)
        goto fail;
    blazedb_close(db);
    db = NULL;
    /* give it its name: link(2) never replaces an existing file */
    int e = vfs->link(vfs, tmp, out_path);
    if (e) {
        snprintf(err, sizeof err, e == EEXIST ? "%s exists" : "cannot create %s: %s", out_path,
                 strerror(e));
        rc = e == EEXIST ? BLAZEDB_EXISTS : e == ENOSPC ? BLAZEDB_FULL : BLAZEDB_IO_ERROR;
        goto fail;
    }
    vfs->sync_dir(vfs, out_path);
    {
        size_t tl = strlen(tmp) + 5;
        char *side = malloc(tl);
        vfs->remove(vfs, tmp);
        if (side) {
            snprintf(side, tl, "%s-wal", tmp);
            vfs->remove(vfs, side);
            snprintf(side, tl, "%s-shm", tmp);
            vfs->remove(vfs, side);
            free(side);
        }
    }
    st.complete = st.pages_failed == 0 && st.ids_lost == 0 && r->bad_docs == 0 &&
                  st.indexes_failed == 0 && r->dmg.total == 0 && r->have_meta;
    if (o.progress)
        o.progress(r->total, r->total, o.progress_arg);
    if (report)
        *report = rep_report(r, src_path, out_path, &st, (o.flags & BLAZEDB_REPAIR_JSON) != 0);
    if (stats) {
        uint32_t n = stats->struct_size < sizeof st ? stats->struct_size : (uint32_t)sizeof st;
        st.struct_size = n;
        memcpy(stats, &st, n);
    }
    free(tmp);
    rep_free(r);
    free(r);
    return BLAZEDB_OK;
walk_fail:
    walk_free(&w);
fail:
    if (db)
        blazedb_close(db);
    if (tmp) {
        size_t tl = strlen(tmp) + 5;
        char *side = malloc(tl);
        vfs->remove(vfs, tmp);
        if (side) {
            snprintf(side, tl, "%s-wal", tmp);
            vfs->remove(vfs, side);
            snprintf(side, tl, "%s-shm", tmp);
            vfs->remove(vfs, side);
            free(side);
        }
        free(tmp);
    }
    rep_free(r);
    free(r);
    if (rc == BLAZEDB_CANCELLED)
        return db_set_errmsg(rc, "repair: cancelled");
    return rep_fail((BlazeDBResult)rc, err);
}
