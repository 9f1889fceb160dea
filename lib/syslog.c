/* Syslog message parsing: RFC 5424, and RFC 3164 as real devices send it.
 *
 * One pass over the bytes, no allocation, no locale, no regex. Every view in
 * the event points into the caller's buffer.
 *
 * Which grammar: after an optional <PRI>, 1..3 digits followed by SP (or the
 * end) are an RFC 5424 VERSION; anything else is read as RFC 3164. RFC 5424 is
 * parsed strictly (an error makes the event MALFORMED with a reason); RFC 3164
 * is parsed leniently and never fails after the PRI: what cannot be read as a
 * header stays in MSG. A VERSION other than 1 (the only one defined) is read
 * by the version 1 grammar and flagged VG_EV_UNKNOWN_VERSION (the collector
 * counts it): kept and usable, and visible; rsyslog reads such a line as RFC
 * 3164 (its TAG becomes the timestamp's "2026-01-01T00:").
 *
 * RFC 3164 header, as read here (every part optional):
 *
 *   [<PRI>] [SP*] [NNN: ] [*|.] TIMESTAMP [:] SP* [HOSTNAME SP*] [TAG[ SP]] MSG
 *
 *   TIMESTAMP  "Mmm dd hh:mm:ss", month in any case, day padded with SP or 0
 *              or not at all, optional ".fff" (any number of digits, or
 *              none, kept to the microsecond), optional year before the time ("Mar 7 2008
 *              19:06:53", Cisco) or after it ("Apr 15 21:28:13 2007",
 *              Linksys), optional "UTC"/"GMT" before a Cisco colon
 *              ("10:04.123 UTC:"); or ISO 8601 "yyyy-mm-ddThh:mm:ss[.f][Z|+hh:mm]"
 *   NNN:       Cisco IOS sequence number; "*" and "." mark an unsynced clock
 *   HOSTNAME   only after a timestamp; the next token, unless it is a TAG or
 *              starts with '%' (Cisco "%ASA-6-302013:" without hostname), or
 *              holds characters no host name or address has; also AIX
 *              "Message forwarded from HOST:"
 *   TAG        "prog:", "prog[pid]:" or "prog[pid]" followed by SP or the end;
 *              prog is up to 128 printable ASCII bytes other than ":[]".
 *              As rsyslog (8.2302, checked against a running rsyslogd): "[]"
 *              (empty, no PID) like "[pid]", and a colon glued to MSG
 *              ("sshd:Accepted ..."; MSG starts after the colon) also where
 *              no HOSTNAME came before it. rsyslog ends a TAG at the first
 *              colon whatever follows; here not where the colon is part of
 *              the text: "http://", a program of digits only ("12:30:00"),
 *              an IP address ("10.0.0.1:80"), an IPv6 token ("fe80::1",
 *              which stays the HOSTNAME). Every vector of
 *              tests/data/syslog-vectors.tsv parses as it did before.
 *              After a HOSTNAME also "prog with spaces[pid]:" and sysklogd's
 *              "prog x.y.z:" (the version stays in MSG, as rsyslog reads it)
 *
 * Times without a zone are local time: opts->tz_min when opts->tz_known, else
 * the process time zone (TZ), through localtime_r() behind a small per-thread
 * cache of UTC offsets by quarter hour of local time (a time that a change of
 * offset skips or repeats takes the offset before the change: local_to_utc).
 * The cache assumes TZ does not change while the process runs.
 *
 * Speed: character classes come from one 256-byte table; the token after the
 * timestamp is classified (host or tag) in one scan; and the last few header
 * times converted are remembered per thread (consecutive messages mostly share
 * the second), exactly: a remembered result is reused only where recomputing
 * it would give the same value (see ts_memo).
 */
#include "vigil/syslog.h"
#include "vigil/util.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#define US_PER_S INT64_C(1000000)
#define S_PER_DAY INT64_C(86400)

#define HOSTNAME_MAX 255 /* RFC 5424 field limits */
#define APPNAME_MAX 48
#define PROCID_MAX 128
#define MSGID_MAX 32
#define SDNAME_MAX 32
#define SDID_TRACK 32 /* SD-IDs remembered for the duplicate check */
#define TAG_MAX 128   /* RFC 3164 program name; devices exceed the RFC's 32 */
#define PID_MAX 128

#define NEW_YEAR_WINDOW_S (31 * S_PER_DAY) /* how far a year-less stamp may lie ahead of now */

typedef unsigned char uchar;

/* A timestamp as read from the header, before time zone arithmetic. */
typedef struct ts_parts {
    int year; /* 0: the header had none */
    int mon, day, hour, min, sec;
    int32_t usec;
    int has_off; /* the header gave a UTC offset */
    int32_t off_min;
} ts_parts;

/* ---- calendar arithmetic (proleptic Gregorian, any sign) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const uchar dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 1970-01-01 to y-m-d. Years are counted from March so that the
 * leap day is the last day of the (shifted) year. */
int64_t vg_days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2)
        y--;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                      /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9;               /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;         /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void vg_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Seconds since the epoch of the wall-clock time t (year y), as if it were UTC. */
static int64_t wall_seconds(const ts_parts *t, int64_t y)
{
    return vg_days_from_civil(y, t->mon, t->day) * S_PER_DAY + t->hour * 3600 + t->min * 60 +
           t->sec;
}

/* ---- local time ---- */

/* Per-thread cache: UTC offset of the process time zone for a quarter hour of
 * local wall-clock time. Every zone in use changes its offset on a quarter hour. */
#define TZC_SLOTS 8 /* the slot is the top 3 bits of a multiplicative hash */
#define TZC_SPAN 900
static _Thread_local struct {
    int64_t key;
    int32_t off_s;
    int valid;
} tzc[TZC_SLOTS];

/* The UTC offset in seconds of the process time zone at UTC second u;
 * *ok 0 when localtime_r cannot represent u. */
static int64_t tz_off_at(int64_t u, int *ok)
{
    time_t tt = (time_t)u;
    struct tm tm;
    *ok = localtime_r(&tt, &tm) != NULL;
    return *ok ? (int64_t)tm.tm_gmtoff : 0;
}

/* Converts local wall-clock seconds to UTC seconds; *off_min gets the offset.
 * *from gets the cache slot that holds the offset used (found there or just
 * stored), or -1 when the result did not come from the cache (a DST gap, or out
 * of range).
 *
 * A wall time that a change of offset skips (spring forward) or repeats (fall
 * back) is read with the offset in force before the change: 02:30 in a gap
 * from 02:00 to 03:00 is 03:30 after it, and 01:30 of an hour that repeats is
 * its first pass. mktime() with tm_isdst -1 decides those by its own state
 * (the offset of its previous call, in glibc), so the same stamp could get
 * either offset, and two stamps of one repeated hour different ones. Zones
 * change offset at most once in two days: the offsets a day before and a day
 * after are the two candidates. */
static int64_t local_to_utc(int64_t wall, int32_t *off_min, int *from)
{
    int64_t key = floor_div(wall, TZC_SPAN);
    unsigned slot = (unsigned)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> 61);
    if (tzc[slot].valid && tzc[slot].key == key) {
        *off_min = tzc[slot].off_s / 60;
        *from = (int)slot;
        return wall - tzc[slot].off_s;
    }
    *from = -1;
    int ok_b, ok_a, ok;
    int64_t before = tz_off_at(wall - S_PER_DAY, &ok_b), after = tz_off_at(wall + S_PER_DAY, &ok_a);
    if (!ok_b || !ok_a) { /* out of range: UTC */
        *off_min = 0;
        return wall;
    }
    int fits_b = tz_off_at(wall - before, &ok) == before && ok;
    int fits_a = !fits_b && tz_off_at(wall - after, &ok) == after && ok;
    int64_t off = fits_a ? after : before;
    *off_min = (int32_t)(off / 60);
    if (fits_b || fits_a) { /* not in a DST gap: the offset holds for the slot */
        tzc[slot].key = key;
        tzc[slot].off_s = (int32_t)off;
        tzc[slot].valid = 1;
        *from = (int)slot;
    }
    return wall - off;
}

/* Per-thread memo of recent conversions (header time without its fraction ->
 * UTC seconds). An entry is reused only where the computation in ts_seconds
 * would give the same result: an inferred year only while 'now' stays in the
 * range over which the inference picks the same year; a local time only while
 * the tzc slot it came from still holds the same key and offset (local_to_utc
 * would then return exactly wall - off_s). */
#define TSM_BITS 4 /* the slot is the top 4 bits of a multiplicative hash */
#define TSM_SLOTS (1 << TSM_BITS)
typedef struct ts_memo {
    uint64_t fields; /* mon, day, hour, min, sec, fixed offset or not, its minutes */
    int64_t ykey;    /* the year given plus one; 0: inferred from now */
    int64_t lo, hi;  /* inferred year: valid for now (seconds) in [lo, hi) */
    int64_t utc;     /* the result, seconds */
    int64_t tkey;    /* local time: tzc key of the wall-clock time */
    int32_t off_s;   /* local time: tzc[slot].off_s when computed */
    int32_t tz_min;
    int slot; /* local time: the tzc slot; -1: a fixed offset */
    int valid;
} ts_memo;
static _Thread_local ts_memo tsm[TSM_SLOTS];

/* Per-thread: the year of 'now' (for year inference), valid for now (seconds)
 * in [lo, hi). */
static _Thread_local struct {
    int64_t year, lo, hi;
    int valid;
} nowy;

/* ts_seconds on a memo miss: computes, and fills *m when the result may be
 * reused. */
static __attribute__((noinline)) int64_t ts_compute(const ts_parts *t, int64_t ykey, int fixed,
                                                    int32_t zmin, int64_t now_s, int32_t *tz_min,
                                                    ts_memo *m, uint64_t fields)
{
    int64_t year, lo = INT64_MIN, hi = INT64_MAX;
    if (ykey) {
        year = ykey - 1;
    } else {
        if (!nowy.valid || now_s < nowy.lo || now_s >= nowy.hi) {
            int mo, d;
            vg_civil_from_days(floor_div(now_s, S_PER_DAY), &nowy.year, &mo, &d);
            nowy.lo = vg_days_from_civil(nowy.year, 1, 1) * S_PER_DAY;
            nowy.hi = vg_days_from_civil(nowy.year + 1, 1, 1) * S_PER_DAY;
            nowy.valid = 1;
        }
        year = nowy.year;
        lo = nowy.lo;
        hi = nowy.hi;
        /* stamp > now + window: Dec 31 received on Jan 1; stamp <= now + window -
         * 365 days: Jan 1 received on Dec 31 (sender's clock ahead). Judged
         * on the stamp's UTC time in that year, as now is: its wall-clock
         * time is off by the zone's offset, which moved the edges (exact in
         * --replay, where now is the line before's time plus a lead) by
         * hours east or west of UTC. */
        int64_t u = wall_seconds(t, year);
        if (fixed) {
            u -= (int64_t)zmin * 60;
        } else {
            int32_t om;
            int sl;
            u = local_to_utc(u, &om, &sl);
        }
        int64_t a = u - NEW_YEAR_WINDOW_S, b = a + 365 * S_PER_DAY;
        if (now_s < a) {
            year--;
            hi = hi < a ? hi : a;
        } else if (now_s >= b) {
            year++;
            lo = lo > b ? lo : b;
        } else {
            lo = lo > a ? lo : a;
            hi = hi < b ? hi : b;
        }
    }
    if (t->mon == 2 && t->day == 29 && !is_leap(year))
        return INT64_MIN; /* no such day in the year it falls in: not a timestamp */
    int64_t wall = wall_seconds(t, year), utc;
    int slot = -1;
    if (fixed) {
        *tz_min = zmin;
        utc = wall - (int64_t)zmin * 60;
    } else {
        utc = local_to_utc(wall, tz_min, &slot);
        if (slot < 0)
            return utc; /* not from the cache: not remembered either */
        m->tkey = tzc[slot].key;
        m->off_s = tzc[slot].off_s;
    }
    m->fields = fields;
    m->ykey = ykey;
    m->lo = lo;
    m->hi = hi;
    m->utc = utc;
    m->tz_min = *tz_min;
    m->slot = slot;
    m->valid = 1;
    return utc;
}

/* UTC seconds of the header time t (fraction aside) in year ykey - 1, or with
 * ykey 0 in the year that puts the stamp in the window (now - 334 days, now +
 * 31 days], judged on the stamp's UTC time. fixed: at UTC offset zmin
 * minutes; else local time. Fills *tz_min. */
static inline int64_t ts_seconds(const ts_parts *t, int64_t ykey, int fixed, int32_t zmin,
                                 int64_t now_us, int32_t *tz_min)
{
    uint64_t fields = (uint64_t)t->mon | (uint64_t)t->day << 4 | (uint64_t)t->hour << 9 |
                      (uint64_t)t->min << 14 | (uint64_t)t->sec << 20 | (uint64_t)fixed << 26 |
                      (uint64_t)(uint32_t)zmin << 32;
    int64_t now_s = ykey ? 0 : floor_div(now_us, US_PER_S);
    uint64_t h =
        (fields + (uint64_t)ykey * UINT64_C(0xD6E8FEB86659FD93)) * UINT64_C(0x9E3779B97F4A7C15);
    ts_memo *m = &tsm[h >> (64 - TSM_BITS)];
    if (m->valid && m->fields == fields && m->ykey == ykey &&
        (ykey || (now_s >= m->lo && now_s < m->hi)) &&
        (m->slot < 0 || (tzc[m->slot].valid && tzc[m->slot].key == m->tkey &&
                         tzc[m->slot].off_s == m->off_s))) {
        *tz_min = m->tz_min;
        return m->utc;
    }
    return ts_compute(t, ykey, fixed, zmin, now_s, tz_min, m, fields);
}

/* UTC microseconds of an RFC 3164 header timestamp; fills *tz_min. A missing
 * year is opts->year, else inferred from now (ts_seconds). INT64_MIN for
 * "Feb 29" in a year without one (the day is only checked once the year is
 * known). */
static int64_t ts_to_utc(const ts_parts *t, const vg_syslog_opts *o, int64_t now_us,
                         int32_t *tz_min)
{
    int64_t ykey = t->year ? (int64_t)t->year + 1 : o && o->year > 0 ? (int64_t)o->year + 1 : 0;
    int fixed = t->has_off || (o && o->tz_known);
    int32_t zmin = t->has_off ? t->off_min : fixed ? o->tz_min : 0;
    int64_t sec = ts_seconds(t, ykey, fixed, zmin, now_us, tz_min);
    return sec == INT64_MIN ? INT64_MIN : sec * US_PER_S + t->usec;
}

/* ---- lexical helpers ---- */

/* Character classes, one table lookup each. "Printable" is PRINTUSASCII:
 * 33..126, SP excluded. */
enum {
    C_PRINT = 1 << 0,  /* printable: an RFC 5424 header field */
    C_HOST = 1 << 1,   /* in a 3164 HOSTNAME: letters, digits, ".-_:" */
    C_TAG = 1 << 2,    /* in a 3164 TAG: printable but ":[]" */
    C_SDNAME = 1 << 3, /* in an SD-NAME: printable but "=]\"" */
    C_SDVAL = 1 << 4,  /* special in a PARAM-VALUE: "\"\\]" */
    C_VPLAIN = 1 << 5, /* not special in a PARAM-VALUE: any byte but "\"\\]" */
    C_HT = 1 << 6,     /* both C_HOST and C_TAG: letters, digits, ".-_" */
};
#define CL_ALNUM(c) \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define CL_PRINT(c) ((c) > ' ' && (c) < 0x7f)
#define CL(c)                                                                              \
    ((CL_PRINT(c) ? C_PRINT : 0) |                                                         \
     (CL_ALNUM(c) || (c) == '.' || (c) == '-' || (c) == '_' || (c) == ':' ? C_HOST : 0) |   \
     (CL_PRINT(c) && (c) != ':' && (c) != '[' && (c) != ']' ? C_TAG : 0) |                 \
     (CL_PRINT(c) && (c) != '=' && (c) != ']' && (c) != '"' ? C_SDNAME : 0) |              \
     ((c) == '"' || (c) == '\\' || (c) == ']' ? C_SDVAL : C_VPLAIN) |                       \
     (CL_ALNUM(c) || (c) == '.' || (c) == '-' || (c) == '_' ? C_HT : 0))
#define CL4(c) CL(c), CL((c) + 1), CL((c) + 2), CL((c) + 3)
#define CL16(c) CL4(c), CL4((c) + 4), CL4((c) + 8), CL4((c) + 12)
#define CL64(c) CL16(c), CL16((c) + 16), CL16((c) + 32), CL16((c) + 48)
static const uchar cls[256] = {CL64(0), CL64(64), CL64(128), CL64(192)};

/* The end of the run of bytes of class c in s[p..lim), p <= lim. */
static inline size_t span(const uchar *s, size_t p, size_t lim, uchar c)
{
    for (; lim - p >= 4; p += 4) {
        if (!(cls[s[p]] & c))
            return p;
        if (!(cls[s[p + 1]] & c))
            return p + 1;
        if (!(cls[s[p + 2]] & c))
            return p + 2;
        if (!(cls[s[p + 3]] & c))
            return p + 3;
    }
    while (p < lim && (cls[s[p]] & c))
        p++;
    return p;
}

static int is_digit(uchar c)
{
    return c >= '0' && c <= '9';
}

/* Exactly k digits at s[*i], or -1. */
static int digits(const uchar *s, size_t n, size_t *i, int k)
{
    if (n - *i < (size_t)k)
        return -1;
    int v = 0;
    for (int j = 0; j < k; j++) {
        uchar c = s[*i + (size_t)j];
        if (!is_digit(c))
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)k;
    return v;
}

/* Fractional seconds after '.': 1..maxd digits, kept to microseconds. */
static int fraction(const uchar *s, size_t n, size_t *i, size_t maxd, int32_t *usec)
{
    size_t p = *i;
    int32_t v = 0;
    size_t k = 0;
    while (p < n && is_digit(s[p])) {
        if (k < 6)
            v = v * 10 + (s[p] - '0');
        k++;
        p++;
    }
    if (k == 0 || k > maxd)
        return -1;
    for (size_t j = k; j < 6; j++)
        v *= 10;
    *usec = v;
    *i = p;
    return 0;
}

/* RFC 3339 / ISO 8601 date-time at s[*i]. strict (RFC 5424): 1..9 fraction
 * digits, offset "Z" or "+hh:mm" required. Otherwise any number of fraction
 * digits, "+hhmm", and no offset (local time). RFC 5424 allows 6 fraction
 * digits, but .NET ("o": 7) and Go (RFC3339Nano: up to 9) senders write
 * more; refused, the whole header was lost to MALFORMED (host, app, procid)
 * where rsyslog reads it. 10 or more is no clock's output: still refused. */
static int parse_iso(const uchar *s, size_t n, size_t *i, int strict, ts_parts *t)
{
    size_t p = *i;
    int y = digits(s, n, &p, 4);
    /* 0000 and 9999 are refused: with an offset the UTC time could leave
     * years 1..9999, which have no RFC 3339 form (an empty @timestamp) */
    if (y < 1 || y > 9998 || p >= n || s[p++] != '-')
        return -1;
    int mo = digits(s, n, &p, 2);
    if (mo < 1 || mo > 12 || p >= n || s[p++] != '-')
        return -1;
    int d = digits(s, n, &p, 2);
    if (d < 1 || d > days_in_month(y, mo) || p >= n || s[p++] != 'T')
        return -1;
    int hh = digits(s, n, &p, 2);
    if (hh < 0 || hh > 23 || p >= n || s[p++] != ':')
        return -1;
    int mm = digits(s, n, &p, 2);
    if (mm < 0 || mm > 59 || p >= n || s[p++] != ':')
        return -1;
    int ss = digits(s, n, &p, 2);
    if (ss < 0 || ss > 60) /* 60: a leap second, clamped below as clock_time does */
        return -1;
    t->usec = 0;
    if (p < n && s[p] == '.') {
        p++;
        /* lenient: any number of digits, as syslog-ng reads them (its
         * msgparse tests send 11 and 62); strict: up to nanoseconds */
        if (fraction(s, n, &p, strict ? 9 : SIZE_MAX, &t->usec) < 0)
            return -1;
    }
    t->has_off = 0;
    t->off_min = 0;
    if (p < n && s[p] == 'Z') {
        p++;
        t->has_off = 1;
    } else if (p < n && (s[p] == '+' || s[p] == '-')) {
        int neg = s[p++] == '-';
        int oh = digits(s, n, &p, 2);
        if (oh < 0 || oh > 23)
            return -1;
        if (p < n && s[p] == ':')
            p++;
        else if (strict)
            return -1;
        int om = digits(s, n, &p, 2);
        if (om < 0 || om > 59)
            return -1;
        t->has_off = 1;
        t->off_min = (neg ? -1 : 1) * (oh * 60 + om);
    } else if (strict) {
        return -1;
    }
    t->year = y;
    t->mon = mo;
    t->day = d;
    t->hour = hh;
    t->min = mm;
    /* A leap second: rsyslog relays a 3164 "Dec 31 23:59:60" as RFC 5424
     * "...T23:59:60...", which was malformed here while the 3164 form was
     * read. Kept in its minute (UTC has no second 60 to convert). */
    t->sec = ss == 60 ? 59 : ss;
    *i = p;
    return 0;
}

/* Month from three letters in any case, 1..12, or 0. */
static int month_of(const uchar *s)
{
#define M3(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
    switch (M3(s[0] | 0x20, s[1] | 0x20, s[2] | 0x20)) {
    case M3('j', 'a', 'n'):
        return 1;
    case M3('f', 'e', 'b'):
        return 2;
    case M3('m', 'a', 'r'):
        return 3;
    case M3('a', 'p', 'r'):
        return 4;
    case M3('m', 'a', 'y'):
        return 5;
    case M3('j', 'u', 'n'):
        return 6;
    case M3('j', 'u', 'l'):
        return 7;
    case M3('a', 'u', 'g'):
        return 8;
    case M3('s', 'e', 'p'):
        return 9;
    case M3('o', 'c', 't'):
        return 10;
    case M3('n', 'o', 'v'):
        return 11;
    case M3('d', 'e', 'c'):
        return 12;
    default:
        return 0;
    }
#undef M3
}

/* A plausible 4-digit year at s[*i] followed by SP, ':' or the end. */
static int year_at(const uchar *s, size_t n, size_t *i)
{
    size_t p = *i;
    int y = digits(s, n, &p, 4);
    if (y < 1970 || y > 2199 || (p < n && s[p] != ' ' && s[p] != ':'))
        return -1;
    *i = p;
    return y;
}

/* hh:mm:ss[.f] at s[*i]. */
static int clock_time(const uchar *s, size_t n, size_t *i, ts_parts *t)
{
    size_t p = *i;
    int hh = digits(s, n, &p, 2);
    if (hh < 0 || hh > 23 || p >= n || s[p++] != ':')
        return -1;
    int mm = digits(s, n, &p, 2);
    if (mm < 0 || mm > 59 || p >= n || s[p++] != ':')
        return -1;
    int ss = digits(s, n, &p, 2);
    if (ss < 0 || ss > 60)
        return -1;
    t->usec = 0;
    if (p < n && s[p] == '.') {
        p++;
        /* "02:00:00." with no digits is a whole second, as syslog-ng and
         * rsyslog read it (syslog-ng's msgparse tests have it) */
        if (p < n && is_digit(s[p]) && fraction(s, n, &p, SIZE_MAX, &t->usec) < 0)
            return -1;
    }
    t->hour = hh;
    t->min = mm;
    t->sec = ss == 60 ? 59 : ss; /* a leap second, as some devices send it */
    *i = p;
    return 0;
}

/* BSD timestamp with the variants listed at the top of the file. On success
 * *i is just past it (and past a Cisco ':'), at SP or the end. */
static int parse_bsd_ts(const uchar *s, size_t n, size_t *i, ts_parts *t)
{
    size_t p = *i;
    if (n - p < 3)
        return -1;
    int mo = month_of(s + p);
    if (!mo)
        return -1;
    p += 3;
    if (p >= n || s[p] != ' ')
        return -1;
    while (p < n && s[p] == ' ' && p - *i < 5)
        p++;
    int day = 0, nd = 0;
    while (p < n && is_digit(s[p]) && nd < 2) {
        day = day * 10 + (s[p++] - '0');
        nd++;
    }
    if (nd == 0 || day < 1 || day > 31 || p >= n || s[p++] != ' ')
        return -1;
    t->year = 0;
    t->has_off = 0;
    t->off_min = 0;
    if (n - p >= 5 && is_digit(s[p + 2])) { /* "Mar 7 2008 19:06:53" */
        size_t q = p;
        int y = year_at(s, n, &q);
        if (y > 0 && q < n && s[q] == ' ') {
            t->year = y;
            p = q + 1;
        }
    }
    size_t clock_at = p;
    if (clock_time(s, n, &p, t) < 0)
        return -1;
    int msec = memchr(s + clock_at, '.', p - clock_at) != NULL;
    if (!t->year && n - p >= 5 && s[p] == ' ') { /* "Apr 15 21:28:13 2007" */
        size_t q = p + 1;
        int y = year_at(s, n, &q);
        /* a year only if the header goes on after it ("2007 host", "2007:
         * msg"): "21:28:13 2001:db8::1 sshd: ..." is a time and an IPv6 host */
        size_t r = q < n && s[q] == ':' ? q + 1 : q;
        if (y > 0 && (r >= n || s[r] == ' ')) {
            t->year = y;
            p = q;
        }
    }
    if (n - p >= 5 && s[p] == ' ' && s[p + 4] == ':' &&
        (!memcmp(s + p + 1, "UTC", 3) || !memcmp(s + p + 1, "GMT", 3))) {
        t->has_off = 1; /* Cisco "show-timezone": "03:10:04.123 UTC:" */
        p += 4;
    } else if (msec && n - p >= 5 && s[p] == ' ') {
        /* Cisco "show-timezone" with a local zone ("10:00:00.123 ICT:"):
         * an abbreviation says no offset reliably, so the time is taken
         * as local, like a time without one. Only after milliseconds:
         * "10:00:00 CRON: x" is a program with no host. */
        size_t z = p + 1;
        while (z < n && z - p <= 5 && s[z] >= 'A' && s[z] <= 'Z')
            z++;
        if (z - p - 1 >= 3 && z - p - 1 <= 5 && z < n && s[z] == ':')
            p = z;
    }
    if (p < n && s[p] == ':') /* Cisco puts a colon after the time */
        p++;
    if (p < n && s[p] != ' ')
        return -1;
    if (day > (t->year ? days_in_month(t->year, mo) : mo == 2 ? 29 : days_in_month(2001, mo)))
        return -1;
    t->mon = mo;
    t->day = day;
    *i = p;
    return 0;
}

/* ---- RFC 3164 ---- */

static int host_char(uchar c)
{
    return cls[c] & C_HOST;
}

/* Whether the TAG "prog:" (or "prog[pid]:") at s[i], whose colon at
 * s[colon] is followed by a byte other than SP ("sshd:Accepted ..."), is
 * one. rsyslog ends a TAG at the first colon whatever follows; taken here
 * too, except where that colon is plainly part of the text: a URL
 * ("http://"), a program that is all digits (a time "12:30:00", a count),
 * or an IP address ("10.0.0.1:80"), and a token up to SP that is an IP
 * address with or without a trailing colon ("fe80::1", "2001:db8::1:"),
 * which parse_3164_host takes as a host. prog is s[i, prog_end). */
static int glued_tag(const uchar *s, size_t n, size_t i, size_t prog_end, size_t colon)
{
    if (colon + 1 >= n || s[colon + 1] == ' ')
        return 1;
    if (s[colon + 1] == '/' && colon + 2 < n && s[colon + 2] == '/')
        return 0;
    size_t d = i;
    while (d < prog_end && is_digit(s[d]))
        d++;
    if (d == prog_end || vg_is_ip(vg_str_n((const char *)s + i, prog_end - i)))
        return 0;
    size_t t = colon;
    while (t < n && t - i < 64 && s[t] != ' ')
        t++;
    if (t - i < 64 && (vg_is_ip(vg_str_n((const char *)s + i, t - i)) ||
                       (s[t - 1] == ':' && vg_is_ip(vg_str_n((const char *)s + i, t - i - 1)))))
        return 0;
    return 1;
}

/* A TAG at s[i] ("prog:", "prog[pid]:", "prog[pid]", and "prog[]" with
 * empty brackets, as rsyslog reads them) ending at SP or the end, or, after
 * its colon, glued to the MSG ("sshd:Accepted ...": see glued_tag). On
 * success fills app and procid (absent for "[]") and *next (past one SP, or
 * right after a colon glued to the MSG). */
static int parse_tag(const uchar *s, size_t n, size_t i, vg_str *app, vg_str *procid,
                     size_t *next)
{
    size_t p = span(s, i, n - i > TAG_MAX ? i + TAG_MAX : n, C_TAG);
    if (p == i || p >= n)
        return -1;
    size_t prog_end = p, pid = 0, pid_end = 0;
    if (s[p] == '[') {
        pid = ++p;
        p = span(s, pid, n - pid > PID_MAX ? pid + PID_MAX : n, C_TAG);
        if (p >= n || s[p] != ']')
            return -1;
        pid_end = p++;
        if (p < n && s[p] == ':') {
            if (!glued_tag(s, n, i, prog_end, p))
                return -1;
            p++;
        } else if (p < n && s[p] != ' ') {
            return -1; /* "prog[12]x": no TAG */
        }
    } else if (s[p] == ':') {
        if (!glued_tag(s, n, i, prog_end, p))
            return -1;
        p++;
    } else {
        return -1;
    }
    *app = vg_str_n((const char *)s + i, prog_end - i);
    *procid = pid_end > pid ? vg_str_n((const char *)s + pid, pid_end - pid) : VG_STR_NULL;
    *next = p < n && s[p] == ' ' ? p + 1 : p;
    return 0;
}

/* A TAG whose program name holds spaces ("Microsoft Word[14463]: "): taken
 * only in that exact shape (words of TAG characters, then "[digits]:" and
 * SP or the end), so that text which merely has a colon stays MSG. */
static int parse_spaced_tag(const uchar *s, size_t n, size_t i, vg_str *app, vg_str *procid,
                            size_t *next)
{
    size_t j = i, lim = n - i > TAG_MAX ? i + TAG_MAX : n;
    int spaces = 0;
    if (i >= n || !(cls[s[i]] & C_TAG))
        return -1;
    while (j < lim && ((cls[s[j]] & C_TAG) || s[j] == ' ')) {
        spaces += s[j] == ' ';
        if (s[j] == ' ' && s[j - 1] == ' ')
            return -1;
        j++;
    }
    if (!spaces || j >= n || s[j] != '[' || s[j - 1] == ' ')
        return -1;
    size_t pid = j + 1, q = pid;
    while (q < n && q - pid < 20 && is_digit(s[q]))
        q++;
    if (q == pid || q + 1 >= n || s[q] != ']' || s[q + 1] != ':' || (q + 2 < n && s[q + 2] != ' '))
        return -1;
    *app = vg_str_n((const char *)s + i, j - i);
    *procid = vg_str_n((const char *)s + pid, q - pid);
    *next = q + 2 < n ? q + 3 : q + 2;
    return 0;
}

/* A program name followed by its version and a colon, as sysklogd writes
 * its own messages ("syslogd 1.4.1: restart.", Debian "syslogd 1.5.0#6:
 * restart."): the word is the program, as rsyslog takes it, and MSG keeps
 * the version on. Taken only in that exact shape, so that text which
 * merely has a number and a colon stays MSG: one word of letters, digits
 * and ".-_" starting with a letter, one SP, a version of exactly three dot-separated
 * runs of 1..5 digits (never an IPv4 address, nor "Step 1.2:"), an
 * optional "#" and 1..5 digits, then ':' and SP or the end. */
static int parse_version_tag(const uchar *s, size_t n, size_t i, vg_str *app, size_t *next)
{
    size_t w = span(s, i, n - i > TAG_MAX ? i + TAG_MAX : n, C_HT);
    if (w == i || w >= n || s[w] != ' ' || !(((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
        return -1;
    size_t p = w + 1;
    for (int part = 0; part < 3; part++) {
        if (part && (p >= n || s[p++] != '.'))
            return -1;
        size_t d = p;
        while (p < n && p - d < 6 && is_digit(s[p]))
            p++;
        if (p == d || p - d > 5)
            return -1;
    }
    if (p < n && s[p] == '#') {
        size_t d = ++p;
        while (p < n && p - d < 6 && is_digit(s[p]))
            p++;
        if (p == d || p - d > 5)
            return -1;
    }
    if (p >= n || s[p] != ':' || (p + 1 < n && s[p + 1] != ' '))
        return -1;
    *app = vg_str_n((const char *)s + i, w - i);
    *next = w + 1;
    return 0;
}

/* Reads a HOSTNAME at s[*i] (after a timestamp) using the heuristics above:
 * the token up to SP or the end, unless it is a TAG or starts with '%', if it
 * holds only host characters (at most HOSTNAME_MAX of them). One scan decides:
 * the leading run of letters, digits and ".-_" (host and tag characters both)
 * ends at
 *  - SP or the end: a host (a TAG needs ':' or '[');
 *  - ':': a TAG "prog:" if the run is 1..TAG_MAX long and SP or the end
 *    follows, else maybe still a host ("fe80::1");
 *  - anything else ('[', '%', '/', ...): not a host, whether a TAG or not. */
static void parse_3164_host(const uchar *s, size_t n, size_t *i, vg_str *host)
{
    static const char fwd[] = "Message forwarded from "; /* AIX relay */
    size_t p = *i, fl = sizeof fwd - 1;
    if (p >= n)
        return;
    if (s[p] == 'M' && n - p > fl && !memcmp(s + p, fwd, fl)) {
        size_t b = p + fl, q = b;
        while (q < n && q - b < HOSTNAME_MAX && host_char(s[q]) && s[q] != ':')
            q++;
        if (q > b && q < n && s[q] == ':' && (q + 1 == n || s[q + 1] == ' ')) {
            *host = vg_str_n((const char *)s + b, q - b);
            *i = q + 1;
            return;
        }
    }
    size_t q = span(s, p, n, C_HT);
    if (q < n && s[q] != ' ') {
        if (s[q] != ':')
            return;
        if (q > p && q - p <= TAG_MAX && (q + 1 == n || s[q + 1] == ' ') &&
            !vg_is_ip(vg_str_n((const char *)s + p, q - p)))
            return; /* "prog:"; "10.0.0.1:" is a host, as "2001:db8::1:" is below */
        if (q > p && q - p <= TAG_MAX && q + 1 < n && s[q + 1] != ' ' && glued_tag(s, n, p, q, q))
            return; /* "sshd:Accepted": a TAG (rsyslog); "fe80::1" goes on as a host */
        q = span(s, q, n, C_HOST);
        if (q < n && s[q] != ' ')
            return;
    }
    if (q - p > HOSTNAME_MAX)
        return;
    size_t a = p; /* ":" alone is no host: a host has a letter or digit */
    while (a < q && !is_digit(s[a]) && !((s[a] | 0x20) >= 'a' && (s[a] | 0x20) <= 'z'))
        a++;
    if (a == q)
        return;
    /* "2001:db8::1: msg": an IPv6 address followed by the ':' some senders
     * put after the host; the colon is not part of it */
    if (q - p > 2 && s[q - 1] == ':' && vg_is_ip(vg_str_n((const char *)s + p, q - p - 1)))
        q--, *i = q + 1;
    else
        *i = q;
    *host = vg_str_n((const char *)s + p, q - p);
}

static void parse_3164(const uchar *s, size_t n, size_t i, const vg_syslog_opts *o, int64_t now,
                       vg_event *ev)
{
    while (i < n && s[i] == ' ')
        i++;
    ts_parts t;
    size_t p = i;
    while (p < n && p - i < 10 && is_digit(s[p])) /* Cisco IOS "91: " */
        p++;
    p = (p > i && n - p >= 2 && s[p] == ':' && s[p + 1] == ' ') ? p + 2 : i;
    if (p < n && (s[p] == '*' || s[p] == '.')) /* Cisco: clock not synchronised */
        p++;
    size_t q = p;
    int have_ts = parse_bsd_ts(s, n, &q, &t) == 0 || parse_iso(s, n, &q, 0, &t) == 0;
    if (!have_ts && p != i) {
        q = i;
        have_ts = parse_bsd_ts(s, n, &q, &t) == 0 || parse_iso(s, n, &q, 0, &t) == 0;
    }
    if (have_ts && q < n && s[q] != ' ') /* an ISO stamp glued to the next token */
        have_ts = 0;
    if (have_ts) { /* Feb 29 of a year without one: like Feb 30, no timestamp */
        int64_t ts = ts_to_utc(&t, o, now, &ev->tz_min);
        have_ts = ts != INT64_MIN;
        if (have_ts)
            ev->ts_us = ts;
    }
    if (have_ts) {
        i = q;
        while (i < n && s[i] == ' ')
            i++;
        parse_3164_host(s, n, &i, &ev->host);
        while (i < n && s[i] == ' ')
            i++;
    } else {
        ev->flags |= VG_EV_NO_TS;
    }
    if (!ev->host.p)
        ev->flags |= VG_EV_NO_HOST;
    size_t next;
    if (parse_tag(s, n, i, &ev->app, &ev->procid, &next) == 0)
        i = next;
    else if (ev->host.p && n - i >= 2 && s[i] == ':' && s[i + 1] == ' ' &&
             parse_tag(s, n, i + 2, &ev->app, &ev->procid, &next) == 0)
        i = next; /* Cisco ASA with a device id: "fw01 : %ASA-6-302013: Built ..." */
    else if (ev->host.p && parse_spaced_tag(s, n, i, &ev->app, &ev->procid, &next) == 0)
        i = next; /* "Microsoft Word[14463]: ..." (macOS, some appliances) */
    else if (ev->host.p && parse_version_tag(s, n, i, &ev->app, &next) == 0)
        i = next; /* "syslogd 1.4.1: restart." (sysklogd) */
    ev->msg = vg_str_n((const char *)s + i, n - i);
}

/* ---- RFC 5424 ---- */

/* A header field of 1..max PRINTUSASCII bytes followed by SP. "-" gives absent.
 * Returns 0, -1 (bad field) or -2 (the input ends in or right after it). */
static int field_5424(const uchar *s, size_t n, size_t *i, size_t max, vg_str *out)
{
    size_t b = *i, p = span(s, b, n - b > max ? b + max : n, C_PRINT);
    if (p >= n)
        return -2;
    if (s[p] != ' ' || p == b) /* not printable, longer than max, or empty */
        return -1;
    *out = (p - b == 1 && s[b] == '-') ? VG_STR_NULL : vg_str_n((const char *)s + b, p - b);
    *i = p + 1;
    return 0;
}

static size_t sd_name(const uchar *s, size_t n, size_t p)
{
    size_t l = span(s, p, n - p > SDNAME_MAX + 1 ? p + SDNAME_MAX + 1 : n, C_SDNAME) - p;
    return l > SDNAME_MAX ? 0 : l;
}

/* One or more SD-ELEMENTs at s[*i]. Returns NULL or the reason. */
static const char *parse_sd(const uchar *s, size_t n, size_t *i)
{
    const uchar *ids[SDID_TRACK];
    size_t idlen[SDID_TRACK], nid = 0, p = *i;
    if (p >= n || s[p] != '[')
        return *i = p, "bad STRUCTURED-DATA";
    while (p < n && s[p] == '[') {
        size_t l = sd_name(s, n, ++p);
        if (!l)
            return *i = p, "bad SD-ID";
        for (size_t k = 0; k < nid; k++)
            if (idlen[k] == l && !memcmp(ids[k], s + p, l))
                return *i = p, "duplicate SD-ID";
        if (nid < SDID_TRACK) {
            ids[nid] = s + p;
            idlen[nid++] = l;
        }
        p += l;
        for (;;) {
            if (p >= n)
                return *i = p, "unterminated SD-ELEMENT";
            if (s[p] == ']') {
                p++;
                break;
            }
            if (s[p] != ' ')
                return *i = p, "bad SD-PARAM";
            l = sd_name(s, n, ++p);
            p += l;
            if (!l || n - p < 2 || s[p] != '=' || s[p + 1] != '"')
                return *i = p, "bad SD-PARAM";
            p += 2;
            for (;;) { /* PARAM-VALUE: '"', '\' and ']' only escaped */
                p = span(s, p, n, C_VPLAIN);
                if (p >= n)
                    return *i = p, "unterminated SD-PARAM value";
                if (s[p] == '"') {
                    p++;
                    break;
                }
                if (s[p] == ']') /* no closing '"' at all is the graver fault */
                    return *i = p, memchr(s + p, '"', n - p) ? "unescaped ']' in SD-PARAM value"
                                                             : "unterminated SD-PARAM value";
                p += (p + 1 < n && (cls[s[p + 1]] & C_SDVAL)) ? 2 : 1;
            }
        }
    }
    *i = p;
    return NULL;
}

static const char *parse_5424(const uchar *s, size_t n, size_t i, int64_t now, int cut,
                              vg_event *ev)
{
    if (s[i] == '0') /* VERSION = NONZERO-DIGIT 0*2DIGIT */
        return "bad VERSION";
    size_t v = i;
    while (i < n && is_digit(s[i]))
        i++;
    /* Only VERSION 1 is defined. Another is read by its grammar all the
     * same (what a later version changes is unknown; a sender that writes
     * "2" mostly means 1) and marked, so the collector counts it and the
     * event says so; rsyslog reads such a line as RFC 3164, the timestamp
     * becoming its TAG. The mark is set on success only (below). */
    int other = i - v != 1 || s[v] != '1';
    if (i++ >= n)
        return "truncated RFC 5424 header";
    if (i < n && s[i] == '-') {
        i++;
        ev->ts_us = now;
        ev->flags |= VG_EV_NO_TS;
    } else {
        ts_parts t;
        if (parse_iso(s, n, &i, 1, &t) < 0)
            return "bad RFC 5424 timestamp";
        ev->ts_us = ts_seconds(&t, (int64_t)t.year + 1, 1, t.off_min, now, &ev->tz_min) * US_PER_S +
                    t.usec;
    }
    if (i >= n)
        return "truncated RFC 5424 header";
    if (s[i++] != ' ')
        return "bad RFC 5424 timestamp";
    static const struct {
        size_t max, off;
        const char *why;
    } fields[] = {
        {HOSTNAME_MAX, offsetof(vg_event, host), "bad HOSTNAME"},
        {APPNAME_MAX, offsetof(vg_event, app), "bad APP-NAME"},
        {PROCID_MAX, offsetof(vg_event, procid), "bad PROCID"},
        {MSGID_MAX, offsetof(vg_event, msgid), "bad MSGID"},
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        int rc = field_5424(s, n, &i, fields[f].max, (vg_str *)((char *)ev + fields[f].off));
        if (rc < 0)
            return rc == -2 ? "truncated RFC 5424 header" : fields[f].why;
    }
    if (i < n && s[i] == '-') {
        i++;
    } else {
        size_t b = i;
        const char *why = parse_sd(s, n, &i);
        /* ran out of input: stopped at the end, or at a last '=' whose
         * '"' was cut (a fault before the end is a fault) */
        int ran_out = i >= n || (i + 1 == n && s[i] == '=');
        if (why && cut && b < n && s[b] == '[' && ran_out) {
            /* cut by the receiver (max_message_size) inside the
             * STRUCTURED-DATA, which was well formed as far as it came: the
             * header is whole and kept (a Windows forwarder puts its
             * EventData there); the SD is kept as it came, the MSG is empty */
            ev->sd = vg_str_n((const char *)s + b, n - b);
            ev->msg = vg_str_n((const char *)s + n, 0);
            if (!ev->host.p)
                ev->flags |= VG_EV_NO_HOST;
            ev->flags |= VG_EV_RFC5424 | (other ? VG_EV_UNKNOWN_VERSION : 0);
            return NULL;
        }
        if (why)
            return why;
        ev->sd = vg_str_n((const char *)s + b, i - b);
    }
    if (i < n && s[i] != ' ')
        return "no SP after STRUCTURED-DATA";
    if (++i < n) {
        if (n - i >= 3 && s[i] == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF) {
            ev->flags |= VG_EV_BOM;
            i += 3;
        }
        ev->msg = vg_str_n((const char *)s + i, n - i);
    }
    if (!ev->host.p)
        ev->flags |= VG_EV_NO_HOST;
    ev->flags |= VG_EV_RFC5424 | (other ? VG_EV_UNKNOWN_VERSION : 0);
    return NULL;
}

/* ---- entry points ---- */

static int64_t clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

/* Whether "<PRI>VERSION" ending at s[d] (SP or the end) is followed by
 * what an RFC 5424 header has next: the NILVALUE '-' or the start of an
 * RFC 3339 TIMESTAMP (4 digits and '-'; as far as the bytes go, so that
 * a header cut short still reads as one). Otherwise "<13>42 errors found"
 * is an RFC 3164 message that starts with a number, as rsyslog reads it:
 * taken as RFC 5424, it was malformed ("bad RFC 5424 timestamp"). */
static int looks_5424(const uchar *s, size_t n, size_t d)
{
    if (d + 1 >= n) /* nothing after VERSION (SP) */
        return 1;
    if (s[d + 1] == '-')
        return 1;
    for (size_t k = 0; k < 5 && d + 1 + k < n; k++)
        if (k < 4 ? !is_digit(s[d + 1 + k]) : s[d + 1 + k] != '-')
            return 0;
    return 1;
}

int vg_syslog_parse(const char *buf, size_t len, const vg_syslog_opts *opts, vg_event *ev)
{
    const uchar *s = (const uchar *)buf;
    size_t n = len > UINT32_MAX ? UINT32_MAX : len, i = 0;
    int64_t now = opts ? opts->now_us : clock_now_us();
    const char *why = NULL;

    /* Field by field: "*ev = (vg_event){0}" becomes a "rep stos" (GCC,
     * x86-64), about a tenth of the parse time of a short message. */
    _Static_assert(sizeof(vg_event) == 32 + 11 * sizeof(vg_str),
                   "vg_event changed: set the new fields here");
    ev->seq = 0;
    ev->recv_us = now;
    ev->ts_us = now;
    ev->tz_min = 0;
    ev->pri = -1;
    ev->flags = 0;
    ev->host = VG_STR_NULL; /* one by one: "a = b = NULL" reads b back */
    ev->app = VG_STR_NULL;
    ev->procid = VG_STR_NULL;
    ev->msgid = VG_STR_NULL;
    ev->sd = VG_STR_NULL;
    ev->msg = VG_STR_NULL;
    ev->raw = vg_str_n(buf, n);
    ev->src = VG_STR_NULL;
    ev->agency = VG_STR_NULL;
    ev->site = VG_STR_NULL;
    ev->reason = VG_STR_NULL;
    if (n < len) {
        ev->flags |= VG_EV_TRUNCATED;
        ev->reason = vg_str_c("message longer than 4 GiB");
    }
    if (n == 0) {
        why = "empty message";
        goto malformed;
    }
    if (s[0] == '<') {
        int v = 0, nd = 0;
        for (i = 1; i < n && is_digit(s[i]) && nd < 4; i++, nd++)
            v = v * 10 + (s[i] - '0');
        if (nd == 0 || nd > 3 || v > 191 || i >= n || s[i] != '>') {
            why = "bad PRI";
            goto malformed;
        }
        i++;
        ev->pri = (int16_t)v;
        size_t d = i;
        while (d < n && d - i < 4 && is_digit(s[d]))
            d++;
        if (d > i && d - i <= 3 && (d == n || s[d] == ' ') && looks_5424(s, n, d)) {
            if (nd > 1 && s[1] == '0') { /* "<002>": no leading zeros in RFC 5424 */
                ev->pri = -1;
                why = "bad PRI";
                goto malformed;
            }
            why = parse_5424(s, n, i, now, opts && opts->truncated, ev);
            if (why)
                goto malformed;
            return 0;
        }
    }
    parse_3164(s, n, i, opts, now, ev);
    return 0;

malformed:
    ev->flags = (uint16_t)((ev->flags & VG_EV_TRUNCATED) | VG_EV_MALFORMED | VG_EV_NO_TS |
                           VG_EV_NO_HOST);
    ev->ts_us = now;
    ev->tz_min = 0;
    ev->host = ev->app = ev->procid = ev->msgid = ev->sd = VG_STR_NULL;
    ev->msg = ev->raw;
    ev->reason = vg_str_c(why);
    return 0;
}

void vg_syslog_raw(const char *buf, size_t len, int64_t now_us, const char *why, vg_event *ev)
{
    size_t n = len > UINT32_MAX ? UINT32_MAX : len;
    *ev = (vg_event){0}; /* not the parser's hot path */
    ev->recv_us = ev->ts_us = now_us;
    ev->pri = -1;
    ev->flags = VG_EV_MALFORMED | VG_EV_NO_TS | VG_EV_NO_HOST | (n < len ? VG_EV_TRUNCATED : 0);
    ev->raw = ev->msg = vg_str_n(buf, n);
    ev->reason = vg_str_c(why);
}

size_t vg_time_format(int64_t t_us, char *out, size_t cap)
{
    /* Not t_us - floor_div(t_us, US_PER_S) * US_PER_S: for t_us within a
     * second of INT64_MIN that product overflows. */
    int64_t secs = t_us / US_PER_S, us = t_us % US_PER_S;
    if (us < 0) {
        us += US_PER_S;
        secs--;
    }
    int64_t days = floor_div(secs, S_PER_DAY), sod = secs - days * S_PER_DAY, y;
    int m, d;
    vg_civil_from_days(days, &y, &m, &d);
    if (cap < 28 || y < 0 || y > 9999) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    int64_t f[] = {y, m, d, sod / 3600, sod / 60 % 60, sod % 60, us};
    static const uchar width[] = {4, 2, 2, 2, 2, 2, 6};
    static const char sep[] = "--T::.Z";
    char *p = out;
    for (int k = 0; k < 7; k++) {
        for (int w = width[k] - 1; w >= 0; w--) {
            p[w] = (char)('0' + f[k] % 10);
            f[k] /= 10;
        }
        p += width[k];
        *p++ = sep[k];
    }
    *p = '\0';
    return (size_t)(p - out);
}

const char *const vg_syslog_facilities[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};
const char *const vg_syslog_severities[8] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};
