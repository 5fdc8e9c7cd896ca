/*
 * query.c — the query builder (filter, order, limit) and its scan executor,
 * observers of committed changes, and live queries kept up to date from the
 * change log.
 *
 * Observers: a handle keeps a list of observers and the last commit it has
 * dispatched.  Dispatch reads the change log after that commit and calls
 * each observer once per commit with that commit's changes (filtered by
 * collection and predicate), in commit order, one dispatch at a time per
 * handle.  It runs after each successful commit of a write transaction on
 * the handle (in the committing thread, before the commit call returns),
 * at the start of every transaction on the handle (so commits of other
 * handles and processes arrive at the latest when this one next begins a
 * transaction), and in blazedb_poll.  A callback may read the database; a
 * dispatch started inside a callback does nothing.
 *
 * Live queries keep every matching document of their collection in memory,
 * sorted by the query's order (then by id); the result is the first `limit`
 * of them.  A commit's changes update that set in O(log n) each, and only
 * the documents whose place crossed the limit, or that changed, are
 * reported: the query is never re-run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "db.h"
#include "../doc/json.h"
#include "../doc/textbuf.h"
#include "../doc/value.h"
#include "../query/filter.h"

/* ---- the query object ---------------------------------------------------------- */

typedef struct {
    char *path;
    QfOp op;
    DocValue *value; /* NULL for IS [NOT] NULL */
    size_t group;    /* OR-group: conditions of one group are ANDed */
} Cond;

/* A result column: a field, or an aggregate of one (path NULL: count(*)). */
typedef struct {
    char *path;
    int agg;         /* 0: the field itself; else BlazeDBAggregate */
    char *alias;
} Sel;

typedef struct {
    char *alias;     /* names a result column */
    QfOp op;
    char *json;      /* the value as JSON text (bound as a parameter) */
} Having;

typedef struct {
    char *path;
    int desc;
} Order;

struct BlazeDBQuery {
    char *coll;
    Cond *conds;
    size_t nconds;
    size_t group;   /* the OR-group new conditions join */
    Order *order;
    size_t norder;
    uint64_t limit; /* UINT64_MAX: none */
    uint64_t offset;
    Sel *sel;
    size_t nsel;
    char **groupby;
    size_t ngroupby;
    Having *having;
    size_t nhaving;
};

BlazeDBResult blazedb_query_new(const char *coll, BlazeDBQuery **out)
{
    if (out)
        *out = NULL;
    if (!coll || !*coll || !out)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "collection name or out is NULL/empty");
    BlazeDBQuery *q = calloc(1, sizeof *q);
    if (!q || !(q->coll = strdup(coll))) {
        free(q);
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    }
    q->limit = UINT64_MAX;
    *out = q;
    return BLAZEDB_OK;
}

void blazedb_query_free(BlazeDBQuery *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nconds; i++) {
        free(q->conds[i].path);
        doc_free(q->conds[i].value);
    }
    for (size_t i = 0; i < q->norder; i++)
        free(q->order[i].path);
    for (size_t i = 0; i < q->nsel; i++) {
        free(q->sel[i].path);
        free(q->sel[i].alias);
    }
    for (size_t i = 0; i < q->ngroupby; i++)
        free(q->groupby[i]);
    for (size_t i = 0; i < q->nhaving; i++) {
        free(q->having[i].alias);
        free(q->having[i].json);
    }
    free(q->sel);
    free(q->groupby);
    free(q->having);
    free(q->conds);
    free(q->order);
    free(q->coll);
    free(q);
}

/* Parses one JSON value (any type, the lossless mapping). */
static BlazeDBResult parse_value(const char *json, DocValue **out)
{
    size_t n = strlen(json);
    char *wrap = malloc(n + 8);
    if (!wrap)
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    memcpy(wrap, "{\"v\":", 5);
    memcpy(wrap + 5, json, n);
    wrap[5 + n] = '}';
    BlazeDBDoc *d = NULL;
    BlazeDBResult rc = blazedb_doc_from_json(wrap, n + 6, &d);
    free(wrap);
    if (rc)
        return db_set_errmsg(rc, "the value is not valid JSON: %s", json);
    DocValue *v = doc_path_get(docapi_root(d), "v");
    *out = v ? doc_clone(v) : NULL;
    blazedb_doc_free(d);
    return *out ? BLAZEDB_OK : db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
}

BlazeDBResult blazedb_query_where(BlazeDBQuery *q, const char *path, BlazeDBOp op,
                                  const char *json_value)
{
    if (!q || !path || !*path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query or path is NULL/empty");
    if (op < BLAZEDB_OP_EQ || op > BLAZEDB_OP_IS_NOT_NULL)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "unknown operator %d", (int)op);
    int unary = op == BLAZEDB_OP_IS_NULL || op == BLAZEDB_OP_IS_NOT_NULL;
    if (!unary && !json_value)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "the operator needs a value");
    DocValue *v = NULL;
    BlazeDBResult rc;
    if (!unary && (rc = parse_value(json_value, &v)))
        return rc;
    Cond *nc = realloc(q->conds, (q->nconds + 1) * sizeof *nc);
    char *p = strdup(path);
    if (!nc || !p) {
        if (nc)
            q->conds = nc;
        free(p);
        doc_free(v);
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    }
    q->conds = nc;
    q->conds[q->nconds++] = (Cond){p, (QfOp)op, v, q->group};
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_or(BlazeDBQuery *q)
{
    if (!q)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query is NULL");
    if (q->nconds == 0 || q->conds[q->nconds - 1].group != q->group)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT,
                             "blazedb_query_or needs a condition before it");
    q->group++;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_offset(BlazeDBQuery *q, uint64_t offset)
{
    if (!q)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query is NULL");
    q->offset = offset;
    return BLAZEDB_OK;
}

static BlazeDBResult add_sel(BlazeDBQuery *q, const char *path, int agg, const char *alias)
{
    Sel *ns = realloc(q->sel, (q->nsel + 1) * sizeof *ns);
    if (!ns)
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    q->sel = ns;
    Sel s = {path ? strdup(path) : NULL, agg, alias ? strdup(alias) : NULL};
    if ((path && !s.path) || (alias && !s.alias)) {
        free(s.path);
        free(s.alias);
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    }
    q->sel[q->nsel++] = s;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_select(BlazeDBQuery *q, const char *path, const char *alias)
{
    if (!q || !path || !*path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query or path is NULL/empty");
    return add_sel(q, path, 0, alias);
}

BlazeDBResult blazedb_query_aggregate(BlazeDBQuery *q, BlazeDBAggregate fn, const char *path,
                                      const char *alias)
{
    if (!q)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query is NULL");
    if (fn < BLAZEDB_AGG_COUNT || fn > BLAZEDB_AGG_COUNT_DISTINCT)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "unknown aggregate %d", (int)fn);
    if (!path && fn != BLAZEDB_AGG_COUNT)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "this aggregate needs a field");
    if (path && !*path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "empty path");
    return add_sel(q, path, (int)fn, alias);
}

BlazeDBResult blazedb_query_group_by(BlazeDBQuery *q, const char *path)
{
    if (!q || !path || !*path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query or path is NULL/empty");
    char **ng = realloc(q->groupby, (q->ngroupby + 1) * sizeof *ng);
    if (!ng)
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    q->groupby = ng;
    if (!(ng[q->ngroupby] = strdup(path)))
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    q->ngroupby++;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_having(BlazeDBQuery *q, const char *alias, BlazeDBOp op,
                                   const char *json_value)
{
    if (!q || !alias)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query or alias is NULL");
    if (op < BLAZEDB_OP_EQ || op > BLAZEDB_OP_IS_NOT_NULL)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "unknown operator %d", (int)op);
    int unary = op == BLAZEDB_OP_IS_NULL || op == BLAZEDB_OP_IS_NOT_NULL;
    if (!unary && !json_value)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "the operator needs a value");
    size_t i = 0;
    while (i < q->nsel && !(q->sel[i].alias && strcmp(q->sel[i].alias, alias) == 0))
        i++;
    if (i == q->nsel)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT,
                             "having: no result column named '%s' (give it with an alias)",
                             alias);
    if (!unary) {
        DocValue *v = NULL;
        BlazeDBResult rc = parse_value(json_value, &v);
        doc_free(v);
        if (rc)
            return rc;
    }
    Having *nh = realloc(q->having, (q->nhaving + 1) * sizeof *nh);
    if (!nh)
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    q->having = nh;
    Having h = {strdup(alias), (QfOp)op, unary ? NULL : strdup(json_value)};
    if (!h.alias || (!unary && !h.json)) {
        free(h.alias);
        free(h.json);
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    }
    q->having[q->nhaving++] = h;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_order_by(BlazeDBQuery *q, const char *path, int descending)
{
    if (!q || !path || !*path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query or path is NULL/empty");
    Order *no = realloc(q->order, (q->norder + 1) * sizeof *no);
    char *p = strdup(path);
    if (!no || !p) {
        if (no)
            q->order = no;
        free(p);
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    }
    q->order = no;
    q->order[q->norder++] = (Order){p, descending != 0};
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_limit(BlazeDBQuery *q, uint64_t limit)
{
    if (!q)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query is NULL");
    q->limit = limit;
    return BLAZEDB_OK;
}

/* Conditions: groups joined by OR, conditions of a group by AND. */
static int matches_value(const BlazeDBQuery *q, const DocValue *root)
{
    if (q->nconds == 0)
        return 1;
    size_t i = 0;
    while (i < q->nconds) {
        size_t g = q->conds[i].group;
        int ok = 1;
        for (; i < q->nconds && q->conds[i].group == g; i++)
            if (ok && !qf_test(doc_path_get(root, q->conds[i].path), q->conds[i].op,
                               q->conds[i].value))
                ok = 0;
        if (ok)
            return 1;
    }
    return 0;
}

int blazedb_query_matches(const BlazeDBQuery *q, const BlazeDBDoc *doc)
{
    return q && doc && matches_value(q, docapi_root(doc));
}

/* Order of two documents under q: its keys, then id. */
static int order_cmp(const BlazeDBQuery *q, const DocValue *a, const DocValue *b)
{
    for (size_t i = 0; i < q->norder; i++) {
        int c = qf_compare(doc_path_get(a, q->order[i].path), doc_path_get(b, q->order[i].path));
        if (c)
            return q->order[i].desc ? -c : c;
    }
    return qf_compare(doc_path_get(a, "id"), doc_path_get(b, "id"));
}

static int qsort_cmp(const void *a, const void *b, void *q)
{
    const BlazeDBDoc *x = *(BlazeDBDoc *const *)a, *y = *(BlazeDBDoc *const *)b;
    return order_cmp(q, docapi_root(x), docapi_root(y));
}

/* Every matching document of q's collection, sorted (no limit applied). */
static BlazeDBResult scan_all(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBQuery *q,
                              BlazeDBDoc ***docs, size_t *n)
{
    *docs = NULL;
    *n = 0;
    BlazeDBDocCursor *cur = NULL;
    BlazeDBResult rc = blazedb_doc_cursor_open(db, txn, q->coll, NULL, &cur);
    if (rc == BLAZEDB_NOT_FOUND)
        return BLAZEDB_OK; /* no collection: nothing matches */
    if (rc)
        return rc;
    size_t cap = 0;
    BlazeDBDoc *d;
    while ((rc = blazedb_doc_cursor_next(cur, &d)) == BLAZEDB_OK) {
        if (!matches_value(q, docapi_root(d))) {
            blazedb_doc_free(d);
            continue;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            BlazeDBDoc **nd = realloc(*docs, nc * sizeof *nd);
            if (!nd) {
                blazedb_doc_free(d);
                rc = BLAZEDB_NOMEM;
                break;
            }
            *docs = nd;
            cap = nc;
        }
        (*docs)[(*n)++] = d;
    }
    blazedb_doc_cursor_close(cur);
    if (rc == BLAZEDB_NOT_FOUND)
        rc = BLAZEDB_OK;
    if (rc == BLAZEDB_OK && *n > 1)
        qsort_r(*docs, *n, sizeof **docs, qsort_cmp, (void *)q);
    if (rc) {
        blazedb_query_free_docs(*docs, *n);
        *docs = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- the query as SQL: what runs it ---------------------------------------------------- */

/* A name as a quoted SQL identifier. */
static void buf_ident(TextBuf *b, const char *s, size_t n)
{
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++)
        tb_put(b, s[i] == '"' ? "\"\"" : &s[i], s[i] == '"' ? 2 : 1);
    tb_put(b, "\"", 1);
}

/* A dotted path as quoted identifiers joined by dots. */
static void buf_path(TextBuf *b, const char *path)
{
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        buf_ident(b, path, n);
        if (!dot)
            return;
        tb_put(b, ".", 1);
        path = dot + 1;
    }
}

static const char *op_sql(QfOp op)
{
    switch (op) {
    case QF_EQ: return " = ?";
    case QF_NE: return " != ?";
    case QF_LT: return " < ?";
    case QF_LE: return " <= ?";
    case QF_GT: return " > ?";
    case QF_GE: return " >= ?";
    case QF_IS_NULL: return " IS NULL";
    case QF_IS_NOT_NULL: return " IS NOT NULL";
    }
    return " = ?";
}

static const char *agg_sql(int fn)
{
    switch (fn) {
    case BLAZEDB_AGG_COUNT: return "count(";
    case BLAZEDB_AGG_SUM: return "sum(";
    case BLAZEDB_AGG_AVG: return "avg(";
    case BLAZEDB_AGG_MIN: return "min(";
    case BLAZEDB_AGG_MAX: return "max(";
    case BLAZEDB_AGG_COUNT_DISTINCT: return "count(DISTINCT ";
    }
    return "count(";
}

static void buf_sel(TextBuf *b, const Sel *s)
{
    if (!s->agg) {
        buf_path(b, s->path);
    } else {
        tb_str(b, agg_sql(s->agg));
        if (s->path)
            buf_path(b, s->path);
        else
            tb_str(b, "*");
        tb_str(b, ")");
    }
    if (s->alias) {
        tb_str(b, " AS ");
        buf_ident(b, s->alias, strlen(s->alias));
    }
}

/* The SELECT statement of q; `tiebreak` adds id as the last sort key (the
 * order blazedb_query_run promises). */
static BlazeDBResult build_sql(const BlazeDBQuery *q, int tiebreak, char **out)
{
    TextBuf b = {0};
    tb_str(&b, "SELECT ");
    if (q->nsel == 0) {
        tb_str(&b, "*");
    } else {
        for (size_t i = 0; i < q->nsel; i++) {
            if (i)
                tb_str(&b, ", ");
            buf_sel(&b, &q->sel[i]);
        }
    }
    tb_str(&b, " FROM ");
    buf_ident(&b, q->coll, strlen(q->coll));
    if (q->nconds) {
        tb_str(&b, " WHERE ");
        size_t i = 0;
        int first_group = 1;
        while (i < q->nconds) {
            size_t g = q->conds[i].group;
            if (!first_group)
                tb_str(&b, " OR ");
            first_group = 0;
            tb_str(&b, "(");
            for (int first = 1; i < q->nconds && q->conds[i].group == g; i++, first = 0) {
                if (!first)
                    tb_str(&b, " AND ");
                buf_path(&b, q->conds[i].path);
                tb_str(&b, op_sql(q->conds[i].op));
            }
            tb_str(&b, ")");
        }
    }
    if (q->ngroupby) {
        tb_str(&b, " GROUP BY ");
        for (size_t i = 0; i < q->ngroupby; i++) {
            if (i)
                tb_str(&b, ", ");
            buf_path(&b, q->groupby[i]);
        }
    }
    if (q->nhaving) {
        tb_str(&b, " HAVING ");
        for (size_t i = 0; i < q->nhaving; i++) {
            if (i)
                tb_str(&b, " AND ");
            /* the aggregate itself: HAVING sees expressions, not aliases */
            size_t k = 0;
            while (k < q->nsel && !(q->sel[k].alias && !strcmp(q->sel[k].alias, q->having[i].alias)))
                k++;
            Sel noalias = q->sel[k];
            noalias.alias = NULL;
            buf_sel(&b, &noalias);
            tb_str(&b, op_sql(q->having[i].op));
        }
    }
    int grouped = q->ngroupby > 0;
    for (size_t i = 0; i < q->nsel; i++)
        grouped |= q->sel[i].agg != 0;
    if (q->norder || (tiebreak && !grouped)) {
        tb_str(&b, " ORDER BY ");
        for (size_t i = 0; i < q->norder; i++) {
            if (i)
                tb_str(&b, ", ");
            buf_path(&b, q->order[i].path);
            if (q->order[i].desc)
                tb_str(&b, " DESC");
        }
        if (tiebreak && !grouped)
            tb_str(&b, q->norder ? ", \"id\"" : "\"id\"");
    }
    if (q->limit != UINT64_MAX || q->offset) {
        char num[64];
        snprintf(num, sizeof num, " LIMIT %lld", q->limit == UINT64_MAX || q->limit > INT64_MAX
                                                     ? -1LL
                                                     : (long long)q->limit);
        tb_str(&b, num);
        if (q->offset) {
            snprintf(num, sizeof num, " OFFSET %llu", (unsigned long long)q->offset);
            tb_str(&b, num);
        }
    }
    if (b.oom) {
        free(b.p);
        return db_set_errmsg(BLAZEDB_NOMEM, "out of memory");
    }
    *out = b.p;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_sql(const BlazeDBQuery *q, char **sql)
{
    if (sql)
        *sql = NULL;
    if (!q || !sql)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "query or sql is NULL");
    return build_sql(q, 0, sql);
}

static BlazeDBResult prepare_q(BlazeDB *db, const BlazeDBQuery *q, int tiebreak, BlazeDBStmt **out)
{
    *out = NULL;
    char *sql = NULL;
    BlazeDBResult rc = build_sql(q, tiebreak, &sql);
    if (rc)
        return db_error(db, rc, "%s", blazedb_errmsg(NULL));
    BlazeDBStmt *st = NULL;
    rc = blazedb_prepare(db, sql, (size_t)-1, &st, NULL);
    free(sql);
    if (rc)
        return rc;
    int k = 1;
    for (size_t i = 0; i < q->nconds && rc == BLAZEDB_OK; i++) {
        if (!q->conds[i].value)
            continue;
        char *json = NULL;
        size_t jl = 0;
        char err[DOC_ERRMAX];
        rc = doc_to_json(q->conds[i].value, 0, &json, &jl, err);
        if (rc == BLAZEDB_OK)
            rc = blazedb_bind_json(st, k++, json, jl);
        free(json);
    }
    for (size_t i = 0; i < q->nhaving && rc == BLAZEDB_OK; i++)
        if (q->having[i].json)
            rc = blazedb_bind_json(st, k++, q->having[i].json, (size_t)-1);
    if (rc) {
        blazedb_finalize(st);
        return rc;
    }
    *out = st;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_query_prepare(BlazeDB *db, const BlazeDBQuery *q, BlazeDBStmt **out)
{
    if (out)
        *out = NULL;
    if (!q || !out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "query or out is NULL");
    return prepare_q(db, q, 0, out);
}

BlazeDBResult blazedb_query_explain(BlazeDB *db, const BlazeDBQuery *q, unsigned flags,
                                    char **out)
{
    if (out)
        *out = NULL;
    if (!q || !out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "query or out is NULL");
    BlazeDBStmt *st = NULL;
    BlazeDBResult rc = prepare_q(db, q, 1, &st);
    if (rc)
        return rc;
    rc = blazedb_stmt_explain(st, flags, out);
    blazedb_finalize(st);
    return rc;
}

BlazeDBResult blazedb_query_run(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBQuery *q,
                                BlazeDBDoc ***docs, size_t *n)
{
    if (docs)
        *docs = NULL;
    if (n)
        *n = 0;
    if (!q || !docs || !n)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "query, docs or n is NULL");
    uint64_t count;
    BlazeDBResult rc = blazedb_count(db, txn, q->coll, &count);
    if (rc == BLAZEDB_NOT_FOUND)
        return BLAZEDB_OK; /* no collection: nothing matches */
    if (rc)
        return rc;
    BlazeDBStmt *st = NULL;
    if ((rc = prepare_q(db, q, 1, &st)))
        return rc;
    if (txn && (rc = blazedb_stmt_set_txn(st, txn))) {
        blazedb_finalize(st);
        return rc;
    }
    size_t cap = 0;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            BlazeDBDoc **nd = realloc(*docs, nc * sizeof *nd);
            if (!nd) {
                rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
                break;
            }
            *docs = nd;
            cap = nc;
        }
        if ((rc = blazedb_row_doc(st, &(*docs)[*n])))
            break;
        (*n)++;
    }
    blazedb_finalize(st);
    if (rc == BLAZEDB_DONE)
        return BLAZEDB_OK;
    blazedb_query_free_docs(*docs, *n);
    *docs = NULL;
    *n = 0;
    return rc;
}

void blazedb_query_free_docs(BlazeDBDoc **docs, size_t n)
{
    if (!docs)
        return;
    for (size_t i = 0; i < n; i++)
        blazedb_doc_free(docs[i]);
    free(docs);
}

/* ---- observers --------------------------------------------------------------------- */

typedef struct LiveSet LiveSet;

typedef struct Observer {
    uint64_t id;
    char *coll;                 /* NULL: every collection */
    BlazeDBQuery *filter;       /* owned copy, or NULL */
    BlazeDBObserverFn fn;
    void *arg;
    uint64_t since;             /* deliver commits after this one */
    BlazeDBLiveQuery *live;     /* a live query's observer */
    int removed;
    struct Observer *next;
} Observer;

struct DbObs {
    pthread_mutex_t mu;         /* the list */
    pthread_mutex_t dispatch_mu;
    Observer *list;
    uint64_t next_id;
    _Atomic int count;
    uint64_t upto;              /* last commit dispatched (dispatch_mu) */
};

static _Thread_local int tl_dispatching;

static struct DbObs *obs_get(BlazeDB *db, int create)
{
    struct DbObs **slot = db_obs_slot(db);
    if (!*slot && create) {
        struct DbObs *o = calloc(1, sizeof *o);
        if (!o)
            return NULL;
        pthread_mutex_init(&o->mu, NULL);
        pthread_mutex_init(&o->dispatch_mu, NULL);
        o->next_id = 1;
        *slot = o;
    }
    return *slot;
}

/* Observers and live queries take filters, orders and limits only. */
static int plain_query(const BlazeDBQuery *q)
{
    return !q->nsel && !q->ngroupby && !q->nhaving && !q->offset;
}

static BlazeDBQuery *query_copy(const BlazeDBQuery *q)
{
    BlazeDBQuery *c = NULL;
    if (blazedb_query_new(q->coll, &c))
        return NULL;
    for (size_t i = 0; i < q->nconds; i++) {
        Cond *nc = realloc(c->conds, (c->nconds + 1) * sizeof *nc);
        if (!nc)
            goto fail;
        c->conds = nc;
        Cond k = {strdup(q->conds[i].path), q->conds[i].op,
                  q->conds[i].value ? doc_clone(q->conds[i].value) : NULL, q->conds[i].group};
        c->conds[c->nconds++] = k;
        if (!k.path || (q->conds[i].value && !k.value))
            goto fail;
    }
    for (size_t i = 0; i < q->norder; i++)
        if (blazedb_query_order_by(c, q->order[i].path, q->order[i].desc))
            goto fail;
    c->limit = q->limit;
    c->group = q->group;
    return c;
fail:
    blazedb_query_free(c);
    return NULL;
}

static void live_apply(BlazeDBLiveQuery *lq, const BlazeDBChange *ch, size_t n);
static void live_free(BlazeDBLiveQuery *lq);
static void live_detach(BlazeDBLiveQuery *lq);

static int live_is_zombie(const BlazeDBLiveQuery *lq);

/* A live query belongs to its caller, except one closed from inside a
 * callback (a zombie), which goes with its observer. */
static void observer_free(Observer *o)
{
    free(o->coll);
    blazedb_query_free(o->filter);
    if (o->live && live_is_zombie(o->live))
        live_free(o->live);
    free(o);
}

/* A change record copied out of the change log. */
typedef struct {
    BlazeDBChange ch;
    char *buf; /* collection, id, doc */
} ChangeCopy;

typedef struct {
    ChangeCopy *v;
    size_t n, cap;
    int oom;
} Batch;

static int collect(const BlazeDBChange *ch, void *arg)
{
    Batch *b = arg;
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        ChangeCopy *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) {
            b->oom = 1;
            return 1;
        }
        b->v = nv;
        b->cap = nc;
    }
    size_t len = ch->collection_len + ch->id_len + ch->doc_len;
    char *buf = malloc(len ? len : 1);
    if (!buf) {
        b->oom = 1;
        return 1;
    }
    memcpy(buf, ch->collection, ch->collection_len);
    memcpy(buf + ch->collection_len, ch->id, ch->id_len);
    if (ch->doc_len)
        memcpy(buf + ch->collection_len + ch->id_len, ch->doc, ch->doc_len);
    ChangeCopy *c = &b->v[b->n++];
    c->ch = *ch;
    c->buf = buf;
    c->ch.collection = buf;
    c->ch.id = buf + ch->collection_len;
    c->ch.doc = ch->doc_len ? buf + ch->collection_len + ch->id_len : NULL;
    return 0;
}

static int coll_is(const BlazeDBChange *ch, const char *coll)
{
    return strlen(coll) == ch->collection_len && memcmp(coll, ch->collection, ch->collection_len) == 0;
}

/* Delivers one commit's changes (ch[0..n)) to observer o. */
static void deliver(Observer *o, const BlazeDBChange *ch, size_t n, BlazeDBChange *scratch)
{
    if (o->live) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (coll_is(&ch[i], o->coll))
                scratch[k++] = ch[i];
        if (k)
            live_apply(o->live, scratch, k);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (o->coll && !coll_is(&ch[i], o->coll))
            continue;
        if (o->filter && ch[i].doc_len) {
            BlazeDBDoc *d = NULL;
            if (blazedb_doc_decode(ch[i].doc, ch[i].doc_len, &d) != BLAZEDB_OK)
                continue;
            int m = matches_value(o->filter, docapi_root(d));
            blazedb_doc_free(d);
            if (!m)
                continue;
        }
        scratch[k++] = ch[i];
    }
    if (k)
        o->fn(scratch, k, o->arg);
}

void db_obs_dispatch(BlazeDB *db)
{
    struct DbObs *o = *db_obs_slot(db);
    if (!o || atomic_load(&o->count) == 0 || tl_dispatching)
        return;
    pthread_mutex_lock(&o->dispatch_mu);
    tl_dispatching = 1;
    Batch b = {0};
    uint64_t last = o->upto;
    if (db_published_txn(db) > o->upto &&
        blazedb_changes(db, NULL, o->upto, collect, &b, &last) == BLAZEDB_OK && !b.oom) {
        /* snapshot of the observers */
        pthread_mutex_lock(&o->mu);
        size_t nobs = 0;
        for (Observer *p = o->list; p; p = p->next)
            nobs++;
        Observer **obs = malloc((nobs ? nobs : 1) * sizeof *obs);
        size_t k = 0;
        for (Observer *p = o->list; obs && p; p = p->next)
            if (!p->removed)
                obs[k++] = p;
        pthread_mutex_unlock(&o->mu);
        BlazeDBChange *group = malloc((b.n ? b.n : 1) * sizeof *group);
        BlazeDBChange *scratch = malloc((b.n ? b.n : 1) * sizeof *scratch);
        if (obs && group && scratch) {
            for (size_t i = 0; i < b.n;) {
                size_t j = i;
                while (j < b.n && b.v[j].ch.txn_id == b.v[i].ch.txn_id) {
                    group[j - i] = b.v[j].ch;
                    j++;
                }
                for (size_t x = 0; x < k; x++)
                    if (!obs[x]->removed && obs[x]->since < b.v[i].ch.txn_id)
                        deliver(obs[x], group, j - i, scratch);
                i = j;
            }
            o->upto = last > o->upto ? last : o->upto;
        }
        free(obs);
        free(group);
        free(scratch);
    }
    for (size_t i = 0; i < b.n; i++)
        free(b.v[i].buf);
    free(b.v);
    /* free what was removed meanwhile (callbacks may unobserve) */
    pthread_mutex_lock(&o->mu);
    for (Observer **pp = &o->list; *pp;) {
        Observer *p = *pp;
        if (p->removed) {
            *pp = p->next;
            observer_free(p);
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&o->mu);
    tl_dispatching = 0;
    pthread_mutex_unlock(&o->dispatch_mu);
}

/* Adds an observer; *since is set to the commit it starts after.  Caller
 * holds dispatch_mu. */
static BlazeDBResult add_observer(BlazeDB *db, struct DbObs *o, Observer *ob)
{
    pthread_mutex_lock(&o->mu);
    if (atomic_load(&o->count) == 0)
        o->upto = ob->since;
    ob->id = o->next_id++;
    ob->next = o->list;
    o->list = ob;
    atomic_fetch_add(&o->count, 1);
    pthread_mutex_unlock(&o->mu);
    (void)db;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_observe(BlazeDB *db, const char *coll, const BlazeDBQuery *filter,
                              BlazeDBObserverFn fn, void *arg, uint64_t *id)
{
    if (id)
        *id = 0;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!fn || !id)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "fn or id is NULL");
    if (filter && !plain_query(filter))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "an observer's filter takes conditions only (no select, aggregates, "
                        "grouping or offset)");
    struct DbObs *o = obs_get(db, 1);
    Observer *ob = calloc(1, sizeof *ob);
    if (!o || !ob || (coll && !(ob->coll = strdup(coll))) ||
        (filter && !(ob->filter = query_copy(filter)))) {
        if (ob)
            observer_free(ob);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    ob->fn = fn;
    ob->arg = arg;
    int nested = tl_dispatching;
    if (!nested)
        pthread_mutex_lock(&o->dispatch_mu);
    ob->since = db_published_txn(db);
    add_observer(db, o, ob);
    *id = ob->id;
    if (!nested)
        pthread_mutex_unlock(&o->dispatch_mu);
    return BLAZEDB_OK;
}

static BlazeDBResult remove_observer(BlazeDB *db, uint64_t id, BlazeDBLiveQuery *live)
{
    struct DbObs *o = obs_get(db, 0);
    if (!o)
        return db_error(db, BLAZEDB_NOT_FOUND, "no observer %llu", (unsigned long long)id);
    int nested = tl_dispatching;
    if (!nested)
        pthread_mutex_lock(&o->dispatch_mu);
    pthread_mutex_lock(&o->mu);
    BlazeDBResult rc = BLAZEDB_NOT_FOUND;
    for (Observer **pp = &o->list; *pp; pp = &(*pp)->next) {
        Observer *p = *pp;
        if (p->removed || (live ? p->live != live : p->id != id))
            continue;
        rc = BLAZEDB_OK;
        atomic_fetch_sub(&o->count, 1);
        if (nested) {
            p->removed = 1; /* freed when the dispatch ends */
        } else {
            *pp = p->next;
            observer_free(p);
        }
        break;
    }
    pthread_mutex_unlock(&o->mu);
    if (!nested)
        pthread_mutex_unlock(&o->dispatch_mu);
    if (rc)
        db_error(db, rc, "no observer %llu", (unsigned long long)id);
    return rc;
}

BlazeDBResult blazedb_unobserve(BlazeDB *db, uint64_t id)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    return remove_observer(db, id, NULL);
}

BlazeDBResult blazedb_poll(BlazeDB *db)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    db_obs_dispatch(db);
    return BLAZEDB_OK;
}

void db_obs_free(BlazeDB *db)
{
    struct DbObs **slot = db_obs_slot(db);
    struct DbObs *o = *slot;
    if (!o)
        return;
    while (o->list) {
        Observer *p = o->list;
        o->list = p->next;
        if (p->live && !live_is_zombie(p->live)) {
            live_detach(p->live); /* the caller's pointer now only closes */
            p->live = NULL;
        }
        observer_free(p);
    }
    pthread_mutex_destroy(&o->mu);
    pthread_mutex_destroy(&o->dispatch_mu);
    free(o);
    *slot = NULL;
}

/* ---- live queries -------------------------------------------------------------------- */

struct BlazeDBLiveQuery {
    BlazeDB *db;
    Observer *ob;               /* NULL once the handle closed */
    BlazeDBQuery *q;
    BlazeDBLiveFn fn;
    void *arg;
    BlazeDBDoc **set;           /* every match, in order */
    size_t n, cap;
    BlazeDBDoc **ids;           /* the same documents hashed by id */
    size_t idcap;               /* power of two, > 2 * n */
    int zombie;                 /* closed inside a callback */
};

static int live_is_zombie(const BlazeDBLiveQuery *lq) { return lq->zombie; }
static void live_detach(BlazeDBLiveQuery *lq) { lq->ob = NULL; }

static void live_free(BlazeDBLiveQuery *lq)
{
    free(lq->ids);
    blazedb_query_free_docs(lq->set, lq->n);
    blazedb_query_free(lq->q);
    free(lq);
}

static const char *doc_id_of(const BlazeDBDoc *d, size_t *len)
{
    DocValue *v = doc_path_get(docapi_root(d), "id");
    if (!v || v->type != DOC_STRING) {
        *len = 0;
        return "";
    }
    *len = v->u.s.len;
    return v->u.s.p;
}

/* Position where d belongs (first element not before it). */
static size_t live_lower(const BlazeDBLiveQuery *lq, const DocValue *d)
{
    size_t lo = 0, hi = lq->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (order_cmp(lq->q, docapi_root(lq->set[mid]), d) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- id hash: open addressing with backward-shift deletion ---- */

static size_t id_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return (size_t)h;
}

static size_t ids_slot(const BlazeDBLiveQuery *lq, const char *id, size_t len)
{
    size_t m = lq->idcap - 1, j = id_hash(id, len) & m;
    while (lq->ids[j]) {
        size_t l;
        const char *s = doc_id_of(lq->ids[j], &l);
        if (l == len && memcmp(s, id, l) == 0)
            break;
        j = (j + 1) & m;
    }
    return j;
}

static int ids_rebuild(BlazeDBLiveQuery *lq, size_t want)
{
    size_t cap = 64;
    while (cap < 2 * want + 2)
        cap *= 2;
    BlazeDBDoc **n = calloc(cap, sizeof *n);
    if (!n)
        return -1;
    free(lq->ids);
    lq->ids = n;
    lq->idcap = cap;
    for (size_t i = 0; i < lq->n; i++) {
        size_t l;
        const char *s = doc_id_of(lq->set[i], &l);
        lq->ids[ids_slot(lq, s, l)] = lq->set[i];
    }
    return 0;
}

static void ids_remove(BlazeDBLiveQuery *lq, size_t j)
{
    size_t m = lq->idcap - 1;
    lq->ids[j] = NULL;
    for (size_t k = (j + 1) & m; lq->ids[k]; k = (k + 1) & m) {
        size_t l;
        const char *s = doc_id_of(lq->ids[k], &l);
        size_t home = id_hash(s, l) & m;
        /* move k back to j when j lies cyclically in [home, k) */
        if ((k > j && (home <= j || home > k)) || (k < j && home <= j && home > k)) {
            lq->ids[j] = lq->ids[k];
            lq->ids[k] = NULL;
            j = k;
        }
    }
}

/* Index of the document with this id, or SIZE_MAX: O(1) to find it, then
 * a binary search by its own sort key. */
static size_t live_find_id(const BlazeDBLiveQuery *lq, const char *id, size_t idlen)
{
    if (!lq->ids)
        return SIZE_MAX;
    BlazeDBDoc *d = lq->ids[ids_slot(lq, id, idlen)];
    if (!d)
        return SIZE_MAX;
    size_t pos = live_lower(lq, docapi_root(d));
    return pos < lq->n && lq->set[pos] == d ? pos : SIZE_MAX;
}

static int in_window(const BlazeDBLiveQuery *lq, size_t pos)
{
    return pos != SIZE_MAX && (uint64_t)pos < lq->q->limit;
}

typedef struct {
    char *id;
    size_t len;
    int was_in;
    int touched;
    BlazeDBDoc *old_doc; /* kept alive for `left` reports */
} Watch;

static void live_apply(BlazeDBLiveQuery *lq, const BlazeDBChange *ch, size_t n)
{
    /* ids that may cross the window's edge: the touched ones, and those
     * within n places of the limit */
    size_t cap = 3 * n + 1, nw = 0;
    Watch *w = calloc(cap, sizeof *w);
    BlazeDBDoc **graveyard = calloc(n + 1, sizeof *graveyard);
    size_t ngy = 0;
    if (!w || !graveyard)
        goto out;
    if (lq->q->limit != UINT64_MAX) {
        uint64_t L = lq->q->limit;
        uint64_t from = L > n ? L - n : 0, to = L + n;
        for (uint64_t i = from; i < to && i < lq->n; i++) {
            size_t l;
            const char *s = doc_id_of(lq->set[i], &l);
            w[nw].id = malloc(l + 1);
            if (!w[nw].id)
                goto out;
            memcpy(w[nw].id, s, l);
            w[nw].len = l;
            w[nw].was_in = i < L;
            nw++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < nw; k++)
            if (w[k].len == ch[i].id_len && memcmp(w[k].id, ch[i].id, w[k].len) == 0)
                break;
        if (k == nw) {
            w[nw].id = malloc(ch[i].id_len + 1);
            if (!w[nw].id)
                goto out;
            memcpy(w[nw].id, ch[i].id, ch[i].id_len);
            w[nw].len = ch[i].id_len;
            w[nw].was_in = in_window(lq, live_find_id(lq, ch[i].id, ch[i].id_len));
            nw++;
        }
        w[k].touched = 1;
        /* apply: out with the old version, in with the new if it matches */
        size_t pos = live_find_id(lq, ch[i].id, ch[i].id_len);
        if (pos != SIZE_MAX) {
            ids_remove(lq, ids_slot(lq, ch[i].id, ch[i].id_len));
            graveyard[ngy++] = lq->set[pos];
            memmove(lq->set + pos, lq->set + pos + 1, (lq->n - pos - 1) * sizeof *lq->set);
            lq->n--;
        }
        BlazeDBDoc *d = NULL;
        if (ch[i].kind != BLAZEDB_CHANGE_DELETE && ch[i].doc_len &&
            blazedb_doc_decode(ch[i].doc, ch[i].doc_len, &d) == BLAZEDB_OK &&
            matches_value(lq->q, docapi_root(d))) {
            if (lq->n == lq->cap) {
                size_t nc = lq->cap ? lq->cap * 2 : 64;
                BlazeDBDoc **ns = realloc(lq->set, nc * sizeof *ns);
                if (!ns) {
                    blazedb_doc_free(d);
                    goto out;
                }
                lq->set = ns;
                lq->cap = nc;
            }
            if (2 * (lq->n + 1) + 2 > lq->idcap && ids_rebuild(lq, lq->n + 1)) {
                blazedb_doc_free(d);
                goto out;
            }
            size_t at = live_lower(lq, docapi_root(d));
            memmove(lq->set + at + 1, lq->set + at, (lq->n - at) * sizeof *lq->set);
            lq->set[at] = d;
            lq->n++;
            size_t l;
            const char *sid = doc_id_of(d, &l);
            lq->ids[ids_slot(lq, sid, l)] = d;
        } else {
            blazedb_doc_free(d);
        }
    }
    /* report */
    {
        const BlazeDBDoc **entered = calloc(nw + 1, sizeof *entered);
        const BlazeDBDoc **changed = calloc(nw + 1, sizeof *changed);
        const char **left = calloc(nw + 1, sizeof *left);
        size_t ne = 0, nc = 0, nl = 0;
        if (entered && changed && left) {
            for (size_t k = 0; k < nw; k++) {
                size_t pos = live_find_id(lq, w[k].id, w[k].len);
                int now_in = in_window(lq, pos);
                w[k].id[w[k].len] = 0;
                if (now_in && !w[k].was_in)
                    entered[ne++] = lq->set[pos];
                else if (!now_in && w[k].was_in)
                    left[nl++] = w[k].id;
                else if (now_in && w[k].touched)
                    changed[nc++] = lq->set[pos];
            }
            if (ne || nl || nc) {
                BlazeDBLiveUpdate u = {entered, ne, left, nl, changed, nc, ch[0].txn_id};
                lq->fn(&u, lq->arg);
            }
        }
        free(entered);
        free(changed);
        free(left);
    }
out:
    for (size_t k = 0; w && k < nw; k++)
        free(w[k].id);
    free(w);
    for (size_t i = 0; i < ngy; i++)
        blazedb_doc_free(graveyard[i]);
    free(graveyard);
}

BlazeDBResult blazedb_live_query_open(BlazeDB *db, const BlazeDBQuery *q, BlazeDBLiveFn fn,
                                      void *arg, BlazeDBLiveQuery **out)
{
    if (out)
        *out = NULL;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!q || !fn || !out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "query, fn or out is NULL");
    if (tl_dispatching)
        return db_error(db, BLAZEDB_MISUSE, "a live query cannot be opened inside a callback");
    if (!plain_query(q))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "a live query takes conditions, an order and a limit only");
    struct DbObs *o = obs_get(db, 1);
    BlazeDBLiveQuery *lq = calloc(1, sizeof *lq);
    Observer *ob = calloc(1, sizeof *ob);
    if (!o || !lq || !ob || !(lq->q = query_copy(q)) || !(ob->coll = strdup(q->coll))) {
        if (lq)
            blazedb_query_free(lq->q);
        free(lq);
        if (ob)
            free(ob->coll);
        free(ob);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    lq->db = db;
    lq->fn = fn;
    lq->arg = arg;
    /* The first result, from one snapshot, while no dispatch runs: every
     * later commit reaches the set exactly once. */
    pthread_mutex_lock(&o->dispatch_mu);
    tl_dispatching = 1;
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc = blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t);
    if (rc == BLAZEDB_OK) {
        ob->since = db_txn_snapshot(t);
        rc = scan_all(db, t, lq->q, &lq->set, &lq->n);
        lq->cap = lq->n;
        if (rc == BLAZEDB_OK && ids_rebuild(lq, lq->n))
            rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
        blazedb_txn_abort(t);
    }
    if (rc == BLAZEDB_OK) {
        ob->live = lq;
        lq->ob = ob;
        add_observer(db, o, ob);
    }
    tl_dispatching = 0;
    pthread_mutex_unlock(&o->dispatch_mu);
    if (rc) {
        free(ob->coll);
        free(ob);
        live_free(lq);
        return rc;
    }
    /* the first result, as everything entering */
    size_t k = lq->n < lq->q->limit ? lq->n : (size_t)lq->q->limit;
    if (k) {
        BlazeDBLiveUpdate u = {(const BlazeDBDoc *const *)lq->set, k, NULL, 0, NULL, 0,
                               ob->since};
        tl_dispatching = 1;
        fn(&u, arg);
        tl_dispatching = 0;
    }
    *out = lq;
    return BLAZEDB_OK;
}

size_t blazedb_live_query_count(const BlazeDBLiveQuery *lq)
{
    if (!lq)
        return 0;
    return lq->n < lq->q->limit ? lq->n : (size_t)lq->q->limit;
}

const BlazeDBDoc *blazedb_live_query_get(const BlazeDBLiveQuery *lq, size_t i)
{
    return lq && i < blazedb_live_query_count(lq) ? lq->set[i] : NULL;
}

void blazedb_live_query_close(BlazeDBLiveQuery *lq)
{
    if (!lq)
        return;
    if (!lq->ob) { /* its handle was closed */
        live_free(lq);
        return;
    }
    if (tl_dispatching) {
        lq->zombie = 1; /* freed with its observer when the dispatch ends */
        remove_observer(lq->db, 0, lq);
        return;
    }
    remove_observer(lq->db, 0, lq);
    live_free(lq);
}
