/*
 * os.h — the operating-system seam.
 *
 * Every byte BlazeDB reads or writes, every sync, lock, mapping, clock read
 * and random number goes through an OsVfs.  os_unix.c is the real one;
 * os_fault.c wraps any vfs to inject I/O errors and to simulate power loss
 * (tests only).  Nothing above this layer calls the C library's file
 * functions directly.
 *
 * Errors are returned as positive errno values (0 = success), so callers can
 * tell ENOSPC from EIO; no function here prints or aborts.
 */
#ifndef BLAZEDB_OS_H
#define BLAZEDB_OS_H

#include <stddef.h>
#include <stdint.h>

typedef struct OsVfs OsVfs;
typedef struct OsFile OsFile;
typedef struct OsIo OsIo;

/* open flags */
#define OS_OPEN_READWRITE 0x01 /* else read-only */
#define OS_OPEN_CREATE    0x02
#define OS_OPEN_EXCL      0x04 /* with CREATE: fail with EEXIST */

/* lock kinds for OsIo.lock */
#define OS_LOCK_UNLOCK    0
#define OS_LOCK_SHARED    1
#define OS_LOCK_EXCLUSIVE 2

/* Every OsFile begins with a pointer to its methods. */
struct OsFile {
    const OsIo *io;
};

struct OsIo {
    /* Closes and frees the file (and its locks).  Returns 0 or errno; the
     * file is freed either way. */
    int (*close)(OsFile *f);
    /* Reads exactly n bytes at off.  Bytes past end of file read as zero
     * and *got (if not NULL) says how many came from the file. */
    int (*read)(OsFile *f, void *buf, size_t n, uint64_t off, size_t *got);
    /* Writes exactly n bytes at off (retrying short writes). */
    int (*write)(OsFile *f, const void *buf, size_t n, uint64_t off);
    /* fdatasync. */
    int (*sync)(OsFile *f);
    int (*size)(OsFile *f, uint64_t *out);
    int (*truncate)(OsFile *f, uint64_t size);
    /* Byte-range lock on [off, off+len) with open-file-description
     * semantics (F_OFD_SETLK): locks belong to this OsFile, so two OsFiles
     * in one process conflict like two processes.  Never blocks: returns
     * EAGAIN when the lock is held elsewhere; the caller retries. */
    int (*lock)(OsFile *f, uint64_t off, uint64_t len, int kind);
    /* Would an exclusive lock on [off, off+len) conflict with another
     * holder?  *held = 1 if yes. */
    int (*lock_held)(OsFile *f, uint64_t off, uint64_t len, int *held);
    /* Maps [0, len) shared read-write.  The file must be at least len long. */
    int (*map)(OsFile *f, size_t len, void **out);
    int (*unmap)(OsFile *f, void *addr, size_t len);
};

struct OsVfs {
    const char *name;
    int (*open)(OsVfs *vfs, const char *path, int flags, OsFile **out);
    /* Removes the file; ENOENT when absent. */
    int (*remove)(OsVfs *vfs, const char *path);
    /* 0 if it exists, ENOENT if not, errno otherwise. */
    int (*exists)(OsVfs *vfs, const char *path);
    /* fsync of the directory holding `path` (after create/rename/remove). */
    int (*sync_dir)(OsVfs *vfs, const char *path);
    /* Cryptographically strong random bytes. */
    int (*random)(OsVfs *vfs, void *buf, size_t n);
    /* Monotonic microseconds. */
    uint64_t (*now_us)(OsVfs *vfs);
    /* Sleeps about `us` microseconds. */
    void (*sleep_us)(OsVfs *vfs, uint64_t us);
    /* Gives the file `from` the second name `to` (link(2)); EEXIST when
     * `to` exists.  Never replaces anything. */
    int (*link)(OsVfs *vfs, const char *from, const char *to);
    void *ctx; /* implementation data */
};

/* The real POSIX vfs (static storage; never freed). */
OsVfs *os_unix_vfs(void);

/* The vfs new handles use (os_unix_vfs unless a test replaced it).  Not
 * thread-safe to change while handles are being opened. */
OsVfs *os_default_vfs(void);
void os_set_default_vfs(OsVfs *vfs);

/* Convenience wrappers: f->io->x(f, ...). */
static inline int os_read(OsFile *f, void *b, size_t n, uint64_t off, size_t *got)
{ return f->io->read(f, b, n, off, got); }
static inline int os_write(OsFile *f, const void *b, size_t n, uint64_t off)
{ return f->io->write(f, b, n, off); }
static inline int os_sync(OsFile *f) { return f->io->sync(f); }
static inline int os_size(OsFile *f, uint64_t *o) { return f->io->size(f, o); }
static inline int os_truncate(OsFile *f, uint64_t s) { return f->io->truncate(f, s); }
static inline int os_lock(OsFile *f, uint64_t off, uint64_t len, int kind)
{ return f->io->lock(f, off, len, kind); }
static inline int os_close(OsFile *f) { return f ? f->io->close(f) : 0; }

#endif /* BLAZEDB_OS_H */
