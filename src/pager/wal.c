/*
 * wal.c — log header, frame index and recovery scan.  See wal.h.
 */
#include "wal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const uint8_t WAL_MAGIC[8] = {'B', 'D', 'B', 'W', 'A', 'L', '0', '1'};
#define WAL_VERSION 1u
#define WAL_HDR_SUM 40

/* ---- index ---------------------------------------------------------------- */

void wal_index_init(WalIndex *w) { memset(w, 0, sizeof *w); }

void wal_index_free(WalIndex *w)
{
    free(w->keys);
    free(w->vals);
    memset(w, 0, sizeof *w);
}

void wal_index_clear(WalIndex *w)
{
    if (w->cap) {
        memset(w->keys, 0, w->cap * sizeof *w->keys);
    }
    w->n = 0;
}

static size_t slot_of(Pgno pgno, size_t cap)
{
    return (size_t)(pgno * 2654435761u) & (cap - 1);
}

static int grow(WalIndex *w)
{
    size_t ncap = w->cap ? w->cap * 2 : 1024;
    uint32_t *nk = calloc(ncap, sizeof *nk), *nv = malloc(ncap * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (size_t i = 0; i < w->cap; i++) {
        if (!w->keys[i])
            continue;
        size_t j = slot_of(w->keys[i], ncap);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = w->keys[i];
        nv[j] = w->vals[i];
    }
    free(w->keys);
    free(w->vals);
    w->keys = nk;
    w->vals = nv;
    w->cap = ncap;
    return 0;
}

int wal_index_put(WalIndex *w, Pgno pgno, uint32_t frame)
{
    if ((w->n + 1) * 2 > w->cap && grow(w))
        return -1;
    size_t j = slot_of(pgno, w->cap);
    while (w->keys[j] && w->keys[j] != pgno)
        j = (j + 1) & (w->cap - 1);
    if (!w->keys[j]) {
        w->keys[j] = pgno;
        w->n++;
    }
    w->vals[j] = frame;
    return 0;
}

uint32_t wal_index_get(const WalIndex *w, Pgno pgno)
{
    if (!w->n)
        return 0;
    size_t j = slot_of(pgno, w->cap);
    while (w->keys[j]) {
        if (w->keys[j] == pgno)
            return w->vals[j];
        j = (j + 1) & (w->cap - 1);
    }
    return 0;
}

/* ---- header and chain ------------------------------------------------------ */

int wal_write_header(OsFile *f, size_t page_size, const uint8_t file_id[16],
                     uint64_t salt)
{
    uint8_t h[64];
    memset(h, 0, sizeof h);
    memcpy(h, WAL_MAGIC, 8);
    put_le32(h + 8, WAL_VERSION);
    put_le32(h + 12, (uint32_t)page_size);
    memcpy(h + 16, file_id, 16);
    put_le64(h + 32, salt);
    uint8_t sum[32];
    crypto_sha256(h, WAL_HDR_SUM, sum);
    memcpy(h + WAL_HDR_SUM, sum, 8);
    return os_write(f, h, sizeof h, 0);
}

int wal_read_header(OsFile *f, size_t page_size, const uint8_t file_id[16],
                    uint64_t *salt)
{
    uint8_t h[64];
    size_t got = 0;
    int e = os_read(f, h, sizeof h, 0, &got);
    if (e)
        return e > 1 ? e : EIO;
    if (got < sizeof h || memcmp(h, WAL_MAGIC, 8) != 0)
        return 1;
    uint8_t sum[32];
    crypto_sha256(h, WAL_HDR_SUM, sum);
    if (memcmp(sum, h + WAL_HDR_SUM, 8) != 0 || get_le32(h + 8) != WAL_VERSION ||
        get_le32(h + 12) != page_size || memcmp(h + 16, file_id, 16) != 0)
        return 1;
    *salt = get_le64(h + 32);
    return 0;
}

void wal_chain_init(const uint8_t file_id[16], uint64_t salt,
                    uint8_t chain[WAL_CHAIN_LEN])
{
    uint8_t b[24];
    memcpy(b, file_id, 16);
    put_le64(b + 16, salt);
    crypto_sha256(b, sizeof b, chain);
}

void wal_chain_step(uint8_t chain[WAL_CHAIN_LEN], const uint8_t *img,
                    size_t page_size)
{
    uint8_t b[WAL_CHAIN_LEN + PAGER_TRAILER];
    memcpy(b, chain, WAL_CHAIN_LEN);
    memcpy(b + WAL_CHAIN_LEN, img + page_size - PAGER_TRAILER, PAGER_TRAILER);
    crypto_sha256(b, sizeof b, chain);
}

/* ---- recovery ---------------------------------------------------------------- */

#define SCAN_CHUNK 64 /* frames per read */

int wal_recover(OsFile *f, const CodecKeys *keys, size_t page_size,
                const uint8_t file_id[16], uint64_t salt, WalIndex *idx,
                WalRecovery *out)
{
    memset(out, 0, sizeof *out);
    wal_index_clear(idx);
    uint64_t size = 0;
    int e = os_size(f, &size);
    if (e)
        return e;
    uint64_t nframes = size / page_size;
    if (nframes > 0)
        nframes--; /* the header page */
    if (nframes > 0xFFFFFFF0u)
        nframes = 0xFFFFFFF0u;

    uint8_t chain[WAL_CHAIN_LEN];
    wal_chain_init(file_id, salt, chain);
    memcpy(out->chain, chain, WAL_CHAIN_LEN);

    /* pending data frames of the commit being read */
    Pgno *pend = NULL;
    uint32_t *pendf = NULL;
    size_t npend = 0, cpend = 0;
    uint8_t *buf = malloc(page_size * SCAN_CHUNK);
    uint8_t *payload = malloc(page_size);
    int rc = 0;
    if (!buf || !payload) {
        rc = ENOMEM;
        goto done;
    }
    for (uint64_t base = 1; base <= nframes; base += SCAN_CHUNK) {
        uint64_t n = nframes - base + 1;
        if (n > SCAN_CHUNK)
            n = SCAN_CHUNK;
        if ((e = os_read(f, buf, n * page_size, base * page_size, NULL))) {
            rc = e;
            goto done;
        }
        for (uint64_t k = 0; k < n; k++) {
            uint32_t frame = (uint32_t)(base + k);
            const uint8_t *img = buf + k * page_size;
            PageTrailer t;
            codec_read_trailer(img, page_size, &t);
            if (t.salt32 != (uint32_t)salt)
                goto done;
            if (t.kind == PAGE_KIND_DATA) {
                if (t.pgno < PAGER_FIRST_DATA_PGNO || t.pgno > PAGER_MAX_PGNO)
                    goto done;
                if (npend == cpend) {
                    size_t nc = cpend ? cpend * 2 : 256;
                    Pgno *np = realloc(pend, nc * sizeof *np);
                    if (!np) { rc = ENOMEM; goto done; }
                    pend = np;
                    uint32_t *nf = realloc(pendf, nc * sizeof *nf);
                    if (!nf) { rc = ENOMEM; goto done; }
                    pendf = nf;
                    cpend = nc;
                }
                pend[npend] = t.pgno;
                pendf[npend++] = frame;
                wal_chain_step(chain, img, page_size);
                continue;
            }
            if (t.kind != PAGE_KIND_COMMIT || t.pgno != 0)
                goto done;
            if (codec_open(keys, img, payload, page_size, 0, t.ctr, PAGE_KIND_COMMIT))
                goto done;
            PagerMeta m;
            if (codec_meta_decode(payload, &m) || m.txnid != t.ctr ||
                get_le64(payload + WAL_COMMIT_SALT_OFF) != salt ||
                get_le64(payload + WAL_COMMIT_FRAME_OFF) != frame ||
                memcmp(payload + WAL_COMMIT_CHAIN_OFF, chain, WAL_CHAIN_LEN) != 0)
                goto done;
            if (out->have_meta && m.txnid <= out->meta.txnid)
                goto done; /* commits only move forward */
            for (size_t i = 0; i < npend; i++)
                if (wal_index_put(idx, pend[i], pendf[i])) {
                    rc = ENOMEM;
                    goto done;
                }
            npend = 0;
            wal_chain_step(chain, img, page_size);
            out->frames = frame;
            out->have_meta = 1;
            out->meta = m;
            memcpy(out->chain, chain, WAL_CHAIN_LEN);
        }
    }
done:
    free(pend);
    free(pendf);
    free(buf);
    free(payload);
    return rc;
}

int wal_catch_up(OsFile *f, size_t page_size, uint64_t salt, WalIndex *idx,
                 uint32_t from, uint32_t to)
{
    uint8_t tr[PAGER_TRAILER];
    for (uint32_t fr = from + 1; fr <= to; fr++) {
        uint64_t off = (uint64_t)fr * page_size + page_size - PAGER_TRAILER;
        int e = os_read(f, tr, sizeof tr, off, NULL);
        if (e)
            return e;
        PageTrailer t;
        codec_read_trailer(tr, PAGER_TRAILER, &t);
        if (t.salt32 != (uint32_t)salt)
            return -1;
        if (t.kind == PAGE_KIND_DATA && wal_index_put(idx, t.pgno, fr))
            return ENOMEM;
    }
    return 0;
}
