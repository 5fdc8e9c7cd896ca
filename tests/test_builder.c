/*
 * test_builder.c — the C query builder (BlazeDBQuery) on the SQL planner:
 * OR groups, offset, projections, aggregates, GROUP BY and HAVING give the
 * rows the equivalent SQL gives; the builder's plan is the SQL text's plan
 * (same EXPLAIN), indexes included; blazedb_query_matches agrees with the
 * planner on every document (the observers' filter and the query path are
 * one semantics); observers and live queries refuse what they cannot keep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "support/testutil.h"

typedef TuDb Env;

static void env_init(Env *e) { assert_int_equal(tu_db_create(e, "builder", NULL), BLAZEDB_OK); }

static void env_free(Env *e)
{
    char msg[512];
    if (tu_db_destroy(e, msg, sizeof msg))
        fail_msg("db_check: %s", msg);
}

static void exec_ok(BlazeDB *db, const char *sql)
{
    BlazeDBResult rc = blazedb_exec(db, sql, NULL, NULL);
    if (rc)
        fail_msg("%s: %s", sql, blazedb_errmsg(db));
}

/* 200 people: city cycles through 4 values, age 20..69, some without age. */
static void load(BlazeDB *db)
{
    static const char *cities[] = {"Oslo", "Rome", "Lima", "Pune"};
    BlazeDBStmt *st = NULL;
    assert_int_equal(blazedb_prepare(db,
                                     "INSERT INTO people (id, name, city, age) VALUES (?, ?, ?, ?)",
                                     (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    exec_ok(db, "BEGIN");
    for (int i = 0; i < 200; i++) {
        char id[16], name[16];
        snprintf(id, sizeof id, "p%03d", i);
        snprintf(name, sizeof name, "n%d", (i * 7) % 200);
        assert_int_equal(blazedb_bind_text(st, 1, id, (size_t)-1), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_text(st, 2, name, (size_t)-1), BLAZEDB_OK);
        assert_int_equal(blazedb_bind_text(st, 3, cities[i % 4], (size_t)-1), BLAZEDB_OK);
        if (i % 10 == 9)
            assert_int_equal(blazedb_bind_null(st, 4), BLAZEDB_OK);
        else
            assert_int_equal(blazedb_bind_int(st, 4, 20 + i % 50), BLAZEDB_OK);
        assert_int_equal(blazedb_step(st), BLAZEDB_DONE);
        assert_int_equal(blazedb_reset(st), BLAZEDB_OK);
    }
    exec_ok(db, "COMMIT");
    blazedb_finalize(st);
}

/* Rows of a SQL statement as one JSON line per row. */
static char *sql_rows(BlazeDB *db, const char *sql)
{
    BlazeDBStmt *st = NULL;
    if (blazedb_prepare(db, sql, (size_t)-1, &st, NULL) || !st)
        fail_msg("%s: %s", sql, blazedb_errmsg(db));
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(cap, 1);
    assert_non_null(out);
    BlazeDBResult rc;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW) {
        BlazeDBDoc *d = NULL;
        assert_int_equal(blazedb_row_doc(st, &d), BLAZEDB_OK);
        char *j = NULL;
        size_t jl = 0;
        assert_int_equal(blazedb_doc_to_json(d, 0, &j, &jl), BLAZEDB_OK);
        assert_true(len + jl + 2 < cap);
        memcpy(out + len, j, jl);
        len += jl;
        out[len++] = '\n';
        blazedb_free(j);
        blazedb_doc_free(d);
    }
    if (rc != BLAZEDB_DONE)
        fail_msg("%s: %s", sql, blazedb_errmsg(db));
    blazedb_finalize(st);
    return out;
}

/* Rows of a builder query (blazedb_query_run) in the same form. */
static char *query_rows(BlazeDB *db, const BlazeDBQuery *q)
{
    BlazeDBDoc **docs = NULL;
    size_t n = 0;
    if (blazedb_query_run(db, NULL, q, &docs, &n))
        fail_msg("query_run: %s", blazedb_errmsg(db));
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(cap, 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        char *j = NULL;
        size_t jl = 0;
        assert_int_equal(blazedb_doc_to_json(docs[i], 0, &j, &jl), BLAZEDB_OK);
        assert_true(len + jl + 2 < cap);
        memcpy(out + len, j, jl);
        len += jl;
        out[len++] = '\n';
        blazedb_free(j);
    }
    blazedb_query_free_docs(docs, n);
    return out;
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_or_groups_offset(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    load(e.db);
    BlazeDBQuery *q = NULL;
    assert_int_equal(blazedb_query_new("people", &q), BLAZEDB_OK);
    /* (city = Oslo AND age >= 60) OR (city = Rome AND age < 25) */
    assert_int_equal(blazedb_query_where(q, "city", BLAZEDB_OP_EQ, "\"Oslo\""), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "age", BLAZEDB_OP_GE, "60"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_or(q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "city", BLAZEDB_OP_EQ, "\"Rome\""), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "age", BLAZEDB_OP_LT, "25"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_order_by(q, "age", 1), BLAZEDB_OK);
    char *a = query_rows(e.db, q);
    char *b = sql_rows(e.db, "SELECT * FROM people WHERE (city = 'Oslo' AND age >= 60) OR "
                             "(city = 'Rome' AND age < 25) ORDER BY age DESC, id");
    assert_string_equal(a, b);
    assert_true(lines(a) > 5);
    /* matches() agrees with the planner on every document */
    BlazeDBDocCursor *cur = NULL;
    assert_int_equal(blazedb_doc_cursor_open(e.db, NULL, "people", NULL, &cur), BLAZEDB_OK);
    BlazeDBDoc *d;
    size_t matched = 0;
    while (blazedb_doc_cursor_next(cur, &d) == BLAZEDB_OK) {
        matched += blazedb_query_matches(q, d) ? 1 : 0;
        blazedb_doc_free(d);
    }
    blazedb_doc_cursor_close(cur);
    assert_int_equal(matched, lines(a));
    /* offset and limit */
    assert_int_equal(blazedb_query_offset(q, 2), BLAZEDB_OK);
    assert_int_equal(blazedb_query_limit(q, 3), BLAZEDB_OK);
    char *c = query_rows(e.db, q);
    assert_int_equal(lines(c), 3);
    /* rows 3..5 of the full result */
    const char *p = a;
    for (int i = 0; i < 2; i++)
        p = strchr(p, '\n') + 1;
    assert_memory_equal(c, p, strlen(c));
    free(a);
    free(b);
    free(c);
    /* or() needs a condition before it */
    BlazeDBQuery *bad = NULL;
    assert_int_equal(blazedb_query_new("people", &bad), BLAZEDB_OK);
    assert_int_equal(blazedb_query_or(bad), BLAZEDB_INVALID_ARGUMENT);
    blazedb_query_free(bad);
    blazedb_query_free(q);
    env_free(&e);
}

static void test_aggregates_group_having(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    load(e.db);
    BlazeDBQuery *q = NULL;
    assert_int_equal(blazedb_query_new("people", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_select(q, "city", NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_query_aggregate(q, BLAZEDB_AGG_COUNT, NULL, "n"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_aggregate(q, BLAZEDB_AGG_AVG, "age", "avg_age"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_aggregate(q, BLAZEDB_AGG_MAX, "age", "oldest"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_aggregate(q, BLAZEDB_AGG_COUNT_DISTINCT, "name", "names"),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_query_group_by(q, "city"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_having(q, "oldest", BLAZEDB_OP_GT, "60"), BLAZEDB_OK);
    assert_int_equal(blazedb_query_order_by(q, "city", 0), BLAZEDB_OK);
    char *a = query_rows(e.db, q);
    char *b = sql_rows(e.db, "SELECT city, count(*) AS n, avg(age) AS avg_age, max(age) AS "
                             "oldest, count(DISTINCT name) AS names FROM people GROUP BY city "
                             "HAVING max(age) > 60 ORDER BY city");
    assert_string_equal(a, b);
    /* every city has someone of 69 except those whose ages stop lower */
    assert_true(lines(a) >= 1 && lines(a) <= 4);
    assert_non_null(strstr(a, "\"n\":50"));
    /* having needs a named column */
    assert_int_equal(blazedb_query_having(q, "nope", BLAZEDB_OP_EQ, "1"),
                     BLAZEDB_INVALID_ARGUMENT);
    /* such a query cannot be a live query or an observer's filter */
    BlazeDBLiveQuery *lq = NULL;
    assert_int_equal(blazedb_live_query_open(e.db, q, NULL, NULL, &lq),
                     BLAZEDB_INVALID_ARGUMENT);
    free(a);
    free(b);
    blazedb_query_free(q);
    env_free(&e);
}

static void test_same_plan_as_sql(void **state)
{
    (void)state;
    Env e;
    env_init(&e);
    load(e.db);
    exec_ok(e.db, "CREATE INDEX by_city_age ON people (city, age)");
    BlazeDBQuery *q = NULL;
    assert_int_equal(blazedb_query_new("people", &q), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "city", BLAZEDB_OP_EQ, "\"Lima\""), BLAZEDB_OK);
    assert_int_equal(blazedb_query_where(q, "age", BLAZEDB_OP_GT, "30"), BLAZEDB_OK);
    char *sql = NULL;
    assert_int_equal(blazedb_query_sql(q, &sql), BLAZEDB_OK);
    assert_non_null(strstr(sql, "FROM \"people\" WHERE"));
    char *p1 = NULL, *p2 = NULL;
    assert_int_equal(blazedb_query_explain(e.db, q, 0, &p1), BLAZEDB_OK);
    BlazeDBStmt *st = NULL;
    /* the same text with the values bound gives the same plan */
    assert_int_equal(blazedb_query_prepare(e.db, q, &st), BLAZEDB_OK);
    assert_int_equal(blazedb_stmt_explain(st, 0, &p2), BLAZEDB_OK);
    assert_non_null(strstr(p1, "IndexScan people USING INDEX by_city_age"));
    assert_non_null(strstr(p2, "IndexScan people USING INDEX by_city_age"));
    /* EXPLAIN ANALYZE through the builder counts the real rows */
    char *p3 = NULL;
    assert_int_equal(blazedb_query_explain(e.db, q, BLAZEDB_EXPLAIN_ANALYZE | BLAZEDB_EXPLAIN_JSON,
                                           &p3),
                     BLAZEDB_OK);
    assert_non_null(strstr(p3, "\"index\":\"by_city_age\""));
    assert_non_null(strstr(p3, "\"actual_rows\":"));
    /* and the result equals the scan's */
    char *a = query_rows(e.db, q);
    char *b = sql_rows(e.db, "SELECT * FROM people NOT INDEXED WHERE city = 'Lima' AND age > 30 "
                             "ORDER BY id");
    assert_string_equal(a, b);
    assert_true(lines(a) > 10);
    blazedb_free(sql);
    blazedb_free(p1);
    blazedb_free(p2);
    blazedb_free(p3);
    blazedb_finalize(st);
    free(a);
    free(b);
    blazedb_query_free(q);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_or_groups_offset),
        cmocka_unit_test(test_aggregates_group_having),
        cmocka_unit_test(test_same_plan_as_sql),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
