/*
 * output.c — everything the tool writes on stdout: checked writes (a
 * closed pipe stops the tool quietly, another write error is reported
 * once), and the row printers for the four formats.  Tables are sized
 * from the first rows and then streamed; no format ever holds a whole
 * result.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- checked writes ------------------------------------------------------------ */

static int g_failed;    /* 0, 1 = closed pipe, 2 = other error */

static void out_fail(int err)
{
    if (g_failed)
        return;
    if (err == EPIPE) {
        g_failed = 1;
        return;
    }
    g_failed = 2;
    fprintf(stderr, "blazedb: cannot write the output: %s\n", strerror(err ? err : EIO));
}

void cli_out(const char *s, size_t n)
{
    if (g_failed || n == 0)
        return;
    errno = 0;
    if (fwrite(s, 1, n, stdout) != n)
        out_fail(errno);
}

void cli_outs(const char *s)
{
    cli_out(s, strlen(s));
}

void cli_outf(const char *fmt, ...)
{
    if (g_failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int r = vfprintf(stdout, fmt, ap);
    va_end(ap);
    if (r < 0)
        out_fail(errno);
}

void cli_out_flush(void)
{
    if (g_failed)
        return;
    errno = 0;
    if (fflush(stdout) != 0)
        out_fail(errno);
}

int cli_out_failed(void)
{
    return g_failed;
}

int cli_out_done(int status)
{
    cli_out_flush();
    if (g_failed)
        return g_failed == 1 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    return status;
}

void cli_out_report(char *report)
{
    if (report) {
        size_t n = strlen(report);
        cli_out(report, n);
        if (n && report[n - 1] != '\n')
            cli_outs("\n");
    }
    blazedb_free(report);
}

void cli_out_json_string(const char *s, size_t n)
{
    CliBuf b = {0};
    cli_buf_add(&b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            cli_buf_add(&b, e, 2);
        } else if (c == '\n') {
            cli_buf_add(&b, "\\n", 2);
        } else if (c == '\t') {
            cli_buf_add(&b, "\\t", 2);
        } else if (c == '\r') {
            cli_buf_add(&b, "\\r", 2);
        } else if (c < 0x20) {
            cli_buf_addf(&b, "\\u%04x", c);
        } else {
            cli_buf_add(&b, (const char *)&s[i], 1);
        }
    }
    cli_buf_add(&b, "\"", 1);
    cli_out(b.p, b.len);
    cli_buf_free(&b);
}

/* ---- growable strings ------------------------------------------------------------ */

void cli_buf_add(CliBuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "blazedb: out of memory\n");
            exit(CLI_EXIT_ERROR);
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void cli_buf_adds(CliBuf *b, const char *s)
{
    cli_buf_add(b, s, strlen(s));
}

void cli_buf_addf(CliBuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        cli_buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cli_buf_add(b, big, (size_t)n);
    free(big);
}

void cli_buf_free(CliBuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- formats ------------------------------------------------------------------------ */

static const char *const g_format_names[] = {"table", "json", "ndjson", "csv"};

int cli_format_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, g_format_names[i]) == 0)
            return i;
    return -1;
}

const char *cli_format_name(CliFormat f)
{
    return (unsigned)f < 4 ? g_format_names[f] : "?";
}

int cli_term_width(void)
{
    struct winsize ws;
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 0;
}

/* ---- the row printer ------------------------------------------------------------------ */

#define TABLE_SAMPLE 200        /* rows used to size the columns */
#define TABLE_MIN_COL 6         /* a shortened column keeps this many */
#define TABLE_CAP_NOTERM 80     /* per column when the width is unknown */

typedef struct {
    char *text;                 /* display text (control chars escaped) */
    size_t width;               /* in code points */
    int right;                  /* numbers align right */
} Cell;

struct CliSink {
    CliSinkOpts o;
    size_t ncols;
    char **names;
    uint64_t nrows;
    int begun;
    /* table */
    Cell *sample;               /* up to TABLE_SAMPLE rows of ncols */
    size_t nsample;
    size_t *width;
    int sized;
};

/* Code points in s[0..n) (UTF-8 lead bytes). */
static size_t u8_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

static char *display_text(const char *s, size_t n, BlazeDBType t, size_t *width)
{
    CliBuf b = {0};
    /* dates and uuids read better without their JSON tag */
    if ((t == BLAZEDB_TYPE_DATE || t == BLAZEDB_TYPE_UUID) && n > 12 && s[0] == '{' &&
        s[n - 1] == '}' && s[n - 2] == '"') {
        const char *q = memchr(s, ':', n);
        if (q && q + 2 < s + n && q[1] == '"') {
            const char *v = q + 2, *e = s + n - 2;     /* e: the closing quote */
            if (e > v && !memchr(v, '"', (size_t)(e - v))) {
                s = v;
                n = (size_t)(e - v);
            }
        }
    }
    if (t == BLAZEDB_TYPE_MISSING) {
        cli_buf_adds(&b, "");
    } else if (t == BLAZEDB_TYPE_NULL) {
        cli_buf_adds(&b, "NULL");
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\n')
                cli_buf_add(&b, "\\n", 2);
            else if (c == '\t')
                cli_buf_add(&b, "\\t", 2);
            else if (c == '\r')
                cli_buf_add(&b, "\\r", 2);
            else if (c < 0x20 || c == 0x7f)
                cli_buf_add(&b, "?", 1);
            else
                cli_buf_add(&b, (const char *)&s[i], 1);
        }
        if (!b.p)
            cli_buf_add(&b, "", 0);
    }
    *width = u8_width(b.p, b.len);
    return b.p;
}

CliSink *cli_sink_new(const CliSinkOpts *o)
{
    CliSink *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "blazedb: out of memory\n");
        exit(CLI_EXIT_ERROR);
    }
    s->o = *o;
    return s;
}

void cli_sink_begin(CliSink *s, size_t ncols, const char *const *names)
{
    s->begun = 1;
    s->ncols = ncols;
    s->names = calloc(ncols ? ncols : 1, sizeof *s->names);
    s->width = calloc(ncols ? ncols : 1, sizeof *s->width);
    if (s->o.format == CLI_FMT_TABLE)
        s->sample = calloc((ncols ? ncols : 1) * TABLE_SAMPLE, sizeof *s->sample);
    if (!s->names || !s->width || (s->o.format == CLI_FMT_TABLE && !s->sample)) {
        fprintf(stderr, "blazedb: out of memory\n");
        exit(CLI_EXIT_ERROR);
    }
    for (size_t i = 0; i < ncols; i++)
        s->names[i] = strdup(names[i] ? names[i] : "");
    if (s->o.format == CLI_FMT_JSON)
        cli_outs("[");
    if (s->o.format == CLI_FMT_CSV) {
        for (size_t i = 0; i < ncols; i++) {
            if (i)
                cli_outs(",");
            const char *n = s->names[i];
            if (strpbrk(n, ",\"\r\n")) {
                cli_outs("\"");
                for (const char *p = n; *p; p++)
                    cli_out(*p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
                cli_outs("\"");
            } else {
                cli_outs(n);
            }
        }
        cli_outs("\n");
    }
}

/* Writes `text` in a column of `w` code points, shortened with an
 * ellipsis when longer (unless wide). */
static void put_cell(const CliSink *s, const Cell *c, size_t w, int last)
{
    size_t cw = c->width;
    if (cw > w && !s->o.wide) {
        /* keep w-1 code points, then "…" */
        size_t keep = w ? w - 1 : 0, cps = 0, i = 0;
        const char *t = c->text;
        while (t[i] && cps < keep) {
            i++;
            while (((unsigned char)t[i] & 0xC0) == 0x80)
                i++;
            cps++;
        }
        cli_out(t, i);
        if (w)
            cli_outs("\xE2\x80\xA6");
        return;
    }
    size_t pad = cw < w ? w - cw : 0;
    if (c->right)
        for (size_t k = 0; k < pad; k++)
            cli_out(" ", 1);
    cli_outs(c->text);
    if (!c->right && !last)
        for (size_t k = 0; k < pad; k++)
            cli_out(" ", 1);
}

static void table_line(CliSink *s, const Cell *row)
{
    for (size_t i = 0; i < s->ncols; i++) {
        if (i)
            cli_outs("  ");
        put_cell(s, &row[i], s->width[i], i + 1 == s->ncols);
    }
    cli_outs("\n");
}

static void table_size_and_flush(CliSink *s)
{
    size_t n = s->ncols;
    for (size_t i = 0; i < n; i++) {
        size_t w = u8_width(s->names[i], strlen(s->names[i]));
        for (size_t r = 0; r < s->nsample; r++)
            if (s->sample[r * n + i].width > w)
                w = s->sample[r * n + i].width;
        s->width[i] = w ? w : 1;
    }
    if (!s->o.wide) {
        if (s->o.max_width > 0) {
            size_t limit = (size_t)s->o.max_width - 1, total = 0;
            for (size_t i = 0; i < n; i++)
                total += s->width[i] + (i ? 2 : 0);
            while (total > limit) {
                size_t wi = 0;
                for (size_t i = 1; i < n; i++)
                    if (s->width[i] > s->width[wi])
                        wi = i;
                if (s->width[wi] <= TABLE_MIN_COL)
                    break;
                size_t second = 0;
                for (size_t i = 0; i < n; i++)
                    if (i != wi && s->width[i] > second)
                        second = s->width[i];
                size_t cut = total - limit;
                size_t room = s->width[wi] - TABLE_MIN_COL;
                if (second < s->width[wi] && s->width[wi] - second < cut)
                    cut = s->width[wi] - second > 0 ? s->width[wi] - second : 1;
                if (cut > room)
                    cut = room;
                if (cut == 0)
                    cut = 1;
                s->width[wi] -= cut;
                total -= cut;
            }
        } else {
            for (size_t i = 0; i < n; i++)
                if (s->width[i] > TABLE_CAP_NOTERM)
                    s->width[i] = TABLE_CAP_NOTERM;
        }
    }
    Cell *hdr = calloc(n ? n : 1, sizeof *hdr);
    if (!hdr)
        exit(CLI_EXIT_ERROR);
    for (size_t i = 0; i < n; i++) {
        hdr[i].text = s->names[i];
        hdr[i].width = u8_width(s->names[i], strlen(s->names[i]));
    }
    table_line(s, hdr);
    for (size_t i = 0; i < n; i++) {
        if (i)
            cli_outs("  ");
        for (size_t k = 0; k < s->width[i]; k++)
            cli_out("-", 1);
    }
    cli_outs("\n");
    free(hdr);
    for (size_t r = 0; r < s->nsample; r++) {
        table_line(s, &s->sample[r * n]);
        for (size_t i = 0; i < n; i++) {
            free(s->sample[r * n + i].text);
            s->sample[r * n + i].text = NULL;
        }
    }
    s->nsample = 0;
    s->sized = 1;
}

static void csv_cell(const char *t, size_t n, BlazeDBType type)
{
    if (type == BLAZEDB_TYPE_NULL || type == BLAZEDB_TYPE_MISSING)
        return;
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] == ',' || t[i] == '"' || t[i] == '\n' || t[i] == '\r')
            quote = 1;
    if (n && (t[0] == ' ' || t[n - 1] == ' '))
        quote = 1;
    if (!quote) {
        cli_out(t, n);
        return;
    }
    cli_outs("\"");
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] == '"') {
            cli_out(t + start, i + 1 - start);
            cli_outs("\"");
            start = i + 1;
        }
    cli_out(t + start, n - start);
    cli_outs("\"");
}

void cli_sink_row(CliSink *s, const char *const *cells, const size_t *lens,
                  const BlazeDBType *types, const char *row_json, size_t row_json_len)
{
    s->nrows++;
    switch (s->o.format) {
    case CLI_FMT_NDJSON:
        cli_out(row_json, row_json_len);
        cli_outs("\n");
        break;
    case CLI_FMT_JSON:
        cli_outs(s->nrows == 1 ? "\n" : ",\n");
        cli_out(row_json, row_json_len);
        break;
    case CLI_FMT_CSV:
        for (size_t i = 0; i < s->ncols; i++) {
            if (i)
                cli_outs(",");
            csv_cell(cells[i], lens[i], types[i]);
        }
        cli_outs("\n");
        break;
    case CLI_FMT_TABLE: {
        Cell tmp[64] = {{0}};
        Cell *row = s->sized ? (s->ncols <= 64 ? tmp : calloc(s->ncols, sizeof *row))
                             : &s->sample[s->nsample * s->ncols];
        if (!row)
            exit(CLI_EXIT_ERROR);
        for (size_t i = 0; i < s->ncols; i++) {
            row[i].text = display_text(cells[i], lens[i], types[i], &row[i].width);
            row[i].right = types[i] == BLAZEDB_TYPE_INT || types[i] == BLAZEDB_TYPE_DOUBLE;
        }
        if (!s->sized) {
            if (++s->nsample == TABLE_SAMPLE)
                table_size_and_flush(s);
        } else {
            table_line(s, row);
            for (size_t i = 0; i < s->ncols; i++)
                free(row[i].text);
            if (row != tmp)
                free(row);
        }
        break;
    }
    }
}

uint64_t cli_sink_end(CliSink *s)
{
    switch (s->o.format) {
    case CLI_FMT_JSON:
        if (s->begun)
            cli_outs(s->nrows ? "\n]\n" : "]\n");
        break;
    case CLI_FMT_TABLE:
        if (s->begun && !s->sized)
            table_size_and_flush(s);
        if (s->o.footer)
            cli_outf("(%llu row%s)\n", (unsigned long long)s->nrows, s->nrows == 1 ? "" : "s");
        break;
    default:
        break;
    }
    cli_out_flush();
    return s->nrows;
}

void cli_sink_free(CliSink *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncols; i++)
        free(s->names ? s->names[i] : NULL);
    if (s->sample)
        for (size_t r = 0; r < s->nsample; r++)
            for (size_t i = 0; i < s->ncols; i++)
                free(s->sample[r * s->ncols + i].text);
    free(s->names);
    free(s->width);
    free(s->sample);
    free(s);
}

/* ---- documents as rows ------------------------------------------------------------------ */

struct CliDocPrinter {
    CliSink *sink;
    CliFormat format;
    char **names;
    size_t nc;
    const char **cells;
    size_t *lens;
    BlazeDBType *types;
    char **owned;
};

/* The columns of a document set: the top-level field names of the sample,
 * id first. */
static size_t doc_columns(BlazeDBDoc *const *docs, size_t n, char ***out)
{
    size_t cap = 16, count = 0;
    char **names = malloc(cap * sizeof *names);
    if (!names)
        exit(CLI_EXIT_ERROR);
    names[count++] = strdup("id");
    for (size_t d = 0; d < n && d < TABLE_SAMPLE; d++) {
        size_t nf = blazedb_doc_len(docs[d], "");
        for (size_t f = 0; f < nf; f++) {
            const char *name = blazedb_doc_field_name(docs[d], "", f);
            int seen = 0;
            for (size_t k = 0; k < count && !seen; k++)
                seen = strcmp(names[k], name) == 0;
            if (seen)
                continue;
            if (count == cap) {
                cap *= 2;
                char **p = realloc(names, cap * sizeof *names);
                if (!p)
                    exit(CLI_EXIT_ERROR);
                names = p;
            }
            names[count++] = strdup(name);
        }
    }
    *out = names;
    return count;
}

CliDocPrinter *cli_docs_begin(const CliSinkOpts *o, BlazeDBDoc *const *sample, size_t n)
{
    CliDocPrinter *p = calloc(1, sizeof *p);
    if (!p)
        exit(CLI_EXIT_ERROR);
    p->format = o->format;
    p->sink = cli_sink_new(o);
    p->nc = doc_columns(sample, n, &p->names);
    cli_sink_begin(p->sink, p->nc, (const char *const *)p->names);
    p->cells = calloc(p->nc, sizeof *p->cells);
    p->lens = calloc(p->nc, sizeof *p->lens);
    p->types = calloc(p->nc, sizeof *p->types);
    p->owned = calloc(p->nc, sizeof *p->owned);
    if (!p->cells || !p->lens || !p->types || !p->owned)
        exit(CLI_EXIT_ERROR);
    return p;
}

void cli_docs_add(CliDocPrinter *p, const BlazeDBDoc *doc)
{
    if (cli_out_failed())
        return;
    char *json = NULL;
    size_t jl = 0;
    if (p->format == CLI_FMT_JSON || p->format == CLI_FMT_NDJSON)
        blazedb_doc_to_json(doc, 0, &json, &jl);
    for (size_t i = 0; i < p->nc; i++) {
        /* A field name with '.' cannot be named by a path (rare): it shows
         * as missing in table and csv; json and ndjson have it. */
        BlazeDBType t = strchr(p->names[i], '.') ? BLAZEDB_TYPE_MISSING
                                                : blazedb_doc_type(doc, p->names[i]);
        p->types[i] = t;
        p->owned[i] = NULL;
        p->cells[i] = "";
        p->lens[i] = 0;
        if (t == BLAZEDB_TYPE_STRING) {
            blazedb_doc_get_string(doc, p->names[i], &p->cells[i], &p->lens[i]);
        } else if (t != BLAZEDB_TYPE_MISSING && t != BLAZEDB_TYPE_NULL) {
            if (blazedb_doc_get_json(doc, p->names[i], 0, &p->owned[i], &p->lens[i]) ==
                BLAZEDB_OK)
                p->cells[i] = p->owned[i];
        }
    }
    cli_sink_row(p->sink, p->cells, p->lens, p->types, json, jl);
    for (size_t i = 0; i < p->nc; i++)
        blazedb_free(p->owned[i]);
    blazedb_free(json);
}

uint64_t cli_docs_end(CliDocPrinter *p)
{
    uint64_t n = cli_sink_end(p->sink);
    cli_sink_free(p->sink);
    for (size_t i = 0; i < p->nc; i++)
        free(p->names[i]);
    free(p->names);
    free(p->cells);
    free(p->lens);
    free(p->types);
    free(p->owned);
    free(p);
    return n;
}

void cli_print_docs(const CliSinkOpts *o, BlazeDBDoc *const *docs, size_t n)
{
    CliDocPrinter *p = cli_docs_begin(o, docs, n);
    for (size_t i = 0; i < n; i++)
        cli_docs_add(p, docs[i]);
    cli_docs_end(p);
}
