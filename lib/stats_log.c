/* The counters' periodic log line (vigil/stats_log.h). */
#include <string.h>

#include "vigil/log.h"
#include "vigil/stats_log.h"
#include "vigil/util.h"

#define VG__STATS_LINE_MAX 2048 /* as a log line (log.c) */

static void vg__stats_log_tick(uv_timer_t *t)
{
    vg_stats_log *sl = t->data;
    char line[VG__STATS_LINE_MAX];
    uint64_t fp, now = uv_now(t->loop);
    if (sl->summary) {
        line[0] = '\0';
        sl->summary(sl->ud, line, sizeof(line));
        fp = vg_fnv1a(VG_FNV1A_INIT, line, strlen(line));
    } else {
        fp = sl->fp(sl->ud);
    }
    if (sl->last_at && fp == sl->last_fp && now - sl->last_at < VG_STATS_LOG_REPEAT_MS)
        return;
    sl->last_fp = fp;
    sl->last_at = now ? now : 1;
    if (sl->summary)
        vg_info("%s", line);
    else
        sl->log(sl->ud);
}

static void vg__stats_log_begin(vg_stats_log *sl, uv_loop_t *loop, int64_t every_ms, void *ud)
{
    sl->ud = ud;
    sl->every_ms = every_ms;
    sl->last_fp = sl->last_at = 0;
    uv_timer_init(loop, &sl->timer);
    sl->timer.data = sl;
    uv_timer_start(&sl->timer, vg__stats_log_tick, (uint64_t)every_ms, (uint64_t)every_ms);
    sl->started = 1;
}

void vg_stats_log_start(vg_stats_log *sl, uv_loop_t *loop, int64_t every_ms,
                        uint64_t (*fp)(void *ud), void (*log)(void *ud), void *ud)
{
    sl->summary = NULL;
    sl->fp = fp;
    sl->log = log;
    vg__stats_log_begin(sl, loop, every_ms, ud);
}

void vg_stats_log_start_line(vg_stats_log *sl, uv_loop_t *loop, int64_t every_ms,
                             void (*summary)(void *ud, char *buf, size_t cap), void *ud)
{
    sl->summary = summary;
    sl->fp = NULL;
    sl->log = NULL;
    vg__stats_log_begin(sl, loop, every_ms, ud);
}

void vg_stats_log_every(vg_stats_log *sl, int64_t every_ms)
{
    if (!sl->started || every_ms == sl->every_ms)
        return;
    sl->every_ms = every_ms;
    uv_timer_start(&sl->timer, vg__stats_log_tick, (uint64_t)every_ms, (uint64_t)every_ms);
}

void vg_stats_log_stop(vg_stats_log *sl)
{
    if (sl->started && !uv_is_closing((uv_handle_t *)&sl->timer))
        uv_close((uv_handle_t *)&sl->timer, NULL);
    sl->started = 0;
}
