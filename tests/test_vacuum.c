/*
 * test_vacuum.c — the relocation drivers of src/tools/vacuum.c.
 *
 * Vacuum: space comes back, nothing is lost, readers keep their snapshots,
 * writers keep committing, and an interrupted vacuum (cancellation, kill
 * -9, power loss at every sync) leaves a database that opens, passes
 * db_check and holds exactly the committed data.  Also auto-vacuum.
 *
 * Re-encryption: afterwards no page of the main file and no frame of the
 * log opens with the old data key (checked on the raw files), everything
 * reads back, readers and writers (threads and another process) carry on,
 * a password change in between is kept, and cancellation or power loss at
 * every sync leaves a database that opens with its password and finishes
 * the job on the next call.
 *
 * BLAZEDB_TEST_SEED=S replays a run; BLAZEDB_LONG_TESTS=1 runs more kills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blazedb.h"
#include "../src/db/db.h"
#include "../src/catalog/catalog.h"
#include "../src/index/index.h"
#include "../src/os/os_fault.h"
#include "../src/pager/codec.h"
#include "../src/pager/pager.h"
#include "support/testutil.h"

#define PS 4096

static void vopts(BlazeDBOptions *o)
{
    tu_fast_opts(o);
    o->page_size = PS;
    o->busy_timeout_ms = 20000;
}

static BlazeDB *open_db(const char *path)
{
    BlazeDBOptions o;
    vopts(&o);
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, TU_PASSWORD, &o, &db);
    if (rc)
        fail_msg("open %s: %s (%s)", path, blazedb_strerror(rc), blazedb_errmsg(NULL));
    return db;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void get_stats(BlazeDB *db, BlazeDBStats *st)
{
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    assert_int_equal(blazedb_stats(db, st), BLAZEDB_OK);
}

static void check_db(BlazeDB *db, const char *what)
{
    char msg[512];
    if (tu_db_check(db, msg, sizeof msg) != 0)
        fail_msg("%s: db_check: %s", what, msg);
}

/* ---- a document collection with indexes, and its model ------------------ */

#define NDOCS 3000

/* Document i: id "d%05u", n = i, tag = "t" + i % 17, body = text of a
 * length depending on i; every 40th has a 12 KiB body (overflow chain). */
static size_t body_len(unsigned i) { return i % 40 == 0 ? 12000 : 100 + (i * 37) % 400; }

static void body_text(unsigned i, char *buf, size_t n)
{
    for (size_t k = 0; k < n; k++)
        buf[k] = (char)('a' + (char)((i * 7 + k * 13) % 26));
    buf[n] = 0;
}

static BlazeDBDoc *make_doc(unsigned i)
{
    BlazeDBDoc *d;
    assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
    char id[16], tag[16];
    snprintf(id, sizeof id, "d%05u", i);
    snprintf(tag, sizeof tag, "t%u", i % 17);
    size_t bl = body_len(i);
    char *body = malloc(bl + 1);
    assert_non_null(body);
    body_text(i, body, bl);
    assert_int_equal(blazedb_doc_set_string(d, "id", id), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_int(d, "n", (int64_t)i), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "tag", tag), BLAZEDB_OK);
    assert_int_equal(blazedb_doc_set_string(d, "body", body), BLAZEDB_OK);
    free(body);
    return d;
}

/* Kept documents: every 10th. */
static int kept(unsigned i) { return i % 10 == 3; }

static void fill_docs(BlazeDB *db)
{
    assert_int_equal(blazedb_collection_create(db, NULL, "items", NULL), BLAZEDB_OK);
    BlazeDBIndexField fn = {"n", 0, 0}, ft = {"tag", 1, 0};
    assert_int_equal(blazedb_index_create(db, NULL, "items", "items_n", &fn, 1,
                                          BLAZEDB_INDEX_UNIQUE, NULL), BLAZEDB_OK);
    assert_int_equal(blazedb_index_create(db, NULL, "items", "items_tag", &ft, 1, 0, NULL),
                     BLAZEDB_OK);
    for (unsigned i = 0; i < NDOCS; i += 100) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        for (unsigned k = i; k < i + 100; k++) {
            BlazeDBDoc *d = make_doc(k);
            assert_int_equal(blazedb_insert(db, t, "items", d), BLAZEDB_OK);
            blazedb_doc_free(d);
        }
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    }
    /* byte-KV data too, with big values */
    for (unsigned i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "kv%04u", i);
        size_t n = i % 20 == 0 ? 30000 : 500;
        uint8_t *v = malloc(n);
        tu_fill(i, v, n);
        assert_int_equal(blazedb_put(db, k, v, n), BLAZEDB_OK);
        free(v);
    }
}

static void delete_most(BlazeDB *db)
{
    for (unsigned i = 0; i < NDOCS; i += 250) {
        BlazeDBTxn *t;
        assert_int_equal(blazedb_txn_begin(db, 0, &t), BLAZEDB_OK);
        for (unsigned k = i; k < i + 250; k++) {
            if (kept(k))
                continue;
            char id[16];
            snprintf(id, sizeof id, "d%05u", k);
            assert_int_equal(blazedb_delete_doc(db, t, "items", id), BLAZEDB_OK);
        }
        assert_int_equal(blazedb_txn_commit(t), BLAZEDB_OK);
    }
    for (unsigned i = 0; i < 200; i++) {
        if (i % 5 == 0)
            continue;
        char k[16];
        snprintf(k, sizeof k, "kv%04u", i);
        assert_int_equal(blazedb_delete(db, k), BLAZEDB_OK);
    }
}

/* Checks every document and KV pair against the model, in transaction
 * txn (NULL: the latest), and (txn == NULL) the indexes with idx_check and
 * an indexed query. */
static void verify_docs(BlazeDB *db, BlazeDBTxn *txn, const char *what)
{
    uint64_t cnt = 0;
    assert_int_equal(blazedb_count(db, txn, "items", &cnt), BLAZEDB_OK);
    uint64_t want = 0;
    for (unsigned i = 0; i < NDOCS; i++)
        want += kept(i);
    if (cnt != want)
        fail_msg("%s: %" PRIu64 " documents, expected %" PRIu64, what, cnt, want);
    char *body = malloc(13000);
    assert_non_null(body);
    for (unsigned i = 0; i < NDOCS; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%05u", i);
        BlazeDBDoc *d = NULL;
        BlazeDBResult rc = blazedb_get_doc(db, txn, "items", id, &d);
        if (!kept(i)) {
            if (rc != BLAZEDB_NOT_FOUND)
                fail_msg("%s: deleted %s reads as %s", what, id, blazedb_strerror(rc));
            continue;
        }
        if (rc)
            fail_msg("%s: %s: %s (%s)", what, id, blazedb_strerror(rc), blazedb_errmsg(db));
        int64_t n = -1;
        assert_int_equal(blazedb_doc_get_int(d, "n", &n), BLAZEDB_OK);
        assert_int_equal(n, (int64_t)i);
        const char *s = NULL;
        size_t sl = 0;
        assert_int_equal(blazedb_doc_get_string(d, "body", &s, &sl), BLAZEDB_OK);
        size_t bl = body_len(i);
        body_text(i, body, bl);
        if (sl != bl || memcmp(s, body, bl) != 0)
            fail_msg("%s: %s: body differs", what, id);
        blazedb_doc_free(d);
    }
    free(body);
    for (unsigned i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "kv%04u", i);
        void *v = NULL;
        size_t vl = 0;
        BlazeDBResult rc;
        if (txn)
            rc = blazedb_txn_get(txn, k, strlen(k), &v, &vl);
        else
            rc = blazedb_get(db, k, &v, &vl);
        if (i % 5 != 0) {
            assert_int_equal(rc, BLAZEDB_NOT_FOUND);
            continue;
        }
        assert_int_equal(rc, BLAZEDB_OK);
        size_t n = i % 20 == 0 ? 30000 : 500;
        assert_int_equal(vl, n);
        uint8_t *e = malloc(n);
        tu_fill(i, e, n);
        assert_memory_equal(v, e, n);
        free(e);
        blazedb_free(v);
    }
    if (txn)
        return;
    /* indexes: exact match with the collection, and used by a query */
    BlazeDBTxn *own;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &own), BLAZEDB_OK);
    PagerTxn *pt = db_txn_pt(own);
    CatColl c;
    assert_int_equal(cat_get(pt, "items", 5, &c), BLAZEDB_OK);
    char err[256];
    if (idx_check(pt, &c, err, sizeof err) != BLAZEDB_OK)
        fail_msg("%s: idx_check: %s", what, err);
    blazedb_txn_abort(own);
    uint64_t rows = 0;
    BlazeDBStmt *st;
    assert_int_equal(blazedb_prepare(db, "SELECT id FROM items WHERE tag = 't5'", (size_t)-1, &st, NULL),
                     BLAZEDB_OK);
    BlazeDBResult rc;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW)
        rows++;
    assert_int_equal(rc, BLAZEDB_DONE);
    blazedb_finalize(st);
    uint64_t exp = 0;
    for (unsigned i = 0; i < NDOCS; i++)
        exp += kept(i) && i % 17 == 5;
    assert_int_equal(rows, exp);
}

/* The documents are all there and the structure checks (after `what`). */
static void expect_intact(BlazeDB *db, const char *what)
{
    verify_docs(db, NULL, what);
    check_db(db, what);
}

/* Closes db, reopens `path` and checks it as expect_intact does. */
static BlazeDB *reopen_intact(BlazeDB *db, const char *path, const char *what)
{
    blazedb_close(db);
    db = open_db(path);
    expect_intact(db, what);
    return db;
}

/* A scratch database holding fill_docs minus delete_most (free pages
 * all over the file), open as f->db. */
typedef struct {
    char *dir, *path;
    BlazeDB *db;
} Fix;

static void fix_open(Fix *f, const char *tag)
{
    f->dir = tu_mkdtemp(tag);
    f->path = tu_path(f->dir, "d.blazedb");
    f->db = open_db(f->path);
    fill_docs(f->db);
    delete_most(f->db);
}

/* Removes the directory (the caller has closed its handles). */
static void fix_free(Fix *f)
{
    tu_rmrf(f->dir);
    free(f->path);
    free(f->dir);
}

/* ---- basic: space comes back, everything intact ------------------------------ */

static void test_vacuum_reclaims(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "vacuum");
    const char *path = f.path;
    BlazeDB *db = f.db;
    assert_int_equal(blazedb_checkpoint(db), BLAZEDB_OK);
    BlazeDBStats a, b;
    get_stats(db, &a);
    uint64_t size0 = file_size(path);
    uint64_t used = a.page_count - a.free_pages;
    fprintf(stderr, "  before: %" PRIu64 " pages, %" PRIu64 " free, file %" PRIu64 "\n",
            a.page_count, a.free_pages, size0);
    /* (the change log keeps the inserted documents, so not 90% free) */
    assert_true(a.free_pages > a.page_count / 4);

    BlazeDBVacuumOptions vo;
    blazedb_vacuum_options_init(&vo);
    vo.pages_per_txn = 128;
    uint64_t bytes = 0;
    BlazeDBResult rc = blazedb_vacuum(db, &vo, &bytes);
    if (rc)
        fail_msg("vacuum: %s (%s)", blazedb_strerror(rc), blazedb_errmsg(db));
    get_stats(db, &b);
    uint64_t size1 = file_size(path);
    fprintf(stderr, "  after: %" PRIu64 " pages, %" PRIu64 " free, file %" PRIu64
            ", reclaimed %" PRIu64 "\n", b.page_count, b.free_pages, size1, bytes);
    assert_int_equal(bytes, (a.page_count - b.page_count) * PS);
    assert_true(bytes > 0);
    /* near the live size: the used pages plus a few percent */
    assert_true(b.page_count <= used + used / 8 + 64);
    assert_true(size1 <= b.page_count * PS);
    assert_true(size1 + a.free_pages / 2 * PS < size0);
    expect_intact(db, "after vacuum");

    /* a second vacuum finds (almost) nothing to do, and changes nothing */
    rc = blazedb_vacuum(db, NULL, &bytes);
    assert_int_equal(rc, BLAZEDB_OK);
    BlazeDBStats c2;
    get_stats(db, &c2);
    assert_true(c2.page_count <= b.page_count);
    expect_intact(db, "after the second vacuum");

    /* the database keeps working: writes, reopen */
    BlazeDBDoc *d = make_doc(NDOCS + 1);
    assert_int_equal(blazedb_insert(db, NULL, "items", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    char id[16];
    snprintf(id, sizeof id, "d%05u", NDOCS + 1);
    assert_int_equal(blazedb_delete_doc(db, NULL, "items", id), BLAZEDB_OK);
    db = reopen_intact(db, path, "after reopen");
    blazedb_close(db);
    fix_free(&f);
}

/* ---- readers keep their snapshots ----------------------------------------------- */

typedef struct {
    BlazeDB *db;
    BlazeDBResult rc;
    uint64_t bytes;
    atomic_int done;
} VacThread;

static void *vac_thread(void *arg)
{
    VacThread *vt = arg;
    BlazeDBVacuumOptions vo;
    blazedb_vacuum_options_init(&vo);
    vo.pages_per_txn = 32;
    vt->rc = blazedb_vacuum(vt->db, &vo, &vt->bytes);
    atomic_store(&vt->done, 1);
    return NULL;
}

static void test_vacuum_reader_snapshot(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "vacuum");
    const char *path = f.path;
    BlazeDB *db = f.db;
    BlazeDBTxn *r;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    verify_docs(db, r, "reader before vacuum");
    BlazeDBStats a;
    get_stats(db, &a);

    VacThread vt = {db, BLAZEDB_OK, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, vac_thread, &vt), 0);
    int rounds = 0;
    while (!atomic_load(&vt.done) || rounds == 0) {
        verify_docs(db, r, "reader during vacuum");
        rounds++;
    }
    pthread_join(th, NULL);
    fprintf(stderr, "  reader verified %d times during vacuum; vacuum: %s, %" PRIu64
            " bytes\n", rounds, blazedb_strerror(vt.rc), vt.bytes);
    /* the reader predates the relocation: the pages it can reach stay */
    assert_int_equal(vt.rc, BLAZEDB_BUSY);
    verify_docs(db, r, "reader after vacuum");
    verify_docs(db, NULL, "latest after vacuum");
    check_db(db, "with the reader open");
    blazedb_txn_abort(r);

    uint64_t bytes = 0;
    BlazeDBResult rc = blazedb_vacuum(db, NULL, &bytes);
    if (rc)
        fail_msg("vacuum after the reader: %s (%s)", blazedb_strerror(rc), blazedb_errmsg(db));
    BlazeDBStats b;
    get_stats(db, &b);
    uint64_t used = a.page_count - a.free_pages;
    assert_true(bytes > 0);
    assert_true(b.page_count <= used + used / 8 + 64);
    assert_true(file_size(path) <= b.page_count * PS);
    expect_intact(db, "after the second vacuum");
    blazedb_close(db);
    fix_free(&f);
}

/* ---- writers keep committing ------------------------------------------------------ */

typedef struct {
    BlazeDB *db;
    int id;
    atomic_int *stop;
    uint64_t acked;         /* writes committed: keys w<id>-<0..acked) */
    BlazeDBResult err;
} Writer;

static void *writer_thread(void *arg)
{
    Writer *w = arg;
    uint8_t v[3000];
    while (!atomic_load(w->stop)) {
        char k[32];
        snprintf(k, sizeof k, "w%d-%06" PRIu64, w->id, w->acked);
        size_t n = 200 + (w->acked * 131) % 2800;
        tu_fill(w->acked * 10 + (uint64_t)w->id, v, n);
        BlazeDBResult rc = blazedb_put(w->db, k, v, n);
        if (rc) {
            w->err = rc;
            break;
        }
        /* and churn: delete the one before last, every other time */
        if (w->acked % 2 == 1) {
            snprintf(k, sizeof k, "w%d-%06" PRIu64, w->id, w->acked - 1);
            if ((rc = blazedb_delete(w->db, k))) {
                w->err = rc;
                break;
            }
        }
        w->acked++;
    }
    return NULL;
}

/* Every write the writers acknowledged is there (the one before the last
 * of each pair deleted). */
static void verify_writers(BlazeDB *db, const Writer *w, int n)
{
    for (int i = 0; i < n; i++) {
        for (uint64_t j = 0; j < w[i].acked; j++) {
            char k[32];
            snprintf(k, sizeof k, "w%d-%06" PRIu64, w[i].id, j);
            void *v = NULL;
            size_t vl = 0;
            BlazeDBResult rc = blazedb_get(db, k, &v, &vl);
            int deleted = j % 2 == 0 && j + 1 < w[i].acked;
            if (deleted) {
                assert_int_equal(rc, BLAZEDB_NOT_FOUND);
                continue;
            }
            if (rc)
                fail_msg("writer %d key %" PRIu64 ": %s", w[i].id, j, blazedb_strerror(rc));
            size_t len = 200 + (j * 131) % 2800;
            uint8_t e[3000];
            tu_fill(j * 10 + (uint64_t)w[i].id, e, len);
            assert_int_equal(vl, len);
            assert_memory_equal(v, e, len);
            blazedb_free(v);
        }
    }
}

static void test_vacuum_concurrent_writers(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "vacuum");
    BlazeDB *db = f.db;
    atomic_int stop = 0;
    Writer w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (Writer){db, i, &stop, 0, BLAZEDB_OK};
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
    }
    uint64_t total = 0;
    for (int round = 0; round < 3; round++) {
        BlazeDBVacuumOptions vo;
        blazedb_vacuum_options_init(&vo);
        vo.pages_per_txn = 32;
        uint64_t bytes = 0;
        BlazeDBResult rc = blazedb_vacuum(db, &vo, &bytes);
        if (rc && rc != BLAZEDB_BUSY)
            fail_msg("vacuum round %d: %s (%s)", round, blazedb_strerror(rc),
                     blazedb_errmsg(db));
        total += bytes;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (w[i].err)
            fail_msg("writer %d: %s", i, blazedb_strerror(w[i].err));
        assert_true(w[i].acked > 0);
    }
    fprintf(stderr, "  writers committed %" PRIu64 " + %" PRIu64 " puts; vacuum returned %"
            PRIu64 " bytes\n", w[0].acked, w[1].acked, total);
    assert_true(total > 0);
    verify_writers(db, w, 2);
    expect_intact(db, "after vacuum with writers");
    blazedb_close(db);
    fix_free(&f);
}

/* ---- cancellation ------------------------------------------------------------------- */

static int cancel_after(uint64_t done, uint64_t total, void *arg)
{
    (void)done;
    (void)total;
    int *calls = arg;
    return ++*calls >= 3;
}

static void test_vacuum_cancel(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "vacuum");
    const char *path = f.path;
    BlazeDB *db = f.db;
    BlazeDBStats a, b;
    get_stats(db, &a);
    BlazeDBVacuumOptions vo;
    blazedb_vacuum_options_init(&vo);
    vo.pages_per_txn = 16;
    int calls = 0;
    vo.progress = cancel_after;
    vo.progress_arg = &calls;
    uint64_t bytes = 99;
    assert_int_equal(blazedb_vacuum(db, &vo, &bytes), BLAZEDB_CANCELLED);
    assert_int_equal(calls, 3);
    assert_int_equal(bytes, 0);
    get_stats(db, &b);
    assert_int_equal(b.page_count, a.page_count);   /* not shrunk */
    expect_intact(db, "after cancel");
    /* bad options */
    vo.progress = NULL;
    vo.pages_per_txn = 3;
    assert_int_equal(blazedb_vacuum(db, &vo, &bytes), BLAZEDB_INVALID_ARGUMENT);
    vo.struct_size = 0;
    assert_int_equal(blazedb_vacuum(db, &vo, &bytes), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_vacuum(NULL, NULL, &bytes), BLAZEDB_INVALID_ARGUMENT);
    /* then to the end */
    assert_int_equal(blazedb_vacuum(db, NULL, &bytes), BLAZEDB_OK);
    assert_true(bytes > 0);
    expect_intact(db, "after vacuum");
    blazedb_close(db);
    /* read-only handle */
    BlazeDBOptions o;
    vopts(&o);
    o.flags = BLAZEDB_OPEN_READONLY;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &db), BLAZEDB_OK);
    assert_int_equal(blazedb_vacuum(db, NULL, &bytes), BLAZEDB_READONLY);
    blazedb_close(db);
    fix_free(&f);
}

/* ---- auto-vacuum ------------------------------------------------------------------------ */

static uint64_t small_commits_until_shrunk(BlazeDB *db, uint64_t below, int max)
{
    for (int i = 0; i < max; i++) {
        char k[16];
        snprintf(k, sizeof k, "tick%d", i % 8);
        assert_int_equal(blazedb_put(db, k, "x", 1), BLAZEDB_OK);
        BlazeDBStats st;
        get_stats(db, &st);
        if (st.page_count < below)
            return (uint64_t)i + 1;
    }
    return 0;
}

static void test_auto_vacuum(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "vacuum");
    const char *path = f.path;
    BlazeDB *db = f.db;
    BlazeDBStats a;
    get_stats(db, &a);
    uint64_t target = a.page_count - a.free_pages / 2;
    /* off by default: commits do not shrink the file */
    assert_int_equal(small_commits_until_shrunk(db, target, 50), 0);
    assert_int_equal(blazedb_auto_vacuum(db, 1.5, 0, 0), BLAZEDB_INVALID_ARGUMENT);
    assert_int_equal(blazedb_auto_vacuum(db, 0.5, 0, 4), BLAZEDB_INVALID_ARGUMENT);
    /* a threshold above the free fraction does nothing either */
    assert_int_equal(blazedb_auto_vacuum(db, 0.99, 0, 64), BLAZEDB_OK);
    assert_int_equal(small_commits_until_shrunk(db, target, 50), 0);
    /* on, below the free fraction */
    assert_int_equal(blazedb_auto_vacuum(db, 0.3, 64 * 1024, 64), BLAZEDB_OK);
    uint64_t n = small_commits_until_shrunk(db, target, 5000);
    fprintf(stderr, "  auto-vacuum shrank the database after %" PRIu64 " commits\n", n);
    assert_true(n > 0);
    BlazeDBStats b;
    get_stats(db, &b);
    assert_true(b.page_count < target);
    expect_intact(db, "after auto-vacuum");
    /* off again */
    assert_int_equal(blazedb_auto_vacuum(db, 0, 0, 0), BLAZEDB_OK);
    db = reopen_intact(db, path, "after reopen");
    blazedb_close(db);
    fix_free(&f);
}

/* ---- kill -9 during vacuum ------------------------------------------------------------- */

static void crash_workload(TuWorkload *w, uint64_t seed)
{
    tu_workload_init(w, "w/", seed);
    w->nkeys = 80;
    w->max_ops = 10;
    w->max_small = 6000;
    w->max_big = 60000;
    w->big_permille = 60;
    w->del_permille = 350;
}

#define VAC_ACK (1ull << 63)
#define RK_ACK (1ull << 62)

/* The child: a few workload transactions (acknowledged), then a vacuum in
 * small steps (and every third time a re-encryption), again and again,
 * until killed. */
static void child_main(const char *path, const TuWorkload *w, uint64_t first, int wfd)
{
    BlazeDBOptions o;
    vopts(&o);
    o.wal_autocheckpoint = 256;
    BlazeDB *db = NULL;
    if (blazedb_open_ex(path, TU_PASSWORD, &o, &db)) {
        fprintf(stderr, "child: open failed: %s\n", blazedb_errmsg(NULL));
        _exit(2);
    }
    BlazeDBVacuumOptions vo;
    blazedb_vacuum_options_init(&vo);
    vo.pages_per_txn = 8;
    for (uint64_t j = first;; j++) {
        BlazeDBResult rc = tu_txn_run(db, w, j, NULL);
        if (rc) {
            fprintf(stderr, "child: txn %" PRIu64 ": %s (%s)\n", j, blazedb_strerror(rc),
                    blazedb_errmsg(db));
            _exit(3);
        }
        if (write(wfd, &j, sizeof j) != (ssize_t)sizeof j)
            _exit(5);
        if (j % 4 == 0) {
            uint64_t bytes;
            rc = blazedb_vacuum(db, &vo, &bytes);
            if (rc && rc != BLAZEDB_BUSY) {
                fprintf(stderr, "child: vacuum: %s (%s)\n", blazedb_strerror(rc),
                        blazedb_errmsg(db));
                _exit(4);
            }
            uint64_t v = VAC_ACK | bytes;
            if (write(wfd, &v, sizeof v) != (ssize_t)sizeof v)
                _exit(5);
        }
        if (j % 12 == 6) {
            BlazeDBReencryptOptions ro;
            blazedb_reencrypt_options_init(&ro);
            ro.pages_per_txn = 8;
            rc = blazedb_reencrypt(db, &ro, NULL);
            if (rc && rc != BLAZEDB_BUSY) {
                fprintf(stderr, "child: reencrypt: %s (%s)\n", blazedb_strerror(rc),
                        blazedb_errmsg(db));
                _exit(4);
            }
            uint64_t v = RK_ACK;
            if (!rc && write(wfd, &v, sizeof v) != (ssize_t)sizeof v)
                _exit(5);
        }
    }
}

static void drain(int fd, uint64_t *ack, uint64_t *vacs, uint64_t *vbytes, uint64_t *rks)
{
    uint64_t j;
    while (read(fd, &j, sizeof j) == (ssize_t)sizeof j) {
        if (j & RK_ACK) {
            (*rks)++;
        } else if (j & VAC_ACK) {
            (*vacs)++;
            *vbytes += j & ~VAC_ACK;
        } else if (j > *ack) {
            *ack = j;
        }
    }
}

static void test_vacuum_kill9(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_vacuum_kill9");
    char *dir = tu_mkdtemp("vacuum");
    char *path = tu_path(dir, "k.blazedb");
    TuWorkload w;
    crash_workload(&w, seed);
    TuModel m;
    assert_int_equal(tu_model_init(&m, &w), 0);
    TuRng rng;
    tu_rng_seed(&rng, seed ^ 0x5eed);
    int kills = tu_long_tests() ? 400 : 60;
    uint64_t start = 0, vacs = 0, vbytes = 0, rks = 0;
    for (int round = 0; round < kills; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            child_main(path, &w, start + 1, pfd[1]);
        }
        close(pfd[1]);
        tu_sleep_us(2000 + tu_rng_below(&rng, 60000));
        kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("seed %" PRIu64 " round %d: the child ended by itself (0x%x)", seed,
                     round, status);
        uint64_t ack = start;
        drain(pfd[0], &ack, &vacs, &vbytes, &rks);
        close(pfd[0]);

        BlazeDB *db = open_db(path);
        uint64_t k;
        assert_int_equal(tu_db_last(db, &w, &k), BLAZEDB_OK);
        if (k < ack || k > ack + 1)
            fail_msg("seed %" PRIu64 " round %d: recovered txn %" PRIu64 ", acked %" PRIu64,
                     seed, round, k, ack);
        for (uint64_t j = start + 1; j <= k; j++)
            tu_model_apply(&m, j);
        char msg[512];
        if (tu_model_compare(&m, db, msg, sizeof msg) != 0)
            fail_msg("seed %" PRIu64 " round %d: not the state after txn %" PRIu64 ": %s",
                     seed, round, k, msg);
        if (tu_db_check(db, msg, sizeof msg) != 0)
            fail_msg("seed %" PRIu64 " round %d: db_check: %s", seed, round, msg);
        start = k;
        blazedb_close(db);
    }
    fprintf(stderr, "  %d kills; %" PRIu64 " transactions; %" PRIu64
            " vacuums completed, %" PRIu64 " bytes returned; %" PRIu64
            " re-encryptions completed\n", kills, start, vacs, vbytes, rks);
    assert_true(vacs > 0);
    assert_true(vbytes > 0);
    assert_true(rks > 0);
    /* and a last vacuum and re-encryption to the end */
    BlazeDB *db = open_db(path);
    uint64_t bytes;
    assert_int_equal(blazedb_vacuum(db, NULL, &bytes), BLAZEDB_OK);
    assert_int_equal(blazedb_reencrypt(db, NULL, NULL), BLAZEDB_OK);
    uint32_t epoch;
    int running;
    assert_int_equal(blazedb_key_state(db, &epoch, &running), BLAZEDB_OK);
    assert_int_equal(running, 0);
    assert_true(epoch > rks);
    char msg[512];
    assert_int_equal(tu_model_compare(&m, db, msg, sizeof msg), 0);
    check_db(db, "final vacuum");
    blazedb_close(db);
    tu_model_free(&m);
    tu_rmrf(dir);
    free(path);
    free(dir);
}

/* ---- power loss at every sync of a vacuum ---------------------------------------------- */

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) {
        if (a)
            fclose(a);
        if (b)
            fclose(b);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        fwrite(buf, 1, n, b);
    fclose(a);
    return fclose(b);
}

static void reset_from_template(const char *tmpl, const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    assert_int_equal(copy_file(tmpl, path), 0);
}

/* The driver a power-loss sweep runs: vacuum or re-encryption. */
typedef enum { PL_VACUUM, PL_REENCRYPT } PlDriver;

/* Runs the driver on an open handle (small batches); *bytes (vacuum) gets
 * what it reclaimed. */
static BlazeDBResult pl_drive(BlazeDB *db, PlDriver d, uint64_t *bytes)
{
    if (d == PL_VACUUM) {
        BlazeDBVacuumOptions vo;
        blazedb_vacuum_options_init(&vo);
        vo.pages_per_txn = 16;
        return blazedb_vacuum(db, &vo, bytes);
    }
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = 16;
    return blazedb_reencrypt(db, &ro, NULL);
}

/* Opens through vfs and runs the driver; returns the first error (OK if
 * none). */
static BlazeDBResult pl_run(const char *path, OsVfs *vfs, PlDriver d, uint64_t *bytes)
{
    BlazeDBOptions o;
    vopts(&o);
    o.wal_autocheckpoint = 64;
    BlazeDB *db = NULL;
    BlazeDBResult rc = db_open_vfs(path, TU_PASSWORD, &o, vfs, &db);
    if (rc)
        return rc;
    rc = pl_drive(db, d, bytes);
    blazedb_close(db);
    return rc;
}

static uint64_t readable_with(const char *path, const uint8_t dk[CRYPTO_KEY_LEN],
                              uint64_t *images);

/* What a sweep found. */
typedef struct {
    uint64_t syncs;         /* syncs of the run without faults */
    uint64_t bytes;         /* what that run reclaimed (vacuum) */
    uint64_t crashes;
    uint64_t midway;        /* recoveries that found a re-encryption under way */
} PlSweep;

/* Power loss at every sync of the driver's run on copies of `tmpl`, untorn
 * and then torn (at every sync with torn_every 1; else at every
 * torn_every-th and the last few, unless BLAZEDB_LONG_TESTS): each time the
 * database opens with exactly the state of model m, passes db_check, and
 * the driver then runs to its end on it.  With `old_key` (re-encryption),
 * nothing may open with that key afterwards. */
static void pl_sweep(const char *tmpl, const char *path, uint64_t seed, const TuModel *m,
                     PlDriver d, unsigned torn_every, const uint8_t *old_key, PlSweep *out)
{
    memset(out, 0, sizeof *out);
    reset_from_template(tmpl, path);
    OsFault *f = os_fault_new(NULL);
    assert_int_equal(pl_run(path, os_fault_vfs(f), d, &out->bytes), BLAZEDB_OK);
    out->syncs = os_fault_count(f, OS_FAULT_SYNC);
    os_fault_free(f);
    const char *name = d == PL_VACUUM ? "vacuum" : "reencrypt";
    uint64_t syncs = out->syncs, images;
    if (old_key)
        assert_int_equal(readable_with(path, old_key, &images), 0);
    for (int tear = 0; tear <= 1; tear++) {
        for (uint64_t i = 1; i <= syncs + 1; i++) {
            if (tear && torn_every > 1 && !tu_long_tests() && i % torn_every != 0 &&
                i + 4 < syncs)
                continue;
            reset_from_template(tmpl, path);
            f = os_fault_new(NULL);
            unsigned tseed = tear ? (unsigned)(tu_mix(seed + i) % 100000u) + 1u : 0u;
            os_fault_powerloss_at_sync(f, i, tseed);
            uint64_t bytes = 0;
            BlazeDBResult rc = pl_run(path, os_fault_vfs(f), d, &bytes);
            int crashed = os_fault_crashed(f);
            os_fault_free(f);
            out->crashes += crashed;
            if (!crashed && rc)
                fail_msg("sync %" PRIu64 ": %s failed without a crash: %s", i, name,
                         blazedb_strerror(rc));
            if (crashed && rc == BLAZEDB_CORRUPT)
                fail_msg("sync %" PRIu64 " tear %u: CORRUPT after power loss", i, tseed);
            BlazeDB *db = open_db(path);
            char msg[512];
            if (tu_model_compare(m, db, msg, sizeof msg) != 0)
                fail_msg("%s: power loss at sync %" PRIu64 "/%" PRIu64 " tear %u: %s", name, i,
                         syncs, tseed, msg);
            if (tu_db_check(db, msg, sizeof msg) != 0)
                fail_msg("%s: power loss at sync %" PRIu64 " tear %u: db_check: %s", name, i,
                         tseed, msg);
            uint32_t epoch;
            int running = 0;
            assert_int_equal(blazedb_key_state(db, &epoch, &running), BLAZEDB_OK);
            out->midway += running;
            /* the job can be finished afterwards */
            BlazeDBResult r2 = pl_drive(db, d, &bytes);
            if (r2)
                fail_msg("sync %" PRIu64 ": %s after recovery: %s (%s)", i, name,
                         blazedb_strerror(r2), blazedb_errmsg(db));
            if (tu_model_compare(m, db, msg, sizeof msg) != 0 ||
                tu_db_check(db, msg, sizeof msg) != 0)
                fail_msg("sync %" PRIu64 ": after the second %s: %s", i, name, msg);
            blazedb_close(db);
            if (old_key && readable_with(path, old_key, &images) != 0)
                fail_msg("sync %" PRIu64 " tear %u: pages under the old key remain", i, tseed);
        }
    }
}

static void test_vacuum_powerloss(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_vacuum_powerloss");
    char *dir = tu_mkdtemp("vacuum");
    char *tmpl = tu_path(dir, "template.blazedb");
    char *path = tu_path(dir, "p.blazedb");
    TuWorkload w;
    crash_workload(&w, seed);
    const uint64_t ntxn = 40;
    {
        /* the workload interleaved with filler (other keys), then the
         * filler deleted: free pages all over the file */
        BlazeDB *db = open_db(tmpl);
        uint8_t v[6000];
        for (uint64_t j = 1; j <= ntxn; j++) {
            assert_int_equal(tu_txn_run(db, &w, j, NULL), BLAZEDB_OK);
            for (unsigned i = 0; i < 8; i++) {
                char k[32];
                snprintf(k, sizeof k, "f/%03u-%u", (unsigned)j, i);
                tu_fill(j * 8 + i, v, sizeof v);
                assert_int_equal(blazedb_put(db, k, v, sizeof v), BLAZEDB_OK);
            }
        }
        for (uint64_t j = 1; j <= ntxn; j++)
            for (unsigned i = 0; i < 8; i++) {
                char k[32];
                snprintf(k, sizeof k, "f/%03u-%u", (unsigned)j, i);
                assert_int_equal(blazedb_delete(db, k), BLAZEDB_OK);
            }
        BlazeDBStats st;
        get_stats(db, &st);
        fprintf(stderr, "  template: %" PRIu64 " pages, %" PRIu64 " free\n", st.page_count,
                st.free_pages);
        blazedb_close(db);
    }
    TuModel m;
    assert_int_equal(tu_model_init(&m, &w), 0);
    tu_model_replay(&m, ntxn);

    PlSweep sw;
    pl_sweep(tmpl, path, seed, &m, PL_VACUUM, 1, NULL, &sw);
    fprintf(stderr, "  vacuum without faults: %" PRIu64 " bytes, %" PRIu64 " syncs; %" PRIu64
            " power losses, every one recovered\n", sw.bytes, sw.syncs, sw.crashes);
    assert_true(sw.bytes > 0);
    assert_true(sw.syncs >= 4);
    assert_true(sw.crashes >= sw.syncs);
    tu_model_free(&m);
    tu_rmrf(dir);
    free(tmpl);
    free(path);
    free(dir);
}


/* ---- re-encryption ------------------------------------------------------------------ */

/* The data key this handle seals under (the header's, or the next one
 * while a re-encryption runs): the one the first call made. */
static void data_key(BlazeDB *db, uint8_t dk[CRYPTO_KEY_LEN])
{
    FileHeader h;
    pager_key_info(db_pager(db), &h, dk);
}

/* Images in one file (main file from page 1, or log frames from 1) that
 * open with `dk`, whatever epoch their trailer names; *images = the
 * images that are not all zeros. */
static uint64_t open_with_key(const char *file, const uint8_t dk[CRYPTO_KEY_LEN],
                              uint64_t *images)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return 0;
    uint8_t *img = malloc(PS), *pl = malloc(PS), zero[PS];
    memset(zero, 0, sizeof zero);
    uint64_t ok = 0;
    long at = PS;
    while (fseek(f, at, SEEK_SET) == 0 && fread(img, 1, PS, f) == PS) {
        at += PS;
        if (memcmp(img, zero, PS) == 0)
            continue;
        (*images)++;
        PageTrailer tr;
        codec_read_trailer(img, PS, &tr);
        CodecKeys k;
        memset(&k, 0, sizeof k);
        assert_int_equal(codec_keys_add(&k, tr.epoch, dk), 0);
        if (codec_open(&k, img, pl, PS, tr.pgno, tr.ctr, tr.kind) == 0)
            ok++;
        codec_keys_free(&k);
    }
    fclose(f);
    free(img);
    free(pl);
    return ok;
}

/* Pages and log frames of the database at `path` that `dk` opens. */
static uint64_t readable_with(const char *path, const uint8_t dk[CRYPTO_KEY_LEN],
                              uint64_t *images)
{
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    *images = 0;
    return open_with_key(path, dk, images) + open_with_key(wal, dk, images);
}

static void key_state(BlazeDB *db, uint32_t *epoch, int *running)
{
    assert_int_equal(blazedb_key_state(db, epoch, running), BLAZEDB_OK);
}

static int count_progress(uint64_t done, uint64_t total, void *arg)
{
    uint64_t *calls = arg;
    assert_true(done <= total);
    calls[0]++;
    calls[1] = done;
    calls[2] = total;
    return 0;
}

static void reencrypt_ok(BlazeDB *db, uint32_t pages_per_txn, uint64_t *rewritten,
                         const char *what)
{
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = pages_per_txn;
    BlazeDBResult rc = blazedb_reencrypt(db, &ro, rewritten);
    if (rc)
        fail_msg("%s: reencrypt: %s (%s)", what, blazedb_strerror(rc), blazedb_errmsg(db));
}

static void test_reencrypt_basic(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "reencrypt"); /* free pages full of old ciphertext */
    const char *path = f.path;
    BlazeDB *db = f.db;
    uint8_t k0[CRYPTO_KEY_LEN], k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN];
    data_key(db, k0);
    uint64_t images = 0, before = readable_with(path, k0, &images);
    fprintf(stderr, "  before: %" PRIu64 " of %" PRIu64 " images open with the key\n",
            before, images);
    assert_true(before > 100);
    assert_int_equal(before, images); /* the scan itself works */
    uint32_t epoch = 9;
    int running = 9;
    key_state(db, &epoch, &running);
    assert_int_equal(epoch, 0);
    assert_int_equal(running, 0);

    /* a second handle, idle for the whole re-encryption */
    BlazeDB *idle = open_db(path);
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = 64;
    uint64_t calls[3] = {0, 0, 0}, rewritten = 0;
    ro.progress = count_progress;
    ro.progress_arg = calls;
    uint64_t t0 = tu_now_us();
    BlazeDBResult rc = blazedb_reencrypt(db, &ro, &rewritten);
    if (rc)
        fail_msg("reencrypt: %s (%s)", blazedb_strerror(rc), blazedb_errmsg(db));
    BlazeDBStats st;
    get_stats(db, &st);
    fprintf(stderr, "  re-encrypted %" PRIu64 " pages (%" PRIu64 " in use) in %.1f ms, %"
            PRIu64 " progress calls\n", rewritten, st.page_count - st.free_pages,
            (double)(tu_now_us() - t0) / 1000.0, calls[0]);
    assert_true(rewritten + 16 >= st.page_count - st.free_pages - 3);
    assert_true(calls[0] > 2);
    assert_int_equal(calls[1], calls[2]); /* the last call says done */
    key_state(db, &epoch, &running);
    assert_int_equal(epoch, 1);
    assert_int_equal(running, 0);
    data_key(db, k1);
    assert_memory_not_equal(k0, k1, sizeof k0);
    /* nothing on disk opens with the old key; everything with the new */
    uint64_t after = readable_with(path, k0, &images);
    fprintf(stderr, "  after: %" PRIu64 " of %" PRIu64 " images open with the old key\n",
            after, images);
    assert_int_equal(after, 0);
    assert_int_equal(readable_with(path, k1, &images), images);
    expect_intact(db, "after re-encryption");
    /* the idle handle learns the new key (from its password) and writes
     * under it */
    verify_docs(idle, NULL, "idle handle after re-encryption");
    assert_int_equal(blazedb_put(idle, "idle", "x", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_delete(idle, "idle"), BLAZEDB_OK);
    blazedb_close(idle);
    assert_int_equal(readable_with(path, k0, &images), 0);

    /* writes go on under the new key; the password still opens it */
    BlazeDBDoc *d = make_doc(NDOCS + 1);
    assert_int_equal(blazedb_insert(db, NULL, "items", d), BLAZEDB_OK);
    blazedb_doc_free(d);
    char id[16];
    snprintf(id, sizeof id, "d%05u", NDOCS + 1);
    assert_int_equal(blazedb_delete_doc(db, NULL, "items", id), BLAZEDB_OK);
    blazedb_close(db);
    assert_int_equal(readable_with(path, k0, &images), 0);
    db = open_db(path);
    expect_intact(db, "after reopen");
    /* and again: a second new key */
    reencrypt_ok(db, 0, &rewritten, "second");
    key_state(db, &epoch, &running);
    assert_int_equal(epoch, 2);
    data_key(db, k2);
    assert_memory_not_equal(k1, k2, sizeof k1);
    assert_int_equal(readable_with(path, k1, &images), 0);
    assert_int_equal(readable_with(path, k0, &images), 0);
    verify_docs(db, NULL, "after the second re-encryption");
    db = reopen_intact(db, path, "reopened after the second");
    blazedb_close(db);

    /* a plaintext database has no key to replace */
    char *plain = tu_path(f.dir, "plain.blazedb");
    BlazeDBOptions o;
    vopts(&o);
    o.flags |= BLAZEDB_OPEN_PLAINTEXT;
    assert_int_equal(blazedb_open_ex(plain, NULL, &o, &db), BLAZEDB_OK);
    assert_int_equal(blazedb_put(db, "k", "v", 1), BLAZEDB_OK);
    assert_int_equal(blazedb_reencrypt(db, NULL, NULL), BLAZEDB_INVALID_ARGUMENT);
    assert_non_null(strstr(blazedb_errmsg(db), "plaintext"));
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = 3;
    assert_int_equal(blazedb_reencrypt(db, &ro, NULL), BLAZEDB_INVALID_ARGUMENT);
    blazedb_close(db);
    free(plain);
    fix_free(&f);
}

/* A reader older than the re-encryption keeps its snapshot; the call
 * says BUSY and keeps both keys; once the reader ends, the next call
 * finishes with nothing left to rewrite. */
static void test_reencrypt_reader(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "reencrypt");
    const char *path = f.path;
    BlazeDB *db = f.db;
    uint8_t k0[CRYPTO_KEY_LEN];
    data_key(db, k0);
    BlazeDBTxn *r;
    assert_int_equal(blazedb_txn_begin(db, BLAZEDB_TXN_READONLY, &r), BLAZEDB_OK);
    verify_docs(db, r, "reader before");
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = 32;
    uint64_t rewritten = 0;
    BlazeDBResult rc = blazedb_reencrypt(db, &ro, &rewritten);
    assert_int_equal(rc, BLAZEDB_BUSY);
    assert_non_null(strstr(blazedb_errmsg(db), "read transaction"));
    assert_true(rewritten > 0);
    uint32_t epoch;
    int running;
    key_state(db, &epoch, &running);
    assert_int_equal(epoch, 0);
    assert_int_equal(running, 1);
    verify_docs(db, r, "reader after");
    verify_docs(db, NULL, "latest with the reader open");
    check_db(db, "with the reader open");
    /* a second handle opens it meanwhile (both keys from the header) */
    BlazeDB *db2 = open_db(path);
    verify_docs(db2, NULL, "second handle during");
    blazedb_close(db2);
    blazedb_txn_abort(r);
    uint64_t again = 0;
    reencrypt_ok(db, 32, &again, "after the reader");
    fprintf(stderr, "  with a reader: %" PRIu64 " pages, then BUSY; after it: %" PRIu64
            " more\n", rewritten, again);
    assert_true(again < 8);
    key_state(db, &epoch, &running);
    assert_int_equal(epoch, 1);
    assert_int_equal(running, 0);
    uint64_t images;
    assert_int_equal(readable_with(path, k0, &images), 0);
    expect_intact(db, "after the finish");
    blazedb_close(db);
    fix_free(&f);
}

/* Another process writing throughout, through its own handle. */
static void rk_child(const char *path, int rfd, int wfd)
{
    BlazeDB *db = open_db(path);
    uint8_t v[2500];
    uint64_t n = 0;
    for (;;) {
        struct pollfd pf = {rfd, POLLIN, 0};
        if (poll(&pf, 1, 0) > 0)
            break;
        char k[32];
        snprintf(k, sizeof k, "p-%06" PRIu64, n);
        tu_fill(n + 777, v, sizeof v);
        BlazeDBResult rc = blazedb_put(db, k, v, 100 + n % 2400);
        if (rc) {
            fprintf(stderr, "child: put: %s (%s)\n", blazedb_strerror(rc), blazedb_errmsg(db));
            _exit(3);
        }
        if (++n == 20 && write(wfd, &n, sizeof n) != (ssize_t)sizeof n)
            _exit(4); /* writing: the parent may start */
    }
    blazedb_close(db);
    if (write(wfd, &n, sizeof n) != (ssize_t)sizeof n)
        _exit(4);
    _exit(0);
}

static void test_reencrypt_writers(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "reencrypt");
    const char *path = f.path;
    BlazeDB *db = f.db;
    uint8_t k0[CRYPTO_KEY_LEN];
    data_key(db, k0);
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        rk_child(path, to_child[0], from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);
    atomic_int stop = 0;
    Writer w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (Writer){db, i, &stop, 0, BLAZEDB_OK};
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
    }
    uint64_t child_n = 0;
    assert_int_equal(read(from_child[0], &child_n, sizeof child_n), (ssize_t)sizeof child_n);
    assert_int_equal(child_n, 20);
    uint64_t rewritten = 0;
    BlazeDBResult rc = BLAZEDB_BUSY;
    int tries = 0;
    /* BUSY when a writer's read (inside a put) was older than the walk */
    while (rc == BLAZEDB_BUSY && tries++ < 50) {
        BlazeDBReencryptOptions ro;
        blazedb_reencrypt_options_init(&ro);
        ro.pages_per_txn = 8;
        uint64_t n = 0;
        rc = blazedb_reencrypt(db, &ro, &n);
        rewritten += n;
    }
    if (rc)
        fail_msg("reencrypt with writers: %s (%s)", blazedb_strerror(rc), blazedb_errmsg(db));
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (w[i].err)
            fail_msg("writer %d: %s", i, blazedb_strerror(w[i].err));
    }
    assert_int_equal(write(to_child[1], "x", 1), 1);
    assert_int_equal(read(from_child[0], &child_n, sizeof child_n), (ssize_t)sizeof child_n);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_child[1]);
    close(from_child[0]);
    fprintf(stderr, "  %" PRIu64 " pages re-encrypted in %d call(s) while threads put %" PRIu64
            " + %" PRIu64 " and another process %" PRIu64 "\n", rewritten, tries, w[0].acked,
            w[1].acked, child_n);
    assert_true(child_n > 20 && w[0].acked > 0 && w[1].acked > 0);
    /* everything any writer committed is there */
    uint8_t v[3000];
    for (uint64_t j = 0; j < child_n; j++) {
        char k[32];
        snprintf(k, sizeof k, "p-%06" PRIu64, j);
        void *got = NULL;
        size_t gl = 0;
        assert_int_equal(blazedb_get(db, k, &got, &gl), BLAZEDB_OK);
        tu_fill(j + 777, v, sizeof v);
        assert_int_equal(gl, 100 + j % 2400);
        assert_memory_equal(got, v, gl);
        blazedb_free(got);
    }
    verify_writers(db, w, 2);
    expect_intact(db, "after re-encryption with writers");
    uint64_t images;
    assert_int_equal(readable_with(path, k0, &images), 0);
    blazedb_close(db);
    fix_free(&f);
}

typedef struct {
    BlazeDB *db;
    BlazeDBResult rc;
} RkCall;

static void *rk_thread(void *arg)
{
    RkCall *c = arg;
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = 16;
    c->rc = blazedb_reencrypt(c->db, &ro, NULL);
    return NULL;
}

/* Two threads of one handle re-encrypting at once share the work; each
 * returns OK and the old keys open nothing. */
static void test_reencrypt_overlapping(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "reencrypt");
    const char *path = f.path;
    BlazeDB *db = f.db;
    uint8_t k0[CRYPTO_KEY_LEN];
    data_key(db, k0);
    uint32_t epoch = 0;
    for (int round = 0; round < 3; round++) {
        RkCall c[2] = {{db, BLAZEDB_OK}, {db, BLAZEDB_OK}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&th[i], NULL, rk_thread, &c[i]), 0);
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            if (c[i].rc)
                fail_msg("round %d thread %d: %s (%s)", round, i, blazedb_strerror(c[i].rc),
                         blazedb_errmsg(db));
        }
        uint32_t e;
        int running;
        key_state(db, &e, &running);
        assert_int_equal(running, 0);
        assert_true(e > epoch && e <= epoch + 2);
        epoch = e;
    }
    uint64_t images;
    assert_int_equal(readable_with(path, k0, &images), 0);
    expect_intact(db, "after overlapping re-encryptions");
    blazedb_close(db);
    db = open_db(path);
    verify_docs(db, NULL, "reopened after overlapping re-encryptions");
    blazedb_close(db);
    fix_free(&f);
}

/* Cancelled half-way: the database opens (both keys), a password change
 * in between is kept, and the next call finishes; the password in force
 * opens the result. */
static void test_reencrypt_cancel_password(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, "reencrypt");
    const char *path = f.path;
    BlazeDB *db = f.db;
    uint8_t k0[CRYPTO_KEY_LEN];
    data_key(db, k0);
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.pages_per_txn = 16;
    int calls = 0;
    ro.progress = cancel_after;
    ro.progress_arg = &calls;
    uint64_t rewritten = 0;
    assert_int_equal(blazedb_reencrypt(db, &ro, &rewritten), BLAZEDB_CANCELLED);
    assert_true(rewritten > 0);
    uint32_t epoch;
    int running;
    key_state(db, &epoch, &running);
    assert_int_equal(running, 1);
    uint64_t images, old = readable_with(path, k0, &images);
    assert_true(old > 0 && old < images); /* some pages under each key */
    /* the health report says so, and what to do */
    char *rep = NULL;
    BlazeDBHealthStatus hs;
    assert_int_equal(blazedb_health(db, NULL, 0, &rep, &hs), BLAZEDB_OK);
    assert_non_null(strstr(rep, "warn: reencryption_unfinished: "));
    assert_non_null(strstr(rep, "blazedb_reencrypt"));
    assert_int_equal(hs, BLAZEDB_HEALTH_WARN);
    blazedb_free(rep);
    /* a backup now restores to a database that opens with the password */
    char *bk = tu_path(f.dir, "mid.bkp"), *restored = tu_path(f.dir, "restored.blazedb");
    assert_int_equal(blazedb_backup(db, bk, NULL), BLAZEDB_OK);
    blazedb_close(db);
    const char *chain[1] = {bk};
    assert_int_equal(blazedb_restore(chain, 1, TU_PASSWORD, restored, NULL), BLAZEDB_OK);
    db = open_db(restored);
    expect_intact(db, "restored from a backup taken mid-way");
    blazedb_close(db);
    free(bk);
    free(restored);

    db = open_db(path);
    expect_intact(db, "reopened mid-way");
    /* a handle that stays open across the password change */
    BlazeDB *stale = open_db(path);
    BlazeDBOptions o;
    vopts(&o);
    assert_int_equal(blazedb_rekey(db, "new password", &o), BLAZEDB_OK);
    key_state(db, &epoch, &running);
    assert_int_equal(running, 1);
    /* the stale handle reads on, but cannot wrap the new key under the
     * password it does not know */
    verify_docs(stale, NULL, "stale handle");
    assert_int_equal(blazedb_reencrypt(stale, NULL, NULL), BLAZEDB_AUTH_FAILED);
    assert_non_null(strstr(blazedb_errmsg(stale), "reopen"));
    blazedb_close(stale);
    reencrypt_ok(db, 16, &rewritten, "after the password change");
    key_state(db, &epoch, &running);
    assert_int_equal(epoch, 1);
    assert_int_equal(running, 0);
    blazedb_close(db);
    assert_int_equal(readable_with(path, k0, &images), 0);
    BlazeDB *bad = NULL;
    assert_int_equal(blazedb_open_ex(path, TU_PASSWORD, &o, &bad), BLAZEDB_AUTH_FAILED);
    assert_int_equal(blazedb_open_ex(path, "new password", &o, &db), BLAZEDB_OK);
    rep = NULL;
    assert_int_equal(blazedb_health(db, NULL, 0, &rep, &hs), BLAZEDB_OK);
    assert_null(strstr(rep, "reencryption_unfinished"));
    blazedb_free(rep);
    expect_intact(db, "with the new password");
    blazedb_close(db);
    fix_free(&f);
}

static void test_reencrypt_powerloss(void **state)
{
    (void)state;
    uint64_t seed = tu_seed("test_reencrypt_powerloss");
    char *dir = tu_mkdtemp("reencrypt");
    char *tmpl = tu_path(dir, "template.blazedb");
    char *path = tu_path(dir, "p.blazedb");
    TuWorkload w;
    crash_workload(&w, seed);
    const uint64_t ntxn = 30;
    uint8_t k0[CRYPTO_KEY_LEN];
    {
        BlazeDB *db = open_db(tmpl);
        for (uint64_t j = 1; j <= ntxn; j++)
            assert_int_equal(tu_txn_run(db, &w, j, NULL), BLAZEDB_OK);
        data_key(db, k0);
        blazedb_close(db);
    }
    TuModel m;
    assert_int_equal(tu_model_init(&m, &w), 0);
    tu_model_replay(&m, ntxn);

    PlSweep sw;
    pl_sweep(tmpl, path, seed, &m, PL_REENCRYPT, 3, k0, &sw);
    fprintf(stderr, "  re-encryption without faults: %" PRIu64 " syncs; %" PRIu64
            " power losses (%" PRIu64 " mid-way), every one recovered\n", sw.syncs,
            sw.crashes, sw.midway);
    assert_true(sw.syncs >= 6);
    assert_true(sw.crashes >= sw.syncs);
    assert_true(sw.midway > 0);
    tu_model_free(&m);
    tu_rmrf(dir);
    free(tmpl);
    free(path);
    free(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vacuum_reclaims),
        cmocka_unit_test(test_vacuum_reader_snapshot),
        cmocka_unit_test(test_vacuum_concurrent_writers),
        cmocka_unit_test(test_vacuum_cancel),
        cmocka_unit_test(test_auto_vacuum),
        cmocka_unit_test(test_vacuum_kill9),
        cmocka_unit_test(test_vacuum_powerloss),
        cmocka_unit_test(test_reencrypt_basic),
        cmocka_unit_test(test_reencrypt_reader),
        cmocka_unit_test(test_reencrypt_writers),
        cmocka_unit_test(test_reencrypt_overlapping),
        cmocka_unit_test(test_reencrypt_cancel_password),
        cmocka_unit_test(test_reencrypt_powerloss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
