/*
 * test_check.c — the integrity check and repair (src/tools/check.c):
 * a clean database checks clean in both modes (text and JSON); planted
 * problems (a flipped byte in a page, a stale index entry, a document
 * missing from an index, a leaked page, a catalog count off by one) are
 * each found and located; repair gives back an undamaged database whole,
 * and after random pages are overwritten with random bytes (seeded trials;
 * BLAZEDB_TEST_SEED=S replays) gives back every document whose pages still
 * authenticate, byte for byte, into a database that passes a full check,
 * with its indexes rebuilt and the damaged pages named; wrong password,
 * truncated file, existing output.
 *
 * Which pages hold which document is found independently of check.c: each
 * page of the snapshot is read through the pager and its leaf cells (and
 * overflow chains) are compared with the model's binary documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/btree/btree.h"
#include "../src/catalog/catalog.h"
#include "../src/db/db.h"
#include "../src/index/index.h"
#include "../src/index/keyenc.h"
#include "../src/pager/pager.h"
#include "support/testutil.h"

#define NCOLL 3
static const char *const COLLS[NCOLL] = {"users", "logs", "blobs"};

/* ---- building a database ------------------------------------------------------------ */

static BlazeDB *open_db(const char *path)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    return db;
}

static void ins_json(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *json)
{
    BlazeDBDoc *d;
    assert_int_equal(blazedb_doc_from_json(json, strlen(json), &d), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, t, coll, d), BLAZEDB_OK);
    blazedb_doc_free(d);
}

/* users (5 indexes: plain, compound, unique, multikey, partial; every 17th
 * soft-deleted), logs (no timestamps, one index), blobs (overflow values),
 * and byte-KV entries (some with overflow values). */
static void build(const char *path, int nusers)
{
    BlazeDB *db = open_db(path);
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    assert_int_equal(blazedb_collection_create(db, NULL, "users", NULL), BLAZEDB_OK);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    assert_int_equal(blazedb_collection_create(db, NULL, "logs", &co), BLAZEDB_OK);
    assert_int_equal(blazedb_collection_create(db, NULL, "blobs", NULL), BLAZEDB_OK);
    BlazeDBIndexField age = {"age", 0, 0}, city = {"city", 0, 0}, aged = {"age", 1, 0},
                      email = {"email", 0, 0}, tags = {"tags", 0, 1}, lvl = {"level", 0, 0};
    BlazeDBIndexField ca[2] = {city, aged};
    assert_int_equal(blazedb_index_create(db, NULL, "users", "by_age", &age, 1, 0, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "users", "by_city_age", ca, 2, 0, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "users", "by_email", &email, 1,
                                          BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "users", "by_tag", &tags, 1, 0, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "users", "adults", &age, 1, 0, "age >= 18"),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "logs", "by_level", &lvl, 1, 0, NULL),
                     BLAZEDB_OK);
    char json[8192];
    static const char *cities[] = {"Oslo", "Lima", "Pune", "Kyiv", "Graz"};
    BlazeDBTxn *t = NULL;
    for (int i = 0; i < nusers; i++) {
        if (i % 500 == 0) {
            if (t)
                assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
            assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        }
        snprintf(json, sizeof json,
                 "{\"id\":\"u%05d\",\"age\":%d,\"city\":\"%s\",\"email\":\"u%d@x.org\","
                 "\"tags\":[\"t%d\",\"t%d\",\"t%d\"],\"note\":\"user number %d\"}",
                 i, i % 90, cities[i % 5], i, i % 7, i % 3, i % 7, i);
        ins_json(db, t, "users", json);
        if (i % 2 == 0) {
            snprintf(json, sizeof json, "{\"id\":\"l%05d\",\"level\":%d,\"msg\":\"event %d\"}", i,
                     i % 4, i * 31);
            ins_json(db, t, "logs", json);
        }
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    for (int i = 0; i < nusers; i += 17) {
        char id[16];
        snprintf(id, sizeof id, "u%05d", i);
        assert_int_equal(blazedb_soft_delete(db, NULL, "users", id), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < 30; i++) {
        int n = snprintf(json, sizeof json, "{\"id\":\"b%03d\",\"data\":\"", i);
        for (int j = 0; j < 3000 + 97 * i; j++)
            json[n++] = (char)('a' + (i + j) % 26);
        snprintf(json + n, sizeof json - (size_t)n, "\"}");
        ins_json(db, t, "blobs", json);
    }
    for (int i = 0; i < 200; i++) {
        char k[16], v[4000];
        snprintf(k, sizeof k, "k%04d", i);
        size_t vl = i % 10 == 0 ? 3500 : 20;
        tu_fill((uint64_t)i, v, vl);
        assert_int_equal(blazedb_txn_put(t, k, strlen(k), v, vl), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    blazedb_close(db);
}

static uint64_t check_db(BlazeDB *db, unsigned flags, char **rep)
{
    uint64_t n = 99;
    BlazeDBResult rc = blazedb_check(db, flags, NULL, NULL, rep, &n);
    assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_CORRUPT);
    assert_int_equal(rc == BLAZEDB_OK, n == 0);
    assert_non_null(*rep);
    return n;
}

/* ---- the model ---------------------------------------------------------------------- */

typedef struct {
    int coll;           /* 0..NCOLL-1, or NCOLL for a KV entry */
    char *id;
    size_t idl;
    uint8_t *bin;
    size_t len;
    Pgno pages[64];     /* leaf, then overflow pages */
    size_t npages;
} MDoc;

typedef struct {
    MDoc *v;
    size_t n, cap;
    Pgno npages;
    size_t page_size;
} Model;

static void model_add(Model *m, int coll, const void *id, size_t idl, const void *bin, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->v = realloc(m->v, m->cap * sizeof *m->v);
        assert_non_null(m->v);
    }
    MDoc *d = &m->v[m->n++];
    memset(d, 0, sizeof *d);
    d->coll = coll;
    d->id = malloc(idl + 1);
    memcpy(d->id, id, idl);
    d->id[idl] = 0;
    d->idl = idl;
    d->bin = malloc(len ? len : 1);
    memcpy(d->bin, bin, len);
    d->len = len;
}

static void model_free(Model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].id);
        free(m->v[i].bin);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

static int mdoc_cmp(const void *a, const void *b)
{
    const MDoc *x = a, *y = b;
    if (x->coll != y->coll)
        return x->coll - y->coll;
    size_t n = x->idl < y->idl ? x->idl : y->idl;
    int c = memcmp(x->id, y->id, n);
    return c ? c : (x->idl > y->idl) - (x->idl < y->idl);
}

static void tree_entries(PagerTxn *pt, PagerRoot root, int coll, Model *m)
{
    if (!root.root.pgno)
        return;
    BtCursor *c;
    assert_int_equal(btc_open(pt, &root, &c), BLAZEDB_OK);
    for (int rc = btc_first(c); rc == BLAZEDB_OK; rc = btc_next(c)) {
        const void *k, *v;
        size_t kl, vl;
        assert_int_equal(btc_key(c, &k, &kl), BLAZEDB_OK);
        assert_int_equal(btc_value(c, &v, &vl), BLAZEDB_OK);
        model_add(m, coll, k, kl, v, vl);
    }
    btc_close(c);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void mark_free(Pgno pg, void *arg) { ((uint8_t *)arg)[pg] = 1; }

/* Reads every document and KV entry of the database at `path`, and which
 * live pages hold each (leaf cell compared byte for byte). */
static void model_load(const char *path, Model *m)
{
    memset(m, 0, sizeof *m);
    BlazeDB *db = open_db(path);
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    PagerTxn *pt = db_txn_pt(t);
    for (int i = 0; i < NCOLL; i++) {
        CatColl c;
        assert_int_equal(cat_get(pt, COLLS[i], strlen(COLLS[i]), &c), BLAZEDB_OK);
        tree_entries(pt, c.docs, i, m);
    }
    tree_entries(pt, pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN], NCOLL, m);
    qsort(m->v, m->n, sizeof *m->v, mdoc_cmp);
    blazedb_txn_commit(t);
    /* the pages: a snapshot read of every page that is not free */
    Pager *p = db_pager(db);
    PagerTxn *rt;
    assert_int_equal(pager_begin(p, 0, &rt), BLAZEDB_OK);
    PagerMeta *meta = pager_txn_meta(rt);
    m->npages = meta->npages;
    m->page_size = pager_page_size(p);
    size_t P = pager_payload_size(p);
    uint8_t *fr = calloc(meta->npages, 1), *d = malloc(P), *o = malloc(P), *val = malloc(1 << 20);
    assert_int_equal(freelist_check(rt, mark_free, NULL, fr), BLAZEDB_OK);
    for (Pgno pg = 3; pg < meta->npages; pg++) {
        uint64_t ctr;
        if (fr[pg] || pager_snapshot_read(rt, pg, d, &ctr) != BLAZEDB_OK || d[0] != 1)
            continue;
        unsigned n = rd16(d + 2);
        for (unsigned i = 0; i < n; i++) {
            const uint8_t *c = d + rd16(d + 12 + 2 * i);
            size_t kl = rd16(c), vl = rd32(c + 3);
            Pgno pages[64];
            size_t np = 0;
            pages[np++] = pg;
            const uint8_t *v = c + 7 + kl;
            if (c[2] & 1) {
                Pgno next = rd32(c + 7 + kl);
                size_t got = 0;
                while (next && np < 64 && got <= vl) {
                    if (pager_snapshot_read(rt, next, o, &ctr) != BLAZEDB_OK || o[0] != 3)
                        break;
                    pages[np++] = next;
                    uint32_t used = rd32(o + 4);
                    if (got + used > vl)
                        break;
                    memcpy(val + got, o + 20, used);
                    got += used;
                    next = rd32(o + 8);
                }
                if (got != vl)
                    continue;
                v = val;
            }
            /* which entry?  ids are unique across collections and KV keys */
            for (size_t j = 0; j < m->n; j++) {
                MDoc *md = &m->v[j];
                if (md->idl == kl && memcmp(md->id, c + 7, kl) == 0 && md->len == vl &&
                    memcmp(md->bin, v, vl) == 0) {
                    assert_int_equal(md->npages, 0);
                    memcpy(md->pages, pages, np * sizeof *pages);
                    md->npages = np;
                }
            }
        }
    }
    for (size_t j = 0; j < m->n; j++)
        assert_true(m->v[j].npages > 0);
    free(fr);
    free(d);
    free(o);
    free(val);
    pager_commit(rt);
    blazedb_close(db);
}

/* ---- check: clean and planted problems ---------------------------------------------- */

typedef struct {
    char *dir, *path;
} Env;

static void env_init(Env *e, int nusers)
{
    e->dir = tu_mkdtemp("check");
    assert_non_null(e->dir);
    e->path = tu_path(e->dir, "c.blazedb");
    build(e->path, nusers);
}

static void env_free(Env *e)
{
    tu_rmrf(e->dir);
    free(e->dir);
    free(e->path);
}

static int count_progress(uint64_t done, uint64_t total, void *arg)
{
    (void)total;
    *(uint64_t *)arg = done;
    return 0;
}

static void test_clean(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 1500);
    BlazeDB *db = open_db(e.path);
    char *rep = NULL;
    uint64_t done = 0, n = 9;
    BlazeDBResult rc = blazedb_check(db, 0, count_progress, &done, &rep, &n);
    if (rc != BLAZEDB_OK)
        fprintf(stderr, "%s", rep ? rep : blazedb_errmsg(db));
    assert_int_equal(rc, BLAZEDB_OK);
    assert_int_equal(n, 0);
    assert_non_null(strstr(rep, "verdict: OK"));
    assert_non_null(strstr(rep, "3 collections, 2280 documents"));
    assert_true(done > 0);
    blazedb_free(rep);
    assert_int_equal(check_db(db, BLAZEDB_CHECK_QUICK, &rep), 0);
    assert_non_null(strstr(rep, "(quick)"));
    blazedb_free(rep);
    assert_int_equal(check_db(db, BLAZEDB_CHECK_JSON, &rep), 0);
    assert_non_null(strstr(rep, "\"verdict\":\"ok\""));
    assert_non_null(strstr(rep, "\"problems\":[]"));
    blazedb_free(rep);
    /* bad flags; cancellation */
    assert_int_equal(blazedb_check(db, 0x80, NULL, NULL, &rep, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_null(rep);
    blazedb_close(db);
    env_free(&e);
}

static int cancel_cb(uint64_t done, uint64_t total, void *arg)
{
    (void)done;
    (void)total;
    (void)arg;
    return 1;
}

static void test_cancel(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 1500);
    BlazeDB *db = open_db(e.path);
    char *rep = NULL;
    assert_int_equal(blazedb_check(db, 0, cancel_cb, NULL, &rep, NULL), BLAZEDB_CANCELLED);
    assert_null(rep);
    blazedb_close(db);
    env_free(&e);
}

/* Flips one byte of `pg` in the closed database's main file. */
static void flip(const char *path, size_t ps, Pgno pg, size_t off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(pg * ps + off), SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, (long)(pg * ps + off), SEEK_SET), 0);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_flipped_byte(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 600);
    Model m;
    model_load(e.path, &m);
    uint64_t seed = tu_seed("test_flipped_byte");
    TuRng rng;
    tu_rng_seed(&rng, seed);
    for (int trial = 0; trial < 6; trial++) {
        MDoc *md = &m.v[tu_rng_below(&rng, m.n)];
        Pgno pg = md->pages[tu_rng_below(&rng, md->npages)];
        size_t off = (size_t)tu_rng_below(&rng, m.page_size - 48);
        flip(e.path, m.page_size, pg, off);
        BlazeDB *db = open_db(e.path);
        char *rep;
        uint64_t n = check_db(db, 0, &rep);
        assert_true(n >= 1);
        char want[64];
        snprintf(want, sizeof want, "problem: page %u: ", (unsigned)pg);
        char *line = strstr(rep, want);
        if (!line)
            fprintf(stderr, "%s", rep);
        assert_non_null(line);
        assert_non_null(strstr(line, "fails authentication"));
        assert_non_null(strstr(rep, "verdict: CORRUPT"));
        blazedb_free(rep);
        /* quick mode reads every page too */
        assert_true(check_db(db, BLAZEDB_CHECK_QUICK, &rep) >= 1);
        assert_non_null(strstr(rep, want));
        blazedb_free(rep);
        assert_true(check_db(db, BLAZEDB_CHECK_JSON, &rep) >= 1);
        snprintf(want, sizeof want, "{\"page\":%u,", (unsigned)pg);
        assert_non_null(strstr(rep, want));
        assert_non_null(strstr(rep, "\"verdict\":\"corrupt\""));
        blazedb_free(rep);
        blazedb_close(db);
        flip(e.path, m.page_size, pg, off); /* undo */
    }
    BlazeDB *db = open_db(e.path);
    char *rep;
    assert_int_equal(check_db(db, 0, &rep), 0);
    blazedb_free(rep);
    blazedb_close(db);
    model_free(&m);
    env_free(&e);
}

/* The by_age entry key of document id with age `age`. */
static void age_key(KeyBuf *k, int age, const char *id)
{
    k->len = 0;
    assert_int_equal(keyenc_int(k, age, 0), BLAZEDB_OK);
    size_t l = strlen(id);
    uint8_t be[2] = {(uint8_t)(l >> 8), (uint8_t)l};
    assert_int_equal(keybuf_put(k, id, l), BLAZEDB_OK);
    assert_int_equal(keybuf_put(k, be, 2), BLAZEDB_OK);
}

static void test_stale_and_missing_entries(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 600);
    BlazeDB *db = open_db(e.path);
    BlazeDBTxn *t;
    KeyBuf k = {0};
    /* a stale entry: an id no document has */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    IdxDef d;
    assert_int_equal(idx_find(db_txn_pt(t), "by_age", &d), BLAZEDB_OK);
    age_key(&k, 33, "ghost");
    assert_int_equal(btree_put(db_txn_pt(t), &d.root, k.p, k.len, "", 0, NULL), BLAZEDB_OK);
    assert_int_equal(idx_def_store(db_txn_pt(t), &d), BLAZEDB_OK);
    idx_def_clear(&d);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    char *rep;
    assert_int_equal(check_db(db, 0, &rep), 1);
    assert_non_null(strstr(rep, "index 'by_age' on collection 'users': id 'ghost': stale index entry"));
    blazedb_free(rep);
    /* quick mode does not compare entries with documents */
    assert_int_equal(check_db(db, BLAZEDB_CHECK_QUICK, &rep), 0);
    blazedb_free(rep);
    /* remove it again, and remove a real document's entry */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(idx_find(db_txn_pt(t), "by_age", &d), BLAZEDB_OK);
    int found = 0;
    assert_int_equal(btree_delete(db_txn_pt(t), &d.root, k.p, k.len, &found), BLAZEDB_OK);
    assert_true(found);
    age_key(&k, 3 % 90, "u00003");
    assert_int_equal(btree_delete(db_txn_pt(t), &d.root, k.p, k.len, &found), BLAZEDB_OK);
    assert_true(found);
    assert_int_equal(idx_def_store(db_txn_pt(t), &d), BLAZEDB_OK);
    idx_def_clear(&d);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(check_db(db, 0, &rep), 1);
    assert_non_null(strstr(
        rep, "index 'by_age' on collection 'users': id 'u00003': document is missing from the index"));
    blazedb_free(rep);
    assert_int_equal(check_db(db, BLAZEDB_CHECK_JSON, &rep), 1);
    assert_non_null(strstr(rep, "\"id\":\"u00003\""));
    blazedb_free(rep);
    free(k.p);
    blazedb_close(db);
    env_free(&e);
}

static void test_leak_and_count(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 600);
    BlazeDB *db = open_db(e.path);
    BlazeDBTxn *t;
    /* a page allocated and referenced by nothing */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    Page *pg;
    assert_int_equal(pager_alloc(db_txn_pt(t), &pg), BLAZEDB_OK);
    Pgno leaked = pg->pgno;
    pager_unpin(db_txn_pt(t), pg);
    assert_int_equal(blazedb_txn_put(t, "x", 1, "y", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    char *rep, want[96];
    assert_int_equal(check_db(db, 0, &rep), 1);
    snprintf(want, sizeof want, "problem: page %u: page accounting: page is neither used nor free",
             (unsigned)leaked);
    if (!strstr(rep, want))
        fprintf(stderr, "%s", rep);
    assert_non_null(strstr(rep, want));
    blazedb_free(rep);
    /* a catalog count off by one */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    CatColl c;
    assert_int_equal(cat_get(db_txn_pt(t), "logs", 4, &c), BLAZEDB_OK);
    c.docs.count++;
    assert_int_equal(cat_put(db_txn_pt(t), "logs", 4, &c), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(check_db(db, BLAZEDB_CHECK_QUICK, &rep), 2);
    assert_non_null(strstr(rep, "collection 'logs': tree holds 300 entries, its root says 301"));
    blazedb_free(rep);
    blazedb_close(db);
    env_free(&e);
}

/* ---- repair ------------------------------------------------------------------------- */

/* The raw bytes of `id` in collection `coll` of db (NULL: absent). */
static uint8_t *raw_get(PagerTxn *pt, const char *coll, const char *id, size_t idl, size_t *len)
{
    CatColl c;
    if (cat_get(pt, coll, strlen(coll), &c) != BLAZEDB_OK || !c.docs.root.pgno)
        return NULL;
    void *v = NULL;
    if (btree_get(pt, &c.docs, id, idl, &v, len) != BLAZEDB_OK)
        return NULL;
    return v;
}

static int names_lf(const char *name, size_t len, const CatColl *c, void *arg)
{
    (void)c;
    char (*out)[8][64] = arg;
    if (len > 14 && len < 64 && memcmp(name, "lost_and_found", 14) == 0) {
        for (int i = 0; i < 8; i++)
            if (!(*out)[i][0]) {
                memcpy((*out)[i], name, len);
                (*out)[i][len] = 0;
                break;
            }
    } else if (len == 14 && memcmp(name, "lost_and_found", 14) == 0) {
        memcpy((*out)[0], name, len);
        (*out)[0][len] = 0;
    }
    return 0;
}

/* Compares the repaired database with the model: every entry whose pages
 * are all intact is there, byte for byte (in its collection, or in
 * lost_and_found); no entry has other content.  Returns how many came
 * back. */
static const char *g_report; /* printed when a comparison fails */

static size_t compare(const char *out, const Model *m, const uint8_t *bad)
{
    BlazeDB *db = open_db(out);
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    PagerTxn *pt = db_txn_pt(t);
    char lf[8][64];
    memset(lf, 0, sizeof lf);
    cat_each(pt, names_lf, &lf);
    size_t back = 0;
    for (size_t i = 0; i < m->n; i++) {
        const MDoc *d = &m->v[i];
        int intact = 1;
        for (size_t j = 0; j < d->npages; j++)
            intact &= !bad[d->pages[j]];
        size_t len = 0;
        uint8_t *v = NULL;
        if (d->coll == NCOLL) {
            void *kv = NULL;
            if (btree_get(pt, &pager_txn_meta(pt)->roots[PAGER_ROOT_MAIN], d->id, d->idl, &kv,
                          &len) == BLAZEDB_OK)
                v = kv;
        } else {
            v = raw_get(pt, COLLS[d->coll], d->id, d->idl, &len);
            for (int l = 0; l < 8 && !v && lf[l][0]; l++)
                v = raw_get(pt, lf[l], d->id, d->idl, &len);
        }
        if (intact && !(v && len == d->len && memcmp(v, d->bin, len) == 0) && g_report)
            fprintf(stderr, "%s", g_report);
        if (intact && !(v && len == d->len && memcmp(v, d->bin, len) == 0))
            fail_msg("entry '%s' (collection %d) on intact pages did not come back identical",
                     d->id, d->coll);
        if (v && len == d->len && memcmp(v, d->bin, len) == 0)
            back++;
        free(v);
    }
    blazedb_txn_commit(t);
    /* the repaired database is sound */
    char *rep;
    uint64_t n = 0;
    BlazeDBResult rc = blazedb_check(db, 0, NULL, NULL, &rep, &n);
    if (rc != BLAZEDB_OK)
        fprintf(stderr, "%s", rep ? rep : blazedb_errmsg(db));
    assert_int_equal(rc, BLAZEDB_OK);
    blazedb_free(rep);
    blazedb_close(db);
    return back;
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static void test_repair_clean(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 1200);
    Model m;
    model_load(e.path, &m);
    char *out = tu_path(e.dir, "out.blazedb");
    BlazeDBRepairStats st = {.struct_size = sizeof st};
    char *rep = NULL;
    assert_int_equal(blazedb_repair(e.path, TU_PASSWORD, out, NULL, &st, &rep), BLAZEDB_OK);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "verdict: COMPLETE"));
    assert_int_equal(st.complete, 1);
    assert_int_equal(st.pages_failed, 0);
    assert_int_equal(st.collections, 3);
    assert_int_equal(st.indexes, 6);
    assert_int_equal(st.kv_entries, 200);
    assert_int_equal(st.documents + st.kv_entries, m.n);
    assert_int_equal(st.lost_and_found, 0);
    blazedb_free(rep);
    uint8_t *bad = calloc(m.npages, 1);
    assert_int_equal(compare(out, &m, bad), m.n);
    /* the same counts, soft deletes and indexes */
    BlazeDB *db = open_db(out);
    uint64_t n;
    assert_int_equal(blazedb_count(db, NULL, "users", &n), BLAZEDB_OK);
    assert_int_equal(n, 1200 - (1200 + 16) / 17); /* soft-deleted ones are not counted */
    char *json;
    assert_int_equal(blazedb_index_list(db, NULL, "users", &json), BLAZEDB_OK);
    assert_non_null(strstr(json, "\"adults\""));
    assert_non_null(strstr(json, "age >= 18"));
    assert_non_null(strstr(json, "\"by_tag\""));
    blazedb_free(json);
    blazedb_close(db);
    /* out exists: refused, nothing touched */
    assert_int_equal(blazedb_repair(e.path, TU_PASSWORD, out, NULL, NULL, NULL), BLAZEDB_EXISTS);
    /* wrong password */
    char *out2 = tu_path(e.dir, "out2.blazedb");
    assert_int_equal(blazedb_repair(e.path, "wrong", out2, NULL, NULL, NULL),
                     BLAZEDB_AUTH_FAILED);
    struct stat sb;
    assert_int_equal(stat(out2, &sb), -1);
    /* JSON */
    BlazeDBRepairOptions o;
    blazedb_repair_options_init(&o);
    o.flags = BLAZEDB_REPAIR_JSON;
    assert_int_equal(blazedb_repair(e.path, TU_PASSWORD, out2, &o, NULL, &rep), BLAZEDB_OK);
    assert_non_null(strstr(rep, "\"verdict\":\"complete\""));
    blazedb_free(rep);
    /* a missing source */
    char *none = tu_path(e.dir, "none.blazedb"), *out3 = tu_path(e.dir, "out3.blazedb");
    assert_int_equal(blazedb_repair(none, TU_PASSWORD, out3, NULL, NULL, NULL), BLAZEDB_NOT_FOUND);
    free(none);
    free(out3);
    free(bad);
    free(out);
    free(out2);
    model_free(&m);
    env_free(&e);
}

static void test_repair_truncated(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 1200);
    Model m;
    model_load(e.path, &m);
    Pgno keep = m.npages * 2 / 3;
    assert_int_equal(truncate(e.path, (off_t)(keep * m.page_size + 100)), 0);
    uint8_t *bad = calloc(m.npages, 1);
    for (Pgno p = keep; p < m.npages; p++)
        bad[p] = 1;
    char *out = tu_path(e.dir, "out.blazedb");
    BlazeDBRepairStats st = {.struct_size = sizeof st};
    char *rep = NULL;
    assert_int_equal(blazedb_repair(e.path, TU_PASSWORD, out, NULL, &st, &rep), BLAZEDB_OK);
    assert_non_null(strstr(rep, "truncated"));
    assert_non_null(strstr(rep, "verdict: PARTIAL"));
    assert_int_equal(st.complete, 0);
    size_t back = compare(out, &m, bad);
    assert_true(back > 0 && back < m.n);
    blazedb_free(rep);
    free(bad);
    free(out);
    model_free(&m);
    env_free(&e);
}

static void test_repair_random_damage(void **state)
{
    (void)state;
    Env e;
    env_init(&e, 2500);
    Model m;
    model_load(e.path, &m);
    uint64_t seed = tu_seed("test_repair_random_damage");
    TuRng rng;
    tu_rng_seed(&rng, seed);
    char *src = tu_path(e.dir, "src.blazedb");
    uint8_t *bad = calloc(m.npages, 1), *junk = malloc(m.page_size);
    int trials = tu_long_tests() ? 60 : 14;
    size_t total_back = 0, total = 0;
    for (int trial = 0; trial < trials; trial++) {
        char name[64];
        snprintf(name, sizeof name, "out%d.blazedb", trial);
        char *out = tu_path(e.dir, name);
        unlink(src);
        copy_file(e.path, src);
        memset(bad, 0, m.npages);
        int k = 1 + (int)tu_rng_below(&rng, 6);
        FILE *f = fopen(src, "r+b");
        assert_non_null(f);
        for (int i = 0; i < k; i++) {
            /* mostly pages that hold entries; sometimes any page but 0 */
            Pgno pg;
            if (tu_rng_below(&rng, 3)) {
                const MDoc *d = &m.v[tu_rng_below(&rng, m.n)];
                pg = d->pages[tu_rng_below(&rng, d->npages)];
            } else {
                pg = 1 + (Pgno)tu_rng_below(&rng, m.npages - 1);
            }
            bad[pg] = 1;
            tu_rng_bytes(&rng, junk, m.page_size);
            assert_int_equal(fseek(f, (long)(pg * m.page_size), SEEK_SET), 0);
            assert_int_equal(fwrite(junk, 1, m.page_size, f), m.page_size);
        }
        fclose(f);
        BlazeDBRepairStats st = {.struct_size = sizeof st};
        char *rep = NULL;
        BlazeDBResult rc = blazedb_repair(src, TU_PASSWORD, out, NULL, &st, &rep);
        if (rc != BLAZEDB_OK)
            fail_msg("trial %d: repair failed: %s", trial, blazedb_errmsg(NULL));
        /* every damaged page is named */
        const char *line = strstr(rep, "pages that fail authentication");
        assert_non_null(line);
        const char *eol = strchr(line, '\n');
        for (Pgno pg = 1; pg < m.npages; pg++) {
            if (!bad[pg])
                continue;
            char want[24];
            snprintf(want, sizeof want, " %u", (unsigned)pg);
            const char *hit = line;
            int ok = 0;
            while ((hit = strstr(hit, want)) && hit < eol) {
                char after = hit[strlen(want)];
                if (after == ' ' || after == '\n') {
                    ok = 1;
                    break;
                }
                hit++;
            }
            if (!ok)
                fail_msg("trial %d: page %u is not named:\n%s", trial, (unsigned)pg, rep);
        }
        assert_int_equal(st.complete, 0);
        g_report = rep;
        size_t back = compare(out, &m, bad);
        g_report = NULL;
        total_back += back;
        total += m.n;
        /* indexes are rebuilt when the catalog gave their definitions */
        if (st.indexes) {
            BlazeDB *db = open_db(out);
            char *json = NULL;
            if (blazedb_index_list(db, NULL, "users", &json) == BLAZEDB_OK)
                assert_non_null(strstr(json, "\"name\""));
            blazedb_free(json);
            blazedb_close(db);
        }
        blazedb_free(rep);
        free(out);
    }
    fprintf(stderr, "repair trials: %zu of %zu entries came back\n", total_back, total);
    free(bad);
    free(junk);
    free(src);
    model_free(&m);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_stale_and_missing_entries),
        cmocka_unit_test(test_leak_and_count),
        cmocka_unit_test(test_repair_clean),
        cmocka_unit_test(test_repair_truncated),
        cmocka_unit_test(test_repair_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
