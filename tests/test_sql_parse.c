/*
 * test_sql_parse.c — the SQL lexer and parser (src/query/sqlparse.c):
 * every statement form to its expected tree, operator precedence (shown
 * through sql_expr_text, which parenthesises only where needed), literals,
 * identifiers and paths, parameters, comments, statement sequences,
 * syntax errors with their offsets, the limits (nesting depth, tree
 * height, IN list length, parameter count, 1 MB of '(' or NOT), and the
 * render -> parse -> render round trip over random expressions.
 * The seed is printed; set BLAZEDB_TEST_SEED to replay one run.
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
#include "../src/query/sql.h"
#include "support/testutil.h"

/* ---- helpers ------------------------------------------------------------------ */

static SqlStmt *parse_ok(const char *sql)
{
    SqlStmt *s = NULL;
    size_t used;
    uint32_t epos;
    char err[SQL_ERRMAX];
    int rc = sql_parse(sql, strlen(sql), &s, &used, &epos, err, sizeof err);
    if (rc != BLAZEDB_OK)
        fail_msg("parse %s: rc %d %s", sql, rc, err);
    return s;
}

/* Error: returns the message; checks rc and the offset. */
static char g_err[SQL_ERRMAX];
static void parse_err(const char *sql, uint32_t want_pos, const char *part)
{
    SqlStmt *s = NULL;
    size_t used;
    uint32_t epos = 12345;
    int rc = sql_parse(sql, strlen(sql), &s, &used, &epos, g_err, sizeof g_err);
    if (rc != BLAZEDB_SQL_ERROR)
        fail_msg("%s: rc %d, want SQL_ERROR", sql, rc);
    assert_null(s);
    if (epos != want_pos || !strstr(g_err, part))
        fail_msg("%s:\n  error '%s' at %u\n  want  '%s' at %u", sql, g_err, epos, part,
                 want_pos);
}

static char *etext(const char *expr)
{
    SqlExpr *e;
    uint32_t epos;
    char err[SQL_ERRMAX];
    int rc = sql_parse_expr(expr, strlen(expr), &e, &epos, err, sizeof err);
    if (rc)
        fail_msg("parse_expr %s: %s", expr, err);
    char *t = sql_expr_text(e);
    assert_non_null(t);
    sql_expr_free(e);
    return t;
}

#define RENDERS(expr, want)                                                            \
    do {                                                                               \
        char *t_ = etext(expr);                                                        \
        if (strcmp(t_, want))                                                          \
            fail_msg("%s:%d: %s\n  renders %s\n  want    %s", __FILE__, __LINE__, expr,   \
                     t_, want);                                                        \
        free(t_);                                                                      \
    } while (0)

/* Structural equality of two trees. */
static int expr_eq(const SqlExpr *a, const SqlExpr *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->op != b->op || a->negated != b->negated ||
        a->param != b->param || a->func != b->func || a->distinct != b->distinct ||
        a->nlist != b->nlist)
        return 0;
    if (a->kind == SQL_E_LITERAL) {
        if (a->lit.type != b->lit.type || a->lit.i != b->lit.i || a->lit.len != b->lit.len)
            return 0;
        if (a->lit.type == DOC_DOUBLE && memcmp(&a->lit.d, &b->lit.d, 8))
            return 0;
        if (a->lit.len && memcmp(a->lit.s, b->lit.s, a->lit.len))
            return 0;
    }
    if (a->kind == SQL_E_COLUMN && strcmp(a->path, b->path))
        return 0;
    if (!expr_eq(a->a, b->a) || !expr_eq(a->b, b->b) || !expr_eq(a->c, b->c))
        return 0;
    for (size_t i = 0; i < a->nlist; i++)
        if (!expr_eq(a->list[i], b->list[i]))
            return 0;
    return 1;
}

/* ---- statements --------------------------------------------------------------- */

static void test_select_full(void **state)
{
    (void)state;
    const char *sql =
        "EXPLAIN SELECT DISTINCT u.name AS n, count(*), o.* , total(o.amount) tot "
        "FROM users AS u INDEXED BY by_name "
        "LEFT OUTER JOIN orders o NOT INDEXED ON o.uid = u._id "
        "INNER JOIN items ON items.oid = o._id JOIN x ON 1 "
        "WHERE u.age >= 18 AND u.tags CONTAINS 'vip' "
        "GROUP BY u.name, 2 HAVING count(*) > 1 "
        "ORDER BY n DESC, 2 ASC, u.name LIMIT 10 OFFSET ?;";
    SqlStmt *s = parse_ok(sql);
    assert_int_equal(s->kind, SQL_SELECT);
    assert_int_equal(s->explain, 1);
    SqlSelect *q = s->select;
    assert_int_equal(q->distinct, 1);
    assert_int_equal(q->ncols, 4);
    assert_string_equal(q->cols[0].alias, "n");
    assert_int_equal(q->cols[0].expr->kind, SQL_E_COLUMN);
    assert_null(q->cols[0].expr->qual);
    assert_string_equal(q->cols[0].expr->path, "u.name");
    assert_int_equal(q->cols[0].expr->table, -1);
    /* the span of the first column's expression */
    assert_int_equal(q->cols[0].end - q->cols[0].pos, strlen("u.name"));
    assert_memory_equal(sql + q->cols[0].pos, "u.name", 6);
    assert_int_equal(q->cols[1].expr->kind, SQL_E_AGG);
    assert_int_equal(q->cols[1].expr->func, SQL_A_COUNT);
    assert_int_equal(q->cols[1].expr->nlist, 0);
    assert_null(q->cols[2].expr);
    assert_string_equal(q->cols[2].star_qual, "o");
    assert_string_equal(q->cols[3].alias, "tot");
    assert_int_equal(q->cols[3].expr->func, SQL_A_TOTAL);
    assert_int_equal(q->has_from, 1);
    assert_string_equal(q->from.coll, "users");
    assert_string_equal(q->from.alias, "u");
    assert_string_equal(q->from.indexed_by, "by_name");
    assert_int_equal(q->njoins, 3);
    assert_int_equal(q->joins[0].left, 1);
    assert_string_equal(q->joins[0].t.coll, "orders");
    assert_string_equal(q->joins[0].t.alias, "o");
    assert_int_equal(q->joins[0].t.not_indexed, 1);
    assert_int_equal(q->joins[0].on->op, SQL_OP_EQ);
    assert_int_equal(q->joins[1].left, 0);
    assert_null(q->joins[1].t.alias);
    assert_string_equal(q->joins[2].t.coll, "x");
    assert_int_equal(q->where->op, SQL_OP_AND);
    assert_int_equal(q->where->b->kind, SQL_E_CONTAINS);
    assert_int_equal(q->ngroup, 2);
    assert_int_equal(q->group[1]->lit.i, 2);
    assert_int_equal(q->having->op, SQL_OP_GT);
    assert_int_equal(q->norder, 3);
    assert_int_equal(q->order[0].desc, 1);
    assert_int_equal(q->order[1].desc, 0);
    assert_int_equal(q->limit->lit.i, 10);
    assert_int_equal(q->offset->kind, SQL_E_PARAM);
    assert_int_equal(q->offset->param, 1);
    assert_int_equal(s->nparams, 1);
    assert_null(s->param_names[0]);
    assert_int_equal(s->pos, 0);
    assert_int_equal(s->end, strlen(sql) - 1);
    sql_stmt_free(s);

    s = parse_ok("select 1+1, 'a' 'alias_is_not_a_string'");
    sql_stmt_free(s);
    s = parse_ok("SELECT * FROM c LIMIT 5, 10");
    assert_int_equal(s->select->has_from, 1);
    assert_null(s->select->cols[0].expr);
    assert_null(s->select->cols[0].star_qual);
    assert_int_equal(s->select->offset->lit.i, 5);
    assert_int_equal(s->select->limit->lit.i, 10);
    sql_stmt_free(s);
    s = parse_ok("SELECT 1");
    assert_int_equal(s->select->has_from, 0);
    sql_stmt_free(s);
    s = parse_ok("EXPLAIN ANALYZE SELECT a FROM c");
    assert_int_equal(s->explain, 2);
    sql_stmt_free(s);
    s = parse_ok("EXPLAIN ANALYZE c");
    assert_int_equal(s->explain, 1);
    assert_int_equal(s->kind, SQL_ANALYZE);
    assert_string_equal(s->coll, "c");
    sql_stmt_free(s);
}

static void test_select_alias_forms(void **state)
{
    (void)state;
    SqlStmt *s = parse_ok("SELECT a b, c AS \"d e\", f AS 'g', `h`.i, \"j\"\"k\" FROM t");
    SqlSelect *q = s->select;
    assert_string_equal(q->cols[0].alias, "b");
    assert_string_equal(q->cols[1].alias, "d e");
    assert_string_equal(q->cols[2].alias, "g");
    assert_string_equal(q->cols[3].expr->path, "h.i");
    assert_null(q->cols[3].alias);
    assert_string_equal(q->cols[4].expr->path, "j\"k");
    sql_stmt_free(s);
    s = parse_ok("SELECT items.0.name, a.order, x.\"y z\".1 FROM t");
    q = s->select;
    assert_string_equal(q->cols[0].expr->path, "items.0.name");
    assert_string_equal(q->cols[1].expr->path, "a.order");
    assert_string_equal(q->cols[2].expr->path, "x.y z.1");
    sql_stmt_free(s);
}

static void test_insert_update_delete(void **state)
{
    (void)state;
    SqlStmt *s = parse_ok("INSERT INTO users (name, addr.city, tags) VALUES ('a', 'b', NULL), "
                          "(:n, @c, $t)");
    assert_int_equal(s->kind, SQL_INSERT);
    assert_int_equal(s->or_replace, 0);
    assert_string_equal(s->coll, "users");
    assert_int_equal(s->coll_pos, 12);
    assert_int_equal(s->nfields, 3);
    assert_string_equal(s->fields[1], "addr.city");
    assert_int_equal(s->nrows, 2);
    assert_int_equal(s->rows[1][0]->param, 1);
    assert_int_equal(s->rows[1][2]->param, 3);
    assert_int_equal(s->nparams, 3);
    assert_string_equal(s->param_names[0], ":n");
    assert_string_equal(s->param_names[1], "@c");
    assert_string_equal(s->param_names[2], "$t");
    sql_stmt_free(s);

    s = parse_ok("INSERT OR REPLACE INTO c JSON '{\"a\":1}', ?");
    assert_int_equal(s->or_replace, 1);
    assert_int_equal(s->json_docs, 1);
    assert_int_equal(s->nrows, 2);
    assert_int_equal(s->rows[0][0]->lit.type, DOC_STRING);
    assert_int_equal(s->rows[1][0]->kind, SQL_E_PARAM);
    sql_stmt_free(s);
    s = parse_ok("REPLACE INTO c (a) VALUES (1)");
    assert_int_equal(s->or_replace, 1);
    sql_stmt_free(s);

    s = parse_ok("UPDATE c SET a = a + 1, b.c = 'x' WHERE _id = ?5");
    assert_int_equal(s->kind, SQL_UPDATE);
    assert_int_equal(s->nset, 2);
    assert_string_equal(s->set_paths[1], "b.c");
    assert_int_equal(s->set_vals[0]->op, SQL_OP_ADD);
    assert_int_equal(s->where->b->param, 5);
    assert_int_equal(s->nparams, 5);
    sql_stmt_free(s);

    s = parse_ok("DELETE FROM c");
    assert_int_equal(s->kind, SQL_DELETE);
    assert_null(s->where);
    sql_stmt_free(s);
    s = parse_ok("delete from c where a is null");
    assert_int_equal(s->where->kind, SQL_E_ISNULL);
    sql_stmt_free(s);
}

static void test_ddl_tx(void **state)
{
    (void)state;
    const char *sql = "CREATE UNIQUE INDEX IF NOT EXISTS ix ON c (a.b DESC, tags[], d ASC) "
                      "WHERE  status = 'on' AND (x>1) ;";
    SqlStmt *s = parse_ok(sql);
    assert_int_equal(s->kind, SQL_CREATE_INDEX);
    assert_int_equal(s->unique, 1);
    assert_int_equal(s->if_exists, 1);
    assert_string_equal(s->name, "ix");
    assert_string_equal(s->coll, "c");
    assert_int_equal(s->nifields, 3);
    assert_string_equal(s->ifields[0].path, "a.b");
    assert_int_equal(s->ifields[0].desc, 1);
    assert_int_equal(s->ifields[1].each, 1);
    assert_string_equal(s->ifields[1].path, "tags");
    assert_int_equal(s->ifields[2].desc, 0);
    assert_string_equal(s->where_text, "status = 'on' AND (x>1)");
    assert_int_equal(s->where->op, SQL_OP_AND);
    sql_stmt_free(s);

    struct {
        const char *sql;
        int kind;
        const char *coll, *name;
        int if_exists;
    } cases[] = {
        {"CREATE INDEX i ON c (a)", SQL_CREATE_INDEX, "c", "i", 0},
        {"DROP INDEX IF EXISTS i", SQL_DROP_INDEX, NULL, "i", 1},
        {"DROP INDEX i", SQL_DROP_INDEX, NULL, "i", 0},
        {"CREATE COLLECTION c", SQL_CREATE_COLLECTION, "c", NULL, 0},
        {"create table if not exists \"my c\"", SQL_CREATE_COLLECTION, "my c", NULL, 1},
        {"DROP COLLECTION IF EXISTS c", SQL_DROP_COLLECTION, "c", NULL, 1},
        {"DROP TABLE c", SQL_DROP_COLLECTION, "c", NULL, 0},
        {"BEGIN", SQL_BEGIN, NULL, NULL, 0},
        {"BEGIN TRANSACTION", SQL_BEGIN, NULL, NULL, 0},
        {"COMMIT", SQL_COMMIT, NULL, NULL, 0},
        {"END TRANSACTION", SQL_COMMIT, NULL, NULL, 0},
        {"ROLLBACK", SQL_ROLLBACK, NULL, NULL, 0},
        {"ROLLBACK TRANSACTION", SQL_ROLLBACK, NULL, NULL, 0},
        {"ROLLBACK TO sp", SQL_ROLLBACK_TO, NULL, "sp", 0},
        {"ROLLBACK TRANSACTION TO SAVEPOINT sp", SQL_ROLLBACK_TO, NULL, "sp", 0},
        {"SAVEPOINT sp", SQL_SAVEPOINT, NULL, "sp", 0},
        {"RELEASE sp", SQL_RELEASE, NULL, "sp", 0},
        {"RELEASE SAVEPOINT sp", SQL_RELEASE, NULL, "sp", 0},
        {"ANALYZE", SQL_ANALYZE, NULL, NULL, 0},
        {"ANALYZE c", SQL_ANALYZE, "c", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s = parse_ok(cases[i].sql);
        if (s->kind != (SqlStmtKind)cases[i].kind)
            fail_msg("%s: kind %d", cases[i].sql, s->kind);
        if (cases[i].coll)
            assert_string_equal(s->coll, cases[i].coll);
        else
            assert_null(s->coll);
        if (cases[i].name)
            assert_string_equal(s->name, cases[i].name);
        else
            assert_null(s->name);
        assert_int_equal(s->if_exists, cases[i].if_exists);
        sql_stmt_free(s);
    }
}

static void test_sequence_and_comments(void **state)
{
    (void)state;
    const char *sql = " -- leading comment\n ;; SELECT 1; /* c */ SELECT 'a;b' ;\n"
                      "BEGIN -- trailing\n; /* only a comment */ -- and another";
    size_t off = 0, len = strlen(sql);
    int kinds[8], n = 0;
    for (;;) {
        SqlStmt *s;
        size_t used;
        uint32_t epos;
        char err[SQL_ERRMAX];
        int rc = sql_parse(sql + off, len - off, &s, &used, &epos, err, sizeof err);
        if (rc == BLAZEDB_NOT_FOUND) {
            assert_null(s);
            break;
        }
        assert_int_equal(rc, BLAZEDB_OK);
        assert_true(used > 0 && used <= len - off);
        kinds[n++] = s->kind;
        sql_stmt_free(s);
        off += used;
        assert_true(n < 8);
    }
    assert_int_equal(n, 3);
    assert_int_equal(kinds[0], SQL_SELECT);
    assert_int_equal(kinds[2], SQL_BEGIN);
    SqlStmt *s;
    size_t used;
    uint32_t epos;
    char err[SQL_ERRMAX];
    assert_int_equal(sql_parse("", 0, &s, &used, &epos, err, sizeof err), BLAZEDB_NOT_FOUND);
    assert_int_equal(sql_parse("  ;  ", 5, &s, &used, &epos, err, sizeof err),
                     BLAZEDB_NOT_FOUND);
    /* an unterminated block comment runs to the end, as in SQLite */
    assert_int_equal(sql_parse("SELECT 1 /* x", 13, &s, &used, &epos, err, sizeof err), 0);
    assert_int_equal(used, 13);
    sql_stmt_free(s);
}

/* ---- expressions -------------------------------------------------------------- */

static void test_precedence(void **state)
{
    (void)state;
    RENDERS("1 + 2 * 3", "1 + 2 * 3");
    RENDERS("(1 + 2) * 3", "(1 + 2) * 3");
    RENDERS("1 - (2 - 3)", "1 - (2 - 3)");
    RENDERS("1 - 2 - 3", "1 - 2 - 3");
    RENDERS("a || b * c", "a || b * c");
    RENDERS("(a * b) || c", "(a * b) || c"); /* || binds tighter than * */
    RENDERS("a OR b AND c", "a OR b AND c");
    RENDERS("(a OR b) AND c", "(a OR b) AND c");
    RENDERS("NOT a = b", "NOT a = b");
    RENDERS("NOT a AND b", "NOT a AND b");
    RENDERS("a < b = c", "a < b = c");
    RENDERS("a = (b < c)", "a = b < c");
    RENDERS("a = b < c", "a = b < c");
    RENDERS("(a = b) < c", "(a = b) < c");
    RENDERS("1 = NOT 0", "1 = (NOT 0)");
    RENDERS("- - 1", "- -1");
    RENDERS("- + - x", "- + -x");
    RENDERS("-(+5)", "- +5");
    RENDERS("-(1)", "-(1)");
    RENDERS("- x", "-x");
    RENDERS("-(a + b)", "-(a + b)");
    RENDERS("-a || b", "-a || b");
    RENDERS("1 - -1", "1 - -1");
    RENDERS("+ 'x'", "+'x'");
    RENDERS("a BETWEEN 1 AND 2 = 1", "a BETWEEN 1 AND 2 = 1");
    RENDERS("a NOT BETWEEN b + 1 AND c", "a NOT BETWEEN b + 1 AND c");
    RENDERS("a IS NULL", "a IS NULL");
    RENDERS("a ISNULL", "a IS NULL");
    RENDERS("a NOTNULL", "a IS NOT NULL");
    RENDERS("a NOT NULL", "a IS NOT NULL");
    RENDERS("a IS NOT NULL", "a IS NOT NULL");
    RENDERS("a IS NOT b", "a IS NOT b");
    RENDERS("a not in (1, 'x', NULL)", "a NOT IN (1, 'x', NULL)");
    RENDERS("a IN ()", "a IN ()");
    RENDERS("a LIKE 'x%' ESCAPE '\\'", "a LIKE 'x%' ESCAPE '\\'");
    RENDERS("a NOT LIKE b || c", "a NOT LIKE b || c");
    RENDERS("tags CONTAINS 'x' AND 1", "tags CONTAINS 'x' AND 1");
    RENDERS("case when a then 1 else 2 end", "CASE WHEN a THEN 1 ELSE 2 END");
    RENDERS("CASE x WHEN 1 THEN 'a' WHEN 2 THEN 'b' END", "CASE x WHEN 1 THEN 'a' WHEN 2 THEN 'b' END");
    RENDERS("count(*) + COUNT(DISTINCT a.b) + Sum(x)", "count(*) + count(DISTINCT a.b) + sum(x)");
    RENDERS("min(a, b, c) + max(a)", "min(a, b, c) + max(a)");
    RENDERS("substring('abc', 1)", "substr('abc', 1)");
    RENDERS("\"select\" + \"a b\".c + \"1x\"", "\"select\" + \"a b\".c + \"1x\"");
    RENDERS("items.0.name", "items.0.name");
    RENDERS("?1 + :x + ? + @x", "?1 + ?2 + ?3 + ?4"); /* :x and @x differ, as in SQLite */
    RENDERS(":x + ? + :x", "?1 + ?2 + ?1");
}

static void test_literals(void **state)
{
    (void)state;
    RENDERS("'it''s'", "'it''s'");
    RENDERS("x'00fF'", "X'00FF'");
    RENDERS("1.5e3", "1500.0");
    RENDERS(".5", "0.5");
    RENDERS("1.", "1.0");
    RENDERS("0.1", "0.1");
    RENDERS("1e400", "9e999");
    RENDERS("0x7FFFFFFFFFFFFFFF", "9223372036854775807");
    RENDERS("0xffffffffffffffff", "-1");
    RENDERS("-9223372036854775808", "-9223372036854775808");
    RENDERS("9223372036854775808", "9.223372036854776e+18");
    RENDERS("18446744073709551616", "1.8446744073709552e+19");
    RENDERS("0.30000000000000004 + 1e-7", "0.30000000000000004 + 1e-07");
    RENDERS("TRUE OR false", "TRUE OR FALSE");
    RENDERS("NULL", "NULL");
    SqlExpr *e;
    uint32_t epos;
    char err[SQL_ERRMAX];
    assert_int_equal(sql_parse_expr("-0x8000000000000000", 19, &e, &epos, err, sizeof err), 0);
    assert_int_equal(e->lit.type, DOC_DOUBLE);
    sql_expr_free(e);
    assert_int_equal(sql_parse_expr("X''", 3, &e, &epos, err, sizeof err), 0);
    assert_int_equal(e->lit.type, DOC_BYTES);
    assert_int_equal(e->lit.len, 0);
    sql_expr_free(e);
}

static void test_params(void **state)
{
    (void)state;
    SqlStmt *s = parse_ok("SELECT ?, ?, :a, ?7, ?, :a, $b, ?");
    /* ? -> 1, ? -> 2, :a -> 3, ?7, ? -> 8, :a -> 3, $b -> 9, ? -> 10 */
    int want[] = {1, 2, 3, 7, 8, 3, 9, 10};
    for (int i = 0; i < 8; i++)
        assert_int_equal(s->select->cols[i].expr->param, want[i]);
    assert_int_equal(s->nparams, 10);
    assert_string_equal(s->param_names[2], ":a");
    assert_string_equal(s->param_names[8], "$b");
    assert_null(s->param_names[6]);
    sql_stmt_free(s);
    parse_err("SELECT ?0", 7, "out of range");
    parse_err("SELECT ?32767", 7, "out of range");
    s = parse_ok("SELECT ?32766");
    assert_int_equal(s->nparams, 32766);
    sql_stmt_free(s);
    /* too many anonymous parameters */
    size_t n = 32767;
    char *sql = malloc(8 + 2 * n + 1);
    strcpy(sql, "SELECT ?");
    for (size_t i = 1; i < n; i++)
        strcat(sql + 8 + 2 * (i - 1), ",?");
    parse_err(sql, (uint32_t)(8 + 2 * (n - 1) - 1), "too many parameters");
    free(sql);
}

static void test_functions_parse(void **state)
{
    (void)state;
    parse_err("SELECT foo(1)", 7, "unknown function foo()");
    parse_err("SELECT 1 + lower(1, 2)", 11, "wrong number of arguments to function lower()");
    parse_err("SELECT count(1, 2)", 7, "wrong number of arguments");
    parse_err("SELECT sum()", 7, "wrong number of arguments");
    parse_err("SELECT coalesce(1)", 7, "wrong number of arguments");
    parse_err("SELECT now(1)", 7, "wrong number of arguments");
    parse_err("SELECT sum(DISTINCT a, b)", 7, "wrong number of arguments");
    parse_err("SELECT sum(count(*))", 11, "cannot be nested");
    parse_err("SELECT lower(DISTINCT a)", 13, "expected an expression");
    SqlStmt *s = parse_ok("SELECT min(a), min(a, b), max(DISTINCT a), count(), round(x, 2)");
    SqlResultCol *c = s->select->cols;
    assert_int_equal(c[0].expr->kind, SQL_E_AGG);
    assert_int_equal(c[0].expr->func, SQL_A_MIN);
    assert_int_equal(c[1].expr->kind, SQL_E_FUNC);
    assert_int_equal(c[1].expr->func, SQL_F_MIN2);
    assert_int_equal(c[2].expr->distinct, 1);
    assert_int_equal(c[2].expr->func, SQL_A_MAX);
    assert_int_equal(c[3].expr->func, SQL_A_COUNT);
    assert_int_equal(c[4].expr->func, SQL_F_ROUND);
    assert_string_equal(sql_func_name(SQL_F_MAX2), "max");
    assert_string_equal(sql_func_name(SQL_F_EPOCH_MS), "epoch_ms");
    assert_true(sql_has_agg(c[0].expr));
    assert_false(sql_has_agg(c[1].expr));
    sql_stmt_free(s);
    /* function names are not reserved: a column named count */
    s = parse_ok("SELECT count, date FROM t WHERE year > 1");
    assert_int_equal(s->select->cols[0].expr->kind, SQL_E_COLUMN);
    sql_stmt_free(s);
}

/* ---- errors ------------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    (void)state;
    parse_err("SELECT", 6, "unexpected end of input at offset 6: expected an expression");
    parse_err("SELECT 1 +", 10, "unexpected end of input at offset 10");
    parse_err("SELEC 1", 0, "near 'SELEC' at offset 0: expected a statement");
    parse_err("SELECT 1 FROM", 13, "expected a collection name");
    parse_err("SELECT a FROM t WHERE", 21, "expected an expression");
    parse_err("SELECT a FROM t x y", 18, "near 'y' at offset 18: expected ';'");
    parse_err("SELECT (1", 9, "expected ')'");
    parse_err("SELECT 1)", 8, "near ')' at offset 8");
    parse_err("SELECT 'abc", 7, "unterminated string");
    parse_err("SELECT \"abc", 7, "unterminated identifier");
    parse_err("SELECT 1 # 2", 9, "unrecognized token");
    parse_err("SELECT 12abc", 7, "unrecognized token");
    parse_err("SELECT x'0'", 7, "malformed blob");
    parse_err("SELECT x'zz'", 7, "malformed blob");
    parse_err("SELECT 0x10000000000000000", 7, "hex literal too big");
    parse_err("SELECT a..b FROM t", 9, "expected a field name");
    parse_err("SELECT a FROM t LEFT x", 21, "expected JOIN");
    parse_err("SELECT a FROM t JOIN u", 22, "expected ON");
    parse_err("SELECT a BETWEEN 1", 18, "expected AND");
    parse_err("SELECT CASE END", 12, "expected an expression");
    parse_err("SELECT CASE 1 END", 14, "expected WHEN");
    parse_err("SELECT CASE WHEN 1 THEN 2", 25, "expected END");
    parse_err("SELECT a IN 1", 12, "expected '('");
    parse_err("INSERT INTO c (a, b) VALUES (1)", 28, "1 values for 2 fields");
    parse_err("INSERT INTO c (a) VALUES (1, 2)", 25, "more values");
    parse_err("INSERT INTO c JSON 1", 19, "expected JSON text or a parameter");
    parse_err("INSERT c (a) VALUES (1)", 7, "expected INTO");
    parse_err("UPDATE c SET a 1", 15, "expected '='");
    parse_err("CREATE INDEX i ON c (a[)", 23, "expected ']'");
    parse_err("CREATE UNIQUE COLLECTION c", 14, "expected INDEX");
    parse_err("CREATE VIEW v", 7, "expected INDEX or COLLECTION");
    parse_err("DROP INDEX IF i", 14, "expected EXISTS");
    parse_err("SELECT * FROM select", 14, "expected a collection name");
    parse_err("SELECT from FROM t", 7, "expected an expression");
    parse_err("SELECT \"\" FROM t", 7, "empty name");
    {
        /* NUL bytes inside names and strings are refused */
        static const char nul1[] = "SELECT \"a\0b\"", nul2[] = "SELECT 'a\0b'",
                          nul3[] = "SELECT x.\"a\0b\"";
        const char *v[] = {nul1, nul2, nul3};
        size_t l[] = {sizeof nul1 - 1, sizeof nul2 - 1, sizeof nul3 - 1};
        for (int i = 0; i < 3; i++) {
            SqlStmt *st;
            size_t used;
            uint32_t epos;
            assert_int_equal(sql_parse(v[i], l[i], &st, &used, &epos, g_err, sizeof g_err),
                             BLAZEDB_SQL_ERROR);
            assert_non_null(strstr(g_err, "NUL byte"));
        }
    }
    parse_err("SELECT 'a' LIKE", 15, "expected an expression");
}

static void test_first_stmt_only(void **state)
{
    (void)state;
    /* only the first statement is parsed */
    SqlStmt *s;
    size_t used;
    uint32_t epos;
    char err[SQL_ERRMAX];
    assert_int_equal(sql_parse("SELECT 1; SELECT", 16, &s, &used, &epos, err, sizeof err), 0);
    assert_int_equal(used, 10);
    sql_stmt_free(s);
    assert_int_equal(sql_parse("SELECT", 6, &s, &used, &epos, err, sizeof err),
                     BLAZEDB_SQL_ERROR);
    /* sql_parse_expr wants the whole text */
    SqlExpr *e;
    assert_int_equal(sql_parse_expr("a = 1 b", 7, &e, &epos, err, sizeof err),
                     BLAZEDB_SQL_ERROR);
    assert_int_equal(epos, 6);
    assert_null(e);
    assert_int_equal(sql_parse_expr("", 0, &e, &epos, err, sizeof err), BLAZEDB_SQL_ERROR);
    assert_non_null(strstr(err, "unexpected end of input at offset 0"));
}

/* ---- limits ------------------------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *sql = malloc(n + 64);
    SqlStmt *s;
    size_t used;
    uint32_t epos;
    char err[SQL_ERRMAX];
    const char *fill[] = {"(", "NOT ", "- ", "+", "-"};
    for (size_t f = 0; f < sizeof fill / sizeof *fill; f++) {
        size_t fl = strlen(fill[f]), k = 7;
        memcpy(sql, "SELECT ", 7);
        while (k + fl < n) {
            memcpy(sql + k, fill[f], fl);
            k += fl;
        }
        sql[k++] = '1';
        int rc = sql_parse(sql, k, &s, &used, &epos, err, sizeof err);
        if (f == 4) { /* "--" starts a comment: the rest is one comment */
            assert_int_equal(rc, BLAZEDB_SQL_ERROR);
            assert_non_null(strstr(err, "unexpected end of input"));
            continue;
        }
        if (rc != BLAZEDB_SQL_ERROR || !strstr(err, "nested too deeply"))
            fail_msg("fill '%s': rc %d %s", fill[f], rc, err);
        assert_true(epos > 7 && epos < 7 + (SQL_MAX_DEPTH + 2) * fl);
    }
    /* a long left-deep chain is limited by its height */
    memcpy(sql, "SELECT 1", 8);
    size_t k = 8;
    for (int i = 0; i < 100000; i++) {
        memcpy(sql + k, "+1", 2);
        k += 2;
    }
    assert_int_equal(sql_parse(sql, k, &s, &used, &epos, err, sizeof err), BLAZEDB_SQL_ERROR);
    assert_non_null(strstr(err, "nested too deeply"));
    /* and within the limit it parses */
    k = 8;
    for (int i = 0; i < SQL_MAX_DEPTH - 1; i++) {
        memcpy(sql + k, "+1", 2);
        k += 2;
    }
    assert_int_equal(sql_parse(sql, k, &s, &used, &epos, err, sizeof err), 0);
    sql_stmt_free(s);
    /* nesting just under the limit parses */
    k = 7;
    memcpy(sql, "SELECT ", 7);
    for (int i = 0; i < 60; i++)
        sql[k++] = '(';
    sql[k++] = '1';
    for (int i = 0; i < 60; i++)
        sql[k++] = ')';
    assert_int_equal(sql_parse(sql, k, &s, &used, &epos, err, sizeof err), 0);
    sql_stmt_free(s);
    /* IN lists */
    k = (size_t)sprintf(sql, "SELECT a IN (0");
    for (int i = 1; i < SQL_MAX_IN_LIST; i++)
        k += (size_t)sprintf(sql + k, ",%d", i % 10);
    memcpy(sql + k, ")", 2);
    assert_int_equal(sql_parse(sql, k + 1, &s, &used, &epos, err, sizeof err), 0);
    assert_int_equal(s->select->cols[0].expr->nlist, SQL_MAX_IN_LIST);
    sql_stmt_free(s);
    memcpy(sql + k, ",1)", 4);
    assert_int_equal(sql_parse(sql, k + 3, &s, &used, &epos, err, sizeof err),
                     BLAZEDB_SQL_ERROR);
    assert_non_null(strstr(err, "IN list too long"));
    assert_int_equal(epos, k + 1);
    free(sql);
}

/* ---- round trip --------------------------------------------------------------- */

static void gen(TuRng *r, char *b, size_t *k, size_t cap, int depth)
{
#define PUT(s)                                   \
    do {                                         \
        const char *s_ = (s);                    \
        size_t l_ = strlen(s_);                  \
        if (*k + l_ < cap) {                     \
            memcpy(b + *k, s_, l_ + 1);          \
            *k += l_;                            \
        }                                        \
    } while (0)
    static const char *atoms[] = {"1", "-2", "0.5", "-0.0", "1e300", "'s'", "'it''s'", "NULL",
                                  "TRUE", "x", "a.b", "\"q q\".c", "items.0", "?", ":p",
                                  "X'01'", "9223372036854775807", "-9223372036854775808"};
    static const char *ops[] = {" + ", " - ", " * ", " / ", " % ", " || ", " = ", " != ",
                                " < ", " <= ", " > ", " >= ", " AND ", " OR ", " IS ",
                                " IS NOT ", " CONTAINS "};
    if (depth <= 0 || tu_rng_below(r, 5) == 0) {
        PUT(atoms[tu_rng_below(r, sizeof atoms / sizeof *atoms)]);
        return;
    }
    int paren = (int)tu_rng_below(r, 2);
    if (paren)
        PUT("(");
    switch (tu_rng_below(r, 9)) {
    case 0:
    case 1:
    case 2:
        gen(r, b, k, cap, depth - 1);
        PUT(ops[tu_rng_below(r, sizeof ops / sizeof *ops)]);
        gen(r, b, k, cap, depth - 1);
        break;
    case 3:
        PUT(tu_rng_below(r, 2) ? "NOT " : "- ");
        gen(r, b, k, cap, depth - 1);
        break;
    case 4:
        gen(r, b, k, cap, depth - 1);
        PUT(" NOT BETWEEN ");
        gen(r, b, k, cap, depth - 1);
        PUT(" AND ");
        gen(r, b, k, cap, depth - 1);
        break;
    case 5:
        gen(r, b, k, cap, depth - 1);
        PUT(" IN (");
        gen(r, b, k, cap, depth - 1);
        PUT(", ");
        gen(r, b, k, cap, depth - 1);
        PUT(")");
        break;
    case 6:
        gen(r, b, k, cap, depth - 1);
        PUT(" LIKE ");
        gen(r, b, k, cap, depth - 1);
        PUT(" ESCAPE ");
        gen(r, b, k, cap, depth - 1);
        break;
    case 7:
        PUT("CASE ");
        gen(r, b, k, cap, depth - 1);
        PUT(" WHEN ");
        gen(r, b, k, cap, depth - 1);
        PUT(" THEN ");
        gen(r, b, k, cap, depth - 1);
        PUT(" ELSE ");
        gen(r, b, k, cap, depth - 1);
        PUT(" END");
        break;
    default:
        PUT(tu_rng_below(r, 2) ? "coalesce(" : "count(DISTINCT ");
        gen(r, b, k, cap, depth - 1);
        PUT(", ");
        gen(r, b, k, cap, depth - 1);
        PUT(")");
        break;
    }
    if (paren)
        PUT(")");
#undef PUT
}

static void test_round_trip(void **state)
{
    (void)state;
    TuRng r;
    tu_rng_seed(&r, tu_seed("test_sql_parse round trip"));
    char buf[8192], err[SQL_ERRMAX];
    int parsed = 0;
    for (int it = 0; it < 20000; it++) {
        size_t k = 0;
        buf[0] = 0;
        gen(&r, buf, &k, sizeof buf, 1 + (int)tu_rng_below(&r, 5));
        SqlExpr *e1, *e2;
        uint32_t epos;
        if (sql_parse_expr(buf, k, &e1, &epos, err, sizeof err) != 0)
            continue; /* e.g. count(DISTINCT a, b) */
        parsed++;
        char *t1 = sql_expr_text(e1);
        assert_non_null(t1);
        if (sql_parse_expr(t1, strlen(t1), &e2, &epos, err, sizeof err) != 0) {
            fail_msg("%s\n  rendered %s\n  does not parse: %s", buf, t1, err);
        }
        char *t2 = sql_expr_text(e2);
        if (strcmp(t1, t2) || !expr_eq(e1, e2))
            fail_msg("%s\n  rendered %s\n  again    %s", buf, t1, t2);
        free(t1);
        free(t2);
        sql_expr_free(e1);
        sql_expr_free(e2);
    }
    assert_true(parsed > 5000);
}

/* A quoted name holding dots is a path like any other (fuzz_sql found a
 * name of dots whose rendering did not parse back). */
static void test_quoted_dots(void **state)
{
    (void)state;
    char err[SQL_ERRMAX];
    uint32_t epos = 0;
    SqlExpr *e = NULL;
    const char *bad[] = {"\"a..b\" = 1", "\".a\" = 1", "\"a.\" = 1",
                         "S+\"\"\"\"\".......\"\"\"= 4", "x.\"..\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sql_parse_expr(bad[i], strlen(bad[i]), &e, &epos, err, sizeof err),
                         BLAZEDB_SQL_ERROR);
        assert_null(e);
        assert_non_null(strstr(err, "offset"));
    }
    const char *good = "\"a.b\".c = 1";
    assert_int_equal(sql_parse_expr(good, strlen(good), &e, &epos, err, sizeof err), BLAZEDB_OK);
    assert_string_equal(e->a->path, "a.b.c");
    char *t = sql_expr_text(e);
    SqlExpr *back = NULL;
    assert_int_equal(sql_parse_expr(t, strlen(t), &back, &epos, err, sizeof err), BLAZEDB_OK);
    assert_string_equal(back->a->path, "a.b.c");
    free(t);
    sql_expr_free(back);
    sql_expr_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_full),
        cmocka_unit_test(test_select_alias_forms),
        cmocka_unit_test(test_insert_update_delete),
        cmocka_unit_test(test_ddl_tx),
        cmocka_unit_test(test_sequence_and_comments),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_functions_parse),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_first_stmt_only),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_quoted_dots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
