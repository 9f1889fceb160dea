/* lib/log.c: the line format on stderr, and the journal's format when
 * stderr is systemd's journal stream (JOURNAL_STREAM names its device and
 * inode). No journald runs here: the journal's side of the contract is a
 * device and inode match, which a real file gives as well. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/util.h"
#include "vt_tmp.h"

static char base[512];

static void setup(void)
{
    vt_tmp_base(base, sizeof(base), "log");
}

static void teardown(void)
{
    vt_rm_tree(base);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fclose(f), 0);
}

/* "dev:ino" of path, as systemd writes JOURNAL_STREAM. */
static void dev_ino(const char *path, char *out, size_t cap)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(out, cap, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
}

/* Logs four lines at level info from a child whose stderr is path, with
 * JOURNAL_STREAM set to js (NULL: unset); returns the child's pid. */
static pid_t log_to(const char *path, const char *js)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *f = freopen(path, "a", stderr);
        if (!f)
            _exit(2);
        if (js)
            setenv("JOURNAL_STREAM", js, 1);
        else
            unsetenv("JOURNAL_STREAM");
        vg_log_init("vigil-test", VG_LOG_INFO);
        vg_error("disk %s", "full");
        vg_warn("spool at %d%%", 90);
        vg_info("up");
        vg_debug("not shown");
        _exit(0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    return pid;
}

START_TEST(test_log_plain)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/err.log", base);
    pid_t pid = log_to(path, NULL);
    const char *text = read_text(path);
    const char *want[] = {"error: disk full", "warning: spool at 90%", "info: up"};
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        int y, mo, d, h, mi, s, ms, len = 0;
        ck_assert_msg(sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %n", &y, &mo, &d, &h, &mi, &s, &ms,
                             &len) == 7 && len == 25,
                      "no UTC time at the start of: %s", p);
        char rest[256];
        snprintf(rest, sizeof(rest), "vigil-test[%ld]: %s\n", (long)pid, want[i]);
        ck_assert_msg(strncmp(p + len, rest, strlen(rest)) == 0, "want '%s' in: %s", rest, p);
        p += len + strlen(rest);
    }
    ck_assert_str_eq(p, "");
}
END_TEST

START_TEST(test_log_journal)
{
    char path[600], js[64];
    snprintf(path, sizeof(path), "%s/journal", base);
    touch(path);
    dev_ino(path, js, sizeof(js));
    log_to(path, js);
    ck_assert_str_eq(read_text(path), "<3>error: disk full\n<4>warning: spool at 90%\n<6>info: up\n");
}
END_TEST

/* A process started from a service with its stderr sent elsewhere inherits
 * JOURNAL_STREAM: its lines keep the plain format. So does a malformed one. */
START_TEST(test_log_journal_elsewhere)
{
    char path[600], other[600], js[64];
    snprintf(path, sizeof(path), "%s/err.log", base);
    snprintf(other, sizeof(other), "%s/journal", base);
    touch(other);
    dev_ino(other, js, sizeof(js));
    log_to(path, js);
    char bad[80];
    dev_ino(path, bad, sizeof(bad));
    strcat(bad, "x");
    log_to(path, bad);
    const char *text = read_text(path);
    ck_assert_ptr_null(strstr(text, "<"));
    int lines = 0;
    for (const char *q = text; (q = strstr(q, "]: ")); q++)
        lines++;
    ck_assert_int_eq(lines, 6);
}
END_TEST

/* A peer's string in a line (a certificate name, a SIEM's error text) keeps
 * the line one line: a line feed in it began a forged journal entry with a
 * priority of its choosing, an escape sequence reached the reader's terminal.
 * C1 controls and U+2028/U+2029 in UTF-8 passed through as they were (a
 * viewer breaks the line at NEL or U+2028; C2 9B is CSI). */
START_TEST(test_log_controls)
{
    char path[600], js[64];
    snprintf(path, sizeof(path), "%s/journal", base);
    touch(path);
    dev_ino(path, js, sizeof(js));
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(path, "a", stderr))
            _exit(2);
        setenv("JOURNAL_STREAM", js, 1);
        vg_log_init("vigil-test", VG_LOG_INFO);
        vg_warn("certificate name '%s' refused", "a.example\n<0>emerg: forged\r\x1b[2J\x7f\tx");
        vg_info("caf\xc3\xa9 %d%%", 100);
        /* C1 controls in UTF-8 (NEL, CSI), the line and paragraph
         * separators, and bytes that are no UTF-8 (a lone CSI, 0xff, a
         * sequence cut short); their neighbours U+00A0, U+2027, U+202A stay */
        vg_warn("user '%s'", "a\xc2\x85<0>b\xc2\x9b" "2Jc\xe2\x80\xa8" "d\xe2\x80\xa9" "e\xc2\x80"
                             "\xc2\x9f|\xc2\xa0\xe2\x80\xa7\xe2\x80\xaa|\x9b" "2J\xff\xe2\x80");
        _exit(0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_str_eq(read_text(path),
                     "<4>warning: certificate name 'a.example\\x0a<0>emerg: forged\\x0d\\x1b[2J"
                     "\\x7f\\x09x' refused\n<6>info: caf\xc3\xa9 100%\n"
                     "<4>warning: user 'a\\u0085<0>b\\u009b2Jc\\u2028d\\u2029e\\u0080\\u009f|"
                     "\xc2\xa0\xe2\x80\xa7\xe2\x80\xaa|\\x9b2J\\xff\\xe2\\x80'\n");
}
END_TEST

/* vg_utf8_control, which the log and the webhook's text line use: the
 * controls and their neighbours, and sequences cut short by n. */
START_TEST(test_utf8_control)
{
    const struct {
        const char *s;
        size_t n, len;
        unsigned cp;
    } t[] = {
        {"\x00", 1, 1, 0x00},          {"\x1f", 1, 1, 0x1f},         {" ", 1, 0, 0},
        {"\x7f", 1, 1, 0x7f},          {"~", 1, 0, 0},                {"\xc2\x80", 2, 2, 0x80},
        {"\xc2\x85", 2, 2, 0x85},      {"\xc2\x9b", 2, 2, 0x9b},     {"\xc2\x9f", 2, 2, 0x9f},
        {"\xc2\xa0", 2, 0, 0},         {"\xc2\x85", 1, 0, 0},        {"\x85", 1, 0, 0},
        {"\xe2\x80\xa7", 3, 0, 0},     {"\xe2\x80\xa8", 3, 3, 0x2028}, {"\xe2\x80\xa9", 3, 3, 0x2029},
        {"\xe2\x80\xaa", 3, 0, 0},     {"\xe2\x80\xa8", 2, 0, 0},    {"", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        unsigned cp = 99;
        size_t len = vg_utf8_control(t[i].s, t[i].n, &cp);
        ck_assert_msg(len == t[i].len && cp == t[i].cp, "case %zu: length %zu, U+%04X", i, len,
                      cp);
    }
}
END_TEST

/* A real daemon that cannot start, run by systemd: its error reaches the
 * journal as priority 3, without a time of its own. */
START_TEST(test_log_daemon_journal)
{
    char path[600], js[64], cmd[2048];
    snprintf(path, sizeof(path), "%s/journal", base);
    touch(path);
    dev_ino(path, js, sizeof(js));
    snprintf(cmd, sizeof(cmd),
             "JOURNAL_STREAM=%s '%s/correlator/vigil-correlator' -c '%s/absent.yaml' 2>>'%s'", js,
             getenv("VG_BUILD_ROOT"), base, path);
    int st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), 1);
    char want[1024];
    snprintf(want, sizeof(want),
             "<3>error: cannot open configuration %s/absent.yaml: No such file or directory\n", base);
    ck_assert_str_eq(read_text(path), want);
}
END_TEST

/* vg_streak (lib/util.c) on an injected clock: a store whose map is too
 * small for a burst fails one commit, passes the re-send 100 ms later, and
 * fails the next burst 5 s on. That is one run: the first failure and the
 * first recovery are said, then nothing until a minute after the last
 * line, when a reminder and the recovery after it are, each with the count
 * so far. Before, every round was a new run: a first-failure line and a
 * recovery line every 5 s. */
START_TEST(test_streak_flapping_is_one_run)
{
    vg_streak s = {0};
    double secs = -1;
    ck_assert_int_eq(vg_streak_fail(&s, 1000), VG_STREAK_FIRST);
    ck_assert_uint_eq(vg_streak_end(&s, 1100, &secs), 1);
    ck_assert(secs > 0.099 && secs < 0.101);
    ck_assert_uint_eq(vg_streak_end(&s, 1200, &secs), 0); /* said once */
    for (uint64_t k = 1; k <= 12; k++) { /* up to t = 61 s: within a minute of the last line */
        ck_assert_int_eq(vg_streak_fail(&s, 1000 + 5000 * k), VG_STREAK_QUIET);
        ck_assert_uint_eq(vg_streak_end(&s, 1100 + 5000 * k, &secs), 0);
    }
    /* 64.9 s after the last line: a reminder with the count, then its recovery */
    ck_assert_int_eq(vg_streak_fail(&s, 66000), VG_STREAK_REMIND);
    ck_assert_uint_eq(s.count, 14);
    ck_assert_uint_eq(s.first_ms, 1000);
    ck_assert_uint_eq(vg_streak_end(&s, 66100, &secs), 14);
    ck_assert(secs > 65.099 && secs < 65.101);
    ck_assert_int_eq(vg_streak_fail(&s, 71000), VG_STREAK_QUIET);
    ck_assert_uint_eq(vg_streak_end(&s, 71100, &secs), 0);
    /* 59.999 s after that recovery: still the same run (a reminder: the
     * last line was 65 s ago) */
    ck_assert_int_eq(vg_streak_fail(&s, 131099), VG_STREAK_REMIND);
    ck_assert_uint_eq(s.count, 16);
    ck_assert_uint_eq(vg_streak_end(&s, 131100, &secs), 16);
    /* a whole minute without a failure: the next one starts a new run */
    ck_assert_int_eq(vg_streak_fail(&s, 191100), VG_STREAK_FIRST);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_uint_eq(s.first_ms, 191100);
    ck_assert_uint_eq(vg_streak_end(&s, 191200, &secs), 1);
}
END_TEST

/* Ten minutes of that flapping (a failure every 5 s, its recovery 100 ms
 * later) log at most two lines a minute (a reminder and a recovery), and
 * the last line logged is the recovery. */
START_TEST(test_streak_flapping_lines_bounded)
{
    vg_streak s = {0};
    double secs;
    int lines = 0, last_was_end = 0;
    for (uint64_t t = 0; t < 600000; t += 5000) {
        if (vg_streak_fail(&s, t) != VG_STREAK_QUIET)
            lines++, last_was_end = 0;
        if (vg_streak_end(&s, t + 100, &secs))
            lines++, last_was_end = 1;
    }
    ck_assert_int_le(lines, 2 + 2 * 10);
    ck_assert_int_ge(lines, 2 + 2 * 8);
    ck_assert(last_was_end);
}
END_TEST

/* A run that fails without a pause is unchanged: its first failure, one
 * line a minute, its end with every attempt counted. */
START_TEST(test_streak_steady)
{
    vg_streak s = {0};
    double secs;
    ck_assert_uint_eq(vg_streak_end(&s, 10, &secs), 0);
    ck_assert_int_eq(vg_streak_fail(&s, 0), VG_STREAK_FIRST);
    for (uint64_t t = 250; t < 60000; t += 250)
        ck_assert_int_eq(vg_streak_fail(&s, t), VG_STREAK_QUIET);
    ck_assert_int_eq(vg_streak_fail(&s, 60000), VG_STREAK_REMIND);
    ck_assert_int_eq(vg_streak_fail(&s, 60250), VG_STREAK_QUIET);
    ck_assert_uint_eq(vg_streak_end(&s, 61000, &secs), 242);
    ck_assert(secs > 60.999 && secs < 61.001);
}
END_TEST

/* Failing while no success came since the last failure; active until a
 * whole grace period has passed since the recovery. */
START_TEST(test_streak_failing_active)
{
    vg_streak s = {0};
    double secs;
    ck_assert(!vg_streak_failing(&s) && !vg_streak_active(&s, 0));
    vg_streak_fail(&s, 5000);
    ck_assert(vg_streak_failing(&s) && vg_streak_active(&s, 500000));
    vg_streak_end(&s, 6000, &secs);
    ck_assert(!vg_streak_failing(&s));
    ck_assert(vg_streak_active(&s, 6000 + VG_STREAK_GRACE_MS - 1));
    ck_assert(!vg_streak_active(&s, 6000 + VG_STREAK_GRACE_MS));
}
END_TEST

/* A failure that is a state (intake paused for a full spool): one that
 * came quietly, within a minute of the recovery line, and lasts is said a
 * minute after that line, once; then its recovery is said too. Not while
 * the last line said the failure, nor while it is recovered. */
START_TEST(test_streak_overdue)
{
    vg_streak s = {0};
    double secs;
    ck_assert(!vg_streak_overdue(&s, 100000)); /* no run */
    ck_assert_int_eq(vg_streak_fail(&s, 1000), VG_STREAK_FIRST);
    ck_assert(!vg_streak_overdue(&s, 90000)); /* its line said the failure */
    ck_assert_uint_eq(vg_streak_end(&s, 2000, &secs), 1);
    ck_assert(!vg_streak_overdue(&s, 90000)); /* recovered */
    ck_assert_int_eq(vg_streak_fail(&s, 3000), VG_STREAK_QUIET);
    ck_assert(!vg_streak_overdue(&s, 61999)); /* within a minute of the recovery line */
    ck_assert(vg_streak_overdue(&s, 62000));
    ck_assert(!vg_streak_overdue(&s, 62250)); /* once */
    ck_assert(!vg_streak_overdue(&s, 200000));
    ck_assert_uint_eq(vg_streak_end(&s, 200250, &secs), 2);
    ck_assert(secs > 199.249 && secs < 199.251);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("format");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_plain);
    tcase_add_test(tc, test_log_journal);
    tcase_add_test(tc, test_log_journal_elsewhere);
    tcase_add_test(tc, test_log_controls);
    tcase_add_test(tc, test_utf8_control);
    tcase_add_test(tc, test_log_daemon_journal);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("streak");
    tcase_add_test(st, test_streak_flapping_is_one_run);
    tcase_add_test(st, test_streak_flapping_lines_bounded);
    tcase_add_test(st, test_streak_steady);
    tcase_add_test(st, test_streak_failing_active);
    tcase_add_test(st, test_streak_overdue);
    suite_add_tcase(s, st);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
