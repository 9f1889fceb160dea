/* Calendars: named sets of days and weekly hours ("holidays-vn",
 * "working-hours", "nights"), for rule conditions of the form
 * `time: {in: NAME}` / `time: {not_in: NAME}` (docs/calendars.md).
 *
 * A calendar file is YAML: a map with one key, 'calendars', holding a list
 * of calendars:
 *
 *   calendars:
 *     - name: working-hours             # [A-Za-z0-9_.-]+, at most 64 bytes
 *       description: Office hours       # optional, for people
 *       timezone: "+07:00"              # fixed UTC offset (default +00:00), or
 *                                       # a zone name: Europe/Berlin (cor_tz.h)
 *       dates: [2026-01-01, "2026-02-14..2026-02-22"]  # days, inclusive ranges
 *       weekly:
 *         - days: [mon, tue, wed, thu, fri]
 *           hours: "07:30-17:30"        # or a list; [start, end), "22:00-06:00" wraps
 *       except: [holidays-vn]           # other calendars, in any loaded file
 *
 * A calendar holds at instant t when (the local date of t is in 'dates' OR
 * a weekly entry covers the local time of t) AND no calendar in 'except'
 * holds at t. Each calendar reads t in its own timezone: the wall-clock
 * time there at instant t, which is one time even across a daylight-saving
 * change (a local time the clock skips never holds; one it repeats holds
 * both times). A wrapping entry
 * ("22:00-06:00" on fri) covers Friday from 22:00 and Saturday until 06:00:
 * the night belongs to the day it starts on.
 *
 * Memory: one calendar costs about 1.4 KiB (a 1440-bit minute map per
 * weekday) plus 8 bytes per run of consecutive dates, plus 16 bytes per
 * offset change of a named zone (about 9 KiB for a zone with daylight
 * saving time, tabulated to COR_TZ_LAST_YEAR); there are a handful
 * per deployment, never thousands (COR_CAL_MAX).
 *
 * A set is immutable once loaded: cor_calendar_holds only reads it, so any
 * number of threads may call it at once; freeing it while a call runs is
 * the caller's race to avoid (swap sets between batches, like rule sets).
 */
#ifndef COR_CALENDAR_H
#define COR_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COR_CAL_NAME_MAX 64 /* bytes of a calendar name */
#define COR_CAL_MAX 1024    /* calendars in one set */

typedef struct cor_calendars cor_calendars;

/* Loads every *.yml / *.yaml file directly in DIR (not starting with '.'),
 * in name order, into one set; names are unique across the files and
 * 'except' may name a calendar of any file. DIR may also be one file. A
 * DIR that does not exist gives an empty set (rules that name a calendar
 * then fail to resolve it, which the rule loader reports).
 *
 * On success returns 0 and *out is a set owned by the caller (free it with
 * cor_calendars_free). On error *out is NULL, nothing is kept, and err
 * holds one line:
 *   "FILE:LINE: reason" for a malformed file            (VG_ECONFIG),
 *   "DIR: reason"       for a directory that cannot be read (VG_ECONFIG),
 *   "DIR: out of memory"                                  (-ENOMEM).
 * DIR is only read during the call. */
int cor_calendars_load(const char *dir, cor_calendars **out, char *err, size_t errlen);

/* Frees a set from cor_calendars_load; NULL is a no-op. Indices from
 * cor_calendar_find and names from cor_calendar_name die with it. */
void cor_calendars_free(cor_calendars *c);

/* Index of calendar NAME (0 .. count-1), or -1 when there is none (or c
 * is NULL). Indices are stable for the life of the set: resolve a rule's
 * calendar once, when the rule set is built. */
int cor_calendar_find(const cor_calendars *c, const char *name);

/* Does calendar IDX hold at T_US (microseconds since the epoch, UTC)?
 * No allocation, no locks, no system calls: a few integer operations (and
 * for a named zone, a look-up in its table of offsets, cor_tz.h), a
 * binary search over the date runs, one bit test, then the same for each
 * calendar in 'except' (each calendar at most once, however 'except' lists
 * share calendars). An IDX out of range answers false. */
bool cor_calendar_holds(const cor_calendars *c, int idx, int64_t t_us);

/* Is calendar IDX over at NOW_US: only 'dates' (no 'weekly'), the last of
 * them before NOW_US's local date? Such a calendar never holds again: a
 * holiday calendar nobody extended, whose 'except' in working-hours then
 * removes nothing. If so, writes to msg "FILE:LINE: calendar 'NAME' ..."
 * (the calendar's place, its last date and what to do) and returns true. */
bool cor_calendar_over(const cor_calendars *c, int idx, int64_t now_us, char *msg, size_t msglen);

/* Writes to buf the wall-clock time of T_US in calendar IDX's zone, for
 * --explain: "Wed 2026-07-15 20:00:00 +02:00, Europe/Berlin" (the name for
 * a named zone only). Returns false, writing nothing, when the calendar is
 * at UTC (the UTC time says it all) or IDX is out of range. */
bool cor_calendar_local(const cor_calendars *c, int idx, int64_t t_us, char *buf, size_t len);

/* Number of calendars in the set (0 for NULL). */
size_t cor_calendars_count(const cor_calendars *c);

/* Name of calendar IDX, or NULL when out of range; owned by the set. */
const char *cor_calendar_name(const cor_calendars *c, int idx);

#endif
