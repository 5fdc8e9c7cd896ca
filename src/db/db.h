/*
 * db.h — internal entry points of the public-API layer, for tests and tools.
 *
 * Not exported from the shared library (hidden visibility); tests link the
 * static library.
 */
#ifndef BLAZEDB_DB_H
#define BLAZEDB_DB_H

#include <stddef.h>

#include "blazedb.h"
#include "../os/os.h"
#include "../pager/pager.h"

/* blazedb_open_ex with an explicit vfs (e.g. an os_fault vfs).  vfs == NULL
 * means os_default_vfs(). */
BlazeDBResult db_open_vfs(const char *path, const char *password,
                          const BlazeDBOptions *opts, OsVfs *vfs,
                          BlazeDB **out);

/*
 * Structural check of the latest snapshot: every page of every tree
 * authenticates, B+tree invariants hold, entry counts match, and every page
 * number below the high-water mark is used exactly once (by a tree, by the
 * free tree, or as a recorded free page) — no leak, no double use.
 * Returns BLAZEDB_OK, or BLAZEDB_CORRUPT with a description in msg.
 */
BlazeDBResult db_check(BlazeDB *db, char *msg, size_t msglen);

/* ---- for the other public-API modules (collection.c, docapi.c) ---------- */

int db_handle_ok(BlazeDB *db);              /* an open handle */
Pager *db_pager(BlazeDB *db);
size_t db_max_key(BlazeDB *db);             /* largest key of this database */
BlazeDB *db_txn_db(BlazeDBTxn *t);
PagerTxn *db_txn_pt(BlazeDBTxn *t);
/* OK for a usable write transaction; READONLY or MISUSE (earlier failure)
 * with the message set otherwise. */
BlazeDBResult db_txn_writable(BlazeDBTxn *t);
/* A write failed midway: poison the transaction (see blazedb_txn_commit). */
void db_txn_mark_failed(BlazeDBTxn *t, BlazeDBResult rc);
/*
 * One call of the collection-level API (collection.c, indexapi.c, the
 * SQL writes): db_call_begin runs it in the caller's transaction `txn` —
 * inside a new savepoint when it writes, so that a failure undoes exactly
 * the call and leaves the transaction usable — or, with txn == NULL, in a
 * transaction of its own.  db_call_end commits or releases on rc == OK,
 * aborts or rolls back otherwise (keeping the failure's message), and
 * returns the call's result.
 */
typedef struct {
    BlazeDB *db;
    BlazeDBTxn *t;
    PagerTxn *pt;
    int own;            /* our own transaction: commit or abort at the end */
    int bare;           /* our own snapshot, t == NULL (db_call_begin_read) */
    size_t sp;          /* savepoint level in the caller's write txn, or 0 */
} DbCall;
BlazeDBResult db_call_begin(BlazeDB *db, BlazeDBTxn *txn, int write, DbCall *c);
/* A read that ends within the call (a get, an exists, a count): with
 * txn == NULL it runs on a bare pager snapshot, c->t == NULL, without the
 * BlazeDBTxn a caller could see (no allocation, no registration), as the
 * byte-KV get does.  Observers are dispatched as at any transaction
 * begin.  Otherwise as db_call_begin(db, txn, 0, c). */
BlazeDBResult db_call_begin_read(BlazeDB *db, BlazeDBTxn *txn, DbCall *c);
BlazeDBResult db_call_end(DbCall *c, BlazeDBResult rc);

/* Writes docs[0..n) to collection coll in one call (one savepoint or
 * transaction, the collection's indexes loaded once, one catalog update):
 * COLL_INSERT is blazedb_insert_many, COLL_REPLACE and COLL_UPSERT are
 * blazedb_replace / blazedb_upsert for many documents (SQL UPDATE and
 * INSERT OR REPLACE).  COLL_KEEP_STAMPS: createdAt/updatedAt a document
 * already holds as dates are stored as they are (import), the others are
 * stamped as usual.  Stops at the first failure, which undoes the call. */
#define COLL_INSERT 0u
#define COLL_REPLACE 1u
#define COLL_UPSERT 2u
#define COLL_WRITE_KIND 3u
#define COLL_KEEP_STAMPS 0x10u
BlazeDBResult coll_write_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                              BlazeDBDoc *const *docs, size_t n, unsigned mode);

/* Observers (query.c): the handle's slot for them, the dispatcher (called
 * after each commit of a write transaction and at each transaction begin;
 * cheap when there are none), and their teardown at close. */
struct DbObs;
struct DbObs **db_obs_slot(BlazeDB *db);
void db_obs_dispatch(BlazeDB *db);
void db_obs_free(BlazeDB *db);
/* SQL (sqlapi.c): the handle's slot for its SQL state; db_sql_close ends
 * the handle's SQL transaction and detaches its statements (called first
 * by blazedb_close); sqlapi_init installs process-wide hooks (once).
 * db_interrupts: a counter blazedb_interrupt increments. */
struct DbSql;
struct DbSql **db_sql_slot(BlazeDB *db);
void db_sql_close(BlazeDB *db);
void sqlapi_init(void);
unsigned db_interrupts(BlazeDB *db);
/* docapi.c: stores v (owned, freed on failure) at path in doc. */
struct DocValue;
BlazeDBResult docapi_set_value(BlazeDBDoc *doc, const char *path, struct DocValue *v);
/* The id of the latest published commit. */
uint64_t db_published_txn(BlazeDB *db);
/* The commit a transaction reads (for a write transaction: the one it
 * will be). */
uint64_t db_txn_snapshot(BlazeDBTxn *t);

/* Documents (docapi.c).  docapi_from_binary_owned: a document backed by
 * the encoding buf[0..len) (malloc'd; owned by the document from now on,
 * freed on failure too), validated completely, no tree built; errors as
 * blazedb_doc_decode.  docapi_root: the document's tree, built once from
 * the bytes if needed (logically const; an empty object when out of
 * memory); valid until the document is changed or freed. */
struct DocValue;
BlazeDBResult docapi_from_binary_owned(uint8_t *buf, size_t len, BlazeDBDoc **out);
const struct DocValue *docapi_root(const BlazeDBDoc *d);

/* Sets the handle's message (printf-style) and returns rc. */
BlazeDBResult db_error(BlazeDB *db, BlazeDBResult rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Sets the calling thread's message for calls made without a handle (what
 * blazedb_errmsg(NULL) returns; printf-style) and returns rc.  For public
 * functions that take no BlazeDB (open, documents, ...).
 */
BlazeDBResult db_set_errmsg(BlazeDBResult rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* BLAZEDB_DB_H */
