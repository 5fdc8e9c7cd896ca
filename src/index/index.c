/*
 * index.c — secondary indexes: definitions in the catalog, entry sets of a
 * document, maintenance on every write, bulk build, drop, statistics and
 * the integrity check (contract: index.h).
 *
 * Owns: the definition records and the entry trees.  Not: the value order
 * (keyenc.c), deciding when an index is used (the planner), SQL (partial
 * predicates go through IdxPredHooks).
 *
 * Catalog records (catalog tree, meta root 2):
 *   "i" + u64 BE collection id + index name  -> the definition (below)
 *   "j" + index name                         -> u64 LE collection id
 * ("j" makes names unique across the database and lets idx_find and
 * idx_drop find an index by name alone.)
 *
 * Definition value, little-endian:
 *    0  u32 version = 1
 *    4  u32 flags (bit 0: unique)
 *    8  entries root: u32 page, u32 0, u64 version (PageRef ctr)
 *   24  u64 entry count
 *   32  u64 stat_rows (0: no statistics)
 *   40  u8  number of fields n (1..16)
 *   41  n times: u8 field flags (bit 0: descending, bit 1: each),
 *                u16 path length, path (UTF-8, dotted)
 *       u32 predicate length + 1 (0: not partial), predicate text
 *       n times u64 distinct[k]
 *   nothing follows.
 *
 * Entry key: keyenc(field 1) .. keyenc(field n), id bytes, u16 BE id
 * length; value empty.
 *
 * Bulk build: the collection's documents are read in id order and their
 * entries collected in memory; when they pass 64 MiB the run is sorted and
 * loaded into the tree (in key order), and collection goes on.  One run
 * for most collections; later runs check uniqueness against the tree.  Entries of one document are computed from its
 * binary form (docbin_lookup_valid), deduplicated and sorted; a write
 * deletes the entries only the old version has and inserts those only the
 * new one has.
 */
#include "index.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../os/endian.h"
#include "keyenc.h"
#include "../doc/docbin.h"

/* Entries held in memory by a bulk build before a sorted run is loaded
 * (idx_set_build_run_bytes changes it, for tests). */
#define IDX_BUILD_RUN_BYTES ((size_t)64 << 20)
static size_t g_run_bytes = IDX_BUILD_RUN_BYTES;

void idx_set_build_run_bytes(size_t n)
{
    g_run_bytes = n ? n : IDX_BUILD_RUN_BYTES;
}

#define DEF_VERSION 1u
#define FF_DESC 0x1u
#define FF_EACH 0x2u

static IdxPredHooks g_hooks;
static int g_hooks_set;

void idx_set_pred_hooks(const IdxPredHooks *h)
{
    if (h) {
        g_hooks = *h;
        g_hooks_set = 1;
    } else {
        memset(&g_hooks, 0, sizeof g_hooks);
        g_hooks_set = 0;
    }
}

/* ---- small helpers --------------------------------------------------------------- */

static int fail(PagerTxn *t, char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(PagerTxn *t, char *err, size_t errlen, int rc, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "%s", buf);
    if (t)
        pager_error(pager_txn_pager(t), rc, "%s", buf);
    return rc;
}

static PagerRoot *catalog_root(PagerTxn *t)
{
    return &pager_txn_meta(t)->roots[PAGER_ROOT_CATALOG];
}

static void def_prefix(uint64_t coll_id, uint8_t k[9])
{
    k[0] = 'i';
    for (int i = 0; i < 8; i++)
        k[1 + i] = (uint8_t)(coll_id >> (56 - 8 * i));
}

/* "i" + coll id + name */
static size_t def_key(uint64_t coll_id, const char *name, size_t nlen,
                      uint8_t k[9 + IDX_MAX_NAME])
{
    def_prefix(coll_id, k);
    memcpy(k + 9, name, nlen);
    return 9 + nlen;
}

/* "j" + name */
static size_t dir_key(const char *name, size_t nlen, uint8_t k[1 + IDX_MAX_NAME])
{
    k[0] = 'j';
    memcpy(k + 1, name, nlen);
    return 1 + nlen;
}

void idx_def_clear(IdxDef *d)
{
    if (!d)
        return;
    free(d->name);
    for (size_t i = 0; i < IDX_MAX_FIELDS; i++)
        free(d->fields[i].path);
    free(d->where);
    memset(d, 0, sizeof *d);
}

void idx_defs_free(IdxDef *defs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx_def_clear(&defs[i]);
    free(defs);
}

/* ---- definition records ------------------------------------------------------------ */

static int def_encode(const IdxDef *d, uint8_t **out, size_t *outlen)
{
    size_t n = 41 + 4 + (d->where ? strlen(d->where) : 0) + 8 * d->nfields;
    for (size_t i = 0; i < d->nfields; i++)
        n += 3 + strlen(d->fields[i].path);
    uint8_t *r = malloc(n), *p = r;
    if (!r)
        return BLAZEDB_NOMEM;
    put_le32(p, DEF_VERSION);
    put_le32(p + 4, d->flags);
    put_le32(p + 8, d->root.root.pgno);
    put_le32(p + 12, 0);
    put_le64(p + 16, d->root.root.ctr);
    put_le64(p + 24, d->root.count);
    put_le64(p + 32, d->stat_rows);
    p[40] = (uint8_t)d->nfields;
    p += 41;
    for (size_t i = 0; i < d->nfields; i++) {
        size_t pl = strlen(d->fields[i].path);
        *p++ = (uint8_t)((d->fields[i].desc ? FF_DESC : 0) | (d->fields[i].each ? FF_EACH : 0));
        put_le16(p, (uint32_t)pl);
        memcpy(p + 2, d->fields[i].path, pl);
        p += 2 + pl;
    }
    size_t wl = d->where ? strlen(d->where) : 0;
    put_le32(p, d->where ? (uint32_t)wl + 1 : 0);
    if (wl)
        memcpy(p + 4, d->where, wl);
    p += 4 + wl;
    for (size_t i = 0; i < d->nfields; i++, p += 8)
        put_le64(p, d->distinct[i]);
    *out = r;
    *outlen = n;
    return BLAZEDB_OK;
}

static char *dup_n(const void *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

int idx_def_decode(const uint8_t *r, size_t len, uint64_t coll_id, const char *name, size_t nlen,
                   IdxDef *d)
{
    memset(d, 0, sizeof *d);
    if (len < 41 + 4 || get_le32(r) != DEF_VERSION || r[40] < 1 || r[40] > IDX_MAX_FIELDS)
        return 0;
    d->coll_id = coll_id;
    d->flags = get_le32(r + 4);
    d->root.root.pgno = get_le32(r + 8);
    d->root.root.ctr = get_le64(r + 16);
    d->root.count = get_le64(r + 24);
    d->stat_rows = get_le64(r + 32);
    d->nfields = r[40];
    if (!(d->name = dup_n(name, nlen)))
        return -1;
    size_t off = 41;
    for (size_t i = 0; i < d->nfields; i++) {
        if (len - off < 3)
            goto bad;
        uint8_t fl = r[off];
        size_t pl = get_le16(r + off + 1);
        off += 3;
        if (pl == 0 || len - off < pl || memchr(r + off, 0, pl))
            goto bad;
        d->fields[i].desc = (fl & FF_DESC) != 0;
        d->fields[i].each = (fl & FF_EACH) != 0;
        if (!(d->fields[i].path = dup_n(r + off, pl)))
            goto nomem;
        off += pl;
    }
    if (len - off < 4)
        goto bad;
    uint32_t wl = get_le32(r + off);
    off += 4;
    if (wl) {
        if (len - off < wl - 1)
            goto bad;
        if (!(d->where = dup_n(r + off, wl - 1)))
            goto nomem;
        off += wl - 1;
    }
    if (len - off != 8 * d->nfields)
        goto bad;
    for (size_t i = 0; i < d->nfields; i++, off += 8)
        d->distinct[i] = get_le64(r + off);
    if ((d->root.root.pgno == 0) != (d->root.count == 0))
        goto bad;
    return 1;
bad:
    idx_def_clear(d);
    return 0;
nomem:
    idx_def_clear(d);
    return -1;
}

static int def_damaged(PagerTxn *t, int r)
{
    return r < 0 ? pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "out of memory")
                 : pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                               "an index definition in the catalog is damaged");
}

int idx_def_store(PagerTxn *t, const IdxDef *d)
{
    uint8_t k[9 + IDX_MAX_NAME], *v;
    size_t vl, nlen = strlen(d->name);
    if (nlen == 0 || nlen > IDX_MAX_NAME)
        return BLAZEDB_INVALID_ARGUMENT;
    int rc = def_encode(d, &v, &vl);
    if (rc)
        return pager_error(pager_txn_pager(t), rc, "out of memory");
    rc = btree_put(t, catalog_root(t), k, def_key(d->coll_id, d->name, nlen, k), v, vl, NULL);
    free(v);
    return rc;
}

int idx_list(PagerTxn *t, uint64_t coll_id, IdxDef **defs, size_t *n)
{
    *defs = NULL;
    *n = 0;
    uint8_t prefix[9];
    def_prefix(coll_id, prefix);
    BtCursor *cur;
    int rc = btc_open(t, catalog_root(t), &cur);
    if (rc)
        return rc;
    IdxDef *arr = NULL;
    size_t cnt = 0, cap = 0;
    rc = btc_seek(cur, prefix, sizeof prefix, NULL);
    while (rc == BLAZEDB_OK) {
        const void *k, *v;
        size_t kl, vl;
        if ((rc = btc_key(cur, &k, &kl)) || (rc = btc_value(cur, &v, &vl)))
            break;
        if (kl <= sizeof prefix || memcmp(k, prefix, sizeof prefix) != 0)
            break;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 4;
            IdxDef *na = realloc(arr, nc * sizeof *na);
            if (!na) {
                rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "out of memory");
                break;
            }
            arr = na;
            cap = nc;
        }
        int r = idx_def_decode(v, vl, coll_id, (const char *)k + 9, kl - 9, &arr[cnt]);
        if (r != 1) {
            rc = def_damaged(t, r);
            break;
        }
        cnt++;
        rc = btc_next(cur);
    }
    btc_close(cur);
    if (rc == BLAZEDB_NOT_FOUND)
        rc = BLAZEDB_OK;
    if (rc) {
        idx_defs_free(arr, cnt);
        return rc;
    }
    *defs = arr;
    *n = cnt;
    return BLAZEDB_OK;
}

/* The collection id of index `name`: OK, NOT_FOUND, or an error. */
static int dir_get(PagerTxn *t, const char *name, size_t nlen, uint64_t *coll_id)
{
    uint8_t k[1 + IDX_MAX_NAME];
    if (nlen == 0 || nlen > IDX_MAX_NAME)
        return BLAZEDB_NOT_FOUND;
    void *v = NULL;
    size_t vl = 0;
    int rc = btree_get(t, catalog_root(t), k, dir_key(name, nlen, k), &v, &vl);
    if (rc)
        return rc;
    if (vl == 8)
        *coll_id = get_le64(v);
    free(v);
    if (vl != 8)
        return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                           "the catalog entry of index '%.*s' is damaged", (int)nlen, name);
    return BLAZEDB_OK;
}

int idx_find(PagerTxn *t, const char *name, IdxDef *out)
{
    memset(out, 0, sizeof *out);
    size_t nlen = name ? strlen(name) : 0;
    uint64_t cid = 0;
    int rc = dir_get(t, name, nlen, &cid);
    if (rc == BLAZEDB_NOT_FOUND)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOT_FOUND, "no index '%s'",
                           name ? name : "");
    if (rc)
        return rc;
    uint8_t k[9 + IDX_MAX_NAME];
    void *v = NULL;
    size_t vl = 0;
    rc = btree_get(t, catalog_root(t), k, def_key(cid, name, nlen, k), &v, &vl);
    if (rc == BLAZEDB_NOT_FOUND)
        return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                           "index '%s' is listed but has no definition", name);
    if (rc)
        return rc;
    int r = idx_def_decode(v, vl, cid, name, nlen, out);
    free(v);
    return r == 1 ? BLAZEDB_OK : def_damaged(t, r);
}

/* ---- entries of one document ------------------------------------------------------- */

/* A set of entry keys: bytes in an arena, references into it. */
typedef struct {
    KeyBuf a;
    IdxSpan *e;
    size_t n, cap;
} Entries;

static void ents_free(Entries *s)
{
    free(s->a.p);
    free(s->e);
    memset(s, 0, sizeof *s);
}

static void ents_reset(Entries *s)
{
    s->a.len = 0;
    s->n = 0;
}

static const uint8_t *ent_p(const Entries *s, size_t i) { return s->a.p + s->e[i].off; }

static int ent_cmp_raw(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int ent_qcmp(const void *x, const void *y, void *arg)
{
    const KeyBuf *a = arg;
    const IdxSpan *ex = x, *ey = y;
    return ent_cmp_raw(a->p + ex->off, ex->len, a->p + ey->off, ey->len);
}

/* Sorts and removes duplicates from entries [from, n). */
static void ents_sort(Entries *s, size_t from)
{
    size_t m = s->n - from;
    if (m < 2)
        return;
    qsort_r(s->e + from, m, sizeof *s->e, ent_qcmp, &s->a);
    size_t w = from + 1;
    for (size_t i = from + 1; i < s->n; i++) {
        const IdxSpan *p = &s->e[w - 1], *q = &s->e[i];
        if (p->len == q->len && memcmp(s->a.p + p->off, s->a.p + q->off, p->len) == 0)
            continue;
        s->e[w++] = *q;
    }
    s->n = w;
}

/* Appends {off, len} to the growing array *e (*n used of *cap). */
static int span_push(IdxSpan **e, size_t *n, size_t *cap, size_t off, size_t len)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        IdxSpan *ne = realloc(*e, nc * sizeof *ne);
        if (!ne)
            return BLAZEDB_NOMEM;
        *e = ne;
        *cap = nc;
    }
    (*e)[*n].off = off;
    (*e)[*n].len = len;
    (*n)++;
    return BLAZEDB_OK;
}

static int ents_push(Entries *s, size_t off, size_t len)
{
    return span_push(&s->e, &s->n, &s->cap, off, len);
}

/* Bytes of the n components of an entry key (the key minus id and length). */
static size_t ent_prefix_len(const uint8_t *k, size_t kl)
{
    if (kl < 2)
        return 0;
    size_t idl = (size_t)k[kl - 2] << 8 | k[kl - 1];
    return idl + 2 <= kl ? kl - 2 - idl : 0;
}

int idx_key_has_null(const IdxDef *d, const uint8_t *p, size_t pl)
{
    size_t off = 0;
    for (size_t i = 0; i < d->nfields && off < pl; i++) {
        uint8_t tag = p[off] ^ (d->fields[i].desc ? 0xff : 0);
        if (tag == 0x05)
            return 1;
        size_t n = keyenc_skip(p + off, pl - off, d->fields[i].desc);
        if (!n)
            return 0;
        off += n;
    }
    return 0;
}

int idx_key_id(const uint8_t *key, size_t klen, const char **id, size_t *idlen)
{
    if (!key || klen < 3)
        return BLAZEDB_CORRUPT;
    size_t n = (size_t)key[klen - 2] << 8 | key[klen - 1];
    if (n == 0 || n + 2 > klen)
        return BLAZEDB_CORRUPT;
    *id = (const char *)key + klen - 2 - n;
    *idlen = n;
    return BLAZEDB_OK;
}

void idx_doc_keys_free(IdxDocKeys *k)
{
    free(k->keys.p);
    free(k->e);
    free(k->comp.p);
    free(k->alts.p);
    free(k->aoff);
    memset(k, 0, sizeof *k);
}

static int keys_push(IdxDocKeys *k, size_t off, size_t len)
{
    return span_push(&k->e, &k->n, &k->cap, off, len);
}

int idx_doc_keys(const IdxDef *d, void *pred, const char *id, size_t idlen, const uint8_t *bin,
                 size_t len, int soft_deleted, IdxDocKeys *k)
{
    k->n = 0;
    k->keys.len = 0;
    if (soft_deleted < 0 ? cat_doc_deleted(bin, len) : soft_deleted)
        return BLAZEDB_OK;
    if (d->where) {
        int r = pred && g_hooks.eval ? g_hooks.eval(pred, bin, len) : -BLAZEDB_INVALID_ARGUMENT;
        if (r < 0)
            return -r;
        if (r == 0)
            return BLAZEDB_OK;
    }
    /* the components: fixed ones encoded once into `comp`, the `each`
     * field's alternatives into `alts` (aoff[j] .. aoff[j + 1]) */
    KeyBuf *comp = &k->comp, *alts = &k->alts;
    comp->len = alts->len = 0;
    size_t cend[IDX_MAX_FIELDS];
    size_t nalt = 1, each_at = (size_t)-1;
    int rc = BLAZEDB_OK;
    for (size_t i = 0; i < d->nfields && !rc; i++) {
        DocView v;
        int lr = docbin_lookup_valid(bin, len, d->fields[i].path, &v);
        if (lr && lr != BLAZEDB_NOT_FOUND)
            return BLAZEDB_CORRUPT;
        const DocView *vp = lr ? NULL : &v;
        if (d->fields[i].each && vp && vp->type == DOC_ARRAY) {
            each_at = i;
            nalt = vp->count;
            if (nalt == 0)
                return BLAZEDB_OK; /* an empty array gives no entry */
            if (k->acap < nalt + 1) {
                size_t *na = realloc(k->aoff, (nalt + 1) * sizeof *na);
                if (!na)
                    return BLAZEDB_NOMEM;
                k->aoff = na;
                k->acap = nalt + 1;
            }
            for (size_t j = 0; j < nalt && !rc; j++) {
                DocView e;
                k->aoff[j] = alts->len;
                if (docbin_view_elem(vp, j, &e))
                    rc = BLAZEDB_CORRUPT;
                else
                    rc = keyenc_view(alts, &e, d->fields[i].desc);
            }
            k->aoff[nalt] = alts->len;
            cend[i] = comp->len;
            continue;
        }
        rc = keyenc_view(comp, vp, d->fields[i].desc);
        cend[i] = comp->len;
    }
    if (rc)
        return rc == BLAZEDB_NOMEM ? rc : BLAZEDB_CORRUPT;
    const size_t *aoff = k->aoff;
    for (size_t j = 0; j < nalt && !rc; j++) {
        /* one entry per distinct element */
        int dup = 0;
        if (each_at != (size_t)-1)
            for (size_t q = 0; q < j && !dup; q++)
                dup = aoff[q + 1] - aoff[q] == aoff[j + 1] - aoff[j] &&
                      memcmp(alts->p + aoff[q], alts->p + aoff[j], aoff[j + 1] - aoff[j]) == 0;
        if (dup)
            continue;
        size_t start = k->keys.len;
        size_t before = each_at == (size_t)-1 ? comp->len : (each_at ? cend[each_at - 1] : 0);
        uint8_t idl[2] = {(uint8_t)(idlen >> 8), (uint8_t)idlen};
        if ((rc = keybuf_put(&k->keys, comp->p, before)))
            break;
        if (each_at != (size_t)-1 &&
            ((rc = keybuf_put(&k->keys, alts->p + aoff[j], aoff[j + 1] - aoff[j])) ||
             (rc = keybuf_put(&k->keys, comp->p + before, comp->len - before))))
            break;
        if ((rc = keybuf_put(&k->keys, id, idlen)) || (rc = keybuf_put(&k->keys, idl, 2)))
            break;
        rc = keys_push(k, start, k->keys.len - start);
    }
    return rc ? BLAZEDB_NOMEM : BLAZEDB_OK;
}

/*
 * Appends the entries of document `id` (binary bin[0..len); NULL: none) to
 * *s, sorted and without duplicates (idx_doc_keys, with the messages, and
 * the key-size limit of this database).  `scratch` is reused from call to
 * call.
 */
static int doc_entries(PagerTxn *t, const IdxDef *d, void *pred, const char *id, size_t idlen,
                       const uint8_t *bin, size_t len, IdxDocKeys *scratch, Entries *s,
                       char *err, size_t errlen)
{
    if (!bin)
        return BLAZEDB_OK;
    int rc = idx_doc_keys(d, pred, id, idlen, bin, len, -1, scratch);
    if (rc == BLAZEDB_NOMEM)
        return fail(t, err, errlen, rc, "out of memory");
    if (rc == BLAZEDB_CORRUPT)
        return fail(t, err, errlen, rc, "index %s: document '%.*s' is damaged", d->name,
                    (int)idlen, id);
    if (rc)
        return fail(t, err, errlen, rc, "index %s: its predicate failed on document '%.*s'",
                    d->name, (int)idlen, id);
    size_t maxk = btree_max_key(pager_txn_pager(t));
    size_t first = s->n;
    for (size_t i = 0; i < scratch->n && !rc; i++) {
        size_t kl = scratch->e[i].len;
        if (kl > maxk)
            return fail(t, err, errlen, BLAZEDB_TOO_BIG,
                        "index %s: the key of document '%.*s' is %zu bytes, longer than the "
                        "limit of %zu",
                        d->name, (int)idlen, id, kl, maxk);
        size_t start = s->a.len;
        if ((rc = keybuf_put(&s->a, scratch->keys.p + scratch->e[i].off, kl)) ||
            (rc = ents_push(s, start, kl)))
            return fail(t, err, errlen, BLAZEDB_NOMEM, "out of memory");
    }
    ents_sort(s, first);
    return BLAZEDB_OK;
}

/* ---- predicates --------------------------------------------------------------------- */

int idx_pred_compile(const IdxDef *d, void **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (msg && msglen)
        msg[0] = 0;
    if (!d->where)
        return BLAZEDB_OK;
    if (!g_hooks_set || !g_hooks.compile || !g_hooks.eval) {
        snprintf(msg, msglen, "partial indexes need the SQL layer");
        return BLAZEDB_INVALID_ARGUMENT;
    }
    int rc = g_hooks.compile(d->where, out, msg, msglen);
    if (rc && msg && msglen && !msg[0])
        snprintf(msg, msglen, "does not compile");
    return rc;
}

void idx_pred_free(void *pred)
{
    if (pred && g_hooks.free)
        g_hooks.free(pred);
}

static int pred_compile(PagerTxn *t, const IdxDef *d, void **out, char *err, size_t errlen)
{
    char msg[256];
    int rc = idx_pred_compile(d, out, msg, sizeof msg);
    if (rc == BLAZEDB_INVALID_ARGUMENT && !g_hooks_set)
        return fail(t, err, errlen, rc, "index %s: %s", d->name, msg);
    if (rc)
        return fail(t, err, errlen, rc, "index %s: predicate: %s", d->name, msg);
    return BLAZEDB_OK;
}

/* ---- unique check ------------------------------------------------------------------- */

/* Refuses entry key k if another document already has its components. */
static int unique_check(PagerTxn *t, IdxDef *d, const uint8_t *k, size_t kl, char *err,
                        size_t errlen, int bulk)
{
    size_t pl = ent_prefix_len(k, kl);
    if (!(d->flags & IDX_F_UNIQUE) || d->root.count == 0 || idx_key_has_null(d, k, pl))
        return BLAZEDB_OK;
    const char *myid;
    size_t myl;
    idx_key_id(k, kl, &myid, &myl);
    BtCursor *cur;
    int rc = btc_open(t, &d->root, &cur);
    if (rc)
        return rc;
    rc = btc_seek(cur, k, pl, NULL);
    while (rc == BLAZEDB_OK) {
        const void *ok;
        size_t okl;
        if ((rc = btc_key(cur, &ok, &okl)))
            break;
        if (okl < pl || memcmp(ok, k, pl) != 0)
            break;
        const char *oid;
        size_t oidl;
        if (idx_key_id(ok, okl, &oid, &oidl) == BLAZEDB_OK &&
            (oidl != myl || memcmp(oid, myid, myl) != 0)) {
            if (bulk)
                rc = fail(t, err, errlen, BLAZEDB_CONSTRAINT,
                          "unique index %s: duplicate key for ids %.*s and %.*s", d->name,
                          (int)oidl, oid, (int)myl, myid);
            else
                rc = fail(t, err, errlen, BLAZEDB_CONSTRAINT,
                          "unique index %s: id %.*s already has this value", d->name,
                          (int)oidl, oid);
            break;
        }
        rc = btc_next(cur);
    }
    btc_close(cur);
    return rc == BLAZEDB_NOT_FOUND ? BLAZEDB_OK : rc;
}

/* ---- maintenance -------------------------------------------------------------------- */

/* Brings index d from the old version of document id to the new one. */
static int update_one(PagerTxn *t, IdxDef *d, void *pred, IdxDocKeys *keys, const char *id,
                      size_t idlen, const uint8_t *oldbin, size_t oldlen,
                      const uint8_t *newbin, size_t newlen, char *err, size_t errlen)
{
    Entries o = {0}, n = {0};
    int rc = doc_entries(t, d, pred, id, idlen, oldbin, oldlen, keys, &o, err, errlen);
    if (!rc)
        rc = doc_entries(t, d, pred, id, idlen, newbin, newlen, keys, &n, err, errlen);
    int changed = 0;
    /* deletions first, so a document may move its own unique value */
    size_t i = 0, j = 0;
    while (!rc && i < o.n) {
        int c = j < n.n ? ent_cmp_raw(ent_p(&o, i), o.e[i].len, ent_p(&n, j), n.e[j].len) : -1;
        if (c < 0) {
            rc = btree_delete(t, &d->root, ent_p(&o, i), o.e[i].len, NULL);
            changed = 1;
            i++;
        } else if (c > 0) {
            j++;
        } else {
            i++;
            j++;
        }
    }
    i = j = 0;
    while (!rc && j < n.n) {
        int c = i < o.n ? ent_cmp_raw(ent_p(&o, i), o.e[i].len, ent_p(&n, j), n.e[j].len) : 1;
        if (c > 0) {
            rc = unique_check(t, d, ent_p(&n, j), n.e[j].len, err, errlen, 0);
            if (!rc)
                rc = btree_put(t, &d->root, ent_p(&n, j), n.e[j].len, "", 0, NULL);
            changed = 1;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            i++;
            j++;
        }
    }
    if (!rc && changed)
        rc = idx_def_store(t, d);
    ents_free(&o);
    ents_free(&n);
    return rc;
}

struct IdxSet {
    IdxDef *defs;
    size_t n;
    void **preds;       /* compiled partial-index predicates (or NULL) */
    IdxDocKeys keys;    /* scratch */
};

void idx_set_free(IdxSet *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n && s->preds; i++)
        idx_pred_free(s->preds[i]);
    free(s->preds);
    idx_defs_free(s->defs, s->n);
    idx_doc_keys_free(&s->keys);
    free(s);
}

int idx_set_load(PagerTxn *t, const CatColl *c, IdxSet **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!(c->flags & CAT_F_HAS_INDEXES))
        return BLAZEDB_OK;
    IdxSet *s = calloc(1, sizeof *s);
    if (!s)
        return fail(t, err, errlen, BLAZEDB_NOMEM, "out of memory");
    int rc = idx_list(t, c->id, &s->defs, &s->n);
    if (!rc && s->n && !(s->preds = calloc(s->n, sizeof *s->preds)))
        rc = fail(t, err, errlen, BLAZEDB_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < s->n; i++)
        rc = pred_compile(t, &s->defs[i], &s->preds[i], err, errlen);
    if (rc) {
        idx_set_free(s);
        return rc;
    }
    *out = s;
    return BLAZEDB_OK;
}

int idx_set_update(PagerTxn *t, IdxSet *s, const char *id, size_t idlen, const uint8_t *oldbin,
                   size_t oldlen, const uint8_t *newbin, size_t newlen, char *err,
                   size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!s || (!oldbin && !newbin))
        return BLAZEDB_OK;
    int rc = BLAZEDB_OK;
    for (size_t i = 0; !rc && i < s->n; i++)
        rc = update_one(t, &s->defs[i], s->preds[i], &s->keys, id, idlen, oldbin, oldlen,
                        newbin, newlen, err, errlen);
    return rc;
}

/* ---- statistics --------------------------------------------------------------------- */

/* Ends of the n components of entry key k (offs[i] = end of component i). */
static int comp_ends(const IdxDef *d, const uint8_t *k, size_t kl, size_t *offs)
{
    size_t pl = ent_prefix_len(k, kl), off = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        size_t n = keyenc_skip(k + off, pl - off, d->fields[i].desc);
        if (!n)
            return -1;
        off += n;
        offs[i] = off;
    }
    return off == pl ? 0 : -1;
}

static int analyze(PagerTxn *t, IdxDef *d)
{
    uint64_t distinct[IDX_MAX_FIELDS] = {0}, rows = 0;
    uint8_t *prev = NULL;
    size_t prevl = 0, poffs[IDX_MAX_FIELDS] = {0}, offs[IDX_MAX_FIELDS];
    int rc = BLAZEDB_OK;
    if (d->root.count) {
        BtCursor *cur;
        if ((rc = btc_open(t, &d->root, &cur)))
            return rc;
        rc = btc_first(cur);
        while (rc == BLAZEDB_OK) {
            const void *kv;
            size_t kl;
            if ((rc = btc_key(cur, &kv, &kl)))
                break;
            const uint8_t *k = kv;
            if (comp_ends(d, k, kl, offs)) {
                rc = pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                                 "index %s: an entry key is damaged", d->name);
                break;
            }
            size_t same = 0; /* leading components equal to the previous key's */
            if (prev)
                while (same < d->nfields && offs[same] == poffs[same] &&
                       memcmp(k, prev, offs[same]) == 0)
                    same++;
            for (size_t i = same; i < d->nfields; i++)
                distinct[i]++;
            rows++;
            if (kl > prevl || !prev) {
                uint8_t *np = realloc(prev, kl);
                if (!np) {
                    rc = pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "out of memory");
                    break;
                }
                prev = np;
            }
            memcpy(prev, k, kl);
            prevl = kl;
            memcpy(poffs, offs, sizeof offs);
            rc = btc_next(cur);
        }
        btc_close(cur);
        if (rc == BLAZEDB_NOT_FOUND)
            rc = BLAZEDB_OK;
    }
    free(prev);
    if (rc)
        return rc;
    d->stat_rows = rows;
    memcpy(d->distinct, distinct, sizeof distinct);
    return BLAZEDB_OK;
}

int idx_analyze(PagerTxn *t, const char *name)
{
    IdxDef d;
    int rc = idx_find(t, name, &d);
    if (rc)
        return rc;
    rc = analyze(t, &d);
    if (!rc)
        rc = idx_def_store(t, &d);
    idx_def_clear(&d);
    return rc;
}

/* ---- create ------------------------------------------------------------------------- */

static int path_ok(const char *path)
{
    if (!path || !*path)
        return 0;
    const char *p = path, *seg;
    size_t len;
    int r;
    while ((r = doc_path_next(&p, &seg, &len)) == 1)
        ;
    return r == 0 && doc_name_valid(path, strlen(path));
}

static int validate(PagerTxn *t, const IdxDef *d, char *err, size_t errlen)
{
    size_t nlen = d->name ? strlen(d->name) : 0;
    if (!d->name || cat_name_ok(d->name, nlen))
        return fail(t, err, errlen, BLAZEDB_INVALID_ARGUMENT,
                    "invalid index name (1..%d bytes of UTF-8, no control characters)",
                    IDX_MAX_NAME);
    if (d->nfields < 1 || d->nfields > IDX_MAX_FIELDS)
        return fail(t, err, errlen, BLAZEDB_INVALID_ARGUMENT,
                    "index %s: an index has 1..%d fields", d->name, IDX_MAX_FIELDS);
    if (d->flags & ~IDX_F_UNIQUE)
        return fail(t, err, errlen, BLAZEDB_INVALID_ARGUMENT, "index %s: unknown flags 0x%x",
                    d->name, (unsigned)d->flags);
    int each = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        const char *p = d->fields[i].path;
        if (!path_ok(p) || strlen(p) > 0xffff)
            return fail(t, err, errlen, BLAZEDB_INVALID_ARGUMENT,
                        "index %s: field %zu has an invalid path", d->name, i + 1);
        if (d->fields[i].each && each++)
            return fail(t, err, errlen, BLAZEDB_INVALID_ARGUMENT,
                        "index %s: at most one field may index array elements", d->name);
    }
    if (d->where && strlen(d->where) >= 0xffffffffu)
        return fail(t, err, errlen, BLAZEDB_TOO_BIG, "index %s: predicate too long", d->name);
    return BLAZEDB_OK;
}

/* Sorts the entries of a run and loads them into the tree in order; checks
 * uniqueness inside the run and, past the first run, against the tree. */
static int load_run(PagerTxn *t, IdxDef *d, Entries *s, int first_run, char *err,
                    size_t errlen)
{
    ents_sort(s, 0);
    int uniq = (d->flags & IDX_F_UNIQUE) != 0;
    int rc = BLAZEDB_OK;
    for (size_t i = 0; i < s->n && !rc; i++) {
        const uint8_t *k = ent_p(s, i);
        size_t kl = s->e[i].len;
        if (uniq && i > 0) {
            const uint8_t *pk = ent_p(s, i - 1);
            size_t pkl = s->e[i - 1].len;
            size_t pl = ent_prefix_len(k, kl), ppl = ent_prefix_len(pk, pkl);
            if (pl == ppl && memcmp(k, pk, pl) == 0 && !idx_key_has_null(d, k, pl)) {
                const char *a, *b;
                size_t al, bl;
                idx_key_id(pk, pkl, &a, &al);
                idx_key_id(k, kl, &b, &bl);
                rc = fail(t, err, errlen, BLAZEDB_CONSTRAINT,
                          "unique index %s: duplicate key for ids %.*s and %.*s", d->name,
                          (int)al, a, (int)bl, b);
                break;
            }
        }
        if (uniq && !first_run && (rc = unique_check(t, d, k, kl, err, errlen, 1)))
            break;
        rc = btree_put(t, &d->root, k, kl, "", 0, NULL);
    }
    ents_reset(s);
    return rc;
}

/* Reads every document of c and loads the index's entries. */
static int bulk_build(PagerTxn *t, CatColl *c, IdxDef *d, void *pred, char *err,
                      size_t errlen)
{
    if (!c->docs.root.pgno)
        return BLAZEDB_OK;
    Entries s = {0};
    IdxDocKeys keys = {0};
    BtCursor *cur;
    int rc = btc_open(t, &c->docs, &cur), first_run = 1;
    if (rc)
        return rc;
    rc = btc_first(cur);
    while (rc == BLAZEDB_OK) {
        const void *k, *v;
        size_t kl, vl;
        if ((rc = btc_key(cur, &k, &kl)) || (rc = btc_value(cur, &v, &vl)))
            break;
        if ((rc = doc_entries(t, d, pred, k, kl, v, vl, &keys, &s, err, errlen)))
            break;
        if (s.a.len + s.n * sizeof(IdxSpan) > g_run_bytes) {
            /* the tree changes under the cursor; it re-seeks by itself */
            if ((rc = load_run(t, d, &s, first_run, err, errlen)))
                break;
            first_run = 0;
        }
        rc = btc_next(cur);
    }
    btc_close(cur);
    if (rc == BLAZEDB_NOT_FOUND)
        rc = load_run(t, d, &s, first_run, err, errlen);
    ents_free(&s);
    idx_doc_keys_free(&keys);
    return rc;
}

int idx_create(PagerTxn *t, CatColl *c, IdxDef *d, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    d->coll_id = c->id;
    memset(&d->root, 0, sizeof d->root);
    d->stat_rows = 0;
    memset(d->distinct, 0, sizeof d->distinct);
    int rc = validate(t, d, err, errlen);
    if (rc)
        return rc;
    size_t nlen = strlen(d->name);
    uint64_t other;
    rc = dir_get(t, d->name, nlen, &other);
    if (rc == BLAZEDB_OK)
        return fail(t, err, errlen, BLAZEDB_EXISTS, "index '%s' already exists", d->name);
    if (rc != BLAZEDB_NOT_FOUND)
        return rc;
    void *pred = NULL;
    if ((rc = pred_compile(t, d, &pred, err, errlen)))
        return rc;
    rc = bulk_build(t, c, d, pred, err, errlen);
    idx_pred_free(pred);
    if (!rc)
        rc = analyze(t, d);
    if (!rc)
        rc = idx_def_store(t, d);
    if (!rc) {
        uint8_t k[1 + IDX_MAX_NAME], v[8];
        put_le64(v, c->id);
        rc = btree_put(t, catalog_root(t), k, dir_key(d->name, nlen, k), v, 8, NULL);
    }
    if (rc) {
        /* the caller rolls the transaction back; free what we can anyway */
        btree_drop(t, &d->root);
        return rc;
    }
    c->flags |= CAT_F_HAS_INDEXES;
    return BLAZEDB_OK;
}

/* ---- drop --------------------------------------------------------------------------- */

static int drop_def(PagerTxn *t, IdxDef *d)
{
    int rc = btree_drop(t, &d->root);
    size_t nlen = strlen(d->name);
    uint8_t k[9 + IDX_MAX_NAME];
    if (!rc)
        rc = btree_delete(t, catalog_root(t), k, def_key(d->coll_id, d->name, nlen, k), NULL);
    if (!rc)
        rc = btree_delete(t, catalog_root(t), k, dir_key(d->name, nlen, k), NULL);
    return rc;
}

typedef struct {
    PagerTxn *t;
    uint64_t id;
    int rc;
} ClearFlag;

static int clear_flag_one(const char *name, size_t len, const CatColl *c, void *arg)
{
    ClearFlag *a = arg;
    if (c->id != a->id)
        return 0;
    CatColl n = *c;
    n.flags &= ~CAT_F_HAS_INDEXES;
    a->rc = cat_put(a->t, name, len, &n);
    return 1; /* stop */
}

int idx_drop(PagerTxn *t, const char *name, uint64_t *coll_id)
{
    IdxDef d;
    int rc = idx_find(t, name, &d);
    if (rc)
        return rc;
    if (coll_id)
        *coll_id = d.coll_id;
    rc = drop_def(t, &d);
    if (!rc) {
        /* the collection's last index: clear its flag */
        IdxDef *rest;
        size_t n;
        rc = idx_list(t, d.coll_id, &rest, &n);
        idx_defs_free(rest, n);
        if (!rc && n == 0) {
            ClearFlag a = {t, d.coll_id, BLAZEDB_OK};
            rc = cat_each(t, clear_flag_one, &a);
            rc = rc == 1 ? a.rc : rc;
        }
    }
    idx_def_clear(&d);
    return rc;
}

int idx_drop_all(PagerTxn *t, uint64_t coll_id)
{
    IdxDef *defs;
    size_t n;
    int rc = idx_list(t, coll_id, &defs, &n);
    for (size_t i = 0; !rc && i < n; i++)
        rc = drop_def(t, &defs[i]);
    idx_defs_free(defs, n);
    return rc;
}

/* ---- checks ------------------------------------------------------------------------- */

static int check_def(PagerTxn *t, const CatColl *c, IdxDef *d, char *err, size_t errlen)
{
    void *pred = NULL;
    int rc = pred_compile(t, d, &pred, err, errlen);
    if (rc)
        return rc;
    Entries s = {0};
    IdxDocKeys keys = {0};
    uint64_t expected = 0;
    /* 1. every document's entries are present */
    if (c->docs.root.pgno) {
        BtCursor *cur;
        if ((rc = btc_open(t, (PagerRoot *)&c->docs, &cur)))
            goto out;
        rc = btc_first(cur);
        while (rc == BLAZEDB_OK) {
            const void *k, *v;
            size_t kl, vl;
            if ((rc = btc_key(cur, &k, &kl)) || (rc = btc_value(cur, &v, &vl)))
                break;
            ents_reset(&s);
            if ((rc = doc_entries(t, d, pred, k, kl, v, vl, &keys, &s, err, errlen)))
                break;
            for (size_t i = 0; i < s.n && !rc; i++) {
                void *val = NULL;
                size_t vlen;
                int g = btree_get(t, &d->root, ent_p(&s, i), s.e[i].len, &val, &vlen);
                free(val);
                if (g == BLAZEDB_NOT_FOUND)
                    rc = fail(t, err, errlen, BLAZEDB_CORRUPT,
                              "index %s: an entry of document '%.*s' is missing", d->name,
                              (int)kl, (const char *)k);
                else
                    rc = g;
            }
            expected += s.n;
            if (!rc)
                rc = btc_next(cur);
        }
        btc_close(cur);
        if (rc == BLAZEDB_NOT_FOUND)
            rc = BLAZEDB_OK;
        if (rc)
            goto out;
    }
    /* 2. no other entries: find the first stale one for the message */
    if (d->root.count != expected) {
        BtCursor *cur;
        if ((rc = btc_open(t, &d->root, &cur)))
            goto out;
        int found = 0;
        rc = btc_first(cur);
        while (rc == BLAZEDB_OK && !found) {
            const void *kv;
            size_t kl;
            if ((rc = btc_key(cur, &kv, &kl)))
                break;
            const char *id;
            size_t idl;
            void *doc = NULL;
            size_t dl = 0;
            if (idx_key_id(kv, kl, &id, &idl)) {
                found = 1;
                rc = fail(t, err, errlen, BLAZEDB_CORRUPT, "index %s: a damaged entry key",
                          d->name);
                break;
            }
            uint8_t *kc = malloc(kl);
            if (!kc) {
                rc = BLAZEDB_NOMEM;
                break;
            }
            memcpy(kc, kv, kl);
            idx_key_id(kc, kl, &id, &idl);
            int g = c->docs.root.pgno ? btree_get(t, (PagerRoot *)&c->docs, id, idl, &doc, &dl)
                                      : BLAZEDB_NOT_FOUND;
            int in = 0;
            if (g == BLAZEDB_OK) {
                ents_reset(&s);
                g = doc_entries(t, d, pred, id, idl, doc, dl, &keys, &s, err, errlen);
                for (size_t i = 0; !g && i < s.n && !in; i++)
                    in = s.e[i].len == kl && memcmp(ent_p(&s, i), kc, kl) == 0;
            } else if (g == BLAZEDB_NOT_FOUND) {
                g = BLAZEDB_OK;
            }
            free(doc);
            if (g)
                rc = g;
            else if (!in) {
                found = 1;
                rc = fail(t, err, errlen, BLAZEDB_CORRUPT,
                          "index %s: stale entry for document '%.*s'", d->name, (int)idl, id);
            }
            free(kc);
            if (!rc)
                rc = btc_next(cur);
        }
        btc_close(cur);
        if (rc == BLAZEDB_NOT_FOUND || rc == BLAZEDB_OK)
            rc = fail(t, err, errlen, BLAZEDB_CORRUPT,
                      "index %s: %llu entries, the documents give %llu", d->name,
                      (unsigned long long)d->root.count, (unsigned long long)expected);
    }
out:
    idx_pred_free(pred);
    ents_free(&s);
    idx_doc_keys_free(&keys);
    return rc;
}

int idx_check(PagerTxn *t, const CatColl *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    IdxDef *defs;
    size_t n;
    int rc = idx_list(t, c->id, &defs, &n);
    if (rc)
        return rc;
    if (n && !(c->flags & CAT_F_HAS_INDEXES))
        rc = fail(t, err, errlen, BLAZEDB_CORRUPT,
                  "collection %llu has indexes but not the flag that says so",
                  (unsigned long long)c->id);
    for (size_t i = 0; !rc && i < n; i++) {
        if ((rc = btree_check(t, &defs[i].root, NULL, NULL))) {
            fail(t, err, errlen, rc, "index %s: %s", defs[i].name,
                 pager_errmsg(pager_txn_pager(t)));
            break;
        }
        rc = check_def(t, c, &defs[i], err, errlen);
    }
    idx_defs_free(defs, n);
    return rc;
}

int idx_check_trees(PagerTxn *t, void (*visit)(Pgno pgno, void *arg), void *arg)
{
    BtCursor *cur;
    int rc = btc_open(t, catalog_root(t), &cur);
    if (rc)
        return rc;
    rc = btc_seek(cur, "i", 1, NULL);
    while (rc == BLAZEDB_OK) {
        const void *k, *v;
        size_t kl, vl;
        if ((rc = btc_key(cur, &k, &kl)) || (rc = btc_value(cur, &v, &vl)))
            break;
        if (kl < 1 || ((const uint8_t *)k)[0] != 'i')
            break;
        if (kl <= 9) {
            rc = def_damaged(t, 0);
            break;
        }
        IdxDef d;
        const uint8_t *kb = k;
        uint64_t cid = 0;
        for (int i = 1; i <= 8; i++)
            cid = (cid << 8) | kb[i];
        int r = idx_def_decode(v, vl, cid, (const char *)kb + 9, kl - 9, &d);
        if (r != 1) {
            rc = def_damaged(t, r);
            break;
        }
        if (d.root.root.pgno)
            rc = btree_check(t, &d.root, visit, arg);
        idx_def_clear(&d);
        if (!rc)
            rc = btc_next(cur);
    }
    btc_close(cur);
    return rc == BLAZEDB_NOT_FOUND ? BLAZEDB_OK : rc;
}
