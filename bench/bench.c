/*
 * bench.c — the storage-engine benchmark: the same workloads, in one run,
 * against BlazeDB (encrypted) and its peers, with BlazeDB's ratio to each.
 * Values are ~150-byte JSON documents keyed by random UUIDv4 strings; the
 * data is generated from a fixed seed, so every engine gets the same.
 *
 * Ratios: for throughput, blazedb / peer; for latency, peer / blazedb; in
 * both cases > 1 means BlazeDB is better.
 *
 * Usage: bench [--quick] [--runs K] [--engines a,b] [--workloads a,b]
 *              [--dir DIR] [--out FILE] [--sizes 1000,100000,1000000]
 *              [--doc-sizes 0,100000,1000000] [--cold-size-mb N]
 *
 * The document workloads (doc-*) live in docs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define KL BENCH_KEY_LEN
#define VL_MAX 200

const Engine *const bench_engines[] = {&engine_blazedb, &engine_sqlite_full,
                                       &engine_sqlite_normal, &engine_sqlcipher, &engine_lmdb};
#define NENG (int)(sizeof bench_engines / sizeof bench_engines[0])
const int bench_nengines = NENG;

int bench_quick;
int bench_runs = 1;
static int runs = 1;
static char base_dir[512], out_path[512] = "bench/RESULTS.md";
static char engines_arg[256], workloads_arg[256];
static size_t sizes[8] = {1000, 100000, 1000000};
static int nsizes = 3;
static size_t cold_mb = 100;
FILE *bench_report;

/* ---- data --------------------------------------------------------------- */

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

char *bench_make_keys(size_t n, uint64_t seed)
{
    rng = seed;
    char *keys = malloc(n * KL + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t a = next_rand(), b = next_rand();
        char buf[KL + 1];
        snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)a,
                 (unsigned)(a >> 32) & 0xffff, (unsigned)(a >> 48) & 0xfff,
                 (unsigned)(0x8000 | (b & 0x3fff)), (unsigned long long)(b >> 16));
        memcpy(keys + i * KL, buf, KL);
    }
    return keys;
}

static char doc[VL_MAX];
static size_t doc_len;
static void make_doc(void)
{
    doc_len = (size_t)snprintf(doc, sizeof doc,
                               "{\"id\":\"3f2c9a1e-7b4d-4c2a-9e1f-5a6b7c8d9e0f\",\"name\":\"Ada "
                               "Lovelace\",\"email\":\"ada@example.org\",\"age\":36,"
                               "\"city\":\"London\",\"score\":98.5,\"active\":true}");
}

/* ---- helpers ------------------------------------------------------------ */

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void bench_fresh_dir(char *dir, size_t len, const char *eng)
{
    static int seq;
    snprintf(dir, len, "%s/%s-%d", base_dir, eng, seq++);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        bench_die("cannot create %s", dir);
}

void bench_remove_dir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Whether the comma-separated `list` names `name` (all when empty); an
 * item ending in '*' names every name that starts with the rest ("doc-*"). */
static int selected(const char *list, const char *name)
{
    if (!list[0])
        return 1;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n > 0 && p[n - 1] == '*' ? strncmp(name, p, n - 1) == 0
                                     : strlen(name) == n && strncmp(name, p, n) == 0)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

static void load(const Engine *e, void *h, const char *keys, size_t n)
{
    for (size_t i = 0; i < n; i += 1000) {
        size_t m = n - i < 1000 ? n - i : 1000;
        if (e->put_batch(h, keys + i * KL, KL, m, doc, doc_len))
            bench_die("%s: batch put failed", e->name);
    }
}

/* ---- results table -------------------------------------------------------- */

static BenchRow rows[NENG];
static int nrows;

static void table(const char *title, const char *unit, int has_lat)
{
    char line[256];
    (void)title; /* the heading was written before the runs (bench_run) */
    printf("\n");
    fprintf(bench_report, "\n");
    const BenchRow *bz = NULL;
    for (int i = 0; i < nrows; i++)
        if (rows[i].ok && strcmp(rows[i].engine, "blazedb") == 0)
            bz = &rows[i];
    snprintf(line, sizeof line, "| engine | %s |%s blazedb ratio |", unit,
             has_lat ? " p50 µs | p99 µs |" : "");
    printf("%s\n", line);
    fprintf(bench_report, "%s\n|---|---:|%s---:|\n", line, has_lat ? "---:|---:|" : "");
    for (int i = 0; i < nrows; i++) {
        const BenchRow *r = &rows[i];
        char ratio[64] = "";
        if (!r->ok) {
            snprintf(line, sizeof line, "| %s | failed/unavailable |%s |", r->engine,
                     has_lat ? " | |" : "");
        } else {
            if (bz && r != bz && r->ops > 0) {
                int n = snprintf(ratio, sizeof ratio, "%.2fx", bz->ops / r->ops);
                if (has_lat && bz->p50 > 0 && r->p50 > 0)
                    snprintf(ratio + n, sizeof ratio - (size_t)n, " (p50 %.2fx)",
                             r->p50 / bz->p50);
            }
            if (has_lat)
                snprintf(line, sizeof line, "| %s | %.0f | %.1f | %.1f | %s |", r->engine,
                         r->ops, r->p50, r->p99, ratio);
            else
                snprintf(line, sizeof line, "| %s | %.0f | %s |", r->engine, r->ops, ratio);
        }
        printf("%s\n", line);
        fprintf(bench_report, "%s\n", line);
    }
    fflush(bench_report);
    fflush(stdout);
}

static void add_row(const char *engine, double ops, double p50, double p99, int ok)
{
    rows[nrows++] = (BenchRow){engine, ops, p50, p99, ok};
}

int bench_workload_selected(const char *name) { return selected(workloads_arg, name); }
int bench_engine_selected(const char *name) { return selected(engines_arg, name); }

void bench_line(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("  %s\n", buf);
    fprintf(bench_report, "- %s\n", buf);
}

void bench_run(const char *title, const char *unit, int has_lat, BenchKind kind, BenchFn fn)
{
    if (!selected(workloads_arg, title))
        return;
    /* the heading first, so the per-run lines land under it */
    printf("\n## %s\n\n", title);
    fprintf(bench_report, "\n### %s\n\n", title);
    nrows = 0;
    for (int i = 0; i < NENG; i++) {
        const Engine *e = bench_engines[i];
        if (!selected(engines_arg, e->name) || (kind == BENCH_DOCS && !e->doc))
            continue;
        BenchRow r[16];
        int good = 0;
        for (int k = 0; k < runs && k < 16; k++) {
            BenchRow x = {e->name, 0, 0, 0, 0};
            if (fn(e, &x) == 0) {
                x.ok = 1;
                r[good++] = x;
            }
        }
        if (!good) {
            add_row(e->name, 0, 0, 0, 0);
            continue;
        }
        /* median by ops */
        for (int a = 0; a < good; a++)
            for (int b = a + 1; b < good; b++)
                if (r[b].ops < r[a].ops) {
                    BenchRow t = r[a];
                    r[a] = r[b];
                    r[b] = t;
                }
        rows[nrows++] = r[good / 2];
    }
    table(title, unit, has_lat);
}

/* ---- workloads ------------------------------------------------------------ */

static int w_single_put(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 300 : 2000;
    char dir[600];
    bench_fresh_dir(dir, sizeof dir, e->name);
    void *h = e->open(dir);
    if (!h)
        return -1;
    char *keys = bench_make_keys(n, 1);
    double *lat = malloc(n * sizeof *lat), t0 = bench_now();
    for (size_t i = 0; i < n; i++) {
        double s = bench_now();
        if (e->put1(h, keys + i * KL, KL, doc, doc_len))
            bench_die("%s: put failed", e->name);
        lat[i] = (bench_now() - s) * 1e6;
    }
    double el = bench_now() - t0;
    int ok = e->get(h, keys + (n / 2) * KL, KL) == (long)doc_len;
    e->close(h);
    out->ops = (double)n / el;
    out->p50 = bench_pct(lat, n, 0.5);
    out->p99 = bench_pct(lat, n, 0.99);
    free(lat);
    free(keys);
    bench_remove_dir(dir);
    return ok ? 0 : -1;
}

typedef struct {
    const Engine *e;
    void *h;
    const char *keys;
    size_t n;
    volatile int *stop;
    long done;
    long reads;                 /* reader: read by the main thread meanwhile */
    int fail;
    volatile int *paused;       /* writer: idles while set (may be NULL) */
} Worker;

static void *writer_thread(void *arg)
{
    Worker *w = arg;
    while (!*w->stop) {
        if (w->paused && *w->paused) {
            usleep(100);
            continue;
        }
        size_t i = (size_t)w->done % w->n;
        if (w->e->put1(w->h, w->keys + i * KL, KL, doc, doc_len)) {
            w->fail = 1;
            break;
        }
        w->done++;
    }
    return NULL;
}

static int w_group_commit(const Engine *e, BenchRow *out)
{
    double secs = bench_quick ? 1.0 : 3.0;
    char dir[600];
    bench_fresh_dir(dir, sizeof dir, e->name);
    void *h = e->open(dir);
    if (!h)
        return -1;
    double rates[2];
    for (int nt = 1; nt <= 2; nt++) {
        volatile int stop = 0;
        Worker w[2];
        pthread_t th[2];
        for (int i = 0; i < nt; i++) {
            w[i] = (Worker){e, i == 0 ? h : e->open_more(h, dir), NULL, 5000, &stop, 0, 0, 0, NULL};
            char *k = bench_make_keys(5000, 100 + (uint64_t)i + 10 * (uint64_t)nt);
            w[i].keys = k;
            pthread_create(&th[i], NULL, writer_thread, &w[i]);
        }
        double t0 = bench_now();
        usleep((useconds_t)(secs * 1e6));
        stop = 1;
        long total = 0;
        int fail = 0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            total += w[i].done;
            fail |= w[i].fail;
            if (i > 0)
                e->close_more(h, w[i].h);
            free((void *)w[i].keys);
        }
        rates[nt - 1] = (double)total / (bench_now() - t0);
        if (fail) {
            e->close(h);
            bench_remove_dir(dir);
            return -1;
        }
    }
    e->close(h);
    bench_remove_dir(dir);
    out->ops = rates[1];
    out->p50 = 0;
    out->p99 = 0;
    printf("  %s: 1 thread %.0f commits/s, 2 threads %.0f commits/s (%.2fx)\n", e->name,
           rates[0], rates[1], rates[1] / rates[0]);
    fprintf(bench_report, "- %s: 1 thread %.0f commits/s, 2 threads %.0f commits/s (%.2fx)\n",
            e->name, rates[0], rates[1], rates[1] / rates[0]);
    return 0;
}

static int w_bulk(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 20000 : 100000;
    char dir[600];
    bench_fresh_dir(dir, sizeof dir, e->name);
    void *h = e->open(dir);
    if (!h)
        return -1;
    char *keys = bench_make_keys(n, 2);
    double t0 = bench_now();
    load(e, h, keys, n);
    double el = bench_now() - t0;
    int ok = e->get(h, keys + (n - 1) * KL, KL) == (long)doc_len;
    e->close(h);
    free(keys);
    bench_remove_dir(dir);
    out->ops = (double)n / el;
    return ok ? 0 : -1;
}

/* A loaded database shared by the read workloads of one engine. */
static int with_loaded(const Engine *e, size_t n, char *dir, size_t dlen, void **h, char **keys)
{
    bench_fresh_dir(dir, dlen, e->name);
    *h = e->open(dir);
    if (!*h)
        return -1;
    *keys = bench_make_keys(n, 3);
    load(e, *h, *keys, n);
    return 0;
}

static int w_point_get(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 20000 : 100000, ops = bench_quick ? 200000 : 1000000;
    char dir[600], *keys;
    void *h;
    if (with_loaded(e, n, dir, sizeof dir, &h, &keys))
        return -1;
    for (size_t i = 0; i < n; i++) /* warm */
        e->get(h, keys + i * KL, KL);
    size_t nlat = ops / 100;
    double *lat = malloc(nlat * sizeof *lat), t0 = bench_now();
    int ok = 1;
    rng = 77;
    for (size_t i = 0; i < ops; i++) {
        size_t j = (size_t)(next_rand() % n);
        if (i % 100 == 0) {
            double s = bench_now();
            ok &= e->get(h, keys + j * KL, KL) == (long)doc_len;
            lat[i / 100] = (bench_now() - s) * 1e6;
        } else {
            ok &= e->get(h, keys + j * KL, KL) == (long)doc_len;
        }
    }
    double el = bench_now() - t0;
    e->close(h);
    free(keys);
    bench_remove_dir(dir);
    out->ops = (double)ops / el;
    out->p50 = bench_pct(lat, nlat, 0.5);
    out->p99 = bench_pct(lat, nlat, 0.99);
    free(lat);
    return ok ? 0 : -1;
}

static int w_scan(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 20000 : 100000, scans = bench_quick ? 2000 : 20000;
    char dir[600], *keys;
    void *h;
    if (with_loaded(e, n, dir, sizeof dir, &h, &keys))
        return -1;
    rng = 99;
    long total = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < scans; i++)
        total += e->scan(h, keys + (next_rand() % n) * KL, KL, 100);
    double el = bench_now() - t0;
    e->close(h);
    free(keys);
    bench_remove_dir(dir);
    out->ops = (double)scans / el;
    printf("  %s: %.0f keys/s\n", e->name, (double)total / el);
    fprintf(bench_report, "- %s: %.0f keys/s\n", e->name, (double)total / el);
    return total > (long)scans * 50 ? 0 : -1;
}

static void drop_cache(const Engine *e, const char *dir)
{
    char files[4][512];
    int nf = e->files(dir, files, 4);
    for (int i = 0; i < nf; i++) {
        int fd = open(files[i], O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
}

static int w_cold_open(const Engine *e, BenchRow *out)
{
    size_t n = cold_mb * 1024 * 1024 / 200;
    if (bench_quick)
        n = 20000;
    char dir[600], *keys;
    void *h;
    if (with_loaded(e, n, dir, sizeof dir, &h, &keys))
        return -1;
    e->close(h);
    double best = 1e9;
    double *t = malloc(5 * sizeof *t);
    int ok = 1;
    for (int r = 0; r < 5; r++) {
        drop_cache(e, dir);
        double s = bench_now();
        void *h2 = e->open(dir);
        if (!h2) {
            ok = 0;
            break;
        }
        ok &= e->get(h2, keys + (n / 3) * KL, KL) == (long)doc_len;
        t[r] = (bench_now() - s) * 1e3;
        if (t[r] < best)
            best = t[r];
        e->close(h2);
    }
    free(keys);
    bench_remove_dir(dir);
    out->p50 = bench_pct(t, 5, 0.5) * 1000; /* µs */
    out->p99 = bench_pct(t, 5, 1.0) * 1000;
    out->ops = 1000.0 / bench_pct(t, 5, 0.5); /* opens per second */
    free(t);
    return ok ? 0 : -1;
}

static void *reader_thread(void *arg)
{
    Worker *w = arg;
    uint64_t x = 12345;
    while (!*w->stop) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (w->e->get(w->h, w->keys + (x % w->n) * KL, KL) != (long)doc_len) {
            w->fail = 1;
            break;
        }
        __atomic_store_n(&w->reads, w->reads + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* One reader thread runs throughout; a writer thread committing durably
 * is paused and resumed in turn, in phases of a sixth of the time (alone,
 * with, alone, ...), so that the machine's drift (it is shared) weighs on
 * both rates alike.  The reader's rate in the writer's phases over its
 * rate in the others is the share reported. */
static int w_reader_writer(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 20000 : 100000;
    double secs = bench_quick ? 1.0 : 3.0;
    enum { PHASES = 6 };
    char dir[600], *keys;
    void *h;
    if (with_loaded(e, n, dir, sizeof dir, &h, &keys))
        return -1;
    volatile int stop = 0, paused = 1;
    Worker r = {e, e->open_more(h, dir), keys, n, &stop, 0, 0, 0, NULL};
    char *wkeys = bench_make_keys(5000, 55);
    Worker w = {e, h, wkeys, 5000, &stop, 0, 0, 0, &paused};
    pthread_t tr, tw;
    pthread_create(&tr, NULL, reader_thread, &r);
    pthread_create(&tw, NULL, writer_thread, &w);
    double t_alone = 0, t_with = 0;
    long n_alone = 0, n_with = 0;
    usleep(100000); /* the reader gets going */
    for (int ph = 0; ph < PHASES; ph++) {
        int with = ph % 2;
        paused = !with;
        long r0 = __atomic_load_n(&r.reads, __ATOMIC_RELAXED);
        double t0 = bench_now();
        usleep((useconds_t)(secs / PHASES * 1e6));
        long got = __atomic_load_n(&r.reads, __ATOMIC_RELAXED) - r0;
        double el = bench_now() - t0;
        if (with) {
            n_with += got;
            t_with += el;
        } else {
            n_alone += got;
            t_alone += el;
        }
    }
    stop = 1;
    pthread_join(tr, NULL);
    pthread_join(tw, NULL);
    e->close_more(h, r.h);
    free(wkeys);
    e->close(h);
    free(keys);
    bench_remove_dir(dir);
    if (r.fail || w.fail || t_alone <= 0 || t_with <= 0)
        return -1;
    double alone = (double)n_alone / t_alone, with = (double)n_with / t_with;
    out->ops = with;
    printf("  %s: reader alone %.0f gets/s, with a writer %.0f gets/s (%.0f%%; writer %ld "
           "commits)\n", e->name, alone, with, with / alone * 100, w.done);
    fprintf(bench_report,
            "- %s: reader alone %.0f gets/s, with a writer %.0f gets/s (%.0f%%; writer %ld "
            "commits)\n", e->name, alone, with, with / alone * 100, w.done);
    return 0;
}

static int w_latency_sizes(const Engine *e, BenchRow *out)
{
    char dir[600];
    bench_fresh_dir(dir, sizeof dir, e->name);
    void *h = e->open(dir);
    if (!h)
        return -1;
    size_t loaded = 0;
    char line[512];
    int len = snprintf(line, sizeof line, "  %s:", e->name);
    double first = 0, last = 0;
    for (int s = 0; s < nsizes; s++) {
        size_t target = sizes[s];
        if (target > loaded) {
            char *k = bench_make_keys(target - loaded, 1000 + (uint64_t)s);
            load(e, h, k, target - loaded);
            free(k);
            loaded = target;
        }
        size_t m = bench_quick ? 200 : 1000;
        char *k = bench_make_keys(m, 5000 + (uint64_t)s);
        double *lat = malloc(m * sizeof *lat);
        for (size_t i = 0; i < m; i++) {
            double t0 = bench_now();
            if (e->put1(h, k + i * KL, KL, doc, doc_len))
                bench_die("%s: put failed", e->name);
            lat[i] = (bench_now() - t0) * 1e6;
        }
        loaded += m;
        double p50 = bench_pct(lat, m, 0.5), p99 = bench_pct(lat, m, 0.99);
        if (s == 0)
            first = p50;
        last = p50;
        len += snprintf(line + len, sizeof line - (size_t)len, " %zu keys p50 %.0f p99 %.0f µs;",
                        target, p50, p99);
        free(lat);
        free(k);
    }
    e->close(h);
    bench_remove_dir(dir);
    printf("%s\n", line);
    fprintf(bench_report, "-%s growth p50 %.2fx\n", line + 1, last / first);
    out->ops = 1e6 / last;
    return 0;
}

/* ---- machine description ----------------------------------------------------- */

static void describe_machine(void)
{
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(model, sizeof model, "%s", c + 2);
                model[strcspn(model, "\n")] = 0;
            }
            break;
        }
    if (f)
        fclose(f);
    long mem_kb = 0;
    f = fopen("/proc/meminfo", "r");
    if (f) {
        if (fscanf(f, "MemTotal: %ld kB", &mem_kb) != 1)
            mem_kb = 0;
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    struct statfs sf;
    const char *fs = "unknown";
    if (statfs(base_dir, &sf) == 0)
        fs = sf.f_type == 0xEF53 ? "ext4" : sf.f_type == 0x01021994 ? "tmpfs"
           : sf.f_type == 0x58465342 ? "xfs" : sf.f_type == 0x9123683E ? "btrfs" : "other";
    time_t t = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    fprintf(bench_report, "# Benchmark results\n\n");
    fprintf(bench_report, "Produced by `make bench` (`build/bench/bench%s`) on %s.\n\n",
            bench_quick ? " --quick" : "", date);
    fprintf(bench_report, "- CPU: %s, %ld cores\n- memory: %.1f GiB\n- kernel: %s %s\n"
                    "- bench directory file system: %s (%s)\n- versions: %s\n"
                    "- runs per workload: %d (median reported)\n\n",
            model, sysconf(_SC_NPROCESSORS_ONLN), (double)mem_kb / 1048576.0, u.sysname,
            u.release, fs, base_dir, engines_versions(), runs);
    fprintf(bench_report,
            "Values: %zu-byte JSON documents; keys: random UUIDv4 strings (36 bytes). "
            "BlazeDB is encrypted (AES-256-GCM), durability FULL, key derivation set "
            "to its cheapest setting (excluded from timings). SQLite and SQLCipher "
            "use WAL mode and a `WITHOUT ROWID` table; LMDB is durable (default "
            "flags).\n\nRatio column: BlazeDB's throughput divided by the peer's "
            "(and, in brackets, the peer's p50 latency divided by BlazeDB's): above "
            "1 means BlazeDB is better.\n",
            doc_len);
    docs_describe(bench_report);
    printf("machine: %s, %ld cores, %s; %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), fs,
           engines_versions());
}

/*
 * The ceiling of any durable commit here: pwrite of `bytes` (overwriting
 * already-allocated blocks, as a preallocated log does) then fdatasync,
 * repeated for about a second.  No engine can commit durably faster than one
 * of these per commit.
 */
static double sync_floor(size_t bytes)
{
    char path[700];
    snprintf(path, sizeof path, "%s/sync-floor", base_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    char *buf = calloc(1, bytes);
    size_t slots = 256;
    for (size_t i = 0; i < slots; i++)
        if (pwrite(fd, buf, bytes, (off_t)(i * bytes)) != (ssize_t)bytes)
            slots = 0;
    fdatasync(fd);
    size_t n = 0;
    double t0 = bench_now(), el;
    do {
        buf[0] = (char)n;
        if (slots == 0 || pwrite(fd, buf, bytes, (off_t)((n % slots) * bytes)) != (ssize_t)bytes ||
            fdatasync(fd) != 0)
            break;
        n++;
    } while ((el = bench_now() - t0) < (bench_quick ? 0.5 : 1.5));
    el = bench_now() - t0;
    close(fd);
    unlink(path);
    free(buf);
    return n ? (double)n / el : 0;
}

static void report_sync_floor(void)
{
    static const size_t sz[] = {4096, 8192, 16384, 32768};
    printf("\n## fdatasync floor (pwrite over allocated blocks + fdatasync)\n\n");
    fprintf(bench_report, "\n### fdatasync floor\n\nThe ceiling of any durable commit on this "
                    "disk: pwrite of N bytes over already-allocated blocks, then "
                    "fdatasync (median of %d runs).\n\n| bytes per commit | syncs/s |\n"
                    "|---|---|\n", runs);
    for (size_t i = 0; i < sizeof sz / sizeof *sz; i++) {
        double r[16];
        int k = runs < 16 ? runs : 16;
        for (int j = 0; j < k; j++)
            r[j] = sync_floor(sz[i]);
        for (int a = 1; a < k; a++)
            for (int b = a; b > 0 && r[b] < r[b - 1]; b--) {
                double x = r[b];
                r[b] = r[b - 1];
                r[b - 1] = x;
            }
        printf("  %zu bytes: %.0f syncs/s\n", sz[i], r[k / 2]);
        fprintf(bench_report, "| %zu | %.0f |\n", sz[i], r[k / 2]);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            bench_quick = 1;
        else if (strcmp(a, "--runs") == 0 && v)
            runs = atoi(argv[++i]);
        else if (strcmp(a, "--engines") == 0 && v)
            snprintf(engines_arg, sizeof engines_arg, "%s", argv[++i]);
        else if (strcmp(a, "--workloads") == 0 && v)
            snprintf(workloads_arg, sizeof workloads_arg, "%s", argv[++i]);
        else if (strcmp(a, "--dir") == 0 && v)
            snprintf(base_dir, sizeof base_dir, "%s", argv[++i]);
        else if (strcmp(a, "--out") == 0 && v)
            snprintf(out_path, sizeof out_path, "%s", argv[++i]);
        else if (strcmp(a, "--cold-size-mb") == 0 && v)
            cold_mb = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--doc-sizes") == 0 && v)
            docs_set_sizes(argv[++i]);
        else if (strcmp(a, "--backup-size-mb") == 0 && v)
            backup_bench_set_size_mb((size_t)atol(argv[++i]));
        else if (strcmp(a, "--check-size-mb") == 0 && v)
            check_bench_set_size_mb((size_t)atol(argv[++i]));
        else if (strcmp(a, "--sizes") == 0 && v) {
            nsizes = 0;
            char *s = strdup(argv[++i]), *save = NULL;
            for (char *tok = strtok_r(s, ",", &save); tok && nsizes < 8;
                 tok = strtok_r(NULL, ",", &save))
                sizes[nsizes++] = (size_t)atol(tok);
            free(s);
        } else
            bench_die("usage: bench [--quick] [--runs K] [--engines a,b] [--workloads a,b] "
                "[--dir DIR] [--out FILE] [--sizes n,n] [--doc-sizes n,n] "
                "[--cold-size-mb N] [--backup-size-mb N] [--check-size-mb N]\n"
                "workloads: sync-floor single-put group-commit bulk-put point-get range-scan "
                "cold-open reader-writer put-latency doc-insert doc-insert-many doc-get "
                "doc-get-json doc-patch doc-delete doc-txn-mixed doc-insert-latency "
                "doc-payload backup backup-writers check reencrypt sql-eq-index sql-range-sort-limit "
                "sql-scan-filter sql-count-index sql-group-by sql-join sql-point-id export-ndjson "
                "import-ndjson (an item "
                "ending in '*' selects by prefix: doc-*, sql-*)");
    }
    if (runs < 1)
        runs = 1;
    bench_runs = runs;
    if (bench_quick && nsizes == 3 && sizes[2] == 1000000)
        nsizes = 2;
    docs_configure();
    int own_dir = !base_dir[0];
    if (own_dir) {
        snprintf(base_dir, sizeof base_dir, "/tmp/blazedb-bench-XXXXXX");
        if (!mkdtemp(base_dir))
            bench_die("mkdtemp: %s", strerror(errno));
    }
    bench_report = fopen(out_path, "w");
    if (!bench_report)
        bench_die("cannot write %s: %s", out_path, strerror(errno));
    make_doc();
    describe_machine();
    if (selected(workloads_arg, "sync-floor"))
        report_sync_floor();
    bench_run("single-put", "durable puts/s", 1, BENCH_KV, w_single_put);
    bench_run("group-commit", "commits/s, 2 threads", 0, BENCH_KV, w_group_commit);
    bench_run("bulk-put", "keys/s (batches of 1000)", 0, BENCH_KV, w_bulk);
    bench_run("point-get", "gets/s (cached)", 1, BENCH_KV, w_point_get);
    bench_run("range-scan", "scans/s of 100 keys", 0, BENCH_KV, w_scan);
    bench_run("cold-open", "opens/s (open + first get, cache dropped)", 1, BENCH_KV, w_cold_open);
    bench_run("reader-writer", "reads/s with a writer", 0, BENCH_KV, w_reader_writer);
    bench_run("put-latency", "1/p50 at the largest size", 0, BENCH_KV, w_latency_sizes);
    docs_run();
    backup_bench_run();
    check_bench_run();
    ops_run();
    sql_run();
    fprintf(bench_report, "\nColumn notes: cold-open's latency columns are the median and "
                    "worst of 5 opens of a closed database after dropping its files "
                    "from the OS cache; put-latency's table is 1e6 / (p50 µs) at the "
                    "largest size, the lines above it give p50/p99 per size.\n");
    fclose(bench_report);
    if (own_dir)
        bench_remove_dir(base_dir);
    printf("\nwrote %s\n", out_path);
    return 0;
}
