/* Groups of the rule engine: one per rule and distinct group_by values
 * (cor_eval_int.h). A table per rule finds them by key (a hash) and keeps
 * them in the order they were last updated, so that the least recently
 * updated one is evicted at max_groups and the sweep finds the oldest
 * first; a rule whose cap was reached also keeps them by when they are
 * over, so that the cap drops those before it evicts a live one. Groups are created and dropped by the thousand per minute, so
 * their blocks and raw-line buffers are pooled. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_eval_int.h"
#include "cor_seq.h"
#include "vigil/log.h"

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

/* Gives block b (class c; size bytes when c is 0) back: to the pool when it
 * has room, else to malloc. Returns the bytes given to malloc. */
static size_t cor_blk_put(cor_eval *e, uint16_t c, void *b, size_t size)
{
    size_t n = (size_t)c * COR_BLK_ALIGN;
    if (!c || !e || e->blkpool_bytes + n > COR_BLKPOOL_BYTES) {
        free(b);
        return c ? n : size;
    }
    memcpy(b, &e->blkpool[c], sizeof(void *));
    e->blkpool[c] = b;
    e->blkpool_bytes += n;
    return 0;
}

/* Gives a raw-line buffer of cap units back: to the engine's pool when it
 * is one unit and the pool has room, else to malloc. e may be NULL (no
 * pool). Returns the bytes given to malloc. */
static size_t cor_raw_release(cor_eval *e, char *b, uint8_t cap)
{
    if (!b)
        return 0;
    if (!e || cap != 1 || e->nrawpool >= COR_RAWPOOL_MAX) {
        free(b);
        return (size_t)cap * COR_RAW_UNIT;
    }
    e->rawpool[e->nrawpool++] = b; /* not written into: it is cold by now */
    return 0;
}

/* A group is one allocation (header, key, then its arrays: see
 * cor__group_new); only value_count's values and the raw lines are separate.
 * What goes back to malloc (not to the engine's pools) is added, as an
 * estimate (16 bytes of malloc's own per value), to e->freed_bytes: a
 * value_count group of 10,000 values is a hundred times an event_count's. */
void cor__group_free(cor_eval *e, cor_group *g)
{
    if (!g)
        return;
    /* grown (cor__ts_grow, cor__vc_grow): ts, and value_count's values, are
     * blocks of their own */
    int grown = cor_group_grown(g);
    size_t freed = 0;
    if (g->vals) {
        for (uint32_t i = 0; i < g->n; i++) {
            freed += g->vals[i] ? strlen(g->vals[i]) + 1 + 16 : 0;
            free(g->vals[i]);
        }
        freed += cor__vcx_free(g);
    }
    if (grown) {
        free(g->ts);
        freed += (size_t)g->tcap * sizeof(int64_t) * (g->vals ? COR_VC_TIMES : 1);
        if (g->vals) {
            free(g->vals);
            freed += (size_t)g->tcap * sizeof(char *);
        }
    }
    if (g->raw)
        for (uint32_t i = 0; i < COR_RAW_KEEP; i++)
            freed += cor_raw_release(e, g->raw[i], g->rawcap[i]);
    for (uint32_t i = 0; i < e->nseen; i++) /* its block may come back as another */
        if (e->seen[i].g == g)
            e->seen[i].g = NULL;
    e->groups_live--;
    if (g->dirty == 2) /* written into the open transaction: not to be written again */
        for (size_t i = 0; i < e->nwritten; i++)
            if (e->written[i].g == g)
                e->written[i].g = NULL;
    if (g->dirty == 1) /* at most what a batch touched */
        for (size_t i = 0; i < e->ndirtyv; i++)
            if (e->dirtyv[i].g == g)
                e->dirtyv[i].g = NULL;
    /* a block of its own (too large for a class): at least its header and key */
    freed += cor_blk_put(e, g->blk, g, cor_group_head(g->keylen));
    e->freed_bytes += freed;
}

void cor__dirty(cor_eval *e, uint32_t ri, cor_group *g)
{
    if (g->dirty == 1)
        return; /* listed already */
    g->dirty = 1;
    if (!e->st || e->dirty_all)
        return; /* no flush, or it walks every group */
    if (cor__gref_push(&e->dirtyv, &e->ndirtyv, &e->capdirtyv, g, ri) != 0)
        e->dirty_all = 1;
}

int cor__gref_push(cor_gref **v, size_t *n, size_t *cap, cor_group *g, uint32_t ri)
{
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 256;
        cor_gref *p = realloc(*v, ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        *v = p;
        *cap = ncap;
    }
    (*v)[(*n)++] = (cor_gref){g, ri};
    return 0;
}

void cor__table_clear(cor_eval *e, cor_table *t)
{
    for (cor_group *g = t->head, *n; g; g = n) {
        n = g->next;
        cor__group_free(e, g);
    }
    free(t->b);
    free(t->over);
    memset(t, 0, sizeof(*t));
}

/* ---- max_groups' second order: the groups by when they are over --------- */

/* a + b, b >= 0, at most INT64_MAX. */
static int64_t cor_sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* The first watermark at which g, a group of r, is over (cor_group_done).
 * An update only makes it later (last_us and suppress_until only grow; a
 * match group's aux is the watermark or the later hit), which is why a hit
 * need not tell the heap: a time there is at most the true one.
 *
 * An absence's is over once reported, W - lateness past the report
 * (suppress_until) and silent for expire by the watermark or the absence
 * clock: with the clock as it is now, report + lateness if the clock has
 * already seen it silent for expire, else the later of that and last seen
 * + expire; never while not reported. A hit only makes that later (aux
 * grows; one at or after the report re-arms the group). Two things make it
 * sooner: its report, which tells the heap (cor__absence_report), and the
 * clock passing last seen + expire, which does not (see cor_over_drop). */
static int64_t cor_over_at(const cor_eval *e, const cor_rule *r, const cor_group *g)
{
    int64_t lt = e->rs->lateness_us;
    int64_t su = cor_sat_add(g->suppress_until, lt);
    if (r->kind == COR_ABSENCE) {
        if (!g->fired)
            return INT64_MAX;
        if (e->clock - g->aux >= r->expire_us)
            return su;
        int64_t ex = cor_sat_add(g->aux, r->expire_us);
        return ex > su ? ex : su;
    }
    if (r->kind == COR_MATCH)
        return g->aux > g->suppress_until ? cor_sat_add(g->aux, lt) : su;
    int64_t d = cor_sat_add(cor_sat_add(g->last_us, cor_sat_add(lt, r->timespan_us)), 1);
    return d > su ? d : su;
}

static void cor_over_set(cor_table *t, uint32_t i, struct cor_over x)
{
    t->over[i] = x;
    x.g->over_pos = i;
}

static void cor_over_up(cor_table *t, uint32_t i)
{
    struct cor_over x = t->over[i];
    while (i > 0 && t->over[(i - 1) / 2].at > x.at) {
        cor_over_set(t, i, t->over[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    cor_over_set(t, i, x);
}

static void cor_over_down(cor_table *t, uint32_t i)
{
    struct cor_over x = t->over[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= t->nover)
            break;
        if (c + 1 < t->nover && t->over[c + 1].at < t->over[c].at)
            c++;
        if (x.at <= t->over[c].at)
            break;
        cor_over_set(t, i, t->over[c]);
        i = c;
    }
    cor_over_set(t, i, x);
}

/* Adds g, not over before at, to t's heap: 0, or -ENOMEM. */
static int cor_over_push(cor_table *t, cor_group *g, int64_t at)
{
    if (t->nover == t->capover) {
        size_t cap = t->capover ? (size_t)t->capover * 2 : 64;
        struct cor_over *v = cap <= UINT32_MAX ? realloc(t->over, cap * sizeof(*v)) : NULL;
        if (!v)
            return -ENOMEM;
        t->over = v;
        t->capover = (uint32_t)cap;
    }
    t->over[t->nover] = (struct cor_over){at, g};
    g->over_pos = t->nover++;
    cor_over_up(t, g->over_pos);
    return 0;
}

static void cor_over_del(cor_table *t, const cor_group *g)
{
    uint32_t i = g->over_pos;
    struct cor_over last = t->over[--t->nover];
    if (i == t->nover)
        return;
    cor_over_set(t, i, last);
    if (i > 0 && t->over[(i - 1) / 2].at > last.at)
        cor_over_up(t, i);
    else
        cor_over_down(t, i);
}

void cor__over_moved(const cor_eval *e, const cor_rule *r, cor_table *t, cor_group *g)
{
    if (!t->over)
        return;
    int64_t at = cor_over_at(e, r, g), was = t->over[g->over_pos].at;
    t->over[g->over_pos].at = at;
    if (at < was)
        cor_over_up(t, g->over_pos);
    else
        cor_over_down(t, g->over_pos);
}

void cor__over_forget(cor_table *t)
{
    free(t->over);
    t->over = NULL;
    t->nover = t->capover = 0;
}

/* t's heap from its groups (at the cap, once: then kept up). 0, or -ENOMEM. */
static int cor_over_build(const cor_eval *e, const cor_rule *r, cor_table *t)
{
    size_t cap = t->count < 32 ? 64 : (size_t)t->count * 2;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    struct cor_over *v = malloc(cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    t->over = v;
    t->capover = (uint32_t)cap;
    t->nover = 0;
    t->over_clock = e->clock;
    for (cor_group *g = t->head; g && t->nover < cap; g = g->next)
        cor_over_set(t, t->nover++, (struct cor_over){cor_over_at(e, r, g), g});
    if (t->nover < t->count) { /* cannot be: count <= UINT32_MAX / 2 groups */
        cor__over_forget(t);
        return -ENOMEM;
    }
    for (uint32_t i = t->nover / 2; i-- > 0;)
        cor_over_down(t, i);
    return 0;
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

void cor__lru_link(cor_eval *e, cor_table *t, cor_group *g)
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
void cor__lru_front(cor_eval *e, cor_table *t, cor_group *g)
{
    g->touch = ++e->touch;
    cor__lru_link(e, t, g);
}

static cor_group *cor_table_find(const cor_table *t, const char *key, size_t len, uint64_t h)
{
    if (!t->nb)
        return NULL;
    uint32_t mask = t->nb - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        const cor_slot *s = &t->b[i];
        if (!s->g)
            return NULL;
        if (s->h == h && s->g->keylen == len && memcmp(s->g->key, key, len) == 0)
            return s->g;
    }
}

/* Puts g in the first free slot from its hash on (t has room). */
static void cor_table_place(cor_slot *b, uint32_t nb, uint64_t h, cor_group *g)
{
    uint32_t i = (uint32_t)h & (nb - 1);
    while (b[i].g)
        i = (i + 1) & (nb - 1);
    b[i] = (cor_slot){h, g};
}

int cor__table_room(cor_table *t)
{
    if ((uint64_t)(t->count + 1) * 2 <= t->nb)
        return 0;
    if (t->nb > UINT32_MAX / 2)
        return -ENOMEM;
    uint32_t nb = t->nb ? t->nb * 2 : 64;
    cor_slot *b = calloc(nb, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->nb; i++)
        if (t->b[i].g)
            cor_table_place(b, nb, t->b[i].h, t->b[i].g);
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

void cor__table_put(cor_eval *e, cor_table *t, cor_group *g)
{
    cor_table_place(t->b, t->nb, g->h, g);
    if (t->count++ == 0)
        cor_live_mark(e, t);
}

/* Takes g's slot out, moving back the slots after it that would no longer
 * be found past the hole (linear probing's deletion, without tombstones). */
void cor__table_remove(cor_eval *e, cor_table *t, cor_group *g)
{
    uint32_t mask = t->nb - 1, i = (uint32_t)g->h & mask;
    while (t->b[i].g != g)
        i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask; t->b[j].g; j = (j + 1) & mask) {
        uint32_t k = (uint32_t)t->b[j].h & mask; /* where b[j] would like to be */
        if (((j - k) & mask) >= ((j - i) & mask)) { /* the hole at i is on its way */
            t->b[i] = t->b[j];
            i = j;
        }
    }
    t->b[i] = (cor_slot){0, NULL};
    cor_lru_unlink(e, t, g);
    if (t->over)
        cor_over_del(t, g);
    t->count--;
}

int cor__del_push(cor_eval *e, const char *rule_id, const char *key, size_t keylen,
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
    /* the key cor_eval_flush stored it under (a prefix: the rule id's) */
    char sk[COR_STATE_KEY_MAX];
    int hashed = 0;
    size_t n = cor__state_key(rule_id, key, keylen, sk, sizeof(sk), &hashed);
    if (n == 0)
        return 0; /* never stored */
    char *k = malloc(n);
    if (!k)
        return -ENOMEM;
    memcpy(k, sk, n);
    e->dels[e->ndels++] = (cor_del){k, n, prefix};
    return 0;
}

/* Times a group of rule r has room for at first: N (event_count, grown by
 * cor__ts_grow for events out of order), COR_VC_TIMES per value for N values
 * (value_count) or per rule of the list (temporal: the rule's position is
 * the value), cor_seq's header and two times per step (temporal_ordered,
 * grown by cor__ts_grow too), or COR_MS_KEEP alert times (a match rule's
 * suppression). An event_count's or value_count's N counts up to
 * COR_ROOM_FIRST only: the rest is grown into as the group fills (most
 * groups see one event), where room for N at once made max_groups' groups
 * of a value_count with N = 1,000 take 72 KiB each, 7 GiB at the default
 * cap, before a second event came. */
uint32_t cor__group_nts(const cor_rule *r)
{
    uint32_t n = r->threshold < COR_ROOM_FIRST ? (uint32_t)r->threshold : COR_ROOM_FIRST;
    return r->kind == COR_MATCH              ? COR_MS_KEEP
           : r->kind == COR_EVENT_COUNT      ? n
           : r->kind == COR_VALUE_COUNT      ? n * COR_VC_TIMES
           : r->kind == COR_TEMPORAL         ? r->nrefs * COR_VC_TIMES
           : r->kind == COR_TEMPORAL_ORDERED ? (2 + 2 * r->nrefs) + 2 * r->nrefs
                                             : 0;
}

/* Allocates a group with its arrays as its rule needs them, in one block:
 * the header, the key (NUL-terminated), then the times, the values
 * (value_count) and the raw ring's pointers. One malloc instead of four per
 * new group (groups are created and dropped by the thousand per minute of
 * events). */
cor_group *cor__group_new(cor_eval *e, const cor_rule *r, const char *key, size_t len,
                                uint64_t h)
{
    size_t nts = cor__group_nts(r);
    size_t nvals = r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL ? nts / COR_VC_TIMES : 0;
    size_t nraw = r->kind != COR_ABSENCE ? COR_RAW_KEEP : 0;
    size_t head = cor_group_head(len);
    size_t size = head + nts * sizeof(int64_t) + (nvals + nraw) * sizeof(char *);
    uint16_t blk = cor_blk_class(size);
    cor_group *g = cor_blk_get(e, blk, size);
    if (!g)
        return NULL;
    if (e && ++e->groups_live > e->groups_peak)
        e->groups_peak = e->groups_live;
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

int cor__degraded(cor_eval *e, const cor_rule *r, cor_table *t, int64_t now, int store,
                  cor_emit_fn emit, void *ud)
{
    if (t->degraded_at && now - t->degraded_at < 3600LL * 1000000)
        return 0;
    t->degraded_at = now ? now : 1;
    t->degraded_dirty = 1; /* kept with the state: the hour holds across a restart */
    char msg[512];
    if (store)
        snprintf(msg, sizeof(msg),
                 "correlation degraded: the state store was full (correlator.state_size) and "
                 "rule %s lost its oldest groups with the oldest of every rule (%" PRIu64
                 " evicted so far); attacks spread over more groups may be missed",
                 r->id, t->evicted);
    else
        snprintf(msg, sizeof(msg),
                 "correlation degraded: rule %s reached max_groups=%u and evicted its oldest "
                 "groups (%" PRIu64 " so far); attacks spread over more groups may be missed",
                 r->id, r->max_groups, t->evicted);
    vg_warn("%s", msg);
    vg_alert al = {0};
    al.rule_id = vg_str_c("vigil.correlation_degraded");
    al.rule_name = vg_str_c("Correlation state evicted: detection degraded");
    al.kind = vg_str_c("internal");
    al.level = 10;
    al.ts_us = al.first_us = now;
    al.count = t->evicted;
    al.message = vg_str_c(msg);
    al.fields[0] = (vg_kv){vg_str_c("rule"), vg_str_c(r->id)};
    al.nfields = 1;
    e->stats.alerts++;
    return emit ? emit(ud, &al) : 0;
}

/* Whether g, a group of r, is one the sweep (cor_eval_tick) drops once the
 * watermark reaches w: it can no longer fire nor suppress anything. An
 * absence's as in cor_sweep_one: reported, silent past expire, and W -
 * lateness past its report (suppress_until), before which an event from
 * before the report may still come and must find the group. */
static int cor_group_done(const cor_eval *e, const cor_rule *r, const cor_group *g, int64_t w)
{
    int64_t open = w - e->rs->lateness_us;
    if (r->kind == COR_MATCH)
        return g->suppress_until <= open && g->aux <= open;
    if (r->kind == COR_ABSENCE)
        return g->fired && (e->clock > w ? e->clock : w) - g->aux >= r->expire_us &&
               open >= g->suppress_until;
    return g->last_us < open - r->timespan_us && g->suppress_until <= open;
}

/* At the cap with a live LRU tail: drops, quietly, every group of t that
 * is over at w (cor_group_done), wherever it is in the LRU order. The
 * heap's root is the group over first when its time is exact; a root
 * whose group was updated since its time was taken gets its time now and
 * goes down (once per update at most, and only here). Returns how many
 * went, or -ENOMEM (the caller then evicts the tail, as before there was a
 * heap).
 *
 * An absence's time taken before the clock passed its last seen + expire
 * is later than the truth (cor_over_at). That matters only while the clock
 * is ahead of w: with w at or past the clock, silent for expire by the
 * clock is silent for expire by w too, and such a time is exact again. So
 * the heap is taken again from the groups then, if the clock moved since
 * it was built: at most once per clock tick, and only for a live
 * correlator whose input is caught up and whose events carry times behind
 * its clock (in --replay the clock is the watermark). Keeping every time
 * exact instead would need the sweep to look at each reported group's
 * time at every tick, for every capped absence, whether or not the cap is
 * met again. */
static int cor_over_drop(cor_eval *e, const cor_rule *r, cor_table *t, int64_t w)
{
    if (t->over && r->kind == COR_ABSENCE && e->clock > w && e->clock != t->over_clock)
        cor__over_forget(t);
    if (!t->over && cor_over_build(e, r, t) != 0)
        return -ENOMEM;
    int n = 0;
    while (t->nover && t->over[0].at <= w) {
        cor_group *g = t->over[0].g;
        if (cor_group_done(e, r, g, w)) {
            cor__del_push(e, r->id, g->key, g->keylen, 0);
            cor__table_remove(e, t, g); /* and from the heap */
            cor__group_free(e, g);
            n++;
            continue;
        }
        int64_t at = cor_over_at(e, r, g); /* exact: later than w */
        if (at <= w)
            break; /* only at INT64_MAX, where times saturate */
        t->over[0].at = at;
        cor_over_down(t, 0);
    }
    return n;
}

/* Finds or creates the group. At the rule's cap (more than one group over
 * it after a reload or a restart that lowered max_groups: the groups kept
 * from before), room is made first from groups the sweep would drop at
 * this event's time (it runs at most once per second of event time, after
 * the event), quietly: losing them loses nothing, and a degradation alert
 * for them would be false. The LRU tail is looked at first; when it is
 * live, cor_over_drop finds the over groups behind it (an absence's too:
 * one over since the sweep's last look). Only when no group is over is the
 * least recently updated one evicted, counted. */
cor_group *cor__group_get(cor_eval *e, const cor_rule *r, cor_table *t, const char *key,
                                size_t len, int64_t now, cor_emit_fn emit, void *ud)
{
    uint64_t h = cor_hash(key, len);
    cor_group *g = cor_table_find(t, key, len, h);
    if (g)
        return g;
    int evicted = 0;
    int64_t w = now > e->wm ? now : e->wm;
    while (t->count >= r->max_groups && t->tail) {
        cor_group *old = t->tail;
        int done = cor_group_done(e, r, old, w);
        if (!done && cor_over_drop(e, r, t, w) > 0)
            continue;
        cor__del_push(e, r->id, old->key, old->keylen, 0);
        cor__table_remove(e, t, old);
        cor__group_free(e, old);
        if (!done) {
            ((cor_rule *)r)->evictions++;
            e->stats.evictions++;
            t->evicted++; /* the alert's "so far": committed with the batch, */
            t->degraded_dirty = 1; /* so a restart or a redone batch counts on */
            evicted = 1;
        }
    }
    if (evicted)
        cor__degraded(e, r, t, now, 0, emit, ud);
    if (cor__table_room(t) != 0)
        return NULL;
    g = cor__group_new(e, r, key, len, h);
    if (!g)
        return NULL;
    /* Not over before w + T + 1: the event that made it, which the caller
     * counts now, is not late (at or after W - lateness). A match rule's:
     * not before w + lateness (its aux becomes w); an absence's: not
     * before its report, which tells the heap. */
    int64_t at = r->kind == COR_ABSENCE ? INT64_MAX
                 : cor_sat_add(w, r->kind == COR_MATCH ? e->rs->lateness_us
                                                       : cor_sat_add(r->timespan_us, 1));
    if (t->over && cor_over_push(t, g, at) != 0)
        cor__over_forget(t); /* built again when needed */
    cor__table_put(e, t, g);
    cor__lru_front(e, t, g);
    return g;
}

/* Keeps the raw line in the group's ring. A slot's buffer is reused when
 * it is large enough (sizes rounded up to 256 bytes), and an empty slot
 * takes one from the engine's pool first: every hit of every correlation
 * passes here, and malloc/free per hit showed in profiles. */
void cor__raw_keep(cor_eval *e, cor_group *g, vg_str raw, int64_t ts, int cut)
{
    if (!g->raw || !raw.p)
        return;
    size_t n = raw.len < COR_RAW_MAX ? raw.len : COR_RAW_MAX;
    size_t need = COR_RAW_HEAD + n + 1;
    unsigned char flags = cut || raw.len > COR_RAW_MAX ? COR_RAW_CUT : 0;
    if (g->nraw) { /* a "message repeated N times" line counts N times: kept once */
        uint32_t li = g->nraw < COR_RAW_KEEP ? g->nraw - 1
                                             : (g->rawpos + COR_RAW_KEEP - 1) % COR_RAW_KEEP;
        char *last = g->raw[li];
        if (last && cor_raw_time(last) == ts && g->rawcap[li] * (size_t)COR_RAW_UNIT >= need &&
            memcmp(cor_raw_line(last), raw.p, n) == 0 && cor_raw_line(last)[n] == '\0') {
            last[sizeof(int64_t)] |= (char)flags; /* the same first KiB, one of them cut */
            return;
        }
    }
    uint32_t at = g->nraw < COR_RAW_KEEP ? g->nraw : g->rawpos;
    char *slot = g->raw[at];
    if (!slot && e->nrawpool) {
        slot = e->rawpool[--e->nrawpool];
        g->raw[at] = slot;
        g->rawcap[at] = 1;
    }
    if (!slot || (size_t)g->rawcap[at] * COR_RAW_UNIT < need) {
        size_t units = (need + COR_RAW_UNIT - 1) / COR_RAW_UNIT;
        char *p = realloc(slot, units * COR_RAW_UNIT);
        if (!p)
            return;
        slot = g->raw[at] = p;
        g->rawcap[at] = (uint8_t)units;
    }
    memcpy(slot, &ts, sizeof(ts));
    slot[sizeof(ts)] = (char)flags;
    memcpy(slot + COR_RAW_HEAD, raw.p, n);
    slot[COR_RAW_HEAD + n] = '\0';
    if (g->nraw < COR_RAW_KEEP)
        g->nraw++;
    else
        g->rawpos = (g->rawpos + 1) % COR_RAW_KEEP;
}

/* The most entries a group keeps (event_count: times, value_count:
 * values): N, and room for events out of order within the lateness.
 * temporal_ordered: cor_seq's header (at most 2 + 2n), what one time may
 * hold (up to n times per slot, and the links of lines of several slots,
 * two entries each: 2nm), and as many entries as event_count may keep
 * beyond N. */
static uint32_t cor_room_cap(const cor_rule *r)
{
    if (r->kind == COR_TEMPORAL_ORDERED) /* + what one time may hold: cor_seq_add */
        return 2 + 2 * r->nrefs + 2 * r->nrefs * r->seq.m + COR_EC_EXTRA_MAX;
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
 * the array starts inside the group's block with room for N (cor__group_nts)
 * and moves to a block of its own only for a group that needs more. 0, or
 * -ENOMEM. */
int cor__ts_grow(const cor_rule *c, cor_group *g, uint32_t want)
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

/* Room for one more value in a value_count group (values and their times
 * move to blocks of their own, like cor__ts_grow's). 0, or -ENOMEM; a group
 * at cor_room_cap stays as it is. */
int cor__vc_grow(const cor_rule *c, cor_group *g, uint32_t want)
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

void cor__pools_free(cor_eval *e)
{
    while (e->nrawpool)
        free(e->rawpool[--e->nrawpool]);
    for (int c = 1; c <= COR_BLK_CLASSES; c++)
        while (e->blkpool[c]) {
            void *b = e->blkpool[c];
            memcpy(&e->blkpool[c], b, sizeof(void *));
            free(b);
        }
    e->blkpool_bytes = 0;
}
