/*
 * cache.c — page cache: hash table of committed page versions with LRU
 * eviction of unpinned entries.  See cache.h.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

static size_t bucket_of(const Cache *c, Pgno pgno)
{
    uint32_t h = pgno * 2654435761u;
    return (size_t)h & (c->nbuckets - 1);
}

static void lru_unlink(CacheEntry *e)
{
    if (e->lprev) {
        e->lprev->lnext = e->lnext;
        e->lnext->lprev = e->lprev;
        e->lprev = e->lnext = NULL;
    }
}

static void lru_push(Cache *c, CacheEntry *e)
{
    /* newest at the tail (before the sentinel) */
    e->lnext = &c->lru;
    e->lprev = c->lru.lprev;
    c->lru.lprev->lnext = e;
    c->lru.lprev = e;
}

static void table_remove(Cache *c, CacheEntry *e)
{
    CacheEntry **pp = &c->table[bucket_of(c, e->page.pgno)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = e->hnext;
        c->count--;
    }
    e->hnext = NULL;
}

static void entry_free(CacheEntry *e)
{
    free(e->page.data);
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
    c->lru.lnext = c->lru.lprev = &c->lru;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->loaded, NULL);
    return 0;
}

void cache_destroy(Cache *c)
{
    if (!c->table)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        CacheEntry *e = c->table[i];
        while (e) {
            CacheEntry *n = e->hnext;
            entry_free(e);
            e = n;
        }
    }
    free(c->table);
    c->table = NULL;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->loaded);
}

/* Evicts unpinned entries until there is room for one more.  Locked. */
static void make_room(Cache *c)
{
    while (c->count >= c->capacity && c->lru.lnext != &c->lru) {
        CacheEntry *victim = c->lru.lnext;
        lru_unlink(victim);
        table_remove(c, victim);
        entry_free(victim);
    }
}

static CacheEntry *entry_new(Cache *c, Pgno pgno, uint64_t ctr)
{
    CacheEntry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->page.data = malloc(c->payload);
    if (!e->page.data) {
        free(e);
        return NULL;
    }
    e->page.pgno = pgno;
    e->page.ctr = ctr;
    return e;
}

int cache_fetch(Cache *c, Pgno pgno, uint64_t ctr, CacheEntry **out)
{
    pthread_mutex_lock(&c->mu);
    for (;;) {
        CacheEntry *e = c->table[bucket_of(c, pgno)];
        while (e && e->page.pgno != pgno)
            e = e->hnext;
        if (e && e->page.ctr == ctr) {
            if (e->state == CACHE_LOADING) {
                /* another thread is reading this page: wait for it */
                pthread_cond_wait(&c->loaded, &c->mu);
                continue;
            }
            if (e->refs++ == 0)
                lru_unlink(e);
            pthread_mutex_unlock(&c->mu);
            *out = e;
            return 1;
        }
        if (e && e->refs == 0 && e->state == CACHE_READY) {
            /* stale version: recycle the entry for the wanted one */
            lru_unlink(e);
            e->page.ctr = ctr;
            e->page.checked = 0;
            e->state = CACHE_LOADING;
            e->refs = 1;
            pthread_mutex_unlock(&c->mu);
            *out = e;
            return 0;
        }
        CacheEntry *n = entry_new(c, pgno, ctr);
        if (!n) {
            pthread_mutex_unlock(&c->mu);
            return -1;
        }
        n->state = CACHE_LOADING;
        n->refs = 1;
        if (e) {
            /* the other version is pinned or loading: keep ours private */
            n->detached = 1;
        } else {
            make_room(c);
            size_t b = bucket_of(c, pgno);
            n->hnext = c->table[b];
            c->table[b] = n;
            c->count++;
        }
        pthread_mutex_unlock(&c->mu);
        *out = n;
        return 0;
    }
}

void cache_loaded(Cache *c, CacheEntry *e)
{
    pthread_mutex_lock(&c->mu);
    e->state = CACHE_READY;
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->mu);
}

void cache_abandon(Cache *c, CacheEntry *e)
{
    pthread_mutex_lock(&c->mu);
    if (!e->detached)
        table_remove(c, e);
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->mu);
    entry_free(e);
}

void cache_unpin(Cache *c, CacheEntry *e)
{
    pthread_mutex_lock(&c->mu);
    if (--e->refs == 0) {
        if (e->detached) {
            pthread_mutex_unlock(&c->mu);
            entry_free(e);
            return;
        }
        lru_push(c, e);
        make_room(c);
    }
    pthread_mutex_unlock(&c->mu);
}

void cache_install(Cache *c, Pgno pgno, uint64_t ctr, uint8_t *data, uint8_t key_epoch)
{
    pthread_mutex_lock(&c->mu);
    CacheEntry *e = c->table[bucket_of(c, pgno)];
    while (e && e->page.pgno != pgno)
        e = e->hnext;
    if (e) {
        if (e->refs != 0 || e->state != CACHE_READY) {
            pthread_mutex_unlock(&c->mu);
            free(data);
            return;
        }
        free(e->page.data);
        e->page.data = data;
        e->page.ctr = ctr;
        e->page.key_epoch = key_epoch;
        lru_unlink(e);
        lru_push(c, e);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    make_room(c);
    if (c->count >= c->capacity) {
        pthread_mutex_unlock(&c->mu);
        free(data);
        return;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&c->mu);
        free(data);
        return;
    }
    e->page.pgno = pgno;
    e->page.ctr = ctr;
    e->page.data = data;
    e->page.key_epoch = key_epoch;
    e->state = CACHE_READY;
    size_t b = bucket_of(c, pgno);
    e->hnext = c->table[b];
    c->table[b] = e;
    c->count++;
    lru_push(c, e);
    pthread_mutex_unlock(&c->mu);
}

void cache_clear(Cache *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->lru.lnext != &c->lru) {
        CacheEntry *v = c->lru.lnext;
        lru_unlink(v);
        table_remove(c, v);
        entry_free(v);
    }
    pthread_mutex_unlock(&c->mu);
}
