/* --groups: the correlation groups of a running correlator's state, the
 * ones nearest to firing first, so that an analyst sees what is building up
 * (a brute force at 5 of 6, a host about to be reported silent) before it
 * alerts. Reads an engine loaded from the store; writes nothing. */
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

typedef struct cor_gset {
    cor_grow *g;
    size_t n, cap;
} cor_gset;

static int cor_gset_add(void *ud, const cor_group_view *gv)
{
    cor_gset *s = ud;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 64;
        cor_grow *p = realloc(s->g, ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->g = p;
        s->cap = ncap;
    }
    size_t len = 1;
    for (uint32_t i = 0; i < gv->nf; i++)
        len += 3 + gv->f[i].key.len + gv->f[i].val.len;
    char *f = malloc(len);
    if (!f)
        return -ENOMEM;
    size_t n = 0;
    f[0] = '\0';
    for (uint32_t i = 0; i < gv->nf; i++)
        n += (size_t)snprintf(f + n, len - n, "%s%.*s=%.*s", i ? ", " : "",
                              (int)gv->f[i].key.len, gv->f[i].key.p, (int)gv->f[i].val.len,
                              gv->f[i].val.p);
    s->g[s->n++] = (cor_grow){gv->have, gv->last, gv->suppress_until, gv->fired, f};
    return 0;
}

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

/* Prints rule ri's groups, the top ones (all when top is 0). */
static int cor_groups_rule(cor_eval *e, const cor_rule *c, uint32_t ri, size_t top, FILE *out)
{
    cor_gset s = {0};
    int rc = cor_eval_groups(e, ri, cor_gset_add, &s);
    char unit[200], t1[40], t2[40];
    double Ts = (double)c->timespan_us / 1e6;
    cor_unit(c, unit, sizeof(unit));
    if (rc == 0) {
        qsort(s.g, s.n, sizeof(*s.g), cor_grow_cmp);
        if (c->kind == COR_ABSENCE)
            fprintf(out, "%s: absence, silent %g s, %zu group%s\n", c->id, Ts, s.n,
                    s.n == 1 ? "" : "s");
        else
            fprintf(out, "%s: %s, %u %s in %g s, %zu group%s\n", c->id, cor_kind_name(c->kind),
                    c->kind == COR_EVENT_COUNT || c->kind == COR_VALUE_COUNT
                        ? (unsigned)c->threshold : c->nrefs,
                    unit, Ts, s.n, s.n == 1 ? "" : "s");
    }
    for (size_t i = 0; rc == 0 && i < s.n && (!top || i < top); i++) {
        const cor_grow *g = &s.g[i];
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
    if (rc == 0 && top && s.n > top)
        fprintf(out, "  ... %zu more (--top 0 lists all)\n", s.n - top);
    for (size_t i = 0; i < s.n; i++)
        free(s.g[i].fields);
    free(s.g);
    return rc;
}

int cor_groups_print(cor_eval *e, const cor_ruleset *rs, char *const *ids, int nids, size_t top,
                     FILE *out)
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
    char wm[40];
    vg_time_format(cor_eval_watermark(e), wm, sizeof(wm));
    fprintf(out, "state as of %s (the newest event time committed)\n", wm);
    for (size_t ri = 0; ri < rs->n; ri++) {
        const cor_rule *c = &rs->rules[ri];
        int want = nids == 0 && c->kind != COR_MATCH;
        for (int i = 0; i < nids && !want; i++)
            want = strcmp(ids[i], c->id) == 0;
        if (!want)
            continue;
        int rc = cor_groups_rule(e, c, (uint32_t)ri, top, out);
        if (rc)
            return rc;
    }
    return 0;
}
