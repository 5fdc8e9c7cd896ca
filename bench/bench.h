/*
 * bench.h — the harness shared by the workload files: bench.c (the byte-KV
 * workloads, options, report and main) and docs.c (the document workloads).
 * A workload is a function run once per engine (and per --runs); bench_run
 * prints its table with BlazeDB's ratio to each peer.
 */
#ifndef BLAZEDB_BENCH_H
#define BLAZEDB_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engines.h"

#define BENCH_KEY_LEN 36 /* a UUID string */

extern int bench_quick;     /* --quick: smaller sizes, fewer operations */
extern int bench_runs;      /* --runs K */
extern FILE *bench_report;  /* the Markdown report being written */
extern const Engine *const bench_engines[]; /* every engine, BlazeDB first */
extern const int bench_nengines;

/* One engine's figures for a workload. */
typedef struct {
    const char *engine;
    double ops, p50, p99; /* ops/s; latencies in microseconds (0 = n/a) */
    int ok;
} BenchRow;

/* Measures one workload on one engine; 0 on success (figures in *out). */
typedef int (*BenchFn)(const Engine *e, BenchRow *out);

/* Which engines a workload runs on. */
typedef enum { BENCH_KV, BENCH_DOCS } BenchKind;

/*
 * Runs fn on every selected engine (for BENCH_DOCS, those with document
 * support) `--runs` times, keeps the median run by ops and prints the table.
 * Skipped when `title` is not selected by --workloads.
 */
void bench_run(const char *title, const char *unit, int has_lat, BenchKind kind, BenchFn fn);
/* Whether --workloads / --engines select `name`. */
int bench_workload_selected(const char *name);
int bench_engine_selected(const char *name);
/* Prints "  text" to stdout and "- text" to the report. */
void bench_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

double bench_now(void); /* seconds, monotonic */
/* The p-quantile (0..1) of v[0..n); sorts v. */
double bench_pct(double *v, size_t n, double p);
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A fresh empty directory for engine `eng` under the run's directory. */
void bench_fresh_dir(char *dir, size_t len, const char *eng);
void bench_remove_dir(const char *dir);
/* n random UUIDv4 strings from `seed`, packed BENCH_KEY_LEN bytes apart
 * (not NUL-terminated); malloc'd. */
char *bench_make_keys(size_t n, uint64_t seed);

/* Document workloads (docs.c). */
/* --doc-sizes: comma-separated document counts for doc-insert-latency. */
void docs_set_sizes(const char *list);
/* Called once after the options are read. */
void docs_configure(void);
/* Runs the selected document workloads. */
void docs_run(void);
/* The paragraph of the report describing the document workloads. */
void docs_describe(FILE *f);

/* Query workloads (sql.c): runs the selected sql-* workloads. */
void sql_run(void);

/* Export/import workloads (ops.c). */
void ops_run(void);

/* Backup workloads (backup.c): --backup-size-mb, and the run. */
void backup_bench_set_size_mb(size_t mb);
void backup_bench_run(void);

/* Integrity-check workload (check.c): --check-size-mb, and the run. */
void check_bench_set_size_mb(size_t mb);
void check_bench_run(void);

#endif
