/* Multi-pattern prefilter: which rules may match a line (docs/prefilter.md).
 *
 * Every rule's regex goes into one Hyperscan block-mode database, compiled
 * with HS_FLAG_PREFILTER: Hyperscan then accepts constructs it cannot run
 * exactly (lookarounds, atomic groups, possessive and large bounded repeats,
 * conditionals) by widening them, so a match it reports is only a "maybe",
 * but a pattern that matches is always reported (backreferences are the
 * exception, so we widen those ourselves: see 2. below). One scan per event
 * marks the candidates; PCRE2 confirms them.
 *
 * Build order:
 *   1. A pattern starting with a (*VERB) option ((*UTF), (*UCP), (*CRLF),
 *      ...) is an always candidate: those change the meaning of the rest of
 *      the pattern in ways Hyperscan does not follow (e.g. (*UCP)(?i) folds
 *      Latin-1 letters in PCRE2 and not in Hyperscan).
 *   2. Each other pattern is rewritten (cor_prefilter_rewrite) into an
 *      expression that matches at least what it matches and that Hyperscan
 *      reads the way PCRE2 does: backreferences become "any string" (prefilter
 *      mode's own approximation of them can miss: "(\b)x\1" on "xy"), group
 *      names and \K go. An anchored expression is then widened further
 *      where that makes it cheaper to scan (cor_prefilter_widen: a leading
 *      repeat before a literal run, or a tail from the first repeat on, is
 *      dropped). The expression is then checked on its own:
 *      hs_expression_info for all, plus hs_compile for those that may match
 *      the empty string (see cor_prefilter_check; compiling each one by one
 *      would double the build time). If Hyperscan refuses it, the pattern is
 *      an always candidate with Hyperscan's message.
 *   3. The accepted patterns go into one hs_compile_multi. Should that
 *      refuse an expression the quick check let through (a resource limit),
 *      the remaining patterns are compiled one by one as in 2, and again
 *      into one database; refusals then move one expression at a time to
 *      the always candidates. A failure not tied to an expression makes
 *      every rule an always candidate. The prefilter is then slow, never
 *      wrong.
 *
 * Flags: PCRE2 compiles the rules in byte mode with PCRE2_DUPNAMES only, so
 * Hyperscan gets no UTF8/UCP/CASELESS/MULTILINE flag and inline options
 * ((?i), (?m), (?s), (?x)) are read the same way by both. HS_FLAG_DOTALL is
 * set although PCRE2's '.' excludes '\n': widening '.' can only add
 * candidates, and prefilter mode drops negative lookarounds rather than
 * evaluating them, so there is no context in which the wider '.' removes a
 * match. HS_FLAG_SINGLEMATCH: we only need to know that a pattern matched.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cor_prefilter.h"

#ifdef VG_HAVE_HS
#include <hs.h>
#endif

#define COR_PF_MULTI_RETRIES 16 /* hs_compile_multi attempts before giving up */

/* A rule that every scan reports, and why. Kept sorted by rule. */
typedef struct cor_pf_always {
    size_t rule;
    char *why;
} cor_pf_always;

struct cor_prefilter {
    size_t n;           /* patterns, i.e. rules */
    size_t nwords;      /* (n + 63) / 64 */
    uint64_t *always;   /* nwords: bits of the always candidates */
    cor_pf_always *why; /* nalways entries, sorted by rule */
    size_t nalways;
#ifdef VG_HAVE_HS
    hs_database_t *db;     /* NULL when every rule is an always candidate */
    void *db_mem;          /* db lives here (cor_prefilter_rehome), not in Hyperscan's heap */
    size_t db_len;         /* of the db_mem mapping */
    hs_scratch_t *scratch; /* one scan at a time: pf is single-threaded */
#endif
};

size_t cor_prefilter_count(const cor_prefilter *pf)
{
    return pf ? pf->n : 0;
}

size_t cor_prefilter_db_size(const cor_prefilter *pf)
{
#ifdef VG_HAVE_HS
    size_t sz = 0;
    if (pf && pf->db && hs_database_size(pf->db, &sz) == HS_SUCCESS) return sz;
#else
    (void)pf;
#endif
    return 0;
}

size_t cor_prefilter_always(const cor_prefilter *pf)
{
    return pf ? pf->nalways : 0;
}

const char *cor_prefilter_always_reason(const cor_prefilter *pf, size_t i)
{
    if (!pf || i >= pf->n || !(pf->always[i / 64] >> (i % 64) & 1)) return NULL;
    size_t lo = 0, hi = pf->nalways;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pf->why[mid].rule < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pf->nalways && pf->why[lo].rule == i ? pf->why[lo].why : NULL;
}

void cor_prefilter_free(cor_prefilter *pf)
{
    if (!pf) return;
#ifdef VG_HAVE_HS
    hs_free_scratch(pf->scratch);
    if (pf->db_mem)
        munmap(pf->db_mem, pf->db_len);
    else
        hs_free_database(pf->db);
#endif
    for (size_t i = 0; i < pf->nalways; i++)
        free(pf->why[i].why);
    free(pf->why);
    free(pf->always);
    free(pf);
}

#ifdef VG_HAVE_HS
#define COR_PF_HUGE (2u << 20) /* a transparent huge page */

/* Moves the compiled database into memory of its own, 2 MiB-aligned and
 * advised for transparent huge pages. A scan walks the bytecode of every
 * pattern family present in the line; with the bench's 1,000 rules the
 * database is 819 KB, 200 4 KiB pages, and TLB misses (dear under
 * virtualisation) are part of why a line at 1,000 rules runs at a lower IPC
 * than at 10 (bench/README.md, session 4). Best effort: on any failure the
 * database stays where Hyperscan put it. */
static void cor_prefilter_rehome(cor_prefilter *pf)
{
    char *ser = NULL;
    size_t len = 0, dsz = 0;
    if (hs_serialize_database(pf->db, &ser, &len) != HS_SUCCESS) return;
    void *mem = NULL;
    if (hs_serialized_database_size(ser, len, &dsz) == HS_SUCCESS && dsz > 0) {
        size_t cap = (dsz + COR_PF_HUGE - 1) & ~(size_t)(COR_PF_HUGE - 1);
        /* mmap, not malloc: heap pages may be faulted in already (as 4 KiB) */
        char *m = mmap(NULL, cap + COR_PF_HUGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
            char *a = (char *)(((uintptr_t)m + COR_PF_HUGE - 1) & ~(uintptr_t)(COR_PF_HUGE - 1));
            char *end = m + cap + COR_PF_HUGE;
            if (a > m) munmap(m, (size_t)(a - m)); /* keep [a, a + cap) only */
            if (end > a + cap) munmap(a + cap, (size_t)(end - (a + cap)));
            (void)madvise(a, cap, MADV_HUGEPAGE); /* advice only: fine if refused */
            if (hs_deserialize_database_at(ser, len, (hs_database_t *)a) == HS_SUCCESS) {
                mem = a;
                pf->db_len = cap;
            } else {
                munmap(a, cap);
            }
        }
    }
    free(ser); /* Hyperscan's default allocator is malloc */
    if (!mem) return;
    hs_free_database(pf->db);
    pf->db = (hs_database_t *)mem;
    pf->db_mem = mem;
}
#endif

/* Makes rule i an always candidate with a printf-style reason. pf->why is
 * sorted by rule once building is over (cor_prefilter_build_hs). */
static int cor_prefilter_mark(cor_prefilter *pf, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cor_prefilter_mark(cor_prefilter *pf, size_t i, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *why = strdup(buf);
    if (!why) return -ENOMEM;
    pf->why[pf->nalways].rule = i;
    pf->why[pf->nalways].why = why;
    pf->nalways++;
    pf->always[i / 64] |= UINT64_C(1) << (i % 64);
    return 0;
}

/* Fills cand with every rule (bits past n left 0) and returns n. */
static int cor_prefilter_all(const cor_prefilter *pf, uint64_t *cand)
{
    if (pf->nwords == 0) return 0;
    memset(cand, 0xff, pf->nwords * sizeof(uint64_t));
    if (pf->n % 64) cand[pf->nwords - 1] = (UINT64_C(1) << (pf->n % 64)) - 1;
    return (int)pf->n;
}

#ifdef VG_HAVE_HS

#define COR_PF_HS_FLAGS (HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL)

static int cor_prefilter_why_cmp(const void *a, const void *b)
{
    size_t x = ((const cor_pf_always *)a)->rule, y = ((const cor_pf_always *)b)->rule;
    return x < y ? -1 : x > y;
}

/* What every backreference becomes in the expression Hyperscan gets: any
 * string. Prefilter mode would approximate a backreference by the group it
 * names, but that copy re-evaluates the group's assertions at the new place
 * and keeps the group's case-sensitivity, so it can refuse what PCRE2 takes:
 * "(\b)x\1" on "xy" (\1 is the empty string there, and no boundary follows
 * x) or "(a)(?i)\1" on "aA" (a caseless backreference). Any string is always
 * wider; [\x00-\xff] does not depend on (?s). */
#define COR_PF_ANY "(?:[\\x00-\\xff]*)"

/* Returns the expression Hyperscan gets for pattern p (malloc'd; with
 * *status = 0): a pattern that matches every subject p matches (for "is
 * there a match", which is all the prefilter asks), written so that
 * Hyperscan's prefilter mode stays wider than PCRE2:
 *   - every backreference (\1..\9, \g1, \g{-1}, \g{name}, \k<name>,
 *     \k'name', \k{name}, (?P=name)) becomes COR_PF_ANY (see above);
 *   - group names are dropped: (?<name>, (?'name' and (?P<name> become '('
 *     (the group keeps its number), which takes the duplicate names
 *     PCRE2_DUPNAMES allows and Hyperscan refuses;
 *   - \K is dropped (it moves the start of the reported match, not whether
 *     there is one).
 * The lexer is deliberately simple and gives up (NULL, *status = 1) on what
 * it cannot read with certainty: extended mode (an 'x' in an inline option,
 * where whitespace and '#' change meaning), \NN with two or more digits
 * (a backreference or an octal escape, depending on the groups around),
 * \g<..> and \g'..', (?P>, (?& and conditions (?(. NULL with *status < 0:
 * out of memory. */
static char *cor_prefilter_rewrite(const char *p, int *status)
{
    size_t len = strlen(p), o = 0;
    *status = 0;
    /* the widest growth is a two-byte backreference becoming COR_PF_ANY */
    char *out = malloc(len * (sizeof(COR_PF_ANY) / 2 + 1) + 1);
    if (!out) {
        *status = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < len;) {
        char c = p[i];
        if (c == '\\') {
            char e = p[i + 1];
            size_t ref = 0; /* length of a backreference at i */
            if (e == 'Q') { /* literal up to \E (or the end) */
                const char *end = strstr(p + i + 2, "\\E");
                size_t stop = end ? (size_t)(end - p) + 2 : len;
                memcpy(out + o, p + i, stop - i);
                o += stop - i;
                i = stop;
                continue;
            }
            if (e == 'K') {
                i += 2;
                continue;
            }
            if (e >= '1' && e <= '9') {
                if (p[i + 2] >= '0' && p[i + 2] <= '9') goto give_up;
                ref = 2;
            } else if (e == 'g' || e == 'k') {
                const char *f = p + i + 2, *end = NULL;
                if (*f == '{')
                    end = strchr(f, '}');
                else if (e == 'k' && *f == '<')
                    end = strchr(f, '>');
                else if (e == 'k' && *f == '\'')
                    end = strchr(f + 1, '\'');
                else if (e == 'g' && (*f == '-' || *f == '+' || (*f >= '0' && *f <= '9'))) {
                    end = f + 1;
                    while (*end >= '0' && *end <= '9')
                        end++;
                    end--;
                }
                if (!end) goto give_up;
                ref = (size_t)(end - (p + i)) + 1;
            }
            if (ref) {
                memcpy(out + o, COR_PF_ANY, sizeof(COR_PF_ANY) - 1);
                o += sizeof(COR_PF_ANY) - 1;
                i += ref;
                continue;
            }
            size_t w = e == '\0' ? 1 : (e == 'c' && p[i + 2]) ? 3 : 2; /* \c( is a control char */
            memcpy(out + o, p + i, w);
            o += w;
            i += w;
            continue;
        }
        if (c == '[') { /* a class: copy through its closing ']' */
            size_t j = i + 1;
            if (p[j] == '^') j++;
            if (p[j] == ']') /* a leading ']' is literal */
                j++;
            while (j < len && p[j] != ']') {
                if (p[j] == '\\' && p[j + 1] == 'Q') {
                    const char *end = strstr(p + j + 2, "\\E");
                    j = end ? (size_t)(end - p) + 2 : len;
                } else if (p[j] == '\\' && p[j + 1]) {
                    j += 2;
                } else if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
                    const char *end = strchr(p + j + 2, ']'); /* [:alpha:] */
                    j = end ? (size_t)(end - p) + 1 : len;
                } else {
                    j++;
                }
            }
            if (j >= len) goto give_up;
            memcpy(out + o, p + i, j + 1 - i);
            o += j + 1 - i;
            i = j + 1;
            continue;
        }
        if (c == '(' && p[i + 1] == '?') {
            const char *q = p + i + 2;
            if (*q == '#') { /* comment up to ')' */
                const char *end = strchr(q, ')');
                if (!end) goto give_up;
                size_t stop = (size_t)(end - p) + 1;
                memcpy(out + o, p + i, stop - i);
                o += stop - i;
                i = stop;
                continue;
            }
            if (q[0] == 'P' && q[1] == '=') {
                const char *end = strchr(q, ')');
                if (!end) goto give_up;
                memcpy(out + o, COR_PF_ANY, sizeof(COR_PF_ANY) - 1);
                o += sizeof(COR_PF_ANY) - 1;
                i = (size_t)(end - p) + 1;
                continue;
            }
            if ((q[0] == 'P' && q[1] == '>') || q[0] == '&' || q[0] == '(') goto give_up;
            char close = 0;
            if (q[0] == '<' && q[1] != '=' && q[1] != '!') {
                close = '>', q++;
            } else if (q[0] == '\'') {
                close = '\'', q++;
            } else if (q[0] == 'P' && q[1] == '<') {
                close = '>', q += 2;
            }
            if (close) {
                const char *end = strchr(q, close);
                if (!end) goto give_up;
                out[o++] = '(';
                i = (size_t)(end - p) + 1;
                continue;
            }
            /* an option setting, (?i) or (?i-s:...): refuse extended mode */
            for (; (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '-' || *q == '^';
                 q++)
                if (*q == 'x') goto give_up;
        }
        out[o++] = c;
        i++;
    }
    out[o] = '\0';
    return out;
give_up:
    free(out);
    *status = 1;
    return NULL;
}

/* ---- widening anchored patterns (step 2b) ------------------------------- */

#define COR_PF_RUN 4 /* literal bytes in a row that make a good scan start */
#define COR_PF_KEEP 6 /* literal bytes a truncated anchored prefix keeps at least */
#define COR_PF_TAIL 8 /* a literal run this long in the tail keeps the tail */
#define COR_PF_ATOMS 256 /* top-level elements read at most */

/* One top-level element of a pattern, for cor_prefilter_widen. */
typedef struct cor_pf_atom {
    size_t at, len; /* the element with its quantifier: p[at .. at + len) */
    bool literal;   /* one literal byte, not quantified */
    bool unbounded; /* may repeat without bound (*, +, {n,}, or holds such a repeat) */
    bool repeats;   /* may match more than once (any such quantifier, or holds one) */
} cor_pf_atom;

/* Whether the escape \e may be stepped over as two bytes when looking for
 * the end of a group or class. Not \Q, whose quoted text up to \E may hold
 * ')' or ']' ("(\Q)\E)" is one group), nor \c, which takes the next byte
 * whatever it is ("\c)" is a control character, not a ')'). */
static bool cor_pf_escape_steps(char e)
{
    return e != '\0' && e != 'Q' && e != 'c';
}

/* The index of the ']' that closes the class opening at p[i] (a '['), or
 * -1 for what cor_prefilter_atoms does not read (POSIX names, \Q, \c) and
 * for a class that does not close. */
static long cor_pf_class_end(const char *p, size_t i, size_t len)
{
    size_t j = i + 1;
    if (p[j] == '^') j++;
    if (p[j] == ']') j++;
    while (j < len && p[j] != ']') {
        if (p[j] == '[') return -1; /* [:alpha:] and friends */
        if (p[j] == '\\' && !cor_pf_escape_steps(p[j + 1])) return -1;
        j += p[j] == '\\' ? 2 : 1;
    }
    return j < len ? (long)j : -1;
}

/* Splits the top level of p (after a leading '^') into elements. Only a
 * plain subset of the syntax is read: literal bytes, escaped punctuation,
 * \d \D \w \W \s \S \b \B, classes without nested '[', groups "(" and "(?:"
 * and the quantifiers * + ? {n} {n,} {n,m} (lazy or possessive). Anything
 * else (other escapes, "(?" constructs, a top-level '|', \Q or \c anywhere)
 * returns -1: the pattern is then left as it is. Returns the number of
 * elements. */
static int cor_prefilter_atoms(const char *p, cor_pf_atom *a, int max)
{
    int n = 0;
    size_t i = 0, len = strlen(p);
    while (i < len) {
        if (n == max) return -1;
        size_t at = i;
        bool lit = false, unb = false, rep = false;
        char c = p[i];
        if (c == '\\') {
            char e = p[i + 1];
            if (e == '\0') return -1;
            if (strchr("dDwWsSbB", e))
                lit = false;
            else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
                return -1; /* \x, \Q, \p, \1, \N, \R, \K, ...: not read here */
            else
                lit = true;
            i += 2;
        } else if (c == '[') {
            long end = cor_pf_class_end(p, i, len);
            if (end < 0) return -1;
            i = (size_t)end + 1;
        } else if (c == '(') {
            if (p[i + 1] == '?' && p[i + 2] != ':') return -1; /* lookaround, options, ... */
            int depth = 0;
            size_t j = i;
            for (; j < len; j++) {
                if (p[j] == '\\') {
                    if (!cor_pf_escape_steps(p[j + 1])) return -1;
                    j++;
                } else if (p[j] == '[') {
                    long end = cor_pf_class_end(p, j, len);
                    if (end < 0) return -1;
                    j = (size_t)end;
                } else if (p[j] == '(') {
                    if (p[j + 1] == '?' && p[j + 2] != ':') return -1;
                    depth++;
                } else if (p[j] == ')') {
                    if (--depth == 0) break;
                } else if (p[j] == '*' || p[j] == '+' || (p[j] == ',' && p[j + 1] == '}')) {
                    unb = true;
                }
                if (p[j] == '*' || p[j] == '+' || p[j] == '{') rep = true;
            }
            if (j >= len) return -1;
            i = j + 1;
        } else if (c == '.' || c == '$') {
            i++;
        } else if (strchr("|)*+?{^", c)) {
            return -1;
        } else {
            lit = true;
            i++;
        }
        /* the quantifier */
        char q = p[i];
        bool quant = true;
        if (q == '*' || q == '+' || q == '?') {
            unb = unb || q != '?';
            rep = rep || q != '?';
            i++;
        } else if (q == '{') {
            size_t j = i + 1;
            long hi = strtol(p + j, NULL, 10); /* {n}: n; {n,m}: m; {n,}: unbounded */
            while (p[j] >= '0' && p[j] <= '9') j++;
            if (j == i + 1) return -1; /* "{,3}" and "{x": literal braces in PCRE2 10.42 */
            if (p[j] == ',') {
                j++;
                if (p[j] == '}') unb = true;
                hi = unb ? LONG_MAX : strtol(p + j, NULL, 10);
                while (p[j] >= '0' && p[j] <= '9') j++;
            }
            rep = rep || hi > 1;
            if (p[j] != '}') return -1;
            i = j + 1;
        } else {
            quant = false;
        }
        if (quant) {
            lit = false;
            if (p[i] == '?' || p[i] == '+') i++; /* lazy or possessive */
        }
        a[n++] = (cor_pf_atom){at, i - at, lit, unb, rep};
    }
    return n;
}

/* Returns a wider, cheaper expression for an anchored pattern x (malloc'd),
 * or NULL to keep x (also when out of memory: x is always right). Many rule
 * regexes are anchored at the start of MSG; Hyperscan pays for them on every
 * line, more so when they start with a repeat ("^ *[^ ]+ : TTY=",
 * "^[0-9.]+ - - \"GET /x") or end in one ("... port [0-9]+"): 14% fewer
 * instructions per scan with the 1,000 bench rules. Both changes only drop
 * conditions, so every subject x matches still matches:
 *   - an anchored pattern whose first run of COR_PF_RUN literal bytes comes
 *     after an unbounded repeat loses everything before that run, '^'
 *     included: "^ *[^ ]+ : TTY=..." becomes " : TTY=...";
 *   - a pattern still anchored is cut before the first element that may
 *     repeat (*, +, {n,m} with m > 1, or a group holding one) where what
 *     stays holds at least COR_PF_KEEP literal bytes and what goes holds no
 *     run of COR_PF_TAIL literal bytes: "^Failed password for (a|b) from
 *     [0-9.]+ port" and "^Failed password for (a|b) from ([0-9]{1,3}\.){3}"
 *     both become "^Failed password for (a|b) from ". A long literal in the
 *     tail is what tells apart rules with a common head: the 78 bench rules
 *     "^NOQUEUE: reject: RCPT from [^ ]+\[...]: 554 5\.7\.1 <NAME@...>"
 *     cut to their head were each a candidate on every such line. Keeping
 *     such tails took the false candidates on the bench stream from 14,853
 *     to 4,330 per 200,000 lines (7,752 of them NOQUEUE rules, at ~2 us a
 *     PCRE2 call), for about the same database size.
 * Only the syntax cor_prefilter_atoms reads is touched, and nothing with a
 * "(?" construct other than "(?:" (options such as (?i) would change the
 * meaning of what stays). */
static char *cor_prefilter_widen(const char *x)
{
    if (x[0] != '^') return NULL;
    for (const char *q = strstr(x, "(?"); q; q = strstr(q + 2, "(?"))
        if (q[2] != ':') return NULL; /* even "\(?": this is a cheap, safe guess */
    cor_pf_atom a[COR_PF_ATOMS];
    const char *body = x + 1;
    int n = cor_prefilter_atoms(body, a, COR_PF_ATOMS);
    if (n <= 0) return NULL;
    int from = 0, run = 0, runstart = -1;
    bool unb_before = false, seen_unb = false;
    for (int k = 0; k < n && runstart < 0; k++) {
        if (a[k].literal) {
            if (++run == COR_PF_RUN) runstart = k - COR_PF_RUN + 1, unb_before = seen_unb;
        } else {
            run = 0;
            seen_unb = seen_unb || a[k].unbounded;
        }
    }
    bool anchored = true;
    if (runstart > 0 && unb_before) {
        from = runstart;
        anchored = false;
    }
    int to = n;
    if (anchored) {
        /* suf[k]: the longest literal run in a[k..n) */
        int suf[COR_PF_ATOMS + 1];
        suf[n] = 0;
        for (int k = n - 1, r = 0; k >= from; k--) {
            r = a[k].literal ? r + 1 : 0;
            suf[k] = r > suf[k + 1] ? r : suf[k + 1];
        }
        int lits = 0;
        for (int k = from; k < n; k++) {
            if (a[k].repeats && lits >= COR_PF_KEEP && suf[k] < COR_PF_TAIL) {
                to = k;
                break;
            }
            lits += a[k].literal;
        }
    }
    if (from == 0 && to == n) return NULL;
    size_t start = a[from].at, end = a[to - 1].at + a[to - 1].len;
    char *w = malloc(end - start + 2);
    if (!w) return NULL;
    size_t o = 0;
    if (anchored) w[o++] = '^';
    memcpy(w + o, body + start, end - start);
    w[o + end - start] = '\0';
    return w;
}

/* Whether p may hold a backreference: a crude, wide scan for when
 * cor_prefilter_rewrite gives up (\1-\9, \g, \k or (?P= anywhere). */
static int cor_prefilter_has_backref(const char *p)
{
    for (; *p; p++) {
        if (*p == '\\') {
            if ((p[1] >= '1' && p[1] <= '9') || p[1] == 'g' || p[1] == 'k') return 1;
            if (p[1]) p++;
        } else if (p[0] == '(' && p[1] == '?' && p[2] == 'P' && p[3] == '=') {
            return 1;
        }
    }
    return 0;
}

/* Asks Hyperscan whether it takes expression p on its own. The quick check
 * is hs_expression_info (a parse and an analysis, some 15 times cheaper than
 * a compile); a pattern that may match the empty string, which only a
 * compile tells apart (it refuses "a?" but takes "\bx?"), and every pattern
 * when full is set, gets a real hs_compile. Returns 0 if taken, 1 if refused
 * with "hyperscan: <message>" in msg, -ENOMEM. */
static int cor_prefilter_check(const char *p, int full, char *msg, size_t msglen)
{
    hs_compile_error_t *ce = NULL;
    hs_error_t e = HS_SUCCESS;
    if (!full) {
        hs_expr_info_t *info = NULL;
        e = hs_expression_info(p, COR_PF_HS_FLAGS, &info, &ce);
        if (e == HS_SUCCESS) {
            full = info->min_width == 0;
            free(info); /* malloc'd: we set no Hyperscan allocator */
            if (!full) return 0;
        }
    }
    if (full) {
        hs_database_t *db = NULL;
        hs_free_compile_error(ce);
        ce = NULL;
        e = hs_compile(p, COR_PF_HS_FLAGS, HS_MODE_BLOCK, NULL, &db, &ce);
        hs_free_database(db);
    }
    if (e == HS_SUCCESS) return 0;
    if (e == HS_NOMEM) {
        hs_free_compile_error(ce);
        return -ENOMEM;
    }
    snprintf(msg, msglen, "hyperscan: %s", ce && ce->message ? ce->message : "refused");
    hs_free_compile_error(ce);
    return 1;
}

/* Whether p may set extended mode somewhere: "(?" then option letters
 * holding an x. Over-reads (a "(?x)" inside a class), never misses. */
static int cor_prefilter_maybe_extended(const char *p)
{
    for (const char *q = strstr(p, "(?"); q; q = strstr(q + 2, "(?")) {
        const char *o = q + 2;
        while ((*o >= 'a' && *o <= 'z') || (*o >= 'A' && *o <= 'Z') || *o == '-' || *o == '^')
            if (*o++ == 'x')
                return 1;
    }
    return 0;
}

/* Decides what Hyperscan gets for pattern p: its rewrite (stored in *owned
 * too), or p itself when the rewrite gives up on a pattern without
 * backreferences. Returns 0 with *expr set if Hyperscan takes it; 1 if not,
 * with the reason in msg; -ENOMEM. */
static int cor_prefilter_try(const char *p, int full, const char **expr, char **owned, char *msg,
                             size_t msglen)
{
    *owned = NULL;
    *expr = NULL;
    int status;
    char *r = cor_prefilter_rewrite(p, &status);
    if (status < 0) return status;
    if (!r && cor_prefilter_has_backref(p)) {
        snprintf(msg, msglen,
                 "may hold a backreference the prefilter cannot widen (\\NN, "
                 "extended mode, or next to (?( (?& (?P> \\g<>)");
        return 1;
    }
    if (!r && memchr(p, 0x85, strlen(p)) && cor_prefilter_maybe_extended(p)) {
        /* in 8-bit mode PCRE2's extended mode skips byte 0x85 (NEL) as
         * white space, which Hyperscan reads as a literal: (?x)a\x85b
         * matches "ab" in PCRE2 only (UTF-8 text: E1 BB 85 is "ễ") */
        snprintf(msg, msglen, "extended mode with byte 0x85, which PCRE2 skips as white space "
                              "and Hyperscan does not");
        return 1;
    }
    const char *x = r ? r : p;
    char *w = r ? cor_prefilter_widen(r) : NULL;
    if (w && cor_prefilter_check(w, full, msg, msglen) == 0) { /* else: x, unchanged */
        free(r);
        *expr = *owned = w;
        return 0;
    }
    free(w);
    int rc = cor_prefilter_check(x, full, msg, msglen);
    if (rc > 0 && r && strcmp(r, p) != 0) {
        /* report Hyperscan's words (and offsets) for the rule's own text */
        char orig[400];
        if (cor_prefilter_check(p, full, orig, sizeof(orig)) == 1)
            snprintf(msg, msglen, "%s", orig);
    }
    if (rc != 0) {
        free(r);
        return rc;
    }
    *expr = x;
    *owned = r;
    return 0;
}

/* Compiles the accepted expressions (expr[i] != NULL) into pf->db and
 * allocates the scratch. When the multi-compile refuses an expression that
 * passed the quick check, every expression not compiled on its own yet
 * (full[i] == 0) is compiled on its own, refusals become always candidates,
 * and we try again; after that, each further refusal moves the expression
 * it names to the always candidates (COR_PF_MULTI_RETRIES times at most). A
 * refusal that names no expression makes every rule an always candidate. */
static int cor_prefilter_compile(cor_prefilter *pf, const char *const *patterns, const char **expr,
                                 char **owned, unsigned char *full)
{
    int rc = 0, checked_all = 0;
    size_t cap = pf->n ? pf->n : 1;
    const char **ex = malloc(cap * sizeof(*ex));
    unsigned *flags = malloc(cap * sizeof(*flags));
    unsigned *ids = malloc(cap * sizeof(*ids));
    if (!ex || !flags || !ids) {
        rc = -ENOMEM;
        goto out;
    }
    for (int attempt = 0;; attempt++) {
        unsigned k = 0;
        for (size_t i = 0; i < pf->n; i++) {
            if (!expr[i]) continue;
            ex[k] = expr[i];
            flags[k] = COR_PF_HS_FLAGS;
            ids[k] = (unsigned)i;
            k++;
        }
        if (k == 0) break;
        hs_compile_error_t *ce = NULL;
        hs_error_t e = hs_compile_multi(ex, flags, ids, k, HS_MODE_BLOCK, NULL, &pf->db, &ce);
        if (e == HS_SUCCESS) break;
        pf->db = NULL;
        int bad = ce ? ce->expression : -1;
        char msg[400];
        snprintf(msg, sizeof(msg), "hyperscan (database): %s",
                 ce && ce->message ? ce->message : "refused");
        hs_free_compile_error(ce);
        if (e == HS_NOMEM) {
            rc = -ENOMEM;
            goto out;
        }
        if (bad >= 0 && (unsigned)bad < k && !checked_all) {
            checked_all = 1;
            for (size_t i = 0; i < pf->n && rc == 0; i++) {
                if (!expr[i] || full[i]) continue;
                free(owned[i]);
                full[i] = 1;
                int t = cor_prefilter_try(patterns[i], 1, &expr[i], &owned[i], msg, sizeof(msg));
                if (t < 0)
                    rc = t;
                else if (t > 0)
                    rc = cor_prefilter_mark(pf, i, "%s", msg);
            }
        } else if (bad >= 0 && (unsigned)bad < k && attempt < COR_PF_MULTI_RETRIES) {
            size_t r = ids[bad];
            rc = cor_prefilter_mark(pf, r, "%s", msg);
            expr[r] = NULL;
        } else {
            for (size_t i = 0; i < pf->n && rc == 0; i++) {
                if (expr[i]) rc = cor_prefilter_mark(pf, i, "%s", msg);
                expr[i] = NULL;
            }
        }
        if (rc) goto out;
    }
    if (pf->db) cor_prefilter_rehome(pf);
    if (pf->db && hs_alloc_scratch(pf->db, &pf->scratch) != HS_SUCCESS) rc = -ENOMEM;
out:
    free(ex);
    free(flags);
    free(ids);
    return rc;
}

static int cor_prefilter_build_hs(cor_prefilter *pf, const char *const *patterns)
{
    int rc = 0;
    size_t cap = pf->n ? pf->n : 1;
    const char **expr = calloc(cap, sizeof(*expr));
    char **owned = calloc(cap, sizeof(*owned));
    unsigned char *full = calloc(cap, 1);
    if (!expr || !owned || !full) {
        rc = -ENOMEM;
        goto out;
    }
    if (hs_valid_platform() != HS_SUCCESS) {
        for (size_t i = 0; i < pf->n && rc == 0; i++)
            rc = cor_prefilter_mark(pf, i, "hyperscan does not run on this CPU (needs SSSE3)");
        goto out;
    }
    for (size_t i = 0; i < pf->n && rc == 0; i++) {
        const char *p = patterns[i];
        char msg[400];
        if (!p) {
            rc = cor_prefilter_mark(pf, i, "no regex");
            continue;
        }
        if (p[0] == '(' && p[1] == '*') {
            rc = cor_prefilter_mark(pf, i,
                                    "starts with a (*VERB) option, not modelled by the "
                                    "prefilter");
            continue;
        }
        int t = cor_prefilter_try(p, 0, &expr[i], &owned[i], msg, sizeof(msg));
        if (t < 0)
            rc = t;
        else if (t > 0)
            rc = cor_prefilter_mark(pf, i, "%s", msg);
    }
    if (rc == 0) rc = cor_prefilter_compile(pf, patterns, expr, owned, full);
    /* the multi-compile may have marked rules out of order */
    qsort(pf->why, pf->nalways, sizeof(*pf->why), cor_prefilter_why_cmp);
out:
    if (owned)
        for (size_t i = 0; i < pf->n; i++)
            free(owned[i]);
    free(owned);
    free(full);
    free(expr);
    return rc;
}

typedef struct cor_pf_scan {
    uint64_t *cand;
    int count;
} cor_pf_scan;

static int cor_prefilter_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                                  unsigned int flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    cor_pf_scan *s = ctx;
    uint64_t bit = UINT64_C(1) << (id % 64);
    if (!(s->cand[id / 64] & bit)) {
        s->cand[id / 64] |= bit;
        s->count++;
    }
    return 0; /* go on: other patterns may match further along */
}

#endif /* VG_HAVE_HS */

int cor_prefilter_build(const char *const *patterns, size_t n, cor_prefilter **out, char *err,
                        size_t errlen)
{
    int rc = 0;
    cor_prefilter *pf = NULL;
    if (errlen) err[0] = '\0';
    if (!out || (n && !patterns) || n > INT_MAX) {
        rc = -EINVAL;
        snprintf(err, errlen, "prefilter: invalid arguments");
        goto out;
    }
    pf = calloc(1, sizeof(*pf));
    if (!pf) {
        rc = -ENOMEM;
        goto out;
    }
    pf->n = n;
    pf->nwords = (n + 63) / 64;
    pf->always = calloc(pf->nwords ? pf->nwords : 1, sizeof(uint64_t));
    pf->why = calloc(n ? n : 1, sizeof(*pf->why));
    if (!pf->always || !pf->why) {
        rc = -ENOMEM;
        goto out;
    }
#ifdef VG_HAVE_HS
    rc = cor_prefilter_build_hs(pf, patterns);
#else
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cor_prefilter_mark(pf, i, patterns[i] ? "built without hyperscan" : "no regex");
#endif
out:
    if (rc) {
        if (rc == -ENOMEM) snprintf(err, errlen, "prefilter: out of memory");
        cor_prefilter_free(pf);
        pf = NULL;
    }
    if (out) *out = pf;
    return rc;
}

int cor_prefilter_scan(cor_prefilter *pf, const char *subject, size_t len, uint64_t *cand)
{
    if (pf->nwords) memcpy(cand, pf->always, pf->nwords * sizeof(uint64_t));
#ifdef VG_HAVE_HS
    if (!pf->db) return (int)pf->nalways;
    if (len > UINT_MAX) return cor_prefilter_all(pf, cand);
    cor_pf_scan s = {cand, (int)pf->nalways};
    hs_error_t e = hs_scan(pf->db, subject ? subject : "", (unsigned)len, 0, pf->scratch,
                           cor_prefilter_on_match, &s);
    if (e == HS_SUCCESS) return s.count;
    cor_prefilter_all(pf, cand);
    return e == HS_SCRATCH_IN_USE ? -EBUSY : e == HS_NOMEM ? -ENOMEM : -EIO;
#else
    (void)subject, (void)len, (void)cor_prefilter_all;
    return (int)pf->nalways;
#endif
}
