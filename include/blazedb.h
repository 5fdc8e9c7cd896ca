/*
 * blazedb.h — the whole public API of libblazedb.
 *
 * BlazeDB is an encrypted, embedded database.  This header carries:
 *   1. the byte-KV C ABI of the original BlazeDB, unchanged (blazedb_open,
 *      blazedb_close, blazedb_put, blazedb_get, blazedb_delete, blazedb_free
 *      and the result codes 0..6), so programs written for it compile and
 *      behave the same;
 *   2. additions, only ever appended: extended open options, error messages,
 *      explicit transactions, range/prefix iterators, batch writes, password
 *      change, checkpoint and statistics.
 *
 * Conventions
 *   - Every function that can fail returns a BlazeDBResult.  The handle keeps a
 *     human-readable message for the last failure (blazedb_errmsg).
 *   - Memory returned to the caller is malloc'd by the library and released
 *     with blazedb_free() unless the function says otherwise.  Pointers that
 *     are "borrowed" stay valid only for the stated lifetime.
 *   - A BlazeDB handle may be used from several threads at once.  A
 *     BlazeDBTxn and a BlazeDBIterator belong to one thread at a time.
 *   - Keys are byte strings of 1..BLAZEDB_MAX_KEY bytes (1..1325 in a
 *     database created with 4096-byte pages); the original API takes
 *     them as NUL-terminated strings (the terminator is not part of the key).
 *     Keys order by memcmp, shorter first on a common prefix.
 *   - The library never prints, never calls exit() or abort() on bad input.
 */
#ifndef BLAZEDB_H
#define BLAZEDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(BLAZEDB_STATIC_ONLY)
#define BLAZEDB_API __attribute__((visibility("default")))
#else
#define BLAZEDB_API
#endif

#define BLAZEDB_VERSION_MAJOR 0
#define BLAZEDB_VERSION_MINOR 1
#define BLAZEDB_VERSION_PATCH 0
#define BLAZEDB_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Part 1: the original byte-KV ABI                                          */
/* ------------------------------------------------------------------------ */

/** An open database.  Opaque. */
typedef struct BlazeDB BlazeDB;

/** A cursor over a key range (reserved by the original; defined in part 2). */
typedef struct BlazeDBIterator BlazeDBIterator;

/** Result codes.  0..6 are the original's, with the original's meaning. */
typedef enum {
    BLAZEDB_OK = 0,               /* success */
    BLAZEDB_NOT_FOUND = 1,        /* key absent; iterator exhausted */
    BLAZEDB_IO_ERROR = 2,         /* the OS reported an I/O error */
    BLAZEDB_CORRUPT = 3,          /* a page, WAL frame or header failed
                                     authentication or a structural check, or
                                     the file is not a BlazeDB database */
    BLAZEDB_INVALID_ARGUMENT = 4, /* NULL where not allowed, bad option, ... */
    BLAZEDB_AUTH_FAILED = 5,      /* wrong password */
    BLAZEDB_INTERNAL_ERROR = 6,   /* a bug or an out-of-memory condition */
    /* Additions (appended; never renumbered). */
    BLAZEDB_BUSY = 7,             /* another writer or a lock was held past
                                     the busy timeout */
    BLAZEDB_READONLY = 8,         /* write on a read-only handle/transaction */
    BLAZEDB_FULL = 9,             /* the disk is full (ENOSPC/EDQUOT) or a
                                     size limit of the file was reached */
    BLAZEDB_TOO_BIG = 10,         /* key or value larger than the limits */
    BLAZEDB_MISUSE = 11,          /* API used out of order: a transaction
                                     already ended, a second write txn on the
                                     same thread, ... */
    BLAZEDB_FAILED = 12,          /* the handle hit an unrecoverable I/O error
                                     earlier and refuses further writes; close
                                     and reopen it (nothing committed is lost) */
    BLAZEDB_EXISTS = 13,          /* the object already exists (e.g. create
                                     with BLAZEDB_OPEN_EXCLUSIVE) */
    BLAZEDB_NOT_A_DATABASE = 14,  /* the file is not a BlazeDB database or
                                     has an unsupported format version */
    BLAZEDB_NOMEM = 15            /* out of memory (or the cache budget is too
                                     small for the operation) */
} BlazeDBResult;

/**
 * Opens the database at `path`, creating it when absent, encrypted under
 * `password` with default options (Argon2id key derivation).
 * Returns NULL on any failure, including a NULL or empty password and a wrong
 * password (use blazedb_open_ex to learn why).  Free with blazedb_close.
 */
BLAZEDB_API BlazeDB *blazedb_open(const char *path, const char *password);

/**
 * Closes the handle.  Iterators and transactions still open on it are
 * closed and rolled back first (their pointers become invalid).  No other
 * thread may be using the handle: closing does not wait.  When this is the last handle on the database (in
 * any process), the log is checkpointed into the main file and truncated.
 * NULL is ignored.  A call on a closed handle returns BLAZEDB_MISUSE (the
 * library remembers the last 1024 closed handles; beyond that, using a
 * closed handle is undefined, as with free()).  A handle must not be used
 * or closed in a child process after fork(); open a new one there.
 */
BLAZEDB_API void blazedb_close(BlazeDB *db);

/**
 * Stores `length` bytes at `data` under the NUL-terminated `key`, replacing
 * any earlier value (upsert).  One durable transaction.  `data` may be NULL
 * only when `length` is 0.
 */
BLAZEDB_API BlazeDBResult blazedb_put(BlazeDB *db, const char *key,
                                      const void *data, size_t length);

/**
 * Reads the value under `key`.  On BLAZEDB_OK, *data is a malloc'd copy the
 * caller releases with blazedb_free, and *length its size; a zero-length value
 * gives a non-NULL buffer and length 0.  On any other result *data = NULL and
 * *length = 0 (when those pointers are not NULL).
 */
BLAZEDB_API BlazeDBResult blazedb_get(BlazeDB *db, const char *key,
                                      void **data, size_t *length);

/** Deletes `key`.  BLAZEDB_OK also when the key was absent. */
BLAZEDB_API BlazeDBResult blazedb_delete(BlazeDB *db, const char *key);

/** Frees memory returned by the library.  NULL is ignored. */
BLAZEDB_API void blazedb_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Part 2: additions                                                         */
/* ------------------------------------------------------------------------ */

/** Largest key, in bytes, with pages of 8192 bytes (the default) or more. */
#define BLAZEDB_MAX_KEY 2048u
/** Largest value, in bytes (1 GiB). */
#define BLAZEDB_MAX_VALUE (1024u * 1024u * 1024u)

/* Open flags (BlazeDBOptions.flags). */
#define BLAZEDB_OPEN_CREATE    0x0001u /* create when absent (default on) */
#define BLAZEDB_OPEN_EXCLUSIVE 0x0002u /* with CREATE: fail with
                                          BLAZEDB_EXISTS if it exists */
#define BLAZEDB_OPEN_READONLY  0x0004u /* no writes through this handle */
#define BLAZEDB_OPEN_PLAINTEXT 0x0008u /* create an UNENCRYPTED database;
                                          pages still carry checksums.  An
                                          existing database keeps its mode. */

/** Key-derivation functions (BlazeDBOptions.kdf). */
typedef enum {
    BLAZEDB_KDF_DEFAULT = 0,       /* Argon2id */
    BLAZEDB_KDF_ARGON2ID = 1,
    BLAZEDB_KDF_PBKDF2_SHA256 = 2
} BlazeDBKdf;

/** How commits reach the disk (BlazeDBOptions.durability). */
typedef enum {
    BLAZEDB_DURABILITY_FULL = 0,   /* fdatasync before a commit returns
                                      (default): survives power loss */
    BLAZEDB_DURABILITY_NORMAL = 1, /* sync at checkpoints only: survives a
                                      crash of the process, may lose the last
                                      commits on power loss, never corrupts */
    BLAZEDB_DURABILITY_OFF = 2     /* never sync: for scratch data */
} BlazeDBDurability;

/**
 * Options for blazedb_open_ex.  Initialise with blazedb_options_init, then
 * change fields.  `struct_size` lets later versions append fields.
 */
typedef struct {
    uint32_t struct_size;       /* sizeof(BlazeDBOptions), set by init */
    uint32_t flags;             /* BLAZEDB_OPEN_*; default CREATE */
    BlazeDBKdf kdf;             /* used when creating, or by blazedb_rekey */
    uint32_t kdf_iterations;    /* PBKDF2 iterations (default 600000) or
                                   Argon2id passes (default 3); 0 = default */
    uint32_t kdf_memory_kib;    /* Argon2id memory (default 65536); 0 = default */
    uint32_t kdf_parallelism;   /* Argon2id lanes (default 1); 0 = default */
    uint32_t page_size;         /* at creation: 4096..65536, power of two;
                                   0 = 8192.  4096 limits keys to 1325
                                   bytes (see max_key_size in stats) */
    uint64_t cache_size;        /* page-cache budget in bytes; 0 = 64 MiB */
    uint32_t busy_timeout_ms;   /* wait for locks up to this long; default
                                   5000; 0 = fail at once with BUSY */
    BlazeDBDurability durability;
    uint32_t wal_autocheckpoint;/* checkpoint when the log holds this many
                                   pages; 0 = default (4096); UINT32_MAX =
                                   never automatically */
} BlazeDBOptions;

/** Fills `opts` with the defaults. */
BLAZEDB_API void blazedb_options_init(BlazeDBOptions *opts);

/**
 * Opens (or creates) a database.  `opts` may be NULL for the defaults.
 * On success *out is the handle.  On failure *out = NULL and the reason is
 * available from blazedb_errmsg(NULL) on the same thread.
 * Errors: INVALID_ARGUMENT (NULL path/out, NULL or empty password, bad
 * option), NOT_FOUND (absent and no CREATE), EXISTS, AUTH_FAILED,
 * NOT_A_DATABASE, CORRUPT, IO_ERROR, BUSY (another process is initialising
 * the file past the busy timeout), NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_open_ex(const char *path, const char *password,
                                          const BlazeDBOptions *opts,
                                          BlazeDB **out);

/**
 * The message for the last failure on `db` (or, with db == NULL, of the last
 * failed blazedb_open/blazedb_open_ex on the calling thread).  Borrowed: valid
 * until the next call on the same handle (same thread for NULL).  Never NULL.
 */
BLAZEDB_API const char *blazedb_errmsg(BlazeDB *db);

/** A static English name for a result code ("BLAZEDB_BUSY" -> "busy"). */
BLAZEDB_API const char *blazedb_strerror(BlazeDBResult rc);

/** Library version string, e.g. "0.1.0". */
BLAZEDB_API const char *blazedb_version(void);

/* --- Binary-key variants of the one-shot calls -------------------------- */

BLAZEDB_API BlazeDBResult blazedb_put2(BlazeDB *db, const void *key, size_t klen,
                                       const void *data, size_t length);
BLAZEDB_API BlazeDBResult blazedb_get2(BlazeDB *db, const void *key, size_t klen,
                                       void **data, size_t *length);
BLAZEDB_API BlazeDBResult blazedb_delete2(BlazeDB *db, const void *key,
                                          size_t klen);

/** One item of a batch write.  value == NULL with vlen == 0 and
 *  `del` != 0 deletes the key. */
typedef struct {
    const void *key;
    size_t klen;
    const void *value;
    size_t vlen;
    int del;
} BlazeDBWrite;

/** Applies `n` writes in one durable transaction (all or nothing). */
BLAZEDB_API BlazeDBResult blazedb_write_batch(BlazeDB *db,
                                              const BlazeDBWrite *items,
                                              size_t n);

/* --- Transactions -------------------------------------------------------- */

/** A transaction.  Opaque; one thread at a time. */
typedef struct BlazeDBTxn BlazeDBTxn;

#define BLAZEDB_TXN_READONLY 0x1u

/**
 * Begins a transaction.  A read transaction sees the snapshot of the last
 * commit at the time it began, never blocks and is never blocked.  A write
 * transaction is exclusive across threads and processes: it waits up to the
 * busy timeout for the previous writer, then fails with BLAZEDB_BUSY.  Begin
 * costs O(1).  A thread must not begin a second write transaction on the
 * same handle while it holds one (BLAZEDB_MISUSE... it would deadlock).
 * On success *out must be ended with blazedb_txn_commit or blazedb_txn_abort.
 */
BLAZEDB_API BlazeDBResult blazedb_txn_begin(BlazeDB *db, unsigned flags,
                                            BlazeDBTxn **out);

/**
 * Commits and frees the transaction.  For a write transaction, returns only
 * once the commit is durable (per the durability option).  On failure the
 * transaction is rolled back and freed all the same.  Committing a read
 * transaction just ends it.  NULL: INVALID_ARGUMENT.  A write transaction
 * with iterators still open is rolled back (MISUSE).  Iterators still open on
 * the transaction when it ends answer MISUSE from then on and must still be
 * closed with blazedb_iter_close.
 */
BLAZEDB_API BlazeDBResult blazedb_txn_commit(BlazeDBTxn *txn);

/** Rolls back and frees the transaction.  NULL is ignored. */
BLAZEDB_API void blazedb_txn_abort(BlazeDBTxn *txn);

/**
 * Savepoints: nested marks inside a write transaction.  blazedb_savepoint
 * opens one and sets *level to its depth (1 for the outermost, 2 inside it,
 * ...).  blazedb_savepoint_rollback(txn, L) undoes every change made since
 * savepoint L was opened; L stays open and the savepoints inside it are
 * discarded.  blazedb_savepoint_release(txn, L) closes L and those inside it,
 * keeping their changes.  Opening costs O(1) (plus a copy of the small page
 * allocation pool); afterwards each page changed for the first time keeps a
 * copy of its old content, so memory grows with the pages changed, not with
 * the database.  A write that failed inside a savepoint is undone by rolling
 * back to it, after which the transaction can go on and commit.  Savepoints
 * end with the transaction.  Errors: READONLY in a read transaction, MISUSE
 * for a level that is not open, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_savepoint(BlazeDBTxn *txn, size_t *level);
BLAZEDB_API BlazeDBResult blazedb_savepoint_rollback(BlazeDBTxn *txn, size_t level);
BLAZEDB_API BlazeDBResult blazedb_savepoint_release(BlazeDBTxn *txn, size_t level);

/** Upsert inside a write transaction (READONLY in a read one). */
BLAZEDB_API BlazeDBResult blazedb_txn_put(BlazeDBTxn *txn, const void *key,
                                          size_t klen, const void *data,
                                          size_t length);
/** Read inside a transaction; sees the transaction's own writes.  *data is a
 *  malloc'd copy as in blazedb_get. */
BLAZEDB_API BlazeDBResult blazedb_txn_get(BlazeDBTxn *txn, const void *key,
                                          size_t klen, void **data,
                                          size_t *length);
/** Delete inside a write transaction; OK when absent. */
BLAZEDB_API BlazeDBResult blazedb_txn_delete(BlazeDBTxn *txn, const void *key,
                                             size_t klen);

/* --- Iterators ----------------------------------------------------------- */

#define BLAZEDB_ITER_REVERSE        0x1u /* walk from high keys to low */
#define BLAZEDB_ITER_START_EXCLUSIVE 0x2u /* exclude `start` itself */
#define BLAZEDB_ITER_END_INCLUSIVE  0x4u /* include `end` itself */

/** A key range.  NULL start = from the first key; NULL end = to the last.
 *  `prefix` (when non-NULL) restricts to keys beginning with it and may be
 *  combined with start/end.  The range is [start, end) unless flags say
 *  otherwise; REVERSE walks the same range backwards. */
typedef struct {
    const void *start;
    size_t start_len;
    const void *end;
    size_t end_len;
    const void *prefix;
    size_t prefix_len;
    unsigned flags;
} BlazeDBRange;

/**
 * Opens an iterator over `range` (NULL = every key).  With txn == NULL the
 * iterator holds its own read snapshot until closed; with a transaction it
 * sees that transaction (including its writes) and must be closed before
 * the transaction ends.  The iterator starts before the first key: call
 * blazedb_iter_next to move to it.  Close with blazedb_iter_close.
 */
BLAZEDB_API BlazeDBResult blazedb_iter_open(BlazeDB *db, BlazeDBTxn *txn,
                                            const BlazeDBRange *range,
                                            BlazeDBIterator **out);

/** Moves to the next key of the range.  BLAZEDB_NOT_FOUND at the end. */
BLAZEDB_API BlazeDBResult blazedb_iter_next(BlazeDBIterator *it);

/**
 * The current key and value.  Borrowed: valid until the next call on the
 * iterator or its transaction.  Either out-pointer may be NULL.  MISUSE when
 * the iterator is not on a key.
 */
BLAZEDB_API BlazeDBResult blazedb_iter_key(BlazeDBIterator *it,
                                           const void **key, size_t *klen);
BLAZEDB_API BlazeDBResult blazedb_iter_value(BlazeDBIterator *it,
                                             const void **value, size_t *vlen);

/** Closes the iterator (and its snapshot).  NULL is ignored. */
BLAZEDB_API void blazedb_iter_close(BlazeDBIterator *it);

/* --- Maintenance --------------------------------------------------------- */

/**
 * Changes the password.  Rewraps the data key under a key derived from
 * `new_password` (with the KDF in `opts`, or the current one when opts is
 * NULL) and rewrites the file header atomically; pages are not rewritten, so
 * this takes constant time apart from the key derivation.  Other processes
 * keep working; new opens need the new password.
 */
BLAZEDB_API BlazeDBResult blazedb_rekey(BlazeDB *db, const char *new_password,
                                        const BlazeDBOptions *opts);

/**
 * Copies every committed page from the write-ahead log into the main file
 * and, when no reader still needs it, restarts the log.  Runs concurrently
 * with readers and writers.  Normally automatic.
 */
BLAZEDB_API BlazeDBResult blazedb_checkpoint(BlazeDB *db);

/** Per-handle counters (monotonic since open) and current sizes. */
typedef struct {
    uint32_t struct_size;       /* set by the caller to sizeof(BlazeDBStats) */
    uint64_t commits;           /* write transactions committed */
    uint64_t rollbacks;         /* write transactions aborted */
    uint64_t reads;             /* get calls and iterator steps */
    uint64_t writes;            /* put and delete calls */
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t pages_read;        /* pages read from disk and authenticated */
    uint64_t pages_written;     /* pages written to the log */
    uint64_t bytes_written;     /* bytes written to the log and main file */
    uint64_t syncs;             /* fdatasync calls */
    uint64_t checkpoints;
    uint64_t lock_waits;        /* times a write lock was not free at once */
    uint64_t wal_pages;         /* pages currently in the log */
    uint64_t page_count;        /* pages in the database */
    uint64_t free_pages;        /* pages on the free list */
    uint64_t page_size;
    uint64_t keys;              /* keys stored */
    uint64_t last_txn_id;       /* id of the last commit seen */
    uint64_t max_key_size;      /* largest key this database takes:
                                   BLAZEDB_MAX_KEY, or 1325 with 4096-byte
                                   pages */
} BlazeDBStats;

/** Fills `st` (whose struct_size the caller sets). */
BLAZEDB_API BlazeDBResult blazedb_stats(BlazeDB *db, BlazeDBStats *st);

#ifdef __cplusplus
}
#endif
#endif /* BLAZEDB_H */
