/*
 * test_crash.c — kill -9 durability.
 *
 * A child process opens the database and runs random write transactions
 * (tests/support/testutil.c: up to 20 puts/deletes over 200 keys, values of
 * 0..20 KiB and a few up to 300 KiB; transaction j also writes meta:last = j),
 * checkpointing now and then.  After each commit returns it writes j to a
 * pipe: the commit was acknowledged.  The parent SIGKILLs the child at a
 * random moment (during open/recovery, mid-transaction, mid-commit,
 * mid-checkpoint), reopens the database and checks that it holds exactly the
 * state after transaction k, where k is the last acknowledged transaction or
 * the one after it (whose ack was not written yet), that db_check passes,
 * and then lets the next child continue from k + 1.
 *
 * Variants: one child; two children writing concurrently into their own key
 * spaces, killed together.  BLAZEDB_LONG_TESTS=1 runs 2000 kills instead of
 * 100.  BLAZEDB_TEST_SEED=S replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "support/testutil.h"

#define MAX_CHILDREN 4
#define AUTOCKPT_PAGES 512

static void crash_opts(BlazeDBOptions *o)
{
    tu_fast_opts(o);
    o->wal_autocheckpoint = AUTOCKPT_PAGES;
    o->busy_timeout_ms = 20000;
}

/* The child: runs transactions from `first` on until killed.  Never
 * returns.  Errors are printed and reported with exit status 2..4. */
static void child_main(const char *path, const TuWorkload *w, uint64_t first, int wfd)
{
    BlazeDBOptions o;
    crash_opts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
    if (rc) {
        fprintf(stderr, "child[%s]: open failed: %s (%s)\n", w->prefix,
                blazedb_strerror(rc), blazedb_errmsg(NULL));
        _exit(2);
    }
    for (uint64_t j = first; j < first + 1000000; j++) {
        int stage;
        rc = tu_txn_run(db, w, j, &stage);
        if (rc) {
            fprintf(stderr, "child[%s]: txn %" PRIu64 " failed at stage %d: %s (%s)\n",
                    w->prefix, j, stage, blazedb_strerror(rc), blazedb_errmsg(db));
            _exit(3);
        }
        if (write(wfd, &j, sizeof j) != (ssize_t)sizeof j)
            _exit(5);
        if (tu_mix(w->seed ^ (j * 31)) % 16 == 0) {
            rc = blazedb_checkpoint(db);
            if (rc && rc != BLAZEDB_BUSY) {
                fprintf(stderr, "child[%s]: checkpoint after %" PRIu64 " failed: %s (%s)\n",
                        w->prefix, j, blazedb_strerror(rc), blazedb_errmsg(db));
                _exit(4);
            }
        }
    }
    _exit(0);
}

/* Reads acks from a pipe until `want` of them arrived, EOF, or timeout.
 * Updates *ack with the largest.  Returns the number read, -1 on EOF. */
static int read_acks(int fd, uint64_t *ack, int want, int timeout_ms)
{
    int got = 0;
    uint64_t t0 = tu_now_us();
    while (got < want) {
        int left = timeout_ms - (int)((tu_now_us() - t0) / 1000);
        if (timeout_ms >= 0 && left <= 0)
            break;
        struct pollfd p = { fd, POLLIN, 0 };
        int pr = poll(&p, 1, timeout_ms < 0 ? -1 : left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        uint64_t j;
        ssize_t n = read(fd, &j, sizeof j);
        if (n == 0)
            return -1;
        if (n != (ssize_t)sizeof j)
            return -1;
        if (j > *ack)
            *ack = j;
        got++;
    }
    return got;
}

/* Drains a pipe whose writer is dead. */
static void drain_acks(int fd, uint64_t *ack)
{
    uint64_t j;
    while (read(fd, &j, sizeof j) == (ssize_t)sizeof j)
        if (j > *ack)
            *ack = j;
}

/*
 * The kill/recover loop with `nchild` children, `kills` rounds.
 */
static void crash_loop(int nchild, int kills, const char *name)
{
    uint64_t seed = tu_seed(name);
    char *dir = tu_mkdtemp("crash");
    assert_non_null(dir);
    char *path = tu_path(dir, "crash.blazedb");
    assert_non_null(path);
    fprintf(stderr, "%s: database %s (left there on failure)\n", name, path);

    TuWorkload w[MAX_CHILDREN];
    TuModel m[MAX_CHILDREN];
    uint64_t start[MAX_CHILDREN];
    for (int c = 0; c < nchild; c++) {
        char prefix[8];
        if (nchild == 1)
            prefix[0] = 0;
        else
            snprintf(prefix, sizeof prefix, "p%d/", c);
        tu_workload_init(&w[c], prefix, tu_mix(seed + (uint64_t)c));
        assert_int_equal(tu_model_init(&m[c], &w[c]), 0);
        start[c] = 0;
    }
    TuRng rng;
    tu_rng_seed(&rng, seed ^ 0xc0ffee);
    uint64_t t0 = tu_now_us();
    uint64_t total_acks = 0, next_commits = 0, zero_rounds = 0;

    for (int round = 0; round < kills; round++) {
        pid_t pid[MAX_CHILDREN];
        int rfd[MAX_CHILDREN];
        uint64_t ack[MAX_CHILDREN];
        for (int c = 0; c < nchild; c++) {
            int pfd[2];
            assert_int_equal(pipe(pfd), 0);
            fflush(NULL);
            pid[c] = fork();
            assert_true(pid[c] >= 0);
            if (pid[c] == 0) {
                close(pfd[0]);
                for (int d = 0; d < c; d++)
                    close(rfd[d]);
                child_main(path, &w[c], start[c] + 1, pfd[1]);
            }
            close(pfd[1]);
            rfd[c] = pfd[0];
            ack[c] = start[c];
        }

        /* When to kill. */
        uint64_t mode = tu_rng_below(&rng, 10);
        if (mode == 0) {
            /* at once: during open / recovery */
            tu_sleep_us(tu_rng_below(&rng, 3000));
        } else if (mode <= 4) {
            /* after a few acks, then a little later (mid-transaction or
             * mid-commit of the next one) */
            int want = 1 + (int)tu_rng_below(&rng, 6);
            read_acks(rfd[0], &ack[0], want, 5000);
            tu_sleep_us(tu_rng_below(&rng, 4000));
        } else {
            tu_sleep_us(tu_rng_below(&rng, 40000));
        }
        for (int c = 0; c < nchild; c++)
            kill(pid[c], SIGKILL);
        for (int c = 0; c < nchild; c++) {
            int status = 0;
            pid_t r;
            do {
                r = waitpid(pid[c], &status, 0);
            } while (r < 0 && errno == EINTR);
            assert_int_equal(r, pid[c]);
            if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
                fail_msg("seed %" PRIu64 " round %d child %d: ended by itself (status 0x%x) "
                         "before the kill; see its message above", seed, round, c, status);
            drain_acks(rfd[c], &ack[c]);
            close(rfd[c]);
        }

        /* Recover and verify. */
        BlazeDBOptions o;
        crash_opts(&o);
        BlazeDB *db = NULL;
        BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
        if (rc)
            fail_msg("seed %" PRIu64 " round %d: reopen after kill failed: %s (%s)", seed,
                     round, blazedb_strerror(rc), blazedb_errmsg(NULL));
        char msg[512];
        for (int c = 0; c < nchild; c++) {
            uint64_t k;
            rc = tu_db_last(db, &w[c], &k);
            if (rc)
                fail_msg("seed %" PRIu64 " round %d child %d: reading meta:last: %s (%s)",
                         seed, round, c, blazedb_strerror(rc), blazedb_errmsg(db));
            if (k < ack[c] || k > ack[c] + 1)
                fail_msg("seed %" PRIu64 " round %d child %d: recovered transaction %" PRIu64
                         " but %" PRIu64 " was acknowledged (started at %" PRIu64 ")",
                         seed, round, c, k, ack[c], start[c]);
            for (uint64_t j = start[c] + 1; j <= k; j++)
                tu_model_apply(&m[c], j);
            if (tu_model_compare(&m[c], db, msg, sizeof msg) != 0)
                fail_msg("seed %" PRIu64 " round %d child %d: state is not exactly the state "
                         "after txn %" PRIu64 " (acked %" PRIu64 "): %s", seed, round, c, k,
                         ack[c], msg);
            total_acks += ack[c] - start[c];
            next_commits += k - ack[c];
            if (k == start[c])
                zero_rounds++;
            start[c] = k;
        }
        if (tu_db_check(db, msg, sizeof msg) != 0)
            fail_msg("seed %" PRIu64 " round %d: db_check after recovery: %s", seed, round, msg);
        blazedb_close(db);
    }
    double secs = (double)(tu_now_us() - t0) / 1e6;
    fprintf(stderr, "%s: %d kill rounds x %d child(ren) in %.1f s; %" PRIu64
            " acked commits, %" PRIu64 " durable-but-unacked, %" PRIu64
            " child-rounds without progress; final txn",
            name, kills, nchild, secs, total_acks, next_commits, zero_rounds);
    for (int c = 0; c < nchild; c++)
        fprintf(stderr, " %" PRIu64, start[c]);
    fprintf(stderr, "\n");
    /* The workload must actually have made progress. */
    for (int c = 0; c < nchild; c++)
        assert_true(start[c] > (uint64_t)kills / 4);
    for (int c = 0; c < nchild; c++)
        tu_model_free(&m[c]);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

static void test_kill_one_writer(void **state)
{
    (void)state;
    crash_loop(1, tu_long_tests() ? 2000 : 100, "test_kill_one_writer");
}

static void test_kill_two_writers(void **state)
{
    (void)state;
    crash_loop(2, tu_long_tests() ? 1000 : 50, "test_kill_two_writers");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_one_writer),
        cmocka_unit_test(test_kill_two_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
