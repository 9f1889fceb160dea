/* engine_bench: the rule engine alone, for bench/correlator.
 *
 *   engine_bench RULES_PATH FILE [YEAR]
 *
 * Loads the rules as vigil-correlator does (cor_rules_load, an in-memory
 * engine: no store, no lists), reads FILE and parses every line into events
 * 128 at a time (vg_syslog_parse, as --replay does), and times
 * cor_eval_events on each batch of events alone (as --replay and the daemon
 * run it):
 * the prefilter scan, the PCRE2 confirmations, the correlation state updates
 * and each alert formatted as ECS JSON into a buffer (not written). What
 * --replay adds on top (reading the file, parsing the lines, writing the
 * alerts) is left out, so that the two figures together say where a
 * replayed line's time goes. Prints one line:
 *
 *   engine: EVENTS events, parse P CPU-s, engine E CPU-s W s wall, R events/CPU-s, A alerts
 *
 * Not a test, not installed and not in meson.build (it links the
 * correlator's own objects, whose interfaces move): bench/correlator compiles
 * it against the build directory's objects and skips it if that fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cor_eval.h"
#include "cor_rules.h"
#include "vigil/ecs.h"
#include "vigil/syslog.h"
#include "vigil/util.h"

static double eb_clock(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct eb_emit {
    uint64_t alerts;
    vg_buf out;
} eb_emit;

static int eb_on_alert(void *ud, const vg_alert *al)
{
    eb_emit *x = ud;
    x->alerts++;
    x->out.len = 0;
    return vg_ecs_alert(&x->out, al, "replay");
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: engine_bench RULES_PATH FILE [YEAR]\n");
        return 2;
    }
    int year = argc == 4 ? atoi(argv[3]) : 0;
    cor_rules_opts o = {.match_limit = 100000, .max_groups = 100000,
                        .lateness_us = 300LL * 1000000};
    cor_ruleset *rs = NULL;
    char err[1024] = "";
    if (cor_rules_load(argv[1], &o, &rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    cor_eval *e = NULL;
    if (cor_eval_new(&e, rs, NULL, NULL) != 0) {
        fprintf(stderr, "engine_bench: cannot create the engine\n");
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "engine_bench: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    if (size < 0 || !text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "engine_bench: cannot read %s\n", argv[2]);
        return 1;
    }
    fclose(f);
    text[size] = '\0';

    /* Parse a batch, then time the engine on it: the engine gets its events
     * as --replay (COR_FEED_BATCH) and the daemon (a wire batch) give them,
     * just parsed or decoded, their lines still in the cache. Until session
     * 24 every line was parsed first and the engine timed over all of them
     * at once, which made it read each line back from memory: at 10 rules
     * that showed as an engine slower than the whole replay. Two thread-CPU
     * clock reads per batch (a system call each) are in the engine's time,
     * at every rule count alike; the parse's time is
     * the rest of each batch's (finding the lines too). */
    enum { EB_BATCH = 128 };
    vg_event ev[EB_BATCH];
    eb_emit x = {0};
    size_t n = 0, nb = 0;
    double parse = 0, engine = 0, wall = 0, p0 = eb_clock(CLOCK_THREAD_CPUTIME_ID);
    int rc = 0;
    for (char *l = text, *nl; rc == 0; l = nl + 1) {
        int last = !*l;
        if (!last) {
            nl = strchr(l, '\n');
            if (!nl)
                nl = l + strlen(l);
            size_t len = (size_t)(nl - l);
            while (len && l[len - 1] == '\r')
                len--;
            if (len) {
                vg_syslog_opts so = {.now_us = vg_now_us(), .year = year};
                vg_event *v = &ev[nb++];
                vg_syslog_parse(l, len, &so, v);
                v->recv_us = v->ts_us;
                v->src = vg_str_c("replay");
                if (!v->host.p) {
                    v->host = v->src;
                    v->flags |= VG_EV_NO_HOST;
                }
                v->agency = vg_str_c("unknown");
                v->site = vg_str_c("unknown");
                v->seq = ++n;
            }
            last = !*nl;
        }
        if (nb == EB_BATCH || (last && nb)) {
            double c0 = eb_clock(CLOCK_THREAD_CPUTIME_ID), w0 = eb_clock(CLOCK_MONOTONIC);
            parse += c0 - p0; /* the batch's lines found and parsed */
            rc = cor_eval_events(e, ev, nb, eb_on_alert, &x);
            double c1 = eb_clock(CLOCK_THREAD_CPUTIME_ID), w1 = eb_clock(CLOCK_MONOTONIC);
            engine += c1 - c0;
            wall += w1 - w0;
            nb = 0;
            p0 = c1;
        }
        if (last)
            break;
    }
    if (rc) {
        fprintf(stderr, "engine_bench: cor_eval_events failed (%d)\n", rc);
        return 1;
    }
    printf("engine: %zu events, parse %.4f CPU-s, engine %.4f CPU-s %.4f s wall, %.0f events/CPU-s, "
           "%llu alerts\n",
           n, parse, engine, wall, (double)n / engine, (unsigned long long)x.alerts);
    /* (rules, engine and events are left to the exit) */
    return 0;
}
