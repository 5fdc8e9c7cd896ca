/*
 * fuzz_doc.c — hostile document bytes and JSON text.  The input goes to
 * the binary decoder (validate, decode, a few lookups and element/field
 * views) and to both JSON readers (tree and direct-to-binary).  Whatever
 * decodes must re-encode to the very same bytes (the binary format is
 * canonical), whatever JSON parses must survive JSON -> value -> JSON ->
 * value unchanged and binary -> value unchanged, and the direct reader must
 * give the tree path's bytes, or its error code and message.  Accepted bytes
 * must also write the tree's JSON straight from the binary form
 * (doc_bin_to_json), and the trusting lookup must agree with the checking
 * one.  Any error
 * code is fine; a crash, hang, leak, sanitizer report, broken round trip or
 * disagreement between the readers is not.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/doc/docbin.h"
#include "../src/doc/json.h"
#include "../src/doc/value.h"

static void check_value(const DocValue *v)
{
    char err[DOC_ERRMAX];
    uint8_t *e;
    size_t n;
    DocValue *back;
    if (docbin_encode(v, &e, &n, err) != BLAZEDB_OK)
        abort();
    if (docbin_decode(e, n, &back, err) != BLAZEDB_OK || !doc_equal(v, back))
        abort();
    doc_free(back);
    free(e);
    char *t;
    size_t tl;
    if (doc_to_json(v, 0, &t, &tl, err) != BLAZEDB_OK)
        abort();
    if (doc_from_json(t, tl, &back, err) != BLAZEDB_OK || !doc_equal(v, back))
        abort();
    doc_free(back);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[DOC_ERRMAX];
    DocValue *v = NULL;
    static const char *paths[] = {"", "a", "a.b", "0", "1.0", "tags.2", "a.0.b.1", "$object"};

    /* binary */
    BlazeDBResult rc = docbin_decode(data, size, &v, err);
    if (docbin_validate(data, size, err) != rc)
        abort();
    if (rc == BLAZEDB_OK) {
        uint8_t *e;
        size_t n;
        if (docbin_encode(v, &e, &n, err) != BLAZEDB_OK || n != size || memcmp(e, data, n))
            abort();
        free(e);
        check_value(v);
        for (unsigned flags = 0; flags <= DOC_JSON_PRETTY; flags++) {
            char *t1, *t2;
            size_t l1, l2;
            if (doc_to_json(v, flags, &t1, &l1, err) != BLAZEDB_OK ||
                doc_bin_to_json(data, size, flags, &t2, &l2, err) != BLAZEDB_OK ||
                l1 != l2 || memcmp(t1, t2, l1 + 1) != 0)
                abort();
            free(t1);
            free(t2);
        }
        doc_free(v);
    }
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        DocView view, el;
        BlazeDBResult lr = docbin_lookup(data, size, paths[i], &view);
        if (rc == BLAZEDB_OK) {
            DocView tv;
            if (docbin_lookup_valid(data, size, paths[i], &tv) != lr ||
                (lr == BLAZEDB_OK && (tv.p != view.p || tv.len != view.len)))
                abort();
        }
        if (lr != BLAZEDB_OK)
            continue;
        const uint8_t *nm;
        size_t nl;
        for (size_t k = 0; k < view.count && k < 4; k++) {
            if (view.type == DOC_ARRAY)
                docbin_view_elem(&view, k, &el);
            else if (view.type == DOC_OBJECT)
                docbin_view_field(&view, k, &nm, &nl, &el);
        }
    }

    /* JSON, through the tree and straight to binary */
    char err2[DOC_ERRMAX];
    uint8_t *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    rc = doc_from_json((const char *)data, size, &v, err);
    if (rc == BLAZEDB_OK) {
        check_value(v);
        rc = docbin_encode(v, &e1, &n1, err);
        doc_free(v);
    }
    if (doc_json_to_bin((const char *)data, size, &e2, &n2, err2) != rc)
        abort();
    if (rc == BLAZEDB_OK ? n1 != n2 || memcmp(e1, e2, n1) != 0 : strcmp(err, err2) != 0)
        abort();
    free(e1);
    free(e2);
    return 0;
}
