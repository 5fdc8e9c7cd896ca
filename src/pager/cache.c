/*
 * cache.c — page cache: hash table of committed page versions, lock-free
 * hits, CLOCK eviction of unpinned entries.  See cache.h for the protocol.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

/* A lock-free walk that has not found its page after this many steps (it
 * may have been led into another chain by an entry reused meanwhile) asks
 * again under the mutex. */
#define WALK_LIMIT 64

#define RELAXED memory_order_relaxed

static size_t bucket_of(const Cache *c, Pgno pgno)
{
    uint32_t h = pgno * 2654435761u;
    return (size_t)h & (c->nbuckets - 1);
}

static uint8_t state_of(CacheEntry *e)
{
    return atomic_load_explicit(&e->state, memory_order_acquire);
}

/* Takes an unpinned entry for the caller alone: no pin can be taken until
 * unclaim().  Locked. */
static int claim(CacheEntry *e)
{
    uint32_t zero = 0;
    return atomic_compare_exchange_strong_explicit(&e->refs, &zero, CACHE_DEAD,
                                                   memory_order_acquire, RELAXED);
}

/* Ends a claim, leaving `pins` pins: what was written under the claim is
 * seen by whoever pins the entry next. */
static void unclaim(CacheEntry *e, uint32_t pins)
{
    atomic_store_explicit(&e->refs, pins, memory_order_release);
}

/* Drops an entry's hint (claimed or unpublished entry). */
static void hint_drop(CacheEntry *e)
{
    void *h = e->page.hint;
    if (h && h != PAGE_HINT_BUSY && (uint8_t *)h != cache_hint_room(&e->page))
        free(h);
    e->page.hint = NULL;
}

/* Gives a claimed (or unpublished) entry its identity. */
static void set_key(CacheEntry *e, Pgno pgno, uint64_t ctr)
{
    hint_drop(e);
    e->page.pgno = pgno;
    e->page.ctr = ctr;
    e->page.checked = 0;
    atomic_store_explicit(&e->kpgno, pgno, RELAXED);
    atomic_store_explicit(&e->kctr, ctr, RELAXED);
}

/* The table entry of pgno (any version).  Locked. */
static CacheEntry *find(Cache *c, Pgno pgno)
{
    CacheEntry *e = atomic_load_explicit(&c->table[bucket_of(c, pgno)], RELAXED);
    while (e && e->page.pgno != pgno)
        e = atomic_load_explicit(&e->hnext, RELAXED);
    return e;
}

/* Publishes a claimed entry at the head of its chain.  Locked. */
static void link_head(Cache *c, CacheEntry *e)
{
    _Atomic(CacheEntry *) *head = &c->table[bucket_of(c, e->page.pgno)];
    atomic_store_explicit(&e->hnext, atomic_load_explicit(head, RELAXED), RELAXED);
    atomic_store_explicit(head, e, memory_order_release);
    atomic_fetch_add_explicit(&c->count, 1, RELAXED);
}

/* Takes e out of its chain.  e->hnext stays, so that a walk standing on e
 * goes on.  Locked. */
static void unlink_entry(Cache *c, CacheEntry *e)
{
    _Atomic(CacheEntry *) *pp = &c->table[bucket_of(c, e->page.pgno)];
    CacheEntry *x;
    while ((x = atomic_load_explicit(pp, RELAXED)) && x != e)
        pp = &x->hnext;
    if (x) {
        atomic_store_explicit(pp, atomic_load_explicit(&e->hnext, RELAXED),
                              memory_order_release);
        atomic_fetch_sub_explicit(&c->count, 1, RELAXED);
    }
}

/* Keeps a claimed entry out of the table for reuse, without its buffer.
 * Locked. */
static void to_free_list(Cache *c, CacheEntry *e)
{
    free(e->page.data);
    hint_drop(e);
    e->page.data = NULL;
    atomic_store_explicit(&e->kctr, 0, RELAXED);
    e->fnext = c->free;
    c->free = e;
}

/* A zeroed entry on a cache line of its own (see CacheEntry), its hint
 * room after it. */
static CacheEntry *entry_alloc(void)
{
    size_t sz = CACHE_ENTRY_BYTES + CACHE_HINT_ROOM;
    CacheEntry *e = aligned_alloc(64, sz);
    if (e)
        memset(e, 0, CACHE_ENTRY_BYTES);
    return e;
}

static void entry_free(CacheEntry *e)
{
    free(e->page.data);
    hint_drop(e);
    free(e);
}

int cache_init(Cache *c, size_t capacity, size_t payload)
{
    memset(c, 0, sizeof *c);
    if (capacity < 16)
        capacity = 16;
    c->capacity = capacity;
    c->payload = payload;
    c->nbuckets = 64;
    while (c->nbuckets < capacity)
        c->nbuckets <<= 1;
    c->table = calloc(c->nbuckets, sizeof *c->table);
    if (!c->table)
        return -1;
    for (size_t i = 0; i < c->nbuckets; i++)
        atomic_init(&c->table[i], NULL);
    atomic_init(&c->count, 0);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->loaded, NULL);
    return 0;
}

void cache_destroy(Cache *c)
{
    if (!c->table)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        CacheEntry *e = atomic_load(&c->table[i]);
        while (e) {
            CacheEntry *n = atomic_load(&e->hnext);
            entry_free(e);
            e = n;
        }
    }
    while (c->free) {
        CacheEntry *n = c->free->fnext;
        entry_free(c->free);
        c->free = n;
    }
    free(c->table);
    c->table = NULL;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->loaded);
}

/* Moves the hand until it finds an unpinned entry not used since the hand
 * last passed it, and returns that entry claimed and out of the table (its
 * buffer kept).  NULL when two turns of the table found none: every entry
 * is pinned or loading, and the cache goes over budget until pages are
 * unpinned (a pinned page cannot be dropped).  Locked. */
static CacheEntry *evict_one(Cache *c)
{
    for (size_t turns = 0; turns < 2 * c->nbuckets; turns++) {
        CacheEntry *e = atomic_load_explicit(&c->table[c->hand], RELAXED);
        for (; e; e = atomic_load_explicit(&e->hnext, RELAXED)) {
            if (atomic_load_explicit(&e->refs, RELAXED) != 0 ||
                state_of(e) == CACHE_LOADING)
                continue;
            if (atomic_load_explicit(&e->used, RELAXED) && state_of(e) == CACHE_READY) {
                atomic_store_explicit(&e->used, 0, RELAXED);
                continue;
            }
            if (claim(e)) {
                unlink_entry(c, e);
                atomic_store_explicit(&e->kctr, 0, RELAXED);
                return e;
            }
        }
        c->hand = (c->hand + 1) & (c->nbuckets - 1);
    }
    return NULL;
}

/* Evicts unpinned entries while the table holds more than `limit`.
 * Locked. */
static void shrink_to(Cache *c, size_t limit)
{
    while (atomic_load_explicit(&c->count, RELAXED) > limit) {
        CacheEntry *v = evict_one(c);
        if (!v)
            break;
        to_free_list(c, v);
    }
}

/* A claimed entry out of the table for a new table entry: an evicted one
 * when the table is full, else a kept or new one.  With `buffer` it has a
 * page buffer, else none.  When the table is full and nothing can go, NULL
 * unless `may_grow`.  Locked. */
static CacheEntry *take_entry(Cache *c, int buffer, int may_grow)
{
    CacheEntry *e = NULL;
    if (atomic_load_explicit(&c->count, RELAXED) >= c->capacity) {
        e = evict_one(c);
        if (!e && !may_grow)
            return NULL;
    }
    if (!e && c->free) {
        e = c->free;
        c->free = e->fnext;
    }
    if (!e) {
        e = entry_alloc();
        if (!e)
            return NULL;
        atomic_init(&e->refs, CACHE_DEAD);
        atomic_init(&e->hnext, NULL);
    }
    e->fnext = NULL;
    if (!buffer) {
        free(e->page.data);
        e->page.data = NULL;
    } else if (!e->page.data && !(e->page.data = malloc(c->payload))) {
        to_free_list(c, e);
        return NULL;
    }
    return e;
}

/* The lock-free hit: the READY entry {pgno, ctr} pinned, or NULL (then ask
 * under the mutex). */
static CacheEntry *pin_lockfree(Cache *c, Pgno pgno, uint64_t ctr)
{
    CacheEntry *e = atomic_load_explicit(&c->table[bucket_of(c, pgno)], memory_order_acquire);
    for (int n = 0; e && n < WALK_LIMIT;
         n++, e = atomic_load_explicit(&e->hnext, memory_order_acquire)) {
        if (atomic_load_explicit(&e->kpgno, RELAXED) != pgno ||
            atomic_load_explicit(&e->kctr, RELAXED) != ctr)
            continue;
        /* the caller's next loads: the hint built in the room */
        __builtin_prefetch(cache_hint_room(&e->page));
        __builtin_prefetch(cache_hint_room(&e->page) + 64);
        __builtin_prefetch(cache_hint_room(&e->page) + 128);
        uint32_t r = atomic_load_explicit(&e->refs, RELAXED);
        do {
            if (r & CACHE_DEAD)
                return NULL;
        } while (!atomic_compare_exchange_weak_explicit(&e->refs, &r, r + 1,
                                                        memory_order_acquire, RELAXED));
        /* pinned: nobody can change its identity now; is it still ours? */
        if (e->page.pgno == pgno && e->page.ctr == ctr && state_of(e) == CACHE_READY) {
            if (!atomic_load_explicit(&e->used, RELAXED))
                atomic_store_explicit(&e->used, 1, RELAXED);
            return e;
        }
        cache_unpin(c, e);
        return NULL;
    }
    return NULL;
}

int cache_fetch(Cache *c, Pgno pgno, uint64_t ctr, CacheEntry **out)
{
    CacheEntry *e = pin_lockfree(c, pgno, ctr);
    if (e) {
        *out = e;
        return 1;
    }
    pthread_mutex_lock(&c->mu);
    for (;;) {
        e = find(c, pgno);
        uint8_t st = e ? state_of(e) : CACHE_EMPTY;
        if (e && e->page.ctr == ctr && st != CACHE_EMPTY) {
            if (st == CACHE_LOADING) {
                /* another thread is reading this page: wait for it */
                pthread_cond_wait(&c->loaded, &c->mu);
                continue;
            }
            /* table entries are never claimed outside the mutex */
            atomic_fetch_add_explicit(&e->refs, 1, memory_order_acquire);
            atomic_store_explicit(&e->used, 1, RELAXED);
            pthread_mutex_unlock(&c->mu);
            *out = e;
            return 1;
        }
        if (e && st != CACHE_LOADING && claim(e)) {
            /* a stale version or a dropped load: reuse the entry */
            set_key(e, pgno, ctr);
            atomic_store_explicit(&e->state, CACHE_LOADING, RELAXED);
            atomic_store_explicit(&e->used, 0, RELAXED);
            unclaim(e, 1);
            pthread_mutex_unlock(&c->mu);
            *out = e;
            return 0;
        }
        CacheEntry *n;
        if (e) {
            /* the other version is pinned or loading: keep ours private */
            n = entry_alloc();
            if (n && !(n->page.data = malloc(c->payload))) {
                free(n);
                n = NULL;
            }
            if (n) {
                n->detached = 1;
                set_key(n, pgno, ctr);
                atomic_init(&n->state, CACHE_LOADING);
                atomic_init(&n->refs, 1);
            }
        } else if ((n = take_entry(c, 1, 1))) {
            set_key(n, pgno, ctr);
            atomic_store_explicit(&n->state, CACHE_LOADING, RELAXED);
            atomic_store_explicit(&n->used, 0, RELAXED);
            unclaim(n, 1);
            link_head(c, n);
        }
        pthread_mutex_unlock(&c->mu);
        if (!n)
            return -1;
        *out = n;
        return 0;
    }
}

void cache_loaded(Cache *c, CacheEntry *e)
{
    pthread_mutex_lock(&c->mu);
    atomic_store_explicit(&e->state, CACHE_READY, memory_order_release);
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->mu);
}

void cache_abandon(Cache *c, CacheEntry *e)
{
    if (e->detached) {
        entry_free(e);
        return;
    }
    /* stays in the table, empty, for the hand or the next load of pgno */
    pthread_mutex_lock(&c->mu);
    atomic_store_explicit(&e->kctr, 0, RELAXED);
    atomic_store_explicit(&e->state, CACHE_EMPTY, memory_order_release);
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->mu);
    cache_unpin(c, e);
}

void cache_unpin(Cache *c, CacheEntry *e)
{
    if (e->detached) {
        /* nobody else can reach a detached entry: its last unpin frees it */
        if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
            entry_free(e);
        return;
    }
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_release) == 1 &&
        atomic_load_explicit(&c->count, RELAXED) > c->capacity) {
        /* over budget because pages were pinned: give back what can go */
        pthread_mutex_lock(&c->mu);
        shrink_to(c, c->capacity);
        pthread_mutex_unlock(&c->mu);
    }
}

void cache_install(Cache *c, Pgno pgno, uint64_t ctr, uint8_t *data, uint8_t key_epoch)
{
    pthread_mutex_lock(&c->mu);
    CacheEntry *e = find(c, pgno);
    int fresh = !e;
    if (e) {
        if (state_of(e) == CACHE_LOADING || !claim(e)) {
            pthread_mutex_unlock(&c->mu);
            free(data);
            return;
        }
        free(e->page.data);
    } else if (!(e = take_entry(c, 0, 0))) {
        pthread_mutex_unlock(&c->mu);
        free(data);
        return;
    }
    e->page.data = data;
    e->page.key_epoch = key_epoch;
    set_key(e, pgno, ctr);
    atomic_store_explicit(&e->state, CACHE_READY, RELAXED);
    atomic_store_explicit(&e->used, 1, RELAXED);
    unclaim(e, 0);
    if (fresh)
        link_head(c, e);
    pthread_mutex_unlock(&c->mu);
}

void cache_clear(Cache *c)
{
    pthread_mutex_lock(&c->mu);
    for (size_t b = 0; b < c->nbuckets; b++) {
        CacheEntry *e = atomic_load_explicit(&c->table[b], RELAXED);
        while (e) {
            CacheEntry *n = atomic_load_explicit(&e->hnext, RELAXED);
            if (state_of(e) != CACHE_LOADING && claim(e)) {
                unlink_entry(c, e);
                to_free_list(c, e);
            }
            e = n;
        }
    }
    pthread_mutex_unlock(&c->mu);
}
