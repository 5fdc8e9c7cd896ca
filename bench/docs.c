/*
 * docs.c — the document workloads (doc-*): BlazeDB collections against
 * SQLite and SQLCipher storing the same JSON text in
 * docs(id TEXT PRIMARY KEY, doc TEXT).  Every engine starts from the same
 * JSON text, made by one generator (make_json) from the document's UUID:
 * BlazeDB parses it into a BlazeDBDoc and inserts that, SQL binds the text.
 * The engine adapters are in engines.c (DocOps); the harness in bench.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define ID_SZ (BENCH_KEY_LEN + 1) /* a UUID string and its NUL */
#define ID(ids, i) ((ids) + (size_t)(i) * ID_SZ)
#define BATCH 1000

static size_t lat_sizes[8] = {0, 100000, 1000000};
static int nlat_sizes = 3, lat_sizes_set;

void docs_set_sizes(const char *list)
{
    nlat_sizes = 0;
    lat_sizes_set = 1;
    for (const char *p = list; *p && nlat_sizes < 8;) {
        lat_sizes[nlat_sizes++] = (size_t)strtoull(p, NULL, 10);
        p += strcspn(p, ",");
        p += *p == ',';
    }
}

void docs_configure(void)
{
    if (bench_quick && !lat_sizes_set)
        nlat_sizes = 2; /* 0 and 100k: 1M only in the full run */
}

/* ---- the documents ------------------------------------------------------ */

static char *make_ids(size_t n, uint64_t seed)
{
    char *keys = bench_make_keys(n, seed), *ids = malloc(n * ID_SZ);
    if (!keys || !ids)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        memcpy(ID(ids, i), keys + i * BENCH_KEY_LEN, BENCH_KEY_LEN);
        ID(ids, i)[BENCH_KEY_LEN] = 0;
    }
    free(keys);
    return ids;
}

static uint64_t hash_id(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 0x100000001b3ull;
    return h;
}

/* Room make_json needs for a document of `target` bytes (0: the default). */
static size_t json_cap(size_t target) { return target + 512; }

/*
 * The JSON text of document `id` into buf (json_cap(target) bytes), its
 * fields drawn from the id: name, email, age, city, a tags array and a
 * nested object, about 150 bytes; with target > 0, an "events" array of
 * small objects pads it to about `target` bytes.  "id" comes first (the SQL
 * adapter checks it there) and no nested field is called "age".
 */
static size_t make_json(char *buf, const char *id, size_t target)
{
    static const char *first[] = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald",
                                  "Ken", "Margaret"};
    static const char *last[] = {"Smith", "Jones", "Martin", "Garcia", "Muller", "Rossi",
                                 "Tanaka", "Silva"};
    static const char *city[] = {"Paris", "London", "Berlin", "Madrid", "Rome", "Tokyo",
                                 "Lisbon", "Oslo"};
    static const char *tag[] = {"new", "vip", "beta", "admin", "trial", "pro"};
    static const char *kind[] = {"view", "click", "search", "cart", "buy"};
    uint64_t h = hash_id(id);
    const char *f = first[h % 8], *l = last[(h >> 3) % 8];
    char email[64];
    int el = snprintf(email, sizeof email, "%s.%s@example.org", f, l);
    for (int i = 0; i < el; i++)
        if (email[i] >= 'A' && email[i] <= 'Z')
            email[i] = (char)(email[i] - 'A' + 'a');
    size_t n = (size_t)sprintf(buf,
                               "{\"id\":\"%s\",\"name\":\"%s %s\",\"email\":\"%s\",\"age\":%u,"
                               "\"city\":\"%s\",\"tags\":[\"%s\",\"%s\"],"
                               "\"address\":{\"zip\":\"%05u\",\"number\":%u}",
                               id, f, l, email, (unsigned)(18 + (h >> 6) % 60),
                               city[(h >> 12) % 8], tag[(h >> 15) % 6], tag[(h >> 18) % 6],
                               (unsigned)((h >> 21) % 100000), (unsigned)(1 + (h >> 38) % 200));
    if (target > n + 2) {
        n += (size_t)sprintf(buf + n, ",\"events\":[");
        for (unsigned i = 0; n + 80 < target; i++) {
            uint64_t x = h ^ (i * 0x9E3779B97F4A7C15ull);
            n += (size_t)sprintf(buf + n, "%s{\"seq\":%u,\"kind\":\"%s\",\"page\":\"/p/%u\","
                                          "\"ms\":%u}",
                                 i ? "," : "", i, kind[x % 5], (unsigned)(x >> 8) % 10000,
                                 (unsigned)(x >> 24) % 5000);
        }
        buf[n++] = ']';
    }
    buf[n++] = '}';
    buf[n] = 0;
    return n;
}

/* DOC_INSERTs of the documents ids[0..n) of about `target` bytes; their
 * texts are in *text (free both). */
static DocWrite *make_inserts(const char *ids, size_t n, size_t target, char **text)
{
    size_t cap = json_cap(target);
    DocWrite *w = malloc((n ? n : 1) * sizeof *w);
    *text = malloc(n * cap + 1);
    if (!w || !*text)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        char *t = *text + i * cap;
        w[i] = (DocWrite){DOC_INSERT, ID(ids, i), t, make_json(t, ID(ids, i), target), 0};
    }
    return w;
}

/* Stores ids[0..n) in batches of BATCH (untimed set-up). */
static void load_docs(const Engine *e, void *h, const char *ids, size_t n)
{
    for (size_t i = 0; i < n; i += BATCH) {
        size_t m = n - i < BATCH ? n - i : BATCH;
        char *text;
        DocWrite *w = make_inserts(ID(ids, i), m, 0, &text);
        if (e->doc->insert_many(h, w, m))
            bench_die("%s: document load failed", e->name);
        free(w);
        free(text);
    }
}

/* Opens the engine's document store in a fresh directory; prints its caveat
 * (DocOps.note) when `note` is set. */
static void *open_docs(const Engine *e, char *dir, size_t dlen, int note)
{
    bench_fresh_dir(dir, dlen, e->name);
    void *h = e->doc->open(dir);
    const char *msg = h && note ? e->doc->note(h) : NULL;
    if (msg)
        bench_line("%s: %s", e->name, msg);
    return h;
}

static void close_docs(const Engine *e, void *h, const char *dir)
{
    e->doc->close(h);
    bench_remove_dir(dir);
}

/* ---- workloads ------------------------------------------------------------ */

/* 1. Durable single inserts of ~150-byte documents. */
static int w_insert(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 300 : 2000;
    char dir[600], *ids = make_ids(n, 11), *text;
    DocWrite *w = make_inserts(ids, n, 0, &text);
    void *h = open_docs(e, dir, sizeof dir, 0);
    int ok = h != NULL;
    double *lat = malloc(n * sizeof *lat), t0 = bench_now();
    for (size_t i = 0; ok && i < n; i++) {
        double s = bench_now();
        ok = e->doc->insert(h, w[i].id, w[i].json, w[i].len) == 0;
        lat[i] = (bench_now() - s) * 1e6;
    }
    double el = bench_now() - t0;
    if (h) {
        ok = ok && e->doc->get(h, ID(ids, n / 2)) == 0;
        close_docs(e, h, dir);
    }
    out->ops = (double)n / el;
    out->p50 = bench_pct(lat, n, 0.5);
    out->p99 = bench_pct(lat, n, 0.99);
    free(lat);
    free(w);
    free(text);
    free(ids);
    return ok ? 0 : -1;
}

/* 2. 100,000 documents in durable batches of 1,000 (latency per batch). */
static int w_insert_many(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 20000 : 100000, nb = (n + BATCH - 1) / BATCH;
    char dir[600], *ids = make_ids(n, 12), *text;
    DocWrite *w = make_inserts(ids, n, 0, &text);
    void *h = open_docs(e, dir, sizeof dir, 0);
    int ok = h != NULL;
    double *lat = malloc(nb * sizeof *lat), t0 = bench_now();
    for (size_t b = 0; ok && b < nb; b++) {
        size_t m = n - b * BATCH < BATCH ? n - b * BATCH : BATCH;
        double s = bench_now();
        ok = e->doc->insert_many(h, w + b * BATCH, m) == 0;
        lat[b] = (bench_now() - s) * 1e6;
    }
    double el = bench_now() - t0;
    if (h) {
        ok = ok && e->doc->get(h, ID(ids, n - 1)) == 0 && e->doc->get(h, ID(ids, 0)) == 0;
        close_docs(e, h, dir);
    }
    out->ops = (double)n / el;
    out->p50 = bench_pct(lat, nb, 0.5);
    out->p99 = bench_pct(lat, nb, 0.99);
    free(lat);
    free(w);
    free(text);
    free(ids);
    return ok ? 0 : -1;
}

/* 3. Random gets by id on cached documents (latency sampled every 100th),
 * in the engine's native form or as JSON text. */
static int get_workload(const Engine *e, BenchRow *out, int as_json)
{
    size_t n = bench_quick ? 20000 : 100000, ops = bench_quick ? 100000 : 500000;
    int (*get)(void *, const char *) = as_json ? e->doc->get_json : e->doc->get;
    char dir[600], *ids = make_ids(n, 13);
    void *h = open_docs(e, dir, sizeof dir, 0);
    if (!h) {
        free(ids);
        return -1;
    }
    load_docs(e, h, ids, n);
    int ok = 1;
    for (size_t i = 0; i < n; i++) /* warm the cache */
        ok &= get(h, ID(ids, i)) == 0;
    size_t nlat = ops / 100;
    double *lat = malloc(nlat * sizeof *lat), t0 = bench_now();
    uint64_t x = 77;
    for (size_t i = 0; i < ops; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const char *id = ID(ids, x % n);
        if (i % 100 == 0) {
            double s = bench_now();
            ok &= get(h, id) == 0;
            lat[i / 100] = (bench_now() - s) * 1e6;
        } else {
            ok &= get(h, id) == 0;
        }
    }
    double el = bench_now() - t0;
    close_docs(e, h, dir);
    out->ops = (double)ops / el;
    out->p50 = bench_pct(lat, nlat, 0.5);
    out->p99 = bench_pct(lat, nlat, 0.99);
    free(lat);
    free(ids);
    return ok ? 0 : -1;
}

static int w_get(const Engine *e, BenchRow *out) { return get_workload(e, out, 0); }
static int w_get_json(const Engine *e, BenchRow *out) { return get_workload(e, out, 1); }

/* 4 and 5. Durable patches of "age" / deletes of distinct stored documents. */
static int write_workload(const Engine *e, BenchRow *out, int del)
{
    size_t n = bench_quick ? 10000 : 100000, m = bench_quick ? 300 : 2000;
    char dir[600], *ids = make_ids(n, 14);
    void *h = open_docs(e, dir, sizeof dir, !del);
    if (!h) {
        free(ids);
        return -1;
    }
    load_docs(e, h, ids, n);
    int ok = 1;
    double *lat = malloc(m * sizeof *lat), t0 = bench_now();
    for (size_t i = 0; ok && i < m; i++) {
        const char *id = ID(ids, i * (n / m)); /* spread over the id space */
        double s = bench_now();
        ok = (del ? e->doc->del(h, id) : e->doc->patch(h, id, (int64_t)(100 + i))) == 0;
        lat[i] = (bench_now() - s) * 1e6;
    }
    double el = bench_now() - t0;
    /* A deleted document is gone, a patched one still readable; the
     * neighbours are untouched. */
    ok = ok && (e->doc->get(h, ID(ids, 0)) == 0) == !del && e->doc->get(h, ID(ids, 1)) == 0;
    close_docs(e, h, dir);
    out->ops = (double)m / el;
    out->p50 = bench_pct(lat, m, 0.5);
    out->p99 = bench_pct(lat, m, 0.99);
    free(lat);
    free(ids);
    return ok ? 0 : -1;
}

static int w_patch(const Engine *e, BenchRow *out) { return write_workload(e, out, 0); }
static int w_delete(const Engine *e, BenchRow *out) { return write_workload(e, out, 1); }

/* 6. Durable transactions of 100 writes: 50 inserts, 30 patches, 20 deletes,
 * interleaved (kind by i % 10). */
static int w_txn_mixed(const Engine *e, BenchRow *out)
{
    size_t n = bench_quick ? 10000 : 100000, ntx = bench_quick ? 30 : 200, per = 100;
    char dir[600], *ids = make_ids(n, 15), *fresh = make_ids(ntx * per / 2, 16), *text;
    DocWrite *ins = make_inserts(fresh, ntx * per / 2, 0, &text);
    DocWrite *w = malloc(per * sizeof *w);
    void *h = open_docs(e, dir, sizeof dir, 1);
    if (!h) {
        free(ids);
        free(fresh);
        free(ins);
        free(text);
        free(w);
        return -1;
    }
    load_docs(e, h, ids, n);
    size_t ni = 0, np = 0, nd = 0;
    int ok = 1;
    double *lat = malloc(ntx * sizeof *lat), t0 = bench_now();
    for (size_t t = 0; ok && t < ntx; t++) {
        for (size_t i = 0; i < per; i++) {
            unsigned k = (unsigned)(i % 10);
            if (k < 5)
                w[i] = ins[ni++];
            else if (k < 8)
                w[i] = (DocWrite){DOC_PATCH, ID(ids, np++), NULL, 0, (int64_t)(t + i)};
            else
                w[i] = (DocWrite){DOC_DELETE, ID(ids, n - 1 - nd++), NULL, 0, 0};
        }
        double s = bench_now();
        ok = e->doc->write_txn(h, w, per) == 0;
        lat[t] = (bench_now() - s) * 1e6;
    }
    double el = bench_now() - t0;
    ok = ok && e->doc->get(h, ins[ni - 1].id) == 0 && e->doc->get(h, ID(ids, 0)) == 0 &&
         e->doc->get(h, ID(ids, n - 1)) != 0;
    close_docs(e, h, dir);
    out->ops = (double)ntx / el;
    out->p50 = bench_pct(lat, ntx, 0.5);
    out->p99 = bench_pct(lat, ntx, 0.99);
    bench_line("%s: %.0f writes/s", e->name, out->ops * (double)per);
    free(lat);
    free(w);
    free(ins);
    free(text);
    free(fresh);
    free(ids);
    return ok ? 0 : -1;
}

/* 7. Durable single-insert latency with 0, 100k, 1M documents stored
 * (--doc-sizes); the table gives the largest size. */
static int w_insert_latency(const Engine *e, BenchRow *out)
{
    char dir[600];
    void *h = open_docs(e, dir, sizeof dir, 0);
    if (!h)
        return -1;
    size_t loaded = 0, m = bench_quick ? 200 : 1000;
    char line[512];
    int len = snprintf(line, sizeof line, "%s:", e->name), ok = 1;
    for (int s = 0; ok && s < nlat_sizes; s++) {
        if (lat_sizes[s] > loaded) {
            char *ids = make_ids(lat_sizes[s] - loaded, 1000 + (uint64_t)s);
            load_docs(e, h, ids, lat_sizes[s] - loaded);
            free(ids);
            loaded = lat_sizes[s];
        }
        char *ids = make_ids(m, 5000 + (uint64_t)s), *text;
        DocWrite *w = make_inserts(ids, m, 0, &text);
        double *lat = malloc(m * sizeof *lat);
        for (size_t i = 0; ok && i < m; i++) {
            double t0 = bench_now();
            ok = e->doc->insert(h, w[i].id, w[i].json, w[i].len) == 0;
            lat[i] = (bench_now() - t0) * 1e6;
        }
        loaded += m;
        out->p50 = bench_pct(lat, m, 0.5);
        out->p99 = bench_pct(lat, m, 0.99);
        len += snprintf(line + len, sizeof line - (size_t)len, " %zu docs p50 %.0f p99 %.0f µs;",
                        lat_sizes[s], out->p50, out->p99);
        free(lat);
        free(w);
        free(text);
        free(ids);
    }
    close_docs(e, h, dir);
    bench_line("%s", line);
    out->ops = out->p50 > 0 ? 1e6 / out->p50 : 0;
    return ok ? 0 : -1;
}

/* ---- 8. payload sweep ------------------------------------------------------ */

typedef struct {
    size_t bytes;
    size_t inserts, gets; /* full run; --quick does a fifth, at least 4 */
} Payload;

static const Payload payloads[] = {
    {256, 500, 20000}, {4096, 500, 20000}, {65536, 200, 2000},
    {1u << 20, 30, 200}, {4u << 20, 10, 50},
};

typedef struct {
    double ins, ins_p50, get, get_p50, json, json_p50; /* ops/s and µs */
    int ok;
} PayloadRow;

/* ops/s from per-operation latencies (µs) and their p50 (sorts lat). */
static double rate(double *lat, size_t n, double *p50)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    *p50 = bench_pct(lat, n, 0.5);
    return sum > 0 ? (double)n * 1e6 / sum : 0;
}

static PayloadRow payload_run(const Engine *e, const Payload *p)
{
    PayloadRow r = {0};
    size_t ni = bench_quick ? (p->inserts / 5 > 4 ? p->inserts / 5 : 4) : p->inserts;
    size_t ng = bench_quick ? (p->gets / 5 > 4 ? p->gets / 5 : 4) : p->gets;
    char dir[600], *ids = make_ids(ni, 17), *buf = malloc(json_cap(p->bytes));
    double *lat = malloc((ni > ng ? ni : ng) * sizeof *lat);
    void *h = open_docs(e, dir, sizeof dir, 0);
    int ok = h != NULL && buf && lat;
    for (size_t i = 0; ok && i < ni; i++) {
        size_t len = make_json(buf, ID(ids, i), p->bytes);
        double s = bench_now();
        ok = e->doc->insert(h, ID(ids, i), buf, len) == 0;
        lat[i] = (bench_now() - s) * 1e6;
    }
    if (ok)
        r.ins = rate(lat, ni, &r.ins_p50);
    for (int as_json = 0; as_json <= 1 && ok; as_json++) {
        int (*get)(void *, const char *) = as_json ? e->doc->get_json : e->doc->get;
        for (size_t i = 0; ok && i < ng; i++) {
            double s = bench_now();
            ok = get(h, ID(ids, i % ni)) == 0;
            lat[i] = (bench_now() - s) * 1e6;
        }
        if (ok && as_json)
            r.json = rate(lat, ng, &r.json_p50);
        else if (ok)
            r.get = rate(lat, ng, &r.get_p50);
    }
    if (h)
        close_docs(e, h, dir);
    free(lat);
    free(buf);
    free(ids);
    r.ok = ok;
    return r;
}

/* "1.23x / 0.98x / 2.00x": BlazeDB's rates over the peer's. */
static void ratios(char *out, size_t cap, const PayloadRow *bz, const PayloadRow *r)
{
    const double a[3] = {bz->ins, bz->get, bz->json}, b[3] = {r->ins, r->get, r->json};
    size_t n = 0;
    for (int i = 0; i < 3 && n < cap; i++)
        n += (size_t)(a[i] > 0 && b[i] > 0
                          ? snprintf(out + n, cap - n, "%s%.2fx", i ? " / " : "", a[i] / b[i])
                          : snprintf(out + n, cap - n, "%s-", i ? " / " : ""));
}

static void size_name(char *out, size_t cap, size_t bytes)
{
    if (bytes >= (1u << 20))
        snprintf(out, cap, "%zu MB", bytes >> 20);
    else if (bytes >= 1024)
        snprintf(out, cap, "%zu KB", bytes >> 10);
    else
        snprintf(out, cap, "%zu B", bytes);
}

/* Its own table: per size and engine, insert, get and get-as-JSON rates. */
static void run_payload(void)
{
    if (!bench_workload_selected("doc-payload"))
        return;
    const char *head = "| size | engine | inserts/s | insert p50 µs | gets/s | get p50 µs | "
                       "get+JSON/s | get+JSON p50 µs | blazedb ratio insert / get / get+JSON |";
    printf("\n## doc-payload\n\n%s\n", head);
    fprintf(bench_report, "\n### doc-payload\n\n%s\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            head);
    for (size_t s = 0; s < sizeof payloads / sizeof *payloads; s++) {
        PayloadRow bz = {0};
        char size[32];
        size_name(size, sizeof size, payloads[s].bytes);
        for (int i = 0; i < bench_nengines; i++) {
            const Engine *e = bench_engines[i];
            if (!e->doc || !bench_engine_selected(e->name))
                continue;
            PayloadRow r = payload_run(e, &payloads[s]);
            char line[512], rat[64] = "";
            if (e == &engine_blazedb)
                bz = r;
            else if (bz.ok)
                ratios(rat, sizeof rat, &bz, &r);
            if (r.ok)
                snprintf(line, sizeof line,
                         "| %s | %s | %.0f | %.0f | %.0f | %.1f | %.0f | %.1f | %s |", size,
                         e->name, r.ins, r.ins_p50, r.get, r.get_p50, r.json, r.json_p50, rat);
            else
                snprintf(line, sizeof line, "| %s | %s | failed/unavailable | | | | | | |",
                         size, e->name);
            printf("%s\n", line);
            fprintf(bench_report, "%s\n", line);
        }
    }
    fflush(bench_report);
    fflush(stdout);
}

/* ---- entry points ----------------------------------------------------------- */

void docs_run(void)
{
    bench_run("doc-insert", "durable inserts/s", 1, BENCH_DOCS, w_insert);
    bench_run("doc-insert-many", "docs/s (durable batches of 1000; latency per batch)", 1,
              BENCH_DOCS, w_insert_many);
    bench_run("doc-get", "gets/s, native form (cached)", 1, BENCH_DOCS, w_get);
    bench_run("doc-get-json", "gets/s as JSON text (cached)", 1, BENCH_DOCS, w_get_json);
    bench_run("doc-patch", "durable patches/s", 1, BENCH_DOCS, w_patch);
    bench_run("doc-delete", "durable deletes/s", 1, BENCH_DOCS, w_delete);
    bench_run("doc-txn-mixed", "durable txns/s of 100 writes", 1, BENCH_DOCS, w_txn_mixed);
    bench_run("doc-insert-latency", "1/p50 at the largest size", 1, BENCH_DOCS,
              w_insert_latency);
    run_payload();
}

void docs_describe(FILE *f)
{
    char sample[600], id[] = "3f2c9a1e-7b4d-4c2a-9e1f-5a6b7c8d9e0f";
    size_t n = make_json(sample, id, 0);
    fprintf(f,
            "\nDocuments (doc-* workloads): BlazeDB collections against SQLite/SQLCipher "
            "tables `docs(id TEXT PRIMARY KEY, doc TEXT)` (WAL) holding the same JSON text, "
            "e.g. (%zu bytes) `%s`. BlazeDB parses the text into a BlazeDBDoc and inserts "
            "it (the parse is timed; the collection has default options, so the engine also "
            "writes createdAt/updatedAt); SQL binds the text. doc-get returns each engine's "
            "native form — a BlazeDBDoc for BlazeDB, the JSON text (copied out) for SQL — "
            "and doc-get-json makes BlazeDB produce text too (get + blazedb_doc_to_json). "
            "SQL patches with `json_set(doc, '$.age', ?)` where the library has JSON1.\n",
            n, sample);
}
