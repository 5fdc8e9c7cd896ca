/*
 * shell.c — the interactive shell and script mode.
 *
 * Input is SQL (statements end with ';' and may span lines), dot-commands
 * in the manner of the sqlite3 shell (.help, .collections, .schema, ...),
 * and the original BlazeDB REPL's commands (inspect, fetch, insert, query,
 * begin/commit/rollback, ...).  On a terminal it reads lines with libedit:
 * history in ~/.blazedb_history, tab completion of commands, keywords,
 * collections and field names; Ctrl-C cancels the running statement (via
 * util.c's relay to blazedb_interrupt) or the line being typed, never the
 * shell.  Otherwise it reads a script from standard input and stops at the
 * first error unless told to keep going.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    BlazeDB *db;
    const char *path;
    BlazeDBTxn *txn;            /* from `begin`, or NULL */
    CliFormat mode;
    int timer, wide, bail, interactive;
    char *coll;                 /* collection of the original's commands */
    EditLine *el;
    History *hist;
    char histfile[PATH_MAX];
    CliBuf pending;             /* SQL lines waiting for their ';' */
    int quit;
    int errors;
    int depth;                  /* .read nesting */
    /* completion cache */
    char **words;
    size_t nwords;
    int words_dirty;
} Shell;

static int shell_line(Shell *sh, const char *line);

/* ---- small helpers ------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static CliSinkOpts sink_opts(const Shell *sh)
{
    CliSinkOpts o;
    o.format = sh->mode;
    o.wide = sh->wide;
    o.max_width = cli_term_width();
    o.footer = sh->mode == CLI_FMT_TABLE && sh->interactive;
    return o;
}

static const char *skip_ws(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

/* Copies the first word of s (up to a space) into w; returns the rest. */
static const char *first_word(const char *s, char *w, size_t wn)
{
    s = skip_ws(s);
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]))
        n++;
    snprintf(w, wn, "%.*s", (int)(n < wn ? n : wn - 1), s);
    return skip_ws(s + n);
}

/* A copy of s without trailing spaces and ';'. */
static char *trim_end(const char *s)
{
    char *c = strdup(s);
    if (!c)
        exit(CLI_EXIT_ERROR);
    size_t n = strlen(c);
    while (n > 0 && (isspace((unsigned char)c[n - 1]) || c[n - 1] == ';'))
        c[--n] = 0;
    return c;
}

static void shell_fail(Shell *sh)
{
    sh->errors++;
}

/* 1 when the SQL text ends with ';' outside strings and comments. */
static int sql_complete(const char *p, size_t n)
{
    int last_semi = 0;
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\'' || c == '"' || c == '`') {
            i++;
            while (i < n && p[i] != c)
                i++;
            if (i >= n)
                return 0;   /* open string */
            i++;
            last_semi = 0;
        } else if (c == '-' && i + 1 < n && p[i + 1] == '-') {
            while (i < n && p[i] != '\n')
                i++;
        } else if (c == '/' && i + 1 < n && p[i + 1] == '*') {
            i += 2;
            while (i + 1 < n && !(p[i] == '*' && p[i + 1] == '/'))
                i++;
            if (i + 1 >= n)
                return 0;
            i += 2;
        } else {
            if (c == ';')
                last_semi = 1;
            else if (!isspace((unsigned char)c))
                last_semi = 0;
            i++;
        }
    }
    return last_semi;
}

/* ---- SQL ------------------------------------------------------------------------------ */

static void run_sql(Shell *sh, const char *sql, size_t len)
{
    CliSqlOpts o;
    memset(&o, 0, sizeof o);
    o.out = sink_opts(sh);
    o.timer = sh->timer;
    o.bail = 1;
    o.txn = sh->txn;
    int changed = 0;
    cli_interrupted();
    int r = cli_sql_run(sh->db, sql, len, &o, &changed);
    cli_interrupted();
    if (changed)
        sh->words_dirty = 1;
    if (r > 0)
        shell_fail(sh);
    if (r < 0)
        sh->quit = 1;
}

/* ---- the collection of the original's commands ------------------------------------------ */

/* The collection to use: `use`'s, or the only one there is. */
static const char *current_coll(Shell *sh)
{
    if (sh->coll)
        return sh->coll;
    char **names = NULL;
    size_t n = 0;
    if (blazedb_collection_list(sh->db, sh->txn, &names, &n) == BLAZEDB_OK && n == 1) {
        sh->coll = strdup(names[0]);
        blazedb_free(names);
        return sh->coll;
    }
    if (n == 0)
        cli_error("no collection yet: 'use NAME' names the collection to work on");
    else {
        CliBuf b = {0};
        for (size_t i = 0; i < n; i++)
            cli_buf_addf(&b, "%s%s", i ? ", " : "", names[i]);
        cli_error("which collection? 'use NAME' first (collections: %s)", b.p);
        cli_buf_free(&b);
    }
    blazedb_free(names);
    return NULL;
}

static void print_doc(Shell *sh, const BlazeDBDoc *doc)
{
    char *json = NULL;
    unsigned flags = sh->mode == CLI_FMT_TABLE ? BLAZEDB_JSON_PRETTY : 0;
    if (blazedb_doc_to_json(doc, flags, &json, NULL) == BLAZEDB_OK) {
        cli_outs(json);
        cli_outs("\n");
    }
    blazedb_free(json);
    cli_out_flush();
}

/* ---- schema inference ----------------------------------------------------------------------- */

#define SCHEMA_SAMPLE 1000
#define SCHEMA_MAX_FIELDS 500

typedef struct {
    char *path;
    uint64_t present;
    uint64_t types[12];
} FieldStat;

typedef struct {
    FieldStat *f;
    size_t n;
} Schema;

static const char *const g_type_names[12] = {"missing", "null",   "bool", "int",
                                             "double",  "string", "bytes", "uuid",
                                             "date",    "array",  "object", "vector"};

static void schema_note(Schema *s, const char *path, BlazeDBType t)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->f[i].path, path) != 0)
        i++;
    if (i == s->n) {
        if (s->n >= SCHEMA_MAX_FIELDS)
            return;
        FieldStat *nf = realloc(s->f, (s->n + 1) * sizeof *nf);
        if (!nf)
            return;
        s->f = nf;
        memset(&s->f[i], 0, sizeof s->f[i]);
        s->f[i].path = strdup(path);
        s->n++;
    }
    s->f[i].present++;
    if ((unsigned)t < 12)
        s->f[i].types[t]++;
}

static void schema_walk(Schema *s, const BlazeDBDoc *doc, const char *path, int depth)
{
    size_t n = blazedb_doc_len(doc, path);
    for (size_t i = 0; i < n; i++) {
        const char *name = blazedb_doc_field_name(doc, path, i);
        if (!name || !*name || strchr(name, '.'))
            continue;
        char child[1024];
        snprintf(child, sizeof child, "%s%s%s", path, *path ? "." : "", name);
        BlazeDBType t = blazedb_doc_type(doc, child);
        schema_note(s, child, t);
        if (t == BLAZEDB_TYPE_OBJECT && depth < 4)
            schema_walk(s, doc, child, depth + 1);
    }
}

static int cmp_field(const void *a, const void *b)
{
    const FieldStat *x = a, *y = b;
    if (strcmp(x->path, "id") == 0)
        return -1;
    if (strcmp(y->path, "id") == 0)
        return 1;
    return strcmp(x->path, y->path);
}

/* Reads up to `max` documents of coll into s; returns how many (or -1). */
static long schema_sample(Shell *sh, const char *coll, Schema *s, size_t max)
{
    BlazeDBDocCursor *cur = NULL;
    BlazeDBResult rc = blazedb_doc_cursor_open(sh->db, sh->txn, coll, NULL, &cur);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, coll);
        return -1;
    }
    long n = 0;
    BlazeDBDoc *doc;
    while ((size_t)n < max && blazedb_doc_cursor_next(cur, &doc) == BLAZEDB_OK) {
        schema_walk(s, doc, "", 1);
        blazedb_doc_free(doc);
        n++;
    }
    blazedb_doc_cursor_close(cur);
    return n;
}

static void schema_free(Schema *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->f[i].path);
    free(s->f);
    s->f = NULL;
    s->n = 0;
}

static int show_schema_of(Shell *sh, const char *coll)
{
    Schema s = {0};
    long n = schema_sample(sh, coll, &s, SCHEMA_SAMPLE);
    if (n < 0)
        return 1;
    uint64_t total = 0;
    blazedb_count(sh->db, sh->txn, coll, &total);
    qsort(s.f, s.n, sizeof *s.f, cmp_field);
    cli_outf("%s: %llu document%s", coll, (unsigned long long)total, total == 1 ? "" : "s");
    if ((uint64_t)n < total)
        cli_outf(" (fields inferred from the first %ld)", n);
    cli_outs("\n");
    static const char *const cols[] = {"field", "types", "present"};
    CliSinkOpts o = sink_opts(sh);
    o.footer = 0;
    CliSink *sink = cli_sink_new(&o);
    cli_sink_begin(sink, 3, cols);
    for (size_t i = 0; i < s.n; i++) {
        CliBuf types = {0};
        for (int t = 1; t < 12; t++)
            if (s.f[i].types[t]) {
                if (s.f[i].types[t] == s.f[i].present)
                    cli_buf_addf(&types, "%s%s", types.len ? ", " : "", g_type_names[t]);
                else
                    cli_buf_addf(&types, "%s%s %.0f%%", types.len ? ", " : "", g_type_names[t],
                                 100.0 * (double)s.f[i].types[t] / (double)s.f[i].present);
            }
        char pres[32];
        snprintf(pres, sizeof pres, "%.0f%%", n ? 100.0 * (double)s.f[i].present / (double)n : 0);
        const char *cells[3] = {s.f[i].path, types.p ? types.p : "", pres};
        size_t lens[3] = {strlen(cells[0]), strlen(cells[1]), strlen(cells[2])};
        BlazeDBType ty[3] = {BLAZEDB_TYPE_STRING, BLAZEDB_TYPE_STRING, BLAZEDB_TYPE_STRING};
        CliBuf row = {0};
        if (o.format == CLI_FMT_JSON || o.format == CLI_FMT_NDJSON) {
            BlazeDBDoc *d;
            blazedb_doc_new(&d);
            blazedb_doc_set_string(d, "collection", coll);
            blazedb_doc_set_string(d, "field", s.f[i].path);
            blazedb_doc_set_json(d, "types", "{}", 2);
            for (int t = 1; t < 12; t++)
                if (s.f[i].types[t]) {
                    char p[64];
                    snprintf(p, sizeof p, "types.%s", g_type_names[t]);
                    blazedb_doc_set_int(d, p, (int64_t)s.f[i].types[t]);
                }
            blazedb_doc_set_int(d, "present", (int64_t)s.f[i].present);
            blazedb_doc_set_int(d, "sampled", n);
            char *js = NULL;
            size_t jl = 0;
            blazedb_doc_to_json(d, 0, &js, &jl);
            cli_buf_add(&row, js ? js : "{}", js ? jl : 2);
            blazedb_free(js);
            blazedb_doc_free(d);
        }
        cli_sink_row(sink, cells, lens, ty, row.p, row.len);
        cli_buf_free(&row);
        cli_buf_free(&types);
    }
    cli_sink_end(sink);
    cli_sink_free(sink);
    schema_free(&s);
    return 0;
}

static int show_schema(Shell *sh, const char *coll)
{
    if (coll && *coll)
        return show_schema_of(sh, coll);
    char **names = NULL;
    size_t n = 0;
    BlazeDBResult rc = blazedb_collection_list(sh->db, sh->txn, &names, &n);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, "listing collections");
        return 1;
    }
    if (n == 0)
        cli_outs("(no collections)\n");
    int r = 0;
    for (size_t i = 0; i < n && !r && !cli_out_failed(); i++) {
        if (i)
            cli_outs("\n");
        r = show_schema_of(sh, names[i]);
    }
    blazedb_free(names);
    return r;
}

/* ---- dot-commands ----------------------------------------------------------------------------- */

static const char *const g_dot_help[][2] = {
    {".help", "this help"},
    {".collections", "the collections and their document counts"},
    {".indexes [COLL]", "the indexes (of one collection)"},
    {".schema [COLL]", "fields and types inferred from the documents"},
    {".mode [table|json|ndjson|csv]", "output format (no argument: show it)"},
    {".timer on|off", "time and row count after each statement"},
    {".wide on|off", "table: show long values whole instead of shortened"},
    {".bail on|off", "stop a script at the first error (default on)"},
    {".explain [analyze] [json] SQL", "the plan of a statement"},
    {".read FILE", "run the statements and commands in FILE"},
    {".stats", "storage statistics of this handle"},
    {".import FILE COLL [FMT] [skip-bad] [upsert]", "import NDJSON, JSON or CSV (FMT: from the name)"},
    {".export FILE|- [COLL] [FMT]", "export ndjson, json, csv or sql (FILE '-': the screen)"},
    {".backup FILE", "an online backup of the database to FILE"},
    {".check [quick] [json]", "integrity check of the latest commit"},
    {".quit", "leave (also .exit, Ctrl-D)"},
};

static const char *const g_dot_names[] = {".help",  ".collections", ".indexes", ".schema",
                                          ".mode",  ".timer",       ".wide",    ".bail",
                                          ".explain", ".read",      ".stats",   ".quit",
                                          ".exit",  ".use",        ".import",  ".export",
                                          ".backup", ".check"};
#define NDOT (sizeof g_dot_names / sizeof g_dot_names[0])

static const char *const g_cmd_names[] = {
    "inspect", "schema", "use",   "fetchAll", "fetch",  "insert", "update",   "delete",
    "softDelete", "query", "explain", "begin", "commit", "rollback", "status", "doctor",
    "help", "exit", "quit"};
#define NCMD (sizeof g_cmd_names / sizeof g_cmd_names[0])

static void shell_help(void)
{
    cli_outs("SQL statements end with ';' and may span several lines.\n\nDot-commands:\n");
    for (size_t i = 0; i < sizeof g_dot_help / sizeof g_dot_help[0]; i++)
        cli_outf("  %-32s %s\n", g_dot_help[i][0], g_dot_help[i][1]);
    cli_outs("\nCommands of the original BlazeDB shell (on the collection chosen with 'use'):\n"
             "  inspect                          the database at a glance\n"
             "  schema [COLL]                    as .schema\n"
             "  use COLL                         choose the collection for the commands below\n"
             "  fetchAll                         every document\n"
             "  fetch ID                         one document\n"
             "  insert JSON                      insert a document\n"
             "  update ID JSON                   change fields of a document (merge)\n"
             "  delete ID / softDelete ID        delete for good / mark deleted\n"
             "  query FIELD OP VALUE [and ...] [sort FIELD [asc|desc]] [limit N] [offset N]\n"
             "                                   OP: = != < <= > >=, or: FIELD is [not] null\n"
             "  explain query ...                the plan of such a query\n"
             "  begin / commit / rollback        a transaction around what follows\n"
             "  status                           connection, transaction, settings\n"
             "  doctor [json]                    health report with suggested actions\n"
             "Ctrl-C cancels a running statement; Ctrl-D or .quit leaves.\n");
    cli_out_flush();
}

static int on_off(const char *arg, int *v, const char *what)
{
    if (strcmp(arg, "on") == 0 || strcmp(arg, "1") == 0)
        *v = 1;
    else if (strcmp(arg, "off") == 0 || strcmp(arg, "0") == 0)
        *v = 0;
    else if (!*arg)
        cli_outf("%s %s\n", what, *v ? "on" : "off");
    else {
        cli_error("%s: expected on or off, not '%s'", what, arg);
        return 1;
    }
    return 0;
}

static int list_collections(Shell *sh)
{
    char **names = NULL;
    size_t n = 0;
    BlazeDBResult rc = blazedb_collection_list(sh->db, sh->txn, &names, &n);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, "listing collections");
        return 1;
    }
    static const char *const cols[] = {"collection", "documents"};
    CliSinkOpts o = sink_opts(sh);
    o.footer = 0;
    CliSink *s = cli_sink_new(&o);
    cli_sink_begin(s, 2, cols);
    for (size_t i = 0; i < n; i++) {
        uint64_t c = 0;
        blazedb_count(sh->db, sh->txn, names[i], &c);
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)c);
        const char *cells[2] = {names[i], num};
        size_t lens[2] = {strlen(names[i]), strlen(num)};
        BlazeDBType t[2] = {BLAZEDB_TYPE_STRING, BLAZEDB_TYPE_INT};
        CliBuf row = {0};
        cli_buf_adds(&row, "{\"collection\":");
        /* names carry no control characters; quotes and backslashes are
         * escaped */
        cli_buf_adds(&row, "\"");
        for (const char *k = names[i]; *k; k++) {
            if (*k == '"' || *k == '\\')
                cli_buf_add(&row, "\\", 1);
            cli_buf_add(&row, k, 1);
        }
        cli_buf_addf(&row, "\",\"documents\":%s}", num);
        cli_sink_row(s, cells, lens, t, row.p, row.len);
        cli_buf_free(&row);
    }
    cli_sink_end(s);
    cli_sink_free(s);
    blazedb_free(names);
    return 0;
}

static int show_stats(Shell *sh)
{
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    BlazeDBResult rc = blazedb_stats(sh->db, &s);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, "stats");
        return 1;
    }
    cli_outf("pages %llu (%llu free, %llu bytes each), %llu in the log, last commit %llu\n"
             "this session: %llu commits, %llu rollbacks, %llu reads, %llu writes, "
             "cache %llu hits / %llu misses, %llu syncs\n",
             (unsigned long long)s.page_count, (unsigned long long)s.free_pages,
             (unsigned long long)s.page_size, (unsigned long long)s.wal_pages,
             (unsigned long long)s.last_txn_id, (unsigned long long)s.commits,
             (unsigned long long)s.rollbacks, (unsigned long long)s.reads,
             (unsigned long long)s.writes, (unsigned long long)s.cache_hits,
             (unsigned long long)s.cache_misses, (unsigned long long)s.syncs);
    return 0;
}

static int read_file(Shell *sh, const char *file);

/* A format word of .import/.export: a BlazeDBFormat, 0 when the word is not
 * one. */
static int format_word(const char *w, int allow_sql)
{
    if (strcmp(w, "ndjson") == 0 || strcmp(w, "jsonl") == 0)
        return BLAZEDB_FORMAT_NDJSON;
    if (strcmp(w, "json") == 0)
        return BLAZEDB_FORMAT_JSON;
    if (strcmp(w, "csv") == 0)
        return BLAZEDB_FORMAT_CSV;
    if (allow_sql && strcmp(w, "sql") == 0)
        return BLAZEDB_FORMAT_SQL;
    return 0;
}

static int format_of_name(const char *f, int allow_sql)
{
    const char *dot = strrchr(f, '.');
    int k = dot ? format_word(dot + 1, allow_sql) : 0;
    return k ? k : BLAZEDB_FORMAT_NDJSON;
}

/* .import, .export, .backup and .check (ops.c does the work). */
static int ops_command(Shell *sh, const char *cmd, const char *arg)
{
    char w[4][1024];
    size_t n = 0;
    const char *p = arg;
    while (n < 4) {
        p = first_word(p, w[n], sizeof w[n]);
        if (!w[n][0])
            break;
        n++;
    }
    if (*skip_ws(p)) {
        cli_error("%s: too many arguments; .help shows its form", cmd);
        return 1;
    }
    int r;
    if (strcmp(cmd, ".import") == 0) {
        if (n < 2) {
            cli_error(".import FILE COLLECTION [ndjson|json|csv] [skip-bad] [upsert]");
            return 1;
        }
        int fmt = format_of_name(w[0], 0);
        unsigned flags = 0;
        for (size_t i = 2; i < n; i++) {
            int k = format_word(w[i], 0);
            if (k)
                fmt = k;
            else if (strcmp(w[i], "skip-bad") == 0)
                flags |= BLAZEDB_IMPORT_SKIP_BAD;
            else if (strcmp(w[i], "upsert") == 0)
                flags |= BLAZEDB_IMPORT_UPSERT;
            else {
                cli_error(".import: unknown word '%s' (ndjson, json, csv, skip-bad, upsert)",
                          w[i]);
                return 1;
            }
        }
        r = cli_op_import(sh->db, sh->txn, w[1], w[0], fmt, flags);
        sh->words_dirty = 1;
    } else if (strcmp(cmd, ".export") == 0) {
        if (n < 1 || n > 3) {
            cli_error(".export FILE|- [COLLECTION] [ndjson|json|csv|sql]");
            return 1;
        }
        int fmt = format_of_name(w[0], 1);
        const char *coll = NULL;
        for (size_t i = 1; i < n; i++) {
            int k = format_word(w[i], 1);
            if (k && (i == 2 || n == 2))
                fmt = k;
            else
                coll = w[i];
        }
        if (fmt == BLAZEDB_FORMAT_CSV && !coll) {
            cli_error(".export: csv needs a collection");
            return 1;
        }
        r = cli_op_export(sh->db, sh->txn, coll, fmt, NULL, w[0]);
    } else if (strcmp(cmd, ".backup") == 0) {
        if (n != 1) {
            cli_error(".backup FILE");
            return 1;
        }
        if (sh->txn) {
            cli_error(".backup: a transaction is open; it backs up the latest commit "
                      "(commit or rollback first)");
            return 1;
        }
        r = cli_op_backup(sh->db, w[0], NULL);
    } else {
        int quick = 0, json = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(w[i], "quick") == 0)
                quick = 1;
            else if (strcmp(w[i], "json") == 0)
                json = 1;
            else {
                cli_error(".check [quick] [json]");
                return 1;
            }
        }
        r = cli_op_check(sh->db, quick, json);
    }
    return r != CLI_EXIT_OK;
}

static int dot_command(Shell *sh, const char *line)
{
    char cmd[64];
    const char *rest = first_word(line, cmd, sizeof cmd);
    char *arg = trim_end(rest);
    int r = 0;
    if (strcmp(cmd, ".help") == 0) {
        shell_help();
    } else if (strcmp(cmd, ".quit") == 0 || strcmp(cmd, ".exit") == 0) {
        sh->quit = 1;
    } else if (strcmp(cmd, ".collections") == 0 || strcmp(cmd, ".tables") == 0) {
        r = list_collections(sh);
    } else if (strcmp(cmd, ".indexes") == 0) {
        CliSinkOpts o = sink_opts(sh);
        o.footer = 0;
        r = cli_sql_indexes(sh->db, sh->txn, *arg ? arg : NULL, &o);
    } else if (strcmp(cmd, ".schema") == 0) {
        r = show_schema(sh, arg);
    } else if (strcmp(cmd, ".mode") == 0) {
        if (!*arg) {
            cli_outf("%s\n", cli_format_name(sh->mode));
        } else {
            int f = cli_format_parse(arg);
            if (f < 0) {
                cli_error(".mode: unknown format '%s' (table, json, ndjson or csv)", arg);
                r = 1;
            } else {
                sh->mode = (CliFormat)f;
            }
        }
    } else if (strcmp(cmd, ".timer") == 0) {
        r = on_off(arg, &sh->timer, ".timer");
    } else if (strcmp(cmd, ".wide") == 0) {
        r = on_off(arg, &sh->wide, ".wide");
    } else if (strcmp(cmd, ".bail") == 0) {
        r = on_off(arg, &sh->bail, ".bail");
    } else if (strcmp(cmd, ".explain") == 0) {
        unsigned flags = 0;
        const char *q = arg;
        for (;;) {
            char w[32];
            const char *next = first_word(q, w, sizeof w);
            if (strcasecmp(w, "analyze") == 0)
                flags |= BLAZEDB_EXPLAIN_ANALYZE;
            else if (strcasecmp(w, "json") == 0)
                flags |= BLAZEDB_EXPLAIN_JSON;
            else
                break;
            q = next;
        }
        if (!*q) {
            cli_error(".explain needs a statement: .explain SELECT ...");
            r = 1;
        } else {
            r = cli_sql_explain(sh->db, q, flags);
        }
    } else if (strcmp(cmd, ".read") == 0) {
        if (!*arg) {
            cli_error(".read needs a file name");
            r = 1;
        } else {
            r = read_file(sh, arg);
        }
    } else if (strcmp(cmd, ".stats") == 0) {
        r = show_stats(sh);
    } else if (strcmp(cmd, ".use") == 0) {
        free(sh->coll);
        sh->coll = *arg ? strdup(arg) : NULL;
    } else if (strcmp(cmd, ".import") == 0 || strcmp(cmd, ".export") == 0 ||
               strcmp(cmd, ".backup") == 0 || strcmp(cmd, ".check") == 0) {
        r = ops_command(sh, cmd, arg);
    } else {
        const char *s = cli_suggest(cmd, g_dot_names, NDOT);
        if (s)
            cli_error("unknown command '%s' (did you mean '%s'?); .help lists them", cmd, s);
        else
            cli_error("unknown command '%s'; .help lists them", cmd);
        r = 1;
    }
    free(arg);
    cli_out_flush();
    return r;
}

/* ---- the original's commands ------------------------------------------------------------------- */

/* Splits s into tokens: "..." strings, {...}/[...] JSON, or runs of
 * non-space.  Returns the count (at most max). */
static size_t tokenize(const char *s, char **tok, size_t max)
{
    size_t n = 0;
    for (;;) {
        s = skip_ws(s);
        if (!*s || n == max)
            return n;
        const char *b = s;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    s++;
                s++;
            }
            if (*s)
                s++;
        } else if (*s == '{' || *s == '[') {
            int depth = 0;
            while (*s) {
                if (*s == '"') {
                    s++;
                    while (*s && *s != '"') {
                        if (*s == '\\' && s[1])
                            s++;
                        s++;
                    }
                    if (*s)
                        s++;
                    continue;
                }
                if (*s == '{' || *s == '[')
                    depth++;
                else if (*s == '}' || *s == ']')
                    depth--;
                s++;
                if (depth == 0)
                    break;
            }
        } else {
            while (*s && !isspace((unsigned char)*s))
                s++;
        }
        tok[n] = strndup(b, (size_t)(s - b));
        if (!tok[n])
            exit(CLI_EXIT_ERROR);
        n++;
    }
}

static void free_tokens(char **tok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tok[i]);
}

/* A VALUE of `query`: JSON when it reads as JSON, else a bare string. */
static char *value_json(const char *tok)
{
    BlazeDBDoc *d = NULL;
    if (blazedb_doc_new(&d) == BLAZEDB_OK &&
        blazedb_doc_set_json(d, "v", tok, strlen(tok)) == BLAZEDB_OK) {
        blazedb_doc_free(d);
        return strdup(tok);
    }
    blazedb_doc_free(d);
    CliBuf b = {0};
    cli_buf_adds(&b, "\"");
    for (const char *p = tok; *p; p++) {
        if (*p == '"' || *p == '\\')
            cli_buf_add(&b, "\\", 1);
        cli_buf_add(&b, p, 1);
    }
    cli_buf_adds(&b, "\"");
    return b.p;
}

typedef struct {
    BlazeDBQuery *q;
    uint64_t limit, offset;
    CliBuf sql;             /* the same query in SQL, for explain */
    int sql_ok;
} ParsedQuery;

static void sql_ident(CliBuf *b, const char *s)
{
    int plain = isalpha((unsigned char)s[0]) || s[0] == '_';
    for (const char *p = s; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || *p == '_' || *p == '.';
    if (plain) {
        cli_buf_adds(b, s);
        return;
    }
    cli_buf_adds(b, "\"");
    for (const char *p = s; *p; p++)
        cli_buf_add(b, p, *p == '"' ? 0 : 1);
    cli_buf_adds(b, "\"");
}

/* A JSON value as a SQL literal; 0 when it has no simple SQL form. */
static int sql_literal(CliBuf *b, const char *json)
{
    BlazeDBDoc *d = NULL;
    int ok = 0;
    if (blazedb_doc_new(&d) != BLAZEDB_OK ||
        blazedb_doc_set_json(d, "v", json, strlen(json)) != BLAZEDB_OK) {
        blazedb_doc_free(d);
        return 0;
    }
    switch (blazedb_doc_type(d, "v")) {
    case BLAZEDB_TYPE_NULL:
        cli_buf_adds(b, "NULL");
        ok = 1;
        break;
    case BLAZEDB_TYPE_BOOL:
    case BLAZEDB_TYPE_INT:
    case BLAZEDB_TYPE_DOUBLE: {
        int v;
        if (blazedb_doc_get_bool(d, "v", &v) == BLAZEDB_OK)
            cli_buf_adds(b, v ? "TRUE" : "FALSE");
        else
            cli_buf_adds(b, json);
        ok = 1;
        break;
    }
    case BLAZEDB_TYPE_STRING: {
        const char *s;
        size_t n;
        blazedb_doc_get_string(d, "v", &s, &n);
        cli_buf_adds(b, "'");
        for (size_t i = 0; i < n; i++)
            cli_buf_add(b, s[i] == '\'' ? "''" : &s[i], s[i] == '\'' ? 2 : 1);
        cli_buf_adds(b, "'");
        ok = 1;
        break;
    }
    default:
        break;
    }
    blazedb_doc_free(d);
    return ok;
}

static int parse_op(const char *s, BlazeDBOp *op, const char **sqlop)
{
    static const struct {
        const char *w;
        BlazeDBOp op;
        const char *sql;
    } ops[] = {{"=", BLAZEDB_OP_EQ, "="},   {"==", BLAZEDB_OP_EQ, "="},  {"eq", BLAZEDB_OP_EQ, "="},
               {"!=", BLAZEDB_OP_NE, "<>"}, {"<>", BLAZEDB_OP_NE, "<>"}, {"ne", BLAZEDB_OP_NE, "<>"},
               {"<", BLAZEDB_OP_LT, "<"},   {"lt", BLAZEDB_OP_LT, "<"},  {"<=", BLAZEDB_OP_LE, "<="},
               {"le", BLAZEDB_OP_LE, "<="}, {">", BLAZEDB_OP_GT, ">"},   {"gt", BLAZEDB_OP_GT, ">"},
               {">=", BLAZEDB_OP_GE, ">="}, {"ge", BLAZEDB_OP_GE, ">="}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcasecmp(s, ops[i].w) == 0) {
            *op = ops[i].op;
            *sqlop = ops[i].sql;
            return 1;
        }
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-')
        return 0;
    *v = n;
    return 1;
}

/* query FIELD OP VALUE [and ...] [sort FIELD [asc|desc]] [limit N] [offset N] */
static int parse_query(const char *coll, char **t, size_t n, ParsedQuery *pq)
{
    memset(pq, 0, sizeof *pq);
    pq->limit = UINT64_MAX;
    pq->sql_ok = 1;
    if (blazedb_query_new(coll, &pq->q) != BLAZEDB_OK) {
        cli_error("query: %s", blazedb_errmsg(NULL));
        return 1;
    }
    cli_buf_adds(&pq->sql, "SELECT * FROM ");
    sql_ident(&pq->sql, coll);
    size_t i = 0;
    int nconds = 0;
    const char *usage = "usage: query FIELD OP VALUE [and ...] [sort FIELD [asc|desc]] "
                        "[limit N] [offset N]";
    while (i < n && strcasecmp(t[i], "sort") != 0 && strcasecmp(t[i], "limit") != 0 &&
           strcasecmp(t[i], "offset") != 0) {
        if (nconds > 0) {
            if (strcasecmp(t[i], "and") != 0) {
                cli_error("query: expected 'and', 'sort', 'limit' or 'offset', not '%s'", t[i]);
                return 1;
            }
            i++;
        }
        if (i + 2 > n) {
            cli_error("query: incomplete condition; %s", usage);
            return 1;
        }
        const char *field = t[i];
        cli_buf_adds(&pq->sql, nconds ? " AND " : " WHERE ");
        sql_ident(&pq->sql, field);
        BlazeDBResult rc;
        if (strcasecmp(t[i + 1], "is") == 0) {
            int neg = i + 3 < n + 1 && i + 2 < n && strcasecmp(t[i + 2], "not") == 0;
            size_t k = i + 2 + (size_t)neg;
            if (k >= n || strcasecmp(t[k], "null") != 0) {
                cli_error("query: expected 'is null' or 'is not null'");
                return 1;
            }
            rc = blazedb_query_where(pq->q, field, neg ? BLAZEDB_OP_IS_NOT_NULL : BLAZEDB_OP_IS_NULL,
                                     NULL);
            cli_buf_adds(&pq->sql, neg ? " IS NOT NULL" : " IS NULL");
            i = k + 1;
        } else {
            BlazeDBOp op;
            const char *sqlop;
            if (i + 3 > n) {
                cli_error("query: incomplete condition; %s", usage);
                return 1;
            }
            if (!parse_op(t[i + 1], &op, &sqlop)) {
                cli_error("query: unknown operator '%s' (= != < <= > >=, is null, is not null)",
                          t[i + 1]);
                return 1;
            }
            char *v = value_json(t[i + 2]);
            rc = blazedb_query_where(pq->q, field, op, v);
            cli_buf_addf(&pq->sql, " %s ", sqlop);
            if (!sql_literal(&pq->sql, v))
                pq->sql_ok = 0;
            free(v);
            i += 3;
        }
        if (rc != BLAZEDB_OK) {
            cli_error("query: %s", blazedb_errmsg(NULL));
            return 1;
        }
        nconds++;
    }
    int sorted = 0;
    while (i < n) {
        if (strcasecmp(t[i], "sort") == 0 && i + 1 < n) {
            int desc = 0;
            const char *f = t[i + 1];
            i += 2;
            if (i < n && (strcasecmp(t[i], "asc") == 0 || strcasecmp(t[i], "desc") == 0)) {
                desc = strcasecmp(t[i], "desc") == 0;
                i++;
            }
            if (blazedb_query_order_by(pq->q, f, desc) != BLAZEDB_OK) {
                cli_error("query: %s", blazedb_errmsg(NULL));
                return 1;
            }
            cli_buf_adds(&pq->sql, sorted ? ", " : " ORDER BY ");
            sql_ident(&pq->sql, f);
            if (desc)
                cli_buf_adds(&pq->sql, " DESC");
            sorted = 1;
        } else if (strcasecmp(t[i], "limit") == 0 && i + 1 < n && parse_u64(t[i + 1], &pq->limit)) {
            i += 2;
        } else if (strcasecmp(t[i], "offset") == 0 && i + 1 < n &&
                   parse_u64(t[i + 1], &pq->offset)) {
            i += 2;
        } else {
            cli_error("query: unexpected '%s'; %s", t[i], usage);
            return 1;
        }
    }
    if (pq->limit != UINT64_MAX) {
        uint64_t total = pq->limit + pq->offset < pq->limit ? UINT64_MAX : pq->limit + pq->offset;
        blazedb_query_limit(pq->q, total);
        cli_buf_addf(&pq->sql, " LIMIT %llu", (unsigned long long)pq->limit);
    }
    if (pq->offset) {
        if (pq->limit == UINT64_MAX)
            cli_buf_adds(&pq->sql, " LIMIT -1");
        cli_buf_addf(&pq->sql, " OFFSET %llu", (unsigned long long)pq->offset);
    }
    return 0;
}

static void free_query(ParsedQuery *pq)
{
    blazedb_query_free(pq->q);
    cli_buf_free(&pq->sql);
}

static int cmd_query(Shell *sh, const char *args, int explain)
{
    const char *coll = current_coll(sh);
    if (!coll)
        return 1;
    char *tok[128];
    size_t n = tokenize(args, tok, 128);
    ParsedQuery pq;
    int r = parse_query(coll, tok, n, &pq);
    free_tokens(tok, n);
    if (r) {
        free_query(&pq);
        return 1;
    }
    if (explain) {
        if (!pq.sql_ok) {
            cli_error("explain query: a value has no SQL literal form; use .explain with SQL");
            r = 1;
        } else {
            r = cli_sql_explain(sh->db, pq.sql.p, 0);
        }
        free_query(&pq);
        return r;
    }
    BlazeDBDoc **docs = NULL;
    size_t nd = 0;
    double t0 = now_ms();
    BlazeDBResult rc = blazedb_query_run(sh->db, sh->txn, pq.q, &docs, &nd);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, "query");
        free_query(&pq);
        return 1;
    }
    size_t skip = pq.offset < nd ? (size_t)pq.offset : nd;
    CliSinkOpts o = sink_opts(sh);
    cli_print_docs(&o, docs + skip, nd - skip);
    if (sh->timer)
        cli_outf("Run Time: %.3f ms, %zu document%s\n", now_ms() - t0, nd - skip,
                 nd - skip == 1 ? "" : "s");
    blazedb_query_free_docs(docs, nd);
    free_query(&pq);
    return 0;
}

static int cmd_fetch_all(Shell *sh)
{
    const char *coll = current_coll(sh);
    if (!coll)
        return 1;
    BlazeDBDocCursor *cur = NULL;
    BlazeDBResult rc = blazedb_doc_cursor_open(sh->db, sh->txn, coll, NULL, &cur);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, coll);
        return 1;
    }
    /* The first documents size the columns; the rest stream. */
    BlazeDBDoc *sample[200];
    size_t ns = 0;
    BlazeDBDoc *doc;
    while (ns < 200 && (rc = blazedb_doc_cursor_next(cur, &doc)) == BLAZEDB_OK)
        sample[ns++] = doc;
    CliSinkOpts o = sink_opts(sh);
    CliDocPrinter *p = cli_docs_begin(&o, sample, ns);
    for (size_t i = 0; i < ns; i++) {
        cli_docs_add(p, sample[i]);
        blazedb_doc_free(sample[i]);
    }
    int r = 0;
    cli_interrupted();
    if (rc == BLAZEDB_OK) {
        while (!cli_out_failed() && (rc = blazedb_doc_cursor_next(cur, &doc)) == BLAZEDB_OK) {
            cli_docs_add(p, doc);
            blazedb_doc_free(doc);
            if (cli_interrupted()) {
                rc = BLAZEDB_CANCELLED;
                break;
            }
        }
    }
    cli_docs_end(p);
    if (rc != BLAZEDB_NOT_FOUND && !cli_out_failed()) {
        if (rc == BLAZEDB_CANCELLED)
            cli_error("interrupted");
        else
            cli_db_error(sh->db, rc, coll);
        r = 1;
    }
    blazedb_doc_cursor_close(cur);
    return r;
}

static int report(Shell *sh, BlazeDBResult rc, const char *what, const char *ok_msg)
{
    if (rc == BLAZEDB_OK) {
        if (ok_msg && sh->interactive)
            cli_outf("%s\n", ok_msg);
        sh->words_dirty = 1;
        return 0;
    }
    cli_db_error(sh->db, rc, what);
    return 1;
}

static int cmd_inspect(Shell *sh)
{
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    blazedb_stats(sh->db, &s);
    cli_outf("database   %s\npages      %llu of %llu bytes (%llu free)\n", sh->path,
             (unsigned long long)s.page_count, (unsigned long long)s.page_size,
             (unsigned long long)s.free_pages);
    char **names = NULL;
    size_t n = 0;
    BlazeDBResult rc = blazedb_collection_list(sh->db, sh->txn, &names, &n);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, "listing collections");
        return 1;
    }
    cli_outf("collections %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        uint64_t c = 0;
        blazedb_count(sh->db, sh->txn, names[i], &c);
        int nidx = cli_sql_index_count(sh->db, names[i]);
        cli_outf("  %-20s %llu document%s", names[i], (unsigned long long)c, c == 1 ? "" : "s");
        if (nidx >= 0)
            cli_outf(", %d index%s", nidx, nidx == 1 ? "" : "es");
        cli_outs("\n");
    }
    blazedb_free(names);
    return 0;
}

static void cmd_status(Shell *sh)
{
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    blazedb_stats(sh->db, &s);
    cli_outf("database    %s (library %s)\n", sh->path, blazedb_version());
    cli_outf("collection  %s\n", sh->coll ? sh->coll : "(none chosen; 'use NAME')");
    cli_outf("transaction %s\n", sh->txn ? "open (commit or rollback)" : "none (autocommit)");
    cli_outf("mode %s, timer %s, wide %s, bail %s\n", cli_format_name(sh->mode),
             sh->timer ? "on" : "off", sh->wide ? "on" : "off", sh->bail ? "on" : "off");
    cli_outf("last commit %llu; this session %llu commits, %llu rollbacks\n",
             (unsigned long long)s.last_txn_id, (unsigned long long)s.commits,
             (unsigned long long)s.rollbacks);
}

static int txn_command(Shell *sh, const char *w)
{
    if (strcasecmp(w, "begin") == 0) {
        if (sh->txn) {
            cli_error("a transaction is already open (commit or rollback first)");
            return 1;
        }
        BlazeDBResult rc = blazedb_txn_begin(sh->db, 0, &sh->txn);
        if (rc != BLAZEDB_OK) {
            sh->txn = NULL;
            cli_db_error(sh->db, rc, "begin");
            return 1;
        }
        return 0;
    }
    if (!sh->txn) {
        cli_error("no transaction is open ('begin' opens one)");
        return 1;
    }
    BlazeDBTxn *t = sh->txn;
    sh->txn = NULL;
    sh->words_dirty = 1;
    if (strcasecmp(w, "rollback") == 0) {
        blazedb_txn_abort(t);
        return 0;
    }
    BlazeDBResult rc = blazedb_txn_commit(t);
    if (rc != BLAZEDB_OK) {
        cli_db_error(sh->db, rc, "commit (the transaction was rolled back)");
        return 1;
    }
    return 0;
}

/*
 * Whether a line is one of the original's commands rather than SQL: the
 * words that SQL shares (insert, update, delete, explain, begin, commit,
 * rollback) are the original's in their original shapes (insert {...},
 * update ID {...}, delete ID, explain query ..., a bare begin/commit/
 * rollback).
 */
static int is_shell_command(const char *line)
{
    char w[32], w2[64];
    const char *rest = first_word(line, w, sizeof w);
    const char *rest2 = first_word(rest, w2, sizeof w2);
    static const char *const own[] = {"inspect", "schema", "use", "fetchAll", "fetch",
                                      "softDelete", "query", "status", "help", "exit",
                                      "quit", "doctor"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(w, own[i]) == 0)
            return 1;
    if (strcmp(w, "insert") == 0)
        return *rest == '{';
    if (strcmp(w, "update") == 0)
        return *w2 && *rest2 == '{';
    if (strcmp(w, "delete") == 0)
        return *w2 && strcasecmp(w2, "from") != 0 && (!*rest2 || *rest2 == ';');
    if (strcmp(w, "explain") == 0)
        return strcmp(w2, "query") == 0;
    if (strcasecmp(w, "begin") == 0 || strcasecmp(w, "commit") == 0 ||
        strcasecmp(w, "rollback") == 0 || strcasecmp(w, "end") == 0) {
        char *t = trim_end(rest);
        int bare = !*t || strcasecmp(t, "transaction") == 0;
        free(t);
        return bare;
    }
    return 0;
}

static int shell_command(Shell *sh, const char *line)
{
    char w[32];
    const char *rest = first_word(line, w, sizeof w);
    char *args = trim_end(rest);
    int r = 0;
    if (strcmp(w, "help") == 0) {
        shell_help();
    } else if (strcmp(w, "exit") == 0 || strcmp(w, "quit") == 0) {
        sh->quit = 1;
    } else if (strcmp(w, "inspect") == 0) {
        r = cmd_inspect(sh);
    } else if (strcmp(w, "schema") == 0) {
        r = show_schema(sh, args);
    } else if (strcmp(w, "use") == 0) {
        if (!*args) {
            cli_outf("%s\n", sh->coll ? sh->coll : "(no collection chosen)");
        } else {
            free(sh->coll);
            sh->coll = strdup(args);
        }
    } else if (strcmp(w, "fetchAll") == 0) {
        r = cmd_fetch_all(sh);
    } else if (strcmp(w, "status") == 0) {
        cmd_status(sh);
    } else if (strcmp(w, "doctor") == 0) {
        r = cli_op_doctor(sh->db, strcmp(args, "json") == 0, 0) != CLI_EXIT_OK;
    } else if (strcmp(w, "query") == 0) {
        r = cmd_query(sh, args, 0);
    } else if (strcmp(w, "explain") == 0) {
        char q[16];
        const char *qa = first_word(args, q, sizeof q);
        r = cmd_query(sh, qa, 1);
    } else if (strcasecmp(w, "begin") == 0 || strcasecmp(w, "commit") == 0 ||
               strcasecmp(w, "rollback") == 0 || strcasecmp(w, "end") == 0) {
        r = txn_command(sh, strcasecmp(w, "end") == 0 ? "commit" : w);
    } else {
        /* the commands on one document */
        const char *coll = current_coll(sh);
        if (!coll) {
            free(args);
            return 1;
        }
        if (strcmp(w, "fetch") == 0) {
            BlazeDBDoc *doc = NULL;
            BlazeDBResult rc = blazedb_get_doc(sh->db, sh->txn, coll, args, &doc);
            if (rc == BLAZEDB_OK)
                print_doc(sh, doc);
            else if (rc == BLAZEDB_NOT_FOUND) {
                cli_error("no document '%s' in %s", args, coll);
                r = 1;
            } else
                r = report(sh, rc, "fetch", NULL);
            blazedb_doc_free(doc);
        } else if (strcmp(w, "insert") == 0) {
            BlazeDBDoc *doc = NULL;
            BlazeDBResult rc = blazedb_doc_from_json(args, strlen(args), &doc);
            if (rc != BLAZEDB_OK) {
                cli_error("insert: bad JSON: %s", blazedb_errmsg(NULL));
                r = 1;
            } else {
                rc = blazedb_insert(sh->db, sh->txn, coll, doc);
                const char *id = "";
                blazedb_doc_get_string(doc, "id", &id, NULL);
                char msg[512];
                snprintf(msg, sizeof msg, "inserted %.400s", id);
                r = report(sh, rc, "insert", msg);
            }
            blazedb_doc_free(doc);
        } else if (strcmp(w, "update") == 0) {
            char id[1024];
            const char *json = first_word(args, id, sizeof id);
            BlazeDBDoc *set = NULL;
            BlazeDBResult rc = blazedb_doc_from_json(json, strlen(json), &set);
            if (rc != BLAZEDB_OK) {
                cli_error("update: bad JSON: %s", blazedb_errmsg(NULL));
                r = 1;
            } else {
                rc = blazedb_patch(sh->db, sh->txn, coll, id, set, NULL, 0);
                r = report(sh, rc, "update", "updated");
            }
            blazedb_doc_free(set);
        } else if (strcmp(w, "delete") == 0) {
            r = report(sh, blazedb_delete_doc(sh->db, sh->txn, coll, args), "delete", "deleted");
        } else if (strcmp(w, "softDelete") == 0) {
            r = report(sh, blazedb_soft_delete(sh->db, sh->txn, coll, args), "softDelete",
                       "marked deleted");
        }
    }
    free(args);
    cli_out_flush();
    return r;
}

/* ---- lines ---------------------------------------------------------------------------- */

static void history_add(Shell *sh, const char *entry)
{
    if (!sh->hist || !*skip_ws(entry))
        return;
    HistEvent ev;
    char *e = strdup(entry);
    if (!e)
        return;
    size_t n = strlen(e);
    while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
        e[--n] = 0;
    history(sh->hist, &ev, H_ENTER, e);
    free(e);
    if (sh->histfile[0])
        history(sh->hist, &ev, H_SAVE, sh->histfile);
}

/* Handles one line of input.  Returns 1 when it (or the statement it
 * completed) failed. */
static int shell_line(Shell *sh, const char *raw)
{
    int before = sh->errors;
    char *line = strdup(raw);
    if (!line)
        exit(CLI_EXIT_ERROR);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (sh->pending.len == 0) {
        const char *t = skip_ws(line);
        if (!*t) {
            free(line);
            return 0;
        }
        if (*t == '.' || is_shell_command(t)) {
            if (sh->interactive)
                history_add(sh, t);
            int r = *t == '.' ? dot_command(sh, t) : shell_command(sh, t);
            if (r)
                shell_fail(sh);
            free(line);
            return sh->errors != before;
        }
    }
    cli_buf_add(&sh->pending, line, strlen(line));
    cli_buf_add(&sh->pending, "\n", 1);
    free(line);
    if (sql_complete(sh->pending.p, sh->pending.len)) {
        if (sh->interactive)
            history_add(sh, sh->pending.p);
        run_sql(sh, sh->pending.p, sh->pending.len);
        sh->pending.len = 0;
        sh->pending.p[0] = 0;
    }
    return sh->errors != before;
}

/* Runs the pending text when input ends without a final ';'. */
static void flush_pending(Shell *sh)
{
    if (sh->pending.len && *skip_ws(sh->pending.p))
        run_sql(sh, sh->pending.p, sh->pending.len);
    sh->pending.len = 0;
    if (sh->pending.p)
        sh->pending.p[0] = 0;
}

static int run_stream(Shell *sh, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    int failed = 0;
    while (!sh->quit && getline(&line, &cap, in) >= 0) {
        if (shell_line(sh, line)) {
            failed = 1;
            if (sh->bail)
                break;
        }
        if (cli_out_failed())
            break;
    }
    free(line);
    if (!sh->quit && !(failed && sh->bail) && !cli_out_failed()) {
        int before = sh->errors;
        flush_pending(sh);
        if (sh->errors != before)
            failed = 1;
    }
    return failed;
}

static int read_file(Shell *sh, const char *file)
{
    if (sh->depth >= 16) {
        cli_error(".read: nested too deeply");
        return 1;
    }
    FILE *f = fopen(file, "r");
    if (!f) {
        cli_error(".read: %s: %s", file, strerror(errno));
        return 1;
    }
    /* A file runs as a script: its own pending text, no history. */
    CliBuf outer = sh->pending;
    memset(&sh->pending, 0, sizeof sh->pending);
    int interactive = sh->interactive;
    sh->interactive = 0;
    sh->depth++;
    int errors_before = sh->errors;
    int failed = run_stream(sh, f);
    sh->depth--;
    sh->interactive = interactive;
    cli_buf_free(&sh->pending);
    sh->pending = outer;
    fclose(f);
    /* the errors were counted already; report failure to the caller */
    if (failed)
        sh->errors = errors_before;
    return failed;
}

/* ---- completion ------------------------------------------------------------------------------- */

static const char *const g_sql_words[] = {
    "SELECT", "FROM",   "WHERE",  "AND",   "OR",       "NOT",    "NULL",   "IS",
    "IN",     "LIKE",   "BETWEEN", "ORDER", "BY",      "GROUP",  "HAVING", "LIMIT",
    "OFFSET", "ASC",    "DESC",   "AS",    "DISTINCT", "COUNT",  "SUM",    "AVG",
    "MIN",    "MAX",    "JOIN",   "LEFT",  "ON",       "INSERT", "INTO",   "VALUES",
    "JSON",   "UPDATE", "SET",    "DELETE", "CREATE",  "INDEX",  "UNIQUE", "DROP",
    "COLLECTION", "EXPLAIN", "ANALYZE", "BEGIN", "COMMIT", "ROLLBACK", "CONTAINS", "TRUE",
    "FALSE"};

static void words_add(Shell *sh, const char *w, size_t *cap)
{
    for (size_t i = 0; i < sh->nwords; i++)
        if (strcmp(sh->words[i], w) == 0)
            return;
    if (sh->nwords == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **p = realloc(sh->words, nc * sizeof *p);
        if (!p)
            return;
        sh->words = p;
        *cap = nc;
    }
    sh->words[sh->nwords++] = strdup(w);
}

/* Collection and field names (from up to 20 documents per collection). */
static void words_refresh(Shell *sh)
{
    for (size_t i = 0; i < sh->nwords; i++)
        free(sh->words[i]);
    sh->nwords = 0;
    size_t cap = 0;
    free(sh->words);
    sh->words = NULL;
    char **names = NULL;
    size_t n = 0;
    if (blazedb_collection_list(sh->db, sh->txn, &names, &n) != BLAZEDB_OK)
        return;
    for (size_t i = 0; i < n && i < 64; i++) {
        words_add(sh, names[i], &cap);
        Schema s = {0};
        schema_sample(sh, names[i], &s, 20);
        for (size_t k = 0; k < s.n; k++)
            words_add(sh, s.f[k].path, &cap);
        schema_free(&s);
    }
    blazedb_free(names);
    sh->words_dirty = 0;
}

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '$' ||
           ((unsigned char)c & 0x80);
}

static unsigned char complete(EditLine *el, int ch)
{
    (void)ch;
    Shell *sh = NULL;
    el_get(el, EL_CLIENTDATA, &sh);
    const LineInfo *li = el_line(el);
    const char *ws = li->cursor;
    while (ws > li->buffer && is_word_char(ws[-1]))
        ws--;
    size_t plen = (size_t)(li->cursor - ws);
    int at_start = sh->pending.len == 0;
    for (const char *p = li->buffer; p < ws && at_start; p++)
        at_start = isspace((unsigned char)*p);
    if (sh->words_dirty || !sh->words)
        words_refresh(sh);
    /* gather the candidates */
    const char *m[512];
    size_t nm = 0;
#define CAND(w, ci)                                                                     \
    do {                                                                                \
        if (nm < 512 && ((ci) ? strncasecmp((w), ws, plen) == 0 : strncmp((w), ws, plen) == 0)) \
            m[nm++] = (w);                                                              \
    } while (0)
    if (at_start && plen && ws[0] == '.') {
        for (size_t i = 0; i < NDOT; i++)
            CAND(g_dot_names[i], 0);
    } else {
        if (at_start)
            for (size_t i = 0; i < NCMD; i++)
                CAND(g_cmd_names[i], 0);
        for (size_t i = 0; i < sh->nwords; i++)
            CAND(sh->words[i], 0);
        if (plen)
            for (size_t i = 0; i < sizeof g_sql_words / sizeof g_sql_words[0]; i++)
                CAND(g_sql_words[i], 1);
    }
#undef CAND
    if (nm == 0)
        return CC_ERROR;
    /* keywords typed in lower case complete in lower case */
    int lower = plen && islower((unsigned char)ws[0]);
    char buf[256];
    if (nm == 1) {
        snprintf(buf, sizeof buf, "%s ", m[0] + plen);
        if (lower)
            for (char *p = buf; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        el_insertstr(el, buf);
        return CC_REFRESH;
    }
    /* extend to the longest common prefix, else list the candidates */
    size_t common = strlen(m[0]);
    for (size_t i = 1; i < nm; i++) {
        size_t k = 0;
        while (k < common && m[i][k] &&
               tolower((unsigned char)m[i][k]) == tolower((unsigned char)m[0][k]))
            k++;
        common = k;
    }
    if (common > plen) {
        snprintf(buf, sizeof buf, "%.*s", (int)(common - plen), m[0] + plen);
        if (lower)
            for (char *p = buf; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        el_insertstr(el, buf);
        return CC_REFRESH;
    }
    fputc('\n', stdout);
    for (size_t i = 0; i < nm; i++)
        printf("%s%s", m[i], i + 1 < nm ? "  " : "\n");
    fflush(stdout);
    return CC_REDISPLAY;
}

/*
 * libedit's character reader: waits on the terminal and on the Ctrl-C
 * descriptor together, so a Ctrl-C that comes just before the read starts
 * still ends el_gets (a plain read would sleep through it).
 */
static int read_char(EditLine *el, wchar_t *wc)
{
    (void)el;
    unsigned char buf[4];
    size_t n = 0, need = 1;
    for (;;) {
        struct pollfd p[2] = {{0, POLLIN, 0}, {cli_interrupt_fd(), POLLIN, 0}};
        int k = poll(p, p[1].fd >= 0 ? 2 : 1, -1);
        if (k < 0 && errno != EINTR)
            return -1;
        if (k < 0 || (p[1].fd >= 0 && p[1].revents)) {
            errno = EINTR;
            return -1;
        }
        ssize_t r = read(0, buf + n, 1);
        if (r == 0)
            return 0;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        /* UTF-8, decoded here; a malformed byte passes as itself */
        if (n == 0)
            need = buf[0] < 0x80 ? 1 : (buf[0] & 0xE0) == 0xC0 ? 2
                                   : (buf[0] & 0xF0) == 0xE0 ? 3
                                   : (buf[0] & 0xF8) == 0xF0 ? 4 : 1;
        else if ((buf[n] & 0xC0) != 0x80) {
            *wc = (wchar_t)buf[0];
            return 1;
        }
        if (++n < need)
            continue;
        uint32_t c = need == 1 ? buf[0] : need == 2 ? buf[0] & 0x1Fu : need == 3 ? buf[0] & 0x0Fu : buf[0] & 0x07u;
        for (size_t i = 1; i < need; i++)
            c = (c << 6) | (buf[i] & 0x3Fu);
        *wc = (wchar_t)c;
        return 1;
    }
}

static char *prompt_fn(EditLine *el)
{
    Shell *sh = NULL;
    el_get(el, EL_CLIENTDATA, &sh);
    if (sh->pending.len)
        return "   ...> ";
    return sh->txn ? "blazedb*> " : "blazedb> ";
}

static void interactive_loop(Shell *sh)
{
    /* libedit edits wide characters: it needs the user's locale, and the
     * database's UTF-8 when the locale is plain C. */
    const char *loc = setlocale(LC_CTYPE, "");
    if (!loc || strcmp(loc, "C") == 0 || strcmp(loc, "POSIX") == 0)
        setlocale(LC_CTYPE, "C.UTF-8");
    sh->el = el_init("blazedb", stdin, stdout, stderr);
    sh->hist = history_init();
    if (!sh->el || !sh->hist) {
        cli_error("cannot start line editing; reading plain lines");
        if (sh->el)
            el_end(sh->el);
        if (sh->hist)
            history_end(sh->hist);
        sh->el = NULL;
        sh->hist = NULL;
        run_stream(sh, stdin);
        return;
    }
    HistEvent ev;
    history(sh->hist, &ev, H_SETSIZE, 2000);
    history(sh->hist, &ev, H_SETUNIQUE, 1);
    const char *hf = getenv("BLAZEDB_HISTORY");
    const char *home = getenv("HOME");
    if (hf && *hf)
        snprintf(sh->histfile, sizeof sh->histfile, "%s", hf);
    else if (home && *home)
        snprintf(sh->histfile, sizeof sh->histfile, "%s/.blazedb_history", home);
    if (sh->histfile[0])
        history(sh->hist, &ev, H_LOAD, sh->histfile);
    el_set(sh->el, EL_CLIENTDATA, sh);
    el_set(sh->el, EL_EDITOR, "emacs");
    el_set(sh->el, EL_PROMPT, prompt_fn);
    el_set(sh->el, EL_HIST, history, sh->hist);
    el_set(sh->el, EL_GETCFN, read_char);
    /* the wide form: libedit keeps these strings as given (the narrow
     * form copies them and never frees the copies) */
    el_wset(sh->el, EL_ADDFN, L"blazedb-complete", L"complete a word", complete);
    el_set(sh->el, EL_BIND, "^I", "blazedb-complete", NULL);
    el_source(sh->el, NULL);

    printf("BlazeDB %s shell on %s.  Enter \".help\" for help; statements end with ';'.\n",
           blazedb_version(), sh->path);
    fflush(stdout);
    while (!sh->quit) {
        int count = 0;
        cli_interrupt_drain();
        const char *line = el_gets(sh->el, &count);
        if (cli_interrupted() || (!line && count < 0 && errno == EINTR)) {
            /* Ctrl-C at the prompt: drop the line (and a pending statement). */
            fputs("^C\n", stdout);
            fflush(stdout);
            sh->pending.len = 0;
            if (sh->pending.p)
                sh->pending.p[0] = 0;
            el_reset(sh->el);
            continue;
        }
        if (!line || count <= 0) {
            fputc('\n', stdout);
            break;
        }
        shell_line(sh, line);
        if (cli_out_failed())
            break;
    }
    history_end(sh->hist);
    el_end(sh->el);
    sh->hist = NULL;
    sh->el = NULL;
}

/* ---- entry points --------------------------------------------------------------------------------- */

int cli_shell_run(BlazeDB *db, const char *path, int interactive, FILE *in, int bail,
                  CliFormat mode)
{
    Shell sh;
    memset(&sh, 0, sizeof sh);
    sh.db = db;
    sh.path = path;
    sh.mode = mode;
    sh.bail = bail;
    sh.interactive = interactive;
    sh.words_dirty = 1;
    cli_interrupt_init();
    int failed = 0;
    if (interactive)
        interactive_loop(&sh);
    else
        failed = run_stream(&sh, in);
    if (sh.txn) {
        blazedb_txn_abort(sh.txn);
        sh.txn = NULL;
        if (!cli_out_failed())
            cli_error("the open transaction was rolled back");
        failed = 1;
    }
    cli_interrupt_shutdown();
    for (size_t i = 0; i < sh.nwords; i++)
        free(sh.words[i]);
    free(sh.words);
    free(sh.coll);
    cli_buf_free(&sh.pending);
    cli_out_flush();
    if (cli_out_failed())
        return cli_out_failed() == 1 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    if (interactive)
        return CLI_EXIT_OK;
    return failed || sh.errors ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

int cli_cmd_shell(const CliArgs *a)
{
    const char *path = a->pos[0];
    int mode = isatty(1) ? CLI_FMT_TABLE : CLI_FMT_NDJSON;
    if (OPT(a, "mode")) {
        mode = cli_format_parse(OPT(a, "mode"));
        if (mode < 0)
            return cli_usage_error("shell", "unknown mode '%s' (table, json, ndjson or csv)",
                                   OPT(a, "mode"));
    }
    CliOpenOpts oo = {OPT(a, "password-file"), 5000, OPT(a, "readonly") != NULL};
    if (OPT(a, "timeout"))
        oo.timeout_ms = (uint32_t)strtoul(OPT(a, "timeout"), NULL, 10);
    BlazeDB *db = cli_open(path, &oo, NULL);
    if (!db)
        return CLI_EXIT_ERROR;
    int interactive = isatty(0);
    int r = cli_shell_run(db, path, interactive, stdin, OPT(a, "keep-going") == NULL,
                          (CliFormat)mode);
    blazedb_close(db);
    return r;
}
