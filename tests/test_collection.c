/*
 * test_collection.c — collections and documents through the public API:
 * every call's success and error paths, engine-maintained fields (UUIDv7
 * ids, createdAt/updatedAt, isDeleted), counts, soft delete and purge,
 * cursors, the change log, transactions (own writes visible, rollback
 * leaves nothing, a failed call leaves the caller's transaction usable),
 * and a seeded random model test over two collections with db_check.
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
#include "../src/db/db.h"
#include "../src/pager/pager.h"
#include "support/testutil.h"

typedef struct {
    char *dir, *path;
    BlazeDB *db;
} Env;

static void env_open(Env *e)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    assert_int_equal(blazedb_open_ex(e->path, TU_PASSWORD, &o, &e->db), BLAZEDB_OK);
}

static void env_init(Env *e)
{
    e->dir = tu_mkdtemp("coll");
    assert_non_null(e->dir);
    e->path = tu_path(e->dir, "c.blazedb");
    env_open(e);
}

static void env_free(Env *e)
{
    char msg[512];
    if (tu_db_check(e->db, msg, sizeof msg))
        fail_msg("db_check: %s", msg);
    blazedb_close(e->db);
    tu_rmrf(e->dir);
    free(e->path);
    free(e->dir);
}

static BlazeDBDoc *J(const char *json)
{
    BlazeDBDoc *d = NULL;
    BlazeDBResult rc = blazedb_doc_from_json(json, strlen(json), &d);
    if (rc)
        fail_msg("bad test JSON %s: %s", json, blazedb_errmsg(NULL));
    return d;
}

static char *to_json(const BlazeDBDoc *d)
{
    char *s = NULL;
    assert_int_equal(blazedb_doc_to_json(d, 0, &s, NULL), BLAZEDB_OK);
    return s;
}

/* The document without its engine-maintained timestamps, as JSON. */
static char *core_json(const BlazeDBDoc *d)
{
    BlazeDBDoc *c = NULL;
    assert_int_equal(blazedb_doc_clone(d, &c), BLAZEDB_OK);
    blazedb_doc_unset(c, "createdAt");
    blazedb_doc_unset(c, "updatedAt");
    char *s = to_json(c);
    blazedb_doc_free(c);
    return s;
}

static void expect_doc(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *id,
                       const char *core)
{
    BlazeDBDoc *d = NULL;
    BlazeDBResult rc = blazedb_get_doc(db, t, coll, id, &d);
    if (rc)
        fail_msg("get %s/%s: %s (%s)", coll, id, blazedb_strerror(rc), blazedb_errmsg(db));
    char *s = core_json(d);
    BlazeDBDoc *want = J(core);
    char *w = to_json(want);
    if (strcmp(s, w) != 0)
        fail_msg("%s/%s is %s, expected %s", coll, id, s, w);
    blazedb_free(s);
    blazedb_free(w);
    blazedb_doc_free(want);
    blazedb_doc_free(d);
}

static uint64_t count(BlazeDB *db, const char *coll)
{
    uint64_t n = 999;
    assert_int_equal(blazedb_count(db, NULL, coll, &n), BLAZEDB_OK);
    return n;
}

static void test_crud(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;

    /* insert with an id, and without (UUIDv7) */
    BlazeDBDoc *a = J("{\"id\":\"ada\",\"name\":\"Ada\",\"age\":36,\"address\":{\"city\":\"London\",\"zip\":\"N1\"}}");
    assert_int_equal(blazedb_insert(db, NULL, "people", a), BLAZEDB_OK);
    int64_t c0 = 0, u0 = 0;
    assert_int_equal(blazedb_doc_get_date(a, "createdAt", &c0), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_date(a, "updatedAt", &u0), BLAZEDB_OK);
    assert_true(c0 > 1600000000000LL && c0 == u0);
    BlazeDBDoc *b = J("{\"name\":\"Bob\"}");
    BlazeDBDoc *b2 = J("{\"name\":\"Bea\"}");
    assert_int_equal(blazedb_insert(db, NULL, "people", b), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, NULL, "people", b2), BLAZEDB_OK);
    const char *bid, *bid2;
    size_t bl, bl2;
    assert_int_equal(blazedb_doc_get_string(b, "id", &bid, &bl), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_string(b2, "id", &bid2, &bl2), BLAZEDB_OK);
    assert_int_equal(bl, 36);
    assert_int_equal(bid[14], '7');                      /* version 7 */
    assert_true(strchr("89ab", bid[19]) != NULL);         /* variant 10 */
    assert_true(strcmp(bid, bid2) < 0);                   /* time-ordered */
    assert_int_equal(count(db, "people"), 3);

    /* the stored document equals the caller's, engine fields included */
    BlazeDBDoc *g = NULL;
    assert_int_equal(blazedb_get_doc(db, NULL, "people", "ada", &g), BLAZEDB_OK);
    char *s1 = to_json(g), *s2 = to_json(a);
    assert_string_equal(s1, s2);
    blazedb_free(s1);
    blazedb_free(s2);
    blazedb_doc_free(g);

    /* duplicate id, bad ids, missing collection */
    BlazeDBDoc *dup = J("{\"id\":\"ada\"}");
    assert_int_equal(blazedb_insert(db, NULL, "people", dup), BLAZEDB_EXISTS);
    assert_non_null(strstr(blazedb_errmsg(db), "ada"));
    BlazeDBDoc *badid = J("{\"id\":42}");
    assert_int_equal(blazedb_insert(db, NULL, "people", badid), BLAZEDB_INVALID_ARGUMENT);
    BlazeDBDoc *emptyid = J("{\"id\":\"\"}");
    assert_int_equal(blazedb_insert(db, NULL, "people", emptyid), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(count(db, "people"), 3);
    g = (BlazeDBDoc *)1;
    assert_int_equal(blazedb_get_doc(db, NULL, "nobody", "x", &g), BLAZEDB_NOT_FOUND);
    assert_null(g);
    assert_non_null(strstr(blazedb_errmsg(db), "no collection"));
    assert_int_equal(blazedb_get_doc(db, NULL, "people", "zed", &g), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_insert(db, NULL, "", a), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_insert(db, NULL, "bad\nname", a), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_insert(db, NULL, "people", NULL), BLAZEDB_INVALID_ARGUMENT);
    uint64_t n;
    assert_int_equal(blazedb_count(db, NULL, "nobody", &n), BLAZEDB_NOT_FOUND);

    /* exists */
    int ex = 5;
    assert_int_equal(blazedb_exists(db, NULL, "people", "ada", &ex), BLAZEDB_OK);
    assert_int_equal(ex, 1);
    assert_int_equal(blazedb_exists(db, NULL, "people", "zed", &ex), BLAZEDB_OK);
    assert_int_equal(ex, 0);
    assert_int_equal(blazedb_exists(db, NULL, "nobody", "zed", &ex), BLAZEDB_NOT_FOUND);

    /* replace keeps createdAt */
    tu_sleep_us(3000);
    BlazeDBDoc *r = J("{\"id\":\"ada\",\"name\":\"Ada L.\",\"createdAt\":{\"$date\":0}}");
    assert_int_equal(blazedb_replace(db, NULL, "people", r), BLAZEDB_OK);
    int64_t c1 = 0, u1 = 0;
    assert_int_equal(blazedb_doc_get_date(r, "createdAt", &c1), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_date(r, "updatedAt", &u1), BLAZEDB_OK);
    assert_int_equal(c1, c0);
    assert_true(u1 > u0);
    expect_doc(db, NULL, "people", "ada", "{\"id\":\"ada\",\"name\":\"Ada L.\"}");
    BlazeDBDoc *r2 = J("{\"id\":\"zed\"}");
    assert_int_equal(blazedb_replace(db, NULL, "people", r2), BLAZEDB_NOT_FOUND);
    BlazeDBDoc *r3 = J("{\"x\":1}");
    assert_int_equal(blazedb_replace(db, NULL, "people", r3), BLAZEDB_INVALID_ARGUMENT);

    /* upsert: insert then replace */
    BlazeDBDoc *u = J("{\"id\":\"cy\",\"v\":1}");
    assert_int_equal(blazedb_upsert(db, NULL, "people", u), BLAZEDB_OK);
    assert_int_equal(count(db, "people"), 4);
    BlazeDBDoc *u2 = J("{\"id\":\"cy\",\"v\":2}");
    assert_int_equal(blazedb_upsert(db, NULL, "people", u2), BLAZEDB_OK);
    assert_int_equal(count(db, "people"), 4);
    expect_doc(db, NULL, "people", "cy", "{\"id\":\"cy\",\"v\":2}");

    /* patch: nested set, unset, arrays; the id cannot change */
    BlazeDBDoc *p0 = J("{\"id\":\"pat\",\"a\":{\"b\":1,\"c\":2},\"tags\":[\"x\",\"y\"],\"gone\":true}");
    assert_int_equal(blazedb_insert(db, NULL, "people", p0), BLAZEDB_OK);
    BlazeDBDoc *set = J("{\"a\":{\"c\":3,\"d\":{\"e\":4}},\"tags\":{\"1\":\"z\"},\"n\":null}");
    const char *unset[] = {"gone", "a.b"};
    assert_int_equal(blazedb_patch(db, NULL, "people", "pat", set, unset, 2), BLAZEDB_OK);
    expect_doc(db, NULL, "people", "pat",
               "{\"id\":\"pat\",\"a\":{\"c\":3,\"d\":{\"e\":4}},\"tags\":[\"x\",\"z\"],\"n\":null}");
    BlazeDBDoc *setid = J("{\"id\":\"other\"}");
    assert_int_equal(blazedb_patch(db, NULL, "people", "pat", setid, NULL, 0),
                     BLAZEDB_INVALID_ARGUMENT);
    const char *unsetid[] = {"id"};
    assert_int_equal(blazedb_patch(db, NULL, "people", "pat", NULL, unsetid, 1),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_patch(db, NULL, "people", "zed", set, NULL, 0), BLAZEDB_NOT_FOUND);
    expect_doc(db, NULL, "people", "pat",
               "{\"id\":\"pat\",\"a\":{\"c\":3,\"d\":{\"e\":4}},\"tags\":[\"x\",\"z\"],\"n\":null}");

    /* get_many */
    const char *ids[] = {"ada", "zed", "cy"};
    BlazeDBDoc *many[3];
    assert_int_equal(blazedb_get_many(db, NULL, "people", ids, 3, many), BLAZEDB_OK);
    assert_non_null(many[0]);
    assert_null(many[1]);
    assert_non_null(many[2]);
    for (int i = 0; i < 3; i++)
        blazedb_doc_free(many[i]);

    /* delete */
    assert_int_equal(blazedb_delete_doc(db, NULL, "people", "cy"), BLAZEDB_OK);
    assert_int_equal(blazedb_delete_doc(db, NULL, "people", "cy"), BLAZEDB_NOT_FOUND);
    assert_int_equal(count(db, "people"), 4);
    const char *dels[] = {"pat", "zed", "ada"};
    uint64_t nd = 0;
    assert_int_equal(blazedb_delete_many(db, NULL, "people", dels, 3, &nd), BLAZEDB_OK);
    assert_int_equal(nd, 2);
    assert_int_equal(count(db, "people"), 2);
    assert_int_equal(blazedb_delete_all(db, NULL, "people", &nd), BLAZEDB_OK);
    assert_int_equal(nd, 2);
    assert_int_equal(count(db, "people"), 0);

    BlazeDBDoc *all[] = {a, b, b2, dup, badid, emptyid, r, r2, r3, u, u2, p0, set, setid};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        blazedb_doc_free(all[i]);
    env_free(&e);
}

static void test_soft_delete_and_purge(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    for (int i = 0; i < 10; i++) {
        char js[64];
        snprintf(js, sizeof js, "{\"id\":\"d%02d\",\"i\":%d}", i, i);
        BlazeDBDoc *d = J(js);
        assert_int_equal(blazedb_insert(db, NULL, "c", d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    assert_int_equal(blazedb_soft_delete(db, NULL, "c", "d03"), BLAZEDB_OK);
    assert_int_equal(blazedb_soft_delete(db, NULL, "c", "d05"), BLAZEDB_OK);
    assert_int_equal(blazedb_soft_delete(db, NULL, "c", "d05"), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_soft_delete(db, NULL, "c", "zz"), BLAZEDB_NOT_FOUND);
    assert_int_equal(count(db, "c"), 8);
    BlazeDBDoc *g = NULL;
    assert_int_equal(blazedb_get_doc(db, NULL, "c", "d03", &g), BLAZEDB_NOT_FOUND);
    int ex = 1;
    assert_int_equal(blazedb_exists(db, NULL, "c", "d03", &ex), BLAZEDB_OK);
    assert_int_equal(ex, 0);
    BlazeDBDoc *r = J("{\"id\":\"d03\"}");
    assert_int_equal(blazedb_replace(db, NULL, "c", r), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_insert(db, NULL, "c", r), BLAZEDB_EXISTS);
    /* cursor skips them */
    BlazeDBDocCursor *cur = NULL;
    assert_int_equal(blazedb_doc_cursor_open(db, NULL, "c", NULL, &cur), BLAZEDB_OK);
    int seen = 0;
    BlazeDBDoc *d;
    while (blazedb_doc_cursor_next(cur, &d) == BLAZEDB_OK) {
        const char *id;
        assert_int_equal(blazedb_doc_get_string(d, "id", &id, NULL), BLAZEDB_OK);
        assert_true(strcmp(id, "d03") != 0 && strcmp(id, "d05") != 0);
        seen++;
        blazedb_doc_free(d);
    }
    blazedb_doc_cursor_close(cur);
    assert_int_equal(seen, 8);
    /* upsert revives d05 */
    BlazeDBDoc *u = J("{\"id\":\"d05\",\"back\":true}");
    assert_int_equal(blazedb_upsert(db, NULL, "c", u), BLAZEDB_OK);
    assert_int_equal(count(db, "c"), 9);
    expect_doc(db, NULL, "c", "d05", "{\"id\":\"d05\",\"back\":true}");
    /* purge removes only d03 */
    uint64_t purged = 0;
    assert_int_equal(blazedb_purge(db, NULL, "c", &purged), BLAZEDB_OK);
    assert_int_equal(purged, 1);
    assert_int_equal(blazedb_insert(db, NULL, "c", r), BLAZEDB_OK); /* d03 is free again */
    assert_int_equal(count(db, "c"), 10);
    assert_int_equal(blazedb_purge(db, NULL, "c", &purged), BLAZEDB_OK);
    assert_int_equal(purged, 0);
    blazedb_doc_free(r);
    blazedb_doc_free(u);
    env_free(&e);
}

static void test_collections(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    char **names = NULL;
    size_t n = 9;
    assert_int_equal(blazedb_collection_list(db, NULL, &names, &n), BLAZEDB_OK);
    assert_int_equal(n, 0);
    blazedb_free(names);
    BlazeDBCollectionOptions o;
    blazedb_collection_options_init(&o);
    o.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    assert_int_equal(blazedb_collection_create(db, NULL, "plain", &o), BLAZEDB_OK);
    assert_int_equal(blazedb_collection_create(db, NULL, "plain", NULL), BLAZEDB_EXISTS);
    o.flags = 0x80;
    assert_int_equal(blazedb_collection_create(db, NULL, "x", &o), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_collection_create(db, NULL, "b", NULL), BLAZEDB_OK);
    BlazeDBDoc *d = J("{\"id\":\"1\",\"v\":1}");
    assert_int_equal(blazedb_insert(db, NULL, "plain", d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_type(d, "createdAt"), BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_insert(db, NULL, "auto", d), BLAZEDB_OK); /* implicit create */
    assert_int_equal(blazedb_collection_list(db, NULL, &names, &n), BLAZEDB_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "auto");
    assert_string_equal(names[1], "b");
    assert_string_equal(names[2], "plain");
    assert_null(names[3]);
    blazedb_free(names);
    assert_int_equal(blazedb_collection_rename(db, NULL, "plain", "b"), BLAZEDB_EXISTS);
    assert_int_equal(blazedb_collection_rename(db, NULL, "nope", "c"), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_collection_rename(db, NULL, "plain", "renamed"), BLAZEDB_OK);
    expect_doc(db, NULL, "renamed", "1", "{\"id\":\"1\",\"v\":1}");
    assert_int_equal(count(db, "renamed"), 1);
    assert_int_equal(blazedb_soft_delete(db, NULL, "renamed", "1"), BLAZEDB_OK);
    assert_int_equal(blazedb_collection_drop(db, NULL, "renamed"), BLAZEDB_OK);
    assert_int_equal(blazedb_collection_drop(db, NULL, "renamed"), BLAZEDB_NOT_FOUND);
    BlazeDBDoc *g = NULL;
    assert_int_equal(blazedb_get_doc(db, NULL, "renamed", "1", &g), BLAZEDB_NOT_FOUND);
    /* a new collection of the old name starts empty (the soft-deleted list
     * went with the old one) */
    assert_int_equal(blazedb_collection_create(db, NULL, "renamed", NULL), BLAZEDB_OK);
    uint64_t purged = 7;
    assert_int_equal(blazedb_purge(db, NULL, "renamed", &purged), BLAZEDB_OK);
    assert_int_equal(purged, 0);
    /* many documents, dropped: pages come back (db_check finds no leak) */
    for (int i = 0; i < 300; i++) {
        char js[300];
        snprintf(js, sizeof js, "{\"id\":\"k%04d\",\"pad\":\"%0200d\"}", i, i);
        BlazeDBDoc *x = J(js);
        assert_int_equal(blazedb_insert(db, NULL, "big", x), BLAZEDB_OK);
        blazedb_doc_free(x);
    }
    assert_int_equal(blazedb_collection_drop(db, NULL, "big"), BLAZEDB_OK);
    blazedb_doc_free(d);
    /* persistence */
    blazedb_close(e.db);
    env_open(&e);
    assert_int_equal(blazedb_collection_list(e.db, NULL, &names, &n), BLAZEDB_OK);
    assert_int_equal(n, 3);
    blazedb_free(names);
    expect_doc(e.db, NULL, "auto", "1", "{\"id\":\"1\",\"v\":1}");
    env_free(&e);
}

static BlazeDBResult txn_body(BlazeDBTxn *t, void *arg)
{
    BlazeDB *db = arg;
    BlazeDBDoc *d = J("{\"id\":\"in-fn\"}");
    BlazeDBResult rc = blazedb_insert(db, t, "t", d);
    blazedb_doc_free(d);
    return rc;
}

static BlazeDBResult txn_body_fail(BlazeDBTxn *t, void *arg)
{
    BlazeDB *db = arg;
    BlazeDBDoc *d = J("{\"id\":\"never\"}");
    BlazeDBResult rc = blazedb_insert(db, t, "t", d);
    blazedb_doc_free(d);
    return rc ? rc : BLAZEDB_INVALID_ARGUMENT;
}

static void test_transactions(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    BlazeDBDoc *a = J("{\"id\":\"a\"}"), *b = J("{\"id\":\"b\"}");
    assert_int_equal(blazedb_insert(db, t, "t", a), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, t, "u", b), BLAZEDB_OK);
    expect_doc(db, t, "t", "a", "{\"id\":\"a\"}");           /* own writes */
    BlazeDBDoc *g = NULL;
    assert_int_equal(blazedb_get_doc(db, NULL, "t", "a", &g), BLAZEDB_NOT_FOUND);
    /* a failing call inside leaves the transaction usable and unchanged */
    assert_int_equal(blazedb_insert(db, t, "t", a), BLAZEDB_EXISTS);
    BlazeDBDoc *many[] = {J("{\"id\":\"m1\"}"), J("{\"id\":\"a\"}")};
    assert_int_equal(blazedb_insert_many(db, t, "t", many, 2), BLAZEDB_EXISTS);
    assert_int_equal(blazedb_get_doc(db, t, "t", "m1", &g), BLAZEDB_NOT_FOUND);
    uint64_t n = 0;
    assert_int_equal(blazedb_count(db, t, "t", &n), BLAZEDB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(count(db, "t"), 1);
    assert_int_equal(count(db, "u"), 1);

    /* abort leaves nothing, including an implicitly created collection */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    BlazeDBDoc *c = J("{\"id\":\"c\"}");
    assert_int_equal(blazedb_insert(db, t, "v", c), BLAZEDB_OK);
    assert_int_equal(blazedb_delete_doc(db, t, "t", "a"), BLAZEDB_OK);
    blazedb_txn_abort(t);
    assert_int_equal(blazedb_count(db, NULL, "v", &n), BLAZEDB_NOT_FOUND);
    expect_doc(db, NULL, "t", "a", "{\"id\":\"a\"}");

    /* writes in a read transaction */
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, t, "t", c), BLAZEDB_READONLY);
    expect_doc(db, t, "t", "a", "{\"id\":\"a\"}");
    blazedb_txn_abort(t);

    /* insert_many is all or nothing on its own too */
    assert_int_equal(blazedb_insert_many(db, NULL, "t", many, 2), BLAZEDB_EXISTS);
    assert_int_equal(count(db, "t"), 1);

    /* run_txn */
    assert_int_equal(blazedb_run_txn(db, 0, txn_body, db), BLAZEDB_OK);
    expect_doc(db, NULL, "t", "in-fn", "{\"id\":\"in-fn\"}");
    assert_int_equal(blazedb_run_txn(db, 0, txn_body_fail, db), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_get_doc(db, NULL, "t", "never", &g), BLAZEDB_NOT_FOUND);

    blazedb_doc_free(a);
    blazedb_doc_free(b);
    blazedb_doc_free(c);
    blazedb_doc_free(many[0]);
    blazedb_doc_free(many[1]);
    env_free(&e);
}

typedef struct {
    char log[4096];
    int n;
} ChangeLog;

static int on_change(const BlazeDBChange *ch, void *arg)
{
    ChangeLog *l = arg;
    size_t len = strlen(l->log);
    const char *k = ch->kind == BLAZEDB_CHANGE_INSERT   ? "I"
                    : ch->kind == BLAZEDB_CHANGE_UPDATE ? "U"
                                                        : "D";
    snprintf(l->log + len, sizeof l->log - len, "%s %.*s/%.*s%s;", k, (int)ch->collection_len,
             ch->collection, (int)ch->id_len, ch->id, ch->doc_len ? "+" : "");
    if (ch->doc_len) {
        BlazeDBDoc *d = NULL;
        assert_int_equal(blazedb_doc_decode(ch->doc, ch->doc_len, &d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    l->n++;
    return 0;
}

static void test_change_log(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDB *db = e.db;
    BlazeDBStats st;
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    uint64_t start = st.last_txn_id;
    BlazeDBDoc *a = J("{\"id\":\"a\"}"), *b = J("{\"id\":\"b\"}");
    assert_int_equal(blazedb_insert(db, NULL, "c", a), BLAZEDB_OK);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, t, "c", b), BLAZEDB_OK);
    assert_int_equal(blazedb_replace(db, t, "c", a), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, t, "c", a), BLAZEDB_EXISTS); /* leaves no record */
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_int_equal(blazedb_soft_delete(db, NULL, "c", "b"), BLAZEDB_OK);
    assert_int_equal(blazedb_delete_doc(db, NULL, "c", "a"), BLAZEDB_OK);
    ChangeLog l = {"", 0};
    uint64_t last = 0;
    assert_int_equal(blazedb_changes(db, NULL, start, on_change, &l, &last), BLAZEDB_OK);
    assert_string_equal(l.log, "I c/a+;I c/b+;U c/a+;D c/b+;D c/a;");
    assert_int_equal(last, start + 4);
    /* continuing from last gives nothing new; from start + 1 skips the first */
    ChangeLog l2 = {"", 0};
    assert_int_equal(blazedb_changes(db, NULL, last, on_change, &l2, &last), BLAZEDB_OK);
    assert_int_equal(l2.n, 0);
    ChangeLog l3 = {"", 0};
    assert_int_equal(blazedb_changes(db, NULL, start + 1, on_change, &l3, NULL), BLAZEDB_OK);
    assert_string_equal(l3.log, "I c/b+;U c/a+;D c/b+;D c/a;");
    blazedb_doc_free(a);
    blazedb_doc_free(b);
    env_free(&e);
}

/* ---- random model test ------------------------------------------------------ */

#define MKEYS 120

typedef struct {
    int present[2][MKEYS];
    int deleted[2][MKEYS]; /* soft */
    int64_t val[2][MKEYS];
} CModel;

static void model_check(BlazeDB *db, const CModel *m, uint64_t seed, const char *when)
{
    static const char *colls[2] = {"alpha", "beta"};
    for (int c = 0; c < 2; c++) {
        uint64_t live = 0;
        for (int i = 0; i < MKEYS; i++)
            live += m->present[c][i] && !m->deleted[c][i];
        uint64_t n = 0;
        BlazeDBResult rc = blazedb_count(db, NULL, colls[c], &n);
        if (rc == BLAZEDB_NOT_FOUND)
            n = 0;
        else
            assert_int_equal(rc, BLAZEDB_OK);
        if (n != live)
            fail_msg("seed %" PRIu64 " %s: count(%s) = %" PRIu64 ", model %" PRIu64, seed, when,
                     colls[c], n, live);
        if (rc == BLAZEDB_NOT_FOUND)
            continue;
        BlazeDBDocCursor *cur = NULL;
        assert_int_equal(blazedb_doc_cursor_open(db, NULL, colls[c], NULL, &cur), BLAZEDB_OK);
        BlazeDBDoc *d;
        int next = 0;
        uint64_t seen = 0;
        while (blazedb_doc_cursor_next(cur, &d) == BLAZEDB_OK) {
            const char *id;
            int64_t v;
            assert_int_equal(blazedb_doc_get_string(d, "id", &id, NULL), BLAZEDB_OK);
            assert_int_equal(blazedb_doc_get_int(d, "v", &v), BLAZEDB_OK);
            int i = atoi(id + 1);
            while (next < i) {
                if (m->present[c][next] && !m->deleted[c][next])
                    fail_msg("seed %" PRIu64 " %s: %s/k%03d missing", seed, when, colls[c], next);
                next++;
            }
            if (!m->present[c][i] || m->deleted[c][i] || m->val[c][i] != v)
                fail_msg("seed %" PRIu64 " %s: %s/%s unexpected (v=%" PRId64 ")", seed, when,
                         colls[c], id, v);
            next = i + 1;
            seen++;
            blazedb_doc_free(d);
        }
        blazedb_doc_cursor_close(cur);
        assert_int_equal(seen, live);
    }
}

static void insert_json(BlazeDB *db, const char *coll, const char *json)
{
    BlazeDBDoc *d = J(json);
    assert_int_equal(blazedb_insert(db, NULL, coll, d), BLAZEDB_OK);
    blazedb_doc_free(d);
}

static void expect_missing(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *id)
{
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_get_doc(db, t, coll, id, &d), BLAZEDB_NOT_FOUND);
    assert_null(d);
}

/* A read reuses the collection record it looked up last (in this thread)
 * while the catalog is the same version: every change of the catalog, a
 * snapshot taken before it, another handle on another file, or the same
 * file reopened must still give the right collection. */
static void test_collection_record_reuse(void **state)
{
    (void)state;
    Env a, b;
    env_init(&a);
    env_init(&b);
    /* both files' first commit creates "c", so their catalog roots are
     * the same page reference: only the handle tells them apart */
    insert_json(a.db, "c", "{\"id\":\"x\",\"v\":1}");
    BlazeDBDoc *two[2] = {J("{\"id\":\"x\",\"v\":2}"), J("{\"id\":\"y\",\"v\":3}")};
    assert_int_equal(blazedb_insert_many(b.db, NULL, "c", two, 2), BLAZEDB_OK);
    blazedb_doc_free(two[0]);
    blazedb_doc_free(two[1]);
    BlazeDBTxn *ta = NULL, *tb = NULL;
    assert_int_equal(blazedb_txn_begin(a.db, BLAZEDB_TXN_READONLY, &ta), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_begin(b.db, BLAZEDB_TXN_READONLY, &tb), BLAZEDB_OK);
    PageRef ra = pager_txn_meta(db_txn_pt(ta))->roots[PAGER_ROOT_CATALOG].root;
    PageRef rb = pager_txn_meta(db_txn_pt(tb))->roots[PAGER_ROOT_CATALOG].root;
    assert_int_equal(ra.pgno, rb.pgno); /* what makes the case below a test */
    assert_int_equal(ra.ctr, rb.ctr);
    blazedb_txn_abort(ta);
    blazedb_txn_abort(tb);
    /* two handles, same collection name, alternating in one thread */
    for (int i = 0; i < 3; i++) {
        expect_doc(a.db, NULL, "c", "x", "{\"id\":\"x\",\"v\":1}");
        assert_int_equal(count(a.db, "c"), 1);
        expect_doc(b.db, NULL, "c", "x", "{\"id\":\"x\",\"v\":2}");
        assert_int_equal(count(b.db, "c"), 2);
        expect_missing(a.db, NULL, "c", "y");
    }
    /* a snapshot from before a drop and re-create keeps the old record */
    BlazeDBTxn *old = NULL;
    assert_int_equal(blazedb_txn_begin(a.db, BLAZEDB_TXN_READONLY, &old), BLAZEDB_OK);
    expect_doc(a.db, old, "c", "x", "{\"id\":\"x\",\"v\":1}");
    assert_int_equal(blazedb_collection_drop(a.db, NULL, "c"), BLAZEDB_OK);
    expect_missing(a.db, NULL, "c", "x");
    insert_json(a.db, "c", "{\"id\":\"x\",\"v\":4}");
    for (int i = 0; i < 2; i++) {
        expect_doc(a.db, NULL, "c", "x", "{\"id\":\"x\",\"v\":4}");
        expect_doc(a.db, old, "c", "x", "{\"id\":\"x\",\"v\":1}");
    }
    blazedb_txn_abort(old);
    /* a rename moves the record; the old name is gone */
    assert_int_equal(blazedb_collection_rename(a.db, NULL, "c", "d"), BLAZEDB_OK);
    expect_missing(a.db, NULL, "c", "x");
    expect_doc(a.db, NULL, "d", "x", "{\"id\":\"x\",\"v\":4}");
    /* a write inside a transaction is seen by its own reads */
    BlazeDBTxn *w = NULL;
    assert_int_equal(blazedb_txn_begin(a.db, 0, &w), BLAZEDB_OK);
    expect_doc(a.db, w, "d", "x", "{\"id\":\"x\",\"v\":4}");
    BlazeDBDoc *nd = J("{\"id\":\"z\",\"v\":5}");
    assert_int_equal(blazedb_insert(a.db, w, "d", nd), BLAZEDB_OK);
    blazedb_doc_free(nd);
    expect_doc(a.db, w, "d", "z", "{\"id\":\"z\",\"v\":5}");
    assert_int_equal(blazedb_txn_commit(w), BLAZEDB_OK);
    expect_doc(a.db, NULL, "d", "z", "{\"id\":\"z\",\"v\":5}");
    assert_int_equal(count(a.db, "d"), 2);
    /* the same file reopened (a new handle, maybe at the same address) */
    blazedb_close(a.db);
    env_open(&a);
    expect_doc(a.db, NULL, "d", "z", "{\"id\":\"z\",\"v\":5}");
    expect_missing(a.db, NULL, "d", "y");
    expect_doc(b.db, NULL, "c", "y", "{\"id\":\"y\",\"v\":3}");
    env_free(&a);
    env_free(&b);
}

static void test_random_model(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_collection_random_model");
    TuRng r;
    tu_rng_seed(&r, seed);
    Env e;
    env_init(&e);
    static const char *colls[2] = {"alpha", "beta"};
    CModel m, work;
    memset(&m, 0, sizeof m);
    int ntx = tu_long_tests() ? 300 : 60;
    for (int tx = 0; tx < ntx; tx++) {
        work = m;
        BlazeDBTxn *t = NULL;
        assert_int_equal(blazedb_txn_begin(e.db, 0, &t), BLAZEDB_OK);
        int nops = 1 + (int)tu_rng_below(&r, 30);
        for (int k = 0; k < nops; k++) {
            int c = (int)tu_rng_below(&r, 2), i = (int)tu_rng_below(&r, MKEYS);
            int64_t v = (int64_t)tu_rng_next(&r);
            char id[16], js[128];
            snprintf(id, sizeof id, "k%03d", i);
            snprintf(js, sizeof js, "{\"id\":\"%s\",\"v\":%" PRId64 ",\"pad\":\"%0*d\"}", id, v,
                     (int)tu_rng_below(&r, 60), 0);
            BlazeDBDoc *d = J(js);
            int live = work.present[c][i] && !work.deleted[c][i];
            BlazeDBResult rc;
            switch (tu_rng_below(&r, 6)) {
            case 0:
                rc = blazedb_insert(e.db, t, colls[c], d);
                assert_int_equal(rc, work.present[c][i] ? BLAZEDB_EXISTS : BLAZEDB_OK);
                if (!rc) {
                    work.present[c][i] = 1;
                    work.val[c][i] = v;
                }
                break;
            case 1:
                rc = blazedb_upsert(e.db, t, colls[c], d);
                assert_int_equal(rc, BLAZEDB_OK);
                work.present[c][i] = 1;
                work.deleted[c][i] = 0;
                work.val[c][i] = v;
                break;
            case 2:
                rc = blazedb_replace(e.db, t, colls[c], d);
                assert_int_equal(rc, live ? BLAZEDB_OK : BLAZEDB_NOT_FOUND);
                if (!rc)
                    work.val[c][i] = v;
                break;
            case 3:
                rc = blazedb_delete_doc(e.db, t, colls[c], id);
                if (work.present[c][i])
                    assert_int_equal(rc, BLAZEDB_OK);
                else
                    assert_true(rc == BLAZEDB_NOT_FOUND);
                work.present[c][i] = work.deleted[c][i] = 0;
                break;
            case 4:
                rc = blazedb_soft_delete(e.db, t, colls[c], id);
                if (live) {
                    assert_int_equal(rc, BLAZEDB_OK);
                    work.deleted[c][i] = 1;
                } else {
                    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
                }
                break;
            default: {
                BlazeDBDoc *set = NULL;
                assert_int_equal(blazedb_doc_new(&set), BLAZEDB_OK);
                assert_int_equal(blazedb_doc_set_int(set, "v", v), BLAZEDB_OK);
                rc = blazedb_patch(e.db, t, colls[c], id, set, NULL, 0);
                assert_int_equal(rc, live ? BLAZEDB_OK : BLAZEDB_NOT_FOUND);
                if (!rc)
                    work.val[c][i] = v;
                blazedb_doc_free(set);
            }
            }
            blazedb_doc_free(d);
        }
        if (tu_rng_below(&r, 8) == 0) {
            uint64_t purged = 0;
            BlazeDBResult rc = blazedb_purge(e.db, t, colls[tx % 2], &purged);
            if (rc == BLAZEDB_OK) {
                uint64_t want = 0;
                for (int i = 0; i < MKEYS; i++)
                    if (work.deleted[tx % 2][i]) {
                        want++;
                        work.present[tx % 2][i] = work.deleted[tx % 2][i] = 0;
                    }
                assert_int_equal(purged, want);
            } else {
                assert_int_equal(rc, BLAZEDB_NOT_FOUND);
            }
        }
        if (tu_rng_below(&r, 5) == 0) {
            blazedb_txn_abort(t);
        } else {
            assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
            m = work;
        }
        if (tx % 10 == 9) {
            char when[32];
            snprintf(when, sizeof when, "after txn %d", tx);
            model_check(e.db, &m, seed, when);
        }
    }
    model_check(e.db, &m, seed, "at the end");
    blazedb_close(e.db);
    env_open(&e);
    model_check(e.db, &m, seed, "after reopening");
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_soft_delete_and_purge),
        cmocka_unit_test(test_collections),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_change_log),
        cmocka_unit_test(test_collection_record_reuse),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
