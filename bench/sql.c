/*
 * sql.c — the query workloads of issue 4 (sql-*): the same queries, with
 * the same indexes, on the same 100,000 users (and 100,000 orders for the
 * join) in BlazeDB (encrypted) and in SQLite holding the JSON text.
 *
 * Engines ("variants" here, since the SQL peers differ in schema, not only
 * in library):
 *   - blazedb: collections "users" and "orders", indexes made with
 *     blazedb_index_create, queries through blazedb_prepare/bind/step;
 *   - sqlite-json: tables (id TEXT PRIMARY KEY, doc TEXT) holding the JSON
 *     text, expression indexes on json_extract(doc, '$.field');
 *   - sqlite-gen / sqlite-virt: the same tables with a STORED / VIRTUAL
 *     generated column per indexed field and indexes on those columns
 *     (unindexed fields are still read with json_extract);
 *   - sqlcipher: SQLCipher has no JSON1 here, so it gets a relational table
 *     (one column per field) and plain indexes: SQL's own best layout,
 *     encrypted; it runs the same SQL text as BlazeDB;
 *   - lmdb: id -> JSON text, only for the point query (the field is found in
 *     the text with a memchr-style scan).
 *
 * Each engine is loaded once (untimed), then each workload verifies every
 * engine's answers against values computed in C from the generated data
 * (row counts and checksums of what was read: a mismatch stops the run),
 * then runs --runs timed loops of at least TIME_PER_RUN seconds; the median
 * run is reported, with BlazeDB's ratio to each peer.  The workloads are
 * selected by --workloads (sql-*) and the engines by --engines.
 */
#include <dlfcn.h>
#include <lmdb.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "blazedb.h"

/* ---- the queries ------------------------------------------------------------------ */

enum { Q_EQ, Q_RANGE, Q_SCAN, Q_COUNT, Q_GROUP, Q_JOIN, Q_POINT, NQ };

static const char *const qname[NQ] = {"sql-eq-index",  "sql-range-sort-limit", "sql-scan-filter",
                                      "sql-count-index", "sql-group-by",      "sql-join",
                                      "sql-point-id"};

static const char *const qwhat[NQ] = {
    "equality on an indexed field (4 statuses, ~25% of the users), every row fetched and one "
    "field read",
    "range on one indexed field, ORDER BY another indexed field, LIMIT 100 (age window of 11 "
    "years, ~18% of the users)",
    "full scan with a filter on an unindexed field (visits window of 100 out of 10,000, ~1%)",
    "count(*) with an indexed predicate (city = ?, 50 cities, ~2% of the users)",
    "GROUP BY city (50 groups) with count(*), avg(score), max(age) over every user",
    "orders JOIN users ON orders.user_id = users.id, orders of a 7-day window (~1,900) whose "
    "user is active (~480 rows)",
    "point query by id through a prepared statement (reset + bind per query), random ids",
};

/* BlazeDB, and SQLCipher's relational table: plain field names. */
static const char *const q_plain[NQ] = {
    "SELECT name FROM users WHERE status = ?",
    "SELECT id, score FROM users WHERE age BETWEEN ? AND ? ORDER BY score DESC LIMIT 100",
    "SELECT name FROM users WHERE visits BETWEEN ? AND ?",
    "SELECT count(*) FROM users WHERE city = ?",
    "SELECT city, count(*), avg(score), max(age) FROM users GROUP BY city",
    ("SELECT u.name, o.amount FROM orders o JOIN users u ON o.user_id = u.id "
     "WHERE o.day BETWEEN ? AND ? AND u.status = 'active'"),
    "SELECT name FROM users WHERE id = ?",
};

/* SQLite with expression indexes: every field through json_extract. */
#define J(f) "json_extract(doc, '$." f "')"
static const char *const q_json[NQ] = {
    "SELECT " J("name") " FROM users WHERE " J("status") " = ?",
    "SELECT id, " J("score") " FROM users WHERE " J("age") " BETWEEN ? AND ? ORDER BY " J(
        "score") " DESC LIMIT 100",
    "SELECT " J("name") " FROM users WHERE " J("visits") " BETWEEN ? AND ?",
    "SELECT count(*) FROM users WHERE " J("city") " = ?",
    "SELECT " J("city") ", count(*), avg(" J("score") "), max(" J("age") ") FROM users GROUP BY " J(
        "city"),
    ("SELECT json_extract(u.doc, '$.name'), json_extract(o.doc, '$.amount') FROM orders o "
     "JOIN users u ON json_extract(o.doc, '$.user_id') = u.id WHERE json_extract(o.doc, '$.day') "
     "BETWEEN ? AND ? AND json_extract(u.doc, '$.status') = 'active'"),
    "SELECT " J("name") " FROM users WHERE id = ?",
};

/* SQLite with generated columns for the indexed fields (status, age, score,
 * city; orders: user_id, day); the other fields through json_extract. */
static const char *const q_gen[NQ] = {
    "SELECT " J("name") " FROM users WHERE status = ?",
    "SELECT id, score FROM users WHERE age BETWEEN ? AND ? ORDER BY score DESC LIMIT 100",
    "SELECT " J("name") " FROM users WHERE " J("visits") " BETWEEN ? AND ?",
    "SELECT count(*) FROM users WHERE city = ?",
    "SELECT city, count(*), avg(score), max(age) FROM users GROUP BY city",
    ("SELECT json_extract(u.doc, '$.name'), json_extract(o.doc, '$.amount') FROM orders o "
     "JOIN users u ON o.user_id = u.id WHERE o.day BETWEEN ? AND ? AND u.status = 'active'"),
    "SELECT " J("name") " FROM users WHERE id = ?",
};

/* sql-range-sort-limit with SQL's planner told to walk the sort field's
 * index (the plan BlazeDB chooses): SQLite's best case, reported beside. */
static const char *const q_range_hint_json =
    "SELECT id, " J("score") " FROM users INDEXED BY users_score WHERE " J(
        "age") " BETWEEN ? AND ? ORDER BY " J("score") " DESC LIMIT 100";
static const char *const q_range_hint_cols =
    "SELECT id, score FROM users INDEXED BY users_score WHERE age BETWEEN ? AND ? "
    "ORDER BY score DESC LIMIT 100";

/* The columns each query returns: t text, i integer, d double. */
static const char *const qcols[NQ] = {"t", "td", "t", "i", "tidi", "ti", "t"};

/* Indexes, the same in every engine. */
static const struct {
    const char *table, *field;
} indexes[] = {{"users", "status"}, {"users", "age"},  {"users", "score"},
               {"users", "city"},   {"orders", "day"}, {"orders", "user_id"}};
#define NINDEXES (sizeof indexes / sizeof *indexes)

/* ---- the data ------------------------------------------------------------------- */

static const char *const cities[] = {
    "Paris",     "London",     "Berlin",   "Madrid",    "Rome",      "Tokyo",     "Lisbon",
    "Oslo",      "Vienna",     "Prague",   "Warsaw",    "Dublin",    "Athens",    "Helsinki",
    "Stockholm", "Copenhagen", "Brussels", "Amsterdam", "Zurich",    "Geneva",    "Munich",
    "Hamburg",   "Milan",      "Naples",   "Barcelona", "Seville",   "Porto",     "Lyon",
    "Marseille", "Nice",       "Krakow",   "Budapest",  "Bucharest", "Sofia",     "Belgrade",
    "Zagreb",    "Riga",       "Tallinn",  "Vilnius",   "Reykjavik", "Edinburgh", "Glasgow",
    "Manchester", "Bristol",   "Toronto",  "Montreal",  "Boston",    "Chicago",   "Denver",
    "Seattle"};
#define NCITIES (int)(sizeof cities / sizeof *cities)
static const char *const statuses[] = {"active", "inactive", "pending", "banned"};
static const char *const ostatuses[] = {"new", "paid", "shipped", "delivered", "returned"};
static const char *const first[] = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald",
                                    "Ken", "Margaret", "Linus", "Frances", "John", "Radia"};
static const char *const last[] = {"Smith", "Jones",  "Martin", "Garcia", "Muller", "Rossi",
                                   "Tanaka", "Silva", "Novak",  "Dubois", "Kowalski", "Berg"};
static const char *const tags[] = {"new", "vip", "beta", "admin", "trial", "pro", "staff"};

typedef struct {
    char id[BENCH_KEY_LEN + 1];
    char name[32];
    int age, city, status, visits;
    double score;
} User;

typedef struct {
    char id[BENCH_KEY_LEN + 1];
    int user, amount, status, day, items;
} Order;

#define JSON_CAP 320
static size_t nusers, norders;
static User *users;
static Order *orders;
static char *ujson, *ojson; /* JSON_CAP bytes per document */
static size_t *ujlen, *ojlen;
/* Extra fields only the relational table (sqlcipher) needs. */
static char (*ucreated)[16], (*utags)[32];

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* "YYYY-MM-DD" of `days` after 1970-01-01 (H. Hinnant's civil_from_days). */
static void day_text(char *out, long days)
{
    long z = days + 719468, era = z / 146097, doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    sprintf(out, "%04ld-%02ld-%02ld", y + (m <= 2), m, d);
}
#define DAY0 20089 /* 2025-01-01: orders' days are DAY0 + 0..364 */

static void make_data(void)
{
    nusers = norders = bench_quick ? 20000 : 100000;
    users = calloc(nusers, sizeof *users);
    orders = calloc(norders, sizeof *orders);
    ujson = malloc(nusers * JSON_CAP);
    ojson = malloc(norders * JSON_CAP);
    ujlen = malloc(nusers * sizeof *ujlen);
    ojlen = malloc(norders * sizeof *ojlen);
    ucreated = malloc(nusers * sizeof *ucreated);
    utags = malloc(nusers * sizeof *utags);
    if (!users || !orders || !ujson || !ojson || !ujlen || !ojlen || !ucreated || !utags)
        bench_die("out of memory");
    char *ids = bench_make_keys(nusers + norders, 41);
    rs = 0x5DEECE66Dull;
    for (size_t i = 0; i < nusers; i++) {
        User *u = &users[i];
        memcpy(u->id, ids + i * BENCH_KEY_LEN, BENCH_KEY_LEN);
        int f = (int)(rnd() % 12), l = (int)(rnd() % 12);
        snprintf(u->name, sizeof u->name, "%s %c. %s", first[f], 'A' + (int)(rnd() % 26), last[l]);
        u->age = 18 + (int)(rnd() % 60);
        u->city = (int)(rnd() % NCITIES);
        u->status = (int)(rnd() % 4);
        u->visits = (int)(rnd() % 10000);
        char score[32];
        snprintf(score, sizeof score, "%.6f", (double)(rnd() % 1000000000u) / 1e6);
        u->score = strtod(score, NULL);
        day_text(ucreated[i], DAY0 - 1000 + (long)(rnd() % 1000));
        snprintf(utags[i], sizeof utags[i], "[\"%s\",\"%s\"]", tags[rnd() % 7], tags[rnd() % 7]);
        ujlen[i] = (size_t)snprintf(
            ujson + i * JSON_CAP, JSON_CAP,
            "{\"id\":\"%s\",\"name\":\"%s\",\"age\":%d,\"city\":\"%s\","
            "\"score\":%s,\"status\":\"%s\",\"created\":\"%s\",\"visits\":%d,\"tags\":%s}",
            u->id, u->name, u->age, cities[u->city], score, statuses[u->status],
            ucreated[i], u->visits, utags[i]);
    }
    for (size_t i = 0; i < norders; i++) {
        Order *o = &orders[i];
        memcpy(o->id, ids + (nusers + i) * BENCH_KEY_LEN, BENCH_KEY_LEN);
        o->user = (int)(rnd() % nusers);
        o->amount = 100 + (int)(rnd() % 50000);
        o->status = (int)(rnd() % 5);
        o->day = (int)(rnd() % 365);
        o->items = 1 + (int)(rnd() % 9);
        char day[16];
        day_text(day, DAY0 + o->day);
        ojlen[i] = (size_t)snprintf(ojson + i * JSON_CAP, JSON_CAP,
                                    "{\"id\":\"%s\",\"user_id\":\"%s\",\"amount\":%d,"
                                    "\"status\":\"%s\",\"day\":\"%s\",\"items\":%d}",
                                    o->id, users[o->user].id, o->amount, ostatuses[o->status],
                                    day, o->items);
    }
    free(ids);
}

static void free_data(void)
{
    free(users);
    free(orders);
    free(ujson);
    free(ojson);
    free(ujlen);
    free(ojlen);
    free(ucreated);
    free(utags);
}

/* ---- parameters and the expected answers ---------------------------------------------- */

#define NPARAM 64
typedef struct {
    int a, b;        /* status / age / visits / city / day / user, by query */
    char ta[16], tb[16]; /* the text forms where the query binds text */
} Param;

typedef struct {
    uint64_t rows, sum;
} Answer;

static Param params[NQ][NPARAM];
static Answer expect[NQ][NPARAM];
/* Per city: the expected GROUP BY row. */
static struct {
    long count;
    int max_age;
    double avg;
} groups[NCITIES];

static uint64_t join_row(const char *name, size_t nl, int64_t amount)
{
    return fnv(name, nl) + (uint64_t)amount * 0x9E3779B97F4A7C15ull;
}

static uint64_t group_row(const char *city, size_t cl, int64_t count, int64_t max)
{
    return fnv(city, cl) + (uint64_t)count * 1000003u + (uint64_t)max * 7919u;
}

static int cmp_score_desc(const void *a, const void *b)
{
    double x = users[*(const size_t *)a].score, y = users[*(const size_t *)b].score;
    return x > y ? -1 : x < y;
}

static void make_params(void)
{
    rs = 0xC0FFEEull;
    size_t *pick = malloc(nusers * sizeof *pick);
    for (int p = 0; p < NPARAM; p++) {
        Param *x;
        Answer *e;
        /* eq-index: status */
        x = &params[Q_EQ][p], e = &expect[Q_EQ][p];
        x->a = p % 4;
        snprintf(x->ta, sizeof x->ta, "%s", statuses[x->a]);
        for (size_t i = 0; i < nusers; i++)
            if (users[i].status == x->a)
                e->rows++, e->sum += fnv(users[i].name, strlen(users[i].name));
        /* range-sort-limit: age window of 11 years */
        x = &params[Q_RANGE][p], e = &expect[Q_RANGE][p];
        x->a = 18 + (int)(rnd() % 50);
        x->b = x->a + 10;
        size_t n = 0;
        for (size_t i = 0; i < nusers; i++)
            if (users[i].age >= x->a && users[i].age <= x->b)
                pick[n++] = i;
        qsort(pick, n, sizeof *pick, cmp_score_desc);
        for (size_t i = 0; i < n && i < 100; i++)
            e->rows++, e->sum += fnv(users[pick[i]].id, BENCH_KEY_LEN);
        if (n > 100 && users[pick[99]].score == users[pick[100]].score)
            bench_die("sql: tie at the LIMIT boundary in the generated data; change the seed");
        /* scan-filter: visits window of 100 */
        x = &params[Q_SCAN][p], e = &expect[Q_SCAN][p];
        x->a = (int)(rnd() % 9900);
        x->b = x->a + 99;
        for (size_t i = 0; i < nusers; i++)
            if (users[i].visits >= x->a && users[i].visits <= x->b)
                e->rows++, e->sum += fnv(users[i].name, strlen(users[i].name));
        /* count-index: city */
        x = &params[Q_COUNT][p], e = &expect[Q_COUNT][p];
        x->a = (int)(rnd() % NCITIES);
        snprintf(x->ta, sizeof x->ta, "%s", cities[x->a]);
        e->rows = 1;
        for (size_t i = 0; i < nusers; i++)
            e->sum += users[i].city == x->a;
        /* join: 7-day window */
        x = &params[Q_JOIN][p], e = &expect[Q_JOIN][p];
        x->a = (int)(rnd() % 359);
        x->b = x->a + 6;
        day_text(x->ta, DAY0 + x->a);
        day_text(x->tb, DAY0 + x->b);
        for (size_t i = 0; i < norders; i++) {
            const Order *o = &orders[i];
            const User *u = &users[o->user];
            if (o->day >= x->a && o->day <= x->b && u->status == 0)
                e->rows++, e->sum += join_row(u->name, strlen(u->name), o->amount);
        }
    }
    /* group-by: one answer, the same for every "parameter" */
    double sum[NCITIES] = {0};
    for (size_t i = 0; i < nusers; i++) {
        const User *u = &users[i];
        groups[u->city].count++;
        sum[u->city] += u->score;
        if (u->age > groups[u->city].max_age)
            groups[u->city].max_age = u->age;
    }
    Answer g = {0, 0};
    for (int c = 0; c < NCITIES; c++)
        if (groups[c].count) {
            groups[c].avg = sum[c] / (double)groups[c].count;
            g.rows++;
            g.sum += group_row(cities[c], strlen(cities[c]), groups[c].count, groups[c].max_age);
        }
    for (int p = 0; p < NPARAM; p++)
        expect[Q_GROUP][p] = g;
    free(pick);
}

/* The point query's parameter and answer are drawn per query. */
static void point_param(Param *x, Answer *e)
{
    x->a = (int)(rnd() % nusers);
    snprintf(x->ta, sizeof x->ta, "%.15s", ""); /* unused: ids are bound from users[] */
    e->rows = 1;
    e->sum = fnv(users[x->a].name, strlen(users[x->a].name));
}

/* ---- checking rows -------------------------------------------------------------------- */

/* One row's columns, as qcols[q] describes them. */
typedef struct {
    const char *t[4];
    size_t tl[4];
    int64_t i[4];
    double d[4];
} RowVals;

typedef struct {
    uint64_t rows, sum;
    double last_score; /* Q_RANGE: scores must not increase */
    int bad;           /* a value that cannot be right (order, avg) */
} Acc;

static void acc_row(int q, const RowVals *r, Acc *a)
{
    a->rows++;
    switch (q) {
    case Q_EQ:
    case Q_SCAN:
    case Q_POINT:
        a->sum += fnv(r->t[0], r->tl[0]);
        break;
    case Q_RANGE:
        a->sum += fnv(r->t[0], r->tl[0]);
        if (a->rows > 1 && r->d[1] > a->last_score)
            a->bad = 1;
        a->last_score = r->d[1];
        break;
    case Q_COUNT:
        a->sum += (uint64_t)r->i[0];
        break;
    case Q_GROUP: {
        a->sum += group_row(r->t[0], r->tl[0], r->i[1], r->i[3]);
        int c = 0;
        while (c < NCITIES &&
               (strlen(cities[c]) != r->tl[0] || memcmp(cities[c], r->t[0], r->tl[0])))
            c++;
        double diff = c < NCITIES ? r->d[2] - groups[c].avg : 0;
        if (c == NCITIES || diff > 1e-6 || diff < -1e-6) /* avg of 0..1000: absolute */
            a->bad = 1;
        break;
    }
    case Q_JOIN:
        a->sum += join_row(r->t[0], r->tl[0], r->i[1]);
        break;
    }
}

/* ---- engines ---------------------------------------------------------------------------- */

typedef struct Variant Variant;
struct Variant {
    const char *name;
    const char *what;
    int (*open)(Variant *v, const char *dir); /* create, load, index (untimed) */
    int (*prepare)(Variant *v, int q);        /* 1 when the query does not apply */
    int (*run)(Variant *v, int q, const Param *p, Acc *a);
    char *(*plan)(Variant *v, int q); /* malloc'd plan text, or NULL */
    void (*close)(Variant *v);
    int kind; /* for the SQL variants: SQ_JSON, SQ_GEN, SQ_VIRT, SQ_COLS */
    void *h;
    void *st[NQ];
    const char *const *sql; /* the query texts */
};

/* -- BlazeDB -- */

static int bz_load(BlazeDB *db, const char *coll, const char *json, const size_t *len, size_t n)
{
    BlazeDBResult rc = blazedb_collection_create(db, NULL, coll, NULL);
    if (rc != BLAZEDB_OK)
        return -1;
    BlazeDBDoc *docs[1000];
    for (size_t i = 0; i < n; i += 1000) {
        size_t m = n - i < 1000 ? n - i : 1000, k = 0;
        for (; k < m; k++)
            if (blazedb_doc_from_json(json + (i + k) * JSON_CAP, len[i + k], &docs[k]) !=
                BLAZEDB_OK)
                break;
        rc = k == m ? blazedb_insert_many(db, NULL, coll, docs, m) : BLAZEDB_INVALID_ARGUMENT;
        for (size_t j = 0; j < k; j++)
            blazedb_doc_free(docs[j]);
        if (rc != BLAZEDB_OK)
            return -1;
    }
    return 0;
}

static int bz_open_v(Variant *v, const char *dir)
{
    BlazeDB *db = engine_blazedb.open(dir); /* encrypted, cheapest KDF, 256 MiB cache */
    if (!db)
        return -1;
    v->h = db;
    if (bz_load(db, "users", ujson, ujlen, nusers) ||
        bz_load(db, "orders", ojson, ojlen, norders)) {
        fprintf(stderr, "blazedb load: %s\n", blazedb_errmsg(db));
        return -1;
    }
    for (size_t i = 0; i < NINDEXES; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%s", indexes[i].table, indexes[i].field);
        BlazeDBIndexField f = {indexes[i].field, 0, 0};
        if (blazedb_index_create(db, NULL, indexes[i].table, name, &f, 1, 0, NULL) != BLAZEDB_OK) {
            fprintf(stderr, "blazedb index %s: %s\n", name, blazedb_errmsg(db));
            return -1;
        }
    }
    /* per collection: a bare ANALYZE aborts in this build (do_analyze frees
     * blazedb_collection_list's single block name by name) */
    if (blazedb_exec(db, "ANALYZE users; ANALYZE orders", NULL, NULL) != BLAZEDB_OK)
        bench_line("blazedb: ANALYZE failed (%s); planning on the maintained statistics",
                   blazedb_errmsg(db));
    return 0;
}

static int bz_prepare(Variant *v, int q)
{
    BlazeDBStmt *st;
    if (blazedb_prepare(v->h, v->sql[q], (size_t)-1, &st, NULL) != BLAZEDB_OK || !st) {
        fprintf(stderr, "blazedb prepare %s: %s\n", qname[q], blazedb_errmsg(v->h));
        return -1;
    }
    v->st[q] = st;
    return 0;
}

static int bz_run(Variant *v, int q, const Param *p, Acc *a)
{
    BlazeDBStmt *st = v->st[q];
    BlazeDBResult rc = BLAZEDB_OK;
    switch (q) {
    case Q_EQ:
    case Q_COUNT:
        rc = blazedb_bind_text(st, 1, p->ta, strlen(p->ta));
        break;
    case Q_RANGE:
    case Q_SCAN:
        if ((rc = blazedb_bind_int(st, 1, p->a)) == BLAZEDB_OK)
            rc = blazedb_bind_int(st, 2, p->b);
        break;
    case Q_JOIN:
        if ((rc = blazedb_bind_text(st, 1, p->ta, strlen(p->ta))) == BLAZEDB_OK)
            rc = blazedb_bind_text(st, 2, p->tb, strlen(p->tb));
        break;
    case Q_POINT:
        rc = blazedb_bind_text(st, 1, users[p->a].id, BENCH_KEY_LEN);
        break;
    }
    if (rc != BLAZEDB_OK)
        return -1;
    const char *cols = qcols[q];
    RowVals r;
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW) {
        for (size_t c = 0; cols[c]; c++) {
            if (cols[c] == 't') {
                r.t[c] = blazedb_column_text(st, c, &r.tl[c]);
                if (!r.t[c])
                    r.t[c] = "", r.tl[c] = 0;
            } else if (cols[c] == 'i') {
                r.i[c] = blazedb_column_int(st, c);
            } else {
                r.d[c] = blazedb_column_double(st, c);
            }
        }
        acc_row(q, &r, a);
    }
    BlazeDBResult rr = blazedb_reset(st);
    if (rc != BLAZEDB_DONE || rr != BLAZEDB_OK) {
        fprintf(stderr, "blazedb %s: %s\n", qname[q], blazedb_errmsg(v->h));
        return -1;
    }
    return 0;
}

static char *bz_plan(Variant *v, int q)
{
    char *out = NULL;
    if (blazedb_explain(v->h, v->sql[q], 0, &out) != BLAZEDB_OK) {
        fprintf(stderr, "blazedb explain %s: %s\n", qname[q], blazedb_errmsg(v->h));
        return NULL;
    }
    char *copy = strdup(out);
    blazedb_free(out);
    return copy;
}

static void bz_close_v(Variant *v)
{
    for (int q = 0; q < NQ; q++)
        blazedb_finalize(v->st[q]);
    if (v->h)
        blazedb_close(v->h);
}

/* -- SQLite and SQLCipher (one table of functions, as in engines.c) -- */

typedef struct {
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close)(sqlite3 *);
    int (*exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *,
                char **);
    int (*prepare)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_int64)(sqlite3_stmt *, int, sqlite3_int64);
    int (*bind_double)(sqlite3_stmt *, int, double);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    sqlite3_int64 (*column_int64)(sqlite3_stmt *, int);
    double (*column_double)(sqlite3_stmt *, int);
    int (*finalize)(sqlite3_stmt *);
    const char *(*errmsg)(sqlite3 *);
} SqlFns;

static const SqlFns sqlite_fns = {
    sqlite3_open_v2,   sqlite3_close,      sqlite3_exec,         sqlite3_prepare_v2,
    sqlite3_bind_text, sqlite3_bind_int64, sqlite3_bind_double,  sqlite3_step,
    sqlite3_reset,     sqlite3_column_text, sqlite3_column_bytes, sqlite3_column_int64,
    sqlite3_column_double, sqlite3_finalize, sqlite3_errmsg};

static SqlFns cipher_fns;

/* SQLCipher exports SQLite's names: loaded apart (RTLD_LOCAL, DEEPBIND). */
static int load_cipher(void)
{
    static int state; /* 1 loaded, -1 unavailable */
    if (state)
        return state;
    state = -1;
    void *dl = dlopen("libsqlcipher.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!dl)
        return -1;
    void **slot[] = {(void **)&cipher_fns.open_v2,     (void **)&cipher_fns.close,
                     (void **)&cipher_fns.exec,        (void **)&cipher_fns.prepare,
                     (void **)&cipher_fns.bind_text,   (void **)&cipher_fns.bind_int64,
                     (void **)&cipher_fns.bind_double, (void **)&cipher_fns.step,
                     (void **)&cipher_fns.reset,       (void **)&cipher_fns.column_text,
                     (void **)&cipher_fns.column_bytes, (void **)&cipher_fns.column_int64,
                     (void **)&cipher_fns.column_double, (void **)&cipher_fns.finalize,
                     (void **)&cipher_fns.errmsg};
    const char *names[] = {"sqlite3_open_v2",     "sqlite3_close",        "sqlite3_exec",
                           "sqlite3_prepare_v2",  "sqlite3_bind_text",    "sqlite3_bind_int64",
                           "sqlite3_bind_double", "sqlite3_step",         "sqlite3_reset",
                           "sqlite3_column_text", "sqlite3_column_bytes", "sqlite3_column_int64",
                           "sqlite3_column_double", "sqlite3_finalize",   "sqlite3_errmsg"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!(*slot[i] = dlsym(dl, names[i])))
            return -1;
    state = 1;
    return 1;
}

enum { SQ_JSON, SQ_GEN, SQ_VIRT, SQ_COLS };

typedef struct {
    const SqlFns *api;
    sqlite3 *db;
} SqH;

static int sq_exec(SqH *s, const char *sql)
{
    char *err = NULL;
    if (s->api->exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "sql: %s: %s\n", sql, err ? err : "?");
        return -1;
    }
    return 0;
}

/* Inserts the users and orders, in transactions of 10,000. */
static int sq_load(SqH *s, int kind)
{
    const SqlFns *f = s->api;
    sqlite3_stmt *iu, *io;
    const char *su = kind == SQ_COLS ? "INSERT INTO users VALUES(?,?,?,?,?,?,?,?,?)"
                                     : "INSERT INTO users(id, doc) VALUES(?,?)";
    const char *so = kind == SQ_COLS ? "INSERT INTO orders VALUES(?,?,?,?,?,?)"
                                     : "INSERT INTO orders(id, doc) VALUES(?,?)";
    if (f->prepare(s->db, su, -1, &iu, NULL) || f->prepare(s->db, so, -1, &io, NULL)) {
        fprintf(stderr, "sql prepare: %s\n", f->errmsg(s->db));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nusers + norders; i++) {
        if (i % 10000 == 0 && (rc = sq_exec(s, i ? "COMMIT; BEGIN" : "BEGIN")))
            break;
        int is_u = i < nusers;
        size_t k = is_u ? i : i - nusers;
        sqlite3_stmt *st = is_u ? iu : io;
        if (kind != SQ_COLS) {
            f->bind_text(st, 1, is_u ? users[k].id : orders[k].id, BENCH_KEY_LEN, SQLITE_STATIC);
            f->bind_text(st, 2, (is_u ? ujson : ojson) + k * JSON_CAP,
                         (int)(is_u ? ujlen : ojlen)[k], SQLITE_STATIC);
        } else if (is_u) {
            const User *u = &users[k];
            f->bind_text(st, 1, u->id, BENCH_KEY_LEN, SQLITE_STATIC);
            f->bind_text(st, 2, u->name, -1, SQLITE_STATIC);
            f->bind_int64(st, 3, u->age);
            f->bind_text(st, 4, cities[u->city], -1, SQLITE_STATIC);
            f->bind_double(st, 5, u->score);
            f->bind_text(st, 6, statuses[u->status], -1, SQLITE_STATIC);
            f->bind_text(st, 7, ucreated[k], -1, SQLITE_STATIC);
            f->bind_int64(st, 8, u->visits);
            f->bind_text(st, 9, utags[k], -1, SQLITE_STATIC);
        } else {
            const Order *o = &orders[k];
            char day[16];
            day_text(day, DAY0 + o->day);
            f->bind_text(st, 1, o->id, BENCH_KEY_LEN, SQLITE_STATIC);
            f->bind_text(st, 2, users[o->user].id, BENCH_KEY_LEN, SQLITE_STATIC);
            f->bind_int64(st, 3, o->amount);
            f->bind_text(st, 4, ostatuses[o->status], -1, SQLITE_TRANSIENT);
            f->bind_text(st, 5, day, -1, SQLITE_TRANSIENT);
            f->bind_int64(st, 6, o->items);
        }
        if (f->step(st) != SQLITE_DONE) {
            fprintf(stderr, "sql insert: %s\n", f->errmsg(s->db));
            rc = -1;
        }
        f->reset(st);
    }
    f->finalize(iu);
    f->finalize(io);
    return rc ? rc : sq_exec(s, "COMMIT");
}

static int sq_open_v(Variant *v, const char *dir)
{
    SqH *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    v->h = s;
    s->api = v->kind == SQ_COLS ? &cipher_fns : &sqlite_fns;
    if (v->kind == SQ_COLS && load_cipher() != 1)
        return -1;
    char path[700];
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    if (s->api->open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return -1;
    if (v->kind == SQ_COLS && sq_exec(s, "PRAGMA key='bench password'; PRAGMA kdf_iter=1;"))
        return -1;
    if (sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                   "PRAGMA cache_size=-262144;"))
        return -1;
    char schema[1200];
    if (v->kind == SQ_COLS) {
        snprintf(schema, sizeof schema,
                 "CREATE TABLE users(id TEXT PRIMARY KEY, name TEXT, age INTEGER, "
                 "city TEXT, score REAL, status TEXT, created TEXT, visits INTEGER, tags TEXT);"
                 "CREATE TABLE orders(id TEXT PRIMARY KEY, user_id TEXT, amount INTEGER, "
                 "status TEXT, day TEXT, items INTEGER);");
    } else if (v->kind == SQ_JSON) {
        snprintf(schema, sizeof schema, "CREATE TABLE users(id TEXT PRIMARY KEY, doc TEXT);"
                                        "CREATE TABLE orders(id TEXT PRIMARY KEY, doc TEXT);");
    } else {
        const char *how = v->kind == SQ_GEN ? "STORED" : "VIRTUAL";
#define G(f, t) f " " t " AS (json_extract(doc, '$." f "')) %s"
        snprintf(schema, sizeof schema,
                 "CREATE TABLE users(id TEXT PRIMARY KEY, doc TEXT, " G("status", "TEXT") ", " G(
                     "age", "INTEGER") ", " G("score", "REAL") ", " G("city", "TEXT") ");"
                 "CREATE TABLE orders(id TEXT PRIMARY KEY, doc TEXT, " G("day", "TEXT") ", " G(
                     "user_id", "TEXT") ");",
                 how, how, how, how, how, how);
#undef G
    }
    if (sq_exec(s, schema) || sq_load(s, v->kind))
        return -1;
    for (size_t i = 0; i < NINDEXES; i++) {
        char sql[256];
        if (v->kind == SQ_JSON)
            snprintf(sql, sizeof sql, "CREATE INDEX %s_%s ON %s(json_extract(doc, '$.%s'))",
                     indexes[i].table, indexes[i].field, indexes[i].table, indexes[i].field);
        else
            snprintf(sql, sizeof sql, "CREATE INDEX %s_%s ON %s(%s)", indexes[i].table,
                     indexes[i].field, indexes[i].table, indexes[i].field);
        if (sq_exec(s, sql))
            return -1;
    }
    return sq_exec(s, "ANALYZE");
}

static int sq_prepare(Variant *v, int q)
{
    SqH *s = v->h;
    sqlite3_stmt *st;
    if (s->api->prepare(s->db, v->sql[q], -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s prepare %s: %s\n", v->name, qname[q], s->api->errmsg(s->db));
        return -1;
    }
    v->st[q] = st;
    return 0;
}

static int sq_run(Variant *v, int q, const Param *p, Acc *a)
{
    SqH *s = v->h;
    const SqlFns *f = s->api;
    sqlite3_stmt *st = v->st[q];
    switch (q) {
    case Q_EQ:
    case Q_COUNT:
        f->bind_text(st, 1, p->ta, -1, SQLITE_STATIC);
        break;
    case Q_RANGE:
    case Q_SCAN:
        f->bind_int64(st, 1, p->a);
        f->bind_int64(st, 2, p->b);
        break;
    case Q_JOIN:
        f->bind_text(st, 1, p->ta, -1, SQLITE_STATIC);
        f->bind_text(st, 2, p->tb, -1, SQLITE_STATIC);
        break;
    case Q_POINT:
        f->bind_text(st, 1, users[p->a].id, BENCH_KEY_LEN, SQLITE_STATIC);
        break;
    }
    const char *cols = qcols[q];
    RowVals r;
    int rc;
    while ((rc = f->step(st)) == SQLITE_ROW) {
        for (int c = 0; cols[c]; c++) {
            if (cols[c] == 't') {
                r.t[c] = (const char *)f->column_text(st, c);
                r.tl[c] = (size_t)f->column_bytes(st, c);
                if (!r.t[c])
                    r.t[c] = "", r.tl[c] = 0;
            } else if (cols[c] == 'i') {
                r.i[c] = f->column_int64(st, c);
            } else {
                r.d[c] = f->column_double(st, c);
            }
        }
        acc_row(q, &r, a);
    }
    f->reset(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "%s %s: %s\n", v->name, qname[q], f->errmsg(s->db));
        return -1;
    }
    return 0;
}

/* EXPLAIN QUERY PLAN, its lines joined with "; ". */
static char *sq_plan(Variant *v, int q)
{
    SqH *s = v->h;
    char sql[1200], *out = calloc(1, 2048);
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", v->sql[q]);
    sqlite3_stmt *st;
    if (!out || s->api->prepare(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        free(out);
        return NULL;
    }
    size_t n = 0;
    while (s->api->step(st) == SQLITE_ROW && n < 1900)
        n += (size_t)snprintf(out + n, 2048 - n, "%s%s", n ? "; " : "",
                              (const char *)s->api->column_text(st, 3));
    s->api->finalize(st);
    return out;
}

static void sq_close_v(Variant *v)
{
    SqH *s = v->h;
    if (!s)
        return;
    for (int q = 0; q < NQ; q++)
        if (v->st[q])
            s->api->finalize(v->st[q]);
    if (s->db)
        s->api->close(s->db);
    free(s);
}

/* -- LMDB: id -> JSON text; the point query only -- */

typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
} LmH;

static int lm_open_v(Variant *v, const char *dir)
{
    LmH *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    v->h = l;
    MDB_txn *t;
    if (mdb_env_create(&l->env) || mdb_env_set_mapsize(l->env, (size_t)4 << 30) ||
        mdb_env_open(l->env, dir, 0, 0644) || mdb_txn_begin(l->env, NULL, 0, &t))
        return -1;
    if (mdb_dbi_open(t, NULL, 0, &l->dbi)) {
        mdb_txn_abort(t);
        return -1;
    }
    for (size_t i = 0; i < nusers; i++) {
        MDB_val k = {BENCH_KEY_LEN, users[i].id}, d = {ujlen[i], ujson + i * JSON_CAP};
        if (mdb_put(t, l->dbi, &k, &d, 0)) {
            mdb_txn_abort(t);
            return -1;
        }
    }
    return mdb_txn_commit(t) ? -1 : 0;
}

static int lm_prepare(Variant *v, int q)
{
    (void)v;
    return q == Q_POINT ? 0 : 1;
}

static int lm_run(Variant *v, int q, const Param *p, Acc *a)
{
    LmH *l = v->h;
    MDB_txn *t;
    if (q != Q_POINT || mdb_txn_begin(l->env, NULL, MDB_RDONLY, &t))
        return -1;
    MDB_val k = {BENCH_KEY_LEN, users[p->a].id}, d;
    int rc = mdb_get(t, l->dbi, &k, &d);
    if (rc == 0) {
        /* the field "name": its string, found in the text */
        static const char key[] = "\"name\":\"";
        const char *s = d.mv_data, *end = s + d.mv_size, *f = NULL;
        for (const char *c = s; c + sizeof key - 1 < end && !f; c++)
            if (*c == '"' && memcmp(c, key, sizeof key - 1) == 0)
                f = c + sizeof key - 1;
        const char *e = f ? memchr(f, '"', (size_t)(end - f)) : NULL;
        RowVals r;
        r.t[0] = f ? f : "";
        r.tl[0] = e ? (size_t)(e - f) : 0;
        acc_row(q, &r, a);
    }
    mdb_txn_abort(t);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

static void lm_close_v(Variant *v)
{
    LmH *l = v->h;
    if (!l)
        return;
    if (l->env)
        mdb_env_close(l->env);
    free(l);
}

static Variant variants[] = {
    {"blazedb", "encrypted (AES-256-GCM); collections with blazedb_index_create indexes",
     bz_open_v, bz_prepare, bz_run, bz_plan, bz_close_v, 0, NULL, {0}, q_plain},
    {"sqlite-json", "JSON text in users(id TEXT PRIMARY KEY, doc TEXT); expression indexes on "
                    "json_extract(doc, '$.f')",
     sq_open_v, sq_prepare, sq_run, sq_plan, sq_close_v, SQ_JSON, NULL, {0}, q_json},
    {"sqlite-gen", "the same JSON text; a STORED generated column per indexed field, "
                   "indexed; other fields through json_extract",
     sq_open_v, sq_prepare, sq_run, sq_plan, sq_close_v, SQ_GEN, NULL, {0}, q_gen},
    {"sqlite-virt", "as sqlite-gen with VIRTUAL generated columns",
     sq_open_v, sq_prepare, sq_run, sq_plan, sq_close_v, SQ_VIRT, NULL, {0}, q_gen},
    {"sqlcipher", "encrypted; no JSON1 in this build, so a relational table (a column per "
                  "field) with plain indexes and BlazeDB's SQL text",
     sq_open_v, sq_prepare, sq_run, sq_plan, sq_close_v, SQ_COLS, NULL, {0}, q_plain},
    {"lmdb", "id -> JSON text; point query only (mdb_get in a read txn, field found in the "
             "text)",
     lm_open_v, lm_prepare, lm_run, NULL, lm_close_v, 0, NULL, {0}, NULL},
};
#define NVAR (int)(sizeof variants / sizeof *variants)

/* ---- running and reporting ------------------------------------------------------------ */

#define TIME_PER_RUN (bench_quick ? 0.3 : 1.0) /* seconds of queries per run */
#define MIN_QUERIES 3

typedef struct {
    int state; /* 0 not run, 1 measured, -1 failed, 2 does not apply */
    double qps, runs[16];
    int nruns;
} Cell;

static Cell cells[NQ][NVAR];
static char *plans[NQ][NVAR];
static double load_secs[NVAR];

/* Runs query q with parameter set pi (the point query draws its own) and
 * stops the benchmark when the answer is not the expected one. */
static void run_checked(Variant *v, int q, int pi)
{
    Param x;
    Answer e;
    if (q == Q_POINT) {
        point_param(&x, &e);
    } else {
        x = params[q][pi];
        e = expect[q][pi];
    }
    Acc a = {0, 0, 0, 0};
    if (v->run(v, q, &x, &a))
        bench_die("%s: %s failed (parameters %d, %d)", qname[q], v->name, x.a, x.b);
    if (a.rows != e.rows || a.sum != e.sum || a.bad)
        bench_die("%s: %s returned a WRONG ANSWER for parameters (%d, %d): %llu rows "
                  "(expected %llu), checksum %016llx (expected %016llx)%s",
                  qname[q], v->name, x.a, x.b, (unsigned long long)a.rows,
                  (unsigned long long)e.rows, (unsigned long long)a.sum,
                  (unsigned long long)e.sum, a.bad ? ", rows out of order or a wrong avg" : "");
}

/* One timed run: random parameter sets for at least TIME_PER_RUN seconds;
 * queries per second. */
static double timed_run(Variant *v, int q)
{
    size_t n = 0;
    double t0 = bench_now(), el;
    do {
        run_checked(v, q, (int)(rnd() % NPARAM));
        n++;
    } while ((el = bench_now() - t0) < TIME_PER_RUN || n < MIN_QUERIES);
    return (double)n / el;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int loaded[NVAR];
static char dirs[NVAR][600];

/* Opens variant i in a fresh directory and loads it (untimed). */
static void load_variant(int i)
{
    Variant *v = &variants[i];
    bench_fresh_dir(dirs[i], sizeof dirs[i], v->name);
    double t0 = bench_now();
    loaded[i] = v->open(v, dirs[i]) == 0;
    load_secs[i] = bench_now() - t0;
    printf("  %s: %s in %.1f s\n", v->name, loaded[i] ? "loaded and indexed" : "UNAVAILABLE",
           load_secs[i]);
    fflush(stdout);
}

static void close_variant(int i)
{
    variants[i].close(&variants[i]);
    variants[i].h = NULL;
    bench_remove_dir(dirs[i]);
}

/* Prepares query q on variant i, records its plan and checks every
 * parameter set once (which also warms the caches); 0 when it is to be
 * measured. */
static int check_query(int i, int q)
{
    Variant *v = &variants[i];
    Cell *c = &cells[q][i];
    if (!loaded[i]) {
        c->state = -1;
        return -1;
    }
    int pr = v->prepare(v, q);
    if (pr == 1) {
        c->state = 2;
        return -1;
    }
    if (pr != 0)
        bench_die("%s: %s cannot prepare the query", qname[q], v->name);
    if (v->plan)
        plans[q][i] = v->plan(v, q);
    if (q == Q_COUNT && i == 0 &&
        (!plans[q][i] || !strstr(plans[q][i], "IndexCount") ||
         !strstr(plans[q][i], "index only")))
        bench_die("%s: BlazeDB does not answer from the index alone; its plan:\n%s", qname[q],
                  plans[q][i] ? plans[q][i] : "(no plan)");
    int np = q == Q_POINT ? 2000 : q == Q_GROUP ? 2 : NPARAM; /* GROUP BY: one answer */
    for (int p = 0; p < np; p++)
        run_checked(v, q, p);
    return 0;
}

static double hinted_qps[NVAR];

/* sql-range-sort-limit again on the SQL variants with INDEXED BY the sort
 * field's index: checked like the others, `runs` runs, median. */
static void measure_hinted(const int *live, int nlive, int runs)
{
    for (int k = 0; k < nlive; k++) {
        Variant *v = &variants[live[k]];
        if (v->open != sq_open_v)
            continue;
        SqH *s = v->h;
        sqlite3_stmt *plain = v->st[Q_RANGE], *hinted;
        const char *sql = v->kind == SQ_JSON ? q_range_hint_json : q_range_hint_cols;
        if (s->api->prepare(s->db, sql, -1, &hinted, NULL) != SQLITE_OK)
            bench_die("%s: %s", v->name, s->api->errmsg(s->db));
        v->st[Q_RANGE] = hinted;
        for (int p = 0; p < NPARAM; p++)
            run_checked(v, Q_RANGE, p);
        double r[16];
        for (int i = 0; i < runs; i++)
            r[i] = timed_run(v, Q_RANGE);
        qsort(r, (size_t)runs, sizeof *r, cmp_dbl);
        hinted_qps[live[k]] = r[runs / 2];
        v->st[Q_RANGE] = plain;
        s->api->finalize(hinted);
    }
}

/* Query q on every loaded variant: checks, then --runs rounds in which each
 * variant runs once in turn (so a noisy moment of the shared machine hits
 * every engine, not just one); the median round per variant. */
static void measure_query(int q)
{
    int live[NVAR], nlive = 0;
    for (int i = 0; i < NVAR; i++)
        if (bench_engine_selected(variants[i].name) && check_query(i, q) == 0)
            live[nlive++] = i;
    int runs = bench_runs < 16 ? bench_runs : 16;
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < nlive; k++) {
            Cell *c = &cells[q][live[k]];
            c->runs[c->nruns++] = timed_run(&variants[live[k]], q);
        }
    if (q == Q_RANGE)
        measure_hinted(live, nlive, runs);
    for (int k = 0; k < nlive; k++) {
        Cell *c = &cells[q][live[k]];
        double sorted[16];
        memcpy(sorted, c->runs, (size_t)c->nruns * sizeof *sorted);
        qsort(sorted, (size_t)c->nruns, sizeof *sorted, cmp_dbl);
        c->qps = sorted[c->nruns / 2];
        c->state = 1;
        printf("  %s %s: %.1f queries/s\n", variants[live[k]].name, qname[q], c->qps);
    }
    fflush(stdout);
}

static const double target[NQ] = {3, 10, 3, 10, 0, 0, 0};
#define POINT_TARGET 100000.0

static int is_sqlite(int i) { return strncmp(variants[i].name, "sqlite-", 7) == 0; }

/* The fastest SQLite variant on query q, or -1. */
static int best_sqlite(int q)
{
    int best = -1;
    for (int i = 0; i < NVAR; i++)
        if (is_sqlite(i) && cells[q][i].state == 1 &&
            (best < 0 || cells[q][i].qps > cells[q][best].qps))
            best = i;
    return best;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(bench_report, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static double avg_rows(int q)
{
    if (q == Q_POINT)
        return 1;
    double s = 0;
    for (int p = 0; p < NPARAM; p++)
        s += (double)expect[q][p].rows;
    return s / NPARAM;
}

static void report_query(int q)
{
    out("\n### %s\n\n%s; %.0f rows per query on average. Each engine's answers are checked "
        "(row count and a checksum of what was read) against values computed from the "
        "generated data.\n\n",
        qname[q], qwhat[q], avg_rows(q));
    out("- SQL (BlazeDB, sqlcipher): `%s`\n", q_plain[q]);
    out("- SQL (sqlite-json): `%s`\n", q_json[q]);
    out("- SQL (sqlite-gen, sqlite-virt): `%s`\n", q_gen[q]);
    for (int i = 1; i < NVAR; i++)
        if (plans[q][i])
            out("- %s plan: %s\n", variants[i].name, plans[q][i]);
    if (plans[q][0])
        out("\nBlazeDB plan (`blazedb_explain`):\n\n```\n%s%s```\n", plans[q][0],
            plans[q][0][0] && plans[q][0][strlen(plans[q][0]) - 1] == '\n' ? "" : "\n");
    out("\n| engine | queries/s | ms per query | blazedb ratio |\n|---|---:|---:|---:|\n");
    const Cell *bz = cells[q][0].state == 1 ? &cells[q][0] : NULL;
    for (int i = 0; i < NVAR; i++) {
        const Cell *c = &cells[q][i];
        if (c->state == 0 || c->state == 2)
            continue;
        if (c->state < 0) {
            out("| %s | failed/unavailable | | |\n", variants[i].name);
            continue;
        }
        char ratio[32] = "";
        if (bz && i > 0)
            snprintf(ratio, sizeof ratio, "%.2fx", bz->qps / c->qps);
        out("| %s | %.1f | %.3f | %s |\n", variants[i].name, c->qps, 1000.0 / c->qps, ratio);
    }
    for (int i = 0; q == Q_RANGE && i < NVAR; i++)
        if (hinted_qps[i] > 0 && cells[q][0].state == 1)
            bench_line("%s told `INDEXED BY users_score` (BlazeDB's plan; its planner picks "
                       "users_age): %.1f queries/s, blazedb ratio %.2fx",
                       variants[i].name, hinted_qps[i], cells[q][0].qps / hinted_qps[i]);
    for (int i = 0; i < NVAR; i++) {
        const Cell *c = &cells[q][i];
        if (c->state != 1 || c->nruns < 2)
            continue;
        char line[256];
        int n = snprintf(line, sizeof line, "%s runs:", variants[i].name);
        for (int r = 0; r < c->nruns; r++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %.1f", c->runs[r]);
        bench_line("%s queries/s", line);
    }
}

static void report_summary(void)
{
    out("\n### Queries against the issue's targets\n\n"
        "| workload | target | blazedb queries/s | fastest SQLite | its queries/s | "
        "blazedb / SQLite | met |\n|---|---|---:|---|---:|---:|---|\n");
    for (int q = 0; q < NQ; q++) {
        if (!bench_workload_selected(qname[q]))
            continue;
        const Cell *bz = &cells[q][0];
        int b = best_sqlite(q);
        char tgt[48] = "-", met[8] = "-", ratio[32] = "-", sq[32] = "-", sqq[32] = "-";
        if (q == Q_POINT)
            snprintf(tgt, sizeof tgt, ">= %.0f/s", POINT_TARGET);
        else if (target[q] > 0)
            snprintf(tgt, sizeof tgt, ">= %.0fx SQLite", target[q]);
        if (b >= 0) {
            snprintf(sq, sizeof sq, "%s", variants[b].name);
            snprintf(sqq, sizeof sqq, "%.1f", cells[q][b].qps);
        }
        if (bz->state == 1 && b >= 0)
            snprintf(ratio, sizeof ratio, "%.2fx", bz->qps / cells[q][b].qps);
        if (bz->state == 1 && q == Q_POINT)
            snprintf(met, sizeof met, "%s", bz->qps >= POINT_TARGET ? "yes" : "no");
        else if (bz->state == 1 && b >= 0 && target[q] > 0)
            snprintf(met, sizeof met, "%s", bz->qps / cells[q][b].qps >= target[q] ? "yes" : "no");
        char bzq[32] = "failed";
        if (bz->state == 1)
            snprintf(bzq, sizeof bzq, "%.1f", bz->qps);
        out("| %s | %s | %s | %s | %s | %s | %s |\n", qname[q], tgt, bzq, sq, sqq, ratio, met);
    }
}

void sql_run(void)
{
    int any = 0;
    for (int q = 0; q < NQ; q++)
        any |= bench_workload_selected(qname[q]);
    if (!any)
        return;
    make_data();
    make_params();
    size_t ub = 0, ob = 0;
    for (size_t i = 0; i < nusers; i++)
        ub += ujlen[i];
    for (size_t i = 0; i < norders; i++)
        ob += ojlen[i];
    printf("\n## Queries (sql-*): loading each engine\n\n");
    for (int i = 0; i < NVAR; i++)
        if (bench_engine_selected(variants[i].name))
            load_variant(i);
    for (int q = 0; q < NQ; q++)
        if (bench_workload_selected(qname[q]))
            measure_query(q);
    for (int i = 0; i < NVAR; i++)
        if (bench_engine_selected(variants[i].name))
            close_variant(i);
    out("\n## Queries (issue 4)\n\n"
        "%zu users (JSON text of %.0f bytes on average, e.g. `%.*s`) and %zu orders "
        "(%.0f bytes, e.g. `%.*s`). Indexes in every engine: users.status, users.age, "
        "users.score, users.city, orders.day, orders.user_id (each engine also has its id "
        "key). Every engine is loaded once (untimed, then ANALYZE) and all stay open; for "
        "each workload every parameter set is run once on each engine to check the answers "
        "and warm the cache, then %d round(s) in which each engine in turn runs at least "
        "%.1f s of queries with random parameters (each answer checked too); the median "
        "round per engine is reported. Statements are prepared once; each query binds "
        "its parameters, steps every row, reads the selected columns and resets.\n\n",
        nusers, (double)ub / (double)nusers, (int)ujlen[0], ujson, norders,
        (double)ob / (double)norders, (int)ojlen[0], ojson, bench_runs, TIME_PER_RUN);
    for (int i = 0; i < NVAR; i++)
        if (bench_engine_selected(variants[i].name))
            out("- %s: %s; load + indexes %.1f s\n", variants[i].name, variants[i].what,
                load_secs[i]);
    for (int q = 0; q < NQ; q++)
        if (bench_workload_selected(qname[q]))
            report_query(q);
    report_summary();
    fflush(bench_report);
    fflush(stdout);
    for (int q = 0; q < NQ; q++)
        for (int i = 0; i < NVAR; i++)
            free(plans[q][i]);
    free_data();
}
