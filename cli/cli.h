/*
 * cli.h — what the modules of the `blazedb` command-line tool share.
 *
 * The tool uses only the public header include/blazedb.h.  Modules:
 *   main.c      dispatch, option parsing, usage errors ("did you mean"),
 *               create / info / stats / rekey
 *   util.c      messages, passwords, opening databases, the SIGINT ->
 *               blazedb_interrupt relay, edit distance
 *   output.c    row output (table, json, ndjson, csv), streamed, with
 *               broken-pipe and write-error handling
 *   sql.c       everything that runs SQL: the sql subcommand, statement
 *               execution for the shell, EXPLAIN, index listing
 *   shell.c     the interactive shell (libedit) and script mode
 *   demo.c      the demo subcommand
 *   ops.c       the operations: import, export, backup, restore, verify,
 *               check, repair, vacuum, doctor, stats --json; progress bars
 *
 * Exit statuses (docs/CLI.md): 0 success, 1 error, 2 usage error, 3 a
 * check or verify found problems.
 */
#ifndef BLAZEDB_CLI_H
#define BLAZEDB_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "blazedb.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_PROBLEMS 3

/* ---- options -------------------------------------------------------------- */

/* One option of a subcommand: "--name" (and "-c" when short != 0). */
typedef struct {
    const char *name;       /* without the dashes */
    char shortname;         /* 0 when none */
    int has_arg;            /* 1: takes a value (--name V or --name=V) */
    const char *arg;        /* the value's name in help ("FILE") */
    const char *help;
} CliOpt;

#define CLI_MAX_OPTS 32
#define CLI_MAX_POS 16

/* The parsed command line of a subcommand. */
typedef struct {
    const char *val[CLI_MAX_OPTS];  /* value, or "" for a flag; NULL unset */
    const char *pos[CLI_MAX_POS];
    int npos;
} CliArgs;

/* A subcommand. */
typedef struct {
    const char *name;
    const char *synopsis;   /* after "blazedb NAME " */
    const char *summary;    /* one line */
    const char *details;    /* more help text, or NULL */
    const CliOpt *opts;     /* terminated by a {NULL} entry */
    int min_pos, max_pos;
    int (*run)(const CliArgs *a);
} CliCommand;

/* Index of option `name` in cmd->opts (aborts the program on a typo in
 * the tool itself: a bug, not bad input). */
int cli_opt_index(const CliCommand *cmd, const char *name);
/* The value of option `name` (NULL when not given). */
const char *cli_opt(const CliCommand *cmd, const CliArgs *a, const char *name);
/* The command being run (set by main). */
extern const CliCommand *cli_current;
#define OPT(a, name) cli_opt(cli_current, (a), (name))

/* Prints "blazedb CMD: message" and "Try 'blazedb CMD --help'."; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- messages ------------------------------------------------------------- */

/* "blazedb: message" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Levenshtein distance (capped at 100). */
size_t cli_edit_distance(const char *a, const char *b);
/* The candidate closest to `word` when it is close enough, else NULL. */
const char *cli_suggest(const char *word, const char *const *cands, size_t n);

/* ---- passwords and opening ------------------------------------------------ */

/* How a command wants its database opened. */
typedef struct {
    const char *password_file;  /* --password-file, or NULL */
    uint32_t timeout_ms;        /* busy timeout */
    int readonly;
} CliOpenOpts;

/*
 * The password: from --password-file, else BLAZEDB_PASSWORD, else a prompt
 * without echo on the terminal (asked twice when `confirm`).  `what` names
 * it in the prompt ("Password for x.blazedb").  NULL after printing why.
 * Free with cli_password_free (wipes it).
 */
char *cli_password(const char *file, const char *envname, const char *what, int confirm);
void cli_password_free(char *pw);
/* 1 when stdin or /dev/tty can prompt. */
int cli_can_prompt(void);

/*
 * Opens an existing database (never creates one): plaintext databases open
 * without a password; otherwise the password comes from cli_password.
 * Prints the reason on failure ("wrong password for DB", ...) and returns
 * NULL.  *plaintext (may be NULL) tells whether it is a plaintext database
 * when that is known (-1 when not).
 */
BlazeDB *cli_open(const char *path, const CliOpenOpts *o, int *plaintext);
/* The CliOpenOpts of --password-file and --timeout of the current command. */
CliOpenOpts cli_open_opts(const CliArgs *a);
/* Prints "blazedb: CONTEXT: errmsg" for a failed call on db. */
void cli_db_error(BlazeDB *db, BlazeDBResult rc, const char *context);

/* ---- Ctrl-C ---------------------------------------------------------------- */

/* Installs the SIGINT handler: while a database is "running" (between
 * cli_interrupt_arm and _disarm) Ctrl-C calls blazedb_interrupt on it from
 * a relay thread; otherwise it only sets the flag. */
void cli_interrupt_init(void);
void cli_interrupt_arm(BlazeDB *db);
void cli_interrupt_disarm(void);
/* Reads and clears the flag. */
int cli_interrupted(void);
/* A descriptor that becomes readable on Ctrl-C (for a prompt waiting on
 * input), and the call that empties it and clears the flag. */
int cli_interrupt_fd(void);
void cli_interrupt_drain(void);
void cli_interrupt_shutdown(void);

/* ---- output --------------------------------------------------------------- */

typedef enum { CLI_FMT_TABLE = 0, CLI_FMT_JSON, CLI_FMT_NDJSON, CLI_FMT_CSV } CliFormat;

/* Parses "table", "json", ... (returns -1 when unknown). */
int cli_format_parse(const char *s);
const char *cli_format_name(CliFormat f);

/*
 * Writing to stdout.  Every write goes through these; after a failure
 * cli_out_failed() is non-zero: 1 for a closed pipe (the tool then stops
 * quietly, status 0), 2 for another error (reported once, status 1).
 */
void cli_out(const char *s, size_t n);
void cli_outs(const char *s);
void cli_outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_out_flush(void);
int cli_out_failed(void);
/* Flushes and gives the exit status: `status`, unless writing failed (a
 * closed pipe: CLI_EXIT_OK; another error: CLI_EXIT_ERROR). */
int cli_out_done(int status);
/* Writes a report (malloc'd text, freed here; NULL writes nothing) with a
 * final newline. */
void cli_out_report(char *report);

/* Appends JSON string text for s[0..n) (quotes included) to the output. */
void cli_out_json_string(const char *s, size_t n);

/* A growable string. */
typedef struct {
    char *p;
    size_t len, cap;
} CliBuf;
void cli_buf_add(CliBuf *b, const char *s, size_t n);
void cli_buf_adds(CliBuf *b, const char *s);
void cli_buf_addf(CliBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(CliBuf *b);

/*
 * A result printer.  Rows come as cells: cli_sink_begin with the column
 * names, then cli_sink_row for each row with, per column, the JSON text of
 * the value (lossless mapping) and its type, plus the whole row as a JSON
 * object (for json/ndjson), then cli_sink_end.  The table format keeps
 * the first rows to size the columns, then streams the rest.
 */
typedef struct CliSink CliSink;
typedef struct {
    CliFormat format;
    int wide;               /* table: never shorten values */
    int max_width;          /* table: total width (0 = no limit) */
    int footer;             /* table: print "(N rows)" */
} CliSinkOpts;
CliSink *cli_sink_new(const CliSinkOpts *o);
void cli_sink_begin(CliSink *s, size_t ncols, const char *const *names);
/* cells[i] is JSON text (for strings, the text itself when types[i] is
 * BLAZEDB_TYPE_STRING); row_json may be NULL for table/csv. */
void cli_sink_row(CliSink *s, const char *const *cells, const size_t *lens,
                  const BlazeDBType *types, const char *row_json, size_t row_json_len);
/* Ends the result (prints buffered rows, closing bracket, footer);
 * returns the number of rows. */
uint64_t cli_sink_end(CliSink *s);
void cli_sink_free(CliSink *s);
/*
 * Documents as rows: the columns are "id" and the top-level fields of the
 * sample documents (the first rows); then any number of documents stream
 * through cli_docs_add.
 */
typedef struct CliDocPrinter CliDocPrinter;
CliDocPrinter *cli_docs_begin(const CliSinkOpts *o, BlazeDBDoc *const *sample, size_t n);
void cli_docs_add(CliDocPrinter *p, const BlazeDBDoc *doc);
uint64_t cli_docs_end(CliDocPrinter *p);
void cli_print_docs(const CliSinkOpts *o, BlazeDBDoc *const *docs, size_t n);
/* The terminal's width (stdout), or 0 when stdout is not a terminal. */
int cli_term_width(void);

/* ---- SQL (sql.c) ----------------------------------------------------------- */

typedef struct {
    CliSinkOpts out;
    int timer;              /* print time per statement */
    int bail;               /* stop at the first error */
    BlazeDBTxn *txn;        /* attached to each statement when set */
} CliSqlOpts;

/* Runs every statement of sql[0..len) on db, printing rows.  Returns 0 when
 * all succeeded, 1 after an error (printed with its position), -1 when
 * the output broke.  *changed (may be NULL) is set when a statement
 * wrote. */
int cli_sql_run(BlazeDB *db, const char *sql, size_t len, const CliSqlOpts *o, int *changed);
/* Prints the plan of `sql` (flags: BLAZEDB_EXPLAIN_*).  0 or 1. */
int cli_sql_explain(BlazeDB *db, const char *sql, unsigned flags);
/* Prints the indexes of `coll` (every collection when NULL) as a table. */
int cli_sql_indexes(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const CliSinkOpts *o);
/* Number of indexes on coll (-1 on error); used by info. */
int cli_sql_index_count(BlazeDB *db, const char *coll);
/* The `sql` subcommand. */
int cli_cmd_sql(const CliArgs *a);

/* ---- shell.c / demo.c ------------------------------------------------------ */

int cli_cmd_shell(const CliArgs *a);
/* Runs the shell on an open database: interactive when `interactive`,
 * else reads a script from `in`.  Returns the exit status. */
int cli_shell_run(BlazeDB *db, const char *path, int interactive, FILE *in, int bail,
                  CliFormat mode);
int cli_cmd_demo(const CliArgs *a);

/* ---- ops.c -------------------------------------------------------------------------- */

/* Each returns an exit status after printing what it did (or why not).
 * format: a BlazeDBFormat.  The shell passes its transaction (may be NULL). */
int cli_op_import(BlazeDB *db, BlazeDBTxn *txn, const char *coll, const char *file, int format,
                  unsigned flags);
/* coll NULL: every collection; where: a SQL expression (ndjson/json only);
 * out NULL or "-": standard output. */
int cli_op_export(BlazeDB *db, BlazeDBTxn *txn, const char *coll, int format, const char *where,
                  const char *out);
int cli_op_backup(BlazeDB *db, const char *dest, const char *incremental_from);
int cli_op_check(BlazeDB *db, int quick, int json);
/* 0 for ok and warn, 1 for error. */
int cli_op_doctor(BlazeDB *db, int json, int deep);
int cli_stats_json(BlazeDB *db);
/* Parses an export/import format name ("ndjson", ...): a BlazeDBFormat,
 * or -1 after a usage message naming cmd. */
int cli_parse_format(const char *cmd, const char *v, int allow_sql);
int cli_cmd_import(const CliArgs *a);
int cli_cmd_export(const CliArgs *a);
int cli_cmd_backup(const CliArgs *a);
int cli_cmd_restore(const CliArgs *a);
int cli_cmd_verify(const CliArgs *a);
int cli_cmd_check(const CliArgs *a);
int cli_cmd_repair(const CliArgs *a);
int cli_cmd_vacuum(const CliArgs *a);
int cli_cmd_reencrypt(const CliArgs *a);
int cli_cmd_doctor(const CliArgs *a);

#endif /* BLAZEDB_CLI_H */
