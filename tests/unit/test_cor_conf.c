/* Unit tests for correlator/cor_conf.c's correlator.shipper_socket: one
 * socket (a string, the default shipper.sock when absent) or a list of 1
 * to 8 distinct ones, one per shipper; every refusal with its exact
 * "FILE:LINE: reason". The configuration is parsed from memory. */
#include "cor.h"
#include "vigil/err.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static char err[2048];

/* Loads the correlator section 'sec' (indented YAML lines) into cf. */
static int load(const char *sec, cor_conf *cf)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), "correlator:\n%s", sec);
    vg_node *root = NULL;
    err[0] = '\0';
    ck_assert_int_eq(vg_yaml_load_mem("t.yaml", yaml, strlen(yaml), &root, err, sizeof(err)), 0);
    int rc = cor_conf_load(root, "t.yaml", cf, err, sizeof(err));
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
     "t.yaml:5: shipper_socket './a.sock' is listed twice (line 3): each shipper has its own "
     "socket, and one listed twice would get every alert twice"},
    {"  shipper_socket:\n    - run//a.sock\n    - run/./a.sock\n",
     "t.yaml:4: shipper_socket 'run/./a.sock' is listed twice (line 3): each shipper has its own "
     "socket, and one listed twice would get every alert twice"},
    {"  listen_socket: c.sock\n  shipper_socket: [s.sock, c.sock]\n",
     "t.yaml:3: listen_socket and shipper_socket are both 'c.sock': the correlator would connect "
     "to itself"},
    {"  listen_socket: shipper.sock\n",
     "t.yaml:2: listen_socket and shipper_socket are both 'shipper.sock': the correlator would "
     "connect to itself"},
};

START_TEST(test_refused)
{
    cor_conf cf;
    ck_assert_int_eq(load(bad[_i].sec, &cf), VG_ECONFIG);
    ck_assert_str_eq(err, bad[_i].err);
    ck_assert_int_eq(cf.nshippers, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cor_conf");
    TCase *tc = tcase_create("shipper_socket");
    tcase_add_test(tc, test_one_socket);
    tcase_add_test(tc, test_list);
    tcase_add_loop_test(tc, test_refused, 0, (int)(sizeof(bad) / sizeof(bad[0])));
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
