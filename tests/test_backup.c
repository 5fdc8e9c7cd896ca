/*
 * test_backup.c — online backup, incremental backup, verify and restore
 * (src/tools/backup.c).
 *
 * Databases are filled with the suites' workload (tests/support/testutil.c:
 * transaction j writes up to 20 puts/deletes over 200 keys and meta:last =
 * j), so the state after any transaction can be regenerated and compared
 * key by key.  Covered: round trips (byte-KV and documents), a backup taken
 * while a writer thread commits (the restore holds exactly the state of one
 * commit, between the commits seen before and after), full + incrementals,
 * a backup password of its own, plaintext databases, every single-byte
 * change of a small backup and a sample of a large one, truncation at every
 * chunk boundary and random points, chunks spliced from another backup, a
 * base from another database, wrong passwords, a target open elsewhere, a
 * stale log of the replaced database, restore killed with SIGKILL at random
 * moments and power loss at every sync of a restore (os_fault), and
 * cancellation of all three operations.
 *
 * BLAZEDB_LONG_TESTS=1 runs more kills.  BLAZEDB_TEST_SEED=S replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "../src/os/os_fault.h"
#include "../src/tools/backup.h"
#include "support/testutil.h"

/* ---- helpers ---------------------------------------------------------------- */

static BlazeDB *open_db(const char *path, const char *pw)
{
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, pw, &o, &db);
    if (rc)
        fprintf(stderr, "open %s: %s (%s)\n", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    assert_int_equal(rc, BLAZEDB_OK);
    return db;
}

static void run_txns(BlazeDB *db, const TuWorkload *w, uint64_t from, uint64_t to)
{
    for (uint64_t j = from; j <= to; j++) {
        BlazeDBResult rc = tu_txn_run(db, w, j, NULL);
        if (rc)
            fprintf(stderr, "txn %" PRIu64 ": %s (%s)\n", j, blazedb_strerror(rc),
                    blazedb_errmsg(db));
        assert_int_equal(rc, BLAZEDB_OK);
    }
}

static BlazeDBResult do_backup(BlazeDB *db, const char *dest, const char *pw, const char *base)
{
    BlazeDBBackupOptions o;
    blazedb_backup_options_init(&o);
    o.password = pw;
    o.kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o.kdf_iterations = 1;
    o.incremental_from = base;
    BlazeDBResult rc = blazedb_backup(db, dest, &o);
    if (rc && rc != BLAZEDB_CANCELLED)
        fprintf(stderr, "backup %s: %s (%s)\n", dest, blazedb_strerror(rc), blazedb_errmsg(db));
    return rc;
}

static BlazeDBResult do_restore(const char *const *paths, size_t n, const char *pw,
                                const char *target, unsigned flags)
{
    BlazeDBRestoreOptions o;
    blazedb_restore_options_init(&o);
    o.flags = flags;
    return blazedb_restore(paths, n, pw, target, &o);
}

static BlazeDBResult verify(const char *const *paths, size_t n, const char *pw, unsigned flags)
{
    return blazedb_backup_verify(paths, n, pw, flags, NULL, NULL, NULL);
}

/* Opens `path`, checks it against the model after transaction `k` (or, with
 * k == UINT64_MAX, after whatever meta:last says, returned) and db_check. */
static uint64_t check_state(const char *path, const char *pw, const TuWorkload *w, uint64_t k)
{
    BlazeDB *db = open_db(path, pw);
    uint64_t last = 0;
    assert_int_equal(tu_db_last(db, w, &last), BLAZEDB_OK);
    if (k != UINT64_MAX)
        assert_int_equal(last, k);
    TuModel m;
    assert_int_equal(tu_model_init(&m, w), 0);
    tu_model_replay(&m, last);
    char msg[512];
    if (tu_model_compare(&m, db, msg, sizeof msg) != 0)
        fail_msg("%s after %" PRIu64 ": %s", path, last, msg);
    if (tu_db_check(db, msg, sizeof msg) != 0)
        fail_msg("%s: db_check: %s", path, msg);
    tu_model_free(&m);
    blazedb_close(db);
    return last;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of directory entries whose name contains `part`. */
static int count_named(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, part))
            n++;
    closedir(d);
    return n;
}

static void remove_named(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, part)) {
            char *p = tu_path(dir, e->d_name);
            unlink(p);
            free(p);
        }
    closedir(d);
}

static void remove_db(const char *path)
{
    char buf[4096];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
}

/* Offsets of the chunk boundaries of a backup file (after the header, after
 * each chunk); returns how many. */
static size_t chunk_bounds(const uint8_t *b, size_t len, size_t *out, size_t cap)
{
    size_t n = 0, off = BACKUP_HEADER_SIZE;
    out[n++] = off;
    while (off + 4 <= len && memcmp(b + off, "BKCH", 4) == 0 && n < cap) {
        uint32_t clen = (uint32_t)b[off + 16] | (uint32_t)b[off + 17] << 8 |
                        (uint32_t)b[off + 18] << 16 | (uint32_t)b[off + 19] << 24;
        off += BACKUP_CHUNK_HEADER_SIZE + clen + BACKUP_CHUNK_TAG_SIZE;
        out[n++] = off;
    }
    assert_int_equal(off + BACKUP_TRAILER_SIZE, len);
    assert_memory_equal(b + off, "BKTR", 4);
    return n;
}

typedef struct {
    char *dir, *src, *target;
    TuWorkload w;
} Fix;

static void fix_init(Fix *f, const char *tag, uint64_t seed)
{
    f->dir = tu_mkdtemp(tag);
    assert_non_null(f->dir);
    f->src = tu_path(f->dir, "src.db");
    f->target = tu_path(f->dir, "restored.db");
    tu_workload_init(&f->w, "", seed);
}

static void fix_free(Fix *f)
{
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->src);
    free(f->target);
}

/* ---- round trips ------------------------------------------------------------ */

static void test_roundtrip(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-rt", tu_seed("roundtrip"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 60);
    /* documents too: the catalog and collection trees must come along */
    for (int i = 0; i < 300; i++) {
        char json[200];
        snprintf(json, sizeof json, "{\"id\":\"p%04d\",\"name\":\"person %d\",\"n\":%d}", i, i,
                 i * 7);
        BlazeDBDoc *d = NULL;
        assert_int_equal(blazedb_doc_from_json(json, strlen(json), &d), BLAZEDB_OK);
        assert_int_equal(blazedb_insert(db, NULL, "people", d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    BlazeDBStats st = {.struct_size = sizeof st};
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    char *bk = tu_path(f.dir, "full.bdb");
    assert_int_equal(do_backup(db, bk, NULL, NULL), BLAZEDB_OK);
    /* never overwrites */
    assert_int_equal(do_backup(db, bk, NULL, NULL), BLAZEDB_EXISTS);
    const char *paths[] = {bk};
    BlazeDBBackupInfo info = {.struct_size = sizeof info};
    assert_int_equal(blazedb_backup_verify(paths, 1, TU_PASSWORD, 0, NULL, NULL, &info),
                     BLAZEDB_OK);
    assert_int_equal(info.files, 1);
    assert_int_equal(info.encrypted, 1);
    assert_int_equal(info.snapshot_txn, st.last_txn_id);
    assert_int_equal(info.page_count, st.page_count);
    assert_int_equal(info.pages + st.free_pages + 3, st.page_count);
    assert_true(info.chunks >= 1);
    assert_int_equal(verify(paths, 1, TU_PASSWORD, BLAZEDB_VERIFY_FULL), BLAZEDB_OK);
    assert_int_equal(count_named(f.dir, "-verify-"), 0);

    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
    check_state(f.target, TU_PASSWORD, &f.w, 60);
    BlazeDB *r = open_db(f.target, TU_PASSWORD);
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof id, "p%04d", i);
        BlazeDBDoc *a = NULL, *b = NULL;
        char *ja = NULL, *jb = NULL;
        assert_int_equal(blazedb_get_doc(db, NULL, "people", id, &a), BLAZEDB_OK);
        assert_int_equal(blazedb_get_doc(r, NULL, "people", id, &b), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_to_json(a, 0, &ja, NULL), BLAZEDB_OK);
        assert_int_equal(blazedb_doc_to_json(b, 0, &jb, NULL), BLAZEDB_OK);
        assert_string_equal(ja, jb);
        blazedb_free(ja);
        blazedb_free(jb);
        blazedb_doc_free(a);
        blazedb_doc_free(b);
    }
    BlazeDBStats rs = {.struct_size = sizeof rs};
    assert_int_equal(blazedb_stats(r, &rs), BLAZEDB_OK);
    assert_int_equal(rs.last_txn_id, st.last_txn_id);
    assert_int_equal(rs.page_count, st.page_count);
    /* the restored database takes writes */
    run_txns(r, &f.w, 61, 70);
    blazedb_close(r);
    check_state(f.target, TU_PASSWORD, &f.w, 70);

    /* an existing target is replaced only when asked */
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0), BLAZEDB_EXISTS);
    check_state(f.target, TU_PASSWORD, &f.w, 70);
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, BLAZEDB_RESTORE_REPLACE),
                     BLAZEDB_OK);
    check_state(f.target, TU_PASSWORD, &f.w, 60);
    assert_int_equal(count_named(f.dir, "-restoring-"), 0);
    assert_int_equal(count_named(f.dir, "-writing-"), 0);
    blazedb_close(db);
    free(bk);
    fix_free(&f);
}

static void test_own_password(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-pw", tu_seed("own_password"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 30);
    char *bk = tu_path(f.dir, "pw.bdb");
    assert_int_equal(do_backup(db, bk, "backup secret", NULL), BLAZEDB_OK);
    blazedb_close(db);
    const char *paths[] = {bk};
    assert_int_equal(verify(paths, 1, TU_PASSWORD, 0), BLAZEDB_AUTH_FAILED);
    assert_non_null(strstr(blazedb_errmsg(NULL), "wrong password"));
    assert_int_equal(verify(paths, 1, NULL, 0), BLAZEDB_AUTH_FAILED);
    assert_int_equal(verify(paths, 1, "backup secret", BLAZEDB_VERIFY_FULL), BLAZEDB_OK);
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0), BLAZEDB_AUTH_FAILED);
    assert_false(file_exists(f.target));
    assert_int_equal(do_restore(paths, 1, "backup secret", f.target, 0), BLAZEDB_OK);
    check_state(f.target, "backup secret", &f.w, 30);
    BlazeDBOptions o;
    tu_fast_opts(&o);
    BlazeDB *x = NULL;
    assert_int_equal(blazedb_open_ex(f.target, TU_PASSWORD, &o, &x), BLAZEDB_AUTH_FAILED);
    /* the source keeps its own password */
    check_state(f.src, TU_PASSWORD, &f.w, 30);
    free(bk);
    fix_free(&f);
}

static void test_plaintext(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-plain", tu_seed("plaintext"));
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.flags |= BLAZEDB_OPEN_PLAINTEXT;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(f.src, NULL, &o, &db), BLAZEDB_OK);
    run_txns(db, &f.w, 1, 25);
    char *b1 = tu_path(f.dir, "plain.bdb"), *b2 = tu_path(f.dir, "enc.bdb");
    char *b3 = tu_path(f.dir, "plain-inc.bdb");
    assert_int_equal(do_backup(db, b1, NULL, NULL), BLAZEDB_OK);
    assert_int_equal(do_backup(db, b2, "pw for plain", NULL), BLAZEDB_OK);
    run_txns(db, &f.w, 26, 35);
    assert_int_equal(do_backup(db, b3, NULL, b1), BLAZEDB_OK);
    blazedb_close(db);
    const char *p1[] = {b1, b3}, *p2[] = {b2};
    BlazeDBBackupInfo info = {.struct_size = sizeof info};
    assert_int_equal(blazedb_backup_verify(p1, 2, NULL, BLAZEDB_VERIFY_FULL, NULL, NULL, &info),
                     BLAZEDB_OK);
    assert_int_equal(info.encrypted, 0);
    assert_int_equal(verify(p2, 1, NULL, 0), BLAZEDB_AUTH_FAILED);
    assert_int_equal(verify(p2, 1, "pw for plain", 0), BLAZEDB_OK);
    assert_int_equal(do_restore(p1, 2, NULL, f.target, 0), BLAZEDB_OK);
    BlazeDB *r = NULL;
    assert_int_equal(blazedb_open_ex(f.target, NULL, &o, &r), BLAZEDB_OK);
    uint64_t last = 0;
    assert_int_equal(tu_db_last(r, &f.w, &last), BLAZEDB_OK);
    assert_int_equal(last, 35);
    blazedb_close(r);
    char *t2 = tu_path(f.dir, "restored2.db");
    assert_int_equal(do_restore(p2, 1, "pw for plain", t2, 0), BLAZEDB_OK);
    assert_int_equal(blazedb_open_ex(t2, NULL, &o, &r), BLAZEDB_OK);
    assert_int_equal(tu_db_last(r, &f.w, &last), BLAZEDB_OK);
    assert_int_equal(last, 25);
    blazedb_close(r);
    free(b1);
    free(b2);
    free(b3);
    free(t2);
    fix_free(&f);
}

/* ---- incrementals ------------------------------------------------------------- */

static void test_incremental_chain(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-inc", tu_seed("incremental"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 50);
    char *b0 = tu_path(f.dir, "full.bdb"), *b1 = tu_path(f.dir, "inc1.bdb");
    char *b2 = tu_path(f.dir, "inc2.bdb"), *b3 = tu_path(f.dir, "inc3.bdb");
    assert_int_equal(do_backup(db, b0, NULL, NULL), BLAZEDB_OK);
    run_txns(db, &f.w, 51, 60);
    assert_int_equal(do_backup(db, b1, NULL, b0), BLAZEDB_OK);
    run_txns(db, &f.w, 61, 75);
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    assert_int_equal(do_backup(db, b2, NULL, b1), BLAZEDB_OK);
    /* nothing changed: an empty incremental */
    assert_int_equal(do_backup(db, b3, NULL, b2), BLAZEDB_OK);
    blazedb_close(db);

    BlazeDBBackupInfo i0 = {.struct_size = sizeof i0}, i1 = {.struct_size = sizeof i1};
    const char *chain[] = {b0, b1, b2, b3};
    assert_int_equal(blazedb_backup_verify(chain, 1, TU_PASSWORD, 0, NULL, NULL, &i0),
                     BLAZEDB_OK);
    assert_int_equal(blazedb_backup_verify(chain + 1, 1, TU_PASSWORD, 0, NULL, NULL, &i1),
                     BLAZEDB_INVALID_ARGUMENT); /* an incremental alone is no chain */
    const char *c01[] = {b0, b1};
    assert_int_equal(blazedb_backup_verify(c01, 2, TU_PASSWORD, 0, NULL, NULL, &i1),
                     BLAZEDB_OK);
    /* the incremental holds far fewer pages than the full backup */
    assert_true(i1.pages - i0.pages < i0.pages);
    struct stat s0, s1;
    assert_int_equal(stat(b0, &s0), 0);
    assert_int_equal(stat(b1, &s1), 0);
    assert_true(s1.st_size < s0.st_size);

    for (size_t n = 1; n <= 4; n++) {
        remove_db(f.target);
        assert_int_equal(do_restore(chain, n, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
        check_state(f.target, TU_PASSWORD, &f.w, n == 1 ? 50 : n == 2 ? 60 : 75);
    }
    assert_int_equal(verify(chain, 4, TU_PASSWORD, BLAZEDB_VERIFY_FULL), BLAZEDB_OK);
    /* wrong order, a missing link, a repeated file */
    const char *bad1[] = {b0, b2}, *bad2[] = {b1, b0}, *bad3[] = {b0, b1, b1};
    assert_int_equal(verify(bad1, 2, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(verify(bad2, 2, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(verify(bad3, 3, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    remove_db(f.target);
    assert_int_equal(do_restore(bad1, 2, TU_PASSWORD, f.target, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_false(file_exists(f.target));
    free(b0);
    free(b1);
    free(b2);
    free(b3);
    fix_free(&f);
}

static void test_foreign_base_and_splice(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-foreign", tu_seed("foreign"));
    char *other = tu_path(f.dir, "other.db");
    BlazeDB *a = open_db(f.src, TU_PASSWORD), *b = open_db(other, TU_PASSWORD);
    run_txns(a, &f.w, 1, 40);
    run_txns(b, &f.w, 1, 40);
    char *fa = tu_path(f.dir, "a.bdb"), *fa2 = tu_path(f.dir, "a2.bdb");
    char *fb = tu_path(f.dir, "b.bdb"), *ia = tu_path(f.dir, "ia.bdb");
    char *ib = tu_path(f.dir, "ib.bdb");
    assert_int_equal(do_backup(a, fa, NULL, NULL), BLAZEDB_OK);
    assert_int_equal(do_backup(a, fa2, NULL, NULL), BLAZEDB_OK);
    assert_int_equal(do_backup(b, fb, NULL, NULL), BLAZEDB_OK);
    run_txns(a, &f.w, 41, 50);
    run_txns(b, &f.w, 41, 50);
    /* the same content, another database: refused as a base */
    assert_int_equal(do_backup(a, ia, NULL, fb), BLAZEDB_INVALID_ARGUMENT);
    assert_false(file_exists(ia));
    assert_non_null(strstr(blazedb_errmsg(a), "another database"));
    assert_int_equal(do_backup(a, ia, NULL, fa), BLAZEDB_OK);
    assert_int_equal(do_backup(b, ib, NULL, fb), BLAZEDB_OK);
    /* a chain mixing the two databases */
    const char *mix[] = {fb, ia}, *mix2[] = {fa2, ia};
    assert_int_equal(verify(mix, 2, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(do_restore(mix, 2, TU_PASSWORD, f.target, 0), BLAZEDB_INVALID_ARGUMENT);
    /* two full backups of one database at the same commit are still two
     * backups: an incremental builds on exactly one of them */
    assert_int_equal(verify(mix2, 2, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_false(file_exists(f.target));

    /* a chunk of another backup of the same database spliced in */
    size_t la, lb;
    uint8_t *ba = read_file(fa, &la), *bb = read_file(fa2, &lb);
    size_t ca[64], cb[64];
    size_t na = chunk_bounds(ba, la, ca, 64), nb = chunk_bounds(bb, lb, cb, 64);
    assert_true(na >= 3 && nb >= 3);
    size_t cut = 1; /* replace chunk 1 */
    size_t len = ca[cut] + (cb[cut + 1] - cb[cut]) + (la - ca[cut + 1]);
    uint8_t *sp = malloc(len);
    memcpy(sp, ba, ca[cut]);
    memcpy(sp + ca[cut], bb + cb[cut], cb[cut + 1] - cb[cut]);
    memcpy(sp + ca[cut] + (cb[cut + 1] - cb[cut]), ba + ca[cut + 1], la - ca[cut + 1]);
    char *spp = tu_path(f.dir, "spliced.bdb");
    write_file(spp, sp, len);
    const char *sv[] = {spp};
    assert_int_equal(verify(sv, 1, TU_PASSWORD, 0), BLAZEDB_CORRUPT);
    assert_non_null(strstr(blazedb_errmsg(NULL), "chunk 1"));
    /* two chunks swapped */
    memcpy(sp, ba, la);
    size_t l1 = ca[2] - ca[1], l2 = ca[3] - ca[2];
    memcpy(sp + ca[1], ba + ca[2], l2);
    memcpy(sp + ca[1] + l2, ba + ca[1], l1);
    write_file(spp, sp, la);
    assert_int_equal(verify(sv, 1, TU_PASSWORD, 0), BLAZEDB_CORRUPT);
    /* a chunk dropped */
    memcpy(sp, ba, ca[1]);
    memcpy(sp + ca[1], ba + ca[2], la - ca[2]);
    write_file(spp, sp, la - (ca[2] - ca[1]));
    assert_int_equal(verify(sv, 1, TU_PASSWORD, 0), BLAZEDB_CORRUPT);
    assert_int_equal(do_restore(sv, 1, TU_PASSWORD, f.target, 0), BLAZEDB_CORRUPT);
    assert_false(file_exists(f.target));
    assert_int_equal(count_named(f.dir, "-restoring-"), 0);
    free(sp);
    free(ba);
    free(bb);
    free(spp);
    blazedb_close(a);
    blazedb_close(b);
    free(other);
    free(fa);
    free(fa2);
    free(fb);
    free(ia);
    free(ib);
    fix_free(&f);
}

/* ---- damage ----------------------------------------------------------------- */

/* Every byte of a small backup, changed one at a time, is caught. */
static void test_every_byte(void **state)
{
    (void)state;
    Fix f;
    uint64_t seed = tu_seed("every_byte");
    fix_init(&f, "bk-byte", seed);
    f.w.max_small = 300;
    f.w.big_permille = 0;
    f.w.nkeys = 60;
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 15);
    char *bk = tu_path(f.dir, "small.bdb"), *bad = tu_path(f.dir, "bad.bdb");
    assert_int_equal(do_backup(db, bk, NULL, NULL), BLAZEDB_OK);
    blazedb_close(db);
    size_t len;
    uint8_t *orig = read_file(bk, &len);
    uint8_t *b = malloc(len);
    const char *paths[] = {bad};
    TuRng rng;
    tu_rng_seed(&rng, seed);
    fprintf(stderr, "every_byte: %zu bytes\n", len);
    for (size_t i = 0; i < len; i++) {
        memcpy(b, orig, len);
        b[i] ^= (uint8_t)(1 + tu_rng_below(&rng, 255));
        write_file(bad, b, len);
        BlazeDBResult rc = verify(paths, 1, TU_PASSWORD, 0);
        if (rc == BLAZEDB_OK)
            fail_msg("a change of byte %zu of %zu was not detected", i, len);
    }
    /* restore refuses a few of them and leaves nothing */
    for (int k = 0; k < 5; k++) {
        memcpy(b, orig, len);
        b[tu_rng_below(&rng, len)] ^= 0x40;
        write_file(bad, b, len);
        assert_int_not_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
        assert_false(file_exists(f.target));
    }
    write_file(bad, orig, len);
    assert_int_equal(verify(paths, 1, TU_PASSWORD, BLAZEDB_VERIFY_FULL), BLAZEDB_OK);
    free(b);
    free(orig);
    free(bk);
    free(bad);
    fix_free(&f);
}

/* A larger backup: every byte of the header, chunk headers and trailer,
 * and a sample of the chunk bodies; truncation at every chunk boundary and
 * at random points; bytes appended. */
static void test_damage_large(void **state)
{
    (void)state;
    Fix f;
    uint64_t seed = tu_seed("damage_large");
    fix_init(&f, "bk-dmg", seed);
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 60);
    char *bk = tu_path(f.dir, "big.bdb"), *bad = tu_path(f.dir, "bad.bdb");
    assert_int_equal(do_backup(db, bk, NULL, NULL), BLAZEDB_OK);
    blazedb_close(db);
    size_t len;
    uint8_t *orig = read_file(bk, &len);
    size_t bounds[256];
    size_t nb = chunk_bounds(orig, len, bounds, 256);
    assert_true(nb >= 3);
    fprintf(stderr, "damage_large: %zu bytes, %zu chunks\n", len, nb - 1);
    uint8_t *b = malloc(len + 1);
    const char *paths[] = {bad};
    TuRng rng;
    tu_rng_seed(&rng, seed);
    size_t tried = 0;
    for (size_t i = 0; i < len; i++) {
        int fixed = i < BACKUP_HEADER_SIZE || i >= len - BACKUP_TRAILER_SIZE;
        for (size_t k = 0; k + 1 < nb && !fixed; k++)
            if (i >= bounds[k] && i < bounds[k] + BACKUP_CHUNK_HEADER_SIZE)
                fixed = 1;
            else if (i < bounds[k + 1] && i >= bounds[k + 1] - BACKUP_CHUNK_TAG_SIZE)
                fixed = 1;
        if (!fixed && tu_rng_below(&rng, len / 1500 + 1) != 0)
            continue;
        memcpy(b, orig, len);
        b[i] ^= (uint8_t)(1 + tu_rng_below(&rng, 255));
        write_file(bad, b, len);
        if (verify(paths, 1, TU_PASSWORD, 0) == BLAZEDB_OK)
            fail_msg("a change of byte %zu of %zu was not detected", i, len);
        tried++;
    }
    fprintf(stderr, "damage_large: %zu positions changed\n", tried);
    /* truncation at every chunk boundary (the trailer is then missing) */
    for (size_t k = 0; k < nb; k++) {
        write_file(bad, orig, bounds[k]);
        assert_int_equal(verify(paths, 1, TU_PASSWORD, 0), BLAZEDB_CORRUPT);
        assert_non_null(strstr(blazedb_errmsg(NULL), "truncated"));
    }
    size_t cuts[] = {0, 1, 15, 16, 100, BACKUP_HEADER_SIZE - 1, len - 1,
                     len - BACKUP_TRAILER_SIZE + 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts + 20; k++) {
        size_t cut = k < sizeof cuts / sizeof *cuts ? cuts[k] : tu_rng_below(&rng, len);
        write_file(bad, orig, cut);
        BlazeDBResult rc = verify(paths, 1, TU_PASSWORD, 0);
        if (rc == BLAZEDB_OK)
            fail_msg("truncation at %zu of %zu was not detected", cut, len);
        assert_int_not_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
        assert_false(file_exists(f.target));
    }
    /* a byte appended */
    memcpy(b, orig, len);
    b[len] = 0;
    write_file(bad, b, len + 1);
    assert_int_equal(verify(paths, 1, TU_PASSWORD, 0), BLAZEDB_CORRUPT);
    /* not a backup at all */
    write_file(bad, (const uint8_t *)"hello, world, this is not a backup", 34);
    assert_int_equal(verify(paths, 1, TU_PASSWORD, 0), BLAZEDB_NOT_A_DATABASE);
    const char *missing[] = {"/nonexistent/x.bdb"};
    assert_int_equal(verify(missing, 1, TU_PASSWORD, 0), BLAZEDB_NOT_FOUND);
    assert_int_equal(count_named(f.dir, "-restoring-"), 0);
    free(b);
    free(orig);
    free(bk);
    free(bad);
    fix_free(&f);
}

/* ---- online backup while a writer commits --------------------------------------- */

typedef struct {
    BlazeDB *db;
    const TuWorkload *w;
    _Atomic uint64_t done;      /* last committed transaction */
    _Atomic int stop;
    int failed;
} Writer;

static void *writer_main(void *arg)
{
    Writer *wr = arg;
    uint64_t j = atomic_load(&wr->done) + 1;
    while (!atomic_load(&wr->stop)) {
        if (tu_txn_run(wr->db, wr->w, j, NULL) != BLAZEDB_OK) {
            wr->failed = 1;
            break;
        }
        atomic_store(&wr->done, j);
        j++;
    }
    return NULL;
}

static void test_online(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-online", tu_seed("online"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 30);
    Writer wr = {.db = db, .w = &f.w};
    atomic_store(&wr.done, 30);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &wr), 0);
    char *files[4];
    uint64_t lo[4], hi[4];
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "b%d.bdb", i);
        files[i] = tu_path(f.dir, name);
        if (i == 3) {
            atomic_store(&wr.stop, 1);
            pthread_join(th, NULL);
        } else {
            /* let the writer get some commits in */
            uint64_t start = atomic_load(&wr.done);
            while (atomic_load(&wr.done) < start + 15 && !wr.failed)
                tu_sleep_us(1000);
        }
        lo[i] = atomic_load(&wr.done);
        assert_int_equal(do_backup(db, files[i], NULL, i ? files[i - 1] : NULL), BLAZEDB_OK);
        hi[i] = atomic_load(&wr.done);
    }
    assert_false(wr.failed);
    /* each prefix of the chain restores exactly one commit's state, one
     * that was committed while its backup ran */
    const char *chain[] = {files[0], files[1], files[2], files[3]};
    uint64_t prev = 0;
    for (int i = 0; i < 4; i++) {
        remove_db(f.target);
        assert_int_equal(do_restore(chain, (size_t)i + 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
        uint64_t k = check_state(f.target, TU_PASSWORD, &f.w, UINT64_MAX);
        fprintf(stderr, "online: backup %d holds commit %" PRIu64 " (writer at %" PRIu64
                        "..%" PRIu64 ")\n", i, k, lo[i], hi[i]);
        assert_true(k >= lo[i] && k <= hi[i] + 1);
        assert_true(k >= prev);
        prev = k;
    }
    /* the last one, taken with the writer stopped, is the final state */
    assert_int_equal(prev, atomic_load(&wr.done));
    check_state(f.src, TU_PASSWORD, &f.w, prev);
    blazedb_close(db);
    for (int i = 0; i < 4; i++)
        free(files[i]);
    fix_free(&f);
}

/* ---- the target ---------------------------------------------------------------- */

static void test_target_open_elsewhere(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-busy", tu_seed("busy"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 20);
    char *bk = tu_path(f.dir, "b.bdb");
    assert_int_equal(do_backup(db, bk, NULL, NULL), BLAZEDB_OK);
    const char *paths[] = {bk};
    /* the source itself is open */
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.src, BLAZEDB_RESTORE_REPLACE),
                     BLAZEDB_BUSY);
    assert_non_null(strstr(blazedb_errmsg(NULL), "is open"));
    run_txns(db, &f.w, 21, 25);
    blazedb_close(db);
    check_state(f.src, TU_PASSWORD, &f.w, 25);
    /* another process has it open */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        BlazeDBOptions o;
        tu_fast_opts(&o);
        BlazeDB *c = NULL;
        if (blazedb_open_ex(f.src, TU_PASSWORD, &o, &c) != BLAZEDB_OK)
            _exit(2);
        char x = 1;
        if (write(pfd[1], &x, 1) != 1)
            _exit(3);
        pause();
        _exit(0);
    }
    char x;
    assert_int_equal(read(pfd[0], &x, 1), 1);
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.src, BLAZEDB_RESTORE_REPLACE),
                     BLAZEDB_BUSY);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
    check_state(f.src, TU_PASSWORD, &f.w, 25);
    /* closed everywhere: replaced */
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.src, BLAZEDB_RESTORE_REPLACE),
                     BLAZEDB_OK);
    check_state(f.src, TU_PASSWORD, &f.w, 20);
    free(bk);
    fix_free(&f);
}

/* The database being replaced was left by a crash with commits in its log:
 * they must not be replayed over the restored one. */
static void test_stale_log(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-stale", tu_seed("stale_log"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 20);
    char *bk = tu_path(f.dir, "b.bdb");
    assert_int_equal(do_backup(db, bk, NULL, NULL), BLAZEDB_OK);
    blazedb_close(db);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        BlazeDBOptions o;
        tu_fast_opts(&o);
        o.wal_autocheckpoint = UINT32_MAX;
        BlazeDB *c = NULL;
        if (blazedb_open_ex(f.target, TU_PASSWORD, &o, &c) != BLAZEDB_OK)
            _exit(2);
        for (uint64_t j = 1; j <= 40; j++)
            if (tu_txn_run(c, &f.w, j, NULL) != BLAZEDB_OK)
                _exit(3);
        _exit(0); /* no close: the commits stay in the log */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *wal = tu_path(f.dir, "restored.db-wal");
    struct stat sw;
    assert_int_equal(stat(wal, &sw), 0);
    assert_true(sw.st_size > 0);
    const char *paths[] = {bk};
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, BLAZEDB_RESTORE_REPLACE),
                     BLAZEDB_OK);
    check_state(f.target, TU_PASSWORD, &f.w, 20);
    free(wal);
    free(bk);
    fix_free(&f);
}

/* ---- interrupted restores ---------------------------------------------------------- */

static void test_restore_kill9(void **state)
{
    (void)state;
    Fix f;
    uint64_t seed = tu_seed("restore_kill9");
    fix_init(&f, "bk-kill", seed);
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 40);
    char *ba = tu_path(f.dir, "a.bdb"), *bb = tu_path(f.dir, "b.bdb");
    assert_int_equal(do_backup(db, ba, NULL, NULL), BLAZEDB_OK);
    run_txns(db, &f.w, 41, 90);
    assert_int_equal(do_backup(db, bb, NULL, NULL), BLAZEDB_OK);
    blazedb_close(db);
    const char *pa[] = {ba}, *pb[] = {bb};
    assert_int_equal(do_restore(pa, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
    /* how long a restore takes in a child, fork included (under the
     * sanitizers a fork costs more than the restore), to spread the kills
     * over it */
    uint64_t t0 = tu_now_us();
    pid_t pid0 = fork();
    assert_true(pid0 >= 0);
    if (pid0 == 0)
        _exit(do_restore(pb, 1, TU_PASSWORD, f.target, BLAZEDB_RESTORE_REPLACE) == BLAZEDB_OK
                  ? 0 : 1);
    int st0 = 0;
    waitpid(pid0, &st0, 0);
    assert_true(WIFEXITED(st0) && WEXITSTATUS(st0) == 0);
    uint64_t window = tu_now_us() - t0 + 1;
    uint64_t cur = check_state(f.target, TU_PASSWORD, &f.w, 90);
    TuRng rng;
    tu_rng_seed(&rng, seed);
    /* Both outcomes must occur: every 10 rounds that saw only one, the
     * kill window widens (only the old state: the kills came too early)
     * or narrows (only the new one), for at most three times the rounds. */
    int rounds = tu_long_tests() ? 300 : 40, saw_old = 0, saw_new = 0, r;
    int win_old = 0, win_new = 0;
    for (r = 0; r < rounds || (r < 3 * rounds && (!saw_old || !saw_new)); r++) {
        if (r > 0 && r % 10 == 0) {
            if (win_new == 0)
                window = window * 3 / 2 + 1;
            else if (win_old == 0 && window > 2)
                window = window * 2 / 3;
            win_old = win_new = 0;
        }
        uint64_t want = cur == 90 ? 40 : 90;
        const char *const *p = want == 40 ? pa : pb;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            BlazeDBResult rc = do_restore(p, 1, TU_PASSWORD, f.target, BLAZEDB_RESTORE_REPLACE);
            _exit(rc == BLAZEDB_OK ? 0 : 10 + (int)rc);
        }
        tu_sleep_us(tu_rng_below(&rng, window));
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            fail_msg("round %d: the restore failed with status %d", r, WEXITSTATUS(st));
        uint64_t k = check_state(f.target, TU_PASSWORD, &f.w, UINT64_MAX);
        if (k != cur && k != want)
            fail_msg("round %d: state %" PRIu64 ", expected %" PRIu64 " or %" PRIu64, r, k,
                     cur, want);
        if (k == cur) {
            saw_old++;
            win_old++;
        } else {
            saw_new++;
            win_new++;
        }
        cur = k;
        remove_named(f.dir, "-restoring-");
    }
    fprintf(stderr, "restore_kill9: %d rounds, %d left the old state, %d the new\n", r,
            saw_old, saw_new);
    assert_true(saw_old > 0 && saw_new > 0);
    free(ba);
    free(bb);
    fix_free(&f);
}

static void test_restore_powerloss(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-power", tu_seed("restore_powerloss"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 30);
    char *ba = tu_path(f.dir, "a.bdb"), *bb = tu_path(f.dir, "b.bdb");
    assert_int_equal(do_backup(db, ba, NULL, NULL), BLAZEDB_OK);
    run_txns(db, &f.w, 31, 60);
    assert_int_equal(do_backup(db, bb, NULL, ba), BLAZEDB_OK);
    blazedb_close(db);
    const char *pa[] = {ba}, *pab[] = {ba, bb};
    BlazeDBRestoreOptions ro;
    blazedb_restore_options_init(&ro);
    ro.flags = BLAZEDB_RESTORE_REPLACE;
    /* count the syncs of a restore */
    assert_int_equal(do_restore(pa, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
    check_state(f.target, TU_PASSWORD, &f.w, 30);
    OsFault *fv = os_fault_new(NULL);
    assert_int_equal(backup_restore_vfs(pab, 2, TU_PASSWORD, f.target, &ro, os_fault_vfs(fv)),
                     BLAZEDB_OK);
    uint64_t syncs = os_fault_count(fv, OS_FAULT_SYNC);
    os_fault_free(fv);
    fprintf(stderr, "restore_powerloss: %" PRIu64 " syncs per restore\n", syncs);
    assert_true(syncs >= 3);
    check_state(f.target, TU_PASSWORD, &f.w, 60);
    for (int tear = 0; tear <= 1; tear++) {
        for (uint64_t i = 1; i <= syncs; i++) {
            remove_db(f.target);
            assert_int_equal(do_restore(pa, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
            check_state(f.target, TU_PASSWORD, &f.w, 30); /* leaves an empty -wal */
            fv = os_fault_new(NULL);
            os_fault_powerloss_at_sync(fv, i, tear ? (unsigned)(i * 7 + 1) : 0);
            BlazeDBResult rc = backup_restore_vfs(pab, 2, TU_PASSWORD, f.target, &ro,
                                                  os_fault_vfs(fv));
            int crashed = os_fault_crashed(fv);
            os_fault_free(fv);
            uint64_t k = check_state(f.target, TU_PASSWORD, &f.w, UINT64_MAX);
            /* syncs 1 and 2 (pages; meta and header) come before the
             * switch; a later one (emptying the old log) after it */
            if (i <= 2) {
                assert_true(crashed);
                assert_int_not_equal(rc, BLAZEDB_OK);
                assert_int_equal(k, 30);
            } else {
                assert_int_equal(k, 60);
            }
            if (!crashed)
                assert_int_equal(rc, BLAZEDB_OK);
            remove_named(f.dir, "-restoring-");
        }
    }
    free(ba);
    free(bb);
    fix_free(&f);
}

/* ---- cancellation ------------------------------------------------------------------ */

typedef struct {
    int calls, stop_at;
    BlazeDB *interrupt;
    uint64_t last_done, last_total;
} Prog;

static int prog_fn(uint64_t done, uint64_t total, void *arg)
{
    Prog *p = arg;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    if (p->interrupt && p->calls == p->stop_at) {
        blazedb_interrupt(p->interrupt);
        return 0;
    }
    return p->stop_at && p->calls >= p->stop_at;
}

static void test_cancel(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-cancel", tu_seed("cancel"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 80);
    char *bk = tu_path(f.dir, "b.bdb");
    BlazeDBBackupOptions o;
    blazedb_backup_options_init(&o);
    Prog pg = {.stop_at = 2};
    o.progress = prog_fn;
    o.progress_arg = &pg;
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_CANCELLED);
    assert_false(file_exists(bk));
    assert_int_equal(count_named(f.dir, "-writing-"), 0);
    /* through blazedb_interrupt */
    pg = (Prog){.stop_at = 2, .interrupt = db};
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_CANCELLED);
    assert_false(file_exists(bk));
    /* to the end: the last call reports done == total */
    pg = (Prog){0};
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_OK);
    assert_true(pg.calls >= 2);
    assert_int_equal(pg.last_done, pg.last_total);
    blazedb_close(db);

    const char *paths[] = {bk};
    pg = (Prog){.stop_at = 1};
    assert_int_equal(blazedb_backup_verify(paths, 1, TU_PASSWORD, 0, prog_fn, &pg, NULL),
                     BLAZEDB_CANCELLED);
    pg = (Prog){0};
    assert_int_equal(blazedb_backup_verify(paths, 1, TU_PASSWORD, 0, prog_fn, &pg, NULL),
                     BLAZEDB_OK);
    assert_int_equal(pg.last_done, pg.last_total);
    assert_true(pg.last_total > 0);

    /* restore cancelled midway and at the very end: the target is untouched */
    BlazeDBRestoreOptions ro;
    blazedb_restore_options_init(&ro);
    ro.flags = BLAZEDB_RESTORE_REPLACE;
    ro.progress = prog_fn;
    ro.progress_arg = &pg;
    int total_calls = pg.calls + 1; /* verify's calls, plus restore's final one */
    int stops[] = {1, total_calls};
    for (int i = 0; i < 2; i++) {
        pg = (Prog){.stop_at = stops[i]};
        assert_int_equal(blazedb_restore(paths, 1, TU_PASSWORD, f.src, &ro), BLAZEDB_CANCELLED);
        check_state(f.src, TU_PASSWORD, &f.w, 80);
        assert_int_equal(count_named(f.dir, "-restoring-"), 0);
    }
    free(bk);
    fix_free(&f);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    Fix f;
    fix_init(&f, "bk-args", tu_seed("args"));
    BlazeDB *db = open_db(f.src, TU_PASSWORD);
    run_txns(db, &f.w, 1, 5);
    char *bk = tu_path(f.dir, "b.bdb");
    assert_int_equal(blazedb_backup(NULL, bk, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_backup(db, NULL, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_backup(db, "", NULL), BLAZEDB_INVALID_ARGUMENT);
    BlazeDBBackupOptions o;
    blazedb_backup_options_init(&o);
    o.struct_size = 3;
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_INVALID_ARGUMENT);
    blazedb_backup_options_init(&o);
    o.compression_level = 1000;
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_INVALID_ARGUMENT);
    blazedb_backup_options_init(&o);
    o.password = "";
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_INVALID_ARGUMENT);
    blazedb_backup_options_init(&o);
    o.incremental_from = "/nonexistent/base.bdb";
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_INVALID_ARGUMENT);
    char *nodir = tu_path(f.dir, "no/such/dir.bdb");
    assert_int_equal(blazedb_backup(db, nodir, NULL), BLAZEDB_IO_ERROR);
    assert_false(file_exists(bk));
    /* a higher compression level gives a valid backup too */
    blazedb_backup_options_init(&o);
    o.compression_level = 9;
    assert_int_equal(blazedb_backup(db, bk, &o), BLAZEDB_OK);
    blazedb_close(db);
    const char *paths[] = {bk};
    assert_int_equal(verify(NULL, 1, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(verify(paths, 0, TU_PASSWORD, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(verify(paths, 1, TU_PASSWORD, 0x80), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, NULL, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0x80),
                     BLAZEDB_INVALID_ARGUMENT);
    /* a database file is not a backup */
    const char *dbp[] = {f.src};
    assert_int_equal(verify(dbp, 1, TU_PASSWORD, 0), BLAZEDB_NOT_A_DATABASE);
    assert_int_equal(do_restore(paths, 1, TU_PASSWORD, f.target, 0), BLAZEDB_OK);
    check_state(f.target, TU_PASSWORD, &f.w, 5);
    free(bk);
    free(nodir);
    fix_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_own_password),
        cmocka_unit_test(test_plaintext),
        cmocka_unit_test(test_incremental_chain),
        cmocka_unit_test(test_foreign_base_and_splice),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_damage_large),
        cmocka_unit_test(test_online),
        cmocka_unit_test(test_target_open_elsewhere),
        cmocka_unit_test(test_stale_log),
        cmocka_unit_test(test_restore_kill9),
        cmocka_unit_test(test_restore_powerloss),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
