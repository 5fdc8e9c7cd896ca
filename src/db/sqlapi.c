/*
 * sqlapi.c — the public SQL API: prepared statements (prepare, bind, step,
 * columns, reset, finalize), blazedb_exec and blazedb_explain, the handle's
 * SQL transaction (BEGIN/COMMIT/ROLLBACK and named savepoints), and the
 * statements that write (INSERT, UPDATE, DELETE, CREATE/DROP INDEX and
 * COLLECTION, ANALYZE).
 *
 * Owns: statement objects and the handle's SQL state (struct DbSql).  Not:
 * planning and reading (sqlplan.c), parsing and expression semantics
 * (query/sql*.c).
 *
 * Transactions.  A statement runs in the transaction attached with
 * blazedb_stmt_set_txn; else in the handle's SQL transaction (BEGIN);
 * else in one of its own, committed when it finishes (autocommit).  A
 * write inside a longer transaction runs under a savepoint, so a failed
 * statement (a unique violation, say) undoes exactly itself.  Writes are
 * carried out completely at the first blazedb_step, which returns DONE.
 *
 * Plans are kept between runs of a statement while the catalog is
 * unchanged (same catalog root), so a prepared point query does not plan
 * again.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlexec.h"
#include "db.h"
#include "monitor.h"
#include "../doc/json.h"

/* ---- the handle's SQL state -------------------------------------------------------------- */

typedef struct {
    char *name;
    size_t level;
} NamedSp;

struct DbSql {
    pthread_mutex_t mu;
    BlazeDBTxn *txn;          /* BEGIN ... COMMIT, NULL when none */
    int sp_began;             /* the txn was begun by a SAVEPOINT */
    NamedSp *sp;
    size_t nsp;
    BlazeDBStmt *stmts;       /* live statements */
};

struct BlazeDBStmt {
    BlazeDB *db;              /* NULL once the handle was closed */
    char *sql;                /* this statement's text */
    SqlStmt *ast;
    SqlValue *params;
    int nparams;
    BlazeDBTxn *user_txn;
    /* a run */
    int state;                /* 0 ready, 1 rows, 2 done */
    BlazeDBTxn *own;
    BlazeDBTxn *txn;
    SqlxPlan *plan;
    SqlSelect *synth;         /* UPDATE/DELETE: SELECT * FROM coll WHERE ... */
    SqlxExec x;
    int exec_open;
    int analyze;              /* time the plan's operators (EXPLAIN ANALYZE) */
    uint64_t changes;
    uint64_t mon_ticks;       /* clock at this run's first step (monitor.h) */
    /* output */
    size_t ncols;
    const char *const *names;
    SqlValue *row;
    char **text;              /* per column: NUL-terminated copies / JSON */
    size_t *textlen;          /* length of text[i], SIZE_MAX: not this row */
    size_t *textcap;          /* allocated size of text[i] */
    char **json;
    size_t *jsonlen;
    size_t ncache;
    /* EXPLAIN output: lines */
    char *explain;
    char *explain_pos;
    SqlValue line;
    BlazeDBStmt *prev, *next;
};

static const char *const explain_names[] = {"plan"};

static struct DbSql *sql_state(BlazeDB *db)
{
    struct DbSql **slot = db_sql_slot(db);
    if (!*slot) {
        struct DbSql *s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        pthread_mutex_init(&s->mu, NULL);
        *slot = s; /* first use happens on the opening thread's handle; see
                      blazedb_prepare for the lock that guards this */
    }
    return *slot;
}

static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;

static struct DbSql *sql_state_locked(BlazeDB *db)
{
    pthread_mutex_lock(&state_mu);
    struct DbSql *s = sql_state(db);
    pthread_mutex_unlock(&state_mu);
    return s;
}

static void sp_clear(struct DbSql *s)
{
    for (size_t i = 0; i < s->nsp; i++)
        free(s->sp[i].name);
    free(s->sp);
    s->sp = NULL;
    s->nsp = 0;
}

static void run_end(BlazeDBStmt *st, int ok);

void db_sql_close(BlazeDB *db)
{
    struct DbSql *s = *db_sql_slot(db);
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (BlazeDBStmt *st = s->stmts; st; st = st->next) {
        run_end(st, 0);
        st->db = NULL;
        st->user_txn = NULL;
    }
    s->stmts = NULL;
    pthread_mutex_unlock(&s->mu);
    if (s->txn)
        blazedb_txn_abort(s->txn);
    sp_clear(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *db_sql_slot(db) = NULL;
}

/* ---- partial-index predicates (index.h hooks) --------------------------------------------- */

static void bind_all(SqlExpr *e)
{
    if (!e)
        return;
    if (e->kind == SQL_E_COLUMN)
        e->table = 0;
    bind_all(e->a);
    bind_all(e->b);
    bind_all(e->c);
    for (size_t i = 0; i < e->nlist; i++)
        bind_all(e->list[i]);
}

/* What a partial-index predicate may not hold: aggregates, parameters, now(). */
static int bad_in_pred(const SqlExpr *e)
{
    return e->kind == SQL_E_AGG || e->kind == SQL_E_PARAM ||
           (e->kind == SQL_E_FUNC && e->func == SQL_F_NOW);
}

static int pred_compile(const char *where, void **out, char *err, size_t errlen)
{
    SqlExpr *e = NULL;
    uint32_t epos = 0;
    char msg[SQL_ERRMAX];
    int rc = sql_parse_expr(where, strlen(where), &e, &epos, msg, sizeof msg);
    if (rc) {
        snprintf(err, errlen, "partial index predicate: %s", msg);
        return BLAZEDB_SQL_ERROR;
    }
    if (sql_expr_any(e, bad_in_pred)) {
        sql_expr_free(e);
        snprintf(err, errlen,
                 "partial index predicate: aggregates, parameters and now() are not allowed");
        return BLAZEDB_SQL_ERROR;
    }
    bind_all(e);
    *out = e;
    return BLAZEDB_OK;
}

static int pred_eval(void *compiled, const uint8_t *bin, size_t len)
{
    SqlxExec x;
    memset(&x, 0, sizeof x);
    x.doc[0] = bin;
    x.dlen[0] = len;
    SqlEvalCtx cx;
    sqlx_ctx(&x, &cx);
    SqlValue v;
    memset(&v, 0, sizeof v);
    int rc = sql_eval(compiled, &cx, &v);
    if (rc)
        return -rc;
    int t = sql_truth(&v);
    sql_value_clear(&v);
    return t == 1;
}

static void pred_free(void *compiled) { sql_expr_free(compiled); }

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_hooks(void)
{
    static const IdxPredHooks h = {pred_compile, pred_eval, pred_free};
    idx_set_pred_hooks(&h);
}

void sqlapi_init(void) { pthread_once(&init_once, init_hooks); }

/* ---- statements --------------------------------------------------------------------------- */

static BlazeDBResult serr(BlazeDBStmt *st, BlazeDBResult rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static BlazeDBResult serr(BlazeDBStmt *st, BlazeDBResult rc, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (st && st->db)
        return db_error(st->db, rc, "%s", buf);
    return db_set_errmsg(rc, "%s", buf);
}

BlazeDBResult blazedb_prepare(BlazeDB *db, const char *sql, size_t len, BlazeDBStmt **out,
                              const char **tail)
{
    if (out)
        *out = NULL;
    if (tail)
        *tail = sql;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!sql || !out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "sql or out is NULL");
    if (len == (size_t)-1)
        len = strlen(sql);
    SqlStmt *ast = NULL;
    size_t used = 0;
    uint32_t epos = 0;
    char err[SQL_ERRMAX];
    int rc = sql_parse(sql, len, &ast, &used, &epos, err, sizeof err);
    if (tail)
        *tail = sql + used;
    if (rc == BLAZEDB_NOT_FOUND)
        return BLAZEDB_OK; /* no statement: *out stays NULL */
    if (rc)
        return db_error(db, (BlazeDBResult)rc, "%s", err);
    struct DbSql *s = sql_state_locked(db);
    BlazeDBStmt *st = calloc(1, sizeof *st);
    if (st && ast->nparams > 0)
        st->params = calloc((size_t)ast->nparams, sizeof *st->params);
    if (st)
        st->sql = malloc(ast->end - ast->pos + 1 > used + 1 ? ast->end + 1 : used + 1);
    if (!s || !st || !st->sql || (ast->nparams > 0 && !st->params)) {
        if (st) {
            free(st->params);
            free(st->sql);
        }
        free(st);
        sql_stmt_free(ast);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    /* keep the text with its offsets: the AST's positions index it */
    memcpy(st->sql, sql, used);
    st->sql[used] = 0;
    st->db = db;
    st->ast = ast;
    st->nparams = ast->nparams;
    for (int i = 0; i < st->nparams; i++)
        st->params[i].type = DOC_NULL;
    pthread_mutex_lock(&s->mu);
    st->next = s->stmts;
    if (s->stmts)
        s->stmts->prev = st;
    s->stmts = st;
    pthread_mutex_unlock(&s->mu);
    *out = st;
    return BLAZEDB_OK;
}

/* Forgets the current row's column copies.  Text buffers are kept (and
 * reused by the next row) so that reading a string column does not
 * allocate per row; textlen[i] == SIZE_MAX marks one not filled. */
static void cache_clear(BlazeDBStmt *st)
{
    for (size_t i = 0; i < st->ncache; i++) {
        st->textlen[i] = SIZE_MAX;
        free(st->json[i]);
        st->json[i] = NULL;
    }
}

/* Ends a run: closes the executor, ends the statement's own transaction
 * (committing it when ok and it wrote). */
static void run_end(BlazeDBStmt *st, int ok)
{
    if (st->exec_open) {
        sqlx_close(&st->x);
        st->exec_open = 0;
    }
    cache_clear(st);
    st->row = NULL;
    free(st->explain);
    st->explain = NULL;
    if (st->own) {
        if (ok)
            blazedb_txn_commit(st->own);
        else
            blazedb_txn_abort(st->own);
        st->own = NULL;
    }
    st->txn = NULL;
    st->state = 0;
}

void blazedb_finalize(BlazeDBStmt *st)
{
    if (!st)
        return;
    BlazeDB *db = st->db;
    if (db) {
        run_end(st, 0);
        struct DbSql *s = *db_sql_slot(db);
        if (s) {
            pthread_mutex_lock(&s->mu);
            if (st->prev)
                st->prev->next = st->next;
            else if (s->stmts == st)
                s->stmts = st->next;
            if (st->next)
                st->next->prev = st->prev;
            pthread_mutex_unlock(&s->mu);
        }
    }
    cache_clear(st);
    for (size_t i = 0; i < st->ncache; i++)
        free(st->text[i]);
    free(st->text);
    free(st->textlen);
    free(st->textcap);
    free(st->json);
    free(st->jsonlen);
    sqlx_plan_free(st->plan);
    if (st->synth) {
        free(st->synth->cols);
        free(st->synth);
    }
    for (int i = 0; i < st->nparams; i++)
        sql_value_clear(&st->params[i]);
    free(st->params);
    sql_stmt_free(st->ast);
    free(st->sql);
    free(st);
}

BlazeDBResult blazedb_reset(BlazeDBStmt *st)
{
    if (!st)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!st->db)
        return BLAZEDB_MISUSE;
    /* a read that stopped early has nothing to commit; a write finished at
     * its first step */
    run_end(st, 1);
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_stmt_set_txn(BlazeDBStmt *st, BlazeDBTxn *txn)
{
    if (!st)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!st->db)
        return BLAZEDB_MISUSE;
    if (st->state)
        return serr(st, BLAZEDB_MISUSE, "the statement is running: reset it first");
    if (txn && db_txn_db(txn) != st->db)
        return serr(st, BLAZEDB_INVALID_ARGUMENT, "the transaction belongs to another handle");
    st->user_txn = txn;
    return BLAZEDB_OK;
}

uint64_t blazedb_stmt_changes(const BlazeDBStmt *st) { return st ? st->changes : 0; }

int blazedb_stmt_readonly(const BlazeDBStmt *st)
{
    return st && (st->ast->kind == SQL_SELECT ||
                  (st->ast->explain == 1));
}

/* ---- parameters ----------------------------------------------------------------------------- */

int blazedb_bind_count(const BlazeDBStmt *st) { return st ? st->nparams : 0; }

int blazedb_bind_index(const BlazeDBStmt *st, const char *name)
{
    if (!st || !name || !st->ast->param_names)
        return 0;
    for (int i = 0; i < st->nparams; i++)
        if (st->ast->param_names[i] && strcmp(st->ast->param_names[i], name) == 0)
            return i + 1;
    return 0;
}

static BlazeDBResult bind_slot(BlazeDBStmt *st, int i, SqlValue **slot)
{
    if (!st)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!st->db)
        return BLAZEDB_MISUSE;
    if (st->state)
        return serr(st, BLAZEDB_MISUSE, "the statement is running: reset it before binding");
    if (i < 1 || i > st->nparams)
        return serr(st, BLAZEDB_INVALID_ARGUMENT, "parameter %d out of range (1..%d)", i,
                    st->nparams);
    *slot = &st->params[i - 1];
    sql_value_clear(*slot);
    (*slot)->type = DOC_NULL;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_bind_null(BlazeDBStmt *st, int i)
{
    SqlValue *v = NULL;
    return bind_slot(st, i, &v);
}

static BlazeDBResult bind_num(BlazeDBStmt *st, int i, int type, int64_t iv, double d)
{
    SqlValue *v = NULL;
    BlazeDBResult rc = bind_slot(st, i, &v);
    if (rc)
        return rc;
    v->type = (uint8_t)type;
    v->i = iv;
    v->d = d;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_bind_bool(BlazeDBStmt *st, int i, int b)
{
    return bind_num(st, i, DOC_BOOL, b != 0, 0);
}
BlazeDBResult blazedb_bind_int(BlazeDBStmt *st, int i, int64_t v)
{
    return bind_num(st, i, DOC_INT, v, 0);
}
BlazeDBResult blazedb_bind_date(BlazeDBStmt *st, int i, int64_t ms)
{
    return bind_num(st, i, DOC_DATE, ms, 0);
}
BlazeDBResult blazedb_bind_double(BlazeDBStmt *st, int i, double d)
{
    if (d != d) /* NaN: the one canonical NaN */
        d = __builtin_nan("");
    return bind_num(st, i, DOC_DOUBLE, 0, d);
}

static BlazeDBResult bind_bytes(BlazeDBStmt *st, int i, int type, const void *p, size_t len)
{
    SqlValue *v = NULL;
    BlazeDBResult rc = bind_slot(st, i, &v);
    if (rc)
        return rc;
    if (!p && len)
        return serr(st, BLAZEDB_INVALID_ARGUMENT, "NULL data with a non-zero length");
    char *c = malloc(len + 1);
    if (!c)
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    if (len)
        memcpy(c, p, len);
    c[len] = 0;
    v->type = (uint8_t)type;
    v->s = c;
    v->len = len;
    v->owned = 1;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_bind_text(BlazeDBStmt *st, int i, const char *s, size_t len)
{
    if (!s && len)
        return serr(st, BLAZEDB_INVALID_ARGUMENT, "parameter %d: NULL text with a length", i);
    if (s && len == (size_t)-1)
        len = strlen(s);
    if (s && !doc_utf8_valid((const uint8_t *)s, len))
        return serr(st, BLAZEDB_INVALID_ARGUMENT, "parameter %d: text is not valid UTF-8", i);
    return bind_bytes(st, i, DOC_STRING, s, s ? len : 0);
}

BlazeDBResult blazedb_bind_bytes(BlazeDBStmt *st, int i, const void *p, size_t len)
{
    return bind_bytes(st, i, DOC_BYTES, p, len);
}

BlazeDBResult blazedb_bind_json(BlazeDBStmt *st, int i, const char *json, size_t len)
{
    if (!json)
        return serr(st, BLAZEDB_INVALID_ARGUMENT, "json is NULL");
    if (len == (size_t)-1)
        len = strlen(json);
    DocValue *dv = NULL;
    char err[DOC_ERRMAX];
    BlazeDBResult rc = doc_from_json(json, len, &dv, err);
    if (rc)
        return serr(st, rc, "parameter %d: %s", i, err);
    SqlValue tmp;
    memset(&tmp, 0, sizeof tmp);
    rc = (BlazeDBResult)sql_value_from_doc(dv, &tmp);
    doc_free(dv);
    if (rc)
        return serr(st, rc, "out of memory");
    SqlValue *v = NULL;
    if ((rc = bind_slot(st, i, &v))) {
        sql_value_clear(&tmp);
        return rc;
    }
    *v = tmp;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_clear_bindings(BlazeDBStmt *st)
{
    if (!st)
        return BLAZEDB_INVALID_ARGUMENT;
    if (st->state)
        return serr(st, BLAZEDB_MISUSE, "the statement is running: reset it first");
    for (int i = 0; i < st->nparams; i++) {
        sql_value_clear(&st->params[i]);
        st->params[i].type = DOC_NULL;
    }
    return BLAZEDB_OK;
}

/* ---- columns ---------------------------------------------------------------------------------- */

size_t blazedb_column_count(const BlazeDBStmt *st) { return st ? st->ncols : 0; }

const char *blazedb_column_name(const BlazeDBStmt *st, size_t i)
{
    return st && i < st->ncols && st->names ? st->names[i] : NULL;
}

static const SqlValue *col(const BlazeDBStmt *st, size_t i)
{
    if (!st || !st->row || i >= st->ncols)
        return NULL;
    return &st->row[i];
}

BlazeDBType blazedb_column_type(const BlazeDBStmt *st, size_t i)
{
    const SqlValue *v = col(st, i);
    return v ? (BlazeDBType)v->type : BLAZEDB_TYPE_MISSING;
}

int64_t blazedb_column_int(const BlazeDBStmt *st, size_t i)
{
    const SqlValue *v = col(st, i);
    if (!v)
        return 0;
    if (v->type == DOC_INT || v->type == DOC_BOOL || v->type == DOC_DATE)
        return v->i;
    if (v->type == DOC_DOUBLE) {
        if (v->d != v->d)
            return 0;
        if (v->d >= 9223372036854775807.0)
            return INT64_MAX;
        if (v->d <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)v->d;
    }
    return 0;
}

double blazedb_column_double(const BlazeDBStmt *st, size_t i)
{
    const SqlValue *v = col(st, i);
    if (!v)
        return 0;
    if (v->type == DOC_DOUBLE)
        return v->d;
    if (v->type == DOC_INT || v->type == DOC_BOOL || v->type == DOC_DATE)
        return (double)v->i;
    return 0;
}

const char *blazedb_column_text(const BlazeDBStmt *st_c, size_t i, size_t *len)
{
    BlazeDBStmt *st = (BlazeDBStmt *)st_c; /* the cache is logically const */
    const SqlValue *v = col(st, i);
    if (len)
        *len = 0;
    if (!v || v->type != DOC_STRING)
        return NULL;
    if (st->textlen[i] == SIZE_MAX) {
        if (st->textcap[i] < v->len + 1) {
            size_t cap = v->len + 1 < 64 ? 64 : v->len + 1;
            char *c = realloc(st->text[i], cap);
            if (!c)
                return NULL;
            st->text[i] = c;
            st->textcap[i] = cap;
        }
        memcpy(st->text[i], v->s, v->len);
        st->text[i][v->len] = 0;
        st->textlen[i] = v->len;
    }
    if (len)
        *len = v->len;
    return st->text[i];
}

const void *blazedb_column_bytes(const BlazeDBStmt *st, size_t i, size_t *len)
{
    const SqlValue *v = col(st, i);
    if (len)
        *len = 0;
    if (!v || (v->type != DOC_BYTES && v->type != DOC_UUID))
        return NULL;
    if (len)
        *len = v->len;
    return v->s ? v->s : "";
}

/* A value as JSON (malloc'd). */
static int value_json(const SqlValue *v, char **out, size_t *len)
{
    char err[DOC_ERRMAX];
    if (v->type == DOC_ARRAY || v->type == DOC_OBJECT || v->type == DOC_VECTOR)
        return doc_bin_to_json((const uint8_t *)v->s, v->len, 0, out, len, err);
    DocValue *dv = NULL;
    int rc = sql_value_to_doc(v, &dv);
    if (rc)
        return rc;
    rc = doc_to_json(dv, 0, out, len, err);
    doc_free(dv);
    return rc;
}

const char *blazedb_column_json(BlazeDBStmt *st, size_t i, size_t *len)
{
    const SqlValue *v = col(st, i);
    if (len)
        *len = 0;
    if (!v)
        return NULL;
    if (!st->json[i]) {
        if (value_json(v, &st->json[i], &st->jsonlen[i]))
            return NULL;
    }
    if (len)
        *len = st->jsonlen[i];
    return st->json[i];
}

BlazeDBResult blazedb_row_doc(BlazeDBStmt *st, BlazeDBDoc **out)
{
    if (out)
        *out = NULL;
    if (!st || !out)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!st->row)
        return serr(st, BLAZEDB_MISUSE, "no row: blazedb_step did not return ROW");
    if (st->plan && st->plan->star_doc && st->row[0].type == DOC_OBJECT && !st->explain) {
        uint8_t *c = malloc(st->row[0].len);
        if (!c)
            return serr(st, BLAZEDB_NOMEM, "out of memory");
        memcpy(c, st->row[0].s, st->row[0].len);
        return docapi_from_binary_owned(c, st->row[0].len, out);
    }
    DocValue *obj = doc_new(DOC_OBJECT);
    if (!obj)
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    BlazeDBResult rc = BLAZEDB_OK;
    for (size_t i = 0; i < st->ncols && rc == BLAZEDB_OK; i++) {
        DocValue *v = NULL;
        if ((rc = (BlazeDBResult)sql_value_to_doc(&st->row[i], &v)))
            break;
        const char *name = st->names[i];
        rc = doc_obj_put(obj, name, strlen(name), v);
    }
    uint8_t *bin = NULL;
    size_t blen = 0;
    char err[DOC_ERRMAX];
    if (rc == BLAZEDB_OK)
        rc = docbin_encode(obj, &bin, &blen, err);
    doc_free(obj);
    if (rc)
        return serr(st, rc, "cannot build the row document: %s", blazedb_strerror(rc));
    return docapi_from_binary_owned(bin, blen, out);
}

static int cache_ready(BlazeDBStmt *st, size_t n)
{
    if (n <= st->ncache)
        return 1;
    char **t = realloc(st->text, n * sizeof *t);
    if (t)
        st->text = t;
    size_t *tl = realloc(st->textlen, n * sizeof *tl);
    if (tl)
        st->textlen = tl;
    char **j = realloc(st->json, n * sizeof *j);
    if (j)
        st->json = j;
    size_t *jl = realloc(st->jsonlen, n * sizeof *jl);
    if (jl)
        st->jsonlen = jl;
    size_t *tc = realloc(st->textcap, n * sizeof *tc);
    if (tc)
        st->textcap = tc;
    if (!t || !tl || !j || !jl || !tc)
        return 0;
    for (size_t i = st->ncache; i < n; i++) {
        st->text[i] = NULL;
        st->textlen[i] = SIZE_MAX;
        st->textcap[i] = 0;
        st->json[i] = NULL;
    }
    st->ncache = n;
    return 1;
}

/* ---- running --------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The transaction a run uses: attached, the handle's, or its own. */
/* The transaction a statement joins: the attached one, else the handle's
 * SQL transaction, else none (it runs in its own). */
static BlazeDBTxn *outer_txn(BlazeDBStmt *st)
{
    if (st->user_txn)
        return st->user_txn;
    struct DbSql *s = *db_sql_slot(st->db);
    return s ? s->txn : NULL;
}

/* The transaction a read runs in: the outer one, or a read transaction of
 * its own (st->own, ended by run_end). */
static BlazeDBResult run_txn(BlazeDBStmt *st)
{
    if ((st->txn = outer_txn(st)))
        return BLAZEDB_OK;
    BlazeDBResult rc = blazedb_txn_begin(st->db, BLAZEDB_TXN_READONLY, &st->own);
    st->txn = st->own;
    return rc;
}

/* An evaluation context over the statement's parameters, at this time. */
static void exec_ctx(BlazeDBStmt *st, SqlxExec *x)
{
    memset(x, 0, sizeof *x);
    x->db = st->db;
    x->params = st->params;
    x->nparams = (size_t)st->nparams;
    x->now_ms = now_ms();
}

static void exec_init(BlazeDBStmt *st, int analyze)
{
    exec_ctx(st, &st->x);
    st->x.pt = db_txn_pt(st->txn);
    st->x.plan = st->plan;
    st->x.analyze = analyze || st->analyze;
}

/* Plans sel in the run's transaction, keeping the previous plan while the
 * catalog is unchanged. */
static BlazeDBResult plan_for(BlazeDBStmt *st, SqlSelect *sel)
{
    PagerTxn *pt = db_txn_pt(st->txn);
    const PagerRoot *cr = &pager_txn_meta(pt)->roots[PAGER_ROOT_CATALOG];
    if (st->plan && st->plan->cat_pgno == cr->root.pgno && st->plan->cat_ctr == cr->root.ctr &&
        st->plan->sel == sel)
        return BLAZEDB_OK;
    sqlx_plan_free(st->plan);
    st->plan = NULL;
    char err[SQL_ERRMAX + 128];
    int rc = sqlx_plan(pt, sel, st->sql, &st->plan, err, sizeof err);
    if (rc)
        return serr(st, (BlazeDBResult)rc, "%s", err);
    return BLAZEDB_OK;
}

static BlazeDBResult exec_error(BlazeDBStmt *st, int rc)
{
    if (rc == BLAZEDB_CANCELLED)
        return serr(st, BLAZEDB_CANCELLED, "interrupted");
    return serr(st, (BlazeDBResult)rc, "%s", st->x.err[0] ? st->x.err : blazedb_strerror(rc));
}

/* SELECT * FROM coll WHERE where (UPDATE/DELETE). */
static BlazeDBResult synth_select(BlazeDBStmt *st)
{
    if (st->synth)
        return BLAZEDB_OK;
    SqlSelect *s = calloc(1, sizeof *s);
    SqlResultCol *c = calloc(1, sizeof *c);
    if (!s || !c) {
        free(s);
        free(c);
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    }
    s->cols = c;
    s->ncols = 1;
    s->has_from = 1;
    s->from.coll = st->ast->coll;
    s->where = st->ast->where;
    st->synth = s;
    return BLAZEDB_OK;
}

/* The ids (and old documents) matching an UPDATE/DELETE's WHERE. */
typedef struct {
    char **ids;
    size_t n, cap;
    size_t mem;
} IdList;

static void ids_free(IdList *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    memset(l, 0, sizeof *l);
}

static BlazeDBResult collect_ids(BlazeDBStmt *st, IdList *l)
{
    BlazeDBResult rc = synth_select(st);
    if (!rc)
        rc = plan_for(st, st->synth);
    if (rc)
        return rc;
    exec_init(st, 0);
    int r = sqlx_open(&st->x);
    while (r == BLAZEDB_OK || r == BLAZEDB_ROW) {
        r = sqlx_next(&st->x);
        if (r != BLAZEDB_ROW)
            break;
        DocView v;
        const SqlValue *d = &st->x.out[0];
        if (docbin_lookup_valid((const uint8_t *)d->s, d->len, "id", &v) || v.type != DOC_STRING)
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            char **ni = realloc(l->ids, cap * sizeof *ni);
            if (!ni) {
                r = BLAZEDB_NOMEM;
                break;
            }
            l->ids = ni;
            l->cap = cap;
        }
        char *id = malloc(v.dlen + 1);
        if (!id) {
            r = BLAZEDB_NOMEM;
            break;
        }
        memcpy(id, v.data, v.dlen);
        id[v.dlen] = 0;
        l->ids[l->n++] = id;
        l->mem += v.dlen + 32;
        if (l->mem > SQLX_MEM_LIMIT) {
            snprintf(st->x.err, sizeof st->x.err,
                     "the statement matches more documents than fit in %u MiB of ids; narrow "
                     "its WHERE and run it in parts",
                     (unsigned)(SQLX_MEM_LIMIT >> 20));
            r = BLAZEDB_NOMEM;
            break;
        }
    }
    sqlx_close(&st->x);
    if (r != BLAZEDB_DONE)
        return exec_error(st, r);
    return BLAZEDB_OK;
}

static BlazeDBResult eval_const(BlazeDBStmt *st, const SqlExpr *e, SqlValue *out)
{
    SqlxExec x;
    exec_ctx(st, &x);
    SqlEvalCtx cx;
    sqlx_ctx(&x, &cx);
    memset(out, 0, sizeof *out);
    int rc = sql_eval(e, &cx, out);
    if (rc)
        return serr(st, (BlazeDBResult)rc, "%s", cx.err[0] ? cx.err : blazedb_strerror(rc));
    return BLAZEDB_OK;
}

/* Field references (and aggregates) are not allowed in VALUES. */
static int reads_fields(const SqlExpr *e)
{
    return e->kind == SQL_E_COLUMN || e->kind == SQL_E_AGG;
}

static BlazeDBResult do_insert(BlazeDBStmt *st)
{
    SqlStmt *a = st->ast;
    BlazeDBResult rc = BLAZEDB_OK;
    BlazeDBDoc **docs = calloc(a->nrows ? a->nrows : 1, sizeof *docs);
    if (!docs)
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    for (size_t r = 0; r < a->nrows && rc == BLAZEDB_OK; r++) {
        if (a->json_docs) {
            SqlValue v;
            if (sql_expr_any(a->rows[r][0], reads_fields)) {
                rc = serr(st, BLAZEDB_SQL_ERROR, "INSERT ... JSON: row %zu refers to a field", r + 1);
                break;
            }
            if ((rc = eval_const(st, a->rows[r][0], &v)))
                break;
            if (v.type == DOC_STRING) {
                rc = blazedb_doc_from_json(v.s, v.len, &docs[r]);
                if (rc)
                    rc = serr(st, rc, "INSERT ... JSON: row %zu: %s", r + 1, blazedb_errmsg(NULL));
            } else if (v.type == DOC_OBJECT) {
                uint8_t *c = malloc(v.len);
                if (!c) {
                    rc = serr(st, BLAZEDB_NOMEM, "out of memory");
                } else {
                    memcpy(c, v.s, v.len);
                    rc = docapi_from_binary_owned(c, v.len, &docs[r]);
                }
            } else {
                rc = serr(st, BLAZEDB_SQL_ERROR,
                          "INSERT ... JSON: row %zu is not a JSON object text or an object", r + 1);
            }
            sql_value_clear(&v);
            continue;
        }
        if ((rc = blazedb_doc_new(&docs[r])))
            break;
        for (size_t f = 0; f < a->nfields && rc == BLAZEDB_OK; f++) {
            SqlExpr *e = a->rows[r][f];
            if (sql_expr_any(e, reads_fields)) {
                rc = serr(st, BLAZEDB_SQL_ERROR, "VALUES (offset %u) cannot refer to fields", e->pos);
                break;
            }
            SqlValue v;
            if ((rc = eval_const(st, e, &v)))
                break;
            if (v.type == DOC_NULL) {
                sql_value_clear(&v);
                rc = blazedb_doc_set_null(docs[r], a->fields[f]);
            } else {
                DocValue *dv = NULL;
                rc = (BlazeDBResult)sql_value_to_doc(&v, &dv);
                sql_value_clear(&v);
                if (rc == BLAZEDB_OK)
                    rc = docapi_set_value(docs[r], a->fields[f], dv);
            }
            if (rc && rc != BLAZEDB_NOMEM)
                rc = serr(st, rc, "field '%s': %s", a->fields[f], blazedb_errmsg(NULL));
        }
    }
    if (rc == BLAZEDB_OK) {
        if (a->or_replace) {
            rc = coll_write_many(st->db, st->txn, a->coll, docs, a->nrows, COLL_UPSERT);
        } else {
            rc = blazedb_insert_many(st->db, st->txn, a->coll, docs, a->nrows);
        }
        if (rc == BLAZEDB_OK)
            st->changes = a->nrows;
    }
    for (size_t r = 0; r < a->nrows; r++)
        blazedb_doc_free(docs[r]);
    free(docs);
    return rc;
}

/* Documents an UPDATE writes per call of the collection layer. */
#define UPDATE_BATCH 256

/* Sets the UPDATE's fields in doc, every SET reading the document as it
 * was; vals is scratch for a->nset values. */
static BlazeDBResult apply_sets(BlazeDBStmt *st, BlazeDBDoc *doc, SqlValue *vals)
{
    SqlStmt *a = st->ast;
    void *bin = NULL;
    size_t blen = 0;
    BlazeDBResult rc = blazedb_doc_encode(doc, &bin, &blen);
    if (rc)
        return rc;
    SqlxExec x;
    exec_ctx(st, &x);
    x.doc[0] = bin;
    x.dlen[0] = blen;
    SqlEvalCtx cx;
    sqlx_ctx(&x, &cx);
    for (size_t i = 0; i < a->nset && rc == BLAZEDB_OK; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        /* may borrow from bin, which lives until they are applied */
        rc = (BlazeDBResult)sql_eval(a->set_vals[i], &cx, &vals[i]);
        if (rc)
            rc = serr(st, rc, "%s", cx.err[0] ? cx.err : blazedb_strerror(rc));
    }
    for (size_t i = 0; i < a->nset && rc == BLAZEDB_OK; i++) {
        DocValue *dv = NULL;
        rc = (BlazeDBResult)sql_value_to_doc(&vals[i], &dv);
        if (rc == BLAZEDB_OK)
            rc = docapi_set_value(doc, a->set_paths[i], dv);
        if (rc && rc != BLAZEDB_NOMEM)
            rc = serr(st, rc, "SET %s: %s", a->set_paths[i], blazedb_errmsg(NULL));
    }
    for (size_t i = 0; i < a->nset; i++)
        sql_value_clear(&vals[i]);
    blazedb_free(bin);
    return rc;
}

static BlazeDBResult do_update(BlazeDBStmt *st)
{
    SqlStmt *a = st->ast;
    for (size_t i = 0; i < a->nset; i++) {
        if (strcmp(a->set_paths[i], "id") == 0)
            return serr(st, BLAZEDB_SQL_ERROR, "UPDATE cannot change a document's id");
        if (sql_has_agg(a->set_vals[i]))
            return serr(st, BLAZEDB_SQL_ERROR, "aggregates are not allowed in SET");
        bind_all(a->set_vals[i]); /* fields of the document being updated */
    }
    IdList ids = {0};
    BlazeDBResult rc = collect_ids(st, &ids);
    SqlValue *vals = calloc(a->nset ? a->nset : 1, sizeof *vals);
    BlazeDBDoc *batch[UPDATE_BATCH];
    size_t nb = 0;
    if (!vals && rc == BLAZEDB_OK)
        rc = serr(st, BLAZEDB_NOMEM, "out of memory");
    for (size_t k = 0; k <= ids.n && rc == BLAZEDB_OK; k++) {
        /* the new versions are written a batch at a time, in one call */
        if (nb == UPDATE_BATCH || (k == ids.n && nb)) {
            rc = coll_write_many(st->db, st->txn, a->coll, batch, nb, COLL_REPLACE);
            if (rc == BLAZEDB_OK)
                st->changes += nb;
            while (nb)
                blazedb_doc_free(batch[--nb]);
            if (rc)
                break;
        }
        if (k == ids.n)
            break;
        BlazeDBDoc *doc = NULL;
        rc = blazedb_get_doc(st->db, st->txn, a->coll, ids.ids[k], &doc);
        if (rc == BLAZEDB_NOT_FOUND) {
            rc = BLAZEDB_OK;
            continue;
        }
        if (rc == BLAZEDB_OK)
            rc = apply_sets(st, doc, vals);
        if (rc == BLAZEDB_OK)
            batch[nb++] = doc;
        else
            blazedb_doc_free(doc);
    }
    while (nb)
        blazedb_doc_free(batch[--nb]);
    free(vals);
    ids_free(&ids);
    return rc;
}

static BlazeDBResult do_delete(BlazeDBStmt *st)
{
    IdList ids = {0};
    BlazeDBResult rc = collect_ids(st, &ids);
    if (rc == BLAZEDB_OK && ids.n) {
        uint64_t n = 0;
        rc = blazedb_delete_many(st->db, st->txn, st->ast->coll, (const char *const *)ids.ids,
                                 ids.n, &n);
        st->changes = n;
    }
    ids_free(&ids);
    return rc;
}

static BlazeDBResult analyze_one(BlazeDBStmt *st, const char *name)
{
    PagerTxn *pt = db_txn_pt(st->txn);
    CatColl c;
    int r = cat_get(pt, name, strlen(name), &c);
    if (r == BLAZEDB_NOT_FOUND)
        return serr(st, BLAZEDB_NOT_FOUND, "no collection '%s'", name);
    IdxDef *defs = NULL;
    size_t nd = 0;
    if (r == BLAZEDB_OK && (c.flags & CAT_F_HAS_INDEXES))
        r = idx_list(pt, c.id, &defs, &nd);
    for (size_t k = 0; k < nd && r == BLAZEDB_OK; k++)
        r = idx_analyze(pt, defs[k].name);
    idx_defs_free(defs, nd);
    if (r)
        return serr(st, (BlazeDBResult)r, "ANALYZE %s: %s", name, blazedb_strerror(r));
    return BLAZEDB_OK;
}

/* ANALYZE [coll]: recomputes the statistics of the indexes. */
static BlazeDBResult do_analyze(BlazeDBStmt *st)
{
    if (st->ast->coll)
        return analyze_one(st, st->ast->coll);
    char **names = NULL; /* one block (blazedb_collection_list) */
    size_t n = 0;
    BlazeDBResult rc = blazedb_collection_list(st->db, st->txn, &names, &n);
    for (size_t i = 0; i < n && rc == BLAZEDB_OK; i++)
        rc = analyze_one(st, names[i]);
    blazedb_free(names);
    return rc;
}

/* BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO. */
static BlazeDBResult do_txn(BlazeDBStmt *st)
{
    struct DbSql *s = sql_state_locked(st->db);
    if (!s)
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    SqlStmt *a = st->ast;
    BlazeDBResult rc = BLAZEDB_OK;
    if (st->user_txn)
        return serr(st, BLAZEDB_MISUSE,
                    "transaction statements cannot run in an attached transaction");
    switch (a->kind) {
    case SQL_BEGIN:
        if (s->txn)
            return serr(st, BLAZEDB_MISUSE, "a transaction is already open (BEGIN inside BEGIN)");
        rc = blazedb_txn_begin(st->db, 0, &s->txn);
        if (rc == BLAZEDB_READONLY)
            rc = blazedb_txn_begin(st->db, BLAZEDB_TXN_READONLY, &s->txn);
        s->sp_began = 0;
        return rc;
    case SQL_COMMIT:
        if (!s->txn)
            return serr(st, BLAZEDB_MISUSE, "COMMIT without a transaction");
        rc = blazedb_txn_commit(s->txn);
        s->txn = NULL;
        sp_clear(s);
        return rc;
    case SQL_ROLLBACK:
        if (!s->txn)
            return serr(st, BLAZEDB_MISUSE, "ROLLBACK without a transaction");
        blazedb_txn_abort(s->txn);
        s->txn = NULL;
        sp_clear(s);
        return BLAZEDB_OK;
    case SQL_SAVEPOINT: {
        if (!s->txn) {
            if ((rc = blazedb_txn_begin(st->db, 0, &s->txn)))
                return rc;
            s->sp_began = 1;
        }
        size_t level;
        if ((rc = blazedb_savepoint(s->txn, &level)))
            return rc;
        NamedSp *ns = realloc(s->sp, (s->nsp + 1) * sizeof *ns);
        char *name = strdup(a->name);
        if (!ns || !name) {
            free(name);
            if (ns)
                s->sp = ns;
            return serr(st, BLAZEDB_NOMEM, "out of memory");
        }
        s->sp = ns;
        ns[s->nsp].name = name;
        ns[s->nsp].level = level;
        s->nsp++;
        return BLAZEDB_OK;
    }
    case SQL_RELEASE:
    case SQL_ROLLBACK_TO: {
        size_t i = s->nsp;
        while (i > 0 && strcmp(s->sp[i - 1].name, a->name))
            i--;
        if (i == 0)
            return serr(st, BLAZEDB_NOT_FOUND, "no savepoint named '%s'", a->name);
        size_t level = s->sp[i - 1].level;
        if (a->kind == SQL_RELEASE) {
            rc = blazedb_savepoint_release(s->txn, level);
            if (rc)
                return rc;
            for (size_t k = i - 1; k < s->nsp; k++)
                free(s->sp[k].name);
            s->nsp = i - 1;
            if (s->nsp == 0 && s->sp_began) {
                rc = blazedb_txn_commit(s->txn);
                s->txn = NULL;
                sp_clear(s);
            }
            return rc;
        }
        /* ROLLBACK TO keeps the savepoint itself (as in SQLite) */
        rc = blazedb_savepoint_rollback(s->txn, level);
        if (rc)
            return rc;
        for (size_t k = i; k < s->nsp; k++)
            free(s->sp[k].name);
        s->nsp = i;
        /* rolling back released the savepoint level: take it again */
        size_t again;
        if ((rc = blazedb_savepoint(s->txn, &again)) == BLAZEDB_OK)
            s->sp[i - 1].level = again;
        return rc;
    }
    default:
        return BLAZEDB_INTERNAL_ERROR;
    }
}

/* A write statement, whole. */
static BlazeDBResult run_write(BlazeDBStmt *st)
{
    SqlStmt *a = st->ast;
    DbCall call; /* the outer transaction under a savepoint, or our own */
    BlazeDBResult rc = db_call_begin(st->db, outer_txn(st), 1, &call);
    if (rc)
        return rc;
    st->txn = call.t;
    st->changes = 0;
    switch (a->kind) {
    case SQL_INSERT:
        rc = do_insert(st);
        break;
    case SQL_UPDATE:
        rc = do_update(st);
        break;
    case SQL_DELETE:
        rc = do_delete(st);
        break;
    case SQL_CREATE_INDEX: {
        BlazeDBIndexField f[IDX_MAX_FIELDS];
        if (a->nifields > IDX_MAX_FIELDS) {
            rc = serr(st, BLAZEDB_SQL_ERROR, "an index holds at most %d fields", IDX_MAX_FIELDS);
            break;
        }
        for (size_t i = 0; i < a->nifields; i++) {
            f[i].path = a->ifields[i].path;
            f[i].descending = a->ifields[i].desc;
            f[i].each = a->ifields[i].each;
        }
        rc = blazedb_index_create(st->db, st->txn, a->coll, a->name, f, a->nifields,
                                  a->unique ? BLAZEDB_INDEX_UNIQUE : 0, a->where_text);
        if (rc == BLAZEDB_EXISTS && a->if_exists)
            rc = BLAZEDB_OK;
        break;
    }
    case SQL_DROP_INDEX:
        rc = blazedb_index_drop(st->db, st->txn, a->name);
        if (rc == BLAZEDB_NOT_FOUND && a->if_exists)
            rc = BLAZEDB_OK;
        break;
    case SQL_CREATE_COLLECTION:
        rc = blazedb_collection_create(st->db, st->txn, a->coll ? a->coll : a->name, NULL);
        if (rc == BLAZEDB_EXISTS && a->if_exists)
            rc = BLAZEDB_OK;
        break;
    case SQL_DROP_COLLECTION:
        rc = blazedb_collection_drop(st->db, st->txn, a->coll ? a->coll : a->name);
        if (rc == BLAZEDB_NOT_FOUND && a->if_exists)
            rc = BLAZEDB_OK;
        break;
    case SQL_ANALYZE:
        rc = do_analyze(st);
        break;
    default:
        rc = BLAZEDB_INTERNAL_ERROR;
    }
    rc = db_call_end(&call, rc);
    st->txn = NULL;
    return rc;
}

static int is_write(SqlStmtKind k)
{
    return k == SQL_INSERT || k == SQL_UPDATE || k == SQL_DELETE || k == SQL_CREATE_INDEX ||
           k == SQL_DROP_INDEX || k == SQL_CREATE_COLLECTION || k == SQL_DROP_COLLECTION ||
           k == SQL_ANALYZE;
}

static int is_txn_stmt(SqlStmtKind k)
{
    return k == SQL_BEGIN || k == SQL_COMMIT || k == SQL_ROLLBACK || k == SQL_SAVEPOINT ||
           k == SQL_RELEASE || k == SQL_ROLLBACK_TO;
}

/* EXPLAIN [ANALYZE]: the plan text, then one row per line. */
static BlazeDBResult explain_start(BlazeDBStmt *st, unsigned flags, char **out)
{
    SqlStmt *a = st->ast;
    *out = NULL;
    SqlSelect *sel = a->kind == SQL_SELECT ? a->select : NULL;
    if (a->kind == SQL_UPDATE || a->kind == SQL_DELETE) {
        BlazeDBResult rc = synth_select(st);
        if (rc)
            return rc;
        sel = st->synth;
    }
    if (!sel)
        return serr(st, BLAZEDB_SQL_ERROR, "EXPLAIN applies to SELECT, UPDATE and DELETE");
    int analyze = (flags & BLAZEDB_EXPLAIN_ANALYZE) != 0;
    BlazeDBResult rc;
    if (analyze && sel == st->synth) {
        /* run the write itself; its read part records the actuals */
        st->analyze = 1;
        rc = run_write(st);
        st->analyze = 0;
        if (rc)
            return rc;
        if (!st->plan)
            return serr(st, BLAZEDB_INTERNAL_ERROR, "no plan after the run");
    } else {
        if ((rc = run_txn(st)))
            return rc;
        if ((rc = plan_for(st, sel))) {
            run_end(st, 0);
            return rc;
        }
        if (analyze) {
            exec_init(st, 1);
            int r = sqlx_open(&st->x);
            st->exec_open = 1;
            while (r == BLAZEDB_OK || r == BLAZEDB_ROW)
                r = sqlx_next(&st->x);
            if (r != BLAZEDB_DONE) {
                rc = exec_error(st, r);
                run_end(st, 0);
                return rc;
            }
        }
    }
    char *text = sqlx_explain(st->plan, flags);
    run_end(st, 1);
    if (!text)
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    *out = text;
    return BLAZEDB_OK;
}

static BlazeDBResult explain_row(BlazeDBStmt *st)
{
    char *p = st->explain_pos;
    if (!p || !*p)
        return BLAZEDB_DONE;
    char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    memset(&st->line, 0, sizeof st->line);
    st->line.type = DOC_STRING;
    st->line.s = p;
    st->line.len = n;
    st->explain_pos = nl ? nl + 1 : p + n;
    if (!cache_ready(st, 1))
        return serr(st, BLAZEDB_NOMEM, "out of memory");
    cache_clear(st);
    st->row = &st->line;
    st->ncols = 1;
    st->names = explain_names;
    return BLAZEDB_ROW;
}

static BlazeDBResult step_run(BlazeDBStmt *st)
{
    if (!st)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!st->db || !db_handle_ok(st->db))
        return BLAZEDB_MISUSE;
    SqlStmt *a = st->ast;
    BlazeDBResult rc;
    if (st->state == 2)
        return BLAZEDB_DONE;
    if (a->explain) {
        if (st->state == 0) {
            char *text = NULL;
            rc = explain_start(st, a->explain == 2 ? BLAZEDB_EXPLAIN_ANALYZE : 0, &text);
            if (rc)
                return rc;
            st->explain = text;
            st->explain_pos = text;
            st->state = 1;
        }
        rc = explain_row(st);
        if (rc == BLAZEDB_DONE)
            st->state = 2;
        return rc;
    }
    if (is_txn_stmt(a->kind)) {
        st->state = 2;
        return (rc = do_txn(st)) ? rc : BLAZEDB_DONE;
    }
    if (is_write(a->kind)) {
        st->state = 2;
        st->ncols = 0;
        return (rc = run_write(st)) ? rc : BLAZEDB_DONE;
    }
    /* SELECT */
    if (st->state == 0) {
        if ((rc = run_txn(st)))
            return rc;
        if ((rc = plan_for(st, a->select))) {
            run_end(st, 0);
            return rc;
        }
        exec_init(st, 0);
        int r = sqlx_open(&st->x);
        st->exec_open = 1;
        if (r) {
            rc = exec_error(st, r);
            run_end(st, 0);
            return rc;
        }
        st->ncols = st->plan->ncols;
        st->names = (const char *const *)st->plan->colnames;
        if (!cache_ready(st, st->ncols)) {
            run_end(st, 0);
            return serr(st, BLAZEDB_NOMEM, "out of memory");
        }
        st->state = 1;
    }
    cache_clear(st);
    int r = sqlx_next(&st->x);
    if (r == BLAZEDB_ROW) {
        st->row = st->x.out;
        return BLAZEDB_ROW;
    }
    st->row = NULL;
    if (r == BLAZEDB_DONE) {
        run_end(st, 1);
        st->state = 2;
        return BLAZEDB_DONE;
    }
    rc = exec_error(st, r);
    run_end(st, 0);
    st->state = 2;
    return rc;
}

/* step_run, timed: a run, from its first step to DONE or an error, is one
 * MON_SQL_STATEMENT (monitor.h).  The clock is read at the first and the
 * last step only (not per row: a read of the clock costs about as much as
 * producing a row from the cache), so the time includes what the caller
 * does between rows. */
BlazeDBResult blazedb_step(BlazeDBStmt *st)
{
    if (!st || !st->db || !db_handle_ok(st->db) || st->state == 2)
        return step_run(st);
    if (st->state == 0)
        st->mon_ticks = mon_now(); /* the start of this run */
    BlazeDBResult rc = step_run(st);
    if (rc != BLAZEDB_ROW && st->db) {
        uint64_t t1 = mon_now();
        mon_record(db_monitor(st->db), MON_SQL_STATEMENT,
                   t1 > st->mon_ticks ? t1 - st->mon_ticks : 0, (int)rc);
    }
    return rc;
}

BlazeDBResult blazedb_exec(BlazeDB *db, const char *sql, int (*fn)(BlazeDBStmt *st, void *arg),
                           void *arg)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!sql)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "sql is NULL");
    const char *p = sql;
    size_t base = 0;
    while (*p) {
        BlazeDBStmt *st = NULL;
        const char *tail = NULL;
        BlazeDBResult rc = blazedb_prepare(db, p, (size_t)-1, &st, &tail);
        if (rc) {
            (void)base;
            return rc;
        }
        if (!st)
            break;
        for (;;) {
            rc = blazedb_step(st);
            if (rc == BLAZEDB_ROW) {
                if (fn && fn(st, arg)) {
                    blazedb_finalize(st);
                    return db_error(db, BLAZEDB_CANCELLED, "stopped by the callback");
                }
                continue;
            }
            break;
        }
        blazedb_finalize(st);
        if (rc != BLAZEDB_DONE)
            return rc;
        p = tail;
    }
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_stmt_explain(BlazeDBStmt *st, unsigned flags, char **out)
{
    if (out)
        *out = NULL;
    if (!st || !out)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!st->db)
        return BLAZEDB_MISUSE;
    if (st->state)
        return serr(st, BLAZEDB_MISUSE, "the statement is running: reset it first");
    BlazeDBResult rc = explain_start(st, flags, out);
    run_end(st, rc == BLAZEDB_OK);
    return rc;
}

BlazeDBResult blazedb_explain(BlazeDB *db, const char *sql, unsigned flags, char **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    BlazeDBStmt *st = NULL;
    BlazeDBResult rc = blazedb_prepare(db, sql, (size_t)-1, &st, NULL);
    if (rc)
        return rc;
    if (!st)
        return db_error(db, BLAZEDB_SQL_ERROR, "no statement to explain");
    rc = explain_start(st, flags, out);
    blazedb_finalize(st);
    return rc;
}
