/*
 * docbin.h — the binary document encoding (specified byte by byte in
 * docs/DOCUMENTS.md): encode a DocValue tree, validate and decode a buffer,
 * and look up one field by path without decoding the rest.
 *
 * Owns: the byte format.  Not: the value model (value.h), JSON (json.h).
 *
 * Summary of the format.  A value is a tag byte (the DocType number) and a
 * payload whose length is known from the context (the buffer length at the
 * top, an offset table inside containers):
 *   NULL 01 -                 BOOL 02 00|01        INT/DATE 03/08 1,2,4,8 bytes LE
 *   DOUBLE 04 8 bytes LE      STRING 05 UTF-8      BYTES 06 raw    UUID 07 16 bytes
 *   VECTOR 0B n*4 bytes LE float32
 *   ARRAY 09  w n end[0..n)                 elements
 *   OBJECT 0A w n (nameend,valend)[0..n)    name0 value0 name1 value1 ...
 * w in {1,2,4} is the width of n and of every offset; offsets count from the
 * start of the element area.  Everything is canonical (minimal widths,
 * sorted unique names, one NaN), so equal values have equal bytes and a
 * decoder accepts exactly the output of the encoder.
 */
#ifndef BLAZEDB_DOC_DOCBIN_H
#define BLAZEDB_DOC_DOCBIN_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

/*
 * A borrowed view of one encoded value inside a buffer.  `p`/`len` span the
 * whole value (tag included) and can be passed again to docbin_lookup;
 * `data`/`dlen` span the payload (the bytes of a string, bytes, uuid or
 * vector).  Scalars are decoded into b/i/d.  `trusted` marks a view of
 * bytes docbin_validate accepted (from docbin_lookup_valid): its elements
 * and fields are trusted too, and their strings are not checked again.
 */
typedef struct {
    DocType type;
    const uint8_t *p;
    size_t len;
    const uint8_t *data;
    size_t dlen;
    int b;
    int64_t i;     /* INT, DATE */
    double d;
    size_t count;  /* elements of an array or vector, fields of an object */
    int trusted;
} DocView;

/*
 * Encodes `v` (any type).  *out is malloc'd.  Errors: TOO_BIG (larger than
 * BLAZEDB_MAX_VALUE), INVALID_ARGUMENT (depth > DOC_MAX_DEPTH), NOMEM.
 */
BlazeDBResult docbin_encode(const DocValue *v, uint8_t **out, size_t *len,
                            char err[DOC_ERRMAX]);

/*
 * Building blocks for a writer that produces the encoding without building
 * a tree (the JSON reader's direct path, json.h).  The writer owns the
 * buffer and makes room first:
 *   docbin_put_int     INT or DATE `v` in its minimal width: 2 to 9 bytes;
 *   docbin_put_double  9 bytes, every NaN written as the canonical one;
 *   docbin_head_size   bytes of an ARRAY or OBJECT header (tag, width, count
 *                      and directory) for n elements/fields and a data area
 *                      of dlen bytes;
 *   docbin_put_head    writes that header; `ends` holds the directory in
 *                      order: end[0..n) for an array, (nameend, valend)
 *                      pairs for an object, offsets from the data area.
 * Each put returns the bytes written.  The caller keeps the rest of the
 * format (minimal sizes, sorted unique names, UTF-8) true.
 */
#define DOCBIN_SCALAR_MAX 9 /* most bytes docbin_put_int/double write */
size_t docbin_put_int(uint8_t *dst, DocType type, int64_t v);
size_t docbin_put_double(uint8_t *dst, double d);
size_t docbin_head_size(DocType type, size_t n, size_t dlen);
void docbin_put_head(uint8_t *dst, DocType type, size_t n, size_t dlen, const size_t *ends);

/*
 * Checks that buf[0..len) is one canonical encoded value and builds its
 * tree.  Every count, offset and length is checked against the bytes that
 * remain before anything is allocated; depth is limited to DOC_MAX_DEPTH.
 * Errors: CORRUPT (with the byte offset), TOO_BIG, NOMEM.
 */
BlazeDBResult docbin_decode(const uint8_t *buf, size_t len, DocValue **out,
                            char err[DOC_ERRMAX]);

/* Same checks as docbin_decode, without building anything. */
BlazeDBResult docbin_validate(const uint8_t *buf, size_t len, char err[DOC_ERRMAX]);

/*
 * The value at `path` (see value.h; "" is the value itself) inside the
 * encoded value buf[0..len): a binary search in each object's directory, a
 * table lookup in each array.  Reads only the bytes on the way; every
 * offset read is bounds-checked, so a damaged buffer gives CORRUPT or a
 * wrong answer, never an out-of-bounds read.  (Full validation is
 * docbin_validate's job.)  Strings are checked to be UTF-8.
 * Returns OK, NOT_FOUND (absent, or path not valid here), CORRUPT.
 */
BlazeDBResult docbin_lookup(const uint8_t *buf, size_t len, const char *path,
                            DocView *out);

/*
 * docbin_lookup for bytes that docbin_validate accepted (documents read
 * back from storage): the same answers, without checking each string's
 * UTF-8 again.  Bounds are still checked on every read.
 */
BlazeDBResult docbin_lookup_valid(const uint8_t *buf, size_t len, const char *path,
                                  DocView *out);

/*
 * docbin_lookup_valid for one top-level field `name` of an encoded object
 * (validated bytes): *hint is where the field was found last time (any
 * value at first); it is checked first, then the directory is searched and
 * *hint updated.  For scans reading the same field of many documents.
 */
BlazeDBResult docbin_lookup_field(const uint8_t *buf, size_t len, const char *name, size_t nlen,
                                  size_t *hint, DocView *out);

/* Element i of an array view / field i (name and value) of an object view. */
BlazeDBResult docbin_view_elem(const DocView *arr, size_t i, DocView *out);
BlazeDBResult docbin_view_field(const DocView *obj, size_t i, const uint8_t **name,
                                size_t *nlen, DocView *out);

#endif /* BLAZEDB_DOC_DOCBIN_H */
