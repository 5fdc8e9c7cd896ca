/*
 * json.h — JSON text <-> DocValue, lossless both ways (the mapping is
 * specified in docs/DOCUMENTS.md).  A strict RFC 8259 reader written for
 * this mapping (exact int64, big integers as doubles, UTF-8 validated,
 * duplicate keys rejected, depth limited, byte offsets in every message),
 * the same reader writing the binary encoding directly (no tree), and a
 * writer that prints doubles so they read back bit for bit.
 *
 * Owns: the JSON mapping and the tagged forms ($double, $date, $uuid,
 * $bytes, $vector, $object).  Not: the value model (value.h), the byte
 * format (docbin.h).
 */
#ifndef BLAZEDB_DOC_JSON_H
#define BLAZEDB_DOC_JSON_H

#include <stddef.h>

#include "value.h"

/*
 * Parses one JSON value (any type) from text[0..len); only whitespace may
 * follow it.  Errors: INVALID_ARGUMENT with "... at byte N" (malformed
 * JSON, invalid UTF-8, duplicate key, unknown or malformed tag, number out
 * of range, nesting deeper than DOC_MAX_DEPTH), TOO_BIG (len larger than
 * BLAZEDB_MAX_VALUE), NOMEM.
 */
BlazeDBResult doc_from_json(const char *text, size_t len, DocValue **out,
                            char err[DOC_ERRMAX]);

/*
 * JSON text -> canonical binary encoding (docbin.h), without building a
 * tree: the bytes and the errors (codes and messages, offsets included)
 * are those of doc_from_json followed by docbin_encode, about twice as
 * fast.  Any JSON value is accepted; a caller that wants a document checks
 * that (*out)[0] is DOC_OBJECT.  *out is malloc'd (possibly with spare
 * capacity).  Errors: as doc_from_json, and TOO_BIG when the encoding is
 * larger than BLAZEDB_MAX_VALUE.
 */
BlazeDBResult doc_json_to_bin(const char *text, size_t len, uint8_t **out, size_t *outlen,
                              char err[DOC_ERRMAX]);

#define DOC_JSON_PRETTY 1u

/* Writes v as JSON; *out is malloc'd and NUL-terminated, *len excludes the
 * NUL.  Errors: NOMEM. */
BlazeDBResult doc_to_json(const DocValue *v, unsigned flags, char **out, size_t *len,
                          char err[DOC_ERRMAX]);

/*
 * Writes the encoded value buf[0..len) as JSON: the very text doc_to_json
 * gives for its decoded tree, without building the tree.  For bytes that
 * docbin_validate accepted (strings are not checked for UTF-8 again;
 * every offset still is).  Errors: CORRUPT (bytes not well formed), NOMEM.
 */
BlazeDBResult doc_bin_to_json(const uint8_t *buf, size_t len, unsigned flags, char **out,
                              size_t *outlen, char err[DOC_ERRMAX]);

/* Dates: ms since the epoch <-> "YYYY-MM-DDTHH:MM:SS.mmmZ" (years 0..9999).
 * doc_date_format writes 25 bytes incl. NUL and returns 0 when the year is
 * out of range; doc_date_parse returns 1 on success. */
int doc_date_format(int64_t ms, char out[25]);
int doc_date_parse(const char *s, size_t len, int64_t *ms);

#endif /* BLAZEDB_DOC_JSON_H */
