/*
 * test_monitor.c — blazedb_metrics_json and blazedb_health: counters move
 * by exactly what the operations did, every timed operation lands in its
 * histogram, the JSON parses (with the library's own reader) and holds no
 * document content, per-collection statistics, and the health report's
 * findings: free pages past the threshold, a large log, a handle failed
 * after an I/O error (os_fault), and argument errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "support/testutil.h"
#include "../src/db/db.h"
#include "../src/db/monitor.h"
#include "../src/os/os_fault.h"

typedef TuDb Fx;

static BlazeDB *open_db(const char *path, uint32_t autockpt, BlazeDBDurability dur)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.durability = dur;
    o.wal_autocheckpoint = autockpt;
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
    if (rc)
        fail_msg("open %s: %s (%s)", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    return db;
}

static int setup(void **state)
{
    Fx *f = calloc(1, sizeof *f);
    BlazeDBOptions o;
    tu_fast_opts(&o);
    if (!f || tu_db_create(f, "monitor", &o) != BLAZEDB_OK)
        return -1;
    *state = f;
    return 0;
}

/* Closes and removes the database (no structural check: some tests leave
 * a handle failed on purpose). */
static int teardown(void **state)
{
    Fx *f = *state;
    blazedb_close(f->db);
    f->db = NULL;
    tu_db_destroy(f, NULL, 0);
    free(f);
    return 0;
}

/* The metrics, parsed by the library's JSON reader (the raw text in *raw
 * when raw != NULL). */
static BlazeDBDoc *metrics(BlazeDB *db, unsigned flags, char **raw)
{
    char *json = NULL;
    BlazeDBResult rc = blazedb_metrics_json(db, flags, &json);
    if (rc)
        fail_msg("metrics: %s (%s)", blazedb_strerror(rc), blazedb_errmsg(db));
    BlazeDBDoc *d = NULL;
    rc = blazedb_doc_from_json(json, strlen(json), &d);
    if (rc)
        fail_msg("metrics JSON does not parse: %s\n%s", blazedb_errmsg(NULL), json);
    if (raw)
        *raw = json;
    else
        blazedb_free(json);
    return d;
}

static int64_t geti(const BlazeDBDoc *d, const char *path)
{
    int64_t v = -1;
    if (blazedb_doc_get_int(d, path, &v) != BLAZEDB_OK)
        fail_msg("no integer at %s", path);
    return v;
}

static double getd(const BlazeDBDoc *d, const char *path)
{
    double v = -1;
    if (blazedb_doc_get_double(d, path, &v) != BLAZEDB_OK)
        fail_msg("no number at %s", path);
    return v;
}

/* The number of timed calls of a kind (see hist_count). */
static int64_t hist_timed(const BlazeDBDoc *d, const char *op)
{
    char p[128];
    snprintf(p, sizeof p, "latency.%s.timed", op);
    return geti(d, p);
}

/* count; the bucket counts add up to the timed calls, all of them for
 * every kind but the sampled point reads; percentiles are ordered. */
static int64_t hist_count(const BlazeDBDoc *d, const char *op)
{
    char p[128];
    snprintf(p, sizeof p, "latency.%s.count", op);
    int64_t count = geti(d, p);
    int64_t timed = hist_timed(d, op);
    assert_true(timed <= count);
    if (strcmp(op, "kv_get") != 0 && strcmp(op, "doc_get") != 0)
        assert_int_equal(timed, count);
    snprintf(p, sizeof p, "latency.%s.buckets", op);
    size_t nb = blazedb_doc_len(d, p);
    int64_t sum = 0;
    double prev_upper = 0;
    for (size_t i = 0; i < nb; i++) {
        snprintf(p, sizeof p, "latency.%s.buckets.%zu.0", op, i);
        double upper = getd(d, p);
        assert_true(upper > prev_upper);
        prev_upper = upper;
        snprintf(p, sizeof p, "latency.%s.buckets.%zu.1", op, i);
        int64_t n = geti(d, p);
        assert_true(n > 0);
        sum += n;
    }
    assert_int_equal(sum, timed);
    double p50, p95, p99, mx;
    snprintf(p, sizeof p, "latency.%s.p50_us", op);
    p50 = getd(d, p);
    snprintf(p, sizeof p, "latency.%s.p95_us", op);
    p95 = getd(d, p);
    snprintf(p, sizeof p, "latency.%s.p99_us", op);
    p99 = getd(d, p);
    snprintf(p, sizeof p, "latency.%s.max_us", op);
    mx = getd(d, p);
    assert_true(p50 <= p95 && p95 <= p99 && p99 <= mx);
    if (timed)
        assert_true(mx > 0);
    return count;
}

static int64_t hist_errors(const BlazeDBDoc *d, const char *op)
{
    char p[128];
    snprintf(p, sizeof p, "latency.%s.errors", op);
    return geti(d, p);
}

/* ---- counters ------------------------------------------------------------------ */

static void test_kv_counters(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    BlazeDBDoc *a = metrics(db, 0, NULL);
    const int N = 20;
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(blazedb_put(db, k, "value", 5), BLAZEDB_OK);
    }
    for (int i = 0; i < N; i++) {
        void *v;
        size_t vl;
        snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(blazedb_get(db, k, &v, &vl), BLAZEDB_OK);
        blazedb_free(v);
    }
    /* an explicit transaction: 3 puts, 1 delete, committed */
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(blazedb_txn_put(t, "tx", 2, "v", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_delete(t, "key0", 4), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    /* one rolled back */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(t, "gone", 4, "v", 1), BLAZEDB_OK);
    blazedb_txn_abort(t);
    /* a batch of 5 */
    BlazeDBWrite w[5];
    for (int i = 0; i < 5; i++)
        w[i] = (BlazeDBWrite){"b", 1, "v", 1, 0};
    assert_int_equal(blazedb_write_batch(db, w, 5), BLAZEDB_OK);
    BlazeDBDoc *b = metrics(db, 0, NULL);

#define DELTA(path) (geti(b, path) - geti(a, path))
    assert_int_equal(DELTA("counters.writes"), N + 4 + 1 + 5);
    assert_int_equal(DELTA("counters.reads"), N);
    assert_int_equal(DELTA("counters.commits"), N + 1 + 1);
    assert_int_equal(DELTA("counters.rollbacks"), 1);
    assert_true(DELTA("counters.fsyncs") >= N + 2); /* FULL: one per commit at least */
    assert_true(DELTA("counters.pages_written") >= N + 2);
    assert_true(DELTA("counters.bytes_written") >= (N + 2) * 8192);
    assert_int_equal(hist_count(b, "kv_put") - hist_count(a, "kv_put"), N + 4);
    assert_int_equal(hist_count(b, "kv_get") - hist_count(a, "kv_get"), N);
    assert_int_equal(hist_count(b, "kv_delete") - hist_count(a, "kv_delete"), 1);
    assert_int_equal(hist_count(b, "kv_batch") - hist_count(a, "kv_batch"), 1);
    assert_int_equal(hist_count(b, "commit") - hist_count(a, "commit"), N + 2);
    assert_int_equal(hist_count(b, "txn_begin") - hist_count(a, "txn_begin"), 2);
    assert_int_equal(hist_errors(b, "kv_put"), 0);
    /* bytes_read follows pages_read */
    assert_int_equal(geti(b, "counters.bytes_read"), geti(b, "counters.pages_read") * 8192);
    /* blazedb_stats agrees */
    BlazeDBStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    assert_int_equal(st.writes, (uint64_t)geti(b, "counters.writes"));
    assert_int_equal(st.commits, (uint64_t)geti(b, "counters.commits"));
    assert_int_equal(st.keys, (uint64_t)geti(b, "database.kv_keys"));
    assert_int_equal(st.keys, N - 1 + 2);
#undef DELTA
    blazedb_doc_free(a);
    blazedb_doc_free(b);
}

static void test_document_and_sql_histograms(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    BlazeDBDoc *a = metrics(db, 0, NULL);
    const int N = 12;
    char json[128], id[16];
    for (int i = 0; i < N; i++) {
        snprintf(json, sizeof json, "{\"id\":\"d%d\",\"n\":%d}", i, i);
        BlazeDBDoc *d = NULL;
        assert_int_equal(blazedb_doc_from_json(json, strlen(json), &d), BLAZEDB_OK);
        assert_int_equal(blazedb_insert(db, NULL, "things", d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    /* a duplicate: one failed insert */
    BlazeDBDoc *dup = NULL;
    assert_int_equal(blazedb_doc_from_json("{\"id\":\"d0\"}", 11, &dup), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, NULL, "things", dup), BLAZEDB_EXISTS);
    blazedb_doc_free(dup);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "d%d", i);
        BlazeDBDoc *d = NULL;
        assert_int_equal(blazedb_get_doc(db, NULL, "things", id, &d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    BlazeDBDoc *miss = NULL;
    assert_int_equal(blazedb_get_doc(db, NULL, "things", "nope", &miss), BLAZEDB_NOT_FOUND);
    BlazeDBDoc *set = NULL;
    assert_int_equal(blazedb_doc_from_json("{\"n\":100}", 9, &set), BLAZEDB_OK);
    assert_int_equal(blazedb_patch(db, NULL, "things", "d1", set, NULL, 0), BLAZEDB_OK);
    blazedb_doc_free(set);
    assert_int_equal(blazedb_delete_doc(db, NULL, "things", "d2"), BLAZEDB_OK);
    assert_int_equal(blazedb_soft_delete(db, NULL, "things", "d3"), BLAZEDB_OK);
    /* two runs of one statement, one of another */
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(db, "SELECT id FROM things WHERE n >= 0", (size_t)-1, &st,
                                     NULL),
                     BLAZEDB_OK);
    int rows = 0;
    BlazeDBResult rc;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW)
        rows++;
    assert_int_equal(rc, BLAZEDB_DONE);
    assert_int_equal(rows, N - 2);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE); /* after DONE: not a new run */
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW)
        ;
    assert_int_equal(rc, BLAZEDB_DONE);
    blazedb_finalize(st);
    assert_int_equal(blazedb_exec(db, "UPDATE things SET n = 5 WHERE id = 'd4'", NULL, NULL),
                     BLAZEDB_OK);

    BlazeDBDoc *b = metrics(db, 0, NULL);
    assert_int_equal(hist_count(b, "doc_insert") - hist_count(a, "doc_insert"), N + 1);
    assert_int_equal(hist_errors(b, "doc_insert") - hist_errors(a, "doc_insert"), 1);
    /* SQL's UPDATE reads and replaces through the document calls: +1 each */
    assert_int_equal(hist_count(b, "doc_get") - hist_count(a, "doc_get"), N + 1 + 1);
    assert_int_equal(hist_errors(b, "doc_get") - hist_errors(a, "doc_get"), 0); /* NOT_FOUND */
    assert_int_equal(hist_count(b, "doc_update") - hist_count(a, "doc_update"), 1 + 1);
    assert_int_equal(hist_count(b, "doc_delete") - hist_count(a, "doc_delete"), 2);
    assert_int_equal(hist_count(b, "sql_statement") - hist_count(a, "sql_statement"), 3);
    /* per collection */
    assert_string_equal(blazedb_doc_field_name(b, "collections.0", 0), "bytes");
    const char *name;
    assert_int_equal(blazedb_doc_get_string(b, "collections.0.name", &name, NULL), BLAZEDB_OK);
    assert_string_equal(name, "things");
    assert_int_equal(geti(b, "collections.0.documents"), N - 2);
    assert_int_equal(geti(b, "collections.0.soft_deleted"), 1);
    assert_true(geti(b, "collections.0.bytes") > 0);
    assert_int_equal(geti(b, "database.collections"), 1);
    blazedb_doc_free(a);
    blazedb_doc_free(b);
}

static void test_indexes_and_deep(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    BlazeDBDoc **docs = calloc(500, sizeof *docs);
    char json[160];
    for (int i = 0; i < 500; i++) {
        snprintf(json, sizeof json, "{\"id\":\"u%04d\",\"age\":%d,\"tags\":[\"a\",\"b\"]}", i,
                 i % 50);
        assert_int_equal(blazedb_doc_from_json(json, strlen(json), &docs[i]), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_insert_many(db, NULL, "users", docs, 500), BLAZEDB_OK);
    for (int i = 0; i < 500; i++)
        blazedb_doc_free(docs[i]);
    free(docs);
    BlazeDBIndexField age = {"age", 0, 0}, tags = {"tags", 0, 1};
    assert_int_equal(blazedb_index_create(db, NULL, "users", "by_age", &age, 1, 0, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "users", "by_tag", &tags, 1, 0, NULL),
                     BLAZEDB_OK);
    BlazeDBDoc *m = metrics(db, 0, NULL);
    assert_int_equal(blazedb_doc_len(m, "collections.0.indexes"), 2);
    const char *s;
    assert_int_equal(blazedb_doc_get_string(m, "collections.0.indexes.0.name", &s, NULL),
                     BLAZEDB_OK);
    assert_string_equal(s, "by_age");
    assert_int_equal(geti(m, "collections.0.indexes.0.entries"), 500);
    assert_int_equal(geti(m, "collections.0.indexes.1.entries"), 1000); /* one per tag */
    /* pages only when asked */
    assert_int_equal(blazedb_doc_type(m, "collections.0.pages"), BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_doc_type(m, "collections.0.indexes.0.pages"), BLAZEDB_TYPE_MISSING);
    blazedb_doc_free(m);
    m = metrics(db, BLAZEDB_METRICS_DEEP, NULL);
    assert_true(geti(m, "collections.0.pages") >= 2);
    assert_true(geti(m, "collections.0.indexes.0.pages") >= 1);
    assert_int_equal(geti(m, "collections.0.longest_id_bytes"), 5);
    /* by_age entry: int key (11) + id (5) + 2 */
    assert_int_equal(geti(m, "collections.0.indexes.0.longest_key_bytes"), 11 + 5 + 2);
    /* database-wide numbers are consistent */
    int64_t pages = geti(m, "database.pages"), used = geti(m, "database.pages_used"),
            fr = geti(m, "database.pages_free");
    assert_int_equal(used + fr + 3, pages);
    assert_true(geti(m, "database.file_bytes") > 0);
    assert_int_equal(geti(m, "database.page_size"), 8192);
    blazedb_doc_free(m);
}

/* ---- privacy ------------------------------------------------------------------------ */

#define MARKER "ZqX7-secret-marker-9Kp"

static void assert_no_marker(const char *text)
{
    if (strstr(text, MARKER))
        fail_msg("document content leaked:\n%s", text);
    if (strstr(text, "Kp9-id-marker"))
        fail_msg("a document id leaked:\n%s", text);
}

static void test_no_document_content(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    const char *json = "{\"id\":\"Kp9-id-marker\",\"v\":\"" MARKER "\",\"" MARKER
                       "field\":1,\"nest\":{\"w\":\"" MARKER "\"}}";
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_from_json(json, strlen(json), &d), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, NULL, "private", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    BlazeDBIndexField fld = {"v", 0, 0};
    assert_int_equal(blazedb_index_create(db, NULL, "private", "by_v", &fld, 1, 0, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "kvkey-" MARKER, MARKER, strlen(MARKER)), BLAZEDB_OK);
    for (unsigned fl = 0; fl <= BLAZEDB_METRICS_DEEP; fl++) {
        char *raw = NULL;
        BlazeDBDoc *m = metrics(db, fl, &raw);
        assert_no_marker(raw);
        assert_non_null(strstr(raw, "\"private\"")); /* names are metadata */
        assert_non_null(strstr(raw, "\"by_v\""));
        blazedb_free(raw);
        blazedb_doc_free(m);
    }
    unsigned hf[] = {0, BLAZEDB_HEALTH_JSON, BLAZEDB_HEALTH_DEEP,
                     BLAZEDB_HEALTH_DEEP | BLAZEDB_HEALTH_JSON};
    for (size_t i = 0; i < 4; i++) {
        char *rep = NULL;
        BlazeDBHealthStatus st;
        assert_int_equal(blazedb_health(db, NULL, hf[i], &rep, &st), BLAZEDB_OK);
        assert_no_marker(rep);
        blazedb_free(rep);
    }
}

/* ---- health ---------------------------------------------------------------------------- */

static BlazeDBDoc *health_json(BlazeDB *db, const BlazeDBHealthOptions *o, unsigned flags,
                               BlazeDBHealthStatus *st)
{
    char *rep = NULL;
    assert_int_equal(blazedb_health(db, o, flags | BLAZEDB_HEALTH_JSON, &rep, st), BLAZEDB_OK);
    BlazeDBDoc *d = NULL;
    if (blazedb_doc_from_json(rep, strlen(rep), &d) != BLAZEDB_OK)
        fail_msg("health JSON does not parse: %s\n%s", blazedb_errmsg(NULL), rep);
    blazedb_free(rep);
    return d;
}

/* The index of the issue with `code`, or -1. */
static int find_issue(const BlazeDBDoc *h, const char *code)
{
    size_t n = blazedb_doc_len(h, "issues");
    for (size_t i = 0; i < n; i++) {
        char p[64];
        const char *c;
        snprintf(p, sizeof p, "issues.%zu.code", i);
        if (blazedb_doc_get_string(h, p, &c, NULL) == BLAZEDB_OK && strcmp(c, code) == 0)
            return (int)i;
    }
    return -1;
}

static const char *issue_field(const BlazeDBDoc *h, int i, const char *field)
{
    char p[64];
    const char *s = NULL;
    snprintf(p, sizeof p, "issues.%d.%s", i, field);
    assert_int_equal(blazedb_doc_get_string(h, p, &s, NULL), BLAZEDB_OK);
    return s;
}

static void test_health_free_pages(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    BlazeDBHealthStatus st;
    BlazeDBDoc *h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    assert_int_equal(blazedb_doc_len(h, "issues"), 0);
    blazedb_doc_free(h);
    /* about 4 MiB of documents, then most of them deleted */
    const int N = 4000;
    char *pad = malloc(1001);
    memset(pad, 'p', 1000);
    pad[1000] = 0;
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < N; i++) {
        BlazeDBDoc *d = NULL;
        char id[16];
        snprintf(id, sizeof id, "r%05d", i);
        assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_set_string(d, "id", id), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_set_string(d, "pad", pad), BLAZEDB_OK);
        assert_int_equal(blazedb_insert(db, t, "bulk", d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    free(pad);
    h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    blazedb_doc_free(h);
    /* delete 90% */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < N; i++) {
        if (i % 10 == 0)
            continue;
        char id[16];
        snprintf(id, sizeof id, "r%05d", i);
        assert_int_equal(blazedb_delete_doc(db, t, "bulk", id), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_WARN);
    int i = find_issue(h, "free_pages");
    assert_true(i >= 0);
    assert_string_equal(issue_field(h, i, "severity"), "warn");
    assert_non_null(strstr(issue_field(h, i, "action"), "vacuum"));
    assert_non_null(strstr(issue_field(h, i, "reason"), "pages are free"));
    assert_true(geti(h, "checked.free_pages") * 4 > geti(h, "checked.pages"));
    blazedb_doc_free(h);
    /* a higher threshold silences it */
    BlazeDBHealthOptions o;
    blazedb_health_options_init(&o);
    o.free_ratio_pct = 99;
    h = health_json(db, &o, 0, &st);
    assert_int_equal(find_issue(h, "free_pages"), -1);
    blazedb_doc_free(h);
    /* the text form says the same */
    char *txt = NULL;
    assert_int_equal(blazedb_health(db, NULL, 0, &txt, &st), BLAZEDB_OK);
    assert_int_equal(strncmp(txt, "status: warn\n", 13), 0);
    assert_non_null(strstr(txt, "warn: free_pages: "));
    assert_non_null(strstr(txt, "  action: vacuum"));
    blazedb_free(txt);
}

static void test_health_wal(void **state)
{
    Fx *f = *state;
    blazedb_close(f->db);
    tu_rmrf(f->dir);
    free(f->dir);
    f->dir = tu_mkdtemp("monitor");
    free(f->path);
    f->path = tu_path(f->dir, "wal.blazedb");
    f->db = open_db(f->path, UINT32_MAX, BLAZEDB_DURABILITY_OFF);
    BlazeDB *db = f->db;
    BlazeDBHealthStatus st;
    BlazeDBDoc *h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    blazedb_doc_free(h);
    /* 72 MiB of values with automatic checkpoints off: past the 64 MiB default */
    size_t vlen = 1 << 20;
    char *v = malloc(vlen);
    for (int i = 0; i < 72; i++) {
        char k[16];
        snprintf(k, sizeof k, "big%02d", i);
        tu_fill((uint64_t)i, v, vlen);
        assert_int_equal(blazedb_put2(db, k, strlen(k), v, vlen), BLAZEDB_OK);
    }
    free(v);
    BlazeDBDoc *m = metrics(db, 0, NULL);
    assert_true(geti(m, "wal.pages_not_checkpointed") * 8192 > (64 << 20));
    assert_true(geti(m, "wal.file_bytes") >= geti(m, "wal.bytes"));
    const char *off;
    assert_int_equal(blazedb_doc_get_string(m, "wal.autocheckpoint_pages", &off, NULL),
                     BLAZEDB_OK);
    assert_string_equal(off, "off");
    int64_t ck0 = geti(m, "counters.checkpoints");
    blazedb_doc_free(m);
    h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_WARN);
    int i = find_issue(h, "wal_size");
    assert_true(i >= 0);
    assert_non_null(strstr(issue_field(h, i, "action"), "checkpoint"));
    assert_non_null(strstr(issue_field(h, i, "reason"), "automatic checkpoints are off"));
    blazedb_doc_free(h);
    /* a checkpoint clears it */
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    m = metrics(db, 0, NULL);
    assert_int_equal(geti(m, "counters.checkpoints"), ck0 + 1);
    assert_int_equal(geti(m, "wal.pages_not_checkpointed"), 0);
    blazedb_doc_free(m);
    h = health_json(db, NULL, 0, &st);
    assert_int_equal(find_issue(h, "wal_size"), -1);
    blazedb_doc_free(h);
    /* a caller's threshold */
    assert_int_equal(blazedb_put2(db, "small", 5, "x", 1), BLAZEDB_OK);
    BlazeDBHealthOptions o;
    blazedb_health_options_init(&o);
    o.wal_warn_bytes = 1;
    h = health_json(db, &o, 0, &st);
    assert_true(find_issue(h, "wal_size") >= 0 || find_issue(h, "wal_not_reset") >= 0);
    blazedb_doc_free(h);
}

static void test_health_failed_handle(void **state)
{
    Fx *f = *state;
    OsFault *fault = os_fault_new(NULL);
    char *p = tu_path(f->dir, "fault.blazedb");
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(db_open_vfs(p, TU_PASSWORD, &o, os_fault_vfs(fault), &db), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "a", "1", 1), BLAZEDB_OK);
    BlazeDBHealthStatus st;
    BlazeDBDoc *h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    blazedb_doc_free(h);
    /* the next log sync fails: the handle refuses writes from then on */
    os_fault_fail(fault, OS_FAULT_SYNC, 1, EIO, 0);
    assert_int_equal(blazedb_put(db, "b", "2", 1), BLAZEDB_IO_ERROR);
    assert_int_equal(blazedb_put(db, "c", "3", 1), BLAZEDB_FAILED);
    h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_ERROR);
    int i = find_issue(h, "failed");
    assert_true(i >= 0);
    assert_string_equal(issue_field(h, i, "severity"), "error");
    assert_non_null(strstr(issue_field(h, i, "action"), "reopen"));
    blazedb_doc_free(h);
    BlazeDBDoc *m = metrics(db, 0, NULL);
    int fl = 0;
    assert_int_equal(blazedb_doc_get_bool(m, "database.failed", &fl), BLAZEDB_OK);
    assert_int_equal(fl, 1);
    assert_true(hist_errors(m, "kv_put") >= 2);
    blazedb_doc_free(m);
    char *txt = NULL;
    assert_int_equal(blazedb_health(db, NULL, 0, &txt, &st), BLAZEDB_OK);
    assert_int_equal(strncmp(txt, "status: error\n", 14), 0);
    blazedb_free(txt);
    blazedb_close(db);
    os_fault_free(fault);
    /* reopened: healthy, nothing committed lost */
    db = open_db(p, 0, BLAZEDB_DURABILITY_FULL);
    h = health_json(db, NULL, 0, &st);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    blazedb_doc_free(h);
    void *v;
    size_t vl;
    assert_int_equal(blazedb_get(db, "a", &v, &vl), BLAZEDB_OK);
    blazedb_free(v);
    blazedb_close(db);
    free(p);
}

/* ---- lock waits ---------------------------------------------------------------------- */

typedef struct {
    BlazeDB *db;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
} Waiter;

static void *waiter_main(void *arg)
{
    Waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->started = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    BlazeDBTxn *t = NULL;
    if (blazedb_txn_begin(w->db, 0, &t) == BLAZEDB_OK)
        blazedb_txn_commit(t);
    return NULL;
}

static void test_lock_waits(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    BlazeDBDoc *a = metrics(db, 0, NULL);
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    Waiter w = {db, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, waiter_main, &w), 0);
    pthread_mutex_lock(&w.mu);
    while (!w.started)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    tu_sleep_us(200000); /* the other thread is waiting for the writer lock */
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    pthread_join(th, NULL);
    BlazeDBDoc *b = metrics(db, 0, NULL);
    assert_int_equal(geti(b, "counters.lock_waits") - geti(a, "counters.lock_waits"), 1);
    assert_true(geti(b, "counters.lock_wait_us") > geti(a, "counters.lock_wait_us"));
    assert_int_equal(hist_count(b, "txn_begin") - hist_count(a, "txn_begin"), 2);
    blazedb_doc_free(a);
    blazedb_doc_free(b);
}

/* Several threads on one handle: each records into its own shard; the
 * report adds them up exactly. */
static void *getter_main(void *arg)
{
    BlazeDB *db = arg;
    for (int i = 0; i < 500; i++) {
        void *v = NULL;
        size_t vl;
        if (blazedb_get(db, "shared", &v, &vl) != BLAZEDB_OK)
            return (void *)1;
        blazedb_free(v);
    }
    return NULL;
}

static void test_threads(void **state)
{
    Fx *f = *state;
    assert_int_equal(blazedb_put(f->db, "shared", "v", 1), BLAZEDB_OK);
    BlazeDBDoc *a = metrics(f->db, 0, NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, getter_main, f->db), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    BlazeDBDoc *b = metrics(f->db, 0, NULL);
    assert_int_equal(hist_count(b, "kv_get") - hist_count(a, "kv_get"), 4 * 500);
    /* gets are timed one in MON_SAMPLE = 8, at random: 250 expected of
     * 2,000 (standard deviation 15) */
    int64_t timed = hist_timed(b, "kv_get") - hist_timed(a, "kv_get");
    assert_in_range(timed, 150, 350);
    assert_int_equal(geti(b, "counters.reads") - geti(a, "counters.reads"), 4 * 500);
    blazedb_doc_free(a);
    blazedb_doc_free(b);
}

/* ---- internals and arguments ---------------------------------------------------------- */

static void test_histogram_buckets(void **state)
{
    (void)state;
    Monitor *m = mon_new();
    assert_non_null(m);
    MonHistSnapshot s;
    mon_snapshot(m, MON_KV_GET, &s);
    assert_int_equal(s.count, 0);
    assert_true(s.p99_us == 0.0);
    for (int i = 0; i < 1000; i++)
        mon_record(m, MON_KV_GET, (uint64_t)i * 1000, i % 100 == 0 ? BLAZEDB_IO_ERROR
                                                                  : BLAZEDB_OK);
    mon_record(m, MON_KV_GET, 5, BLAZEDB_NOT_FOUND);
    mon_snapshot(m, MON_KV_GET, &s);
    assert_int_equal(s.count, 1001);
    assert_int_equal(s.errors, 10);
    uint64_t sum = 0;
    for (int k = 0; k < MON_BUCKETS; k++)
        sum += s.buckets[k];
    assert_int_equal(sum, 1001);
    assert_true(s.p50_us <= s.p95_us && s.p95_us <= s.p99_us && s.p99_us <= s.max_us);
    assert_true(s.max_us > 0);
    /* the bucket bounds are powers of two in µs */
    assert_true(mon_bucket_upper_us(3) == 1.0);
    assert_true(mon_bucket_upper_us(4) == 2.0);
    assert_true(mon_bucket_upper_us(13) == 1024.0);
    assert_string_equal(mon_op_name(MON_SQL_STATEMENT), "sql_statement");
    mon_snapshot(m, MON_KV_PUT, &s);
    assert_int_equal(s.count, 0);
    /* calls counted but not timed: in count and errors, not in the
     * buckets; the sum is scaled up to every call */
    mon_snapshot(m, MON_KV_GET, &s);
    double mean = s.sum_us / (double)s.count;
    for (int i = 0; i < 3003; i++)
        mon_count(m, MON_KV_GET, i < 3 ? BLAZEDB_CORRUPT : BLAZEDB_NOT_FOUND);
    MonHistSnapshot s2;
    mon_snapshot(m, MON_KV_GET, &s2);
    assert_int_equal(s2.count, 1001 + 3003);
    assert_int_equal(s2.timed, 1001);
    assert_int_equal(s2.errors, 10 + 3);
    assert_true(s2.p50_us == s.p50_us && s2.p99_us == s.p99_us && s2.max_us == s.max_us);
    double d = s2.sum_us / (double)s2.count - mean;
    assert_true(d < 1e-9 * mean && -d < 1e-9 * mean);
    /* mon_start: point reads one call in MON_SAMPLE, the rest always */
    int started = 0;
    for (int i = 0; i < 8000; i++)
        started += mon_start(MON_KV_GET) != 0;
    assert_in_range(started, 800, 1200); /* 1,000 expected, sd 30 */
    for (int i = 0; i < 100; i++)
        assert_true(mon_start(MON_KV_PUT) != 0 && mon_start(MON_COMMIT) != 0);
    mon_free(m);
}

static void test_arguments(void **state)
{
    Fx *f = *state;
    char *json = (char *)1;
    assert_int_equal(blazedb_metrics_json(NULL, 0, &json), BLAZEDB_INVALID_ARGUMENT);
    assert_null(json);
    assert_int_equal(blazedb_metrics_json(f->db, 0, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_metrics_json(f->db, 0x100, &json), BLAZEDB_INVALID_ARGUMENT);
    BlazeDBHealthStatus st;
    assert_int_equal(blazedb_health(f->db, NULL, 0, NULL, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_health(f->db, NULL, 0x100, NULL, &st), BLAZEDB_INVALID_ARGUMENT);
    BlazeDBHealthOptions o;
    blazedb_health_options_init(&o);
    assert_int_equal(o.struct_size, sizeof o);
    assert_int_equal(o.free_ratio_pct, 25);
    o.struct_size = 1000;
    assert_int_equal(blazedb_health(f->db, &o, 0, NULL, &st), BLAZEDB_INVALID_ARGUMENT);
    /* status alone, without a report */
    assert_int_equal(blazedb_health(f->db, NULL, 0, NULL, &st), BLAZEDB_OK);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    blazedb_close(f->db);
    assert_int_equal(blazedb_metrics_json(f->db, 0, &json), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_health(f->db, NULL, 0, NULL, &st), BLAZEDB_MISUSE);
    f->db = open_db(f->path, 0, BLAZEDB_DURABILITY_FULL);
    /* a fresh handle starts from zero */
    BlazeDBDoc *m = metrics(f->db, 0, NULL);
    assert_int_equal(geti(m, "counters.commits"), 0);
    assert_int_equal(hist_count(m, "kv_get"), 0);
    assert_int_equal(geti(m, "version"), 1);
    blazedb_doc_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kv_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_document_and_sql_histograms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes_and_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_document_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_free_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_failed_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
