/*
 * catalog.c — collection records and the change log (formats: catalog.h).
 *
 * Knows B+trees and byte layouts, not documents: callers hand it encoded
 * documents and ids.
 */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "../os/endian.h"
#include "../doc/docbin.h"

static PagerRoot *catalog_root(PagerTxn *t)
{
    return &pager_txn_meta(t)->roots[PAGER_ROOT_CATALOG];
}

static PagerRoot *changes_root(PagerTxn *t)
{
    return &pager_txn_meta(t)->roots[PAGER_ROOT_CHANGES];
}

int cat_doc_deleted(const uint8_t *bin, size_t len)
{
    DocView v;
    return docbin_lookup_valid(bin, len, "isDeleted", &v) == BLAZEDB_OK && v.type == DOC_BOOL &&
           v.b;
}

int cat_name_ok(const char *name, size_t len)
{
    if (!name || len == 0 || len > CAT_MAX_NAME)
        return -1;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return -1;
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (i + n > len)
            return -1;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        i += n;
    }
    return 0;
}

/* "c" + name */
static size_t coll_key(const char *name, size_t len, uint8_t *k)
{
    k[0] = 'c';
    memcpy(k + 1, name, len);
    return len + 1;
}

static void encode(const CatColl *c, uint8_t r[CAT_RECORD_SIZE])
{
    memset(r, 0, CAT_RECORD_SIZE);
    put_le32(r, 1);
    put_le32(r + 4, c->flags);
    put_le64(r + 8, c->id);
    put_le32(r + 16, c->docs.root.pgno);
    put_le64(r + 24, c->docs.root.ctr);
    put_le64(r + 32, c->docs.count);
    put_le64(r + 40, c->deleted);
    put_le64(r + 48, c->bytes);
    put_le64(r + 56, c->created_ms);
}

int cat_record_decode(const uint8_t *r, size_t len, CatColl *c)
{
    if (len != CAT_RECORD_SIZE || get_le32(r) != 1)
        return -1;
    memset(c, 0, sizeof *c);
    c->flags = get_le32(r + 4);
    c->id = get_le64(r + 8);
    c->docs.root.pgno = get_le32(r + 16);
    c->docs.root.ctr = get_le64(r + 24);
    c->docs.count = get_le64(r + 32);
    c->deleted = get_le64(r + 40);
    c->bytes = get_le64(r + 48);
    c->created_ms = get_le64(r + 56);
    if (c->deleted > c->docs.count || (c->docs.root.pgno == 0) != (c->docs.count == 0))
        return -1;
    return 0;
}

/*
 * The last collection record a read transaction of this thread looked up,
 * with the catalog version it came from.  A committed page version
 * ({page, writer's txn id}) never changes, so as long as a read snapshot
 * of the same open has the same catalog root, the record is the same: a
 * get by id then skips the catalog search (about 5% of it).  Write
 * transactions, whose catalog pages change in place, neither use nor fill
 * it.  Thread-local, so no lock.
 */
static _Thread_local struct {
    uint64_t serial;            /* pager_serial; 0: empty */
    PageRef root;
    size_t len;
    char name[CAT_MAX_NAME];
    CatColl c;
} last_coll;

int cat_get(PagerTxn *t, const char *name, size_t len, CatColl *out)
{
    uint8_t k[1 + CAT_MAX_NAME];
    if (len > CAT_MAX_NAME)
        return BLAZEDB_NOT_FOUND;
    int ro = !pager_txn_is_write(t);
    const PageRef root = catalog_root(t)->root;
    uint64_t serial = pager_serial(pager_txn_pager(t));
    if (ro && last_coll.serial == serial && last_coll.root.pgno == root.pgno &&
        last_coll.root.ctr == root.ctr && last_coll.len == len &&
        memcmp(last_coll.name, name, len) == 0) {
        *out = last_coll.c;
        return BLAZEDB_OK;
    }
    void *v = NULL;
    size_t vl = 0;
    int rc = btree_get(t, catalog_root(t), k, coll_key(name, len, k), &v, &vl);
    if (rc)
        return rc;
    rc = cat_record_decode(v, vl, out) ? pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                                          "the catalog record of a collection is damaged")
                            : BLAZEDB_OK;
    free(v);
    if (rc == BLAZEDB_OK && ro) {
        last_coll.serial = serial;
        last_coll.root = root;
        last_coll.len = len;
        memcpy(last_coll.name, name, len);
        last_coll.c = *out;
    }
    return rc;
}

int cat_put(PagerTxn *t, const char *name, size_t len, const CatColl *c)
{
    uint8_t k[1 + CAT_MAX_NAME], r[CAT_RECORD_SIZE];
    encode(c, r);
    return btree_put(t, catalog_root(t), k, coll_key(name, len, k), r, sizeof r, NULL);
}

int cat_create(PagerTxn *t, const char *name, size_t len, uint32_t flags, uint64_t now_ms,
               CatColl *out)
{
    int rc = cat_get(t, name, len, out);
    if (rc == BLAZEDB_OK)
        return pager_error(pager_txn_pager(t), BLAZEDB_EXISTS,
                           "collection '%.*s' already exists", (int)len, name);
    if (rc != BLAZEDB_NOT_FOUND)
        return rc;
    /* the next id */
    uint64_t id = 1;
    void *v = NULL;
    size_t vl = 0;
    rc = btree_get(t, catalog_root(t), "n", 1, &v, &vl);
    if (rc == BLAZEDB_OK) {
        if (vl == 8)
            id = get_le64(v);
        free(v);
        if (vl != 8)
            return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                               "the catalog's id counter is damaged");
    } else if (rc != BLAZEDB_NOT_FOUND) {
        return rc;
    }
    uint8_t nb[8];
    put_le64(nb, id + 1);
    if ((rc = btree_put(t, catalog_root(t), "n", 1, nb, 8, NULL)))
        return rc;
    memset(out, 0, sizeof *out);
    out->id = id;
    out->flags = flags;
    out->created_ms = now_ms;
    return cat_put(t, name, len, out);
}

int cat_drop(PagerTxn *t, const char *name, size_t len)
{
    CatColl c;
    int rc = cat_get(t, name, len, &c);
    if (rc == BLAZEDB_NOT_FOUND)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOT_FOUND,
                           "no collection '%.*s'", (int)len, name);
    if (rc)
        return rc;
    if ((rc = btree_drop(t, &c.docs)))
        return rc;
    uint8_t k[1 + CAT_MAX_NAME];
    return btree_delete(t, catalog_root(t), k, coll_key(name, len, k), NULL);
}

int cat_rename(PagerTxn *t, const char *from, size_t flen, const char *to, size_t tlen)
{
    CatColl c, other;
    int rc = cat_get(t, from, flen, &c);
    if (rc == BLAZEDB_NOT_FOUND)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOT_FOUND,
                           "no collection '%.*s'", (int)flen, from);
    if (rc)
        return rc;
    if (flen == tlen && memcmp(from, to, flen) == 0)
        return BLAZEDB_OK;
    rc = cat_get(t, to, tlen, &other);
    if (rc == BLAZEDB_OK)
        return pager_error(pager_txn_pager(t), BLAZEDB_EXISTS,
                           "collection '%.*s' already exists", (int)tlen, to);
    if (rc != BLAZEDB_NOT_FOUND)
        return rc;
    uint8_t k[1 + CAT_MAX_NAME];
    if ((rc = btree_delete(t, catalog_root(t), k, coll_key(from, flen, k), NULL)))
        return rc;
    return cat_put(t, to, tlen, &c);
}

int cat_each(PagerTxn *t, int (*fn)(const char *name, size_t len, const CatColl *c, void *arg),
             void *arg)
{
    BtCursor *cur;
    int rc = btc_open(t, catalog_root(t), &cur);
    if (rc)
        return rc;
    rc = btc_seek(cur, "c", 1, NULL);
    while (rc == BLAZEDB_OK) {
        const void *k, *v;
        size_t kl, vl;
        if ((rc = btc_key(cur, &k, &kl)) || (rc = btc_value(cur, &v, &vl)))
            break;
        if (kl < 1 || ((const uint8_t *)k)[0] != 'c')
            break;
        CatColl c;
        if (cat_record_decode(v, vl, &c)) {
            rc = pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT,
                             "the catalog record of a collection is damaged");
            break;
        }
        if ((rc = fn((const char *)k + 1, kl - 1, &c, arg)))
            break;
        rc = btc_next(cur);
    }
    btc_close(cur);
    return rc == BLAZEDB_NOT_FOUND ? BLAZEDB_OK : rc;
}

/* ---- change log ---------------------------------------------------------------- */

int cat_change(PagerTxn *t, uint32_t *seq, int kind, const CatColl *c, const char *name,
               size_t nlen, const void *id, size_t idlen, const void *doc, size_t doclen)
{
    if (nlen > 0xffff || idlen > 0xffff)
        return BLAZEDB_TOO_BIG;
    uint8_t key[12];
    uint64_t txn = pager_txn_id(t);
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(txn >> (56 - 8 * i));
    uint32_t s = (*seq)++;
    for (int i = 0; i < 4; i++)
        key[8 + i] = (uint8_t)(s >> (24 - 8 * i));
    size_t n = 1 + 8 + 2 + nlen + 2 + idlen + doclen;
    uint8_t *v = malloc(n);
    if (!v)
        return pager_error(pager_txn_pager(t), BLAZEDB_NOMEM, "out of memory");
    uint8_t *p = v;
    *p++ = (uint8_t)kind;
    put_le64(p, c->id);
    p += 8;
    p[0] = (uint8_t)nlen;
    p[1] = (uint8_t)(nlen >> 8);
    memcpy(p + 2, name, nlen);
    p += 2 + nlen;
    p[0] = (uint8_t)idlen;
    p[1] = (uint8_t)(idlen >> 8);
    memcpy(p + 2, id, idlen);
    p += 2 + idlen;
    if (doclen)
        memcpy(p, doc, doclen);
    int rc = btree_put(t, changes_root(t), key, sizeof key, v, n, NULL);
    free(v);
    return rc;
}

int cat_changes_trim(PagerTxn *t, uint64_t keep_from)
{
    PagerRoot *root = changes_root(t);
    for (;;) {
        if (root->count == 0)
            return BLAZEDB_OK;
        BtCursor *cur;
        int rc = btc_open(t, root, &cur);
        if (rc)
            return rc;
        uint8_t key[12];
        size_t kl = 0;
        rc = btc_first(cur);
        if (rc == BLAZEDB_OK) {
            const void *k;
            rc = btc_key(cur, &k, &kl);
            if (rc == BLAZEDB_OK && kl == sizeof key)
                memcpy(key, k, kl);
        }
        btc_close(cur);
        if (rc == BLAZEDB_NOT_FOUND)
            return BLAZEDB_OK;
        if (rc)
            return rc;
        if (kl != sizeof key)
            return pager_error(pager_txn_pager(t), BLAZEDB_CORRUPT, "bad change-log key");
        uint64_t txn = 0;
        for (int i = 0; i < 8; i++)
            txn = (txn << 8) | key[i];
        if (txn >= keep_from)
            return BLAZEDB_OK;
        if ((rc = btree_delete(t, root, key, sizeof key, NULL)))
            return rc;
    }
}

/* ---- check --------------------------------------------------------------------- */

typedef struct {
    PagerTxn *t;
    void (*visit)(Pgno, void *);
    void *arg;
} CheckArg;

static int check_one(const char *name, size_t len, const CatColl *c, void *arg)
{
    (void)name;
    (void)len;
    CheckArg *a = arg;
    if (c->docs.root.pgno == 0)
        return BLAZEDB_OK;
    return btree_check(a->t, &c->docs, a->visit, a->arg);
}

int cat_check(PagerTxn *t, void (*visit)(Pgno pgno, void *arg), void *arg)
{
    CheckArg a = {t, visit, arg};
    return cat_each(t, check_one, &a);
}
