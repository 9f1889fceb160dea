/* The rule engine (see cor_eval.h and the semantics in docs/rules.md).
 *
 * Per event: the prefilter names the match rules that may match; each is
 * checked (filters, regex or keywords, list conditions). A match is a
 * "hit": it raises an alert if the rule alerts, and feeds every
 * correlation that counts the rule. A correlation keeps one group per
 * distinct group_by value; a group that satisfies the rule "fires", which
 * is a hit of the correlation itself (alert, and feed to correlations of
 * correlations, in dependency order).
 *
 * Groups exist by the hundred thousand, so they are small: a fixed header,
 * the group key inline, and arrays sized by the rule (threshold, number of
 * referenced rules, raw lines kept). */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cor_calendar.h"
#include "cor_eval.h"
#include "vigil/util.h"
#include "cor_lists.h"
#include "cor_prefilter.h"
#include "cor_seq.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/syslog.h"

#define COR_RAW_KEEP 10          /* raw lines kept per group for its alert */
#define COR_RAW_MAX 1024         /* bytes kept of each */
#define COR_RAW_UNIT 256         /* raw buffers hold a multiple of this */
#define COR_RAWPOOL_MAX 4096     /* one-unit raw buffers kept for reuse (1 MiB) */
#define COR_BLK_ALIGN 64         /* group blocks come in multiples of this */
#define COR_BLK_CLASSES 32       /* ... up to 2 KiB; larger ones go to malloc */
#define COR_BLKPOOL_BYTES (4u << 20) /* freed group blocks kept for reuse, in all */
#define COR_FUTURE_US (300LL * 1000000) /* event times this far past arrival are not trusted */
#define COR_KEY_SEP '\x1f'
#define COR_BATCH 128             /* events scanned ahead by cor_eval_events */
#ifndef COR_EC_EXTRA_MAX /* a test build may make it small */
#define COR_EC_EXTRA_MAX 4096     /* event_count: times kept beyond N, at most */
#endif
#define COR_VC_TIMES 8            /* value_count: times kept per value (cor_vc_time) */
#define COR_MS_KEEP 8             /* match rules: alert times a suppression group keeps */

typedef struct cor_group cor_group;
struct cor_group {
    cor_group *hnext;       /* hash chain */
    cor_group *prev, *next; /* LRU list, most recently updated first */
    uint64_t h;
    int64_t last_us;        /* event time of the last update */
    uint64_t touch;         /* when it was last updated, in updates (cor_eval.touch): its
                             * place in the LRU list, saved so that a restart keeps it */
    int64_t suppress_until; /* no firing before this event time */
    int64_t aux;            /* absence: last seen; match suppression: watermark at the last hit */
    uint8_t fired;          /* absence: already reported silent */
    uint8_t dirty;
    uint16_t blk;           /* its block's size class (cor_blk_class) */
    uint8_t rawcap[COR_RAW_KEEP]; /* raw[i]'s room, in COR_RAW_UNIT bytes */
    uint32_t n;             /* entries used in ts/vals */
    uint32_t nraw, rawpos;  /* raw ring */
    int64_t *ts;            /* event_count: times; value_count: per value; temporal: per ref;
                             * temporal_ordered: cor_seq.h's layout; match suppression:
                             * alert times, most recently used last */
    char **vals;            /* value_count: distinct values */
    char **raw;             /* ring of the last raw lines */
    uint32_t keylen;
    uint32_t tcap;          /* event_count, temporal_ordered: room in ts; value_count: in
                             * vals. Past the first room, they are blocks of their own
                             * (cor_ts_grow, cor_vc_grow) */
    char key[];             /* group_by values joined by COR_KEY_SEP */
};

/* Bytes of a group's block before its arrays (header and key). */
static inline size_t cor_group_head(size_t keylen)
{
    return (sizeof(cor_group) + keylen + 1 + 7) & ~(size_t)7;
}

/* Whether g's times (and value_count's values) moved out of its block. */
static inline int cor_group_grown(const cor_group *g)
{
    return g->tcap && g->ts != (int64_t *)((char *)g + cor_group_head(g->keylen));
}

typedef struct cor_table {
    cor_group **b;
    uint32_t nb, count;
    cor_group *head, *tail;
    int64_t degraded_at;    /* event time of the last degradation alert */
} cor_table;

/* A pending delete of persisted state: one group, or a whole rule. */
typedef struct cor_del {
    char *key;
    size_t len;
    int prefix;
} cor_del;

/* One step of cor_eval_tick's sweep over the correlations (rs->order), with
 * what the sweep needs at hand: reading each cor_rule instead (about 400
 * bytes apiece, a cache miss each) once per second of event time was 12% of
 * a replay at 1,000 rules. */
typedef struct cor_sweep {
    uint32_t ci;      /* rule index */
    uint8_t absence;  /* COR_ABSENCE: reported, not just dropped */
    int64_t span_us;  /* timespan_us */
} cor_sweep;

struct cor_eval {
    cor_ruleset *rs;
    cor_table *tables; /* per rule index; unused for match rules */
    vg_store *st;
    MDB_dbi dbi;
    cor_lists *lists;
    int64_t wm;        /* watermark: highest trusted event time seen (lateness) */
    int64_t clock;     /* absence time: max(wm, what cor_eval_tick was told) */
    uint64_t touch;    /* updates so far (cor_group.touch) */
    int64_t absence_checked;
    cor_del *dels;
    size_t ndels, capdels;
    cor_trace_fn trace;
    void *trace_ud;
    cor_eval_stats stats;
    msgpack_sbuffer sb;
    /* cor_eval_tick's work list, rebuilt with the rules (cor_eval_index) */
    uint32_t *sup;    /* match rules with a suppression, in rs->matches order */
    uint32_t nsup;
    cor_sweep *sweep; /* rs->norder entries */
    /* bit o set: the table of sweep[o] may hold groups. The sweep visits only
     * those instead of reading all rs->norder table headers once per second
     * of event time (at 1,000 correlations: 137 -> 112 instructions and 6.0 ->
     * 3.4 cache misses per line). Set when a table gets its first group
     * (cor_live_mark), cleared by the sweep when it finds the table empty. */
    uint64_t *live;
    uint32_t *sweep_pos; /* rule index -> position in sweep, UINT32_MAX if none */
    uint64_t *bcand;     /* cor_eval_events: COR_BATCH candidate bitmaps */
    /* due[o]: no event time before this can let the sweep drop a group of
     * sweep[o]'s table (a non-absence one), so the sweep skips the table
     * until the watermark gets there. Never later than the truth: set
     * exactly by the sweep, reset to INT64_MIN ("look") when the oldest
     * group changes. Looking at every live table once per second of event
     * time, to find nothing to drop in most, was 7% of a replay at 1,000
     * rules (a cache miss or two per table). */
    int64_t *due;
    /* raw-line buffers of one unit and group blocks of freed groups, for
     * reuse (free lists through their first bytes): groups come and go by
     * the thousand per minute, and malloc, free and malloc_usable_size on
     * each were 8% of a replay at 1,000 rules (bench/README.md, session 12) */
    char *rawpool;
    uint32_t nrawpool;
    void *blkpool[COR_BLK_CLASSES + 1];
    size_t blkpool_bytes;
};

/* Size class of a group block of n bytes: 1.. for pooled sizes, 0 for
 * larger blocks (plain malloc). */
static inline uint16_t cor_blk_class(size_t n)
{
    size_t c = (n + COR_BLK_ALIGN - 1) / COR_BLK_ALIGN;
    return c <= COR_BLK_CLASSES ? (uint16_t)c : 0;
}

/* A zeroed block of class c (or of n bytes when c is 0), from the pool when
 * it has one. */
static void *cor_blk_get(cor_eval *e, uint16_t c, size_t n)
{
    if (!c)
        return calloc(1, n);
    void *b = e ? e->blkpool[c] : NULL;
    if (!b)
        return calloc(1, (size_t)c * COR_BLK_ALIGN);
    memcpy(&e->blkpool[c], b, sizeof(void *));
    e->blkpool_bytes -= (size_t)c * COR_BLK_ALIGN;
    memset(b, 0, (size_t)c * COR_BLK_ALIGN);
    return b;
}

static void cor_blk_put(cor_eval *e, uint16_t c, void *b)
{
    size_t n = (size_t)c * COR_BLK_ALIGN;
    if (!c || !e || e->blkpool_bytes + n > COR_BLKPOOL_BYTES) {
        free(b);
        return;
    }
    memcpy(b, &e->blkpool[c], sizeof(void *));
    e->blkpool[c] = b;
    e->blkpool_bytes += n;
}

/* The oldest group of t changed: the sweep must look at t again. */
static inline void cor_due_reset(cor_eval *e, const cor_table *t)
{
    uint32_t o = e->sweep_pos[t - e->tables];
    if (o != UINT32_MAX)
        e->due[o] = INT64_MIN;
}

/* Table t just got its first group: the sweep must visit it. */
static inline void cor_live_mark(cor_eval *e, const cor_table *t)
{
    uint32_t o = e->sweep_pos[t - e->tables];
    if (o != UINT32_MAX)
        e->live[o / 64] |= 1ULL << (o % 64);
}

/* ---- fields ------------------------------------------------------------- */

typedef struct cor_ctx {
    const vg_event *ev;
    vg_kv f[VG_ALERT_MAX_FIELDS]; /* f[0 .. nf) are set, the rest is garbage */
    uint32_t nf;
} cor_ctx;

/* Starts a context with no fields. Not a designated initializer, which
 * would zero f[] (512 bytes) for every candidate rule and every hit. */
static inline void cor_ctx_init(cor_ctx *c, const vg_event *ev)
{
    c->ev = ev;
    c->nf = 0;
}


/* A field by name: captures and group values first, then the event's own.
 * The event's names are listed again in cor_rules.c (cor_event_fields, which
 * refuses any other name in a rule): a name added here goes there too. */
static vg_str cor_field(const cor_ctx *c, const char *name)
{
    for (uint32_t i = 0; i < c->nf; i++)
        if (vg_str_eq(c->f[i].key, name))
            return c->f[i].val;
    const vg_event *ev = c->ev;
    if (!ev)
        return VG_STR_NULL;
    switch (name[0]) {
    case 'a':
        if (!strcmp(name, "app"))
            return ev->app;
        if (!strcmp(name, "agency"))
            return ev->agency;
        break;
    case 'f':
        if (!strcmp(name, "facility") && ev->pri >= 0)
            return vg_str_c(vg_syslog_facilities[ev->pri >> 3]);
        break;
    case 'h':
        if (!strcmp(name, "host"))
            return ev->host;
        break;
    case 'm':
        if (!strcmp(name, "msg") || !strcmp(name, "message"))
            return ev->msg;
        if (!strcmp(name, "msgid"))
            return ev->msgid;
        break;
    case 'p':
        if (!strcmp(name, "program"))
            return ev->app;
        if (!strcmp(name, "procid"))
            return ev->procid;
        break;
    case 's':
        if (!strcmp(name, "site"))
            return ev->site;
        if (!strcmp(name, "severity") && ev->pri >= 0)
            return vg_str_c(vg_syslog_severities[ev->pri & 7]);
        if (!strcmp(name, "sender"))
            return ev->src;
        break;
    }
    return VG_STR_NULL;
}

static int cor_in(char **v, vg_str s)
{
    for (; *v; v++)
        if (vg_str_eq(s, *v))
            return 1;
    return 0;
}

/* ---- group table -------------------------------------------------------- */

static uint64_t cor_hash(const char *p, size_t n)
{
    return vg_fnv1a(VG_FNV1A_INIT, p, n);
}

/* Gives a raw-line buffer of cap units back: to the engine's pool when it
 * is one unit and the pool has room, else to malloc. e may be NULL (no
 * pool). */
static void cor_raw_release(cor_eval *e, char *b, uint8_t cap)
{
    if (!b)
        return;
    if (!e || cap != 1 || e->nrawpool >= COR_RAWPOOL_MAX) {
        free(b);
        return;
    }
    memcpy(b, &e->rawpool, sizeof(char *));
    e->rawpool = b;
    e->nrawpool++;
}

/* A group is one allocation (header, key, then its arrays: see
 * cor_group_new); only value_count's values and the raw lines are separate. */
static void cor_group_free(cor_eval *e, cor_group *g)
{
    if (!g)
        return;
    /* grown (cor_ts_grow, cor_vc_grow): ts, and value_count's values, are
     * blocks of their own */
    int grown = cor_group_grown(g);
    if (g->vals)
        for (uint32_t i = 0; i < g->n; i++)
            free(g->vals[i]);
    if (grown) {
        free(g->ts);
        if (g->vals)
            free(g->vals);
    }
    if (g->raw)
        for (uint32_t i = 0; i < COR_RAW_KEEP; i++)
            cor_raw_release(e, g->raw[i], g->rawcap[i]);
    cor_blk_put(e, g->blk, g);
}

static void cor_table_clear(cor_eval *e, cor_table *t)
{
    for (cor_group *g = t->head, *n; g; g = n) {
        n = g->next;
        cor_group_free(e, g);
    }
    free(t->b);
    memset(t, 0, sizeof(*t));
}

static void cor_lru_unlink(cor_eval *e, cor_table *t, cor_group *g)
{
    if (g == t->tail)
        cor_due_reset(e, t); /* a newer group becomes the oldest */
    if (g->prev)
        g->prev->next = g->next;
    else
        t->head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        t->tail = g->prev;
    g->prev = g->next = NULL;
}

static void cor_lru_link(cor_eval *e, cor_table *t, cor_group *g)
{
    if (t->head == g)
        return;
    if (g->prev || g->next || t->tail == g)
        cor_lru_unlink(e, t, g);
    else if (!t->tail)
        cor_due_reset(e, t); /* the first group */
    g->next = t->head;
    if (t->head)
        t->head->prev = g;
    t->head = g;
    if (!t->tail)
        t->tail = g;
}

/* g was just updated: to the front of the LRU list. */
static void cor_lru_front(cor_eval *e, cor_table *t, cor_group *g)
{
    g->touch = ++e->touch;
    cor_lru_link(e, t, g);
}

static cor_group *cor_table_find(cor_table *t, const char *key, size_t len, uint64_t h)
{
    if (!t->nb)
        return NULL;
    for (cor_group *g = t->b[h & (t->nb - 1)]; g; g = g->hnext)
        if (g->h == h && g->keylen == len && memcmp(g->key, key, len) == 0)
            return g;
    return NULL;
}

static int cor_table_grow(cor_table *t)
{
    uint32_t nb = t->nb ? t->nb * 2 : 64;
    cor_group **b = calloc(nb, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->nb; i++) {
        for (cor_group *g = t->b[i], *n; g; g = n) {
            n = g->hnext;
            g->hnext = b[g->h & (nb - 1)];
            b[g->h & (nb - 1)] = g;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

static void cor_table_remove(cor_eval *e, cor_table *t, cor_group *g)
{
    cor_group **pp = &t->b[g->h & (t->nb - 1)];
    while (*pp != g)
        pp = &(*pp)->hnext;
    *pp = g->hnext;
    cor_lru_unlink(e, t, g);
    t->count--;
}

static int cor_del_push(cor_eval *e, const char *rule_id, const char *key, size_t keylen,
                        int prefix)
{
    if (!e->st)
        return 0;
    if (e->ndels == e->capdels) {
        size_t cap = e->capdels ? e->capdels * 2 : 64;
        cor_del *d = realloc(e->dels, cap * sizeof(*d));
        if (!d)
            return -ENOMEM;
        e->dels = d;
        e->capdels = cap;
    }
    size_t il = strlen(rule_id) + 1;
    char *k = malloc(il + keylen);
    if (!k)
        return -ENOMEM;
    memcpy(k, rule_id, il);
    memcpy(k + il, key, keylen);
    e->dels[e->ndels++] = (cor_del){k, il + keylen, prefix};
    return 0;
}

/* Times a group of rule r has room for at first: N (event_count, grown by
 * cor_ts_grow for events out of order), COR_VC_TIMES per value for N values
 * (value_count) or per rule of the list (temporal: the rule's position is
 * the value), cor_seq's header and two times per step (temporal_ordered,
 * grown by cor_ts_grow too), or COR_MS_KEEP alert times (a match rule's
 * suppression). */
static uint32_t cor_group_nts(const cor_rule *r)
{
    return r->kind == COR_MATCH              ? COR_MS_KEEP
           : r->kind == COR_EVENT_COUNT      ? (uint32_t)r->threshold
           : r->kind == COR_VALUE_COUNT      ? (uint32_t)r->threshold * COR_VC_TIMES
           : r->kind == COR_TEMPORAL         ? r->nrefs * COR_VC_TIMES
           : r->kind == COR_TEMPORAL_ORDERED ? (1 + 2 * r->nrefs) + 2 * r->nrefs
                                             : 0;
}

/* Allocates a group with its arrays as its rule needs them, in one block:
 * the header, the key (NUL-terminated), then the times, the values
 * (value_count) and the raw ring's pointers. One malloc instead of four per
 * new group (groups are created and dropped by the thousand per minute of
 * events). */
static cor_group *cor_group_new(cor_eval *e, const cor_rule *r, const char *key, size_t len,
                                uint64_t h)
{
    size_t nts = cor_group_nts(r);
    size_t nvals = r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL ? nts / COR_VC_TIMES : 0;
    size_t nraw = r->kind != COR_ABSENCE ? COR_RAW_KEEP : 0;
    size_t head = cor_group_head(len);
    size_t size = head + nts * sizeof(int64_t) + (nvals + nraw) * sizeof(char *);
    uint16_t blk = cor_blk_class(size);
    cor_group *g = cor_blk_get(e, blk, size);
    if (!g)
        return NULL;
    g->blk = blk;
    g->h = h;
    g->keylen = (uint32_t)len;
    memcpy(g->key, key, len);
    g->suppress_until = INT64_MIN;
    char *p = (char *)g + head;
    if (nts) {
        g->ts = (int64_t *)p;
        p += nts * sizeof(int64_t);
    }
    if (nvals) {
        g->vals = (char **)p;
        p += nvals * sizeof(char *);
    }
    if (nraw)
        g->raw = (char **)p;
    if (r->kind == COR_TEMPORAL_ORDERED) {
        cor_seq_init(&r->seq, g->ts);
        g->n = cor_seq_head(&r->seq);
    }
    if (r->kind == COR_EVENT_COUNT || r->kind == COR_TEMPORAL_ORDERED)
        g->tcap = (uint32_t)nts;
    if (r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL)
        g->tcap = (uint32_t)nvals;
    return g;
}

/* Alert about lost correlation state, at most once per rule and hour. */
static int cor_degraded(cor_eval *e, const cor_rule *r, cor_table *t, int64_t now,
                        cor_emit_fn emit, void *ud)
{
    if (t->degraded_at && now - t->degraded_at < 3600LL * 1000000)
        return 0;
    t->degraded_at = now ? now : 1;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "correlation degraded: rule %s reached max_groups=%u and evicted its oldest groups "
             "(%" PRIu64 " so far); attacks spread over more groups may be missed",
             r->id, r->max_groups, r->evictions);
    vg_warn("%s", msg);
    vg_alert al = {0};
    al.rule_id = vg_str_c("vigil.correlation_degraded");
    al.rule_name = vg_str_c("Correlation state evicted: detection degraded");
    al.kind = vg_str_c("internal");
    al.level = 10;
    al.ts_us = al.first_us = now;
    al.count = r->evictions;
    al.message = vg_str_c(msg);
    al.fields[0] = (vg_kv){vg_str_c("rule"), vg_str_c(r->id)};
    al.nfields = 1;
    e->stats.alerts++;
    return emit ? emit(ud, &al) : 0;
}

/* Finds or creates the group; evicts the least recently updated one when
 * the rule is at its cap. */
static cor_group *cor_group_get(cor_eval *e, const cor_rule *r, cor_table *t, const char *key,
                                size_t len, int64_t now, cor_emit_fn emit, void *ud)
{
    uint64_t h = cor_hash(key, len);
    cor_group *g = cor_table_find(t, key, len, h);
    if (g)
        return g;
    if (t->count >= r->max_groups && t->tail) {
        cor_group *old = t->tail;
        cor_del_push(e, r->id, old->key, old->keylen, 0);
        cor_table_remove(e, t, old);
        cor_group_free(e, old);
        ((cor_rule *)r)->evictions++;
        e->stats.evictions++;
        cor_degraded(e, r, t, now, emit, ud);
    }
    if (t->count + 1 > t->nb && cor_table_grow(t) != 0)
        return NULL;
    g = cor_group_new(e, r, key, len, h);
    if (!g)
        return NULL;
    g->hnext = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = g;
    if (t->count++ == 0)
        cor_live_mark(e, t);
    cor_lru_front(e, t, g);
    return g;
}

/* ---- hits and alerts ---------------------------------------------------- */

/* What a firing rule reports: the triggering event's context plus the
 * rule's own fields. */
typedef struct cor_hit {
    const cor_rule *r;
    const cor_ctx *ctx;  /* the event and its captures */
    vg_kv f[VG_ALERT_MAX_FIELDS];
    uint32_t nf;
    int64_t ts, first;
    uint64_t count;
    const cor_group *g;  /* correlation hits: raw lines */
} cor_hit;

/* Starts a hit with no fields (f[] is not zeroed: see cor_ctx_init). */
static inline void cor_hit_init(cor_hit *h, const cor_rule *r, const cor_ctx *ctx, int64_t ts,
                                int64_t first, uint64_t count)
{
    h->r = r;
    h->ctx = ctx;
    h->nf = 0;
    h->ts = ts;
    h->first = first;
    h->count = count;
    h->g = NULL;
}

static int cor_feed(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud);
static size_t cor_group_key(const cor_rule *r, const cor_ctx *src, char *buf, size_t cap,
                            vg_kv *gf);

/* Rules with state: correlations, and match rules with a suppression. */
static bool cor_stateful(const cor_rule *r)
{
    return r->kind != COR_MATCH || r->suppress_us > 0;
}

static int cor_emit_hit(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud)
{
    const cor_rule *r = hit->r;
    const vg_event *ev = hit->ctx->ev;
    vg_alert al;
    memset(&al, 0, sizeof(al));
    al.rule_id = vg_str_c(r->id);
    al.rule_name = vg_str_c(r->name);
    al.kind = vg_str_c(cor_kind_name(r->kind));
    al.level = r->level;
    al.ts_us = hit->ts;
    al.first_us = hit->first;
    al.count = hit->count;
    if (ev) {
        al.host = ev->host;
        al.app = ev->app;
        al.src = ev->src;
        al.agency = ev->agency;
        al.site = ev->site;
        al.message = ev->msg;
    }
    for (uint32_t i = 0; i < hit->nf && al.nfields < VG_ALERT_MAX_FIELDS; i++)
        al.fields[al.nfields++] = hit->f[i];
    for (uint32_t i = 0; i < r->ntags; i++)
        al.tags[al.ntags++] = vg_str_c(r->tags[i]);
    if (hit->g && hit->g->raw) {
        const cor_group *g = hit->g;
        uint32_t start = g->nraw < COR_RAW_KEEP ? 0 : g->rawpos;
        for (uint32_t i = 0; i < g->nraw && al.nraw < VG_ALERT_MAX_RAW; i++) {
            const char *l = g->raw[(start + i) % COR_RAW_KEEP];
            if (l)
                al.raw[al.nraw++] = vg_str_c(l);
        }
    } else if (ev && ev->raw.p) {
        al.raw[al.nraw++] = ev->raw;
    }
    e->stats.alerts++;
    return emit ? emit(ud, &al) : 0;
}

/* Whether a match rule's hit at ts is within sup of an alert time of g
 * (before or after it: in event time, whatever the arrival order, two
 * alerts of a group are at least sup apart); if not, ts becomes one. The
 * COR_MS_KEEP times used last are kept: a backlog replayed after an outage
 * (events older than the lateness, in their own order) uses one while live
 * events use another. */
static int cor_ms_quiet(cor_group *g, int64_t ts, int64_t sup)
{
    for (uint32_t i = g->n; i-- > 0;) {
        int64_t s = g->ts[i];
        if (ts > s - sup && ts < s + sup) {
            memmove(g->ts + i, g->ts + i + 1, (size_t)(g->n - i - 1) * sizeof(int64_t));
            g->ts[g->n - 1] = s;
            return 1;
        }
    }
    if (g->n == COR_MS_KEEP) {
        memmove(g->ts, g->ts + 1, (size_t)(g->n - 1) * sizeof(int64_t));
        g->n--;
    }
    g->ts[g->n++] = ts;
    return 0;
}

/* A rule hit: alert if it alerts, then feed the correlations counting it. */
static int cor_hit_out(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud)
{
    cor_rule *r = (cor_rule *)hit->r;
    r->hits++;
    int rc = 0;
    int quiet = 0;
    if (r->kind == COR_MATCH && r->suppress_us && r->alert) {
        char key[2048];
        vg_kv gf[VG_ALERT_MAX_FIELDS];
        uint32_t ri = (uint32_t)(r - e->rs->rules);
        size_t klen = cor_group_key(r, hit->ctx, key, sizeof(key), gf);
        cor_group *g = cor_group_get(e, r, &e->tables[ri], key, klen, hit->ts, emit, ud);
        if (!g)
            return -ENOMEM;
        quiet = cor_ms_quiet(g, hit->ts, r->suppress_us);
        g->aux = e->wm > hit->ts ? e->wm : hit->ts;
        g->dirty = 1; /* quiet too: aux and the order of the alert times moved */
        cor_lru_front(e, &e->tables[ri], g);
        if (quiet) {
            r->suppressed += hit->count;
        } else {
            if (hit->ts + r->suppress_us > g->suppress_until)
                g->suppress_until = hit->ts + r->suppress_us;
            if (hit->ts > g->last_us)
                g->last_us = hit->ts;
        }
    }
    if (r->alert && !quiet)
        rc = cor_emit_hit(e, hit, emit, ud);
    /* A compressed repeat ("message repeated N times") counts N times. */
    uint64_t times = hit->r->kind == COR_MATCH ? hit->count : 1;
    for (uint64_t i = 0; rc == 0 && hit->r->nfeeds && i < times; i++)
        rc = cor_feed(e, hit, emit, ud);
    return rc;
}

/* rsyslog compresses identical lines into "message repeated N times: [ X]";
 * an attacker gains from that unless it counts as N occurrences of X.
 * Returns N (1 if the message is not such a line) and sets *inner to X. */
static uint32_t cor_repeat(vg_str msg, vg_str *inner)
{
    static const char pre[] = "message repeated ";
    const char *p = msg.p, *end = msg.p + msg.len;
    if (!p || msg.len < sizeof(pre) + 10 || memcmp(p, pre, sizeof(pre) - 1) != 0)
        return 1;
    p += sizeof(pre) - 1;
    uint32_t n = 0;
    while (p < end && *p >= '0' && *p <= '9' && n < 100000000)
        n = n * 10 + (uint32_t)(*p++ - '0');
    static const char mid[] = " times: [";
    if (n < 2 || (size_t)(end - p) < sizeof(mid) || memcmp(p, mid, sizeof(mid) - 1) != 0 ||
        end[-1] != ']')
        return 1;
    p += sizeof(mid) - 1;
    while (p < end - 1 && *p == ' ')
        p++;
    *inner = vg_str_n(p, (size_t)(end - 1 - p));
    return n > 10000 ? 10000 : n; /* bounded work per line */
}

/* Keeps the raw line in the group's ring. A slot's buffer is reused when
 * it is large enough (sizes rounded up to 256 bytes), and an empty slot
 * takes one from the engine's pool first: every hit of every correlation
 * passes here, and malloc/free per hit showed in profiles. */
static void cor_raw_keep(cor_eval *e, cor_group *g, vg_str raw)
{
    if (!g->raw || !raw.p)
        return;
    size_t n = raw.len < COR_RAW_MAX ? raw.len : COR_RAW_MAX;
    uint32_t at = g->nraw < COR_RAW_KEEP ? g->nraw : g->rawpos;
    char *slot = g->raw[at];
    if (!slot && e->rawpool) {
        slot = e->rawpool;
        memcpy(&e->rawpool, slot, sizeof(char *));
        e->nrawpool--;
        g->raw[at] = slot;
        g->rawcap[at] = 1;
    }
    if (!slot || (size_t)g->rawcap[at] * COR_RAW_UNIT < n + 1) {
        size_t units = (n + COR_RAW_UNIT) / COR_RAW_UNIT;
        char *p = realloc(slot, units * COR_RAW_UNIT);
        if (!p)
            return;
        slot = g->raw[at] = p;
        g->rawcap[at] = (uint8_t)units;
    }
    memcpy(slot, raw.p, n);
    slot[n] = '\0';
    if (g->nraw < COR_RAW_KEEP)
        g->nraw++;
    else
        g->rawpos = (g->rawpos + 1) % COR_RAW_KEEP;
}

/* Builds the group key from the hit's fields; a missing field is "". */
static size_t cor_group_key(const cor_rule *r, const cor_ctx *src, char *buf, size_t cap,
                            vg_kv *gf)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->ngroup; i++) {
        vg_str v = cor_field(src, r->group_by[i]);
        if (i && n < cap)
            buf[n++] = COR_KEY_SEP;
        size_t l = v.p ? v.len : 0;
        if (n + l > cap)
            l = cap - n;
        if (l)
            memcpy(buf + n, v.p, l);
        gf[i] = (vg_kv){vg_str_c(r->group_by[i]), vg_str_n(buf + n, l)};
        n += l;
    }
    return n;
}

/* The most entries a group keeps (event_count: times, value_count:
 * values): N, and room for events out of order within the lateness.
 * temporal_ordered: cor_seq's header (at most 1 + 2n) and as many times as
 * event_count may keep beyond N. */
static uint32_t cor_room_cap(const cor_rule *r)
{
    if (r->kind == COR_TEMPORAL_ORDERED)
        return 1 + 2 * r->nrefs + COR_EC_EXTRA_MAX;
    uint64_t n = r->threshold, extra = 7 * n + 64;
    return (uint32_t)(n + (extra < COR_EC_EXTRA_MAX ? extra : COR_EC_EXTRA_MAX));
}

/* The room to grow to from have for want entries: doubling, at most cap. */
static uint32_t cor_room_next(uint32_t have, uint32_t want, uint32_t cap)
{
    if (want > cap)
        want = cap;
    if (want <= have)
        return have;
    uint32_t n = have * 2 > want ? have * 2 : want;
    return n > cap ? cap : n;
}

/* Makes room for one more time in g->ts (event_count, temporal_ordered):
 * the array starts inside the group's block with room for N (cor_group_nts)
 * and moves to a block of its own only for a group that needs more. 0, or
 * -ENOMEM. */
static int cor_ts_grow(const cor_rule *c, cor_group *g, uint32_t want)
{
    uint32_t ncap = cor_room_next(g->tcap, want, cor_room_cap(c));
    if (ncap == g->tcap)
        return 0;
    int grown = cor_group_grown(g);
    int64_t *p = grown ? realloc(g->ts, (size_t)ncap * sizeof(int64_t))
                       : malloc((size_t)ncap * sizeof(int64_t));
    if (!p)
        return -ENOMEM;
    if (!grown)
        memcpy(p, g->ts, (size_t)g->n * sizeof(int64_t));
    g->ts = p;
    g->tcap = ncap;
    return 0;
}

/* The time at or before which a time of g can be in no window that an
 * event to come (at or after W - lateness) could still fire: W - lateness
 * - T, or, later, the end of g's suppression - T (see cor_ec_add). */
static int64_t cor_dead(const cor_eval *e, const cor_rule *c, const cor_group *g)
{
    int64_t T = c->timespan_us, dead = e->wm - e->rs->lateness_us - T;
    if (g->suppress_until != INT64_MIN && g->suppress_until - T > dead)
        dead = g->suppress_until - T;
    return dead;
}

/* Adds time ts to an event_count group. Returns 1 (and fills out) when a
 * window of N events holding ts spans less than T and ends at or after the
 * group's suppression, else 0.
 *
 * The group keeps, sorted, every time that may still be in a window with an
 * event to come (one at or after L = W - lateness, or it is late). Before
 * adding, it drops from the oldest end the times that cannot make a
 * difference:
 *  - t <= L - T, or t <= suppress_until - T: every window holding t ends
 *    before an event to come, or before one that may fire;
 *  - a time below L with N - 1 kept times between it and L: a window from
 *    it to an event at or after L holds all of them, and is full without it;
 *  - the oldest, when it and the N after it span less than T, if suppress
 *    is at least T: a later event finds a full window without it, and an
 *    earlier one is suppressed (the oldest N were a full window when the
 *    last of them came in, so that event fired, with a suppression that
 *    reaches T past it, or fell inside a suppression that reaches past
 *    them). A shorter suppression may end inside such a window.
 * In time order that leaves the newest N; a group holds more only for
 * events out of order. Past the cap the oldest goes anyway, counted in the
 * rule's 'trimmed' (a window it was part of may be missed). */
static int cor_ec_add(cor_eval *e, cor_rule *c, cor_group *g, int64_t ts, cor_hit *out)
{
    uint32_t N = (uint32_t)c->threshold;
    int64_t T = c->timespan_us, L = e->wm - e->rs->lateness_us, dead = cor_dead(e, c, g);
    uint32_t below = 0, d = 0;
    int long_sup = c->suppress_us >= T;
    while (below < g->n && g->ts[below] < L)
        below++;
    while (d < g->n) {
        int64_t t0 = g->ts[d];
        if (t0 <= dead || (below > d && below - d >= N) ||
            (long_sup && g->n - d > N && g->ts[d + N] - t0 < T))
            d++;
        else
            break;
    }
    if (d) {
        g->n -= d;
        memmove(g->ts, g->ts + d, (size_t)g->n * sizeof(int64_t));
    }
    if (g->n == g->tcap)
        (void)cor_ts_grow(c, g, g->n + 1); /* may stay full: at the cap, or out of memory */
    if (g->n == g->tcap) { /* the oldest goes */
        c->trimmed++;
        e->stats.trimmed++;
        if (ts < g->ts[0]) { /* that is this one: its window is the oldest N-1 */
            if (N > 1 && (g->n < N - 1 || g->ts[N - 2] - ts >= T))
                return 0;
            int64_t end = N > 1 ? g->ts[N - 2] : ts;
            if (end < g->suppress_until)
                return 0;
            out->first = ts;
            out->ts = end;
            out->count = N;
            return 1;
        }
        g->n--;
        memmove(g->ts, g->ts + 1, (size_t)g->n * sizeof(int64_t));
    }
    uint32_t pos = g->n;
    while (pos > 0 && g->ts[pos - 1] > ts)
        pos--;
    memmove(g->ts + pos + 1, g->ts + pos, (size_t)(g->n - pos) * sizeof(int64_t));
    g->ts[pos] = ts;
    g->n++;
    if (g->n < N)
        return 0;
    /* the windows of N consecutive times that hold ts, earliest first, of
     * those that end at or after the suppression (a late event may complete
     * one that ends after it) */
    uint32_t j = pos >= N - 1 ? pos - (N - 1) : 0, last = pos < g->n - N ? pos : g->n - N;
    for (; j <= last; j++)
        if (g->ts[j + N - 1] - g->ts[j] < T && g->ts[j + N - 1] >= g->suppress_until) {
            out->first = g->ts[j];
            out->ts = g->ts[j + N - 1];
            out->count = N;
            return 1;
        }
    return 0;
}

/* value_count: value k's times, COR_VC_TIMES slots, oldest first, with
 * INT64_MIN in the unused ones (which therefore come first). */
static inline int64_t *cor_vc_times(const cor_group *g, uint32_t k)
{
    return g->ts + (size_t)k * COR_VC_TIMES;
}

/* Whether value k was seen in the window (end - T, end]; lowers *first to
 * the earliest such time. */
static int cor_vc_in(const cor_group *g, uint32_t k, int64_t T, int64_t end, int64_t *first)
{
    const int64_t *t = cor_vc_times(g, k);
    for (int j = 0; j < COR_VC_TIMES; j++)
        if (t[j] != INT64_MIN && t[j] > end - T && t[j] <= end) {
            if (first && t[j] < *first)
                *first = t[j];
            return 1;
        }
    return 0;
}

/* The number of distinct values seen in (end - T, end]. */
static uint32_t cor_vc_live(const cor_group *g, int64_t T, int64_t end, int64_t *first)
{
    uint32_t live = 0;
    for (uint32_t k = 0; k < g->n; k++)
        live += (uint32_t)cor_vc_in(g, k, T, end, first);
    return live;
}

/* Adds time ts to value k's times, keeping only what a window with an event
 * to come (at or after L) may need: times after dead (see cor_ec_add); below
 * L only the latest (a window from an earlier one to such an event holds
 * it too); and of three times less than T apart not the middle one (a
 * window holding it holds one of the others: it is T long), at or after L
 * only when more than COR_VC_TIMES are left (as a window's end it may
 * matter). Past COR_VC_TIMES the oldest goes, counted in the rule's
 * 'trimmed'. */
static void cor_vc_time(cor_eval *e, cor_rule *c, cor_group *g, uint32_t k, int64_t ts,
                        int64_t L, int64_t dead)
{
    int64_t *t = cor_vc_times(g, k), p[COR_VC_TIMES + 1];
    int n = 0;
    for (int j = 0; j < COR_VC_TIMES; j++) {
        if (t[j] == ts)
            return;
        if (t[j] == INT64_MIN || t[j] <= dead)
            continue;
        if (n == 1 && p[0] < L && t[j] < L)
            n = 0; /* a later one below L */
        p[n++] = t[j];
    }
    int at = n;
    while (at > 0 && p[at - 1] > ts)
        at--;
    memmove(p + at + 1, p + at, (size_t)(n - at) * sizeof(int64_t));
    p[at] = ts;
    n++;
    /* middles below L first: no event to come can end a window there; then,
     * only while out of room, the others (one may have been the first
     * sighting after a suppression that ends later: see cor_vc_add) */
    for (int pass = 0; pass < 2; pass++)
        for (int j = 1; j + 1 < n;) {
            if (p[j + 1] - p[j - 1] < c->timespan_us && (pass ? n > COR_VC_TIMES : p[j] < L)) {
                memmove(p + j, p + j + 1, (size_t)(n - j - 1) * sizeof(int64_t));
                n--;
            } else {
                j++;
            }
        }
    if (n > COR_VC_TIMES) {
        c->trimmed++;
        e->stats.trimmed++;
        memmove(p, p + 1, (size_t)(n - 1) * sizeof(int64_t));
        n--;
    }
    for (int j = 0; j < COR_VC_TIMES; j++)
        t[j] = j < COR_VC_TIMES - n ? INT64_MIN : p[j - (COR_VC_TIMES - n)];
}

/* Room for one more value in a value_count group (values and their times
 * move to blocks of their own, like cor_ts_grow's). 0, or -ENOMEM; a group
 * at cor_room_cap stays as it is. */
static int cor_vc_grow(const cor_rule *c, cor_group *g, uint32_t want)
{
    uint32_t ncap = cor_room_next(g->tcap, want, cor_room_cap(c));
    if (ncap == g->tcap)
        return 0;
    int64_t *ts = malloc((size_t)ncap * COR_VC_TIMES * sizeof(int64_t));
    char **vals = malloc((size_t)ncap * sizeof(char *));
    if (!ts || !vals) {
        free(ts);
        free(vals);
        return -ENOMEM;
    }
    memcpy(ts, g->ts, (size_t)g->n * COR_VC_TIMES * sizeof(int64_t));
    memcpy(vals, g->vals, (size_t)g->n * sizeof(char *));
    if (cor_group_grown(g)) {
        free(g->ts);
        free(g->vals);
    }
    g->ts = ts;
    g->vals = vals;
    g->tcap = ncap;
    return 0;
}

typedef struct cor_vc_pt {
    int64_t t;
    uint32_t k;
} cor_vc_pt;

static int cor_vc_pt_cmp(const void *a, const void *b)
{
    const cor_vc_pt *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Adds value v at time ts to a value_count group and sets *end to the end
 * of the earliest window holding ts with N distinct values that ends at or
 * after the group's suppression, or to ts if there is none. In time order
 * that window can only end at ts; an event out of order may complete one
 * that ends at a later time, within T: the times in (ts - T, ts + T) are
 * swept in order (a window per time), with a count per value. A time
 * thinned by cor_vc_time is not missed as an end: the window at the kept
 * time before it holds every value it holds (unless that one is inside the
 * suppression: see docs/rules.md). 0, or -ENOMEM. */
static int cor_vc_add(cor_eval *e, cor_rule *c, cor_group *g, vg_str v, int64_t ts,
                      uint32_t need, int64_t *end)
{
    int64_t T = c->timespan_us, L = e->wm - e->rs->lateness_us, dead = cor_dead(e, c, g);
    uint32_t i = 0;
    int later = 0;
    for (uint32_t k = 0; k < g->n && !later; k++)
        later = cor_vc_times(g, k)[COR_VC_TIMES - 1] > ts;
    while (i < g->n && !(strlen(g->vals[i]) == v.len && memcmp(g->vals[i], v.p, v.len) == 0))
        i++;
    if (i == g->n) {
        char *nv = strndup(v.p, v.len);
        if (!nv)
            return -ENOMEM;
        i = g->n;
        if (g->n == g->tcap) {
            /* full: the value seen longest ago makes room if no window
             * with an event to come can need it (all its times are dead).
             * Else the group grows, up to its cap: even in time order, an
             * event arriving late may still need it. */
            uint32_t old = 0;
            for (uint32_t k = 1; k < g->n; k++)
                if (cor_vc_times(g, k)[COR_VC_TIMES - 1] <
                    cor_vc_times(g, old)[COR_VC_TIMES - 1])
                    old = k;
            int64_t seen = cor_vc_times(g, old)[COR_VC_TIMES - 1];
            if (seen > dead)
                (void)cor_vc_grow(c, g, g->n + 1);
            if (g->n == g->tcap) {
                if (seen > dead) {
                    c->trimmed++;
                    e->stats.trimmed++;
                }
                free(g->vals[old]);
                i = old; /* its slot */
            }
        }
        if (i == g->n)
            g->n++;
        g->vals[i] = nv;
        for (int j = 0; j < COR_VC_TIMES; j++)
            cor_vc_times(g, i)[j] = INT64_MIN;
    }
    cor_vc_time(e, c, g, i, ts, L, dead);
    *end = ts;
    int64_t from = ts > g->suppress_until ? ts : g->suppress_until;
    if (!later || (from == ts && cor_vc_live(g, T, ts, NULL) >= need))
        return 0;
    cor_vc_pt *pt = malloc((size_t)g->n * COR_VC_TIMES * sizeof(*pt));
    uint32_t *cnt = calloc(g->n, sizeof(*cnt));
    if (!pt || !cnt) {
        free(pt);
        free(cnt);
        return -ENOMEM;
    }
    size_t np = 0;
    for (uint32_t k = 0; k < g->n; k++)
        for (int j = 0; j < COR_VC_TIMES; j++) {
            int64_t x = cor_vc_times(g, k)[j];
            if (x != INT64_MIN && x > ts - T && x < ts + T)
                pt[np++] = (cor_vc_pt){x, k};
        }
    qsort(pt, np, sizeof(*pt), cor_vc_pt_cmp);
    uint32_t distinct = 0;
    for (size_t lo = 0, hi = 0; hi < np; hi++) {
        if (cnt[pt[hi].k]++ == 0)
            distinct++;
        int64_t y = pt[hi].t;
        while (pt[lo].t <= y - T)
            if (--cnt[pt[lo++].k] == 0)
                distinct--;
        if (y >= from && (hi + 1 == np || pt[hi + 1].t != y) && distinct >= need) {
            *end = y;
            break;
        }
    }
    free(pt);
    free(cnt);
    return 0;
}

/* One hit of a referenced rule arrives at correlation c. */
static int cor_correlate(cor_eval *e, uint32_t ci, uint32_t refpos, const cor_hit *in,
                         cor_emit_fn emit, void *ud)
{
    cor_rule *c = &e->rs->rules[ci];
    cor_table *t = &e->tables[ci];
    int64_t ts = in->ts;
    if (ts < e->wm - e->rs->lateness_us) {
        c->late++;
        e->stats.late++;
        return 0;
    }
    /* the incoming hit's fields, for group_by and value_count */
    cor_ctx src;
    cor_ctx_init(&src, in->ctx->ev);
    for (uint32_t i = 0; i < in->nf; i++)
        src.f[src.nf++] = in->f[i];
    for (uint32_t i = 0; i < in->ctx->nf && src.nf < VG_ALERT_MAX_FIELDS; i++)
        src.f[src.nf++] = in->ctx->f[i];
    char key[2048], joined[2048], fname[160]; /* out's views point here */
    cor_hit out;
    cor_hit_init(&out, c, in->ctx, ts, 0, 0);
    size_t klen = cor_group_key(c, &src, key, sizeof(key), out.f);
    out.nf = c->ngroup;
    /* then the triggering hit's own fields (e.g. the user of the login that
     * completed a sequence), those not already grouped by */
    for (uint32_t i = 0; i < in->nf && out.nf < VG_ALERT_MAX_FIELDS - 1; i++) {
        uint32_t j = 0;
        while (j < c->ngroup && !vg_str_eq(in->f[i].key, c->group_by[j]))
            j++;
        /* value_count reports all its values as FIELD_values instead */
        if (j == c->ngroup && !(c->field && vg_str_eq(in->f[i].key, c->field)))
            out.f[out.nf++] = in->f[i];
    }
    cor_group *g = cor_group_get(e, c, t, key, klen, ts, emit, ud);
    if (!g)
        return -ENOMEM;
    g->dirty = 1;
    if (ts > g->last_us)
        g->last_us = ts;
    cor_lru_front(e, t, g);
    if (c->kind != COR_ABSENCE)
        cor_raw_keep(e, g, in->ctx->ev ? in->ctx->ev->raw : VG_STR_NULL);
    int fire = 0;
    switch (c->kind) {
    case COR_EVENT_COUNT: {
        int r = cor_ec_add(e, c, g, ts, &out);
        if (r < 0)
            return r;
        fire = r;
        break;
    }
    case COR_VALUE_COUNT: {
        vg_str v = cor_field(&src, c->field);
        if (!v.p)
            break; /* no value: nothing to count */
        int64_t end;
        if (cor_vc_add(e, c, g, v, ts, (uint32_t)c->threshold, &end) != 0)
            return -ENOMEM;
        int64_t first = end;
        uint32_t live = cor_vc_live(g, c->timespan_us, end, &first);
        if (live >= c->threshold) {
            fire = 1;
            out.first = first;
            out.ts = end;
            out.count = live;
            /* the distinct values, for the analyst */
            size_t jl = 0;
            for (uint32_t k = 0; k < g->n && jl < sizeof(joined) - 1; k++) {
                if (!cor_vc_in(g, k, c->timespan_us, end, NULL))
                    continue;
                jl += (size_t)snprintf(joined + jl, sizeof(joined) - jl, "%s%s", jl ? "," : "",
                                       g->vals[k]);
            }
            if (jl >= sizeof(joined))
                jl = sizeof(joined) - 1;
            snprintf(fname, sizeof(fname), "%s_values", c->field);
            if (out.nf < VG_ALERT_MAX_FIELDS)
                out.f[out.nf++] = (vg_kv){vg_str_c(fname), vg_str_n(joined, jl)};
        }
        break;
    }
    case COR_TEMPORAL: {
        /* Every rule of the list in one window: value_count's machinery,
         * with the rule's position as the value and N = the number of
         * rules, so that events out of order find every window too. */
        char pos[12];
        snprintf(pos, sizeof(pos), "%u", refpos);
        int64_t end;
        if (cor_vc_add(e, c, g, vg_str_c(pos), ts, c->nrefs, &end) != 0)
            return -ENOMEM;
        int64_t first = end;
        if (cor_vc_live(g, c->timespan_us, end, &first) >= c->nrefs) {
            fire = 1;
            out.first = first;
            out.ts = end;
            out.count = c->nrefs;
        }
        break;
    }
    case COR_TEMPORAL_ORDERED: {
        /* times buffered while an earlier event may still come, folded
         * into chains after (cor_seq.h) */
        const cor_seq_shape *sh = &c->seq;
        cor_seq_fold(sh, g->ts, e->wm - e->rs->lateness_us, cor_dead(e, c, g));
        g->n = cor_seq_len(sh, g->ts);
        if (g->n == g->tcap)
            (void)cor_ts_grow(c, g, g->n + 1); /* may stay full: at the cap, or out of memory */
        if (g->n == g->tcap) {
            /* the oldest times are folded early: an event to come before
             * them can no longer extend their chains */
            cor_seq_fold_oldest(sh, g->ts);
            g->n = cor_seq_len(sh, g->ts);
        }
        if (ts <= cor_seq_folded(sh, g->ts)) {
            /* this one is such an event (only early folding leaves a
             * folded time at or after W - lateness): a sequence through
             * it may be missed. So may one through an event at that very
             * time, which may come before folded events of that time in
             * the sequence (B folded at 104 s, then A at 104 s: A(104)
             * B(104) is missed). A flood in time order never counts: it
             * comes after the newest buffered time, and folding early
             * leaves times after the folded one (at most 32 equal times
             * are buffered, cor_seq_add). */
            c->trimmed++;
            e->stats.trimmed++;
        }
        uint32_t slot = sh->slot[refpos];
        if (g->n < g->tcap && cor_seq_add(sh, g->ts, slot, ts))
            g->n++;
        int64_t first, last;
        if (cor_seq_find(sh, g->ts, slot, ts, c->timespan_us, g->suppress_until, &first,
                         &last)) {
            fire = 1;
            out.first = first;
            out.ts = last;
            out.count = c->nrefs;
            cor_seq_used(sh, g->ts, last); /* a sequence is reported once */
            g->n = cor_seq_len(sh, g->ts);
        }
        break;
    }
    case COR_ABSENCE:
        if (ts > g->aux)
            g->aux = ts;
        /* re-armed only by an event from after the silence was reported
         * (suppress_until holds the report time): late or queued events
         * from before it do not make the host "come back" */
        if (g->fired && ts >= g->suppress_until)
            g->fired = 0;
        break;
    default:
        break;
    }
    if (!fire || out.ts < g->suppress_until)
        return 0;
    g->suppress_until = out.ts + c->suppress_us;
    out.g = g;
    return cor_hit_out(e, &out, emit, ud);
}

/* Feeds a hit to every correlation that counts its rule. */
static int cor_feed(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud)
{
    const cor_rule *r = hit->r;
    uint32_t self = (uint32_t)(r - e->rs->rules);
    for (uint32_t i = 0; i < r->nfeeds; i++) {
        uint32_t ci = r->feeds[i];
        const cor_rule *c = &e->rs->rules[ci];
        /* once, at its first position (feeds lists c once: cor_rules.c): a
         * rule listed at several steps of temporal_ordered fills any of
         * them (cor_seq) */
        uint32_t k = 0;
        while (c->ref_idx[k] != self)
            k++;
        int rc = cor_correlate(e, ci, k, hit, emit, ud);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- match rules -------------------------------------------------------- */

static int cor_check_conds(cor_eval *e, const cor_rule *r, const cor_ctx *c)
{
    for (uint32_t i = 0; i < r->nconds; i++) {
        vg_str v = cor_field(c, r->conds[i].field);
        bool in = v.p && e->lists && cor_lists_contains(e->lists, r->conds[i].list, v);
        if (in == r->conds[i].negate)
            return 0;
    }
    return 1;
}

/* Per-rule time: the monotonic clock (a vDSO call, ~20 ns) rather than
 * the thread CPU clock (a system call): the engine is single-threaded, so
 * the two agree except while the process is descheduled. */
static int64_t cor_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cor_match_one(cor_eval *e, cor_rule *r, const vg_event *ev, vg_str msg, int64_t ts,
                         uint32_t times, cor_emit_fn emit, void *ud)
{
    cor_ruleset *rs = e->rs;
    if ((r->programs && !cor_in(r->programs, ev->app)) || (r->hosts && !cor_in(r->hosts, ev->host)) ||
        (r->agencies && !cor_in(r->agencies, ev->agency)) ||
        (r->sites && !cor_in(r->sites, ev->site)) ||
        (r->facilities && (ev->pri < 0 || !(r->facilities & (1u << (ev->pri >> 3))))) ||
        (r->severities && (ev->pri < 0 || !(r->severities & (1u << (ev->pri & 7)))))) {
        if (e->trace)
            e->trace(e->trace_ud, r, "filtered out (program/host/agency/site/facility/severity)",
                     NULL, 0);
        return 0;
    }
    if (r->calendar >= 0 && cor_calendar_holds(rs->cals, r->calendar, ts) == r->cal_negate) {
        if (e->trace)
            e->trace(e->trace_ud, r, "time condition not met", NULL, 0);
        return 0;
    }
    const char *subj = msg.p ? msg.p : "";
    size_t slen = msg.len;
    cor_ctx c;
    cor_ctx_init(&c, ev);
    if (r->re) {
        /* the JIT entry point skips the interpreter's checks: ~35% faster */
        int m = r->jit ? pcre2_jit_match(r->re, (PCRE2_SPTR)subj, slen, 0, 0, rs->md, rs->mctx)
                       : pcre2_match(r->re, (PCRE2_SPTR)subj, slen, 0, 0, rs->md, rs->mctx);
        if (m == PCRE2_ERROR_NOMATCH) {
            if (e->trace)
                e->trace(e->trace_ud, r, "regex did not match", NULL, 0);
            return 0;
        }
        if (m < 0) {
            r->match_errors++; /* match limit or similar: counted, never fatal */
            if (e->trace)
                e->trace(e->trace_ud, r, "regex error (match limit?)", NULL, 0);
            return 0;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
        for (uint32_t k = 0; k < r->ncaps; k++) {
            uint32_t gi = r->cap_groups[k];
            if ((int)gi >= m || ov[2 * gi] == PCRE2_UNSET)
                continue;
            c.f[c.nf++] = (vg_kv){vg_str_c(r->cap_names[k]),
                                  vg_str_n(subj + ov[2 * gi], ov[2 * gi + 1] - ov[2 * gi])};
        }
    }
    if (r->keywords) {
        int any = 0;
        for (char **k = r->keywords; *k && !any; k++)
            any = memmem(subj, slen, *k, strlen(*k)) != NULL;
        if (!any) {
            if (e->trace)
                e->trace(e->trace_ud, r, "no keyword found", NULL, 0);
            return 0;
        }
    }
    if (!cor_check_conds(e, r, &c)) {
        if (e->trace)
            e->trace(e->trace_ud, r, "list condition not met", c.f, c.nf);
        return 0;
    }
    if (e->trace)
        e->trace(e->trace_ud, r, "MATCHED", c.f, c.nf);
    cor_hit hit;
    cor_hit_init(&hit, r, &c, ts, ts, times);
    for (uint32_t i = 0; i < c.nf; i++)
        hit.f[hit.nf++] = c.f[i];
    return cor_hit_out(e, &hit, emit, ud);
}

/* The trusted event time: the header's, unless it is far past arrival
 * (a device with a wrong clock must not push the watermark into the
 * future and make every later event "late"). */
static int64_t cor_event_time(const vg_event *ev)
{
    if (ev->recv_us && ev->ts_us > ev->recv_us + COR_FUTURE_US)
        return ev->recv_us;
    return ev->ts_us;
}

/* What the rules of an event match: the repeated line's text, and how many
 * times it counts (cor_repeat). */
static vg_str cor_event_msg(const vg_event *in, uint32_t *times)
{
    vg_str msg = in->msg;
    *times = cor_repeat(in->msg, &msg);
    return msg;
}

/* Everything after the prefilter scan, for one event: its candidates in
 * cand (n of them; n < 0 after a failed scan, with every bit set). */
static int cor_eval_run(cor_eval *e, const vg_event *ev, vg_str msg, uint32_t times,
                        const uint64_t *cand, int n, cor_emit_fn emit, void *ud)
{
    cor_ruleset *rs = e->rs;
    int64_t ts = cor_event_time(ev);
    e->stats.events++;
    int rc = 0;
    int64_t t0 = n != 0 ? cor_ns() : 0; /* one clock read per candidate, plus one */
    for (uint32_t w = 0; rc == 0 && n != 0 && w < (rs->nmatches + 63) / 64; w++) {
        uint64_t bits = cand[w];
        while (bits && rc == 0) {
            uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            cor_rule *r = &rs->rules[rs->matches[i]];
            rc = cor_match_one(e, r, ev, msg, ts, times, emit, ud);
            int64_t t1 = cor_ns();
            r->cpu_ns += (uint64_t)(t1 - t0);
            t0 = t1;
        }
    }
    if (e->trace) {
        for (uint32_t i = 0; i < rs->nmatches; i++)
            if (!(cand[i / 64] >> (i % 64) & 1))
                e->trace(e->trace_ud, &rs->rules[rs->matches[i]], "skipped by the prefilter",
                         NULL, 0);
    }
    if (ts > e->wm)
        e->wm = ts;
    if (rc == 0 && e->wm - e->absence_checked >= 1000000)
        rc = cor_eval_tick(e, e->wm, emit, ud);
    return rc;
}

int cor_eval_event(cor_eval *e, const vg_event *in, cor_emit_fn emit, void *ud)
{
    return cor_eval_events(e, in, 1, emit, ud);
}

/* Scans a batch of events first, then runs them in order: the same work
 * and results as one cor_eval_event per event, but the prefilter's
 * database and code stay in cache through COR_BATCH scans instead of being
 * pushed out by the rest of the engine between two lines (with 1,000 rules
 * the database is several hundred KB: bench/README.md). The scan is a pure
 * function of the line and the rules, so doing it early changes nothing. */
int cor_eval_events(cor_eval *e, const vg_event *evs, size_t n, cor_emit_fn emit, void *ud)
{
    cor_ruleset *rs = e->rs;
    size_t nw = (rs->nmatches + 63) / 64;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < n; at += COR_BATCH) {
        size_t k = n - at < COR_BATCH ? n - at : COR_BATCH;
        vg_str msg[COR_BATCH];
        uint32_t times[COR_BATCH];
        int cnt[COR_BATCH];
        for (size_t i = 0; i < k; i++) {
            msg[i] = cor_event_msg(&evs[at + i], &times[i]);
            cnt[i] = cor_prefilter_scan(rs->pf, msg[i].p, msg[i].p ? msg[i].len : 0,
                                        e->bcand + i * nw);
        }
        for (size_t i = 0; rc == 0 && i < k; i++)
            rc = cor_eval_run(e, &evs[at + i], msg[i], times[i], e->bcand + i * nw, cnt[i],
                              emit, ud);
    }
    return rc;
}

static int cor_sweep_one(cor_eval *e, uint32_t o, int64_t clk, cor_emit_fn emit, void *ud);

int cor_eval_tick(cor_eval *e, int64_t now, cor_emit_fn emit, void *ud)
{
    /* The clock only drives absence; lateness stays on event time, so a
     * backlog replayed after an outage is not "late". */
    if (now > e->clock)
        e->clock = now;
    if (e->wm > e->clock)
        e->clock = e->wm;
    e->absence_checked = e->wm;
    int64_t clk = e->clock;
    cor_ruleset *rs = e->rs;
    int rc = 0;
    for (uint32_t m = 0; m < e->nsup; m++) { /* suppressions that ended */
        /* and not used for a lateness of event time: a backlog of events
         * older than that (after an outage) keeps its group while it runs */
        const cor_rule *r = &rs->rules[e->sup[m]];
        cor_table *t = &e->tables[e->sup[m]];
        int64_t open = e->wm - rs->lateness_us;
        while (t->tail && t->tail->suppress_until <= open && t->tail->aux <= open) {
            cor_group *g = t->tail;
            cor_del_push(e, r->id, g->key, g->keylen, 0);
            cor_table_remove(e, t, g);
            cor_group_free(e, g);
        }
    }
    /* the tables that may hold groups, in rs->order (the order matters: an
     * absence report feeds correlations further down the order) */
    for (uint32_t w = 0; w < (rs->norder + 63) / 64 && rc == 0; w++) {
        for (uint64_t bits = e->live[w]; bits && rc == 0;) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits);
            uint32_t o = w * 64 + b;
            if (e->due[o] > e->wm) { /* nothing to drop there yet */
                bits &= bits - 1;
                continue;
            }
            rc = cor_sweep_one(e, o, clk, emit, ud);
            if (!e->tables[e->sweep[o].ci].tail)
                e->live[w] &= ~(1ULL << b);
            /* re-read: a report may have given a later table its first group */
            bits = b == 63 ? 0 : e->live[w] & (~0ULL << (b + 1));
        }
    }
    return rc;
}

/* One step of the sweep: sweep[o]'s table. */
static int cor_sweep_one(cor_eval *e, uint32_t o, int64_t clk, cor_emit_fn emit, void *ud)
{
    cor_ruleset *rs = e->rs;
    int rc = 0;
    const cor_sweep *sw = &e->sweep[o];
    uint32_t ci = sw->ci;
    if (!sw->absence) {
        /* Groups that can no longer fire are dropped, oldest first: every
         * event they hold is older than any window a future event (at
         * least W - lateness) can open, and their suppression is over for
         * any such event too (a group dropped while a future event could
         * still fall inside its suppression would let that event fire
         * again). Keeps tables small, and keeps max_groups for live
         * groups. */
        cor_table *t = &e->tables[ci];
        int64_t dead = e->wm - sw->span_us - rs->lateness_us, open = e->wm - rs->lateness_us;
        while (t->tail && t->tail->last_us < dead && t->tail->suppress_until <= open) {
            cor_group *g = t->tail;
            cor_del_push(e, rs->rules[ci].id, g->key, g->keylen, 0);
            cor_table_remove(e, t, g);
            cor_group_free(e, g);
        }
        /* the first watermark at which the loop above would drop the tail */
        e->due[o] = INT64_MAX;
        if (t->tail) {
            int64_t span = sw->span_us + rs->lateness_us, last = t->tail->last_us;
            int64_t d = last > INT64_MAX - span - 1 ? INT64_MAX : last + span + 1;
            int64_t su = t->tail->suppress_until, lt = rs->lateness_us;
            int64_t sd = su > INT64_MAX - lt ? INT64_MAX : su + lt;
            e->due[o] = d > sd ? d : sd;
        }
        return 0;
    }
    cor_rule *c = &rs->rules[ci];
    cor_table *t = &e->tables[ci];
    for (cor_group *g = t->tail, *prev; g && rc == 0; g = prev) {
        prev = g->prev;
        if (g->fired && clk - g->aux >= c->expire_us) { /* reported, long gone: forget */
            cor_del_push(e, c->id, g->key, g->keylen, 0);
            cor_table_remove(e, t, g);
            cor_group_free(e, g);
            continue;
        }
        /* a group silent past expire in one step (after downtime) is still
         * reported once before it is forgotten */
        if (g->fired || clk - g->aux < c->timespan_us)
            continue;
        g->fired = 1;
        g->suppress_until = clk; /* the report time: see the re-arm rule */
        g->dirty = 1;
        /* the group's values are its key: split them back into fields */
        cor_ctx ctx = {0};
        cor_hit hit = {.r = c, .ctx = &ctx, .ts = clk, .first = g->aux, .count = 0};
        const char *p = g->key, *end = g->key + g->keylen;
        for (uint32_t i = 0; i < c->ngroup; i++) {
            const char *q = memchr(p, COR_KEY_SEP, (size_t)(end - p));
            if (!q)
                q = end;
            hit.f[hit.nf++] = (vg_kv){vg_str_c(c->group_by[i]), vg_str_n(p, (size_t)(q - p))};
            p = q < end ? q + 1 : end;
        }
        char since[40], msg[300];
        vg_time_format(g->aux, since, sizeof(since));
        snprintf(msg, sizeof(msg), "no event of the watched rules since %s", since);
        vg_event fake = {0};
        fake.msg = vg_str_c(msg);
        for (uint32_t i = 0; i < hit.nf; i++)
            if (vg_str_eq(hit.f[i].key, "host"))
                fake.host = hit.f[i].val;
        ctx.ev = &fake;
        rc = cor_hit_out(e, &hit, emit, ud);
    }
    return rc;
}

/* ---- persistence ---------------------------------------------------------- */

/* Group record: [rule_hash, last_us, suppress_until, aux, fired, [ts], [vals], [raw], touch]
 * (records written before touch was saved have 8 elements) */
static int cor_group_pack(cor_eval *e, const cor_rule *r, const cor_group *g)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&e->sb);
    msgpack_packer_init(&pk, &e->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint64(&pk, r->hash);
    msgpack_pack_int64(&pk, g->last_us);
    msgpack_pack_int64(&pk, g->suppress_until);
    msgpack_pack_int64(&pk, g->aux);
    msgpack_pack_uint8(&pk, g->fired);
    uint32_t nts = r->kind == COR_EVENT_COUNT || r->kind == COR_TEMPORAL_ORDERED ||
                           r->kind == COR_MATCH
                       ? g->n
                   : r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL ? g->n * COR_VC_TIMES
                                                : cor_group_nts(r);
    msgpack_pack_array(&pk, nts);
    for (uint32_t i = 0; i < nts; i++)
        msgpack_pack_int64(&pk, g->ts[i]);
    uint32_t nv = r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL ? g->n : 0;
    msgpack_pack_array(&pk, nv);
    for (uint32_t i = 0; i < nv; i++) {
        size_t l = strlen(g->vals[i]);
        msgpack_pack_str(&pk, l);
        msgpack_pack_str_body(&pk, g->vals[i], l);
    }
    uint32_t start = g->nraw < COR_RAW_KEEP ? 0 : g->rawpos;
    msgpack_pack_array(&pk, g->nraw);
    for (uint32_t i = 0; i < g->nraw; i++) {
        const char *l = g->raw[(start + i) % COR_RAW_KEEP];
        size_t n = l ? strlen(l) : 0;
        msgpack_pack_str(&pk, n);
        msgpack_pack_str_body(&pk, l ? l : "", n);
    }
    msgpack_pack_uint64(&pk, g->touch);
    return 0;
}

int cor_eval_flush(cor_eval *e)
{
    if (!e->st)
        return 0;
    MDB_txn *txn = vg_store_txn(e->st);
    if (!txn)
        return -EINVAL;
    int rc = 0;
    for (size_t i = 0; i < e->ndels && rc == 0; i++) {
        cor_del *d = &e->dels[i];
        MDB_val k = {d->len, d->key}, v;
        if (!d->prefix) {
            rc = mdb_del(txn, e->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
            continue;
        }
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, e->dbi, &cur)))
            break;
        for (;;) { /* re-seek after each delete: rule removals are rare */
            k = (MDB_val){d->len, d->key};
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            if (rc || k.mv_size < d->len || memcmp(k.mv_data, d->key, d->len) != 0)
                break;
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    for (size_t i = 0; i < e->ndels; i++)
        free(e->dels[i].key);
    e->ndels = 0;
    char key[4096];
    for (size_t ri = 0; ri < e->rs->n && rc == 0; ri++) {
        const cor_rule *r = &e->rs->rules[ri];
        if (!cor_stateful(r))
            continue;
        size_t il = strlen(r->id) + 1;
        for (cor_group *g = e->tables[ri].head; g && rc == 0; g = g->next) {
            if (!g->dirty)
                continue;
            if (il + g->keylen > sizeof(key) || il + g->keylen > 511) {
                g->dirty = 0; /* too long for an LMDB key: kept in memory only */
                continue;
            }
            memcpy(key, r->id, il);
            memcpy(key + il, g->key, g->keylen);
            cor_group_pack(e, r, g);
            MDB_val k = {il + g->keylen, key}, v = {e->sb.size, e->sb.data};
            rc = mdb_put(txn, e->dbi, &k, &v, 0);
            g->dirty = 0;
        }
    }
    if (rc == 0)
        rc = vg_meta_put_u64(e->st, "cor.watermark", (uint64_t)e->wm);
    if (rc == MDB_MAP_FULL)
        return VG_EFULL;
    return rc > 0 ? -rc : rc;
}

/* A temporal_ordered group's saved times into g: cor_seq's layout (it
 * starts with COR_SEQ_TAG), or the layout before it (per step the start
 * and end of one chain, 2n times; before that the starts alone, n).
 * 0, or VG_ESTATE when the record does not add up. */
static int cor_seq_unpack(const cor_rule *r, cor_group *g, const msgpack_object *ts)
{
    const cor_seq_shape *sh = &r->seq;
    uint32_t n = ts->type == MSGPACK_OBJECT_ARRAY ? ts->via.array.size : 0, head = cor_seq_head(sh);
    const msgpack_object *v = n ? ts->via.array.ptr : NULL;
    for (uint32_t i = 0; i < n; i++)
        if (v[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER && v[i].type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return VG_ESTATE;
    if (n >= head && v[0].via.i64 == COR_SEQ_TAG) {
        if (n > g->tcap && (cor_ts_grow(r, g, n) != 0 || n > g->tcap))
            return VG_ESTATE;
        for (uint32_t i = 0; i < n; i++)
            g->ts[i] = v[i].via.i64;
        for (uint32_t k = 0; k < sh->m; k++)
            if (g->ts[sh->n + 1 + k] < 0 || g->ts[sh->n + 1 + k] > n)
                return VG_ESTATE;
        g->n = cor_seq_len(sh, g->ts);
        return g->n == n ? 0 : VG_ESTATE;
    }
    int64_t old[2 * COR_SEQ_MAX];
    if (n != r->nrefs && n != 2 * r->nrefs)
        return VG_ESTATE;
    for (uint32_t i = 0; i < 2 * r->nrefs; i++)
        old[i] = v[i % n].via.i64; /* starts alone: a step counts as at its chain's start */
    cor_seq_from_chains(sh, old, g->ts);
    g->n = cor_seq_len(sh, g->ts);
    return 0;
}

static int cor_group_unpack(cor_eval *e, const cor_rule *r, cor_table *t, const char *key,
                            size_t klen, const char *buf, size_t len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    int rc = VG_ESTATE;
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    const msgpack_object *a = &u.data;
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 8 || a->via.array.size > 9)
        goto out;
    const msgpack_object *f = a->via.array.ptr;
    if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[0].via.u64 != r->hash)
        goto out;
    uint64_t h = cor_hash(key, klen);
    if (t->count + 1 > t->nb && cor_table_grow(t) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    cor_group *g = cor_group_new(e, r, key, klen, h);
    if (!g) {
        rc = -ENOMEM;
        goto out;
    }
    g->last_us = f[1].via.i64;
    g->suppress_until = f[2].via.i64;
    g->aux = f[3].via.i64;
    g->fired = (uint8_t)f[4].via.u64;
    const msgpack_object *ts = &f[5], *vals = &f[6], *raw = &f[7];
    uint32_t cap = cor_group_nts(r), nsaved = 0, skip = 0;
    if (ts->type == MSGPACK_OBJECT_ARRAY)
        nsaved = ts->via.array.size;
    if (r->kind == COR_EVENT_COUNT && nsaved > cap) {
        /* a group that kept more than N (events out of order): the newest
         * fit (saved sorted, oldest first) */
        (void)cor_ts_grow(r, g, nsaved);
        cap = g->tcap;
        skip = nsaved > cap ? nsaved - cap : 0;
    }
    if (r->kind == COR_TEMPORAL_ORDERED) {
        if (cor_seq_unpack(r, g, ts) != 0) {
            cor_group_free(e, g);
            goto out;
        }
        nsaved = 0;
    }
    for (uint32_t i = 0; i + skip < nsaved && i < cap; i++)
        g->ts[i] = ts->via.array.ptr[i + skip].via.i64;
    if (r->kind == COR_EVENT_COUNT || r->kind == COR_MATCH)
        g->n = nsaved - skip < cap ? nsaved - skip : cap;
    if (r->kind == COR_MATCH && g->n == 0 && g->suppress_until != INT64_MIN) {
        /* saved before alert times were kept: the last alert */
        g->ts[0] = g->suppress_until - r->suppress_us;
        g->n = 1;
    }
    uint32_t nsv = vals->type == MSGPACK_OBJECT_ARRAY ? vals->via.array.size : 0;
    if (r->kind == COR_TEMPORAL && nsv == 0 && nsaved == r->nrefs) {
        /* state written before temporal kept its rules' times as values:
         * the latest time of each rule, by position */
        for (uint32_t k = 0; k < r->nrefs; k++) {
            int64_t t0 = ts->via.array.ptr[k].via.i64;
            char pos[12];
            snprintf(pos, sizeof(pos), "%u", k);
            if (t0 == INT64_MIN || !(g->vals[g->n] = strdup(pos)))
                continue;
            int64_t *vt = cor_vc_times(g, g->n++);
            for (uint32_t j = 0; j < COR_VC_TIMES; j++)
                vt[j] = j + 1 < COR_VC_TIMES ? INT64_MIN : t0;
        }
    } else if (r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL) {
        /* COR_VC_TIMES times per value, or one (the latest: state written
         * before value_count kept more) */
        uint32_t nv = vals->type == MSGPACK_OBJECT_ARRAY ? vals->via.array.size : 0;
        if (nv > g->tcap)
            (void)cor_vc_grow(r, g, nv); /* a group grown by events out of order */
        if (nv > g->tcap)
            nv = g->tcap;
        uint32_t per = nsaved == nv ? 1 : COR_VC_TIMES;
        if (nsaved < nv * per)
            nv = nsaved / per;
        for (g->n = 0; g->n < nv; g->n++) {
            const msgpack_object *sv = &vals->via.array.ptr[g->n];
            if (sv->type != MSGPACK_OBJECT_STR ||
                !(g->vals[g->n] = strndup(sv->via.str.ptr, sv->via.str.size)))
                break;
            int64_t *vt = cor_vc_times(g, g->n);
            for (uint32_t j = 0; j < COR_VC_TIMES; j++)
                vt[j] = j < COR_VC_TIMES - per
                            ? INT64_MIN
                            : ts->via.array.ptr[g->n * per + j - (COR_VC_TIMES - per)].via.i64;
        }
    }
    if (g->raw && raw->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < raw->via.array.size && g->nraw < COR_RAW_KEEP; i++) {
            const msgpack_object *l = &raw->via.array.ptr[i];
            if (l->type != MSGPACK_OBJECT_STR) /* not ours: skipped, not read */
                continue;
            cor_raw_keep(e, g, vg_str_n(l->via.str.ptr ? l->via.str.ptr : "", l->via.str.size));
        }
    g->hnext = t->b[h & (t->nb - 1)];
    t->b[h & (t->nb - 1)] = g;
    if (t->count++ == 0)
        cor_live_mark(e, t);
    /* in key order for now: cor_eval_load sorts them */
    g->touch = a->via.array.size > 8 && f[8].type == MSGPACK_OBJECT_POSITIVE_INTEGER
                   ? f[8].via.u64
                   : 0; /* an older record: ordered by last_us, before the others */
    if (g->touch > e->touch)
        e->touch = g->touch; /* updates after the restart come after every saved one */
    cor_lru_link(e, t, g);
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int cor_lru_cmp(const void *a, const void *b)
{
    const cor_group *x = *(cor_group *const *)a, *y = *(cor_group *const *)b;
    if (x->touch != y->touch)
        return x->touch < y->touch ? -1 : 1;
    return x->last_us < y->last_us ? -1 : x->last_us > y->last_us;
}

/* Restored groups come in key order; put the LRU list back in the order
 * the groups were last updated, as it was before the stop: eviction takes
 * its tail, the sweep drops expired groups from the tail and reports
 * absences in its order, so any other order would change alerts after a
 * restart (an update is one of arrival, not of event time: a late event
 * moves its group to the front). */
static int cor_table_sort_lru(cor_eval *e, cor_table *t)
{
    if (t->count < 2)
        return 0;
    cor_group **v = malloc(t->count * sizeof(*v));
    if (!v)
        return -ENOMEM;
    uint32_t n = 0;
    for (cor_group *g = t->head; g && n < t->count; g = g->next)
        v[n++] = g;
    qsort(v, n, sizeof(*v), cor_lru_cmp);
    t->head = t->tail = NULL;
    for (uint32_t i = 0; i < n; i++) {
        v[i]->prev = v[i]->next = NULL;
        cor_lru_link(e, t, v[i]);
    }
    free(v);
    return 0;
}

/* Loads persisted state for the current rules; state of rules that are
 * gone or changed is deleted. */
static int cor_eval_load(cor_eval *e)
{
    MDB_txn *txn;
    int rc = vg_store_read_begin(e->st, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, e->dbi, &cur))) {
        vg_store_read_end(e->st, txn);
        return -rc;
    }
    MDB_val k, v;
    size_t loaded = 0, dropped = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const char *key = k.mv_data;
        const char *nul = memchr(key, '\0', k.mv_size);
        int ri = nul ? cor_rules_find(e->rs, key) : -1;
        int ok = ri >= 0 && cor_stateful(&e->rs->rules[ri]) &&
                 cor_group_unpack(e, &e->rs->rules[ri], &e->tables[ri], nul + 1,
                                  k.mv_size - (size_t)(nul + 1 - key), v.mv_data, v.mv_size) == 0;
        if (ok) {
            loaded++;
        } else {
            dropped++;
            cor_del_push(e, nul ? key : "", nul ? nul + 1 : key,
                         nul ? k.mv_size - (size_t)(nul + 1 - key) : k.mv_size, 0);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    vg_store_read_end(e->st, txn);
    for (size_t i = 0; i < e->rs->n && (rc == 0 || rc == MDB_NOTFOUND); i++)
        if (cor_table_sort_lru(e, &e->tables[i]) != 0)
            rc = ENOMEM; /* returned as -ENOMEM below */
    uint64_t wm = 0;
    vg_meta_get_u64(e->st, "cor.watermark", &wm);
    e->wm = (int64_t)wm;
    e->clock = e->wm;
    e->absence_checked = e->wm;
    if (loaded || dropped)
        vg_info("correlation state: %zu groups restored, %zu dropped (rule gone or changed)",
                loaded, dropped);
    return rc == MDB_NOTFOUND ? 0 : -rc;
}

/* (Re)builds cor_eval_tick's work lists for rs: the match rules with a
 * suppression, and the correlations in dependency order with their kind and
 * span (see cor_sweep). */
static int cor_eval_index(cor_eval *e, const cor_ruleset *rs)
{
    uint32_t *sup = malloc((rs->nmatches + 1) * sizeof(*sup));
    cor_sweep *sweep = malloc((rs->norder + 1) * sizeof(*sweep));
    uint64_t *live = calloc((rs->norder + 63) / 64 + 1, sizeof(*live));
    uint32_t *pos = malloc((rs->n + 1) * sizeof(*pos));
    uint64_t *bcand = malloc(COR_BATCH * ((rs->nmatches + 63) / 64 + 1) * sizeof(*bcand));
    int64_t *due = malloc((rs->norder + 1) * sizeof(*due));
    if (!sup || !sweep || !live || !pos || !bcand || !due) {
        free(sup);
        free(sweep);
        free(live);
        free(pos);
        free(bcand);
        free(due);
        return -ENOMEM;
    }
    for (uint32_t o = 0; o <= rs->norder; o++)
        due[o] = INT64_MIN; /* look at every table once */
    for (size_t i = 0; i < rs->n; i++)
        pos[i] = UINT32_MAX;
    uint32_t nsup = 0;
    for (uint32_t m = 0; m < rs->nmatches; m++)
        if (rs->rules[rs->matches[m]].suppress_us)
            sup[nsup++] = rs->matches[m];
    for (uint32_t o = 0; o < rs->norder; o++) {
        const cor_rule *c = &rs->rules[rs->order[o]];
        sweep[o] = (cor_sweep){rs->order[o], c->kind == COR_ABSENCE, c->timespan_us};
        pos[rs->order[o]] = o;
    }
    free(e->sup);
    free(e->sweep);
    free(e->live);
    free(e->sweep_pos);
    free(e->bcand);
    e->bcand = bcand;
    free(e->due);
    e->due = due;
    e->sup = sup;
    e->nsup = nsup;
    e->sweep = sweep;
    e->live = live;
    e->sweep_pos = pos;
    return 0;
}

/* Sets the live bits from the tables (after they moved: cor_eval_set_rules). */
static void cor_live_rebuild(cor_eval *e)
{
    const cor_ruleset *rs = e->rs;
    memset(e->live, 0, ((rs->norder + 63) / 64 + 1) * sizeof(*e->live));
    for (uint32_t o = 0; o < rs->norder; o++)
        if (e->tables[e->sweep[o].ci].count)
            e->live[o / 64] |= 1ULL << (o % 64);
}

int cor_eval_new(cor_eval **out, cor_ruleset *rs, vg_store *st, cor_lists *lists)
{
    cor_eval *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->rs = rs;
    e->st = st;
    e->lists = lists;
    e->wm = e->clock = INT64_MIN / 2;
    msgpack_sbuffer_init(&e->sb);
    e->tables = calloc(rs->n + 1, sizeof(cor_table));
    int rc = e->tables ? cor_eval_index(e, rs) : -ENOMEM;
    if (rc == 0 && st && (rc = vg_store_dbi(st, "correlation", &e->dbi)) == 0)
        rc = cor_eval_load(e);
    if (rc) {
        cor_eval_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int cor_eval_reload(cor_eval **e, const cor_eval_stats *keep)
{
    cor_eval *fresh = NULL;
    int rc = cor_eval_new(&fresh, (*e)->rs, (*e)->st, (*e)->lists);
    if (rc)
        return rc;
    fresh->trace = (*e)->trace;
    fresh->trace_ud = (*e)->trace_ud;
    uint64_t groups = fresh->stats.groups;
    fresh->stats = *keep;
    fresh->stats.groups = groups;
    cor_eval_free(*e);
    *e = fresh;
    return 0;
}

void cor_eval_free(cor_eval *e)
{
    if (!e)
        return;
    for (size_t i = 0; e->tables && i < e->rs->n; i++)
        cor_table_clear(e, &e->tables[i]);
    free(e->tables);
    for (size_t i = 0; i < e->ndels; i++)
        free(e->dels[i].key);
    free(e->dels);
    free(e->sup);
    free(e->sweep);
    free(e->live);
    free(e->sweep_pos);
    free(e->bcand);
    free(e->due);
    while (e->rawpool) {
        char *b = e->rawpool;
        memcpy(&e->rawpool, b, sizeof(char *));
        free(b);
    }
    for (int c = 1; c <= COR_BLK_CLASSES; c++)
        while (e->blkpool[c]) {
            void *b = e->blkpool[c];
            memcpy(&e->blkpool[c], b, sizeof(void *));
            free(b);
        }
    msgpack_sbuffer_destroy(&e->sb);
    free(e);
}

int cor_eval_set_rules(cor_eval *e, cor_ruleset *rs)
{
    cor_table *nt = calloc(rs->n + 1, sizeof(cor_table));
    if (!nt)
        return -ENOMEM;
    if (cor_eval_index(e, rs) != 0) { /* before anything changes: all or nothing */
        free(nt);
        return -ENOMEM;
    }
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < e->rs->n; i++) {
        const cor_rule *old = &e->rs->rules[i];
        if (!cor_stateful(old))
            continue;
        int j = cor_rules_find(rs, old->id);
        if (j >= 0 && cor_stateful(&rs->rules[j]) && rs->rules[j].hash == old->hash) {
            nt[j] = e->tables[i];
            rs->rules[j].evictions = old->evictions;
            rs->rules[j].late = old->late;
            rs->rules[j].trimmed = old->trimmed;
            memset(&e->tables[i], 0, sizeof(cor_table));
            kept++;
        } else {
            if (e->tables[i].count)
                dropped++;
            cor_table_clear(e, &e->tables[i]);
            cor_del_push(e, old->id, "", 0, 1);
        }
    }
    for (size_t i = 0; i < rs->n; i++) { /* counters of unchanged match rules carry on */
        int j = cor_rules_find(e->rs, rs->rules[i].id);
        if (j >= 0) {
            rs->rules[i].hits = e->rs->rules[j].hits;
            rs->rules[i].match_errors = e->rs->rules[j].match_errors;
            rs->rules[i].cpu_ns = e->rs->rules[j].cpu_ns;
        }
    }
    free(e->tables);
    e->tables = nt;
    e->rs = rs;
    cor_live_rebuild(e);
    vg_info("correlation state: kept for %zu unchanged rules, dropped for %zu changed or removed",
            kept, dropped);
    return 0;
}

void cor_eval_set_trace(cor_eval *e, cor_trace_fn fn, void *ud)
{
    e->trace = fn;
    e->trace_ud = ud;
}

const cor_eval_stats *cor_eval_get_stats(cor_eval *e)
{
    e->stats.groups = 0;
    for (size_t i = 0; i < e->rs->n; i++)
        e->stats.groups += e->tables[i].count;
    return &e->stats;
}

int64_t cor_eval_watermark(cor_eval *e)
{
    return e->wm;
}
