/* --groups: the correlation groups of a running correlator's state, the
 * ones nearest to firing first, so that an analyst sees what is building up
 * (a brute force at 5 of 6, a host about to be reported silent) before it
 * alerts. Reads the store one group at a time (cor_eval_stored_groups) and
 * keeps each listed rule's top N in a bounded heap: on a store of millions
 * of groups its memory is N times the rules, not a copy of the state next
 * to the running correlator. Writes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor.h"
#include "vigil/err.h"
#include "vigil/syslog.h"
#include "vigil/log.h"

/* One group, copied out of the view for sorting. */
typedef struct cor_grow {
    uint64_t have;
    int64_t last, suppress_until;
    int fired;
    char *fields; /* "k=v, k=v", owned */
} cor_grow;

/* One rule's rows (the top ones as a heap, or all when top is 0) and how
 * many groups it has. */
typedef struct cor_gset {
    cor_grow *g;
    size_t n, cap, total;
} cor_gset;

typedef struct cor_gsets {
    cor_gset *s; /* one per rule of the set */
    size_t top;
    size_t held, held_max; /* rows held now, and at most at once */
} cor_gsets;

/* Nearest to firing first: most of the threshold, then the newest; an
 * absence's groups not yet reported, the longest silent first. */
static int cor_grow_cmp(const void *a, const void *b)
{
    const cor_grow *x = a, *y = b;
    if (x->fired != y->fired)
        return x->fired - y->fired;
    if (x->have != y->have)
        return x->have > y->have ? -1 : 1;
    if (x->last != y->last)
        return (x->last > y->last ? -1 : 1) * (x->fired || x->have || y->have ? 1 : -1);
    return strcmp(x->fields, y->fields);
}

/* The heap keeps on top the row furthest from firing: the one a better
 * group replaces. */
static void cor_heap_down(cor_grow *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && cor_grow_cmp(&h[l], &h[m]) > 0)
            m = l;
        if (l + 1 < n && cor_grow_cmp(&h[l + 1], &h[m]) > 0)
            m = l + 1;
        if (m == i)
            return;
        cor_grow x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

static void cor_heap_up(cor_grow *h, size_t i)
{
    while (i && cor_grow_cmp(&h[(i - 1) / 2], &h[i]) < 0) {
        cor_grow x = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = x;
        i = (i - 1) / 2;
    }
}

/* "k=v, k=v" of gv's key fields (owned by the caller), or NULL. */
static char *cor_gfields(const cor_group_view *gv)
{
    size_t len = 1;
    for (uint32_t i = 0; i < gv->nf; i++)
        len += 3 + gv->f[i].key.len + gv->f[i].val.len;
    char *f = malloc(len);
    if (!f)
        return NULL;
    size_t n = 0;
    f[0] = '\0';
    for (uint32_t i = 0; i < gv->nf; i++)
        n += (size_t)snprintf(f + n, len - n, "%s%.*s=%.*s", i ? ", " : "",
                              (int)gv->f[i].key.len, gv->f[i].key.p, (int)gv->f[i].val.len,
                              gv->f[i].val.p);
    return f;
}

/* cor_eval_stored_groups' callback: counts the group, and keeps it while
 * it is among its rule's top ones. */
static int cor_gset_add(void *ud, uint32_t ri, const cor_group_view *gv)
{
    cor_gsets *ss = ud;
    cor_gset *s = &ss->s[ri];
    s->total++;
    cor_grow row = {gv->have, gv->last, gv->suppress_until, gv->fired, cor_gfields(gv)};
    if (!row.fields)
        return -ENOMEM;
    if (ss->top && s->n == ss->top) {
        if (cor_grow_cmp(&row, &s->g[0]) >= 0) {
            free(row.fields); /* not above the cut */
            return 0;
        }
        free(s->g[0].fields);
        s->g[0] = row;
        cor_heap_down(s->g, s->n, 0);
        return 0;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 16;
        if (ss->top && ncap > ss->top)
            ncap = ss->top;
        cor_grow *p = realloc(s->g, ncap * sizeof(*p));
        if (!p) {
            free(row.fields);
            return -ENOMEM;
        }
        s->g = p;
        s->cap = ncap;
    }
    s->g[s->n++] = row;
    if (ss->top)
        cor_heap_up(s->g, s->n - 1);
    if (++ss->held > ss->held_max)
        ss->held_max = ss->held;
    return 0;
}

/* What one unit of have is, for the rule's line and its groups'. */
static void cor_unit(const cor_rule *c, char *buf, size_t cap)
{
    if (c->kind == COR_EVENT_COUNT)
        snprintf(buf, cap, "events");
    else if (c->kind == COR_VALUE_COUNT)
        snprintf(buf, cap, "distinct %s", c->field);
    else if (c->kind == COR_TEMPORAL)
        snprintf(buf, cap, "rules");
    else
        snprintf(buf, cap, "steps in order");
}

/* Prints rule c's groups: s's rows (its top ones), sorted, of s->total. */
static void cor_groups_rule(const cor_rule *c, cor_gset *s, size_t top, FILE *out)
{
    char unit[200], t1[40], t2[40];
    double Ts = (double)c->timespan_us / 1e6;
    cor_unit(c, unit, sizeof(unit));
    qsort(s->g, s->n, sizeof(*s->g), cor_grow_cmp);
    if (c->kind == COR_ABSENCE)
        fprintf(out, "%s: absence, silent %g s, %zu group%s\n", c->id, Ts, s->total,
                s->total == 1 ? "" : "s");
    else
        fprintf(out, "%s: %s, %u %s in %g s, %zu group%s\n", c->id, cor_kind_name(c->kind),
                c->kind == COR_EVENT_COUNT || c->kind == COR_VALUE_COUNT
                    ? (unsigned)c->threshold : c->nrefs,
                unit, Ts, s->total, s->total == 1 ? "" : "s");
    for (size_t i = 0; i < s->n; i++) {
        const cor_grow *g = &s->g[i];
        vg_time_format(g->last, t1, sizeof(t1));
        if (c->kind == COR_ABSENCE) {
            vg_time_format(g->last + c->timespan_us, t2, sizeof(t2));
            fprintf(out, "  last seen %s, %s %s: %s\n", t1,
                    g->fired ? "reported silent; re-armed by an event after" : "silent alert at",
                    g->fired ? "the report" : t2, g->fields);
            continue;
        }
        fprintf(out, "  %llu of %u %s, last %s", (unsigned long long)g->have,
                c->kind == COR_EVENT_COUNT || c->kind == COR_VALUE_COUNT ? (unsigned)c->threshold
                                                                          : c->nrefs,
                unit, t1);
        if (g->suppress_until > g->last) {
            vg_time_format(g->suppress_until, t2, sizeof(t2));
            fprintf(out, ", suppressed until %s", t2);
        }
        fprintf(out, ": %s\n", g->fields);
    }
    if (top && s->total > top)
        fprintf(out, "  ... %zu more (--top 0 lists all)\n", s->total - top);
}

int cor_groups_print(cor_eval *e, const cor_ruleset *rs, char *const *ids, int nids, size_t top,
                     FILE *out, size_t *held_max)
{
    for (int i = 0; i < nids; i++) {
        int ri = cor_rules_find(rs, ids[i]);
        if (ri < 0) {
            vg_error("--groups: rule %s: not in the rule set", ids[i]);
            return VG_ECONFIG;
        }
        if (rs->rules[ri].kind == COR_MATCH) {
            vg_error("--groups: rule %s: a match rule has no groups", ids[i]);
            return VG_ECONFIG;
        }
    }
    uint8_t *want = calloc(rs->n + 1, 1);
    cor_gsets ss = {calloc(rs->n + 1, sizeof(cor_gset)), top, 0, 0};
    int rc = want && ss.s ? 0 : -ENOMEM;
    for (size_t ri = 0; rc == 0 && ri < rs->n; ri++) {
        want[ri] = nids == 0 && rs->rules[ri].kind != COR_MATCH;
        for (int i = 0; i < nids && !want[ri]; i++)
            want[ri] = strcmp(ids[i], rs->rules[ri].id) == 0;
    }
    if (rc == 0)
        rc = cor_eval_stored_groups(e, want, cor_gset_add, &ss);
    if (rc == 0) {
        char wm[40];
        vg_time_format(cor_eval_watermark(e), wm, sizeof(wm));
        fprintf(out, "state as of %s (the newest event time committed)\n", wm);
        for (size_t ri = 0; ri < rs->n; ri++)
            if (want[ri])
                cor_groups_rule(&rs->rules[ri], &ss.s[ri], top, out);
    } else {
        vg_error("--groups: correlation state: %s", vg_strerror(rc));
    }
    for (size_t ri = 0; ss.s && ri < rs->n; ri++) {
        for (size_t i = 0; i < ss.s[ri].n; i++)
            free(ss.s[ri].g[i].fields);
        free(ss.s[ri].g);
    }
    if (held_max)
        *held_max = ss.held_max;
    free(ss.s);
    free(want);
    return rc;
}
