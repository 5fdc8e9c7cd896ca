/*
 * collection.c — the public API for collections and their documents:
 * create/drop/rename/list, insert (one or many), get, exists, count,
 * replace, patch, upsert, delete, soft delete, purge, cursors, the change
 * log reader, and the run-in-a-transaction convenience.
 *
 * Every call takes (db, txn): with txn == NULL it runs in a transaction of
 * its own (committed when it succeeds); with a caller's write transaction a
 * write runs inside an internal savepoint, so a failure undoes exactly that
 * call and leaves the transaction usable.
 *
 * Documents are stored in their collection's B+tree (catalog.h) under their
 * `id`, in binary form.  Engine-maintained fields: id (string; a UUIDv7 when
 * absent), createdAt/updatedAt (dates, unless the collection was created
 * with BLAZEDB_COLL_NO_TIMESTAMPS) and isDeleted (soft delete).  Soft-
 * deleted ids are also listed in the catalog under "d" + collection id + id
 * so that purge touches only them.  Every write appends a change record.
 * Every write of a collection with indexes (CAT_F_HAS_INDEXES) brings its
 * indexes along (idx_set_update, from the stored bytes of the old version and
 * the new encoding), inside the same savepoint, so a unique violation
 * undoes the whole call; collections without indexes pay one flag test.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blazedb.h"
#include "db.h"
#include "monitor.h"
#include "../catalog/catalog.h"
#include "../crypto/crypto.h"
#include "../index/index.h"

/* Change records of this many recent commits are kept. */
#define CHANGES_KEEP_TXNS 10000u

/* ---- transactions ------------------------------------------------------------ */

typedef struct {
    DbCall c;           /* the transaction or savepoint of this call */
    IdxSet *ix;         /* the collection's indexes, loaded at the first
                           write that needs them (index_update) */
    int ix_loaded;
    int keep_stamps;    /* COLL_KEEP_STAMPS: dates a document carries stay */
    int seq_known;      /* next change-log sequence number known (this call) */
    uint32_t seq;
    int defer_cat;      /* store() leaves the catalog record to the caller */
} Tx;

/* tx_begin's mode besides 0 (read) and 1 (write): a read that ends within
 * the call, on a bare snapshot when the caller gave no transaction
 * (db_call_begin_read). */
#define TX_READ_BARE 2

static BlazeDBResult tx_begin(BlazeDB *db, BlazeDBTxn *txn, int mode, Tx *x)
{
    memset(x, 0, sizeof *x);
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    return mode == TX_READ_BARE ? db_call_begin_read(db, txn, &x->c)
                                : db_call_begin(db, txn, mode, &x->c);
}

static BlazeDBResult tx_end(Tx *x, BlazeDBResult rc)
{
    idx_set_free(x->ix);
    x->ix = NULL;
    return db_call_end(&x->c, rc);
}

/* ---- helpers ------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A UUIDv7 (RFC 9562) as 36 characters: 48-bit Unix ms, version 7, 12 bits
 * that count up within a millisecond (method 1) so ids of one process sort
 * in creation order, variant 10, 62 random bits.
 */
static pthread_mutex_t uuid_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t uuid_last_ms;
static uint32_t uuid_seq;

static int make_uuid7(char out[37])
{
    uint8_t b[16];
    if (crypto_random(b, sizeof b))
        return -1;
    pthread_mutex_lock(&uuid_mu);
    int64_t ms = now_ms();
    if (ms <= uuid_last_ms) {
        ms = uuid_last_ms;
        if (++uuid_seq > 0xfff) { /* 4096 in one ms: borrow the next ms */
            ms++;
            uuid_seq = 0;
        }
    } else {
        uuid_seq = b[6] & 0x3; /* start low, leave room to count */
    }
    uuid_last_ms = ms;
    uint32_t seq = uuid_seq;
    pthread_mutex_unlock(&uuid_mu);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)((uint64_t)ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (seq >> 8));
    b[7] = (uint8_t)seq;
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = 0;
    return 0;
}

static BlazeDBResult check_name(BlazeDB *db, const char *coll)
{
    if (!coll)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "collection name is NULL");
    if (cat_name_ok(coll, strlen(coll)))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                        "invalid collection name (1..%d bytes of UTF-8, no control characters)",
                        CAT_MAX_NAME);
    return BLAZEDB_OK;
}

static BlazeDBResult check_id(BlazeDB *db, const char *id, size_t len)
{
    if (!id)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "id is NULL");
    if (len == 0)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "id is empty");
    if (len > db_max_key(db))
        return db_error(db, BLAZEDB_TOO_BIG, "id of %zu bytes exceeds the limit of %zu", len,
                        db_max_key(db));
    return BLAZEDB_OK;
}

/* The collection's record; NOT_FOUND (with a message) when absent, or, with
 * create, creates it with default options. */
static BlazeDBResult load_coll(Tx *x, const char *coll, int create, CatColl *c)
{
    size_t n = strlen(coll);
    int rc = cat_get(x->c.pt, coll, n, c);
    if (rc == BLAZEDB_NOT_FOUND && create)
        rc = cat_create(x->c.pt, coll, n, 0, (uint64_t)now_ms(), c);
    if (rc == BLAZEDB_NOT_FOUND)
        return db_error(x->c.db, BLAZEDB_NOT_FOUND, "no collection '%s'", coll);
    return (BlazeDBResult)rc;
}

static int is_soft_deleted(const BlazeDBDoc *d)
{
    /* asked of every document read: blazedb_doc_type first, since a
     * getter that finds nothing formats an error message */
    int v = 0;
    return blazedb_doc_type(d, "isDeleted") == BLAZEDB_TYPE_BOOL &&
           blazedb_doc_get_bool(d, "isDeleted", &v) == BLAZEDB_OK && v;
}

/* Reads a stored document (soft-deleted ones included).  NOT_FOUND when
 * absent.  With `raw` (may be NULL), a collection with indexes also gets a
 * copy of the stored bytes (*bytes long; free() it) for idx_set_update, since
 * the document may be changed before it is stored again; otherwise *raw is
 * NULL. */
static BlazeDBResult read_doc(Tx *x, CatColl *c, const char *id, size_t idlen,
                              BlazeDBDoc **out, size_t *bytes, uint8_t **raw)
{
    *out = NULL;
    if (raw)
        *raw = NULL;
    void *v = NULL;
    size_t vl = 0;
    int rc = c->docs.root.pgno ? btree_get(x->c.pt, &c->docs, id, idlen, &v, &vl)
                               : BLAZEDB_NOT_FOUND;
    if (rc)
        return (BlazeDBResult)rc;
    if (raw && (c->flags & CAT_F_HAS_INDEXES)) {
        if (!(*raw = malloc(vl ? vl : 1))) {
            free(v);
            return db_error(x->c.db, BLAZEDB_NOMEM, "out of memory");
        }
        memcpy(*raw, v, vl);
    }
    rc = docapi_from_binary_owned(v, vl, out); /* takes v; no copy, no tree */
    if (rc) {
        if (raw) {
            free(*raw);
            *raw = NULL;
        }
        return db_error(x->c.db, BLAZEDB_CORRUPT, "stored document '%.*s' does not decode: %s",
                        (int)idlen, id, blazedb_errmsg(NULL));
    }
    if (bytes)
        *bytes = vl;
    return BLAZEDB_OK;
}

/* Brings c's indexes from oldbin to newbin (either may be NULL) for
 * document `id`; a unique violation's message names the index and the id
 * that holds the value. */
static int index_update(Tx *x, const CatColl *c, const char *id, size_t idlen,
                        const uint8_t *oldbin, size_t oldlen, const uint8_t *newbin,
                        size_t newlen)
{
    char err[512] = "";
    int r = BLAZEDB_OK;
    if (!x->ix_loaded) {
        r = idx_set_load(x->c.pt, c, &x->ix, err, sizeof err);
        x->ix_loaded = r == BLAZEDB_OK;
    }
    if (r == BLAZEDB_OK)
        r = idx_set_update(x->c.pt, x->ix, id, idlen, oldbin, oldlen, newbin, newlen, err,
                           sizeof err);
    if (r && err[0])
        db_error(x->c.db, (BlazeDBResult)r, "%s", err);
    return r;
}

/* "d" + u64 collection id BE + id: the soft-deleted list. */
static size_t del_key(const CatColl *c, const char *id, size_t idlen, uint8_t *k)
{
    k[0] = 'd';
    for (int i = 0; i < 8; i++)
        k[1 + i] = (uint8_t)(c->id >> (56 - 8 * i));
    memcpy(k + 9, id, idlen);
    return 9 + idlen;
}

static int mark_deleted(Tx *x, const CatColl *c, const char *id, size_t idlen, int on)
{
    uint8_t *k = malloc(9 + idlen);
    if (!k)
        return BLAZEDB_NOMEM;
    size_t kl = del_key(c, id, idlen, k);
    PagerRoot *cat = &pager_txn_meta(x->c.pt)->roots[PAGER_ROOT_CATALOG];
    int rc = on ? btree_put(x->c.pt, cat, k, kl, "", 0, NULL) : btree_delete(x->c.pt, cat, k, kl, NULL);
    free(k);
    return rc;
}

/* Appends a change record, first trimming records that fell out of the
 * kept window (done by the first change of a transaction). */
static int log_change(Tx *x, int kind, const CatColl *c, const char *coll, const char *id,
                      size_t idlen, const void *doc, size_t doclen)
{
    /* seq = 1 + the last seq this transaction used (looked up once per
     * call: within one call nobody else writes) */
    PagerRoot *root = &pager_txn_meta(x->c.pt)->roots[PAGER_ROOT_CHANGES];
    uint64_t txn = pager_txn_id(x->c.pt);
    uint32_t seq = x->seq_known ? x->seq : 0;
    if (root->count && !x->seq_known) {
        uint8_t k[12];
        for (int i = 0; i < 8; i++)
            k[i] = (uint8_t)(txn >> (56 - 8 * i));
        memset(k + 8, 0xff, 4);
        BtCursor *cur;
        int rc = btc_open(x->c.pt, root, &cur);
        if (rc)
            return rc;
        rc = btc_seek_le(cur, k, sizeof k, NULL);
        const void *key;
        size_t kl;
        if (rc == BLAZEDB_OK && (rc = btc_key(cur, &key, &kl)) == BLAZEDB_OK && kl == 12 &&
            memcmp(key, k, 8) == 0) {
            const uint8_t *kb = key;
            seq = ((uint32_t)kb[8] << 24 | (uint32_t)kb[9] << 16 | (uint32_t)kb[10] << 8 |
                   kb[11]) + 1;
        }
        btc_close(cur);
        if (rc && rc != BLAZEDB_NOT_FOUND)
            return rc;
    }
    if (seq == 0 && txn > CHANGES_KEEP_TXNS) {
        int rc = cat_changes_trim(x->c.pt, txn - CHANGES_KEEP_TXNS);
        if (rc)
            return rc;
    }
    int rc = cat_change(x->c.pt, &seq, kind, c, coll, strlen(coll), id, idlen, doc, doclen);
    if (rc == BLAZEDB_OK) {
        x->seq = seq;
        x->seq_known = 1;
    }
    return rc;
}

/*
 * Stores `d` (already carrying its id and timestamps) under `id`: encodes,
 * writes, keeps the collection's counters, the soft-deleted list and the
 * change log, and the collection's indexes.  `old_bytes`/`old_deleted`
 * describe the document it replaces (old_bytes == 0: none); `oldbin` is its
 * stored encoding, needed (and non-NULL) when the collection has indexes.
 */
static BlazeDBResult store(Tx *x, const char *coll, CatColl *c, const char *id, size_t idlen,
                           BlazeDBDoc *d, const uint8_t *oldbin, size_t old_bytes,
                           int old_deleted, int kind)
{
    void *bin = NULL;
    size_t blen = 0;
    BlazeDBResult rc = blazedb_doc_encode(d, &bin, &blen);
    if (rc)
        return db_error(x->c.db, rc, "%s", blazedb_errmsg(NULL));
    int now_deleted = is_soft_deleted(d);
    int replaced = 0;
    int r = btree_put(x->c.pt, &c->docs, id, idlen, bin, blen, &replaced);
    if (r == BLAZEDB_OK && (c->flags & CAT_F_HAS_INDEXES))
        r = index_update(x, c, id, idlen, oldbin, oldbin ? old_bytes : 0, bin, blen);
    if (r == BLAZEDB_OK) {
        c->bytes = c->bytes - old_bytes + blen;
        c->deleted = c->deleted - (old_deleted ? 1 : 0) + (now_deleted ? 1 : 0);
        if (old_deleted != now_deleted)
            r = mark_deleted(x, c, id, idlen, now_deleted);
    }
    if (r == BLAZEDB_OK && !x->defer_cat)
        r = cat_put(x->c.pt, coll, strlen(coll), c);
    if (r == BLAZEDB_OK)
        r = log_change(x, now_deleted ? CAT_CHANGE_DELETE : kind, c, coll, id, idlen, bin, blen);
    blazedb_free(bin);
    return (BlazeDBResult)r;
}

/* The document's id: its "id" string, or a new UUIDv7 stored into it. */
static BlazeDBResult doc_id(BlazeDB *db, BlazeDBDoc *d, const char **id, size_t *len)
{
    BlazeDBType ty = blazedb_doc_type(d, "id");
    if (ty == BLAZEDB_TYPE_MISSING) {
        char u[37];
        if (make_uuid7(u))
            return db_error(db, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
        BlazeDBResult rc = blazedb_doc_set_string(d, "id", u);
        if (rc)
            return db_error(db, rc, "%s", blazedb_errmsg(NULL));
    } else if (ty != BLAZEDB_TYPE_STRING) {
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the document's id must be a string");
    }
    blazedb_doc_get_string(d, "id", id, len);
    return check_id(db, *id, *len);
}

/* Sets createdAt (to `created`, or now when 0) and updatedAt (now), unless
 * the collection keeps no timestamps; with `keep`, a field the document
 * already holds as a date stays (import). */
static BlazeDBResult stamp(BlazeDB *db, const CatColl *c, BlazeDBDoc *d, int64_t created,
                           int keep)
{
    if (c->flags & CAT_F_NO_TIMESTAMPS)
        return BLAZEDB_OK;
    int64_t now = now_ms();
    BlazeDBResult rc = BLAZEDB_OK;
    if (!keep || blazedb_doc_type(d, "createdAt") != BLAZEDB_TYPE_DATE)
        rc = blazedb_doc_set_date(d, "createdAt", created ? created : now);
    if (!rc && (!keep || blazedb_doc_type(d, "updatedAt") != BLAZEDB_TYPE_DATE))
        rc = blazedb_doc_set_date(d, "updatedAt", now);
    return rc ? db_error(db, rc, "%s", blazedb_errmsg(NULL)) : BLAZEDB_OK;
}

/* For a change to live document `id`: the collection's record and the
 * stored document (NOT_FOUND with a message when either is absent, or the
 * document is soft-deleted). */
static BlazeDBResult load_live_for_update(Tx *x, const char *coll, const char *id, CatColl *c,
                                          BlazeDBDoc **d, size_t *old_bytes, uint8_t **raw)
{
    BlazeDBResult rc = load_coll(x, coll, 0, c);
    if (rc == BLAZEDB_OK)
        rc = read_doc(x, c, id, strlen(id), d, old_bytes, raw);
    if (rc == BLAZEDB_OK && is_soft_deleted(*d))
        rc = BLAZEDB_NOT_FOUND;
    if (rc == BLAZEDB_NOT_FOUND)
        db_error(x->c.db, rc, "no document '%s' in '%s'", id, coll);
    return rc;
}

/* ---- collections ----------------------------------------------------------------- */

void blazedb_collection_options_init(BlazeDBCollectionOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

BlazeDBResult blazedb_collection_create(BlazeDB *db, BlazeDBTxn *txn, const char *name,
                                        const BlazeDBCollectionOptions *opts)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, name)))
        return rc;
    uint32_t flags = 0;
    if (opts) {
        if (opts->struct_size < sizeof(uint32_t) * 2 || opts->struct_size > sizeof *opts)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                            "options.struct_size is wrong; use blazedb_collection_options_init");
        if (opts->flags & ~BLAZEDB_COLL_NO_TIMESTAMPS)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown collection flags 0x%x",
                            opts->flags);
        if (opts->flags & BLAZEDB_COLL_NO_TIMESTAMPS)
            flags |= CAT_F_NO_TIMESTAMPS;
    }
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    CatColl c;
    rc = (BlazeDBResult)cat_create(x.c.pt, name, strlen(name), flags, (uint64_t)now_ms(), &c);
    return tx_end(&x, rc);
}

BlazeDBResult blazedb_collection_drop(BlazeDB *db, BlazeDBTxn *txn, const char *name)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, name)))
        return rc;
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    CatColl c;
    rc = load_coll(&x, name, 0, &c);
    if (rc == BLAZEDB_OK) {
        /* its soft-deleted list goes too */
        uint8_t k[9];
        del_key(&c, "", 0, k);
        PagerRoot *cat = &pager_txn_meta(x.c.pt)->roots[PAGER_ROOT_CATALOG];
        for (uint64_t i = 0; rc == BLAZEDB_OK && i < c.deleted; i++) {
            BtCursor *cur;
            if ((rc = (BlazeDBResult)btc_open(x.c.pt, cat, &cur)))
                break;
            const void *key;
            size_t kl = 0;
            uint8_t *copy = NULL;
            rc = (BlazeDBResult)btc_seek(cur, k, sizeof k, NULL);
            if (rc == BLAZEDB_OK && (rc = (BlazeDBResult)btc_key(cur, &key, &kl)) == BLAZEDB_OK &&
                kl >= 9 && memcmp(key, k, 9) == 0 && (copy = malloc(kl)))
                memcpy(copy, key, kl);
            btc_close(cur);
            if (rc == BLAZEDB_NOT_FOUND || (rc == BLAZEDB_OK && !copy)) {
                rc = BLAZEDB_OK;
                break;
            }
            if (rc == BLAZEDB_OK)
                rc = (BlazeDBResult)btree_delete(x.c.pt, cat, copy, kl, NULL);
            free(copy);
        }
    }
    if (rc == BLAZEDB_OK)
        rc = (BlazeDBResult)idx_drop_all(x.c.pt, c.id);
    if (rc == BLAZEDB_OK)
        rc = (BlazeDBResult)cat_drop(x.c.pt, name, strlen(name));
    return tx_end(&x, rc);
}

BlazeDBResult blazedb_collection_rename(BlazeDB *db, BlazeDBTxn *txn, const char *from,
                                        const char *to)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, from)) || (rc = check_name(db, to)))
        return rc;
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    rc = (BlazeDBResult)cat_rename(x.c.pt, from, strlen(from), to, strlen(to));
    return tx_end(&x, rc);
}

typedef struct {
    char **names;
    size_t n, cap;
    size_t bytes;
} NameList;

static int add_name(const char *name, size_t len, const CatColl *c, void *arg)
{
    (void)c;
    NameList *l = arg;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nn = realloc(l->names, nc * sizeof *nn);
        if (!nn)
            return BLAZEDB_NOMEM;
        l->names = nn;
        l->cap = nc;
    }
    char *s = malloc(len + 1);
    if (!s)
        return BLAZEDB_NOMEM;
    memcpy(s, name, len);
    s[len] = 0;
    l->names[l->n++] = s;
    l->bytes += len + 1;
    return 0;
}

BlazeDBResult blazedb_collection_list(BlazeDB *db, BlazeDBTxn *txn, char ***names, size_t *n)
{
    if (names)
        *names = NULL;
    if (n)
        *n = 0;
    if (!names || !n)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "names or n is NULL");
    Tx x;
    BlazeDBResult rc = tx_begin(db, txn, TX_READ_BARE, &x);
    if (rc)
        return rc;
    NameList l = {0};
    rc = (BlazeDBResult)cat_each(x.c.pt, add_name, &l);
    if (rc == BLAZEDB_OK) {
        /* one block: the pointer array, then the strings */
        char **out = malloc((l.n + 1) * sizeof *out + l.bytes);
        if (!out) {
            rc = BLAZEDB_NOMEM;
        } else {
            char *p = (char *)(out + l.n + 1);
            for (size_t i = 0; i < l.n; i++) {
                size_t len = strlen(l.names[i]) + 1;
                memcpy(p, l.names[i], len);
                out[i] = p;
                p += len;
            }
            out[l.n] = NULL;
            *names = out;
            *n = l.n;
        }
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.names[i]);
    free(l.names);
    return tx_end(&x, rc);
}

BlazeDBResult blazedb_count(BlazeDB *db, BlazeDBTxn *txn, const char *coll, uint64_t *n)
{
    if (n)
        *n = 0;
    BlazeDBResult rc;
    if (!n)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "n is NULL");
    if ((rc = check_name(db, coll)))
        return rc;
    Tx x;
    if ((rc = tx_begin(db, txn, TX_READ_BARE, &x)))
        return rc;
    CatColl c;
    rc = load_coll(&x, coll, 0, &c);
    if (rc == BLAZEDB_OK)
        *n = c.docs.count - c.deleted;
    return tx_end(&x, rc);
}

/* ---- writes -------------------------------------------------------------------- */

static BlazeDBResult insert_one(Tx *x, const char *coll, CatColl *c, BlazeDBDoc *doc)
{
    const char *id;
    size_t idlen;
    BlazeDBResult rc = doc_id(x->c.db, doc, &id, &idlen);
    if (rc)
        return rc;
    if (c->docs.root.pgno) {
        void *v = NULL;
        size_t vl;
        int r = btree_get(x->c.pt, &c->docs, id, idlen, &v, &vl);
        free(v);
        if (r == BLAZEDB_OK)
            return db_error(x->c.db, BLAZEDB_EXISTS,
                            "a document with id '%.*s' already exists in '%s'", (int)idlen, id,
                            coll);
        if (r != BLAZEDB_NOT_FOUND)
            return (BlazeDBResult)r;
    }
    if ((rc = stamp(x->c.db, c, doc, 0, x->keep_stamps)))
        return rc;
    /* stamping may have moved the id string: fetch it again */
    blazedb_doc_get_string(doc, "id", &id, &idlen);
    return store(x, coll, c, id, idlen, doc, NULL, 0, 0, CAT_CHANGE_INSERT);
}

BlazeDBResult blazedb_insert(BlazeDB *db, BlazeDBTxn *txn, const char *coll, BlazeDBDoc *doc)
{
    return blazedb_insert_many(db, txn, coll, &doc, 1);
}

BlazeDBResult blazedb_insert_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                  BlazeDBDoc *const *docs, size_t n)
{
    return coll_write_many(db, txn, coll, docs, n, COLL_INSERT);
}

/* Replaces (upsert: or inserts) one document inside call x on collection
 * c (the caller stores c's record unless x->defer_cat is 0). */
static BlazeDBResult put_one(Tx *x, const char *coll, CatColl *c, BlazeDBDoc *doc, int upsert)
{
    BlazeDB *db = x->c.db;
    if (!upsert && blazedb_doc_type(doc, "id") == BLAZEDB_TYPE_MISSING)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "replace needs the document's id");
    const char *id;
    size_t idlen;
    BlazeDBDoc *old = NULL;
    uint8_t *oldbin = NULL;
    size_t old_bytes = 0;
    BlazeDBResult rc = doc_id(db, doc, &id, &idlen);
    if (rc == BLAZEDB_OK) {
        rc = read_doc(x, c, id, idlen, &old, &old_bytes, &oldbin);
        if (rc == BLAZEDB_NOT_FOUND && !upsert)
            db_error(db, rc, "no document '%.*s' in '%s'", (int)idlen, id, coll);
    }
    if (rc == BLAZEDB_OK && !upsert && is_soft_deleted(old)) {
        rc = db_error(db, BLAZEDB_NOT_FOUND, "document '%.*s' in '%s' is deleted", (int)idlen,
                      id, coll);
    }
    if (rc == BLAZEDB_NOT_FOUND && upsert) {
        rc = insert_one(x, coll, c, doc);
    } else if (rc == BLAZEDB_OK) {
        int was_deleted = is_soft_deleted(old);
        int64_t created = 0;
        if (!was_deleted)
            blazedb_doc_get_date(old, "createdAt", &created);
        /* a replacement is a live document unless it says otherwise */
        rc = stamp(db, c, doc, created, x->keep_stamps);
        if (rc == BLAZEDB_OK) {
            blazedb_doc_get_string(doc, "id", &id, &idlen);
            rc = store(x, coll, c, id, idlen, doc, oldbin, old_bytes, was_deleted,
                       was_deleted ? CAT_CHANGE_INSERT : CAT_CHANGE_UPDATE);
        }
    }
    blazedb_doc_free(old);
    free(oldbin);
    return rc;
}

BlazeDBResult coll_write_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                              BlazeDBDoc *const *docs, size_t n, unsigned mode)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, coll)))
        return rc;
    if (n && !docs)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "docs is NULL");
    for (size_t i = 0; i < n; i++)
        if (!docs[i])
            return db_error(db, BLAZEDB_INVALID_ARGUMENT, "document %zu is NULL", i);
    unsigned kind = mode & COLL_WRITE_KIND;
    uint64_t t0 = mon_now();
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    x.keep_stamps = (mode & COLL_KEEP_STAMPS) != 0;
    CatColl c;
    rc = load_coll(&x, coll, kind != COLL_REPLACE, &c);
    x.defer_cat = 1; /* one catalog update for the whole batch */
    for (size_t i = 0; rc == BLAZEDB_OK && i < n; i++)
        rc = kind == COLL_INSERT ? insert_one(&x, coll, &c, docs[i])
                                 : put_one(&x, coll, &c, docs[i], kind == COLL_UPSERT);
    if (rc == BLAZEDB_OK)
        rc = (BlazeDBResult)cat_put(x.c.pt, coll, strlen(coll), &c);
    return mon_end(db_monitor(db), kind == COLL_INSERT ? MON_DOC_INSERT : MON_DOC_UPDATE, t0,
                   tx_end(&x, rc));
}

static BlazeDBResult put_doc(BlazeDB *db, BlazeDBTxn *txn, const char *coll, BlazeDBDoc *doc,
                             int upsert)
{
    return coll_write_many(db, txn, coll, &doc, 1, upsert ? COLL_UPSERT : COLL_REPLACE);
}

BlazeDBResult blazedb_replace(BlazeDB *db, BlazeDBTxn *txn, const char *coll, BlazeDBDoc *doc)
{
    return put_doc(db, txn, coll, doc, 0);
}

BlazeDBResult blazedb_upsert(BlazeDB *db, BlazeDBTxn *txn, const char *coll, BlazeDBDoc *doc)
{
    return put_doc(db, txn, coll, doc, 1);
}

static int reserved_field(const char *path)
{
    return strcmp(path, "id") == 0 || strncmp(path, "id.", 3) == 0;
}

/*
 * Applies `set` to `d` as a deep merge: every non-object value of `set`, at
 * its path, replaces what `d` has there (creating objects on the way); an
 * object in `set` is descended into, except an empty one, which is stored
 * as is.  So {"address": {"city": "Oslo"}} changes only address.city.
 */
static BlazeDBResult merge(BlazeDB *db, BlazeDBDoc *d, const BlazeDBDoc *set, const char *prefix)
{
    size_t n = blazedb_doc_len(set, prefix);
    for (size_t i = 0; i < n; i++) {
        const char *name = blazedb_doc_field_name(set, prefix, i);
        if (!name || !*name || strchr(name, '.'))
            return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                            "patch field names must be non-empty and without '.'");
        size_t pl = strlen(prefix), nl = strlen(name);
        char *path = malloc(pl + nl + 2);
        if (!path)
            return db_error(db, BLAZEDB_NOMEM, "out of memory");
        if (pl) {
            memcpy(path, prefix, pl);
            path[pl] = '.';
            memcpy(path + pl + 1, name, nl + 1);
        } else {
            memcpy(path, name, nl + 1);
        }
        BlazeDBResult rc;
        if (blazedb_doc_type(set, path) == BLAZEDB_TYPE_OBJECT && blazedb_doc_len(set, path) &&
            (blazedb_doc_type(d, path) == BLAZEDB_TYPE_OBJECT ||
             blazedb_doc_type(d, path) == BLAZEDB_TYPE_ARRAY ||
             blazedb_doc_type(d, path) == BLAZEDB_TYPE_MISSING)) {
            rc = merge(db, d, set, path);
        } else {
            char *json = NULL;
            size_t jl = 0;
            rc = blazedb_doc_get_json(set, path, 0, &json, &jl);
            if (rc == BLAZEDB_OK)
                rc = blazedb_doc_set_json(d, path, json, jl);
            if (rc)
                db_error(db, rc, "patching '%s': %s", path, blazedb_errmsg(NULL));
            blazedb_free(json);
        }
        free(path);
        if (rc)
            return rc;
    }
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_patch(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *id,
                            const BlazeDBDoc *set, const char *const *unset, size_t nunset)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, coll)) || (rc = check_id(db, id, id ? strlen(id) : 0)))
        return rc;
    if (nunset && !unset)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unset is NULL");
    if (set && blazedb_doc_type(set, "id") != BLAZEDB_TYPE_MISSING)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "a patch cannot change the id");
    for (size_t i = 0; i < nunset; i++)
        if (!unset[i] || reserved_field(unset[i]))
            return db_error(db, BLAZEDB_INVALID_ARGUMENT, "a patch cannot remove the id");
    uint64_t t0 = mon_now();
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    size_t idlen = strlen(id);
    CatColl c;
    BlazeDBDoc *d = NULL;
    uint8_t *oldbin = NULL;
    size_t old_bytes = 0;
    rc = load_live_for_update(&x, coll, id, &c, &d, &old_bytes, &oldbin);
    if (rc == BLAZEDB_OK && set)
        rc = merge(db, d, set, "");
    for (size_t i = 0; rc == BLAZEDB_OK && i < nunset; i++) {
        rc = blazedb_doc_unset(d, unset[i]);
        if (rc)
            db_error(db, rc, "unsetting '%s': %s", unset[i], blazedb_errmsg(NULL));
    }
    if (rc == BLAZEDB_OK) {
        int64_t created = 0;
        blazedb_doc_get_date(d, "createdAt", &created);
        rc = stamp(db, &c, d, created, 0);
    }
    if (rc == BLAZEDB_OK)
        rc = store(&x, coll, &c, id, idlen, d, oldbin, old_bytes, 0, CAT_CHANGE_UPDATE);
    blazedb_doc_free(d);
    free(oldbin);
    return mon_end(db_monitor(db), MON_DOC_UPDATE, t0, tx_end(&x, rc));
}

/* ---- reads ------------------------------------------------------------------------ */

/* Reads live document `id` (NOT_FOUND with a message when absent or
 * soft-deleted; *coll_missing tells when the collection itself is). */
static BlazeDBResult get_live(Tx *x, const char *coll, const char *id, BlazeDBDoc **out,
                              int *coll_missing)
{
    CatColl c;
    *coll_missing = 0;
    BlazeDBResult rc = load_coll(x, coll, 0, &c);
    if (rc == BLAZEDB_NOT_FOUND) {
        *coll_missing = 1;
        return rc;
    }
    if (rc == BLAZEDB_OK)
        rc = read_doc(x, &c, id, strlen(id), out, NULL, NULL);
    if (rc == BLAZEDB_OK && is_soft_deleted(*out)) {
        blazedb_doc_free(*out);
        *out = NULL;
        rc = BLAZEDB_NOT_FOUND;
    }
    if (rc == BLAZEDB_NOT_FOUND)
        db_error(x->c.db, rc, "no document '%s' in '%s'", id, coll);
    return rc;
}

BlazeDBResult blazedb_get_doc(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *id,
                              BlazeDBDoc **out)
{
    if (out)
        *out = NULL;
    BlazeDBResult rc;
    if (!out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    if ((rc = check_name(db, coll)) || (rc = check_id(db, id, id ? strlen(id) : 0)))
        return rc;
    uint64_t t0 = mon_start(MON_DOC_GET);
    Tx x;
    if ((rc = tx_begin(db, txn, TX_READ_BARE, &x)))
        return rc;
    int missing;
    rc = get_live(&x, coll, id, out, &missing);
    return mon_end(db_monitor(db), MON_DOC_GET, t0, tx_end(&x, rc));
}

BlazeDBResult blazedb_get_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                               const char *const *ids, size_t n, BlazeDBDoc **out)
{
    BlazeDBResult rc;
    if (n && (!ids || !out))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "ids or out is NULL");
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if ((rc = check_name(db, coll)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_id(db, ids[i], ids[i] ? strlen(ids[i]) : 0)))
            return rc;
    uint64_t t0 = mon_start(MON_DOC_GET);
    Tx x;
    if ((rc = tx_begin(db, txn, TX_READ_BARE, &x)))
        return rc;
    CatColl c;
    rc = load_coll(&x, coll, 0, &c);
    for (size_t i = 0; rc == BLAZEDB_OK && i < n; i++) {
        rc = read_doc(&x, &c, ids[i], strlen(ids[i]), &out[i], NULL, NULL);
        if (rc == BLAZEDB_OK && is_soft_deleted(out[i])) {
            blazedb_doc_free(out[i]);
            out[i] = NULL;
        }
        if (rc == BLAZEDB_NOT_FOUND)
            rc = BLAZEDB_OK;
    }
    if (rc)
        for (size_t i = 0; i < n; i++) {
            blazedb_doc_free(out[i]);
            out[i] = NULL;
        }
    return mon_end(db_monitor(db), MON_DOC_GET, t0, tx_end(&x, rc));
}

BlazeDBResult blazedb_exists(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *id,
                             int *exists)
{
    if (exists)
        *exists = 0;
    BlazeDBResult rc;
    if (!exists)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "exists is NULL");
    if ((rc = check_name(db, coll)) || (rc = check_id(db, id, id ? strlen(id) : 0)))
        return rc;
    Tx x;
    if ((rc = tx_begin(db, txn, TX_READ_BARE, &x)))
        return rc;
    BlazeDBDoc *d = NULL;
    int missing;
    rc = get_live(&x, coll, id, &d, &missing);
    blazedb_doc_free(d);
    if (rc == BLAZEDB_OK)
        *exists = 1;
    else if (rc == BLAZEDB_NOT_FOUND && !missing)
        rc = BLAZEDB_OK;
    return tx_end(&x, rc);
}

/* ---- deletes ---------------------------------------------------------------------- */

/* Deletes one document for good.  NOT_FOUND when absent. */
static BlazeDBResult delete_one(Tx *x, const char *coll, CatColl *c, const char *id,
                                size_t idlen)
{
    BlazeDBDoc *old = NULL;
    uint8_t *oldbin = NULL;
    size_t old_bytes = 0;
    BlazeDBResult rc = read_doc(x, c, id, idlen, &old, &old_bytes, &oldbin);
    if (rc)
        return rc;
    int was_deleted = is_soft_deleted(old);
    blazedb_doc_free(old);
    int r = btree_delete(x->c.pt, &c->docs, id, idlen, NULL);
    /* a soft-deleted document has no entries */
    if (r == BLAZEDB_OK && oldbin && !was_deleted)
        r = index_update(x, c, id, idlen, oldbin, old_bytes, NULL, 0);
    free(oldbin);
    if (r == BLAZEDB_OK) {
        c->bytes -= old_bytes;
        if (was_deleted) {
            c->deleted--;
            r = mark_deleted(x, c, id, idlen, 0);
        }
    }
    if (r == BLAZEDB_OK)
        r = cat_put(x->c.pt, coll, strlen(coll), c);
    if (r == BLAZEDB_OK && !was_deleted)
        r = log_change(x, CAT_CHANGE_DELETE, c, coll, id, idlen, NULL, 0);
    return (BlazeDBResult)r;
}

BlazeDBResult blazedb_delete_doc(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *id)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, coll)) || (rc = check_id(db, id, id ? strlen(id) : 0)))
        return rc;
    uint64_t t0 = mon_now();
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    CatColl c;
    rc = load_coll(&x, coll, 0, &c);
    if (rc == BLAZEDB_OK)
        rc = delete_one(&x, coll, &c, id, strlen(id));
    if (rc == BLAZEDB_NOT_FOUND)
        db_error(db, rc, "no document '%s' in '%s'", id, coll);
    return mon_end(db_monitor(db), MON_DOC_DELETE, t0, tx_end(&x, rc));
}

BlazeDBResult blazedb_delete_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                  const char *const *ids, size_t n, uint64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (n && !ids)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "ids is NULL");
    if ((rc = check_name(db, coll)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_id(db, ids[i], ids[i] ? strlen(ids[i]) : 0)))
            return rc;
    uint64_t t0 = mon_now();
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    CatColl c;
    uint64_t count = 0;
    rc = load_coll(&x, coll, 0, &c);
    for (size_t i = 0; rc == BLAZEDB_OK && i < n; i++) {
        rc = delete_one(&x, coll, &c, ids[i], strlen(ids[i]));
        if (rc == BLAZEDB_OK)
            count++;
        else if (rc == BLAZEDB_NOT_FOUND)
            rc = BLAZEDB_OK;
    }
    rc = mon_end(db_monitor(db), MON_DOC_DELETE, t0, tx_end(&x, rc));
    if (rc == BLAZEDB_OK && deleted)
        *deleted = count;
    return rc;
}

/* Calls fn(id) for every document id of the collection, in order, on a
 * copy of the id (fn may modify the tree). */
static BlazeDBResult each_id(Tx *x, CatColl *c, BlazeDBResult (*fn)(Tx *, CatColl *, const char *,
                                                                     size_t, void *),
                             void *arg)
{
    uint8_t *last = NULL;
    size_t lastlen = 0;
    BlazeDBResult rc = BLAZEDB_OK;
    for (;;) {
        if (!c->docs.root.pgno)
            break;
        BtCursor *cur;
        if ((rc = (BlazeDBResult)btc_open(x->c.pt, &c->docs, &cur)))
            break;
        int exact = 0;
        rc = last ? (BlazeDBResult)btc_seek(cur, last, lastlen, &exact)
                  : (BlazeDBResult)btc_first(cur);
        if (rc == BLAZEDB_OK && exact)
            rc = (BlazeDBResult)btc_next(cur);
        const void *k;
        size_t kl = 0;
        if (rc == BLAZEDB_OK)
            rc = (BlazeDBResult)btc_key(cur, &k, &kl);
        uint8_t *copy = rc == BLAZEDB_OK ? malloc(kl) : NULL;
        if (copy)
            memcpy(copy, k, kl);
        btc_close(cur);
        if (rc == BLAZEDB_NOT_FOUND) {
            rc = BLAZEDB_OK;
            break;
        }
        if (rc)
            break;
        if (!copy) {
            rc = BLAZEDB_NOMEM;
            break;
        }
        free(last);
        last = copy;
        lastlen = kl;
        if ((rc = fn(x, c, (const char *)copy, kl, arg)))
            break;
    }
    free(last);
    return rc;
}

typedef struct {
    const char *coll;
    uint64_t count;
} DelAll;

static BlazeDBResult del_all_one(Tx *x, CatColl *c, const char *id, size_t idlen, void *arg)
{
    DelAll *a = arg;
    BlazeDBResult rc = delete_one(x, a->coll, c, id, idlen);
    if (rc == BLAZEDB_OK)
        a->count++;
    return rc;
}

BlazeDBResult blazedb_delete_all(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                 uint64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, coll)))
        return rc;
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    CatColl c;
    DelAll a = {coll, 0};
    rc = load_coll(&x, coll, 0, &c);
    if (rc == BLAZEDB_OK) {
        uint64_t live = c.docs.count - c.deleted;
        rc = each_id(&x, &c, del_all_one, &a);
        a.count = live;
    }
    rc = tx_end(&x, rc);
    if (rc == BLAZEDB_OK && deleted)
        *deleted = a.count;
    return rc;
}

BlazeDBResult blazedb_soft_delete(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *id)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, coll)) || (rc = check_id(db, id, id ? strlen(id) : 0)))
        return rc;
    uint64_t t0 = mon_now();
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    size_t idlen = strlen(id);
    CatColl c;
    BlazeDBDoc *d = NULL;
    uint8_t *oldbin = NULL;
    size_t old_bytes = 0;
    rc = load_live_for_update(&x, coll, id, &c, &d, &old_bytes, &oldbin);
    if (rc == BLAZEDB_OK && (rc = blazedb_doc_set_bool(d, "isDeleted", 1)))
        db_error(db, rc, "%s", blazedb_errmsg(NULL));
    if (rc == BLAZEDB_OK) {
        int64_t created = 0;
        blazedb_doc_get_date(d, "createdAt", &created);
        rc = stamp(db, &c, d, created, 0);
    }
    if (rc == BLAZEDB_OK)
        rc = store(&x, coll, &c, id, idlen, d, oldbin, old_bytes, 0, CAT_CHANGE_DELETE);
    blazedb_doc_free(d);
    free(oldbin);
    return mon_end(db_monitor(db), MON_DOC_DELETE, t0, tx_end(&x, rc));
}

BlazeDBResult blazedb_purge(BlazeDB *db, BlazeDBTxn *txn, const char *coll, uint64_t *purged)
{
    if (purged)
        *purged = 0;
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_name(db, coll)))
        return rc;
    Tx x;
    if ((rc = tx_begin(db, txn, 1, &x)))
        return rc;
    CatColl c;
    uint64_t count = 0;
    rc = load_coll(&x, coll, 0, &c);
    /* only the soft-deleted list is walked */
    PagerRoot *cat = &pager_txn_meta(x.c.pt)->roots[PAGER_ROOT_CATALOG];
    uint8_t prefix[9];
    del_key(&c, "", 0, prefix);
    while (rc == BLAZEDB_OK && c.deleted) {
        BtCursor *cur;
        if ((rc = (BlazeDBResult)btc_open(x.c.pt, cat, &cur)))
            break;
        const void *k;
        size_t kl = 0;
        uint8_t *id = NULL;
        rc = (BlazeDBResult)btc_seek(cur, prefix, sizeof prefix, NULL);
        if (rc == BLAZEDB_OK)
            rc = (BlazeDBResult)btc_key(cur, &k, &kl);
        if (rc == BLAZEDB_OK && (kl <= 9 || memcmp(k, prefix, 9) != 0))
            rc = db_error(db, BLAZEDB_CORRUPT, "the soft-deleted list of '%s' is short", coll);
        if (rc == BLAZEDB_OK && !(id = malloc(kl - 9)))
            rc = BLAZEDB_NOMEM;
        if (rc == BLAZEDB_OK)
            memcpy(id, (const uint8_t *)k + 9, kl - 9);
        btc_close(cur);
        if (rc == BLAZEDB_NOT_FOUND)
            rc = db_error(db, BLAZEDB_CORRUPT, "the soft-deleted list of '%s' is short", coll);
        if (rc == BLAZEDB_OK)
            rc = delete_one(&x, coll, &c, (const char *)id, kl - 9);
        if (rc == BLAZEDB_OK) {
            count++;
            /* a purged document leaves the feed as a delete */
            rc = (BlazeDBResult)log_change(&x, CAT_CHANGE_DELETE, &c, coll, (const char *)id,
                                           kl - 9, NULL, 0);
        }
        free(id);
    }
    rc = tx_end(&x, rc);
    if (rc == BLAZEDB_OK && purged)
        *purged = count;
    return rc;
}

/* ---- cursors ---------------------------------------------------------------------- */

struct BlazeDBDocCursor {
    BlazeDB *db;
    Tx x;
    CatColl c;
    char *coll;
    uint8_t *last;      /* id returned last (NULL: none yet) */
    size_t lastlen;
    char *start;        /* first id to return (>=), NULL: from the beginning */
    int done;
};

BlazeDBResult blazedb_doc_cursor_open(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                      const char *start_id, BlazeDBDocCursor **out)
{
    if (out)
        *out = NULL;
    BlazeDBResult rc;
    if (!out)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "out is NULL");
    if ((rc = check_name(db, coll)))
        return rc;
    BlazeDBDocCursor *c = calloc(1, sizeof *c);
    if (!c || !(c->coll = strdup(coll)) || (start_id && !(c->start = strdup(start_id)))) {
        if (c) {
            free(c->coll);
            free(c);
        }
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    c->db = db;
    if ((rc = tx_begin(db, txn, 0, &c->x))) {
        free(c->coll);
        free(c->start);
        free(c);
        return rc;
    }
    rc = load_coll(&c->x, coll, 0, &c->c);
    if (rc) {
        blazedb_doc_cursor_close(c);
        return rc;
    }
    *out = c;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_doc_cursor_next(BlazeDBDocCursor *c, BlazeDBDoc **doc)
{
    if (doc)
        *doc = NULL;
    if (!c || !doc)
        return BLAZEDB_INVALID_ARGUMENT;
    if (c->done)
        return BLAZEDB_NOT_FOUND;
    /* In a caller's write transaction the collection may have changed since
     * the last call: re-read its record. */
    if (!c->x.c.own && pager_txn_is_write(c->x.c.pt)) {
        BlazeDBResult r = load_coll(&c->x, c->coll, 0, &c->c);
        if (r)
            return r;
    }
    for (;;) {
        if (!c->c.docs.root.pgno) {
            c->done = 1;
            return BLAZEDB_NOT_FOUND;
        }
        BtCursor *cur;
        int rc = btc_open(c->x.c.pt, &c->c.docs, &cur);
        if (rc)
            return (BlazeDBResult)rc;
        int exact = 0;
        if (c->last)
            rc = btc_seek(cur, c->last, c->lastlen, &exact);
        else if (c->start)
            rc = btc_seek(cur, c->start, strlen(c->start), NULL);
        else
            rc = btc_first(cur);
        if (rc == BLAZEDB_OK && c->last && exact)
            rc = btc_next(cur);
        const void *k, *v;
        size_t kl = 0, vl = 0;
        if (rc == BLAZEDB_OK)
            rc = btc_key(cur, &k, &kl);
        if (rc == BLAZEDB_OK)
            rc = btc_value(cur, &v, &vl);
        if (rc == BLAZEDB_NOT_FOUND) {
            btc_close(cur);
            c->done = 1;
            return BLAZEDB_NOT_FOUND;
        }
        if (rc) {
            btc_close(cur);
            return (BlazeDBResult)rc;
        }
        uint8_t *copy = malloc(kl);
        if (!copy) {
            btc_close(cur);
            return db_error(c->db, BLAZEDB_NOMEM, "out of memory");
        }
        memcpy(copy, k, kl);
        free(c->last);
        c->last = copy;
        c->lastlen = kl;
        BlazeDBDoc *d = NULL;
        rc = blazedb_doc_decode(v, vl, &d);
        btc_close(cur);
        if (rc)
            return db_error(c->db, BLAZEDB_CORRUPT, "stored document '%.*s' does not decode: %s",
                            (int)kl, (const char *)copy, blazedb_errmsg(NULL));
        if (is_soft_deleted(d)) {
            blazedb_doc_free(d);
            continue;
        }
        *doc = d;
        return BLAZEDB_OK;
    }
}

void blazedb_doc_cursor_close(BlazeDBDocCursor *c)
{
    if (!c)
        return;
    if (c->x.c.own)
        blazedb_txn_abort(c->x.c.t);
    free(c->coll);
    free(c->start);
    free(c->last);
    free(c);
}

/* ---- change log ------------------------------------------------------------------ */

BlazeDBResult blazedb_changes(BlazeDB *db, BlazeDBTxn *txn, uint64_t after_txn,
                              int (*fn)(const BlazeDBChange *change, void *arg), void *arg,
                              uint64_t *last_txn)
{
    if (last_txn)
        *last_txn = after_txn;
    if (!fn)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "fn is NULL");
    Tx x;
    BlazeDBResult rc = tx_begin(db, txn, 0, &x);
    if (rc)
        return rc;
    PagerRoot *root = &pager_txn_meta(x.c.pt)->roots[PAGER_ROOT_CHANGES];
    uint64_t upto = after_txn;
    if (root->count) {
        BtCursor *cur;
        if ((rc = (BlazeDBResult)btc_open(x.c.pt, root, &cur)) == BLAZEDB_OK) {
            uint8_t k[12];
            uint64_t from = after_txn + 1;
            for (int i = 0; i < 8; i++)
                k[i] = (uint8_t)(from >> (56 - 8 * i));
            memset(k + 8, 0, 4);
            rc = (BlazeDBResult)btc_seek(cur, k, sizeof k, NULL);
            while (rc == BLAZEDB_OK) {
                const void *key, *val;
                size_t kl, vl;
                if ((rc = (BlazeDBResult)btc_key(cur, &key, &kl)) ||
                    (rc = (BlazeDBResult)btc_value(cur, &val, &vl)))
                    break;
                const uint8_t *kb = key, *vb = val;
                BlazeDBChange ch;
                memset(&ch, 0, sizeof ch);
                if (kl != 12 || vl < 13) {
                    rc = db_error(db, BLAZEDB_CORRUPT, "damaged change record");
                    break;
                }
                for (int i = 0; i < 8; i++)
                    ch.txn_id = (ch.txn_id << 8) | kb[i];
                ch.seq = (uint32_t)kb[8] << 24 | (uint32_t)kb[9] << 16 | (uint32_t)kb[10] << 8 |
                         kb[11];
                ch.kind = (BlazeDBChangeKind)vb[0];
                size_t nl = (size_t)vb[9] | (size_t)vb[10] << 8;
                if (11 + nl + 2 > vl) {
                    rc = db_error(db, BLAZEDB_CORRUPT, "damaged change record");
                    break;
                }
                ch.collection = (const char *)vb + 11;
                ch.collection_len = nl;
                size_t il = (size_t)vb[11 + nl] | (size_t)vb[12 + nl] << 8;
                if (13 + nl + il > vl) {
                    rc = db_error(db, BLAZEDB_CORRUPT, "damaged change record");
                    break;
                }
                ch.id = (const char *)vb + 13 + nl;
                ch.id_len = il;
                ch.doc = vb + 13 + nl + il;
                ch.doc_len = vl - 13 - nl - il;
                upto = ch.txn_id;
                if (fn(&ch, arg)) {
                    rc = BLAZEDB_OK;
                    break;
                }
                rc = (BlazeDBResult)btc_next(cur);
            }
            btc_close(cur);
            if (rc == BLAZEDB_NOT_FOUND)
                rc = BLAZEDB_OK;
        }
    }
    rc = tx_end(&x, rc);
    if (rc == BLAZEDB_OK && last_txn)
        *last_txn = upto;
    return rc;
}

/* ---- run in a transaction --------------------------------------------------------- */

BlazeDBResult blazedb_run_txn(BlazeDB *db, unsigned flags,
                              BlazeDBResult (*fn)(BlazeDBTxn *txn, void *arg), void *arg)
{
    if (!fn)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "fn is NULL");
    BlazeDBTxn *t = NULL;
    BlazeDBResult rc = blazedb_txn_begin(db, flags, &t);
    if (rc)
        return rc;
    rc = fn(t, arg);
    if (rc != BLAZEDB_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", blazedb_errmsg(db));
        blazedb_txn_abort(t);
        db_error(db, rc, "%s", msg);
        return rc;
    }
    return blazedb_txn_commit(t);
}
