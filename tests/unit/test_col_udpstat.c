/* Unit tests for collector/col_udpstat.c: the kernel's UDP drop count of a
 * listener, read from /proc/net/udp, warned about once per drop. */
#include "col.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int notices;

void col_input_notice(col *c, const char *text)
{
    (void)c;
    (void)text;
    notices++;
}

static col c; /* big: not on the stack */

/* A listener whose tiny receive buffer, never read, has dropped datagrams. */
static void udp_with_drops(uv_loop_t *loop)
{
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(uv_udp_init(loop, &c.udp[0]), 0);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    ck_assert_int_eq(uv_udp_bind(&c.udp[0], (struct sockaddr *)&a, 0), 0);
    uv_os_fd_t fd;
    ck_assert_int_eq(uv_fileno((uv_handle_t *)&c.udp[0], &fd), 0);
    int small = 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    int len = sizeof(a);
    ck_assert_int_eq(uv_udp_getsockname(&c.udp[0], (struct sockaddr *)&a, &len), 0);
    c.nudp = 1;
    c.udp_ino[0] = col_udp_inode(&c.udp[0]);
    ck_assert_uint_ne(c.udp_ino[0], 0);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    char d[1000] = "<13>Nov 25 10:00:00 h app: drop me";
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(sendto(s, d, sizeof(d), 0, (struct sockaddr *)&a, sizeof(a)), sizeof(d));
    close(s);
}

/* A check that cannot read /proc (no descriptor left: a collector at its
 * open files limit) is no count: before, it took 0 for the drops, and the
 * next check warned about all of them again, and put a second notice of
 * them in the stream. */
START_TEST(test_unreadable_count_not_zero)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    udp_with_drops(&loop);
    notices = 0;
    col_udp_check_drops(&c);
    uint64_t drops = c.udp_drops_seen;
    ck_assert_uint_gt(drops, 0);
    ck_assert_int_eq(notices, 1);
    /* every descriptor taken */
    struct rlimit was, rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
    rl = was;
    rl.rlim_cur = 64;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int fds[64], n = 0;
    while (n < 64 && (fds[n] = dup(0)) >= 0)
        n++;
    ck_assert_int_eq(errno, EMFILE);
    col_udp_check_drops(&c);
    uint64_t blind = c.udp_drops_seen;
    while (n)
        close(fds[--n]);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
    ck_assert_uint_eq(blind, drops);
    col_udp_check_drops(&c);
    ck_assert_uint_eq(c.udp_drops_seen, drops);
    ck_assert_int_eq(notices, 1);
    uv_close((uv_handle_t *)&c.udp[0], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("col_udpstat");
    TCase *tc = tcase_create("drops");
    tcase_add_test(tc, test_unreadable_count_not_zero);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
