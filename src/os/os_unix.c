/*
 * os_unix.c — the real OsVfs for Linux/POSIX: pread/pwrite loops, fdatasync,
 * open-file-description byte-range locks, shared mappings, getrandom, the
 * monotonic clock.  Errors come back as errno values; nothing prints.
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    OsFile base;
    int fd;
} UnixFile;

static int fd_of(OsFile *f) { return ((UnixFile *)f)->fd; }

static int u_close(OsFile *f)
{
    int rc = close(fd_of(f)) ? errno : 0;
    free(f);
    return rc == EINTR ? 0 : rc;
}

static int u_read(OsFile *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd_of(f), (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (got)
                *got = done;
            return errno;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    if (done < n)
        memset((char *)buf + done, 0, n - done);
    if (got)
        *got = done;
    return 0;
}

static int u_write(OsFile *f, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd_of(f), (const char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return EIO;
        done += (size_t)r;
    }
    return 0;
}

static int u_sync(OsFile *f)
{
    while (fdatasync(fd_of(f)) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

static int u_size(OsFile *f, uint64_t *out)
{
    struct stat st;
    if (fstat(fd_of(f), &st) != 0)
        return errno;
    *out = (uint64_t)st.st_size;
    return 0;
}

static int u_truncate(OsFile *f, uint64_t size)
{
    while (ftruncate(fd_of(f), (off_t)size) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

static int u_lock(OsFile *f, uint64_t off, uint64_t len, int kind)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = kind == OS_LOCK_UNLOCK ? F_UNLCK : kind == OS_LOCK_SHARED ? F_RDLCK : F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)off;
    fl.l_len = (off_t)len;
    while (fcntl(fd_of(f), F_OFD_SETLK, &fl) != 0) {
        if (errno == EINTR)
            continue;
        return errno == EACCES || errno == EAGAIN ? EAGAIN : errno;
    }
    return 0;
}

static int u_lock_held(OsFile *f, uint64_t off, uint64_t len, int *held)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)off;
    fl.l_len = (off_t)len;
    if (fcntl(fd_of(f), F_OFD_GETLK, &fl) != 0)
        return errno;
    *held = fl.l_type != F_UNLCK;
    return 0;
}

static int u_map(OsFile *f, size_t len, void **out)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd_of(f), 0);
    if (p == MAP_FAILED)
        return errno;
    *out = p;
    return 0;
}

static int u_unmap(OsFile *f, void *addr, size_t len)
{
    (void)f;
    return munmap(addr, len) != 0 ? errno : 0;
}

static const OsIo unix_io = {u_close, u_read, u_write, u_sync, u_size,
                             u_truncate, u_lock, u_lock_held, u_map, u_unmap};

static int v_open(OsVfs *vfs, const char *path, int flags, OsFile **out)
{
    (void)vfs;
    *out = NULL;
    int of = O_CLOEXEC | ((flags & OS_OPEN_READWRITE) ? O_RDWR : O_RDONLY);
    if (flags & OS_OPEN_CREATE)
        of |= O_CREAT;
    if (flags & OS_OPEN_EXCL)
        of |= O_EXCL;
    int fd;
    do
        fd = open(path, of, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno;
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR
                                : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (e) {
        close(fd);
        return e;
    }
    UnixFile *u = calloc(1, sizeof *u);
    if (!u) {
        close(fd);
        return ENOMEM;
    }
    u->base.io = &unix_io;
    u->fd = fd;
    *out = &u->base;
    return 0;
}

static int v_remove(OsVfs *vfs, const char *path)
{
    (void)vfs;
    return unlink(path) != 0 ? errno : 0;
}

static int v_exists(OsVfs *vfs, const char *path)
{
    (void)vfs;
    return access(path, F_OK) != 0 ? errno : 0;
}

static int v_sync_dir(OsVfs *vfs, const char *path)
{
    (void)vfs;
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return ENAMETOOLONG;
    strcpy(buf, path);
    const char *dir = dirname(buf);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) != 0 ? errno : 0;
    close(fd);
    return rc == EINVAL ? 0 : rc; /* some file systems cannot sync directories */
}

static int v_random(OsVfs *vfs, void *buf, size_t n)
{
    (void)vfs;
    size_t done = 0;
    while (done < n) {
        ssize_t r = getrandom((char *)buf + done, n - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        done += (size_t)r;
    }
    return 0;
}

static uint64_t v_now_us(OsVfs *vfs)
{
    (void)vfs;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void v_sleep_us(OsVfs *vfs, uint64_t us)
{
    (void)vfs;
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int v_link(OsVfs *vfs, const char *from, const char *to)
{
    (void)vfs;
    return link(from, to) != 0 ? errno : 0;
}

static OsVfs unix_vfs = {"unix", v_open, v_remove, v_exists, v_sync_dir,
                         v_random, v_now_us, v_sleep_us, v_link, NULL};
static OsVfs *default_vfs = &unix_vfs;

OsVfs *os_unix_vfs(void) { return &unix_vfs; }
OsVfs *os_default_vfs(void) { return default_vfs; }
void os_set_default_vfs(OsVfs *vfs) { default_vfs = vfs ? vfs : &unix_vfs; }
