/* Shared by the integration tests: the rule that matches every test line,
 * sending numbered lines with logger(1), and checking the alerts file. */
#ifndef IT_COMMON_H
#define IT_COMMON_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "vt.h"

#define IT_RULES                                                                                   \
    "rules:\n"                                                                                     \
    "  - id: test.every_line\n"                                                                    \
    "    name: Every numbered test line\n"                                                         \
    "    level: 3\n"                                                                               \
    "    match:\n"                                                                                 \
    "      program: vigiltest\n"                                                               \
    "      regex: 'seq=(?<n>[0-9]+)'\n"

/* One sshd rule with four captures, for the tests that check an alert's
 * exact bytes. */
#define IT_SSH_RULES                                                                               \
    "rules:\n"                                                                                     \
    "  - id: ssh.auth_failed\n"                                                                    \
    "    name: SSH authentication failure\n"                                                       \
    "    level: 5\n"                                                                               \
    "    match:\n"                                                                                 \
    "      program: sshd\n"                                                                        \
    "      regex: 'Failed (?<method>\\S+) for (?:invalid user )?(?<user>\\S+) "                     \
    "from (?<src_ip>[0-9.]+) port (?<src_port>\\d+)'\n"

/* A test case of s named name, with its timeout, tagged with its name:
 * tests/integration/meson.build runs the long cases of a binary as meson
 * tests of their own (CK_RUN_CASE=NAME), next to other tests, and the
 * binary's other cases in one more (CK_EXCLUDE_TAGS=those names), so that
 * a case not named there still runs, in the latter. */
static inline TCase *it_tcase(Suite *s, const char *name, double timeout_s)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout_s);
    tcase_set_tags(tc, name);
    suite_add_tcase(s, tc);
    return tc;
}

/* A TCP connection to 127.0.0.1:port, or -1. */
static inline int it_tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The source tree (meson sets VG_SOURCE_ROOT for the tests). */
static inline const char *it_src_root(void)
{
    const char *r = getenv("VG_SOURCE_ROOT");
    return r ? r : ".";
}

/* A CA, a server certificate for localhost/127.0.0.1 and client
 * certificates, made by openssl(1) into dir (tests/support/mkcerts.sh);
 * with names, also the client certificates that test CN and SAN matching. */
static inline int it_make_certs_ex(const char *dir, bool names)
{
    char script[600];
    snprintf(script, sizeof(script), "%s/tests/support/mkcerts.sh", it_src_root());
    char *argv[] = {"sh", script, (char *)dir, names ? "names" : NULL, NULL};
    return vt_run(argv, 60);
}

static inline int it_make_certs(const char *dir)
{
    return it_make_certs_ex(dir, false);
}

/* Writes lines "vigil integration seq=%05d" for [from, to) into DIR/name. */
static inline int it_write_lines(const vt_pipe *p, const char *name, int from, int to, char *path,
                                 size_t cap)
{
    snprintf(path, cap, "%s/%s", p->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = from; i < to; i++)
        fprintf(f, "vigil integration seq=%05d\n", i);
    return fclose(f);
}

/* Sends a file of lines with logger --tcp (newline framing, RFC 5424). */
static inline int it_logger_tcp(const vt_pipe *p, const char *file, const char *extra)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    char *argv[] = {"logger", "--tcp", "-n", "127.0.0.1", "-P", port, "-t", "vigiltest",
                    "-f", (char *)file, (char *)extra, NULL};
    return vt_run(argv, 120);
}

/* Checks that the alerts file holds exactly one alert of test.every_line
 * for each number in [0, n) and nothing else. Prints what is wrong and
 * returns the number of problems. */
static inline int it_check_exactly_once(const char *alerts, int n)
{
    size_t len;
    char *b = vt_read_file(alerts, &len);
    if (!b) {
        printf("no alerts file %s\n", alerts);
        return 1;
    }
    int *seen = calloc((size_t)n, sizeof(int));
    int problems = 0, lines = 0;
    for (char *line = b, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) {
            printf("alerts file ends without a newline\n");
            problems++;
            break;
        }
        *nl = '\0';
        lines++;
        const char *m = strstr(line, "\"message\":\"vigil integration seq=");
        const char *r = strstr(line, "\"rule\":{\"id\":\"test.every_line\"");
        const char *k = strstr(line, "\"event\":{\"kind\":\"alert\"");
        int num = m ? atoi(m + strlen("\"message\":\"vigil integration seq=")) : -1;
        if (!m || !r || !k || num < 0 || num >= n) {
            if (problems++ < 5)
                printf("unexpected alert line: %.300s\n", line);
            continue;
        }
        seen[num]++;
    }
    for (int i = 0; i < n; i++) {
        if (seen[i] != 1 && problems++ < 20)
            printf("seq %05d arrived %d times\n", i, seen[i]);
    }
    if (lines != n)
        printf("%d alert lines, expected %d\n", lines, n);
    free(seen);
    free(b);
    return problems + (lines != n);
}

/* The value of "key" in the last line of process which's log holding head
 * (its stats line: "stats: received=", "stats: events="), or -1. With ask,
 * a new line is asked for with SIGUSR1 first and waited for (up to 2 s):
 * the process must have logged " started (config ", or SIGUSR1 kills it. */
static inline long it_stat(vt_pipe *p, int which, const char *head, const char *key, bool ask)
{
    char log[400];
    vt_pipe_log(p, which, log, sizeof(log));
    int before = vt_count_text(log, head);
    if (ask) { /* pid 0 (stopped) would signal the test's own process group */
        ck_assert_msg(p->pid[which] > 0, "it_stat: process %d is not running", which);
        kill(p->pid[which], SIGUSR1);
    }
    for (int i = 0; ask && i < 100 && vt_count_text(log, head) == before; i++)
        vt_sleep_ms(20);
    char *lb = vt_read_file(log, NULL);
    char *last = lb ? strstr(lb, head) : NULL;
    for (char *q = last; q; q = strstr(q + 1, head))
        last = q;
    char *nl = last ? strchr(last, '\n') : NULL;
    if (nl)
        *nl = '\0';
    char *at = last ? strstr(last, key) : NULL;
    long v = at ? atol(at + strlen(key)) : -1;
    free(lb);
    return v;
}

/* A daemon's counters logged every stats_log (1s in the test) while they
 * change: want (its whole stats line, with the LF) comes without a
 * SIGUSR1, and then, the counters unchanged, no stats line over 3.5 s
 * (want is in the log once). Returns how many stats lines the log holds. */
static inline int it_stats_log_settles(const char *log, const char *want)
{
    ck_assert_msg(vt_wait_text(log, want, 10000), "no stats line %s", want);
    int n = vt_count_text(log, "info: stats: ");
    vt_sleep_ms(3500);
    ck_assert_int_eq(vt_count_text(log, "info: stats: "), n);
    ck_assert_int_eq(vt_count_text(log, want), 1);
    return n;
}

/* Puts a tmpfs of 8 MiB on dir (made if missing), in a mount namespace of
 * this test's own: nothing outside sees it, and it goes with the test's
 * process (Check runs each test in a process of its own). False, with the
 * reason printed, where that takes rights the test does not have (not
 * root): the caller then skips its test. Unmount with umount2(MNT_DETACH)
 * before removing the directory. */
static inline bool it_tmpfs(const char *dir)
{
    mkdir(dir, 0700);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=8m,mode=0700") != 0) {
        printf("skipped: cannot mount a tmpfs in a mount namespace of its own (%s): that needs "
               "root, outside a chroot\n",
               strerror(errno));
        return false;
    }
    return true;
}

/* Fills the file system of data but for room bytes, with the file filler. */
static inline void it_fill(const char *data, const char *filler, long room)
{
    struct statvfs sv;
    ck_assert_int_eq(statvfs(data, &sv), 0);
    long len = (long)(sv.f_bavail * sv.f_frsize) - room;
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    static char block[65536];
    for (long done = 0; done < len;) {
        ssize_t w = write(fd, block, (size_t)(len - done < 65536 ? len - done : 65536));
        if (w <= 0)
            break; /* full */
        done += w;
    }
    close(fd);
}

/* A pipe (IT_RULES) whose daemon which keeps its store (DIR/data/NAME) on
 * a tmpfs of its own, all three daemons started, and that file system
 * filled to 16 KB with the file filler; data is 400 bytes, filler 420.
 * False, with the pipe destroyed, where the test may not mount a tmpfs:
 * it is then skipped. */
static inline bool it_full_store(vt_pipe *p, const char *name, char *data, char *filler)
{
    ck_assert_int_eq(vt_pipe_init(p, IT_RULES), 0);
    snprintf(data, 400, "%s/data", p->dir);
    mkdir(data, 0700);
    snprintf(data, 400, "%s/data/%s", p->dir, name);
    snprintf(filler, 420, "%s/filler", data);
    if (!it_tmpfs(data)) {
        vt_pipe_destroy(p);
        return false;
    }
    vt_pipe_start_all(p);
    it_fill(data, filler, 16 * 1024);
    return true;
}

/* Whether a daemon's current log says it is up (its signal handlers set). */
static inline bool it_daemon_up(vt_pipe *p, int which)
{
    char log[400];
    vt_pipe_log(p, which, log, sizeof(log));
    return vt_count_text(log, " started (config ") > 0;
}

/* Fails the test unless the daemon which has started within VT_UP_MS,
 * naming what became of it (vt_pipe_up). */
static inline void it_assert_up(vt_pipe *p, int which)
{
    char why[800];
    ck_assert_msg(vt_pipe_up(p, which, VT_UP_MS, why, sizeof(why)) == 0, "%s", why);
}

/* Kills a daemon with SIGKILL and starts it again pause_ms later (not
 * waiting for it: a chaos run may kill it again mid-start). */
static inline void it_kill_restart(vt_pipe *p, int which, int pause_ms)
{
    ck_assert_int_eq(vt_pipe_stop(p, which, SIGKILL), 128 + SIGKILL);
    vt_sleep_ms(pause_ms);
    vt_pipe_start(p, which);
}

/* Stops the collector (SIGTERM: it keeps what a sender wrote before) and
 * starts it again, back once it has joined the correlator's stream. */
static inline void it_restart_collector(vt_pipe *p)
{
    ck_assert_int_eq(vt_pipe_stop(p, VT_COLLECTOR, SIGTERM), 0);
    vt_pipe_start(p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(p, VT_COLLECTOR, log, sizeof(log));
    ck_assert_msg(vt_wait_text(log, "has everything up to seq", 60000),
                  "the restarted collector did not join the correlator's stream");
}

#endif
