/*
 * test_limits.c — every limit of docs/LIMITS.md at its boundary: exactly at
 * the limit works, one past fails with the documented code.
 *
 * Keys (both page-size classes), values, document size (encoding), document
 * ids, nesting depth, field names, fields per object past the 16-bit count,
 * collection and index names, fields per index, index entry size, SQL
 * limits (expression depth, IN list, parameters, tables per FROM), the
 * database size (through the pager's allocation guard with a simulated high
 * page number: a 32 TiB file cannot be made in a test), and the health
 * report's warnings as a database nears a limit (the pure rule function,
 * fed the numbers of a database near its size limit).
 *
 * Storing a value of exactly 1 GiB and the largest document insert stores
 * (1 GiB less the change log's header) runs only with BLAZEDB_LONG_TESTS set
 * (it writes 3 GiB through the log, about 50 s and 5 GiB of memory); the
 * encoding of a document of exactly 1 GiB (and the failure at 1 GiB + 1)
 * always runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blazedb.h"
#include "support/testutil.h"
#include "../src/db/db.h"
#include "../src/db/monitor.h"
#include "../src/pager/pager.h"

typedef TuDb Fx;

static BlazeDB *open_db(const char *path, uint32_t page_size)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.page_size = page_size;
    o.durability = BLAZEDB_DURABILITY_OFF;
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
    o.durability = BLAZEDB_DURABILITY_OFF;
    if (!f || tu_db_create(f, "limits", &o) != BLAZEDB_OK)
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

static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static BlazeDBDoc *doc_json(const char *json)
{
    BlazeDBDoc *d = NULL;
    BlazeDBResult rc = blazedb_doc_from_json(json, strlen(json), &d);
    if (rc)
        fail_msg("json: %s", blazedb_errmsg(NULL));
    return d;
}

/* ---- keys and values -------------------------------------------------------- */

static void check_key_limit(BlazeDB *db, size_t max)
{
    BlazeDBStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    assert_int_equal(st.max_key_size, max);
    char *k = filled(max + 1, 'k');
    assert_int_equal(blazedb_put2(db, k, max, "v", 1), BLAZEDB_OK);
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(blazedb_get2(db, k, max, &v, &vl), BLAZEDB_OK);
    assert_int_equal(vl, 1);
    blazedb_free(v);
    assert_int_equal(blazedb_put2(db, k, max + 1, "v", 1), BLAZEDB_TOO_BIG);
    assert_int_equal(blazedb_get2(db, k, max + 1, &v, &vl), BLAZEDB_TOO_BIG);
    assert_int_equal(blazedb_delete2(db, k, max + 1), BLAZEDB_TOO_BIG);
    assert_int_equal(blazedb_put2(db, k, 0, "v", 1), BLAZEDB_INVALID_ARGUMENT);
    free(k);
}

static void test_key_size_8k(void **state)
{
    Fx *f = *state;
    check_key_limit(f->db, BLAZEDB_MAX_KEY); /* 2048 */
}

static void test_key_size_4k(void **state)
{
    Fx *f = *state;
    char *p = tu_path(f->dir, "small.blazedb");
    BlazeDB *db = open_db(p, 4096);
    check_key_limit(db, 1325);
    blazedb_close(db);
    free(p);
}

static void test_value_size(void **state)
{
    Fx *f = *state;
    /* one past: refused on the length alone, before the bytes are read */
    static const char small[1] = {0};
    assert_int_equal(blazedb_put2(f->db, "k", 1, small, (size_t)BLAZEDB_MAX_VALUE + 1),
                     BLAZEDB_TOO_BIG);
    if (!tu_long_tests()) {
        print_message("value of exactly 1 GiB: set BLAZEDB_LONG_TESTS to run it\n");
        return;
    }
    size_t n = BLAZEDB_MAX_VALUE;
    void *big = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(big != MAP_FAILED);
    assert_int_equal(blazedb_put2(f->db, "k", 1, big, n), BLAZEDB_OK);
    void *v = NULL;
    size_t vl = 0;
    assert_int_equal(blazedb_get2(f->db, "k", 1, &v, &vl), BLAZEDB_OK);
    assert_int_equal(vl, n);
    blazedb_free(v);
    munmap(big, n);
}

/* ---- documents ---------------------------------------------------------------- */

/* A document {"b": <len bytes>} (plus "id" when id != NULL). */
static BlazeDBDoc *bytes_doc(const void *src, size_t len, const char *id)
{
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    if (id)
        assert_int_equal(blazedb_doc_set_string(d, "id", id), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_bytes(d, "b", src, len), BLAZEDB_OK);
    return d;
}

/* Encoded size minus payload for bytes_doc at sizes >= 64 KiB (the offset
 * width is 4 from there up to 4 GiB, so this is constant). */
static size_t bytes_doc_overhead(const char *id)
{
    size_t p0 = 100000;
    char *src = calloc(1, p0);
    BlazeDBDoc *d = bytes_doc(src, p0, id);
    void *enc = NULL;
    size_t len = 0;
    assert_int_equal(blazedb_doc_encode(d, &enc, &len), BLAZEDB_OK);
    blazedb_free(enc);
    blazedb_doc_free(d);
    free(src);
    return len - p0;
}

static void test_document_size(void **state)
{
    Fx *f = *state;
    size_t max = BLAZEDB_MAX_VALUE;
    size_t over = bytes_doc_overhead(NULL);
    /* zero pages: the 1 GiB source costs no memory until copied */
    void *src = mmap(NULL, max, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(src != MAP_FAILED);

    /* exactly at the limit: encodes, and decodes back */
    BlazeDBDoc *d = bytes_doc(src, max - over, NULL);
    void *enc = NULL;
    size_t len = 0;
    assert_int_equal(blazedb_doc_encode(d, &enc, &len), BLAZEDB_OK);
    assert_int_equal(len, max);
    blazedb_doc_free(d);
    d = NULL;
    assert_int_equal(blazedb_doc_decode(enc, len, &d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_type(d, "b"), BLAZEDB_TYPE_BYTES);
    blazedb_doc_free(d);
    blazedb_free(enc);

    /* one byte more: TOO_BIG from the encoder and from insert (nothing
     * stored) */
    d = bytes_doc(src, max - over + 1, NULL);
    enc = NULL;
    assert_int_equal(blazedb_doc_encode(d, &enc, &len), BLAZEDB_TOO_BIG);
    assert_null(enc);
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    assert_int_equal(blazedb_collection_create(f->db, NULL, "big", &co), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "id", "big1"), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "big", d), BLAZEDB_TOO_BIG);
    blazedb_doc_free(d);
    uint64_t n = 99;
    assert_int_equal(blazedb_count(f->db, NULL, "big", &n), BLAZEDB_OK);
    assert_int_equal(n, 0);

    if (tu_long_tests()) {
        /* stored: the change log keeps a copy of the document behind a
         * header of 13 bytes + collection name + id, and that record is
         * held to the same 1 GiB, so the largest document insert stores is
         * 1 GiB - 13 - 3 ("big") - 4 ("big2") bytes; one more is TOO_BIG
         * and stores nothing */
        size_t over_id = bytes_doc_overhead("big2");
        size_t stored_max = max - (13 + 3 + 4);
        d = bytes_doc(src, stored_max - over_id + 1, "big2");
        assert_int_equal(blazedb_insert(f->db, NULL, "big", d), BLAZEDB_TOO_BIG);
        blazedb_doc_free(d);
        assert_int_equal(blazedb_count(f->db, NULL, "big", &n), BLAZEDB_OK);
        assert_int_equal(n, 0);
        d = bytes_doc(src, stored_max - over_id, "big2");
        assert_int_equal(blazedb_insert(f->db, NULL, "big", d), BLAZEDB_OK);
        blazedb_doc_free(d);
        d = NULL;
        assert_int_equal(blazedb_get_doc(f->db, NULL, "big", "big2", &d), BLAZEDB_OK);
        const void *p;
        size_t pl = 0;
        assert_int_equal(blazedb_doc_get_bytes(d, "b", &p, &pl), BLAZEDB_OK);
        assert_int_equal(pl, stored_max - over_id);
        blazedb_doc_free(d);
    } else {
        print_message("storing a 1 GiB document: set BLAZEDB_LONG_TESTS to run it\n");
    }
    munmap(src, max);
}

/* JSON of depth `depth`: {"a":{"a":...{"a":1}...}} (the document is level 1). */
static char *nested_json(int depth)
{
    size_t cap = (size_t)depth * 8 + 16;
    char *s = malloc(cap), *p = s;
    for (int i = 1; i < depth; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "{\"a\":1}");
    for (int i = 1; i < depth; i++)
        *p++ = '}';
    *p = 0;
    return s;
}

static void test_nesting_depth(void **state)
{
    Fx *f = *state;
    char *ok = nested_json(BLAZEDB_DOC_MAX_DEPTH), *bad = nested_json(BLAZEDB_DOC_MAX_DEPTH + 1);
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_from_json(ok, strlen(ok), &d), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "deep", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    d = NULL;
    assert_int_equal(blazedb_doc_from_json(bad, strlen(bad), &d), BLAZEDB_INVALID_ARGUMENT);
    assert_null(d);
    /* and through a setter: the innermost object (level 64) is reached by 63
     * "a"s; a scalar in it is fine, a new object in it would be level 65 */
    d = doc_json(ok);
    char path[4 * BLAZEDB_DOC_MAX_DEPTH + 8] = "a";
    for (int i = 2; i < BLAZEDB_DOC_MAX_DEPTH; i++)
        strcat(path, ".a");
    size_t base = strlen(path);
    strcpy(path + base, ".x");
    assert_int_equal(blazedb_doc_set_int(d, path, 1), BLAZEDB_OK);
    strcpy(path + base, ".z.y");
    assert_int_equal(blazedb_doc_set_int(d, path, 1), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_doc_type(d, path), BLAZEDB_TYPE_MISSING);
    blazedb_doc_free(d);
    free(ok);
    free(bad);
}

static void test_field_name(void **state)
{
    Fx *f = *state;
    char *name = filled(BLAZEDB_DOC_MAX_NAME + 1, 'n');
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    name[BLAZEDB_DOC_MAX_NAME] = 0;
    assert_int_equal(blazedb_doc_set_int(d, name, 7), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "id", "named"), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "names", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    assert_int_equal(blazedb_get_doc(f->db, NULL, "names", "named", &d), BLAZEDB_OK);
    int64_t v = 0;
    assert_int_equal(blazedb_doc_get_int(d, name, &v), BLAZEDB_OK);
    assert_int_equal(v, 7);
    blazedb_doc_free(d);
    name[BLAZEDB_DOC_MAX_NAME] = 'n';
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_int(d, name, 7), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_doc_len(d, ""), 0);
    blazedb_doc_free(d);
    free(name);
}

/* No count limit of its own: a document with more than 65535 fields (past
 * the 16-bit count width) stores and reads back; the document size is the
 * bound (test_document_size). */
static void test_field_count(void **state)
{
    Fx *f = *state;
    size_t n = 70000;
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    char name[16];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%zu", i);
        assert_int_equal(blazedb_doc_set_int(d, name, (int64_t)i), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_doc_set_string(d, "id", "wide"), BLAZEDB_OK);
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    assert_int_equal(blazedb_collection_create(f->db, NULL, "wide", &co), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "wide", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    assert_int_equal(blazedb_get_doc(f->db, NULL, "wide", "wide", &d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_len(d, ""), n + 1);
    int64_t v = 0;
    assert_int_equal(blazedb_doc_get_int(d, "f69999", &v), BLAZEDB_OK);
    assert_int_equal(v, 69999);
    blazedb_doc_free(d);
}

static void test_document_id(void **state)
{
    Fx *f = *state;
    size_t max = BLAZEDB_MAX_KEY;
    char *id = filled(max + 1, 'i');
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    id[max] = 0;
    assert_int_equal(blazedb_doc_set_string(d, "id", id), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "ids", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    int ex = 0;
    assert_int_equal(blazedb_exists(f->db, NULL, "ids", id, &ex), BLAZEDB_OK);
    assert_int_equal(ex, 1);
    id[max] = 'i';
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "id", id), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "ids", d), BLAZEDB_TOO_BIG);
    blazedb_doc_free(d);
    assert_int_equal(blazedb_get_doc(f->db, NULL, "ids", id, &d), BLAZEDB_TOO_BIG);
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "id", ""), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "ids", d), BLAZEDB_INVALID_ARGUMENT);
    blazedb_doc_free(d);
    uint64_t n = 0;
    assert_int_equal(blazedb_count(f->db, NULL, "ids", &n), BLAZEDB_OK);
    assert_int_equal(n, 1);
    free(id);
}

/* ---- collections and indexes --------------------------------------------------- */

static void test_collection_name(void **state)
{
    Fx *f = *state;
    char *name = filled(256, 'c');
    name[255] = 0;
    assert_int_equal(blazedb_collection_create(f->db, NULL, name, NULL), BLAZEDB_OK);
    name[255] = 'c';
    assert_int_equal(blazedb_collection_create(f->db, NULL, name, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_collection_create(f->db, NULL, "", NULL), BLAZEDB_INVALID_ARGUMENT);
    free(name);
}

static void test_index_name_and_fields(void **state)
{
    Fx *f = *state;
    BlazeDBDoc *d = doc_json("{\"id\":\"1\",\"a\":1}");
    assert_int_equal(blazedb_insert(f->db, NULL, "ix", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    BlazeDBIndexField fields[17];
    char paths[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(paths[i], sizeof paths[i], "f%d", i);
        fields[i].path = paths[i];
        fields[i].descending = 0;
        fields[i].each = 0;
    }
    char *name = filled(256, 'x');
    name[255] = 0;
    assert_int_equal(blazedb_index_create(f->db, NULL, "ix", name, fields, 1, 0, NULL),
                     BLAZEDB_OK);
    name[255] = 'x';
    assert_int_equal(blazedb_index_create(f->db, NULL, "ix", name, fields, 1, 0, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_index_create(f->db, NULL, "ix", "sixteen", fields, 16, 0, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(f->db, NULL, "ix", "seventeen", fields, 17, 0, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    free(name);
}

/* An entry is keyenc(value) + id + 2 bytes; for an ASCII string of n bytes
 * keyenc is 1 + n + 2 bytes, so with id "a" the largest string is
 * max_key - 6 bytes. */
static void test_index_key_size(void **state)
{
    Fx *f = *state;
    size_t max = BLAZEDB_MAX_KEY;
    BlazeDBIndexField fld = {"s", 0, 0};
    assert_int_equal(blazedb_collection_create(f->db, NULL, "ik", NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(f->db, NULL, "ik", "by_s", &fld, 1, 0, NULL),
                     BLAZEDB_OK);
    char *s = filled(max - 5, 's');
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "id", "a"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_stringn(d, "s", s, max - 6), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "ik", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "id", "b"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_stringn(d, "s", s, max - 5), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(f->db, NULL, "ik", d), BLAZEDB_TOO_BIG);
    blazedb_doc_free(d);
    uint64_t n = 0;
    assert_int_equal(blazedb_count(f->db, NULL, "ik", &n), BLAZEDB_OK);
    assert_int_equal(n, 1);
    /* the health report's deep check sees the entry at the limit */
    char *rep = NULL;
    BlazeDBHealthStatus st;
    assert_int_equal(blazedb_health(f->db, NULL, BLAZEDB_HEALTH_DEEP, &rep, &st), BLAZEDB_OK);
    assert_int_equal(st, BLAZEDB_HEALTH_WARN);
    assert_non_null(strstr(rep, "index_key_size"));
    assert_non_null(strstr(rep, "by_s"));
    blazedb_free(rep);
    free(s);
}

/* Indexes per collection: no fixed limit; the health report warns past
 * max_indexes (16 by default). */
static void test_index_count_warning(void **state)
{
    Fx *f = *state;
    assert_int_equal(blazedb_collection_create(f->db, NULL, "many", NULL), BLAZEDB_OK);
    char name[16], path[16];
    BlazeDBHealthStatus st;
    char *rep = NULL;
    for (int i = 0; i < 17; i++) {
        snprintf(name, sizeof name, "ix%d", i);
        snprintf(path, sizeof path, "f%d", i);
        BlazeDBIndexField fld = {path, 0, 0};
        assert_int_equal(blazedb_index_create(f->db, NULL, "many", name, &fld, 1, 0, NULL),
                         BLAZEDB_OK);
        if (i == 15) {
            assert_int_equal(blazedb_health(f->db, NULL, 0, &rep, &st), BLAZEDB_OK);
            assert_null(strstr(rep, "too_many_indexes"));
            blazedb_free(rep);
        }
    }
    assert_int_equal(blazedb_health(f->db, NULL, 0, &rep, &st), BLAZEDB_OK);
    assert_int_equal(st, BLAZEDB_HEALTH_WARN);
    assert_non_null(strstr(rep, "too_many_indexes"));
    assert_non_null(strstr(rep, "'many' has 17 indexes"));
    blazedb_free(rep);
}

/* ---- SQL ---------------------------------------------------------------------------- */

static BlazeDBResult run_sql(BlazeDB *db, const char *sql)
{
    BlazeDBStmt *st = NULL;
    BlazeDBResult rc = blazedb_prepare(db, sql, (size_t)-1, &st, NULL);
    if (rc == BLAZEDB_OK) {
        while ((rc = blazedb_step(st)) == BLAZEDB_ROW)
            ;
        if (rc == BLAZEDB_DONE)
            rc = BLAZEDB_OK;
    }
    blazedb_finalize(st);
    return rc;
}

static void test_sql_limits(void **state)
{
    Fx *f = *state;
    BlazeDB *db = f->db;
    assert_int_equal(run_sql(db, "INSERT INTO t (id, a) VALUES ('x', 1)"), BLAZEDB_OK);
    char *buf = malloc(1 << 21), *p;
    /* expression depth: 200 levels = 199 parentheses around a value */
    for (int n = 199; n <= 200; n++) {
        p = buf + sprintf(buf, "SELECT ");
        for (int i = 0; i < n; i++)
            *p++ = '(';
        *p++ = '1';
        for (int i = 0; i < n; i++)
            *p++ = ')';
        *p = 0;
        assert_int_equal(run_sql(db, buf), n == 199 ? BLAZEDB_OK : BLAZEDB_SQL_ERROR);
    }
    /* or a chain of 200 operands */
    for (int n = 199; n <= 200; n++) {
        p = buf + sprintf(buf, "SELECT 1");
        for (int i = 0; i < n; i++)
            p += sprintf(p, "+1");
        assert_int_equal(run_sql(db, buf), n == 199 ? BLAZEDB_OK : BLAZEDB_SQL_ERROR);
    }
    /* IN list: 100,000 values */
    for (int n = 100000; n <= 100001; n++) {
        p = buf + sprintf(buf, "SELECT * FROM t WHERE a IN (");
        for (int i = 0; i < n; i++)
            p += sprintf(p, i ? ",%d" : "%d", i);
        sprintf(p, ")");
        assert_int_equal(run_sql(db, buf), n == 100000 ? BLAZEDB_OK : BLAZEDB_SQL_ERROR);
    }
    /* parameters: 32,766 */
    for (int n = 32766; n <= 32767; n++) {
        p = buf + sprintf(buf, "SELECT * FROM t WHERE a IN (");
        for (int i = 0; i < n; i++)
            p += sprintf(p, i ? ",?" : "?");
        sprintf(p, ")");
        BlazeDBStmt *st = NULL;
        BlazeDBResult rc = blazedb_prepare(db, buf, (size_t)-1, &st, NULL);
        if (n == 32766) {
            assert_int_equal(rc, BLAZEDB_OK);
            assert_int_equal(blazedb_bind_count(st), n);
            assert_int_equal(blazedb_bind_int(st, n, 1), BLAZEDB_OK);
            assert_int_equal(blazedb_step(st), BLAZEDB_ROW);
        } else {
            assert_int_equal(rc, BLAZEDB_SQL_ERROR);
        }
        blazedb_finalize(st);
    }
    /* tables in one FROM: 16 */
    for (int n = 16; n <= 17; n++) {
        p = buf + sprintf(buf, "SELECT t0.a FROM t t0");
        for (int i = 1; i < n; i++)
            p += sprintf(p, " JOIN t t%d ON t%d.a = t0.a", i, i);
        assert_int_equal(run_sql(db, buf), n == 16 ? BLAZEDB_OK : BLAZEDB_SQL_ERROR);
    }
    free(buf);
}

/* ---- database size -------------------------------------------------------------------- */

/* The last page number is PAGER_MAX_PGNO - 1; the database is then
 * (2^32 - 16) pages.  A write transaction whose high-water mark is set just
 * below it (the meta copy is the transaction's own; it is rolled back, so
 * nothing reaches the disk) gets exactly one more page, then BLAZEDB_FULL. */
static void test_database_size_guard(void **state)
{
    Fx *f = *state;
    Pager *p = db_pager(f->db);
    PagerTxn *t = NULL;
    assert_int_equal(pager_begin(p, 1, &t), BLAZEDB_OK);
    pager_txn_meta(t)->npages = PAGER_MAX_PGNO - 1;
    Page *pg = NULL;
    assert_int_equal(pager_alloc(t, &pg), BLAZEDB_OK);
    assert_int_equal(pg->pgno, PAGER_MAX_PGNO - 1);
    pager_unpin(t, pg);
    assert_int_equal(pager_alloc(t, &pg), BLAZEDB_FULL);
    assert_non_null(strstr(pager_errmsg(p), "maximum size"));
    pager_abort(t);
    /* nothing happened to the database */
    char msg[256];
    assert_int_equal(db_check(f->db, msg, sizeof msg), BLAZEDB_OK);
    assert_int_equal(blazedb_put(f->db, "after", "x", 1), BLAZEDB_OK);
    /* and the documented sizes */
    assert_int_equal((uint64_t)PAGER_MAX_PGNO, (1ull << 32) - 16);
    char *json = NULL;
    assert_int_equal(blazedb_metrics_json(f->db, 0, &json), BLAZEDB_OK);
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_from_json(json, strlen(json), &d), BLAZEDB_OK);
    int64_t maxp = 0, maxb = 0;
    assert_int_equal(blazedb_doc_get_int(d, "database.max_pages", &maxp), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_int(d, "database.max_bytes", &maxb), BLAZEDB_OK);
    assert_int_equal(maxp, (int64_t)PAGER_MAX_PGNO);
    assert_int_equal(maxb, (int64_t)PAGER_MAX_PGNO * 8192);
    blazedb_doc_free(d);
    blazedb_free(json);
}

/* The health rules warn from limit_pct (80%) of the maximum size and turn
 * to an error at the last page; fed a simulated page count. */
static void test_health_near_size_limit(void **state)
{
    (void)state;
    MonFacts f;
    memset(&f, 0, sizeof f);
    f.page_size = 8192;
    f.max_pages = PAGER_MAX_PGNO;
    f.autockpt = 4096;
    f.max_key = BLAZEDB_MAX_KEY;
    snprintf(f.coll_most_docs, sizeof f.coll_most_docs, "events");
    f.most_docs = 123;
    MonIssue iss[MON_MAX_ISSUES];
    int st;
    uint64_t at80 = (uint64_t)PAGER_MAX_PGNO / 100 * 80 + (PAGER_MAX_PGNO % 100 ? 1 : 0);
    while (at80 * 100 < 80ull * PAGER_MAX_PGNO)
        at80++;
    f.pages = at80 - 1;
    assert_int_equal(mon_health_eval(&f, NULL, iss, &st), 0);
    assert_int_equal(st, BLAZEDB_HEALTH_OK);
    f.pages = at80;
    assert_int_equal(mon_health_eval(&f, NULL, iss, &st), 1);
    assert_int_equal(st, BLAZEDB_HEALTH_WARN);
    assert_string_equal(iss[0].code, "database_size");
    assert_non_null(strstr(iss[0].action, "split"));
    assert_non_null(strstr(iss[0].action, "'events'"));
    f.pages = PAGER_MAX_PGNO;
    assert_int_equal(mon_health_eval(&f, NULL, iss, &st), 1);
    assert_int_equal(st, BLAZEDB_HEALTH_ERROR);
    /* ids near the key limit (deep mode) */
    f.pages = 100;
    f.deep = 1;
    f.longest_id = (BLAZEDB_MAX_KEY * 80 + 99) / 100; /* the first at 80% */
    snprintf(f.coll_longest_id, sizeof f.coll_longest_id, "users");
    assert_int_equal(mon_health_eval(&f, NULL, iss, &st), 1);
    assert_string_equal(iss[0].code, "id_size");
    f.longest_id--;
    assert_int_equal(mon_health_eval(&f, NULL, iss, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_size_8k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_size_4k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_document_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_document_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collection_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_name_and_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_key_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_count_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_size_guard, setup, teardown),
        cmocka_unit_test(test_health_near_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
