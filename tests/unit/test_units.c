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

int main(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("systemd");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_units_verify);
    tcase_add_test(tc, test_sysusers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
