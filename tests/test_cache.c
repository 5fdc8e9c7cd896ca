/*
 * test_cache.c — the page cache (src/pager/cache.c) on its own and under a
 * database with a budget far smaller than its data.
 *
 * What must always hold: the budget holds whenever something unpinned can
 * go, a pinned page is never dropped or reused, a page used again is kept
 * over pages not used since, a detached version is freed on its last
 * unpin, and, with several threads fetching, loading and unpinning pages
 * of a working set ten times the budget, every hit returns the bytes that
 * were loaded for that page version (the sanitizer build also sees any use
 * after free).  The same for whole databases read by several threads
 * while a writer commits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../src/pager/cache.h"
#include "support/testutil.h"

#define PAYLOAD 256

static void fill(uint8_t *d, Pgno pgno, uint64_t ctr)
{
    for (size_t i = 0; i < PAYLOAD; i++)
        d[i] = (uint8_t)(pgno * 31u + ctr * 7u + i);
}

static int matches(const uint8_t *d, Pgno pgno, uint64_t ctr)
{
    for (size_t i = 0; i < PAYLOAD; i++)
        if (d[i] != (uint8_t)(pgno * 31u + ctr * 7u + i))
            return 0;
    return 1;
}

/* Fetches {pgno, ctr}, loading it on a miss.  Returns the pinned entry. */
static CacheEntry *get(Cache *c, Pgno pgno, uint64_t ctr, int *hit)
{
    CacheEntry *e = NULL;
    int r = cache_fetch(c, pgno, ctr, &e);
    assert_true(r == 0 || r == 1);
    if (r == 0) {
        fill(e->page.data, pgno, ctr);
        cache_loaded(c, e);
    }
    if (hit)
        *hit = r;
    assert_true(matches(e->page.data, pgno, ctr));
    return e;
}

static int cached(Cache *c, Pgno pgno, uint64_t ctr)
{
    int hit;
    CacheEntry *e = get(c, pgno, ctr, &hit);
    cache_unpin(c, e);
    return hit;
}

static void test_budget_and_pins(void **state)
{
    (void)state;
    Cache c;
    assert_int_equal(cache_init(&c, 32, PAYLOAD), 0);
    /* unpinned pages beyond the budget are evicted */
    for (Pgno p = 1; p <= 500; p++)
        cache_unpin(&c, get(&c, p, 1, NULL));
    assert_true(c.count <= 32);
    /* pinned pages stay, even past the budget, and keep their bytes */
    CacheEntry *pinned[48];
    for (int i = 0; i < 48; i++)
        pinned[i] = get(&c, 1000 + (Pgno)i, 5, NULL);
    assert_true(c.count >= 48);
    for (Pgno p = 2000; p < 2100; p++)
        cache_unpin(&c, get(&c, p, 1, NULL));
    for (int i = 0; i < 48; i++) {
        assert_int_equal(pinned[i]->refs, 1);
        assert_true(matches(pinned[i]->page.data, 1000 + (Pgno)i, 5));
    }
    /* a second pin of the same version is a hit on the same entry */
    int hit;
    CacheEntry *again = get(&c, 1000, 5, &hit);
    assert_int_equal(hit, 1);
    assert_ptr_equal(again, pinned[0]);
    cache_unpin(&c, again);
    for (int i = 0; i < 48; i++)
        cache_unpin(&c, pinned[i]);
    /* once unpinned, the next load brings the cache back under budget */
    cache_unpin(&c, get(&c, 5000, 1, NULL));
    assert_true(c.count <= 32);
    cache_clear(&c);
    assert_int_equal(c.count, 0);
    cache_destroy(&c);
}

static void test_second_chance(void **state)
{
    (void)state;
    Cache c;
    assert_int_equal(cache_init(&c, 16, PAYLOAD), 0);
    /* a budget of 16; page 1 is used again after each new page, so
     * eviction always takes another */
    for (Pgno p = 1; p <= 8; p++)
        cache_unpin(&c, get(&c, p, 1, NULL));
    for (Pgno p = 100; p < 400; p++) {
        assert_int_equal(cached(&c, 1, 1), 1);
        cache_unpin(&c, get(&c, p, 1, NULL));
        assert_true(c.count <= 16);
    }
    assert_int_equal(cached(&c, 1, 1), 1);
    cache_destroy(&c);
}

static void test_versions(void **state)
{
    (void)state;
    Cache c;
    assert_int_equal(cache_init(&c, 16, PAYLOAD), 0);
    /* a newer version of an unpinned page replaces the entry */
    cache_unpin(&c, get(&c, 7, 1, NULL));
    int hit;
    CacheEntry *v2 = get(&c, 7, 2, &hit);
    assert_int_equal(hit, 0);
    /* while version 2 is pinned, version 3 gets a detached entry, freed at
     * its last unpin (the sanitizer build checks that it is) */
    CacheEntry *v3 = get(&c, 7, 3, &hit);
    assert_int_equal(hit, 0);
    assert_ptr_not_equal(v2, v3);
    assert_int_equal(v3->detached, 1);
    CacheEntry *v3b = get(&c, 7, 3, &hit); /* not findable: loads again */
    assert_int_equal(hit, 0);
    cache_unpin(&c, v3b);
    cache_unpin(&c, v3);
    assert_true(matches(v2->page.data, 7, 2));
    cache_unpin(&c, v2);
    assert_int_equal(cached(&c, 7, 2), 1);
    /* install: replaces an unpinned entry, leaves a pinned one alone */
    uint8_t *d = malloc(PAYLOAD);
    assert_non_null(d);
    fill(d, 7, 4);
    cache_install(&c, 7, 4, d, 0);
    assert_int_equal(cached(&c, 7, 4), 1);
    CacheEntry *p4 = get(&c, 7, 4, NULL);
    d = malloc(PAYLOAD);
    assert_non_null(d);
    fill(d, 7, 5);
    cache_install(&c, 7, 5, d, 0); /* refused and freed */
    assert_true(matches(p4->page.data, 7, 4));
    cache_unpin(&c, p4);
    cache_destroy(&c);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct {
    Cache *c;
    unsigned id;
    uint64_t deadline_us;
    uint64_t hits, loads;
    int bad;
} Worker;

static void *worker(void *arg)
{
    Worker *w = arg;
    TuRng rng;
    tu_rng_seed(&rng, tu_seed("test_cache_threads") + w->id);
    CacheEntry *held[4] = {0};
    Pgno held_p[4] = {0};
    uint64_t n = 0;
    while ((n++ & 255) || tu_now_us() < w->deadline_us) {
        uint64_t r = tu_rng_next(&rng);
        Pgno p = 1 + (Pgno)(r % 640);  /* ten times the budget */
        uint64_t ctr = p % 3 + 1;      /* one version per page */
        CacheEntry *e = NULL;
        int got = cache_fetch(w->c, p, ctr, &e);
        if (got == 0) {
            fill(e->page.data, p, ctr);
            cache_loaded(w->c, e);
            w->loads++;
        } else if (got == 1) {
            w->hits++;
        } else {
            w->bad = 1;
            break;
        }
        if (!matches(e->page.data, p, ctr)) {
            w->bad = 2;
            break;
        }
        /* keep a few pins for a while, as a descent does */
        unsigned k = (unsigned)(r >> 32) % 4;
        if (held[k]) {
            if (!matches(held[k]->page.data, held_p[k], held_p[k] % 3 + 1)) {
                w->bad = 3;
                break;
            }
            cache_unpin(w->c, held[k]);
        }
        held[k] = e;
        held_p[k] = p;
    }
    for (int k = 0; k < 4; k++)
        if (held[k])
            cache_unpin(w->c, held[k]);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    Cache c;
    assert_int_equal(cache_init(&c, 64, PAYLOAD), 0);
    enum { NT = 4 };
    Worker w[NT];
    pthread_t th[NT];
    uint64_t deadline = tu_now_us() + (tu_long_tests() ? 20000000u : 1500000u);
    for (unsigned i = 0; i < NT; i++) {
        w[i] = (Worker){.c = &c, .id = i, .deadline_us = deadline};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    }
    uint64_t hits = 0, loads = 0;
    for (unsigned i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        if (w[i].bad)
            fail_msg("thread %u: %s", i,
                     w[i].bad == 1 ? "out of memory"
                     : w[i].bad == 2 ? "a fetched page holds another page's bytes"
                                     : "a pinned page changed under its pin");
        hits += w[i].hits;
        loads += w[i].loads;
    }
    fprintf(stderr, "  %" PRIu64 " hits, %" PRIu64 " loads\n", hits, loads);
    assert_true(hits > 1000 && loads > 1000); /* both paths ran, and evictions */
    /* at most 4 pins per thread were out at any time */
    assert_true(c.count <= 64 + NT * 4);
    cache_destroy(&c);
}

/* ---- a database whose data is far larger than its cache ------------------- */

typedef struct {
    BlazeDB *db;
    unsigned id;
    uint64_t deadline_us;
    uint64_t reads;
    char err[160];
} Reader;

#define NKEYS 4000
#define VLEN 300

static void value_of(unsigned k, unsigned gen, uint8_t *v)
{
    for (unsigned i = 0; i < VLEN; i++)
        v[i] = (uint8_t)(k * 13u + gen * 101u + i);
}

static void *reader(void *arg)
{
    Reader *r = arg;
    TuRng rng;
    tu_rng_seed(&rng, tu_seed("test_cache_db") + r->id);
    while (tu_now_us() < r->deadline_us && !r->err[0]) {
        unsigned k = (unsigned)(tu_rng_next(&rng) % NKEYS);
        char key[32];
        snprintf(key, sizeof key, "k%06u", k);
        void *v = NULL;
        size_t vl = 0;
        BlazeDBResult rc = blazedb_get(r->db, key, &v, &vl);
        if (rc != BLAZEDB_OK || vl != VLEN + 4) {
            snprintf(r->err, sizeof r->err, "get %s: %d, %zu bytes", key, rc, vl);
        } else {
            /* the value names its generation; its bytes must match it */
            uint32_t gen;
            memcpy(&gen, v, 4);
            uint8_t want[VLEN];
            value_of(k, gen, want);
            if (memcmp((uint8_t *)v + 4, want, VLEN))
                snprintf(r->err, sizeof r->err, "get %s: wrong bytes (gen %u)", key, gen);
        }
        blazedb_free(v);
        r->reads++;
    }
    return NULL;
}

static void put_gen(BlazeDBTxn *t, unsigned k, uint32_t gen)
{
    char key[32];
    uint8_t v[VLEN + 4];
    snprintf(key, sizeof key, "k%06u", k);
    memcpy(v, &gen, 4);
    value_of(k, gen, v + 4);
    assert_int_equal(blazedb_txn_put(t, key, strlen(key), v, sizeof v), BLAZEDB_OK);
}

static void test_small_cache_db(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("cache");
    assert_non_null(dir);
    char *path = tu_path(dir, "c.blazedb");
    BlazeDBOptions o;
    tu_fast_opts(&o);
    o.cache_size = 96 * 1024; /* about a dozen pages, for ~1.3 MB of values */
    o.wal_autocheckpoint = 256;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    BlazeDBTxn *t = NULL;
    assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
    for (unsigned k = 0; k < NKEYS; k++)
        put_gen(t, k, 0);
    assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);

    enum { NT = 3 };
    Reader rd[NT];
    pthread_t th[NT];
    uint64_t deadline = tu_now_us() + (tu_long_tests() ? 20000000u : 2000000u);
    for (unsigned i = 0; i < NT; i++) {
        memset(&rd[i], 0, sizeof rd[i]);
        rd[i].db = db;
        rd[i].id = i;
        rd[i].deadline_us = deadline;
        assert_int_equal(pthread_create(&th[i], NULL, reader, &rd[i]), 0);
    }
    /* meanwhile a writer gives keys new generations */
    TuRng rng;
    tu_rng_seed(&rng, tu_seed("test_cache_db"));
    uint32_t gen = 1;
    while (tu_now_us() < deadline) {
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        for (int j = 0; j < 20; j++)
            put_gen(t, (unsigned)(tu_rng_next(&rng) % NKEYS), gen);
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
        gen++;
    }
    uint64_t reads = 0;
    for (unsigned i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        if (rd[i].err[0])
            fail_msg("reader %u: %s", i, rd[i].err);
        reads += rd[i].reads;
    }
    BlazeDBStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    assert_int_equal(blazedb_stats(db, &st), BLAZEDB_OK);
    fprintf(stderr, "  %" PRIu64 " reads, %u write transactions, %" PRIu64
                    " cache misses, %" PRIu64 " hits\n",
            reads, gen - 1, st.cache_misses, st.cache_hits);
    assert_true(reads > 100);
    assert_true(st.cache_misses > 1000); /* the cache was far too small */
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg))
        fail_msg("db_check: %s", msg);
    blazedb_close(db);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_and_pins),
        cmocka_unit_test(test_second_chance),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_small_cache_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
