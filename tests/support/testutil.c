/*
 * testutil.c — helpers shared by the durability and concurrency suites:
 * temporary directories, a seeded PRNG, fast open options, and the
 * workload/model pair that regenerates transaction j from (seed, j) and
 * compares a database with the expected state.  See testutil.h.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/db/db.h"

/* ---- environment, time, files ------------------------------------------ */

int tu_long_tests(void)
{
    const char *e = getenv("BLAZEDB_LONG_TESTS");
    return e && *e && strcmp(e, "0") != 0;
}

uint64_t tu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void tu_sleep_us(uint64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint64_t tu_seed(const char *name)
{
    const char *e = getenv("BLAZEDB_TEST_SEED");
    uint64_t s;
    if (e && *e) {
        s = strtoull(e, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = tu_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                   ((uint64_t)getpid() << 40)) & 0xffffffffffffull;
    }
    fprintf(stderr, "%s: seed %" PRIu64 " (replay with BLAZEDB_TEST_SEED=%" PRIu64 ")\n",
            name, s, s);
    return s;
}

char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + strlen(tag) + 32;
    char *p = malloc(n);
    if (!p)
        return NULL;
    snprintf(p, n, "%s/blazedb-%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

int tu_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *sub = tu_path(path, de->d_name);
        if (!sub || tu_rmrf(sub) != 0)
            rc = -1;
        free(sub);
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void tu_fast_opts(BlazeDBOptions *o)
{
    blazedb_options_init(o);
    o->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o->kdf_iterations = 1;
}

/* ---- PRNG -------------------------------------------------------------- */

uint64_t tu_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void tu_rng_seed(TuRng *r, uint64_t seed)
{
    r->s = tu_mix(seed);
}

uint64_t tu_rng_next(TuRng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t tu_rng_below(TuRng *r, uint64_t n)
{
    return n ? tu_rng_next(r) % n : 0;
}

void tu_rng_bytes(TuRng *r, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n >= 8) {
        uint64_t v = tu_rng_next(r);
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = tu_rng_next(r);
        memcpy(p, &v, n);
    }
}

void tu_fill(uint64_t vseed, void *buf, size_t n)
{
    TuRng r;
    tu_rng_seed(&r, vseed);
    tu_rng_bytes(&r, buf, n);
}

/* ---- workload ---------------------------------------------------------- */

void tu_workload_init(TuWorkload *w, const char *prefix, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix ? prefix : "");
    w->seed = seed;
    w->nkeys = 200;
    w->max_ops = 20;
    w->max_small = 20 * 1024;
    w->max_big = 300 * 1024;
    w->big_permille = 20;
    w->del_permille = 250;
}

size_t tu_txn_ops(const TuWorkload *w, uint64_t j, TuOp *ops)
{
    TuRng r;
    tu_rng_seed(&r, w->seed ^ tu_mix(j * 0x100000001b3ull + 7));
    size_t n = 1 + (size_t)tu_rng_below(&r, w->max_ops);
    for (size_t i = 0; i < n; i++) {
        TuOp *op = &ops[i];
        op->key = (uint32_t)tu_rng_below(&r, w->nkeys);
        op->del = tu_rng_below(&r, 1000) < w->del_permille;
        op->vseed = tu_rng_next(&r);
        if (op->del)
            op->vlen = 0;
        else if (tu_rng_below(&r, 1000) < w->big_permille)
            op->vlen = (uint32_t)tu_rng_below(&r, (uint64_t)w->max_big + 1);
        else
            op->vlen = (uint32_t)tu_rng_below(&r, (uint64_t)w->max_small + 1);
    }
    return n;
}

size_t tu_key(const TuWorkload *w, uint32_t id, char *buf, size_t cap)
{
    int n;
    if (id == UINT32_MAX)
        n = snprintf(buf, cap, "%smeta:last", w->prefix);
    else
        n = snprintf(buf, cap, "%sk%05u", w->prefix, id);
    return n < 0 ? 0 : (size_t)n;
}

BlazeDBResult tu_txn_run(BlazeDB *db, const TuWorkload *w, uint64_t j, int *stage)
{
    TuOp *ops = malloc(sizeof *ops * (w->max_ops ? w->max_ops : 1));
    uint8_t *buf = malloc((w->max_big > w->max_small ? w->max_big : w->max_small) + 8);
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc;
    int st = 0;
    if (!ops || !buf) {
        rc = BLAZEDB_NOMEM;
        goto out;
    }
    size_t n = tu_txn_ops(w, j, ops);
    rc = blazedb_txn_begin(db, 0, &t);
    if (rc)
        goto out;
    st = 1;
    char key[64];
    for (size_t i = 0; i < n; i++) {
        size_t kl = tu_key(w, ops[i].key, key, sizeof key);
        if (ops[i].del) {
            rc = blazedb_txn_delete(t, key, kl);
        } else {
            tu_fill(ops[i].vseed, buf, ops[i].vlen);
            rc = blazedb_txn_put(t, key, kl, buf, ops[i].vlen);
        }
        if (rc)
            goto out;
    }
    size_t kl = tu_key(w, UINT32_MAX, key, sizeof key);
    uint8_t jv[8];
    for (int b = 0; b < 8; b++)
        jv[b] = (uint8_t)(j >> (8 * b));
    rc = blazedb_txn_put(t, key, kl, jv, 8);
    if (rc)
        goto out;
    st = 2;
    rc = blazedb_txn_commit(t);
    t = NULL;
out:
    if (t)
        blazedb_txn_abort(t);
    if (stage)
        *stage = st;
    free(ops);
    free(buf);
    return rc;
}

/* ---- model --------------------------------------------------------------- */

int tu_model_init(TuModel *m, const TuWorkload *w)
{
    m->w = w;
    m->last = 0;
    m->slots = calloc(w->nkeys ? w->nkeys : 1, sizeof *m->slots);
    return m->slots ? 0 : -1;
}

void tu_model_free(TuModel *m)
{
    free(m->slots);
    m->slots = NULL;
}

void tu_model_reset(TuModel *m)
{
    memset(m->slots, 0, sizeof *m->slots * m->w->nkeys);
    m->last = 0;
}

void tu_model_copy(TuModel *dst, const TuModel *src)
{
    memcpy(dst->slots, src->slots, sizeof *src->slots * src->w->nkeys);
    dst->last = src->last;
}

void tu_model_apply(TuModel *m, uint64_t j)
{
    TuOp ops[256];
    TuOp *p = m->w->max_ops <= 256 ? ops : malloc(sizeof *p * m->w->max_ops);
    if (!p)
        abort(); /* tests only */
    size_t n = tu_txn_ops(m->w, j, p);
    for (size_t i = 0; i < n; i++) {
        TuSlot *s = &m->slots[p[i].key];
        if (p[i].del) {
            memset(s, 0, sizeof *s);
        } else {
            s->present = 1;
            s->vseed = p[i].vseed;
            s->vlen = p[i].vlen;
        }
    }
    m->last = j;
    if (p != ops)
        free(p);
}

void tu_model_replay(TuModel *m, uint64_t k)
{
    tu_model_reset(m);
    for (uint64_t j = 1; j <= k; j++)
        tu_model_apply(m, j);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--)
        v = (v << 8) | p[b];
    return v;
}

BlazeDBResult tu_db_last(BlazeDB *db, const TuWorkload *w, uint64_t *last)
{
    char key[64];
    size_t kl = tu_key(w, UINT32_MAX, key, sizeof key);
    void *v = NULL;
    size_t vl = 0;
    *last = 0;
    BlazeDBResult rc = blazedb_get2(db, key, kl, &v, &vl);
    if (rc == BLAZEDB_NOT_FOUND)
        return BLAZEDB_OK;
    if (rc)
        return rc;
    if (vl != 8) {
        blazedb_free(v);
        return BLAZEDB_CORRUPT;
    }
    *last = le64(v);
    blazedb_free(v);
    return BLAZEDB_OK;
}

/* Parses a key of the workload: id, UINT32_MAX for the meta key; -1 if
 * not one of ours. */
static int parse_key(const TuWorkload *w, const uint8_t *k, size_t kl, uint32_t *id)
{
    size_t pl = strlen(w->prefix);
    if (kl < pl || memcmp(k, w->prefix, pl) != 0)
        return -1;
    k += pl;
    kl -= pl;
    if (kl == 9 && memcmp(k, "meta:last", 9) == 0) {
        *id = UINT32_MAX;
        return 0;
    }
    if (kl != 6 || k[0] != 'k')
        return -1;
    uint32_t v = 0;
    for (size_t i = 1; i < 6; i++) {
        if (k[i] < '0' || k[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(k[i] - '0');
    }
    if (v >= w->nkeys)
        return -1;
    *id = v;
    return 0;
}

int tu_model_compare(const TuModel *m, BlazeDB *db, char *msg, size_t msglen)
{
    const TuWorkload *w = m->w;
    size_t maxv = (w->max_big > w->max_small ? w->max_big : w->max_small) + 8;
    uint8_t *exp = malloc(maxv);
    uint8_t *seen = calloc(w->nkeys + 1, 1);
    BlazeDBIterator *it = NULL;
    int ret = -1;
    msg[0] = 0;
    if (!exp || !seen) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    BlazeDBRange range;
    memset(&range, 0, sizeof range);
    size_t pl = strlen(w->prefix);
    range.prefix = pl ? w->prefix : NULL;
    range.prefix_len = pl;
    BlazeDBResult rc = blazedb_iter_open(db, NULL, &range, &it);
    if (rc) {
        snprintf(msg, msglen, "iter_open: %s (%s)", blazedb_strerror(rc),
                 blazedb_errmsg(db));
        goto out;
    }
    size_t count = 0;
    for (;;) {
        rc = blazedb_iter_next(it);
        if (rc == BLAZEDB_NOT_FOUND)
            break;
        if (rc) {
            snprintf(msg, msglen, "iter_next after %zu keys: %s (%s)", count,
                     blazedb_strerror(rc), blazedb_errmsg(db));
            goto out;
        }
        const void *k, *v;
        size_t kl, vl;
        rc = blazedb_iter_key(it, &k, &kl);
        if (rc) {
            snprintf(msg, msglen, "iter_key after %zu keys: %s (%s)", count,
                     blazedb_strerror(rc), blazedb_errmsg(db));
            goto out;
        }
        rc = blazedb_iter_value(it, &v, &vl);
        if (rc) {
            snprintf(msg, msglen, "iter_value of key '%.*s' after %zu keys: %s (%s)",
                     (int)(kl > 64 ? 64 : kl), (const char *)k, count,
                     blazedb_strerror(rc), blazedb_errmsg(db));
            goto out;
        }
        uint32_t id;
        if (parse_key(w, k, kl, &id) != 0) {
            snprintf(msg, msglen, "unexpected key '%.*s'", (int)(kl > 64 ? 64 : kl),
                     (const char *)k);
            goto out;
        }
        size_t si = id == UINT32_MAX ? w->nkeys : id;
        if (seen[si]++) {
            snprintf(msg, msglen, "key '%.*s' returned twice", (int)kl, (const char *)k);
            goto out;
        }
        count++;
        if (id == UINT32_MAX) {
            if (vl != 8 || le64(v) != m->last || m->last == 0) {
                snprintf(msg, msglen, "meta:last is %" PRIu64 " (len %zu), expected %" PRIu64,
                         vl == 8 ? le64(v) : 0, vl, m->last);
                goto out;
            }
            continue;
        }
        const TuSlot *s = &m->slots[id];
        if (!s->present) {
            snprintf(msg, msglen, "key '%.*s' present (len %zu) but expected absent "
                     "(model after txn %" PRIu64 ")", (int)kl, (const char *)k, vl, m->last);
            goto out;
        }
        if (vl != s->vlen) {
            snprintf(msg, msglen, "key '%.*s': length %zu, expected %u (model after txn %"
                     PRIu64 ")", (int)kl, (const char *)k, vl, s->vlen, m->last);
            goto out;
        }
        tu_fill(s->vseed, exp, s->vlen);
        if (vl && memcmp(v, exp, vl) != 0) {
            snprintf(msg, msglen, "key '%.*s': wrong value bytes (len %zu)", (int)kl,
                     (const char *)k, vl);
            goto out;
        }
    }
    for (uint32_t i = 0; i < w->nkeys; i++) {
        if (m->slots[i].present && !seen[i]) {
            char key[64];
            tu_key(w, i, key, sizeof key);
            snprintf(msg, msglen, "key '%s' missing (model after txn %" PRIu64 ")", key,
                     m->last);
            goto out;
        }
    }
    if (m->last && !seen[w->nkeys]) {
        snprintf(msg, msglen, "meta:last missing, expected %" PRIu64, m->last);
        goto out;
    }
    ret = 0;
out:
    blazedb_iter_close(it);
    free(exp);
    free(seen);
    return ret;
}

int tu_model_check_key(const TuModel *m, BlazeDB *db, uint32_t id, BlazeDBResult *rc,
                       char *msg, size_t msglen)
{
    char key[64];
    size_t kl = tu_key(m->w, id, key, sizeof key);
    void *v = NULL;
    size_t vl = 0;
    msg[0] = 0;
    *rc = blazedb_get2(db, key, kl, &v, &vl);
    const TuSlot *s = &m->slots[id];
    int ret = 0;
    if (*rc != BLAZEDB_OK && *rc != BLAZEDB_NOT_FOUND) {
        if (v != NULL || vl != 0) {
            snprintf(msg, msglen, "failed get of '%s' left output set", key);
            ret = -1;
        }
    } else if ((*rc == BLAZEDB_OK) != s->present) {
        snprintf(msg, msglen, "get '%s': %s, expected %s", key,
                 *rc == BLAZEDB_OK ? "present" : "absent", s->present ? "present" : "absent");
        ret = -1;
    } else if (*rc == BLAZEDB_OK) {
        uint8_t *exp = malloc(s->vlen ? s->vlen : 1);
        if (!exp) {
            snprintf(msg, msglen, "out of memory");
            ret = -1;
        } else {
            tu_fill(s->vseed, exp, s->vlen);
            if (vl != s->vlen || (vl && memcmp(v, exp, vl) != 0)) {
                snprintf(msg, msglen, "get '%s' returned wrong data (%zu bytes, expected %u)",
                         key, vl, s->vlen);
                ret = -1;
            }
            free(exp);
        }
    }
    blazedb_free(v);
    return ret;
}

int tu_db_check(BlazeDB *db, char *msg, size_t msglen)
{
    msg[0] = 0;
    BlazeDBResult rc = db_check(db, msg, msglen);
    if (rc == BLAZEDB_OK)
        return 0;
    if (!msg[0])
        snprintf(msg, msglen, "db_check: %s", blazedb_strerror(rc));
    return -1;
}

/* ---- a scratch database ---------------------------------------------------- */

BlazeDBResult tu_db_create(TuDb *t, const char *tag, const BlazeDBOptions *opts)
{
    memset(t, 0, sizeof *t);
    char name[128];
    snprintf(name, sizeof name, "%s.blazedb", tag);
    if (!(t->dir = tu_mkdtemp(tag)) || !(t->path = tu_path(t->dir, name)))
        return BLAZEDB_INTERNAL_ERROR;
    BlazeDBOptions o;
    if (opts)
        o = *opts;
    else
        tu_fast_opts(&o);
    return blazedb_open_ex(t->path, TU_PASSWORD, &o, &t->db);
}

int tu_db_destroy(TuDb *t, char *msg, size_t msglen)
{
    int rc = 0;
    if (t->db) {
        rc = tu_db_check(t->db, msg, msglen);
        blazedb_close(t->db);
    }
    if (t->dir)
        tu_rmrf(t->dir);
    free(t->path);
    free(t->dir);
    memset(t, 0, sizeof *t);
    return rc;
}
