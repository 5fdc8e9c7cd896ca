/*
 * sqlparse.c — the SQL subset's lexer and recursive-descent parser
 * (query/sql.h, grammar in docs/SQL.md): text in, SqlStmt / SqlExpr trees
 * out, with "near 'tok' at offset N: expected X" errors; freeing the trees;
 * rendering an expression back to SQL text (EXPLAIN).
 *
 * Owns: tokens, keywords, operator precedence (SQLite's), parameter
 * numbering, the parser's limits (nesting depth and tree height
 * SQL_MAX_DEPTH, IN lists SQL_MAX_IN_LIST, SQL_MAX_PARAMS).  Not: what the
 * names mean (the binder), evaluation (sqleval.c).
 *
 * Recursion is bounded: every recursive descent step counts against
 * SQL_MAX_DEPTH, and so does the height of the tree being built (a chain
 * a+b+c+... is built by a loop but evaluated recursively), so neither the
 * parser nor anything walking its trees can overflow the stack.
 */
#include "sql.h"
#include "../doc/textbuf.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- C locale for number conversions ----------------------------------------- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static double text_to_double(const char *s, size_t n)
{
    char buf[512];
    if (n >= sizeof buf)
        n = sizeof buf - 1; /* longer literals: digits beyond 500 do not matter */
    memcpy(buf, s, n);
    buf[n] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale)
        return strtod_l(buf, NULL, c_locale);
    return strtod(buf, NULL);
}

/* ---- tokens ------------------------------------------------------------------- */

enum {
    T_EOF = 0, T_ILLEGAL, T_ID, T_QID, T_STR, T_BLOB, T_INT, T_FLOAT, T_PARAM,
    T_LP, T_RP, T_COMMA, T_DOT, T_SEMI, T_STAR, T_PLUS, T_MINUS, T_SLASH, T_PERCENT,
    T_CONCAT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_LBRACKET, T_RBRACKET
};

typedef struct {
    int type;
    size_t start, len;
    int64_t i;          /* T_INT */
    int big;            /* T_INT: 1 = exactly 2^63 (valid only after '-'), 2 = larger */
    const char *msg;    /* T_ILLEGAL */
} Tok;

typedef struct {
    const char *src;
    size_t len;
    size_t pos;        /* where the token after t starts to be lexed */
    size_t last_end;   /* end of the last consumed token */
    Tok t;
    int depth;
    int failed;
    int rc;
    char *err;
    size_t errlen;
    uint32_t epos;
    int nparams;
    char **pnames;     /* [nparams] */
    int pcap;
} P;

static int is_idstart(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
static int is_idchar(unsigned char c)
{
    return is_idstart(c) || (c >= '0' && c <= '9') || c == '$';
}
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int hexval(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Skips whitespace and comments from i; returns the new offset. */
static size_t skip_space(const char *s, size_t n, size_t i)
{
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                         s[i] == '\f' || s[i] == '\v'))
            i++;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            i += 2;
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
                i++;
            i = i < n ? i + 2 : n; /* unterminated: to the end, like SQLite */
            continue;
        }
        return i;
    }
}

/*
 * Lexes the token at p->pos into p->t.  `seg`: a path segment after '.',
 * where a run of letters and digits is one identifier ("items.0.name").
 * A '.' right after an identifier is a dot, never the start of a number.
 */
static void lex(P *p, int seg)
{
    const char *s = p->src;
    size_t n = p->len;
    int prev = p->t.type;
    size_t i = skip_space(s, n, p->pos);
    Tok t;
    memset(&t, 0, sizeof t);
    t.start = i;
    if (i >= n) {
        t.type = T_EOF;
        p->t = t;
        p->pos = n;
        return;
    }
    unsigned char c = (unsigned char)s[i];
    size_t j = i + 1;
    if (seg && (is_idchar(c))) {
        while (j < n && is_idchar((unsigned char)s[j]))
            j++;
        t.type = T_ID;
    } else if (is_idstart(c)) {
        if ((c == 'x' || c == 'X') && j < n && s[j] == '\'') {
            j++;
            while (j < n && s[j] != '\'')
                j++;
            if (j >= n) {
                t.type = T_ILLEGAL;
                t.msg = "unterminated blob literal";
            } else {
                size_t nd = j - (i + 2);
                j++;
                t.type = T_BLOB;
                for (size_t k = i + 2; k < j - 1; k++)
                    if (!is_hex((unsigned char)s[k]))
                        t.type = T_ILLEGAL;
                if (nd % 2)
                    t.type = T_ILLEGAL;
                if (t.type == T_ILLEGAL)
                    t.msg = "malformed blob literal";
            }
        } else {
            while (j < n && is_idchar((unsigned char)s[j]))
                j++;
            t.type = T_ID;
        }
    } else if (is_digit(c) || (c == '.' && j < n && is_digit((unsigned char)s[j]) &&
                               prev != T_ID && prev != T_QID)) {
        t.type = T_INT;
        if (c == '0' && j < n && (s[j] == 'x' || s[j] == 'X') && j + 1 < n &&
            is_hex((unsigned char)s[j + 1])) {
            uint64_t v = 0;
            size_t nd = 0;
            j++;
            while (j < n && is_hex((unsigned char)s[j])) {
                if (v || s[j] != '0')
                    nd++;
                v = v << 4 | (uint64_t)hexval((unsigned char)s[j]);
                j++;
            }
            if (nd > 16) {
                t.type = T_ILLEGAL;
                t.msg = "hex literal too big";
            }
            t.i = (int64_t)v;
        } else {
            j = i;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
            if (j < n && s[j] == '.') {
                t.type = T_FLOAT;
                j++;
                while (j < n && is_digit((unsigned char)s[j]))
                    j++;
            }
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < n && (s[k] == '+' || s[k] == '-'))
                    k++;
                if (k < n && is_digit((unsigned char)s[k])) {
                    t.type = T_FLOAT;
                    j = k;
                    while (j < n && is_digit((unsigned char)s[j]))
                        j++;
                }
            }
            if (t.type == T_INT) {
                uint64_t v = 0;
                int over = 0;
                for (size_t k = i; k < j; k++) {
                    unsigned dgt = (unsigned)(s[k] - '0');
                    if (v > (UINT64_MAX - dgt) / 10)
                        over = 1;
                    else
                        v = v * 10 + dgt;
                }
                if (over || v > 9223372036854775808ull) {
                    t.big = 2;
                } else if (v == 9223372036854775808ull) {
                    t.big = 1;
                } else {
                    t.i = (int64_t)v;
                }
            }
        }
        if (j < n && is_idchar((unsigned char)s[j])) {
            while (j < n && is_idchar((unsigned char)s[j]))
                j++;
            t.type = T_ILLEGAL;
            t.msg = "unrecognized token";
        }
    } else {
        switch (c) {
        case '\'':
        case '"':
        case '`': {
            for (;;) {
                while (j < n && (unsigned char)s[j] != c)
                    j++;
                if (j >= n) {
                    t.type = T_ILLEGAL;
                    t.msg = c == '\'' ? "unterminated string" : "unterminated identifier";
                    break;
                }
                if (j + 1 < n && (unsigned char)s[j + 1] == c) {
                    j += 2;
                    continue;
                }
                j++;
                t.type = c == '\'' ? T_STR : T_QID;
                break;
            }
            break;
        }
        case '?':
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
            t.type = T_PARAM;
            break;
        case ':':
        case '@':
        case '$':
            while (j < n && is_idchar((unsigned char)s[j]))
                j++;
            t.type = j > i + 1 ? T_PARAM : T_ILLEGAL;
            t.msg = "unrecognized token";
            break;
        case '(': t.type = T_LP; break;
        case ')': t.type = T_RP; break;
        case ',': t.type = T_COMMA; break;
        case '.': t.type = T_DOT; break;
        case ';': t.type = T_SEMI; break;
        case '*': t.type = T_STAR; break;
        case '+': t.type = T_PLUS; break;
        case '-': t.type = T_MINUS; break;
        case '/': t.type = T_SLASH; break;
        case '%': t.type = T_PERCENT; break;
        case '[': t.type = T_LBRACKET; break;
        case ']': t.type = T_RBRACKET; break;
        case '|':
            if (j < n && s[j] == '|') {
                j++;
                t.type = T_CONCAT;
            } else {
                t.type = T_ILLEGAL;
                t.msg = "unrecognized token";
            }
            break;
        case '=':
            if (j < n && s[j] == '=')
                j++;
            t.type = T_EQ;
            break;
        case '!':
            if (j < n && s[j] == '=') {
                j++;
                t.type = T_NE;
            } else {
                t.type = T_ILLEGAL;
                t.msg = "unrecognized token";
            }
            break;
        case '<':
            if (j < n && s[j] == '=') {
                j++;
                t.type = T_LE;
            } else if (j < n && s[j] == '>') {
                j++;
                t.type = T_NE;
            } else {
                t.type = T_LT;
            }
            break;
        case '>':
            if (j < n && s[j] == '=') {
                j++;
                t.type = T_GE;
            } else {
                t.type = T_GT;
            }
            break;
        default:
            t.type = T_ILLEGAL;
            t.msg = "unrecognized token";
            break;
        }
    }
    t.len = j - i;
    p->t = t;
    p->pos = j;
}

static void advance(P *p)
{
    p->last_end = p->t.start + p->t.len;
    lex(p, 0);
}

static void advance_seg(P *p)
{
    p->last_end = p->t.start + p->t.len;
    lex(p, 1);
}

/* The token after the current one (the lexer state is restored). */
static Tok peek2(P *p)
{
    Tok save = p->t;
    size_t pos = p->pos;
    lex(p, 0);
    Tok r = p->t;
    p->t = save;
    p->pos = pos;
    return r;
}

/* ---- errors ------------------------------------------------------------------- */

static void failv(P *p, size_t at, const char *fmt, va_list ap)
{
    if (p->failed)
        return;
    p->failed = 1;
    p->rc = BLAZEDB_SQL_ERROR;
    p->epos = (uint32_t)at;
    if (p->err && p->errlen)
        vsnprintf(p->err, p->errlen, fmt, ap);
}

static void fail_at(P *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_at(P *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(p, at, fmt, ap);
    va_end(ap);
}

static void fail_nomem(P *p)
{
    if (p->failed)
        return;
    fail_at(p, p->t.start, "out of memory");
    p->rc = BLAZEDB_NOMEM;
}

/* "near 'tok' at offset N: expected X" at the current token. */
static void expected(P *p, const char *what)
{
    const Tok *t = &p->t;
    if (t->type == T_EOF) {
        fail_at(p, t->start, "unexpected end of input at offset %zu: expected %s", t->start,
                what);
        return;
    }
    int n = t->len > 40 ? 40 : (int)t->len;
    if (t->type == T_ILLEGAL)
        fail_at(p, t->start, "near '%.*s' at offset %zu: %s", n, p->src + t->start, t->start,
                t->msg);
    else
        fail_at(p, t->start, "near '%.*s' at offset %zu: expected %s", n, p->src + t->start,
                t->start, what);
}

/* ---- keywords ----------------------------------------------------------------- */

static int tok_is(const P *p, const Tok *t, const char *kw)
{
    if (t->type != T_ID)
        return 0;
    size_t n = strlen(kw);
    if (t->len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p->src[t->start + i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (c != kw[i])
            return 0;
    }
    return 1;
}

static int is_kw(const P *p, const char *kw) { return tok_is(p, &p->t, kw); }

static int accept_kw(P *p, const char *kw)
{
    if (!is_kw(p, kw))
        return 0;
    advance(p);
    return 1;
}

static int expect_kw(P *p, const char *kw)
{
    if (accept_kw(p, kw))
        return 1;
    expected(p, kw);
    return 0;
}

static int accept(P *p, int type)
{
    if (p->t.type != type)
        return 0;
    advance(p);
    return 1;
}

static int expect_tok(P *p, int type, const char *what)
{
    if (accept(p, type))
        return 1;
    expected(p, what);
    return 0;
}

/* Words that cannot be bare column names, aliases or collection names. */
static const char *const reserved[] = {
    "ALL", "AND", "AS", "ASC", "BETWEEN", "BY", "CASE", "COLLATE", "CONTAINS", "CREATE",
    "DELETE", "DESC", "DISTINCT", "DROP", "ELSE", "END", "ESCAPE", "EXCEPT", "EXISTS",
    "FALSE", "FROM", "GROUP", "HAVING", "IN", "INDEX", "INDEXED", "INNER", "INSERT", "INTO",
    "INTERSECT", "IS", "ISNULL", "JOIN", "LEFT", "LIKE", "LIMIT", "NOT", "NOTNULL", "NULL",
    "OFFSET", "ON", "OR", "ORDER", "OUTER", "SELECT", "SET", "THEN", "TRUE", "UNION",
    "UNIQUE", "UPDATE", "USING", "VALUES", "WHEN", "WHERE", "CROSS", "CAST"};

static int word_reserved(const char *w, size_t n)
{
    for (size_t k = 0; k < sizeof reserved / sizeof *reserved; k++) {
        const char *r = reserved[k];
        if (strlen(r) != n)
            continue;
        size_t i = 0;
        for (; i < n; i++) {
            char c = w[i];
            if (c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            if (c != r[i])
                break;
        }
        if (i == n)
            return 1;
    }
    return 0;
}

static int tok_reserved(const P *p, const Tok *t)
{
    return t->type == T_ID && word_reserved(p->src + t->start, t->len);
}

/* A name token: a non-reserved bare identifier or a quoted one. */
static int is_name(const P *p, const Tok *t)
{
    return t->type == T_QID || (t->type == T_ID && !tok_reserved(p, t));
}

/* The text of an identifier token (quotes removed); malloc'd. */
static char *ident_text(P *p, const Tok *t)
{
    const char *s = p->src + t->start;
    size_t n = t->len;
    char *r = malloc(n + 1);
    if (!r) {
        fail_nomem(p);
        return NULL;
    }
    if (t->type == T_QID) {
        char q = s[0];
        size_t k = 0;
        for (size_t i = 1; i + 1 < n; i++) {
            r[k++] = s[i];
            if (s[i] == q)
                i++;
        }
        r[k] = 0;
    } else {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

/* Bytes of an identifier token's text (quotes removed). */
static size_t ident_len(const P *p, const Tok *t)
{
    if (t->type != T_QID)
        return t->len;
    const char *s = p->src + t->start;
    size_t k = 0;
    for (size_t i = 1; i + 1 < t->len; i++, k++)
        if (s[i] == s[0])
            i++;
    return k;
}

/* Parses a name (collection, index, alias, savepoint); malloc'd. */
static char *parse_name(P *p, const char *what)
{
    if (!is_name(p, &p->t)) {
        expected(p, what);
        return NULL;
    }
    char *r = ident_text(p, &p->t);
    if (r && (!*r || strlen(r) != ident_len(p, &p->t))) {
        free(r);
        fail_at(p, p->t.start, "empty name or NUL byte in a name at offset %zu", p->t.start);
        return NULL;
    }
    if (r)
        advance(p);
    return r;
}

/* ---- strings ------------------------------------------------------------------ */


/* ---- tree helpers ------------------------------------------------------------- */

static SqlExpr *new_node(P *p, SqlExprKind k, size_t pos)
{
    SqlExpr *e = calloc(1, sizeof *e);
    if (!e) {
        fail_nomem(p);
        return NULL;
    }
    e->kind = k;
    e->pos = (uint32_t)pos;
    e->lit.type = DOC_NULL;
    e->table = -1;
    e->slot = -1;
    e->simple = -1;
    return e;
}

void sql_expr_free(SqlExpr *e)
{
    if (!e)
        return;
    sql_value_clear(&e->lit);
    free(e->qual);
    free(e->path);
    sql_expr_free(e->a);
    sql_expr_free(e->b);
    sql_expr_free(e->c);
    for (size_t i = 0; i < e->nlist; i++)
        sql_expr_free(e->list[i]);
    free(e->list);
    free(e);
}

static void free_list(SqlExpr **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sql_expr_free(l[i]);
    free(l);
}

/* Appends e to a growing list (freeing e on OOM). */
static int list_push(P *p, SqlExpr ***list, size_t *n, size_t *cap, SqlExpr *e)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        SqlExpr **q = realloc(*list, c * sizeof *q);
        if (!q) {
            sql_expr_free(e);
            fail_nomem(p);
            return 0;
        }
        *list = q;
        *cap = c;
    }
    (*list)[(*n)++] = e;
    return 1;
}

static int check_height(P *p, int h, size_t pos)
{
    if (h > SQL_MAX_DEPTH) {
        fail_at(p, pos, "expression nested too deeply at offset %zu (at most %d levels)", pos,
                SQL_MAX_DEPTH);
        return 0;
    }
    return 1;
}

static int enter(P *p)
{
    if (++p->depth > SQL_MAX_DEPTH) {
        fail_at(p, p->t.start, "expression nested too deeply at offset %zu (at most %d levels)",
                p->t.start, SQL_MAX_DEPTH);
        return 0;
    }
    return 1;
}

/* ---- functions ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    int func;
    int minargs, maxargs; /* maxargs -1: unbounded */
} FuncDef;

static const FuncDef funcs[] = {
    {"lower", SQL_F_LOWER, 1, 1},       {"upper", SQL_F_UPPER, 1, 1},
    {"length", SQL_F_LENGTH, 1, 1},     {"abs", SQL_F_ABS, 1, 1},
    {"round", SQL_F_ROUND, 1, 2},       {"coalesce", SQL_F_COALESCE, 2, -1},
    {"ifnull", SQL_F_IFNULL, 2, 2},     {"nullif", SQL_F_NULLIF, 2, 2},
    {"substr", SQL_F_SUBSTR, 2, 3},     {"substring", SQL_F_SUBSTR, 2, 3},
    {"typeof", SQL_F_TYPEOF, 1, 1},     {"trim", SQL_F_TRIM, 1, 2},
    {"ltrim", SQL_F_LTRIM, 1, 2},       {"rtrim", SQL_F_RTRIM, 1, 2},
    {"replace", SQL_F_REPLACE, 3, 3},   {"instr", SQL_F_INSTR, 2, 2},
    {"now", SQL_F_NOW, 0, 0},           {"date", SQL_F_DATE, 1, 1},
    {"datetime", SQL_F_DATETIME, 1, 1}, {"year", SQL_F_YEAR, 1, 1},
    {"month", SQL_F_MONTH, 1, 1},       {"day", SQL_F_DAY, 1, 1},
    {"to_date", SQL_F_TO_DATE, 1, 1},   {"epoch_ms", SQL_F_EPOCH_MS, 1, 1},
    /* aggregates (min/max with 2+ arguments become MIN2/MAX2) */
    {"count", SQL_A_COUNT, 0, 1},       {"sum", SQL_A_SUM, 1, 1},
    {"avg", SQL_A_AVG, 1, 1},           {"min", SQL_A_MIN, 1, -1},
    {"max", SQL_A_MAX, 1, -1},          {"total", SQL_A_TOTAL, 1, 1},
};

static const FuncDef *find_func(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof funcs / sizeof *funcs; k++) {
        const char *f = funcs[k].name;
        if (strlen(f) != n)
            continue;
        size_t i = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            if (c != f[i])
                break;
        }
        if (i == n)
            return &funcs[k];
    }
    return NULL;
}

const char *sql_func_name(int func)
{
    for (size_t k = 0; k < sizeof funcs / sizeof *funcs; k++)
        if (funcs[k].func == func)
            return funcs[k].name;
    if (func == SQL_F_MIN2)
        return "min";
    if (func == SQL_F_MAX2)
        return "max";
    return "?";
}

/* ---- expressions -------------------------------------------------------------- */

enum { L_OR = 1, L_AND, L_NOT, L_EQ, L_REL, L_ESC, L_ADD, L_MUL, L_CAT, L_UNARY, L_PRIMARY };

static SqlExpr *parse_expr(P *p, int minlev, int *h);
static SqlExpr *parse_prefix(P *p, int *h);

static int add_param(P *p, int idx, const char *name, size_t nlen, size_t pos)
{
    if (idx > SQL_MAX_PARAMS) {
        fail_at(p, pos, "too many parameters at offset %zu (at most %d)", pos, SQL_MAX_PARAMS);
        return 0;
    }
    if (idx > p->pcap) {
        int c = p->pcap ? p->pcap : 8;
        while (c < idx)
            c *= 2;
        char **q = realloc(p->pnames, (size_t)c * sizeof *q);
        if (!q) {
            fail_nomem(p);
            return 0;
        }
        for (int i = p->pcap; i < c; i++)
            q[i] = NULL;
        p->pnames = q;
        p->pcap = c;
    }
    if (idx > p->nparams)
        p->nparams = idx;
    if (name && !p->pnames[idx - 1]) {
        char *c = malloc(nlen + 1);
        if (!c) {
            fail_nomem(p);
            return 0;
        }
        memcpy(c, name, nlen);
        c[nlen] = 0;
        p->pnames[idx - 1] = c;
    }
    return 1;
}

static SqlExpr *parse_param(P *p)
{
    const char *s = p->src + p->t.start;
    size_t n = p->t.len, pos = p->t.start;
    int idx;
    if (s[0] == '?') {
        if (n == 1) {
            idx = p->nparams + 1;
        } else {
            long v = 0;
            for (size_t i = 1; i < n && v <= SQL_MAX_PARAMS; i++)
                v = v * 10 + (s[i] - '0');
            if (v < 1 || v > SQL_MAX_PARAMS) {
                fail_at(p, pos, "parameter %.*s out of range at offset %zu (1..%d)",
                        (int)(n > 20 ? 20 : n), s, pos, SQL_MAX_PARAMS);
                return NULL;
            }
            idx = (int)v;
        }
        if (!add_param(p, idx, NULL, 0, pos))
            return NULL;
    } else {
        idx = 0;
        for (int i = 0; i < p->nparams; i++)
            if (p->pnames[i] && strlen(p->pnames[i]) == n && !memcmp(p->pnames[i], s, n)) {
                idx = i + 1;
                break;
            }
        if (!idx) {
            idx = p->nparams + 1;
            if (!add_param(p, idx, s, n, pos))
                return NULL;
        }
    }
    SqlExpr *e = new_node(p, SQL_E_PARAM, pos);
    if (!e)
        return NULL;
    e->param = idx;
    advance(p);
    return e;
}

/* Decodes a string literal token into an owned STRING value. */
static int string_lit(P *p, const Tok *t, SqlValue *v)
{
    const char *s = p->src + t->start;
    char *r = malloc(t->len);
    if (!r) {
        fail_nomem(p);
        return 0;
    }
    size_t k = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
        r[k++] = s[i];
        if (s[i] == '\'')
            i++;
    }
    r[k] = 0;
    if (memchr(r, 0, k)) {
        free(r);
        fail_at(p, t->start, "string literal at offset %zu contains a NUL byte", t->start);
        return 0;
    }
    if (!doc_utf8_valid((const uint8_t *)r, k)) {
        free(r);
        fail_at(p, t->start, "string literal at offset %zu is not valid UTF-8", t->start);
        return 0;
    }
    v->type = DOC_STRING;
    v->s = r;
    v->len = k;
    v->owned = 1;
    return 1;
}

static int blob_lit(P *p, const Tok *t, SqlValue *v)
{
    const char *s = p->src + t->start + 2;
    size_t nd = t->len - 3, n = nd / 2;
    char *r = malloc(n ? n : 1);
    if (!r) {
        fail_nomem(p);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = (char)(hexval((unsigned char)s[2 * i]) << 4 | hexval((unsigned char)s[2 * i + 1]));
    v->type = DOC_BYTES;
    v->s = r;
    v->len = n;
    v->owned = 1;
    return 1;
}

/* A numeric literal token (negated when neg) as a LITERAL node. */
static SqlExpr *number_lit(P *p, int neg, size_t pos)
{
    SqlExpr *e = new_node(p, SQL_E_LITERAL, pos);
    if (!e)
        return NULL;
    const Tok *t = &p->t;
    if (t->type == T_INT && !t->big && !(neg && t->i == INT64_MIN)) {
        e->lit.type = DOC_INT;
        e->lit.i = neg ? -t->i : t->i;
    } else if (t->type == T_INT && t->big == 1 && neg) {
        e->lit.type = DOC_INT;
        e->lit.i = INT64_MIN;
    } else {
        double d = text_to_double(p->src + t->start, t->len);
        e->lit.type = DOC_DOUBLE;
        e->lit.d = neg ? -d : d;
    }
    advance(p);
    return e;
}

/* Dotted path from the current (name) token; the parser keeps qual NULL. */
static SqlExpr *parse_column(P *p)
{
    size_t pos = p->t.start;
    TextBuf b = {0};
    for (;;) {
        char *seg = ident_text(p, &p->t);
        if (!seg)
            break;
        if (!*seg || strlen(seg) != ident_len(p, &p->t)) {
            free(seg);
            fail_at(p, p->t.start, "empty name or NUL byte in a name at offset %zu",
                    p->t.start);
            break;
        }
        /* a quoted name may hold dots, which separate path segments like
         * any other: none of those segments may be empty */
        size_t sl = strlen(seg);
        if (seg[0] == '.' || seg[sl - 1] == '.' || strstr(seg, "..")) {
            free(seg);
            fail_at(p, p->t.start, "empty segment in the path at offset %zu", p->t.start);
            break;
        }
        if (b.n)
            tb_put(&b, ".", 1);
        tb_str(&b, seg);
        free(seg);
        advance(p);
        if (p->t.type != T_DOT)
            break;
        Tok save = p->t;
        size_t spos = p->pos;
        size_t send = p->last_end;
        advance_seg(p);
        if (p->t.type == T_STAR) { /* alias.* belongs to the caller */
            p->t = save;
            p->pos = spos;
            p->last_end = send;
            break;
        }
        if (p->t.type != T_ID && p->t.type != T_QID) {
            expected(p, "a field name after '.'");
            break;
        }
    }
    if (b.oom)
        fail_nomem(p);
    if (p->failed) {
        free(b.p);
        return NULL;
    }
    SqlExpr *e = new_node(p, SQL_E_COLUMN, pos);
    if (!e) {
        free(b.p);
        return NULL;
    }
    e->path = b.p;
    return e;
}

static SqlExpr *parse_call(P *p, int *h)
{
    size_t pos = p->t.start;
    Tok name = p->t;
    const FuncDef *fd = find_func(p->src + name.start, name.len);
    if (!fd) {
        int n = name.len > 40 ? 40 : (int)name.len;
        fail_at(p, pos, "unknown function %.*s() at offset %zu", n, p->src + pos, pos);
        return NULL;
    }
    advance(p); /* name */
    advance(p); /* ( */
    int agg = fd->func >= SQL_A_COUNT, distinct = 0, star = 0;
    SqlExpr **list = NULL;
    size_t n = 0, cap = 0;
    int hmax = 0;
    if (agg && accept_kw(p, "DISTINCT"))
        distinct = 1;
    if (!distinct && p->t.type == T_STAR && fd->func == SQL_A_COUNT) {
        advance(p);
        star = 1;
    } else if (distinct || p->t.type != T_RP) {
        for (;;) {
            int ha = 0;
            SqlExpr *a = parse_expr(p, L_OR, &ha);
            if (!a || !list_push(p, &list, &n, &cap, a))
                goto fail;
            if (ha > hmax)
                hmax = ha;
            if (n > SQL_MAX_IN_LIST) {
                fail_at(p, pos, "too many arguments at offset %zu", pos);
                goto fail;
            }
            if (!accept(p, T_COMMA))
                break;
        }
    }
    if (!expect_tok(p, T_RP, "')'"))
        goto fail;
    int func = fd->func;
    if ((func == SQL_A_MIN || func == SQL_A_MAX) && n >= 2 && !distinct) {
        func = func == SQL_A_MIN ? SQL_F_MIN2 : SQL_F_MAX2;
        agg = 0;
    }
    int nn = (int)n;
    if (nn < fd->minargs || (fd->maxargs >= 0 && nn > fd->maxargs) || (star && n) ||
        (distinct && n != 1)) {
        int l = name.len > 40 ? 40 : (int)name.len;
        fail_at(p, pos, "wrong number of arguments to function %.*s() at offset %zu", l,
                p->src + pos, pos);
        goto fail;
    }
    if (agg)
        for (size_t i = 0; i < n; i++)
            if (sql_has_agg(list[i])) {
                fail_at(p, list[i]->pos, "aggregate functions cannot be nested (offset %u)",
                        list[i]->pos);
                goto fail;
            }
    SqlExpr *e = new_node(p, agg ? SQL_E_AGG : SQL_E_FUNC, pos);
    if (!e)
        goto fail;
    e->func = func;
    e->list = list;
    e->nlist = n;
    e->distinct = distinct;
    *h = hmax + 1;
    return e;
fail:
    free_list(list, n);
    return NULL;
}

static SqlExpr *parse_case(P *p, int *h)
{
    size_t pos = p->t.start;
    SqlExpr *e = new_node(p, SQL_E_CASE, pos);
    if (!e)
        return NULL;
    advance(p); /* CASE */
    int hmax = 0, hx = 0;
    size_t cap = 0;
    if (!is_kw(p, "WHEN")) {
        if (!(e->a = parse_expr(p, L_OR, &hx)))
            goto fail;
        hmax = hx;
    }
    while (accept_kw(p, "WHEN")) {
        SqlExpr *w = parse_expr(p, L_OR, &hx);
        if (!w || !list_push(p, &e->list, &e->nlist, &cap, w))
            goto fail;
        if (hx > hmax)
            hmax = hx;
        if (!expect_kw(p, "THEN"))
            goto fail;
        SqlExpr *t = parse_expr(p, L_OR, &hx);
        if (!t || !list_push(p, &e->list, &e->nlist, &cap, t))
            goto fail;
        if (hx > hmax)
            hmax = hx;
    }
    if (!e->nlist) {
        expected(p, "WHEN");
        goto fail;
    }
    if (accept_kw(p, "ELSE")) {
        if (!(e->b = parse_expr(p, L_OR, &hx)))
            goto fail;
        if (hx > hmax)
            hmax = hx;
    }
    if (!expect_kw(p, "END"))
        goto fail;
    *h = hmax + 1;
    return e;
fail:
    sql_expr_free(e);
    return NULL;
}

static SqlExpr *parse_primary(P *p, int *h)
{
    size_t pos = p->t.start;
    SqlExpr *e;
    *h = 1;
    switch (p->t.type) {
    case T_INT: /* 9223372036854775808 without '-' is a double, as in SQLite */
    case T_FLOAT: return number_lit(p, 0, pos);
    case T_STR:
        if (!(e = new_node(p, SQL_E_LITERAL, pos)))
            return NULL;
        if (!string_lit(p, &p->t, &e->lit)) {
            sql_expr_free(e);
            return NULL;
        }
        advance(p);
        return e;
    case T_BLOB:
        if (!(e = new_node(p, SQL_E_LITERAL, pos)))
            return NULL;
        if (!blob_lit(p, &p->t, &e->lit)) {
            sql_expr_free(e);
            return NULL;
        }
        advance(p);
        return e;
    case T_PARAM: return parse_param(p);
    case T_LP: {
        advance(p);
        e = parse_expr(p, L_OR, h);
        if (!e)
            return NULL;
        if (!expect_tok(p, T_RP, "')'")) {
            sql_expr_free(e);
            return NULL;
        }
        return e;
    }
    case T_ID:
        if (is_kw(p, "NULL") || is_kw(p, "TRUE") || is_kw(p, "FALSE")) {
            if (!(e = new_node(p, SQL_E_LITERAL, pos)))
                return NULL;
            if (!is_kw(p, "NULL")) {
                e->lit.type = DOC_BOOL;
                e->lit.i = is_kw(p, "TRUE");
            }
            advance(p);
            return e;
        }
        if (is_kw(p, "CASE"))
            return parse_case(p, h);
        {
            Tok nx = peek2(p);
            if (nx.type == T_LP)
                return parse_call(p, h);
        }
        if (tok_reserved(p, &p->t))
            break;
        return parse_column(p);
    case T_QID: return parse_column(p);
    default: break;
    }
    expected(p, "an expression");
    return NULL;
}

/* Unary operators and NOT in operand position (SQLite's grammar allows
 * "1 = NOT 0", "- NOT x"). */
static SqlExpr *parse_prefix(P *p, int *h)
{
    if (!enter(p))
        return NULL;
    SqlExpr *e = NULL;
    size_t pos = p->t.start;
    if (p->t.type == T_MINUS || p->t.type == T_PLUS) {
        int neg = p->t.type == T_MINUS;
        advance(p);
        if (neg && (p->t.type == T_INT || p->t.type == T_FLOAT)) {
            /* fold "-5" into a literal, as SQLite does (and -2^63 is an int) */
            e = number_lit(p, 1, pos);
            *h = 1;
        } else {
            int hx = 0;
            SqlExpr *a = parse_prefix(p, &hx);
            if (a && (e = new_node(p, SQL_E_UNARY, pos))) {
                e->op = neg ? SQL_OP_NEG : SQL_OP_PLUS;
                e->a = a;
                *h = hx + 1;
            } else {
                sql_expr_free(a);
            }
        }
    } else if (is_kw(p, "NOT")) {
        advance(p);
        int hx = 0;
        SqlExpr *a = parse_expr(p, L_NOT, &hx);
        if (a && (e = new_node(p, SQL_E_UNARY, pos))) {
            e->op = SQL_OP_NOT;
            e->a = a;
            *h = hx + 1;
        } else {
            sql_expr_free(a);
        }
    } else {
        e = parse_primary(p, h);
    }
    p->depth--;
    if (e && !check_height(p, *h, pos)) {
        sql_expr_free(e);
        e = NULL;
    }
    return e;
}

/* The operator at the current token: its level and kind (0 = none). */
enum { K_BIN = 1, K_IS, K_ISNULL, K_NOTNULL, K_IN, K_LIKE, K_BETWEEN, K_CONTAINS };

static int op_at(P *p, int *kind, int *op, int *neg)
{
    *neg = 0;
    *kind = K_BIN;
    switch (p->t.type) {
    case T_EQ: *op = SQL_OP_EQ; return L_EQ;
    case T_NE: *op = SQL_OP_NE; return L_EQ;
    case T_LT: *op = SQL_OP_LT; return L_REL;
    case T_LE: *op = SQL_OP_LE; return L_REL;
    case T_GT: *op = SQL_OP_GT; return L_REL;
    case T_GE: *op = SQL_OP_GE; return L_REL;
    case T_PLUS: *op = SQL_OP_ADD; return L_ADD;
    case T_MINUS: *op = SQL_OP_SUB; return L_ADD;
    case T_STAR: *op = SQL_OP_MUL; return L_MUL;
    case T_SLASH: *op = SQL_OP_DIV; return L_MUL;
    case T_PERCENT: *op = SQL_OP_MOD; return L_MUL;
    case T_CONCAT: *op = SQL_OP_CONCAT; return L_CAT;
    case T_ID: break;
    default: return 0;
    }
    *op = 0;
    if (is_kw(p, "OR")) {
        *op = SQL_OP_OR;
        return L_OR;
    }
    if (is_kw(p, "AND")) {
        *op = SQL_OP_AND;
        return L_AND;
    }
    /* the keyword operators, all at the level of = */
    static const struct {
        const char *kw;
        int kind;
        int after_not;  /* also as NOT kw (NOT NULL is NOTNULL) */
    } kws[] = {
        {"IS", K_IS, 0},     {"ISNULL", K_ISNULL, 0}, {"NOTNULL", K_NOTNULL, 0},
        {"IN", K_IN, 1},     {"LIKE", K_LIKE, 1},     {"BETWEEN", K_BETWEEN, 1},
        {"CONTAINS", K_CONTAINS, 0}, {"NULL", K_NOTNULL, 1},
    };
    int not = is_kw(p, "NOT");
    Tok nx;
    if (not)
        nx = peek2(p);
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++) {
        if (not ? kws[i].after_not && tok_is(p, &nx, kws[i].kw)
                : strcmp(kws[i].kw, "NULL") != 0 && is_kw(p, kws[i].kw)) {
            *kind = kws[i].kind;
            *neg = not;
            return L_EQ;
        }
    }
    return 0;
}

static int hmax2(int a, int b) { return a > b ? a : b; }

static SqlExpr *parse_expr(P *p, int minlev, int *h)
{
    int hl = 0;
    SqlExpr *lhs = parse_prefix(p, &hl);
    while (lhs && !p->failed) {
        int kind, op, neg;
        int lev = op_at(p, &kind, &op, &neg);
        if (!lev || lev < minlev)
            break;
        size_t opos = p->t.start;
        SqlExpr *e = NULL, *b = NULL, *c = NULL;
        int hb = 0, hc = 0, hn = 0;
        if (neg)
            advance(p); /* NOT */
        switch (kind) {
        case K_BIN:
            advance(p);
            if (!(b = parse_expr(p, lev + 1, &hb)))
                break;
            if (!(e = new_node(p, SQL_E_BINARY, opos)))
                break;
            e->op = op;
            hn = hmax2(hl, hb) + 1;
            break;
        case K_ISNULL:
        case K_NOTNULL:
            advance(p); /* ISNULL, NOTNULL, or the NULL of NOT NULL */
            if (!(e = new_node(p, SQL_E_ISNULL, opos)))
                break;
            e->negated = kind == K_NOTNULL;
            hn = hl + 1;
            break;
        case K_IS:
            advance(p);
            if (accept_kw(p, "NOT"))
                neg = 1;
            if (!(b = parse_expr(p, L_REL, &hb)))
                break;
            if (b->kind == SQL_E_LITERAL && b->lit.type == DOC_NULL) {
                sql_expr_free(b);
                b = NULL;
                if (!(e = new_node(p, SQL_E_ISNULL, opos)))
                    break;
                hn = hl + 1;
            } else {
                if (!(e = new_node(p, SQL_E_IS, opos)))
                    break;
                hn = hmax2(hl, hb) + 1;
            }
            e->negated = neg;
            break;
        case K_CONTAINS:
            advance(p);
            if (!(b = parse_expr(p, L_REL, &hb)))
                break;
            if (!(e = new_node(p, SQL_E_CONTAINS, opos)))
                break;
            hn = hmax2(hl, hb) + 1;
            break;
        case K_BETWEEN:
            advance(p);
            if (!(b = parse_expr(p, L_REL, &hb)))
                break;
            if (!expect_kw(p, "AND"))
                break;
            if (!(c = parse_expr(p, L_REL, &hc)))
                break;
            if (!(e = new_node(p, SQL_E_BETWEEN, opos)))
                break;
            e->negated = neg;
            hn = hmax2(hl, hmax2(hb, hc)) + 1;
            break;
        case K_LIKE:
            advance(p);
            if (!(b = parse_expr(p, L_REL, &hb)))
                break;
            if (accept_kw(p, "ESCAPE") && !(c = parse_expr(p, L_ADD, &hc)))
                break;
            if (!(e = new_node(p, SQL_E_LIKE, opos)))
                break;
            e->negated = neg;
            hn = hmax2(hl, hmax2(hb, hc)) + 1;
            break;
        case K_IN: {
            advance(p);
            if (!expect_tok(p, T_LP, "'('"))
                break;
            if (!(e = new_node(p, SQL_E_IN, opos)))
                break;
            e->negated = neg;
            size_t cap = 0;
            int hm = hl;
            if (p->t.type != T_RP) {
                for (;;) {
                    int hi = 0;
                    SqlExpr *it = parse_expr(p, L_OR, &hi);
                    if (!it || !list_push(p, &e->list, &e->nlist, &cap, it))
                        break;
                    hm = hmax2(hm, hi);
                    if (e->nlist > SQL_MAX_IN_LIST) {
                        fail_at(p, it->pos, "IN list too long at offset %u (at most %d values)",
                                it->pos, SQL_MAX_IN_LIST);
                        break;
                    }
                    if (!accept(p, T_COMMA))
                        break;
                }
            }
            if (!p->failed)
                expect_tok(p, T_RP, "')'");
            hn = hm + 1;
            break;
        }
        }
        if (p->failed || !e) {
            sql_expr_free(e);
            sql_expr_free(b);
            sql_expr_free(c);
            sql_expr_free(lhs);
            lhs = NULL;
            break;
        }
        e->a = lhs;
        e->b = b;
        e->c = c;
        lhs = e;
        hl = hn;
        if (!check_height(p, hl, opos)) {
            sql_expr_free(lhs);
            lhs = NULL;
        }
    }
    if (p->failed && lhs) {
        sql_expr_free(lhs);
        lhs = NULL;
    }
    *h = hl;
    return lhs;
}

static SqlExpr *expr_top(P *p)
{
    int h = 0;
    return parse_expr(p, L_OR, &h);
}

/* ---- statements --------------------------------------------------------------- */

static void select_free(SqlSelect *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncols; i++) {
        sql_expr_free(s->cols[i].expr);
        free(s->cols[i].alias);
        free(s->cols[i].star_qual);
    }
    free(s->cols);
    free(s->from.coll);
    free(s->from.alias);
    free(s->from.indexed_by);
    for (size_t i = 0; i < s->njoins; i++) {
        free(s->joins[i].t.coll);
        free(s->joins[i].t.alias);
        free(s->joins[i].t.indexed_by);
        sql_expr_free(s->joins[i].on);
    }
    free(s->joins);
    sql_expr_free(s->where);
    free_list(s->group, s->ngroup);
    sql_expr_free(s->having);
    for (size_t i = 0; i < s->norder; i++)
        sql_expr_free(s->order[i].e);
    free(s->order);
    sql_expr_free(s->limit);
    sql_expr_free(s->offset);
    free(s);
}

void sql_stmt_free(SqlStmt *s)
{
    if (!s)
        return;
    select_free(s->select);
    free(s->coll);
    for (size_t i = 0; i < s->nfields; i++)
        free(s->fields[i]);
    free(s->fields);
    for (size_t r = 0; r < s->nrows; r++) {
        if (!s->rows[r])
            continue;
        size_t n = s->json_docs ? 1 : s->nfields;
        for (size_t i = 0; i < n; i++)
            sql_expr_free(s->rows[r][i]);
        free(s->rows[r]);
    }
    free(s->rows);
    for (size_t i = 0; i < s->nset; i++) {
        free(s->set_paths[i]);
        sql_expr_free(s->set_vals[i]);
    }
    free(s->set_paths);
    free(s->set_vals);
    sql_expr_free(s->where);
    free(s->where_text);
    free(s->name);
    for (size_t i = 0; i < s->nifields; i++)
        free(s->ifields[i].path);
    free(s->ifields);
    if (s->param_names)
        for (int i = 0; i < s->nparams; i++)
            free(s->param_names[i]);
    free(s->param_names);
    free(s);
}

/* Grows an array of elem-sized items to hold n+1. */
static int grow(P *p, void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 4;
    void *q = realloc(*arr, c * elem);
    if (!q) {
        fail_nomem(p);
        return 0;
    }
    *arr = q;
    *cap = c;
    return 1;
}

/* A dotted path (INSERT columns, SET targets, index fields); malloc'd. */
static char *parse_path(P *p, const char *what)
{
    if (!is_name(p, &p->t)) {
        expected(p, what);
        return NULL;
    }
    SqlExpr *e = parse_column(p);
    if (!e)
        return NULL;
    char *r = e->path;
    e->path = NULL;
    sql_expr_free(e);
    return r;
}

static int parse_table_ref(P *p, SqlTableRef *t)
{
    t->pos = (uint32_t)p->t.start;
    if (!(t->coll = parse_name(p, "a collection name")))
        return 0;
    if (accept_kw(p, "AS")) {
        if (!(t->alias = parse_name(p, "an alias")))
            return 0;
    } else if (is_name(p, &p->t)) {
        if (!(t->alias = parse_name(p, "an alias")))
            return 0;
    }
    if (accept_kw(p, "INDEXED")) {
        if (!expect_kw(p, "BY") || !(t->indexed_by = parse_name(p, "an index name")))
            return 0;
    } else if (is_kw(p, "NOT")) {
        advance(p);
        if (!expect_kw(p, "INDEXED"))
            return 0;
        t->not_indexed = 1;
    }
    return 1;
}

static SqlSelect *parse_select(P *p)
{
    SqlSelect *s = calloc(1, sizeof *s);
    size_t cap = 0;
    if (!s) {
        fail_nomem(p);
        return NULL;
    }
    advance(p); /* SELECT */
    if (accept_kw(p, "DISTINCT"))
        s->distinct = 1;
    else
        accept_kw(p, "ALL");
    for (;;) {
        if (!grow(p, (void **)&s->cols, s->ncols, &cap, sizeof *s->cols))
            goto fail;
        SqlResultCol *c = &s->cols[s->ncols];
        memset(c, 0, sizeof *c);
        c->pos = (uint32_t)p->t.start;
        if (p->t.type == T_STAR) {
            advance(p);
            s->ncols++;
        } else {
            Tok nx = peek2(p);
            int star = 0;
            if (is_name(p, &p->t) && nx.type == T_DOT) {
                /* alias.* ? */
                Tok save = p->t;
                size_t spos = p->pos, send = p->last_end;
                advance(p);
                advance_seg(p);
                star = p->t.type == T_STAR;
                p->t = save;
                p->pos = spos;
                p->last_end = send;
            }
            if (star) {
                c->star_qual = ident_text(p, &p->t);
                s->ncols++;
                if (!c->star_qual)
                    goto fail;
                advance(p);
                advance_seg(p);
                advance(p);
            } else {
                c->expr = expr_top(p);
                s->ncols++;
                if (!c->expr)
                    goto fail;
                c->end = (uint32_t)p->last_end;
                if (accept_kw(p, "AS")) {
                    if (p->t.type == T_STR) {
                        SqlValue v = {0};
                        if (!string_lit(p, &p->t, &v))
                            goto fail;
                        c->alias = (char *)v.s;
                        advance(p);
                    } else if (!(c->alias = parse_name(p, "a column alias"))) {
                        goto fail;
                    }
                } else if (is_name(p, &p->t)) {
                    if (!(c->alias = parse_name(p, "a column alias")))
                        goto fail;
                } else if (p->t.type == T_STR) { /* SELECT 1 'one', as SQLite */
                    SqlValue v = {0};
                    if (!string_lit(p, &p->t, &v))
                        goto fail;
                    c->alias = (char *)v.s;
                    advance(p);
                }
            }
        }
        if (c->end == 0)
            c->end = (uint32_t)p->last_end;
        if (!accept(p, T_COMMA))
            break;
    }
    if (accept_kw(p, "FROM")) {
        s->has_from = 1;
        if (!parse_table_ref(p, &s->from))
            goto fail;
        size_t jcap = 0;
        for (;;) {
            int left = 0;
            if (is_kw(p, "LEFT")) {
                advance(p);
                accept_kw(p, "OUTER");
                left = 1;
                if (!expect_kw(p, "JOIN"))
                    goto fail;
            } else if (is_kw(p, "INNER")) {
                advance(p);
                if (!expect_kw(p, "JOIN"))
                    goto fail;
            } else if (!accept_kw(p, "JOIN")) {
                break;
            }
            if (!grow(p, (void **)&s->joins, s->njoins, &jcap, sizeof *s->joins))
                goto fail;
            SqlJoin *j = &s->joins[s->njoins++];
            memset(j, 0, sizeof *j);
            j->left = left;
            if (!parse_table_ref(p, &j->t))
                goto fail;
            if (!expect_kw(p, "ON"))
                goto fail;
            if (!(j->on = expr_top(p)))
                goto fail;
        }
    }
    if (accept_kw(p, "WHERE") && !(s->where = expr_top(p)))
        goto fail;
    if (is_kw(p, "GROUP")) {
        advance(p);
        if (!expect_kw(p, "BY"))
            goto fail;
        size_t gcap = 0;
        do {
            SqlExpr *g = expr_top(p);
            if (!g || !list_push(p, &s->group, &s->ngroup, &gcap, g))
                goto fail;
        } while (accept(p, T_COMMA));
    }
    if (accept_kw(p, "HAVING") && !(s->having = expr_top(p)))
        goto fail;
    if (is_kw(p, "ORDER")) {
        advance(p);
        if (!expect_kw(p, "BY"))
            goto fail;
        size_t ocap = 0;
        do {
            if (!grow(p, (void **)&s->order, s->norder, &ocap, sizeof *s->order))
                goto fail;
            SqlOrderTerm *o = &s->order[s->norder];
            memset(o, 0, sizeof *o);
            if (!(o->e = expr_top(p)))
                goto fail;
            s->norder++;
            if (accept_kw(p, "DESC"))
                o->desc = 1;
            else
                accept_kw(p, "ASC");
        } while (accept(p, T_COMMA));
    }
    if (accept_kw(p, "LIMIT")) {
        if (!(s->limit = expr_top(p)))
            goto fail;
        if (accept_kw(p, "OFFSET")) {
            if (!(s->offset = expr_top(p)))
                goto fail;
        } else if (accept(p, T_COMMA)) {
            /* LIMIT offset, count */
            s->offset = s->limit;
            if (!(s->limit = expr_top(p)))
                goto fail;
        }
    }
    return s;
fail:
    select_free(s);
    return NULL;
}

static int parse_insert(P *p, SqlStmt *st)
{
    if (accept_kw(p, "REPLACE")) {
        st->or_replace = 1;
    } else {
        advance(p); /* INSERT */
        if (accept_kw(p, "OR")) {
            if (!expect_kw(p, "REPLACE"))
                return 0;
            st->or_replace = 1;
        }
    }
    if (!expect_kw(p, "INTO"))
        return 0;
    st->coll_pos = (uint32_t)p->t.start;
    if (!(st->coll = parse_name(p, "a collection name")))
        return 0;
    size_t rcap = 0;
    if (accept_kw(p, "JSON")) {
        st->json_docs = 1;
        do {
            if (p->t.type != T_STR && p->t.type != T_PARAM) {
                expected(p, "JSON text or a parameter");
                return 0;
            }
            if (!grow(p, (void **)&st->rows, st->nrows, &rcap, sizeof *st->rows))
                return 0;
            SqlExpr **row = calloc(1, sizeof *row);
            if (!row) {
                fail_nomem(p);
                return 0;
            }
            st->rows[st->nrows++] = row;
            int h;
            if (!(row[0] = parse_prefix(p, &h)))
                return 0;
        } while (accept(p, T_COMMA));
        return 1;
    }
    if (!expect_tok(p, T_LP, "'(' or JSON"))
        return 0;
    size_t fcap = 0;
    do {
        if (!grow(p, (void **)&st->fields, st->nfields, &fcap, sizeof *st->fields))
            return 0;
        char *f = parse_path(p, "a field path");
        if (!f)
            return 0;
        st->fields[st->nfields++] = f;
    } while (accept(p, T_COMMA));
    if (!expect_tok(p, T_RP, "')'") || !expect_kw(p, "VALUES"))
        return 0;
    do {
        size_t rpos = p->t.start;
        if (!expect_tok(p, T_LP, "'('"))
            return 0;
        if (!grow(p, (void **)&st->rows, st->nrows, &rcap, sizeof *st->rows))
            return 0;
        SqlExpr **row = calloc(st->nfields, sizeof *row);
        if (!row) {
            fail_nomem(p);
            return 0;
        }
        st->rows[st->nrows++] = row;
        size_t k = 0;
        for (;;) {
            if (k == st->nfields) {
                fail_at(p, rpos, "row at offset %zu has more values than the %zu fields", rpos,
                        st->nfields);
                return 0;
            }
            if (!(row[k++] = expr_top(p)))
                return 0;
            if (!accept(p, T_COMMA))
                break;
        }
        if (k != st->nfields) {
            fail_at(p, rpos, "row at offset %zu has %zu values for %zu fields", rpos, k,
                    st->nfields);
            return 0;
        }
        if (!expect_tok(p, T_RP, "')'"))
            return 0;
    } while (accept(p, T_COMMA));
    return 1;
}

static int parse_update(P *p, SqlStmt *st)
{
    advance(p); /* UPDATE */
    st->coll_pos = (uint32_t)p->t.start;
    if (!(st->coll = parse_name(p, "a collection name")) || !expect_kw(p, "SET"))
        return 0;
    size_t cap = 0;
    do {
        if (!grow(p, (void **)&st->set_paths, st->nset, &cap, sizeof *st->set_paths))
            return 0;
        SqlExpr **nv = realloc(st->set_vals, cap * sizeof *nv);
        if (!nv) {
            fail_nomem(p);
            return 0;
        }
        st->set_vals = nv;
        char *path = parse_path(p, "a field path");
        if (!path)
            return 0;
        st->set_paths[st->nset] = path;
        st->set_vals[st->nset++] = NULL;
        if (!expect_tok(p, T_EQ, "'='"))
            return 0;
        if (!(st->set_vals[st->nset - 1] = expr_top(p)))
            return 0;
    } while (accept(p, T_COMMA));
    if (accept_kw(p, "WHERE") && !(st->where = expr_top(p)))
        return 0;
    return 1;
}

static int parse_create(P *p, SqlStmt *st)
{
    advance(p); /* CREATE */
    if (accept_kw(p, "UNIQUE")) {
        st->unique = 1;
        if (!is_kw(p, "INDEX")) {
            expected(p, "INDEX");
            return 0;
        }
    }
    if (accept_kw(p, "INDEX")) {
        st->kind = SQL_CREATE_INDEX;
        if (accept_kw(p, "IF")) {
            if (!expect_kw(p, "NOT") || !expect_kw(p, "EXISTS"))
                return 0;
            st->if_exists = 1;
        }
        if (!(st->name = parse_name(p, "an index name")) || !expect_kw(p, "ON"))
            return 0;
        st->coll_pos = (uint32_t)p->t.start;
        if (!(st->coll = parse_name(p, "a collection name")) ||
            !expect_tok(p, T_LP, "'('"))
            return 0;
        size_t cap = 0;
        do {
            if (!grow(p, (void **)&st->ifields, st->nifields, &cap, sizeof *st->ifields))
                return 0;
            SqlIndexField *f = &st->ifields[st->nifields];
            memset(f, 0, sizeof *f);
            if (!(f->path = parse_path(p, "a field path")))
                return 0;
            st->nifields++;
            if (accept(p, T_LBRACKET)) {
                if (!expect_tok(p, T_RBRACKET, "']'"))
                    return 0;
                f->each = 1;
            }
            if (accept_kw(p, "DESC"))
                f->desc = 1;
            else
                accept_kw(p, "ASC");
        } while (accept(p, T_COMMA));
        if (!expect_tok(p, T_RP, "')'"))
            return 0;
        if (accept_kw(p, "WHERE")) {
            size_t ws = p->t.start;
            if (!(st->where = expr_top(p)))
                return 0;
            size_t we = p->last_end;
            if (!(st->where_text = malloc(we - ws + 1))) {
                fail_nomem(p);
                return 0;
            }
            memcpy(st->where_text, p->src + ws, we - ws);
            st->where_text[we - ws] = 0;
        }
        return 1;
    }
    if (accept_kw(p, "COLLECTION") || accept_kw(p, "TABLE")) {
        st->kind = SQL_CREATE_COLLECTION;
        if (accept_kw(p, "IF")) {
            if (!expect_kw(p, "NOT") || !expect_kw(p, "EXISTS"))
                return 0;
            st->if_exists = 1;
        }
        st->coll_pos = (uint32_t)p->t.start;
        return (st->coll = parse_name(p, "a collection name")) != NULL;
    }
    expected(p, "INDEX or COLLECTION");
    return 0;
}

static int parse_drop(P *p, SqlStmt *st)
{
    advance(p); /* DROP */
    int index = 0;
    if (accept_kw(p, "INDEX"))
        index = 1;
    else if (!accept_kw(p, "COLLECTION") && !accept_kw(p, "TABLE")) {
        expected(p, "INDEX or COLLECTION");
        return 0;
    }
    st->kind = index ? SQL_DROP_INDEX : SQL_DROP_COLLECTION;
    if (accept_kw(p, "IF")) {
        if (!expect_kw(p, "EXISTS"))
            return 0;
        st->if_exists = 1;
    }
    st->coll_pos = (uint32_t)p->t.start;
    if (index)
        return (st->name = parse_name(p, "an index name")) != NULL;
    return (st->coll = parse_name(p, "a collection name")) != NULL;
}

static int stmt_start(const P *p, const Tok *t)
{
    static const char *const kws[] = {"SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE",
                                      "CREATE", "DROP"};
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (tok_is(p, t, kws[i]))
            return 1;
    return 0;
}

static int parse_stmt(P *p, SqlStmt *st)
{
    if (accept_kw(p, "EXPLAIN")) {
        st->explain = 1;
        if (is_kw(p, "ANALYZE")) {
            Tok nx = peek2(p);
            if (stmt_start(p, &nx)) {
                advance(p);
                st->explain = 2;
            }
        }
    }
    if (is_kw(p, "SELECT")) {
        st->kind = SQL_SELECT;
        return (st->select = parse_select(p)) != NULL;
    }
    if (is_kw(p, "INSERT") || is_kw(p, "REPLACE")) {
        st->kind = SQL_INSERT;
        return parse_insert(p, st);
    }
    if (is_kw(p, "UPDATE")) {
        st->kind = SQL_UPDATE;
        return parse_update(p, st);
    }
    if (is_kw(p, "DELETE")) {
        st->kind = SQL_DELETE;
        advance(p);
        if (!expect_kw(p, "FROM"))
            return 0;
        st->coll_pos = (uint32_t)p->t.start;
        if (!(st->coll = parse_name(p, "a collection name")))
            return 0;
        if (accept_kw(p, "WHERE") && !(st->where = expr_top(p)))
            return 0;
        return 1;
    }
    if (is_kw(p, "CREATE"))
        return parse_create(p, st);
    if (is_kw(p, "DROP"))
        return parse_drop(p, st);
    if (accept_kw(p, "BEGIN")) {
        st->kind = SQL_BEGIN;
        accept_kw(p, "TRANSACTION");
        return 1;
    }
    if (accept_kw(p, "COMMIT") || accept_kw(p, "END")) {
        st->kind = SQL_COMMIT;
        accept_kw(p, "TRANSACTION");
        return 1;
    }
    if (accept_kw(p, "ROLLBACK")) {
        st->kind = SQL_ROLLBACK;
        accept_kw(p, "TRANSACTION");
        if (accept_kw(p, "TO")) {
            st->kind = SQL_ROLLBACK_TO;
            accept_kw(p, "SAVEPOINT");
            return (st->name = parse_name(p, "a savepoint name")) != NULL;
        }
        return 1;
    }
    if (accept_kw(p, "SAVEPOINT")) {
        st->kind = SQL_SAVEPOINT;
        return (st->name = parse_name(p, "a savepoint name")) != NULL;
    }
    if (accept_kw(p, "RELEASE")) {
        st->kind = SQL_RELEASE;
        accept_kw(p, "SAVEPOINT");
        return (st->name = parse_name(p, "a savepoint name")) != NULL;
    }
    if (accept_kw(p, "ANALYZE")) {
        st->kind = SQL_ANALYZE;
        if (is_name(p, &p->t)) {
            st->coll_pos = (uint32_t)p->t.start;
            return (st->coll = parse_name(p, "a collection name")) != NULL;
        }
        return 1;
    }
    expected(p, "a statement");
    return 0;
}

static void p_init(P *p, const char *sql, size_t len, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->src = sql;
    p->len = len;
    p->err = err;
    p->errlen = errlen;
    if (err && errlen)
        err[0] = 0;
    p->t.type = T_SEMI; /* "previous token" for the first lex */
    lex(p, 0);
}

static void p_free_params(P *p)
{
    for (int i = 0; i < p->nparams && i < p->pcap; i++)
        free(p->pnames[i]);
    free(p->pnames);
    p->pnames = NULL;
}

int sql_parse(const char *sql, size_t len, SqlStmt **out, size_t *used, uint32_t *epos,
              char *err, size_t errlen)
{
    P p;
    *out = NULL;
    if (used)
        *used = 0;
    if (epos)
        *epos = 0;
    if (!sql && len) {
        if (err && errlen)
            snprintf(err, errlen, "no SQL text");
        return BLAZEDB_INVALID_ARGUMENT;
    }
    if (len > UINT32_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "SQL text too long");
        return BLAZEDB_TOO_BIG;
    }
    p_init(&p, sql ? sql : "", len, err, errlen);
    while (p.t.type == T_SEMI)
        advance(&p);
    if (p.t.type == T_EOF) {
        if (used)
            *used = len;
        return BLAZEDB_NOT_FOUND;
    }
    SqlStmt *st = calloc(1, sizeof *st);
    if (!st) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return BLAZEDB_NOMEM;
    }
    st->pos = (uint32_t)p.t.start;
    if (parse_stmt(&p, st) && !p.failed) {
        st->end = (uint32_t)p.last_end;
        if (!accept(&p, T_SEMI) && p.t.type != T_EOF)
            expected(&p, "';' or the end of the statement");
    }
    if (p.failed) {
        sql_stmt_free(st);
        p_free_params(&p);
        if (epos)
            *epos = p.epos;
        return p.rc;
    }
    st->nparams = p.nparams;
    st->param_names = p.pnames;
    if (used)
        *used = p.t.type == T_EOF ? len : p.t.start;
    /* trailing whitespace/comments after the last statement are consumed */
    if (used && skip_space(p.src, len, *used) >= len)
        *used = len;
    *out = st;
    return BLAZEDB_OK;
}

int sql_parse_expr(const char *text, size_t len, SqlExpr **out, uint32_t *epos, char *err,
                   size_t errlen)
{
    P p;
    *out = NULL;
    if (epos)
        *epos = 0;
    if (len > UINT32_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "expression too long");
        return BLAZEDB_TOO_BIG;
    }
    p_init(&p, text ? text : "", text ? len : 0, err, errlen);
    SqlExpr *e = expr_top(&p);
    if (e && !p.failed && p.t.type != T_EOF)
        expected(&p, "the end of the expression");
    p_free_params(&p);
    if (p.failed) {
        sql_expr_free(e);
        if (epos)
            *epos = p.epos;
        return p.rc;
    }
    *out = e;
    return BLAZEDB_OK;
}

/* ---- rendering ---------------------------------------------------------------- */

static int prec_of(const SqlExpr *e)
{
    switch (e->kind) {
    case SQL_E_BINARY:
        switch (e->op) {
        case SQL_OP_OR: return L_OR;
        case SQL_OP_AND: return L_AND;
        case SQL_OP_EQ:
        case SQL_OP_NE: return L_EQ;
        case SQL_OP_LT:
        case SQL_OP_LE:
        case SQL_OP_GT:
        case SQL_OP_GE: return L_REL;
        case SQL_OP_ADD:
        case SQL_OP_SUB: return L_ADD;
        case SQL_OP_MUL:
        case SQL_OP_DIV:
        case SQL_OP_MOD: return L_MUL;
        case SQL_OP_CONCAT: return L_CAT;
        default: return L_OR;
        }
    case SQL_E_UNARY: return e->op == SQL_OP_NOT ? L_NOT : L_UNARY;
    case SQL_E_ISNULL:
    case SQL_E_IS:
    case SQL_E_BETWEEN:
    case SQL_E_IN:
    case SQL_E_LIKE:
    case SQL_E_CONTAINS: return L_EQ;
    case SQL_E_LITERAL:
        /* a negative number starts with '-': keep it apart from operators */
        if (e->lit.type == DOC_INT && e->lit.i < 0)
            return L_UNARY;
        if (e->lit.type == DOC_DOUBLE) {
            uint64_t u;
            memcpy(&u, &e->lit.d, 8);
            if (u >> 63)
                return L_UNARY;
        }
        return L_PRIMARY;
    default: return L_PRIMARY;
    }
}

static void render(TextBuf *b, const SqlExpr *e);

static void render_sub(TextBuf *b, const SqlExpr *e, int need)
{
    if (!e) {
        tb_str(b, "NULL");
        return;
    }
    if (prec_of(e) < need) {
        tb_put(b, "(", 1);
        render(b, e);
        tb_put(b, ")", 1);
    } else {
        render(b, e);
    }
}

static void render_ident(TextBuf *b, const char *s, size_t n, int first)
{
    int bare = n > 0;
    for (size_t i = 0; i < n && bare; i++) {
        unsigned char c = (unsigned char)s[i];
        bare = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               (c >= '0' && c <= '9' && (i > 0 || !first));
    }
    if (bare && first && word_reserved(s, n))
        bare = 0;
    if (bare && !first) { /* a segment after '.': all digits or an identifier */
        int digits = 1;
        for (size_t i = 0; i < n; i++)
            digits &= s[i] >= '0' && s[i] <= '9';
        if (!digits && s[0] >= '0' && s[0] <= '9')
            bare = 0;
    }
    if (bare) {
        tb_put(b, s, n);
        return;
    }
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            tb_put(b, "\"", 1);
        tb_put(b, s + i, 1);
    }
    tb_put(b, "\"", 1);
}

static void render_path(TextBuf *b, const char *path)
{
    const char *s = path ? path : "";
    int first = 1;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        render_ident(b, s, n, first);
        first = 0;
        if (!dot)
            break;
        tb_put(b, ".", 1);
        s = dot + 1;
    }
}

static void render_double(TextBuf *b, double d)
{
    if (d != d) {
        tb_str(b, "NULL");
        return;
    }
    if (d > 1.7976931348623157e308) {
        tb_str(b, "9e999");
        return;
    }
    if (d < -1.7976931348623157e308) {
        tb_str(b, "-9e999");
        return;
    }
    char tmp[64];
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (old)
        uselocale(old);
    tb_str(b, tmp);
    if (!strpbrk(tmp, ".e"))
        tb_str(b, ".0");
}

static void render_lit(TextBuf *b, const SqlValue *v)
{
    switch (v->type) {
    case DOC_BOOL: tb_str(b, v->i ? "TRUE" : "FALSE"); break;
    case DOC_INT: tb_printf(b, "%lld", (long long)v->i); break;
    case DOC_DOUBLE: render_double(b, v->d); break;
    case DOC_STRING:
        tb_put(b, "'", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (v->s[i] == '\'')
                tb_put(b, "'", 1);
            tb_put(b, v->s + i, 1);
        }
        tb_put(b, "'", 1);
        break;
    case DOC_BYTES:
        tb_str(b, "X'");
        for (size_t i = 0; i < v->len; i++)
            tb_printf(b, "%02X", (unsigned char)v->s[i]);
        tb_put(b, "'", 1);
        break;
    case DOC_DATE: tb_printf(b, "epoch_ms(%lld)", (long long)v->i); break;
    case DOC_UUID: tb_str(b, "<uuid>"); break;
    case DOC_ARRAY: tb_str(b, "<array>"); break;
    case DOC_OBJECT: tb_str(b, "<object>"); break;
    case DOC_VECTOR: tb_str(b, "<vector>"); break;
    default: tb_str(b, "NULL"); break;
    }
}

static const char *op_text(int op)
{
    switch (op) {
    case SQL_OP_EQ: return " = ";
    case SQL_OP_NE: return " != ";
    case SQL_OP_LT: return " < ";
    case SQL_OP_LE: return " <= ";
    case SQL_OP_GT: return " > ";
    case SQL_OP_GE: return " >= ";
    case SQL_OP_AND: return " AND ";
    case SQL_OP_OR: return " OR ";
    case SQL_OP_ADD: return " + ";
    case SQL_OP_SUB: return " - ";
    case SQL_OP_MUL: return " * ";
    case SQL_OP_DIV: return " / ";
    case SQL_OP_MOD: return " % ";
    case SQL_OP_CONCAT: return " || ";
    default: return " ? ";
    }
}

static void render(TextBuf *b, const SqlExpr *e)
{
    switch (e->kind) {
    case SQL_E_LITERAL: render_lit(b, &e->lit); break;
    case SQL_E_PARAM: tb_printf(b, "?%d", e->param); break;
    case SQL_E_COLUMN:
        if (e->qual) {
            render_ident(b, e->qual, strlen(e->qual), 1);
            tb_put(b, ".", 1);
            /* the path's first segment follows a qualifier: not first */
        }
        render_path(b, e->path);
        break;
    case SQL_E_UNARY:
        if (e->op == SQL_OP_NOT) {
            tb_str(b, "NOT ");
            render_sub(b, e->a, L_NOT);
        } else {
            tb_str(b, e->op == SQL_OP_NEG ? "-" : "+");
            const SqlExpr *a = e->a;
            if (a && a->kind == SQL_E_UNARY && a->op != SQL_OP_NOT) {
                tb_put(b, " ", 1); /* "- -x", never the comment "--x" */
                render(b, a);
            } else if (a && a->kind == SQL_E_LITERAL && prec_of(a) == L_UNARY) {
                tb_put(b, " ", 1); /* "- -5": the inner '-' folds into -5 again */
                render(b, a);
            } else if (a && a->kind == SQL_E_LITERAL && e->op == SQL_OP_NEG &&
                       (a->lit.type == DOC_INT || a->lit.type == DOC_DOUBLE)) {
                render_sub(b, a, L_PRIMARY + 1); /* "-(5)" would fold into -5 */
            } else {
                render_sub(b, a, L_UNARY);
            }
        }
        break;
    case SQL_E_BINARY: {
        int l = prec_of(e);
        render_sub(b, e->a, l);
        tb_str(b, op_text(e->op));
        render_sub(b, e->b, l + 1);
        break;
    }
    case SQL_E_ISNULL:
        render_sub(b, e->a, L_EQ);
        tb_str(b, e->negated ? " IS NOT NULL" : " IS NULL");
        break;
    case SQL_E_IS:
        render_sub(b, e->a, L_EQ);
        tb_str(b, e->negated ? " IS NOT " : " IS ");
        render_sub(b, e->b, L_REL);
        break;
    case SQL_E_CONTAINS:
        render_sub(b, e->a, L_EQ);
        tb_str(b, " CONTAINS ");
        render_sub(b, e->b, L_REL);
        break;
    case SQL_E_BETWEEN:
        render_sub(b, e->a, L_EQ);
        tb_str(b, e->negated ? " NOT BETWEEN " : " BETWEEN ");
        render_sub(b, e->b, L_REL);
        tb_str(b, " AND ");
        render_sub(b, e->c, L_REL);
        break;
    case SQL_E_LIKE:
        render_sub(b, e->a, L_EQ);
        tb_str(b, e->negated ? " NOT LIKE " : " LIKE ");
        render_sub(b, e->b, L_REL);
        if (e->c) {
            tb_str(b, " ESCAPE ");
            render_sub(b, e->c, L_ADD);
        }
        break;
    case SQL_E_IN:
        render_sub(b, e->a, L_EQ);
        tb_str(b, e->negated ? " NOT IN (" : " IN (");
        for (size_t i = 0; i < e->nlist; i++) {
            if (i)
                tb_str(b, ", ");
            render_sub(b, e->list[i], L_OR);
        }
        tb_put(b, ")", 1);
        break;
    case SQL_E_CASE:
        tb_str(b, "CASE");
        if (e->a) {
            tb_put(b, " ", 1);
            render_sub(b, e->a, L_OR);
        }
        for (size_t i = 0; i + 1 < e->nlist; i += 2) {
            tb_str(b, " WHEN ");
            render_sub(b, e->list[i], L_OR);
            tb_str(b, " THEN ");
            render_sub(b, e->list[i + 1], L_OR);
        }
        if (e->b) {
            tb_str(b, " ELSE ");
            render_sub(b, e->b, L_OR);
        }
        tb_str(b, " END");
        break;
    case SQL_E_FUNC:
    case SQL_E_AGG:
        tb_str(b, sql_func_name(e->func));
        tb_put(b, "(", 1);
        if (e->kind == SQL_E_AGG && e->func == SQL_A_COUNT && e->nlist == 0)
            tb_put(b, "*", 1);
        if (e->distinct)
            tb_str(b, "DISTINCT ");
        for (size_t i = 0; i < e->nlist; i++) {
            if (i)
                tb_str(b, ", ");
            render_sub(b, e->list[i], L_OR);
        }
        tb_put(b, ")", 1);
        break;
    default: tb_str(b, "?"); break;
    }
}

char *sql_expr_text(const SqlExpr *e)
{
    TextBuf b = {0};
    tb_put(&b, "", 0);
    if (e)
        render(&b, e);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
