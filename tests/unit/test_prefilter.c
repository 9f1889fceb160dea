/* Unit tests for correlator/cor_prefilter.c.
 *
 * The one property that matters: for every line, every rule whose PCRE2
 * regex matches it (compiled as cor_rules.c does: PCRE2_DUPNAMES, byte mode)
 * is among the prefilter's candidates. check_line() asserts it for every
 * line of every test below, and the tests print how many candidates were
 * false (PCRE2 then says no) — the price, not a failure.
 *
 * 1. The peer rule sets ../shared/bench/rules50.txt and rules500.txt, read in
 *    place when present (skipped with a note otherwise): for each rule a few
 *    lines generated from its regex (rx_gen, a sampler for the regex subset
 *    those files use), the same lines with 1-3 random edits (near misses),
 *    "token soup" lines made of the rules' own words, and random bytes.
 * 2. Our own patterns: (?i), alternation, anchors, named captures, duplicate
 *    names, numbered and named backreferences, lookarounds, \K, \R, \d{1,3}
 *    repeats, (*VERB)s, a pattern matching the empty string... with exact
 *    candidate sets asserted on hand-picked lines.
 * 3. Single-byte semantics: classes, escapes and case folding checked on all
 *    256 byte values.
 * 4. A seeded random-regex fuzz: patterns built from a grammar (groups,
 *    alternation, quantifiers, classes, anchors, lookarounds, backreferences,
 *    inline options, \K, duplicate names) with subjects derived from each;
 *    and one of anchored patterns in the syntax cor_prefilter_widen reads,
 *    with \Q..\E and \c quoting parens and ']' among them.
 * 5. Edge cases: no patterns, NULL arguments, empty subjects, bits past n.
 *
 * Build with VG_HAVE_HS (and libhs); without it the same tests run against
 * the "every rule is a candidate" fallback, and the exact-set test is
 * skipped.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_prefilter.h"
#include "vt_asan.h"

#define LINE_MAX_LEN 1024

/* ---- randomness ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rnd(unsigned n)
{
    return n ? (unsigned)(rng_next() % n) : 0;
}

/* ---- a rule set: PCRE2 codes plus the prefilter over them ---- */

typedef struct rset {
    size_t n;
    char **src;
    pcre2_code **re;
    pcre2_match_data *md;
    cor_prefilter *pf;
    uint64_t *cand;
    /* counters over check_line calls */
    uint64_t lines, matches, cands, false_cands;
} rset;

/* Compiles the patterns PCRE2 takes (the others are dropped, as the rule
 * loader would refuse them) and builds the prefilter. */
static void rset_init(rset *s, const char *const *pats, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->src = calloc(n ? n : 1, sizeof(*s->src));
    s->re = calloc(n ? n : 1, sizeof(*s->re));
    ck_assert(s->src && s->re);
    uint32_t maxcap = 1;
    for (size_t i = 0; i < n; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pats[i], PCRE2_ZERO_TERMINATED, PCRE2_DUPNAMES,
                                       &ec, &eo, NULL);
        if (!re) continue;
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        uint32_t c;
        pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &c);
        if (c + 1 > maxcap) maxcap = c + 1;
        s->re[s->n] = re;
        s->src[s->n] = strdup(pats[i]);
        ck_assert_ptr_nonnull(s->src[s->n]);
        s->n++;
    }
    s->md = pcre2_match_data_create(maxcap, NULL);
    char err[256];
    int rc = cor_prefilter_build((const char *const *)s->src, s->n, &s->pf, err, sizeof(err));
    ck_assert_msg(rc == 0, "cor_prefilter_build: %d %s", rc, err);
    ck_assert_uint_eq(cor_prefilter_count(s->pf), s->n);
    s->cand = calloc((s->n + 63) / 64 + 1, sizeof(uint64_t));
    ck_assert_ptr_nonnull(s->cand);
}

static void rset_free(rset *s)
{
    cor_prefilter_free(s->pf);
    for (size_t i = 0; i < s->n; i++) {
        pcre2_code_free(s->re[i]);
        free(s->src[i]);
    }
    free(s->re);
    free(s->src);
    free(s->cand);
    pcre2_match_data_free(s->md);
}

static int bit(const uint64_t *b, size_t i)
{
    return (int)(b[i / 64] >> (i % 64) & 1);
}

static void put_line(const char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n && i < 300; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\' || c == '"')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* Scans one line and asserts that every rule PCRE2 matches is a candidate.
 * Returns the number of PCRE2 matches; s->cand holds the candidates. */
static int check_line(rset *s, const char *line, size_t len)
{
    int nc = cor_prefilter_scan(s->pf, line, len, s->cand);
    ck_assert_int_ge(nc, 0);
    ck_assert_uint_eq(s->cand[(s->n + 63) / 64], 0); /* the guard word is untouched */
    int count = 0, matches = 0;
    for (size_t i = 0; i < s->n; i++) {
        int c = bit(s->cand, i);
        count += c;
        int m = pcre2_match(s->re[i], (PCRE2_SPTR)(line ? line : ""), len, 0, 0, s->md, NULL);
        /* a match limit hit is no match, as in cor_rules_eval (where it is counted) */
        ck_assert_msg(m >= 0 || m == PCRE2_ERROR_NOMATCH || m == PCRE2_ERROR_MATCHLIMIT ||
                          m == PCRE2_ERROR_DEPTHLIMIT || m == PCRE2_ERROR_HEAPLIMIT,
                      "pcre2_match error %d", m);
        if (m >= 0) {
            matches++;
            if (!c) {
                printf("MISSED rule %zu /%s/ on ", i, s->src[i]);
                put_line(line, len);
                putchar('\n');
                ck_abort_msg("prefilter missed rule %zu /%s/", i, s->src[i]);
            }
        } else if (c) {
            s->false_cands++;
        }
    }
    if (s->n % 64) /* bits past n are 0 */
        ck_assert_uint_eq(s->cand[s->n / 64] >> (s->n % 64), 0);
    ck_assert_int_eq(nc, count);
    s->lines++;
    s->matches += (uint64_t)matches;
    s->cands += (uint64_t)count;
    return matches;
}

static void rset_report(const rset *s, const char *what)
{
    printf("prefilter %-22s %4zu rules (%zu always), %6llu lines: %.3f matches, %.3f candidates, "
           "%.3f false candidates per line (%.1f%% of candidates)\n",
           what, s->n, cor_prefilter_always(s->pf), (unsigned long long)s->lines,
           (double)s->matches / (double)s->lines, (double)s->cands / (double)s->lines,
           (double)s->false_cands / (double)s->lines,
           s->cands ? 100.0 * (double)s->false_cands / (double)s->cands : 0.0);
    for (size_t i = 0; i < s->n; i++) {
        const char *why = cor_prefilter_always_reason(s->pf, i);
        if (why) printf("    always %3zu /%s/: %s\n", i, s->src[i], why);
    }
}

/* ---- a sampler for a subset of regex syntax ---- */

/* rx_gen writes to out a random string that the regex [p, e) matches, for
 * the subset the peer rule files use: literals, escaped punctuation, \d \w
 * \s \D \W \S, '.', classes with ranges, negation and [:name:], groups
 * ( (?: (?<name> with alternation, quantifiers ? * + {m} {m,} {m,n} (lazy or
 * possessive suffixes ignored), '^' first and '$' last. Anything else makes
 * it return -1. Concatenating strings that match each atom matches the
 * concatenation, so the result always matches (the callers check it). */

typedef struct obuf {
    char p[LINE_MAX_LEN];
    size_t n;
} obuf;

static void ob_put(obuf *o, char c)
{
    if (o->n < sizeof(o->p) - 1) o->p[o->n++] = c;
}

static const char *rx_atom_end(const char *p, const char *e)
{
    if (*p == '\\') return p + 2 <= e ? p + 2 : e;
    if (*p == '[') {
        const char *q = p + 1;
        if (q < e && *q == '^') q++;
        if (q < e && *q == ']') q++;
        while (q < e && *q != ']') {
            if (*q == '\\')
                q++;
            else if (*q == '[' && q + 1 < e && q[1] == ':') {
                const char *c = strstr(q, ":]");
                q = c && c < e ? c + 1 : e;
            }
            q++;
        }
        return q < e ? q + 1 : e;
    }
    if (*p == '(') {
        int depth = 0;
        for (const char *q = p; q < e;) {
            if (*q == '\\') {
                q += 2;
                continue;
            }
            if (*q == '[') {
                q = rx_atom_end(q, e);
                continue;
            }
            if (*q == '(')
                depth++;
            else if (*q == ')' && --depth == 0)
                return q + 1;
            q++;
        }
        return e;
    }
    return p + 1;
}

/* Parses a quantifier at *q; returns 1 and sets min/max (-1: no limit). */
static int rx_quant(const char **q, const char *e, int *min, int *max)
{
    const char *p = *q;
    if (p >= e) return 0;
    if (*p == '?' || *p == '*' || *p == '+') {
        *min = *p == '+';
        *max = *p == '?' ? 1 : -1;
        p++;
    } else if (*p == '{' && p + 1 < e && isdigit((unsigned char)p[1])) {
        char *end;
        long a = strtol(p + 1, &end, 10), b = a;
        if (*end == ',') {
            b = isdigit((unsigned char)end[1]) ? strtol(end + 1, &end, 10) : -1;
            if (b == -1) end++;
        }
        if (*end != '}') return 0;
        *min = (int)a;
        *max = (int)b;
        p = end + 1;
    } else {
        return 0;
    }
    if (p < e && (*p == '?' || *p == '+')) p++;
    *q = p;
    return 1;
}

static int rx_class_add(unsigned char *set, char esc)
{
    for (int c = 0x20; c < 0x7f; c++) {
        int in = esc == 'd'   ? isdigit(c)
                 : esc == 'w' ? (isalnum(c) || c == '_')
                 : esc == 's' ? c == ' '
                              : -1;
        if (in < 0) return -1;
        if (in) set[c] = 1;
    }
    return 0;
}

/* Picks a printable member of class [p, e) (p on the '['). */
static int rx_class(const char *p, const char *e, obuf *o)
{
    unsigned char set[256] = {0};
    int neg = 0;
    p++;
    e--; /* the closing ']' */
    if (p < e && *p == '^') neg = 1, p++;
    while (p < e) {
        int c = (unsigned char)*p;
        if (*p == '[' && p + 1 < e && p[1] == ':') {
            const char *end = strstr(p, ":]");
            if (!end) return -1;
            char name[16] = {0};
            size_t l = (size_t)(end - p - 2);
            if (l >= sizeof(name)) return -1;
            memcpy(name, p + 2, l);
            for (int ch = 0x20; ch < 0x7f; ch++) {
                int in = !strcmp(name, "alpha")   ? isalpha(ch)
                         : !strcmp(name, "digit") ? isdigit(ch)
                         : !strcmp(name, "alnum") ? isalnum(ch)
                         : !strcmp(name, "upper") ? isupper(ch)
                         : !strcmp(name, "lower") ? islower(ch)
                         : !strcmp(name, "space") ? isspace(ch)
                         : !strcmp(name, "punct") ? ispunct(ch)
                                                  : -1;
                if (in < 0) return -1;
                if (in) set[ch] = 1;
            }
            p = end + 2;
            continue;
        }
        if (*p == '\\') {
            if (p + 1 >= e) return -1;
            char x = p[1];
            p += 2;
            if (isalnum((unsigned char)x)) {
                if (rx_class_add(set, x)) return -1;
                continue;
            }
            c = (unsigned char)x;
        } else {
            p++;
        }
        if (p + 1 < e && *p == '-' && p[1] != ']') { /* a range c-d */
            int d = (unsigned char)p[1];
            if (p[1] == '\\') return -1;
            for (int ch = c; ch <= d; ch++)
                set[ch] = 1;
            p += 2;
        } else {
            set[c] = 1;
        }
    }
    char pick[128];
    int np = 0;
    for (int ch = 0x20; ch < 0x7f; ch++)
        if (set[ch] != neg) pick[np++] = (char)ch;
    if (np == 0) return -1;
    ob_put(o, pick[rnd((unsigned)np)]);
    return 0;
}

static int rx_gen_alt(const char *p, const char *e, obuf *o);

static int rx_gen_atom(const char *p, const char *a, obuf *o)
{
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    switch (*p) {
    case '(': {
        const char *in = p + 1;
        if (*in == '?') {
            if (in[1] == ':')
                in += 2;
            else if ((in[1] == '<' && in[2] != '=' && in[2] != '!') || in[1] == '\'' ||
                     (in[1] == 'P' && in[2] == '<')) {
                const char *end = strchr(in, in[1] == '\'' ? '\'' : '>');
                if (in[1] == '\'') end = strchr(in + 2, '\'');
                if (!end) return -1;
                in = end + 1;
            } else {
                return -1;
            }
        }
        return rx_gen_alt(in, a - 1, o);
    }
    case '[':
        return rx_class(p, a, o);
    case '.':
        ob_put(o, letters[rnd(sizeof(letters) - 1)]);
        return 0;
    case '^':
    case '$':
        return -1; /* only handled first / last, by rx_sample */
    case '\\':
        switch (p[1]) {
        case 'd':
            ob_put(o, (char)('0' + rnd(10)));
            return 0;
        case 'w':
            ob_put(o, letters[rnd(sizeof(letters) - 1)]);
            return 0;
        case 's':
            ob_put(o, ' ');
            return 0;
        case 'D':
        case 'W':
        case 'S':
            ob_put(o, p[1] == 'S' ? 'x' : '-');
            return 0;
        default:
            if (isalnum((unsigned char)p[1]) || !p[1]) return -1;
            ob_put(o, p[1]);
            return 0;
        }
    default:
        if (*p == '|' || *p == ')' || *p == '*' || *p == '+' || *p == '?') return -1;
        ob_put(o, *p);
        return 0;
    }
}

static int rx_gen_seq(const char *p, const char *e, obuf *o)
{
    while (p < e) {
        const char *a = rx_atom_end(p, e), *q = a;
        int min = 1, max = 1;
        rx_quant(&q, e, &min, &max);
        int hi = max < 0 || max > min + 3 ? min + 3 : max;
        int k = min + (int)rnd((unsigned)(hi - min + 1));
        for (int i = 0; i < k; i++)
            if (rx_gen_atom(p, a, o) < 0) return -1;
        p = q;
    }
    return 0;
}

static int rx_gen_alt(const char *p, const char *e, obuf *o)
{
    const char *start[64], *end[64];
    int nb = 0;
    start[0] = p;
    for (const char *q = p; q < e;) {
        if (*q == '|') {
            if (nb == 63) return -1;
            end[nb++] = q;
            start[nb] = ++q;
            continue;
        }
        q = rx_atom_end(q, e);
    }
    end[nb++] = e;
    int b = (int)rnd((unsigned)nb);
    return rx_gen_seq(start[b], end[b], o);
}

/* A random line that regex pat matches, inside a syslog-like frame unless
 * the pattern is anchored. Returns -1 if pat is outside the subset. */
static int rx_sample(const char *pat, obuf *o)
{
    static const char *const hosts[] = {"road-gw-01", "avn-db-12", "rail-sig-07"};
    const char *p = pat, *e = pat + strlen(pat);
    int head = *p == '^', tail = e > p && e[-1] == '$' && (e - p < 2 || e[-2] != '\\');
    o->n = 0;
    if (head)
        p++;
    else
        o->n = (size_t)snprintf(o->p, sizeof(o->p), "<%u>Jun %2u 12:%02u:%02u %s ", rnd(191),
                                1 + rnd(30), rnd(60), rnd(60), hosts[rnd(3)]);
    if (tail) e--;
    if (rx_gen_alt(p, e, o) < 0) return -1;
    if (!tail) {
        static const char *const tails[] = {"", " ssh2", " [preauth]", "; retry 3",
                                            " (session 0x2f)"};
        const char *t = tails[rnd(5)];
        while (*t)
            ob_put(o, *t++);
    }
    o->p[o->n] = '\0';
    return 0;
}

/* 1-3 random edits: replace, delete or insert a byte. */
static void mutate(obuf *o)
{
    static const char pool[] = "abcXYZ019 .:-_[]()=/\"\n\t\xe9\xff";
    int k = 1 + (int)rnd(3);
    for (int i = 0; i < k; i++) {
        size_t at = rnd((unsigned)o->n + 1);
        char c = pool[rnd(sizeof(pool) - 1)];
        switch (rnd(3)) {
        case 0:
            if (at < o->n) o->p[at] = c;
            break;
        case 1:
            if (at < o->n) {
                memmove(o->p + at, o->p + at + 1, o->n - at - 1);
                o->n--;
            }
            break;
        default:
            if (o->n < sizeof(o->p) - 1) {
                memmove(o->p + at + 1, o->p + at, o->n - at);
                o->p[at] = c;
                o->n++;
            }
            break;
        }
    }
}

/* ---- 1. the peer rule sets ---- */

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **v = NULL, *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0) continue;
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            char **nv = realloc(v, alloc * sizeof(*v));
            ck_assert_ptr_nonnull(nv);
            v = nv;
        }
        v[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return v;
}

/* The alphanumeric words (3+ characters) of every pattern, for token soup. */
static size_t collect_words(char **pats, size_t n, char words[][24], size_t max)
{
    size_t nw = 0;
    for (size_t i = 0; i < n && nw < max; i++) {
        const char *p = pats[i];
        while (*p && nw < max) {
            while (*p && !isalnum((unsigned char)*p))
                p++;
            const char *s = p;
            while (isalnum((unsigned char)*p))
                p++;
            size_t l = (size_t)(p - s);
            if (l >= 3 && l < 24 && !(s > pats[i] && s[-1] == '\\')) {
                memcpy(words[nw], s, l);
                words[nw][l] = '\0';
                nw++;
            }
        }
    }
    return nw;
}

static void run_peer_set(const char *file, int per_rule, uint64_t seed)
{
    char path[4096];
    const char *root = getenv("VG_SOURCE_ROOT");
    snprintf(path, sizeof(path), "%s/../shared/bench/%s", root && *root ? root : ".", file);
    size_t n;
    char **pats = read_lines(path, &n);
    if (!pats) {
        printf("prefilter %s: skipped (%s not found)\n", file, path);
        return;
    }
    rng_state = seed;
    rset s;
    rset_init(&s, (const char *const *)pats, n);
    ck_assert_uint_eq(s.n, n); /* PCRE2 takes every peer regex */

    size_t targeted = 0, hit = 0, unsupported = 0;
    obuf o;
    for (size_t i = 0; i < s.n; i++) {
        for (int k = 0; k < per_rule; k++) {
            if (rx_sample(s.src[i], &o) < 0) {
                unsupported++;
                break;
            }
            targeted++;
            check_line(&s, o.p, o.n);
            hit +=
                bit(s.cand, i) && pcre2_match(s.re[i], (PCRE2_SPTR)o.p, o.n, 0, 0, s.md, NULL) >= 0;
            mutate(&o);
            check_line(&s, o.p, o.n);
        }
    }
    /* the sampler covers every peer regex, and its lines match their rule */
    ck_assert_uint_eq(unsupported, 0);
    ck_assert_uint_eq(hit, targeted);

    static char words[4096][24];
    size_t nw = collect_words(s.src, s.n, words, 4096);
    ck_assert_uint_gt(nw, 10);
    static const char *const glue[] = {" ", " ",  " ", ": ", "[",       "]: ", "=",
                                       "(", ") ", ".", "/",  " - - \"", "\" "};
    for (size_t l = 0; l < s.n * (size_t)per_rule; l++) {
        o.n = 0;
        int k = 3 + (int)rnd(20);
        for (int j = 0; j < k; j++) {
            const char *w = rnd(5) ? words[rnd((unsigned)nw)]
                                   : (const char *[]){"123", "10.0.0.1", "root", "22"}[rnd(4)];
            while (*w)
                ob_put(&o, *w++);
            for (const char *g = glue[rnd(13)]; *g; g++)
                ob_put(&o, *g);
        }
        check_line(&s, o.p, o.n);
        o.n = rnd(300);
        for (size_t j = 0; j < o.n; j++)
            o.p[j] = (char)rnd(256);
        check_line(&s, o.p, o.n);
    }
    printf("prefilter %s: %zu lines generated from the regexes, all matching their rule\n", file,
           targeted);
    rset_report(&s, file);
    rset_free(&s);
    for (size_t i = 0; i < n; i++)
        free(pats[i]);
    free(pats);
}

START_TEST(test_rules50)
{
    run_peer_set("rules50.txt", 10, 50);
}
END_TEST

START_TEST(test_rules500)
{
    run_peer_set("rules500.txt", 3, 500);
}
END_TEST

/* ---- 2. our own patterns ---- */

static const char *const own[] = {
    /*  0 */ "(?i)failed password for (?<user>\\S+) from (?<ip>[0-9.]+)",
    /*  1 */ "^<\\d{1,3}>",
    /*  2 */ "error: (disk|memory|cpu) (full|exhausted)$",
    /*  3 */ "user=(?<u>\\w+) .*\\bby=\\k<u>\\b",
    /*  4 */ "(\\d{1,3})\\.\\1\\.\\1\\.\\1",
    /*  5 */ "password(?= changed)",
    /*  6 */ "(?<!not )allowed\\b",
    /*  7 */ "^(?!.*\\bok\\b).*\\bfatal\\b",
    /*  8 */ "src=\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3} ",
    /*  9 */ "token=\\K[0-9a-f]{32}",                        /* \K: rewritten */
    /* 10 */ "(?:from (?<ip>[0-9.]+)|rhost=(?<ip>[0-9.]+))", /* duplicate names: rewritten */
    /* 11 */ "line one\\Rline two",                          /* \R: refused */
    /* 12 */ "(a|b)c(?1)",                                   /* subroutine call: refused */
    /* 13 */ "(*UCP)(?i)\\xe4rger",                          /* leading verb: always */
    /* 14 */ "x*",                                           /* matches the empty string */
    /* 15 */ "(?i:sudo)\\[\\d+\\]: +\\S+ : TTY",
    /* 16 */ "[[:upper:]]{3,}-\\d+",
    /* 17 */ "\\Aexact line\\z",
    /* 18 */ "a{,3}b", /* PCRE2 10.42: '{,3}' is literal */
    /* 19 */ "\\Qa.b*c\\E",
    /* 20 */ "(?m)^second$",
    /* 21 */ "(?x) c o m p a c t \\  s p a c e # a comment, to the end",
    /* 22 */ "(?<year>\\d{4})-(?<mon>\\d\\d)-(?<day>\\d\\d)T",
    /* 23 */ "\\bkernel\\b.*\\boom\\b",
    /* 24 */ "(?x) w i d e # a comment\n \\d+",
    /* 25 */ "(?<a>x)(?<a>y)\\k<a>", /* duplicate names and a named reference */
    /* Hyperscan's own prefilter approximation of a backreference misses these
     * (it re-evaluates the group's \b elsewhere, and ignores the (?i)) */
    /* 26 */ "(\\b)qz\\1",
    /* 27 */ "(j)(?i)\\1k",
    /* 28 */ "(zq)\\g{-1}",
    /* 29 */ "(?P<w>vv)(?P=w)",
    /* a keyword list, as cor_rules.c writes it: punctuation escaped, high bytes raw */
    /* 30 */ "(?:Out of memory|seg\\-fault|caf\xc3\xa9\\=\\<)",
    /* anchored: widened, cut before its first repeat (a counted one) */
    /* 31 */ "^Failed pw for (bad )?x from ([0-9]{1,3}\\.){3}[0-9]{1,3} port",
    /* anchored, not cut: a long literal after the repeat tells rules apart */
    /* 32 */ "^Rej from [^ ]+ to <alice@example\\.com>",
    /* anchored, left whole: \Q..\E and \c hide a paren or a ']' from the
     * widening scan, which would have cut in the wrong place */
    /* 33 */ "^x+(\\Q)abcd\\d(\\E)",
    /* 34 */ "^x+[\\c]]abcd\\d",
    /* extended mode skips byte 0x85 (NEL) in PCRE2, not in Hyperscan: an
     * always candidate (it was no candidate for "QW", which PCRE2 matches) */
    /* 35 */ "(?x)Q\x85" "W",
};
#define NOWN (sizeof(own) / sizeof(own[0]))

/* Asserts that the candidates for line are exactly the always candidates
 * plus the rules listed (terminated by -1), and that PCRE2 agrees with the
 * "match" list (terminated by -1) for the rules that are not always
 * candidates. */
static void expect(rset *s, const char *line, const int *cands, const int *matches)
{
    check_line(s, line, strlen(line));
    uint64_t want[1] = {0}, pm[1] = {0};
    for (const int *c = cands; *c >= 0; c++)
        want[0] |= UINT64_C(1) << *c;
    for (const int *m = matches; *m >= 0; m++)
        pm[0] |= UINT64_C(1) << *m;
    uint64_t always = 0;
    for (size_t i = 0; i < s->n; i++)
        if (cor_prefilter_always_reason(s->pf, i)) always |= UINT64_C(1) << i;
    ck_assert_msg(s->cand[0] == (want[0] | always), "line \"%s\": candidates %#llx, expected %#llx",
                  line, (unsigned long long)(s->cand[0] & ~always), (unsigned long long)want[0]);
    for (size_t i = 0; i < s->n; i++) {
        if (always >> i & 1) continue;
        int m = pcre2_match(s->re[i], (PCRE2_SPTR)line, strlen(line), 0, 0, s->md, NULL) >= 0;
        ck_assert_msg(m == (int)(pm[0] >> i & 1), "line \"%s\": rule %zu match %d", line, i, m);
    }
}

#define L(...) ((const int[]){__VA_ARGS__, -1})
#define NONE ((const int[]){-1})

START_TEST(test_own_exact)
{
#ifndef VG_HAVE_HS
    return; /* the fallback makes every rule a candidate: nothing exact to check */
#endif
    rset s;
    rset_init(&s, own, NOWN);
    ck_assert_uint_eq(s.n, NOWN);

    /* which rules Hyperscan cannot take, and which it takes after the rewrite */
    static const int always[] = {11, 12, 13, 14, 21, 35};
    size_t na = sizeof(always) / sizeof(always[0]);
    ck_assert_uint_eq(cor_prefilter_always(s.pf), na);
    for (size_t i = 0; i < na; i++)
        ck_assert_ptr_nonnull(cor_prefilter_always_reason(s.pf, (size_t)always[i]));
    ck_assert_ptr_null(cor_prefilter_always_reason(s.pf, 9));
    ck_assert_ptr_null(cor_prefilter_always_reason(s.pf, 10));
    ck_assert_ptr_null(cor_prefilter_always_reason(s.pf, 25));
    ck_assert_ptr_null(cor_prefilter_always_reason(s.pf, 0));
    ck_assert_ptr_null(cor_prefilter_always_reason(s.pf, NOWN)); /* out of range */
    ck_assert_str_eq(cor_prefilter_always_reason(s.pf, 13),
                     "starts with a (*VERB) option, not modelled by the prefilter");
    ck_assert_ptr_nonnull(strstr(cor_prefilter_always_reason(s.pf, 11), "\\R"));
    ck_assert_ptr_nonnull(strstr(cor_prefilter_always_reason(s.pf, 14), "empty"));

    /* exact where the regex is regular, wider where prefilter mode widens */
    /* 4 is a false candidate on any dotted quad: prefilter mode widens its
     * backreferences */
    expect(&s, "sshd[1]: FAILED Password for root from 10.0.0.1 port 22", L(0, 4, 10), L(0, 10));
    expect(&s, "<13>Jun  1 h app: error: disk full", L(1, 2), L(1, 2));
    expect(&s, "<13>Jun  1 h app: error: disk full.", L(1), L(1));
    expect(&s, "<1234>error: cpu exhausted", L(2), L(2));
    expect(&s, "user=bob logged in by=bob", L(3), L(3));
    expect(&s, "user=bob logged in by=eve", L(3), NONE); /* backreference widened */
    expect(&s, "route 7.7.7.7 added", L(4), L(4));
    expect(&s, "route 7.8.9.10 added", L(4), NONE); /* backreference widened */
    expect(&s, "password changed for root", L(5), L(5));
    expect(&s, "password expired for root", L(5), NONE); /* lookahead dropped */
    expect(&s, "access allowed", L(6), L(6));
    expect(&s, "access not allowed", L(6), NONE); /* lookbehind dropped */
    expect(&s, "allowedx", NONE, NONE);
    expect(&s, "fatal: disk", L(7), L(7));
    expect(&s, "ok, fatal: disk", L(7), NONE); /* lookahead dropped */
    expect(&s, "DROP src=192.168.0.1 dst=10.0.0.1", L(4, 8), L(8));
    expect(&s, "DROP src=1920.168.0.1 dst=10.0.0.1", L(4), NONE);
    expect(&s, "token=0123456789abcdef0123456789abcdef", L(9), L(9));
    expect(&s, "token=0123456789abcdef", NONE, NONE);
    expect(&s, "rhost=10.1.2.3", L(4, 10), L(10));
    expect(&s, "SuDo[12]:  alice : TTY=pts/0", L(15), L(15));
    expect(&s, "sudo[12]:  alice : tty=pts/0", NONE, NONE);
    expect(&s, "code ABC-123", L(16), L(16));
    expect(&s, "code AB-123", NONE, NONE);
    expect(&s, "exact line", L(17), L(17));
    expect(&s, "exact line\n", NONE, NONE);
    expect(&s, "a{,3}b", L(18), L(18));
    expect(&s, "aaab", NONE, NONE);
    expect(&s, "xa.b*cx", L(19), L(19));
    expect(&s, "xa.bbbcx", NONE, NONE);
    expect(&s, "first\nsecond\nthird", L(20), L(20));
    expect(&s, "first second third", NONE, NONE);
    expect(&s, "2024-06-01T12:00:00Z", L(22), L(22));
    expect(&s, "kernel: invoked oom-killer", L(23), L(23));
    expect(&s, "kernels: boom", NONE, NONE);
    expect(&s, "wide42", L(24), L(24));
    expect(&s, "wide 42", NONE, NONE);
    expect(&s, "", NONE, NONE);
    expect(&s, "xyx", L(25), L(25)); /* \k<a>: the first group named a that is set */
    expect(&s, "xyy", L(25), NONE);
    expect(&s, "qzy", L(26), L(26));
    expect(&s, "jJk", L(27), L(27));
    expect(&s, "jJ", NONE, NONE);
    expect(&s, "zqzq", L(28), L(28));
    expect(&s, "zqz", L(28), NONE); /* widened: (zq) then anything */
    expect(&s, "vvvv", L(29), L(29));
    expect(&s, "vvv", L(29), NONE);
    expect(&s, "kernel: Out of memory: Killed process 1", L(30), L(30));
    expect(&s, "kernel: out of memory", NONE, NONE);
    expect(&s, "seg-fault at 0", L(30), L(30));
    expect(&s, "menu: caf\xc3\xa9=<1", L(30), L(30));
    expect(&s, "menu: CAF\xc3\x89=<1", NONE, NONE);
    expect(&s, "Failed pw for bad x from 10.0.0.1 port 22", L(4, 10, 31), L(10, 31));
    expect(&s, "Failed pw for x from 10.0.0.1000 port 22", L(4, 10, 31), L(10)); /* cut */
    expect(&s, "Failed pw for x from here", L(31), NONE);                         /* cut */
    expect(&s, "Failed pw for y from 10.0.0.1 port 22", L(4, 10), L(10));
    expect(&s, " Failed pw for x from 10.0.0.1 port 22", L(4, 10), L(10)); /* still anchored */
    expect(&s, "Rej from mx.example.net to <alice@example.com>", L(32), L(32));
    expect(&s, "Rej from mx.example.net to <bob@example.com>", NONE, NONE); /* tail kept */
    expect(&s, "xx)abcd\\d(", L(33), L(33));
    expect(&s, " xx)abcd\\d(", NONE, NONE); /* still anchored */
    expect(&s, "xx\x1d" "abcd5", L(34), L(34));
    expect(&s, " xx\x1d" "abcd5", NONE, NONE); /* still anchored */

    /* and the always candidates really are needed */
    check_line(&s, "line one\r\nline two", 18);
    check_line(&s, "acbc", 4);
    check_line(&s, "\xc4rger", 5);
    check_line(&s, "compact space", 13);
    check_line(&s, "QW", 2);
    ck_assert_ptr_nonnull(strstr(cor_prefilter_always_reason(s.pf, 35), "0x85"));
    rset_report(&s, "own patterns");
    rset_free(&s);
}
END_TEST

/* ---- 3. single-byte semantics ---- */

START_TEST(test_bytes)
{
    static const char *const atoms[] = {
        ".",
        "\\s",
        "\\S",
        "\\w",
        "\\W",
        "\\d",
        "\\D",
        "\\h",
        "\\H",
        "\\v",
        "\\V",
        "[[:space:]]",
        "[[:alpha:]]",
        "[[:alnum:]]",
        "[[:punct:]]",
        "[[:print:]]",
        "[[:graph:]]",
        "[[:cntrl:]]",
        "[[:word:]]",
        "[[:blank:]]",
        "[[:xdigit:]]",
        "[[:lower:]]",
        "[[:upper:]]",
        "(?i)[[:lower:]]",
        "(?i)[[:upper:]]",
        "(?i)a",
        "(?i)[a-z]",
        "(?i)[^a-z]",
        "(?i)[^a]",
        "(?i)\\xe4",
        "(?i)\\xc4",
        "(?i)[\\xc0-\\xde]",
        "(?i)\\W",
        "(?i)[^\\w]",
        "\\p{L}",
        "\\p{Ll}",
        "\\p{Lu}",
        "\\P{L}",
        "\\p{Xan}",
        "\\p{Zs}",
        "\\pL",
        "[^\\n]",
        "\\e",
        "\\cA",
        "\\x{41}",
        "\\o{101}",
        "\\101",
        "\\0",
        "\\x",
        "\\x7f",
        "[\\W]",
        "[^\\W]",
        "[\\s\\S]",
        "[\\b]",
        "[]a]",
        "[^]a]",
        "[a-]",
        "[%--]",
        "\\C",
        "\\X",
        "(?s).",
        "(?-s).",
        "\\N",
        "\\R",
        "[[:^space:]]",
        "\\t",
        "\\n",
        "\\r",
        "\\f",
        "\\a",
    };
    const size_t na = sizeof(atoms) / sizeof(atoms[0]);
    /* each atom alone, anchored, and between word characters */
    char *pats[3 * sizeof(atoms) / sizeof(atoms[0])];
    for (size_t i = 0; i < na; i++) {
        size_t l = strlen(atoms[i]) + 8;
        pats[3 * i] = malloc(l);
        pats[3 * i + 1] = malloc(l);
        pats[3 * i + 2] = malloc(l);
        snprintf(pats[3 * i], l, "%s", atoms[i]);
        snprintf(pats[3 * i + 1], l, "^%s$", atoms[i]);
        snprintf(pats[3 * i + 2], l, "q%s\\b", atoms[i]);
    }
    rset s;
    rset_init(&s, (const char *const *)pats, 3 * na);
    char buf[3];
    for (int b = 0; b < 256; b++) {
        buf[0] = (char)b;
        check_line(&s, buf, 1);
        buf[0] = 'q', buf[1] = (char)b, buf[2] = 'z';
        check_line(&s, buf, 3);
        buf[2] = ' ';
        check_line(&s, buf, 3);
        buf[2] = '\n';
        check_line(&s, buf, 3);
    }
    rset_report(&s, "single bytes");
    rset_free(&s);
    for (size_t i = 0; i < 3 * na; i++)
        free(pats[i]);
}
END_TEST

/* ---- 4. random regexes ---- */

typedef struct rgen {
    char pat[400];
    size_t pl;
    obuf smp;
    int groups;     /* capturing groups opened so far */
    int closed[32]; /* group numbers closed, in order */
    char gtext[32][64];
    int nclosed;
    int room; /* elements left to emit */
} rgen;

static void rg_s(rgen *g, const char *s)
{
    size_t l = strlen(s);
    if (g->pl + l < sizeof(g->pat) - 1) {
        memcpy(g->pat + g->pl, s, l);
        g->pl += l;
        g->pat[g->pl] = '\0';
    }
}

static void rg_smp(rgen *g, char c)
{
    ob_put(&g->smp, c);
}

static void rg_alt(rgen *g, int depth);
static void rg_seq(rgen *g, int depth);

/* Set by test_widen_fuzz: only the syntax cor_prefilter_widen rewrites
 * (literals, plain classes, "(" and "(?:" groups, quantifiers), and the
 * quoting it must not misread (\Q..\E and \c holding a paren or a ']'). */
static int rg_plain;

static void rg_atom(rgen *g, int depth)
{
    static const char lits[] = "abcxAB01 -_:/=";
    static const char *const classes[] = {
        "\\d",   "\\w",   "\\s",          "\\W",    "\\D",         "\\S",          ".",
        "[abc]", "[^ab]", "[a-c]",        "[0-9.]", "[[:alpha:]]", "[^[:space:]]", "[-x]",
        "[A-Z]", "\\h",   "[\\x80-\\xff]"};
    static const char cls_smp[] = "7x -a!bczb.QyxY\t\xe9"; /* one member of each */
    unsigned r = rnd(depth > 2 ? 60 : 100);
    if (rg_plain && r >= 50 && r < 80) r = rnd(5) ? 80 + rnd(20) : 76; /* a group, or quoting */
    if (--g->room <= 0 || r < 35) { /* a literal */
        char c = lits[rnd(sizeof(lits) - 1)];
        char s[3] = {c, 0, 0};
        rg_s(g, s);
        rg_smp(g, rnd(6) ? c : (char)(isupper((unsigned char)c) ? tolower(c) : toupper(c)));
        return;
    }
    if (r < 50) {
        unsigned k = rnd(sizeof(classes) / sizeof(classes[0]));
        while (rg_plain && (k == 11 || k == 12 || k >= 15)) /* POSIX, \h, \x: not widened */
            k = rnd(sizeof(classes) / sizeof(classes[0]));
        rg_s(g, classes[k]);
        rg_smp(g, cls_smp[k]);
        return;
    }
    if (r < 60) { /* zero-width */
        static const char *const zw[] = {"\\b", "\\B", "\\K", "\\b", "\\B", "\\K",
                                         "^",   "$",   "\\A", "\\z", "\\Z"};
        rg_s(g, zw[rnd(rnd(4) ? 6 : 11)]); /* Hyperscan refuses most embedded anchors */
        return;
    }
    if (r < 66 && g->nclosed) { /* a backreference */
        int k = (int)rnd((unsigned)g->nclosed);
        char s[16];
        if (rnd(2))
            snprintf(s, sizeof(s), "\\%d", g->closed[k]);
        else
            snprintf(s, sizeof(s), "\\g{%d}", g->closed[k]);
        rg_s(g, s);
        for (const char *t = g->gtext[k]; *t; t++)
            rg_smp(g, *t);
        return;
    }
    if (r < 72) { /* lookaround: its sample is not emitted */
        static const char *const la[] = {"(?=", "(?!", "(?<=", "(?<!"};
        unsigned k = rnd(4);
        rg_s(g, la[k]);
        size_t keep = g->smp.n;
        if (k >= 2) { /* lookbehind: fixed length */
            char s[3] = {lits[rnd(6)], lits[rnd(6)], 0};
            rg_s(g, s);
        } else {
            rg_alt(g, depth + 1);
        }
        g->smp.n = keep;
        rg_s(g, ")");
        return;
    }
    if (r < 75) { /* an inline option for the rest of the group */
        static const char *const opt[] = {"(?i)", "(?-i)", "(?s)", "(?m)"};
        rg_s(g, opt[rnd(4)]);
        return;
    }
    if (r < 78 && rg_plain) { /* quoted parens and brackets: the sample is the text */
        static const char *const quo[] = {"\\Q)abcd(\\E", "\\Q(\\E", "\\Q)\\E",  "\\Qa]\\E",
                                          "[\\Q]\\E)]",  "\\c)",     "\\c(",    "[\\c]]"};
        static const char *const val[] = {")abcd(", "(", ")", "a]", ")", "i", "h", "\x1d"};
        unsigned k = rnd(8);
        rg_s(g, quo[k]);
        for (const char *v = val[k]; *v; v++)
            rg_smp(g, *v);
        return;
    }
    if (r < 78) { /* escapes for single bytes: the sample is the byte */
        static const char *const esc[] = {"\\x41", "\\x{62}", "\\Q.*\\E", "\\t",      "\\e",
                                          "\\cA",  "\\0",     "\\o{101}", "(?#note)x"};
        static const char *const val[] = {"A", "b", ".*", "\t", "\x1b", "\x01", "", "A", "x"};
        unsigned k = rnd(9);
        rg_s(g, esc[k]);
        if (k == 6) rg_smp(g, '\0');
        for (const char *v = val[k]; *v; v++)
            rg_smp(g, *v);
        return;
    }
    if (r < 80) { /* a conditional: on a group, or on an assertion */
        char s[16];
        if (g->nclosed && rnd(2))
            snprintf(s, sizeof(s), "(?(%d)", g->closed[rnd((unsigned)g->nclosed)]);
        else
            snprintf(s, sizeof(s), "(?(?=%c)", lits[rnd(6)]);
        rg_s(g, s);
        size_t keep = g->smp.n;
        rg_seq(g, depth + 1);
        int yes = (int)rnd(2);
        if (!yes) g->smp.n = keep;
        rg_s(g, "|");
        size_t keep2 = g->smp.n;
        rg_seq(g, depth + 1);
        if (yes) g->smp.n = keep2;
        rg_s(g, ")");
        return;
    }
    /* a group */
    static const char *const open[] = {"(",      "(?:",   "(?i:",  "(?-i:",   "(?>",
                                       "(?<n1>", "(?<d>", "(?'d'", "(?P<n2>", "(?s:"};
    unsigned k = rg_plain ? rnd(2) : rnd(10);
    int capture = k == 0 || k >= 5;
    int num = capture ? ++g->groups : 0;
    rg_s(g, open[k]);
    size_t from = g->smp.n;
    rg_alt(g, depth + 1);
    rg_s(g, ")");
    if (capture && g->nclosed < 32) {
        size_t l = g->smp.n - from < 63 ? g->smp.n - from : 63;
        memcpy(g->gtext[g->nclosed], g->smp.p + from, l);
        g->gtext[g->nclosed][l] = '\0';
        g->closed[g->nclosed++] = num;
    }
}

static void rg_seq(rgen *g, int depth)
{
    int n = 1 + (int)rnd(depth ? 3 : 6);
    for (int i = 0; i < n; i++) {
        size_t from = g->smp.n, pfrom = g->pl;
        rg_atom(g, depth);
        /* a quantifier on what was just emitted, unless it was zero-width or an option */
        if (g->smp.n == from || rnd(3) || g->pl == pfrom) continue;
        static const char *const q[] = {"?",    "*",  "+",  "{2}", "{1,3}", "{0,2}",
                                        "{2,}", "*?", "+?", "?+",  "*+",    "{1,3}?"};
        static const int qmin[] = {0, 0, 1, 2, 1, 0, 2, 0, 1, 0, 0, 1};
        unsigned k = rnd(12);
        /* wrap the atom in (?:...) so the quantifier applies to all of it */
        char tmp[400];
        size_t al = g->pl - pfrom;
        memcpy(tmp, g->pat + pfrom, al);
        g->pl = pfrom;
        rg_s(g, "(?:");
        tmp[al] = '\0';
        rg_s(g, tmp);
        rg_s(g, ")");
        rg_s(g, q[k]);
        char atom[LINE_MAX_LEN];
        size_t sl = g->smp.n - from;
        memcpy(atom, g->smp.p + from, sl);
        g->smp.n = from;
        int reps = qmin[k] + (int)rnd(3);
        for (int j = 0; j < reps; j++)
            for (size_t c = 0; c < sl; c++)
                rg_smp(g, atom[c]);
    }
}

static void rg_alt(rgen *g, int depth)
{
    int nb = depth < 3 && rnd(4) == 0 ? 2 + (int)rnd(2) : 1, pick = (int)rnd((unsigned)nb);
    for (int b = 0; b < nb; b++) {
        if (b) rg_s(g, "|");
        size_t keep = g->smp.n;
        rg_seq(g, depth);
        if (b != pick) g->smp.n = keep;
    }
}

START_TEST(test_fuzz)
{
    enum { BATCH = 64, SUBJ = 8 };
    /* VG_PREFILTER_FUZZ=BATCHES[:SEED] runs a longer hunt. Under ASan
     * (vt_asan.h) the first 8 of the 16 batches: the plain build runs all. */
    const char *env = getenv("VG_PREFILTER_FUZZ");
    int batches = env ? atoi(env) : VT_ASAN ? 8 : 16;
    rng_state = env && strchr(env, ':') ? strtoull(strchr(env, ':') + 1, NULL, 10) : 4;
    printf("prefilter fuzz: %d batches of %d patterns, seed %llu\n", batches, (int)BATCH,
           (unsigned long long)rng_state);
    uint64_t total_lines = 0, total_matches = 0, total_cands = 0, total_false = 0, refused_pcre = 0,
             always = 0, patterns = 0;
    for (int b = 0; b < batches; b++) {
        static char pats[BATCH][400];
        static char subj[BATCH * SUBJ][LINE_MAX_LEN];
        static size_t slen[BATCH * SUBJ];
        const char *pp[BATCH];
        size_t np = 0, ns = 0;
        while (np < BATCH) {
            rgen g;
            memset(&g, 0, sizeof(g));
            g.room = 12;
            if (rnd(8) == 0) rg_s(&g, (const char *[]){"(?i)", "^", "(?m)", "(?s)"}[rnd(4)]);
            rg_alt(&g, 0);
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)g.pat, PCRE2_ZERO_TERMINATED, PCRE2_DUPNAMES,
                                           &ec, &eo, NULL);
            if (!re) {
                refused_pcre++;
                continue;
            }
            pcre2_code_free(re);
            memcpy(pats[np], g.pat, g.pl + 1);
            pp[np] = pats[np];
            np++;
            /* subjects: the sample, framed by noise, edited, case-flipped */
            static const char noise[] = "abcxAB01 -_:/=\n\t\xe9";
            for (int k = 0; k < SUBJ; k++) {
                obuf o = g.smp;
                if (k >= 2) {
                    char pre[4], post[4];
                    size_t a = rnd(4), z = rnd(4);
                    for (size_t j = 0; j < a; j++)
                        pre[j] = noise[rnd(sizeof(noise) - 1)];
                    for (size_t j = 0; j < z; j++)
                        post[j] = noise[rnd(sizeof(noise) - 1)];
                    if (o.n + a + z < sizeof(o.p)) {
                        memmove(o.p + a, o.p, o.n);
                        memcpy(o.p, pre, a);
                        memcpy(o.p + a + o.n, post, z);
                        o.n += a + z;
                    }
                }
                if (k >= 4) mutate(&o);
                if (k == 7)
                    for (size_t j = 0; j < o.n; j++)
                        o.p[j] = (char)(rnd(2) ? toupper((unsigned char)o.p[j])
                                               : tolower((unsigned char)o.p[j]));
                if (k == 6) { /* a random string over the pattern alphabet */
                    o.n = rnd(12);
                    for (size_t j = 0; j < o.n; j++)
                        o.p[j] = noise[rnd(sizeof(noise) - 1)];
                }
                memcpy(subj[ns], o.p, o.n);
                slen[ns++] = o.n;
            }
        }
        rset s;
        rset_init(&s, pp, np);
        ck_assert_uint_eq(s.n, np);
        for (size_t k = 0; k < ns; k++)
            check_line(&s, subj[k], slen[k]);
        total_lines += s.lines;
        total_matches += s.matches;
        total_cands += s.cands;
        total_false += s.false_cands;
        always += cor_prefilter_always(s.pf);
        patterns += s.n;
        if (b == 0) /* show what the generator makes, and what Hyperscan refuses */
            for (size_t i = 0; i < 12; i++)
                printf("    fuzz pattern /%s/%s%s\n", s.src[i],
                       cor_prefilter_always_reason(s.pf, i) ? " always: " : "",
                       cor_prefilter_always_reason(s.pf, i) ? cor_prefilter_always_reason(s.pf, i)
                                                            : "");
        rset_free(&s);
    }
    printf("prefilter fuzz: %llu patterns (%llu more refused by PCRE2), %llu always candidates; "
           "%llu pattern-subject pairs: %llu matches, %llu candidates, %llu false\n",
           (unsigned long long)patterns, (unsigned long long)refused_pcre,
           (unsigned long long)always, (unsigned long long)(total_lines * BATCH),
           (unsigned long long)total_matches, (unsigned long long)total_cands,
           (unsigned long long)total_false);
    ck_assert_uint_gt(total_matches, 1000); /* the subjects do exercise matching */
}
END_TEST

/* Anchored patterns in the plain syntax that cor_prefilter_widen rewrites
 * (drops what comes before a literal run, cuts before a repeat), some
 * with the "^ *[^ ]+ : " and "^[0-9.]+ - - " heads of translated rules:
 * the widened expression must still report every line PCRE2 matches.
 * VG_WIDEN_DUMP=1 prints every pattern (to see which ones are widened). */
START_TEST(test_widen_fuzz)
{
    enum { BATCH = 64, SUBJ = 8 };
    static const char *const heads[] = {"",      "",         " *[^ ]+ : ", "[0-9.]+ - - ",
                                         "[^ ]+: ", "\\d+x",   "Accepted for ", "ab(c|d)?x=y"};
    static const char *const head_smp[] = {"", "", "  ab : ", "1.2 - - ", "q: ", "12x", "Accepted for ",
                                           "abdx=y"};
    rng_state = 11;
    rg_plain = 1;
    uint64_t matches = 0, lines = 0;
    /* Under ASan (vt_asan.h) the first 8 of the 16 batches; VG_PREFILTER_FUZZ
     * set: all of them. The plain build runs all. */
    int batches = VT_ASAN && !getenv("VG_PREFILTER_FUZZ") ? 8 : 16;
    for (int b = 0; b < batches; b++) {
        static char pats[BATCH][400];
        static char subj[BATCH * SUBJ][LINE_MAX_LEN];
        static size_t slen[BATCH * SUBJ];
        const char *pp[BATCH];
        size_t np = 0, ns = 0;
        while (np < BATCH) {
            rgen g;
            memset(&g, 0, sizeof(g));
            g.room = 14;
            unsigned h = rnd(8);
            rg_s(&g, "^");
            rg_s(&g, heads[h]);
            for (const char *t = head_smp[h]; *t; t++)
                rg_smp(&g, *t);
            rg_seq(&g, 0);
            int ec;
            PCRE2_SIZE eo;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)g.pat, PCRE2_ZERO_TERMINATED, PCRE2_DUPNAMES,
                                           &ec, &eo, NULL);
            if (!re) continue;
            pcre2_code_free(re);
            memcpy(pats[np], g.pat, g.pl + 1);
            pp[np] = pats[np];
            np++;
            static const char noise[] = "abcxAB01 -_:/=.";
            for (int k = 0; k < SUBJ; k++) {
                obuf o = g.smp;
                if (k >= 2 && o.n + 3 < sizeof(o.p)) /* noise after, so '^' still holds */
                    for (size_t j = 0, z = rnd(4); j < z; j++)
                        o.p[o.n++] = noise[rnd(sizeof(noise) - 1)];
                if (k >= 4) mutate(&o);
                memcpy(subj[ns], o.p, o.n);
                slen[ns++] = o.n;
            }
        }
        rset s;
        rset_init(&s, pp, np);
        for (size_t k = 0; k < ns; k++)
            check_line(&s, subj[k], slen[k]);
        if (b == 0 || getenv("VG_WIDEN_DUMP"))
            for (size_t i = 0; i < (getenv("VG_WIDEN_DUMP") ? s.n : 6); i++)
                printf("    widen fuzz pattern /%s/\n", s.src[i]);
        matches += s.matches;
        lines += s.lines;
        rset_free(&s);
    }
    rg_plain = 0;
    printf("prefilter widen fuzz: %llu lines, %llu matches\n", (unsigned long long)lines,
           (unsigned long long)matches);
    ck_assert_uint_gt(matches, 1000);
}
END_TEST

/* ---- 5. edges ---- */

START_TEST(test_edges)
{
    char err[128];
    cor_prefilter *pf = (cor_prefilter *)1;

    /* no patterns */
    ck_assert_int_eq(cor_prefilter_build(NULL, 0, &pf, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(pf);
    uint64_t w = 0xdead;
    ck_assert_int_eq(cor_prefilter_scan(pf, "abc", 3, &w), 0);
    ck_assert_uint_eq(w, 0xdead); /* n = 0: zero words, nothing written */
    ck_assert_uint_eq(cor_prefilter_always(pf), 0);
    ck_assert_ptr_null(cor_prefilter_always_reason(pf, 0));
    cor_prefilter_free(pf);
    cor_prefilter_free(NULL);

    /* bad arguments */
    const char *one[] = {"a", NULL};
    pf = (cor_prefilter *)1;
    ck_assert_int_eq(cor_prefilter_build(NULL, 1, &pf, err, sizeof(err)), -EINVAL);
    ck_assert_ptr_null(pf);
    ck_assert_ptr_nonnull(strstr(err, "invalid"));
    ck_assert_int_eq(cor_prefilter_build(one, 1, NULL, err, 0), -EINVAL);

    /* a NULL pattern: a rule without a regex, a candidate for every line */
    ck_assert_int_eq(cor_prefilter_build(one, 2, &pf, err, sizeof(err)), 0);
    ck_assert_uint_eq(cor_prefilter_always(pf), 1 + (cor_prefilter_always_reason(pf, 0) != NULL));
    ck_assert_str_eq(cor_prefilter_always_reason(pf, 1), "no regex");
    ck_assert_int_eq(cor_prefilter_scan(pf, "zzz", 3, &w), 1 + (int)(w & 1));
    ck_assert_uint_eq(w >> 1, 1);
    cor_prefilter_free(pf);

    /* 130 patterns: three words, the bits past n stay 0, empty subjects */
    char *pats[130];
    for (int i = 0; i < 130; i++) {
        pats[i] = malloc(16);
        snprintf(pats[i], 16, i % 2 ? "w%dx" : "^w%d$", i);
    }
    ck_assert_int_eq(cor_prefilter_build((const char *const *)pats, 130, &pf, err, sizeof(err)), 0);
    ck_assert_uint_eq(cor_prefilter_count(pf), 130);
    uint64_t cand[3];
    memset(cand, 0xff, sizeof(cand));
    int nc = cor_prefilter_scan(pf, "w129x", 5, cand);
#ifdef VG_HAVE_HS
    ck_assert_int_eq(nc, 1);
    ck_assert_uint_eq(cand[0], 0);
    ck_assert_uint_eq(cand[1], 0);
    ck_assert_uint_eq(cand[2], UINT64_C(1) << 1);
    ck_assert_int_eq(cor_prefilter_scan(pf, "w128", 4, cand), 1);
    ck_assert_uint_eq(cand[2], 1);
    ck_assert_int_eq(cor_prefilter_scan(pf, NULL, 0, cand), 0);
    ck_assert_int_eq(cor_prefilter_scan(pf, "", 0, cand), 0);
    ck_assert_uint_eq(cand[0] | cand[1] | cand[2], 0);
    /* a subject with NULs and no terminator */
    char nul[6] = {'w', '3', 'x', '\0', 'w', '5'};
    ck_assert_int_eq(cor_prefilter_scan(pf, nul, 6, cand), 1);
    ck_assert_uint_eq(cand[0], UINT64_C(1) << 3);
#else
    ck_assert_int_eq(nc, 130);
    ck_assert_uint_eq(cand[2], 3);
    ck_assert_uint_eq(cor_prefilter_always(pf), 130);
    ck_assert_str_eq(cor_prefilter_always_reason(pf, 5), "built without hyperscan");
#endif
    cor_prefilter_free(pf);
    for (int i = 0; i < 130; i++)
        free(pats[i]);

    /* an empty pattern matches every line: always a candidate */
    const char *empty[] = {"", "b"};
    ck_assert_int_eq(cor_prefilter_build(empty, 2, &pf, err, sizeof(err)), 0);
    ck_assert_int_eq(cor_prefilter_scan(pf, "zzz", 3, cand), 1 + (cor_prefilter_always(pf) > 1));
    ck_assert_uint_eq(cand[0] & 1, 1);
    ck_assert_ptr_nonnull(cor_prefilter_always_reason(pf, 0));
    cor_prefilter_free(pf);
}
END_TEST

static Suite *prefilter_suite(void)
{
    Suite *s = suite_create("prefilter");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_edges);
    tcase_add_test(t, test_own_exact);
    tcase_add_test(t, test_bytes);
    tcase_add_test(t, test_fuzz);
    tcase_add_test(t, test_widen_fuzz);
    tcase_add_test(t, test_rules50);
    tcase_add_test(t, test_rules500);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(prefilter_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
