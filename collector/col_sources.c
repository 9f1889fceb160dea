/* The source map (see col_sources.h for the configuration and the tagging
 * rules).
 *
 * Layout. Addresses of both families are 128-bit keys (IPv4 in the low 32
 * bits); each family has its own table. At load time the family's networks
 * are sorted by (first address, prefix length) -- CIDR blocks are either
 * disjoint or nested, so that order visits every block before the blocks
 * inside it -- and swept once with a stack of open blocks into a sorted
 * array of disjoint ranges, each naming the entry of the most specific
 * block covering it (or none). A lookup is then one binary search for the
 * last range starting at or below the address.
 *
 * Host patterns are kept lowercased in file order, each with its literal
 * prefix, literal suffix, longest inner literal and minimum length, which
 * reject most names without running the glob. The outcome of the scan for
 * a name is kept in a small direct-mapped cache (col__hc): a site's hosts
 * repeat, so most messages cost one hash and one compare.
 */
#include "col_sources.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"

#define COL__HOST_MAX 255 /* RFC 5424 HOSTNAME; longer names match no pattern */

static const char col__unknown[] = "unknown";

typedef struct col__key {
    uint64_t hi, lo;
} col__key;

/* One disjoint address range [start, next range's start), owned by entry
 * 'owner' (-1: no entry). */
typedef struct col__range {
    col__key start;
    int32_t owner;
} col__range;

typedef struct col__fam {
    col__range *r;
    size_t n;
} col__fam;

typedef struct col__entry {
    char *agency, *site;
    uint32_t alen, slen;
} col__entry;

typedef struct col__pat {
    char *pat;           /* lowercased, NUL-terminated */
    uint32_t entry;      /* index into ent */
    uint32_t minlen;     /* characters any match needs (tokens other than '*') */
    uint32_t plen, slen; /* literal prefix pat[0..plen), literal suffix sfx[0..slen) */
    const char *sfx;     /* points into pat */
    const char *mid;     /* the longest literal run inside, when not the prefix */
    uint32_t mlen;       /* its length; 0 = none */
    int literal;         /* no metacharacter: the whole pattern is the prefix */
} col__pat;

/* The host cache: the outcome of the pattern scan for recently seen
 * (lowercased) host names, two-way set-associative (a new name goes to way
 * 0, pushing the older one to way 1). Names longer than COL__HC_NAME are
 * not cached. The hash is not keyed: a sender that makes names collide only
 * sends itself down the uncached path. */
#define COL__HC_SLOTS 4096 /* 2048 sets of 2, 256 KiB: the hosts of a site */
#define COL__HC_NAME 55
typedef struct col__hc {
    uint32_t hash;
    int32_t entry; /* the matching entry, or -1: no pattern matches */
    uint8_t len;   /* 0 = empty slot */
    char name[COL__HC_NAME];
} col__hc;
_Static_assert(sizeof(col__hc) == 64, "one slot, one cache line");

struct col_sources {
    col__entry *ent;
    size_t nent;
    col__fam v4, v6;
    size_t nnet;
    col__pat *pat;
    size_t npat;
    col__hc *hc; /* COL__HC_SLOTS, only when npat */
};

/* One network while loading. */
typedef struct col__net {
    col__key first, last;
    unsigned len; /* prefix length within the family */
    uint32_t entry;
    size_t ord; /* position in the file, for duplicates */
    const vg_node *at;
} col__net;

/* ---- 128-bit keys --------------------------------------------------------- */

static int key_cmp(col__key a, col__key b)
{
    if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
    return 0;
}

/* The low 'bits' bits set (0..128). */
static col__key key_low_mask(unsigned bits)
{
    col__key m = {0, 0};
    if (bits >= 64) {
        m.lo = UINT64_MAX;
        bits -= 64;
        m.hi = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    } else {
        m.lo = (UINT64_C(1) << bits) - 1;
    }
    return m;
}

/* a + 1; returns 1 on overflow past 2^128 - 1. */
static int key_inc(col__key *a)
{
    if (++a->lo != 0) return 0;
    return ++a->hi == 0;
}

static uint64_t load_be64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static const unsigned char col__mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ---- lookup --------------------------------------------------------------- */

static int32_t fam_find(const col__fam *f, col__key a)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(f->r[mid].start, a) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? f->r[lo - 1].owner : -1;
}

static const unsigned char col__lower[256] = {
#define L4(i) L1(i), L1(i + 1), L1(i + 2), L1(i + 3)
#define L1(i) (unsigned char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define L16(i) L4(i), L4(i + 4), L4(i + 8), L4(i + 12)
#define L64(i) L16(i), L16(i + 16), L16(i + 32), L16(i + 48)
    L64(0),
    L64(64),
    L64(128),
    L64(192),
#undef L64
#undef L16
#undef L1
#undef L4
};

/* If the token at p (not '*') matches c, returns the pointer past it;
 * otherwise NULL. c is lowercase; the pattern is lowercase and valid. */
static const char *glob_one(const char *p, unsigned char c)
{
    if (*p == '?') return p + 1;
    if (*p == '\\') return (unsigned char)p[1] == c ? p + 2 : NULL;
    if (*p != '[') return (unsigned char)*p == c ? p + 1 : NULL;
    p++;
    int neg = *p == '!' || *p == '^', hit = 0;
    if (neg) p++;
    int first = 1;
    while (first || *p != ']') {
        first = 0;
        unsigned char lo = (unsigned char)*p++, hi;
        if (lo == '\\') lo = (unsigned char)*p++;
        hi = lo;
        if (p[0] == '-' && p[1] != ']') {
            hi = (unsigned char)p[1];
            p += 2;
            if (hi == '\\') hi = (unsigned char)*p++;
        }
        if (lo <= c && c <= hi) hit = 1;
    }
    return hit != neg ? p + 1 : NULL;
}

int col__sources_glob(const char *pat, const char *s, size_t n)
{
    const char *p = pat, *star = NULL;
    size_t i = 0, star_i = 0;
    while (i < n) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (!*p) return 1;
            star = p;
            star_i = i;
            continue;
        }
        const char *q = *p ? glob_one(p, col__lower[(unsigned char)s[i]]) : NULL;
        if (q) {
            p = q;
            i++;
        } else if (star) { /* let the last '*' take one more character */
            p = star;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* Whether lit[0..m) occurs in s[0..n); m >= 2. Names are short: a plain
 * loop on the first two bytes beats memmem's setup. */
static int has_literal(const char *s, size_t n, const char *lit, size_t m)
{
    char c0 = lit[0], c1 = lit[1];
    for (size_t i = 0; i + m <= n; i++)
        if (s[i] == c0 && s[i + 1] == c1 && memcmp(s + i + 2, lit + 2, m - 2) == 0) return 1;
    return 0;
}

static int pat_match(const col__pat *pt, const char *s, size_t n)
{
    if (n < pt->minlen) return 0;
    if (pt->literal) return n == pt->plen && memcmp(pt->pat, s, n) == 0;
    if (pt->plen && memcmp(pt->pat, s, pt->plen) != 0) return 0;
    if (pt->slen && memcmp(pt->sfx, s + n - pt->slen, pt->slen) != 0) return 0;
    if (pt->mlen && !has_literal(s, n, pt->mid, pt->mlen)) return 0;
    return col__sources_glob(pt->pat, s, n);
}

/* The first entry (in file order) with a pattern matching the lowercased
 * name low[0..n), or -1. low has 8 zero bytes after the name. */
static int32_t pat_find(col_sources *m, const char *low, uint32_t n)
{
    uint64_t h = n * UINT64_C(0x9e3779b97f4a7c15), w;
    for (uint32_t i = 0; i < n; i += 8) {
        memcpy(&w, low + i, 8);
        h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 29;
    }
    col__hc *c = n <= COL__HC_NAME ? &m->hc[(h >> 32) & (COL__HC_SLOTS - 2)] : NULL;
    for (int way = 0; c && way < 2; way++)
        if (c[way].len == n && c[way].hash == (uint32_t)h && memcmp(c[way].name, low, n) == 0)
            return c[way].entry;
    int32_t e = -1;
    for (size_t i = 0; i < m->npat && e < 0; i++)
        if (pat_match(&m->pat[i], low, n)) e = (int32_t)m->pat[i].entry;
    if (c) {
        c[1] = c[0];
        c[0].hash = (uint32_t)h;
        c[0].entry = e;
        c[0].len = (uint8_t)n;
        memcpy(c[0].name, low, n);
    }
    return e;
}

void col_sources_tag(col_sources *m, const struct sockaddr *sa, vg_str host, vg_str *agency,
                     vg_str *site)
{
    int32_t e = -1;
    if (m && m->npat && host.p && host.len && host.len <= COL__HOST_MAX &&
        !memchr(host.p, '\0', host.len)) {
        char low[COL__HOST_MAX + 8];
        for (uint32_t i = 0; i < host.len; i++)
            low[i] = (char)col__lower[(unsigned char)host.p[i]];
        memset(low + host.len, 0, 8);
        e = pat_find(m, low, host.len);
    }
    if (e < 0 && m && sa) {
        if (sa->sa_family == AF_INET && m->v4.n) {
            const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
            col__key k = {0, ntohl(s4->sin_addr.s_addr)};
            e = fam_find(&m->v4, k);
        } else if (sa->sa_family == AF_INET6) {
            const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
            if (memcmp(b, col__mapped_prefix, 12) == 0) {
                col__key k = {0, (uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 |
                                     (uint64_t)b[14] << 8 | b[15]};
                e = m->v4.n ? fam_find(&m->v4, k) : -1;
            } else if (m->v6.n) {
                col__key k = {load_be64(b), load_be64(b + 8)};
                e = fam_find(&m->v6, k);
            }
        }
    }
    if (e >= 0) {
        const col__entry *en = &m->ent[e];
        *agency = vg_str_n(en->agency, en->alen);
        *site = vg_str_n(en->site, en->slen);
    } else {
        *agency = *site = vg_str_n(col__unknown, sizeof(col__unknown) - 1);
    }
}

void col_sources_count(const col_sources *m, size_t *entries, size_t *networks, size_t *patterns)
{
    if (entries) *entries = m ? m->nent : 0;
    if (networks) *networks = m ? m->nnet : 0;
    if (patterns) *patterns = m ? m->npat : 0;
}

void col_sources_free(col_sources *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nent; i++) {
        free(m->ent[i].agency);
        if (m->ent[i].site != col__unknown) free(m->ent[i].site);
    }
    for (size_t i = 0; i < m->npat; i++)
        free(m->pat[i].pat);
    free(m->hc);
    free(m->ent);
    free(m->pat);
    free(m->v4.r);
    free(m->v6.r);
    free(m);
}

/* ---- loading -------------------------------------------------------------- */

/* Working state of one col_sources_load call. */
typedef struct col__load {
    col_sources *m;
    col__net *net[2]; /* [0] IPv4, [1] IPv6 */
    size_t nnet[2], capnet[2];
    size_t ord;
    char *err;
    size_t errlen;
} col__load;

static int load_nomem(col__load *ld)
{
    if (ld->err && ld->errlen) snprintf(ld->err, ld->errlen, "out of memory");
    return -ENOMEM;
}

/* A valid agency or site name: 1..COL_SOURCES_NAME_MAX of [A-Za-z0-9._-]. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > COL_SOURCES_NAME_MAX) return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int load_name(col__load *ld, const vg_node *n, const char *key, char **out, uint32_t *len)
{
    if (n->kind != VG_NODE_SCALAR)
        return vg_conf_errf(ld->err, ld->errlen, n, "'%s' must be a name, got a %s", key,
                            n->kind == VG_NODE_MAP ? "map" : "list");
    if (!name_ok(n->str))
        return vg_conf_errf(ld->err, ld->errlen, n,
                            "'%s' must be 1 to %d characters from A-Z a-z 0-9 . _ -, got '%s'", key,
                            COL_SOURCES_NAME_MAX, n->str);
    if (!(*out = strdup(n->str))) return load_nomem(ld);
    *len = (uint32_t)strlen(n->str);
    return 0;
}

/* Parses one "ADDR[/LEN]" scalar into the IPv4 or IPv6 list. */
static int load_network(col__load *ld, const vg_node *n, uint32_t entry)
{
    if (n->kind != VG_NODE_SCALAR)
        return vg_conf_errf(ld->err, ld->errlen, n,
                            "networks entries must be strings like 10.20.0.0/16");
    const char *s = n->str, *slash = strchr(s, '/');
    char addr[INET6_ADDRSTRLEN + 1];
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    unsigned char b[16];
    int v6;
    if (alen == 0 || alen >= sizeof(addr))
        return vg_conf_errf(ld->err, ld->errlen, n, "network '%s': not an IPv4 or IPv6 address", s);
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, b) == 1)
        v6 = 0;
    else if (inet_pton(AF_INET6, addr, b) == 1)
        v6 = 1;
    else
        return vg_conf_errf(ld->err, ld->errlen, n, "network '%s': not an IPv4 or IPv6 address", s);
    unsigned width = v6 ? 128 : 32, len = width;
    if (slash) {
        const char *d = slash + 1;
        size_t nd = strspn(d, "0123456789");
        if (nd == 0 || d[nd] != '\0' || nd > 3 || (len = (unsigned)atoi(d)) > width)
            return vg_conf_errf(ld->err, ld->errlen, n,
                                "network '%s': prefix length must be 0 to %u", s, width);
    }
    col__key k;
    if (!v6) {
        k = (col__key){0, (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3]};
    } else if (memcmp(b, col__mapped_prefix, 12) == 0 && len >= 96) {
        v6 = 0; /* ::ffff:a.b.c.d/N is the IPv4 network a.b.c.d/(N-96) */
        width = 32;
        len -= 96;
        k = (col__key){0, (uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 | (uint64_t)b[14] << 8 |
                              b[15]};
    } else {
        k = (col__key){load_be64(b), load_be64(b + 8)};
    }
    col__key host = key_low_mask(width - len);
    if ((k.hi & host.hi) || (k.lo & host.lo)) {
        col__key base = {k.hi & ~host.hi, k.lo & ~host.lo};
        unsigned char o[16];
        char txt[INET6_ADDRSTRLEN];
        for (int i = 0; i < 8; i++) {
            o[i] = (unsigned char)(base.hi >> (56 - 8 * i));
            o[8 + i] = (unsigned char)(base.lo >> (56 - 8 * i));
        }
        if (!v6 && slash && alen && strchr(addr, ':')) /* written in the mapped form */
            inet_ntop(AF_INET6,
                      (unsigned char[16]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, o[12], o[13],
                                          o[14], o[15]},
                      txt, sizeof(txt));
        else
            inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? o : o + 12, txt, sizeof(txt));
        return vg_conf_errf(ld->err, ld->errlen, n,
                            "network '%s': bits are set past the /%s prefix (the network is %s/%s)",
                            s, slash + 1, txt, slash + 1);
    }
    int f = v6;
    if (ld->nnet[f] == ld->capnet[f]) {
        size_t cap = ld->capnet[f] ? 2 * ld->capnet[f] : 16;
        col__net *p = realloc(ld->net[f], cap * sizeof(*p));
        if (!p) return load_nomem(ld);
        ld->net[f] = p;
        ld->capnet[f] = cap;
    }
    col__net *nt = &ld->net[f][ld->nnet[f]++];
    nt->first = k;
    nt->last = (col__key){k.hi | host.hi, k.lo | host.lo};
    nt->len = len;
    nt->entry = entry;
    nt->ord = ld->ord++;
    nt->at = n;
    return 0;
}

/* Validates a pattern and adds it (lowercased) to the map. */
static int load_pattern(col__load *ld, const vg_node *n, uint32_t entry)
{
    if (n->kind != VG_NODE_SCALAR)
        return vg_conf_errf(ld->err, ld->errlen, n,
                            "hosts entries must be strings like \"*-tsn-*\"");
    const char *s = n->str;
    uint32_t minlen = 0;
    int meta = 0;
    if (!*s) return vg_conf_errf(ld->err, ld->errlen, n, "host pattern must not be empty");
    if (strlen(s) > 1024)
        return vg_conf_errf(ld->err, ld->errlen, n, "host pattern is longer than 1024 characters");
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '*') {
            meta = 1;
            continue;
        }
        minlen++;
        if (s[i] == '?') {
            meta = 1;
        } else if (s[i] == '\\') {
            meta = 1;
            if (!s[++i])
                return vg_conf_errf(ld->err, ld->errlen, n, "host pattern '%s' ends with '\\'", s);
        } else if (s[i] == '[') {
            size_t j = i + 1;
            meta = 1;
            if (s[j] == '!' || s[j] == '^') j++;
            for (int first = 1; s[j] && (first || s[j] != ']'); first = 0) {
                if (s[j] == '[' && s[j + 1] == ':')
                    return vg_conf_errf(ld->err, ld->errlen, n,
                                        "host pattern '%s': classes like [:alpha:] are not "
                                        "supported",
                                        s);
                if (s[j] == '\\' && s[j + 1]) j++;
                j++;
            }
            if (!s[j])
                return vg_conf_errf(ld->err, ld->errlen, n, "host pattern '%s': '[' without ']'",
                                    s);
            i = j;
        }
    }
    col_sources *m = ld->m;
    col__pat *pt = &m->pat[m->npat];
    size_t len = strlen(s);
    if (!(pt->pat = malloc(len + 1))) return load_nomem(ld);
    m->npat++;
    for (size_t i = 0; i <= len; i++)
        pt->pat[i] = (char)col__lower[(unsigned char)s[i]];
    pt->entry = entry;
    pt->minlen = minlen;
    pt->literal = !meta;
    /* Literal runs: before the first metacharacter, after the last one. A
     * character after the last of * ? [ ] \ is outside any set and not
     * escaped, so the suffix is literal too (conservatively short). */
    pt->plen = (uint32_t)strcspn(pt->pat, "*?[\\");
    size_t k = len;
    while (k > 0 && !strchr("*?[]\\", pt->pat[k - 1]))
        k--;
    pt->sfx = pt->pat + k;
    pt->slen = (uint32_t)(len - k);
    /* The longest run of plain characters (outside sets, not escaped), for a
     * memmem test when it is not the prefix: "*-tsn-*" needs "-tsn-". */
    size_t run = 0, best = 0, best_at = 0;
    for (size_t i = 0; pt->pat[i];) {
        char c = pt->pat[i];
        if (c == '*' || c == '?' || c == '\\' || c == '[') {
            run = 0;
            if (c == '\\') {
                i += 2;
            } else if (c == '[') { /* skip the set, as validated above */
                size_t j = i + 1;
                if (pt->pat[j] == '!' || pt->pat[j] == '^') j++;
                for (int first = 1; first || pt->pat[j] != ']'; first = 0)
                    j += pt->pat[j] == '\\' ? 2 : 1;
                i = j + 1;
            } else {
                i++;
            }
            continue;
        }
        if (++run > best) {
            best = run;
            best_at = i + 1 - run;
        }
        i++;
    }
    pt->mid = pt->pat + best_at;
    pt->mlen = best_at && best > 1 ? (uint32_t)best : 0;
    return 0;
}

static const char *const col__keys[] = {"agency", "site", "networks", "hosts", NULL};

static int load_entry(col__load *ld, const vg_node *it)
{
    col_sources *m = ld->m;
    if (it->kind != VG_NODE_MAP)
        return vg_conf_errf(ld->err, ld->errlen, it,
                            "each source must be a map with agency, site, networks, hosts");
    for (size_t i = 0; i < it->n; i++) {
        size_t k = 0;
        while (col__keys[k] && strcmp(col__keys[k], it->keys[i]->str) != 0)
            k++;
        if (!col__keys[k])
            return vg_conf_errf(ld->err, ld->errlen, it->keys[i],
                                "unknown key '%s' (expected one of: agency, site, networks, hosts)",
                                it->keys[i]->str);
    }
    const vg_node *ag = vg_node_get(it, "agency"), *si = vg_node_get(it, "site");
    const vg_node *nets = vg_node_get(it, "networks"), *hosts = vg_node_get(it, "hosts");
    if (!ag) return vg_conf_errf(ld->err, ld->errlen, it, "missing required key 'agency'");
    if (nets && nets->kind != VG_NODE_SEQ)
        return vg_conf_errf(ld->err, ld->errlen, nets,
                            "'networks' must be a list like [10.20.0.0/16, \"2001:db8::/32\"]");
    if (hosts && hosts->kind != VG_NODE_SEQ)
        return vg_conf_errf(ld->err, ld->errlen, hosts,
                            "'hosts' must be a list of patterns like [\"*-tsn-*\"]");
    if ((!nets || !nets->n) && (!hosts || !hosts->n))
        return vg_conf_errf(ld->err, ld->errlen, it,
                            "source for agency '%s' has neither networks nor hosts",
                            ag->kind == VG_NODE_SCALAR ? ag->str : "?");

    uint32_t e = (uint32_t)m->nent;
    col__entry *en = &m->ent[e];
    int rc = load_name(ld, ag, "agency", &en->agency, &en->alen);
    if (rc) return rc;
    m->nent++; /* from here col_sources_free releases the entry */
    en->site = (char *)col__unknown;
    en->slen = sizeof(col__unknown) - 1;
    if (si && (rc = load_name(ld, si, "site", &en->site, &en->slen))) {
        en->site = (char *)col__unknown;
        return rc;
    }
    for (size_t i = 0; nets && i < nets->n; i++)
        if ((rc = load_network(ld, nets->items[i], e))) return rc;
    if (hosts) {
        col__pat *p = realloc(m->pat, (m->npat + hosts->n) * sizeof(*p));
        if (!p) return load_nomem(ld);
        m->pat = p;
        for (size_t i = 0; i < hosts->n; i++)
            if ((rc = load_pattern(ld, hosts->items[i], e))) return rc;
    }
    return 0;
}

static int net_cmp(const void *a, const void *b)
{
    const col__net *x = a, *y = b;
    int c = key_cmp(x->first, y->first);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Appends a range, folding it into the last one when they start together
 * (the later, more specific owner wins) or have the same owner. */
static void fam_emit(col__fam *f, col__key start, int32_t owner)
{
    if (f->n && key_cmp(f->r[f->n - 1].start, start) == 0) {
        f->r[f->n - 1].owner = owner;
        if (f->n > 1 && f->r[f->n - 2].owner == owner) f->n--;
        return;
    }
    if (f->n ? f->r[f->n - 1].owner == owner : owner < 0) return;
    f->r[f->n].start = start;
    f->r[f->n].owner = owner;
    f->n++;
}

/* Sorts a family's networks, refuses duplicates, and flattens them into
 * disjoint ranges (see the comment at the top of this file). */
static int fam_build(col__load *ld, col__net *v, size_t n, col__fam *f)
{
    if (!n) return 0;
    qsort(v, n, sizeof(*v), net_cmp);
    for (size_t i = 1; i < n; i++)
        if (key_cmp(v[i].first, v[i - 1].first) == 0 && v[i].len == v[i - 1].len) {
            const col__net *dup = v[i].ord > v[i - 1].ord ? &v[i] : &v[i - 1];
            const col__net *orig = dup == &v[i] ? &v[i - 1] : &v[i];
            return vg_conf_errf(ld->err, ld->errlen, dup->at,
                                "network '%s' is already listed at line %d", dup->at->str,
                                orig->at->line);
        }
    if (!(f->r = malloc((2 * n + 1) * sizeof(*f->r)))) return load_nomem(ld);
    const col__net *stack[130]; /* nested blocks have strictly longer prefixes: <= 129 */
    size_t sp = 0;
    for (size_t i = 0; i < n; i++) {
        while (sp && key_cmp(stack[sp - 1]->last, v[i].first) < 0) {
            col__key after = stack[--sp]->last;
            key_inc(&after); /* below v[i].first: cannot overflow */
            fam_emit(f, after, sp ? (int32_t)stack[sp - 1]->entry : -1);
        }
        fam_emit(f, v[i].first, (int32_t)v[i].entry);
        stack[sp++] = &v[i];
    }
    while (sp) {
        col__key after = stack[--sp]->last;
        if (key_inc(&after)) continue; /* ends at the top of the address space */
        fam_emit(f, after, sp ? (int32_t)stack[sp - 1]->entry : -1);
    }
    return 0;
}

int col_sources_load(const vg_node *list, col_sources **out, char *err, size_t errlen)
{
    col__load ld = {.err = err, .errlen = errlen};
    int rc = 0;
    *out = NULL;
    if (!(ld.m = calloc(1, sizeof(*ld.m)))) return load_nomem(&ld);
    if (list && list->kind != VG_NODE_SEQ) {
        rc = vg_conf_errf(err, errlen, list,
                          "'sources' must be a list of maps with agency, site, networks, hosts");
        goto out;
    }
    if (list && list->n && !(ld.m->ent = calloc(list->n, sizeof(*ld.m->ent)))) {
        rc = load_nomem(&ld);
        goto out;
    }
    for (size_t i = 0; list && i < list->n && !rc; i++)
        rc = load_entry(&ld, list->items[i]);
    if (!rc) rc = fam_build(&ld, ld.net[0], ld.nnet[0], &ld.m->v4);
    if (!rc) rc = fam_build(&ld, ld.net[1], ld.nnet[1], &ld.m->v6);
    if (!rc && ld.m->npat && !(ld.m->hc = calloc(COL__HC_SLOTS, sizeof(*ld.m->hc))))
        rc = load_nomem(&ld);
    ld.m->nnet = ld.nnet[0] + ld.nnet[1];
out:
    free(ld.net[0]);
    free(ld.net[1]);
    if (rc)
        col_sources_free(ld.m);
    else
        *out = ld.m;
    return rc;
}
