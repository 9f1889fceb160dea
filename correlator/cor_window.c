/* Correlations (docs/rules.md has their exact semantics): a hit of a
 * referenced rule is added to its group, and the group's kept times (and
 * values) tell whether a window of the rule is now complete. Each type keeps
 * only what a window with an event still to come may need, and says below
 * why what it drops cannot change an alert. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_eval_int.h"
#include "cor_seq.h"

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

/* The earliest window of N consecutive kept times of event_count group g
 * that holds the time at index pos, spans less than T and ends at or after
 * the group's suppression: 1 and out filled, else 0. */
static int cor_ec_window(const cor_rule *c, const cor_group *g, uint32_t pos, cor_hit *out)
{
    uint32_t N = (uint32_t)c->threshold;
    if (g->n < N)
        return 0;
    uint32_t j = pos >= N - 1 ? pos - (N - 1) : 0, last = pos < g->n - N ? pos : g->n - N;
    for (; j <= last; j++)
        if (g->ts[j + N - 1] - g->ts[j] < c->timespan_us &&
            g->ts[j + N - 1] >= g->suppress_until) {
            out->first = g->ts[j];
            out->ts = g->ts[j + N - 1];
            out->count = N;
            return 1;
        }
    return 0;
}

/* Adds time ts to an event_count group. Returns 1 (and fills out) when a
 * window of N events holding ts spans less than T and ends at or after the
 * group's suppression, else 0. *at gets the index ts was kept at (for
 * cor_ec_window), UINT32_MAX if it was not kept.
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
static int cor_ec_add(cor_eval *e, cor_rule *c, cor_group *g, int64_t ts, cor_hit *out,
                      uint32_t *at)
{
    *at = UINT32_MAX;
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
        (void)cor__ts_grow(c, g, g->n + 1); /* may stay full: at the cap, or out of memory */
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
    *at = pos;
    /* the windows of N consecutive times that hold ts, earliest first, of
     * those that end at or after the suppression (a late event may complete
     * one that ends after it) */
    return cor_ec_window(c, g, pos, out);
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

/* The number of distinct values seen in (end - T, end]. With an index and
 * no *first wanted, a window that ends at or after every sighting kept (in
 * time order, the arriving event's) holds the values seen last after its
 * start: counted by the index (cor_vcx.c). */
static uint32_t cor_vc_live(cor_group *g, int64_t T, int64_t end, int64_t *first)
{
    if (g->vx && !first && end >= cor__vcx_latest(g))
        return cor__vcx_after(g, end - T);
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
 * 'trimmed'. Returns 1 when that is ts itself (older than every time kept:
 * cor_vc_add still judges the window ending at it), else 0. */
static int cor_vc_time(cor_eval *e, cor_rule *c, cor_group *g, uint32_t k, int64_t ts,
                       int64_t L, int64_t dead)
{
    int64_t *t = cor_vc_times(g, k), p[COR_VC_TIMES + 1];
    int n = 0;
    for (int j = 0; j < COR_VC_TIMES; j++) {
        if (t[j] == ts)
            return 0;
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
    int self = 0;
    if (n > COR_VC_TIMES) {
        c->trimmed++;
        e->stats.trimmed++;
        self = p[0] == ts;
        memmove(p, p + 1, (size_t)(n - 1) * sizeof(int64_t));
        n--;
    }
    for (int j = 0; j < COR_VC_TIMES; j++)
        t[j] = j < COR_VC_TIMES - n ? INT64_MIN : p[j - (COR_VC_TIMES - n)];
    return self;
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

/* The sweep of cor_vc_add (below): sets *end to the earliest kept time y in
 * [from, ts + T) whose window (y - T, y] holds need distinct values (so
 * also ts, when from >= ts), and leaves it alone if there is none. 0, or
 * -ENOMEM. */
static int cor_vc_sweep(const cor_rule *c, const cor_group *g, int64_t ts, uint32_t need,
                        int64_t from, int64_t *end)
{
    int64_t T = c->timespan_us;
    if (g->last_us < from)
        return 0; /* no time kept at or after from (an event inside the suppression) */
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

/* Adds value v at time ts to a value_count group and sets *end to the end
 * of the earliest window holding ts with N distinct values that ends at or
 * after the group's suppression, or to ts if there is none. In time order
 * that window can only end at ts; an event out of order may complete one
 * that ends at a later time, within T: the times in (ts - T, ts + T) are
 * swept in order (a window per time), with a count per value. A time
 * thinned by cor_vc_time is not missed as an end: the window at the kept
 * time before it holds every value it holds (unless that one is inside the
 * suppression: see docs/rules.md). *self is UINT32_MAX, or v's index when
 * ts, older than the 8 times v keeps, was the one trimmed and its own
 * window (ts - T, ts] fires with it: v counts there unkept (cor_vc_fire),
 * as event_count's trimmed oldest time still completes its window. A later
 * window that only ts would complete is missed (counted in 'trimmed'). Only
 * at the cap, for an event out of order. 0, or -ENOMEM. */
static int cor_vc_add(cor_eval *e, cor_rule *c, cor_group *g, vg_str v, int64_t ts,
                      uint32_t need, int64_t *end, uint32_t *self)
{
    int64_t T = c->timespan_us, L = e->wm - e->rs->lateness_us, dead = cor_dead(e, c, g);
    uint32_t i = 0;
    int later = 0;
    /* a group of many values finds them by its index (built once, here) */
    if (!g->vx && g->n >= COR_VCX_MIN && c->kind == COR_VALUE_COUNT)
        (void)cor__vcx_build(g); /* out of memory: the places are read */
    /* a time kept after ts: none when ts is the group's latest (last_us,
     * already raised to it), as it is in time order */
    if (g->vx)
        later = cor__vcx_latest(g) > ts;
    for (uint32_t k = 0; k < g->n && !later && !g->vx && g->last_us > ts; k++)
        later = cor_vc_times(g, k)[COR_VC_TIMES - 1] > ts;
    if (g->vx) {
        i = cor__vcx_find(g, v);
        if (i == UINT32_MAX)
            i = g->n;
    } else {
        while (i < g->n &&
               !(strlen(g->vals[i]) == v.len && memcmp(g->vals[i], v.p, v.len) == 0))
            i++;
    }
    if (i == g->n) {
        char *nv = strndup(v.p, v.len);
        if (!nv)
            return -ENOMEM;
        i = g->n;
        if (g->n == g->tcap && g->tcap < need)
            (void)cor__vc_grow(c, g, g->n + 1); /* room for N comes as it fills */
        if (g->n == g->tcap) {
            /* full: the value seen longest ago makes room if no window
             * with an event to come can need it (all its times are dead).
             * Else the group grows, up to its cap: even in time order, an
             * event arriving late may still need it. */
            uint32_t old = 0;
            if (g->vx)
                old = cor__vcx_oldest(g);
            else
                for (uint32_t k = 1; k < g->n; k++)
                    if (cor_vc_times(g, k)[COR_VC_TIMES - 1] <
                        cor_vc_times(g, old)[COR_VC_TIMES - 1])
                        old = k;
            int64_t seen = cor_vc_times(g, old)[COR_VC_TIMES - 1];
            if (seen > dead)
                (void)cor__vc_grow(c, g, g->n + 1);
            if (g->n == g->tcap) {
                if (seen > dead) {
                    c->trimmed++;
                    e->stats.trimmed++;
                }
                cor__vcx_drop(g, old);
                free(g->vals[old]);
                i = old; /* its slot */
            }
        }
        if (i == g->n)
            g->n++;
        g->vals[i] = nv;
        for (int j = 0; j < COR_VC_TIMES; j++)
            cor_vc_times(g, i)[j] = INT64_MIN;
        (void)cor__vcx_put(g, i); /* out of memory: the index goes */
    } else {
        cor__vcx_moving(g, i);
    }
    int gone = cor_vc_time(e, c, g, i, ts, L, dead);
    cor__vcx_moved(g, i);
    *end = ts;
    *self = UINT32_MAX;
    if (gone && ts >= g->suppress_until &&
        cor_vc_live(g, T, ts, NULL) + !cor_vc_in(g, i, T, ts, NULL) >= need) {
        *self = i;
        return 0;
    }
    int64_t from = ts > g->suppress_until ? ts : g->suppress_until;
    if (!later || (from == ts && cor_vc_live(g, T, ts, NULL) >= need))
        return 0;
    return cor_vc_sweep(c, g, ts, need, from, end);
}

/* Room for value_count's FIELD_values field: out's views point here. */
typedef struct cor_vc_names {
    char joined[2048], fname[160];
} cor_vc_names;

/* Fills out for the window (end - T, end] of a value_count or temporal
 * group if it holds need distinct values: 1, else 0. Value self (unless
 * UINT32_MAX) counts as seen at end, a sighting not kept (cor_vc_add).
 * value_count adds the values as FIELD_values (views into *vo). */
static int cor_vc_fire(const cor_rule *c, cor_group *g, int64_t end, uint32_t need,
                       uint32_t self, cor_hit *out, cor_vc_names *vo)
{
    /* a window inside the suppression fires nothing (cor_correlate_group):
     * not counted, which in a large group would read every value */
    if (end < g->suppress_until)
        return 0;
    int64_t first = end;
    uint32_t live = cor_vc_live(g, c->timespan_us, end, NULL);
    if (self != UINT32_MAX && !cor_vc_in(g, self, c->timespan_us, end, NULL))
        live++;
    if (live < need)
        return 0;
    /* its start: with an index, a window ending at or after every time
     * kept (an event in time order) starts at the earliest time kept after
     * its edge, which the index keeps */
    if (g->vx && end >= cor__vcx_latest(g)) {
        int64_t f = cor__vcx_first(g, end - c->timespan_us);
        if (f < first)
            first = f;
    } else {
        (void)cor_vc_live(g, c->timespan_us, end, &first);
    }
    out->first = first;
    out->ts = end;
    out->count = c->kind == COR_TEMPORAL ? c->nrefs : live;
    if (c->kind != COR_VALUE_COUNT)
        return 1;
    /* the distinct values, for the analyst; an empty one is a value too
     * (a comma after it), so the list has as many as count says, up to
     * what fits: whole values only (a port scan's 10341 cut to "1" named a
     * port that was not scanned), but for a first value longer than all */
    size_t jl = 0, cap = sizeof(vo->joined);
    uint32_t listed = 0;
    /* with an index and the window counted by it (end at or after every
     * time kept), its bitmap names the values in the window: the places
     * of the others are not read */
    int by_index = g->vx && end >= cor__vcx_latest(g);
    for (uint32_t k = 0; k < g->n && jl < cap - 1; k++) {
        if (by_index) {
            uint32_t nk = cor__vcx_next_live(g, k);
            k = self >= k && self < nk ? self : nk; /* self counts, kept or not */
            if (k == UINT32_MAX)
                break;
        } else if (k != self && !cor_vc_in(g, k, c->timespan_us, end, NULL)) {
            continue;
        }
        size_t l = strlen(g->vals[k]);
        if (listed && jl + 1 + l > cap - 1)
            break;
        if (listed++)
            vo->joined[jl++] = ',';
        memcpy(vo->joined + jl, g->vals[k], l < cap - 1 - jl ? l : cap - 1 - jl);
        jl += l; /* past cap - 1: the first value, cut below */
    }
    if (jl >= cap)
        jl = cap - 1;
    vo->joined[jl] = '\0';
    snprintf(vo->fname, sizeof(vo->fname), "%s_values", c->field);
    if (out->nf < VG_ALERT_MAX_FIELDS)
        out->f[out->nf++] = (vg_kv){vg_str_c(vo->fname), vg_str_n(vo->joined, jl)};
    return 1;
}

/* How far group g of correlation c got in the window (ts - T, ts]: events
 * (event_count), distinct values (value_count), rules (temporal) or steps
 * from the first in order (temporal_ordered), for --explain and --groups.
 * Counts what the group keeps: below the threshold that is every event of
 * the window (the times cor_ec_add drops cannot be in a window short of
 * N); in a suppression only what may count toward a window after it. */
static uint32_t cor_progress(const cor_rule *c, const cor_group *g, int64_t ts)
{
    int64_t T = c->timespan_us;
    uint32_t k = 0;
    switch (c->kind) {
    case COR_EVENT_COUNT:
        for (uint32_t i = 0; i < g->n; i++)
            k += g->ts[i] > ts - T && g->ts[i] <= ts;
        return k;
    case COR_VALUE_COUNT:
    case COR_TEMPORAL: /* by the scan: the index's cursor moves (cor_vc_live) */
        for (uint32_t i = 0; i < g->n; i++)
            k += (uint32_t)cor_vc_in(g, i, T, ts, NULL);
        return k;
    case COR_TEMPORAL_ORDERED:
        return g->n ? cor_seq_progress(&c->seq, g->ts, T, ts) : 0;
    default:
        return 0;
    }
}

/* What c needs to fire, in cor_progress's unit. */
static uint32_t cor_progress_need(const cor_rule *c)
{
    return c->kind == COR_EVENT_COUNT || c->kind == COR_VALUE_COUNT ? (uint32_t)c->threshold
                                                                    : c->nrefs;
}

/* For --explain and --test-rules: where group g of correlation c stands
 * after a hit at ts that raised no alert ("4 of 6 events ..."), so that an
 * engineer sees how far a correlation got, not only that it did not fire. */
static void cor_trace_progress(cor_eval *e, const cor_rule *c, const cor_group *g, int64_t ts,
                               const cor_hit *out)
{
    char v[700], t[64];
    size_t n = 0, cap = sizeof(v);
    int64_t T = c->timespan_us;
    double Ts = (double)T / 1e6;
    if (c->kind == COR_ABSENCE) {
        cor__trace_time(t, sizeof(t), g->aux + T);
        snprintf(v, cap, "seen: an alert if the group stays silent until %s (%g s)", t, Ts);
        e->trace(e->trace_ud, c, v, out->f, c->ngroup);
        return;
    }
    if (g->suppress_until > ts) {
        cor__trace_time(t, sizeof(t), g->suppress_until);
        n = (size_t)snprintf(v, cap, "suppressed until %s (suppress %g s after an alert); "
                             "toward the next alert: ", t, (double)c->suppress_us / 1e6);
    } else {
        n = (size_t)snprintf(v, cap, "counted: ");
    }
    uint32_t k = cor_progress(c, g, ts), need = cor_progress_need(c);
    switch (c->kind) {
    case COR_EVENT_COUNT:
        snprintf(v + n, cap - n, "%u of %u events in the %g s window ending at this event", k,
                 need, Ts);
        break;
    case COR_VALUE_COUNT:
        snprintf(v + n, cap - n, "%u of %u distinct '%s' in the %g s window ending at this "
                 "event", k, need, c->field, Ts);
        break;
    case COR_TEMPORAL:
        n += (size_t)snprintf(v + n, cap - n, "%u of %u rules in the %g s window ending at this "
                              "event", k, need, Ts);
        for (uint32_t r = 0, missing = 0; r < c->nrefs && n < cap; r++) {
            uint32_t i = 0;
            char pos[12];
            snprintf(pos, sizeof(pos), "%u", r);
            while (i < g->n && strcmp(g->vals[i], pos) != 0)
                i++;
            if (i == g->n || !cor_vc_in(g, i, T, ts, NULL))
                n += (size_t)snprintf(v + n, cap - n, "%s %s", missing++ ? "," : "; missing:",
                                      e->rs->rules[c->ref_idx[r]].id);
        }
        break;
    case COR_TEMPORAL_ORDERED:
        n += (size_t)snprintf(v + n, cap - n, "%u of %u steps in order in the %g s window "
                              "ending at this event", k, need, Ts);
        if (k < need && n < cap)
            snprintf(v + n, cap - n, "; next: %s", e->rs->rules[c->ref_idx[k]].id);
        break;
    default:
        return;
    }
    e->trace(e->trace_ud, c, v, out->f, c->ngroup);
}

void cor__group_view(const cor_rule *c, const cor_group *g, cor_group_view *gv)
{
    *gv = (cor_group_view){.last = g->last_us, .suppress_until = g->suppress_until};
    gv->nf = cor__key_fields(c, g, gv->f);
    if (c->kind == COR_ABSENCE) {
        gv->last = g->aux;
        gv->fired = g->fired;
    } else {
        gv->have = cor_progress(c, g, g->last_us);
        gv->need = cor_progress_need(c);
    }
}

int cor_eval_groups(cor_eval *e, uint32_t ri, int (*fn)(void *ud, const cor_group_view *gv),
                    void *ud)
{
    if (ri >= e->rs->n || e->rs->rules[ri].kind == COR_MATCH)
        return 0;
    const cor_rule *c = &e->rs->rules[ri];
    for (const cor_group *g = e->tables[ri].head; g; g = g->next) {
        cor_group_view gv;
        cor__group_view(c, g, &gv);
        int rc = fn(ud, &gv);
        if (rc)
            return rc;
    }
    return 0;
}

static int cor_correlate_group(cor_eval *e, cor_rule *c, cor_table *t, cor_group *g,
                               uint32_t refpos, const cor_hit *in, vg_str v, cor_hit *out,
                               cor_emit_fn emit, void *ud);

/* The slots of temporal_ordered group g the current line (a match rule's
 * hit) is buffered in: one line may match several rules of the list, and
 * fills one step only (docs/rules.md). g->aux holds the line (the low 32
 * bits of evno) and the index + 1 of its latest entry; entries of other
 * occurrences follow by next. NULL for a correlation's hit (an alert is an
 * event of its own), for an occurrence past COR_SEQ_OCC of a repeated line
 * (then it counts as a new event in each slot: the line's other
 * occurrences, as many, fill any steps it could) and out of memory. */
static struct cor_seen *cor_seen_of(cor_eval *e, cor_group *g, const cor_hit *in)
{
    if (in->r->kind != COR_MATCH || e->occ >= COR_SEQ_OCC)
        return NULL;
    if (e->seen_evno != e->evno) {
        e->seen_evno = e->evno;
        e->nseen = 0;
    }
    uint32_t tag = (uint32_t)e->evno, head = UINT32_MAX;
    if ((uint32_t)((uint64_t)g->aux >> 32) == tag) {
        uint32_t i = (uint32_t)g->aux - 1;
        if (i < e->nseen && e->seen[i].g == g)
            head = i;
        for (; i < e->nseen && e->seen[i].g == g; i = e->seen[i].next)
            if (e->seen[i].occ == e->occ)
                return &e->seen[i];
    }
    if (e->nseen == e->capseen) {
        uint32_t ncap = e->capseen ? 2 * e->capseen : 64;
        struct cor_seen *p = realloc(e->seen, ncap * sizeof(*p));
        if (!p)
            return NULL;
        e->seen = p;
        e->capseen = ncap;
    }
    e->seen[e->nseen] = (struct cor_seen){g, e->occ, 0, head};
    g->aux = (int64_t)((uint64_t)tag << 32 | (e->nseen + 1));
    return &e->seen[e->nseen++];
}

/* Is key FIELD_values, the name value_count gives its values (cor_vc_fire)? */
static bool cor_is_values_key(vg_str key, const char *field)
{
    size_t fl = strlen(field);
    return key.len == fl + sizeof("_values") - 1 && memcmp(key.p, field, fl) == 0 &&
           memcmp(key.p + fl, "_values", sizeof("_values") - 1) == 0;
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
        if (e->trace) {
            char v[200], tm[64];
            cor__trace_time(tm, sizeof(tm), e->wm - e->rs->lateness_us);
            snprintf(v, sizeof(v), "late: not counted (the event is before %s, the newest event "
                     "time less the allowed lateness; counted in late)", tm);
            e->trace(e->trace_ud, c, v, NULL, 0);
        }
        return 0;
    }
    /* the incoming hit's fields, for group_by and value_count */
    cor_ctx src;
    cor_ctx_init(&src, in->ctx->ev);
    for (uint32_t i = 0; i < in->nf; i++)
        src.f[src.nf++] = in->f[i];
    for (uint32_t i = 0; i < in->ctx->nf && src.nf < VG_ALERT_MAX_FIELDS; i++)
        src.f[src.nf++] = in->ctx->f[i];
    /* value_count ignores an event without its field before the group
     * table: it creates, refreshes and evicts nothing (docs/rules.md) */
    vg_str v = c->kind == COR_VALUE_COUNT ? cor__field(&src, c->field) : VG_STR_NULL;
    if (c->kind == COR_VALUE_COUNT && !v.p) {
        if (e->trace) {
            char m[200];
            snprintf(m, sizeof(m), "not counted: the hit has no field '%s'", c->field);
            e->trace(e->trace_ud, c, m, NULL, 0);
        }
        return 0;
    }
    char kbuf[2048], *key; /* out's group fields point there */
    cor_hit out;
    cor_hit_init(&out, c, in->ctx, ts, 0, 0);
    ssize_t klen = cor__group_key(c, &src, kbuf, sizeof(kbuf), &key, out.f);
    if (klen < 0)
        return (int)klen;
    out.nf = c->ngroup;
    /* then the triggering hit's own fields (e.g. the user of the login that
     * completed a sequence), those not already grouped by */
    for (uint32_t i = 0; i < in->nf && out.nf < VG_ALERT_MAX_FIELDS - 1; i++) {
        uint32_t j = 0;
        while (j < c->ngroup && !vg_str_eq(in->f[i].key, c->group_by[j]))
            j++;
        /* value_count reports all its values as FIELD_values instead, and
         * a FIELD_values the hit carries (a value_count of a value_count
         * on the same field) would hide its own, added when it fires */
        if (j == c->ngroup && !(c->field && (vg_str_eq(in->f[i].key, c->field) ||
                                             cor_is_values_key(in->f[i].key, c->field))))
            out.f[out.nf++] = in->f[i];
    }
    cor_group *g = cor__group_get(e, c, t, key, (size_t)klen, ts, emit, ud);
    int rc = g ? cor_correlate_group(e, c, t, g, refpos, in, v, &out, emit, ud) : -ENOMEM;
    if (key != kbuf)
        free(key);
    return rc;
}

/* The rest of cor_correlate, once the hit's group g is found: out holds
 * the group's fields and the hit's own; a firing adds its window. */
static int cor_correlate_group(cor_eval *e, cor_rule *c, cor_table *t, cor_group *g,
                               uint32_t refpos, const cor_hit *in, vg_str v, cor_hit *out,
                               cor_emit_fn emit, void *ud)
{
    int64_t ts = in->ts;
    cor__dirty(e, (uint32_t)(c - e->rs->rules), g);
    if (ts > g->last_us)
        g->last_us = ts;
    cor__lru_front(e, t, g);
    if (c->kind != COR_ABSENCE)
        cor__raw_keep(e, g, in->ctx->ev ? in->ctx->ev->raw : VG_STR_NULL, ts,
                      in->ctx->ev && (in->ctx->ev->flags & VG_EV_TRUNCATED));
    int fire = 0;
    uint32_t at = UINT32_MAX, nf = out->nf;
    uint32_t need = c->kind == COR_TEMPORAL ? c->nrefs : (uint32_t)c->threshold;
    cor_vc_names vo;
    switch (c->kind) {
    case COR_EVENT_COUNT: {
        int r = cor_ec_add(e, c, g, ts, out, &at);
        if (r < 0)
            return r;
        fire = r;
        break;
    }
    case COR_VALUE_COUNT:
    case COR_TEMPORAL: {
        /* temporal (every rule of the list in one window) is value_count's
         * machinery with the rule's position as the value and N = the
         * number of rules, so that events out of order find every window */
        char pos[12];
        snprintf(pos, sizeof(pos), "%u", refpos);
        int64_t end;
        uint32_t self;
        vg_str val = c->kind == COR_TEMPORAL ? vg_str_c(pos) : v;
        if (cor_vc_add(e, c, g, val, ts, need, &end, &self) != 0)
            return -ENOMEM;
        fire = cor_vc_fire(c, g, end, need, self, out, &vo);
        break;
    }
    case COR_TEMPORAL_ORDERED: {
        /* the events up to the end of the last sequence are used up: one
         * out of order before it is too, as in time order (it matters when
         * suppress is shorter than T) */
        if (g->suppress_until != INT64_MIN && ts < g->suppress_until - c->suppress_us)
            break;
        /* times buffered while an earlier event may still come, folded
         * into chains after (cor_seq.h) */
        const cor_seq_shape *sh = &c->seq;
        struct cor_seen *sn = cor_seen_of(e, g, in);
        if (sn && sn->mask == UINT32_MAX)
            break; /* this line is in a sequence reported already */
        uint32_t mask = sn ? sn->mask : 0, room = mask ? 3 : 1; /* a link takes 2 */
        cor_seq_fold(sh, g->ts, e->wm - e->rs->lateness_us, cor_dead(e, c, g));
        g->n = cor_seq_len(sh, g->ts);
        if (g->n + room > g->tcap)
            (void)cor__ts_grow(c, g, g->n + room); /* may stay full: at the cap, or out of memory */
        while (g->n + room > g->tcap) {
            /* the oldest times are folded early: an event to come before
             * them can no longer extend their chains */
            uint32_t was = g->n;
            cor_seq_fold_oldest(sh, g->ts);
            g->n = cor_seq_len(sh, g->ts);
            if (g->n == was)
                break;
        }
        bool folded = ts <= cor_seq_folded(sh, g->ts);
        if (folded) {
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
        /* the line's other copies may be folded: not added again */
        if (g->n + room <= g->tcap && !(mask && folded) && cor_seq_add(sh, g->ts, slot, ts)) {
            g->n++;
            if (mask && !cor_seq_link(sh, g->ts, ts, mask, slot)) {
                cor_seq_unadd(sh, g->ts, slot, ts); /* its other copies went */
            } else if (sn) {
                sn->mask |= 1u << slot;
            }
            g->n = cor_seq_len(sh, g->ts);
        }
        int64_t first, last;
        if (cor_seq_find(sh, g->ts, slot, ts, c->timespan_us, g->suppress_until, &first,
                         &last)) {
            fire = 1;
            out->first = first;
            out->ts = last;
            out->count = c->nrefs;
            cor_seq_used(sh, g->ts, last); /* a sequence is reported once */
            g->n = cor_seq_len(sh, g->ts);
            if (sn)
                sn->mask = UINT32_MAX; /* used up with the rest up to last */
        }
        break;
    }
    case COR_ABSENCE: {
        /* the sweep looks once per second of event time: a silence that
         * time (the watermark or the clock, before this event) has already
         * taken to T is reported before this event ends it, as the sweep
         * would have had it looked then. aux is 0 in a new group. */
        int64_t clk = e->clock > e->wm ? e->clock : e->wm;
        if (g->aux && !g->fired && clk - g->aux >= c->timespan_us) {
            int rc = cor__absence_report(e, c, g, clk, emit, ud);
            if (rc)
                return rc;
        }
        if (ts > g->aux)
            g->aux = ts;
        /* re-armed only by an event from after the silence was reported
         * (suppress_until holds the report time): late or queued events
         * from before it do not make the host "come back" */
        if (g->fired && ts >= g->suppress_until)
            g->fired = 0;
        break;
    }
    default:
        break;
    }
    int fired = 0;
    while (fire && out->ts >= g->suppress_until) {
        fired = 1;
        g->suppress_until = out->ts + c->suppress_us;
        out->g = g;
        int rc = cor__hit_out(e, out, emit, ud);
        if (rc)
            return rc;
        /* With a suppression shorter than T, an event out of order may
         * complete windows that end after this one's suppression too: each
         * fires, as it would in time order when the event ending it came. */
        fire = 0;
        if (c->suppress_us >= c->timespan_us)
            break;
        out->nf = nf;
        if (c->kind == COR_EVENT_COUNT && at != UINT32_MAX) {
            fire = cor_ec_window(c, g, at, out);
        } else if (c->kind == COR_VALUE_COUNT || c->kind == COR_TEMPORAL) {
            int64_t end = INT64_MIN;
            if (cor_vc_sweep(c, g, ts, need, g->suppress_until, &end) != 0)
                return -ENOMEM;
            fire = end != INT64_MIN && cor_vc_fire(c, g, end, need, UINT32_MAX, out, &vo);
        }
    }
    if (e->trace && !fired)
        cor_trace_progress(e, c, g, ts, out);
    return 0;
}

/* Feeds a hit to every correlation that counts its rule. */
int cor__feed(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud)
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
