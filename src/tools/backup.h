/*
 * backup.h — internal entry points of the backup module (src/tools/backup.c)
 * for tests: the same calls as the public blazedb_restore and
 * blazedb_backup_verify, with an explicit vfs (e.g. an os_fault vfs that
 * simulates power loss) for every file they write.
 *
 * The public API is in include/blazedb.h ("Backup and restore"); the file
 * format in docs/FILE_FORMAT.md ("Backup files").
 */
#ifndef BLAZEDB_BACKUP_H
#define BLAZEDB_BACKUP_H

#include <stddef.h>

#include "blazedb.h"
#include "../os/os.h"

/* blazedb_restore through `vfs` (NULL = os_default_vfs()).  The final
 * rename is rename(2) (the vfs has no rename; see the top of backup.c). */
BlazeDBResult backup_restore_vfs(const char *const *paths, size_t n,
                                 const char *password, const char *target_path,
                                 const BlazeDBRestoreOptions *opts, OsVfs *vfs);

/* Size in bytes of the fixed parts of a backup file, for tests that walk
 * its structure: header, chunk header (before the ciphertext), chunk tag,
 * trailer. */
#define BACKUP_HEADER_SIZE 512u
#define BACKUP_CHUNK_HEADER_SIZE 36u
#define BACKUP_CHUNK_TAG_SIZE 16u
#define BACKUP_TRAILER_SIZE 388u

#endif /* BLAZEDB_BACKUP_H */
