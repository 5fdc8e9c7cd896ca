/*
 * cache.h — the page cache of one handle: decrypted committed page versions
 * keyed by page number, each tagged with its version counter.
 *
 * Committed versions are immutable, so a cached page is shared by every
 * reader without copying.  Entries are pinned while in use (refcount) and
 * evicted by a CLOCK hand (an entry used since the hand last passed keeps
 * its place once more) when the budget is reached.  The cache never reads
 * the disk itself: the pager fills entries it reserves.
 *
 * Thread-safe.  A hit takes no lock: it walks the hash chain and pins the
 * entry with a compare-and-swap on its pin count, then checks that the
 * entry still holds the version it looked for.  Everything that changes
 * the table (loading, eviction, install) holds the mutex and first claims
 * the entry by swapping its pin count from 0 to CACHE_DEAD, which no pin
 * can pass.  Entries that were ever in the table are kept until
 * cache_destroy (their page buffers are not): a lock-free walk may still
 * be stepping through one that was evicted.
 */
#ifndef BLAZEDB_CACHE_H
#define BLAZEDB_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pager.h"

typedef struct CacheEntry {
    Page page;                 /* must be first: Page* <-> CacheEntry* */
    _Atomic uint32_t refs;     /* pins, or CACHE_DEAD while claimed */
    _Atomic uint8_t state;     /* CACHE_* */
    _Atomic uint8_t used;      /* CLOCK bit: hit since the hand passed */
    uint8_t detached;          /* never in the table: freed on last unpin */
    /* Copies of page.pgno/ctr that a lock-free walk may read at any time
     * (ctr 0 matches nothing) */
    _Atomic uint32_t kpgno;
    _Atomic uint64_t kctr;
    _Atomic(struct CacheEntry *) hnext; /* hash chain */
    /* everything above fits one cache line (entries are line-aligned):
     * a hit reads that line and no other of the entry */
    struct CacheEntry *fnext;  /* free list */
} CacheEntry;

/* Every entry is followed, in the same allocation, by CACHE_HINT_ROOM
 * bytes where the layer above may build the version's hint (Page.hint):
 * a hint that fits there needs no allocation of its own, and sits on the
 * lines right after the entry's, which a hit asks for at once.  Page.hint
 * points into it, or at a malloc'd hint, or is PAGE_HINT_BUSY while one
 * thread builds into it. */
#define CACHE_ENTRY_BYTES 128 /* sizeof(CacheEntry), line-rounded */
#define CACHE_HINT_ROOM 384
_Static_assert(sizeof(CacheEntry) <= CACHE_ENTRY_BYTES, "CACHE_ENTRY_BYTES");

static inline uint8_t *cache_hint_room(Page *pg)
{
    return (uint8_t *)pg + CACHE_ENTRY_BYTES;
}

enum { CACHE_EMPTY = 0, CACHE_LOADING = 1, CACHE_READY = 2 };
#define CACHE_DEAD 0x80000000u

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t loaded;     /* a LOADING entry became READY or was dropped */
    _Atomic(CacheEntry *) *table;
    size_t nbuckets;           /* power of two */
    _Atomic size_t count;      /* entries in the table */
    size_t capacity;
    size_t payload;            /* bytes per page buffer */
    size_t hand;               /* CLOCK hand: a bucket */
    CacheEntry *free;          /* out of the table, no buffer, refs DEAD */
} Cache;

int cache_init(Cache *c, size_t capacity, size_t payload);
void cache_destroy(Cache *c);

/*
 * Looks up {pgno, ctr}.  Returns:
 *   1: *out is a pinned READY entry (hit);
 *   0: *out is a pinned LOADING entry reserved for the caller, who must fill
 *      page.data and call cache_loaded() or cache_abandon();
 *  -1: out of memory.
 * A different version of pgno that is unpinned is replaced; if it is pinned
 * (cannot happen under copy-on-write, but handled) a detached entry is used.
 */
int cache_fetch(Cache *c, Pgno pgno, uint64_t ctr, CacheEntry **out);
void cache_loaded(Cache *c, CacheEntry *e);
void cache_abandon(Cache *c, CacheEntry *e);
void cache_unpin(Cache *c, CacheEntry *e);

/* Installs a committed page version whose buffer (payload bytes, malloc'd)
 * the cache takes over.  Replaces an unpinned older version.  Frees `data`
 * when it cannot keep it. */
void cache_install(Cache *c, Pgno pgno, uint64_t ctr, uint8_t *data, uint8_t key_epoch);

/* Drops every unpinned entry. */
void cache_clear(Cache *c);

#endif /* BLAZEDB_CACHE_H */
