/*
 * memvfs.h — an in-memory OsVfs for the fuzz targets (header-only; each
 * target includes it once).  Files live in a small table keyed by path;
 * locks always succeed (one handle at a time); randomness and time are
 * deterministic so every crash reproduces from its input.
 */
#ifndef BLAZEDB_FUZZ_MEMVFS_H
#define BLAZEDB_FUZZ_MEMVFS_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../src/os/os.h"

#define MEM_MAX_FILES 8
#define MEM_SHM_CAP (64u << 10)

typedef struct {
    char path[256];
    uint8_t *data;
    size_t size, cap;
    int used, mapped;
} MemNode;

typedef struct {
    OsFile base;
    MemNode *node;
} MemFile;

static MemNode mem_nodes[MEM_MAX_FILES];
static uint64_t mem_rng = 0x9e3779b97f4a7c15ull, mem_clock;

static MemNode *mem_find(const char *path, int create)
{
    for (int i = 0; i < MEM_MAX_FILES; i++)
        if (mem_nodes[i].used && strcmp(mem_nodes[i].path, path) == 0)
            return &mem_nodes[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MEM_MAX_FILES; i++) {
        if (!mem_nodes[i].used) {
            MemNode *n = &mem_nodes[i];
            memset(n, 0, sizeof *n);
            n->used = 1;
            strncpy(n->path, path, sizeof n->path - 1);
            return n;
        }
    }
    return NULL;
}

static int mem_reserve(MemNode *n, size_t size)
{
    if (size <= n->cap)
        return 0;
    if (n->mapped)
        return ENOSPC;
    size_t nc = n->cap ? n->cap : 4096;
    while (nc < size)
        nc *= 2;
    uint8_t *d = realloc(n->data, nc);
    if (!d)
        return ENOMEM;
    memset(d + n->cap, 0, nc - n->cap);
    n->data = d;
    n->cap = nc;
    return 0;
}

static int mem_close(OsFile *f) { free(f); return 0; }

static int mem_read(OsFile *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    MemNode *m = ((MemFile *)f)->node;
    size_t have = off < m->size ? m->size - (size_t)off : 0;
    if (have > n)
        have = n;
    if (have)
        memcpy(buf, m->data + off, have);
    memset((uint8_t *)buf + have, 0, n - have);
    if (got)
        *got = have;
    return 0;
}

static int mem_write(OsFile *f, const void *buf, size_t n, uint64_t off)
{
    MemNode *m = ((MemFile *)f)->node;
    if (off + n > (1u << 30))
        return ENOSPC; /* keep fuzzing bounded */
    int e = mem_reserve(m, (size_t)off + n);
    if (e)
        return e;
    memcpy(m->data + off, buf, n);
    if (off + n > m->size)
        m->size = (size_t)off + n;
    return 0;
}

static int mem_sync(OsFile *f) { (void)f; return 0; }

static int mem_size(OsFile *f, uint64_t *out)
{
    *out = ((MemFile *)f)->node->size;
    return 0;
}

static int mem_truncate(OsFile *f, uint64_t size)
{
    MemNode *m = ((MemFile *)f)->node;
    if (size > (1u << 30))
        return ENOSPC;
    int e = mem_reserve(m, (size_t)size);
    if (e)
        return e;
    if (size < m->size)
        memset(m->data + size, 0, m->size - (size_t)size);
    m->size = (size_t)size;
    return 0;
}

static int mem_lock(OsFile *f, uint64_t off, uint64_t len, int kind)
{
    (void)f; (void)off; (void)len; (void)kind;
    return 0;
}

static int mem_lock_held(OsFile *f, uint64_t off, uint64_t len, int *held)
{
    (void)f; (void)off; (void)len;
    *held = 0;
    return 0;
}

static int mem_map(OsFile *f, size_t len, void **out)
{
    MemNode *m = ((MemFile *)f)->node;
    int e = mem_reserve(m, len > MEM_SHM_CAP ? len : MEM_SHM_CAP);
    if (e)
        return e;
    m->mapped = 1;
    *out = m->data;
    return 0;
}

static int mem_unmap(OsFile *f, void *addr, size_t len)
{
    (void)addr; (void)len;
    ((MemFile *)f)->node->mapped = 0;
    return 0;
}

static const OsIo mem_io = {mem_close, mem_read, mem_write, mem_sync, mem_size,
                            mem_truncate, mem_lock, mem_lock_held, mem_map,
                            mem_unmap};

static int memvfs_open(OsVfs *v, const char *path, int flags, OsFile **out)
{
    (void)v;
    MemNode *n = mem_find(path, 0);
    if (!n) {
        if (!(flags & OS_OPEN_CREATE))
            return ENOENT;
        n = mem_find(path, 1);
        if (!n)
            return EMFILE;
    } else if ((flags & OS_OPEN_CREATE) && (flags & OS_OPEN_EXCL)) {
        return EEXIST;
    }
    MemFile *f = calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    f->base.io = &mem_io;
    f->node = n;
    *out = &f->base;
    return 0;
}

static int memvfs_remove(OsVfs *v, const char *path)
{
    (void)v;
    MemNode *n = mem_find(path, 0);
    if (!n)
        return ENOENT;
    free(n->data);
    memset(n, 0, sizeof *n);
    return 0;
}

static int memvfs_exists(OsVfs *v, const char *path)
{
    (void)v;
    return mem_find(path, 0) ? 0 : ENOENT;
}

static int memvfs_sync_dir(OsVfs *v, const char *path) { (void)v; (void)path; return 0; }

static int memvfs_random(OsVfs *v, void *buf, size_t n)
{
    (void)v;
    uint8_t *b = buf;
    for (size_t i = 0; i < n; i++) {
        mem_rng ^= mem_rng << 13;
        mem_rng ^= mem_rng >> 7;
        mem_rng ^= mem_rng << 17;
        b[i] = (uint8_t)mem_rng;
    }
    return 0;
}

static uint64_t memvfs_now(OsVfs *v) { (void)v; return mem_clock += 1000; }
static void memvfs_sleep(OsVfs *v, uint64_t us) { (void)v; mem_clock += us; }

/* A second name: a copy is enough, since the first name is only ever
 * removed afterwards. */
static int memvfs_link(OsVfs *v, const char *from, const char *to)
{
    (void)v;
    MemNode *a = mem_find(from, 0);
    if (!a)
        return ENOENT;
    if (mem_find(to, 0))
        return EEXIST;
    MemNode *b = mem_find(to, 1);
    if (!b)
        return EMFILE;
    b->data = malloc(a->size ? a->size : 1);
    if (!b->data) {
        memset(b, 0, sizeof *b);
        return ENOMEM;
    }
    memcpy(b->data, a->data, a->size);
    b->size = b->cap = a->size;
    return 0;
}

static OsVfs memvfs = {"mem", memvfs_open, memvfs_remove, memvfs_exists,
                       memvfs_sync_dir, memvfs_random, memvfs_now, memvfs_sleep,
                       memvfs_link, NULL};

/* Replaces the content of a file (creating it). */
static void memvfs_set(const char *path, const uint8_t *data, size_t n)
{
    MemNode *m = mem_find(path, 1);
    if (!m)
        return;
    m->size = 0;
    if (mem_reserve(m, n ? n : 1) == 0) {
        if (n)
            memcpy(m->data, data, n);
        m->size = n;
    }
}

static MemNode *memvfs_node(const char *path) { return mem_find(path, 0); }

#endif /* BLAZEDB_FUZZ_MEMVFS_H */
