/*
 * engines.c — benchmark adapters: BlazeDB (encrypted, durability FULL),
 * SQLite in WAL mode with synchronous=FULL and =NORMAL, SQLCipher (WAL,
 * FULL), and LMDB (durable: no NOSYNC flags).
 *
 * SQLite and SQLCipher export the same symbol names, so SQLCipher is loaded
 * with dlopen(RTLD_LOCAL) and both are driven through one table of function
 * pointers.  Tables are `kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID` with
 * prepared statements reused.
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

const Engine engine_blazedb = {"blazedb", bz_open, bz_close, bz_more, bz_close_more,
                               bz_put1, bz_batch, bz_get, bz_scan, bz_files};

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
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*column_bytes)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    int (*finalize)(sqlite3_stmt *);
    int (*busy_timeout)(sqlite3 *, int);
    const char *(*libversion)(void);
} SqlApi;

static const SqlApi sqlite_api = {
    sqlite3_open_v2, sqlite3_close, sqlite3_exec, sqlite3_prepare_v2, sqlite3_bind_text,
    sqlite3_bind_blob, sqlite3_bind_int, sqlite3_step, sqlite3_reset, sqlite3_column_bytes,
    sqlite3_column_blob, sqlite3_finalize, sqlite3_busy_timeout, sqlite3_libversion};

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
    SYM(step, "sqlite3_step");
    SYM(reset, "sqlite3_reset");
    SYM(column_bytes, "sqlite3_column_bytes");
    SYM(column_blob, "sqlite3_column_blob");
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

static Sq *sq_connect(const SqlApi *api, const char *dir, int full, int cipher)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    Sq *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->api = api;
    if (api->open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                       SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        free(s);
        return NULL;
    }
    api->busy_timeout(s->db, 10000);
    if (cipher) /* key first; kdf_iter=1 keeps key derivation out of timings */
        api->exec(s->db, "PRAGMA key='bench password'; PRAGMA kdf_iter=1;", NULL, NULL, NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-262144;"
             "CREATE TABLE IF NOT EXISTS kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;",
             full ? "FULL" : "NORMAL");
    if (api->exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        api->prepare(s->db, "INSERT OR REPLACE INTO kv VALUES(?,?)", -1, &s->put, NULL) ||
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
        s->api->column_blob(s->get, 0);
        len = s->api->column_bytes(s->get, 0);
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

const Engine engine_sqlite_full = {"sqlite-full", sqf_open, sq_close, sqf_more, sq_close_more,
                                   sq_put1, sq_batch, sq_get, sq_scan, sq_files};
const Engine engine_sqlite_normal = {"sqlite-normal", sqn_open, sq_close, sqn_more,
                                     sq_close_more, sq_put1, sq_batch, sq_get, sq_scan,
                                     sq_files};
const Engine engine_sqlcipher = {"sqlcipher", sqc_open, sq_close, sqc_more, sq_close_more,
                                 sq_put1, sq_batch, sq_get, sq_scan, sq_files};

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
    if (len >= 0) { /* copy out, as the others return a copy */
        void *copy = malloc(val.mv_size ? val.mv_size : 1);
        if (copy)
            memcpy(copy, val.mv_data, val.mv_size);
        free(copy);
    }
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
                            lm_put1, lm_batch, lm_get, lm_scan, lm_files};

const char *engines_versions(void)
{
    static char buf[512];
    const char *cv = load_cipher() == 1 ? cipher_api.libversion() : "unavailable";
    snprintf(buf, sizeof buf, "BlazeDB %s; SQLite %s; SQLCipher (SQLite core %s); %s; %s",
             blazedb_version(), sqlite3_libversion(), cv, mdb_version(NULL, NULL, NULL),
             OPENSSL_VERSION_TEXT);
    return buf;
}
