/*
 * json.c — JSON text <-> DocValue (see json.h and docs/DOCUMENTS.md).
 *
 * Why not a JSON library: jansson (the candidate that keeps int64 exact)
 * parses at about 24 MB/s here, builds a hash table per object that we
 * would copy again, and rejects integer literals beyond int64 ("too big
 * integer") where our mapping reads them as doubles.  This reader goes
 * straight to DocValue in one pass.
 *
 * Numbers are converted with the C locale whatever the process locale.
 */
#include "json.h"

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

/* ---- output buffer ------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} Buf;

static int buf_grow(Buf *b, size_t more)
{
    if (b->oom)
        return 0;
    if (b->n + more <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more)
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

static void put(Buf *b, const void *s, size_t n)
{
    if (n && buf_grow(b, n)) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
}

static void putc1(Buf *b, char c)
{
    if (buf_grow(b, 1))
        b->p[b->n++] = c;
}

static void puts0(Buf *b, const char *s) { put(b, s, strlen(s)); }

/* ---- the reader ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *s, *end, *start;
    int depth;
    char *err;
    Buf scratch;
    int had_nul; /* the last string read contained \u0000 */
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
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t'))
        p->s++;
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

static void put_utf8(Buf *b, unsigned cp)
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
    put(b, u, n);
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

/* Reads a string (p->s at the opening quote) into p->scratch. */
static BlazeDBResult read_string(P *p)
{
    Buf *b = &p->scratch;
    const uint8_t *s = p->s + 1, *end = p->end;
    b->n = 0;
    p->had_nul = 0;
    for (;;) {
        const uint8_t *run = s;
        while (s < end && *s != '"' && *s != '\\' && *s >= 0x20 && *s < 0x80)
            s++;
        put(b, run, (size_t)(s - run));
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
            put(b, s, n);
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
            putc1(b, *m);
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

static BlazeDBResult read_number(P *p, DocValue **out)
{
    const uint8_t *st = p->s, *s = p->s, *end = p->end;
    int neg = 0, isint = 1;
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
            uint64_t d = (uint64_t)(*q - '0');
            if (mag > (lim - d) / 10)
                fits = 0;
            else
                mag = mag * 10 + d;
        }
        if (fits) {
            int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
            if (neg && mag == (uint64_t)INT64_MAX + 1)
                v = INT64_MIN;
            return (*out = doc_new_int(v)) ? BLAZEDB_OK : poom(p);
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
            double d = (double)m;
            d = e10 < 0 ? d / pow10[-e10] : d * pow10[e10];
            return (*out = doc_new_double(neg ? -d : d)) ? BLAZEDB_OK : poom(p);
        }
    }
    size_t n = (size_t)(s - st);
    char small[64], *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp)
        return poom(p);
    memcpy(tmp, st, n);
    tmp[n] = 0;
    double d = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    if (isinf(d))
        return perr(p, st, "number out of the range of a double");
    return (*out = doc_new_double(d)) ? BLAZEDB_OK : poom(p);
}

static BlazeDBResult read_value(P *p, DocValue **out);

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

static BlazeDBResult finish_literal(P *p, DocValue *o);

/*
 * Interprets a one-field object whose name starts with '$' (a tagged form).
 * Consumes `obj`; returns the new value in *out.
 */
static BlazeDBResult interpret_tag(P *p, DocValue *obj, const uint8_t *at, DocValue **out)
{
    DocField *f = &obj->u.o.f[0];
    DocValue *v = f->val, *r = NULL;
    const char *tag = f->name;
    char msg[128];
    int badin = 1;
    if (strcmp(tag, "$object") == 0) {
        if (v->type != DOC_OBJECT)
            goto bad_form;
        f->val = NULL;
        doc_free(obj);
        BlazeDBResult rc = finish_literal(p, v);
        if (rc != BLAZEDB_OK) {
            doc_free(v);
            return rc;
        }
        *out = v;
        return BLAZEDB_OK;
    } else if (strcmp(tag, "$double") == 0) {
        if (v->type != DOC_STRING)
            goto bad_form;
        if (strcmp(v->u.s.p, "NaN") == 0) r = doc_new_double(NAN);
        else if (strcmp(v->u.s.p, "Infinity") == 0) r = doc_new_double(INFINITY);
        else if (strcmp(v->u.s.p, "-Infinity") == 0) r = doc_new_double(-INFINITY);
        else goto bad_form;
    } else if (strcmp(tag, "$date") == 0) {
        int64_t ms;
        if (v->type == DOC_INT)
            r = doc_new_date(v->u.i);
        else if (v->type == DOC_STRING && v->u.s.len == strlen(v->u.s.p) &&
                 doc_date_parse(v->u.s.p, v->u.s.len, &ms))
            r = doc_new_date(ms);
        else
            goto bad_form;
    } else if (strcmp(tag, "$uuid") == 0) {
        uint8_t u[16];
        if (v->type != DOC_STRING || !uuid_parse(v->u.s.p, v->u.s.len, u))
            goto bad_form;
        r = doc_new_uuid(u);
    } else if (strcmp(tag, "$bytes") == 0) {
        if (v->type != DOC_STRING)
            goto bad_form;
        r = b64_decode(v->u.s.p, v->u.s.len, &badin);
        if (!r && badin)
            goto bad_form;
    } else if (strcmp(tag, "$vector") == 0) {
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
                    doc_free(obj);
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
        snprintf(msg, sizeof msg, "unknown tag \"%.40s\" (to store such an object, "
                 "wrap it: {\"$object\": {...}})", tag);
        doc_free(obj);
        return perr(p, at, msg);
    }
    doc_free(obj);
    if (!r)
        return poom(p);
    *out = r;
    return BLAZEDB_OK;
bad_form:
    snprintf(msg, sizeof msg, "malformed %.40s value", tag);
    doc_free(obj);
    return perr(p, at, msg);
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

/* Reads an object, leaving it uninterpreted (see above). */
static BlazeDBResult read_object(P *p, DocValue **out)
{
    const uint8_t *at = p->s;
    BlazeDBResult rc;
    if (++p->depth > DOC_MAX_DEPTH)
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
        if ((rc = read_string(p)) != BLAZEDB_OK)
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
        if ((rc = read_value(p, &v)) != BLAZEDB_OK) {
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
    if (++p->depth > DOC_MAX_DEPTH)
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

static BlazeDBResult read_value(P *p, DocValue **out)
{
    if (p->s >= p->end)
        return perr(p, p->s, "value expected, end of input found");
    size_t room = (size_t)(p->end - p->s);
    switch (*p->s) {
    case '{': return read_object(p, out);
    case '[': return read_array(p, out);
    case '"': {
        BlazeDBResult rc = read_string(p);
        if (rc != BLAZEDB_OK)
            return rc;
        return (*out = doc_new_string(p->scratch.n ? p->scratch.p : "", p->scratch.n))
                   ? BLAZEDB_OK : poom(p);
    }
    case 't':
        if (room >= 4 && memcmp(p->s, "true", 4) == 0) {
            p->s += 4;
            return (*out = doc_new_bool(1)) ? BLAZEDB_OK : poom(p);
        }
        break;
    case 'f':
        if (room >= 5 && memcmp(p->s, "false", 5) == 0) {
            p->s += 5;
            return (*out = doc_new_bool(0)) ? BLAZEDB_OK : poom(p);
        }
        break;
    case 'n':
        if (room >= 4 && memcmp(p->s, "null", 4) == 0) {
            p->s += 4;
            return (*out = doc_new(DOC_NULL)) ? BLAZEDB_OK : poom(p);
        }
        break;
    default:
        if (*p->s == '-' || (*p->s >= '0' && *p->s <= '9'))
            return read_number(p, out);
        break;
    }
    if (*p->s >= 0x80 && !utf8_seq(p->s, p->end))
        return perr(p, p->s, "invalid UTF-8");
    return perr(p, p->s, "unexpected character");
}

BlazeDBResult doc_from_json(const char *text, size_t len, DocValue **out,
                            char err[DOC_ERRMAX])
{
    *out = NULL;
    if (!text)
        return doc_err(err, BLAZEDB_INVALID_ARGUMENT, "JSON text is NULL");
    if (len > BLAZEDB_MAX_VALUE)
        return doc_err(err, BLAZEDB_TOO_BIG, "JSON text of %zu bytes is larger than %u",
                       len, BLAZEDB_MAX_VALUE);
    P p;
    memset(&p, 0, sizeof p);
    p.s = p.start = (const uint8_t *)text;
    p.end = p.s + len;
    p.err = err;
    locale_t old = enter_c_locale();
    skip_ws(&p);
    DocValue *v = NULL;
    BlazeDBResult rc = read_value(&p, &v);
    if (rc == BLAZEDB_OK)
        rc = finish_normal(&p, v, &v);
    if (rc == BLAZEDB_OK) {
        skip_ws(&p);
        if (p.s != p.end) {
            rc = perr(&p, p.s, "unexpected data after the JSON value");
            doc_free(v);
        } else {
            *out = v;
        }
    }
    leave_c_locale(old);
    free(p.scratch.p);
    return rc;
}

/* ---- the writer -------------------------------------------------------------------- */

static void put_string(Buf *b, const char *s, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    putc1(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (i < n && (uint8_t)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
            i++;
        put(b, s + run, i - run);
        if (i >= n)
            break;
        char c = s[i++], e[6] = {'\\', 0, 0, 0, 0, 0};
        switch (c) {
        case '"': e[1] = '"'; put(b, e, 2); break;
        case '\\': e[1] = '\\'; put(b, e, 2); break;
        case '\n': e[1] = 'n'; put(b, e, 2); break;
        case '\r': e[1] = 'r'; put(b, e, 2); break;
        case '\t': e[1] = 't'; put(b, e, 2); break;
        case '\b': e[1] = 'b'; put(b, e, 2); break;
        case '\f': e[1] = 'f'; put(b, e, 2); break;
        default:
            e[1] = 'u'; e[2] = '0'; e[3] = '0';
            e[4] = hexd[(uint8_t)c >> 4]; e[5] = hexd[c & 15];
            put(b, e, 6);
        }
    }
    putc1(b, '"');
}

/* Ensures a number text reads back as a double, not an integer. */
static void put_real_text(Buf *b, const char *t)
{
    puts0(b, t);
    if (!strpbrk(t, ".eE"))
        put(b, ".0", 2);
}

static void put_double(Buf *b, double d)
{
    char t[40];
    if (isnan(d)) { puts0(b, "{\"$double\":\"NaN\"}"); return; }
    if (isinf(d)) { puts0(b, d > 0 ? "{\"$double\":\"Infinity\"}" : "{\"$double\":\"-Infinity\"}"); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    put_real_text(b, t);
}

static void put_float(Buf *b, float f)
{
    char t[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, (double)f);
        if ((float)strtod(t, NULL) == f)
            break;
    }
    put_real_text(b, t);
}

static void newline(Buf *b, unsigned flags, int level)
{
    if (!(flags & DOC_JSON_PRETTY))
        return;
    putc1(b, '\n');
    for (int i = 0; i < level; i++)
        put(b, "  ", 2);
}

static void write_value(Buf *b, const DocValue *v, unsigned flags, int level)
{
    char t[64];
    switch (v->type) {
    case DOC_NULL: puts0(b, "null"); break;
    case DOC_BOOL: puts0(b, v->u.b ? "true" : "false"); break;
    case DOC_INT:
        snprintf(t, sizeof t, "%lld", (long long)v->u.i);
        puts0(b, t);
        break;
    case DOC_DOUBLE: put_double(b, v->u.d); break;
    case DOC_STRING: put_string(b, v->u.s.p, v->u.s.len); break;
    case DOC_DATE:
        puts0(b, "{\"$date\":");
        if (doc_date_format(v->u.i, t)) {
            putc1(b, '"');
            puts0(b, t);
            putc1(b, '"');
        } else {
            snprintf(t, sizeof t, "%lld", (long long)v->u.i);
            puts0(b, t);
        }
        putc1(b, '}');
        break;
    case DOC_UUID: {
        const uint8_t *u = v->u.uuid;
        snprintf(t, sizeof t,
                 "{\"$uuid\":\"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                 "%02x%02x%02x%02x%02x%02x\"}",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                 u[12], u[13], u[14], u[15]);
        puts0(b, t);
        break;
    }
    case DOC_BYTES: {
        const uint8_t *s = (const uint8_t *)v->u.s.p;
        size_t n = v->u.s.len;
        puts0(b, "{\"$bytes\":\"");
        if (!buf_grow(b, (n + 2) / 3 * 4))
            break;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                         (i + 2 < n ? s[i + 2] : 0);
            char q[4] = {(char)b64dig[w >> 18], (char)b64dig[w >> 12 & 63],
                         i + 1 < n ? (char)b64dig[w >> 6 & 63] : '=',
                         i + 2 < n ? (char)b64dig[w & 63] : '='};
            put(b, q, 4);
        }
        puts0(b, "\"}");
        break;
    }
    case DOC_VECTOR:
        puts0(b, "{\"$vector\":[");
        for (size_t i = 0; i < v->u.vec.n; i++) {
            if (i)
                putc1(b, ',');
            put_float(b, v->u.vec.v[i]);
        }
        puts0(b, "]}");
        break;
    case DOC_ARRAY:
        putc1(b, '[');
        for (size_t i = 0; i < v->u.a.n; i++) {
            if (i)
                putc1(b, ',');
            newline(b, flags, level + 1);
            write_value(b, v->u.a.v[i], flags, level + 1);
        }
        if (v->u.a.n)
            newline(b, flags, level);
        putc1(b, ']');
        break;
    case DOC_OBJECT: {
        /* an object that would read back as a tagged form is wrapped */
        int wrap = is_tag_candidate(v);
        if (wrap) {
            puts0(b, (flags & DOC_JSON_PRETTY) ? "{\"$object\": " : "{\"$object\":");
        }
        putc1(b, '{');
        for (size_t i = 0; i < v->u.o.n; i++) {
            if (i)
                putc1(b, ',');
            newline(b, flags, level + 1);
            put_string(b, v->u.o.f[i].name, v->u.o.f[i].nlen);
            puts0(b, (flags & DOC_JSON_PRETTY) ? ": " : ":");
            write_value(b, v->u.o.f[i].val, flags, level + 1);
        }
        if (v->u.o.n)
            newline(b, flags, level);
        putc1(b, '}');
        if (wrap)
            putc1(b, '}');
        break;
    }
    default: break;
    }
}

BlazeDBResult doc_to_json(const DocValue *v, unsigned flags, char **out, size_t *len,
                          char err[DOC_ERRMAX])
{
    Buf b = {0};
    *out = NULL;
    *len = 0;
    locale_t old = enter_c_locale();
    write_value(&b, v, flags, 0);
    leave_c_locale(old);
    putc1(&b, 0);
    if (b.oom) {
        free(b.p);
        return doc_err(err, BLAZEDB_NOMEM, "out of memory writing JSON");
    }
    *out = b.p;
    *len = b.n - 1;
    return BLAZEDB_OK;
}
