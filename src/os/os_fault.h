/*
 * os_fault.h — a vfs that wraps another and injects failures (tests only).
 *
 * Two kinds of failure:
 *   1. I/O errors: make the Nth read/write/sync/open/truncate/size (counted from
 *      the call that arms it) fail with a chosen errno, once or from then on.
 *   2. Power loss: every write that has not been synced is lost.  The fault
 *      vfs remembers, per file path, the bytes each unsynced write replaced
 *      and the file size at the last sync; on power loss it restores them in
 *      the real files (optionally "tearing" the last write: keeping a prefix
 *      of it, in 512-byte sectors), then fails all further I/O of every file
 *      it opened with EIO, as if the machine had stopped.  The test then
 *      closes the handle and reopens the files through the real vfs.
 *
 * All state is shared by every file opened through the same OsFault, and is
 * keyed by path so several handles on one file see one history.
 * Thread-safe (one mutex).  With OSFAULT_TRACE set in the environment
 * every write, sync and truncate is traced on stderr (debugging aid).
 */
#ifndef BLAZEDB_OS_FAULT_H
#define BLAZEDB_OS_FAULT_H

#include "os.h"

typedef struct OsFault OsFault;

/* Operation kinds (bit flags). */
#define OS_FAULT_READ     0x01u
#define OS_FAULT_WRITE    0x02u
#define OS_FAULT_SYNC     0x04u
#define OS_FAULT_OPEN     0x08u
#define OS_FAULT_TRUNCATE 0x10u
#define OS_FAULT_ALL      0x1Fu /* the five above */
/* Asking a file's size: counted, and failed only when armed by name (not
 * part of OS_FAULT_ALL, so sweeps over ALL keep their numbering). */
#define OS_FAULT_SIZE     0x20u

/* Wraps `base` (NULL: os_unix_vfs()).  Free after every file is closed. */
OsFault *os_fault_new(OsVfs *base);
void os_fault_free(OsFault *f);
OsVfs *os_fault_vfs(OsFault *f);

/* Number of operations of `kinds` seen since creation. */
uint64_t os_fault_count(OsFault *f, unsigned kinds);

/* The `nth` (1 = the next one) operation of any of `kinds` fails with `err`
 * (e.g. EIO, ENOSPC).  persistent != 0: that one and all later ones of those
 * kinds fail.  Replaces any earlier arming.  nth = 0 disarms. */
void os_fault_fail(OsFault *f, unsigned kinds, uint64_t nth, int err,
                   int persistent);

/* At the `nth` sync from now (1 = the next one), power is lost instead of
 * syncing: the sync returns EIO and see above.  tear != 0 keeps a random
 * sector-aligned prefix of the most recent unsynced write (seeded by tear). */
void os_fault_powerloss_at_sync(OsFault *f, uint64_t nth, unsigned tear);
/* Loses power now. */
void os_fault_powerloss_now(OsFault *f, unsigned tear);
/* Has power been lost? */
int os_fault_crashed(OsFault *f);

#endif /* BLAZEDB_OS_FAULT_H */
