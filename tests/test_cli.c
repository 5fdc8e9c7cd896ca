/*
 * test_cli.c — end-to-end tests of the `blazedb` tool through the real
 * binary (fork/exec): every subcommand's output and exit status, usage
 * errors with their suggestions, passwords (wrong, from a file, none),
 * missing files, an unwritable stdout, a closed pipe, the shell in script
 * mode, SQL in all output formats, the demo, and the interactive shell
 * driven through a pseudo-terminal (prompt, multi-line statement,
 * history file, Ctrl-C cancelling a long statement); the operations
 * (import, export, backup, restore, verify, check, repair, vacuum,
 * doctor, stats --json, and the shell's .import/.export/.backup/.check/
 * doctor) with their outputs, errors and exit statuses, and their
 * progress bar: drawn on a terminal, absent otherwise.
 *
 * The binary is $BLAZEDB_CLI, else ../blazedb next to this test's
 * directory (build/tests/test_cli -> build/blazedb; the Makefile builds it
 * before this test).  Children run in a new session (setsid), so they have
 * no terminal to ask a password on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blazedb.h"

static char g_bin[4200];
static char *g_dir;         /* per-test scratch directory */

/* ---- helpers -------------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    remove(p);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/blazedb-cli-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    g_dir = strdup(d);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_dir);
    return 0;
}

/* A path in the scratch directory (static buffers, four in rotation). */
static const char *P(const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

enum { OUT_PIPE = 0, OUT_CLOSED, OUT_FULL };

typedef struct {
    int status;     /* exit status, or 128+signal */
    char *out, *err;
    size_t outlen;
} Run;

static void run_free(Run *r)
{
    free(r->out);
    free(r->err);
}

static void buf_append(char **b, size_t *len, const char *p, size_t n)
{
    *b = realloc(*b, *len + n + 1);
    assert_non_null(*b);
    memcpy(*b + *len, p, n);
    *len += n;
    (*b)[*len] = 0;
}

/*
 * Runs the tool with args (NULL-terminated), `input` on stdin (NULL: empty),
 * environment additions env ("NAME=value", NULL-terminated; BLAZEDB_* are
 * removed first) and stdout as asked.
 */
static Run run_tool(const char *const *args, const char *input, const char *const *env, int outmode)
{
    int in[2], out[2], err[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        dup2(in[0], 0);
        if (outmode == OUT_FULL) {
            int fd = open("/dev/full", O_WRONLY);
            dup2(fd, 1);
        } else {
            dup2(out[1], 1);
        }
        dup2(err[1], 2);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]); close(err[0]); close(err[1]);
        unsetenv("BLAZEDB_PASSWORD");
        unsetenv("BLAZEDB_NEW_PASSWORD");
        unsetenv("BLAZEDB_HISTORY");
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        const char *argv[64];
        size_t n = 0;
        argv[n++] = g_bin;
        for (size_t i = 0; args[i] && n < 63; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (outmode == OUT_CLOSED) {
        close(out[0]);
        out[0] = -1;
    }
    Run r = {0, NULL, NULL, 0};
    size_t errlen = 0;
    buf_append(&r.out, &r.outlen, "", 0);
    buf_append(&r.err, &errlen, "", 0);
    const char *ip = input ? input : "";
    size_t ileft = strlen(ip);
    int infd = in[1];
    signal(SIGPIPE, SIG_IGN);
    if (ileft == 0) {
        close(infd);
        infd = -1;
    }
    while (out[0] >= 0 || err[0] >= 0 || infd >= 0) {
        struct pollfd p[3];
        int np = 0, io = -1, ie = -1, ii = -1;
        if (out[0] >= 0) { p[np].fd = out[0]; p[np].events = POLLIN; io = np++; }
        if (err[0] >= 0) { p[np].fd = err[0]; p[np].events = POLLIN; ie = np++; }
        if (infd >= 0) { p[np].fd = infd; p[np].events = POLLOUT; ii = np++; }
        int k = poll(p, (nfds_t)np, 120000);
        assert_true(k > 0);   /* a two-minute hang guard, not a timing check */
        char tmp[65536];
        if (io >= 0 && p[io].revents) {
            ssize_t m = read(out[0], tmp, sizeof tmp);
            if (m <= 0) { close(out[0]); out[0] = -1; }
            else buf_append(&r.out, &r.outlen, tmp, (size_t)m);
        }
        if (ie >= 0 && p[ie].revents) {
            ssize_t m = read(err[0], tmp, sizeof tmp);
            if (m <= 0) { close(err[0]); err[0] = -1; }
            else buf_append(&r.err, &errlen, tmp, (size_t)m);
        }
        if (ii >= 0 && p[ii].revents) {
            ssize_t m = write(infd, ip, ileft);
            if (m <= 0) ileft = 0;
            else { ip += m; ileft -= (size_t)m; }
            if (ileft == 0) { close(infd); infd = -1; }
        }
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define PW ENV("BLAZEDB_PASSWORD=pw")

static void expect_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected to find \"%s\" in:\n%s", needle, hay);
}

/* Reads a libedit history file, decoding its "\\040" escapes for spaces. */
static void read_history_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    int c;
    while (n + 1 < cap && (c = fgetc(f)) != EOF)
        out[n++] = (char)c;
    out[n] = 0;
    fclose(f);
    char *w = out;
    for (const char *r = out; *r;) {
        if (strncmp(r, "\\040", 4) == 0) {
            *w++ = ' ';
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

static void expect_status(const Run *r, int status)
{
    if (r->status != status)
        fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status, status,
                 r->out, r->err);
}

/* `SELECT COUNT(*) AS n FROM things` on database `name` prints {"n":n}. */
static void expect_things(const char *name, int n)
{
    Run r = run_tool(ARGS("sql", P(name), "SELECT COUNT(*) AS n FROM things"), NULL, PW,
                     OUT_PIPE);
    expect_status(&r, 0);
    char want[40];
    snprintf(want, sizeof want, "{\"n\":%d}\n", n);
    assert_string_equal(r.out, want);
    run_free(&r);
}

/* Creates DB with password "pw" and cheap key derivation. */
static void make_db(const char *name)
{
    Run r = run_tool(ARGS("create", P(name), "--kdf", "pbkdf2", "--kdf-iterations", "1"), NULL,
                     PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
}

/* A database of `n` documents {id, n, name} in collection `coll`, built
 * through the library. */
static void fill_db(const char *name, const char *coll, int n)
{
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.kdf = BLAZEDB_KDF_PBKDF2_SHA256;
    o.kdf_iterations = 1;
    o.durability = BLAZEDB_DURABILITY_OFF;
    BlazeDB *db = NULL;
    assert_int_equal(blazedb_open_ex(P(name), "pw", &o, &db), BLAZEDB_OK);
    BlazeDBTxn *txn;
    assert_int_equal(blazedb_txn_begin(db, 0, &txn), BLAZEDB_OK);
    for (int i = 0; i < n; i++) {
        BlazeDBDoc *d;
        char id[32], nm[64];
        snprintf(id, sizeof id, "d%06d", i);
        snprintf(nm, sizeof nm, "name number %d with some padding to make rows longer", i);
        assert_int_equal(blazedb_doc_new(&d), BLAZEDB_OK);
        blazedb_doc_set_string(d, "id", id);
        blazedb_doc_set_int(d, "n", i);
        blazedb_doc_set_string(d, "name", nm);
        assert_int_equal(blazedb_insert(db, txn, coll, d), BLAZEDB_OK);
        blazedb_doc_free(d);
    }
    assert_int_equal(blazedb_txn_commit(txn), BLAZEDB_OK);
    blazedb_close(db);
}

static const char *PEOPLE_SCRIPT =
    "use people\n"
    "insert {\"id\":\"ada\",\"name\":\"Ada\",\"born\":1815,\"address\":{\"city\":\"London\"}}\n"
    "insert {\"id\":\"grace\",\"name\":\"Grace\",\"born\":1906}\n"
    "insert {\"id\":\"linus\",\"name\":\"Linus\",\"born\":1969}\n";

/* ---- usage, help, suggestions ------------------------------------------------------- */

static void test_help_and_usage(void **state)
{
    (void)state;
    Run r = run_tool(ARGS("--help"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Usage: blazedb COMMAND");
    expect_contains(r.out, "sql");
    run_free(&r);

    const char *cmds[] = {"create", "shell", "sql", "info", "stats", "rekey", "demo"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        r = run_tool(ARGS(cmds[i], "--help"), NULL, NULL, OUT_PIPE);
        expect_status(&r, 0);
        char want[64];
        snprintf(want, sizeof want, "Usage: blazedb %s", cmds[i]);
        expect_contains(r.out, want);
        expect_contains(r.out, "--help");
        run_free(&r);
    }
    r = run_tool(ARGS("sql", "--help"), NULL, NULL, OUT_PIPE);
    expect_contains(r.out, "--format");
    run_free(&r);

    r = run_tool(ARGS("version"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, blazedb_version());
    run_free(&r);

    /* no command (not on a terminal) */
    r = run_tool(ARGS(NULL), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "missing command");
    run_free(&r);

    /* unknown command: the closest is suggested */
    r = run_tool(ARGS("creat", "x"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown command 'creat' (did you mean 'create'?)");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = run_tool(ARGS("stast", "x"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "did you mean 'stats'?");
    run_free(&r);
    r = run_tool(ARGS("zzzzzzzz"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown command 'zzzzzzzz'");
    assert_null(strstr(r.err, "did you mean"));
    run_free(&r);

    /* unknown option: suggested too */
    r = run_tool(ARGS("sql", "--fromat", "json", "x.blazedb", "SELECT 1;"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown option '--fromat' (did you mean '--format'?)");
    expect_contains(r.err, "Try 'blazedb sql --help'.");
    run_free(&r);

    /* missing and extra arguments, bad values */
    r = run_tool(ARGS("info"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "missing argument");
    run_free(&r);
    r = run_tool(ARGS("info", "a", "b"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unexpected argument 'b'");
    run_free(&r);
    r = run_tool(ARGS("create", P("k.blazedb"), "--kdf", "md5"), NULL, PW, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown key derivation 'md5'");
    run_free(&r);
    r = run_tool(ARGS("sql", P("k.blazedb"), "SELECT 1;", "--format", "xml"), NULL, PW, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown format 'xml'");
    run_free(&r);
    struct stat st;
    assert_int_not_equal(stat(P("k.blazedb"), &st), 0);   /* nothing created */

    /* every operations subcommand has its help */
    static const char *const ops[] = {"import", "export", "backup", "restore", "verify",
                                      "check",  "repair", "vacuum", "doctor",
                                      "reencrypt"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        r = run_tool(ARGS(ops[i], "--help"), NULL, NULL, OUT_PIPE);
        expect_status(&r, 0);
        char want[64];
        snprintf(want, sizeof want, "Usage: blazedb %s ", ops[i]);
        expect_contains(r.out, want);
        run_free(&r);
    }
    r = run_tool(ARGS("bakup", "a", "b"), NULL, NULL, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "did you mean 'backup'?");
    run_free(&r);
}

/* ---- create, passwords, info, stats, rekey ------------------------------------------------ */

static void test_create_and_passwords(void **state)
{
    (void)state;
    Run r = run_tool(ARGS("create", P("a.blazedb"), "--kdf", "pbkdf2", "--kdf-iterations", "1"),
                     NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "encrypted with AES-256-GCM");
    expect_contains(r.out, "PBKDF2");
    run_free(&r);

    /* exists: refused, file untouched */
    r = run_tool(ARGS("create", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "already exists");
    run_free(&r);

    /* no password and no terminal */
    r = run_tool(ARGS("create", P("b.blazedb")), NULL, NULL, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "BLAZEDB_PASSWORD");
    run_free(&r);
    struct stat st;
    assert_int_not_equal(stat(P("b.blazedb"), &st), 0);

    /* wrong password: one line, status 1 */
    r = run_tool(ARGS("info", P("a.blazedb")), NULL, ENV("BLAZEDB_PASSWORD=nope"), OUT_PIPE);
    expect_status(&r, 1);
    char want[4200];
    snprintf(want, sizeof want, "blazedb: wrong password for %s\n", P("a.blazedb"));
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    run_free(&r);

    /* password file (first line, newline stripped) */
    FILE *f = fopen(P("pwfile"), "w");
    fputs("pw\n", f);
    fclose(f);
    r = run_tool(ARGS("info", P("a.blazedb"), "--password-file", P("pwfile")), NULL, NULL,
                 OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "AES-256-GCM");
    run_free(&r);
    r = run_tool(ARGS("info", P("a.blazedb"), "--password-file", P("nofile")), NULL, NULL,
                 OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "cannot read password file");
    run_free(&r);

    /* encrypted database, no password, no terminal */
    r = run_tool(ARGS("info", P("a.blazedb")), NULL, NULL, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "BLAZEDB_PASSWORD");
    run_free(&r);

    /* plaintext: no password needed */
    r = run_tool(ARGS("create", "--plaintext", P("p.blazedb")), NULL, NULL, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "plaintext");
    run_free(&r);
    r = run_tool(ARGS("info", P("p.blazedb")), NULL, NULL, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "none (plaintext)");
    run_free(&r);
    r = run_tool(ARGS("rekey", P("p.blazedb")), NULL, ENV("BLAZEDB_NEW_PASSWORD=x"), OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "plaintext");
    run_free(&r);
}

static void test_missing_and_bad_files(void **state)
{
    (void)state;
    Run r = run_tool(ARGS("info", P("none.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "no such database");
    run_free(&r);
    r = run_tool(ARGS("sql", P("none.blazedb"), "SELECT 1;"), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "no such database");
    run_free(&r);
    struct stat st;
    assert_int_not_equal(stat(P("none.blazedb"), &st), 0);   /* never created */

    FILE *f = fopen(P("junk.blazedb"), "w");
    for (int i = 0; i < 3000; i++)
        fputs("not a database ", f);
    fclose(f);
    r = run_tool(ARGS("stats", P("junk.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "junk.blazedb");
    run_free(&r);

    r = run_tool(ARGS("info", g_dir), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "is a directory");
    run_free(&r);

    /* create in a directory that does not exist */
    r = run_tool(ARGS("create", P("no/such/dir.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "cannot create");
    run_free(&r);
}

static void test_info_stats_rekey(void **state)
{
    (void)state;
    make_db("i.blazedb");
    Run r = run_tool(ARGS("shell", P("i.blazedb")), PEOPLE_SCRIPT, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);

    r = run_tool(ARGS("info", P("i.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "encryption       AES-256-GCM");
    expect_contains(r.out, "collections      1");
    expect_contains(r.out, "people         3 documents");
    run_free(&r);
    r = run_tool(ARGS("info", "--json", P("i.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "\"encryption\":\"aes-256-gcm\"");
    expect_contains(r.out, "{\"name\":\"people\",\"documents\":3");
    run_free(&r);

    r = run_tool(ARGS("stats", P("i.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "page_size        8192");
    expect_contains(r.out, "people         3 documents");
    run_free(&r);
    r = run_tool(ARGS("stats", P("i.blazedb"), "--json"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    /* blazedb_metrics_json: counters, log, sizes, latency, collections */
    expect_contains(r.out, "\"counters\":{");
    expect_contains(r.out, "\"page_size\":8192,");
    expect_contains(r.out, "\"collections\":[{\"name\":\"people\",\"documents\":3,");
    /* the JSON is one object the library's parser accepts */
    BlazeDBDoc *d = NULL;
    assert_int_equal(blazedb_doc_from_json(r.out, strlen(r.out), &d), BLAZEDB_OK);
    int64_t ps = 0;
    assert_int_equal(blazedb_doc_get_int(d, "database.page_size", &ps), BLAZEDB_OK);
    assert_int_equal(ps, 8192);
    blazedb_doc_free(d);
    run_free(&r);

    /* rekey: new password from the environment; the old one stops working */
    r = run_tool(ARGS("rekey", P("i.blazedb")), NULL,
                 ENV("BLAZEDB_PASSWORD=pw", "BLAZEDB_NEW_PASSWORD=new"), OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Changed the password");
    run_free(&r);
    r = run_tool(ARGS("info", P("i.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "wrong password");
    run_free(&r);
    r = run_tool(ARGS("info", P("i.blazedb")), NULL, ENV("BLAZEDB_PASSWORD=new"), OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "people         3 documents");
    run_free(&r);
    /* rekey without a new password and no terminal: nothing changes */
    r = run_tool(ARGS("rekey", P("i.blazedb")), NULL, ENV("BLAZEDB_PASSWORD=new"), OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "BLAZEDB_NEW_PASSWORD");
    run_free(&r);
    r = run_tool(ARGS("info", P("i.blazedb")), NULL, ENV("BLAZEDB_PASSWORD=new"), OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
}

/* ---- the shell in script mode (no SQL) --------------------------------------------------- */

static void test_shell_script_commands(void **state)
{
    (void)state;
    make_db("s.blazedb");
    char script[4096];
    snprintf(script, sizeof script,
             "%s"
             "fetch ada\n"
             "update ada {\"born\":1816}\n"
             "fetch ada\n"
             "query born > 1900 sort born desc\n"
             "query born >= 1800 sort name limit 1 offset 1\n"
             "query address.city = London\n"
             "softDelete grace\n"
             "delete linus\n"
             "begin\n"
             "insert {\"id\":\"temp\"}\n"
             "rollback\n"
             "fetchAll\n"
             ".collections\n",
             PEOPLE_SCRIPT);
    Run r = run_tool(ARGS("shell", P("s.blazedb")), script, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.err, "");
    /* ndjson (stdout is not a terminal): one document per line */
    expect_contains(r.out, "\"born\":1815");
    expect_contains(r.out, "\"born\":1816");
    const char *q1 = strstr(r.out, "{\"born\":1969");
    const char *q2 = strstr(r.out, "{\"born\":1906");
    assert_non_null(q1);
    assert_non_null(q2);
    assert_true(q1 < q2);      /* sorted by born descending */
    /* fetchAll after softDelete, delete and a rolled-back insert: ada only */
    const char *all = strstr(r.out, "{\"collection\":\"people\"");
    assert_non_null(all);
    expect_contains(all, "{\"collection\":\"people\",\"documents\":1}");
    assert_null(strstr(r.out, "\"id\":\"temp\""));
    run_free(&r);

    /* table mode and schema */
    r = run_tool(ARGS("shell", P("s.blazedb"), "--mode", "table"),
                 "use people\n.schema people\nfetchAll\n.mode csv\nfetchAll\n", PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "people: 1 document");
    expect_contains(r.out, "address.city");
    expect_contains(r.out, "field ");
    expect_contains(r.out, "id   address            born");
    expect_contains(r.out, "\nid,address,born,createdAt,name,updatedAt\n");
    expect_contains(r.out, "ada,\"{\"\"city\"\":\"\"London\"\"}\",1816,");
    run_free(&r);
}

static void test_shell_script_errors(void **state)
{
    (void)state;
    make_db("e.blazedb");
    /* stops at the first error: the insert after it does not run */
    Run r = run_tool(ARGS("shell", P("e.blazedb")),
                     "use t\ninsert {\"id\":\"a\"}\ninsert {bad json}\ninsert {\"id\":\"b\"}\n", PW,
                     OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "insert: bad JSON");
    run_free(&r);
    r = run_tool(ARGS("shell", P("e.blazedb")), "use t\nfetch b\n", PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "no document 'b' in t");
    run_free(&r);

    /* --keep-going: goes on, status 1 at the end */
    r = run_tool(ARGS("shell", "-k", P("e.blazedb")),
                 "use t\ninsert {bad}\ninsert {\"id\":\"b\"}\n.nosuch\n.colections\nfetch b\n", PW,
                 OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "unknown command '.colections' (did you mean '.collections'?)");
    expect_contains(r.out, "\"id\":\"b\"");
    run_free(&r);

    /* duplicate id, unknown operator, no collection chosen */
    r = run_tool(ARGS("shell", "-k", P("e.blazedb")),
                 "use t\ninsert {\"id\":\"a\"}\nquery n ~ 3\n", PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "insert:");
    expect_contains(r.err, "unknown operator '~'");
    run_free(&r);
    r = run_tool(ARGS("shell", P("e.blazedb")), "use u\ninsert {\"id\":\"x\"}\nfetchAll\n", PW,
                 OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    r = run_tool(ARGS("shell", P("e.blazedb")), "fetchAll\n", PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "which collection?");
    run_free(&r);

    /* an open transaction at the end of the script is rolled back */
    r = run_tool(ARGS("shell", P("e.blazedb")), "use t\nbegin\ninsert {\"id\":\"zz\"}\n", PW,
                 OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "rolled back");
    run_free(&r);
    r = run_tool(ARGS("shell", P("e.blazedb")), "use t\nfetch zz\n", PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);

    /* .read runs a file; a missing one is an error */
    FILE *f = fopen(P("script.txt"), "w");
    fputs("use t\nfetch a\n", f);
    fclose(f);
    char line[4200];
    snprintf(line, sizeof line, ".read %s\n.read %s\n", P("script.txt"), P("nofile.txt"));
    r = run_tool(ARGS("shell", P("e.blazedb")), line, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.out, "\"id\":\"a\"");
    expect_contains(r.err, "nofile.txt");
    run_free(&r);
}

/* ---- output failures --------------------------------------------------------------------- */

static void test_closed_pipe_and_unwritable_output(void **state)
{
    (void)state;
    fill_db("big.blazedb", "big", 20000);
    /* stdout's reader is gone: the tool stops quietly with status 0 */
    Run r = run_tool(ARGS("shell", P("big.blazedb")), "use big\nfetchAll\n", PW, OUT_CLOSED);
    expect_status(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    /* a full disk on stdout: one message, status 1 */
    r = run_tool(ARGS("shell", P("big.blazedb")), "use big\nfetchAll\n", PW, OUT_FULL);
    expect_status(&r, 1);
    expect_contains(r.err, "cannot write the output");
    run_free(&r);
    r = run_tool(ARGS("stats", P("big.blazedb")), NULL, PW, OUT_FULL);
    expect_status(&r, 1);
    expect_contains(r.err, "cannot write the output");
    run_free(&r);
    /* everything arrives when the reader stays */
    r = run_tool(ARGS("shell", P("big.blazedb")), "use big\nfetchAll\n", PW, OUT_PIPE);
    expect_status(&r, 0);
    size_t lines = 0;
    for (const char *p = r.out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 20000);
    run_free(&r);
}

/* ---- SQL ------------------------------------------------------------------------------------ */

static void sql_people(const char *db)
{
    make_db(db);
    Run r = run_tool(ARGS("sql", P(db),
                          "INSERT INTO people (id, name, born) VALUES ('ada', 'Ada', 1815);"
                          "INSERT INTO people (id, name, born) VALUES ('grace', 'Grace', 1906);"
                          "INSERT INTO people (id, name, born) VALUES ('linus', 'Linus', 1969);"),
                     NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "");   /* statements without rows print nothing */
    run_free(&r);
}

static void test_sql_formats(void **state)
{
    (void)state;
    sql_people("q.blazedb");
    /* ndjson is the default off a terminal: one object per row, keyed by column */
    Run r = run_tool(ARGS("sql", P("q.blazedb"),
                          "SELECT name, born FROM people WHERE born > 1900 ORDER BY born;"),
                     NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "{\"born\":1906,\"name\":\"Grace\"}\n"
                               "{\"born\":1969,\"name\":\"Linus\"}\n");
    run_free(&r);
    /* SELECT *: the stored documents */
    r = run_tool(ARGS("sql", P("q.blazedb"), "SELECT * FROM people WHERE id = 'ada';"), NULL, PW,
                 OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "\"id\":\"ada\"");
    expect_contains(r.out, "\"createdAt\":{\"$date\":");
    run_free(&r);
    /* json */
    r = run_tool(ARGS("sql", "--format", "json", P("q.blazedb"),
                      "SELECT name FROM people ORDER BY name LIMIT 2;"
                      "SELECT name FROM people WHERE born > 3000;"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "[\n{\"name\":\"Ada\"},\n{\"name\":\"Grace\"}\n]\n[]\n");
    run_free(&r);
    /* csv */
    r = run_tool(ARGS("sql", "-f", "csv", P("q.blazedb"),
                      "SELECT name, born FROM people ORDER BY born LIMIT 2;"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "name,born\nAda,1815\nGrace,1906\n");
    run_free(&r);
    /* table */
    r = run_tool(ARGS("sql", "--format=table", P("q.blazedb"),
                      "SELECT name, born FROM people ORDER BY born;"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "name   born\n-----  ----\nAda    1815\nGrace  1906\nLinus  1969\n");
    run_free(&r);
    /* statements from stdin */
    r = run_tool(ARGS("sql", P("q.blazedb"), "-"),
                 "UPDATE people SET born = 1816 WHERE id = 'ada';\n"
                 "SELECT born FROM people\n  WHERE id = 'ada';\n",
                 PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "{\"born\":1816}\n");
    run_free(&r);
    /* --timer */
    r = run_tool(ARGS("sql", "-t", P("q.blazedb"), "SELECT id FROM people;"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "3 rows");
    run_free(&r);
}

static void test_sql_errors(void **state)
{
    (void)state;
    sql_people("x.blazedb");
    /* a syntax error: message with the position, a caret under it */
    Run r = run_tool(ARGS("sql", P("x.blazedb"), "SELECT name FORM people;"), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "blazedb: SQL error: ");
    expect_contains(r.err, "offset");
    expect_contains(r.err, "\n  SELECT name FORM people;\n");
    expect_contains(r.err, "^\n");
    assert_string_equal(r.out, "");
    run_free(&r);
    /* stops at the first failing statement; --keep-going goes on */
    r = run_tool(ARGS("sql", P("x.blazedb"),
                      "SELECT nope(;SELECT name FROM people WHERE id = 'ada';"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    assert_string_equal(r.out, "");
    run_free(&r);
    r = run_tool(ARGS("sql", "-k", P("x.blazedb"),
                      "SELECT nope(;SELECT name FROM people WHERE id = 'ada';"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    assert_string_equal(r.out, "{\"name\":\"Ada\"}\n");
    run_free(&r);
    /* the shell continues after a malformed statement when told to */
    r = run_tool(ARGS("shell", "-k", P("x.blazedb")),
                 "SELECT FROM WHERE;\nSELECT count(*) AS n\n  FROM people;\n", PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "SQL error");
    assert_string_equal(r.out, "{\"n\":3}\n");
    run_free(&r);
    /* a closed pipe on a big result */
    fill_db("bigq.blazedb", "big", 20000);
    r = run_tool(ARGS("sql", P("bigq.blazedb"), "SELECT * FROM big;"), NULL, PW, OUT_CLOSED);
    expect_status(&r, 0);
    assert_string_equal(r.err, "");
    run_free(&r);
    r = run_tool(ARGS("sql", P("bigq.blazedb"), "SELECT * FROM big;"), NULL, PW, OUT_FULL);
    expect_status(&r, 1);
    expect_contains(r.err, "cannot write the output");
    run_free(&r);
}

static void test_shell_sql_and_dot_commands(void **state)
{
    (void)state;
    sql_people("d.blazedb");
    Run r = run_tool(ARGS("shell", P("d.blazedb"), "--mode", "table"),
                     "CREATE INDEX people_born ON people (born);\n"
                     ".indexes\n"
                     ".explain SELECT name FROM people WHERE born = 1815\n"
                     "use people\n"
                     "explain query born = 1815\n"
                     ".timer on\n"
                     "SELECT name FROM people WHERE born = 1815;\n"
                     ".mode ndjson\n"
                     "begin\n"
                     "INSERT INTO people (id, name) VALUES ('tmp', 'Tmp');\n"
                     "SELECT count(*) AS n FROM people;\n"
                     "rollback\n"
                     ".timer off\n"
                     "SELECT count(*) AS n FROM people;\n",
                     PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.err, "");
    expect_contains(r.out, "people_born");
    expect_contains(r.out, "Run Time: ");
    expect_contains(r.out, "{\"n\":4}\n");   /* inside the transaction */
    expect_contains(r.out, "{\"n\":3}\n");   /* after the rollback */
    run_free(&r);
}

static void test_demo(void **state)
{
    (void)state;
    Run r = run_tool(ARGS("demo", P("demo")), NULL, NULL, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "inserted 1000 customers, 200 products and 3000 orders");
    expect_contains(r.out, "created index orders_customer");
    expect_contains(r.out, "EXPLAIN SELECT");
    expect_contains(r.out, "Continue in the shell");
    assert_string_equal(r.err, "");
    run_free(&r);
    /* the database it made opens with the password it printed */
    r = run_tool(ARGS("sql", P("demo/shop.blazedb"), "SELECT count(*) AS n FROM orders;"), NULL,
                 ENV("BLAZEDB_PASSWORD=demo"), OUT_PIPE);
    expect_status(&r, 0);
    assert_string_equal(r.out, "{\"n\":3000}\n");
    run_free(&r);
    /* again in the same place: refused, nothing touched */
    r = run_tool(ARGS("demo", P("demo")), NULL, NULL, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "already exists");
    run_free(&r);
}

/* ---- the interactive shell through a pseudo-terminal ---------------------------------------- */

typedef struct {
    int fd;
    pid_t pid;
    char *buf;
    size_t len;
} Pty;

/* Reads until `want` appears after `from` (offset into the transcript);
 * returns the offset just after it.  Fails after two minutes (a hang). */
static size_t pty_expect(Pty *p, size_t from, const char *want)
{
    time_t start = time(NULL);
    for (;;) {
        if (p->buf && p->len > from) {
            char *hit = strstr(p->buf + from, want);
            if (hit)
                return (size_t)(hit - p->buf) + strlen(want);
        }
        if (time(NULL) - start > 120)
            fail_msg("pty: no \"%s\" in:\n%s", want, p->buf ? p->buf + from : "");
        struct pollfd pf = {p->fd, POLLIN, 0};
        if (poll(&pf, 1, 1000) > 0) {
            char tmp[4096];
            ssize_t n = read(p->fd, tmp, sizeof tmp);
            if (n <= 0)
                fail_msg("pty closed while waiting for \"%s\":\n%s", want,
                         p->buf ? p->buf + from : "");
            buf_append(&p->buf, &p->len, tmp, (size_t)n);
        }
    }
}

static void pty_send(Pty *p, const char *s)
{
    /* Type like a person: a moment after the prompt.  libedit switches the
     * terminal mode when a prompt starts; input arriving in that instant
     * is occasionally mangled (seen in about 1 run in 6 without this). */
    usleep(100 * 1000);
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(p->fd, s, n);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Waits for the shell to exit (killing it after two minutes: a hang);
 * returns its exit status. */
static int pty_wait(Pty *p)
{
    time_t start = time(NULL);
    for (;;) {
        int st;
        pid_t w = waitpid(p->pid, &st, WNOHANG);
        if (w == p->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        /* keep draining the terminal so the child never blocks on output */
        struct pollfd pf = {p->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) > 0) {
            char tmp[4096];
            ssize_t n = read(p->fd, tmp, sizeof tmp);
            if (n > 0)
                buf_append(&p->buf, &p->len, tmp, (size_t)n);
        }
        if (time(NULL) - start > 120) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            fail_msg("pty: the shell did not exit; transcript:\n%s", p->buf ? p->buf : "");
        }
    }
}

static void test_pty_shell(void **state)
{
    (void)state;
    fill_db("tty.blazedb", "big", 2000);
    char home[4200], envhome[4300];
    snprintf(home, sizeof home, "%s/home", g_dir);
    mkdir(home, 0700);
    snprintf(envhome, sizeof envhome, "HOME=%s", home);
    Pty p = {0};
    struct winsize ws = {40, 100, 0, 0};
    p.pid = forkpty(&p.fd, NULL, NULL, &ws);
    assert_true(p.pid >= 0);
    if (p.pid == 0) {
        unsetenv("BLAZEDB_HISTORY");
        putenv("BLAZEDB_PASSWORD=pw");
        putenv(envhome);
        putenv("TERM=dumb");
        execl(g_bin, g_bin, P("tty.blazedb"), (char *)NULL);
        _exit(127);
    }
    size_t at = pty_expect(&p, 0, "blazedb> ");
    /* a statement over two lines: the continuation prompt, then the row */
    pty_send(&p, "SELECT count(*) AS n\r");
    at = pty_expect(&p, at, "...> ");
    pty_send(&p, "FROM big;\r");
    at = pty_expect(&p, at, "2000");
    at = pty_expect(&p, at, "(1 row)");
    at = pty_expect(&p, at, "blazedb> ");
    /* Ctrl-C at the prompt drops the unfinished statement */
    pty_send(&p, "SELECT nothing\r");
    at = pty_expect(&p, at, "...> ");
    pty_send(&p, "\x03");
    at = pty_expect(&p, at, "blazedb> ");
    /* Ctrl-C cancels a long statement; the shell lives on */
    pty_send(&p, "SELECT count(*) FROM big a JOIN big b ON 1 = 1 JOIN big c "
                 "ON a.n + b.n + c.n < 0;\r");
    at = pty_expect(&p, at, "< 0;");
    usleep(300 * 1000);
    pty_send(&p, "\x03");
    at = pty_expect(&p, at, "interrupted");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "use big\r");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "fetch d000007\r");
    at = pty_expect(&p, at, "name number 7 ");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, ".quit\r");
    assert_int_equal(pty_wait(&p), 0);
    close(p.fd);
    free(p.buf);
    /* the history file has the multi-line statement and the commands */
    char hist[4300];
    snprintf(hist, sizeof hist, "%s/.blazedb_history", home);
    char content[8192];
    read_history_file(hist, content, sizeof content);
    expect_contains(content, "fetch");
    expect_contains(content, "FROM");
}

static void test_pty_no_sql(void **state)
{
    (void)state;
    /* the parts of the interactive shell that need no SQL: prompt, a
     * command, history, Ctrl-C at the prompt, a password prompt without
     * echo, Ctrl-D */
    make_db("t2.blazedb");
    char home[4200], envhome[4300];
    snprintf(home, sizeof home, "%s/home2", g_dir);
    mkdir(home, 0700);
    snprintf(envhome, sizeof envhome, "HOME=%s", home);
    Pty p = {0};
    p.pid = forkpty(&p.fd, NULL, NULL, NULL);
    assert_true(p.pid >= 0);
    if (p.pid == 0) {
        unsetenv("BLAZEDB_PASSWORD");
        unsetenv("BLAZEDB_HISTORY");
        putenv(envhome);
        putenv("TERM=dumb");
        execl(g_bin, g_bin, "shell", P("t2.blazedb"), (char *)NULL);
        _exit(127);
    }
    size_t at = pty_expect(&p, 0, "t2.blazedb: ");
    pty_send(&p, "pw\r");
    at = pty_expect(&p, at, "blazedb> ");
    assert_null(strstr(p.buf, "pw\r"));   /* not echoed */
    pty_send(&p, "use t\r");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "insert {\"id\":\"q1\",\"v\":42}\r");
    at = pty_expect(&p, at, "inserted q1");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "fetch q1\r");
    at = pty_expect(&p, at, "\"v\": 42");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "fetch half-typed");
    pty_send(&p, "\x03");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "status\r");
    at = pty_expect(&p, at, "collection  t");
    at = pty_expect(&p, at, "blazedb> ");
    pty_send(&p, "\x04");   /* Ctrl-D leaves */
    assert_int_equal(pty_wait(&p), 0);
    close(p.fd);
    free(p.buf);
    char hist[4300];
    snprintf(hist, sizeof hist, "%s/.blazedb_history", home);
    char content[8192];
    read_history_file(hist, content, sizeof content);
    expect_contains(content, "fetch q1");
    expect_contains(content, "status");
    assert_null(strstr(content, "half-typed"));
}

/* ---- operations: export, import, backup, restore, verify, check, repair, vacuum ---------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *b = NULL;
    size_t n = 0;
    char tmp[65536];
    size_t m;
    while ((m = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, &n, tmp, m);
    fclose(f);
    if (!b)
        buf_append(&b, &n, "", 0);
    if (len)
        *len = n;
    return b;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* No progress bar (carriage returns, escapes) when stderr is not a terminal. */
static void expect_no_progress(const Run *r)
{
    if (strchr(r->err, '\r') || strchr(r->err, '\033'))
        fail_msg("progress output on a non-terminal stderr:\n%s", r->err);
}

static void test_export_import(void **state)
{
    (void)state;
    fill_db("a.blazedb", "things", 500);
    Run r = run_tool(ARGS("export", P("a.blazedb"), "things", "-o", P("t.ndjson")), NULL, PW,
                     OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Exported 500 documents to");
    expect_no_progress(&r);
    run_free(&r);
    size_t len;
    char *first = slurp(P("t.ndjson"), &len);
    assert_int_equal(count_lines(first), 500);
    expect_contains(first, "\"id\":\"d000499\"");
    expect_contains(first, "\"createdAt\":{\"$date\":");

    /* into another database, then out again: identical documents */
    make_db("b.blazedb");
    r = run_tool(ARGS("import", P("b.blazedb"), "things", P("t.ndjson")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Imported 500 documents into things.");
    expect_no_progress(&r);
    run_free(&r);
    r = run_tool(ARGS("export", P("b.blazedb"), "things"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_int_equal(r.outlen, len);
    assert_memory_equal(r.out, first, len);
    run_free(&r);

    /* JSON array round trip through standard input */
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "--format", "json"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_true(r.out[0] == '[');
    char *json = strdup(r.out);
    run_free(&r);
    r = run_tool(ARGS("import", P("b.blazedb"), "copy", "-", "--format", "json"), json, PW,
                 OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Imported 500 documents into copy.");
    run_free(&r);
    free(json);
    r = run_tool(ARGS("export", P("b.blazedb"), "copy"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_int_equal(r.outlen, len);
    assert_memory_equal(r.out, first, len);
    run_free(&r);

    /* a second import of the same ids fails and imports nothing; --upsert replaces */
    r = run_tool(ARGS("import", P("b.blazedb"), "things", P("t.ndjson")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "t.ndjson:1:");
    expect_contains(r.err, "already exists");
    run_free(&r);
    r = run_tool(ARGS("import", P("b.blazedb"), "things", P("t.ndjson"), "--upsert"), NULL, PW,
                 OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Imported 500 documents");
    run_free(&r);

    /* bad records: nothing, or the good ones with --skip-bad */
    FILE *f = fopen(P("bad.ndjson"), "w");
    fputs("{\"id\":\"x1\",\"v\":1}\n{\"id\":\"x2\",\"v\":\n{\"id\":\"x3\",\"v\":3}\n", f);
    fclose(f);
    r = run_tool(ARGS("import", P("b.blazedb"), "xs", P("bad.ndjson")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "bad.ndjson:2");
    expect_contains(r.err, "nothing was imported");
    run_free(&r);
    r = run_tool(ARGS("import", P("b.blazedb"), "xs", P("bad.ndjson"), "--skip-bad"), NULL, PW,
                 OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Imported 2 documents into xs; skipped 1 bad record.");
    expect_contains(r.err, "skipped: ");
    expect_contains(r.err, "bad.ndjson:2");
    run_free(&r);

    /* --where through SQL, ndjson and json */
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "--where", "n >= 490 AND n <> 495"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_int_equal(count_lines(r.out), 9);
    expect_contains(r.out, "\"id\":\"d000490\"");
    assert_null(strstr(r.out, "d000495"));
    assert_null(strstr(r.out, "d000489"));
    /* the same documents, byte for byte, as the unfiltered export */
    char *line = strstr(first, "{\"createdAt\"");
    assert_non_null(line);
    run_free(&r);
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "--where", "n < 3", "-f", "json",
                      "-o", P("w.json")),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Exported 3 documents");
    run_free(&r);
    char *w = slurp(P("w.json"), NULL);
    assert_true(w[0] == '[');
    expect_contains(w, "\"id\":\"d000002\"");
    free(w);
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "--where", "n <"), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "--where");
    run_free(&r);
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "--where", "n < 3", "-f", "csv"), NULL,
                 PW, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "--where works with --format ndjson or json");
    run_free(&r);

    /* CSV and SQL */
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "-o", P("t.csv")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    char *csv = slurp(P("t.csv"), NULL);
    assert_true(strncmp(csv, "id,createdAt,n,name,updatedAt\r\n", 31) == 0);
    assert_int_equal(count_lines(csv), 501);
    free(csv);
    r = run_tool(ARGS("export", P("a.blazedb"), "--format", "sql"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "CREATE TABLE \"things\"");
    expect_contains(r.out, "INSERT INTO \"things\"");
    run_free(&r);

    /* errors: bad format (status 2 with a suggestion), unwritable output,
     * missing input, wrong password, CSV of a whole database */
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "--format", "jsn"), NULL, PW, OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown format 'jsn' (did you mean 'json'?)");
    run_free(&r);
    r = run_tool(ARGS("import", P("b.blazedb"), "t", P("t.ndjson"), "--format", "xml"), NULL, PW,
                 OUT_PIPE);
    expect_status(&r, 2);
    expect_contains(r.err, "unknown format 'xml'");
    run_free(&r);
    r = run_tool(ARGS("export", P("a.blazedb"), "--format", "csv"), NULL, PW, OUT_PIPE);
    expect_status(&r, 2);
    run_free(&r);
    r = run_tool(ARGS("export", P("a.blazedb"), "things", "-o", P("nodir/x.ndjson")), NULL, PW,
                 OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "nodir");
    run_free(&r);
    assert_int_equal(file_size(P("nodir/x.ndjson")), -1);
    mkdir(P("ro"), 0500);
    if (access(P("ro"), W_OK) != 0) {   /* not when running as root */
        r = run_tool(ARGS("export", P("a.blazedb"), "things", "--where", "n < 2", "-o",
                          P("ro/x.ndjson")),
                     NULL, PW, OUT_PIPE);
        expect_status(&r, 1);
        expect_contains(r.err, "cannot write");
        run_free(&r);
    }
    r = run_tool(ARGS("import", P("b.blazedb"), "t", P("missing.ndjson")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "missing.ndjson");
    run_free(&r);
    r = run_tool(ARGS("export", P("a.blazedb"), "things"), NULL, ENV("BLAZEDB_PASSWORD=nope"),
                 OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "wrong password");
    assert_int_equal(r.outlen, 0);
    run_free(&r);
    r = run_tool(ARGS("export", P("none.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "no such database");
    run_free(&r);
    free(first);
}

static void test_backup_restore(void **state)
{
    (void)state;
    fill_db("a.blazedb", "things", 300);
    Run r = run_tool(ARGS("backup", P("a.blazedb"), P("full.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "(full, ");
    expect_no_progress(&r);
    run_free(&r);
    r = run_tool(ARGS("verify", P("full.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "OK: 1 file, encrypted");
    expect_no_progress(&r);
    run_free(&r);
    /* a change, then an incremental */
    r = run_tool(ARGS("sql", P("a.blazedb"),
                      "INSERT INTO things (id, n, name) VALUES ('late', 1000, 'after the backup')"),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    r = run_tool(ARGS("backup", P("a.blazedb"), P("inc.bdb"), "--incremental-from", P("full.bdb")),
                 NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "(incremental, ");
    run_free(&r);
    r = run_tool(ARGS("verify", P("full.bdb"), P("inc.bdb"), "--full"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "OK: 2 files");
    run_free(&r);
    r = run_tool(ARGS("restore", P("full.bdb"), P("inc.bdb"), P("r.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "from 2 backup files");
    expect_no_progress(&r);
    run_free(&r);
    const char *q = "SELECT id, n FROM things WHERE n >= 298 ORDER BY n";
    Run a = run_tool(ARGS("sql", P("a.blazedb"), q), NULL, PW, OUT_PIPE);
    Run b = run_tool(ARGS("sql", P("r.blazedb"), q), NULL, PW, OUT_PIPE);
    expect_status(&a, 0);
    expect_status(&b, 0);
    assert_string_equal(a.out, b.out);
    expect_contains(b.out, "{\"id\":\"late\",\"n\":1000}");
    run_free(&a);
    run_free(&b);
    /* only the full backup: the state before the insert */
    r = run_tool(ARGS("restore", P("full.bdb"), P("r0.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    expect_things("r0.blazedb", 300);

    /* errors */
    r = run_tool(ARGS("restore", P("full.bdb"), P("r.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "--replace");
    run_free(&r);
    r = run_tool(ARGS("restore", P("full.bdb"), P("r.blazedb"), "--replace"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    r = run_tool(ARGS("backup", P("a.blazedb"), P("full.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);
    r = run_tool(ARGS("verify", P("full.bdb")), NULL, ENV("BLAZEDB_PASSWORD=nope"), OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "wrong password");
    run_free(&r);
    r = run_tool(ARGS("verify", P("missing.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "missing.bdb");
    run_free(&r);
    r = run_tool(ARGS("verify", P("inc.bdb"), P("full.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 3);
    run_free(&r);
    /* one changed byte is found: status 3, nothing restored */
    size_t len;
    char *bk = slurp(P("full.bdb"), &len);
    bk[len / 2] ^= 0x20;
    FILE *f = fopen(P("bad.bdb"), "wb");
    fwrite(bk, 1, len, f);
    fclose(f);
    free(bk);
    r = run_tool(ARGS("verify", P("bad.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 3);
    expect_contains(r.err, "problem: ");
    expect_contains(r.err, "bad.bdb");
    run_free(&r);
    r = run_tool(ARGS("restore", P("bad.bdb"), P("r2.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);
    assert_int_equal(file_size(P("r2.blazedb")), -1);
    r = run_tool(ARGS("backup", P("a.blazedb"), P("nodir/b.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);
}

static void test_check_repair(void **state)
{
    (void)state;
    fill_db("a.blazedb", "things", 3000);
    Run r = run_tool(ARGS("check", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "verdict: OK");
    expect_no_progress(&r);
    run_free(&r);
    r = run_tool(ARGS("check", P("a.blazedb"), "--quick", "--json"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "{\"check\":\"quick\"");
    expect_contains(r.out, "\"verdict\":\"ok\"");
    run_free(&r);
    /* flip a byte in the middle of the file (the database is closed) */
    struct stat st;
    assert_int_equal(stat(P("a.blazedb-wal"), &st) == 0 ? st.st_size : 0, 0);
    size_t len;
    char *db = slurp(P("a.blazedb"), &len);
    db[len / 2] ^= 0x01;
    FILE *f = fopen(P("a.blazedb"), "wb");
    fwrite(db, 1, len, f);
    fclose(f);
    free(db);
    r = run_tool(ARGS("check", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 3);
    expect_contains(r.out, "problem: page ");
    expect_contains(r.out, "verdict: CORRUPT");
    run_free(&r);
    r = run_tool(ARGS("check", P("a.blazedb"), "--json"), NULL, PW, OUT_PIPE);
    expect_status(&r, 3);
    expect_contains(r.out, "\"verdict\":\"corrupt\"");
    run_free(&r);
    r = run_tool(ARGS("repair", P("a.blazedb"), P("out.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "pages that fail authentication (1)");
    expect_contains(r.out, "verdict: ");
    expect_no_progress(&r);
    run_free(&r);
    r = run_tool(ARGS("check", P("out.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "verdict: OK");
    run_free(&r);
    /* errors: OUT exists, wrong password, missing source */
    r = run_tool(ARGS("repair", P("a.blazedb"), P("out.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);
    r = run_tool(ARGS("repair", P("a.blazedb"), P("out2.blazedb")), NULL,
                 ENV("BLAZEDB_PASSWORD=nope"), OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "wrong password");
    run_free(&r);
    assert_int_equal(file_size(P("out2.blazedb")), -1);
    r = run_tool(ARGS("repair", P("none.blazedb"), P("out3.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "none.blazedb");
    run_free(&r);
    r = run_tool(ARGS("check", P("none.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);
}

static void test_vacuum_doctor_stats(void **state)
{
    (void)state;
    fill_db("a.blazedb", "things", 4000);
    Run r = run_tool(ARGS("sql", P("a.blazedb"), "DELETE FROM things WHERE n >= 200"), NULL, PW,
                     OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    /* the health report advises a vacuum */
    r = run_tool(ARGS("doctor", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "status: ");
    run_free(&r);
    r = run_tool(ARGS("doctor", P("a.blazedb"), "--json"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    assert_true(strncmp(r.out, "{\"status\":\"", 11) == 0);
    expect_contains(r.out, "\"issues\":[");
    assert_true(r.outlen > 2 && r.out[r.outlen - 2] == '}' && r.out[r.outlen - 1] == '\n');
    run_free(&r);
    long long before = file_size(P("a.blazedb"));
    r = run_tool(ARGS("vacuum", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_no_progress(&r);
    const char *p = strstr(r.out, ": ");
    assert_non_null(p);
    long long bytes = atoll(p + 2);
    expect_contains(r.out, " bytes reclaimed");
    assert_true(bytes > 0);
    run_free(&r);
    long long after = file_size(P("a.blazedb"));
    assert_true(after < before);
    expect_things("a.blazedb", 200);
    r = run_tool(ARGS("doctor", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "status: ok");
    run_free(&r);
    r = run_tool(ARGS("stats", P("a.blazedb"), "--json"), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "\"counters\":{");
    expect_contains(r.out, "\"latency\":");
    expect_contains(r.out, "\"name\":\"things\"");
    run_free(&r);
    r = run_tool(ARGS("vacuum", P("a.blazedb")), NULL, ENV("BLAZEDB_PASSWORD=nope"), OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "wrong password");
    run_free(&r);
    /* a new data key; the data and the password stay */
    r = run_tool(ARGS("reencrypt", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_no_progress(&r);
    expect_contains(r.out, "under a new data key (key epoch 1): ");
    expect_contains(r.out, " bytes of pages rewritten");
    assert_true(atoll(strstr(r.out, "1): ") + 4) > 0);
    run_free(&r);
    r = run_tool(ARGS("reencrypt", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "(key epoch 2)");
    run_free(&r);
    r = run_tool(ARGS("reencrypt", P("a.blazedb")), NULL, ENV("BLAZEDB_PASSWORD=nope"),
                 OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, "wrong password");
    run_free(&r);
    expect_things("a.blazedb", 200);
    r = run_tool(ARGS("check", P("a.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    r = run_tool(ARGS("doctor", P("none.blazedb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 1);
    run_free(&r);
}

static void test_shell_operations(void **state)
{
    (void)state;
    fill_db("a.blazedb", "things", 100);
    char script[8192];
    snprintf(script, sizeof script,
             ".export %s things\n"
             ".import %s copy\n"
             ".mode ndjson\n"
             "SELECT COUNT(*) AS n FROM copy;\n"
             ".export - copy csv\n"
             ".backup %s\n"
             ".check quick\n"
             "doctor json\n",
             P("t.ndjson"), P("t.ndjson"), P("s.bdb"));
    Run r = run_tool(ARGS(P("a.blazedb")), script, PW, OUT_PIPE);
    expect_status(&r, 0);
    expect_contains(r.out, "Exported 100 documents to");
    expect_contains(r.out, "Imported 100 documents into copy.");
    expect_contains(r.out, "{\"n\":100}");
    expect_contains(r.out, "id,createdAt,n,name,updatedAt\r\nd000000,");
    expect_contains(r.out, "Backed up to");
    expect_contains(r.out, "verdict: OK");
    expect_contains(r.out, "{\"status\":\"");
    expect_no_progress(&r);
    run_free(&r);
    r = run_tool(ARGS("verify", P("s.bdb")), NULL, PW, OUT_PIPE);
    expect_status(&r, 0);
    run_free(&r);
    r = run_tool(ARGS(P("a.blazedb")), ".import\n", PW, OUT_PIPE);
    expect_status(&r, 1);
    expect_contains(r.err, ".import FILE COLLECTION");
    run_free(&r);
}

/* On a terminal, operations draw a progress bar on stderr and erase it. */
static void test_pty_progress(void **state)
{
    (void)state;
    fill_db("a.blazedb", "things", 2000);
    static const char *const runs[][5] = {
        {"backup", "a.blazedb", "b.bdb", "backup [", "Backed up to"},
        {"verify", "b.bdb", NULL, "verify [", "OK: 1 file"},
        {"check", "a.blazedb", NULL, "check [", "verdict: OK"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char a1[4200], a2[4200];
        snprintf(a1, sizeof a1, "%s", P(runs[i][1]));
        if (runs[i][2])
            snprintf(a2, sizeof a2, "%s", P(runs[i][2]));
        Pty p = {0};
        p.pid = forkpty(&p.fd, NULL, NULL, NULL);
        assert_true(p.pid >= 0);
        if (p.pid == 0) {
            putenv("BLAZEDB_PASSWORD=pw");
            putenv("TERM=dumb");
            execl(g_bin, g_bin, runs[i][0], a1, runs[i][2] ? a2 : (char *)NULL, (char *)NULL);
            _exit(127);
        }
        size_t at = pty_expect(&p, 0, runs[i][3]);
        at = pty_expect(&p, at, " pages (");
        at = pty_expect(&p, at, "\r\033[K");   /* erased before the result */
        pty_expect(&p, at, runs[i][4]);
        assert_int_equal(pty_wait(&p), 0);
        close(p.fd);
        free(p.buf);
    }
}

int main(void)
{
    const char *env = getenv("BLAZEDB_CLI");
    if (env && *env) {
        snprintf(g_bin, sizeof g_bin, "%s", env);
    } else {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "test_cli: cannot find myself; set BLAZEDB_CLI\n");
            return 1;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        *slash = 0;                       /* .../build/tests */
        slash = strrchr(self, '/');
        *slash = 0;                       /* .../build */
        snprintf(g_bin, sizeof g_bin, "%s/blazedb", self);
    }
    if (access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_cli: no tool at %s (make cli, or set BLAZEDB_CLI)\n", g_bin);
        return 1;
    }
    /* CLI_TEST_FILTER=test_pty* runs some tests only (while debugging) */
    if (getenv("CLI_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CLI_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_and_passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_stats_rekey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_script_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_script_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_pipe_and_unwritable_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty_no_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sql_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_sql_and_dot_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty_shell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_repair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vacuum_doctor_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty_progress, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
