/*
 * test_sql_eval.c — SQL expression evaluation (src/query/sqleval.c,
 * sqlvalue.c): values (copy, order, hash, conversions), operators with
 * SQLite's semantics and our deliberate differences, LIKE/IN/BETWEEN/CASE/
 * CONTAINS, every scalar function, the aggregates, and randomized
 * differential checks against the system's libsqlite3 (loaded with dlopen,
 * skipped when absent): random expressions over flat literals, REAL to
 * text conversion, round(), and aggregates over random columns.
 * The seed is printed; set BLAZEDB_TEST_SEED to replay one run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../src/doc/docbin.h"
#include "../src/doc/json.h"
#include "../src/doc/value.h"
#include "../src/query/filter.h"
#include "../src/query/sql.h"
#include "support/testutil.h"

/* ---- helpers ------------------------------------------------------------------ */

/* Columns for tests: "a" .. "z" map to cols[0..25]; missing = NULL. */
static SqlValue g_cols[26];

static int col_cb(SqlEvalCtx *cx, const SqlExpr *col, SqlValue *out)
{
    (void)cx;
    const char *p = col->path;
    if (strlen(p) == 1 && p[0] >= 'a' && p[0] <= 'z') {
        *out = g_cols[p[0] - 'a'];
        out->owned = 0;
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->type = DOC_NULL;
    return 0;
}

static void ctx_init(SqlEvalCtx *cx, const SqlValue *params, size_t np)
{
    memset(cx, 0, sizeof *cx);
    cx->column = col_cb;
    cx->params = params;
    cx->nparams = np;
    cx->now_ms = 1700000000123LL;
}

/* Canonical text of a value: "NULL", "i:5", "r:1.5", "s:abc", "b:true", ... */
static void canon(const SqlValue *v, char *out, size_t n)
{
    switch (v->type) {
    case DOC_INT: snprintf(out, n, "i:%lld", (long long)v->i); break;
    case DOC_DOUBLE: snprintf(out, n, "r:%.17g", v->d); break;
    case DOC_STRING: snprintf(out, n, "s:%.*s", (int)v->len, v->s); break;
    case DOC_BOOL: snprintf(out, n, "b:%s", v->i ? "true" : "false"); break;
    case DOC_DATE: snprintf(out, n, "d:%lld", (long long)v->i); break;
    case DOC_BYTES: {
        size_t k = (size_t)snprintf(out, n, "x:");
        for (size_t i = 0; i < v->len && k + 3 < n; i++)
            k += (size_t)snprintf(out + k, n - k, "%02x", (unsigned char)v->s[i]);
        break;
    }
    case DOC_ARRAY:
    case DOC_OBJECT:
    case DOC_VECTOR: {
        char *j = NULL;
        size_t jl;
        char err[DOC_ERRMAX];
        if (doc_bin_to_json((const uint8_t *)v->s, v->len, 0, &j, &jl, err) == BLAZEDB_OK)
            snprintf(out, n, "j:%s", j);
        else
            snprintf(out, n, "j:?");
        free(j);
        break;
    }
    default: snprintf(out, n, "NULL"); break;
    }
}

/* Evaluates text; returns rc, *res = canonical text or "ERR:message". */
static int eval_p(const char *text, const SqlValue *params, size_t np, char *res, size_t n)
{
    SqlExpr *e;
    uint32_t epos;
    char err[SQL_ERRMAX];
    int rc = sql_parse_expr(text, strlen(text), &e, &epos, err, sizeof err);
    if (rc) {
        snprintf(res, n, "PARSE:%s", err);
        return rc;
    }
    SqlEvalCtx cx;
    ctx_init(&cx, params, np);
    SqlValue v;
    rc = sql_eval(e, &cx, &v);
    if (rc)
        snprintf(res, n, "ERR:%s", cx.err);
    else
        canon(&v, res, n);
    sql_value_clear(&v);
    sql_expr_free(e);
    return rc;
}

static char g_res[4096];

static const char *ev(const char *text)
{
    eval_p(text, NULL, 0, g_res, sizeof g_res);
    return g_res;
}

#define EXPECT(expr, want)                                                             \
    do {                                                                               \
        const char *got_ = ev(expr);                                                   \
        if (strcmp(got_, want) != 0)                                                   \
            fail_msg("%s:%d: %s\n   got  %s\n   want %s", __FILE__, __LINE__, expr, got_, \
                     want);                                                            \
    } while (0)

/* An error whose message contains `part`. */
#define EXPECT_ERR(expr, part)                                                         \
    do {                                                                               \
        const char *got_ = ev(expr);                                                   \
        if (strncmp(got_, "ERR:", 4) != 0 || !strstr(got_, part))                      \
            fail_msg("%s:%d: %s\n   got  %s\n   want error with '%s'", __FILE__, __LINE__, \
                     expr, got_, part);                                                \
    } while (0)

static SqlValue jv(const char *json)
{
    DocValue *d;
    char err[DOC_ERRMAX];
    SqlValue v;
    assert_int_equal(doc_from_json(json, strlen(json), &d, err), BLAZEDB_OK);
    assert_int_equal(sql_value_from_doc(d, &v), BLAZEDB_OK);
    doc_free(d);
    return v;
}

/* ---- values ------------------------------------------------------------------- */

static void test_value_order_matches_filter(void **state)
{
    (void)state;
    static const char *vals[] = {
        "null", "false", "true", "-1e300", "-9223372036854775808", "-3", "-2.5", "0", "0.0",
        "1", "1.0", "1.5", "9007199254740993", "9007199254740992.0", "9223372036854775807",
        "9.3e18", "1e300", "{\"$date\":\"2020-01-01T00:00:00Z\"}",
        "{\"$date\":\"2021-01-01T00:00:00Z\"}", "\"\"", "\"a\"", "\"ab\"", "\"b\"",
        "{\"$bytes\":\"AA==\"}", "{\"$bytes\":\"AAE=\"}",
        "{\"$uuid\":\"00000000-0000-0000-0000-000000000001\"}", "[]", "[1]", "[1.0]", "[1,2]",
        "[2]", "[\"a\"]", "[[1],2]", "{}", "{\"a\":1}", "{\"a\":1.0}", "{\"a\":2}", "{\"b\":0}",
        "{\"a\":1,\"b\":2}", "{\"$vector\":[1,2]}", "{\"$vector\":[1,3]}",
        "{\"$vector\":[1]}", "{\"$vector\":[-0.0]}", "{\"$vector\":[0]}"};
    size_t n = sizeof vals / sizeof *vals;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            DocValue *a, *b;
            char err[DOC_ERRMAX];
            assert_int_equal(doc_from_json(vals[i], strlen(vals[i]), &a, err), BLAZEDB_OK);
            assert_int_equal(doc_from_json(vals[j], strlen(vals[j]), &b, err), BLAZEDB_OK);
            SqlValue x, y;
            assert_int_equal(sql_value_from_doc(a, &x), BLAZEDB_OK);
            assert_int_equal(sql_value_from_doc(b, &y), BLAZEDB_OK);
            int c1 = qf_compare(a, b), c2 = sql_value_cmp(&x, &y);
            if ((c1 > 0) - (c1 < 0) != (c2 > 0) - (c2 < 0))
                fail_msg("cmp(%s, %s): qf %d sql %d", vals[i], vals[j], c1, c2);
            if (c2 == 0 && sql_value_hash(&x) != sql_value_hash(&y))
                fail_msg("hash(%s) != hash(%s) though equal", vals[i], vals[j]);
            /* views of the encodings compare the same way */
            uint8_t *ea, *eb;
            size_t la, lb;
            assert_int_equal(docbin_encode(a, &ea, &la, err), BLAZEDB_OK);
            assert_int_equal(docbin_encode(b, &eb, &lb, err), BLAZEDB_OK);
            DocView va, vb;
            assert_int_equal(docbin_lookup_valid(ea, la, "", &va), BLAZEDB_OK);
            assert_int_equal(docbin_lookup_valid(eb, lb, "", &vb), BLAZEDB_OK);
            SqlValue xv, yv;
            sql_value_from_view(&va, &xv);
            sql_value_from_view(&vb, &yv);
            assert_int_equal(sql_value_cmp(&xv, &yv), c2);
            free(ea);
            free(eb);
            sql_value_clear(&x);
            sql_value_clear(&y);
            doc_free(a);
            doc_free(b);
        }
}

static void test_value_copy_convert(void **state)
{
    (void)state;
    const char *docs[] = {"{\"a\":[1,\"x\",{\"b\":null}],\"c\":{\"$vector\":[1.5]}}",
                          "\"text\"", "12", "1.25", "true", "null",
                          "{\"$uuid\":\"12345678-1234-1234-1234-123456789abc\"}",
                          "{\"$bytes\":\"AAEC\"}", "{\"$date\":\"2001-02-03T04:05:06.789Z\"}"};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        DocValue *d, *back;
        char err[DOC_ERRMAX];
        assert_int_equal(doc_from_json(docs[i], strlen(docs[i]), &d, err), BLAZEDB_OK);
        SqlValue v, c;
        assert_int_equal(sql_value_from_doc(d, &v), BLAZEDB_OK);
        assert_int_equal(sql_value_copy(&c, &v), BLAZEDB_OK);
        assert_int_equal(sql_value_cmp(&c, &v), 0);
        sql_value_clear(&v);
        assert_int_equal(sql_value_to_doc(&c, &back), BLAZEDB_OK);
        assert_true(doc_equal(d, back));
        sql_value_clear(&c);
        assert_int_equal(c.type, DOC_NULL);
        doc_free(back);
        doc_free(d);
    }
    /* a NULL view is NULL */
    SqlValue v;
    sql_value_from_view(NULL, &v);
    assert_int_equal(v.type, DOC_NULL);
}

/* ---- operators ---------------------------------------------------------------- */

static void test_arith(void **state)
{
    (void)state;
    EXPECT("1 + 2", "i:3");
    EXPECT("7 / 2", "i:3");
    EXPECT("-7 / 2", "i:-3");
    EXPECT("7 % -3", "i:1");
    EXPECT("-7 % 3", "i:-1");
    EXPECT("7.0 / 2", "r:3.5");
    EXPECT("5.5 % 2", "r:1");
    EXPECT("9223372036854775807 + 1", "r:9.2233720368547758e+18");
    EXPECT("-9223372036854775808 - 1", "r:-9.2233720368547758e+18");
    EXPECT("-9223372036854775808 / -1", "r:9.2233720368547758e+18");
    EXPECT("-9223372036854775808 % -1", "i:0");
    EXPECT("4611686018427387904 * 2", "r:9.2233720368547758e+18");
    EXPECT("-(-9223372036854775808)", "r:9.2233720368547758e+18");
    EXPECT("-9223372036854775808", "i:-9223372036854775808");
    EXPECT("9223372036854775808", "r:9.2233720368547758e+18");
    EXPECT("0x10 + 0xFFFFFFFFFFFFFFFF", "i:15");
    EXPECT("1 + NULL", "NULL");
    EXPECT("+'abc'", "s:abc");
    EXPECT("TRUE + TRUE", "i:2");
    EXPECT("1e308 * 10", "r:inf");
    EXPECT("1e308 * 10 - 1e308 * 10", "NULL");
    EXPECT_ERR("1 / 0", "division by zero");
    EXPECT_ERR("1.5 / 0.0", "division by zero");
    EXPECT_ERR("1 % 0", "modulo by zero");
    EXPECT_ERR("1 % 0.5", "modulo by zero");
    EXPECT_ERR("'a' + 1", "cannot apply + to string and int");
    EXPECT_ERR("1 * X'00'", "cannot apply * to int and bytes");
    EXPECT_ERR("-'x'", "cannot apply unary - to string");
    EXPECT("NULL / 0", "NULL");
}

static void test_concat_text_forms(void **state)
{
    (void)state;
    EXPECT("'a' || 'b'", "s:ab");
    EXPECT("1 || 2", "s:12");
    EXPECT("1.0 || ''", "s:1.0");
    EXPECT("1e20 || ''", "s:1.0e+20");
    EXPECT("0.1 || ''", "s:0.1");
    EXPECT("(1.0/3) || ''", "s:0.333333333333333");
    EXPECT("123456789012345.0 || ''", "s:123456789012345.0");
    EXPECT("1234567890123456.0 || ''", "s:1.23456789012346e+15");
    EXPECT("1e-5 || ''", "s:1.0e-05");
    EXPECT("0.0001 || ''", "s:0.0001");
    EXPECT("-2.5 || ''", "s:-2.5");
    EXPECT("(1e308 * 10) || ''", "s:Inf");
    EXPECT_ERR("1e308 * 10 || ''", "cannot apply * to double and string"); /* || binds tighter */
    EXPECT("'x' || NULL", "NULL");
    EXPECT("TRUE || ''", "s:true");
    EXPECT("X'6869' || '!'", "s:hi!");
}

static void test_logic_compare(void **state)
{
    (void)state;
    EXPECT("NULL AND 0", "i:0");
    EXPECT("NULL AND 1", "NULL");
    EXPECT("NULL OR 1", "i:1");
    EXPECT("NULL OR 0", "NULL");
    EXPECT("NOT NULL", "NULL");
    EXPECT("NOT 0", "i:1");
    EXPECT("NOT 'abc'", "i:1");
    EXPECT("NOT '1abc'", "i:0");
    EXPECT("NOT ' 0.5'", "i:0");
    EXPECT("1 = 1.0", "i:1");
    EXPECT("1 < 'a'", "i:1");
    EXPECT("'a' < X'00'", "i:1");
    EXPECT("'1' = 1", "i:0");
    EXPECT("NULL = NULL", "NULL");
    EXPECT("NULL IS NULL", "i:1");
    EXPECT("1 IS NOT NULL", "i:1");
    EXPECT("1 IS 1.0", "i:1");
    EXPECT("NULL IS 1", "i:0");
    EXPECT("NULL IS NOT 1", "i:1");
    EXPECT("2 ISNULL", "i:0");
    EXPECT("2 NOTNULL", "i:1");
    EXPECT("2 NOT NULL", "i:1");
    EXPECT("TRUE = 1", "i:0");   /* bool orders before numbers */
    EXPECT("TRUE < 0", "i:1");
    EXPECT("TRUE", "b:true");
    EXPECT("9007199254740993 = 9007199254740992.0", "i:0");
    EXPECT("9007199254740993 > 9007199254740992.0", "i:1");
    EXPECT("2 BETWEEN 1 AND 3", "i:1");
    EXPECT("2 NOT BETWEEN 1 AND 3", "i:0");
    EXPECT("2 BETWEEN NULL AND 1", "i:0");
    EXPECT("2 BETWEEN NULL AND 3", "NULL");
    EXPECT("1 IN (1, NULL)", "i:1");
    EXPECT("2 IN (1, NULL)", "NULL");
    EXPECT("2 NOT IN (1, NULL)", "NULL");
    EXPECT("2 NOT IN (1, 3)", "i:1");
    EXPECT("NULL IN ()", "i:0");
    EXPECT("NULL IN (1)", "NULL");
    EXPECT("1.0 IN (2, 1)", "i:1");
    EXPECT("CASE WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END", "s:b");
    EXPECT("CASE WHEN NULL THEN 'a' END", "NULL");
    EXPECT("CASE 2 WHEN 1 THEN 'a' WHEN 2.0 THEN 'b' END", "s:b");
    EXPECT("CASE NULL WHEN NULL THEN 'a' ELSE 'z' END", "s:z");
    EXPECT("0 AND 1/0", "i:0"); /* short circuit */
    EXPECT("1 OR 1/0", "i:1");
}

static void test_like(void **state)
{
    (void)state;
    EXPECT("'abc' LIKE 'a%'", "i:1");
    EXPECT("'abc' LIKE 'A_C'", "i:1");
    EXPECT("'abc' LIKE 'a_'", "i:0");
    EXPECT("'ABC' NOT LIKE 'abc'", "i:0");
    EXPECT("'' LIKE '%'", "i:1");
    EXPECT("'aXbXc' LIKE '%b%c'", "i:1");
    EXPECT("'mississippi' LIKE '%iss%ipp%'", "i:1");
    EXPECT("'mississippi' LIKE '%iss%ipx%'", "i:0");
    EXPECT("'héllo' LIKE 'h_llo'", "i:1");
    EXPECT("'ÉCOLE' LIKE 'école'", "i:0"); /* ASCII-only case folding, like SQLite */
    EXPECT("'10%' LIKE '10!%' ESCAPE '!'", "i:1");
    EXPECT("'100' LIKE '10!%' ESCAPE '!'", "i:0");
    EXPECT("'a_c' LIKE 'a\\_c' ESCAPE '\\'", "i:1");
    EXPECT("'abc' LIKE 'a\\_c' ESCAPE '\\'", "i:0");
    EXPECT("123 LIKE '1%'", "i:1");
    EXPECT("NULL LIKE 'a'", "NULL");
    EXPECT("'a' LIKE NULL", "NULL");
    EXPECT("'a' LIKE 'a' ESCAPE NULL", "NULL");
    EXPECT_ERR("'a' LIKE 'a!' ESCAPE '!'", "ESCAPE");
    EXPECT_ERR("'a' LIKE 'a' ESCAPE 'xy'", "single character");
    EXPECT_ERR("'a' LIKE 'a' ESCAPE ''", "single character");
    /* a long pattern of wildcards stays fast */
    char big[3000];
    size_t k = (size_t)snprintf(big, sizeof big, "'");
    for (int i = 0; i < 600; i++)
        k += (size_t)snprintf(big + k, sizeof big - k, "a");
    k += (size_t)snprintf(big + k, sizeof big - k, "' LIKE '");
    for (int i = 0; i < 300; i++)
        k += (size_t)snprintf(big + k, sizeof big - k, "%%a");
    snprintf(big + k, sizeof big - k, "%%b'");
    EXPECT(big, "i:0");
}

static void test_contains(void **state)
{
    (void)state;
    g_cols[0] = jv("[1, \"x\", [2], null]");
    g_cols[1] = jv("{\"k\": 1}");
    EXPECT("a CONTAINS 1.0", "i:1");
    EXPECT("a CONTAINS 'x'", "i:1");
    EXPECT("a CONTAINS 'y'", "i:0");
    EXPECT("a CONTAINS 2", "i:0");
    EXPECT("a CONTAINS NULL", "NULL");
    EXPECT("b CONTAINS 1", "i:0");
    EXPECT("z CONTAINS 1", "NULL");
    EXPECT("length(a)", "i:4");
    EXPECT("length(b)", "i:1");
    EXPECT("typeof(a) || typeof(b)", "s:arrayobject");
    EXPECT("a || ''", "s:[1,\"x\",[2],null]");
    EXPECT("a = a", "i:1");
    EXPECT("a > 5", "i:1"); /* arrays order after numbers */
    sql_value_clear(&g_cols[0]);
    sql_value_clear(&g_cols[1]);
}

static void test_functions(void **state)
{
    (void)state;
    EXPECT("lower('AbC') || upper('xÿz')", "s:abcXÿZ");
    EXPECT("upper(1.5)", "s:1.5");
    EXPECT("length('héllo')", "i:5");
    EXPECT("length(X'0001')", "i:2");
    EXPECT("length(12.5)", "i:4");
    EXPECT("length(NULL)", "NULL");
    EXPECT("abs(-3)", "i:3");
    EXPECT("abs(-3.5)", "r:3.5");
    EXPECT("abs(NULL)", "NULL");
    EXPECT_ERR("abs(-9223372036854775808)", "integer overflow");
    EXPECT_ERR("abs('x')", "expects a number");
    EXPECT("round(2.5)", "r:3");
    EXPECT("round(-2.5)", "r:-3");
    EXPECT("round(2.675, 2)", "r:2.6800000000000002");
    EXPECT("round(1.005, 2)", "r:1.01");
    EXPECT("round(3)", "r:3");
    EXPECT("round(1234.5678, -1)", "r:1235");
    EXPECT("round(1.5, NULL)", "NULL");
    EXPECT("coalesce(NULL, NULL, 3, 1/0)", "i:3");
    EXPECT("coalesce(NULL, NULL)", "NULL");
    EXPECT("ifnull(NULL, 'x')", "s:x");
    EXPECT("nullif(1, 1.0)", "NULL");
    EXPECT("nullif(1, 2)", "i:1");
    EXPECT("nullif(NULL, 2)", "NULL");
    EXPECT("nullif(2, NULL)", "i:2");
    EXPECT("substr('hello', 2)", "s:ello");
    EXPECT("substr('hello', 2, 3)", "s:ell");
    EXPECT("substr('hello', 0, 2)", "s:h");
    EXPECT("substr('hello', -3)", "s:llo");
    EXPECT("substr('hello', -3, 2)", "s:ll");
    EXPECT("substr('hello', 3, -2)", "s:he");
    EXPECT("substr('hello', -10, 8)", "s:hel");
    EXPECT("substr('héllo', 2, 2)", "s:él");
    EXPECT("substr(X'010203', 2)", "x:0203");
    EXPECT("substr(12345, 2, 2)", "s:23");
    EXPECT("substr('abc', NULL)", "NULL");
    EXPECT("typeof(1) || typeof(1.0) || typeof('') || typeof(X'') || typeof(NULL)",
           "s:integerrealtextblobnull");
    EXPECT("typeof(TRUE) || typeof(now())", "s:booleandate");
    EXPECT("trim('  a b  ') || '|'", "s:a b|");
    EXPECT("ltrim('  a  ') || '|'", "s:a  |");
    EXPECT("rtrim('  a  ') || '|'", "s:  a|");
    EXPECT("trim('xxaxx', 'x')", "s:a");
    EXPECT("trim('éaé', 'é')", "s:a");
    EXPECT("trim(NULL)", "NULL");
    EXPECT("replace('abcabc', 'b', 'XY')", "s:aXYcaXYc");
    EXPECT("replace('aaa', 'aa', 'b')", "s:ba");
    EXPECT("replace(5, '', 'x')", "i:5");
    EXPECT("replace('a', 'a', NULL)", "NULL");
    EXPECT("instr('héllo', 'l')", "i:3");
    EXPECT("instr('abc', 'z')", "i:0");
    EXPECT("instr('abc', '')", "i:1");
    EXPECT("min(3, 1, 2)", "i:1");
    EXPECT("max(3, 'a', 2)", "s:a");
    EXPECT("max(1, NULL, 2)", "NULL");
    EXPECT("min(1, 1.0)", "r:1");
    EXPECT("max(1, 1.0)", "i:1");
    EXPECT("now()", "d:1700000000123");
    EXPECT("epoch_ms(now())", "i:1700000000123");
    EXPECT("datetime(now())", "s:2023-11-14T22:13:20.123Z");
    EXPECT("date(now())", "s:2023-11-14");
    EXPECT("date(0)", "s:1970-01-01");
    EXPECT("year(now()) || '-' || month(now()) || '-' || day(now())", "s:2023-11-14");
    EXPECT("to_date('2020-02-29')", "d:1582934400000");
    EXPECT("epoch_ms(to_date('2020-02-29T12:00:00.5Z'))", "i:1582977600500");
    EXPECT("to_date('2020-02-30')", "NULL");
    EXPECT("to_date('nonsense')", "NULL");
    EXPECT("year(NULL)", "NULL");
    EXPECT_ERR("year(1.5)", "expects a date");
    EXPECT("?1 + 1", "NULL"); /* unbound parameter */
}

static void test_params_columns(void **state)
{
    (void)state;
    SqlValue p[2];
    memset(p, 0, sizeof p);
    p[0].type = DOC_INT;
    p[0].i = 40;
    p[1].type = DOC_STRING;
    p[1].s = "x";
    p[1].len = 1;
    char res[256];
    assert_int_equal(eval_p("(?1 + 2) || :n", p, 2, res, sizeof res), 0);
    assert_string_equal(res, "s:42x");
    g_cols[0].type = DOC_INT;
    g_cols[0].i = 7;
    EXPECT("a * 2 + zz", "NULL");
    EXPECT("a * 2", "i:14");
    g_cols[0].type = DOC_NULL;
}

/* ---- aggregates --------------------------------------------------------------- */

/* Runs the aggregate `agg` (e.g. "sum(a)") over values set into column a. */
static int agg_run(const char *agg, const SqlValue *vals, size_t n, char *res, size_t rn)
{
    SqlExpr *e;
    uint32_t epos;
    char err[SQL_ERRMAX];
    assert_int_equal(sql_parse_expr(agg, strlen(agg), &e, &epos, err, sizeof err), 0);
    assert_int_equal(e->kind, SQL_E_AGG);
    assert_true(sql_has_agg(e));
    SqlAgg *a;
    assert_int_equal(sql_agg_new(e, &a), 0);
    SqlEvalCtx cx;
    ctx_init(&cx, NULL, 0);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        g_cols[0] = vals[i];
        rc = sql_agg_step(a, &cx);
    }
    g_cols[0].type = DOC_NULL;
    if (rc) {
        snprintf(res, rn, "ERR:%.200s", cx.err);
    } else {
        SqlValue v;
        rc = sql_agg_final(a, &v);
        assert_int_equal(rc, 0);
        canon(&v, res, rn);
        sql_value_clear(&v);
        /* an AGG node reads its slot */
        SqlValue slot = {0};
        canon(&slot, err, sizeof err);
    }
    assert_true(sql_agg_mem(a) >= sizeof(void *));
    sql_agg_free(a);
    sql_expr_free(e);
    return rc;
}

static SqlValue vi(int64_t i)
{
    SqlValue v = {0};
    v.type = DOC_INT;
    v.i = i;
    return v;
}
static SqlValue vd(double d)
{
    SqlValue v = {0};
    v.type = DOC_DOUBLE;
    v.d = d;
    return v;
}
static SqlValue vs(const char *s)
{
    SqlValue v = {0};
    v.type = DOC_STRING;
    v.s = s;
    v.len = strlen(s);
    return v;
}
static SqlValue vn(void)
{
    SqlValue v = {0};
    v.type = DOC_NULL;
    return v;
}

#define AGG(expr, vals, want)                                                          \
    do {                                                                               \
        char r_[256];                                                                  \
        agg_run(expr, vals, sizeof vals / sizeof *vals, r_, sizeof r_);                \
        if (strcmp(r_, want))                                                          \
            fail_msg("%s:%d: %s got %s want %s", __FILE__, __LINE__, expr, r_, want);     \
    } while (0)

static void test_aggregates(void **state)
{
    (void)state;
    SqlValue ints[] = {vi(1), vi(2), vn(), vi(2), vi(5)};
    AGG("count(*)", ints, "i:5");
    AGG("count(a)", ints, "i:4");
    AGG("count(DISTINCT a)", ints, "i:3");
    AGG("sum(a)", ints, "i:10");
    AGG("sum(DISTINCT a)", ints, "i:8");
    AGG("total(a)", ints, "r:10");
    AGG("avg(a)", ints, "r:2.5");
    AGG("avg(DISTINCT a)", ints, "r:2.6666666666666665");
    AGG("min(a)", ints, "i:1");
    AGG("max(a)", ints, "i:5");
    SqlValue none[] = {vn(), vn()};
    AGG("count(a)", none, "i:0");
    AGG("sum(a)", none, "NULL");
    AGG("total(a)", none, "r:0");
    AGG("avg(a)", none, "NULL");
    AGG("min(a)", none, "NULL");
    SqlValue mixed[] = {vi(1), vd(1.0), vd(0.5), vs("b"), vs("a")};
    AGG("min(a)", mixed, "r:0.5");
    AGG("max(a)", mixed, "s:b");
    AGG("count(DISTINCT a)", mixed, "i:4");
    SqlValue nums[] = {vi(1), vd(0.5)};
    AGG("sum(a)", nums, "r:1.5");
    AGG("sum(DISTINCT a)", nums, "r:1.5");
    SqlValue over[] = {vi(INT64_MAX), vi(1), vi(-5)};
    char r[256];
    agg_run("sum(a)", over, 3, r, sizeof r);
    assert_string_equal(r, "ERR:integer overflow");
    agg_run("total(a)", over, 3, r, sizeof r);
    assert_string_equal(r, "r:9.2233720368547758e+18");
    SqlValue over2[] = {vd(0.5), vi(INT64_MAX), vi(1)};
    agg_run("sum(a)", over2, 3, r, sizeof r);
    assert_string_equal(r, "r:9.2233720368547758e+18");
    SqlValue strs[] = {vi(1), vs("2")};
    agg_run("sum(a)", strs, 2, r, sizeof r);
    assert_true(strstr(r, "ERR:cannot apply sum() to string") != NULL);
    SqlValue bools[] = {{.type = DOC_BOOL, .i = 1}, {.type = DOC_BOOL, .i = 0},
                        {.type = DOC_BOOL, .i = 1}};
    AGG("sum(a)", bools, "i:2");
    /* many distinct values grow the set */
    SqlValue *many = calloc(5000, sizeof *many);
    for (int i = 0; i < 5000; i++)
        many[i] = (i & 1) ? vd((double)(i % 1000)) : vi(i % 1000);
    agg_run("count(DISTINCT a)", many, 5000, r, sizeof r);
    assert_string_equal(r, "i:1000");
    free(many);
    /* AGG nodes outside grouping are an error; inside they read their slot */
    EXPECT_ERR("sum(1)", "misuse of aggregate");
    SqlExpr *e;
    uint32_t ep;
    char err[SQL_ERRMAX];
    assert_int_equal(sql_parse_expr("1 + max(x)", 10, &e, &ep, err, sizeof err), 0);
    e->b->slot = 1;
    SqlValue aggs[2] = {vn(), vi(41)};
    SqlEvalCtx cx;
    ctx_init(&cx, NULL, 0);
    cx.aggs = aggs;
    SqlValue v;
    assert_int_equal(sql_eval(e, &cx, &v), 0);
    assert_int_equal(v.type, DOC_INT);
    assert_int_equal(v.i, 42);
    sql_expr_free(e);
}

/* ---- differential against libsqlite3 ------------------------------------------ */

static struct {
    void *h;
    __typeof__(sqlite3_open) *open;
    __typeof__(sqlite3_close) *close;
    __typeof__(sqlite3_prepare_v2) *prepare;
    __typeof__(sqlite3_step) *step;
    __typeof__(sqlite3_finalize) *finalize;
    __typeof__(sqlite3_reset) *reset;
    __typeof__(sqlite3_bind_double) *bind_double;
    __typeof__(sqlite3_bind_int64) *bind_int64;
    __typeof__(sqlite3_bind_null) *bind_null;
    __typeof__(sqlite3_column_type) *col_type;
    __typeof__(sqlite3_column_int64) *col_int64;
    __typeof__(sqlite3_column_double) *col_double;
    __typeof__(sqlite3_column_text) *col_text;
    __typeof__(sqlite3_column_bytes) *col_bytes;
    __typeof__(sqlite3_errmsg) *errmsg;
    __typeof__(sqlite3_exec) *exec;
    __typeof__(sqlite3_libversion) *libversion;
    sqlite3 *db;
} L;

static int sqlite_load(void)
{
    if (L.db)
        return 1;
    L.h = dlopen("libsqlite3.so.0", RTLD_NOW);
    if (!L.h)
        return 0;
#define SYM(f, n)                                  \
    do {                                           \
        *(void **)&L.f = dlsym(L.h, n);            \
        if (!L.f)                                  \
            return 0;                              \
    } while (0)
    SYM(open, "sqlite3_open");
    SYM(close, "sqlite3_close");
    SYM(prepare, "sqlite3_prepare_v2");
    SYM(step, "sqlite3_step");
    SYM(finalize, "sqlite3_finalize");
    SYM(reset, "sqlite3_reset");
    SYM(bind_double, "sqlite3_bind_double");
    SYM(bind_int64, "sqlite3_bind_int64");
    SYM(bind_null, "sqlite3_bind_null");
    SYM(col_type, "sqlite3_column_type");
    SYM(col_int64, "sqlite3_column_int64");
    SYM(col_double, "sqlite3_column_double");
    SYM(col_text, "sqlite3_column_text");
    SYM(col_bytes, "sqlite3_column_bytes");
    SYM(errmsg, "sqlite3_errmsg");
    SYM(exec, "sqlite3_exec");
    SYM(libversion, "sqlite3_libversion");
    if (L.open(":memory:", &L.db) != SQLITE_OK)
        return 0;
    fprintf(stderr, "test_sql_eval: differential against SQLite %s\n", L.libversion());
    return 1;
}

static void sqlite_canon(sqlite3_stmt *st, int col, char *out, size_t n)
{
    switch (L.col_type(st, col)) {
    case SQLITE_INTEGER: snprintf(out, n, "i:%lld", (long long)L.col_int64(st, col)); break;
    case SQLITE_FLOAT: snprintf(out, n, "r:%.17g", L.col_double(st, col)); break;
    case SQLITE_TEXT:
        snprintf(out, n, "s:%.*s", L.col_bytes(st, col), (const char *)L.col_text(st, col));
        break;
    case SQLITE_BLOB: snprintf(out, n, "x:?"); break;
    default: snprintf(out, n, "NULL"); break;
    }
}

/* SELECT text with doubles bound as ?1..?n; "ERR:..." on error. */
static void sqlite_eval(const char *text, const double *dp, size_t nd, char *out, size_t n)
{
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT %s", text);
    sqlite3_stmt *st;
    if (L.prepare(L.db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, n, "PARSE:%s", L.errmsg(L.db));
        return;
    }
    for (size_t i = 0; i < nd; i++)
        L.bind_double(st, (int)i + 1, dp[i]);
    int rc = L.step(st);
    if (rc == SQLITE_ROW)
        sqlite_canon(st, 0, out, n);
    else
        snprintf(out, n, "ERR:%s", L.errmsg(L.db));
    L.finalize(st);
}

typedef struct {
    TuRng *r;
    char *b;
    size_t n, cap;
    double d[32];
    size_t nd;
} Gen;

static void g_put(Gen *g, const char *s)
{
    size_t l = strlen(s);
    if (g->n + l + 1 > g->cap)
        return;
    memcpy(g->b + g->n, s, l + 1);
    g->n += l;
}

static void gen_lit(Gen *g)
{
    static const char *ints[] = {"0", "1", "-1", "2", "3", "7", "-7", "10", "100", "255",
                                 "9223372036854775807", "-9223372036854775808",
                                 "4611686018427387904", "3037000500", "-3037000500"};
    static const char *strs[] = {"''", "'a'", "'A'", "'abc'", "'ABC'", "'12'", "' 3'",
                                 "'1.5'", "'-2x'", "'%'", "'_'", "'a%'", "'%b%'", "'x_z'",
                                 "'hello world'", "'0'", "'  pad  '", "'é'", "'aBc%'"};
    static const double dbl[] = {0.0, -0.0, 0.5, -0.5, 1.0, 1.5, 2.5, -2.5, 0.1, 0.2, 0.3,
                                 1e15, 1e16, 1e20, 1e-5, 123.456, 2.675, 1.005,
                                 9.2233720368547758e18, 4503599627370497.0, 1e300, -1e300,
                                 3.14159, 1.0 / 3, 2.0 / 3, 100.0, 0.125};
    uint64_t k = tu_rng_below(g->r, 10);
    char tmp[64];
    if (k < 3) {
        g_put(g, ints[tu_rng_below(g->r, sizeof ints / sizeof *ints)]);
    } else if (k < 4) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)tu_rng_below(g->r, 2000) - 1000);
        g_put(g, tmp);
    } else if (k < 7 && g->nd < 32) {
        double d;
        if (tu_rng_below(g->r, 2))
            d = dbl[tu_rng_below(g->r, sizeof dbl / sizeof *dbl)];
        else
            d = ((double)(int64_t)tu_rng_below(g->r, 2000000) - 1000000) /
                (double)(1 + tu_rng_below(g->r, 1000));
        g->d[g->nd++] = d;
        snprintf(tmp, sizeof tmp, "?%zu", g->nd);
        g_put(g, tmp);
    } else if (k < 9) {
        g_put(g, strs[tu_rng_below(g->r, sizeof strs / sizeof *strs)]);
    } else {
        g_put(g, "NULL");
    }
}

static void gen_expr(Gen *g, int depth)
{
    static const char *binops[] = {" + ", " - ", " * ", " / ", " % ", " || ", " = ", " != ",
                                   " < ", " <= ", " > ", " >= ", " AND ", " OR ", " IS ",
                                   " IS NOT ", " == ", " <> "};
    static const char *f1[] = {"lower", "upper", "length", "abs", "round", "typeof", "trim",
                               "ltrim", "rtrim"};
    if (depth <= 0 || tu_rng_below(g->r, 4) == 0) {
        gen_lit(g);
        return;
    }
    switch (tu_rng_below(g->r, 14)) {
    case 0:
    case 1:
    case 2:
    case 3:
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, binops[tu_rng_below(g->r, sizeof binops / sizeof *binops)]);
        gen_expr(g, depth - 1);
        g_put(g, ")");
        break;
    case 4:
        g_put(g, tu_rng_below(g->r, 2) ? "(NOT " : "(- ");
        gen_expr(g, depth - 1);
        g_put(g, ")");
        break;
    case 5:
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, tu_rng_below(g->r, 2) ? " BETWEEN " : " NOT BETWEEN ");
        gen_expr(g, depth - 1);
        g_put(g, " AND ");
        gen_expr(g, depth - 1);
        g_put(g, ")");
        break;
    case 6: {
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, tu_rng_below(g->r, 2) ? " IN (" : " NOT IN (");
        /* at least one element: SQLite folds "x NOT IN ()" into TRUE, and
         * "y IS TRUE" is then its truth test, not our bool comparison */
        uint64_t n = 1 + tu_rng_below(g->r, 3);
        for (uint64_t i = 0; i < n; i++) {
            if (i)
                g_put(g, ", ");
            gen_expr(g, depth - 1);
        }
        g_put(g, "))");
        break;
    }
    case 7:
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, tu_rng_below(g->r, 2) ? " LIKE " : " NOT LIKE ");
        gen_expr(g, depth - 1);
        if (tu_rng_below(g->r, 4) == 0)
            g_put(g, " ESCAPE 'a'");
        g_put(g, ")");
        break;
    case 8:
        g_put(g, "CASE ");
        if (tu_rng_below(g->r, 2)) {
            gen_expr(g, depth - 1);
            g_put(g, " ");
        }
        for (uint64_t i = 0, n = 1 + tu_rng_below(g->r, 2); i < n; i++) {
            g_put(g, "WHEN ");
            gen_expr(g, depth - 1);
            g_put(g, " THEN ");
            gen_expr(g, depth - 1);
            g_put(g, " ");
        }
        if (tu_rng_below(g->r, 2)) {
            g_put(g, "ELSE ");
            gen_expr(g, depth - 1);
            g_put(g, " ");
        }
        g_put(g, "END");
        break;
    case 9:
        g_put(g, f1[tu_rng_below(g->r, sizeof f1 / sizeof *f1)]);
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, ")");
        break;
    case 10: {
        static const char *f2[] = {"round", "coalesce", "ifnull", "nullif", "substr", "instr",
                                   "min", "max", "trim"};
        g_put(g, f2[tu_rng_below(g->r, sizeof f2 / sizeof *f2)]);
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, ", ");
        gen_expr(g, depth - 1);
        g_put(g, ")");
        break;
    }
    case 11: {
        static const char *f3[] = {"substr", "replace", "coalesce", "min", "max"};
        g_put(g, f3[tu_rng_below(g->r, sizeof f3 / sizeof *f3)]);
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, ", ");
        gen_expr(g, depth - 1);
        g_put(g, ", ");
        gen_expr(g, depth - 1);
        g_put(g, ")");
        break;
    }
    case 12:
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, tu_rng_below(g->r, 2) ? " ISNULL)" : " NOTNULL)");
        break;
    default:
        g_put(g, "(");
        gen_expr(g, depth - 1);
        g_put(g, " || '')");
        break;
    }
}

/* Our deliberate differences: errors where SQLite gives a value. */
static int deliberate_error(const char *msg)
{
    static const char *ok[] = {"division by zero", "modulo by zero", "cannot apply",
                               "expects a number", "integer overflow", "ESCAPE"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strstr(msg, ok[i]))
            return 1;
    return 0;
}

static void test_differential_exprs(void **state)
{
    (void)state;
    if (!sqlite_load()) {
        fprintf(stderr, "test_sql_eval: libsqlite3 not available, differential skipped\n");
        return;
    }
    TuRng r;
    tu_rng_seed(&r, tu_seed("test_sql_eval differential"));
    char buf[4096], ours[4096], theirs[4096];
    int compared = 0, skipped = 0, iters = tu_long_tests() ? 200000 : 20000;
    for (int it = 0; it < iters; it++) {
        Gen g = {&r, buf, 0, sizeof buf, {0}, 0};
        buf[0] = 0;
        gen_expr(&g, 1 + (int)tu_rng_below(&r, 4));
        if (g.n + 1 >= sizeof buf)
            continue;
        SqlValue p[32];
        for (size_t i = 0; i < g.nd; i++) {
            memset(&p[i], 0, sizeof p[i]);
            p[i].type = DOC_DOUBLE;
            p[i].d = g.d[i];
        }
        int rc = eval_p(buf, p, g.nd, ours, sizeof ours);
        sqlite_eval(buf, g.d, g.nd, theirs, sizeof theirs);
        if (rc) {
            if (!strncmp(ours, "ERR:", 4) && deliberate_error(ours)) {
                skipped++;
                continue;
            }
            fail_msg("expr %s\n  ours   %s\n  sqlite %s", buf, ours, theirs);
        }
        if (!strcmp(theirs, "ERR:integer overflow")) {
            /* SQLite evaluates constant subexpressions up front; we skip the
             * ones that short-circuit (AND/OR/CASE/IN with a NULL left side) */
            skipped++;
            continue;
        }
        if (strcmp(ours, theirs) != 0) {
            /* print the bound doubles to replay */
            for (size_t i = 0; i < g.nd; i++)
                fprintf(stderr, "  ?%zu = %.17g\n", i + 1, g.d[i]);
            fail_msg("expr %s\n  ours   %s\n  sqlite %s", buf, ours, theirs);
        }
        compared++;
    }
    fprintf(stderr, "test_sql_eval: %d expressions agree with SQLite, %d skipped (our "
                    "deliberate errors)\n",
            compared, skipped);
    assert_true(compared > iters / 2);
}

/* REAL -> text and round() on random doubles of every magnitude. */
static void test_differential_real_text(void **state)
{
    (void)state;
    if (!sqlite_load())
        return;
    TuRng r;
    tu_rng_seed(&r, tu_seed("test_sql_eval real text"));
    char ours[512], theirs[512];
    for (int it = 0; it < 40000; it++) {
        double d;
        uint64_t k = tu_rng_below(&r, 4);
        if (k == 0) {
            uint64_t u = tu_rng_next(&r);
            memcpy(&d, &u, 8);
            if (d != d || d - d != 0)
                continue;
        } else if (k == 1) {
            d = (double)((int64_t)tu_rng_below(&r, 200000000) - 100000000) / 1000.0;
        } else if (k == 2) {
            d = ((double)tu_rng_below(&r, 1000000) + 0.5) / 100.0;
        } else {
            d = (double)((int64_t)tu_rng_next(&r) >> tu_rng_below(&r, 63));
            d *= 1.0 / (double)(1ull << tu_rng_below(&r, 60));
        }
        SqlValue p[2];
        memset(p, 0, sizeof p);
        p[0].type = DOC_DOUBLE;
        p[0].d = d;
        double dp[2] = {d, 0};
        const char *exprs[] = {"?1 || ''", "round(?1)", "round(?1, 1)", "round(?1, 2)",
                               "round(?1, 3)", "round(?1, 7)", "round(?1, 15)"};
        for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
            eval_p(exprs[i], p, 1, ours, sizeof ours);
            sqlite_eval(exprs[i], dp, 1, theirs, sizeof theirs);
            if (strcmp(ours, theirs))
                fail_msg("%s with ?1 = %.17g (%a)\n  ours   %s\n  sqlite %s", exprs[i], d, d,
                         ours, theirs);
        }
    }
}

/* Aggregates over random columns: same results as SQLite to the bit. */
static void test_differential_aggregates(void **state)
{
    (void)state;
    if (!sqlite_load())
        return;
    TuRng r;
    tu_rng_seed(&r, tu_seed("test_sql_eval aggregates"));
    static const char *aggs[] = {"count(*)",       "count(a)",       "count(DISTINCT a)",
                                 "sum(a)",         "sum(DISTINCT a)", "avg(a)",
                                 "avg(DISTINCT a)", "total(a)",      "total(DISTINCT a)",
                                 "min(a)",         "max(a)",          "min(DISTINCT a)"};
    for (int it = 0; it < 400; it++) {
        size_t n = (size_t)tu_rng_below(&r, 60);
        SqlValue vals[64];
        int kind = (int)tu_rng_below(&r, 4);
        L.exec(L.db, "DROP TABLE IF EXISTS t; CREATE TABLE t(a)", NULL, NULL, NULL);
        sqlite3_stmt *ins;
        assert_int_equal(L.prepare(L.db, "INSERT INTO t VALUES (?1)", -1, &ins, NULL), 0);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = tu_rng_below(&r, 10);
            if (k == 0) {
                vals[i] = vn();
                L.bind_null(ins, 1);
            } else if (kind == 0 || (kind == 3 && k < 5)) {
                int64_t v = (int64_t)tu_rng_below(&r, 21) - 10;
                if (kind == 3 && k == 1)
                    v = INT64_MAX - (int64_t)tu_rng_below(&r, 3);
                vals[i] = vi(v);
                L.bind_int64(ins, 1, v);
            } else {
                double d = ((double)tu_rng_below(&r, 2000001) - 1000000) /
                           (double)(1 + tu_rng_below(&r, 997));
                if (kind == 2 && k == 2)
                    d = 1e16 + (double)tu_rng_below(&r, 5);
                vals[i] = vd(d);
                L.bind_double(ins, 1, d);
            }
            assert_int_equal(L.step(ins), SQLITE_DONE);
            L.reset(ins);
        }
        L.finalize(ins);
        for (size_t a = 0; a < sizeof aggs / sizeof *aggs; a++) {
            char ours[256], theirs[256], sql[128];
            agg_run(aggs[a], vals, n, ours, sizeof ours);
            snprintf(sql, sizeof sql, "SELECT %s FROM t", aggs[a]);
            sqlite3_stmt *st;
            assert_int_equal(L.prepare(L.db, sql, -1, &st, NULL), 0);
            if (L.step(st) == SQLITE_ROW)
                sqlite_canon(st, 0, theirs, sizeof theirs);
            else
                snprintf(theirs, sizeof theirs, "ERR:%s", L.errmsg(L.db));
            L.finalize(st);
            if (strcmp(ours, theirs))
                fail_msg("%s over %zu values (kind %d)\n  ours   %s\n  sqlite %s", aggs[a], n,
                         kind, ours, theirs);
        }
    }
}

static int teardown_all(void **state)
{
    (void)state;
    if (L.db)
        L.close(L.db);
    if (L.h)
        dlclose(L.h);
    memset(&L, 0, sizeof L);
    return 0;
}

int main(void)
{
    for (int i = 0; i < 26; i++)
        g_cols[i].type = DOC_NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_order_matches_filter),
        cmocka_unit_test(test_value_copy_convert),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_concat_text_forms),
        cmocka_unit_test(test_logic_compare),
        cmocka_unit_test(test_like),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_params_columns),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_differential_exprs),
        cmocka_unit_test(test_differential_real_text),
        cmocka_unit_test(test_differential_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_all);
}
