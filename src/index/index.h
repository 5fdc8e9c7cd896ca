/*
 * index.h — secondary indexes of collections: their definitions (kept in
 * the catalog), their B+trees, maintenance on every document write, bulk
 * build, drop, list, and the key layout scans use.
 *
 * Owns: index definitions and entries.  Not: choosing an index (the
 * planner, query/), the value order (keyenc.h).
 *
 * An index holds 1..IDX_MAX_FIELDS fields, each a dotted path, ascending
 * or descending; at most one field may be marked `each` (written "tags[]"
 * in SQL): an array there gives one entry per distinct element (an empty
 * array gives none; a non-array value gives one entry for itself).  A
 * missing field is indexed as null.  A partial index has a WHERE predicate
 * (SQL text, evaluated through the hook below); only documents for which it
 * is true are indexed.  Soft-deleted documents are never indexed.
 *
 * Entry key:  keyenc(field 1) .. keyenc(field n)  id-bytes  u16 BE id length
 * Entry value: empty.
 * A unique index refuses a second document whose n components are all
 * equal to an existing entry's, unless one of them is null (SQL: nulls are
 * distinct).
 *
 * Catalog records (catalog tree): key "i" + u64 BE collection id + name ->
 * the definition (layout in index.c and docs/FILE_FORMAT.md).  A collection
 * with at least one index has CAT_F_HAS_INDEXES in its record's flags, so
 * writes to collections without indexes never look for any.
 */
#ifndef BLAZEDB_INDEX_INDEX_H
#define BLAZEDB_INDEX_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../btree/btree.h"
#include "../catalog/catalog.h"
#include "keyenc.h"

#define IDX_MAX_FIELDS 16
#define IDX_MAX_NAME 255

#define IDX_F_UNIQUE 0x1u

typedef struct {
    char *path;        /* dotted path, NUL-terminated, malloc'd */
    int desc;
    int each;          /* one entry per array element */
} IdxField;

typedef struct {
    char *name;        /* malloc'd */
    uint64_t coll_id;
    uint32_t flags;    /* IDX_F_* */
    size_t nfields;
    IdxField fields[IDX_MAX_FIELDS];
    char *where;       /* partial-index predicate (SQL text) or NULL */
    PagerRoot root;    /* the entries; root.count = number of entries */
    /* statistics (ANALYZE, and the bulk build): distinct[k] = number of
     * distinct values of the first k+1 components when `stat_rows`
     * entries were present; 0 = unknown */
    uint64_t stat_rows;
    uint64_t distinct[IDX_MAX_FIELDS];
} IdxDef;

/*
 * The partial-index hook: set once by the query layer (which owns SQL).
 * compile: checks `where` and returns a compiled form (*out); eval: 1 when
 * the document bin[0..len) satisfies it, 0 when not, <0 a BlazeDBResult
 * error negated; free: releases it.  Without a hook, creating a partial
 * index fails with INVALID_ARGUMENT.
 */
typedef struct {
    int (*compile)(const char *where, void **out, char *err, size_t errlen);
    int (*eval)(void *compiled, const uint8_t *bin, size_t len);
    void (*free)(void *compiled);
} IdxPredHooks;
void idx_set_pred_hooks(const IdxPredHooks *h);

/* Frees what a definition owns (not the struct). */
void idx_def_clear(IdxDef *d);

/*
 * Creates index `d->name` on collection c (d->coll_id is set from c) and
 * builds it from the collection's documents in bulk (sorted, then loaded).
 * EXISTS when an index of that name exists anywhere in the database;
 * BLAZEDB_CONSTRAINT with "unique index NAME: duplicate key for ids A and B"
 * in err when a unique index cannot be built; INVALID_ARGUMENT for a bad
 * definition.  Sets CAT_F_HAS_INDEXES in *c (the caller stores *c).
 */
int idx_create(PagerTxn *t, CatColl *c, IdxDef *d, char *err, size_t errlen);
/* Bulk builds hold at most about n bytes of entries in memory before they
 * load a sorted run into the tree (0: the default, 64 MiB).  For tests. */
void idx_set_build_run_bytes(size_t n);
/* Drops index `name` (of any collection; *coll_id tells which, may be
 * NULL).  NOT_FOUND when absent.  Clears CAT_F_HAS_INDEXES in the
 * collection's record when it was the last. */
int idx_drop(PagerTxn *t, const char *name, uint64_t *coll_id);
/* Drops every index of a collection (collection drop). */
int idx_drop_all(PagerTxn *t, uint64_t coll_id);
/* Loads the definitions of a collection's indexes, in name order (*defs
 * malloc'd; idx_defs_free).  *n = 0 when none. */
int idx_list(PagerTxn *t, uint64_t coll_id, IdxDef **defs, size_t *n);
void idx_defs_free(IdxDef *defs, size_t n);
/* Finds one index by name (any collection).  NOT_FOUND when absent. */
int idx_find(PagerTxn *t, const char *name, IdxDef *out);
/* Writes a definition back to the catalog (after its tree or statistics
 * changed; d->root is the tree's current root). */
int idx_def_store(PagerTxn *t, const IdxDef *d);

/*
 * The entry keys one document gives an index — what idx_set_update maintains
 * and what the integrity check (tools/check.c) expects — with scratch
 * buffers reused from call to call: key i is keys.p[e[i].off ..
 * e[i].off + e[i].len).  Unsorted; one per distinct element of an `each`
 * field.
 */
typedef struct {
    size_t off, len;
} IdxSpan;

typedef struct {
    KeyBuf keys;
    IdxSpan *e;
    size_t n, cap;
    KeyBuf comp, alts;          /* scratch */
    size_t *aoff, acap;
} IdxDocKeys;
void idx_doc_keys_free(IdxDocKeys *k);
/*
 * Replaces k's keys by those of document (id, bin[0..len), bytes
 * docbin_validate accepted) in index d: none for a soft-deleted document
 * (soft_deleted 1 or 0, or -1 to look in bin) or one that the partial
 * index's compiled predicate `pred` rejects.  OK; CORRUPT (the document is
 * damaged); the predicate's own error when it fails; NOMEM.
 */
int idx_doc_keys(const IdxDef *d, void *pred, const char *id, size_t idlen, const uint8_t *bin,
                 size_t len, int soft_deleted, IdxDocKeys *k);
/* A partial index's predicate compiled through the hooks above (*out NULL
 * when d has none; release with idx_pred_free).  INVALID_ARGUMENT without
 * hooks, else the hook's error; msg says why. */
int idx_pred_compile(const IdxDef *d, void **out, char *msg, size_t msglen);
void idx_pred_free(void *pred);
/* Decodes a definition record (docs/FILE_FORMAT.md, "Indexes") of
 * collection coll_id named name[0..nlen): 1 done, 0 damaged, -1 out of
 * memory.  idx_def_clear releases it. */
int idx_def_decode(const uint8_t *r, size_t len, uint64_t coll_id, const char *name, size_t nlen,
                   IdxDef *d);

/*
 * Index maintenance.  idx_set_load loads a collection's index definitions
 * with their predicates compiled, once per call of the collection layer
 * (all the documents one insert_many writes share it); NULL, and nothing
 * to do, for a collection without CAT_F_HAS_INDEXES.  idx_set_update
 * brings the indexes from the old version of document `id` to the new one
 * (binary documents; old == NULL: inserted, new == NULL: deleted),
 * touching only the entries that differ, and keeps the loaded definitions
 * current as their roots move.  A unique violation returns
 * BLAZEDB_CONSTRAINT with "unique index NAME: id X already has this value"
 * in err, undoing nothing (callers run inside a savepoint and roll it
 * back).  A set is valid for the call that loaded it: no index is created
 * or dropped meanwhile.
 */
typedef struct IdxSet IdxSet;
int idx_set_load(PagerTxn *t, const CatColl *c, IdxSet **out, char *err, size_t errlen);
int idx_set_update(PagerTxn *t, IdxSet *s, const char *id, size_t idlen, const uint8_t *oldbin,
                   size_t oldlen, const uint8_t *newbin, size_t newlen, char *err,
                   size_t errlen);
void idx_set_free(IdxSet *s);

/* Recomputes a definition's statistics from its entries (ANALYZE). */
int idx_analyze(PagerTxn *t, const char *name);

/* Key helpers for scans: the id at the end of an entry key (borrowed). */
int idx_key_id(const uint8_t *key, size_t klen, const char **id, size_t *idlen);

/* 1 when one of d's components in the entry prefix p[0..pl) is null (a
 * unique index accepts any number of such entries). */
int idx_key_has_null(const IdxDef *d, const uint8_t *p, size_t pl);

/* For the integrity check: every entry matches a document and every
 * document has exactly its entries.  CORRUPT with a message otherwise. */
int idx_check(PagerTxn *t, const CatColl *c, char *err, size_t errlen);
/* For db_check's page accounting: btree_check on every index tree of the
 * database, calling visit for each of its pages. */
int idx_check_trees(PagerTxn *t, void (*visit)(Pgno pgno, void *arg), void *arg);

#endif /* BLAZEDB_INDEX_INDEX_H */
