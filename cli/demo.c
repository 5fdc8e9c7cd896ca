/*
 * demo.c — `blazedb demo [DIR]`: builds a small shop (customers, products,
 * orders: a few thousand documents made up from a fixed seed, so every run
 * is the same), creates indexes, runs example queries including an
 * EXPLAIN, and says how to go on in the shell.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEMO_PASSWORD "demo"
#define N_CUSTOMERS 1000
#define N_PRODUCTS 200
#define N_ORDERS 3000

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    /* xorshift64*: fixed seed, same data every run */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)(((g_rng * 0x2545F4914F6CDD1Dull) >> 32) % n);
}

#define PICK(a) (a[rnd((uint32_t)(sizeof a / sizeof a[0]))])

static const char *const g_first[] = {
    "Ada",   "Alan",  "Grace",  "Linus",  "Margaret", "Dennis", "Barbara", "Ken",
    "Frances", "Edsger", "Radia", "Donald", "Hedy",   "Tim",    "Katherine", "John",
    "Sophie", "Ingrid", "Olav",  "Astrid", "Mateo",  "Lucia",  "Yuki",    "Hiro",
    "Amara", "Kwame", "Priya",  "Arjun",  "Elena",  "Nikolai", "Fatima", "Omar"};
static const char *const g_last[] = {
    "Lovelace", "Turing",  "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov",
    "Thompson", "Allen",   "Dijkstra", "Perlman", "Knuth",   "Lamarr",  "Berners-Lee",
    "Johnson",  "McCarthy", "Wilson", "Hansen",  "Berg",     "Lindqvist", "Garcia",
    "Rossi",    "Tanaka",  "Sato",   "Okafor",  "Mensah",   "Sharma",   "Patel",
    "Petrova",  "Ivanov",  "Haddad", "Nasser"};
static const char *const g_cities[][2] = {
    {"Oslo", "Norway"},     {"Bergen", "Norway"},   {"Stockholm", "Sweden"},
    {"Copenhagen", "Denmark"}, {"Berlin", "Germany"}, {"Munich", "Germany"},
    {"Paris", "France"},    {"Lyon", "France"},     {"Madrid", "Spain"},
    {"Lisbon", "Portugal"}, {"Rome", "Italy"},      {"London", "United Kingdom"},
    {"Dublin", "Ireland"},  {"Amsterdam", "Netherlands"}, {"Vienna", "Austria"},
    {"Zurich", "Switzerland"}};
static const char *const g_tiers[] = {"basic", "basic", "basic", "plus", "plus", "pro"};
static const char *const g_adj[] = {"Compact", "Quiet",  "Smart",  "Classic", "Rugged",
                                    "Ultra",   "Mini",   "Pro",    "Eco",     "Wireless"};
static const char *const g_noun[][2] = {
    {"Kettle", "kitchen"},   {"Toaster", "kitchen"},  {"Blender", "kitchen"},
    {"Headphones", "audio"}, {"Speaker", "audio"},    {"Turntable", "audio"},
    {"Backpack", "outdoor"}, {"Tent", "outdoor"},     {"Lantern", "outdoor"},
    {"Desk Lamp", "office"}, {"Keyboard", "office"},  {"Monitor Arm", "office"},
    {"Novel", "books"},      {"Cookbook", "books"},   {"Atlas", "books"},
    {"Yoga Mat", "fitness"}, {"Kettlebell", "fitness"}, {"Jump Rope", "fitness"}};
static const char *const g_tags[] = {"new", "bestseller", "gift", "sale", "eco", "limited"};
static const char *const g_status[] = {"delivered", "delivered", "delivered", "delivered",
                                       "shipped",   "shipped",   "pending",   "cancelled"};

/* 2023-01-01T00:00:00Z in ms */
#define T0 1672531200000ll
#define DAY_MS 86400000ll

static double product_price[N_PRODUCTS];

static int check(BlazeDB *db, BlazeDBResult rc, const char *what)
{
    if (rc == BLAZEDB_OK)
        return 0;
    cli_db_error(db, rc, what);
    return 1;
}

static int make_customers(BlazeDB *db, BlazeDBTxn *txn)
{
    for (int i = 0; i < N_CUSTOMERS; i++) {
        BlazeDBDoc *d;
        if (blazedb_doc_new(&d) != BLAZEDB_OK)
            return 1;
        char id[16], name[96], email[128];
        const char *first = PICK(g_first), *last = PICK(g_last);
        int city = (int)rnd(sizeof g_cities / sizeof g_cities[0]);
        snprintf(id, sizeof id, "c%04d", i + 1);
        snprintf(name, sizeof name, "%s %s", first, last);
        snprintf(email, sizeof email, "%s.%s%d@example.com", first, last, i + 1);
        for (char *p = email; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        blazedb_doc_set_string(d, "id", id);
        blazedb_doc_set_string(d, "name", name);
        blazedb_doc_set_string(d, "email", email);
        blazedb_doc_set_string(d, "city", g_cities[city][0]);
        blazedb_doc_set_string(d, "country", g_cities[city][1]);
        blazedb_doc_set_string(d, "tier", PICK(g_tiers));
        blazedb_doc_set_date(d, "signedUp", T0 - (int64_t)rnd(730) * DAY_MS);
        BlazeDBResult rc = blazedb_insert(db, txn, "customers", d);
        blazedb_doc_free(d);
        if (check(db, rc, "inserting customers"))
            return 1;
    }
    return 0;
}

static int make_products(BlazeDB *db, BlazeDBTxn *txn)
{
    for (int i = 0; i < N_PRODUCTS; i++) {
        BlazeDBDoc *d;
        if (blazedb_doc_new(&d) != BLAZEDB_OK)
            return 1;
        char id[16], name[96];
        int noun = (int)rnd(sizeof g_noun / sizeof g_noun[0]);
        snprintf(id, sizeof id, "p%03d", i + 1);
        snprintf(name, sizeof name, "%s %s", PICK(g_adj), g_noun[noun][0]);
        double price = (double)(499 + rnd(40000)) / 100.0;
        product_price[i] = price;
        blazedb_doc_set_string(d, "id", id);
        blazedb_doc_set_string(d, "name", name);
        blazedb_doc_set_string(d, "category", g_noun[noun][1]);
        blazedb_doc_set_double(d, "price", price);
        blazedb_doc_set_int(d, "stock", (int64_t)rnd(500));
        blazedb_doc_set_json(d, "tags", "[]", 2);
        int ntags = (int)rnd(3);
        for (int t = 0; t < ntags; t++) {
            char js[32];
            snprintf(js, sizeof js, "\"%s\"", PICK(g_tags));
            blazedb_doc_array_append_json(d, "tags", js, strlen(js));
        }
        BlazeDBResult rc = blazedb_insert(db, txn, "products", d);
        blazedb_doc_free(d);
        if (check(db, rc, "inserting products"))
            return 1;
    }
    return 0;
}

static int make_orders(BlazeDB *db, BlazeDBTxn *txn)
{
    for (int i = 0; i < N_ORDERS; i++) {
        BlazeDBDoc *d;
        if (blazedb_doc_new(&d) != BLAZEDB_OK)
            return 1;
        char id[16], cust[16];
        snprintf(id, sizeof id, "o%05d", i + 1);
        snprintf(cust, sizeof cust, "c%04u", rnd(N_CUSTOMERS) + 1);
        blazedb_doc_set_string(d, "id", id);
        blazedb_doc_set_string(d, "customer", cust);
        blazedb_doc_set_date(d, "placed", T0 + (int64_t)rnd(365) * DAY_MS + rnd(86400) * 1000ll);
        blazedb_doc_set_string(d, "status", PICK(g_status));
        blazedb_doc_set_json(d, "items", "[]", 2);
        int nitems = 1 + (int)rnd(4);
        double total = 0;
        for (int k = 0; k < nitems; k++) {
            int p = (int)rnd(N_PRODUCTS);
            int qty = 1 + (int)rnd(3);
            char js[128];
            snprintf(js, sizeof js, "{\"product\":\"p%03d\",\"qty\":%d,\"price\":%.2f}", p + 1,
                     qty, product_price[p]);
            blazedb_doc_array_append_json(d, "items", js, strlen(js));
            total += qty * product_price[p];
        }
        blazedb_doc_set_double(d, "total", (double)(int64_t)(total * 100.0 + 0.5) / 100.0);
        BlazeDBResult rc = blazedb_insert(db, txn, "orders", d);
        blazedb_doc_free(d);
        if (check(db, rc, "inserting orders"))
            return 1;
    }
    return 0;
}

static const struct {
    const char *coll, *name;
    BlazeDBIndexField fields[2];
    size_t nfields;
} g_indexes[] = {
    {"customers", "customers_city", {{"city", 0, 0}}, 1},
    {"orders", "orders_customer", {{"customer", 0, 0}}, 1},
    {"orders", "orders_status_placed", {{"status", 0, 0}, {"placed", 1, 0}}, 2},
    {"products", "products_category", {{"category", 0, 0}}, 1},
};

static const struct {
    const char *what, *sql;
    int explain;
} g_queries[] = {
    {"Customers in Oslo, by name (uses the index on city)",
     "SELECT name, email, tier FROM customers WHERE city = 'Oslo' ORDER BY name LIMIT 5;", 0},
    {"Orders and revenue per status",
     "SELECT status, count(*) AS orders, round(sum(total), 2) AS revenue FROM orders "
     "GROUP BY status ORDER BY revenue DESC;",
     0},
    {"Products per category",
     "SELECT category, count(*) AS products, round(avg(price), 2) AS avg_price, "
     "sum(stock) AS in_stock FROM products GROUP BY category ORDER BY category;",
     0},
    {"The largest pending orders, with their customers (a join)",
     "SELECT o.id, o.total, c.name, c.city FROM orders o JOIN customers c ON c.id = "
     "o.customer WHERE o.status = 'pending' ORDER BY o.total DESC LIMIT 5;",
     0},
    {"How the database answers a lookup by customer", "SELECT id, placed, total FROM orders "
                                                      "WHERE customer = 'c0042' ORDER BY placed;",
     1},
    {"... and the answer", "SELECT id, placed, total FROM orders WHERE customer = 'c0042' "
                           "ORDER BY placed;",
     0},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_cmd_demo(const CliArgs *a)
{
    const char *dir = a->npos ? a->pos[0] : "blazedb-demo";
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_error("cannot create directory %s: %s", dir, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/shop.blazedb", dir);
    struct stat st;
    if (stat(path, &st) == 0) {
        cli_error("%s already exists; remove it or give another directory: blazedb demo DIR",
                  path);
        return CLI_EXIT_ERROR;
    }
    double t0 = now_s();
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.flags = BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE;
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, DEMO_PASSWORD, &o, &db);
    if (rc != BLAZEDB_OK) {
        cli_error("cannot create %s: %s", path, blazedb_errmsg(NULL));
        return CLI_EXIT_ERROR;
    }
    cli_outf("Creating %s, encrypted with the password \"%s\".\n", path, DEMO_PASSWORD);
    cli_out_flush();
    BlazeDBTxn *txn = NULL;
    int failed = check(db, blazedb_txn_begin(db, 0, &txn), "begin");
    if (!failed)
        failed = make_customers(db, txn) || make_products(db, txn) || make_orders(db, txn);
    if (!failed)
        failed = check(db, blazedb_txn_commit(txn), "commit");
    else if (txn)
        blazedb_txn_abort(txn);
    if (!failed)
        cli_outf("  inserted %d customers, %d products and %d orders in one transaction\n",
                 N_CUSTOMERS, N_PRODUCTS, N_ORDERS);
    for (size_t i = 0; !failed && i < sizeof g_indexes / sizeof g_indexes[0]; i++) {
        failed = check(db,
                       blazedb_index_create(db, NULL, g_indexes[i].coll, g_indexes[i].name,
                                            g_indexes[i].fields, g_indexes[i].nfields, 0, NULL),
                       g_indexes[i].name);
        if (!failed) {
            cli_outf("  created index %s on %s(", g_indexes[i].name, g_indexes[i].coll);
            for (size_t k = 0; k < g_indexes[i].nfields; k++)
                cli_outf("%s%s%s", k ? ", " : "", g_indexes[i].fields[k].path,
                         g_indexes[i].fields[k].descending ? " DESC" : "");
            cli_outs(")\n");
        }
    }
    if (!failed)
        cli_outf("  done in %.1f s\n", now_s() - t0);
    CliSqlOpts so;
    memset(&so, 0, sizeof so);
    so.out.format = CLI_FMT_TABLE;
    so.out.max_width = cli_term_width();
    so.out.footer = 1;
    so.bail = 1;
    for (size_t i = 0; !failed && i < sizeof g_queries / sizeof g_queries[0]; i++) {
        cli_outf("\n-- %s\n%s%s\n", g_queries[i].what, g_queries[i].explain ? "EXPLAIN " : "",
                 g_queries[i].sql);
        cli_out_flush();
        if (g_queries[i].explain)
            failed = cli_sql_explain(db, g_queries[i].sql, 0);
        else
            failed = cli_sql_run(db, g_queries[i].sql, strlen(g_queries[i].sql), &so, NULL) != 0;
    }
    blazedb_close(db);
    if (failed) {
        cli_error("the demo stopped at the error above; %s is left as it is", path);
        return CLI_EXIT_ERROR;
    }
    cli_outf("\nContinue in the shell (the password is \"%s\"):\n"
             "  BLAZEDB_PASSWORD=%s blazedb %s\n"
             "and try, for example:\n"
             "  .collections\n"
             "  .schema orders\n"
             "  SELECT tier, count(*) FROM customers GROUP BY tier;\n"
             "  use customers\n"
             "  query city = Oslo and tier = pro sort name limit 3\n"
             "Or run one statement: BLAZEDB_PASSWORD=%s blazedb sql %s \"SELECT ...;\"\n",
             DEMO_PASSWORD, DEMO_PASSWORD, path, DEMO_PASSWORD, path);
    return cli_out_done(CLI_EXIT_OK);
}
