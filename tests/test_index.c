/*
 * test_index.c — secondary indexes (src/index/index.h, the public index
 * API): create/list/drop; single, compound (asc/desc), nested, multikey and
 * partial indexes; unique indexes refusing duplicates on every write path
 * while changing nothing and leaving a caller's transaction usable; entries
 * kept right by insert/replace/upsert/patch/delete/soft delete/purge/
 * delete_all and by rollbacks (a seeded random test); bulk build equal to
 * incremental maintenance; idx_check; persistence across reopen.
 *
 * Entries are verified by walking the index tree and comparing it with the
 * entries computed here, independently, from each document's tree
 * (doc_path_get + keyenc_value; the implementation uses binary lookups).
 * BLAZEDB_TEST_SEED=S replays the random test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../src/btree/btree.h"
#include "../src/catalog/catalog.h"
#include "../src/db/db.h"
#include "../src/doc/docbin.h"
#include "../src/doc/value.h"
#include "../src/index/index.h"
#include "../src/index/keyenc.h"
#include "support/testutil.h"

typedef TuDb Env;

static void env_open(Env *e)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    assert_int_equal(blazedb_open_ex(e->path, TU_PASSWORD, &o, &e->db), BLAZEDB_OK);
}

static void env_init(Env *e) { assert_int_equal(tu_db_create(e, "idx", NULL), BLAZEDB_OK); }

/* Drops every index (their pages must all be freed: db_check counts every
 * page), then checks the file's structure. */
static void env_free(Env *e)
{
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(blazedb_collection_list(e->db, NULL, &names, &n), BLAZEDB_OK);
    for (size_t i = 0; i < n; i++) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(e->db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
        CatColl c;
        assert_int_equal(cat_get(db_txn_pt(t), names[i], strlen(names[i]), &c), BLAZEDB_OK);
        IdxDef *defs;
        size_t nd;
        assert_int_equal(idx_list(db_txn_pt(t), c.id, &defs, &nd), BLAZEDB_OK);
        blazedb_txn_abort(t);
        for (size_t j = 0; j < nd; j++)
            assert_int_equal(blazedb_index_drop(e->db, NULL, defs[j].name), BLAZEDB_OK);
        idx_defs_free(defs, nd);
    }
    blazedb_free(names);
    char msg[512];
    if (tu_db_destroy(e, msg, sizeof msg))
        fail_msg("db_check: %s", msg);
}

static BlazeDBDoc *J(const char *json)
{
    BlazeDBDoc *d = NULL;
    if (blazedb_doc_from_json(json, strlen(json), &d))
        fail_msg("bad test JSON %s: %s", json, blazedb_errmsg(NULL));
    return d;
}

static BlazeDBResult ins(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *json)
{
    BlazeDBDoc *d = J(json);
    BlazeDBResult rc = blazedb_insert(db, t, coll, d);
    blazedb_doc_free(d);
    return rc;
}

static BlazeDBResult repl(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *json,
                          int upsert)
{
    BlazeDBDoc *d = J(json);
    BlazeDBResult rc = upsert ? blazedb_upsert(db, t, coll, d) : blazedb_replace(db, t, coll, d);
    blazedb_doc_free(d);
    return rc;
}

static BlazeDBResult patch(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *id,
                           const char *json)
{
    BlazeDBDoc *d = J(json);
    BlazeDBResult rc = blazedb_patch(db, t, coll, id, d, NULL, 0);
    blazedb_doc_free(d);
    return rc;
}

static BlazeDBResult mkidx(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *name,
                           const char *spec, unsigned flags, const char *where)
{
    /* spec: comma-separated paths; "-" prefix descending, "[]" suffix each */
    BlazeDBIndexField f[IDX_MAX_FIELDS + 2];
    char buf[512], *paths[IDX_MAX_FIELDS + 2];
    snprintf(buf, sizeof buf, "%s", spec);
    size_t n = 0;
    for (char *s = strtok(buf, ","); s && n < IDX_MAX_FIELDS + 2; s = strtok(NULL, ",")) {
        memset(&f[n], 0, sizeof f[n]);
        if (*s == '-') {
            f[n].descending = 1;
            s++;
        }
        size_t l = strlen(s);
        if (l > 2 && strcmp(s + l - 2, "[]") == 0) {
            f[n].each = 1;
            s[l - 2] = 0;
        }
        paths[n] = s;
        f[n].path = paths[n];
        n++;
    }
    return blazedb_index_create(db, t, coll, name, f, n, flags, where);
}

/* ---- the fake partial-index hook: WHERE text is a field that must be true
 * (a leading '!' does not compile) -------------------------------------------- */

static int fk_compile(const char *where, void **out, char *err, size_t errlen)
{
    if (where[0] == '!') {
        snprintf(err, errlen, "bad predicate");
        return BLAZEDB_SQL_ERROR;
    }
    *out = strdup(where);
    return *out ? BLAZEDB_OK : BLAZEDB_NOMEM;
}

static int fk_eval(void *c, const uint8_t *bin, size_t len)
{
    DocView v;
    int rc = docbin_lookup(bin, len, c, &v);
    if (rc == BLAZEDB_NOT_FOUND)
        return 0;
    if (rc)
        return -rc;
    return v.type == DOC_BOOL && v.b;
}

static void fk_free(void *c) { free(c); }

static const IdxPredHooks fake_hooks = {fk_compile, fk_eval, fk_free};

/* ---- expected vs actual entries ------------------------------------------------ */

typedef struct {
    uint8_t **k;
    size_t *l;
    size_t n, cap;
} KeyList;

static void kl_add(KeyList *kl, const uint8_t *k, size_t l)
{
    if (kl->n == kl->cap) {
        kl->cap = kl->cap ? kl->cap * 2 : 64;
        kl->k = realloc(kl->k, kl->cap * sizeof *kl->k);
        kl->l = realloc(kl->l, kl->cap * sizeof *kl->l);
        assert_non_null(kl->k);
        assert_non_null(kl->l);
    }
    kl->k[kl->n] = malloc(l);
    memcpy(kl->k[kl->n], k, l);
    kl->l[kl->n++] = l;
}

static void kl_free(KeyList *kl)
{
    for (size_t i = 0; i < kl->n; i++)
        free(kl->k[i]);
    free(kl->k);
    free(kl->l);
    memset(kl, 0, sizeof *kl);
}

static int raw_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

/* sorts and removes duplicates (selection of pairs kept in sync) */
static void kl_sort(KeyList *kl)
{
    for (size_t i = 1; i < kl->n; i++) { /* insertion sort: lists are small-ish */
        uint8_t *k = kl->k[i];
        size_t l = kl->l[i], j = i;
        while (j > 0 && raw_cmp(kl->k[j - 1], kl->l[j - 1], k, l) > 0) {
            kl->k[j] = kl->k[j - 1];
            kl->l[j] = kl->l[j - 1];
            j--;
        }
        kl->k[j] = k;
        kl->l[j] = l;
    }
    size_t w = 0;
    for (size_t i = 0; i < kl->n; i++) {
        if (w && raw_cmp(kl->k[w - 1], kl->l[w - 1], kl->k[i], kl->l[i]) == 0) {
            free(kl->k[i]);
            continue;
        }
        kl->k[w] = kl->k[i];
        kl->l[w++] = kl->l[i];
    }
    kl->n = w;
}

/* The entries a document should have, from its tree. */
static void expected_for_doc(const IdxDef *d, const DocValue *root, KeyList *out)
{
    const DocValue *del = doc_path_get(root, "isDeleted");
    if (del && del->type == DOC_BOOL && del->u.b)
        return;
    if (d->where) {
        const DocValue *w = doc_path_get(root, d->where);
        if (!w || w->type != DOC_BOOL || !w->u.b)
            return;
    }
    const DocValue *id = doc_path_get(root, "id");
    assert_non_null(id);
    assert_int_equal(id->type, DOC_STRING);
    const DocValue *arr = NULL;
    size_t nalt = 1, each = (size_t)-1;
    for (size_t i = 0; i < d->nfields; i++) {
        if (!d->fields[i].each)
            continue;
        const DocValue *v = doc_path_get(root, d->fields[i].path);
        if (v && v->type == DOC_ARRAY) {
            arr = v;
            each = i;
            nalt = v->u.a.n;
        }
    }
    for (size_t j = 0; j < nalt; j++) {
        KeyBuf k = {0};
        for (size_t i = 0; i < d->nfields; i++) {
            const DocValue *v = i == each ? arr->u.a.v[j] : doc_path_get(root, d->fields[i].path);
            assert_int_equal(keyenc_value(&k, v, d->fields[i].desc), BLAZEDB_OK);
        }
        uint8_t l2[2] = {(uint8_t)(id->u.s.len >> 8), (uint8_t)id->u.s.len};
        keybuf_put(&k, id->u.s.p, id->u.s.len);
        keybuf_put(&k, l2, 2);
        kl_add(out, k.p, k.len);
        free(k.p);
    }
}

static void expected_entries(BlazeDB *db, BlazeDBTxn *t, const char *coll, const IdxDef *d,
                             KeyList *out)
{
    BlazeDBDocCursor *cur;
    assert_int_equal(blazedb_doc_cursor_open(db, t, coll, NULL, &cur), BLAZEDB_OK);
    BlazeDBDoc *doc;
    while (blazedb_doc_cursor_next(cur, &doc) == BLAZEDB_OK) {
        void *bin;
        size_t len;
        assert_int_equal(blazedb_doc_encode(doc, &bin, &len), BLAZEDB_OK);
        DocValue *root;
        char err[DOC_ERRMAX];
        assert_int_equal(docbin_decode(bin, len, &root, err), BLAZEDB_OK);
        expected_for_doc(d, root, out);
        doc_free(root);
        blazedb_free(bin);
        blazedb_doc_free(doc);
    }
    blazedb_doc_cursor_close(cur);
    kl_sort(out);
}

static void actual_entries(PagerTxn *pt, IdxDef *d, KeyList *out)
{
    if (!d->root.root.pgno)
        return;
    BtCursor *c;
    assert_int_equal(btc_open(pt, &d->root, &c), BLAZEDB_OK);
    int rc = btc_first(c);
    while (rc == BLAZEDB_OK) {
        const void *k;
        size_t kl;
        assert_int_equal(btc_key(c, &k, &kl), BLAZEDB_OK);
        kl_add(out, k, kl);
        rc = btc_next(c);
    }
    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
    btc_close(c);
}

/* The index's entries, read in txn t (NULL: a read transaction of its own). */
static void index_keys(BlazeDB *db, BlazeDBTxn *t, const char *name, KeyList *out)
{
    BlazeDBTxn *own = NULL;
    if (!t)
        assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &own), BLAZEDB_OK);
    IdxDef d;
    assert_int_equal(idx_find(db_txn_pt(t ? t : own), name, &d), BLAZEDB_OK);
    actual_entries(db_txn_pt(t ? t : own), &d, out);
    idx_def_clear(&d);
    if (own)
        blazedb_txn_abort(own);
}

/* Asserts that index `name` of `coll` holds exactly the expected entries,
 * and that idx_check agrees. */
static void verify(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *name)
{
    BlazeDBTxn *own = NULL;
    if (!t)
        assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &own), BLAZEDB_OK);
    PagerTxn *pt = db_txn_pt(t ? t : own);
    IdxDef d;
    assert_int_equal(idx_find(pt, name, &d), BLAZEDB_OK);
    KeyList want = {0}, got = {0};
    expected_entries(db, t ? t : own, coll, &d, &want);
    actual_entries(pt, &d, &got);
    assert_int_equal(d.root.count, got.n);
    if (want.n != got.n)
        fail_msg("index %s: %zu entries, expected %zu", name, got.n, want.n);
    for (size_t i = 0; i < want.n; i++)
        if (raw_cmp(want.k[i], want.l[i], got.k[i], got.l[i]) != 0)
            fail_msg("index %s: entry %zu differs", name, i);
    CatColl c;
    assert_int_equal(cat_get(pt, coll, strlen(coll), &c), BLAZEDB_OK);
    assert_true(c.flags & CAT_F_HAS_INDEXES);
    assert_int_equal(c.id, d.coll_id);
    char err[256];
    if (idx_check(pt, &c, err, sizeof err) != BLAZEDB_OK)
        fail_msg("idx_check: %s", err);
    kl_free(&want);
    kl_free(&got);
    idx_def_clear(&d);
    if (own)
        blazedb_txn_abort(own);
}

/* The ids of the index's entries in index order, joined with ','. */
static void index_ids(BlazeDB *db, const char *name, char *out, size_t outlen)
{
    KeyList kl = {0};
    index_keys(db, NULL, name, &kl);
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < kl.n; i++) {
        const char *id;
        size_t idl;
        assert_int_equal(idx_key_id(kl.k[i], kl.l[i], &id, &idl), BLAZEDB_OK);
        o += (size_t)snprintf(out + o, outlen - o, "%s%.*s", i ? "," : "", (int)idl, id);
        assert_true(o < outlen);
    }
    kl_free(&kl);
}

static int coll_flags(BlazeDB *db, const char *coll)
{
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    CatColl c;
    assert_int_equal(cat_get(db_txn_pt(t), coll, strlen(coll), &c), BLAZEDB_OK);
    blazedb_txn_abort(t);
    return (int)c.flags;
}

static uint64_t count(BlazeDB *db, const char *coll)
{
    uint64_t n = 0;
    assert_int_equal(blazedb_count(db, NULL, coll, &n), BLAZEDB_OK);
    return n;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_create_list_drop(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    idx_set_pred_hooks(NULL);
    assert_int_equal(ins(db, NULL, "people", "{\"id\":\"p1\",\"age\":30,\"name\":\"ann\"}"),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "other", "{\"id\":\"o1\"}"), BLAZEDB_OK);
    assert_false(coll_flags(db, "people") & CAT_F_HAS_INDEXES);
    assert_int_equal(mkidx(db, NULL, "people", "by_age", "age", 0, NULL), BLAZEDB_OK);
    assert_true(coll_flags(db, "people") & CAT_F_HAS_INDEXES);
    verify(db, NULL, "people", "by_age");
    assert_int_equal(mkidx(db, NULL, "people", "by_name", "-name,age", BLAZEDB_INDEX_UNIQUE,
                           NULL),
                     BLAZEDB_OK);
    char *json = NULL;
    assert_int_equal(blazedb_index_list(db, NULL, "people", &json), BLAZEDB_OK);
    assert_string_equal(
        json, "[{\"entries\":1,\"fields\":[{\"descending\":false,\"each\":false,\"path\":"
              "\"age\"}],\"name\":\"by_age\",\"unique\":false,\"where\":null},{\"entries\":1,"
              "\"fields\":[{\"descending\":true,\"each\":false,\"path\":\"name\"},{"
              "\"descending\":false,\"each\":false,\"path\":\"age\"}],\"name\":\"by_name\","
              "\"unique\":true,\"where\":null}]");
    blazedb_free(json);
    assert_int_equal(blazedb_index_list(db, NULL, "other", &json), BLAZEDB_OK);
    assert_string_equal(json, "[]");
    blazedb_free(json);
    assert_int_equal(blazedb_index_list(db, NULL, "nope", &json), BLAZEDB_NOT_FOUND);

    /* names are unique across the database */
    assert_int_equal(mkidx(db, NULL, "people", "by_age", "name", 0, NULL), BLAZEDB_EXISTS);
    assert_int_equal(mkidx(db, NULL, "other", "by_age", "x", 0, NULL), BLAZEDB_EXISTS);
    assert_non_null(strstr(blazedb_errmsg(db), "by_age"));
    /* bad definitions */
    assert_int_equal(mkidx(db, NULL, "nope", "i1", "x", 0, NULL), BLAZEDB_NOT_FOUND);
    assert_int_equal(mkidx(db, NULL, "people", "i1", "a[],b[]", 0, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(mkidx(db, NULL, "people", "i1", "a..b", 0, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(mkidx(db, NULL, "people", "i1", "x", 0x10, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(mkidx(db, NULL, "people", "", "x", 0, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(mkidx(db, NULL, "people", "i1", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", 0,
                           NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(mkidx(db, NULL, "people", "i16", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", 0,
                           NULL),
                     BLAZEDB_OK);
    verify(db, NULL, "people", "i16");
    assert_int_equal(blazedb_index_create(db, NULL, "people", "i0", NULL, 0, 0, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    /* partial indexes need the hook */
    assert_int_equal(mkidx(db, NULL, "people", "part", "age", 0, "active"),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "partial indexes need the SQL layer"));
    idx_set_pred_hooks(&fake_hooks);
    assert_int_equal(mkidx(db, NULL, "people", "part", "age", 0, "!bad"), BLAZEDB_SQL_ERROR);
    assert_non_null(strstr(blazedb_errmsg(db), "bad predicate"));
    idx_set_pred_hooks(NULL);

    /* drop; the flag goes with the last index */
    assert_int_equal(blazedb_index_drop(db, NULL, "by_age"), BLAZEDB_OK);
    assert_int_equal(blazedb_index_drop(db, NULL, "by_age"), BLAZEDB_NOT_FOUND);
    assert_true(coll_flags(db, "people") & CAT_F_HAS_INDEXES);
    assert_int_equal(blazedb_index_drop(db, NULL, "by_name"), BLAZEDB_OK);
    assert_int_equal(blazedb_index_drop(db, NULL, "i16"), BLAZEDB_OK);
    assert_false(coll_flags(db, "people") & CAT_F_HAS_INDEXES);
    assert_int_equal(blazedb_index_list(db, NULL, "people", &json), BLAZEDB_OK);
    assert_string_equal(json, "[]");
    blazedb_free(json);
    /* the name is free again, on any collection */
    assert_int_equal(mkidx(db, NULL, "other", "by_age", "x", 0, NULL), BLAZEDB_OK);
    /* create and drop inside a caller's transaction; rollback undoes them */
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(mkidx(db, t, "people", "tx_idx", "name", 0, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_index_drop(db, t, "by_age"), BLAZEDB_OK);
    verify(db, t, "people", "tx_idx");
    blazedb_txn_abort(t);
    assert_int_equal(blazedb_index_drop(db, NULL, "tx_idx"), BLAZEDB_NOT_FOUND);
    verify(db, NULL, "other", "by_age");
    env_free(&e);
}

static void test_kinds(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    static const char *const docs[] = {
        "{\"id\":\"a\",\"n\":3,\"s\":\"x\",\"tags\":[\"red\",\"blue\",\"red\"],\"a\":{\"b\":1}}",
        "{\"id\":\"b\",\"n\":1.5,\"s\":\"y\",\"tags\":[],\"a\":{\"b\":[1,2]}}",
        "{\"id\":\"c\",\"n\":-2,\"s\":\"x\",\"tags\":\"solo\",\"a\":{\"b\":{\"c\":true}}}",
        "{\"id\":\"d\",\"s\":null,\"tags\":[[1],{\"k\":2},null,3]}",
        "{\"id\":\"e\",\"n\":3.0,\"s\":\"x\",\"a\":5}",
        "{\"id\":\"f\",\"n\":\"3\",\"s\":\"\",\"tags\":[1,1.0,2]}",
    };
    /* half the documents before the indexes exist (bulk), half after */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ins(db, NULL, "k", docs[i]), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "k", "k_n", "n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "k", "k_ndesc", "-n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "k", "k_sn", "s,-n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "k", "k_ab", "a.b", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "k", "k_tags", "tags[],-s", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "k", "k_tags0", "tags.0", 0, NULL), BLAZEDB_OK);
    for (int i = 3; i < 6; i++)
        assert_int_equal(ins(db, NULL, "k", docs[i]), BLAZEDB_OK);
    static const char *const all[] = {"k_n", "k_ndesc", "k_sn", "k_ab", "k_tags", "k_tags0"};
    for (size_t i = 0; i < 6; i++)
        verify(db, NULL, "k", all[i]);
    char ids[256];
    /* missing < numbers (-2 < 1.5 < 3 = 3.0, ties by id) < strings */
    index_ids(db, "k_n", ids, sizeof ids);
    assert_string_equal(ids, "d,c,b,a,e,f");
    index_ids(db, "k_ndesc", ids, sizeof ids);
    assert_string_equal(ids, "f,a,e,b,c,d");
    /* s asc (null, "", "x", "y"), then n desc */
    index_ids(db, "k_sn", ids, sizeof ids);
    assert_string_equal(ids, "d,f,a,e,c,b");
    /* multikey: a red/blue (deduplicated), b none (empty array), c "solo",
     * d four, e one (missing), f 1 and 2 (1 = 1.0) */
    KeyList kl = {0};
    index_keys(db, NULL, "k_tags", &kl);
    assert_int_equal(kl.n, 2 + 0 + 1 + 4 + 1 + 2);
    kl_free(&kl);
    /* the entry key layout: components, id, u16 BE id length */
    index_keys(db, NULL, "k_n", &kl);
    KeyBuf want = {0};
    keyenc_int(&want, -2, 0);
    keybuf_put(&want, "c\x00\x01", 3);
    assert_int_equal(kl.l[1], want.len);
    assert_memory_equal(kl.k[1], want.p, want.len);
    free(want.p);
    kl_free(&kl);
    /* changes move entries */
    assert_int_equal(patch(db, NULL, "k", "b", "{\"tags\":[\"green\"],\"n\":100}"), BLAZEDB_OK);
    assert_int_equal(repl(db, NULL, "k", "{\"id\":\"a\",\"n\":-5,\"a\":{\"b\":2}}", 0),
                     BLAZEDB_OK);
    for (size_t i = 0; i < 6; i++)
        verify(db, NULL, "k", all[i]);
    index_ids(db, "k_n", ids, sizeof ids);
    assert_string_equal(ids, "d,a,c,e,b,f");
    /* a renamed collection keeps its indexes */
    assert_int_equal(blazedb_collection_rename(db, NULL, "k", "k2"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "k2", "{\"id\":\"g\",\"n\":0}"), BLAZEDB_OK);
    for (size_t i = 0; i < 6; i++)
        verify(db, NULL, "k2", all[i]);
    env_free(&e);
}

static void test_partial(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    idx_set_pred_hooks(&fake_hooks);
    assert_int_equal(ins(db, NULL, "p", "{\"id\":\"1\",\"n\":1,\"active\":true}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "p", "{\"id\":\"2\",\"n\":2,\"active\":false}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "p", "{\"id\":\"3\",\"n\":3}"), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "p", "p_active", "n", 0, "active"), BLAZEDB_OK);
    char ids[64];
    index_ids(db, "p_active", ids, sizeof ids);
    assert_string_equal(ids, "1");
    assert_int_equal(patch(db, NULL, "p", "2", "{\"active\":true}"), BLAZEDB_OK);
    assert_int_equal(patch(db, NULL, "p", "1", "{\"active\":false}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "p", "{\"id\":\"4\",\"n\":0,\"active\":true}"), BLAZEDB_OK);
    index_ids(db, "p_active", ids, sizeof ids);
    assert_string_equal(ids, "4,2");
    verify(db, NULL, "p", "p_active");
    char *json;
    assert_int_equal(blazedb_index_list(db, NULL, "p", &json), BLAZEDB_OK);
    assert_non_null(strstr(json, "\"where\":\"active\""));
    blazedb_free(json);
    /* a unique partial index only constrains the documents it holds */
    assert_int_equal(mkidx(db, NULL, "p", "p_u", "n", BLAZEDB_INDEX_UNIQUE, "active"),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "p", "{\"id\":\"5\",\"n\":2}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "p", "{\"id\":\"6\",\"n\":2,\"active\":true}"),
                     BLAZEDB_CONSTRAINT);
    verify(db, NULL, "p", "p_u");
    idx_set_pred_hooks(NULL);
    env_free(&e);
}

static void expect_doc(BlazeDB *db, const char *coll, const char *id, const char *field,
                       const char *want)
{
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_get_doc(db, NULL, coll, id, &d), BLAZEDB_OK);
    const char *s = NULL;
    size_t l = 0;
    if (want) {
        assert_int_equal(blazedb_doc_get_string(d, field, &s, &l), BLAZEDB_OK);
        assert_int_equal(l, strlen(want));
        assert_memory_equal(s, want, l);
    } else {
        assert_int_equal(blazedb_doc_type(d, field), BLAZEDB_TYPE_MISSING);
    }
    blazedb_doc_free(d);
}

static void test_unique(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"1\",\"email\":\"a@x\"}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"2\",\"email\":\"b@x\"}"), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "u", "u_email", "email", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    /* insert */
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"3\",\"email\":\"a@x\"}"),
                     BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "u_email"));
    assert_non_null(strstr(blazedb_errmsg(db), "id 1 "));
    assert_int_equal(count(db, "u"), 2);
    /* replace, upsert (existing and new), patch */
    assert_int_equal(repl(db, NULL, "u", "{\"id\":\"2\",\"email\":\"a@x\"}", 0),
                     BLAZEDB_CONSTRAINT);
    assert_int_equal(repl(db, NULL, "u", "{\"id\":\"2\",\"email\":\"a@x\"}", 1),
                     BLAZEDB_CONSTRAINT);
    assert_int_equal(repl(db, NULL, "u", "{\"id\":\"9\",\"email\":\"a@x\"}", 1),
                     BLAZEDB_CONSTRAINT);
    assert_int_equal(patch(db, NULL, "u", "2", "{\"email\":\"a@x\"}"), BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "unique index u_email"));
    expect_doc(db, "u", "2", "email", "b@x");
    assert_int_equal(count(db, "u"), 2);
    /* insert_many: one duplicate undoes the whole batch */
    BlazeDBDoc *batch[3] = {J("{\"id\":\"4\",\"email\":\"c@x\"}"),
                            J("{\"id\":\"5\",\"email\":\"d@x\"}"),
                            J("{\"id\":\"6\",\"email\":\"c@x\"}")};
    assert_int_equal(blazedb_insert_many(db, NULL, "u", batch, 3), BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "id 4 "));
    for (int i = 0; i < 3; i++)
        blazedb_doc_free(batch[i]);
    assert_int_equal(count(db, "u"), 2);
    verify(db, NULL, "u", "u_email");
    /* a document may keep or change its own value; swapping through a free
     * value works */
    assert_int_equal(repl(db, NULL, "u", "{\"id\":\"1\",\"email\":\"a@x\",\"v\":1}", 0),
                     BLAZEDB_OK);
    assert_int_equal(patch(db, NULL, "u", "1", "{\"email\":\"tmp\"}"), BLAZEDB_OK);
    assert_int_equal(patch(db, NULL, "u", "2", "{\"email\":\"a@x\"}"), BLAZEDB_OK);
    assert_int_equal(patch(db, NULL, "u", "1", "{\"email\":\"b@x\"}"), BLAZEDB_OK);
    /* nulls and missing values never conflict */
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"n1\"}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"n2\"}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"n3\",\"email\":null}"), BLAZEDB_OK);
    /* 1 and 1.0 are the same value */
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"i1\",\"email\":1}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"i2\",\"email\":1.0}"), BLAZEDB_CONSTRAINT);
    /* a deleted or soft-deleted document frees its value */
    assert_int_equal(blazedb_soft_delete(db, NULL, "u", "i1"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"i2\",\"email\":1.0}"), BLAZEDB_OK);
    assert_int_equal(blazedb_delete_doc(db, NULL, "u", "i2"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "u", "{\"id\":\"i3\",\"email\":1}"), BLAZEDB_OK);
    /* ... and reviving the soft-deleted one now conflicts */
    assert_int_equal(repl(db, NULL, "u", "{\"id\":\"i1\",\"email\":1}", 1),
                     BLAZEDB_CONSTRAINT);
    verify(db, NULL, "u", "u_email");

    /* in a caller's transaction: the failed call changes nothing and the
     * transaction goes on */
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(ins(db, t, "u", "{\"id\":\"t1\",\"email\":\"t@x\"}"), BLAZEDB_OK);
    assert_int_equal(ins(db, t, "u", "{\"id\":\"t2\",\"email\":\"t@x\"}"), BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "id t1 "));
    assert_int_equal(patch(db, t, "u", "1", "{\"email\":\"t@x\"}"), BLAZEDB_CONSTRAINT);
    assert_int_equal(ins(db, t, "u", "{\"id\":\"t3\",\"email\":\"t3@x\"}"), BLAZEDB_OK);
    verify(db, t, "u", "u_email");
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    int exists = 0;
    assert_int_equal(blazedb_exists(db, NULL, "u", "t2", &exists), BLAZEDB_OK);
    assert_false(exists);
    assert_int_equal(blazedb_exists(db, NULL, "u", "t3", &exists), BLAZEDB_OK);
    assert_true(exists);
    expect_doc(db, "u", "1", "email", "b@x");
    verify(db, NULL, "u", "u_email");

    /* compound unique: all components equal conflicts, a null never */
    assert_int_equal(mkidx(db, NULL, "u", "u_ab", "a,-b", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"x\"}"), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "c", "c_ab", "a,-b", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"c1\",\"a\":1,\"b\":1}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"c2\",\"a\":1,\"b\":2}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"c3\",\"a\":2,\"b\":1}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"c4\",\"a\":1,\"b\":1}"), BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "c_ab"));
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"c5\",\"a\":1}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"c6\",\"a\":1,\"b\":null}"), BLAZEDB_OK);
    assert_int_equal(patch(db, NULL, "c", "c6", "{\"b\":2}"), BLAZEDB_CONSTRAINT);
    verify(db, NULL, "c", "c_ab");
    /* multikey unique: elements are unique across documents */
    assert_int_equal(mkidx(db, NULL, "c", "c_tags", "tags[]", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"m1\",\"tags\":[\"x\",\"y\",\"x\"]}"),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"m2\",\"tags\":[\"z\",\"y\"]}"),
                     BLAZEDB_CONSTRAINT);
    assert_int_equal(ins(db, NULL, "c", "{\"id\":\"m2\",\"tags\":[\"z\"]}"), BLAZEDB_OK);
    verify(db, NULL, "c", "c_tags");

    /* building a unique index over duplicates fails and leaves nothing */
    assert_int_equal(ins(db, NULL, "d", "{\"id\":\"d1\",\"k\":7}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "d", "{\"id\":\"d2\",\"k\":8}"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "d", "{\"id\":\"d3\",\"k\":7.0}"), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "d", "d_k", "k", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "duplicate key for ids d1 and d3"));
    assert_false(coll_flags(db, "d") & CAT_F_HAS_INDEXES);
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(mkidx(db, t, "d", "d_k", "k", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_CONSTRAINT);
    assert_int_equal(mkidx(db, t, "d", "d_k", "k", 0, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    verify(db, NULL, "d", "d_k");
    env_free(&e);
}

static void test_too_big(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    size_t maxk = btree_max_key(db_pager(db));
    char *json = malloc(maxk + 64);
    char *s = malloc(maxk + 1);
    memset(s, 'q', maxk);
    s[maxk] = 0;
    snprintf(json, maxk + 64, "{\"id\":\"big\",\"s\":\"%s\"}", s);
    assert_int_equal(ins(db, NULL, "b", "{\"id\":\"small\",\"s\":\"q\"}"), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "b", "b_s", "s", 0, NULL), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "b", json), BLAZEDB_TOO_BIG);
    assert_non_null(strstr(blazedb_errmsg(db), "b_s"));
    assert_int_equal(count(db, "b"), 1);
    assert_int_equal(blazedb_index_drop(db, NULL, "b_s"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "b", json), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "b", "b_s", "s", 0, NULL), BLAZEDB_TOO_BIG);
    assert_non_null(strstr(blazedb_errmsg(db), "b_s"));
    assert_int_equal(blazedb_index_drop(db, NULL, "b_s"), BLAZEDB_NOT_FOUND);
    free(s);
    free(json);
    env_free(&e);
}

/* ---- random maintenance ------------------------------------------------------------- */

static const char *const rand_idx[] = {"r_n", "r_sn", "r_tags", "r_ab", "r_part", "r_u"};
#define NRAND_IDX (sizeof rand_idx / sizeof *rand_idx)

static void rand_doc(TuRng *r, int id, char *out, size_t outlen)
{
    static const char *const strs[] = {"\"a\"", "\"b\"", "\"ab\"", "null", "1", "2.5", "true"};
    char tags[128] = "";
    size_t nt = tu_rng_below(r, 5);
    if (nt == 4) {
        snprintf(tags, sizeof tags, ",\"tags\":%s", strs[tu_rng_below(r, 7)]);
    } else if (nt) {
        size_t o = (size_t)snprintf(tags, sizeof tags, ",\"tags\":[");
        for (size_t i = 0; i < nt - 1; i++)
            o += (size_t)snprintf(tags + o, sizeof tags - o, "%s%s", i ? "," : "",
                                  strs[tu_rng_below(r, 7)]);
        snprintf(tags + o, sizeof tags - o, "]");
    }
    char u[32] = "";
    uint64_t uk = tu_rng_below(r, 4);
    if (uk == 1)
        snprintf(u, sizeof u, ",\"u\":%d", id);
    else if (uk == 2)
        snprintf(u, sizeof u, ",\"u\":%d", (int)tu_rng_below(r, 80));
    else if (uk == 3)
        snprintf(u, sizeof u, ",\"u\":null");
    snprintf(out, outlen,
             "{\"id\":\"d%02d\",\"n\":%s,\"s\":%s,\"a\":{\"b\":%d},\"active\":%s%s%s}", id,
             tu_rng_below(r, 4) ? (const char *[]){"1", "2", "3.5", "-1", "0"}[tu_rng_below(r, 5)]
                                : "\"n\"",
             strs[tu_rng_below(r, 7)], (int)tu_rng_below(r, 4),
             tu_rng_below(r, 2) ? "true" : "false", tags, u);
}

/* One random write; returns what it returned. */
static BlazeDBResult rand_op(BlazeDB *db, BlazeDBTxn *t, TuRng *r)
{
    char json[512], id[8];
    int k = (int)tu_rng_below(r, 40);
    snprintf(id, sizeof id, "d%02d", k);
    rand_doc(r, k, json, sizeof json);
    switch (tu_rng_below(r, 10)) {
    case 0:
    case 1: return ins(db, t, "r", json);
    case 2: return repl(db, t, "r", json, 0);
    case 3: return repl(db, t, "r", json, 1);
    case 4: {
        char p[64];
        snprintf(p, sizeof p, "{\"n\":%d,\"a\":{\"b\":%d}}", (int)tu_rng_below(r, 4),
                 (int)tu_rng_below(r, 4));
        return patch(db, t, "r", id, p);
    }
    case 5: {
        const char *un = "tags";
        BlazeDBDoc *set = J(tu_rng_below(r, 2) ? "{\"active\":true}" : "{\"u\":5}");
        BlazeDBResult rc = blazedb_patch(db, t, "r", id, set, &un, 1);
        blazedb_doc_free(set);
        return rc;
    }
    case 6: return blazedb_delete_doc(db, t, "r", id);
    case 7: return blazedb_soft_delete(db, t, "r", id);
    case 8: return blazedb_purge(db, t, "r", NULL);
    default: {
        const char *ids[2] = {id, "d07"};
        return blazedb_delete_many(db, t, "r", ids, 2, NULL);
    }
    }
}

static void verify_all(BlazeDB *db, BlazeDBTxn *t)
{
    for (size_t i = 0; i < NRAND_IDX; i++)
        verify(db, t, "r", rand_idx[i]);
}

static void test_random_maintenance(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    idx_set_pred_hooks(&fake_hooks);
    TuRng r;
    tu_rng_seed(&r, tu_seed("test_index random"));
    assert_int_equal(blazedb_collection_create(db, NULL, "r", NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "r", "r_n", "n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "r", "r_sn", "s,-n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "r", "r_tags", "-tags[],s", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "r", "r_ab", "-a.b", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "r", "r_part", "n", 0, "active"), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "r", "r_u", "u", BLAZEDB_INDEX_UNIQUE, NULL), BLAZEDB_OK);
    int rounds = tu_long_tests() ? 2000 : 400;
    int constraint = 0;
    for (int round = 0; round < rounds; round++) {
        uint64_t mode = tu_rng_below(&r, 10);
        if (mode < 6) {
            BlazeDBResult rc = rand_op(db, NULL, &r);
            assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_NOT_FOUND || rc == BLAZEDB_EXISTS ||
                        rc == BLAZEDB_CONSTRAINT);
            constraint += rc == BLAZEDB_CONSTRAINT;
        } else {
            /* several writes in a transaction, one savepoint rolled back,
             * then commit or abort */
            BlazeDBTxn *t;
            assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
            for (int i = 0; i < 4; i++)
                rand_op(db, t, &r);
            size_t sp;
            assert_int_equal(blazedb_savepoint(t, &sp), BLAZEDB_OK);
            for (int i = 0; i < 3; i++)
                rand_op(db, t, &r);
            if (tu_rng_below(&r, 2)) {
                verify_all(db, t);
                assert_int_equal(blazedb_savepoint_rollback(t, sp), BLAZEDB_OK);
            }
            assert_int_equal(blazedb_savepoint_release(t, sp), BLAZEDB_OK);
            verify_all(db, t);
            if (mode < 8)
                assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
            else
                blazedb_txn_abort(t);
        }
        verify_all(db, NULL);
    }
    assert_true(constraint > 0);
    uint64_t deleted = 0;
    assert_int_equal(blazedb_delete_all(db, NULL, "r", &deleted), BLAZEDB_OK);
    verify_all(db, NULL);
    for (size_t i = 0; i < NRAND_IDX; i++) {
        KeyList kl = {0};
        index_keys(db, NULL, rand_idx[i], &kl);
        assert_int_equal(kl.n, 0);
        kl_free(&kl);
    }
    idx_set_pred_hooks(NULL);
    env_free(&e);
}

/* ---- bulk build ----------------------------------------------------------------- */

#define BULK_N 20000

static void bulk_insert(BlazeDB *db, const char *coll)
{
    BlazeDBDoc *docs[1000];
    for (int base = 0; base < BULK_N; base += 1000) {
        for (int i = 0; i < 1000; i++) {
            int k = base + i;
            char json[160];
            snprintf(json, sizeof json,
                     "{\"id\":\"k%05d\",\"n\":%d,\"s\":\"str%d\",\"tags\":[%d,%d]}", k, k % 997,
                     k % 50, k % 7, k % 11);
            docs[i] = J(json);
        }
        assert_int_equal(blazedb_insert_many(db, NULL, coll, docs, 1000), BLAZEDB_OK);
        for (int i = 0; i < 1000; i++)
            blazedb_doc_free(docs[i]);
    }
}

static void test_bulk_equals_incremental(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    BlazeDBCollectionOptions o;
    blazedb_collection_options_init(&o);
    o.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    assert_int_equal(blazedb_collection_create(db, NULL, "inc", &o), BLAZEDB_OK);
    assert_int_equal(blazedb_collection_create(db, NULL, "blk", &o), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "inc", "inc_sn", "s,-n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "inc", "inc_tags", "tags[]", 0, NULL), BLAZEDB_OK);
    bulk_insert(db, "inc");
    bulk_insert(db, "blk");
    assert_int_equal(mkidx(db, NULL, "blk", "blk_sn", "s,-n", 0, NULL), BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "blk", "blk_tags", "tags[]", 0, NULL), BLAZEDB_OK);
    static const char *const pairs[2][2] = {{"inc_sn", "blk_sn"}, {"inc_tags", "blk_tags"}};
    for (int p = 0; p < 2; p++) {
        KeyList a = {0}, b = {0};
        index_keys(db, NULL, pairs[p][0], &a);
        index_keys(db, NULL, pairs[p][1], &b);
        assert_int_equal(a.n, b.n);
        size_t want = BULK_N;
        if (p == 1)
            for (int k = 0; k < BULK_N; k++)
                want += k % 7 != k % 11;
        assert_int_equal(a.n, want);
        for (size_t i = 0; i < a.n; i++)
            if (raw_cmp(a.k[i], a.l[i], b.k[i], b.l[i]) != 0)
                fail_msg("%s and %s differ at entry %zu", pairs[p][0], pairs[p][1], i);
        kl_free(&a);
        kl_free(&b);
    }
    verify(db, NULL, "blk", "blk_sn");
    verify(db, NULL, "inc", "inc_tags");
    /* a build in many small sorted runs gives the same tree contents */
    idx_set_build_run_bytes(64 * 1024);
    assert_int_equal(mkidx(db, NULL, "blk", "runs_sn", "s,-n", 0, NULL), BLAZEDB_OK);
    KeyList a = {0}, b = {0};
    index_keys(db, NULL, "inc_sn", &a);
    index_keys(db, NULL, "runs_sn", &b);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        assert_int_equal(raw_cmp(a.k[i], a.l[i], b.k[i], b.l[i]), 0);
    kl_free(&a);
    kl_free(&b);
    verify(db, NULL, "blk", "runs_sn");
    /* ... and finds duplicates across runs: (n, s) = (k%997, k%50) is unique
     * below k = 49850; "zz" repeats k00001's pair, in the last run */
    assert_int_equal(mkidx(db, NULL, "blk", "runs_u", "n,s", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "blk", "{\"id\":\"zz\",\"n\":1,\"s\":\"str1\"}"),
                     BLAZEDB_CONSTRAINT);
    assert_int_equal(blazedb_index_drop(db, NULL, "runs_u"), BLAZEDB_OK);
    assert_int_equal(ins(db, NULL, "blk", "{\"id\":\"zz\",\"n\":1,\"s\":\"str1\"}"),
                     BLAZEDB_OK);
    assert_int_equal(mkidx(db, NULL, "blk", "runs_u", "n,s", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(blazedb_errmsg(db), "duplicate key for ids k00001 and zz"));
    assert_int_equal(blazedb_delete_doc(db, NULL, "blk", "zz"), BLAZEDB_OK);
    idx_set_build_run_bytes(0);
    /* statistics: the build computes them, ANALYZE recomputes them */
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(idx_analyze(db_txn_pt(t), "inc_sn"), BLAZEDB_OK);
    assert_int_equal(idx_analyze(db_txn_pt(t), "nope"), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    static const char *const names[] = {"inc_sn", "blk_sn", "blk_tags"};
    for (int i = 0; i < 3; i++) {
        IdxDef d;
        assert_int_equal(idx_find(db_txn_pt(t), names[i], &d), BLAZEDB_OK);
        if (i < 2) {
            assert_int_equal(d.stat_rows, BULK_N);
            assert_int_equal(d.distinct[0], 50);
            assert_int_equal(d.distinct[1], BULK_N); /* (k%50, k%997) never repeats */
        } else {
            assert_int_equal(d.stat_rows, d.root.count);
            assert_int_equal(d.distinct[0], 11); /* 0..10 */
        }
        idx_def_clear(&d);
    }
    blazedb_txn_abort(t);
    env_free(&e);
}

/* ---- check, drop, reopen -------------------------------------------------------- */

static void test_check_detects(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    for (int i = 0; i < 50; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"id\":\"c%02d\",\"n\":%d}", i, i % 5);
        assert_int_equal(ins(db, NULL, "c", json), BLAZEDB_OK);
    }
    assert_int_equal(mkidx(db, NULL, "c", "c_n", "n", 0, NULL), BLAZEDB_OK);
    verify(db, NULL, "c", "c_n");
    char err[256];
    for (int kind = 0; kind < 3; kind++) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        PagerTxn *pt = db_txn_pt(t);
        IdxDef d;
        assert_int_equal(idx_find(pt, "c_n", &d), BLAZEDB_OK);
        KeyBuf k = {0};
        if (kind == 0) { /* a stale entry: c03 with a value it does not have */
            keyenc_int(&k, 42, 0);
            keybuf_put(&k, "c03\x00\x03", 5);
            assert_int_equal(btree_put(pt, &d.root, k.p, k.len, "", 0, NULL), BLAZEDB_OK);
        } else if (kind == 1) { /* an entry of a document that does not exist */
            keyenc_int(&k, 1, 0);
            keybuf_put(&k, "zz\x00\x02", 4);
            assert_int_equal(btree_put(pt, &d.root, k.p, k.len, "", 0, NULL), BLAZEDB_OK);
        } else { /* a missing entry */
            keyenc_int(&k, 3, 0);
            keybuf_put(&k, "c08\x00\x03", 5);
            int found = 0;
            assert_int_equal(btree_delete(pt, &d.root, k.p, k.len, &found), BLAZEDB_OK);
            assert_true(found);
        }
        assert_int_equal(idx_def_store(pt, &d), BLAZEDB_OK);
        CatColl c;
        assert_int_equal(cat_get(pt, "c", 1, &c), BLAZEDB_OK);
        assert_int_equal(idx_check(pt, &c, err, sizeof err), BLAZEDB_CORRUPT);
        assert_non_null(strstr(err, "c_n"));
        assert_non_null(strstr(err, kind == 0 ? "c03" : kind == 1 ? "zz" : "c08"));
        assert_non_null(strstr(err, kind == 2 ? "missing" : "stale"));
        free(k.p);
        idx_def_clear(&d);
        blazedb_txn_abort(t);
    }
    verify(db, NULL, "c", "c_n");
    env_free(&e);
}

static void test_drop_collection_and_reopen(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    idx_set_pred_hooks(&fake_hooks);
    assert_int_equal(ins(e.db, NULL, "a", "{\"id\":\"1\",\"x\":1,\"on\":true}"), BLAZEDB_OK);
    assert_int_equal(ins(e.db, NULL, "b", "{\"id\":\"1\",\"x\":1}"), BLAZEDB_OK);
    assert_int_equal(mkidx(e.db, NULL, "a", "a_x", "x", BLAZEDB_INDEX_UNIQUE, NULL),
                     BLAZEDB_OK);
    assert_int_equal(mkidx(e.db, NULL, "a", "a_part", "-x", 0, "on"), BLAZEDB_OK);
    assert_int_equal(mkidx(e.db, NULL, "b", "b_x", "x", 0, NULL), BLAZEDB_OK);
    for (int i = 0; i < 300; i++) { /* enough for a multi-page index */
        char json[96];
        snprintf(json, sizeof json, "{\"id\":\"k%03d\",\"x\":\"value %d\",\"on\":%s}", i, i,
                 i % 3 ? "true" : "false");
        assert_int_equal(ins(e.db, NULL, "a", json), BLAZEDB_OK);
        assert_int_equal(ins(e.db, NULL, "b", json), BLAZEDB_OK);
    }
    /* dropping a collection drops its indexes (and frees their pages:
     * env_free's db_check) */
    assert_int_equal(blazedb_collection_drop(e.db, NULL, "b"), BLAZEDB_OK);
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(e.db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    IdxDef d;
    assert_int_equal(idx_find(db_txn_pt(t), "b_x", &d), BLAZEDB_NOT_FOUND);
    blazedb_txn_abort(t);
    char msg[512];
    assert_int_equal(ins(e.db, NULL, "b", "{\"id\":\"1\",\"x\":1}"), BLAZEDB_OK);
    assert_false(coll_flags(e.db, "b") & CAT_F_HAS_INDEXES);
    assert_int_equal(mkidx(e.db, NULL, "b", "b_x", "x", 0, NULL), BLAZEDB_OK);
    verify(e.db, NULL, "b", "b_x");
    /* reopen: definitions and entries persist and are still maintained */
    blazedb_close(e.db);
    env_open(&e);
    verify(e.db, NULL, "a", "a_x");
    verify(e.db, NULL, "a", "a_part");
    assert_int_equal(ins(e.db, NULL, "a", "{\"id\":\"dup\",\"x\":1}"), BLAZEDB_CONSTRAINT);
    assert_int_equal(patch(e.db, NULL, "a", "k007", "{\"x\":-1}"), BLAZEDB_OK);
    verify(e.db, NULL, "a", "a_x");
    verify(e.db, NULL, "a", "a_part");
    char *json;
    assert_int_equal(blazedb_index_list(e.db, NULL, "a", &json), BLAZEDB_OK);
    assert_non_null(strstr(json, "\"name\":\"a_part\""));
    assert_non_null(strstr(json, "\"entries\":301"));
    blazedb_free(json);
    (void)msg;
    idx_set_pred_hooks(NULL);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_list_drop),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_random_maintenance),
        cmocka_unit_test(test_bulk_equals_incremental),
        cmocka_unit_test(test_check_detects),
        cmocka_unit_test(test_drop_collection_and_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
