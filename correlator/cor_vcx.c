/* value_count's index of a large group's values (cor_eval_int.h, cor_vcx):
 * a hash of the values, for finding the arriving one; a min-heap by (latest
 * sighting, place), for the value seen longest ago that a full group
 * forgets (the same one the scan of the places found: the first place of
 * the oldest sighting); and a list of the values by latest sighting with a
 * cursor, for counting the values seen in a window that ends at or after
 * every sighting kept (the window of an event in time order). Without it
 * each of those read every value of the group: a port scan's group of
 * 10,000 ports took 10,000 string compares and 80,000 times per line.
 * A second min-heap, by each value's earliest time kept after an edge,
 * gives a firing window's start (the earliest time in it) without reading
 * every value's times: as the edge moves on, the values whose key it
 * passed take their next time (each kept time is passed once). Its keys
 * may be low (a time since thinned out): a value's key is put right when
 * it comes to the root, so that an event in time order, which adds its
 * value's latest time, costs no move in it. A bitmap
 * by place of the values after the cursor (those in its window) gives a
 * firing's FIELD_values, in place order, without reading the places of
 * values out of the window (64 a word).
 *
 * The index is built from the group (cor__vcx_build) and holds nothing the
 * group does not: it is not saved, and a group restored builds it again.
 * Out of memory, it is dropped and cor_window.c reads the places as before. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cor_eval_int.h"

#define NIL UINT32_MAX

struct cor_vcx_v {
    uint32_t h;          /* hash of the value */
    uint32_t prev, next; /* the list by latest sighting, oldest first */
    uint32_t hpos;       /* place in heap, NIL while out of it */
    uint32_t fpos;       /* place in fheap, NIL while out of it */
    int64_t fkey;        /* in fheap: at most its earliest time kept after fedge */
};

struct cor_vcx {
    uint32_t cap;   /* values v and heap have room for */
    uint32_t mask;  /* slots - 1: a power of two, at least twice cap */
    uint32_t *slot; /* value index + 1 (0: empty), linear probing */
    struct cor_vcx_v *v;
    uint32_t *heap, nheap;
    /* the list; cur is its first value seen after edge, nstale the values
     * before it (so seen at or before edge) */
    uint32_t head, tail, cur, nstale, nlist;
    int64_t edge;
    /* the values with a time kept after fedge, by the earliest such */
    uint32_t *fheap, nfheap;
    int64_t fedge;
    uint64_t *live; /* bit k: value k is in the list after the cursor */
    uint32_t nv;    /* places whose entry in v was ever set */
};

static inline int64_t vx_last(const cor_group *g, uint32_t k)
{
    return cor_vc_times(g, k)[COR_VC_TIMES - 1];
}

static uint32_t vx_hash(const char *p, size_t n)
{
    uint64_t h = cor_hash(p, n);
    return (uint32_t)(h ^ (h >> 32));
}

size_t cor__vcx_free(cor_group *g)
{
    cor_vcx *x = g->vx;
    if (!x)
        return 0;
    size_t n = sizeof(*x) + (x->slot ? ((size_t)x->mask + 1) * sizeof(*x->slot) : 0) +
               (size_t)x->cap * (sizeof(*x->v) + sizeof(*x->heap) + sizeof(*x->fheap)) +
               ((size_t)x->cap + 63) / 64 * sizeof(*x->live);
    free(x->slot);
    free(x->v);
    free(x->heap);
    free(x->fheap);
    free(x->live);
    free(x);
    g->vx = NULL;
    return n;
}

/* ---- the hash ------------------------------------------------------------- */

static void vx_slot_put(cor_vcx *x, uint32_t k)
{
    uint32_t s = x->v[k].h & x->mask;
    while (x->slot[s])
        s = (s + 1) & x->mask;
    x->slot[s] = k + 1;
}

/* Room for values up to g->tcap (a group grows: cor__vc_grow): 0, or
 * -ENOMEM with x whole (its room as it was). */
static int vx_room(cor_vcx *x, const cor_group *g)
{
    uint32_t cap = g->tcap;
    if (cap <= x->cap)
        return 0;
    struct cor_vcx_v *v = realloc(x->v, (size_t)cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    x->v = v;
    uint32_t *heap = realloc(x->heap, (size_t)cap * sizeof(*heap));
    if (!heap)
        return -ENOMEM;
    x->heap = heap;
    uint32_t *fheap = realloc(x->fheap, (size_t)cap * sizeof(*fheap));
    if (!fheap)
        return -ENOMEM;
    x->fheap = fheap;
    size_t nw = ((size_t)cap + 63) / 64, nw0 = ((size_t)x->cap + 63) / 64;
    uint64_t *live = realloc(x->live, nw * sizeof(*live));
    if (!live)
        return -ENOMEM;
    memset(live + nw0, 0, (nw - nw0) * sizeof(*live));
    x->live = live;
    uint32_t ns = 64;
    while (ns < 2 * (uint64_t)cap)
        ns *= 2;
    if (ns - 1 > x->mask) {
        uint32_t *slot = calloc(ns, sizeof(*slot)), *was = x->slot;
        uint32_t nwas = was ? x->mask + 1 : 0;
        if (!slot)
            return -ENOMEM;
        x->slot = slot;
        x->mask = ns - 1;
        for (uint32_t s = 0; s < nwas; s++) /* what the hash held, again */
            if (was[s])
                vx_slot_put(x, was[s] - 1);
        free(was);
    }
    x->cap = cap;
    return 0;
}

uint32_t cor__vcx_find(const cor_group *g, vg_str val)
{
    const cor_vcx *x = g->vx;
    uint32_t h = vx_hash(val.p, val.len);
    for (uint32_t s = h & x->mask; x->slot[s]; s = (s + 1) & x->mask) {
        uint32_t k = x->slot[s] - 1;
        if (x->v[k].h == h && strncmp(g->vals[k], val.p, val.len) == 0 &&
            g->vals[k][val.len] == '\0')
            return k;
    }
    return UINT32_MAX;
}

/* Takes value k out of the hash: backward-shift deletion, so that a probe
 * never stops at a hole left by it. */
static void vx_slot_del(cor_vcx *x, uint32_t k)
{
    uint32_t s = x->v[k].h & x->mask;
    while (x->slot[s] != k + 1) {
        if (!x->slot[s])
            return; /* not there */
        s = (s + 1) & x->mask;
    }
    for (uint32_t j = (s + 1) & x->mask; x->slot[j]; j = (j + 1) & x->mask) {
        uint32_t home = x->v[x->slot[j] - 1].h & x->mask;
        /* the entry at j may move to s if s is between its home and j */
        if (((j - home) & x->mask) >= ((j - s) & x->mask)) {
            x->slot[s] = x->slot[j];
            s = j;
        }
    }
    x->slot[s] = 0;
}

/* ---- the heap: the value seen longest ago at its root --------------------- */

/* Whether value a is older than b: its latest sighting earlier, or the same
 * at an earlier place (the scan of the places took the first). */
static inline int vx_older(const cor_group *g, uint32_t a, uint32_t b)
{
    int64_t ta = vx_last(g, a), tb = vx_last(g, b);
    return ta < tb || (ta == tb && a < b);
}

static void vx_heap_set(cor_vcx *x, uint32_t i, uint32_t k)
{
    x->heap[i] = k;
    x->v[k].hpos = i;
}

static void vx_heap_up(const cor_group *g, cor_vcx *x, uint32_t i)
{
    uint32_t k = x->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!vx_older(g, k, x->heap[p]))
            break;
        vx_heap_set(x, i, x->heap[p]);
        i = p;
    }
    vx_heap_set(x, i, k);
}

static void vx_heap_down(const cor_group *g, cor_vcx *x, uint32_t i)
{
    uint32_t k = x->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= x->nheap)
            break;
        if (c + 1 < x->nheap && vx_older(g, x->heap[c + 1], x->heap[c]))
            c++;
        if (!vx_older(g, x->heap[c], k))
            break;
        vx_heap_set(x, i, x->heap[c]);
        i = c;
    }
    vx_heap_set(x, i, k);
}

static void vx_heap_del(const cor_group *g, cor_vcx *x, uint32_t k)
{
    uint32_t i = x->v[k].hpos;
    if (i == NIL)
        return;
    x->v[k].hpos = NIL;
    uint32_t last = x->heap[--x->nheap];
    if (last == k)
        return;
    vx_heap_set(x, i, last);
    vx_heap_up(g, x, i);
    vx_heap_down(g, x, x->v[last].hpos);
}

/* ---- the heap of first times after fedge ---------------------------------- */

/* Value k's earliest time kept after edge, INT64_MAX if none (its times
 * are oldest first). */
static int64_t vx_first_after(const cor_group *g, uint32_t k, int64_t edge)
{
    const int64_t *t = cor_vc_times(g, k);
    for (int j = 0; j < COR_VC_TIMES; j++)
        if (t[j] != INT64_MIN && t[j] > edge)
            return t[j];
    return INT64_MAX;
}

static void vx_fheap_set(cor_vcx *x, uint32_t i, uint32_t k)
{
    x->fheap[i] = k;
    x->v[k].fpos = i;
}

static void vx_fheap_up(cor_vcx *x, uint32_t i)
{
    uint32_t k = x->fheap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (x->v[x->fheap[p]].fkey <= x->v[k].fkey)
            break;
        vx_fheap_set(x, i, x->fheap[p]);
        i = p;
    }
    vx_fheap_set(x, i, k);
}

static void vx_fheap_down(cor_vcx *x, uint32_t i)
{
    uint32_t k = x->fheap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= x->nfheap)
            break;
        if (c + 1 < x->nfheap && x->v[x->fheap[c + 1]].fkey < x->v[x->fheap[c]].fkey)
            c++;
        if (x->v[x->fheap[c]].fkey >= x->v[k].fkey)
            break;
        vx_fheap_set(x, i, x->fheap[c]);
        i = c;
    }
    vx_fheap_set(x, i, k);
}

static void vx_fheap_del(cor_vcx *x, uint32_t k)
{
    uint32_t i = x->v[k].fpos;
    if (i == NIL)
        return;
    x->v[k].fpos = NIL;
    uint32_t last = x->fheap[--x->nfheap];
    if (last == k)
        return;
    vx_fheap_set(x, i, last);
    vx_fheap_up(x, i);
    vx_fheap_down(x, x->v[last].fpos);
}

/* Value k's times changed: in fheap if it has a time after fedge, its key
 * lowered to it if lower. A key left higher than a time thinned out is
 * put right at the root (cor__vcx_first). */
static void vx_fheap_moved(const cor_group *g, cor_vcx *x, uint32_t k)
{
    int64_t f = vx_first_after(g, k, x->fedge);
    if (f == INT64_MAX)
        return; /* not in fheap: a value that had one still has it */
    if (x->v[k].fpos == NIL) {
        x->v[k].fkey = f;
        vx_fheap_set(x, x->nfheap++, k);
        vx_fheap_up(x, x->nfheap - 1);
    } else if (f < x->v[k].fkey) {
        x->v[k].fkey = f;
        vx_fheap_up(x, x->v[k].fpos);
    }
}

/* fheap keyed again from edge, every value read: at the build, and for an
 * edge before fedge (a window earlier than the last asked for). */
static void vx_fheap_build(const cor_group *g, cor_vcx *x, int64_t edge)
{
    x->fedge = edge;
    x->nfheap = 0;
    for (uint32_t k = 0; k < g->n; k++) {
        int64_t f = vx_first_after(g, k, edge);
        x->v[k].fpos = NIL;
        if (f == INT64_MAX)
            continue;
        x->v[k].fkey = f;
        vx_fheap_set(x, x->nfheap++, k);
    }
    for (uint32_t i = x->nfheap / 2; i-- > 0;)
        vx_fheap_down(x, i);
}

/* ---- the list by latest sighting, and its cursor ------------------------ */

static inline void vx_live_set(cor_vcx *x, uint32_t k, int on)
{
    if (on)
        x->live[k / 64] |= UINT64_C(1) << (k % 64);
    else
        x->live[k / 64] &= ~(UINT64_C(1) << (k % 64));
}

static void vx_list_del(const cor_group *g, cor_vcx *x, uint32_t k)
{
    struct cor_vcx_v *e = &x->v[k];
    vx_live_set(x, k, 0);
    if (vx_last(g, k) <= x->edge)
        x->nstale--; /* before the cursor */
    else if (x->cur == k)
        x->cur = e->next;
    if (e->prev != NIL)
        x->v[e->prev].next = e->next;
    else
        x->head = e->next;
    if (e->next != NIL)
        x->v[e->next].prev = e->prev;
    else
        x->tail = e->prev;
    x->nlist--;
}

/* Puts k after the last value seen at or before its latest sighting: from
 * the tail, so one step for an event in time order. */
static void vx_list_add(const cor_group *g, cor_vcx *x, uint32_t k)
{
    int64_t t = vx_last(g, k);
    uint32_t p = x->tail;
    while (p != NIL && vx_last(g, p) > t)
        p = x->v[p].prev;
    struct cor_vcx_v *e = &x->v[k];
    e->prev = p;
    e->next = p != NIL ? x->v[p].next : x->head;
    if (p != NIL)
        x->v[p].next = k;
    else
        x->head = k;
    if (e->next != NIL)
        x->v[e->next].prev = k;
    else
        x->tail = k;
    x->nlist++;
    /* the values before the cursor are those seen at or before edge, and
     * every one after k was seen after t */
    vx_live_set(x, k, t > x->edge);
    if (t <= x->edge)
        x->nstale++;
    else if (e->next == x->cur)
        x->cur = k;
}

/* Moves the cursor to edge. */
static void vx_cursor(const cor_group *g, cor_vcx *x, int64_t edge)
{
    if (edge >= x->edge) {
        while (x->cur != NIL && vx_last(g, x->cur) <= edge) {
            vx_live_set(x, x->cur, 0);
            x->cur = x->v[x->cur].next;
            x->nstale++;
        }
    } else {
        for (;;) {
            uint32_t p = x->cur != NIL ? x->v[x->cur].prev : x->tail;
            if (p == NIL || vx_last(g, p) <= edge)
                break;
            x->cur = p;
            vx_live_set(x, p, 1);
            x->nstale--;
        }
    }
    x->edge = edge;
}

/* ---- what cor_window.c calls ---------------------------------------------- */

typedef struct vx_pt {
    int64_t t;
    uint32_t k;
} vx_pt;

static int vx_pt_cmp(const void *a, const void *b)
{
    const vx_pt *p = a, *q = b;
    return p->t < q->t ? -1 : p->t > q->t ? 1 : (p->k > q->k) - (p->k < q->k);
}

int cor__vcx_build(cor_group *g)
{
    cor_vcx *x = calloc(1, sizeof(*x));
    vx_pt *pt = malloc((size_t)g->n * sizeof(*pt));
    if (!x || !pt)
        goto nomem;
    x->head = x->tail = x->cur = NIL;
    x->edge = INT64_MIN;
    if (vx_room(x, g) != 0)
        goto nomem;
    for (uint32_t k = 0; k < g->n; k++) {
        x->v[k].h = vx_hash(g->vals[k], strlen(g->vals[k]));
        vx_slot_put(x, k);
        x->heap[k] = k;
        x->v[k].hpos = k;
        pt[k] = (vx_pt){vx_last(g, k), k};
    }
    x->nheap = g->n;
    for (uint32_t i = g->n / 2; i-- > 0;)
        vx_heap_down(g, x, i);
    vx_fheap_build(g, x, INT64_MIN);
    x->nv = g->n;
    qsort(pt, g->n, sizeof(*pt), vx_pt_cmp);
    for (uint32_t i = 0; i < g->n; i++) {
        struct cor_vcx_v *e = &x->v[pt[i].k];
        e->prev = i ? pt[i - 1].k : NIL;
        e->next = i + 1 < g->n ? pt[i + 1].k : NIL;
    }
    x->head = g->n ? pt[0].k : NIL;
    x->tail = g->n ? pt[g->n - 1].k : NIL;
    x->cur = x->head;
    x->nlist = g->n;
    for (uint32_t k = 0; k < g->n; k++) /* after the cursor at INT64_MIN, but for... */
        vx_live_set(x, k, 1);
    g->vx = x;
    vx_cursor(g, x, INT64_MIN); /* ...values never seen (none, but for a record's) */
    free(pt);
    return 0;
nomem:
    if (x) {
        free(x->slot);
        free(x->v);
        free(x->heap);
        free(x->fheap);
        free(x->live);
        free(x);
    }
    free(pt);
    return -ENOMEM;
}

int cor__vcx_put(cor_group *g, uint32_t k)
{
    cor_vcx *x = g->vx;
    if (!x)
        return 0;
    if (vx_room(x, g) != 0) {
        cor__vcx_free(g);
        return -ENOMEM;
    }
    x->v[k].h = vx_hash(g->vals[k], strlen(g->vals[k]));
    x->v[k].hpos = NIL;
    if (k >= x->nv) { /* a new place; a place reused keeps its fheap entry */
        x->v[k].fpos = NIL;
        x->nv = k + 1;
    }
    vx_slot_put(x, k);
    return 0;
}

void cor__vcx_drop(cor_group *g, uint32_t k)
{
    cor_vcx *x = g->vx;
    if (!x)
        return;
    vx_slot_del(x, k);
    cor__vcx_moving(g, k);
    /* k stays in fheap: the value dropped is the one seen longest ago, so
     * its key is at most the next value's there, whose cor__vcx_moved
     * lowers it if needed (one move fewer at the cap, for each new value) */
}

void cor__vcx_moving(cor_group *g, uint32_t k)
{
    cor_vcx *x = g->vx;
    if (!x)
        return;
    vx_list_del(g, x, k);
    vx_heap_del(g, x, k);
}

void cor__vcx_moved(cor_group *g, uint32_t k)
{
    cor_vcx *x = g->vx;
    if (!x)
        return;
    vx_list_add(g, x, k);
    vx_heap_set(x, x->nheap++, k);
    vx_heap_up(g, x, x->nheap - 1);
    vx_fheap_moved(g, x, k);
}

uint32_t cor__vcx_oldest(const cor_group *g)
{
    return g->vx->nheap ? g->vx->heap[0] : 0;
}

int64_t cor__vcx_latest(const cor_group *g)
{
    return g->vx->tail != NIL ? vx_last(g, g->vx->tail) : INT64_MIN;
}

uint32_t cor__vcx_after(cor_group *g, int64_t edge)
{
    cor_vcx *x = g->vx;
    vx_cursor(g, x, edge);
    return x->nlist - x->nstale;
}

int64_t cor__vcx_first(cor_group *g, int64_t edge)
{
    cor_vcx *x = g->vx;
    if (edge < x->fedge) {
        vx_fheap_build(g, x, edge);
        return x->nfheap ? x->v[x->fheap[0]].fkey : INT64_MAX;
    }
    x->fedge = edge;
    /* the root's key put right until it holds: then it is the least */
    while (x->nfheap) {
        uint32_t k = x->fheap[0];
        int64_t f = vx_first_after(g, k, edge);
        if (f == x->v[k].fkey)
            return f;
        if (f == INT64_MAX) {
            vx_fheap_del(x, k);
        } else {
            x->v[k].fkey = f;
            vx_fheap_down(x, 0);
        }
    }
    return INT64_MAX;
}

uint32_t cor__vcx_next_live(const cor_group *g, uint32_t k)
{
    const cor_vcx *x = g->vx;
    if (k >= g->n)
        return UINT32_MAX;
    size_t w = k / 64, nw = ((size_t)g->n + 63) / 64;
    uint64_t bits = x->live[w] & (~UINT64_C(0) << (k % 64));
    while (!bits) {
        if (++w >= nw)
            return UINT32_MAX;
        bits = x->live[w];
    }
    uint32_t at = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
    return at < g->n ? at : UINT32_MAX;
}
