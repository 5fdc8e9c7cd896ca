/*
 * test_api.c — semantics of every public function of include/blazedb.h and
 * every documented error path: open/create/reopen and its failures, the
 * original byte-KV calls, binary keys, size limits, large values, batches,
 * transactions, rekey, checkpoint, statistics, error messages, plaintext
 * databases, durability modes, and a 100k-key run checked against a model.
 *
 * Uses cheap key derivation (PBKDF2, 1 iteration) except in the one test
 * that checks blazedb_open with its default Argon2id.  The 256 MiB value
 * test runs only when BLAZEDB_LONG_TESTS is set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blazedb.h"

/* ---- helpers --------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    remove(p);
    return 0;
}

/* A fresh empty directory under $TMPDIR (or /tmp); free with dir_remove. */
static char *dir_make(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/blazedb-api-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void dir_remove(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void fast_opts(BlazeDBOptions *o)
{
    blazedb_options_init(o);
    o->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o->kdf_iterations = 1;
}

static BlazeDB *open_fast(const char *path, const char *pw)
{
    BlazeDBOptions o;
    fast_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, pw, &o, &db);
    if (rc != BLAZEDB_OK)
        fail_msg("open %s: %s (%s)", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    assert_non_null(db);
    return db;
}

static BlazeDBResult open_with(const char *path, const char *pw, uint32_t flags,
                               BlazeDB **out)
{
    BlazeDBOptions o;
    fast_opts(&o);
    o.flags = flags;
    return blazedb_open_ex(path, pw, &o, out);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void expect_val(BlazeDB *db, const char *key, const void *val, size_t len)
{
    void *d = NULL;
    size_t l = 12345;
    BlazeDBResult rc = blazedb_get(db, key, &d, &l);
    if (rc != BLAZEDB_OK)
        fail_msg("get %s: %s (%s)", key, blazedb_strerror(rc), blazedb_errmsg(db));
    assert_non_null(d);
    assert_int_equal(l, len);
    if (len)
        assert_memory_equal(d, val, len);
    blazedb_free(d);
}

static void expect_absent(BlazeDB *db, const char *key)
{
    void *d = (void *)&d;
    size_t l = 777;
    assert_int_equal(blazedb_get(db, key, &d, &l), BLAZEDB_NOT_FOUND);
    assert_null(d);
    assert_int_equal(l, 0);
}

static void expect_str(BlazeDB *db, const char *key, const char *val)
{
    expect_val(db, key, val, strlen(val));
}

static void get_stats(BlazeDB *db, BlazeDBStats *st)
{
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    assert_int_equal(blazedb_stats(db, st), BLAZEDB_OK);
}

static off_t file_size(const char *p)
{
    struct stat sb;
    if (stat(p, &sb) != 0)
        return -1;
    return sb.st_size;
}

/* ---- open / create / reopen ------------------------------------------------- */

static void test_open_create_reopen(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    assert_true(file_size(path) > 0);
    assert_int_equal(blazedb_put(db, "hello", "world", 5), BLAZEDB_OK);
    blazedb_close(db);

    /* Reopen without CREATE: must find it. */
    db = NULL;
    assert_int_equal(open_with(path, "pw", 0, &db), BLAZEDB_OK);
    assert_non_null(db);
    expect_str(db, "hello", "world");
    blazedb_close(db);

    /* And with the default flags (CREATE) it opens the same database. */
    db = open_fast(path, "pw");
    expect_str(db, "hello", "world");
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void test_open_default_argon2(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = blazedb_open(path, "correct horse");
    assert_non_null(db);
    assert_int_equal(blazedb_put(db, "k", "v1", 2), BLAZEDB_OK);
    blazedb_close(db);

    assert_null(blazedb_open(path, "wrong horse"));
    assert_null(blazedb_open(path, NULL));
    assert_null(blazedb_open(path, ""));

    /* blazedb_open_ex with NULL options is the same as blazedb_open. */
    db = NULL;
    assert_int_equal(blazedb_open_ex(path, "wrong horse", NULL, &db), BLAZEDB_AUTH_FAILED);
    assert_null(db);
    assert_int_equal(blazedb_open_ex(path, "correct horse", NULL, &db), BLAZEDB_OK);
    expect_str(db, "k", "v1");
    blazedb_close(db);

    db = blazedb_open(path, "correct horse");
    assert_non_null(db);
    expect_str(db, "k", "v1");
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void test_open_bad_arguments(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    BlazeDB *db = (BlazeDB *)&o; /* must be reset to NULL on failure */

    assert_null(blazedb_open(path, NULL));
    assert_null(blazedb_open(path, ""));
    assert_null(blazedb_open(NULL, "pw"));

    assert_int_equal(blazedb_open_ex(path, NULL, &o, &db), BLAZEDB_INVALID_ARGUMENT);
    assert_null(db);
    assert_true(strlen(blazedb_errmsg(NULL)) > 0);
    db = (BlazeDB *)&o;
    assert_int_equal(blazedb_open_ex(path, "", &o, &db), BLAZEDB_INVALID_ARGUMENT);
    assert_null(db);
    assert_int_equal(blazedb_open_ex(NULL, "pw", &o, &db), BLAZEDB_INVALID_ARGUMENT);
    assert_null(db);
    assert_int_equal(blazedb_open_ex(path, "pw", &o, NULL), BLAZEDB_INVALID_ARGUMENT);

    /* Bad options. */
    BlazeDBOptions b = o;
    b.page_size = 1000;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    b = o;
    b.page_size = 131072;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    b = o;
    b.page_size = 2048;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    b = o;
    b.kdf = (BlazeDBKdf)77;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    b = o;
    b.durability = (BlazeDBDurability)9;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    b = o;
    b.flags = BLAZEDB_OPEN_CREATE | 0x8000u;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    b = o;
    b.struct_size = 3;
    assert_int_equal(blazedb_open_ex(path, "pw", &b, &db), BLAZEDB_INVALID_ARGUMENT);
    assert_null(db);
    assert_true(strlen(blazedb_errmsg(NULL)) > 0);

    /* None of the failures may have created the file. */
    assert_int_equal(file_size(path), -1);

    /* Every supported page size works. */
    for (uint32_t ps = 4096; ps <= 65536; ps *= 2) {
        char name[32];
        snprintf(name, sizeof name, "ps%u", ps);
        char *p2 = path_in(dir, name);
        b = o;
        b.page_size = ps;
        assert_int_equal(blazedb_open_ex(p2, "pw", &b, &db), BLAZEDB_OK);
        BlazeDBStats st;
        get_stats(db, &st);
        assert_int_equal(st.page_size, ps);
        assert_int_equal(blazedb_put(db, "a", "b", 1), BLAZEDB_OK);
        blazedb_close(db);
        /* Reopen with a different page_size option: the file's wins. */
        b.page_size = 0;
        assert_int_equal(blazedb_open_ex(p2, "pw", &b, &db), BLAZEDB_OK);
        get_stats(db, &st);
        assert_int_equal(st.page_size, ps);
        expect_str(db, "a", "b");
        blazedb_close(db);
        free(p2);
    }
    free(path);
    dir_remove(dir);
}

static void test_open_wrong_password(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "right");
    assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
    blazedb_close(db);

    db = (BlazeDB *)dir;
    assert_int_equal(open_with(path, "wrong", BLAZEDB_OPEN_CREATE, &db), BLAZEDB_AUTH_FAILED);
    assert_null(db);
    assert_true(strlen(blazedb_errmsg(NULL)) > 0);
    assert_null(blazedb_open(path, "wrong"));
    /* A wrong password while another handle has it open. */
    BlazeDB *h = open_fast(path, "right");
    assert_int_equal(open_with(path, "Right", 0, &db), BLAZEDB_AUTH_FAILED);
    assert_int_equal(open_with(path, "right\n", 0, &db), BLAZEDB_AUTH_FAILED);
    expect_str(h, "k", "v");
    blazedb_close(h);
    db = open_fast(path, "right");
    expect_str(db, "k", "v");
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void test_open_exclusive_and_missing(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = NULL;

    /* Absent and no CREATE: NOT_FOUND, and nothing is created. */
    assert_int_equal(open_with(path, "pw", 0, &db), BLAZEDB_NOT_FOUND);
    assert_null(db);
    assert_true(strlen(blazedb_errmsg(NULL)) > 0);
    assert_int_equal(file_size(path), -1);
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_READONLY, &db), BLAZEDB_NOT_FOUND);
    assert_int_equal(file_size(path), -1);

    /* EXCLUSIVE on an absent file creates it. */
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE, &db),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
    blazedb_close(db);

    /* EXCLUSIVE on an existing file: EXISTS, and the database is untouched. */
    db = (BlazeDB *)dir;
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE, &db),
                     BLAZEDB_EXISTS);
    assert_null(db);
    assert_true(strlen(blazedb_errmsg(NULL)) > 0);
    db = open_fast(path, "pw");
    expect_str(db, "k", "v");
    /* ...also while a handle has it open. */
    BlazeDB *db2 = NULL;
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE, &db2),
                     BLAZEDB_EXISTS);
    assert_null(db2);
    expect_str(db, "k", "v");
    blazedb_close(db);

    /* A missing parent directory is not silently created. */
    char *deep = path_in(dir, "no/such/dir/db");
    assert_int_not_equal(open_with(deep, "pw", BLAZEDB_OPEN_CREATE, &db), BLAZEDB_OK);
    assert_null(db);
    free(deep);
    free(path);
    dir_remove(dir);
}

static void test_readonly_handle(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
    blazedb_close(db);

    BlazeDB *ro = NULL;
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_READONLY, &ro), BLAZEDB_OK);
    expect_str(ro, "k", "v");
    assert_int_equal(blazedb_put(ro, "k", "w", 1), BLAZEDB_READONLY);
    assert_true(strlen(blazedb_errmsg(ro)) > 0);
    assert_int_equal(blazedb_put(ro, "new", "w", 1), BLAZEDB_READONLY);
    assert_int_equal(blazedb_delete(ro, "k"), BLAZEDB_READONLY);
    assert_int_equal(blazedb_put2(ro, "x", 1, "y", 1), BLAZEDB_READONLY);
    assert_int_equal(blazedb_delete2(ro, "k", 1), BLAZEDB_READONLY);
    BlazeDBWrite w = { "z", 1, "1", 1, 0 };
    assert_int_equal(blazedb_write_batch(ro, &w, 1), BLAZEDB_READONLY);
    assert_int_equal(blazedb_rekey(ro, "other", NULL), BLAZEDB_READONLY);
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc = blazedb_txn_begin(ro, 0, &t);
    if (rc == BLAZEDB_OK) {
        assert_int_equal(blazedb_txn_put(t, "q", 1, "r", 1), BLAZEDB_READONLY);
        blazedb_txn_abort(t);
    } else {
        assert_int_equal(rc, BLAZEDB_READONLY);
        assert_null(t);
    }
    /* Read transactions and iterators work. */
    assert_int_equal(blazedb_txn_begin(ro, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    void *d = NULL;
    size_t l = 0;
    assert_int_equal(blazedb_txn_get(t, "k", 1, &d, &l), BLAZEDB_OK);
    assert_int_equal(l, 1);
    blazedb_free(d);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    expect_str(ro, "k", "v");
    expect_absent(ro, "new");

    /* A writer alongside the read-only handle; the latter sees its commits. */
    db = open_fast(path, "pw");
    assert_int_equal(blazedb_put(db, "k2", "v2", 2), BLAZEDB_OK);
    expect_str(ro, "k2", "v2");
    blazedb_close(db);
    blazedb_close(ro);
    free(path);
    dir_remove(dir);
}

/* ---- put / get / delete ------------------------------------------------------ */

static void test_put_get_delete(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");

    expect_absent(db, "a");
    assert_int_equal(blazedb_put(db, "a", "one", 3), BLAZEDB_OK);
    expect_str(db, "a", "one");
    /* Upsert: longer, then shorter. */
    assert_int_equal(blazedb_put(db, "a", "three-three", 11), BLAZEDB_OK);
    expect_str(db, "a", "three-three");
    assert_int_equal(blazedb_put(db, "a", "2", 1), BLAZEDB_OK);
    expect_str(db, "a", "2");
    /* Keys differing only in length. */
    assert_int_equal(blazedb_put(db, "ab", "x", 1), BLAZEDB_OK);
    expect_str(db, "a", "2");
    expect_str(db, "ab", "x");
    expect_absent(db, "abc");
    expect_absent(db, "b");

    /* Delete; deleting again and deleting an absent key are OK. */
    assert_int_equal(blazedb_delete(db, "a"), BLAZEDB_OK);
    expect_absent(db, "a");
    expect_str(db, "ab", "x");
    assert_int_equal(blazedb_delete(db, "a"), BLAZEDB_OK);
    assert_int_equal(blazedb_delete(db, "never-there"), BLAZEDB_OK);
    assert_int_equal(blazedb_delete2(db, "zz\0", 3), BLAZEDB_OK);
    /* Re-insert after delete. */
    assert_int_equal(blazedb_put(db, "a", "back", 4), BLAZEDB_OK);
    expect_str(db, "a", "back");

    /* get with NULL length pointer is allowed for the data?  The header only
     * says the pointers may be NULL on failure; test NULL data on absent. */
    void *d = (void *)1;
    size_t l = 99;
    assert_int_equal(blazedb_get(db, "nope", &d, &l), BLAZEDB_NOT_FOUND);
    assert_null(d);
    assert_int_equal(l, 0);
    d = (void *)1;
    l = 99;
    assert_int_equal(blazedb_get2(db, "nope", 4, &d, &l), BLAZEDB_NOT_FOUND);
    assert_null(d);
    assert_int_equal(l, 0);

    /* The returned buffer is the caller's copy: scribbling on it changes
     * nothing stored. */
    assert_int_equal(blazedb_get(db, "a", &d, &l), BLAZEDB_OK);
    memset(d, '#', l);
    blazedb_free(d);
    expect_str(db, "a", "back");

    /* NULL handle and NULL arguments. */
    assert_int_equal(blazedb_put(NULL, "a", "b", 1), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_get(NULL, "a", &d, &l), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_delete(NULL, "a"), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_put(db, NULL, "b", 1), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_get(db, NULL, &d, &l), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_delete(db, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_get(db, "a", NULL, &l), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_put(db, "a", NULL, 5), BLAZEDB_INVALID_ARGUMENT);
    assert_true(strlen(blazedb_errmsg(db)) > 0);
    expect_str(db, "a", "back");

    blazedb_close(db);
    db = open_fast(path, "pw");
    expect_str(db, "a", "back");
    expect_str(db, "ab", "x");
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void test_zero_length_value(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    assert_int_equal(blazedb_put(db, "empty", NULL, 0), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "empty2", "ignored", 0), BLAZEDB_OK);
    void *d = NULL;
    size_t l = 5;
    assert_int_equal(blazedb_get(db, "empty", &d, &l), BLAZEDB_OK);
    assert_non_null(d);
    assert_int_equal(l, 0);
    blazedb_free(d);
    d = NULL;
    l = 5;
    assert_int_equal(blazedb_get2(db, "empty2", 6, &d, &l), BLAZEDB_OK);
    assert_non_null(d);
    assert_int_equal(l, 0);
    blazedb_free(d);
    /* Empty is not absent; overwrite empty with data and back. */
    assert_int_equal(blazedb_put(db, "empty", "x", 1), BLAZEDB_OK);
    expect_str(db, "empty", "x");
    assert_int_equal(blazedb_put(db, "empty", "", 0), BLAZEDB_OK);
    expect_val(db, "empty", "", 0);
    blazedb_close(db);
    db = open_fast(path, "pw");
    expect_val(db, "empty", "", 0);
    expect_val(db, "empty2", "", 0);
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void test_binary_keys(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    static const unsigned char k1[] = { 'a', 0, 'b' };
    static const unsigned char k2[] = { 'a', 0, 'c' };
    static const unsigned char k3[] = { 'a' };
    static const unsigned char k4[] = { 'a', 0 };
    static const unsigned char k5[] = { 0 };
    static const unsigned char k6[] = { 0, 0, 0, 0 };
    static const unsigned char k7[] = { 0xff, 0xfe, 0x80, 0x00, 0x7f };
    const unsigned char *keys[] = { k1, k2, k3, k4, k5, k6, k7 };
    size_t lens[] = { 3, 3, 1, 2, 1, 4, 5 };
    for (size_t i = 0; i < 7; i++) {
        unsigned char v[2] = { (unsigned char)i, 0xAA };
        assert_int_equal(blazedb_put2(db, keys[i], lens[i], v, 2), BLAZEDB_OK);
    }
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 7; i++) {
            void *d = NULL;
            size_t l = 0;
            assert_int_equal(blazedb_get2(db, keys[i], lens[i], &d, &l), BLAZEDB_OK);
            assert_int_equal(l, 2);
            assert_int_equal(((unsigned char *)d)[0], i);
            assert_int_equal(((unsigned char *)d)[1], 0xAA);
            blazedb_free(d);
        }
        /* The string API sees only up to the NUL: "a" is k3. */
        expect_val(db, "a", "\x02\xAA", 2);
        blazedb_close(db);
        db = open_fast(path, "pw");
    }
    /* Deleting "a\0" leaves "a" and "a\0b". */
    assert_int_equal(blazedb_delete2(db, k4, 2), BLAZEDB_OK);
    void *d = NULL;
    size_t l = 0;
    assert_int_equal(blazedb_get2(db, k4, 2, &d, &l), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_get2(db, k3, 1, &d, &l), BLAZEDB_OK);
    blazedb_free(d);
    assert_int_equal(blazedb_get2(db, k1, 3, &d, &l), BLAZEDB_OK);
    blazedb_free(d);
    BlazeDBStats st;
    get_stats(db, &st);
    assert_int_equal(st.keys, 6);
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void check_key_limits(uint32_t page_size)
{
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    o.page_size = page_size;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    BlazeDBStats kst;
    get_stats(db, &kst);
    const size_t MAXK = (size_t)kst.max_key_size;
    if (page_size == 4096)
        assert_int_equal(MAXK, 1325);
    else
        assert_int_equal(MAXK, BLAZEDB_MAX_KEY);

    unsigned char *big = malloc(MAXK + 2);
    assert_non_null(big);
    for (size_t i = 0; i < MAXK + 2; i++)
        big[i] = (unsigned char)('A' + i % 26);
    /* Several distinct keys of the maximum size, differing at the end only. */
    for (int v = 0; v < 20; v++) {
        big[MAXK - 1] = (unsigned char)v;
        BlazeDBResult rc = blazedb_put2(db, big, MAXK, &v, sizeof v);
        if (rc != BLAZEDB_OK)
            fail_msg("page size %u: put of a %u-byte key: %s (%s)", page_size,
                     (unsigned)MAXK, blazedb_strerror(rc), blazedb_errmsg(db));
    }
    for (int v = 0; v < 20; v++) {
        big[MAXK - 1] = (unsigned char)v;
        void *d = NULL;
        size_t l = 0;
        assert_int_equal(blazedb_get2(db, big, MAXK, &d, &l), BLAZEDB_OK);
        assert_int_equal(l, sizeof v);
        assert_memory_equal(d, &v, sizeof v);
        blazedb_free(d);
    }
    big[MAXK - 1] = 0;
    assert_int_equal(blazedb_delete2(db, big, MAXK), BLAZEDB_OK);

    /* One byte more: TOO_BIG everywhere, and nothing stored. */
    assert_int_equal(blazedb_put2(db, big, MAXK + 1, "v", 1), BLAZEDB_TOO_BIG);
    assert_true(strlen(blazedb_errmsg(db)) > 0);
    void *d = (void *)1;
    size_t l = 3;
    assert_int_equal(blazedb_get2(db, big, MAXK + 1, &d, &l), BLAZEDB_TOO_BIG);
    assert_null(d);
    assert_int_equal(l, 0);
    assert_int_equal(blazedb_delete2(db, big, MAXK + 1), BLAZEDB_TOO_BIG);
    BlazeDBWrite w = { big, MAXK + 1, "v", 1, 0 };
    assert_int_equal(blazedb_write_batch(db, &w, 1), BLAZEDB_TOO_BIG);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(t, big, MAXK + 1, "v", 1), BLAZEDB_TOO_BIG);
    blazedb_txn_abort(t);
    /* As a C string through the original API. */
    big[MAXK - 1] = 'Z';
    big[MAXK + 1] = 0;
    assert_int_equal(blazedb_put(db, (const char *)big, "v", 1), BLAZEDB_TOO_BIG);

    /* Empty and NULL keys: INVALID_ARGUMENT. */
    assert_int_equal(blazedb_put(db, "", "v", 1), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_get(db, "", &d, &l), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_delete(db, ""), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_put2(db, "x", 0, "v", 1), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_get2(db, "x", 0, &d, &l), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_delete2(db, "x", 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_put2(db, NULL, 3, "v", 1), BLAZEDB_INVALID_ARGUMENT);

    BlazeDBStats st;
    get_stats(db, &st);
    assert_int_equal(st.keys, 19);
    blazedb_close(db);
    free(big);
    free(path);
    dir_remove(dir);
}

static void test_key_limits(void **state)
{
    (void)state;
    check_key_limits(0);
}

/* The header promises keys up to BLAZEDB_MAX_KEY whatever the page size. */
static void test_key_limits_4k_pages(void **state)
{
    (void)state;
    check_key_limits(4096);
}

static void test_value_too_big(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    /* A mapping larger than the limit that costs no memory unless touched. */
    size_t n = (size_t)BLAZEDB_MAX_VALUE + 1;
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(blazedb_put(db, "big", m, n), BLAZEDB_TOO_BIG);
    assert_int_equal(blazedb_put2(db, "big", 3, m, n), BLAZEDB_TOO_BIG);
    BlazeDBWrite w[2] = { { "small", 5, "s", 1, 0 }, { "big", 3, m, n, 0 } };
    assert_int_equal(blazedb_write_batch(db, w, 2), BLAZEDB_TOO_BIG);
    expect_absent(db, "small");
    expect_absent(db, "big");
    munmap(m, n);
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

/* ---- large values ------------------------------------------------------------- */

static void fill_pattern(unsigned char *b, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (unsigned char)(x >> 24);
    }
}

static void check_large_value(size_t size)
{
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    unsigned char *v = malloc(size);
    assert_non_null(v);
    fill_pattern(v, size, (uint32_t)size);
    assert_int_equal(blazedb_put(db, "small-before", "a", 1), BLAZEDB_OK);
    BlazeDBResult rc = blazedb_put(db, "big", v, size);
    if (rc != BLAZEDB_OK)
        fail_msg("put of %zu bytes: %s (%s)", size, blazedb_strerror(rc), blazedb_errmsg(db));
    assert_int_equal(blazedb_put(db, "small-after", "b", 1), BLAZEDB_OK);
    expect_val(db, "big", v, size);
    BlazeDBStats st1;
    get_stats(db, &st1);
    assert_true(st1.page_count * st1.page_size >= size);
    blazedb_close(db);

    db = open_fast(path, "pw");
    expect_val(db, "big", v, size);
    expect_str(db, "small-before", "a");
    expect_str(db, "small-after", "b");
    /* Replace with another large value, then delete it, then store it again:
     * freed pages are reused, so the file does not keep growing. */
    fill_pattern(v, size, (uint32_t)size + 1);
    assert_int_equal(blazedb_put(db, "big", v, size), BLAZEDB_OK);
    expect_val(db, "big", v, size);
    assert_int_equal(blazedb_delete(db, "big"), BLAZEDB_OK);
    expect_absent(db, "big");
    assert_int_equal(blazedb_put(db, "big", v, size), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "big", "tiny", 4), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "big", v, size), BLAZEDB_OK);
    BlazeDBStats st2;
    get_stats(db, &st2);
    if (st2.page_count > st1.page_count * 2 + 16)
        fail_msg("%zu-byte value: page_count %llu after rewrites vs %llu after the first "
                 "write: freed pages are not reused", size,
                 (unsigned long long)st2.page_count, (unsigned long long)st1.page_count);
    blazedb_close(db);
    db = open_fast(path, "pw");
    expect_val(db, "big", v, size);
    blazedb_close(db);
    free(v);
    free(path);
    dir_remove(dir);
}

static void test_large_values(void **state)
{
    (void)state;
    check_large_value(8193);
    check_large_value(1u << 20);
    check_large_value(50u << 20);
}

static void test_large_value_256m(void **state)
{
    (void)state;
    const char *e = getenv("BLAZEDB_LONG_TESTS");
    if (!e || !*e || strcmp(e, "0") == 0) {
        skip();
        return;
    }
    check_large_value(256u << 20);
}

/* ---- batches ------------------------------------------------------------------ */

static void test_write_batch(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    assert_int_equal(blazedb_put(db, "keep", "old", 3), BLAZEDB_OK);
    BlazeDBStats st0, st1;
    get_stats(db, &st0);

    BlazeDBWrite ok[] = {
        { "a", 1, "1", 1, 0 },
        { "b\0b", 3, "2", 1, 0 },
        { "c", 1, NULL, 0, 0 },     /* empty value */
        { "keep", 4, NULL, 0, 1 },  /* delete */
        { "a", 1, "1-again", 7, 0 },/* later item wins */
        { "gone", 4, NULL, 0, 1 },  /* delete of an absent key */
    };
    assert_int_equal(blazedb_write_batch(db, ok, 6), BLAZEDB_OK);
    get_stats(db, &st1);
    assert_int_equal(st1.commits, st0.commits + 1);
    expect_str(db, "a", "1-again");
    expect_val(db, "c", "", 0);
    expect_absent(db, "keep");
    void *d = NULL;
    size_t l = 0;
    assert_int_equal(blazedb_get2(db, "b\0b", 3, &d, &l), BLAZEDB_OK);
    assert_int_equal(l, 1);
    blazedb_free(d);

    /* A batch with one invalid item changes nothing. */
    BlazeDBWrite bad1[] = {
        { "x", 1, "x", 1, 0 },
        { "a", 1, NULL, 0, 1 },
        { "", 0, "empty key", 9, 0 },
        { "y", 1, "y", 1, 0 },
    };
    assert_int_equal(blazedb_write_batch(db, bad1, 4), BLAZEDB_INVALID_ARGUMENT);
    assert_true(strlen(blazedb_errmsg(db)) > 0);
    BlazeDBWrite bad2[] = {
        { "x", 1, "x", 1, 0 },
        { "a", 1, "changed", 7, 0 },
        { "z", 1, NULL, 5, 0 },     /* NULL value with a length */
    };
    assert_int_equal(blazedb_write_batch(db, bad2, 3), BLAZEDB_INVALID_ARGUMENT);
    BlazeDBWrite bad3[] = {
        { "x", 1, "x", 1, 0 },
        { NULL, 4, "nokey", 5, 0 },
    };
    assert_int_equal(blazedb_write_batch(db, bad3, 2), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_write_batch(db, NULL, 3), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_write_batch(NULL, ok, 1), BLAZEDB_INVALID_ARGUMENT);
    expect_absent(db, "x");
    expect_absent(db, "y");
    expect_str(db, "a", "1-again");
    BlazeDBStats st2;
    get_stats(db, &st2);
    assert_int_equal(st2.commits, st1.commits);
    assert_int_equal(st2.keys, st1.keys);

    /* A large batch is one transaction. */
    enum { N = 5000 };
    BlazeDBWrite *many = calloc(N, sizeof *many);
    char (*keys)[24] = calloc(N, 24);
    assert_non_null(many);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 24, "batch%05d", i);
        many[i].key = keys[i];
        many[i].klen = strlen(keys[i]);
        many[i].value = keys[i];
        many[i].vlen = strlen(keys[i]);
    }
    assert_int_equal(blazedb_write_batch(db, many, N), BLAZEDB_OK);
    get_stats(db, &st2);
    assert_int_equal(st2.commits, st1.commits + 1);
    assert_int_equal(st2.keys, st1.keys + N);
    blazedb_close(db);
    db = open_fast(path, "pw");
    for (int i = 0; i < N; i += 97)
        expect_str(db, keys[i], keys[i]);
    expect_str(db, "a", "1-again");
    blazedb_close(db);
    free(many);
    free(keys);
    free(path);
    dir_remove(dir);
}

/* ---- transactions --------------------------------------------------------------- */

static void txn_expect(BlazeDBTxn *t, const char *key, const char *val)
{
    void *d = (void *)1;
    size_t l = 99;
    BlazeDBResult rc = blazedb_txn_get(t, key, strlen(key), &d, &l);
    if (!val) {
        assert_int_equal(rc, BLAZEDB_NOT_FOUND);
        assert_null(d);
        assert_int_equal(l, 0);
        return;
    }
    assert_int_equal(rc, BLAZEDB_OK);
    assert_int_equal(l, strlen(val));
    assert_memory_equal(d, val, l);
    blazedb_free(d);
}

static void test_transactions(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    o.busy_timeout_ms = 200;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "base", "0", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "victim", "v", 1), BLAZEDB_OK);

    /* Read-your-writes, invisible to others until commit. */
    BlazeDBTxn *w = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &w), BLAZEDB_OK);
    assert_non_null(w);
    assert_int_equal(blazedb_txn_put(w, "t1", 2, "one", 3), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(w, "base", 4, "1", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_delete(w, "victim", 6), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_delete(w, "absent", 6), BLAZEDB_OK);
    txn_expect(w, "t1", "one");
    txn_expect(w, "base", "1");
    txn_expect(w, "victim", NULL);
    expect_absent(db, "t1");
    expect_str(db, "base", "0");
    expect_str(db, "victim", "v");
    /* A read txn started before the commit keeps its snapshot. */
    BlazeDBTxn *r = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(w), BLAZEDB_OK);
    expect_str(db, "t1", "one");
    expect_str(db, "base", "1");
    expect_absent(db, "victim");
    txn_expect(r, "t1", NULL);
    txn_expect(r, "base", "0");
    txn_expect(r, "victim", "v");
    /* Writes in a read txn: READONLY. */
    assert_int_equal(blazedb_txn_put(r, "nope", 4, "x", 1), BLAZEDB_READONLY);
    assert_int_equal(blazedb_txn_delete(r, "base", 4), BLAZEDB_READONLY);
    txn_expect(r, "base", "0");
    /* More commits while r is open; r still sees its snapshot. */
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i + 2);
        assert_int_equal(blazedb_put(db, "base", v, strlen(v)), BLAZEDB_OK);
    }
    txn_expect(r, "base", "0");
    assert_int_equal(blazedb_txn_commit(r), BLAZEDB_OK); /* ends the read txn */
    expect_str(db, "base", "51");

    /* Abort discards. */
    assert_int_equal(blazedb_txn_begin(db, 0, &w), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(w, "t2", 2, "two", 3), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_delete(w, "t1", 2), BLAZEDB_OK);
    txn_expect(w, "t2", "two");
    blazedb_txn_abort(w);
    expect_absent(db, "t2");
    expect_str(db, "t1", "one");
    /* The write lock was released by the abort. */
    assert_int_equal(blazedb_put(db, "after-abort", "ok", 2), BLAZEDB_OK);

    /* A write txn with no writes commits fine. */
    assert_int_equal(blazedb_txn_begin(db, 0, &w), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(w), BLAZEDB_OK);

    /* NULL arguments. */
    assert_int_equal(blazedb_txn_commit(NULL), BLAZEDB_INVALID_ARGUMENT);
    blazedb_txn_abort(NULL);
    assert_int_equal(blazedb_txn_begin(db, 0, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_txn_begin(NULL, 0, &w), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_txn_put(NULL, "a", 1, "b", 1), BLAZEDB_INVALID_ARGUMENT);

    /* Many writes in one txn, committed, survive reopen. */
    assert_int_equal(blazedb_txn_begin(db, 0, &w), BLAZEDB_OK);
    for (int i = 0; i < 3000; i++) {
        char k[32];
        snprintf(k, sizeof k, "m%05d", i);
        assert_int_equal(blazedb_txn_put(w, k, strlen(k), k, strlen(k)), BLAZEDB_OK);
    }
    for (int i = 0; i < 3000; i += 3) {
        char k[32];
        snprintf(k, sizeof k, "m%05d", i);
        assert_int_equal(blazedb_txn_delete(w, k, strlen(k)), BLAZEDB_OK);
    }
    txn_expect(w, "m00001", "m00001");
    txn_expect(w, "m00003", NULL);
    assert_int_equal(blazedb_txn_commit(w), BLAZEDB_OK);
    blazedb_close(db);
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    for (int i = 0; i < 3000; i++) {
        char k[32];
        snprintf(k, sizeof k, "m%05d", i);
        if (i % 3)
            expect_str(db, k, k);
        else
            expect_absent(db, k);
    }
    expect_str(db, "t1", "one");
    expect_str(db, "after-abort", "ok");
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

/* blazedb_close: transactions and iterators still open are aborted and
 * freed (the header).  Under LeakSanitizer a leak here fails the binary. */
static void test_close_with_open_txn_and_iter(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "pw");
    assert_int_equal(blazedb_put(db, "committed", "1", 1), BLAZEDB_OK);
    BlazeDBTxn *w = NULL, *r = NULL;
    BlazeDBIterator *it = NULL, *it2 = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_open(db, NULL, NULL, &it), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_next(it), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_begin(db, 0, &w), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(w, "uncommitted", 11, "x", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_iter_open(db, w, NULL, &it2), BLAZEDB_OK);
    blazedb_close(db);
    db = open_fast(path, "pw");
    expect_absent(db, "uncommitted");
    expect_str(db, "committed", "1");
    /* The write lock was released. */
    assert_int_equal(blazedb_put(db, "next", "2", 1), BLAZEDB_OK);
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

/* The header: a thread must not begin a second write transaction on the same
 * handle while it holds one (BLAZEDB_MISUSE, it would deadlock). */
static void test_txn_second_writer_misuse(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    o.busy_timeout_ms = 200;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    BlazeDBTxn *w = NULL, *w2 = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &w), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(w, "k", 1, "v", 1), BLAZEDB_OK);
    BlazeDBResult rc = blazedb_txn_begin(db, 0, &w2);
    if (rc == BLAZEDB_OK)
        blazedb_txn_abort(w2);
    assert_null(rc == BLAZEDB_OK ? (void *)1 : w2);
    /* A read transaction alongside is fine. */
    BlazeDBTxn *r = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    blazedb_txn_abort(r);
    assert_int_equal(blazedb_txn_commit(w), BLAZEDB_OK);
    expect_str(db, "k", "v");
    blazedb_close(db);
    free(path);
    dir_remove(dir);
    if (rc != BLAZEDB_MISUSE)
        fail_msg("second write txn on the same thread: %s, expected BLAZEDB_MISUSE",
                 blazedb_strerror(rc));
}

/* ---- rekey / checkpoint / stats -------------------------------------------------- */

/* A writer that never pauses: the log must stay bounded even when the
 * background checkpoint cannot keep up (the writer then checkpoints). */
static void test_wal_bounded_under_steady_writes(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    o.durability = BLAZEDB_DURABILITY_OFF; /* as fast a writer as it gets */
    o.wal_autocheckpoint = 64;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    char *wal = malloc(strlen(path) + 8);
    assert_non_null(wal);
    sprintf(wal, "%s-wal", path);
    static char val[3000];
    memset(val, 'v', sizeof val);
    uint64_t max_pending = 0;
    off_t max_size = 0;
    for (int i = 0; i < 6000; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%06d", (i * 7919) % 100000);
        assert_int_equal(blazedb_put(db, k, val, sizeof val), BLAZEDB_OK);
        BlazeDBStats st;
        get_stats(db, &st);
        if (st.wal_pages > max_pending)
            max_pending = st.wal_pages;
        struct stat sb;
        assert_int_equal(stat(wal, &sb), 0);
        if (sb.st_size > max_size)
            max_size = sb.st_size;
    }
    /* at most 2 x 64 pages wait for a checkpoint, plus one commit's worth;
     * the file grows in 4 MiB steps */
    if (max_pending > 2 * 64 + 32)
        fail_msg("%llu log pages were waiting for a checkpoint", (unsigned long long)max_pending);
    if (max_size > 8 * 1024 * 1024)
        fail_msg("the log grew to %lld bytes", (long long)max_size);
    blazedb_close(db);
    free(wal);
    free(path);
    dir_remove(dir);
}

static void test_rekey(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = open_fast(path, "old-password");
    BlazeDB *other = open_fast(path, "old-password");
    for (int i = 0; i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "r%04d", i);
        assert_int_equal(blazedb_put(db, k, k, strlen(k)), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_rekey(db, NULL, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_rekey(db, "", NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_rekey(NULL, "x", NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_rekey(db, "new-password", NULL), BLAZEDB_OK);

    /* Both handles keep working. */
    expect_str(db, "r0007", "r0007");
    expect_str(other, "r0199", "r0199");
    assert_int_equal(blazedb_put(other, "from-other", "1", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "from-db", "2", 1), BLAZEDB_OK);
    expect_str(db, "from-other", "1");
    expect_str(other, "from-db", "2");

    /* New opens need the new password. */
    BlazeDB *x = NULL;
    assert_int_equal(open_with(path, "old-password", 0, &x), BLAZEDB_AUTH_FAILED);
    assert_null(x);
    assert_int_equal(open_with(path, "new-password", 0, &x), BLAZEDB_OK);
    expect_str(x, "from-db", "2");
    blazedb_close(x);
    blazedb_close(other);
    blazedb_close(db);

    assert_int_equal(open_with(path, "old-password", 0, &x), BLAZEDB_AUTH_FAILED);
    db = open_fast(path, "new-password");
    for (int i = 0; i < 200; i++) {
        char k[32];
        snprintf(k, sizeof k, "r%04d", i);
        expect_str(db, k, k);
    }
    expect_str(db, "from-other", "1");

    /* Rekey again, switching KDF parameters through opts. */
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.kdf = BLAZEDB_KDF_ARGON2ID;
    o.kdf_iterations = 1;
    o.kdf_memory_kib = 64;
    o.kdf_parallelism = 1;
    assert_int_equal(blazedb_rekey(db, "third", &o), BLAZEDB_OK);
    BlazeDBOptions bad = o;
    bad.kdf = (BlazeDBKdf)42;
    assert_int_equal(blazedb_rekey(db, "fourth", &bad), BLAZEDB_INVALID_ARGUMENT);
    blazedb_close(db);
    assert_int_equal(open_with(path, "new-password", 0, &x), BLAZEDB_AUTH_FAILED);
    assert_int_equal(open_with(path, "fourth", 0, &x), BLAZEDB_AUTH_FAILED);
    assert_int_equal(blazedb_open_ex(path, "third", NULL, &x), BLAZEDB_OK);
    expect_str(x, "r0100", "r0100");
    blazedb_close(x);
    free(path);
    dir_remove(dir);
}

static void test_checkpoint_and_stats(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    char *wal = path_in(dir, "db-wal");
    BlazeDBOptions o;
    fast_opts(&o);
    o.wal_autocheckpoint = UINT32_MAX;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);

    BlazeDBStats s0, s1, s2, s3;
    get_stats(db, &s0);
    assert_int_equal(s0.commits, 0);
    assert_int_equal(s0.keys, 0);
    assert_int_equal(s0.page_size, 8192);
    assert_true(s0.page_count >= 3);
    BlazeDBStats bad;
    memset(&bad, 0, sizeof bad);
    assert_int_equal(blazedb_stats(NULL, &bad), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_stats(db, NULL), BLAZEDB_INVALID_ARGUMENT);

    for (int i = 0; i < 10; i++) {
        char k[32];
        snprintf(k, sizeof k, "s%d", i);
        assert_int_equal(blazedb_put(db, k, "v", 1), BLAZEDB_OK);
    }
    get_stats(db, &s1);
    assert_int_equal(s1.commits, s0.commits + 10);
    assert_int_equal(s1.keys, 10);
    assert_true(s1.writes >= s0.writes + 10);
    assert_true(s1.last_txn_id >= s0.last_txn_id + 10);
    assert_true(s1.syncs >= 10); /* FULL durability: one sync per commit */
    assert_true(s1.wal_pages > 0);
    assert_true(s1.pages_written >= 10);
    assert_true(s1.bytes_written >= 10 * 8192);

    void *d;
    size_t l;
    assert_int_equal(blazedb_get(db, "s3", &d, &l), BLAZEDB_OK);
    blazedb_free(d);
    assert_int_equal(blazedb_get(db, "nope", &d, &l), BLAZEDB_NOT_FOUND);
    assert_int_equal(blazedb_delete(db, "s0"), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "s1", "vv", 2), BLAZEDB_OK); /* overwrite */
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_put(t, "aborted", 7, "x", 1), BLAZEDB_OK);
    blazedb_txn_abort(t);
    get_stats(db, &s2);
    assert_true(s2.reads >= s1.reads + 2);
    assert_int_equal(s2.commits, s1.commits + 2);
    assert_int_equal(s2.rollbacks, s1.rollbacks + 1);
    assert_int_equal(s2.keys, 9);

    /* Enough data to grow the tree. */
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    unsigned char v[300];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 2000; i++) {
        char k[32];
        snprintf(k, sizeof k, "g%05d", i);
        assert_int_equal(blazedb_txn_put(t, k, strlen(k), v, sizeof v), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    get_stats(db, &s2);
    assert_int_equal(s2.keys, 2009);
    assert_true(s2.page_count > s1.page_count + 2000 * 300 / 8192);
    off_t main_before = file_size(path);
    assert_true(file_size(wal) > 0);

    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    get_stats(db, &s3);
    assert_int_equal(s3.checkpoints, s2.checkpoints + 1);
    assert_true(file_size(path) > main_before);
    assert_true((uint64_t)file_size(path) >= s3.page_count * s3.page_size / 2);
    assert_int_equal(blazedb_checkpoint(NULL), BLAZEDB_INVALID_ARGUMENT);
    /* Writes after a checkpoint. */
    assert_int_equal(blazedb_put(db, "after-ckpt", "1", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "after-ckpt2", "2", 1), BLAZEDB_OK);
    blazedb_close(db);
    /* The last close checkpoints and empties the log. */
    assert_true(file_size(wal) <= 0);

    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    get_stats(db, &s0);
    assert_int_equal(s0.commits, 0); /* per-handle counters */
    assert_int_equal(s0.keys, 2011);
    assert_true(s0.last_txn_id >= s3.last_txn_id);
    expect_str(db, "after-ckpt", "1");
    expect_str(db, "after-ckpt2", "2");
    expect_val(db, "g01999", v, sizeof v);
    expect_str(db, "s1", "vv");
    expect_absent(db, "s0");
    blazedb_close(db);
    free(wal);
    free(path);
    dir_remove(dir);
}

/* ---- messages and trivia ------------------------------------------------------------ */

static void test_errmsg_strerror_version(void **state)
{
    (void)state;
    const char *names[16];
    for (int c = 0; c <= BLAZEDB_NOMEM; c++) {
        names[c] = blazedb_strerror((BlazeDBResult)c);
        assert_non_null(names[c]);
        assert_true(strlen(names[c]) > 0);
        for (int j = 0; j < c; j++)
            if (strcmp(names[c], names[j]) == 0)
                fail_msg("codes %d and %d share the name \"%s\"", j, c, names[c]);
    }
    assert_non_null(blazedb_strerror((BlazeDBResult)999));
    assert_non_null(blazedb_strerror((BlazeDBResult)-1));
    assert_non_null(blazedb_version());
    assert_string_equal(blazedb_version(), BLAZEDB_VERSION_STRING);
    assert_non_null(blazedb_errmsg(NULL));

    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = NULL;
    assert_int_equal(open_with(path, "pw", 0, &db), BLAZEDB_NOT_FOUND);
    const char *m = blazedb_errmsg(NULL);
    assert_non_null(m);
    assert_true(strlen(m) > 0);

    db = open_fast(path, "pw");
    assert_non_null(blazedb_errmsg(db));
    assert_int_equal(blazedb_put(db, "", "x", 1), BLAZEDB_INVALID_ARGUMENT);
    m = blazedb_errmsg(db);
    assert_non_null(m);
    assert_true(strlen(m) > 0);
    assert_int_equal(blazedb_put2(db, "k", BLAZEDB_MAX_KEY + 1, "x", 1), BLAZEDB_TOO_BIG);
    assert_true(strlen(blazedb_errmsg(db)) > 0);
    blazedb_close(db);

    /* NULL is ignored by the destructors. */
    blazedb_close(NULL);
    blazedb_free(NULL);
    blazedb_txn_abort(NULL);
    blazedb_iter_close(NULL);
    blazedb_options_init(NULL);
    free(path);
    dir_remove(dir);
}

static void test_options_init(void **state)
{
    (void)state;
    BlazeDBOptions o;
    memset(&o, 0xAB, sizeof o);
    blazedb_options_init(&o);
    assert_int_equal(o.struct_size, sizeof o);
    assert_int_equal(o.flags, BLAZEDB_OPEN_CREATE);
    assert_int_equal(o.kdf, BLAZEDB_KDF_DEFAULT);
    assert_int_equal(o.durability, BLAZEDB_DURABILITY_FULL);
    assert_int_equal(o.busy_timeout_ms, 5000);
    assert_int_equal(o.page_size, 0);
}

static void test_plaintext(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDB *db = NULL;
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_PLAINTEXT, &db),
                     BLAZEDB_OK);
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "p%04d", i);
        assert_int_equal(blazedb_put2(db, k, strlen(k), k, strlen(k)), BLAZEDB_OK);
    }
    assert_int_equal(blazedb_delete(db, "p0000"), BLAZEDB_OK);
    blazedb_close(db);
    /* Reopen: the existing database keeps its mode whatever the flags. */
    assert_int_equal(open_with(path, "pw", 0, &db), BLAZEDB_OK);
    expect_str(db, "p0499", "p0499");
    expect_absent(db, "p0000");
    assert_int_equal(blazedb_put(db, "more", "x", 1), BLAZEDB_OK);
    blazedb_close(db);
    assert_int_equal(open_with(path, "pw", BLAZEDB_OPEN_PLAINTEXT, &db), BLAZEDB_OK);
    expect_str(db, "more", "x");
    BlazeDBStats st;
    get_stats(db, &st);
    assert_int_equal(st.keys, 500);
    blazedb_close(db);
    /* PLAINTEXT on an existing encrypted database does not switch it. */
    char *p2 = path_in(dir, "enc");
    db = open_fast(p2, "pw");
    assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
    blazedb_close(db);
    assert_int_equal(open_with(p2, "wrong", BLAZEDB_OPEN_PLAINTEXT, &db), BLAZEDB_AUTH_FAILED);
    assert_int_equal(open_with(p2, "pw", BLAZEDB_OPEN_PLAINTEXT, &db), BLAZEDB_OK);
    expect_str(db, "k", "v");
    blazedb_close(db);
    free(p2);
    free(path);
    dir_remove(dir);
}

static void check_durability(BlazeDBDurability dur)
{
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    o.durability = dur;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    BlazeDBStats s0, s1;
    get_stats(db, &s0);
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof k, "d%02d", i);
        assert_int_equal(blazedb_put(db, k, k, strlen(k)), BLAZEDB_OK);
    }
    get_stats(db, &s1);
    assert_int_equal(s1.commits, s0.commits + 50);
    if (dur == BLAZEDB_DURABILITY_FULL)
        assert_true(s1.syncs - s0.syncs >= 50);
    else /* no checkpoint happened: no sync at all */
        assert_int_equal(s1.syncs, s0.syncs);
    expect_str(db, "d49", "d49");
    blazedb_close(db);
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof k, "d%02d", i);
        expect_str(db, k, k);
    }
    blazedb_close(db);
    free(path);
    dir_remove(dir);
}

static void test_durability_modes(void **state)
{
    (void)state;
    check_durability(BLAZEDB_DURABILITY_FULL);
    check_durability(BLAZEDB_DURABILITY_NORMAL);
    check_durability(BLAZEDB_DURABILITY_OFF);
}

/* ---- 100k keys against a model ------------------------------------------------------- */

enum { MK = 100000 };

/* The value of key i at version ver: length and bytes derived from both. */
static size_t model_value(uint32_t i, uint32_t ver, unsigned char *buf)
{
    size_t len = (i * 7u + ver * 13u) % 180u;
    for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)(i + ver * 31u + j * 7u);
    return len;
}

static void model_key(uint32_t i, char *k)
{
    snprintf(k, 32, "mk%07u", i);
}

static void model_verify(BlazeDB *db, const uint32_t *ver)
{
    unsigned char buf[256];
    uint64_t live = 0;
    for (uint32_t i = 0; i < MK; i++) {
        char k[32];
        model_key(i, k);
        void *d = NULL;
        size_t l = 0;
        BlazeDBResult rc = blazedb_get2(db, k, strlen(k), &d, &l);
        if (ver[i] == 0) {
            if (rc != BLAZEDB_NOT_FOUND)
                fail_msg("key %s: expected absent, got %s", k, blazedb_strerror(rc));
            continue;
        }
        live++;
        if (rc != BLAZEDB_OK)
            fail_msg("key %s: %s (%s)", k, blazedb_strerror(rc), blazedb_errmsg(db));
        size_t n = model_value(i, ver[i], buf);
        if (l != n || (n && memcmp(d, buf, n) != 0))
            fail_msg("key %s: wrong value (len %zu, expected %zu)", k, l, n);
        blazedb_free(d);
    }
    BlazeDBStats st;
    get_stats(db, &st);
    assert_int_equal(st.keys, live);
}

static void test_many_keys_model(void **state)
{
    (void)state;
    char *dir = dir_make(), *path = path_in(dir, "db");
    BlazeDBOptions o;
    fast_opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    uint32_t *ver = calloc(MK, sizeof *ver);
    assert_non_null(ver);
    unsigned char buf[256];
    rng_state = 0x1234567ull;

    /* Insert every key in a random order, 1000 per transaction. */
    uint32_t *perm = malloc(MK * sizeof *perm);
    assert_non_null(perm);
    for (uint32_t i = 0; i < MK; i++)
        perm[i] = i;
    for (uint32_t i = MK - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1));
        uint32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (uint32_t b = 0; b < MK; b += 1000) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        for (uint32_t j = b; j < b + 1000; j++) {
            uint32_t i = perm[j];
            char k[32];
            model_key(i, k);
            ver[i] = 1;
            size_t n = model_value(i, 1, buf);
            assert_int_equal(blazedb_txn_put(t, k, strlen(k), buf, n), BLAZEDB_OK);
        }
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    }
    free(perm);

    /* Random overwrites and deletes, some transactions aborted. */
    for (int round = 0; round < 60; round++) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        int abort_it = round % 7 == 3;
        uint32_t *saved = NULL;
        if (abort_it) {
            saved = malloc(MK * sizeof *saved);
            assert_non_null(saved);
            memcpy(saved, ver, MK * sizeof *saved);
        }
        for (int j = 0; j < 1000; j++) {
            uint32_t i = (uint32_t)(rnd() % MK);
            char k[32];
            model_key(i, k);
            if (rnd() % 3 == 0) {
                ver[i] = 0;
                assert_int_equal(blazedb_txn_delete(t, k, strlen(k)), BLAZEDB_OK);
            } else {
                ver[i] = (uint32_t)(rnd() % 1000) + 2;
                size_t n = model_value(i, ver[i], buf);
                assert_int_equal(blazedb_txn_put(t, k, strlen(k), buf, n), BLAZEDB_OK);
            }
        }
        if (abort_it) {
            blazedb_txn_abort(t);
            memcpy(ver, saved, MK * sizeof *saved);
            free(saved);
        } else {
            assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
        }
    }
    model_verify(db, ver);
    blazedb_close(db);
    assert_int_equal(blazedb_open_ex(path, "pw", &o, &db), BLAZEDB_OK);
    model_verify(db, ver);
    blazedb_close(db);
    free(ver);
    free(path);
    dir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_create_reopen),
        cmocka_unit_test(test_open_default_argon2),
        cmocka_unit_test(test_open_bad_arguments),
        cmocka_unit_test(test_open_wrong_password),
        cmocka_unit_test(test_open_exclusive_and_missing),
        cmocka_unit_test(test_readonly_handle),
        cmocka_unit_test(test_put_get_delete),
        cmocka_unit_test(test_zero_length_value),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_key_limits),
        cmocka_unit_test(test_key_limits_4k_pages),
        cmocka_unit_test(test_value_too_big),
        cmocka_unit_test(test_large_values),
        cmocka_unit_test(test_large_value_256m),
        cmocka_unit_test(test_write_batch),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_txn_second_writer_misuse),
        cmocka_unit_test(test_close_with_open_txn_and_iter),
        cmocka_unit_test(test_wal_bounded_under_steady_writes),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_checkpoint_and_stats),
        cmocka_unit_test(test_errmsg_strerror_version),
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_plaintext),
        cmocka_unit_test(test_durability_modes),
        cmocka_unit_test(test_many_keys_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
