/*
 * docapi.c — the public document API (Part 3 of include/blazedb.h): a thin
 * face over src/doc.  Owns argument checking, error messages (the calling
 * thread's, via db_set_errmsg) and the BlazeDBDoc handle; the value model,
 * encoding and JSON live in src/doc.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "../doc/docbin.h"
#include "../doc/json.h"
#include "../doc/value.h"

struct BlazeDBDoc {
    DocValue *root; /* always an OBJECT */
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

static BlazeDBDoc *wrap(DocValue *root)
{
    BlazeDBDoc *d = malloc(sizeof *d);
    if (d)
        d->root = root;
    else
        doc_free(root);
    return d;
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
    BlazeDBResult rc = docbin_encode(doc->root, &buf, len, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    *out = buf;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_doc_decode(const void *buf, size_t len, BlazeDBDoc **out)
{
    char err[DOC_ERRMAX];
    DocValue *v;
    if (!out)
        return fail(BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!buf)
        return fail(BLAZEDB_INVALID_ARGUMENT, "buf is NULL");
    BlazeDBResult rc = docbin_decode(buf, len, &v, err);
    if (rc != BLAZEDB_OK)
        return fail(rc, err);
    if (v->type != DOC_OBJECT) {
        int t = v->type;
        doc_free(v);
        return db_set_errmsg(BLAZEDB_CORRUPT, "corrupt document: the top level is %s, "
                             "not an object", type_name(t));
    }
    *out = wrap(v);
    return *out ? BLAZEDB_OK : nomem();
}

/* ---- getters -------------------------------------------------------------------- */

BlazeDBType blazedb_doc_type(const BlazeDBDoc *doc, const char *path)
{
    const DocValue *v = doc && path ? doc_path_get(doc->root, path) : NULL;
    return v ? (BlazeDBType)v->type : BLAZEDB_TYPE_MISSING;
}

/* The value at path, checked to be of type t (t2 also accepted when not 0). */
static BlazeDBResult get(const BlazeDBDoc *doc, const char *path, int t, int t2,
                         const DocValue **out)
{
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    const DocValue *v = doc_path_get(doc->root, path);
    if (!v)
        return db_set_errmsg(BLAZEDB_NOT_FOUND, "no value at path '%s'", path);
    if (v->type != t && v->type != t2)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "the value at '%s' is %s, not %s",
                             path, type_name(v->type), type_name(t));
    *out = v;
    return BLAZEDB_OK;
}

#define CHECK_OUT(p) \
    if (!(p)) return fail(BLAZEDB_INVALID_ARGUMENT, "output pointer is NULL")

BlazeDBResult blazedb_doc_get_bool(const BlazeDBDoc *doc, const char *path, int *out)
{
    const DocValue *v;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_BOOL, 0, &v);
    if (rc == BLAZEDB_OK)
        *out = v->u.b;
    return rc;
}

BlazeDBResult blazedb_doc_get_int(const BlazeDBDoc *doc, const char *path, int64_t *out)
{
    const DocValue *v;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_INT, 0, &v);
    if (rc == BLAZEDB_OK)
        *out = v->u.i;
    return rc;
}

BlazeDBResult blazedb_doc_get_double(const BlazeDBDoc *doc, const char *path, double *out)
{
    const DocValue *v;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_DOUBLE, DOC_INT, &v);
    if (rc == BLAZEDB_OK)
        *out = v->type == DOC_INT ? (double)v->u.i : v->u.d;
    return rc;
}

BlazeDBResult blazedb_doc_get_date(const BlazeDBDoc *doc, const char *path, int64_t *ms)
{
    const DocValue *v;
    CHECK_OUT(ms);
    BlazeDBResult rc = get(doc, path, DOC_DATE, 0, &v);
    if (rc == BLAZEDB_OK)
        *ms = v->u.i;
    return rc;
}

BlazeDBResult blazedb_doc_get_string(const BlazeDBDoc *doc, const char *path,
                                     const char **s, size_t *len)
{
    const DocValue *v;
    CHECK_OUT(s);
    BlazeDBResult rc = get(doc, path, DOC_STRING, 0, &v);
    if (rc == BLAZEDB_OK) {
        *s = v->u.s.p;
        if (len)
            *len = v->u.s.len;
    }
    return rc;
}

BlazeDBResult blazedb_doc_get_bytes(const BlazeDBDoc *doc, const char *path,
                                    const void **p, size_t *len)
{
    const DocValue *v;
    CHECK_OUT(p);
    CHECK_OUT(len);
    BlazeDBResult rc = get(doc, path, DOC_BYTES, 0, &v);
    if (rc == BLAZEDB_OK) {
        *p = v->u.s.p;
        *len = v->u.s.len;
    }
    return rc;
}

BlazeDBResult blazedb_doc_get_uuid(const BlazeDBDoc *doc, const char *path, uint8_t out[16])
{
    const DocValue *v;
    CHECK_OUT(out);
    BlazeDBResult rc = get(doc, path, DOC_UUID, 0, &v);
    if (rc == BLAZEDB_OK)
        memcpy(out, v->u.uuid, 16);
    return rc;
}

BlazeDBResult blazedb_doc_get_vector(const BlazeDBDoc *doc, const char *path,
                                     const float **f, size_t *n)
{
    const DocValue *v;
    CHECK_OUT(f);
    CHECK_OUT(n);
    BlazeDBResult rc = get(doc, path, DOC_VECTOR, 0, &v);
    if (rc == BLAZEDB_OK) {
        *f = v->u.vec.v;
        *n = v->u.vec.n;
    }
    return rc;
}

BlazeDBResult blazedb_doc_get_json(const BlazeDBDoc *doc, const char *path, unsigned flags,
                                   char **out, size_t *len)
{
    CHECK_OUT(out);
    *out = NULL;
    if (len)
        *len = 0;
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    const DocValue *v = doc_path_get(doc->root, path);
    if (!v)
        return db_set_errmsg(BLAZEDB_NOT_FOUND, "no value at path '%s'", path);
    return to_json(v, flags, out, len);
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
    BlazeDBResult rc = doc_path_set(doc->root, path, v, err);
    return rc == BLAZEDB_OK ? rc : fail(rc, err);
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
    DocValue *arr = doc_path_get(doc->root, path);
    if (arr && arr->type != DOC_ARRAY)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "the value at '%s' is %s, not an array",
                             path, type_name(arr->type));
    BlazeDBResult rc = parse_any(json, len, &v);
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
    return rc == BLAZEDB_OK ? rc : nomem();
}

BlazeDBResult blazedb_doc_unset(BlazeDBDoc *doc, const char *path)
{
    char err[DOC_ERRMAX];
    if (!doc || !path)
        return fail(BLAZEDB_INVALID_ARGUMENT, "doc or path is NULL");
    BlazeDBResult rc = doc_path_unset(doc->root, path, err);
    return rc == BLAZEDB_OK ? rc : fail(rc, err);
}

size_t blazedb_doc_len(const BlazeDBDoc *doc, const char *path)
{
    const DocValue *v = doc && path ? doc_path_get(doc->root, path) : NULL;
    if (!v)
        return 0;
    switch (v->type) {
    case DOC_OBJECT: return v->u.o.n;
    case DOC_ARRAY: return v->u.a.n;
    case DOC_VECTOR: return v->u.vec.n;
    default: return 0;
    }
}

const char *blazedb_doc_field_name(const BlazeDBDoc *doc, const char *path, size_t i)
{
    const DocValue *v = doc && path ? doc_path_get(doc->root, path) : NULL;
    if (!v || v->type != DOC_OBJECT || i >= v->u.o.n)
        return NULL;
    return v->u.o.f[i].name;
}
