/*
 * textbuf.c — the growable text buffer and JSON string quoting
 * (textbuf.h).
 */
#include "textbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int tb_grow_slow(TextBuf *b, size_t more)
{
    if (b->oom)
        return 0;
    if (b->n + more < b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->n + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void tb_printf(TextBuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        tb_put(b, tmp, (size_t)n);
        return;
    }
    if (!tb_grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void tb_json_string(TextBuf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    tb_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (i < n && (uint8_t)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
            i++;
        tb_put(b, s + run, i - run);
        if (i >= n)
            break;
        char c = s[i++], e[6] = {'\\', 0, 0, 0, 0, 0};
        switch (c) {
        case '"': e[1] = '"'; tb_put(b, e, 2); break;
        case '\\': e[1] = '\\'; tb_put(b, e, 2); break;
        case '\n': e[1] = 'n'; tb_put(b, e, 2); break;
        case '\r': e[1] = 'r'; tb_put(b, e, 2); break;
        case '\t': e[1] = 't'; tb_put(b, e, 2); break;
        case '\b': e[1] = 'b'; tb_put(b, e, 2); break;
        case '\f': e[1] = 'f'; tb_put(b, e, 2); break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hexd[(uint8_t)c >> 4];
            e[5] = hexd[c & 15];
            tb_put(b, e, 6);
        }
    }
    tb_putc(b, '"');
}
