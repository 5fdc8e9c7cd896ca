/*
 * engines.c — benchmark adapters: BlazeDB (encrypted, durability FULL),
 * SQLite in WAL mode with synchronous=FULL and =NORMAL, SQLCipher (WAL,
 * FULL), and LMDB (durable: no NOSYNC flags).
 *
 * SQLite and SQLCipher export the same symbol names, so SQLCipher is loaded
 * with dlopen(RTLD_LOCAL) and both are driven through one table of function
 * pointers.  Tables are `kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID` for
 * the byte-KV workloads and `docs(id TEXT PRIMARY KEY, doc TEXT)` for the
 * documents, with prepared statements reused.  BlazeDB stores documents in
 * the collection "docs" (default options: the engine maintains createdAt and
 * updatedAt).
 */
#include "engines.h"

#include <dlfcn.h>
#include <lmdb.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blazedb.h"

/* ---- BlazeDB ------------------------------------------------------------ */

static void *bz_open(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bench.blazedb", dir);
    BlazeDBOptions o;
    blazedb_options_init(&o);
    /* Key derivation is excluded from timings: the cheapest KDF setting. */
    o.kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o.kdf_iterations = 1;
    o.cache_size = 256u << 20;
    BlazeDB *db = NULL;
    if (blazedb_open_ex(path, "bench password", &o, &db) != BLAZEDB_OK) {
        fprintf(stderr, "blazedb open: %s\n", blazedb_errmsg(NULL));
        return NULL;
    }
    return db;
}

static void bz_close(void *h) { blazedb_close(h); }
static void *bz_more(void *h, const char *dir) { (void)dir; return h; }
static void bz_close_more(void *h, void *m) { (void)h; (void)m; }

static int bz_put1(void *h, const char *k, size_t kl, const void *v, size_t vl)
{
    return blazedb_put2(h, k, kl, v, vl) == BLAZEDB_OK ? 0 : -1;
}

static int bz_batch(void *h, const char *keys, size_t kl, size_t n, const void *v, size_t vl)
{
    BlazeDBWrite *items = malloc((n ? n : 1) * sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n; i++)
        items[i] = (BlazeDBWrite){keys + i * kl, kl, v, vl, 0};
    int rc = blazedb_write_batch(h, items, n) == BLAZEDB_OK ? 0 : -1;
    free(items);
    return rc;
}

/* What a get hands its caller: a malloc'd copy of the value, as
 * blazedb_get does.  The peers' APIs lend a pointer into their own pages, so
 * their gets copy it out here.  The empty asm makes the copy observable:
 * without it the compiler drops malloc + memcpy + free of a buffer nobody
 * reads (it did, until 2026-12-01: LMDB's gets then copied nothing). */
static void copy_out(const void *v, size_t n)
{
    void *copy = malloc(n ? n : 1);
    if (copy) {
        memcpy(copy, v, n);
        __asm__ volatile("" : : "r"(copy) : "memory");
    }
    free(copy);
}

static long bz_get(void *h, const char *k, size_t kl)
{
    void *v;
    size_t vl;
    if (blazedb_get2(h, k, kl, &v, &vl) != BLAZEDB_OK)
        return -1;
    blazedb_free(v);
    return (long)vl;
}

static long bz_scan(void *h, const char *start, size_t kl, int n)
{
    BlazeDBRange r = {.start = start, .start_len = kl};
    BlazeDBIterator *it;
    if (blazedb_iter_open(h, NULL, &r, &it) != BLAZEDB_OK)
        return -1;
    long got = 0;
    while (got < n && blazedb_iter_next(it) == BLAZEDB_OK) {
        const void *v;
        size_t vl;
        blazedb_iter_value(it, &v, &vl);
        got++;
    }
    blazedb_iter_close(it);
    return got;
}

static int bz_files(const char *dir, char out[][512], int max)
{
    const char *suffix[] = {"", "-wal"};
    int n = 0;
    for (int i = 0; i < 2 && n < max; i++)
        snprintf(out[n++], 512, "%s/bench.blazedb%s", dir, suffix[i]);
    return n;
}

/* Documents: the collection "docs", created at open. */

#define BZ_COLL "docs"

static void *bzd_open(const char *dir)
{
    BlazeDB *db = bz_open(dir);
    if (!db)
        return NULL;
    BlazeDBResult rc = blazedb_collection_create(db, NULL, BZ_COLL, NULL);
    if (rc != BLAZEDB_OK && rc != BLAZEDB_EXISTS) {
        fprintf(stderr, "blazedb collection: %s\n", blazedb_errmsg(db));
        blazedb_close(db);
        return NULL;
    }
    return db;
}

/* Whether `d` carries the id `id` (what every get checks). */
static int bzd_has_id(const BlazeDBDoc *d, const char *id)
{
    const char *s;
    return blazedb_doc_get_string(d, "id", &s, NULL) == BLAZEDB_OK && strcmp(s, id) == 0;
}

static int bzd_insert(void *h, const char *id, const char *json, size_t len)
{
    (void)id; /* the document carries it */
    BlazeDBDoc *d;
    if (blazedb_doc_from_json(json, len, &d) != BLAZEDB_OK)
        return -1;
    int rc = blazedb_insert(h, NULL, BZ_COLL, d) == BLAZEDB_OK ? 0 : -1;
    blazedb_doc_free(d);
    return rc;
}

static int bzd_insert_many(void *h, const DocWrite *w, size_t n)
{
    BlazeDBDoc **docs = calloc(n ? n : 1, sizeof *docs);
    int rc = docs ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (blazedb_doc_from_json(w[i].json, w[i].len, &docs[i]) != BLAZEDB_OK)
            rc = -1;
    if (rc == 0 && blazedb_insert_many(h, NULL, BZ_COLL, docs, n) != BLAZEDB_OK)
        rc = -1;
    for (size_t i = 0; docs && i < n; i++)
        blazedb_doc_free(docs[i]);
    free(docs);
    return rc;
}

/* The patch document {"age": age}. */
static BlazeDBDoc *bzd_age(int64_t age)
{
    BlazeDBDoc *set;
    if (blazedb_doc_new(&set) != BLAZEDB_OK)
        return NULL;
    if (blazedb_doc_set_int(set, "age", age) != BLAZEDB_OK) {
        blazedb_doc_free(set);
        return NULL;
    }
    return set;
}

static int bzd_write1(BlazeDB *db, BlazeDBTxn *t, const DocWrite *w)
{
    BlazeDBDoc *d = NULL;
    BlazeDBResult rc = BLAZEDB_INTERNAL_ERROR;
    switch (w->kind) {
    case DOC_INSERT:
        if (blazedb_doc_from_json(w->json, w->len, &d) == BLAZEDB_OK)
            rc = blazedb_insert(db, t, BZ_COLL, d);
        break;
    case DOC_PATCH:
        if ((d = bzd_age(w->age)) != NULL)
            rc = blazedb_patch(db, t, BZ_COLL, w->id, d, NULL, 0);
        break;
    case DOC_DELETE:
        rc = blazedb_delete_doc(db, t, BZ_COLL, w->id);
        break;
    }
    blazedb_doc_free(d);
    return rc == BLAZEDB_OK ? 0 : -1;
}

static int bzd_write_txn(void *h, const DocWrite *w, size_t n)
{
    BlazeDBTxn *t;
    if (blazedb_txn_begin(h, 0, &t) != BLAZEDB_OK)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (bzd_write1(h, t, &w[i])) {
            blazedb_txn_abort(t);
            return -1;
        }
    return blazedb_txn_commit(t) == BLAZEDB_OK ? 0 : -1;
}

static int bzd_get(void *h, const char *id)
{
    BlazeDBDoc *d;
    if (blazedb_get_doc(h, NULL, BZ_COLL, id, &d) != BLAZEDB_OK)
        return -1;
    int ok = bzd_has_id(d, id);
    blazedb_doc_free(d);
    return ok ? 0 : -1;
}

static int bzd_get_json(void *h, const char *id)
{
    BlazeDBDoc *d;
    if (blazedb_get_doc(h, NULL, BZ_COLL, id, &d) != BLAZEDB_OK)
        return -1;
    char *json = NULL, needle[64];
    int ok = blazedb_doc_to_json(d, 0, &json, NULL) == BLAZEDB_OK;
    blazedb_doc_free(d);
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
    ok = ok && strstr(json, needle) != NULL;
    blazedb_free(json);
    return ok ? 0 : -1;
}

static int bzd_patch(void *h, const char *id, int64_t age)
{
    DocWrite w = {DOC_PATCH, id, NULL, 0, age};
    return bzd_write1(h, NULL, &w);
}

static int bzd_del(void *h, const char *id)
{
    return blazedb_delete_doc(h, NULL, BZ_COLL, id) == BLAZEDB_OK ? 0 : -1;
}

static const char *bzd_note(void *h)
{
    (void)h;
    return NULL;
}

static const DocOps bz_docs = {bzd_open,     bz_close,  bzd_insert, bzd_insert_many,
                               bzd_write_txn, bzd_get,  bzd_get_json, bzd_patch,
                               bzd_del,      bzd_note};

const Engine engine_blazedb = {"blazedb", bz_open, bz_close, bz_more, bz_close_more,
                               bz_put1, bz_batch, bz_get, bz_scan, bz_files, &bz_docs};

/* ---- SQLite and SQLCipher ------------------------------------------------- */

typedef struct {
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close)(sqlite3 *);
    int (*exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *,
                char **);
    int (*prepare)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_blob)(sqlite3_stmt *, int, const void *, int, void (*)(void *));
    int (*bind_int)(sqlite3_stmt *, int, int);
    int (*bind_int64)(sqlite3_stmt *, int, sqlite3_int64);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*column_bytes)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    int (*changes)(sqlite3 *);
    int (*finalize)(sqlite3_stmt *);
    int (*busy_timeout)(sqlite3 *, int);
    const char *(*libversion)(void);
} SqlApi;

static const SqlApi sqlite_api = {
    sqlite3_open_v2, sqlite3_close,       sqlite3_exec,         sqlite3_prepare_v2,
    sqlite3_bind_text, sqlite3_bind_blob, sqlite3_bind_int,     sqlite3_bind_int64,
    sqlite3_step,    sqlite3_reset,       sqlite3_column_bytes, sqlite3_column_blob,
    sqlite3_column_text, sqlite3_changes, sqlite3_finalize,     sqlite3_busy_timeout,
    sqlite3_libversion};

static SqlApi cipher_api;
static int cipher_loaded; /* 1 ok, -1 unavailable */

static int load_cipher(void)
{
    if (cipher_loaded)
        return cipher_loaded;
    /* DEEPBIND: SQLCipher's calls to its own sqlite3_* functions must not
     * bind to the already loaded libsqlite3's. */
    void *dl = dlopen("libsqlcipher.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!dl) {
        cipher_loaded = -1;
        return -1;
    }
#define SYM(field, name)                                          \
    do {                                                          \
        *(void **)&cipher_api.field = dlsym(dl, name);            \
        if (!cipher_api.field) {                                  \
            cipher_loaded = -1;                                   \
            return -1;                                            \
        }                                                         \
    } while (0)
    SYM(open_v2, "sqlite3_open_v2");
    SYM(close, "sqlite3_close");
    SYM(exec, "sqlite3_exec");
    SYM(prepare, "sqlite3_prepare_v2");
    SYM(bind_text, "sqlite3_bind_text");
    SYM(bind_blob, "sqlite3_bind_blob");
    SYM(bind_int, "sqlite3_bind_int");
    SYM(bind_int64, "sqlite3_bind_int64");
    SYM(step, "sqlite3_step");
    SYM(reset, "sqlite3_reset");
    SYM(column_bytes, "sqlite3_column_bytes");
    SYM(column_blob, "sqlite3_column_blob");
    SYM(column_text, "sqlite3_column_text");
    SYM(changes, "sqlite3_changes");
    SYM(finalize, "sqlite3_finalize");
    SYM(busy_timeout, "sqlite3_busy_timeout");
    SYM(libversion, "sqlite3_libversion");
#undef SYM
    cipher_loaded = 1;
    return 1;
}

typedef struct {
    const SqlApi *api;
    sqlite3 *db;
    sqlite3_stmt *put, *get, *scan, *begin, *commit;
} Sq;

/* Opens bench.sqlite in `dir` in WAL mode and runs `schema`; NULL on failure. */
static sqlite3 *sq_open_db(const SqlApi *api, const char *dir, int full, int cipher,
                           const char *schema)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    sqlite3 *db;
    if (api->open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        api->close(db);
        return NULL;
    }
    api->busy_timeout(db, 10000);
    if (cipher) /* key first; kdf_iter=1 keeps key derivation out of timings */
        api->exec(db, "PRAGMA key='bench password'; PRAGMA kdf_iter=1;", NULL, NULL, NULL);
    char sql[512];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-262144; %s",
             full ? "FULL" : "NORMAL", schema);
    if (api->exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        api->close(db);
        return NULL;
    }
    return db;
}

static Sq *sq_connect(const SqlApi *api, const char *dir, int full, int cipher)
{
    Sq *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->api = api;
    s->db = sq_open_db(api, dir, full, cipher,
                       "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;");
    if (!s->db) {
        free(s);
        return NULL;
    }
    if (api->prepare(s->db, "INSERT OR REPLACE INTO kv VALUES(?,?)", -1, &s->put, NULL) ||
        api->prepare(s->db, "SELECT v FROM kv WHERE k=?", -1, &s->get, NULL) ||
        api->prepare(s->db, "SELECT v FROM kv WHERE k>=? ORDER BY k LIMIT ?", -1, &s->scan, NULL) ||
        api->prepare(s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) ||
        api->prepare(s->db, "COMMIT", -1, &s->commit, NULL)) {
        api->close(s->db);
        free(s);
        return NULL;
    }
    return s;
}

static void sq_close(void *h)
{
    Sq *s = h;
    s->api->finalize(s->put);
    s->api->finalize(s->get);
    s->api->finalize(s->scan);
    s->api->finalize(s->begin);
    s->api->finalize(s->commit);
    s->api->close(s->db);
    free(s);
}

static int sq_run(Sq *s, sqlite3_stmt *st)
{
    int rc = s->api->step(st);
    s->api->reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_put1(void *h, const char *k, size_t kl, const void *v, size_t vl)
{
    Sq *s = h;
    s->api->bind_text(s->put, 1, k, (int)kl, SQLITE_STATIC);
    s->api->bind_blob(s->put, 2, v, (int)vl, SQLITE_STATIC);
    return sq_run(s, s->put);
}

static int sq_batch(void *h, const char *keys, size_t kl, size_t n, const void *v, size_t vl)
{
    Sq *s = h;
    if (sq_run(s, s->begin))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (sq_put1(h, keys + i * kl, kl, v, vl))
            return -1;
    return sq_run(s, s->commit);
}

static long sq_get(void *h, const char *k, size_t kl)
{
    Sq *s = h;
    s->api->bind_text(s->get, 1, k, (int)kl, SQLITE_STATIC);
    long len = -1;
    if (s->api->step(s->get) == SQLITE_ROW) {
        const void *v = s->api->column_blob(s->get, 0);
        len = s->api->column_bytes(s->get, 0);
        copy_out(v, (size_t)len);
    }
    s->api->reset(s->get);
    return len;
}

static long sq_scan(void *h, const char *start, size_t kl, int n)
{
    Sq *s = h;
    s->api->bind_text(s->scan, 1, start, (int)kl, SQLITE_STATIC);
    s->api->bind_int(s->scan, 2, n);
    long got = 0;
    while (s->api->step(s->scan) == SQLITE_ROW) {
        s->api->column_blob(s->scan, 0);
        got++;
    }
    s->api->reset(s->scan);
    return got;
}

static int sq_files(const char *dir, char out[][512], int max)
{
    int n = 0;
    const char *suffix[] = {"", "-wal"};
    for (int i = 0; i < 2 && n < max; i++)
        snprintf(out[n++], 512, "%s/bench.sqlite%s", dir, suffix[i]);
    return n;
}

static void *sqf_open(const char *dir) { return sq_connect(&sqlite_api, dir, 1, 0); }
static void *sqn_open(const char *dir) { return sq_connect(&sqlite_api, dir, 0, 0); }
static void *sqc_open(const char *dir)
{
    return load_cipher() == 1 ? sq_connect(&cipher_api, dir, 1, 1) : NULL;
}
static void *sqf_more(void *h, const char *dir) { (void)h; return sqf_open(dir); }
static void *sqn_more(void *h, const char *dir) { (void)h; return sqn_open(dir); }
static void *sqc_more(void *h, const char *dir) { (void)h; return sqc_open(dir); }
static void sq_close_more(void *h, void *m)
{
    if (m != h)
        sq_close(m);
}

/*
 * Documents in SQL: docs(id TEXT PRIMARY KEY, doc TEXT) holding the JSON
 * text.  A patch is one UPDATE with json_set() when the library has JSON1;
 * SQLCipher 3.x may not, and then a patch reads the text, replaces the
 * number after "age": in C and writes it back, in one transaction (less work
 * than the JSON parse a real application would do).
 */
typedef struct {
    const SqlApi *api;
    sqlite3 *db;
    sqlite3_stmt *ins, *get, *patch, *put, *del, *begin, *commit, *rollback;
    int json1; /* patch is the json_set UPDATE, else get + splice + put */
} SqDoc;

static void sqd_close(void *h)
{
    SqDoc *s = h;
    sqlite3_stmt *st[] = {s->ins, s->get, s->patch, s->put, s->del, s->begin, s->commit,
                          s->rollback};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        s->api->finalize(st[i]); /* NULL is a no-op */
    s->api->close(s->db);
    free(s);
}

static SqDoc *sqd_connect(const SqlApi *api, const char *dir, int full, int cipher)
{
    SqDoc *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->api = api;
    s->db = sq_open_db(api, dir, full, cipher,
                       "CREATE TABLE IF NOT EXISTS docs(id TEXT PRIMARY KEY, doc TEXT);");
    if (!s->db) {
        free(s);
        return NULL;
    }
    s->json1 = api->prepare(s->db, "UPDATE docs SET doc = json_set(doc, '$.age', ?) "
                                   "WHERE id = ?", -1, &s->patch, NULL) == SQLITE_OK;
    if (api->prepare(s->db, "INSERT INTO docs(id, doc) VALUES(?,?)", -1, &s->ins, NULL) ||
        api->prepare(s->db, "SELECT doc FROM docs WHERE id = ?", -1, &s->get, NULL) ||
        api->prepare(s->db, "UPDATE docs SET doc = ? WHERE id = ?", -1, &s->put, NULL) ||
        api->prepare(s->db, "DELETE FROM docs WHERE id = ?", -1, &s->del, NULL) ||
        api->prepare(s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) ||
        api->prepare(s->db, "COMMIT", -1, &s->commit, NULL) ||
        api->prepare(s->db, "ROLLBACK", -1, &s->rollback, NULL)) {
        sqd_close(s);
        return NULL;
    }
    return s;
}

/* Steps a statement that returns no row and must change exactly one row
 * (want_change) or any number. */
static int sqd_exec(SqDoc *s, sqlite3_stmt *st, int want_change)
{
    int rc = s->api->step(st);
    s->api->reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return want_change && s->api->changes(s->db) != 1 ? -1 : 0;
}

static int sqd_insert1(SqDoc *s, const char *id, const char *json, size_t len)
{
    s->api->bind_text(s->ins, 1, id, -1, SQLITE_STATIC);
    s->api->bind_text(s->ins, 2, json, (int)len, SQLITE_STATIC);
    return sqd_exec(s, s->ins, 1);
}

/* The document's JSON text, copied out (malloc'd; *len its length), or
 * NULL when absent or when it does not start with {"id":"<id>". */
static char *sqd_read(SqDoc *s, const char *id, size_t *len)
{
    s->api->bind_text(s->get, 1, id, -1, SQLITE_STATIC);
    char *copy = NULL;
    if (s->api->step(s->get) == SQLITE_ROW) {
        const char *t = (const char *)s->api->column_text(s->get, 0);
        size_t n = (size_t)s->api->column_bytes(s->get, 0), idl = strlen(id);
        if (t && n > 7 + idl && memcmp(t, "{\"id\":\"", 7) == 0 && memcmp(t + 7, id, idl) == 0 &&
            (copy = malloc(n + 1)) != NULL) {
            memcpy(copy, t, n + 1);
            *len = n;
        }
    }
    s->api->reset(s->get);
    return copy;
}

/* Without JSON1: replace the number after the first "age": (the documents'
 * top-level field; nothing nested uses that name). */
static int sqd_splice_age(SqDoc *s, const char *id, int64_t age)
{
    size_t len;
    char *t = sqd_read(s, id, &len);
    char *p = t ? strstr(t, "\"age\":") : NULL;
    if (!p) {
        free(t);
        return -1;
    }
    p += 6;
    size_t head = (size_t)(p - t), digits = strspn(p, "-0123456789");
    char num[24];
    int nl = snprintf(num, sizeof num, "%lld", (long long)age);
    char *out = malloc(len + (size_t)nl + 1);
    int rc = -1;
    if (out) {
        memcpy(out, t, head);
        memcpy(out + head, num, (size_t)nl);
        memcpy(out + head + (size_t)nl, p + digits, len - head - digits + 1);
        s->api->bind_text(s->put, 1, out, -1, SQLITE_STATIC);
        s->api->bind_text(s->put, 2, id, -1, SQLITE_STATIC);
        rc = sqd_exec(s, s->put, 1);
    }
    free(out);
    free(t);
    return rc;
}

static int sqd_patch1(SqDoc *s, const char *id, int64_t age)
{
    if (!s->json1)
        return sqd_splice_age(s, id, age);
    s->api->bind_int64(s->patch, 1, age);
    s->api->bind_text(s->patch, 2, id, -1, SQLITE_STATIC);
    return sqd_exec(s, s->patch, 1);
}

static int sqd_delete1(SqDoc *s, const char *id)
{
    s->api->bind_text(s->del, 1, id, -1, SQLITE_STATIC);
    return sqd_exec(s, s->del, 1);
}

static int sqd_write_txn(void *h, const DocWrite *w, size_t n)
{
    SqDoc *s = h;
    if (sqd_exec(s, s->begin, 0))
        return -1;
    for (size_t i = 0; i < n; i++) {
        int rc = w[i].kind == DOC_INSERT  ? sqd_insert1(s, w[i].id, w[i].json, w[i].len)
                 : w[i].kind == DOC_PATCH ? sqd_patch1(s, w[i].id, w[i].age)
                                          : sqd_delete1(s, w[i].id);
        if (rc) {
            sqd_exec(s, s->rollback, 0);
            return -1;
        }
    }
    return sqd_exec(s, s->commit, 0);
}

static int sqd_insert(void *h, const char *id, const char *json, size_t len)
{
    return sqd_insert1(h, id, json, len);
}

static int sqd_get(void *h, const char *id)
{
    size_t len;
    char *t = sqd_read(h, id, &len);
    free(t);
    return t ? 0 : -1;
}

static int sqd_patch(void *h, const char *id, int64_t age)
{
    SqDoc *s = h;
    if (s->json1)
        return sqd_patch1(s, id, age);
    DocWrite w = {DOC_PATCH, id, NULL, 0, age};
    return sqd_write_txn(s, &w, 1);
}

static int sqd_del(void *h, const char *id) { return sqd_delete1(h, id); }

static const char *sqd_note(void *h)
{
    SqDoc *s = h;
    return s->json1 ? NULL
                    : "no JSON1 (json_set) in this library: a patch is SELECT, a C splice "
                      "of the number after \"age\": and UPDATE in one transaction";
}

static void *sqdf_open(const char *dir) { return sqd_connect(&sqlite_api, dir, 1, 0); }
static void *sqdn_open(const char *dir) { return sqd_connect(&sqlite_api, dir, 0, 0); }
static void *sqdc_open(const char *dir)
{
    return load_cipher() == 1 ? sqd_connect(&cipher_api, dir, 1, 1) : NULL;
}

#define SQ_DOCS(open)                                                                      \
    {open, sqd_close, sqd_insert, sqd_write_txn, sqd_write_txn, sqd_get, sqd_get,         \
     sqd_patch, sqd_del, sqd_note}
static const DocOps sqf_docs = SQ_DOCS(sqdf_open), sqn_docs = SQ_DOCS(sqdn_open),
                    sqc_docs = SQ_DOCS(sqdc_open);

const Engine engine_sqlite_full = {"sqlite-full", sqf_open, sq_close, sqf_more, sq_close_more,
                                   sq_put1, sq_batch, sq_get, sq_scan, sq_files, &sqf_docs};
const Engine engine_sqlite_normal = {"sqlite-normal", sqn_open, sq_close, sqn_more,
                                     sq_close_more, sq_put1, sq_batch, sq_get, sq_scan,
                                     sq_files, &sqn_docs};
const Engine engine_sqlcipher = {"sqlcipher", sqc_open, sq_close, sqc_more, sq_close_more,
                                 sq_put1, sq_batch, sq_get, sq_scan, sq_files, &sqc_docs};

/* ---- LMDB ----------------------------------------------------------------- */

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
} Lm;

static void *lm_open(const char *dir)
{
    Lm *l = calloc(1, sizeof *l);
    if (!l || mdb_env_create(&l->env) || mdb_env_set_mapsize(l->env, (size_t)8 << 30) ||
        mdb_env_set_maxreaders(l->env, 126) ||
        mdb_env_open(l->env, dir, 0 /* durable: no NOSYNC/NOMETASYNC */, 0644)) {
        free(l);
        return NULL;
    }
    MDB_txn *t;
    if (mdb_txn_begin(l->env, NULL, 0, &t) || mdb_dbi_open(t, NULL, 0, &l->dbi) ||
        mdb_txn_commit(t)) {
        mdb_env_close(l->env);
        free(l);
        return NULL;
    }
    return l;
}

static void lm_close(void *h)
{
    Lm *l = h;
    mdb_env_close(l->env);
    free(l);
}

static void *lm_more(void *h, const char *dir) { (void)dir; return h; }
static void lm_close_more(void *h, void *m) { (void)h; (void)m; }

static int lm_batch(void *h, const char *keys, size_t kl, size_t n, const void *v, size_t vl)
{
    Lm *l = h;
    MDB_txn *t;
    if (mdb_txn_begin(l->env, NULL, 0, &t))
        return -1;
    for (size_t i = 0; i < n; i++) {
        MDB_val key = {kl, (void *)(keys + i * kl)}, val = {vl, (void *)v};
        if (mdb_put(t, l->dbi, &key, &val, 0)) {
            mdb_txn_abort(t);
            return -1;
        }
    }
    return mdb_txn_commit(t) ? -1 : 0;
}

static int lm_put1(void *h, const char *k, size_t kl, const void *v, size_t vl)
{
    return lm_batch(h, k, kl, 1, v, vl);
}

static long lm_get(void *h, const char *k, size_t kl)
{
    Lm *l = h;
    MDB_txn *t;
    if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &t))
        return -1;
    MDB_val key = {kl, (void *)k}, val;
    long len = mdb_get(t, l->dbi, &key, &val) ? -1 : (long)val.mv_size;
    if (len >= 0)
        copy_out(val.mv_data, val.mv_size);
    mdb_txn_abort(t);
    return len;
}

static long lm_scan(void *h, const char *start, size_t kl, int n)
{
    Lm *l = h;
    MDB_txn *t;
    MDB_cursor *c;
    if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &t))
        return -1;
    if (mdb_cursor_open(t, l->dbi, &c)) {
        mdb_txn_abort(t);
        return -1;
    }
    MDB_val key = {kl, (void *)start}, val;
    long got = 0;
    int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && got < n) {
        got++;
        rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    return got;
}

static int lm_files(const char *dir, char out[][512], int max)
{
    if (max < 1)
        return 0;
    snprintf(out[0], 512, "%s/data.mdb", dir);
    return 1;
}

const Engine engine_lmdb = {"lmdb", lm_open, lm_close, lm_more, lm_close_more,
                            lm_put1, lm_batch, lm_get, lm_scan, lm_files, NULL};

const char *engines_versions(void)
{
    static char buf[512];
    const char *cv = load_cipher() == 1 ? cipher_api.libversion() : "unavailable";
    snprintf(buf, sizeof buf, "BlazeDB %s; SQLite %s; SQLCipher (SQLite core %s); %s; %s",
             blazedb_version(), sqlite3_libversion(), cv, mdb_version(NULL, NULL, NULL),
             OPENSSL_VERSION_TEXT);
    return buf;
}
