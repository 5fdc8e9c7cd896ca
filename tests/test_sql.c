/*
 * test_sql.c — the SQL subset through the public API (include/blazedb.h
 * Part 6), one test per statement form or behaviour; together they
 * document the dialect by example:
 *   - CREATE/DROP COLLECTION [IF [NOT] EXISTS];
 *   - INSERT (column lists, several rows, dotted paths, JSON documents
 *     literal and bound, OR REPLACE = upsert by id), UPDATE (several
 *     fields, expressions over the old document, nested paths), DELETE,
 *     and blazedb_stmt_changes;
 *   - CREATE [UNIQUE] INDEX (compound with DESC, nested path, array
 *     elements "tags[]" used by CONTAINS, partial WHERE), DROP INDEX;
 *   - BEGIN/COMMIT/ROLLBACK, SAVEPOINT/RELEASE/ROLLBACK TO, a unique
 *     violation inside a transaction;
 *   - prepared statements: every parameter form, reuse, reset,
 *     clear_bindings, blazedb_row_doc, the column accessors, a caller's
 *     transaction (blazedb_stmt_set_txn);
 *   - the planner's choices through EXPLAIN (text and JSON) and the row
 *     counts of EXPLAIN ANALYZE;
 *   - index maintenance under INSERT/UPDATE/DELETE/ROLLBACK (indexed
 *     results equal NOT INDEXED results);
 *   - bad input: every error has its code and a message, and changes
 *     nothing; blazedb_interrupt from another thread.
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

#include "blazedb.h"
#include "support/testutil.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef TuDb Env;

static void env_init(Env *e)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.durability = BLAZEDB_DURABILITY_OFF;
    assert_int_equal(tu_db_create(e, "sql", &o), BLAZEDB_OK);
}

static void env_free(Env *e)
{
    char msg[512];
    if (tu_db_destroy(e, msg, sizeof msg))
        fail_msg("db_check: %s", msg);
}

/* Runs every statement of sql; fails the test on an error. */
static void X(BlazeDB *db, const char *sql)
{
    BlazeDBResult rc = blazedb_exec(db, sql, NULL, NULL);
    if (rc != BLAZEDB_OK)
        fail_msg("%s\n  -> %s: %s", sql, blazedb_strerror(rc), blazedb_errmsg(db));
}

/* A growing string. */
typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* The rows of the current step loop as text: columns as JSON joined by
 * '|', rows joined by ';'.  Steps st to the end; returns the result code
 * of the last step in *rc (DONE when all went well).  malloc'd. */
static char *drain(BlazeDBStmt *st, BlazeDBResult *rcp)
{
    Buf b = {0};
    buf_add(&b, "", 0);
    BlazeDBResult rc;
    int nrow = 0;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW) {
        if (nrow++)
            buf_add(&b, ";", 1);
        for (size_t i = 0; i < blazedb_column_count(st); i++) {
            size_t n = 0;
            const char *j = blazedb_column_json(st, i, &n);
            assert_non_null(j);
            if (i)
                buf_add(&b, "|", 1);
            buf_add(&b, j, n);
        }
    }
    if (rcp)
        *rcp = rc;
    return b.p;
}

/* The rows of a query (see drain); the query must succeed. */
static char *Q(BlazeDB *db, const char *sql)
{
    BlazeDBStmt *st = NULL;
    BlazeDBResult rc = blazedb_prepare(db, sql, (size_t)-1, &st, NULL);
    if (rc != BLAZEDB_OK || !st)
        fail_msg("prepare %s\n  -> %s: %s", sql, blazedb_strerror(rc), blazedb_errmsg(db));
    char *r = drain(st, &rc);
    if (rc != BLAZEDB_DONE)
        fail_msg("step %s\n  -> %s: %s", sql, blazedb_strerror(rc), blazedb_errmsg(db));
    blazedb_finalize(st);
    return r;
}

#define ASSERT_ROWS(db, sql, want)                                                        \
    do {                                                                                  \
        char *got_ = Q((db), (sql));                                                      \
        if (strcmp(got_, (want)) != 0)                                                    \
            fail_msg("%s\n  got:  %s\n  want: %s", (sql), got_, (want));                  \
        free(got_);                                                                       \
    } while (0)

/* Runs sql (prepare + steps) expecting failure: returns the code, copies
 * the message. */
static BlazeDBResult E(BlazeDB *db, const char *sql, char *msg, size_t cap)
{
    BlazeDBStmt *st = NULL;
    BlazeDBResult rc = blazedb_prepare(db, sql, (size_t)-1, &st, NULL);
    if (rc == BLAZEDB_OK && st) {
        free(drain(st, &rc));
        if (rc == BLAZEDB_DONE)
            rc = BLAZEDB_OK;
    }
    if (msg)
        snprintf(msg, cap, "%s", rc ? blazedb_errmsg(db) : "");
    blazedb_finalize(st);
    return rc;
}

#define ASSERT_ERR(db, sql, code, needle)                                                  \
    do {                                                                                   \
        char m_[512];                                                                      \
        BlazeDBResult r_ = E((db), (sql), m_, sizeof m_);                                  \
        if (r_ != (code) || !strstr(m_, (needle)))                                         \
            fail_msg("%s\n  got %d (%s) '%s'\n  want %d with '%s'", (sql), r_,             \
                     blazedb_strerror(r_), m_, (code), (needle));                          \
    } while (0)

static char *explain(BlazeDB *db, const char *sql, unsigned flags)
{
    char *out = NULL;
    BlazeDBResult rc = blazedb_explain(db, sql, flags, &out);
    if (rc != BLAZEDB_OK || !out)
        fail_msg("explain %s -> %s: %s", sql, blazedb_strerror(rc), blazedb_errmsg(db));
    char *c = strdup(out);
    blazedb_free(out);
    return c;
}

#define ASSERT_PLAN_HAS(db, sql, needle)                                                   \
    do {                                                                                   \
        char *p_ = explain((db), (sql), 0);                                                \
        if (!strstr(p_, (needle)))                                                         \
            fail_msg("plan of %s lacks '%s':\n%s", (sql), (needle), p_);                   \
        free(p_);                                                                          \
    } while (0)

#define ASSERT_PLAN_LACKS(db, sql, needle)                                                 \
    do {                                                                                   \
        char *p_ = explain((db), (sql), 0);                                                \
        if (strstr(p_, (needle)))                                                          \
            fail_msg("plan of %s has '%s':\n%s", (sql), (needle), p_);                     \
        free(p_);                                                                          \
    } while (0)

static int64_t count_of(BlazeDB *db, const char *coll)
{
    uint64_t n = 0;
    assert_int_equal(blazedb_count(db, NULL, coll, &n), BLAZEDB_OK);
    return (int64_t)n;
}

/* A collection "p" of people used by several tests. */
static void people(BlazeDB *db)
{
    X(db, "CREATE COLLECTION p;"
          "INSERT INTO p (id, name, age, city, address.zip, tags) VALUES"
          " ('p1', 'Ann', 31, 'Oslo', '0150', NULL),"
          " ('p2', 'Bob', 25, 'Rome', '00100', NULL),"
          " ('p3', 'Cy', 40, 'Oslo', NULL, NULL),"
          " ('p4', 'Di', NULL, 'Paris', '75001', NULL);"
          "UPDATE p SET tags = NULL");
}

/* ---- statements ------------------------------------------------------------------------------ */

static void test_collections_ddl(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    X(e.db, "CREATE COLLECTION c1");
    ASSERT_ERR(e.db, "CREATE COLLECTION c1", BLAZEDB_EXISTS, "c1");
    X(e.db, "CREATE COLLECTION IF NOT EXISTS c1");
    assert_int_equal(count_of(e.db, "c1"), 0);
    X(e.db, "DROP COLLECTION c1");
    ASSERT_ERR(e.db, "DROP COLLECTION c1", BLAZEDB_NOT_FOUND, "c1");
    X(e.db, "DROP COLLECTION IF EXISTS c1");
    ASSERT_ERR(e.db, "SELECT * FROM c1", BLAZEDB_NOT_FOUND, "no collection 'c1'");
    ASSERT_ERR(e.db, "UPDATE c1 SET a = 1", BLAZEDB_NOT_FOUND, "c1");
    ASSERT_ERR(e.db, "DELETE FROM c1", BLAZEDB_NOT_FOUND, "c1");
    /* INSERT creates the collection */
    X(e.db, "INSERT INTO c2 (id, a) VALUES ('x', 1)");
    assert_int_equal(count_of(e.db, "c2"), 1);
    /* a statement with a collection that is created later is resolved
     * when it runs */
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db, "SELECT count(*) FROM c3", (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    X(e.db, "CREATE COLLECTION c3");
    assert_int_equal(blazedb_step(st), BLAZEDB_ROW);
    assert_int_equal(blazedb_column_int(st, 0), 0);
    blazedb_finalize(st);
    env_free(&e);
}

static void test_insert(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    X(e.db, "CREATE COLLECTION c");
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db,
                                     "INSERT INTO c (id, n, s, d, address.city, address.geo.lat) "
                                     "VALUES ('a', 1, 'x', 1.5, 'Oslo', 59.9), "
                                     "('b', 2, 'y', NULL, 'Rome', 41.9)",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_false(blazedb_stmt_readonly(st));
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_stmt_changes(st), 2);
    blazedb_finalize(st);
    ASSERT_ROWS(e.db, "SELECT id, n, s, d, address.city, address.geo.lat FROM c ORDER BY id",
                "\"a\"|1|\"x\"|1.5|\"Oslo\"|59.9;\"b\"|2|\"y\"|null|\"Rome\"|41.9");
    ASSERT_ROWS(e.db, "SELECT address FROM c WHERE id = 'a'",
                "{\"city\":\"Oslo\",\"geo\":{\"lat\":59.9}}");
    /* a row whose id is taken: the whole statement fails, nothing inserted */
    ASSERT_ERR(e.db, "INSERT INTO c (id, n) VALUES ('c', 3), ('a', 4)", BLAZEDB_EXISTS, "");
    assert_int_equal(count_of(e.db, "c"), 2);
    /* JSON documents: literal text, several, and a bound parameter */
    X(e.db, "INSERT INTO c JSON '{\"id\":\"j1\",\"n\":10,\"tags\":[\"x\",\"y\"]}', "
            "'{\"id\":\"j2\",\"n\":11}'");
    assert_int_equal(blazedb_prepare(e.db, "INSERT INTO c JSON ?", (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_bind_count(st), 1);
    const char *doc = "{\"id\":\"j3\",\"n\":12,\"o\":{\"k\":[1,2]}}";
    assert_int_equal(blazedb_bind_text(st, 1, doc, strlen(doc)), BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_stmt_changes(st), 1);
    blazedb_finalize(st);
    ASSERT_ROWS(e.db, "SELECT id, n, tags, o FROM c WHERE n >= 10 ORDER BY n",
                "\"j1\"|10|[\"x\",\"y\"]|null;\"j2\"|11|null|null;\"j3\"|12|null|{\"k\":[1,2]}");
    ASSERT_ERR(e.db, "INSERT INTO c JSON '{not json'", BLAZEDB_INVALID_ARGUMENT, "row 1");
    ASSERT_ERR(e.db, "INSERT INTO c JSON '[1]'", BLAZEDB_INVALID_ARGUMENT, "");
    /* INSERT OR REPLACE: upsert by id (the document is replaced) */
    X(e.db, "INSERT OR REPLACE INTO c (id, n) VALUES ('a', 100), ('new', 7)");
    ASSERT_ROWS(e.db, "SELECT id, n, s FROM c WHERE id IN ('a', 'new') ORDER BY id",
                "\"a\"|100|null;\"new\"|7|null");
    /* REPLACE INTO is the same */
    X(e.db, "REPLACE INTO c (id, n) VALUES ('new', 8)");
    ASSERT_ROWS(e.db, "SELECT n FROM c WHERE id = 'new'", "8");
    /* without an id a UUIDv7 is generated */
    X(e.db, "INSERT INTO c (n) VALUES (50)");
    ASSERT_ROWS(e.db, "SELECT length(id), typeof(id) FROM c WHERE n = 50", "36|\"text\"");
    /* VALUES cannot read fields */
    ASSERT_ERR(e.db, "INSERT INTO c (id, n) VALUES ('z', n)", BLAZEDB_SQL_ERROR, "");
    env_free(&e);
}

static void test_update_delete(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    people(e.db);
    BlazeDBStmt *st = NULL;
    /* several fields; every SET reads the old document (a swap) */
    assert_int_equal(blazedb_prepare(e.db,
                                     "UPDATE p SET name = city, city = name, age = age + 1, "
                                     "address.zip = 'Z' || coalesce(address.zip, '?') "
                                     "WHERE age > 30",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_stmt_changes(st), 2);
    blazedb_finalize(st);
    ASSERT_ROWS(e.db, "SELECT id, name, city, age, address.zip FROM p ORDER BY id",
                "\"p1\"|\"Oslo\"|\"Ann\"|32|\"Z0150\";"
                "\"p2\"|\"Bob\"|\"Rome\"|25|\"00100\";"
                "\"p3\"|\"Oslo\"|\"Cy\"|41|\"Z?\";"
                "\"p4\"|\"Di\"|\"Paris\"|null|\"75001\"");
    /* a new nested path inside an object that does not exist yet */
    X(e.db, "UPDATE p SET meta.visits.count = 1 WHERE id = 'p2'");
    ASSERT_ROWS(e.db, "SELECT meta FROM p WHERE id = 'p2'", "{\"visits\":{\"count\":1}}");
    /* no match: DONE with 0 changes */
    assert_int_equal(blazedb_prepare(e.db, "UPDATE p SET age = 0 WHERE id = 'none'", (size_t)-1,
                                     &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_stmt_changes(st), 0);
    blazedb_finalize(st);
    /* the id cannot change */
    ASSERT_ERR(e.db, "UPDATE p SET id = 'q'", BLAZEDB_SQL_ERROR, "id");
    /* DELETE with WHERE */
    assert_int_equal(blazedb_prepare(e.db, "DELETE FROM p WHERE city = 'Rome' OR age IS NULL",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_stmt_changes(st), 2);
    blazedb_finalize(st);
    ASSERT_ROWS(e.db, "SELECT id FROM p ORDER BY id", "\"p1\";\"p3\"");
    assert_int_equal(blazedb_prepare(e.db, "DELETE FROM p", (size_t)-1, &st, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_stmt_changes(st), 2);
    blazedb_finalize(st);
    assert_int_equal(count_of(e.db, "p"), 0);
    env_free(&e);
}

static void test_indexes_ddl(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    people(e.db);
    X(e.db, "INSERT OR REPLACE INTO p JSON "
            "'{\"id\":\"p1\",\"name\":\"Ann\",\"age\":31,\"city\":\"Oslo\","
            "\"address\":{\"zip\":\"0150\"},\"tags\":[\"red\",\"blue\"]}',"
            "'{\"id\":\"p2\",\"name\":\"Bob\",\"age\":25,\"city\":\"Rome\","
            "\"address\":{\"zip\":\"00100\"},\"tags\":[\"blue\"]}'");
    X(e.db, "CREATE INDEX p_city_age ON p (city, age DESC)");
    X(e.db, "CREATE UNIQUE INDEX p_name ON p (name)");
    X(e.db, "CREATE INDEX p_zip ON p (address.zip)");
    X(e.db, "CREATE INDEX p_tags ON p (tags[])");
    X(e.db, "CREATE INDEX p_adults ON p (age) WHERE age >= 30");
    ASSERT_ERR(e.db, "CREATE INDEX p_zip ON p (age)", BLAZEDB_EXISTS, "p_zip");
    X(e.db, "CREATE INDEX IF NOT EXISTS p_zip ON p (age)");
    ASSERT_ERR(e.db, "CREATE INDEX q_x ON nope (a)", BLAZEDB_NOT_FOUND, "nope");
    /* a unique index over duplicates fails and names them */
    ASSERT_ERR(e.db, "CREATE UNIQUE INDEX p_city_u ON p (city)", BLAZEDB_CONSTRAINT, "p");
    char *json = NULL;
    assert_int_equal(blazedb_index_list(e.db, NULL, "p", &json), BLAZEDB_OK);
    assert_non_null(strstr(json, "\"p_city_age\""));
    assert_non_null(strstr(json, "\"p_tags\""));
    assert_non_null(strstr(json, "\"each\":true"));
    assert_non_null(strstr(json, "\"descending\":true"));
    assert_non_null(strstr(json, "age >= 30"));
    assert_null(strstr(json, "p_city_u"));
    blazedb_free(json);

    /* each index is used and gives the right rows */
    ASSERT_PLAN_HAS(e.db, "SELECT id FROM p WHERE tags CONTAINS 'blue'", "USING INDEX p_tags");
    ASSERT_ROWS(e.db, "SELECT id FROM p WHERE tags CONTAINS 'blue' ORDER BY id",
                "\"p1\";\"p2\"");
    ASSERT_ROWS(e.db, "SELECT id FROM p WHERE tags CONTAINS 'red'", "\"p1\"");
    ASSERT_PLAN_HAS(e.db, "SELECT id FROM p WHERE address.zip = '00100'", "USING INDEX p_zip");
    ASSERT_ROWS(e.db, "SELECT id FROM p WHERE address.zip = '00100'", "\"p2\"");
    ASSERT_PLAN_HAS(e.db, "SELECT id FROM p WHERE city = 'Oslo' AND age < 35",
                    "USING INDEX p_city_age");
    ASSERT_ROWS(e.db, "SELECT id FROM p WHERE city = 'Oslo' AND age < 35", "\"p1\"");
    /* the partial index serves a query whose WHERE implies its predicate */
    ASSERT_PLAN_HAS(e.db, "SELECT id FROM p INDEXED BY p_adults WHERE age >= 30 AND age < 50",
                    "USING INDEX p_adults");
    ASSERT_ROWS(e.db, "SELECT id FROM p INDEXED BY p_adults WHERE age >= 30 AND age < 50 "
                      "ORDER BY id",
                "\"p1\";\"p3\"");
    /* unique index: a second 'Ann' fails */
    ASSERT_ERR(e.db, "INSERT INTO p (id, name) VALUES ('p9', 'Ann')", BLAZEDB_CONSTRAINT, "p1");
    assert_int_equal(count_of(e.db, "p"), 4);
    X(e.db, "DROP INDEX p_name");
    ASSERT_ERR(e.db, "DROP INDEX p_name", BLAZEDB_NOT_FOUND, "p_name");
    X(e.db, "INSERT INTO p (id, name) VALUES ('p9', 'Ann')");
    X(e.db, "DROP INDEX p_tags");
    ASSERT_PLAN_LACKS(e.db, "SELECT id FROM p WHERE tags CONTAINS 'blue'", "INDEX");
    ASSERT_ROWS(e.db, "SELECT id FROM p WHERE tags CONTAINS 'blue' ORDER BY id",
                "\"p1\";\"p2\"");
    env_free(&e);
}

static void test_transactions_sql(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    X(e.db, "CREATE COLLECTION t; CREATE UNIQUE INDEX t_k ON t (k)");
    /* ROLLBACK discards, COMMIT keeps */
    X(e.db, "BEGIN; INSERT INTO t (id, k) VALUES ('a', 1); ROLLBACK");
    assert_int_equal(count_of(e.db, "t"), 0);
    X(e.db, "BEGIN; INSERT INTO t (id, k) VALUES ('a', 1); COMMIT");
    assert_int_equal(count_of(e.db, "t"), 1);
    /* inside BEGIN, reads see the transaction's writes */
    X(e.db, "BEGIN; INSERT INTO t (id, k) VALUES ('b', 2)");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM t", "2");
    /* a unique violation fails that statement only, names the id, and the
     * transaction goes on */
    char msg[512];
    assert_int_equal(E(e.db, "INSERT INTO t (id, k) VALUES ('c', 3), ('d', 1)", msg, sizeof msg),
                     BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(msg, "'a'") ? msg : strstr(msg, "a"));
    assert_non_null(strstr(msg, "t_k"));
    assert_int_equal(E(e.db, "UPDATE t SET k = 2 WHERE id = 'a'", msg, sizeof msg),
                     BLAZEDB_CONSTRAINT);
    assert_non_null(strstr(msg, "b"));
    X(e.db, "INSERT INTO t (id, k) VALUES ('e', 5)");
    ASSERT_ROWS(e.db, "SELECT id, k FROM t ORDER BY id", "\"a\"|1;\"b\"|2;\"e\"|5");
    X(e.db, "COMMIT");
    ASSERT_ROWS(e.db, "SELECT id, k FROM t ORDER BY id", "\"a\"|1;\"b\"|2;\"e\"|5");
    /* misuse of the transaction statements */
    ASSERT_ERR(e.db, "COMMIT", BLAZEDB_MISUSE, "");
    ASSERT_ERR(e.db, "ROLLBACK", BLAZEDB_MISUSE, "");
    X(e.db, "BEGIN");
    ASSERT_ERR(e.db, "BEGIN", BLAZEDB_MISUSE, "");
    X(e.db, "ROLLBACK");
    /* savepoints through SQL */
    X(e.db, "BEGIN; INSERT INTO t (id, k) VALUES ('f', 6); SAVEPOINT s1;"
            "INSERT INTO t (id, k) VALUES ('g', 7); SAVEPOINT s2;"
            "DELETE FROM t WHERE id = 'a'");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM t", "4");
    X(e.db, "ROLLBACK TO s2");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM t", "5");
    X(e.db, "ROLLBACK TO s1");
    ASSERT_ROWS(e.db, "SELECT id FROM t WHERE k >= 6", "\"f\"");
    X(e.db, "INSERT INTO t (id, k) VALUES ('h', 8); RELEASE s1; COMMIT");
    ASSERT_ROWS(e.db, "SELECT id FROM t WHERE k >= 6 ORDER BY id", "\"f\";\"h\"");
    ASSERT_ERR(e.db, "RELEASE nosuch", BLAZEDB_NOT_FOUND, "nosuch");
    /* a SAVEPOINT outside BEGIN starts a transaction; RELEASE commits it */
    X(e.db, "SAVEPOINT outer1; INSERT INTO t (id, k) VALUES ('i', 9); RELEASE outer1");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM t WHERE id = 'i'", "1");
    env_free(&e);
}

/* ---- prepared statements ---------------------------------------------------------------------- */

static void test_prepared_params(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    people(e.db);
    BlazeDBStmt *st = NULL;
    const char *tail = NULL;
    const char *two = "SELECT name FROM p WHERE age > ? AND city = ? ORDER BY name; SELECT 2";
    assert_int_equal(blazedb_prepare(e.db, two, (size_t)-1, &st, &tail), BLAZEDB_OK);
    assert_non_null(tail);
    while (*tail == ' ')
        tail++;
    assert_string_equal(tail, "SELECT 2");
    assert_true(blazedb_stmt_readonly(st));
    assert_int_equal(blazedb_bind_count(st), 2);
    assert_int_equal(blazedb_bind_int(st, 1, 20), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_text(st, 2, "Oslo", 4), BLAZEDB_OK);
    BlazeDBResult rc;
    char *r = drain(st, &rc);
    assert_int_equal(rc, BLAZEDB_DONE);
    assert_string_equal(r, "\"Ann\";\"Cy\"");
    free(r);
    /* reuse with other bindings after reset */
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_int(st, 1, 35), BLAZEDB_OK);
    r = drain(st, &rc);
    assert_string_equal(r, "\"Cy\"");
    free(r);
    /* bindings are kept across reset; clear_bindings makes them NULL */
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    r = drain(st, &rc);
    assert_string_equal(r, "\"Cy\"");
    free(r);
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    assert_int_equal(blazedb_clear_bindings(st), BLAZEDB_OK);
    r = drain(st, &rc);
    assert_string_equal(r, "");
    free(r);
    /* out of range */
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    assert_int_not_equal(blazedb_bind_int(st, 0, 1), BLAZEDB_OK);
    assert_int_not_equal(blazedb_bind_int(st, 3, 1), BLAZEDB_OK);
    assert_int_not_equal(blazedb_bind_text(st, -1, "x", 1), BLAZEDB_OK);
    blazedb_finalize(st);
    /* no statement in the text */
    st = (BlazeDBStmt *)1;
    assert_int_equal(blazedb_prepare(e.db, "  ;; -- nothing\n", (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_null(st);

    /* ?NNN and named parameters; a name used twice is one parameter */
    assert_int_equal(blazedb_prepare(e.db,
                                     "SELECT ?2, ?1, :n, @n2, $n3, :n FROM p WHERE id = 'p1'",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    int in = blazedb_bind_index(st, ":n"), in2 = blazedb_bind_index(st, "@n2"),
        in3 = blazedb_bind_index(st, "$n3");
    assert_int_equal(in, 3);
    assert_int_equal(in2, 4);
    assert_int_equal(in3, 5);
    assert_int_equal(blazedb_bind_index(st, ":nope"), 0);
    assert_int_equal(blazedb_bind_count(st), 5);
    assert_int_equal(blazedb_bind_int(st, 1, 11), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_double(st, 2, 2.5), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_text(st, in, "n", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_bool(st, in2, 1), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_json(st, in3, "[1,{\"a\":2}]", 11), BLAZEDB_OK);
    r = drain(st, &rc);
    assert_int_equal(rc, BLAZEDB_DONE);
    assert_string_equal(r, "2.5|11|\"n\"|true|[1,{\"a\":2}]|\"n\"");
    free(r);
    /* binding while the statement runs is MISUSE */
    assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_ROW);
    assert_int_equal(blazedb_bind_int(st, 1, 1), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    /* stepping a finished statement again says DONE */
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    blazedb_finalize(st);

    /* a prepared point query reused many times */
    assert_int_equal(blazedb_prepare(e.db, "SELECT age FROM p WHERE id = :id", (size_t)-1, &st,
                                     NULL),
                     BLAZEDB_OK);
    static const char *const ids[] = {"p1", "p2", "p3", "p4", "zz"};
    static const char *const ages[] = {"31", "25", "40", "null", ""};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++) {
            assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
            assert_int_equal(blazedb_bind_text(st, 1, ids[i], strlen(ids[i])), BLAZEDB_OK);
            r = drain(st, &rc);
            assert_int_equal(rc, BLAZEDB_DONE);
            assert_string_equal(r, ages[i]);
            free(r);
        }
    blazedb_finalize(st);
    blazedb_finalize(NULL);
    env_free(&e);
}

static void test_columns_and_row_doc(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    assert_int_equal(blazedb_collection_create(e.db, NULL, "v", &co), BLAZEDB_OK);
    X(e.db, "INSERT INTO v JSON '{\"id\":\"a\",\"n\":null,\"b\":true,\"i\":-7,\"d\":2.5,"
            "\"s\":\"h\\u00e9\",\"x\":{\"$bytes\":\"AQID\"},\"t\":{\"$date\":\"2024-05-01T10:00:00.000Z\"},"
            "\"arr\":[1,\"two\"],\"obj\":{\"k\":1}}'");
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db,
                                     "SELECT n, b, i, d, s, x, t, arr, obj, missing, i * 2 AS dbl "
                                     "FROM v",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_ROW);
    assert_int_equal(blazedb_column_count(st), 11);
    assert_string_equal(blazedb_column_name(st, 0), "n");
    assert_string_equal(blazedb_column_name(st, 10), "dbl");
    assert_null(blazedb_column_name(st, 11));
    assert_int_equal(blazedb_column_type(st, 0), BLAZEDB_TYPE_NULL);
    assert_int_equal(blazedb_column_type(st, 1), BLAZEDB_TYPE_BOOL);
    assert_int_equal(blazedb_column_int(st, 1), 1);
    assert_int_equal(blazedb_column_type(st, 2), BLAZEDB_TYPE_INT);
    assert_int_equal(blazedb_column_int(st, 2), -7);
    assert_true(blazedb_column_double(st, 2) == -7.0);
    assert_int_equal(blazedb_column_type(st, 3), BLAZEDB_TYPE_DOUBLE);
    assert_true(blazedb_column_double(st, 3) == 2.5);
    assert_int_equal(blazedb_column_int(st, 3), 2);
    assert_null(blazedb_column_text(st, 3, NULL));
    assert_int_equal(blazedb_column_type(st, 4), BLAZEDB_TYPE_STRING);
    size_t n = 0;
    assert_string_equal(blazedb_column_text(st, 4, &n), "h\xc3\xa9");
    assert_int_equal(n, 3);
    assert_int_equal(blazedb_column_type(st, 5), BLAZEDB_TYPE_BYTES);
    const unsigned char *by = blazedb_column_bytes(st, 5, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(by, "\x01\x02\x03", 3);
    assert_int_equal(blazedb_column_type(st, 6), BLAZEDB_TYPE_DATE);
    assert_int_equal(blazedb_column_int(st, 6), INT64_C(1714557600000));
    assert_int_equal(blazedb_column_type(st, 7), BLAZEDB_TYPE_ARRAY);
    assert_string_equal(blazedb_column_json(st, 7, NULL), "[1,\"two\"]");
    assert_int_equal(blazedb_column_type(st, 8), BLAZEDB_TYPE_OBJECT);
    assert_string_equal(blazedb_column_json(st, 8, NULL), "{\"k\":1}");
    assert_true(blazedb_column_type(st, 9) == BLAZEDB_TYPE_NULL ||
                blazedb_column_type(st, 9) == BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_column_int(st, 10), -14);
    /* out of range */
    assert_int_equal(blazedb_column_type(st, 99), BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_column_int(st, 99), 0);
    assert_null(blazedb_column_text(st, 99, NULL));
    /* the row as a document: an object of the column names */
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_row_doc(st, &d), BLAZEDB_OK);
    char *js = NULL;
    assert_int_equal(blazedb_doc_to_json(d, 0, &js, NULL), BLAZEDB_OK);
    assert_non_null(strstr(js, "\"i\":-7"));
    assert_non_null(strstr(js, "\"dbl\":-14"));
    assert_non_null(strstr(js, "\"arr\":[1,\"two\"]"));
    blazedb_free(js);
    blazedb_doc_free(d);
    assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    assert_int_equal(blazedb_row_doc(st, &d), BLAZEDB_MISUSE);
    blazedb_finalize(st);
    /* SELECT *: the stored document itself */
    assert_int_equal(blazedb_prepare(e.db, "SELECT * FROM v", (size_t)-1, &st, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_ROW);
    assert_int_equal(blazedb_row_doc(st, &d), BLAZEDB_OK);
    BlazeDBDoc *stored = NULL;
    assert_int_equal(blazedb_get_doc(e.db, NULL, "v", "a", &stored), BLAZEDB_OK);
    char *j1 = NULL, *j2 = NULL;
    assert_int_equal(blazedb_doc_to_json(d, 0, &j1, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_to_json(stored, 0, &j2, NULL), BLAZEDB_OK);
    assert_string_equal(j1, j2);
    blazedb_free(j1);
    blazedb_free(j2);
    blazedb_doc_free(d);
    blazedb_doc_free(stored);
    blazedb_finalize(st);
    env_free(&e);
}

static void test_stmt_set_txn(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    people(e.db);
    BlazeDBTxn *txn = NULL;
    assert_int_equal(blazedb_txn_begin(e.db, 0, &txn), BLAZEDB_OK);
    BlazeDBStmt *ins = NULL, *sel = NULL;
    assert_int_equal(blazedb_prepare(e.db, "INSERT INTO p (id, name) VALUES (?, ?)", (size_t)-1,
                                     &ins, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_prepare(e.db, "SELECT count(*) FROM p", (size_t)-1, &sel, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_stmt_set_txn(ins, txn), BLAZEDB_OK);
    assert_int_equal(blazedb_stmt_set_txn(sel, txn), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_text(ins, 1, "p5", 2), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_text(ins, 2, "Eve", 3), BLAZEDB_OK);
    assert_int_equal(blazedb_step(ins), BLAZEDB_DONE);
    /* the transaction sees its write, others do not */
    assert_int_equal(blazedb_step(sel), BLAZEDB_ROW);
    assert_int_equal(blazedb_column_int(sel, 0), 5);
    assert_int_equal(blazedb_reset(sel), BLAZEDB_OK);
    ASSERT_ROWS(e.db, "SELECT count(*) FROM p", "4");
    /* set_txn only between runs */
    assert_int_equal(blazedb_step(sel), BLAZEDB_ROW);
    assert_int_equal(blazedb_stmt_set_txn(sel, NULL), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_reset(sel), BLAZEDB_OK);
    blazedb_txn_abort(txn);
    /* back to autocommit after the abort */
    assert_int_equal(blazedb_stmt_set_txn(sel, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_step(sel), BLAZEDB_ROW);
    assert_int_equal(blazedb_column_int(sel, 0), 4);
    blazedb_finalize(sel);
    /* and with a commit */
    assert_int_equal(blazedb_txn_begin(e.db, 0, &txn), BLAZEDB_OK);
    assert_int_equal(blazedb_reset(ins), BLAZEDB_OK);
    assert_int_equal(blazedb_stmt_set_txn(ins, txn), BLAZEDB_OK);
    assert_int_equal(blazedb_step(ins), BLAZEDB_DONE);
    assert_int_equal(blazedb_txn_commit(txn), BLAZEDB_OK);
    ASSERT_ROWS(e.db, "SELECT name FROM p WHERE id = 'p5'", "\"Eve\"");
    /* a read transaction: writes are refused */
    assert_int_equal(blazedb_txn_begin(e.db, BLAZEDB_TXN_READONLY, &txn), BLAZEDB_OK);
    assert_int_equal(blazedb_reset(ins), BLAZEDB_OK);
    assert_int_equal(blazedb_stmt_set_txn(ins, txn), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_text(ins, 1, "p6", 2), BLAZEDB_OK);
    assert_int_equal(blazedb_step(ins), BLAZEDB_READONLY);
    blazedb_txn_abort(txn);
    blazedb_finalize(ins);
    env_free(&e);
}

/* ---- the planner ------------------------------------------------------------------------------- */

/* A collection of n documents: k = i % 100, g = i % 7, name = 'n<i>',
 * ref = 'd<i/2>' (ids of d), and d with n/2 documents. */
static void big(BlazeDB *db, int n)
{
    BlazeDBTxn *txn = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &txn), BLAZEDB_OK);
    BlazeDBStmt *st = NULL, *st2 = NULL;
    assert_int_equal(blazedb_prepare(db, "INSERT INTO b (id, k, g, name, ref, v) "
                                         "VALUES (?, ?, ?, ?, ?, ?)",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_prepare(db, "INSERT INTO d (id, k, w) VALUES (?, ?, ?)", (size_t)-1,
                                     &st2, NULL),
                     BLAZEDB_OK);
    for (int i = 0; i < n; i++) {
        char id[32], name[32], ref[32];
        snprintf(id, sizeof id, "b%05d", i);
        snprintf(name, sizeof name, "n%d", i);
        snprintf(ref, sizeof ref, "d%05d", i / 2);
        assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
        assert_int_equal(blazedb_stmt_set_txn(st, txn), BLAZEDB_OK);
        blazedb_bind_text(st, 1, id, strlen(id));
        blazedb_bind_int(st, 2, i % 100);
        blazedb_bind_int(st, 3, i % 7);
        blazedb_bind_text(st, 4, name, strlen(name));
        blazedb_bind_text(st, 5, ref, strlen(ref));
        blazedb_bind_int(st, 6, i);
        assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
        if (i % 2 == 0) {
            snprintf(id, sizeof id, "d%05d", i / 2);
            assert_int_equal(blazedb_reset(st2), BLAZEDB_OK);
            assert_int_equal(blazedb_stmt_set_txn(st2, txn), BLAZEDB_OK);
            blazedb_bind_text(st2, 1, id, strlen(id));
            blazedb_bind_int(st2, 2, i % 100);
            blazedb_bind_int(st2, 3, i);
            assert_int_equal(blazedb_step(st2), BLAZEDB_DONE);
        }
    }
    blazedb_finalize(st);
    blazedb_finalize(st2);
    assert_int_equal(blazedb_txn_commit(txn), BLAZEDB_OK);
}

/* "actual_rows" of the first node named `node` in an EXPLAIN ANALYZE
 * JSON text; -1 when absent. */
static long actual_rows(const char *json, const char *node)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"node\":\"%s\"", node);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    const char *a = strstr(p, "\"actual_rows\":");
    if (!a)
        return -1;
    return strtol(a + 14, NULL, 10);
}

static void test_planner_choices(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    big(e.db, 2000);
    X(e.db, "CREATE INDEX b_k ON b (k); CREATE INDEX b_name ON b (name);"
            "CREATE INDEX b_g_v ON b (g, v DESC); CREATE INDEX d_k ON d (k)");
    /* equality on an indexed field: IndexScan with that index */
    const char *q = "SELECT id FROM b WHERE k = 42";
    ASSERT_PLAN_HAS(e.db, q, "IndexScan b USING INDEX b_k");
    char *js = explain(e.db, q, BLAZEDB_EXPLAIN_JSON);
    assert_non_null(strstr(js, "\"node\":\"IndexScan\""));
    assert_non_null(strstr(js, "\"index\":\"b_k\""));
    assert_non_null(strstr(js, "\"index_only\":false"));
    assert_non_null(strstr(js, "\"est_rows\":"));
    assert_null(strstr(js, "\"actual_rows\""));
    free(js);
    /* count(*) with an indexed predicate: IndexCount, index only */
    q = "SELECT count(*) FROM b WHERE k = 42";
    js = explain(e.db, q, BLAZEDB_EXPLAIN_JSON);
    assert_non_null(strstr(js, "\"node\":\"IndexCount\""));
    assert_non_null(strstr(js, "\"index_only\":true"));
    free(js);
    ASSERT_ROWS(e.db, q, "20");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM b WHERE k BETWEEN 10 AND 19", "200");
    /* count(*) without WHERE: from the counters */
    q = "SELECT count(*) FROM b";
    ASSERT_PLAN_HAS(e.db, q, "from its stored counters");
    js = explain(e.db, q, BLAZEDB_EXPLAIN_JSON);
    assert_non_null(strstr(js, "\"node\":\"CountFromCounters\""));
    free(js);
    ASSERT_ROWS(e.db, q, "2000");
    /* ORDER BY an indexed field with LIMIT: the index gives the order
     * (ascending: at the end of this test) */
    q = "SELECT name FROM b ORDER BY name DESC LIMIT 2";
    ASSERT_PLAN_HAS(e.db, q, "USING INDEX b_name");
    ASSERT_PLAN_LACKS(e.db, q, "Sort");
    ASSERT_ROWS(e.db, q, "\"n999\";\"n998\"");
    /* an equality prefix and the DESC column of a compound index */
    q = "SELECT v FROM b WHERE g = 3 ORDER BY v DESC LIMIT 2";
    ASSERT_PLAN_HAS(e.db, q, "USING INDEX b_g_v");
    ASSERT_PLAN_LACKS(e.db, q, "Sort");
    ASSERT_ROWS(e.db, q, "1998;1991");
    /* ORDER BY an unindexed field with LIMIT: a top-K sort */
    q = "SELECT v FROM b ORDER BY ref DESC, v LIMIT 2";
    ASSERT_PLAN_HAS(e.db, q, "TopK");
    ASSERT_ROWS(e.db, q, "1998;1999");
    /* OR of two indexed equalities: IndexUnion */
    q = "SELECT count(*) FROM b WHERE k = 1 OR name = 'n5'";
    ASSERT_PLAN_HAS(e.db, q, "IndexUnion");
    ASSERT_ROWS(e.db, q, "21");
    q = "SELECT count(*) FROM b WHERE k = 1 OR name = 'n1'"; /* n1 has k = 1: no double count */
    ASSERT_ROWS(e.db, q, "20");
    /* joins: on an id or an indexed field a nested loop with a lookup or
     * an index scan inside; otherwise a hash join */
    q = "SELECT count(*) FROM b x JOIN d y ON y.id = x.ref WHERE x.k = 7";
    ASSERT_PLAN_HAS(e.db, q, "NestedLoopJoin");
    ASSERT_PLAN_HAS(e.db, q, "Lookup d by id");
    ASSERT_ROWS(e.db, q, "20");
    q = "SELECT count(*) FROM b x JOIN d y ON y.k = x.k WHERE x.name = 'n8'";
    ASSERT_PLAN_HAS(e.db, q, "NestedLoopJoin");
    ASSERT_PLAN_HAS(e.db, q, "IndexScan d USING INDEX d_k");
    ASSERT_ROWS(e.db, q, "20"); /* d has k = 8 for i = 8, 108, ..., 1908 */
    q = "SELECT count(*) FROM b x JOIN d y ON y.w = x.v";
    ASSERT_PLAN_HAS(e.db, q, "HashJoin");
    ASSERT_ROWS(e.db, q, "1000");
    q = "SELECT count(*) FROM b x LEFT JOIN d y ON y.w = x.v + 1";
    ASSERT_PLAN_HAS(e.db, q, "HashJoin");
    ASSERT_ROWS(e.db, q, "2000");
    /* hints */
    q = "SELECT count(*) FROM b NOT INDEXED WHERE k = 42";
    ASSERT_PLAN_LACKS(e.db, q, "INDEX");
    ASSERT_PLAN_HAS(e.db, q, "Scan b");
    ASSERT_ROWS(e.db, q, "20");
    q = "SELECT count(*) FROM b INDEXED BY b_name WHERE k = 42 AND name >= 'n'";
    ASSERT_PLAN_HAS(e.db, q, "USING INDEX b_name");
    ASSERT_ROWS(e.db, q, "20");
    /* a point query by id */
    ASSERT_PLAN_HAS(e.db, "SELECT v FROM b WHERE id = 'b00042'", "Lookup b by id");
    ASSERT_ROWS(e.db, "SELECT v FROM b WHERE id = 'b00042'", "42");

    /* EXPLAIN ANALYZE: actual rows */
    js = explain(e.db, "SELECT id FROM b WHERE k = 42",
                 BLAZEDB_EXPLAIN_JSON | BLAZEDB_EXPLAIN_ANALYZE);
    assert_int_equal(actual_rows(js, "IndexScan"), 20);
    assert_int_equal(actual_rows(js, "Project"), 20);
    free(js);
    js = explain(e.db, "SELECT id FROM b WHERE g = 2 AND v < 100",
                 BLAZEDB_EXPLAIN_JSON | BLAZEDB_EXPLAIN_ANALYZE);
    assert_int_equal(actual_rows(js, "Project"), 14);
    free(js);
    js = explain(e.db, "SELECT g, count(*) FROM b NOT INDEXED GROUP BY g",
                 BLAZEDB_EXPLAIN_JSON | BLAZEDB_EXPLAIN_ANALYZE);
    assert_int_equal(actual_rows(js, "Scan"), 2000);
    assert_int_equal(actual_rows(js, "Aggregate"), 7);
    free(js);
    char *txt = explain(e.db, "SELECT id FROM b WHERE k = 42", BLAZEDB_EXPLAIN_ANALYZE);
    assert_non_null(strstr(txt, "actual rows 20"));
    free(txt);
    /* EXPLAIN as a statement gives the plan as rows */
    char *rows = Q(e.db, "EXPLAIN SELECT id FROM b WHERE k = 42");
    assert_non_null(strstr(rows, "IndexScan"));
    free(rows);
    /* EXPLAIN ANALYZE of a write runs it */
    txt = explain(e.db, "DELETE FROM d WHERE k = 0", BLAZEDB_EXPLAIN_ANALYZE);
    free(txt);
    ASSERT_ROWS(e.db, "SELECT count(*) FROM d WHERE k = 0", "0");
    /* ascending scans of a whole index for ORDER BY ... LIMIT */
    q = "SELECT name FROM b ORDER BY name LIMIT 3";
    ASSERT_PLAN_HAS(e.db, q, "USING INDEX b_name");
    ASSERT_PLAN_LACKS(e.db, q, "Sort");
    ASSERT_ROWS(e.db, q, "\"n0\";\"n1\";\"n10\"");
    q = "SELECT v FROM b WHERE g = 3 ORDER BY v LIMIT 2";
    ASSERT_PLAN_LACKS(e.db, q, "Sort");
    ASSERT_ROWS(e.db, q, "3;10");
    env_free(&e);
}

/* ---- index maintenance ------------------------------------------------------------------------- */

static void check_indexed_equals_scan(BlazeDB *db, TuRng *r, uint64_t seed)
{
    static const char *const preds[] = {"k = %d",          "k >= %d AND k < %d + 5",
                                        "g = %d %% 7",     "g = %d %% 7 AND v > %d * 10",
                                        "name = 'n%d'",    "name > 'n%d'",
                                        "k IN (%d, 3, 77)", "tags CONTAINS 't%d'"};
    for (size_t i = 0; i < sizeof preds / sizeof preds[0]; i++) {
        int a = (int)tu_rng_below(r, 100);
        char w[128], q1[256], q2[256];
        snprintf(w, sizeof w, preds[i], a, a);
        snprintf(q1, sizeof q1, "SELECT id, k, g, v, name FROM b WHERE %s ORDER BY id", w);
        snprintf(q2, sizeof q2,
                 "SELECT id, k, g, v, name FROM b NOT INDEXED WHERE %s ORDER BY id", w);
        char *x = Q(db, q1), *y = Q(db, q2);
        if (strcmp(x, y) != 0)
            fail_msg("seed %" PRIu64 ": indexed and scanned results differ for %s\n  indexed: "
                     "%.300s\n  scan:    %.300s",
                     seed, w, x, y);
        free(x);
        free(y);
        snprintf(q1, sizeof q1, "SELECT count(*) FROM b WHERE %s", w);
        snprintf(q2, sizeof q2, "SELECT count(*) FROM b NOT INDEXED WHERE %s", w);
        x = Q(db, q1);
        y = Q(db, q2);
        if (strcmp(x, y) != 0)
            fail_msg("seed %" PRIu64 ": counts differ for %s: %s vs %s", seed, w, x, y);
        free(x);
        free(y);
    }
}

static void test_index_maintenance(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_sql_index_maintenance");
    TuRng r;
    tu_rng_seed(&r, seed);
    Env e;
    env_init(&e);
    big(e.db, 300);
    /* tags: an array per g, set through a bound JSON parameter */
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db, "UPDATE b SET tags = ? WHERE g = ?", (size_t)-1, &st,
                                     NULL),
                     BLAZEDB_OK);
    for (int g = 0; g < 7; g++) {
        char js[64];
        snprintf(js, sizeof js, "[\"t%d\",\"t%d\"]", g, g + 10);
        assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_json(st, 1, js, strlen(js)), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_int(st, 2, g), BLAZEDB_OK);
        assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
    }
    blazedb_finalize(st);
    X(e.db, "CREATE INDEX b_k ON b (k); CREATE INDEX b_g_v ON b (g, v DESC);"
            "CREATE UNIQUE INDEX b_name ON b (name); CREATE INDEX b_tags ON b (tags[]);"
            "CREATE INDEX b_part ON b (v) WHERE k < 50");
    check_indexed_equals_scan(e.db, &r, seed);
    for (int round = 0; round < 30; round++) {
        int begin = (int)tu_rng_below(&r, 3); /* 0 autocommit, 1 commit, 2 rollback */
        if (begin)
            X(e.db, "BEGIN");
        for (int op = 0; op < 5; op++) {
            char sql[512];
            int a = (int)tu_rng_below(&r, 100), b = (int)tu_rng_below(&r, 1000);
            switch (tu_rng_below(&r, 5)) {
            case 0:
                snprintf(sql, sizeof sql,
                         "INSERT INTO b (id, k, g, v, name) VALUES ('x%d_%d', %d, %d, %d, "
                         "'m%d_%d')",
                         round, op, a, b % 7, b, round, op);
                break;
            case 1:
                snprintf(sql, sizeof sql, "UPDATE b SET k = k + 1, v = v - 3 WHERE g = %d", a % 7);
                break;
            case 2:
                snprintf(sql, sizeof sql, "UPDATE b SET name = name || 'u' WHERE k = %d", a);
                break;
            case 3:
                snprintf(sql, sizeof sql, "DELETE FROM b WHERE k = %d OR v = %d", a, b);
                break;
            default:
                snprintf(sql, sizeof sql,
                         "INSERT OR REPLACE INTO b JSON '{\"id\":\"b%05d\",\"k\":%d,\"g\":%d,"
                         "\"v\":%d,\"name\":\"r%d_%d\",\"tags\":[\"t%d\"]}'",
                         b % 300, a, b % 7, b, round, op, a % 10);
                break;
            }
            X(e.db, sql);
        }
        if (begin) {
            check_indexed_equals_scan(e.db, &r, seed); /* inside the transaction */
            X(e.db, begin == 1 ? "COMMIT" : "ROLLBACK");
        }
        check_indexed_equals_scan(e.db, &r, seed);
    }
    env_free(&e);
}

/* ---- bad input --------------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    people(e.db);
    char msg[512];
    /* syntax: SQL_ERROR naming the offset and what was expected */
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db, "SELECT name FROM p WHERE", (size_t)-1, &st, NULL),
                     BLAZEDB_SQL_ERROR);
    assert_null(st);
    assert_non_null(strstr(blazedb_errmsg(e.db), "offset 24"));
    assert_non_null(strstr(blazedb_errmsg(e.db), "expected"));
    ASSERT_ERR(e.db, "SELEC 1", BLAZEDB_SQL_ERROR, "offset 0");
    ASSERT_ERR(e.db, "SELECT 1 +", BLAZEDB_SQL_ERROR, "offset");
    ASSERT_ERR(e.db, "SELECT 'abc", BLAZEDB_SQL_ERROR, "");
    ASSERT_ERR(e.db, "SELECT name FROM p WHERE age >> 2", BLAZEDB_SQL_ERROR, "offset");
    /* names */
    ASSERT_ERR(e.db, "SELECT * FROM nosuch", BLAZEDB_NOT_FOUND, "no collection 'nosuch'");
    /* in one collection a dotted name is a nested path (x.name: field
     * name of object x); in a join its first part must be an alias */
    ASSERT_ROWS(e.db, "SELECT x.name FROM p y WHERE id = 'p1'", "null");
    ASSERT_ERR(e.db, "SELECT z.name FROM p x JOIN p y ON x.id = y.id", BLAZEDB_SQL_ERROR, "");
    ASSERT_ERR(e.db, "SELECT name FROM p x JOIN p y ON x.id = y.id", BLAZEDB_SQL_ERROR,
               "ambiguous");
    /* grouping */
    ASSERT_ERR(e.db, "SELECT name, count(*) FROM p GROUP BY city", BLAZEDB_SQL_ERROR,
               "must appear in GROUP BY");
    ASSERT_ERR(e.db, "SELECT name FROM p WHERE count(*) > 1", BLAZEDB_SQL_ERROR,
               "not allowed in WHERE");
    ASSERT_ERR(e.db, "SELECT max(count(*)) FROM p", BLAZEDB_SQL_ERROR, "nested");
    ASSERT_ERR(e.db, "SELECT * FROM p GROUP BY city", BLAZEDB_SQL_ERROR, "");
    /* functions */
    ASSERT_ERR(e.db, "SELECT nosuch(name) FROM p", BLAZEDB_SQL_ERROR, "unknown function");
    ASSERT_ERR(e.db, "SELECT lower(name, 1) FROM p", BLAZEDB_SQL_ERROR,
               "wrong number of arguments");
    ASSERT_ERR(e.db, "SELECT substr()", BLAZEDB_SQL_ERROR, "wrong number of arguments");
    ASSERT_ERR(e.db, "SELECT count(name, age) FROM p", BLAZEDB_SQL_ERROR, "");
    /* evaluation: type errors, division by zero, LIKE escapes */
    ASSERT_ERR(e.db, "SELECT name + age FROM p", BLAZEDB_INVALID_ARGUMENT, "cannot apply +");
    ASSERT_ERR(e.db, "SELECT -name FROM p", BLAZEDB_INVALID_ARGUMENT, "cannot apply");
    ASSERT_ERR(e.db, "SELECT age / 0 FROM p", BLAZEDB_INVALID_ARGUMENT, "division by zero");
    ASSERT_ERR(e.db, "SELECT age % (age - age) FROM p WHERE age > 0", BLAZEDB_INVALID_ARGUMENT,
               "modulo by zero");
    ASSERT_ERR(e.db, "SELECT sum(name) FROM p", BLAZEDB_INVALID_ARGUMENT, "sum");
    ASSERT_ERR(e.db, "SELECT name LIKE 'a!' ESCAPE '!' FROM p", BLAZEDB_INVALID_ARGUMENT,
               "ESCAPE");
    ASSERT_ERR(e.db, "SELECT name LIKE 'a' ESCAPE 'ab' FROM p", BLAZEDB_INVALID_ARGUMENT,
               "single character");
    /* LIMIT */
    ASSERT_ERR(e.db, "SELECT name FROM p LIMIT age", BLAZEDB_SQL_ERROR, "LIMIT");
    ASSERT_ERR(e.db, "SELECT name FROM p ORDER BY 9", BLAZEDB_SQL_ERROR, "ORDER BY");
    ASSERT_ERR(e.db, "SELECT * FROM p INDEXED BY nope", BLAZEDB_SQL_ERROR, "nope");
    /* a failing UPDATE changes nothing (the error comes midway) */
    ASSERT_ERR(e.db, "UPDATE p SET age = 100 / (age - 25) WHERE age IS NOT NULL",
               BLAZEDB_INVALID_ARGUMENT, "division by zero");
    ASSERT_ROWS(e.db, "SELECT id, age FROM p ORDER BY id",
                "\"p1\"|31;\"p2\"|25;\"p3\"|40;\"p4\"|null");
    ASSERT_ERR(e.db, "DELETE FROM p WHERE 1 / (age - 40) > 0", BLAZEDB_INVALID_ARGUMENT,
               "division by zero");
    assert_int_equal(count_of(e.db, "p"), 4);
    /* nesting: 10,000 parentheses fail cleanly */
    size_t n = 10000;
    char *deep = malloc(2 * n + 16);
    assert_non_null(deep);
    strcpy(deep, "SELECT ");
    size_t k = 7;
    for (size_t i = 0; i < n; i++)
        deep[k++] = '(';
    deep[k++] = '1';
    for (size_t i = 0; i < n; i++)
        deep[k++] = ')';
    deep[k] = 0;
    assert_int_equal(E(e.db, deep, msg, sizeof msg), BLAZEDB_SQL_ERROR);
    assert_non_null(strstr(msg, "nested too deeply"));
    /* and so does a long chain (a tree 10,000 high) */
    k = 7;
    for (size_t i = 0; i < n / 2; i++) {
        deep[k++] = '1';
        deep[k++] = '+';
    }
    deep[k++] = '1';
    deep[k] = 0;
    assert_int_equal(E(e.db, deep, msg, sizeof msg), BLAZEDB_SQL_ERROR);
    free(deep);
    /* 190 levels are fine */
    Buf b = {0};
    buf_add(&b, "SELECT ", 7);
    for (int i = 0; i < 190; i++)
        buf_add(&b, "(", 1);
    buf_add(&b, "7", 1);
    for (int i = 0; i < 190; i++)
        buf_add(&b, ")", 1);
    ASSERT_ROWS(e.db, b.p, "7");
    free(b.p);
    /* an IN list over the limit (100,000 elements) */
    memset(&b, 0, sizeof b);
    buf_add(&b, "SELECT 1 IN (0", 14);
    for (int i = 1; i <= 100000; i++)
        buf_add(&b, ",1", 2);
    buf_add(&b, ")", 1);
    assert_int_equal(E(e.db, b.p, msg, sizeof msg), BLAZEDB_SQL_ERROR);
    assert_non_null(strstr(msg, "IN"));
    free(b.p);
    /* misuse */
    assert_int_equal(blazedb_step(NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_reset(NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_prepare(NULL, "SELECT 1", (size_t)-1, &st, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_prepare(e.db, NULL, 0, &st, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_prepare(e.db, "SELECT ?", (size_t)-1, &st, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_bind_int(st, 2, 1), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_row_doc(st, NULL), BLAZEDB_INVALID_ARGUMENT);
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_row_doc(st, &d), BLAZEDB_MISUSE); /* no row yet */
    assert_null(d);
    assert_int_equal(blazedb_column_count(st), 0);
    blazedb_finalize(st);
    /* closing rolls back an open BEGIN and ends a statement mid-run; a
     * statement that outlives its handle answers MISUSE */
    X(e.db, "BEGIN; INSERT INTO p (id) VALUES ('uncommitted')");
    BlazeDBStmt *mid = NULL;
    assert_int_equal(blazedb_prepare(e.db, "SELECT id FROM p", (size_t)-1, &mid, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(mid), BLAZEDB_ROW);
    assert_int_equal(blazedb_prepare(e.db, "SELECT 1", (size_t)-1, &st, NULL), BLAZEDB_OK);
    blazedb_close(e.db);
    assert_int_equal(blazedb_step(st), BLAZEDB_MISUSE);
    assert_int_equal(blazedb_step(mid), BLAZEDB_MISUSE);
    blazedb_finalize(st);
    blazedb_finalize(mid);
    BlazeDBOptions o;
    tu_fast_opts(&o);
    assert_int_equal(blazedb_open_ex(e.path, TU_PASSWORD, &o, &e.db), BLAZEDB_OK);
    assert_int_equal(count_of(e.db, "p"), 4);
    env_free(&e);
}

/* ---- interrupt --------------------------------------------------------------------------------- */

typedef struct {
    BlazeDB *db;
    volatile int stop;
} Intr;

static void *interrupter(void *arg)
{
    Intr *in = arg;
    while (!__atomic_load_n(&in->stop, __ATOMIC_ACQUIRE)) {
        blazedb_interrupt(in->db);
        tu_sleep_us(2000);
    }
    return NULL;
}

static void test_interrupt(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    big(e.db, 1500);
    /* 2.25 million pairs, most of them rows: long enough that the
     * interrupts (repeated until the statement ends) arrive while it runs */
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db, "SELECT x.v, y.v FROM b x JOIN b y ON x.v <> y.v",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_step(st), BLAZEDB_ROW);
    Intr in = {e.db, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, interrupter, &in), 0);
    BlazeDBResult rc;
    uint64_t rows = 0;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW)
        rows++;
    __atomic_store_n(&in.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_int_equal(rc, BLAZEDB_CANCELLED);
    assert_true(rows < 1500u * 1499u);
    blazedb_finalize(st);
    /* the handle works afterwards; a new statement is not cancelled by the
     * interrupts that came before it */
    ASSERT_ROWS(e.db, "SELECT count(*) FROM b", "1500");
    env_free(&e);
}

/* ---- edge cases found by the SQLite oracle (tests/test_sql_oracle.c) --------------------------- */

/* Range bounds on a DESC index, in both directions. */
static void test_desc_index_ranges(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    X(e.db, "CREATE COLLECTION t; CREATE INDEX t_a ON t (a DESC);"
            "INSERT INTO t (id, a) VALUES ('1', 1), ('2', 2), ('3', 3), ('4', NULL)");
    ASSERT_PLAN_HAS(e.db, "SELECT id FROM t WHERE a > 1", "USING INDEX t_a");
    ASSERT_ROWS(e.db, "SELECT id FROM t WHERE a < 3 ORDER BY id", "\"1\";\"2\"");
    ASSERT_ROWS(e.db, "SELECT id FROM t WHERE a > 1 ORDER BY id", "\"2\";\"3\"");
    ASSERT_ROWS(e.db, "SELECT id FROM t WHERE a >= 2 ORDER BY id", "\"2\";\"3\"");
    ASSERT_ROWS(e.db, "SELECT id FROM t WHERE a > 1 AND a < 3", "\"2\"");
    env_free(&e);
}

/* AND of conditions on two single-field indexes: the ids of both index
 * scans are intersected before any document is read. */
static void test_index_intersection(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(e.db, "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    X(e.db, "BEGIN");
    for (int i = 0; i < 5000; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%05d", i);
        assert_int_equal(blazedb_bind_text(st, 1, id, (size_t)-1), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_int(st, 2, i % 10), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_int(st, 3, (i / 10) % 10), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_int(st, 4, i % 7), BLAZEDB_OK);
        assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
        assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    }
    X(e.db, "COMMIT");
    blazedb_finalize(st);
    X(e.db, "CREATE INDEX ia ON t (a); CREATE INDEX ib ON t (b)");
    const char *q = "SELECT id FROM t WHERE a = 3 AND b = 4 AND c = 1 ORDER BY id";
    ASSERT_PLAN_HAS(e.db, q, "IndexIntersect t");
    ASSERT_PLAN_HAS(e.db, q, "USING INDEX ia (a = 3)");
    ASSERT_PLAN_HAS(e.db, q, "USING INDEX ib (b = 4)");
    char *a = Q(e.db, q);
    char *b = Q(e.db, "SELECT id FROM t NOT INDEXED WHERE a = 3 AND b = 4 AND c = 1 ORDER BY id");
    assert_string_equal(a, b);
    assert_true(strlen(a) > 20);
    free(a);
    free(b);
    /* after writes that move documents in and out of both index ranges */
    X(e.db, "UPDATE t SET b = 4 WHERE a = 3 AND c = 2");
    X(e.db, "DELETE FROM t WHERE a = 3 AND b = 4 AND id < 'r01000'");
    a = Q(e.db, "SELECT count(*), min(id) FROM t WHERE a = 3 AND b = 4");
    b = Q(e.db, "SELECT count(*), min(id) FROM t NOT INDEXED WHERE a = 3 AND b = 4");
    assert_string_equal(a, b);
    free(a);
    free(b);
    env_free(&e);
}

/* Ids that cannot exist ('' and other types) in lookups by id. */
static void test_lookup_odd_ids(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    big(e.db, 100);
    ASSERT_PLAN_HAS(e.db, "SELECT v FROM b WHERE id = ''", "Lookup b by id");
    ASSERT_ROWS(e.db, "SELECT v FROM b WHERE id = ''", "");
    ASSERT_ROWS(e.db, "SELECT v FROM b WHERE id = 5", "");
    ASSERT_ROWS(e.db, "SELECT v FROM b WHERE id IN ('', 'b00003', 7)", "3");
    ASSERT_ROWS(e.db, "DELETE FROM b WHERE id = ''", "");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM b", "100");
    env_free(&e);
}

/* GROUP BY expressions over same-named fields of two tables. */
static void test_group_by_in_joins(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    X(e.db, "INSERT INTO t (id, v) VALUES ('1', 1), ('2', 1);"
            "INSERT INTO u (id, v, k) VALUES ('a', 20, '1'), ('b', 30, '2')");
    ASSERT_ROWS(e.db,
                "SELECT x.v + 0, y.v + 0, count(*) FROM t x JOIN u y ON x.id = y.k "
                "GROUP BY x.v + 0, y.v + 0 ORDER BY 2",
                "1|20|1;1|30|1");
    ASSERT_ROWS(e.db,
                "SELECT lower(y.id), count(*) FROM t x JOIN u y ON x.id = y.k "
                "GROUP BY lower(x.id), lower(y.id) ORDER BY 1",
                "\"a\"|1;\"b\"|1");
    /* y.v + 0 is not a GROUP BY expression here */
    ASSERT_ERR(e.db,
               "SELECT y.v + 0 FROM t x JOIN u y ON x.id = y.k GROUP BY x.v + 0",
               BLAZEDB_SQL_ERROR, "GROUP BY");
    env_free(&e);
}

/* ANALYZE, of one collection and of all (kept last: it crashed once). */
static void test_analyze(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    people(e.db);
    X(e.db, "CREATE INDEX p_city ON p (city)");
    X(e.db, "ANALYZE p");
    X(e.db, "ANALYZE");
    ASSERT_ERR(e.db, "ANALYZE nosuch", BLAZEDB_NOT_FOUND, "nosuch");
    ASSERT_ROWS(e.db, "SELECT count(*) FROM p WHERE city = 'Oslo'", "2");
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collections_ddl),
        cmocka_unit_test(test_insert),
        cmocka_unit_test(test_update_delete),
        cmocka_unit_test(test_indexes_ddl),
        cmocka_unit_test(test_transactions_sql),
        cmocka_unit_test(test_prepared_params),
        cmocka_unit_test(test_columns_and_row_doc),
        cmocka_unit_test(test_stmt_set_txn),
        cmocka_unit_test(test_planner_choices),
        cmocka_unit_test(test_index_intersection),
        cmocka_unit_test(test_index_maintenance),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_interrupt),
        cmocka_unit_test(test_desc_index_ranges),
        cmocka_unit_test(test_lookup_odd_ids),
        cmocka_unit_test(test_group_by_in_joins),
        cmocka_unit_test(test_analyze),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
