/*
 * value.c — the in-memory document value model (see value.h): constructors,
 * deep copy, equality, UTF-8 checks, sorted object fields and dotted paths.
 */
#include "value.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

BlazeDBResult doc_err(char *err, BlazeDBResult rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, DOC_ERRMAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- constructors ----------------------------------------------------------- */

DocValue *doc_new(DocType t)
{
    DocValue *v = malloc(sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = (uint8_t)t;
    }
    return v;
}

DocValue *doc_new_bool(int b)
{
    DocValue *v = doc_new(DOC_BOOL);
    if (v)
        v->u.b = b != 0;
    return v;
}

DocValue *doc_new_int(int64_t i)
{
    DocValue *v = doc_new(DOC_INT);
    if (v)
        v->u.i = i;
    return v;
}

DocValue *doc_new_date(int64_t ms)
{
    DocValue *v = doc_new(DOC_DATE);
    if (v)
        v->u.i = ms;
    return v;
}

DocValue *doc_new_double(double d)
{
    DocValue *v = doc_new(DOC_DOUBLE);
    if (!v)
        return NULL;
    if (isnan(d)) {
        uint64_t bits = DOC_CANON_NAN_BITS;
        memcpy(&d, &bits, sizeof d);
    }
    v->u.d = d;
    return v;
}

/* The bytes live in the same allocation, right after the DocValue (one
 * malloc per string); doc_free recognises them by their address. */
static DocValue *new_blob(DocType t, const void *p, size_t len)
{
    if (len > SIZE_MAX - sizeof(DocValue) - 1)
        return NULL;
    DocValue *v = malloc(sizeof(DocValue) + len + 1);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)t;
    v->u.s.p = (char *)(v + 1);
    if (len)
        memcpy(v->u.s.p, p, len);
    v->u.s.p[len] = 0;
    v->u.s.len = len;
    return v;
}

DocValue *doc_new_string(const char *s, size_t len) { return new_blob(DOC_STRING, s, len); }
DocValue *doc_new_bytes(const void *p, size_t len) { return new_blob(DOC_BYTES, p, len); }

DocValue *doc_new_uuid(const uint8_t u[16])
{
    DocValue *v = doc_new(DOC_UUID);
    if (v)
        memcpy(v->u.uuid, u, 16);
    return v;
}

DocValue *doc_new_vector(const float *f, size_t n)
{
    DocValue *v = doc_new(DOC_VECTOR);
    if (!v)
        return NULL;
    v->u.vec.v = malloc(n ? n * sizeof(float) : 1);
    if (!v->u.vec.v) {
        free(v);
        return NULL;
    }
    if (n)
        memcpy(v->u.vec.v, f, n * sizeof(float));
    v->u.vec.n = n;
    return v;
}

void doc_free(DocValue *v)
{
    if (!v)
        return;
    switch (v->type) {
    case DOC_STRING:
    case DOC_BYTES:
        if (v->u.s.p != (char *)(v + 1))
            free(v->u.s.p); /* set from outside (tests); normally inline */
        break;
    case DOC_VECTOR:
        free(v->u.vec.v);
        break;
    case DOC_ARRAY:
        for (size_t i = 0; i < v->u.a.n; i++)
            doc_free(v->u.a.v[i]);
        free(v->u.a.v);
        break;
    case DOC_OBJECT:
        for (size_t i = 0; i < v->u.o.n; i++) {
            free(v->u.o.f[i].name);
            doc_free(v->u.o.f[i].val);
        }
        free(v->u.o.f);
        break;
    default:
        break;
    }
    free(v);
}

DocValue *doc_clone(const DocValue *v)
{
    switch (v->type) {
    case DOC_STRING:
    case DOC_BYTES:
        return new_blob((DocType)v->type, v->u.s.p, v->u.s.len);
    case DOC_VECTOR:
        return doc_new_vector(v->u.vec.v, v->u.vec.n);
    case DOC_ARRAY: {
        DocValue *c = doc_new(DOC_ARRAY);
        if (!c)
            return NULL;
        c->u.a.v = malloc((v->u.a.n ? v->u.a.n : 1) * sizeof *c->u.a.v);
        if (!c->u.a.v) {
            free(c);
            return NULL;
        }
        c->u.a.cap = v->u.a.n;
        for (size_t i = 0; i < v->u.a.n; i++) {
            DocValue *e = doc_clone(v->u.a.v[i]);
            if (!e) {
                doc_free(c);
                return NULL;
            }
            c->u.a.v[c->u.a.n++] = e;
        }
        return c;
    }
    case DOC_OBJECT: {
        DocValue *c = doc_new(DOC_OBJECT);
        if (!c)
            return NULL;
        c->u.o.f = malloc((v->u.o.n ? v->u.o.n : 1) * sizeof *c->u.o.f);
        if (!c->u.o.f) {
            free(c);
            return NULL;
        }
        c->u.o.cap = v->u.o.n;
        for (size_t i = 0; i < v->u.o.n; i++) {
            const DocField *f = &v->u.o.f[i];
            char *name = malloc(f->nlen + 1u);
            DocValue *e = name ? doc_clone(f->val) : NULL;
            if (!e) {
                free(name);
                doc_free(c);
                return NULL;
            }
            memcpy(name, f->name, f->nlen + 1u);
            c->u.o.f[c->u.o.n++] = (DocField){name, f->nlen, e};
        }
        return c;
    }
    default: {
        DocValue *c = doc_new((DocType)v->type);
        if (c)
            c->u = v->u;
        return c;
    }
    }
}

int doc_equal(const DocValue *a, const DocValue *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case DOC_NULL: return 1;
    case DOC_BOOL: return a->u.b == b->u.b;
    case DOC_INT:
    case DOC_DATE: return a->u.i == b->u.i;
    case DOC_DOUBLE: return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    case DOC_STRING:
    case DOC_BYTES:
        return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
    case DOC_UUID: return memcmp(a->u.uuid, b->u.uuid, 16) == 0;
    case DOC_VECTOR:
        return a->u.vec.n == b->u.vec.n &&
               (a->u.vec.n == 0 ||
                memcmp(a->u.vec.v, b->u.vec.v, a->u.vec.n * sizeof(float)) == 0);
    case DOC_ARRAY:
        if (a->u.a.n != b->u.a.n)
            return 0;
        for (size_t i = 0; i < a->u.a.n; i++)
            if (!doc_equal(a->u.a.v[i], b->u.a.v[i]))
                return 0;
        return 1;
    case DOC_OBJECT:
        if (a->u.o.n != b->u.o.n)
            return 0;
        for (size_t i = 0; i < a->u.o.n; i++) {
            const DocField *x = &a->u.o.f[i], *y = &b->u.o.f[i];
            if (x->nlen != y->nlen || memcmp(x->name, y->name, x->nlen) != 0 ||
                !doc_equal(x->val, y->val))
                return 0;
        }
        return 1;
    default:
        return 0;
    }
}

int doc_depth(const DocValue *v)
{
    int m = 0;
    if (v->type == DOC_ARRAY) {
        for (size_t i = 0; i < v->u.a.n; i++) {
            int d = doc_depth(v->u.a.v[i]);
            m = d > m ? d : m;
        }
        return m + 1;
    }
    if (v->type == DOC_OBJECT) {
        for (size_t i = 0; i < v->u.o.n; i++) {
            int d = doc_depth(v->u.o.f[i].val);
            m = d > m ? d : m;
        }
        return m + 1;
    }
    return 0;
}

/* ---- UTF-8 and names ---------------------------------------------------------- */

int doc_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (len - i - 1 < n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

int doc_name_valid(const char *s, size_t len)
{
    /* most names are short ASCII: one pass, no call */
    size_t i = 0;
    while (i < len && (uint8_t)(s[i] - 1) < 0x7f)
        i++;
    if (i == len)
        return len <= DOC_MAX_NAME;
    return len <= DOC_MAX_NAME && memchr(s, 0, len) == NULL &&
           doc_utf8_valid((const uint8_t *)s, len);
}

/* ---- objects and arrays ----------------------------------------------------- */

long doc_obj_find(const DocValue *obj, const char *name, size_t nlen, size_t *ins)
{
    size_t lo = 0, hi = obj->u.o.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const DocField *f = &obj->u.o.f[mid];
        int c = doc_name_cmp(f->name, f->nlen, name, nlen);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ins)
        *ins = lo;
    return -1;
}

static int obj_reserve(DocValue *obj)
{
    if (obj->u.o.n < obj->u.o.cap)
        return 1;
    size_t cap = obj->u.o.cap ? obj->u.o.cap * 2 : 4;
    DocField *f = realloc(obj->u.o.f, cap * sizeof *f);
    if (!f)
        return 0;
    obj->u.o.f = f;
    obj->u.o.cap = cap;
    return 1;
}

BlazeDBResult doc_obj_append(DocValue *obj, char *name_owned, size_t nlen, DocValue *val)
{
    if (!obj_reserve(obj)) {
        free(name_owned);
        doc_free(val);
        return BLAZEDB_NOMEM;
    }
    obj->u.o.f[obj->u.o.n++] = (DocField){name_owned, (uint32_t)nlen, val};
    return BLAZEDB_OK;
}

BlazeDBResult doc_obj_put(DocValue *obj, const char *name, size_t nlen, DocValue *val)
{
    size_t ins = 0;
    long at = doc_obj_find(obj, name, nlen, &ins);
    if (at >= 0) {
        doc_free(obj->u.o.f[at].val);
        obj->u.o.f[at].val = val;
        return BLAZEDB_OK;
    }
    char *copy = malloc(nlen + 1);
    if (!copy || !obj_reserve(obj)) {
        free(copy);
        doc_free(val);
        return BLAZEDB_NOMEM;
    }
    memcpy(copy, name, nlen);
    copy[nlen] = 0;
    memmove(&obj->u.o.f[ins + 1], &obj->u.o.f[ins], (obj->u.o.n - ins) * sizeof(DocField));
    obj->u.o.f[ins] = (DocField){copy, (uint32_t)nlen, val};
    obj->u.o.n++;
    return BLAZEDB_OK;
}

static int field_cmp(const void *x, const void *y)
{
    const DocField *a = x, *b = y;
    return doc_name_cmp(a->name, a->nlen, b->name, b->nlen);
}

long doc_obj_sort(DocValue *obj)
{
    DocField *f = obj->u.o.f;
    size_t n = obj->u.o.n;
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = field_cmp(&f[i - 1], &f[i]) < 0;
    if (sorted)
        return -1;
    if (n <= 16) { /* insertion sort: small objects are the common case */
        for (size_t i = 1; i < n; i++) {
            DocField x = f[i];
            size_t j = i;
            while (j > 0 && field_cmp(&f[j - 1], &x) > 0) {
                f[j] = f[j - 1];
                j--;
            }
            f[j] = x;
        }
    } else {
        qsort(f, n, sizeof *f, field_cmp);
    }
    for (size_t i = 1; i < n; i++)
        if (field_cmp(&f[i - 1], &f[i]) == 0)
            return (long)i;
    return -1;
}

BlazeDBResult doc_arr_push(DocValue *arr, DocValue *val)
{
    if (arr->u.a.n == arr->u.a.cap) {
        size_t cap = arr->u.a.cap ? arr->u.a.cap * 2 : 4;
        DocValue **v = realloc(arr->u.a.v, cap * sizeof *v);
        if (!v) {
            doc_free(val);
            return BLAZEDB_NOMEM;
        }
        arr->u.a.v = v;
        arr->u.a.cap = cap;
    }
    arr->u.a.v[arr->u.a.n++] = val;
    return BLAZEDB_OK;
}

/* ---- paths -------------------------------------------------------------------- */

int doc_path_next(const char **path, const char **seg, size_t *len)
{
    const char *p = *path;
    if (*p == 0)
        return 0;
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n == 0 || (dot && dot[1] == 0))
        return -1;
    *seg = p;
    *len = n;
    *path = dot ? dot + 1 : p + n;
    return 1;
}

int doc_path_index(const char *seg, size_t len, size_t *idx)
{
    if (len == 0 || len > 10 || (len > 1 && seg[0] == '0'))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(seg[i] - '0');
    }
    if (v > UINT32_MAX)
        return 0;
    *idx = (size_t)v;
    return 1;
}

/* The child of `v` named by one segment, or NULL. */
static DocValue *child(const DocValue *v, const char *seg, size_t len, long *pos)
{
    size_t idx;
    if (v->type == DOC_OBJECT) {
        long at = doc_obj_find(v, seg, len, NULL);
        *pos = at;
        return at >= 0 ? v->u.o.f[at].val : NULL;
    }
    if (v->type == DOC_ARRAY && doc_path_index(seg, len, &idx) && idx < v->u.a.n) {
        *pos = (long)idx;
        return v->u.a.v[idx];
    }
    return NULL;
}

DocValue *doc_path_get(const DocValue *root, const char *path)
{
    const DocValue *v = root;
    const char *seg;
    size_t len;
    long pos;
    int r;
    if (!path)
        return NULL;
    while ((r = doc_path_next(&path, &seg, &len)) == 1)
        if (!(v = child(v, seg, len, &pos)))
            return NULL;
    return r == 0 ? (DocValue *)v : NULL;
}

BlazeDBResult doc_path_set(DocValue *root, const char *path, DocValue *val,
                           char err[DOC_ERRMAX])
{
    BlazeDBResult rc;
    DocValue *v = root;
    const char *seg, *full = path;
    size_t len, idx;
    int r;
    if (!path) {
        doc_free(val);
        return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "path is NULL");
    }
    if (*path == 0) {
        if (val->type != DOC_OBJECT) {
            doc_free(val);
            return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "the root must stay an object");
        }
        if (doc_depth(val) > DOC_MAX_DEPTH) {
            doc_free(val);
            return doc_err(err, BLAZEDB_INVALID_ARGUMENT,
                           "nesting deeper than %d levels", DOC_MAX_DEPTH);
        }
        DocValue tmp = *root;  /* swap contents so the caller's root pointer stays valid */
        *root = *val;
        *val = tmp;
        doc_free(val);
        return BLAZEDB_OK;
    }
    /* Check the whole path first so that a failure changes nothing (no
     * intermediate objects left behind). */
    const char *scan = path;
    int nseg = 0;
    while ((r = doc_path_next(&scan, &seg, &len)) == 1) {
        nseg++;
        if (!doc_utf8_valid((const uint8_t *)seg, len) || len > DOC_MAX_NAME) {
            rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT, "invalid field name in path '%s'", full);
            goto fail;
        }
    }
    if (r < 0) {
        rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT, "path '%s' has an empty segment", full);
        goto fail;
    }
    if (nseg + doc_depth(val) > DOC_MAX_DEPTH) {
        rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT, "path '%s': nesting deeper than %d levels",
                     full, DOC_MAX_DEPTH);
        goto fail;
    }
    while ((r = doc_path_next(&path, &seg, &len)) == 1) {
        int last = *path == 0;
        if (v->type == DOC_OBJECT) {
            if (!doc_name_valid(seg, len)) {
                rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT, "invalid field name in path '%s'", full);
                goto fail;
            }
            long at = doc_obj_find(v, seg, len, NULL);
            if (last) {
                rc = doc_obj_put(v, seg, len, val);
                return rc == BLAZEDB_OK ? rc : doc_err(err, rc, "out of memory");
            }
            if (at < 0) {
                DocValue *o = doc_new(DOC_OBJECT);
                if (!o || (rc = doc_obj_put(v, seg, len, o)) != BLAZEDB_OK) {
                    rc = doc_err(err, BLAZEDB_NOMEM, "out of memory");
                    goto fail;
                }
                at = doc_obj_find(v, seg, len, NULL);
            }
            v = v->u.o.f[at].val;
        } else if (v->type == DOC_ARRAY) {
            if (!doc_path_index(seg, len, &idx) || idx > v->u.a.n ||
                (idx == v->u.a.n && !last)) {
                rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT,
                             "path '%s': '%.*s' is not an index of an array of %zu",
                             full, (int)len, seg, v->u.a.n);
                goto fail;
            }
            if (last) {
                if (idx == v->u.a.n) {
                    rc = doc_arr_push(v, val);
                    return rc == BLAZEDB_OK ? rc : doc_err(err, rc, "out of memory");
                }
                doc_free(v->u.a.v[idx]);
                v->u.a.v[idx] = val;
                return BLAZEDB_OK;
            }
            v = v->u.a.v[idx];
        } else {
            rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT,
                         "path '%s': '%.*s' is below a value that is not an object or array",
                         full, (int)len, seg);
            goto fail;
        }
    }
    rc = doc_err(err, BLAZEDB_INTERNAL_ERROR, "path '%s': walk ended early", full);
fail:
    doc_free(val);
    return rc;
}

BlazeDBResult doc_path_unset(DocValue *root, const char *path, char err[DOC_ERRMAX])
{
    DocValue *v = root;
    const char *seg, *full = path;
    size_t len;
    long pos;
    int r;
    if (!path || *path == 0)
        return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "cannot unset the root");
    while ((r = doc_path_next(&path, &seg, &len)) == 1) {
        DocValue *c = child(v, seg, len, &pos);
        if (!c)
            break;
        if (*path == 0) {
            if (v->type == DOC_OBJECT) {
                free(v->u.o.f[pos].name);
                doc_free(c);
                memmove(&v->u.o.f[pos], &v->u.o.f[pos + 1],
                        (v->u.o.n - (size_t)pos - 1) * sizeof(DocField));
                v->u.o.n--;
            } else {
                doc_free(c);
                memmove(&v->u.a.v[pos], &v->u.a.v[pos + 1],
                        (v->u.a.n - (size_t)pos - 1) * sizeof(DocValue *));
                v->u.a.n--;
            }
            return BLAZEDB_OK;
        }
        v = c;
    }
    if (r < 0)
        return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "path '%s' has an empty segment", full);
    return BLAZEDB_OK;
}
