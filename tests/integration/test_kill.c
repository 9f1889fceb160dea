/* Durability: the stream of 10,000 numbered lines keeps flowing while the
 * correlator and then the shipper are killed with SIGKILL and restarted;
 * every line must come out exactly once. Then the collector's promise:
 * what it has committed survives its own SIGKILL. */
#include <check.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it_common.h"

#define N_LINES 10000
#define CHUNKS 20

/* Sends CHUNKS files of N_LINES/CHUNKS lines, one logger run each, from a
 * child process so that the parent can kill daemons meanwhile. */
static pid_t it_send_in_background(vt_pipe *p)
{
    char files[CHUNKS][400];
    int per = N_LINES / CHUNKS;
    for (int c = 0; c < CHUNKS; c++) {
        char name[32];
        snprintf(name, sizeof(name), "chunk%02d.txt", c);
        if (it_write_lines(p, name, c * per, (c + 1) * per, files[c], sizeof(files[c])) != 0)
            return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (int c = 0; c < CHUNKS; c++) {
            if (it_logger_tcp(p, files[c], NULL) != 0)
                _exit(1);
            vt_sleep_ms(25);
        }
        _exit(0);
    }
    return pid;
}

/* Waits until the alerts file has at least n lines; returns the count.
 * Fails the test when 60000 polls 1 ms apart do not see them (the kill
 * that follows would not be where the test says it is). */
static long it_wait_progress(vt_pipe *p, long n)
{
    long have = 0;
    for (int i = 0; i < 60000 && (have = vt_count_lines(p->alerts)) < n; i++)
        vt_sleep_ms(1);
    ck_assert_msg(have >= n, "%ld of %ld alerts after 60000 polls", have, n);
    return have;
}

START_TEST(test_kill9_correlator_then_shipper)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    pid_t sender = it_send_in_background(&p);
    ck_assert_int_gt(sender, 0);

    long at = it_wait_progress(&p, 2000);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    printf("correlator killed at %ld alerts\n", at);
    ck_assert_int_lt(at, N_LINES); /* mid-stream, as the test says */
    vt_sleep_ms(300); /* the collector spools meanwhile */
    vt_pipe_start(&p, VT_CORRELATOR);

    at = it_wait_progress(&p, at + 3000);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGKILL), 128 + SIGKILL);
    printf("shipper killed at %ld alerts\n", at);
    vt_sleep_ms(300);
    vt_pipe_start(&p, VT_SHIPPER);

    int st;
    ck_assert_int_eq(waitpid(sender, &st, 0), sender);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    bool all = vt_wait_lines(p.alerts, N_LINES, 90000);
    vt_sleep_ms(500);
    ck_assert_msg(all, "only %ld of %d alerts arrived", vt_count_lines(p.alerts), N_LINES);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N_LINES), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* Kill the collector and the correlator together once the collector says it
 * has spooled everything: after both restart, all lines arrive once. */
START_TEST(test_kill9_collector_keeps_spool)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    /* The correlator is down: everything must wait in the collector's spool. */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    char file[400], log[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, N_LINES, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    bool spooled = false;
    for (int i = 0; i < 100 && !spooled; i++) {
        kill(p.pid[VT_COLLECTOR], SIGUSR1);
        spooled = vt_wait_text(log, "spooled=10000 ", 100);
    }
    ck_assert_msg(spooled, "collector did not report 10000 spooled events");
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGKILL), 128 + SIGKILL);
    ck_assert_int_eq(vt_count_lines(p.alerts), 0);
    vt_pipe_start(&p, VT_CORRELATOR);
    vt_pipe_start(&p, VT_COLLECTOR);
    bool all = vt_wait_lines(p.alerts, N_LINES, 90000);
    vt_sleep_ms(500);
    ck_assert_msg(all, "only %ld of %d alerts arrived", vt_count_lines(p.alerts), N_LINES);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N_LINES), 0);
    vt_pipe_destroy(&p);
}
END_TEST

static Suite *kill_suite(void)
{
    Suite *s = suite_create("kill");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_kill9_correlator_then_shipper);
    tcase_add_test(tc, test_kill9_collector_keeps_spool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a failing test exits: keep what it printed */
    SRunner *sr = srunner_create(kill_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
