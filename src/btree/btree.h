/*
 * btree.h — copy-on-write B+trees over pager pages, and the free-page tree.
 *
 * A tree is named by a PagerRoot {root PageRef, entry count}, which the
 * caller keeps (in the meta, or later in a catalog record) and passes by
 * pointer: modifications update it in place.  Keys are byte strings ordered
 * by memcmp (shorter first on a common prefix), 1..BTREE_MAX_KEY bytes.
 * Values are 0..BTREE_MAX_VALUE bytes; large values live in overflow chains.
 *
 * The B-tree knows pages, not files, SQL or documents.  It never modifies a
 * committed page: it asks the pager for a writable copy (pager_dirty) and
 * rewrites the parent's PageRef, all the way to the root.
 *
 * Return codes are BlazeDBResult values (int).
 */
#ifndef BLAZEDB_BTREE_H
#define BLAZEDB_BTREE_H

#include <stddef.h>
#include <stdint.h>

#include "../pager/pager.h"

#define BTREE_MAX_KEY 2048u
#define BTREE_MAX_VALUE (1024u * 1024u * 1024u)

/* Largest key the tree accepts for this pager's page size (<= BTREE_MAX_KEY;
 * smaller with 4 KiB pages). */
size_t btree_max_key(const Pager *p);

/* Point lookup.  On BLAZEDB_OK *val is a malloc'd copy (non-NULL even for a
 * zero-length value; free() it) and *vlen its length.  NOT_FOUND if absent. */
int btree_get(PagerTxn *t, const PagerRoot *root, const void *key, size_t klen,
              void **val, size_t *vlen);

/* Insert or replace.  *replaced (if non-NULL) = 1 when the key existed.
 * root->count is kept up to date.  TOO_BIG past the limits. */
int btree_put(PagerTxn *t, PagerRoot *root, const void *key, size_t klen,
              const void *val, size_t vlen, int *replaced);

/* Delete.  *found (if non-NULL) = 1 when the key existed.  OK when absent. */
int btree_delete(PagerTxn *t, PagerRoot *root, const void *key, size_t klen,
                 int *found);

/* Frees every page of the tree (for dropping a tree); root becomes empty. */
int btree_drop(PagerTxn *t, PagerRoot *root);

/* ---- cursors ------------------------------------------------------------ */

typedef struct BtCursor BtCursor;

/* A cursor over the tree `root` (the pointer must stay valid while the
 * cursor lives).  The cursor starts unpositioned. */
int btc_open(PagerTxn *t, PagerRoot *root, BtCursor **out);
void btc_close(BtCursor *c);

/* Positions at the first key >= key.  NOT_FOUND when there is none (then the
 * cursor is unpositioned).  *exact (if non-NULL) = 1 on an equal key. */
int btc_seek(BtCursor *c, const void *key, size_t klen, int *exact);
/* Positions at the last key <= key.  NOT_FOUND when there is none. */
int btc_seek_le(BtCursor *c, const void *key, size_t klen, int *exact);
int btc_first(BtCursor *c);
int btc_last(BtCursor *c);
/* Moves one step; NOT_FOUND past either end (cursor then unpositioned). */
int btc_next(BtCursor *c);
int btc_prev(BtCursor *c);
int btc_valid(const BtCursor *c);
/* Counts the entries from the current one up to (not including) the first
 * key >= hi, a leaf at a time (no per-entry step where a whole leaf is
 * below hi), and leaves the cursor there (unpositioned, NOT_FOUND, at the
 * end of the tree; *n is valid then too). */
int btc_count_lt(BtCursor *c, const void *hi, size_t hil, uint64_t *n);

/* Current key/value, borrowed until the cursor moves or the tree changes.
 * An overflow value is assembled into a buffer the cursor owns. */
int btc_key(BtCursor *c, const void **key, size_t *klen);
int btc_value(BtCursor *c, const void **val, size_t *vlen);

/* If the transaction modified any tree since the cursor was positioned, the
 * cursor re-seeks to its current key before moving (done automatically by
 * btc_next/btc_prev/btc_key/btc_value). */

/* ---- structure check (used by tests and `check`) ------------------------ */

/* Walks the whole tree: every page authenticates, keys are in order within
 * and across pages, separators bound their subtrees, every leaf is at the
 * same depth, overflow chains have the right length, the entry count equals
 * root->count.  Calls visit(pgno, arg) for every page of the tree (may be
 * NULL).  Returns OK or CORRUPT with a message in the pager's buffer. */
int btree_check(PagerTxn *t, const PagerRoot *root,
                void (*visit)(Pgno pgno, void *arg), void *arg);

/* ---- relocation, for vacuum (src/tools/vacuum.c) ----------------------- */

typedef struct {
    Pgno cut;                   /* in: move the pages numbered >= cut */
    int stale_keys;             /* in: also move the pages sealed under
                                   an older key (pager_page_stale) */
    uint64_t max_cows;          /* in: stop after about this many page
                                   copies (0: only when low pages run out) */
    size_t low;                 /* in/out: pool pages below the cut
                                   (pager_pool_count_below); decremented
                                   as copies use them */
    int resume;                 /* in/out: 1 = start at `key` (set when a
                                   call stops early; 0 once the walk ended) */
    size_t klen;
    uint8_t key[BTREE_MAX_KEY];
    uint64_t moved;             /* out, added to: pages >= cut (or stale)
                                   that moved */
    uint64_t cows;              /* out, added to: page copies (moved pages
                                   plus the parents rewritten for them) */
    int stopped;                /* out: 1 when the call stopped early */
} BtRelocate;

/* Moves the pages of the tree numbered >= r->cut (branches, leaves and
 * overflow chains) to new page numbers by copy-on-write, parents first,
 * so the tree is valid at every step; root->root is updated.  Meant for a
 * write transaction with pager_set_alloc_low on and r->low pages below the
 * cut in the pool: it stops (r->stopped) before it would run out of them
 * (or past max_cows), always after at least one copy.  With stale_keys
 * (re-encryption: cut = PAGER_MAX_PGNO + 1, low = SIZE_MAX) it rewrites the
 * pages still sealed under an older key, which copy-on-write reseals under
 * the current one.  After an error the caller must abort the
 * transaction. */
int btree_relocate(PagerTxn *t, PagerRoot *root, BtRelocate *r);

/* ---- free-page tree (freelist.c) ---------------------------------------- */

/* Installs the pager's refill hook.  Call once after pager_open. */
void freelist_attach(Pager *p);
/* At commit, before pager_commit: records the pages this txn freed (and the
 * unused pool pages) in the free tree, looping until stable.  Updates
 * meta->free_pages. */
int freelist_commit(PagerTxn *t);
/* Visits every page number held by the free tree, and every page of the
 * free tree itself (for the integrity check). */
int freelist_check(PagerTxn *t, void (*visit)(Pgno pgno, void *arg),
                   void (*visit_tree_page)(Pgno pgno, void *arg), void *arg);

/* Vacuum (src/tools/vacuum.c).  take_low moves up to `want` free page
 * numbers below `cut` that no snapshot can reach any more into the
 * allocation pool (*got of them), rewriting the records they came from.
 * relocate runs btree_relocate on the free tree itself.  shrink lowers
 * meta->npages to N, the number past the highest page that is not free and
 * reusable, and removes the pages >= N from the free tree (*new_npages = N,
 * or the old npages when nothing can go); *blocked = 1 when page N - 1 is
 * free but a snapshot may still reach it (a reader older than its freeing
 * holds it).  shrink must be the first change of its transaction. */
int freelist_take_low(PagerTxn *t, Pgno cut, size_t want, size_t *got);
/* Re-encryption (src/tools/vacuum.c): the free pages no snapshot can reach
 * (*out, sorted, the caller frees it; *n of them), and *held, the free
 * pages a snapshot older than their freeing may still read. */
int freelist_reusable(PagerTxn *t, Pgno **out, size_t *n, uint64_t *held);
int freelist_relocate(PagerTxn *t, BtRelocate *r);
int freelist_shrink(PagerTxn *t, Pgno *new_npages, int *blocked);

#endif /* BLAZEDB_BTREE_H */
