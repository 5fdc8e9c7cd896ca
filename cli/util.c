/*
 * util.c — the tool's plumbing: messages and "did you mean", passwords
 * (file, environment, no-echo prompt), opening a database with a clear
 * one-line reason on failure, and the Ctrl-C relay that turns SIGINT into
 * blazedb_interrupt on the running database.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* ---- messages --------------------------------------------------------------- */

void cli_error(const char *fmt, ...)
{
    cli_out_flush();
    va_list ap;
    va_start(ap, fmt);
    fputs("blazedb: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "blazedb%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fprintf(stderr, "Try 'blazedb%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

void cli_db_error(BlazeDB *db, BlazeDBResult rc, const char *context)
{
    const char *msg = blazedb_errmsg(db);
    if (!msg || !*msg)
        msg = blazedb_strerror(rc);
    cli_error("%s: %s", context, msg);
}

size_t cli_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 100 || lb > 100)
        return 100;
    size_t row[101];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] > 100 ? 100 : row[lb];
}

const char *cli_suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    size_t wl = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t d = cli_edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    /* Close enough: at most a third of the word wrong (and at least one
     * edit allowed), or the word is a prefix of exactly one candidate. */
    size_t allowed = wl / 3 > 1 ? wl / 3 : 1;
    if (wl >= 4)
        allowed = allowed < 2 ? 2 : allowed;
    if (best && bestd <= allowed)
        return best;
    const char *pre = NULL;
    for (size_t i = 0; i < n; i++)
        if (wl > 0 && strncmp(cands[i], word, wl) == 0) {
            if (pre)
                return NULL;
            pre = cands[i];
        }
    return pre;
}

/* ---- passwords -------------------------------------------------------------- */

static char *read_password_file(const char *file)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!f) {
        cli_error("cannot read password file %s: %s", file, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (f != stdin)
        fclose(f);
    if (n < 0) {
        free(line);
        cli_error("password file %s is empty", file);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (n == 0) {
        cli_password_free(line);
        cli_error("password file %s is empty", file);
        return NULL;
    }
    return line;
}

int cli_can_prompt(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    return isatty(0);
}

/* Reads one line from the terminal without echo.  NULL at end of input. */
static char *prompt_noecho(const char *prompt)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int own = fd >= 0;
    if (!own)
        fd = 0;
    FILE *in = fdopen(dup(fd), "r");
    if (!in) {
        if (own)
            close(fd);
        return NULL;
    }
    int ofd = own ? fd : 2;
    /* Echo goes off before the prompt appears, so that nothing typed
     * after it is shown; TCSANOW keeps what was typed ahead. */
    struct termios old, noecho;
    int restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        noecho.c_lflag |= ICANON;
        tcsetattr(fd, TCSANOW, &noecho);
    }
    if (write(ofd, prompt, strlen(prompt)) < 0) {
        /* nothing to do: the read below still works */
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, in);
    if (restore)
        tcsetattr(fd, TCSANOW, &old);
    if (write(ofd, "\n", 1) < 0) {
        /* ignore */
    }
    fclose(in);
    if (own)
        close(fd);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    return line;
}

char *cli_password(const char *file, const char *envname, const char *what, int confirm)
{
    if (file)
        return read_password_file(file);
    const char *env = getenv(envname);
    if (env && *env) {
        char *p = strdup(env);
        if (!p)
            cli_error("out of memory");
        return p;
    }
    if (!cli_can_prompt()) {
        cli_error("%s: no terminal to ask on; set %s or use --password-file FILE", what,
                  envname);
        return NULL;
    }
    char prompt[512];
    snprintf(prompt, sizeof prompt, "%s: ", what);
    char *pw = prompt_noecho(prompt);
    if (!pw) {
        cli_error("%s: no password given", what);
        return NULL;
    }
    if (!*pw) {
        cli_password_free(pw);
        cli_error("%s: the password is empty", what);
        return NULL;
    }
    if (confirm) {
        char *again = prompt_noecho("Again, to confirm: ");
        int same = again && strcmp(again, pw) == 0;
        cli_password_free(again);
        if (!same) {
            cli_password_free(pw);
            cli_error("the two passwords differ; nothing was changed");
            return NULL;
        }
    }
    return pw;
}

void cli_password_free(char *pw)
{
    if (!pw)
        return;
    volatile char *v = pw;
    while (*v)
        *v++ = 0;
    free(pw);
}

/* ---- opening ------------------------------------------------------------------ */

static void open_error(const char *path, BlazeDBResult rc, const CliOpenOpts *o)
{
    switch (rc) {
    case BLAZEDB_AUTH_FAILED:
        cli_error("wrong password for %s", path);
        break;
    case BLAZEDB_BUSY:
        cli_error("%s: database is locked by another process (waited %u ms): %s", path,
                  (unsigned)o->timeout_ms, blazedb_errmsg(NULL));
        break;
    case BLAZEDB_NOT_A_DATABASE:
        cli_error("%s: not a BlazeDB database: %s", path, blazedb_errmsg(NULL));
        break;
    default:
        cli_error("%s: %s", path, blazedb_errmsg(NULL));
        break;
    }
}

BlazeDB *cli_open(const char *path, const CliOpenOpts *o, int *plaintext)
{
    if (plaintext)
        *plaintext = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            cli_error("%s: no such database (create one with 'blazedb create %s')", path, path);
        else
            cli_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_error("%s: is a directory, not a database", path);
        return NULL;
    }
    BlazeDBOptions opts;
    blazedb_options_init(&opts);
    opts.flags = o->readonly ? BLAZEDB_OPEN_READONLY : 0;
    opts.busy_timeout_ms = o->timeout_ms;
    BlazeDB *db = NULL;
    BlazeDBResult rc;
    const char *env = getenv("BLAZEDB_PASSWORD");
    if (!o->password_file && !(env && *env)) {
        /* No password given: a plaintext database opens without one. */
        BlazeDBOptions p = opts;
        p.flags |= BLAZEDB_OPEN_PLAINTEXT;
        rc = blazedb_open_ex(path, "", &p, &db);
        if (rc == BLAZEDB_OK) {
            if (plaintext)
                *plaintext = 1;
            return db;
        }
        if (rc != BLAZEDB_AUTH_FAILED && rc != BLAZEDB_INVALID_ARGUMENT) {
            open_error(path, rc, o);
            return NULL;
        }
    }
    char what[4200];
    snprintf(what, sizeof what, "Password for %s", path);
    char *pw = cli_password(o->password_file, "BLAZEDB_PASSWORD", what, 0);
    if (!pw)
        return NULL;
    rc = blazedb_open_ex(path, pw, &opts, &db);
    cli_password_free(pw);
    if (rc != BLAZEDB_OK) {
        open_error(path, rc, o);
        return NULL;
    }
    return db;
}

/* ---- Ctrl-C relay ------------------------------------------------------------- */

static int g_pipe[2] = {-1, -1};    /* to the relay thread */
static int g_ppipe[2] = {-1, -1};   /* to the shell's prompt (cli_interrupt_fd) */
static pthread_t g_relay;
static int g_relay_started;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static BlazeDB *g_running;
static volatile sig_atomic_t g_flag;

static void on_sigint(int sig)
{
    (void)sig;
    int saved = errno;
    g_flag = 1;
    if (g_pipe[1] >= 0) {
        ssize_t w = write(g_pipe[1], "i", 1);
        (void)w;
    }
    if (g_ppipe[1] >= 0) {
        ssize_t w = write(g_ppipe[1], "i", 1);
        (void)w;
    }
    errno = saved;
}

static void *relay_main(void *arg)
{
    (void)arg;
    for (;;) {
        char c;
        ssize_t n = read(g_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == 'q')
            return NULL;
        pthread_mutex_lock(&g_mu);
        if (g_running)
            blazedb_interrupt(g_running);
        pthread_mutex_unlock(&g_mu);
    }
}

void cli_interrupt_init(void)
{
    if (g_relay_started)
        return;
    if (pipe(g_pipe) != 0)
        return;
    fcntl(g_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(g_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(g_pipe[1], F_SETFL, O_NONBLOCK);
    if (pipe(g_ppipe) == 0) {
        for (int i = 0; i < 2; i++) {
            fcntl(g_ppipe[i], F_SETFD, FD_CLOEXEC);
            fcntl(g_ppipe[i], F_SETFL, O_NONBLOCK);
        }
    }
    /* The relay thread must not take the signal itself. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&g_relay, NULL, relay_main, NULL) == 0)
        g_relay_started = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;    /* no SA_RESTART: a read at the prompt returns EINTR */
    sigaction(SIGINT, &sa, NULL);
}

void cli_interrupt_arm(BlazeDB *db)
{
    pthread_mutex_lock(&g_mu);
    g_running = db;
    pthread_mutex_unlock(&g_mu);
}

void cli_interrupt_disarm(void)
{
    pthread_mutex_lock(&g_mu);
    g_running = NULL;
    pthread_mutex_unlock(&g_mu);
}

int cli_interrupt_fd(void)
{
    return g_ppipe[0];
}

void cli_interrupt_drain(void)
{
    char buf[64];
    if (g_ppipe[0] >= 0)
        while (read(g_ppipe[0], buf, sizeof buf) > 0) {
        }
    g_flag = 0;
}

int cli_interrupted(void)
{
    int f = g_flag;
    g_flag = 0;
    return f;
}

void cli_interrupt_shutdown(void)
{
    if (!g_relay_started)
        return;
    signal(SIGINT, SIG_DFL);
    char q = 'q';
    /* The pipe is non-blocking on the write side; retry if it is full. */
    while (write(g_pipe[1], &q, 1) < 0 && (errno == EINTR || errno == EAGAIN))
        usleep(1000);
    pthread_join(g_relay, NULL);
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
    if (g_ppipe[0] >= 0) {
        close(g_ppipe[0]);
        close(g_ppipe[1]);
        g_ppipe[0] = g_ppipe[1] = -1;
    }
    g_relay_started = 0;
}
