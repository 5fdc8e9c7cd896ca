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
    BLAZEDB_NOMEM = 15,           /* out of memory (or the cache budget is too
                                     small for the operation) */
    BLAZEDB_SQL_ERROR = 16,       /* a SQL statement does not parse or does not
                                     make sense (unknown function, aggregate
                                     misuse, ...); errmsg names the position */
    BLAZEDB_CONSTRAINT = 17,      /* a write would break a unique index; errmsg
                                     names the index and the conflicting id */
    BLAZEDB_CANCELLED = 18,       /* a long operation was cancelled by its
                                     progress callback or blazedb_interrupt */
    /* Not errors: blazedb_step's two outcomes. */
    BLAZEDB_ROW = 100,            /* a row is ready */
    BLAZEDB_DONE = 101            /* the statement has run to completion */
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
    uint64_t cache_size;        /* page-cache budget in bytes; 0 = 64 MiB.
                                   Counts page buffers; each cached page's
                                   entry (512 bytes, with room for a small
                                   search hint) and larger hints (6 bytes
                                   per key) come on top */
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
    uint64_t cache_hits;        /* page fetches served by the cache, */
    uint64_t cache_misses;      /* and read from disk; both are counted when
                                   the transaction that made them ends */
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

/* ------------------------------------------------------------------------ */
/* Part 3: documents                                                         */
/* ------------------------------------------------------------------------ */
/*
 * A BlazeDBDoc is a mutable, in-memory document: an object (map of named,
 * typed fields).  Its binary form (blazedb_doc_encode) is what the database
 * stores; its JSON form is lossless both ways.  docs/DOCUMENTS.md specifies
 * the value model, the binary encoding byte by byte and the JSON mapping.
 *
 * Types: null, bool, int (int64), double, string (UTF-8, may contain NUL),
 * bytes, uuid (16 bytes), date (int64 ms since 1970-01-01T00:00:00Z),
 * array, object, vector (float32, finite).  Every NaN is stored as the one
 * quiet NaN, so equal documents have equal encodings.
 *
 * Paths name a value inside the document: field names separated by '.',
 * "" is the whole document.  A segment made of decimal digits without a
 * leading zero indexes an array when the value reached so far is an array
 * (and names a field otherwise): "tags.2", "a.b.0.c".  A field whose name
 * contains '.' or is empty cannot be named by a path; it is reachable only
 * through blazedb_doc_field_name/blazedb_doc_get_json on its parent, or by
 * writing JSON.  Paths are NUL-terminated; field names are valid UTF-8
 * without NUL, at most 65535 bytes.
 *
 * Limits: nesting depth 64 (the document itself is level 1; a set that
 * would nest deeper fails with INVALID_ARGUMENT); encoded size at most
 * BLAZEDB_MAX_VALUE (blazedb_doc_encode answers TOO_BIG beyond).
 *
 * Errors: calls that fail return a code and set the calling thread's
 * message, read with blazedb_errmsg(NULL).  NULL where a document or an
 * out-pointer is required gives INVALID_ARGUMENT.
 *
 * Threads: a document belongs to one thread at a time, readers included
 * (encoding writes a size cache inside the document).  Different documents
 * may be used from different threads freely.
 *
 * Borrowed pointers (strings, bytes, vectors, field names) stay valid until
 * the document is next changed or freed.
 */

/** An in-memory document (always an object at the top).  Opaque. */
typedef struct BlazeDBDoc BlazeDBDoc;

/** The type of the value at a path; MISSING when there is none. */
typedef enum {
    BLAZEDB_TYPE_MISSING = 0,
    BLAZEDB_TYPE_NULL = 1,
    BLAZEDB_TYPE_BOOL = 2,
    BLAZEDB_TYPE_INT = 3,
    BLAZEDB_TYPE_DOUBLE = 4,
    BLAZEDB_TYPE_STRING = 5,
    BLAZEDB_TYPE_BYTES = 6,
    BLAZEDB_TYPE_UUID = 7,
    BLAZEDB_TYPE_DATE = 8,
    BLAZEDB_TYPE_ARRAY = 9,
    BLAZEDB_TYPE_OBJECT = 10,
    BLAZEDB_TYPE_VECTOR = 11
} BlazeDBType;

/** Largest nesting depth of a document (the document itself is level 1). */
#define BLAZEDB_DOC_MAX_DEPTH 64
/** Largest field name, in bytes. */
#define BLAZEDB_DOC_MAX_NAME 65535u

/** Flag for blazedb_doc_to_json / blazedb_doc_get_json: indent by two
 *  spaces, one member per line. */
#define BLAZEDB_JSON_PRETTY 0x1u

/** A new empty document; free with blazedb_doc_free.  Errors: NOMEM. */
BLAZEDB_API BlazeDBResult blazedb_doc_new(BlazeDBDoc **out);

/** Frees a document.  NULL is ignored. */
BLAZEDB_API void blazedb_doc_free(BlazeDBDoc *doc);

/** A deep copy.  Errors: NOMEM. */
BLAZEDB_API BlazeDBResult blazedb_doc_clone(const BlazeDBDoc *doc, BlazeDBDoc **out);

/**
 * Parses JSON text (json[0..len), UTF-8; need not be NUL-terminated) whose
 * top level must be an object.  Tagged forms ({"$date": ...}, {"$uuid": ...},
 * {"$bytes": ...}, {"$vector": [...]}, {"$double": "NaN"}, {"$object": {...}})
 * give the other types.  On failure *out = NULL.
 * Errors: INVALID_ARGUMENT with the byte offset in the message (malformed
 * JSON, invalid UTF-8, duplicate field name, unknown or malformed tag,
 * number beyond the double range, depth > 64, top level not an object),
 * TOO_BIG (len > BLAZEDB_MAX_VALUE), NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_from_json(const char *json, size_t len,
                                                BlazeDBDoc **out);

/**
 * Writes the document as JSON (fields in name order; compact unless flags
 * has BLAZEDB_JSON_PRETTY).  *out is malloc'd and NUL-terminated (release
 * with blazedb_free); *len (may be NULL) excludes the NUL.  Reading the text
 * back with blazedb_doc_from_json gives an identical document.
 * Errors: NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_to_json(const BlazeDBDoc *doc, unsigned flags,
                                              char **out, size_t *len);

/**
 * The binary form: canonical (equal documents give equal bytes).  *out is
 * malloc'd (release with blazedb_free).  Errors: TOO_BIG, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_encode(const BlazeDBDoc *doc, void **out,
                                             size_t *len);

/**
 * Rebuilds a document from its binary form, checking every byte (any input
 * is safe).  Errors: CORRUPT with the byte offset in the message (malformed
 * or non-canonical bytes, or not an object at the top), TOO_BIG, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_decode(const void *buf, size_t len,
                                             BlazeDBDoc **out);

/** The type at `path`; BLAZEDB_TYPE_MISSING when absent, when the path is
 *  malformed, or when doc or path is NULL. */
BLAZEDB_API BlazeDBType blazedb_doc_type(const BlazeDBDoc *doc, const char *path);

/*
 * Typed getters.  Errors: NOT_FOUND when nothing is at `path` (or the path is
 * malformed), INVALID_ARGUMENT when the value has another type (the message
 * names both types).  blazedb_doc_get_double also converts an int (exactly
 * when |i| <= 2^53).  On failure the out-values are left unchanged.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_get_bool(const BlazeDBDoc *doc, const char *path,
                                               int *out);
BLAZEDB_API BlazeDBResult blazedb_doc_get_int(const BlazeDBDoc *doc, const char *path,
                                              int64_t *out);
BLAZEDB_API BlazeDBResult blazedb_doc_get_double(const BlazeDBDoc *doc, const char *path,
                                                 double *out);
/** Milliseconds since the Unix epoch, UTC. */
BLAZEDB_API BlazeDBResult blazedb_doc_get_date(const BlazeDBDoc *doc, const char *path,
                                               int64_t *ms);
/** Borrowed UTF-8, NUL-terminated (the NUL is not counted in *len; the
 *  string itself may contain NUL).  `len` may be NULL. */
BLAZEDB_API BlazeDBResult blazedb_doc_get_string(const BlazeDBDoc *doc, const char *path,
                                                 const char **s, size_t *len);
/** Borrowed bytes (non-NULL even when *len is 0). */
BLAZEDB_API BlazeDBResult blazedb_doc_get_bytes(const BlazeDBDoc *doc, const char *path,
                                                const void **p, size_t *len);
BLAZEDB_API BlazeDBResult blazedb_doc_get_uuid(const BlazeDBDoc *doc, const char *path,
                                               uint8_t out[16]);
/** Borrowed float32 elements (non-NULL even when *n is 0). */
BLAZEDB_API BlazeDBResult blazedb_doc_get_vector(const BlazeDBDoc *doc, const char *path,
                                                 const float **v, size_t *n);
/**
 * Any value (subtree or scalar) as JSON, in the form blazedb_doc_set_json
 * accepts.  *out malloc'd, NUL-terminated (blazedb_free); `len` may be NULL.
 * Errors: NOT_FOUND, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_get_json(const BlazeDBDoc *doc, const char *path,
                                               unsigned flags, char **out, size_t *len);

/*
 * Setters: store a value at `path`, replacing what was there and creating
 * missing intermediate objects ("a.b.c" on an empty document makes a and
 * a.b objects).  A numeric segment on an array replaces that element, or
 * appends when it equals the array's length.  "" is accepted only by
 * blazedb_doc_set_json with an object (it replaces the whole document).
 * On failure the document is unchanged.
 * Errors: INVALID_ARGUMENT (NULL doc/path, empty path segment, a scalar or
 * vector in the way, array index beyond the length, field name not valid
 * UTF-8 or too long, depth > 64, string not UTF-8, non-finite vector
 * element, NULL data with a non-zero length), NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_doc_set_null(BlazeDBDoc *doc, const char *path);
BLAZEDB_API BlazeDBResult blazedb_doc_set_bool(BlazeDBDoc *doc, const char *path, int v);
BLAZEDB_API BlazeDBResult blazedb_doc_set_int(BlazeDBDoc *doc, const char *path, int64_t v);
/** Any double; every NaN is stored as the canonical quiet NaN. */
BLAZEDB_API BlazeDBResult blazedb_doc_set_double(BlazeDBDoc *doc, const char *path, double v);
BLAZEDB_API BlazeDBResult blazedb_doc_set_date(BlazeDBDoc *doc, const char *path, int64_t ms);
/** Copies a NUL-terminated UTF-8 string. */
BLAZEDB_API BlazeDBResult blazedb_doc_set_string(BlazeDBDoc *doc, const char *path,
                                                 const char *s);
/** Copies len bytes of UTF-8 (may contain NUL). */
BLAZEDB_API BlazeDBResult blazedb_doc_set_stringn(BlazeDBDoc *doc, const char *path,
                                                  const char *s, size_t len);
BLAZEDB_API BlazeDBResult blazedb_doc_set_bytes(BlazeDBDoc *doc, const char *path,
                                                const void *p, size_t len);
BLAZEDB_API BlazeDBResult blazedb_doc_set_uuid(BlazeDBDoc *doc, const char *path,
                                               const uint8_t uuid[16]);
/** Copies n finite float32 values (n may be 0). */
BLAZEDB_API BlazeDBResult blazedb_doc_set_vector(BlazeDBDoc *doc, const char *path,
                                                 const float *v, size_t n);
/** Parses JSON (any value, same mapping and errors as blazedb_doc_from_json)
 *  and stores it at `path`. */
BLAZEDB_API BlazeDBResult blazedb_doc_set_json(BlazeDBDoc *doc, const char *path,
                                               const char *json, size_t len);
/** Appends a JSON value to the array at `path` (created when absent).
 *  INVALID_ARGUMENT when something other than an array is there. */
BLAZEDB_API BlazeDBResult blazedb_doc_array_append_json(BlazeDBDoc *doc, const char *path,
                                                        const char *json, size_t len);

/** Removes the value at `path` (array elements after it move down one).
 *  OK when absent.  Errors: INVALID_ARGUMENT (NULL, "" or a malformed path). */
BLAZEDB_API BlazeDBResult blazedb_doc_unset(BlazeDBDoc *doc, const char *path);

/** Number of fields of the object, or elements of the array or vector, at
 *  `path`; 0 for anything else (missing included). */
BLAZEDB_API size_t blazedb_doc_len(const BlazeDBDoc *doc, const char *path);

/** Name of the i-th field (in name order: bytewise, shorter first) of the
 *  object at `path`; borrowed, NUL-terminated.  NULL when there is no
 *  object there or i >= its length. */
BLAZEDB_API const char *blazedb_doc_field_name(const BlazeDBDoc *doc, const char *path,
                                               size_t i);

/**
 * JSON text straight to the binary form, without building a document:
 * the bytes blazedb_doc_from_json followed by blazedb_doc_encode would give,
 * with the same checks and errors, about twice as fast.  The top level must
 * be an object.  *out is malloc'd (release with blazedb_free); on failure
 * *out = NULL and *outlen = 0.
 * Errors: those of blazedb_doc_from_json (INVALID_ARGUMENT with the byte
 * offset in the message, TOO_BIG for len > BLAZEDB_MAX_VALUE), TOO_BIG when
 * the binary form would be larger than BLAZEDB_MAX_VALUE, NOMEM;
 * INVALID_ARGUMENT when out or outlen is NULL.
 */
BLAZEDB_API BlazeDBResult blazedb_json_to_binary(const char *json, size_t len, void **out,
                                                 size_t *outlen);

/* ------------------------------------------------------------------------ */
/* Part 4: collections                                                       */
/* ------------------------------------------------------------------------ */
/*
 * Documents live in named collections.  Every call below takes the handle
 * and a transaction: txn == NULL runs the call in a transaction of its own
 * (one durable commit for a write); a caller's transaction (read or write,
 * see blazedb_txn_begin) makes it part of that transaction, and reads see
 * the transaction's own writes.  A write that fails inside a caller's
 * transaction is undone by itself (an internal savepoint) and leaves the
 * transaction usable.
 *
 * Engine-maintained fields:
 *   id         a string, unique in the collection.  Given by the caller, or a
 *              new UUIDv7 (time-ordered, 36 characters) when the document
 *              has none; any other type is INVALID_ARGUMENT.  At most
 *              max_key_size bytes (BlazeDBStats).
 *   createdAt  date of the first insert; updatedAt, date of the last write.
 *              Set by the engine (overwriting what the caller put there)
 *              unless the collection was created with
 *              BLAZEDB_COLL_NO_TIMESTAMPS.
 *   isDeleted  true after blazedb_soft_delete: the document is hidden from
 *              get, exists, count and cursors until purged, replaced by an
 *              upsert, or deleted.
 * Insert, replace and upsert write these fields into the caller's document,
 * so after the call it equals what was stored.
 *
 * Collection names: 1..255 bytes of UTF-8 without control characters.  A
 * collection is created by blazedb_collection_create or implicitly by the
 * first insert or upsert; other calls on a missing collection return
 * NOT_FOUND with a message naming it.
 *
 * Every write appends change records (blazedb_changes), in commit order.
 * Errors common to all: INVALID_ARGUMENT (NULL or invalid arguments),
 * MISUSE (closed handle; earlier failure in the transaction), READONLY
 * (write in a read transaction or read-only handle), BUSY, IO_ERROR, FULL,
 * CORRUPT, NOMEM.  Thread-safety: as for transactions.
 */

/** Collection options (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;       /* blazedb_collection_options_init sets it */
    uint32_t flags;             /* BLAZEDB_COLL_* */
} BlazeDBCollectionOptions;

/** The engine does not maintain createdAt/updatedAt in this collection. */
#define BLAZEDB_COLL_NO_TIMESTAMPS 0x1u

BLAZEDB_API void blazedb_collection_options_init(BlazeDBCollectionOptions *opts);
/** Creates a collection (opts may be NULL).  EXISTS when it exists. */
BLAZEDB_API BlazeDBResult blazedb_collection_create(BlazeDB *db, BlazeDBTxn *txn,
                                                    const char *name,
                                                    const BlazeDBCollectionOptions *opts);
/** Drops a collection and all its documents (its pages are freed).
 *  NOT_FOUND when absent. */
BLAZEDB_API BlazeDBResult blazedb_collection_drop(BlazeDB *db, BlazeDBTxn *txn,
                                                  const char *name);
/** Renames (O(1): the documents do not move).  NOT_FOUND, EXISTS. */
BLAZEDB_API BlazeDBResult blazedb_collection_rename(BlazeDB *db, BlazeDBTxn *txn,
                                                    const char *from, const char *to);
/**
 * The collections, in name order: *names is one malloc'd block (release
 * with blazedb_free) holding *n NUL-terminated names and a NULL after them.
 */
BLAZEDB_API BlazeDBResult blazedb_collection_list(BlazeDB *db, BlazeDBTxn *txn,
                                                  char ***names, size_t *n);
/** Documents in the collection (soft-deleted ones excluded), O(1) from
 *  stored counters. */
BLAZEDB_API BlazeDBResult blazedb_count(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                        uint64_t *n);

/** Inserts a document (see the engine-maintained fields above).  EXISTS
 *  when its id is taken (by a soft-deleted document too). */
BLAZEDB_API BlazeDBResult blazedb_insert(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                         BlazeDBDoc *doc);
/** Inserts n documents, all or none, in one transaction (one sync when
 *  txn is NULL). */
BLAZEDB_API BlazeDBResult blazedb_insert_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                              BlazeDBDoc *const *docs, size_t n);
/** Replaces the document with the same id (createdAt is kept).  NOT_FOUND
 *  when there is none (or it is soft-deleted). */
BLAZEDB_API BlazeDBResult blazedb_replace(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                          BlazeDBDoc *doc);
/** Replaces the document with the same id, or inserts it. */
BLAZEDB_API BlazeDBResult blazedb_upsert(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                         BlazeDBDoc *doc);
/**
 * Changes some fields of document `id`: `set` (may be NULL) is merged in
 * depth: each of its non-object values replaces the value at the same path
 * (objects on the way are created), objects are descended into (an empty
 * object is stored as is); then each path of `unset` is removed.  Patch
 * field names may not contain '.', and the id cannot change.  NOT_FOUND
 * when the document is absent.
 */
BLAZEDB_API BlazeDBResult blazedb_patch(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                        const char *id, const BlazeDBDoc *set,
                                        const char *const *unset, size_t nunset);

/** The document `id`: *out is a new document (blazedb_doc_free).  NOT_FOUND
 *  when absent or soft-deleted. */
BLAZEDB_API BlazeDBResult blazedb_get_doc(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                          const char *id, BlazeDBDoc **out);
/** out[i] = document ids[i], or NULL when absent; one snapshot. */
BLAZEDB_API BlazeDBResult blazedb_get_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                           const char *const *ids, size_t n, BlazeDBDoc **out);
BLAZEDB_API BlazeDBResult blazedb_exists(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                         const char *id, int *exists);

/** Deletes document `id` for good.  NOT_FOUND when absent. */
BLAZEDB_API BlazeDBResult blazedb_delete_doc(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                             const char *id);
/** Deletes those of `ids` that exist; *deleted (may be NULL) counts them. */
BLAZEDB_API BlazeDBResult blazedb_delete_many(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                              const char *const *ids, size_t n,
                                              uint64_t *deleted);
/** Deletes every document, keeping the collection. */
BLAZEDB_API BlazeDBResult blazedb_delete_all(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                             uint64_t *deleted);
/** Marks document `id` deleted (isDeleted = true, updatedAt = now).
 *  NOT_FOUND when absent or already soft-deleted. */
BLAZEDB_API BlazeDBResult blazedb_soft_delete(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                              const char *id);
/** Removes the soft-deleted documents; touches only them. */
BLAZEDB_API BlazeDBResult blazedb_purge(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                        uint64_t *purged);

/**
 * A cursor over a collection's documents in id order (bytewise), starting
 * at the first id >= start_id (NULL: the first).  It reads the snapshot of
 * `txn`, or of a read transaction of its own when txn is NULL (then close
 * it promptly: it holds a snapshot).  With a caller's transaction it must
 * be closed before the transaction ends.
 */
typedef struct BlazeDBDocCursor BlazeDBDocCursor;
BLAZEDB_API BlazeDBResult blazedb_doc_cursor_open(BlazeDB *db, BlazeDBTxn *txn,
                                                  const char *coll, const char *start_id,
                                                  BlazeDBDocCursor **out);
/** The next document (a new one, blazedb_doc_free), or NOT_FOUND at the end. */
BLAZEDB_API BlazeDBResult blazedb_doc_cursor_next(BlazeDBDocCursor *cur, BlazeDBDoc **doc);
BLAZEDB_API void blazedb_doc_cursor_close(BlazeDBDocCursor *cur);

/** Change kinds. */
typedef enum {
    BLAZEDB_CHANGE_INSERT = 1,
    BLAZEDB_CHANGE_UPDATE = 2,
    BLAZEDB_CHANGE_DELETE = 3    /* also a soft delete (doc then carries
                                    isDeleted) and a purge (no doc) */
} BlazeDBChangeKind;

/** One change record; every pointer is borrowed for the callback only. */
typedef struct {
    uint64_t txn_id;            /* the commit (its sequence number) */
    uint32_t seq;               /* order within the commit */
    BlazeDBChangeKind kind;
    const char *collection;     /* not NUL-terminated */
    size_t collection_len;
    const char *id;             /* not NUL-terminated */
    size_t id_len;
    const void *doc;            /* the new document in binary form
                                   (blazedb_doc_decode); doc_len 0 for a
                                   delete */
    size_t doc_len;
} BlazeDBChange;

/**
 * Calls fn for each change record of commits after `after_txn`, in commit
 * order, in the snapshot of txn (or of the latest commit when NULL); fn
 * returns non-zero to stop.  *last_txn (may be NULL) is the commit of the
 * last record passed (after_txn when none): pass it back to continue.  The
 * records of the last 10,000 commits are kept; older ones are trimmed.
 */
BLAZEDB_API BlazeDBResult blazedb_changes(BlazeDB *db, BlazeDBTxn *txn, uint64_t after_txn,
                                          int (*fn)(const BlazeDBChange *change, void *arg),
                                          void *arg, uint64_t *last_txn);

/**
 * Runs fn in a new transaction (flags as for blazedb_txn_begin): commits
 * when fn returns BLAZEDB_OK, rolls back and returns fn's code otherwise.
 */
BLAZEDB_API BlazeDBResult blazedb_run_txn(BlazeDB *db, unsigned flags,
                                          BlazeDBResult (*fn)(BlazeDBTxn *txn, void *arg),
                                          void *arg);

/* ------------------------------------------------------------------------ */
/* Part 5: queries, observers, live queries                                  */
/* ------------------------------------------------------------------------ */
/*
 * A BlazeDBQuery names a collection, a filter (conditions joined by AND
 * within OR groups), an order, a limit and offset, and optionally result
 * columns, aggregates, GROUP BY and HAVING.  It runs as the SQL statement it
 * renders to (blazedb_query_sql), so the SQL planner and its indexes serve
 * it (Part 6); its filter is also what filters observers and defines live
 * queries.
 *
 * Semantics (docs/QUERIES.md): a condition compares the value at a path
 * with a constant.  A missing or null value, or a null constant, makes the
 * comparison unknown, which excludes the document (SQL's rule); IS NULL and
 * IS NOT NULL are never unknown (missing counts as null).  Values compare
 * in one total order across types: null, bool, numbers (int and double by
 * value), dates, strings (bytewise = code point order), bytes, uuids,
 * arrays, objects, vectors.  ORDER BY sorts by that order (then by id);
 * descending reverses a key.
 */

typedef struct BlazeDBQuery BlazeDBQuery;
/** A prepared SQL statement (Part 6). */
typedef struct BlazeDBStmt BlazeDBStmt;

typedef enum {
    BLAZEDB_OP_EQ = 1,
    BLAZEDB_OP_NE = 2,
    BLAZEDB_OP_LT = 3,
    BLAZEDB_OP_LE = 4,
    BLAZEDB_OP_GT = 5,
    BLAZEDB_OP_GE = 6,
    BLAZEDB_OP_IS_NULL = 7,     /* no value */
    BLAZEDB_OP_IS_NOT_NULL = 8  /* no value */
} BlazeDBOp;

/** A query over collection `coll` with no condition, no order and no
 *  limit.  Free with blazedb_query_free.  Errors (blazedb_errmsg(NULL)):
 *  INVALID_ARGUMENT, NOMEM. */
BLAZEDB_API BlazeDBResult blazedb_query_new(const char *coll, BlazeDBQuery **out);
BLAZEDB_API void blazedb_query_free(BlazeDBQuery *q);
/** Adds the condition `path op value` (value: JSON text in the lossless
 *  mapping, e.g. "42", "\"Oslo\"", "{\"$date\":\"2024-01-01T00:00:00Z\"}";
 *  NULL for the IS [NOT] NULL operators). */
BLAZEDB_API BlazeDBResult blazedb_query_where(BlazeDBQuery *q, const char *path, BlazeDBOp op,
                                              const char *json_value);
/** Adds a sort key (the first call is the primary key). */
BLAZEDB_API BlazeDBResult blazedb_query_order_by(BlazeDBQuery *q, const char *path,
                                                 int descending);
/** At most `limit` documents (UINT64_MAX, the default: no limit). */
BLAZEDB_API BlazeDBResult blazedb_query_limit(BlazeDBQuery *q, uint64_t limit);
/** Skips the first `offset` results (not for observers or live queries). */
BLAZEDB_API BlazeDBResult blazedb_query_offset(BlazeDBQuery *q, uint64_t offset);
/**
 * Starts a new OR branch: the conditions added so far form one AND-group,
 * the following ones the next; a document matches when every condition of
 * some group holds.  where(a) where(b) or() where(c) is (a AND b) OR c.
 * INVALID_ARGUMENT when no condition precedes it.
 */
BLAZEDB_API BlazeDBResult blazedb_query_or(BlazeDBQuery *q);

/* Projections and aggregates: with any of these, blazedb_query_run returns
 * one document per result row whose fields are the column names (alias, or
 * the path / "count(*)" / "sum(path)" ...).  Not for observers or live
 * queries. */
typedef enum {
    BLAZEDB_AGG_COUNT = 1,          /* count(path), or count(*) with path NULL */
    BLAZEDB_AGG_SUM = 2,
    BLAZEDB_AGG_AVG = 3,
    BLAZEDB_AGG_MIN = 4,
    BLAZEDB_AGG_MAX = 5,
    BLAZEDB_AGG_COUNT_DISTINCT = 6
} BlazeDBAggregate;
/** Adds a result column: the value at path, named alias (may be NULL). */
BLAZEDB_API BlazeDBResult blazedb_query_select(BlazeDBQuery *q, const char *path,
                                               const char *alias);
/** Adds an aggregate result column. */
BLAZEDB_API BlazeDBResult blazedb_query_aggregate(BlazeDBQuery *q, BlazeDBAggregate fn,
                                                  const char *path, const char *alias);
BLAZEDB_API BlazeDBResult blazedb_query_group_by(BlazeDBQuery *q, const char *path);
/** A condition on the result column named `alias` (after grouping). */
BLAZEDB_API BlazeDBResult blazedb_query_having(BlazeDBQuery *q, const char *alias, BlazeDBOp op,
                                               const char *json_value);
/**
 * The query as SQL text (*sql malloc'd, blazedb_free): values appear as ?
 * parameters.  The builder and SQL share one planner: blazedb_query_prepare
 * gives the prepared statement (values bound) and blazedb_query_explain its
 * plan (flags as blazedb_explain), the very plan the SQL text gets.
 */
BLAZEDB_API BlazeDBResult blazedb_query_sql(const BlazeDBQuery *q, char **sql);
BLAZEDB_API BlazeDBResult blazedb_query_prepare(BlazeDB *db, const BlazeDBQuery *q,
                                                BlazeDBStmt **out);
BLAZEDB_API BlazeDBResult blazedb_query_explain(BlazeDB *db, const BlazeDBQuery *q,
                                                unsigned flags, char **out);
/** 1 when `doc` passes the query's conditions. */
BLAZEDB_API int blazedb_query_matches(const BlazeDBQuery *q, const BlazeDBDoc *doc);
/**
 * Runs the query in `txn`'s snapshot (or the latest when NULL) through the
 * SQL planner (indexes are used): *docs is a malloc'd array of *n new
 * documents, in order (the order keys, then id); release both with
 * blazedb_query_free_docs.  A missing collection gives no documents.
 */
BLAZEDB_API BlazeDBResult blazedb_query_run(BlazeDB *db, BlazeDBTxn *txn, const BlazeDBQuery *q,
                                            BlazeDBDoc ***docs, size_t *n);
BLAZEDB_API void blazedb_query_free_docs(BlazeDBDoc **docs, size_t n);

/**
 * Observers.  fn receives the change records of one commit (those of
 * collection `coll`, or of every collection when NULL; with a filter, only
 * inserts and updates whose new document matches it, and every delete),
 * once per commit, in commit order, for commits after the registration.
 * Delivery happens on this handle: right after each of its own commits, in
 * the committing thread and before the commit call returns (the commit is
 * durable by then); and for commits of other handles or processes, at the
 * latest when this handle next begins a transaction (any document call
 * does) or calls blazedb_poll, in that calling thread.  Callbacks run one
 * at a time per handle; one may read the database, and may unobserve or
 * close a live query, but no dispatch happens inside it.  Change records
 * of the last 10,000 commits are kept: an observer of a handle that stays
 * idle for longer misses the older ones.  *id names the observer.
 */
typedef void (*BlazeDBObserverFn)(const BlazeDBChange *changes, size_t n, void *arg);
BLAZEDB_API BlazeDBResult blazedb_observe(BlazeDB *db, const char *coll,
                                          const BlazeDBQuery *filter, BlazeDBObserverFn fn,
                                          void *arg, uint64_t *id);
/** Removes an observer.  NOT_FOUND when there is no such observer. */
BLAZEDB_API BlazeDBResult blazedb_unobserve(BlazeDB *db, uint64_t id);
/** Delivers, now, the changes committed since the last delivery. */
BLAZEDB_API BlazeDBResult blazedb_poll(BlazeDB *db);

/**
 * Live queries: the result of a query (filter, order, limit) kept up to
 * date from the change records, without re-running the query.  fn is
 * called first with the initial result (all "entered", in order), then
 * after each commit that changes the result, with the documents that
 * entered it, the ids of those that left it, and those in it that changed
 * (all borrowed for the call), at the same moments as observers.  The
 * current result is read with blazedb_live_query_count/_get (borrowed until
 * the next delivery).  Memory: every matching document of the collection
 * is kept, not only the first `limit`.  Close with blazedb_live_query_close
 * (also after the handle was closed: it then only frees).
 */
typedef struct BlazeDBLiveQuery BlazeDBLiveQuery;
typedef struct {
    const BlazeDBDoc *const *entered;
    size_t n_entered;
    const char *const *left;            /* ids */
    size_t n_left;
    const BlazeDBDoc *const *changed;
    size_t n_changed;
    uint64_t txn_id;                    /* the commit (the snapshot at first) */
} BlazeDBLiveUpdate;
typedef void (*BlazeDBLiveFn)(const BlazeDBLiveUpdate *update, void *arg);
BLAZEDB_API BlazeDBResult blazedb_live_query_open(BlazeDB *db, const BlazeDBQuery *q,
                                                  BlazeDBLiveFn fn, void *arg,
                                                  BlazeDBLiveQuery **out);
BLAZEDB_API size_t blazedb_live_query_count(const BlazeDBLiveQuery *lq);
BLAZEDB_API const BlazeDBDoc *blazedb_live_query_get(const BlazeDBLiveQuery *lq, size_t i);
BLAZEDB_API void blazedb_live_query_close(BlazeDBLiveQuery *lq);

/* ------------------------------------------------------------------------ */
/* Part 6: indexes, SQL, prepared statements, EXPLAIN                        */
/* ------------------------------------------------------------------------ */
/*
 * The SQL dialect is documented in docs/SQL.md.  A statement is prepared
 * once (parsed and checked), then bound, stepped and reset any number of
 * times; it runs in the caller's transaction when one is attached with
 * blazedb_stmt_set_txn, else in the handle's SQL transaction when BEGIN
 * opened one, else in a transaction of its own (autocommit).  A statement is
 * used by one thread at a time; several statements may be used at once.
 */

/** Index definitions (what blazedb_index_create takes and _list returns). */
#define BLAZEDB_INDEX_UNIQUE 0x1u
typedef struct {
    const char *path;           /* dotted path; elements of an array with each */
    int descending;
    int each;                   /* one entry per array element ("tags[]") */
} BlazeDBIndexField;

/**
 * Creates index `name` on collection `coll` over fields[0..nfields)
 * (1..16), flags BLAZEDB_INDEX_UNIQUE; `where` (may be NULL) makes it
 * partial: SQL predicate text over the document's fields.  Builds it from
 * the existing documents in bulk.  Errors: EXISTS (name taken), NOT_FOUND
 * (no collection), CONSTRAINT (a unique index over duplicate values; errmsg
 * names two ids), SQL_ERROR (bad predicate), INVALID_ARGUMENT.
 */
BLAZEDB_API BlazeDBResult blazedb_index_create(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                               const char *name, const BlazeDBIndexField *fields,
                                               size_t nfields, unsigned flags,
                                               const char *where);
/** Drops index `name`.  NOT_FOUND when there is none. */
BLAZEDB_API BlazeDBResult blazedb_index_drop(BlazeDB *db, BlazeDBTxn *txn, const char *name);
/**
 * The indexes of `coll` as a JSON array (one object per index: name,
 * fields with path/descending/each, unique, where, entries); *json is
 * malloc'd (blazedb_free).
 */
BLAZEDB_API BlazeDBResult blazedb_index_list(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                             char **json);


/**
 * Prepares the first statement of sql[0..len) (len (size_t)-1: up to the
 * NUL); *tail (may be NULL) points after it.  *out is NULL when the text
 * holds no statement (only spaces, comments or ';').  Errors: SQL_ERROR with
 * errmsg "near 'x' at offset N: expected ...".  Names are resolved when
 * the statement runs: an unknown collection in FROM, UPDATE or DELETE makes
 * blazedb_step return NOT_FOUND ("no collection 'x'"); INSERT creates the
 * collection.  Free with blazedb_finalize.
 */
BLAZEDB_API BlazeDBResult blazedb_prepare(BlazeDB *db, const char *sql, size_t len,
                                          BlazeDBStmt **out, const char **tail);
/** Runs in txn (a read or write transaction of the same handle; NULL:
 *  back to the default).  Only between runs (after prepare or reset). */
BLAZEDB_API BlazeDBResult blazedb_stmt_set_txn(BlazeDBStmt *st, BlazeDBTxn *txn);

/* Parameters: ?, ?NNN, :name, @name, $name; indexes start at 1.  Text and
 * bytes are copied.  A parameter never bound is NULL. */
BLAZEDB_API int blazedb_bind_count(const BlazeDBStmt *st);
/** The index of a named parameter (":x" as written), or 0. */
BLAZEDB_API int blazedb_bind_index(const BlazeDBStmt *st, const char *name);
BLAZEDB_API BlazeDBResult blazedb_bind_null(BlazeDBStmt *st, int i);
BLAZEDB_API BlazeDBResult blazedb_bind_bool(BlazeDBStmt *st, int i, int v);
BLAZEDB_API BlazeDBResult blazedb_bind_int(BlazeDBStmt *st, int i, int64_t v);
BLAZEDB_API BlazeDBResult blazedb_bind_double(BlazeDBStmt *st, int i, double v);
BLAZEDB_API BlazeDBResult blazedb_bind_text(BlazeDBStmt *st, int i, const char *s, size_t len);
BLAZEDB_API BlazeDBResult blazedb_bind_bytes(BlazeDBStmt *st, int i, const void *p, size_t len);
BLAZEDB_API BlazeDBResult blazedb_bind_date(BlazeDBStmt *st, int i, int64_t ms);
/** Any value, as JSON text in the lossless mapping (objects, arrays,
 *  {"$date": ...}, ...). */
BLAZEDB_API BlazeDBResult blazedb_bind_json(BlazeDBStmt *st, int i, const char *json, size_t len);
BLAZEDB_API BlazeDBResult blazedb_clear_bindings(BlazeDBStmt *st);

/**
 * Runs the statement to its next row: ROW (read it with the column
 * functions), DONE (finished; for INSERT/UPDATE/DELETE see
 * blazedb_stmt_changes), or an error (the statement's effects are undone;
 * inside a transaction that transaction stays usable).  Rows are produced
 * as they are found (streaming): memory stays bounded unless a sort, a
 * GROUP BY or DISTINCT must hold rows (bounded too; past the bound the
 * statement fails with NOMEM and a message, see docs/LIMITS.md).
 */
BLAZEDB_API BlazeDBResult blazedb_step(BlazeDBStmt *st);
/** Back to the start (bindings kept); ends its own transaction. */
BLAZEDB_API BlazeDBResult blazedb_reset(BlazeDBStmt *st);
/** Frees the statement (NULL ignored). */
BLAZEDB_API void blazedb_finalize(BlazeDBStmt *st);
/** Documents inserted, updated or deleted by the last run. */
BLAZEDB_API uint64_t blazedb_stmt_changes(const BlazeDBStmt *st);
/** 1 for a statement that only reads (SELECT, EXPLAIN). */
BLAZEDB_API int blazedb_stmt_readonly(const BlazeDBStmt *st);

/* Columns of the current row (after ROW).  Pointers are borrowed until the
 * next step, reset or finalize.  Column i of 0..count-1. */
BLAZEDB_API size_t blazedb_column_count(const BlazeDBStmt *st);
BLAZEDB_API const char *blazedb_column_name(const BlazeDBStmt *st, size_t i);
BLAZEDB_API BlazeDBType blazedb_column_type(const BlazeDBStmt *st, size_t i);
/** int (bool and date too); a double is truncated; others 0. */
BLAZEDB_API int64_t blazedb_column_int(const BlazeDBStmt *st, size_t i);
BLAZEDB_API double blazedb_column_double(const BlazeDBStmt *st, size_t i);
/** A string's bytes (NUL-terminated; *len may be NULL), or NULL when the
 *  value is not a string. */
BLAZEDB_API const char *blazedb_column_text(const BlazeDBStmt *st, size_t i, size_t *len);
/** Bytes and uuids as raw bytes, else NULL. */
BLAZEDB_API const void *blazedb_column_bytes(const BlazeDBStmt *st, size_t i, size_t *len);
/** Any value as JSON in the lossless mapping; borrowed like the others. */
BLAZEDB_API const char *blazedb_column_json(BlazeDBStmt *st, size_t i, size_t *len);
/**
 * The row as a new document (blazedb_doc_free): for SELECT * of one
 * collection the stored document itself; otherwise an object whose fields
 * are the column names.
 */
BLAZEDB_API BlazeDBResult blazedb_row_doc(BlazeDBStmt *st, BlazeDBDoc **out);

/**
 * Runs every statement of sql (NUL-terminated), in order; for each row of
 * each statement calls fn (may be NULL) with the statement (read the row
 * with the column functions); fn returns non-zero to stop (CANCELLED).
 * Stops at the first error.
 */
BLAZEDB_API BlazeDBResult blazedb_exec(BlazeDB *db, const char *sql,
                                       int (*fn)(BlazeDBStmt *st, void *arg), void *arg);

/** EXPLAIN output formats and modes. */
#define BLAZEDB_EXPLAIN_ANALYZE 0x1u    /* run it and add actual rows and time */
#define BLAZEDB_EXPLAIN_JSON 0x2u       /* JSON instead of an indented tree */
/**
 * The plan of one statement as text or JSON (*out malloc'd, blazedb_free).
 * With ANALYZE the statement runs (a write inside the current SQL or
 * attached transaction, or committed on its own).
 */
BLAZEDB_API BlazeDBResult blazedb_explain(BlazeDB *db, const char *sql, unsigned flags,
                                          char **out);
/** The same for a prepared statement, with its current bindings (it must
 *  not be running; it is reset afterwards). */
BLAZEDB_API BlazeDBResult blazedb_stmt_explain(BlazeDBStmt *st, unsigned flags, char **out);

/** Stops the statements running on this handle at their next row (they
 *  return CANCELLED).  May be called from any thread or a signal handler's
 *  deferred context. */
BLAZEDB_API void blazedb_interrupt(BlazeDB *db);

/* ---- sections added by the operations work (backup, export, ...) go below ---- */

/* ------------------------------------------------------------------------ */
/* Export and import (src/tools/exportimport.c; docs/OPERATIONS.md)          */
/* ------------------------------------------------------------------------ */
/*
 * Export writes documents out as NDJSON, one JSON array, CSV or SQL;
 * import reads NDJSON, a JSON array or CSV back in.  Both stream: memory
 * stays bounded by the largest document (plus, for CSV and SQL export, the
 * set of column names), whatever the number of documents.
 *
 * NDJSON and JSON use the lossless JSON mapping of docs/DOCUMENTS.md, so an
 * export followed by an import reproduces every document bit for bit,
 * id, createdAt and updatedAt included.  An export of one collection holds
 * only its documents (NDJSON: one per line; JSON: one array).  An export
 * of every collection (collection == NULL) puts a marker record before the
 * documents of each collection, in name order:
 *     {"$collection":"users"}
 *     {"$collection":{"name":"logs","timestamps":false}}   (created with
 *                                                  BLAZEDB_COLL_NO_TIMESTAMPS)
 * (a line of NDJSON, an element of the JSON array).  No document can look
 * like one: the JSON mapping reads a one-field "$" object as a tag and
 * writes user objects of that shape escaped.  Import switches collection
 * at each marker (creating it, with the options given, when absent).
 *
 * CSV (RFC 4180; export: "\r\n" line ends, import: "\r\n" or "\n"):
 *   - the header row is the union of the fields of the exported documents
 *     (a first pass over the same snapshot collects it): "id" first, then
 *     the others in bytewise order; nested objects are flattened to dotted
 *     column names ("address.city"); arrays, vectors, empty objects,
 *     objects with a field name that is empty or contains '.', and values
 *     JSON has no literal for (bytes, uuids, dates, NaN and infinities) are
 *     written as their JSON text ({"$date":"2024-05-01T10:00:00.000Z"});
 *   - null and missing fields give an empty cell; an empty string gives "";
 *   - import infers each cell's type: an empty unquoted cell is null, ""
 *     an empty string, true/false (any case) a bool, a JSON integer literal
 *     within int64 an int, any other JSON number a double, text starting
 *     with '[' or '{' that parses as JSON (lossless mapping) that value,
 *     anything else a string; the "id" column is always a string.
 *     csv_types forces types per column; dotted column names rebuild
 *     nested objects; an empty cell whose column is the parent or a child
 *     of a column that has a value in the same row is left out.
 *   CSV is lossy by nature (a string "42" comes back as an int unless its
 *   column is forced to string); use NDJSON or JSON for exact copies.
 *
 * SQL: for each collection, CREATE TABLE "name" with an "id" TEXT PRIMARY
 * KEY column and one column per other top-level field (union over the
 * documents; declared INTEGER, REAL, TEXT or BLOB when every non-null value
 * has that kind, untyped otherwise), then one INSERT per document, all
 * between BEGIN; and COMMIT;, loadable as is by the sqlite3 shell.  Values:
 * null -> NULL; bool -> 1/0; int; double (NaN -> NULL, +-Infinity ->
 * +-9e999); string -> '...' (one holding U+0000 or CR as
 * CAST(X'..' AS TEXT)); bytes -> X'..'; uuid -> its 36-character text;
 * date -> 'YYYY-MM-DDTHH:MM:SS.mmmZ' (years 0..9999; otherwise its JSON
 * text); arrays, objects and vectors -> their JSON text.  Identifiers are
 * double-quoted; a field whose name equals an earlier column's ignoring
 * ASCII case gets the suffix _2, _3, ...  SQL is export only.
 *
 * Soft-deleted documents are never exported.  Indexes are not exported.
 * Exports are plaintext: blazedb_export_file creates its file with mode
 * 0600.
 *
 * Thread-safety: as for the calls on collections (a handle from several
 * threads; a transaction from one thread at a time).  Callbacks run in the
 * calling thread and must not use the same transaction.
 */

/** Formats of export and import. */
typedef enum {
    BLAZEDB_FORMAT_NDJSON = 1,  /* one JSON document per line */
    BLAZEDB_FORMAT_JSON = 2,    /* one JSON array of documents */
    BLAZEDB_FORMAT_CSV = 3,     /* RFC 4180 with a header row */
    BLAZEDB_FORMAT_SQL = 4      /* CREATE TABLE + INSERT (export only) */
} BlazeDBFormat;

/**
 * Progress callback of export and import: `done` out of `total` units
 * (export: documents read, where CSV and SQL read each document twice and
 * count both passes; import: bytes of input consumed, total 0 when the size
 * is unknown).  Called every few thousand units and once at the end.
 * Returning non-zero cancels the operation with BLAZEDB_CANCELLED.
 */
typedef int (*BlazeDBProgressFn)(uint64_t done, uint64_t total, void *arg);

/** Export options (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_export_options_init sets it */
    BlazeDBFormat format;         /* default NDJSON */
    const char *collection;       /* one collection, or NULL for every
                                     collection (not with CSV) */
    const BlazeDBQuery *filter;   /* NULL, or only documents for which
                                     blazedb_query_matches is true; the
                                     query's collection, order and limit are
                                     not used (export goes in id order) */
    BlazeDBProgressFn progress;   /* may be NULL */
    void *progress_arg;
} BlazeDBExportOptions;

BLAZEDB_API void blazedb_export_options_init(BlazeDBExportOptions *opts);

/**
 * Output callback: writes buf[0..len); returns 0 on success, or non-zero to
 * stop the export (a BlazeDBResult such as BLAZEDB_FULL is returned as
 * is; any other value as BLAZEDB_IO_ERROR).
 */
typedef int (*BlazeDBWriteFn)(const void *buf, size_t len, void *arg);

/**
 * Exports documents in the snapshot of `txn` (a read or write transaction
 * of `db`), or of a read transaction of its own when txn is NULL, through
 * `writer` in chunks of up to 64 KiB.  *count (may be NULL) is the number of
 * documents written.  Errors: INVALID_ARGUMENT (bad options, CSV without a
 * collection), NOT_FOUND (no such collection), CANCELLED, the write
 * callback's code, CORRUPT, IO_ERROR, NOMEM; the message names the cause.
 * What was written before a failure is incomplete (a JSON array is left
 * open): blazedb_export_file cleans up after itself.
 */
BLAZEDB_API BlazeDBResult blazedb_export(BlazeDB *db, BlazeDBTxn *txn,
                                         const BlazeDBExportOptions *opts,
                                         BlazeDBWriteFn writer, void *arg, uint64_t *count);

/**
 * blazedb_export into the file `path` ("-": standard output, written as it
 * goes).  The data goes to a new temporary file in the same directory,
 * which is synced and then renamed over `path` (and the directory synced),
 * so `path` is either left as it was or holds the complete export; on any
 * failure the temporary file is removed.  Errors: those of blazedb_export;
 * IO_ERROR (the directory is not writable, ...) and FULL (no space left)
 * with the path and the system's reason in the message.
 */
BLAZEDB_API BlazeDBResult blazedb_export_file(BlazeDB *db, BlazeDBTxn *txn,
                                              const BlazeDBExportOptions *opts,
                                              const char *path, uint64_t *count);

/* Import flags (BlazeDBImportOptions.flags). */
#define BLAZEDB_IMPORT_UPSERT   0x1u /* replace documents with the same id
                                        (blazedb_upsert) instead of failing
                                        on them (blazedb_insert) */
#define BLAZEDB_IMPORT_SKIP_BAD 0x2u /* skip bad records and list them in
                                        the report; default: import nothing
                                        when any record is bad */

/** Import options (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_import_options_init sets it */
    BlazeDBFormat format;         /* NDJSON (default), JSON or CSV */
    const char *collection;       /* where documents go; NDJSON/JSON: until
                                     the first "$collection" marker (NULL:
                                     documents before a marker are bad);
                                     CSV: required */
    unsigned flags;               /* BLAZEDB_IMPORT_* */
    size_t batch_size;            /* SKIP_BAD without a caller's
                                     transaction: documents per committed
                                     transaction (0 = 10000).  Otherwise the
                                     import is one transaction (the caller's,
                                     or its own) */
    const char *csv_types;        /* NULL, or forced column types:
                                     "age:int,score:double,zip:string";
                                     types: auto, string, int, double, bool,
                                     json, date (ISO 8601 text as in the JSON
                                     mapping, or ms) */
    char csv_separator;           /* 0 = ',' */
    const char *source_name;      /* names the input in messages (NULL:
                                     "input"; blazedb_import_file: the path) */
    BlazeDBProgressFn progress;   /* may be NULL */
    void *progress_arg;
} BlazeDBImportOptions;

BLAZEDB_API void blazedb_import_options_init(BlazeDBImportOptions *opts);

/** How many bad records a report lists (the count goes on beyond). */
#define BLAZEDB_IMPORT_MAX_LISTED 20

/** One bad record. */
typedef struct {
    uint64_t line;                /* 1-based line where the record starts */
    uint64_t offset;              /* byte offset where it starts */
    BlazeDBResult code;           /* INVALID_ARGUMENT (malformed), EXISTS
                                     (id taken), TOO_BIG, ... */
    char message[256];            /* "source:line: reason", NUL-terminated */
} BlazeDBImportIssue;

/** What an import did.  The caller sets struct_size to sizeof. */
typedef struct {
    uint32_t struct_size;
    uint64_t imported;            /* documents written (committed, or in the
                                     caller's transaction) */
    uint64_t skipped;             /* bad records skipped (SKIP_BAD) */
    uint64_t bad;                 /* bad records seen */
    size_t listed;                /* entries of issues[] filled */
    BlazeDBImportIssue issues[BLAZEDB_IMPORT_MAX_LISTED];
} BlazeDBImportReport;

/**
 * Input callback: reads up to `cap` bytes into buf and sets *got (0 at the
 * end of the input); returns 0, or non-zero on a read error (the import
 * then fails with BLAZEDB_IO_ERROR, or the BlazeDBResult returned).
 */
typedef int (*BlazeDBReadFn)(void *buf, size_t cap, size_t *got, void *arg);

/**
 * Imports the records read through `reader` into `db`.
 *
 * Without BLAZEDB_IMPORT_SKIP_BAD it is all or nothing: everything happens
 * in one write transaction (txn, inside a savepoint of it, or one of its
 * own when txn is NULL, committed at the end), and the first bad record
 * (malformed, invalid UTF-8, ragged CSV row, id taken without UPSERT, ...)
 * stops it: nothing is imported, the result is that record's code and the
 * message names the source, line, offset and reason (the report lists it
 * too).  With SKIP_BAD, bad records are skipped and listed, the others are
 * imported (when txn is NULL, committed every batch_size documents; a
 * failure other than a bad record keeps the batches committed before it),
 * and the result is OK.  Failures that are not about one record stop the
 * import in both modes: a read error, JSON whose structure is broken (an
 * unterminated string or array), trailing garbage after a JSON array, a bad
 * CSV header or csv_types, a bad "$collection" marker, CANCELLED, and the
 * database's own errors (IO_ERROR, FULL, BUSY, READONLY, ...).
 *
 * Documents keep the id, createdAt and updatedAt they carry (a missing id
 * is generated; a missing createdAt or updatedAt is set as an insert would
 * set it).  `report` may be NULL; its struct_size must be set.
 */
BLAZEDB_API BlazeDBResult blazedb_import(BlazeDB *db, BlazeDBTxn *txn,
                                         const BlazeDBImportOptions *opts,
                                         BlazeDBReadFn reader, void *arg,
                                         BlazeDBImportReport *report);

/** blazedb_import from the file `path` ("-": standard input).  NOT_FOUND or
 *  IO_ERROR with the path when it cannot be opened. */
BLAZEDB_API BlazeDBResult blazedb_import_file(BlazeDB *db, BlazeDBTxn *txn,
                                              const BlazeDBImportOptions *opts,
                                              const char *path,
                                              BlazeDBImportReport *report);

/* ------------------------------------------------------------------------ */
/* Backup and restore (src/tools/backup.c; docs/OPERATIONS.md)               */
/* ------------------------------------------------------------------------ */
/*
 * A backup is taken from a read snapshot: readers and writers go on while
 * it runs, and the backup holds exactly the database as of one commit.  It
 * is one self-contained file: a header, then zstd-compressed AES-256-GCM
 * sealed chunks of pages, then a sealed trailer (docs/FILE_FORMAT.md,
 * "Backup files").  It is encrypted under the database's password or under
 * a password of its own.  An incremental backup holds only the pages
 * written since the backup it builds on (its base).  blazedb_restore writes
 * a new database from a full backup and any incrementals after it; the
 * restored database opens with the backup's password.
 *
 * Progress callbacks (BlazeDBProgressFn, defined with export above) receive
 * pages done out of pages in total and are called every chunk and once at
 * the end; returning non-zero cancels with BLAZEDB_CANCELLED, leaving no
 * file behind and the target untouched.  Errors name the file and, for a
 * damaged backup, the chunk and byte offset.  Messages: blazedb_errmsg(db)
 * for blazedb_backup, blazedb_errmsg(NULL) on the calling thread for
 * verify and restore.  Thread-safety: blazedb_backup may run while other
 * threads use the handle (it only reads); verify and restore use no handle.
 */

/** Options of blazedb_backup (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_backup_options_init sets it */
    const char *password;         /* NULL: the database's current password
                                     (its key slot is copied; no key
                                     derivation).  Otherwise the backup's
                                     own password.  A plaintext database
                                     with NULL gives an unencrypted backup
                                     (checksummed chunks) */
    BlazeDBKdf kdf;               /* for `password`: DEFAULT = the
                                     database's current function */
    uint32_t kdf_iterations;      /* as in BlazeDBOptions; 0 = the current */
    uint32_t kdf_memory_kib;      /* or default parameter */
    uint32_t kdf_parallelism;
    const char *incremental_from; /* NULL: a full backup.  Otherwise the path
                                     of the latest backup of the chain (full
                                     or incremental) of this database: only
                                     pages written since it are copied */
    int compression_level;        /* zstd level; 0 = 1 (fast); negative
                                     values are faster still */
    BlazeDBProgressFn progress;   /* may be NULL; pages examined of the
                                     snapshot's total */
    void *progress_arg;
} BlazeDBBackupOptions;

BLAZEDB_API void blazedb_backup_options_init(BlazeDBBackupOptions *opts);

/**
 * Writes a backup of the latest commit of `db` to `dest_path`, which must
 * not exist (EXISTS).  The file is written under a temporary name in the
 * same directory, synced, then given its name, so `dest_path` only ever
 * holds a complete backup.  The snapshot is held for the duration, so the
 * database file may grow meanwhile (pages freed by writers are reused only
 * after).  blazedb_interrupt(db) cancels it too.  opts may be NULL.
 * Errors: INVALID_ARGUMENT (bad options; incremental_from is not a backup
 * of this database, or is newer than the database), EXISTS, CANCELLED,
 * IO_ERROR, FULL, CORRUPT (a page of the database fails authentication),
 * NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_backup(BlazeDB *db, const char *dest_path,
                                         const BlazeDBBackupOptions *opts);

/** What blazedb_backup_verify found (the caller sets struct_size). */
typedef struct {
    uint32_t struct_size;
    uint32_t files;               /* backups in the chain */
    uint32_t page_size;
    uint32_t encrypted;           /* 1 when the chunks are encrypted */
    uint64_t snapshot_txn;        /* commit id the chain restores to */
    uint64_t page_count;          /* pages of the restored database */
    uint64_t pages;               /* pages stored, all files together */
    uint64_t chunks;              /* chunks, all files together */
    uint64_t bytes;               /* size of the files together */
} BlazeDBBackupInfo;

#define BLAZEDB_VERIFY_FULL 0x1u  /* also restore into a temporary database
                                     next to the last file and run the
                                     structure check on it (then delete it) */

/**
 * Checks the chain paths[0..n) (a full backup, then incrementals in order)
 * without restoring it: every header, chunk and trailer authenticates under
 * `password` (NULL for an unencrypted backup), every chunk decompresses,
 * counts and hashes match, each incremental builds on the file before it,
 * and the files are complete.  Any changed, missing or extra byte is
 * found.  With BLAZEDB_VERIFY_FULL the pages are also restored and checked
 * as a database.  `info` may be NULL.  Errors: CORRUPT (damaged, truncated
 * or altered; the message names the file, the chunk and the byte offset),
 * AUTH_FAILED (wrong password), INVALID_ARGUMENT (not a chain: another
 * database, wrong order, a missing link), NOT_A_DATABASE (not a backup
 * file), NOT_FOUND, CANCELLED, IO_ERROR, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_backup_verify(const char *const *paths, size_t n,
                                                const char *password, unsigned flags,
                                                BlazeDBProgressFn progress, void *arg,
                                                BlazeDBBackupInfo *info);

#define BLAZEDB_RESTORE_REPLACE 0x1u /* replace an existing target (which
                                        must not be open anywhere) */

/** Options of blazedb_restore (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_restore_options_init sets it */
    unsigned flags;               /* BLAZEDB_RESTORE_* */
    BlazeDBProgressFn progress;   /* may be NULL; pages written of all */
    void *progress_arg;
} BlazeDBRestoreOptions;

BLAZEDB_API void blazedb_restore_options_init(BlazeDBRestoreOptions *opts);

/**
 * Restores the chain paths[0..n) into a new database at `target_path`.
 * Everything is checked as by blazedb_backup_verify while it is written to
 * a temporary file next to the target; that file is synced and renamed
 * over the target only when all of it checked out, and a stale log of the
 * old database is emptied: an interruption at any point (crash, power
 * loss, error, cancellation) leaves either the old database or the new
 * one, never a mix.  The target's lock is held exclusively meanwhile: a
 * target open in any process (or handle) is refused with BUSY, and opens
 * wait.  An existing target is replaced only with BLAZEDB_RESTORE_REPLACE
 * (EXISTS otherwise).  The new database has a new identity and a new data
 * key and opens with the backup's password (a plaintext database's backup
 * restores as a plaintext database).  opts may be NULL.  Errors: those of
 * blazedb_backup_verify, plus BUSY, EXISTS, FULL.
 */
BLAZEDB_API BlazeDBResult blazedb_restore(const char *const *paths, size_t n,
                                          const char *password, const char *target_path,
                                          const BlazeDBRestoreOptions *opts);

/* ------------------------------------------------------------------------ */
/* Monitoring and health (src/db/monitor.c; docs/OPERATIONS.md)              */
/* ------------------------------------------------------------------------ */
/*
 * Every handle counts what it does from the moment it is opened: the
 * counters of blazedb_stats (reads, writes, commits, rollbacks, page-cache
 * hits and misses, pages and bytes read and written, fsyncs, checkpoints,
 * lock waits) plus the time spent waiting for locks, and a latency
 * histogram per kind of operation: kv_get, kv_put, kv_delete, kv_batch,
 * txn_begin, commit, doc_insert, doc_get, doc_update, doc_delete and
 * sql_statement (the time from a statement's first blazedb_step to DONE
 * or an error, the caller's time between rows included; SQL INSERT, UPDATE and DELETE also count in
 * the doc_* histograms, which they go through).  The kv_* histograms time
 * the one-shot calls (a one-shot put or delete includes its commit) and the
 * calls inside a transaction alike.  Buckets are powers of two in microseconds
 * (bucket k holds [2^(k-4), 2^(k-3)) µs; the first everything below
 * 0.125 µs); p50/p95/p99 are interpolated inside their bucket, so they are
 * exact to within a factor of two and never above the maximum seen.
 * Recording costs two reads of the CPU's time-stamp counter (or of
 * CLOCK_MONOTONIC where there is no invariant one) and a few relaxed
 * atomic loads and stores into counters of the calling thread's own (about
 * 4 KiB per thread that uses the handle): no lock and no locked
 * instruction on any operation's path.  Point reads (kv_get, doc_get) are
 * timed one call in 8, chosen at random, since the clock costs up to a
 * fifth of a cached get: their count and errors cover every call, "timed"
 * says how many were timed, the buckets, percentiles and maximum come
 * from those, and the sum is scaled up to the count.  Every other kind is
 * timed at every call.
 *
 * Counters belong to the handle (other handles and processes have their
 * own); sizes (pages, free pages, the log, collections) are the database's,
 * read from the latest commit.
 *
 * Privacy: nothing in the metrics or the health report is taken from a
 * document.  They hold numbers, and, as metadata, the names of collections
 * and indexes.  No id, field name or value appears.
 *
 * Thread-safety: both calls may run while other threads use the handle.
 */

/** blazedb_metrics_json / blazedb_health flag: also walk every collection's
 *  and index's tree to count its pages and find its longest key (reads the
 *  whole database: O(size)).  Without it everything comes from counters. */
#define BLAZEDB_METRICS_DEEP 0x1u

/**
 * All metrics as one JSON object (*json malloc'd, release with
 * blazedb_free):
 *   "counters": reads, writes, commits, rollbacks, cache_hits, cache_misses,
 *               cache_hit_ratio, pages_read, pages_written, bytes_read,
 *               bytes_written, fsyncs, checkpoints, lock_waits, lock_wait_us
 *   "wal":      frames, pages_not_checkpointed, bytes, file_bytes,
 *               autocheckpoint_pages (a number, or "off")
 *   "database": file_bytes, page_size, pages, pages_used, pages_free,
 *               free_ratio, max_pages, max_bytes, size_ratio_of_max,
 *               max_key_bytes, kv_keys, collections, last_txn_id,
 *               read_only, failed
 *   "latency":  per operation kind: count, errors, timed, sum_us, mean_us, max_us,
 *               p50_us, p95_us, p99_us, buckets ([[upper bound µs, count],
 *               ...], non-empty buckets only)
 *   "collections": [{name, documents (live), soft_deleted, bytes,
 *               timestamps, indexes: [{name, entries, fields, unique,
 *               partial}]}] in name order; with BLAZEDB_METRICS_DEEP also
 *               pages and longest_id_bytes per collection, pages and
 *               longest_key_bytes per index.
 * Also "version" (1, of this layout), "library", "uptime_s", "clock".
 * Errors: INVALID_ARGUMENT (NULL json, unknown flags), MISUSE (closed
 * handle), CORRUPT, IO_ERROR (reading the catalog), NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_metrics_json(BlazeDB *db, unsigned flags, char **json);

/** Overall verdict of blazedb_health. */
typedef enum {
    BLAZEDB_HEALTH_OK = 0,      /* nothing to do */
    BLAZEDB_HEALTH_WARN = 1,    /* works; an action is advised */
    BLAZEDB_HEALTH_ERROR = 2    /* the handle or the database needs attention
                                   now (failed handle, unreadable catalog,
                                   database at its size limit) */
} BlazeDBHealthStatus;

/** Thresholds of blazedb_health (versioned by struct_size).  0 in a field
 *  means its default. */
typedef struct {
    uint32_t struct_size;       /* blazedb_health_options_init sets it */
    uint32_t free_ratio_pct;    /* warn "free_pages" when more than this %
                                   of the pages are free (25) ... */
    uint64_t free_min_bytes;    /* ... and they hold at least this many bytes
                                   (1 MiB; set by init, 0 = any amount) */
    uint64_t wal_warn_bytes;    /* warn "wal_size" when the log holds more
                                   than this; 0: the larger of 64 MiB and
                                   4 x wal_autocheckpoint pages (64 MiB when
                                   automatic checkpoints are off) */
    uint32_t limit_pct;         /* warn when a size limit is this % reached
                                   (80) */
    uint32_t max_indexes;       /* warn when a collection has more indexes
                                   than this (16) */
} BlazeDBHealthOptions;

BLAZEDB_API void blazedb_health_options_init(BlazeDBHealthOptions *opts);

/** blazedb_health flags (BLAZEDB_HEALTH_DEEP is BLAZEDB_METRICS_DEEP). */
#define BLAZEDB_HEALTH_JSON 0x2u   /* the report as JSON instead of text */
#define BLAZEDB_HEALTH_DEEP BLAZEDB_METRICS_DEEP /* also check the longest
                                   id and index entry against the key limit */

/**
 * Checks the handle and the database against the thresholds in `opts`
 * (NULL: the defaults) and sets *status to the worst finding.  Each finding
 * has a severity, a code, the reason (with the numbers) and the suggested
 * action:
 *   error "failed"          an earlier I/O error made the handle refuse
 *                           writes: close and reopen it;
 *   error "read_error"      the catalog could not be read: run the
 *                           integrity check;
 *   warn  "reencryption_unfinished"  a blazedb_reencrypt was cancelled,
 *                           interrupted or held back by a reader: run it
 *                           again;
 *   warn  "free_pages"      free pages past free_ratio_pct: vacuum;
 *   warn  "wal_size"        the log holds more than the threshold not yet
 *                           checkpointed: checkpoint (schedule them when
 *                           automatic checkpoints are off);
 *   warn  "wal_not_reset"   the log is checkpointed but longer than the
 *                           threshold: end old read transactions, checkpoint;
 *   warn/error "database_size"  pages used past limit_pct of the maximum
 *                           (error at the last page): split the data
 *                           (docs/LIMITS.md);
 *   warn  "too_many_indexes" a collection has more than max_indexes;
 *   warn  "id_size", "index_key_size" (BLAZEDB_HEALTH_DEEP) the longest id
 *                           or index entry is past limit_pct of the key
 *                           limit.
 * *report (may be NULL when only the status is wanted) is malloc'd text
 * ("status: warn", then one line per finding and one "  action:" line) or,
 * with BLAZEDB_HEALTH_JSON, {"status":"warn","issues":[{"severity",
 * "code","reason","action"}...],"checked":{...the numbers...}}.
 * Returns OK whenever the report was made, whatever the status.  Errors:
 * INVALID_ARGUMENT (NULL status, unknown flags, bad struct_size), MISUSE,
 * NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_health(BlazeDB *db, const BlazeDBHealthOptions *opts,
                                         unsigned flags, char **report,
                                         BlazeDBHealthStatus *status);

/* ------------------------------------------------------------------------ */
/* Integrity check and repair (src/tools/check.c; docs/OPERATIONS.md)       */
/* ------------------------------------------------------------------------ */

/*
 * blazedb_check verifies a read snapshot of an open database while readers
 * and writers go on.  Both modes read every page in use and check:
 *   - every page authenticates as the version its parent names;
 *   - every B+tree (byte-KV, free-page tree, catalog, each collection's
 *     documents, each index, change log): page layout, keys in order within
 *     and across pages, separators bound their subtrees, leaves at one
 *     depth, overflow chains complete, entry counts equal their roots';
 *   - page accounting: each page below the high-water mark is used by
 *     exactly one tree or listed free once (no overlap, no leak);
 *   - the catalog: records decode, collection ids unique and below the
 *     next id, index definitions and name records agree, stored bytes.
 * The full mode (default) also decodes every document (and checks that its
 * "id" equals its key), checks the soft-deleted counts and list against
 * the documents' isDeleted, checks that each index holds exactly the
 * entries its collection's documents give (no stale entry, none missing,
 * partial indexes by their predicate, unique indexes without duplicates),
 * and decodes the change log.  The quick mode skips that per-document
 * work.  A check does not stop at the first problem.
 */
#define BLAZEDB_CHECK_QUICK 0x1u  /* structure only (see above) */
#define BLAZEDB_CHECK_JSON  0x2u  /* the report as JSON */
/** Problems listed in a report at most; the count goes on beyond. */
#define BLAZEDB_CHECK_MAX_LISTED 1000

/**
 * Checks the database's latest commit.  `progress` (may be NULL) receives
 * pages read out of the snapshot's page count and can cancel;
 * blazedb_interrupt(db) cancels too.  *report (may be NULL) receives the
 * report, malloc'd (blazedb_free): text, one "problem: page N: WHERE: id
 * 'X': what" line per problem (page and id when known; at most
 * BLAZEDB_CHECK_MAX_LISTED, then "... and N more") and a final "verdict:
 * OK ..." or "verdict: CORRUPT (N problems)" line; or with
 * BLAZEDB_CHECK_JSON {"check","snapshot","page_size","pages","checked":{...},
 * "problems":[{"page","where","id","message"}...],"problems_total",
 * "problems_not_listed","verdict":"ok"|"corrupt"}.  Ids and names are shown
 * as printable ASCII (other bytes as \xHH).  *problems (may be NULL) is the
 * number of problems.  Returns OK when none was found, CORRUPT when some
 * were (the report is complete in both cases), or an error that stopped
 * the check (no report): INVALID_ARGUMENT, MISUSE, CANCELLED, NOMEM,
 * IO_ERROR.  Speed: about the file's read and decryption speed (see
 * bench/RESULTS.md, workload "check").
 */
BLAZEDB_API BlazeDBResult blazedb_check(BlazeDB *db, unsigned flags,
                                        BlazeDBProgressFn progress, void *arg,
                                        char **report, uint64_t *problems);

#define BLAZEDB_REPAIR_JSON 0x1u  /* the report as JSON */

/** Options of blazedb_repair (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_repair_options_init sets it */
    unsigned flags;               /* BLAZEDB_REPAIR_* */
    BlazeDBProgressFn progress;   /* may be NULL; pages examined of the
                                     source's pages (each examined twice:
                                     scan, then recovery) */
    void *progress_arg;
} BlazeDBRepairOptions;

BLAZEDB_API void blazedb_repair_options_init(BlazeDBRepairOptions *opts);

/** What blazedb_repair recovered (the caller sets struct_size). */
typedef struct {
    uint32_t struct_size;
    uint64_t pages;               /* page numbers examined */
    uint64_t pages_failed;        /* of them, pages that hold something and
                                     fail authentication */
    uint64_t documents;           /* documents written to the new database */
    uint64_t orphans;             /* of them, found on pages no readable tree
                                     reached (in lost_and_found or given back
                                     to their collection by key range) */
    uint64_t lost_and_found;      /* of them, in collection lost_and_found */
    uint64_t kv_entries;          /* byte-KV entries written */
    uint64_t ids_lost;            /* ids known to be lost (index entries,
                                     older page versions) */
    uint32_t collections;         /* collections created */
    uint32_t indexes;             /* indexes re-created */
    uint32_t indexes_failed;      /* index definitions that could not be
                                     re-created (named in the report) */
    uint32_t complete;            /* 1: nothing was damaged, everything was
                                     copied */
} BlazeDBRepairStats;

/**
 * Salvages the database at src_path into a new database at out_path,
 * which must not exist (EXISTS).  The source is only read (it should not
 * be in use; it is opened at the page level, so a damaged meta, catalog or
 * tree does not stop it).  Every page is examined; every document and
 * byte-KV entry on a page that still authenticates is recovered (the
 * newest version when several page versions hold one id); collections are
 * re-created with their options and indexes (rebuilt from the documents);
 * documents that cannot be given back to a collection go to a collection
 * named lost_and_found.  The new database opens with `password` and has
 * the source's page size and KDF; it is written under a temporary name
 * next to out_path and linked to out_path only when complete.  *report
 * (may be NULL) is malloc'd (blazedb_free) text or JSON: the pages that
 * failed authentication (with the tree and key range they held when
 * known), the ids known to be lost, what was recovered where, and a
 * verdict line.  `opts` and `stats` may be NULL.  Messages:
 * blazedb_errmsg(NULL) on the calling thread.  Errors: INVALID_ARGUMENT,
 * NOT_FOUND (no source), EXISTS, AUTH_FAILED (wrong password),
 * NOT_A_DATABASE, CORRUPT (the header, hence the key, is unreadable:
 * nothing can be decrypted), CANCELLED, IO_ERROR, FULL, NOMEM; nothing is
 * left at out_path then.
 */
BLAZEDB_API BlazeDBResult blazedb_repair(const char *src_path, const char *password,
                                         const char *out_path,
                                         const BlazeDBRepairOptions *opts,
                                         BlazeDBRepairStats *stats, char **report);

/* ------------------------------------------------------------------------ */
/* Vacuum (src/tools/vacuum.c; docs/OPERATIONS.md)                           */
/* ------------------------------------------------------------------------ */
/*
 * Vacuum compacts the database: pages in use near the end of the file are
 * moved (copy-on-write, in ordinary write transactions of a bounded number
 * of pages, so other writers interleave) into free pages nearer the start;
 * then one commit lowers the database's page count over the free pages
 * left at the end, and the checkpoint that follows truncates the main
 * file.  It is online — readers keep their snapshots, writers keep
 * committing — and crash-safe at every step (a crash or power loss leaves
 * the database as of some commit, with every committed document).  A
 * read transaction older than the vacuum holds back the pages it can
 * still reach: vacuum then returns BLAZEDB_BUSY after returning what it
 * could; run it again once that reader ended.
 *
 * Progress callbacks (BlazeDBProgressFn, defined with export above)
 * receive pages moved out of the pages above the target size; returning
 * non-zero (or blazedb_interrupt) cancels with BLAZEDB_CANCELLED between
 * two transactions: the pages moved so far stay moved, nothing is lost.
 */

/** Options of blazedb_vacuum (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_vacuum_options_init sets it */
    uint32_t pages_per_txn;       /* pages moved per write transaction at
                                     most: 8..2^20; 0 = 1024 */
    BlazeDBProgressFn progress;   /* may be NULL */
    void *progress_arg;
} BlazeDBVacuumOptions;

BLAZEDB_API void blazedb_vacuum_options_init(BlazeDBVacuumOptions *opts);

/**
 * Vacuums `db` (opts may be NULL).  *bytes_reclaimed (may be NULL) gets
 * the bytes by which the database shrank: pages removed from its end times
 * the page size (the main file is truncated to the new size by the
 * checkpoint vacuum runs at its end).  Errors: BUSY (a reader older than
 * the vacuum holds pages; *bytes_reclaimed says what was returned anyway;
 * or the write lock timed out), CANCELLED, READONLY, INVALID_ARGUMENT,
 * IO_ERROR, FULL, CORRUPT, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_vacuum(BlazeDB *db, const BlazeDBVacuumOptions *opts,
                                         uint64_t *bytes_reclaimed);

/**
 * Auto-vacuum for this handle (off by default; not stored in the file):
 * after a commit, when free pages exceed `free_fraction` of the database's
 * pages and at least `min_free_bytes`, the committing thread runs one step
 * of a vacuum — one transaction of at most `pages_per_txn` pages (0 =
 * 1024), or the final shrink and checkpoint — so each commit pays for at
 * most one step.  Steps are skipped while another thread runs one.
 * After a vacuum that returned nothing (a reader holds the pages) the
 * next 256 commits do not check.  free_fraction 0 turns it off.  Call it
 * while no other thread uses the handle.  Errors: INVALID_ARGUMENT
 * (free_fraction not in [0, 1), pages_per_txn not in 8..2^20), READONLY,
 * NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_auto_vacuum(BlazeDB *db, double free_fraction,
                                              uint64_t min_free_bytes,
                                              uint32_t pages_per_txn);

/* ------------------------------------------------------------------------ */
/* Re-encryption under a new data key (src/tools/vacuum.c; OPERATIONS.md)    */
/* ------------------------------------------------------------------------ */
/*
 * blazedb_rekey changes the password in constant time: it rewraps the data
 * key and rewrites no page.  When the data key itself may have leaked,
 * blazedb_reencrypt replaces it: a new random data key is made (announced
 * in the file header, wrapped under the old one, so every open handle in
 * every process learns it), every writer from then on seals pages under it,
 * and every page still sealed under the old key is rewritten, by
 * copy-on-write, in ordinary write transactions of a bounded number of
 * pages (other writers interleave; readers keep their snapshots).  Then
 * the log is copied home and restarted, both meta pages are resealed, free
 * pages that still hold old ciphertext are overwritten with zeros, and the
 * header forgets the old key: from then on nothing in the database or its
 * log can be read with the old data key.  The password stays the same.
 *
 * Crash-safe at every step: until the header forgets the old key it holds
 * both, so a crash or power loss anywhere leaves a database that opens
 * with its password, with every committed document; calling
 * blazedb_reencrypt again resumes (pages already under the new key are
 * not rewritten).  A read transaction older than the re-encryption may
 * still reach pages under the old key: the call then returns BLAZEDB_BUSY
 * with the database fully usable (both keys kept); run it again once that
 * reader ended.  Progress callbacks receive pages rewritten so far and an
 * estimate of the total; returning non-zero (or blazedb_interrupt) stops
 * with BLAZEDB_CANCELLED between two transactions, nothing lost.
 * Incremental backups taken after a re-encryption copy every page (each
 * page has a new version).  A plaintext database has no key:
 * INVALID_ARGUMENT.
 */

/** Options of blazedb_reencrypt (versioned by struct_size). */
typedef struct {
    uint32_t struct_size;         /* blazedb_reencrypt_options_init sets it */
    uint32_t pages_per_txn;       /* pages rewritten per write transaction
                                     at most: 8..2^20; 0 = 1024 */
    BlazeDBProgressFn progress;   /* may be NULL */
    void *progress_arg;
} BlazeDBReencryptOptions;

BLAZEDB_API void blazedb_reencrypt_options_init(BlazeDBReencryptOptions *opts);

/**
 * Re-encrypts every page of `db` under a new data key (opts may be NULL).
 * *pages_rewritten (may be NULL) gets the pages this call rewrote.  Other
 * threads (and processes) may use the database meanwhile, even for another
 * blazedb_reencrypt: calls that overlap share one re-encryption or run one
 * after the other.
 * Errors: BUSY (an older reader still reaches old pages, or the write lock
 * timed out: run it again), CANCELLED, READONLY, INVALID_ARGUMENT
 * (plaintext database, bad options), AUTH_FAILED (the password was changed
 * by another handle since this one opened: reopen with the new password),
 * IO_ERROR, FULL, CORRUPT, NOMEM.
 */
BLAZEDB_API BlazeDBResult blazedb_reencrypt(BlazeDB *db, const BlazeDBReencryptOptions *opts,
                                            uint64_t *pages_rewritten);

/**
 * The key state of the database: *key_epoch (may be NULL) gets the number
 * of completed re-encryptions since creation (0 for a new database), and
 * *in_progress (may be NULL) 1 while a re-encryption has started and not
 * finished (pages may be under either key), else 0.  Reads the header.
 * Errors: INVALID_ARGUMENT, IO_ERROR, CORRUPT.
 */
BLAZEDB_API BlazeDBResult blazedb_key_state(BlazeDB *db, uint32_t *key_epoch,
                                            int *in_progress);

#ifdef __cplusplus
}
#endif
#endif /* BLAZEDB_H */
