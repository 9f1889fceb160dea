/* Unit tests for correlator/cor_conf.c's correlator.shipper_socket: one
 * socket (a string, the default shipper.sock when absent) or a list of 1
 * to 8 distinct ones, one per shipper, compared as resolved paths under
 * run_dir (cor_conf_sock_path) and named by cor_conf_sock_key; every
 * refusal with its exact "FILE:LINE: reason". The configuration is parsed
 * from memory, with run_dir /run/vigil (absent here: compared lexically)
 * or a symlinked directory made under TMPDIR. */
#include "cor.h"
#include "vigil/err.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[2048];
static const char *run_dir = "/run/vigil";

/* Loads the correlator section 'sec' (indented YAML lines) into cf. */
static int load(const char *sec, cor_conf *cf)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), "correlator:\n%s", sec);
    vg_node *root = NULL;
    err[0] = '\0';
    ck_assert_int_eq(vg_yaml_load_mem("t.yaml", yaml, strlen(yaml), &root, err, sizeof(err)), 0);
    int rc = cor_conf_load(root, "t.yaml", run_dir, cf, err, sizeof(err));
    vg_node_free(root);
    return rc;
}

START_TEST(test_one_socket)
{
    cor_conf cf;
    ck_assert_int_eq(load("  name: c\n", &cf), 0);
    ck_assert_int_eq(cf.nshippers, 1);
    ck_assert_str_eq(cf.shipper[0], "shipper.sock");
    cor_conf_free(&cf);
    ck_assert_int_eq(load("  shipper_socket: /run/x/s.sock\n", &cf), 0);
    ck_assert_int_eq(cf.nshippers, 1);
    ck_assert_str_eq(cf.shipper[0], "/run/x/s.sock");
    cor_conf_free(&cf);
}
END_TEST

START_TEST(test_list)
{
    cor_conf cf;
    ck_assert_int_eq(load("  shipper_socket: [siem.sock, oncall.sock]\n", &cf), 0);
    ck_assert_int_eq(cf.nshippers, 2);
    ck_assert_str_eq(cf.shipper[0], "siem.sock");
    ck_assert_str_eq(cf.shipper[1], "oncall.sock");
    cor_conf_free(&cf);
    ck_assert_int_eq(load("  shipper_socket:\n    - a\n    - b\n    - c\n    - d\n    - e\n"
                          "    - f\n    - g\n    - h\n", &cf), 0);
    ck_assert_int_eq(cf.nshippers, 8);
    ck_assert_str_eq(cf.shipper[7], "h");
    cor_conf_free(&cf);
}
END_TEST

static const struct {
    const char *sec, *err;
} bad[] = {
    {"  shipper_socket: []\n",
     "t.yaml:2: 'shipper_socket' must be a socket or a list of 1 to 8 sockets (one per shipper)"},
    {"  shipper_socket: [a, b, c, d, e, f, g, h, i]\n",
     "t.yaml:2: 'shipper_socket' must be a socket or a list of 1 to 8 sockets (one per shipper)"},
    {"  shipper_socket: {a: b}\n",
     "t.yaml:2: 'shipper_socket' must be a socket or a list of 1 to 8 sockets (one per shipper)"},
    {"  shipper_socket: ''\n", "t.yaml:2: 'shipper_socket' must name a socket"},
    {"  shipper_socket:\n    - a.sock\n    - ''\n",
     "t.yaml:4: 'shipper_socket' item 2 must name a socket"},
    {"  shipper_socket:\n    - a.sock\n    - [b.sock]\n",
     "t.yaml:4: 'shipper_socket' item 2 must name a socket"},
    {"  shipper_socket:\n    - a.sock\n    - b.sock\n    - ./a.sock\n",
     "t.yaml:5: shipper_socket './a.sock' is listed twice (line 3 as 'a.sock'; both are "
     "/run/vigil/a.sock): each shipper has its own socket, and one listed twice would get every "
     "alert twice"},
    {"  shipper_socket:\n    - run//a.sock\n    - run/./a.sock\n",
     "t.yaml:4: shipper_socket 'run/./a.sock' is listed twice (line 3 as 'run//a.sock'; both are "
     "/run/vigil/run/a.sock): each shipper has its own socket, and one listed twice would get "
     "every alert twice"},
    /* one socket, spelt relative and absolute, through "..", with a
     * trailing or a doubled '/' */
    {"  shipper_socket:\n    - x.sock\n    - /run/vigil/x.sock\n",
     "t.yaml:4: shipper_socket '/run/vigil/x.sock' is listed twice (line 3 as 'x.sock'; both are "
     "/run/vigil/x.sock): each shipper has its own socket, and one listed twice would get every "
     "alert twice"},
    {"  shipper_socket: [x.sock, a/../x.sock]\n",
     "t.yaml:2: shipper_socket 'a/../x.sock' is listed twice (line 2 as 'x.sock'; both are "
     "/run/vigil/x.sock): each shipper has its own socket, and one listed twice would get every "
     "alert twice"},
    {"  shipper_socket:\n    - /run//vigil/x.sock/\n    - ../vigil/x.sock\n",
     "t.yaml:4: shipper_socket '../vigil/x.sock' is listed twice (line 3 as '/run//vigil/x.sock/'; "
     "both are /run/vigil/x.sock): each shipper has its own socket, and one listed twice would "
     "get every alert twice"},
    {"  listen_socket: c.sock\n  shipper_socket: [s.sock, c.sock]\n",
     "t.yaml:3: listen_socket 'c.sock' (line 2) and shipper_socket 'c.sock' are both "
     "/run/vigil/c.sock: the correlator would connect to itself"},
    {"  listen_socket: shipper.sock\n",
     "t.yaml:2: listen_socket 'shipper.sock' (line 2) and shipper_socket 'shipper.sock' (the "
     "default) are both /run/vigil/shipper.sock: the correlator would connect to itself"},
    {"  shipper_socket: /run/vigil/./correlator.sock\n",
     "t.yaml:2: listen_socket 'correlator.sock' (the default) and shipper_socket "
     "'/run/vigil/./correlator.sock' are both /run/vigil/correlator.sock: the correlator would "
     "connect to itself"},
    /* a list file under '~' or named null: '~' is no home directory here,
     * and YAML's null is no value; both named a file in the config's
     * directory that nobody meant */
    {"  lists:\n    ok: ok.txt\n    intel: ~/intel.txt\n",
     "t.yaml:4: list 'intel' is '~/intel.txt': '~' is not expanded to a home directory here (it "
     "would name '~/intel.txt' in the configuration file's directory): write the full path"},
    {"  lists:\n    intel: null\n",
     "t.yaml:3: list 'intel' is 'null', which YAML reads as no value (it would name 'null' in the "
     "configuration file's directory): leave the key out"},
};

START_TEST(test_refused)
{
    cor_conf cf;
    ck_assert_int_eq(load(bad[_i].sec, &cf), VG_ECONFIG);
    ck_assert_str_eq(err, bad[_i].err);
    ck_assert_int_eq(cf.nshippers, 0);
}
END_TEST

/* Spellings of one socket give one path; the epoch key's name is that
 * path relative to run_dir ("x.sock" as before for a bare name), else the
 * absolute one. run_dir /run/vigil does not exist here: lexical only. */
START_TEST(test_sock_path)
{
    static const char *const same[] = {"x.sock", "./x.sock", "a/../x.sock", "/run/vigil/x.sock",
                                       "/run//vigil/./x.sock", "x.sock/", "../vigil/x.sock",
                                       "a/b/../../x.sock"};
    char path[4096], key[4096];
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ck_assert_int_eq(cor_conf_sock_path("/run/vigil", same[i], path, sizeof(path)), 0);
        ck_assert_str_eq(path, "/run/vigil/x.sock");
        ck_assert_int_eq(cor_conf_sock_key("/run/vigil", same[i], key, sizeof(key)), 0);
        ck_assert_str_eq(key, "x.sock");
    }
    static const char *const other[][3] = {
        {"sub//y.sock", "/run/vigil/sub/y.sock", "sub/y.sock"},
        {"../x.sock", "/run/x.sock", "/run/x.sock"},
        {"/../../x.sock", "/x.sock", "/x.sock"},
        {"/run/vigilant/x.sock", "/run/vigilant/x.sock", "/run/vigilant/x.sock"},
        {"x.sock.", "/run/vigil/x.sock.", "x.sock."},
        {"..x.sock", "/run/vigil/..x.sock", "..x.sock"},
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        ck_assert_int_eq(cor_conf_sock_path("/run/vigil", other[i][0], path, sizeof(path)), 0);
        ck_assert_str_eq(path, other[i][1]);
        ck_assert_int_eq(cor_conf_sock_key("/run/vigil", other[i][0], key, sizeof(key)), 0);
        ck_assert_str_eq(key, other[i][2]);
    }
    char small[8];
    ck_assert_int_eq(cor_conf_sock_path("/run/vigil", "x.sock", small, sizeof(small)),
                     -ENAMETOOLONG);
    ck_assert_str_eq(small, "");
}
END_TEST

/* A run_dir reached through a symlink, and a socket named through the
 * directory it points to, are one socket (realpath() of the directory),
 * with the bare name's key; so is a socket under a symlinked subdirectory. */
START_TEST(test_sock_path_symlink)
{
    const char *t = getenv("TMPDIR");
    char base[PATH_MAX], real[PATH_MAX], link[PATH_MAX + 8], sub[PATH_MAX + 16];
    char sock[PATH_MAX + 16], path[4096], key[4096], want[PATH_MAX + 16];
    snprintf(base, sizeof(base), "%s/cor_conf-XXXXXX", t && *t ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(base));
    ck_assert_ptr_nonnull(realpath(base, real));
    snprintf(sub, sizeof(sub), "%s/rd", real);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(link, sizeof(link), "%s/ln", real);
    ck_assert_int_eq(symlink("rd", link), 0);
    ck_assert_int_eq(cor_conf_sock_path(link, "x.sock", path, sizeof(path)), 0);
    snprintf(want, sizeof(want), "%s/rd/x.sock", real);
    ck_assert_str_eq(path, want);
    snprintf(sock, sizeof(sock), "%s/rd/x.sock", real);
    ck_assert_int_eq(cor_conf_sock_key(link, sock, key, sizeof(key)), 0);
    ck_assert_str_eq(key, "x.sock");
    ck_assert_int_eq(cor_conf_sock_key(link, "x.sock", key, sizeof(key)), 0);
    ck_assert_str_eq(key, "x.sock");
    /* run_dir/sub -> run_dir: sub/x.sock is x.sock */
    snprintf(sock, sizeof(sock), "%s/rd/sub", real);
    ck_assert_int_eq(symlink(".", sock), 0);
    ck_assert_int_eq(cor_conf_sock_key(link, "sub/x.sock", key, sizeof(key)), 0);
    ck_assert_str_eq(key, "x.sock");
    /* and the configuration refuses the pair, with both spellings */
    run_dir = link;
    cor_conf cf;
    char sec[PATH_MAX * 2], msg[PATH_MAX * 3];
    snprintf(sec, sizeof(sec), "  shipper_socket:\n    - sub/x.sock\n    - %s/rd/x.sock\n", real);
    ck_assert_int_eq(load(sec, &cf), VG_ECONFIG);
    snprintf(msg, sizeof(msg),
             "t.yaml:4: shipper_socket '%s/rd/x.sock' is listed twice (line 3 as 'sub/x.sock'; "
             "both are %s/rd/x.sock): each shipper has its own socket, and one listed twice would "
             "get every alert twice",
             real, real);
    ck_assert_str_eq(err, msg);
    run_dir = "/run/vigil";
    ck_assert_int_eq(unlink(sock), 0);
    ck_assert_int_eq(unlink(link), 0);
    ck_assert_int_eq(rmdir(sub), 0);
    ck_assert_int_eq(rmdir(real), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cor_conf");
    TCase *tc = tcase_create("shipper_socket");
    tcase_add_test(tc, test_one_socket);
    tcase_add_test(tc, test_list);
    tcase_add_loop_test(tc, test_refused, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_sock_path);
    tcase_add_test(tc, test_sock_path_symlink);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
