/* Bounded counter tables (see col_counters.h for the contract).
 *
 * Each table is a fixed pool of 'cap' entries plus an open-addressing index
 * (linear probing, power-of-two size, never more than half full: it starts
 * at 1024 slots and doubles as keys arrive, up to twice the cap, so that a
 * collector seeing a few thousand hosts probes an index that stays in the
 * CPU cache rather than one sized for the worst case). Entries never move: the index stores entry
 * numbers, and the counters live in parallel arrays indexed by the same number. The entries form a
 * doubly linked list in order of recency; a note moves its entry to the front, and a full table
 * recycles the entry at the back after taking it out of the index by backward-shift deletion (no
 * tombstones, so probe lengths do not decay under eviction churn).
 */
#include "col_counters.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "vigil/event.h"

#define COL__NIL UINT32_MAX
#define COL__INLINE 40 /* keys up to this length live in the entry */

typedef struct col__ent {
    uint32_t len;        /* key length */
    uint32_t hash;       /* low 32 bits of the key's hash */
    uint32_t prev, next; /* recency list: prev is more recent */
    uint32_t serial;     /* changes each time the entry takes a new key */
    uint32_t unused_;
    union {
        char in[COL__INLINE]; /* len <= COL__INLINE */
        char *heap;           /* len > COL__INLINE */
    } k;
} col__ent;
_Static_assert(sizeof(col__ent) == 64, "one entry, one cache line");

typedef struct col__slot {
    uint32_t idx1; /* entry number + 1; 0 = empty */
    uint32_t hash;
} col__slot;

typedef struct col__tab {
    col__slot *slot;
    uint32_t mask, max_mask; /* the index doubles up to max_mask + 1 slots */
    col__ent *ent;
    uint32_t cap, used;
    uint32_t head, tail; /* most and least recently seen, COL__NIL when empty */
    uint32_t last;       /* entry of the last lookup, compared before hashing */
    uint32_t serial;
    uint64_t evicted;
} col__tab;

typedef struct col__srcv {
    col_count c;
    uint32_t agency, agency_serial; /* agency entry (and its serial) of the latest note */
} col__srcv;

typedef struct col__hostv {
    uint64_t messages;
    int64_t last_seen_us;
} col__hostv;

struct col_counters {
    col__tab t[3]; /* by enum col_counters_kind */
    col__srcv *srcv;
    col_count *agv;
    col__hostv *hostv;
    uint64_t k0, k1; /* hash key */
    uint64_t nomem;
};

/* The last hash computed during one note, reused when the next key is the
 * same view (a message without HOSTNAME has its sender address as host). */
typedef struct col__memo {
    const char *p;
    uint32_t len, hash;
} col__memo;

/* ---- SipHash-1-3 (Aumasson and Bernstein), keyed per process ----------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32);                                  \
        v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                                                     \
        v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                                                     \
        v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32);                                  \
    } while (0)

static uint64_t sip13(uint64_t k0, uint64_t k1, const unsigned char *p, size_t n)
{
    uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575), v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
    uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261), v3 = k1 ^ UINT64_C(0x7465646279746573);
    uint64_t b = (uint64_t)n << 56, m;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&m, p + i, 8);
        m = le64toh(m); /* the same hash whatever the host's byte order */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < n; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

#undef SIPROUND
#undef ROTL

static uint32_t key_hash(const col_counters *cc, const char *p, uint32_t len)
{
    return (uint32_t)sip13(cc->k0, cc->k1, (const unsigned char *)p, len);
}

/* ---- one table ------------------------------------------------------------ */

static const char *ent_key(const col__ent *e)
{
    return e->len > COL__INLINE ? e->k.heap : e->k.in;
}

static int ent_eq(const col__ent *e, const char *p, uint32_t len)
{
    return e->len == len && memcmp(ent_key(e), p, len) == 0;
}

static void lru_unlink(col__tab *t, uint32_t i)
{
    col__ent *e = &t->ent[i];
    if (e->prev != COL__NIL)
        t->ent[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next != COL__NIL)
        t->ent[e->next].prev = e->prev;
    else
        t->tail = e->prev;
}

static void lru_push(col__tab *t, uint32_t i)
{
    col__ent *e = &t->ent[i];
    e->prev = COL__NIL;
    e->next = t->head;
    if (t->head != COL__NIL)
        t->ent[t->head].prev = i;
    else
        t->tail = i;
    t->head = i;
}

static uint32_t tab_find(const col__tab *t, const char *p, uint32_t len, uint32_t h)
{
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const col__slot *s = &t->slot[i];
        if (!s->idx1) return COL__NIL;
        if (s->hash == h && ent_eq(&t->ent[s->idx1 - 1], p, len)) return s->idx1 - 1;
    }
}

/* Takes entry idx out of the index, shifting later members of its probe run
 * back so that every key stays reachable from its home slot. */
static void tab_unindex(col__tab *t, uint32_t idx)
{
    uint32_t m = t->mask, i = t->ent[idx].hash & m;
    while (t->slot[i].idx1 != idx + 1)
        i = (i + 1) & m;
    for (;;) {
        uint32_t j = i;
        for (;;) {
            j = (j + 1) & m;
            if (!t->slot[j].idx1) {
                t->slot[i].idx1 = 0;
                return;
            }
            /* The key at j may fill the hole at i unless its home lies
             * cyclically in (i, j]. */
            uint32_t home = t->slot[j].hash & m;
            if (((j - home) & m) >= ((j - i) & m)) break;
        }
        t->slot[i] = t->slot[j];
        i = j;
    }
}

/* Doubles the index (up to max_mask + 1 slots) and re-inserts every key
 * from its stored hash. Returns 0, or -ENOMEM (or -ENOSPC at the largest
 * size) leaving the index as it was. */
static int tab_grow(col__tab *t)
{
    if (t->mask == t->max_mask) return -ENOSPC;
    uint32_t mask = 2 * t->mask + 1;
    col__slot *s = calloc((size_t)mask + 1, sizeof(*s));
    if (!s) return -ENOMEM;
    for (uint32_t idx = 0; idx < t->used; idx++) {
        uint32_t h = t->ent[idx].hash, i = h & mask;
        while (s[i].idx1)
            i = (i + 1) & mask;
        s[i] = (col__slot){idx + 1, h};
    }
    free(t->slot);
    t->slot = s;
    t->mask = mask;
    return 0;
}

/* Finds key, or makes it (evicting the least recently seen key when the
 * table is full), and makes it the most recent. Returns its entry with
 * *fresh set when it is new, or COL__NIL when a long key found no memory. */
static uint32_t tab_touch(col_counters *cc, col__tab *t, vg_str key, col__memo *memo, int *fresh)
{
    uint32_t len = key.len > COL_COUNTERS_KEY_MAX ? COL_COUNTERS_KEY_MAX : key.len;
    uint32_t idx = t->last, h;
    *fresh = 0;
    if (idx != COL__NIL && ent_eq(&t->ent[idx], key.p, len)) goto front;
    if (memo->p == key.p && memo->len == len) {
        h = memo->hash;
    } else {
        h = key_hash(cc, key.p, len);
        *memo = (col__memo){key.p, len, h};
    }
    if ((idx = tab_find(t, key.p, len, h)) != COL__NIL) goto front;

    if (t->used < t->cap && 2 * ((uint64_t)t->used + 1) > (uint64_t)t->mask + 1 &&
        tab_grow(t) != 0 && 4 * ((uint64_t)t->used + 1) > 3 * ((uint64_t)t->mask + 1)) {
        cc->nomem++; /* cannot grow the index, and it is three quarters full */
        return COL__NIL;
    }
    char *heap = NULL;
    if (len > COL__INLINE && !(heap = malloc(len))) {
        cc->nomem++;
        return COL__NIL;
    }
    if (t->used < t->cap) {
        idx = t->used++;
    } else {
        idx = t->tail;
        tab_unindex(t, idx);
        lru_unlink(t, idx);
        if (t->ent[idx].len > COL__INLINE) free(t->ent[idx].k.heap);
        t->evicted++;
    }
    col__ent *e = &t->ent[idx];
    e->len = len;
    e->hash = h;
    e->serial = ++t->serial;
    if (heap) {
        memcpy(heap, key.p, len);
        e->k.heap = heap;
    } else {
        memcpy(e->k.in, key.p, len);
    }
    uint32_t i = h & t->mask;
    while (t->slot[i].idx1)
        i = (i + 1) & t->mask;
    t->slot[i] = (col__slot){idx + 1, h};
    lru_push(t, idx);
    t->last = idx;
    *fresh = 1;
    return idx;
front:
    if (t->head != idx) {
        lru_unlink(t, idx);
        lru_push(t, idx);
    }
    t->last = idx;
    return idx;
}

static int tab_init(col__tab *t, uint32_t cap)
{
    uint32_t max = 16;
    while (max < 2 * (uint64_t)cap)
        max *= 2;
    uint32_t size = max < 1024 ? max : 1024;
    t->slot = calloc(size, sizeof(*t->slot));
    t->ent = calloc(cap, sizeof(*t->ent));
    if (!t->slot || !t->ent) return -ENOMEM;
    t->mask = size - 1;
    t->max_mask = max - 1;
    t->cap = cap;
    t->head = t->tail = t->last = COL__NIL;
    return 0;
}

static void tab_free(col__tab *t)
{
    for (uint32_t i = 0; t->ent && i < t->used; i++)
        if (t->ent[i].len > COL__INLINE) free(t->ent[i].k.heap);
    free(t->ent);
    free(t->slot);
}

/* ---- the counters --------------------------------------------------------- */

int col_counters_new(col_counters **out, uint32_t max_sources, uint32_t max_agencies,
                     uint32_t max_hosts)
{
    uint32_t cap[3] = {max_sources ? max_sources : COL_COUNTERS_MAX_SOURCES,
                       max_agencies ? max_agencies : COL_COUNTERS_MAX_AGENCIES,
                       max_hosts ? max_hosts : COL_COUNTERS_MAX_HOSTS};
    int rc = 0;
    *out = NULL;
    for (int k = 0; k < 3; k++)
        if (cap[k] > COL_COUNTERS_CAP_LIMIT) return -EINVAL;
    col_counters *cc = calloc(1, sizeof(*cc));
    if (!cc) return -ENOMEM;
    for (int k = 0; k < 3 && !rc; k++)
        rc = tab_init(&cc->t[k], cap[k]);
    if (!rc) {
        cc->srcv = calloc(cap[COL_COUNT_SOURCE], sizeof(*cc->srcv));
        cc->agv = calloc(cap[COL_COUNT_AGENCY], sizeof(*cc->agv));
        cc->hostv = calloc(cap[COL_COUNT_HOST], sizeof(*cc->hostv));
        if (!cc->srcv || !cc->agv || !cc->hostv) rc = -ENOMEM;
    }
    if (rc) {
        col_counters_free(cc);
        return rc;
    }
    uint64_t key[2];
    if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
        /* No entropy yet (early boot): the clock and ASLR still keep the key
         * away from anyone who cannot read this process's memory. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        key[0] = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)(uintptr_t)cc;
        key[1] = (uint64_t)(uintptr_t)&key ^ (uint64_t)(uintptr_t)col_counters_new;
    }
    cc->k0 = key[0];
    cc->k1 = key[1];
    *out = cc;
    return 0;
}

void col_counters_free(col_counters *cc)
{
    if (!cc) return;
    for (int k = 0; k < 3; k++)
        tab_free(&cc->t[k]);
    free(cc->srcv);
    free(cc->agv);
    free(cc->hostv);
    free(cc);
}

static void count_msg(col_count *c, size_t bytes, uint16_t flags, int64_t now_us)
{
    c->messages++;
    c->bytes += bytes;
    c->malformed += (flags & VG_EV_MALFORMED) != 0;
    c->truncated += (flags & VG_EV_TRUNCATED) != 0;
    c->last_seen_us = now_us;
}

/* Touches the agency (if any) and the source; returns the source's entry
 * or COL__NIL, and the agency's in *ai. */
static uint32_t touch_src_agency(col_counters *cc, vg_str src, vg_str agency, col__memo *memo,
                                 uint32_t *ai)
{
    int fresh;
    *ai = COL__NIL;
    if (agency.p && agency.len) {
        *ai = tab_touch(cc, &cc->t[COL_COUNT_AGENCY], agency, memo, &fresh);
        if (*ai != COL__NIL && fresh) memset(&cc->agv[*ai], 0, sizeof(cc->agv[*ai]));
    }
    if (!src.p || !src.len) return COL__NIL;
    uint32_t si = tab_touch(cc, &cc->t[COL_COUNT_SOURCE], src, memo, &fresh);
    if (si == COL__NIL) return si;
    col__srcv *v = &cc->srcv[si];
    if (fresh) memset(v, 0, sizeof(*v));
    v->agency = *ai;
    v->agency_serial = *ai != COL__NIL ? cc->t[COL_COUNT_AGENCY].ent[*ai].serial : 0;
    return si;
}

void col_counters_note(col_counters *cc, vg_str src, vg_str agency, vg_str host, size_t bytes,
                       uint16_t ev_flags, int64_t now_us)
{
    col__memo memo = {NULL, 0, 0};
    uint32_t ai, si = touch_src_agency(cc, src, agency, &memo, &ai);
    if (ai != COL__NIL) count_msg(&cc->agv[ai], bytes, ev_flags, now_us);
    if (si != COL__NIL) count_msg(&cc->srcv[si].c, bytes, ev_flags, now_us);
    if (host.p && host.len) {
        int fresh;
        uint32_t hi = tab_touch(cc, &cc->t[COL_COUNT_HOST], host, &memo, &fresh);
        if (hi != COL__NIL) {
            col__hostv *v = &cc->hostv[hi];
            if (fresh) v->messages = 0;
            v->messages++;
            v->last_seen_us = now_us;
        }
    }
}

void col_counters_drop(col_counters *cc, vg_str src, vg_str agency, uint64_t n)
{
    col__memo memo = {NULL, 0, 0};
    uint32_t ai, si = touch_src_agency(cc, src, agency, &memo, &ai);
    if (ai != COL__NIL) cc->agv[ai].dropped += n;
    if (si != COL__NIL) cc->srcv[si].c.dropped += n;
}

void col_counters_refuse(col_counters *cc, vg_str src, vg_str agency)
{
    col__memo memo = {NULL, 0, 0};
    uint32_t ai, si = touch_src_agency(cc, src, agency, &memo, &ai);
    if (ai != COL__NIL) cc->agv[ai].refused++;
    if (si != COL__NIL) cc->srcv[si].c.refused++;
}

void col_counters_throttle(col_counters *cc, vg_str src, vg_str agency, uint64_t n, uint64_t ms)
{
    col__memo memo = {NULL, 0, 0};
    uint32_t ai, si = touch_src_agency(cc, src, agency, &memo, &ai);
    if (ai != COL__NIL) {
        cc->agv[ai].throttled += n;
        cc->agv[ai].throttled_ms += ms;
    }
    if (si != COL__NIL) {
        cc->srcv[si].c.throttled += n;
        cc->srcv[si].c.throttled_ms += ms;
    }
}

/* The counters of entry i of table kind, hosts widened to a col_count. */
static col_count entry_count(const col_counters *cc, enum col_counters_kind kind, uint32_t i)
{
    if (kind == COL_COUNT_SOURCE) return cc->srcv[i].c;
    if (kind == COL_COUNT_AGENCY) return cc->agv[i];
    return (col_count){.messages = cc->hostv[i].messages,
                       .last_seen_us = cc->hostv[i].last_seen_us};
}

int col_counters_get(const col_counters *cc, enum col_counters_kind kind, vg_str key,
                     col_count *out)
{
    const col__tab *t = &cc->t[kind];
    uint32_t len = key.len > COL_COUNTERS_KEY_MAX ? COL_COUNTERS_KEY_MAX : key.len;
    if (!key.p) return -ENOENT;
    uint32_t i = tab_find(t, key.p, len, key_hash(cc, key.p, len));
    if (i == COL__NIL) return -ENOENT;
    *out = entry_count(cc, kind, i);
    return 0;
}

void col_counters_info(const col_counters *cc, enum col_counters_kind kind, size_t *used,
                       size_t *cap, uint64_t *evicted)
{
    const col__tab *t = &cc->t[kind];
    if (used) *used = t->used;
    if (cap) *cap = t->cap;
    if (evicted) *evicted = t->evicted;
}

void col_counters_each(const col_counters *cc, enum col_counters_kind kind,
                       col_counters_each_fn *fn, void *arg)
{
    const col__tab *t = &cc->t[kind];
    for (uint32_t i = t->head; i != COL__NIL; i = t->ent[i].next) {
        col_count c = entry_count(cc, kind, i);
        fn(arg, vg_str_n(ent_key(&t->ent[i]), t->ent[i].len), &c);
    }
}

/* ---- the report ----------------------------------------------------------- */

/* A line of the report: the longest is a source line with a 255-byte
 * address and a 64-byte agency, every byte escaped (4 bytes each). */
typedef struct col__line {
    char b[2048];
    size_t n;
} col__line;

static void line_addf(col__line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_addf(col__line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->b + l->n, sizeof(l->b) - l->n, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k < sizeof(l->b) - l->n ? (size_t)k : sizeof(l->b) - l->n - 1;
}

/* Appends a name, bytes outside '!'..'~' (and '\') written as \xHH. */
static void line_name(col__line *l, const char *p, uint32_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (uint32_t i = 0; i < len && l->n + 5 < sizeof(l->b); i++) {
        unsigned char c = (unsigned char)p[i];
        if (c > ' ' && c <= '~' && c != '\\') {
            l->b[l->n++] = (char)c;
        } else {
            l->b[l->n++] = '\\';
            l->b[l->n++] = 'x';
            l->b[l->n++] = hex[c >> 4];
            l->b[l->n++] = hex[c & 15];
        }
    }
    l->b[l->n] = '\0';
}

static void line_time(col__line *l, int64_t us)
{
    char tb[40];
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    if (us <= 0 || !gmtime_r(&s, &tm) || !strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%SZ", &tm))
        line_addf(l, "-");
    else
        line_addf(l, "%s", tb);
}

typedef struct col__rank {
    uint64_t weight; /* messages, and refused connections */
    const char *key;
    uint32_t len, idx;
} col__rank;

static int rank_cmp(const void *a, const void *b)
{
    const col__rank *x = a, *y = b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void report_one(const col_counters *cc, enum col_counters_kind kind, uint32_t i,
                       col_counters_line_fn *fn, void *arg)
{
    static const char *const word[] = {"source", "agency", "host"};
    const col__ent *e = &cc->t[kind].ent[i];
    col_count c = entry_count(cc, kind, i);
    col__line l = {.n = 0};
    line_addf(&l, "%s ", word[kind]);
    line_name(&l, ent_key(e), e->len);
    if (kind == COL_COUNT_SOURCE) {
        const col__tab *at = &cc->t[COL_COUNT_AGENCY];
        const col__srcv *v = &cc->srcv[i];
        line_addf(&l, " agency=");
        if (v->agency != COL__NIL && v->agency < at->used &&
            at->ent[v->agency].serial == v->agency_serial)
            line_name(&l, ent_key(&at->ent[v->agency]), at->ent[v->agency].len);
        else
            line_addf(&l, "-");
    }
    line_addf(&l, " messages=%" PRIu64, c.messages);
    if (kind != COL_COUNT_HOST)
        line_addf(&l,
                  " bytes=%" PRIu64 " malformed=%" PRIu64 " truncated=%" PRIu64 " dropped=%" PRIu64,
                  c.bytes, c.malformed, c.truncated, c.dropped);
    if (kind != COL_COUNT_HOST && c.refused)
        line_addf(&l, " conns_refused=%" PRIu64, c.refused);
    if (kind != COL_COUNT_HOST && (c.throttled || c.throttled_ms))
        line_addf(&l, " throttled=%" PRIu64 " throttled_ms=%" PRIu64, c.throttled,
                  c.throttled_ms);
    line_addf(&l, " last_seen=");
    line_time(&l, c.last_seen_us);
    fn(arg, l.b);
}

static void report_group(const col_counters *cc, enum col_counters_kind kind, size_t top,
                         col_counters_line_fn *fn, void *arg)
{
    static const char *const plural[] = {"sources", "agencies", "hosts"};
    const col__tab *t = &cc->t[kind];
    size_t n = t->used, shown = top && top < n ? top : n;
    col__rank *r = n ? malloc(n * sizeof(*r)) : NULL;
    if (r) {
        /* refused connections weigh too: a sender shut out has no messages,
         * and must not fall past top */
        for (uint32_t i = 0; i < n; i++) {
            col_count c = entry_count(cc, kind, i);
            r[i] = (col__rank){c.messages + c.refused, ent_key(&t->ent[i]), t->ent[i].len, i};
        }
        qsort(r, n, sizeof(*r), rank_cmp);
        for (size_t i = 0; i < shown; i++)
            report_one(cc, kind, r[i].idx, fn, arg);
        free(r);
    } else { /* no memory to sort: most recently seen first */
        size_t k = 0;
        for (uint32_t i = t->head; i != COL__NIL && k < shown; i = t->ent[i].next, k++)
            report_one(cc, kind, i, fn, arg);
    }
    if (shown < n) {
        col__line l = {.n = 0};
        line_addf(&l, "%s: %zu more not shown", plural[kind], n - shown);
        fn(arg, l.b);
    }
}

void col_counters_report(const col_counters *cc, size_t top, col_counters_line_fn *fn, void *arg)
{
    const col__tab *t = cc->t;
    col__line l = {.n = 0};
    line_addf(&l,
              "counters sources=%" PRIu32 "/%" PRIu32 " evicted=%" PRIu64 " agencies=%" PRIu32
              "/%" PRIu32 " evicted=%" PRIu64 " hosts=%" PRIu32 "/%" PRIu32 " evicted=%" PRIu64
              " nomem=%" PRIu64,
              t[0].used, t[0].cap, t[0].evicted, t[1].used, t[1].cap, t[1].evicted, t[2].used,
              t[2].cap, t[2].evicted, cc->nomem);
    fn(arg, l.b);
    report_group(cc, COL_COUNT_AGENCY, 0, fn, arg);
    report_group(cc, COL_COUNT_SOURCE, top, fn, arg);
    report_group(cc, COL_COUNT_HOST, top, fn, arg);
}
