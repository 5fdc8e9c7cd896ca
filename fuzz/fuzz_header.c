/*
 * fuzz_header.c — hostile file headers.  The input replaces the first bytes
 * of page 0 of an encrypted database; with the first input byte odd, the
 * harness rewrites the KDF fields of any slot that carries the magic to a
 * cheap PBKDF2 and recomputes its checksum, so the fuzzer gets past the
 * checksum into the unwrap and open logic.  Any result code is fine; a
 * crash, hang, leak or sanitizer report is not.
 */
#include "fuzz_common.h"
#include "../src/pager/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_build(0);
    fz_reset_files();
    if (size < 1)
        return 0;
    MemNode *n = memvfs_node(FZ_PATH);
    size_t len = size - 1 > 1024 ? 1024 : size - 1;
    memcpy(n->data, data + 1, len);
    if (data[0] & 1) {
        for (size_t off = 0; off <= HEADER_SLOT_B_OFFSET; off += HEADER_SLOT_B_OFFSET) {
            uint8_t *s = n->data + off;
            if (memcmp(s, "BlazeDB format 1", 16) != 0)
                continue;
            put_le32(s + 28, CRYPTO_KDF_PBKDF2_SHA256);
            put_le32(s + 32, 1 + (s[32] & 3));
            crypto_sha256(s, 224, s + 224);
        }
    }
    if (data[0] & 2)
        n->size = len + 1 > n->size ? n->size : len + 1; /* truncated file */
    fz_exercise((data[0] & 4) != 0, "pw");
    return 0;
}
