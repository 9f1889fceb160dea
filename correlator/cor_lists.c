/* Watchlists in LMDB: loading, replacing and looking up (cor_lists.h,
 * docs/watchlists.md).
 *
 * The key layout is written down in cor_lists.h. A load parses the whole
 * file into memory first (so a bad line refuses the file before any write),
 * sorts the encoded keys in LMDB's order, then in one write transaction
 * deletes the old generation, appends the new one and switches the
 * directory record. Lookups re-read a list's directory record only when the
 * transaction they read in is not the one it was last read in. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cor_lists.h"
#include "vigil/cfile.h"
#include "vigil/err.h"
#include "vigil/util.h"

#define LISTS__DBNAME "lists"
#define LISTS__GEN_LEN 4
#define LISTS__KEY_MAX (LISTS__GEN_LEN + 1 + COR_LIST_ENTRY_MAX)
#define LISTS__ZONE_MAX 64 /* bytes of an IPv6 zone ("eth0"); Linux's are at most 15 */

/* Entry kinds: the byte after the generation in every entry key. */
enum {
    LISTS__V4 = '4',
    LISTS__V6 = '6',
    LISTS__DOMAIN = 'd',
    LISTS__HASH = 'h',
    LISTS__STRING = 's',
};

/* Keys of generation 0 (bookkeeping). */
enum {
    LISTS__META_GEN = 'G', /* -> u32 LE, the last generation handed out */
    LISTS__META_DIR = 'N', /* + NAME -> directory record */
    LISTS__META_SRC = 'S', /* + NAME -> source record (lists__src) */
};

/* A list's directory record. Encoded little-endian, 104 bytes:
 *   u32 magic "VGL1" | u32 gen | u32 flags | u32 0 |
 *   u64 count | u64 ipv4 | u64 ipv6 | u64 domains | u64 hashes | u64 strings |
 *   u64 loaded (unix time) | u64 v4mask | u64 v6mask[3]
 * v4mask bit L (0..32) / v6mask bit L (0..128): the list holds a network
 * of prefix length L; a lookup probes exactly those lengths. */
#define LISTS__DIR_MAGIC 0x314c4756u
#define LISTS__DIR_SIZE 104
#define LISTS__F_TLD 1u /* a single-label domain (".tk") is listed */

typedef struct lists__dir {
    uint32_t gen, flags;
    uint64_t count, ipv4, ipv6, domains, hashes, strings;
    uint64_t loaded;
    uint64_t v4mask;
    uint64_t v6mask[3];
} lists__dir;

struct cor_list {
    cor_lists *l;
    char name[COR_LIST_NAME_MAX + 1];
    /* Cache of the directory record, as read in the transaction with id
     * 'seen' (valid if 'cached'), a write transaction if 'seen_write';
     * 'exists' is 0 for a list never loaded. A read transaction with the
     * id of an aborted write transaction need not see what it saw (another
     * process, e.g. the --load-list tool, may have committed that id since),
     * hence the flag. */
    int cached, seen_write, exists;
    size_t seen;
    lists__dir dir;
};

struct cor_lists {
    vg_store *st;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn; /* reused read transaction, reset between uses */
    cor_list **h;  /* handles, owned; a handful of lists */
    size_t nh, caph;
    struct lists__seen *seen; /* files known to hold a list's stored content */
    size_t nseen;
    cor_lists_stats stats;
};

/* ---- small helpers ------------------------------------------------------ */

static int lists__rc(int rc)
{
    if (rc == MDB_MAP_FULL) return VG_EFULL;
    return rc > 0 ? -rc : rc;
}

static void lists__be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t lists__get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void lists__le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t lists__get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void lists__dir_encode(const lists__dir *d, uint8_t *p)
{
    const uint64_t v[] = {d->count,  d->ipv4,   d->ipv6,      d->domains,   d->hashes,   d->strings,
                          d->loaded, d->v4mask, d->v6mask[0], d->v6mask[1], d->v6mask[2]};
    lists__le(p, LISTS__DIR_MAGIC, 4);
    lists__le(p + 4, d->gen, 4);
    lists__le(p + 8, d->flags, 4);
    lists__le(p + 12, 0, 4);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        lists__le(p + 16 + 8 * i, v[i], 8);
}

static int lists__dir_decode(const MDB_val *val, lists__dir *d)
{
    const uint8_t *p = val->mv_data;
    if (val->mv_size != LISTS__DIR_SIZE || lists__get_le(p, 4) != LISTS__DIR_MAGIC)
        return VG_ESTATE;
    uint64_t *v[] = {&d->count,     &d->ipv4,      &d->ipv6,     &d->domains,
                     &d->hashes,    &d->strings,   &d->loaded,   &d->v4mask,
                     &d->v6mask[0], &d->v6mask[1], &d->v6mask[2]};
    d->gen = (uint32_t)lists__get_le(p + 4, 4);
    d->flags = (uint32_t)lists__get_le(p + 8, 4);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        *v[i] = lists__get_le(p + 16 + 8 * i, 8);
    return 0;
}

static int lists__name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > COR_LIST_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

bool cor_lists_name_ok(const char *name)
{
    return lists__name_ok(name);
}

/* Key of NAME's directory record: gen 0, 'N', NAME. buf holds
 * LISTS__GEN_LEN + 1 + COR_LIST_NAME_MAX bytes. */
static MDB_val lists__dir_key(uint8_t *buf, const char *name)
{
    size_t n = strlen(name);
    memset(buf, 0, LISTS__GEN_LEN);
    buf[LISTS__GEN_LEN] = LISTS__META_DIR;
    memcpy(buf + LISTS__GEN_LEN + 1, name, n);
    return (MDB_val){LISTS__GEN_LEN + 1 + n, buf};
}

/* Reads NAME's directory record in txn: 0 and *d, -ENOENT, or an error. */
static int lists__dir_get(cor_lists *l, MDB_txn *txn, const char *name, lists__dir *d)
{
    uint8_t kb[LISTS__GEN_LEN + 1 + COR_LIST_NAME_MAX];
    MDB_val k = lists__dir_key(kb, name), v;
    int rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return -ENOENT;
    if (rc) return lists__rc(rc);
    return lists__dir_decode(&v, d);
}

/* A transaction to read in: the store's write transaction if open, else
 * our read transaction renewed to the latest commit. Pair with read_end.
 * Not vg_store_read_begin: its one read transaction may be in use by the
 * caller (a lookup made while a module scans its own records). */
static int lists__read_begin(cor_lists *l, MDB_txn **txn)
{
    MDB_txn *w = vg_store_txn(l->st);
    if (w) {
        *txn = w;
        return 0;
    }
    int rc = l->rtxn ? mdb_txn_renew(l->rtxn) : mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn);
    *txn = l->rtxn;
    return lists__rc(rc);
}

static void lists__read_end(cor_lists *l, MDB_txn *txn)
{
    if (txn == l->rtxn) mdb_txn_reset(txn);
}

/* ---- classifying and encoding entries and values ----------------------- */

static int lists__hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Only digits and dots, starting with a digit: meant as an IPv4 address
 * (with exactly 3 dots) or the address part of a CIDR. */
static int lists__v4ish(const char *s, size_t n, int *dots)
{
    *dots = 0;
    if (n == 0 || s[0] < '0' || s[0] > '9') return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            ++*dots;
        else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* Only hex digits, ':' and '.', and some ':'. */
static int lists__v6ish(const char *s, size_t n, int *colons, int *dcolon)
{
    *colons = 0;
    *dcolon = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':') {
            ++*colons;
            if (i > 0 && s[i - 1] == ':') *dcolon = 1;
        } else if (s[i] != '.' && lists__hexval(s[i]) < 0) {
            return 0;
        }
    }
    return *colons > 0;
}

/* "ADDR%ZONE", an IPv6 address with a zone (RFC 4007: "fe80::1%eth0";
 * the zone names an interface, "%eth0" on Linux, "%12" on Windows): the
 * length of ADDR, or 0 if s is not of that shape. ADDR is only checked for
 * the characters of an IPv6 address; lists__addr says if it is one. */
static size_t lists__zoned(const char *s, size_t n)
{
    const char *pct = memchr(s, '%', n);
    if (!pct) return 0;
    size_t an = (size_t)(pct - s), zn = n - an - 1;
    int colons, dcolon;
    if (zn == 0 || zn > LISTS__ZONE_MAX || !lists__v6ish(s, an, &colons, &dcolon) ||
        !(dcolon || colons >= 6))
        return 0;
    for (size_t i = an + 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return an;
}

/* A dotted quad of four decimal octets, each 1 to 3 digits and at most
 * 255, into addr: 4, or 0 if s is not one. Leading zeros are decimal,
 * never octal: devices print 10.1.2.3 as "010.001.002.003", which
 * inet_pton refuses (so it matched nothing) and inet_aton reads as octal
 * (8.1.2.3). Also spares the hot path inet_pton's copy to a C string. */
static int lists__addr4(const char *s, size_t n, uint8_t addr[4])
{
    size_t i = 0;
    for (int o = 0; o < 4; o++) {
        if (o > 0 && (i >= n || s[i++] != '.')) return 0;
        unsigned v = 0, digits = 0;
        for (; i < n && digits < 3 && s[i] >= '0' && s[i] <= '9'; i++, digits++)
            v = v * 10 + (unsigned)(s[i] - '0');
        if (digits == 0 || v > 255) return 0;
        addr[o] = (uint8_t)v;
    }
    return i == n ? 4 : 0;
}

/* Parses an address: 4 (IPv4, also for IPv4-mapped IPv6) or 16 (IPv6)
 * bytes into addr, or 0 if s is not an address. IPv4 as lists__addr4;
 * IPv6 as inet_pton (whose embedded dotted quad takes no leading zeros). */
static int lists__addr(const char *s, size_t n, uint8_t addr[16], int v6)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (!v6) return lists__addr4(s, n, addr);
    if (n >= sizeof(buf)) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1) return 0;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        return 4;
    }
    return 16;
}

/* Clears the bits of addr (alen bytes) past the first len. */
static void lists__mask(uint8_t *addr, int alen, unsigned len)
{
    for (int i = 0; i < alen; i++) {
        unsigned lo = 8u * (unsigned)i;
        if (len >= lo + 8) continue;
        addr[i] = len <= lo ? 0 : (uint8_t)(addr[i] & (0xffu << (8 - (len - lo))));
    }
}

/* A domain name: labels of [A-Za-z0-9_-] (1..63 bytes), at most 253 bytes
 * without the optional trailing dot, a top-level label that is not all
 * digits, and at least two labels unless 'single'. Writes it lower-cased
 * to out and returns its length, or 0. */
static size_t lists__domain(const char *s, size_t n, uint8_t *out, int single)
{
    if (n > 0 && s[n - 1] == '.') n--;
    if (n == 0 || n > 253) return 0;
    size_t labels = 1, lablen = 0;
    int alldigits = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (lablen == 0) return 0;
            labels++;
            lablen = 0;
            alldigits = 1;
            out[i] = '.';
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
        if (c < '0' || c > '9') alldigits = 0;
        if (++lablen > 63) return 0;
        out[i] = (uint8_t)c;
    }
    if (lablen == 0 || alldigits || (labels < 2 && !single)) return 0;
    return n;
}

/* Encodes an entry (entry != 0) or a lookup value as a key body: the kind
 * byte, then the data (see cor_lists.h), into out (1 + COR_LIST_ENTRY_MAX
 * bytes); *outlen gets its length. Values are never malformed (what is
 * nothing else is a string) and come out as full-length addresses; a
 * malformed entry returns -1 with the reason in why. */
static int lists__encode(const char *s, size_t n, int entry, uint8_t *out, size_t *outlen,
                         char *why, size_t whylen)
{
    uint8_t addr[16];
    int dots, colons, dcolon, alen;

    if (n > COR_LIST_ENTRY_MAX) {
        snprintf(why, whylen, "entry longer than %d bytes", COR_LIST_ENTRY_MAX);
        return -1;
    }
    if (entry && memchr(s, '\0', n)) {
        snprintf(why, whylen, "NUL byte in entry");
        return -1;
    }
    /* Trimming took a CR before the LF: one left is a file with CR line
     * ends, read as one line (its entries would be one string). */
    if (entry && memchr(s, '\r', n)) {
        snprintf(why, whylen, "carriage return inside an entry (lines end in LF or CRLF, not CR)");
        return -1;
    }

    /* CIDR: ADDRESS/LENGTH, when the part before '/' looks like an address. */
    const char *slash = entry ? memchr(s, '/', n) : NULL;
    if (slash) {
        size_t an = (size_t)(slash - s);
        int v4 = lists__v4ish(s, an, &dots), v6 = !v4 && lists__v6ish(s, an, &colons, &dcolon);
        if (v4 || v6) {
            const char *ls = slash + 1;
            size_t ln = n - an - 1;
            unsigned len = 0;
            int max = v6 ? 128 : 32;
            if (!(alen = lists__addr(s, an, addr, v6))) {
                snprintf(why, whylen, "bad %s address in CIDR '%.*s'", v4 ? "IPv4" : "IPv6", (int)n,
                         s);
                return -1;
            }
            int ok = ln > 0 && ln <= 3;
            for (size_t i = 0; ok && i < ln; i++) {
                ok = ls[i] >= '0' && ls[i] <= '9';
                len = len * 10 + (unsigned)(ls[i] - '0');
            }
            if (!ok) {
                snprintf(why, whylen, "bad prefix length in CIDR '%.*s'", (int)n, s);
                return -1;
            }
            if (len > (unsigned)max) {
                snprintf(why, whylen, "prefix length %u > %d in CIDR '%.*s'", len, max, (int)n, s);
                return -1;
            }
            if (v6 && alen == 4) { /* IPv4-mapped network */
                if (len < 96) {
                    /* ::ffff:a.b.c.d/len with len < 96: keep it as IPv6 */
                    memmove(addr + 12, addr, 4);
                    memset(addr, 0, 10);
                    addr[10] = addr[11] = 0xff;
                    alen = 16;
                } else {
                    len -= 96;
                }
            }
            uint8_t net[16];
            memcpy(net, addr, (size_t)alen);
            lists__mask(net, alen, len);
            if (memcmp(net, addr, (size_t)alen) != 0) {
                char nb[INET6_ADDRSTRLEN];
                inet_ntop(alen == 4 ? AF_INET : AF_INET6, net, nb, sizeof(nb));
                snprintf(why, whylen, "host bits set in CIDR '%.*s' (the network is %s/%u)", (int)n,
                         s, nb, len);
                return -1;
            }
            out[0] = alen == 4 ? LISTS__V4 : LISTS__V6;
            memcpy(out + 1, net, (size_t)alen);
            out[1 + alen] = (uint8_t)len;
            *outlen = (size_t)alen + 2;
            return 0;
        }
        size_t zan = lists__zoned(s, an), ln = n - an - 1, d = 0;
        while (d < ln && slash[1 + d] >= '0' && slash[1 + d] <= '9')
            d++;
        if (zan && ln > 0 && ln <= 3 && d == ln) { /* "fe80::%eth0/64" */
            if (!lists__addr(s, zan, addr, 1))
                snprintf(why, whylen, "bad IPv6 address in CIDR '%.*s'", (int)n, s);
            else
                snprintf(why, whylen,
                         "IPv6 network with a zone '%.*s': a list takes no zone (write '%.*s%.*s', "
                         "which matches on every interface)",
                         (int)n, s, (int)zan, s, (int)(n - an), slash);
            return -1;
        }
    }

    /* Plain addresses. Every textual IPv6 form has "::", 7 colons, or 6
     * and a dotted quad, so nothing inet_pton takes is missed. An IPv6
     * value's zone ("fe80::1%eth0") is dropped: it names the interface of
     * the host that logged it, and the list holds addresses. An entry with
     * a zone is refused, as a network with host bits is: taking it without
     * the zone would widen it without notice. */
    int v4 = lists__v4ish(s, n, &dots) && dots == 3;
    int v6 = !v4 && lists__v6ish(s, n, &colons, &dcolon) && (dcolon || colons >= 6);
    size_t an = n; /* the address, without a zone */
    if (!v4 && !v6) {
        size_t z = lists__zoned(s, n);
        if (z) an = z, v6 = 1;
    }
    if (v4 || v6) {
        if ((alen = lists__addr(s, an, addr, v6))) {
            if (entry && an < n) {
                snprintf(why, whylen,
                         "IPv6 address with a zone '%.*s': a list takes no zone (write '%.*s', "
                         "which matches on every interface)",
                         (int)n, s, (int)an, s);
                return -1;
            }
            out[0] = alen == 4 ? LISTS__V4 : LISTS__V6;
            memcpy(out + 1, addr, (size_t)alen);
            out[1 + alen] = (uint8_t)(alen * 8);
            *outlen = (size_t)alen + 2;
            return 0;
        }
        if (entry) {
            snprintf(why, whylen, "bad %s address '%.*s'", v4 ? "IPv4" : "IPv6", (int)n, s);
            return -1;
        }
    }

    /* Hashes: MD5, SHA-1, SHA-256 in hex. */
    if (n == 32 || n == 40 || n == 64) {
        size_t i;
        for (i = 0; i < n && lists__hexval(s[i]) >= 0; i++)
            ;
        if (i == n) {
            out[0] = LISTS__HASH;
            for (i = 0; i < n / 2; i++)
                out[1 + i] = (uint8_t)(lists__hexval(s[2 * i]) << 4 | lists__hexval(s[2 * i + 1]));
            *outlen = 1 + n / 2;
            return 0;
        }
    }

    /* Domains; an entry may be written "*.example.com" or ".example.com"
     * (the same as "example.com"), which also allows a top-level domain. */
    size_t skip = 0;
    if (entry && n >= 2 && s[0] == '*' && s[1] == '.')
        skip = 2;
    else if (entry && s[0] == '.')
        skip = 1;
    size_t dn = lists__domain(s + skip, n - skip, out + 1, skip > 0);
    if (dn) {
        out[0] = LISTS__DOMAIN;
        *outlen = 1 + dn;
        return 0;
    }
    if (skip) {
        snprintf(why, whylen, "bad domain '%.*s'", (int)n, s);
        return -1;
    }

    out[0] = LISTS__STRING;
    memcpy(out + 1, s, n);
    *outlen = 1 + n;
    return 0;
}

/* ---- open / close / handles -------------------------------------------- */

int cor_lists_open(vg_store *st, cor_lists **out)
{
    if (vg_store_txn(st)) return -EBUSY;
    cor_lists *l = calloc(1, sizeof(*l));
    if (!l) return -ENOMEM;
    l->st = st;
    l->env = vg_store_env(st);
    /* Opened and committed in a transaction of its own (vg_store_dbi), so
     * no later abort can close the handle. */
    int rc = vg_store_dbi(st, LISTS__DBNAME, &l->dbi);
    if (rc) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void cor_lists_close(cor_lists *l)
{
    if (!l) return;
    if (l->rtxn) mdb_txn_abort(l->rtxn);
    for (size_t i = 0; i < l->nh; i++)
        free(l->h[i]);
    free(l->h);
    free(l->seen);
    free(l);
}

static cor_list *lists__find(cor_lists *l, const char *name)
{
    for (size_t i = 0; i < l->nh; i++)
        if (strcmp(l->h[i]->name, name) == 0) return l->h[i];
    return NULL;
}

int cor_lists_handle(cor_lists *l, const char *name, cor_list **out)
{
    if (!lists__name_ok(name)) return -EINVAL;
    cor_list *h = lists__find(l, name);
    if (h) {
        *out = h;
        return 0;
    }
    if (l->nh == l->caph) {
        size_t cap = l->caph ? 2 * l->caph : 8;
        cor_list **v = realloc(l->h, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        l->h = v;
        l->caph = cap;
    }
    if (!(h = calloc(1, sizeof(*h)))) return -ENOMEM;
    h->l = l;
    snprintf(h->name, sizeof(h->name), "%s", name);
    l->h[l->nh++] = h;
    *out = h;
    return 0;
}

const char *cor_list_name(const cor_list *h)
{
    return h->name;
}

void cor_lists_get_stats(const cor_lists *l, cor_lists_stats *out)
{
    *out = l->stats;
}

/* ---- loading ------------------------------------------------------------ */

/* One parsed entry: its key body at arena + off. pfx holds the first 8
 * bytes big-endian (zero-padded) so most comparisons stay in the array. */
typedef struct lists__ent {
    uint64_t pfx;
    size_t off;
    uint32_t len;
} lists__ent;

typedef struct lists__load {
    uint8_t *arena;
    size_t alen, acap;
    lists__ent *ents;
    size_t n, cap;
} lists__load;

static void lists__load_free(lists__load *ld)
{
    free(ld->arena);
    free(ld->ents);
}

static int lists__load_add(lists__load *ld, const uint8_t *body, size_t len)
{
    if (ld->alen + len > ld->acap) {
        size_t cap = ld->acap ? ld->acap : 1 << 20;
        while (cap < ld->alen + len)
            cap *= 2;
        uint8_t *a = realloc(ld->arena, cap);
        if (!a) return -ENOMEM;
        ld->arena = a;
        ld->acap = cap;
    }
    if (ld->n == ld->cap) {
        size_t cap = ld->cap ? 2 * ld->cap : 4096;
        lists__ent *e = realloc(ld->ents, cap * sizeof(*e));
        if (!e) return -ENOMEM;
        ld->ents = e;
        ld->cap = cap;
    }
    lists__ent *e = &ld->ents[ld->n++];
    e->pfx = 0;
    for (size_t i = 0; i < 8; i++)
        e->pfx = e->pfx << 8 | (i < len ? body[i] : 0);
    e->off = ld->alen;
    e->len = (uint32_t)len;
    memcpy(ld->arena + ld->alen, body, len);
    ld->alen += len;
    return 0;
}

/* LMDB's default key order: memcmp over the common length, then shorter
 * first. Every key of one load shares its first LISTS__GEN_LEN bytes. */
static int lists__ent_cmp(const void *pa, const void *pb, void *arena)
{
    const lists__ent *a = pa, *b = pb;
    if (a->pfx != b->pfx) return a->pfx < b->pfx ? -1 : 1;
    const uint8_t *base = arena;
    int c = memcmp(base + a->off, base + b->off, a->len < b->len ? a->len : b->len);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int lists__is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* An entry that starts with an address, a network or a hash, then a
 * blank, ',' or ';' and more ("203.0.113.5\tC2", "198.51.100.7,scanner",
 * sha256sum's "HASH  evil.exe"): a file with columns. Each such line was a
 * string entry that no address or hash matches, and the list loaded with
 * its count as if all was well. A domain counts before a tab, ',' or ';'
 * only: "svchost.exe -k netsvcs" is a command line, a string. 1 with the
 * reason in why (see docs/watchlists.md), else 0. */
static int lists__columns(const char *s, size_t n, char *why, size_t whylen)
{
    size_t f = 0;
    while (f < n && !lists__is_blank(s[f]) && s[f] != ',' && s[f] != ';')
        f++;
    if (f == 0 || f == n) return 0;
    uint8_t body[1 + COR_LIST_ENTRY_MAX];
    size_t blen;
    char ignored[8];
    if (lists__encode(s, f, 1, body, &blen, ignored, sizeof(ignored)) != 0) return 0;
    const char *what = body[0] == LISTS__HASH     ? "hash"
                       : body[0] == LISTS__DOMAIN ? "domain"
                       : body[0] == LISTS__STRING ? NULL
                       : memchr(s, '/', f)        ? "network"
                                                  : "address";
    char sep = s[f];
    if (!what || (body[0] == LISTS__DOMAIN && sep != '\t' && sep != ',' && sep != ';')) return 0;
    snprintf(why, whylen,
             "the %s '%.*s' followed by %s and more (a file with columns?): a list takes one entry "
             "per line, a comment only after ' #'",
             what, (int)f, s,
             sep == ' '    ? "a space"
             : sep == '\t' ? "a tab"
             : sep == ','  ? "','"
             : sep == ';'  ? "';'"
                           : "a blank");
    return 1;
}

/* Longest line a list file may have, comment included: an entry is at most
 * COR_LIST_ENTRY_MAX bytes, and a comment has no business being longer. */
#define LISTS__LINE_MAX 65536

/* getline(3) that gives up on a line longer than LISTS__LINE_MAX, its end
 * (LF or CRLF) not counted, nor, on the first line (first), the UTF-8 byte
 * order mark that lists__parse drops there: a file without newlines (a
 * symlink to /dev/zero, a binary saved by mistake) was read into one line
 * until memory ran out. Room for the limit, the BOM, CR, LF and the NUL.
 * The length is checked once the line is read, so the last line of a file
 * (no LF), a CRLF line and a first line after a BOM have the same limit as
 * an LF one. Returns the line's length, -1 at the end of the file (or an
 * error: see ferror), -2 for a longer line, -ENOMEM. *line is
 * NUL-terminated and the caller's to free. */
#define LISTS__LINE_ROOM (LISTS__LINE_MAX + 6)
static ssize_t lists__getline(char **line, size_t *cap, FILE *f, bool first)
{
    size_t n = 0;
    int c = EOF;
    while ((c = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) {
            if (*cap >= LISTS__LINE_ROOM) return -2;
            size_t ncap = *cap ? *cap * 2 : 1024;
            if (ncap > LISTS__LINE_ROOM) ncap = LISTS__LINE_ROOM;
            char *p = realloc(*line, ncap);
            if (!p) return -ENOMEM;
            *line = p;
            *cap = ncap;
        }
        (*line)[n++] = (char)c;
        if (c == '\n') break;
    }
    if (n == 0) return -1;
    (*line)[n] = '\0';
    size_t body = n;
    if (body > 0 && (*line)[body - 1] == '\n') body--;
    if (body > 0 && (*line)[body - 1] == '\r') body--;
    if (first && body >= 3 && memcmp(*line, "\xef\xbb\xbf", 3) == 0) body -= 3;
    if (body > LISTS__LINE_MAX) return -2;
    return (ssize_t)n;
}

/* What a load hashes: the SHA-256 and the length of the content read. */
typedef struct lists__sum {
    EVP_MD_CTX *md;
    uint64_t bytes;
} lists__sum;

/* Reads and encodes every entry of path. With sum, every byte read goes
 * into it: on success, the digest of exactly the content parsed. With
 * no_fifo (a configured list, which the daemon reads at every start and
 * SIGHUP, in its loop), a FIFO is refused before any read: it can be read
 * only once (a SIGHUP reads each list twice: checked, then stored), and a
 * read blocks for as long as a writer holds it open without writing, the
 * daemon with it. The open itself does not block (vg_open_read), and the
 * check is on the file opened, not on a name that may change since. */
static int lists__parse(const char *path, bool no_fifo, lists__load *ld, lists__sum *sum,
                        char *err, size_t errlen)
{
    bool fifo = false;
    int fd = vg_open_read(path, &fifo);
    /* a FIFO, nor a device (/dev/urandom would be read without end), a
     * directory: one check of the file opened */
    struct stat sb;
    if (fd >= 0 && no_fifo && fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        close(fd);
        if (S_ISFIFO(sb.st_mode))
            snprintf(err, errlen,
                     "%s: a FIFO cannot be a configured list: it can be read only once, and its "
                     "writer would hold the correlator at every start and SIGHUP (write the list "
                     "to a file; --load-list reads a FIFO once)",
                     path);
        else
            snprintf(err, errlen,
                     "%s: is %s, not a regular file: a configured list must be one (refused "
                     "without reading it)",
                     path, vg_cfile_kind(sb.st_mode));
        return VG_ECONFIG;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        int e = fd < 0 ? -fd : errno;
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *line = NULL, why[256];
    size_t lcap = 0, lineno = 0;
    uint8_t body[1 + COR_LIST_ENTRY_MAX];
    ssize_t got;
    int rc = 0;
    while ((got = lists__getline(&line, &lcap, f, lineno == 0)) >= 0 || got == -2 ||
           got == -ENOMEM) {
        if (got == -ENOMEM) {
            snprintf(err, errlen, "%s: out of memory", path);
            rc = -ENOMEM;
            goto out;
        }
        if (got == -2) {
            snprintf(err, errlen, "%s:%zu: line longer than %d bytes (not a list file?)", path,
                     lineno + 1, LISTS__LINE_MAX);
            rc = VG_ECONFIG;
            goto out;
        }
        if (sum && EVP_DigestUpdate(sum->md, line, (size_t)got) != 1) {
            snprintf(err, errlen, "%s: cannot compute its SHA-256", path);
            rc = -ENOMEM;
            goto out;
        }
        if (sum) sum->bytes += (uint64_t)got;
        char *s = line;
        size_t n = (size_t)got;
        lineno++;
        /* A UTF-8 byte order mark (editors on Windows write one) is not
         * part of the first entry or comment. */
        if (lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
            s += 3;
            n -= 3;
        }
        /* UTF-16 (PowerShell's Out-File writes it): say so, rather than
         * "NUL byte in entry" */
        if (lineno == 1 && n >= 2 &&
            (memcmp(s, "\xff\xfe", 2) == 0 || memcmp(s, "\xfe\xff", 2) == 0)) {
            snprintf(err, errlen, "%s:1: a UTF-16 file (byte order mark %s): save it as UTF-8",
                     path, s[0] == '\xff' ? "FF FE" : "FE FF");
            rc = VG_ECONFIG;
            goto out;
        }
        size_t b = 0;
        while (b < n && lists__is_blank(s[b]))
            b++;
        /* A byte order mark past the file's start: files joined with
         * cat(1), each saved with one. It made the line a string entry
         * that looked like the address after it ("192.0.2.2" in an
         * editor), or a commented header an entry. */
        if (n - b >= 3 && memcmp(s + b, "\xef\xbb\xbf", 3) == 0) {
            snprintf(err, errlen,
                     "%s:%zu: a byte order mark (EF BB BF) that does not start the file (files "
                     "joined together?): remove it",
                     path, lineno);
            rc = VG_ECONFIG;
            goto out;
        }
        /* '#' at the start or after a blank starts a comment. A CR before
         * the line's end is a file with CR line ends (one line): a comment
         * on it swallowed every entry after it without a word. */
        size_t c = n, e = n;
        for (size_t i = b; i < n; i++) {
            if (s[i] == '#' && (i == b || lists__is_blank(s[i - 1]))) {
                c = i;
                break;
            }
        }
        while (e > b && lists__is_blank(s[e - 1]))
            e--;
        const char *cr = memchr(s + b, '\r', e - b);
        if (cr) {
            snprintf(err, errlen,
                     "%s:%zu: carriage return inside %s (lines end in LF or CRLF, not CR)", path,
                     lineno, (size_t)(cr - s) >= c ? "a comment" : "an entry");
            rc = VG_ECONFIG;
            goto out;
        }
        n = c;
        while (n > b && lists__is_blank(s[n - 1]))
            n--;
        if (n == b) continue;
        size_t blen;
        if (lists__columns(s + b, n - b, why, sizeof(why)) ||
            lists__encode(s + b, n - b, 1, body, &blen, why, sizeof(why))) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            rc = VG_ECONFIG;
            goto out;
        }
        if ((rc = lists__load_add(ld, body, blen))) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto out;
        }
    }
    if (ferror(f)) { /* errno is the read's: EISDIR for a directory, EIO, ... */
        int e = errno ? errno : EIO;
        rc = -e;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
    } else if (fifo && lineno == 0) { /* not an empty list: nothing writes to it */
        snprintf(err, errlen, "%s: a FIFO with no writer (nothing to read)", path);
        rc = VG_ECONFIG;
    }
out:
    free(line);
    fclose(f);
    return rc;
}

/* Sorts, drops duplicates and fills in the directory record's counts. */
static void lists__prepare(lists__load *ld, lists__dir *d)
{
    if (ld->n > 1) qsort_r(ld->ents, ld->n, sizeof(*ld->ents), lists__ent_cmp, ld->arena);
    size_t m = 0;
    for (size_t i = 0; i < ld->n; i++) {
        if (m > 0 && lists__ent_cmp(&ld->ents[m - 1], &ld->ents[i], ld->arena) == 0) continue;
        ld->ents[m++] = ld->ents[i];
        const uint8_t *p = ld->arena + ld->ents[i].off;
        uint32_t len = ld->ents[i].len;
        switch (p[0]) {
        case LISTS__V4:
            d->ipv4++;
            d->v4mask |= 1ull << p[5];
            break;
        case LISTS__V6:
            d->ipv6++;
            d->v6mask[p[17] / 64] |= 1ull << (p[17] % 64);
            break;
        case LISTS__DOMAIN:
            d->domains++;
            if (!memchr(p + 1, '.', len - 1)) d->flags |= LISTS__F_TLD;
            break;
        case LISTS__HASH:
            d->hashes++;
            break;
        default:
            d->strings++;
            break;
        }
    }
    ld->n = m;
    d->count = m;
}

/* Deletes every key of generation gen (0 is never a list's). */
static int lists__delete_gen(MDB_txn *txn, MDB_dbi dbi, uint32_t gen)
{
    if (gen == 0) return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) return lists__rc(rc);
    uint8_t kb[LISTS__GEN_LEN];
    lists__be32(kb, gen);
    MDB_val k = {sizeof(kb), kb}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= LISTS__GEN_LEN && memcmp(k.mv_data, kb, LISTS__GEN_LEN) == 0) {
        if ((rc = mdb_cursor_del(cur, 0))) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the next key */
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : lists__rc(rc);
}

/* The next generation: above the counter and above every key stored (so
 * the new keys can be appended). */
static int lists__next_gen(cor_lists *l, MDB_txn *txn, uint32_t *out)
{
    uint8_t gk[LISTS__GEN_LEN + 1] = {0, 0, 0, 0, LISTS__META_GEN};
    MDB_val k = {sizeof(gk), gk}, v;
    MDB_cursor *cur;
    uint32_t gen = 0;
    int rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == 0 && v.mv_size == 4)
        gen = (uint32_t)lists__get_le(v.mv_data, 4);
    else if (rc == 0)
        return VG_ESTATE;
    else if (rc != MDB_NOTFOUND)
        return lists__rc(rc);
    if ((rc = mdb_cursor_open(txn, l->dbi, &cur))) return lists__rc(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == 0 && k.mv_size >= LISTS__GEN_LEN) {
        uint32_t top = lists__get_be32(k.mv_data);
        gen = top > gen ? top : gen;
    } else if (rc && rc != MDB_NOTFOUND) {
        return lists__rc(rc);
    }
    if (gen == UINT32_MAX) return VG_ESTATE;
    *out = gen + 1;
    uint8_t gv[4];
    lists__le(gv, *out, 4);
    k = (MDB_val){sizeof(gk), gk};
    v = (MDB_val){sizeof(gv), gv};
    return lists__rc(mdb_put(txn, l->dbi, &k, &v, 0));
}

/* The write transaction of a load: the old generation deleted, a new one
 * appended, the directory record switched. */
static int lists__store(cor_lists *l, MDB_txn *txn, const char *name, const lists__load *ld,
                        lists__dir *d)
{
    uint8_t kb[LISTS__KEY_MAX], dirbuf[LISTS__DIR_SIZE];
    lists__dir old = {0};
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = lists__dir_get(l, txn, name, &old);
    if (rc && rc != -ENOENT) return rc;
    if ((rc = lists__next_gen(l, txn, &d->gen))) return rc;
    /* Old generation first, then the appends: for a million entries this
     * measured 1.2 s against 1.9 s the other way round, with a B-tree one
     * level shallower. The map needs room for both versions either way:
     * LMDB reuses the old pages only after the commit. */
    if ((rc = lists__delete_gen(txn, l->dbi, old.gen))) return rc;
    if ((rc = mdb_cursor_open(txn, l->dbi, &cur))) return lists__rc(rc);
    lists__be32(kb, d->gen);
    MDB_val empty = {0, NULL};
    for (size_t i = 0; i < ld->n && rc == 0; i++) {
        const lists__ent *e = &ld->ents[i];
        memcpy(kb + LISTS__GEN_LEN, ld->arena + e->off, e->len);
        k = (MDB_val){LISTS__GEN_LEN + e->len, kb};
        rc = mdb_cursor_put(cur, &k, &empty, MDB_APPEND);
    }
    mdb_cursor_close(cur);
    if (rc) return lists__rc(rc);
    uint8_t dk[LISTS__GEN_LEN + 1 + COR_LIST_NAME_MAX];
    k = lists__dir_key(dk, name);
    lists__dir_encode(d, dirbuf);
    v = (MDB_val){sizeof(dirbuf), dirbuf};
    return lists__rc(mdb_put(txn, l->dbi, &k, &v, 0));
}

size_t cor_lists_map_mb(uint64_t file_bytes)
{
    return 1 + (size_t)((file_bytes * COR_LISTS_MAP_PER_BYTE + (1u << 20) - 1) >> 20);
}

/* ---- the source record: skipping a list whose file is unchanged -------- */

/* Which file content a list's stored version was parsed from, so that a
 * reload (SIGHUP, a restart) can leave a list alone whose file is the same
 * (docs/watchlists.md, "Updating a list"). Re-storing a list of a million
 * entries blocked the loop about 1 s at every SIGHUP; reading and hashing
 * its file costs a twentieth of that. Encoded little-endian, 56 + vlen bytes:
 *   u32 magic "VGS1" | u32 gen | u32 parser | u32 vlen | u64 size |
 *   u8 sha256[32] | vlen bytes of VG_VERSION
 * (size, the file's length, spares reading a file whose length changed).
 * gen is the generation of the directory record it describes: a load that
 * does not write this record (an older correlator's --load-list) takes a
 * new generation, so the record no longer matches. The content is compared
 * by SHA-256, not by size and mtime: an edit within the file system's
 * timestamp resolution or a copy that keeps mtime (cp -p, rsync) keeps
 * both, and a feed from outside should not be able to pick a collision.
 * parser and VG_VERSION are the settings that decide how the same bytes
 * are stored: a correlator whose parser reads the file otherwise stores it
 * again. */
#define LISTS__SRC_MAGIC 0x31534756u
#define LISTS__SRC_HEAD 24
#define LISTS__SUM_LEN 32 /* SHA-256 */
#define LISTS__SRC_VMAX 64
/* Bump whenever a file would be stored differently (an entry classified,
 * normalised or refused otherwise): each list is then stored again once. */
#define LISTS__PARSER 2 /* 2: files with columns refused (lists__columns) */

typedef struct lists__src {
    uint32_t gen, parser;
    uint64_t size;
    uint8_t sum[LISTS__SUM_LEN];
    size_t vlen;
    char version[LISTS__SRC_VMAX];
} lists__src;

/* Key of NAME's source record: gen 0, 'S', NAME (buf as lists__dir_key). */
static MDB_val lists__src_key(uint8_t *buf, const char *name)
{
    MDB_val k = lists__dir_key(buf, name);
    buf[LISTS__GEN_LEN] = LISTS__META_SRC;
    return k;
}

/* Reads NAME's source record in txn: 0 and *s, -ENOENT (none, or one this
 * code cannot read: the list is then stored again), or an LMDB error. */
static int lists__src_get(cor_lists *l, MDB_txn *txn, const char *name, lists__src *s)
{
    uint8_t kb[LISTS__GEN_LEN + 1 + COR_LIST_NAME_MAX];
    MDB_val k = lists__src_key(kb, name), v;
    int rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return -ENOENT;
    if (rc) return lists__rc(rc);
    const uint8_t *p = v.mv_data;
    if (v.mv_size < LISTS__SRC_HEAD + LISTS__SUM_LEN || lists__get_le(p, 4) != LISTS__SRC_MAGIC)
        return -ENOENT;
    s->gen = (uint32_t)lists__get_le(p + 4, 4);
    s->parser = (uint32_t)lists__get_le(p + 8, 4);
    s->vlen = (size_t)lists__get_le(p + 12, 4);
    s->size = lists__get_le(p + 16, 8);
    if (s->vlen > LISTS__SRC_VMAX || v.mv_size != LISTS__SRC_HEAD + LISTS__SUM_LEN + s->vlen)
        return -ENOENT;
    memcpy(s->sum, p + LISTS__SRC_HEAD, LISTS__SUM_LEN);
    memcpy(s->version, p + LISTS__SRC_HEAD + LISTS__SUM_LEN, s->vlen);
    return 0;
}

/* Writes NAME's source record (generation gen, content of size bytes
 * with SHA-256 sum) in txn. */
static int lists__src_put(cor_lists *l, MDB_txn *txn, const char *name, uint32_t gen, uint64_t size,
                          const uint8_t sum[LISTS__SUM_LEN])
{
    uint8_t kb[LISTS__GEN_LEN + 1 + COR_LIST_NAME_MAX];
    uint8_t vb[LISTS__SRC_HEAD + LISTS__SUM_LEN + LISTS__SRC_VMAX];
    size_t vlen = strlen(VG_VERSION);
    if (vlen > LISTS__SRC_VMAX) vlen = LISTS__SRC_VMAX;
    lists__le(vb, LISTS__SRC_MAGIC, 4);
    lists__le(vb + 4, gen, 4);
    lists__le(vb + 8, LISTS__PARSER, 4);
    lists__le(vb + 12, vlen, 4);
    lists__le(vb + 16, size, 8);
    memcpy(vb + LISTS__SRC_HEAD, sum, LISTS__SUM_LEN);
    memcpy(vb + LISTS__SRC_HEAD + LISTS__SUM_LEN, VG_VERSION, vlen);
    MDB_val k = lists__src_key(kb, name), v = {LISTS__SRC_HEAD + LISTS__SUM_LEN + vlen, vb};
    return lists__rc(mdb_put(txn, l->dbi, &k, &v, 0));
}

/* SHA-256 of the whole file at path into sum, if it is a regular file of
 * size bytes: 0, 1 when it is not (another length: changed; not a regular
 * file: not even opened here; the parse that follows reads a device and
 * refuses a FIFO), or an error (the parse that follows says what is
 * wrong with the file). */
static int lists__file_sum(const char *path, uint64_t size, uint8_t sum[LISTS__SUM_LEN])
{
    enum { BUF = 1 << 20 };
    bool fifo = false;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size) return 1;
    int fd = vg_open_read(path, &fifo), rc = 0;
    if (fd < 0) return fd;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) { /* replaced since the stat */
        close(fd);
        return 1;
    }
    uint8_t *buf = malloc(BUF);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t got = read(fd, buf, BUF);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc = -errno;
            goto out;
        }
        if (got == 0) break;
        if (EVP_DigestUpdate(md, buf, (size_t)got) != 1) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (EVP_DigestFinal_ex(md, sum, NULL) != 1) rc = -ENOMEM;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    close(fd);
    return rc;
}

/* ---- files seen unchanged: a reload that does not even hash them -------
 *
 * A list whose file was hashed (or stored) by this process is not hashed
 * again while the file's device, inode, size, mtime and ctime (both to the
 * nanosecond) are the ones seen then, and the store still holds the same
 * version (generation and SHA-256) of the list. ctime cannot be set back by
 * a user (touch -d, cp -p and rsync set mtime; any write, rename into place
 * or chmod sets ctime to the current time), so a rewrite in place keeps all
 * of these only if the file system's clock gives it the ctime the file
 * already had: a file changed within LISTS__SEEN_SETTLE_NS before it was
 * read (timestamps of one second or two on some file systems; a coarse
 * clock tick on the others) is therefore hashed again at each reload until
 * it has been seen settled. Not covered: the system clock set back by more
 * than that between two reloads, and a file system that keeps no ctime. */
#define LISTS__SEEN_SETTLE_NS (2 * 1000000000LL)

typedef struct lists__seen {
    char name[COR_LIST_NAME_MAX + 1];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim, ctim;
    uint32_t gen; /* the source record it matched */
    uint8_t sum[LISTS__SUM_LEN];
} lists__seen;

static lists__seen *lists__seen_find(cor_lists *l, const char *name)
{
    for (size_t i = 0; i < l->nseen; i++)
        if (strcmp(l->seen[i].name, name) == 0) return &l->seen[i];
    return NULL;
}

static bool lists__ts_eq(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Whether sb (taken now) is the file seen holding list NAME's stored
 * version gen with sum. */
static bool lists__seen_same(cor_lists *l, const char *name, const struct stat *sb, uint32_t gen,
                             const uint8_t sum[LISTS__SUM_LEN])
{
    const lists__seen *s = lists__seen_find(l, name);
    return s && s->dev == sb->st_dev && s->ino == sb->st_ino && s->size == sb->st_size &&
           lists__ts_eq(s->mtim, sb->st_mtim) && lists__ts_eq(s->ctim, sb->st_ctim) &&
           s->gen == gen && memcmp(s->sum, sum, LISTS__SUM_LEN) == 0;
}

/* Records that the file of sb (taken at or after before, and before its
 * content was read) holds list NAME's stored version gen with sum; a file
 * changed too shortly before it was read is forgotten instead. Out of
 * memory: not recorded (the next reload hashes it). */
static void lists__seen_put(cor_lists *l, const char *name, const struct stat *sb,
                            struct timespec before, uint32_t gen, const uint8_t sum[LISTS__SUM_LEN])
{
    lists__seen *s = lists__seen_find(l, name);
    long long age = (long long)(before.tv_sec - sb->st_ctim.tv_sec) * 1000000000LL +
                    (before.tv_nsec - sb->st_ctim.tv_nsec);
    if (age < LISTS__SEEN_SETTLE_NS || !S_ISREG(sb->st_mode)) {
        if (s) *s = l->seen[--l->nseen];
        return;
    }
    if (!s) {
        lists__seen *n = realloc(l->seen, (l->nseen + 1) * sizeof(*n));
        if (!n) return;
        l->seen = n;
        s = &l->seen[l->nseen++];
        snprintf(s->name, sizeof(s->name), "%s", name);
    }
    s->dev = sb->st_dev, s->ino = sb->st_ino, s->size = sb->st_size;
    s->mtim = sb->st_mtim, s->ctim = sb->st_ctim;
    s->gen = gen;
    memcpy(s->sum, sum, LISTS__SUM_LEN);
}

/* Whether list NAME is stored from a file with the content path has now,
 * by this parser: 1 (and *count, its entries), 0, or an error. A file
 * seen unchanged since it was last hashed is not read (lists__seen). */
static int lists__unchanged(cor_lists *l, const char *name, const char *path, size_t *count)
{
    MDB_txn *txn;
    lists__dir d;
    lists__src s;
    uint8_t sum[LISTS__SUM_LEN];
    int rc = lists__read_begin(l, &txn);
    if (rc) return rc;
    rc = lists__dir_get(l, txn, name, &d);
    if (rc == 0) rc = lists__src_get(l, txn, name, &s);
    lists__read_end(l, txn);
    if (rc) return rc == -ENOENT ? 0 : rc;
    if (s.gen != d.gen || s.parser != LISTS__PARSER || s.vlen != strlen(VG_VERSION) ||
        memcmp(s.version, VG_VERSION, s.vlen) != 0)
        return 0;
    struct timespec before;
    struct stat sb;
    clock_gettime(CLOCK_REALTIME, &before);
    bool statted = stat(path, &sb) == 0;
    if (statted && lists__seen_same(l, name, &sb, s.gen, s.sum)) {
        *count = (size_t)d.count;
        return 1;
    }
    l->stats.hashed++;
    if ((rc = lists__file_sum(path, s.size, sum))) return rc > 0 ? 0 : rc;
    if (memcmp(sum, s.sum, LISTS__SUM_LEN) != 0) return 0;
    if (statted)
        lists__seen_put(l, name, &sb, before, s.gen, s.sum);
    *count = (size_t)d.count;
    return 1;
}

/* How lists__load_path treats a list whose file is unchanged. */
enum {
    LISTS__REPLACE, /* stores it all the same (cor_lists_load_file) */
    LISTS__SYNC,    /* leaves it alone */
    LISTS__CHECK,   /* stores nothing; a changed file is parsed and checked */
};

/* cor_lists_load_file and cor_lists_sync_file. */
static int lists__load_path(cor_lists *l, const char *name, const char *path, int mode,
                            size_t *count, bool *unchanged, char *err, size_t errlen)
{
    lists__load ld = {0};
    lists__dir d = {0};
    lists__sum sum = {0};
    uint8_t digest[LISTS__SUM_LEN];
    bool store = l && mode != LISTS__CHECK, same = false;
    int rc;
    if (unchanged) *unchanged = false;
    if (!lists__name_ok(name)) {
        snprintf(err, errlen, "%s: bad list name (1 to %d of A-Z a-z 0-9 _ . -)", name,
                 COR_LIST_NAME_MAX);
        rc = -EINVAL;
        goto out;
    }
    if (store && vg_store_txn(l->st)) {
        snprintf(err, errlen, "lists: cannot load '%s' inside a write transaction", name);
        rc = -EBUSY;
        goto out;
    }
    /* An error here is left to the parse below, which says it with the
     * file's name (or, for a store that cannot be read, to the store). */
    size_t stored = 0;
    if (l && mode != LISTS__REPLACE && lists__unchanged(l, name, path, &stored) == 1) {
        same = true;
        if (unchanged) *unchanged = true;
        if (count) *count = stored;
        rc = 0;
        goto out;
    }
    if (store &&
        (!(sum.md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(sum.md, EVP_sha256(), NULL) != 1)) {
        snprintf(err, errlen, "lists: cannot load '%s': out of memory", name);
        rc = -ENOMEM;
        goto out;
    }
    struct timespec before;
    struct stat sb;
    clock_gettime(CLOCK_REALTIME, &before);
    bool statted = store && mode == LISTS__SYNC && stat(path, &sb) == 0;
    if ((rc = lists__parse(path, mode != LISTS__REPLACE, &ld, store ? &sum : NULL, err, errlen)))
        goto out;
    lists__prepare(&ld, &d);
    d.loaded = (uint64_t)time(NULL);
    if (!store) { /* checking only */
        if (count) *count = ld.n;
        goto out;
    }
    if (EVP_DigestFinal_ex(sum.md, digest, NULL) != 1) {
        snprintf(err, errlen, "%s: cannot compute its SHA-256", path);
        rc = -ENOMEM;
        goto out;
    }

    if ((rc = vg_store_begin(l->st))) {
        snprintf(err, errlen, "lists: cannot begin a transaction: %s", vg_strerror(rc));
        goto out;
    }
    MDB_txn *txn = vg_store_write_txn(l->st); /* held to the reserve (store.h) */
    if ((rc = lists__store(l, txn, name, &ld, &d)) ||
        (rc = lists__src_put(l, txn, name, d.gen, sum.bytes, digest)))
        vg_store_abort(l->st);
    else
        rc = vg_store_commit(l->st);
    if (rc == VG_EFULL) { /* VG_EFULL's own wording speaks of a queue */
        MDB_envinfo ei;
        mdb_env_info(l->env, &ei);
        snprintf(err, errlen,
                 "lists: cannot store '%s' (%zu entries): the list store is full (map size %zu MiB)",
                 name, ld.n, ei.me_mapsize >> 20);
        goto out;
    }
    if (rc) {
        snprintf(err, errlen, "lists: cannot store '%s' (%zu entries): %s", name, ld.n,
                 vg_strerror(rc));
        goto out;
    }
    cor_list *h = lists__find(l, name);
    if (h) h->cached = 0;
    if (statted)
        lists__seen_put(l, name, &sb, before, d.gen, digest);
    if (count) *count = ld.n;
out:
    EVP_MD_CTX_free(sum.md);
    lists__load_free(&ld);
    if (store && !same && rc)
        l->stats.load_failures++;
    else if (store && !same)
        l->stats.loads++;
    return rc;
}

int cor_lists_load_file(cor_lists *l, const char *name, const char *path, size_t *count, char *err,
                        size_t errlen)
{
    return lists__load_path(l, name, path, LISTS__REPLACE, count, NULL, err, errlen);
}

int cor_lists_sync_file(cor_lists *l, const char *name, const char *path, bool check, size_t *count,
                        bool *unchanged, char *err, size_t errlen)
{
    return lists__load_path(l, name, path, check ? LISTS__CHECK : LISTS__SYNC, count, unchanged,
                            err, errlen);
}

/* ---- lookups ------------------------------------------------------------ */

/* Brings h's directory record up to date for txn. */
static int lists__refresh(cor_list *h, MDB_txn *txn)
{
    size_t id = mdb_txn_id(txn);
    int w = txn == vg_store_txn(h->l->st);
    if (h->cached && h->seen == id && h->seen_write == w) return 0;
    int rc = lists__dir_get(h->l, txn, h->name, &h->dir);
    if (rc == -ENOENT) {
        memset(&h->dir, 0, sizeof(h->dir));
        h->exists = 0;
    } else if (rc) {
        h->cached = 0;
        return rc;
    } else {
        h->exists = 1;
    }
    h->cached = 1;
    h->seen = id;
    h->seen_write = w;
    return 0;
}

/* 1: key present, 0: absent, < 0: error. */
static int lists__probe(MDB_txn *txn, MDB_dbi dbi, uint8_t *key, size_t n)
{
    MDB_val k = {n, key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : lists__rc(rc);
}

/* Probes addr against networks of every length set in mask[] (bits
 * 0..maxlen, longest first). key holds gen and kind; the address and
 * length go after them. */
static int lists__probe_nets(MDB_txn *txn, MDB_dbi dbi, uint8_t *key, const uint8_t *addr, int alen,
                             const uint64_t *mask, int maxlen)
{
    for (int len = maxlen; len >= 0; len--) {
        if (!(mask[len / 64] >> (len % 64) & 1)) continue;
        uint8_t *a = key + LISTS__GEN_LEN + 1;
        memcpy(a, addr, (size_t)alen);
        lists__mask(a, alen, (unsigned)len);
        a[alen] = (uint8_t)len;
        int rc = lists__probe(txn, dbi, key, LISTS__GEN_LEN + 2 + (size_t)alen);
        if (rc) return rc;
    }
    return 0;
}

static int lists__lookup(cor_list *h, MDB_txn *txn, vg_str value)
{
    cor_lists *l = h->l;
    int rc = lists__refresh(h, txn);
    if (rc || !h->exists || h->dir.count == 0 || !value.p) return rc;
    const lists__dir *d = &h->dir;
    uint8_t key[LISTS__KEY_MAX], *body = key + LISTS__GEN_LEN;
    size_t blen;
    if (value.len > COR_LIST_ENTRY_MAX ||
        lists__encode(value.p, value.len, 0, body, &blen, NULL, 0) != 0)
        return 0; /* too long to be in any list */
    lists__be32(key, d->gen);

    switch (body[0]) {
    case LISTS__V4: {
        uint8_t addr[16];
        memcpy(addr, body + 1, 4);
        if (d->ipv4 && (rc = lists__probe_nets(txn, l->dbi, key, addr, 4, &d->v4mask, 32)))
            return rc;
        /* IPv6 networks of up to 96 bits can hold ::ffff:a.b.c.d */
        uint64_t m[2] = {d->v6mask[0], d->v6mask[1] & ((1ull << 33) - 1)};
        if (d->ipv6 && (m[0] || m[1])) {
            memmove(addr + 12, addr, 4);
            memset(addr, 0, 10);
            addr[10] = addr[11] = 0xff;
            body[0] = LISTS__V6;
            return lists__probe_nets(txn, l->dbi, key, addr, 16, m, 96);
        }
        return 0;
    }
    case LISTS__V6: {
        uint8_t addr[16];
        memcpy(addr, body + 1, 16);
        return d->ipv6 ? lists__probe_nets(txn, l->dbi, key, addr, 16, d->v6mask, 128) : 0;
    }
    case LISTS__DOMAIN: {
        if (!d->domains) return 0;
        /* body = 'd' name; probe name, then each parent: the 5-byte key
         * head is rewritten just before the suffix (over labels already
         * done), so every probe is one contiguous key. */
        size_t n = blen - 1, i = 0;
        uint8_t *name = body + 1;
        for (;;) {
            uint8_t *k = name + i - (LISTS__GEN_LEN + 1);
            lists__be32(k, d->gen);
            k[LISTS__GEN_LEN] = LISTS__DOMAIN;
            if ((rc = lists__probe(txn, l->dbi, k, LISTS__GEN_LEN + 1 + n - i))) return rc;
            uint8_t *dot = memchr(name + i, '.', n - i);
            if (!dot) return 0;
            i = (size_t)(dot - name) + 1;
            if (!memchr(name + i, '.', n - i) && !(d->flags & LISTS__F_TLD))
                return 0; /* the top-level domain, not listed on its own */
        }
    }
    case LISTS__HASH:
        return d->hashes ? lists__probe(txn, l->dbi, key, LISTS__GEN_LEN + blen) : 0;
    default:
        return d->strings ? lists__probe(txn, l->dbi, key, LISTS__GEN_LEN + blen) : 0;
    }
}

static bool lists__answer(cor_lists *l, int rc)
{
    l->stats.lookups++;
    if (rc < 0) {
        l->stats.errors++;
        return false;
    }
    l->stats.hits += rc > 0;
    return rc > 0;
}

bool cor_list_contains_txn(cor_list *h, MDB_txn *txn, vg_str value)
{
    return lists__answer(h->l, lists__lookup(h, txn, value));
}

bool cor_list_contains(cor_list *h, vg_str value)
{
    MDB_txn *txn;
    int rc = lists__read_begin(h->l, &txn);
    if (rc == 0) {
        rc = lists__lookup(h, txn, value);
        lists__read_end(h->l, txn);
    }
    return lists__answer(h->l, rc);
}

bool cor_lists_contains(cor_lists *l, const char *name, vg_str value)
{
    cor_list *h;
    if (cor_lists_handle(l, name, &h)) return false;
    return cor_list_contains(h, value);
}

/* ---- information and dump ---------------------------------------------- */

int cor_lists_info(cor_lists *l, const char *name, cor_list_info *info)
{
    if (!lists__name_ok(name)) return -EINVAL;
    MDB_txn *txn;
    lists__dir d;
    int rc = lists__read_begin(l, &txn);
    if (rc) return rc;
    rc = lists__dir_get(l, txn, name, &d);
    lists__read_end(l, txn);
    if (rc) return rc;
    *info = (cor_list_info){.count = d.count,
                            .ipv4 = d.ipv4,
                            .ipv6 = d.ipv6,
                            .domains = d.domains,
                            .hashes = d.hashes,
                            .strings = d.strings,
                            .loaded = d.loaded,
                            .gen = d.gen};
    return 0;
}

uint64_t cor_lists_size(cor_lists *l, const char *name)
{
    cor_list_info info;
    return cor_lists_info(l, name, &info) == 0 ? info.count : 0;
}

/* Writes one entry (key body p, len bytes) as a list-file line. */
static int lists__dump_entry(FILE *out, const uint8_t *p, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    switch (p[0]) {
    case LISTS__V4:
    case LISTS__V6: {
        int v6 = p[0] == LISTS__V6, alen = v6 ? 16 : 4;
        if (len != (size_t)alen + 2 || !inet_ntop(v6 ? AF_INET6 : AF_INET, p + 1, buf, sizeof(buf)))
            return VG_ESTATE;
        if (p[1 + alen] == alen * 8) return fprintf(out, "%s\n", buf) < 0 ? -EIO : 0;
        return fprintf(out, "%s/%u\n", buf, p[1 + alen]) < 0 ? -EIO : 0;
    }
    case LISTS__DOMAIN:
        return fprintf(out, "%s%.*s\n", memchr(p + 1, '.', len - 1) ? "" : ".", (int)(len - 1),
                       (const char *)p + 1) < 0
                   ? -EIO
                   : 0;
    case LISTS__HASH:
        for (size_t i = 1; i < len; i++)
            if (fprintf(out, "%02x", p[i]) < 0) return -EIO;
        return fputc('\n', out) == EOF ? -EIO : 0;
    default:
        if (fwrite(p + 1, 1, len - 1, out) != len - 1 || fputc('\n', out) == EOF) return -EIO;
        return 0;
    }
}

int cor_lists_dump(cor_lists *l, const char *name, FILE *out)
{
    if (!lists__name_ok(name)) return -EINVAL;
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    lists__dir d;
    int rc = lists__read_begin(l, &txn);
    if (rc) return rc;
    if ((rc = lists__dir_get(l, txn, name, &d))) goto out;
    char when[32] = "?";
    time_t t = (time_t)d.loaded;
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (fprintf(out,
                "# list %s: %llu entries (%llu IPv4, %llu IPv6, %llu domains, %llu hashes, "
                "%llu strings), loaded %s\n",
                name, (unsigned long long)d.count, (unsigned long long)d.ipv4,
                (unsigned long long)d.ipv6, (unsigned long long)d.domains,
                (unsigned long long)d.hashes, (unsigned long long)d.strings, when) < 0) {
        rc = -EIO;
        goto out;
    }
    if ((rc = mdb_cursor_open(txn, l->dbi, &cur))) {
        rc = lists__rc(rc);
        goto out;
    }
    uint8_t kb[LISTS__GEN_LEN];
    lists__be32(kb, d.gen);
    MDB_val k = {sizeof(kb), kb}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && k.mv_size > LISTS__GEN_LEN && memcmp(k.mv_data, kb, LISTS__GEN_LEN) == 0) {
        if ((rc = lists__dump_entry(out, (const uint8_t *)k.mv_data + LISTS__GEN_LEN,
                                    k.mv_size - LISTS__GEN_LEN)))
            goto out;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (mrc && mrc != MDB_NOTFOUND)
        rc = lists__rc(mrc);
    else if (fflush(out) != 0)
        rc = -EIO;
out:
    if (cur) mdb_cursor_close(cur);
    lists__read_end(l, txn);
    return rc;
}
