/*
 * sql.h — the SQL subset's front end: values, the syntax tree, the parser,
 * and expression evaluation with SQLite's semantics (docs/SQL.md).
 *
 * Owns: lexing, parsing, the AST, scalar functions, aggregate
 * accumulators, value comparison/hashing.  Not: name resolution against
 * collections, planning, execution, storage (sqlexec.c and friends).
 *
 * Modules: sqlvalue.c (SqlValue), sqlparse.c (lexer + parser + AST free),
 * sqleval.c (expressions, functions, aggregates).
 */
#ifndef BLAZEDB_QUERY_SQL_H
#define BLAZEDB_QUERY_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "../doc/docbin.h"
#include "../doc/value.h"

#define SQL_MAX_DEPTH 200        /* expression nesting */
#define SQL_MAX_IN_LIST 100000   /* elements of one IN list */
#define SQL_MAX_PARAMS 32766
#define SQL_ERRMAX 256

/* ---- values ------------------------------------------------------------------- */

/*
 * A value during evaluation.  type is a DocType: DOC_NULL stands for null
 * and missing.  BOOL/INT/DATE use i, DOUBLE uses d; STRING and BYTES use
 * s/len (a string is UTF-8, not NUL-terminated in general); UUID uses s/len
 * = 16 bytes; ARRAY, OBJECT and VECTOR use s/len = their binary encoding
 * (docbin, tag byte included).  `owned`: s is malloc'd and belongs to the
 * value (sql_value_clear frees it); otherwise s is borrowed.
 */
typedef struct {
    uint8_t type;
    uint8_t owned;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} SqlValue;

void sql_value_clear(SqlValue *v);          /* frees if owned; becomes NULL */
int sql_value_copy(SqlValue *dst, const SqlValue *src);   /* deep; NOMEM */
/* A borrowed value of a binary view (NULL view = missing = NULL). */
void sql_value_from_view(const DocView *v, SqlValue *out);
/* Deep conversions to and from trees. */
int sql_value_from_doc(const DocValue *v, SqlValue *out);     /* owned */
int sql_value_to_doc(const SqlValue *v, DocValue **out);
/* The one total order (query/filter.h qf_compare): null < bool < numbers
 * (int and double by value) < dates < strings < bytes < uuids < arrays <
 * objects < vectors.  <0, 0, >0. */
int sql_value_cmp(const SqlValue *a, const SqlValue *b);
/* Hash consistent with sql_value_cmp == 0 (1 and 1.0 hash alike). */
uint64_t sql_value_hash(const SqlValue *v);

/* ---- syntax tree -------------------------------------------------------------- */

typedef enum {
    SQL_E_LITERAL = 1,  /* lit */
    SQL_E_PARAM,        /* param (1-based) */
    SQL_E_COLUMN,       /* qual (alias or NULL) + path; table/slot set by the binder */
    SQL_E_UNARY,        /* op (SQL_OP_NEG, SQL_OP_PLUS, SQL_OP_NOT, SQL_OP_BITNOT?) a */
    SQL_E_BINARY,       /* a op b */
    SQL_E_ISNULL,       /* a IS [NOT] NULL (negated) */
    SQL_E_IS,           /* a IS [NOT] b (null-safe equality) */
    SQL_E_BETWEEN,      /* a [NOT] BETWEEN b AND c */
    SQL_E_IN,           /* a [NOT] IN (list) */
    SQL_E_LIKE,         /* a [NOT] LIKE b [ESCAPE c] */
    SQL_E_CASE,         /* CASE [a] WHEN list[2k] THEN list[2k+1] ... [ELSE b] END */
    SQL_E_FUNC,         /* scalar function: func, list */
    SQL_E_AGG,          /* aggregate: func, list (0 args = count(*)), distinct; slot */
    SQL_E_CONTAINS      /* a CONTAINS b: array a has an element equal to b */
} SqlExprKind;

typedef enum {
    SQL_OP_EQ = 1, SQL_OP_NE, SQL_OP_LT, SQL_OP_LE, SQL_OP_GT, SQL_OP_GE,
    SQL_OP_AND, SQL_OP_OR, SQL_OP_NOT,
    SQL_OP_NEG, SQL_OP_PLUS,
    SQL_OP_ADD, SQL_OP_SUB, SQL_OP_MUL, SQL_OP_DIV, SQL_OP_MOD,
    SQL_OP_CONCAT
} SqlOp;

/* Scalar functions and aggregates (SqlExpr.func). */
typedef enum {
    SQL_F_LOWER = 1, SQL_F_UPPER, SQL_F_LENGTH, SQL_F_ABS, SQL_F_ROUND, SQL_F_COALESCE,
    SQL_F_IFNULL, SQL_F_NULLIF, SQL_F_SUBSTR, SQL_F_TYPEOF, SQL_F_TRIM, SQL_F_LTRIM,
    SQL_F_RTRIM, SQL_F_REPLACE, SQL_F_INSTR, SQL_F_MIN2, SQL_F_MAX2, /* min(a,b,..) max(a,b,..) */
    SQL_F_NOW, SQL_F_DATE, SQL_F_DATETIME, SQL_F_YEAR, SQL_F_MONTH, SQL_F_DAY,
    SQL_F_TO_DATE, SQL_F_EPOCH_MS,
    /* aggregates */
    SQL_A_COUNT = 100, SQL_A_SUM, SQL_A_AVG, SQL_A_MIN, SQL_A_MAX, SQL_A_TOTAL
} SqlFunc;

typedef struct SqlExpr SqlExpr;
struct SqlExpr {
    SqlExprKind kind;
    int op;                 /* SqlOp */
    int negated;            /* NOT IN / NOT BETWEEN / NOT LIKE / IS NOT ... */
    uint32_t pos;           /* byte offset in the statement text */
    SqlValue lit;           /* LITERAL (owned) */
    int param;              /* PARAM */
    char *qual;             /* COLUMN: table alias as written, or NULL */
    char *path;             /* COLUMN: dotted path ("" never) */
    int table;              /* COLUMN: FROM slot (binder; -1 unbound) */
    int slot;               /* COLUMN: output/group slot when the binder
                               maps it (-1 otherwise); AGG: accumulator slot */
    SqlExpr *a, *b, *c;
    SqlExpr **list;
    size_t nlist;
    int func;               /* SqlFunc */
    int distinct;           /* AGG */
    /* COLUMN, for the executor: strlen(path) + 1 when path is one field
     * name (no '.'), 0 when not, -1 not yet known; and where that field was
     * found in the last document read (docbin_lookup_field).  A statement runs on one
     * thread at a time, so these caches need no lock. */
    int simple;
    size_t hint;
};

typedef struct {
    SqlExpr *expr;          /* NULL for * or alias.* */
    char *alias;            /* AS name, or NULL */
    char *star_qual;        /* alias.* : the alias; * : NULL */
    uint32_t pos, end;      /* source span of the expression (column name) */
} SqlResultCol;

typedef struct {
    char *coll;
    char *alias;            /* NULL when none */
    char *indexed_by;       /* INDEXED BY name, or NULL */
    int not_indexed;        /* NOT INDEXED */
    uint32_t pos;
} SqlTableRef;

typedef struct {
    SqlTableRef t;
    int left;               /* LEFT [OUTER] JOIN */
    SqlExpr *on;
} SqlJoin;

typedef struct {
    SqlExpr *e;
    int desc;
} SqlOrderTerm;

typedef struct {
    int distinct;
    SqlResultCol *cols;
    size_t ncols;
    int has_from;           /* SELECT without FROM evaluates once */
    SqlTableRef from;
    SqlJoin *joins;
    size_t njoins;
    SqlExpr *where;
    SqlExpr **group;
    size_t ngroup;
    SqlExpr *having;
    SqlOrderTerm *order;
    size_t norder;
    SqlExpr *limit, *offset;   /* NULL when absent */
} SqlSelect;

typedef enum {
    SQL_SELECT = 1, SQL_INSERT, SQL_UPDATE, SQL_DELETE,
    SQL_CREATE_INDEX, SQL_DROP_INDEX, SQL_CREATE_COLLECTION, SQL_DROP_COLLECTION,
    SQL_BEGIN, SQL_COMMIT, SQL_ROLLBACK, SQL_SAVEPOINT, SQL_RELEASE, SQL_ROLLBACK_TO,
    SQL_ANALYZE
} SqlStmtKind;

typedef struct {
    char *path;
    int desc;
    int each;               /* written path[] */
} SqlIndexField;

typedef struct {
    SqlStmtKind kind;
    int explain;            /* 0, 1 = EXPLAIN, 2 = EXPLAIN ANALYZE */
    uint32_t pos, end;      /* span of the statement in the text */
    SqlSelect *select;      /* SELECT */
    /* INSERT / UPDATE / DELETE / CREATE INDEX / collections */
    char *coll;
    uint32_t coll_pos;
    int or_replace;         /* INSERT OR REPLACE: upsert by id */
    int json_docs;          /* INSERT INTO c JSON e1, e2, ...: rows[i][0] */
    char **fields;          /* INSERT column list (dotted paths) */
    size_t nfields;
    SqlExpr ***rows;        /* INSERT: nrows rows of nfields (or 1) exprs */
    size_t nrows;
    char **set_paths;       /* UPDATE SET path = expr */
    SqlExpr **set_vals;
    size_t nset;
    SqlExpr *where;         /* UPDATE / DELETE / CREATE INDEX ... WHERE */
    char *where_text;       /* CREATE INDEX: the WHERE clause's source text */
    char *name;             /* index / savepoint name */
    int unique;             /* CREATE UNIQUE INDEX */
    int if_exists;          /* IF [NOT] EXISTS */
    SqlIndexField *ifields;
    size_t nifields;
    /* parameters: nparams = highest index; param_names[i] = name of
     * parameter i+1 (":x", "@x", "$x" as written) or NULL */
    int nparams;
    char **param_names;
} SqlStmt;

/*
 * Parses one statement from sql[0..len) (leading whitespace and comments
 * skipped; a trailing ';' consumed).  *used = bytes consumed.  At the end of
 * the text (only whitespace, comments or ';' left) returns NOT_FOUND with
 * *out = NULL.  On a syntax error returns BLAZEDB_SQL_ERROR
 * with err = "near 'tok' at offset N: expected X" and *epos = N.
 * Limits: SQL_MAX_DEPTH, SQL_MAX_IN_LIST (clear errors past them).
 * Other errors: NOMEM, TOO_BIG (len > UINT32_MAX).  *used is 0 on error.
 */
int sql_parse(const char *sql, size_t len, SqlStmt **out, size_t *used, uint32_t *epos,
              char *err, size_t errlen);
void sql_stmt_free(SqlStmt *s);
void sql_expr_free(SqlExpr *e);
/* Parses one expression only (partial-index predicates, --where). */
int sql_parse_expr(const char *text, size_t len, SqlExpr **out, uint32_t *epos, char *err,
                   size_t errlen);

/* ---- evaluation --------------------------------------------------------------- */

typedef struct SqlEvalCtx SqlEvalCtx;
struct SqlEvalCtx {
    /* A column's value for the current row: borrowed until the row moves.
     * Returns 0 or a BlazeDBResult (with err set). */
    int (*column)(SqlEvalCtx *cx, const SqlExpr *col, SqlValue *out);
    void *arg;
    const SqlValue *params;  /* params[0] is parameter 1 */
    size_t nparams;
    const SqlValue *aggs;    /* final values of aggregate slots (AGG nodes
                                read aggs[e->slot]); NULL outside grouping */
    int64_t now_ms;          /* now(): fixed per statement */
    char err[SQL_ERRMAX];
    uint32_t epos;           /* offset of the failing node */
};

/*
 * Evaluates e into *out (which the caller clears with sql_value_clear).
 * Errors (a BlazeDBResult, message in cx->err): type errors in arithmetic
 * ("cannot apply + to string and int"), division or modulo by zero, bad
 * LIKE escape, integer overflow in abs()/sum()... INVALID_ARGUMENT; NOMEM;
 * TOO_BIG (a string result over BLAZEDB_MAX_VALUE).
 * Result types follow SQLite: comparisons, AND/OR/NOT, IS, IN, LIKE,
 * BETWEEN and CONTAINS give INT 0/1 (or NULL); TRUE/FALSE literals and
 * stored bools are BOOL, which arithmetic and sum/avg/total read as 1/0,
 * text operations as "true"/"false", and comparisons order before numbers.
 * An unbound parameter is NULL.  Out-of-range column callbacks should set
 * cx->err themselves (a generic message is used otherwise).
 */
int sql_eval(const SqlExpr *e, SqlEvalCtx *cx, SqlValue *out);
/* Three-valued truth of a value: 1 true, 0 false, -1 unknown (null).
 * Numbers are true when non-zero; strings as SQLite (their numeric prefix). */
int sql_truth(const SqlValue *v);
/* 1 when pred holds for e or any node below it. */
int sql_expr_any(const SqlExpr *e, int (*pred)(const SqlExpr *node));
/* 1 when e contains an AGG node (outside of a subquery). */
int sql_has_agg(const SqlExpr *e);

/* Aggregate accumulators (one per AGG node and group). */
typedef struct SqlAgg SqlAgg;
int sql_agg_new(const SqlExpr *agg, SqlAgg **out);
/* Feeds the current row (evaluates the argument through cx).  sum() of
 * ints that overflows fails here with "integer overflow", as SQLite's
 * sum() does at the end; non-numbers in sum/avg/total are an error. */
int sql_agg_step(SqlAgg *a, SqlEvalCtx *cx);
/* The result so far (owned copy in *out). */
int sql_agg_final(SqlAgg *a, SqlValue *out);
void sql_agg_free(SqlAgg *a);
/* Approximate bytes held (count(DISTINCT) sets) for the memory bound. */
size_t sql_agg_mem(const SqlAgg *a);

/* Name of a function (for EXPLAIN / error messages). */
const char *sql_func_name(int func);
/* Renders an expression back to SQL text (EXPLAIN); malloc'd. */
char *sql_expr_text(const SqlExpr *e);

#endif /* BLAZEDB_QUERY_SQL_H */
