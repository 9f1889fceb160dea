/* Syslog message parsing: RFC 5424, and RFC 3164 as real devices send it.
 *
 * The parser never rejects a message: whatever the bytes, it fills a
 * vg_event whose raw view is the input. When the header cannot be read the
 * event gets VG_EV_MALFORMED and a static 'reason', and msg is the whole
 * input, so nothing is ever lost. All views point into the input buffer,
 * which the caller keeps alive as long as the event is used.
 */
#ifndef VIGIL_SYSLOG_H
#define VIGIL_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

/* collector.max_message_size: its bounds and default ("8K" in the
 * collector's key table). The collector cuts a longer message there and
 * flags it; the correlator's offline tools cut a replayed line the same. */
#define VG_MAX_MESSAGE_MIN 480
#define VG_MAX_MESSAGE_MAX 65536
#define VG_MAX_MESSAGE_DEFAULT 8192

typedef struct vg_syslog_opts {
    int64_t now_us;   /* arrival time: becomes recv_us, and the reference for year inference */
    int year;         /* > 0: the year of RFC 3164 timestamps (replay); 0: infer from now_us */
    int tz_known;     /* non-zero: RFC 3164 times are at UTC offset tz_min, not local time */
    int32_t tz_min;
    int truncated;    /* non-zero: buf was cut (max_message_size); an RFC 5424 message cut
                         inside its STRUCTURED-DATA keeps its header and the SD as far as it came */
} vg_syslog_opts;

/* Parses buf[0..len) (one message, framing already removed, without the
 * trailing newline) into *ev. Always returns 0; the verdict is in ev->flags.
 *
 * The whole of *ev is overwritten: seq, src, agency and site come back zero
 * and are the caller's to fill afterwards (and host, when VG_EV_NO_HOST says
 * the message had none). The parser sets MALFORMED (with reason), RFC5424,
 * NO_TS (ts_us = recv_us = opts->now_us), NO_HOST, BOM and UNKNOWN_VERSION
 * (with RFC5424: a VERSION other than 1, read as 1); TRUNCATED only for
 * input over 4 GiB, which views cannot span. A PRI that parsed is kept in a
 * MALFORMED event. opts may be NULL: now from the clock, year inferred, local
 * time. Views point into buf; nothing is allocated. Thread-safe; RFC 3164
 * local times go through mktime() behind a per-thread cache, so TZ must not
 * change while the process runs. */
int vg_syslog_parse(const char *buf, size_t len, const vg_syslog_opts *opts, vg_event *ev);

/* Fills *ev as a MALFORMED event of buf[0, len) that was not parsed at
 * all, with reason why (a static string) and recv_us = ts_us = now_us:
 * for bytes the collector keeps and counts although they are no message
 * (a framing error of an octet-counted stream, an empty frame). msg and
 * raw are the input; everything else is absent, pri -1. Views point into
 * buf; nothing is allocated. */
void vg_syslog_raw(const char *buf, size_t len, int64_t now_us, const char *why, vg_event *ev);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12), and
 * back (H. Hinnant's algorithms: exact for every int64 day in range). */
int64_t vg_days_from_civil(int64_t y, int m, int d);
void vg_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/* Formats t (microseconds since the epoch, UTC) as RFC 3339 with
 * microseconds and "Z" into out (at least 28 bytes). Returns the length (27),
 * or 0 with out = "" (when cap > 0) if cap < 28 or the year is not 0000..9999. */
size_t vg_time_format(int64_t t_us, char *out, size_t cap);

/* Facility (0..23) and severity (0..7) names as rsyslog, syslog-ng and
 * RFC 5424 spell them: the one table for rules and outputs. */
extern const char *const vg_syslog_facilities[24];
extern const char *const vg_syslog_severities[8];

#endif
