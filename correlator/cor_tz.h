/* Named time zones for calendars (docs/calendars.md "Time zones"): the
 * UTC offsets of an IANA zone ("Europe/Berlin"), read once from the
 * system's tz database (Debian's tzdata, /usr/share/zoneinfo) into a
 * sorted table that the per-event test bisects.
 *
 * The file is read by this code (RFC 8536 TZif, version 2 or later: its
 * 64-bit transitions, then its footer's POSIX TZ rule for the years after
 * them), not through glibc's localtime(): that would mean switching the
 * process-wide TZ while other threads (the RFC 3164 parser's local times)
 * may read it. Nothing here touches global state.
 *
 * The table runs to the end of COR_TZ_LAST_YEAR (UTC); later instants keep
 * the offset in force then (a zone's standard time, for the zones that
 * change in spring and autumn). */
#ifndef COR_TZ_H
#define COR_TZ_H

#include <stddef.h>
#include <stdint.h>

#define COR_TZ_DIR "/usr/share/zoneinfo"
#define COR_TZ_LAST_YEAR 2200

/* From 'at' (seconds since the epoch, UTC) on, local = UTC + off seconds,
 * until the next entry's 'at'. */
typedef struct cor_tz_shift {
    int64_t at;
    int32_t off;
} cor_tz_shift;

/* Loads zone NAME from directory DIR (COR_TZ_DIR outside tests). On
 * success returns 0, *out is a table owned by the caller (free()), sorted
 * by 'at', its first 'at' INT64_MIN, no two neighbours with the same
 * offset, and *n its length (>= 1). On error *out is NULL and why holds a
 * reason without the name:
 *   -EINVAL      NAME is not a zone name (characters, "..", a leading '/');
 *   -ENOENT      no such zone in DIR;
 *   VG_ECONFIG   the file is there but not a zone this code reads;
 *   -ENOMEM. */
int cor_tz_load(const char *dir, const char *name, cor_tz_shift **out, uint32_t *n, char *why,
                size_t whylen);

/* The offset at instant s (seconds since the epoch): a bisection over the
 * table, no system call. */
static inline int32_t cor_tz_offset(const cor_tz_shift *z, uint32_t n, int64_t s)
{
    uint32_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z[mid].at <= s)
            lo = mid;
        else
            hi = mid;
    }
    return z[lo].off;
}

#endif
