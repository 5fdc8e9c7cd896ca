/*
 * json.c — JSON text <-> DocValue, and JSON text -> binary encoding without
 * a tree (see json.h and docs/DOCUMENTS.md).
 *
 * Why not a JSON library: jansson (the candidate that keeps int64 exact)
 * parses at about 24 MB/s here, builds a hash table per object that we
 * would copy again, and rejects integer literals beyond int64 ("too big
 * integer") where our mapping reads them as doubles.  This reader goes
 * straight to DocValue (doc_from_json), or straight to the bytes
 * (doc_json_to_bin), in one pass.
 *
 * Numbers are converted with the C locale whatever the process locale.
 */
#include "json.h"
#include "textbuf.h"

#include "docbin.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- C locale for strtod/snprintf ---------------------------------------------- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Switches the calling thread to the C locale; returns what to restore. */
static locale_t enter_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t old)
{
    if (old)
        uselocale(old);
}

/* ---- dates -------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

#define DATE_MIN_MS (-62167219200000LL)   /* 0000-01-01T00:00:00.000Z */
#define DATE_MAX_MS 253402300799999LL     /* 9999-12-31T23:59:59.999Z */

int doc_date_format(int64_t ms, char out[25])
{
    if (ms < DATE_MIN_MS || ms > DATE_MAX_MS)
        return 0;
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char t[80];
    snprintf(t, sizeof t, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", (int)y, m, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             (int)(rem % 1000));
    memcpy(out, t, 25); /* always 24 characters: the year is 0..9999 */
    return 1;
}

static int digits(const char *s, size_t n, unsigned *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return 1;
}

int doc_date_parse(const char *s, size_t len, int64_t *ms)
{
    /* YYYY-MM-DDTHH:MM:SS[.f{1,3}]Z */
    unsigned y, mo, d, h, mi, se, frac = 0;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[len - 1] != 'Z')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return 0;
    if (len > 20) {
        size_t nf = len - 21;
        if (s[19] != '.' || nf < 1 || nf > 3 || !digits(s + 20, nf, &frac))
            return 0;
        for (size_t k = nf; k < 3; k++)
            frac *= 10;
    }
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || se > 59)
        return 0;
    *ms = days_from_civil(y, mo, d) * 86400000 + (int64_t)h * 3600000 + mi * 60000 +
          se * 1000 + frac;
    return 1;
}

/* ---- output: TextBuf (textbuf.h) ------------------------------------------------ */

/* ---- the reader: shared by both paths ------------------------------------------ */

/*
 * There are two readers over one lexer (strings, numbers, tagged forms):
 *   - the tree reader (doc_from_json) builds a DocValue tree;
 *   - the direct reader (doc_json_to_bin) writes the canonical binary
 *     encoding as it reads, without a tree and without an allocation per
 *     value (see "the reader, JSON -> binary" below).
 * They check the same things in the same order, so they fail on the same
 * byte with the same message, and the direct reader's bytes equal
 * docbin_encode of the tree reader's value (test_doc and fuzz_doc check
 * both).
 */

/* Field directory of an object being sorted by the direct reader. */
typedef struct {
    const uint8_t *name;
    size_t nlen;
    size_t ns, ve; /* the field's name start and value end in the data area */
} FieldRec;

typedef struct {
    const uint8_t *s, *end, *start;
    int depth;
    int wrappers;      /* tree reader: enclosing {"$object": ...} escapes;
                          each adds a JSON level but no document level */
    char *err;
    int had_nul;       /* the last string read contained \u0000 */
    TextBuf scratch;       /* tree reader: the last string read */
    /* direct reader */
    TextBuf out;           /* the encoding written so far */
    size_t *ends;      /* directories of the open containers, innermost last */
    size_t nends, ends_cap;
    FieldRec *recs;    /* scratch for sorting one object's fields */
    size_t recs_cap;
    TextBuf tmp;           /* scratch copy of one object's data area */
    int fallback;      /* hand the input to the tree reader (see bin_object) */
} P;

static size_t off(const P *p, const uint8_t *at) { return (size_t)(at - p->start); }

static BlazeDBResult perr(P *p, const uint8_t *at, const char *what)
{
    return doc_err(p->err, BLAZEDB_INVALID_ARGUMENT, "invalid JSON at byte %zu: %s",
                   off(p, at), what);
}

static BlazeDBResult poom(P *p)
{
    return doc_err(p->err, BLAZEDB_NOMEM, "out of memory reading JSON");
}

static void skip_ws(P *p)
{
    const uint8_t *s = p->s, *end = p->end; /* locals: stores to the output alias p */
    while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++;
    p->s = s;
}

static int hex4(const uint8_t *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], h;
        if (c >= '0' && c <= '9') h = c - '0';
        else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
        else return 0;
        *v = *v << 4 | h;
    }
    return 1;
}

static void put_utf8(TextBuf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xc0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
    }
    tb_put(b, u, n);
}

/* Length of the UTF-8 sequence at s (s < end, *s >= 0x80), 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, const uint8_t *end)
{
    size_t n = (*s >= 0xc2 && *s <= 0xdf) ? 2 : (*s >= 0xe0 && *s <= 0xef) ? 3
             : (*s >= 0xf0 && *s <= 0xf4) ? 4 : 0;
    if (n == 0 || (size_t)(end - s) < n)
        return 0;
    return doc_utf8_valid(s, n) ? n : 0;
}

/* 1 when one of the 8 bytes of w is not plain string content: below 0x20,
 * 0x80 or above, '"' or '\\' (may also flag a plain byte after a special
 * one; the caller then goes byte by byte). */
static int special8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
    uint64_t ctl = (w - ones * 0x20) & ~w;
    quote = (quote - ones) & ~quote;
    bslash = (bslash - ones) & ~bslash;
    return ((ctl | quote | bslash | w) & high) != 0;
}

/* Reads a string (p->s at the opening quote) and appends its UTF-8 to b. */
static BlazeDBResult read_string(P *p, TextBuf *b)
{
    const uint8_t *s = p->s + 1, *end = p->end;
    p->had_nul = 0;
    for (;;) {
        const uint8_t *run = s;
        while (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (special8(w))
                break;
            s += 8;
        }
        while (s < end && *s != '"' && *s != '\\' && *s >= 0x20 && *s < 0x80)
            s++;
        tb_put(b, run, (size_t)(s - run));
        if (s >= end)
            return perr(p, p->s, "unterminated string");
        if (*s == '"') {
            p->s = s + 1;
            return b->oom ? poom(p) : BLAZEDB_OK;
        }
        if (*s < 0x20)
            return perr(p, s, "control character in string (use \\u escapes)");
        if (*s >= 0x80) {
            size_t n = utf8_seq(s, end);
            if (!n)
                return perr(p, s, "invalid UTF-8");
            tb_put(b, s, n);
            s += n;
            continue;
        }
        /* escape */
        if (end - s < 2)
            return perr(p, s, "unterminated escape");
        char c = (char)s[1];
        const char *map = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *m = NULL;
        for (const char *q = map; *q; q += 2)
            if (*q == c) {
                m = q + 1;
                break;
            }
        if (m) {
            tb_putc(b, *m);
            s += 2;
            continue;
        }
        if (c != 'u')
            return perr(p, s, "invalid escape");
        unsigned cp, lo;
        if (end - s < 6 || !hex4(s + 2, &cp))
            return perr(p, s, "invalid \\u escape");
        s += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return perr(p, s - 6, "lone low surrogate");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || !hex4(s + 2, &lo) ||
                lo < 0xdc00 || lo > 0xdfff)
                return perr(p, s - 6, "high surrogate without a low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            s += 6;
        }
        p->had_nul |= cp == 0;
        put_utf8(b, cp);
    }
}

/* Reads a number (p->s at its first character): *is_int and *i for an
 * integer literal within int64, else *d. */
static BlazeDBResult read_number(P *p, int *is_int, int64_t *i, double *d)
{
    const uint8_t *st = p->s, *s = p->s, *end = p->end;
    int neg = 0, isint = 1;
    *is_int = 0;
    if (s < end && *s == '-') {
        neg = 1;
        s++;
    }
    const uint8_t *dig = s;
    if (s < end && *s == '0') {
        s++;
    } else if (s < end && *s >= '1' && *s <= '9') {
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    } else {
        return perr(p, st, "invalid number");
    }
    const uint8_t *dend = s;
    if (s < end && *s == '.') {
        s++;
        if (s >= end || *s < '0' || *s > '9')
            return perr(p, s, "digit expected after '.'");
        while (s < end && *s >= '0' && *s <= '9')
            s++;
        isint = 0;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || *s < '0' || *s > '9')
            return perr(p, s, "digit expected in exponent");
        while (s < end && *s >= '0' && *s <= '9')
            s++;
        isint = 0;
    }
    p->s = s;
    if (isint) {
        uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = 1;
        for (const uint8_t *q = dig; q < dend && fits; q++) {
            uint64_t dg = (uint64_t)(*q - '0');
            if (mag > (lim - dg) / 10)
                fits = 0;
            else
                mag = mag * 10 + dg;
        }
        if (fits) {
            *i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
            if (neg && mag == (uint64_t)INT64_MAX + 1)
                *i = INT64_MIN;
            *is_int = 1;
            return BLAZEDB_OK;
        }
    }
    /* Exact fast path (Clinger): at most 15 significant digits and a power
     * of ten up to 1e22 are both exact doubles, so one IEEE multiply or
     * divide gives the correctly rounded result, as strtod would. */
    {
        static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                       1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
                                       1e20, 1e21, 1e22};
        uint64_t m = 0;
        int nd = 0, e10 = 0, ok = 1;
        const uint8_t *q = dig;
        for (; q < s && *q >= '0' && *q <= '9'; q++)
            if (nd || *q != '0') {
                m = m * 10 + (uint64_t)(*q - '0');
                nd++;
            }
        if (q < s && *q == '.')
            for (q++; q < s && *q >= '0' && *q <= '9'; q++) {
                if (nd || *q != '0') {
                    m = m * 10 + (uint64_t)(*q - '0');
                    nd++;
                }
                e10--;
                if (nd > 15)
                    break;
            }
        if (nd > 15)
            ok = 0;
        if (ok && q < s && (*q == 'e' || *q == 'E')) {
            int eneg = 0, ev = 0;
            q++;
            if (*q == '+' || *q == '-')
                eneg = *q++ == '-';
            for (; q < s && ev < 1000; q++)
                ev = ev * 10 + (*q - '0');
            if (q < s)
                ok = 0;
            e10 += eneg ? -ev : ev;
        }
        if (ok && e10 >= -22 && e10 <= 22) {
            double x = (double)m;
            x = e10 < 0 ? x / pow10[-e10] : x * pow10[e10];
            *d = neg ? -x : x;
            return BLAZEDB_OK;
        }
    }
    size_t n = (size_t)(s - st);
    char small[64], *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp)
        return poom(p);
    memcpy(tmp, st, n);
    tmp[n] = 0;
    locale_t old = enter_c_locale();
    *d = strtod(tmp, NULL);
    leave_c_locale(old);
    if (tmp != small)
        free(tmp);
    if (isinf(*d))
        return perr(p, st, "number out of the range of a double");
    return BLAZEDB_OK;
}

static const uint8_t b64dig[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict base64 (padded, canonical) -> new BYTES value; NULL + *bad on error. */
static DocValue *b64_decode(const char *s, size_t n, int *badin)
{
    *badin = 1;
    if (n % 4)
        return NULL;
    size_t pad = n && s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    size_t outn = n / 4 * 3 - pad;
    uint8_t *o = malloc(outn ? outn : 1);
    if (!o) {
        *badin = 0;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int j = 0; j < 4; j++) {
            v[j] = b64val((uint8_t)s[i + j]);
            if (v[j] < 0 && !(i + 4 == n && s[i + j] == '=' && j >= 4 - (int)pad)) {
                free(o);
                return NULL;
            }
        }
        uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | (v[2] < 0 ? 0 : v[2]) << 6 |
                                (v[3] < 0 ? 0 : v[3]));
        uint8_t t[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        size_t take = i + 4 == n ? 3 - pad : 3;
        if ((pad == 1 && i + 4 == n && (v[2] & 3)) || (pad == 2 && i + 4 == n && (v[1] & 15))) {
            free(o); /* non-zero bits after the last byte: not canonical */
            return NULL;
        }
        memcpy(o + k, t, take);
        k += take;
    }
    DocValue *r = doc_new_bytes(o, outn);
    free(o);
    if (!r)
        *badin = 0;
    return r;
}

static int uuid_parse(const char *s, size_t n, uint8_t u[16])
{
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return 0;
    int k = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            continue;
        int h;
        char c = s[i];
        if (c >= '0' && c <= '9') h = c - '0';
        else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
        else return 0;
        if (k % 2 == 0)
            u[k / 2] = (uint8_t)(h << 4);
        else
            u[k / 2] |= (uint8_t)h;
        k++;
    }
    return 1;
}

static int tag_is(const char *tag, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(tag, name, n) == 0;
}

static int str_is(const DocValue *v, const char *s)
{
    return v->u.s.len == strlen(s) && memcmp(v->u.s.p, s, v->u.s.len) == 0;
}

/* At most 40 bytes of a tag name go into a message. */
static int tag_shown(size_t tlen) { return (int)(tlen < 40 ? tlen : 40); }

/*
 * The value of a tagged form other than $object: `tag` (tlen bytes) is the
 * one field's name, `v` its value as read (borrowed; strings need no NUL),
 * `at` the object's first byte (for messages).  *out is a new value.
 * Shared by both readers.
 */
static BlazeDBResult tag_value(P *p, const char *tag, size_t tlen, const DocValue *v,
                               const uint8_t *at, DocValue **out)
{
    DocValue *r = NULL;
    char msg[128];
    int badin = 1;
    *out = NULL;
    if (tag_is(tag, tlen, "$double")) {
        if (v->type != DOC_STRING)
            goto bad_form;
        if (str_is(v, "NaN")) r = doc_new_double(NAN);
        else if (str_is(v, "Infinity")) r = doc_new_double(INFINITY);
        else if (str_is(v, "-Infinity")) r = doc_new_double(-INFINITY);
        else goto bad_form;
    } else if (tag_is(tag, tlen, "$date")) {
        int64_t ms;
        if (v->type == DOC_INT)
            r = doc_new_date(v->u.i);
        else if (v->type == DOC_STRING && !memchr(v->u.s.p, 0, v->u.s.len) &&
                 doc_date_parse(v->u.s.p, v->u.s.len, &ms))
            r = doc_new_date(ms);
        else
            goto bad_form;
    } else if (tag_is(tag, tlen, "$uuid")) {
        uint8_t u[16];
        if (v->type != DOC_STRING || !uuid_parse(v->u.s.p, v->u.s.len, u))
            goto bad_form;
        r = doc_new_uuid(u);
    } else if (tag_is(tag, tlen, "$bytes")) {
        if (v->type != DOC_STRING)
            goto bad_form;
        r = b64_decode(v->u.s.p, v->u.s.len, &badin);
        if (!r && badin)
            goto bad_form;
    } else if (tag_is(tag, tlen, "$vector")) {
        if (v->type != DOC_ARRAY)
            goto bad_form;
        r = doc_new_vector(NULL, 0);
        float *fl = r ? malloc((v->u.a.n ? v->u.a.n : 1) * sizeof(float)) : NULL;
        if (r && fl) {
            free(r->u.vec.v);
            r->u.vec.v = fl;
            for (size_t i = 0; i < v->u.a.n; i++) {
                const DocValue *e = v->u.a.v[i];
                float x;
                if (e->type == DOC_INT)
                    x = (float)e->u.i;
                else if (e->type == DOC_DOUBLE && isfinite(e->u.d) &&
                         isfinite(x = (float)e->u.d))
                    ;
                else {
                    doc_free(r);
                    snprintf(msg, sizeof msg,
                             "$vector element %zu is not a finite float32 number", i);
                    return perr(p, at, msg);
                }
                fl[i] = x;
            }
            r->u.vec.n = v->u.a.n;
        } else {
            doc_free(r);
            r = NULL;
        }
    } else {
        snprintf(msg, sizeof msg, "unknown tag \"%.*s\" (to store such an object, "
                 "wrap it: {\"$object\": {...}})", tag_shown(tlen), tag);
        return perr(p, at, msg);
    }
    if (!r)
        return poom(p);
    *out = r;
    return BLAZEDB_OK;
bad_form:
    snprintf(msg, sizeof msg, "malformed %.*s value", tag_shown(tlen), tag);
    return perr(p, at, msg);
}

/* ---- the reader, JSON -> DocValue tree -------------------------------------------- */

static BlazeDBResult finish_literal(P *p, DocValue *o);

/*
 * Interprets a one-field object whose name starts with '$' (a tagged form).
 * Consumes `obj`; returns the new value in *out.
 */
static BlazeDBResult interpret_tag(P *p, DocValue *obj, const uint8_t *at, DocValue **out)
{
    DocField *f = &obj->u.o.f[0];
    DocValue *v = f->val;
    BlazeDBResult rc;
    if (tag_is(f->name, f->nlen, "$object")) {
        if (v->type != DOC_OBJECT) {
            doc_free(obj);
            return perr(p, at, "malformed $object value");
        }
        f->val = NULL;
        doc_free(obj);
        if ((rc = finish_literal(p, v)) != BLAZEDB_OK) {
            doc_free(v);
            return rc;
        }
        *out = v;
        return BLAZEDB_OK;
    }
    rc = tag_value(p, f->name, f->nlen, v, at, out);
    doc_free(obj);
    return rc;
}

static int is_tag_candidate(const DocValue *v)
{
    return v->type == DOC_OBJECT && v->u.o.n == 1 && v->u.o.f[0].name[0] == '$';
}

/*
 * Tagged forms and the $object escape.  Whether {"$object": X} is the escape
 * (X taken literally) or an ordinary object with a field "$object" is known
 * only when the object closes, so the reader leaves an object's first member
 * uninterpreted when its name is "$object" (the object is marked
 * `deferred`) and every other member interpreted.  Then:
 *   finish_normal(v)  - v stands for a value: a one-field '$' object is a
 *                       tagged form (interpret_tag), any other object is
 *                       content (finish_literal);
 *   finish_literal(o) - o is an object taken as is: its deferred "$object"
 *                       member, if any, now stands for a value.
 * The reader keeps each object's offset in `enc` for the messages.
 */
static BlazeDBResult finish_normal(P *p, DocValue *v, DocValue **out)
{
    if (v->type != DOC_OBJECT) {
        *out = v;
        return BLAZEDB_OK;
    }
    if (is_tag_candidate(v))
        return interpret_tag(p, v, p->start + v->enc, out);
    BlazeDBResult rc = finish_literal(p, v);
    if (rc != BLAZEDB_OK) {
        doc_free(v);
        return rc;
    }
    *out = v;
    return BLAZEDB_OK;
}

static BlazeDBResult finish_literal(P *p, DocValue *o)
{
    if (!o->deferred)
        return BLAZEDB_OK;
    o->deferred = 0;
    long at = doc_obj_find(o, "$object", 7, NULL);
    DocValue *c = o->u.o.f[at].val, *nc;
    o->u.o.f[at].val = NULL; /* consumed by finish_normal even on failure */
    BlazeDBResult rc = finish_normal(p, c, &nc);
    if (rc != BLAZEDB_OK)
        return rc;
    o->u.o.f[at].val = nc;
    return BLAZEDB_OK;
}

static BlazeDBResult read_value(P *p, DocValue **out);

/* Reads an object, leaving it uninterpreted (see above). */
static BlazeDBResult read_object(P *p, DocValue **out)
{
    const uint8_t *at = p->s;
    BlazeDBResult rc;
    /* A document at the depth limit written with $object escapes nests
     * deeper in JSON than in the document: allow one more level per
     * enclosing escape (at most DOC_MAX_DEPTH of them). */
    if (++p->depth > DOC_MAX_DEPTH + p->wrappers)
        return perr(p, at, "nesting deeper than 64 levels");
    DocValue *o = doc_new(DOC_OBJECT);
    if (!o)
        return poom(p);
    o->enc = off(p, at);
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == '}') {
        p->s++;
        goto done;
    }
    for (;;) {
        skip_ws(p);
        if (p->s >= p->end || *p->s != '"') {
            rc = perr(p, p->s, "string (field name) expected");
            goto fail;
        }
        const uint8_t *kat = p->s;
        p->scratch.n = 0;
        if ((rc = read_string(p, &p->scratch)) != BLAZEDB_OK)
            goto fail;
        if (p->scratch.n > DOC_MAX_NAME || p->had_nul) {
            rc = perr(p, kat, "field name longer than 65535 bytes or containing NUL");
            goto fail;
        }
        size_t nlen = p->scratch.n;
        char *name = malloc(nlen + 1);
        if (!name) {
            rc = poom(p);
            goto fail;
        }
        if (nlen)
            memcpy(name, p->scratch.p, nlen);
        name[nlen] = 0;
        skip_ws(p);
        if (p->s >= p->end || *p->s != ':') {
            free(name);
            rc = perr(p, p->s, "':' expected");
            goto fail;
        }
        p->s++;
        skip_ws(p);
        DocValue *v = NULL;
        int wrap = o->u.o.n == 0 && nlen == 7 && memcmp(name, "$object", 7) == 0 &&
                   p->wrappers < DOC_MAX_DEPTH;
        p->wrappers += wrap;
        rc = read_value(p, &v);
        p->wrappers -= wrap;
        if (rc != BLAZEDB_OK) {
            free(name);
            goto fail;
        }
        if (o->u.o.n == 0 && nlen == 7 && memcmp(name, "$object", 7) == 0)
            o->deferred = 1;
        else if ((rc = finish_normal(p, v, &v)) != BLAZEDB_OK) {
            free(name);
            goto fail;
        }
        if ((rc = doc_obj_append(o, name, nlen, v)) != BLAZEDB_OK) {
            rc = poom(p);
            goto fail;
        }
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == '}') {
            p->s++;
            break;
        }
        rc = perr(p, p->s, "',' or '}' expected");
        goto fail;
    }
    long dup = doc_obj_sort(o);
    if (dup >= 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "duplicate field name \"%.40s\" in this object",
                 o->u.o.f[dup].name);
        rc = perr(p, at, msg);
        goto fail;
    }
done:
    p->depth--;
    *out = o;
    return BLAZEDB_OK;
fail:
    doc_free(o);
    return rc;
}

static BlazeDBResult read_array(P *p, DocValue **out)
{
    const uint8_t *at = p->s;
    BlazeDBResult rc;
    if (++p->depth > DOC_MAX_DEPTH + p->wrappers)
        return perr(p, at, "nesting deeper than 64 levels");
    DocValue *a = doc_new(DOC_ARRAY);
    if (!a)
        return poom(p);
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
        goto done;
    }
    for (;;) {
        skip_ws(p);
        DocValue *v = NULL;
        if ((rc = read_value(p, &v)) != BLAZEDB_OK || (rc = finish_normal(p, v, &v)) != BLAZEDB_OK)
            goto fail;
        if (doc_arr_push(a, v) != BLAZEDB_OK) {
            rc = poom(p);
            goto fail;
        }
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == ']') {
            p->s++;
            break;
        }
        rc = perr(p, p->s, "',' or ']' expected");
        goto fail;
    }
done:
    p->depth--;
    *out = a;
    return BLAZEDB_OK;
fail:
    doc_free(a);
    return rc;
}

/* The error for a byte that cannot start a value. */
static BlazeDBResult bad_value_start(P *p)
{
    if (p->s >= p->end)
        return perr(p, p->s, "value expected, end of input found");
    if (*p->s >= 0x80 && !utf8_seq(p->s, p->end))
        return perr(p, p->s, "invalid UTF-8");
    return perr(p, p->s, "unexpected character");
}

/* 1 and p->s moved past `word` when the input continues with it. */
static int take_word(P *p, const char *word, size_t n)
{
    if ((size_t)(p->end - p->s) < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p->s[i] != (uint8_t)word[i])
            return 0;
    p->s += n;
    return 1;
}

static BlazeDBResult read_value(P *p, DocValue **out)
{
    BlazeDBResult rc;
    if (p->s >= p->end)
        return bad_value_start(p);
    switch (*p->s) {
    case '{': return read_object(p, out);
    case '[': return read_array(p, out);
    case '"':
        p->scratch.n = 0;
        if ((rc = read_string(p, &p->scratch)) != BLAZEDB_OK)
            return rc;
        *out = doc_new_string(p->scratch.n ? p->scratch.p : "", p->scratch.n);
        break;
    case 't':
        if (!take_word(p, "true", 4))
            return bad_value_start(p);
        *out = doc_new_bool(1);
        break;
    case 'f':
        if (!take_word(p, "false", 5))
            return bad_value_start(p);
        *out = doc_new_bool(0);
        break;
    case 'n':
        if (!take_word(p, "null", 4))
            return bad_value_start(p);
        *out = doc_new(DOC_NULL);
        break;
    default: {
        int is_int;
        int64_t i;
        double d;
        if (*p->s != '-' && (*p->s < '0' || *p->s > '9'))
            return bad_value_start(p);
        if ((rc = read_number(p, &is_int, &i, &d)) != BLAZEDB_OK)
            return rc;
        *out = is_int ? doc_new_int(i) : doc_new_double(d);
        break;
    }
    }
    return *out ? BLAZEDB_OK : poom(p);
}

/* Common checks before reading; 0 when the input is refused (rc set). */
static int reader_start(P *p, const char *text, size_t len, char *err, BlazeDBResult *rc)
{
    memset(p, 0, sizeof *p);
    p->err = err;
    if (!text) {
        *rc = doc_err(err, BLAZEDB_INVALID_ARGUMENT, "JSON text is NULL");
        return 0;
    }
    if (len > BLAZEDB_MAX_VALUE) {
        *rc = doc_err(err, BLAZEDB_TOO_BIG, "JSON text of %zu bytes is larger than %u",
                      len, BLAZEDB_MAX_VALUE);
        return 0;
    }
    p->s = p->start = (const uint8_t *)text;
    p->end = p->s + len;
    skip_ws(p);
    return 1;
}

/* After the value: only whitespace may follow. */
static BlazeDBResult reader_end(P *p)
{
    skip_ws(p);
    return p->s == p->end ? BLAZEDB_OK : perr(p, p->s, "unexpected data after the JSON value");
}

BlazeDBResult doc_from_json(const char *text, size_t len, DocValue **out,
                            char err[DOC_ERRMAX])
{
    P p;
    BlazeDBResult rc;
    DocValue *v = NULL;
    *out = NULL;
    if (!reader_start(&p, text, len, err, &rc))
        return rc;
    rc = read_value(&p, &v);
    if (rc == BLAZEDB_OK)
        rc = finish_normal(&p, v, &v);
    if (rc == BLAZEDB_OK && (rc = reader_end(&p)) != BLAZEDB_OK)
        doc_free(v);
    else if (rc == BLAZEDB_OK)
        *out = v;
    free(p.scratch.p);
    return rc;
}

/* ---- the reader, JSON -> binary directly -------------------------------------------- */

/*
 * bin_value appends the encoding of the value at p->s to p->out.  A
 * container's encoding starts with its header, whose size is known only at
 * the end (the offset width depends on the count and the data size), so a
 * container is written as its data area first, with its directory entries
 * pushed on p->ends (relative to the data area), and at the close the data
 * area moves up by the header's size and the header is written in front
 * (bin_close).  Objects are written in input order and reordered by name at
 * the close when they are not already sorted (bin_sort_fields); a one-field
 * '$' object is replaced by the value it stands for (bin_tag).
 *
 * What the direct reader leaves to the tree reader (p->fallback, then
 * json_to_bin_via_tree reads the whole input again):
 *   - an object whose first field is named "$object": whether its value is
 *     read literally depends on fields not read yet (see finish_normal);
 *     such objects are rare (the writer emits them only to escape an object
 *     with one '$' field);
 *   - an encoding growing past BLAZEDB_MAX_VALUE (the tree path answers
 *     TOO_BIG, or an error found later in the text).
 * The answer is the same either way; only the time differs.
 */

static BlazeDBResult bin_value(P *p);

static BlazeDBResult fall_back(P *p)
{
    p->fallback = 1;
    return BLAZEDB_INTERNAL_ERROR; /* unwinds; doc_json_to_bin sees the flag */
}

static int ends_grow(P *p)
{
    size_t cap = p->ends_cap ? p->ends_cap * 2 : 64;
    size_t *e = realloc(p->ends, cap * sizeof *e);
    if (!e)
        return 0;
    p->ends = e;
    p->ends_cap = cap;
    return 1;
}

/* Appends one directory entry (a) or two (a and b, when two is set). */
static inline int ends_push(P *p, size_t a, size_t b, int two)
{
    size_t n = p->nends;
    if (n + 2 > p->ends_cap && !ends_grow(p))
        return 0;
    p->ends[n] = a;
    p->ends[n + 1] = b;
    p->nends = n + 1 + (two != 0);
    return 1;
}

/*
 * Writes the header of the container whose data area is p->out[start..)
 * and whose directory is p->ends[base..) in front of the data area, which
 * moves up.  With `recs` (an object's fields in name order, see
 * bin_sort_fields) the fields are moved into that order on the way.
 */
static BlazeDBResult bin_close(P *p, DocType type, size_t start, size_t base,
                               const FieldRec *recs)
{
    size_t k = p->nends - base, n = type == DOC_OBJECT ? k / 2 : k;
    size_t dlen = p->out.n - start, head = docbin_head_size(type, n, dlen);
    size_t *e = k ? p->ends + base : NULL; /* ends is NULL until a first element */
    if (dlen + head > BLAZEDB_MAX_VALUE)
        return fall_back(p);
    if (!tb_grow(&p->out, head))
        return poom(p);
    uint8_t *d = (uint8_t *)p->out.p + start;
    if (!recs) {
        memmove(d + head, d, dlen);
    } else {
        /* copy the data area aside, then back field by field in name order */
        p->tmp.n = 0;
        tb_put(&p->tmp, d, dlen);
        if (p->tmp.oom)
            return poom(p);
        const uint8_t *old = (const uint8_t *)p->tmp.p;
        size_t q = 0;
        for (size_t i = 0; i < n; i++) {
            size_t flen = recs[i].ve - recs[i].ns;
            memcpy(d + head + q, old + recs[i].ns, flen);
            e[2 * i] = q + recs[i].nlen;
            q += flen;
            e[2 * i + 1] = q;
        }
    }
    docbin_put_head(d, type, n, dlen, e);
    p->out.n += head;
    p->nends = base;
    return BLAZEDB_OK;
}

/* Name of field i of the open object whose data area starts at out[start]. */
static const char *field_name(const P *p, size_t start, size_t base, size_t i, size_t *len)
{
    const size_t *e = p->ends + base;
    size_t ns = i ? e[2 * i - 1] : 0;
    *len = e[2 * i] - ns;
    return p->out.p + start + ns;
}

static int rec_cmp(const void *x, const void *y)
{
    const FieldRec *a = x, *b = y;
    return doc_name_cmp((const char *)a->name, a->nlen, (const char *)b->name, b->nlen);
}

/*
 * The object being closed (data area p->out[start..), directory
 * p->ends[base..base+2n)) is not in name order: sorts its fields into
 * p->recs for bin_close and refuses a duplicate name (as doc_obj_sort does
 * for the tree reader).
 */
static BlazeDBResult bin_sort_fields(P *p, const uint8_t *at, size_t start, size_t base,
                                     size_t n)
{
    size_t *e = p->ends + base;
    const uint8_t *d = (const uint8_t *)p->out.p + start;
    if (n > p->recs_cap) {
        FieldRec *r = realloc(p->recs, n * sizeof *r);
        if (!r)
            return poom(p);
        p->recs = r;
        p->recs_cap = n;
    }
    FieldRec *r = p->recs;
    for (size_t i = 0; i < n; i++) {
        size_t ns = i ? e[2 * i - 1] : 0;
        r[i] = (FieldRec){d + ns, e[2 * i] - ns, ns, e[2 * i + 1]};
    }
    if (n <= 16) { /* insertion sort: small objects are the common case */
        for (size_t i = 1; i < n; i++) {
            FieldRec x = r[i];
            size_t j = i;
            while (j > 0 && rec_cmp(&r[j - 1], &x) > 0) {
                r[j] = r[j - 1];
                j--;
            }
            r[j] = x;
        }
    } else {
        qsort(r, n, sizeof *r, rec_cmp);
    }
    for (size_t i = 1; i < n; i++)
        if (rec_cmp(&r[i - 1], &r[i]) == 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "duplicate field name \"%.*s\" in this object",
                     (int)(r[i].nlen < 40 ? r[i].nlen : 40), (const char *)r[i].name);
            return perr(p, at, msg);
        }
    return BLAZEDB_OK;
}

/*
 * The object just read (data area p->out[start..), one field whose name
 * starts with '$', not "$object") is a tagged form: its encoding is
 * replaced by the value it stands for, as tag_value decides for the tree
 * reader.
 */
static BlazeDBResult bin_tag(P *p, const uint8_t *at, size_t start, size_t base)
{
    char err[DOC_ERRMAX];
    const uint8_t *d = (const uint8_t *)p->out.p + start;
    size_t ne = p->ends[base], ve = p->ends[base + 1];
    DocView view;
    DocValue tmp, *arr = NULL, *r = NULL;
    const DocValue *v = &tmp;
    BlazeDBResult rc;
    /* the value as tag_value wants it: strings and ints borrowed in place,
     * an array ($vector) decoded */
    if (docbin_lookup(d + ne, ve - ne, "", &view) != BLAZEDB_OK)
        return doc_err(p->err, BLAZEDB_INTERNAL_ERROR, "JSON reader wrote a bad value");
    memset(&tmp, 0, sizeof tmp);
    tmp.type = (uint8_t)view.type;
    if (view.type == DOC_STRING) {
        tmp.u.s.p = (char *)view.data;
        tmp.u.s.len = view.dlen;
    } else if (view.type == DOC_INT) {
        tmp.u.i = view.i;
    } else if (view.type == DOC_ARRAY) {
        if ((rc = docbin_decode(d + ne, ve - ne, &arr, err)) != BLAZEDB_OK)
            return rc == BLAZEDB_NOMEM ? poom(p) : doc_err(p->err, rc, "%s", err);
        v = arr;
    }
    rc = tag_value(p, (const char *)d, ne, v, at, &r);
    doc_free(arr);
    if (rc != BLAZEDB_OK)
        return rc;
    /* replace the object by the value's encoding */
    uint8_t *enc;
    size_t elen;
    rc = docbin_encode(r, &enc, &elen, err);
    doc_free(r);
    if (rc != BLAZEDB_OK)
        return rc == BLAZEDB_NOMEM ? poom(p) : doc_err(p->err, rc, "%s", err);
    p->out.n = start;
    p->nends = base;
    tb_put(&p->out, enc, elen);
    free(enc);
    return p->out.oom ? poom(p) : BLAZEDB_OK;
}

static BlazeDBResult bin_object(P *p)
{
    const uint8_t *at = p->s;
    BlazeDBResult rc;
    if (++p->depth > DOC_MAX_DEPTH)
        return perr(p, at, "nesting deeper than 64 levels");
    size_t start = p->out.n, base = p->nends;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == '}') {
        p->s++;
        p->depth--;
        return bin_close(p, DOC_OBJECT, start, base, NULL);
    }
    for (;;) {
        skip_ws(p);
        if (p->s >= p->end || *p->s != '"')
            return perr(p, p->s, "string (field name) expected");
        const uint8_t *kat = p->s;
        size_t ns = p->out.n;
        if ((rc = read_string(p, &p->out)) != BLAZEDB_OK)
            return rc;
        size_t nlen = p->out.n - ns;
        if (nlen > DOC_MAX_NAME || p->had_nul)
            return perr(p, kat, "field name longer than 65535 bytes or containing NUL");
        if (nlen == 7 && p->out.p[ns] == '$' && p->nends == base &&
            memcmp(p->out.p + ns, "$object", 7) == 0)
            return fall_back(p);
        skip_ws(p);
        if (p->s >= p->end || *p->s != ':')
            return perr(p, p->s, "':' expected");
        p->s++;
        skip_ws(p);
        if ((rc = bin_value(p)) != BLAZEDB_OK)
            return rc;
        if (!ends_push(p, ns + nlen - start, p->out.n - start, 1))
            return poom(p);
        if (p->out.n - start > BLAZEDB_MAX_VALUE)
            return fall_back(p);
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == '}') {
            p->s++;
            break;
        }
        return perr(p, p->s, "',' or '}' expected");
    }
    p->depth--;
    size_t n = (p->nends - base) / 2, alen, blen;
    const char *a = field_name(p, start, base, 0, &alen), *b;
    if (n == 1 && alen > 0 && a[0] == '$')
        return bin_tag(p, at, start, base);
    /* in name order (strictly, so no duplicates) unless shown otherwise */
    for (size_t i = 1; i < n; i++, a = b, alen = blen) {
        b = field_name(p, start, base, i, &blen);
        if (doc_name_cmp(a, alen, b, blen) >= 0) {
            if ((rc = bin_sort_fields(p, at, start, base, n)) != BLAZEDB_OK)
                return rc;
            return bin_close(p, DOC_OBJECT, start, base, p->recs);
        }
    }
    return bin_close(p, DOC_OBJECT, start, base, NULL);
}

static BlazeDBResult bin_array(P *p)
{
    const uint8_t *at = p->s;
    BlazeDBResult rc;
    if (++p->depth > DOC_MAX_DEPTH)
        return perr(p, at, "nesting deeper than 64 levels");
    size_t start = p->out.n, base = p->nends;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == ']') {
        p->s++;
        p->depth--;
        return bin_close(p, DOC_ARRAY, start, base, NULL);
    }
    for (;;) {
        skip_ws(p);
        if ((rc = bin_value(p)) != BLAZEDB_OK)
            return rc;
        if (!ends_push(p, p->out.n - start, 0, 0))
            return poom(p);
        if (p->out.n - start > BLAZEDB_MAX_VALUE)
            return fall_back(p);
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == ']') {
            p->s++;
            break;
        }
        return perr(p, p->s, "',' or ']' expected");
    }
    p->depth--;
    return bin_close(p, DOC_ARRAY, start, base, NULL);
}

static BlazeDBResult bin_value(P *p)
{
    TextBuf *o = &p->out;
    BlazeDBResult rc;
    if (p->s >= p->end)
        return bad_value_start(p);
    if (!tb_grow(o, DOCBIN_SCALAR_MAX))
        return poom(p);
    uint8_t *dst = (uint8_t *)o->p + o->n;
    switch (*p->s) {
    case '{': return bin_object(p);
    case '[': return bin_array(p);
    case '"':
        o->p[o->n++] = DOC_STRING;
        return read_string(p, o);
    case 't':
        if (!take_word(p, "true", 4))
            return bad_value_start(p);
        dst[0] = DOC_BOOL;
        dst[1] = 1;
        o->n += 2;
        return BLAZEDB_OK;
    case 'f':
        if (!take_word(p, "false", 5))
            return bad_value_start(p);
        dst[0] = DOC_BOOL;
        dst[1] = 0;
        o->n += 2;
        return BLAZEDB_OK;
    case 'n':
        if (!take_word(p, "null", 4))
            return bad_value_start(p);
        dst[0] = DOC_NULL;
        o->n += 1;
        return BLAZEDB_OK;
    default: {
        int is_int;
        int64_t i;
        double d;
        if (*p->s != '-' && (*p->s < '0' || *p->s > '9'))
            return bad_value_start(p);
        if ((rc = read_number(p, &is_int, &i, &d)) != BLAZEDB_OK)
            return rc;
        o->n += is_int ? docbin_put_int(dst, DOC_INT, i) : docbin_put_double(dst, d);
        return BLAZEDB_OK;
    }
    }
}

/* The slow path: a tree, then its encoding. */
static BlazeDBResult json_to_bin_via_tree(const char *text, size_t len, uint8_t **out,
                                          size_t *outlen, char *err)
{
    DocValue *v;
    BlazeDBResult rc = doc_from_json(text, len, &v, err);
    if (rc == BLAZEDB_OK) {
        rc = docbin_encode(v, out, outlen, err);
        doc_free(v);
    }
    return rc;
}

BlazeDBResult doc_json_to_bin(const char *text, size_t len, uint8_t **out, size_t *outlen,
                              char err[DOC_ERRMAX])
{
    P p;
    BlazeDBResult rc;
    *out = NULL;
    *outlen = 0;
    if (!reader_start(&p, text, len, err, &rc))
        return rc;
    /* the encoding is rarely much larger than the text: one allocation */
    if (!tb_grow(&p.out, len + 64))
        return poom(&p);
    rc = bin_value(&p);
    if (rc == BLAZEDB_OK)
        rc = reader_end(&p);
    if (rc == BLAZEDB_OK && p.out.n > BLAZEDB_MAX_VALUE)
        fall_back(&p);
    free(p.ends);
    free(p.recs);
    free(p.tmp.p);
    if (p.fallback) {
        free(p.out.p);
        return json_to_bin_via_tree(text, len, out, outlen, err);
    }
    if (rc != BLAZEDB_OK) {
        free(p.out.p);
        return rc;
    }
    *out = (uint8_t *)p.out.p;
    *outlen = p.out.n;
    return BLAZEDB_OK;
}

/* ---- the writer -------------------------------------------------------------------- */

/* Ensures a number text reads back as a double, not an integer. */
static void put_real_text(TextBuf *b, const char *t)
{
    tb_str(b, t);
    if (!strpbrk(t, ".eE"))
        tb_put(b, ".0", 2);
}

static void put_double(TextBuf *b, double d)
{
    char t[40];
    if (isnan(d)) { tb_str(b, "{\"$double\":\"NaN\"}"); return; }
    if (isinf(d)) { tb_str(b, d > 0 ? "{\"$double\":\"Infinity\"}" : "{\"$double\":\"-Infinity\"}"); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    put_real_text(b, t);
}

static void put_float(TextBuf *b, float f)
{
    char t[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, (double)f);
        if ((float)strtod(t, NULL) == f)
            break;
    }
    put_real_text(b, t);
}

static void newline(TextBuf *b, unsigned flags, int level)
{
    if (!(flags & DOC_JSON_PRETTY))
        return;
    tb_putc(b, '\n');
    for (int i = 0; i < level; i++)
        tb_put(b, "  ", 2);
}

static void write_value(TextBuf *b, const DocValue *v, unsigned flags, int level)
{
    char t[64];
    switch (v->type) {
    case DOC_NULL: tb_str(b, "null"); break;
    case DOC_BOOL: tb_str(b, v->u.b ? "true" : "false"); break;
    case DOC_INT:
        snprintf(t, sizeof t, "%lld", (long long)v->u.i);
        tb_str(b, t);
        break;
    case DOC_DOUBLE: put_double(b, v->u.d); break;
    case DOC_STRING: tb_json_string(b, v->u.s.p, v->u.s.len); break;
    case DOC_DATE:
        tb_str(b, "{\"$date\":");
        if (doc_date_format(v->u.i, t)) {
            tb_putc(b, '"');
            tb_str(b, t);
            tb_putc(b, '"');
        } else {
            snprintf(t, sizeof t, "%lld", (long long)v->u.i);
            tb_str(b, t);
        }
        tb_putc(b, '}');
        break;
    case DOC_UUID: {
        const uint8_t *u = v->u.uuid;
        snprintf(t, sizeof t,
                 "{\"$uuid\":\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                 "%02x%02x%02x%02x%02x%02x\"}",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                 u[12], u[13], u[14], u[15]);
        tb_str(b, t);
        break;
    }
    case DOC_BYTES: {
        const uint8_t *s = (const uint8_t *)v->u.s.p;
        size_t n = v->u.s.len;
        tb_str(b, "{\"$bytes\":\"");
        if (!tb_grow(b, (n + 2) / 3 * 4))
            break;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                         (i + 2 < n ? s[i + 2] : 0);
            char q[4] = {(char)b64dig[w >> 18], (char)b64dig[w >> 12 & 63],
                         i + 1 < n ? (char)b64dig[w >> 6 & 63] : '=',
                         i + 2 < n ? (char)b64dig[w & 63] : '='};
            tb_put(b, q, 4);
        }
        tb_str(b, "\"}");
        break;
    }
    case DOC_VECTOR:
        tb_str(b, "{\"$vector\":[");
        for (size_t i = 0; i < v->u.vec.n; i++) {
            if (i)
                tb_putc(b, ',');
            put_float(b, v->u.vec.v[i]);
        }
        tb_str(b, "]}");
        break;
    case DOC_ARRAY:
        tb_putc(b, '[');
        for (size_t i = 0; i < v->u.a.n; i++) {
            if (i)
                tb_putc(b, ',');
            newline(b, flags, level + 1);
            write_value(b, v->u.a.v[i], flags, level + 1);
        }
        if (v->u.a.n)
            newline(b, flags, level);
        tb_putc(b, ']');
        break;
    case DOC_OBJECT: {
        /* an object that would read back as a tagged form is wrapped */
        int wrap = is_tag_candidate(v);
        if (wrap) {
            tb_str(b, (flags & DOC_JSON_PRETTY) ? "{\"$object\": " : "{\"$object\":");
        }
        tb_putc(b, '{');
        for (size_t i = 0; i < v->u.o.n; i++) {
            if (i)
                tb_putc(b, ',');
            newline(b, flags, level + 1);
            tb_json_string(b, v->u.o.f[i].name, v->u.o.f[i].nlen);
            tb_str(b, (flags & DOC_JSON_PRETTY) ? ": " : ":");
            write_value(b, v->u.o.f[i].val, flags, level + 1);
        }
        if (v->u.o.n)
            newline(b, flags, level);
        tb_putc(b, '}');
        if (wrap)
            tb_putc(b, '}');
        break;
    }
    default: break;
    }
}

/*
 * The writer over the binary form: the same text as write_value on the
 * decoded tree, read straight from the bytes.  Scalars go through
 * write_value on a stack DocValue that borrows the payload (put_string
 * needs no NUL); containers and vectors are walked here.  0 when the
 * bytes are not well formed (callers pass validated bytes).
 */
static int write_view(TextBuf *b, const DocView *v, unsigned flags, int level)
{
    DocValue tmp;
    DocView el;
    memset(&tmp, 0, sizeof tmp);
    tmp.type = (uint8_t)v->type;
    switch (v->type) {
    case DOC_NULL: break;
    case DOC_BOOL: tmp.u.b = v->b; break;
    case DOC_INT:
    case DOC_DATE: tmp.u.i = v->i; break;
    case DOC_DOUBLE: tmp.u.d = v->d; break;
    case DOC_STRING:
    case DOC_BYTES:
        tmp.u.s.p = (char *)(uintptr_t)v->data;
        tmp.u.s.len = v->dlen;
        break;
    case DOC_UUID: memcpy(tmp.u.uuid, v->data, 16); break;
    case DOC_VECTOR:
        tb_str(b, "{\"$vector\":[");
        for (size_t i = 0; i < v->count; i++) {
            const uint8_t *q = v->data + 4 * i;
            uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                            (uint32_t)q[3] << 24;
            float f;
            memcpy(&f, &bits, 4);
            if (i)
                tb_putc(b, ',');
            put_float(b, f);
        }
        tb_str(b, "]}");
        return 1;
    case DOC_ARRAY:
        if (level >= DOC_MAX_DEPTH)
            return 0;
        tb_putc(b, '[');
        for (size_t i = 0; i < v->count; i++) {
            if (i)
                tb_putc(b, ',');
            newline(b, flags, level + 1);
            if (docbin_view_elem(v, i, &el) != BLAZEDB_OK ||
                !write_view(b, &el, flags, level + 1))
                return 0;
        }
        if (v->count)
            newline(b, flags, level);
        tb_putc(b, ']');
        return 1;
    case DOC_OBJECT: {
        const uint8_t *name;
        size_t nlen;
        int wrap = 0;
        if (level >= DOC_MAX_DEPTH)
            return 0;
        /* an object that would read back as a tagged form is wrapped
         * (is_tag_candidate on the bytes) */
        if (v->count == 1) {
            if (docbin_view_field(v, 0, &name, &nlen, &el) != BLAZEDB_OK)
                return 0;
            wrap = nlen > 0 && name[0] == '$';
        }
        if (wrap)
            tb_str(b, (flags & DOC_JSON_PRETTY) ? "{\"$object\": " : "{\"$object\":");
        tb_putc(b, '{');
        for (size_t i = 0; i < v->count; i++) {
            if (i)
                tb_putc(b, ',');
            newline(b, flags, level + 1);
            if (docbin_view_field(v, i, &name, &nlen, &el) != BLAZEDB_OK)
                return 0;
            tb_json_string(b, (const char *)name, nlen);
            tb_str(b, (flags & DOC_JSON_PRETTY) ? ": " : ":");
            if (!write_view(b, &el, flags, level + 1))
                return 0;
        }
        if (v->count)
            newline(b, flags, level);
        tb_putc(b, '}');
        if (wrap)
            tb_putc(b, '}');
        return 1;
    }
    default: return 0;
    }
    write_value(b, &tmp, flags, level);
    return 1;
}

/* Finishes a writer's buffer: the NUL, *out and *len, or the error. */
static BlazeDBResult json_out(TextBuf *b, int ok, char **out, size_t *len, char *err)
{
    tb_putc(b, 0);
    if (!ok) {
        free(b->p);
        return doc_err(err, BLAZEDB_CORRUPT, "corrupt document bytes while writing JSON");
    }
    if (b->oom) {
        free(b->p);
        return doc_err(err, BLAZEDB_NOMEM, "out of memory writing JSON");
    }
    *out = b->p;
    *len = b->n - 1;
    return BLAZEDB_OK;
}

BlazeDBResult doc_bin_to_json(const uint8_t *buf, size_t len, unsigned flags, char **out,
                              size_t *outlen, char err[DOC_ERRMAX])
{
    TextBuf b = {0};
    DocView v;
    *out = NULL;
    *outlen = 0;
    int ok = docbin_lookup_valid(buf, len, "", &v) == BLAZEDB_OK;
    if (ok) {
        locale_t old = enter_c_locale();
        ok = write_view(&b, &v, flags, 0);
        leave_c_locale(old);
    }
    return json_out(&b, ok, out, outlen, err);
}

BlazeDBResult doc_to_json(const DocValue *v, unsigned flags, char **out, size_t *len,
                          char err[DOC_ERRMAX])
{
    TextBuf b = {0};
    *out = NULL;
    *len = 0;
    locale_t old = enter_c_locale();
    write_value(&b, v, flags, 0);
    leave_c_locale(old);
    return json_out(&b, 1, out, len, err);
}
