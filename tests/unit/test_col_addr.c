/* Unit tests for collector/col_addr.c: the key max_connections_per_ip
 * (and max_rate_per_ip) counts a sender by; and collector/col_rate.c,
 * max_rate_per_ip's buckets per key, on a clock of the test's own. Two
 * addresses of one /64 cannot both reach the collector on loopback (only ::1 is there, and adding a /64 to lo needs
 * root and changes the machine), so the mapping is tested here, exactly;
 * test_collector's per_ip case checks the key on a real ::1 connection. */
#include "col_addr.h"
#include "col_rate.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* The key of text address a (IPv4 or IPv6), or the error's text. */
static const char *key_of(const char *a, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(514);
    } else {
        ck_assert_int_eq(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(514);
    }
    int rc = col_addr_key((struct sockaddr *)&ss, out, cap);
    return rc == 0 ? out : rc == -ENOSPC ? "ENOSPC" : "error";
}

/* The key of IPv6 text address a with scope id scope. */
static const char *key_scoped(const char *a, uint32_t scope, char *out, size_t cap)
{
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    ck_assert_int_eq(inet_pton(AF_INET6, a, &s6.sin6_addr), 1);
    s6.sin6_family = AF_INET6;
    s6.sin6_scope_id = scope;
    int rc = col_addr_key((struct sockaddr *)&s6, out, cap);
    return rc == 0 ? out : rc == -ENOSPC ? "ENOSPC" : "error";
}

START_TEST(test_keys_exact)
{
    char k[COL_ADDR_KEY_MAX];
    /* IPv4: the address itself */
    ck_assert_str_eq(key_of("192.0.2.7", k, sizeof(k)), "192.0.2.7");
    ck_assert_str_eq(key_of("127.0.0.1", k, sizeof(k)), "127.0.0.1");
    ck_assert_str_eq(key_of("255.255.255.255", k, sizeof(k)), "255.255.255.255");
    /* IPv4-mapped IPv6: its IPv4 address, the key of the same sender by IPv4 */
    ck_assert_str_eq(key_of("::ffff:192.0.2.7", k, sizeof(k)), "192.0.2.7");
    ck_assert_str_eq(key_of("::ffff:10.1.2.3", k, sizeof(k)), "10.1.2.3");
    /* IPv6: its /64, whatever the interface identifier */
    ck_assert_str_eq(key_of("2001:db8:1:2:3:4:5:6", k, sizeof(k)), "2001:db8:1:2::/64");
    ck_assert_str_eq(key_of("2001:db8:1:2::1", k, sizeof(k)), "2001:db8:1:2::/64");
    ck_assert_str_eq(key_of("2001:db8:1:2:ffff:ffff:ffff:ffff", k, sizeof(k)),
                     "2001:db8:1:2::/64");
    ck_assert_str_eq(key_of("2001:db8:1:3::1", k, sizeof(k)), "2001:db8:1:3::/64");
    /* the whole address where the /64 is no one host's: loopback and
     * IPv4-compatible (first 64 bits zero), link-local (every link's hosts
     * share fe80::/64), NAT64 (an IPv4 sender in the last 32 bits), Teredo
     * (the /64 is the Teredo server's) */
    ck_assert_str_eq(key_of("::1", k, sizeof(k)), "::1");
    ck_assert_str_eq(key_of("::2", k, sizeof(k)), "::2");
    ck_assert_str_eq(key_of("::192.0.2.7", k, sizeof(k)), "::192.0.2.7");
    ck_assert_str_eq(key_of("fe80::1:2", k, sizeof(k)), "fe80::1:2");
    ck_assert_str_eq(key_of("febf::1", k, sizeof(k)), "febf::1");
    ck_assert_str_eq(key_of("64:ff9b::192.0.2.7", k, sizeof(k)), "64:ff9b::c000:207");
    ck_assert_str_eq(key_of("64:ff9b:1::c000:207", k, sizeof(k)), "64:ff9b:1::c000:207");
    ck_assert_str_eq(key_of("2001:0:4136:e378:8000:63bf:3fff:fdd2", k, sizeof(k)),
                     "2001:0:4136:e378:8000:63bf:3fff:fdd2");
    /* their neighbours still by /64: fec0::/10 (site-local), 64:ff9b:2::,
     * 2001:1::/32 */
    ck_assert_str_eq(key_of("fec0::1", k, sizeof(k)), "fec0::/64");
    ck_assert_str_eq(key_of("64:ff9b:2::1", k, sizeof(k)), "64:ff9b:2::/64");
    ck_assert_str_eq(key_of("2001:1::1", k, sizeof(k)), "2001:1::/64");
    ck_assert_str_eq(key_of("0:0:0:1::1", k, sizeof(k)), "0:0:0:1::/64");
    /* link-local with its interface: fe80::1 on two links is two hosts */
    ck_assert_str_eq(key_scoped("fe80::1", 2, k, sizeof(k)), "fe80::1%2");
    ck_assert_str_eq(key_scoped("fe80::1", 4294967295u, k, sizeof(k)), "fe80::1%4294967295");
    ck_assert_str_eq(key_scoped("2001:db8::1", 2, k, sizeof(k)), "2001:db8::/64");
    /* the longest whole key fits COL_ADDR_KEY_MAX */
    ck_assert_str_eq(key_scoped("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 4294967295u, k,
                                sizeof(k)),
                     "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295");
    ck_assert_uint_lt(strlen(k), COL_ADDR_KEY_MAX);
    /* the longest key fits COL_ADDR_KEY_MAX */
    ck_assert_str_eq(key_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", k, sizeof(k)),
                     "ffff:ffff:ffff:ffff::/64");
    ck_assert_uint_lt(strlen(k), COL_ADDR_KEY_MAX);
}
END_TEST

/* Two addresses of one /64 share a key, two /64s do not; a v4 sender
 * has one key by either listener. */
START_TEST(test_keys_group)
{
    char a[COL_ADDR_KEY_MAX], b[COL_ADDR_KEY_MAX];
    ck_assert_str_eq(key_of("2001:db8::a", a, sizeof(a)), key_of("2001:db8::b", b, sizeof(b)));
    ck_assert_str_ne(key_of("2001:db8::a", a, sizeof(a)),
                     key_of("2001:db8:0:1::a", b, sizeof(b)));
    ck_assert_str_eq(key_of("198.51.100.1", a, sizeof(a)),
                     key_of("::ffff:198.51.100.1", b, sizeof(b)));
    ck_assert_str_ne(key_of("198.51.100.1", a, sizeof(a)), key_of("198.51.100.2", b, sizeof(b)));
    /* link-local hosts of one link, loopback addresses: one each */
    ck_assert_str_ne(key_of("fe80::a", a, sizeof(a)), key_of("fe80::b", b, sizeof(b)));
    ck_assert_str_ne(key_of("::1", a, sizeof(a)), key_of("::2", b, sizeof(b)));
    ck_assert_str_ne(key_scoped("fe80::1", 2, a, sizeof(a)), key_scoped("fe80::1", 3, b, sizeof(b)));
    ck_assert_str_ne(key_of("64:ff9b::c000:207", a, sizeof(a)),
                     key_of("64:ff9b::c000:208", b, sizeof(b)));
}
END_TEST

/* Another family has no key (not counted); a short buffer is refused. */
START_TEST(test_keys_refused)
{
    char k[COL_ADDR_KEY_MAX] = "x";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    ck_assert_int_eq(col_addr_key((struct sockaddr *)&ss, k, sizeof(k)), -EAFNOSUPPORT);
    ck_assert_str_eq(k, "");
    char small[8] = "x";
    ck_assert_str_eq(key_of("192.0.2.7", small, sizeof(small)), "ENOSPC");
    ck_assert_str_eq(small, "");
}
END_TEST

/* A bucket holds a second's worth (the burst), refills at the rate, is
 * shared by one key's connections, and outlives the last of them until it
 * is full again: a sender that reconnects gets no new burst. */
START_TEST(test_rate_bucket)
{
    col_rate r = {.rate = 100};
    col_rate_key *a = col_rate_get(&r, "192.0.2.7", 1000);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(col_rate_budget(&r, a, 1000), 100);
    col_rate_key *a2 = col_rate_get(&r, "192.0.2.7", 1000); /* its second connection */
    ck_assert_ptr_eq(a, a2);
    ck_assert_uint_eq(r.nkeys, 1);
    col_rate_take(&r, a, 100);
    ck_assert_uint_eq(col_rate_budget(&r, a, 1000), 0);
    ck_assert_uint_eq(col_rate_budget(&r, a, 1009), 0); /* 0.9 of a message */
    ck_assert_uint_eq(col_rate_budget(&r, a, 1010), 1);
    ck_assert_uint_eq(col_rate_budget(&r, a, 1250), 25);
    ck_assert_uint_eq(col_rate_budget(&r, a, 9000), 100); /* never past the burst */
    /* a throttle: held, read again after a twentieth of a second's worth */
    col_rate_take(&r, a, 100);
    ck_assert_int_eq(col_rate_hold(&r, a, 9000), 1);
    ck_assert_int_eq(col_rate_hold(&r, a, 9001), 0); /* held already */
    ck_assert_uint_eq(col_rate_wait_ms(&r, a, 9000), 50);
    ck_assert_uint_eq(col_rate_wait_ms(&r, a, 9030), 20);
    ck_assert_uint_eq(col_rate_release(&r, a, 9050), 50);
    /* held again before the bucket was full: the same throttle */
    col_rate_take(&r, a, 5);
    ck_assert_int_eq(col_rate_hold(&r, a, 9050), 0);
    ck_assert_uint_eq(col_rate_release(&r, a, 9100), 50);
    /* a full bucket ends the throttle: the next hold is a new one */
    ck_assert_uint_eq(col_rate_budget(&r, a, 10100), 100);
    col_rate_take(&r, a, 100);
    ck_assert_int_eq(col_rate_hold(&r, a, 10100), 1);
    ck_assert_uint_eq(col_rate_release(&r, a, 10100), 0);
    /* both connections close with the bucket empty: it stays (a new
     * connection gets what is left), and goes once it is full */
    col_rate_put(&r, a, 10100);
    col_rate_put(&r, a, 10100);
    ck_assert_uint_eq(r.nkeys, 1);
    col_rate_key *b = col_rate_get(&r, "192.0.2.7", 10200);
    ck_assert_ptr_eq(a, b);
    ck_assert_uint_eq(col_rate_budget(&r, b, 10200), 10);
    col_rate_put(&r, b, 10200);
    col_rate_sweep(&r, 11000);
    ck_assert_uint_eq(r.nkeys, 1);
    col_rate_sweep(&r, 11100);
    ck_assert_uint_eq(r.nkeys, 0);
    /* a full one goes with its last connection */
    b = col_rate_get(&r, "2001:db8:1:2::/64", 20000);
    col_rate_put(&r, b, 20000);
    ck_assert_uint_eq(r.nkeys, 0);
    col_rate_free(&r);
}
END_TEST

/* A reload: 0 lifts the limit (every budget unbounded, nothing waits);
 * from 0 to a rate, buckets start full; a lower rate caps them. */
START_TEST(test_rate_reload)
{
    col_rate r = {.rate = 0};
    col_rate_key *a = col_rate_get(&r, "192.0.2.7", 0);
    ck_assert_uint_eq(col_rate_budget(&r, a, 0), SIZE_MAX);
    ck_assert_uint_eq(col_rate_wait_ms(&r, a, 0), 0);
    col_rate_set(&r, 1000, 10);
    ck_assert_uint_eq(col_rate_budget(&r, a, 10), 1000);
    col_rate_set(&r, 10, 20);
    ck_assert_uint_eq(col_rate_budget(&r, a, 20), 10);
    col_rate_take(&r, a, 10);
    ck_assert_uint_eq(col_rate_wait_ms(&r, a, 20), 100); /* one message at 10 a second */
    col_rate_set(&r, 0, 30);
    ck_assert_uint_eq(col_rate_budget(&r, a, 30), SIZE_MAX);
    col_rate_put(&r, a, 30);
    ck_assert_uint_eq(r.nkeys, 0);
    col_rate_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("col_addr");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, test_keys_exact);
    tcase_add_test(tc, test_keys_group);
    tcase_add_test(tc, test_keys_refused);
    tcase_add_test(tc, test_rate_bucket);
    tcase_add_test(tc, test_rate_reload);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
