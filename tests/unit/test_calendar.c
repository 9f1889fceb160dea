/* Unit tests for correlator/cor_calendar.c: when a calendar holds (edges to
 * the microsecond, midnight wrap, UTC offsets, named zones across their
 * daylight-saving transitions, inclusive date ranges,
 * 'except'), every refusal with its exact "FILE:LINE: reason", loading a
 * directory, and the shipped rules/calendars/vietnam.yml (found through
 * VG_SOURCE_ROOT). Expected instants are built with timegm(), not with the
 * code under test. Files go to a fresh mkdtemp directory per test. */
#include "cor_calendar.h"
#include "cor_tz.h"
#include "vigil/err.h"

#include <check.h>

#include "vt_tmp.h"
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static char err[2048];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/vg-test-cal-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    err[0] = '\0';
}

static void teardown(void)
{
    vt_rm_tree(tmpdir);
}

/* Writes text to tmpdir/NAME; the path goes to path[PATH_MAX]. */
static void mkfile(char *path, const char *name, const char *text)
{
    snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
}

/* Loads text (as tmpdir/cal.yml, through the directory); must succeed. */
static cor_calendars *load(const char *text)
{
    char path[PATH_MAX];
    cor_calendars *cs = NULL;
    mkfile(path, "cal.yml", text);
    int rc = cor_calendars_load(tmpdir, &cs, err, sizeof(err));
    ck_assert_msg(rc == 0, "load failed: %d %s", rc, err);
    ck_assert_ptr_nonnull(cs);
    return cs;
}

/* Loads text as the single file tmpdir/bad.yml and expects failure with
 * exactly "PATH<rest>" in err. */
static void fails(const char *text, const char *rest)
{
    char path[PATH_MAX], want[PATH_MAX + 512];
    cor_calendars *cs = (cor_calendars *)1;
    mkfile(path, "bad.yml", text);
    ck_assert_int_eq(cor_calendars_load(path, &cs, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(cs);
    snprintf(want, sizeof(want), "%s%s", path, rest);
    ck_assert_str_eq(err, want);
}

/* Microseconds since the epoch of local time Y-MO-D H:MI:S.US at a UTC
 * offset of OFF minutes (+420 for +07:00). */
static int64_t at(int y, int mo, int d, int h, int mi, int s, int us, int off)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t t = timegm(&tm);
    return ((int64_t)t - (int64_t)off * 60) * 1000000 + us;
}

/* Local time at +07:00, to the microsecond. */
#define VN(y, mo, d, h, mi, s, us) at(y, mo, d, h, mi, s, us, 420)

static bool holds(const cor_calendars *cs, const char *name, int64_t t)
{
    int idx = cor_calendar_find(cs, name);
    ck_assert_msg(idx >= 0, "no calendar '%s'", name);
    return cor_calendar_holds(cs, idx, t);
}

#define YES(cs, name, t)                                                                           \
    ck_assert_msg(holds(cs, name, t), "%s should hold at line %d", name, __LINE__)
#define NO(cs, name, t)                                                                            \
    ck_assert_msg(!holds(cs, name, t), "%s should not hold at line %d", name, __LINE__)

/* ---- when a calendar holds --------------------------------------------- */

static const char *const office = "calendars:\n"
                                  "  - name: office\n"
                                  "    timezone: \"+07:00\"\n"
                                  "    weekly:\n"
                                  "      - days: [mon, tue, wed, thu, fri]\n"
                                  "        hours: \"07:30-17:30\"\n"
                                  "      - days: sat\n"
                                  "        hours: [\"07:30-11:30\", \"13:00-14:00\"]\n";

START_TEST(test_hours_edges)
{
    cor_calendars *cs = load(office);
    /* Tue 2026-03-10 */
    NO(cs, "office", VN(2026, 3, 10, 7, 29, 59, 999999));
    YES(cs, "office", VN(2026, 3, 10, 7, 30, 0, 0));
    YES(cs, "office", VN(2026, 3, 10, 12, 0, 0, 0));
    YES(cs, "office", VN(2026, 3, 10, 17, 29, 59, 999999));
    NO(cs, "office", VN(2026, 3, 10, 17, 30, 0, 0)); /* the end is excluded */
    NO(cs, "office", VN(2026, 3, 10, 0, 0, 0, 0));
    /* Sat 2026-03-14: two ranges given as a list */
    YES(cs, "office", VN(2026, 3, 14, 7, 30, 0, 0));
    YES(cs, "office", VN(2026, 3, 14, 11, 29, 59, 999999));
    NO(cs, "office", VN(2026, 3, 14, 11, 30, 0, 0));
    NO(cs, "office", VN(2026, 3, 14, 12, 59, 59, 999999));
    YES(cs, "office", VN(2026, 3, 14, 13, 0, 0, 0));
    NO(cs, "office", VN(2026, 3, 14, 14, 0, 0, 0));
    /* Sun 2026-03-15 */
    NO(cs, "office", VN(2026, 3, 15, 10, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

START_TEST(test_midnight_wrap)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: nights\n"
                             "    timezone: \"+07:00\"\n"
                             "    weekly: [{days: [mon, tue, wed, thu, fri, sat, sun], hours: "
                             "\"22:00-06:00\"}]\n"
                             "  - name: fri-night\n"
                             "    weekly: [{days: [fri], hours: \"22:00-06:00\"}]\n"
                             "  - name: all-day\n"
                             "    weekly: [{days: [sun], hours: \"00:00-24:00\"}]\n");
    NO(cs, "nights", VN(2026, 3, 10, 21, 59, 59, 999999));
    YES(cs, "nights", VN(2026, 3, 10, 22, 0, 0, 0));
    YES(cs, "nights", VN(2026, 3, 10, 23, 59, 59, 999999));
    YES(cs, "nights", VN(2026, 3, 11, 0, 0, 0, 0));
    YES(cs, "nights", VN(2026, 3, 11, 5, 59, 59, 999999));
    NO(cs, "nights", VN(2026, 3, 11, 6, 0, 0, 0));
    /* A night belongs to the day it starts on: Fri 22:00 .. Sat 06:00 (UTC). */
    NO(cs, "fri-night", at(2026, 3, 13, 3, 0, 0, 0, 0)); /* Friday early morning */
    YES(cs, "fri-night", at(2026, 3, 13, 22, 0, 0, 0, 0));
    YES(cs, "fri-night", at(2026, 3, 14, 0, 0, 0, 0, 0));
    YES(cs, "fri-night", at(2026, 3, 14, 5, 59, 59, 999999, 0));
    NO(cs, "fri-night", at(2026, 3, 14, 6, 0, 0, 0, 0));
    NO(cs, "fri-night", at(2026, 3, 14, 23, 0, 0, 0, 0)); /* Saturday night */
    /* Sun -> Mon wraps the week too */
    NO(cs, "all-day", at(2026, 3, 14, 23, 59, 59, 999999, 0));
    YES(cs, "all-day", at(2026, 3, 15, 0, 0, 0, 0, 0));
    YES(cs, "all-day", at(2026, 3, 15, 23, 59, 59, 999999, 0));
    NO(cs, "all-day", at(2026, 3, 16, 0, 0, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

START_TEST(test_timezones)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: vn\n"
                             "    timezone: \"+07:00\"\n"
                             "    dates: [2026-03-10]\n"
                             "  - name: utc\n"
                             "    dates: [2026-03-10]\n"
                             "  - name: z\n"
                             "    timezone: UTC\n"
                             "    dates: 2026-03-10\n"
                             "  - name: west\n"
                             "    timezone: \"-05:30\"\n"
                             "    dates: [2026-03-10]\n"
                             "  - name: vn-monday\n"
                             "    timezone: +07:00\n"
                             "    weekly: [{days: mon, hours: \"00:00-01:00\"}]\n");
    /* 2026-03-10 at +07:00 is 2026-03-09T17:00Z .. 2026-03-10T17:00Z */
    NO(cs, "vn", at(2026, 3, 9, 16, 59, 59, 999999, 0));
    YES(cs, "vn", at(2026, 3, 9, 17, 0, 0, 0, 0));
    YES(cs, "vn", at(2026, 3, 10, 16, 59, 59, 999999, 0));
    NO(cs, "vn", at(2026, 3, 10, 17, 0, 0, 0, 0));
    /* default is UTC, and "UTC" says so */
    NO(cs, "utc", at(2026, 3, 9, 23, 59, 59, 999999, 0));
    YES(cs, "utc", at(2026, 3, 10, 0, 0, 0, 0, 0));
    YES(cs, "utc", at(2026, 3, 10, 23, 59, 59, 999999, 0));
    NO(cs, "utc", at(2026, 3, 11, 0, 0, 0, 0, 0));
    YES(cs, "z", at(2026, 3, 10, 0, 0, 0, 0, 0));
    NO(cs, "z", at(2026, 3, 11, 0, 0, 0, 0, 0));
    /* -05:30: 2026-03-10T05:30Z .. 2026-03-11T05:30Z */
    NO(cs, "west", at(2026, 3, 10, 5, 29, 59, 999999, 0));
    YES(cs, "west", at(2026, 3, 10, 5, 30, 0, 0, 0));
    YES(cs, "west", at(2026, 3, 11, 5, 29, 59, 999999, 0));
    NO(cs, "west", at(2026, 3, 11, 5, 30, 0, 0, 0));
    /* The weekday is the local one: Sun 2026-03-15T17:30Z is Mon 00:30 at +07. */
    YES(cs, "vn-monday", at(2026, 3, 15, 17, 30, 0, 0, 0));
    NO(cs, "vn-monday", at(2026, 3, 16, 0, 30, 0, 0, 0)); /* Mon 07:30 local */
    cor_calendars_free(cs);
}
END_TEST

/* ---- named zones (docs/calendars.md "Time zones") ---------------------- */

/* An instant given in UTC, to the microsecond. */
#define UT(y, mo, d, h, mi, s, us) at(y, mo, d, h, mi, s, us, 0)

/* Europe/Berlin 2026: CET -> CEST at 2026-03-29T01:00Z (02:00 -> 03:00),
 * CEST -> CET at 2026-10-25T01:00Z (03:00 -> 02:00). A calendar reads the
 * wall clock at each instant: a local time in the spring gap never comes,
 * one in the autumn's repeated hour comes twice. */
START_TEST(test_zone_berlin)
{
    cor_calendars *cs =
        load("calendars:\n"
             "  - name: office\n"
             "    timezone: Europe/Berlin\n"
             "    weekly: [{days: [mon, tue, wed, thu, fri], hours: \"08:00-17:00\"}]\n"
             "  - name: gap-in\n"
             "    timezone: Europe/Berlin\n"
             "    weekly: [{days: sun, hours: \"02:30-04:00\"}]\n"
             "  - name: gap-out\n"
             "    timezone: Europe/Berlin\n"
             "    weekly: [{days: sun, hours: \"01:00-02:30\"}]\n"
             "  - name: twice\n"
             "    timezone: Europe/Berlin\n"
             "    weekly: [{days: sun, hours: \"02:00-03:00\"}]\n"
             "  - name: nights\n"
             "    timezone: Europe/Berlin\n"
             "    weekly: [{days: [sat], hours: \"22:00-06:00\"}]\n"
             "  - name: spring-day\n"
             "    timezone: Europe/Berlin\n"
             "    dates: 2026-03-29\n"
             "  - name: autumn-day\n"
             "    timezone: Europe/Berlin\n"
             "    dates: 2026-10-25\n"
             "  - name: far\n"
             "    timezone: Europe/Berlin\n"
             "    dates: 2300-07-01\n");
    /* office hours: 07:00Z..16:00Z in winter, 06:00Z..15:00Z in summer */
    NO(cs, "office", UT(2026, 3, 27, 6, 59, 59, 999999)); /* Fri, CET */
    YES(cs, "office", UT(2026, 3, 27, 7, 0, 0, 0));
    YES(cs, "office", UT(2026, 3, 27, 15, 59, 59, 999999));
    NO(cs, "office", UT(2026, 3, 27, 16, 0, 0, 0));
    NO(cs, "office", UT(2026, 3, 30, 5, 59, 59, 999999)); /* Mon, CEST */
    YES(cs, "office", UT(2026, 3, 30, 6, 0, 0, 0));
    YES(cs, "office", UT(2026, 3, 30, 14, 59, 59, 999999));
    NO(cs, "office", UT(2026, 3, 30, 15, 0, 0, 0));
    YES(cs, "office", UT(2026, 10, 23, 6, 0, 0, 0)); /* Fri, CEST */
    NO(cs, "office", UT(2026, 10, 23, 15, 0, 0, 0));
    NO(cs, "office", UT(2026, 10, 26, 6, 0, 0, 0)); /* Mon, CET: 07:00 local */
    YES(cs, "office", UT(2026, 10, 26, 7, 0, 0, 0));
    YES(cs, "office", UT(2026, 10, 26, 15, 59, 59, 999999));
    NO(cs, "office", UT(2026, 10, 26, 16, 0, 0, 0));
    /* a range starting in the spring gap starts when the gap ends (03:00) */
    NO(cs, "gap-in", UT(2026, 3, 29, 0, 59, 59, 999999)); /* 01:59:59 CET */
    YES(cs, "gap-in", UT(2026, 3, 29, 1, 0, 0, 0));       /* 03:00 CEST */
    YES(cs, "gap-in", UT(2026, 3, 29, 1, 59, 59, 999999));
    NO(cs, "gap-in", UT(2026, 3, 29, 2, 0, 0, 0));   /* 04:00 CEST */
    YES(cs, "gap-in", UT(2026, 3, 22, 1, 30, 0, 0)); /* a week before: 02:30 CET */
    /* a range ending in the gap ends when the gap starts */
    NO(cs, "gap-out", UT(2026, 3, 28, 23, 59, 59, 999999));
    YES(cs, "gap-out", UT(2026, 3, 29, 0, 0, 0, 0));
    YES(cs, "gap-out", UT(2026, 3, 29, 0, 59, 59, 999999));
    NO(cs, "gap-out", UT(2026, 3, 29, 1, 0, 0, 0));
    /* the autumn's 02:00-03:00 comes twice: two hours */
    NO(cs, "twice", UT(2026, 10, 24, 23, 59, 59, 999999)); /* 01:59:59 CEST */
    YES(cs, "twice", UT(2026, 10, 25, 0, 0, 0, 0));        /* 02:00 CEST */
    YES(cs, "twice", UT(2026, 10, 25, 0, 59, 59, 999999));
    YES(cs, "twice", UT(2026, 10, 25, 1, 0, 0, 0)); /* 02:00 CET */
    YES(cs, "twice", UT(2026, 10, 25, 1, 59, 59, 999999));
    NO(cs, "twice", UT(2026, 10, 25, 2, 0, 0, 0)); /* 03:00 CET */
    /* in spring the same range is never: the clock skips it */
    NO(cs, "twice", UT(2026, 3, 29, 0, 59, 59, 999999));
    NO(cs, "twice", UT(2026, 3, 29, 1, 0, 0, 0));
    /* Saturday's night into the spring Sunday lasts 7 hours */
    NO(cs, "nights", UT(2026, 3, 28, 20, 59, 59, 999999));
    YES(cs, "nights", UT(2026, 3, 28, 21, 0, 0, 0)); /* 22:00 CET */
    YES(cs, "nights", UT(2026, 3, 29, 3, 59, 59, 999999));
    NO(cs, "nights", UT(2026, 3, 29, 4, 0, 0, 0)); /* 06:00 CEST */
    /* dates are local days: 23 hours in spring, 25 in autumn */
    NO(cs, "spring-day", UT(2026, 3, 28, 22, 59, 59, 999999));
    YES(cs, "spring-day", UT(2026, 3, 28, 23, 0, 0, 0));
    YES(cs, "spring-day", UT(2026, 3, 29, 21, 59, 59, 999999));
    NO(cs, "spring-day", UT(2026, 3, 29, 22, 0, 0, 0));
    NO(cs, "autumn-day", UT(2026, 10, 24, 21, 59, 59, 999999));
    YES(cs, "autumn-day", UT(2026, 10, 24, 22, 0, 0, 0));
    YES(cs, "autumn-day", UT(2026, 10, 25, 22, 59, 59, 999999));
    NO(cs, "autumn-day", UT(2026, 10, 25, 23, 0, 0, 0));
    /* past the file's last transition (2037), from its rule: 2100-03-28
     * and 2100-10-31 are the last Sundays */
    NO(cs, "gap-in", UT(2100, 3, 28, 0, 59, 59, 999999));
    YES(cs, "gap-in", UT(2100, 3, 28, 1, 0, 0, 0));
    YES(cs, "twice", UT(2100, 10, 31, 0, 0, 0, 0));
    YES(cs, "twice", UT(2100, 10, 31, 1, 59, 59, 999999));
    NO(cs, "twice", UT(2100, 10, 31, 2, 0, 0, 0));
    /* after 2200 the offset at the end of 2200 (CET) stays, summer too */
    NO(cs, "far", UT(2300, 6, 30, 22, 59, 59, 999999));
    YES(cs, "far", UT(2300, 6, 30, 23, 0, 0, 0));
    YES(cs, "far", UT(2300, 7, 1, 22, 59, 59, 999999));
    NO(cs, "far", UT(2300, 7, 1, 23, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

/* America/New_York 2026: EST -> EDT at 2026-03-08T07:00Z (02:00 -> 03:00),
 * EDT -> EST at 2026-11-01T06:00Z (02:00 -> 01:00). */
START_TEST(test_zone_new_york)
{
    cor_calendars *cs =
        load("calendars:\n"
             "  - name: office\n"
             "    timezone: America/New_York\n"
             "    weekly: [{days: [mon, tue, wed, thu, fri], hours: \"09:00-17:00\"}]\n"
             "  - name: early\n"
             "    timezone: America/New_York\n"
             "    weekly: [{days: sun, hours: \"01:00-02:00\"}]\n"
             "  - name: skipped\n"
             "    timezone: America/New_York\n"
             "    weekly: [{days: sun, hours: \"02:00-03:00\"}]\n"
             "  - name: july-1960\n"
             "    timezone: America/New_York\n"
             "    dates: 1960-07-04\n");
    YES(cs, "office", UT(2026, 3, 6, 14, 0, 0, 0)); /* Fri 09:00 EST */
    NO(cs, "office", UT(2026, 3, 6, 13, 59, 59, 999999));
    YES(cs, "office", UT(2026, 3, 9, 13, 0, 0, 0)); /* Mon 09:00 EDT */
    NO(cs, "office", UT(2026, 3, 9, 12, 59, 59, 999999));
    NO(cs, "office", UT(2026, 3, 9, 21, 0, 0, 0)); /* Mon 17:00 EDT */
    YES(cs, "office", UT(2026, 3, 9, 20, 59, 59, 999999));
    YES(cs, "office", UT(2026, 11, 2, 14, 0, 0, 0)); /* Mon 09:00 EST */
    NO(cs, "office", UT(2026, 11, 2, 13, 0, 0, 0));
    /* 01:00-02:00 twice in autumn: 05:00Z..07:00Z */
    NO(cs, "early", UT(2026, 11, 1, 4, 59, 59, 999999));
    YES(cs, "early", UT(2026, 11, 1, 5, 0, 0, 0));
    YES(cs, "early", UT(2026, 11, 1, 6, 0, 0, 0)); /* 01:00 EST, the second time */
    YES(cs, "early", UT(2026, 11, 1, 6, 59, 59, 999999));
    NO(cs, "early", UT(2026, 11, 1, 7, 0, 0, 0));
    /* 02:00-03:00 never happens on the spring Sunday, but does a week later */
    NO(cs, "skipped", UT(2026, 3, 8, 6, 59, 59, 999999)); /* 01:59:59 EST */
    NO(cs, "skipped", UT(2026, 3, 8, 7, 0, 0, 0));        /* 03:00 EDT */
    YES(cs, "skipped", UT(2026, 3, 15, 6, 30, 0, 0));     /* 02:30 EDT */
    /* before 1970 too: New York kept summer time in 1960 (EDT, -04:00) */
    NO(cs, "july-1960", UT(1960, 7, 4, 3, 59, 59, 999999));
    YES(cs, "july-1960", UT(1960, 7, 4, 4, 0, 0, 0));
    YES(cs, "july-1960", UT(1960, 7, 5, 3, 59, 59, 999999));
    NO(cs, "july-1960", UT(1960, 7, 5, 4, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

/* Half-hour zones. Australia/Adelaide: ACDT +10:30 -> ACST +09:30 at
 * 2026-04-04T16:30Z (03:00 -> 02:00), back at 2026-10-03T16:30Z (02:00 ->
 * 03:00); Australia/Lord_Howe moves by 30 minutes (+10:30 -> +11:00 at
 * 2026-10-03T15:30Z, 02:00 -> 02:30); Asia/Kolkata is +05:30 all year. */
START_TEST(test_zone_half_hours)
{
    cor_calendars *cs =
        load("calendars:\n"
             "  - name: adl\n"
             "    timezone: Australia/Adelaide\n"
             "    weekly: [{days: [mon, tue, wed, thu, fri], hours: \"09:00-17:00\"}]\n"
             "  - name: adl-april\n"
             "    timezone: Australia/Adelaide\n"
             "    dates: 2026-04-05\n"
             "  - name: adl-october\n"
             "    timezone: Australia/Adelaide\n"
             "    dates: 2026-10-04\n"
             "  - name: lhi-gap\n"
             "    timezone: Australia/Lord_Howe\n"
             "    weekly: [{days: sun, hours: \"02:00-02:30\"}]\n"
             "  - name: lhi-twice\n"
             "    timezone: Australia/Lord_Howe\n"
             "    weekly: [{days: sun, hours: \"01:30-02:00\"}]\n"
             "  - name: ccu\n"
             "    timezone: Asia/Kolkata\n"
             "    weekly: [{days: [mon], hours: \"09:00-17:00\"}]\n");
    YES(cs, "adl", UT(2026, 4, 2, 22, 30, 0, 0)); /* Fri 09:00 ACDT */
    NO(cs, "adl", UT(2026, 4, 2, 22, 29, 59, 999999));
    YES(cs, "adl", UT(2026, 4, 5, 23, 30, 0, 0)); /* Mon 09:00 ACST */
    NO(cs, "adl", UT(2026, 4, 5, 23, 29, 59, 999999));
    YES(cs, "adl", UT(2026, 4, 6, 7, 29, 59, 999999));
    NO(cs, "adl", UT(2026, 4, 6, 7, 30, 0, 0));    /* 17:00 ACST */
    YES(cs, "adl", UT(2026, 10, 4, 22, 30, 0, 0)); /* Mon 09:00 ACDT */
    NO(cs, "adl", UT(2026, 10, 4, 22, 29, 59, 999999));
    /* April's Sunday has 25 hours, October's 23 */
    NO(cs, "adl-april", UT(2026, 4, 4, 13, 29, 59, 999999));
    YES(cs, "adl-april", UT(2026, 4, 4, 13, 30, 0, 0));
    YES(cs, "adl-april", UT(2026, 4, 5, 14, 29, 59, 999999));
    NO(cs, "adl-april", UT(2026, 4, 5, 14, 30, 0, 0));
    NO(cs, "adl-october", UT(2026, 10, 3, 14, 29, 59, 999999));
    YES(cs, "adl-october", UT(2026, 10, 3, 14, 30, 0, 0));
    YES(cs, "adl-october", UT(2026, 10, 4, 13, 29, 59, 999999));
    NO(cs, "adl-october", UT(2026, 10, 4, 13, 30, 0, 0));
    /* from the rule after 2037: 2050-04-03 03:00 ACDT -> 02:00 ACST */
    YES(cs, "adl", UT(2050, 4, 3, 23, 30, 0, 0)); /* Mon 09:00 ACST */
    NO(cs, "adl", UT(2050, 4, 3, 22, 30, 0, 0));
    /* Lord Howe's 02:00-02:30 is skipped in October; in April its clock
     * goes from 02:00 back to 01:30, so 01:30-02:00 comes twice */
    NO(cs, "lhi-gap", UT(2026, 10, 3, 15, 29, 59, 999999));  /* 01:59:59 +10:30 */
    NO(cs, "lhi-gap", UT(2026, 10, 3, 15, 30, 0, 0));        /* 02:30 +11:00 */
    YES(cs, "lhi-gap", UT(2026, 10, 10, 15, 0, 0, 0));       /* a week later, 02:00 +11:00 */
    NO(cs, "lhi-twice", UT(2026, 4, 4, 14, 29, 59, 999999)); /* 01:29:59 +11:00 */
    YES(cs, "lhi-twice", UT(2026, 4, 4, 14, 30, 0, 0));      /* 01:30 +11:00 */
    YES(cs, "lhi-twice", UT(2026, 4, 4, 15, 0, 0, 0));       /* 01:30 +10:30 */
    YES(cs, "lhi-twice", UT(2026, 4, 4, 15, 29, 59, 999999));
    NO(cs, "lhi-twice", UT(2026, 4, 4, 15, 30, 0, 0)); /* 02:00 +10:30 */
    /* Kolkata: 09:00 is 03:30Z in January and in July */
    NO(cs, "ccu", UT(2026, 1, 5, 3, 29, 59, 999999));
    YES(cs, "ccu", UT(2026, 1, 5, 3, 30, 0, 0));
    YES(cs, "ccu", UT(2026, 7, 6, 3, 30, 0, 0));
    YES(cs, "ccu", UT(2026, 7, 6, 11, 29, 59, 999999));
    NO(cs, "ccu", UT(2026, 7, 6, 11, 30, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

/* Writes tmpdir/NAME as a TZif version 2 file with no transitions, one
 * time type at OFF seconds and FOOTER as its rule: the footer forms no
 * zone of tzdata 2025 uses (Jn, n, a zone in daylight time all year).
 * The expected offsets agree with Python's zoneinfo on the same files
 * (glibc's TZ parser agrees on Jn and n, but reads the all-year rule as
 * standard time for the hours before each year's start, RFC 8536 3.3.1). */
static void mktzif(const char *name, int32_t off, const char *footer)
{
    unsigned char b[512];
    size_t n = 0;
    for (int block = 0; block < 2; block++) {
        memcpy(b + n, "TZif2", 5);
        memset(b + n + 5, 0, 39);
        b[n + 20 + 4 * 4 + 3] = 1; /* typecnt */
        b[n + 20 + 5 * 4 + 3] = 4; /* charcnt */
        n += 44;
        for (int i = 0; i < 4; i++)
            b[n++] = (unsigned char)((uint32_t)off >> (24 - 8 * i));
        b[n++] = 0; /* isdst */
        b[n++] = 0; /* desigidx */
        memcpy(b + n, "XXX", 4);
        n += 4;
    }
    n += (size_t)snprintf((char *)b + n, sizeof(b) - n, "\n%s\n", footer);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static int32_t tz_off(const char *name, int64_t t_us)
{
    cor_tz z;
    char why[512];
    int rc = cor_tz_load(tmpdir, name, &z, why, sizeof(why));
    ck_assert_msg(rc == 0, "%s: %s", name, why);
    int32_t off = cor_tz_offset(&z, t_us / 1000000);
    cor_tz_release(&z);
    return off;
}

START_TEST(test_zone_rules)
{
    /* in daylight time all year: each year's end is the next one's start */
    mktzif("alldst", -5 * 3600, "EST5EDT4,0/0,J365/25");
    ck_assert_int_eq(tz_off("alldst", UT(2026, 1, 1, 0, 0, 0, 0)), -4 * 3600);
    ck_assert_int_eq(tz_off("alldst", UT(2026, 7, 1, 0, 0, 0, 0)), -4 * 3600);
    ck_assert_int_eq(tz_off("alldst", UT(2026, 12, 31, 23, 59, 59, 0)), -4 * 3600);
    ck_assert_int_eq(tz_off("alldst", UT(2027, 1, 1, 4, 0, 0, 0)), -4 * 3600);
    /* Jn never counts Feb 29: J60 is Mar 1, in 2028 too; the end is read in
     * daylight time (Mar 2 00:00 +01:00 is Mar 1 23:00Z) */
    mktzif("jrule", 0, "<+00>0<+01>,J60/0,J61/0");
    ck_assert_int_eq(tz_off("jrule", UT(2026, 2, 28, 23, 59, 59, 0)), 0);
    ck_assert_int_eq(tz_off("jrule", UT(2026, 3, 1, 0, 0, 0, 0)), 3600);
    ck_assert_int_eq(tz_off("jrule", UT(2026, 3, 1, 22, 59, 59, 0)), 3600);
    ck_assert_int_eq(tz_off("jrule", UT(2026, 3, 1, 23, 0, 0, 0)), 0);
    ck_assert_int_eq(tz_off("jrule", UT(2028, 2, 29, 12, 0, 0, 0)), 0);
    ck_assert_int_eq(tz_off("jrule", UT(2028, 3, 1, 0, 0, 0, 0)), 3600);
    /* n counts it: day 59 is Mar 1, but Feb 29 in a leap year; times past
     * 24:00 and below zero (RFC 8536) */
    mktzif("nrule", 0, "<+00>0<+01>,59/-1,60/25");
    ck_assert_int_eq(tz_off("nrule", UT(2026, 2, 28, 22, 59, 59, 0)), 0);
    ck_assert_int_eq(tz_off("nrule", UT(2026, 2, 28, 23, 0, 0, 0)), 3600);
    ck_assert_int_eq(tz_off("nrule", UT(2026, 3, 2, 23, 59, 59, 0)), 3600);
    ck_assert_int_eq(tz_off("nrule", UT(2026, 3, 3, 0, 0, 0, 0)), 0);
    ck_assert_int_eq(tz_off("nrule", UT(2028, 2, 28, 22, 59, 59, 0)), 0);
    ck_assert_int_eq(tz_off("nrule", UT(2028, 2, 28, 23, 0, 0, 0)), 3600);
    ck_assert_int_eq(tz_off("nrule", UT(2028, 3, 1, 23, 59, 59, 0)), 3600);
    ck_assert_int_eq(tz_off("nrule", UT(2028, 3, 2, 0, 0, 0, 0)), 0);
    /* no rule: the fixed offset of the footer, which wins over type 0
     * when there are no transitions */
    mktzif("fixed", 0, "<+0545>-5:45");
    ck_assert_int_eq(tz_off("fixed", UT(2026, 7, 1, 0, 0, 0, 0)), 5 * 3600 + 45 * 60);
    ck_assert_int_eq(tz_off("fixed", UT(1900, 7, 1, 0, 0, 0, 0)), 5 * 3600 + 45 * 60);

    /* footers this code does not read, and broken files */
    char why[512], want[PATH_MAX + 200];
    cor_tz z;
    mktzif("bad", 0, "XXX0YYY");
    ck_assert_int_eq(cor_tz_load(tmpdir, "bad", &z, why, sizeof(why)), VG_ECONFIG);
    ck_assert_uint_eq(z.n, 0);
    snprintf(want, sizeof(want),
             "%s/bad has a rule for later years that Vigil does not read ('XXX0YYY')", tmpdir);
    ck_assert_str_eq(why, want);
    char path[PATH_MAX];
    mkfile(path, "short", "TZif2");
    ck_assert_int_eq(cor_tz_load(tmpdir, "short", &z, why, sizeof(why)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s/short is not a TZif file", tmpdir);
    ck_assert_str_eq(why, want);
    ck_assert_int_eq(cor_tz_load(tmpdir, "../x", &z, why, sizeof(why)), -EINVAL);
    ck_assert_str_eq(why, "not a zone name");
    snprintf(path, sizeof(path), "%s/none", tmpdir);
    ck_assert_int_eq(cor_tz_load(path, "Europe/Berlin", &z, why, sizeof(why)), -ENOENT);
    snprintf(want, sizeof(want), "no time zone database in %s (install tzdata)", path);
    ck_assert_str_eq(why, want);
}
END_TEST

/* A zone name and a fixed offset answer alike where the zone keeps that
 * offset; 'over' reads the last date in the zone's own time. */
START_TEST(test_zone_fixed_like)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: hcm\n"
                             "    timezone: Asia/Ho_Chi_Minh\n"
                             "    weekly: [{days: [mon], hours: \"07:30-17:30\"}]\n"
                             "  - name: fixed\n"
                             "    timezone: \"+07:00\"\n"
                             "    weekly: [{days: [mon], hours: \"07:30-17:30\"}]\n"
                             "  - name: la-hol\n"
                             "    timezone: America/Los_Angeles\n"
                             "    dates: 2026-07-03\n");
    for (int64_t t = UT(2026, 1, 4, 0, 0, 0, 0); t < UT(2026, 1, 6, 0, 0, 0, 0);
         t += 60 * 1000000LL)
        ck_assert_int_eq(holds(cs, "hcm", t), holds(cs, "fixed", t));
    YES(cs, "hcm", UT(2026, 1, 5, 0, 30, 0, 0));
    NO(cs, "hcm", UT(2026, 1, 5, 0, 29, 59, 999999));
    /* 2026-07-03 in Los Angeles (PDT, -07:00) ends at 2026-07-04T07:00Z */
    char msg[512];
    int idx = cor_calendar_find(cs, "la-hol");
    ck_assert(!cor_calendar_over(cs, idx, UT(2026, 7, 4, 6, 59, 59, 999999), msg, sizeof(msg)));
    ck_assert(cor_calendar_over(cs, idx, UT(2026, 7, 4, 7, 0, 0, 0), msg, sizeof(msg)));
    YES(cs, "la-hol", UT(2026, 7, 4, 6, 59, 59, 999999));
    NO(cs, "la-hol", UT(2026, 7, 4, 7, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

START_TEST(test_errors_timezone)
{
#define TZ_FORMS "(a fixed offset like +07:00, UTC, or a zone name like Europe/Berlin)"
#define TZ_CAL(tz) "calendars:\n  - name: a\n    timezone: " tz "\n    dates: [2026-01-01]\n"
    fails(TZ_CAL("Europe/Berln"),
          ":3: 'timezone' Europe/Berln: no such zone in /usr/share/zoneinfo " TZ_FORMS);
    fails(TZ_CAL("Europe"), ":3: 'timezone' Europe: no such zone in /usr/share/zoneinfo " TZ_FORMS);
    fails(TZ_CAL("europe/berlin"),
          ":3: 'timezone' europe/berlin: no such zone in /usr/share/zoneinfo " TZ_FORMS);
    fails(TZ_CAL("Europe/Berlin/x"),
          ":3: 'timezone' Europe/Berlin/x: no such zone in /usr/share/zoneinfo " TZ_FORMS);
    /* nothing outside the zone directory */
    fails(TZ_CAL("../../../etc/passwd"),
          ":3: 'timezone' ../../../etc/passwd: not a zone name " TZ_FORMS);
    fails(TZ_CAL("Europe/../../../etc/passwd"),
          ":3: 'timezone' Europe/../../../etc/passwd: not a zone name " TZ_FORMS);
    fails(TZ_CAL("/etc/localtime"), ":3: 'timezone' /etc/localtime: not a zone name " TZ_FORMS);
    fails(TZ_CAL("Europe//Berlin"), ":3: 'timezone' Europe//Berlin: not a zone name " TZ_FORMS);
    fails(TZ_CAL("\"Europe/Berlin \""), ":3: 'timezone' Europe/Berlin : not a zone name " TZ_FORMS);
    fails(TZ_CAL(".hidden"), ":3: 'timezone' .hidden: not a zone name " TZ_FORMS);
    /* files of the database that are not zones */
    fails(TZ_CAL("zone.tab"), ":3: 'timezone' zone.tab: /usr/share/zoneinfo/zone.tab is not a TZif "
                              "file " TZ_FORMS);
    if (access("/usr/share/zoneinfo/right/Europe/Berlin", R_OK) == 0)
        fails(TZ_CAL("right/Europe/Berlin"),
              ":3: 'timezone' right/Europe/Berlin: /usr/share/zoneinfo/right/Europe/Berlin counts "
              "leap seconds (a right/ zone): name the zone without them " TZ_FORMS);
    /* offsets */
    fails(TZ_CAL("\"+14:01\""),
          ":3: 'timezone' +14:01: not a UTC offset from -14:00 to +14:00 " TZ_FORMS);
    fails(TZ_CAL("\"+0700\""),
          ":3: 'timezone' +0700: not a UTC offset from -14:00 to +14:00 " TZ_FORMS);
    fails(TZ_CAL("7"), ":3: 'timezone' 7: not a UTC offset from -14:00 to +14:00 " TZ_FORMS);
    fails(TZ_CAL("[7]"), ":3: 'timezone' must be a fixed offset like +07:00, UTC, or a zone name "
                         "like Europe/Berlin");
#undef TZ_CAL
#undef TZ_FORMS
}
END_TEST

/* TZDIR, when set and not empty, is where zone names are read, as glibc
 * reads them; empty or unset, /usr/share/zoneinfo. */
START_TEST(test_tzdir_honoured)
{
    mktzif("Testzone", -5 * 3600, "EST5EDT4,0/0,J365/25");
    const char *cal = "calendars:\n  - name: a\n    timezone: Testzone\n"
                      "    weekly: [{days: [mon], hours: \"09:00-10:00\"}]\n";
    setenv("TZDIR", tmpdir, 1);
    cor_calendars *cs = load(cal);
    /* Monday 2026-01-05 09:00 at -04:00 is 13:00Z */
    YES(cs, "a", UT(2026, 1, 5, 13, 0, 0, 0));
    NO(cs, "a", UT(2026, 1, 5, 12, 59, 59, 999999));
    cor_calendars_free(cs);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof(want),
             ":3: 'timezone' Europe/Berlin: no such zone in %s (TZDIR) (a fixed offset like "
             "+07:00, UTC, or a zone name like Europe/Berlin)",
             tmpdir);
    fails("calendars:\n  - name: a\n    timezone: Europe/Berlin\n    dates: [2026-01-01]\n", want);
    /* empty: the default, as unset */
    setenv("TZDIR", "", 1);
    fails(cal, ":3: 'timezone' Testzone: no such zone in /usr/share/zoneinfo (a fixed offset "
               "like +07:00, UTC, or a zone name like Europe/Berlin)");
    unsetenv("TZDIR");
    fails(cal, ":3: 'timezone' Testzone: no such zone in /usr/share/zoneinfo (a fixed offset "
               "like +07:00, UTC, or a zone name like Europe/Berlin)");
}
END_TEST

START_TEST(test_date_ranges)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: tet\n"
                             "    timezone: \"+07:00\"\n"
                             "    dates:\n"
                             "      - \"2026-02-14..2026-02-22\"\n"
                             "      - 2026-01-01\n"
                             "      - 2026-02-20..2026-02-24\n" /* overlaps: merged */
                             "      - 2026-02-26..2026-02-26\n" /* a one-day range */
                             "      - 2026-02-25\n");           /* adjacent: merged */
    NO(cs, "tet", VN(2026, 2, 13, 23, 59, 59, 999999));
    YES(cs, "tet", VN(2026, 2, 14, 0, 0, 0, 0));
    YES(cs, "tet", VN(2026, 2, 17, 10, 0, 0, 0));
    YES(cs, "tet", VN(2026, 2, 22, 23, 59, 59, 999999));
    YES(cs, "tet", VN(2026, 2, 24, 23, 59, 59, 999999));
    YES(cs, "tet", VN(2026, 2, 25, 12, 0, 0, 0));
    YES(cs, "tet", VN(2026, 2, 26, 23, 59, 59, 999999));
    NO(cs, "tet", VN(2026, 2, 27, 0, 0, 0, 0));
    NO(cs, "tet", VN(2025, 12, 31, 23, 59, 59, 999999));
    YES(cs, "tet", VN(2026, 1, 1, 0, 0, 0, 0));
    NO(cs, "tet", VN(2026, 1, 2, 0, 0, 0, 0));
    NO(cs, "tet", VN(2027, 2, 17, 10, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

START_TEST(test_except)
{
    cor_calendars *cs =
        load("calendars:\n"
             "  - name: work\n" /* refers to a calendar defined later */
             "    timezone: \"+07:00\"\n"
             "    weekly: [{days: [mon, tue, wed, thu, fri], hours: 07:30-17:30}]\n"
             "    except: [holidays, lunch]\n"
             "  - name: holidays\n"
             "    timezone: \"+07:00\"\n"
             "    dates: [\"2026-02-14..2026-02-22\"]\n"
             "    except: amnesty\n"
             "  - name: amnesty\n" /* UTC: 2026-02-18 03:00Z..05:00Z only */
             "    dates: [2026-02-18]\n"
             "    except: not-amnesty\n"
             "  - name: not-amnesty\n"
             "    weekly: [{days: [wed], hours: [00:00-03:00, 05:00-24:00]}]\n"
             "  - name: lunch\n"
             "    timezone: \"+07:00\"\n"
             "    weekly: [{days: [mon, tue, wed, thu, fri], hours: 12:00-13:00}]\n");
    YES(cs, "work", VN(2026, 2, 13, 10, 0, 0, 0));
    NO(cs, "work", VN(2026, 2, 13, 12, 30, 0, 0)); /* lunch */
    YES(cs, "work", VN(2026, 2, 13, 13, 0, 0, 0));
    NO(cs, "work", VN(2026, 2, 17, 10, 0, 0, 0)); /* Tue, a holiday: except wins */
    YES(cs, "holidays", VN(2026, 2, 17, 10, 0, 0, 0));
    /* Wed 2026-02-18: 'amnesty' holds 03:00Z..05:00Z (10:00..12:00 at +07), so
     * 'holidays' does not, so 'work' does. A chain of three excepts. */
    YES(cs, "amnesty", at(2026, 2, 18, 3, 0, 0, 0, 0));
    NO(cs, "amnesty", at(2026, 2, 18, 5, 0, 0, 0, 0));
    NO(cs, "holidays", VN(2026, 2, 18, 10, 0, 0, 0));
    YES(cs, "work", VN(2026, 2, 18, 10, 0, 0, 0));
    YES(cs, "work", VN(2026, 2, 18, 11, 59, 59, 999999));
    NO(cs, "work", VN(2026, 2, 18, 12, 0, 0, 0)); /* lunch and, after it, the holiday */
    YES(cs, "holidays", VN(2026, 2, 18, 12, 0, 0, 0));
    NO(cs, "work", VN(2026, 2, 18, 15, 0, 0, 0));
    YES(cs, "work", VN(2026, 2, 23, 10, 0, 0, 0));
    cor_calendars_free(cs);
}
END_TEST

/* 'except' lists that share calendars: c0 except [c1, c2], c1 except
 * [c2, c3], ... Each c_i holds all week, so c_i holds iff neither c_i+1
 * nor c_i+2 does: c63 holds, then every third one down to c0. Each
 * calendar was tested again for every path to it: about 1.44^n tests, a
 * hang in the engine for this set (minutes per event). */
START_TEST(test_except_shared)
{
    enum { N = 64 };
    static char text[N * 160];
    size_t len = (size_t)snprintf(text, sizeof(text), "calendars:\n");
    for (int i = 0; i < N; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "  - name: c%d\n"
                                "    weekly: [{days: [mon, tue, wed, thu, fri, sat, sun], "
                                "hours: 00:00-24:00}]\n",
                                i);
        if (i + 2 < N)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "    except: [c%d, c%d]\n",
                                    i + 1, i + 2);
        else if (i + 1 < N)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "    except: c%d\n", i + 1);
    }
    ck_assert_uint_lt(len, sizeof(text));
    cor_calendars *cs = load(text);
    int64_t t = at(2026, 11, 27, 10, 0, 0, 0, 0);
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        ck_assert_msg(holds(cs, name, t) == (i % 3 == 0), "%s", name);
    }
    cor_calendars_free(cs);
}
END_TEST

START_TEST(test_leap_days)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: leap\n"
                             "    dates: [2028-02-29, 2000-02-29, \"2024-02-28..2024-03-01\"]\n");
    NO(cs, "leap", at(2028, 2, 28, 23, 59, 59, 999999, 0));
    YES(cs, "leap", at(2028, 2, 29, 0, 0, 0, 0, 0));
    YES(cs, "leap", at(2028, 2, 29, 23, 59, 59, 999999, 0));
    NO(cs, "leap", at(2028, 3, 1, 0, 0, 0, 0, 0));
    YES(cs, "leap", at(2000, 2, 29, 12, 0, 0, 0, 0));
    YES(cs, "leap", at(2024, 2, 29, 12, 0, 0, 0, 0));
    YES(cs, "leap", at(2024, 3, 1, 23, 0, 0, 0, 0));
    NO(cs, "leap", at(2024, 3, 2, 0, 0, 0, 0, 0));
    cor_calendars_free(cs);
    fails("calendars:\n  - name: a\n    dates: [2026-02-29]\n",
          ":3: '2026-02-29' is not a valid date (no such day)");
    fails("calendars:\n  - name: a\n    dates: [1900-02-29]\n",
          ":3: '1900-02-29' is not a valid date (no such day)");
}
END_TEST

START_TEST(test_before_epoch)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: old\n"
                             "    dates: [1969-12-31]\n"
                             "  - name: thu\n" /* 1970-01-01 was a Thursday */
                             "    weekly: [{days: thu, hours: 00:00-24:00}]\n"
                             "  - name: wed-late\n"
                             "    weekly: [{days: wed, hours: 23:59-24:00}]\n");
    YES(cs, "old", -1);
    YES(cs, "old", -86400LL * 1000000);
    NO(cs, "old", -86400LL * 1000000 - 1);
    NO(cs, "old", 0);
    YES(cs, "thu", 0);
    NO(cs, "thu", -1);
    YES(cs, "wed-late", -1);
    YES(cs, "wed-late", -60LL * 1000000);
    NO(cs, "wed-late", -60LL * 1000000 - 1);
    /* extreme instants do not overflow or crash */
    NO(cs, "old", INT64_MIN);
    NO(cs, "old", INT64_MAX);
    cor_calendars_free(cs);
}
END_TEST

START_TEST(test_api)
{
    cor_calendars *cs = load(office);
    ck_assert_uint_eq(cor_calendars_count(cs), 1);
    ck_assert_int_eq(cor_calendar_find(cs, "office"), 0);
    ck_assert_int_eq(cor_calendar_find(cs, "Office"), -1);
    ck_assert_int_eq(cor_calendar_find(cs, ""), -1);
    ck_assert_int_eq(cor_calendar_find(NULL, "office"), -1);
    ck_assert_str_eq(cor_calendar_name(cs, 0), "office");
    ck_assert_ptr_null(cor_calendar_name(cs, 1));
    ck_assert_ptr_null(cor_calendar_name(cs, -1));
    int64_t t = VN(2026, 3, 10, 10, 0, 0, 0);
    ck_assert(cor_calendar_holds(cs, 0, t));
    ck_assert(!cor_calendar_holds(cs, 1, t));
    ck_assert(!cor_calendar_holds(cs, -1, t));
    ck_assert(!cor_calendar_holds(NULL, 0, t));
    ck_assert_uint_eq(cor_calendars_count(NULL), 0);
    cor_calendars_free(cs);
    cor_calendars_free(NULL);
}
END_TEST

/* A calendar of dates only is over once its last local date has passed:
 * to the microsecond, in its own offset; one with weekly hours, or a date
 * still to come (or today), is not. Dates before 1970 and in 2100 (not a
 * leap year) are written back right. */
START_TEST(test_over)
{
    cor_calendars *cs = load("calendars:\n"
                             "  - name: hol\n    timezone: \"+07:00\"\n"
                             "    dates: [\"2026-09-02\", \"2026-01-01..2026-01-04\"]\n"
                             "  - name: west\n    timezone: \"-10:00\"\n    dates: 2026-09-02\n"
                             "  - name: both\n    dates: 2020-01-01\n"
                             "    weekly: [{days: [mon], hours: \"08:00-09:00\"}]\n"
                             "  - name: old\n    dates: \"1969-12-31\"\n"
                             "  - name: feb\n    dates: \"2100-02-28..2100-03-01\"\n");
    char msg[1024], want[PATH_MAX + 512];
    int hol = cor_calendar_find(cs, "hol"), west = cor_calendar_find(cs, "west");
    ck_assert(!cor_calendar_over(cs, hol, VN(2026, 9, 2, 23, 59, 59, 999999), msg, sizeof(msg)));
    ck_assert(cor_calendar_over(cs, hol, VN(2026, 9, 3, 0, 0, 0, 0), msg, sizeof(msg)));
    snprintf(want, sizeof(want), "%s/cal.yml:2: calendar 'hol' has only dates, and the last, "
             "2026-09-02, is past: it holds no more, and a calendar that excepts it loses no time "
             "to it (add the coming dates)", tmpdir);
    ck_assert_str_eq(msg, want);
    /* the same instant is still 2026-09-02 at -10:00 */
    ck_assert(!cor_calendar_over(cs, west, VN(2026, 9, 3, 0, 0, 0, 0), msg, sizeof(msg)));
    ck_assert(cor_calendar_over(cs, west, at(2026, 9, 3, 0, 0, 0, 0, -600), msg, sizeof(msg)));
    ck_assert(!cor_calendar_over(cs, cor_calendar_find(cs, "both"), VN(2030, 1, 1, 0, 0, 0, 0), msg,
                                 sizeof(msg)));
    ck_assert(cor_calendar_over(cs, cor_calendar_find(cs, "old"), 0, msg, sizeof(msg)));
    ck_assert_ptr_nonnull(strstr(msg, "the last, 1969-12-31, is past"));
    ck_assert(cor_calendar_over(cs, cor_calendar_find(cs, "feb"), at(2100, 3, 2, 0, 0, 0, 0, 0),
                                msg, sizeof(msg)));
    ck_assert_ptr_nonnull(strstr(msg, "the last, 2100-03-01, is past"));
    ck_assert(!cor_calendar_over(cs, 99, 0, msg, sizeof(msg)));
    ck_assert(!cor_calendar_over(NULL, 0, 0, msg, sizeof(msg)));
    cor_calendars_free(cs);
}
END_TEST

/* ---- refusals ---------------------------------------------------------- */

START_TEST(test_errors_dates)
{
    fails("calendars:\n  - name: a\n    dates: [2026-01-01, 2026-02-30]\n",
          ":3: '2026-02-30' is not a valid date (no such day)");
    fails("calendars:\n  - name: a\n    dates:\n      - 2026-01-01\n      - 2026-13-01\n",
          ":5: '2026-13-01' is not a valid date (no such day)");
    fails("calendars:\n  - name: a\n    dates: [0000-01-01]\n",
          ":3: '0000-01-01' is not a valid date (no such day)");
    fails("calendars:\n  - name: a\n    dates: [2026-1-01]\n",
          ":3: '2026-1-01' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD");
    fails("calendars:\n  - name: a\n    dates: [\"2026-01-01 \"]\n",
          ":3: '2026-01-01 ' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD");
    fails("calendars:\n  - name: a\n    dates: [\"2026-02-14..\"]\n",
          ":3: '2026-02-14..' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD");
    fails("calendars:\n  - name: a\n    dates: [\"2026-02-14...2026-02-20\"]\n",
          ":3: '2026-02-14...2026-02-20' is not a date YYYY-MM-DD or a range "
          "YYYY-MM-DD..YYYY-MM-DD");
    fails("calendars:\n  - name: a\n    dates: [\"2026-02-22..2026-02-14\"]\n",
          ":3: date range '2026-02-22..2026-02-14' ends before it starts");
    fails("calendars:\n  - name: a\n    dates: [\"2026-02-14..2026-02-30\"]\n",
          ":3: '2026-02-30' is not a valid date (no such day)");
    fails("calendars:\n  - name: a\n    dates: [[2026-01-01]]\n",
          ":3: a date is a string YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD");
    fails("calendars:\n  - name: a\n    dates: {2026: x}\n",
          ":3: 'dates' must be a date or a list of dates");
}
END_TEST

START_TEST(test_errors_weekly)
{
    static const char *const bad_hours[] = {"25:00-06:00", "07:30-17:60",  "7:30-17:30",
                                            "24:00-06:00", "07:30",        "07:30-24:01",
                                            "07.30-17.30", "07:30 - 17:30"};
    for (size_t i = 0; i < sizeof(bad_hours) / sizeof(bad_hours[0]); i++) {
        char text[256], want[256];
        snprintf(text, sizeof(text),
                 "calendars:\n  - name: a\n    weekly:\n      - days: [mon]\n        hours: "
                 "\"%s\"\n",
                 bad_hours[i]);
        snprintf(want, sizeof(want),
                 ":5: hours '%s' must be HH:MM-HH:MM, from 00:00 to 24:00, e.g. 07:30-17:30",
                 bad_hours[i]);
        fails(text, want);
    }
    fails("calendars:\n  - name: a\n    weekly: [{days: [mon], hours: \"08:00-08:00\"}]\n",
          ":3: hours '08:00-08:00' is an empty range (the whole day is 00:00-24:00)");
    fails("calendars:\n  - name: a\n    weekly: [{days: [mon], hours: {a: b}}]\n",
          ":3: 'hours' must be HH:MM-HH:MM or a list of them");
    fails("calendars:\n  - name: a\n    weekly: [{days: [mon], hours: []}]\n",
          ":3: 'hours' must be HH:MM-HH:MM or a list of them");
    fails("calendars:\n  - name: a\n    weekly:\n      - days: [mon, funday]\n"
          "        hours: 08:00-09:00\n",
          ":4: unknown day 'funday' (expected mon, tue, wed, thu, fri, sat, sun)");
    fails("calendars:\n  - name: a\n    weekly: [{days: Mon, hours: 08:00-09:00}]\n",
          ":3: unknown day 'Mon' (expected mon, tue, wed, thu, fri, sat, sun)");
    fails("calendars:\n  - name: a\n    weekly: [{days: [], hours: 08:00-09:00}]\n",
          ":3: 'days' must be a day name or a non-empty list of day names");
    fails("calendars:\n  - name: a\n    weekly: [{days: [[mon]], hours: 08:00-09:00}]\n",
          ":3: 'days' entries must be day names");
    fails("calendars:\n  - name: a\n    weekly:\n      - days: [mon]\n        hour: 08:00-09:00\n",
          ":5: unknown key 'hour' in weekly entry (expected days, hours)");
    fails("calendars:\n  - name: a\n    weekly:\n      - days: [mon]\n",
          ":4: a weekly entry needs 'days' and 'hours'");
    fails("calendars:\n  - name: a\n    weekly:\n      - mon\n",
          ":4: a weekly entry is a map with 'days' and 'hours'");
    fails("calendars:\n  - name: a\n    weekly: {days: [mon], hours: 08:00-09:00}\n",
          ":3: 'weekly' must be a list of {days: [...], hours: HH:MM-HH:MM}");
}
END_TEST

START_TEST(test_errors_calendar)
{
    fails("calendars:\n  - name: a\n    dates: [2026-01-01]\n    colour: red\n",
          ":4: unknown key 'colour' in calendar (expected name, description, timezone, dates, "
          "weekly, except)");
    fails("calendars:\n  - name: a\n    except: [b]\n  - name: b\n    dates: [2026-01-01]\n",
          ":2: calendar 'a' needs 'dates' or 'weekly' ('except' only removes time)");
    /* an empty list is refused at its own line (it named the calendar's) */
    fails("calendars:\n  - name: a\n    dates: []\n",
          ":3: 'dates' is an empty list: give it a date or more, or leave the key out");
    fails("calendars:\n  - name: a\n    dates: [2026-01-01]\n    weekly: []\n",
          ":4: 'weekly' is an empty list: give it an entry or more, or leave the key out");
    fails("calendars:\n  - name: a\n", ":2: calendar 'a' needs 'dates' or 'weekly' ('except' "
                                       "only removes time)");
    fails("calendars:\n  - dates: [2026-01-01]\n", ":2: calendar has no 'name'");
    fails("calendars:\n  - name: a b\n    dates: [2026-01-01]\n",
          ":2: 'name' must be 1 to 64 letters, digits, '.', '_' or '-'");
    fails("calendars:\n  - name: \"\"\n    dates: [2026-01-01]\n",
          ":2: 'name' must be 1 to 64 letters, digits, '.', '_' or '-'");
    fails("calendars:\n  - name: "
          "a12345678901234567890123456789012345678901234567890123456789012345\n"
          "    dates: [2026-01-01]\n",
          ":2: 'name' must be 1 to 64 letters, digits, '.', '_' or '-'");
    fails("calendars:\n  - name: a\n    description: [x]\n    dates: [2026-01-01]\n",
          ":3: 'description' must be a string");
    fails("calendars:\n  - just-a-name\n",
          ":2: a calendar is a map with 'name' and 'dates' or 'weekly'");
    fails("rules: []\n", ":1: a calendar file is a map with one key, 'calendars', holding a list");
    fails("calendars: {a: b}\n",
          ":1: a calendar file is a map with one key, 'calendars', holding a list");
    /* the stray key's line, not the first line's */
    fails("calendars: []\nother: 1\n",
          ":2: a calendar file is a map with one key, 'calendars', holding a list");
    fails("- a\n", ":1: a calendar file is a map with one key, 'calendars', holding a list");
    fails("", ":1: a calendar file is a map with one key, 'calendars', holding a list");
}
END_TEST

START_TEST(test_errors_except)
{
    char path[PATH_MAX], want[2 * PATH_MAX + 128];
    fails("calendars:\n  - name: a\n    dates: [2026-01-01]\n    except: [b, nope]\n"
          "  - name: b\n    dates: [2026-01-02]\n",
          ":4: calendar 'a': unknown calendar 'nope' in 'except'");
    fails("calendars:\n  - name: a\n    dates: [2026-01-01]\n    except: a\n",
          ":4: calendar 'a': 'except' makes a cycle (a -> a)");
    fails("calendars:\n"
          "  - name: a\n    dates: [2026-01-01]\n    except: [b]\n"
          "  - name: b\n    dates: [2026-01-01]\n    except: [c]\n"
          "  - name: c\n    dates: [2026-01-01]\n    except:\n      - x\n      - a\n"
          "  - name: x\n    dates: [2026-01-01]\n",
          ":12: calendar 'c': 'except' makes a cycle (a -> b -> c -> a)");
    fails("calendars:\n  - name: a\n    dates: [2026-01-01]\n    except: []\n",
          ":4: 'except' must be a calendar name or a non-empty list of them");
    fails("calendars:\n  - name: a\n    dates: [2026-01-01]\n    except: [\"\"]\n",
          ":4: 'except' entries must be calendar names");
    /* a duplicate name: the message names the file twice */
    mkfile(
        path, "bad.yml",
        "calendars:\n  - name: a\n    dates: [2026-01-01]\n  - name: a\n    dates: [2026-01-02]\n");
    cor_calendars *cs = (cor_calendars *)1;
    ck_assert_int_eq(cor_calendars_load(path, &cs, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(cs);
    snprintf(want, sizeof(want), "%s:4: duplicate calendar 'a' (also %s:2)", path, path);
    ck_assert_str_eq(err, want);
}
END_TEST

/* ---- files and directories --------------------------------------------- */

START_TEST(test_dirs)
{
    char path[PATH_MAX], dir[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], want[2 * PATH_MAX + 128];
    cor_calendars *cs = (cor_calendars *)1;

    /* a missing directory is an empty set */
    snprintf(dir, sizeof(dir), "%s/no-such-dir", tmpdir);
    ck_assert_int_eq(cor_calendars_load(dir, &cs, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(cs);
    ck_assert_uint_eq(cor_calendars_count(cs), 0);
    ck_assert_int_eq(cor_calendar_find(cs, "x"), -1);
    cor_calendars_free(cs);

    /* so is an empty one; other files and dot-files are ignored */
    mkfile(path, "README.md", "not yaml: [");
    mkfile(path, ".hidden.yml", "not yaml: [");
    mkfile(path, "x.yml~", "not yaml: [");
    ck_assert_int_eq(cor_calendars_load(tmpdir, &cs, err, sizeof(err)), 0);
    ck_assert_uint_eq(cor_calendars_count(cs), 0);
    cor_calendars_free(cs);

    /* files load in name order; 'except' crosses files */
    mkfile(p2, "b.yaml", "calendars:\n  - name: second\n    dates: [2026-01-02]\n");
    mkfile(p1, "a.yml",
           "calendars:\n  - name: first\n    dates: [\"2026-01-01..2026-01-03\"]\n"
           "    except: second\n");
    ck_assert_msg(cor_calendars_load(tmpdir, &cs, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(cor_calendars_count(cs), 2);
    ck_assert_int_eq(cor_calendar_find(cs, "first"), 0);
    ck_assert_int_eq(cor_calendar_find(cs, "second"), 1);
    YES(cs, "first", at(2026, 1, 1, 12, 0, 0, 0, 0));
    NO(cs, "first", at(2026, 1, 2, 12, 0, 0, 0, 0));
    YES(cs, "first", at(2026, 1, 3, 12, 0, 0, 0, 0));
    cor_calendars_free(cs);

    /* a single file can be loaded on its own */
    ck_assert_int_eq(cor_calendars_load(p2, &cs, err, sizeof(err)), 0);
    ck_assert_uint_eq(cor_calendars_count(cs), 1);
    cor_calendars_free(cs);

    /* names are unique across files */
    mkfile(path, "c.yml",
           "calendars:\n  - name: x\n    dates: [2026-01-01]\n  - name: first\n"
           "    dates: [2026-01-01]\n");
    ck_assert_int_eq(cor_calendars_load(tmpdir, &cs, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(cs);
    snprintf(want, sizeof(want), "%s:4: duplicate calendar 'first' (also %s:2)", path, p1);
    ck_assert_str_eq(err, want);

    /* a cycle across files is found where it closes */
    mkfile(path, "c.yml", "calendars:\n  - name: x\n    dates: [2026-01-01]\n    except: first\n");
    mkfile(p2, "b.yaml",
           "calendars:\n  - name: second\n    dates: [2026-01-02]\n"
           "    except: [x]\n");
    ck_assert_int_eq(cor_calendars_load(tmpdir, &cs, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want),
             "%s:4: calendar 'x': 'except' makes a cycle (first -> second -> "
             "x -> first)",
             path);
    ck_assert_str_eq(err, want);

    /* any bad file refuses the set; YAML errors come through as they are */
    mkfile(path, "c.yml", "calendars: [\n");
    ck_assert_int_eq(cor_calendars_load(tmpdir, &cs, err, sizeof(err)), VG_ECONFIG);
    ck_assert_ptr_null(cs);
    snprintf(want, sizeof(want), "%s:", path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

    /* a path that is neither a directory nor a file we can read */
    snprintf(dir, sizeof(dir), "%s/a.yml/sub", tmpdir);
    ck_assert_int_eq(cor_calendars_load(dir, &cs, err, sizeof(err)), VG_ECONFIG);
    snprintf(want, sizeof(want), "%s: cannot open calendars directory: Not a directory", dir);
    ck_assert_str_eq(err, want);
}
END_TEST

/* ---- the shipped calendars --------------------------------------------- */

static cor_calendars *load_shipped(void)
{
    const char *root = getenv("VG_SOURCE_ROOT");
    char dir[PATH_MAX];
    cor_calendars *cs = NULL;
    ck_assert_msg(root != NULL, "VG_SOURCE_ROOT is not set");
    snprintf(dir, sizeof(dir), "%s/rules/calendars", root);
    int rc = cor_calendars_load(dir, &cs, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: %s", dir, err);
    ck_assert_uint_ge(cor_calendars_count(cs), 4);
    return cs;
}

START_TEST(test_vietnam)
{
    cor_calendars *cs = load_shipped();
    /* Tết Bính Ngọ: mùng 1 is Tue 2026-02-17; the break is Feb 14..22 */
    YES(cs, "holidays-vn", VN(2026, 2, 17, 10, 0, 0, 0));
    NO(cs, "working-hours", VN(2026, 2, 17, 10, 0, 0, 0));
    NO(cs, "holidays-vn", VN(2026, 2, 13, 23, 59, 59, 999999));
    YES(cs, "holidays-vn", VN(2026, 2, 14, 0, 0, 0, 0));
    YES(cs, "holidays-vn", VN(2026, 2, 22, 23, 59, 59, 999999));
    NO(cs, "holidays-vn", VN(2026, 2, 23, 0, 0, 0, 0));
    YES(cs, "working-hours", VN(2026, 2, 23, 10, 0, 0, 0)); /* Monday after Tết */
    YES(cs, "working-hours", VN(2026, 2, 13, 10, 0, 0, 0)); /* Friday before */
    /* Saturday 10:00 is not working hours, but it is the weekend */
    NO(cs, "working-hours", VN(2026, 3, 14, 10, 0, 0, 0));
    YES(cs, "weekends", VN(2026, 3, 14, 10, 0, 0, 0));
    NO(cs, "weekends", VN(2026, 3, 13, 23, 59, 59, 999999));
    YES(cs, "weekends", VN(2026, 3, 14, 0, 0, 0, 0));
    YES(cs, "weekends", VN(2026, 3, 15, 23, 59, 59, 999999));
    NO(cs, "weekends", VN(2026, 3, 16, 0, 0, 0, 0));
    /* working-hours edges, at +07:00 */
    NO(cs, "working-hours", VN(2026, 3, 10, 7, 29, 59, 999999));
    YES(cs, "working-hours", VN(2026, 3, 10, 7, 30, 0, 0));
    YES(cs, "working-hours", VN(2026, 3, 10, 17, 29, 59, 999999));
    NO(cs, "working-hours", VN(2026, 3, 10, 17, 30, 0, 0));
    /* nights */
    YES(cs, "nights", VN(2026, 3, 10, 23, 0, 0, 0));
    YES(cs, "nights", VN(2026, 3, 11, 5, 59, 59, 999999));
    NO(cs, "nights", VN(2026, 3, 11, 6, 0, 0, 0));
    NO(cs, "nights", VN(2026, 3, 10, 21, 59, 59, 999999));
    /* the other holidays */
    static const int days[][3] = {
        {2026, 1, 1},  {2026, 1, 2},  {2026, 4, 26}, {2026, 4, 27}, {2026, 4, 30}, {2026, 5, 1},
        {2026, 8, 31}, {2026, 9, 1},  {2026, 9, 2},  {2027, 1, 1},  {2027, 2, 6},  {2027, 2, 5},
        {2027, 2, 11}, {2027, 4, 16}, {2027, 4, 30}, {2027, 5, 1},  {2027, 9, 2},
    };
    for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++)
        ck_assert_msg(holds(cs, "holidays-vn", VN(days[i][0], days[i][1], days[i][2], 10, 0, 0, 0)),
                      "%d-%02d-%02d should be a holiday", days[i][0], days[i][1], days[i][2]);
    static const int work[][3] = {
        {2026, 1, 5}, {2026, 4, 28}, {2026, 4, 29}, {2026, 9, 3}, {2026, 12, 31}, {2027, 2, 12},
    };
    for (size_t i = 0; i < sizeof(work) / sizeof(work[0]); i++)
        ck_assert_msg(
            holds(cs, "working-hours", VN(work[i][0], work[i][1], work[i][2], 10, 0, 0, 0)),
            "%d-%02d-%02d should be a working day", work[i][0], work[i][1], work[i][2]);
    cor_calendars_free(cs);
}
END_TEST

static Suite *calendar_suite(void)
{
    Suite *s = suite_create("calendar");
    TCase *h = tcase_create("holds");
    tcase_add_checked_fixture(h, setup, teardown);
    tcase_add_test(h, test_hours_edges);
    tcase_add_test(h, test_midnight_wrap);
    tcase_add_test(h, test_timezones);
    tcase_add_test(h, test_zone_berlin);
    tcase_add_test(h, test_zone_new_york);
    tcase_add_test(h, test_zone_half_hours);
    tcase_add_test(h, test_zone_fixed_like);
    tcase_add_test(h, test_zone_rules);
    tcase_add_test(h, test_date_ranges);
    tcase_add_test(h, test_except);
    tcase_add_test(h, test_except_shared);
    tcase_add_test(h, test_leap_days);
    tcase_add_test(h, test_before_epoch);
    tcase_add_test(h, test_api);
    tcase_add_test(h, test_over);
    suite_add_tcase(s, h);

    TCase *e = tcase_create("errors");
    tcase_add_checked_fixture(e, setup, teardown);
    tcase_add_test(e, test_errors_dates);
    tcase_add_test(e, test_errors_weekly);
    tcase_add_test(e, test_errors_calendar);
    tcase_add_test(e, test_errors_except);
    tcase_add_test(e, test_errors_timezone);
    tcase_add_test(e, test_tzdir_honoured);
    tcase_add_test(e, test_dirs);
    suite_add_tcase(s, e);

    TCase *v = tcase_create("shipped");
    tcase_add_test(v, test_vietnam);
    suite_add_tcase(s, v);
    return s;
}

int main(void)
{
    unsetenv("TZDIR"); /* the messages tested name /usr/share/zoneinfo */
    SRunner *sr = srunner_create(calendar_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
