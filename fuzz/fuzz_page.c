/*
 * fuzz_page.c — hostile B-tree pages.  In a plaintext database a page is
 * protected by a checksum only, which an attacker can recompute, so the
 * B-tree decoder must survive any payload.  Input byte 0 picks a page of the
 * pristine database; the rest becomes that page's payload (the harness
 * fixes the integrity tag).  Then the database is opened, checked, scanned
 * and written to.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_build(1);
    fz_reset_files();
    if (size < 2)
        return 0;
    MemNode *n = memvfs_node(FZ_PATH);
    size_t npages = n->size / FZ_PAGE;
    if (npages <= PAGER_FIRST_DATA_PGNO)
        return 0;
    size_t pg = PAGER_FIRST_DATA_PGNO + data[0] % (npages - PAGER_FIRST_DATA_PGNO);
    uint8_t *img = n->data + pg * FZ_PAGE;
    size_t payload = FZ_PAGE - PAGER_TRAILER;
    size_t len = size - 1 > payload ? payload : size - 1;
    if (data[1] & 0x80) {
        memcpy(img, data + 1, len); /* replace the beginning, keep the rest */
    } else {
        memset(img, 0, payload);
        memcpy(img, data + 1, len);
    }
    fz_fix_plain_tag(img, FZ_PAGE);
    fz_exercise(1, NULL);
    return 0;
}
