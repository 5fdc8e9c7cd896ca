/*
 * db.c — the public byte-KV API (include/blazedb.h): handles, argument
 * checking, transactions, iterators over key ranges, batch writes,
 * password change, statistics and the internal structure check.
 *
 * Everything durable happens below, in the pager and the B-trees; this file
 * turns public calls into transactions and errors into result codes plus a
 * message on the handle.
 */
#include "db.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../btree/btree.h"
#include "../pager/pager.h"
#include "../catalog/catalog.h"
#include "../index/index.h"
#include "monitor.h"

#define DB_MAGIC_OPEN 0x424c415a45444221ull
#define DB_MAGIC_CLOSED 0x434c4f5345444442ull
#define DB_ERRLEN 512

struct BlazeDB {
    uint64_t magic;
    Pager *p;
    size_t max_key;
    BlazeDBKdf kdf_default;
    _Atomic uint64_t reads; /* iterator steps (gets: the monitor counts them) */
    _Atomic uint64_t writes;
    /* open transactions and iterators, ended by blazedb_close */
    pthread_mutex_t live_mu;
    BlazeDBTxn *live_txns;
    BlazeDBIterator *live_iters;
    struct DbObs *obs;          /* observers (query.c), NULL when none */
    struct DbSql *sql;          /* SQL state (sqlapi.c), NULL until used */
    _Atomic unsigned interrupts; /* blazedb_interrupt generation */
    Monitor *mon;               /* latency histograms (monitor.c) */
};

struct BlazeDBTxn {
    BlazeDB *db;
    PagerTxn *pt;
    int iters;                  /* iterators open on this txn */
    BlazeDBResult failed;       /* a write failed midway: the B-tree may be
                                   half-modified, so commit must roll back */
    size_t failed_level;        /* savepoints open when it failed: rolling
                                   back to one of them clears `failed` */
    BlazeDBTxn *prev, *next;    /* in db->live_txns */
};

struct BlazeDBIterator {
    BlazeDB *db;
    BlazeDBTxn *txn;            /* NULL: own snapshot in `own` */
    PagerTxn *own;
    BtCursor *c;
    PagerRoot root;             /* snapshot copy when iterating alone */
    uint8_t *lo, *hi, *prefix;
    size_t lo_len, hi_len, prefix_len;
    int lo_excl, hi_incl, has_lo, has_hi, reverse;
    int state;                  /* 0 not started, 1 on a key, 2 done */
    BlazeDBIterator *prev, *next; /* in db->live_iters */
    int linked;
};

/* ---- live transactions and iterators ---------------------------------------- */

#define LIVE_LINK(head, x)                  \
    do {                                    \
        (x)->prev = NULL;                   \
        (x)->next = (head);                 \
        if (head)                           \
            (head)->prev = (x);             \
        (head) = (x);                       \
    } while (0)

#define LIVE_UNLINK(head, x)                \
    do {                                    \
        if ((x)->prev)                      \
            (x)->prev->next = (x)->next;    \
        else                                \
            (head) = (x)->next;             \
        if ((x)->next)                      \
            (x)->next->prev = (x)->prev;    \
        (x)->prev = (x)->next = NULL;       \
    } while (0)

static void txn_link(BlazeDBTxn *t)
{
    pthread_mutex_lock(&t->db->live_mu);
    LIVE_LINK(t->db->live_txns, t);
    pthread_mutex_unlock(&t->db->live_mu);
}

static int commit_pt(BlazeDB *db, PagerTxn *pt);
static void iter_free(BlazeDBIterator *it);
static void txn_fail(BlazeDBTxn *t, BlazeDBResult rc);

/*
 * Ends a transaction: iterators still open on it let go of its pages (they
 * answer MISUSE from then on, and still need blazedb_iter_close), then it
 * commits (commit != 0) or aborts, and is unlinked and freed.
 */
static int txn_end(BlazeDBTxn *t, int commit)
{
    BlazeDB *db = t->db;
    pthread_mutex_lock(&db->live_mu);
    for (BlazeDBIterator *it = db->live_iters; it; it = it->next) {
        if (it->txn != t)
            continue;
        if (it->c)
            btc_close(it->c);
        it->c = NULL;
        it->txn = NULL;
        it->state = 3;
    }
    LIVE_UNLINK(db->live_txns, t);
    pthread_mutex_unlock(&db->live_mu);
    int rc = BLAZEDB_OK;
    int wrote = commit && pager_txn_is_write(t->pt);
    if (commit)
        rc = commit_pt(db, t->pt);
    else
        pager_abort(t->pt);
    free(t);
    if (wrote && rc == BLAZEDB_OK)
        db_obs_dispatch(db); /* observers see the commit before we return */
    return rc;
}

static _Thread_local char tl_open_err[DB_ERRLEN];

/* Closed handles are kept (small) so that a call on one is recognised as
 * misuse instead of touching freed memory; the oldest are freed past this
 * many. */
#define CLOSED_KEEP 1024
static pthread_mutex_t closed_mu = PTHREAD_MUTEX_INITIALIZER;
static BlazeDB *closed_ring[CLOSED_KEEP];
static size_t closed_next;

/* ---- helpers ------------------------------------------------------------- */

static int db_ok(BlazeDB *db)
{
    return db && db->magic == DB_MAGIC_OPEN;
}

static BlazeDBResult err(BlazeDB *db, BlazeDBResult rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static BlazeDBResult err(BlazeDB *db, BlazeDBResult rc, const char *fmt, ...)
{
    char buf[DB_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (db_ok(db))
        pager_error(db->p, rc, "%s", buf);
    return rc;
}

static BlazeDBResult check_key(BlazeDB *db, const void *key, size_t klen)
{
    if (!key)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "key is NULL");
    if (klen == 0)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "key is empty");
    if (klen > db->max_key)
        return err(db, BLAZEDB_TOO_BIG, "key of %zu bytes exceeds the limit of %zu",
                   klen, db->max_key);
    return BLAZEDB_OK;
}

static BlazeDBResult check_value(BlazeDB *db, const void *v, size_t vlen)
{
    if (!v && vlen)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "value is NULL with a non-zero length");
    if (vlen > BLAZEDB_MAX_VALUE)
        return err(db, BLAZEDB_TOO_BIG, "value of %zu bytes exceeds the limit of %u",
                   vlen, BLAZEDB_MAX_VALUE);
    return BLAZEDB_OK;
}

static PagerRoot *main_root(PagerTxn *t)
{
    return &pager_txn_meta(t)->roots[PAGER_ROOT_MAIN];
}

/* Commits a pager write transaction including the free-page bookkeeping
 * (timed as MON_COMMIT); ends a read transaction. */
static int commit_pt(BlazeDB *db, PagerTxn *pt)
{
    if (!pager_txn_is_write(pt))
        return pager_commit(pt);
    uint64_t t0 = mon_now();
    /* savepoints end with the transaction; dropping them first spares the
     * free-tree update their undo copies */
    if (pager_savepoint_depth(pt))
        pager_savepoint_release(pt, 1);
    int rc = freelist_commit(pt);
    if (rc) {
        pager_abort(pt);
        return mon_end(db->mon, MON_COMMIT, t0, (BlazeDBResult)rc);
    }
    return mon_end(db->mon, MON_COMMIT, t0, (BlazeDBResult)pager_commit(pt));
}

/* ---- open / close ------------------------------------------------------------ */

void blazedb_options_init(BlazeDBOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->flags = BLAZEDB_OPEN_CREATE;
    o->kdf = BLAZEDB_KDF_DEFAULT;
    o->busy_timeout_ms = 5000;
    o->durability = BLAZEDB_DURABILITY_FULL;
}

static BlazeDBResult kdf_params(const BlazeDBOptions *o, CryptoKdfParams *kp,
                                char *msg, size_t msglen)
{
    memset(kp, 0, sizeof *kp);
    BlazeDBKdf k = o->kdf == BLAZEDB_KDF_DEFAULT ? BLAZEDB_KDF_ARGON2ID : o->kdf;
    if (k == BLAZEDB_KDF_ARGON2ID) {
        kp->kdf = CRYPTO_KDF_ARGON2ID;
        kp->iterations = o->kdf_iterations ? o->kdf_iterations : 3;
        kp->memory_kib = o->kdf_memory_kib ? o->kdf_memory_kib : 65536;
        kp->parallelism = o->kdf_parallelism ? o->kdf_parallelism : 1;
        if (kp->iterations > CRYPTO_ARGON2_MAX_T || kp->memory_kib < CRYPTO_ARGON2_MIN_M ||
            kp->memory_kib > CRYPTO_ARGON2_MAX_M || kp->parallelism > CRYPTO_ARGON2_MAX_P ||
            kp->memory_kib < 8 * kp->parallelism) {
            snprintf(msg, msglen, "Argon2id parameters out of range");
            return BLAZEDB_INVALID_ARGUMENT;
        }
    } else if (k == BLAZEDB_KDF_PBKDF2_SHA256) {
        kp->kdf = CRYPTO_KDF_PBKDF2_SHA256;
        kp->iterations = o->kdf_iterations ? o->kdf_iterations : 600000;
        if (kp->iterations > CRYPTO_PBKDF2_MAX_ITER) {
            snprintf(msg, msglen, "PBKDF2 iteration count out of range");
            return BLAZEDB_INVALID_ARGUMENT;
        }
    } else {
        snprintf(msg, msglen, "unknown key-derivation function %d", (int)o->kdf);
        return BLAZEDB_INVALID_ARGUMENT;
    }
    return BLAZEDB_OK;
}

BlazeDBResult db_open_vfs(const char *path, const char *password,
                          const BlazeDBOptions *opts, OsVfs *vfs, BlazeDB **out)
{
    tl_open_err[0] = 0;
    if (!out) {
        snprintf(tl_open_err, sizeof tl_open_err, "out is NULL");
        return BLAZEDB_INVALID_ARGUMENT;
    }
    *out = NULL;
    BlazeDBOptions o;
    blazedb_options_init(&o);
    if (opts) {
        if (opts->struct_size < offsetof(BlazeDBOptions, wal_autocheckpoint) ||
            opts->struct_size > sizeof o) {
            snprintf(tl_open_err, sizeof tl_open_err,
                     "options.struct_size is %u; initialise with blazedb_options_init",
                     opts->struct_size);
            return BLAZEDB_INVALID_ARGUMENT;
        }
        memcpy(&o, opts, opts->struct_size);
    }
    if (!path || !*path) {
        snprintf(tl_open_err, sizeof tl_open_err, "path is NULL or empty");
        return BLAZEDB_INVALID_ARGUMENT;
    }
    int plaintext = (o.flags & BLAZEDB_OPEN_PLAINTEXT) != 0;
    if ((!password || !*password) && !plaintext) {
        snprintf(tl_open_err, sizeof tl_open_err, "a password is required");
        return BLAZEDB_INVALID_ARGUMENT;
    }
    if (o.flags & ~(BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE |
                    BLAZEDB_OPEN_READONLY | BLAZEDB_OPEN_PLAINTEXT)) {
        snprintf(tl_open_err, sizeof tl_open_err, "unknown open flags 0x%x", o.flags);
        return BLAZEDB_INVALID_ARGUMENT;
    }
    if (o.durability > BLAZEDB_DURABILITY_OFF) {
        snprintf(tl_open_err, sizeof tl_open_err, "unknown durability %d", (int)o.durability);
        return BLAZEDB_INVALID_ARGUMENT;
    }
    if (o.page_size && (o.page_size < 4096 || o.page_size > 65536 ||
                        (o.page_size & (o.page_size - 1)))) {
        snprintf(tl_open_err, sizeof tl_open_err,
                 "page size %u is not a power of two in 4096..65536", o.page_size);
        return BLAZEDB_INVALID_ARGUMENT;
    }
    PagerConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    BlazeDBResult rc = kdf_params(&o, &cfg.kdf, tl_open_err, sizeof tl_open_err);
    if (rc)
        return rc;
    cfg.vfs = vfs;
    cfg.create = (o.flags & BLAZEDB_OPEN_CREATE) != 0;
    cfg.exclusive = (o.flags & BLAZEDB_OPEN_EXCLUSIVE) != 0;
    cfg.readonly = (o.flags & BLAZEDB_OPEN_READONLY) != 0;
    cfg.plaintext = plaintext;
    cfg.page_size = o.page_size;
    cfg.cache_bytes = o.cache_size;
    cfg.busy_timeout_ms = o.busy_timeout_ms;
    cfg.durability = (int)o.durability;
    cfg.autocheckpoint = o.wal_autocheckpoint;

    BlazeDB *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(tl_open_err, sizeof tl_open_err, "out of memory");
        return BLAZEDB_NOMEM;
    }
    const char *pw = password ? password : "";
    rc = (BlazeDBResult)pager_open(path, pw, strlen(pw), &cfg, &db->p, tl_open_err,
                                   sizeof tl_open_err);
    if (rc) {
        free(db);
        return rc;
    }
    if (!(db->mon = mon_new())) {
        pager_close(db->p);
        free(db);
        snprintf(tl_open_err, sizeof tl_open_err, "out of memory");
        return BLAZEDB_NOMEM;
    }
    freelist_attach(db->p);
    db->max_key = btree_max_key(db->p);
    if (db->max_key > BLAZEDB_MAX_KEY)
        db->max_key = BLAZEDB_MAX_KEY;
    db->kdf_default = o.kdf;
    pthread_mutex_init(&db->live_mu, NULL);
    sqlapi_init();
    db->magic = DB_MAGIC_OPEN;
    *out = db;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_open_ex(const char *path, const char *password,
                              const BlazeDBOptions *opts, BlazeDB **out)
{
    return db_open_vfs(path, password, opts, NULL, out);
}

BlazeDB *blazedb_open(const char *path, const char *password)
{
    BlazeDB *db = NULL;
    if (blazedb_open_ex(path, password, NULL, &db) != BLAZEDB_OK)
        return NULL;
    return db;
}

void blazedb_close(BlazeDB *db)
{
    if (!db_ok(db))
        return;
    /* end what the caller left open: iterators first, they use the txns */
    for (;;) {
        pthread_mutex_lock(&db->live_mu);
        BlazeDBIterator *it = db->live_iters;
        pthread_mutex_unlock(&db->live_mu);
        if (!it)
            break;
        iter_free(it);
    }
    db_sql_close(db);
    for (;;) {
        pthread_mutex_lock(&db->live_mu);
        BlazeDBTxn *t = db->live_txns;
        pthread_mutex_unlock(&db->live_mu);
        if (!t)
            break;
        txn_end(t, 0);
    }
    db_obs_free(db);
    pager_close(db->p);
    db->p = NULL;
    mon_free(db->mon);
    db->mon = NULL;
    pthread_mutex_destroy(&db->live_mu);
    db->magic = DB_MAGIC_CLOSED;
    pthread_mutex_lock(&closed_mu);
    free(closed_ring[closed_next]);
    closed_ring[closed_next] = db;
    closed_next = (closed_next + 1) % CLOSED_KEEP;
    pthread_mutex_unlock(&closed_mu);
}

void blazedb_free(void *ptr) { free(ptr); }

/* ---- internal accessors for the other public-API modules (db.h) ------------- */

int db_handle_ok(BlazeDB *db) { return db_ok(db); }
Pager *db_pager(BlazeDB *db) { return db->p; }
size_t db_max_key(BlazeDB *db) { return db->max_key; }
BlazeDB *db_txn_db(BlazeDBTxn *t) { return t->db; }
PagerTxn *db_txn_pt(BlazeDBTxn *t) { return t->pt; }
void db_txn_mark_failed(BlazeDBTxn *t, BlazeDBResult rc) { txn_fail(t, rc); }
struct DbObs **db_obs_slot(BlazeDB *db) { return &db->obs; }
struct DbSql **db_sql_slot(BlazeDB *db) { return &db->sql; }
unsigned db_interrupts(BlazeDB *db) { return atomic_load(&db->interrupts); }
Monitor *db_monitor(BlazeDB *db) { return db->mon; }

void blazedb_interrupt(BlazeDB *db)
{
    if (db_ok(db))
        atomic_fetch_add(&db->interrupts, 1);
}
uint64_t db_published_txn(BlazeDB *db) { return pager_published_txn(db->p); }
uint64_t db_txn_snapshot(BlazeDBTxn *t) { return pager_txn_meta(t->pt)->txnid; }

BlazeDBResult db_call_begin(BlazeDB *db, BlazeDBTxn *txn, int write, DbCall *c)
{
    memset(c, 0, sizeof *c);
    c->db = db;
    BlazeDBResult rc;
    if (txn) {
        if (db_txn_db(txn) != db)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                            "the transaction belongs to another handle");
        c->t = txn;
        c->pt = db_txn_pt(txn);
        if (write) {
            if ((rc = db_txn_writable(txn)))
                return rc;
            if ((rc = blazedb_savepoint(txn, &c->sp)))
                return rc;
        }
        return BLAZEDB_OK;
    }
    if ((rc = blazedb_txn_begin(db, write ? 0 : BLAZEDB_TXN_READONLY, &c->t)))
        return rc;
    c->own = 1;
    c->pt = db_txn_pt(c->t);
    return BLAZEDB_OK;
}

BlazeDBResult db_call_begin_read(BlazeDB *db, BlazeDBTxn *txn, DbCall *c)
{
    if (txn)
        return db_call_begin(db, txn, 0, c);
    memset(c, 0, sizeof *c);
    c->db = db;
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    db_obs_dispatch(db); /* as blazedb_txn_begin */
    BlazeDBResult rc = (BlazeDBResult)pager_begin(db->p, 0, &c->pt);
    if (rc == BLAZEDB_OK)
        c->bare = 1;
    return rc;
}

BlazeDBResult db_call_end(DbCall *c, BlazeDBResult rc)
{
    char msg[512];
    if (c->bare) {
        pager_commit(c->pt); /* a read snapshot: lets go of it, cannot fail */
        c->bare = 0;
        return rc;
    }
    if (c->own) {
        if (rc == BLAZEDB_OK)
            return blazedb_txn_commit(c->t);
        snprintf(msg, sizeof msg, "%s", blazedb_errmsg(c->db));
        blazedb_txn_abort(c->t);
        db_error(c->db, rc, "%s", msg);
        return rc;
    }
    if (c->sp) {
        if (rc == BLAZEDB_OK)
            return blazedb_savepoint_release(c->t, c->sp);
        snprintf(msg, sizeof msg, "%s", blazedb_errmsg(c->db));
        if (blazedb_savepoint_rollback(c->t, c->sp) == BLAZEDB_OK)
            blazedb_savepoint_release(c->t, c->sp);
        else
            db_txn_mark_failed(c->t, rc);
        db_error(c->db, rc, "%s", msg);
    }
    return rc;
}

BlazeDBResult db_error(BlazeDB *db, BlazeDBResult rc, const char *fmt, ...)
{
    char buf[DB_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (db_ok(db))
        pager_error(db->p, rc, "%s", buf);
    return rc;
}

BlazeDBResult db_txn_writable(BlazeDBTxn *t)
{
    if (!pager_txn_is_write(t->pt))
        return err(t->db, BLAZEDB_READONLY, "write in a read transaction");
    if (t->failed)
        return err(t->db, BLAZEDB_MISUSE,
                   "an earlier write in this transaction failed; roll it back");
    return BLAZEDB_OK;
}

BlazeDBResult db_set_errmsg(BlazeDBResult rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_open_err, sizeof tl_open_err, fmt, ap);
    va_end(ap);
    return rc;
}

const char *blazedb_errmsg(BlazeDB *db)
{
    if (!db)
        return tl_open_err;
    if (db->magic == DB_MAGIC_CLOSED)
        return "the handle is closed";
    if (!db_ok(db))
        return "not a BlazeDB handle";
    return pager_errmsg(db->p);
}

const char *blazedb_strerror(BlazeDBResult rc)
{
    switch (rc) {
    case BLAZEDB_OK: return "ok";
    case BLAZEDB_NOT_FOUND: return "not found";
    case BLAZEDB_IO_ERROR: return "I/O error";
    case BLAZEDB_CORRUPT: return "database corrupt or tampered with";
    case BLAZEDB_INVALID_ARGUMENT: return "invalid argument";
    case BLAZEDB_AUTH_FAILED: return "wrong password";
    case BLAZEDB_INTERNAL_ERROR: return "internal error";
    case BLAZEDB_BUSY: return "database busy";
    case BLAZEDB_READONLY: return "read-only";
    case BLAZEDB_FULL: return "disk or database full";
    case BLAZEDB_TOO_BIG: return "key or value too big";
    case BLAZEDB_MISUSE: return "API misuse";
    case BLAZEDB_FAILED: return "handle failed after an I/O error; reopen it";
    case BLAZEDB_EXISTS: return "already exists";
    case BLAZEDB_NOT_A_DATABASE: return "not a BlazeDB database";
    case BLAZEDB_NOMEM: return "out of memory";
    case BLAZEDB_SQL_ERROR: return "SQL error";
    case BLAZEDB_CONSTRAINT: return "unique constraint violated";
    case BLAZEDB_CANCELLED: return "cancelled";
    case BLAZEDB_ROW: return "row ready";
    case BLAZEDB_DONE: return "done";
    }
    return "unknown result code";
}

const char *blazedb_version(void) { return BLAZEDB_VERSION_STRING; }

/* ---- transactions ------------------------------------------------------------- */

BlazeDBResult blazedb_txn_begin(BlazeDB *db, unsigned flags, BlazeDBTxn **out)
{
    if (!out)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (flags & ~BLAZEDB_TXN_READONLY)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "unknown transaction flags 0x%x", flags);
    db_obs_dispatch(db); /* commits of other handles reach observers here */
    BlazeDBTxn *t = calloc(1, sizeof *t);
    if (!t)
        return err(db, BLAZEDB_NOMEM, "out of memory");
    uint64_t t0 = mon_now();
    int rc = pager_begin(db->p, !(flags & BLAZEDB_TXN_READONLY), &t->pt);
    mon_end(db->mon, MON_TXN_BEGIN, t0, (BlazeDBResult)rc);
    if (rc) {
        free(t);
        return (BlazeDBResult)rc;
    }
    t->db = db;
    txn_link(t);
    *out = t;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_txn_commit(BlazeDBTxn *t)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    if (t->failed) {
        BlazeDBResult r = t->failed;
        err(t->db, r, "an earlier write in this transaction failed (%s); it was rolled back",
            blazedb_strerror(r));
        txn_end(t, 0);
        return r;
    }
    if (t->iters) {
        BlazeDBResult r = err(t->db, BLAZEDB_MISUSE,
                              "%d iterator(s) still open on the transaction; it was rolled back",
                              t->iters);
        txn_end(t, 0);
        return r;
    }
    return (BlazeDBResult)txn_end(t, 1);
}

void blazedb_txn_abort(BlazeDBTxn *t)
{
    if (t)
        txn_end(t, 0);
}

/* A write failed midway: the tree may be half-modified.  Only a rollback
 * (of the transaction, or to a savepoint taken before) can clear it. */
static void txn_fail(BlazeDBTxn *t, BlazeDBResult rc)
{
    if (!t->failed) {
        t->failed = rc;
        t->failed_level = pager_savepoint_depth(t->pt);
    }
}

BlazeDBResult blazedb_savepoint(BlazeDBTxn *t, size_t *level)
{
    if (!t || !level)
        return BLAZEDB_INVALID_ARGUMENT;
    *level = 0;
    if (!pager_txn_is_write(t->pt))
        return err(t->db, BLAZEDB_READONLY, "savepoint in a read transaction");
    if (t->failed)
        return err(t->db, BLAZEDB_MISUSE, "an earlier write in this transaction failed");
    return (BlazeDBResult)pager_savepoint(t->pt, level);
}

BlazeDBResult blazedb_savepoint_rollback(BlazeDBTxn *t, size_t level)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!pager_txn_is_write(t->pt))
        return err(t->db, BLAZEDB_READONLY, "no savepoints in a read transaction");
    int rc = pager_savepoint_rollback(t->pt, level);
    if (rc == BLAZEDB_MISUSE)
        return (BlazeDBResult)rc;
    if (rc) {
        txn_fail(t, (BlazeDBResult)rc);
        return (BlazeDBResult)rc;
    }
    if (t->failed && level <= t->failed_level)
        t->failed = BLAZEDB_OK;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_savepoint_release(BlazeDBTxn *t, size_t level)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!pager_txn_is_write(t->pt))
        return err(t->db, BLAZEDB_READONLY, "no savepoints in a read transaction");
    int rc = pager_savepoint_release(t->pt, level);
    if (rc && rc != BLAZEDB_MISUSE)
        txn_fail(t, (BlazeDBResult)rc);
    if (t->failed && t->failed_level >= level)
        t->failed_level = level - 1; /* only a rollback further out clears it now */
    return (BlazeDBResult)rc;
}

BlazeDBResult blazedb_txn_put(BlazeDBTxn *t, const void *key, size_t klen,
                              const void *data, size_t length)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    BlazeDBResult rc;
    if ((rc = check_key(t->db, key, klen)) || (rc = check_value(t->db, data, length)))
        return rc;
    if (!pager_txn_is_write(t->pt))
        return err(t->db, BLAZEDB_READONLY, "put in a read transaction");
    if (t->failed)
        return err(t->db, BLAZEDB_MISUSE, "an earlier write in this transaction failed");
    atomic_fetch_add_explicit(&t->db->writes, 1, memory_order_relaxed);
    uint64_t t0 = mon_now();
    rc = (BlazeDBResult)btree_put(t->pt, main_root(t->pt), key, klen,
                                  data ? data : "", length, NULL);
    if (rc)
        txn_fail(t, rc);
    return mon_end(t->db->mon, MON_KV_PUT, t0, rc);
}

BlazeDBResult blazedb_txn_get(BlazeDBTxn *t, const void *key, size_t klen,
                              void **data, size_t *length)
{
    if (data)
        *data = NULL;
    if (length)
        *length = 0;
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!data || !length)
        return err(t->db, BLAZEDB_INVALID_ARGUMENT, "data or length is NULL");
    BlazeDBResult rc = check_key(t->db, key, klen);
    if (rc)
        return rc;
    uint64_t t0 = mon_start(MON_KV_GET); /* counts the read too */
    rc = (BlazeDBResult)btree_get(t->pt, main_root(t->pt), key, klen, data, length);
    if (rc) {
        *data = NULL;
        *length = 0;
    }
    return mon_end(t->db->mon, MON_KV_GET, t0, rc);
}

BlazeDBResult blazedb_txn_delete(BlazeDBTxn *t, const void *key, size_t klen)
{
    if (!t)
        return BLAZEDB_INVALID_ARGUMENT;
    BlazeDBResult rc = check_key(t->db, key, klen);
    if (rc)
        return rc;
    if (!pager_txn_is_write(t->pt))
        return err(t->db, BLAZEDB_READONLY, "delete in a read transaction");
    if (t->failed)
        return err(t->db, BLAZEDB_MISUSE, "an earlier write in this transaction failed");
    atomic_fetch_add_explicit(&t->db->writes, 1, memory_order_relaxed);
    uint64_t t0 = mon_now();
    rc = (BlazeDBResult)btree_delete(t->pt, main_root(t->pt), key, klen, NULL);
    if (rc)
        txn_fail(t, rc);
    return mon_end(t->db->mon, MON_KV_DELETE, t0, rc);
}

/* ---- one-shot calls ------------------------------------------------------------ */

BlazeDBResult blazedb_put2(BlazeDB *db, const void *key, size_t klen,
                           const void *data, size_t length)
{
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    BlazeDBResult rc;
    if ((rc = check_key(db, key, klen)) || (rc = check_value(db, data, length)))
        return rc;
    PagerTxn *pt;
    uint64_t t0 = mon_now();
    if ((rc = (BlazeDBResult)pager_begin(db->p, 1, &pt)))
        return mon_end(db->mon, MON_KV_PUT, t0, rc);
    atomic_fetch_add_explicit(&db->writes, 1, memory_order_relaxed);
    rc = (BlazeDBResult)btree_put(pt, main_root(pt), key, klen, data ? data : "",
                                  length, NULL);
    if (rc) {
        pager_abort(pt);
        return mon_end(db->mon, MON_KV_PUT, t0, rc);
    }
    return mon_end(db->mon, MON_KV_PUT, t0, (BlazeDBResult)commit_pt(db, pt));
}

BlazeDBResult blazedb_get2(BlazeDB *db, const void *key, size_t klen, void **data,
                           size_t *length)
{
    if (data)
        *data = NULL;
    if (length)
        *length = 0;
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!data || !length)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "data or length is NULL");
    BlazeDBResult rc = check_key(db, key, klen);
    if (rc)
        return rc;
    PagerTxn *pt;
    uint64_t t0 = mon_start(MON_KV_GET);
    if ((rc = (BlazeDBResult)pager_begin(db->p, 0, &pt)))
        return mon_end(db->mon, MON_KV_GET, t0, rc);
    rc = (BlazeDBResult)btree_get(pt, main_root(pt), key, klen, data, length);
    pager_commit(pt);
    if (rc) {
        *data = NULL;
        *length = 0;
    }
    return mon_end(db->mon, MON_KV_GET, t0, rc);
}

BlazeDBResult blazedb_delete2(BlazeDB *db, const void *key, size_t klen)
{
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    BlazeDBResult rc = check_key(db, key, klen);
    if (rc)
        return rc;
    PagerTxn *pt;
    uint64_t t0 = mon_now();
    if ((rc = (BlazeDBResult)pager_begin(db->p, 1, &pt)))
        return mon_end(db->mon, MON_KV_DELETE, t0, rc);
    atomic_fetch_add_explicit(&db->writes, 1, memory_order_relaxed);
    int found = 0;
    rc = (BlazeDBResult)btree_delete(pt, main_root(pt), key, klen, &found);
    if (rc || !found) {
        pager_abort(pt); /* nothing to write */
        return mon_end(db->mon, MON_KV_DELETE, t0, rc);
    }
    return mon_end(db->mon, MON_KV_DELETE, t0, (BlazeDBResult)commit_pt(db, pt));
}

BlazeDBResult blazedb_put(BlazeDB *db, const char *key, const void *data, size_t length)
{
    if (!key)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "key is NULL");
    return blazedb_put2(db, key, strlen(key), data, length);
}

BlazeDBResult blazedb_get(BlazeDB *db, const char *key, void **data, size_t *length)
{
    if (!key) {
        if (data)
            *data = NULL;
        if (length)
            *length = 0;
        return err(db, BLAZEDB_INVALID_ARGUMENT, "key is NULL");
    }
    return blazedb_get2(db, key, strlen(key), data, length);
}

BlazeDBResult blazedb_delete(BlazeDB *db, const char *key)
{
    if (!key)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "key is NULL");
    return blazedb_delete2(db, key, strlen(key));
}

BlazeDBResult blazedb_write_batch(BlazeDB *db, const BlazeDBWrite *items, size_t n)
{
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!items && n)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "items is NULL");
    BlazeDBResult rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_key(db, items[i].key, items[i].klen)))
            return err(db, rc, "item %zu: %s", i, blazedb_errmsg(db));
        if (!items[i].del && (rc = check_value(db, items[i].value, items[i].vlen)))
            return err(db, rc, "item %zu: %s", i, blazedb_errmsg(db));
    }
    if (n == 0)
        return BLAZEDB_OK;
    PagerTxn *pt;
    uint64_t t0 = mon_now();
    if ((rc = (BlazeDBResult)pager_begin(db->p, 1, &pt)))
        return mon_end(db->mon, MON_KV_BATCH, t0, rc);
    for (size_t i = 0; i < n; i++) {
        const BlazeDBWrite *w = &items[i];
        if (w->del)
            rc = (BlazeDBResult)btree_delete(pt, main_root(pt), w->key, w->klen, NULL);
        else
            rc = (BlazeDBResult)btree_put(pt, main_root(pt), w->key, w->klen,
                                          w->value ? w->value : "", w->vlen, NULL);
        if (rc) {
            pager_abort(pt);
            return mon_end(db->mon, MON_KV_BATCH, t0, rc);
        }
    }
    atomic_fetch_add_explicit(&db->writes, n, memory_order_relaxed);
    return mon_end(db->mon, MON_KV_BATCH, t0, (BlazeDBResult)commit_pt(db, pt));
}

/* ---- iterators ----------------------------------------------------------------- */

static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

static void iter_free(BlazeDBIterator *it)
{
    if (it->linked) {
        pthread_mutex_lock(&it->db->live_mu);
        LIVE_UNLINK(it->db->live_iters, it);
        pthread_mutex_unlock(&it->db->live_mu);
    }
    if (it->c)
        btc_close(it->c);
    if (it->own)
        pager_commit(it->own);
    if (it->txn)
        it->txn->iters--;
    free(it->lo);
    free(it->hi);
    free(it->prefix);
    free(it);
}

BlazeDBResult blazedb_iter_open(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBRange *r,
                                BlazeDBIterator **out)
{
    if (!out)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (txn && txn->db != db)
        return err(db, BLAZEDB_MISUSE, "the transaction belongs to another handle");
    BlazeDBIterator *it = calloc(1, sizeof *it);
    if (!it)
        return err(db, BLAZEDB_NOMEM, "out of memory");
    it->db = db;
    if (r) {
        if ((r->start == NULL && r->start_len) || (r->end == NULL && r->end_len) ||
            (r->prefix == NULL && r->prefix_len)) {
            free(it);
            return err(db, BLAZEDB_INVALID_ARGUMENT, "range pointer NULL with a length");
        }
        it->reverse = (r->flags & BLAZEDB_ITER_REVERSE) != 0;
        it->lo_excl = (r->flags & BLAZEDB_ITER_START_EXCLUSIVE) != 0;
        it->hi_incl = (r->flags & BLAZEDB_ITER_END_INCLUSIVE) != 0;
        if (r->start) {
            it->has_lo = 1;
            it->lo = dup_bytes(r->start, r->start_len);
            it->lo_len = r->start_len;
        }
        if (r->end) {
            it->has_hi = 1;
            it->hi = dup_bytes(r->end, r->end_len);
            it->hi_len = r->end_len;
        }
        if (r->prefix && r->prefix_len) {
            it->prefix = dup_bytes(r->prefix, r->prefix_len);
            it->prefix_len = r->prefix_len;
        }
        if ((it->has_lo && !it->lo) || (it->has_hi && !it->hi) ||
            (it->prefix_len && !it->prefix)) {
            iter_free(it);
            return err(db, BLAZEDB_NOMEM, "out of memory");
        }
    }
    int rc;
    PagerTxn *pt;
    PagerRoot *root;
    if (txn) {
        pt = txn->pt;
        root = main_root(pt);
        it->txn = txn;
        txn->iters++;
    } else {
        if ((rc = pager_begin(db->p, 0, &it->own))) {
            iter_free(it);
            return (BlazeDBResult)rc;
        }
        pt = it->own;
        it->root = *main_root(pt);
        root = &it->root;
    }
    if ((rc = btc_open(pt, root, &it->c))) {
        iter_free(it);
        return (BlazeDBResult)rc;
    }
    pthread_mutex_lock(&db->live_mu);
    LIVE_LINK(db->live_iters, it);
    it->linked = 1;
    pthread_mutex_unlock(&db->live_mu);
    *out = it;
    return BLAZEDB_OK;
}

/* Is the cursor's key inside the range?  1 yes, 0 before the range (keep
 * going in reverse... only used to stop), -1 past the end in the walking
 * direction. */
static int in_range(BlazeDBIterator *it, const void *k, size_t kl)
{
    if (it->has_lo) {
        int c = key_cmp(k, kl, it->lo, it->lo_len);
        if (c < 0 || (c == 0 && it->lo_excl))
            return it->reverse ? -1 : 0;
    }
    if (it->has_hi) {
        int c = key_cmp(k, kl, it->hi, it->hi_len);
        if (c > 0 || (c == 0 && !it->hi_incl))
            return it->reverse ? 0 : -1;
    }
    if (it->prefix_len) {
        if (kl < it->prefix_len || memcmp(k, it->prefix, it->prefix_len) != 0) {
            int c = key_cmp(k, kl, it->prefix, it->prefix_len);
            if (it->reverse)
                return c < 0 ? -1 : 0;
            return c < 0 ? 0 : -1;
        }
    }
    return 1;
}

static int iter_position(BlazeDBIterator *it)
{
    int rc;
    if (!it->reverse) {
        const void *sk = NULL;
        size_t sl = 0;
        if (it->has_lo) {
            sk = it->lo;
            sl = it->lo_len;
        }
        if (it->prefix_len && (!sk || key_cmp(it->prefix, it->prefix_len, sk, sl) > 0)) {
            sk = it->prefix;
            sl = it->prefix_len;
        }
        rc = sk ? btc_seek(it->c, sk, sl, NULL) : btc_first(it->c);
    } else {
        /* the upper end: min(end, successor of prefix) */
        uint8_t *succ = NULL;
        size_t succ_len = 0;
        if (it->prefix_len) {
            succ = dup_bytes(it->prefix, it->prefix_len);
            if (!succ)
                return BLAZEDB_NOMEM;
            succ_len = it->prefix_len;
            while (succ_len && succ[succ_len - 1] == 0xFF)
                succ_len--;
            if (succ_len)
                succ[succ_len - 1]++;
        }
        const void *hk = NULL;
        size_t hl = 0;
        if (it->has_hi) {
            hk = it->hi;
            hl = it->hi_len;
        }
        if (succ_len && (!hk || key_cmp(succ, succ_len, hk, hl) < 0)) {
            hk = succ;
            hl = succ_len;
        }
        rc = hk ? btc_seek_le(it->c, hk, hl, NULL) : btc_last(it->c);
        free(succ);
    }
    return rc;
}

BlazeDBResult blazedb_iter_next(BlazeDBIterator *it)
{
    if (!it)
        return BLAZEDB_INVALID_ARGUMENT;
    if (it->state == 3)
        return err(it->db, BLAZEDB_MISUSE, "the iterator's transaction has ended");
    if (it->state == 2)
        return BLAZEDB_NOT_FOUND;
    int rc;
    if (it->state == 0)
        rc = iter_position(it);
    else
        rc = it->reverse ? btc_prev(it->c) : btc_next(it->c);
    for (;;) {
        if (rc == BLAZEDB_NOT_FOUND) {
            it->state = 2;
            return BLAZEDB_NOT_FOUND;
        }
        if (rc) {
            it->state = 2;
            return (BlazeDBResult)rc;
        }
        const void *k;
        size_t kl;
        if ((rc = btc_key(it->c, &k, &kl)))
            continue;
        int r = in_range(it, k, kl);
        if (r == 1) {
            it->state = 1;
            atomic_fetch_add_explicit(&it->db->reads, 1, memory_order_relaxed);
            return BLAZEDB_OK;
        }
        if (r < 0) {
            it->state = 2;
            return BLAZEDB_NOT_FOUND;
        }
        rc = it->reverse ? btc_prev(it->c) : btc_next(it->c);
    }
}

BlazeDBResult blazedb_iter_key(BlazeDBIterator *it, const void **key, size_t *klen)
{
    if (!it)
        return BLAZEDB_INVALID_ARGUMENT;
    if (it->state != 1)
        return err(it->db, BLAZEDB_MISUSE, "the iterator is not on a key");
    const void *k;
    size_t kl;
    int rc = btc_key(it->c, &k, &kl);
    if (rc)
        return (BlazeDBResult)rc;
    if (key)
        *key = k;
    if (klen)
        *klen = kl;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_iter_value(BlazeDBIterator *it, const void **value, size_t *vlen)
{
    if (!it)
        return BLAZEDB_INVALID_ARGUMENT;
    if (it->state != 1)
        return err(it->db, BLAZEDB_MISUSE, "the iterator is not on a key");
    const void *v;
    size_t vl;
    int rc = btc_value(it->c, &v, &vl);
    if (rc)
        return (BlazeDBResult)rc;
    if (value)
        *value = v;
    if (vlen)
        *vlen = vl;
    return BLAZEDB_OK;
}

void blazedb_iter_close(BlazeDBIterator *it)
{
    if (it)
        iter_free(it);
}

/* ---- maintenance ------------------------------------------------------------------ */

BlazeDBResult blazedb_rekey(BlazeDB *db, const char *new_password, const BlazeDBOptions *opts)
{
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!new_password || !*new_password)
        return err(db, BLAZEDB_INVALID_ARGUMENT, "the new password is NULL or empty");
    BlazeDBOptions o;
    blazedb_options_init(&o);
    if (opts) {
        if (opts->struct_size < offsetof(BlazeDBOptions, wal_autocheckpoint) ||
            opts->struct_size > sizeof o)
            return err(db, BLAZEDB_INVALID_ARGUMENT, "bad options.struct_size");
        memcpy(&o, opts, opts->struct_size);
    } else {
        o.kdf = db->kdf_default;
    }
    CryptoKdfParams kp;
    char msg[200];
    BlazeDBResult rc = kdf_params(&o, &kp, msg, sizeof msg);
    if (rc)
        return err(db, rc, "%s", msg);
    return (BlazeDBResult)pager_rekey(db->p, new_password, strlen(new_password), &kp);
}

BlazeDBResult blazedb_checkpoint(BlazeDB *db)
{
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    return (BlazeDBResult)pager_checkpoint(db->p);
}

BlazeDBResult blazedb_stats(BlazeDB *db, BlazeDBStats *st)
{
    if (!db_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!st || st->struct_size < sizeof(uint32_t))
        return err(db, BLAZEDB_INVALID_ARGUMENT, "stats is NULL or struct_size unset");
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = st->struct_size < sizeof s ? st->struct_size : (uint32_t)sizeof s;
    PagerStats ps;
    pager_get_stats(db->p, &ps);
    s.commits = ps.commits;
    s.rollbacks = ps.rollbacks;
    /* get calls are the monitor's kv_get count (a per-thread counter, not
     * an atomic add on every get) */
    MonHistSnapshot gets;
    mon_snapshot(db->mon, MON_KV_GET, &gets);
    s.reads = gets.count + atomic_load(&db->reads);
    s.writes = atomic_load(&db->writes);
    s.cache_hits = ps.cache_hits;
    s.cache_misses = ps.cache_misses;
    s.pages_read = ps.pages_read;
    s.pages_written = ps.pages_written;
    s.bytes_written = ps.bytes_written;
    s.syncs = ps.syncs;
    s.checkpoints = ps.checkpoints;
    s.lock_waits = ps.lock_waits;
    s.wal_pages = ps.wal_pages;
    s.page_size = pager_page_size(db->p);
    s.max_key_size = btree_max_key(db->p);
    PagerTxn *pt;
    int rc = pager_begin(db->p, 0, &pt);
    if (rc)
        return (BlazeDBResult)rc;
    PagerMeta *m = pager_txn_meta(pt);
    s.page_count = m->npages;
    s.free_pages = m->free_pages;
    s.keys = m->roots[PAGER_ROOT_MAIN].count;
    s.last_txn_id = m->txnid;
    pager_commit(pt);
    memcpy(st, &s, s.struct_size);
    return BLAZEDB_OK;
}

/* ---- structure check -------------------------------------------------------------- */

typedef struct {
    uint8_t *seen;
    Pgno npages;
    Pgno bad;
    int dup;
} CheckMap;

static void check_visit(Pgno pg, void *arg)
{
    CheckMap *m = arg;
    if (pg < PAGER_FIRST_DATA_PGNO || pg >= m->npages) {
        if (!m->bad)
            m->bad = pg ? pg : 1;
        return;
    }
    if (m->seen[pg]++ && !m->dup) {
        m->dup = 1;
        m->bad = pg;
    }
}

BlazeDBResult db_check(BlazeDB *db, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (!db_ok(db))
        return BLAZEDB_MISUSE;
    PagerTxn *pt;
    int rc = pager_begin(db->p, 0, &pt);
    if (rc)
        return (BlazeDBResult)rc;
    PagerMeta *m = pager_txn_meta(pt);
    CheckMap cm = {calloc(m->npages ? m->npages : 1, 1), m->npages, 0, 0};
    if (!cm.seen) {
        pager_commit(pt);
        return BLAZEDB_NOMEM;
    }
    for (int i = 0; i < PAGER_NROOTS && !rc; i++) {
        if (i == PAGER_ROOT_FREE || m->roots[i].root.pgno == 0)
            continue;
        rc = btree_check(pt, &m->roots[i], check_visit, &cm);
    }
    if (!rc)
        rc = cat_check(pt, check_visit, &cm);
    if (!rc)
        rc = idx_check_trees(pt, check_visit, &cm);
    if (!rc)
        rc = freelist_check(pt, check_visit, check_visit, &cm);
    if (rc) {
        snprintf(msg, msglen, "%s", pager_errmsg(db->p));
    } else if (cm.bad) {
        rc = BLAZEDB_CORRUPT;
        snprintf(msg, msglen, "page %u is %s", cm.bad,
                 cm.dup ? "used twice" : "out of range");
    } else {
        uint64_t nfree = 0;
        for (Pgno pg = PAGER_FIRST_DATA_PGNO; pg < m->npages; pg++) {
            if (!cm.seen[pg]) {
                rc = BLAZEDB_CORRUPT;
                snprintf(msg, msglen, "page %u is neither used nor free (leaked)", pg);
                break;
            }
        }
        (void)nfree;
    }
    free(cm.seen);
    pager_commit(pt);
    return (BlazeDBResult)rc;
}
