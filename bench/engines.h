/*
 * engines.h — the adapter every benchmarked engine implements, so each
 * workload is written once (bench.c for byte-KV, docs.c for documents) and
 * run against BlazeDB and its peers (engines.c: SQLite WAL FULL/NORMAL,
 * SQLCipher, LMDB; documents: all but LMDB).
 */
#ifndef BLAZEDB_BENCH_ENGINES_H
#define BLAZEDB_BENCH_ENGINES_H

#include <stddef.h>
#include <stdint.h>

/* One write of a document transaction (DocOps.write_txn). */
typedef enum { DOC_INSERT, DOC_PATCH, DOC_DELETE } DocWriteKind;
typedef struct {
    DocWriteKind kind;
    const char *id;   /* NUL-terminated */
    const char *json; /* DOC_INSERT: the document as JSON text (its "id" is `id`) */
    size_t len;
    int64_t age;      /* DOC_PATCH: the new value of the field "age" */
} DocWrite;

/*
 * Documents: BlazeDB's collection "docs", or an SQL table
 * docs(id TEXT PRIMARY KEY, doc TEXT) holding the JSON text.  Every engine
 * starts from the same JSON text.  Calls return 0 on success, -1 on failure
 * (a get also fails when the document read back does not carry `id`).
 */
typedef struct {
    void *(*open)(const char *dir);
    void (*close)(void *h);
    /* One durable insert. */
    int (*insert)(void *h, const char *id, const char *json, size_t len);
    /* n DOC_INSERTs in one durable call (BlazeDB: blazedb_insert_many). */
    int (*insert_many)(void *h, const DocWrite *w, size_t n);
    /* n writes of any kind in one durable transaction. */
    int (*write_txn)(void *h, const DocWrite *w, size_t n);
    /* Reads a document in the engine's native form: BlazeDB a BlazeDBDoc,
     * SQL the JSON text (copied out). */
    int (*get)(void *h, const char *id);
    /* Reads a document as JSON text (BlazeDB: get + blazedb_doc_to_json). */
    int (*get_json)(void *h, const char *id);
    /* One durable change of the field "age". */
    int (*patch)(void *h, const char *id, int64_t age);
    /* One durable delete. */
    int (*del)(void *h, const char *id);
    /* A caveat for the report once the engine is opened, or NULL. */
    const char *(*note)(void *h);
} DocOps;

typedef struct {
    const char *name;
    /* Opens (creating) a database in directory `dir`.  NULL on failure. */
    void *(*open)(const char *dir);
    void (*close)(void *h);
    /* A second handle on the same database for another thread (SQLite needs
     * one connection per thread); may return h itself. */
    void *(*open_more)(void *h, const char *dir);
    void (*close_more)(void *h, void *more);
    /* One durable transaction storing one key. */
    int (*put1)(void *h, const char *k, size_t kl, const void *v, size_t vl);
    /* One durable transaction storing n keys (all of length kl). */
    int (*put_batch)(void *h, const char *keys, size_t kl, size_t n, const void *v,
                     size_t vl);
    /* Reads a key; returns its value length, or -1 if absent/failed. */
    long (*get)(void *h, const char *k, size_t kl);
    /* Reads n consecutive keys from `start`; returns how many were read. */
    long (*scan)(void *h, const char *start, size_t kl, int n);
    /* Files of the database (for dropping them from the OS cache). */
    int (*files)(const char *dir, char out[][512], int max);
    /* Document operations, or NULL when the engine is not run on them. */
    const DocOps *doc;
} Engine;

extern const Engine engine_blazedb, engine_sqlite_full, engine_sqlite_normal,
    engine_sqlcipher, engine_lmdb;

/* Version strings of the peers, for the report ("" when unavailable). */
const char *engines_versions(void);

#endif
