/*
 * monitor.c — monitoring and health: the operation clock, per-handle latency
 * histograms, blazedb_metrics_json and blazedb_health.
 *
 * Owns: the histograms (recorded with relaxed atomics from the public calls
 * in db.c, collection.c and sqlapi.c through mon_end), the JSON and text
 * writers of the two reports, and the health rules (mon_health_eval, a
 * pure function of MonFacts).  Not: the counters themselves (the pager's
 * PagerStats, blazedb_stats, the catalog's per-collection counters), which
 * it only reads.
 *
 * Nothing written here comes from a document: numbers, plus the names of
 * collections and indexes (metadata).  No id, field value or field path.
 */
#include "monitor.h"
#include "../doc/textbuf.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(MON_HAVE_TSC)
#include <cpuid.h>
#endif

#include "db.h"
#include "../btree/btree.h"
#include "../catalog/catalog.h"
#include "../index/index.h"
#include "../pager/pager.h"

/* ---- the clock ---------------------------------------------------------------- */

int mon_clock_tsc;
static double g_us_per_tick = 1e-3;     /* CLOCK_MONOTONIC: ticks are ns */
static double g_eighths_per_tick = 8e-3; /* 1/8 µs units per tick (bucketing) */
static pthread_once_t g_clock_once = PTHREAD_ONCE_INIT;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Uses the TSC when the CPU says it is invariant (constant rate, runs in
 * every power state), measuring its rate against CLOCK_MONOTONIC over 1 ms. */
static void clock_init(void)
{
#if defined(MON_HAVE_TSC)
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000007u &&
        __get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & (1u << 8))) {
        uint64_t n0 = mono_ns(), t0 = __rdtsc(), n1, t1;
        do {
            n1 = mono_ns();
            t1 = __rdtsc();
        } while (n1 - n0 < 1000000);
        if (t1 > t0) {
            g_us_per_tick = (double)(n1 - n0) / 1e3 / (double)(t1 - t0);
            g_eighths_per_tick = g_us_per_tick * 8.0;
            mon_clock_tsc = 1;
        }
    }
#endif
}

/* ---- histograms ------------------------------------------------------------------ */

/*
 * Each thread records into a shard of its own, so recording is a relaxed
 * load and a relaxed store per counter (no locked instruction, no cache
 * line shared between threads).  A shard has one writer: the thread whose
 * thread-local marker (tl_cache's address) owns it; a new thread that gets
 * the address of a dead one takes its shard over, which is fine since the
 * dead one writes no more.  Readers add the shards up under the mutex; a
 * shard is only ever appended to the list, and freed with the monitor.
 */
typedef struct {
    _Atomic uint64_t b[MON_BUCKETS];
    _Atomic uint64_t sum;       /* ticks */
    _Atomic uint64_t max;       /* ticks */
    _Atomic uint64_t errors;
    _Atomic uint64_t untimed;   /* counted, not timed (mon_count) */
} MonHist;

typedef struct MonShard {
    MonHist h[MON_NOPS];
    const void *owner;          /* the owning thread's tl_cache */
    struct MonShard *next;
} MonShard;

struct Monitor {
    uint64_t id;                /* unique in the process: never reused */
    pthread_mutex_t mu;         /* guards the shard list */
    MonShard *shards;
    uint64_t opened_ns;         /* CLOCK_MONOTONIC at open */
};

static _Atomic uint64_t g_next_id = 1;

/* A thread's last few (monitor id, shard) pairs. */
#define MON_TL_SLOTS 4
static _Thread_local struct {
    uint64_t id[MON_TL_SLOTS];
    MonShard *shard[MON_TL_SLOTS];
    unsigned next;
} tl_cache;

static const char *const op_names[MON_NOPS] = {
    "kv_get",     "kv_put",  "kv_delete", "kv_batch",   "txn_begin",    "commit",
    "doc_insert", "doc_get", "doc_update", "doc_delete", "sql_statement",
};

const char *mon_op_name(MonOp op)
{
    return (unsigned)op < MON_NOPS ? op_names[op] : "?";
}

Monitor *mon_new(void)
{
    pthread_once(&g_clock_once, clock_init);
    Monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->id = atomic_fetch_add(&g_next_id, 1);
    pthread_mutex_init(&m->mu, NULL);
    m->opened_ns = mono_ns();
    return m;
}

void mon_free(Monitor *m)
{
    if (!m)
        return;
    for (MonShard *s = m->shards, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The calling thread's shard of m (found or made on a cache miss), or NULL
 * when out of memory (the operation is then not recorded). */
static MonShard *shard_slow(Monitor *m)
{
    const void *me = &tl_cache;
    pthread_mutex_lock(&m->mu);
    MonShard *s = m->shards;
    while (s && s->owner != me)
        s = s->next;
    if (!s && (s = calloc(1, sizeof *s)) != NULL) {
        s->owner = me;
        s->next = m->shards;
        m->shards = s;
    }
    pthread_mutex_unlock(&m->mu);
    if (s) {
        unsigned i = tl_cache.next++ % MON_TL_SLOTS;
        tl_cache.id[i] = m->id;
        tl_cache.shard[i] = s;
    }
    return s;
}

static inline MonShard *shard_of(Monitor *m)
{
    for (unsigned i = 0; i < MON_TL_SLOTS; i++)
        if (tl_cache.id[i] == m->id)
            return tl_cache.shard[i];
    return shard_slow(m);
}

/* One writer per shard: a plain read-modify-write through relaxed atomics
 * (readers may look at any time). */
static inline void bump(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

/* The calling thread's histogram of kind op in m, with the call counted
 * as an error unless rc is OK, NOT_FOUND, ROW or DONE; NULL when m is
 * NULL, op out of range, or no shard could be made. */
static MonHist *hist_for(Monitor *m, MonOp op, int rc)
{
    if (!m || (unsigned)op >= MON_NOPS)
        return NULL;
    MonShard *sh = shard_of(m);
    if (!sh)
        return NULL;
    MonHist *h = &sh->h[op];
    if (rc != BLAZEDB_OK && rc != BLAZEDB_NOT_FOUND && rc != BLAZEDB_ROW && rc != BLAZEDB_DONE)
        bump(&h->errors, 1);
    return h;
}

void mon_record(Monitor *m, MonOp op, uint64_t ticks, int rc)
{
    MonHist *h = hist_for(m, op, rc);
    if (!h)
        return;
    double u = (double)ticks * g_eighths_per_tick;
    int k = MON_BUCKETS - 1;
    if (u < 9.2e18) {
        uint64_t v = (uint64_t)u;
        k = v ? 64 - __builtin_clzll(v) : 0;
        if (k >= MON_BUCKETS)
            k = MON_BUCKETS - 1;
    }
    bump(&h->b[k], 1);
    bump(&h->sum, ticks);
    if (ticks > atomic_load_explicit(&h->max, memory_order_relaxed))
        atomic_store_explicit(&h->max, ticks, memory_order_relaxed);
}

void mon_count(Monitor *m, MonOp op, int rc)
{
    MonHist *h = hist_for(m, op, rc);
    if (h)
        bump(&h->untimed, 1);
}

_Thread_local uint32_t mon_tl_rng;

/* A thread's first draw: mixes the clock with the address of its state
 * (never 0, which xorshift would keep). */
uint32_t mon_rng_seed(void)
{
    uint64_t x = mono_ns() ^ (uint64_t)(uintptr_t)&mon_tl_rng;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    uint32_t v = (uint32_t)x ^ (uint32_t)(x >> 32);
    return v ? v : 0x9e3779b9u;
}

double mon_bucket_upper_us(int k)
{
    return ldexp(1.0, k - 3); /* bucket 0: below 2^-3 µs */
}

static double bucket_lower_us(int k)
{
    return k ? ldexp(1.0, k - 4) : 0.0;
}

/* The value below which a fraction q of the recorded latencies lie, linearly
 * interpolated inside its bucket (so exact to within the bucket: a factor
 * of two), and never above the largest one seen. */
static double percentile(const MonHistSnapshot *s, double q)
{
    if (!s->timed)
        return 0.0;
    double rank = q * (double)s->timed;
    if (rank < 1.0)
        rank = 1.0;
    uint64_t cum = 0;
    for (int k = 0; k < MON_BUCKETS; k++) {
        uint64_t n = s->buckets[k];
        if (!n)
            continue;
        if ((double)(cum + n) >= rank) {
            double lo = bucket_lower_us(k), hi = mon_bucket_upper_us(k);
            double v = lo + (hi - lo) * ((rank - (double)cum) / (double)n);
            return v < s->max_us ? v : s->max_us;
        }
        cum += n;
    }
    return s->max_us;
}

void mon_snapshot(Monitor *m, MonOp op, MonHistSnapshot *out)
{
    memset(out, 0, sizeof *out);
    if (!m || (unsigned)op >= MON_NOPS)
        return;
    uint64_t sum = 0, max = 0;
    pthread_mutex_lock(&m->mu);
    for (MonShard *s = m->shards; s; s = s->next) {
        MonHist *h = &s->h[op];
        for (int k = 0; k < MON_BUCKETS; k++)
            out->buckets[k] += atomic_load_explicit(&h->b[k], memory_order_relaxed);
        out->errors += atomic_load_explicit(&h->errors, memory_order_relaxed);
        out->count += atomic_load_explicit(&h->untimed, memory_order_relaxed);
        sum += atomic_load_explicit(&h->sum, memory_order_relaxed);
        uint64_t mx = atomic_load_explicit(&h->max, memory_order_relaxed);
        if (mx > max)
            max = mx;
    }
    pthread_mutex_unlock(&m->mu);
    for (int k = 0; k < MON_BUCKETS; k++)
        out->timed += out->buckets[k];
    out->count += out->timed;
    out->sum_us = out->timed ? (double)sum * g_us_per_tick * (double)out->count /
                                   (double)out->timed
                             : 0.0;
    out->max_us = (double)max * g_us_per_tick;
    out->p50_us = percentile(out, 0.50);
    out->p95_us = percentile(out, 0.95);
    out->p99_us = percentile(out, 0.99);
}


/* "name":value pairs; `first` tracks the comma. */
static void jkey(TextBuf *b, int *first, const char *k)
{
    if (!*first)
        tb_put(b, ",", 1);
    *first = 0;
    tb_json_string(b, k, strlen(k));
    tb_put(b, ":", 1);
}

static void ju64(TextBuf *b, int *first, const char *k, uint64_t v)
{
    jkey(b, first, k);
    tb_printf(b, "%llu", (unsigned long long)v);
}

static void jdbl(TextBuf *b, int *first, const char *k, double v)
{
    jkey(b, first, k);
    if (!isfinite(v))
        v = 0.0;
    tb_printf(b, "%.6g", v);
}

static void jbool(TextBuf *b, int *first, const char *k, int v)
{
    jkey(b, first, k);
    tb_put(b, v ? "true" : "false", v ? 4 : 5);
}

static void jstr(TextBuf *b, int *first, const char *k, const char *v)
{
    jkey(b, first, k);
    tb_json_string(b, v, strlen(v));
}

/* ---- walking the catalog ------------------------------------------------------------ */

static void count_page(Pgno pg, void *arg)
{
    (void)pg;
    (*(uint64_t *)arg)++;
}

/* Deep mode: the pages of a tree (by walking and checking it: btree_check)
 * and its longest key (a cursor walk).  O(size of the tree). */
static int tree_walk(PagerTxn *pt, const PagerRoot *root, uint64_t *pages, uint64_t *longest)
{
    *pages = *longest = 0;
    if (!root->root.pgno)
        return BLAZEDB_OK;
    int rc = btree_check(pt, root, count_page, pages);
    if (rc)
        return rc;
    PagerRoot r = *root;
    BtCursor *c;
    if ((rc = btc_open(pt, &r, &c)))
        return rc;
    for (rc = btc_first(c); rc == BLAZEDB_OK; rc = btc_next(c)) {
        const void *k;
        size_t kl;
        if ((rc = btc_key(c, &k, &kl)))
            break;
        if (kl > *longest)
            *longest = kl;
    }
    btc_close(c);
    return rc == BLAZEDB_NOT_FOUND ? BLAZEDB_OK : rc;
}

typedef struct {
    PagerTxn *pt;
    int deep;
    TextBuf *b;                     /* NULL: facts only */
    MonFacts *f;
    uint64_t ncoll;
    int first;
} Walk;

static void name_copy(char dst[256], const char *s, size_t len)
{
    if (len > 255)
        len = 255;
    memcpy(dst, s, len);
    dst[len] = 0;
}

static int coll_cb(const char *name, size_t len, const CatColl *c, void *arg)
{
    Walk *w = arg;
    MonFacts *f = w->f;
    uint64_t docs = c->docs.count >= c->deleted ? c->docs.count - c->deleted : 0;
    w->ncoll++;
    IdxDef *defs = NULL;
    size_t n = 0;
    int rc = BLAZEDB_OK;
    if (c->flags & CAT_F_HAS_INDEXES) {
        if ((rc = idx_list(w->pt, c->id, &defs, &n)))
            return rc;
    }
    if (c->docs.count > f->most_docs || !f->coll_most_docs[0]) {
        f->most_docs = c->docs.count;
        name_copy(f->coll_most_docs, name, len);
    }
    if (n > f->most_indexes) {
        f->most_indexes = n;
        name_copy(f->coll_most_indexes, name, len);
    }
    uint64_t pages = 0, longest = 0;
    if (w->deep) {
        if ((rc = tree_walk(w->pt, &c->docs, &pages, &longest)))
            goto out;
        if (longest > f->longest_id) {
            f->longest_id = longest;
            name_copy(f->coll_longest_id, name, len);
        }
    }
    TextBuf *b = w->b;
    int fc = 1;
    if (b) {
        if (!w->first)
            tb_put(b, ",", 1);
        w->first = 0;
        tb_put(b, "{", 1);
        jkey(b, &fc, "name");
        tb_json_string(b, name, len);
        ju64(b, &fc, "documents", docs);
        ju64(b, &fc, "soft_deleted", c->deleted);
        ju64(b, &fc, "bytes", c->bytes);
        jbool(b, &fc, "timestamps", !(c->flags & CAT_F_NO_TIMESTAMPS));
        if (w->deep) {
            ju64(b, &fc, "pages", pages);
            ju64(b, &fc, "longest_id_bytes", longest);
        }
        jkey(b, &fc, "indexes");
        tb_put(b, "[", 1);
    }
    for (size_t i = 0; i < n; i++) {
        const IdxDef *d = &defs[i];
        uint64_t ip = 0, il = 0;
        if (w->deep) {
            if ((rc = tree_walk(w->pt, &d->root, &ip, &il)))
                goto out;
            if (il > f->longest_index_key) {
                f->longest_index_key = il;
                name_copy(f->index_longest_key, d->name, strlen(d->name));
            }
        }
        if (b) {
            int fi = 1;
            tb_put(b, i ? ",{" : "{", i ? 2 : 1);
            jstr(b, &fi, "name", d->name);
            ju64(b, &fi, "entries", d->root.count);
            ju64(b, &fi, "fields", d->nfields);
            jbool(b, &fi, "unique", (d->flags & IDX_F_UNIQUE) != 0);
            jbool(b, &fi, "partial", d->where != NULL);
            if (w->deep) {
                ju64(b, &fi, "pages", ip);
                ju64(b, &fi, "longest_key_bytes", il);
            }
            tb_put(b, "}", 1);
        }
    }
    if (b)
        tb_put(b, "]}", 2);
out:
    idx_defs_free(defs, n);
    return rc;
}

/* Fills the facts the health rules need (and, with b, the "collections"
 * array of the metrics).  Returns OK, or the error that stopped the walk
 * (also noted in f->read_error). */
static int gather(BlazeDB *db, int deep, MonFacts *f, TextBuf *b, PagerStats *ps, uint64_t *ncoll,
                  uint64_t *last_txn)
{
    memset(f, 0, sizeof *f);
    Pager *p = db_pager(db);
    pager_get_stats(p, ps);
    f->failed = ps->failed;
    uint32_t epoch = 0;
    if (pager_key_state(p, &epoch, &f->rekeying) != BLAZEDB_OK)
        f->rekeying = 0; /* a header read error shows up below as well */
    f->page_size = pager_page_size(p);
    f->max_pages = PAGER_MAX_PGNO;
    f->wal_pages = ps->wal_pages;
    f->wal_frames = ps->wal_frames;
    f->autockpt = ps->autockpt;
    f->max_key = db_max_key(db);
    f->deep = deep;
    PagerTxn *pt;
    int rc = pager_begin(p, 0, &pt);
    if (rc) {
        f->read_error = rc;
        snprintf(f->read_error_msg, sizeof f->read_error_msg, "%s", pager_errmsg(p));
        return rc;
    }
    PagerMeta *m = pager_txn_meta(pt);
    f->pages = m->npages;
    f->free_pages = m->free_pages;
    if (last_txn)
        *last_txn = m->txnid;
    Walk w = {pt, deep, b, f, 0, 1};
    if (b)
        tb_put(b, "[", 1);
    rc = cat_each(pt, coll_cb, &w);
    if (b)
        tb_put(b, "]", 1);
    if (rc) {
        f->read_error = rc;
        snprintf(f->read_error_msg, sizeof f->read_error_msg, "%s", pager_errmsg(p));
    }
    if (ncoll)
        *ncoll = w.ncoll;
    pager_commit(pt);
    return rc;
}

/* ---- metrics ----------------------------------------------------------------------------- */

BlazeDBResult blazedb_metrics_json(BlazeDB *db, unsigned flags, char **json)
{
    if (json)
        *json = NULL;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!json)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "json is NULL");
    if (flags & ~BLAZEDB_METRICS_DEEP)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown metrics flags 0x%x", flags);
    BlazeDBStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    BlazeDBResult rc = blazedb_stats(db, &st);
    if (rc)
        return rc;
    Monitor *m = db_monitor(db);

    /* the collections first (they also give the facts), into their own buffer */
    TextBuf cb = {0};
    MonFacts f;
    PagerStats ps;
    uint64_t ncoll = 0;
    rc = (BlazeDBResult)gather(db, (flags & BLAZEDB_METRICS_DEEP) != 0, &f, &cb, &ps, &ncoll,
                               NULL);
    if (rc) {
        free(cb.p);
        return rc;
    }

    TextBuf b = {0};
    int fr = 1, fs;
    tb_put(&b, "{", 1);
    ju64(&b, &fr, "version", 1);
    jstr(&b, &fr, "library", blazedb_version());
    jdbl(&b, &fr, "uptime_s", (double)(mono_ns() - m->opened_ns) / 1e9);
    jstr(&b, &fr, "clock", mon_clock_tsc ? "tsc" : "monotonic");

    jkey(&b, &fr, "counters");
    fs = 1;
    tb_put(&b, "{", 1);
    ju64(&b, &fs, "reads", st.reads);
    ju64(&b, &fs, "writes", st.writes);
    ju64(&b, &fs, "commits", st.commits);
    ju64(&b, &fs, "rollbacks", st.rollbacks);
    ju64(&b, &fs, "cache_hits", st.cache_hits);
    ju64(&b, &fs, "cache_misses", st.cache_misses);
    uint64_t lookups = st.cache_hits + st.cache_misses;
    jdbl(&b, &fs, "cache_hit_ratio", lookups ? (double)st.cache_hits / (double)lookups : 0.0);
    ju64(&b, &fs, "pages_read", st.pages_read);
    ju64(&b, &fs, "pages_written", st.pages_written);
    ju64(&b, &fs, "bytes_read", st.pages_read * st.page_size);
    ju64(&b, &fs, "bytes_written", st.bytes_written);
    ju64(&b, &fs, "fsyncs", st.syncs);
    ju64(&b, &fs, "checkpoints", st.checkpoints);
    ju64(&b, &fs, "lock_waits", st.lock_waits);
    ju64(&b, &fs, "lock_wait_us", ps.lock_wait_us);
    tb_put(&b, "}", 1);

    jkey(&b, &fr, "wal");
    fs = 1;
    tb_put(&b, "{", 1);
    ju64(&b, &fs, "frames", ps.wal_frames);
    ju64(&b, &fs, "pages_not_checkpointed", ps.wal_pages);
    ju64(&b, &fs, "bytes", ps.wal_frames * f.page_size);
    ju64(&b, &fs, "file_bytes", ps.wal_file_bytes);
    if (ps.autockpt == UINT32_MAX)
        jstr(&b, &fs, "autocheckpoint_pages", "off");
    else
        ju64(&b, &fs, "autocheckpoint_pages", ps.autockpt);
    tb_put(&b, "}", 1);

    jkey(&b, &fr, "database");
    fs = 1;
    tb_put(&b, "{", 1);
    ju64(&b, &fs, "file_bytes", ps.db_file_bytes);
    ju64(&b, &fs, "page_size", f.page_size);
    ju64(&b, &fs, "pages", f.pages);
    uint64_t reserved = PAGER_FIRST_DATA_PGNO;
    uint64_t used = f.pages > f.free_pages + reserved ? f.pages - f.free_pages - reserved : 0;
    ju64(&b, &fs, "pages_used", used);
    ju64(&b, &fs, "pages_free", f.free_pages);
    jdbl(&b, &fs, "free_ratio", f.pages ? (double)f.free_pages / (double)f.pages : 0.0);
    ju64(&b, &fs, "max_pages", f.max_pages);
    ju64(&b, &fs, "max_bytes", f.max_pages * f.page_size);
    jdbl(&b, &fs, "size_ratio_of_max", (double)f.pages / (double)f.max_pages);
    ju64(&b, &fs, "max_key_bytes", f.max_key);
    ju64(&b, &fs, "kv_keys", st.keys);
    ju64(&b, &fs, "collections", ncoll);
    ju64(&b, &fs, "last_txn_id", st.last_txn_id);
    jbool(&b, &fs, "read_only", pager_is_readonly(db_pager(db)));
    jbool(&b, &fs, "failed", f.failed);
    tb_put(&b, "}", 1);

    jkey(&b, &fr, "latency");
    fs = 1;
    tb_put(&b, "{", 1);
    for (int op = 0; op < MON_NOPS; op++) {
        MonHistSnapshot s;
        mon_snapshot(m, (MonOp)op, &s);
        jkey(&b, &fs, op_names[op]);
        int fh = 1;
        tb_put(&b, "{", 1);
        ju64(&b, &fh, "count", s.count);
        ju64(&b, &fh, "errors", s.errors);
        ju64(&b, &fh, "timed", s.timed);
        jdbl(&b, &fh, "sum_us", s.sum_us);
        jdbl(&b, &fh, "mean_us", s.count ? s.sum_us / (double)s.count : 0.0);
        jdbl(&b, &fh, "max_us", s.max_us);
        jdbl(&b, &fh, "p50_us", s.p50_us);
        jdbl(&b, &fh, "p95_us", s.p95_us);
        jdbl(&b, &fh, "p99_us", s.p99_us);
        /* non-empty buckets as [upper bound in µs, count] */
        jkey(&b, &fh, "buckets");
        tb_put(&b, "[", 1);
        int any = 0;
        for (int k = 0; k < MON_BUCKETS; k++) {
            if (!s.buckets[k])
                continue;
            tb_printf(&b, "%s[%.6g,%llu]", any ? "," : "",
                       k == MON_BUCKETS - 1 ? 1e300 : mon_bucket_upper_us(k),
                       (unsigned long long)s.buckets[k]);
            any = 1;
        }
        tb_put(&b, "]}", 2);
    }
    tb_put(&b, "}", 1);

    jkey(&b, &fr, "collections");
    tb_put(&b, cb.p ? cb.p : "[]", cb.p ? cb.n : 2);
    free(cb.p);
    tb_put(&b, "}", 1);
    if (b.oom || cb.oom) {
        free(b.p);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    *json = b.p;
    return BLAZEDB_OK;
}

/* ---- health --------------------------------------------------------------------------------- */

void blazedb_health_options_init(BlazeDBHealthOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->free_ratio_pct = 25;
    o->free_min_bytes = 1u << 20;
    o->wal_warn_bytes = 0;
    o->limit_pct = 80;
    o->max_indexes = 16;
}

static MonIssue *issue(MonIssue *out, size_t *n, int sev, const char *code)
{
    if (*n >= MON_MAX_ISSUES)
        return NULL;
    MonIssue *i = &out[(*n)++];
    memset(i, 0, sizeof *i);
    i->severity = sev;
    snprintf(i->code, sizeof i->code, "%s", code);
    return i;
}

static double mib(uint64_t bytes) { return (double)bytes / 1048576.0; }

/* The log size past which the report warns. */
static uint64_t wal_threshold(const MonFacts *f, const BlazeDBHealthOptions *o)
{
    if (o->wal_warn_bytes)
        return o->wal_warn_bytes;
    uint64_t t = 64ull << 20;
    if (f->autockpt != UINT32_MAX) {
        uint64_t a = 4ull * f->autockpt * f->page_size;
        if (a > t)
            t = a;
    }
    return t;
}

size_t mon_health_eval(const MonFacts *f, const BlazeDBHealthOptions *opts,
                       MonIssue out[MON_MAX_ISSUES], int *status)
{
    BlazeDBHealthOptions o;
    blazedb_health_options_init(&o);
    if (opts) {
        size_t sz = opts->struct_size < sizeof o ? opts->struct_size : sizeof o;
        memcpy(&o, opts, sz);
        o.struct_size = sizeof o;
        if (!o.free_ratio_pct)
            o.free_ratio_pct = 25;
        if (!o.limit_pct || o.limit_pct > 100)
            o.limit_pct = 80;
        if (!o.max_indexes)
            o.max_indexes = 16;
    }
    size_t n = 0;
    MonIssue *i;
    if (f->failed && (i = issue(out, &n, BLAZEDB_HEALTH_ERROR, "failed"))) {
        snprintf(i->reason, sizeof i->reason,
                 "an earlier I/O error (a failed log sync) made this handle refuse writes; "
                 "nothing committed is lost");
        snprintf(i->action, sizeof i->action,
                 "close the handle and reopen the database; check the disk (free space, "
                 "errors in the system log) first");
    }
    if (f->read_error && (i = issue(out, &n, BLAZEDB_HEALTH_ERROR, "read_error"))) {
        snprintf(i->reason, sizeof i->reason, "reading the database failed (%s): %s",
                 blazedb_strerror((BlazeDBResult)f->read_error), f->read_error_msg);
        snprintf(i->action, sizeof i->action,
                 "run the integrity check (blazedb_check); if it finds damage, restore from a "
                 "backup or salvage with blazedb_repair");
    }
    if (f->rekeying && (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "reencryption_unfinished"))) {
        snprintf(i->reason, sizeof i->reason,
                 "a re-encryption under a new data key was started and has not finished "
                 "(cancelled, interrupted, or held back by an old read transaction): pages "
                 "may still be under the old key");
        snprintf(i->action, sizeof i->action,
                 "run the re-encryption again (blazedb_reencrypt, or blazedb reencrypt DB); "
                 "it resumes where it stopped");
    }
    /* free space: only when it is a meaningful amount */
    uint64_t free_bytes = f->free_pages * f->page_size;
    if (f->pages && f->free_pages * 100 > (uint64_t)o.free_ratio_pct * f->pages &&
        free_bytes >= o.free_min_bytes && (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "free_pages"))) {
        snprintf(i->reason, sizeof i->reason,
                 "%.0f%% of the database's pages are free (%llu of %llu, %.1f MiB; threshold "
                 "%u%%)",
                 100.0 * (double)f->free_pages / (double)f->pages,
                 (unsigned long long)f->free_pages, (unsigned long long)f->pages, mib(free_bytes),
                 o.free_ratio_pct);
        snprintf(i->action, sizeof i->action,
                 "vacuum the database (blazedb_vacuum) to return %.1f MiB to the file system; "
                 "the pages are reused by later writes meanwhile",
                 mib(free_bytes));
    }
    /* the log */
    uint64_t wt = wal_threshold(f, &o);
    uint64_t wal_live = f->wal_pages * f->page_size, wal_all = f->wal_frames * f->page_size;
    if (wal_live > wt && (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "wal_size"))) {
        snprintf(i->reason, sizeof i->reason,
                 "the write-ahead log holds %.1f MiB not yet checkpointed (threshold %.1f MiB)%s",
                 mib(wal_live), mib(wt),
                 f->autockpt == UINT32_MAX ? "; automatic checkpoints are off" : "");
        snprintf(i->action, sizeof i->action,
                 "run a checkpoint (blazedb_checkpoint)%s",
                 f->autockpt == UINT32_MAX
                     ? ", and schedule them regularly (wal_autocheckpoint is UINT32_MAX)"
                     : "");
    } else if (wal_all > wt && (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "wal_not_reset"))) {
        snprintf(i->reason, sizeof i->reason,
                 "the write-ahead log is %.1f MiB long (threshold %.1f MiB) although it was "
                 "checkpointed: a read transaction or iterator holds an old snapshot, so the "
                 "log cannot restart",
                 mib(wal_all), mib(wt));
        snprintf(i->action, sizeof i->action,
                 "end long-running read transactions, iterators and cursors, then run a "
                 "checkpoint");
    }
    /* limits */
    if (f->max_pages && f->pages * 100 >= (uint64_t)o.limit_pct * f->max_pages &&
        (i = issue(out, &n, f->pages + 1 >= f->max_pages ? BLAZEDB_HEALTH_ERROR
                                                          : BLAZEDB_HEALTH_WARN,
                   "database_size"))) {
        snprintf(i->reason, sizeof i->reason,
                 "the database uses %llu of its %llu pages (%.1f%%; %.1f of %.1f TiB); past "
                 "the last one writes fail with BLAZEDB_FULL",
                 (unsigned long long)f->pages, (unsigned long long)f->max_pages,
                 100.0 * (double)f->pages / (double)f->max_pages,
                 (double)f->pages * (double)f->page_size / 1099511627776.0,
                 (double)f->max_pages * (double)f->page_size / 1099511627776.0);
        snprintf(i->action, sizeof i->action,
                 "split the data over several databases (docs/LIMITS.md, \"When one database "
                 "is not enough\"); the largest collection is '%s' with %llu documents",
                 f->coll_most_docs, (unsigned long long)f->most_docs);
    }
    if (f->most_indexes > o.max_indexes &&
        (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "too_many_indexes"))) {
        snprintf(i->reason, sizeof i->reason,
                 "collection '%s' has %llu indexes (more than %u); every write updates each "
                 "of them",
                 f->coll_most_indexes, (unsigned long long)f->most_indexes, o.max_indexes);
        snprintf(i->action, sizeof i->action,
                 "drop the indexes no query uses (EXPLAIN shows which ones are chosen), or "
                 "combine them into compound indexes");
    }
    if (f->deep && f->max_key && f->longest_id * 100 >= (uint64_t)o.limit_pct * f->max_key &&
        (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "id_size"))) {
        snprintf(i->reason, sizeof i->reason,
                 "collection '%s' holds an id of %llu bytes; ids may have at most %llu",
                 f->coll_longest_id, (unsigned long long)f->longest_id,
                 (unsigned long long)f->max_key);
        snprintf(i->action, sizeof i->action,
                 "use shorter ids (a hash or a UUID of the natural key); longer ones fail with "
                 "BLAZEDB_TOO_BIG");
    }
    if (f->deep && f->max_key &&
        f->longest_index_key * 100 >= (uint64_t)o.limit_pct * f->max_key &&
        (i = issue(out, &n, BLAZEDB_HEALTH_WARN, "index_key_size"))) {
        snprintf(i->reason, sizeof i->reason,
                 "index '%s' holds an entry of %llu bytes; entries may have at most %llu "
                 "(indexed values plus the id)",
                 f->index_longest_key, (unsigned long long)f->longest_index_key,
                 (unsigned long long)f->max_key);
        snprintf(i->action, sizeof i->action,
                 "index a shorter field (or a prefix or hash of it), or shorten the ids; "
                 "documents whose entry is too long fail with BLAZEDB_TOO_BIG");
    }
    int worst = BLAZEDB_HEALTH_OK;
    for (size_t k = 0; k < n; k++)
        if (out[k].severity > worst)
            worst = out[k].severity;
    *status = worst;
    return n;
}

static const char *sev_name(int s)
{
    return s == BLAZEDB_HEALTH_ERROR ? "error" : s == BLAZEDB_HEALTH_WARN ? "warn" : "ok";
}

BlazeDBResult blazedb_health(BlazeDB *db, const BlazeDBHealthOptions *opts, unsigned flags,
                             char **report, BlazeDBHealthStatus *status)
{
    if (report)
        *report = NULL;
    if (status)
        *status = BLAZEDB_HEALTH_ERROR;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!status)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "status is NULL");
    if (flags & ~(BLAZEDB_HEALTH_JSON | BLAZEDB_HEALTH_DEEP))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown health flags 0x%x", flags);
    if (opts && (opts->struct_size < sizeof(uint32_t) * 2 || opts->struct_size > sizeof *opts))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "options.struct_size is %u; initialise with "
                        "blazedb_health_options_init",
                        opts->struct_size);
    MonFacts f;
    PagerStats ps;
    /* a failed read is a finding of the report, not a failure of the call */
    int rc = gather(db, (flags & BLAZEDB_HEALTH_DEEP) != 0, &f, NULL, &ps, NULL, NULL);
    if (rc == BLAZEDB_NOMEM)
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    MonIssue iss[MON_MAX_ISSUES];
    int st;
    size_t n = mon_health_eval(&f, opts, iss, &st);
    *status = (BlazeDBHealthStatus)st;
    if (!report)
        return BLAZEDB_OK;
    TextBuf b = {0};
    if (flags & BLAZEDB_HEALTH_JSON) {
        int fr = 1;
        tb_put(&b, "{", 1);
        jstr(&b, &fr, "status", sev_name(st));
        jkey(&b, &fr, "issues");
        tb_put(&b, "[", 1);
        for (size_t k = 0; k < n; k++) {
            int fi = 1;
            tb_put(&b, k ? ",{" : "{", k ? 2 : 1);
            jstr(&b, &fi, "severity", sev_name(iss[k].severity));
            jstr(&b, &fi, "code", iss[k].code);
            jstr(&b, &fi, "reason", iss[k].reason);
            jstr(&b, &fi, "action", iss[k].action);
            tb_put(&b, "}", 1);
        }
        tb_put(&b, "]", 1);
        jkey(&b, &fr, "checked");
        int fc = 1;
        tb_put(&b, "{", 1);
        ju64(&b, &fc, "pages", f.pages);
        ju64(&b, &fc, "free_pages", f.free_pages);
        ju64(&b, &fc, "page_size", f.page_size);
        ju64(&b, &fc, "wal_pages_not_checkpointed", f.wal_pages);
        ju64(&b, &fc, "wal_frames", f.wal_frames);
        ju64(&b, &fc, "max_pages", f.max_pages);
        ju64(&b, &fc, "max_key_bytes", f.max_key);
        ju64(&b, &fc, "most_indexes", f.most_indexes);
        jbool(&b, &fc, "deep", f.deep);
        if (f.deep) {
            ju64(&b, &fc, "longest_id_bytes", f.longest_id);
            ju64(&b, &fc, "longest_index_key_bytes", f.longest_index_key);
        }
        tb_put(&b, "}}", 2);
    } else {
        tb_printf(&b, "status: %s\n", sev_name(st));
        if (!n)
            tb_printf(&b, "no issues (%llu pages, %llu free, log %llu pages)\n",
                       (unsigned long long)f.pages, (unsigned long long)f.free_pages,
                       (unsigned long long)f.wal_frames);
        for (size_t k = 0; k < n; k++) {
            tb_printf(&b, "%s: %s: %s\n", sev_name(iss[k].severity), iss[k].code,
                       iss[k].reason);
            tb_printf(&b, "  action: %s\n", iss[k].action);
        }
    }
    if (b.oom) {
        free(b.p);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    *report = b.p;
    return BLAZEDB_OK;
}
