/*
 * catalog.h — the collections of a database: names, stable ids, options,
 * the root and counters of each collection's document tree; and the change
 * log every commit appends to.
 *
 * The catalog is a B+tree rooted in meta->roots[PAGER_ROOT_CATALOG]:
 *   key "c" + name  -> collection record (CAT_RECORD_SIZE bytes, below)
 *   key "n"         -> u64 LE: the next collection id
 * Each collection's documents live in their own B+tree (key = document id,
 * value = binary document), whose PagerRoot is kept in the record.  Writes
 * go through to the record at once, so savepoints and rollbacks cover the
 * catalog like any other page.
 *
 * The change log is a B+tree rooted in meta->roots[PAGER_ROOT_CHANGES]:
 *   key   = u64 txnid BE + u32 seq BE (commit order, then order within it)
 *   value = u8 kind (CAT_CHANGE_*), u64 LE collection id, u16 LE name
 *           length, name, u16 LE id length, id, then the new binary
 *           document (empty for a delete).
 * Old entries are trimmed as commits pass (cat_changes_trim).
 *
 * Record layout (little-endian):
 *   0  u32 version = 1       4  u32 flags (CAT_F_*)
 *   8  u64 collection id    16  PagerRoot docs: u32 pgno, u32 0, u64 ctr,
 *                                u64 count (documents stored, soft-deleted
 *                                included)
 *  40  u64 soft-deleted     48  u64 bytes of stored documents
 *  56  u64 created (ms since the epoch)
 */
#ifndef BLAZEDB_CATALOG_H
#define BLAZEDB_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "../btree/btree.h"

#define CAT_RECORD_SIZE 64
#define CAT_MAX_NAME 255

/* collection flags */
#define CAT_F_NO_TIMESTAMPS 0x1u
#define CAT_F_HAS_INDEXES 0x2u   /* at least one index (index.h) */

/* change kinds */
#define CAT_CHANGE_INSERT 1
#define CAT_CHANGE_UPDATE 2
#define CAT_CHANGE_DELETE 3

typedef struct {
    uint64_t id;
    uint32_t flags;
    PagerRoot docs;
    uint64_t deleted;
    uint64_t bytes;
    uint64_t created_ms;
} CatColl;

/* 1 when the stored (validated) binary document is soft-deleted: its
 * isDeleted field is true.  Such documents are in no index and hidden from
 * reads and queries. */
int cat_doc_deleted(const uint8_t *bin, size_t len);

/* Validates a collection name: 1..CAT_MAX_NAME bytes of UTF-8, no control
 * characters.  Returns 0 or -1. */
int cat_name_ok(const char *name, size_t len);

/* Decodes a collection record (layout above): 0, or -1 when it is not a
 * well-formed record. */
int cat_record_decode(const uint8_t *r, size_t len, CatColl *c);

/* Reads the record of `name`.  NOT_FOUND when there is no such collection. */
int cat_get(PagerTxn *t, const char *name, size_t len, CatColl *out);
/* Writes (creates or replaces) the record of `name`. */
int cat_put(PagerTxn *t, const char *name, size_t len, const CatColl *c);
/* Creates `name` with a fresh id; EXISTS when it exists. */
int cat_create(PagerTxn *t, const char *name, size_t len, uint32_t flags,
               uint64_t now_ms, CatColl *out);
/* Drops `name` and frees its document tree; NOT_FOUND when absent. */
int cat_drop(PagerTxn *t, const char *name, size_t len);
/* Renames; NOT_FOUND when `from` is absent, EXISTS when `to` exists. */
int cat_rename(PagerTxn *t, const char *from, size_t flen, const char *to, size_t tlen);

/* Calls fn for each collection in name order; stops early when fn returns
 * non-zero (and returns that). */
int cat_each(PagerTxn *t, int (*fn)(const char *name, size_t len, const CatColl *c, void *arg),
             void *arg);

/* Appends a change record for this transaction (seq numbers from *seq,
 * incremented). */
int cat_change(PagerTxn *t, uint32_t *seq, int kind, const CatColl *c, const char *name,
               size_t nlen, const void *id, size_t idlen, const void *doc, size_t doclen);
/* Deletes change records of transactions older than `keep_from`. */
int cat_changes_trim(PagerTxn *t, uint64_t keep_from);

/* For the integrity check: btree_check on every collection's document tree
 * (which also checks its document count), calling visit for each page. */
int cat_check(PagerTxn *t, void (*visit)(Pgno pgno, void *arg), void *arg);

#endif /* BLAZEDB_CATALOG_H */
