/* The collector's intake with real clients and raw sockets: framing,
 * malformed and oversized input, 1,000 simultaneous senders, IPv6, the
 * local Unix datagram socket, and backpressure when the spool is full. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's lacks it) */
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "it_common.h"
#include "vt_cmd.h"

static int it_send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes p to fd, made non-blocking, in pieces of up to 64 KiB, until all
 * of it is written or there is no room for quiet_ms (the collector paused
 * or stopped, both kernels' buffers full). Returns the bytes written. */
static size_t it_write_until_full(int fd, const char *p, size_t n, int quiet_ms)
{
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    size_t w = 0;
    while (w < n) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, quiet_ms) != 1)
            break;
        ssize_t k = write(fd, p + w, n - w < 65536 ? n - w : 65536);
        ck_assert(k > 0 || errno == EAGAIN);
        if (k > 0)
            w += (size_t)k;
    }
    return w;
}

/* Asks the collector for its counters and waits for 'want' in its log. */
static bool it_collector_says(vt_pipe *p, const char *want)
{
    char log[400];
    vt_pipe_log(p, VT_COLLECTOR, log, sizeof(log));
    for (int i = 0; i < 50; i++) {
        kill(p->pid[VT_COLLECTOR], SIGUSR1);
        if (vt_wait_text(log, want, 100))
            return true;
    }
    return false;
}

#define ANY_RULE                                                                                   \
    "rules:\n  - id: test.any\n    name: Any numbered line\n    level: 1\n    match:\n"           \
    "      regex: 'seq=(?<n>[0-9]+)'\n"

/* The alerts file ends up with exactly n alerts, numbered 0..n-1 by the
 * rule's capture n: each message arrived once. */
static void it_alerts_numbered(const char *alerts, int n)
{
    ck_assert(vt_wait_lines(alerts, n, 20000));
    vt_sleep_ms(300);
    ck_assert_int_eq(vt_count_lines(alerts), n);
    char *b = vt_read_file(alerts, NULL);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"n\":\"%05d\"", i);
        ck_assert_msg(strstr(b, want), "seq %05d missing", i);
    }
    free(b);
}

/* Sends one datagram of n bytes to a UDP port of this host, or to a Unix
 * datagram socket when path is set. */
static void it_datagram(int port, const char *path, const char *d, size_t n)
{
    int fd = socket(path ? AF_UNIX : AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (path) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "%s", path);
        sl = sizeof(*un);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
        sl = sizeof(*in);
    }
    ck_assert_int_eq(sendto(fd, d, n, 0, (struct sockaddr *)&ss, sl), (ssize_t)n);
    close(fd);
}

/* Every kind of bad input on one TCP connection each; none is lost, each
 * is counted, and the collector keeps serving. Empty datagrams too: before,
 * a 0-byte UDP or Unix datagram vanished uncounted while one holding "\n"
 * was kept as malformed. */
START_TEST(test_malformed_and_oversized_kept)
{
    vt_pipe p;
    char extra[340], sock[300];
    snprintf(sock, sizeof(sock), "%s", "/tmp/vigil-empty-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sock));
    strcat(sock, "/log.sock");
    snprintf(extra, sizeof(extra), "    - unix://%s\n", sock);
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, extra, NULL), 0);
    vt_pipe_start_all(&p);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "listening on unix://", 10000));
    struct stat sb; /* any local program may log there, whatever the umask */
    ck_assert_int_eq(lstat(sock, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0666);
    it_datagram(p.port, NULL, "", 0);
    it_datagram(p.port, NULL, "\n", 1);
    it_datagram(0, sock, "", 0);
    char *big = malloc(1 << 20);
    memset(big, 'A', 1 << 20);
    memcpy(big, "<13>Nov 25 10:00:00 h app: seq=00004 ", 37);
    big[(1 << 20) - 1] = '\n';
    struct {
        const char *data;
        size_t len;
        int reset; /* close with RST instead of FIN */
    } cases[] = {
        {"<13>1 2026-11-25T10:00:00Z h app - - - seq=00000 valid 5424\n", 0, 0},
        {"51 <13>1 2026-11-25T10:00:00Z h app - - - seq=00001 oc", 0, 0},
        {"\x01\x02\xff\xfe garbage seq=00002 \xc3\x28\n", 0, 0},
        {"<999>bad pri seq=00003\n", 0, 0},
        {big, 1 << 20, 0},
        {"99999999999 <13>huge count seq=00005\n", 0, 0},
        {"500 <13>1 2026-11-25T10:00:00Z h app - - - seq=00006 cut", 0, 1},
        {"<13>1 2026-11-25T10:00:00Z h app - - - seq=00007 no newline at EOF", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = it_tcp_connect(p.port);
        ck_assert_int_ge(fd, 0);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].data);
        ck_assert_int_eq(it_send_all(fd, cases[i].data, len), 0);
        if (cases[i].reset) {
            vt_sleep_ms(100); /* let the head of the frame arrive first */
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
    }
    free(big);
    it_alerts_numbered(p.alerts, 8); /* each case arrived once */
    /* 8 messages and 3 datagrams; malformed: the bad PRI and the
     * datagrams; truncated: the 1 MB line (cut to 8 KiB) and the frame cut
     * by a reset (kept as far as it came). */
    ck_assert(it_collector_says(&p, "received=11 "));
    ck_assert(it_collector_says(&p, "malformed=4 truncated=2 "));
    ck_assert(it_collector_says(&p, "source unix agency=unknown messages=1 bytes=0 malformed=1 "));
    vt_pipe_destroy(&p);
    unlink(sock);
    *strrchr(sock, '/') = '\0';
    rmdir(sock);
}
END_TEST

/* 1,000 senders connected at the same time, one line each. */
START_TEST(test_1000_connections)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 1100) {
        printf("skipped: RLIMIT_NOFILE %lu < 1100\n", (unsigned long)rl.rlim_cur);
        return;
    }
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    enum { N = 1000 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = it_tcp_connect(p.port);
        ck_assert_int_ge(fds[i], 0);
    }
    for (int i = 0; i < N; i++) {
        char line[128];
        int n = snprintf(line, sizeof(line),
                         "<13>Nov 25 10:00:00 host%d vigiltest[%d]: vigil integration seq=%05d\n",
                         i % 7, i, i);
        ck_assert_int_eq(it_send_all(fds[i], line, (size_t)n), 0);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    ck_assert(vt_wait_lines(p.alerts, N, 30000));
    vt_sleep_ms(300);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N), 0);
    ck_assert(it_collector_says(&p, "tcp_total=1000 "));
    vt_pipe_destroy(&p);
}
END_TEST

/* IPv6 over TCP, and the local Unix datagram socket, with logger(1). And
 * dual-stack listeners ([::]): an IPv4 sender is 127.0.0.1 there as on an
 * IPv4 listener; before, it was ::ffff:127.0.0.1 (src, per-source
 * counters, the host of a message without one): one sender, two names. */
START_TEST(test_ipv6_and_unix_socket)
{
    vt_pipe p;
    char extra[600];
    char tmpdir[] = "/tmp/vigil-unix-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/log.sock", tmpdir);
    int dual = vt_free_port();
    ck_assert_int_gt(dual, 0);
    snprintf(extra, sizeof(extra),
             "    - tcp://[::1]:PORT\n    - unix://%s\n    - tcp://[::]:%d\n    - udp://[::]:%d\n",
             sock, dual, dual);
    ck_assert_int_eq(vt_pipe_init_ex(&p, IT_RULES, extra, NULL), 0);
    vt_pipe_start_all(&p);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "listening on tcp://[::1]:", 2000));
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", p.port);
    char *v6[] = {"logger", "--tcp", "-n", "::1", "-P", portbuf, "-t", "vigiltest", "--",
                  "vigil integration seq=00000", NULL};
    char *ux[] = {"logger", "-u", sock, "-t", "vigiltest", "--", "vigil integration seq=00001",
                  NULL};
    ck_assert_int_eq(vt_run(v6, 30), 0);
    ck_assert_int_eq(vt_run(ux, 30), 0);
    /* IPv4 to the dual-stack listeners, no HOSTNAME: the sender's address
     * is the host */
    int fd = it_tcp_connect(dual);
    ck_assert_int_ge(fd, 0);
    const char *l2 = "<13>Nov 25 10:00:00 vigiltest: vigil integration seq=00002\n";
    ck_assert_int_eq(it_send_all(fd, l2, strlen(l2)), 0);
    close(fd);
    it_datagram(dual, NULL, "<13>Nov 25 10:00:00 vigiltest: vigil integration seq=00003", 58);
    ck_assert(vt_wait_lines(p.alerts, 4, 20000));
    vt_sleep_ms(300);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, 4), 0);
    ck_assert(it_collector_says(&p, "source 127.0.0.1 agency=unknown messages=2 "));
    ck_assert(it_collector_says(&p, "host 127.0.0.1 messages=2 "));
    char *b = vt_read_file(p.alerts, NULL);
    ck_assert_ptr_null(strstr(b, "::ffff:"));
    ck_assert_ptr_nonnull(strstr(b, "seq=00001"));
    /* logger -u writes no HOSTNAME (as syslog(3) to /dev/log): the host is
     * this machine, not the transport's name "unix" */
    char host[256] = "", want[300];
    ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
    snprintf(want, sizeof(want), "\"host\":{\"name\":\"%s\"}", host);
    const char *ux_alert = strstr(b, "seq=00001");
    while (ux_alert > b && ux_alert[-1] != '\n')
        ux_alert--;
    const char *ux_end = strchr(ux_alert, '\n');
    const char *h = strstr(ux_alert, want);
    ck_assert_msg(h && (!ux_end || h < ux_end), "no %s in: %.*s", want,
                  ux_end ? (int)(ux_end - ux_alert) : 400, ux_alert);
    free(b);
    vt_pipe_destroy(&p);
    unlink(sock);
    rmdir(tmpdir);
}
END_TEST

/* Sends n datagrams "vigil integration seq=99999" with logger (UDP). */
static void it_logger_udp(vt_pipe *p, int n)
{
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", p->port);
    for (int i = 0; i < n; i++) {
        char *udp[] = {"logger", "-d", "-n", "127.0.0.1", "-P", portbuf, "-t", "vigiltest", "--",
                       "vigil integration seq=99999", NULL};
        ck_assert_int_eq(vt_run(udp, 10), 0);
    }
}

/* A full spool pauses TCP intake (senders wait; nothing lost) and refuses
 * datagrams (counted); when the correlator drains it, intake resumes. */
START_TEST(test_backpressure_spool_full)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, IT_RULES, NULL, "  spool_size: 4M\n  spool_limit: 512K\n"),
                     0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    enum { N = 20000 };
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, N, file, sizeof(file)), 0);
    pid_t sender = fork();
    if (sender == 0)
        _exit(it_logger_tcp(&p, file, NULL) == 0 ? 0 : 1);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert_msg(vt_wait_text(log, "spool full", 30000), "collector never paused");
    /* While paused, datagrams are refused and counted. */
    it_logger_udp(&p, 5);
    ck_assert(it_collector_says(&p, "dropped=5 "));
    ck_assert(it_collector_says(&p, "paused=1 "));
    /* Held back: what the collector has not read waits in the kernel's
     * socket buffers and in logger. */
    vt_sleep_ms(500);
    kill(p.pid[VT_COLLECTOR], SIGUSR1);
    vt_sleep_ms(200);
    char *lb = vt_read_file(log, NULL);
    char *last = lb ? strstr(lb, "stats: received=") : NULL;
    for (char *q = last; q; q = strstr(q + 1, "stats: received="))
        last = q;
    ck_assert_ptr_nonnull(last);
    long got = atol(last + strlen("stats: received="));
    free(lb);
    ck_assert_msg(got < N, "collector read all %ld lines despite a full spool", got);
    int st;
    vt_pipe_start(&p, VT_CORRELATOR);
    ck_assert_int_eq(waitpid(sender, &st, 0), sender);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    bool all = vt_wait_lines(p.alerts, N, 120000);
    vt_sleep_ms(500);
    ck_assert_msg(all, "only %ld of %d alerts arrived", vt_count_lines(p.alerts), N);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N), 0);
    ck_assert(vt_wait_text(log, "resuming intake (5 datagrams refused so far)", 100));
    vt_pipe_destroy(&p);
}
END_TEST

/* Runs "vigil-collector --dump-spool" and returns its output (malloc'ed). */
static char *it_dump_spool(vt_pipe *p)
{
    char out[400], cmd[1200];
    snprintf(out, sizeof(out), "%s/dump.json", p->dir);
    snprintf(cmd, sizeof(cmd), "%s -c %s --dump-spool > %s", vt_bin("collector/vigil-collector"),
             p->config, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    if (vt_run(argv, 30) != 0)
        return NULL;
    return vt_read_file(out, NULL);
}

/* Returns the dump line holding needle (copied into line), or false. */
static bool it_dump_line(const char *dump, const char *needle, char *line, size_t cap)
{
    const char *m = strstr(dump, needle);
    if (!m)
        return false;
    const char *b = m, *e = strchr(m, '\n');
    while (b > dump && b[-1] != '\n')
        b--;
    size_t n = (size_t)((e ? e : m + strlen(m)) - b);
    snprintf(line, cap, "%.*s", (int)n, b);
    return true;
}

/* Datagrams refused while the spool is full are told of as the collector's
 * own notice (rules/vigil.yml) at the resume, and at a stop that comes
 * before it: before, a collector stopped while paused spooled no notice,
 * and the count started again at 0 with the next start. Each refusal is
 * counted under the agency the message would have had (HOSTNAME pattern
 * first, as when taken): before, a UDP one was tagged by its network alone
 * and a Unix one always "unknown". */
START_TEST(test_refused_noticed_at_stop)
{
    vt_pipe p;
    char sock[300], extra[400];
    snprintf(sock, sizeof(sock), "%s", "/tmp/vigil-refuse-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sock));
    strcat(sock, "/log.sock");
    snprintf(extra, sizeof(extra), "    - unix://%s\n", sock);
    const char *conf = "  spool_size: 4M\n  spool_limit: 512K\n  sources:\n"
                       "    - agency: aviation\n      hosts: [\"*-tsn-*\"]\n"
                       "    - agency: railway\n      networks: [127.0.0.0/8]\n";
    ck_assert_int_eq(vt_pipe_init_ex(&p, IT_RULES, extra, conf), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    char file[400], log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000)); /* listening, SIGUSR1 handled */
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, 20000, file, sizeof(file)), 0);
    pid_t sender = fork();
    if (sender == 0)
        _exit(it_logger_tcp(&p, file, NULL) == 0 ? 0 : 1);
    ck_assert_msg(vt_wait_text(log, "spool full", 30000), "collector never paused");
    it_logger_udp(&p, 3);
    const char *tsn = "<13>Nov 25 10:00:00 fids-tsn-01 app: refused";
    it_datagram(p.port, NULL, tsn, strlen(tsn));
    it_datagram(0, sock, tsn, strlen(tsn));
    ck_assert(it_collector_says(&p, "dropped=5 "));
    ck_assert(it_collector_says(&p, "agency aviation messages=0 bytes=0 malformed=0 truncated=0 "
                                    "dropped=2 "));
    ck_assert(it_collector_says(&p, "source unix agency=aviation messages=0 "));
    kill(sender, SIGKILL);
    waitpid(sender, NULL, 0);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    char *dump = it_dump_spool(&p), line[2000];
    ck_assert_ptr_nonnull(dump);
    ck_assert_msg(it_dump_line(dump, "intake loss: 5 UDP datagrams (5 in all) were refused while "
                               "the spool was full", line, sizeof(line)),
                  "no notice in the spool");
    ck_assert_ptr_nonnull(strstr(line, "\"vigil-collector\""));
    free(dump);
    vt_pipe_destroy(&p);
    unlink(sock);
    *strrchr(sock, '/') = '\0';
    rmdir(sock);
}
END_TEST

/* logger(1) in every form units use: RFC 3164 and 5424, UDP and TCP, both
 * TCP framings, structured data with escapes; every field as parsed. */
/* spool_sync: commit (LMDB syncs each commit's pages before its meta page,
 * so a power cut cannot leave the spool damaged): said at the start, and
 * every line goes through exactly once. */
START_TEST(test_spool_sync_commit)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, IT_RULES, NULL, "  spool_sync: commit\n"), 0);
    vt_pipe_start_all(&p);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " events waiting for the correlator; each commit synced before "
                                "the next (spool_sync: commit)\n", 1000));
    enum { N = 2000 };
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, N, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, N, 30000));
    vt_sleep_ms(300);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N), 0);
    vt_pipe_destroy(&p);
}
END_TEST

START_TEST(test_logger_forms_parsed_exactly)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    char port[16], host[256];
    snprintf(port, sizeof(port), "%d", p.port);
    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    char *udp3164[] = {"logger", "-d", "--rfc3164", "-n", "127.0.0.1", "-P", port, "-t", "app1",
                       "-p", "local3.warning", "--id=4242", "--", "udp 3164 message", NULL};
    char *tcp3164[] = {"logger", "--tcp", "--rfc3164", "-n", "127.0.0.1", "-P", port, "-t",
                       "app2", "-p", "auth.info", "--", "tcp lf 3164 message", NULL};
    char *oct5424[] = {"logger", "--tcp", "--octet-count", "--rfc5424=notq", "-n", "127.0.0.1",
                       "-P", port, "-t", "app3", "--id=77", "--msgid", "ID42", "--sd-id",
                       "exampleSDID@32473", "--sd-param", "iut=\"3\"", "--sd-param",
                       "eventSource=\"App\\]x\"", "--", "tcp octet 5424 message", NULL};
    char *lf5424[] = {"logger", "--tcp", "--rfc5424=notq", "-n", "127.0.0.1", "-P", port, "-t",
                      "app4", "-p", "daemon.err", "--", "tcp lf 5424 message", NULL};
    char *udp5424[] = {"logger", "-d", "-n", "127.0.0.1", "-P", port, "-t", "app5", "--", "udp 5424 message", NULL};
    char **cmds[] = {udp3164, tcp3164, oct5424, lf5424, udp5424};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(vt_run(cmds[i], 30), 0);
    ck_assert(it_collector_says(&p, "spooled=5 "));
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    char line[4096], want[1024];
    ck_assert(it_dump_line(dump, "udp 3164 message", line, sizeof(line)));
    snprintf(want, sizeof(want), "\"pri\":156,\"flags\":[],\"host\":\"%s\",\"app\":\"app1\","
             "\"procid\":\"4242\",\"msgid\":null,\"sd\":null,\"msg\":\"udp 3164 message\","
             "\"src\":\"127.0.0.1\",\"agency\":\"unknown\",\"site\":\"unknown\",\"reason\":null", host);
    ck_assert_msg(strstr(line, want), "got %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "tcp lf 3164 message", line, sizeof(line)));
    snprintf(want, sizeof(want), "\"pri\":38,\"flags\":[],\"host\":\"%s\",\"app\":\"app2\","
             "\"procid\":null,\"msgid\":null,\"sd\":null,\"msg\":\"tcp lf 3164 message\"", host);
    ck_assert_msg(strstr(line, want), "got %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "tcp octet 5424 message", line, sizeof(line)));
    snprintf(want, sizeof(want), "\"pri\":13,\"flags\":[\"rfc5424\"],\"host\":\"%s\",\"app\":\"app3\","
             "\"procid\":\"77\",\"msgid\":\"ID42\",\"sd\":\"[exampleSDID@32473 iut=\\\"3\\\" "
             "eventSource=\\\"App\\\\]x\\\"]\",\"msg\":\"tcp octet 5424 message\"", host);
    ck_assert_msg(strstr(line, want), "got %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "tcp lf 5424 message", line, sizeof(line)));
    snprintf(want, sizeof(want), "\"pri\":27,\"flags\":[\"rfc5424\"],\"host\":\"%s\",\"app\":\"app4\","
             "\"procid\":null,\"msgid\":null,\"sd\":null,\"msg\":\"tcp lf 5424 message\"", host);
    ck_assert_msg(strstr(line, want), "got %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "udp 5424 message", line, sizeof(line)));
    snprintf(want, sizeof(want), "\"pri\":13,\"flags\":[\"rfc5424\"],\"host\":\"%s\",\"app\":\"app5\","
             "\"procid\":null,\"msgid\":null,\"sd\":\"[timeQuality tzKnown=\\\"1\\\" isSynced=\\\"", host);
    ck_assert_msg(strstr(line, want), "got %s\nwant %s", line, want);
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* Odd but usable intake, end to end through a real collector: an RFC 5424
 * VERSION other than 1 is spooled parsed, flagged "unknown_version" and
 * counted (stats unknown_version=), and the RFC 3164 TAGs "sshd[]:" and
 * "sshd:text" give the program as rsyslog does. Before, the version went
 * unmarked and uncounted, and both TAGs stayed in MSG. */
START_TEST(test_odd_intake_flagged_and_parsed)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    static const char *const lines[] = {
        "<34>2 2026-11-25T10:00:00Z h1 app 12 ID1 - version two message",
        "<13>Nov 25 10:00:00 h2 sshd[]: empty pid message",
        "<13>Nov 25 10:00:00 h3 sshd:glued tag message",
        "<34>1 2026-11-25T10:00:00Z h4 app 12 ID1 - version one message",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        it_datagram(p.port, NULL, lines[i], strlen(lines[i]));
    ck_assert(it_collector_says(&p, "spooled=4 "));
    ck_assert(it_collector_says(&p, " unknown_version=1 "));
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    static const struct {
        const char *needle, *want;
    } want[] = {
        {"version two message", "\"pri\":34,\"flags\":[\"rfc5424\",\"unknown_version\"],"
                                "\"host\":\"h1\",\"app\":\"app\",\"procid\":\"12\","
                                "\"msgid\":\"ID1\",\"sd\":null,\"msg\":\"version two message\""},
        {"empty pid message", "\"flags\":[],\"host\":\"h2\",\"app\":\"sshd\",\"procid\":null,"
                              "\"msgid\":null,\"sd\":null,\"msg\":\"empty pid message\""},
        {"glued tag message", "\"flags\":[],\"host\":\"h3\",\"app\":\"sshd\",\"procid\":null,"
                              "\"msgid\":null,\"sd\":null,\"msg\":\"glued tag message\""},
        {"version one message", "\"pri\":34,\"flags\":[\"rfc5424\"],\"host\":\"h4\""},
    };
    char line[4096];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_msg(it_dump_line(dump, want[i].needle, line, sizeof(line)), "%s missing",
                      want[i].needle);
        ck_assert_msg(strstr(line, want[i].want), "got %s\nwant %s", line, want[i].want);
    }
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* A run of NUL bytes between frames (garbage from a hostile sender, a
 * file's zeroed tail after a crash) is skipped but counted in
 * skipped_bytes, and the lines around it are kept. Before, 100,000 NULs
 * vanished: no message, no byte counted anywhere. Empty lines stay
 * separators, uncounted. */
START_TEST(test_nul_run_counted)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, ANY_RULE), 0);
    vt_pipe_start_all(&p);
    size_t nul = 100000;
    char *s = calloc(1, nul + 256);
    ck_assert_ptr_nonnull(s);
    int n = sprintf(s, "<13>Nov 25 10:00:00 h app: seq=00000 before\n\r\n\n");
    n += (int)nul; /* the NULs calloc left */
    n += sprintf(s + n, "<13>Nov 25 10:00:00 h app: seq=00001 after\n");
    n += 10; /* ten more NULs, and the close */
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, s, (size_t)n), 0);
    close(fd);
    free(s);
    it_alerts_numbered(p.alerts, 2);
    ck_assert(it_collector_says(&p, "received=2 "));
    ck_assert(it_collector_says(&p, "malformed=0 truncated=0 skipped_bytes=100010 "));
    vt_pipe_destroy(&p);
}
END_TEST

/* One write carrying a line longer than max_message_size followed by five
 * short lines: the long line is kept cut to 1 KiB and flagged, and every
 * line after its newline is framed as usual (they were dropped unseen when
 * the rest of the read was taken for the long line's tail). */
START_TEST(test_long_line_then_short_lines)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, IT_RULES, NULL, "  max_message_size: 1K\n"), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    enum { LONG = 3000, SHORT = 5, MAX = 1024 };
    const char *head = "<13>Nov 25 10:00:00 h app: ", *lines[SHORT] = {
        "<13>Nov 25 10:00:01 h app: short seq=00000", "<13>Nov 25 10:00:02 h app: short seq=00001",
        "<13>Nov 25 10:00:03 h app: short seq=00002", "<13>Nov 25 10:00:04 h app: short seq=00003",
        "<13>Nov 25 10:00:05 h app: short seq=00004"};
    char *data = malloc(LONG + 1 + SHORT * 64);
    memset(data, 'L', LONG);
    memcpy(data, head, strlen(head));
    data[LONG] = '\n';
    size_t len = LONG + 1;
    for (int i = 0; i < SHORT; i++)
        len += (size_t)sprintf(data + len, "%s\n", lines[i]);
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, data, len), 0); /* one write: one read, as a rule */
    close(fd);
    ck_assert(it_collector_says(&p, "spooled=6 "));
    /* bytes: the cut line (1024) and five lines of 42; skipped: the rest
     * of the long line (3000 - 1024) */
    ck_assert(it_collector_says(
        &p, "received=6 bytes=1234 malformed=0 truncated=1 skipped_bytes=1976 spooled=6 "));
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    /* Exactly six events, in the order sent: the cut line, then seq 0..4. */
    char want[4096], line[8192];
    const char *at = dump;
    for (int i = 0; i <= SHORT; i++) {
        char seq[32];
        snprintf(seq, sizeof(seq), "{\"seq\":%d,", i + 1);
        ck_assert_msg(strncmp(at, seq, strlen(seq)) == 0, "event %d: %.200s", i + 1, at);
        ck_assert(it_dump_line(at, seq, line, sizeof(line)));
        const char *text = i ? lines[i - 1] : data;
        size_t tlen = i ? strlen(text) : MAX, hlen = strlen(head);
        snprintf(want, sizeof(want),
                 "\"flags\":[%s],\"host\":\"h\",\"app\":\"app\",\"procid\":null,\"msgid\":null,"
                 "\"sd\":null,\"msg\":\"%.*s\",\"src\":\"127.0.0.1\",\"agency\":\"unknown\","
                 "\"site\":\"unknown\",\"reason\":%s,\"raw\":\"%.*s\"}",
                 i ? "" : "\"truncated\"", (int)(tlen - hlen), text + hlen,
                 i ? "null" : "\"truncated to max_message_size\"", (int)tlen, text);
        if (!strstr(line, want))
            printf("got  %s\nwant %s\n", line, want); /* too long for a Check message */
        ck_assert_msg(strstr(line, want), "event %d differs", i + 1);
        at = strchr(at, '\n') + 1;
    }
    ck_assert_str_eq(at, "");
    free(data);
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* 200 octet-counted frames on one connection, the 101st with a count one
 * byte short: its last byte is kept as a message of its own, flagged
 * malformed (a framing error), and the 99 frames after it arrive intact
 * (199 intact, the short one and the fragment, in the spool exactly).
 * Before, framing fell back to LF after it: 8 KiB kept as one truncated
 * message and every frame after it skipped up to an LF that an
 * octet-counted stream never sends, lost without a trace. */
START_TEST(test_octet_count_wrong_resyncs)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, NULL), 0);
    vt_pipe_start_all(&p);
    /* no correlator: the events stay in the spool, for --dump-spool */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    enum { N = 200, BAD = 100 };
    char *s = malloc(N * 64);
    ck_assert_ptr_nonnull(s);
    size_t n = 0, bytes = 0;
    for (int i = 0; i < N; i++) {
        char body[64];
        int b = snprintf(body, sizeof(body), "<13>Nov 25 10:00:00 h app: seq=%05d x", i);
        n += (size_t)sprintf(s + n, "%d %s", i == BAD ? b - 1 : b, body);
        bytes += (size_t)b;
    }
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, s, n), 0);
    close(fd);
    free(s);
    /* 201 messages of all the bytes sent; malformed: the fragment */
    char want[400], line[1024];
    snprintf(want, sizeof(want),
             "received=%d bytes=%zu malformed=1 truncated=0 skipped_bytes=0 spooled=%d ", N + 1,
             bytes, N + 1);
    ck_assert_msg(it_collector_says(&p, want), "no '%s'", want);
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    /* in the order sent: 0..99 whole, 100 less its x, the x flagged, 101..199 whole */
    const char *at = dump;
    for (int i = 0; i <= N; i++) {
        int m = i <= BAD ? i : i - 1;
        ck_assert_msg(snprintf(line, sizeof(line), "{\"seq\":%d,", i + 1) > 0 &&
                          strncmp(at, line, strlen(line)) == 0,
                      "event %d: %.200s", i + 1, at);
        const char *e = strchr(at, '\n');
        ck_assert_ptr_nonnull(e);
        snprintf(line, sizeof(line), "%.*s", (int)(e - at), at);
        if (i == BAD + 1)
            snprintf(want, sizeof(want),
                     "\"flags\":[\"malformed\",\"no_ts\",\"no_host\"],\"host\":\"127.0.0.1\","
                     "\"app\":null,\"procid\":null,\"msgid\":null,\"sd\":null,\"msg\":\"x\","
                     "\"src\":\"127.0.0.1\",\"agency\":\"unknown\",\"site\":\"unknown\","
                     "\"reason\":\"octet-counted framing lost: bytes where a frame should start "
                     "(a count that did not match its frame?), kept up to the next frame\","
                     "\"raw\":\"x\"}");
        else
            snprintf(want, sizeof(want),
                     "\"flags\":[],\"host\":\"h\",\"app\":\"app\",\"procid\":null,"
                     "\"msgid\":null,\"sd\":null,\"msg\":\"seq=%05d%s\",\"src\":\"127.0.0.1\","
                     "\"agency\":\"unknown\",\"site\":\"unknown\",\"reason\":null,"
                     "\"raw\":\"<13>Nov 25 10:00:00 h app: seq=%05d%s\"}",
                     m, i == BAD ? " " : " x", m, i == BAD ? " " : " x");
        ck_assert_msg(strstr(line, want), "event %d: %s\nwant %s", i + 1, line, want);
        at = e + 1;
    }
    ck_assert_str_eq(at, "");
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* A last line without its LF, ended by the peer's reset (SO_LINGER 0:
 * RST), is flagged truncated with the reason naming the reset; the same
 * line ended by a FIN stays a line (many senders end without an LF).
 * Before, the reset left it unflagged, like the FIN. */
START_TEST(test_reset_cuts_partial_line)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, NULL), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, "<13>partial", 11), 0);
    vt_sleep_ms(100); /* read by the collector before the reset */
    struct linger lg = {1, 0};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd);
    ck_assert(it_collector_says(&p, "spooled=1 "));
    fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, "<13>finished", 12), 0);
    close(fd);
    ck_assert(it_collector_says(&p, "spooled=2 "));
    ck_assert(it_collector_says(&p, "received=2 "));
    ck_assert(it_collector_says(&p, "malformed=0 truncated=1 "));
    char *dump = it_dump_spool(&p), line[2000];
    ck_assert_ptr_nonnull(dump);
    ck_assert(it_dump_line(dump, "{\"seq\":1,", line, sizeof(line)));
    const char *want = "\"flags\":[\"truncated\",\"no_ts\",\"no_host\"],\"host\":\"127.0.0.1\",\"app\":null,"
                       "\"procid\":null,\"msgid\":null,\"sd\":null,\"msg\":\"partial\","
                       "\"src\":\"127.0.0.1\",\"agency\":\"unknown\",\"site\":\"unknown\","
                       "\"reason\":\"line cut by a connection reset (the rest never came)\","
                       "\"raw\":\"<13>partial\"}";
    ck_assert_msg(strstr(line, want), "got  %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "{\"seq\":2,", line, sizeof(line)));
    want = "\"msg\":\"finished\",\"src\":\"127.0.0.1\",\"agency\":\"unknown\","
           "\"site\":\"unknown\",\"reason\":null,\"raw\":\"<13>finished\"}";
    ck_assert_msg(strstr(line, want), "got  %s\nwant %s", line, want);
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* An octet count whose frame never came ("50 " and the sender's close):
 * an empty message, malformed and truncated, whose reason says what cut
 * it, as for any frame cut short. Before, it said only "empty message"
 * (the parser's), which hid that a frame was cut. */
START_TEST(test_count_without_frame_says_cut)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, NULL), 0);
    vt_pipe_start(&p, VT_COLLECTOR); /* alone: the events stay in the spool, for --dump-spool */
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, "50 ", 3), 0);
    close(fd);
    ck_assert(it_collector_says(&p, "received=1 bytes=0 malformed=1 truncated=1 "));
    char *dump = it_dump_spool(&p), line[2000];
    ck_assert_ptr_nonnull(dump);
    ck_assert(it_dump_line(dump, "{\"seq\":1,", line, sizeof(line)));
    const char *want = "\"flags\":[\"malformed\",\"truncated\",\"no_ts\",\"no_host\"],"
                       "\"host\":\"127.0.0.1\",\"app\":null,\"procid\":null,\"msgid\":null,"
                       "\"sd\":null,\"msg\":\"\",\"src\":\"127.0.0.1\",\"agency\":\"unknown\","
                       "\"site\":\"unknown\",\"reason\":\"connection ended inside an "
                       "octet-counted frame\",\"raw\":\"\"}";
    ck_assert_msg(strstr(line, want), "got  %s\nwant %s", line, want);
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* A datagram longer than max_message_size (8 KiB here): the rest of it is
 * counted in skipped_bytes, as a stream's is; for a Unix datagram longer
 * than the 64 KiB the collector reads, also what the kernel cut off. So
 * bytes and skipped_bytes together hold every byte sent. Before, a
 * datagram's rest was counted nowhere. */
START_TEST(test_datagram_rest_counted)
{
    vt_pipe p;
    char sock[100], extra[140]; /* sock fits sun_path */
    snprintf(sock, sizeof(sock), "%s", "/tmp/vigil-rest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sock));
    strcat(sock, "/log.sock");
    snprintf(extra, sizeof(extra), "    - unix://%s\n", sock);
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, extra, NULL), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    enum { MAX = 8192, UDP = 9000, UNIX = 70000 };
    char *d = malloc(UNIX);
    ck_assert_ptr_nonnull(d);
    memset(d, 'A', UNIX);
    memcpy(d, "<13>Nov 25 10:00:00 h app: seq=00000 ", 37);
    it_datagram(p.port, NULL, d, UDP);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0), sndbuf = 1 << 20;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", sock);
    ck_assert_int_eq(sendto(fd, d, UNIX, 0, (struct sockaddr *)&un, sizeof(un)), UNIX);
    close(fd);
    free(d);
    char want[200];
    snprintf(want, sizeof(want), "received=2 bytes=%d malformed=0 truncated=2 skipped_bytes=%d ",
             2 * MAX, UDP + UNIX - 2 * MAX);
    ck_assert_msg(it_collector_says(&p, want), "no '%s'", want);
    vt_pipe_destroy(&p);
    unlink(sock);
    *strrchr(sock, '/') = '\0';
    rmdir(sock);
}
END_TEST

/* --dump-spool prints each field byte-exact: a field that is not UTF-8
 * has each bad byte as \xHH and each backslash as \\ in its text, and is
 * named in "escaped"; a valid one is plain JSON. Before, the bad bytes
 * were printed as U+FFFD, though the spool keeps them. */
START_TEST(test_dump_spool_bytes_exact)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, NULL), 0);
    vt_pipe_start_all(&p);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGKILL), 128 + SIGKILL);
    const char *s = "<13>Nov 25 10:00:00 h app: a\xff\\xff b\xc3\x28 \xe2\x82\xac\n"
                    "<13>Nov 25 10:00:00 h app: C:\\path \xe2\x82\xac\n";
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, s, strlen(s)), 0);
    close(fd);
    ck_assert(it_collector_says(&p, "spooled=2 "));
    char *dump = it_dump_spool(&p), line[2000];
    ck_assert_ptr_nonnull(dump);
    ck_assert(it_dump_line(dump, "{\"seq\":1,", line, sizeof(line)));
    const char *want = "\"flags\":[],\"host\":\"h\",\"app\":\"app\",\"procid\":null,\"msgid\":null,"
                       "\"sd\":null,\"msg\":\"a\\\\xff\\\\\\\\xff b\\\\xc3( \xe2\x82\xac\","
                       "\"src\":\"127.0.0.1\",\"agency\":\"unknown\",\"site\":\"unknown\","
                       "\"reason\":null,\"raw\":\"<13>Nov 25 10:00:00 h app: a\\\\xff\\\\\\\\xff "
                       "b\\\\xc3( \xe2\x82\xac\",\"escaped\":[\"msg\",\"raw\"]}";
    ck_assert_msg(strstr(line, want), "got  %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "{\"seq\":2,", line, sizeof(line)));
    want = "\"msg\":\"C:\\\\path \xe2\x82\xac\",\"src\":\"127.0.0.1\",\"agency\":\"unknown\","
           "\"site\":\"unknown\",\"reason\":null,\"raw\":\"<13>Nov 25 10:00:00 h app: C:\\\\path "
           "\xe2\x82\xac\"}";
    ck_assert_msg(strstr(line, want), "got  %s\nwant %s", line, want);
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* A sender that trickles one byte at a time, and one that half-closes
 * (shutdown of its write side) right after its last line. */
START_TEST(test_slow_and_half_closed_senders)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    const char *slow = "<13>Nov 25 10:00:00 slowhost vigiltest: vigil integration seq=00000\n";
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    for (const char *q = slow; *q; q++) {
        ck_assert_int_eq(write(fd, q, 1), 1);
        vt_sleep_ms(3);
    }
    int fd2 = it_tcp_connect(p.port);
    const char *half = "<13>Nov 25 10:00:00 halfhost vigiltest: vigil integration seq=00001";
    ck_assert_int_eq(it_send_all(fd2, half, strlen(half)), 0);
    shutdown(fd2, SHUT_WR);
    ck_assert(vt_wait_lines(p.alerts, 2, 20000));
    close(fd);
    close(fd2);
    vt_sleep_ms(300);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, 2), 0);
    char *b = vt_read_file(p.alerts, NULL);
    ck_assert_ptr_nonnull(strstr(b, "\"host\":{\"name\":\"slowhost\"}"));
    ck_assert_ptr_nonnull(strstr(b, "\"host\":{\"name\":\"halfhost\"}"));
    free(b);
    vt_pipe_destroy(&p);
}
END_TEST

static int it_tcp6_connect(int port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether the collector closed fd within ms: EOF or a reset on read. */
static bool it_closed_within(int fd, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, ms) != 1)
        return false;
    char b[16];
    return read(fd, b, sizeof(b)) <= 0;
}

static int it_send_seq(int fd, const char *host, int seq)
{
    char line[128];
    int n = snprintf(line, sizeof(line),
                     "<13>Nov 25 10:00:00 %s vigiltest: vigil integration seq=%05d\n", host, seq);
    return it_send_all(fd, line, (size_t)n);
}

/* Starts the pipeline with a TLS listener on ::1 (the test CA's server
 * certificate, made into DIR/certs) and the collector settings coll, which
 * name certs/server.pem and certs/server.key; certs gets DIR/certs. */
static void it_tls_pipe(vt_pipe *p, const char *rules, const char *coll, char *certs, size_t cap)
{
    ck_assert_int_eq(vt_pipe_init_ex(p, rules, "    - tls://[::1]:PORT\n", coll), 0);
    snprintf(certs, cap, "%s/certs", p->dir);
    ck_assert_int_eq(mkdir(certs, 0700), 0);
    ck_assert_int_eq(it_make_certs(certs), 0);
    vt_pipe_start_all(p);
    char log[400];
    vt_pipe_log(p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "listening on tls://[::1]:", 5000));
}

/* Connection limits and timeouts (a sender flood, port scans, peers that
 * vanish): max_connections and max_connections_per_ip close the ones past
 * them at once, counted and logged; a TLS connection with no handshake is
 * closed after tls_handshake_timeout; a silent one after idle_timeout, not
 * one that keeps sending. A reload changes the limits. Before, all of them
 * stayed open as long as the peer wished. */
START_TEST(test_connection_limits)
{
    vt_pipe p;
    const char *coll = "  max_connections: 6\n  max_connections_per_ip: 4\n"
                       "  tls_handshake_timeout: 1s\n  idle_timeout: 4s\n"
                       "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], log[400];
    it_tls_pipe(&p, IT_RULES, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));

    /* 4 from 127.0.0.1 fit; the 5th is closed at once */
    int plain[4];
    for (int i = 0; i < 4; i++) {
        plain[i] = it_tcp_connect(p.port);
        ck_assert_int_ge(plain[i], 0);
        ck_assert_int_eq(it_send_seq(plain[i], "lim", i), 0);
    }
    ck_assert(vt_wait_lines(p.alerts, 4, 20000)); /* all four read: accepted */
    int extra = it_tcp_connect(p.port);
    ck_assert_int_ge(extra, 0);
    ck_assert(it_closed_within(extra, 5000));
    close(extra);
    ck_assert(vt_wait_text(log, "closed: max_connections_per_ip (4) reached", 2000));
    /* 2 to the TLS port (::1) make 6; a 7th is past max_connections */
    int tls[2];
    for (int i = 0; i < 2; i++) {
        tls[i] = it_tcp6_connect(p.port);
        ck_assert_int_ge(tls[i], 0);
    }
    vt_sleep_ms(200); /* accepted in order */
    int seventh = it_tcp6_connect(p.port);
    ck_assert_int_ge(seventh, 0);
    ck_assert(it_closed_within(seventh, 5000));
    close(seventh);
    ck_assert_int_eq(it_send_seq(plain[0], "lim", 4), 0);
    /* no handshake on either: closed after ~1 s */
    for (int i = 0; i < 2; i++) {
        ck_assert(it_closed_within(tls[i], 5000));
        close(tls[i]);
    }
    /* plain[0] keeps sending (every 0.5 s for 5 s); the other three fall
     * silent and are closed after 4 s */
    for (int k = 0; k < 10; k++) {
        vt_sleep_ms(500);
        ck_assert_int_eq(it_send_seq(plain[0], "lim", 5 + k), 0);
    }
    for (int i = 1; i < 4; i++) {
        ck_assert(it_closed_within(plain[i], 2000));
        close(plain[i]);
    }
    ck_assert(!it_closed_within(plain[0], 100));
    ck_assert(vt_wait_lines(p.alerts, 15, 20000));
    ck_assert(it_collector_says(&p, "conns_refused=2 tls_handshake_timeouts=2 idle_closed=3 "));

    /* a reload: 2 per address now; plain[0] stays, one more fits, the next
     * does not */
    char *cfg = vt_read_file(p.config, NULL);
    char *at = strstr(cfg, "max_connections_per_ip: 4");
    ck_assert_ptr_nonnull(at);
    at[strlen("max_connections_per_ip: ")] = '2';
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "source map reloaded", 5000));
    int second = it_tcp_connect(p.port), third;
    ck_assert_int_ge(second, 0);
    ck_assert_int_eq(it_send_seq(second, "lim", 15), 0);
    ck_assert(vt_wait_lines(p.alerts, 16, 20000));
    third = it_tcp_connect(p.port);
    ck_assert_int_ge(third, 0);
    ck_assert(it_closed_within(third, 5000));
    close(third);
    close(second);
    close(plain[0]);
    ck_assert(it_collector_says(&p, "conns_refused=3 "));
    vt_sleep_ms(300);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, 16), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* A sender refused because others took every connection (a flood from
 * one host, under max_connections) is counted by its own address: the
 * SIGUSR1 report's source line has conns_refused. Before, it was counted
 * only in the collector's total, and the log's one line a minute named
 * the flooder: the sender shut out was seen nowhere. */
START_TEST(test_refused_counted_per_source)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, "    - tcp://[::1]:PORT\n",
                                     "  max_connections: 3\n"),
                     0);
    vt_pipe_start_all(&p);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "listening on tcp://[::1]:", 5000));
    int flood[4];
    for (int i = 0; i < 4; i++) {
        flood[i] = it_tcp_connect(p.port);
        ck_assert_int_ge(flood[i], 0);
        vt_sleep_ms(50); /* accepted in order */
    }
    ck_assert(it_closed_within(flood[3], 5000)); /* the 4th: past max_connections */
    int shut = it_tcp6_connect(p.port);
    ck_assert_int_ge(shut, 0);
    ck_assert(it_closed_within(shut, 5000));
    close(shut);
    ck_assert(it_collector_says(&p, "conns_refused=2 "));
    ck_assert(it_collector_says(&p, "source ::1 agency=unknown messages=0 bytes=0 malformed=0 "
                                    "truncated=0 dropped=0 conns_refused=1 last_seen=-\n"));
    ck_assert(it_collector_says(&p, "source 127.0.0.1 agency=unknown messages=0 bytes=0 "
                                    "malformed=0 truncated=0 dropped=0 conns_refused=1 "
                                    "last_seen=-\n"));
    /* logged once, naming the first */
    ck_assert_int_eq(vt_count_text(log, "closed: max_connections (3) reached"), 1);
    ck_assert_int_eq(vt_count_text(log, "warning: connection from 127.0.0.1 closed: "
                                        "max_connections (3) reached"),
                     1);
    /* room again: the sender shut out gets in */
    close(flood[0]);
    close(flood[3]);
    vt_sleep_ms(200);
    shut = it_tcp6_connect(p.port);
    ck_assert_int_ge(shut, 0);
    ck_assert_int_eq(it_send_seq(shut, "shut", 0), 0);
    ck_assert(vt_wait_lines(p.alerts, 1, 20000));
    ck_assert(it_collector_says(&p, "source ::1 agency=unknown messages=1 "));
    close(shut);
    for (int i = 1; i < 3; i++)
        close(flood[i]);
    vt_pipe_destroy(&p);
}
END_TEST

/* What the collector has read of an unfinished frame when it closes the
 * connection itself (idle_timeout, SIGTERM) is kept (an octet-counted frame
 * flagged truncated, a line without its LF flagged truncated too, its
 * reason naming idle_timeout: the collector ended it, not the sender):
 * before, it was freed with the connection's buffer, unseen and
 * uncounted; then (until session 20) the idle-closed line was kept
 * unflagged, as at the peer's FIN. And an octet-counted frame of more than 65536
 * bytes no longer takes the frames after it along (they end in no LF):
 * before, its count started an LF-framed line that ran over them. */
START_TEST(test_collector_close_keeps_partial_frame)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  idle_timeout: 2s\n"), 0);
    vt_pipe_start_all(&p);
    /* one frame of 70,000 bytes (cut to 8 KiB), then two short ones */
    size_t big = 70000;
    char *s = malloc(big + 256);
    ck_assert_ptr_nonnull(s);
    int n = sprintf(s, "%zu <13>Nov 25 10:00:00 h app: seq=00000 ", big);
    size_t head = strlen(strchr(s, '<'));
    memset(s + n, 'A', big - head);
    n += (int)(big - head);
    for (int i = 1; i <= 2; i++) {
        char body[64];
        snprintf(body, sizeof(body), "<13>Nov 25 10:00:00 h app: seq=%05d ok", i);
        n += sprintf(s + n, "%zu %s", strlen(body), body);
    }
    int a = it_tcp_connect(p.port);
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(it_send_all(a, s, (size_t)n), 0);
    free(s);
    /* a whole line and the start of another, then silence: idle_timeout */
    const char *part = "<13>Nov 25 10:00:00 h app: seq=00003 whole\n"
                       "<13>Nov 25 10:00:00 h app: seq=00004 unfinished";
    ck_assert_int_eq(it_send_all(a, part, strlen(part)), 0);
    ck_assert(it_closed_within(a, 6000));
    close(a);
    ck_assert(vt_wait_lines(p.alerts, 5, 20000));
    ck_assert(it_collector_says(&p, "received=5 "));
    /* truncated: the long frame, and the unfinished line idle_timeout cut */
    ck_assert(it_collector_says(&p, "malformed=0 truncated=2 "));
    /* an octet-counted frame half sent when the collector stops */
    int b = it_tcp_connect(p.port);
    ck_assert_int_ge(b, 0);
    const char *half = "80 <13>Nov 25 10:00:00 h app: seq=00005 half";
    ck_assert_int_eq(it_send_all(b, half, strlen(half)), 0);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    vt_sleep_ms(500); /* read by the collector */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    close(b);
    ck_assert(vt_wait_text(log, "received=6 ", 100));
    ck_assert(vt_wait_text(log, "malformed=0 truncated=3 ", 100)); /* cut by the stop */
    /* the final stats line: b was being closed, not open (it said 1) */
    ck_assert(vt_wait_text(log, "tcp_open=0 tcp_total=2 ", 100));
    vt_pipe_start(&p, VT_COLLECTOR); /* forwards what it spooled */
    it_alerts_numbered(p.alerts, 6);
    vt_pipe_destroy(&p);
}
END_TEST

static uint64_t it_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* frame_timeout under TLS: a connection that sent half a line (plaintext
 * held) is closed after it, with close_notify, the half kept and counted;
 * one silent between whole lines for longer is not (after the handshake
 * TLS holds no partial record then). */
START_TEST(test_tls_frame_timeout)
{
    vt_pipe p;
    const char *coll = "  frame_timeout: 1s\n"
                       "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    char py[400], out[400], cmd[1400];
    snprintf(py, sizeof(py), "%s/client.py", p.dir);
    snprintf(out, sizeof(out), "%s/client.out", p.dir);
    ck_assert_int_eq(
        vt_write_file(
            py, "import socket, ssl, sys, time\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
                "def conn():\n"
                "    s = socket.create_connection(('::1', int(sys.argv[1])), timeout=15)\n"
                "    return ctx.wrap_socket(s, server_hostname='localhost')\n"
                "a = conn()\n"
                "a.sendall(b'<13>Nov 25 10:00:00 h app: seq=00000 whole\\n')\n"
                "b = conn()\n"
                "b.sendall(b'<13>Nov 25 10:00:00 h app: seq=00001 half')\n"
                "t0 = time.time()\n"
                "b.settimeout(5)\n"
                "try:\n"
                "    print('closed' if b.recv(100) == b'' else 'data', flush=True)\n"
                "except socket.timeout:\n"
                "    print('open', flush=True)\n"
                "except ssl.SSLError as e:\n"
                "    print('cut:', e, flush=True)\n"
                "print('fast' if time.time() - t0 < 3 else 'slow', flush=True)\n"
                "a.sendall(b'<13>Nov 25 10:00:00 h app: seq=00002 after\\n')\n"
                "a.unwrap()\n"
                "print('a served', flush=True)\n"),
        0);
    snprintf(cmd, sizeof(cmd), "exec python3 %s %d %s/ca.pem > %s 2>&1", py, p.port, certs, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = vt_run(argv, 30);
    char *text = vt_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(rc == 0 && strcmp(text, "closed\nfast\na served\n") == 0, "rc %d: %s", rc, text);
    free(text);
    ck_assert(it_collector_says(&p, "received=3 "));
    ck_assert(it_collector_says(&p, " malformed=1 truncated=1 "));
    ck_assert(it_collector_says(&p, " idle_closed=0 frame_timeouts=1 "));
    vt_pipe_destroy(&p);
}
END_TEST

/* max_rate_per_ip under TLS: 300 lines in TLS records of up to 16 KiB
 * (the plaintext of one comes at once, past what the sender may hand on:
 * the rest is kept and framed as its bucket refills), at 100 a second:
 * all 300 spooled, after 2 s at least, one throttle. */
START_TEST(test_tls_rate_per_ip)
{
    vt_pipe p;
    const char *coll = "  max_rate_per_ip: 100\n"
                       "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], log[400];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    char py[400], out[400], cmd[1400];
    snprintf(py, sizeof(py), "%s/client.py", p.dir);
    snprintf(out, sizeof(out), "%s/client.out", p.dir);
    ck_assert_int_eq(
        vt_write_file(
            py, "import socket, ssl, sys\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
                "s = socket.create_connection(('::1', int(sys.argv[1])), timeout=15)\n"
                "a = ctx.wrap_socket(s, server_hostname='localhost')\n"
                "a.sendall(b''.join(b'<13>Nov 25 10:00:00 h app: seq=%05d tls\\n' % i\n"
                "                   for i in range(300)))\n"
                "a.unwrap()\n"
                "print('sent', flush=True)\n"),
        0);
    uint64_t t0 = it_now_ms();
    snprintf(cmd, sizeof(cmd), "exec python3 %s %d %s/ca.pem > %s 2>&1", py, p.port, certs, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = vt_run(argv, 30);
    char *text = vt_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(rc == 0 && strcmp(text, "sent\n") == 0, "rc %d: %s", rc, text);
    free(text);
    long got = 0;
    for (int i = 0; i < 300 && got < 300; i++) { /* at most 15 s */
        got = it_stat(&p, VT_COLLECTOR, "stats: received=", "stats: received=", true);
        if (got < 300)
            vt_sleep_ms(50);
    }
    uint64_t took = it_now_ms() - t0;
    ck_assert_int_eq(got, 300);
    ck_assert_msg(took >= 1950, "300 lines taken in %llu ms", (unsigned long long)took);
    ck_assert(it_collector_says(&p, " truncated=0 "));
    ck_assert(it_collector_says(&p, " malformed=0 "));
    ck_assert(it_collector_says(&p, " throttles=1 throttled_ms="));
    ck_assert(it_collector_says(&p, "source ::1 agency=unknown messages=300 "));
    ck_assert_int_eq(vt_count_text(log, "connection from ::1 held back: max_rate_per_ip (100 "
                                        "messages a second) reached; "),
                     1);
    ck_assert(vt_wait_lines(p.alerts, 300, 20000));
    vt_pipe_destroy(&p);
}
END_TEST

/* A slowloris: half a line, then a byte every 200 ms, never the LF. It is
 * never idle, so before frame_timeout nothing closed it. With
 * frame_timeout 1s (set by a reload, from 0: never) it is closed within about 2 s (the check runs each
 * second), counted once (frame_timeouts=1), and what it sent is one
 * record, raw as read, flagged malformed and truncated. A normal sender on
 * the same collector, silent between its lines for longer than the
 * timeout and sending a line in two halves 500 ms apart, is not closed. */
START_TEST(test_frame_timeout_slow_sender)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  frame_timeout: 0s\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR); /* alone: the events stay in the spool, for --dump-spool */
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    /* 0 (never) at the start, 1s from a reload on */
    char *cfg = vt_read_file(p.config, NULL);
    char *at = strstr(cfg, "frame_timeout: 0s");
    ck_assert_ptr_nonnull(at);
    at[strlen("frame_timeout: ")] = '1';
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "source map reloaded", 5000));
    int good = it_tcp_connect(p.port), slow = it_tcp_connect(p.port);
    ck_assert_int_ge(good, 0);
    ck_assert_int_ge(slow, 0);
    const char *l1 = "<13>Nov 25 10:00:00 h app: seq=00001 whole\n";
    ck_assert_int_eq(it_send_all(good, l1, strlen(l1)), 0);
    const char *half = "<13>Nov 25 10:00:00 h app: seq=00002 half";
    ck_assert_int_eq(it_send_all(slow, half, strlen(half)), 0);
    const char letters[] = "abcdefghijklmnopqrst";
    int sent = 0;
    bool closed = false;
    uint64_t t0 = it_now_ms();
    while (sent < (int)sizeof(letters) - 1) { /* at most 20 bytes: 4 s */
        if (it_closed_within(slow, 200)) {
            closed = true;
            break;
        }
        ck_assert_int_eq(it_send_all(slow, &letters[sent], 1), 0);
        sent++;
    }
    uint64_t took = it_now_ms() - t0;
    if (!closed)
        closed = it_closed_within(slow, 1000);
    ck_assert_msg(closed, "the slow sender was not closed after %d bytes", sent);
    ck_assert_msg(took < 3000, "closed after %llu ms", (unsigned long long)took);
    close(slow);
    /* the good sender: silent 1.2 s since its line (no frame open), then
     * a line in two halves 500 ms apart: still served */
    const char *l2a = "<13>Nov 25 10:00:00 h app: ", *l2b = "seq=00003 after\n";
    ck_assert_int_eq(it_send_all(good, l2a, strlen(l2a)), 0);
    ck_assert(!it_closed_within(good, 500));
    ck_assert_int_eq(it_send_all(good, l2b, strlen(l2b)), 0);
    ck_assert(!it_closed_within(good, 200));
    close(good);
    ck_assert(it_collector_says(&p, "received=3 "));
    ck_assert(it_collector_says(&p, " malformed=1 truncated=1 "));
    ck_assert(it_collector_says(&p, " idle_closed=0 frame_timeouts=1 "));
    ck_assert_int_eq(vt_count_text(log, "closed: its frame unfinished for "), 1);
    char *dump = it_dump_spool(&p), line[2000], want[1200];
    ck_assert_ptr_nonnull(dump);
    ck_assert(it_dump_line(dump, "seq=00002 half", line, sizeof(line)));
    /* the bytes as read: the half line and the letters read before the
     * close (the last one may have come after it, unread) */
    const char *raw = strstr(line, "\"raw\":\"");
    ck_assert_ptr_nonnull(raw);
    raw += 7;
    size_t n = strlen(half);
    ck_assert_int_eq(strncmp(raw, half, n), 0);
    int got = 0;
    while (got < sent && raw[n + (size_t)got] == letters[got])
        got++;
    ck_assert_msg(raw[n + (size_t)got] == '"' && got >= 4 && got >= sent - 1,
                  "raw %s: %d of the %d bytes sent", raw, got, sent);
    snprintf(want, sizeof(want),
             "\"flags\":[\"malformed\",\"truncated\",\"no_ts\",\"no_host\"],\"host\":\"127.0.0.1\","
             "\"app\":null,\"procid\":null,\"msgid\":null,\"sd\":null,\"msg\":\"%s%.*s\","
             "\"src\":\"127.0.0.1\",\"agency\":\"unknown\",\"site\":\"unknown\","
             "\"reason\":\"frame unfinished for the collector's frame_timeout (the sender "
             "trickled or stalled mid-frame): kept raw, as read\",\"raw\":\"%s%.*s\"}",
             half, got, letters, half, got, letters);
    ck_assert_msg(strstr(line, want), "got  %s\nwant %s", line, want);
    ck_assert(it_dump_line(dump, "seq=00003 after", line, sizeof(line)));
    ck_assert_ptr_nonnull(strstr(line, "\"flags\":[],"));
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* A sender that trickles only line ends and NULs (or, on an
 * octet-counted stream, empty frames "0 ") holds no unfinished frame, so
 * frame_timeout never closes it; before, each of its bytes reset
 * idle_timeout too, and it kept a connection slot for ever without
 * sending a message. Now only a message with content, or bytes of an
 * unfinished frame, are activity: both tricklers are closed by
 * idle_timeout (2 s here; the check runs each second) within 4 s of
 * their last message, counted in idle_closed (not frame_timeouts), while
 * a sender that trickles the bytes of one long line (a byte every 300 ms,
 * longer than idle_timeout in all) is not idle and stays open. */
START_TEST(test_idle_timeout_ignores_empty_frames)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  idle_timeout: 2s\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    int lf = it_tcp_connect(p.port), oc = it_tcp_connect(p.port), slow = it_tcp_connect(p.port);
    ck_assert_int_ge(lf, 0);
    ck_assert_int_ge(oc, 0);
    ck_assert_int_ge(slow, 0);
    const char *l1 = "<13>Nov 25 10:00:00 h app: seq=00001 lf\n";
    const char *o1 = "39 <13>Nov 25 10:00:00 h app: seq=00002 oc";
    const char *s1 = "<13>Nov 25 10:00:00 h app: seq=00003 slow ";
    ck_assert_int_eq((int)strlen(o1) - 3, 39);
    ck_assert_int_eq(it_send_all(lf, l1, strlen(l1)), 0);
    ck_assert_int_eq(it_send_all(oc, o1, strlen(o1)), 0);
    ck_assert_int_eq(it_send_all(slow, s1, strlen(s1)), 0);
    uint64_t t0 = it_now_ms(), lf_at = 0, oc_at = 0;
    bool slow_cut = false;
    /* every 100 ms: "\n" or a NUL on lf, "0 " on oc, a letter on slow
     * (each third round), for at most 6 s */
    for (int r = 0; r < 60 && (!lf_at || !oc_at); r++) {
        vt_sleep_ms(100);
        if (!lf_at) {
            if (it_closed_within(lf, 0))
                lf_at = it_now_ms() - t0;
            else
                ck_assert_int_eq(it_send_all(lf, r % 2 ? "\n" : "\0", 1), 0);
        }
        if (!oc_at) {
            if (it_closed_within(oc, 0))
                oc_at = it_now_ms() - t0;
            else
                ck_assert_int_eq(it_send_all(oc, "0 ", 2), 0);
        }
        if (r % 3 == 0) {
            if (it_closed_within(slow, 0))
                slow_cut = true;
            else
                ck_assert_int_eq(it_send_all(slow, "x", 1), 0);
        }
    }
    ck_assert_msg(lf_at && lf_at < 4000, "the line-end trickler closed after %llu ms (0: never)",
                  (unsigned long long)lf_at);
    ck_assert_msg(oc_at && oc_at < 4000, "the empty-frame trickler closed after %llu ms (0: never)",
                  (unsigned long long)oc_at);
    ck_assert_msg(!slow_cut, "the sender of a slow line was closed as idle");
    ck_assert_int_eq(it_send_all(slow, "end\n", 4), 0);
    ck_assert(!it_closed_within(slow, 300));
    close(lf);
    close(oc);
    close(slow);
    ck_assert(it_collector_says(&p, " idle_closed=2 frame_timeouts=0 "));
    ck_assert_int_eq(vt_count_text(log, "closed: idle for 2000 ms (idle_timeout)"), 2);
    char *dump = it_dump_spool(&p), line[2000];
    ck_assert_ptr_nonnull(dump);
    ck_assert(it_dump_line(dump, "seq=00001 lf", line, sizeof(line)));
    ck_assert(it_dump_line(dump, "seq=00002 oc", line, sizeof(line)));
    ck_assert(it_dump_line(dump, "seq=00003 slow xxx", line, sizeof(line)));
    ck_assert_ptr_nonnull(strstr(line, "\"flags\":[],"));
    ck_assert_ptr_nonnull(strstr(line, "xend\"}"));
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* Empty octet-counted frames trickled with the "0" and its SP in reads of
 * their own: each "0" was held, unfinished, until its SP came, and counted
 * as activity, so the sender was never idle (with its bytes 100 ms apart,
 * the close came idle_timeout after the trickle ended, not after its last
 * message). Now the count of a frame is no activity whatever the split:
 * "0", " ", "0", " " one byte per write, and "0 0", " 0 " three, are both
 * closed idle_timeout (3 s; checked each second) after their message,
 * while they still trickle for 2.8 s of it: between 3 and 5.5 s (old: at
 * least 5.7 s). The trickle ends before the close, so every byte is read
 * and the counts are exact: 2 messages and 14 + 21 empty frames. */
START_TEST(test_idle_timeout_split_empty_frames)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  idle_timeout: 3s\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    int one = it_tcp_connect(p.port), three = it_tcp_connect(p.port), on = 1;
    ck_assert_int_ge(one, 0);
    ck_assert_int_ge(three, 0);
    /* each write a segment of its own */
    ck_assert_int_eq(setsockopt(one, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), 0);
    ck_assert_int_eq(setsockopt(three, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), 0);
    const char *m1 = "40 <13>Nov 25 10:00:00 h app: seq=00001 one";
    const char *m3 = "42 <13>Nov 25 10:00:00 h app: seq=00002 three";
    ck_assert_int_eq((int)strlen(m1) - 3, 40);
    ck_assert_int_eq((int)strlen(m3) - 3, 42);
    ck_assert_int_eq(it_send_all(one, m1, strlen(m1)), 0);
    ck_assert_int_eq(it_send_all(three, m3, strlen(m3)), 0);
    uint64_t t0 = it_now_ms();
    /* 28 rounds of 100 ms: a byte on one ("0", " ", ...: 14 empty frames),
     * three bytes each other round on three ("0 0", " 0 ", ...: 21) */
    for (int r = 0; r < 28; r++) {
        vt_sleep_ms(100);
        ck_assert_msg(!it_closed_within(one, 0) && !it_closed_within(three, 0),
                      "closed while trickling, round %d", r);
        ck_assert_int_eq(it_send_all(one, r % 2 ? " " : "0", 1), 0);
        if (r % 2 == 0)
            ck_assert_int_eq(it_send_all(three, r % 4 ? " 0 " : "0 0", 3), 0);
    }
    uint64_t one_at = 0, three_at = 0;
    for (int i = 0; i < 80 && (!one_at || !three_at); i++) { /* at most 8 s more */
        if (!one_at && it_closed_within(one, 0))
            one_at = it_now_ms() - t0;
        if (!three_at && it_closed_within(three, 0))
            three_at = it_now_ms() - t0;
        vt_sleep_ms(i ? 100 : 0);
    }
    close(one);
    close(three);
    /* idle_timeout after the message, checked each second; the old code
     * closed them idle_timeout after the last "0" (2.7 s in): >= 5.7 s */
    ck_assert_msg(one_at >= 2900 && one_at < 5500 && three_at >= 2900 && three_at < 5500,
                  "closed after %llu ms (one byte a write), %llu ms (three)",
                  (unsigned long long)one_at, (unsigned long long)three_at);
    ck_assert(it_collector_says(&p, "stats: received=37 bytes=82 malformed=35 truncated=0 "));
    ck_assert(it_collector_says(&p, " idle_closed=2 frame_timeouts=0 "));
    ck_assert(it_collector_says(&p, "source 127.0.0.1 agency=unknown messages=37 bytes=82 "
                                    "malformed=35 truncated=0 dropped=0 last_seen="));
    ck_assert_int_eq(vt_count_text(log, "closed: idle for 3000 ms (idle_timeout)"), 2);
    ck_assert_int_eq(vt_count_text(log, "connection from 127.0.0.1 closed: idle for 3000 ms "
                                        "(idle_timeout)\n"),
                     2);
    char *dump = it_dump_spool(&p), line[2000];
    ck_assert_ptr_nonnull(dump);
    ck_assert(it_dump_line(dump, "seq=00001 one\"", line, sizeof(line)));
    ck_assert_ptr_nonnull(strstr(line, "\"flags\":[],"));
    ck_assert(it_dump_line(dump, "seq=00002 three\"", line, sizeof(line)));
    ck_assert_ptr_nonnull(strstr(line, "\"flags\":[],"));
    ck_assert_int_eq(vt_count_text(log, "error: "), 0);
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* A TCP connection to 127.0.0.1:port from the loopback address from
 * (127.0.0.2: another sender to the collector), or -1. */
static int it_tcp_connect_from(int port, const char *from)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in me = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (inet_pton(AF_INET, from, &me.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* max_rate_per_ip: 100 (from a reload; 0, no limit, at the start). One
 * sender writes 300 lines (3 times the limit) as fast as it can on one
 * connection: every line is spooled, none dropped, but not before 2 s
 * (the bucket's 100, then 200 at 100 a second: a lower bound, safe on a
 * slow machine); the collector stopped reading it meanwhile, once one
 * throttle (held, read a little, held again, ... until its bucket stays
 * full), counted in the stats and on its source line and logged once. A
 * second sender (127.0.0.2) writing 50 lines meanwhile is not held back.
 * A bad value is refused by -t with file, line and reason. */
START_TEST(test_rate_per_ip_holds_back)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  max_rate_per_ip: 0\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    char *cfg = vt_read_file(p.config, NULL);
    char *at = strstr(cfg, "max_rate_per_ip: 0");
    ck_assert_ptr_nonnull(at);
    int line = 1;
    for (const char *q = cfg; q < at; q++)
        line += *q == '\n';
    /* a bad value: refused by -t, naming the file, the line and why */
    char bad[8192], badcfg[600], cmd[1600], want[800];
    snprintf(bad, sizeof(bad), "%.*smax_rate_per_ip: -5%s", (int)(at - cfg), cfg,
             at + strlen("max_rate_per_ip: 0"));
    snprintf(badcfg, sizeof(badcfg), "%s.bad", p.config);
    ck_assert_int_eq(vt_write_file(badcfg, bad), 0);
    snprintf(cmd, sizeof(cmd), "%s -c %s -t 2>&1", vt_bin("collector/vigil-collector"), badcfg);
    char *out = NULL;
    ck_assert_int_ne(vt_capture(cmd, &out), 0);
    snprintf(want, sizeof(want),
             "%s:%d: 'max_rate_per_ip' must be between 0 and 10000000, got '-5'", badcfg, line);
    ck_assert_msg(out && strstr(out, want), "got %s\nwant %s", out, want);
    free(out);
    /* 100 a second from the reload on */
    at[strlen("max_rate_per_ip: ")] = '1';
    memmove(at + strlen("max_rate_per_ip: 100"), at + strlen("max_rate_per_ip: 0"),
            strlen(at + strlen("max_rate_per_ip: 0")) + 1);
    memcpy(at + strlen("max_rate_per_ip: 1"), "00", 2);
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "source map reloaded", 5000));
    /* 300 lines at once, then 50 from another sender */
    char *lines = malloc(300 * 64);
    ck_assert_ptr_nonnull(lines);
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(lines + n, "<13>Nov 25 10:00:00 h app: seq=%05d fast\n", i);
    uint64_t t0 = it_now_ms();
    int fast = it_tcp_connect(p.port);
    ck_assert_int_ge(fast, 0);
    ck_assert_int_eq(it_send_all(fast, lines, n), 0);
    free(lines);
    int other = it_tcp_connect_from(p.port, "127.0.0.2");
    ck_assert_int_ge(other, 0);
    for (int i = 0; i < 50; i++) {
        char l[80];
        int m = snprintf(l, sizeof(l), "<13>Nov 25 10:00:00 h2 app: seq=%05d other\n", 1000 + i);
        ck_assert_int_eq(it_send_all(other, l, (size_t)m), 0);
    }
    long got = 0;
    for (int i = 0; i < 300 && got < 350; i++) { /* at most 15 s */
        vt_sleep_ms(50);
        got = it_stat(&p, VT_COLLECTOR, "stats: received=", "stats: received=", true);
    }
    uint64_t took = it_now_ms() - t0;
    ck_assert_int_eq(got, 350);
    /* (300 - 100) / 100 s at least; the loop's clock is coarse (a few ms) */
    ck_assert_msg(took >= 1950, "300 lines taken in %llu ms", (unsigned long long)took);
    close(fast);
    close(other);
    ck_assert(it_collector_says(&p, " dropped=0 "));
    ck_assert(it_collector_says(&p, " throttles=1 throttled_ms="));
    ck_assert(it_collector_says(&p, "source 127.0.0.1 agency=unknown messages=300 "));
    ck_assert(it_collector_says(&p, "source 127.0.0.2 agency=unknown messages=50 "));
    long held = it_stat(&p, VT_COLLECTOR, "stats: received=", " throttled_ms=", true);
    ck_assert_msg(held >= 1500 && held <= (long)took, "held %ld ms of %llu", held,
                  (unsigned long long)took);
    /* on the sender's line: one throttle; the other sender's has none */
    char *lb = vt_read_file(log, NULL);
    ck_assert_ptr_nonnull(lb);
    char *last = NULL;
    for (char *q = strstr(lb, "source 127.0.0.1 "); q; q = strstr(q + 1, "source 127.0.0.1 "))
        last = q;
    ck_assert_ptr_nonnull(last);
    snprintf(want, sizeof(want), "source 127.0.0.1 agency=unknown messages=300 bytes=%zu "
             "malformed=0 truncated=0 dropped=0 throttled=1 throttled_ms=%ld last_seen=",
             n - 300, held);
    ck_assert_msg(strncmp(last, want, strlen(want)) == 0, "got  %.200s\nwant %s", last, want);
    last = NULL;
    for (char *q = strstr(lb, "source 127.0.0.2 "); q; q = strstr(q + 1, "source 127.0.0.2 "))
        last = q;
    ck_assert_ptr_nonnull(last);
    const char *o2 = "source 127.0.0.2 agency=unknown messages=50 bytes=2150 malformed=0 "
                     "truncated=0 dropped=0 last_seen=";
    ck_assert_msg(strncmp(last, o2, strlen(o2)) == 0, "%.200s", last);
    free(lb);
    ck_assert_int_eq(vt_count_text(log, "connection from 127.0.0.1 held back: max_rate_per_ip "
                                        "(100 messages a second) reached; its sender's "
                                        "connections are read no faster, nothing is dropped; "
                                        "1 such throttles since the last such message\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, " held back: "), 1);
    /* every line spooled, each once */
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    int fastn = 0, othern = 0;
    /* the message, not its raw copy */
    for (char *q = strstr(dump, " fast\",\"src\""); q; q = strstr(q + 1, " fast\",\"src\""))
        fastn++;
    for (char *q = strstr(dump, " other\",\"src\""); q; q = strstr(q + 1, " other\",\"src\""))
        othern++;
    ck_assert_int_eq(fastn, 300);
    ck_assert_int_eq(othern, 50);
    for (int i = 0; i < 300; i += 37) {
        char seq[40];
        snprintf(seq, sizeof(seq), "seq=%05d fast\"", i);
        ck_assert_msg(strstr(dump, seq), "%s missing", seq);
    }
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* max_connections_per_ip counts an IPv6 sender by its /64 (one host can
 * take any address of it), but a sender whose /64 is no one host's by its
 * whole address: link-local (every link's hosts share fe80::/64), ::1 and
 * the others of col_addr.h. Loopback has only ::1 (no link-local address,
 * no second address of a /64; adding them needs root and changes the
 * machine), so the mapping of those is tested in tests/unit/test_col_addr.c,
 * and here the key a real ::1 connection gets: its whole address, "::1"
 * (in session 28 "::/64", the /64 it shares with ::2 and the
 * IPv4-compatible addresses), in the log line and the SIGUSR1 report's
 * source line. IPv4 senders still count per address (127.0.0.2 gets in
 * beside 127.0.0.1). Skipped without ::1. */
START_TEST(test_per_ip_counts_ipv6_64)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (probe < 0 || bind(probe, (struct sockaddr *)&lo6, sizeof(lo6)) != 0) {
        printf("test_per_ip_counts_ipv6_64 skipped: ::1 is not usable here (%s)\n",
               strerror(errno));
        if (probe >= 0)
            close(probe);
        return;
    }
    close(probe);
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, "    - tcp://[::1]:PORT\n",
                                     "  max_connections_per_ip: 1\n"),
                     0);
    vt_pipe_start(&p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "listening on tcp://[::1]:", 5000));
    int a = it_tcp6_connect(p.port);
    ck_assert_int_ge(a, 0);
    vt_sleep_ms(100); /* accepted first */
    int b = it_tcp6_connect(p.port);
    ck_assert_int_ge(b, 0);
    ck_assert(it_closed_within(b, 3000));
    close(b);
    ck_assert_int_eq(vt_count_text(log, "warning: connection from ::1 closed: "
                                        "max_connections_per_ip (1) reached; "),
                     1);
    /* IPv4: per address, as before */
    int c4 = it_tcp_connect(p.port);
    ck_assert_int_ge(c4, 0);
    int d4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET,
                                                               .sin_port = htons((uint16_t)p.port)};
    inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert_int_eq(bind(d4, (struct sockaddr *)&from, sizeof(from)), 0);
    ck_assert_int_eq(connect(d4, (struct sockaddr *)&to, sizeof(to)), 0);
    ck_assert(!it_closed_within(c4, 300));
    ck_assert(!it_closed_within(d4, 10));
    ck_assert(it_collector_says(&p, "conns_refused=1 "));
    ck_assert(it_collector_says(&p, "tcp_open=3 "));
    /* the report counts the refusal by the address */
    ck_assert(it_collector_says(&p, "source ::1 agency=unknown messages=0 bytes=0 malformed=0 "
                                    "truncated=0 dropped=0 conns_refused=1 last_seen=-\n"));
    close(a);
    close(c4);
    close(d4);
    vt_pipe_destroy(&p);
}
END_TEST

/* Plain syslog sent to the TLS port (a sender set up for TCP, pointed at
 * the TLS listener): the handshake's failure line says so. Before, it
 * said only OpenSSL's "wrong version number", and tls_errors counted it. */
START_TEST(test_plain_syslog_to_tls_port)
{
    vt_pipe p;
    const char *coll = "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], log[400];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    int fd = it_tcp6_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_all(fd, "<13>hello\n", 10), 0);
    ck_assert(it_closed_within(fd, 5000));
    close(fd);
    ck_assert(vt_wait_text(log,
                           "warning: TLS handshake with ::1 failed: error:0A00010B:SSL routines::wrong "
                           "version number (its first bytes \"<13>hello\\x0a\" are plain syslog, "
                           "not TLS: a sender set up for plain TCP sending to this TLS port?)\n",
                           2000));
    ck_assert(it_collector_says(&p, "tls_handshakes=0 tls_errors=1 "));
    ck_assert(it_collector_says(&p, "received=0 "));
    vt_pipe_destroy(&p);
}
END_TEST

/* A client certificate refused at the handshake is named in its line with
 * the reason (expired, from another CA): before, the line said only
 * OpenSSL's "certificate verify failed", the same for both, and the
 * operator had to guess which unit's certificate had to be renewed. Then
 * a CRL revoking rogue.pem is put into the 'ca' file and SIGHUP sent:
 * rogue.pem is refused, client.pem still gets in. Before, the CRL was read
 * and ignored (OpenSSL checks none unless told to): a revoked unit's
 * certificate got in. */
START_TEST(test_tls_client_cert_refusal_named)
{
    vt_pipe p;
    const char *coll = "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n"
                       "    ca: certs/ca.pem\n    require_client_cert: true\n";
    char certs[400], log[400], cmd[3000];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    /* expired yesterday, from the test CA; and one signed by itself */
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout exp.key -out exp.csr -subj /CN=relay2.aviation.example 2>/dev/null && "
             "openssl x509 -req -in exp.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out exp.pem -days -1 2>/dev/null && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout self.key -out self.pem -days 2 -subj /CN=relay3.aviation.example "
             "2>/dev/null && for c in exp self; do printf '<13>x\\n' | timeout 10 openssl "
             "s_client -connect '[::1]:%d' -CAfile ca.pem -cert $c.pem -key $c.key -quiet "
             ">/dev/null 2>&1; done; true",
             certs, p.port);
    char *argv[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(argv, 60), 0);
    ck_assert(vt_wait_text(log,
                           "warning: TLS handshake with ::1 failed: error:0A000086:SSL "
                           "routines::certificate verify failed (client certificate "
                           "/CN=relay2.aviation.example: certificate has expired)\n",
                           2000));
    ck_assert(vt_wait_text(log,
                           "warning: TLS handshake with ::1 failed: error:0A000086:SSL "
                           "routines::certificate verify failed (client certificate "
                           "/CN=relay3.aviation.example: self-signed certificate)\n",
                           2000));
    ck_assert(it_collector_says(&p, "tls_handshakes=0 tls_errors=2 "));
    ck_assert(it_collector_says(&p, "received=0 "));
    snprintf(cmd, sizeof(cmd),
             "cd %s && : > index.txt && echo 01 > crlnumber && printf '[ca]\\ndefault_ca=c\\n"
             "[c]\\ndatabase=index.txt\\ncrlnumber=crlnumber\\ndefault_md=sha256\\n"
             "default_crl_days=2\\n' > ca.cnf && "
             "openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke rogue.pem "
             ">/dev/null 2>&1 && openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem "
             "-gencrl -out ca.crl >/dev/null 2>&1 && cat ca.pem ca.crl > ca.new && "
             "mv ca.new ca.pem",
             certs);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "configuration reloaded", 10000));
    snprintf(cmd, sizeof(cmd),
             "cd %s && for c in rogue client; do printf '<13>1 2026-11-28T10:00:00Z %%s t - - - "
             "seq=1\\n' $c | timeout 10 openssl s_client -connect '[::1]:%d' -CAfile ca.pem "
             "-cert $c.pem -key $c.key -quiet -no_ign_eof >/dev/null 2>&1; done; true",
             certs, p.port);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    ck_assert(vt_wait_text(log,
                           "warning: TLS handshake with ::1 failed: error:0A000086:SSL "
                           "routines::certificate verify failed (client certificate "
                           "/CN=rogue.example: certificate revoked)\n",
                           2000));
    ck_assert(it_collector_says(&p, "tls_handshakes=1 tls_errors=3 "));
    ck_assert(vt_wait_lines(p.alerts, 1, 10000));
    char *alerts = vt_read_file(p.alerts, NULL);
    ck_assert_ptr_nonnull(strstr(alerts, "\"host\":{\"name\":\"client\"}"));
    ck_assert_ptr_null(strstr(alerts, "\"host\":{\"name\":\"rogue\"}"));
    free(alerts);
    vt_pipe_destroy(&p);
}
END_TEST

/* Packets dropped by the kernel's input backlog, all CPUs
 * (/proc/net/softnet_stat, second column, hex). */
static uint64_t it_softnet_drops(void)
{
    FILE *f = fopen("/proc/net/softnet_stat", "re");
    uint64_t sum = 0;
    unsigned processed, dropped;
    while (f && fscanf(f, "%x %x%*[^\n]", &processed, &dropped) == 2)
        sum += dropped;
    if (f)
        fclose(f);
    return sum;
}

/* The value of "key=" in the collector's last stats line (with ask, a new
 * one asked for with SIGUSR1 first), or -1. */
static long it_last_stat(vt_pipe *p, const char *key, bool ask)
{
    return it_stat(p, VT_COLLECTOR, "stats: received=", key, ask);
}

/* Datagrams the kernel drops at a full receive buffer (a burst while the
 * collector does not read: here it is stopped) are counted in
 * udp_kernel_drops and warned about, so that what was sent is exactly
 * what was received plus what the kernel dropped; and the collector's own
 * notice of it goes down the pipeline, where the shipped rule
 * vigil.intake_loss alerts. Before, such a loss was seen nowhere. */
START_TEST(test_udp_kernel_drops_counted)
{
    vt_pipe p;
    char rules[400];
    snprintf(rules, sizeof(rules), "%s/rules/vigil.yml", it_src_root());
    char *vigil_rules = vt_read_file(rules, NULL);
    ck_assert_ptr_nonnull(vigil_rules);
    ck_assert_int_eq(vt_pipe_init(&p, vigil_rules), 0);
    free(vigil_rules);
    vt_pipe_start(&p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    /* started: its SIGUSR1 handler is set (a SIGUSR1 before it kills it) */
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    ck_assert_int_eq(it_last_stat(&p, " udp_kernel_drops=", true), 0);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    /* ~400 bytes of buffer each: twice what the 8 MiB the collector has hold */
    enum { N = 40000 };
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
    uint64_t backlog0 = it_softnet_drops();
    int sent = 0;
    for (int i = 0; i < N; i++) {
        char d[128];
        int n = snprintf(d, sizeof(d), "<13>Nov 25 10:00:00 h app: seq=%05d burst", i);
        sent += sendto(fd, d, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) == n;
        if (i % 100 == 99) /* loopback's backlog (1,000) drains between */
            usleep(1000);
    }
    close(fd);
    vt_sleep_ms(200); /* delivered (or dropped) before the collector runs again */
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    ck_assert_int_eq(sent, N);
    /* datagrams dropped in the kernel's input backlog never reach the
     * socket and are in no count of the collector's: none expected, but a
     * starved machine may defer the backlog, and then only bounds hold */
    long backlog = (long)(it_softnet_drops() - backlog0);
    long got = -1, drops = -1;
    for (int i = 0; i < 100; i++) { /* until it has read what the buffer held */
        got = it_last_stat(&p, "stats: received=", true);
        drops = it_last_stat(&p, " udp_kernel_drops=", false); /* the same line */
        if (got + drops >= N - backlog)
            break;
        vt_sleep_ms(100);
    }
    if (backlog)
        fprintf(stderr, "the kernel's backlog dropped %ld packets\n", backlog);
    ck_assert_msg(got + drops <= N && got + drops >= N - backlog,
                  "received %ld + dropped %ld != sent %d (backlog drops %ld)", got, drops, N,
                  backlog);
    ck_assert_int_gt(drops, 0);
    ck_assert_int_gt(got, 0);
    char want[200];
    snprintf(want, sizeof(want), "warning: the kernel dropped %ld UDP datagrams (%ld in all) "
             "before the collector could read them: its receive buffer was full", drops, drops);
    ck_assert_int_eq(vt_count_text(log, want), 1);
    /* the notice, spooled, becomes one alert with the count */
    vt_pipe_start(&p, VT_SHIPPER);
    vt_pipe_start(&p, VT_CORRELATOR);
    ck_assert(vt_wait_lines(p.alerts, 1, 30000));
    vt_sleep_ms(300);
    ck_assert_int_eq(vt_count_lines(p.alerts), 1);
    ck_assert_int_eq(vt_count_text(p.alerts, "\"rule\":{\"id\":\"vigil.intake_loss\""), 1);
    snprintf(want, sizeof(want), "\"fields\":{\"lost\":\"%ld\",\"total\":\"%ld\"}", drops,
             drops);
    ck_assert_msg(vt_count_text(p.alerts, want) == 1, "no %s in the alert", want);
    ck_assert_int_eq(vt_count_text(p.alerts, "\"process\":{\"name\":\"vigil-collector\"}"), 1);
    /* the final stats line still has them, the sockets closed */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    ck_assert_int_eq(it_last_stat(&p, " udp_kernel_drops=", false), drops);
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), got);
    vt_pipe_destroy(&p);
}
END_TEST

/* A clean stop reads what the kernel still holds for the collector's
 * sockets before closing them. Before, datagrams queued at SIGTERM were
 * freed with the socket, seen in no count (a restart for an upgrade lost
 * up to the whole UDP buffer): here the collector read one batch (32
 * datagrams) and lost the rest. It is stopped (SIGSTOP) while they arrive,
 * so all are queued when its SIGTERM is handled; after a restart each
 * reaches the alerts exactly once. */
START_TEST(test_stop_reads_queued_datagrams)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, ANY_RULE), 0);
    vt_pipe_start_all(&p);
    enum { N = 1500 };
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
    int sent = 0;
    for (int i = 0; i < N; i++) {
        char d[128];
        int n = snprintf(d, sizeof(d), "<13>Nov 25 10:00:00 h app: seq=%05d queued", i);
        sent += sendto(fd, d, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) == n;
        if (i % 100 == 99) /* loopback's input backlog (1,000) drains between */
            usleep(1000);
    }
    close(fd);
    ck_assert_int_eq(sent, N);
    vt_sleep_ms(200); /* all queued at the socket */
    /* the SIGTERM is handled as soon as it runs again, with all queued */
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 10000), 0);
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), N);
    ck_assert_int_eq(it_last_stat(&p, " spooled=", false), N);
    ck_assert_int_eq(it_last_stat(&p, " udp_kernel_drops=", false), 0);
    /* spooled, so sent on after a restart: each exactly once */
    vt_pipe_start(&p, VT_COLLECTOR);
    it_alerts_numbered(p.alerts, N);
    vt_pipe_destroy(&p);
}
END_TEST

/* A local program logging to the Unix socket across a stop: every datagram
 * its send() took is spooled; from the stop's reading on, its sends fail
 * (EPIPE) rather than succeed into a queue nobody reads. The socket was shut
 * for reading only after the connections were read (here one busy
 * writer's): the datagrams sent meanwhile were taken by the kernel,
 * then lost with the close (counted, unread_at_stop), their sender told
 * they were sent (found by a soak restarting the collector under a Unix
 * sender: 13 of 24,000 lines). */
START_TEST(test_stop_unix_sender_told)
{
    vt_pipe p;
    char sock[300], extra[400];
    snprintf(sock, sizeof(sock), "%s", "/tmp/vigil-unixstop-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sock));
    strcat(sock, "/log.sock");
    snprintf(extra, sizeof(extra), "    - unix://%s\n", sock);
    /* the busy connection below takes 4 KB of spool a line (1 KB, kept
     * twice: an LMDB overflow page): 60,000 lines in a run, near a 256M
     * map's end, where a commit that does not fit ends the stop's reading */
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, extra, "  spool_size: 1G\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    /* an idle connection: the stop reads it until it has been quiet 50 ms */
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert_int_eq(connect(tcp, (struct sockaddr *)&to, sizeof(to)), 0);
    int counts[2];
    ck_assert_int_eq(pipe(counts), 0);
    pid_t sender = fork();
    if (sender == 0) { /* a datagram every 0.5 ms until a send fails (at most 4 s) */
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
        int ok = 0;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            for (int i = 0; i < 8000; i++) {
                char d[96];
                int n = snprintf(d, sizeof(d), "<13>Nov 25 10:00:00 app: seq=%05d local", i);
                if (send(fd, d, (size_t)n, 0) != n)
                    break;
                ok++;
                usleep(500);
            }
        (void)!write(counts[1], &ok, sizeof(ok));
        _exit(0);
    }
    close(counts[1]);
    /* a connection writing as fast as it can: the stop reads it for a while
     * (up to 32 MiB or 2 s), until the close's reset ends the writer */
    pid_t talker = fork();
    if (talker == 0) {
        signal(SIGPIPE, SIG_IGN);
        char line[1024];
        memset(line, 'x', sizeof(line));
        memcpy(line, "<13>Nov 25 10:00:00 h app: over tcp ", 36);
        line[sizeof(line) - 1] = '\n';
        for (int i = 0; i < 200000 && write(tcp, line, sizeof(line)) > 0; i++)
            ;
        _exit(0);
    }
    vt_sleep_ms(100);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 10000), 0);
    int sent = -1;
    ck_assert_int_eq(read(counts[0], &sent, sizeof(sent)), (ssize_t)sizeof(sent));
    close(counts[0]);
    waitpid(sender, NULL, 0);
    kill(talker, SIGKILL);
    waitpid(talker, NULL, 0);
    close(tcp);
    ck_assert_int_gt(sent, 0);
    ck_assert_int_lt(sent, 8000); /* told at the stop */
    /* each datagram send() took is in the spool */
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    int spooled = 0; /* events (lines) of the Unix sender */
    for (char *l = strtok(dump, "\n"); l; l = strtok(NULL, "\n"))
        spooled += strstr(l, " local\"") != NULL;
    free(dump);
    ck_assert_int_eq(spooled, sent);
    /* nothing left for the close: no datagram, and past the stop's limits
     * (32 MiB, 2 s) the busy connection is made deaf and what it holds
     * read. CI saw bytes left on it once: spool_limit, crossed by the
     * stop's reading, ended it (test_stop_reads_past_limit) */
    ck_assert_int_eq(vt_count_text(log, "left unread"), 0);
    vt_pipe_destroy(&p);
    unlink(sock);
    *strrchr(sock, '/') = '\0';
    rmdir(sock);
}
END_TEST

/* A pipe (ANY_RULE) with only its collector started, up; log (400 bytes)
 * is its log file. */
static void it_collector_alone(vt_pipe *p, char *log)
{
    ck_assert_int_eq(vt_pipe_init(p, ANY_RULE), 0);
    vt_pipe_start(p, VT_COLLECTOR);
    vt_pipe_log(p, VT_COLLECTOR, log, 400);
    ck_assert(vt_wait_text(log, " started (config ", 10000));
}

/* Out of descriptors, libuv accepts each connection waiting in the backlog
 * and closes it unread, without telling the collector: before, 60 senders
 * past a low open-files limit lost their lines with no count and no log
 * (received=49 conns_refused=0). Now the collector keeps 64 descriptors
 * for its other files and refuses past the rest itself: every sender is
 * spooled or counted. The limit is lowered on the running collector
 * (prlimit) and read again at the reload. */
START_TEST(test_fd_limit_refusals_counted)
{
    vt_pipe p;
    char log[400];
    it_collector_alone(&p, log);
    struct rlimit rl = {.rlim_cur = 64 + 3, .rlim_max = 64 + 3};
    ck_assert_int_eq(prlimit(p.pid[VT_COLLECTOR], RLIMIT_NOFILE, &rl, NULL), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "source map reloaded", 5000));
    enum { N = 60 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = it_tcp_connect(p.port);
        ck_assert_int_ge(fds[i], 0);
        char line[96];
        int n = snprintf(line, sizeof(line), "<13>Nov 25 10:00:00 h app: seq=%05d\n", i);
        (void)send(fds[i], line, (size_t)n, MSG_NOSIGNAL); /* a refused one may be closed */
    }
    vt_sleep_ms(300);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    ck_assert(it_collector_says(&p, " tcp_open=0 "));
    long got = it_last_stat(&p, "stats: received=", false),
         refused = it_last_stat(&p, " conns_refused=", false);
    ck_assert_msg(got + refused == N, "received=%ld conns_refused=%ld of %d", got, refused, N);
    ck_assert_int_eq(got, 3);
    ck_assert(vt_wait_text(log, "connections past 3 are refused", 100));
    vt_pipe_destroy(&p);
}
END_TEST

/* The same for a TCP connection: every byte a sender wrote before the
 * collector's SIGTERM is read and spooled before the close. Before, the
 * loop's last pass read 32 times and the close threw the rest away with a
 * reset: what the connection's buffer held beyond that, and the megabytes
 * still in the sender's own kernel queue, which a sender takes as sent
 * (here some 14,000 lines of 100,000 were lost). The collector reads fast
 * at first, then is stopped while the sender fills both kernels' buffers
 * and closes. */
START_TEST(test_stop_reads_queued_tcp)
{
    vt_pipe p;
    char log[400];
    it_collector_alone(&p, log);
    enum { L = 200, LINES = 400000 };
    char *all = malloc((size_t)L * LINES);
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < LINES; i++) {
        char *q = all + i * L;
        int n = snprintf(q, L, "<13>Nov 25 10:00:00 h app: filler %08zu ", i);
        memset(q + n, 'x', (size_t)(L - 1 - n));
        q[L - 1] = '\n';
    }
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    size_t total = (size_t)L * LINES, w = 0;
    bool stopped = false;
    while (w < total) {
        if (!stopped && w >= total / 4) { /* the buffer has grown: fill it */
            ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
            stopped = true;
        }
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, stopped ? 500 : 10000) != 1)
            break; /* stopped, and both kernels' buffers are full */
        ssize_t n = write(fd, all + w, total - w < 65536 ? total - w : 65536);
        ck_assert(n > 0 || errno == EAGAIN);
        if (n > 0)
            w += (size_t)n;
    }
    ck_assert(stopped);
    ck_assert_msg(w < total, "the kernel took all %zu bytes", total);
    close(fd); /* written: the sender is done */
    free(all);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 20000), 0);
    long want = (long)((w + L - 1) / L); /* a cut last line is kept as a line */
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), want);
    ck_assert_int_eq(it_last_stat(&p, " spooled=", false), want);
    ck_assert_int_eq(it_last_stat(&p, " truncated=", false), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* A stop reads what max_rate_per_ip holds back: 2,000 lines (86 KB) at
 * 10 a second on two connections, one closed after its lines and one
 * left open, the sender held (10 taken, the rest in the connections'
 * buffers and the kernel's), then SIGTERM: all 2,000 are spooled, none
 * left unread, none cut. */
START_TEST(test_stop_reads_rate_held)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  max_rate_per_ip: 10\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    char *lines = malloc(2000 * 64);
    ck_assert_ptr_nonnull(lines);
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(lines + n, "<13>Nov 25 10:00:00 h app: seq=%05d held\n", i);
    int a = it_tcp_connect(p.port), b = it_tcp_connect(p.port);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_eq(it_send_all(a, lines, n / 2), 0);
    ck_assert_int_eq(it_send_all(b, lines + n / 2, n - n / 2), 0);
    free(lines);
    close(a); /* its end waits for its lines */
    ck_assert(vt_wait_text(log, " held back: max_rate_per_ip (10 messages a second)", 5000));
    ck_assert_int_lt(it_last_stat(&p, "stats: received=", true), 100);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    close(b);
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), 2000);
    ck_assert_int_eq(it_last_stat(&p, " spooled=", false), 2000);
    ck_assert_int_eq(it_last_stat(&p, " truncated=", false), 0);
    ck_assert_int_eq(it_last_stat(&p, " unread_at_stop=", false), 0);
    ck_assert_int_eq(it_last_stat(&p, " throttles=", false), 1);
    vt_pipe_destroy(&p);
}
END_TEST

/* A stop ends each connection with a reset, which tells the sender at once
 * that what it writes now goes nowhere. The stop's socket filter drops
 * every packet, the sender's ACK of a plain close's FIN included: before,
 * the sender sat in CLOSE_WAIT, its writes taken by its kernel and
 * retransmitted into the filter of the orphaned socket, told of nothing
 * until that socket died minutes later (a soak of collector restarts:
 * every sender stalled). */
START_TEST(test_stop_resets_connections)
{
    vt_pipe p;
    char log[400];
    it_collector_alone(&p, log);
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    const char line[] = "<13>Nov 25 10:00:00 h app: before the stop\n";
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(line) - 1);
    usleep(200 * 1000);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 20000), 0);
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), 5);
    /* bounded: 100 writes, 10 ms apart */
    int err = 0, tries = 0;
    for (; tries < 100 && !err; tries++) {
        if (send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0)
            err = errno;
        else
            usleep(10 * 1000);
    }
    ck_assert_msg(err == ECONNRESET || err == EPIPE,
                  "the sender was told nothing in %d writes over ~1 s (errno %d)", tries, err);
    close(fd);
    vt_pipe_destroy(&p);
}
END_TEST

/* A stop not paused reads into the room above spool_limit too, though
 * its reading crosses the limit. Before, the limit paused intake at the
 * stop's first commit past it, which ended the reading: the bytes the
 * kernel held were lost with the close, counted under "spool commits
 * failing" though no commit failed (a busy sender across a stop, 1 KB
 * lines at 4 KB of spool each: 7 runs in 40 of
 * test_stop_unix_sender_told). Here the collector is stopped (SIGSTOP)
 * with nothing spooled while 8,000 lines queue in the kernels (more than
 * one commit, 4,096); the limit is below one commit. */
START_TEST(test_stop_reads_past_limit)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  spool_size: 16M\n  spool_limit: 4K\n"),
                     0);
    vt_pipe_start(&p, VT_COLLECTOR); /* alone: nothing drains its spool */
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
    int fd = it_tcp_connect(p.port); /* in the backlog: accepted by the stop */
    ck_assert_int_ge(fd, 0);
    enum { LINES = 8000 };
    char *all = malloc((size_t)LINES * 64);
    ck_assert_ptr_nonnull(all);
    size_t total = 0;
    for (int i = 0; i < LINES; i++)
        total += (size_t)snprintf(all + total, 64, "<13>Nov 25 10:00:00 h app: seq=%05d\n", i);
    size_t w = it_write_until_full(fd, all, total, 2000); /* the kernels take it at once */
    free(all);
    ck_assert_msg(w == total, "the kernels took %zu of %zu bytes", w, total);
    close(fd); /* written: the sender is done */
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 20000), 0);
    ck_assert_int_eq(vt_count_text(log, "left unread"), 0);
    ck_assert_int_eq(it_last_stat(&p, " unread_at_stop=", false), 0);
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), LINES);
    ck_assert_int_eq(it_last_stat(&p, " spooled=", false), LINES);
    ck_assert_int_eq(it_last_stat(&p, " spool_errors=", false), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* A stop while intake is paused for a full spool (the correlator down)
 * reads what the senders wrote too, into the room above spool_limit: a
 * restart then loses nothing a sender wrote before the stop. Before, the
 * stop read nothing while paused and the close threw away every line in
 * the socket buffers (received=4317 of 66,176 lines written, silently). */
START_TEST(test_stop_reads_while_paused)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  spool_size: 32M\n  spool_limit: 1M\n"),
                     0);
    vt_pipe_start(&p, VT_COLLECTOR); /* alone: nothing drains its spool */
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    enum { L = 100, LINES = 400000 };
    char *all = malloc((size_t)L * LINES);
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < LINES; i++) {
        char *q = all + i * L;
        int n = snprintf(q, L, "<13>Nov 25 10:00:00 h app: paused %08zu ", i);
        memset(q + n, 'x', (size_t)(L - 1 - n));
        q[L - 1] = '\n';
    }
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    size_t total = (size_t)L * LINES;
    size_t w = it_write_until_full(fd, all, total, 300); /* until paused, both kernels' buffers full */
    free(all);
    ck_assert_msg(w < total, "the kernel took all %zu bytes", total);
    ck_assert(vt_count_text(log, "spool full") == 1);
    close(fd); /* written: the sender is done */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    long want = (long)((w + L - 1) / L); /* a cut last line is kept as a line */
    ck_assert_int_eq(it_last_stat(&p, "stats: received=", false), want);
    ck_assert_int_eq(it_last_stat(&p, " spooled=", false), want);
    ck_assert_int_eq(it_last_stat(&p, " unread_at_stop=", false), 0);
    ck_assert_int_eq(vt_count_text(log, "left unread"), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* What a stop while paused cannot read, the room above spool_limit used
 * up, is lost with the close, and now counted and said: a sender's bytes
 * in the kernel on a connection, to the byte. Here the datagrams queued
 * while the collector was stopped fill the room (they are read first; a
 * commit that does not fit pauses again, the rest are refused and
 * counted), and the connection's 50 lines stay unread. Before, nothing
 * told of them (received counted only the datagrams). Assumes the 8 MiB
 * UDP buffer the collector takes as root: 1,000 datagrams of 1 KB queue.
 * And the commit refused for the full spool is tried once at the close,
 * not for 3 s as one refused by a full disk is: nothing frees room. */
START_TEST(test_stop_counts_unread_while_paused)
{
    vt_pipe p;
    char log[400];
    ck_assert_int_eq(
        vt_pipe_init_ex(&p, ANY_RULE, NULL, "  spool_size: 2M\n  spool_limit: 1800K\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR); /* alone: nothing drains its spool */
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(u, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    char d[1000];
    memset(d, 'x', sizeof(d));
    memcpy(d, "<13>Nov 25 10:00:00 h app: fill ", 32);
    int sent = 0;
    for (int round = 0; round < 200 && vt_count_text(log, "spool full") == 0; round++) {
        for (int i = 0; i < 100; i++, sent++)
            ck_assert_int_eq(sendto(u, d, sizeof(d), 0, (struct sockaddr *)&to, sizeof(to)),
                             (ssize_t)sizeof(d));
        vt_sleep_ms(5);
    }
    ck_assert_msg(vt_count_text(log, "spool full") == 1, "not paused after %d datagrams", sent);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
    for (int i = 0; i < 1000; i++) { /* 1 MB: more than the room above the limit */
        ck_assert_int_eq(sendto(u, d, sizeof(d), 0, (struct sockaddr *)&to, sizeof(to)),
                         (ssize_t)sizeof(d));
        if (i % 100 == 99) /* loopback's backlog (1,000) drains between */
            usleep(1000);
    }
    close(u);
    int fd = it_tcp_connect(p.port); /* in the backlog: accepted by the stop */
    ck_assert_int_ge(fd, 0);
    size_t unread = 0;
    for (int i = 0; i < 50; i++) {
        char l[128];
        int n = snprintf(l, sizeof(l), "<13>Nov 25 10:00:00 h app: unread seq=%05d\n", i);
        ck_assert_int_eq(it_send_all(fd, l, (size_t)n), 0);
        unread += (size_t)n;
    }
    vt_sleep_ms(50); /* delivered before the collector runs again */
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 20000), 0);
    close(fd);
    char want[300];
    snprintf(want, sizeof(want),
             "warning: stop: %zu bytes left unread and lost with the close: %zu on 1 "
             "connection, 0 in 0 datagrams on 0 datagram sockets (spool full)\n",
             unread, unread);
    ck_assert_msg(vt_count_text(log, want) == 1, "no line %s", want);
    ck_assert_int_eq(it_last_stat(&p, " unread_at_stop=", false), (long)unread);
    ck_assert_int_eq(vt_count_text(log, "unread seq="), 0); /* not read, not spooled */
    /* The stop's reading ended with one commit that did not fit. The
     * close tries its events (with the notice of the datagrams refused
     * since) once more, not for 3 s (14 tries) as after a full disk. That
     * one try may pass: after the failure LMDB may hand out the pages the
     * last good commit freed (vg__nudge in lib/store.c), and whether they
     * make up what the failed commit lacked depends on how the reads
     * before the pause fell into commits, i.e. on the scheduler (1 run in
     * 10 with the fill's pace varied; CI saw it once). So: either 2 failed
     * tries and the held events logged, or 1 and none held; and either
     * way every datagram received is in the spool or in the log. */
    ck_assert_int_eq(vt_count_text(log, "error: spool commit of "), 1);
    /* said as what it is at a stop: not "retrying 4 times a second (...
     * TCP senders wait)", just before they were reset */
    ck_assert_int_eq(vt_count_text(log, " events failed at the stop: durable queue full (the room "
                                        "above spool_limit is used up); the connections are read "
                                        "no more (what they still hold is counted at the close; "
                                        "datagrams are refused and counted), and what the close "
                                        "cannot commit in one more try is logged as 'not "
                                        "spooled' lines\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "retrying 4 times a second"), 0);
    long errs = it_last_stat(&p, " spool_errors=", false);
    long received = it_last_stat(&p, "stats: received=", false);
    const char *fill = "<13>Nov 25 10:00:00 h app: fill ";
    char held_fill[80], dumped_fill[80], dump[420];
    snprintf(held_fill, sizeof(held_fill), "not spooled: \"%s", fill);
    snprintf(dumped_fill, sizeof(dumped_fill), "\"raw\":\"%s", fill);
    char *lb = vt_read_file(log, NULL);
    ck_assert_ptr_nonnull(lb);
    const char *h = strstr(lb, " events could not be committed at shutdown");
    if (h) {
        while (h > lb && h[-1] >= '0' && h[-1] <= '9')
            h--;
        long held = atol(h);
        ck_assert_int_eq(vt_count_text(log, "could not be committed at shutdown"), 1);
        ck_assert_int_eq(errs, 2);
        ck_assert_int_ge(held, 1);
        ck_assert_int_eq(vt_count_text(log, "not spooled: "), held);
        ck_assert_int_eq(vt_count_text(log, "spool commits succeed again"), 0);
    } else {
        ck_assert_int_eq(errs, 1);
        ck_assert_int_eq(vt_count_text(log, "not spooled: "), 0);
        ck_assert_int_eq(
            vt_count_text(log, "warning: spool commits succeed again, after 1 failed attempts "),
            1);
    }
    free(lb);
    char *all = it_dump_spool(&p);
    ck_assert_ptr_nonnull(all);
    free(all);
    snprintf(dump, sizeof(dump), "%s/dump.json", p.dir);
    ck_assert_int_eq(vt_count_text(dump, dumped_fill) + vt_count_text(log, held_fill), received);
    vt_pipe_destroy(&p);
}
END_TEST

/* Writes n lines "<13>Nov 25 10:00:00 h app: NAME seq=I" on a new TCP
 * connection and closes it, without waiting for the collector to accept. */
static void it_send_and_close(int port, const char *name, int n)
{
    int fd = it_tcp_connect(port);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < n; i++) {
        char l[128];
        int len = snprintf(l, sizeof(l), "<13>Nov 25 10:00:00 h app: %s seq=%05d\n", name, i);
        ck_assert_int_eq(write(fd, l, (size_t)len), len);
    }
    close(fd);
}

/* Writes up to n 200-byte "filler" lines on a (non-blocking), as many as
 * its socket takes now; returns the bytes written, 0 if it takes none. */
static size_t it_fill_conn(int a, int n)
{
    static char line[200];
    if (!line[0]) {
        int len = snprintf(line, sizeof(line), "<13>Nov 25 10:00:00 h app: filler ");
        memset(line + len, 'x', sizeof(line) - 1 - (size_t)len);
        line[sizeof(line) - 1] = '\n';
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        ssize_t w = send(a, line, sizeof(line), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            break;
        total += (size_t)w;
        if (w < (ssize_t)sizeof(line))
            break; /* a cut line: the next one starts a new line, the parser keeps both */
    }
    return total;
}

/* A stop also reads the connections still in a listener's backlog, which
 * the loop never accepted: a sender that connected, wrote and closed just
 * before the SIGTERM (here while the collector was stopped: "early"), or
 * while the stop read the other connections ("late": a sender that keeps
 * writing keeps the stop reading, for up to 2 s). Their senders took the
 * lines as sent; before, closing the listener reset them unread. And the
 * connections are read oldest first: "late" then "then", written one after
 * the other, were spooled newest first, out of order (in a chaos run of
 * restarts, the correlator took a whole chunk as late for that). */
START_TEST(test_stop_reads_backlog_connections)
{
    vt_pipe p;
    char log[400];
    it_collector_alone(&p, log);
    int a = it_tcp_connect(p.port); /* the sender that keeps writing */
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
    ck_assert_int_gt(it_fill_conn(a, 1000), 0); /* queued when the stop begins */
    it_send_and_close(p.port, "early", 100);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    for (int i = 0; i < 40; i++) { /* 400 ms of 20 lines every 10 ms */
        vt_sleep_ms(10);
        ck_assert_int_gt(it_fill_conn(a, 20), 0);
        if (i == 10) {
            it_send_and_close(p.port, "late", 100);
            it_send_and_close(p.port, "then", 100); /* the same sender, a new connection */
        }
    }
    close(a);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 10000), 0);
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    int early = 0, late = 0, then = 0;
    const char *last_late = NULL, *first_then = strstr(dump, "app: then seq=");
    for (const char *q = dump; (q = strstr(q, "app: early seq=")); q++)
        early++;
    for (const char *q = dump; (q = strstr(q, "app: late seq=")); q++, late++)
        last_late = q;
    for (const char *q = dump; (q = strstr(q, "app: then seq=")); q++)
        then++;
    ck_assert_int_eq(early, 100);
    ck_assert_int_eq(late, 100);
    ck_assert_int_eq(then, 100);
    /* spooled in the order written: connections are read oldest first */
    ck_assert_msg(last_late < first_then, "lines of a later connection spooled first");
    free(dump);
    vt_pipe_destroy(&p);
}
END_TEST

/* Bytes the peer's kernel acknowledged on fd, as the sender's TCP sees
 * them (tcpi_bytes_acked; still readable after the peer's reset). */
static long it_bytes_acked(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
        return -1;
    return (long)ti.tcpi_bytes_acked;
}

/* A non-blocking connection to 127.0.0.1:port, made within 5 ms, or -1
 * (a deaf or closed listener: the sender knows nothing was delivered). */
static int it_tcp_connect_quick(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
    socklen_t el = sizeof(err);
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    if (fd < 0)
        return -1;
    if ((connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) ||
        poll(&pf, 1, 5) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Every byte the collector's kernel acknowledged before a stop is read or
 * counted: a sender takes acknowledged bytes as delivered. Four senders
 * fill their connections while the collector is frozen, then write on
 * (4,000 lines a second) across its SIGTERM, and a new sender connects
 * and writes one line every 10 ms; after the stop, each connection's
 * acknowledged bytes (tcpi_bytes_acked) must be in the spool, whole lines,
 * with unread_at_stop 0 (the spool has room). Before, the lines that
 * reached a connection after the stop read it were counted as unread and
 * lost, and those that came between that count and the close (or on a
 * connection completed after the last accept) were lost uncounted: in a
 * soak of restarts under a steady sender, 2 acknowledged lines of 15,000
 * were missing with unread_at_stop=0 everywhere. */
START_TEST(test_stop_keeps_every_acknowledged_byte)
{
    vt_pipe p;
    char log[400];
    it_collector_alone(&p, log);
    enum { L = 64, LONG = 4, SHORT = 400 };
    int fds[LONG + SHORT], nfd = 0;
    long sent[LONG + SHORT];
    for (int i = 0; i < LONG; i++) {
        fds[nfd] = it_tcp_connect(p.port);
        ck_assert_int_ge(fds[nfd], 0);
        ck_assert_int_eq(fcntl(fds[nfd], F_SETFL, fcntl(fds[nfd], F_GETFL) | O_NONBLOCK), 0);
        sent[nfd++] = 0;
    }
    /* one line: "<13>Nov 25 10:00:00 h app: cNNN seq=NNNNNNN" padded to L */
    char line[L + 1];
    bool termed = false;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int exited = 0, st = 0, refused = 0;
    long next_conn = 0;
    for (long iter = 0; iter < 10000; iter++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (!termed && ms >= 100) {
            /* stopped, and then the senders fill their buffers: when the
             * stop begins, every connection holds data, and its senders
             * write on while it reads (else a connection found idle is
             * passed at once, and the window below is rarely hit) */
            ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
            for (int i = 0; i < LONG; i++)
                while (sent[i] >= 0 && sent[i] < 5000L * L) {
                    int n = snprintf(line, sizeof(line), "<13>Nov 25 10:00:00 h app: c%03d seq=%07ld ",
                                     i, sent[i] / L);
                    memset(line + n, 'x', (size_t)(L - 1 - n));
                    line[L - 1] = '\n';
                    ssize_t w = send(fds[i], line, L, MSG_NOSIGNAL | MSG_DONTWAIT);
                    if (w != L) {
                        if (w >= 0)
                            sent[i] = -1; /* a cut line: this sender is done */
                        break;            /* else full */
                    }
                    sent[i] += L;
                }
            ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
            ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
            termed = true;
        }
        if (!exited && waitpid(p.pid[VT_COLLECTOR], &st, WNOHANG) == p.pid[VT_COLLECTOR])
            exited = (int)ms;
        if (ms > 4000 || (exited && ms > exited + 50))
            break; /* the stop reads for 2 s past what was queued at most */
        for (int i = 0; i < LONG; i++) {
            if (sent[i] < 0)
                continue;
            int n = snprintf(line, sizeof(line), "<13>Nov 25 10:00:00 h app: c%03d seq=%07ld ", i,
                             sent[i] / L);
            memset(line + n, 'x', (size_t)(L - 1 - n));
            line[L - 1] = '\n';
            ssize_t w = send(fds[i], line, L, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w == L)
                sent[i] += L;
            else if (w >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                sent[i] = -1; /* reset, or a cut line: this sender is done */
        }
        vt_sleep_ms(1); /* about 4,000 lines a second: the stop reads them as they come */
        if (termed && ms >= next_conn && nfd < LONG + SHORT) {
            next_conn = ms + 10;
            int fd = it_tcp_connect_quick(p.port);
            int n = snprintf(line, sizeof(line), "<13>Nov 25 10:00:00 h app: c%03d seq=%07d ", nfd,
                             0);
            memset(line + n, 'x', (size_t)(L - 1 - n));
            line[L - 1] = '\n';
            if (fd >= 0 && send(fd, line, L, MSG_NOSIGNAL) == L) {
                fds[nfd] = fd;
                sent[nfd++] = L;
            } else if (fd >= 0) {
                close(fd);
            }
            if (fd < 0)
                refused++;
        }
    }
    if (!exited)
        ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 10000), 0);
    else {
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collector status %d", st);
        p.pid[VT_COLLECTOR] = 0;
    }
    long unread = it_last_stat(&p, " unread_at_stop=", false);
    char *dump = it_dump_spool(&p);
    ck_assert_ptr_nonnull(dump);
    long acked_lines = 0, missing = 0, lines[LONG + SHORT];
    char *seen[LONG + SHORT];
    for (int i = 0; i < nfd; i++) {
        long acked = it_bytes_acked(fds[i]);
        ck_assert_int_ge(acked, 0);
        close(fds[i]);
        lines[i] = acked / L;
        seen[i] = calloc((size_t)lines[i] + 1, 1);
        ck_assert_ptr_nonnull(seen[i]);
        acked_lines += lines[i];
    }
    /* one pass, "app: cNNN seq=" at a time (strstr from each hit would
     * make ASan's interceptor measure the rest of the dump each time) */
    for (const char *q = dump; *q; q++) {
        if (*q != 'a' || strncmp(q, "app: c", 6) != 0 || strncmp(q + 9, " seq=", 5) != 0)
            continue;
        int c = atoi(q + 6);
        long k = atol(q + 14);
        if (c >= 0 && c < nfd && k >= 0 && k < lines[c])
            seen[c][k] = 1;
    }
    for (int i = 0; i < nfd; i++) {
        for (long k = 0; k < lines[i]; k++)
            if (!seen[i][k] && missing++ < 5)
                printf("acknowledged, not spooled: c%03d seq=%07ld\n", i, k);
        free(seen[i]);
    }
    free(dump);
    printf("stop took %d ms, %d connections refused; ", exited ? exited - 100 : -1, refused);
    printf("%d connections, %ld lines acknowledged, %ld not spooled, unread_at_stop=%ld\n", nfd,
           acked_lines, missing, unread);
    ck_assert_int_gt(acked_lines, 0);
    ck_assert_int_eq(missing, 0);
    ck_assert_int_eq(unread, 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* A second collector on a UDP address in use is refused at start, naming
 * it: before, it started (the socket was bound with SO_REUSEADDR) and took
 * every datagram from the first, which received nothing, with no word in
 * either log. */
START_TEST(test_udp_address_in_use_refused)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, ANY_RULE), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    char want[64];
    snprintf(want, sizeof(want), "listening on udp://127.0.0.1:%d", p.port);
    ck_assert(vt_wait_text(log, want, 5000));
    char cfg[400], out[400], yaml[600], cmd[1400];
    snprintf(cfg, sizeof(cfg), "%s/second.yaml", p.dir);
    snprintf(out, sizeof(out), "%s/second.out", p.dir);
    snprintf(yaml, sizeof(yaml),
             "pipeline:\n  run_dir: run2\n  data_dir: data2\ncollector:\n  name: c2\n"
             "  listen:\n    - udp://127.0.0.1:%d\n",
             p.port);
    ck_assert_int_eq(vt_write_file(cfg, yaml), 0);
    snprintf(cmd, sizeof(cmd), "exec %s -c %s > %s 2>&1", vt_bin("collector/vigil-collector"), cfg,
             out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(argv, 30), 1);
    char *text = vt_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    snprintf(want, sizeof(want), "cannot listen on udp://127.0.0.1:%d: address already in use",
             p.port);
    ck_assert_msg(strstr(text, want), "%s", text);
    free(text);
    vt_pipe_destroy(&p);
}
END_TEST

/* Whether a TLS 1.2 handshake offering the one suite given succeeds with
 * the collector's TLS listener (openssl s_client, sending nothing). */
static bool it_tls12_suite_ok(vt_pipe *p, const char *suite)
{
    char out[400], cmd[1200];
    snprintf(out, sizeof(out), "%s/s_client.out", p->dir);
    snprintf(cmd, sizeof(cmd),
             "timeout 10 openssl s_client -connect '[::1]:%d' -tls1_2 -cipher %s </dev/null "
             ">%s 2>&1",
             p->port, suite, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    vt_run(argv, 30);
    char want[200];
    snprintf(want, sizeof(want), "New, TLSv1.2, Cipher is %s\n", suite);
    return vt_wait_text(out, want, 0);
}

/* TLS connections end with close_notify both ways (RFC 5425 4.4): the
 * collector answers a client's, and sends its own before it closes one
 * (idle_timeout here), so that the client can tell that close from a cut
 * connection. A last line without its LF is a line after the client's
 * close_notify, and flagged truncated when the connection ends without one
 * (until session 20 it was a line then too). Before, it closed the socket in both cases: Python's
 * unwrap() failed, and recv() raised "EOF occurred in violation of
 * protocol". */
START_TEST(test_tls_close_notify)
{
    vt_pipe p;
    const char *coll = "  idle_timeout: 2s\n"
                       "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    char py[400], out[400], cmd[1400];
    snprintf(py, sizeof(py), "%s/client.py", p.dir);
    snprintf(out, sizeof(out), "%s/client.out", p.dir);
    ck_assert_int_eq(
        vt_write_file(
            py, "import socket, ssl, sys\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
                "def conn():\n"
                "    s = socket.create_connection(('::1', int(sys.argv[1])), timeout=15)\n"
                "    return ctx.wrap_socket(s, server_hostname='localhost')\n"
                "t = conn()\n"
                "t.sendall(b'<13>Nov 25 10:00:00 h app: seq=00000 client closes\\n')\n"
                "t.unwrap()\n"
                "print('answered', flush=True)\n"
                "t = conn()\n" /* a last line without LF, no close_notify: cut */
                "t.sendall(b'<13>Nov 25 10:00:00 h app: seq=00002 no close_notify')\n"
                "t.close()\n"
                "t = conn()\n" /* the same with close_notify: a line */
                "t.sendall(b'<13>Nov 25 10:00:00 h app: seq=00003 close_notify')\n"
                "t.unwrap()\n"
                "t = conn()\n"
                "t.sendall(b'<13>Nov 25 10:00:00 h app: seq=00001 collector closes\\n')\n"
                "try:\n"
                "    print('close_notify' if t.recv(100) == b'' else 'data')\n"
                "except ssl.SSLError as e:\n"
                "    print('cut:', e)\n"),
        0);
    snprintf(cmd, sizeof(cmd), "exec python3 %s %d %s/ca.pem > %s 2>&1", py, p.port, certs, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = vt_run(argv, 60);
    char *text = vt_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(rc == 0 && strcmp(text, "answered\nclose_notify\n") == 0, "rc %d: %s", rc, text);
    free(text);
    ck_assert(vt_wait_lines(p.alerts, 4, 20000));
    ck_assert(it_collector_says(&p, "idle_closed=1 "));
    ck_assert(it_collector_says(&p, "received=4 "));
    ck_assert(it_collector_says(&p, "malformed=0 truncated=1 "));
    /* TLS 1.2 by default: forward-secret AEAD suites only. A client
     * offering static-RSA key exchange alone (OpenSSL's default list took
     * it) is refused; ECDHE and DHE with AES-GCM are taken. */
    ck_assert(!it_tls12_suite_ok(&p, "AES128-GCM-SHA256"));
    ck_assert(!it_tls12_suite_ok(&p, "ECDHE-RSA-AES128-SHA"));
    ck_assert(it_tls12_suite_ok(&p, "ECDHE-RSA-AES128-GCM-SHA256"));
    ck_assert(it_tls12_suite_ok(&p, "DHE-RSA-AES256-GCM-SHA384"));
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert_int_eq(vt_count_text(log, "warning: TLS handshake with ::1 failed: "
                                        "error:0A0000C1:SSL routines::no shared cipher\n"), 2);
    /* Plain text to the TLS port (a scan, a sender on the wrong port):
     * every failed handshake counted, at most 10 a minute logged. Each
     * made a warning: a scan flooded the log. */
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p.port),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    for (int i = 0; i < 25; i++) {
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
        ck_assert_int_eq(write(fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);
        char c;
        ck_assert_int_le(read(fd, &c, 1), 0); /* closed by the collector */
        close(fd);
    }
    ck_assert(it_collector_says(&p, "tls_errors=27 "));
    ck_assert_int_eq(vt_count_text(log, "warning: TLS handshake with ::1 failed"), 10);
    vt_pipe_destroy(&p);
}
END_TEST

/* A hostile or broken TLS peer is counted, not only logged (at most 10
 * lines a minute): a record that does not decrypt after the handshake
 * (forged, or damaged on the way), and a handshake the client left
 * without an alert after sending bytes (a scanner, a client that gave
 * up). Before, neither reached tls_errors: past the log's budget they
 * were seen nowhere. A connection that sent nothing (a health check) is
 * no failed handshake. The line read before the bad record is kept, and
 * so is the unfinished one, flagged truncated. */
START_TEST(test_tls_errors_counted)
{
    vt_pipe p;
    const char *coll = "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], log[400];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    char py[400], out[400], cmd[1400];
    snprintf(py, sizeof(py), "%s/bad.py", p.dir);
    snprintf(out, sizeof(out), "%s/bad.out", p.dir);
    ck_assert_int_eq(
        vt_write_file(
            py, "import os, socket, ssl, sys\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
                "def raw():\n"
                "    return socket.create_connection(('::1', int(sys.argv[1])), timeout=5)\n"
                "t = ctx.wrap_socket(raw(), server_hostname='localhost')\n"
                "t.sendall(b'<13>Nov 25 10:00:00 h app: seq=00000 whole\\n'\n"
                "          b'<13>Nov 25 10:00:00 h app: seq=00001 unfinished')\n"
                /* an application-data record of 40 random bytes: bad MAC */
                "os.write(t.fileno(), bytes([23, 3, 3, 0, 40]) + os.urandom(40))\n"
                "try:\n"
                "    while t.recv(100): pass\n"
                "except (ssl.SSLError, OSError):\n"
                "    pass\n"
                "print('cut', flush=True)\n"
                "s = raw()\n" /* the start of a ClientHello, then the close */
                "s.sendall(bytes([22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3]))\n"
                "s.close()\n"
                "raw().close()\n" /* nothing sent */
                "print('done', flush=True)\n"),
        0);
    snprintf(cmd, sizeof(cmd), "exec python3 %s %d %s/ca.pem > %s 2>&1", py, p.port, certs, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = vt_run(argv, 30);
    char *text = vt_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(rc == 0 && strcmp(text, "cut\ndone\n") == 0, "rc %d: %s", rc, text);
    free(text);
    ck_assert(it_collector_says(&p, "tls_handshakes=1 tls_errors=2 "));
    ck_assert(it_collector_says(&p, "received=2 bytes="));
    ck_assert(it_collector_says(&p, "malformed=0 truncated=1 "));
    ck_assert_int_eq(vt_count_text(log, "warning: TLS read from ::1 failed: "), 1);
    ck_assert_int_eq(vt_count_text(log, "warning: TLS handshake with ::1 failed: the client "
                                        "closed the connection during the handshake, without "
                                        "a TLS alert\n"),
                     1);
    ck_assert(vt_wait_lines(p.alerts, 2, 20000));
    vt_pipe_destroy(&p);
}
END_TEST

/* Connects to the TLS listener (verifying it with DIR/certs/ca.pem), sends
 * "seq=N" and closes; whether the certificate the collector presented is
 * the one in DIR/certs/pem. */
static bool it_tls_cert_is(vt_pipe *p, const char *pem, int seq)
{
    char py[400], out[400], cmd[1400];
    snprintf(py, sizeof(py), "%s/cert_is.py", p->dir);
    snprintf(out, sizeof(out), "%s/cert_is.out", p->dir);
    ck_assert_int_eq(
        vt_write_file(py, "import socket, ssl, sys\n"
                          "ctx = ssl.create_default_context(cafile=sys.argv[2] + '/ca.pem')\n"
                          "s = socket.create_connection(('::1', int(sys.argv[1])), timeout=15)\n"
                          "t = ctx.wrap_socket(s, server_hostname='localhost')\n"
                          "want = ssl.PEM_cert_to_DER_cert(open(sys.argv[2] + '/' + sys.argv[3]).read())\n"
                          "print('same' if t.getpeercert(True) == want else 'other')\n"
                          "t.sendall(b'<13>Nov 25 10:00:00 h app: seq=%05d tls\\n' % int(sys.argv[4]))\n"
                          "t.unwrap()\n"),
        0);
    snprintf(cmd, sizeof(cmd), "exec python3 %s %d %s/certs %s %d > %s 2>&1", py, p->port, p->dir,
             pem, seq, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = vt_run(argv, 60);
    char *text = vt_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(rc == 0 && (strcmp(text, "same\n") == 0 || strcmp(text, "other\n") == 0),
                  "rc %d: %s", rc, text);
    bool same = strcmp(text, "same\n") == 0;
    free(text);
    return same;
}

/* Sends SIGHUP and returns how many reloads the log has said were done,
 * once it says one more (or after 10 s). */
static int it_config_line(const vt_pipe *p, const char *text);

static int it_sighup_reloads(vt_pipe *p, const char *log)
{
    int before = vt_count_text(log, "configuration reloaded");
    kill(p->pid[VT_COLLECTOR], SIGHUP);
    for (int i = 0; i < 100 && vt_count_text(log, "configuration reloaded") == before; i++)
        vt_sleep_ms(100);
    return vt_count_text(log, "configuration reloaded");
}

/* A renewed certificate is put in place of the old files and applied on
 * SIGHUP: new connections get it, without a restart (which would lose the
 * datagrams sent meanwhile). A file that no longer loads under the same
 * settings keeps the running certificate and lets the rest of the reload
 * apply; new settings naming files that do not load refuse the reload.
 * Before, a reload said "tls changed: this takes effect after a restart"
 * when the paths changed, and nothing when the files did. */
START_TEST(test_tls_certificate_reload)
{
    vt_pipe p;
    const char *coll = "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], log[400], want[600], cmd[1600];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    /* the test CA's certificates are valid for 2 days: a warning */
    snprintf(want, sizeof(want), "warning: TLS certificate %s/server.pem (/CN=localhost) expires on ",
             certs);
    ck_assert(vt_wait_text(log, want, 100));
    ck_assert(it_tls_cert_is(&p, "server.pem", 0));
    /* renew: a new key and certificate from the same CA, renamed into place */
    snprintf(cmd, sizeof(cmd),
             "cd %s && cp server.pem old.pem && "
             "openssl req -newkey rsa:2048 -nodes -keyout new.key -out new.csr "
             "-subj /CN=localhost 2>/dev/null && "
             "printf 'subjectAltName=DNS:localhost\\n' > new.ext && "
             "openssl x509 -req -in new.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out new.pem -days 2 -extfile new.ext 2>/dev/null && "
             "cp new.pem renewed.pem && mv new.key server.key && mv new.pem server.pem",
             certs);
    char *argv[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(argv, 60), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "configuration reloaded", 10000));
    ck_assert_int_eq(vt_count_text(log, want), 2);
    ck_assert(it_tls_cert_is(&p, "renewed.pem", 1));
    ck_assert(!it_tls_cert_is(&p, "old.pem", 2));
    /* a broken file under the same settings (a renewal half done, or a key
     * the collector cannot read as pipeline.user): an error, the renewed
     * certificate stays, and the rest of the reload applies */
    snprintf(want, sizeof(want), "%s/server.pem", certs);
    ck_assert_int_eq(vt_write_file(want, "not a certificate\n"), 0);
    ck_assert_int_eq(it_sighup_reloads(&p, log), 2);
    /* the configuration's line that names the file, then the file */
    char *cfgtext = vt_read_file(p.config, NULL), *at = strstr(cfgtext, "cert: certs/server.pem");
    ck_assert_ptr_nonnull(at);
    int line = 1;
    for (char *q = cfgtext; q < at; q++)
        line += *q == '\n';
    free(cfgtext);
    snprintf(want, sizeof(want),
             "error: %.200s:%d: %.200s/server.pem: cannot load TLS certificate: ", p.config, line,
             certs);
    ck_assert_int_eq(vt_count_text(log, want), 1);
    ck_assert_int_eq(vt_count_text(log, "(keeping the running TLS certificate)\n"), 1);
    ck_assert(it_tls_cert_is(&p, "renewed.pem", 3));
    /* new settings naming a file that is not there: the reload is refused */
    snprintf(cmd, sizeof(cmd), "sed -i 's|certs/server\\.pem|certs/missing.pem|' %s", p.config);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "(configuration refused; running on the previous one)", 10000));
    snprintf(want, sizeof(want), "%s/missing.pem: cannot load TLS certificate: ", certs);
    ck_assert_int_eq(vt_count_text(log, want), 1);
    ck_assert_int_eq(vt_count_text(log, "configuration reloaded"), 2);
    /* other paths are applied as well, and not said to need a restart:
     * before, the reload applied them and warned that tls did */
    snprintf(cmd, sizeof(cmd),
             "cd %s && cp renewed.pem r.pem && cp server.key r.key && "
             "sed -i 's|certs/server\\.key|certs/r.key|; s|certs/missing\\.pem|certs/r.pem|' %s",
             certs, p.config);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    ck_assert_int_eq(it_sighup_reloads(&p, log), 3);
    snprintf(want, sizeof(want), "TLS certificate %s/r.pem (/CN=localhost) expires on ", certs);
    ck_assert_int_eq(vt_count_text(log, want), 1);
    ck_assert_int_eq(vt_count_text(log, "takes effect after a restart"), 0);
    ck_assert(it_tls_cert_is(&p, "renewed.pem", 4));
    /* 'ciphers' opens TLS 1.2 to the suites it names, on a reload; a
     * string OpenSSL does not take refuses the reload, with its line, and
     * the running suites stay */
    snprintf(cmd, sizeof(cmd),
             "sed -i 's|^    key: certs/r\\.key$|&\\n    ciphers: \"ECDHE+AESGCM:AES128-GCM-SHA256\"|' "
             "%s",
             p.config);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    ck_assert_int_eq(it_sighup_reloads(&p, log), 4);
    ck_assert(it_tls12_suite_ok(&p, "AES128-GCM-SHA256"));
    ck_assert(it_tls12_suite_ok(&p, "ECDHE-RSA-AES128-GCM-SHA256"));
    ck_assert_int_eq(vt_count_text(log, "takes effect after a restart"), 0);
    snprintf(cmd, sizeof(cmd), "sed -i 's|ECDHE+AESGCM:AES128-GCM-SHA256|ECDHE+AESGCM:RSA-AES128|' %s",
             p.config);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    const char *refused = " (configuration refused; running on the previous one)\n";
    for (int i = 0; i < 100 && vt_count_text(log, refused) < 2; i++)
        vt_sleep_ms(100);
    cfgtext = vt_read_file(p.config, NULL);
    at = strstr(cfgtext, "ciphers: ");
    ck_assert_ptr_nonnull(at);
    line = 1;
    for (char *q = cfgtext; q < at; q++)
        line += *q == '\n';
    free(cfgtext);
    snprintf(want, sizeof(want),
             "error: %.200s:%d: ciphers: 'RSA-AES128' matches no TLS 1.2 cipher suite of this "
             "OpenSSL (`openssl ciphers -v` lists them; TLS 1.3 suites are not set here)%s",
             p.config, line, refused);
    ck_assert_msg(vt_count_text(log, want) == 1, "no '%s' in the log", want);
    ck_assert(it_tls12_suite_ok(&p, "AES128-GCM-SHA256"));
    /* an expired certificate put in place of the valid one (an old file
     * put back), with the ciphers mended: an error, the valid one stays. Before, it was taken, and
     * every sender that checks it refused the collector from then on. */
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -new -key r.key -subj /CN=localhost -out e.csr 2>/dev/null && "
             "openssl x509 -req -in e.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out e.pem "
             "-days -1 2>/dev/null && mv e.pem r.pem && "
             "sed -i 's|ECDHE+AESGCM:RSA-AES128|ECDHE+AESGCM:AES128-GCM-SHA256|' %s",
             certs, p.config);
    ck_assert_int_eq(vt_run(argv, 60), 0);
    ck_assert_int_eq(it_sighup_reloads(&p, log), 5);
    snprintf(want, sizeof(want),
             "error: %.200s:%d: TLS certificate %.200s/r.pem (/CN=localhost) expired on ",
             p.config, it_config_line(&p, "cert: certs/r.pem"), certs);
    ck_assert_msg(vt_count_text(log, want) == 1, "no '%s' in the log", want);
    ck_assert_int_eq(vt_count_text(log, ": an expired certificate does not replace a valid one "
                                        "(keeping the running TLS certificate)\n"),
                     1);
    ck_assert(it_tls_cert_is(&p, "renewed.pem", 5));
    ck_assert(vt_wait_lines(p.alerts, 6, 20000));
    it_alerts_numbered(p.alerts, 6);
    vt_pipe_destroy(&p);
}
END_TEST

/* The line of the configuration that holds text (1-based). */
static int it_config_line(const vt_pipe *p, const char *text)
{
    char *cfg = vt_read_file(p->config, NULL);
    ck_assert_ptr_nonnull(cfg);
    char *at = strstr(cfg, text);
    ck_assert_ptr_nonnull(at);
    int line = 1;
    for (char *q = cfg; q < at; q++)
        line += *q == '\n';
    free(cfg);
    return line;
}

/* The TLS certificate replaced by a FIFO that a writer holds open and
 * writes nothing to, then the key by a symlink to /dev/urandom: each
 * SIGHUP says at once which file and why, keeps the running certificate,
 * and the collector goes on taking connections and lines. Before, OpenSSL
 * read the FIFO in the collector's loop and blocked there for as long as
 * the writer lived (no connection, no line, no signal), and read the
 * device without end. -t refuses the FIFO the same way, and exits 1. */
START_TEST(test_tls_fifo_cert_reload)
{
    vt_pipe p;
    const char *coll = "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], log[400], want[1200], pem[500], key[500], keep[500], keepk[500];
    it_tls_pipe(&p, ANY_RULE, coll, certs, sizeof(certs));
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    snprintf(pem, sizeof(pem), "%s/server.pem", certs);
    snprintf(key, sizeof(key), "%s/server.key", certs);
    snprintf(keep, sizeof(keep), "%s/keep.pem", certs);
    snprintf(keepk, sizeof(keepk), "%s/keep.key", certs);
    ck_assert_int_eq(rename(pem, keep), 0);
    ck_assert_int_eq(mkfifo(pem, 0600), 0);
    int w = open(pem, O_RDWR | O_CLOEXEC); /* the silent writer */
    ck_assert_int_ge(w, 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    const char *why = "is a FIFO, not a regular file (refused without reading it: it could block "
                      "or never end)";
    snprintf(want, sizeof(want), "error: %.300s:%d: %.300s: cannot load TLS certificate: %s",
             p.config, it_config_line(&p, "cert: certs/server.pem"), pem, why);
    ck_assert_msg(vt_wait_text(log, want, 5000), "no '%s' in the log", want);
    ck_assert(vt_wait_text(log, "(keeping the running TLS certificate)\n", 1000));
    /* the loop runs: a TLS client gets the running certificate, its line an alert */
    ck_assert(it_tls_cert_is(&p, "keep.pem", 0));
    /* -t says the same, at once */
    char out[500], cmd[1600];
    snprintf(out, sizeof(out), "%s/check.out", p.dir);
    snprintf(cmd, sizeof(cmd), "%s -c %s -t > %s 2>&1", vt_bin("collector/vigil-collector"),
             p.config, out);
    char *argv[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(argv, 10), 1);
    snprintf(want, sizeof(want), "%.300s: cannot load TLS certificate: %s", pem, why);
    ck_assert_int_eq(vt_count_text(out, want), 1);
    ck_assert_int_eq(close(w), 0);
    /* the key a symlink to an endless device */
    ck_assert_int_eq(unlink(pem), 0);
    ck_assert_int_eq(link(keep, pem), 0);
    ck_assert_int_eq(rename(key, keepk), 0);
    ck_assert_int_eq(symlink("/dev/urandom", key), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    snprintf(want, sizeof(want),
             "error: %.300s:%d: %.300s: cannot load TLS key or it does not match %.300s: is a "
             "character device, not a regular file (refused without reading it: it could block "
             "or never end)",
             p.config, it_config_line(&p, "key: certs/server.key"), key, pem);
    ck_assert_msg(vt_wait_text(log, want, 5000), "no '%s' in the log", want);
    ck_assert(it_tls_cert_is(&p, "keep.pem", 1));
    ck_assert(vt_wait_lines(p.alerts, 2, 10000));
    it_alerts_numbered(p.alerts, 2);
    vt_pipe_destroy(&p);
}
END_TEST

/* A certificate that expires within 14 days is a notice of the collector's
 * own, on which the shipped rule vigil.tls_cert_expiring alerts: the test
 * CA's certificates are valid for 2 days, so 1 day is left. Before, only
 * the collector's log said so (since this session), and nothing before. */
START_TEST(test_tls_cert_expiry_alert)
{
    char rules[400];
    snprintf(rules, sizeof(rules), "%s/rules/vigil.yml", it_src_root());
    char *vigil_rules = vt_read_file(rules, NULL);
    ck_assert_ptr_nonnull(vigil_rules);
    vt_pipe p;
    const char *coll = "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n";
    char certs[400], want[600];
    it_tls_pipe(&p, vigil_rules, coll, certs, sizeof(certs));
    free(vigil_rules);
    ck_assert(vt_wait_lines(p.alerts, 1, 20000));
    vt_sleep_ms(300);
    ck_assert_int_eq(vt_count_lines(p.alerts), 1);
    ck_assert_int_eq(vt_count_text(p.alerts, "\"rule\":{\"id\":\"vigil.tls_cert_expiring\""), 1);
    snprintf(want, sizeof(want),
             "\"fields\":{\"path\":\"%s/server.pem\",\"subject\":\"/CN=localhost\",\"until\":\"",
             certs);
    ck_assert_msg(vt_count_text(p.alerts, want) == 1, "no %s in the alert", want);
    ck_assert_int_eq(vt_count_text(p.alerts, "\",\"days\":\"1\"}"), 1);
    vt_pipe_destroy(&p);
}
END_TEST

/* The collector's counters in its own log every collector.stats_log
 * while they change, without a SIGUSR1: the stats line after 5 messages
 * with their exact counts, not again while nothing changes; a bad
 * stats_log on SIGHUP refused with its line, a good one applied (1h: no
 * line for the messages after it). Before, the collector logged its
 * counters only on SIGUSR1 and at exit, and a holiday's journal showed
 * nothing of it. */
START_TEST(test_stats_log_on_change)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL, "  stats_log: 1s\n"), 0);
    vt_pipe_start_all(&p);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "info: stats: received=0 ", 5000));
    for (int i = 0; i < 5; i++) { /* 60 bytes each, without the LF */
        int fd = it_tcp_connect(p.port);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(it_send_seq(fd, "h", i), 0);
        close(fd);
        ck_assert(vt_wait_lines(p.alerts, i + 1, 20000));
    }
    const char *want = "info: stats: received=5 bytes=300 malformed=0 truncated=0 skipped_bytes=0 "
                       "spooled=5 spool_errors=0 pending=0 tcp_open=0 tcp_total=5 udp_errors=0 "
                       "udp_kernel_drops=0 dropped=0 pauses=0 paused=0 unread_at_stop=0 "
                       "tls_handshakes=0 tls_errors=0 tls_refused_names=0 conns_refused=0 "
                       "tls_handshake_timeouts=0 idle_closed=0 frame_timeouts=0 "
                       "unknown_version=0 throttles=0 throttled_ms=0 sent=5 acked=5 resent=0 connected=1\n";
    int n = it_stats_log_settles(log, want);
    ck_assert_int_eq(vt_count_text(log, "source "), 0); /* the summary only */

    int line = it_config_line(&p, "  stats_log: 1s\n");
    char *cfg = vt_read_file(p.config, NULL);
    ck_assert_ptr_nonnull(cfg);
    char *at = strstr(cfg, "stats_log: 1s\n");
    memcpy(at, "stats_log: 0\n\n", 14);
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    char refused[700];
    snprintf(refused, sizeof(refused),
             "%s:%d: 'stats_log' must be between 1000 and 3600000 ms, got '0' (configuration "
             "refused; running on the previous one)\n",
             p.config, line);
    ck_assert_msg(vt_wait_text(log, refused, 5000), "no refusal %s", refused);
    memcpy(at, "stats_log: 1h\n", 14);
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(vt_wait_text(log, "source map reloaded", 5000));
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(it_send_seq(fd, "h", 5), 0);
    close(fd);
    ck_assert(vt_wait_lines(p.alerts, 6, 20000));
    vt_sleep_ms(2500);
    ck_assert_int_eq(vt_count_text(log, "info: stats: "), n);
    ck_assert(it_collector_says(&p, "info: stats: received=6 bytes=360 "));
    vt_pipe_destroy(&p);
}
END_TEST

/* Agency and site from the source map: by HOSTNAME pattern first, then by
 * sender network; counters per agency, source and host; the map reloads
 * on SIGHUP. */
START_TEST(test_agency_site_tagging)
{
    vt_pipe p;
    const char *map = "  sources:\n"
                      "    - agency: aviation\n      site: tan-son-nhat\n      hosts: [\"*-tsn-*\"]\n"
                      "    - agency: railway\n      site: hanoi-station\n      networks: [127.0.0.0/8]\n";
    ck_assert_int_eq(vt_pipe_init_ex(&p, IT_RULES, NULL, map), 0);
    vt_pipe_start_all(&p);
    int fd = it_tcp_connect(p.port);
    const char *lines = "<13>Nov 25 10:00:00 fids-tsn-01 vigiltest: vigil integration seq=00000\n"
                        "<13>Nov 25 10:00:01 ticket-hn-01 vigiltest: vigil integration seq=00001\n";
    ck_assert_int_eq(it_send_all(fd, lines, strlen(lines)), 0);
    close(fd);
    ck_assert(vt_wait_lines(p.alerts, 2, 20000));
    char *b = vt_read_file(p.alerts, NULL);
    char *l0 = strstr(b, "seq=00000"), *l1 = strstr(b, "seq=00001");
    ck_assert(l0 && l1);
    ck_assert_ptr_nonnull(strstr(l0, "\"labels\":{\"agency\":\"aviation\",\"site\":\"tan-son-nhat\"}"));
    ck_assert_ptr_nonnull(strstr(l1, "\"labels\":{\"agency\":\"railway\",\"site\":\"hanoi-station\"}"));
    free(b);
    ck_assert(it_collector_says(&p, "agency aviation messages=1 "));
    ck_assert(it_collector_says(&p, "agency railway messages=1 "));
    ck_assert(it_collector_says(&p, "host fids-tsn-01 messages=1 "));
    /* Reload: the network now belongs to the road agency. */
    char cfg[400];
    snprintf(cfg, sizeof(cfg), "%s", p.config);
    char *c = vt_read_file(cfg, NULL);
    char *r = strstr(c, "agency: railway\n      site: hanoi-station");
    ck_assert_ptr_nonnull(r);
    memcpy(r, "agency: road   \n      site: bus-terminal ", strlen("agency: road   \n      site: bus-terminal "));
    ck_assert_int_eq(vt_write_file(cfg, c), 0);
    free(c);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "source map reloaded: 2 entries, 1 networks, 1 host patterns", 5000));
    fd = it_tcp_connect(p.port);
    const char *l2 = "<13>Nov 25 10:00:02 ticket-hn-01 vigiltest: vigil integration seq=00002\n";
    ck_assert_int_eq(it_send_all(fd, l2, strlen(l2)), 0);
    close(fd);
    ck_assert(vt_wait_lines(p.alerts, 3, 20000));
    b = vt_read_file(p.alerts, NULL);
    ck_assert_ptr_nonnull(strstr(strstr(b, "seq=00002"), "\"labels\":{\"agency\":\"road\",\"site\":\"bus-terminal\"}"));
    free(b);
    vt_pipe_destroy(&p);
}
END_TEST

/* What one loop pass reads is committed in one transaction. A pass that
 * reads many connections at once (senders that wrote while the collector
 * was stopped, starved, or paused) must not make a transaction larger than
 * the spool can ever hold: before, 40 connections of 30 KB lines read in
 * one pass made a 160-event commit bigger than a 4 MiB spool, which failed
 * ("durable queue full") and was retried whole forever, the spool empty:
 * intake stayed paused, and the events were lost at the stop. */
START_TEST(test_burst_larger_than_spool_committed)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init_ex(&p, ANY_RULE, NULL,
                                     "  spool_size: 4M\n  spool_limit: 3M\n"
                                     "  max_message_size: 64K\n"),
                     0);
    vt_pipe_start_all(&p);
    enum { CONNS = 40, LINES = 8, BODY = 30000 };
    size_t cap = (size_t)LINES * (BODY + 100);
    char *buf[CONNS];
    size_t len[CONNS], off[CONNS];
    int fd[CONNS];
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGSTOP), 0);
    for (int c = 0; c < CONNS; c++) {
        buf[c] = malloc(cap);
        ck_assert_ptr_nonnull(buf[c]);
        len[c] = off[c] = 0;
        for (int i = 0; i < LINES; i++) {
            len[c] += (size_t)sprintf(buf[c] + len[c], "<13>Nov 25 10:00:00 h app: seq=%05d ",
                                      c * LINES + i);
            memset(buf[c] + len[c], 'x', BODY);
            len[c] += BODY;
            buf[c][len[c]++] = '\n';
        }
        fd[c] = it_tcp_connect(p.port); /* in the listen backlog while stopped */
        ck_assert_int_ge(fd[c], 0);
        int fl = fcntl(fd[c], F_GETFL);
        ck_assert_int_eq(fcntl(fd[c], F_SETFL, fl | O_NONBLOCK), 0);
        ssize_t w; /* what the kernel takes now is read in the first pass */
        while (off[c] < len[c] && (w = write(fd[c], buf[c] + off[c], len[c] - off[c])) > 0)
            off[c] += (size_t)w;
        ck_assert_int_eq(fcntl(fd[c], F_SETFL, fl), 0);
    }
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGCONT), 0);
    for (int c = 0; c < CONNS; c++) {
        ck_assert_int_eq(it_send_all(fd[c], buf[c] + off[c], len[c] - off[c]), 0);
        close(fd[c]);
        free(buf[c]);
    }
    it_alerts_numbered(p.alerts, CONNS * LINES);
    ck_assert(it_collector_says(&p, " spool_errors=0 "));
    vt_pipe_destroy(&p);
}
END_TEST

/* A backlog in the senders' and the kernel's buffers, drained by a
 * correlator slower than the collector reads: each resume reads a burst
 * that reaches spool_limit again, so intake pauses and resumes over and
 * over. The log says the first pause and the first resume, not each one
 * (before: a warning and an info line for every pause, up to 8 lines a
 * second for as long as the backlog lasted, over a holiday hundreds of
 * thousands); every pause is still counted (pauses), and every line is
 * spooled and acknowledged once, none refused. */
START_TEST(test_spool_full_flapping_logged_once)
{
    vt_pipe p;
    ck_assert_int_eq(
        vt_pipe_init_ex(&p, IT_RULES, NULL, "  spool_size: 4M\n  spool_limit: 256K\n"), 0);
    vt_pipe_start(&p, VT_COLLECTOR);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    enum { N = 8000 };
    size_t cap = (size_t)N * 80, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(buf + len, cap - len,
                                "<13>Nov 25 10:00:00 h vigiltest: vigil integration seq=%05d\n", i);
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    size_t w = it_write_until_full(fd, buf, len, 300); /* the correlator is not there yet */
    ck_assert_msg(vt_wait_text(log, "spool full (", 5000), "collector never paused");
    vt_pipe_start(&p, VT_CORRELATOR);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    ck_assert_int_eq(it_send_all(fd, buf + w, len - w), 0);
    close(fd);
    free(buf);
    /* the spool is trimmed after the acknowledgement, and intake resumes
     * at the next check of the spool (4 a second) */
    long acked = -1, pending = -1, paused = -1;
    for (int i = 0; i < 150 && (acked != N || pending != 0 || paused != 0); i++) {
        vt_sleep_ms(100);
        acked = it_stat(&p, VT_COLLECTOR, "stats: received=", " acked=", true);
        pending = it_stat(&p, VT_COLLECTOR, "stats: received=", " pending=", false);
        paused = it_stat(&p, VT_COLLECTOR, "stats: received=", " paused=", false);
    }
    ck_assert_int_eq(acked, N);
    ck_assert_int_eq(it_stat(&p, VT_COLLECTOR, "stats: received=", "stats: received=", false), N);
    ck_assert_int_eq(it_stat(&p, VT_COLLECTOR, "stats: received=", " spooled=", false), N);
    ck_assert_int_eq(pending, 0);
    ck_assert_int_eq(it_stat(&p, VT_COLLECTOR, "stats: received=", " dropped=", false), 0);
    ck_assert_int_eq(paused, 0);
    long pauses = it_stat(&p, VT_COLLECTOR, "stats: received=", " pauses=", false);
    ck_assert_msg(pauses >= 2, "intake paused %ld times: no flapping to test", pauses);
    ck_assert_int_eq(vt_count_text(log, "spool full ("), 1);
    ck_assert_int_eq(vt_count_text(log, ": resuming intake ("), 1);
    ck_assert(vt_wait_text(log, "spool below 235926 bytes: resuming intake (0 datagrams refused "
                                "so far)\n", 100));
    vt_pipe_destroy(&p);
}
END_TEST

/* ---- a full disk under the spool ---- */

/* Makes a pipe, puts a tmpfs on its data directory (it_tmpfs) and starts
 * the collector on it; data, filler (where it_fill puts its file) and log
 * are 400 bytes each. False, with the pipe destroyed, where the test may
 * not mount one: it is then skipped. */
static bool it_full_disk_collector(vt_pipe *p, char *data, char *filler, char *log)
{
    ck_assert_int_eq(vt_pipe_init(p, ANY_RULE), 0);
    snprintf(data, 400, "%s/data", p->dir);
    snprintf(filler, 400, "%s/filler", data);
    if (!it_tmpfs(data)) {
        vt_pipe_destroy(p);
        return false;
    }
    vt_pipe_start(p, VT_COLLECTOR);
    vt_pipe_log(p, VT_COLLECTOR, log, 400);
    ck_assert(vt_wait_text(log, " started (config ", 10000));
    return true;
}

/* Writes what the socket takes now of buf[*off..len) (fd is non-blocking). */
static void it_pump(int fd, const char *buf, size_t len, size_t *off)
{
    ssize_t w;
    while (*off < len && (w = send(fd, buf + *off, len - *off, MSG_DONTWAIT)) > 0)
        *off += (size_t)w;
}

/* The disk under the spool fills up while messages come in over TCP. The
 * collector holds what it read, pauses TCP intake (the sender waits) and
 * retries; once there is room again every message is spooled, and all of
 * them reach the alerts, once each. The failure is logged once, not four
 * times a second (the log may be on that same full disk), and so is the
 * recovery. */
START_TEST(test_disk_full_holds_and_recovers)
{
    vt_pipe p;
    char data[400], filler[400], log[400];
    if (!it_full_disk_collector(&p, data, filler, log))
        return;
    it_fill(data, filler, 48 * 1024);
    enum { N = 1500 };
    char *buf = malloc((size_t)N * 128);
    size_t len = 0, off = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(buf + len, "<13>Nov 25 10:00:00 h app: seq=%05d %.60s\n", i,
                               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < 200 && !vt_count_text(log, "spool commit of "); i++) {
        it_pump(fd, buf, len, &off);
        vt_sleep_ms(50);
    }
    ck_assert_msg(vt_count_text(log, "spool commit of "), "no commit failed (%zu bytes sent)", off);
    ck_assert_int_gt(vt_count_text(log, "failed: No space left on device") +
                         vt_count_text(log, "failed: Input/output error"),
                     0);
    vt_sleep_ms(2000); /* eight more attempts */
    ck_assert_int_ge(it_stat(&p, VT_COLLECTOR, "stats: received=", " spool_errors=", true), 5);
    ck_assert_int_eq(vt_count_text(log, "spool commit"), 1);
    ck_assert_int_eq(vt_count_text(log, "error: "), 1);
    /* At start it said that the 256 MiB spool is more than the 8 MiB disk
     * holds (spool_limit could never pause intake; nothing said so). */
    char want[1200];
    snprintf(want, sizeof(want), "warning: collector.spool_size is 256 MiB, more than the file "
             "system of %s/collector/c1 can give it (", data);
    ck_assert_int_eq(vt_count_text(log, want), 1);
    ck_assert_int_eq(unlink(filler), 0);
    for (int i = 0; i < 400 && off < len; i++) {
        it_pump(fd, buf, len, &off);
        vt_sleep_ms(50);
    }
    ck_assert_uint_eq(off, len);
    close(fd);
    free(buf);
    ck_assert(vt_wait_text(log, "warning: spool commits succeed again, after ", 10000));
    long spooled = 0;
    for (int i = 0; i < 100 && spooled < N; i++, vt_sleep_ms(50))
        spooled = it_stat(&p, VT_COLLECTOR, "stats: received=", " spooled=", true);
    ck_assert_int_eq(spooled, N);
    ck_assert_int_eq(it_stat(&p, VT_COLLECTOR, "stats: received=", "stats: received=", false), N);
    vt_pipe_start(&p, VT_SHIPPER);
    vt_pipe_start(&p, VT_CORRELATOR);
    it_alerts_numbered(p.alerts, N);
    for (int w = VT_COLLECTOR; w <= VT_SHIPPER; w++)
        ck_assert_int_eq(vt_pipe_stop(&p, w, SIGTERM), 0);
    umount2(data, MNT_DETACH);
    vt_pipe_destroy(&p);
}
END_TEST

/* Stopped while the disk is still full, the collector tries for 3 s more,
 * then logs the raw message of each event it could not spool (escaped as
 * JSON strings): a TCP sender took them as delivered, so the log is the
 * only place left where they are not lost without a trace. */
/* Datagrams keep coming while the disk under the spool is full: each is
 * refused and counted, and the held commit is retried 4 times a second,
 * as the log says, not once per datagram (every one woke the loop, and
 * each pass tried a commit on the full disk: about 90 a second here).
 * Once there is room, what was held is spooled, and the received and
 * refused datagrams add up to what was sent. */
START_TEST(test_disk_full_udp_retries_at_its_pace)
{
    vt_pipe p;
    char data[400], filler[400], log[400];
    if (!it_full_disk_collector(&p, data, filler, log))
        return;
    it_fill(data, filler, 16 * 1024);
    int sent = 0;
    char d[256];
    /* until a commit fails (the pending datagrams fill the 16 KB) */
    for (; sent < 2000 && !vt_count_text(log, "error: spool commit of "); sent++) {
        int n = snprintf(d, sizeof(d), "<13>Nov 25 10:00:00 h app: seq=%05d %.100s", sent,
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxx");
        it_datagram(p.port, NULL, d, (size_t)n);
        if (sent % 20 == 19)
            vt_sleep_ms(10);
    }
    ck_assert_msg(vt_wait_text(log, "error: spool commit of ", 2000), "no commit failed");
    long e0 = it_stat(&p, VT_COLLECTOR, "stats: received=", " spool_errors=", true);
    ck_assert_int_ge(e0, 1);
    /* 1 s of datagrams, one every 2 ms: about 4 more attempts, not 500 */
    for (int i = 0; i < 500; i++, sent++) {
        int n = snprintf(d, sizeof(d), "<13>Nov 25 10:00:00 h app: seq=%05d refused", sent);
        it_datagram(p.port, NULL, d, (size_t)n);
        vt_sleep_ms(2);
    }
    long e1 = it_stat(&p, VT_COLLECTOR, "stats: received=", " spool_errors=", true);
    ck_assert_msg(e1 - e0 <= 8, "%ld commit attempts in about 1 s", e1 - e0);
    ck_assert_int_ge(e1 - e0, 2);
    ck_assert_int_eq(unlink(filler), 0);
    ck_assert(vt_wait_text(log, "warning: spool commits succeed again, after ", 5000));
    /* (it said "spool below N bytes", the limit's line, though the spool
     * was never above it) */
    ck_assert(vt_wait_text(log, "info: spool commits pass again: resuming intake (", 5000));
    ck_assert_int_eq(vt_count_text(log, "spool below "), 0);
    long received = it_stat(&p, VT_COLLECTOR, "stats: received=", "stats: received=", true);
    long dropped = it_stat(&p, VT_COLLECTOR, "stats: received=", " dropped=", false);
    ck_assert_int_eq(received + dropped, sent);
    ck_assert_int_eq(vt_count_text(log, "error: "), 1);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    umount2(data, MNT_DETACH);
    vt_pipe_destroy(&p);
}
END_TEST

START_TEST(test_disk_full_at_stop_logs_held_events)
{
    vt_pipe p;
    char data[400], filler[400], log[400];
    if (!it_full_disk_collector(&p, data, filler, log))
        return;
    it_fill(data, filler, 0);
    int fd = it_tcp_connect(p.port);
    ck_assert_int_ge(fd, 0);
    static const char lines[] = "<13>Nov 25 10:00:00 h app: seq=00001 \"quoted\"\n"
                                "<13>Nov 25 10:00:00 h app: seq=00002 tab\there\n";
    ck_assert_int_eq(it_send_all(fd, lines, sizeof(lines) - 1), 0);
    ck_assert(vt_wait_text(log, "spool commit of 2 events failed: ", 10000));
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    close(fd);
    ck_assert_int_eq(vt_count_text(log, "error: 2 events could not be committed at shutdown; "
                                        "their raw messages follow, one 'not spooled' line each\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "error: not spooled: \"<13>Nov 25 10:00:00 h app: "
                                        "seq=00001 \\\"quoted\\\"\"\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "error: not spooled: \"<13>Nov 25 10:00:00 h app: "
                                        "seq=00002 tab\\there\"\n"),
                     1);
    ck_assert_int_eq(vt_count_text(log, "not spooled: "), 2);
    umount2(data, MNT_DETACH);
    vt_pipe_destroy(&p);
}
END_TEST

static Suite *collector_suite(void)
{
    Suite *s = suite_create("collector");
    /* several cases, so that meson runs the long ones next to other tests
     * (tests/integration/meson.build) */
    TCase *tc = it_tcase(s, "intake", 300);
    tcase_add_test(tc, test_malformed_and_oversized_kept);
    tcase_add_test(tc, test_1000_connections);
    tcase_add_test(tc, test_ipv6_and_unix_socket);
    tcase_add_test(tc, test_backpressure_spool_full);
    tcase_add_test(tc, test_logger_forms_parsed_exactly);
    tcase_add_test(tc, test_odd_intake_flagged_and_parsed);
    tcase_add_test(tc, test_spool_sync_commit);
    tcase_add_test(tc, test_long_line_then_short_lines);
    tcase_add_test(tc, test_nul_run_counted);
    tcase_add_test(tc, test_octet_count_wrong_resyncs);
    tcase_add_test(tc, test_dump_spool_bytes_exact);
    tcase_add_test(tc, test_reset_cuts_partial_line);
    tcase_add_test(tc, test_count_without_frame_says_cut);
    tcase_add_test(tc, test_datagram_rest_counted);
    tcase_add_test(tc, test_slow_and_half_closed_senders);
    tcase_add_test(tc, test_agency_site_tagging);
    tcase_add_test(tc, test_stats_log_on_change);
    /* connection limits and timeouts, UDP */
    TCase *li = it_tcase(s, "limits", 300);
    tcase_add_test(li, test_connection_limits);
    tcase_add_test(li, test_refused_counted_per_source);
    tcase_add_test(li, test_fd_limit_refusals_counted);
    tcase_add_test(li, test_collector_close_keeps_partial_frame);
    tcase_add_test(li, test_frame_timeout_slow_sender);
    tcase_add_test(li, test_idle_timeout_ignores_empty_frames);
    tcase_add_test(li, test_idle_timeout_split_empty_frames);
    tcase_add_test(li, test_rate_per_ip_holds_back);
    tcase_add_test(li, test_per_ip_counts_ipv6_64);
    tcase_add_test(li, test_udp_address_in_use_refused);
    tcase_add_test(li, test_udp_kernel_drops_counted);
    TCase *tl = it_tcase(s, "tls", 300);
    tcase_add_test(tl, test_tls_close_notify);
    tcase_add_test(tl, test_tls_frame_timeout);
    tcase_add_test(tl, test_tls_rate_per_ip);
    tcase_add_test(tl, test_plain_syslog_to_tls_port);
    tcase_add_test(tl, test_tls_errors_counted);
    tcase_add_test(tl, test_tls_client_cert_refusal_named);
    tcase_add_test(tl, test_tls_certificate_reload);
    tcase_add_test(tl, test_tls_cert_expiry_alert);
    /* what a stop reads, and says */
    TCase *st = it_tcase(s, "stop", 300);
    tcase_add_test(st, test_refused_noticed_at_stop);
    tcase_add_test(st, test_stop_reads_queued_datagrams);
    tcase_add_test(st, test_stop_unix_sender_told);
    tcase_add_test(st, test_stop_reads_queued_tcp);
    tcase_add_test(st, test_stop_reads_rate_held);
    tcase_add_test(st, test_stop_reads_past_limit);
    tcase_add_test(st, test_stop_reads_while_paused);
    tcase_add_test(st, test_stop_counts_unread_while_paused);
    tcase_add_test(st, test_stop_reads_backlog_connections);
    TCase *df = it_tcase(s, "disk_full", 300);
    tcase_add_test(df, test_disk_full_holds_and_recovers);
    tcase_add_test(df, test_disk_full_at_stop_logs_held_events);
    /* CK_RUN_CASE=disk_full_udp runs it alone (root, for its tmpfs) */
    TCase *du = it_tcase(s, "disk_full_udp", 60);
    tcase_add_test(du, test_disk_full_udp_retries_at_its_pace);
    /* CK_RUN_CASE=tls_files: TLS files that are no regular files */
    TCase *tf = it_tcase(s, "tls_files", 60);
    tcase_add_test(tf, test_tls_fifo_cert_reload);
    TCase *acked = it_tcase(s, "stop_acked", 60); /* CK_RUN_CASE=stop_acked runs it alone */
    tcase_add_test(acked, test_stop_keeps_every_acknowledged_byte);
    tcase_add_test(acked, test_stop_resets_connections);
    TCase *burst = it_tcase(s, "spool_burst", 120);
    tcase_add_test(burst, test_burst_larger_than_spool_committed);
    tcase_add_test(burst, test_spool_full_flapping_logged_once);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a failing test exits: keep what it printed */
    SRunner *sr = srunner_create(collector_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
