/*
 * value.h — the in-memory document value model: a tree of typed values
 * (null, bool, int64, double, string, bytes, uuid, date, array, object,
 * vector), deep copy and comparison, UTF-8 validation, and reading or
 * changing a value by dotted path ("a.b.2.c").
 *
 * Owns: DocValue trees and their memory.  Not: the binary encoding
 * (docbin.c), JSON text (json.c), storage of any kind.  No dependency on any
 * other layer.
 *
 * Invariants kept by every function here:
 *   - an object's fields are sorted by name (bytewise, shorter first) and
 *     their names are unique, valid UTF-8, free of NUL, at most
 *     DOC_MAX_NAME bytes;
 *   - strings are valid UTF-8 (they may contain NUL) and are stored with a
 *     terminating NUL that is not part of the value;
 *   - doubles are stored as given except that every NaN is the one quiet
 *     NaN 0x7ff8000000000000 (so equal values have equal bytes);
 *   - vector elements are finite float32 values.
 * A tree is used by one thread at a time (doc_encode writes a size cache).
 */
#ifndef BLAZEDB_DOC_VALUE_H
#define BLAZEDB_DOC_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "blazedb.h"

/* Type numbers equal BlazeDBType (and the binary tags, see docbin.h). */
typedef enum {
    DOC_MISSING = 0,
    DOC_NULL = 1,
    DOC_BOOL = 2,
    DOC_INT = 3,
    DOC_DOUBLE = 4,
    DOC_STRING = 5,
    DOC_BYTES = 6,
    DOC_UUID = 7,
    DOC_DATE = 8,
    DOC_ARRAY = 9,
    DOC_OBJECT = 10,
    DOC_VECTOR = 11
} DocType;

#define DOC_MAX_DEPTH 64      /* nested arrays/objects, the root counting 1 */
#define DOC_MAX_NAME 65535u   /* bytes in a field name */
#define DOC_ERRMAX 256        /* size of the error buffers below */
#define DOC_CANON_NAN_BITS 0x7ff8000000000000ull

typedef struct DocValue DocValue;

typedef struct {
    char *name;          /* malloc'd, NUL-terminated */
    uint32_t nlen;
    DocValue *val;
} DocField;

struct DocValue {
    uint8_t type;        /* DocType */
    uint8_t deferred;    /* JSON reader scratch (json.c), 0 elsewhere */
    size_t enc;          /* encoded size, cached by docbin_encode; the
                            JSON reader keeps an object's offset here */
    union {
        int b;
        int64_t i;       /* INT and DATE (ms since the epoch, UTC) */
        double d;
        struct { char *p; size_t len; } s;          /* STRING, BYTES */
        uint8_t uuid[16];
        struct { DocValue **v; size_t n, cap; } a;  /* ARRAY */
        struct { DocField *f; size_t n, cap; } o;   /* OBJECT */
        struct { float *v; size_t n; } vec;         /* VECTOR */
    } u;
};

/* Constructors; NULL when out of memory.  doc_new_string copies and does
 * NOT validate (callers validate with doc_utf8_valid first). */
DocValue *doc_new(DocType t);            /* NULL, ARRAY, OBJECT, or zeroed */
DocValue *doc_new_bool(int b);
DocValue *doc_new_int(int64_t i);
DocValue *doc_new_double(double d);      /* canonicalises NaN */
DocValue *doc_new_date(int64_t ms);
DocValue *doc_new_string(const char *s, size_t len);
DocValue *doc_new_bytes(const void *p, size_t len);
DocValue *doc_new_uuid(const uint8_t u[16]);
DocValue *doc_new_vector(const float *v, size_t n);  /* n may be 0 */

void doc_free(DocValue *v);                       /* NULL ignored */
DocValue *doc_clone(const DocValue *v);           /* NULL on OOM */
/* Structural equality; doubles and floats compare by bits. */
int doc_equal(const DocValue *a, const DocValue *b);
/* Nesting depth: 0 for scalars and vectors, 1 + max(children) otherwise. */
int doc_depth(const DocValue *v);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
int doc_utf8_valid(const uint8_t *s, size_t len);
/* Bytewise name order, shorter first on a common prefix: <0, 0, >0.
 * Inline: the JSON reader compares every pair of neighbouring names. */
static inline int doc_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}
/* 1 if a name may be a field name: valid UTF-8, no NUL, <= DOC_MAX_NAME. */
int doc_name_valid(const char *s, size_t len);

/* Object fields.  doc_obj_find: index of `name`, or -1 and *ins = where it
 * would go.  doc_obj_put takes ownership of `val` (freed on failure) and
 * replaces an existing field.  doc_obj_append adds at the end WITHOUT
 * sorting (for builders that call doc_obj_sort afterwards). */
long doc_obj_find(const DocValue *obj, const char *name, size_t nlen, size_t *ins);
BlazeDBResult doc_obj_put(DocValue *obj, const char *name, size_t nlen, DocValue *val);
BlazeDBResult doc_obj_append(DocValue *obj, char *name_owned, size_t nlen, DocValue *val);
/* Sorts the fields; returns the index of a duplicate name or -1. */
long doc_obj_sort(DocValue *obj);
/* Array elements; takes ownership of `val` (freed on failure). */
BlazeDBResult doc_arr_push(DocValue *arr, DocValue *val);

/*
 * Paths: segments separated by '.'; a segment indexes an array when the
 * current value is an array and the segment is a decimal number without
 * leading zeros, else names an object field.  "" is the root.  Empty
 * segments ("a..b", ".a", "a.") are invalid.
 *
 * doc_path_next: splits off the next segment; returns 1 with *seg and *len set,
 * 0 at the end, -1 on an empty segment.  doc_path_index: 1 and *idx when
 * the segment is an index.
 */
int doc_path_next(const char **path, const char **seg, size_t *len);
int doc_path_index(const char *seg, size_t len, size_t *idx);

/* The value at `path`, or NULL (missing, or the path is invalid). */
DocValue *doc_path_get(const DocValue *root, const char *path);
/*
 * Stores `val` (owned; freed on failure) at `path` under `root` (an object),
 * creating missing intermediate objects and replacing what was there.  An
 * index equal to an array's length appends.  "" replaces the root's content
 * (val must be an object).  Errors: INVALID_ARGUMENT (bad path, a scalar in
 * the way, index out of range, depth > DOC_MAX_DEPTH), NOMEM.
 */
BlazeDBResult doc_path_set(DocValue *root, const char *path, DocValue *val,
                           char err[DOC_ERRMAX]);
/* Removes the value at `path`; OK when absent; array elements shift down. */
BlazeDBResult doc_path_unset(DocValue *root, const char *path, char err[DOC_ERRMAX]);

/* printf into err (NULL ignored); returns rc. */
BlazeDBResult doc_err(char *err, BlazeDBResult rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* BLAZEDB_DOC_VALUE_H */
