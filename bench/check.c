/*
 * check.c — the integrity-check workload (BlazeDB only; src/tools/check.c):
 *
 *   check   a document database of --check-size-mb MiB (default 256):
 *           one collection of ~400-byte JSON documents with two indexes
 *           (one of them multikey), soft-deleted documents, and some byte-KV
 *           entries; full and quick blazedb_check in MB/s of database size
 *           (median of 3 runs; the target is a full check at
 *           >= 300 MB/s), and one blazedb_repair of the same file.
 *   reencrypt   the same database: blazedb_reencrypt (every page rewritten
 *           under a new data key, then the log copied home and the free
 *           pages wiped), in MB/s of database size, median of 3 runs; then
 *           once more while a writer thread puts 1 KiB values, with that
 *           writer's rate against its rate alone.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "blazedb.h"

#define PW "bench password"
#define RUNS 3

static size_t size_mb = 256;

void check_bench_set_size_mb(size_t mb)
{
    if (mb >= 4)
        size_mb = mb;
}

static BlazeDB *open_db(const char *path)
{
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o.kdf_iterations = 1;
    o.durability = BLAZEDB_DURABILITY_NORMAL;
    BlazeDB *db = NULL;
    if (blazedb_open_ex(path, PW, &o, &db) != BLAZEDB_OK)
        bench_die("open %s: %s", path, blazedb_errmsg(NULL));
    return db;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static double median(double *v, int n)
{
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && v[b] < v[b - 1]; b--) {
            double t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
    return v[n / 2];
}

static void load(const char *path)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                  "golf", "hotel", "india", "juliet", "kilo", "lima"};
    BlazeDB *db = open_db(path);
    if (blazedb_collection_create(db, NULL, "events", NULL) != BLAZEDB_OK)
        bench_die("create: %s", blazedb_errmsg(db));
    BlazeDBIndexField f1 = {"user", 0, 0}, f2 = {"tags", 0, 1};
    if (blazedb_index_create(db, NULL, "events", "by_user", &f1, 1, 0, NULL) != BLAZEDB_OK ||
        blazedb_index_create(db, NULL, "events", "by_tag", &f2, 1, 0, NULL) != BLAZEDB_OK)
        bench_die("index: %s", blazedb_errmsg(db));
    size_t n = size_mb * 1024 * 1024 / 700; /* documents, index entries and slack */
    double t0 = bench_now();
    char json[1024];
    BlazeDBDoc *docs[1000];
    for (size_t i = 0; i < n; i += 1000) {
        size_t m = n - i < 1000 ? n - i : 1000;
        for (size_t k = 0; k < m; k++) {
            uint64_t x = (i + k) * 0x9E3779B97F4A7C15ull + 1;
            int len = snprintf(json, sizeof json,
                               "{\"id\":\"e%09zu\",\"user\":%u,\"kind\":\"%s\",\"tags\":[\"%s\","
                               "\"%s\"],\"amount\":%u.%02u,\"text\":\"%s %s %s %s %s %s %s %s "
                               "%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s\"}",
                               i + k, (unsigned)(x >> 40) % 50000, words[x % 12],
                               words[(x >> 4) % 12], words[(x >> 8) % 12],
                               (unsigned)(x >> 20) % 10000, (unsigned)(x >> 50) % 100,
                               words[(x >> 1) % 12], words[(x >> 2) % 12], words[(x >> 3) % 12],
                               words[(x >> 5) % 12], words[(x >> 6) % 12], words[(x >> 7) % 12],
                               words[(x >> 9) % 12], words[(x >> 10) % 12], words[(x >> 11) % 12],
                               words[(x >> 12) % 12], words[(x >> 13) % 12],
                               words[(x >> 14) % 12], words[(x >> 15) % 12],
                               words[(x >> 16) % 12], words[(x >> 17) % 12],
                               words[(x >> 18) % 12], words[(x >> 19) % 12],
                               words[(x >> 21) % 12], words[(x >> 22) % 12],
                               words[(x >> 23) % 12], words[(x >> 24) % 12],
                               words[(x >> 25) % 12], words[(x >> 26) % 12],
                               words[(x >> 27) % 12], words[(x >> 28) % 12],
                               words[(x >> 29) % 12], words[(x >> 30) % 12],
                               words[(x >> 31) % 12]);
            if (blazedb_doc_from_json(json, (size_t)len, &docs[k]) != BLAZEDB_OK)
                bench_die("json: %s", blazedb_errmsg(NULL));
        }
        if (blazedb_insert_many(db, NULL, "events", docs, m) != BLAZEDB_OK)
            bench_die("insert: %s", blazedb_errmsg(db));
        for (size_t k = 0; k < m; k++)
            blazedb_doc_free(docs[k]);
    }
    for (size_t i = 0; i < n; i += 97) {
        char id[32];
        snprintf(id, sizeof id, "e%09zu", i);
        if (blazedb_soft_delete(db, NULL, "events", id) != BLAZEDB_OK)
            bench_die("soft delete: %s", blazedb_errmsg(db));
    }
    for (int i = 0; i < 1000; i++) {
        char k[32], v[200];
        snprintf(k, sizeof k, "key%06d", i);
        memset(v, 'a' + i % 26, sizeof v);
        if (blazedb_put2(db, k, strlen(k), v, sizeof v) != BLAZEDB_OK)
            bench_die("put: %s", blazedb_errmsg(db));
    }
    blazedb_checkpoint(db);
    blazedb_close(db);
    bench_line("database: %zu documents (~400 bytes, 2 indexes, 1%% soft-deleted), %.0f MiB, "
               "loaded in %.1f s",
               n, (double)file_size(path) / 1048576.0, bench_now() - t0);
}

static void w_check(const char *dir, const char *path)
{
    BlazeDB *db = open_db(path);
    BlazeDBStats st = {.struct_size = sizeof st};
    blazedb_stats(db, &st);
    double mb = (double)st.page_count * (double)st.page_size / 1e6;
    double tf[RUNS], tq[RUNS];
    for (int r = 0; r < RUNS; r++) {
        char *rep = NULL;
        double t0 = bench_now();
        if (blazedb_check(db, 0, NULL, NULL, &rep, NULL) != BLAZEDB_OK)
            bench_die("check: %s\n%s", blazedb_errmsg(db), rep ? rep : "");
        tf[r] = bench_now() - t0;
        blazedb_free(rep);
        t0 = bench_now();
        if (blazedb_check(db, BLAZEDB_CHECK_QUICK, NULL, NULL, NULL, NULL) != BLAZEDB_OK)
            bench_die("quick check: %s", blazedb_errmsg(db));
        tq[r] = bench_now() - t0;
    }
    blazedb_close(db);
    double f = median(tf, RUNS), q = median(tq, RUNS);
    bench_line("full check: %.0f MB/s of database size (%.0f MB in %.2f s; target >= 300)",
               mb / f, mb, f);
    bench_line("quick check: %.0f MB/s (%.2f s)", mb / q, q);
    char out[1100];
    snprintf(out, sizeof out, "%s/repaired.db", dir);
    double t0 = bench_now();
    if (blazedb_repair(path, PW, out, NULL, NULL, NULL) != BLAZEDB_OK)
        bench_die("repair: %s", blazedb_errmsg(NULL));
    double tr = bench_now() - t0;
    bench_line("repair of the undamaged database: %.0f MB/s (%.2f s)", mb / tr, tr);
}

typedef struct {
    BlazeDB *db;
    atomic_int stop;
    uint64_t puts;
} RkWriter;

static void *rk_writer(void *arg)
{
    RkWriter *w = arg;
    char v[1024];
    memset(v, 'w', sizeof v);
    while (!atomic_load(&w->stop)) {
        char k[32];
        snprintf(k, sizeof k, "rw%09llu", (unsigned long long)w->puts);
        if (blazedb_put2(w->db, k, strlen(k), v, sizeof v) != BLAZEDB_OK)
            bench_die("writer put: %s", blazedb_errmsg(w->db));
        w->puts++;
    }
    return NULL;
}

/* The writer alone for `secs` seconds: puts per second. */
static double writer_alone(BlazeDB *db, double secs)
{
    RkWriter w = {db, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, rk_writer, &w);
    double t0 = bench_now();
    while (bench_now() - t0 < secs)
        usleep(10000);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    return (double)w.puts / (bench_now() - t0);
}

static void w_reencrypt(const char *path)
{
    BlazeDB *db = open_db(path);
    BlazeDBStats st = {.struct_size = sizeof st};
    blazedb_stats(db, &st);
    double mb = (double)(st.page_count - st.free_pages) * (double)st.page_size / 1e6;
    double t[RUNS];
    uint64_t pages = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = bench_now();
        if (blazedb_reencrypt(db, NULL, &pages) != BLAZEDB_OK)
            bench_die("reencrypt: %s", blazedb_errmsg(db));
        t[r] = bench_now() - t0;
    }
    double m = median(t, RUNS);
    bench_line("re-encryption: %.0f MB/s of pages in use (%.0f MB, %llu pages rewritten, "
               "%.2f s)", mb / m, mb, (unsigned long long)pages, m);
    /* with a writer: its rate alone, then during a re-encryption */
    double alone = writer_alone(db, 2.0);
    RkWriter w = {db, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, rk_writer, &w);
    double t0 = bench_now();
    if (blazedb_reencrypt(db, NULL, &pages) != BLAZEDB_OK)
        bench_die("reencrypt with a writer: %s", blazedb_errmsg(db));
    double tw = bench_now() - t0;
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    double during = (double)w.puts / (bench_now() - t0);
    bench_line("re-encryption with a writer: %.2f s (%.0f MB/s); the writer put %.0f/s "
               "meanwhile against %.0f/s alone (%.0f%%)",
               tw, mb / tw, during, alone, alone > 0 ? 100.0 * during / alone : 0.0);
    blazedb_close(db);
}

void check_bench_run(void)
{
    int c = bench_workload_selected("check"), rk = bench_workload_selected("reencrypt");
    if (!c && !rk)
        return;
    printf("\n## check, reencrypt (BlazeDB only; --check-size-mb %zu)\n\n", size_mb);
    fprintf(bench_report, "\n### check, reencrypt\n\nBlazeDB only: integrity check and "
                          "re-encryption of a %zu MiB document database (`--check-size-mb`), "
                          "AES-256-GCM.\n\n", size_mb);
    char dir[1024], path[1100];
    bench_fresh_dir(dir, sizeof dir, "check");
    snprintf(path, sizeof path, "%s/db", dir);
    load(path);
    if (c)
        w_check(dir, path);
    if (rk)
        w_reencrypt(path);
    bench_remove_dir(dir);
    fflush(bench_report);
}
