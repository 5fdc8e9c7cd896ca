/*
 * engines.h — the adapter every benchmarked engine implements, so each
 * workload is written once (bench.c) and run against BlazeDB and its peers
 * (engines.c: SQLite WAL FULL/NORMAL, SQLCipher, LMDB).
 */
#ifndef BLAZEDB_BENCH_ENGINES_H
#define BLAZEDB_BENCH_ENGINES_H

#include <stddef.h>

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
} Engine;

extern const Engine engine_blazedb, engine_sqlite_full, engine_sqlite_normal,
    engine_sqlcipher, engine_lmdb;

/* Version strings of the peers, for the report ("" when unavailable). */
const char *engines_versions(void);

#endif
