/*
 * test_doc_crash.c — multi-document transactions under kill -9.
 *
 * Two collections of accounts (balance 100 each) and a counter document.
 * A child process runs transactions that read two accounts in different
 * collections, move an amount between them with blazedb_patch, bump the
 * counter and insert a log document whose id is the counter's new value;
 * after each commit returns it writes the counter to a pipe.  The parent
 * SIGKILLs it at a random moment, reopens the database and checks:
 * balances still sum to the initial total (no half transaction), the
 * counter is the last acknowledged value or one more, the log holds exactly
 * ids 1..counter, counts are right, db_check passes.  Then the next child
 * continues.  BLAZEDB_LONG_TESTS=1 kills more often.  BLAZEDB_TEST_SEED=S
 * replays the random choices (the kill moments stay timing-dependent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "support/testutil.h"

#define NACCT 20
#define TOTAL (2 * NACCT * 100)

static void opts(BlazeDBOptions *o)
{
    tu_fast_opts(o);
    o->wal_autocheckpoint = 256; /* checkpoints happen under the knife too */
    o->busy_timeout_ms = 20000;
}

static int64_t get_int(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *id,
                       const char *field, BlazeDBResult *rc)
{
    BlazeDBDoc *d = NULL;
    int64_t v = -1;
    *rc = blazedb_get_doc(db, t, coll, id, &d);
    if (*rc == BLAZEDB_OK)
        *rc = blazedb_doc_get_int(d, field, &v);
    blazedb_doc_free(d);
    return v;
}

static BlazeDBResult set_int(BlazeDB *db, BlazeDBTxn *t, const char *coll, const char *id,
                             const char *field, int64_t v)
{
    BlazeDBDoc *set = NULL;
    BlazeDBResult rc = blazedb_doc_new(&set);
    if (!rc)
        rc = blazedb_doc_set_int(set, field, v);
    if (!rc)
        rc = blazedb_patch(db, t, coll, id, set, NULL, 0);
    blazedb_doc_free(set);
    return rc;
}

/* One transfer + counter bump + log insert.  Returns the new counter, or
 * -1 after printing the error. */
static int64_t transfer(BlazeDB *db, TuRng *r)
{
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc = blazedb_txn_begin(db, 0, &t);
    if (rc)
        goto fail;
    char a[16], b[16];
    snprintf(a, sizeof a, "a%02d", (int)tu_rng_below(r, NACCT));
    snprintf(b, sizeof b, "b%02d", (int)tu_rng_below(r, NACCT));
    int64_t amt = (int64_t)tu_rng_below(r, 50) - 25;
    int64_t va = get_int(db, t, "acct_a", a, "balance", &rc);
    if (rc)
        goto fail;
    int64_t vb = get_int(db, t, "acct_b", b, "balance", &rc);
    if (rc)
        goto fail;
    int64_t n = get_int(db, t, "meta", "counter", "n", &rc);
    if (rc)
        goto fail;
    if ((rc = set_int(db, t, "acct_a", a, "balance", va - amt)) ||
        (rc = set_int(db, t, "acct_b", b, "balance", vb + amt)) ||
        (rc = set_int(db, t, "meta", "counter", "n", n + 1)))
        goto fail;
    char js[96];
    snprintf(js, sizeof js, "{\"id\":\"%08" PRId64 "\",\"amt\":%" PRId64 "}", n + 1, amt);
    BlazeDBDoc *d = NULL;
    if ((rc = blazedb_doc_from_json(js, strlen(js), &d)))
        goto fail;
    rc = blazedb_insert(db, t, "log", d);
    blazedb_doc_free(d);
    if (rc)
        goto fail;
    rc = blazedb_txn_commit(t);
    t = NULL;
    if (rc)
        goto fail;
    return n + 1;
fail:
    fprintf(stderr, "child: %s (%s)\n", blazedb_strerror(rc), blazedb_errmsg(db));
    blazedb_txn_abort(t);
    return -1;
}

static void child_main(const char *path, uint64_t seed, int wfd)
{
    BlazeDBOptions o;
    opts(&o);
    BlazeDB *db = NULL;
    if (blazedb_open_ex(path, TU_PASSWORD, &o, &db)) {
        fprintf(stderr, "child: open: %s\n", blazedb_errmsg(NULL));
        _exit(2);
    }
    TuRng r;
    tu_rng_seed(&r, seed);
    for (;;) {
        int64_t n = transfer(db, &r);
        if (n < 0)
            _exit(3);
        if (write(wfd, &n, sizeof n) != (ssize_t)sizeof n)
            _exit(4);
    }
}

static void setup_db(const char *path)
{
    BlazeDBOptions o;
    opts(&o);
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < NACCT; i++) {
            char js[64];
            snprintf(js, sizeof js, "{\"id\":\"%c%02d\",\"balance\":100}", "ab"[c], i);
            BlazeDBDoc *d = NULL;
            assert_int_equal(blazedb_doc_from_json(js, strlen(js), &d), BLAZEDB_OK);
            assert_int_equal(blazedb_insert(db, t, c ? "acct_b" : "acct_a", d), BLAZEDB_OK);
            blazedb_doc_free(d);
        }
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_from_json("{\"id\":\"counter\",\"n\":0}", 22, &d), BLAZEDB_OK);
    assert_int_equal(blazedb_insert(db, t, "meta", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    assert_int_equal(blazedb_collection_create(db, t, "log", NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    blazedb_close(db);
}

/* Checks the invariants; returns the counter. */
static int64_t verify(const char *path, int64_t acked, uint64_t seed, int round)
{
    BlazeDBOptions o;
    opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
    if (rc)
        fail_msg("seed %" PRIu64 " round %d: reopen: %s (%s)", seed, round,
                 blazedb_strerror(rc), blazedb_errmsg(NULL));
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &t), BLAZEDB_OK);
    int64_t sum = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < NACCT; i++) {
            char id[16];
            snprintf(id, sizeof id, "%c%02d", "ab"[c], i);
            sum += get_int(db, t, c ? "acct_b" : "acct_a", id, "balance", &rc);
            assert_int_equal(rc, BLAZEDB_OK);
        }
    int64_t n = get_int(db, t, "meta", "counter", "n", &rc);
    assert_int_equal(rc, BLAZEDB_OK);
    if (sum != TOTAL)
        fail_msg("seed %" PRIu64 " round %d: balances sum to %" PRId64 ", not %d", seed, round,
                 sum, TOTAL);
    if (n < acked || n > acked + 1)
        fail_msg("seed %" PRIu64 " round %d: counter %" PRId64 " but %" PRId64 " acknowledged",
                 seed, round, n, acked);
    uint64_t cnt = 0;
    assert_int_equal(blazedb_count(db, t, "log", &cnt), BLAZEDB_OK);
    if ((int64_t)cnt != n)
        fail_msg("seed %" PRIu64 " round %d: %" PRIu64 " log documents, counter %" PRId64,
                 seed, round, cnt, n);
    BlazeDBDocCursor *cur = NULL;
    assert_int_equal(blazedb_doc_cursor_open(db, t, "log", NULL, &cur), BLAZEDB_OK);
    BlazeDBDoc *d;
    int64_t expect = 1;
    while (blazedb_doc_cursor_next(cur, &d) == BLAZEDB_OK) {
        const char *id;
        assert_int_equal(blazedb_doc_get_string(d, "id", &id, NULL), BLAZEDB_OK);
        if (atoll(id) != expect)
            fail_msg("seed %" PRIu64 " round %d: log id %s, expected %" PRId64, seed, round, id,
                     expect);
        expect++;
        blazedb_doc_free(d);
    }
    blazedb_doc_cursor_close(cur);
    assert_int_equal(expect - 1, n);
    blazedb_txn_abort(t);
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg))
        fail_msg("seed %" PRIu64 " round %d: db_check: %s", seed, round, msg);
    blazedb_close(db);
    return n;
}

static void test_kill_multi_document(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_doc_kill");
    char *dir = tu_mkdtemp("doccrash");
    char *path = tu_path(dir, "bank.blazedb");
    setup_db(path);
    TuRng r;
    tu_rng_seed(&r, seed);
    int rounds = tu_long_tests() ? 400 : 60;
    int64_t acked = 0, progress_rounds = 0;
    for (int round = 0; round < rounds; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_main(path, seed + (uint64_t)round * 7919, p[1]);
        }
        close(p[1]);
        tu_sleep_us(5000 + tu_rng_below(&r, 80000));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("seed %" PRIu64 " round %d: child ended by itself (status 0x%x)", seed,
                     round, status);
        int64_t n, before = acked;
        while (read(p[0], &n, sizeof n) == (ssize_t)sizeof n)
            if (n > acked)
                acked = n;
        close(p[0]);
        progress_rounds += acked > before;
        acked = verify(path, acked, seed, round);
    }
    fprintf(stderr, "  %d kills; %" PRId64 " transactions survived; %" PRId64
            " rounds made progress\n", rounds, acked, progress_rounds);
    assert_true(progress_rounds > rounds / 4);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_multi_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
