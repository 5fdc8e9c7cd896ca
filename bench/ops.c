/*
 * ops.c — the operations workloads: NDJSON export and import of 100,000
 * documents of about 150 bytes (export-ndjson, import-ndjson), BlazeDB
 * (blazedb_export_file / blazedb_import_file) against SQLite doing the same
 * with its JSON functions, in process through libsqlite3:
 *
 *   table   docs(id TEXT PRIMARY KEY, name, email, age INTEGER, city,
 *                tags, address) WITHOUT ROWID, WAL, synchronous FULL or
 *                NORMAL as the engine says (tags and address hold JSON text);
 *   export  SELECT json_object('id',id,'name',name,...,'tags',json(tags),
 *           'address',json(address)) FROM docs, each row and a newline
 *           written to a file, which is then fsynced (BlazeDB's export
 *           writes a temporary file, fsyncs and renames it);
 *   import  the same NDJSON file read line by line, each line bound to
 *           INSERT INTO docs SELECT json_extract(?1,'$.id'), ...,
 *           json_extract(?1,'$.address') in one transaction (BlazeDB: one
 *           durable import transaction).
 *
 * BlazeDB's collection is created with BLAZEDB_COLL_NO_TIMESTAMPS so both
 * engines hold and write the same fields.  Every run checks the result:
 * the export has one line per document, the import stores every document.
 * SQLCipher has no JSON1 here, so it is not run on these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"
#include "blazedb.h"

#define OPS_COLL "docs"

/* The NDJSON input of n documents (the doc-* workloads' shape). */
static void write_ndjson(const char *path, size_t n)
{
    static const char *first[] = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald",
                                  "Ken", "Margaret"};
    static const char *last[] = {"Smith", "Jones", "Martin", "Garcia", "Muller", "Rossi",
                                 "Tanaka", "Silva"};
    static const char *city[] = {"Paris", "London", "Berlin", "Madrid", "Rome", "Tokyo",
                                 "Lisbon", "Oslo"};
    static const char *tag[] = {"new", "vip", "beta", "admin", "trial", "pro"};
    char *keys = bench_make_keys(n, 21);
    FILE *f = fopen(path, "w");
    if (!keys || !f)
        bench_die("cannot write %s", path);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        const char *fi = first[h % 8], *la = last[(h >> 3) % 8];
        char email[64];
        int el = snprintf(email, sizeof email, "%s.%s@example.org", fi, la);
        for (int k = 0; k < el; k++)
            if (email[k] >= 'A' && email[k] <= 'Z')
                email[k] = (char)(email[k] - 'A' + 'a');
        fprintf(f,
                "{\"id\":\"%.*s\",\"name\":\"%s %s\",\"email\":\"%s\",\"age\":%u,"
                "\"city\":\"%s\",\"tags\":[\"%s\",\"%s\"],"
                "\"address\":{\"zip\":\"%05u\",\"number\":%u}}\n",
                BENCH_KEY_LEN, keys + i * BENCH_KEY_LEN, fi, la, email,
                (unsigned)(18 + (h >> 6) % 60), city[(h >> 12) % 8], tag[(h >> 15) % 6],
                tag[(h >> 18) % 6], (unsigned)((h >> 21) % 100000),
                (unsigned)(1 + (h >> 38) % 200));
    }
    if (fclose(f))
        bench_die("cannot write %s", path);
    free(keys);
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int c;
    while (f && (c = getc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

static size_t ops_n(void) { return bench_quick ? 20000 : 100000; }

/* ---- BlazeDB ------------------------------------------------------------ */

static BlazeDB *bz_open_ops(const char *dir)
{
    BlazeDB *db = engine_blazedb.open(dir);
    if (!db)
        return NULL;
    BlazeDBCollectionOptions co;
    blazedb_collection_options_init(&co);
    co.flags = BLAZEDB_COLL_NO_TIMESTAMPS;
    if (blazedb_collection_create(db, NULL, OPS_COLL, &co) != BLAZEDB_OK) {
        blazedb_close(db);
        return NULL;
    }
    return db;
}

static int bz_import(BlazeDB *db, const char *in, size_t n)
{
    BlazeDBImportOptions o;
    blazedb_import_options_init(&o);
    o.collection = OPS_COLL;
    BlazeDBImportReport rep = {.struct_size = sizeof rep};
    if (blazedb_import_file(db, NULL, &o, in, &rep) != BLAZEDB_OK || rep.imported != n) {
        fprintf(stderr, "blazedb import: %s\n", blazedb_errmsg(db));
        return -1;
    }
    return 0;
}

/* ---- SQLite with JSON1 ------------------------------------------------------- */

static sqlite3 *sq_open_ops(const char *dir, int full)
{
    char path[700], sql[512];
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-262144;"
             "CREATE TABLE docs(id TEXT PRIMARY KEY, name TEXT, email TEXT, age INTEGER,"
             " city TEXT, tags TEXT, address TEXT) WITHOUT ROWID;",
             full ? "FULL" : "NORMAL");
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int sq_import(sqlite3 *db, const char *in, size_t n)
{
    FILE *f = fopen(in, "r");
    sqlite3_stmt *st = NULL;
    int ok = f && sqlite3_prepare_v2(db,
                                     "INSERT INTO docs SELECT json_extract(?1,'$.id'),"
                                     " json_extract(?1,'$.name'), json_extract(?1,'$.email'),"
                                     " json_extract(?1,'$.age'), json_extract(?1,'$.city'),"
                                     " json_extract(?1,'$.tags'), json_extract(?1,'$.address')",
                                     -1, &st, NULL) == SQLITE_OK &&
             sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    char line[4096];
    size_t rows = 0;
    while (ok && fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            l--;
        if (!l)
            continue;
        sqlite3_bind_text(st, 1, line, (int)l, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_reset(st) == SQLITE_OK;
        rows++;
    }
    ok = ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK && rows == n;
    if (!ok)
        fprintf(stderr, "sqlite import: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

static int sq_export(sqlite3 *db, const char *out)
{
    FILE *f = fopen(out, "w");
    sqlite3_stmt *st = NULL;
    int ok = f && sqlite3_prepare_v2(db,
                                     "SELECT json_object('id',id,'name',name,'email',email,"
                                     "'age',age,'city',city,'tags',json(tags),"
                                     "'address',json(address)) FROM docs",
                                     -1, &st, NULL) == SQLITE_OK;
    int rc;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *p = sqlite3_column_text(st, 0);
        size_t l = (size_t)sqlite3_column_bytes(st, 0);
        ok = fwrite(p, 1, l, f) == l && putc('\n', f) != EOF;
    }
    ok = ok && rc == SQLITE_DONE && fflush(f) == 0 && fsync(fileno(f)) == 0;
    sqlite3_finalize(st);
    if (f && fclose(f))
        ok = 0;
    return ok ? 0 : -1;
}

/* ---- workloads --------------------------------------------------------------- */

typedef enum { OP_EXPORT, OP_IMPORT } OpKind;

static int run_op(const Engine *e, BenchRow *out, OpKind kind)
{
    int blaze = e == &engine_blazedb, full = strcmp(e->name, "sqlite-full") == 0;
    if (!blaze && !full && strcmp(e->name, "sqlite-normal") != 0) {
        bench_line("%s: not run (no JSON functions)", e->name);
        return -1;
    }
    size_t n = ops_n();
    char dir[600], in[700], outp[700];
    bench_fresh_dir(dir, sizeof dir, e->name);
    snprintf(in, sizeof in, "%s/in.ndjson", dir);
    snprintf(outp, sizeof outp, "%s/out.ndjson", dir);
    write_ndjson(in, n);
    BlazeDB *bz = blaze ? bz_open_ops(dir) : NULL;
    sqlite3 *sq = blaze ? NULL : sq_open_ops(dir, full);
    int ok = blaze ? bz != NULL : sq != NULL;
    double el = 0;
    if (ok && kind == OP_EXPORT) { /* load (untimed), then export */
        ok = (blaze ? bz_import(bz, in, n) : sq_import(sq, in, n)) == 0;
        double t0 = bench_now();
        if (ok && blaze) {
            BlazeDBExportOptions o;
            blazedb_export_options_init(&o);
            o.collection = OPS_COLL;
            uint64_t cnt = 0;
            ok = blazedb_export_file(bz, NULL, &o, outp, &cnt) == BLAZEDB_OK && cnt == n;
        } else if (ok) {
            ok = sq_export(sq, outp) == 0;
        }
        el = bench_now() - t0;
        ok = ok && count_lines(outp) == n;
    } else if (ok) {
        double t0 = bench_now();
        ok = (blaze ? bz_import(bz, in, n) : sq_import(sq, in, n)) == 0;
        el = bench_now() - t0;
        if (ok && blaze) {
            uint64_t cnt = 0;
            ok = blazedb_count(bz, NULL, OPS_COLL, &cnt) == BLAZEDB_OK && cnt == n;
        } else if (ok) {
            sqlite3_stmt *st;
            ok = sqlite3_prepare_v2(sq, "SELECT count(*) FROM docs", -1, &st, NULL) ==
                     SQLITE_OK &&
                 sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_int64(st, 0) == n;
            sqlite3_finalize(st);
        }
    }
    if (bz)
        blazedb_close(bz);
    if (sq)
        sqlite3_close(sq);
    bench_remove_dir(dir);
    out->ops = el > 0 ? (double)n / el : 0;
    return ok ? 0 : -1;
}

static int w_export(const Engine *e, BenchRow *out) { return run_op(e, out, OP_EXPORT); }
static int w_import(const Engine *e, BenchRow *out) { return run_op(e, out, OP_IMPORT); }

/* Runs the selected operations workloads (bench.c calls it after the
 * document workloads). */
void ops_run(void)
{
    bench_run("export-ndjson", "docs/s exported to an NDJSON file (synced)", 0, BENCH_DOCS,
              w_export);
    bench_run("import-ndjson", "docs/s imported from an NDJSON file (one durable txn)", 0,
              BENCH_DOCS, w_import);
}
