/*
 * test_export.c — export and import (src/tools/exportimport.c): NDJSON and
 * JSON round trips bit for bit on random documents of every type (whole
 * database with collection markers, and one collection), CSV round trips
 * and edge cases (quoting, separators and newlines in fields, empty cells,
 * ragged rows, bad quoting, invalid UTF-8, forced types, nested columns),
 * SQL loaded by the sqlite3 shell (or libsqlite3) and compared row by row,
 * SKIP_BAD listing, UPSERT, all-or-nothing leaving the database unchanged,
 * cancellation, unwritable targets, write failures mid-way, JSON structure
 * errors and trailing garbage.
 *
 * libsqlite3 is loaded with dlopen (the test links nothing extra); the SQL
 * case is skipped with a message when it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blazedb.h"
#include "support/testutil.h"

#define OK(x) assert_int_equal((x), BLAZEDB_OK)

/* ---- helpers --------------------------------------------------------------- */

typedef struct {
    char *dir;
    BlazeDB *db;
} Env;

static BlazeDB *open_db(const char *dir, const char *name)
{
    char *p = tu_path(dir, name);
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.durability = BLAZEDB_DURABILITY_OFF;
    BlazeDB *db = NULL;
    OK(blazedb_open_ex(p, TU_PASSWORD, &o, &db));
    free(p);
    return db;
}

/* A growing memory buffer: write callback target and read callback source. */
typedef struct {
    char *p;
    size_t len, cap, rpos;
    size_t chunk;       /* read: at most this many bytes per call (0: any) */
    size_t fail_after;  /* write: fail once this many bytes are written (0: never) */
    int fail_code;
} Mem;

static int mem_write(const void *buf, size_t len, void *arg)
{
    Mem *m = arg;
    if (m->fail_after && m->len + len > m->fail_after)
        return m->fail_code;
    if (m->len + len + 1 > m->cap) {
        m->cap = (m->len + len + 1) * 2;
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    m->p[m->len] = 0;
    return 0;
}

static int mem_read(void *buf, size_t cap, size_t *got, void *arg)
{
    Mem *m = arg;
    size_t n = m->len - m->rpos;
    if (n > cap)
        n = cap;
    if (m->chunk && n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->p + m->rpos, n);
    m->rpos += n;
    *got = n;
    return 0;
}

static Mem mem_text(const char *s)
{
    Mem m = {0};
    mem_write(s, strlen(s), &m);
    return m;
}

static BlazeDBResult import_text(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBImportOptions *o,
                                 const char *text, BlazeDBImportReport *rep)
{
    Mem m = mem_text(text);
    m.chunk = 7; /* records cross read boundaries */
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->struct_size = sizeof *rep;
    }
    BlazeDBResult rc = blazedb_import(db, txn, o, mem_read, &m, rep);
    free(m.p);
    return rc;
}

static Mem export_mem(BlazeDB *db, BlazeDBFormat f, const char *coll, uint64_t *count)
{
    BlazeDBExportOptions o;
    blazedb_export_options_init(&o);
    o.format = f;
    o.collection = coll;
    Mem m = {0};
    mem_write("", 0, &m);
    BlazeDBResult rc = blazedb_export(db, NULL, &o, mem_write, &m, count);
    if (rc)
        fprintf(stderr, "export: %s\n", blazedb_errmsg(db));
    OK(rc);
    return m;
}

static uint64_t count_of(BlazeDB *db, const char *coll)
{
    uint64_t n = 0;
    OK(blazedb_count(db, NULL, coll, &n));
    return n;
}

/* Every document of coll in a and b has the same binary encoding. */
static void assert_same_collection(BlazeDB *a, const char *ca, BlazeDB *b, const char *cb)
{
    BlazeDBDocCursor *x, *y;
    OK(blazedb_doc_cursor_open(a, NULL, ca, NULL, &x));
    OK(blazedb_doc_cursor_open(b, NULL, cb, NULL, &y));
    size_t n = 0;
    for (;;) {
        BlazeDBDoc *d1 = NULL, *d2 = NULL;
        BlazeDBResult r1 = blazedb_doc_cursor_next(x, &d1), r2 = blazedb_doc_cursor_next(y, &d2);
        assert_int_equal(r1, r2);
        if (r1 == BLAZEDB_NOT_FOUND)
            break;
        OK(r1);
        void *e1, *e2;
        size_t l1, l2;
        OK(blazedb_doc_encode(d1, &e1, &l1));
        OK(blazedb_doc_encode(d2, &e2, &l2));
        if (l1 != l2 || memcmp(e1, e2, l1)) {
            char *j1, *j2;
            blazedb_doc_to_json(d1, 0, &j1, NULL);
            blazedb_doc_to_json(d2, 0, &j2, NULL);
            fprintf(stderr, "differ:\n  %s\n  %s\n", j1, j2);
            blazedb_free(j1);
            blazedb_free(j2);
        }
        assert_int_equal(l1, l2);
        assert_memory_equal(e1, e2, l1);
        blazedb_free(e1);
        blazedb_free(e2);
        blazedb_doc_free(d1);
        blazedb_doc_free(d2);
        n++;
    }
    blazedb_doc_cursor_close(x);
    blazedb_doc_cursor_close(y);
}

static void assert_same_database(BlazeDB *a, BlazeDB *b)
{
    char **na, **nb;
    size_t ka, kb;
    OK(blazedb_collection_list(a, NULL, &na, &ka));
    OK(blazedb_collection_list(b, NULL, &nb, &kb));
    assert_int_equal(ka, kb);
    for (size_t i = 0; i < ka; i++) {
        assert_string_equal(na[i], nb[i]);
        assert_int_equal(count_of(a, na[i]), count_of(b, nb[i]));
        assert_same_collection(a, na[i], b, nb[i]);
    }
    blazedb_free(na);
    blazedb_free(nb);
}

/* ---- random documents of every type --------------------------------------- */

static void rand_string(TuRng *r, char *out, size_t max)
{
    static const char *pieces[] = {"a", "Z", " ", ",", "\"", "'", "\n", "\r\n", "\\", "é",
                                   "日本", "😀", "\t", "x.y", "$", "{", "[", "0", "true", ";",
                                   "\x01", "ß"};
    size_t n = 0, k = tu_rng_below(r, 12);
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[tu_rng_below(r, sizeof pieces / sizeof *pieces)];
        size_t l = strlen(p);
        if (n + l + 1 > max)
            break;
        memcpy(out + n, p, l);
        n += l;
    }
    out[n] = 0;
}

static void rand_value(TuRng *r, BlazeDBDoc *d, const char *path, int depth)
{
    char s[200];
    unsigned kind = (unsigned)tu_rng_below(r, depth > 3 ? 11 : 14);
    switch (kind) {
    case 0: OK(blazedb_doc_set_null(d, path)); break;
    case 1: OK(blazedb_doc_set_bool(d, path, (int)tu_rng_below(r, 2))); break;
    case 2: {
        static const int64_t special[] = {0, -1, 1, INT64_MAX, INT64_MIN, 4294967296LL,
                                          -9007199254740993LL};
        int64_t v = tu_rng_below(r, 3) ? (int64_t)tu_rng_next(r) >> tu_rng_below(r, 63)
                                       : special[tu_rng_below(r, 7)];
        OK(blazedb_doc_set_int(d, path, v));
        break;
    }
    case 3: {
        static const double special[] = {0.0, -0.0, 1.5, 1e308, 4.9e-324, 0.1, 1e-7};
        double v;
        unsigned c = (unsigned)tu_rng_below(r, 5);
        if (c == 0) {
            uint64_t bits = tu_rng_next(r);
            memcpy(&v, &bits, 8);
        } else if (c == 1) {
            v = special[tu_rng_below(r, 7)];
        } else if (c == 2) {
            v = tu_rng_below(r, 3) == 0 ? NAN : tu_rng_below(r, 2) ? INFINITY : -INFINITY;
        } else {
            v = (double)(int64_t)tu_rng_next(r) / 1e9;
        }
        OK(blazedb_doc_set_double(d, path, v));
        break;
    }
    case 4:
        rand_string(r, s, sizeof s);
        if (tu_rng_below(r, 8) == 0) { /* with a NUL inside */
            size_t l = strlen(s);
            s[l] = 0;
            OK(blazedb_doc_set_stringn(d, path, s, l + 1));
        } else {
            OK(blazedb_doc_set_string(d, path, s));
        }
        break;
    case 5: {
        uint8_t b[40];
        size_t n = tu_rng_below(r, sizeof b);
        tu_rng_bytes(r, b, n);
        OK(blazedb_doc_set_bytes(d, path, b, n));
        break;
    }
    case 6: {
        uint8_t u[16];
        tu_rng_bytes(r, u, 16);
        OK(blazedb_doc_set_uuid(d, path, u));
        break;
    }
    case 7: {
        int64_t ms = tu_rng_below(r, 4) ? (int64_t)tu_rng_below(r, 4102444800000ull)
                                        : (int64_t)tu_rng_next(r) >> 10; /* beyond 9999 too */
        OK(blazedb_doc_set_date(d, path, ms));
        break;
    }
    case 8: {
        float v[6];
        size_t n = tu_rng_below(r, 6);
        for (size_t i = 0; i < n; i++)
            v[i] = (float)((double)(int32_t)tu_rng_next(r) / 1000.0);
        OK(blazedb_doc_set_vector(d, path, v, n));
        break;
    }
    case 9: { /* objects with names a path cannot reach, and tag look-alikes */
        static const char *odd[] = {"{\"a.b\":1,\"\":2}", "{\"$object\":{\"$date\":5}}",
                                    "{}", "[]", "{\"$x\":[],\"y\":null}",
                                    "{\"$object\":{\"$collection\":\"fake\"}}"};
        const char *j = odd[tu_rng_below(r, 6)];
        OK(blazedb_doc_set_json(d, path, j, strlen(j)));
        break;
    }
    case 10: OK(blazedb_doc_set_string(d, path, "")); break;
    default: { /* array or object */
        size_t n = tu_rng_below(r, 4);
        int arr = kind == 11;
        if (arr)
            OK(blazedb_doc_set_json(d, path, "[]", 2));
        else
            OK(blazedb_doc_set_json(d, path, "{}", 2));
        for (size_t i = 0; i < n; i++) {
            char sub[300];
            if (arr)
                snprintf(sub, sizeof sub, "%s.%zu", path, i);
            else
                snprintf(sub, sizeof sub, "%s.f%u", path, (unsigned)tu_rng_below(r, 50));
            rand_value(r, d, sub, depth + 1);
        }
    }
    }
}

static BlazeDBDoc *rand_doc(TuRng *r, size_t i)
{
    BlazeDBDoc *d;
    OK(blazedb_doc_new(&d));
    char id[40];
    snprintf(id, sizeof id, "doc-%05zu", i);
    if (i % 7) /* the others get a generated UUIDv7 */
        OK(blazedb_doc_set_string(d, "id", id));
    size_t n = 1 + tu_rng_below(r, 8);
    for (size_t k = 0; k < n; k++) {
        char f[32];
        static const char *names[] = {"name", "age", "tags", "address", "Name", "score", "x",
                                      "when", "blob", "vec"};
        snprintf(f, sizeof f, "%s", names[tu_rng_below(r, 10)]);
        rand_value(r, d, f, 1);
    }
    return d;
}

/* db: "things" (random documents, one soft-deleted), "plain"
 * (NO_TIMESTAMPS), "empty" (no documents), "weird \"name\"". */
static void fill_random(BlazeDB *db, uint64_t seed, size_t n)
{
    TuRng r;
    tu_rng_seed(&r, seed);
    BlazeDBTxn *t;
    OK(blazedb_txn_begin(db, 0, &t));
    for (size_t i = 0; i < n; i++) {
        BlazeDBDoc *d = rand_doc(&r, i);
        OK(blazedb_insert(db, t, "things", d));
        blazedb_doc_free(d);
    }
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    OK(blazedb_collection_create(db, t, "plain", &co));
    for (size_t i = 0; i < n / 4; i++) {
        BlazeDBDoc *d = rand_doc(&r, 100000 + i);
        OK(blazedb_insert(db, t, "plain", d));
        blazedb_doc_free(d);
    }
    OK(blazedb_collection_create(db, t, "empty", NULL));
    BlazeDBDoc *d;
    const char *j = "{\"id\":\"q\",\"v\":1}";
    OK(blazedb_doc_from_json(j, strlen(j), &d));
    OK(blazedb_insert(db, t, "weird \"name\"", d));
    blazedb_doc_free(d);
    OK(blazedb_txn_commit(t));
    OK(blazedb_soft_delete(db, NULL, "things", "doc-00001"));
}

/* ---- NDJSON and JSON ---------------------------------------------------------- */

static void roundtrip_whole(BlazeDBFormat f)
{
    char *dir = tu_mkdtemp("export");
    BlazeDB *a = open_db(dir, "a.blazedb"), *b = open_db(dir, "b.blazedb");
    uint64_t seed = tu_seed("roundtrip_whole");
    fill_random(a, seed, 400);
    uint64_t n = 0;
    Mem m = export_mem(a, f, NULL, &n);
    uint64_t want = count_of(a, "things") + count_of(a, "plain") + 1;
    if (n != want)
        fprintf(stderr, "things %llu plain %llu n %llu\n", (unsigned long long)count_of(a, "things"),
                (unsigned long long)count_of(a, "plain"), (unsigned long long)n);
    assert_int_equal(n, want);
    /* the soft-deleted document is not exported */
    assert_null(strstr(m.p, "\"doc-00001\""));
    if (f == BLAZEDB_FORMAT_NDJSON)
        assert_non_null(strstr(m.p, "{\"$collection\":{\"name\":\"plain\",\"timestamps\":false}}\n"));

    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.format = f;
    BlazeDBImportReport rep;
    BlazeDBResult rc = import_text(b, NULL, &o, m.p, &rep);
    if (rc)
        fprintf(stderr, "import: %s\n", blazedb_errmsg(b));
    OK(rc);
    assert_int_equal(rep.imported, n);
    assert_int_equal(rep.bad, 0);
    /* things loses its soft-deleted document; everything else is identical */
    OK(blazedb_delete_doc(a, NULL, "things", "doc-00001"));
    assert_same_database(a, b);

    /* the collection options came back: "plain" does not stamp */
    BlazeDBDoc *d;
    OK(blazedb_doc_from_json("{\"id\":\"new\"}", 12, &d));
    OK(blazedb_insert(b, NULL, "plain", d));
    assert_int_equal(blazedb_doc_type(d, "createdAt"), BLAZEDB_TYPE_MISSING);
    blazedb_doc_free(d);

    /* again, through the file calls */
    char *file = tu_path(dir, f == BLAZEDB_FORMAT_JSON ? "dump.json" : "dump.ndjson");
    BlazeDBExportOptions eo;
    blazedb_export_options_init(&eo);
    eo.format = f;
    OK(blazedb_export_file(a, NULL, &eo, file, &n));
    assert_int_equal(n, want);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    BlazeDB *c = open_db(dir, "c.blazedb");
    OK(blazedb_import_file(c, NULL, &o, file, NULL));
    assert_same_database(a, c);
    blazedb_close(c);

    free(file);
    free(m.p);
    blazedb_close(a);
    blazedb_close(b);
    tu_rmrf(dir);
    free(dir);
}

static void test_ndjson_roundtrip(void **s)
{
    (void)s;
    roundtrip_whole(BLAZEDB_FORMAT_NDJSON);
}

static void test_json_roundtrip(void **s)
{
    (void)s;
    roundtrip_whole(BLAZEDB_FORMAT_JSON);
}

/* One collection exported, imported under another name, in a caller's
 * transaction; also into a collection that does not keep timestamps. */
static void test_one_collection(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp("export");
    BlazeDB *a = open_db(dir, "a.blazedb"), *b = open_db(dir, "b.blazedb");
    fill_random(a, tu_seed("one_collection"), 200);
    for (int f = BLAZEDB_FORMAT_NDJSON; f <= BLAZEDB_FORMAT_JSON; f++) {
        uint64_t n;
        Mem m = export_mem(a, (BlazeDBFormat)f, "things", &n);
        assert_int_equal(n, count_of(a, "things"));
        assert_null(strstr(m.p, "$collection\":\"things"));
        BlazeDBImportOptions o;
        blazedb_import_options_init(&o);
        o.format = (BlazeDBFormat)f;
        o.collection = f == BLAZEDB_FORMAT_JSON ? "copy_json" : "copy_ndjson";
        BlazeDBTxn *t;
        OK(blazedb_txn_begin(b, 0, &t));
        BlazeDBImportReport rep;
        OK(import_text(b, t, &o, m.p, &rep));
        assert_int_equal(rep.imported, n);
        OK(blazedb_txn_commit(t));
        assert_same_collection(a, "things", b, o.collection);
        free(m.p);
    }
    /* with a filter */
    BlazeDBQuery *q;
    OK(blazedb_query_new("things", &q));
    OK(blazedb_query_where(q, "age", BLAZEDB_OP_IS_NOT_NULL, NULL));
    BlazeDBDoc **docs;
    size_t nd;
    OK(blazedb_query_run(a, NULL, q, &docs, &nd));
    BlazeDBExportOptions eo;
    blazedb_export_options_init(&eo);
    eo.collection = "things";
    eo.filter = q;
    Mem m = {0};
    uint64_t n;
    OK(blazedb_export(a, NULL, &eo, mem_write, &m, &n));
    assert_int_equal(n, nd);
    assert_true(nd > 0);
    size_t lines = 0;
    for (size_t i = 0; i < m.len; i++)
        lines += m.p[i] == '\n';
    assert_int_equal(lines, nd);
    blazedb_query_free_docs(docs, nd);
    blazedb_query_free(q);
    free(m.p);
    blazedb_close(a);
    blazedb_close(b);
    tu_rmrf(dir);
    free(dir);
}

/* ---- CSV --------------------------------------------------------------------- */

static void test_csv_export_and_back(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp("export");
    BlazeDB *db = open_db(dir, "a.blazedb");
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    OK(blazedb_collection_create(db, NULL, "p", &co));
    const char *docs[] = {
        "{\"id\":\"1\",\"name\":\"Ada, \\\"the\\\" first\",\"age\":36,\"score\":98.5,"
        "\"active\":true,\"address\":{\"city\":\"Oslo\",\"zip\":\"0150\"},\"tags\":[\"a\",\"b\"]}",
        "{\"id\":\"2\",\"name\":\"line\\nbreak\",\"age\":null,\"empty\":\"\",\"address\":\"none\","
        "\"when\":{\"$date\":\"2024-05-01T10:00:00.000Z\"},\"bin\":{\"$bytes\":\"AAEC\"}}",
        "{\"id\":\"3\",\"name\":\"日本\",\"odd\":{\"a.b\":1},\"e\":{},\"n\":{\"$double\":\"NaN\"}}",
    };
    for (int i = 0; i < 3; i++) {
        BlazeDBDoc *d;
        OK(blazedb_doc_from_json(docs[i], strlen(docs[i]), &d));
        OK(blazedb_insert(db, NULL, "p", d));
        blazedb_doc_free(d);
    }
    uint64_t n;
    Mem m = export_mem(db, BLAZEDB_FORMAT_CSV, "p", &n);
    assert_int_equal(n, 3);
    const char *want =
        "id,active,address,address.city,address.zip,age,bin,e,empty,n,name,odd,score,tags,when\r\n"
        "1,true,,Oslo,0150,36,,,,,\"Ada, \"\"the\"\" first\",,98.5,\"[\"\"a\"\",\"\"b\"\"]\",\r\n"
        "2,,none,,,,\"{\"\"$bytes\"\":\"\"AAEC\"\"}\",,\"\",,\"line\nbreak\",,,,"
        "\"{\"\"$date\"\":\"\"2024-05-01T10:00:00.000Z\"\"}\"\r\n"
        "3,,,,,,,{},,\"{\"\"$double\"\":\"\"NaN\"\"}\",日本,\"{\"\"a.b\"\":1}\",,,\r\n";
    if (strcmp(m.p, want))
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", m.p, want);
    assert_string_equal(m.p, want);

    /* and back in: types inferred, nested columns rebuilt, JSON cells read */
    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.format = BLAZEDB_FORMAT_CSV;
    o.collection = "back";
    o.csv_types = "address.zip:string";
    BlazeDBImportReport rep;
    OK(import_text(db, NULL, &o, m.p, &rep));
    assert_int_equal(rep.imported, 3);
    BlazeDBDoc *d;
    char *j;
    OK(blazedb_get_doc(db, NULL, "back", "1", &d));
    OK(blazedb_doc_get_json(d, "", 0, &j, NULL));
    /* createdAt/updatedAt: "back" keeps timestamps and the rows carry none */
    assert_int_equal(blazedb_doc_type(d, "createdAt"), BLAZEDB_TYPE_DATE);
    OK(blazedb_doc_unset(d, "createdAt"));
    OK(blazedb_doc_unset(d, "updatedAt"));
    blazedb_free(j);
    OK(blazedb_doc_to_json(d, 0, &j, NULL));
    assert_string_equal(j, "{\"active\":true,\"address\":{\"city\":\"Oslo\",\"zip\":\"0150\"},"
                           "\"age\":36,\"bin\":null,\"e\":null,\"empty\":null,\"id\":\"1\","
                           "\"n\":null,\"name\":\"Ada, \\\"the\\\" first\",\"odd\":null,"
                           "\"score\":98.5,\"tags\":[\"a\",\"b\"],\"when\":null}");
    blazedb_free(j);
    blazedb_doc_free(d);
    OK(blazedb_get_doc(db, NULL, "back", "2", &d));
    const char *str;
    OK(blazedb_doc_get_string(d, "address", &str, NULL));
    assert_string_equal(str, "none");
    OK(blazedb_doc_get_string(d, "empty", &str, NULL));
    assert_string_equal(str, "");
    OK(blazedb_doc_get_string(d, "name", &str, NULL));
    assert_string_equal(str, "line\nbreak");
    assert_int_equal(blazedb_doc_type(d, "age"), BLAZEDB_TYPE_NULL);
    assert_int_equal(blazedb_doc_type(d, "when"), BLAZEDB_TYPE_DATE);
    assert_int_equal(blazedb_doc_type(d, "bin"), BLAZEDB_TYPE_BYTES);
    blazedb_doc_free(d);
    OK(blazedb_get_doc(db, NULL, "back", "3", &d));
    assert_int_equal(blazedb_doc_type(d, "e"), BLAZEDB_TYPE_OBJECT);
    assert_int_equal(blazedb_doc_type(d, "n"), BLAZEDB_TYPE_DOUBLE);
    OK(blazedb_doc_get_json(d, "odd", 0, &j, NULL));
    assert_string_equal(j, "{\"a.b\":1}");
    blazedb_free(j);
    blazedb_doc_free(d);

    /* a CSV export needs a collection */
    BlazeDBExportOptions eo;
    blazedb_export_options_init(&eo);
    eo.format = BLAZEDB_FORMAT_CSV;
    assert_int_equal(blazedb_export(db, NULL, &eo, mem_write, &m, NULL),
                     BLAZEDB_INVALID_ARGUMENT);
    free(m.p);
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

static void test_csv_import_edge_cases(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp("export");
    BlazeDB *db = open_db(dir, "a.blazedb");
    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.format = BLAZEDB_FORMAT_CSV;
    o.collection = "c";
    o.source_name = "people.csv";
    BlazeDBImportReport rep;

    /* BOM, CRLF and LF, quotes, separators and newlines inside fields, an
     * empty quoted field, blank lines, inference, dotted columns */
    const char *good = "\xEF\xBB\xBFid,name,n,x,ok,a.b,a.c,j\r\n"
                       "k1,\"Smith, J.\",12,1.5,TRUE,deep,,\"[1,2]\"\r\n"
                       "\n"
                       "k2,\"say \"\"hi\"\"\nnow\",-0,1e3,false,,7,{bad\n"
                       "k3,\"\",007,12abc,yes,,,\"{\"\"$uuid\"\":\"\"00000000-0000-0000-0000-"
                       "000000000001\"\"}\"";
    OK(import_text(db, NULL, &o, good, &rep));
    assert_int_equal(rep.imported, 3);
    BlazeDBDoc *d;
    char *j;
    OK(blazedb_get_doc(db, NULL, "c", "k1", &d));
    OK(blazedb_doc_unset(d, "createdAt"));
    OK(blazedb_doc_unset(d, "updatedAt"));
    OK(blazedb_doc_to_json(d, 0, &j, NULL));
    assert_string_equal(j, "{\"a\":{\"b\":\"deep\",\"c\":null},\"id\":\"k1\",\"j\":[1,2],"
                           "\"n\":12,\"name\":\"Smith, J.\",\"ok\":true,\"x\":1.5}");
    blazedb_free(j);
    blazedb_doc_free(d);
    OK(blazedb_get_doc(db, NULL, "c", "k2", &d));
    OK(blazedb_doc_unset(d, "createdAt"));
    OK(blazedb_doc_unset(d, "updatedAt"));
    OK(blazedb_doc_to_json(d, 0, &j, NULL));
    assert_string_equal(j, "{\"a\":{\"b\":null,\"c\":7},\"id\":\"k2\",\"j\":\"{bad\",\"n\":0,"
                           "\"name\":\"say \\\"hi\\\"\\nnow\",\"ok\":false,\"x\":1000.0}");
    blazedb_free(j);
    blazedb_doc_free(d);
    OK(blazedb_get_doc(db, NULL, "c", "k3", &d));
    OK(blazedb_doc_unset(d, "createdAt"));
    OK(blazedb_doc_unset(d, "updatedAt"));
    OK(blazedb_doc_to_json(d, 0, &j, NULL));
    assert_string_equal(j, "{\"a\":{\"b\":null,\"c\":null},\"id\":\"k3\",\"j\":{\"$uuid\":"
                           "\"00000000-0000-0000-0000-000000000001\"},\"n\":\"007\","
                           "\"name\":\"\",\"ok\":\"yes\",\"x\":\"12abc\"}");
    blazedb_free(j);
    blazedb_doc_free(d);

    /* forced types */
    o.collection = "typed";
    o.csv_types = "age:int, score : double,zip:string,when:date,flag:bool,raw:json";
    OK(import_text(db, NULL, &o,
                   "id,age,score,zip,when,flag,raw\n"
                   "t1,42,3,01234,2024-01-02T03:04:05Z,yes,\"{\"\"k\"\":[true]}\"\n",
                   &rep));
    OK(blazedb_get_doc(db, NULL, "typed", "t1", &d));
    int64_t iv;
    double dv;
    const char *sv;
    int bv;
    OK(blazedb_doc_get_int(d, "age", &iv));
    assert_int_equal(iv, 42);
    assert_int_equal(blazedb_doc_type(d, "score"), BLAZEDB_TYPE_DOUBLE);
    OK(blazedb_doc_get_double(d, "score", &dv));
    assert_true(dv == 3.0);
    OK(blazedb_doc_get_string(d, "zip", &sv, NULL));
    assert_string_equal(sv, "01234");
    OK(blazedb_doc_get_date(d, "when", &iv));
    assert_int_equal(iv, 1704164645000LL);
    OK(blazedb_doc_get_bool(d, "flag", &bv));
    assert_int_equal(bv, 1);
    OK(blazedb_doc_get_bool(d, "raw.k.0", &bv));
    blazedb_doc_free(d);
    /* a value that does not convert to its forced type is a bad record */
    assert_int_equal(import_text(db, NULL, &o, "id,age,score,zip,when,flag,raw\n"
                                                "t2,x,1,1,1,1,1\n", &rep),
                     BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "people.csv:2: column 'age': 'x' is not an integer"));
    /* csv_types naming a missing column, or an unknown type */
    o.csv_types = "nope:int";
    assert_int_equal(import_text(db, NULL, &o, "id,age\nz,1\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "no column 'nope'"));
    o.csv_types = "age:complex";
    assert_int_equal(import_text(db, NULL, &o, "id,age\nz,1\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "unknown type 'complex'"));
    o.csv_types = NULL;

    /* bad records, all or nothing: nothing is imported, the message names
     * the source, the line and the reason */
    struct {
        const char *text, *msg;
    } bad[] = {
        {"id,a,b\nr1,1,2\nr2,1\n", "people.csv:3: ragged row: 2 fields where the header has 3"},
        {"id,a,b\nr1,1,2,3\n", "people.csv:2: ragged row: 4 fields"},
        {"id,a\nr1,x\"y\n", "people.csv:2: field 2: a quote inside an unquoted field"},
        {"id,a\nr1,\"xy\"z\n", "people.csv:2: field 2: a closing quote must be followed"},
        {"id,a\nr1,ok\nr2,\"open\nstill open\n", "people.csv:3: a quoted field is not closed"},
        {"id,a\nr1,\xff\xfe\n", "people.csv:2: column 'a': invalid UTF-8"},
        {"id,a\nr1,\"\xc3\x28\"\n", "people.csv:2: column 'a': invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o.collection = "bad";
        BlazeDBResult rc = import_text(db, NULL, &o, bad[i].text, &rep);
        assert_int_equal(rc, BLAZEDB_INVALID_ARGUMENT);
        if (!strstr(blazedb_errmsg(db), bad[i].msg))
            fprintf(stderr, "case %zu: %s\n", i, blazedb_errmsg(db));
        assert_non_null(strstr(blazedb_errmsg(db), bad[i].msg));
        assert_int_equal(rep.imported, 0);
        assert_int_equal(rep.listed, 1);
        assert_non_null(strstr(rep.issues[0].message, bad[i].msg));
        char **names;
        size_t nn;
        OK(blazedb_collection_list(db, NULL, &names, &nn));
        for (size_t k = 0; k < nn; k++)
            assert_string_not_equal(names[k], "bad");
        blazedb_free(names);
    }
    /* the same with SKIP_BAD: the good rows go in, the bad ones are listed */
    o.flags = BLAZEDB_IMPORT_SKIP_BAD;
    o.collection = "skip";
    OK(import_text(db, NULL, &o,
                   "id,a,b\n"
                   "r1,1,2\n"
                   "r2,1\n"                 /* ragged */
                   "r3,x\"y,2\n"            /* bad quote: skipped to the line end */
                   "r4,\"multi\nline\",3\n" /* fine, spans lines 5-6 */
                   "r5,\xff,1\n"            /* invalid UTF-8 */
                   "r6,6,6\n",
                   &rep));
    assert_int_equal(rep.imported, 3);
    assert_int_equal(rep.skipped, 3);
    assert_int_equal(rep.bad, 3);
    assert_int_equal(rep.listed, 3);
    assert_int_equal(rep.issues[0].line, 3);
    assert_int_equal(rep.issues[1].line, 4);
    assert_int_equal(rep.issues[2].line, 7);
    assert_int_equal(rep.issues[2].offset, strlen("id,a,b\nr1,1,2\nr2,1\nr3,x\"y,2\nr4,\"multi\nline\",3\n"));
    assert_int_equal(count_of(db, "skip"), 3);
    int ex;
    OK(blazedb_exists(db, NULL, "skip", "r6", &ex));
    assert_true(ex);
    OK(blazedb_exists(db, NULL, "skip", "r4", &ex));
    assert_true(ex);
    /* bad headers end the import in both modes */
    assert_int_equal(import_text(db, NULL, &o, "id,a,a\nx,1,2\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "column 'a' appears twice"));
    assert_int_equal(import_text(db, NULL, &o, "id,a..b\nx,1\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(import_text(db, NULL, &o, "id,\"a\nx,1\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    /* a semicolon separator */
    o.flags = 0;
    o.collection = "semi";
    o.csv_separator = ';';
    OK(import_text(db, NULL, &o, "id;v\ns1;\"a;b\"\n", &rep));
    OK(blazedb_get_doc(db, NULL, "semi", "s1", &d));
    OK(blazedb_doc_get_string(d, "v", &sv, NULL));
    assert_string_equal(sv, "a;b");
    blazedb_doc_free(d);
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

/* ---- SQL ---------------------------------------------------------------------- */

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
static struct {
    void *h;
    int (*open)(const char *, sqlite3 **);
    int (*close)(sqlite3 *);
    int (*exec)(sqlite3 *, const char *, void *, void *, char **);
    int (*prepare)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*step)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*column_count)(sqlite3_stmt *);
    const char *(*column_name)(sqlite3_stmt *, int);
    int (*column_type)(sqlite3_stmt *, int);
    int64_t (*column_int64)(sqlite3_stmt *, int);
    double (*column_double)(sqlite3_stmt *, int);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    const char *(*errmsg)(sqlite3 *);
} sq;

static int load_sqlite(void)
{
    if (sq.h)
        return 1;
    sq.h = dlopen("libsqlite3.so.0", RTLD_NOW);
    if (!sq.h)
        return 0;
#define SYM(f, n) *(void **)&sq.f = dlsym(sq.h, n)
    SYM(open, "sqlite3_open");
    SYM(close, "sqlite3_close");
    SYM(exec, "sqlite3_exec");
    SYM(prepare, "sqlite3_prepare_v2");
    SYM(step, "sqlite3_step");
    SYM(finalize, "sqlite3_finalize");
    SYM(bind_text, "sqlite3_bind_text");
    SYM(column_count, "sqlite3_column_count");
    SYM(column_name, "sqlite3_column_name");
    SYM(column_type, "sqlite3_column_type");
    SYM(column_int64, "sqlite3_column_int64");
    SYM(column_double, "sqlite3_column_double");
    SYM(column_text, "sqlite3_column_text");
    SYM(column_blob, "sqlite3_column_blob");
    SYM(column_bytes, "sqlite3_column_bytes");
    SYM(errmsg, "sqlite3_errmsg");
#undef SYM
    return sq.open && sq.errmsg;
}

enum { SQ_INTEGER = 1, SQ_FLOAT = 2, SQ_TEXT = 3, SQ_BLOB = 4, SQ_NULL = 5, SQ_ROW = 100 };

/* Checks one column of a row against the document's value (the mapping in
 * blazedb.h). */
static void check_cell(sqlite3_stmt *st, int i, const BlazeDBDoc *d, const char *field,
                       const char *decl)
{
    BlazeDBType t = blazedb_doc_type(d, field);
    int ct = sq.column_type(st, i);
    switch (t) {
    case BLAZEDB_TYPE_MISSING:
    case BLAZEDB_TYPE_NULL:
        assert_int_equal(ct, SQ_NULL);
        break;
    case BLAZEDB_TYPE_BOOL: {
        int b;
        OK(blazedb_doc_get_bool(d, field, &b));
        if (strcmp(decl, "REAL") == 0) {
            assert_int_equal(ct, SQ_FLOAT);
            assert_true(sq.column_double(st, i) == b);
        } else {
            assert_int_equal(ct, SQ_INTEGER);
            assert_int_equal(sq.column_int64(st, i), b);
        }
        break;
    }
    case BLAZEDB_TYPE_INT: {
        int64_t v;
        OK(blazedb_doc_get_int(d, field, &v));
        if (strcmp(decl, "REAL") == 0 && ct == SQ_FLOAT) {
            assert_true(sq.column_double(st, i) == (double)v);
        } else {
            assert_int_equal(ct, SQ_INTEGER);
            assert_int_equal(sq.column_int64(st, i), v);
        }
        break;
    }
    case BLAZEDB_TYPE_DOUBLE: {
        double v;
        OK(blazedb_doc_get_double(d, field, &v));
        if (isnan(v)) {
            assert_int_equal(ct, SQ_NULL);
        } else {
            assert_int_equal(ct, SQ_FLOAT);
            double got = sq.column_double(st, i);
            /* SQLite may keep -0.0 as 0 in a REAL column, and its text
             * to double conversion (before 3.43) can be one unit in the
             * last place off for 17-digit numbers; infinities exactly */
            if (isinf(v))
                assert_true(got == v);
            else
                assert_true(fabs(got - v) <= fabs(v) * 4e-16);
        }
        break;
    }
    case BLAZEDB_TYPE_STRING: {
        const char *s;
        size_t n;
        OK(blazedb_doc_get_string(d, field, &s, &n));
        assert_int_equal(ct, SQ_TEXT);
        if ((size_t)sq.column_bytes(st, i) != n) {
            fprintf(stderr, "field %s: want %zu bytes:", field, n);
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, " %02x", (unsigned char)s[k]);
            fprintf(stderr, "\n got %d bytes:", sq.column_bytes(st, i));
            for (int k = 0; k < sq.column_bytes(st, i); k++)
                fprintf(stderr, " %02x", ((const unsigned char *)sq.column_blob(st, i))[k]);
            fprintf(stderr, "\n");
        }
        assert_int_equal(sq.column_bytes(st, i), n);
        assert_memory_equal(sq.column_blob(st, i), s, n);
        break;
    }
    case BLAZEDB_TYPE_BYTES: {
        const void *p;
        size_t n;
        OK(blazedb_doc_get_bytes(d, field, &p, &n));
        assert_int_equal(ct, SQ_BLOB);
        assert_int_equal(sq.column_bytes(st, i), n);
        if (n)
            assert_memory_equal(sq.column_blob(st, i), p, n);
        break;
    }
    default: { /* uuid, date, array, object, vector: text */
        char *j;
        OK(blazedb_doc_get_json(d, field, 0, &j, NULL));
        assert_int_equal(ct, SQ_TEXT);
        const char *got = (const char *)sq.column_text(st, i);
        if (t == BLAZEDB_TYPE_UUID || t == BLAZEDB_TYPE_DATE) {
            /* {"$uuid":"..."} / {"$date":"..."}: the text is the quoted part,
             * or for a date beyond year 9999 the JSON itself */
            const char *q = strchr(j, ':');
            if (q[1] == '"') {
                size_t l = strlen(q + 2) - 2;
                assert_int_equal(strlen(got), l);
                assert_memory_equal(got, q + 2, l);
            } else {
                assert_string_equal(got, j);
            }
        } else {
            assert_string_equal(got, j);
        }
        blazedb_free(j);
    }
    }
}

static void test_sql_export(void **s)
{
    (void)s;
    if (!load_sqlite()) {
        fprintf(stderr, "test_sql_export: SKIPPED (libsqlite3.so.0 not found)\n");
        skip();
    }
    char *dir = tu_mkdtemp("export");
    BlazeDB *db = open_db(dir, "a.blazedb");
    fill_random(db, tu_seed("sql_export"), 300);
    /* names that need care in SQL */
    BlazeDBDoc *d;
    const char *j = "{\"id\":\"it's\",\"select\":1,\"SELECT\":2,\"a\\\"b\":\"x\",\"nul\":\"a\\u0000b\"}";
    OK(blazedb_doc_from_json(j, strlen(j), &d));
    OK(blazedb_insert(db, NULL, "sqlite_stat", d));
    OK(blazedb_insert(db, NULL, "Things", d));
    blazedb_doc_free(d);

    char *file = tu_path(dir, "dump.sql"), *sqlite_path = tu_path(dir, "out.sqlite");
    BlazeDBExportOptions eo;
    blazedb_export_options_init(&eo);
    eo.format = BLAZEDB_FORMAT_SQL;
    uint64_t n;
    OK(blazedb_export_file(db, NULL, &eo, file, &n));

    /* load it with the sqlite3 shell as it is, or else with sqlite3_exec */
    sqlite3 *sdb;
    int shell = access("/usr/bin/sqlite3", X_OK) == 0;
    if (shell) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "/usr/bin/sqlite3 -bail '%s' < '%s' 2>&1", sqlite_path, file);
        int st = system(cmd);
        assert_int_equal(st, 0);
        assert_int_equal(sq.open(sqlite_path, &sdb), 0);
    } else {
        fprintf(stderr, "test_sql_export: no sqlite3 shell; loading with sqlite3_exec\n");
        FILE *f = fopen(file, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *sql = malloc((size_t)len + 1);
        assert_int_equal(fread(sql, 1, (size_t)len, f), (size_t)len);
        sql[len] = 0;
        fclose(f);
        assert_int_equal(sq.open(sqlite_path, &sdb), 0);
        char *err = NULL;
        int rc = sq.exec(sdb, sql, NULL, NULL, &err);
        if (rc)
            fprintf(stderr, "sqlite: %s\n", err);
        assert_int_equal(rc, 0);
        free(sql);
    }

    /* row by row: every table, every document, every column */
    struct {
        const char *coll, *table;
    } tabs[] = {{"Things", "Things"}, {"things", "things_2"}, {"plain", "plain"},
                {"sqlite_stat", "_sqlite_stat"}, {"weird \"name\"", "weird \"name\""},
                {"empty", "empty"}};
    uint64_t rows_total = 0;
    for (size_t t = 0; t < sizeof tabs / sizeof *tabs; t++) {
        char q[300], tq[128];
        size_t k = 0;
        for (const char *p = tabs[t].table; *p; p++) {
            if (*p == '"')
                tq[k++] = '"';
            tq[k++] = *p;
        }
        tq[k] = 0;
        /* declared types, by column */
        char decl[64][16];
        char names[64][64];
        int ncol = 0;
        snprintf(q, sizeof q, "SELECT name, type FROM pragma_table_info('%s')", tabs[t].table);
        sqlite3_stmt *st;
        assert_int_equal(sq.prepare(sdb, q, -1, &st, NULL), 0);
        while (sq.step(st) == SQ_ROW && ncol < 64) {
            snprintf(names[ncol], sizeof names[ncol], "%s", sq.column_text(st, 0));
            snprintf(decl[ncol], sizeof decl[ncol], "%s", sq.column_text(st, 1));
            ncol++;
        }
        sq.finalize(st);
        assert_true(ncol >= 1);
        assert_string_equal(names[0], "id");
        snprintf(q, sizeof q, "SELECT * FROM \"%s\" ORDER BY id", tq);
        if (sq.prepare(sdb, q, -1, &st, NULL))
            fprintf(stderr, "%s: %s\n", q, sq.errmsg(sdb));
        BlazeDBDocCursor *cur;
        OK(blazedb_doc_cursor_open(db, NULL, tabs[t].coll, NULL, &cur));
        size_t rows = 0;
        while (sq.step(st) == SQ_ROW) {
            BlazeDBDoc *doc;
            OK(blazedb_doc_cursor_next(cur, &doc));
            const char *id;
            OK(blazedb_doc_get_string(doc, "id", &id, NULL));
            assert_string_equal((const char *)sq.column_text(st, 0), id);
            /* every field of the document has a column; columns the
             * document lacks are NULL */
            assert_int_equal(sq.column_count(st), ncol);
            for (int c = 1; c < ncol; c++) {
                /* the field behind the column: its name, or for a column
                 * renamed x_2 (a field "x" after "X"), x */
                char field[64];
                snprintf(field, sizeof field, "%s", names[c]);
                size_t fl = strlen(field);
                if (fl > 2 && strcmp(field + fl - 2, "_2") == 0)
                    field[fl - 2] = 0;
                check_cell(st, c, doc, field, decl[c]);
            }
            size_t nf = blazedb_doc_len(doc, "");
            assert_true(nf <= (size_t)ncol);
            blazedb_doc_free(doc);
            rows++;
        }
        BlazeDBDoc *extra = NULL;
        assert_int_equal(blazedb_doc_cursor_next(cur, &extra), BLAZEDB_NOT_FOUND);
        blazedb_doc_cursor_close(cur);
        sq.finalize(st);
        assert_int_equal(rows, count_of(db, tabs[t].coll));
        rows_total += rows;
    }
    assert_int_equal(rows_total, n);
    sq.close(sdb);
    free(file);
    free(sqlite_path);
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

/* ---- import semantics ----------------------------------------------------------- */

static void test_skip_bad_and_errors(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp("export");
    BlazeDB *db = open_db(dir, "a.blazedb");
    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.collection = "c";
    o.source_name = "in.ndjson";
    o.flags = BLAZEDB_IMPORT_SKIP_BAD;
    o.batch_size = 2; /* several commits */
    BlazeDBImportReport rep;
    const char *text = "{\"id\":\"a\"}\n"
                       "{\"id\":\"b\",}\n"          /* malformed */
                       "\n"
                       "  {\"id\":\"c\"}  \r\n"
                       "[1,2]\n"                    /* not an object */
                       "{\"id\":\"a\"}\n"           /* id taken */
                       "{\"id\":\"d\"} trailing\n"  /* trailing garbage */
                       "{\"id\":\"\xc3\x28\"}\n"    /* invalid UTF-8 */
                       "{\"id\":5}\n"               /* id not a string */
                       "{\"id\":\"e\"}";
    OK(import_text(db, NULL, &o, text, &rep));
    assert_int_equal(rep.imported, 3);
    assert_int_equal(rep.skipped, 6);
    assert_int_equal(rep.listed, 6);
    const uint64_t lines[] = {2, 5, 6, 7, 8, 9};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rep.issues[i].line, lines[i]);
        assert_true(strncmp(rep.issues[i].message, "in.ndjson:", 10) == 0);
    }
    assert_int_equal(rep.issues[2].code, BLAZEDB_EXISTS);
    assert_int_equal(rep.issues[1].offset, strlen("{\"id\":\"a\"}\n{\"id\":\"b\",}\n\n  {\"id\":\"c\"}  \r\n"));
    assert_non_null(strstr(rep.issues[3].message, "in.ndjson:7: "));
    assert_int_equal(count_of(db, "c"), 3);

    /* all or nothing (the default): the first bad record stops everything */
    o.flags = 0;
    o.collection = "d";
    assert_int_equal(import_text(db, NULL, &o, text, &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "in.ndjson:2: "));
    assert_int_equal(rep.imported, 0);
    assert_int_equal(blazedb_count(db, NULL, "d", &(uint64_t){0}), BLAZEDB_NOT_FOUND);

    /* JSON: structure errors and trailing garbage end the import with the
     * offset; a bad element is a bad record with its offset */
    o.format = BLAZEDB_FORMAT_JSON;
    o.source_name = "in.json";
    struct {
        const char *text, *msg;
        BlazeDBResult rc;
    } js[] = {
        {"[{\"id\":\"x\"}] junk", "in.json: line 1: trailing garbage after the JSON array at byte 13", BLAZEDB_INVALID_ARGUMENT},
        {"[{\"id\":\"x\"},\n{\"id\":\"y\"}]\n]", "line 3: trailing garbage after the JSON array at byte 25", BLAZEDB_INVALID_ARGUMENT},
        {"[{\"id\":\"x\"}", "no closing ']'", BLAZEDB_INVALID_ARGUMENT},
        {"[{\"id\":\"x\"},]", "expected a value after ','", BLAZEDB_INVALID_ARGUMENT},
        {"[{\"id\":\"x\"} {\"id\":\"y\"}]", "expected ',' or ']' at byte 12", BLAZEDB_INVALID_ARGUMENT},
        {"[{\"id\":\"x\"},\n {\"id\":\"unterminated}]", "line 2: the record starting at byte 14 is not closed", BLAZEDB_INVALID_ARGUMENT},
        {"{\"id\":\"x\"}", "expected a JSON array", BLAZEDB_INVALID_ARGUMENT},
        {"[{\"id\":\"x\"},\n  {\"id\":tru}]", "in.json:2 (byte 15): ", BLAZEDB_INVALID_ARGUMENT},
    };
    for (size_t i = 0; i < sizeof js / sizeof *js; i++) {
        BlazeDBResult rc = import_text(db, NULL, &o, js[i].text, &rep);
        if (rc != js[i].rc || !strstr(blazedb_errmsg(db), js[i].msg))
            fprintf(stderr, "json case %zu: %d %s\n", i, rc, blazedb_errmsg(db));
        assert_int_equal(rc, js[i].rc);
        assert_non_null(strstr(blazedb_errmsg(db), js[i].msg));
        assert_int_equal(blazedb_count(db, NULL, "d", &(uint64_t){0}), BLAZEDB_NOT_FOUND);
    }
    /* with SKIP_BAD a bad element is skipped, a broken structure still fails */
    o.flags = BLAZEDB_IMPORT_SKIP_BAD;
    OK(import_text(db, NULL, &o, "[{\"id\":\"x\"}, 5, {\"id\":tru}, {\"id\":\"y\"}]", &rep));
    assert_int_equal(rep.imported, 2);
    assert_int_equal(rep.skipped, 2);
    assert_int_equal(rep.issues[0].offset, 13);
    assert_int_equal(rep.issues[1].offset, 16);
    assert_int_equal(import_text(db, NULL, &o, "[{\"id\":\"z\"}] x", &rep), BLAZEDB_INVALID_ARGUMENT);

    /* no collection and no marker */
    o.collection = NULL;
    o.format = BLAZEDB_FORMAT_NDJSON;
    assert_int_equal(import_text(db, NULL, &o, "{\"id\":\"q\"}\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "no collection"));
    /* a malformed marker */
    assert_int_equal(import_text(db, NULL, &o, "{\"$collection\":5}\n", &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "malformed $collection"));
    /* SQL is not an import format; a read error is reported */
    o.format = BLAZEDB_FORMAT_SQL;
    assert_int_equal(import_text(db, NULL, &o, "", &rep), BLAZEDB_INVALID_ARGUMENT);
    /* a missing file */
    o.format = BLAZEDB_FORMAT_NDJSON;
    o.collection = "c";
    assert_int_equal(blazedb_import_file(db, NULL, &o, "/nonexistent/x.ndjson", NULL), BLAZEDB_NOT_FOUND);
    assert_non_null(strstr(blazedb_errmsg(db), "/nonexistent/x.ndjson"));
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

static void test_upsert_and_all_or_nothing(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp("export");
    BlazeDB *db = open_db(dir, "a.blazedb");
    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.collection = "u";
    BlazeDBImportReport rep;
    OK(import_text(db, NULL, &o, "{\"id\":\"a\",\"v\":1}\n{\"id\":\"b\",\"v\":1}\n", &rep));
    BlazeDBDoc *d;
    int64_t created, v;
    OK(blazedb_get_doc(db, NULL, "u", "a", &d));
    OK(blazedb_doc_get_date(d, "createdAt", &created));
    blazedb_doc_free(d);
    /* without UPSERT an existing id is a bad record: nothing changes */
    const char *again = "{\"id\":\"c\",\"v\":2}\n{\"id\":\"a\",\"v\":2}\n";
    assert_int_equal(import_text(db, NULL, &o, again, &rep), BLAZEDB_EXISTS);
    assert_non_null(strstr(blazedb_errmsg(db), "input:2: "));
    assert_int_equal(count_of(db, "u"), 2);
    /* with UPSERT it replaces (createdAt kept as stored, no createdAt in the input) */
    o.flags = BLAZEDB_IMPORT_UPSERT;
    OK(import_text(db, NULL, &o, again, &rep));
    assert_int_equal(rep.imported, 2);
    assert_int_equal(count_of(db, "u"), 3);
    OK(blazedb_get_doc(db, NULL, "u", "a", &d));
    OK(blazedb_doc_get_int(d, "v", &v));
    assert_int_equal(v, 2);
    int64_t c2;
    OK(blazedb_doc_get_date(d, "createdAt", &c2));
    assert_int_equal(c2, created);
    blazedb_doc_free(d);
    /* timestamps in the input are kept, a missing updatedAt is set */
    OK(import_text(db, NULL, &o,
                   "{\"id\":\"b\",\"createdAt\":{\"$date\":\"2001-02-03T04:05:06.789Z\"},"
                   "\"updatedAt\":{\"$date\":1000}}\n"
                   "{\"id\":\"t\",\"createdAt\":{\"$date\":5}}\n",
                   &rep));
    OK(blazedb_get_doc(db, NULL, "u", "b", &d));
    OK(blazedb_doc_get_date(d, "createdAt", &v));
    assert_int_equal(v, 981173106789LL);
    OK(blazedb_doc_get_date(d, "updatedAt", &v));
    assert_int_equal(v, 1000);
    blazedb_doc_free(d);
    OK(blazedb_get_doc(db, NULL, "u", "t", &d));
    OK(blazedb_doc_get_date(d, "createdAt", &v));
    assert_int_equal(v, 5);
    OK(blazedb_doc_get_date(d, "updatedAt", &v));
    assert_true(v > 1600000000000LL);
    blazedb_doc_free(d);
    /* the collection still stamps ordinary inserts */
    OK(blazedb_doc_from_json("{\"id\":\"n\"}", 10, &d));
    OK(blazedb_insert(db, NULL, "u", d));
    assert_int_equal(blazedb_doc_type(d, "createdAt"), BLAZEDB_TYPE_DATE);
    blazedb_doc_free(d);

    /* all or nothing, 2,500 good documents then a bad one (several chunks,
     * a new collection and a marker): the database is unchanged */
    size_t cap = 200000, len = 0;
    char *big = malloc(cap);
    len += (size_t)snprintf(big + len, cap - len, "{\"$collection\":\"fresh\"}\n");
    for (int i = 0; i < 2500; i++)
        len += (size_t)snprintf(big + len, cap - len, "{\"id\":\"k%d\",\"createdAt\":{\"$date\":%d}}\n", i, i);
    len += (size_t)snprintf(big + len, cap - len, "{\"$collection\":\"u\"}\n{\"id\":\"zz\"}\n{oops}\n");
    o.flags = 0;
    uint64_t before = count_of(db, "u");
    assert_int_equal(import_text(db, NULL, &o, big, &rep), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "input:2504: "));
    assert_int_equal(rep.imported, 0);
    assert_int_equal(count_of(db, "u"), before);
    assert_int_equal(blazedb_count(db, NULL, "fresh", &(uint64_t){0}), BLAZEDB_NOT_FOUND);
    /* the same in a caller's transaction: rolled back to where it was, the
     * transaction goes on */
    BlazeDBTxn *t;
    OK(blazedb_txn_begin(db, 0, &t));
    OK(blazedb_doc_from_json("{\"id\":\"mine\"}", 13, &d));
    OK(blazedb_insert(db, t, "u", d));
    blazedb_doc_free(d);
    assert_int_equal(import_text(db, t, &o, big, &rep), BLAZEDB_INVALID_ARGUMENT);
    OK(blazedb_txn_commit(t));
    assert_int_equal(count_of(db, "u"), before + 1);
    assert_int_equal(blazedb_count(db, NULL, "fresh", &(uint64_t){0}), BLAZEDB_NOT_FOUND);
    /* and without the bad record it all goes in, stamps kept */
    big[len - strlen("{oops}\n")] = 0;
    OK(import_text(db, NULL, &o, big, &rep));
    assert_int_equal(rep.imported, 2501);
    assert_int_equal(count_of(db, "fresh"), 2500);
    OK(blazedb_get_doc(db, NULL, "fresh", "k2499", &d));
    OK(blazedb_doc_get_date(d, "createdAt", &v));
    assert_int_equal(v, 2499);
    blazedb_doc_free(d);
    /* a read-only transaction */
    OK(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t));
    assert_int_equal(import_text(db, t, &o, "{\"id\":\"r\"}\n", &rep), BLAZEDB_READONLY);
    blazedb_txn_abort(t);
    free(big);
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

/* ---- cancellation and failing targets -------------------------------------------- */

static int cancel_at;
static int progress_calls;
static int progress_cb(uint64_t done, uint64_t total, void *arg)
{
    (void)arg;
    assert_true(total == 0 || done <= total);
    return ++progress_calls >= cancel_at;
}

static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_cancel_and_failures(void **s)
{
    (void)s;
    char *dir = tu_mkdtemp("export");
    BlazeDB *db = open_db(dir, "a.blazedb");
    BlazeDBTxn *t;
    OK(blazedb_txn_begin(db, 0, &t));
    for (int i = 0; i < 20000; i++) {
        char j[64];
        int n = snprintf(j, sizeof j, "{\"id\":\"d%05d\",\"v\":%d}", i, i);
        BlazeDBDoc *d;
        OK(blazedb_doc_from_json(j, (size_t)n, &d));
        OK(blazedb_insert(db, t, "c", d));
        blazedb_doc_free(d);
    }
    OK(blazedb_txn_commit(t));
    char *out = tu_path(dir, "out");
    mkdir(out, 0700);
    char *target = tu_path(out, "x.ndjson");

    /* export: cancel from the progress callback, no file left */
    BlazeDBExportOptions eo;
    blazedb_export_options_init(&eo);
    eo.collection = "c";
    eo.progress = progress_cb;
    cancel_at = 2;
    progress_calls = 0;
    assert_int_equal(blazedb_export_file(db, NULL, &eo, target, NULL), BLAZEDB_CANCELLED);
    assert_int_equal(files_in(out), 0);
    /* the complete export calls it to the end */
    cancel_at = 1000000;
    progress_calls = 0;
    uint64_t n;
    OK(blazedb_export_file(db, NULL, &eo, target, &n));
    assert_int_equal(n, 20000);
    assert_true(progress_calls >= 2);
    assert_int_equal(files_in(out), 1);

    /* an unwritable target: nothing created, the message names it */
    assert_int_equal(blazedb_export_file(db, NULL, &eo, "/nonexistent-dir/x.ndjson", NULL),
                     BLAZEDB_IO_ERROR);
    assert_non_null(strstr(blazedb_errmsg(db), "/nonexistent-dir/x.ndjson"));
    /* a target that is a directory: the rename fails, no temporary file stays */
    assert_int_equal(blazedb_export_file(db, NULL, &eo, out, NULL), BLAZEDB_IO_ERROR);
    {
        DIR *dd = opendir(dir);
        struct dirent *e;
        while ((e = readdir(dd)))
            assert_null(strstr(e->d_name, ".tmp-"));
        closedir(dd);
    }
    /* a write failure mid-way (file size limit): the old file stays as it was */
    struct stat before, after;
    assert_int_equal(stat(target, &before), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 100000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    BlazeDBResult rc = blazedb_export_file(db, NULL, &eo, target, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc, BLAZEDB_IO_ERROR);
    assert_non_null(strstr(blazedb_errmsg(db), "cannot write"));
    assert_int_equal(files_in(out), 1);
    assert_int_equal(stat(target, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_ino, before.st_ino);
    /* a full disk, through the callback */
    Mem m = {0};
    m.fail_after = 70000;
    m.fail_code = BLAZEDB_FULL;
    assert_int_equal(blazedb_export(db, NULL, &eo, mem_write, &m, NULL), BLAZEDB_FULL);
    free(m.p);

    /* import: cancel; with all or nothing nothing is imported */
    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.collection = "again";
    o.progress = progress_cb;
    cancel_at = 3;
    progress_calls = 0;
    BlazeDBImportReport rep = {.struct_size = sizeof rep};
    assert_int_equal(blazedb_import_file(db, NULL, &o, target, &rep), BLAZEDB_CANCELLED);
    assert_int_equal(rep.imported, 0);
    assert_int_equal(blazedb_count(db, NULL, "again", &n), BLAZEDB_NOT_FOUND);
    /* SKIP_BAD commits batches: those before the cancel stay */
    o.flags = BLAZEDB_IMPORT_SKIP_BAD;
    o.batch_size = 1000;
    progress_calls = 0;
    assert_int_equal(blazedb_import_file(db, NULL, &o, target, &rep), BLAZEDB_CANCELLED);
    OK(blazedb_count(db, NULL, "again", &n));
    assert_int_equal(n, rep.imported);
    assert_true(n >= 1000 && n < 20000);
    /* the whole file */
    o.collection = "whole";
    cancel_at = 1000000;
    progress_calls = 0;
    OK(blazedb_import_file(db, NULL, &o, target, &rep));
    assert_int_equal(rep.imported, 20000);
    assert_same_collection(db, "c", db, "whole");
    free(target);
    free(out);
    blazedb_close(db);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_roundtrip),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_one_collection),
        cmocka_unit_test(test_csv_export_and_back),
        cmocka_unit_test(test_csv_import_edge_cases),
        cmocka_unit_test(test_sql_export),
        cmocka_unit_test(test_skip_bad_and_errors),
        cmocka_unit_test(test_upsert_and_all_or_nothing),
        cmocka_unit_test(test_cancel_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
