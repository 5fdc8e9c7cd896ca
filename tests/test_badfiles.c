/*
 * test_badfiles.c — opening hostile or damaged files: empty, zero-filled and
 * random files, text, an SQLite database, a directory, truncated databases,
 * file headers with absurd parameters (huge Argon2id memory, iterations,
 * page sizes; checksums recomputed as an attacker would), a -wal full of
 * garbage or from another database, a garbage -shm, and a truncated -wal.
 * Each case must give a documented result code and a message, leave a file
 * that is not a database untouched, never crash, never take long, and never
 * return wrong data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "blazedb.h"

/* ---- temp dirs, files ------------------------------------------------------------ */

static char *g_base;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    remove(p);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/blazedb-bad-XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d)
        return -1;
    g_base = strdup(d);
    return g_base ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_base);
    return 0;
}

typedef struct {
    char main[4200], wal[4210], shm[4210];
} DbPaths;

static void db_paths(DbPaths *p, const char *name)
{
    snprintf(p->main, sizeof p->main, "%s/%s", g_base, name);
    snprintf(p->wal, sizeof p->wal, "%s-wal", p->main);
    snprintf(p->shm, sizeof p->shm, "%s-shm", p->main);
}

static void remove_db(const DbPaths *p)
{
    unlink(p->main);
    unlink(p->wal);
    unlink(p->shm);
}

static int slurp(const char *path, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return -1;
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *b = malloc(n ? n : 1);
    size_t got = 0;
    while (b && got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!b || got != n) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 1;
}

static void spit(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const char *)buf + done, len - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    close(fd);
}

static void file_sha(const char *path, unsigned char out[SHA256_DIGEST_LENGTH], size_t *len)
{
    unsigned char *b;
    assert_int_equal(slurp(path, &b, len), 1);
    SHA256(b ? b : (const unsigned char *)"", *len, out);
    free(b);
}

static uint64_t rng_state = 0x6a09e667f3bcc908ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define PW "bad-files-password"

static void opts_fast(BlazeDBOptions *o)
{
    blazedb_options_init(o);
    o->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o->kdf_iterations = 1;
    o->wal_autocheckpoint = UINT32_MAX;
}

static BlazeDB *open_db(const char *path)
{
    BlazeDBOptions o;
    opts_fast(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, PW, &o, &db);
    if (rc != BLAZEDB_OK)
        fail_msg("open %s: %s (%s)", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    return db;
}

static int rc_in(BlazeDBResult rc, const BlazeDBResult *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == ok[i])
            return 1;
    return 0;
}

static const BlazeDBResult NOT_DB[] = { BLAZEDB_NOT_A_DATABASE, BLAZEDB_CORRUPT };

/* Opening `path` (with and without CREATE, read-only too) fails with one of
 * `ok`, with a message, quickly, and leaves the file byte-identical. */
static void expect_refused(const char *path, const BlazeDBResult *ok, size_t nok,
                           const char *what)
{
    unsigned char before[SHA256_DIGEST_LENGTH], after[SHA256_DIGEST_LENGTH];
    size_t lb, la;
    file_sha(path, before, &lb);
    static const uint32_t flags[] = { BLAZEDB_OPEN_CREATE, 0, BLAZEDB_OPEN_READONLY,
                                      BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_PLAINTEXT };
    for (size_t f = 0; f < 4; f++) {
        BlazeDBOptions o;
        opts_fast(&o);
        o.flags = flags[f];
        BlazeDB *db = (BlazeDB *)&o;
        double t0 = now_s();
        BlazeDBResult rc = blazedb_open_ex(path, PW, &o, &db);
        double dt = now_s() - t0;
        if (!rc_in(rc, ok, nok))
            fail_msg("%s (flags %x): open gave %s (%s)", what, flags[f], blazedb_strerror(rc),
                     blazedb_errmsg(NULL));
        assert_null(db);
        if (strlen(blazedb_errmsg(NULL)) == 0)
            fail_msg("%s: no error message", what);
        if (dt > 3.0)
            fail_msg("%s: open took %.1f s", what, dt);
    }
    /* blazedb_open too. */
    assert_null(blazedb_open(path, PW));
    file_sha(path, after, &la);
    if (la != lb || memcmp(before, after, sizeof before) != 0)
        fail_msg("%s: the file was modified by a failed open (%zu -> %zu bytes)", what, lb, la);
}

/* ---- not a database at all --------------------------------------------------------- */

static void test_empty_file(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "empty");
    /* An empty file may be taken for a database whose creation was cut
     * short (and initialised), or refused; if it opens, it must work. */
    static const uint32_t flags[] = { 0, BLAZEDB_OPEN_CREATE, BLAZEDB_OPEN_READONLY };
    for (size_t f = 0; f < 3; f++) {
        remove_db(&p);
        spit(p.main, "", 0);
        BlazeDBOptions o;
        opts_fast(&o);
        o.flags = flags[f];
        BlazeDB *db = NULL;
        BlazeDBResult rc = blazedb_open_ex(p.main, PW, &o, &db);
        print_message("empty file, flags %x: %s\n", flags[f], blazedb_strerror(rc));
        if (rc != BLAZEDB_OK) {
            if (!rc_in(rc, NOT_DB, 2) && rc != BLAZEDB_NOT_FOUND)
                fail_msg("empty file, flags %x: %s (%s)", flags[f], blazedb_strerror(rc),
                         blazedb_errmsg(NULL));
            assert_null(db);
            assert_true(strlen(blazedb_errmsg(NULL)) > 0);
            continue;
        }
        void *d = NULL;
        size_t l = 0;
        assert_int_equal(blazedb_get(db, "k", &d, &l), BLAZEDB_NOT_FOUND);
        if (flags[f] & BLAZEDB_OPEN_READONLY) {
            assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_READONLY);
            blazedb_close(db);
            continue;
        }
        assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
        blazedb_close(db);
        db = open_db(p.main);
        assert_int_equal(blazedb_get(db, "k", &d, &l), BLAZEDB_OK);
        assert_int_equal(l, 1);
        blazedb_free(d);
        blazedb_close(db);
    }
    remove_db(&p);
}

static void test_zero_filled_files(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 100, 255, 256, 512, 1024, 4096, 8192, 3 * 8192,
                                    100000, 1 << 20 };
    DbPaths p;
    db_paths(&p, "zeros");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *z = calloc(1, sizes[i]);
        assert_non_null(z);
        spit(p.main, z, sizes[i]);
        free(z);
        char what[128];
        snprintf(what, sizeof what, "%zu zero bytes", sizes[i]);
        expect_refused(p.main, NOT_DB, 2, what);
        remove_db(&p);
    }
}

static void test_random_files(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 1000, 8192, 3 * 8192, 65536, 300000 };
    DbPaths p;
    db_paths(&p, "random");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *b = malloc(sizes[i]);
        assert_non_null(b);
        for (size_t j = 0; j < sizes[i]; j++)
            b[j] = (unsigned char)rnd();
        spit(p.main, b, sizes[i]);
        char what[128];
        snprintf(what, sizeof what, "%zu random bytes", sizes[i]);
        expect_refused(p.main, NOT_DB, 2, what);
        /* Random bytes behind a correct magic. */
        if (sizes[i] >= 1000) {
            memcpy(b, "BlazeDB format 1", 16);
            memcpy(b + 512, "BlazeDB format 1", 16);
            spit(p.main, b, sizes[i]);
            snprintf(what, sizeof what, "%zu random bytes with the magic", sizes[i]);
            expect_refused(p.main, NOT_DB, 2, what);
        }
        free(b);
        remove_db(&p);
    }
}

static void test_text_and_sqlite_files(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "text");
    char text[20000];
    size_t n = 0;
    while (n + 64 < sizeof text)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "The quick brown fox jumps over the lazy dog %zu.\n", n);
    spit(p.main, text, n);
    expect_refused(p.main, NOT_DB, 2, "a text file");
    spit(p.main, "{\"json\": true}\n", 15);
    expect_refused(p.main, NOT_DB, 2, "a short JSON file");
    remove_db(&p);

    /* An SQLite 3 database: a valid 100-byte header on 2 pages of 4 KiB. */
    db_paths(&p, "sqlite");
    unsigned char *s = calloc(1, 8192);
    assert_non_null(s);
    memcpy(s, "SQLite format 3", 16);
    s[16] = 0x10; /* page size 4096, big-endian */
    s[17] = 0x00;
    s[18] = 1;    /* write version */
    s[19] = 1;    /* read version */
    s[20] = 0;    /* reserved bytes */
    s[21] = 64;
    s[22] = 32;
    s[23] = 32;
    s[27] = 1;    /* change counter */
    s[31] = 2;    /* database size in pages */
    s[47] = 4;    /* schema format */
    s[59] = 1;    /* text encoding UTF-8 */
    s[95] = 1;
    s[100] = 0x0d; /* page 1: leaf table b-tree page */
    s[105] = 0x10;
    spit(p.main, s, 8192);
    expect_refused(p.main, NOT_DB, 2, "an SQLite database");
    free(s);
    remove_db(&p);
}

static void test_directory_path(void **state)
{
    (void)state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/a-directory", g_base);
    assert_int_equal(mkdir(dir, 0700), 0);
    static const BlazeDBResult ok[] = { BLAZEDB_IO_ERROR, BLAZEDB_NOT_A_DATABASE,
                                        BLAZEDB_INVALID_ARGUMENT };
    BlazeDBOptions o;
    opts_fast(&o);
    for (int f = 0; f < 3; f++) {
        o.flags = f == 0 ? BLAZEDB_OPEN_CREATE : f == 1 ? 0 : BLAZEDB_OPEN_READONLY;
        BlazeDB *db = NULL;
        BlazeDBResult rc = blazedb_open_ex(dir, PW, &o, &db);
        if (!rc_in(rc, ok, 3))
            fail_msg("a directory (flags %x): %s (%s)", o.flags, blazedb_strerror(rc),
                     blazedb_errmsg(NULL));
        assert_null(db);
        assert_true(strlen(blazedb_errmsg(NULL)) > 0);
    }
    /* The directory is still an empty directory. */
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(rmdir(dir), 0);
    /* A path ending in a slash, "." and the root. */
    char slash[4400];
    snprintf(slash, sizeof slash, "%s/", g_base);
    BlazeDB *db = NULL;
    assert_int_not_equal(blazedb_open_ex(slash, PW, &o, &db), BLAZEDB_OK);
    assert_int_not_equal(blazedb_open_ex(".", PW, &o, &db), BLAZEDB_OK);
    assert_null(db);
}

/* ---- a database with a known history ----------------------------------------------- */

enum { NK = 200, K_BIG = NK, K_VER = NK + 1, NALL = NK + 2, J1 = 5, J = 12 };
static uint8_t exp_state[J + 1][NALL];

static size_t fkey(int i, char *k)
{
    if (i == K_BIG)
        return (size_t)snprintf(k, 32, "big-value");
    if (i == K_VER)
        return (size_t)snprintf(k, 32, "version");
    return (size_t)snprintf(k, 32, "bad-key-%04d", i);
}

static size_t fval(int i, int v, unsigned char *buf)
{
    if (i == K_VER) {
        buf[0] = (unsigned char)v;
        return 1;
    }
    size_t len = i == K_BIG ? 30000u + (size_t)v * 10u : 5u + (size_t)((i * 17 + v * 5) % 200);
    for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)(i * 7 + v * 13 + j * 3);
    return len;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void run_commit(BlazeDB *db, int j)
{
    static unsigned char buf[40000];
    char k[32];
    memcpy(exp_state[j], exp_state[j - 1], NALL);
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < NK; i++) {
        uint64_t h = mix((uint64_t)i * 7919 + (uint64_t)j) % 10;
        int v = j == 1 || h < 2 ? j : h == 2 ? 0 : -1;
        if (v < 0)
            continue;
        size_t kl = fkey(i, k);
        if (v == 0) {
            assert_int_equal(blazedb_txn_delete(t, k, kl), BLAZEDB_OK);
        } else {
            size_t n = fval(i, v, buf);
            assert_int_equal(blazedb_txn_put(t, k, kl, buf, n), BLAZEDB_OK);
        }
        exp_state[j][i] = (uint8_t)v;
    }
    if (j % 4 == 2) {
        size_t kl = fkey(K_BIG, k), n = fval(K_BIG, j, buf);
        assert_int_equal(blazedb_txn_put(t, k, kl, buf, n), BLAZEDB_OK);
        exp_state[j][K_BIG] = (uint8_t)j;
    }
    size_t kl = fkey(K_VER, k), n = fval(K_VER, j, buf);
    assert_int_equal(blazedb_txn_put(t, k, kl, buf, n), BLAZEDB_OK);
    exp_state[j][K_VER] = (uint8_t)j;
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
}

/* Builds database `p` with commits 1..J1, a checkpoint, then J1+1..J; fills
 * *crash_main and *crash_wal with the files as a crash would leave them and
 * closes (so the files on disk are then those of a clean close). */
static void build_history(const DbPaths *p, unsigned char **crash_main, size_t *cml,
                          unsigned char **crash_wal, size_t *cwl, size_t *ps)
{
    remove_db(p);
    memset(exp_state, 0, sizeof exp_state);
    BlazeDB *db = open_db(p->main);
    for (int j = 1; j <= J1; j++)
        run_commit(db, j);
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    for (int j = J1 + 1; j <= J; j++)
        run_commit(db, j);
    BlazeDBStats st;
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    *ps = st.page_size;
    if (crash_main) {
        assert_int_equal(slurp(p->main, crash_main, cml), 1);
        assert_int_equal(slurp(p->wal, crash_wal, cwl), 1);
    }
    blazedb_close(db);
}

/* Reads everything from an open handle.  Returns the single commit c in
 * cmin..cmax whose state it matches (-1 if none: wrong data).  CORRUPT
 * reads are counted in *corrupt (when allowed, else they fail the test). */
static int match_state(BlazeDB *db, int cmin, int cmax, int allow_corrupt, const char *what)
{
    static unsigned char buf[40000];
    int alive[J + 1];
    for (int c = 0; c <= J; c++)
        alive[c] = c >= cmin && c <= cmax;
    char k[32];
    for (int i = NALL - 1; i >= 0; i--) {
        size_t kl = fkey(i, k);
        void *d = NULL;
        size_t l = 0;
        BlazeDBResult rc = blazedb_get2(db, k, kl, &d, &l);
        if (rc == BLAZEDB_CORRUPT && allow_corrupt)
            continue;
        if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND)
            fail_msg("%s: get %s: %s (%s)", what, k, blazedb_strerror(rc), blazedb_errmsg(db));
        for (int c = cmin; c <= cmax; c++) {
            if (!alive[c])
                continue;
            int v = exp_state[c][i];
            if (rc == BLAZEDB_NOT_FOUND)
                alive[c] = v == 0;
            else if (v == 0)
                alive[c] = 0;
            else {
                size_t n = fval(i, v, buf);
                alive[c] = n == l && memcmp(buf, d, n) == 0;
            }
        }
        blazedb_free(d);
    }
    /* The scan returns exactly the keys of the state. */
    BlazeDBIterator *it;
    BlazeDBResult rc = blazedb_iter_open(db, NULL, NULL, &it);
    if (rc == BLAZEDB_CORRUPT && allow_corrupt)
        goto done;
    assert_int_equal(rc, BLAZEDB_OK);
    int count = 0;
    while ((rc = blazedb_iter_next(it)) == BLAZEDB_OK)
        count++;
    blazedb_iter_close(it);
    if (rc == BLAZEDB_CORRUPT && allow_corrupt)
        goto done;
    if (rc != BLAZEDB_NOT_FOUND)
        fail_msg("%s: scan: %s", what, blazedb_strerror(rc));
    for (int c = cmin; c <= cmax; c++) {
        int n = 0;
        for (int i = 0; i < NALL; i++)
            n += exp_state[c][i] != 0;
        if (n != count)
            alive[c] = 0;
    }
done:
    for (int c = cmax; c >= cmin; c--)
        if (alive[c])
            return c;
    return -1;
}

/* ---- truncated database ------------------------------------------------------------ */

static void test_truncated_database(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "trunc");
    size_t ps;
    build_history(&p, NULL, NULL, NULL, NULL, &ps);
    unsigned char *m;
    size_t ml;
    assert_int_equal(slurp(p.main, &m, &ml), 1);
    assert_true(ml > 6 * ps);

    size_t cuts[128], n = 0;
    static const size_t small[] = { 1, 16, 100, 223, 255, 256, 300, 511, 512, 700, 767,
                                    768, 4096 };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        cuts[n++] = small[i];
    for (size_t pg = 1; pg * ps < ml && n + 3 < 128; pg++) {
        cuts[n++] = pg * ps - 1;
        cuts[n++] = pg * ps;
        cuts[n++] = pg * ps + ps / 2;
    }
    cuts[n++] = ml - 1;
    int refused = 0, opened = 0, corrupt_reads = 0;
    for (size_t i = 0; i < n; i++) {
        if (cuts[i] >= ml)
            continue;
        remove_db(&p);
        spit(p.main, m, cuts[i]);
        char what[128];
        snprintf(what, sizeof what, "database cut at %zu of %zu bytes", cuts[i], ml);
        BlazeDBOptions o;
        opts_fast(&o);
        o.flags = 0;
        BlazeDB *db = NULL;
        BlazeDBResult rc = blazedb_open_ex(p.main, PW, &o, &db);
        if (rc != BLAZEDB_OK) {
            if (!rc_in(rc, NOT_DB, 2))
                fail_msg("%s: open gave %s (%s)", what, blazedb_strerror(rc),
                         blazedb_errmsg(NULL));
            assert_true(strlen(blazedb_errmsg(NULL)) > 0);
            refused++;
            continue;
        }
        opened++;
        /* Missing pages are CORRUPT, never "not found". */
        static unsigned char buf[40000];
        char k[32];
        int bad = 0;
        for (int k_i = 0; k_i < NALL; k_i++) {
            size_t kl = fkey(k_i, k);
            void *d = NULL;
            size_t l = 0;
            rc = blazedb_get2(db, k, kl, &d, &l);
            int v = exp_state[J][k_i];
            if (rc == BLAZEDB_CORRUPT) {
                bad = 1;
                continue;
            }
            if (v == 0 && rc == BLAZEDB_NOT_FOUND)
                continue;
            if (v == 0 || rc != BLAZEDB_OK)
                fail_msg("%s: key %s: %s, expected %s", what, k, blazedb_strerror(rc),
                         v ? "its value or CORRUPT" : "NOT_FOUND or CORRUPT");
            size_t len = fval(k_i, v, buf);
            if (l != len || memcmp(d, buf, len) != 0)
                fail_msg("%s: key %s: wrong value", what, k);
            blazedb_free(d);
        }
        corrupt_reads += bad;
        blazedb_close(db);
    }
    print_message("truncated database: %zu cuts, %d refused at open, %d opened (%d of them "
                  "with CORRUPT reads)\n", n, refused, opened, corrupt_reads);
    free(m);
    remove_db(&p);
}

/* ---- hostile header parameters ----------------------------------------------------- */

static void put32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

/* Sets a 32-bit field in both header slots and recomputes their checksums. */
static void patch_header(unsigned char *m, size_t field, uint32_t v, int fix_sum)
{
    for (size_t slot = 0; slot < 2; slot++) {
        unsigned char *s = m + slot * 512;
        put32(s + field, v);
        if (fix_sum)
            SHA256(s, 224, s + 224);
    }
}

static void test_hostile_header(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "hostile");
    remove_db(&p);
    /* An Argon2id database with tiny parameters. */
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.kdf = BLAZEDB_KDF_ARGON2ID;
    o.kdf_iterations = 1;
    o.kdf_memory_kib = 64;
    o.kdf_parallelism = 1;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(p.main, PW, &o, &db), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
    blazedb_close(db);
    unsigned char *m0;
    size_t ml;
    assert_int_equal(slurp(p.main, &m0, &ml), 1);
    assert_memory_equal(m0, "BlazeDB format 1", 16);
    unsigned char *m = malloc(ml);
    assert_non_null(m);

    static const BlazeDBResult refused[] = { BLAZEDB_CORRUPT, BLAZEDB_NOT_A_DATABASE,
                                             BLAZEDB_AUTH_FAILED };
    static const struct { size_t field; uint32_t v; const char *what; } cases[] = {
        { 36, 0xFFFFFFFFu, "Argon2id memory 4 TiB" },
        { 36, (4u << 20) + 1, "Argon2id memory just over 4 GiB" },
        { 36, 0x80000000u, "Argon2id memory 2 TiB" },
        { 36, 0, "Argon2id memory 0" },
        { 36, 1, "Argon2id memory 1 KiB" },
        { 32, 0xFFFFFFFFu, "Argon2id passes 2^32-1" },
        { 32, 65, "Argon2id passes 65" },
        { 32, 0, "Argon2id passes 0" },
        { 40, 0xFFFFFFFFu, "Argon2id lanes 2^32-1" },
        { 40, 17, "Argon2id lanes 17" },
        { 40, 0, "Argon2id lanes 0" },
        { 28, 99, "unknown KDF" },
        { 28, 0, "KDF 0" },
        { 20, 3, "page size 3" },
        { 20, 0, "page size 0" },
        { 20, 1u << 30, "page size 1 GiB" },
        { 20, 2048, "page size 2048" },
        { 20, 131072, "page size 128 KiB" },
        { 20, 16384, "a different valid page size" },
        { 16, 2, "format version 2" },
        { 16, 0xFFFFFFFFu, "format version 2^32-1" },
        { 24, 0xFFFFFFFEu, "unknown flags" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(m, m0, ml);
        patch_header(m, cases[c].field, cases[c].v, 1);
        spit(p.main, m, ml);
        unlink(p.wal);
        unlink(p.shm);
        expect_refused(p.main, refused, 3, cases[c].what);
    }
    /* PBKDF2 with an absurd iteration count. */
    memcpy(m, m0, ml);
    patch_header(m, 28, 2, 0);
    patch_header(m, 32, 0xFFFFFFFFu, 1);
    spit(p.main, m, ml);
    expect_refused(p.main, refused, 3, "PBKDF2 with 2^32-1 iterations");
    memcpy(m, m0, ml);
    patch_header(m, 28, 2, 0);
    patch_header(m, 32, 100000001u, 1);
    spit(p.main, m, ml);
    expect_refused(p.main, refused, 3, "PBKDF2 with 10^8+1 iterations");

    /* Both slots damaged without fixing the checksums. */
    memcpy(m, m0, ml);
    patch_header(m, 36, 0xFFFFFFFFu, 0);
    spit(p.main, m, ml);
    expect_refused(p.main, refused, 3, "both header slots with a bad checksum");

    /* Only slot A damaged: slot B is in force and the database opens. */
    for (int fix = 0; fix < 2; fix++) {
        memcpy(m, m0, ml);
        put32(m + 36, 0xFFFFFFFFu);
        if (fix) /* and slot A made to look newer: must not win with a bad sum */
            m[48] ^= 0x7f;
        spit(p.main, m, ml);
        unlink(p.shm);
        double t0 = now_s();
        assert_int_equal(blazedb_open_ex(p.main, PW, &o, &db), BLAZEDB_OK);
        assert_true(now_s() - t0 < 3.0);
        void *d;
        size_t l;
        assert_int_equal(blazedb_get(db, "k", &d, &l), BLAZEDB_OK);
        assert_int_equal(l, 1);
        blazedb_free(d);
        blazedb_close(db);
    }

    /* The plaintext flag set on an encrypted database (checksum fixed): it
     * may open, but nothing readable may come out of it. */
    memcpy(m, m0, ml);
    patch_header(m, 24, 1, 1);
    spit(p.main, m, ml);
    unlink(p.shm);
    BlazeDBResult rc = blazedb_open_ex(p.main, PW, &o, &db);
    if (rc == BLAZEDB_OK) {
        void *d = NULL;
        size_t l = 0;
        rc = blazedb_get(db, "k", &d, &l);
        blazedb_free(d);
        blazedb_close(db);
        if (rc != BLAZEDB_CORRUPT)
            fail_msg("plaintext flag forced on: get gave %s, expected CORRUPT",
                     blazedb_strerror(rc));
    } else if (!rc_in(rc, refused, 3)) {
        fail_msg("plaintext flag forced on: open gave %s", blazedb_strerror(rc));
    }
    free(m);
    free(m0);
    remove_db(&p);
}

/* ---- the sidecars ------------------------------------------------------------------ */

static void test_garbage_wal_and_shm(void **state)
{
    (void)state;
    DbPaths p, other;
    db_paths(&p, "garbage-wal");
    db_paths(&other, "other-db");
    size_t ps;
    build_history(&p, NULL, NULL, NULL, NULL, &ps);
    /* A crash image of another database, to borrow its log. */
    unsigned char *om, *ow;
    size_t oml, owl, ops;
    build_history(&other, &om, &oml, &ow, &owl, &ops);
    free(om);
    /* Rebuild the history of p (build_history reset exp_state). */
    build_history(&p, NULL, NULL, NULL, NULL, &ps);

    size_t big = 1u << 20;
    unsigned char *g = malloc(big);
    assert_non_null(g);
    for (int variant = 0; variant < 6; variant++) {
        const char *what;
        size_t len = big;
        for (size_t i = 0; i < big; i++)
            g[i] = (unsigned char)rnd();
        switch (variant) {
        case 0: what = "a -wal of random bytes"; break;
        case 1: what = "a -wal of random bytes with the log magic";
            memcpy(g, "BDBWAL01", 8);
            g[8] = 1; g[9] = g[10] = g[11] = 0;
            break;
        case 2: what = "a -wal of zeros"; memset(g, 0, big); break;
        case 3: what = "a -wal of 10 bytes"; len = 10; break;
        case 4: what = "the -wal of another database"; break;
        default: what = "a -wal that is a truncated log header"; len = 40;
            memcpy(g, "BDBWAL01", 8);
            break;
        }
        if (variant == 4)
            spit(p.wal, ow, owl);
        else
            spit(p.wal, g, len);
        unlink(p.shm);
        BlazeDB *db = NULL;
        BlazeDBOptions o;
        opts_fast(&o);
        BlazeDBResult rc = blazedb_open_ex(p.main, PW, &o, &db);
        if (rc != BLAZEDB_OK)
            fail_msg("%s: open gave %s (%s)", what, blazedb_strerror(rc), blazedb_errmsg(NULL));
        if (match_state(db, J, J, 0, what) != J)
            fail_msg("%s: the committed data is not intact", what);
        /* And the database is writable and stays consistent. */
        assert_int_equal(blazedb_put(db, "after", "x", 1), BLAZEDB_OK);
        assert_int_equal(blazedb_delete(db, "after"), BLAZEDB_OK);
        blazedb_close(db);
        db = open_db(p.main);
        if (match_state(db, J, J, 0, what) != J)
            fail_msg("%s: the data is not intact after writing and reopening", what);
        blazedb_close(db);
    }

    /* A garbage -shm with no handle open: rebuilt from the files. */
    for (int variant = 0; variant < 4; variant++) {
        size_t len = variant == 0 ? 16384 : variant == 1 ? 5 : variant == 2 ? 0 : 100000;
        for (size_t i = 0; i < len; i++)
            g[i] = (unsigned char)rnd();
        if (variant == 3)
            memcpy(g, "BZBDBSHM", 8);
        spit(p.shm, g, len);
        unlink(p.wal);
        BlazeDB *db = NULL;
        BlazeDBOptions o;
        opts_fast(&o);
        BlazeDBResult rc = blazedb_open_ex(p.main, PW, &o, &db);
        if (rc != BLAZEDB_OK)
            fail_msg("-shm of %zu garbage bytes: open gave %s (%s)", len, blazedb_strerror(rc),
                     blazedb_errmsg(NULL));
        if (match_state(db, J, J, 0, "garbage -shm") != J)
            fail_msg("-shm of %zu garbage bytes: the data is not intact", len);
        assert_int_equal(blazedb_put(db, "after", "x", 1), BLAZEDB_OK);
        assert_int_equal(blazedb_delete(db, "after"), BLAZEDB_OK);
        blazedb_close(db);
    }
    free(g);
    free(ow);
    remove_db(&p);
    remove_db(&other);
}

static void test_truncated_wal(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "trunc-wal");
    unsigned char *m, *w;
    size_t ml, wl, ps;
    build_history(&p, &m, &ml, &w, &wl, &ps);
    /* Frames in use. */
    size_t used = 0;
    for (size_t f = 0; f < wl / ps; f++)
        for (size_t i = 0; i < ps; i++)
            if (w[f * ps + i]) {
                used = f + 1;
                break;
            }
    assert_true(used > 2);
    /* Commit frames (trailer kind byte at P+40 == 2): the k-th one in the log
     * is commit J1+k (the log restarted after the checkpoint). */
    size_t commit_frame[J + 1] = { 0 }, ncommits = 0;
    for (size_t f = 1; f < used; f++)
        if (w[f * ps + ps - 48 + 40] == 2 && ncommits < J - J1)
            commit_frame[++ncommits] = f;
    assert_int_equal(ncommits, J - J1);
    size_t cuts[4096], n = 0;
    static const size_t small[] = { 0, 1, 8, 39, 40, 47, 48, 63, 64, 100 };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        cuts[n++] = small[i];
    for (size_t f = 1; f <= used && n + 4 < 4096; f++) {
        cuts[n++] = f * ps - 48;   /* the trailer of frame f-1 cut off */
        cuts[n++] = f * ps - 1;
        cuts[n++] = f * ps;
        cuts[n++] = f * ps + ps / 2;
    }
    cuts[n++] = used * ps + ps;
    cuts[n++] = wl;
    int last_c = J1, rollbacks = 0;
    for (size_t i = 0; i < n; i++) {
        if (cuts[i] > wl)
            continue;
        unlink(p.shm);
        spit(p.main, m, ml);
        spit(p.wal, w, cuts[i]);
        char what[128];
        snprintf(what, sizeof what, "log cut at %zu of %zu bytes", cuts[i], wl);
        BlazeDBOptions o;
        opts_fast(&o);
        o.flags = 0;
        o.durability = BLAZEDB_DURABILITY_OFF;
        BlazeDB *db = NULL;
        BlazeDBResult rc = blazedb_open_ex(p.main, PW, &o, &db);
        if (rc != BLAZEDB_OK)
            fail_msg("%s: open gave %s (%s)", what, blazedb_strerror(rc), blazedb_errmsg(NULL));
        int c = match_state(db, J1, J, 0, what);
        if (c < 0)
            fail_msg("%s: the data matches no commit between %d and %d", what, J1, J);
        /* Exactly the commits whose frames are all in the cut log. */
        int want = J1;
        for (size_t k = 1; k <= ncommits; k++)
            if ((commit_frame[k] + 1) * ps <= cuts[i])
                want = J1 + (int)k;
        if (c != want)
            fail_msg("%s: recovered commit %d, expected %d", what, c, want);
        /* A longer log never recovers less. */
        if (c < last_c)
            fail_msg("%s: recovered commit %d, but a shorter cut recovered %d", what, c,
                     last_c);
        if (c < J)
            rollbacks++;
        last_c = c;
        blazedb_close(db);
    }
    assert_int_equal(last_c, J);
    print_message("truncated log: %zu cuts over %zu frames, %d recovered an earlier "
                  "commit, each exactly the commits wholly in the cut log\n", n, used,
                  rollbacks);
    free(m);
    free(w);
    remove_db(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_zero_filled_files),
        cmocka_unit_test(test_random_files),
        cmocka_unit_test(test_text_and_sqlite_files),
        cmocka_unit_test(test_directory_path),
        cmocka_unit_test(test_truncated_database),
        cmocka_unit_test(test_hostile_header),
        cmocka_unit_test(test_garbage_wal_and_shm),
        cmocka_unit_test(test_truncated_wal),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
