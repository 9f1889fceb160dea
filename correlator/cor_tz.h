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
 * change in spring and autumn).
 *
 * A lookup goes through buckets of 2^25 s (about 388 days) from 1970 on,
 * each naming the entry in force at its start, then steps over the one or
 * two changes inside: a handful of loads (a bisection of the ~500 entries
 * of a DST zone was a chain of nine dependent loads, 20 ns). Instants
 * after the last change take its offset; those before 1970 are bisected. */
#ifndef COR_TZ_H
#define COR_TZ_H

#include <stddef.h>
#include <stdint.h>

#define COR_TZ_DIR "/usr/share/zoneinfo"
#define COR_TZ_LAST_YEAR 2200
#define COR_TZ_BUCKET_SHIFT 25

/* From 'at' (seconds since the epoch, UTC) on, local = UTC + off seconds,
 * until the next entry's 'at'. */
typedef struct cor_tz_shift {
    int64_t at;
    int32_t off;
} cor_tz_shift;

/* A zone: v[0..n) sorted by 'at', v[0].at INT64_MIN, no two neighbours
 * with the same offset; bucket[b] the index of the entry in force at
 * instant b << COR_TZ_BUCKET_SHIFT. */
typedef struct cor_tz {
    cor_tz_shift *v;
    uint32_t n;
    uint32_t nbucket;
    uint32_t *bucket;
} cor_tz;

/* The directory zones are read from: the environment's TZDIR when set and
 * not empty, else COR_TZ_DIR, as glibc's own reading of zone names does
 * (tzfile.c; TZDIR is read at each call, so a reload sees the process's
 * environment, which only a restart changes). */
const char *cor_tz_dir(void);

/* Loads zone NAME from directory DIR (cor_tz_dir() outside tests) into *out,
 * which the caller releases with cor_tz_release. On error *out is empty
 * (n 0; releasing it is a no-op) and why holds a reason without the name:
 *   -EINVAL      NAME is not a zone name (characters, "..", a leading '/');
 *   -ENOENT      no such zone in DIR;
 *   VG_ECONFIG   the file is there but not a zone this code reads;
 *   -ENOMEM. */
int cor_tz_load(const char *dir, const char *name, cor_tz *out, char *why, size_t whylen);

/* Frees what cor_tz_load gave *z and empties it. */
void cor_tz_release(cor_tz *z);

/* The offset at instant s (seconds since the epoch) of a loaded zone: no
 * system call, no lock, nothing written. */
static inline int32_t cor_tz_offset(const cor_tz *z, int64_t s)
{
    uint64_t b = (uint64_t)s >> COR_TZ_BUCKET_SHIFT; /* huge for s < 0 */
    uint32_t lo = 0, hi = z->n;
    if (b < z->nbucket) {
        lo = z->bucket[b];
        while (lo + 1 < z->n && z->v[lo + 1].at <= s)
            lo++;
        return z->v[lo].off;
    }
    if (s >= z->v[z->n - 1].at) return z->v[z->n - 1].off;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->v[mid].at <= s)
            lo = mid;
        else
            hi = mid;
    }
    return z->v[lo].off;
}

#endif
