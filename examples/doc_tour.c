/* doc_tour.c — the README's tour of documents and collections (kept
 * identical to it; scripts/check-readme.sh verifies that). */
#include <blazedb.h>
#include <stdio.h>
#include <string.h>

/* Called once per commit with that commit's changes, after it is durable. */
static void on_change(const BlazeDBChange *changes, size_t n, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < n; i++)
        printf("  change: %s %.*s\n",
               changes[i].kind == BLAZEDB_CHANGE_INSERT   ? "insert"
               : changes[i].kind == BLAZEDB_CHANGE_UPDATE ? "update"
                                                          : "delete",
               (int)changes[i].id_len, changes[i].id);
}

int main(void)
{
    BlazeDB *db = blazedb_open("docs.blazedb", "correct horse battery staple");
    if (!db) {
        fprintf(stderr, "open failed: %s\n", blazedb_errmsg(NULL));
        return 1;
    }
    uint64_t observer;
    blazedb_observe(db, "people", NULL, on_change, NULL, &observer);

    /* Insert: the collection is created on first use; without an "id" the
     * engine assigns a time-ordered UUIDv7.  createdAt/updatedAt are set. */
    const char *json = "{\"id\":\"ada\",\"name\":\"Ada\",\"born\":1815,"
                       "\"address\":{\"city\":\"London\"}}";
    BlazeDBDoc *doc;
    if (blazedb_doc_from_json(json, strlen(json), &doc) != BLAZEDB_OK ||
        blazedb_insert(db, NULL, "people", doc) != BLAZEDB_OK) {
        fprintf(stderr, "insert failed: %s\n", blazedb_errmsg(db));
        return 1;
    }
    blazedb_doc_free(doc);

    /* A transaction across several calls: all or nothing, one sync. */
    BlazeDBTxn *txn;
    blazedb_txn_begin(db, 0, &txn);
    BlazeDBDoc *grace;
    blazedb_doc_new(&grace);
    blazedb_doc_set_string(grace, "id", "grace");
    blazedb_doc_set_string(grace, "name", "Grace");
    blazedb_doc_set_int(grace, "born", 1906);
    blazedb_insert(db, txn, "people", grace);
    blazedb_doc_free(grace);
    BlazeDBDoc *set;
    blazedb_doc_new(&set);
    blazedb_doc_set_string(set, "address.city", "Cambridge"); /* nested path */
    blazedb_patch(db, txn, "people", "ada", set, NULL, 0);
    blazedb_doc_free(set);
    if (blazedb_txn_commit(txn) != BLAZEDB_OK)
        fprintf(stderr, "commit failed: %s\n", blazedb_errmsg(db));

    /* Get by id; fields by path. */
    BlazeDBDoc *ada;
    if (blazedb_get_doc(db, NULL, "people", "ada", &ada) == BLAZEDB_OK) {
        const char *city;
        int64_t born;
        blazedb_doc_get_string(ada, "address.city", &city, NULL);
        blazedb_doc_get_int(ada, "born", &born);
        printf("ada: born %lld, lives in %s\n", (long long)born, city);
        blazedb_doc_free(ada);
    }

    /* A query: born before 1900, oldest first. */
    BlazeDBQuery *q;
    blazedb_query_new("people", &q);
    blazedb_query_where(q, "born", BLAZEDB_OP_LT, "1900");
    blazedb_query_order_by(q, "born", 0);
    BlazeDBDoc **found;
    size_t n;
    if (blazedb_query_run(db, NULL, q, &found, &n) == BLAZEDB_OK) {
        for (size_t i = 0; i < n; i++) {
            const char *name;
            blazedb_doc_get_string(found[i], "name", &name, NULL);
            printf("born before 1900: %s\n", name);
        }
        blazedb_query_free_docs(found, n);
    }
    blazedb_query_free(q);

    uint64_t count;
    blazedb_count(db, NULL, "people", &count);
    printf("%llu people\n", (unsigned long long)count);
    blazedb_delete_doc(db, NULL, "people", "grace");

    blazedb_unobserve(db, observer);
    blazedb_close(db);
    return 0;
}
