/*
 * ops.c — the operations subcommands of the tool and the shell commands
 * that share them: import, export (with --where through SQL), backup,
 * restore, verify, check, repair, vacuum, stats --json, doctor; and the
 * progress bar on stderr (only when stderr is a terminal) whose callback
 * also turns Ctrl-C into a cancel for the calls that have no handle.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- progress ------------------------------------------------------------------------ */

typedef struct {
    const char *label;      /* "backup", ... */
    const char *unit;       /* "pages", "bytes", "documents" */
    int on;                 /* stderr is a terminal */
    int drawn;
    int cancelled;          /* Ctrl-C seen */
    double start, last;
} Progress;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_init(Progress *p, const char *label, const char *unit)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->unit = unit;
    p->on = isatty(2);
    p->start = mono_s();
}

static void human(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.1fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.1fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
}

/* The BlazeDBProgressFn of every operation. */
static int progress_fn(uint64_t done, uint64_t total, void *arg)
{
    Progress *p = arg;
    if (cli_interrupted()) {
        p->cancelled = 1;
        return 1;
    }
    if (!p->on)
        return 0;
    double now = mono_s();
    if (p->drawn && now - p->last < 0.1 && done != total)
        return 0;
    p->last = now;
    double el = now - p->start;
    double rate = el > 0 ? (double)done / el : 0;
    char d[32], t[32], r[32], eta[32] = "";
    human(d, sizeof d, (double)done);
    human(t, sizeof t, (double)total);
    human(r, sizeof r, rate);
    if (total > 0 && rate > 0 && done <= total)
        snprintf(eta, sizeof eta, ", %.0fs left", (double)(total - done) / rate);
    int pct = total ? (int)(done * 100 / (total ? total : 1)) : 0;
    if (pct > 100)
        pct = 100;
    char bar[21];
    for (int i = 0; i < 20; i++)
        bar[i] = i < pct / 5 ? '#' : '.';
    bar[20] = 0;
    if (total)
        fprintf(stderr, "\r%s [%s] %s/%s %s (%d%%), %s/s%s\033[K", p->label, bar, d, t, p->unit,
                pct, r, eta);
    else
        fprintf(stderr, "\r%s %s %s, %s/s\033[K", p->label, d, p->unit, r);
    fflush(stderr);
    p->drawn = 1;
    return 0;
}

static void progress_end(Progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = 0;
}

/* Whether rc is a cancel (by Ctrl-C); prints the message when it is.
 * note: what was left (NULL: "nothing was written"). */
static int cancelled_note(BlazeDBResult rc, Progress *p, const char *what, const char *note)
{
    if (rc != BLAZEDB_CANCELLED && !p->cancelled)
        return 0;
    if (rc == BLAZEDB_OK)
        return 0;
    cli_error("%s interrupted (Ctrl-C); %s", what, note ? note : "nothing was written");
    return 1;
}

static int cancelled(BlazeDBResult rc, Progress *p, const char *what)
{
    return cancelled_note(rc, p, what, NULL);
}

/* ---- formats --------------------------------------------------------------------------- */

static const char *const g_fmt_names[] = {"ndjson", "json", "csv", "sql"};

/* Parses a --format value; allow_sql for export.  -1 after a usage message. */
int cli_parse_format(const char *cmd, const char *v, int allow_sql)
{
    size_t n = allow_sql ? 4 : 3;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, g_fmt_names[i]) == 0)
            return (int)i + 1; /* BLAZEDB_FORMAT_* */
    if (strcmp(v, "jsonl") == 0)
        return BLAZEDB_FORMAT_NDJSON;
    const char *s = cli_suggest(v, g_fmt_names, n);
    if (s)
        cli_usage_error(cmd, "unknown format '%s' (did you mean '%s'?)", v, s);
    else
        cli_usage_error(cmd, "unknown format '%s' (%s)", v,
                        allow_sql ? "ndjson, json, csv or sql" : "ndjson, json or csv");
    return -1;
}

/* The format a file name suggests, else NDJSON. */
static int format_of_path(const char *path, int allow_sql)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot)
        return BLAZEDB_FORMAT_NDJSON;
    if (strcmp(dot, ".json") == 0)
        return BLAZEDB_FORMAT_JSON;
    if (strcmp(dot, ".csv") == 0)
        return BLAZEDB_FORMAT_CSV;
    if (allow_sql && strcmp(dot, ".sql") == 0)
        return BLAZEDB_FORMAT_SQL;
    return BLAZEDB_FORMAT_NDJSON;
}

/* ---- import ---------------------------------------------------------------------------- */

int cli_op_import(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *file, int format,
                  unsigned flags)
{
    if (strcmp(file, "-") != 0) {
        struct stat st;
        if (stat(file, &st) != 0) {
            cli_error("import: cannot read %s: %s", file, strerror(errno));
            return CLI_EXIT_ERROR;
        }
    }
    Progress p;
    progress_init(&p, "import", "bytes");
    BlazeDBImportOptions io;
    blazedb_import_options_init(&io);
    io.format = (BlazeDBFormat)format;
    io.collection = coll;
    io.flags = flags;
    io.progress = progress_fn;
    io.progress_arg = &p;
    BlazeDBImportReport rep;
    memset(&rep, 0, sizeof rep);
    rep.struct_size = sizeof rep;
    cli_interrupt_arm(db);
    BlazeDBResult rc = blazedb_import_file(db, txn, &io, file, &rep);
    cli_interrupt_disarm();
    progress_end(&p);
    if (cancelled_note(rc, &p, "import",
                       (flags & BLAZEDB_IMPORT_SKIP_BAD) && !txn
                           ? "the batches committed before it stay imported"
                           : "nothing was imported"))
        return CLI_EXIT_ERROR;
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, "import");
        if (rep.bad)
            cli_error("nothing was imported (--skip-bad imports the good records)");
        return CLI_EXIT_ERROR;
    }
    cli_outf("Imported %" PRIu64 " document%s into %s", rep.imported,
             rep.imported == 1 ? "" : "s", coll);
    if (rep.skipped)
        cli_outf("; skipped %" PRIu64 " bad record%s", rep.skipped, rep.skipped == 1 ? "" : "s");
    cli_outs(".\n");
    cli_out_flush();
    for (size_t i = 0; i < rep.listed; i++)
        fprintf(stderr, "skipped: %s\n", rep.issues[i].message);
    if (rep.bad > rep.listed)
        fprintf(stderr, "skipped: ... and %" PRIu64 " more\n", rep.bad - rep.listed);
    return cli_out_done(CLI_EXIT_OK);
}

/* ---- export ---------------------------------------------------------------------------- */

/* Where export output goes: stdout through cli_out, or a temporary file
 * next to the target renamed over it when complete. */
typedef struct {
    int fd;                 /* -1: stdout */
    char tmp[4200];
    const char *path;
    int err;                /* errno of a failed write */
} Sink;

static int sink_open(Sink *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->path = path;
    if (!path || strcmp(path, "-") == 0)
        return 0;
    snprintf(s->tmp, sizeof s->tmp, "%s.tmp-XXXXXX", path);
    s->fd = mkstemp(s->tmp);
    if (s->fd < 0) {
        cli_error("export: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fchmod(s->fd, 0600);
    return 0;
}

static int sink_write(const void *buf, size_t len, void *arg)
{
    Sink *s = arg;
    if (s->fd < 0) {
        cli_out(buf, len);
        return cli_out_failed() ? 1 : 0;
    }
    const char *p = buf;
    while (len) {
        ssize_t w = write(s->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->err = errno ? errno : EIO;
            return s->err == ENOSPC ? BLAZEDB_FULL : BLAZEDB_IO_ERROR;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Completes (ok) or abandons the file.  0, or -1 after a message. */
static int sink_close(Sink *s, int ok)
{
    if (s->fd < 0) {
        cli_out_flush();
        return 0;
    }
    if (ok && fsync(s->fd) != 0) {
        s->err = errno;
        ok = 0;
    }
    close(s->fd);
    if (ok && rename(s->tmp, s->path) != 0) {
        s->err = errno;
        ok = 0;
    }
    if (!ok) {
        unlink(s->tmp);
        if (s->err)
            cli_error("export: cannot write %s: %s", s->path, strerror(s->err));
        return -1;
    }
    return 0;
}

/* --where: SELECT * FROM coll WHERE expr, each row's document as JSON. */
static BlazeDBResult export_where(BlazeDB *db, BlazeDBTxn *txn, const char *coll, int format,
                                  const char *where, Sink *s, uint64_t *count, Progress *p)
{
    CliBuf sql = {0};
    cli_buf_adds(&sql, "SELECT * FROM \"");
    for (const char *c = coll; *c; c++) {
        cli_buf_add(&sql, c, 1);
        if (*c == '"')
            cli_buf_add(&sql, "\"", 1); /* "" inside a quoted name */
    }
    cli_buf_adds(&sql, "\" WHERE ");
    cli_buf_adds(&sql, where);
    BlazeDBStmt *st = NULL;
    const char *tail = NULL;
    BlazeDBResult rc = blazedb_prepare(db, sql.p, sql.len, &st, &tail);
    if (rc == BLAZEDB_OK && tail) {
        while (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == ';')
            tail++;
        if (*tail) {
            blazedb_finalize(st);
            cli_buf_free(&sql);
            cli_error("export: --where takes one expression, not several statements");
            return BLAZEDB_SQL_ERROR;
        }
    }
    cli_buf_free(&sql);
    if (rc != BLAZEDB_OK) {
        cli_error("export: --where: %s", blazedb_errmsg(db));
        return rc;
    }
    if (txn)
        blazedb_stmt_set_txn(st, txn);
    uint64_t n = 0;
    int wr = 0;
    if (format == BLAZEDB_FORMAT_JSON)
        wr = sink_write("[", 1, s);
    while (!wr && (rc = blazedb_step(st)) == BLAZEDB_ROW) {
        BlazeDBDoc *doc = NULL;
        char *json = NULL;
        size_t len = 0;
        rc = blazedb_row_doc(st, &doc);
        if (rc == BLAZEDB_OK)
            rc = blazedb_doc_to_json(doc, 0, &json, &len);
        blazedb_doc_free(doc);
        if (rc != BLAZEDB_OK)
            break;
        if (format == BLAZEDB_FORMAT_JSON && n > 0)
            wr = sink_write(",\n", 2, s);
        else if (format == BLAZEDB_FORMAT_JSON)
            wr = sink_write("\n", 1, s);
        if (!wr)
            wr = sink_write(json, len, s);
        if (!wr && format == BLAZEDB_FORMAT_NDJSON)
            wr = sink_write("\n", 1, s);
        blazedb_free(json);
        n++;
        if ((n & 4095) == 0 && progress_fn(n, 0, p)) {
            rc = BLAZEDB_CANCELLED;
            break;
        }
    }
    if (rc == BLAZEDB_DONE)
        rc = BLAZEDB_OK;
    if (!wr && rc == BLAZEDB_OK && format == BLAZEDB_FORMAT_JSON)
        wr = sink_write(n ? "\n]\n" : "]\n", n ? 3 : 2, s);
    if (rc != BLAZEDB_OK && rc != BLAZEDB_CANCELLED)
        cli_error("export: %s", blazedb_errmsg(db));
    blazedb_finalize(st);
    if (wr && rc == BLAZEDB_OK)
        rc = wr > 1 ? (BlazeDBResult)wr : BLAZEDB_IO_ERROR;
    *count = n;
    return rc;
}

int cli_op_export(BlazeDB *db, BlazeDBTxn *txn, const char *coll, int format, const char *where,
                  const char *out)
{
    Progress p;
    progress_init(&p, "export", "documents");
    uint64_t n = 0;
    BlazeDBResult rc;
    int to_stdout = !out || strcmp(out, "-") == 0;
    cli_interrupt_arm(db);
    if (where || to_stdout) {
        Sink s;
        if (sink_open(&s, out) != 0) {
            cli_interrupt_disarm();
            return CLI_EXIT_ERROR;
        }
        if (where) {
            rc = export_where(db, txn, coll, format, where, &s, &n, &p);
        } else {
            BlazeDBExportOptions eo;
            blazedb_export_options_init(&eo);
            eo.format = (BlazeDBFormat)format;
            eo.collection = coll;
            eo.progress = progress_fn;
            eo.progress_arg = &p;
            rc = blazedb_export(db, txn, &eo, sink_write, &s, &n);
            if (rc != BLAZEDB_OK && rc != BLAZEDB_CANCELLED && !cli_out_failed())
                cli_db_error(db, rc, "export");
        }
        cli_interrupt_disarm();
        progress_end(&p);
        int bad = sink_close(&s, rc == BLAZEDB_OK);
        if (to_stdout && cli_out_failed())
            return cli_out_failed() == 1 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        if (cancelled(rc, &p, "export"))
            return CLI_EXIT_ERROR;
        if (rc != BLAZEDB_OK || bad)
            return CLI_EXIT_ERROR;
    } else {
        BlazeDBExportOptions eo;
        blazedb_export_options_init(&eo);
        eo.format = (BlazeDBFormat)format;
        eo.collection = coll;
        eo.progress = progress_fn;
        eo.progress_arg = &p;
        rc = blazedb_export_file(db, txn, &eo, out, &n);
        cli_interrupt_disarm();
        progress_end(&p);
        if (cancelled(rc, &p, "export"))
            return CLI_EXIT_ERROR;
        if (rc != BLAZEDB_OK) {
            cli_db_error(db, rc, "export");
            return CLI_EXIT_ERROR;
        }
    }
    if (!to_stdout) {
        cli_outf("Exported %" PRIu64 " document%s to %s.\n", n, n == 1 ? "" : "s", out);
        cli_out_flush();
    }
    return cli_out_done(CLI_EXIT_OK);
}

/* ---- backup ---------------------------------------------------------------------------- */

static long long fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int cli_op_backup(BlazeDB *db, const char *dest, const char *incremental_from)
{
    Progress p;
    progress_init(&p, "backup", "pages");
    BlazeDBBackupOptions bo;
    blazedb_backup_options_init(&bo);
    bo.incremental_from = incremental_from;
    bo.progress = progress_fn;
    bo.progress_arg = &p;
    cli_interrupt_arm(db);
    BlazeDBResult rc = blazedb_backup(db, dest, &bo);
    cli_interrupt_disarm();
    progress_end(&p);
    if (cancelled(rc, &p, "backup"))
        return CLI_EXIT_ERROR;
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, "backup");
        return CLI_EXIT_ERROR;
    }
    cli_outf("Backed up to %s (%s, %lld bytes).\n", dest,
             incremental_from ? "incremental" : "full", fsize(dest));
    return cli_out_done(CLI_EXIT_OK);
}

/* ---- check ----------------------------------------------------------------------------- */

int cli_op_check(BlazeDB *db, int quick, int json)
{
    Progress p;
    progress_init(&p, "check", "pages");
    char *report = NULL;
    uint64_t problems = 0;
    cli_interrupt_arm(db);
    BlazeDBResult rc = blazedb_check(db, (quick ? BLAZEDB_CHECK_QUICK : 0) |
                                             (json ? BLAZEDB_CHECK_JSON : 0),
                                     progress_fn, &p, &report, &problems);
    cli_interrupt_disarm();
    progress_end(&p);
    if (cancelled(rc, &p, "check")) {
        blazedb_free(report);
        return CLI_EXIT_ERROR;
    }
    if (rc != BLAZEDB_OK && rc != BLAZEDB_CORRUPT) {
        blazedb_free(report);
        cli_db_error(db, rc, "check");
        return CLI_EXIT_ERROR;
    }
    cli_out_report(report);
    return cli_out_done(rc == BLAZEDB_CORRUPT ? CLI_EXIT_PROBLEMS : CLI_EXIT_OK);
}

/* ---- doctor ---------------------------------------------------------------------------- */

int cli_op_doctor(BlazeDB *db, int json, int deep)
{
    char *report = NULL;
    BlazeDBHealthStatus status = BLAZEDB_HEALTH_OK;
    BlazeDBResult rc = blazedb_health(db, NULL, (json ? BLAZEDB_HEALTH_JSON : 0) |
                                                    (deep ? BLAZEDB_HEALTH_DEEP : 0),
                                      &report, &status);
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, "doctor");
        return CLI_EXIT_ERROR;
    }
    cli_out_report(report);
    return cli_out_done(status == BLAZEDB_HEALTH_ERROR ? CLI_EXIT_ERROR : CLI_EXIT_OK);
}

/* ---- subcommands ----------------------------------------------------------------------- */

static BlazeDB *open_db(const CliArgs *a, const char *path, int readonly)
{
    CliOpenOpts oo = cli_open_opts(a);
    oo.readonly = readonly;
    return cli_open(path, &oo, NULL);
}

static int finish(BlazeDB *db, int r)
{
    blazedb_close(db);
    cli_interrupt_shutdown();
    return r;
}

int cli_cmd_import(const CliArgs *a)
{
    const char *f = OPT(a, "format");
    int format = f ? cli_parse_format("import", f, 0) : format_of_path(a->pos[2], 0);
    if (format < 0)
        return CLI_EXIT_USAGE;
    unsigned flags = (OPT(a, "skip-bad") ? BLAZEDB_IMPORT_SKIP_BAD : 0) |
                     (OPT(a, "upsert") ? BLAZEDB_IMPORT_UPSERT : 0);
    cli_interrupt_init();
    BlazeDB *db = open_db(a, a->pos[0], 0);
    if (!db)
        return CLI_EXIT_ERROR;
    return finish(db, cli_op_import(db, NULL, a->pos[1], a->pos[2], format, flags));
}

int cli_cmd_export(const CliArgs *a)
{
    const char *f = OPT(a, "format");
    const char *out = OPT(a, "output");
    const char *coll = a->npos > 1 ? a->pos[1] : NULL;
    const char *where = OPT(a, "where");
    int format = f ? cli_parse_format("export", f, 1) : format_of_path(out, 1);
    if (format < 0)
        return CLI_EXIT_USAGE;
    if (format == BLAZEDB_FORMAT_CSV && !coll)
        return cli_usage_error("export", "--format csv needs a COLLECTION (one table per file)");
    if (where && !coll)
        return cli_usage_error("export", "--where needs a COLLECTION");
    if (where && format != BLAZEDB_FORMAT_NDJSON && format != BLAZEDB_FORMAT_JSON)
        return cli_usage_error("export", "--where works with --format ndjson or json");
    cli_interrupt_init();
    BlazeDB *db = open_db(a, a->pos[0], 1);
    if (!db)
        return CLI_EXIT_ERROR;
    return finish(db, cli_op_export(db, NULL, coll, format, where, out));
}

int cli_cmd_backup(const CliArgs *a)
{
    cli_interrupt_init();
    BlazeDB *db = open_db(a, a->pos[0], 1);
    if (!db)
        return CLI_EXIT_ERROR;
    return finish(db, cli_op_backup(db, a->pos[1], OPT(a, "incremental-from")));
}

/* The password of a backup or of a database that is not opened: from
 * --password-file or BLAZEDB_PASSWORD when given (*pw set), else NULL in
 * *pw and 0 (the caller tries without one first, then asks). */
static int given_password(const CliArgs *a, char **pw, const char *what)
{
    *pw = NULL;
    const char *env = getenv("BLAZEDB_PASSWORD");
    if (OPT(a, "password-file") || (env && *env)) {
        *pw = cli_password(OPT(a, "password-file"), "BLAZEDB_PASSWORD", what, 0);
        return *pw ? 0 : -1;
    }
    return 0;
}

/* After AUTH_FAILED without a password: asks for one on the terminal. */
static char *ask_password(const char *what)
{
    if (!cli_can_prompt())
        return NULL;
    return cli_password(NULL, "BLAZEDB_PASSWORD", what, 0);
}

static int backup_error(BlazeDBResult rc, const char *what)
{
    const char *msg = blazedb_errmsg(NULL);
    if (!msg || !*msg)
        msg = blazedb_strerror(rc);
    switch (rc) {
    case BLAZEDB_CORRUPT:
    case BLAZEDB_INVALID_ARGUMENT:
    case BLAZEDB_NOT_A_DATABASE:
        cli_error("%s: problem: %s", what, msg);
        return CLI_EXIT_PROBLEMS;
    case BLAZEDB_AUTH_FAILED:
        cli_error("%s: %s (wrong password?)", what, msg);
        return CLI_EXIT_ERROR;
    default:
        cli_error("%s: %s", what, msg);
        return CLI_EXIT_ERROR;
    }
}

int cli_cmd_verify(const CliArgs *a)
{
    char *pw;
    if (given_password(a, &pw, "Password of the backup") != 0)
        return CLI_EXIT_ERROR;
    cli_interrupt_init();
    Progress p;
    progress_init(&p, "verify", "pages");
    BlazeDBBackupInfo info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    unsigned flags = OPT(a, "full") ? BLAZEDB_VERIFY_FULL : 0;
    BlazeDBResult rc = blazedb_backup_verify(a->pos, (size_t)a->npos, pw, flags, progress_fn, &p,
                                             &info);
    if (rc == BLAZEDB_AUTH_FAILED && !pw && (pw = ask_password("Password of the backup")))
        rc = blazedb_backup_verify(a->pos, (size_t)a->npos, pw, flags, progress_fn, &p, &info);
    cli_password_free(pw);
    progress_end(&p);
    cli_interrupt_shutdown();
    if (cancelled(rc, &p, "verify"))
        return CLI_EXIT_ERROR;
    if (rc != BLAZEDB_OK)
        return backup_error(rc, "verify");
    cli_outf("OK: %u file%s, %s, restores commit %" PRIu64 ": %" PRIu64 " pages of %u bytes "
             "(%" PRIu64 " stored in %" PRIu64 " chunks, %" PRIu64 " bytes)%s.\n",
             info.files, info.files == 1 ? "" : "s",
             info.encrypted ? "encrypted" : "not encrypted", info.snapshot_txn, info.page_count,
             info.page_size, info.pages, info.chunks, info.bytes,
             flags ? "; restored copy checked" : "");
    return cli_out_done(CLI_EXIT_OK);
}

int cli_cmd_restore(const CliArgs *a)
{
    if (a->npos < 2)
        return cli_usage_error("restore", "missing arguments: BACKUP... DB");
    const char *target = a->pos[a->npos - 1];
    size_t n = (size_t)a->npos - 1;
    char *pw;
    if (given_password(a, &pw, "Password of the backup") != 0)
        return CLI_EXIT_ERROR;
    cli_interrupt_init();
    Progress p;
    progress_init(&p, "restore", "pages");
    BlazeDBRestoreOptions ro;
    blazedb_restore_options_init(&ro);
    ro.flags = OPT(a, "replace") ? BLAZEDB_RESTORE_REPLACE : 0;
    ro.progress = progress_fn;
    ro.progress_arg = &p;
    BlazeDBResult rc = blazedb_restore(a->pos, n, pw, target, &ro);
    if (rc == BLAZEDB_AUTH_FAILED && !pw && (pw = ask_password("Password of the backup")))
        rc = blazedb_restore(a->pos, n, pw, target, &ro);
    cli_password_free(pw);
    progress_end(&p);
    cli_interrupt_shutdown();
    if (cancelled(rc, &p, "restore"))
        return CLI_EXIT_ERROR;
    if (rc == BLAZEDB_EXISTS) {
        cli_error("restore: %s exists; nothing was changed (--replace replaces it)", target);
        return CLI_EXIT_ERROR;
    }
    if (rc != BLAZEDB_OK) {
        backup_error(rc, "restore");
        return CLI_EXIT_ERROR;
    }
    cli_outf("Restored %s from %zu backup file%s.\n", target, n, n == 1 ? "" : "s");
    return cli_out_done(CLI_EXIT_OK);
}

int cli_cmd_check(const CliArgs *a)
{
    cli_interrupt_init();
    BlazeDB *db = open_db(a, a->pos[0], 1);
    if (!db)
        return CLI_EXIT_ERROR;
    return finish(db, cli_op_check(db, OPT(a, "quick") != NULL, OPT(a, "json") != NULL));
}

int cli_cmd_repair(const CliArgs *a)
{
    const char *src = a->pos[0], *out = a->pos[1];
    struct stat st;
    if (stat(src, &st) != 0) {
        cli_error("%s: %s", src, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    char what[4200];
    snprintf(what, sizeof what, "Password for %s", src);
    char *pw;
    if (given_password(a, &pw, what) != 0)
        return CLI_EXIT_ERROR;
    cli_interrupt_init();
    Progress p;
    progress_init(&p, "repair", "pages");
    BlazeDBRepairOptions ro;
    blazedb_repair_options_init(&ro);
    ro.flags = OPT(a, "json") ? BLAZEDB_REPAIR_JSON : 0;
    ro.progress = progress_fn;
    ro.progress_arg = &p;
    BlazeDBRepairStats rs;
    memset(&rs, 0, sizeof rs);
    rs.struct_size = sizeof rs;
    char *report = NULL;
    BlazeDBResult rc = blazedb_repair(src, pw ? pw : "", out, &ro, &rs, &report);
    if (rc == BLAZEDB_AUTH_FAILED && !pw && (pw = ask_password(what)))
        rc = blazedb_repair(src, pw, out, &ro, &rs, &report);
    cli_password_free(pw);
    progress_end(&p);
    cli_interrupt_shutdown();
    if (cancelled(rc, &p, "repair")) {
        blazedb_free(report);
        return CLI_EXIT_ERROR;
    }
    if (rc != BLAZEDB_OK) {
        blazedb_free(report);
        if (rc == BLAZEDB_AUTH_FAILED)
            cli_error("wrong password for %s", src);
        else
            cli_error("repair: %s", blazedb_errmsg(NULL));
        return CLI_EXIT_ERROR;
    }
    cli_out_report(report);
    return cli_out_done(CLI_EXIT_OK);
}

/* A page-rewriting driver (vacuum, reencrypt) with its progress hook;
 * *out is what it reports (bytes reclaimed, pages rewritten). */
typedef BlazeDBResult (*PageOp)(BlazeDB *db, BlazeDBProgressFn fn, void *arg, uint64_t *out);

static BlazeDBResult op_vacuum(BlazeDB *db, BlazeDBProgressFn fn, void *arg, uint64_t *out)
{
    BlazeDBVacuumOptions vo;
    blazedb_vacuum_options_init(&vo);
    vo.progress = fn;
    vo.progress_arg = arg;
    return blazedb_vacuum(db, &vo, out);
}

static BlazeDBResult op_reencrypt(BlazeDB *db, BlazeDBProgressFn fn, void *arg, uint64_t *out)
{
    BlazeDBReencryptOptions ro;
    blazedb_reencrypt_options_init(&ro);
    ro.progress = fn;
    ro.progress_arg = arg;
    return blazedb_reencrypt(db, &ro, out);
}

/* Runs op on db with a progress bar and Ctrl-C.  OK, or the error (the
 * message printed; cancel_note says what a cancel left). */
static BlazeDBResult run_page_op(BlazeDB *db, const char *name, const char *cancel_note,
                                 PageOp op, uint64_t *out)
{
    Progress p;
    progress_init(&p, name, "pages");
    cli_interrupt_arm(db);
    BlazeDBResult rc = op(db, progress_fn, &p, out);
    cli_interrupt_disarm();
    progress_end(&p);
    if (!cancelled_note(rc, &p, name, cancel_note) && rc != BLAZEDB_OK)
        cli_db_error(db, rc, name);
    return rc;
}

int cli_cmd_vacuum(const CliArgs *a)
{
    const char *path = a->pos[0];
    cli_interrupt_init();
    BlazeDB *db = open_db(a, path, 0);
    if (!db)
        return CLI_EXIT_ERROR;
    long long before = fsize(path);
    uint64_t bytes = 0;
    BlazeDBResult rc = run_page_op(db, "vacuum",
                                   "the pages moved before it stay moved; nothing is lost",
                                   op_vacuum, &bytes);
    if (rc != BLAZEDB_OK) {
        if (rc == BLAZEDB_BUSY && bytes)
            cli_error("%" PRIu64 " bytes were reclaimed before that", bytes);
        return finish(db, CLI_EXIT_ERROR);
    }
    finish(db, CLI_EXIT_OK);
    cli_outf("Vacuumed %s: %" PRIu64 " bytes reclaimed (file: %lld bytes, now %lld bytes).\n",
             path, bytes, before, fsize(path));
    return cli_out_done(CLI_EXIT_OK);
}

int cli_cmd_reencrypt(const CliArgs *a)
{
    const char *path = a->pos[0];
    cli_interrupt_init();
    BlazeDB *db = open_db(a, path, 0);
    if (!db)
        return CLI_EXIT_ERROR;
    uint64_t pages = 0;
    BlazeDBResult rc = run_page_op(
        db, "reencrypt", "both keys stay until 'blazedb reencrypt' runs again; nothing is lost",
        op_reencrypt, &pages);
    if (rc != BLAZEDB_OK)
        return finish(db, CLI_EXIT_ERROR);
    uint32_t epoch = 0;
    blazedb_key_state(db, &epoch, NULL);
    BlazeDBStats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    blazedb_stats(db, &st);
    finish(db, CLI_EXIT_OK);
    cli_outf("Re-encrypted %s under a new data key (key epoch %u): %" PRIu64 " bytes of "
             "pages rewritten; the old key opens nothing any more.\n", path, epoch,
             pages * st.page_size);
    return cli_out_done(CLI_EXIT_OK);
}

int cli_cmd_doctor(const CliArgs *a)
{
    BlazeDB *db = open_db(a, a->pos[0], 1);
    if (!db)
        return CLI_EXIT_ERROR;
    return finish(db, cli_op_doctor(db, OPT(a, "json") != NULL, OPT(a, "deep") != NULL));
}

int cli_stats_json(BlazeDB *db)
{
    char *json = NULL;
    BlazeDBResult rc = blazedb_metrics_json(db, 0, &json);
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, "stats");
        return CLI_EXIT_ERROR;
    }
    cli_outs(json);
    cli_outs("\n");
    blazedb_free(json);
    return cli_out_done(CLI_EXIT_OK);
}
