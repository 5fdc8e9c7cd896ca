/*
 * keyenc.h — the one order-preserving key encoding of every index
 * (DESIGN.md decision 7): a value becomes a byte string whose memcmp order
 * is the value order of qf_compare (query/filter.h), so one B+tree
 * comparator serves every index and range scans are plain cursor walks.
 *
 * Owns: the byte format of index keys (docs/FILE_FORMAT.md, "Index keys").
 * Not: which fields an index holds (index.h), storage.
 *
 * Every encoding is self-delimiting, so components can be concatenated
 * (compound keys) and split again.  A descending component is the
 * ascending encoding with every byte inverted (x ^ 0xFF).
 *
 * Format of one ascending component (tag byte, then payload):
 *   05            null or missing
 *   10 / 11       false / true
 *   20 D8 R2      number (int or double): D8 = the order-preserving form of
 *                 the largest double <= the value (sign bit flipped for
 *                 positives, all bits inverted for negatives; NaN = 8 zero
 *                 bytes, below -inf; -0.0 written as 0.0), R2 = big-endian
 *                 u16 remainder (int value - that double; 0 for doubles).
 *                 So 1 and 1.0 have the same key and 2^53+1 sorts after 2^53.
 *   30 I8         date: int64 ms, big-endian with the sign bit flipped
 *   40 S 00 00    string: bytes, each 00 written 00 FF, then 00 00
 *   50 S 00 00    bytes: same escaping
 *   60 U16        uuid
 *   70 E.. 00     array: each element's encoding, then 00
 *   80 (01 N V).. 00   object: per field 01, name escaped as a string
 *                 payload (…00 00), value encoding; then 00
 *   90 (01 F4).. 00    vector: per element 01 and the float32 in
 *                 order-preserving form; then 00
 */
#ifndef BLAZEDB_INDEX_KEYENC_H
#define BLAZEDB_INDEX_KEYENC_H

#include <stddef.h>
#include <stdint.h>

#include "../doc/docbin.h"
#include "../doc/value.h"

/* A growable byte buffer (malloc'd; free(buf.p)). */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} KeyBuf;

/* Appends the encoding of a value given as a binary view (NULL = missing)
 * or as a tree (NULL = missing).  desc: invert the bytes.  Returns OK,
 * NOMEM, or CORRUPT (a damaged view). */
int keyenc_view(KeyBuf *b, const DocView *v, int desc);
int keyenc_value(KeyBuf *b, const DocValue *v, int desc);
/* Scalars directly (for query bounds). */
int keyenc_null(KeyBuf *b, int desc);
int keyenc_int(KeyBuf *b, int64_t i, int desc);
int keyenc_double(KeyBuf *b, double d, int desc);

/* Length of the component starting at p[0..len) (desc: inverted), or 0 when
 * the bytes are not one well-formed component. */
size_t keyenc_skip(const uint8_t *p, size_t len, int desc);

/* Decodes one component back into a tree (*out malloc'd; for checks and
 * EXPLAIN's key bounds).  Lossy for numbers only: 1 and 1.0 share a key, and
 * an integral number in int64 range comes back as an int.  CORRUPT on bad
 * bytes. */
int keyenc_decode(const uint8_t *p, size_t len, int desc, DocValue **out, size_t *used);

/* Appends raw bytes. */
int keybuf_put(KeyBuf *b, const void *p, size_t n);

#endif /* BLAZEDB_INDEX_KEYENC_H */
