/*
 * indexapi.c — the public index API (include/blazedb.h, Part 6):
 * blazedb_index_create, blazedb_index_drop, blazedb_index_list.
 *
 * Owns: argument checks, transactions and messages of these calls.  Not:
 * definitions, builds and maintenance (index/index.c).
 *
 * Same (db, txn) conventions as collection.c: txn == NULL runs the call in
 * a transaction of its own; with a caller's write transaction the call runs
 * inside an internal savepoint, so a failure (a unique index over duplicate
 * values, say) undoes exactly the call and leaves the transaction usable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blazedb.h"
#include "db.h"
#include "../catalog/catalog.h"
#include "../doc/json.h"
#include "../doc/value.h"
#include "../index/index.h"

static BlazeDBResult check_coll(BlazeDB *db, const char *coll)
{
    if (!coll)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "collection name is NULL");
    if (cat_name_ok(coll, strlen(coll)))
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "invalid collection name");
    return BLAZEDB_OK;
}

static BlazeDBResult load_coll(DbCall *x, const char *coll, CatColl *c)
{
    int rc = cat_get(x->pt, coll, strlen(coll), c);
    if (rc == BLAZEDB_NOT_FOUND)
        return db_error(x->db, BLAZEDB_NOT_FOUND, "no collection '%s'", coll);
    return (BlazeDBResult)rc;
}

BlazeDBResult blazedb_index_create(BlazeDB *db, BlazeDBTxn *txn, const char *coll,
                                   const char *name, const BlazeDBIndexField *fields,
                                   size_t nfields, unsigned flags, const char *where)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if ((rc = check_coll(db, coll)))
        return rc;
    if (!name)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "index name is NULL");
    if (nfields < 1 || nfields > IDX_MAX_FIELDS)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "an index has 1..%d fields",
                        IDX_MAX_FIELDS);
    if (!fields)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "fields is NULL");
    if (flags & ~BLAZEDB_INDEX_UNIQUE)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "unknown index flags 0x%x", flags);
    for (size_t i = 0; i < nfields; i++)
        if (!fields[i].path)
            return db_error(db, BLAZEDB_INVALID_ARGUMENT, "the path of field %zu is NULL",
                            i + 1);
    IdxDef d;
    memset(&d, 0, sizeof d);
    d.nfields = nfields;
    d.flags = (flags & BLAZEDB_INDEX_UNIQUE) ? IDX_F_UNIQUE : 0;
    int oom = !(d.name = strdup(name)) || (where && !(d.where = strdup(where)));
    for (size_t i = 0; i < nfields && !oom; i++) {
        oom = !(d.fields[i].path = strdup(fields[i].path));
        d.fields[i].desc = fields[i].descending != 0;
        d.fields[i].each = fields[i].each != 0;
    }
    if (oom) {
        idx_def_clear(&d);
        return db_error(db, BLAZEDB_NOMEM, "out of memory");
    }
    DbCall x;
    if ((rc = db_call_begin(db, txn, 1, &x))) {
        idx_def_clear(&d);
        return rc;
    }
    CatColl c;
    rc = load_coll(&x, coll, &c);
    if (rc == BLAZEDB_OK) {
        char err[512] = "";
        rc = (BlazeDBResult)idx_create(x.pt, &c, &d, err, sizeof err);
        if (rc && err[0])
            db_error(db, rc, "%s", err);
    }
    if (rc == BLAZEDB_OK)
        rc = (BlazeDBResult)cat_put(x.pt, coll, strlen(coll), &c);
    idx_def_clear(&d);
    return db_call_end(&x, rc);
}

BlazeDBResult blazedb_index_drop(BlazeDB *db, BlazeDBTxn *txn, const char *name)
{
    BlazeDBResult rc;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!name)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "index name is NULL");
    DbCall x;
    if ((rc = db_call_begin(db, txn, 1, &x)))
        return rc;
    rc = (BlazeDBResult)idx_drop(x.pt, name, NULL);
    if (rc == BLAZEDB_NOT_FOUND)
        db_error(db, rc, "no index '%s'", name);
    return db_call_end(&x, rc);
}

/* obj[name] = v (v owned; NULL = out of memory). */
static int put(DocValue *obj, const char *name, DocValue *v)
{
    return v ? doc_obj_put(obj, name, strlen(name), v) : BLAZEDB_NOMEM;
}

static DocValue *str(const char *s)
{
    return doc_new_string(s, strlen(s));
}

static int describe(const IdxDef *d, DocValue **out)
{
    DocValue *o = doc_new(DOC_OBJECT), *fs = doc_new(DOC_ARRAY);
    int rc = o && fs ? BLAZEDB_OK : BLAZEDB_NOMEM;
    for (size_t i = 0; !rc && i < d->nfields; i++) {
        DocValue *f = doc_new(DOC_OBJECT);
        if (!f) {
            rc = BLAZEDB_NOMEM;
            break;
        }
        if ((rc = put(f, "path", str(d->fields[i].path))) ||
            (rc = put(f, "descending", doc_new_bool(d->fields[i].desc))) ||
            (rc = put(f, "each", doc_new_bool(d->fields[i].each)))) {
            doc_free(f);
            break;
        }
        rc = doc_arr_push(fs, f);
    }
    if (!rc) {
        rc = put(o, "fields", fs);
        fs = NULL;
    }
    if (!rc)
        rc = put(o, "name", str(d->name));
    if (!rc)
        rc = put(o, "unique", doc_new_bool((d->flags & IDX_F_UNIQUE) != 0));
    if (!rc)
        rc = put(o, "where", d->where ? str(d->where) : doc_new(DOC_NULL));
    if (!rc)
        rc = put(o, "entries", doc_new_int((int64_t)d->root.count));
    doc_free(fs);
    if (rc) {
        doc_free(o);
        return rc;
    }
    *out = o;
    return BLAZEDB_OK;
}

BlazeDBResult blazedb_index_list(BlazeDB *db, BlazeDBTxn *txn, const char *coll, char **json)
{
    BlazeDBResult rc;
    if (json)
        *json = NULL;
    if (!db_handle_ok(db))
        return db ? BLAZEDB_MISUSE : BLAZEDB_INVALID_ARGUMENT;
    if (!json)
        return db_error(db, BLAZEDB_INVALID_ARGUMENT, "json is NULL");
    if ((rc = check_coll(db, coll)))
        return rc;
    DbCall x;
    if ((rc = db_call_begin(db, txn, 0, &x)))
        return rc;
    CatColl c;
    IdxDef *defs = NULL;
    size_t n = 0;
    rc = load_coll(&x, coll, &c);
    if (rc == BLAZEDB_OK)
        rc = (BlazeDBResult)idx_list(x.pt, c.id, &defs, &n);
    DocValue *arr = NULL;
    if (rc == BLAZEDB_OK && !(arr = doc_new(DOC_ARRAY)))
        rc = BLAZEDB_NOMEM;
    for (size_t i = 0; rc == BLAZEDB_OK && i < n; i++) {
        DocValue *o = NULL;
        rc = (BlazeDBResult)describe(&defs[i], &o);
        if (rc == BLAZEDB_OK)
            rc = doc_arr_push(arr, o);
    }
    if (rc == BLAZEDB_OK) {
        char err[DOC_ERRMAX];
        size_t jl;
        rc = doc_to_json(arr, 0, json, &jl, err);
    }
    if (rc == BLAZEDB_NOMEM)
        db_error(db, rc, "out of memory");
    doc_free(arr);
    idx_defs_free(defs, n);
    return db_call_end(&x, rc);
}
