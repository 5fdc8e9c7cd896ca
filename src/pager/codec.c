/*
 * codec.c — page image sealing/opening and meta encoding.  See codec.h.
 */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#define T_NONCE 0
#define T_TAG 12
#define T_CTR 28
#define T_PGNO 36
#define T_KIND 40
#define T_EPOCH 41
#define T_SALT 44
#define T_AD_LEN 13

static const uint8_t META_MAGIC[8] = {'B', 'D', 'B', 'M', 'E', 'T', 'A', '1'};

void codec_read_trailer(const uint8_t *img, size_t page_size, PageTrailer *t)
{
    const uint8_t *tr = img + page_size - PAGER_TRAILER;
    t->ctr = get_le64(tr + T_CTR);
    t->pgno = get_le32(tr + T_PGNO);
    t->kind = tr[T_KIND];
    t->salt32 = get_le32(tr + T_SALT);
    t->epoch = tr[T_EPOCH];
}

/* ---- keyring ------------------------------------------------------------------- */

int codec_keys_add(CodecKeys *k, uint32_t epoch, const uint8_t *dk)
{
    unsigned s = epoch % CODEC_KEY_SLOTS;
    CryptoAead *old = atomic_load(&k->aead[s]);
    if (old && atomic_load(&k->epoch[s]) == epoch)
        return 0;
    CryptoAead *a;
    if (dk) {
        uint8_t pk[CRYPTO_KEY_LEN];
        if (crypto_hkdf(dk, CRYPTO_KEY_LEN, "blazedb page key v1", pk, sizeof pk))
            return -1;
        a = crypto_aead_new(pk);
        crypto_wipe(pk, sizeof pk);
    } else {
        a = crypto_aead_new_plain();
    }
    if (!a)
        return -1;
    if (old) {
        CryptoAead **r = realloc(k->retired, (k->nretired + 1) * sizeof *r);
        if (!r) {
            crypto_aead_free(a);
            return -1;
        }
        k->retired = r;
        r[k->nretired++] = old;
    }
    int first = 1;
    for (unsigned i = 0; i < CODEC_KEY_SLOTS; i++)
        if (atomic_load(&k->aead[i]))
            first = 0;
    /* a reader pairing the new epoch with the old key (or the reverse)
     * fails authentication, never decrypts wrongly */
    atomic_store(&k->epoch[s], epoch);
    atomic_store(&k->aead[s], a);
    if (first)
        atomic_store(&k->write_epoch, epoch);
    return 0;
}

void codec_keys_set_write(CodecKeys *k, uint32_t epoch) { atomic_store(&k->write_epoch, epoch); }

uint32_t codec_keys_write_epoch(const CodecKeys *k)
{
    return atomic_load(&((CodecKeys *)k)->write_epoch);
}

void codec_keys_free(CodecKeys *k)
{
    for (unsigned i = 0; i < CODEC_KEY_SLOTS; i++) {
        crypto_aead_free(atomic_load(&k->aead[i]));
        atomic_store(&k->aead[i], NULL);
    }
    for (size_t i = 0; i < k->nretired; i++)
        crypto_aead_free(k->retired[i]);
    free(k->retired);
    k->retired = NULL;
    k->nretired = 0;
}

/* The key for a trailer's epoch byte, or NULL. */
static CryptoAead *key_for(const CodecKeys *k, uint8_t e)
{
    CodecKeys *m = (CodecKeys *)k;
    for (unsigned i = 0; i < CODEC_KEY_SLOTS; i++) {
        unsigned s = (e + i) % CODEC_KEY_SLOTS;
        CryptoAead *a = atomic_load(&m->aead[s]);
        if (a && (uint8_t)atomic_load(&m->epoch[s]) == e)
            return a;
    }
    return NULL;
}

/* ---- pages ---------------------------------------------------------------------- */

int codec_seal(CodecKeys *k, const uint8_t *payload, uint8_t *img,
               size_t page_size, const PageTrailer *t)
{
    size_t plen = page_size - PAGER_TRAILER;
    uint8_t *tr = img + plen;
    memset(tr, 0, PAGER_TRAILER);
    put_le64(tr + T_CTR, t->ctr);
    put_le32(tr + T_PGNO, t->pgno);
    tr[T_KIND] = t->kind;
    put_le32(tr + T_SALT, t->salt32);
    uint32_t we = atomic_load(&k->write_epoch);
    tr[T_EPOCH] = (uint8_t)we;
    CryptoAead *a = atomic_load(&k->aead[we % CODEC_KEY_SLOTS]);
    if (!a)
        return -1;
    if (!crypto_aead_is_plain(a) && crypto_nonce(tr + T_NONCE))
        return -1;
    if (crypto_aead_seal(a, tr + T_NONCE, tr + T_CTR, T_AD_LEN, payload, plen,
                         img, tr + T_TAG))
        return -1;
    return 0;
}

int codec_open(const CodecKeys *k, const uint8_t *img, uint8_t *payload,
               size_t page_size, Pgno pgno, uint64_t ctr, uint8_t kind)
{
    size_t plen = page_size - PAGER_TRAILER;
    const uint8_t *tr = img + plen;
    if (get_le32(tr + T_PGNO) != pgno || tr[T_KIND] != kind)
        return -1;
    if (ctr != 0 && get_le64(tr + T_CTR) != ctr)
        return -1;
    CryptoAead *a = key_for(k, tr[T_EPOCH]);
    if (!a)
        return CODEC_NOKEY;
    /* copy the trailer first: payload may alias img */
    uint8_t trc[PAGER_TRAILER];
    memcpy(trc, tr, sizeof trc);
    if (crypto_aead_open(a, trc + T_NONCE, trc + T_CTR, T_AD_LEN, img, plen,
                         payload, trc + T_TAG))
        return -1;
    return 0;
}

void codec_meta_encode(const PagerMeta *m, uint8_t out[CODEC_META_SIZE])
{
    memset(out, 0, CODEC_META_SIZE);
    memcpy(out, META_MAGIC, 8);
    put_le64(out + 8, m->txnid);
    put_le32(out + 16, m->npages);
    put_le64(out + 24, m->free_pages);
    uint8_t *r = out + 32;
    for (int i = 0; i < PAGER_NROOTS; i++, r += 24) {
        put_le32(r, m->roots[i].root.pgno);
        put_le64(r + 8, m->roots[i].root.ctr);
        put_le64(r + 16, m->roots[i].count);
    }
}

int codec_meta_decode(const uint8_t in[CODEC_META_SIZE], PagerMeta *m)
{
    if (memcmp(in, META_MAGIC, 8) != 0)
        return -1;
    memset(m, 0, sizeof *m);
    m->txnid = get_le64(in + 8);
    m->npages = get_le32(in + 16);
    m->free_pages = get_le64(in + 24);
    if (m->npages < PAGER_FIRST_DATA_PGNO || m->npages > PAGER_MAX_PGNO)
        return -1;
    const uint8_t *r = in + 32;
    for (int i = 0; i < PAGER_NROOTS; i++, r += 24) {
        m->roots[i].root.pgno = get_le32(r);
        m->roots[i].root.ctr = get_le64(r + 8);
        m->roots[i].count = get_le64(r + 16);
        Pgno pg = m->roots[i].root.pgno;
        if (pg != 0 && (pg < PAGER_FIRST_DATA_PGNO || pg >= m->npages))
            return -1;
        if (pg != 0 && m->roots[i].root.ctr > m->txnid)
            return -1;
    }
    return 0;
}
