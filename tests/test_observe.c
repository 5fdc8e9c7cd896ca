/*
 * test_observe.c — queries (filter/order/limit over a scan), observers and
 * live queries.
 *
 *   - query semantics: SQL NULL rules, int/double comparison, the total
 *     order across types, order by several keys, limit;
 *   - observers: one call per commit with exactly its changes, none for a
 *     rollback, filters, unobserve (also from inside a callback), commits
 *     of another handle and of another process delivered at the next
 *     transaction begin or poll, in commit order, with two threads
 *     committing at once;
 *   - live queries: a seeded random workload; after every commit the live
 *     result equals re-running the query, and replaying the reported
 *     entered/left/changed onto a mirror gives the same result.
 * BLAZEDB_TEST_SEED=S replays the random parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "support/testutil.h"

static BlazeDBDoc *J(const char *json)
{
    BlazeDBDoc *d = NULL;
    if (blazedb_doc_from_json(json, strlen(json), &d))
        fail_msg("bad test JSON %s: %s", json, blazedb_errmsg(NULL));
    return d;
}

static void insert_json(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *json)
{
    BlazeDBDoc *d = J(json);
    BlazeDBResult rc = blazedb_insert(db, t, coll, d);
    if (rc)
        fail_msg("insert %s: %s (%s)", json, blazedb_strerror(rc), blazedb_errmsg(db));
    blazedb_doc_free(d);
}

static BlazeDB *open_db(const char *path)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    return db;
}

/* ids of a query's result, joined with ',' */
static void run_ids(BlazeDB *db, const BlazeDBQuery *q, char *out, size_t cap)
{
    BlazeDBDoc **docs = NULL;
    size_t n = 0;
    assert_int_equal(blazedb_query_run(db, NULL, q, &docs, &n), BLAZEDB_OK);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id;
        assert_int_equal(blazedb_doc_get_string(docs[i], "id", &id, NULL), BLAZEDB_OK);
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? "," : "", id);
    }
    blazedb_query_free_docs(docs, n);
}

static void test_query_semantics(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("observe");
    char *path = tu_path(dir, "q.blazedb");
    BlazeDB *db = open_db(path);
    insert_json(db, NULL, "t", "{\"id\":\"a\",\"n\":1,\"s\":\"x\"}");
    insert_json(db, NULL, "t", "{\"id\":\"b\",\"n\":2.5,\"s\":\"y\"}");
    insert_json(db, NULL, "t", "{\"id\":\"c\",\"n\":null,\"s\":\"x\"}");
    insert_json(db, NULL, "t", "{\"id\":\"d\",\"s\":\"z\"}");
    insert_json(db, NULL, "t", "{\"id\":\"e\",\"n\":\"text\",\"s\":\"y\"}");
    insert_json(db, NULL, "t", "{\"id\":\"f\",\"n\":2,\"s\":\"x\"}");
    char ids[256];
    BlazeDBQuery *q = NULL;
    assert_int_equal(blazedb_query_new("t", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "n", BLAZEDB_OP_GE, "2"), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "b,e,f"); /* a string sorts after numbers */
    blazedb_query_free(q);
    assert_int_equal(blazedb_query_new("t", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "n", BLAZEDB_OP_NE, "1"), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "b,e,f"); /* null and missing are unknown */
    blazedb_query_free(q);
    assert_int_equal(blazedb_query_new("t", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "n", BLAZEDB_OP_IS_NULL, NULL), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "c,d");
    blazedb_query_free(q);
    assert_int_equal(blazedb_query_new("t", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "n", BLAZEDB_OP_EQ, "2.0"), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "f"); /* 2 = 2.0 */
    blazedb_query_free(q);
    /* order: s ascending, then n descending; nulls first; ties by id */
    assert_int_equal(blazedb_query_new("t", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_order_by(q, "s", 0), BLAZEDB_OK);
    assert_int_equal(blazedb_query_order_by(q, "n", 1), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "f,a,c,e,b,d");
    assert_int_equal(blazedb_query_limit(q, 2), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "f,a");
    blazedb_query_free(q);
    /* errors */
    assert_int_equal(blazedb_query_new(NULL, &q), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_query_new("t", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "n", BLAZEDB_OP_EQ, "{bad"), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_query_where(q, "n", BLAZEDB_OP_EQ, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_query_where(q, "n", (BlazeDBOp)99, "1"), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_query_where(q, "", BLAZEDB_OP_EQ, "1"), BLAZEDB_INVALID_ARGUMENT);
    blazedb_query_free(q);
    /* a missing collection has no documents */
    assert_int_equal(blazedb_query_new("nothing", &q), BLAZEDB_OK);
    run_ids(db, q, ids, sizeof ids);
    assert_string_equal(ids, "");
    blazedb_query_free(q);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- observers ------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    char log[8192];
    int calls;
    uint64_t last_txn;
    int out_of_order;
    BlazeDB *db;
    uint64_t unobserve_id; /* unobserve itself on the first call */
} Obs;

static void on_changes(const BlazeDBChange *ch, size_t n, void *arg)
{
    Obs *o = arg;
    pthread_mutex_lock(&o->mu);
    o->calls++;
    for (size_t i = 0; i < n; i++) {
        if (ch[i].txn_id != ch[0].txn_id)
            o->out_of_order = 1; /* one commit per call */
        size_t l = strlen(o->log);
        snprintf(o->log + l, sizeof o->log - l, "%c%.*s", "?IUD"[ch[i].kind], (int)ch[i].id_len,
                 ch[i].id);
    }
    size_t l = strlen(o->log);
    snprintf(o->log + l, sizeof o->log - l, ";");
    if (ch[0].txn_id <= o->last_txn)
        o->out_of_order = 1;
    o->last_txn = ch[0].txn_id;
    pthread_mutex_unlock(&o->mu);
    if (o->unobserve_id) {
        uint64_t id = o->unobserve_id;
        o->unobserve_id = 0;
        assert_int_equal(blazedb_unobserve(o->db, id), BLAZEDB_OK);
    }
}

static void obs_init(Obs *o, BlazeDB *db)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    o->db = db;
}

static void test_observers(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("observe");
    char *path = tu_path(dir, "o.blazedb");
    BlazeDB *db = open_db(path);
    insert_json(db, NULL, "c", "{\"id\":\"before\"}");
    Obs all, only_c, filtered;
    obs_init(&all, db);
    obs_init(&only_c, db);
    obs_init(&filtered, db);
    uint64_t id_all, id_c, id_f;
    assert_int_equal(blazedb_observe(db, NULL, NULL, on_changes, &all, &id_all), BLAZEDB_OK);
    assert_int_equal(blazedb_observe(db, "c", NULL, on_changes, &only_c, &id_c), BLAZEDB_OK);
    BlazeDBQuery *f = NULL;
    assert_int_equal(blazedb_query_new("c", &f), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(f, "v", BLAZEDB_OP_GT, "10"), BLAZEDB_OK);
    assert_int_equal(blazedb_observe(db, "c", f, on_changes, &filtered, &id_f), BLAZEDB_OK);
    blazedb_query_free(f); /* the observer keeps its own copy */

    insert_json(db, NULL, "c", "{\"id\":\"x\",\"v\":5}");
    assert_string_equal(all.log, "Ix;"); /* delivered before insert returned */
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    insert_json(db, t, "c", "{\"id\":\"y\",\"v\":50}");
    insert_json(db, t, "other", "{\"id\":\"z\"}");
    assert_int_equal(blazedb_delete_doc(db, t, "c", "x"), BLAZEDB_OK);
    assert_int_equal(all.calls, 1);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    assert_string_equal(all.log, "Ix;IyIzDx;");
    assert_string_equal(only_c.log, "Ix;IyDx;");
    assert_string_equal(filtered.log, "IyDx;"); /* deletes always pass */
    /* a rollback delivers nothing */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    insert_json(db, t, "c", "{\"id\":\"gone\",\"v\":99}");
    blazedb_txn_abort(t);
    assert_int_equal(blazedb_poll(db), BLAZEDB_OK);
    assert_int_equal(all.calls, 2);
    /* unobserve, also from inside a callback */
    assert_int_equal(blazedb_unobserve(db, id_c), BLAZEDB_OK);
    assert_int_equal(blazedb_unobserve(db, id_c), BLAZEDB_NOT_FOUND);
    filtered.unobserve_id = id_f;
    insert_json(db, NULL, "c", "{\"id\":\"w\",\"v\":11}");
    insert_json(db, NULL, "c", "{\"id\":\"w2\",\"v\":12}");
    assert_string_equal(only_c.log, "Ix;IyDx;");
    assert_string_equal(filtered.log, "IyDx;Iw;");
    assert_int_equal(blazedb_unobserve(db, id_f), BLAZEDB_NOT_FOUND);
    assert_int_equal(all.calls, 4);
    assert_false(all.out_of_order);

    /* another handle's commits: at this handle's next begin (or poll) */
    BlazeDB *db2 = open_db(path);
    insert_json(db2, NULL, "c", "{\"id\":\"from2\"}");
    assert_int_equal(all.calls, 4);
    BlazeDBTxn *rt = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &rt), BLAZEDB_OK);
    blazedb_txn_abort(rt);
    assert_int_equal(all.calls, 5);
    assert_non_null(strstr(all.log, "Ifrom2;"));
    /* an observer sees only commits after its registration, even those
     * not yet delivered to older observers */
    insert_json(db2, NULL, "c", "{\"id\":\"late\"}");
    Obs late;
    obs_init(&late, db);
    uint64_t id_late;
    assert_int_equal(blazedb_observe(db, NULL, NULL, on_changes, &late, &id_late), BLAZEDB_OK);
    assert_int_equal(blazedb_poll(db), BLAZEDB_OK);
    assert_non_null(strstr(all.log, "Ilate;"));
    assert_int_equal(late.calls, 0);
    assert_int_equal(blazedb_unobserve(db, id_late), BLAZEDB_OK);
    blazedb_close(db2);

    /* another process's commits, in order */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        BlazeDB *c = NULL;
        BlazeDBOptions o;
        tu_fast_opts(&o);
        if (blazedb_open_ex(path, TU_PASSWORD, &o, &c))
            _exit(2);
        for (int i = 0; i < 20; i++) {
            char js[64];
            snprintf(js, sizeof js, "{\"id\":\"p%02d\"}", i);
            BlazeDBDoc *d = NULL;
            if (blazedb_doc_from_json(js, strlen(js), &d) || blazedb_insert(c, NULL, "c", d))
                _exit(3);
            blazedb_doc_free(d);
        }
        blazedb_close(c);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(blazedb_poll(db), BLAZEDB_OK);
    assert_int_equal(all.calls, 26);
    const char *p = strstr(all.log, "Ip00;");
    assert_non_null(p);
    for (int i = 1; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof want, "Ip%02d;", i);
        const char *q = strstr(p, want);
        assert_non_null(q);
        p = q;
    }
    assert_false(all.out_of_order);
    assert_int_equal(blazedb_unobserve(db, id_all), BLAZEDB_OK);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

typedef struct {
    BlazeDB *db;
    int id;
    int n;
} Writer;

static void *writer_main(void *arg)
{
    Writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        char js[64];
        snprintf(js, sizeof js, "{\"id\":\"t%d-%03d\"}", w->id, i);
        BlazeDBDoc *d = NULL;
        if (blazedb_doc_from_json(js, strlen(js), &d) == BLAZEDB_OK) {
            blazedb_insert(w->db, NULL, "c", d);
            blazedb_doc_free(d);
        }
    }
    return NULL;
}

static void test_observers_threads(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("observe");
    char *path = tu_path(dir, "t.blazedb");
    BlazeDB *db = open_db(path);
    Obs all;
    obs_init(&all, db);
    uint64_t id;
    assert_int_equal(blazedb_observe(db, "c", NULL, on_changes, &all, &id), BLAZEDB_OK);
    Writer w[2] = {{db, 0, 60}, {db, 1, 60}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(blazedb_poll(db), BLAZEDB_OK);
    assert_int_equal(all.calls, 120); /* each commit exactly once */
    assert_false(all.out_of_order);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 60; i++) {
            char want[32];
            snprintf(want, sizeof want, "It%d-%03d;", t, i);
            assert_non_null(strstr(all.log, want));
        }
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- live queries ------------------------------------------------------------- */

#define LKEYS 80

typedef struct {
    char *ids[LKEYS * 2];
    int64_t score[LKEYS * 2];
    size_t n;
    int updates;
    BlazeDBLiveQuery **self; /* closes itself when *close_at == updates */
    int close_at;
} Mirror;

static long mirror_find(Mirror *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->ids[i], id) == 0)
            return (long)i;
    return -1;
}

static void on_live(const BlazeDBLiveUpdate *u, void *arg)
{
    Mirror *m = arg;
    m->updates++;
    for (size_t i = 0; i < u->n_left; i++) {
        long k = mirror_find(m, u->left[i]);
        if (k < 0)
            fail_msg("left %s, which was not in the result", u->left[i]);
        free(m->ids[k]);
        m->ids[k] = m->ids[--m->n];
        m->score[k] = m->score[m->n];
    }
    for (size_t i = 0; i < u->n_entered; i++) {
        const char *id;
        int64_t s = 0;
        assert_int_equal(blazedb_doc_get_string(u->entered[i], "id", &id, NULL), BLAZEDB_OK);
        blazedb_doc_get_int(u->entered[i], "score", &s);
        if (mirror_find(m, id) >= 0)
            fail_msg("entered %s, which was already in the result", id);
        m->ids[m->n] = strdup(id);
        m->score[m->n++] = s;
    }
    for (size_t i = 0; i < u->n_changed; i++) {
        const char *id;
        int64_t s = 0;
        assert_int_equal(blazedb_doc_get_string(u->changed[i], "id", &id, NULL), BLAZEDB_OK);
        blazedb_doc_get_int(u->changed[i], "score", &s);
        long k = mirror_find(m, id);
        if (k < 0)
            fail_msg("changed %s, which is not in the result", id);
        m->score[k] = s;
    }
    if (m->self && m->updates == m->close_at) {
        blazedb_live_query_close(*m->self);
        *m->self = NULL;
    }
}

/* The live result equals re-running the query, and the mirror agrees. */
static void live_check(BlazeDB *db, BlazeDBLiveQuery *lq, const BlazeDBQuery *q, Mirror *m,
                       uint64_t seed, int step)
{
    BlazeDBDoc **docs = NULL;
    size_t n = 0;
    assert_int_equal(blazedb_query_run(db, NULL, q, &docs, &n), BLAZEDB_OK);
    if (blazedb_live_query_count(lq) != n || m->n != n)
        fail_msg("seed %" PRIu64 " step %d: live result has %zu, mirror %zu, query %zu", seed,
                 step, blazedb_live_query_count(lq), m->n, n);
    for (size_t i = 0; i < n; i++) {
        char *a = NULL, *b = NULL;
        assert_int_equal(blazedb_doc_to_json(docs[i], 0, &a, NULL), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_to_json(blazedb_live_query_get(lq, i), 0, &b, NULL),
                         BLAZEDB_OK);
        if (strcmp(a, b) != 0)
            fail_msg("seed %" PRIu64 " step %d: position %zu is %s, the query says %s", seed,
                     step, i, b, a);
        const char *id;
        int64_t s = 0;
        blazedb_doc_get_string(docs[i], "id", &id, NULL);
        blazedb_doc_get_int(docs[i], "score", &s);
        long k = mirror_find(m, id);
        if (k < 0 || m->score[k] != s)
            fail_msg("seed %" PRIu64 " step %d: mirror disagrees on %s", seed, step, id);
        blazedb_free(a);
        blazedb_free(b);
    }
    blazedb_query_free_docs(docs, n);
}

static void test_live_query(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_live_query");
    TuRng r;
    tu_rng_seed(&r, seed);
    char *dir = tu_mkdtemp("observe");
    char *path = tu_path(dir, "l.blazedb");
    BlazeDB *db = open_db(path);
    for (int i = 0; i < 30; i++) {
        char js[96];
        snprintf(js, sizeof js, "{\"id\":\"k%02d\",\"score\":%d,\"kind\":\"%s\"}", i,
                 (int)tu_rng_below(&r, 100), i % 3 ? "a" : "b");
        insert_json(db, NULL, "items", js);
    }
    BlazeDBQuery *q = NULL;
    assert_int_equal(blazedb_query_new("items", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "kind", BLAZEDB_OP_EQ, "\"a\""), BLAZEDB_OK);
    assert_int_equal(blazedb_query_order_by(q, "score", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_query_limit(q, 7), BLAZEDB_OK);
    Mirror m;
    memset(&m, 0, sizeof m);
    BlazeDBLiveQuery *lq = NULL;
    assert_int_equal(blazedb_live_query_open(db, q, on_live, &m, &lq), BLAZEDB_OK);
    assert_int_equal(m.updates, 1);
    live_check(db, lq, q, &m, seed, 0);
    int steps = tu_long_tests() ? 400 : 120;
    for (int s = 1; s <= steps; s++) {
        BlazeDBTxn *t = NULL;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        int nops = 1 + (int)tu_rng_below(&r, 4);
        for (int k = 0; k < nops; k++) {
            int i = (int)tu_rng_below(&r, LKEYS);
            char id[16], js[128];
            snprintf(id, sizeof id, "k%02d", i);
            snprintf(js, sizeof js, "{\"id\":\"%s\",\"score\":%d,\"kind\":\"%s\"}", id,
                     (int)tu_rng_below(&r, 100), tu_rng_below(&r, 3) ? "a" : "b");
            BlazeDBDoc *d = J(js);
            switch (tu_rng_below(&r, 4)) {
            case 0:
            case 1:
                assert_int_equal(blazedb_upsert(db, t, "items", d), BLAZEDB_OK);
                break;
            case 2:
                (void)blazedb_delete_doc(db, t, "items", id);
                break;
            default:
                (void)blazedb_soft_delete(db, t, "items", id);
            }
            blazedb_doc_free(d);
        }
        if (tu_rng_below(&r, 6) == 0)
            blazedb_txn_abort(t);
        else
            assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
        live_check(db, lq, q, &m, seed, s);
    }
    /* another handle's commit arrives at the next poll */
    BlazeDB *db2 = open_db(path);
    insert_json(db2, NULL, "items", "{\"id\":\"top\",\"score\":1000,\"kind\":\"a\"}");
    blazedb_close(db2);
    assert_int_equal(blazedb_poll(db), BLAZEDB_OK);
    live_check(db, lq, q, &m, seed, steps + 1);
    const char *top;
    assert_int_equal(blazedb_doc_get_string(blazedb_live_query_get(lq, 0), "id", &top, NULL),
                     BLAZEDB_OK);
    assert_string_equal(top, "top");
    /* closing inside its own callback */
    m.self = &lq;
    m.close_at = m.updates + 1;
    insert_json(db, NULL, "items", "{\"id\":\"top2\",\"score\":2000,\"kind\":\"a\"}");
    assert_null(lq);
    insert_json(db, NULL, "items", "{\"id\":\"top3\",\"score\":3000,\"kind\":\"a\"}");
    assert_int_equal(m.updates, m.close_at);
    for (size_t i = 0; i < m.n; i++)
        free(m.ids[i]);
    /* a live query outliving its handle */
    memset(&m, 0, sizeof m);
    assert_int_equal(blazedb_live_query_open(db, q, on_live, &m, &lq), BLAZEDB_OK);
    blazedb_close(db);
    blazedb_live_query_close(lq);
    for (size_t i = 0; i < m.n; i++)
        free(m.ids[i]);
    blazedb_query_free(q);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_semantics),
        cmocka_unit_test(test_observers),
        cmocka_unit_test(test_observers_threads),
        cmocka_unit_test(test_live_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
