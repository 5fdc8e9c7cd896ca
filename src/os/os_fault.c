/*
 * os_fault.c — a vfs that wraps another to inject I/O errors and to
 * simulate power loss (tests only; not part of libblazedb).  See os_fault.h.
 *
 * Power loss model: a write reaches the disk only when its file is synced.
 * For every path we keep the size at the last sync and an undo log of the
 * bytes each unsynced write replaced.  Losing power replays the undo logs
 * backwards on the real files (through the base vfs) and truncates them to
 * their synced size; with `tear`, a sector-aligned prefix of the most recent
 * unsynced write is then re-applied, as a disk that lost power mid-write
 * might have left it.  Shared mappings pass through untouched: the -shm file
 * is not durable state and is rebuilt after a crash.
 */
#include "os_fault.h"

#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct Undo {
    uint64_t off;
    size_t len;
    uint8_t *old;       /* bytes that were there (len bytes) */
    size_t old_len;     /* how many of them existed (the rest was past EOF) */
    uint8_t *new_data;  /* what was written (for tearing) */
    struct Undo *prev;
} Undo;

typedef struct PathState {
    char *path;
    uint64_t synced_size;
    int ever_synced;
    int mapped;                 /* shared memory: not durable, never undone */
    Undo *undo;                 /* newest first */
    struct PathState *next;
} PathState;

struct OsFault {
    OsVfs vfs;                  /* must be first: our vfs */
    OsVfs *base;
    pthread_mutex_t mu;
    PathState *paths;
    uint64_t counts[6];
    unsigned fail_kinds;
    uint64_t fail_at;           /* op number (of those kinds) that fails */
    uint64_t fail_seen;
    int fail_err, fail_persistent;
    uint64_t pl_at, pl_seen;    /* power loss at the pl_at-th sync */
    unsigned pl_tear;
    int crashed;
    uint64_t last_write_seq;
    PathState *last_write_path;
};

typedef struct {
    OsFile base;
    OsFile *real;
    OsFault *fault;
    PathState *ps;
} FaultFile;

static const OsIo fault_io;

static int kind_index(unsigned k)
{
    switch (k) {
    case OS_FAULT_READ: return 0;
    case OS_FAULT_WRITE: return 1;
    case OS_FAULT_SYNC: return 2;
    case OS_FAULT_OPEN: return 3;
    case OS_FAULT_SIZE: return 5;
    default: return 4;
    }
}

/* Counts an operation and says whether it must fail (errno) or not (0).
 * Caller holds mu. */
static int should_fail(OsFault *f, unsigned kind)
{
    f->counts[kind_index(kind)]++;
    if (f->crashed)
        return EIO;
    if (!(f->fail_kinds & kind) || f->fail_at == 0)
        return 0;
    f->fail_seen++;
    if (f->fail_seen == f->fail_at || (f->fail_persistent && f->fail_seen > f->fail_at))
        return f->fail_err;
    return 0;
}

static PathState *path_state(OsFault *f, const char *path)
{
    for (PathState *p = f->paths; p; p = p->next)
        if (strcmp(p->path, path) == 0)
            return p;
    PathState *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->path = strdup(path);
    if (!p->path) {
        free(p);
        return NULL;
    }
    p->next = f->paths;
    f->paths = p;
    return p;
}

static void undo_free_all(PathState *p)
{
    Undo *u = p->undo;
    while (u) {
        Undo *n = u->prev;
        free(u->old);
        free(u->new_data);
        free(u);
        u = n;
    }
    p->undo = NULL;
}

/* Restores every path to its last synced state.  Caller holds mu. */
static void lose_power(OsFault *f)
{
    if (f->crashed)
        return;
    f->crashed = 1;
    Undo *torn = NULL;
    PathState *torn_path = f->last_write_path;
    if (f->pl_tear && torn_path && torn_path->undo) {
        torn = torn_path->undo;
        torn_path->undo = torn->prev; /* handled separately below */
    }
    for (PathState *p = f->paths; p; p = p->next) {
        OsFile *rf;
        if (p->mapped) {
            undo_free_all(p);
            continue;
        }
        if (f->base->open(f->base, p->path, OS_OPEN_READWRITE, &rf) != 0) {
            undo_free_all(p);
            continue;
        }
        if (torn && p == torn_path) {
            /* undo the torn write itself first, then re-apply its prefix
             * after the older undos */
            if (torn->old_len)
                rf->io->write(rf, torn->old, torn->old_len, torn->off);
        }
        for (Undo *u = p->undo; u; u = u->prev)
            if (u->old_len)
                rf->io->write(rf, u->old, u->old_len, u->off);
        uint64_t size = p->ever_synced ? p->synced_size : 0;
        rf->io->truncate(rf, size);
        if (torn && p == torn_path) {
            size_t sectors = (torn->len + 511) / 512;
            size_t keep = (size_t)((f->pl_tear * 2654435761u) % (sectors + 1)) * 512;
            if (keep > torn->len)
                keep = torn->len;
            if (keep)
                rf->io->write(rf, torn->new_data, keep, torn->off);
        }
        rf->io->sync(rf);
        rf->io->close(rf);
        undo_free_all(p);
    }
    if (torn) {
        free(torn->old);
        free(torn->new_data);
        free(torn);
    }
}

/* ---- file methods ---------------------------------------------------------- */

static int f_close(OsFile *file)
{
    FaultFile *ff = (FaultFile *)file;
    int rc = ff->real->io->close(ff->real);
    free(ff);
    return rc;
}

static int f_read(OsFile *file, void *buf, size_t n, uint64_t off, size_t *got)
{
    FaultFile *ff = (FaultFile *)file;
    pthread_mutex_lock(&ff->fault->mu);
    int e = should_fail(ff->fault, OS_FAULT_READ);
    pthread_mutex_unlock(&ff->fault->mu);
    if (e) {
        if (got)
            *got = 0;
        return e;
    }
    return ff->real->io->read(ff->real, buf, n, off, got);
}

static int f_write(OsFile *file, const void *buf, size_t n, uint64_t off)
{
    FaultFile *ff = (FaultFile *)file;
    OsFault *f = ff->fault;
    pthread_mutex_lock(&f->mu);
    int e = should_fail(f, OS_FAULT_WRITE);
    if (e) {
        pthread_mutex_unlock(&f->mu);
        return e;
    }
    Undo *u = calloc(1, sizeof *u);
    uint8_t *old = u ? malloc(n ? n : 1) : NULL;
    uint8_t *nd = old ? malloc(n ? n : 1) : NULL;
    if (!u || !old || !nd) {
        free(u);
        free(old);
        free(nd);
        pthread_mutex_unlock(&f->mu);
        return ENOMEM;
    }
    size_t got = 0;
    e = ff->real->io->read(ff->real, old, n, off, &got);
    if (e) {
        free(u);
        free(old);
        free(nd);
        pthread_mutex_unlock(&f->mu);
        return e;
    }
    memcpy(nd, buf, n);
    u->off = off;
    u->len = n;
    u->old = old;
    u->old_len = got;
    u->new_data = nd;
    e = ff->real->io->write(ff->real, buf, n, off);
    if (getenv("OSFAULT_TRACE"))
        fprintf(stderr, "W %s off=%llu n=%zu\n", ff->ps->path, (unsigned long long)off, n);
    if (e) {
        free(u->old);
        free(u->new_data);
        free(u);
    } else {
        u->prev = ff->ps->undo;
        ff->ps->undo = u;
        f->last_write_path = ff->ps;
    }
    pthread_mutex_unlock(&f->mu);
    return e;
}

static int f_sync(OsFile *file)
{
    FaultFile *ff = (FaultFile *)file;
    OsFault *f = ff->fault;
    pthread_mutex_lock(&f->mu);
    int e = should_fail(f, OS_FAULT_SYNC);
    if (getenv("OSFAULT_TRACE"))
        fprintf(stderr, "S %s #%llu\n", ff->ps->path, (unsigned long long)f->pl_seen + 1);
    if (!e && f->pl_at) {
        f->pl_seen++;
        if (f->pl_seen >= f->pl_at) {
            lose_power(f);
            e = EIO;
        }
    }
    if (!e) {
        e = ff->real->io->sync(ff->real);
        if (!e) {
            uint64_t size = 0;
            ff->real->io->size(ff->real, &size);
            ff->ps->synced_size = size;
            ff->ps->ever_synced = 1;
            undo_free_all(ff->ps);
            if (f->last_write_path == ff->ps)
                f->last_write_path = NULL;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return e;
}

static int f_size(OsFile *file, uint64_t *out)
{
    FaultFile *ff = (FaultFile *)file;
    pthread_mutex_lock(&ff->fault->mu);
    int e = should_fail(ff->fault, OS_FAULT_SIZE);
    pthread_mutex_unlock(&ff->fault->mu);
    if (e)
        return e;
    return ff->real->io->size(ff->real, out);
}

static int f_truncate(OsFile *file, uint64_t size)
{
    FaultFile *ff = (FaultFile *)file;
    OsFault *f = ff->fault;
    pthread_mutex_lock(&f->mu);
    int e = should_fail(f, OS_FAULT_TRUNCATE);
    if (!e) {
        /* remember the bytes a shrink removes, so power loss restores them */
        uint64_t cur = 0;
        ff->real->io->size(ff->real, &cur);
        if (size < cur) {
            size_t n = (size_t)(cur - size);
            Undo *u = calloc(1, sizeof *u);
            uint8_t *old = u ? malloc(n) : NULL;
            if (!u || !old) {
                free(u);
                free(old);
                pthread_mutex_unlock(&f->mu);
                return ENOMEM;
            }
            ff->real->io->read(ff->real, old, n, size, NULL);
            u->off = size;
            u->len = n;
            u->old = old;
            u->old_len = n;
            u->prev = ff->ps->undo;
            ff->ps->undo = u;
        }
        e = ff->real->io->truncate(ff->real, size);
        if (getenv("OSFAULT_TRACE"))
            fprintf(stderr, "T %s %llu\n", ff->ps->path, (unsigned long long)size);
    }
    pthread_mutex_unlock(&f->mu);
    return e;
}

static int f_lock(OsFile *file, uint64_t off, uint64_t len, int kind)
{
    FaultFile *ff = (FaultFile *)file;
    return ff->real->io->lock(ff->real, off, len, kind);
}

static int f_lock_held(OsFile *file, uint64_t off, uint64_t len, int *held)
{
    FaultFile *ff = (FaultFile *)file;
    return ff->real->io->lock_held(ff->real, off, len, held);
}

static int f_map(OsFile *file, size_t len, void **out)
{
    FaultFile *ff = (FaultFile *)file;
    pthread_mutex_lock(&ff->fault->mu);
    ff->ps->mapped = 1;
    pthread_mutex_unlock(&ff->fault->mu);
    return ff->real->io->map(ff->real, len, out);
}

static int f_unmap(OsFile *file, void *addr, size_t len)
{
    FaultFile *ff = (FaultFile *)file;
    return ff->real->io->unmap(ff->real, addr, len);
}

static const OsIo fault_io = {f_close, f_read, f_write, f_sync, f_size,
                              f_truncate, f_lock, f_lock_held, f_map, f_unmap};

/* ---- vfs methods ------------------------------------------------------------ */

static int v_open(OsVfs *vfs, const char *path, int flags, OsFile **out)
{
    OsFault *f = (OsFault *)vfs;
    *out = NULL;
    pthread_mutex_lock(&f->mu);
    int e = should_fail(f, OS_FAULT_OPEN);
    PathState *ps = e ? NULL : path_state(f, path);
    pthread_mutex_unlock(&f->mu);
    if (e)
        return e;
    if (!ps)
        return ENOMEM;
    FaultFile *ff = calloc(1, sizeof *ff);
    if (!ff)
        return ENOMEM;
    int existed = f->base->exists(f->base, path) == 0;
    e = f->base->open(f->base, path, flags, &ff->real);
    if (e) {
        free(ff);
        return e;
    }
    pthread_mutex_lock(&f->mu);
    if (existed && !ps->ever_synced && !ps->undo) {
        /* a file that existed before we saw it is durable as it is */
        uint64_t size = 0;
        ff->real->io->size(ff->real, &size);
        ps->synced_size = size;
        ps->ever_synced = 1;
    }
    pthread_mutex_unlock(&f->mu);
    ff->base.io = &fault_io;
    ff->fault = f;
    ff->ps = ps;
    *out = &ff->base;
    return 0;
}

static int v_remove(OsVfs *vfs, const char *path)
{
    OsFault *f = (OsFault *)vfs;
    return f->base->remove(f->base, path);
}

static int v_exists(OsVfs *vfs, const char *path)
{
    OsFault *f = (OsFault *)vfs;
    return f->base->exists(f->base, path);
}

static int v_link(OsVfs *vfs, const char *from, const char *to)
{
    OsFault *f = (OsFault *)vfs;
    return f->base->link(f->base, from, to);
}

static int v_sync_dir(OsVfs *vfs, const char *path)
{
    OsFault *f = (OsFault *)vfs;
    return f->base->sync_dir(f->base, path);
}

static int v_random(OsVfs *vfs, void *buf, size_t n)
{
    OsFault *f = (OsFault *)vfs;
    return f->base->random(f->base, buf, n);
}

static uint64_t v_now(OsVfs *vfs)
{
    OsFault *f = (OsFault *)vfs;
    return f->base->now_us(f->base);
}

static void v_sleep(OsVfs *vfs, uint64_t us)
{
    OsFault *f = (OsFault *)vfs;
    f->base->sleep_us(f->base, us);
}

/* ---- public ---------------------------------------------------------------- */

OsFault *os_fault_new(OsVfs *base)
{
    OsFault *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base = base ? base : os_unix_vfs();
    f->vfs = (OsVfs){"fault", v_open, v_remove, v_exists, v_sync_dir,
                     v_random, v_now, v_sleep, v_link, f};
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void os_fault_free(OsFault *f)
{
    if (!f)
        return;
    PathState *p = f->paths;
    while (p) {
        PathState *n = p->next;
        undo_free_all(p);
        free(p->path);
        free(p);
        p = n;
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}

OsVfs *os_fault_vfs(OsFault *f) { return &f->vfs; }

uint64_t os_fault_count(OsFault *f, unsigned kinds)
{
    uint64_t n = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < 6; i++)
        if (kinds & (1u << i))
            n += f->counts[i];
    pthread_mutex_unlock(&f->mu);
    return n;
}

void os_fault_fail(OsFault *f, unsigned kinds, uint64_t nth, int err, int persistent)
{
    pthread_mutex_lock(&f->mu);
    f->fail_kinds = kinds;
    f->fail_at = nth;
    f->fail_seen = 0;
    f->fail_err = err;
    f->fail_persistent = persistent;
    pthread_mutex_unlock(&f->mu);
}

void os_fault_powerloss_at_sync(OsFault *f, uint64_t nth, unsigned tear)
{
    pthread_mutex_lock(&f->mu);
    f->pl_at = nth;
    f->pl_seen = 0;
    f->pl_tear = tear;
    pthread_mutex_unlock(&f->mu);
}

void os_fault_powerloss_now(OsFault *f, unsigned tear)
{
    pthread_mutex_lock(&f->mu);
    f->pl_tear = tear;
    lose_power(f);
    pthread_mutex_unlock(&f->mu);
}

int os_fault_crashed(OsFault *f)
{
    pthread_mutex_lock(&f->mu);
    int c = f->crashed;
    pthread_mutex_unlock(&f->mu);
    return c;
}
