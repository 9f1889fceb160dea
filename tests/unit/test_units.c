/* The systemd units meson configures (dist/systemd/, docs/deployment.md)
 * pass `systemd-analyze verify` without a word: no unknown or misspelt
 * setting, no missing program. They name the installed binaries
 * (VG_UNIT_BINDIR), which a test machine lacks, so the test verifies
 * copies pointed at the build's. A copy with a misspelt setting must fail
 * the same check, which shows that the check runs. Skipped where
 * systemd-analyze is absent; no test starts them under a real systemd. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt_cmd.h"
#include "vt_tmp.h"

#ifndef VG_UNIT_BINDIR
#error "meson sets VG_UNIT_BINDIR, the bindir the units were configured with"
#endif

static const char *const daemons[] = {"collector", "correlator", "shipper"};

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap && !(b = realloc(b, cap = len + 4096 + 1)))
            break;
        size_t n = fread(b + len, 1, 4096, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    if (b)
        b[len] = '\0';
    return b;
}

/* Copies the configured unit NAME from the build into dir, with
 * VG_UNIT_BINDIR/vigil-X made BUILD/X/vigil-X, and extra appended. */
static void copy_unit(const char *dir, const char *name, const char *extra)
{
    const char *build = getenv("VG_BUILD_ROOT");
    ck_assert_ptr_nonnull(build);
    char src[1024], dst[1024];
    snprintf(src, sizeof(src), "%s/dist/%s", build, name);
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    char *text = read_all(src);
    ck_assert_msg(text != NULL, "no configured unit %s", src);
    FILE *out = fopen(dst, "w");
    ck_assert_ptr_nonnull(out);
    const char *p = text;
    char from[512];
    snprintf(from, sizeof(from), "%s/vigil-", VG_UNIT_BINDIR);
    for (const char *q; (q = strstr(p, from)); ) {
        fwrite(p, 1, (size_t)(q - p), out);
        q += strlen(from);
        size_t n = strcspn(q, " \n");
        fprintf(out, "%s/%.*s/vigil-%.*s", build, (int)n, q, (int)n, q);
        p = q + n;
    }
    fputs(p, out);
    fputs(extra, out);
    ck_assert_int_eq(fclose(out), 0);
    free(text);
}

/* Runs systemd-analyze verify on the units in dir; returns its exit
 * status and sets out (malloc'ed) to all it printed. */
static int verify(const char *dir, char **out)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof(cmd), "cd '%s' && systemd-analyze verify --man=no", dir);
    for (int i = 0; i < 3; i++)
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " ./vigil-%s.service", daemons[i]);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, " ./vigil.target 2>&1");
    int rc = vt_capture(cmd, out);
    ck_assert_ptr_nonnull(*out);
    return rc;
}

static int have_systemd_analyze(void)
{
    return system("command -v systemd-analyze > /dev/null 2>&1") == 0;
}

START_TEST(test_units_verify)
{
    if (!have_systemd_analyze()) {
        printf("skipped: systemd-analyze is not installed\n");
        return;
    }
    char base[512], dir[600];
    vt_tmp_base(base, sizeof(base), "units");
    ck_assert_ptr_nonnull(vt_tmp_sub(dir, sizeof(dir), base));
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "vigil-%s.service", daemons[i]);
        copy_unit(dir, name, "");
    }
    /* the target is not configured: the source's own */
    char src[1024], cmd[2048];
    snprintf(src, sizeof(src), "%s/dist/systemd/vigil.target", getenv("VG_SOURCE_ROOT"));
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s/'", src, dir);
    ck_assert_int_eq(system(cmd), 0);
    char *out = NULL;
    int rc = verify(dir, &out);
    ck_assert_msg(rc == 0 && out[0] == '\0', "systemd-analyze verify: exit %d:\n%s", rc, out);
    free(out);

    /* the same check finds a misspelt setting */
    copy_unit(dir, "vigil-shipper.service", "RestartSecs=2s\n");
    rc = verify(dir, &out);
    ck_assert_msg(strstr(out, "Unknown key 'RestartSecs'") != NULL, "not found in: %s", out);
    free(out);
    vt_rm_tree(base);
}
END_TEST

/* dist/systemd/vigil.sysusers makes the user docs/deployment.md configures
 * (pipeline.user: vigil), as systemd-sysusers does it at boot: here into a
 * root directory of the test's own. */
START_TEST(test_sysusers)
{
    if (system("command -v systemd-sysusers > /dev/null 2>&1") != 0) {
        printf("skipped: systemd-sysusers is not installed\n");
        return;
    }
    char base[512], cmd[2048];
    vt_tmp_base(base, sizeof(base), "sysusers");
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/etc' && systemd-sysusers --root='%s' "
             "'%s/dist/systemd/vigil.sysusers' > /dev/null 2>&1 && cat '%s/etc/passwd'",
             base, base, getenv("VG_SOURCE_ROOT"), base);
    char *out = NULL;
    ck_assert_int_eq(vt_capture(cmd, &out), 0);
    unsigned uid = 0, gid = 0;
    int end = 0;
    ck_assert_msg(sscanf(out, "vigil:x:%u:%u:Vigil log pipeline:/var/lib/vigil:/usr/sbin/nologin\n%n",
                         &uid, &gid, &end) == 2 && out[end] == '\0' && uid > 0 && uid < 1000,
                  "passwd: %s", out);
    free(out);
    vt_rm_tree(base);
}
END_TEST

/* The words of every After= line of a configured unit, one string,
 * space-separated (the caller frees). */
static char *after_of(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/dist/%s", getenv("VG_BUILD_ROOT"), name);
    char *text = read_all(path);
    ck_assert_msg(text != NULL, "no configured unit %s", path);
    size_t cap = strlen(text) + 2, len = 0;
    char *out = calloc(1, cap);
    ck_assert_ptr_nonnull(out);
    for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
        if (strncmp(l, "After=", 6) == 0)
            len += (size_t)snprintf(out + len, cap - len, "%s ", l + 6);
        /* ordered, not bound: each runs without the others (a relay host) */
        ck_assert_msg(!(strncmp(l, "Requires=", 9) == 0 || strncmp(l, "BindsTo=", 8) == 0 ||
                        strncmp(l, "Requisite=", 10) == 0) || !strstr(l, "vigil-"),
                      "%s binds another daemon: %s", name, l);
    }
    free(text);
    return out;
}

/* The units start in the pipeline's order, each once the one it sends to
 * is ready (Type=notify), and stop in the reverse: no "cannot connect"
 * warning at each boot, and a collector's last batch at a stop reaches a
 * correlator that still runs. An ordering only (no Requires=). */
START_TEST(test_units_order)
{
    char *col = after_of("vigil-collector.service"), *cor = after_of("vigil-correlator.service"),
         *shp = after_of("vigil-shipper.service");
    ck_assert_msg(strstr(col, "vigil-correlator.service "), "collector After=%s", col);
    ck_assert_msg(!strstr(col, "vigil-shipper"), "collector After=%s", col);
    ck_assert_msg(strstr(cor, "vigil-shipper.service "), "correlator After=%s", cor);
    ck_assert_msg(!strstr(cor, "vigil-collector"), "correlator After=%s", cor);
    ck_assert_msg(!strstr(shp, "vigil-"), "shipper After=%s", shp);
    free(col);
    free(cor);
    free(shp);
}
END_TEST

/* `systemctl enable vigil-collector.service` alone (a relay host,
 * docs/deployment.md) makes it start at boot: multi-user.target wants it.
 * Before, it joined only vigil.target.wants, and a target that was not
 * enabled started nothing. Into a root directory of the test's own;
 * skipped where systemctl is absent. */
START_TEST(test_units_enable_alone)
{
    if (system("command -v systemctl > /dev/null 2>&1") != 0) {
        printf("skipped: systemctl is not installed\n");
        return;
    }
    char base[512], dir[600], cmd[4096];
    vt_tmp_base(base, sizeof(base), "enable");
    snprintf(dir, sizeof(dir), "%s/usr/lib/systemd/system", base);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s/etc' && cp '%s/dist/systemd/vigil.target' '%s/'",
             dir, base, getenv("VG_SOURCE_ROOT"), dir);
    ck_assert_int_eq(system(cmd), 0);
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "vigil-%s.service", daemons[i]);
        copy_unit(dir, name, "");
    }
    char *out = NULL;
    snprintf(cmd, sizeof(cmd), "systemctl --root='%s' enable vigil-collector.service 2>&1", base);
    int rc = vt_capture(cmd, &out);
    ck_assert_msg(rc == 0, "%s: exit %d:\n%s", cmd, rc, out ? out : "");
    free(out);
    const char *want[] = {"multi-user.target.wants/vigil-collector.service",
                          "vigil.target.wants/vigil-collector.service"};
    for (int i = 0; i < 2; i++) {
        char link[1024];
        struct stat st;
        snprintf(link, sizeof(link), "%s/etc/systemd/system/%s", base, want[i]);
        ck_assert_msg(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "no link %s", link);
    }
    /* and the other two stay off */
    snprintf(cmd, sizeof(cmd), "ls '%s/etc/systemd/system/multi-user.target.wants'", base);
    ck_assert_int_eq(vt_capture(cmd, &out), 0);
    ck_assert_str_eq(out, "vigil-collector.service\n");
    free(out);
    vt_rm_tree(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("systemd");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_units_verify);
    tcase_add_test(tc, test_sysusers);
    tcase_add_test(tc, test_units_order);
    tcase_add_test(tc, test_units_enable_alone);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
