/*
 * docapi.c — the public document API (Part 3 of include/blazedb.h): a thin
 * face over src/doc.  Owns argument checking, error messages (the calling
 * thread's, via db_set_errmsg) and the BlazeDBDoc handle; the value model,
 * encoding and JSON live in src/doc.
 *
 * A document has two forms.  One built or parsed in memory is a DocValue
 * tree.  One read from storage (blazedb_doc_decode, docapi_from_binary_owned)
 * keeps its validated binary form and builds no tree: getters, to_json and
 * encode read the bytes (docbin_lookup_valid, doc_bin_to_json).  The first
 * change, or docapi_root, builds the tree once (docbin_decode); after a
 * change the tree alone is the document.
 *
 * Borrowed pointers from a binary document point into the bytes (bytes,
 * uuids) or into `copies`, a per-document cache of what the bytes cannot
 * lend as is: strings and field names need a NUL after them, vectors need
 * aligned floats.  The cache is keyed by the offset in the bytes, so asking
 * twice gives the same pointer and memory stays bounded by the document's
 * size.  Bytes and copies live until the document is changed or freed,
 * which is the contract of every borrowed pointer.
 */
#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "../doc/docbin.h"
#include "../doc/json.h"
#include "../doc/value.h"

/* One cached copy: key = offset in the bytes * 2 (+1 for a field name). */
typedef struct {
    size_t key; /* 0 = free slot (offset 0 is the top-level tag, never cached) */
    void *p;
} CopySlot;

/* A block of the copies arena. */
typedef struct CopyBlock {
    struct CopyBlock *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} CopyBlock;

#define INLINE_SLOTS 8
#define INLINE_ARENA 160

struct BlazeDBDoc {
    DocValue *root;  /* the tree; NULL while the document is only bytes */
    uint8_t *bin;    /* validated encoding of an object, or NULL */
    size_t binlen;
    int bin_live;    /* bin is the document (no change since it was read) */
    /* copies out of bin (see above): an open-addressing table and an arena */
    CopySlot *slot;  /* inl_slot or malloc'd */
    size_t nslot, nused;
    CopyBlock *blocks;
    size_t inl_used;
    CopySlot inl_slot[INLINE_SLOTS];
    alignas(max_align_t) unsigned char inl_arena[INLINE_ARENA];
};

static const char *type_name(int t)
{
    static const char *names[] = {"missing", "null", "bool", "int", "double", "string",
                                  "bytes", "uuid", "date", "array", "object", "vector"};
    return t >= 0 && t <= DOC_VECTOR ? names[t] : "?";
}

static BlazeDBResult fail(BlazeDBResult rc, const char *msg)
{
    return db_set_errmsg(rc, "%s", msg);
}

static BlazeDBResult nomem(void) { return db_set_errmsg(BLAZEDB_NOMEM, "out of memory"); }

static BlazeDBDoc *alloc_doc(void)
{
    BlazeDBDoc *d = malloc(sizeof *d);
    if (d) {
        d->root = NULL;
        d->bin = NULL;
        d->binlen = 0;
        d->bin_live = 0;
        d->slot = d->inl_slot;
        d->nslot = INLINE_SLOTS;
        d->nused = 0;
        d->blocks = NULL;
        d->inl_used = 0;
        memset(d->inl_slot, 0, sizeof d->inl_slot);
    }
    return d;
}

static BlazeDBDoc *wrap(DocValue *root)
{
    BlazeDBDoc *d = alloc_doc();
    if (d)
        d->root = root;
    else
        doc_free(root);
    return d;
}

/* Frees the bytes and every copy made from them. */
static void drop_bytes(BlazeDBDoc *d)
{
    free(d->bin);
    d->bin = NULL;
    d->binlen = 0;
    d->bin_live = 0;
    if (d->slot != d->inl_slot)
        free(d->slot);
    d->slot = d->inl_slot;
    d->nslot = INLINE_SLOTS;
    d->nused = 0;
    memset(d->inl_slot, 0, sizeof d->inl_slot);
    while (d->blocks) {
        CopyBlock *b = d->blocks;
        d->blocks = b->next;
        free(b);
    }
    d->inl_used = 0;
}

/* The document is bytes only: read it there. */
static int is_bin(const BlazeDBDoc *d) { return d->root == NULL; }

/* Builds the tree of a binary document once (logically const: the tree is
 * a cache of the bytes until the next change).  NOMEM on failure. */
static BlazeDBResult materialize(const BlazeDBDoc *cd)
{
    char err[DOC_ERRMAX];
    BlazeDBDoc *d = (BlazeDBDoc *)(uintptr_t)cd;
    if (d->root)
        return BLAZEDB_OK;
    BlazeDBResult rc = docbin_decode(d->bin, d->binlen, &d->root, err);
    if (rc != BLAZEDB_OK) {
        d->root = NULL;
        return fail(rc, err);
    }
    return BLAZEDB_OK;
}

/* Before a change: the tree, built if needed; the bytes stop being the
 * document but stay allocated (borrowed pointers into them stay valid
 * should the change fail) until changed() frees them. */
static BlazeDBResult will_change(BlazeDBDoc *d)
{
    BlazeDBResult rc = materialize(d);
    if (rc == BLAZEDB_OK)
        d->bin_live = 0;
    return rc;
}

/* After a change: what was borrowed from the bytes may go. */
static BlazeDBResult changed(BlazeDBDoc *d, BlazeDBResult rc)
{
    if (rc == BLAZEDB_OK && d->bin)
        drop_bytes(d);
    return rc;
}

/* ---- copies out of the bytes ----------------------------------------------------- */

static void *arena_alloc(BlazeDBDoc *d, size_t n)
{
    const size_t al = alignof(max_align_t);
    n = (n + al - 1) / al * al;
    if (n <= INLINE_ARENA - d->inl_used) {
        void *p = d->inl_arena + d->inl_used;
        d->inl_used += n;
        return p;
    }
    CopyBlock *b = d->blocks;
    if (!b || n > b->cap - b->used) {
        size_t cap = b ? b->cap * 2 : 1024;
        if (cap > ((size_t)1 << 20))
            cap = (size_t)1 << 20;
        if (cap < n)
            cap = n;
        CopyBlock *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->cap = cap;
        nb->used = 0;
        if (b && b->cap - b->used > cap - n) {
            /* a large copy in its own block; keep filling the current one */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            d->blocks = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static CopySlot *slot_for(CopySlot *tab, size_t cap, size_t key)
{
    size_t h = (key * 0x9e3779b97f4a7c15ull) >> 7;
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (tab[i].key == key || tab[i].key == 0)
            return &tab[i];
}

/*
 * The copy of bytes src[0..n) kept under `key`: made once (with a NUL
 * after it, or as floats when `vec`), then found again.  NULL when out of
 * memory.
 */
static void *copy_of(const BlazeDBDoc *cd, size_t key, const uint8_t *src, size_t n, int vec)
{
    BlazeDBDoc *d = (BlazeDBDoc *)(uintptr_t)cd; /* the cache is logically const */
    CopySlot *s = slot_for(d->slot, d->nslot, key);
    if (s->key)
        return s->p;
    if ((d->nused + 1) * 2 > d->nslot) {
        size_t cap = d->nslot * 2;
        CopySlot *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < d->nslot; i++)
            if (d->slot[i].key)
                *slot_for(t, cap, d->slot[i].key) = d->slot[i];
        if (d->slot != d->inl_slot)
            free(d->slot);
        d->slot = t;
        d->nslot = cap;
        s = slot_for(d->slot, d->nslot, key);
    }
    void *p;
    if (vec) {
        float *f = arena_alloc(d, n ? n : 1);
        if (!f)
            return NULL;
        for (size_t i = 0; i < n / 4; i++) {
            const uint8_t *q = src + 4 * i;
            uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                            (uint32_t)q[3] << 24;
            memcpy(&f[i], &bits, 4);
        }
        p = f;
    } else {
        char *c = arena_alloc(d, n + 1);
        if (!c)
            return NULL;
        memcpy(c, src, n);
        c[n] = 0;
        p = c;
    }
    s->key = key;
    s->p = p;
    d->nused++;
    return p;
}

/* The key of a copy of the payload at `at` inside the bytes. */
static size_t key_of(const BlazeDBDoc *d, const uint8_t *at, int name)
{
    return (size_t)(at - d->bin) * 2 + (size_t)name;
}

BlazeDBResult blazedb_doc_new(BlazeDBDoc **out)
{
    if (!out)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    DocValue *r = doc_new(DOC_OBJECT);
    *out = r ? wrap(r) : NULL;
    return *out ? BLAZEDB_OK : nomem();
}

void blazedb_doc_free(BlazeDBDoc *doc)
{
    if (doc) {
        doc_free(doc->root);
        drop_bytes(doc);
        free(doc);
    }
}

BlazeDBResult blazedb_doc_clone(const BlazeDBDoc *doc, BlazeDBDoc **out)
{
    if (!out)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!doc)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc is NULL");
    if (doc->bin_live) {
        uint8_t *b = malloc(doc->binlen);
        if (!b)
            return nomem();
        memcpy(b, doc->bin, doc->binlen);
        if (!(*out = alloc_doc())) {
            free(b);
            return nomem();
        }
        (*out)->bin = b;
        (*out)->binlen = doc->binlen;
        (*out)->bin_live = 1;
        return BLAZEDB_OK;
    }
    DocValue *c = doc_clone(doc->root);
    *out = c ? wrap(c) : NULL;
    return *out ? BLAZEDB_OK : nomem();
}

BlazeDBResult blazedb_doc_from_json(const char *json, size_t len, BlazeDBDoc **out)
{
    char err[DOC_ERRMAX];
    DocValue *v;
    if (!out)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    BlazeDBResult rc = doc_from_json(json, len, &v, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    if (v->type != DOC_OBJECT) {
        int t = v->type;
        doc_free(v);
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT,
                             "a document must be a JSON object, not %s", type_name(t));
    }
    *out = wrap(v);
    return *out ? BLAZEDB_OK : nomem();
}

BlazeDBResult blazedb_json_to_binary(const char *json, size_t len, void **out, size_t *outlen)
{
    char err[DOC_ERRMAX];
    uint8_t *bin;
    size_t n;
    if (!out || !outlen)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out or outlen is NULL");
    *out = NULL;
    *outlen = 0;
    BlazeDBResult rc = doc_json_to_bin(json, len, &bin, &n, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    if (bin[0] != DOC_OBJECT) {
        int t = bin[0];
        free(bin);
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT,
                             "a document must be a JSON object, not %s", type_name(t));
    }
    *out = bin;
    *outlen = n;
    return BLAZEDB_OK;
}

static BlazeDBResult bin_to_json(const uint8_t *p, size_t n, unsigned flags, char **out,
                                 size_t *len)
{
    char err[DOC_ERRMAX];
    size_t l;
    BlazeDBResult rc = doc_bin_to_json(p, n, flags, out, &l, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    if (len)
        *len = l;
    return BLAZEDB_OK;
}

static BlazeDBResult to_json(const DocValue *v, unsigned flags, char **out, size_t *len)
{
    char err[DOC_ERRMAX];
    size_t n;
    BlazeDBResult rc = doc_to_json(v, flags, out, &n, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    if (len)
        *len = n;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_doc_to_json(const BlazeDBDoc *doc, unsigned flags, char **out,
                                  size_t *len)
{
    if (!out)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (len)
        *len = 0;
    if (!doc)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc is NULL");
    if (is_bin(doc))
        return bin_to_json(doc->bin, doc->binlen, flags, out, len);
    return to_json(doc->root, flags, out, len);
}

BlazeDBResult blazedb_doc_encode(const BlazeDBDoc *doc, void **out, size_t *len)
{
    char err[DOC_ERRMAX];
    if (!out || !len)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out or len is NULL");
    *out = NULL;
    *len = 0;
    if (!doc)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc is NULL");
    uint8_t *buf;
    if (doc->bin_live) {
        /* the bytes are the document, already canonical */
        if (!(buf = malloc(doc->binlen)))
            return nomem();
        memcpy(buf, doc->bin, doc->binlen);
        *out = buf;
        *len = doc->binlen;
        return BLAZEDB_OK;
    }
    BlazeDBResult rc = docbin_encode(doc->root, &buf, len, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    *out = buf;
    return BLAZEDB_OK;
}

/* Checks bytes owned by the caller of docapi_from_binary_owned and wraps
 * them; frees buf on failure. */
static BlazeDBResult from_bytes(uint8_t *buf, size_t len, BlazeDBDoc **out)
{
    char err[DOC_ERRMAX];
    BlazeDBResult rc = docbin_validate(buf, len, err);
    if (rc != BLAZEDB_OK) {
        free(buf);
        return fail(rc, err);
    }
    if (buf[0] != DOC_OBJECT) {
        int t = buf[0];
        free(buf);
        return db_set_errmsg(BLAZEDB_CORRUPT, "corrupt document: the top level is %s, "
                             "not an object", type_name(t));
    }
    BlazeDBDoc *d = alloc_doc();
    if (!d) {
        free(buf);
        return nomem();
    }
    d->bin = buf;
    d->binlen = len;
    d->bin_live = 1;
    *out = d;
    return BLAZEDB_OK;
}

BlazeDBResult docapi_from_binary_owned(uint8_t *buf, size_t len, BlazeDBDoc **out)
{
    if (!out) {
        free(buf);
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    }
    *out = NULL;
    if (!buf)
        return fail(BLAZEDB_INVALID_ARGUMENT, "buf is NULL");
    return from_bytes(buf, len, out);
}

BlazeDBResult blazedb_doc_decode(const void *buf, size_t len, BlazeDBDoc **out)
{
    char err[DOC_ERRMAX];
    if (!out)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!buf)
        return fail(BLAZEDB_INVALID_ARGUMENT, "buf is NULL");
    /* what the validator refuses without reading is refused before the copy */
    if (len > BLAZEDB_MAX_VALUE || len == 0)
        return fail(docbin_validate(buf, len, err), err);
    uint8_t *copy = malloc(len);
    if (!copy)
        return nomem();
    memcpy(copy, buf, len);
    return from_bytes(copy, len, out);
}

const DocValue *docapi_root(const BlazeDBDoc *d)
{
    /* a document whose tree cannot be built (out of memory) reads as empty */
    static const DocValue empty = {.type = DOC_OBJECT};
    if (!d)
        return &empty;
    return materialize(d) == BLAZEDB_OK ? d->root : &empty;
}

/* ---- getters -------------------------------------------------------------------- */

/* The value at a path: a tree node, or for a binary document a view of its
 * bytes (f->v == NULL). */
typedef struct {
    const DocValue *v;
    DocView view;
    int type; /* DocType; DOC_MISSING when there is no value */
} Found;

static void find(const BlazeDBDoc *doc, const char *path, Found *f)
{
    f->v = NULL;
    f->type = DOC_MISSING;
    if (is_bin(doc)) {
        /* validated bytes: lookup answers OK or NOT_FOUND (never CORRUPT) */
        if (docbin_lookup_valid(doc->bin, doc->binlen, path, &f->view) == BLAZEDB_OK)
            f->type = f->view.type;
    } else if ((f->v = doc_path_get(doc->root, path)) != NULL) {
        f->type = f->v->type;
    }
}

BlazeDBType blazedb_doc_type(const BlazeDBDoc *doc, const char *path)
{
    Found f;
    if (!doc || !path)
        return BLAZEDB_TYPE_MISSING;
    find(doc, path, &f);
    return (BlazeDBType)f.type;
}

/* The value at path, checked to be of type t (t2 also accepted when not 0). */
static BlazeDBResult get(const BlazeDBDoc *doc, const char *path, int t, int t2, Found *f)
{
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    find(doc, path, f);
    if (f->type == DOC_MISSING)
        return db_set_errmsg(BLAZEDB_NOT_FOUND, "no value at path '%s'", path);
    if (f->type != t && f->type != t2)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "the value at '%s' is %s, not %s",
                             path, type_name(f->type), type_name(t));
    return BLAZEDB_OK;
}

#define CHECK_OUT(p) \
    if (!(p)) return fail(BLAZEDB_INVALID_ARGUMENT, "output pointer is NULL")

BlazeDBResult blazedb_doc_get_bool(const BlazeDBDoc *doc, const char *path, int *out)
{
    Found f;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_BOOL, 0, &f);
    if (rc == BLAZEDB_OK)
        *out = f.v ? f.v->u.b : f.view.b;
    return rc;
}

BlazeDBResult blazedb_doc_get_int(const BlazeDBDoc *doc, const char *path, int64_t *out)
{
    Found f;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_INT, 0, &f);
    if (rc == BLAZEDB_OK)
        *out = f.v ? f.v->u.i : f.view.i;
    return rc;
}

BlazeDBResult blazedb_doc_get_double(const BlazeDBDoc *doc, const char *path, double *out)
{
    Found f;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_DOUBLE, DOC_INT, &f);
    if (rc == BLAZEDB_OK) {
        if (f.type == DOC_INT)
            *out = (double)(f.v ? f.v->u.i : f.view.i);
        else
            *out = f.v ? f.v->u.d : f.view.d;
    }
    return rc;
}

BlazeDBResult blazedb_doc_get_date(const BlazeDBDoc *doc, const char *path, int64_t *ms)
{
    Found f;
    CHECK_OUT(ms);
    BlazeDBResult rc = get(doc, path, DOC_DATE, 0, &f);
    if (rc == BLAZEDB_OK)
        *ms = f.v ? f.v->u.i : f.view.i;
    return rc;
}

BlazeDBResult blazedb_doc_get_string(const BlazeDBDoc *doc, const char *path,
                                     const char **s, size_t *len)
{
    Found f;
    CHECK_OUT(s);
    BlazeDBResult rc = get(doc, path, DOC_STRING, 0, &f);
    if (rc != BLAZEDB_OK)
        return rc;
    if (f.v) {
        *s = f.v->u.s.p;
        if (len)
            *len = f.v->u.s.len;
        return BLAZEDB_OK;
    }
    /* the bytes have no NUL after the string: a copy that has one */
    const char *c = f.view.dlen == 0 ? ""
                    : copy_of(doc, key_of(doc, f.view.data, 0), f.view.data, f.view.dlen, 0);
    if (!c)
        return nomem();
    *s = c;
    if (len)
        *len = f.view.dlen;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_doc_get_bytes(const BlazeDBDoc *doc, const char *path,
                                    const void **p, size_t *len)
{
    Found f;
    CHECK_OUT(p);
    CHECK_OUT(len);
    BlazeDBResult rc = get(doc, path, DOC_BYTES, 0, &f);
    if (rc == BLAZEDB_OK) {
        *p = f.v ? (const void *)f.v->u.s.p : (const void *)f.view.data;
        *len = f.v ? f.v->u.s.len : f.view.dlen;
    }
    return rc;
}

BlazeDBResult blazedb_doc_get_uuid(const BlazeDBDoc *doc, const char *path, uint8_t out[16])
{
    Found f;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_UUID, 0, &f);
    if (rc == BLAZEDB_OK)
        memcpy(out, f.v ? f.v->u.uuid : f.view.data, 16);
    return rc;
}

BlazeDBResult blazedb_doc_get_vector(const BlazeDBDoc *doc, const char *path,
                                     const float **fl, size_t *n)
{
    Found f;
    CHECK_OUT(fl);
    CHECK_OUT(n);
    BlazeDBResult rc = get(doc, path, DOC_VECTOR, 0, &f);
    if (rc != BLAZEDB_OK)
        return rc;
    if (f.v) {
        *fl = f.v->u.vec.v;
        *n = f.v->u.vec.n;
        return BLAZEDB_OK;
    }
    /* little-endian float32 at any alignment in the bytes: aligned copies */
    const float *c = copy_of(doc, key_of(doc, f.view.data, 0), f.view.data, f.view.dlen, 1);
    if (!c)
        return nomem();
    *fl = c;
    *n = f.view.count;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_doc_get_json(const BlazeDBDoc *doc, const char *path, unsigned flags,
                                   char **out, size_t *len)
{
    Found f;
    CHECK_OUT(out);
    *out = NULL;
    if (len)
        *len = 0;
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    find(doc, path, &f);
    if (f.type == DOC_MISSING)
        return db_set_errmsg(BLAZEDB_NOT_FOUND, "no value at path '%s'", path);
    return f.v ? to_json(f.v, flags, out, len) : bin_to_json(f.view.p, f.view.len, flags, out, len);
}

/* ---- setters -------------------------------------------------------------------- */

/* Stores v (owned; may be NULL after an allocation failure) at path. */
static BlazeDBResult set(BlazeDBDoc *doc, const char *path, DocValue *v)
{
    char err[DOC_ERRMAX];
    if (!doc || !path) {
        doc_free(v);
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    }
    if (!v)
        return nomem();
    if (*path == 0 && v->type != DOC_OBJECT) {
        doc_free(v);
        return fail(BLAZEDB_INVALID_ARGUMENT, "path \"\" (the document) takes only an object");
    }
    BlazeDBResult rc = will_change(doc);
    if (rc != BLAZEDB_OK) {
        doc_free(v);
        return rc;
    }
    rc = doc_path_set(doc->root, path, v, err);
    return changed(doc, rc == BLAZEDB_OK ? rc : fail(rc, err));
}

BlazeDBResult docapi_set_value(BlazeDBDoc *doc, const char *path, DocValue *v)
{
    return set(doc, path, v);
}

BlazeDBResult blazedb_doc_set_null(BlazeDBDoc *doc, const char *path)
{
    return set(doc, path, doc_new(DOC_NULL));
}

BlazeDBResult blazedb_doc_set_bool(BlazeDBDoc *doc, const char *path, int v)
{
    return set(doc, path, doc_new_bool(v));
}

BlazeDBResult blazedb_doc_set_int(BlazeDBDoc *doc, const char *path, int64_t v)
{
    return set(doc, path, doc_new_int(v));
}

BlazeDBResult blazedb_doc_set_double(BlazeDBDoc *doc, const char *path, double v)
{
    return set(doc, path, doc_new_double(v));
}

BlazeDBResult blazedb_doc_set_date(BlazeDBDoc *doc, const char *path, int64_t ms)
{
    return set(doc, path, doc_new_date(ms));
}

BlazeDBResult blazedb_doc_set_stringn(BlazeDBDoc *doc, const char *path, const char *s,
                                      size_t len)
{
    if (!s && len)
        return fail(BLAZEDB_INVALID_ARGUMENT, "string is NULL");
    if (len > BLAZEDB_MAX_VALUE)
        return fail(BLAZEDB_INVALID_ARGUMENT, "string longer than BLAZEDB_MAX_VALUE");
    if (len && !doc_utf8_valid((const uint8_t *)s, len))
        return fail(BLAZEDB_INVALID_ARGUMENT, "string is not valid UTF-8");
    return set(doc, path, doc_new_string(len ? s : "", len));
}

BlazeDBResult blazedb_doc_set_string(BlazeDBDoc *doc, const char *path, const char *s)
{
    if (!s)
        return fail(BLAZEDB_INVALID_ARGUMENT, "string is NULL");
    return blazedb_doc_set_stringn(doc, path, s, strlen(s));
}

BlazeDBResult blazedb_doc_set_bytes(BlazeDBDoc *doc, const char *path, const void *p,
                                    size_t len)
{
    if (!p && len)
        return fail(BLAZEDB_INVALID_ARGUMENT, "bytes pointer is NULL");
    if (len > BLAZEDB_MAX_VALUE)
        return fail(BLAZEDB_INVALID_ARGUMENT, "bytes longer than BLAZEDB_MAX_VALUE");
    return set(doc, path, doc_new_bytes(len ? p : "", len));
}

BlazeDBResult blazedb_doc_set_uuid(BlazeDBDoc *doc, const char *path, const uint8_t uuid[16])
{
    if (!uuid)
        return fail(BLAZEDB_INVALID_ARGUMENT, "uuid is NULL");
    return set(doc, path, doc_new_uuid(uuid));
}

BlazeDBResult blazedb_doc_set_vector(BlazeDBDoc *doc, const char *path, const float *v,
                                     size_t n)
{
    if (!v && n)
        return fail(BLAZEDB_INVALID_ARGUMENT, "vector is NULL");
    if (n > BLAZEDB_MAX_VALUE / sizeof(float))
        return fail(BLAZEDB_INVALID_ARGUMENT, "vector longer than BLAZEDB_MAX_VALUE bytes");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT,
                                 "vector element %zu is not finite", i);
    return set(doc, path, doc_new_vector(v, n));
}

static BlazeDBResult parse_any(const char *json, size_t len, DocValue **v)
{
    char err[DOC_ERRMAX];
    BlazeDBResult rc = doc_from_json(json, len, v, err);
    return rc == BLAZEDB_OK ? rc : fail(rc, err);
}

BlazeDBResult blazedb_doc_set_json(BlazeDBDoc *doc, const char *path, const char *json,
                                   size_t len)
{
    DocValue *v;
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    BlazeDBResult rc = parse_any(json, len, &v);
    return rc == BLAZEDB_OK ? set(doc, path, v) : rc;
}

BlazeDBResult blazedb_doc_array_append_json(BlazeDBDoc *doc, const char *path,
                                            const char *json, size_t len)
{
    DocValue *v;
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    BlazeDBResult rc = will_change(doc);
    if (rc != BLAZEDB_OK)
        return rc;
    DocValue *arr = doc_path_get(doc->root, path);
    if (arr && arr->type != DOC_ARRAY)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "the value at '%s' is %s, not an array",
                             path, type_name(arr->type));
    rc = parse_any(json, len, &v);
    if (rc != BLAZEDB_OK)
        return rc;
    if (!arr) {
        DocValue *a = doc_new(DOC_ARRAY);
        if (!a || doc_arr_push(a, v) != BLAZEDB_OK) {
            if (!a)
                doc_free(v);
            doc_free(a);
            return nomem();
        }
        return set(doc, path, a);
    }
    /* the array sits at depth (segments + 1); the new element adds its own */
    int depth = 1;
    for (const char *q = path; *q; q++)
        depth += *q == '.';
    depth += *path != 0;
    if (depth + doc_depth(v) > DOC_MAX_DEPTH) {
        doc_free(v);
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "nesting deeper than %d levels",
                             DOC_MAX_DEPTH);
    }
    rc = doc_arr_push(arr, v);
    return changed(doc, rc == BLAZEDB_OK ? rc : nomem());
}

BlazeDBResult blazedb_doc_unset(BlazeDBDoc *doc, const char *path)
{
    char err[DOC_ERRMAX];
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    BlazeDBResult rc = will_change(doc);
    if (rc != BLAZEDB_OK)
        return rc;
    rc = doc_path_unset(doc->root, path, err);
    return changed(doc, rc == BLAZEDB_OK ? rc : fail(rc, err));
}

size_t blazedb_doc_len(const BlazeDBDoc *doc, const char *path)
{
    Found f;
    if (!doc || !path)
        return 0;
    find(doc, path, &f);
    switch (f.type) {
    case DOC_OBJECT: return f.v ? f.v->u.o.n : f.view.count;
    case DOC_ARRAY: return f.v ? f.v->u.a.n : f.view.count;
    case DOC_VECTOR: return f.v ? f.v->u.vec.n : f.view.count;
    default: return 0;
    }
}

const char *blazedb_doc_field_name(const BlazeDBDoc *doc, const char *path, size_t i)
{
    Found f;
    if (!doc || !path)
        return NULL;
    find(doc, path, &f);
    if (f.type != DOC_OBJECT)
        return NULL;
    if (f.v)
        return i < f.v->u.o.n ? f.v->u.o.f[i].name : NULL;
    const uint8_t *name;
    size_t nlen;
    DocView val;
    if (i >= f.view.count || docbin_view_field(&f.view, i, &name, &nlen, &val) != BLAZEDB_OK)
        return NULL;
    /* the bytes have no NUL after a name: a copy that has one (NULL when
     * out of memory) */
    return nlen == 0 ? "" : copy_of(doc, key_of(doc, name, 1), name, nlen, 0);
}
