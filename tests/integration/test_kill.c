/* Durability: the stream of 10,000 numbered lines keeps flowing while the
 * correlator and then the shipper are killed with SIGKILL and restarted;
 * every line must come out exactly once. Then the collector's promise:
 * what it has committed survives its own SIGKILL. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
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
    it_assert_up(&p, VT_CORRELATOR);

    at = it_wait_progress(&p, at + 3000);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGKILL), 128 + SIGKILL);
    printf("shipper killed at %ld alerts\n", at);
    vt_sleep_ms(300);
    vt_pipe_start(&p, VT_SHIPPER);
    it_assert_up(&p, VT_SHIPPER);

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
    it_assert_up(&p, VT_CORRELATOR);
    it_assert_up(&p, VT_COLLECTOR);
    bool all = vt_wait_lines(p.alerts, N_LINES, 90000);
    vt_sleep_ms(500);
    ck_assert_msg(all, "only %ld of %d alerts arrived", vt_count_lines(p.alerts), N_LINES);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N_LINES), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* ---- a seeded chaos run ----------------------------------------------- */

/* xorshift64*: the chaos is reproducible from its seed */
static uint64_t it_rng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static int it_between(uint64_t *s, int lo, int hi)
{
    return lo + (int)(it_rng(s) % (uint64_t)(hi - lo + 1));
}

static long it_env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

static double it_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* logger --tcp of one file, not waited for: returns its pid. */
static pid_t it_logger_spawn(const vt_pipe *p, const char *file)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0)
            dup2(fd, 0);
        execlp("logger", "logger", "--tcp", "-n", "127.0.0.1", "-P", port, "-t", "vigiltest",
               "-f", file, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Lines in the alerts file and the files it was rotated into (the
 * shipper's file output rotates at 100 MB: ~140,000 alerts). */
static long it_alert_lines(const vt_pipe *p)
{
    long n = vt_count_lines(p->alerts);
    char path[400];
    for (int k = 1; k < 10; k++) {
        snprintf(path, sizeof(path), "%s.%d", p->alerts, k);
        long m = vt_count_lines(path);
        n += m > 0 ? m : 0;
    }
    return n;
}

/* The alerts of the rotated files and of the current one, oldest first,
 * in one file: path. */
static void it_join_alerts(const vt_pipe *p, char *path, size_t cap)
{
    snprintf(path, cap, "%s/all-alerts.json", p->dir);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cd %s && cat $(ls -r alerts.json.[0-9] 2>/dev/null) alerts.json > %s",
             p->dir, path);
    char *argv[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(argv, 60), 0);
}

#define SOAK_CHUNK 200
#define SOAK_MAX_CHUNKS 1000 /* 200,000 lines at most: a long run is paced */

/* Numbered lines flow in for VG_SOAK_SECONDS (default 20) while, at
 * seeded random moments (VG_SOAK_SEED), the correlator or the shipper is
 * killed with SIGKILL and restarted after up to 300 ms, any daemon is
 * frozen with SIGSTOP for up to 400 ms or told to reload (SIGHUP), and
 * between two logger runs the collector is stopped with SIGTERM and
 * restarted (it keeps what a sender wrote before the stop). Every line
 * must come out exactly once. The single kills above check each promise
 * alone; this checks them in any order and overlap, as a holiday night
 * of restarts would. A longer hunt: VG_SOAK_SECONDS=600 VG_SOAK_SEED=time. */
START_TEST(test_chaos_exactly_once)
{
    long secs = it_env_long("VG_SOAK_SECONDS", 20);
    const char *seed_env = getenv("VG_SOAK_SEED");
    uint64_t seed = seed_env && !strcmp(seed_env, "time") ? (uint64_t)time(NULL)
                                                          : (uint64_t)it_env_long("VG_SOAK_SEED", 7);
    printf("chaos: %ld s, seed %llu (VG_SOAK_SEED)\n", secs, (unsigned long long)seed);
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    static const char *names[3] = {"collector", "correlator", "shipper"};

    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    double start = it_now(), stop_sending = start + (double)secs;
    double next_chaos = start + it_between(&rng, 100, 700) / 1000.0;
    pid_t logger = 0;
    int chunks = 0, kills = 0, freezes = 0, reloads = 0, collector_restarts = 0;
    char why[800];
    while (logger > 0 || (it_now() < stop_sending && chunks < SOAK_MAX_CHUNKS)) {
        /* a daemon that ended on its own (an exec that failed, a crash)
         * fails the run now, named, not 120 s later as missing alerts */
        ck_assert_msg(vt_pipe_alive(&p, why, sizeof(why)) == 0, "%s", why);
        if (logger > 0) {
            int st;
            pid_t r = waitpid(logger, &st, WNOHANG);
            ck_assert_int_ge(r, 0);
            if (r == logger) {
                ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "logger status %d", st);
                logger = 0;
            }
        }
        if (logger == 0 && it_now() < stop_sending && chunks < SOAK_MAX_CHUNKS &&
            it_now() >= start + (double)secs * chunks / SOAK_MAX_CHUNKS) {
            if (chunks > 0 && it_between(&rng, 0, 5) == 0) {
                it_restart_collector(&p);
                collector_restarts++;
            }
            char name[32], file[400];
            snprintf(name, sizeof(name), "chunk%04d.txt", chunks);
            ck_assert_int_eq(it_write_lines(&p, name, chunks * SOAK_CHUNK,
                                            (chunks + 1) * SOAK_CHUNK, file, sizeof(file)),
                             0);
            logger = it_logger_spawn(&p, file);
            ck_assert_int_gt(logger, 0);
            chunks++;
        }
        if (it_now() >= next_chaos) {
            int which = it_between(&rng, 0, 2);
            switch (it_between(&rng, 0, 3)) {
            case 0: /* kill -9 and restart: not the collector, whose sockets
                     * would lose what the kernel still holds for it */
                if (which == VT_COLLECTOR)
                    which = it_between(&rng, VT_CORRELATOR, VT_SHIPPER);
                it_kill_restart(&p, which, it_between(&rng, 0, 300));
                kills++;
                break;
            case 1:
            case 2: /* frozen: the others must hold what it does not take */
                kill(p.pid[which], SIGSTOP);
                vt_sleep_ms(it_between(&rng, 50, 400));
                kill(p.pid[which], SIGCONT);
                freezes++;
                break;
            default: /* a reload of the same configuration, once it is up */
                if (it_daemon_up(&p, which)) {
                    kill(p.pid[which], SIGHUP);
                    reloads++;
                }
                break;
            }
            next_chaos = it_now() + it_between(&rng, 100, 700) / 1000.0;
        }
        vt_sleep_ms(5);
    }
    int n = chunks * SOAK_CHUNK;
    printf("chaos: %d lines in %.1f s; %d kills, %d freezes, %d reloads, %d collector restarts\n",
           n, it_now() - start, kills, freezes, reloads, collector_restarts);
    /* The last kill may have been a moment ago: each daemon must come up
     * (the correlator's start is waited for here, on its log, with the
     * bound every test gives a start) before the alerts are counted. A
     * restart that never came up was reported only as alerts missing
     * after 120 s, with an empty log and no word of what the process was
     * doing. */
    for (int i = 0; i < 3; i++)
        it_assert_up(&p, i);
    for (int i = 0; i < 2400 && it_alert_lines(&p) < n; i++)
        vt_sleep_ms(50);
    vt_sleep_ms(500);
    ck_assert_msg(it_alert_lines(&p) >= n, "only %ld of %d alerts arrived", it_alert_lines(&p), n);
    char all[400];
    it_join_alerts(&p, all, sizeof(all));
    ck_assert_int_eq(it_check_exactly_once(all, n), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(vt_pipe_stop(&p, i, SIGTERM) == 0, "%s did not stop cleanly", names[i]);
    vt_pipe_destroy(&p);
}
END_TEST

/* When a daemon does not come back, the harness says what became of it:
 * an exec that failed writes its reason into the log (it was an empty log
 * and exit 127), a daemon that died is named with its signal at once
 * (vt_pipe_alive, vt_pipe_up), one stopped by SIGSTOP shows state T. A
 * restarted correlator that "wrote an empty log and never listened" in a
 * loaded chaos run could not be told apart from any of these. */
START_TEST(test_start_failures_named)
{
    vt_pipe p;
    char why[800], state[200], log[400], text[600];
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);

    snprintf(log, sizeof(log), "%s/missing.log", p.dir);
    pid_t pid = vt_spawn("correlator/vigil-no-such-daemon", p.config, log);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(vt_stop_pid(pid, 0), 127); /* signal 0: only reaped */
    snprintf(text, sizeof(text), "vt_spawn: cannot execute %s: No such file or directory\n",
             vt_bin("correlator/vigil-no-such-daemon"));
    char *b = vt_read_file(log, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b, text);
    free(b);

    /* up, then frozen: alive, state T */
    vt_pipe_start(&p, VT_CORRELATOR);
    ck_assert_msg(vt_pipe_up(&p, VT_CORRELATOR, VT_UP_MS, why, sizeof(why)) == 0, "%s", why);
    ck_assert_int_eq(vt_pipe_alive(&p, why, sizeof(why)), 0);
    ck_assert_str_eq(why, "");
    kill(p.pid[VT_CORRELATOR], SIGSTOP);
    for (int i = 0; i < 100; i++) { /* the stop is asynchronous: at most 1 s */
        vt_pid_state(p.pid[VT_CORRELATOR], state, sizeof(state));
        if (strstr(state, "state T (stopped)"))
            break;
        vt_sleep_ms(10);
    }
    ck_assert_msg(strstr(state, "alive, state T (stopped), in "), "%s", state);
    kill(p.pid[VT_CORRELATOR], SIGCONT);

    /* dead on its own (SIGUSR2: no daemon handles it): named at once */
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], SIGUSR2), 0);
    for (int i = 0; i < 100 && vt_pipe_alive(&p, why, sizeof(why)) == 0; i++)
        vt_sleep_ms(10);
    snprintf(text, sizeof(text),
             "the correlator (start 1) ended without being told to: pid %ld died of signal %d "
             "(%s)",
             (long)p.pid[VT_CORRELATOR], SIGUSR2, strsignal(SIGUSR2));
    ck_assert_str_eq(why, text);
    double t0 = it_now();
    ck_assert_int_eq(vt_pipe_up(&p, VT_CORRELATOR, VT_UP_MS, why, sizeof(why)), -1);
    ck_assert_msg(it_now() - t0 < 1.0, "vt_pipe_up waited %.1f s for a dead daemon",
                  it_now() - t0);
    char log1[400];
    vt_pipe_log(&p, VT_CORRELATOR, log1, sizeof(log1));
    snprintf(text, sizeof(text),
             "the correlator (start 1) is not up: pid %ld died of signal %d (%s); its log %s "
             "says it started",
             (long)p.pid[VT_CORRELATOR], SIGUSR2, strsignal(SIGUSR2), log1);
    ck_assert_str_eq(why, text);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGUSR2); /* still reapable */
    vt_pipe_destroy(&p);
}
END_TEST

static Suite *kill_suite(void)
{
    Suite *s = suite_create("kill");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 600 + (double)it_env_long("VG_SOAK_SECONDS", 20)); /* a long hunt */
    tcase_add_test(tc, test_kill9_correlator_then_shipper);
    tcase_add_test(tc, test_kill9_collector_keeps_spool);
    tcase_add_test(tc, test_chaos_exactly_once);
    tcase_add_test(tc, test_start_failures_named);
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
