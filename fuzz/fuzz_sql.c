/*
 * fuzz_sql.c — hostile SQL text.  The input is fed to sql_parse statement
 * after statement until the text is used up or a statement fails; every
 * expression of every parsed statement is rendered with sql_expr_text,
 * the rendering must parse again (sql_parse_expr) and render to the same
 * text, and cheap expressions are evaluated (no columns; parameters
 * unbound).  The whole input is also parsed as one expression.  Any error
 * code is fine; a crash, hang, leak, sanitizer report or broken round trip
 * is not.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/query/sql.h"

static int no_columns(SqlEvalCtx *cx, const SqlExpr *col, SqlValue *out)
{
    (void)cx;
    (void)col;
    memset(out, 0, sizeof *out);
    out->type = DOC_NULL;
    return 0;
}

static void check_expr(const SqlExpr *e)
{
    if (!e)
        return;
    char *t = sql_expr_text(e);
    if (!t)
        abort();
    SqlExpr *back;
    uint32_t epos;
    char err[SQL_ERRMAX];
    if (sql_parse_expr(t, strlen(t), &back, &epos, err, sizeof err) != BLAZEDB_OK) {
        /* parentheses the rendering adds may cross the depth limit */
        if (!strstr(err, "nested too deeply"))
            abort();
        free(t);
        return;
    }
    char *t2 = sql_expr_text(back);
    if (!t2 || strcmp(t, t2) != 0)
        abort();
    /* nested replace() can grow strings geometrically: evaluate the rest */
    const char *r1 = strstr(t, "replace(");
    if (!sql_has_agg(back) && !(r1 && strstr(r1 + 1, "replace("))) {
        SqlEvalCtx cx;
        memset(&cx, 0, sizeof cx);
        cx.column = no_columns;
        SqlValue v;
        if (sql_eval(back, &cx, &v) == BLAZEDB_OK) {
            (void)sql_truth(&v);
            (void)sql_value_hash(&v);
        }
        sql_value_clear(&v);
    }
    free(t2);
    free(t);
    sql_expr_free(back);
}

static void check_stmt(const SqlStmt *s)
{
    check_expr(s->where);
    for (size_t i = 0; i < s->nset; i++)
        check_expr(s->set_vals[i]);
    for (size_t r = 0; r < s->nrows; r++)
        for (size_t i = 0; i < (s->json_docs ? 1 : s->nfields); i++)
            check_expr(s->rows[r][i]);
    const SqlSelect *q = s->select;
    if (!q)
        return;
    for (size_t i = 0; i < q->ncols; i++)
        check_expr(q->cols[i].expr);
    for (size_t i = 0; i < q->njoins; i++)
        check_expr(q->joins[i].on);
    check_expr(q->where);
    for (size_t i = 0; i < q->ngroup; i++)
        check_expr(q->group[i]);
    check_expr(q->having);
    for (size_t i = 0; i < q->norder; i++)
        check_expr(q->order[i].e);
    check_expr(q->limit);
    check_expr(q->offset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sql = (const char *)data;
    size_t off = 0;
    char err[SQL_ERRMAX];
    for (int n = 0; n < 1000 && off <= size; n++) {
        SqlStmt *s = NULL;
        size_t used = 0;
        uint32_t epos = 0;
        int rc = sql_parse(sql + off, size - off, &s, &used, &epos, err, sizeof err);
        if (rc != BLAZEDB_OK) {
            if (s || (rc == BLAZEDB_SQL_ERROR && epos > size - off))
                abort();
            break;
        }
        if (!s || used == 0 || used > size - off)
            abort();
        check_stmt(s);
        sql_stmt_free(s);
        off += used;
    }
    SqlExpr *e = NULL;
    uint32_t epos;
    if (sql_parse_expr(sql, size, &e, &epos, err, sizeof err) == BLAZEDB_OK)
        check_expr(e);
    sql_expr_free(e);
    return 0;
}
