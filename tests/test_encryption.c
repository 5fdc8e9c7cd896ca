/*
 * test_encryption.c — encryption at rest, checked from the outside by
 * reading the raw bytes of the main file, the -wal and the -shm:
 *   - no key, value, field-name-like string or password appears in clear in
 *     any of them, with the handle open (log not checkpointed), after a
 *     checkpoint and after close; in a plaintext database the same search
 *     does find them (so the search works);
 *   - a wrong password gives AUTH_FAILED and changes no byte of any file;
 *   - flipping any one byte of the main file or of the log (a sample of
 *     offsets in every page and every frame) then reading everything gives
 *     either the right data (of the last commit, or — for a damaged log —
 *     of an earlier commit, as a torn log would) or BLAZEDB_CORRUPT: never
 *     a wrong value, never a crash.
 * Set BLAZEDB_LONG_TESTS=1 for many more flipped offsets per page.
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
#include <unistd.h>

#include <openssl/sha.h>

#include "blazedb.h"

/* ---- temp dirs, files ---------------------------------------------------------- */

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
    snprintf(tmpl, sizeof tmpl, "%s/blazedb-enc-XXXXXX", t && *t ? t : "/tmp");
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

/* Reads a whole file; returns 0 and *len = 0, *buf = NULL when absent. */
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

static void spit(const char *path, const unsigned char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    close(fd);
}

static void opts_fast(BlazeDBOptions *o)
{
    blazedb_options_init(o);
    o->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o->kdf_iterations = 1;
    o->wal_autocheckpoint = UINT32_MAX; /* keep everything in the log */
}

static BlazeDB *open_db(const char *path, const char *pw, uint32_t extra_flags)
{
    BlazeDBOptions o;
    opts_fast(&o);
    o.flags |= extra_flags;
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, pw, &o, &db);
    if (rc != BLAZEDB_OK)
        fail_msg("open %s: %s (%s)", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    return db;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int long_tests(void)
{
    const char *e = getenv("BLAZEDB_LONG_TESTS");
    return e && *e && strcmp(e, "0") != 0;
}

/* ---- markers --------------------------------------------------------------------- */

#define PASSWORD "hunter2-Password-Canary-77"
/* 32 bytes, recognisable. */
#define MARKER "Zq7#BLAZEDB-CANARY-VALUE-0451!x&"

static const char *const needles[] = {
    "SECRET-KEY-", MARKER, "customer_email", "credit_card_number",
    "alice@example.com", "4111-1111-1111-1111", "SECRET-BINARY", PASSWORD,
};
enum { NNEEDLES = sizeof needles / sizeof needles[0] };

/* Writes the distinctive data: 300 small records, a few large ones that
 * need overflow pages, binary keys; in several transactions. */
static void write_markers(BlazeDB *db)
{
    char k[64], v[512];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "SECRET-KEY-%04d", i);
        int n = snprintf(v, sizeof v,
                         "{\"customer_email\": \"alice@example.com\", \"n\": %d, "
                         "\"credit_card_number\": \"4111-1111-1111-1111\", \"m\": \"%s\"}",
                         i, MARKER);
        assert_int_equal(blazedb_put2(db, k, strlen(k), v, (size_t)n), BLAZEDB_OK);
    }
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    size_t big = 40000;
    char *b = malloc(big);
    assert_non_null(b);
    for (size_t i = 0; i < big; i += 32)
        memcpy(b + i, MARKER, 32);
    for (int i = 0; i < 3; i++) {
        snprintf(k, sizeof k, "SECRET-KEY-BIG-%d", i);
        assert_int_equal(blazedb_txn_put(t, k, strlen(k), b, big - (size_t)i * 1000),
                         BLAZEDB_OK);
    }
    free(b);
    unsigned char bk[20] = "SECRET-BINARY\0\x01\xff";
    assert_int_equal(blazedb_txn_put(t, bk, sizeof bk, MARKER, 32), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    BlazeDBWrite w[2] = {
        { "SECRET-KEY-batch", 16, MARKER "customer_email", 46, 0 },
        { "SECRET-KEY-0007", 15, NULL, 0, 1 },
    };
    assert_int_equal(blazedb_write_batch(db, w, 2), BLAZEDB_OK);
}

/* Counts needles found in the file at `path` (absent file: 0). */
static int count_needles(const char *path, char *found, size_t cap)
{
    unsigned char *buf;
    size_t len;
    assert_true(slurp(path, &buf, &len) >= 0);
    int hits = 0;
    for (int i = 0; i < NNEEDLES; i++) {
        if (buf && memmem(buf, len, needles[i], strlen(needles[i]))) {
            hits++;
            size_t o = strlen(found);
            snprintf(found + o, cap - o, " [%s in %s]", needles[i], path);
        }
    }
    free(buf);
    return hits;
}

static int scan_all(const DbPaths *p, char *found, size_t cap)
{
    found[0] = 0;
    return count_needles(p->main, found, cap) + count_needles(p->wal, found, cap) +
           count_needles(p->shm, found, cap);
}

static void test_no_plaintext_on_disk(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "enc");
    char found[4096];
    BlazeDB *db = open_db(p.main, PASSWORD, 0);
    write_markers(db);
    struct stat sb;
    assert_int_equal(stat(p.wal, &sb), 0);
    assert_true(sb.st_size > 0); /* the data is in the log right now */
    if (scan_all(&p, found, sizeof found))
        fail_msg("plaintext on disk with the handle open:%s", found);

    /* Also a second handle (shared memory in use by two). */
    BlazeDB *db2 = open_db(p.main, PASSWORD, 0);
    assert_int_equal(blazedb_put(db2, "SECRET-KEY-from-2", MARKER, 32), BLAZEDB_OK);
    if (scan_all(&p, found, sizeof found))
        fail_msg("plaintext on disk with two handles open:%s", found);
    blazedb_close(db2);

    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    if (scan_all(&p, found, sizeof found))
        fail_msg("plaintext on disk after a checkpoint:%s", found);
    /* A password change rewrites the header: nothing in clear either. */
    assert_int_equal(blazedb_rekey(db, PASSWORD "-2", NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "SECRET-KEY-after-rekey", MARKER, 32), BLAZEDB_OK);
    blazedb_close(db);
    if (scan_all(&p, found, sizeof found))
        fail_msg("plaintext on disk after close:%s", found);

    /* The data is really there. */
    db = open_db(p.main, PASSWORD "-2", BLAZEDB_OPEN_READONLY);
    void *d;
    size_t l;
    assert_int_equal(blazedb_get(db, "SECRET-KEY-0042", &d, &l), BLAZEDB_OK);
    assert_non_null(memmem(d, l, MARKER, 32));
    blazedb_free(d);
    assert_int_equal(blazedb_get(db, "SECRET-KEY-BIG-1", &d, &l), BLAZEDB_OK);
    assert_int_equal(l, 39000);
    blazedb_free(d);
    if (scan_all(&p, found, sizeof found))
        fail_msg("plaintext on disk after a read-only open:%s", found);
    blazedb_close(db);
}

/* The same search finds the data in a plaintext database: the search works. */
static void test_plaintext_markers_visible(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "plain");
    char found[4096];
    BlazeDB *db = open_db(p.main, PASSWORD, BLAZEDB_OPEN_PLAINTEXT);
    write_markers(db);
    int open_hits = scan_all(&p, found, sizeof found);
    assert_true(count_needles(p.wal, found, sizeof found) >= 3);
    blazedb_close(db);
    int closed_hits = count_needles(p.main, found, sizeof found);
    /* Keys, marker, field names, e-mail, card number, binary key; not the
     * password (never stored). */
    assert_true(open_hits >= NNEEDLES - 1);
    assert_true(closed_hits >= NNEEDLES - 1);
    assert_null(strstr(found, "[" PASSWORD));
}

/* ---- wrong password changes nothing --------------------------------------------------- */

typedef struct {
    int present[3];
    size_t len[3];
    unsigned char sha[3][SHA256_DIGEST_LENGTH];
} Hashes;

static void hash_files(const DbPaths *p, Hashes *h)
{
    const char *f[3] = { p->main, p->wal, p->shm };
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 3; i++) {
        unsigned char *buf;
        size_t len;
        int r = slurp(f[i], &buf, &len);
        assert_true(r >= 0);
        h->present[i] = r;
        h->len[i] = len;
        SHA256(buf ? buf : (const unsigned char *)"", len, h->sha[i]);
        free(buf);
    }
}

static void expect_same(const Hashes *a, const Hashes *b, const char *when)
{
    static const char *names[3] = { "main file", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        if (a->present[i] != b->present[i])
            fail_msg("%s: %s %s", when, names[i], a->present[i] ? "vanished" : "appeared");
        if (a->len[i] != b->len[i] || memcmp(a->sha[i], b->sha[i], SHA256_DIGEST_LENGTH))
            fail_msg("%s: %s changed (%zu -> %zu bytes)", when, names[i], a->len[i],
                     b->len[i]);
    }
}

static void wrong_password_attempts(const DbPaths *p, const char *when)
{
    static const char *wrong[] = { "hunter2", PASSWORD "x", "", "HUNTER2-PASSWORD-CANARY-77" };
    static const uint32_t flags[] = { BLAZEDB_OPEN_CREATE, 0, BLAZEDB_OPEN_READONLY,
                                      BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_PLAINTEXT };
    Hashes before, after;
    hash_files(p, &before);
    for (size_t w = 0; w < 4; w++)
        for (size_t f = 0; f < 4; f++) {
            BlazeDBOptions o;
            opts_fast(&o);
            o.flags = flags[f];
            BlazeDB *db = NULL;
            BlazeDBResult rc = blazedb_open_ex(p->main, wrong[w], &o, &db);
            if (!*wrong[w] && !(flags[f] & BLAZEDB_OPEN_PLAINTEXT))
                assert_int_equal(rc, BLAZEDB_INVALID_ARGUMENT);
            else if (rc != BLAZEDB_AUTH_FAILED)
                fail_msg("%s: password \"%s\" flags %x: %s, expected AUTH_FAILED", when,
                         wrong[w], flags[f], blazedb_strerror(rc));
            assert_null(db);
            assert_true(strlen(blazedb_errmsg(NULL)) > 0);
        }
    /* With the default Argon2id options too (the KDF comes from the file). */
    assert_null(blazedb_open(p->main, "wrong"));
    hash_files(p, &after);
    expect_same(&before, &after, when);
}

static void test_wrong_password_changes_nothing(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "wrongpw");
    BlazeDB *db = open_db(p.main, PASSWORD, 0);
    write_markers(db);
    blazedb_close(db);
    wrong_password_attempts(&p, "closed database");

    /* With a handle open and commits in the log. */
    db = open_db(p.main, PASSWORD, 0);
    assert_int_equal(blazedb_put(db, "more", "data", 4), BLAZEDB_OK);
    wrong_password_attempts(&p, "database open in another handle");
    void *d;
    size_t l;
    assert_int_equal(blazedb_get(db, "more", &d, &l), BLAZEDB_OK);
    blazedb_free(d);
    blazedb_close(db);
    db = open_db(p.main, PASSWORD, 0);
    assert_int_equal(blazedb_get(db, "SECRET-KEY-0001", &d, &l), BLAZEDB_OK);
    blazedb_free(d);
    blazedb_close(db);
}

/* ---- one flipped byte ------------------------------------------------------------------ */

enum {
    NK = 240,          /* ordinary keys */
    K_BIG = NK,        /* a value that needs overflow pages */
    K_VER = NK + 1,    /* value = number of the last commit */
    NALL = NK + 2,
    J1 = 6,            /* commits before the checkpoint */
    J = 14             /* commits in all */
};

/* exp[c][i]: version of key i after commit c (0 = absent). */
static uint8_t exp_state[J + 1][NALL];

static size_t fkey(int i, char *k)
{
    if (i == K_BIG)
        return (size_t)snprintf(k, 32, "big-value");
    if (i == K_VER)
        return (size_t)snprintf(k, 32, "version");
    return (size_t)snprintf(k, 32, "flip-key-%04d", i);
}

static size_t fval(int i, int v, unsigned char *buf)
{
    if (i == K_VER) {
        buf[0] = (unsigned char)v;
        return 1;
    }
    size_t len = i == K_BIG ? 20000u + (size_t)v * 100u : 10u + (size_t)((i * 13 + v * 7) % 150);
    for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)(i * 3 + v * 11 + j);
    return len;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Runs commit j on db and in exp_state. */
static void flip_commit(BlazeDB *db, int j)
{
    static unsigned char buf[40000];
    char k[32];
    memcpy(exp_state[j], exp_state[j - 1], NALL);
    BlazeDBTxn *t;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int i = 0; i < NK; i++) {
        uint64_t h = mix((uint64_t)i * 1000 + (uint64_t)j) % 20;
        int v = -1;
        if (j == 1 || h < 3)
            v = j;
        else if (h == 3)
            v = 0;
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
    if (j == 3 || j == 9) {
        size_t kl = fkey(K_BIG, k), n = fval(K_BIG, j, buf);
        assert_int_equal(blazedb_txn_put(t, k, kl, buf, n), BLAZEDB_OK);
        exp_state[j][K_BIG] = (uint8_t)j;
    }
    size_t kl = fkey(K_VER, k), n = fval(K_VER, j, buf);
    assert_int_equal(blazedb_txn_put(t, k, kl, buf, n), BLAZEDB_OK);
    exp_state[j][K_VER] = (uint8_t)j;
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
}

/* Is (key i -> value) possible in state c?  NULL value = absent. */
static int value_matches(int c, int i, const void *v, size_t vl)
{
    static unsigned char buf[40000];
    int ver = exp_state[c][i];
    if (!v)
        return ver == 0;
    if (ver == 0)
        return 0;
    size_t n = fval(i, ver, buf);
    return n == vl && memcmp(buf, v, n) == 0;
}

typedef struct {
    int trials, ok, corrupt_open, corrupt_read, older_state;
    int lo_seen;
} FlipStats;

/* Opens the damaged copy and reads everything.  cmin..cmax are the states
 * the data may legitimately be in.  Fails the test on a wrong value or an
 * unexpected result code. */
static void flip_check(const DbPaths *p, int cmin, int cmax, const char *what, FlipStats *st)
{
    BlazeDBOptions o;
    opts_fast(&o);
    o.durability = BLAZEDB_DURABILITY_OFF;
    o.flags = 0;
    BlazeDB *db = NULL;
    st->trials++;
    BlazeDBResult rc = blazedb_open_ex(p->main, PASSWORD, &o, &db);
    if (rc == BLAZEDB_CORRUPT) {
        assert_null(db);
        assert_true(strlen(blazedb_errmsg(NULL)) > 0);
        st->corrupt_open++;
        return;
    }
    if (rc != BLAZEDB_OK)
        fail_msg("%s: open gave %s (%s)", what, blazedb_strerror(rc), blazedb_errmsg(NULL));

    int alive[J + 1];
    for (int c = 0; c <= J; c++)
        alive[c] = c >= cmin && c <= cmax;
    int corrupt = 0;
    char k[32];
    /* Point reads of every key. */
    for (int i = NALL - 1; i >= 0; i--) {
        size_t kl = fkey(i, k);
        void *d = NULL;
        size_t l = 0;
        rc = blazedb_get2(db, k, kl, &d, &l);
        if (rc == BLAZEDB_CORRUPT) {
            corrupt = 1;
            continue;
        }
        if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND)
            fail_msg("%s: get %s gave %s (%s)", what, k, blazedb_strerror(rc),
                     blazedb_errmsg(db));
        for (int c = cmin; c <= J; c++)
            if (alive[c] && !value_matches(c, i, rc == BLAZEDB_OK ? d : NULL, l))
                alive[c] = 0;
        blazedb_free(d);
    }
    /* A full scan: every key it returns is one of ours with a right value. */
    BlazeDBIterator *it = NULL;
    rc = blazedb_iter_open(db, NULL, NULL, &it);
    if (rc == BLAZEDB_OK) {
        uint8_t seen[NALL] = { 0 };
        int scan_ok = 1;
        while ((rc = blazedb_iter_next(it)) == BLAZEDB_OK) {
            const void *ik, *iv;
            size_t ikl, ivl;
            assert_int_equal(blazedb_iter_key(it, &ik, &ikl), BLAZEDB_OK);
            BlazeDBResult vrc = blazedb_iter_value(it, &iv, &ivl);
            if (vrc == BLAZEDB_CORRUPT) { /* e.g. a damaged overflow page */
                rc = vrc;
                break;
            }
            if (vrc != BLAZEDB_OK)
                fail_msg("%s: iter_value gave %s", what, blazedb_strerror(vrc));
            int found = -1;
            for (int i = 0; i < NALL && found < 0; i++) {
                size_t kl = fkey(i, k);
                if (kl == ikl && memcmp(k, ik, kl) == 0)
                    found = i;
            }
            if (found < 0)
                fail_msg("%s: the scan returned a key that was never written: %.*s", what,
                         (int)ikl, (const char *)ik);
            seen[found] = 1;
            for (int c = cmin; c <= J; c++)
                if (alive[c] && !value_matches(c, found, iv, ivl))
                    alive[c] = 0;
        }
        if (rc == BLAZEDB_CORRUPT) {
            corrupt = 1;
            scan_ok = 0;
        } else if (rc != BLAZEDB_NOT_FOUND) {
            fail_msg("%s: iter_next gave %s", what, blazedb_strerror(rc));
        }
        if (scan_ok)
            for (int c = cmin; c <= J; c++)
                for (int i = 0; i < NALL && alive[c]; i++)
                    if (!seen[i] && exp_state[c][i])
                        alive[c] = 0;
        blazedb_iter_close(it);
    } else if (rc == BLAZEDB_CORRUPT) {
        corrupt = 1;
    } else {
        fail_msg("%s: iter_open gave %s", what, blazedb_strerror(rc));
    }
    int any = -1;
    for (int c = J; c >= cmin; c--)
        if (alive[c]) {
            any = c;
            break;
        }
    if (any < 0) {
        /* Which committed states, if any, would it have matched? */
        char states[128] = "";
        for (int c = 0; c <= J; c++) {
            int match = 1;
            for (int i = 0; i < NALL && match; i++) {
                size_t kl = fkey(i, k);
                void *d = NULL;
                size_t l = 0;
                rc = blazedb_get2(db, k, kl, &d, &l);
                if (rc == BLAZEDB_OK || rc == BLAZEDB_NOT_FOUND)
                    match = value_matches(c, i, rc == BLAZEDB_OK ? d : NULL, l);
                blazedb_free(d);
            }
            if (match) {
                size_t o = strlen(states);
                snprintf(states + o, sizeof states - o, " %d", c);
            }
        }
        fail_msg("%s: the data read back matches no committed state in %d..%d "
                 "(wrong data returned; it matches commit(s):%s)", what, cmin, cmax,
                 *states ? states : " none");
    }
    if (corrupt)
        st->corrupt_read++;
    else
        st->ok++;
    if (any < cmax)
        st->older_state++;
    if (any < st->lo_seen)
        st->lo_seen = any;
    blazedb_close(db);
}

static void restore(const DbPaths *p, const unsigned char *m, size_t ml, const unsigned char *w,
                    size_t wl)
{
    unlink(p->shm);
    spit(p->main, m, ml);
    if (w)
        spit(p->wal, w, wl);
    else
        unlink(p->wal);
}

/* Offsets to flip within one page/frame of size ps: random ones plus one in
 * the trailer and one in the first bytes. */
static size_t flip_offsets(size_t ps, size_t *off, size_t cap)
{
    size_t n = 0;
    size_t nrand = long_tests() ? 24 : 3;
    off[n++] = rnd() % 64;
    off[n++] = ps - 48 + rnd() % 48;
    for (size_t i = 0; i < nrand && n < cap; i++)
        off[n++] = rnd() % ps;
    return n;
}

static void test_single_byte_flips(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "flip");
    memset(exp_state, 0, sizeof exp_state);
    BlazeDB *db = open_db(p.main, PASSWORD, 0);
    BlazeDBStats s;
    s.struct_size = sizeof s;
    for (int j = 1; j <= J1; j++)
        flip_commit(db, j);
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    for (int j = J1 + 1; j <= J; j++)
        flip_commit(db, j);
    assert_int_equal(blazedb_stats(db, &s), BLAZEDB_OK);
    size_t ps = s.page_size;

    /* The files as a crash would leave them: main file + log, no -shm. */
    unsigned char *m0, *w0;
    size_t ml, wl;
    assert_int_equal(slurp(p.main, &m0, &ml), 1);
    assert_int_equal(slurp(p.wal, &w0, &wl), 1);
    blazedb_close(db);
    /* And as a clean close leaves them: everything in the main file. */
    unsigned char *mc, *wc;
    size_t mcl, wcl;
    assert_int_equal(slurp(p.main, &mc, &mcl), 1);
    assert_true(slurp(p.wal, &wc, &wcl) >= 0);
    assert_int_equal(wcl, 0);
    free(wc);
    assert_true(ml % ps == 0);
    assert_true(mcl % ps == 0);
    assert_true(wl >= 2 * ps);

    /* Frames in use: up to the last non-zero one (the log is pre-grown with
     * zeros); a few of the zero frames after it are tried as well. */
    size_t wframes = wl / ps, used = 0;
    for (size_t f = 0; f < wframes; f++) {
        const unsigned char *fr = w0 + f * ps;
        for (size_t i = 0; i < ps; i++)
            if (fr[i]) {
                used = f + 1;
                break;
            }
    }
    assert_true(used >= 2);

    /* Undamaged copy: exactly the last commit. */
    FlipStats fs = { 0 };
    fs.lo_seen = J;
    restore(&p, m0, ml, w0, wl);
    flip_check(&p, J, J, "undamaged copy", &fs);
    assert_int_equal(fs.ok, 1);
    /* Without the log: exactly the checkpointed state. */
    restore(&p, m0, ml, NULL, 0);
    flip_check(&p, J1, J1, "main file alone", &fs);
    /* Cleanly closed: the last commit. */
    restore(&p, mc, mcl, NULL, 0);
    flip_check(&p, J, J, "closed database", &fs);
    assert_int_equal(fs.ok, 3);

    char what[128];
    size_t off[32];
    FlipStats mainst = { 0 }, closedst = { 0 }, walst = { 0 };
    mainst.lo_seen = closedst.lo_seen = walst.lo_seen = J;
    unsigned char *m = malloc(ml > mcl ? ml : mcl), *w = malloc(wl);
    assert_non_null(m);
    assert_non_null(w);

    /* Every page of the main file, in the crash image (the log holds the
     * newest versions of most pages) and in the cleanly closed database
     * (every page is live).  Damage to it may not lose anything: the result
     * is the last commit or CORRUPT. */
    for (size_t pg = 0; pg < ml / ps; pg++) {
        size_t n = flip_offsets(ps, off, 32);
        if (pg == 0) /* header slots */
            for (size_t i = 0; i < 6 && n < 32; i++)
                off[n++] = (rnd() % 2) * 512 + rnd() % 256;
        for (size_t i = 0; i < n; i++) {
            memcpy(m, m0, ml);
            m[pg * ps + off[i]] ^= (unsigned char)(1 + rnd() % 255);
            restore(&p, m, ml, w0, wl);
            snprintf(what, sizeof what, "main file page %zu offset %zu", pg, off[i]);
            flip_check(&p, J, J, what, &mainst);
        }
    }
    for (size_t pg = 0; pg < mcl / ps; pg++) {
        size_t n = flip_offsets(ps, off, 32);
        if (pg == 0)
            for (size_t i = 0; i < 6 && n < 32; i++)
                off[n++] = (rnd() % 2) * 512 + rnd() % 256;
        if (pg == 1 || pg == 2) /* meta pages: a few more, near the record */
            for (size_t i = 0; i < 6 && n < 32; i++)
                off[n++] = rnd() % 256;
        for (size_t i = 0; i < n; i++) {
            memcpy(m, mc, mcl);
            m[pg * ps + off[i]] ^= (unsigned char)(1 + rnd() % 255);
            restore(&p, m, mcl, NULL, 0);
            snprintf(what, sizeof what, "closed database, page %zu offset %zu", pg, off[i]);
            flip_check(&p, J, J, what, &closedst);
        }
    }
    /* Every frame of the log in use (and some zero frames after it).  Its
     * damage may roll back to an earlier commit, never before the
     * checkpoint. */
    for (size_t f = 0; f < wframes; f++) {
        if (f > used + 2 && f % 64 != 0)
            continue;
        size_t n = flip_offsets(ps, off, 32);
        if (f == 0)
            for (size_t i = 0; i < 6 && n < 32; i++)
                off[n++] = rnd() % 64; /* log header */
        for (size_t i = 0; i < n; i++) {
            memcpy(w, w0, wl);
            w[f * ps + off[i]] ^= (unsigned char)(1 + rnd() % 255);
            restore(&p, m0, ml, w, wl);
            snprintf(what, sizeof what, "log frame %zu offset %zu", f, off[i]);
            flip_check(&p, J1, J, what, &walst);
        }
    }
    print_message("main file: %zu pages, %d flips: %d read fine, %d CORRUPT at open, "
                  "%d CORRUPT on a read\n", ml / ps, mainst.trials, mainst.ok,
                  mainst.corrupt_open, mainst.corrupt_read);
    print_message("closed database: %zu pages, %d flips: %d read fine, %d CORRUPT at "
                  "open, %d CORRUPT on a read\n", mcl / ps, closedst.trials, closedst.ok,
                  closedst.corrupt_open, closedst.corrupt_read);
    print_message("log: %zu frames in use of %zu, %d flips: %d read fine, %d CORRUPT at "
                  "open, %d CORRUPT on a read, %d rolled back (oldest state seen %d)\n",
                  used, wframes, walst.trials, walst.ok, walst.corrupt_open,
                  walst.corrupt_read, walst.older_state, walst.lo_seen);
    /* Main-file damage never rolls back. */
    assert_int_equal(mainst.older_state, 0);
    /* Damage to data pages is actually detected (not everything ignored). */
    assert_true(closedst.corrupt_open + closedst.corrupt_read > 0);
    assert_true(walst.older_state + walst.corrupt_open + walst.corrupt_read > 0);
    free(m);
    free(w);
    free(m0);
    free(w0);
    free(mc);
}

/* A database written once and closed: its meta pages are the creation meta
 * and the meta of the closing checkpoint.  Damage to either may not make the
 * database silently open as an older (here: empty) one. */
static void test_meta_page_flip_after_close(void **state)
{
    (void)state;
    DbPaths p;
    db_paths(&p, "metaflip");
    BlazeDB *db = open_db(p.main, PASSWORD, 0);
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof k, "meta-key-%02d", i);
        assert_int_equal(blazedb_put(db, k, k, strlen(k)), BLAZEDB_OK);
    }
    BlazeDBStats st;
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    size_t ps = st.page_size;
    blazedb_close(db);
    unsigned char *m0;
    size_t ml;
    assert_int_equal(slurp(p.main, &m0, &ml), 1);
    unsigned char *m = malloc(ml);
    assert_non_null(m);
    char bad[512] = "";
    for (size_t pg = 1; pg <= 2; pg++) {
        static const size_t offs[] = { 0, 9, 100, 4000 };
        for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
            memcpy(m, m0, ml);
            m[pg * ps + offs[o]] ^= 0x20;
            restore(&p, m, ml, NULL, 0);
            BlazeDBOptions opt;
            opts_fast(&opt);
            opt.flags = 0;
            BlazeDBResult rc = blazedb_open_ex(p.main, PASSWORD, &opt, &db);
            if (rc == BLAZEDB_CORRUPT)
                continue;
            assert_int_equal(rc, BLAZEDB_OK);
            int n_ok = 0, n_corrupt = 0, n_absent = 0;
            for (int i = 0; i < 50; i++) {
                char k[32];
                snprintf(k, sizeof k, "meta-key-%02d", i);
                void *d = NULL;
                size_t l = 0;
                rc = blazedb_get(db, k, &d, &l);
                if (rc == BLAZEDB_OK) {
                    assert_int_equal(l, strlen(k));
                    assert_memory_equal(d, k, l);
                    n_ok++;
                } else if (rc == BLAZEDB_CORRUPT) {
                    n_corrupt++;
                } else {
                    assert_int_equal(rc, BLAZEDB_NOT_FOUND);
                    n_absent++;
                }
                blazedb_free(d);
            }
            blazedb_close(db);
            if (n_absent) {
                size_t len = strlen(bad);
                snprintf(bad + len, sizeof bad - len,
                         " [page %zu offset %zu: opened OK, %d of 50 keys missing]", pg,
                         offs[o], n_absent);
            }
        }
    }
    free(m);
    free(m0);
    if (*bad)
        fail_msg("a damaged meta page silently rolled the database back:%s", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_plaintext_on_disk),
        cmocka_unit_test(test_plaintext_markers_visible),
        cmocka_unit_test(test_wrong_password_changes_nothing),
        cmocka_unit_test(test_single_byte_flips),
        cmocka_unit_test(test_meta_page_flip_after_close),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
