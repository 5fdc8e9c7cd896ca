/* kv_tour.c — the README's tour of the byte-KV API (kept identical to it;
 * scripts/check-readme.sh verifies that). */
#include <blazedb.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    /* Opens or creates an encrypted database (Argon2id key derivation). */
    BlazeDB *db = blazedb_open("tour.blazedb", "correct horse battery staple");
    if (!db) {
        fprintf(stderr, "open failed: %s\n", blazedb_errmsg(NULL));
        return 1;
    }

    /* One durable transaction per call. */
    const char *doc = "{\"name\":\"Ada\",\"city\":\"London\"}";
    if (blazedb_put(db, "user:1", doc, strlen(doc)) != BLAZEDB_OK) {
        fprintf(stderr, "put failed: %s\n", blazedb_errmsg(db));
        blazedb_close(db);
        return 1;
    }

    void *value;
    size_t len;
    if (blazedb_get(db, "user:1", &value, &len) == BLAZEDB_OK) {
        printf("user:1 = %.*s\n", (int)len, (const char *)value);
        blazedb_free(value); /* the caller owns the copy */
    }

    /* Several writes, all or nothing, with one sync. */
    BlazeDBTxn *txn;
    if (blazedb_txn_begin(db, 0, &txn) == BLAZEDB_OK) {
        blazedb_txn_put(txn, "user:2", 6, "{\"name\":\"Alan\"}", 15);
        blazedb_txn_put(txn, "user:3", 6, "{\"name\":\"Grace\"}", 16);
        blazedb_txn_delete(txn, "user:1", 6);
        if (blazedb_txn_commit(txn) != BLAZEDB_OK)
            fprintf(stderr, "commit failed: %s\n", blazedb_errmsg(db));
    }

    /* Every key starting with "user:", in key order, from one snapshot. */
    BlazeDBRange range = {.prefix = "user:", .prefix_len = 5};
    BlazeDBIterator *it;
    if (blazedb_iter_open(db, NULL, &range, &it) == BLAZEDB_OK) {
        while (blazedb_iter_next(it) == BLAZEDB_OK) {
            const void *k, *v;
            size_t kl, vl;
            blazedb_iter_key(it, &k, &kl);
            blazedb_iter_value(it, &v, &vl);
            printf("%.*s -> %.*s\n", (int)kl, (const char *)k, (int)vl, (const char *)v);
        }
        blazedb_iter_close(it);
    }

    blazedb_close(db);
    return 0;
}
