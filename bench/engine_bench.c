/* engine_bench: the rule engine alone, for bench/correlator.
 *
 *   engine_bench RULES_PATH FILE [YEAR]
 *
 * Loads the rules as vigil-correlator does (cor_rules_load, an in-memory
 * engine: no store, no lists), reads FILE and parses every line into events
 * first (vg_syslog_parse, as --replay does), then times cor_eval_events over
 * the events alone (batches of scans, as --replay and the daemon run them):
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

    /* parse everything first, as the replay tool does line by line */
    size_t n = 0, cap = 1 << 16;
    vg_event *ev = malloc(cap * sizeof(*ev));
    double p0 = eb_clock(CLOCK_THREAD_CPUTIME_ID);
    for (char *l = text, *nl; ev && *l; l = nl + 1) {
        nl = strchr(l, '\n');
        if (!nl)
            nl = l + strlen(l);
        size_t len = (size_t)(nl - l);
        while (len && l[len - 1] == '\r')
            len--;
        if (len) {
            if (n == cap) {
                vg_event *more = realloc(ev, 2 * cap * sizeof(*ev));
                if (!more)
                    break;
                ev = more;
                cap *= 2;
            }
            vg_syslog_opts so = {.now_us = vg_now_us(), .year = year};
            vg_event *x = &ev[n];
            vg_syslog_parse(l, len, &so, x);
            x->recv_us = x->ts_us;
            x->src = vg_str_c("replay");
            if (!x->host.p) {
                x->host = x->src;
                x->flags |= VG_EV_NO_HOST;
            }
            x->agency = vg_str_c("unknown");
            x->site = vg_str_c("unknown");
            x->seq = ++n;
        }
        if (!*nl)
            break;
    }
    double p1 = eb_clock(CLOCK_THREAD_CPUTIME_ID);
    if (!ev) {
        fprintf(stderr, "engine_bench: out of memory\n");
        return 1;
    }

    eb_emit x = {0};
    double c0 = eb_clock(CLOCK_THREAD_CPUTIME_ID), w0 = eb_clock(CLOCK_MONOTONIC);
    int rc = 0;
    rc = cor_eval_events(e, ev, n, eb_on_alert, &x);
    double c1 = eb_clock(CLOCK_THREAD_CPUTIME_ID), w1 = eb_clock(CLOCK_MONOTONIC);
    if (rc) {
        fprintf(stderr, "engine_bench: cor_eval_events failed (%d)\n", rc);
        return 1;
    }
    printf("engine: %zu events, parse %.4f CPU-s, engine %.4f CPU-s %.4f s wall, %.0f events/CPU-s, "
           "%llu alerts\n",
           n, p1 - p0, c1 - c0, w1 - w0, (double)n / (c1 - c0), (unsigned long long)x.alerts);
    /* (rules, engine and events are left to the exit) */
    return 0;
}
