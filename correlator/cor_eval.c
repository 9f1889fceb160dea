/* The rule engine (see cor_eval.h and the semantics in docs/rules.md).
 *
 * Per event: the prefilter names the match rules that may match; each is
 * checked (filters, regex or keywords, list conditions). A match is a
 * "hit": it raises an alert if the rule alerts, and feeds every
 * correlation that counts the rule (cor_window.c). A correlation keeps one
 * group per distinct group_by value (cor_group.c); a group that satisfies
 * the rule "fires", which is a hit of the correlation itself (alert, and
 * feed to correlations of correlations, in dependency order). This file
 * has the events, match rules, hits and alerts, the sweep that drops
 * expired groups and reports absences, and the engine's life (new, rule
 * swaps, free); cor_state.c keeps the groups in LMDB. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cor_calendar.h"
#include "cor_eval_int.h"
#include "cor_lists.h"
#include "cor_prefilter.h"
#include "vigil/log.h"
#include "vigil/syslog.h"

/* ---- fields ------------------------------------------------------------- */

/* A field by name: captures and group values first, then the event's own.
 * The event's names are listed again in cor_rules.c (cor_event_fields, which
 * refuses any other name in a rule): a name added here goes there too. */
vg_str cor__field(const cor_ctx *c, const char *name)
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

/* ---- --explain's verdicts ------------------------------------------------ */

void cor__trace_time(char *buf, size_t cap, int64_t us)
{
    time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || cap < 32) {
        snprintf(buf, cap, "%lld us", (long long)us);
        return;
    }
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%06dZ", (int)(us - (int64_t)t * 1000000));
}

/* Why the header filters refused an event, naming the first one that did
 * and the event's value ("filtered out" alone left the engineer to guess
 * which of six). Only for --explain. */
static void cor_trace_filtered(cor_eval *e, const cor_rule *r, const vg_event *ev)
{
    char v[600];
    const char *what = NULL;
    vg_str val = VG_STR_NULL;
    if (r->programs && !cor_in(r->programs, ev->app))
        what = "program", val = ev->app;
    else if (r->hosts && !cor_in(r->hosts, ev->host))
        what = "host", val = ev->host;
    else if (r->agencies && !cor_in(r->agencies, ev->agency))
        what = "agency", val = ev->agency;
    else if (r->sites && !cor_in(r->sites, ev->site))
        what = "site", val = ev->site;
    if (what)
        snprintf(v, sizeof(v), "filtered out: %s '%.*s' is not in the rule's '%s:' list", what,
                 val.p ? (int)(val.len < 256 ? val.len : 256) : 0, val.p ? val.p : "", what);
    else if (ev->pri < 0)
        snprintf(v, sizeof(v), "filtered out: the line has no PRI, and the rule's facility or "
                               "severity needs one");
    else if (r->facilities && !(r->facilities & (1u << (ev->pri >> 3))))
        snprintf(v, sizeof(v), "filtered out: facility %s is not in the rule's 'facility:' list",
                 vg_syslog_facilities[ev->pri >> 3]);
    else
        snprintf(v, sizeof(v), "filtered out: severity %s is not in the rule's 'severity:' list",
                 vg_syslog_severities[ev->pri & 7]);
    e->trace(e->trace_ud, r, v, NULL, 0);
}


/* ---- hits and alerts ---------------------------------------------------- */

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
        /* the group's last lines, of the events in the alert's window only
         * (those before it, or after it when events came out of order, made
         * another alert or none) */
        const cor_group *g = hit->g;
        uint32_t start = g->nraw < COR_RAW_KEEP ? 0 : g->rawpos;
        for (uint32_t i = 0; i < g->nraw && al.nraw < VG_ALERT_MAX_RAW; i++) {
            const char *l = g->raw[(start + i) % COR_RAW_KEEP];
            if (!l)
                continue;
            int64_t t = cor_raw_time(l);
            if (t == COR_RAW_NOTIME || (t >= hit->first && t <= hit->ts)) {
                al.raw_cut |= (uint32_t)cor_raw_cut(l) << al.nraw;
                al.raw[al.nraw++] = vg_str_c(cor_raw_line(l));
            }
        }
    } else if (ev && ev->raw.p) {
        /* the event's whole line: cut only where the collector cut it */
        al.raw_cut = (ev->flags & VG_EV_TRUNCATED) ? 1u : 0u;
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

/* Keeps a copy of match hit h of a repeated line for its occurrences 1 ..
 * count-1 (cor_pend_feed). The fields point into the line, which outlives
 * the copy. Returns 0 or -ENOMEM. */
static int cor_pend_add(cor_eval *e, const cor_hit *h)
{
    if (e->npend == e->cappend) {
        uint32_t ncap = e->cappend ? 2 * e->cappend : 4;
        struct cor_pend *p = realloc(e->pend, ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        e->pend = p;
        e->cappend = ncap;
    }
    struct cor_pend *p = &e->pend[e->npend++];
    p->hit = *h;
    p->ctx = *h->ctx;
    p->hit.ctx = NULL;
    return 0;
}

/* Feeds the occurrences after the first of the line's repeated hits:
 * occurrence after occurrence, each to the rules in the order they
 * matched, so that a repeat counts as its N lines would (docs/rules.md: a
 * line that matches several rules of a temporal_ordered list is one event,
 * which its rules' hits complete before the next occurrence comes). */
static int cor_pend_feed(cor_eval *e, cor_emit_fn emit, void *ud)
{
    int rc = 0;
    uint64_t times = e->npend ? e->pend[0].hit.count : 0; /* one line: all alike */
    for (uint64_t i = 1; rc == 0 && i < times; i++) {
        e->occ = (uint32_t)i;
        for (uint32_t k = 0; rc == 0 && k < e->npend; k++) {
            struct cor_pend *p = &e->pend[k];
            p->hit.ctx = &p->ctx;
            rc = cor__feed(e, &p->hit, emit, ud);
        }
    }
    e->npend = 0;
    return rc;
}

/* A rule hit: alert if it alerts, then feed the correlations counting it. */
int cor__hit_out(cor_eval *e, const cor_hit *hit, cor_emit_fn emit, void *ud)
{
    cor_rule *r = (cor_rule *)hit->r;
    r->hits++;
    int rc = 0;
    int quiet = 0;
    if (r->kind == COR_MATCH && r->suppress_us && r->alert) {
        char kbuf[2048], *key;
        vg_kv gf[VG_ALERT_MAX_FIELDS];
        uint32_t ri = (uint32_t)(r - e->rs->rules);
        ssize_t klen = cor__group_key(r, hit->ctx, kbuf, sizeof(kbuf), &key, gf);
        if (klen < 0)
            return (int)klen;
        cor_group *g = cor__group_get(e, r, &e->tables[ri], key, (size_t)klen, hit->ts, emit, ud);
        if (key != kbuf)
            free(key);
        if (!g)
            return -ENOMEM;
        quiet = cor_ms_quiet(g, hit->ts, r->suppress_us);
        int64_t was = g->aux;
        g->aux = e->wm > hit->ts ? e->wm : hit->ts;
        cor__dirty(e, ri, g); /* quiet too: aux and the order of the alert times moved */
        cor__lru_front(e, &e->tables[ri], g);
        if (quiet) {
            r->suppressed += hit->count;
            if (e->trace) { /* MATCHED, then no alert: say why */
                char v[200], t[64];
                cor__trace_time(t, sizeof(t), g->ts[g->n - 1]); /* the time that kept it quiet */
                snprintf(v, sizeof(v), "suppressed: less than suppress (%g s) from its alert "
                         "time %s (no alert; the hit still feeds correlations)",
                         (double)r->suppress_us / 1e6, t);
                e->trace(e->trace_ud, r, v, NULL, 0);
            }
        } else {
            if (hit->ts + r->suppress_us > g->suppress_until)
                g->suppress_until = hit->ts + r->suppress_us;
            if (hit->ts > g->last_us)
                g->last_us = hit->ts;
        }
        if (g->aux < was) /* after a hit ahead of the watermark: over sooner */
            cor__over_moved(e, r, &e->tables[ri], g);
    }
    if (r->alert && !quiet)
        rc = cor_emit_hit(e, hit, emit, ud);
    if (rc != 0 || !hit->r->nfeeds)
        return rc;
    /* A compressed repeat ("message repeated N times") counts N times, each
     * occurrence an event of its own: the first is fed now, the others once
     * every rule has had the line's first (cor_pend_feed), as N lines. */
    if (hit->r->kind == COR_MATCH)
        e->occ = 0;
    rc = cor__feed(e, hit, emit, ud);
    if (rc == 0 && hit->r->kind == COR_MATCH && hit->count > 1)
        rc = cor_pend_add(e, hit);
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

/* Builds the group key from the hit's fields (a missing field is ""), in
 * buf when it fits in cap bytes, else in a malloc'ed buffer: *key is where
 * it is, to be freed by the caller when it is not buf. The key is never
 * cut: two tuples that differ only past some length (an attacker's long
 * user name) are two groups. gf[i] point into the key. Returns the length,
 * or -ENOMEM. */
ssize_t cor__group_key(const cor_rule *r, const cor_ctx *src, char *buf, size_t cap, char **key,
                       vg_kv *gf)
{
    vg_str v[VG_ALERT_MAX_FIELDS];
    size_t need = r->ngroup ? r->ngroup - 1 : 0;
    for (uint32_t i = 0; i < r->ngroup; i++) {
        v[i] = cor__field(src, r->group_by[i]);
        need += v[i].p ? v[i].len : 0;
    }
    *key = buf;
    if (need > cap && !(*key = malloc(need)))
        return -ENOMEM;
    size_t n = 0;
    for (uint32_t i = 0; i < r->ngroup; i++) {
        if (i)
            (*key)[n++] = COR_KEY_SEP;
        size_t l = v[i].p ? v[i].len : 0;
        if (l)
            memcpy(*key + n, v[i].p, l);
        gf[i] = (vg_kv){vg_str_c(r->group_by[i]), vg_str_n(*key + n, l)};
        n += l;
    }
    return (ssize_t)n;
}

/* ---- match rules -------------------------------------------------------- */

/* Returns 1 when every "where" condition holds, else 0 with *failed the
 * first that does not (for --explain). */
static int cor_check_conds(cor_eval *e, const cor_rule *r, const cor_ctx *c,
                           const cor_cond **failed)
{
    for (uint32_t i = 0; i < r->nconds; i++) {
        vg_str v = cor__field(c, r->conds[i].field);
        bool in = v.p && e->lists && cor_lists_contains(e->lists, r->conds[i].list, v);
        if (in == r->conds[i].negate) {
            *failed = &r->conds[i];
            return 0;
        }
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
            cor_trace_filtered(e, r, ev);
        return 0;
    }
    if (r->calendar >= 0 && cor_calendar_holds(rs->cals, r->calendar, ts) == r->cal_negate) {
        if (e->trace) {
            char v[600], t[64], loc[400] = "", l[384];
            cor__trace_time(t, sizeof(t), ts);
            /* and the calendar's own clock: across a DST change, the UTC
             * time alone leaves the reader to work out the local hour */
            if (cor_calendar_local(rs->cals, r->calendar, ts, l, sizeof(l)))
                snprintf(loc, sizeof(loc), " (%s)", l);
            const char *cal = cor_calendar_name(rs->cals, r->calendar);
            snprintf(v, sizeof(v),
                     "time condition not met: %s%s is %s calendar %s (time: {%s: %s})", t, loc,
                     r->cal_negate ? "inside" : "outside", cal, r->cal_negate ? "not_in" : "in",
                     cal);
            e->trace(e->trace_ud, r, v, NULL, 0);
        }
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
            if (e->trace) { /* which error: a match limit, the JIT stack, ... */
                char v[300], why[200];
                if (pcre2_get_error_message(m, (PCRE2_UCHAR *)why, sizeof(why)) < 0)
                    snprintf(why, sizeof(why), "PCRE2 error %d", m);
                snprintf(v, sizeof(v), "regex error: %s (counted in match_errors, as no match)",
                         why);
                e->trace(e->trace_ud, r, v, NULL, 0);
            }
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
    const cor_cond *cf = NULL;
    if (!cor_check_conds(e, r, &c, &cf)) {
        if (e->trace) {
            char v[700];
            vg_str fv = cor__field(&c, cf->field);
            if (fv.p)
                snprintf(v, sizeof(v), "list condition not met: '%s %sin list %s' with %s '%.*s'",
                         cf->field, cf->negate ? "not " : "", cf->list, cf->field,
                         (int)(fv.len < 256 ? fv.len : 256), fv.p);
            else
                snprintf(v, sizeof(v), "list condition not met: '%s in list %s': the event has "
                                       "no %s", cf->field, cf->list, cf->field);
            e->trace(e->trace_ud, r, v, c.f, c.nf);
        }
        return 0;
    }
    if (e->trace)
        e->trace(e->trace_ud, r, "MATCHED", c.f, c.nf);
    cor_hit hit;
    cor_hit_init(&hit, r, &c, ts, ts, times);
    for (uint32_t i = 0; i < c.nf; i++)
        hit.f[hit.nf++] = c.f[i];
    return cor__hit_out(e, &hit, emit, ud);
}

/* The trusted event time: the header's, unless it is far past arrival
 * (a device with a wrong clock must not push the watermark into the
 * future and make every later event "late"). Live, the arrival time is a
 * collector's clock, so this host's clock (cor_eval_set_now) checks it:
 * an arrival past it takes it (a collector running ahead must not push the
 * watermark either), and a header time far past arrival but not past it
 * is kept (the collector's clock lags; the device's is right). Both are
 * counted, with the largest difference of the batch (cor_eval_skew). */
static int64_t cor_event_time(cor_eval *e, const vg_event *ev)
{
    int64_t arrival = ev->recv_us, latest = arrival;
    if (e->now_us && arrival > e->now_us + COR_FUTURE_US) {
        e->stats.clock_ahead++;
        if (arrival - e->now_us > e->ahead_us)
            e->ahead_us = arrival - e->now_us;
        arrival = latest = e->now_us;
    } else if (e->now_us > latest) {
        latest = e->now_us;
    }
    if (arrival && ev->ts_us > latest + COR_FUTURE_US) {
        /* counted, and its host kept for the warning: a device whose clock
         * runs ahead is otherwise invisible, its events quietly retimed */
        if (ev->flags & VG_EV_NO_TS) /* its "own" time is a collector's clock */
            return arrival;
        e->stats.device_ahead++;
        if (ev->ts_us - arrival > e->device_us) {
            e->device_us = ev->ts_us - arrival;
            size_t n = ev->host.len < sizeof(e->device_host) ? ev->host.len
                                                               : sizeof(e->device_host) - 1;
            if (n)
                memcpy(e->device_host, ev->host.p, n);
            e->device_host[n] = '\0';
        }
        return arrival;
    }
    if (e->now_us && ev->ts_us > arrival + COR_FUTURE_US) {
        e->stats.clock_behind++;
        if (ev->ts_us - arrival > e->behind_us)
            e->behind_us = ev->ts_us - arrival;
    }
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
    int64_t ts = cor_event_time(e, ev);
    e->stats.events++;
    e->evno++; /* a new line for cor_window.c's e->seen */
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
    if (rc == 0)
        rc = cor_pend_feed(e, emit, ud);
    e->npend = 0;
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

/* ---- the sweep: expired groups, absences ----------------------------------- */

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
            cor__del_push(e, r->id, g->key, g->keylen, 0);
            cor__table_remove(e, t, g);
            cor__group_free(e, g);
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
            cor__del_push(e, rs->rules[ci].id, g->key, g->keylen, 0);
            cor__table_remove(e, t, g);
            cor__group_free(e, g);
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
        /* reported, long gone: forgotten, once no event from before the
         * report can still come (one would make a new group and report it
         * silent again; from W - lateness on, such events are late) */
        if (g->fired && clk - g->aux >= c->expire_us &&
            e->wm - rs->lateness_us >= g->suppress_until) {
            cor__del_push(e, c->id, g->key, g->keylen, 0);
            cor__table_remove(e, t, g);
            cor__group_free(e, g);
            continue;
        }
        /* a group silent past expire in one step (after downtime) is still
         * reported once before it is forgotten */
        if (g->fired || clk - g->aux < c->timespan_us)
            continue;
        rc = cor__absence_report(e, c, g, clk, emit, ud);
    }
    return rc;
}

uint32_t cor__key_fields(const cor_rule *c, const cor_group *g, vg_kv *f)
{
    const char *p = g->key, *end = g->key + g->keylen;
    for (uint32_t i = 0; i < c->ngroup; i++) {
        const char *q = memchr(p, COR_KEY_SEP, (size_t)(end - p));
        if (!q)
            q = end;
        f[i] = (vg_kv){vg_str_c(c->group_by[i]), vg_str_n(p, (size_t)(q - p))};
        p = q < end ? q + 1 : end;
    }
    return c->ngroup;
}

/* Shared by the sweep and by cor_correlate, which reports a silence the
 * sweep (once per second of event time) has not looked at yet. */
int cor__absence_report(cor_eval *e, cor_rule *c, cor_group *g, int64_t clk, cor_emit_fn emit,
                        void *ud)
{
    g->fired = 1;
    g->suppress_until = clk; /* the report time: see the re-arm rule */
    cor__dirty(e, (uint32_t)(c - e->rs->rules), g);
    /* reported: it may now be over, at the cap's second order if built */
    cor__over_moved(e, c, &e->tables[c - e->rs->rules], g);
    cor_ctx ctx = {0};
    cor_hit hit = {.r = c, .ctx = &ctx, .ts = clk, .first = g->aux, .count = 0};
    hit.nf = cor__key_fields(c, g, hit.f);
    char since[40], msg[300];
    vg_time_format(g->aux, since, sizeof(since));
    snprintf(msg, sizeof(msg), "no event of the watched rules since %s", since);
    vg_event fake = {0};
    fake.msg = vg_str_c(msg);
    /* host, agency and site from the group's values, when it is grouped by
     * them: the shipper's agency filter and CEF/LEEF/ECS labels read the
     * alert's own agency and site, not its fields */
    for (uint32_t i = 0; i < hit.nf; i++)
        if (vg_str_eq(hit.f[i].key, "host"))
            fake.host = hit.f[i].val;
        else if (vg_str_eq(hit.f[i].key, "agency"))
            fake.agency = hit.f[i].val;
        else if (vg_str_eq(hit.f[i].key, "site"))
            fake.site = hit.f[i].val;
    ctx.ev = &fake;
    return cor__hit_out(e, &hit, emit, ud);
}


/* ---- the engine's life ---------------------------------------------------- */

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

/* cor_eval_new (load: every group of st's state) and cor_eval_open (load
 * 0: its watermark only). */
static int cor_eval_make(cor_eval **out, cor_ruleset *rs, vg_store *st, cor_lists *lists,
                         int load)
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
    uint64_t wm = 0;
    if (rc == 0 && st && (rc = vg_store_dbi(st, "correlation", &e->dbi)) == 0) {
        if (load)
            rc = cor__state_load(e);
        else if ((rc = vg_meta_get_u64(st, "cor.watermark", &wm)) == 0)
            e->wm = (int64_t)wm;
    }
    if (rc) {
        cor_eval_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int cor_eval_new(cor_eval **out, cor_ruleset *rs, vg_store *st, cor_lists *lists)
{
    return cor_eval_make(out, rs, st, lists, 1);
}

int cor_eval_open(cor_eval **out, cor_ruleset *rs, vg_store *st, cor_lists *lists)
{
    return st ? cor_eval_make(out, rs, st, lists, 0) : -EINVAL;
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
        cor__table_clear(e, &e->tables[i]);
    free(e->tables);
    for (size_t i = 0; i < e->ndels; i++)
        free(e->dels[i].key);
    free(e->dels);
    free(e->written);
    free(e->dirtyv);
    free(e->shed);
    free(e->sup);
    free(e->sweep);
    free(e->live);
    free(e->sweep_pos);
    free(e->bcand);
    free(e->seen);
    free(e->pend);
    free(e->due);
    cor__pools_free(e);
    msgpack_sbuffer_destroy(&e->sb);
    free(e);
}

/* A reload moves a kept rule's table from index from to index to: its
 * entries in a group list follow. Entries of another rule already moved
 * are told apart by a mark (the top bit), cleared once every rule moved. */
static void cor_gref_move(cor_gref *v, size_t n, uint32_t from, uint32_t to)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].ri == from)
            v[i].ri = to | 0x80000000u;
}

static void cor_gref_moved(cor_gref *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i].ri &= 0x7fffffffu;
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
    /* A changed or new rule starts with no degradation behind it: its
     * stored time and count (of a definition since changed, or of a rule
     * removed by an earlier reload) are overwritten at the next flush, or a
     * restart would bring them back. An unchanged one takes its table,
     * flag included, below. */
    for (size_t i = 0; i < rs->n; i++)
        nt[i].degraded_dirty = cor_stateful(&rs->rules[i]);
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < e->rs->n; i++) {
        const cor_rule *old = &e->rs->rules[i];
        if (!cor_stateful(old))
            continue;
        int j = cor_rules_find(rs, old->id);
        if (j >= 0 && cor_stateful(&rs->rules[j]) && rs->rules[j].hash == old->hash) {
            cor_gref_move(e->dirtyv, e->ndirtyv, (uint32_t)i, (uint32_t)j);
            cor_gref_move(e->written, e->nwritten, (uint32_t)i, (uint32_t)j);
            nt[j] = e->tables[i];
            cor__over_forget(&nt[j]); /* its times hold the old lateness */
            rs->rules[j].evictions = old->evictions;
            rs->rules[j].late = old->late;
            rs->rules[j].trimmed = old->trimmed;
            memset(&e->tables[i], 0, sizeof(cor_table));
            kept++;
        } else {
            if (e->tables[i].count) {
                dropped++;
                cor_state_dropped_log(old->id, e->tables[i].count,
                                      j < 0                           ? COR_DROP_REMOVED
                                      : !cor_stateful(&rs->rules[j]) ? COR_DROP_STATELESS
                                                                      : COR_DROP_CHANGED);
            }
            cor__table_clear(e, &e->tables[i]);
            cor__del_push(e, old->id, "", 0, 1);
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
    /* the dropped rules' groups were freed: their entries are NULL */
    cor_gref_moved(e->dirtyv, e->ndirtyv);
    cor_gref_moved(e->written, e->nwritten);
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

uint64_t cor_eval_groups_peak(cor_eval *e, uint64_t *live)
{
    uint64_t peak = e->groups_peak;
    *live = e->groups_live;
    e->groups_peak = *live;
    return peak > *live ? peak : *live;
}

uint64_t cor_eval_freed_bytes(const cor_eval *e)
{
    return e->freed_bytes;
}

int64_t cor_eval_watermark(cor_eval *e)
{
    return e->wm;
}

void cor_eval_set_now(cor_eval *e, int64_t now_us)
{
    e->now_us = now_us;
    e->ahead_us = e->behind_us = e->device_us = 0;
    e->device_host[0] = '\0';
}

void cor_eval_skew(const cor_eval *e, int64_t *ahead_us, int64_t *behind_us)
{
    *ahead_us = e->ahead_us;
    *behind_us = e->behind_us;
}

int64_t cor_eval_device_ahead(const cor_eval *e, const char **host)
{
    *host = e->device_host;
    return e->device_us;
}
