/*
 * cache.h — the page cache of one handle: decrypted committed page versions
 * keyed by page number, each tagged with its version counter.
 *
 * Committed versions are immutable, so a cached page is shared by every
 * reader without copying.  Entries are pinned while in use (refcount) and
 * evicted least-recently-used-first when the budget is reached.  The cache
 * never reads the disk itself: the pager fills entries it reserves.
 * Thread-safe (one mutex).
 */
#ifndef BLAZEDB_CACHE_H
#define BLAZEDB_CACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pager.h"

typedef struct CacheEntry {
    Page page;                 /* must be first: Page* <-> CacheEntry* */
    uint32_t refs;             /* pins */
    uint8_t state;             /* CACHE_* */
    uint8_t detached;          /* not in the table: freed on last unpin */
    struct CacheEntry *hnext;  /* hash chain */
    struct CacheEntry *lprev, *lnext; /* LRU list of unpinned entries */
} CacheEntry;

enum { CACHE_EMPTY = 0, CACHE_LOADING = 1, CACHE_READY = 2 };

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t loaded;     /* a LOADING entry became READY or was dropped */
    CacheEntry **table;
    size_t nbuckets;           /* power of two */
    size_t count, capacity;
    size_t payload;            /* bytes per page buffer */
    CacheEntry lru;            /* sentinel: lnext = oldest */
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
