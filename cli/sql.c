/*
 * sql.c — everything in the tool that runs SQL through the library's
 * prepared statements (include/blazedb.h part 6): the `sql` subcommand,
 * statement execution for the shell (rows streamed to the printers of
 * output.c, errors with their position, Ctrl-C through blazedb_interrupt),
 * EXPLAIN, and index listings.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* After the next ';' outside strings, quoted names and comments (or end). */
static const char *skip_statement(const char *p, const char *end)
{
    while (p < end) {
        char c = *p;
        if (c == '\'' || c == '"' || c == '`') {
            p++;
            while (p < end && *p != c)
                p++;
            if (p < end)
                p++;
        } else if (c == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (c == '/' && p + 1 < end && p[1] == '*') {
            p += 2;
            while (p + 1 < end && !(p[0] == '*' && p[1] == '/'))
                p++;
            p = p + 2 <= end ? p + 2 : end;
        } else if (c == ';') {
            return p + 1;
        } else {
            p++;
        }
    }
    return end;
}

/*
 * Prints a SQL error.  When the message names a byte offset ("... at offset
 * N ...", relative to `text`), shows that line of the statement with a
 * caret under the position.
 */
static void sql_error(BlazeDB *db, BlazeDBResult rc, const char *text, size_t len)
{
    const char *msg = blazedb_errmsg(db);
    if (rc == BLAZEDB_CANCELLED) {
        cli_error("interrupted");
        return;
    }
    cli_error("%s: %s", rc == BLAZEDB_SQL_ERROR ? "SQL error" : blazedb_strerror(rc),
              msg && *msg ? msg : blazedb_strerror(rc));
    const char *at = msg ? strstr(msg, "at offset ") : NULL;
    if (!at || !text)
        return;
    char *endp;
    unsigned long off = strtoul(at + 10, &endp, 10);
    if (endp == at + 10 || off > len)
        return;
    /* Skip leading blank lines of the statement for the display. */
    size_t ls = off;
    while (ls > 0 && text[ls - 1] != '\n')
        ls--;
    size_t le = off;
    while (le < len && text[le] != '\n')
        le++;
    size_t col = 0;
    for (size_t i = ls; i < off; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            col++;
    fprintf(stderr, "  %.*s\n  %*s^\n", (int)(le - ls), text + ls, (int)col, "");
}

/* Fills the cells of the current row; returns the malloc'd row JSON (for
 * json/ndjson) or NULL. */
static char *row_cells(BlazeDBStmt *st, CliFormat fmt, size_t nc, const char **cells,
                       size_t *lens, BlazeDBType *types, size_t *jlen)
{
    for (size_t i = 0; i < nc; i++) {
        types[i] = blazedb_column_type(st, i);
        lens[i] = 0;
        cells[i] = NULL;
        if (fmt == CLI_FMT_JSON || fmt == CLI_FMT_NDJSON)
            continue;
        if (types[i] == BLAZEDB_TYPE_STRING)
            cells[i] = blazedb_column_text(st, i, &lens[i]);
        else if (types[i] != BLAZEDB_TYPE_NULL && types[i] != BLAZEDB_TYPE_MISSING)
            cells[i] = blazedb_column_json(st, i, &lens[i]);
        if (!cells[i]) {
            cells[i] = "";
            lens[i] = 0;
        }
    }
    *jlen = 0;
    if (fmt != CLI_FMT_JSON && fmt != CLI_FMT_NDJSON)
        return NULL;
    BlazeDBDoc *doc = NULL;
    char *json = NULL;
    if (blazedb_row_doc(st, &doc) == BLAZEDB_OK &&
        blazedb_doc_to_json(doc, 0, &json, jlen) == BLAZEDB_OK) {
        blazedb_doc_free(doc);
        return json;
    }
    blazedb_doc_free(doc);
    /* Fall back to building the object from the columns. */
    CliBuf b = {0};
    cli_buf_adds(&b, "{");
    for (size_t i = 0; i < nc; i++) {
        size_t l = 0;
        const char *v = blazedb_column_json(st, i, &l);
        const char *name = blazedb_column_name(st, i);
        cli_buf_addf(&b, "%s\"", i ? "," : "");
        for (const char *q = name ? name : ""; *q; q++) {
            if (*q == '"' || *q == '\\')
                cli_buf_add(&b, "\\", 1);
            cli_buf_add(&b, q, 1);
        }
        cli_buf_adds(&b, "\":");
        if (v)
            cli_buf_add(&b, v, l);
        else
            cli_buf_adds(&b, "null");
    }
    cli_buf_adds(&b, "}");
    *jlen = b.len;
    char *out = malloc(b.len + 1);
    if (out)
        memcpy(out, b.p, b.len + 1);
    cli_buf_free(&b);
    return out;
}

/* Runs one prepared statement to the end, printing its rows. */
static BlazeDBResult run_stmt(BlazeDB *db, BlazeDBStmt *st, const CliSqlOpts *o, uint64_t *rows)
{
    CliSink *sink = NULL;
    size_t nc = 0;
    const char **cells = NULL;
    size_t *lens = NULL;
    BlazeDBType *types = NULL;
    BlazeDBResult rc;
    cli_interrupt_arm(db);
    while ((rc = blazedb_step(st)) == BLAZEDB_ROW) {
        if (!sink) {
            nc = blazedb_column_count(st);
            const char **names = calloc(nc ? nc : 1, sizeof *names);
            cells = calloc(nc ? nc : 1, sizeof *cells);
            lens = calloc(nc ? nc : 1, sizeof *lens);
            types = calloc(nc ? nc : 1, sizeof *types);
            if (!names || !cells || !lens || !types) {
                free(names);
                rc = BLAZEDB_NOMEM;
                break;
            }
            for (size_t i = 0; i < nc; i++)
                names[i] = blazedb_column_name(st, i);
            sink = cli_sink_new(&o->out);
            cli_sink_begin(sink, nc, names);
            free(names);
        }
        size_t jl = 0;
        char *json = row_cells(st, o->out.format, nc, cells, lens, types, &jl);
        cli_sink_row(sink, cells, lens, types, json, jl);
        free(json);
        if (cli_out_failed())
            break;
    }
    cli_interrupt_disarm();
    if (!sink && rc == BLAZEDB_DONE && blazedb_stmt_readonly(st)) {
        /* A query without rows: an empty array in json, a row count in a
         * table with a footer; nothing in ndjson and csv. */
        if (o->out.format == CLI_FMT_JSON)
            cli_outs("[]\n");
        else if (o->out.format == CLI_FMT_TABLE && o->out.footer)
            cli_outs("(0 rows)\n");
    }
    *rows = sink ? cli_sink_end(sink) : 0;
    cli_sink_free(sink);
    free(cells);
    free(lens);
    free(types);
    return rc;
}

int cli_sql_run(BlazeDB *db, const char *sql, size_t len, const CliSqlOpts *o, int *changed)
{
    const char *p = sql, *end = sql + len;
    int failed = 0;
    while (p < end) {
        BlazeDBStmt *st = NULL;
        const char *tail = NULL;
        double t0 = now_ms();
        BlazeDBResult rc = blazedb_prepare(db, p, (size_t)(end - p), &st, &tail);
        if (rc != BLAZEDB_OK) {
            sql_error(db, rc, p, (size_t)(end - p));
            failed = 1;
            if (o->bail)
                return 1;
            p = skip_statement(p, end);
            continue;
        }
        if (!st)
            break;
        if (o->txn && (rc = blazedb_stmt_set_txn(st, o->txn)) != BLAZEDB_OK) {
            sql_error(db, rc, NULL, 0);
            blazedb_finalize(st);
            return 1;
        }
        uint64_t rows = 0;
        rc = run_stmt(db, st, o, &rows);
        if (cli_out_failed()) {
            blazedb_finalize(st);
            return -1;
        }
        int ro = blazedb_stmt_readonly(st);
        uint64_t nchanged = blazedb_stmt_changes(st);
        if (rc == BLAZEDB_DONE) {
            if (!ro && changed)
                *changed = 1;
            if (o->timer) {
                if (ro)
                    cli_outf("Run Time: %.3f ms, %llu row%s\n", now_ms() - t0,
                             (unsigned long long)rows, rows == 1 ? "" : "s");
                else
                    cli_outf("Run Time: %.3f ms, %llu document%s changed\n", now_ms() - t0,
                             (unsigned long long)nchanged, nchanged == 1 ? "" : "s");
                cli_out_flush();
            }
        } else {
            const char *stmt_end = tail && tail > p ? tail : end;
            sql_error(db, rc, p, (size_t)(stmt_end - p));
            failed = 1;
            if (o->bail) {
                blazedb_finalize(st);
                return 1;
            }
        }
        blazedb_finalize(st);
        if (!tail || tail <= p)
            break;
        p = tail;
    }
    return failed;
}

int cli_sql_explain(BlazeDB *db, const char *sql, unsigned flags)
{
    char *plan = NULL;
    cli_interrupt_arm(db);
    BlazeDBResult rc = blazedb_explain(db, sql, flags, &plan);
    cli_interrupt_disarm();
    if (rc != BLAZEDB_OK) {
        sql_error(db, rc, sql, strlen(sql));
        return 1;
    }
    cli_outs(plan);
    size_t n = strlen(plan);
    if (n == 0 || plan[n - 1] != '\n')
        cli_outs("\n");
    cli_out_flush();
    blazedb_free(plan);
    return 0;
}

/* The indexes of coll parsed into a document {"a": [...]}. */
static BlazeDBDoc *index_doc(BlazeDB *db, BlazeDBTxn *txn, const char *coll, BlazeDBResult *rc)
{
    char *json = NULL;
    *rc = blazedb_index_list(db, txn, coll, &json);
    if (*rc != BLAZEDB_OK)
        return NULL;
    CliBuf b = {0};
    cli_buf_adds(&b, "{\"a\":");
    cli_buf_adds(&b, json);
    cli_buf_adds(&b, "}");
    blazedb_free(json);
    BlazeDBDoc *doc = NULL;
    *rc = blazedb_doc_from_json(b.p, b.len, &doc);
    cli_buf_free(&b);
    return doc;
}

int cli_sql_index_count(BlazeDB *db, const char *coll)
{
    BlazeDBResult rc;
    BlazeDBDoc *d = index_doc(db, NULL, coll, &rc);
    if (!d)
        return -1;
    int n = (int)blazedb_doc_len(d, "a");
    blazedb_doc_free(d);
    return n;
}

/* "path desc, tags[]" for the fields of index i. */
static void index_fields_text(BlazeDBDoc *d, size_t i, CliBuf *out)
{
    char path[64];
    snprintf(path, sizeof path, "a.%zu.fields", i);
    size_t nf = blazedb_doc_len(d, path);
    for (size_t f = 0; f < nf; f++) {
        char p[96];
        const char *fp = "";
        int desc = 0, each = 0;
        snprintf(p, sizeof p, "%s.%zu.path", path, f);
        blazedb_doc_get_string(d, p, &fp, NULL);
        snprintf(p, sizeof p, "%s.%zu.descending", path, f);
        blazedb_doc_get_bool(d, p, &desc);
        snprintf(p, sizeof p, "%s.%zu.each", path, f);
        blazedb_doc_get_bool(d, p, &each);
        cli_buf_addf(out, "%s%s%s%s", f ? ", " : "", fp, each ? "[]" : "", desc ? " desc" : "");
    }
}

int cli_sql_indexes(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const CliSinkOpts *o)
{
    char **names = NULL;
    size_t ncoll = 0;
    const char *one[1];
    const char *const *colls;
    if (coll) {
        one[0] = coll;
        colls = one;
        ncoll = 1;
    } else {
        BlazeDBResult rc = blazedb_collection_list(db, txn, &names, &ncoll);
        if (rc != BLAZEDB_OK) {
            cli_db_error(db, rc, "listing collections");
            return 1;
        }
        colls = (const char *const *)names;
    }
    static const char *const cols[] = {"collection", "name", "fields", "unique", "where",
                                       "entries"};
    CliSink *s = cli_sink_new(o);
    cli_sink_begin(s, 6, cols);
    int failed = 0;
    for (size_t c = 0; c < ncoll && !failed; c++) {
        BlazeDBResult rc;
        BlazeDBDoc *d = index_doc(db, txn, colls[c], &rc);
        if (!d) {
            if (rc == BLAZEDB_NOT_FOUND && !coll)
                continue;
            cli_db_error(db, rc, colls[c]);
            failed = 1;
            break;
        }
        size_t n = blazedb_doc_len(d, "a");
        for (size_t i = 0; i < n; i++) {
            char p[64];
            const char *name = "", *where = NULL;
            int unique = 0;
            int64_t entries = 0;
            snprintf(p, sizeof p, "a.%zu.name", i);
            blazedb_doc_get_string(d, p, &name, NULL);
            snprintf(p, sizeof p, "a.%zu.unique", i);
            blazedb_doc_get_bool(d, p, &unique);
            snprintf(p, sizeof p, "a.%zu.where", i);
            blazedb_doc_get_string(d, p, &where, NULL);
            snprintf(p, sizeof p, "a.%zu.entries", i);
            blazedb_doc_get_int(d, p, &entries);
            CliBuf fields = {0};
            index_fields_text(d, i, &fields);
            char ent[32];
            snprintf(ent, sizeof ent, "%lld", (long long)entries);
            const char *cells[6] = {colls[c], name, fields.p ? fields.p : "",
                                    unique ? "true" : "false", where ? where : "", ent};
            size_t lens[6];
            for (int k = 0; k < 6; k++)
                lens[k] = strlen(cells[k]);
            BlazeDBType types[6] = {BLAZEDB_TYPE_STRING, BLAZEDB_TYPE_STRING,
                                    BLAZEDB_TYPE_STRING, BLAZEDB_TYPE_BOOL,
                                    where ? BLAZEDB_TYPE_STRING : BLAZEDB_TYPE_NULL,
                                    BLAZEDB_TYPE_INT};
            /* json/ndjson: the library's object with the collection added */
            char *obj = NULL;
            CliBuf row = {0};
            snprintf(p, sizeof p, "a.%zu", i);
            if (blazedb_doc_get_json(d, p, 0, &obj, NULL) == BLAZEDB_OK && obj[0] == '{') {
                cli_buf_adds(&row, "{\"collection\":");
                CliBuf q = {0};
                cli_buf_adds(&q, "");
                /* collection names have no control characters; escape
                 * quotes and backslashes */
                for (const char *k = colls[c]; *k; k++) {
                    if (*k == '"' || *k == '\\')
                        cli_buf_add(&q, "\\", 1);
                    cli_buf_add(&q, k, 1);
                }
                cli_buf_addf(&row, "\"%s\"%s%s", q.p, obj[1] == '}' ? "" : ",", obj + 1);
                cli_buf_free(&q);
            }
            blazedb_free(obj);
            cli_sink_row(s, cells, lens, types, row.p, row.len);
            cli_buf_free(&row);
            cli_buf_free(&fields);
        }
        blazedb_doc_free(d);
    }
    cli_sink_end(s);
    cli_sink_free(s);
    blazedb_free(names);
    return failed;
}

/* ---- the sql subcommand -------------------------------------------------------- */

static char *read_all(FILE *f, size_t *len)
{
    CliBuf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        cli_buf_add(&b, tmp, n);
    if (ferror(f)) {
        cli_buf_free(&b);
        return NULL;
    }
    if (!b.p)
        cli_buf_add(&b, "", 0);
    *len = b.len;
    return b.p;
}

int cli_cmd_sql(const CliArgs *a)
{
    const char *path = a->pos[0], *text = a->pos[1];
    CliSqlOpts o;
    memset(&o, 0, sizeof o);
    const char *fmt = OPT(a, "format");
    if (fmt) {
        int f = cli_format_parse(fmt);
        if (f < 0)
            return cli_usage_error("sql", "unknown format '%s' (table, json, ndjson or csv)",
                                   fmt);
        o.out.format = (CliFormat)f;
    } else {
        o.out.format = isatty(1) ? CLI_FMT_TABLE : CLI_FMT_NDJSON;
    }
    o.out.wide = OPT(a, "wide") != NULL;
    o.out.max_width = cli_term_width();
    o.timer = OPT(a, "timer") != NULL;
    o.bail = OPT(a, "keep-going") == NULL;

    char *script = NULL;
    size_t len;
    if (strcmp(text, "-") == 0) {
        script = read_all(stdin, &len);
        if (!script) {
            cli_error("cannot read standard input: %s", strerror(errno));
            return CLI_EXIT_ERROR;
        }
        text = script;
    } else {
        len = strlen(text);
    }
    CliOpenOpts oo = {OPT(a, "password-file"), 5000, OPT(a, "readonly") != NULL};
    if (OPT(a, "timeout"))
        oo.timeout_ms = (uint32_t)strtoul(OPT(a, "timeout"), NULL, 10);
    BlazeDB *db = cli_open(path, &oo, NULL);
    if (!db) {
        free(script);
        return CLI_EXIT_ERROR;
    }
    cli_interrupt_init();
    int r = cli_sql_run(db, text, len, &o, NULL);
    cli_interrupt_shutdown();
    blazedb_close(db);
    free(script);
    cli_out_flush();
    if (cli_out_failed() == 1 || r < 0)
        return cli_out_failed() == 2 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    if (cli_out_failed())
        return CLI_EXIT_ERROR;
    return r ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
