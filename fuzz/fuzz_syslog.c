/* Fuzz target: vg_syslog_parse (include/vigil/syslog.h) on arbitrary bytes.
 *
 * Each input is parsed under a few option sets (local time in a zone with
 * DST and a half-hour offset; fixed offsets; a given year; year inference
 * around New Year; opts == NULL) and every event is checked against what
 * syslog.h and event.h promise:
 *   - raw is the input; seq, src, agency and site come back zero; TRUNCATED
 *     is never set (inputs are far below 4 GiB); no unknown flag;
 *   - every view is absent (NULL, 0) or lies inside the input, and the
 *     header views come in message order without overlapping; msg is the
 *     tail of the input;
 *   - header fields hold only printable ASCII, within the RFC bounds;
 *   - MALFORMED has a static reason, msg == raw, NO_TS and NO_HOST, and no
 *     other view; otherwise there is no reason;
 *   - NO_HOST iff host is absent; NO_TS means ts_us == recv_us, tz_min 0;
 *     RFC5424 and a kept PRI need a '<'; BOM means the three bytes before
 *     msg are EF BB BF;
 *   - the per-thread caches never change a result: parsing again, and
 *     parsing in a new thread (cold caches), give the same event.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/syslog.h"

#define US INT64_C(1000000)

static const vg_syslog_opts opt_sets[] = {
    /* 2024-11-25 02:14:07 UTC, local time (TZ set below), year inferred */
    {.now_us = INT64_C(1732500847) * US},
    /* 2025-01-01 00:00:30 UTC: a year-less "Dec 31" belongs to 2024 */
    {.now_us = INT64_C(1735689630) * US, .tz_known = 1, .tz_min = -(9 * 60 + 30)},
    /* 2024-12-31 23:59:59 UTC, replaying 2020 at UTC+14 */
    {.now_us = INT64_C(1735689599) * US, .year = 2020, .tz_known = 1, .tz_min = 14 * 60},
    /* 2024-03-10 06:30:00 UTC: inside the spring DST gap of the zone below */
    {.now_us = INT64_C(1710052200) * US},
    /* cut by the receiver: an RFC 5424 SD may end where the input does */
    {.now_us = INT64_C(1732500847) * US, .truncated = 1},
};
#define NOPTS (sizeof(opt_sets) / sizeof(opt_sets[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* A POSIX rule needs no tzdata: Newfoundland, UTC-3:30 with DST. */
    setenv("TZ", "NST3:30NDT,M3.2.0,M11.1.0", 1);
    return 0;
}

static int inside(const char *buf, size_t len, vg_str v)
{
    if (!v.p)
        return v.len == 0;
    uintptr_t b = (uintptr_t)buf, p = (uintptr_t)v.p;
    return p >= b && p <= b + len && v.len <= b + len - p;
}

static int printable(vg_str v, size_t max)
{
    if (!v.p)
        return 1;
    if (v.len == 0 || v.len > max)
        return 0;
    for (uint32_t i = 0; i < v.len; i++)
        if ((unsigned char)v.p[i] <= ' ' || (unsigned char)v.p[i] >= 0x7f)
            return 0;
    return 1;
}

static void check_event(const char *buf, size_t len, const vg_syslog_opts *o, const vg_event *ev)
{
    const unsigned known = VG_EV_MALFORMED | VG_EV_TRUNCATED | VG_EV_RFC5424 | VG_EV_NO_TS |
                           VG_EV_NO_HOST | VG_EV_BOM | VG_EV_UNKNOWN_VERSION;
    unsigned f = ev->flags;

    FZ_CHECK(ev->raw.p == buf && ev->raw.len == len);
    FZ_CHECK((f & ~known) == 0);
    FZ_CHECK(!(f & VG_EV_TRUNCATED));
    FZ_CHECK(ev->seq == 0);
    FZ_CHECK(!ev->src.p && !ev->src.len && !ev->agency.p && !ev->agency.len && !ev->site.p &&
             !ev->site.len);
    if (o)
        FZ_CHECK(ev->recv_us == o->now_us);

    const vg_str *order[] = {&ev->host, &ev->app, &ev->procid, &ev->msgid, &ev->sd, &ev->msg};
    uintptr_t end = (uintptr_t)buf;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        FZ_CHECKF(inside(buf, len, *order[i]), "view %zu", i);
        if (order[i]->p) {
            FZ_CHECKF((uintptr_t)order[i]->p >= end, "view %zu overlaps the one before", i);
            end = (uintptr_t)order[i]->p + order[i]->len;
        }
    }
    if (ev->msg.p)
        FZ_CHECK(ev->msg.p + ev->msg.len == buf + len);
    FZ_CHECK(printable(ev->host, 255));
    if (f & VG_EV_RFC5424) {
        FZ_CHECK(printable(ev->app, 128));
    } else { /* RFC 3164: single inner spaces ("Microsoft Word[14463]:") */
        FZ_CHECK(!ev->app.p || (ev->app.len > 0 && ev->app.p[0] != ' ' &&
                                ev->app.p[ev->app.len - 1] != ' ' &&
                                !memmem(ev->app.p, ev->app.len, "  ", 2)));
        for (uint32_t k = 0; ev->app.p && k < ev->app.len; k++)
            FZ_CHECK((unsigned char)ev->app.p[k] >= ' ' && (unsigned char)ev->app.p[k] < 0x7f);
        FZ_CHECK(ev->app.len <= 128);
    }
    FZ_CHECK(printable(ev->procid, 128));
    FZ_CHECK(printable(ev->msgid, 32));

    FZ_CHECK(ev->pri >= -1 && ev->pri <= 191);
    if (ev->pri >= 0)
        FZ_CHECK(len > 0 && buf[0] == '<');
    FZ_CHECK(!!(f & VG_EV_NO_HOST) == !ev->host.p);
    FZ_CHECK(ev->tz_min >= -(24 * 60) && ev->tz_min <= 24 * 60);
    if (f & VG_EV_NO_TS)
        FZ_CHECK(ev->ts_us == ev->recv_us && ev->tz_min == 0);
    if (f & VG_EV_UNKNOWN_VERSION) /* only an RFC 5424 header has a VERSION */
        FZ_CHECK(f & VG_EV_RFC5424);

    if (f & VG_EV_MALFORMED) {
        FZ_CHECK(f == (VG_EV_MALFORMED | VG_EV_NO_TS | VG_EV_NO_HOST));
        FZ_CHECK(ev->reason.p && ev->reason.len > 0 && !inside(buf, len, ev->reason));
        FZ_CHECK(strlen(ev->reason.p) == ev->reason.len);
        FZ_CHECK(ev->msg.p == ev->raw.p && ev->msg.len == ev->raw.len);
        FZ_CHECK(!ev->host.p && !ev->app.p && !ev->procid.p && !ev->msgid.p && !ev->sd.p);
    } else {
        FZ_CHECK(!ev->reason.p && ev->reason.len == 0);
    }
    if (f & VG_EV_RFC5424) {
        FZ_CHECK(!(f & VG_EV_MALFORMED) && ev->pri >= 0);
        if (ev->sd.p && o && o->truncated && ev->sd.p + ev->sd.len == buf + len)
            FZ_CHECK(ev->sd.len >= 1 && ev->sd.p[0] == '[' && ev->msg.len == 0);
        else if (ev->sd.p)
            FZ_CHECK(ev->sd.len >= 2 && ev->sd.p[0] == '[' && ev->sd.p[ev->sd.len - 1] == ']');
    } else {
        FZ_CHECK(!ev->msgid.p && !ev->sd.p);
        if (!(f & VG_EV_MALFORMED))
            FZ_CHECK(ev->msg.p != NULL); /* RFC 3164: whatever is left is MSG */
    }
    if (f & VG_EV_BOM) {
        FZ_CHECK((f & VG_EV_RFC5424) && ev->msg.p && ev->msg.p - buf >= 3);
        FZ_CHECK(!memcmp(ev->msg.p - 3, "\xEF\xBB\xBF", 3));
    }
}

static int str_same(vg_str a, vg_str b)
{
    return a.p == b.p && a.len == b.len;
}

static int event_same(const vg_event *a, const vg_event *b)
{
    return a->seq == b->seq && a->recv_us == b->recv_us && a->ts_us == b->ts_us &&
           a->tz_min == b->tz_min && a->pri == b->pri && a->flags == b->flags &&
           str_same(a->host, b->host) && str_same(a->app, b->app) &&
           str_same(a->procid, b->procid) && str_same(a->msgid, b->msgid) &&
           str_same(a->sd, b->sd) && str_same(a->msg, b->msg) && str_same(a->raw, b->raw) &&
           str_same(a->src, b->src) && str_same(a->agency, b->agency) &&
           str_same(a->site, b->site) && a->reason.len == b->reason.len &&
           (a->reason.len == 0 || !memcmp(a->reason.p, b->reason.p, a->reason.len));
}

struct cold {
    const char *buf;
    size_t len;
    vg_event ev[NOPTS];
};

/* A new thread starts with empty per-thread caches. */
static void *cold_parse(void *arg)
{
    struct cold *c = arg;
    for (size_t k = 0; k < NOPTS; k++)
        vg_syslog_parse(c->buf, c->len, &opt_sets[k], &c->ev[k]);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    vg_event ev[NOPTS], again;

    for (size_t k = 0; k < NOPTS; k++) {
        FZ_CHECK(vg_syslog_parse(buf, size, &opt_sets[k], &ev[k]) == 0);
        check_event(buf, size, &opt_sets[k], &ev[k]);
    }
    for (size_t k = 0; k < NOPTS; k++) { /* warm caches: the same result */
        vg_syslog_parse(buf, size, &opt_sets[k], &again);
        FZ_CHECKF(event_same(&ev[k], &again), "option set %zu, parsed twice", k);
    }
    struct cold c = {.buf = buf, .len = size};
    pthread_t t;
    FZ_CHECK(pthread_create(&t, NULL, cold_parse, &c) == 0);
    pthread_join(t, NULL);
    for (size_t k = 0; k < NOPTS; k++)
        FZ_CHECKF(event_same(&ev[k], &c.ev[k]), "option set %zu, cold caches", k);

    FZ_CHECK(vg_syslog_parse(buf, size, NULL, &again) == 0);
    check_event(buf, size, NULL, &again);
    return 0;
}
