/* Calendars: loading, validation and the per-event test (cor_calendar.h,
 * docs/calendars.md).
 *
 * A calendar is compiled into what the hot path needs and nothing else:
 *   - its UTC offset in seconds, or for a named zone (Europe/Berlin) the
 *     zone's offsets as a table of (from, offset) read once from the tz
 *     database (cor_tz.c) and looked up per event;
 *   - its dates as sorted, disjoint, non-adjacent runs of days since the
 *     epoch (local dates), searched by bisection;
 *   - its weekly hours as one 1440-bit map per weekday, bit m = minute m
 *     of the local day (0 = Monday), so a weekly test is one bit test;
 *   - its 'except' calendars as indices into the set.
 * Every problem in a file is reported as "FILE:LINE: reason" and refuses
 * the whole set, so a reload applies every file or none. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cor_calendar.h"
#include "cor_tz.h"
#include "vigil/conf.h"
#include "vigil/err.h"
#include "vigil/syslog.h"

#define COR_CAL_DAY_MIN 1440
#define COR_CAL_DAY_WORDS ((COR_CAL_DAY_MIN + 63) / 64)
#define COR_CAL_OFF_MAX (14 * 60) /* minutes: UTC-14:00 .. UTC+14:00 */

static const char *const cor_cal_days[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* A run of local dates, as days since 1970-01-01, both ends included. */
typedef struct cor_cal_span {
    int32_t lo, hi;
} cor_cal_span;

/* One name in 'except', resolved once every file is loaded. */
typedef struct cor_cal_ref {
    char *name;
    int line; /* in the calendar's file */
    int idx;  /* into the set; -1 until resolved */
} cor_cal_ref;

typedef struct cor_cal {
    /* read per event */
    int32_t off_s; /* UTC offset, seconds (local = UTC + off_s), when zone.n is 0 */
    cor_tz zone;   /* a named zone's offsets instead (cor_tz.h) */
    char *tz;      /* the zone's name, for --explain; NULL for an offset */
    uint32_t nspans;
    cor_cal_span *spans; /* sorted, disjoint, non-adjacent */
    bool weekly;         /* any bit set in minutes */
    uint32_t nexcept;
    cor_cal_ref *except;
    uint64_t minutes[7][COR_CAL_DAY_WORDS]; /* [weekday, 0 = Monday][minute / 64] */
    /* for messages */
    char *name;
    char *file;
    int line;
} cor_cal;

struct cor_calendars {
    cor_cal *cals;
    size_t n, cap;
};

static void cor_cal_release(cor_cal *c)
{
    cor_tz_release(&c->zone);
    free(c->tz);
    free(c->spans);
    for (uint32_t i = 0; i < c->nexcept; i++)
        free(c->except[i].name);
    free(c->except);
    free(c->name);
    free(c->file);
}

void cor_calendars_free(cor_calendars *cs)
{
    if (!cs) return;
    for (size_t i = 0; i < cs->n; i++)
        cor_cal_release(&cs->cals[i]);
    free(cs->cals);
    free(cs);
}

size_t cor_calendars_count(const cor_calendars *cs)
{
    return cs ? cs->n : 0;
}

int cor_calendar_find(const cor_calendars *cs, const char *name)
{
    for (size_t i = 0; cs && name && i < cs->n; i++)
        if (strcmp(cs->cals[i].name, name) == 0) return (int)i;
    return -1;
}

const char *cor_calendar_name(const cor_calendars *cs, int idx)
{
    if (!cs || idx < 0 || (size_t)idx >= cs->n) return NULL;
    return cs->cals[idx].name;
}

/* ---- the per-event test ---- */

/* The local wall-clock time of t_us in c's zone, as seconds since
 * 1970-01-01 00:00 local: each instant has exactly one. */
static int64_t cor_cal_local_s(const cor_cal *c, int64_t t_us)
{
    /* Floor division: instants before the epoch are valid. */
    int64_t s = t_us / 1000000;
    if (t_us % 1000000 < 0) s--;
    return s + (c->zone.n ? cor_tz_offset(&c->zone, s) : c->off_s);
}

/* Does c's own time (dates or weekly hours) cover t, ignoring 'except'? */
static bool cor_cal_own(const cor_cal *c, int64_t t_us)
{
    /* Floor divisions throughout: instants before the epoch are valid. */
    int64_t s = cor_cal_local_s(c, t_us);
    int64_t day = s / 86400, sod = s % 86400;
    if (sod < 0) {
        sod += 86400;
        day--;
    }
    if (c->nspans && day >= c->spans[0].lo && day <= c->spans[c->nspans - 1].hi) {
        /* The last run that starts on or before day. */
        uint32_t lo = 0, hi = c->nspans;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (c->spans[mid].lo <= day)
                lo = mid;
            else
                hi = mid;
        }
        if (day <= c->spans[lo].hi) return true;
    }
    if (!c->weekly) return false;
    int wd = (int)((day % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday (3) */
    uint32_t m = (uint32_t)(sod / 60);
    return (c->minutes[wd][m >> 6] >> (m & 63)) & 1;
}

/* The answers of one evaluation, by calendar index: 'except' lists may
 * share calendars (a -> [b, c], b -> [c], ...), and without this a chain
 * of a few dozen such calendars cost billions of tests per event. */
typedef struct cor_cal_memo {
    uint64_t known[COR_CAL_MAX / 64], value[COR_CAL_MAX / 64];
} cor_cal_memo;
_Static_assert(COR_CAL_MAX % 64 == 0, "cor_cal_memo holds COR_CAL_MAX bits");

/* The recursion follows 'except', which the loader proved acyclic, so its
 * depth is at most the number of calendars; each calendar is tested at
 * most once. */
static bool cor_cal_holds_memo(const cor_calendars *cs, int idx, int64_t t_us, cor_cal_memo *m)
{
    uint64_t bit = 1ULL << (idx & 63);
    if (m->known[idx >> 6] & bit) return (m->value[idx >> 6] & bit) != 0;
    const cor_cal *c = &cs->cals[idx];
    bool r = cor_cal_own(c, t_us);
    for (uint32_t i = 0; r && i < c->nexcept; i++)
        r = !cor_cal_holds_memo(cs, c->except[i].idx, t_us, m);
    m->known[idx >> 6] |= bit;
    if (r) m->value[idx >> 6] |= bit;
    return r;
}

bool cor_calendar_holds(const cor_calendars *cs, int idx, int64_t t_us)
{
    if (!cs || idx < 0 || (size_t)idx >= cs->n) return false;
    const cor_cal *c = &cs->cals[idx];
    if (!cor_cal_own(c, t_us)) return false;
    if (c->nexcept == 0) return true;
    cor_cal_memo m;
    memset(&m, 0, sizeof(m));
    for (uint32_t i = 0; i < c->nexcept; i++)
        if (cor_cal_holds_memo(cs, c->except[i].idx, t_us, &m)) return false;
    return true;
}

/* The local day (days since 1970-01-01) of t_us in c's zone. */
static int64_t cor_cal_local_day(const cor_cal *c, int64_t t_us)
{
    int64_t s = cor_cal_local_s(c, t_us);
    return s / 86400 - (s % 86400 < 0);
}

/* The date of a day since 1970-01-01. */
static void cor_cal_from_days(int32_t z, int *y, int *m, int *d)
{
    int64_t yy;
    vg_civil_from_days(z, &yy, m, d);
    *y = (int)yy;
}

bool cor_calendar_local(const cor_calendars *cs, int idx, int64_t t_us, char *buf, size_t len)
{
    if (!cs || idx < 0 || (size_t)idx >= cs->n || len == 0) return false;
    const cor_cal *c = &cs->cals[idx];
    if (!c->zone.n && c->off_s == 0) return false;
    int64_t s = t_us / 1000000;
    if (t_us % 1000000 < 0) s--;
    int64_t loc = cor_cal_local_s(c, t_us), off = loc - s;
    int64_t day = loc / 86400 - (loc % 86400 < 0), sod = loc - day * 86400;
    int y, m, d;
    cor_cal_from_days((int32_t)day, &y, &m, &d);
    int64_t aoff = off < 0 ? -off : off;
    int n = snprintf(buf, len, "%s %04d-%02d-%02d %02d:%02d:%02d %c%02d:%02d",
                     cor_cal_days[(day % 7 + 7 + 3) % 7], y, m, d, (int)(sod / 3600),
                     (int)(sod / 60 % 60), (int)(sod % 60), off < 0 ? '-' : '+', (int)(aoff / 3600),
                     (int)(aoff / 60 % 60));
    if (c->tz && n > 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, ", %s", c->tz);
    return true;
}

bool cor_calendar_over(const cor_calendars *cs, int idx, int64_t now_us, char *msg, size_t msglen)
{
    if (!cs || idx < 0 || (size_t)idx >= cs->n) return false;
    const cor_cal *c = &cs->cals[idx];
    if (c->weekly || c->nspans == 0) return false;
    int32_t last = c->spans[c->nspans - 1].hi;
    if (last >= cor_cal_local_day(c, now_us)) return false;
    int y, m, d;
    cor_cal_from_days(last, &y, &m, &d);
    snprintf(msg, msglen,
             "%s:%d: calendar '%s' has only dates, and the last, %04d-%02d-%02d, is past: it "
             "holds no more, and a calendar that excepts it loses no time to it (add the coming "
             "dates)",
             c->file, c->line, c->name, y, m, d);
    return true;
}

/* ---- parsing ---- */

static int cor_cal_nomem(char *err, size_t errlen, const char *where)
{
    snprintf(err, errlen, "%s: out of memory", where);
    return -ENOMEM;
}

/* "FILE:LINE: reason" for a place whose tree is gone (after loading). */
static int cor_cal_errat(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int cor_cal_errat(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vg_node at = {.kind = VG_NODE_SCALAR, .file = file, .line = line};
    return vg_conf_errf(err, errlen, &at, "%s", msg);
}

static int cor_cal_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses exactly len bytes "YYYY-MM-DD". Returns 0, -1 (not that shape) or
 * -2 (that shape, but no such day: 2026-02-30, month 13, year 0000). */
static int cor_cal_date(const char *s, size_t len, int32_t *day)
{
    if (len != 10 || s[4] != '-' || s[7] != '-') return -1;
    int y = cor_cal_num(s, 4), m = cor_cal_num(s + 5, 2), d = cor_cal_num(s + 8, 2);
    if (y < 0 || m < 0 || d < 0) return -1;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y == 0 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap)) return -2;
    *day = (int32_t)vg_days_from_civil(y, m, d);
    return 0;
}

static int cor_cal_date_err(int how, const vg_node *n, const char *s, size_t len, char *err,
                            size_t errlen)
{
    if (how == -2)
        return vg_conf_errf(err, errlen, n, "'%.*s' is not a valid date (no such day)", (int)len,
                            s);
    return vg_conf_errf(err, errlen, n,
                        "'%s' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD", n->str);
}

static int cor_cal_span_cmp(const void *a, const void *b)
{
    const cor_cal_span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* 'dates': one string or a list; each a day or an inclusive range. */
static int cor_cal_dates(cor_cal *c, const vg_node *v, char *err, size_t errlen)
{
    if (v->kind == VG_NODE_MAP)
        return vg_conf_errf(err, errlen, v, "'dates' must be a date or a list of dates");
    if (v->kind == VG_NODE_SEQ && v->n == 0)
        return vg_conf_errf(err, errlen, v,
                            "'dates' is an empty list: give it a date or more, or leave the key "
                            "out");
    size_t cnt = v->kind == VG_NODE_SCALAR ? 1 : v->n;
    cor_cal_span *sp = realloc(c->spans, (c->nspans + cnt + 1) * sizeof(*sp));
    if (!sp) return cor_cal_nomem(err, errlen, v->file);
    c->spans = sp;
    for (size_t i = 0; i < cnt; i++) {
        const vg_node *n = v->kind == VG_NODE_SCALAR ? v : v->items[i];
        if (n->kind != VG_NODE_SCALAR)
            return vg_conf_errf(err, errlen, n,
                                "a date is a string YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD");
        const char *s = n->str, *dots = strstr(s, "..");
        size_t l1 = dots ? (size_t)(dots - s) : strlen(s);
        int32_t lo, hi;
        int how = cor_cal_date(s, l1, &lo);
        if (how) return cor_cal_date_err(how, n, s, l1, err, errlen);
        hi = lo;
        if (dots) {
            how = cor_cal_date(dots + 2, strlen(dots + 2), &hi);
            if (how) return cor_cal_date_err(how, n, dots + 2, strlen(dots + 2), err, errlen);
            if (hi < lo)
                return vg_conf_errf(err, errlen, n, "date range '%s' ends before it starts", s);
        }
        sp[c->nspans++] = (cor_cal_span){lo, hi};
    }
    /* Sorted, then overlapping and adjacent runs merged: the bisection in
     * cor_cal_own needs disjoint runs. */
    qsort(sp, c->nspans, sizeof(*sp), cor_cal_span_cmp);
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->nspans; i++) {
        if (k && (int64_t)sp[i].lo <= (int64_t)sp[k - 1].hi + 1) {
            if (sp[i].hi > sp[k - 1].hi) sp[k - 1].hi = sp[i].hi;
        } else {
            sp[k++] = sp[i];
        }
    }
    c->nspans = k;
    return 0;
}

/* 'timezone': "UTC", "Z", a fixed offset "+07:00" (anything starting with
 * a sign or a digit is read as one), or an IANA zone name, read from the
 * tz database now so that the per-event test never opens a file. */
static int cor_cal_timezone(cor_cal *c, const vg_node *v, char *err, size_t errlen)
{
    static const char *const forms =
        "a fixed offset like +07:00, UTC, or a zone name like Europe/Berlin";
    if (v->kind != VG_NODE_SCALAR)
        return vg_conf_errf(err, errlen, v, "'timezone' must be %s", forms);
    const char *s = v->str;
    cor_tz_release(&c->zone);
    free(c->tz);
    c->tz = NULL;
    c->off_s = 0;
    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0) return 0;
    if (s[0] == '+' || s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
        int h = -1, m = -1;
        if (strlen(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':') {
            h = cor_cal_num(s + 1, 2);
            m = cor_cal_num(s + 4, 2);
        }
        if (h < 0 || m < 0 || m > 59 || h * 60 + m > COR_CAL_OFF_MAX)
            return vg_conf_errf(err, errlen, v,
                                "'timezone' %s: not a UTC offset from -14:00 to +14:00 (%s)", s,
                                forms);
        c->off_s = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
        return 0;
    }
    char why[512];
    int rc = cor_tz_load(cor_tz_dir(), s, &c->zone, why, sizeof(why));
    if (rc == -ENOMEM) return cor_cal_nomem(err, errlen, v->file);
    if (rc)
        return vg_conf_errf(err, errlen, v, "'timezone' %s: %s%s (%s)", s, why,
                            strcmp(cor_tz_dir(), COR_TZ_DIR) != 0 ? " (TZDIR)" : "", forms);
    if (!(c->tz = strdup(s))) return cor_cal_nomem(err, errlen, v->file);
    return 0;
}

/* "HH:MM" at s (5 bytes) into minutes 0..1440; -1 if malformed. */
static int cor_cal_hhmm(const char *s)
{
    int h = cor_cal_num(s, 2), m = cor_cal_num(s + 3, 2);
    if (s[2] != ':' || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
    return h * 60 + m;
}

static void cor_cal_set(uint64_t *day, int from, int to)
{
    for (int m = from; m < to; m++)
        day[m >> 6] |= 1ULL << (m & 63);
}

/* Marks one "HH:MM-HH:MM" on every weekday set in mask (bit 0 = Monday). */
static int cor_cal_hours(cor_cal *c, unsigned mask, const vg_node *n, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_SCALAR)
        return vg_conf_errf(err, errlen, n, "'hours' must be HH:MM-HH:MM or a list of them");
    const char *s = n->str;
    int from = -1, to = -1;
    if (strlen(s) == 11 && s[5] == '-') {
        from = cor_cal_hhmm(s);
        to = cor_cal_hhmm(s + 6);
    }
    if (from < 0 || to < 0 || from == COR_CAL_DAY_MIN)
        return vg_conf_errf(err, errlen, n,
                            "hours '%s' must be HH:MM-HH:MM, from 00:00 to 24:00, e.g. 07:30-17:30",
                            s);
    if (from == to)
        return vg_conf_errf(err, errlen, n,
                            "hours '%s' is an empty range (the whole day is 00:00-24:00)", s);
    for (int d = 0; d < 7; d++) {
        if (!(mask & 1u << d)) continue;
        if (from < to) {
            cor_cal_set(c->minutes[d], from, to);
        } else { /* past midnight: the rest of the night is the next day's */
            cor_cal_set(c->minutes[d], from, COR_CAL_DAY_MIN);
            cor_cal_set(c->minutes[(d + 1) % 7], 0, to);
        }
    }
    c->weekly = true;
    return 0;
}

/* One weekly entry: {days: [...], hours: "HH:MM-HH:MM" or a list}. */
static int cor_cal_week_entry(cor_cal *c, const vg_node *e, char *err, size_t errlen)
{
    if (e->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, e, "a weekly entry is a map with 'days' and 'hours'");
    const vg_node *days = NULL, *hours = NULL;
    for (size_t i = 0; i < e->n; i++) {
        const char *k = e->keys[i]->str;
        if (strcmp(k, "days") == 0)
            days = e->items[i];
        else if (strcmp(k, "hours") == 0)
            hours = e->items[i];
        else
            return vg_conf_errf(err, errlen, e->keys[i],
                                "unknown key '%s' in weekly entry (expected days, hours)", k);
    }
    if (!days || !hours)
        return vg_conf_errf(err, errlen, e, "a weekly entry needs 'days' and 'hours'");
    size_t nd = days->kind == VG_NODE_SCALAR ? 1 : days->kind == VG_NODE_SEQ ? days->n : 0;
    if (nd == 0)
        return vg_conf_errf(err, errlen, days,
                            "'days' must be a day name or a non-empty list of day names");
    unsigned mask = 0;
    for (size_t i = 0; i < nd; i++) {
        const vg_node *d = days->kind == VG_NODE_SCALAR ? days : days->items[i];
        int found = -1;
        for (int k = 0; d->kind == VG_NODE_SCALAR && k < 7 && found < 0; k++)
            if (strcmp(d->str, cor_cal_days[k]) == 0) found = k;
        if (found < 0 && d->kind != VG_NODE_SCALAR)
            return vg_conf_errf(err, errlen, d, "'days' entries must be day names");
        if (found < 0)
            return vg_conf_errf(err, errlen, d,
                                "unknown day '%s' (expected mon, tue, wed, thu, fri, sat, sun)",
                                d->str);
        mask |= 1u << found;
    }
    size_t nh = hours->kind == VG_NODE_SCALAR ? 1 : hours->kind == VG_NODE_SEQ ? hours->n : 0;
    if (nh == 0)
        return vg_conf_errf(err, errlen, hours, "'hours' must be HH:MM-HH:MM or a list of them");
    for (size_t i = 0; i < nh; i++) {
        int rc = cor_cal_hours(c, mask, hours->kind == VG_NODE_SCALAR ? hours : hours->items[i],
                               err, errlen);
        if (rc) return rc;
    }
    return 0;
}

static int cor_cal_weekly(cor_cal *c, const vg_node *v, char *err, size_t errlen)
{
    if (v->kind != VG_NODE_SEQ)
        return vg_conf_errf(err, errlen, v,
                            "'weekly' must be a list of {days: [...], hours: HH:MM-HH:MM}");
    if (v->n == 0)
        return vg_conf_errf(err, errlen, v,
                            "'weekly' is an empty list: give it an entry or more, or leave the "
                            "key out");
    for (size_t i = 0; i < v->n; i++) {
        int rc = cor_cal_week_entry(c, v->items[i], err, errlen);
        if (rc) return rc;
    }
    return 0;
}

/* 'except': a calendar name or a list of them, resolved later. */
static int cor_cal_except(cor_cal *c, const vg_node *v, char *err, size_t errlen)
{
    size_t cnt = v->kind == VG_NODE_SCALAR ? 1 : v->kind == VG_NODE_SEQ ? v->n : 0;
    if (cnt == 0)
        return vg_conf_errf(err, errlen, v,
                            "'except' must be a calendar name or a non-empty list of them");
    cor_cal_ref *r = realloc(c->except, (c->nexcept + cnt) * sizeof(*r));
    if (!r) return cor_cal_nomem(err, errlen, v->file);
    c->except = r;
    for (size_t i = 0; i < cnt; i++) {
        const vg_node *n = v->kind == VG_NODE_SCALAR ? v : v->items[i];
        if (n->kind != VG_NODE_SCALAR || !n->str[0])
            return vg_conf_errf(err, errlen, n, "'except' entries must be calendar names");
        if (!(r[c->nexcept].name = strdup(n->str))) return cor_cal_nomem(err, errlen, v->file);
        r[c->nexcept].line = n->line;
        r[c->nexcept++].idx = -1;
    }
    return 0;
}

static bool cor_cal_name_ok(const char *s)
{
    size_t l = strlen(s);
    if (l == 0 || l > COR_CAL_NAME_MAX) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* One calendar of a file into c (zeroed by the caller; released by the
 * caller on error). */
static int cor_cal_load(cor_cal *c, const vg_node *n, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, n,
                            "a calendar is a map with 'name' and 'dates' or 'weekly'");
    c->line = n->line;
    if (!(c->file = strdup(n->file))) return cor_cal_nomem(err, errlen, n->file);
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->str;
        const vg_node *v = n->items[i];
        int rc = 0;
        if (strcmp(k, "name") == 0) {
            if (v->kind != VG_NODE_SCALAR || !cor_cal_name_ok(v->str))
                return vg_conf_errf(err, errlen, v,
                                    "'name' must be 1 to %d letters, digits, '.', '_' or '-'",
                                    COR_CAL_NAME_MAX);
            if (!(c->name = strdup(v->str))) return cor_cal_nomem(err, errlen, n->file);
        } else if (strcmp(k, "description") == 0) {
            if (v->kind != VG_NODE_SCALAR)
                return vg_conf_errf(err, errlen, v, "'description' must be a string");
        } else if (strcmp(k, "timezone") == 0) {
            rc = cor_cal_timezone(c, v, err, errlen);
        } else if (strcmp(k, "dates") == 0) {
            rc = cor_cal_dates(c, v, err, errlen);
        } else if (strcmp(k, "weekly") == 0) {
            rc = cor_cal_weekly(c, v, err, errlen);
        } else if (strcmp(k, "except") == 0) {
            rc = cor_cal_except(c, v, err, errlen);
        } else {
            return vg_conf_errf(err, errlen, n->keys[i],
                                "unknown key '%s' in calendar (expected name, description, "
                                "timezone, dates, weekly, except)",
                                k);
        }
        if (rc) return rc;
    }
    if (!c->name) return vg_conf_errf(err, errlen, n, "calendar has no 'name'");
    if (c->nspans == 0 && !c->weekly)
        return vg_conf_errf(err, errlen, n,
                            "calendar '%s' needs 'dates' or 'weekly' ('except' only removes time)",
                            c->name);
    return 0;
}

static int cor_cal_file(cor_calendars *cs, const char *path, char *err, size_t errlen)
{
    vg_node *root = NULL;
    int rc = vg_yaml_load(path, &root, err, errlen);
    if (rc) return rc;
    const vg_node *list = vg_node_get(root, "calendars");
    if (root->kind != VG_NODE_MAP || root->n != 1 || !list || list->kind != VG_NODE_SEQ) {
        rc = vg_conf_errf(err, errlen, vg_node_blame_only(root, "calendars"),
                          "a calendar file is a map with one key, 'calendars', holding a list");
        goto out;
    }
    for (size_t i = 0; i < list->n && rc == 0; i++) {
        if (cs->n == COR_CAL_MAX) {
            rc = vg_conf_errf(err, errlen, list->items[i], "more than %d calendars", COR_CAL_MAX);
            break;
        }
        if (cs->n == cs->cap) {
            size_t cap = cs->cap ? cs->cap * 2 : 8;
            cor_cal *p = realloc(cs->cals, cap * sizeof(*p));
            if (!p) {
                rc = cor_cal_nomem(err, errlen, path);
                break;
            }
            cs->cals = p;
            cs->cap = cap;
        }
        cor_cal *c = &cs->cals[cs->n];
        memset(c, 0, sizeof(*c));
        rc = cor_cal_load(c, list->items[i], err, errlen);
        int dup = rc ? -1 : cor_calendar_find(cs, c->name);
        if (dup >= 0)
            rc = vg_conf_errf(err, errlen, list->items[i], "duplicate calendar '%s' (also %s:%d)",
                              c->name, cs->cals[dup].file, cs->cals[dup].line);
        if (rc)
            cor_cal_release(c);
        else
            cs->n++;
    }
out:
    vg_node_free(root);
    return rc;
}

/* ---- linking: 'except' names into indices, and no cycles ---- */

/* Depth-first over 'except' edges; state 0 = unseen, 1 = on the path
 * (stack[0..depth]), 2 = done. A 1 reached again closes a cycle. */
static int cor_cal_visit(cor_calendars *cs, int i, unsigned char *state, int *stack, int depth,
                         char *err, size_t errlen)
{
    state[i] = 1;
    stack[depth] = i;
    const cor_cal *c = &cs->cals[i];
    for (uint32_t k = 0; k < c->nexcept; k++) {
        int j = c->except[k].idx;
        if (state[j] == 1) {
            char path[512];
            size_t len = 0;
            int from = depth;
            while (stack[from] != j)
                from--;
            path[0] = '\0';
            for (int p = from; p <= depth + 1 && len < sizeof(path); p++) {
                int w = snprintf(path + len, sizeof(path) - len, "%s%s", p > from ? " -> " : "",
                                 cs->cals[p <= depth ? stack[p] : j].name);
                len += w > 0 ? (size_t)w : 0;
            }
            return cor_cal_errat(err, errlen, c->file, c->except[k].line,
                                 "calendar '%s': 'except' makes a cycle (%s)", c->name, path);
        }
        if (state[j] == 0) {
            int rc = cor_cal_visit(cs, j, state, stack, depth + 1, err, errlen);
            if (rc) return rc;
        }
    }
    state[i] = 2;
    return 0;
}

static int cor_cal_link(cor_calendars *cs, const char *dir, char *err, size_t errlen)
{
    for (size_t i = 0; i < cs->n; i++) {
        cor_cal *c = &cs->cals[i];
        for (uint32_t k = 0; k < c->nexcept; k++) {
            c->except[k].idx = cor_calendar_find(cs, c->except[k].name);
            if (c->except[k].idx < 0)
                return cor_cal_errat(err, errlen, c->file, c->except[k].line,
                                     "calendar '%s': unknown calendar '%s' in 'except'", c->name,
                                     c->except[k].name);
        }
    }
    unsigned char *state = calloc(cs->n + 1, 1);
    int *stack = calloc(cs->n + 1, sizeof(int));
    int rc = state && stack ? 0 : cor_cal_nomem(err, errlen, dir);
    for (size_t i = 0; i < cs->n && rc == 0; i++)
        if (state[i] == 0) rc = cor_cal_visit(cs, (int)i, state, stack, 0, err, errlen);
    free(state);
    free(stack);
    return rc;
}

/* ---- files ---- */

static int cor_cal_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool cor_cal_is_file(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
                           (l > 5 && strcmp(n + l - 5, ".yaml") == 0));
}

/* The calendar files of dir, sorted (one name if dir is a file, none if
 * it does not exist). */
static int cor_cal_files(const char *dir, char ***names, size_t *nn, char *err, size_t errlen)
{
    struct stat sb;
    *names = NULL;
    *nn = 0;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: cannot open calendars directory: %s", dir, strerror(errno));
        return VG_ECONFIG;
    }
    if (S_ISREG(sb.st_mode)) {
        if (!(*names = calloc(1, sizeof(char *))) || !((*names)[0] = strdup(dir)))
            return cor_cal_nomem(err, errlen, dir);
        *nn = 1;
        return 0;
    }
    DIR *dh = opendir(dir);
    if (!dh) {
        snprintf(err, errlen, "%s: cannot open calendars directory: %s", dir, strerror(errno));
        return VG_ECONFIG;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dh))) {
        if (!cor_cal_is_file(de->d_name)) continue;
        if (*nn == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(*names, cap * sizeof(*p));
            if (!p) {
                rc = cor_cal_nomem(err, errlen, dir);
                break;
            }
            *names = p;
        }
        size_t l = strlen(dir) + strlen(de->d_name) + 2;
        if (!((*names)[*nn] = malloc(l)))
            rc = cor_cal_nomem(err, errlen, dir);
        else
            snprintf((*names)[(*nn)++], l, "%s/%s", dir, de->d_name);
    }
    closedir(dh);
    if (*names) qsort(*names, *nn, sizeof(char *), cor_cal_name_cmp);
    return rc;
}

int cor_calendars_load(const char *dir, cor_calendars **out, char *err, size_t errlen)
{
    char **names = NULL;
    size_t nn = 0;
    *out = NULL;
    err[0] = '\0';
    cor_calendars *cs = calloc(1, sizeof(*cs));
    int rc = cs ? cor_cal_files(dir, &names, &nn, err, errlen) : cor_cal_nomem(err, errlen, dir);
    for (size_t i = 0; rc == 0 && i < nn; i++)
        rc = cor_cal_file(cs, names[i], err, errlen);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc == 0) rc = cor_cal_link(cs, dir, err, errlen);
    if (rc) {
        cor_calendars_free(cs);
        return rc;
    }
    *out = cs;
    return 0;
}
