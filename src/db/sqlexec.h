/*
 * sqlexec.h — the SQL engine's internals shared by sqlplan.c (binder,
 * planner, executor, EXPLAIN) and sqlapi.c (the public statement API,
 * transactions, writes).
 *
 * A SELECT is planned into a tree of operators (PlanNode) that pull rows
 * from their children one at a time (open / next / close).  A row is the
 * current document of every table of the FROM clause (borrowed bytes,
 * valid until the node that produced it moves), or, above a grouping, the
 * current group.  Projection produces the output columns (SqlValue).
 */
#ifndef BLAZEDB_DB_SQLEXEC_H
#define BLAZEDB_DB_SQLEXEC_H

#include <stddef.h>
#include <stdint.h>

#include "blazedb.h"
#include "../catalog/catalog.h"
#include "../index/index.h"
#include "../query/sql.h"

#define SQLX_MAX_TABLES 16                 /* tables in one FROM clause */
#define SQLX_MEM_LIMIT (256u * 1024 * 1024) /* bytes a sort, grouping,
                                              DISTINCT or hash join may hold */

typedef struct {
    char *coll;            /* borrowed from the AST */
    char *alias;           /* alias, or the collection name */
    int exists;
    CatColl c;
    IdxDef *idx;
    size_t nidx;
    int forced;            /* INDEXED BY: index number; -2 NOT INDEXED; -1 none */
} SqlxTable;

typedef struct SqlxNode SqlxNode;
typedef struct SqlxExec SqlxExec;

/* A planned SELECT (also the read part of UPDATE/DELETE). */
typedef struct {
    SqlSelect *sel;        /* borrowed from the statement */
    SqlxTable tabs[SQLX_MAX_TABLES];
    size_t ntabs;
    SqlxNode *root;
    size_t ncols;          /* visible output columns */
    char **colnames;
    int star_doc;          /* the single column is a table's whole document */
    size_t nagg;
    SqlExpr **aggs;        /* AGG nodes by slot */
    uint64_t cat_pgno, cat_ctr;  /* catalog root the plan was made for */
    void *priv;            /* the planner's own bookkeeping */
} SqlxPlan;

/* Per-run state: the transaction, parameters, the current row. */
struct SqlxExec {
    BlazeDB *db;
    PagerTxn *pt;
    SqlxPlan *plan;
    const SqlValue *params;
    size_t nparams;
    int64_t now_ms;
    unsigned intr;                        /* db_interrupts at the start */
    int analyze;                          /* time each node */
    const uint8_t *doc[SQLX_MAX_TABLES];  /* current row; NULL = no row
                                             (outer join) */
    size_t dlen[SQLX_MAX_TABLES];
    const SqlValue *group;                /* current group's key values */
    const SqlValue *aggv;                 /* and aggregate results */
    SqlValue *out;                        /* current output row */
    size_t nout;
    SqlEvalCtx cx;                        /* evaluation context (eval) */
    char err[SQL_ERRMAX + 64];
};

/* Plans a SELECT in transaction pt (reads the catalog).  *out malloc'd;
 * errors: SQL_ERROR (binding), NOMEM, I/O.  err receives the message. */
int sqlx_plan(PagerTxn *pt, SqlSelect *sel, const char *sql, SqlxPlan **out, char *err,
              size_t errlen);
void sqlx_plan_free(SqlxPlan *p);

/* Runs a planned SELECT: open, then next until DONE. */
int sqlx_open(SqlxExec *x);
/* ROW (x->out holds the row), DONE, or an error (x->err). */
int sqlx_next(SqlxExec *x);
void sqlx_close(SqlxExec *x);

/* The plan as text or JSON (flags BLAZEDB_EXPLAIN_*); malloc'd. */
char *sqlx_explain(const SqlxPlan *p, unsigned flags);

/* Evaluation context over x's current row. */
void sqlx_ctx(SqlxExec *x, SqlEvalCtx *cx);
/* 1 when e holds no column and no aggregate (a constant for the run). */
int sqlx_is_const(const SqlExpr *e);

#endif /* BLAZEDB_DB_SQLEXEC_H */
