/*
 * main.c — the `blazedb` program's entry: the table of subcommands, option
 * parsing with "did you mean" suggestions, help texts, and the small
 * subcommands (create, info, stats, rekey).  SQL lives in sql.c, the
 * shell in shell.c, the demo in demo.c, the operations (import, export,
 * backup, restore, verify, check, repair, vacuum, reencrypt, doctor) in
 * ops.c.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const CliCommand *cli_current;

/* ---- options ---------------------------------------------------------------------- */

#define OPT_PASSWORD {"password-file", 0, 1, "FILE", "read the password from the first line of FILE"}
#define OPT_TIMEOUT {"timeout", 0, 1, "MS", "wait up to MS milliseconds for a lock (default 5000)"}
#define OPT_KDF                                                                               \
    {"kdf", 0, 1, "KDF", "key derivation: argon2id (default) or pbkdf2"},                     \
        {"kdf-iterations", 0, 1, "N", "PBKDF2 iterations or Argon2id passes"},                \
        {"kdf-memory", 0, 1, "KIB", "Argon2id memory in KiB (default 65536)"},                \
        {"kdf-parallelism", 0, 1, "N", "Argon2id lanes (default 1)"}
#define OPT_END {NULL, 0, 0, NULL, NULL}

int cli_opt_index(const CliCommand *cmd, const char *name)
{
    for (int i = 0; cmd->opts[i].name; i++)
        if (strcmp(cmd->opts[i].name, name) == 0)
            return i;
    fprintf(stderr, "blazedb: internal error: option --%s of %s\n", name, cmd->name);
    abort();
}

const char *cli_opt(const CliCommand *cmd, const CliArgs *a, const char *name)
{
    return a->val[cli_opt_index(cmd, name)];
}

static void print_help(const CliCommand *c)
{
    printf("Usage: blazedb %s %s\n\n%s\n", c->name, c->synopsis, c->summary);
    if (c->details)
        printf("\n%s", c->details);
    printf("\nOptions:\n");
    for (int i = 0; c->opts[i].name; i++) {
        const CliOpt *o = &c->opts[i];
        char left[64];
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->shortname ? "-" : "",
                 o->shortname ? o->shortname : ' ', o->shortname ? ", " : "  ", o->name,
                 o->has_arg ? " " : "", o->has_arg ? o->arg : "");
        printf("  %-28s %s\n", o->shortname ? left : left + 2, o->help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

/* Parses argv[1..argc) of command c.  Returns -1 when parsed, else an exit
 * status (0 after --help, 2 on a usage error). */
static int parse_args(const CliCommand *c, int argc, char **argv, CliArgs *a)
{
    memset(a, 0, sizeof *a);
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->npos >= CLI_MAX_POS)
                return cli_usage_error(c->name, "too many arguments");
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(c);
            return CLI_EXIT_OK;
        }
        int idx = -1;
        const char *val = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t nl = eq ? (size_t)(eq - name) : strlen(name);
            for (int k = 0; c->opts[k].name; k++)
                if (strlen(c->opts[k].name) == nl && strncmp(c->opts[k].name, name, nl) == 0)
                    idx = k;
            if (idx < 0) {
                char word[128];
                snprintf(word, sizeof word, "%.*s", (int)(nl < 100 ? nl : 100), name);
                const char *cands[CLI_MAX_OPTS + 1];
                size_t n = 0;
                for (int k = 0; c->opts[k].name; k++)
                    cands[n++] = c->opts[k].name;
                cands[n++] = "help";
                const char *s = cli_suggest(word, cands, n);
                if (s)
                    return cli_usage_error(c->name, "unknown option '--%s' (did you mean '--%s'?)",
                                           word, s);
                return cli_usage_error(c->name, "unknown option '--%s'", word);
            }
            if (eq) {
                if (!c->opts[idx].has_arg)
                    return cli_usage_error(c->name, "option '--%s' takes no value",
                                           c->opts[idx].name);
                val = eq + 1;
            }
        } else {
            if (arg[2] != 0)
                return cli_usage_error(c->name, "unknown option '%s'", arg);
            for (int k = 0; c->opts[k].name; k++)
                if (c->opts[k].shortname && c->opts[k].shortname == arg[1])
                    idx = k;
            if (idx < 0)
                return cli_usage_error(c->name, "unknown option '%s'", arg);
        }
        if (c->opts[idx].has_arg && !val) {
            if (i + 1 >= argc)
                return cli_usage_error(c->name, "option '--%s' needs a value (%s)",
                                       c->opts[idx].name, c->opts[idx].arg);
            val = argv[++i];
        }
        a->val[idx] = val ? val : "";
    }
    if (a->npos < c->min_pos)
        return cli_usage_error(c->name, "missing argument%s: %s",
                               c->min_pos - a->npos > 1 ? "s" : "", c->synopsis);
    if (a->npos > c->max_pos)
        return cli_usage_error(c->name, "unexpected argument '%s'", a->pos[c->max_pos]);
    return -1;
}

/* A number option: 0 when absent; -1 (after a message) when malformed. */
static int opt_u32(const CliArgs *a, const char *name, uint32_t *out)
{
    const char *v = OPT(a, name);
    *out = 0;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || errno || n > UINT32_MAX || v[0] == '-') {
        cli_usage_error(cli_current->name, "--%s expects a number, not '%s'", name, v);
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

CliOpenOpts cli_open_opts(const CliArgs *a)
{
    CliOpenOpts o = {OPT(a, "password-file"), 5000, 0};
    uint32_t t;
    if (opt_u32(a, "timeout", &t) == 0 && OPT(a, "timeout"))
        o.timeout_ms = t;
    return o;
}

/* Fills the KDF fields of opts from --kdf & co.  Returns 0, or 2. */
static int kdf_options(const CliArgs *a, BlazeDBOptions *opts, int *given)
{
    const char *kdf = OPT(a, "kdf");
    *given = kdf != NULL;
    if (kdf) {
        if (strcmp(kdf, "argon2id") == 0 || strcmp(kdf, "argon2") == 0)
            opts->kdf = BLAZEDB_KDF_ARGON2ID;
        else if (strcmp(kdf, "pbkdf2") == 0 || strcmp(kdf, "pbkdf2-sha256") == 0)
            opts->kdf = BLAZEDB_KDF_PBKDF2_SHA256;
        else
            return cli_usage_error(cli_current->name,
                                   "unknown key derivation '%s' (argon2id or pbkdf2)", kdf);
    }
    if (opt_u32(a, "kdf-iterations", &opts->kdf_iterations) ||
        opt_u32(a, "kdf-memory", &opts->kdf_memory_kib) ||
        opt_u32(a, "kdf-parallelism", &opts->kdf_parallelism))
        return CLI_EXIT_USAGE;
    if (opts->kdf_iterations || opts->kdf_memory_kib || opts->kdf_parallelism)
        *given = 1;
    return 0;
}

static const char *kdf_name(BlazeDBKdf k)
{
    return k == BLAZEDB_KDF_PBKDF2_SHA256 ? "PBKDF2-HMAC-SHA256" : "Argon2id";
}

/* ---- create ------------------------------------------------------------------------- */

static int cmd_create(const CliArgs *a)
{
    const char *path = a->pos[0];
    BlazeDBOptions opts;
    blazedb_options_init(&opts);
    opts.flags = BLAZEDB_OPEN_CREATE | BLAZEDB_OPEN_EXCLUSIVE;
    int given;
    int r = kdf_options(a, &opts, &given);
    if (r)
        return r;
    if (opt_u32(a, "page-size", &opts.page_size))
        return CLI_EXIT_USAGE;
    int plaintext = OPT(a, "plaintext") != NULL;
    if (plaintext && (given || OPT(a, "password-file")))
        return cli_usage_error("create", "--plaintext takes no password or key derivation");
    struct stat st;
    if (stat(path, &st) == 0) {
        cli_error("%s already exists; nothing was changed", path);
        return CLI_EXIT_ERROR;
    }
    char *pw = NULL;
    if (plaintext) {
        opts.flags |= BLAZEDB_OPEN_PLAINTEXT;
    } else {
        char what[4200];
        snprintf(what, sizeof what, "New password for %s", path);
        pw = cli_password(OPT(a, "password-file"), "BLAZEDB_PASSWORD", what, 1);
        if (!pw)
            return CLI_EXIT_ERROR;
    }
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, pw ? pw : "", &opts, &db);
    cli_password_free(pw);
    if (rc != BLAZEDB_OK) {
        cli_error("cannot create %s: %s", path, blazedb_errmsg(NULL));
        return CLI_EXIT_ERROR;
    }
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    blazedb_stats(db, &s);
    blazedb_close(db);
    if (plaintext)
        cli_outf("Created %s: plaintext (not encrypted), %" PRIu64 "-byte pages.\n", path,
                 s.page_size);
    else
        cli_outf("Created %s: encrypted with AES-256-GCM, key from the password by %s, "
                 "%" PRIu64 "-byte pages.\n",
                 path, kdf_name(opts.kdf), s.page_size);
    return cli_out_done(CLI_EXIT_OK);
}

/* ---- info and stats ----------------------------------------------------------------- */

static long long file_size(const char *path, const char *suffix)
{
    char p[4200];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* 1 plaintext, 0 encrypted, -1 unknown. */
static int probe_plaintext(const char *path)
{
    BlazeDBOptions o;
    blazedb_options_init(&o);
    o.flags = BLAZEDB_OPEN_PLAINTEXT | BLAZEDB_OPEN_READONLY;
    BlazeDB *db = NULL;
    BlazeDBResult rc = blazedb_open_ex(path, "", &o, &db);
    if (rc == BLAZEDB_OK) {
        blazedb_close(db);
        return 1;
    }
    return rc == BLAZEDB_AUTH_FAILED || rc == BLAZEDB_INVALID_ARGUMENT ? 0 : -1;
}

static void json_kv_u64(const char *k, uint64_t v, int *first)
{
    cli_outf("%s\"%s\":%" PRIu64, *first ? "" : ",", k, v);
    *first = 0;
}

static int print_collections(BlazeDB *db, int json, int with_indexes)
{
    char **names = NULL;
    size_t n = 0;
    BlazeDBResult rc = blazedb_collection_list(db, NULL, &names, &n);
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, "listing collections");
        return 1;
    }
    if (json)
        cli_outs("[");
    else
        cli_outf("%-16s %zu\n", "collections", n);
    for (size_t i = 0; i < n; i++) {
        uint64_t count = 0;
        blazedb_count(db, NULL, names[i], &count);
        int nidx = with_indexes ? cli_sql_index_count(db, names[i]) : -1;
        if (json) {
            cli_outs(i ? ",{\"name\":" : "{\"name\":");
            cli_out_json_string(names[i], strlen(names[i]));
            cli_outf(",\"documents\":%" PRIu64, count);
            if (nidx >= 0)
                cli_outf(",\"indexes\":%d", nidx);
            cli_outs("}");
        } else {
            cli_outf("  %-14s %" PRIu64 " document%s", names[i], count, count == 1 ? "" : "s");
            if (nidx >= 0)
                cli_outf(", %d index%s", nidx, nidx == 1 ? "" : "es");
            cli_outs("\n");
        }
    }
    if (json)
        cli_outs("]");
    blazedb_free(names);
    return 0;
}

static int cmd_info(const CliArgs *a)
{
    const char *path = a->pos[0];
    CliOpenOpts oo = cli_open_opts(a);
    oo.readonly = 1;
    int plaintext;
    BlazeDB *db = cli_open(path, &oo, &plaintext);
    if (!db)
        return CLI_EXIT_ERROR;
    if (plaintext < 0)
        plaintext = probe_plaintext(path);
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    BlazeDBResult rc = blazedb_stats(db, &s);
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, path);
        blazedb_close(db);
        return CLI_EXIT_ERROR;
    }
    long long fsz = file_size(path, ""), wsz = file_size(path, "-wal");
    const char *enc = plaintext == 1 ? "none (plaintext)" : plaintext == 0 ? "AES-256-GCM" : "unknown";
    int r;
    if (OPT(a, "json")) {
        cli_outs("{\"path\":");
        cli_out_json_string(path, strlen(path));
        cli_outf(",\"version\":\"%s\",\"encryption\":\"%s\",\"file_bytes\":%lld,\"wal_bytes\":%lld",
                 blazedb_version(), plaintext == 1 ? "none" : plaintext == 0 ? "aes-256-gcm" : "unknown",
                 fsz, wsz < 0 ? 0 : wsz);
        int first = 0;
        json_kv_u64("page_size", s.page_size, &first);
        json_kv_u64("page_count", s.page_count, &first);
        json_kv_u64("free_pages", s.free_pages, &first);
        json_kv_u64("wal_pages", s.wal_pages, &first);
        json_kv_u64("last_txn_id", s.last_txn_id, &first);
        json_kv_u64("max_key_size", s.max_key_size, &first);
        cli_outs(",\"collections\":");
        r = print_collections(db, 1, 1);
        cli_outs("}\n");
    } else {
        cli_outf("%-16s %s\n", "path", path);
        cli_outf("%-16s %s\n", "library", blazedb_version());
        cli_outf("%-16s %s\n", "encryption", enc);
        cli_outf("%-16s %lld bytes", "file size", fsz);
        if (wsz > 0)
            cli_outf(" (+ %lld bytes of log)", wsz);
        cli_outs("\n");
        cli_outf("%-16s %" PRIu64 " bytes\n", "page size", s.page_size);
        cli_outf("%-16s %" PRIu64 " (%" PRIu64 " free)\n", "pages", s.page_count, s.free_pages);
        cli_outf("%-16s %" PRIu64 "\n", "pages in log", s.wal_pages);
        cli_outf("%-16s %" PRIu64 "\n", "last commit", s.last_txn_id);
        cli_outf("%-16s %" PRIu64 " bytes\n", "max key size", s.max_key_size);
        r = print_collections(db, 0, 1);
    }
    blazedb_close(db);
    return cli_out_done(r ? CLI_EXIT_ERROR : CLI_EXIT_OK);
}

static int cmd_stats(const CliArgs *a)
{
    const char *path = a->pos[0];
    CliOpenOpts oo = cli_open_opts(a);
    oo.readonly = 1;
    BlazeDB *db = cli_open(path, &oo, NULL);
    if (!db)
        return CLI_EXIT_ERROR;
    BlazeDBStats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    BlazeDBResult rc = blazedb_stats(db, &s);
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, path);
        blazedb_close(db);
        return CLI_EXIT_ERROR;
    }
    struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"page_size", s.page_size},     {"page_count", s.page_count},
        {"free_pages", s.free_pages},   {"wal_pages", s.wal_pages},
        {"keys", s.keys},               {"last_txn_id", s.last_txn_id},
        {"max_key_size", s.max_key_size}, {"commits", s.commits},
        {"rollbacks", s.rollbacks},     {"reads", s.reads},
        {"writes", s.writes},           {"cache_hits", s.cache_hits},
        {"cache_misses", s.cache_misses}, {"pages_read", s.pages_read},
        {"pages_written", s.pages_written}, {"bytes_written", s.bytes_written},
        {"syncs", s.syncs},             {"checkpoints", s.checkpoints},
        {"lock_waits", s.lock_waits},
    };
    size_t nf = sizeof f / sizeof f[0];
    int r;
    if (OPT(a, "json")) {
        /* everything of blazedb_metrics_json (counters, log, sizes,
         * latency histograms, collections) */
        r = cli_stats_json(db);
    } else {
        for (size_t i = 0; i < nf; i++)
            cli_outf("%-16s %" PRIu64 "\n", f[i].name, f[i].v);
        r = print_collections(db, 0, 0);
    }
    blazedb_close(db);
    return cli_out_done(r ? CLI_EXIT_ERROR : CLI_EXIT_OK);
}

/* ---- rekey ----------------------------------------------------------------------------- */

static int cmd_rekey(const CliArgs *a)
{
    const char *path = a->pos[0];
    BlazeDBOptions opts;
    blazedb_options_init(&opts);
    int given;
    int r = kdf_options(a, &opts, &given);
    if (r)
        return r;
    CliOpenOpts oo = cli_open_opts(a);
    int plaintext;
    BlazeDB *db = cli_open(path, &oo, &plaintext);
    if (!db)
        return CLI_EXIT_ERROR;
    if (plaintext == 1) {
        cli_error("%s is a plaintext database: it has no password to change", path);
        blazedb_close(db);
        return CLI_EXIT_ERROR;
    }
    char what[4200];
    snprintf(what, sizeof what, "New password for %s", path);
    char *pw = cli_password(OPT(a, "new-password-file"), "BLAZEDB_NEW_PASSWORD", what, 1);
    if (!pw) {
        blazedb_close(db);
        return CLI_EXIT_ERROR;
    }
    BlazeDBResult rc = blazedb_rekey(db, pw, given ? &opts : NULL);
    cli_password_free(pw);
    if (rc != BLAZEDB_OK) {
        cli_db_error(db, rc, "rekey");
        blazedb_close(db);
        return CLI_EXIT_ERROR;
    }
    blazedb_close(db);
    cli_outf("Changed the password of %s%s%s.\n", path, given ? "; key derivation: " : "",
             given ? kdf_name(opts.kdf) : "");
    cli_out_flush();
    return CLI_EXIT_OK;
}

/* ---- the table of subcommands ------------------------------------------------------------ */

static int cmd_help(const CliArgs *a);
static int cmd_version(const CliArgs *a)
{
    (void)a;
    printf("blazedb %s\n", blazedb_version());
    return CLI_EXIT_OK;
}

static const CliOpt create_opts[] = {
    {"plaintext", 0, 0, NULL, "create an UNENCRYPTED database (no password)"},
    OPT_KDF,
    {"page-size", 0, 1, "BYTES", "page size, a power of two in 4096..65536 (default 8192)"},
    OPT_PASSWORD,
    OPT_END};
static const CliOpt info_opts[] = {
    {"json", 0, 0, NULL, "print one JSON object"}, OPT_PASSWORD, OPT_TIMEOUT, OPT_END};
static const CliOpt rekey_opts[] = {
    OPT_KDF,
    OPT_PASSWORD,
    {"new-password-file", 0, 1, "FILE", "read the new password from FILE"},
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt sql_opts[] = {
    {"format", 'f', 1, "FMT", "table, json, ndjson or csv (default: table on a terminal, "
                              "ndjson otherwise)"},
    {"wide", 'w', 0, NULL, "table: show long values whole"},
    {"timer", 't', 0, NULL, "print the time and row count of each statement"},
    {"keep-going", 'k', 0, NULL, "go on after a failed statement (exit status 1 at the end)"},
    {"readonly", 0, 0, NULL, "open the database read-only"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt shell_opts[] = {
    {"mode", 'm', 1, "FMT", "output format: table, json, ndjson or csv"},
    {"keep-going", 'k', 0, NULL, "script mode: go on after an error"},
    {"wide", 'w', 0, NULL, "table: show long values whole"},
    {"readonly", 0, 0, NULL, "open the database read-only"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt import_opts[] = {
    {"format", 'f', 1, "FMT", "ndjson, json or csv (default: from the file name, else ndjson)"},
    {"skip-bad", 0, 0, NULL, "skip bad records and list them (default: import nothing)"},
    {"upsert", 0, 0, NULL, "replace documents with the same id instead of failing"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt export_opts[] = {
    {"format", 'f', 1, "FMT", "ndjson, json, csv or sql (default: from -o's name, else ndjson)"},
    {"where", 0, 1, "EXPR", "only documents for which the SQL expression is true "
                            "(ndjson and json)"},
    {"output", 'o', 1, "FILE", "write to FILE (complete or not at all) instead of stdout"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt backup_opts[] = {
    {"incremental-from", 0, 1, "BACKUP", "only the pages written since BACKUP (the latest "
                                         "file of its chain)"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt restore_opts[] = {
    {"replace", 0, 0, NULL, "replace an existing DB (which must not be open anywhere)"},
    OPT_PASSWORD,
    OPT_END};
static const CliOpt verify_opts[] = {
    {"full", 0, 0, NULL, "also restore into a temporary database and check it"},
    OPT_PASSWORD,
    OPT_END};
static const CliOpt check_opts[] = {
    {"quick", 0, 0, NULL, "structure only: skip decoding documents and comparing indexes"},
    {"json", 0, 0, NULL, "the report as one JSON object"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt repair_opts[] = {
    {"json", 0, 0, NULL, "the report as one JSON object"}, OPT_PASSWORD, OPT_END};
static const CliOpt vacuum_opts[] = {OPT_PASSWORD, OPT_TIMEOUT, OPT_END};
static const CliOpt doctor_opts[] = {
    {"json", 0, 0, NULL, "the report as one JSON object"},
    {"deep", 0, 0, NULL, "also read every tree to check key sizes (reads the whole database)"},
    OPT_PASSWORD,
    OPT_TIMEOUT,
    OPT_END};
static const CliOpt demo_opts[] = {OPT_END};
static const CliOpt no_opts[] = {OPT_END};

static const CliCommand g_commands[] = {
    {"create", "DB [options]", "Creates a new database (encrypted unless --plaintext).",
     "The password comes from --password-file, BLAZEDB_PASSWORD, or is asked twice\n"
     "on the terminal.  Never give it on the command line.\n",
     create_opts, 1, 1, cmd_create},
    {"shell", "DB [options]", "Opens the interactive shell (also: blazedb DB).",
     "SQL statements end with ';' and may span lines.  Type .help in the shell for\n"
     "its commands.  When standard input is not a terminal, it runs it as a script\n"
     "and stops at the first error (exit status 1) unless --keep-going.\n",
     shell_opts, 1, 1, cli_cmd_shell},
    {"sql", "DB \"STATEMENTS\"|- [options]", "Runs ;-separated SQL statements and prints their rows.",
     "With '-', reads the statements from standard input.  Statements that return\n"
     "no rows print nothing.  In ndjson each row is one JSON object keyed by the\n"
     "column names (for SELECT *, the document), values in the lossless JSON mapping.\n"
     "Stops at the first failing statement (exit status 1).\n",
     sql_opts, 2, 2, cli_cmd_sql},
    {"info", "DB [--json]", "Shows what a database is: encryption, sizes, collections, indexes.",
     NULL, info_opts, 1, 1, cmd_info},
    {"stats", "DB [--json]", "Prints the storage statistics and document counts.",
     "With --json: every metric of the handle (counters, log, sizes, latency\n"
     "histograms, collections and indexes) as one JSON object.\n",
     info_opts, 1, 1, cmd_stats},
    {"import", "DB COLLECTION FILE|- [options]", "Imports NDJSON, a JSON array or CSV into a "
                                                 "collection.",
     "All or nothing by default: the first bad record (named with its line) stops\n"
     "it and nothing is imported.  '-' reads standard input.  An NDJSON or JSON\n"
     "export of a whole database switches collection at its markers.\n",
     import_opts, 3, 3, cli_cmd_import},
    {"export", "DB [COLLECTION] [options]", "Exports documents as NDJSON, JSON, CSV or SQL.",
     "Without COLLECTION: every collection (ndjson, json, sql).  With -o FILE the\n"
     "file is written under a temporary name and renamed when complete.  --where\n"
     "takes a SQL expression over the fields (as after WHERE in SELECT).\n",
     export_opts, 1, 2, cli_cmd_export},
    {"backup", "DB DEST [--incremental-from BACKUP]", "Writes an online, encrypted, compressed "
                                                      "backup to DEST.",
     "The backup opens with the database's password.  DEST must not exist.\n",
     backup_opts, 2, 2, cli_cmd_backup},
    {"restore", "BACKUP... DB [--replace]", "Rebuilds DB from a full backup and its "
                                            "incrementals.",
     "Everything is checked while it is written; DB appears only when complete.\n"
     "The restored database opens with the backup's password.\n",
     restore_opts, 2, CLI_MAX_POS, cli_cmd_restore},
    {"verify", "BACKUP... [--full]", "Checks a backup chain completely without restoring it.",
     "Exit status 3 when the backup is damaged, truncated or not a chain.\n",
     verify_opts, 1, CLI_MAX_POS, cli_cmd_verify},
    {"check", "DB [--quick] [--json]", "Checks the integrity of every page, tree, index and "
                                       "document.",
     "Exit status 0 when no problem is found, 3 when some are (each is listed with\n"
     "its page and location).\n",
     check_opts, 1, 1, cli_cmd_check},
    {"repair", "DB OUT", "Salvages a damaged database into the new database OUT.",
     "Recovers every document on a page that still authenticates, rebuilds the\n"
     "indexes and reports what was lost.  OUT opens with DB's password.\n",
     repair_opts, 2, 2, cli_cmd_repair},
    {"vacuum", "DB", "Compacts the database and returns free space to the file system.", NULL,
     vacuum_opts, 1, 1, cli_cmd_vacuum},
    {"doctor", "DB [--json]", "Health report: status, reasons and suggested actions.",
     "Exit status 0 when the status is ok or warn, 1 when it is error.\n",
     doctor_opts, 1, 1, cli_cmd_doctor},
    {"rekey", "DB [options]", "Changes the password (instant: the data key is rewrapped).",
     "The current password comes as for every command; the new one from\n"
     "--new-password-file, BLAZEDB_NEW_PASSWORD, or is asked twice on the terminal.\n",
     rekey_opts, 1, 1, cmd_rekey},
    {"reencrypt", "DB", "Re-encrypts every page under a new data key, online.",
     "For a data key that may have leaked: a new random key replaces it while\n"
     "readers and writers carry on; afterwards nothing in the database or its\n"
     "log opens with the old key.  The password stays the same.  Interrupted\n"
     "(Ctrl-C, crash), it resumes when run again.\n",
     vacuum_opts, 1, 1, cli_cmd_reencrypt},
    {"demo", "[DIR]", "Creates a sample database in DIR (default ./blazedb-demo) and runs "
                      "example queries.",
     NULL, demo_opts, 0, 1, cli_cmd_demo},
    {"help", "[COMMAND]", "Shows the help of blazedb or of one command.", NULL, no_opts, 0, 1,
     cmd_help},
    {"version", "", "Prints the version.", NULL, no_opts, 0, 0, cmd_version},
};
#define NCOMMANDS (sizeof g_commands / sizeof g_commands[0])


static void print_main_help(void)
{
    printf("Usage: blazedb COMMAND [ARGS] [options]\n"
           "       blazedb DB                 (the interactive shell)\n\n"
           "BlazeDB %s: an encrypted embedded document database.\n\nCommands:\n",
           blazedb_version());
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %-9s %s\n", g_commands[i].name, g_commands[i].summary);
    printf("\nPasswords: --password-file FILE, the environment variable BLAZEDB_PASSWORD,\n"
           "or a prompt on the terminal; never on the command line.\n"
           "Exit status: 0 success, 1 error, 2 usage error, 3 problems found.\n"
           "'blazedb COMMAND --help' shows a command's options.  Try 'blazedb demo'.\n");
}

static const CliCommand *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(g_commands[i].name, name) == 0)
            return &g_commands[i];
    return NULL;
}

static int cmd_help(const CliArgs *a)
{
    if (a->npos == 0) {
        print_main_help();
        return CLI_EXIT_OK;
    }
    const CliCommand *c = find_command(a->pos[0]);
    if (!c)
        return cli_usage_error(NULL, "no command '%s'", a->pos[0]);
    print_help(c);
    return CLI_EXIT_OK;
}

static int unknown_command(const char *word)
{
    const char *cands[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        cands[i] = g_commands[i].name;
    const char *s = cli_suggest(word, cands, NCOMMANDS);
    if (s)
        return cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", word, s);
    return cli_usage_error(NULL, "unknown command '%s'", word);
}

/* `blazedb DB` opens the shell when DB looks like a database path. */
static int looks_like_db(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0 && !S_ISDIR(st.st_mode))
        return 1;
    size_t n = strlen(arg);
    return strchr(arg, '/') != NULL || (n > 8 && strcmp(arg + n - 8, ".blazedb") == 0);
}

static int run_command(const CliCommand *c, int argc, char **argv)
{
    CliArgs a;
    cli_current = c;
    int r = parse_args(c, argc, argv, &a);
    if (r >= 0)
        return r;
    return c->run(&a);
}

int main(int argc, char **argv)
{
    /* A closed pipe on stdout shows up as EPIPE on write (output.c). */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        if (isatty(0) && isatty(1)) {
            print_main_help();
            return CLI_EXIT_OK;
        }
        return cli_usage_error(NULL, "missing command");
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_main_help();
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
        return cmd_version(NULL);
    if (cmd[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s' (a command comes first)", cmd);
    const CliCommand *c = find_command(cmd);
    if (c)
        return run_command(c, argc - 1, argv + 1);
    if (looks_like_db(cmd)) {
        /* blazedb DB [options]  ==  blazedb shell DB [options] */
        return run_command(find_command("shell"), argc, argv);
    }
    return unknown_command(cmd);
}
