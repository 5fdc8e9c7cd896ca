/*
 * fuzz_wal.c — hostile write-ahead logs.  The input describes log frames
 * compactly, 64 bytes each: kind, page number, ctr and the first payload
 * bytes (a commit frame's payload becomes a meta record).  The harness builds
 * full frames with the right salt, the right chain values, salts and frame
 * indexes in commit frames and valid plaintext tags, so recovery's logic
 * beyond the integrity checks is exercised: commit ordering, meta validation,
 * references to pages that do not exist or are not what they claim.
 */
#include "fuzz_common.h"
#include "../src/pager/wal.h"

#define CHUNK 64
#define MAX_FRAMES 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_build(1);
    fz_reset_files();
    MemNode *mainf = memvfs_node(FZ_PATH);
    uint8_t file_id[16];
    memcpy(file_id, mainf->data + 72, 16); /* from header slot A */
    uint64_t salt = 0x1122334455667788ull;
    size_t nframes = size / CHUNK;
    if (nframes > MAX_FRAMES)
        nframes = MAX_FRAMES;
    size_t len = (nframes + 1) * FZ_PAGE;
    uint8_t *wal = calloc(1, len);
    OsFile *f;
    memvfs_set(FZ_WAL, NULL, 0);
    if (memvfs_open(&memvfs, FZ_WAL, OS_OPEN_READWRITE, &f) == 0) {
        wal_write_header(f, FZ_PAGE, file_id, salt);
        f->io->read(f, wal, FZ_PAGE, 0, NULL);
        f->io->close(f);
    }
    uint8_t chain[WAL_CHAIN_LEN];
    wal_chain_init(file_id, salt, chain);
    for (size_t i = 0; i < nframes; i++) {
        const uint8_t *c = data + i * CHUNK;
        uint8_t *img = wal + (i + 1) * FZ_PAGE;
        uint8_t *tr = img + FZ_PAGE - PAGER_TRAILER;
        uint8_t kind = c[0] % 4 == 3 ? c[0] : (c[0] % 2 ? PAGE_KIND_COMMIT : PAGE_KIND_DATA);
        /* ids above the pristine database's (about 490) so that recovery
         * takes the log's commits; small ranges so the fuzzer can make a
         * commit's roots refer to data frames it wrote */
        uint64_t ctr = 1000 + c[5] % 32;
        Pgno pgno = 3 + c[1] % 64;
        memcpy(img, c + 13, CHUNK - 13);
        if (kind == PAGE_KIND_COMMIT) {
            PagerMeta m;
            memset(&m, 0, sizeof m);
            m.txnid = ctr;
            m.npages = 3 + get_le32(c + 13) % 600;
            m.free_pages = c[17];
            for (int r = 0; r < 3; r++) {
                m.roots[r].root.pgno = c[18 + r] % 2 ? 0 : 3 + c[21 + r] % 64;
                m.roots[r].root.ctr = 1000 + c[24 + r] % 32;
                m.roots[r].count = c[27 + r];
            }
            memset(img, 0, FZ_PAGE - PAGER_TRAILER);
            codec_meta_encode(&m, img);
            put_le64(img + WAL_COMMIT_SALT_OFF, c[30] == 0xEE ? salt ^ 1 : salt);
            put_le64(img + WAL_COMMIT_FRAME_OFF, c[31] == 0xEE ? i : i + 1);
            memcpy(img + WAL_COMMIT_CHAIN_OFF, chain, WAL_CHAIN_LEN);
            pgno = 0;
        }
        memset(tr, 0, PAGER_TRAILER);
        put_le64(tr + 28, ctr);
        put_le32(tr + 36, pgno);
        tr[40] = kind;
        put_le32(tr + 44, c[32] == 0xEE ? (uint32_t)salt ^ 1 : (uint32_t)salt);
        fz_fix_plain_tag(img, FZ_PAGE);
        wal_chain_step(chain, img, FZ_PAGE);
    }
    memvfs_set(FZ_WAL, wal, len);
    free(wal);
    fz_exercise(1, NULL);
    return 0;
}
