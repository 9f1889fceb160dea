/* Fuzz target: the alert formatters vg_cef_alert, vg_leef_alert
 * (include/vigil/cef.h) and vg_ecs_alert (include/vigil/ecs.h) on an alert
 * made from the input, and vg_leef_delim_parse.
 *
 * Input layout (shorter inputs are padded with zeros):
 *   byte 0      level (int8: -128..127, to test the clamping)
 *   byte 1      bit i set: field i of host, app, src, agency, site,
 *               message, rule_name, kind is absent (NULL) rather than given
 *   byte 2      the LEEF delimiter (0: default)
 *   byte 3, 4   number of tags, of raw lines (each mod 17)
 *   byte 5      bit 0: product_version NULL; bit 1: observer NULL
 *   byte 6, 7   raw_cut (16 bits, little-endian; bits past the raw lines dropped)
 *   bytes 8-31  ts_us, first_us, count (64-bit little-endian each)
 *   then strings separated by 0xFF: product_version (also the ECS
 *   observer), id, rule_id, rule_name, kind, host, app, src, agency, site,
 *   message, the tags, the raw lines, then capture name/value pairs.
 * The strings are views into the input, so ASan sees any overread.
 *
 * Checked, per cef.h, ecs.h and docs/cef-leef.md:
 *   - every output is valid UTF-8 (checked here independently of
 *     vg_utf8_len), has no raw CR or LF, and is appended after what the
 *     buffer held; formatting twice gives the same bytes;
 *   - CEF: the header has its 7 unescaped '|', only \\ and \| escapes,
 *     the severity of the level; the extension has only \\ \= \n \r
 *     escapes, every unescaped '=' ends a known key, keys are unique, the
 *     always-present keys are there, and decoded values keep their bounds;
 *   - LEEF: -EINVAL exactly for the delimiters the header refuses (and
 *     vg_leef_delim_parse agrees in all three spellings), buffer unchanged;
 *     otherwise the header, then key=value attributes split on the
 *     delimiter, keys unique, values non-empty and at most 1023 bytes;
 *   - ECS: one line, a valid JSON object, ending in '\n'.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/cef.h"
#include "vigil/ecs.h"

#define HDR 32
#define PREFIX "prefix\n"

/* ---- independent validators ---------------------------------------------- */

/* RFC 3629 UTF-8: no overlong forms, surrogates, or code points > U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void check_line(const char *s, size_t n)
{
    FZ_CHECKF(utf8_valid((const unsigned char *)s, n), "not UTF-8: %.*s", (int)n, s);
    FZ_CHECKF(!memchr(s, '\n', n) && !memchr(s, '\r', n), "a raw line break: %.*s", (int)n, s);
}

/* A minimal JSON (RFC 8259) recogniser. */
typedef struct json {
    const char *p, *end;
    int depth;
} json;

static int j_value(json *j);

static void j_ws(json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int j_lit(json *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
        return 0;
    j->p += n;
    return 1;
}

static int j_string(json *j)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (j->p >= j->end)
            return 0;
        c = (unsigned char)*j->p++;
        if (c == 'u') {
            for (int k = 0; k < 4; k++, j->p++)
                if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
                    return 0;
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return 0;
        }
    }
    return 0;
}

static int j_number(json *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return 0;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > s;
}

static int j_container(json *j, char open, char close)
{
    if (++j->depth > 32)
        return 0;
    j->p++; /* open */
    j_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        j_ws(j);
        if (open == '{') {
            if (!j_string(j))
                return 0;
            j_ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return 0;
        }
        if (!j_value(j))
            return 0;
        j_ws(j);
        if (j->p >= j->end)
            return 0;
        char c = *j->p++;
        if (c == close)
            break;
        if (c != ',')
            return 0;
    }
    j->depth--;
    return 1;
}

static int j_value(json *j)
{
    j_ws(j);
    if (j->p >= j->end)
        return 0;
    switch (*j->p) {
    case '{':
        return j_container(j, '{', '}');
    case '[':
        return j_container(j, '[', ']');
    case '"':
        return j_string(j);
    case 't':
        return j_lit(j, "true");
    case 'f':
        return j_lit(j, "false");
    case 'n':
        return j_lit(j, "null");
    default:
        return j_number(j);
    }
}

/* ---- the alert ------------------------------------------------------------ */

typedef struct input {
    vg_alert al;
    char *version;  /* NUL-terminated copies, or NULL */
    char *observer;
    unsigned char delim;
} input;

/* Aborts unless every name in must (NULL-terminated) is among the nk keys
 * found in a CEF extension or LEEF attribute list. */
static void require_keys(const char *const *keys, const size_t *klen, size_t nk,
                         const char *const *must)
{
    for (; *must; must++) {
        size_t j;
        for (j = 0; j < nk; j++)
            if (klen[j] == strlen(*must) && !memcmp(keys[j], *must, klen[j]))
                break;
        FZ_CHECKF(j < nk, "no %s", *must);
    }
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static char *cstr(vg_str v)
{
    if (!v.p)
        return NULL;
    char *s = malloc(v.len + 1);
    if (!s)
        abort();
    memcpy(s, v.p, v.len);
    s[v.len] = '\0';
    return s;
}

/* The next 0xFF-separated piece at *p, or absent when none is left. */
static vg_str next_piece(const char **p, const char *end)
{
    if (!*p || *p > end)
        return VG_STR_NULL;
    const char *e = memchr(*p, 0xFF, (size_t)(end - *p));
    if (!e)
        e = end;
    vg_str v = vg_str_n(*p, (size_t)(e - *p));
    *p = e + 1;
    return v;
}

static void build(const uint8_t *data, size_t size, input *in)
{
    unsigned char h[HDR] = {0};
    memcpy(h, data, size < HDR ? size : HDR);
    const char *p = size > HDR ? (const char *)data + HDR : NULL;
    const char *end = p ? (const char *)data + size : NULL;

    memset(in, 0, sizeof(*in));
    vg_alert *a = &in->al;
    a->level = (int8_t)h[0];
    in->delim = h[2];
    a->ts_us = (int64_t)le64(h + 8);
    a->first_us = (int64_t)le64(h + 16);
    a->count = le64(h + 24);
    vg_str ver = next_piece(&p, end);
    in->version = h[5] & 1 ? NULL : cstr(ver.p ? ver : vg_str_c(""));
    in->observer = h[5] & 2 ? NULL : cstr(ver.p ? ver : vg_str_c("fuzz"));
    a->id = next_piece(&p, end);
    a->rule_id = next_piece(&p, end);
    vg_str *opt[] = {&a->host, &a->app, &a->src, &a->agency, &a->site, &a->message,
                     &a->rule_name, &a->kind};
    vg_str *order[] = {&a->rule_name, &a->kind, &a->host, &a->app, &a->src, &a->agency, &a->site,
                       &a->message};
    for (size_t i = 0; i < 8; i++)
        *order[i] = next_piece(&p, end);
    for (size_t i = 0; i < 8; i++)
        if (h[1] & (1u << i))
            *opt[i] = VG_STR_NULL;
    unsigned nt = h[3] % (VG_ALERT_MAX_TAGS + 1), nr = h[4] % (VG_ALERT_MAX_RAW + 1);
    for (a->ntags = 0; a->ntags < nt; a->ntags++)
        a->tags[a->ntags] = next_piece(&p, end);
    for (a->nraw = 0; a->nraw < nr; a->nraw++)
        a->raw[a->nraw] = next_piece(&p, end);
    a->raw_cut = ((unsigned)h[6] | (unsigned)h[7] << 8) & ((1u << a->nraw) - 1); /* cut lines */
    while (a->nfields < VG_ALERT_MAX_FIELDS && p && p <= end) {
        a->fields[a->nfields].key = next_piece(&p, end);
        a->fields[a->nfields].val = next_piece(&p, end);
        a->nfields++;
    }
}

/* ---- CEF ------------------------------------------------------------------ */

static int cef_expected_severity(int32_t level)
{
    int l = level < 0 ? 0 : level > 15 ? 15 : level;
    int s10 = l * 10, q = s10 / 15, r = s10 % 15;
    return r * 2 >= 15 ? q + 1 : q; /* round half up: never a tie, 15 is odd */
}

static size_t cef_bound(const char *key, size_t klen)
{
    static const struct {
        const char *k;
        size_t max;
    } b[] = {{"rt", 20}, {"start", 20}, {"end", 20}, {"src", 64}, {"spt", 64}, {"dst", 64},
             {"dpt", 64}, {"suser", 1023}, {"duser", 1023}, {"dvchost", 100}, {"dvc", 64},
             {"cnt", 10}, {"msg", 1023}, {"cs1Label", 32}, {"cs1", 4000}, {"cs2Label", 32},
             {"cs2", 4000}, {"cs3Label", 32}, {"cs3", 4000}, {"cs4Label", 32}, {"cs4", 4000},
             {"cs5Label", 32}, {"cs5", 4000}, {"cs6Label", 32}, {"cs6", 4000},
             {"deviceProcessName", 1023}, {"externalId", 40}, {"flexString1Label", 32},
             {"flexString1", 1023}};
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        if (strlen(b[i].k) == klen && !memcmp(b[i].k, key, klen))
            return b[i].max;
    return 0; /* unknown */
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void check_cef(const char *s, size_t n, const vg_alert *al)
{
    static const char head[] = "CEF:0|" VG_CEF_VENDOR "|" VG_CEF_PRODUCT "|";
    check_line(s, n);
    FZ_CHECK(n > sizeof(head) - 1 && !memcmp(s, head, sizeof(head) - 1));
    /* Header: fields 3..6 (version, signature id, name, severity). */
    static const size_t hmax[] = {31, 1023, 512, 2};
    size_t i = sizeof(head) - 1, field = 3, dlen = 0, fstart = i;
    while (field < 7) {
        FZ_CHECKF(i < n, "CEF header cut short: %.*s", (int)n, s);
        if (s[i] == '\\') {
            FZ_CHECKF(i + 1 < n && (s[i + 1] == '\\' || s[i + 1] == '|'), "bad header escape");
            i += 2;
            dlen++;
        } else if (s[i] == '|') {
            FZ_CHECKF(dlen <= hmax[field - 3], "header field %zu: %zu bytes", field, dlen);
            if (field == 6) {
                char sev[8] = {0};
                memcpy(sev, s + fstart, i - fstart < 7 ? i - fstart : 7);
                FZ_CHECKF(atoi(sev) == cef_expected_severity(al->level) &&
                              vg_cef_severity(al->level) == atoi(sev),
                          "severity %s for level %d", sev, (int)al->level);
            }
            field++;
            dlen = 0;
            fstart = ++i;
        } else {
            i++;
            dlen++;
        }
    }
    /* Extension: key=value pairs; '=' only unescaped after a key. */
    const char *keys[64];
    size_t klen[64], nk = 0;
    size_t vstart = i, vdec = 0;
    const char *cur = NULL;
    size_t curlen = 0;
    for (; i <= n; i++) {
        if (i < n && s[i] == '\\') {
            FZ_CHECKF(i + 1 < n && strchr("\\=nr", s[i + 1]) && s[i + 1], "bad escape at %zu",
                      i);
            i++;
            vdec++;
            continue;
        }
        if (i < n && s[i] != '=') {
            vdec++;
            continue;
        }
        /* an unescaped '=' (or the end): the key is the token before it */
        size_t k = i;
        if (i < n) {
            while (k > vstart && is_alnum(s[k - 1]))
                k--;
            FZ_CHECKF(k < i && (k == vstart || s[k - 1] == ' ') && cef_bound(s + k, i - k),
                      "'=' not after a known key at %zu: %.*s", i, (int)n, s);
        }
        if (cur) {
            /* the value ran from vstart to the space before this key */
            size_t vend = i < n ? k - 1 : n;
            size_t dec = vdec - (i < n ? (i - k) + 1 : 0);
            FZ_CHECKF(vend >= vstart && dec <= cef_bound(cur, curlen), "%.*s: %zu bytes",
                      (int)curlen, cur, dec);
        }
        if (i == n)
            break;
        for (size_t j = 0; j < nk; j++)
            FZ_CHECKF(klen[j] != i - k || memcmp(keys[j], s + k, klen[j]), "repeated key %.*s",
                      (int)(i - k), s + k);
        FZ_CHECK(nk < 64);
        keys[nk] = cur = s + k;
        klen[nk++] = curlen = i - k;
        vstart = i + 1;
        vdec = 0;
    }
    static const char *const must[] = {"rt", "start", "end", "cnt", "cs1", "cs2", "cs3", NULL};
    require_keys(keys, klen, nk, must);
}

/* ---- LEEF ----------------------------------------------------------------- */

static int leef_delim_allowed(unsigned char d)
{
    if (d == '\t')
        return 1;
    int punct = (d >= 0x21 && d <= 0x2F) || (d >= 0x3A && d <= 0x40) ||
                (d >= 0x5B && d <= 0x60) || (d >= 0x7B && d <= 0x7E);
    return punct && !strchr("=|,\\'-.:+_", d);
}

static void check_delim_parse(unsigned char d)
{
    int ok = d && leef_delim_allowed(d);
    char s[8], out = 0;
    s[0] = (char)d;
    s[1] = '\0';
    int rc = vg_leef_delim_parse(s, &out);
    FZ_CHECKF(ok ? rc == 0 && out == (char)d : rc == -EINVAL, "delimiter 0x%02x: %d", d, rc);
    snprintf(s, sizeof(s), "x%02X", d);
    rc = vg_leef_delim_parse(s, &out);
    FZ_CHECKF(ok ? rc == 0 && out == (char)d : rc == -EINVAL, "'%s': %d", s, rc);
    snprintf(s, sizeof(s), "0x%x", d);
    rc = vg_leef_delim_parse(s, &out);
    FZ_CHECKF(ok ? rc == 0 && out == (char)d : rc == -EINVAL, "'%s': %d", s, rc);
}

static void check_leef(const char *s, size_t n, char d)
{
    static const char head[] = "LEEF:2.0|" VG_CEF_VENDOR "|" VG_CEF_PRODUCT "|";
    check_line(s, n);
    FZ_CHECK(n > sizeof(head) - 1 && !memcmp(s, head, sizeof(head) - 1));
    size_t i = sizeof(head) - 1;
    static const size_t hmax[] = {31, 1023};
    for (int f = 0; f < 2; f++) { /* version, event id: no '|' inside */
        const char *bar = memchr(s + i, '|', n - i);
        FZ_CHECK(bar && (size_t)(bar - (s + i)) <= hmax[f]);
        i = (size_t)(bar - s) + 1;
    }
    const char *dfield = d == '\t' ? "x09|" : (char[]){d, '|', 0};
    FZ_CHECKF(n - i >= strlen(dfield) && !memcmp(s + i, dfield, strlen(dfield)),
              "delimiter field: %.*s", (int)n, s);
    i += strlen(dfield);
    const char *keys[128];
    size_t klen[128], nk = 0;
    while (i < n) {
        const char *e = memchr(s + i, d, n - i);
        size_t alen = e ? (size_t)(e - (s + i)) : n - i, k = 0;
        const char *a = s + i;
        while (k < alen && (is_alnum(a[k]) || a[k] == '_'))
            k++;
        FZ_CHECKF(k > 0 && k < alen && a[k] == '=', "attribute %.*s", (int)alen, a);
        FZ_CHECKF(alen - k - 1 >= 1 && alen - k - 1 <= 1023, "value of %.*s: %zu bytes", (int)k,
                  a, alen - k - 1);
        for (size_t j = 0; j < nk; j++)
            FZ_CHECKF(klen[j] != k || memcmp(keys[j], a, k), "repeated key %.*s", (int)k, a);
        FZ_CHECK(nk < 128);
        keys[nk] = a;
        klen[nk++] = k;
        i += alen + 1;
        FZ_CHECKF(e || i >= n, "attribute cut");
        FZ_CHECKF(!e || i < n, "a delimiter at the end");
    }
    static const char *const must[] = {"sev", "cat", "count", "agency", "site", NULL};
    require_keys(keys, klen, nk, must);
}

/* ---- the target ----------------------------------------------------------- */

typedef int (*fmt_fn)(vg_buf *b, const input *in);

static int do_cef(vg_buf *b, const input *in)
{
    return vg_cef_alert(b, &in->al, in->version);
}

static int do_leef(vg_buf *b, const input *in)
{
    vg_leef_opts o = {.delim = (char)in->delim};
    return vg_leef_alert(b, &in->al, in->version, &o);
}

static int do_ecs(vg_buf *b, const input *in)
{
    return vg_ecs_alert(b, &in->al, in->observer);
}

/* Formats into a buffer that already holds PREFIX, twice; returns the rc
 * and leaves the output (after the prefix) in *b. */
static int run(fmt_fn fn, const input *in, vg_buf *b)
{
    vg_buf b2 = {0};
    vg_buf_adds(b, PREFIX);
    vg_buf_adds(&b2, PREFIX);
    int rc = fn(b, in), rc2 = fn(&b2, in);
    FZ_CHECK(rc == rc2 && b->len == b2.len && !memcmp(b->p, b2.p, b->len));
    FZ_CHECK(b->len >= sizeof(PREFIX) - 1 && !memcmp(b->p, PREFIX, sizeof(PREFIX) - 1));
    vg_buf_free(&b2);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in;
    build(data, size, &in);
    const size_t pl = sizeof(PREFIX) - 1;

    vg_buf b = {0};
    FZ_CHECK(run(do_cef, &in, &b) == 0);
    check_cef(b.p + pl, b.len - pl, &in.al);
    vg_buf_free(&b);

    int rc = run(do_leef, &in, &b);
    char d = in.delim ? (char)in.delim : '\t';
    if (leef_delim_allowed((unsigned char)d)) {
        FZ_CHECKF(rc == 0, "delimiter 0x%02x refused", in.delim);
        check_leef(b.p + pl, b.len - pl, d);
    } else {
        FZ_CHECKF(rc == -EINVAL && b.len == pl, "delimiter 0x%02x: %d", in.delim, rc);
    }
    vg_buf_free(&b);
    check_delim_parse(in.delim);
    FZ_CHECK(vg_leef_severity(in.al.level) ==
             (cef_expected_severity(in.al.level) ? cef_expected_severity(in.al.level) : 1));

    FZ_CHECK(run(do_ecs, &in, &b) == 0);
    const char *e = b.p + pl;
    size_t n = b.len - pl;
    FZ_CHECKF(n >= 3 && e[n - 1] == '\n', "ECS does not end in a newline");
    check_line(e, n - 1);
    json j = {e, e + n - 1, 0};
    FZ_CHECKF(*e == '{' && j_value(&j) && (j_ws(&j), j.p == j.end), "not JSON at %zu: %.*s",
              (size_t)(j.p - e), (int)n, e);
    vg_buf_free(&b);

    free(in.version);
    free(in.observer);
    return 0;
}
