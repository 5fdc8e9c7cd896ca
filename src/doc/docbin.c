/*
 * docbin.c — the binary document encoding: encoder (two passes: sizes, then
 * bytes), the building blocks for writers without a tree (scalars and
 * container headers), validating decoder, and path lookup over the encoded
 * bytes.  The format is summarised in docbin.h and specified in
 * docs/DOCUMENTS.md.
 */
#include "docbin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- little-endian helpers ----------------------------------------------------- */

static inline uint64_t rd_le(const uint8_t *p, unsigned w)
{
    /* the widths of offsets first: they are read for every value */
    if (w == 1)
        return p[0];
    if (w == 2)
        return (uint64_t)p[0] | (uint64_t)p[1] << 8;
    if (w == 4)
        return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
               (uint64_t)p[3] << 24;
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wr_le(uint8_t *p, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Smallest width in {1,2,4} holding `max`. */
static unsigned off_width(size_t max)
{
    return max <= 0xff ? 1 : max <= 0xffff ? 2 : 4;
}

/* Smallest width in {1,2,4,8} holding the signed value. */
static unsigned int_width(int64_t v)
{
    if (v >= INT8_MIN && v <= INT8_MAX)
        return 1;
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

static int64_t rd_int(const uint8_t *p, unsigned w)
{
    uint64_t u = rd_le(p, w);
    if (w < 8 && (u >> (8 * w - 1)) & 1)
        u |= ~0ull << (8 * w); /* sign-extend */
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- building blocks for writers without a tree ---------------------------------- */

size_t docbin_put_int(uint8_t *dst, DocType type, int64_t v)
{
    unsigned w = int_width(v);
    dst[0] = (uint8_t)type;
    wr_le(dst + 1, (uint64_t)v, w);
    return 1 + w;
}

size_t docbin_put_double(uint8_t *dst, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    if (isnan(d))
        bits = DOC_CANON_NAN_BITS;
    dst[0] = DOC_DOUBLE;
    wr_le(dst + 1, bits, 8);
    return 9;
}

size_t docbin_head_size(DocType type, size_t n, size_t dlen)
{
    unsigned w = off_width(dlen > n ? dlen : n);
    return 2 + w + n * (type == DOC_OBJECT ? 2 : 1) * w;
}

void docbin_put_head(uint8_t *dst, DocType type, size_t n, size_t dlen, const size_t *ends)
{
    unsigned w = off_width(dlen > n ? dlen : n);
    size_t k = n * (type == DOC_OBJECT ? 2 : 1);
    dst[0] = (uint8_t)type;
    dst[1] = (uint8_t)w;
    wr_le(dst + 2, n, w);
    dst += 2 + w;
    if (w == 1) { /* the common case: containers under 256 bytes */
        for (size_t i = 0; i < k; i++)
            dst[i] = (uint8_t)ends[i];
        return;
    }
    for (size_t i = 0; i < k; i++, dst += w)
        wr_le(dst, ends[i], w);
}

/* ---- encoder -------------------------------------------------------------------- */

#define TOO_BIG_SIZE ((size_t)-1)

/* Encoded size of v; caches container sizes in v->enc.  TOO_BIG_SIZE when
 * beyond BLAZEDB_MAX_VALUE; depth errors are reported as (size_t)-2. */
static size_t enc_size(const DocValue *cv, int depth)
{
    DocValue *v = (DocValue *)cv; /* only the enc cache is written */
    size_t data = 0, n;
    switch (v->type) {
    case DOC_NULL: return 1;
    case DOC_BOOL: return 2;
    case DOC_INT:
    case DOC_DATE: return 1 + int_width(v->u.i);
    case DOC_DOUBLE: return 9;
    case DOC_STRING:
    case DOC_BYTES: return v->u.s.len > BLAZEDB_MAX_VALUE ? TOO_BIG_SIZE : 1 + v->u.s.len;
    case DOC_UUID: return 17;
    case DOC_VECTOR:
        return v->u.vec.n > BLAZEDB_MAX_VALUE / 4 ? TOO_BIG_SIZE : 1 + 4 * v->u.vec.n;
    case DOC_ARRAY:
    case DOC_OBJECT:
        if (depth > DOC_MAX_DEPTH)
            return (size_t)-2;
        n = v->type == DOC_ARRAY ? v->u.a.n : v->u.o.n;
        for (size_t i = 0; i < n; i++) {
            const DocValue *c;
            if (v->type == DOC_ARRAY) {
                c = v->u.a.v[i];
            } else {
                c = v->u.o.f[i].val;
                data += v->u.o.f[i].nlen;
            }
            size_t s = enc_size(c, depth + 1);
            if (s >= (size_t)-2)
                return s;
            data += s;
            if (data > BLAZEDB_MAX_VALUE)
                return TOO_BIG_SIZE;
        }
        {
            unsigned w = off_width(data > n ? data : n);
            size_t per = v->type == DOC_ARRAY ? 1 : 2;
            v->enc = 2 + w + n * per * w + data;
        }
        return v->enc > BLAZEDB_MAX_VALUE ? TOO_BIG_SIZE : v->enc;
    default:
        return TOO_BIG_SIZE;
    }
}

static size_t enc_write(const DocValue *v, uint8_t *dst)
{
    dst[0] = v->type;
    switch (v->type) {
    case DOC_NULL: return 1;
    case DOC_BOOL: dst[1] = (uint8_t)(v->u.b != 0); return 2;
    case DOC_INT:
    case DOC_DATE: return docbin_put_int(dst, (DocType)v->type, v->u.i);
    case DOC_DOUBLE: return docbin_put_double(dst, v->u.d);
    case DOC_STRING:
    case DOC_BYTES:
        if (v->u.s.len)
            memcpy(dst + 1, v->u.s.p, v->u.s.len);
        return 1 + v->u.s.len;
    case DOC_UUID: memcpy(dst + 1, v->u.uuid, 16); return 17;
    case DOC_VECTOR:
        for (size_t i = 0; i < v->u.vec.n; i++) {
            uint32_t bits;
            memcpy(&bits, &v->u.vec.v[i], 4);
            wr_le(dst + 1 + 4 * i, bits, 4);
        }
        return 1 + 4 * v->u.vec.n;
    default: break;
    }
    /* containers: header, directory, then the elements */
    int obj = v->type == DOC_OBJECT;
    size_t n = obj ? v->u.o.n : v->u.a.n, per = obj ? 2 : 1;
    size_t total = v->enc;
    unsigned w;
    /* recover w from total = 2 + w + n*per*w + data: try the three widths */
    for (w = 1;; w *= 2) {
        size_t data = total - 2 - w - n * per * w;
        if (off_width(data > n ? data : n) == w)
            break;
    }
    dst[1] = (uint8_t)w;
    wr_le(dst + 2, n, w);
    uint8_t *dir = dst + 2 + w, *data = dir + n * per * w, *q = data;
    for (size_t i = 0; i < n; i++) {
        if (obj) {
            const DocField *f = &v->u.o.f[i];
            memcpy(q, f->name, f->nlen);
            q += f->nlen;
            wr_le(dir + 2 * i * w, (uint64_t)(q - data), w);
            q += enc_write(f->val, q);
            wr_le(dir + (2 * i + 1) * w, (uint64_t)(q - data), w);
        } else {
            q += enc_write(v->u.a.v[i], q);
            wr_le(dir + i * w, (uint64_t)(q - data), w);
        }
    }
    return (size_t)(q - dst);
}

BlazeDBResult docbin_encode(const DocValue *v, uint8_t **out, size_t *len,
                            char err[DOC_ERRMAX])
{
    *out = NULL;
    *len = 0;
    size_t n = enc_size(v, 1);
    if (n == (size_t)-2)
        return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "nesting deeper than %d levels",
                       DOC_MAX_DEPTH);
    if (n == TOO_BIG_SIZE)
        return doc_err(err, BLAZEDB_TOO_BIG, "encoded document larger than %u bytes",
                       BLAZEDB_MAX_VALUE);
    uint8_t *buf = malloc(n);
    if (!buf)
        return doc_err(err, BLAZEDB_NOMEM, "out of memory (%zu bytes)", n);
    size_t w = enc_write(v, buf);
    if (w != n) {
        free(buf);
        return doc_err(err, BLAZEDB_INTERNAL_ERROR, "encoder wrote %zu of %zu bytes", w, n);
    }
    *out = buf;
    *len = n;
    return BLAZEDB_OK;
}

/* ---- containers over bytes ------------------------------------------------------- */

typedef struct {
    unsigned w;
    size_t n;
    const uint8_t *dir;
    const uint8_t *data;
    size_t dlen;
} Cont;

/* Parses a container header; 0 when it does not fit in len bytes. */
static int cont_open(const uint8_t *p, size_t len, int obj, Cont *c)
{
    if (len < 2)
        return 0;
    unsigned w = p[1];
    if (w != 1 && w != 2 && w != 4)
        return 0;
    if (len < 2 + (size_t)w)
        return 0;
    size_t n = (size_t)rd_le(p + 2, w), per = obj ? 2 : 1;
    size_t room = len - 2 - w;
    if (n > room / (per * w))
        return 0;
    c->w = w;
    c->n = n;
    c->dir = p + 2 + w;
    c->data = c->dir + n * per * w;
    c->dlen = room - n * per * w;
    return 1;
}

/* Element i of an array: its span inside c->data; 0 if out of bounds. */
static int arr_span(const Cont *c, size_t i, size_t *s, size_t *e)
{
    *s = i ? (size_t)rd_le(c->dir + (i - 1) * c->w, c->w) : 0;
    *e = (size_t)rd_le(c->dir + i * c->w, c->w);
    return *s < *e && *e <= c->dlen;
}

/* Field i of an object: name [ns,ne) and value [ne,ve); 0 if out of bounds. */
static int field_span(const Cont *c, size_t i, size_t *ns, size_t *ne, size_t *ve)
{
    *ns = i ? (size_t)rd_le(c->dir + (2 * i - 1) * c->w, c->w) : 0;
    *ne = (size_t)rd_le(c->dir + 2 * i * c->w, c->w);
    *ve = (size_t)rd_le(c->dir + (2 * i + 1) * c->w, c->w);
    return *ns <= *ne && *ne < *ve && *ve <= c->dlen && *ne - *ns <= DOC_MAX_NAME;
}

/* ---- views and lookup ---------------------------------------------------------- */

/* Fills a view of the value p[0..len); 0 when its shape is wrong.  A
 * trusted view (bytes docbin_validate accepted) skips the UTF-8 check. */
static int view_of(const uint8_t *p, size_t len, int trusted, DocView *v)
{
    Cont c;
    memset(v, 0, sizeof *v);
    v->trusted = trusted;
    if (len < 1)
        return 0;
    v->type = (DocType)p[0];
    v->p = p;
    v->len = len;
    v->data = p + 1;
    v->dlen = len - 1;
    switch (p[0]) {
    case DOC_NULL: return len == 1;
    case DOC_BOOL:
        if (len != 2 || p[1] > 1)
            return 0;
        v->b = p[1];
        return 1;
    case DOC_INT:
    case DOC_DATE:
        if (len != 2 && len != 3 && len != 5 && len != 9)
            return 0;
        v->i = rd_int(p + 1, (unsigned)(len - 1));
        return 1;
    case DOC_DOUBLE: {
        if (len != 9)
            return 0;
        uint64_t bits = rd_le(p + 1, 8);
        memcpy(&v->d, &bits, 8);
        return 1;
    }
    case DOC_STRING: return trusted || doc_utf8_valid(p + 1, len - 1);
    case DOC_BYTES: return 1;
    case DOC_UUID: return len == 17;
    case DOC_VECTOR:
        v->count = (len - 1) / 4;
        return (len - 1) % 4 == 0;
    case DOC_ARRAY:
    case DOC_OBJECT:
        if (!cont_open(p, len, p[0] == DOC_OBJECT, &c))
            return 0;
        v->count = c.n;
        return 1;
    default: return 0;
    }
}

BlazeDBResult docbin_view_elem(const DocView *arr, size_t i, DocView *out)
{
    Cont c;
    size_t s, e;
    if (arr->type != DOC_ARRAY || !cont_open(arr->p, arr->len, 0, &c))
        return BLAZEDB_CORRUPT;
    if (i >= c.n)
        return BLAZEDB_NOT_FOUND;
    if (!arr_span(&c, i, &s, &e) || !view_of(c.data + s, e - s, arr->trusted, out))
        return BLAZEDB_CORRUPT;
    return BLAZEDB_OK;
}

BlazeDBResult docbin_view_field(const DocView *obj, size_t i, const uint8_t **name,
                                size_t *nlen, DocView *out)
{
    Cont c;
    size_t ns, ne, ve;
    if (obj->type != DOC_OBJECT || !cont_open(obj->p, obj->len, 1, &c))
        return BLAZEDB_CORRUPT;
    if (i >= c.n)
        return BLAZEDB_NOT_FOUND;
    if (!field_span(&c, i, &ns, &ne, &ve) || !view_of(c.data + ne, ve - ne, obj->trusted, out))
        return BLAZEDB_CORRUPT;
    *name = c.data + ns;
    *nlen = ne - ns;
    return BLAZEDB_OK;
}

static BlazeDBResult lookup(const uint8_t *buf, size_t len, const char *path, int trusted,
                            DocView *out)
{
    const uint8_t *p = buf;
    const char *seg;
    size_t plen = len, slen, idx;
    int r;
    memset(out, 0, sizeof *out);
    if (!buf || !path)
        return BLAZEDB_NOT_FOUND;
    while ((r = doc_path_next(&path, &seg, &slen)) == 1) {
        Cont c;
        if (plen < 1)
            return BLAZEDB_CORRUPT;
        if (p[0] == DOC_OBJECT) {
            if (!cont_open(p, plen, 1, &c))
                return BLAZEDB_CORRUPT;
            size_t lo = 0, hi = c.n, ns, ne, ve;
            int found = 0;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (!field_span(&c, mid, &ns, &ne, &ve))
                    return BLAZEDB_CORRUPT;
                int cmp = doc_name_cmp((const char *)c.data + ns, ne - ns, seg, slen);
                if (cmp == 0) {
                    found = 1;
                    break;
                }
                if (cmp < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (!found)
                return BLAZEDB_NOT_FOUND;
            p = c.data + ne;
            plen = ve - ne;
        } else if (p[0] == DOC_ARRAY) {
            size_t s, e;
            if (!cont_open(p, plen, 0, &c))
                return BLAZEDB_CORRUPT;
            if (!doc_path_index(seg, slen, &idx) || idx >= c.n)
                return BLAZEDB_NOT_FOUND;
            if (!arr_span(&c, idx, &s, &e))
                return BLAZEDB_CORRUPT;
            p = c.data + s;
            plen = e - s;
        } else {
            return BLAZEDB_NOT_FOUND;
        }
    }
    if (r < 0)
        return BLAZEDB_NOT_FOUND;
    return view_of(p, plen, trusted, out) ? BLAZEDB_OK : BLAZEDB_CORRUPT;
}

BlazeDBResult docbin_lookup_field(const uint8_t *buf, size_t len, const char *name, size_t nlen,
                                  size_t *hint, DocView *out)
{
    memset(out, 0, sizeof *out);
    Cont c;
    if (!buf || len < 1 || buf[0] != DOC_OBJECT)
        return buf && len >= 1 ? BLAZEDB_NOT_FOUND : BLAZEDB_CORRUPT;
    if (!cont_open(buf, len, 1, &c))
        return BLAZEDB_CORRUPT;
    size_t ns, ne, ve;
    /* documents of a collection mostly share their fields: try where the
     * name was found last time before searching */
    if (*hint < c.n && field_span(&c, *hint, &ns, &ne, &ve) &&
        doc_name_cmp((const char *)c.data + ns, ne - ns, name, nlen) == 0)
        return view_of(c.data + ne, ve - ne, 1, out) ? BLAZEDB_OK : BLAZEDB_CORRUPT;
    size_t lo = 0, hi = c.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!field_span(&c, mid, &ns, &ne, &ve))
            return BLAZEDB_CORRUPT;
        int cmp = doc_name_cmp((const char *)c.data + ns, ne - ns, name, nlen);
        if (cmp == 0) {
            *hint = mid;
            return view_of(c.data + ne, ve - ne, 1, out) ? BLAZEDB_OK : BLAZEDB_CORRUPT;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return BLAZEDB_NOT_FOUND;
}

BlazeDBResult docbin_lookup(const uint8_t *buf, size_t len, const char *path,
                            DocView *out)
{
    return lookup(buf, len, path, 0, out);
}

BlazeDBResult docbin_lookup_valid(const uint8_t *buf, size_t len, const char *path,
                                  DocView *out)
{
    return lookup(buf, len, path, 1, out);
}

/* ---- validating decoder -------------------------------------------------------- */

typedef struct {
    const uint8_t *base;
    char *err;
    int build; /* 0: validate only */
} Dec;

static BlazeDBResult bad(Dec *d, const uint8_t *at, const char *what)
{
    return doc_err(d->err, BLAZEDB_CORRUPT, "corrupt document at byte %zu: %s",
                   (size_t)(at - d->base), what);
}

static BlazeDBResult nomem(Dec *d)
{
    return doc_err(d->err, BLAZEDB_NOMEM, "out of memory decoding a document");
}

static BlazeDBResult dec_value(Dec *d, const uint8_t *p, size_t len, int depth,
                               DocValue **out);

static BlazeDBResult dec_array(Dec *d, const uint8_t *p, size_t len, int depth,
                               DocValue **out)
{
    Cont c;
    BlazeDBResult rc;
    if (!cont_open(p, len, 0, &c))
        return bad(d, p, "array header or offset table exceeds the value");
    if (off_width(c.dlen > c.n ? c.dlen : c.n) != c.w)
        return bad(d, p, "array offset width is not minimal");
    DocValue *a = NULL;
    if (d->build) {
        /* c.n <= len: checked by cont_open before this allocation */
        if (!(a = doc_new(DOC_ARRAY)) ||
            !(a->u.a.v = malloc((c.n ? c.n : 1) * sizeof(DocValue *)))) {
            free(a);
            return nomem(d);
        }
        a->u.a.cap = c.n;
    }
    size_t prev = 0;
    for (size_t i = 0; i < c.n; i++) {
        size_t s, e;
        if (!arr_span(&c, i, &s, &e) || s != prev) {
            rc = bad(d, c.dir + i * c.w, "array offsets out of order or out of bounds");
            goto fail;
        }
        DocValue *el = NULL;
        if ((rc = dec_value(d, c.data + s, e - s, depth + 1, d->build ? &el : NULL)) != BLAZEDB_OK)
            goto fail;
        if (a)
            a->u.a.v[a->u.a.n++] = el;
        prev = e;
    }
    if (prev != c.dlen) {
        rc = bad(d, c.data + prev, "bytes after the last array element");
        goto fail;
    }
    if (out)
        *out = a;
    return BLAZEDB_OK;
fail:
    doc_free(a);
    return rc;
}

static BlazeDBResult dec_object(Dec *d, const uint8_t *p, size_t len, int depth,
                                DocValue **out)
{
    Cont c;
    BlazeDBResult rc;
    if (!cont_open(p, len, 1, &c))
        return bad(d, p, "object header or directory exceeds the value");
    if (off_width(c.dlen > c.n ? c.dlen : c.n) != c.w)
        return bad(d, p, "object offset width is not minimal");
    DocValue *o = NULL;
    if (d->build) {
        if (!(o = doc_new(DOC_OBJECT)) ||
            !(o->u.o.f = malloc((c.n ? c.n : 1) * sizeof(DocField)))) {
            free(o);
            return nomem(d);
        }
        o->u.o.cap = c.n;
    }
    size_t prev = 0, pns = 0, pne = 0;
    for (size_t i = 0; i < c.n; i++) {
        size_t ns, ne, ve;
        if (!field_span(&c, i, &ns, &ne, &ve) || ns != prev) {
            rc = bad(d, c.dir + 2 * i * c.w, "object offsets out of order or out of bounds");
            goto fail;
        }
        const char *name = (const char *)c.data + ns;
        if (!doc_name_valid(name, ne - ns)) {
            rc = bad(d, c.data + ns, "field name is not valid UTF-8 or contains NUL");
            goto fail;
        }
        if (i > 0 && doc_name_cmp((const char *)c.data + pns, pne - pns, name, ne - ns) >= 0) {
            rc = bad(d, c.data + ns, "field names not sorted or duplicated");
            goto fail;
        }
        DocValue *val = NULL;
        if ((rc = dec_value(d, c.data + ne, ve - ne, depth + 1, d->build ? &val : NULL)) != BLAZEDB_OK)
            goto fail;
        if (o) {
            char *nm = malloc(ne - ns + 1);
            if (!nm) {
                doc_free(val);
                rc = nomem(d);
                goto fail;
            }
            memcpy(nm, name, ne - ns);
            nm[ne - ns] = 0;
            o->u.o.f[o->u.o.n++] = (DocField){nm, (uint32_t)(ne - ns), val};
        }
        pns = ns;
        pne = ne;
        prev = ve;
    }
    if (prev != c.dlen) {
        rc = bad(d, c.data + prev, "bytes after the last object field");
        goto fail;
    }
    if (out)
        *out = o;
    return BLAZEDB_OK;
fail:
    doc_free(o);
    return rc;
}

/*
 * 1 when the scalar p[0..len) is certainly valid: the validator's fast
 * path, checking what dec_value checks.  0 sends the value to dec_value's
 * full path, which finds the error and says what it is.
 */
static int scalar_ok(const uint8_t *p, size_t len)
{
    switch (p[0]) {
    case DOC_NULL: return len == 1;
    case DOC_BOOL: return len == 2 && p[1] <= 1;
    case DOC_INT:
    case DOC_DATE:
        return (len == 2 || len == 3 || len == 5 || len == 9) &&
               int_width(rd_int(p + 1, (unsigned)(len - 1))) == len - 1;
    case DOC_DOUBLE: {
        if (len != 9)
            return 0;
        uint64_t bits = rd_le(p + 1, 8);
        /* a NaN must be the canonical one */
        return (bits & 0x7ff0000000000000ull) != 0x7ff0000000000000ull ||
               (bits & 0x000fffffffffffffull) == 0 || bits == DOC_CANON_NAN_BITS;
    }
    case DOC_STRING: return doc_utf8_valid(p + 1, len - 1);
    case DOC_BYTES: return 1;
    case DOC_UUID: return len == 17;
    default: return 0; /* vectors and errors: the full path */
    }
}

static BlazeDBResult dec_value(Dec *d, const uint8_t *p, size_t len, int depth,
                               DocValue **out)
{
    DocView v;
    if (len < 1)
        return bad(d, p, "empty value");
    if (!out && scalar_ok(p, len))
        return BLAZEDB_OK;
    if (p[0] == DOC_ARRAY || p[0] == DOC_OBJECT) {
        if (depth > DOC_MAX_DEPTH)
            return bad(d, p, "nesting deeper than 64 levels");
        return p[0] == DOC_ARRAY ? dec_array(d, p, len, depth, out)
                                 : dec_object(d, p, len, depth, out);
    }
    if (!view_of(p, len, 0, &v))
        return bad(d, p, p[0] < DOC_NULL || p[0] > DOC_VECTOR ? "unknown type tag"
                         : p[0] == DOC_STRING ? "string is not valid UTF-8"
                                              : "payload length does not fit the type");
    switch (v.type) {
    case DOC_INT:
    case DOC_DATE:
        if (int_width(v.i) != len - 1)
            return bad(d, p, "integer width is not minimal");
        break;
    case DOC_DOUBLE:
        if (isnan(v.d)) {
            uint64_t bits;
            memcpy(&bits, &v.d, 8);
            if (bits != DOC_CANON_NAN_BITS)
                return bad(d, p, "non-canonical NaN");
        }
        break;
    case DOC_VECTOR:
        for (size_t i = 0; i < v.count; i++) {
            uint32_t bits = (uint32_t)rd_le(p + 1 + 4 * i, 4);
            if ((bits & 0x7f800000u) == 0x7f800000u)
                return bad(d, p + 1 + 4 * i, "vector element is not finite");
        }
        break;
    default:
        break;
    }
    if (!out)
        return BLAZEDB_OK;
    DocValue *r = NULL;
    switch (v.type) {
    case DOC_NULL: r = doc_new(DOC_NULL); break;
    case DOC_BOOL: r = doc_new_bool(v.b); break;
    case DOC_INT: r = doc_new_int(v.i); break;
    case DOC_DATE: r = doc_new_date(v.i); break;
    case DOC_DOUBLE: r = doc_new_double(v.d); break;
    case DOC_STRING: r = doc_new_string((const char *)v.data, v.dlen); break;
    case DOC_BYTES: r = doc_new_bytes(v.data, v.dlen); break;
    case DOC_UUID: r = doc_new_uuid(v.data); break;
    case DOC_VECTOR:
        if ((r = doc_new_vector(NULL, 0)) && v.count) {
            float *f = malloc(v.count * sizeof(float));
            if (!f) {
                doc_free(r);
                r = NULL;
                break;
            }
            for (size_t i = 0; i < v.count; i++) {
                uint32_t bits = (uint32_t)rd_le(p + 1 + 4 * i, 4);
                memcpy(&f[i], &bits, 4);
            }
            free(r->u.vec.v);
            r->u.vec.v = f;
            r->u.vec.n = v.count;
        }
        break;
    default: break;
    }
    if (!r)
        return nomem(d);
    *out = r;
    return BLAZEDB_OK;
}

static BlazeDBResult dec_top(const uint8_t *buf, size_t len, DocValue **out, char *err)
{
    Dec d = {buf, err, out != NULL};
    if (!buf)
        return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "buffer is NULL");
    if (len > BLAZEDB_MAX_VALUE)
        return doc_err(err, BLAZEDB_TOO_BIG, "document of %zu bytes is larger than %u",
                       len, BLAZEDB_MAX_VALUE);
    return dec_value(&d, buf, len, 1, out);
}

BlazeDBResult docbin_decode(const uint8_t *buf, size_t len, DocValue **out,
                            char err[DOC_ERRMAX])
{
    *out = NULL;
    return dec_top(buf, len, out, err);
}

BlazeDBResult docbin_validate(const uint8_t *buf, size_t len, char err[DOC_ERRMAX])
{
    return dec_top(buf, len, NULL, err);
}
