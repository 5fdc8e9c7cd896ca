/*
 * fuzz_common.h — shared set-up for the fuzz targets: a small pristine
 * database built once in the in-memory vfs, and helpers to exercise a
 * (possibly damaged) database: open, structure check, full scan, close.
 */
#ifndef BLAZEDB_FUZZ_COMMON_H
#define BLAZEDB_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "memvfs.h"
#include "../src/crypto/crypto.h"
#include "../src/db/db.h"
#include "../src/pager/codec.h"

#define FZ_PATH "/fuzz.db"
#define FZ_WAL "/fuzz.db-wal"
#define FZ_SHM "/fuzz.db-shm"
#define FZ_PAGE 4096

static uint8_t *fz_pristine;
static size_t fz_pristine_len;

static void fz_options(BlazeDBOptions *o, int plaintext)
{
    blazedb_options_init(o);
    o->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o->kdf_iterations = 1;
    o->page_size = FZ_PAGE;
    o->busy_timeout_ms = 10;
    o->cache_size = 256 << 10;
    if (plaintext)
        o->flags |= BLAZEDB_OPEN_PLAINTEXT;
}

/* Builds the pristine database once: a few hundred keys, one overflow value,
 * some deletions, everything checkpointed into the main file. */
static void fz_build(int plaintext)
{
    if (fz_pristine)
        return;
    BlazeDBOptions o;
    fz_options(&o, plaintext);
    BlazeDB *db = NULL;
    if (db_open_vfs(FZ_PATH, plaintext ? NULL : "pw", &o, &memvfs, &db) != BLAZEDB_OK)
        abort(); /* harness set-up, not the code under test */
    char k[32], v[600];
    for (int i = 0; i < 400; i++) {
        snprintf(k, sizeof k, "key%05d", i * 37 % 400);
        memset(v, 'a' + i % 26, sizeof v);
        if (blazedb_put2(db, k, strlen(k), v, (size_t)(i % 7) * 80) != BLAZEDB_OK)
            abort();
    }
    static uint8_t big[20000];
    memset(big, 'Z', sizeof big);
    if (blazedb_put2(db, "big", 3, big, sizeof big) != BLAZEDB_OK)
        abort();
    for (int i = 0; i < 400; i += 5) {
        snprintf(k, sizeof k, "key%05d", i);
        blazedb_delete2(db, k, strlen(k));
    }
    blazedb_close(db);
    MemNode *n = memvfs_node(FZ_PATH);
    fz_pristine = malloc(n->size);
    memcpy(fz_pristine, n->data, n->size);
    fz_pristine_len = n->size;
}

static void fz_reset_files(void)
{
    memvfs_set(FZ_PATH, fz_pristine, fz_pristine_len);
    memvfs_remove(&memvfs, FZ_WAL);
    memvfs_remove(&memvfs, FZ_SHM);
}

/* Recomputes the plaintext integrity tag of a page image in place. */
static inline void fz_fix_plain_tag(uint8_t *img, size_t ps)
{
    uint8_t *tr = img + ps - PAGER_TRAILER;
    uint8_t *buf = malloc(13 + ps - PAGER_TRAILER), h[32];
    memcpy(buf, tr + 28, 13);
    memcpy(buf + 13, img, ps - PAGER_TRAILER);
    crypto_sha256(buf, 13 + ps - PAGER_TRAILER, h);
    memcpy(tr + 12, h, 16);
    memset(tr, 0, 12);
    free(buf);
}

/* Opens whatever is in the vfs and walks it; must never crash or hang.
 * Returns the open result. */
static int fz_exercise(int plaintext, const char *pw)
{
    BlazeDBOptions o;
    fz_options(&o, plaintext);
    BlazeDB *db = NULL;
    int rc = db_open_vfs(FZ_PATH, pw, &o, &memvfs, &db);
    if (rc != BLAZEDB_OK)
        return rc;
    char msg[256];
    db_check(db, msg, sizeof msg);
    BlazeDBIterator *it;
    if (blazedb_iter_open(db, NULL, NULL, &it) == BLAZEDB_OK) {
        int steps = 0;
        while (steps++ < 5000 && blazedb_iter_next(it) == BLAZEDB_OK) {
            const void *k, *v;
            size_t kl, vl;
            blazedb_iter_key(it, &k, &kl);
            blazedb_iter_value(it, &v, &vl);
        }
        blazedb_iter_close(it);
    }
    void *v;
    size_t vl;
    if (blazedb_get2(db, "big", 3, &v, &vl) == BLAZEDB_OK)
        blazedb_free(v);
    if (blazedb_get2(db, "key00007", 8, &v, &vl) == BLAZEDB_OK)
        blazedb_free(v);
    blazedb_put2(db, "new", 3, "x", 1);
    blazedb_delete2(db, "key00011", 8);
    blazedb_close(db);
    return rc;
}

#endif /* BLAZEDB_FUZZ_COMMON_H */
