/*
 * textbuf.h — a growable text buffer: what the JSON writer, the SQL
 * renderer, EXPLAIN, the builder's SQL, the metrics and health reports and
 * the integrity-check report build their text in.
 *
 * Owns: the buffer and JSON string quoting (the one escaping every JSON
 * text BlazeDB writes uses).  Not: number or document formatting (json.c).
 *
 * Out of memory is sticky: the first failed growth sets `oom`, later
 * writes do nothing, and the owner checks `oom` once at the end.  While p
 * is not NULL it is NUL-terminated at p[n].  Release with free(b.p).
 */
#ifndef BLAZEDB_DOC_TEXTBUF_H
#define BLAZEDB_DOC_TEXTBUF_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} TextBuf;

/* Makes room for `more` bytes (and the NUL); 0 when out of memory. */
int tb_grow_slow(TextBuf *b, size_t more);
static inline int tb_grow(TextBuf *b, size_t more)
{
    return (!b->oom && b->n + more < b->cap) || tb_grow_slow(b, more);
}

static inline void tb_put(TextBuf *b, const void *s, size_t n)
{
    if (tb_grow(b, n)) {
        if (n)
            memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
    }
}

static inline void tb_putc(TextBuf *b, char c)
{
    if (tb_grow(b, 1)) {
        b->p[b->n++] = c;
        b->p[b->n] = 0;
    }
}

static inline void tb_str(TextBuf *b, const char *s) { tb_put(b, s, strlen(s)); }

void tb_printf(TextBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s[0..n) as a JSON string: quotes, backslashes and control characters
 * escaped (\n \r \t \b \f by name, others as \u00XX); other bytes, UTF-8
 * included, pass through. */
void tb_json_string(TextBuf *b, const char *s, size_t n);
/* The same for a NUL-terminated string (NULL writes ""). */
static inline void tb_json_cstr(TextBuf *b, const char *s)
{
    tb_json_string(b, s ? s : "", s ? strlen(s) : 0);
}

#endif /* BLAZEDB_DOC_TEXTBUF_H */
