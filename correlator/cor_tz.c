/* Named time zones: a TZif file (RFC 8536) into a table of UTC offsets
 * (cor_tz.h). Read once per calendar load; the per-event test only bisects
 * the table. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cor_tz.h"
#include "vigil/err.h"
#include "vigil/syslog.h"

#define COR_TZ_FILE_MAX (1 << 20)    /* real zones are under 4 KiB */
#define COR_TZ_NAME_MAX 255          /* bytes of a zone name */
#define COR_TZ_OFF_LIMIT (26 * 3600) /* |offset|; the widest real one is under 16 h */

/* The table under construction. */
typedef struct cor_tz_tab {
    cor_tz_shift *v;
    uint32_t n, cap;
} cor_tz_tab;

/* Appends "from at on, off"; an equal offset extends the last entry, and
 * an entry at the same instant as the last replaces it (the later rule
 * wins: a zone in daylight time all year ends one year's DST at the very
 * instant the next one's starts). */
static int cor_tz_push(cor_tz_tab *t, int64_t at, int32_t off)
{
    if (t->n && at == t->v[t->n - 1].at) {
        t->v[t->n - 1].off = off;
        if (t->n >= 2 && t->v[t->n - 2].off == off) t->n--;
        return 0;
    }
    if (t->n && (at < t->v[t->n - 1].at || off == t->v[t->n - 1].off)) return 0;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        cor_tz_shift *p = realloc(t->v, cap * sizeof(*p));
        if (!p) return -ENOMEM;
        t->v = p;
        t->cap = cap;
    }
    t->v[t->n].at = at;
    t->v[t->n++].off = off;
    return 0;
}

/* A zone name: components of letters, digits, '.', '_', '+', '-' joined
 * by single '/', none empty and none starting with '.': so no "..", no
 * leading '/', nothing outside the zone directory. */
static bool cor_tz_name_ok(const char *s)
{
    size_t l = strlen(s);
    if (l == 0 || l > COR_TZ_NAME_MAX) return false;
    bool start = true;
    for (; *s; s++) {
        char ch = *s;
        if (ch == '/') {
            if (start) return false;
            start = true;
            continue;
        }
        if (start && ch == '.') return false;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '+' || ch == '-'))
            return false;
        start = false;
    }
    return !start;
}

/* ---- the footer: a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3" ---- */

/* A day of the rule: 'J' n (1..365, Feb 29 never counted), 'D' n (0..365,
 * counting Feb 29) or 'M' month.week.weekday; and the local time of day,
 * seconds (-167 h .. 167 h, RFC 8536's extension). */
typedef struct cor_tz_when {
    char kind;
    int a, b, c;
    int32_t time;
} cor_tz_when;

typedef struct cor_tz_posix {
    int32_t std, dst; /* local = UTC + off */
    bool has_dst;
    cor_tz_when start, end; /* start in standard time, end in daylight time */
} cor_tz_posix;

static bool cor_tz_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* An abbreviation: 3 or more letters, or <...> of letters, digits, + and -. */
static const char *cor_tz_abbr(const char *s)
{
    const char *b;
    if (*s == '<') {
        for (b = ++s; *s && *s != '>'; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || cor_tz_digit(*s) ||
                  *s == '+' || *s == '-'))
                return NULL;
        return *s == '>' && s - b >= 3 ? s + 1 : NULL;
    }
    for (b = s; (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'); s++)
        ;
    return s - b >= 3 ? s : NULL;
}

/* [+-]h[h[h]][:mm[:ss]] with hours at most maxh, into seconds. */
static const char *cor_tz_hms(const char *s, int maxh, int32_t *out)
{
    int sign = 1, h = 0, m = 0, sec = 0, nd = 0;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    for (; cor_tz_digit(*s) && nd < 3; s++, nd++)
        h = h * 10 + (*s - '0');
    if (nd == 0 || h > maxh) return NULL;
    for (int part = 0; part < 2 && *s == ':'; part++) {
        if (!cor_tz_digit(s[1]) || !cor_tz_digit(s[2])) return NULL;
        int v = (s[1] - '0') * 10 + (s[2] - '0');
        if (v > 59) return NULL;
        *(part ? &sec : &m) = v;
        s += 3;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return s;
}

static const char *cor_tz_num(const char *s, int lo, int hi, int *out)
{
    int v = 0, nd = 0;
    for (; cor_tz_digit(*s) && nd < 4; s++, nd++)
        v = v * 10 + (*s - '0');
    if (nd == 0 || v < lo || v > hi) return NULL;
    *out = v;
    return s;
}

/* ",date[/time]" */
static const char *cor_tz_rule(const char *s, cor_tz_when *w)
{
    if (!s || *s++ != ',') return NULL;
    memset(w, 0, sizeof(*w));
    w->time = 2 * 3600;
    if (*s == 'J') {
        w->kind = 'J';
        s = cor_tz_num(s + 1, 1, 365, &w->a);
    } else if (*s == 'M') {
        w->kind = 'M';
        s = cor_tz_num(s + 1, 1, 12, &w->a);
        if (s && *s == '.')
            s = cor_tz_num(s + 1, 1, 5, &w->b);
        else
            s = NULL;
        if (s && *s == '.')
            s = cor_tz_num(s + 1, 0, 6, &w->c);
        else
            s = NULL;
    } else {
        w->kind = 'D';
        s = cor_tz_num(s, 0, 365, &w->a);
    }
    if (s && *s == '/') s = cor_tz_hms(s + 1, 167, &w->time);
    return s;
}

/* The whole footer; false if it is not one this code reads. */
static bool cor_tz_posix_parse(const char *s, cor_tz_posix *p)
{
    int32_t o;
    memset(p, 0, sizeof(*p));
    if (!(s = cor_tz_abbr(s)) || !(s = cor_tz_hms(s, 24, &o))) return false;
    p->std = p->dst = -o; /* POSIX counts west of Greenwich as positive */
    if (!*s) return true;
    if (!(s = cor_tz_abbr(s))) return false;
    p->has_dst = true;
    p->dst = p->std + 3600;
    if (*s && *s != ',') {
        if (!(s = cor_tz_hms(s, 24, &o))) return false;
        p->dst = -o;
    }
    /* zic always writes the rule; POSIX's implementation-defined default
     * is not guessed here */
    s = cor_tz_rule(cor_tz_rule(s, &p->start), &p->end);
    return s && !*s;
}

/* The instant (UTC seconds) at which rule day w of year y begins, its
 * time read at offset off. */
static int64_t cor_tz_when_at(const cor_tz_when *w, int y, int32_t off)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int64_t day;
    if (w->kind == 'J') {
        day = vg_days_from_civil(y, 1, 1) + w->a - 1 + (leap && w->a >= 60);
    } else if (w->kind == 'D') {
        day = vg_days_from_civil(y, 1, 1) + w->a;
    } else {
        int64_t first = vg_days_from_civil(y, w->a, 1);
        int wd = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
        int len = mdays[w->a - 1] + (w->a == 2 && leap);
        day = first + (w->c - wd + 7) % 7 + (int64_t)(w->b - 1) * 7;
        while (day >= first + len) /* week 5: the last such weekday */
            day -= 7;
    }
    return day * 86400 + w->time - off;
}

/* The footer's transitions after 'after', year by year to COR_TZ_LAST_YEAR. */
static int cor_tz_footer(cor_tz_tab *t, const cor_tz_posix *p, int64_t after)
{
    if (!p->has_dst) return 0;
    /* a year before the one 'after' falls in; extra years are filtered */
    int64_t y0 = after == INT64_MIN ? 1800 : 1970 + after / 31556952 - 1;
    if (y0 < 1800) y0 = 1800;
    for (int64_t y = y0; y <= COR_TZ_LAST_YEAR; y++) {
        int64_t s = cor_tz_when_at(&p->start, (int)y, p->std);
        int64_t e = cor_tz_when_at(&p->end, (int)y, p->dst);
        int64_t at[2] = {s <= e ? s : e, s <= e ? e : s};
        int32_t off[2] = {s <= e ? p->dst : p->std, s <= e ? p->std : p->dst};
        for (int k = 0; k < 2; k++) {
            if (at[k] <= after) continue;
            int rc = cor_tz_push(t, at[k], off[k]);
            if (rc) return rc;
        }
    }
    return 0;
}

/* ---- the TZif file ---- */

static uint32_t cor_tz_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t cor_tz_be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)cor_tz_be32(p) << 32 | cor_tz_be32(p + 4));
}

/* The six counts of a header at h: isutcnt, isstdcnt, leapcnt, timecnt,
 * typecnt, charcnt. */
static void cor_tz_counts(const unsigned char *h, uint64_t c[6])
{
    for (int i = 0; i < 6; i++)
        c[i] = cor_tz_be32(h + 20 + 4 * i);
}

static int cor_tz_bad(char *why, size_t whylen, const char *path, const char *what)
{
    snprintf(why, whylen, "%s %s", path, what);
    return VG_ECONFIG;
}

/* The table of a whole TZif file (RFC 8536), buf[0..len). */
static int cor_tz_parse(const unsigned char *buf, size_t len, const char *path, cor_tz_tab *t,
                        char *why, size_t whylen)
{
    const char *notz = "is not a TZif file";
    if (len < 44 || memcmp(buf, "TZif", 4) != 0) return cor_tz_bad(why, whylen, path, notz);
    if (buf[4] < '2')
        return cor_tz_bad(why, whylen, path,
                          "is a TZif version 1 file (version 2 or later needed)");
    uint64_t c[6];
    cor_tz_counts(buf, c);
    uint64_t v1 = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (v1 + 44 > len || memcmp(buf + v1, "TZif", 4) != 0)
        return cor_tz_bad(why, whylen, path, notz);
    cor_tz_counts(buf + v1, c);
    uint64_t isut = c[0], isstd = c[1], leap = c[2], timecnt = c[3], typecnt = c[4], charcnt = c[5];
    uint64_t end = v1 + 44 + timecnt * 9 + typecnt * 6 + charcnt + leap * 12 + isstd + isut;
    if (end + 2 > len || buf[end] != '\n' || buf[len - 1] != '\n' || typecnt == 0 ||
        typecnt > 256 || (isut && isut != typecnt) || (isstd && isstd != typecnt))
        return cor_tz_bad(why, whylen, path, notz);
    const unsigned char *times = buf + v1 + 44, *idx = times + timecnt * 8, *types = idx + timecnt;
    if (leap)
        return cor_tz_bad(why, whylen, path,
                          "counts leap seconds (a right/ zone): name the zone without them");
    for (uint64_t i = 0; i < typecnt; i++) {
        int32_t off = (int32_t)cor_tz_be32(types + 6 * i);
        if (off < -COR_TZ_OFF_LIMIT || off > COR_TZ_OFF_LIMIT || types[6 * i + 4] > 1)
            return cor_tz_bad(why, whylen, path, notz);
    }
    /* the footer: between the last two newlines, NUL-free */
    char footer[128];
    size_t flen = len - 2 - end;
    if (flen >= sizeof(footer) || memchr(buf + end + 1, '\0', flen) ||
        memchr(buf + end + 1, '\n', flen))
        return cor_tz_bad(why, whylen, path, notz);
    memcpy(footer, buf + end + 1, flen);
    footer[flen] = '\0';
    cor_tz_posix p = {0};
    if (flen && !cor_tz_posix_parse(footer, &p)) {
        char what[200];
        snprintf(what, sizeof(what), "has a rule for later years that Vigil does not read ('%s')",
                 footer);
        return cor_tz_bad(why, whylen, path, what);
    }
    /* before the first transition: time type 0 (RFC 8536 3.2); with no
     * transitions at all, the footer if there is one */
    int32_t first = (int32_t)cor_tz_be32(types);
    if (timecnt == 0 && flen) first = p.std;
    int rc = cor_tz_push(t, INT64_MIN, first);
    int64_t last = INT64_MIN;
    for (uint64_t i = 0; i < timecnt && rc == 0; i++) {
        int64_t at = cor_tz_be64(times + 8 * i);
        if (idx[i] >= typecnt || (i && at <= last)) return cor_tz_bad(why, whylen, path, notz);
        last = at;
        rc = cor_tz_push(t, at, (int32_t)cor_tz_be32(types + 6 * idx[i]));
    }
    if (rc == 0 && flen) rc = cor_tz_footer(t, &p, last);
    return rc;
}

void cor_tz_release(cor_tz *z)
{
    free(z->v);
    free(z->bucket);
    memset(z, 0, sizeof(*z));
}

/* The buckets of a finished table, from 1970 to its last change (after
 * it, cor_tz_offset takes the last entry without them), or to the end of
 * COR_TZ_LAST_YEAR for a file with changes beyond. */
static int cor_tz_buckets(cor_tz *z)
{
    int64_t last = z->v[z->n - 1].at;
    int64_t end = vg_days_from_civil(COR_TZ_LAST_YEAR + 1, 1, 1) * 86400;
    if (last < 0) return 0;
    if (last > end) last = end; /* a file's far transitions are bisected */
    uint64_t nb = ((uint64_t)last >> COR_TZ_BUCKET_SHIFT) + 1;
    if (!(z->bucket = malloc(nb * sizeof(*z->bucket)))) return -ENOMEM;
    uint32_t i = 0;
    for (uint64_t b = 0; b < nb; b++) {
        int64_t start = (int64_t)(b << COR_TZ_BUCKET_SHIFT);
        while (i + 1 < z->n && z->v[i + 1].at <= start)
            i++;
        z->bucket[b] = i;
    }
    z->nbucket = (uint32_t)nb;
    return 0;
}

const char *cor_tz_dir(void)
{
    const char *d = getenv("TZDIR");
    return d && d[0] ? d : COR_TZ_DIR;
}

int cor_tz_load(const char *dir, const char *name, cor_tz *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (!cor_tz_name_ok(name)) {
        snprintf(why, whylen, "not a zone name");
        return -EINVAL;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, whylen, "no time zone database in %s (install tzdata)", dir);
        return -ENOENT;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0) close(fd);
        if (fd < 0 && e != ENOENT && e != ENOTDIR) {
            snprintf(why, whylen, "cannot read %s: %s", path, strerror(e));
            return VG_ECONFIG;
        }
        snprintf(why, whylen, "no such zone in %s", dir);
        return -ENOENT;
    }
    if (sb.st_size > COR_TZ_FILE_MAX) {
        close(fd);
        return cor_tz_bad(why, whylen, path, "is too large for a zone file");
    }
    size_t len = (size_t)sb.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    cor_tz_tab t = {0};
    int rc = cor_tz_parse(buf, got, path, &t, why, whylen);
    free(buf);
    out->v = t.v;
    out->n = t.n;
    if (rc == 0) rc = cor_tz_buckets(out);
    if (rc == -ENOMEM) snprintf(why, whylen, "out of memory");
    if (rc) cor_tz_release(out);
    return rc;
}
