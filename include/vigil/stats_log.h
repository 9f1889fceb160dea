/* A daemon's counters in its own log, every stats_log while they change:
 * the 'stats_log' key the collector, the correlator and the shipper share
 * (docs/configuration.md), and the timer behind it.
 *
 * Each tick logs the counters when they changed since the last line
 * logged, or when that line is an hour old: an idle daemon over a holiday weekend wrote
 * the same line 1,440 times a day, and an operator watching journald
 * still sees, once an hour, that it lives. SIGUSR1 and the exit log
 * through the daemon's own report, not through this.
 *
 * A daemon whose counters are one line gives that line (summary: the
 * collector's and the correlator's "stats: ..."), compared as text; one
 * whose counters are several lines (the shipper: the intake and each
 * output) gives a fingerprint of them (fp) and its logging (log). */
#ifndef VIGIL_STATS_LOG_H
#define VIGIL_STATS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "vigil/conf.h"

#define VG_STATS_LOG_MIN_MS 1000
#define VG_STATS_LOG_MAX_MS 3600000
/* Unchanged counters are logged again after this long. */
#define VG_STATS_LOG_REPEAT_MS 3600000

/* The entry of a daemon's key table: int64_t field of type (ms). */
#define VG_STATS_LOG_KEY(type, field)                                                              \
    {"stats_log", VG_CONF_DURATION, "1m", offsetof(type, field),                                \
     "how often the counters go to the log while they change (unchanged: once an hour)",        \
     VG_STATS_LOG_MIN_MS, VG_STATS_LOG_MAX_MS}

typedef struct vg_stats_log {
    /* private */
    uv_timer_t timer;
    void (*summary)(void *ud, char *buf, size_t cap); /* the counters' line; or: */
    uint64_t (*fp)(void *ud); /* the counters, folded (vg_fnv1a) */
    void (*log)(void *ud);    /* logs them */
    void *ud;
    int64_t every_ms;
    uint64_t last_fp; /* the counters last logged, and when (loop ms; 0: never) */
    uint64_t last_at;
    int started;
} vg_stats_log;

/* Starts the ticks every every_ms on loop. sl must stay in place until
 * vg_stats_log_stop's close is done (the loop ran once more): embed it in
 * the daemon's own struct. ud is the daemon's, passed to fp and log. */
void vg_stats_log_start(vg_stats_log *sl, uv_loop_t *loop, int64_t every_ms,
                        uint64_t (*fp)(void *ud), void (*log)(void *ud), void *ud);
/* The same for a daemon whose counters are one line: summary writes it
 * ("stats: a=1 b=2", NUL-terminated, cut to cap) into buf; a tick logs it
 * at info when its text differs from the last one logged. */
void vg_stats_log_start_line(vg_stats_log *sl, uv_loop_t *loop, int64_t every_ms,
                             void (*summary)(void *ud, char *buf, size_t cap), void *ud);
/* A reload's stats_log: the next tick every_ms from now (unchanged: the
 * ticks go on as they were). No-op before start. */
void vg_stats_log_every(vg_stats_log *sl, int64_t every_ms);
/* Closes the timer (the daemon's shutdown). Safe when never started. */
void vg_stats_log_stop(vg_stats_log *sl);

#endif
