/*
 * exportimport.c — export of documents as NDJSON, a JSON array, CSV or SQL,
 * and import of NDJSON, a JSON array or CSV (the public calls
 * blazedb_export*, blazedb_import*; formats in include/blazedb.h and
 * docs/OPERATIONS.md).
 *
 * Owns: the four output formats, the three input parsers (streaming, with
 * line and byte positions), the import's transactions, batches and report,
 * and the temporary-file-then-rename discipline of blazedb_export_file.
 * Not: the JSON mapping (src/doc/json.c), document storage
 * (src/db/collection.c).
 *
 * Export walks each collection's B+tree with one cursor in one snapshot and
 * writes JSON straight from the stored binary form (doc_bin_to_json): no
 * BlazeDBDoc is built unless a filter needs one.  Import turns each record
 * into the binary form directly (doc_json_to_bin) and stores documents with
 * coll_write_many (db.h), a chunk at a time.
 *
 * Keeping createdAt/updatedAt.  The collection calls stamp both fields
 * with the current time; an import must store what it reads, so it writes
 * with COLL_KEEP_STAMPS (db.h), which keeps the dates a document carries
 * and stamps only the missing ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blazedb.h"
#include "../btree/btree.h"
#include "../catalog/catalog.h"
#include "../db/db.h"
#include "../doc/docbin.h"
#include "../doc/json.h"
#include "../doc/value.h"

#define OUT_CAP 65536u        /* bytes per write callback call */
#define RD_CHUNK 65536u       /* bytes per read, at least */
#define PROGRESS_EVERY 4096u  /* documents (export) / records (import) */
#define CHUNK_DOCS 1000u      /* documents per insert_many call */
#define DEFAULT_BATCH 10000u  /* SKIP_BAD: documents per transaction */

/* ======================================================================== */
/* Output buffer                                                             */
/* ======================================================================== */

typedef struct {
    BlazeDBWriteFn write;
    void *arg;
    char *buf;
    size_t len;
    BlazeDBResult rc; /* the first failure of the callback */
    int cbrc;         /* what the callback returned */
} Out;

static BlazeDBResult out_flush(Out *o)
{
    if (o->rc || !o->len)
        return o->rc;
    int r = o->write(o->buf, o->len, o->arg);
    o->len = 0;
    if (r) {
        o->cbrc = r;
        o->rc = r > 0 && r <= BLAZEDB_CANCELLED ? (BlazeDBResult)r : BLAZEDB_IO_ERROR;
    }
    return o->rc;
}

static BlazeDBResult out_put(Out *o, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        if (o->len == OUT_CAP && out_flush(o))
            return o->rc;
        size_t k = OUT_CAP - o->len < n ? OUT_CAP - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
    return o->rc;
}

static BlazeDBResult out_str(Out *o, const char *s) { return out_put(o, s, strlen(s)); }

static BlazeDBResult out_fmt(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static BlazeDBResult out_fmt(Out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return out_put(o, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal (collection names: UTF-8 without control
 * characters, but escape them anyway). */
static BlazeDBResult out_json_string(Out *o, const char *s, size_t n)
{
    out_put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20) {
            out_put(o, s + run, i - run);
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                out_put(o, e, 2);
            } else {
                out_fmt(o, "\\u%04x", c);
            }
            run = i + 1;
        }
    }
    out_put(o, s + run, n - run);
    return out_put(o, "\"", 1);
}

/* ======================================================================== */
/* Column sets (CSV header, SQL table columns)                               */
/* ======================================================================== */

typedef struct {
    char **names;       /* malloc'd, NUL-terminated */
    size_t *lens;
    uint32_t *types;    /* SQL: bit (1 << DocType) per type seen */
    size_t n, cap;
    size_t *slots;      /* open addressing: index + 1, 0 = empty */
    size_t nslots;
    size_t *order;      /* output order: "id" first, then bytewise */
    char **sqlnames;    /* SQL: names made unique ignoring ASCII case */
} Cols;

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static long cols_find(const Cols *c, const char *s, size_t n)
{
    if (!c->nslots)
        return -1;
    for (size_t i = name_hash(s, n) & (c->nslots - 1);; i = (i + 1) & (c->nslots - 1)) {
        size_t v = c->slots[i];
        if (!v)
            return -1;
        if (c->lens[v - 1] == n && memcmp(c->names[v - 1], s, n) == 0)
            return (long)(v - 1);
    }
}

/* Index of `s`, added when new; -1 when out of memory. */
static long cols_add(Cols *c, const char *s, size_t n)
{
    long f = cols_find(c, s, n);
    if (f >= 0)
        return f;
    if ((c->n + 1) * 2 > c->nslots) {
        size_t ns = c->nslots ? c->nslots * 2 : 64;
        size_t *sl = calloc(ns, sizeof *sl);
        if (!sl)
            return -1;
        for (size_t k = 0; k < c->n; k++) {
            size_t i = name_hash(c->names[k], c->lens[k]) & (ns - 1);
            while (sl[i])
                i = (i + 1) & (ns - 1);
            sl[i] = k + 1;
        }
        free(c->slots);
        c->slots = sl;
        c->nslots = ns;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        char **nn = realloc(c->names, nc * sizeof *nn);
        if (nn)
            c->names = nn;
        size_t *nl = realloc(c->lens, nc * sizeof *nl);
        if (nl)
            c->lens = nl;
        uint32_t *nt = realloc(c->types, nc * sizeof *nt);
        if (nt)
            c->types = nt;
        if (!nn || !nl || !nt)
            return -1;
        c->cap = nc;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, n);
    copy[n] = 0;
    c->names[c->n] = copy;
    c->lens[c->n] = n;
    c->types[c->n] = 0;
    size_t i = name_hash(s, n) & (c->nslots - 1);
    while (c->slots[i])
        i = (i + 1) & (c->nslots - 1);
    c->slots[i] = c->n + 1;
    return (long)c->n++;
}

static void cols_free(Cols *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->names[i]);
        if (c->sqlnames)
            free(c->sqlnames[i]);
    }
    free(c->names);
    free(c->lens);
    free(c->types);
    free(c->slots);
    free(c->order);
    free(c->sqlnames);
    memset(c, 0, sizeof *c);
}

static int col_cmp(const void *a, const void *b, void *arg)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const Cols *c = arg;
    int xid = c->lens[x] == 2 && memcmp(c->names[x], "id", 2) == 0;
    int yid = c->lens[y] == 2 && memcmp(c->names[y], "id", 2) == 0;
    if (xid != yid)
        return xid ? -1 : 1;
    return doc_name_cmp(c->names[x], c->lens[x], c->names[y], c->lens[y]);
}

/* Fills c->order: "id" first, then bytewise. */
static int cols_order(Cols *c)
{
    c->order = malloc((c->n ? c->n : 1) * sizeof *c->order);
    if (!c->order)
        return -1;
    for (size_t i = 0; i < c->n; i++)
        c->order[i] = i;
    qsort_r(c->order, c->n, sizeof *c->order, col_cmp, c);
    return 0;
}

/* ======================================================================== */
/* Export                                                                    */
/* ======================================================================== */

typedef struct {
    char *name;
    CatColl c;
} ExpColl;

typedef struct {
    BlazeDB *db;
    PagerTxn *pt;
    BlazeDBExportOptions o;
    Out out;
    uint64_t done, total, count;
    ExpColl *colls;
    size_t ncolls, capcolls;
    int whole;          /* every collection: markers */
    int first;          /* JSON: no element written yet */
    /* CSV rows */
    Cols cols;
    DocView *cells;
    uint8_t *has;
    size_t *touched;
    size_t ntouched;
    char *path;         /* dotted path being built */
    size_t pathcap;
    const char *table;  /* SQL: the table being written */
} Exp;

typedef BlazeDBResult (*ExpDocFn)(Exp *x, const uint8_t *doc, size_t len);

static BlazeDBResult exp_progress(Exp *x)
{
    if (x->o.progress && x->o.progress(x->done, x->total, x->o.progress_arg))
        return db_error(x->db, BLAZEDB_CANCELLED, "export cancelled by the progress callback");
    return BLAZEDB_OK;
}

/* Calls fn for every live document of `e` (that passes the filter). */
static BlazeDBResult exp_scan(Exp *x, ExpColl *e, ExpDocFn fn)
{
    if (!e->c.docs.root.pgno)
        return BLAZEDB_OK;
    BtCursor *cur;
    int rc = btc_open(x->pt, &e->c.docs, &cur);
    if (rc)
        return (BlazeDBResult)rc;
    char err[DOC_ERRMAX];
    rc = btc_first(cur);
    while (rc == BLAZEDB_OK) {
        const void *v, *k;
        size_t vl, kl;
        if ((rc = btc_value(cur, &v, &vl)))
            break;
        x->done++;
        /* every reader below (doc_bin_to_json, the trusted lookups) wants
         * validated bytes */
        if (docbin_validate(v, vl, err) || *(const uint8_t *)v != DOC_OBJECT) {
            if (btc_key(cur, &k, &kl))
                k = "?", kl = 1;
            rc = db_error(x->db, BLAZEDB_CORRUPT,
                          "collection '%s': stored document '%.*s' does not decode: %s",
                          e->name, (int)kl, (const char *)k, err);
            break;
        }
        DocView dv;
        int live = !e->c.deleted || /* no soft-deleted document: no need to look */
                   !(docbin_lookup_valid(v, vl, "isDeleted", &dv) == BLAZEDB_OK &&
                     dv.type == DOC_BOOL && dv.b);
        if (live && x->o.filter) {
            uint8_t *copy = malloc(vl);
            BlazeDBDoc *d = NULL;
            if (!copy) {
                rc = db_error(x->db, BLAZEDB_NOMEM, "out of memory");
                break;
            }
            memcpy(copy, v, vl);
            if ((rc = docapi_from_binary_owned(copy, vl, &d))) {
                rc = db_error(x->db, (BlazeDBResult)rc, "%s", blazedb_errmsg(NULL));
                break;
            }
            live = blazedb_query_matches(x->o.filter, d);
            blazedb_doc_free(d);
        }
        if (live && (rc = fn(x, v, vl)))
            break;
        if (x->done % PROGRESS_EVERY == 0 && (rc = exp_progress(x)))
            break;
        rc = btc_next(cur);
    }
    btc_close(cur);
    return rc == BLAZEDB_NOT_FOUND ? BLAZEDB_OK : (BlazeDBResult)rc;
}

static int exp_list_one(const char *name, size_t len, const CatColl *c, void *arg)
{
    Exp *x = arg;
    if (x->ncolls == x->capcolls) {
        size_t nc = x->capcolls ? x->capcolls * 2 : 16;
        ExpColl *n = realloc(x->colls, nc * sizeof *n);
        if (!n)
            return BLAZEDB_NOMEM;
        x->colls = n;
        x->capcolls = nc;
    }
    char *s = malloc(len + 1);
    if (!s)
        return BLAZEDB_NOMEM;
    memcpy(s, name, len);
    s[len] = 0;
    x->colls[x->ncolls].name = s;
    x->colls[x->ncolls].c = *c;
    x->ncolls++;
    return 0;
}

/* ---- NDJSON and JSON ---------------------------------------------------- */

static BlazeDBResult exp_sep(Exp *x)
{
    if (x->o.format == BLAZEDB_FORMAT_JSON) {
        if (!x->first)
            return out_put(&x->out, ",\n", 2);
        x->first = 0;
    }
    return x->out.rc;
}

static BlazeDBResult exp_end_record(Exp *x)
{
    return x->o.format == BLAZEDB_FORMAT_NDJSON ? out_put(&x->out, "\n", 1) : x->out.rc;
}

static BlazeDBResult exp_json_doc(Exp *x, const uint8_t *doc, size_t len)
{
    char err[DOC_ERRMAX], *js;
    size_t jl;
    BlazeDBResult rc = doc_bin_to_json(doc, len, 0, &js, &jl, err);
    if (rc)
        return db_error(x->db, rc, "%s", err);
    exp_sep(x);
    out_put(&x->out, js, jl);
    free(js);
    x->count++;
    return exp_end_record(x);
}

static BlazeDBResult exp_marker(Exp *x, const ExpColl *e)
{
    exp_sep(x);
    out_str(&x->out, "{\"$collection\":");
    if (e->c.flags & CAT_F_NO_TIMESTAMPS) {
        out_str(&x->out, "{\"name\":");
        out_json_string(&x->out, e->name, strlen(e->name));
        out_str(&x->out, ",\"timestamps\":false}");
    } else {
        out_json_string(&x->out, e->name, strlen(e->name));
    }
    out_str(&x->out, "}");
    return exp_end_record(x);
}

static BlazeDBResult exp_json(Exp *x)
{
    BlazeDBResult rc = BLAZEDB_OK;
    x->first = 1;
    if (x->o.format == BLAZEDB_FORMAT_JSON)
        out_str(&x->out, "[\n");
    for (size_t i = 0; rc == BLAZEDB_OK && i < x->ncolls; i++) {
        if (x->whole && (rc = exp_marker(x, &x->colls[i])))
            break;
        rc = exp_scan(x, &x->colls[i], exp_json_doc);
    }
    if (rc == BLAZEDB_OK && x->o.format == BLAZEDB_FORMAT_JSON)
        rc = out_str(&x->out, x->first ? "]\n" : "\n]\n");
    return rc ? rc : x->out.rc;
}

/* ---- CSV ---------------------------------------------------------------- */

/* An object CSV flattens into dotted columns: not empty, every field name
 * non-empty and without '.'. */
static int flattenable(const DocView *obj)
{
    if (obj->type != DOC_OBJECT || obj->count == 0)
        return 0;
    for (size_t i = 0; i < obj->count; i++) {
        const uint8_t *name;
        size_t nl;
        DocView v;
        if (docbin_view_field(obj, i, &name, &nl, &v) || nl == 0 || memchr(name, '.', nl))
            return 0;
    }
    return 1;
}

static int path_room(Exp *x, size_t need)
{
    if (need <= x->pathcap)
        return 0;
    size_t nc = x->pathcap ? x->pathcap : 256;
    while (nc < need)
        nc *= 2;
    char *p = realloc(x->path, nc);
    if (!p)
        return -1;
    x->path = p;
    x->pathcap = nc;
    return 0;
}

/* Walks the fields of obj under path[0..plen): collect adds column names;
 * otherwise the values are placed in x->cells by column. */
static BlazeDBResult csv_walk(Exp *x, const DocView *obj, size_t plen, int collect, int top)
{
    for (size_t i = 0; i < obj->count; i++) {
        const uint8_t *name;
        size_t nl;
        DocView v;
        if (docbin_view_field(obj, i, &name, &nl, &v))
            return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
        size_t l = plen + (top ? 0 : 1) + nl;
        if (path_room(x, l + 1))
            return db_error(x->db, BLAZEDB_NOMEM, "out of memory");
        if (!top)
            x->path[plen] = '.';
        memcpy(x->path + l - nl, name, nl);
        if (v.type == DOC_OBJECT && flattenable(&v)) {
            BlazeDBResult rc = csv_walk(x, &v, l, collect, 0);
            if (rc)
                return rc;
        } else if (collect) {
            if (cols_add(&x->cols, x->path, l) < 0)
                return db_error(x->db, BLAZEDB_NOMEM, "out of memory");
        } else {
            long c = cols_find(&x->cols, x->path, l);
            if (c >= 0 && !x->has[c]) {
                x->cells[c] = v;
                x->has[c] = 1;
                x->touched[x->ntouched++] = (size_t)c;
            }
        }
    }
    return BLAZEDB_OK;
}

static BlazeDBResult csv_collect(Exp *x, const uint8_t *doc, size_t len)
{
    DocView root;
    if (docbin_lookup_valid(doc, len, "", &root))
        return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
    return csv_walk(x, &root, 0, 1, 1);
}

/* One CSV field: quoted when it holds the separator, a quote, CR or LF, or
 * when `quote` (an empty string, to tell it from null). */
static BlazeDBResult csv_text(Out *o, const char *s, size_t n, int quote)
{
    if (!quote)
        for (size_t i = 0; i < n && !quote; i++)
            quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return out_put(o, s, n);
    out_put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"') {
            out_put(o, s + run, i + 1 - run); /* the quote itself ... */
            out_put(o, "\"", 1);              /* ... doubled */
            run = i + 1;
        }
    out_put(o, s + run, n - run);
    return out_put(o, "\"", 1);
}

static BlazeDBResult csv_value(Exp *x, const DocView *v)
{
    switch (v->type) {
    case DOC_NULL:
        return BLAZEDB_OK;
    case DOC_BOOL:
        return out_str(&x->out, v->b ? "true" : "false");
    case DOC_INT:
        return out_fmt(&x->out, "%lld", (long long)v->i);
    case DOC_STRING:
        return csv_text(&x->out, (const char *)v->data, v->dlen, v->dlen == 0);
    default: {
        char err[DOC_ERRMAX], *js;
        size_t jl;
        BlazeDBResult rc = doc_bin_to_json(v->p, v->len, 0, &js, &jl, err);
        if (rc)
            return db_error(x->db, rc, "%s", err);
        csv_text(&x->out, js, jl, 0);
        free(js);
        return x->out.rc;
    }
    }
}

static BlazeDBResult csv_row(Exp *x, const uint8_t *doc, size_t len)
{
    DocView root;
    if (docbin_lookup_valid(doc, len, "", &root))
        return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
    x->ntouched = 0;
    BlazeDBResult rc = csv_walk(x, &root, 0, 0, 1);
    for (size_t k = 0; rc == BLAZEDB_OK && k < x->cols.n; k++) {
        size_t c = x->cols.order[k];
        if (k)
            out_put(&x->out, ",", 1);
        if (x->has[c])
            rc = csv_value(x, &x->cells[c]);
    }
    for (size_t k = 0; k < x->ntouched; k++)
        x->has[x->touched[k]] = 0;
    if (rc == BLAZEDB_OK)
        x->count++;
    return rc ? rc : out_put(&x->out, "\r\n", 2);
}

static BlazeDBResult exp_csv(Exp *x)
{
    ExpColl *e = &x->colls[0];
    BlazeDBResult rc = exp_scan(x, e, csv_collect);
    if (rc)
        return rc;
    if (cols_order(&x->cols))
        return db_error(x->db, BLAZEDB_NOMEM, "out of memory");
    size_t n = x->cols.n ? x->cols.n : 1;
    x->cells = calloc(n, sizeof *x->cells);
    x->has = calloc(n, 1);
    x->touched = calloc(n, sizeof *x->touched);
    if (!x->cells || !x->has || !x->touched)
        return db_error(x->db, BLAZEDB_NOMEM, "out of memory");
    for (size_t k = 0; k < x->cols.n; k++) {
        size_t c = x->cols.order[k];
        if (k)
            out_put(&x->out, ",", 1);
        csv_text(&x->out, x->cols.names[c], x->cols.lens[c], x->cols.lens[c] == 0);
    }
    if (x->cols.n)
        out_put(&x->out, "\r\n", 2);
    if (x->out.rc)
        return x->out.rc;
    return exp_scan(x, e, csv_row);
}

/* ---- SQL ---------------------------------------------------------------- */

static BlazeDBResult sql_ident(Out *o, const char *s, size_t n)
{
    out_put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"') {
            out_put(o, s + run, i + 1 - run);
            out_put(o, "\"", 1);
            run = i + 1;
        }
    out_put(o, s + run, n - run);
    return out_put(o, "\"", 1);
}

static BlazeDBResult sql_hex(Out *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    out_put(o, "X'", 2);
    for (size_t i = 0; i < n; i++) {
        char h[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        out_put(o, h, 2);
    }
    return out_put(o, "'", 1);
}

static BlazeDBResult sql_string(Out *o, const char *s, size_t n)
{
    /* a NUL cannot sit in an SQL string literal, and the sqlite3 shell
     * drops a CR before a line end: such strings are written in hex */
    if (memchr(s, 0, n) || memchr(s, '\r', n)) {
        out_str(o, "CAST(");
        sql_hex(o, (const uint8_t *)s, n);
        return out_str(o, " AS TEXT)");
    }
    out_put(o, "'", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\'') {
            out_put(o, s + run, i + 1 - run);
            out_put(o, "'", 1);
            run = i + 1;
        }
    out_put(o, s + run, n - run);
    return out_put(o, "'", 1);
}

static BlazeDBResult sql_value(Exp *x, const DocView *v)
{
    Out *o = &x->out;
    char buf[40];
    switch (v->type) {
    case DOC_NULL:
        return out_str(o, "NULL");
    case DOC_BOOL:
        return out_str(o, v->b ? "1" : "0");
    case DOC_INT:
        return out_fmt(o, "%lld", (long long)v->i);
    case DOC_DOUBLE:
        if (v->d != v->d)
            return out_str(o, "NULL");
        if (v->d > 1.7976931348623157e308)
            return out_str(o, "9e999");
        if (v->d < -1.7976931348623157e308)
            return out_str(o, "-9e999");
        break; /* the JSON text below: shortest round-trip form */
    case DOC_STRING:
        return sql_string(o, (const char *)v->data, v->dlen);
    case DOC_BYTES:
        return sql_hex(o, v->data, v->dlen);
    case DOC_UUID: {
        static const char hex[] = "0123456789abcdef";
        char *p = buf;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                *p++ = '-';
            *p++ = hex[v->data[i] >> 4];
            *p++ = hex[v->data[i] & 15];
        }
        return sql_string(o, buf, 36);
    }
    case DOC_DATE:
        if (doc_date_format(v->i, buf))
            return sql_string(o, buf, strlen(buf));
        break;
    default:
        break;
    }
    char err[DOC_ERRMAX], *js;
    size_t jl;
    BlazeDBResult rc = doc_bin_to_json(v->p, v->len, 0, &js, &jl, err);
    if (rc)
        return db_error(x->db, rc, "%s", err);
    if (v->type == DOC_DOUBLE)
        out_put(o, js, jl);
    else
        sql_string(o, js, jl);
    free(js);
    return o->rc;
}

static BlazeDBResult sql_collect(Exp *x, const uint8_t *doc, size_t len)
{
    DocView root;
    if (docbin_lookup_valid(doc, len, "", &root))
        return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
    for (size_t i = 0; i < root.count; i++) {
        const uint8_t *name;
        size_t nl;
        DocView v;
        if (docbin_view_field(&root, i, &name, &nl, &v))
            return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
        long c = cols_add(&x->cols, (const char *)name, nl);
        if (c < 0)
            return db_error(x->db, BLAZEDB_NOMEM, "out of memory");
        if (v.type != DOC_NULL)
            x->cols.types[c] |= 1u << v.type;
    }
    return BLAZEDB_OK;
}

static BlazeDBResult sql_row(Exp *x, const uint8_t *doc, size_t len)
{
    DocView root;
    if (docbin_lookup_valid(doc, len, "", &root))
        return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
    x->ntouched = 0;
    for (size_t i = 0; i < root.count; i++) {
        const uint8_t *name;
        size_t nl;
        DocView v;
        if (docbin_view_field(&root, i, &name, &nl, &v))
            return db_error(x->db, BLAZEDB_CORRUPT, "a stored document is damaged");
        long c = cols_find(&x->cols, (const char *)name, nl);
        if (c >= 0 && !x->has[c]) {
            x->cells[c] = v;
            x->has[c] = 1;
            x->touched[x->ntouched++] = (size_t)c;
        }
    }
    out_str(&x->out, "INSERT INTO ");
    sql_ident(&x->out, x->table, strlen(x->table));
    out_str(&x->out, " VALUES(");
    BlazeDBResult rc = BLAZEDB_OK;
    for (size_t k = 0; rc == BLAZEDB_OK && k < x->cols.n; k++) {
        size_t c = x->cols.order[k];
        if (k)
            out_put(&x->out, ",", 1);
        rc = x->has[c] ? sql_value(x, &x->cells[c]) : out_str(&x->out, "NULL");
    }
    for (size_t k = 0; k < x->ntouched; k++)
        x->has[x->touched[k]] = 0;
    if (rc == BLAZEDB_OK)
        x->count++;
    return rc ? rc : out_str(&x->out, ");\n");
}

static int ascii_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0; /* C locale: ASCII case only, as SQLite */
}

/* A name unique (ignoring ASCII case) among used[0..n): base, base_2, ... */
static char *unique_name(const char *base, char *const *used, size_t n)
{
    size_t bl = strlen(base);
    char *s = malloc(bl + 24);
    if (!s)
        return NULL;
    memcpy(s, base, bl + 1);
    for (unsigned k = 2;; k++) {
        size_t i = 0;
        while (i < n && !ascii_ieq(used[i], s))
            i++;
        if (i == n)
            return s;
        snprintf(s + bl, 24, "_%u", k);
    }
}

static const char *sql_type(uint32_t m)
{
    const uint32_t b = 1u << DOC_BOOL, i = 1u << DOC_INT, d = 1u << DOC_DOUBLE,
                   text = 1u << DOC_STRING | 1u << DOC_UUID | 1u << DOC_DATE |
                          1u << DOC_ARRAY | 1u << DOC_OBJECT | 1u << DOC_VECTOR;
    if (!m)
        return "";
    if (!(m & ~(b | i)))
        return " INTEGER";
    if (!(m & ~(b | i | d)))
        return " REAL";
    if (!(m & ~text))
        return " TEXT";
    if (m == 1u << DOC_BYTES)
        return " BLOB";
    return "";
}

static BlazeDBResult exp_sql(Exp *x)
{
    BlazeDBResult rc = BLAZEDB_OK;
    char **tables = calloc(x->ncolls ? x->ncolls : 1, sizeof *tables);
    if (!tables)
        return db_error(x->db, BLAZEDB_NOMEM, "out of memory");
    out_str(&x->out, "BEGIN;\n");
    for (size_t t = 0; rc == BLAZEDB_OK && t < x->ncolls; t++) {
        ExpColl *e = &x->colls[t];
        /* table name: unique ignoring case, not in SQLite's reserved space */
        char *base = malloc(strlen(e->name) + 2);
        if (!base) {
            rc = db_error(x->db, BLAZEDB_NOMEM, "out of memory");
            break;
        }
        sprintf(base, "%s%s", strncasecmp(e->name, "sqlite_", 7) ? "" : "_", e->name);
        tables[t] = unique_name(base, tables, t);
        free(base);
        cols_free(&x->cols);
        free(x->cells);
        free(x->has);
        free(x->touched);
        x->cells = NULL, x->has = NULL, x->touched = NULL;
        if (!tables[t] || cols_add(&x->cols, "id", 2) < 0) {
            rc = db_error(x->db, BLAZEDB_NOMEM, "out of memory");
            break;
        }
        if ((rc = exp_scan(x, e, sql_collect)))
            break;
        size_t n = x->cols.n;
        if (cols_order(&x->cols) || !(x->cols.sqlnames = calloc(n, sizeof(char *))) ||
            !(x->cells = calloc(n, sizeof *x->cells)) || !(x->has = calloc(n, 1)) ||
            !(x->touched = calloc(n, sizeof *x->touched))) {
            rc = db_error(x->db, BLAZEDB_NOMEM, "out of memory");
            break;
        }
        char **used = calloc(n, sizeof *used);
        if (!used) {
            rc = db_error(x->db, BLAZEDB_NOMEM, "out of memory");
            break;
        }
        out_str(&x->out, "CREATE TABLE ");
        sql_ident(&x->out, tables[t], strlen(tables[t]));
        out_str(&x->out, " (");
        for (size_t k = 0; k < n; k++) {
            size_t c = x->cols.order[k];
            if (!(x->cols.sqlnames[c] = unique_name(x->cols.names[c], used, k))) {
                rc = db_error(x->db, BLAZEDB_NOMEM, "out of memory");
                break;
            }
            used[k] = x->cols.sqlnames[c];
            if (k)
                out_str(&x->out, ", ");
            sql_ident(&x->out, used[k], strlen(used[k]));
            out_str(&x->out, k == 0 ? " TEXT PRIMARY KEY" : sql_type(x->cols.types[c]));
        }
        free(used);
        if (rc)
            break;
        out_str(&x->out, ");\n");
        x->table = tables[t];
        rc = exp_scan(x, e, sql_row);
    }
    if (rc == BLAZEDB_OK)
        rc = out_str(&x->out, "COMMIT;\n");
    for (size_t t = 0; t < x->ncolls; t++)
        free(tables[t]);
    free(tables);
    return rc ? rc : x->out.rc;
}

/* ---- entry points ------------------------------------------------------- */

void blazedb_export_options_init(BlazeDBExportOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->format = BLAZEDB_FORMAT_NDJSON;
}

BlazeDBResult blazedb_export(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBExportOptions *opts,
                             BlazeDBWriteFn writer, void *arg, uint64_t *count)
{
    if (count)
        *count = 0;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!writer)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the write callback is NULL");
    Exp x;
    memset(&x, 0, sizeof x);
    x.db = db;
    blazedb_export_options_init(&x.o);
    if (opts) {
        if (opts->struct_size < offsetof(BlazeDBExportOptions, collection) ||
            opts->struct_size > sizeof *opts)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                            "options.struct_size is wrong; use blazedb_export_options_init");
        memcpy(&x.o, opts, opts->struct_size);
        x.o.struct_size = sizeof x.o;
    }
    if (x.o.format < BLAZEDB_FORMAT_NDJSON || x.o.format > BLAZEDB_FORMAT_SQL)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown export format %d",
                        (int)x.o.format);
    if (x.o.format == BLAZEDB_FORMAT_CSV && !x.o.collection)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "a CSV export needs a collection (options.collection)");
    BlazeDBTxn *t = txn;
    BlazeDBResult rc;
    if (t && db_txn_db(t) != db)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the transaction belongs to another handle");
    if (!t && (rc = blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t)))
        return rc;
    x.pt = db_txn_pt(t);
    x.out.write = writer;
    x.out.arg = arg;
    x.out.buf = malloc(OUT_CAP);
    if (!x.out.buf) {
        rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
        goto done;
    }
    if (x.o.collection) {
        CatColl c;
        size_t nl = strlen(x.o.collection);
        rc = (BlazeDBResult)cat_get(x.pt, x.o.collection, nl, &c);
        if (rc == BLAZEDB_NOT_FOUND)
            rc = db_error(db, rc, "no collection '%s'", x.o.collection);
        if (rc == BLAZEDB_OK && exp_list_one(x.o.collection, nl, &c, &x))
            rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
    } else {
        x.whole = 1;
        rc = (BlazeDBResult)cat_each(x.pt, exp_list_one, &x);
    }
    if (rc)
        goto done;
    int passes = x.o.format == BLAZEDB_FORMAT_CSV || x.o.format == BLAZEDB_FORMAT_SQL ? 2 : 1;
    for (size_t i = 0; i < x.ncolls; i++)
        x.total += x.colls[i].c.docs.count * (uint64_t)passes;
    switch (x.o.format) {
    case BLAZEDB_FORMAT_CSV: rc = exp_csv(&x); break;
    case BLAZEDB_FORMAT_SQL: rc = exp_sql(&x); break;
    default: rc = exp_json(&x); break;
    }
    if (rc == BLAZEDB_OK)
        rc = out_flush(&x.out);
    if (rc == BLAZEDB_OK)
        rc = exp_progress(&x);
    if (rc && rc == x.out.rc)
        db_error(db, rc, "export: the write callback failed (returned %d)", x.out.cbrc);
done:
    if (count)
        *count = x.count;
    if (!txn)
        blazedb_txn_abort(t);
    for (size_t i = 0; i < x.ncolls; i++)
        free(x.colls[i].name);
    free(x.colls);
    cols_free(&x.cols);
    free(x.cells);
    free(x.has);
    free(x.touched);
    free(x.path);
    free(x.out.buf);
    return rc;
}

typedef struct {
    int fd;
    int err; /* errno of the failed write */
} FileOut;

static int file_write(const void *buf, size_t len, void *arg)
{
    FileOut *f = arg;
    const char *p = buf;
    while (len) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->err = w < 0 ? errno : ENOSPC;
            return f->err == ENOSPC || f->err == EDQUOT ? BLAZEDB_FULL : BLAZEDB_IO_ERROR;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static BlazeDBResult errno_rc(int e)
{
    return e == ENOSPC || e == EDQUOT ? BLAZEDB_FULL : BLAZEDB_IO_ERROR;
}

BlazeDBResult blazedb_export_file(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBExportOptions *opts,
                                  const char *path, uint64_t *count)
{
    if (count)
        *count = 0;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!path || !*path)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the export path is NULL or empty");
    FileOut f = {1, 0};
    if (strcmp(path, "-") == 0) {
        BlazeDBResult rc = blazedb_export(db, txn, opts, file_write, &f, count);
        if (rc && f.err)
            db_error(db, rc, "cannot write to standard output: %s", strerror(f.err));
        return rc;
    }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16), *dir = malloc(pl + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    snprintf(tmp, pl + 16, "%s.tmp-XXXXXX", path);
    f.fd = mkstemp(tmp);
    if (f.fd < 0) {
        int e = errno;
        free(tmp);
        free(dir);
        return db_error(db, errno_rc(e), "cannot create a temporary file next to '%s': %s",
                        path, strerror(e));
    }
    BlazeDBResult rc = blazedb_export(db, txn, opts, file_write, &f, count);
    if (rc && f.err)
        db_error(db, rc, "cannot write '%s': %s", tmp, strerror(f.err));
    if (rc == BLAZEDB_OK && fsync(f.fd)) {
        int e = errno;
        rc = db_error(db, errno_rc(e), "cannot sync '%s': %s", tmp, strerror(e));
    }
    if (close(f.fd) && rc == BLAZEDB_OK) {
        int e = errno;
        rc = db_error(db, errno_rc(e), "cannot close '%s': %s", tmp, strerror(e));
    }
    if (rc == BLAZEDB_OK && rename(tmp, path)) {
        int e = errno;
        rc = db_error(db, BLAZEDB_IO_ERROR, "cannot rename the export into '%s': %s", path,
                      strerror(e));
    }
    if (rc) {
        unlink(tmp);
        if (count)
            *count = 0;
    } else {
        /* the rename reaches the disk with the directory (best effort: some
         * file systems refuse fsync on directories) */
        memcpy(dir, path, pl + 1);
        char *slash = strrchr(dir, '/');
        if (!slash)
            strcpy(dir, ".");
        else if (slash == dir)
            dir[1] = 0;
        else
            *slash = 0;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    free(tmp);
    free(dir);
    return rc;
}

/* ======================================================================== */
/* Import                                                                    */
/* ======================================================================== */

typedef enum { CT_AUTO, CT_STRING, CT_INT, CT_DOUBLE, CT_BOOL, CT_JSON, CT_DATE } ColType;

typedef struct {
    size_t off, len; /* in Imp.cb */
    int quoted;
} Cell;

typedef struct {
    BlazeDB *db;
    BlazeDBImportOptions o;
    BlazeDBImportReport rep;
    const char *src;
    int skip, upsert;
    size_t batch;
    /* transactions */
    BlazeDBTxn *caller;     /* the caller's transaction, or NULL */
    BlazeDBTxn *t;          /* the transaction written in now, or NULL */
    size_t sp;              /* savepoint in the caller's txn (all or nothing) */
    uint64_t pending;       /* documents written and not yet committed */
    uint64_t in_txn;        /* documents written in the current own txn */
    /* input: buf[pos..len) is unread; buf[0] is input byte `base` */
    BlazeDBReadFn read;
    void *arg;
    char *buf;
    size_t pos, len, cap;
    uint64_t base, line, total, records;
    int eof;
    /* the collection written to */
    char *coll;
    unsigned coll_flags;    /* BLAZEDB_COLL_* when a marker creates it */
    int coll_ready;         /* the collection exists */
    /* documents waiting for the next insert_many */
    BlazeDBDoc *docs[CHUNK_DOCS];
    uint64_t dline[CHUNK_DOCS], doff[CHUNK_DOCS];
    size_t n;
    /* CSV */
    Cols cols;
    ColType *ctypes;
    Cell *cells;
    size_t ncells, capcells;
    char *cb;
    size_t cblen, cbcap;
} Imp;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A failure of the whole import (not of one record). */
static BlazeDBResult imp_fail(Imp *I, BlazeDBResult rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static BlazeDBResult imp_fail(Imp *I, BlazeDBResult rc, const char *fmt, ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return db_error(I->db, rc, "%s: %s", I->src, reason);
}

/*
 * A bad record starting at `line`, input byte `off`.  With SKIP_BAD it is
 * counted, listed and skipped (OK); otherwise it ends the import (its code,
 * with the message set).
 */
static BlazeDBResult imp_bad(Imp *I, uint64_t line, uint64_t off, BlazeDBResult code,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static BlazeDBResult imp_bad(Imp *I, uint64_t line, uint64_t off, BlazeDBResult code,
                             const char *fmt, ...)
{
    char reason[300], full[1024], msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (I->o.format == BLAZEDB_FORMAT_JSON)
        snprintf(full, sizeof full, "%.400s:%llu (byte %llu): %s", I->src,
                 (unsigned long long)line, (unsigned long long)off, reason);
    else
        snprintf(full, sizeof full, "%.400s:%llu: %s", I->src, (unsigned long long)line, reason);
    /* a long message is cut: the report's field has 256 bytes */
    size_t fl = strlen(full);
    if (fl >= sizeof msg)
        fl = sizeof msg - 1;
    memcpy(msg, full, fl);
    msg[fl] = 0;
    BlazeDBImportReport *r = &I->rep;
    r->bad++;
    if (r->listed < BLAZEDB_IMPORT_MAX_LISTED) {
        BlazeDBImportIssue *is = &r->issues[r->listed++];
        is->line = line;
        is->offset = off;
        is->code = code;
        memcpy(is->message, msg, sizeof msg);
    }
    if (I->skip) {
        r->skipped++;
        return BLAZEDB_OK;
    }
    return db_error(I->db, code, "%s", msg);
}

/* ---- input -------------------------------------------------------------- */

/* Moves the read position to `p`, counting the lines passed. */
static void rd_advance(Imp *I, size_t p)
{
    const char *s = I->buf + I->pos, *e = I->buf + p;
    while (s < e && (s = memchr(s, '\n', (size_t)(e - s)))) {
        I->line++;
        s++;
    }
    I->pos = p;
}

/* Reads more input, keeping buf[pos..len) (moved to the front).  The
 * buffer doubles when the unread part fills half of it, so a record of n
 * bytes costs O(n log n) at worst to find.  Sets eof at the end. */
static BlazeDBResult rd_more(Imp *I)
{
    if (I->eof)
        return BLAZEDB_OK;
    if (I->pos) {
        memmove(I->buf, I->buf + I->pos, I->len - I->pos);
        I->base += I->pos;
        I->len -= I->pos;
        I->pos = 0;
    }
    if (I->cap - I->len < RD_CHUNK / 2 || I->len > I->cap / 2) {
        if (I->len > (size_t)BLAZEDB_MAX_VALUE + RD_CHUNK)
            return imp_fail(I, BLAZEDB_TOO_BIG,
                            "line %llu: a record is larger than the largest document (1 GiB)",
                            (unsigned long long)I->line);
        size_t nc = I->cap ? I->cap * 2 : 2 * RD_CHUNK;
        while (nc - I->len < RD_CHUNK)
            nc *= 2;
        char *nb = realloc(I->buf, nc);
        if (!nb)
            return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
        I->buf = nb;
        I->cap = nc;
    }
    while (I->len < I->cap) {
        size_t got = 0;
        int r = I->read(I->buf + I->len, I->cap - I->len, &got, I->arg);
        if (r)
            return imp_fail(I, r > 0 && r <= BLAZEDB_CANCELLED ? (BlazeDBResult)r
                                                               : BLAZEDB_IO_ERROR,
                            "the read callback failed (returned %d)", r);
        if (got == 0) {
            I->eof = 1;
            break;
        }
        I->len += got > I->cap - I->len ? I->cap - I->len : got;
    }
    return BLAZEDB_OK;
}

/* Skips white space (reading as needed): then pos < len, or pos == len at
 * the end of the input. */
static BlazeDBResult rd_skip_ws(Imp *I)
{
    for (;;) {
        size_t p = I->pos;
        while (p < I->len && is_ws(I->buf[p]))
            p++;
        rd_advance(I, p);
        if (p < I->len || I->eof)
            return BLAZEDB_OK;
        BlazeDBResult rc = rd_more(I);
        if (rc)
            return rc;
    }
}

static BlazeDBResult imp_tick(Imp *I)
{
    if (++I->records % PROGRESS_EVERY == 0 && I->o.progress &&
        I->o.progress(I->base + I->pos, I->total, I->o.progress_arg))
        return imp_fail(I, BLAZEDB_CANCELLED, "import cancelled by the progress callback");
    return BLAZEDB_OK;
}

/* ---- writing ------------------------------------------------------------ */

static BlazeDBResult imp_txn(Imp *I)
{
    if (I->t)
        return BLAZEDB_OK;
    I->coll_ready = 0;
    return blazedb_txn_begin(I->db, 0, &I->t);
}

/* Commits the import's own transaction. */
static BlazeDBResult imp_commit(Imp *I)
{
    BlazeDBTxn *t = I->t;
    I->t = NULL;
    BlazeDBResult rc = blazedb_txn_commit(t);
    if (rc == BLAZEDB_OK)
        I->rep.imported += I->pending;
    I->pending = 0;
    I->in_txn = 0;
    return rc;
}

/* Makes sure the current collection exists (creating it with coll_flags)
 * and learns whether it keeps timestamps. */
static BlazeDBResult imp_coll(Imp *I)
{
    if (I->coll_ready)
        return BLAZEDB_OK;
    if (!I->coll)
        return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                        "no collection for the documents: set options.collection or start "
                        "the input with a {\"$collection\":\"name\"} record");
    CatColl c;
    BlazeDBResult rc = (BlazeDBResult)cat_get(db_txn_pt(I->t), I->coll, strlen(I->coll), &c);
    if (rc == BLAZEDB_NOT_FOUND) {
        BlazeDBCollectionOptions co;
        blazedb_collection_options_init(&co);
        co.flags = I->coll_flags;
        rc = blazedb_collection_create(I->db, I->t, I->coll, &co);
    }
    if (rc == BLAZEDB_OK)
        I->coll_ready = 1;
    return rc;
}

/* Errors that belong to one document (the others end the import). */
static int record_error(BlazeDBResult rc)
{
    return rc == BLAZEDB_INVALID_ARGUMENT || rc == BLAZEDB_EXISTS || rc == BLAZEDB_TOO_BIG ||
           rc == BLAZEDB_CONSTRAINT;
}

/* Writes the waiting documents docs[0..n): all at once, or one by one to
 * find the bad ones; createdAt/updatedAt they carry are kept. */
static BlazeDBResult imp_write(Imp *I)
{
    unsigned mode = (I->upsert ? COLL_UPSERT : COLL_INSERT) | COLL_KEEP_STAMPS;
    BlazeDBResult rc = BLAZEDB_OK;
    int one_by_one = I->upsert;
    if (!I->upsert) {
        rc = coll_write_many(I->db, I->t, I->coll, I->docs, I->n, mode);
        if (rc == BLAZEDB_OK) {
            I->pending += I->n;
            I->in_txn += I->n;
        } else if (record_error(rc)) {
            rc = BLAZEDB_OK; /* find the bad ones */
            one_by_one = 1;
        }
    }
    for (size_t k = 0; one_by_one && rc == BLAZEDB_OK && k < I->n; k++) {
        BlazeDBResult r = coll_write_many(I->db, I->t, I->coll, &I->docs[k], 1, mode);
        if (r == BLAZEDB_OK) {
            I->pending++;
            I->in_txn++;
        } else if (record_error(r)) {
            rc = imp_bad(I, I->dline[k], I->doff[k], r, "%s", blazedb_errmsg(I->db));
        } else {
            rc = r;
        }
    }
    return rc;
}

/* Writes the waiting documents; with SKIP_BAD and an own transaction,
 * commits once batch_size documents are in it. */
static BlazeDBResult imp_flush(Imp *I)
{
    BlazeDBResult rc = BLAZEDB_OK;
    if (I->n) {
        rc = imp_txn(I);
        if (rc == BLAZEDB_OK)
            rc = imp_coll(I);
        if (rc == BLAZEDB_OK)
            rc = imp_write(I);
        for (size_t k = 0; k < I->n; k++)
            blazedb_doc_free(I->docs[k]);
        I->n = 0;
    }
    if (rc == BLAZEDB_OK && I->t && !I->caller && I->skip && I->in_txn >= I->batch)
        rc = imp_commit(I);
    return rc;
}

/* Queues a document (owned from now on); written every CHUNK_DOCS, or
 * every batch_size when batches are committed. */
static BlazeDBResult imp_push(Imp *I, BlazeDBDoc *d, uint64_t line, uint64_t off)
{
    I->docs[I->n] = d;
    I->dline[I->n] = line;
    I->doff[I->n] = off;
    I->n++;
    int batches = I->skip && !I->caller;
    return I->n == CHUNK_DOCS || (batches && I->in_txn + I->n >= I->batch) ? imp_flush(I)
                                                                           : BLAZEDB_OK;
}

/* ---- NDJSON and JSON ---------------------------------------------------- */

/* p[0..n) starts with '{': is it a {"$collection": ...} marker? */
static int is_marker(const char *p, size_t n)
{
    size_t i = 1;
    while (i < n && is_ws(p[i]))
        i++;
    return n - i >= 13 && memcmp(p + i, "\"$collection\"", 13) == 0;
}

static BlazeDBResult imp_marker(Imp *I, const char *p, size_t n, uint64_t line)
{
    BlazeDBResult rc = imp_flush(I); /* the documents so far go where they were meant */
    if (rc)
        return rc;
    /* read it as a literal object: {"$object": <marker>} */
    char *text = malloc(n + 13), err[DOC_ERRMAX];
    if (!text)
        return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
    memcpy(text, "{\"$object\":", 11);
    memcpy(text + 11, p, n);
    text[11 + n] = '}';
    DocValue *v = NULL;
    rc = doc_from_json(text, n + 12, &v, err);
    free(text);
    const DocValue *m = NULL, *name = NULL, *ts = NULL;
    int ok = rc == BLAZEDB_OK && v->type == DOC_OBJECT && v->u.o.n == 1;
    if (ok) {
        m = v->u.o.f[0].val;
        if (m->type == DOC_STRING) {
            name = m;
        } else if (m->type == DOC_OBJECT) {
            for (size_t i = 0; i < m->u.o.n; i++) {
                if (strcmp(m->u.o.f[i].name, "name") == 0)
                    name = m->u.o.f[i].val;
                else if (strcmp(m->u.o.f[i].name, "timestamps") == 0)
                    ts = m->u.o.f[i].val;
                else
                    ok = 0;
            }
        }
        ok = ok && name && name->type == DOC_STRING && memchr(name->u.s.p, 0, name->u.s.len) == NULL &&
             (!ts || ts->type == DOC_BOOL);
    }
    if (!ok) {
        doc_free(v);
        return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                        "line %llu: malformed $collection record (expected "
                        "{\"$collection\":\"name\"} or {\"$collection\":{\"name\":\"...\","
                        "\"timestamps\":false}})%s%s",
                        (unsigned long long)line, rc ? ": " : "", rc ? err : "");
    }
    free(I->coll);
    I->coll = strdup(name->u.s.p);
    I->coll_flags = ts && !ts->u.b ? BLAZEDB_COLL_NO_TIMESTAMPS : 0;
    I->coll_ready = 0;
    doc_free(v);
    if (!I->coll)
        return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
    /* create it now: an empty collection comes back too */
    if ((rc = imp_txn(I)) == BLAZEDB_OK)
        rc = imp_coll(I);
    return rc;
}

/* One JSON record buf[s..e) (no white space around it). */
static BlazeDBResult imp_json_record(Imp *I, size_t s, size_t e, uint64_t line)
{
    const char *p = I->buf + s;
    size_t n = e - s;
    uint64_t off = I->base + s;
    if (*p == '{' && is_marker(p, n))
        return imp_marker(I, p, n, line);
    if (!I->coll)
        return imp_coll(I); /* the "no collection" failure */
    uint8_t *bin = NULL;
    size_t bl = 0;
    char err[DOC_ERRMAX];
    BlazeDBResult rc = doc_json_to_bin(p, n, &bin, &bl, err);
    if (rc == BLAZEDB_NOMEM)
        return imp_fail(I, rc, "out of memory");
    if (rc)
        return imp_bad(I, line, off, rc, "%s", err);
    if (bl == 0 || bin[0] != DOC_OBJECT) {
        free(bin);
        return imp_bad(I, line, off, BLAZEDB_INVALID_ARGUMENT,
                       "a record must be a JSON object");
    }
    BlazeDBDoc *d = NULL;
    rc = docapi_from_binary_owned(bin, bl, &d);
    if (rc)
        return rc == BLAZEDB_NOMEM ? imp_fail(I, rc, "out of memory")
                                   : imp_bad(I, line, off, rc, "%s", blazedb_errmsg(NULL));
    return imp_push(I, d, line, off);
}

static BlazeDBResult imp_ndjson(Imp *I)
{
    BlazeDBResult rc = BLAZEDB_OK;
    while (rc == BLAZEDB_OK) {
        char *nl = memchr(I->buf + I->pos, '\n', I->len - I->pos);
        if (!nl && !I->eof) {
            rc = rd_more(I);
            continue;
        }
        if (!nl && I->pos == I->len)
            break;
        size_t e = nl ? (size_t)(nl - I->buf) : I->len, a = I->pos, z = e;
        while (a < z && is_ws(I->buf[a]))
            a++;
        while (z > a && is_ws(I->buf[z - 1]))
            z--;
        if (a < z && (rc = imp_json_record(I, a, z, I->line)) == BLAZEDB_OK)
            rc = imp_tick(I);
        I->pos = nl ? e + 1 : e;
        I->line += nl != NULL;
    }
    return rc;
}

/* The end of the JSON value at b[s]: 1 (*end set), or 0 when the input
 * ends first.  Containers and strings are matched by brackets and quotes
 * only; the JSON reader checks the rest. */
static int scan_value(const char *b, size_t s, size_t len, size_t *end)
{
    char c = b[s];
    if (c == '{' || c == '[' || c == '"') {
        int depth = 0, instr = 0;
        for (size_t i = s; i < len; i++) {
            char ch = b[i];
            if (instr) {
                if (ch == '\\') {
                    i++;
                } else if (ch == '"') {
                    instr = 0;
                    if (depth == 0) {
                        *end = i + 1;
                        return 1;
                    }
                }
                continue;
            }
            if (ch == '"')
                instr = 1;
            else if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0) {
                *end = i + 1;
                return 1;
            }
        }
        return 0;
    }
    for (size_t i = s; i < len; i++)
        if (b[i] == ',' || b[i] == ']' || is_ws(b[i])) {
            *end = i;
            return 1;
        }
    return 0;
}

static BlazeDBResult imp_json(Imp *I)
{
    BlazeDBResult rc = rd_skip_ws(I);
    if (rc)
        return rc;
    if (I->pos == I->len || I->buf[I->pos] != '[')
        return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                        "line %llu: expected a JSON array ('[') at byte %llu",
                        (unsigned long long)I->line, (unsigned long long)(I->base + I->pos));
    rd_advance(I, I->pos + 1);
    for (int first = 1;; first = 0) {
        if ((rc = rd_skip_ws(I)))
            return rc;
        if (I->pos == I->len)
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            "the input ends inside the JSON array (no closing ']')");
        if (I->buf[I->pos] == ']') {
            if (!first)
                return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                                "line %llu: expected a value after ',' at byte %llu",
                                (unsigned long long)I->line,
                                (unsigned long long)(I->base + I->pos));
            rd_advance(I, I->pos + 1);
            break;
        }
        size_t end = 0;
        int found;
        while (!(found = scan_value(I->buf, I->pos, I->len, &end)) && !I->eof)
            if ((rc = rd_more(I)))
                return rc;
        if (!found) {
            char c = I->buf[I->pos];
            if (c == '{' || c == '[' || c == '"')
                return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                                "line %llu: the record starting at byte %llu is not closed "
                                "before the end of the input",
                                (unsigned long long)I->line,
                                (unsigned long long)(I->base + I->pos));
            end = I->len;
        }
        if ((rc = imp_json_record(I, I->pos, end, I->line)))
            return rc;
        rd_advance(I, end);
        if ((rc = imp_tick(I)) || (rc = rd_skip_ws(I)))
            return rc;
        char c = I->pos < I->len ? I->buf[I->pos] : 0;
        if (c == ']') {
            rd_advance(I, I->pos + 1);
            break;
        }
        if (c != ',')
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            I->pos == I->len
                                ? "line %llu: the input ends inside the JSON array (no closing "
                                  "']') at byte %llu"
                                : "line %llu: expected ',' or ']' at byte %llu",
                            (unsigned long long)I->line,
                            (unsigned long long)(I->base + I->pos));
        rd_advance(I, I->pos + 1);
    }
    if ((rc = rd_skip_ws(I)))
        return rc;
    if (I->pos < I->len)
        return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                        "line %llu: trailing garbage after the JSON array at byte %llu",
                        (unsigned long long)I->line, (unsigned long long)(I->base + I->pos));
    return BLAZEDB_OK;
}

/* ---- CSV ---------------------------------------------------------------- */

static int cb_append(Imp *I, const char *p, size_t n)
{
    if (I->cblen + n > I->cbcap) {
        size_t nc = I->cbcap ? I->cbcap : 1024;
        while (nc < I->cblen + n)
            nc *= 2;
        char *nb = realloc(I->cb, nc);
        if (!nb)
            return -1;
        I->cb = nb;
        I->cbcap = nc;
    }
    memcpy(I->cb + I->cblen, p, n);
    I->cblen += n;
    return 0;
}

static int cell_push(Imp *I, size_t off, int quoted)
{
    if (I->ncells == I->capcells) {
        size_t nc = I->capcells ? I->capcells * 2 : 64;
        Cell *n = realloc(I->cells, nc * sizeof *n);
        if (!n)
            return -1;
        I->cells = n;
        I->capcells = nc;
    }
    I->cells[I->ncells++] = (Cell){off, I->cblen - off, quoted};
    return 0;
}

/*
 * Parses the record at buf[pos] into I->cells (text in I->cb, quotes
 * removed): 1 when complete (*next = just after its line end), 0 when more
 * input is needed, -1 when malformed (err set; *next = where the rest of
 * the bad line is skipped from), -2 out of memory.
 */
static int csv_record(Imp *I, size_t *next, char *err, size_t errlen)
{
    const char *b = I->buf;
    size_t p = I->pos, len = I->len;
    char sep = I->o.csv_separator ? I->o.csv_separator : ',';
    I->ncells = 0;
    I->cblen = 0;
    for (;;) {
        size_t off = I->cblen;
        int quoted = p < len && b[p] == '"';
        if (quoted) {
            p++;
            for (;;) {
                if (p == len) {
                    if (!I->eof)
                        return 0;
                    snprintf(err, errlen, "a quoted field is not closed before the end of the "
                                          "input");
                    *next = len;
                    return -1;
                }
                if (b[p] == '"') {
                    if (p + 1 == len && !I->eof)
                        return 0;
                    if (p + 1 < len && b[p + 1] == '"') {
                        if (cb_append(I, "\"", 1))
                            return -2;
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                const char *q = memchr(b + p, '"', len - p);
                size_t k = q ? (size_t)(q - (b + p)) : len - p;
                if (cb_append(I, b + p, k))
                    return -2;
                p += k;
            }
            if (p < len && b[p] != sep && b[p] != '\r' && b[p] != '\n') {
                snprintf(err, errlen, "field %zu: a closing quote must be followed by '%c' or "
                                      "a line end",
                         I->ncells + 1, sep);
                *next = p;
                return -1;
            }
        } else {
            size_t st = p;
            while (p < len && b[p] != sep && b[p] != '\r' && b[p] != '\n' && b[p] != '"')
                p++;
            if (p < len && b[p] == '"') {
                snprintf(err, errlen, "field %zu: a quote inside an unquoted field (quote the "
                                      "whole field and double the quote)",
                         I->ncells + 1);
                *next = p;
                return -1;
            }
            if (p == len && !I->eof)
                return 0;
            if (cb_append(I, b + st, p - st))
                return -2;
        }
        if (cell_push(I, off, quoted))
            return -2;
        if (p == len) { /* the input ends the record */
            *next = len;
            return 1;
        }
        if (b[p] == sep) {
            p++;
            continue;
        }
        if (b[p] == '\r') {
            if (p + 1 == len && !I->eof)
                return 0;
            p++;
            if (p < len && b[p] == '\n')
                p++;
        } else {
            p++;
        }
        *next = p;
        return 1;
    }
}

/* Reads the next record: 1 read (its start line and offset in *line and *off;
 * the read position is after it), 0 at the end of the input, or an error
 * (a malformed record is reported with imp_bad and skipped to the end of
 * its line, then the next one is read). */
static BlazeDBResult csv_next(Imp *I, int *got, uint64_t *line, uint64_t *off, int header)
{
    char err[200];
    *got = 0;
    for (;;) {
        if (I->pos == I->len) {
            if (I->eof)
                return BLAZEDB_OK;
            BlazeDBResult rc = rd_more(I);
            if (rc)
                return rc;
            continue;
        }
        size_t next = 0;
        int r = csv_record(I, &next, err, sizeof err);
        if (r == 0) {
            BlazeDBResult rc = rd_more(I);
            if (rc)
                return rc;
            continue;
        }
        if (r == -2)
            return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
        *line = I->line;
        *off = I->base + I->pos;
        if (r == 1) {
            rd_advance(I, next);
            *got = 1;
            return BLAZEDB_OK;
        }
        if (header)
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT, "line %llu (the header): %s",
                            (unsigned long long)*line, err);
        /* skip the rest of the line */
        size_t rel = next - I->pos;
        for (;;) {
            size_t q = I->pos + rel;
            char *nl = memchr(I->buf + q, '\n', I->len - q);
            if (nl || I->eof) {
                next = nl ? (size_t)(nl - I->buf) + 1 : I->len;
                break;
            }
            rel = I->len - I->pos;
            BlazeDBResult rc = rd_more(I);
            if (rc)
                return rc;
        }
        BlazeDBResult rc = imp_bad(I, *line, *off, BLAZEDB_INVALID_ARGUMENT, "%s", err);
        rd_advance(I, next);
        if (rc)
            return rc;
    }
}

static int blank_record(const Imp *I)
{
    return I->ncells == 1 && I->cells[0].len == 0 && !I->cells[0].quoted;
}

/* A column name must be a path that names fields: non-empty segments. */
static int column_name_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.' || memchr(s, 0, n))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '.' && s[i - 1] == '.')
            return 0;
    return 1;
}

static BlazeDBResult csv_header(Imp *I)
{
    uint64_t line, off;
    int got;
    BlazeDBResult rc;
    do {
        if ((rc = csv_next(I, &got, &line, &off, 1)) || !got)
            return rc;
    } while (blank_record(I));
    for (size_t i = 0; i < I->ncells; i++) {
        const char *s = I->cb + I->cells[i].off;
        size_t n = I->cells[i].len;
        if (!doc_utf8_valid((const uint8_t *)s, n))
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            "line %llu (the header): column %zu: invalid UTF-8",
                            (unsigned long long)line, i + 1);
        if (!column_name_ok(s, n))
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            "line %llu (the header): column %zu: '%.*s' is not a field name "
                            "or dotted path",
                            (unsigned long long)line, i + 1, (int)(n > 60 ? 60 : n), s);
        size_t before = I->cols.n;
        if (cols_add(&I->cols, s, n) < 0)
            return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
        if (I->cols.n == before)
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            "line %llu (the header): column '%.*s' appears twice",
                            (unsigned long long)line, (int)(n > 60 ? 60 : n), s);
    }
    I->ctypes = calloc(I->cols.n ? I->cols.n : 1, sizeof *I->ctypes);
    if (!I->ctypes)
        return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
    long id = cols_find(&I->cols, "id", 2);
    if (id >= 0)
        I->ctypes[id] = CT_STRING; /* ids are strings */
    /* forced types: "name:type,name:type" */
    static const struct {
        const char *name;
        ColType t;
    } types[] = {{"auto", CT_AUTO},     {"string", CT_STRING}, {"text", CT_STRING},
                 {"int", CT_INT},       {"integer", CT_INT},   {"double", CT_DOUBLE},
                 {"float", CT_DOUBLE},  {"real", CT_DOUBLE},   {"bool", CT_BOOL},
                 {"boolean", CT_BOOL},  {"json", CT_JSON},     {"date", CT_DATE}};
    for (const char *s = I->o.csv_types; s && *s;) {
        size_t n = strcspn(s, ",");
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':')
                colon = s + i;
        const char *a = s, *z = colon ? colon : s;
        while (a < z && *a == ' ')
            a++;
        while (z > a && z[-1] == ' ')
            z--;
        long c = colon ? cols_find(&I->cols, a, (size_t)(z - a)) : -1;
        if (!colon || c < 0)
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            colon ? "csv_types: the header has no column '%.*s'"
                                  : "csv_types: expected name:type, found '%.*s'",
                            (int)(colon ? z - a : (ptrdiff_t)n), colon ? a : s);
        const char *ta = colon + 1, *tz = s + n;
        while (ta < tz && *ta == ' ')
            ta++;
        while (tz > ta && tz[-1] == ' ')
            tz--;
        size_t k = 0, nt = sizeof types / sizeof *types;
        while (k < nt && !(strlen(types[k].name) == (size_t)(tz - ta) &&
                           strncasecmp(types[k].name, ta, (size_t)(tz - ta)) == 0))
            k++;
        if (k == nt)
            return imp_fail(I, BLAZEDB_INVALID_ARGUMENT,
                            "csv_types: unknown type '%.*s' (auto, string, int, double, bool, "
                            "json, date)",
                            (int)(tz - ta), ta);
        I->ctypes[c] = types[k].t;
        s += n + (s[n] == ',');
    }
    return BLAZEDB_OK;
}

/* The value of one cell under type t; NULL with err set when it does not
 * convert (err empty: out of memory). */
static DocValue *cell_value(const char *s, size_t n, int quoted, ColType t, char *err)
{
    DocValue *v = NULL;
    char jerr[DOC_ERRMAX];
    int show = n > 40 ? 40 : (int)n;
    err[0] = 0;
    if (n == 0 && !quoted)
        return doc_new(DOC_NULL);
    switch (t) {
    case CT_STRING:
        return doc_new_string(s, n);
    case CT_AUTO:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            return doc_new_bool(1);
        if (n == 5 && strncasecmp(s, "false", 5) == 0)
            return doc_new_bool(0);
        if (n && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
            if (doc_from_json(s, n, &v, jerr) == BLAZEDB_OK &&
                (v->type == DOC_INT || v->type == DOC_DOUBLE))
                return v;
        } else if (n && (s[0] == '[' || s[0] == '{')) {
            if (doc_from_json(s, n, &v, jerr) == BLAZEDB_OK)
                return v;
        }
        doc_free(v);
        return doc_new_string(s, n);
    case CT_INT:
    case CT_DOUBLE:
        if (doc_from_json(s, n, &v, jerr) == BLAZEDB_OK && v->type == DOC_INT && t == CT_INT)
            return v;
        if (v && t == CT_DOUBLE && (v->type == DOC_INT || v->type == DOC_DOUBLE)) {
            if (v->type == DOC_INT) {
                DocValue *d = doc_new_double((double)v->u.i);
                doc_free(v);
                return d;
            }
            return v;
        }
        doc_free(v);
        snprintf(err, DOC_ERRMAX, "'%.*s' is not %s", show, s,
                 t == CT_INT ? "an integer" : "a number");
        return NULL;
    case CT_BOOL: {
        static const char *yes[] = {"true", "1", "yes"}, *no[] = {"false", "0", "no"};
        for (int i = 0; i < 3; i++) {
            if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0)
                return doc_new_bool(1);
            if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0)
                return doc_new_bool(0);
        }
        snprintf(err, DOC_ERRMAX, "'%.*s' is not a boolean", show, s);
        return NULL;
    }
    case CT_JSON:
        if (doc_from_json(s, n, &v, jerr) == BLAZEDB_OK)
            return v;
        snprintf(err, DOC_ERRMAX, "not JSON: %.200s", jerr);
        return NULL;
    case CT_DATE: {
        int64_t ms;
        if (doc_date_parse(s, n, &ms))
            return doc_new_date(ms);
        if (doc_from_json(s, n, &v, jerr) == BLAZEDB_OK && (v->type == DOC_INT || v->type == DOC_DATE)) {
            ms = v->u.i;
            doc_free(v);
            return doc_new_date(ms);
        }
        doc_free(v);
        snprintf(err, DOC_ERRMAX, "'%.*s' is not a date (YYYY-MM-DDTHH:MM:SS.mmmZ or ms)", show, s);
        return NULL;
    }
    }
    return NULL;
}

/* The document of the current CSV record. */
static BlazeDBResult csv_row_doc(Imp *I, uint64_t line, uint64_t off)
{
    if (I->ncells != I->cols.n)
        return imp_bad(I, line, off, BLAZEDB_INVALID_ARGUMENT,
                       "ragged row: %zu fields where the header has %zu", I->ncells, I->cols.n);
    for (size_t i = 0; i < I->ncells; i++)
        if (!doc_utf8_valid((const uint8_t *)I->cb + I->cells[i].off, I->cells[i].len))
            return imp_bad(I, line, off, BLAZEDB_INVALID_ARGUMENT,
                           "column '%s': invalid UTF-8", I->cols.names[i]);
    DocValue *root = doc_new(DOC_OBJECT);
    if (!root)
        return imp_fail(I, BLAZEDB_NOMEM, "out of memory");
    char err[DOC_ERRMAX];
    BlazeDBResult rc = BLAZEDB_OK;
    int bad = 0;
    /* values first, then nulls where nothing else went (see blazedb.h) */
    for (int pass = 0; pass < 2 && rc == BLAZEDB_OK && !bad; pass++)
        for (size_t i = 0; i < I->ncells && rc == BLAZEDB_OK && !bad; i++) {
            const Cell *c = &I->cells[i];
            int null = c->len == 0 && !c->quoted;
            if (null != pass)
                continue;
            const char *name = I->cols.names[i];
            if (null) {
                DocValue *v = doc_path_get(root, name) ? NULL : doc_new(DOC_NULL);
                if (v)
                    doc_path_set(root, name, v, err); /* a failure: a value is in the way */
                continue;
            }
            DocValue *v = cell_value(I->cb + c->off, c->len, c->quoted, I->ctypes[i], err);
            if (!v && !err[0]) {
                rc = imp_fail(I, BLAZEDB_NOMEM, "out of memory");
            } else if (!v || doc_path_set(root, name, v, err)) {
                bad = 1;
                rc = imp_bad(I, line, off, BLAZEDB_INVALID_ARGUMENT, "column '%s': %s", name,
                             err);
            }
        }
    if (rc || bad) {
        doc_free(root);
        return rc;
    }
    uint8_t *bin = NULL;
    size_t bl = 0;
    rc = docbin_encode(root, &bin, &bl, err);
    doc_free(root);
    if (rc)
        return rc == BLAZEDB_NOMEM ? imp_fail(I, rc, "out of memory")
                                   : imp_bad(I, line, off, rc, "%s", err);
    BlazeDBDoc *d = NULL;
    if ((rc = docapi_from_binary_owned(bin, bl, &d)))
        return rc == BLAZEDB_NOMEM ? imp_fail(I, rc, "out of memory")
                                   : imp_bad(I, line, off, rc, "%s", blazedb_errmsg(NULL));
    return imp_push(I, d, line, off);
}

static BlazeDBResult imp_csv(Imp *I)
{
    BlazeDBResult rc = csv_header(I);
    while (rc == BLAZEDB_OK) {
        uint64_t line, off;
        int got;
        if ((rc = csv_next(I, &got, &line, &off, 0)) || !got)
            break;
        if (blank_record(I) && I->cols.n > 1)
            continue;
        if ((rc = csv_row_doc(I, line, off)) == BLAZEDB_OK)
            rc = imp_tick(I);
    }
    return rc;
}

/* ---- entry points ------------------------------------------------------- */

void blazedb_import_options_init(BlazeDBImportOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->format = BLAZEDB_FORMAT_NDJSON;
}

static BlazeDBResult imp_run(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBImportOptions *opts,
                             BlazeDBReadFn reader, void *arg, uint64_t total, const char *src,
                             BlazeDBImportReport *report)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (report && report->struct_size < offsetof(BlazeDBImportReport, issues))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "report.struct_size is wrong; set it to sizeof(BlazeDBImportReport)");
    if (!reader)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the read callback is NULL");
    if (txn && db_txn_db(txn) != db)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the transaction belongs to another handle");
    Imp *I = calloc(1, sizeof *I);
    if (!I)
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    BlazeDBResult rc = BLAZEDB_OK;
    I->db = db;
    blazedb_import_options_init(&I->o);
    if (opts) {
        if (opts->struct_size < offsetof(BlazeDBImportOptions, collection) ||
            opts->struct_size > sizeof *opts) {
            rc = db_error(db, BLAZEDB_INVALID_ARGUMENT,
                          "options.struct_size is wrong; use blazedb_import_options_init");
            goto out;
        }
        memcpy(&I->o, opts, opts->struct_size);
    }
    I->src = src ? src : I->o.source_name ? I->o.source_name : "input";
    I->skip = !!(I->o.flags & BLAZEDB_IMPORT_SKIP_BAD);
    I->upsert = !!(I->o.flags & BLAZEDB_IMPORT_UPSERT);
    I->batch = I->o.batch_size ? I->o.batch_size : DEFAULT_BATCH;
    I->read = reader;
    I->arg = arg;
    I->total = total;
    I->line = 1;
    if (I->o.format == BLAZEDB_FORMAT_SQL) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT, "SQL is an export format only");
        goto out;
    }
    if (I->o.format < BLAZEDB_FORMAT_NDJSON || I->o.format > BLAZEDB_FORMAT_CSV) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown import format %d",
                      (int)I->o.format);
        goto out;
    }
    if (I->o.flags & ~(BLAZEDB_IMPORT_UPSERT | BLAZEDB_IMPORT_SKIP_BAD)) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown import flags 0x%x", I->o.flags);
        goto out;
    }
    if (I->o.format == BLAZEDB_FORMAT_CSV && !I->o.collection) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT,
                      "a CSV import needs a collection (options.collection)");
        goto out;
    }
    if (I->o.collection && !(I->coll = strdup(I->o.collection))) {
        rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    if (txn) {
        I->caller = I->t = txn;
        if ((rc = db_txn_writable(txn)) || (!I->skip && (rc = blazedb_savepoint(txn, &I->sp))))
            goto out;
    } else if (!I->skip && (rc = blazedb_txn_begin(db, 0, &I->t))) {
        goto out;
    }
    /* a UTF-8 byte order mark at the start is skipped */
    if ((rc = rd_more(I)))
        goto out;
    if (I->len >= 3 && memcmp(I->buf, "\xEF\xBB\xBF", 3) == 0)
        I->pos = 3;
    switch (I->o.format) {
    case BLAZEDB_FORMAT_CSV: rc = imp_csv(I); break;
    case BLAZEDB_FORMAT_JSON: rc = imp_json(I); break;
    default: rc = imp_ndjson(I); break;
    }
    if (rc == BLAZEDB_OK)
        rc = imp_flush(I);
    if (rc == BLAZEDB_OK && I->o.progress &&
        I->o.progress(I->base + I->pos, I->total, I->o.progress_arg))
        rc = imp_fail(I, BLAZEDB_CANCELLED, "import cancelled by the progress callback");
out:
    for (size_t k = 0; k < I->n; k++)
        blazedb_doc_free(I->docs[k]);
    if (rc == BLAZEDB_OK) {
        if (I->t && !I->caller) {
            rc = imp_commit(I);
        } else {
            if (I->sp)
                rc = blazedb_savepoint_release(I->caller, I->sp);
            if (rc == BLAZEDB_OK)
                I->rep.imported += I->pending;
        }
    } else {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", blazedb_errmsg(db));
        if (I->t && !I->caller) {
            blazedb_txn_abort(I->t);
        } else if (I->sp) {
            if (blazedb_savepoint_rollback(I->caller, I->sp) == BLAZEDB_OK)
                blazedb_savepoint_release(I->caller, I->sp);
            else
                db_txn_mark_failed(I->caller, rc);
        } else if (I->caller) {
            I->rep.imported += I->pending; /* SKIP_BAD: still in the caller's txn */
        }
        db_error(db, rc, "%s", msg);
    }
    /* the listed issues in input order (writes find some after parsing
     * went past later records) */
    for (size_t a = 1; a < I->rep.listed; a++)
        for (size_t b = a; b > 0 && I->rep.issues[b].offset < I->rep.issues[b - 1].offset; b--) {
            BlazeDBImportIssue tmp = I->rep.issues[b];
            I->rep.issues[b] = I->rep.issues[b - 1];
            I->rep.issues[b - 1] = tmp;
        }
    if (report) {
        uint32_t size = report->struct_size;
        I->rep.struct_size = size;
        memcpy(report, &I->rep, size < sizeof I->rep ? size : sizeof I->rep);
    }
    free(I->coll);
    free(I->buf);
    cols_free(&I->cols);
    free(I->ctypes);
    free(I->cells);
    free(I->cb);
    free(I);
    return rc;
}

BlazeDBResult blazedb_import(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBImportOptions *opts,
                             BlazeDBReadFn reader, void *arg, BlazeDBImportReport *report)
{
    return imp_run(db, txn, opts, reader, arg, 0, NULL, report);
}

typedef struct {
    int fd;
    int err;
} FileIn;

static int file_read(void *buf, size_t cap, size_t *got, void *arg)
{
    FileIn *f = arg;
    for (;;) {
        ssize_t r = read(f->fd, buf, cap);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            f->err = errno;
            return BLAZEDB_IO_ERROR;
        }
        *got = (size_t)r;
        return 0;
    }
}

BlazeDBResult blazedb_import_file(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBImportOptions *opts,
                                  const char *path, BlazeDBImportReport *report)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!path || !*path)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the import path is NULL or empty");
    int std = strcmp(path, "-") == 0;
    FileIn f = {std ? 0 : open(path, O_RDONLY | O_CLOEXEC), 0};
    if (f.fd < 0) {
        int e = errno;
        return db_error(db, e == ENOENT ? BLAZEDB_NOT_FOUND : BLAZEDB_IO_ERROR,
                        "cannot open '%s': %s", path, strerror(e));
    }
    struct stat st;
    uint64_t total = fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    const char *src = opts && opts->struct_size > offsetof(BlazeDBImportOptions, source_name) &&
                              opts->source_name
                          ? opts->source_name
                          : std ? "stdin" : path;
    BlazeDBResult rc = imp_run(db, txn, opts, file_read, &f, total, src, report);
    if (rc && f.err)
        db_error(db, rc, "cannot read '%s': %s", src, strerror(f.err));
    if (!std)
        close(f.fd);
    return rc;
}
