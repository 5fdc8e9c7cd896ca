/*
 * btree_page.h — the on-page layout of B+tree nodes (documented at the top
 * of btree.c) and read-only accessors for it: shared by btree.c and
 * freelist.c, and by the maintenance tools that read raw page images
 * (tools/check.c: the integrity check walks pages without the cache, and
 * repair reads pages of a damaged file).  Writers stay in btree.c.
 */
#ifndef BLAZEDB_BTREE_PAGE_H
#define BLAZEDB_BTREE_PAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "btree.h"
#include "../os/endian.h"
#include "../pager/pager.h"

#define BT_LEAF 1
#define BT_BRANCH 2
#define BT_OVERFLOW 3

#define LEAF_HDR 12
#define BRANCH_HDR 24
#define LCELL_HDR 7         /* u16 klen, u8 flags, u32 vlen */
#define LCELL_OVF 0x01
#define REF_SIZE 12         /* u32 pgno, u64 ctr */
#define BCELL_HDR 14        /* u16 klen, u32 pgno, u64 ctr */
#define OVF_HDR 20

/* Largest value that is stored inline (in the leaf cell, no overflow chain)
 * next to a key of `klen` bytes, for this pager's page size. */
size_t btree_inline_max_value(const Pager *p, size_t klen);

/* ---- little-endian fields --------------------------------------------- */

static inline uint16_t rd16(const uint8_t *p) { return get_le16(p); }
static inline uint32_t rd32(const uint8_t *p) { return get_le32(p); }
static inline uint64_t rd64(const uint8_t *p) { return get_le64(p); }

static inline PageRef mkref(Pgno pgno, uint64_t ctr)
{
    PageRef r;
    r.pgno = pgno;
    r.reserved = 0;
    r.ctr = ctr;
    return r;
}
static inline PageRef rd_ref(const uint8_t *p) { return mkref(rd32(p), rd64(p + 4)); }

/* The key order of every tree: memcmp, shorter first on a common prefix. */
static inline int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return al < bl ? -1 : al > bl;
}

/* ---- nodes --------------------------------------------------------------- */

static inline size_t hdr_size(const uint8_t *d) { return d[0] == BT_BRANCH ? BRANCH_HDR : LEAF_HDR; }
static inline unsigned nkeys(const uint8_t *d) { return rd16(d + 2); }
static inline size_t cell_off(const uint8_t *d, unsigned i)
{
    return rd16(d + hdr_size(d) + 2 * (size_t)i);
}
static inline const uint8_t *cell_at(const uint8_t *d, unsigned i) { return d + cell_off(d, i); }

static inline size_t cell_len(int type, const uint8_t *c)
{
    size_t kl = rd16(c);
    if (type == BT_BRANCH)
        return BCELL_HDR + kl;
    if (c[2] & LCELL_OVF)
        return LCELL_HDR + kl + REF_SIZE;
    return LCELL_HDR + kl + rd32(c + 3);
}

static inline const uint8_t *cell_key(int type, const uint8_t *c, size_t *klen)
{
    *klen = rd16(c);
    return c + (type == BT_BRANCH ? BCELL_HDR : LCELL_HDR);
}

/* Child i of a branch (0..nkeys): the leftmost in the header, then one
 * after each separator. */
static inline PageRef branch_child(const uint8_t *d, unsigned i)
{
    if (i == 0)
        return rd_ref(d + 12);
    return rd_ref(cell_at(d, i - 1) + 2);
}

/* Cheap structural validation of a leaf/branch page of P payload bytes:
 * afterwards every slot and cell can be read without leaving the page. */
static inline int node_ok(const uint8_t *d, size_t P)
{
    int type = d[0];
    if (type != BT_LEAF && type != BT_BRANCH)
        return 0;
    size_t hdr = hdr_size(d), n = nkeys(d), cs = rd16(d + 4), frag = rd16(d + 6);
    if (hdr + 2 * n > cs || cs > P || frag > P - cs)
        return 0;
    size_t ch = type == BT_BRANCH ? BCELL_HDR : LCELL_HDR;
    for (size_t i = 0; i < n; i++) {
        size_t off = rd16(d + hdr + 2 * i);
        if (off < cs || off + ch > P)
            return 0;
        const uint8_t *c = d + off;
        if (rd16(c) == 0 || rd16(c) > BTREE_MAX_KEY)
            return 0;
        if (type == BT_LEAF && !(c[2] & LCELL_OVF) && rd32(c + 3) > P)
            return 0;
        if (cell_len(type, c) > P - off)
            return 0;
    }
    return 1;
}

#endif /* BLAZEDB_BTREE_PAGE_H */
