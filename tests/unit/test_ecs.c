/* ECS JSON lines (lib/ecs.c): exact bytes for a full alert, and the edge
 * cases docs/alerts.md promises: one key per name in vigil.fields, ports
 * written as JSON numbers, captures that are not addresses left unmapped. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/ecs.h"
#include "vigil/util.h"

static vg_alert base_alert(void)
{
    vg_alert al;
    memset(&al, 0, sizeof(al));
    al.id = vg_str_c("00000000000000010000000000000002");
    al.rule_id = vg_str_c("ssh.bruteforce");
    al.rule_name = vg_str_c("SSH brute force");
    al.kind = vg_str_c("event_count");
    al.level = 10;
    al.ts_us = INT64_C(1795572857000000); /* 2026-11-25T02:14:17Z */
    al.first_us = INT64_C(1795572849500000);
    al.count = 6;
    al.host = vg_str_c("bastion-hn01");
    al.app = vg_str_c("sshd");
    al.src = vg_str_c("10.20.0.5");
    al.agency = vg_str_c("aviation");
    al.site = vg_str_c("tan-son-nhat");
    al.message = vg_str_c("Failed password for root from 185.220.101.34 port 40398 ssh2");
    return al;
}

/* base_alert()'s line around what its fields add (no tags, no raw), for
 * the tests that compare a whole line. */
#define BASE_HEAD                                                                                  \
    "{\"@timestamp\":\"2026-11-25T02:14:17.000000Z\",\"ecs\":{\"version\":\"8.11.0\"},"            \
    "\"event\":{\"kind\":\"alert\",\"id\":\"00000000000000010000000000000002\","                   \
    "\"severity\":10,\"start\":\"2026-11-25T02:14:09.500000Z\","                                   \
    "\"end\":\"2026-11-25T02:14:17.000000Z\"},"                                                    \
    "\"rule\":{\"id\":\"ssh.bruteforce\",\"name\":\"SSH brute force\"},"                           \
    "\"host\":{\"name\":\"bastion-hn01\"},\"process\":{\"name\":\"sshd\"},"
#define BASE_TAIL                                                                                  \
    "\"message\":\"Failed password for root from 185.220.101.34 port 40398 ssh2\","                \
    "\"observer\":{\"vendor\":\"Vigil\",\"product\":\"vigil\",\"name\":\"shipper\"},"              \
    "\"labels\":{\"agency\":\"aviation\",\"site\":\"tan-son-nhat\"},"                              \
    "\"vigil\":{\"kind\":\"event_count\",\"count\":6,\"sender\":\"10.20.0.5\","

static char *ecs(const vg_alert *al)
{
    vg_buf b = {0};
    ck_assert_int_eq(vg_ecs_alert(&b, al, "shipper"), 0);
    ck_assert_int_eq(vg_buf_addc(&b, '\0'), 0);
    return b.p;
}

START_TEST(test_full_alert_exact)
{
    vg_alert al = base_alert();
    al.fields[al.nfields++] = (vg_kv){vg_str_c("src_ip"), vg_str_c("185.220.101.34")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("src_port"), vg_str_c("40398")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("user"), vg_str_c("root")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("method"), vg_str_c("password")};
    al.tags[al.ntags++] = vg_str_c("attack.t1110.001");
    al.raw[al.nraw++] = vg_str_c("<38>Nov 25 02:14:09 bastion-hn01 sshd[1]: \"x\"");
    char *got = ecs(&al);
    const char *want =
        "{\"@timestamp\":\"2026-11-25T02:14:17.000000Z\",\"ecs\":{\"version\":\"8.11.0\"},"
        "\"event\":{\"kind\":\"alert\",\"id\":\"00000000000000010000000000000002\","
        "\"severity\":10,\"start\":\"2026-11-25T02:14:09.500000Z\","
        "\"end\":\"2026-11-25T02:14:17.000000Z\"},"
        "\"rule\":{\"id\":\"ssh.bruteforce\",\"name\":\"SSH brute force\"},"
        "\"tags\":[\"attack.t1110.001\"],\"host\":{\"name\":\"bastion-hn01\"},"
        "\"process\":{\"name\":\"sshd\"},"
        "\"source\":{\"ip\":\"185.220.101.34\",\"port\":40398},\"user\":{\"name\":\"root\"},"
        "\"related\":{\"ip\":[\"185.220.101.34\"],\"user\":[\"root\"]},"
        "\"message\":\"Failed password for root from 185.220.101.34 port 40398 ssh2\","
        "\"observer\":{\"vendor\":\"Vigil\",\"product\":\"vigil\",\"name\":\"shipper\"},"
        "\"labels\":{\"agency\":\"aviation\",\"site\":\"tan-son-nhat\"},"
        "\"vigil\":{\"kind\":\"event_count\",\"count\":6,\"sender\":\"10.20.0.5\","
        "\"fields\":{\"method\":\"password\"},"
        "\"raw\":[\"<38>Nov 25 02:14:09 bastion-hn01 sshd[1]: \\\"x\\\"\"]}}\n";
    ck_assert_str_eq(got, want);
    free(got);
}
END_TEST

/* Raw lines the correlator or the collector cut: their positions in
 * vigil.raw_truncated; an alert whose lines are whole has no such key. */
START_TEST(test_raw_truncated)
{
    vg_alert al = base_alert();
    al.raw[al.nraw++] = vg_str_c("whole line");
    al.raw[al.nraw++] = vg_str_c("first KiB of a longer line");
    al.raw[al.nraw++] = vg_str_c("another whole line");
    al.raw_cut = 1u << 1;
    char *got = ecs(&al);
    ck_assert_str_eq(got, BASE_HEAD BASE_TAIL
                     "\"raw\":[\"whole line\",\"first KiB of a longer line\","
                     "\"another whole line\"],\"raw_truncated\":[1]}}\n");
    free(got);
    al.raw_cut = (1u << 0) | (1u << 2);
    got = ecs(&al);
    ck_assert_str_eq(got, BASE_HEAD BASE_TAIL
                     "\"raw\":[\"whole line\",\"first KiB of a longer line\","
                     "\"another whole line\"],\"raw_truncated\":[0,2]}}\n");
    free(got);
    al.raw_cut = 0;
    got = ecs(&al);
    ck_assert_str_eq(got, BASE_HEAD BASE_TAIL
                     "\"raw\":[\"whole line\",\"first KiB of a longer line\","
                     "\"another whole line\"]}}\n");
    ck_assert_ptr_null(strstr(got, "truncated"));
    free(got);
}
END_TEST

/* The same name captured three times (group-by value and the completing
 * event's capture, or PCRE2 duplicate names): the first maps to
 * source.ip, the second is kept in vigil.fields, the third is left out;
 * an unmapped name repeated appears once. */
START_TEST(test_no_duplicate_keys)
{
    vg_alert al = base_alert();
    al.fields[al.nfields++] = (vg_kv){vg_str_c("src_ip"), vg_str_c("192.0.2.1")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("q"), vg_str_c("a")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("src_ip"), vg_str_c("192.0.2.2")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("q"), vg_str_c("b")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("src_ip"), vg_str_c("192.0.2.3")};
    char *got = ecs(&al);
    /* the whole line: a second source.ip or related.ip would show */
    ck_assert_str_eq(got, BASE_HEAD "\"source\":{\"ip\":\"192.0.2.1\"},"
                          "\"related\":{\"ip\":[\"192.0.2.1\"]}," BASE_TAIL
                          "\"fields\":{\"q\":\"a\",\"src_ip\":\"192.0.2.2\"}}}\n");
    free(got);
}
END_TEST

/* A zero-padded port is a number without its leading zeros; a capture
 * named like an address that is not one stays a string in vigil.fields. */
START_TEST(test_port_and_bad_ip)
{
    vg_alert al = base_alert();
    al.fields[al.nfields++] = (vg_kv){vg_str_c("dst_port"), vg_str_c("0022")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("dst_ip"), vg_str_c("not-an-ip")};
    char *got = ecs(&al);
    ck_assert_str_eq(got, BASE_HEAD "\"destination\":{\"port\":22}," BASE_TAIL
                          "\"fields\":{\"dst_ip\":\"not-an-ip\"}}}\n");
    free(got);
    /* an address followed by a NUL and more is no address (inet_pton
     * stopped at the NUL and took it) */
    al = base_alert();
    al.nfields = 0;
    al.fields[al.nfields++] = (vg_kv){vg_str_c("src_ip"), vg_str_n("10.0.0.1\0junk", 13)};
    got = ecs(&al);
    ck_assert_str_eq(got, BASE_HEAD BASE_TAIL
                          "\"fields\":{\"src_ip\":\"10.0.0.1\\u0000junk\"}}}\n");
    free(got);
    ck_assert(vg_is_ip(vg_str_c("10.0.0.1")));
    ck_assert(!vg_is_ip(vg_str_n("10.0.0.1\0", 9)));
}
END_TEST

/* An empty capture maps nothing (pam's "ruser= "), as in CEF and LEEF
 * (docs/cef-leef.md): it stays in vigil.fields, and a later non-empty one
 * of the same name takes the ECS field. It was "user":{"name":""}, with
 * the real user pushed out to vigil.fields. */
START_TEST(test_empty_capture_unmapped)
{
    vg_alert al = base_alert();
    al.fields[al.nfields++] = (vg_kv){vg_str_c("user"), vg_str_c("")};
    al.fields[al.nfields++] = (vg_kv){vg_str_c("user"), vg_str_c("alice")};
    char *got = ecs(&al);
    ck_assert_str_eq(got, BASE_HEAD "\"user\":{\"name\":\"alice\"},"
                          "\"related\":{\"user\":[\"alice\"]}," BASE_TAIL
                          "\"fields\":{\"user\":\"\"}}}\n");
    free(got);
}
END_TEST

/* C1 controls (NEL, CSI) and U+2028/U+2029 are valid raw in JSON, but
 * NDJSON readers that split with Python's splitlines (or JavaScript before
 * ES2019) cut the alert there: they are written \\uHHHH. Other non-ASCII
 * (a no-break space, Vietnamese) stays as it is; invalid bytes are U+FFFD. */
START_TEST(test_line_breakers_escaped)
{
    vg_buf b = {0};
    const char in[] = "a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xa9" "d\xc2\x9b" "31m"
                      "e\xc2\xa0" "f\xe1\xba\xa1" "g\xff" "h\xe2\x80\xa7";
    ck_assert_int_eq(vg_json_escape(&b, vg_str_n(in, sizeof(in) - 1)), 0);
    ck_assert_int_eq(vg_buf_addc(&b, '\0'), 0);
    ck_assert_str_eq(b.p, "a\\u0085b\\u2028c\\u2029d\\u009b31me\xc2\xa0" "f\xe1\xba\xa1"
                          "g\xef\xbf\xbdh\xe2\x80\xa7");
    free(b.p);
    vg_alert al = base_alert();
    al.message = vg_str_c("x\xe2\x80\xa8y");
    char *got = ecs(&al);
    ck_assert_ptr_nonnull(strstr(got, "\"message\":\"x\\u2028y\""));
    ck_assert_ptr_null(strstr(got, "\xe2\x80\xa8"));
    free(got);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ecs");
    TCase *tc = tcase_create("ecs");
    tcase_add_test(tc, test_full_alert_exact);
    tcase_add_test(tc, test_raw_truncated);
    tcase_add_test(tc, test_no_duplicate_keys);
    tcase_add_test(tc, test_port_and_bad_ip);
    tcase_add_test(tc, test_empty_capture_unmapped);
    tcase_add_test(tc, test_line_breakers_escaped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
