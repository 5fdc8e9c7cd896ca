/*
 * backup.c — online backups (full and incremental), their verification, and
 * restore.  Owns the backup file format (docs/FILE_FORMAT.md, "Backup
 * files"); uses the pager for snapshots and page reads, the free-page tree
 * to know which pages are free, the header code for key slots, and zstd.
 *
 * WHAT IS COPIED.  A backup runs inside a pager read transaction: one
 * snapshot S, while readers and writers go on.  It copies every page number
 * below S's high-water mark except the pages the free tree of S lists as
 * free.  db_check's invariant (every page below the mark is used exactly
 * once: by a tree, by the free tree, or listed free) makes that exactly the
 * set of pages reachable from S's meta — the free tree's own pages
 * included — without this module knowing every kind of tree (collections,
 * indexes, overflow chains, ...): new structures are covered for free.
 * Each page is read as S sees it through the pager's own read path
 * (pager_snapshot_read: log frame if the log holds it, else the main file,
 * retrying across a log restart), authenticated, and stored decrypted
 * (compression needs plaintext) with its version `ctr`.  Copy-on-write
 * guarantees that a page reachable from a live snapshot is never rewritten,
 * so these reads race with nothing.  The reads bypass the page cache.
 *
 * INCREMENTAL.  Every page version carries ctr = the id of the commit that
 * wrote it (bound into its AEAD).  An incremental backup on a base whose
 * snapshot is B stores only pages with ctr > B.  That is enough: a page
 * reachable from S with ctr <= B was written at or before B and never
 * freed since (a freed version is never referenced again), so it was
 * reachable from B and is in the base chain.  Restore applies the files in
 * order, later pages overwriting earlier ones, and takes the high-water
 * mark and meta of the last one; pages free in the final state may keep
 * stale content (nothing reads a free page) or be holes.  The cost of an
 * incremental is one read and authentication of every used page (the
 * version is in the sealed image) plus compression of the changed ones.
 *
 * KEYS.  Backup key K: the database's data key for an encrypted database;
 * for a plaintext one with a password, a random key; none for a plaintext
 * one without (chunks then carry SHA-256 checksums only, like plaintext
 * pages).  The header carries a key slot in the database-header slot
 * format wrapping K: with no password given, the database's own slot is
 * copied (same password, no key derivation); with one, a new slot (new
 * salt, the KDF chosen) wraps K under it.  Chunks and trailer are sealed
 * under HKDF(K, "blazedb backup key v1"); each chunk's associated data is
 * the backup id plus its header (index, counts, lengths), so chunks cannot
 * be reordered, dropped, or moved between backups, and a hash chain over
 * the chunk headers and tags, sealed in the trailer with the header's hash,
 * commits to the whole file.
 *
 * RESTORE.  Takes the target's DMS lock exclusively through the engine's
 * own protocol (byte 2^20 of NAME-shm, which every open handle holds
 * shared): a database open anywhere is refused, and opens wait meanwhile.
 * Writes NAME-restoring-XXXXXXXX: pages resealed under a fresh data key
 * (with their pgno and ctr), synced; then the meta pages and page 0 (a new
 * file id; the key wrapped under the backup slot's KDF, salt and password),
 * synced; rename(2) over NAME; directory synced; finally NAME-wal is
 * truncated to zero in place (never unlinked: an opener waiting on the lock
 * may hold it open).  Before the rename NAME is untouched; after it NAME is
 * complete, and a stale log left by a crash in between belongs to the old
 * file id, which recovery ignores.  The vfs has no rename, so that one call
 * is rename(2) directly; every other byte goes through the vfs (power-loss
 * tests use os_fault).
 */
#include "backup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "../btree/btree.h"
#include "../crypto/crypto.h"
#include "../db/db.h"
#include "../pager/codec.h"
#include "../pager/header.h"
#include "../pager/pager.h"
#include "../pager/shm.h"

static const char BK_MAGIC[16] = "BlazeDB backup 1";
#define BK_VERSION 1u
#define BK_HDR BACKUP_HEADER_SIZE
#define BK_HDR_SUM 480                 /* SHA-256 of header bytes [0, 480) */
#define BK_CHDR BACKUP_CHUNK_HEADER_SIZE
#define BK_CHUNK_AD 24                 /* chunk header bytes in the AD */
#define BK_TAG CRYPTO_TAG_LEN
#define BK_ENTRY 16                    /* per page: pgno, zero, ctr */
#define BK_TBODY 352                   /* sealed trailer body */
#define BK_TRAILER BACKUP_TRAILER_SIZE /* 8 + 12 + 352 + 16 */
#define BK_CHUNK_PAGES 64
#define BK_MAX_CHUNK_PAGES 256 /* bounds what a hostile header makes us allocate */
#define BK_COMPRESSION_ZSTD 1u

#define BK_F_INCREMENTAL 0x1u
#define BK_F_SRC_PLAIN 0x2u  /* the source was a plaintext database */
#define BK_F_UNENCRYPTED 0x4u /* no key: checksummed, not encrypted */
#define BK_F_ALL 0x7u

#define ERRLEN 512

typedef struct {
    uint32_t flags, page_size, chunk_pages, compression;
    uint8_t id[16], db_id[16], base_id[16];
    uint64_t txnid, base_txnid, pages, created_ms;
    Pgno npages;
    uint8_t key_slot[HEADER_SLOT_SIZE];
} BkHeader;

static void hdr_encode(const BkHeader *h, uint8_t out[BK_HDR])
{
    memset(out, 0, BK_HDR);
    memcpy(out, BK_MAGIC, 16);
    put_le32(out + 16, BK_VERSION);
    put_le32(out + 20, h->flags);
    put_le32(out + 24, h->page_size);
    put_le32(out + 28, h->chunk_pages);
    memcpy(out + 32, h->id, 16);
    memcpy(out + 48, h->db_id, 16);
    memcpy(out + 64, h->base_id, 16);
    put_le64(out + 80, h->txnid);
    put_le64(out + 88, h->base_txnid);
    put_le64(out + 96, h->pages);
    put_le32(out + 104, h->npages);
    put_le32(out + 108, h->compression);
    put_le64(out + 112, h->created_ms);
    memcpy(out + 128, h->key_slot, HEADER_SLOT_SIZE);
    crypto_sha256(out, BK_HDR_SUM, out + BK_HDR_SUM);
}

/* BLAZEDB_OK, NOT_A_DATABASE (no magic) or CORRUPT, with a message. */
static int hdr_decode(const uint8_t in[BK_HDR], BkHeader *h, char *err, size_t errlen)
{
    if (memcmp(in, BK_MAGIC, 16) != 0) {
        snprintf(err, errlen, "not a BlazeDB backup (no backup magic)");
        return BLAZEDB_NOT_A_DATABASE;
    }
    uint8_t sum[32];
    crypto_sha256(in, BK_HDR_SUM, sum);
    if (memcmp(sum, in + BK_HDR_SUM, 32) != 0) {
        snprintf(err, errlen, "the backup header is damaged (checksum mismatch)");
        return BLAZEDB_CORRUPT;
    }
    if (get_le32(in + 16) != BK_VERSION) {
        snprintf(err, errlen, "unsupported backup format version %u", get_le32(in + 16));
        return BLAZEDB_NOT_A_DATABASE;
    }
    memset(h, 0, sizeof *h);
    h->flags = get_le32(in + 20);
    h->page_size = get_le32(in + 24);
    h->chunk_pages = get_le32(in + 28);
    memcpy(h->id, in + 32, 16);
    memcpy(h->db_id, in + 48, 16);
    memcpy(h->base_id, in + 64, 16);
    h->txnid = get_le64(in + 80);
    h->base_txnid = get_le64(in + 88);
    h->pages = get_le64(in + 96);
    h->npages = get_le32(in + 104);
    h->compression = get_le32(in + 108);
    h->created_ms = get_le64(in + 112);
    memcpy(h->key_slot, in + 128, HEADER_SLOT_SIZE);
    int inc = (h->flags & BK_F_INCREMENTAL) != 0;
    if ((h->flags & ~BK_F_ALL) || h->page_size < 4096 || h->page_size > 65536 ||
        (h->page_size & (h->page_size - 1)) || h->chunk_pages == 0 ||
        h->chunk_pages > BK_MAX_CHUNK_PAGES || h->compression != BK_COMPRESSION_ZSTD ||
        h->npages < PAGER_FIRST_DATA_PGNO || h->npages > PAGER_MAX_PGNO ||
        h->pages > h->npages || (inc && h->base_txnid > h->txnid) ||
        (!inc && h->base_txnid != 0) ||
        ((h->flags & BK_F_UNENCRYPTED) && !(h->flags & BK_F_SRC_PLAIN))) {
        snprintf(err, errlen, "the backup header has impossible values");
        return BLAZEDB_CORRUPT;
    }
    return BLAZEDB_OK;
}

static int io_rc(int e)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return BLAZEDB_FULL;
    if (e == ENOMEM)
        return BLAZEDB_NOMEM;
    if (e == ENOENT)
        return BLAZEDB_NOT_FOUND;
    return BLAZEDB_IO_ERROR;
}

static CryptoAead *chunk_aead(const uint8_t k[CRYPTO_KEY_LEN], int unencrypted)
{
    if (unencrypted)
        return crypto_aead_new_plain();
    uint8_t ck[CRYPTO_KEY_LEN];
    if (crypto_hkdf(k, CRYPTO_KEY_LEN, "blazedb backup key v1", ck, sizeof ck))
        return NULL;
    CryptoAead *a = crypto_aead_new(ck);
    crypto_wipe(ck, sizeof ck);
    return a;
}

static void chain_init(const uint8_t id[16], uint8_t chain[32])
{
    uint8_t buf[40];
    memcpy(buf, "BDBCHAIN", 8);
    memcpy(buf + 8, id, 16);
    memset(buf + 24, 0, 16);
    crypto_sha256(buf, sizeof buf, chain);
}

/* chain = SHA-256(chain || chunk header || tag) */
static void chain_step(uint8_t chain[32], const uint8_t chdr[BK_CHDR], const uint8_t tag[BK_TAG])
{
    uint8_t buf[32 + BK_CHDR + BK_TAG];
    memcpy(buf, chain, 32);
    memcpy(buf + 32, chdr, BK_CHDR);
    memcpy(buf + 32 + BK_CHDR, tag, BK_TAG);
    crypto_sha256(buf, sizeof buf, chain);
}

static void chunk_ad(const uint8_t id[16], const uint8_t chdr[BK_CHDR], uint8_t ad[16 + BK_CHUNK_AD])
{
    memcpy(ad, id, 16);
    memcpy(ad + 16, chdr, BK_CHUNK_AD);
}

static void trailer_ad(const uint8_t id[16], const uint8_t tr[8], uint8_t ad[24])
{
    memcpy(ad, id, 16);
    memcpy(ad + 16, tr, 8);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Unique temporary name "<path><tag><8 hex>". */
static char *temp_name(OsVfs *vfs, const char *path, const char *tag)
{
    uint32_t r = 0;
    vfs->random(vfs, &r, sizeof r);
    size_t n = strlen(path) + strlen(tag) + 16;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%08x", path, tag, r);
    return s;
}

/* ======================================================================= */
/* Writing a backup                                                         */
/* ======================================================================= */

typedef struct {
    BlazeDB *db;
    OsVfs *vfs;
    OsFile *f;
    uint64_t off;               /* next write offset */
    BkHeader h;
    CryptoAead *aead;
    ZSTD_CCtx *cctx;
    int level;
    uint8_t chain[32];
    uint64_t chunks, pages;
    size_t psz, rec;            /* page payload size, BK_ENTRY + psz */
    uint8_t *raw;               /* chunk_pages records */
    uint8_t *comp;              /* BK_CHDR + bound + tag */
    size_t comp_cap;
    size_t n;                   /* records in raw */
} BkWriter;

static int bw_write(BkWriter *w, const void *buf, size_t n)
{
    int e = os_write(w->f, buf, n, w->off);
    if (e)
        return db_error(w->db, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                        "writing the backup: %s", strerror(e));
    w->off += n;
    return BLAZEDB_OK;
}

static int bw_flush(BkWriter *w)
{
    if (w->n == 0)
        return BLAZEDB_OK;
    size_t u = w->n * w->rec;
    uint8_t *hdr = w->comp, *body = w->comp + BK_CHDR;
    size_t c = ZSTD_compressCCtx(w->cctx, body, w->comp_cap - BK_CHDR - BK_TAG, w->raw, u,
                                 w->level);
    if (ZSTD_isError(c))
        return db_error(w->db, BLAZEDB_INTERNAL_ERROR, "compressing a chunk: %s",
                        ZSTD_getErrorName(c));
    memcpy(hdr, "BKCH", 4);
    put_le32(hdr + 4, (uint32_t)w->n);
    put_le64(hdr + 8, w->chunks);
    put_le32(hdr + 16, (uint32_t)c);
    put_le32(hdr + 20, (uint32_t)u);
    if (crypto_nonce(hdr + 24))
        return db_error(w->db, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
    uint8_t ad[16 + BK_CHUNK_AD];
    chunk_ad(w->h.id, hdr, ad);
    uint8_t *tag = body + c;
    if (crypto_aead_seal(w->aead, hdr + 24, ad, sizeof ad, body, c, body, tag))
        return db_error(w->db, BLAZEDB_INTERNAL_ERROR, "sealing a chunk failed");
    chain_step(w->chain, hdr, tag);
    int rc = bw_write(w, w->comp, BK_CHDR + c + BK_TAG);
    if (rc)
        return rc;
    w->chunks++;
    w->pages += w->n;
    w->n = 0;
    return BLAZEDB_OK;
}

typedef struct {
    uint8_t *bits;
    Pgno npages;
} FreeMap;

static void free_visit(Pgno pg, void *arg)
{
    FreeMap *m = arg;
    if (pg < m->npages)
        m->bits[pg >> 3] |= (uint8_t)(1u << (pg & 7));
}

/* Reads the base of an incremental: its header (checked) and, when the
 * backup key is the database's data key, its trailer authenticated under
 * it (so a damaged or foreign base is refused before anything is written). */
static int read_base(BlazeDB *db, OsVfs *vfs, const char *path, const uint8_t db_id[16],
                     uint32_t page_size, uint32_t plain, CryptoAead *aead, uint64_t snap,
                     BkHeader *base)
{
    OsFile *f = NULL;
    int e = vfs->open(vfs, path, 0, &f);
    if (e)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "incremental_from %s: %s", path,
                        strerror(e));
    uint8_t hb[BK_HDR], tr[BK_TRAILER];
    uint64_t size = 0;
    size_t got = 0;
    char msg[ERRLEN];
    int rc = BLAZEDB_OK;
    if ((e = os_size(f, &size)) || (e = os_read(f, hb, sizeof hb, 0, &got))) {
        rc = db_error(db, io_rc(e), "reading %s: %s", path, strerror(e));
        goto out;
    }
    if (got < BK_HDR || size < BK_HDR + BK_TRAILER) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT, "incremental_from %s: not a complete backup",
                      path);
        goto out;
    }
    if ((rc = hdr_decode(hb, base, msg, sizeof msg))) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT, "incremental_from %s: %s", path, msg);
        goto out;
    }
    if (memcmp(base->db_id, db_id, 16) != 0 || base->page_size != page_size ||
        ((base->flags & BK_F_SRC_PLAIN) != 0) != (plain != 0)) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT,
                      "incremental_from %s is a backup of another database", path);
        goto out;
    }
    if (base->txnid > snap) {
        rc = db_error(db, BLAZEDB_INVALID_ARGUMENT,
                      "incremental_from %s is newer (commit %llu) than the database (commit %llu)",
                      path, (unsigned long long)base->txnid, (unsigned long long)snap);
        goto out;
    }
    if (!plain) {
        if ((e = os_read(f, tr, sizeof tr, size - BK_TRAILER, NULL))) {
            rc = db_error(db, io_rc(e), "reading %s: %s", path, strerror(e));
            goto out;
        }
        uint8_t ad[24], body[BK_TBODY], hh[32];
        trailer_ad(base->id, tr, ad);
        crypto_sha256(hb, BK_HDR, hh);
        if (memcmp(tr, "BKTR", 4) != 0 ||
            crypto_aead_open(aead, tr + 8, ad, sizeof ad, tr + 20, BK_TBODY, body,
                             tr + 20 + BK_TBODY) ||
            memcmp(body + 56, hh, 32) != 0 || get_le64(body + 16) != base->txnid) {
            rc = db_error(db, BLAZEDB_INVALID_ARGUMENT,
                          "incremental_from %s is damaged or not a backup of this database",
                          path);
            goto out;
        }
    }
out:
    os_close(f);
    return rc;
}

/* Builds the key slot and the backup key.  Returns OK or an error on db. */
static int backup_keys(BlazeDB *db, const BlazeDBBackupOptions *o, const FileHeader *dbh,
                       const uint8_t dk[CRYPTO_KEY_LEN], BkHeader *h, uint8_t k[CRYPTO_KEY_LEN])
{
    int plain = (dbh->flags & HEADER_FLAG_PLAINTEXT) != 0;
    memset(h->key_slot, 0, sizeof h->key_slot);
    if (!o->password) {
        if (plain) {
            h->flags |= BK_F_UNENCRYPTED;
            memset(k, 0, CRYPTO_KEY_LEN);
            return BLAZEDB_OK;
        }
        FileHeader s = *dbh; /* the password opens it; a next key stays behind */
        s.rekeying = 0;
        memset(s.next, 0, sizeof s.next);
        header_encode_slot(&s, h->key_slot);
        memcpy(k, dk, CRYPTO_KEY_LEN);
        return BLAZEDB_OK;
    }
    if (!*o->password)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the backup password is empty");
    FileHeader s = *dbh;
    s.flags = 0;
    s.generation = 1;
    memset(s.wrapped, 0, sizeof s.wrapped);
    BlazeDBKdf kdf = o->kdf;
    if (kdf == BLAZEDB_KDF_DEFAULT)
        kdf = plain || dbh->kdf.kdf == CRYPTO_KDF_ARGON2ID ? BLAZEDB_KDF_ARGON2ID
                                                           : BLAZEDB_KDF_PBKDF2_SHA256;
    int same = !plain && (uint32_t)kdf == dbh->kdf.kdf;
    memset(&s.kdf, 0, sizeof s.kdf);
    if (kdf == BLAZEDB_KDF_ARGON2ID) {
        s.kdf.kdf = CRYPTO_KDF_ARGON2ID;
        s.kdf.iterations = o->kdf_iterations ? o->kdf_iterations
                                             : same ? dbh->kdf.iterations : 3;
        s.kdf.memory_kib = o->kdf_memory_kib ? o->kdf_memory_kib
                                             : same ? dbh->kdf.memory_kib : 65536;
        s.kdf.parallelism = o->kdf_parallelism ? o->kdf_parallelism
                                               : same ? dbh->kdf.parallelism : 1;
    } else if (kdf == BLAZEDB_KDF_PBKDF2_SHA256) {
        s.kdf.kdf = CRYPTO_KDF_PBKDF2_SHA256;
        s.kdf.iterations = o->kdf_iterations ? o->kdf_iterations
                                             : same ? dbh->kdf.iterations : 600000;
    } else {
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown key-derivation function %d",
                        (int)o->kdf);
    }
    if (crypto_random(s.kdf.salt, sizeof s.kdf.salt))
        return db_error(db, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
    if (plain) {
        if (crypto_random(k, CRYPTO_KEY_LEN))
            return db_error(db, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
    } else {
        memcpy(k, dk, CRYPTO_KEY_LEN);
    }
    uint8_t kek[CRYPTO_KEY_LEN];
    int rc = crypto_derive_kek(o->password, strlen(o->password), &s.kdf, kek);
    if (rc != CRYPTO_OK)
        return db_error(db, rc == CRYPTO_EINVAL ? BLAZEDB_INVALID_ARGUMENT
                                                : BLAZEDB_INTERNAL_ERROR,
                        "key derivation for the backup password failed%s",
                        rc == CRYPTO_EINVAL ? " (parameters out of range)" : "");
    rc = header_wrap_kek(&s, kek, k);
    crypto_wipe(kek, sizeof kek);
    if (rc)
        return db_error(db, rc, "wrapping the backup key failed");
    header_encode_slot(&s, h->key_slot);
    return BLAZEDB_OK;
}

void blazedb_backup_options_init(BlazeDBBackupOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

BlazeDBResult blazedb_backup(BlazeDB *db, const char *dest_path, const BlazeDBBackupOptions *opts)
{
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    BlazeDBBackupOptions o;
    blazedb_backup_options_init(&o);
    if (opts) {
        if (opts->struct_size < offsetof(BlazeDBBackupOptions, progress_arg) ||
            opts->struct_size > sizeof o)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT,
                            "options.struct_size is %u; initialise with "
                            "blazedb_backup_options_init", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (!dest_path || !*dest_path)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the backup path is NULL or empty");
    if (o.compression_level > ZSTD_maxCLevel() || o.compression_level < ZSTD_minCLevel())
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "compression level %d out of range",
                        o.compression_level);

    Pager *p = db_pager(db);
    OsVfs *vfs = os_default_vfs();
    unsigned intr0 = db_interrupts(db);
    BkWriter w;
    memset(&w, 0, sizeof w);
    w.db = db;
    w.vfs = vfs;
    w.level = o.compression_level ? o.compression_level : 1;
    FreeMap fm = {NULL, 0};
    char *tmp = NULL;
    PagerTxn *t = NULL;
    uint8_t k[CRYPTO_KEY_LEN], dk[CRYPTO_KEY_LEN];
    FileHeader dbh;
    int rc = pager_begin(p, 0, &t);
    if (rc)
        return (BlazeDBResult)rc;
    PagerMeta meta = *pager_txn_meta(t);
    pager_key_info(p, &dbh, dk);
    int plain = (dbh.flags & HEADER_FLAG_PLAINTEXT) != 0;

    /* header (counts are filled in at the end) and keys */
    w.h.page_size = (uint32_t)pager_page_size(p);
    w.h.chunk_pages = BK_CHUNK_PAGES;
    w.h.compression = BK_COMPRESSION_ZSTD;
    w.h.flags = plain ? BK_F_SRC_PLAIN : 0;
    memcpy(w.h.db_id, dbh.file_id, 16);
    w.h.txnid = meta.txnid;
    w.h.npages = meta.npages;
    w.h.created_ms = wall_ms();
    if (crypto_random(w.h.id, sizeof w.h.id)) {
        rc = db_error(db, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
        goto out;
    }
    if ((rc = backup_keys(db, &o, &dbh, dk, &w.h, k)))
        goto out;
    w.aead = chunk_aead(k, (w.h.flags & BK_F_UNENCRYPTED) != 0);
    if (!w.aead) {
        rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    if (o.incremental_from) {
        /* the base is authenticated with the database's key; a plaintext
         * database's backups have no common key, their header checksum only */
        BkHeader base;
        CryptoAead *dba = plain ? NULL : chunk_aead(dk, 0);
        if (!plain && !dba) {
            rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
            goto out;
        }
        rc = read_base(db, vfs, o.incremental_from, dbh.file_id, w.h.page_size, plain, dba,
                       meta.txnid, &base);
        crypto_aead_free(dba);
        if (rc)
            goto out;
        w.h.flags |= BK_F_INCREMENTAL;
        memcpy(w.h.base_id, base.id, 16);
        w.h.base_txnid = base.txnid;
    }

    /* the free pages of the snapshot */
    fm.npages = meta.npages;
    fm.bits = calloc((size_t)meta.npages / 8 + 1, 1);
    if (!fm.bits) {
        rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = freelist_check(t, free_visit, NULL, &fm))) {
        rc = db_error(db, rc, "reading the free-page tree: %s", pager_errmsg(p));
        goto out;
    }

    /* buffers, the temporary file */
    w.psz = pager_payload_size(p);
    w.rec = BK_ENTRY + w.psz;
    w.raw = malloc(BK_CHUNK_PAGES * w.rec);
    w.comp_cap = BK_CHDR + ZSTD_compressBound(BK_CHUNK_PAGES * w.rec) + BK_TAG;
    w.comp = malloc(w.comp_cap);
    w.cctx = ZSTD_createCCtx();
    tmp = temp_name(vfs, dest_path, "-writing-");
    if (!w.raw || !w.comp || !w.cctx || !tmp) {
        rc = db_error(db, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    int e = vfs->exists(vfs, dest_path);
    if (e == 0) {
        rc = db_error(db, BLAZEDB_EXISTS, "%s already exists", dest_path);
        goto out;
    }
    e = vfs->open(vfs, tmp, OS_OPEN_READWRITE | OS_OPEN_CREATE | OS_OPEN_EXCL, &w.f);
    if (e) {
        rc = db_error(db, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                      "creating %s: %s", tmp, strerror(e));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    uint8_t hb[BK_HDR];
    hdr_encode(&w.h, hb);
    if ((rc = bw_write(&w, hb, sizeof hb)))
        goto out;
    chain_init(w.h.id, w.chain);

    /* the pages */
    uint64_t total = meta.npages - PAGER_FIRST_DATA_PGNO;
    for (Pgno pg = PAGER_FIRST_DATA_PGNO; pg < meta.npages; pg++) {
        if ((pg & 255) == 0) {
            if (db_interrupts(db) != intr0) {
                rc = db_error(db, BLAZEDB_CANCELLED, "backup interrupted");
                goto out;
            }
            if (o.progress && o.progress(pg - PAGER_FIRST_DATA_PGNO, total, o.progress_arg)) {
                rc = db_error(db, BLAZEDB_CANCELLED, "backup cancelled by its progress callback");
                goto out;
            }
        }
        if (fm.bits[pg >> 3] & (1u << (pg & 7)))
            continue;
        uint8_t *r = w.raw + w.n * w.rec;
        uint64_t ctr = 0;
        if ((rc = pager_snapshot_read(t, pg, r + BK_ENTRY, &ctr))) {
            rc = db_error(db, rc, "%s", pager_errmsg(p));
            goto out;
        }
        if (ctr <= w.h.base_txnid)
            continue; /* unchanged since the base */
        put_le32(r, pg);
        put_le32(r + 4, 0);
        put_le64(r + 8, ctr);
        if (++w.n == BK_CHUNK_PAGES && (rc = bw_flush(&w)))
            goto out;
    }
    if ((rc = bw_flush(&w)))
        goto out;

    /* trailer, final header, sync, name */
    w.h.pages = w.pages;
    hdr_encode(&w.h, hb);
    uint8_t tr[BK_TRAILER], body[BK_TBODY], ad[24];
    memset(tr, 0, sizeof tr);
    memset(body, 0, sizeof body);
    memcpy(tr, "BKTR", 4);
    put_le64(body, w.chunks);
    put_le64(body + 8, w.pages);
    put_le64(body + 16, meta.txnid);
    memcpy(body + 24, w.chain, 32);
    crypto_sha256(hb, BK_HDR, body + 56);
    codec_meta_encode(&meta, body + 88);
    trailer_ad(w.h.id, tr, ad);
    if (crypto_nonce(tr + 8) ||
        crypto_aead_seal(w.aead, tr + 8, ad, sizeof ad, body, BK_TBODY, tr + 20,
                         tr + 20 + BK_TBODY)) {
        rc = db_error(db, BLAZEDB_INTERNAL_ERROR, "sealing the trailer failed");
        goto out;
    }
    if ((rc = bw_write(&w, tr, sizeof tr)))
        goto out;
    if ((e = os_write(w.f, hb, sizeof hb, 0)) || (e = os_sync(w.f))) {
        rc = db_error(db, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                      "writing the backup: %s", strerror(e));
        goto out;
    }
    if (o.progress && o.progress(total, total, o.progress_arg)) {
        rc = db_error(db, BLAZEDB_CANCELLED, "backup cancelled by its progress callback");
        goto out;
    }
    if (db_interrupts(db) != intr0) {
        rc = db_error(db, BLAZEDB_CANCELLED, "backup interrupted");
        goto out;
    }
    os_close(w.f);
    w.f = NULL;
    e = vfs->link(vfs, tmp, dest_path);
    if (e) {
        rc = db_error(db, e == EEXIST ? BLAZEDB_EXISTS : io_rc(e) == BLAZEDB_NOT_FOUND
                                                           ? BLAZEDB_IO_ERROR : io_rc(e),
                      "naming the backup %s: %s", dest_path, strerror(e));
        goto out;
    }
    vfs->remove(vfs, tmp);
    vfs->sync_dir(vfs, dest_path);
    free(tmp);
    tmp = NULL;
out:
    if (w.f)
        os_close(w.f);
    if (tmp) {
        vfs->remove(vfs, tmp);
        free(tmp);
    }
    if (t)
        pager_commit(t);
    crypto_wipe(k, sizeof k);
    crypto_wipe(dk, sizeof dk);
    crypto_aead_free(w.aead);
    ZSTD_freeCCtx(w.cctx);
    free(w.raw);
    free(w.comp);
    free(fm.bits);
    return (BlazeDBResult)rc;
}

/* ======================================================================= */
/* Reading backups (verify and restore)                                     */
/* ======================================================================= */

typedef struct {
    const char *path;
    OsFile *f;
    uint64_t size;
    uint8_t raw_hdr[BK_HDR];
    BkHeader h;
    CryptoAead *aead;
    PagerMeta meta;             /* from the trailer, after a scan */
    uint64_t chunks;            /* after a scan */
} BkFile;

/* Password-derived keys, remembered per (KDF parameters, salt) so that a
 * chain under one password derives once. */
typedef struct {
    CryptoKdfParams kp;
    uint8_t kek[CRYPTO_KEY_LEN];
    int have;
} KekCache;

typedef struct {
    char err[ERRLEN];
    KekCache kc;
    BlazeDBProgressFn progress;
    void *arg;
    uint64_t done, total;
} BkCtx;

static int bk_fail(BkCtx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bk_fail(BkCtx *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return rc;
}

static int bk_open(BkCtx *c, OsVfs *vfs, const char *path, BkFile *bf)
{
    memset(bf, 0, sizeof *bf);
    bf->path = path;
    int e = vfs->open(vfs, path, 0, &bf->f);
    if (e)
        return bk_fail(c, io_rc(e), "%s: %s", path, strerror(e));
    size_t got = 0;
    if ((e = os_size(bf->f, &bf->size)) || (e = os_read(bf->f, bf->raw_hdr, BK_HDR, 0, &got)))
        return bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                       "reading %s: %s", path, strerror(e));
    if (got < 16 || memcmp(bf->raw_hdr, BK_MAGIC, 16) != 0)
        return bk_fail(c, BLAZEDB_NOT_A_DATABASE, "%s is not a BlazeDB backup", path);
    if (got < BK_HDR)
        return bk_fail(c, BLAZEDB_CORRUPT, "%s is truncated (%zu bytes, inside the header)",
                       path, got);
    char msg[ERRLEN];
    int rc = hdr_decode(bf->raw_hdr, &bf->h, msg, sizeof msg);
    if (rc)
        return bk_fail(c, rc, "%s: %s", path, msg);
    return BLAZEDB_OK;
}

static void bk_close(BkFile *bf)
{
    os_close(bf->f);
    bf->f = NULL;
    crypto_aead_free(bf->aead);
    bf->aead = NULL;
}

/* Unwraps the backup key of bf under `password` and builds its AEAD.
 * k (if not NULL) receives the key. */
static int bk_unlock(BkCtx *c, BkFile *bf, const char *password, KekCache *kc,
                     uint8_t k[CRYPTO_KEY_LEN])
{
    uint8_t key[CRYPTO_KEY_LEN];
    memset(key, 0, sizeof key);
    if (!(bf->h.flags & BK_F_UNENCRYPTED)) {
        FileHeader s;
        if (header_decode_slot(bf->h.key_slot, &s) != 0)
            return bk_fail(c, BLAZEDB_CORRUPT, "%s: the key slot is damaged", bf->path);
        if (!password || !*password)
            return bk_fail(c, BLAZEDB_AUTH_FAILED, "%s is encrypted: a password is required",
                           bf->path);
        if (!kc->have || memcmp(&kc->kp, &s.kdf, sizeof s.kdf) != 0) {
            int r = crypto_derive_kek(password, strlen(password), &s.kdf, kc->kek);
            if (r != CRYPTO_OK) {
                kc->have = 0;
                return bk_fail(c, r == CRYPTO_EINVAL ? BLAZEDB_CORRUPT : BLAZEDB_NOMEM,
                               "%s: key derivation failed%s", bf->path,
                               r == CRYPTO_EINVAL ? " (invalid parameters in the header)" : "");
            }
            kc->kp = s.kdf;
            kc->have = 1;
        }
        int rc = header_unwrap_kek(&s, kc->kek, key);
        if (rc == BLAZEDB_AUTH_FAILED)
            return bk_fail(c, rc, "%s: wrong password", bf->path);
        if (rc)
            return bk_fail(c, rc, "%s: unwrapping the backup key failed", bf->path);
    }
    bf->aead = chunk_aead(key, (bf->h.flags & BK_F_UNENCRYPTED) != 0);
    if (k)
        memcpy(k, key, sizeof key);
    crypto_wipe(key, sizeof key);
    if (!bf->aead)
        return bk_fail(c, BLAZEDB_NOMEM, "out of memory");
    return BLAZEDB_OK;
}

/* Checks that files[0..n) form a chain: a full backup then incrementals,
 * each on the one before, all of one database. */
static int bk_check_chain(BkCtx *c, BkFile *fs, size_t n)
{
    if (fs[0].h.flags & BK_F_INCREMENTAL)
        return bk_fail(c, BLAZEDB_INVALID_ARGUMENT,
                       "%s is an incremental backup: the chain must start with a full backup",
                       fs[0].path);
    for (size_t i = 1; i < n; i++) {
        const BkHeader *a = &fs[i - 1].h, *b = &fs[i].h;
        if (!(b->flags & BK_F_INCREMENTAL))
            return bk_fail(c, BLAZEDB_INVALID_ARGUMENT,
                           "%s is a full backup: only the first file of a chain may be",
                           fs[i].path);
        if (memcmp(a->db_id, b->db_id, 16) != 0)
            return bk_fail(c, BLAZEDB_INVALID_ARGUMENT,
                           "%s and %s are backups of different databases", fs[i - 1].path,
                           fs[i].path);
        if (memcmp(b->base_id, a->id, 16) != 0 || b->base_txnid != a->txnid)
            return bk_fail(c, BLAZEDB_INVALID_ARGUMENT,
                           "%s does not build on %s (it builds on the backup of commit %llu)",
                           fs[i].path, fs[i - 1].path, (unsigned long long)b->base_txnid);
        if (a->page_size != b->page_size || (a->flags & BK_F_SRC_PLAIN) != (b->flags & BK_F_SRC_PLAIN))
            return bk_fail(c, BLAZEDB_INVALID_ARGUMENT, "%s and %s do not match", fs[i - 1].path,
                           fs[i].path);
    }
    return BLAZEDB_OK;
}

/* Called for every page of a file, in file order. */
typedef int (*PageFn)(const uint8_t *payload, Pgno pgno, uint64_t ctr, void *arg);
/* Called after every chunk's pages (may be NULL). */
typedef int (*ChunkDoneFn)(void *arg);

static int bk_progress(BkCtx *c, uint64_t add)
{
    c->done += add;
    if (c->progress && c->progress(c->done, c->total, c->arg))
        return bk_fail(c, BLAZEDB_CANCELLED, "cancelled by the progress callback");
    return BLAZEDB_OK;
}

/* Reads, authenticates and decompresses every chunk of bf, then its trailer,
 * calling fn for each page.  Everything is checked: chunk order, counts,
 * page numbers and versions, the hash chain, the header hash, the size. */
static int bk_scan(BkCtx *c, BkFile *bf, ZSTD_DCtx *dctx, PageFn fn, ChunkDoneFn done, void *arg)
{
    const BkHeader *h = &bf->h;
    size_t psz = h->page_size - PAGER_TRAILER, rec = BK_ENTRY + psz;
    size_t ucap = (size_t)h->chunk_pages * rec;
    size_t ccap = ZSTD_compressBound(ucap);
    uint8_t *ubuf = malloc(ucap), *cbuf = malloc(ccap + BK_TAG);
    int rc = BLAZEDB_OK;
    if (!ubuf || !cbuf) {
        rc = bk_fail(c, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    uint8_t chain[32];
    chain_init(h->id, chain);
    uint64_t off = BK_HDR, chunks = 0, pages = 0;
    Pgno last = 0;
    for (;;) {
        uint8_t chdr[BK_CHDR];
        if (off + 4 > bf->size) {
            rc = bk_fail(c, BLAZEDB_CORRUPT,
                         "%s is truncated at byte %llu (after chunk %llu; no trailer)", bf->path,
                         (unsigned long long)bf->size, (unsigned long long)chunks);
            goto out;
        }
        size_t want = bf->size - off < BK_CHDR ? (size_t)(bf->size - off) : BK_CHDR;
        int e = os_read(bf->f, chdr, want, off, NULL);
        if (e) {
            rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                         "reading %s: %s", bf->path, strerror(e));
            goto out;
        }
        if (memcmp(chdr, "BKTR", 4) == 0)
            break;
        if (memcmp(chdr, "BKCH", 4) != 0) {
            rc = bk_fail(c, BLAZEDB_CORRUPT, "%s: byte %llu: expected chunk %llu or the trailer",
                         bf->path, (unsigned long long)off, (unsigned long long)chunks);
            goto out;
        }
        if (want < BK_CHDR) {
            rc = bk_fail(c, BLAZEDB_CORRUPT, "%s is truncated inside chunk %llu (byte %llu)",
                         bf->path, (unsigned long long)chunks, (unsigned long long)bf->size);
            goto out;
        }
        uint32_t np = get_le32(chdr + 4);
        uint64_t idx = get_le64(chdr + 8);
        uint32_t clen = get_le32(chdr + 16), ulen = get_le32(chdr + 20);
        if (idx != chunks || np == 0 || np > h->chunk_pages || (size_t)ulen != np * rec ||
            clen > ccap) {
            rc = bk_fail(c, BLAZEDB_CORRUPT,
                         "%s: chunk %llu at byte %llu has an impossible header (altered, "
                         "reordered or missing chunks)", bf->path,
                         (unsigned long long)chunks, (unsigned long long)off);
            goto out;
        }
        if (off + BK_CHDR + clen + BK_TAG > bf->size) {
            rc = bk_fail(c, BLAZEDB_CORRUPT, "%s is truncated inside chunk %llu (byte %llu)",
                         bf->path, (unsigned long long)chunks, (unsigned long long)bf->size);
            goto out;
        }
        if ((e = os_read(bf->f, cbuf, clen + BK_TAG, off + BK_CHDR, NULL))) {
            rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                         "reading %s: %s", bf->path, strerror(e));
            goto out;
        }
        uint8_t ad[16 + BK_CHUNK_AD];
        chunk_ad(h->id, chdr, ad);
        if (crypto_aead_open(bf->aead, chdr + 24, ad, sizeof ad, cbuf, clen, cbuf, cbuf + clen)) {
            rc = bk_fail(c, BLAZEDB_CORRUPT,
                         "%s: chunk %llu at byte %llu fails authentication (damaged, altered, "
                         "or from another backup)", bf->path, (unsigned long long)chunks,
                         (unsigned long long)off);
            goto out;
        }
        chain_step(chain, chdr, cbuf + clen);
        size_t u = ZSTD_decompressDCtx(dctx, ubuf, ucap, cbuf, clen);
        if (ZSTD_isError(u) || u != ulen) {
            rc = bk_fail(c, BLAZEDB_CORRUPT, "%s: chunk %llu at byte %llu does not decompress",
                         bf->path, (unsigned long long)chunks, (unsigned long long)off);
            goto out;
        }
        for (uint32_t i = 0; i < np; i++) {
            const uint8_t *r = ubuf + (size_t)i * rec;
            Pgno pg = get_le32(r);
            uint64_t ctr = get_le64(r + 8);
            if (pg < PAGER_FIRST_DATA_PGNO || pg >= h->npages || pg <= last || ctr == 0 ||
                ctr > h->txnid || ctr <= h->base_txnid || get_le32(r + 4) != 0) {
                rc = bk_fail(c, BLAZEDB_CORRUPT, "%s: chunk %llu holds an impossible page entry",
                             bf->path, (unsigned long long)chunks);
                goto out;
            }
            last = pg;
            if (fn && (rc = fn(r + BK_ENTRY, pg, ctr, arg)))
                goto out;
        }
        if (done && (rc = done(arg)))
            goto out;
        pages += np;
        chunks++;
        off += BK_CHDR + clen + BK_TAG;
        if ((rc = bk_progress(c, np)))
            goto out;
    }
    /* the trailer */
    if (off + BK_TRAILER > bf->size) {
        rc = bk_fail(c, BLAZEDB_CORRUPT, "%s is truncated inside the trailer (byte %llu)",
                     bf->path, (unsigned long long)bf->size);
        goto out;
    }
    if (off + BK_TRAILER < bf->size) {
        rc = bk_fail(c, BLAZEDB_CORRUPT, "%s has %llu unexpected bytes after its trailer",
                     bf->path, (unsigned long long)(bf->size - off - BK_TRAILER));
        goto out;
    }
    uint8_t tr[BK_TRAILER], body[BK_TBODY], ad[24], hh[32];
    int e = os_read(bf->f, tr, sizeof tr, off, NULL);
    if (e) {
        rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                     "reading %s: %s", bf->path, strerror(e));
        goto out;
    }
    trailer_ad(h->id, tr, ad);
    if (crypto_aead_open(bf->aead, tr + 8, ad, sizeof ad, tr + 20, BK_TBODY, body,
                         tr + 20 + BK_TBODY)) {
        rc = bk_fail(c, BLAZEDB_CORRUPT,
                     "%s: the trailer at byte %llu fails authentication (damaged or altered)",
                     bf->path, (unsigned long long)off);
        goto out;
    }
    crypto_sha256(bf->raw_hdr, BK_HDR, hh);
    if (get_le64(body) != chunks || get_le64(body + 8) != pages || pages != h->pages ||
        get_le64(body + 16) != h->txnid || crypto_memcmp(body + 24, chain, 32) != 0 ||
        crypto_memcmp(body + 56, hh, 32) != 0 || codec_meta_decode(body + 88, &bf->meta) ||
        bf->meta.txnid != h->txnid || bf->meta.npages != h->npages) {
        rc = bk_fail(c, BLAZEDB_CORRUPT,
                     "%s: the trailer does not match the file (chunks, pages, hashes or meta)",
                     bf->path);
        goto out;
    }
    bf->chunks = chunks;
out:
    free(ubuf);
    free(cbuf);
    return rc;
}

/* Opens paths[0..n), checks the chain and unlocks every file. */
static int bk_open_chain(BkCtx *c, OsVfs *vfs, const char *const *paths, size_t n,
                         const char *password, BkFile *fs)
{
    int rc = BLAZEDB_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!paths[i])
            rc = bk_fail(c, BLAZEDB_INVALID_ARGUMENT, "paths[%zu] is NULL", i);
        else
            rc = bk_open(c, vfs, paths[i], &fs[i]);
    }
    if (!rc)
        rc = bk_check_chain(c, fs, n);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = bk_unlock(c, &fs[i], password, &c->kc, NULL);
        c->total += fs[i].h.pages;
    }
    return rc;
}

/* ---- restore ------------------------------------------------------------ */

typedef struct {
    BkCtx *c;
    OsFile *f;
    const char *tmp;
    CodecKeys page_keys;        /* the new database's (epoch 0) */
    size_t page_size;
    uint8_t *run;               /* sealed images of consecutive pages */
    size_t run_n, run_cap;
    Pgno run_first;
} Restorer;

static int rs_flush(Restorer *r)
{
    if (!r->run_n)
        return BLAZEDB_OK;
    int e = os_write(r->f, r->run, r->run_n * r->page_size,
                     (uint64_t)r->run_first * r->page_size);
    r->run_n = 0;
    if (e)
        return bk_fail(r->c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                       "writing %s: %s", r->tmp, strerror(e));
    return BLAZEDB_OK;
}

static int rs_page(const uint8_t *payload, Pgno pgno, uint64_t ctr, void *arg)
{
    Restorer *r = arg;
    if (r->run_n && (r->run_n == r->run_cap || pgno != r->run_first + r->run_n)) {
        int rc = rs_flush(r);
        if (rc)
            return rc;
    }
    if (!r->run_n)
        r->run_first = pgno;
    uint8_t *img = r->run + r->run_n * r->page_size;
    PageTrailer tr = {ctr, pgno, PAGE_KIND_DATA, 0, 0};
    if (codec_seal(&r->page_keys, payload, img, r->page_size, &tr))
        return bk_fail(r->c, BLAZEDB_INTERNAL_ERROR, "sealing a page failed");
    r->run_n++;
    return BLAZEDB_OK;
}

static int rs_chunk_done(void *arg) { return rs_flush(arg); }

void blazedb_restore_options_init(BlazeDBRestoreOptions *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* Builds the new database's page 0 and meta pages into img (3 pages). */
static int build_head(BkCtx *c, const BkFile *last, const FileHeader *slot, const uint8_t *kek,
                      const uint8_t dk[CRYPTO_KEY_LEN], int plain, CodecKeys *page_keys,
                      uint8_t *img)
{
    size_t ps = last->h.page_size;
    FileHeader h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.page_size = (uint32_t)ps;
    h.flags = plain ? HEADER_FLAG_PLAINTEXT : 0;
    h.generation = 1;
    if (crypto_random(h.file_id, sizeof h.file_id))
        return bk_fail(c, BLAZEDB_INTERNAL_ERROR, "random number generator failed");
    if (!plain) {
        h.kdf = slot->kdf;
        if (header_wrap_kek(&h, kek, dk))
            return bk_fail(c, BLAZEDB_INTERNAL_ERROR, "wrapping the data key failed");
    }
    memset(img, 0, 3 * ps);
    header_encode_page(&h, img);
    for (Pgno s = 1; s <= 2; s++) {
        uint8_t *pg = img + s * ps;
        codec_meta_encode(&last->meta, pg);
        PageTrailer tr = {last->meta.txnid, s, PAGE_KIND_META, 0, 0};
        if (codec_seal(page_keys, pg, pg, ps, &tr))
            return bk_fail(c, BLAZEDB_INTERNAL_ERROR, "sealing a meta page failed");
    }
    return BLAZEDB_OK;
}

/* Writes the chain into `tmp` (a new file) as a complete database, synced.
 * The caller renames it. */
static int restore_into(BkCtx *c, OsVfs *vfs, BkFile *fs, size_t n, const char *password,
                        const char *tmp)
{
    BkFile *last = &fs[n - 1];
    int plain = (last->h.flags & BK_F_SRC_PLAIN) != 0;
    size_t ps = last->h.page_size;
    uint8_t dk[CRYPTO_KEY_LEN], kek[CRYPTO_KEY_LEN];
    FileHeader slot;
    memset(&slot, 0, sizeof slot);
    Restorer r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.tmp = tmp;
    r.page_size = ps;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    uint8_t *head = NULL;
    int rc = BLAZEDB_OK;
    if (!plain) {
        /* the new database's key: fresh, wrapped under the password of the
         * last file's key slot (the KDF runs once more, as at an open) */
        if (header_decode_slot(last->h.key_slot, &slot) != 0) {
            rc = bk_fail(c, BLAZEDB_CORRUPT, "%s: the key slot is damaged", last->path);
            goto out;
        }
        if (c->kc.have && memcmp(&c->kc.kp, &slot.kdf, sizeof slot.kdf) == 0) {
            memcpy(kek, c->kc.kek, sizeof kek); /* derived when unlocking */
        } else if (crypto_derive_kek(password, strlen(password), &slot.kdf, kek) != CRYPTO_OK) {
            rc = bk_fail(c, BLAZEDB_NOMEM, "key derivation failed");
            goto out;
        }
        if (crypto_random(dk, sizeof dk)) {
            rc = bk_fail(c, BLAZEDB_INTERNAL_ERROR, "key generation failed");
            goto out;
        }
    }
    int keyed = codec_keys_add(&r.page_keys, 0, plain ? NULL : dk) == 0;
    r.run_cap = BK_MAX_CHUNK_PAGES;
    r.run = malloc(r.run_cap * ps);
    head = malloc(3 * ps);
    if (!keyed || !r.run || !dctx || !head) {
        rc = bk_fail(c, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    int e = vfs->open(vfs, tmp, OS_OPEN_READWRITE | OS_OPEN_CREATE | OS_OPEN_EXCL, &r.f);
    if (e) {
        rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                     "creating %s: %s", tmp, strerror(e));
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = bk_scan(c, &fs[i], dctx, rs_page, rs_chunk_done, &r)) ||
            (rc = rs_flush(&r)))
            goto out;
    /* data first, synced; then the meta pages and header, synced: the
     * file never looks like a database before its pages are durable */
    if ((e = os_truncate(r.f, (uint64_t)last->meta.npages * ps)) || (e = os_sync(r.f))) {
        rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                     "writing %s: %s", tmp, strerror(e));
        goto out;
    }
    if ((rc = build_head(c, last, &slot, kek, dk, plain, &r.page_keys, head)))
        goto out;
    if ((e = os_write(r.f, head, 3 * ps, 0)) || (e = os_sync(r.f))) {
        rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                     "writing %s: %s", tmp, strerror(e));
        goto out;
    }
out:
    crypto_wipe(dk, sizeof dk);
    crypto_wipe(kek, sizeof kek);
    if (r.f)
        os_close(r.f);
    codec_keys_free(&r.page_keys);
    ZSTD_freeDCtx(dctx);
    free(r.run);
    free(head);
    return rc;
}

static char *str_cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static int restore_run(BkCtx *c, OsVfs *vfs, const char *const *paths, size_t n,
                       const char *password, const char *target, unsigned flags)
{
    BkFile *fs = calloc(n, sizeof *fs);
    char *shm_path = str_cat(target, "-shm"), *wal_path = str_cat(target, "-wal");
    char *tmp = temp_name(vfs, target, "-restoring-");
    OsFile *shm = NULL;
    int rc = BLAZEDB_OK, locked = 0, e;
    if (!fs || !shm_path || !wal_path || !tmp) {
        rc = bk_fail(c, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = bk_open_chain(c, vfs, paths, n, password, fs)))
        goto out;
    /* the engine's lock: every open handle holds DMS shared */
    e = vfs->open(vfs, shm_path, OS_OPEN_READWRITE | OS_OPEN_CREATE, &shm);
    if (e) {
        rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                     "%s: %s", shm_path, strerror(e));
        goto out;
    }
    e = os_lock(shm, SHM_LOCK_DMS, 1, OS_LOCK_EXCLUSIVE);
    if (e == EAGAIN) {
        rc = bk_fail(c, BLAZEDB_BUSY, "%s is open (in this or another process); close it first",
                     target);
        goto out;
    }
    if (e) {
        rc = bk_fail(c, BLAZEDB_IO_ERROR, "locking %s: %s", shm_path, strerror(e));
        goto out;
    }
    locked = 1;
    e = vfs->exists(vfs, target);
    if (e == 0 && !(flags & BLAZEDB_RESTORE_REPLACE)) {
        rc = bk_fail(c, BLAZEDB_EXISTS,
                     "%s already exists (use BLAZEDB_RESTORE_REPLACE to replace it)", target);
        goto out;
    }
    if ((rc = restore_into(c, vfs, fs, n, password, tmp)))
        goto out;
    if (c->progress && c->progress(c->done, c->total, c->arg)) {
        rc = bk_fail(c, BLAZEDB_CANCELLED, "cancelled by the progress callback");
        goto out;
    }
    /* the switch: atomic; nothing before it touched the target */
    if (rename(tmp, target) != 0) {
        e = errno;
        rc = bk_fail(c, io_rc(e) == BLAZEDB_NOT_FOUND ? BLAZEDB_IO_ERROR : io_rc(e),
                     "renaming %s to %s: %s", tmp, target, strerror(e));
        goto out;
    }
    free(tmp);
    tmp = NULL;
    vfs->sync_dir(vfs, target);
    /* the old database's log belongs to the old file id (recovery would
     * ignore it); empty it in place */
    OsFile *wal = NULL;
    if (vfs->open(vfs, wal_path, OS_OPEN_READWRITE, &wal) == 0) {
        if (os_truncate(wal, 0) == 0)
            os_sync(wal);
        os_close(wal);
    }
out:
    if (tmp) {
        vfs->remove(vfs, tmp);
        free(tmp);
    }
    /* NAME-shm stays even when we created it: an opener may already hold
     * it open, and removing it would split the lock protocol in two */
    if (locked)
        os_lock(shm, SHM_LOCK_DMS, 1, OS_LOCK_UNLOCK);
    os_close(shm);
    for (size_t i = 0; fs && i < n; i++)
        bk_close(&fs[i]);
    free(fs);
    free(shm_path);
    free(wal_path);
    return rc;
}

BlazeDBResult backup_restore_vfs(const char *const *paths, size_t n, const char *password,
                                 const char *target_path, const BlazeDBRestoreOptions *opts,
                                 OsVfs *vfs)
{
    BlazeDBRestoreOptions o;
    blazedb_restore_options_init(&o);
    if (opts) {
        if (opts->struct_size < offsetof(BlazeDBRestoreOptions, progress_arg) ||
            opts->struct_size > sizeof o)
            return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT,
                                 "options.struct_size is %u; initialise with "
                                 "blazedb_restore_options_init", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (!paths || n == 0 || !target_path || !*target_path)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "no backup files or no target path");
    if (o.flags & ~BLAZEDB_RESTORE_REPLACE)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "unknown restore flags 0x%x", o.flags);
    BkCtx c;
    memset(&c, 0, sizeof c);
    c.progress = o.progress;
    c.arg = o.progress_arg;
    int rc = restore_run(&c, vfs ? vfs : os_default_vfs(), paths, n, password, target_path,
                         o.flags);
    crypto_wipe(&c.kc, sizeof c.kc);
    if (rc)
        return db_set_errmsg((BlazeDBResult)rc, "%s", c.err);
    db_set_errmsg(BLAZEDB_OK, "%s", "");
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_restore(const char *const *paths, size_t n, const char *password,
                              const char *target_path, const BlazeDBRestoreOptions *opts)
{
    return backup_restore_vfs(paths, n, password, target_path, opts, NULL);
}

/* ---- verify --------------------------------------------------------------- */

/* Full check: restore into a fresh database next to the last file, open it
 * and run the structure check, then delete it. */
static int verify_full(BkCtx *c, OsVfs *vfs, BkFile *fs, size_t n, const char *password)
{
    char *db_path = temp_name(vfs, fs[n - 1].path, "-verify-");
    char *tmp = db_path ? str_cat(db_path, "-restoring") : NULL;
    char *side[2] = {db_path ? str_cat(db_path, "-wal") : NULL,
                     db_path ? str_cat(db_path, "-shm") : NULL};
    int rc = BLAZEDB_OK;
    if (!db_path || !tmp || !side[0] || !side[1]) {
        rc = bk_fail(c, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    c->done = 0;
    if ((rc = restore_into(c, vfs, fs, n, password, tmp)))
        goto out;
    if (rename(tmp, db_path) != 0) {
        rc = bk_fail(c, BLAZEDB_IO_ERROR, "renaming %s: %s", tmp, strerror(errno));
        goto out;
    }
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.flags = 0;
    int plain = (fs[n - 1].h.flags & BK_F_SRC_PLAIN) != 0;
    if (plain)
        o.flags |= BLAZEDB_OPEN_PLAINTEXT;
    o.durability = BLAZEDB_DURABILITY_OFF;
    BlazeDB *db = NULL;
    rc = db_open_vfs(db_path, plain ? NULL : password, &o, vfs, &db);
    if (rc) {
        rc = bk_fail(c, rc, "opening the restored database failed: %s", blazedb_errmsg(NULL));
        goto out;
    }
    char msg[ERRLEN];
    rc = db_check(db, msg, sizeof msg);
    blazedb_close(db);
    if (rc)
        rc = bk_fail(c, BLAZEDB_CORRUPT, "the restored database fails its check: %s", msg);
out:
    if (db_path)
        vfs->remove(vfs, db_path);
    if (tmp)
        vfs->remove(vfs, tmp);
    for (int i = 0; i < 2; i++)
        if (side[i])
            vfs->remove(vfs, side[i]);
    free(db_path);
    free(tmp);
    free(side[0]);
    free(side[1]);
    return rc;
}

BlazeDBResult blazedb_backup_verify(const char *const *paths, size_t n, const char *password,
                                    unsigned flags, BlazeDBProgressFn progress, void *arg,
                                    BlazeDBBackupInfo *info)
{
    if (!paths || n == 0)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "no backup files");
    if (flags & ~BLAZEDB_VERIFY_FULL)
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "unknown verify flags 0x%x", flags);
    if (info && (info->struct_size < sizeof(uint32_t) || info->struct_size > sizeof *info))
        return db_set_errmsg(BLAZEDB_INVALID_ARGUMENT, "info.struct_size is not set");
    OsVfs *vfs = os_default_vfs();
    BkCtx c;
    memset(&c, 0, sizeof c);
    c.progress = progress;
    c.arg = arg;
    BkFile *fs = calloc(n, sizeof *fs);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    int rc = BLAZEDB_OK;
    if (!fs || !dctx) {
        rc = bk_fail(&c, BLAZEDB_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = bk_open_chain(&c, vfs, paths, n, password, fs)))
        goto out;
    if (flags & BLAZEDB_VERIFY_FULL) {
        /* the restore scans (and so checks) every file */
        if ((rc = verify_full(&c, vfs, fs, n, password)))
            goto out;
    } else {
        for (size_t i = 0; i < n && !rc; i++)
            rc = bk_scan(&c, &fs[i], dctx, NULL, NULL, NULL);
        if (rc)
            goto out;
    }
    if (info) {
        BlazeDBBackupInfo bi;
        memset(&bi, 0, sizeof bi);
        bi.struct_size = info->struct_size;
        bi.files = (uint32_t)n;
        bi.page_size = fs[n - 1].h.page_size;
        bi.encrypted = !(fs[n - 1].h.flags & BK_F_UNENCRYPTED);
        bi.snapshot_txn = fs[n - 1].h.txnid;
        bi.page_count = fs[n - 1].h.npages;
        for (size_t i = 0; i < n; i++) {
            bi.pages += fs[i].h.pages;
            bi.bytes += fs[i].size;
        }
        for (size_t i = 0; i < n; i++)
            bi.chunks += fs[i].chunks;
        memcpy(info, &bi, info->struct_size);
    }
out:
    for (size_t i = 0; fs && i < n; i++)
        bk_close(&fs[i]);
    free(fs);
    ZSTD_freeDCtx(dctx);
    crypto_wipe(&c.kc, sizeof c.kc);
    if (rc)
        return db_set_errmsg((BlazeDBResult)rc, "%s", c.err);
    db_set_errmsg(BLAZEDB_OK, "%s", "");
    return BLAZEDB_OK;
}
