/*
 * btree.c — copy-on-write B+trees over pager pages: lookups, insert/replace/
 * delete with split, merge and borrow, overflow chains for large values,
 * cursors, drop and the structural check.
 *
 * It knows pages, not files, transactions' durability, SQL or documents.  It
 * never writes a committed page: before changing a page it asks the pager for
 * a writable copy (pager_dirty) and rewrites the PageRef that points at it in
 * the (already writable) parent, up to root->root.  There are no sibling
 * pointers (copy-on-write makes them impossible); cursors keep the path.
 *
 * PAGE LAYOUT (payload = pager_payload_size() = page size - 48 bytes; page
 * sizes 4096..65536, so every in-page offset fits a u16).  All integers are
 * little-endian, fixed width, unaligned.
 *
 *   Leaf (type 1) and branch (type 2) pages, slotted:
 *     off  size
 *      0    u8   type            1 = leaf, 2 = branch
 *      1    u8   flags           0
 *      2    u16  nkeys           number of cells
 *      4    u16  cell_start      offset of the lowest cell byte (= payload
 *                                when there is no cell)
 *      6    u16  frag            free bytes inside [cell_start, payload) that
 *                                belong to no cell (left by deletions)
 *      8    u32  reserved        0
 *     branch only:
 *     12    u32  leftmost child pgno
 *     16    u64  leftmost child ctr
 *     then (at 12 for a leaf, 24 for a branch) the slot array: nkeys u16 cell
 *     offsets, in key order.  Cells fill the page downwards from the end;
 *     the gap between the slot array and cell_start is free.  Invariant:
 *     sum(cell sizes) + frag == payload - cell_start.
 *
 *   Leaf cell:   u16 klen, u8 flags, u32 vlen, key[klen], then
 *                  flags & 1 == 0: the value, vlen bytes (inline);
 *                  flags & 1 == 1: overflow reference {u32 pgno, u64 ctr} of
 *                                  the chain's first page (vlen = total).
 *   Branch cell: u16 klen, u32 child pgno, u64 child ctr, key[klen].
 *
 *   A branch with n keys has n + 1 children: child 0 is the leftmost (in the
 *   header), child i+1 is the one stored in cell i.  Keys k in child i satisfy
 *   key[i-1] <= k < key[i].  Branch keys are separators: the shortest prefix
 *   of the first key of the right page that is greater than the last key of
 *   the left page (so they need not exist in any leaf).
 *
 *   Overflow page (type 3), written once, never modified in place:
 *      0  u8 type = 3, 1 u8 flags = 0, 2 u16 reserved = 0,
 *      4  u32 used        data bytes in this page (1..payload-20; every
 *                         page but the last of a chain is full)
 *      8  u32 next pgno   0 on the last page
 *     12  u64 next ctr
 *     20  data[used]
 *
 *   A value is inline when its leaf cell plus slot is at most a quarter of
 *   (payload - 12) bytes, or when it is at most 12 bytes; otherwise it goes to
 *   an overflow chain.  btree_max_key() keeps two largest cells per leaf and
 *   three largest separators per branch: 2048 for 8 KiB pages and up, 1325
 *   for 4 KiB pages.  With those bounds any over-full node splits into two
 *   nodes that fit.
 *
 *   An empty tree has root.pgno == 0.  Every other page has nkeys >= 1; every
 *   leaf is at the same depth.  Splits cut by bytes, as evenly as possible,
 *   except an append at the right edge of the tree, which leaves the full
 *   page as it is and starts a new one (ascending keys fill pages ~100%).
 *   Nodes that lose bytes and fall below a quarter full are merged with a
 *   sibling, or share its cells; a root branch left with one child is
 *   replaced by that child.
 *
 * Cursors keep their path pinned between calls.  In a write transaction the
 * tree may change under them (pager_txn_change_seq moves; the pager must bump
 * it on every pager_dirty call, also for an already-dirty page); they then
 * re-seek to a copy of their current key, and unpin the old path, whose
 * pages may by then be freed.
 *
 * After an error from btree_put/btree_delete/btree_drop the tree may be
 * half-modified: the caller must abort the transaction.  Pins and memory are
 * always released.
 */
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "btree.h"
#include "btree_page.h"

/* Deepest tree we accept (a deeper one is reported as corrupt). */
#define BT_MAXD 40

/* ---- little-endian helpers -------------------------------------------- */

static void wr16(uint8_t *p, size_t v) { put_le16(p, (uint16_t)v); }
static void wr32(uint8_t *p, uint32_t v) { put_le32(p, v); }
static void wr64(uint8_t *p, uint64_t v) { put_le64(p, v); }

static PageRef page_ref(const Page *pg) { return mkref(pg->pgno, pg->ctr); }
static void wr_ref(uint8_t *p, PageRef r)
{
    wr32(p, r.pgno);
    wr64(p + 4, r.ctr);
}

static int corrupt(PagerTxn *t, const char *what, Pgno pgno)
{
    return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                       "btree: page %u: %s", (unsigned)pgno, what);
}

static int nomem(PagerTxn *t)
{
    return pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "btree: out of memory");
}

/* ---- limits -------------------------------------------------------------- */

size_t btree_max_key(const Pager *p)
{
    size_t P = pager_payload_size(p);
    size_t a = (P - LEAF_HDR) / 2 - (LCELL_HDR + REF_SIZE + 2);
    size_t b = (P - BRANCH_HDR) / 3 - (BCELL_HDR + 2);
    size_t m = a < b ? a : b;
    return m < BTREE_MAX_KEY ? m : BTREE_MAX_KEY;
}

size_t btree_inline_max_value(const Pager *p, size_t klen)
{
    size_t lim = (pager_payload_size(p) - LEAF_HDR) / 4;
    size_t over = LCELL_HDR + klen + 2;
    size_t v = lim > over ? lim - over : 0;
    return v > REF_SIZE ? v : REF_SIZE;
}

/* ---- node accessors -------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} Cell;





static void branch_set_child(uint8_t *d, unsigned i, PageRef r)
{
    if (i == 0)
        wr_ref(d + 12, r);
    else
        wr_ref(d + cell_off(d, i - 1) + 2, r);
}

/* Free bytes (contiguous gap plus fragments). */
static size_t node_free(const uint8_t *d)
{
    return rd16(d + 4) - (hdr_size(d) + 2 * (size_t)nkeys(d)) + rd16(d + 6);
}

/* Bytes used by cells and slots. */
static size_t node_used(const uint8_t *d, size_t P)
{
    return P - hdr_size(d) - node_free(d);
}


static void node_init(uint8_t *d, size_t P, int type)
{
    memset(d, 0, P);
    d[0] = (uint8_t)type;
    wr16(d + 4, P);
}

/* Writes a fresh node holding `cells` into `out` (the caller checked that
 * they fit). */
static void node_build(uint8_t *out, size_t P, int type, const Cell *cells,
                       unsigned n, PageRef leftmost)
{
    size_t hdr = type == BT_BRANCH ? BRANCH_HDR : LEAF_HDR;
    size_t pos = P;
    memset(out, 0, hdr);
    out[0] = (uint8_t)type;
    if (type == BT_BRANCH)
        wr_ref(out + 12, leftmost);
    for (unsigned i = 0; i < n; i++) {
        pos -= cells[i].n;
        memcpy(out + pos, cells[i].p, cells[i].n);
        wr16(out + hdr + 2 * (size_t)i, pos);
    }
    wr16(out + 2, n);
    wr16(out + 4, pos);
    wr16(out + 6, 0);
    memset(out + hdr + 2 * (size_t)n, 0, pos - (hdr + 2 * (size_t)n));
}

/* Moves every cell to the end of the page, removing fragmentation. */
static void node_compact(uint8_t *d, size_t P, uint8_t *scratch)
{
    int type = d[0];
    size_t hdr = hdr_size(d), n = nkeys(d), pos = P;
    memcpy(scratch, d, hdr + 2 * n);
    for (size_t i = 0; i < n; i++) {
        size_t off = rd16(d + hdr + 2 * i), len = cell_len(type, d + off);
        pos -= len;
        memcpy(scratch + pos, d + off, len);
        wr16(scratch + hdr + 2 * i, pos);
    }
    wr16(scratch + 4, pos);
    wr16(scratch + 6, 0);
    memset(scratch + hdr + 2 * n, 0, pos - (hdr + 2 * n));
    memcpy(d, scratch, P);
}

/* Inserts a cell at slot i; the caller checked node_free >= len + 2. */
static void node_insert(uint8_t *d, size_t P, unsigned i, const uint8_t *cell,
                        size_t len, uint8_t *scratch)
{
    size_t hdr = hdr_size(d), n = nkeys(d), cs = rd16(d + 4);
    if (cs - (hdr + 2 * n) < len + 2) {
        node_compact(d, P, scratch);
        cs = rd16(d + 4);
    }
    cs -= len;
    memcpy(d + cs, cell, len);
    uint8_t *slots = d + hdr;
    memmove(slots + 2 * ((size_t)i + 1), slots + 2 * (size_t)i, 2 * (n - i));
    wr16(slots + 2 * (size_t)i, cs);
    wr16(d + 2, n + 1);
    wr16(d + 4, cs);
}

static void node_remove(uint8_t *d, size_t P, unsigned i)
{
    int type = d[0];
    size_t hdr = hdr_size(d), n = nkeys(d), cs = rd16(d + 4), frag = rd16(d + 6);
    size_t off = cell_off(d, i), len = cell_len(type, d + off);
    if (off == cs)
        cs += len;
    else
        frag += len;
    uint8_t *slots = d + hdr;
    memmove(slots + 2 * (size_t)i, slots + 2 * ((size_t)i + 1), 2 * (n - i - 1));
    n--;
    if (n == 0) {
        cs = P;
        frag = 0;
    }
    wr16(d + 2, n);
    wr16(d + 4, cs);
    wr16(d + 6, frag);
}

/* ---- search hints ---------------------------------------------------------
 *
 * A binary search over a node's slots reads a cell, somewhere in the page,
 * at every probe.  A committed page version never changes, so the first
 * search of a cached version builds a hint beside it (kept and freed by
 * the pager with the version): the length of the prefix all the node's keys
 * share, and for each key the four bytes after that prefix as a big-endian
 * number.  A search then runs over that small array and reads a cell only
 * when the four bytes tie.  Keys that share a long prefix (UUIDv7 ids,
 * index entries of one index) still differ within four bytes of the
 * shared part.  Our own dirty pages change, so they get none. */

typedef struct {
    uint32_t n;             /* nkeys of the version */
    uint32_t lcp;           /* bytes every key of the node starts with */
    int type;               /* BT_LEAF or BT_BRANCH */
    const uint16_t *off;    /* cell offsets, as in the slot array */
    const uint8_t *prefix;  /* the lcp shared bytes */
    uint32_t pfx[];         /* key i's four bytes after lcp, zero-padded */
} SearchHint;

/* Smallest node worth a hint. */
#define HINT_MIN_KEYS 8

static inline uint32_t pfx4(const uint8_t *k, size_t kl, size_t from)
{
    if (kl >= from + 4)
        return (uint32_t)k[from] << 24 | (uint32_t)k[from + 1] << 16 |
               (uint32_t)k[from + 2] << 8 | k[from + 3];
    uint32_t v = 0;
    for (size_t i = from; i < from + 4; i++)
        v = v << 8 | (i < kl ? k[i] : 0);
    return v;
}

/* A Page.hint value as a usable hint: NULL while its room is being built
 * into (PAGE_HINT_BUSY). */
static const SearchHint *hint_usable(const void *h)
{
    return h == PAGE_HINT_BUSY ? NULL : h;
}

/* The page's hint if it has one ready (no building). */
static const SearchHint *hint_loaded(Page *pg)
{
    return hint_usable(__atomic_load_n(&pg->hint, __ATOMIC_ACQUIRE));
}

/* The hint of a pinned node, built on first use; NULL for a small node,
 * a page of the calling write transaction, or when out of memory (the
 * search then reads the cells). */
static const SearchHint *hint_get(PagerTxn *t, Page *pg)
{
    void *cur = __atomic_load_n(&pg->hint, __ATOMIC_ACQUIRE);
    if (cur)
        return hint_usable(cur);
    const uint8_t *d = pg->data;
    unsigned n = nkeys(d);
    size_t room_size;
    uint8_t *room = pager_hint_room(t, pg, &room_size);
    if (n < HINT_MIN_KEYS || !room)
        return NULL;
    int type = d[0];
    size_t fl, ll, lcp = 0;
    const uint8_t *fk = cell_key(type, cell_at(d, 0), &fl);
    const uint8_t *lk = cell_key(type, cell_at(d, n - 1), &ll);
    while (lcp < fl && lcp < ll && fk[lcp] == lk[lcp])
        lcp++;
    SearchHint *nh;
    size_t need = sizeof *nh + (size_t)n * (sizeof nh->pfx[0] + sizeof nh->off[0]) + lcp;
    if (need <= room_size) {
        /* in the version's room, claimed first: a thread that finds it
         * claimed searches without the hint this time */
        void *expected = NULL;
        if (!__atomic_compare_exchange_n(&pg->hint, &expected, PAGE_HINT_BUSY, 0,
                                         __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
            return hint_usable(expected);
        nh = (SearchHint *)room;
    } else if (!(nh = malloc(need))) {
        return NULL;
    }
    uint16_t *off = (uint16_t *)(nh->pfx + n);
    uint8_t *prefix = (uint8_t *)(off + n);
    nh->n = n;
    nh->lcp = (uint32_t)lcp;
    nh->type = type;
    nh->off = off;
    nh->prefix = prefix;
    memcpy(prefix, fk, lcp);
    for (unsigned i = 0; i < n; i++) {
        size_t kl;
        off[i] = (uint16_t)cell_off(d, i);
        const uint8_t *k = cell_key(type, d + off[i], &kl);
        nh->pfx[i] = pfx4(k, kl, lcp);
    }
    if ((uint8_t *)nh == room) {
        __atomic_store_n(&pg->hint, nh, __ATOMIC_RELEASE);
        return nh;
    }
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&pg->hint, &expected, nh, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        free(nh); /* another thread built it first */
        return hint_usable(expected);
    }
    return nh;
}

/* Cell i of a node, through its hint when it has one (h may be NULL). */
static inline const uint8_t *hint_cell(const uint8_t *d, const SearchHint *h, unsigned i)
{
    return h ? d + h->off[i] : cell_at(d, i);
}

/* The first slot whose key is >= k, or with `upper` > k; *exact tells
 * whether a key equal to k was met (lower bound only).  With the node's
 * hint (h, may be NULL) the probes compare the four bytes after the shared
 * prefix and read a cell only on a tie. */
static unsigned node_search(const uint8_t *d, const SearchHint *h, const uint8_t *k,
                            size_t kl, int upper, int *exact)
{
    int type = h ? h->type : d[0];
    unsigned lo = 0, hi = h ? h->n : nkeys(d);
    uint32_t pk = 0;
    *exact = 0;
    if (h) {
        size_t L = h->lcp;
        int c = L ? memcmp(k, h->prefix, kl < L ? kl : L) : 0;
        if (c < 0 || (c == 0 && kl < L))
            return 0;
        if (c > 0)
            return hi;
        pk = pfx4(k, kl, L); /* k shares the prefix */
    }
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        int c;
        if (h && h->pfx[mid] != pk) {
            c = h->pfx[mid] < pk ? -1 : 1;
        } else {
            const uint8_t *cell = hint_cell(d, h, mid);
            if (h) {
                /* most likely the key looked for: fetch the lines of its
                 * value (a get copies it next) while its first line comes */
                __builtin_prefetch(cell + 64);
                __builtin_prefetch(cell + 128);
            }
            size_t ml;
            const uint8_t *mk = cell_key(type, cell, &ml);
            c = keycmp(mk, ml, k, kl);
        }
        if (c < 0 || (upper && c == 0)) {
            lo = mid + 1;
        } else {
            if (c == 0)
                *exact = 1;
            hi = mid;
        }
    }
    return lo;
}

/* Leaf: first slot whose key >= k.  h: the page's hint or NULL. */
static unsigned leaf_search(const uint8_t *d, const SearchHint *h, const uint8_t *k,
                            size_t kl, int *exact)
{
    return node_search(d, h, k, kl, 0, exact);
}

/* Branch: the child to follow = number of keys <= k.  h: the page's hint
 * or NULL. */
static unsigned branch_search(const uint8_t *d, const SearchHint *h, const uint8_t *k,
                              size_t kl)
{
    int ex;
    return node_search(d, h, k, kl, 1, &ex);
}

/* Child i of a branch (0..nkeys), through its hint when it has one. */
static PageRef node_child(const uint8_t *d, const SearchHint *h, unsigned i)
{
    return h && i ? rd_ref(hint_cell(d, h, i - 1) + 2) : branch_child(d, i);
}

/* Length of the shortest prefix of b that is greater than a (a < b). */
static size_t sep_len(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t i = 0;
    while (i < al && i < bl && a[i] == b[i])
        i++;
    return i + 1 <= bl ? i + 1 : bl;
}

/* Chooses where to cut `cells` in two nodes of capacity `cap` (bytes for
 * cells + slots), as evenly as possible by bytes.  Leaf: left = [0,at),
 * right = [at,n).  Branch: left = [0,at), cells[at] moves up, right =
 * (at,n).  Returns 0 when no cut fits (cannot happen within the limits). */
static int choose_split(const Cell *cells, unsigned n, int branch, size_t cap,
                        unsigned *at)
{
    size_t total = 0, left = 0, best = (size_t)-1;
    for (unsigned i = 0; i < n; i++)
        total += cells[i].n + 2;
    int found = 0;
    for (unsigned i = 0; i < n; i++) {
        /* left = [0,i) */
        if (branch) {
            if (i >= 1 && i + 1 < n) {
                size_t right = total - left - (cells[i].n + 2);
                size_t mx = left > right ? left : right;
                if (left <= cap && right <= cap && mx < best) {
                    best = mx;
                    *at = i;
                    found = 1;
                }
            }
        } else if (i >= 1) {
            size_t right = total - left;
            size_t mx = left > right ? left : right;
            if (left <= cap && right <= cap && mx < best) {
                best = mx;
                *at = i;
                found = 1;
            }
        }
        left += cells[i].n + 2;
    }
    return found;
}

/* ---- page access -------------------------------------------------------- */

/* Pins a leaf/branch page and validates its structure. */
static int get_node(PagerTxn *t, PageRef ref, size_t P, Page **out)
{
    Page *pg;
    int rc = pager_get(t, ref, &pg);
    if (rc != BLAZEDB_OK)
        return rc;
    /* A page version never changes once committed, and our own dirty pages
     * are built by this code: validate each loaded version once. */
    if (!__atomic_load_n(&pg->checked, __ATOMIC_RELAXED)) {
        if (!node_ok(pg->data, P)) {
            pager_unpin(t, pg);
            return corrupt(t, "not a valid b-tree page", ref.pgno);
        }
        __atomic_store_n(&pg->checked, 1, __ATOMIC_RELAXED);
    }
    *out = pg;
    return BLAZEDB_OK;
}

/* ---- overflow chains ---------------------------------------------------- */

static int ovf_write(PagerTxn *t, size_t P, const uint8_t *val, size_t vlen,
                     PageRef *first)
{
    size_t cap = P - OVF_HDR, off = 0;
    Page *prev = NULL;
    while (off < vlen) {
        Page *pg;
        int rc = pager_alloc(t, &pg);
        if (rc != BLAZEDB_OK) {
            pager_unpin(t, prev);
            return rc;
        }
        size_t chunk = vlen - off < cap ? vlen - off : cap;
        pg->data[0] = BT_OVERFLOW;
        wr32(pg->data + 4, (uint32_t)chunk);
        wr_ref(pg->data + 8, mkref(0, 0));
        memcpy(pg->data + OVF_HDR, val + off, chunk);
        if (prev) {
            wr_ref(prev->data + 8, page_ref(pg));
            pager_unpin(t, prev);
        } else {
            *first = page_ref(pg);
        }
        prev = pg;
        off += chunk;
    }
    pager_unpin(t, prev);
    return BLAZEDB_OK;
}

/* Follows a chain of `vlen` bytes.  out may be NULL (check only); visit is
 * called for every page; with do_free every page is freed after reading. */
static int ovf_walk(PagerTxn *t, size_t P, PageRef ref, uint64_t vlen, uint8_t *out,
                    void (*visit)(Pgno, void *), void *arg, int do_free)
{
    size_t cap = P - OVF_HDR;
    uint64_t off = 0;
    if (ref.pgno == 0)
        return corrupt(t, "overflow reference is empty", 0);
    while (ref.pgno != 0) {
        Page *pg;
        int rc = pager_get(t, ref, &pg);
        if (rc != BLAZEDB_OK)
            return rc;
        const uint8_t *d = pg->data;
        uint32_t used = rd32(d + 4);
        PageRef next = rd_ref(d + 8);
        if (d[0] != BT_OVERFLOW || used == 0 || used > cap || used > vlen - off ||
            (next.pgno != 0 && used != cap)) {
            pager_unpin(t, pg);
            return corrupt(t, "bad overflow page", ref.pgno);
        }
        if (out)
            memcpy(out + off, d + OVF_HDR, used);
        off += used;
        pager_unpin(t, pg);
        if (visit)
            visit(ref.pgno, arg);
        if (do_free) {
            rc = pager_free(t, ref);
            if (rc != BLAZEDB_OK)
                return rc;
        }
        ref = next;
    }
    if (off != vlen)
        return corrupt(t, "overflow chain shorter than its value", 0);
    return BLAZEDB_OK;
}

/* Copies the value of a leaf cell into a malloc'd buffer (non-NULL even for
 * zero bytes). */
static int cell_value(PagerTxn *t, size_t P, const uint8_t *c, void **val, size_t *vlen)
{
    size_t kl = rd16(c);
    uint32_t n = rd32(c + 3);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return nomem(t);
    if (c[2] & LCELL_OVF) {
        int rc = ovf_walk(t, P, rd_ref(c + LCELL_HDR + kl), n, buf, NULL, NULL, 0);
        if (rc != BLAZEDB_OK) {
            free(buf);
            return rc;
        }
    } else {
        memcpy(buf, c + LCELL_HDR + kl, n);
    }
    *val = buf;
    *vlen = n;
    return BLAZEDB_OK;
}

/* ---- descent -------------------------------------------------------------- */

enum { TO_KEY, TO_FIRST, TO_LAST };

/* Descends from `ref`, pinning every page into path[*depth...].  At branch
 * levels idx is the child taken; at the leaf it is the lower-bound slot (TO_KEY),
 * 0 (TO_FIRST) or the last slot (TO_LAST).  On error the pages pinned so far
 * stay in path (the caller unpins path[0..*depth)). */
static int descend(PagerTxn *t, size_t P, PageRef ref, int mode, const uint8_t *key,
                   size_t klen, Page **path, unsigned *idx, int *depth, int *exact)
{
    if (exact)
        *exact = 0;
    for (;;) {
        if (*depth >= BT_MAXD)
            return corrupt(t, "tree too deep", ref.pgno);
        Page *pg;
        int rc = get_node(t, ref, P, &pg);
        if (rc != BLAZEDB_OK)
            return rc;
        int l = (*depth)++;
        path[l] = pg;
        const uint8_t *d = pg->data;
        const SearchHint *h = mode == TO_KEY ? hint_get(t, pg) : NULL;
        unsigned n = h ? h->n : nkeys(d);
        if ((h ? h->type : d[0]) == BT_LEAF) {
            if (mode == TO_KEY) {
                int ex;
                idx[l] = leaf_search(d, h, key, klen, &ex);
                if (exact)
                    *exact = ex;
            } else {
                if (n == 0)
                    return corrupt(t, "empty leaf", pg->pgno);
                idx[l] = mode == TO_FIRST ? 0 : n - 1;
            }
            return BLAZEDB_OK;
        }
        if (n == 0)
            return corrupt(t, "empty branch", pg->pgno);
        idx[l] = mode == TO_KEY ? branch_search(d, h, key, klen) : mode == TO_FIRST ? 0 : n;
        ref = node_child(d, h, idx[l]);
    }
}

/* ---- lookups ------------------------------------------------------------------ */

int btree_get(PagerTxn *t, const PagerRoot *root, const void *key, size_t klen,
              void **val, size_t *vlen)
{
    if (val)
        *val = NULL;
    if (vlen)
        *vlen = 0;
    if (!t || !root || !key || !val || !vlen || klen == 0)
        return BLAZEDB_INVALID_ARGUMENT;
    if (root->root.pgno == 0)
        return BLAZEDB_NOT_FOUND;
    size_t P = pager_payload_size(pager_txn_pager(t));
    Page *path[BT_MAXD];
    unsigned idx[BT_MAXD];
    int depth = 0, exact = 0;
    int rc = descend(t, P, root->root, TO_KEY, key, klen, path, idx, &depth, &exact);
    if (rc == BLAZEDB_OK) {
        if (exact) {
            Page *leaf = path[depth - 1];
            const SearchHint *h = hint_loaded(leaf);
            rc = cell_value(t, P, hint_cell(leaf->data, h, idx[depth - 1]), val, vlen);
        } else {
            rc = BLAZEDB_NOT_FOUND;
        }
    }
    for (int i = 0; i < depth; i++)
        pager_unpin(t, path[i]);
    return rc;
}

/* ---- modification -------------------------------------------------------------- */

typedef struct {
    PagerTxn *t;
    size_t P;
    PagerRoot *root;
    Page *path[BT_MAXD];
    unsigned idx[BT_MAXD];
    int depth;
    uint8_t *scratch;   /* P bytes */
} Mod;

/* Is path[l] on the rightmost edge of the tree (every ancestor took its last
 * child)? */
static int mod_rightmost(const Mod *m, int l)
{
    for (int i = 0; i < l; i++)
        if (m->idx[i] != nkeys(m->path[i]->data))
            return 0;
    return 1;
}

/* A node split: `right` is the new right sibling, `key` the separator. */
typedef struct {
    int have;
    size_t klen;
    PageRef right;
    uint8_t key[BTREE_MAX_KEY];
} Split;

static int mod_init(Mod *m, PagerTxn *t, PagerRoot *root)
{
    m->t = t;
    m->P = pager_payload_size(pager_txn_pager(t));
    m->root = root;
    m->depth = 0;
    m->scratch = malloc(m->P);
    return m->scratch ? BLAZEDB_OK : nomem(t);
}

static void mod_done(Mod *m)
{
    for (int i = 0; i < m->depth; i++)
        pager_unpin(m->t, m->path[i]);
    m->depth = 0;
    free(m->scratch);
}

/* Makes every page of the path writable, top-down, rewriting each parent's
 * reference (and root->root). */
static int cow_path(Mod *m)
{
    for (int l = 0; l < m->depth; l++) {
        Page *d;
        int rc = pager_dirty(m->t, m->path[l], &d);
        if (rc != BLAZEDB_OK)
            return rc;
        m->path[l] = d;
        if (l == 0)
            m->root->root = page_ref(d);
        else
            branch_set_child(m->path[l - 1]->data, m->idx[l - 1], page_ref(d));
    }
    return BLAZEDB_OK;
}

/* Puts a cell at slot i of the writable node pg, splitting the node when it
 * does not fit: pg keeps the left half, sp describes the new right page.
 * `cell` must not point into pg.  `rightmost`: pg is on the right edge of the
 * tree; then an append (i == nkeys) leaves pg full and starts the right page
 * with the new cell alone, so ascending inserts fill pages completely instead
 * of half. */
static int node_put(Mod *m, Page *pg, unsigned i, const uint8_t *cell, size_t len,
                    Split *sp, int rightmost)
{
    uint8_t *d = pg->data;
    int type = d[0];
    size_t P = m->P;
    sp->have = 0;
    if (node_free(d) >= len + 2) {
        node_insert(d, P, i, cell, len, m->scratch);
        return BLAZEDB_OK;
    }
    unsigned n = nkeys(d), total = n + 1, at = 0;
    Cell *cells = malloc(total * sizeof *cells);
    if (!cells)
        return nomem(m->t);
    for (unsigned j = 0, k = 0; j < total; j++) {
        if (j == i) {
            cells[j].p = cell;
            cells[j].n = len;
        } else {
            cells[j].p = cell_at(d, k);
            cells[j].n = cell_len(type, cells[j].p);
            k++;
        }
    }
    int branch = type == BT_BRANCH;
    if (rightmost && i == n && total >= 3)
        at = branch ? total - 2 : total - 1;
    else if (!choose_split(cells, total, branch, P - hdr_size(d), &at)) {
        free(cells);
        return pager_error(pager_txn_pager(m->t), BLAZEDB_INTERNAL_ERROR,
                           "btree: no split point for page %u", (unsigned)pg->pgno);
    }
    Page *rp;
    int rc = pager_alloc(m->t, &rp);
    if (rc != BLAZEDB_OK) {
        free(cells);
        return rc;
    }
    size_t kl;
    const uint8_t *k;
    if (branch) {
        k = cell_key(BT_BRANCH, cells[at].p, &kl);
        memcpy(sp->key, k, kl);
        sp->klen = kl;
        node_build(rp->data, P, BT_BRANCH, cells + at + 1, total - at - 1,
                   rd_ref(cells[at].p + 2));
        node_build(m->scratch, P, BT_BRANCH, cells, at, branch_child(d, 0));
    } else {
        size_t al;
        const uint8_t *a = cell_key(BT_LEAF, cells[at - 1].p, &al);
        k = cell_key(BT_LEAF, cells[at].p, &kl);
        sp->klen = sep_len(a, al, k, kl);
        memcpy(sp->key, k, sp->klen);
        node_build(rp->data, P, BT_LEAF, cells + at, total - at, mkref(0, 0));
        node_build(m->scratch, P, BT_LEAF, cells, at, mkref(0, 0));
    }
    memcpy(d, m->scratch, P);
    sp->right = page_ref(rp);
    sp->have = 1;
    pager_unpin(m->t, rp);
    free(cells);
    return BLAZEDB_OK;
}

static size_t make_bcell(uint8_t *out, const uint8_t *key, size_t klen, PageRef child)
{
    wr16(out, klen);
    wr_ref(out + 2, child);
    memcpy(out + BCELL_HDR, key, klen);
    return BCELL_HDR + klen;
}

/* The root split: a new root branch above the two halves. */
static int new_root(Mod *m, const Split *sp)
{
    Page *r;
    int rc = pager_alloc(m->t, &r);
    if (rc != BLAZEDB_OK)
        return rc;
    node_init(r->data, m->P, BT_BRANCH);
    wr_ref(r->data + 12, m->root->root);
    uint8_t cell[BCELL_HDR + BTREE_MAX_KEY];
    size_t len = make_bcell(cell, sp->key, sp->klen, sp->right);
    node_insert(r->data, m->P, 0, cell, len, m->scratch);
    m->root->root = page_ref(r);
    pager_unpin(m->t, r);
    return BLAZEDB_OK;
}

/* An empty root leaf empties the tree; a root branch with one child is
 * replaced by that child. */
static int collapse_root(Mod *m)
{
    Page *r = m->path[0];
    if (!r || nkeys(r->data) > 0)
        return BLAZEDB_OK;
    PageRef old = page_ref(r);
    PageRef repl = r->data[0] == BT_BRANCH ? branch_child(r->data, 0) : mkref(0, 0);
    pager_unpin(m->t, r);
    m->path[0] = NULL;
    m->root->root = repl;
    return pager_free(m->t, old);
}

/* Child idx[pl] of path[pl] (pinned writable at path[pl+1]) is under a quarter
 * full: merge it with a sibling, or move cells over from the sibling.  The
 * parent loses a key (merge) or has a separator replaced, which may split it
 * (sp). */
static int rebalance(Mod *m, int pl, Split *sp)
{
    PagerTxn *t = m->t;
    size_t P = m->P;
    Page *par = m->path[pl], *child = m->path[pl + 1];
    uint8_t *pd = par->data;
    unsigned n = nkeys(pd), ci = m->idx[pl];
    sp->have = 0;
    if (n == 0)
        return BLAZEDB_OK;
    unsigned li = ci < n ? ci : ci - 1;      /* left of the pair; key li separates */
    int child_left = li == ci;
    PageRef sref = branch_child(pd, child_left ? ci + 1 : ci - 1);
    Page *sib;
    int rc = get_node(t, sref, P, &sib);
    if (rc != BLAZEDB_OK)
        return rc;
    int type = child->data[0];
    if (sib->data[0] != type) {
        pager_unpin(t, sib);
        return corrupt(t, "siblings of different kinds", sref.pgno);
    }
    int branch = type == BT_BRANCH;
    size_t cap = P - hdr_size(child->data);
    size_t sepkl;
    const uint8_t *sepk = cell_key(BT_BRANCH, cell_at(pd, li), &sepkl);
    size_t need = node_used(child->data, P) + node_used(sib->data, P) +
                  (branch ? BCELL_HDR + sepkl + 2 : 0);
    uint8_t cellbuf[BCELL_HDR + BTREE_MAX_KEY];

    if (need <= cap) {
        /* Merge the right page into the left one. */
        Page *L = child, *R = sib;
        if (!child_left) {
            rc = pager_dirty(t, sib, &L);
            if (rc != BLAZEDB_OK) {
                pager_unpin(t, sib);
                return rc;
            }
            sib = L;
            branch_set_child(pd, li, page_ref(L));
            R = child;
        }
        uint8_t *ld = L->data;
        const uint8_t *rd = R->data;
        if (branch) {
            size_t len = make_bcell(cellbuf, sepk, sepkl, branch_child(rd, 0));
            node_insert(ld, P, nkeys(ld), cellbuf, len, m->scratch);
        }
        unsigned rn = nkeys(rd);
        for (unsigned j = 0; j < rn; j++) {
            const uint8_t *c = cell_at(rd, j);
            node_insert(ld, P, nkeys(ld), c, cell_len(type, c), m->scratch);
        }
        PageRef rref = page_ref(R);
        if (R == child)
            m->path[pl + 1] = NULL;
        else
            sib = NULL;
        pager_unpin(t, R);
        node_remove(pd, P, li);             /* drops child li+1 = R */
        rc = pager_free(t, rref);
        pager_unpin(t, sib);
        return rc;
    }

    /* Redistribute the cells of both pages evenly. */
    Page *ds;
    rc = pager_dirty(t, sib, &ds);
    if (rc != BLAZEDB_OK) {
        pager_unpin(t, sib);
        return rc;
    }
    sib = ds;
    branch_set_child(pd, child_left ? ci + 1 : ci - 1, page_ref(sib));
    Page *L = child_left ? child : sib, *R = child_left ? sib : child;
    unsigned ln = nkeys(L->data), rn = nkeys(R->data);
    unsigned total = ln + rn + (branch ? 1 : 0), at = 0;
    Cell *cells = malloc(total * sizeof *cells);
    uint8_t *big = malloc(2 * P + BCELL_HDR + sepkl);
    if (!cells || !big) {
        free(cells);
        free(big);
        pager_unpin(t, sib);
        return nomem(t);
    }
    size_t pos = 0;
    unsigned k = 0;
    for (unsigned j = 0; j < ln; j++, k++) {
        const uint8_t *c = cell_at(L->data, j);
        cells[k].n = cell_len(type, c);
        memcpy(big + pos, c, cells[k].n);
        cells[k].p = big + pos;
        pos += cells[k].n;
    }
    if (branch) {
        cells[k].n = make_bcell(big + pos, sepk, sepkl, branch_child(R->data, 0));
        cells[k].p = big + pos;
        pos += cells[k].n;
        k++;
    }
    for (unsigned j = 0; j < rn; j++, k++) {
        const uint8_t *c = cell_at(R->data, j);
        cells[k].n = cell_len(type, c);
        memcpy(big + pos, c, cells[k].n);
        cells[k].p = big + pos;
        pos += cells[k].n;
    }
    if (!choose_split(cells, total, branch, cap, &at)) {
        rc = pager_error(pager_txn_pager(t), BLAZEDB_INTERNAL_ERROR,
                         "btree: no split point when rebalancing page %u",
                         (unsigned)L->pgno);
        goto out;
    }
    size_t nkl;
    const uint8_t *nk;
    if (branch) {
        nk = cell_key(BT_BRANCH, cells[at].p, &nkl);
        PageRef lm = branch_child(L->data, 0);
        node_build(m->scratch, P, BT_BRANCH, cells, at, lm);
        memcpy(L->data, m->scratch, P);
        node_build(m->scratch, P, BT_BRANCH, cells + at + 1, total - at - 1,
                   rd_ref(cells[at].p + 2));
        memcpy(R->data, m->scratch, P);
    } else {
        size_t al;
        const uint8_t *a = cell_key(BT_LEAF, cells[at - 1].p, &al);
        nk = cell_key(BT_LEAF, cells[at].p, &nkl);
        nkl = sep_len(a, al, nk, nkl);
        node_build(m->scratch, P, BT_LEAF, cells, at, mkref(0, 0));
        memcpy(L->data, m->scratch, P);
        node_build(m->scratch, P, BT_LEAF, cells + at, total - at, mkref(0, 0));
        memcpy(R->data, m->scratch, P);
    }
    node_remove(pd, P, li);
    size_t len = make_bcell(cellbuf, nk, nkl, page_ref(R));
    rc = node_put(m, par, li, cellbuf, len, sp, 0);
out:
    free(cells);
    free(big);
    pager_unpin(t, sib);
    return rc;
}

/* Walks up from level l after the node there changed: inserts separators of
 * splits into parents, rebalances under-full nodes, grows or shrinks the
 * root.  `shrunk`: the node at level l may have lost bytes (only such nodes
 * are checked for under-filling, so that the lone cell of a fresh right page
 * after an append split is not immediately re-balanced away). */
static int fix_up(Mod *m, int l, Split *a, Split *b, int shrunk)
{
    Split *sp = a, *up = b;
    for (;;) {
        int rc;
        if (sp->have) {
            if (l == 0)
                return new_root(m, sp);
            uint8_t cell[BCELL_HDR + BTREE_MAX_KEY];
            size_t len = make_bcell(cell, sp->key, sp->klen, sp->right);
            rc = node_put(m, m->path[l - 1], m->idx[l - 1], cell, len, up,
                          mod_rightmost(m, l - 1));
            shrunk = 0;
        } else {
            if (!shrunk)
                return BLAZEDB_OK;
            if (l == 0)
                return collapse_root(m);
            const uint8_t *d = m->path[l]->data;
            if (node_used(d, m->P) >= (m->P - hdr_size(d)) / 4)
                return BLAZEDB_OK;
            rc = rebalance(m, l - 1, up);
            shrunk = 1;
        }
        if (rc != BLAZEDB_OK)
            return rc;
        Split *tmp = sp;
        sp = up;
        up = tmp;
        l--;
    }
}

static int check_write_args(PagerTxn *t, const void *root, const void *key, size_t klen)
{
    if (!t || !root || !key || klen == 0)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!pager_txn_is_write(t))
        return pager_error(pager_txn_pager(t), BLAZEDB_READONLY,
                           "btree: write in a read transaction");
    if (klen > btree_max_key(pager_txn_pager(t)))
        return pager_error(pager_txn_pager(t), BLAZEDB_TOO_BIG,
                           "btree: key of %zu bytes is over the limit of %zu", klen,
                           btree_max_key(pager_txn_pager(t)));
    return BLAZEDB_OK;
}

int btree_put(PagerTxn *t, PagerRoot *root, const void *key, size_t klen,
              const void *val, size_t vlen, int *replaced)
{
    if (replaced)
        *replaced = 0;
    int rc = check_write_args(t, root, key, klen);
    if (rc != BLAZEDB_OK)
        return rc;
    if (!val && vlen)
        return BLAZEDB_INVALID_ARGUMENT;
    Pager *p = pager_txn_pager(t);
    if (vlen > BTREE_MAX_VALUE)
        return pager_error(p, BLAZEDB_TOO_BIG, "btree: value of %zu bytes is over the limit",
                           vlen);

    Mod m;
    if ((rc = mod_init(&m, t, root)) != BLAZEDB_OK)
        return rc;
    Split sa, sb;
    sa.have = sb.have = 0;
    int ovf = vlen > btree_inline_max_value(p, klen);
    size_t clen = LCELL_HDR + klen + (ovf ? REF_SIZE : vlen);
    uint8_t *cell = malloc(clen);
    PageRef old_ovf = mkref(0, 0);
    uint32_t old_vlen = 0;
    if (!cell) {
        mod_done(&m);
        return nomem(t);
    }
    wr16(cell, klen);
    cell[2] = ovf ? LCELL_OVF : 0;
    wr32(cell + 3, (uint32_t)vlen);
    memcpy(cell + LCELL_HDR, key, klen);
    if (ovf) {
        PageRef first;
        rc = ovf_write(t, m.P, val, vlen, &first);
        if (rc != BLAZEDB_OK)
            goto out;
        wr_ref(cell + LCELL_HDR + klen, first);
    } else if (vlen) {
        memcpy(cell + LCELL_HDR + klen, val, vlen);
    }

    if (root->root.pgno == 0) {
        Page *lf;
        rc = pager_alloc(t, &lf);
        if (rc != BLAZEDB_OK)
            goto out;
        node_init(lf->data, m.P, BT_LEAF);
        node_insert(lf->data, m.P, 0, cell, clen, m.scratch);
        root->root = page_ref(lf);
        root->count = 1;
        pager_unpin(t, lf);
        goto out;
    }

    int exact;
    rc = descend(t, m.P, root->root, TO_KEY, key, klen, m.path, m.idx, &m.depth, &exact);
    if (rc == BLAZEDB_OK)
        rc = cow_path(&m);
    if (rc != BLAZEDB_OK)
        goto out;
    Page *leaf = m.path[m.depth - 1];
    unsigned i = m.idx[m.depth - 1];
    if (exact) {
        const uint8_t *oc = cell_at(leaf->data, i);
        if (oc[2] & LCELL_OVF) {
            old_ovf = rd_ref(oc + LCELL_HDR + rd16(oc));
            old_vlen = rd32(oc + 3);
        }
        node_remove(leaf->data, m.P, i);
        if (replaced)
            *replaced = 1;
    } else {
        root->count++;
    }
    rc = node_put(&m, leaf, i, cell, clen, &sa, mod_rightmost(&m, m.depth - 1));
    if (rc == BLAZEDB_OK)
        rc = fix_up(&m, m.depth - 1, &sa, &sb, exact);
    if (rc == BLAZEDB_OK && old_ovf.pgno)
        rc = ovf_walk(t, m.P, old_ovf, old_vlen, NULL, NULL, NULL, 1);
out:
    free(cell);
    mod_done(&m);
    return rc;
}

int btree_delete(PagerTxn *t, PagerRoot *root, const void *key, size_t klen, int *found)
{
    if (found)
        *found = 0;
    int rc = check_write_args(t, root, key, klen);
    if (rc == BLAZEDB_TOO_BIG)
        return BLAZEDB_OK;          /* such a key cannot be present */
    if (rc != BLAZEDB_OK)
        return rc;
    if (root->root.pgno == 0)
        return BLAZEDB_OK;
    Mod m;
    if ((rc = mod_init(&m, t, root)) != BLAZEDB_OK)
        return rc;
    Split sa, sb;
    sa.have = sb.have = 0;
    int exact;
    rc = descend(t, m.P, root->root, TO_KEY, key, klen, m.path, m.idx, &m.depth, &exact);
    if (rc != BLAZEDB_OK || !exact)
        goto out;
    if ((rc = cow_path(&m)) != BLAZEDB_OK)
        goto out;
    Page *leaf = m.path[m.depth - 1];
    unsigned i = m.idx[m.depth - 1];
    const uint8_t *oc = cell_at(leaf->data, i);
    PageRef old_ovf = mkref(0, 0);
    uint32_t old_vlen = rd32(oc + 3);
    if (oc[2] & LCELL_OVF)
        old_ovf = rd_ref(oc + LCELL_HDR + rd16(oc));
    node_remove(leaf->data, m.P, i);
    if (root->count)
        root->count--;
    if (found)
        *found = 1;
    rc = fix_up(&m, m.depth - 1, &sa, &sb, 1);
    if (rc == BLAZEDB_OK && old_ovf.pgno)
        rc = ovf_walk(t, m.P, old_ovf, old_vlen, NULL, NULL, NULL, 1);
out:
    mod_done(&m);
    return rc;
}

static int drop_rec(PagerTxn *t, size_t P, PageRef ref, int depth)
{
    if (depth >= BT_MAXD)
        return corrupt(t, "tree too deep", ref.pgno);
    Page *pg;
    int rc = get_node(t, ref, P, &pg);
    if (rc != BLAZEDB_OK)
        return rc;
    const uint8_t *d = pg->data;
    unsigned n = nkeys(d);
    if (d[0] == BT_LEAF) {
        for (unsigned i = 0; i < n && rc == BLAZEDB_OK; i++) {
            const uint8_t *c = cell_at(d, i);
            if (c[2] & LCELL_OVF)
                rc = ovf_walk(t, P, rd_ref(c + LCELL_HDR + rd16(c)), rd32(c + 3), NULL,
                              NULL, NULL, 1);
        }
    } else {
        for (unsigned i = 0; i <= n && rc == BLAZEDB_OK; i++)
            rc = drop_rec(t, P, branch_child(d, i), depth + 1);
    }
    pager_unpin(t, pg);
    if (rc == BLAZEDB_OK)
        rc = pager_free(t, ref);
    return rc;
}

int btree_drop(PagerTxn *t, PagerRoot *root)
{
    if (!t || !root)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!pager_txn_is_write(t))
        return pager_error(pager_txn_pager(t), BLAZEDB_READONLY,
                           "btree: write in a read transaction");
    if (root->root.pgno == 0) {
        root->count = 0;
        return BLAZEDB_OK;
    }
    int rc = drop_rec(t, pager_payload_size(pager_txn_pager(t)), root->root, 0);
    if (rc == BLAZEDB_OK) {
        root->root = mkref(0, 0);
        root->count = 0;
    }
    return rc;
}

/* ---- cursors ---------------------------------------------------------------- */

struct BtCursor {
    PagerTxn *t;
    PagerRoot *root;
    size_t P;
    int depth;                  /* 0: unpositioned */
    Page *pg[BT_MAXD];
    unsigned idx[BT_MAXD];
    uint64_t seq;               /* pager_txn_change_seq when positioned */
    int ro;                     /* read-only transaction: trees never change */
    size_t klen;
    const uint8_t *kp;          /* the current key: in the pinned leaf (ro),
                                   else `key` */
    uint8_t key[BTREE_MAX_KEY]; /* copy of the current key (for re-seeks in
                                   a write transaction) */
    uint8_t *vbuf;              /* assembled overflow value */
    size_t vcap;
    int vbuf_ok;                /* vbuf holds the current entry's value */
};

int btc_open(PagerTxn *t, PagerRoot *root, BtCursor **out)
{
    if (out)
        *out = NULL;
    if (!t || !root || !out)
        return BLAZEDB_INVALID_ARGUMENT;
    BtCursor *c = calloc(1, sizeof *c);
    if (!c)
        return nomem(t);
    c->t = t;
    c->root = root;
    c->ro = !pager_txn_is_write(t);
    c->P = pager_payload_size(pager_txn_pager(t));
    *out = c;
    return BLAZEDB_OK;
}

static void cur_release(BtCursor *c)
{
    for (int i = 0; i < c->depth; i++)
        pager_unpin(c->t, c->pg[i]);
    c->depth = 0;
    c->vbuf_ok = 0;
}

void btc_close(BtCursor *c)
{
    if (!c)
        return;
    cur_release(c);
    free(c->vbuf);
    free(c);
}

int btc_valid(const BtCursor *c) { return c && c->depth > 0; }

/* Records the current entry (change counter; a copy of the key in a
 * write transaction, where a change to the tree may make the cursor
 * re-seek; a read transaction's trees never change, so its cursor points
 * at the key in the pinned leaf). */
static void cur_mark(BtCursor *c)
{
    const uint8_t *d = c->pg[c->depth - 1]->data;
    size_t kl;
    const uint8_t *k = cell_key(BT_LEAF, cell_at(d, c->idx[c->depth - 1]), &kl);
    if (c->ro) {
        c->kp = k;
    } else {
        memcpy(c->key, k, kl);
        c->kp = c->key;
    }
    c->klen = kl;
    c->seq = pager_txn_change_seq(c->t);
    c->vbuf_ok = 0;
}

/* Finishes a movement: marks the position, or releases on error/end. */
static int cur_finish(BtCursor *c, int rc)
{
    if (rc == BLAZEDB_OK)
        cur_mark(c);
    else
        cur_release(c);
    return rc;
}

/* Pins the path down from `ref` to its first (TO_FIRST) or last (TO_LAST)
 * leaf entry, appending to the cursor's stack. */
static int cur_down(BtCursor *c, PageRef ref, int mode)
{
    return descend(c->t, c->P, ref, mode, NULL, 0, c->pg, c->idx, &c->depth, NULL);
}

/* The leaf is exhausted (idx == nkeys): moves to the first entry of the next
 * leaf.  NOT_FOUND at the end of the tree. */
static int cur_next_leaf(BtCursor *c)
{
    for (;;) {
        pager_unpin(c->t, c->pg[--c->depth]);
        if (c->depth == 0)
            return BLAZEDB_NOT_FOUND;
        int l = c->depth - 1;
        if (c->idx[l] < nkeys(c->pg[l]->data)) {
            c->idx[l]++;
            return cur_down(c, branch_child(c->pg[l]->data, c->idx[l]), TO_FIRST);
        }
    }
}

/* Moves to the last entry of the previous leaf.  NOT_FOUND at the start. */
static int cur_prev_leaf(BtCursor *c)
{
    for (;;) {
        pager_unpin(c->t, c->pg[--c->depth]);
        if (c->depth == 0)
            return BLAZEDB_NOT_FOUND;
        int l = c->depth - 1;
        if (c->idx[l] > 0) {
            c->idx[l]--;
            return cur_down(c, branch_child(c->pg[l]->data, c->idx[l]), TO_LAST);
        }
    }
}

/* A seek to a key inside the cursor's current leaf (between its first and
 * last key), with no change since the cursor was positioned: a search of
 * that leaf alone, no descent.  Scans that fetch documents in key order
 * (ids out of an index) land here most of the time.  1 when done. */
static int cur_seek_near(BtCursor *c, const uint8_t *key, size_t klen, int le, int *ex)
{
    if (c->depth == 0 || pager_txn_change_seq(c->t) != c->seq)
        return 0;
    int l = c->depth - 1;
    const uint8_t *d = c->pg[l]->data;
    unsigned n = nkeys(d), cur = c->idx[l], i;
    if (n == 0 || cur >= n)
        return 0;
    int c0 = keycmp(c->kp, c->klen, key, klen);
    *ex = 0;
    if (c0 == 0) {
        *ex = 1;
        i = cur;
    } else if (c0 < 0) {
        /* forward, the usual case (ids out of an index, in order): the
         * next entries one by one, then galloping, then a binary search */
        unsigned lo = cur + 1;
        int cmp = -1;
        for (unsigned probes = 0; lo < n && probes < 8; lo++, probes++) {
            size_t hl;
            const uint8_t *hk = cell_key(BT_LEAF, cell_at(d, lo), &hl);
            if ((cmp = keycmp(hk, hl, key, klen)) >= 0)
                break;
        }
        if (lo == n)
            return 0; /* past this leaf */
        if (cmp < 0) {
            unsigned step = 1, hi;
            for (;;) { /* hi: first probe with key(hi) >= key, or n */
                hi = lo + step < n ? lo + step : n;
                if (hi == n)
                    break;
                size_t hl;
                const uint8_t *hk = cell_key(BT_LEAF, cell_at(d, hi), &hl);
                if (keycmp(hk, hl, key, klen) >= 0)
                    break;
                lo = hi + 1;
                step *= 2;
            }
            while (lo < hi) {
                unsigned mid = lo + (hi - lo) / 2;
                size_t ml;
                const uint8_t *mk = cell_key(BT_LEAF, cell_at(d, mid), &ml);
                if (keycmp(mk, ml, key, klen) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo >= n)
                return 0; /* past this leaf */
            size_t il;
            const uint8_t *ik = cell_key(BT_LEAF, cell_at(d, lo), &il);
            cmp = keycmp(ik, il, key, klen);
        }
        *ex = cmp == 0;
        i = lo;
    } else {
        /* backward: the whole leaf, if the key is in its range */
        size_t fl;
        const uint8_t *fk = cell_key(BT_LEAF, cell_at(d, 0), &fl);
        if (keycmp(key, klen, fk, fl) < 0)
            return 0;
        i = leaf_search(d, hint_get(c->t, c->pg[l]), key, klen, ex);
    }
    if (le && !*ex)
        i--; /* key > this leaf's first key, so i >= 1 */
    c->idx[l] = i;
    return 1;
}

/* For a seek forward past the cursor's leaf (no change since it was
 * positioned): the deepest branch on the cursor's path whose key range
 * holds `key`, so that the descent starts there rather than at the root.
 * Returns that level, or -1 when the root must be used. */
static int cur_climb_level(BtCursor *c, const uint8_t *key, size_t klen)
{
    if (c->depth < 2 || pager_txn_change_seq(c->t) != c->seq ||
        keycmp(key, klen, c->kp, c->klen) <= 0)
        return -1;
    for (int L = c->depth - 2; L >= 1; L--) {
        /* branch L's range ends at the separator after it in the nearest
         * ancestor that has one; key > the cursor's key covers the start */
        int A = L - 1;
        while (A >= 0 && c->idx[A] >= nkeys(c->pg[A]->data))
            A--;
        if (A < 0)
            return L;
        size_t sl;
        const uint8_t *sk = cell_key(BT_BRANCH, cell_at(c->pg[A]->data, c->idx[A]), &sl);
        if (keycmp(key, klen, sk, sl) < 0)
            return L;
    }
    return 0;
}

/* A seek forward to a key just past the cursor's leaf (no change since
 * it was positioned) that belongs to the next leaf under the same parent:
 * ids fetched out of an index are a few entries apart, so this is where
 * cur_seek_near usually gives up.  Steps to that leaf and searches it from
 * its start (lower bound), instead of climbing and searching the parent
 * again.  -1 when it does not apply (the cursor is untouched), else the
 * result of the move (the caller finishes it). */
static int cur_seek_sibling(BtCursor *c, const uint8_t *key, size_t klen, int *ex)
{
    if (c->depth < 2 || pager_txn_change_seq(c->t) != c->seq)
        return -1;
    int l = c->depth - 1, p = l - 1;
    const uint8_t *d = c->pg[l]->data, *pd = c->pg[p]->data;
    unsigned n = nkeys(d), j = c->idx[p];
    /* child j + 1 holds [sep j, sep j + 1): only when sep j + 1 exists is
     * its upper bound in this parent */
    if (n == 0 || j + 1 >= nkeys(pd))
        return -1;
    size_t ll, sl;
    const uint8_t *lk = cell_key(BT_LEAF, cell_at(d, n - 1), &ll);
    const uint8_t *sk = cell_key(BT_BRANCH, cell_at(pd, j + 1), &sl);
    if (keycmp(key, klen, lk, ll) <= 0 || keycmp(key, klen, sk, sl) >= 0)
        return -1;
    pager_unpin(c->t, c->pg[--c->depth]);
    c->vbuf_ok = 0;
    c->idx[p] = j + 1;
    int rc = cur_down(c, branch_child(pd, j + 1), TO_FIRST);
    if (rc)
        return rc;
    d = c->pg[l]->data;
    n = nkeys(d);
    /* forward from the start: a few probes, then a binary search */
    unsigned i = 0;
    int cmp = 1;
    for (; i < n && i < 8; i++) {
        size_t hl;
        const uint8_t *hk = cell_key(BT_LEAF, cell_at(d, i), &hl);
        if ((cmp = keycmp(hk, hl, key, klen)) >= 0)
            break;
    }
    if (i < n && cmp < 0) {
        int e = 0;
        i = leaf_search(d, hint_get(c->t, c->pg[l]), key, klen, &e);
        cmp = e ? 0 : 1;
    }
    *ex = i < n && cmp == 0;
    c->idx[l] = i;
    return i < n ? BLAZEDB_OK : cur_next_leaf(c);
}

static int cur_seek(BtCursor *c, const uint8_t *key, size_t klen, int le, int *exact)
{
    int ex = 0;
    if (exact)
        *exact = 0;
    if (key && klen && cur_seek_near(c, key, klen, le, &ex)) {
        if (exact)
            *exact = ex;
        cur_mark(c);
        return BLAZEDB_OK;
    }
    int sib = key && klen && !le ? cur_seek_sibling(c, key, klen, &ex) : -1;
    if (sib >= 0) {
        if (exact)
            *exact = sib == BLAZEDB_OK && ex;
        return cur_finish(c, sib);
    }
    int rc, from = key && klen && c->root->root.pgno ? cur_climb_level(c, key, klen) : -1;
    if (from > 0) {
        /* keep the path down to branch `from`, descend again below it */
        while (c->depth > from + 1)
            pager_unpin(c->t, c->pg[--c->depth]);
        c->vbuf_ok = 0;
        const uint8_t *d = c->pg[from]->data;
        c->idx[from] = branch_search(d, hint_get(c->t, c->pg[from]), key, klen);
        rc = descend(c->t, c->P, branch_child(d, c->idx[from]), TO_KEY, key, klen, c->pg,
                     c->idx, &c->depth, &ex);
    } else {
        cur_release(c);
        if (!key || klen == 0)
            return BLAZEDB_INVALID_ARGUMENT;
        if (c->root->root.pgno == 0)
            return BLAZEDB_NOT_FOUND;
        rc = descend(c->t, c->P, c->root->root, TO_KEY, key, klen, c->pg, c->idx, &c->depth,
                     &ex);
    }
    if (rc == BLAZEDB_OK) {
        int l = c->depth - 1;
        unsigned n = nkeys(c->pg[l]->data);
        if (le && !ex) {
            if (c->idx[l] == 0)
                rc = cur_prev_leaf(c);
            else
                c->idx[l]--;
        } else if (!le && c->idx[l] >= n) {
            rc = cur_next_leaf(c);
        }
    }
    if (exact)
        *exact = ex;
    return cur_finish(c, rc);
}

int btc_seek(BtCursor *c, const void *key, size_t klen, int *exact)
{
    if (!c)
        return BLAZEDB_INVALID_ARGUMENT;
    return cur_seek(c, key, klen, 0, exact);
}

static int cur_restore(BtCursor *c, int le, int *same);

int btc_count_lt(BtCursor *c, const void *hi, size_t hil, uint64_t *n)
{
    if (!c || !n)
        return BLAZEDB_INVALID_ARGUMENT;
    *n = 0;
    int same;
    int rc = cur_restore(c, 0, &same);
    if (rc)
        return rc;
    for (;;) {
        int l = c->depth - 1;
        const uint8_t *d = c->pg[l]->data;
        unsigned cnt = nkeys(d), i = c->idx[l];
        size_t ll;
        const uint8_t *lk = cell_key(BT_LEAF, cell_at(d, cnt - 1), &ll);
        if (keycmp(lk, ll, hi, hil) < 0) {
            /* the whole rest of this leaf is below hi */
            *n += cnt - i;
            c->idx[l] = cnt;
            rc = cur_next_leaf(c);
            if (rc)
                break;
            continue;
        }
        int ex;
        unsigned pos = leaf_search(d, hint_get(c->t, c->pg[l]), hi, hil, &ex);
        if (pos > i)
            *n += pos - i;
        c->idx[l] = pos > i ? pos : i;
        break;
    }
    return cur_finish(c, rc);
}

int btc_seek_le(BtCursor *c, const void *key, size_t klen, int *exact)
{
    if (!c)
        return BLAZEDB_INVALID_ARGUMENT;
    return cur_seek(c, key, klen, 1, exact);
}

static int cur_end(BtCursor *c, int mode)
{
    if (!c)
        return BLAZEDB_INVALID_ARGUMENT;
    cur_release(c);
    if (c->root->root.pgno == 0)
        return BLAZEDB_NOT_FOUND;
    return cur_finish(c, cur_down(c, c->root->root, mode));
}

int btc_first(BtCursor *c) { return cur_end(c, TO_FIRST); }
int btc_last(BtCursor *c) { return cur_end(c, TO_LAST); }

/* If the transaction changed any tree since the cursor was positioned,
 * re-seeks to the remembered key (>= for le == 0, <= for le == 1).  *same
 * says whether the cursor is still on that very key. */
static int cur_restore(BtCursor *c, int le, int *same)
{
    *same = 1;
    if (c->depth == 0)
        return BLAZEDB_NOT_FOUND;
    if (pager_txn_change_seq(c->t) == c->seq)
        return BLAZEDB_OK;
    uint8_t key[BTREE_MAX_KEY];
    size_t klen = c->klen;
    memcpy(key, c->kp, klen);
    int exact;
    int rc = cur_seek(c, key, klen, le, &exact);
    *same = rc == BLAZEDB_OK && exact;
    return rc;
}

int btc_next(BtCursor *c)
{
    if (!c)
        return BLAZEDB_INVALID_ARGUMENT;
    int same;
    int rc = cur_restore(c, 0, &same);
    if (rc != BLAZEDB_OK || !same)
        return rc;
    int l = c->depth - 1;
    const uint8_t *d = c->pg[l]->data;
    unsigned n = nkeys(d), i = ++c->idx[l];
    if (i >= n) {
        if ((rc = cur_next_leaf(c)) != BLAZEDB_OK)
            return cur_finish(c, rc);
        d = c->pg[l]->data;
        n = nkeys(d);
        i = c->idx[l];
    }
    /* a scan reads each entry once, and cells do not lie in key order:
     * ask for the next entry's first lines while the caller works on this
     * one (a full scan with a filter runs about 1.5x faster) */
    if (i + 1 < n) {
        const uint8_t *nx = cell_at(d, i + 1);
        __builtin_prefetch(nx);
        __builtin_prefetch(nx + 64);
        __builtin_prefetch(nx + 128);
    }
    return cur_finish(c, BLAZEDB_OK);
}

int btc_prev(BtCursor *c)
{
    if (!c)
        return BLAZEDB_INVALID_ARGUMENT;
    int same;
    int rc = cur_restore(c, 1, &same);
    if (rc != BLAZEDB_OK || !same)
        return rc;
    int l = c->depth - 1;
    if (c->idx[l] > 0)
        c->idx[l]--;
    else if ((rc = cur_prev_leaf(c)) != BLAZEDB_OK)
        return cur_finish(c, rc);
    if (c->idx[l] > 0) { /* as in btc_next */
        const uint8_t *nx = cell_at(c->pg[l]->data, c->idx[l] - 1);
        __builtin_prefetch(nx);
        __builtin_prefetch(nx + 64);
        __builtin_prefetch(nx + 128);
    }
    return cur_finish(c, BLAZEDB_OK);
}

/* btc_key/btc_value: if the current entry was deleted since the cursor was
 * positioned, the cursor moves to its successor and returns that one. */
int btc_key(BtCursor *c, const void **key, size_t *klen)
{
    if (!c || !key || !klen)
        return BLAZEDB_INVALID_ARGUMENT;
    int same;
    int rc = cur_restore(c, 0, &same);
    if (rc != BLAZEDB_OK)
        return rc;
    *key = c->kp;
    *klen = c->klen;
    return BLAZEDB_OK;
}

int btc_value(BtCursor *c, const void **val, size_t *vlen)
{
    if (!c || !val || !vlen)
        return BLAZEDB_INVALID_ARGUMENT;
    int same;
    int rc = cur_restore(c, 0, &same);
    if (rc != BLAZEDB_OK)
        return rc;
    const uint8_t *cl = cell_at(c->pg[c->depth - 1]->data, c->idx[c->depth - 1]);
    size_t kl = rd16(cl);
    uint32_t n = rd32(cl + 3);
    if (!(cl[2] & LCELL_OVF)) {
        *val = cl + LCELL_HDR + kl;
        *vlen = n;
        return BLAZEDB_OK;
    }
    if (!c->vbuf_ok) {
        if (c->vcap < n) {
            uint8_t *nb = realloc(c->vbuf, n);
            if (!nb)
                return nomem(c->t);
            c->vbuf = nb;
            c->vcap = n;
        }
        rc = ovf_walk(c->t, c->P, rd_ref(cl + LCELL_HDR + kl), n, c->vbuf, NULL, NULL, 0);
        if (rc != BLAZEDB_OK)
            return rc;
        c->vbuf_ok = 1;
    }
    *val = c->vbuf;
    *vlen = n;
    return BLAZEDB_OK;
}

/* ---- structure check -------------------------------------------------------- */

typedef struct {
    PagerTxn *t;
    size_t P, maxkey;
    void (*visit)(Pgno, void *);
    void *arg;
    int leaf_depth;
    uint64_t count;
} Chk;

static int chk_node(Chk *k, PageRef ref, int depth, const uint8_t *lo, size_t lol,
                    const uint8_t *hi, size_t hil)
{
    PagerTxn *t = k->t;
    if (depth >= BT_MAXD)
        return corrupt(t, "tree too deep", ref.pgno);
    Page *pg;
    int rc = get_node(t, ref, k->P, &pg);
    if (rc != BLAZEDB_OK)
        return rc;
    if (k->visit)
        k->visit(ref.pgno, k->arg);
    const uint8_t *d = pg->data;
    int type = d[0];
    unsigned n = nkeys(d);
    const char *bad = NULL;
    size_t sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += cell_len(type, cell_at(d, i));
    if (n == 0)
        bad = "page has no keys";
    else if (sum + rd16(d + 6) != k->P - rd16(d + 4))
        bad = "cell area does not add up (overlapping cells)";
    const uint8_t *pk = lo;
    size_t pkl = lol;
    for (unsigned i = 0; i < n && !bad; i++) {
        size_t kl;
        const uint8_t *key = cell_key(type, cell_at(d, i), &kl);
        if (kl > k->maxkey)
            bad = "key longer than the limit";
        else if (pk && (i > 0 ? keycmp(pk, pkl, key, kl) >= 0 : keycmp(pk, pkl, key, kl) > 0))
            bad = "keys out of order";
        else if (hi && keycmp(key, kl, hi, hil) >= 0)
            bad = "key beyond its parent's separator";
        pk = key;
        pkl = kl;
    }
    if (!bad && type == BT_LEAF) {
        if (k->leaf_depth < 0)
            k->leaf_depth = depth;
        else if (k->leaf_depth != depth)
            bad = "leaves at different depths";
    }
    if (bad) {
        pager_unpin(t, pg);
        return corrupt(t, bad, ref.pgno);
    }
    if (type == BT_LEAF) {
        k->count += n;
        for (unsigned i = 0; i < n && rc == BLAZEDB_OK; i++) {
            const uint8_t *c = cell_at(d, i);
            if (c[2] & LCELL_OVF)
                rc = ovf_walk(t, k->P, rd_ref(c + LCELL_HDR + rd16(c)), rd32(c + 3), NULL,
                              k->visit, k->arg, 0);
        }
    } else {
        for (unsigned i = 0; i <= n && rc == BLAZEDB_OK; i++) {
            size_t l1 = lol, h1 = hil;
            const uint8_t *lk = lo, *hk = hi;
            if (i > 0)
                lk = cell_key(BT_BRANCH, cell_at(d, i - 1), &l1);
            if (i < n)
                hk = cell_key(BT_BRANCH, cell_at(d, i), &h1);
            rc = chk_node(k, branch_child(d, i), depth + 1, lk, l1, hk, h1);
        }
    }
    pager_unpin(t, pg);
    return rc;
}

int btree_check(PagerTxn *t, const PagerRoot *root, void (*visit)(Pgno pgno, void *arg),
                void *arg)
{
    if (!t || !root)
        return BLAZEDB_INVALID_ARGUMENT;
    Chk k;
    k.t = t;
    k.P = pager_payload_size(pager_txn_pager(t));
    k.maxkey = btree_max_key(pager_txn_pager(t));
    k.visit = visit;
    k.arg = arg;
    k.leaf_depth = -1;
    k.count = 0;
    if (root->root.pgno != 0) {
        int rc = chk_node(&k, root->root, 0, NULL, 0, NULL, 0);
        if (rc != BLAZEDB_OK)
            return rc;
    }
    if (k.count != root->count)
        return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                           "btree: tree holds %llu entries but its root says %llu",
                           (unsigned long long)k.count, (unsigned long long)root->count);
    return BLAZEDB_OK;
}

/* ---- relocation (vacuum) ------------------------------------------------------
 *
 * Moves every page of a tree whose number is >= cut to a new page number,
 * by copy-on-write: pager_dirty() gives the copy the pool's next page (the
 * vacuum turns on pager_set_alloc_low, so that is the lowest one) and frees
 * the old number.  A page is made writable only after its parent is (top
 * down, like cow_path), and each parent reference is rewritten at once, so
 * the tree is valid after every single step.  Overflow chains are linked
 * lists: moving page j of a chain rewrites pages 0..j (each holds the
 * reference to the next) and the leaf cell.  The walk goes in key order and
 * can stop between subtrees (or between a leaf's chains) and resume later
 * from a key, in another transaction.
 */

typedef struct {
    PagerTxn *t;
    PagerRoot *root;
    BtRelocate *r;
    size_t P;
    size_t low;                 /* pool pages below the cut still available */
    int active;                 /* still on the resume path */
    Page *path[BT_MAXD];
    unsigned idx[BT_MAXD];
    int depth;
} Rl;

/* Is this committed page one the walk must move? */
static int rl_wants(const Rl *x, const Page *pg)
{
    if (pager_is_dirty(x->t, pg))
        return 0;
    return pg->pgno >= x->r->cut || (x->r->stale_keys && pager_page_stale(x->t, pg));
}

/* One copy-on-write was made, from page `old` (wanted: one the walk must
 * move) to page `nw`. */
static void rl_count(Rl *x, int wanted, Pgno nw)
{
    x->r->cows++;
    if (wanted)
        x->r->moved++;
    if (nw < x->r->cut && x->low > 0)
        x->low--;
}

/* Makes path[l] writable, its ancestors first. */
static int rl_writable(Rl *x, int l)
{
    if (pager_is_dirty(x->t, x->path[l]))
        return BLAZEDB_OK;
    if (l > 0) {
        int rc = rl_writable(x, l - 1);
        if (rc != BLAZEDB_OK)
            return rc;
    }
    int wanted = rl_wants(x, x->path[l]);
    Page *w;
    int rc = pager_dirty(x->t, x->path[l], &w);
    if (rc != BLAZEDB_OK)
        return rc;
    x->path[l] = w;
    if (l == 0)
        x->root->root = page_ref(w);
    else
        branch_set_child(x->path[l - 1]->data, x->idx[l - 1], page_ref(w));
    rl_count(x, wanted, w->pgno);
    return BLAZEDB_OK;
}

/* Should the walk stop before work that needs `need` low pages? Never
 * before the first copy of the call (progress). */
static int rl_should_stop(const Rl *x, size_t need)
{
    if (x->r->cows == 0)
        return 0;
    if (x->r->max_cows && x->r->cows + need > x->r->max_cows)
        return 1;
    return x->low < need;
}

/* Stops the walk; the next call resumes at `key` (or, key == NULL, at the
 * lower bound of child i of path[l]: every key of that subtree is >= it). */
static void rl_stop(Rl *x, int l, unsigned i, const uint8_t *key, size_t klen)
{
    BtRelocate *r = x->r;
    r->stopped = 1;
    if (key) {
        memmove(r->key, key, klen);
        r->klen = klen;
        r->resume = 1;
        return;
    }
    for (int a = l; a >= 0; a--) {
        unsigned c = a == l ? i : x->idx[a];
        if (c >= 1) {
            size_t kl;
            const uint8_t *k = cell_key(BT_BRANCH, cell_at(x->path[a]->data, c - 1), &kl);
            memmove(r->key, k, kl);
            r->klen = kl;
            r->resume = 1;
            return;
        }
    }
    /* the lower bound of the whole walk: where this call started */
}

/* Moves the part of the overflow chain of leaf cell j (of path[l]) up to
 * its last page >= cut.  *stop = 1 when there were not enough low pages. */
static int rl_chain(Rl *x, int l, unsigned j, int *stop)
{
    PagerTxn *t = x->t;
    const uint8_t *c = cell_at(x->path[l]->data, j);
    size_t kl = rd16(c);
    uint64_t vlen = rd32(c + 3);
    PageRef ref = rd_ref(c + LCELL_HDR + kl);
    size_t maxn = (size_t)(vlen / (x->P - OVF_HDR)) + 1;
    PageRef *refs = malloc(maxn * sizeof *refs);
    if (!refs)
        return nomem(t);
    size_t n = 0;
    long last = -1;
    int rc = BLAZEDB_OK;
    while (ref.pgno != 0) {
        Page *pg;
        if (n == maxn) {
            rc = corrupt(t, "overflow chain longer than its value", ref.pgno);
            break;
        }
        if ((rc = pager_get(t, ref, &pg)) != BLAZEDB_OK)
            break;
        if (pg->data[0] != BT_OVERFLOW) {
            pager_unpin(t, pg);
            rc = corrupt(t, "bad overflow page", ref.pgno);
            break;
        }
        refs[n] = ref;
        if (rl_wants(x, pg))
            last = (long)n;
        n++;
        ref = rd_ref(pg->data + 8);
        pager_unpin(t, pg);
    }
    if (rc != BLAZEDB_OK || last < 0) {
        free(refs);
        return rc;
    }
    size_t need = (size_t)last + 1 + (size_t)l + 1;
    if (rl_should_stop(x, need)) {
        size_t klen;
        const uint8_t *k = cell_key(BT_LEAF, c, &klen);
        rl_stop(x, l, 0, k, klen);
        *stop = 1;
        free(refs);
        return BLAZEDB_OK;
    }
    if ((rc = rl_writable(x, l)) != BLAZEDB_OK) {
        free(refs);
        return rc;
    }
    /* Back to front: each copy points at the copy of the page after it. */
    PageRef next = mkref(0, 0);
    for (long i = last; i >= 0; i--) {
        Page *pg, *w;
        if ((rc = pager_get(t, refs[i], &pg)) != BLAZEDB_OK)
            break;
        int wanted = rl_wants(x, pg);
        if ((rc = pager_dirty(t, pg, &w)) != BLAZEDB_OK) {
            pager_unpin(t, pg);
            break;
        }
        if (i < last)
            wr_ref(w->data + 8, next);
        if (w->pgno != refs[i].pgno || w->ctr != refs[i].ctr)
            rl_count(x, wanted, w->pgno);
        next = page_ref(w);
    }
    if (rc == BLAZEDB_OK) {
        uint8_t *wc = x->path[l]->data + cell_off(x->path[l]->data, j);
        wr_ref(wc + LCELL_HDR + kl, next);
    }
    free(refs);
    return rc;
}

static int rl_node(Rl *x, int l)
{
    PagerTxn *t = x->t;
    int rc;
    if (rl_wants(x, x->path[l]) && (rc = rl_writable(x, l)) != BLAZEDB_OK)
        return rc;
    const uint8_t *d = x->path[l]->data;
    unsigned n = nkeys(d);
    if (d[0] == BT_LEAF) {
        unsigned j0 = 0;
        if (x->active) {
            int ex;
            j0 = leaf_search(d, hint_get(t, x->path[l]), x->r->key, x->r->klen, &ex);
            x->active = 0;
        }
        for (unsigned j = j0; j < n; j++) {
            if (!(cell_at(x->path[l]->data, j)[2] & LCELL_OVF))
                continue;
            int stop = 0;
            if ((rc = rl_chain(x, l, j, &stop)) != BLAZEDB_OK || stop)
                return rc;
        }
        return BLAZEDB_OK;
    }
    if (l + 1 >= BT_MAXD)
        return corrupt(t, "tree too deep", x->path[l]->pgno);
    unsigned i0 = x->active ? branch_search(d, hint_get(t, x->path[l]), x->r->key, x->r->klen) : 0;
    for (unsigned i = i0; i <= n; i++) {
        if (rl_should_stop(x, (size_t)l + 2)) {
            rl_stop(x, l, i, NULL, 0);
            return BLAZEDB_OK;
        }
        x->idx[l] = i;
        Page *ch;
        if ((rc = get_node(t, branch_child(x->path[l]->data, i), x->P, &ch)) != BLAZEDB_OK)
            return rc;
        x->path[l + 1] = ch;
        x->depth = l + 2;
        rc = rl_node(x, l + 1);
        pager_unpin(t, x->path[l + 1]);
        x->depth = l + 1;
        if (rc != BLAZEDB_OK || x->r->stopped)
            return rc;
    }
    return BLAZEDB_OK;
}

int btree_relocate(PagerTxn *t, PagerRoot *root, BtRelocate *r)
{
    if (!t || !root || !r)
        return BLAZEDB_INVALID_ARGUMENT;
    if (!pager_txn_is_write(t))
        return pager_error(pager_txn_pager(t), BLAZEDB_READONLY,
                           "btree: relocation in a read transaction");
    r->stopped = 0;
    if (root->root.pgno == 0) {
        r->resume = 0;
        return BLAZEDB_OK;
    }
    Rl x;
    memset(&x, 0, sizeof x);
    x.t = t;
    x.root = root;
    x.r = r;
    x.P = pager_payload_size(pager_txn_pager(t));
    x.low = r->low;
    x.active = r->resume;
    Page *pg;
    int rc = get_node(t, root->root, x.P, &pg);
    if (rc != BLAZEDB_OK)
        return rc;
    x.path[0] = pg;
    x.depth = 1;
    rc = rl_node(&x, 0);
    pager_unpin(t, x.path[0]);
    r->low = x.low;
    if (rc == BLAZEDB_OK && !r->stopped)
        r->resume = 0;
    return rc;
}
