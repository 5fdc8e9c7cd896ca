/*
 * test_doc.c — documents: every public blazedb_doc_* function with its
 * success and error paths, nested paths and arrays, every type, the tagged
 * JSON forms and their escape, canonical binary encoding, lookup without
 * decoding, limits (depth, size), malformed JSON/binary input, and property
 * tests over seeded random documents:
 *   value -> binary -> value, value -> JSON -> value (compact and pretty),
 *   JSON text -> doc -> JSON text, lookup == decoded subtree,
 *   JSON text -> binary directly == JSON -> tree -> binary,
 * plus random mutations of valid encodings and JSON fed to the readers
 * (the direct JSON -> binary reader fails exactly as the tree reader).
 * The seed is printed; set BLAZEDB_TEST_SEED to replay one run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blazedb.h"
#include "../src/doc/docbin.h"
#include "../src/doc/json.h"
#include "../src/doc/value.h"
#include "../src/db/db.h"

/* ---- helpers ----------------------------------------------------------------- */

static BlazeDBDoc *from_json(const char *j)
{
    BlazeDBDoc *d = NULL;
    BlazeDBResult rc = blazedb_doc_from_json(j, strlen(j), &d);
    if (rc != BLAZEDB_OK)
        fail_msg("from_json(%s): %s (%s)", j, blazedb_strerror(rc), blazedb_errmsg(NULL));
    return d;
}

static char *to_json(const BlazeDBDoc *d)
{
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(blazedb_doc_to_json(d, 0, &s, &n), BLAZEDB_OK);
    assert_int_equal(strlen(s), n);
    return s;
}

/* JSON of `in` after a round trip through the document model equals `out`. */
static void json_is(const char *in, const char *out)
{
    BlazeDBDoc *d = from_json(in);
    char *s = to_json(d);
    if (strcmp(s, out) != 0)
        fail_msg("json %s\n  gave %s\n  want %s", in, s, out);
    blazedb_free(s);
    blazedb_doc_free(d);
}

/* from_json fails with rc, and the message contains `frag`. */
static void json_fails(const char *in, size_t len, BlazeDBResult rc, const char *frag)
{
    BlazeDBDoc *d = (BlazeDBDoc *)1;
    BlazeDBResult got = blazedb_doc_from_json(in, len, &d);
    if (got != rc)
        fail_msg("from_json(%.*s) = %d, want %d (%s)", (int)len, in, got, rc,
                 blazedb_errmsg(NULL));
    assert_null(d);
    if (frag && !strstr(blazedb_errmsg(NULL), frag))
        fail_msg("from_json(%.*s): message '%s' lacks '%s'", (int)len, in,
                 blazedb_errmsg(NULL), frag);
}

static void expect_rc(BlazeDBResult got, BlazeDBResult want, const char *frag)
{
    if (got != want)
        fail_msg("rc %d, want %d (%s)", got, want, blazedb_errmsg(NULL));
    if (frag && !strstr(blazedb_errmsg(NULL), frag))
        fail_msg("message '%s' lacks '%s'", blazedb_errmsg(NULL), frag);
}

/* JSON -> binary directly (doc_json_to_bin) against the tree reader and the
 * encoder: the same bytes, or the same error code and message. */
static void same_as_tree(const char *j, size_t len)
{
    char e1[DOC_ERRMAX] = "", e2[DOC_ERRMAX] = "";
    DocValue *v;
    uint8_t *a = NULL, *b = (uint8_t *)1;
    size_t al = 0, bl = 1;
    BlazeDBResult r1 = doc_from_json(j, len, &v, e1);
    if (r1 == BLAZEDB_OK) {
        r1 = docbin_encode(v, &a, &al, e1);
        doc_free(v);
    }
    BlazeDBResult r2 = doc_json_to_bin(j, len, &b, &bl, e2);
    if (r1 != r2 || (r1 != BLAZEDB_OK && strcmp(e1, e2) != 0))
        fail_msg("doc_json_to_bin(%.*s): rc %d '%s'; tree reader: rc %d '%s'",
                 (int)(len < 300 ? len : 300), j, r2, e2, r1, e1);
    if (r1 == BLAZEDB_OK) {
        if (al != bl || memcmp(a, b, al) != 0)
            fail_msg("doc_json_to_bin(%.*s): %zu bytes differ from the tree path's %zu",
                     (int)(len < 300 ? len : 300), j, bl, al);
    } else {
        assert_null(b);
        assert_int_equal(bl, 0);
    }
    free(a);
    free(b);
}

static void same_as_tree_s(const char *j) { same_as_tree(j, strlen(j)); }

/* ---- the public API, scalar by scalar ---------------------------------------- */

static void test_new_set_get_all_types(void **state)
{
    (void)state;
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    assert_non_null(d);
    assert_int_equal(blazedb_doc_len(d, ""), 0);
    assert_int_equal(blazedb_doc_type(d, ""), BLAZEDB_TYPE_OBJECT);

    uint8_t u[16], u2[16];
    for (int i = 0; i < 16; i++)
        u[i] = (uint8_t)(i * 17);
    float vec[3] = {1.5f, -0.0f, 3e-40f};
    assert_int_equal(blazedb_doc_set_null(d, "n"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_bool(d, "b", 7), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_int(d, "i", INT64_MIN), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_double(d, "f", -0.0), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_date(d, "t", 1704164645678), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "s", "h\xc3\xa9llo"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_stringn(d, "z", "a\0b", 3), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_bytes(d, "y", "\x00\xff\x10", 3), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_uuid(d, "u", u), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_vector(d, "v", vec, 3), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_json(d, "a", "[1,2,3]", strlen("[1,2,3]")), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_json(d, "o", "{\"k\":1}", strlen("{\"k\":1}")), BLAZEDB_OK);

    static const struct { const char *p; BlazeDBType t; } types[] = {
        {"n", BLAZEDB_TYPE_NULL}, {"b", BLAZEDB_TYPE_BOOL}, {"i", BLAZEDB_TYPE_INT},
        {"f", BLAZEDB_TYPE_DOUBLE}, {"t", BLAZEDB_TYPE_DATE}, {"s", BLAZEDB_TYPE_STRING},
        {"z", BLAZEDB_TYPE_STRING}, {"y", BLAZEDB_TYPE_BYTES}, {"u", BLAZEDB_TYPE_UUID},
        {"v", BLAZEDB_TYPE_VECTOR}, {"a", BLAZEDB_TYPE_ARRAY}, {"o", BLAZEDB_TYPE_OBJECT},
        {"missing", BLAZEDB_TYPE_MISSING}, {"a.9", BLAZEDB_TYPE_MISSING},
        {"a.1", BLAZEDB_TYPE_INT}, {"o.k", BLAZEDB_TYPE_INT}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (blazedb_doc_type(d, types[i].p) != types[i].t)
            fail_msg("type of %s: %d, want %d", types[i].p, blazedb_doc_type(d, types[i].p),
                     types[i].t);
    assert_int_equal(blazedb_doc_len(d, ""), 12);

    int b = 0;
    int64_t i64 = 0;
    double dbl = 1;
    const char *s;
    size_t n;
    const void *p;
    const float *fv;
    assert_int_equal(blazedb_doc_get_bool(d, "b", &b), BLAZEDB_OK);
    assert_int_equal(b, 1);
    assert_int_equal(blazedb_doc_get_int(d, "i", &i64), BLAZEDB_OK);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(blazedb_doc_get_double(d, "f", &dbl), BLAZEDB_OK);
    assert_true(dbl == 0 && signbit(dbl));
    assert_int_equal(blazedb_doc_get_double(d, "a.2", &dbl), BLAZEDB_OK); /* int accepted */
    assert_true(dbl == 3.0);
    assert_int_equal(blazedb_doc_get_date(d, "t", &i64), BLAZEDB_OK);
    assert_true(i64 == 1704164645678);
    assert_int_equal(blazedb_doc_get_string(d, "s", &s, &n), BLAZEDB_OK);
    assert_int_equal(n, 6);
    assert_string_equal(s, "h\xc3\xa9llo");
    assert_int_equal(blazedb_doc_get_string(d, "z", &s, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_string(d, "z", &s, &n), BLAZEDB_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_int_equal(blazedb_doc_get_bytes(d, "y", &p, &n), BLAZEDB_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x00\xff\x10", 3);
    assert_int_equal(blazedb_doc_get_uuid(d, "u", u2), BLAZEDB_OK);
    assert_memory_equal(u, u2, 16);
    assert_int_equal(blazedb_doc_get_vector(d, "v", &fv, &n), BLAZEDB_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(fv, vec, sizeof vec);
    assert_int_equal(blazedb_doc_len(d, "v"), 3);
    assert_int_equal(blazedb_doc_len(d, "a"), 3);
    assert_int_equal(blazedb_doc_len(d, "o"), 1);
    assert_int_equal(blazedb_doc_len(d, "i"), 0);
    assert_int_equal(blazedb_doc_len(d, "nope"), 0);

    /* field names in sorted order */
    const char *want[] = {"a", "b", "f", "i", "n", "o", "s", "t", "u", "v", "y", "z"};
    for (size_t k = 0; k < 12; k++)
        assert_string_equal(blazedb_doc_field_name(d, "", k), want[k]);
    assert_null(blazedb_doc_field_name(d, "", 12));
    assert_null(blazedb_doc_field_name(d, "a", 0));
    assert_string_equal(blazedb_doc_field_name(d, "o", 0), "k");

    /* the whole thing as JSON */
    char *j = to_json(d);
    assert_string_equal(j,
        "{\"a\":[1,2,3],\"b\":true,\"f\":-0.0,\"i\":-9223372036854775808,\"n\":null,"
        "\"o\":{\"k\":1},\"s\":\"h\xc3\xa9llo\",\"t\":{\"$date\":\"2024-01-02T03:04:05.678Z\"},"
        "\"u\":{\"$uuid\":\"00112233-4455-6677-8899-aabbccddeeff\"},"
        "\"v\":{\"$vector\":[1.5,-0.0,3e-40]},\"y\":{\"$bytes\":\"AP8Q\"},"
        "\"z\":\"a\\u0000b\"}");
    BlazeDBDoc *back = from_json(j);
    char *j2 = to_json(back);
    assert_string_equal(j, j2);
    blazedb_free(j2);
    blazedb_doc_free(back);
    blazedb_free(j);

    /* a subtree as JSON, compact and pretty */
    assert_int_equal(blazedb_doc_get_json(d, "o", 0, &j, &n), BLAZEDB_OK);
    assert_string_equal(j, "{\"k\":1}");
    blazedb_free(j);
    assert_int_equal(blazedb_doc_get_json(d, "o", BLAZEDB_JSON_PRETTY, &j, NULL), BLAZEDB_OK);
    assert_string_equal(j, "{\n  \"k\": 1\n}");
    blazedb_free(j);
    assert_int_equal(blazedb_doc_get_json(d, "a.0", 0, &j, &n), BLAZEDB_OK);
    assert_string_equal(j, "1");
    blazedb_free(j);
    expect_rc(blazedb_doc_get_json(d, "q", 0, &j, &n), BLAZEDB_NOT_FOUND, "q");
    assert_null(j);

    /* clone is deep */
    BlazeDBDoc *c = NULL;
    assert_int_equal(blazedb_doc_clone(d, &c), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_int(c, "o.k", 2), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_int(d, "o.k", &i64), BLAZEDB_OK);
    assert_true(i64 == 1);
    blazedb_doc_free(c);

    /* replacing changes the type */
    assert_int_equal(blazedb_doc_set_string(d, "i", "x"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_type(d, "i"), BLAZEDB_TYPE_STRING);
    /* unset */
    assert_int_equal(blazedb_doc_unset(d, "i"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_unset(d, "i"), BLAZEDB_OK);           /* absent: OK */
    assert_int_equal(blazedb_doc_unset(d, "zz.yy.xx"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_type(d, "i"), BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_doc_len(d, ""), 11);
    blazedb_doc_free(d);
    blazedb_doc_free(NULL);
}

static void test_errors(void **state)
{
    (void)state;
    BlazeDBDoc *d = from_json("{\"s\":\"x\",\"a\":[1],\"o\":{}}");
    int b;
    int64_t i;
    double x;
    const char *s;
    size_t n;
    const void *p;
    const float *f;
    uint8_t u[16] = {0};
    float bad[2] = {1.0f, NAN};

    /* NULLs */
    expect_rc(blazedb_doc_new(NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_clone(NULL, (BlazeDBDoc **)&p), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_clone(d, NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_from_json(NULL, 0, (BlazeDBDoc **)&p), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_from_json("{}", 2, NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_to_json(NULL, 0, (char **)&s, &n), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_to_json(d, 0, NULL, &n), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_encode(NULL, (void **)&p, &n), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_encode(d, NULL, &n), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_decode(NULL, 3, (BlazeDBDoc **)&p), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_decode("x", 1, NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_get_int(NULL, "s", &i), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_get_int(d, NULL, &i), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_get_int(d, "s", NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_int(NULL, "s", 1), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_int(d, NULL, 1), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_string(d, "s", NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_stringn(d, "s", NULL, 2), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_bytes(d, "s", NULL, 2), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_uuid(d, "s", NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_vector(d, "s", NULL, 2), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_json(d, "s", NULL, 2), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_unset(NULL, "s"), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_unset(d, NULL), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_array_append_json(NULL, "a", "1", strlen("1")), BLAZEDB_INVALID_ARGUMENT, NULL);
    assert_int_equal(blazedb_doc_type(NULL, ""), BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_doc_type(d, NULL), BLAZEDB_TYPE_MISSING);
    assert_int_equal(blazedb_doc_len(NULL, ""), 0);
    assert_null(blazedb_doc_field_name(NULL, "", 0));

    /* NOT_FOUND and type mismatches, for every getter */
    expect_rc(blazedb_doc_get_bool(d, "q", &b), BLAZEDB_NOT_FOUND, "'q'");
    expect_rc(blazedb_doc_get_bool(d, "s", &b), BLAZEDB_INVALID_ARGUMENT, "string, not bool");
    expect_rc(blazedb_doc_get_int(d, "q", &i), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_int(d, "s", &i), BLAZEDB_INVALID_ARGUMENT, "not int");
    expect_rc(blazedb_doc_get_double(d, "q", &x), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_double(d, "s", &x), BLAZEDB_INVALID_ARGUMENT, "not double");
    expect_rc(blazedb_doc_get_date(d, "q", &i), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_date(d, "s", &i), BLAZEDB_INVALID_ARGUMENT, "not date");
    expect_rc(blazedb_doc_get_string(d, "q", &s, &n), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_string(d, "a", &s, &n), BLAZEDB_INVALID_ARGUMENT, "array");
    expect_rc(blazedb_doc_get_bytes(d, "q", &p, &n), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_bytes(d, "s", &p, &n), BLAZEDB_INVALID_ARGUMENT, "not bytes");
    expect_rc(blazedb_doc_get_uuid(d, "q", u), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_uuid(d, "s", u), BLAZEDB_INVALID_ARGUMENT, "not uuid");
    expect_rc(blazedb_doc_get_vector(d, "q", &f, &n), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_vector(d, "s", &f, &n), BLAZEDB_INVALID_ARGUMENT, "not vector");
    expect_rc(blazedb_doc_get_int(d, "a..0", &i), BLAZEDB_NOT_FOUND, NULL);
    expect_rc(blazedb_doc_get_int(d, "a.01", &i), BLAZEDB_NOT_FOUND, NULL); /* leading 0 */

    /* setter errors leave the document unchanged */
    char *before = to_json(d);
    expect_rc(blazedb_doc_set_string(d, "x", "\xff"), BLAZEDB_INVALID_ARGUMENT, "UTF-8");
    expect_rc(blazedb_doc_set_string(d, "x", "\xed\xa0\x80"), BLAZEDB_INVALID_ARGUMENT, "UTF-8");
    expect_rc(blazedb_doc_set_vector(d, "x", bad, 2), BLAZEDB_INVALID_ARGUMENT, "element 1");
    expect_rc(blazedb_doc_set_int(d, "s.x", 1), BLAZEDB_INVALID_ARGUMENT, "not an object or array");
    expect_rc(blazedb_doc_set_int(d, "a.5", 1), BLAZEDB_INVALID_ARGUMENT, "not an index");
    expect_rc(blazedb_doc_set_int(d, "a.x", 1), BLAZEDB_INVALID_ARGUMENT, "not an index");
    expect_rc(blazedb_doc_set_int(d, "a.1.x", 1), BLAZEDB_INVALID_ARGUMENT, "not an index");
    expect_rc(blazedb_doc_set_int(d, "new.a..b", 1), BLAZEDB_INVALID_ARGUMENT, "empty segment");
    expect_rc(blazedb_doc_set_int(d, "new.", 1), BLAZEDB_INVALID_ARGUMENT, "empty segment");
    expect_rc(blazedb_doc_set_int(d, ".new", 1), BLAZEDB_INVALID_ARGUMENT, "empty segment");
    expect_rc(blazedb_doc_set_int(d, "new.\xff", 1), BLAZEDB_INVALID_ARGUMENT, "field name");
    expect_rc(blazedb_doc_set_int(d, "", 1), BLAZEDB_INVALID_ARGUMENT, "only an object");
    expect_rc(blazedb_doc_set_json(d, "", "[]", strlen("[]")), BLAZEDB_INVALID_ARGUMENT, "only an object");
    expect_rc(blazedb_doc_set_json(d, "x", "[1,", strlen("[1,")), BLAZEDB_INVALID_ARGUMENT, "byte 3");
    expect_rc(blazedb_doc_unset(d, ""), BLAZEDB_INVALID_ARGUMENT, "root");
    expect_rc(blazedb_doc_unset(d, "a..b"), BLAZEDB_INVALID_ARGUMENT, "empty segment");
    expect_rc(blazedb_doc_array_append_json(d, "s", "1", strlen("1")), BLAZEDB_INVALID_ARGUMENT, "not an array");
    expect_rc(blazedb_doc_array_append_json(d, "a", "nul", strlen("nul")), BLAZEDB_INVALID_ARGUMENT, "byte 0");
    char *after = to_json(d);
    assert_string_equal(before, after);
    blazedb_free(before);
    blazedb_free(after);

    /* top level of from_json / decode must be an object */
    json_fails("[1]", 3, BLAZEDB_INVALID_ARGUMENT, "object");
    json_fails("3", 1, BLAZEDB_INVALID_ARGUMENT, "object");
    uint8_t one[2] = {DOC_BOOL, 1};
    BlazeDBDoc *o = (BlazeDBDoc *)1;
    expect_rc(blazedb_doc_decode(one, 2, &o), BLAZEDB_CORRUPT, "not an object");
    assert_null(o);
    blazedb_doc_free(d);
}

static void test_paths_and_arrays(void **state)
{
    (void)state;
    BlazeDBDoc *d = NULL;
    int64_t i;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    /* intermediate objects are created */
    assert_int_equal(blazedb_doc_set_int(d, "a.b.c", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_type(d, "a"), BLAZEDB_TYPE_OBJECT);
    assert_int_equal(blazedb_doc_type(d, "a.b"), BLAZEDB_TYPE_OBJECT);
    /* numeric segments name fields of objects */
    assert_int_equal(blazedb_doc_set_int(d, "a.7", 7), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_int(d, "a.7", &i), BLAZEDB_OK);
    assert_true(i == 7);
    /* arrays: index, append at length, nested */
    assert_int_equal(blazedb_doc_set_json(d, "tags", "[\"x\",\"y\",{\"z\":[10,20]}]", strlen("[\"x\",\"y\",{\"z\":[10,20]}]")),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_int(d, "tags.2.z.1", &i), BLAZEDB_OK);
    assert_true(i == 20);
    assert_int_equal(blazedb_doc_set_int(d, "tags.3", 4), BLAZEDB_OK);     /* append */
    assert_int_equal(blazedb_doc_len(d, "tags"), 4);
    assert_int_equal(blazedb_doc_set_int(d, "tags.0", 0), BLAZEDB_OK);     /* replace */
    assert_int_equal(blazedb_doc_set_int(d, "tags.2.z.0", 11), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_array_append_json(d, "tags", "true", strlen("true")), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_array_append_json(d, "new.list", "[1]", strlen("[1]")), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_array_append_json(d, "new.list", "{\"$date\":0}", strlen("{\"$date\":0}")), BLAZEDB_OK);
    char *j = to_json(d);
    assert_string_equal(j, "{\"a\":{\"7\":7,\"b\":{\"c\":1}},\"new\":{\"list\":[[1],"
                           "{\"$date\":\"1970-01-01T00:00:00.000Z\"}]},"
                           "\"tags\":[0,\"y\",{\"z\":[11,20]},4,true]}");
    blazedb_free(j);
    /* unset shifts array elements */
    assert_int_equal(blazedb_doc_unset(d, "tags.1"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_unset(d, "tags.9"), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_unset(d, "a.b.c"), BLAZEDB_OK);
    j = to_json(d);
    assert_string_equal(j, "{\"a\":{\"7\":7,\"b\":{}},\"new\":{\"list\":[[1],"
                           "{\"$date\":\"1970-01-01T00:00:00.000Z\"}]},"
                           "\"tags\":[0,{\"z\":[11,20]},4,true]}");
    blazedb_free(j);
    /* "" replaces the whole document */
    assert_int_equal(blazedb_doc_set_json(d, "", "{\"k\":1}", strlen("{\"k\":1}")), BLAZEDB_OK);
    j = to_json(d);
    assert_string_equal(j, "{\"k\":1}");
    blazedb_free(j);
    /* a field whose name holds '.' is reachable by iteration only */
    assert_int_equal(blazedb_doc_set_json(d, "", "{\"a.b\":1,\"\":2}", strlen("{\"a.b\":1,\"\":2}")), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_type(d, "a.b"), BLAZEDB_TYPE_MISSING);
    assert_string_equal(blazedb_doc_field_name(d, "", 0), "");
    assert_string_equal(blazedb_doc_field_name(d, "", 1), "a.b");
    blazedb_doc_free(d);
}

/* ---- JSON mapping ------------------------------------------------------------ */

static void test_json_mapping(void **state)
{
    (void)state;
    /* numbers */
    json_is("{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":9223372036854775808}",
            "{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":9.223372036854776e+18}");
    json_is("{\"a\":1.0,\"b\":1e2,\"c\":-0,\"d\":-0.0,\"e\":0.1,\"f\":1e308,\"g\":5e-324,"
            "\"h\":1E-400,\"i\":123456789012345678901234567890}",
            "{\"a\":1.0,\"b\":100.0,\"c\":0,\"d\":-0.0,\"e\":0.1,\"f\":1e+308,"
            "\"g\":4.94065645841247e-324,\"h\":0.0,\"i\":1.2345678901234568e+29}");
    /* tagged forms */
    json_is("{\"x\":{\"$double\":\"NaN\"},\"y\":{\"$double\":\"-Infinity\"},\"z\":{\"$double\":\"Infinity\"}}",
            "{\"x\":{\"$double\":\"NaN\"},\"y\":{\"$double\":\"-Infinity\"},\"z\":{\"$double\":\"Infinity\"}}");
    json_is("{\"d\":{\"$date\":\"2024-02-29T23:59:59Z\"},\"e\":{\"$date\":\"1969-12-31T23:59:59.9Z\"},"
            "\"f\":{\"$date\":-1},\"g\":{\"$date\":-9223372036854775808}}",
            "{\"d\":{\"$date\":\"2024-02-29T23:59:59.000Z\"},\"e\":{\"$date\":\"1969-12-31T23:59:59.900Z\"},"
            "\"f\":{\"$date\":\"1969-12-31T23:59:59.999Z\"},\"g\":{\"$date\":-9223372036854775808}}");
    json_is("{\"u\":{\"$uuid\":\"0123ABCD-4567-89ab-cdef-0123456789AB\"}}",
            "{\"u\":{\"$uuid\":\"0123abcd-4567-89ab-cdef-0123456789ab\"}}");
    json_is("{\"b\":{\"$bytes\":\"\"},\"c\":{\"$bytes\":\"YQ==\"},\"d\":{\"$bytes\":\"YWI=\"}}",
            "{\"b\":{\"$bytes\":\"\"},\"c\":{\"$bytes\":\"YQ==\"},\"d\":{\"$bytes\":\"YWI=\"}}");
    json_is("{\"v\":{\"$vector\":[]},\"w\":{\"$vector\":[1,0.1,-2e-45,3.4028234663852886e38]}}",
            "{\"v\":{\"$vector\":[]},\"w\":{\"$vector\":[1.0,0.1,-1.4013e-45,3.4028235e+38]}}");
    /* the escape: an object whose only key starts with '$' */
    json_is("{\"o\":{\"$object\":{\"$date\":5}}}", "{\"o\":{\"$object\":{\"$date\":5}}}");
    json_is("{\"o\":{\"$object\":{\"$object\":{\"$date\":5}}}}",
            "{\"o\":{\"$object\":{\"$object\":{\"$date\":\"1970-01-01T00:00:00.005Z\"}}}}");
    json_is("{\"o\":{\"$object\":{\"$date\":5},\"b\":1}}",
            "{\"o\":{\"$object\":{\"$date\":\"1970-01-01T00:00:00.005Z\"},\"b\":1}}");
    json_is("{\"o\":{\"$object\":{}}}", "{\"o\":{}}");
    json_is("{\"o\":{\"$a\":1,\"$b\":2}}", "{\"o\":{\"$a\":1,\"$b\":2}}");
    json_is("{\"$object\":{\"$date\":1}}", "{\"$object\":{\"$date\":1}}"); /* the document too */
    json_fails("{\"$date\":1}", 11, BLAZEDB_INVALID_ARGUMENT, "not date");
    /* strings and escapes */
    json_is("{\"s\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\x7f\"}",
            "{\"s\":\"\xc3\xa9\xf0\x9f\x98\x80\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\x7f\"}");
    /* unknown tags and malformed tags are errors */
    json_fails("{\"a\":{\"$foo\":1}}", 16, BLAZEDB_INVALID_ARGUMENT, "unknown tag");
    json_fails("{\"a\":{\"$date\":\"2023-02-29T00:00:00Z\"}}", 37, BLAZEDB_INVALID_ARGUMENT, "$date");
    json_fails("{\"a\":{\"$date\":1.5}}", 19, BLAZEDB_INVALID_ARGUMENT, "$date");
    json_fails("{\"a\":{\"$uuid\":\"0123\"}}", 22, BLAZEDB_INVALID_ARGUMENT, "$uuid");
    json_fails("{\"a\":{\"$bytes\":\"YQ=\"}}", 22, BLAZEDB_INVALID_ARGUMENT, "$bytes");
    json_fails("{\"a\":{\"$bytes\":\"YR==\"}}", 23, BLAZEDB_INVALID_ARGUMENT, "$bytes");
    json_fails("{\"a\":{\"$double\":\"nan\"}}", 23, BLAZEDB_INVALID_ARGUMENT, "$double");
    json_fails("{\"a\":{\"$vector\":[1e39]}}", 23, BLAZEDB_INVALID_ARGUMENT, "float32");
    json_fails("{\"a\":{\"$vector\":[\"x\"]}}", 22, BLAZEDB_INVALID_ARGUMENT, "float32");
    json_fails("{\"a\":{\"$object\":1}}", 19, BLAZEDB_INVALID_ARGUMENT, "$object");
}

static void test_json_errors(void **state)
{
    (void)state;
    static const struct { const char *in; const char *frag; } bad[] = {
        {"", "byte 0"},
        {"   ", "byte 3"},
        {"{", "byte 1"},
        {"{\"a\"}", "byte 4"},
        {"{\"a\":}", "byte 5"},
        {"{\"a\":1,}", "byte 7"},
        {"{\"a\":1 \"b\":2}", "byte 7"},
        {"{\"a\":[1,]}", "byte 8"},
        {"{\"a\":01}", "byte 6"},
        {"{\"a\":1.}", "byte 7"},
        {"{\"a\":1e}", "byte 7"},
        {"{\"a\":-}", "byte 5"},
        {"{\"a\":+1}", "byte 5"},
        {"{\"a\":1e400}", "byte 5"},
        {"{\"a\":tru}", "byte 5"},
        {"{\"a\":\"x}", "byte 5"},
        {"{\"a\":\"\\x\"}", "byte 6"},
        {"{\"a\":\"\\u12\"}", "byte 6"},
        {"{\"a\":\"\\udc00\"}", "byte 6"},
        {"{\"a\":\"\\ud800x\"}", "byte 6"},
        {"{\"a\":\"\t\"}", "byte 6"},
        {"{\"a\":1}x", "byte 7"},
        {"{\"a\":1}{}", "byte 7"},
        {"{'a':1}", "byte 1"},
        {"{\"a\":NaN}", "byte 5"},
        {"{\"a\":1,\"a\":2}", "duplicate"},
        {"{\"b\":1,\"a\":2,\"b\":3}", "duplicate"},
        {"{\"a\\u0000\":1}", "NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_fails(bad[i].in, strlen(bad[i].in), BLAZEDB_INVALID_ARGUMENT, bad[i].frag);
        same_as_tree_s(bad[i].in);
    }
    /* not UTF-8: in a string, in a name, outside strings; overlong; surrogate */
    json_fails("{\"a\":\"\xff\"}", 9, BLAZEDB_INVALID_ARGUMENT, "byte 6: invalid UTF-8");
    json_fails("{\"\xc3\":1}", 7, BLAZEDB_INVALID_ARGUMENT, "byte 2");
    json_fails("{\"a\":\xc3\xa9}", 8, BLAZEDB_INVALID_ARGUMENT, "byte 5");
    json_fails("{\"a\":\"\xc0\xaf\"}", 10, BLAZEDB_INVALID_ARGUMENT, "byte 6: invalid UTF-8");
    json_fails("{\"a\":\"\xed\xa0\x80\"}", 11, BLAZEDB_INVALID_ARGUMENT, "byte 6: invalid UTF-8");
    /* embedded NUL outside strings; length bounds respected (no NUL needed) */
    json_fails("{\"a\":1\0}", 8, BLAZEDB_INVALID_ARGUMENT, "byte 6");
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_from_json("{\"a\":12}garbage", 8, &d), BLAZEDB_OK);
    int64_t i;
    assert_int_equal(blazedb_doc_get_int(d, "a", &i), BLAZEDB_OK);
    assert_true(i == 12);
    blazedb_doc_free(d);
    /* too big: refused before reading */
    json_fails("{}", (size_t)BLAZEDB_MAX_VALUE + 1, BLAZEDB_TOO_BIG, NULL);
}

/* ---- depth limits -------------------------------------------------------------- */

static char *nested_json(int depth)
{
    char *s = malloc((size_t)depth * 6 + 16);
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        memcpy(s + n, "{\"a\":", 5);
        n += 5;
    }
    s[n++] = '1';
    for (int i = 0; i < depth; i++)
        s[n++] = '}';
    s[n] = 0;
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    BlazeDBDoc *d = NULL;
    /* 64 nested objects are fine, 65 are not */
    char *ok = nested_json(64), *deep = nested_json(65);
    assert_int_equal(blazedb_doc_from_json(ok, strlen(ok), &d), BLAZEDB_OK);
    void *bin;
    size_t n;
    assert_int_equal(blazedb_doc_encode(d, &bin, &n), BLAZEDB_OK);
    BlazeDBDoc *d2 = NULL;
    assert_int_equal(blazedb_doc_decode(bin, n, &d2), BLAZEDB_OK);
    blazedb_doc_free(d2);
    blazedb_free(bin);
    json_fails(deep, strlen(deep), BLAZEDB_INVALID_ARGUMENT, "deeper than 64");
    /* setters: 64 segments reach level 64 inside the document (which is
     * level 1): a scalar there is fine, a container would be level 65 */
    char path[256] = "";
    for (int k = 0; k < 64; k++)
        strcat(path, k ? ".a" : "a");
    BlazeDBDoc *e = NULL;
    assert_int_equal(blazedb_doc_new(&e), BLAZEDB_OK);
    expect_rc(blazedb_doc_set_json(e, path, "{}", 2), BLAZEDB_INVALID_ARGUMENT, "deeper than 64");
    expect_rc(blazedb_doc_set_json(e, path, "[]", 2), BLAZEDB_INVALID_ARGUMENT, "deeper than 64");
    assert_int_equal(blazedb_doc_len(e, ""), 0); /* nothing was created */
    assert_int_equal(blazedb_doc_set_int(e, path, 1), BLAZEDB_OK);
    path[strlen(path) - 2] = 0; /* 63 segments: an empty array is level 64 */
    expect_rc(blazedb_doc_set_json(e, path, "[[]]", 4), BLAZEDB_INVALID_ARGUMENT, "deeper than 64");
    assert_int_equal(blazedb_doc_set_json(e, path, "[]", 2), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_array_append_json(e, path, "1", 1), BLAZEDB_OK);
    expect_rc(blazedb_doc_array_append_json(e, path, "[]", 2), BLAZEDB_INVALID_ARGUMENT,
              "deeper than 64");
    strcat(path, ".b.c");
    expect_rc(blazedb_doc_set_int(e, path, 1), BLAZEDB_INVALID_ARGUMENT, NULL);
    expect_rc(blazedb_doc_set_json(e, "x", deep, strlen(deep)), BLAZEDB_INVALID_ARGUMENT, NULL);
    blazedb_doc_free(e);
    /* an encoding 65 levels deep: one array around a valid 64-level one */
    DocValue *chain = doc_new(DOC_ARRAY), *cur = chain;
    for (int k = 1; k < 64; k++) {
        DocValue *c = doc_new(DOC_ARRAY);
        assert_int_equal(doc_arr_push(cur, c), BLAZEDB_OK);
        cur = c;
    }
    char err[DOC_ERRMAX];
    uint8_t *inner;
    size_t ilen;
    assert_int_equal(docbin_encode(chain, &inner, &ilen, err), BLAZEDB_OK);
    doc_free(chain);
    DocValue *v = NULL;
    assert_int_equal(docbin_decode(inner, ilen, &v, err), BLAZEDB_OK); /* 64: fine */
    assert_int_equal(doc_depth(v), 64);
    doc_free(v);
    uint8_t *buf = malloc(ilen + 8);
    size_t len = 0;
    unsigned w = ilen <= 255 ? 1 : 2;
    buf[len++] = DOC_ARRAY;
    buf[len++] = (uint8_t)w;
    buf[len++] = 1;
    if (w == 2)
        buf[len++] = 0;
    buf[len++] = (uint8_t)ilen;
    if (w == 2)
        buf[len++] = (uint8_t)(ilen >> 8);
    memcpy(buf + len, inner, ilen);
    len += ilen;
    assert_int_equal(docbin_decode(buf, len, &v, err), BLAZEDB_CORRUPT);
    if (!strstr(err, "deeper than 64"))
        fail_msg("65 levels: %s", err);
    free(buf);
    free(inner);
    /* the encoder refuses too-deep trees built by hand */
    DocValue *root = doc_new(DOC_ARRAY);
    cur = root;
    for (int k = 0; k < 64; k++) {
        DocValue *c = doc_new(DOC_ARRAY);
        doc_arr_push(cur, c);
        cur = c;
    }
    uint8_t *out;
    assert_int_equal(docbin_encode(root, &out, &n, err), BLAZEDB_INVALID_ARGUMENT);
    doc_free(root);
    blazedb_doc_free(d);
    free(ok);
    free(deep);
}

static void test_size_limit(void **state)
{
    (void)state;
    char err[DOC_ERRMAX];
    DocValue *v;
    uint8_t b[2] = {DOC_NULL, 0};
    /* refused before any byte is read */
    assert_int_equal(docbin_decode(b, (size_t)BLAZEDB_MAX_VALUE + 1, &v, err), BLAZEDB_TOO_BIG);
    BlazeDBDoc *d = NULL;
    expect_rc(blazedb_doc_decode(b, (size_t)BLAZEDB_MAX_VALUE + 1, &d), BLAZEDB_TOO_BIG, NULL);
    /* the encoder counts before allocating: a fake 2^30-byte string inside an
     * object (the string's memory is never read) */
    DocValue *o = doc_new(DOC_OBJECT), *s = doc_new(DOC_STRING);
    s->u.s.p = (char *)"x";
    s->u.s.len = BLAZEDB_MAX_VALUE;
    assert_int_equal(doc_obj_put(o, "s", 1, s), BLAZEDB_OK);
    uint8_t *out;
    size_t n;
    assert_int_equal(docbin_encode(o, &out, &n, err), BLAZEDB_TOO_BIG);
    s->u.s.p = NULL;
    s->u.s.len = 0;
    doc_free(o);
    /* counts that do not fit the bytes left are refused before allocating */
    uint8_t arr[] = {DOC_ARRAY, 4, 0xff, 0xff, 0xff, 0x3f, 1};
    assert_int_equal(docbin_decode(arr, sizeof arr, &v, err), BLAZEDB_CORRUPT);
    uint8_t obj[] = {DOC_OBJECT, 4, 0xff, 0xff, 0xff, 0x3f, 1};
    assert_int_equal(docbin_decode(obj, sizeof obj, &v, err), BLAZEDB_CORRUPT);
}

/* ---- binary encoding ------------------------------------------------------------ */

static void test_canonical_and_format(void **state)
{
    (void)state;
    /* insertion order does not matter */
    BlazeDBDoc *a = NULL, *b = NULL;
    assert_int_equal(blazedb_doc_new(&a), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_new(&b), BLAZEDB_OK);
    const char *names[] = {"zeta", "a", "ab", "b", "\xc3\xa9", "A", "0"};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(blazedb_doc_set_int(a, names[i], i), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_set_int(b, names[6 - i], 6 - i), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_doc_set_double(a, "nan", NAN), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_double(b, "nan", -NAN), BLAZEDB_OK);
    void *ea, *eb;
    size_t na, nb;
    assert_int_equal(blazedb_doc_encode(a, &ea, &na), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_encode(b, &eb, &nb), BLAZEDB_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(ea, eb, na);
    blazedb_free(ea);
    blazedb_free(eb);
    blazedb_doc_free(a);
    blazedb_doc_free(b);

    /* exact bytes of a small document (docs/DOCUMENTS.md shows the same) */
    BlazeDBDoc *d = from_json("{\"a\":1,\"bc\":[true,null],\"d\":\"hi\"}");
    void *e;
    size_t n;
    assert_int_equal(blazedb_doc_encode(d, &e, &n), BLAZEDB_OK);
    static const uint8_t want[] = {
        0x0a, 0x01, 0x03,                    /* object, width 1, 3 fields */
        0x01, 0x03, 0x05, 0x0d, 0x0e, 0x11,  /* (name end, value end) x 3 */
        'a', 0x03, 0x01,                     /* "a": int 1 */
        'b', 'c', 0x09, 0x01, 0x02, 0x02, 0x03, 0x02, 0x01, 0x01,
                                             /* "bc": array w1 n2 ends 2,3: true, null */
        'd', 0x05, 'h', 'i'};                /* "d": string "hi" */
    assert_int_equal(n, sizeof want);
    assert_memory_equal(e, want, sizeof want);
    blazedb_free(e);
    blazedb_doc_free(d);

    /* non-canonical encodings are refused */
    char err[DOC_ERRMAX];
    DocValue *v;
    static const struct { uint8_t b[16]; size_t n; const char *frag; } bad[] = {
        {{0x03, 0x05, 0x00}, 3, "not minimal"},                 /* int 5 in 2 bytes */
        {{0x03, 0x00, 0x00, 0x00}, 4, "does not fit"},          /* 3-byte int */
        {{0x02, 0x02}, 2, "does not fit"},                      /* bool 2 */
        {{0x04, 1, 0, 0, 0, 0, 0, 0xf8, 0x7f}, 9, "NaN"},      /* NaN with payload */
        {{0x04, 0, 0, 0, 0, 0, 0, 0xf8, 0xff}, 9, "NaN"},      /* negative NaN */
        {{0x09, 0x02, 0x00, 0x00}, 4, "not minimal"},           /* [] with width 2 */
        {{0x0a, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 'b', 0x01, 'a', 0x01}, 11, "sorted"},
        {{0x0a, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 'a', 0x01, 'a', 0x01}, 11, "sorted"},
        {{0x0a, 0x01, 0x01, 0x01, 0x02, 0xff, 0x01}, 7, "UTF-8"},
        {{0x0a, 0x01, 0x01, 0x01, 0x02, 0x00, 0x01}, 7, "NUL"},
        {{0x05, 0xc0, 0x80}, 3, "UTF-8"},
        {{0x0b, 0, 0, 0x80, 0x7f}, 5, "finite"},
        {{0x0b, 0, 0, 0x80}, 4, "does not fit"},
        {{0x07, 1, 2}, 3, "does not fit"},
        {{0x0c}, 1, "unknown"},
        {{0x00}, 1, "unknown"},
        {{0x09, 0x01, 0x01, 0x01, 0x01, 0x01}, 6, "bytes after"},
        {{0x09, 0x01, 0x02, 0x00, 0x01, 0x01}, 6, "out of order"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        BlazeDBResult rc = docbin_decode(bad[i].b, bad[i].n, &v, err);
        if (rc != BLAZEDB_CORRUPT || !strstr(err, bad[i].frag))
            fail_msg("bad[%zu]: rc %d, '%s' (want '%s')", i, rc, err, bad[i].frag);
        assert_null(v);
        assert_int_equal(docbin_validate(bad[i].b, bad[i].n, err), BLAZEDB_CORRUPT);
    }
    assert_int_equal(docbin_decode((const uint8_t *)"", 0, &v, err), BLAZEDB_CORRUPT);
}

static void test_lookup_without_decode(void **state)
{
    (void)state;
    BlazeDBDoc *d = from_json(
        "{\"name\":\"ann\",\"age\":41,\"tags\":[\"x\",\"y\",{\"deep\":[1,2,3.5]}],"
        "\"addr\":{\"city\":\"Oslo\",\"zip\":\"0150\"},\"v\":{\"$vector\":[1,2]},"
        "\"when\":{\"$date\":86400000},\"big\":-300000,\"ok\":false}");
    uint8_t *e;
    size_t n;
    assert_int_equal(blazedb_doc_encode(d, (void **)&e, &n), BLAZEDB_OK);
    DocView v;
    assert_int_equal(docbin_lookup(e, n, "age", &v), BLAZEDB_OK);
    assert_int_equal(v.type, DOC_INT);
    assert_true(v.i == 41);
    assert_int_equal(docbin_lookup(e, n, "big", &v), BLAZEDB_OK);
    assert_true(v.i == -300000);
    assert_int_equal(docbin_lookup(e, n, "ok", &v), BLAZEDB_OK);
    assert_int_equal(v.type, DOC_BOOL);
    assert_int_equal(v.b, 0);
    assert_int_equal(docbin_lookup(e, n, "name", &v), BLAZEDB_OK);
    assert_int_equal(v.type, DOC_STRING);
    assert_int_equal(v.dlen, 3);
    assert_memory_equal(v.data, "ann", 3);
    assert_int_equal(docbin_lookup(e, n, "tags.2.deep.2", &v), BLAZEDB_OK);
    assert_int_equal(v.type, DOC_DOUBLE);
    assert_true(v.d == 3.5);
    assert_int_equal(docbin_lookup(e, n, "addr.zip", &v), BLAZEDB_OK);
    assert_memory_equal(v.data, "0150", 4);
    assert_int_equal(docbin_lookup(e, n, "when", &v), BLAZEDB_OK);
    assert_int_equal(v.type, DOC_DATE);
    assert_true(v.i == 86400000);
    assert_int_equal(docbin_lookup(e, n, "v", &v), BLAZEDB_OK);
    assert_int_equal(v.count, 2);
    assert_int_equal(docbin_lookup(e, n, "tags", &v), BLAZEDB_OK);
    assert_int_equal(v.count, 3);
    DocView el;
    assert_int_equal(docbin_view_elem(&v, 1, &el), BLAZEDB_OK);
    assert_memory_equal(el.data, "y", 1);
    assert_int_equal(docbin_view_elem(&v, 3, &el), BLAZEDB_NOT_FOUND);
    assert_int_equal(docbin_lookup(e, n, "addr", &v), BLAZEDB_OK);
    const uint8_t *nm;
    size_t nl;
    assert_int_equal(docbin_view_field(&v, 0, &nm, &nl, &el), BLAZEDB_OK);
    assert_int_equal(nl, 4);
    assert_memory_equal(nm, "city", 4);
    /* a subtree view is itself an encoded value */
    DocValue *sub;
    char err[DOC_ERRMAX];
    assert_int_equal(docbin_decode(v.p, v.len, &sub, err), BLAZEDB_OK);
    char *j;
    size_t jl;
    assert_int_equal(doc_to_json(sub, 0, &j, &jl, err), BLAZEDB_OK);
    assert_string_equal(j, "{\"city\":\"Oslo\",\"zip\":\"0150\"}");
    free(j);
    doc_free(sub);
    /* misses */
    const char *miss[] = {"nope", "tags.3", "tags.01", "tags.x", "age.x", "addr.city.x",
                          "a..b", "tags.", ".", "v.0"};
    for (size_t i = 0; i < sizeof miss / sizeof *miss; i++)
        if (docbin_lookup(e, n, miss[i], &v) != BLAZEDB_NOT_FOUND)
            fail_msg("lookup %s should miss", miss[i]);
    assert_int_equal(docbin_lookup(e, n, "", &v), BLAZEDB_OK);
    assert_int_equal(v.type, DOC_OBJECT);
    assert_int_equal(v.count, 8);
    blazedb_free(e);
    blazedb_doc_free(d);
}

static void test_dates(void **state)
{
    (void)state;
    char t[25];
    int64_t ms;
    static const struct { int64_t ms; const char *s; } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {951782400000, "2000-02-29T00:00:00.000Z"},
        {-62167219200000LL, "0000-01-01T00:00:00.000Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {1704164645678, "2024-01-02T03:04:05.678Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(doc_date_format(cases[i].ms, t), 1);
        assert_string_equal(t, cases[i].s);
        assert_int_equal(doc_date_parse(cases[i].s, 24, &ms), 1);
        assert_true(ms == cases[i].ms);
    }
    assert_int_equal(doc_date_format(-62167219200001LL, t), 0);
    assert_int_equal(doc_date_format(253402300800000LL, t), 0);
    const char *bad[] = {"2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2023-02-29T00:00:00Z",
                         "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z",
                         "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z",
                         "2024-01-01T00:00:00.1234Z", "+2024-01-01T00:00:00Z", "2024-1-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (doc_date_parse(bad[i], strlen(bad[i]), &ms))
            fail_msg("date %s accepted", bad[i]);
    /* random round trips over the whole ISO range */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int64_t m = -62167219200000LL + (int64_t)(x % 315569520000000ull);
        assert_int_equal(doc_date_format(m, t), 1);
        assert_int_equal(doc_date_parse(t, 24, &ms), 1);
        if (ms != m)
            fail_msg("date %" PRId64 " -> %s -> %" PRId64, m, t, ms);
    }
}

/* ---- property tests over random documents ------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 2685821657736338717ull;
}

static uint32_t rn(uint32_t n) { return (uint32_t)(rnd() % n); }

static uint64_t seed_from_env(void)
{
    const char *e = getenv("BLAZEDB_TEST_SEED");
    uint64_t seed = e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
    if (!seed)
        seed = 1;
    printf("test_doc: seed %" PRIu64 " (replay with BLAZEDB_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    fflush(stdout);
    return seed;
}

static double rdouble(void)
{
    static const double special[] = {
        0.0, -0.0, 1e308, -1e308, 5e-324, -5e-324, DBL_MIN, DBL_MAX, -DBL_MAX,
        2.2250738585072009e-308, 1e-310, 0.1, 1.0 / 3, 1.5, -2.5, 9007199254740993.0,
        1e16, 123456789.125, 1e21, 1e-7, 100.0, -1.0};
    uint64_t bits;
    double d;
    switch (rn(6)) {
    case 0: return special[rn(sizeof special / sizeof *special)];
    case 1: return rn(3) == 0 ? NAN : rn(2) ? INFINITY : -INFINITY;
    case 2: return (double)(int32_t)rnd() / 1000.0;
    case 3: return ldexp((double)(rnd() >> 11), (int)rn(2100) - 1100);
    default:
        bits = rnd();
        memcpy(&d, &bits, 8);
        return d;
    }
}

static float rfloat(void)
{
    for (;;) {
        uint32_t bits = (uint32_t)rnd();
        float f;
        switch (rn(4)) {
        case 0: f = (float)rdouble(); break;
        case 1: f = (float)rn(1000) - 500.0f; break;
        case 2: f = rn(2) ? -0.0f : 1e-45f; break;
        default: memcpy(&f, &bits, 4); break;
        }
        if (isfinite(f))
            return f;
    }
}

static int64_t rint64(void)
{
    static const int64_t special[] = {0, -1, 1, 127, 128, -128, -129, 32767, 32768, -32768,
                                      -32769, INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN,
                                      (int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN};
    switch (rn(3)) {
    case 0: return special[rn(sizeof special / sizeof *special)];
    case 1: return (int64_t)rn(2000) - 1000;
    default: return (int64_t)rnd();
    }
}

/* Appends one random code point as UTF-8. */
static size_t rchar(char *o, int allow_nul)
{
    uint32_t cp;
    switch (rn(10)) {
    case 0: cp = rn(0x20); if (!cp && !allow_nul) cp = '\n'; break;
    case 1: cp = "\"\\/$.{}[]"[rn(9)]; break;
    case 2: cp = 0x80 + rn(0x800 - 0x80); break;
    case 3: cp = 0x800 + rn(0xd800 - 0x800); break;
    case 4: cp = 0xe000 + rn(0x10000 - 0xe000); break;
    case 5: cp = 0x10000 + rn(0x110000 - 0x10000); break;
    default: cp = 0x20 + rn(0x5f); break;
    }
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)); return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static size_t rstring(char *o, size_t maxchars, int allow_nul)
{
    size_t n = 0, k = rn(8) == 0 ? rn((uint32_t)maxchars + 1) : rn(12);
    for (size_t i = 0; i < k; i++)
        n += rchar(o + n, allow_nul);
    return n;
}

static size_t rname(char *o)
{
    static const char *tags[] = {"$date", "$object", "$bytes", "$x", "$", "$vector", "$double"};
    if (rn(6) == 0) {
        strcpy(o, tags[rn(7)]);
        return strlen(o);
    }
    if (rn(5) == 0)
        return (size_t)sprintf(o, "%u", rn(20));
    return rstring(o, 20, 0);
}

static DocValue *gen(int depth, int maxdepth)
{
    char buf[400 * 4 + 8];
    uint8_t u[16];
    if (depth < maxdepth && rn(3) == 0) {
        if (rn(2)) {
            DocValue *a = doc_new(DOC_ARRAY);
            uint32_t n = rn(6);
            for (uint32_t i = 0; i < n; i++)
                assert_int_equal(doc_arr_push(a, gen(depth + 1, maxdepth)), BLAZEDB_OK);
            return a;
        }
        DocValue *o = doc_new(DOC_OBJECT);
        uint32_t n = rn(4) == 0 ? 1 : rn(7);
        for (uint32_t i = 0; i < n; i++) {
            size_t nl = rname(buf);
            assert_int_equal(doc_obj_put(o, buf, nl, gen(depth + 1, maxdepth)), BLAZEDB_OK);
        }
        return o;
    }
    switch (rn(11)) {
    case 0: return doc_new(DOC_NULL);
    case 1: return doc_new_bool((int)rn(2));
    case 2: return doc_new_int(rint64());
    case 3: return doc_new_double(rdouble());
    case 4: return doc_new_string(buf, rstring(buf, 400, 1));
    case 5: {
        size_t n = rn(40);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)rnd();
        return doc_new_bytes(buf, n);
    }
    case 6:
        for (int i = 0; i < 16; i++)
            u[i] = (uint8_t)rnd();
        return doc_new_uuid(u);
    case 7: return doc_new_date(rn(4) ? -62167219200000LL + (int64_t)(rnd() % 315569520000000ull)
                                      : rint64());
    case 8: {
        float f[16];
        size_t n = rn(17);
        for (size_t i = 0; i < n; i++)
            f[i] = rfloat();
        return doc_new_vector(f, n);
    }
    default: return doc_new_string(buf, rstring(buf, 30, 0));
    }
}

static DocValue *gen_doc(void)
{
    DocValue *root = doc_new(DOC_OBJECT);
    char name[128];
    uint32_t n = rn(12);
    int maxdepth = rn(20) == 0 ? 12 : 5;
    for (uint32_t i = 0; i < n; i++) {
        size_t nl = rname(name);
        assert_int_equal(doc_obj_put(root, name, nl, gen(2, maxdepth)), BLAZEDB_OK);
    }
    if (rn(100) == 0) { /* a chain to the depth limit */
        DocValue *cur = root;
        for (int d = 2; d <= DOC_MAX_DEPTH; d++) {
            DocValue *c = doc_new(rn(2) ? DOC_ARRAY : DOC_OBJECT);
            if (cur->type == DOC_ARRAY)
                assert_int_equal(doc_arr_push(cur, c), BLAZEDB_OK);
            else
                assert_int_equal(doc_obj_put(cur, "deep", 4, c), BLAZEDB_OK);
            cur = c;
        }
        assert_int_equal(doc_depth(root), DOC_MAX_DEPTH);
    }
    return root;
}

/* A random path to a value inside v (written into path), following only
 * names a path can express. */
static void rpath(const DocValue *v, char *path, size_t cap)
{
    size_t n = 0;
    path[0] = 0;
    while (rn(4) != 0) {
        char seg[300];
        size_t sl;
        if (v->type == DOC_ARRAY && v->u.a.n) {
            size_t i = rn((uint32_t)v->u.a.n + 1); /* sometimes one past the end */
            sl = (size_t)sprintf(seg, "%zu", i);
            v = i < v->u.a.n ? v->u.a.v[i] : NULL;
        } else if (v->type == DOC_OBJECT && v->u.o.n) {
            const DocField *f = &v->u.o.f[rn((uint32_t)v->u.o.n)];
            if (f->nlen == 0 || memchr(f->name, '.', f->nlen) || f->nlen >= sizeof seg)
                return;
            memcpy(seg, f->name, f->nlen);
            sl = f->nlen;
            v = f->val;
        } else {
            return;
        }
        if (n + sl + 2 >= cap)
            return;
        if (n)
            path[n++] = '.';
        memcpy(path + n, seg, sl);
        n += sl;
        path[n] = 0;
        if (!v)
            return;
    }
}

static void check_doc(const DocValue *root)
{
    char err[DOC_ERRMAX];
    uint8_t *e1, *e2;
    size_t n1, n2;
    DocValue *back;
    /* value -> binary -> value, and the binary form is stable */
    if (docbin_encode(root, &e1, &n1, err) != BLAZEDB_OK)
        fail_msg("encode: %s", err);
    if (docbin_decode(e1, n1, &back, err) != BLAZEDB_OK)
        fail_msg("decode: %s", err);
    assert_true(doc_equal(root, back));
    assert_int_equal(docbin_encode(back, &e2, &n2, err), BLAZEDB_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(e1, e2, n1);
    doc_free(back);
    free(e2);
    /* value -> JSON -> value, compact and pretty; JSON text -> doc -> same text */
    for (unsigned flags = 0; flags <= DOC_JSON_PRETTY; flags++) {
        char *t1, *t2;
        size_t l1, l2;
        assert_int_equal(doc_to_json(root, flags, &t1, &l1, err), BLAZEDB_OK);
        if (doc_from_json(t1, l1, &back, err) != BLAZEDB_OK)
            fail_msg("from_json: %s\n%s", err, t1);
        if (!doc_equal(root, back))
            fail_msg("JSON round trip differs:\n%s", t1);
        /* JSON -> binary directly gives the very bytes of the tree path */
        uint8_t *e3;
        size_t n3;
        if (doc_json_to_bin(t1, l1, &e3, &n3, err) != BLAZEDB_OK)
            fail_msg("json_to_bin: %s\n%s", err, t1);
        if (n3 != n1 || memcmp(e3, e1, n1) != 0)
            fail_msg("json_to_bin bytes differ from the encoder's:\n%s", t1);
        free(e3);
        assert_int_equal(doc_to_json(back, flags, &t2, &l2, err), BLAZEDB_OK);
        assert_int_equal(l1, l2);
        assert_memory_equal(t1, t2, l1);
        doc_free(back);
        free(t1);
        free(t2);
    }
    /* lookups on the bytes equal the decoded subtree */
    for (int k = 0; k < 6; k++) {
        char path[1024];
        rpath(root, path, sizeof path);
        const DocValue *want = doc_path_get(root, path);
        DocView view;
        BlazeDBResult rc = docbin_lookup(e1, n1, path, &view);
        if (!want) {
            if (rc != BLAZEDB_NOT_FOUND)
                fail_msg("lookup %s: rc %d, want NOT_FOUND", path, rc);
            continue;
        }
        if (rc != BLAZEDB_OK)
            fail_msg("lookup %s: rc %d", path, rc);
        assert_int_equal(view.type, want->type);
        assert_int_equal(docbin_decode(view.p, view.len, &back, err), BLAZEDB_OK);
        assert_true(doc_equal(back, want));
        doc_free(back);
    }
    free(e1);
}

static void test_property_roundtrips(void **state)
{
    (void)state;
    rng_state = seed_from_env();
    for (int i = 0; i < 4000; i++) {
        DocValue *d = gen_doc();
        check_doc(d);
        doc_free(d);
    }
}

/* Random damage to valid encodings and JSON texts: never a crash; whatever
 * decodes re-encodes to the very same bytes (the format is canonical). */
static void test_mutations(void **state)
{
    (void)state;
    rng_state = seed_from_env() ^ 0x9e3779b97f4a7c15ull;
    char err[DOC_ERRMAX];
    size_t accepted = 0;
    for (int i = 0; i < 1500; i++) {
        DocValue *d = gen_doc();
        uint8_t *e;
        size_t n;
        assert_int_equal(docbin_encode(d, &e, &n, err), BLAZEDB_OK);
        char *t;
        size_t tl;
        assert_int_equal(doc_to_json(d, rn(2), &t, &tl, err), BLAZEDB_OK);
        for (int m = 0; m < 8; m++) {
            size_t len = n + 8;
            uint8_t *b = malloc(len);
            memcpy(b, e, n);
            len = n;
            for (uint32_t k = rn(4) + 1; k > 0; k--) {
                size_t at = len ? rn((uint32_t)len) : 0;
                switch (rn(5)) {
                case 0: if (len) b[at] ^= (uint8_t)(1u << rn(8)); break;
                case 1: if (len) b[at] = (uint8_t)rnd(); break;
                case 2: if (len) len = at; break;                       /* truncate */
                case 3: if (len) { memmove(b + at, b + at + 1, len - at - 1); len--; } break;
                default:
                    if (len < n + 8) { memmove(b + at + 1, b + at, len - at); b[at] = (uint8_t)rnd(); len++; }
                }
            }
            DocValue *v;
            BlazeDBResult rc = docbin_decode(b, len, &v, err);
            assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_CORRUPT);
            assert_int_equal(docbin_validate(b, len, err), rc);
            if (rc == BLAZEDB_OK) {
                uint8_t *re;
                size_t rl;
                accepted++;
                assert_int_equal(docbin_encode(v, &re, &rl, err), BLAZEDB_OK);
                assert_int_equal(rl, len);
                assert_memory_equal(re, b, len);
                free(re);
                doc_free(v);
            }
            char path[1024];
            DocView view;
            rpath(d, path, sizeof path);
            rc = docbin_lookup(b, len, path, &view);
            assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_NOT_FOUND || rc == BLAZEDB_CORRUPT);
            free(b);

            /* the same for JSON text */
            char *j = malloc(tl + 8);
            size_t jl = tl;
            memcpy(j, t, tl);
            for (uint32_t k = rn(3) + 1; k > 0; k--) {
                size_t at = jl ? rn((uint32_t)jl) : 0;
                switch (rn(4)) {
                case 0: if (jl) j[at] = "{}[]\",:\\0e.-$ \x80\xff"[rn(17)]; break;
                case 1: if (jl) j[at] = (char)rnd(); break;
                case 2: if (jl) jl = at; break;
                default: if (jl) { memmove(j + at, j + at + 1, jl - at - 1); jl--; }
                }
            }
            same_as_tree(j, jl);
            rc = doc_from_json(j, jl, &v, err);
            assert_true(rc == BLAZEDB_OK || rc == BLAZEDB_INVALID_ARGUMENT);
            if (rc == BLAZEDB_OK) {
                char *t2;
                size_t l2;
                DocValue *v2;
                assert_int_equal(doc_to_json(v, 0, &t2, &l2, err), BLAZEDB_OK);
                assert_int_equal(doc_from_json(t2, l2, &v2, err), BLAZEDB_OK);
                assert_true(doc_equal(v, v2));
                doc_free(v2);
                doc_free(v);
                free(t2);
            } else {
                assert_non_null(strstr(err, "at byte"));
            }
            free(j);
        }
        free(t);
        free(e);
        doc_free(d);
    }
    printf("test_doc: %zu damaged encodings still decoded (and re-encoded identically)\n",
           accepted);
}

/* ---- documents backed by their binary form ---------------------------------------- */

/* Every getter at `path` answers the same on a (binary-backed) and b
 * (tree-backed): result code, message, value. */
static void same_at(const BlazeDBDoc *a, const BlazeDBDoc *b, const char *path)
{
    char msg[512];
    BlazeDBResult ra, rb;
#define SAME_RC()                                                                   \
    do {                                                                            \
        if (ra != rb)                                                               \
            fail_msg("path '%s': rc %d (binary) vs %d (tree)", path, ra, rb);       \
    } while (0)
#define SAME_MSG(call_a, call_b)                                                    \
    do {                                                                            \
        ra = (call_a);                                                              \
        snprintf(msg, sizeof msg, "%s", blazedb_errmsg(NULL));                      \
        rb = (call_b);                                                              \
        SAME_RC();                                                                  \
        if (ra != BLAZEDB_OK && strcmp(msg, blazedb_errmsg(NULL)) != 0)             \
            fail_msg("path '%s': '%s' vs '%s'", path, msg, blazedb_errmsg(NULL));   \
    } while (0)
    assert_int_equal(blazedb_doc_type(a, path), blazedb_doc_type(b, path));
    size_t n = blazedb_doc_len(a, path);
    assert_int_equal(n, blazedb_doc_len(b, path));
    for (size_t i = 0; i <= n && i < 40; i++) {
        const char *na = blazedb_doc_field_name(a, path, i), *nb = blazedb_doc_field_name(b, path, i);
        if (!na || !nb) {
            assert_true(!na && !nb);
            continue;
        }
        assert_string_equal(na, nb);
        assert_ptr_equal(na, blazedb_doc_field_name(a, path, i)); /* cached */
    }
    int ba = 0, bb = 0;
    SAME_MSG(blazedb_doc_get_bool(a, path, &ba), blazedb_doc_get_bool(b, path, &bb));
    if (ra == BLAZEDB_OK)
        assert_int_equal(ba, bb);
    int64_t ia = 0, ib = 0;
    SAME_MSG(blazedb_doc_get_int(a, path, &ia), blazedb_doc_get_int(b, path, &ib));
    if (ra == BLAZEDB_OK)
        assert_int_equal(ia, ib);
    SAME_MSG(blazedb_doc_get_date(a, path, &ia), blazedb_doc_get_date(b, path, &ib));
    if (ra == BLAZEDB_OK)
        assert_int_equal(ia, ib);
    double da = 0, db = 0;
    SAME_MSG(blazedb_doc_get_double(a, path, &da), blazedb_doc_get_double(b, path, &db));
    if (ra == BLAZEDB_OK)
        assert_memory_equal(&da, &db, sizeof da);
    const char *sa = NULL, *sb = NULL;
    size_t la = 0, lb = 0;
    SAME_MSG(blazedb_doc_get_string(a, path, &sa, &la), blazedb_doc_get_string(b, path, &sb, &lb));
    if (ra == BLAZEDB_OK) {
        assert_int_equal(la, lb);
        assert_memory_equal(sa, sb, la + 1); /* the NUL too */
        const char *again;
        assert_int_equal(blazedb_doc_get_string(a, path, &again, NULL), BLAZEDB_OK);
        assert_ptr_equal(again, sa);
    }
    const void *pa = NULL, *pb = NULL;
    SAME_MSG(blazedb_doc_get_bytes(a, path, &pa, &la), blazedb_doc_get_bytes(b, path, &pb, &lb));
    if (ra == BLAZEDB_OK) {
        assert_int_equal(la, lb);
        assert_non_null(pa);
        if (la)
            assert_memory_equal(pa, pb, la);
    }
    uint8_t ua[16], ub[16];
    SAME_MSG(blazedb_doc_get_uuid(a, path, ua), blazedb_doc_get_uuid(b, path, ub));
    if (ra == BLAZEDB_OK)
        assert_memory_equal(ua, ub, 16);
    const float *fa = NULL, *fb = NULL;
    SAME_MSG(blazedb_doc_get_vector(a, path, &fa, &la), blazedb_doc_get_vector(b, path, &fb, &lb));
    if (ra == BLAZEDB_OK) {
        assert_int_equal(la, lb);
        assert_non_null(fa);
        assert_true(((uintptr_t)fa & (sizeof(float) - 1)) == 0);
        if (la)
            assert_memory_equal(fa, fb, la * sizeof(float));
    }
    for (unsigned flags = 0; flags <= BLAZEDB_JSON_PRETTY; flags++) {
        char *ja = NULL, *jb = NULL;
        SAME_MSG(blazedb_doc_get_json(a, path, flags, &ja, &la),
                 blazedb_doc_get_json(b, path, flags, &jb, &lb));
        if (ra == BLAZEDB_OK) {
            assert_int_equal(la, lb);
            assert_memory_equal(ja, jb, la + 1);
        }
        blazedb_free(ja);
        blazedb_free(jb);
    }
#undef SAME_MSG
#undef SAME_RC
}

/* Whole-document answers: JSON (both layouts) and the encoding. */
static void same_whole(const BlazeDBDoc *a, const BlazeDBDoc *b)
{
    for (unsigned flags = 0; flags <= BLAZEDB_JSON_PRETTY; flags++) {
        char *ja, *jb;
        size_t la, lb;
        assert_int_equal(blazedb_doc_to_json(a, flags, &ja, &la), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_to_json(b, flags, &jb, &lb), BLAZEDB_OK);
        if (la != lb || memcmp(ja, jb, la + 1) != 0)
            fail_msg("to_json differs:\n%s\n%s", ja, jb);
        blazedb_free(ja);
        blazedb_free(jb);
    }
    void *ea, *eb;
    size_t la, lb;
    assert_int_equal(blazedb_doc_encode(a, &ea, &la), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_encode(b, &eb, &lb), BLAZEDB_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    blazedb_free(ea);
    blazedb_free(eb);
}

/* A tree-backed copy of the document with these bytes (built from JSON, so
 * independent of the binary paths). */
static BlazeDBDoc *tree_doc(const DocValue *root)
{
    char err[DOC_ERRMAX], *t;
    size_t tl;
    assert_int_equal(doc_to_json(root, 0, &t, &tl, err), BLAZEDB_OK);
    BlazeDBDoc *d = NULL;
    if (blazedb_doc_from_json(t, tl, &d) != BLAZEDB_OK)
        fail_msg("a valid document's JSON does not read back: %s\n%.400s", blazedb_errmsg(NULL), t);
    free(t);
    return d;
}

static void test_binary_backed(void **state)
{
    (void)state;
    rng_state = seed_from_env() ^ 0x5851f42d4c957f2dull;
    char err[DOC_ERRMAX];
    static const char *fixed[] = {"", "a", "0", "a.b", "a..b", ".a", "a.", "$object",
                                  "tags.2", "nope.nope", "1.0"};
    for (int it = 0; it < 1500; it++) {
        DocValue *root = gen_doc();
        uint8_t *e;
        size_t n;
        assert_int_equal(docbin_encode(root, &e, &n, err), BLAZEDB_OK);
        BlazeDBDoc *a = NULL, *b = tree_doc(root), *c = NULL, *own = NULL;
        assert_int_equal(blazedb_doc_decode(e, n, &a), BLAZEDB_OK);
        /* the owned-buffer constructor: same document, no copy */
        uint8_t *e2 = malloc(n);
        memcpy(e2, e, n);
        assert_int_equal(docapi_from_binary_owned(e2, n, &own), BLAZEDB_OK);
        same_whole(a, b);
        same_whole(own, b);
        char path[1024];
        for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++)
            same_at(a, b, fixed[k]);
        for (int k = 0; k < 12; k++) {
            rpath(root, path, sizeof path);
            same_at(a, b, path);
            same_at(own, b, path);
        }
        /* a clone of a binary document is one too */
        assert_int_equal(blazedb_doc_clone(a, &c), BLAZEDB_OK);
        same_whole(c, b);
        /* the tree seen by the query layer equals the decoded tree */
        assert_true(doc_equal(docapi_root(own), root));
        same_whole(own, b); /* still answers the same with its tree built */
        rpath(root, path, sizeof path);
        same_at(own, b, path);

        /* reads, then changes: the first change builds the tree once and
         * from then on both documents change alike */
        const char *s0 = NULL;
        size_t l0 = 0;
        char *keep = NULL;
        if (blazedb_doc_get_string(a, path, &s0, &l0) == BLAZEDB_OK) {
            keep = malloc(l0 + 1);
            memcpy(keep, s0, l0 + 1);
        }
        /* a change that fails leaves what was borrowed readable */
        expect_rc(blazedb_doc_set_int(a, "a..b", 1), BLAZEDB_INVALID_ARGUMENT, NULL);
        if (keep)
            assert_memory_equal(s0, keep, l0 + 1);
        free(keep);
        same_whole(a, b);
        for (int m = 0; m < 4; m++) {
            char p2[1024];
            rpath(root, p2, sizeof p2);
            BlazeDBResult ra, rb;
            switch (rn(5)) {
            case 0:
                ra = blazedb_doc_set_int(a, p2, m);
                rb = blazedb_doc_set_int(b, p2, m);
                break;
            case 1:
                ra = blazedb_doc_unset(a, p2);
                rb = blazedb_doc_unset(b, p2);
                break;
            case 2:
                ra = blazedb_doc_set_json(a, p2, "{\"x\":[1,\"two\"]}", 15);
                rb = blazedb_doc_set_json(b, p2, "{\"x\":[1,\"two\"]}", 15);
                break;
            case 3:
                ra = blazedb_doc_array_append_json(a, p2, "\"z\"", 3);
                rb = blazedb_doc_array_append_json(b, p2, "\"z\"", 3);
                break;
            default:
                ra = blazedb_doc_set_string(a, "added", "new");
                rb = blazedb_doc_set_string(b, "added", "new");
                break;
            }
            assert_int_equal(ra, rb);
            same_whole(a, b);
            same_at(a, b, p2);
            same_at(a, b, "added");
        }
        /* a clone changed leaves its original as it was */
        assert_int_equal(blazedb_doc_set_null(c, "zz"), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_type(c, "zz"), BLAZEDB_TYPE_NULL);
        assert_int_equal(blazedb_doc_type(own, "zz"), root->type == DOC_OBJECT && doc_path_get(root, "zz") ? (BlazeDBType)doc_path_get(root, "zz")->type : BLAZEDB_TYPE_MISSING);
        blazedb_doc_free(a);
        blazedb_doc_free(b);
        blazedb_doc_free(c);
        blazedb_doc_free(own);
        free(e);
        doc_free(root);
    }
}

/* Damaged bytes: blazedb_doc_decode answers exactly what the decoder does
 * (code and message), and what it accepts reads back like the tree. */
static void test_binary_backed_damaged(void **state)
{
    (void)state;
    rng_state = seed_from_env() ^ 0x2545f4914f6cdd1dull;
    char err[DOC_ERRMAX];
    for (int it = 0; it < 1500; it++) {
        DocValue *root = gen_doc();
        uint8_t *e;
        size_t n;
        assert_int_equal(docbin_encode(root, &e, &n, err), BLAZEDB_OK);
        for (int m = 0; m < 6; m++) {
            uint8_t *b = malloc(n + 1);
            memcpy(b, e, n);
            size_t len = n;
            for (uint32_t k = rn(3) + 1; k > 0; k--) {
                size_t at = len ? rn((uint32_t)len) : 0;
                switch (rn(3)) {
                case 0: if (len) b[at] ^= (uint8_t)(1u << rn(8)); break;
                case 1: if (len) b[at] = (uint8_t)rnd(); break;
                default: if (len) len = at; break;
                }
            }
            DocValue *v = NULL;
            BlazeDBResult want = docbin_decode(b, len, &v, err);
            if (want == BLAZEDB_OK && v->type != DOC_OBJECT)
                want = BLAZEDB_CORRUPT;
            BlazeDBDoc *d = NULL, *o = NULL;
            BlazeDBResult got = blazedb_doc_decode(len ? b : (const uint8_t *)"", len, &d);
            assert_int_equal(got, want);
            if (want != BLAZEDB_OK && v == NULL && strcmp(blazedb_errmsg(NULL), err) != 0)
                fail_msg("'%s' vs decoder's '%s'", blazedb_errmsg(NULL), err);
            uint8_t *own = malloc(len ? len : 1);
            memcpy(own, b, len);
            assert_int_equal(docapi_from_binary_owned(own, len, &o), want);
            if (got == BLAZEDB_OK) {
                BlazeDBDoc *t = tree_doc(v);
                same_whole(d, t);
                same_whole(o, t);
                char path[1024];
                for (int k = 0; k < 4; k++) {
                    rpath(v, path, sizeof path);
                    same_at(d, t, path);
                }
                blazedb_doc_free(t);
            } else {
                assert_null(d);
                assert_null(o);
            }
            blazedb_doc_free(d);
            blazedb_doc_free(o);
            doc_free(v);
            free(b);
        }
        free(e);
        doc_free(root);
    }
}

/* Borrowed pointers from a binary document: stable, NUL-terminated, and
 * valid until the document changes. */
static void test_binary_backed_pointers(void **state)
{
    (void)state;
    BlazeDBDoc *t = from_json("{\"name\":\"Ada\",\"long\":\"abcdefghijklmnopqrstuvwxyz0123456789"
                              "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
                              "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop\","
                              "\"v\":{\"$vector\":[1.5,-2,3]},\"b\":{\"$bytes\":\"AAEC\"},"
                              "\"e\":\"\",\"nul\":\"a\\u0000b\",\"o\":{\"x\":1,\"y\":2}}");
    void *bin;
    size_t n;
    assert_int_equal(blazedb_doc_encode(t, &bin, &n), BLAZEDB_OK);
    BlazeDBDoc *d;
    assert_int_equal(docapi_from_binary_owned(bin, n, &d), BLAZEDB_OK);
    const char *s1, *s2, *s3;
    size_t l;
    assert_int_equal(blazedb_doc_get_string(d, "name", &s1, &l), BLAZEDB_OK);
    assert_string_equal(s1, "Ada");
    assert_int_equal(blazedb_doc_get_string(d, "long", &s2, &l), BLAZEDB_OK);
    assert_int_equal(l, 160);
    assert_int_equal(s2[l], 0);
    assert_int_equal(blazedb_doc_get_string(d, "nul", &s3, &l), BLAZEDB_OK);
    assert_int_equal(l, 3);
    assert_memory_equal(s3, "a\0b", 4);
    assert_int_equal(blazedb_doc_get_string(d, "e", &s3, &l), BLAZEDB_OK);
    assert_int_equal(l, 0);
    assert_string_equal(s3, "");
    const float *f;
    assert_int_equal(blazedb_doc_get_vector(d, "v", &f, &l), BLAZEDB_OK);
    assert_int_equal(l, 3);
    assert_true(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.0f);
    const char *nm = blazedb_doc_field_name(d, "o", 1);
    assert_string_equal(nm, "y");
    /* many copies: stable pointers, bounded memory (same pointer again) */
    for (int k = 0; k < 1000; k++) {
        const char *again;
        assert_int_equal(blazedb_doc_get_string(d, k % 2 ? "name" : "long", &again, NULL),
                         BLAZEDB_OK);
        assert_ptr_equal(again, k % 2 ? s1 : s2);
        assert_ptr_equal(blazedb_doc_field_name(d, "o", 1), nm);
    }
    assert_string_equal(s1, "Ada");
    assert_true(f[1] == -2.0f);
    /* a change builds the tree; the document reads as before plus the change */
    assert_int_equal(blazedb_doc_set_int(d, "o.z", 3), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_get_string(d, "name", &s1, &l), BLAZEDB_OK);
    assert_string_equal(s1, "Ada");
    assert_int_equal(blazedb_doc_len(d, "o"), 3);
    assert_int_equal(blazedb_doc_set_int(t, "o.z", 3), BLAZEDB_OK);
    same_whole(d, t);
    blazedb_doc_free(d);
    blazedb_doc_free(t);

    /* the owned-buffer constructor frees what it refuses */
    uint8_t *junk = malloc(4);
    memcpy(junk, "\x0a\x01\x05\x00", 4);
    BlazeDBDoc *x = (BlazeDBDoc *)1;
    expect_rc(docapi_from_binary_owned(junk, 4, &x), BLAZEDB_CORRUPT, "corrupt document");
    assert_null(x);
    uint8_t *one = malloc(1);
    one[0] = DOC_NULL;
    expect_rc(docapi_from_binary_owned(one, 1, &x), BLAZEDB_CORRUPT, "not an object");
    expect_rc(docapi_from_binary_owned(NULL, 1, &x), BLAZEDB_INVALID_ARGUMENT, NULL);
}

/* ---- JSON -> binary without a tree ------------------------------------------------ */

static void test_json_to_binary(void **state)
{
    (void)state;
    /* tagged forms, valid and not, anywhere; the $object escape (which the
     * direct reader hands to the tree reader) */
    static const char *cases[] = {
        "{\"d\":{\"$date\":\"2024-02-29T12:00:00.5Z\"},\"e\":{\"$date\":-5}}",
        "{\"d\":{\"$date\":\"2023-02-29T00:00:00Z\"}}",
        "{\"d\":{\"$date\":\"2024-01-01T00:00:00\\u0000Z\"}}",
        "{\"d\":{\"$date\":1.5}}",
        "{\"u\":{\"$uuid\":\"0190B2A4-7c1e-7d3a-9f00-1a2b3c4d5e6f\"}}",
        "{\"u\":{\"$uuid\":\"0190b2a4\"}}",
        "{\"b\":{\"$bytes\":\"aGk=\"},\"c\":{\"$bytes\":\"\"},\"d\":{\"$bytes\":\"AAECAw==\"}}",
        "{\"b\":{\"$bytes\":\"aGl=\"}}",
        "{\"b\":{\"$bytes\":[]}}",
        "{\"n\":{\"$double\":\"NaN\"},\"i\":{\"$double\":\"-Infinity\"}}",
        "{\"n\":{\"$double\":\"nan\"}}",
        "{\"v\":{\"$vector\":[1,2.5,-3e2,16777217]},\"w\":{\"$vector\":[]}}",
        "{\"v\":{\"$vector\":[1e39]}}",
        "{\"v\":{\"$vector\":[1,{\"$double\":\"NaN\"}]}}",
        "{\"v\":{\"$vector\":[{\"$date\":1}]}}",
        "{\"v\":{\"$vector\":\"x\"}}",
        "{\"x\":{\"$foo\":1}}",
        "{\"x\":{\"$\":1}}",
        "{\"x\":{\"$a-very-long-unknown-tag-name-of-more-than-forty-bytes\":1}}",
        "{\"x\":{\"$date\":1,\"$uuid\":2}}",
        "{\"x\":{\"$date\":1,\"$date\":2}}",
        "{\"$date\":{\"$date\":5},\"a\":1}",
        "{\"$date\":5}",
        "[{\"$double\":\"Infinity\"},{\"$uuid\":\"00000000-0000-0000-0000-000000000000\"}]",
        "\"just a string\"",
        "{\"$object\":{\"$date\":5}}",
        "{\"a\":{\"$object\":{\"$date\":5}}}",
        "{\"a\":{\"$object\":{\"$date\":5},\"b\":1}}",
        "{\"$object\":{\"$object\":{\"$object\":{\"$date\":1}},\"x\":2}}",
        "{\"a\":{\"$object\":1}}",
        "{\"a\":[{\"$object\":{\"b\":{\"$uuid\":\"bad\"}}}]}",
        "{\"a\":{\"$object\":{}},\"b\":tru}",
        "{\"b\":1,\"$object\":{\"$date\":5}}",
        /* names: order is bytewise, a prefix first; NUL refused */
        "{\"z\":1,\"\xc3\xa9\":2,\"a\":3,\"ab\":4,\"A\":5,\"\":6,\"a\\u0062c\":7}",
        "{\"b\":1,\"a\\u0000\":2}",
        "{\"b\":{\"y\":[1,{\"q\":2,\"p\":3}],\"x\":null},\"a\":[[],{}]}",
        "  {\n \"b\" : [ 1 , 2 ] ,\t\"a\" :\r{ } }  ",
        ("{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":9223372036854775808,"
         "\"d\":-0.0,\"e\":1e-400,\"f\":0.1,\"g\":123456789012345678901234567890}"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        same_as_tree_s(cases[i]);

    /* the exact bytes of the format example (docs/DOCUMENTS.md), from
     * unsorted input */
    char err[DOC_ERRMAX];
    uint8_t *b;
    size_t n;
    static const uint8_t want[] = {0x0a, 0x01, 0x03, 0x01, 0x03, 0x05, 0x0d, 0x0e, 0x11,
                                   'a', 0x03, 0x01, 'b', 'c', 0x09, 0x01, 0x02, 0x02, 0x03,
                                   0x02, 0x01, 0x01, 'd', 0x05, 'h', 'i'};
    const char *ex = "{\"d\":\"hi\",\"bc\":[true,null],\"a\":1}";
    assert_int_equal(doc_json_to_bin(ex, strlen(ex), &b, &n, err), BLAZEDB_OK);
    assert_int_equal(n, sizeof want);
    assert_memory_equal(b, want, n);
    free(b);

    /* objects past the insertion sort (> 16 fields), in reverse order, and
     * with a duplicate among them */
    char *big = malloc(200000);
    size_t k = 0;
    big[k++] = '{';
    for (int i = 40; i > 0; i--)
        k += (size_t)sprintf(big + k, "%s\"f%02d\":%d", i < 40 ? "," : "", i, i);
    big[k++] = '}';
    same_as_tree(big, k);
    memcpy(big + k - 1, ",\"f17\":0}", 9);
    same_as_tree(big, k + 8);
    {
        DocValue *v;
        assert_int_equal(doc_from_json(big, k + 8, &v, err), BLAZEDB_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "duplicate field name \"f17\""));
        assert_int_equal(doc_json_to_bin(big, k + 8, &b, &n, err), BLAZEDB_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "duplicate field name \"f17\""));
    }

    /* offset widths 1, 2 and 4: data areas around 255 and 65535 bytes */
    for (size_t len = 240; len < 270; len++) {
        k = 0;
        k += (size_t)sprintf(big, "{\"s\":[\"");
        memset(big + k, 'x', len);
        k += len;
        k += (size_t)sprintf(big + k, "\"],\"t\":1}");
        same_as_tree(big, k);
    }
    k = 0;
    big[k++] = '[';
    for (int i = 0; i < 30000; i++)
        k += (size_t)sprintf(big + k, "%s%d", i ? "," : "", i % 100);
    big[k++] = ']';
    same_as_tree(big, k);
    k = (size_t)sprintf(big, "{\"long\":[\"");
    memset(big + k, 'y', 70000);
    k += 70000;
    k += (size_t)sprintf(big + k, "\"]}");
    same_as_tree(big, k);
    assert_int_equal(doc_json_to_bin(big, k, &b, &n, err), BLAZEDB_OK);
    assert_int_equal(b[1], 4); /* the object's width */
    free(b);
    free(big);

    /* deepest allowed nesting, and one level more */
    char *ok = nested_json(64), *deep = nested_json(65);
    same_as_tree_s(ok);
    same_as_tree_s(deep);
    free(ok);
    free(deep);

    /* arguments */
    b = (uint8_t *)1;
    n = 1;
    assert_int_equal(doc_json_to_bin(NULL, 0, &b, &n, err), BLAZEDB_INVALID_ARGUMENT);
    assert_null(b);
    assert_int_equal(n, 0);
    assert_int_equal(doc_json_to_bin("{}", (size_t)BLAZEDB_MAX_VALUE + 1, &b, &n, err),
                     BLAZEDB_TOO_BIG);
}

static void test_json_to_binary_public(void **state)
{
    (void)state;
    const char *j = "{\"name\":\"ann\",\"age\":41,\"when\":{\"$date\":86400000},"
                    "\"tags\":[\"x\",{\"deep\":[1,2,3.5]}]}";
    void *bin = NULL, *enc = NULL;
    size_t n = 0, en = 0;
    assert_int_equal(blazedb_json_to_binary(j, strlen(j), &bin, &n), BLAZEDB_OK);
    BlazeDBDoc *d = from_json(j);
    assert_int_equal(blazedb_doc_encode(d, &enc, &en), BLAZEDB_OK);
    assert_int_equal(n, en);
    assert_memory_equal(bin, enc, n);
    blazedb_doc_free(d);
    /* and it decodes back to the document */
    assert_int_equal(blazedb_doc_decode(bin, n, &d), BLAZEDB_OK);
    int64_t age = 0;
    assert_int_equal(blazedb_doc_get_int(d, "age", &age), BLAZEDB_OK);
    assert_true(age == 41);
    blazedb_doc_free(d);
    blazedb_free(bin);
    blazedb_free(enc);

    /* errors leave *out NULL and *outlen 0 and set the message */
    bin = (void *)1;
    n = 1;
    expect_rc(blazedb_json_to_binary("[1,2]", 5, &bin, &n), BLAZEDB_INVALID_ARGUMENT,
              "must be a JSON object, not array");
    assert_null(bin);
    assert_int_equal(n, 0);
    expect_rc(blazedb_json_to_binary("{\"a\":1,\"a\":2}", 13, &bin, &n),
              BLAZEDB_INVALID_ARGUMENT, "at byte 0: duplicate field name \"a\"");
    expect_rc(blazedb_json_to_binary("{\"a\":[1,]}", 10, &bin, &n), BLAZEDB_INVALID_ARGUMENT,
              "at byte 8");
    expect_rc(blazedb_json_to_binary("{\"a\":{\"$date\":\"x\"}}", 20, &bin, &n),
              BLAZEDB_INVALID_ARGUMENT, "malformed $date value");
    expect_rc(blazedb_json_to_binary("{}", (size_t)BLAZEDB_MAX_VALUE + 1, &bin, &n),
              BLAZEDB_TOO_BIG, NULL);
    expect_rc(blazedb_json_to_binary(NULL, 2, &bin, &n), BLAZEDB_INVALID_ARGUMENT, "NULL");
    expect_rc(blazedb_json_to_binary("{}", 2, NULL, &n), BLAZEDB_INVALID_ARGUMENT, "NULL");
    expect_rc(blazedb_json_to_binary("{}", 2, &bin, NULL), BLAZEDB_INVALID_ARGUMENT, "NULL");
    assert_null(bin);
    /* the smallest document */
    assert_int_equal(blazedb_json_to_binary(" {} ", 4, &bin, &n), BLAZEDB_OK);
    static const uint8_t empty[] = {0x0a, 0x01, 0x00};
    assert_int_equal(n, sizeof empty);
    assert_memory_equal(bin, empty, n);
    blazedb_free(bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_set_get_all_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_paths_and_arrays),
        cmocka_unit_test(test_json_mapping),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_canonical_and_format),
        cmocka_unit_test(test_lookup_without_decode),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_property_roundtrips),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_binary_backed),
        cmocka_unit_test(test_binary_backed_damaged),
        cmocka_unit_test(test_binary_backed_pointers),
        cmocka_unit_test(test_json_to_binary),
        cmocka_unit_test(test_json_to_binary_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
