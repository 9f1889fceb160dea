/* The whole pipeline with real daemons and a real client: lines sent with
 * logger(1) over TCP come out of the shipper as alerts, each exactly once;
 * bad frames, foreign peers, reloads and bad configs are handled as
 * docs/architecture.md promises. */
#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "it_common.h"
#include "vt_asan.h"

#define N_LINES 10000

START_TEST(test_10k_lines_exactly_once)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, N_LINES, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    bool all = vt_wait_lines(p.alerts, N_LINES, 60000);
    vt_sleep_ms(300); /* anything extra would show up now */
    ck_assert_msg(all, "only %ld of %d alerts arrived", vt_count_lines(p.alerts), N_LINES);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, N_LINES), 0);
    /* The collector's counters reach the correlator (STATS), and the
     * correlator's reach the shipper. */
    char log[400];
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    bool seen = false;
    for (int i = 0; i < 50 && !seen; i++) {
        kill(p.pid[VT_CORRELATOR], SIGUSR1);
        seen = vt_wait_text(log, "upstream c1 (collector, pid", 100) &&
               vt_wait_text(log, "committed=10000 received=10000 bytes=", 100);
    }
    ck_assert_msg(seen, "correlator did not report the collector's STATS");
    vt_pipe_log(&p, VT_SHIPPER, log, sizeof(log));
    seen = false;
    for (int i = 0; i < 50 && !seen; i++) {
        kill(p.pid[VT_SHIPPER], SIGUSR1);
        seen = vt_wait_text(log, "committed=10000 events=10000 malformed_in=0 alerts=10000", 100);
    }
    ck_assert_msg(seen, "shipper did not report the correlator's STATS");
    /* Clean stop: every daemon exits 0 on SIGTERM. */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGTERM), 0);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_SHIPPER, SIGTERM), 0);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "received=10000 ", 100));
    vt_pipe_destroy(&p);
}
END_TEST

/* Copies into out what follows key in s, up to (not including) the first
 * 'end'; returns 0, or -1 when key is absent or the text does not fit. */
static int it_after(const char *s, const char *key, char end, char *out, size_t cap)
{
    const char *a = strstr(s, key), *e;
    if (!a || !(e = strchr(a += strlen(key), end)) || (size_t)(e - a) >= cap)
        return -1;
    memcpy(out, a, (size_t)(e - a));
    out[e - a] = '\0';
    return 0;
}

/* An RFC 3339 time with microseconds and a numeric offset, as logger(1)
 * writes it, in UTC the way an alert's @timestamp is written; "" if it is
 * not of that shape. */
static const char *it_utc(const char *t, char *out, size_t cap)
{
    struct tm tm = {0};
    int us, oh, om, n = 0;
    char sign;
    out[0] = '\0';
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%6d%c%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us, &sign, &oh, &om, &n) != 10 ||
        t[n] != '\0' || (sign != '+' && sign != '-'))
        return out;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t utc = timegm(&tm) - (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", gmtime_r(&utc, &tm));
    snprintf(out, cap, "%s.%06dZ", day, us);
    return out;
}

/* Exact content of one alert, byte for byte, from one RFC 5424 UDP
 * datagram. Only what the clock and the machine decide is read from the
 * line (the event's time, the outbox epoch in the id, the host name), and
 * each of those is checked against its source. */
START_TEST(test_alert_json_exact)
{
    vt_pipe p;
    const char *rules = IT_SSH_RULES;
    ck_assert_int_eq(vt_pipe_init(&p, rules), 0);
    vt_pipe_start_all(&p);
    char port[16];
    snprintf(port, sizeof(port), "%d", p.port);
    char *argv[] = {"logger", "-d", "-n", "127.0.0.1", "-P", port, "--rfc5424=notq", "-t", "sshd",
                    "-p", "auth.info", "--id=4242", "--",
                    "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2", NULL};
    ck_assert_int_eq(vt_run(argv, 30), 0);
    ck_assert(vt_wait_lines(p.alerts, 1, 20000));
    vt_sleep_ms(300); /* a second alert would show up now */
    ck_assert_int_eq(vt_count_lines(p.alerts), 1);
    char *b = vt_read_file(p.alerts, NULL);
    ck_assert_ptr_nonnull(b);
    char sent[64], ts[64], id[64], host[256], want[2048];
    /* the datagram's time, as logger wrote it; @timestamp, start and end
     * are that instant in UTC */
    ck_assert_int_eq(it_after(b, "\"raw\":[\"<38>1 ", ' ', sent, sizeof(sent)), 0);
    it_utc(sent, ts, sizeof(ts));
    ck_assert_msg(ts[0], "raw line's time '%s' is not RFC 3339 with microseconds", sent);
    /* the id is 32 hex digits: epoch of the correlator's outbox + seq 1 */
    ck_assert_int_eq(it_after(b, "\"event\":{\"kind\":\"alert\",\"id\":\"", '"', id, sizeof(id)), 0);
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
    ck_assert_str_eq(id + 16, "0000000000000001");
    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    snprintf(want, sizeof(want),
             "{\"@timestamp\":\"%s\",\"ecs\":{\"version\":\"8.11.0\"},"
             "\"event\":{\"kind\":\"alert\",\"id\":\"%s\",\"severity\":5,"
             "\"start\":\"%s\",\"end\":\"%s\"},"
             "\"rule\":{\"id\":\"ssh.auth_failed\",\"name\":\"SSH authentication failure\"},"
             "\"host\":{\"name\":\"%s\"},\"process\":{\"name\":\"sshd\"},"
             "\"source\":{\"ip\":\"203.0.113.5\",\"port\":4242},\"user\":{\"name\":\"admin\"},"
             "\"related\":{\"ip\":[\"203.0.113.5\"],\"user\":[\"admin\"]},"
             "\"message\":\"Failed password for invalid user admin from 203.0.113.5 port 4242 "
             "ssh2\","
             "\"observer\":{\"vendor\":\"Vigil\",\"product\":\"vigil\",\"name\":\"shipper\"},"
             "\"labels\":{\"agency\":\"unknown\",\"site\":\"unknown\"},"
             "\"vigil\":{\"kind\":\"match\",\"count\":1,\"sender\":\"127.0.0.1\","
             "\"fields\":{\"method\":\"password\"},"
             "\"raw\":[\"<38>1 %s %s sshd 4242 - - Failed password for invalid user admin from "
             "203.0.113.5 port 4242 ssh2\"]}}\n",
             ts, id, ts, ts, host, sent, host);
    ck_assert_str_eq(b, want);
    free(b);
    vt_pipe_destroy(&p);
}
END_TEST

static int it_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Returns 1 when the peer closed the connection within timeout_ms. */
static int it_peer_closed(int fd, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[256];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 1;
        if (r < 0)
            return 0;
    }
}

/* Frames that break the protocol: each is refused, counted, the link is
 * dropped, and the correlator goes on serving the real collector. */
START_TEST(test_bad_frames_counted_process_lives)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/run/correlator.sock", p.dir);
    static const unsigned char frames[][12] = {
        {0, 0, 0, 2, 0x92, 0x09, 0x01},             /* unknown type 9 */
        {0, 0, 0, 4, 0x92, 0x04, 0x01, 0xc0},       /* ACK [4, 1] + a trailing nil */
        {0, 0, 0, 3, 0x92, 0x04},                   /* length says 3, 2 bytes, then EOF */
        {0, 0, 0, 2, 0x92, 0x04, 0xa1, 0x78},       /* ACK with a string seq */
        {0x7f, 0xff, 0xff, 0xff, 0x92},             /* 2 GiB length */
        {0, 0, 0, 3, 0x92, 0x04, 0x01},             /* a well-formed ACK, to a receiver */
    };
    static const size_t sizes[] = {7, 8, 6, 8, 5, 7};
    int closed = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int fd = it_connect(sock);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, frames[i], sizes[i]), (ssize_t)sizes[i]);
        if (i == 2)
            shutdown(fd, SHUT_WR); /* the truncated frame ends with the connection */
        closed += it_peer_closed(fd, 5000);
        close(fd);
    }
    ck_assert_int_eq(closed, 6);
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], 0), 0);
    /* Still serving. */
    char file[400];
    ck_assert_int_eq(it_write_lines(&p, "lines.txt", 0, 100, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 100, 30000));
    ck_assert_int_eq(it_check_exactly_once(p.alerts, 100), 0);
    /* Counted: 3 decoder refusals, 1 oversized frame, 1 frame cut by EOF,
     * 1 frame out of place (it closed the link uncounted) */
    kill(p.pid[VT_CORRELATOR], SIGUSR1);
    char log[400];
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "bad_frames=6 ", 5000));
    ck_assert(vt_wait_text(log, "closed mid-frame", 100));
    vt_pipe_destroy(&p);
}
END_TEST

/* Two collectors configured with one name by mistake (one per agency,
 * each with its own data_dir): the correlator refuses the second while the
 * first is connected, with an error naming both, and the first's stream
 * goes on untouched. Before, each connect closed the other's link and
 * reset the stream's stored position to the newcomer's epoch, turn by
 * turn: a batch committed whose ACK the close lost counted again, and each
 * collector logged its acknowledged records as lost. Once the first is
 * stopped, the second's records all arrive: nothing lost, nothing twice. */
START_TEST(test_two_collectors_one_name_refused)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    char cfg2[400], log2[400], yaml[1024], clog[400], path[400], port2[16];
    snprintf(cfg2, sizeof(cfg2), "%.380s/second.yaml", p.dir);
    snprintf(log2, sizeof(log2), "%.380s/second.log", p.dir);
    snprintf(yaml, sizeof(yaml),
             "pipeline:\n  run_dir: run\n  data_dir: data2\n  log_level: info\n"
             "collector:\n  name: c1\n  listen:\n    - tcp://127.0.0.1:%d\n  spool_size: 64M\n",
             p.port2);
    ck_assert_int_eq(vt_write_file(cfg2, yaml), 0);
    pid_t second = vt_spawn("collector/vigil-collector", cfg2, log2);
    ck_assert_int_gt(second, 0);
    vt_pipe_log(&p, VT_CORRELATOR, clog, sizeof(clog));
    ck_assert_msg(vt_wait_text(clog, "stream c1: refused a second upstream with this name "
                                     "(collector, pid ", 10000),
                  "the correlator took a second collector named c1");
    char want[160];
    snprintf(want, sizeof(want), "while pid %ld (epoch ", (long)p.pid[VT_COLLECTOR]);
    ck_assert(vt_wait_text(clog, want, 0));
    /* each sends its lines: the first's arrive, the second's wait in its spool */
    ck_assert_int_eq(it_write_lines(&p, "first.txt", 0, 100, path, sizeof(path)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, path, NULL), 0);
    ck_assert_int_eq(it_write_lines(&p, "second.txt", 100, 200, path, sizeof(path)), 0);
    snprintf(port2, sizeof(port2), "%d", p.port2);
    char *argv[] = {"logger", "--tcp", "-n", "127.0.0.1", "-P", port2, "-t", "vigiltest",
                    "-f", path, NULL};
    ck_assert_int_eq(vt_run(argv, 30), 0);
    ck_assert(vt_wait_lines(p.alerts, 100, 10000));
    ck_assert_msg(vt_wait_text(log2, "closed again before it answered HELLO (", 5000),
                  "the refused collector does not say so");
    ck_assert(vt_wait_text(log2, "): it refuses stream c1 (see its log: does another upstream "
                                 "have the name c1?)",
                           0));
    vt_sleep_ms(200);
    ck_assert_int_eq(vt_count_lines(p.alerts), 100);
    ck_assert_int_eq(vt_count_text(clog, "starts a new sequence"), 0);
    ck_assert_int_eq(vt_count_text(clog, "connected again"), 0);
    ck_assert_int_eq(vt_count_text(clog, "logged once a minute"), 1);
    /* the first stops; the second, restarted (as after its name is fixed,
     * or at its next retry), is taken and sends what it kept */
    ck_assert_int_eq(vt_pipe_stop(&p, VT_COLLECTOR, SIGTERM), 0);
    ck_assert_int_eq(vt_stop_pid(second, SIGTERM), 0);
    second = vt_spawn("collector/vigil-collector", cfg2, log2);
    ck_assert_int_gt(second, 0);
    ck_assert_msg(vt_wait_lines(p.alerts, 200, 20000), "%ld of 200 alerts",
                  vt_count_lines(p.alerts));
    vt_sleep_ms(200);
    ck_assert_int_eq(it_check_exactly_once(p.alerts, 200), 0);
    ck_assert_int_eq(vt_stop_pid(second, SIGTERM), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* A process running as another user may not talk to the pipeline, even
 * when the socket's permissions would let it connect. */
START_TEST(test_foreign_peer_refused)
{
    if (geteuid() != 0) {
        printf("skipped: needs root to run a peer as another uid\n");
        return;
    }
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    char sock[400], run[400];
    snprintf(run, sizeof(run), "%s/run", p.dir);
    snprintf(sock, sizeof(sock), "%s/run/correlator.sock", p.dir);
    /* Open the door on purpose so that only SO_PEERCRED stands in the way. */
    ck_assert_int_eq(chmod(p.dir, 0755), 0);
    ck_assert_int_eq(chmod(run, 0755), 0);
    ck_assert_int_eq(chmod(sock, 0666), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        int fd = it_connect(sock);
        if (fd < 0)
            _exit(3);
        static const unsigned char ack[] = {0, 0, 0, 2, 0x92, 0x04, 0x01};
        ssize_t w = write(fd, ack, sizeof(ack));
        (void)w;
        _exit(it_peer_closed(fd, 5000) ? 0 : 4);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    char log[400];
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "uid 65534 is not the pipeline user (uid 0)", 5000));
    kill(p.pid[VT_CORRELATOR], SIGUSR1);
    ck_assert(vt_wait_text(log, "peers_refused=1 ", 5000));
    vt_pipe_destroy(&p);
}
END_TEST

/* SIGHUP with a broken rule keeps the old rules and says where the error
 * is; a good rule set is then applied without a restart. */
/* The last line of the file at path that holds every one of a and b;
 * malloc'ed, NULL if none. */
static char *it_last_line_with(const char *path, const char *a, const char *b)
{
    char *txt = vt_read_file(path, NULL), *found = NULL;
    for (char *line = txt ? strtok(txt, "\n") : NULL; line; line = strtok(NULL, "\n"))
        if (strstr(line, a) && strstr(line, b))
            found = line;
    char *out = found ? strdup(found) : NULL;
    free(txt);
    return out;
}

/* Writes a rule file of n match rules "test.big.I", each with its own regex
 * (none matches a test line): Hyperscan takes 2.5 s to compile 2,000 of
 * them (more under ASan, whose malloc it uses), long enough for a test to
 * act while it does. */
/* How many: 2,000; 500 under ASan (vt_asan.h), which loads 500 slower than
 * the plain build loads 2,000 (~4.5 s against ~1.3 s for --replay on the
 * CI machine), so the window the tests act in is still wider there; 2,000
 * took ~14 s a load under ASan, 2-3 loads a test. A load that ends too
 * soon fails the tests (they check that it had not ended), it is not
 * silently missed. */
#define IT_BIG (VT_ASAN ? 500 : 2000)
static void it_write_big_rules(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "rules:\n");
    for (int i = 0; i < n; i++)
        fprintf(f,
                "  - id: test.big.%d\n    name: Big %d\n    level: 1\n    match:\n"
                "      regex: 'conn%d from (?<src_ip>[0-9.]+) port'\n",
                i, i, i);
    ck_assert_int_eq(fclose(f), 0);
}

/* SIGHUP checks a rule set at once and builds its prefilter on a worker
 * thread: a second SIGHUP during that build wins (the first set is
 * dropped, never applied), and SIGTERM during a build stops cleanly. */
START_TEST(test_sighup_builds_off_the_loop)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    char path[400], log[400], file[400];
    snprintf(path, sizeof(path), "%s/test.yml", p.rules);
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    char big_checked[64], big_reloaded[64];
    snprintf(big_checked, sizeof(big_checked), "%d rules checked in ", IT_BIG);
    snprintf(big_reloaded, sizeof(big_reloaded), "rules reloaded: %d rules", IT_BIG);

    it_write_big_rules(path, IT_BIG);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    ck_assert(vt_wait_text(log, big_checked, 30000));
    /* the big set's prefilter is building: a small set replaces it */
    ck_assert_int_eq(vt_write_file(path, "rules:\n  - id: test.small\n    name: Small\n"
                                         "    level: 4\n    match:\n      regex: 'seq=0000[0-9]'\n"),
                     0);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    ck_assert(vt_wait_text(log, "rules reloaded: 1 rules from ", 30000));
    ck_assert(vt_wait_text(log, "rule set of an earlier SIGHUP dropped: a later one replaces it",
                           60000));
    ck_assert_int_eq(vt_count_text(log, big_reloaded), 0);
    ck_assert_int_eq(it_write_lines(&p, "a.txt", 0, 20, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 10, 20000));
    vt_sleep_ms(300);
    char *b = vt_read_file(p.alerts, NULL);
    int small = 0;
    for (char *s = b; (s = strstr(s, "\"rule\":{\"id\":\"test.small\"")); s++)
        small++;
    free(b);
    ck_assert_int_eq(small, 10);
    ck_assert_int_eq(vt_count_lines(p.alerts), 10);

    /* SIGTERM while a prefilter builds: the stop does not wait for the
     * build (Hyperscan cannot be interrupted), which is abandoned; exit 0,
     * every batch committed. The first big set's build above says how long
     * one takes here: the stop must end in well under half of that. */
    char *dropped = it_last_line_with(log, "rule set of an earlier SIGHUP dropped", "built in ");
    ck_assert_ptr_nonnull(dropped);
    double build_s = strtod(strstr(dropped, "built in ") + 9, NULL);
    free(dropped);
    ck_assert_msg(build_s >= 0.8, "a build of %d rules took only %.1f s: the test needs more",
                  IT_BIG, build_s);
    it_write_big_rules(path, IT_BIG);
    int checked = vt_count_text(log, big_checked);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    for (int i = 0; i < 1500 && vt_count_text(log, big_checked) == checked; i++)
        vt_sleep_ms(20);
    ck_assert_int_eq(vt_count_text(log, big_checked), checked + 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], SIGTERM), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_CORRELATOR, 60000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double stop_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(stop_s < build_s / 2, "the stop took %.2f s, a build %.1f s: it waited for it",
                  stop_s, build_s);
    ck_assert(vt_wait_text(log, "SIGTERM: stopping", 100));
    char abandoned[160];
    snprintf(abandoned, sizeof(abandoned),
             "info: stop: the prefilter build of a SIGHUP's rule set is abandoned (%d rules, "
             "building for ",
             IT_BIG);
    ck_assert_int_eq(vt_count_text(log, abandoned), 1);
    ck_assert_int_eq(vt_count_text(log, "info: stopped"), 1);
    ck_assert_int_eq(vt_count_text(log, big_reloaded), 0);
    /* committed: started again with the small rule set, the correlator
     * has all 20 lines (the collector sends none again) and alerts on none
     * twice */
    ck_assert_int_eq(vt_write_file(path, "rules:\n  - id: test.small\n    name: Small\n"
                                         "    level: 4\n    match:\n      regex: 'seq=0000[0-9]'\n"),
                     0);
    vt_pipe_start(&p, VT_CORRELATOR);
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, ") connected; committed up to seq 20", 30000));
    vt_sleep_ms(500);
    ck_assert_int_eq(vt_count_lines(p.alerts), 10);
    vt_pipe_destroy(&p);
}
END_TEST

/* A burst of SIGHUPs (a deploy writing rule file after rule file, each
 * followed by a reload) builds at most two prefilters: the one building
 * when the burst comes and the newest rule set. Before, every rule set of
 * the burst was queued for a build of its own and held in memory until
 * then (180 MB for 100 SIGHUPs of 200 rules), each build taking its full
 * CPU time, and the last one took force only after all of them. Each
 * SIGHUP here has a rule set of its own size (BIG + 2 + i rules); the
 * first build must still run when the burst ends (checked). */
START_TEST(test_sighup_burst_builds_two)
{
    enum { BIG = IT_BIG / 4, BURST = 9 };
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start(&p, VT_SHIPPER);
    vt_pipe_start(&p, VT_CORRELATOR);
    char big[400], extra[400], log[400], text[256];
    snprintf(big, sizeof(big), "%s/big.yml", p.rules);
    snprintf(extra, sizeof(extra), "%s/extra.yml", p.rules);
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, " started (config ", 30000));
    it_write_big_rules(big, BIG);
    for (int i = 0; i < BURST; i++) {
        FILE *f = fopen(extra, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "rules:\n");
        for (int k = 0; k <= i; k++)
            fprintf(f, "  - id: test.extra.%d\n    name: Extra %d\n    level: 1\n    match:\n"
                       "      regex: 'extra%d'\n", k, k, k);
        ck_assert_int_eq(fclose(f), 0);
        int checked = vt_count_text(log, " rules checked in ");
        kill(p.pid[VT_CORRELATOR], SIGHUP);
        for (int w = 0; w < 1000 && vt_count_text(log, " rules checked in ") == checked; w++)
            vt_sleep_ms(5);
        snprintf(text, sizeof(text), "info: %d rules checked in ", BIG + 2 + i);
        ck_assert_int_eq(vt_count_text(log, text), 1);
    }
    char first_dropped[64], first_reloaded[64];
    snprintf(first_dropped, sizeof(first_dropped), "replaces it (%d rules, ", BIG + 2);
    snprintf(first_reloaded, sizeof(first_reloaded), "rules reloaded: %d rules", BIG + 2);
    ck_assert_msg(vt_count_text(log, first_dropped) + vt_count_text(log, first_reloaded) == 0,
                  "the first rule set was built before the burst ended: the test needs a larger "
                  "one");
    snprintf(text, sizeof(text), "rules reloaded: %d rules from ", BIG + 1 + BURST);
    ck_assert(vt_wait_text(log, text, 60000));
    /* the first set was built, then dropped; of the rest only the last */
    ck_assert_int_eq(vt_count_text(log, "rule set of an earlier SIGHUP dropped: a later one "
                                        "replaces it"),
                     1);
    ck_assert_int_eq(vt_count_text(log, first_dropped), 1);
    ck_assert_int_eq(vt_count_text(log, "rule set of an earlier SIGHUP dropped before its "
                                        "prefilter build: a later one replaces it"),
                     BURST - 2);
    ck_assert_int_eq(vt_count_text(log, "rules reloaded:"), 1);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGTERM), 0);
    vt_pipe_destroy(&p);
}
END_TEST

/* Whether process pid blocks SIGHUP (/proc/PID/status, SigBlk). */
static bool it_blocks_sighup(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    char *st = vt_read_file(path, NULL);
    const char *b = st ? strstr(st, "\nSigBlk:\t") : NULL;
    bool yes = b && (strtoull(b + 9, NULL, 16) & (1ULL << (SIGHUP - 1)));
    free(st);
    return yes;
}

/* Starts the correlator and returns once its signals wait for their
 * handlers (blocked: the daemon's first steps) while it has not finished
 * loading its rules, so that a signal sent then lands in the load. The
 * dynamic loader runs before that: a signal sent at the exec still takes
 * its default action. Sets log to the correlator's log file. */
static void it_start_correlator_loading(vt_pipe *p, char *log, size_t cap)
{
    pid_t pid = vt_pipe_start(p, VT_CORRELATOR);
    vt_pipe_log(p, VT_CORRELATOR, log, cap);
    bool blocked = false;
    for (int i = 0; i < 5000 && !(blocked = it_blocks_sighup(pid)); i++)
        vt_sleep_ms(1);
    ck_assert_msg(blocked, "the correlator never blocked SIGHUP while it loaded its rules");
    ck_assert_msg(vt_count_text(log, "rules loaded") <= 0,
                  "the correlator loaded %d rules before the test could signal it", IT_BIG);
}

/* Signals that come while a daemon loads its configuration (a reload or a
 * stop from an init system or logrotate just after a start; loading
 * thousands of rules or a large watchlist takes seconds) wait for their
 * handlers: before, their default action killed the daemon. */
START_TEST(test_signals_during_startup)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    char path[400], log[400], sock[400];
    snprintf(path, sizeof(path), "%s/test.yml", p.rules);
    it_write_big_rules(path, IT_BIG);
    vt_pipe_start(&p, VT_SHIPPER);
    snprintf(sock, sizeof(sock), "%s/run/shipper.sock", p.dir);
    ck_assert(vt_wait_path(sock, 10000));

    /* SIGHUP and SIGUSR1 during the load: handled once it is up */
    it_start_correlator_loading(&p, log, sizeof(log));
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], SIGUSR1), 0);
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], SIGHUP), 0);
    ck_assert(vt_wait_text(log, " started (config ", 60000));
    ck_assert(vt_wait_text(log, "SIGHUP: reloading", 10000));
    ck_assert(vt_wait_text(log, "configuration reloaded", 60000));
    ck_assert(vt_wait_text(log, "info: stats: events=0 ", 1000));
    /* the reload's prefilter is built (a stop during the build would abandon it) */
    char big_reloaded[64];
    snprintf(big_reloaded, sizeof(big_reloaded), "rules reloaded: %d rules", IT_BIG);
    ck_assert(vt_wait_text(log, big_reloaded, 120000));
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], 0), 0);
    ck_assert_int_eq(vt_pipe_stop(&p, VT_CORRELATOR, SIGTERM), 0);

    /* SIGTERM during the load: a clean stop once it is up, exit 0 */
    it_start_correlator_loading(&p, log, sizeof(log));
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], SIGTERM), 0);
    ck_assert_int_eq(vt_pipe_wait(&p, VT_CORRELATOR, 60000), 0);
    ck_assert_int_eq(vt_count_text(log, "SIGTERM: stopping"), 1);
    ck_assert_int_eq(vt_count_text(log, "info: stopped"), 1);
    vt_pipe_destroy(&p);
}
END_TEST

/* Starts the correlator with stdout and stderr on fd (-1: with fds 0, 1
 * and 2 closed) instead of a log file; vt_pipe_destroy stops it. */
static pid_t it_spawn_correlator_stdio(vt_pipe *p, int fd)
{
    const char *exe = vt_bin("correlator/vigil-correlator");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        } else {
            close(0);
            close(1);
            close(2);
        }
        execl(exe, exe, "-c", p->config, (char *)NULL);
        _exit(127);
    }
    p->pid[VT_CORRELATOR] = pid;
    return pid;
}

/* The correlator started by it_spawn_correlator_stdio comes up, reports
 * its counters (log lines) and stops cleanly. */
static void it_correlator_lives(vt_pipe *p)
{
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/run/correlator.sock", p->dir);
    ck_assert_msg(vt_wait_path(sock, 20000), "the correlator did not come up (status %d)",
                  vt_pipe_wait(p, VT_CORRELATOR, 0));
    ck_assert_int_eq(kill(p->pid[VT_CORRELATOR], SIGUSR1), 0);
    vt_sleep_ms(200);
    ck_assert_int_eq(vt_pipe_stop(p, VT_CORRELATOR, SIGTERM), 0);
}

/* A daemon whose stderr is a pipe nobody reads any more (its log
 * collector died) loses its log lines, not its life: the lines it writes
 * while loading get EPIPE, as those written once it runs do. */
START_TEST(test_log_to_a_closed_pipe)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]); /* the reader is gone before the first log line */
    it_spawn_correlator_stdio(&p, fds[1]);
    close(fds[1]);
    it_correlator_lives(&p);
    vt_pipe_destroy(&p);
}
END_TEST

/* A daemon started with fds 0, 1 and 2 closed (2>&-, or an init system
 * that closes them) puts /dev/null there first: else its first pipe or
 * file took fd 2 and got every log line (libuv's signal pipe: the next
 * signal aborted the daemon). */
START_TEST(test_started_without_stdio)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    it_spawn_correlator_stdio(&p, -1);
    it_correlator_lives(&p);
    vt_pipe_destroy(&p);
}
END_TEST

/* A configuration managed as a symlink to its current version (swapped
 * atomically by configuration management): relative paths in it are
 * taken from the symlink's directory, and a SIGHUP reads the version the
 * symlink names at that moment, not the one it named at the start. */
/* A datagram socket standing for systemd's notify socket (sd_notify(3)):
 * the daemons' libsystemd writes to it as it would to PID 1's. */
static int it_notify_socket(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(path), sizeof(a.sun_path));
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* The next message other than WATCHDOG=1 into out (counted in *dogs);
 * false if none came within ms. */
static bool it_notify_next(int fd, char *out, size_t cap, int ms, int *dogs)
{
    for (int waited = 0; waited <= ms; waited += 50) {
        ssize_t n = recv(fd, out, cap - 1, MSG_DONTWAIT);
        if (n < 0) {
            vt_sleep_ms(50);
            continue;
        }
        out[n] = '\0';
        if (strcmp(out, "WATCHDOG=1") != 0)
            return true;
        (*dogs)++;
        waited -= 50;
    }
    return false;
}

/* Under systemd (Type=notify, WatchdogSec): the collector says READY only
 * once its ports are open, keeps the watchdog fed from its loop, marks a
 * reload and, in its status, one refused with the reason, and says
 * STOPPING at SIGTERM. One whose port is taken never says READY. */
START_TEST(test_systemd_notify)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    char path[400], msg[1024], want[1024], log[400];
    snprintf(path, sizeof(path), "%s/notify", p.dir);
    int fd = it_notify_socket(path);
    int dogs = 0;
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    vt_pipe_start(&p, VT_COLLECTOR);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 10000, &dogs));
    snprintf(want, sizeof(want), "READY=1\nSTATUS=running (config %s)", p.config);
    ck_assert_str_eq(msg, want);
    int c = it_tcp_connect(p.port); /* ready means listening */
    ck_assert_int_ge(c, 0);
    close(c);
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "systemd watchdog: alive every 100 ms (WatchdogSec 200 ms)", 1000));
    ck_assert(!it_notify_next(fd, msg, sizeof(msg), 1000, &dogs));
    ck_assert_int_ge(dogs, 3); /* 10 in that second when the machine is idle */

    /* a refused reload: systemctl status shows why */
    char *cfg = vt_read_file(p.config, NULL);
    size_t len = strlen(cfg);
    char *bad = malloc(len + 32);
    ck_assert_ptr_nonnull(bad);
    snprintf(bad, len + 32, "%scolector:\n  x: 1\n", cfg);
    ck_assert_int_eq(vt_write_file(p.config, bad), 0);
    free(bad);
    int lines = 1;
    for (const char *q = cfg; *q; q++)
        lines += *q == '\n';
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 5000, &dogs));
    ck_assert_int_eq(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 5000, &dogs));
    snprintf(want, sizeof(want), "Z: %s:%d: unknown section 'colector' (expected pipeline, "
             "collector, correlator or shipper)", p.config, lines);
    size_t ml = strlen(msg), wl = strlen(want);
    ck_assert_msg(strncmp(msg, "READY=1\nSTATUS=running on the previous configuration; reload "
                               "refused at 20", 73) == 0 && ml > wl && strcmp(msg + ml - wl, want) == 0,
                  "got '%s', want the reason '%s'", msg, want);
    /* a good one */
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    kill(p.pid[VT_COLLECTOR], SIGHUP);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 5000, &dogs));
    ck_assert_int_eq(strncmp(msg, "RELOADING=1\n", 12), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 5000, &dogs));
    ck_assert_int_eq(strncmp(msg, "READY=1\nSTATUS=running; configuration reloaded at ", 50), 0);
    ck_assert_int_eq(kill(p.pid[VT_COLLECTOR], SIGTERM), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 5000, &dogs));
    ck_assert_str_eq(msg, "STOPPING=1\nSTATUS=stopping");
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 20000), 0);

    /* the port taken: exit 1, never READY */
    int taken = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(taken, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(taken, 1), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    vt_pipe_start(&p, VT_COLLECTOR);
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(vt_pipe_wait(&p, VT_COLLECTOR, 20000), 1);
    while (it_notify_next(fd, msg, sizeof(msg), 200, &dogs))
        ck_assert_msg(strstr(msg, "READY=1") == NULL, "READY from a collector that failed: %s", msg);
    close(taken);
    close(fd);
    vt_pipe_destroy(&p);
}
END_TEST

/* Under systemd, the correlator's reload ends (READY=1, which `systemctl
 * reload` waits for) when the new rules take over ('rules reloaded'), not
 * when the configuration is read ('configuration reloaded', which comes
 * while the prefilter still builds): a reload superseded by a later SIGHUP
 * during its build is answered once, by the later one; a rule set refused
 * at the end of its build (its list file broken during the build) says
 * so in the status. */
START_TEST(test_reload_ready_when_rules_take_over)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    char path[400], msg[1024], want[1024], log[400], rules[400], lists[400], list[440];
    char big_checked[64], big_reloaded[64];
    snprintf(path, sizeof(path), "%s/notify", p.dir);
    snprintf(rules, sizeof(rules), "%s/test.yml", p.rules);
    snprintf(lists, sizeof(lists), "%s/lists", p.rules);
    snprintf(list, sizeof(list), "%s/x.txt", lists);
    snprintf(big_checked, sizeof(big_checked), "%d rules checked in ", IT_BIG);
    snprintf(big_reloaded, sizeof(big_reloaded), "rules reloaded: %d rules", IT_BIG);
    int fd = it_notify_socket(path);
    int dogs = 0;
    vt_pipe_start(&p, VT_SHIPPER);
    setenv("NOTIFY_SOCKET", path, 1);
    vt_pipe_start(&p, VT_CORRELATOR);
    unsetenv("NOTIFY_SOCKET");
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 30000, &dogs));
    snprintf(want, sizeof(want), "READY=1\nSTATUS=running (config %s)", p.config);
    ck_assert_str_eq(msg, want);

    /* a big rule set: READY=1 only once it is in force */
    it_write_big_rules(rules, IT_BIG);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 10000, &dogs));
    ck_assert_int_eq(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 60000, &dogs));
    ck_assert_msg(vt_count_text(log, big_reloaded) == 1,
                  "'%s' before the rules took over (the log has no '%s')", msg, big_reloaded);
    ck_assert_int_eq(vt_count_text(log, "configuration reloaded"), 1);
    ck_assert_int_eq(strncmp(msg, "READY=1\nSTATUS=running; configuration reloaded at 20", 52), 0);
    ck_assert_int_eq(strlen(msg), 50 + strlen("2026-11-29T05:00:00Z"));
    ck_assert(!it_notify_next(fd, msg, sizeof(msg), 300, &dogs));

    /* superseded during its build: one answer, for the later SIGHUP */
    it_write_big_rules(rules, IT_BIG + 1);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    snprintf(big_checked, sizeof(big_checked), "%d rules checked in ", IT_BIG + 1);
    ck_assert(vt_wait_text(log, big_checked, 30000));
    ck_assert_int_eq(vt_write_file(rules, "rules:\n  - id: test.small\n    name: Small\n"
                                          "    level: 4\n    match:\n      regex: 'seq=0'\n"),
                     0);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 10000, &dogs));
    ck_assert_int_eq(strncmp(msg, "RELOADING=1\n", 12), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 10000, &dogs));
    ck_assert_int_eq(strncmp(msg, "RELOADING=1\n", 12), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 60000, &dogs));
    ck_assert_int_eq(strncmp(msg, "READY=1\nSTATUS=running; configuration reloaded at ", 50), 0);
    ck_assert_int_eq(vt_count_text(log, "rules reloaded: 1 rules from "), 1);
    ck_assert(vt_wait_text(log, "rule set of an earlier SIGHUP dropped: a later one replaces it",
                           60000));
    ck_assert(!it_notify_next(fd, msg, sizeof(msg), 300, &dogs));

    /* refused after its build: the list it checked was broken meanwhile */
    ck_assert_int_eq(mkdir(lists, 0755), 0);
    ck_assert_int_eq(vt_write_file(list, "192.0.2.1\n"), 0);
    it_write_big_rules(rules, IT_BIG + 2);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    snprintf(big_checked, sizeof(big_checked), "%d rules checked in ", IT_BIG + 2);
    ck_assert(vt_wait_text(log, big_checked, 30000));
    ck_assert_int_eq(vt_write_file(list, "\xfe\xff\n"), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 10000, &dogs));
    ck_assert_int_eq(strncmp(msg, "RELOADING=1\n", 12), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 60000, &dogs));
    snprintf(want, sizeof(want), "Z refused: %s:1: a UTF-16 file (byte order mark FE FF): save "
             "it as UTF-8", list);
    size_t ml = strlen(msg), wl = strlen(want);
    ck_assert_msg(strncmp(msg, "READY=1\nSTATUS=running on the previous rules; reload of 20", 58) ==
                          0 && ml > wl && strcmp(msg + ml - wl, want) == 0,
                  "got '%s', want the reason '%s'", msg, want);
    ck_assert_int_eq(vt_count_text(log, "(rules not reloaded; running on the previous ones)"), 1);
    ck_assert_int_eq(vt_count_text(log, "rules reloaded:"), 2);

    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], SIGTERM), 0);
    ck_assert(it_notify_next(fd, msg, sizeof(msg), 5000, &dogs));
    ck_assert_str_eq(msg, "STOPPING=1\nSTATUS=stopping");
    ck_assert_int_eq(vt_pipe_wait(&p, VT_CORRELATOR, 20000), 0);
    close(fd);
    vt_pipe_destroy(&p);
}
END_TEST

START_TEST(test_config_symlink_swapped)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    char conf[400], v1[420], v2[420], tmp[420], rules2[400], path[440];
    snprintf(conf, sizeof(conf), "%s/conf", p.dir);
    snprintf(v1, sizeof(v1), "%s/v1.yaml", conf);
    snprintf(v2, sizeof(v2), "%s/v2.yaml", conf);
    snprintf(tmp, sizeof(tmp), "%s/vigil.yaml.new", p.dir);
    snprintf(rules2, sizeof(rules2), "%s/rules2", p.dir);
    ck_assert_int_eq(mkdir(conf, 0755), 0);
    ck_assert_int_eq(mkdir(rules2, 0755), 0);
    snprintf(path, sizeof(path), "%s/test.yml", rules2);
    ck_assert_int_eq(vt_write_file(path, "rules:\n  - id: test.v2\n    name: Version 2\n"
                                         "    level: 4\n    match:\n      regex: 'seq=(?<n>[0-9]+)'\n"),
                     0);
    char *cfg = vt_read_file(p.config, NULL);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(vt_write_file(v1, cfg), 0);
    char *at = strstr(cfg, "rules_dir: rules\n");
    ck_assert_ptr_nonnull(at);
    size_t cap = strlen(cfg) + 8;
    char *cfg2 = malloc(cap);
    ck_assert_ptr_nonnull(cfg2);
    snprintf(cfg2, cap, "%.*srules_dir: rules2\n%s", (int)(at - cfg), cfg,
             at + strlen("rules_dir: rules\n"));
    ck_assert_int_eq(vt_write_file(v2, cfg2), 0);
    free(cfg);
    free(cfg2);
    ck_assert_int_eq(unlink(p.config), 0);
    ck_assert_int_eq(symlink("conf/v1.yaml", p.config), 0);
    vt_pipe_start_all(&p); /* run/, data/, rules/ next to the symlink, not in conf/ */

    char file[400], log[400];
    ck_assert_int_eq(it_write_lines(&p, "a.txt", 0, 1, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 1, 20000));
    ck_assert_int_eq(symlink("conf/v2.yaml", tmp), 0);
    ck_assert_int_eq(rename(tmp, p.config), 0);
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    ck_assert(vt_wait_text(log, "rules reloaded: 1 rules from ", 30000));
    ck_assert(vt_wait_text(log, "/rules2 ", 100));
    ck_assert_int_eq(it_write_lines(&p, "b.txt", 1, 2, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 2, 20000));
    ck_assert_int_eq(vt_count_text(p.alerts, "\"rule\":{\"id\":\"test.every_line\""), 1);
    ck_assert_int_eq(vt_count_text(p.alerts, "\"rule\":{\"id\":\"test.v2\""), 1);
    vt_pipe_destroy(&p);
}
END_TEST

START_TEST(test_sighup_reload)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    vt_pipe_start_all(&p);
    char path[400], log[400], file[400];
    snprintf(path, sizeof(path), "%s/test.yml", p.rules);
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    /* A refused reload changes nothing, the log level included (it was
     * applied before the rest was checked). */
    char *cfg = vt_read_file(p.config, NULL), *cfg2 = strdup(cfg);
    char *at = strstr(cfg2, "log_level: info\n");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "log_level: warn\n", strlen("log_level: warn\n"));
    ck_assert_int_eq(vt_write_file(p.config, cfg2), 0);
    free(cfg2);
    ck_assert_int_eq(vt_write_file(path, "rules:\n  - id: test.broken\n    name: Broken\n"
                                         "    level: 3\n    match:\n      regex: 'seq=(?<n>[0-9]+'\n"),
                     0);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    char want[600];
    snprintf(want, sizeof(want), "%s:6: regex does not compile at offset 15: missing closing "
                                 "parenthesis (configuration refused; running on the previous one)",
             path);
    ck_assert_msg(vt_wait_text(log, want, 5000), "no refusal naming %s:6", path);
    ck_assert_int_eq(kill(p.pid[VT_CORRELATOR], 0), 0);
    int stats = vt_count_text(log, "info: stats: ");
    kill(p.pid[VT_CORRELATOR], SIGUSR1);
    for (int i = 0; i < 50 && vt_count_text(log, "info: stats: ") == stats; i++)
        vt_sleep_ms(100);
    ck_assert_int_gt(vt_count_text(log, "info: stats: "), stats); /* still at info */
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    free(cfg);
    ck_assert_int_eq(it_write_lines(&p, "a.txt", 0, 10, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 10, 20000));
    ck_assert_int_eq(it_check_exactly_once(p.alerts, 10), 0);
    /* A good new rule set: a different rule id, applied live. */
    ck_assert_int_eq(vt_write_file(path, "rules:\n  - id: test.reloaded\n    name: Reloaded\n"
                                         "    level: 4\n    match:\n      regex: 'seq=0001[0-9]'\n"),
                     0);
    kill(p.pid[VT_CORRELATOR], SIGHUP);
    ck_assert(vt_wait_text(log, "rules reloaded: 1 rules", 5000));
    ck_assert_int_eq(it_write_lines(&p, "b.txt", 10, 20, file, sizeof(file)), 0);
    ck_assert_int_eq(it_logger_tcp(&p, file, NULL), 0);
    ck_assert(vt_wait_lines(p.alerts, 20, 20000));
    char *b = vt_read_file(p.alerts, NULL);
    int reloaded = 0;
    for (char *s = b; (s = strstr(s, "\"rule\":{\"id\":\"test.reloaded\"")); s++)
        reloaded++;
    free(b);
    ck_assert_int_eq(reloaded, 10);

    /* Keys that need a restart: each daemon says so, and keeps running. */
    cfg = vt_read_file(p.config, NULL);
    char *cfg3 = malloc(strlen(cfg) + 200);
    ck_assert_ptr_nonnull(cfg3);
    cfg3[0] = '\0';
    for (char *line = strtok(cfg, "\n"); line; line = strtok(NULL, "\n")) {
        const char *swap[][2] = {
            {"  spool_size: 256M", "  spool_size: 128M\n  max_message_size: 4K"},
            {"  state_size: 256M", "  state_size: 128M"},
            {"  outbox_size: 256M", "  outbox_size: 128M"},
            {"  log_level: info", "  log_level: info\n  group: nogroup"},
            {"  stats_interval: 200ms", "  stats_interval: 300ms"},
        };
        const char *out = line;
        for (size_t i = 0; i < sizeof(swap) / sizeof(swap[0]); i++)
            if (strcmp(line, swap[i][0]) == 0)
                out = swap[i][1];
        strcat(strcat(cfg3, out), "\n");
    }
    free(cfg);
    ck_assert_int_eq(vt_write_file(p.config, cfg3), 0);
    free(cfg3);
    const char *restart[][2] = {
        /* not spool_limit: derived from spool_size, it was not changed */
        {"collector max_message_size, spool_size changed: this takes effect after a restart",
         "pipeline group, stats_interval changed: this takes effect after a restart"},
        {"correlator name, socket and state_size changes take effect after a restart",
         "pipeline group, stats_interval changed: this takes effect after a restart"},
        {"shipper name, socket and outbox_size changes take effect after a restart",
         "pipeline group, stats_interval changed: this takes effect after a restart"},
    };
    const int which[] = {VT_COLLECTOR, VT_CORRELATOR, VT_SHIPPER};
    for (int i = 0; i < 3; i++) {
        vt_pipe_log(&p, which[i], log, sizeof(log));
        kill(p.pid[which[i]], SIGHUP);
        ck_assert_msg(vt_wait_text(log, restart[i][0], 5000), "no warning: %s", restart[i][0]);
        ck_assert_msg(vt_wait_text(log, restart[i][1], 100), "no warning: %s", restart[i][1]);
        ck_assert_int_eq(kill(p.pid[which[i]], 0), 0);
    }

    /* The collector's own SIGUSR1 line holds every counter it sends to the
     * correlator (udp_errors was only in the correlator's report). */
    char clog[400];
    vt_pipe_log(&p, VT_COLLECTOR, clog, sizeof(clog));
    vt_pipe_log(&p, VT_CORRELATOR, log, sizeof(log));
    char *up = NULL, *own = NULL;
    for (int i = 0; i < 50 && !up; i++) {
        kill(p.pid[VT_CORRELATOR], SIGUSR1);
        vt_sleep_ms(100);
        up = it_last_line_with(log, "info: upstream ", " received=");
    }
    ck_assert_msg(up, "no upstream counters in the correlator's report");
    kill(p.pid[VT_COLLECTOR], SIGUSR1);
    for (int i = 0; i < 50 && !own; i++) {
        vt_sleep_ms(100);
        own = it_last_line_with(clog, "info: stats: ", " received=");
    }
    ck_assert_msg(own, "no stats line in the collector's log");
    int keys = 0;
    for (char *k = strstr(up, " received="); k; k = strchr(k + 1, ' ')) {
        char key[64];
        if (sscanf(k, " %63[a-z_]=", key) != 1)
            continue;
        char kw[80];
        snprintf(kw, sizeof(kw), " %s=", key);
        ck_assert_msg(strstr(own, kw), "collector SIGUSR1 line lacks %s: %s", key, own);
        keys++;
    }
    ck_assert_int_eq(keys, 24); /* received .. throttled_ms: col_stats_fn sends all 24 */
    free(up);
    free(own);

    /* A second shipper on the running one's store (one name and data_dir,
     * another socket): refused, naming the holder. Both ran and delivered
     * the one outbox, each to its outputs, and each broke the other's
     * cursor and stream. */
    char second_cfg[400], second_log[400], second_cmd[1400];
    snprintf(second_cfg, sizeof(second_cfg), "%.380s/second.yaml", p.dir);
    snprintf(second_log, sizeof(second_log), "%.380s/second.log", p.dir);
    cfg = vt_read_file(p.config, NULL);
    ck_assert_ptr_nonnull(cfg);
    /* without the correlator's section, whose shipper_socket is not this
     * shipper's (refused when one file holds both) */
    char *sec = strstr(cfg, "correlator:\n");
    ck_assert_ptr_nonnull(sec);
    *sec = '\0';
    snprintf(second_cmd, sizeof(second_cmd),
             "%sshipper:\n  listen_socket: second.sock\n  stdout: true\n", cfg);
    free(cfg);
    ck_assert_int_eq(vt_write_file(second_cfg, second_cmd), 0);
    snprintf(second_cmd, sizeof(second_cmd), "%s -c %s > %s 2>&1", vt_bin("shipper/vigil-shipper"),
             second_cfg, second_log);
    char *second_sh[] = {"sh", "-c", second_cmd, NULL};
    ck_assert_int_eq(vt_run(second_sh, 10), 1);
    snprintf(want, sizeof(want), "/data/shipper/shipper is in use by another process (pid %ld)",
             (long)p.pid[VT_SHIPPER]);
    ck_assert_msg(vt_wait_text(second_log, want, 0), "missing: %s", want);
    vt_pipe_destroy(&p);
}
END_TEST

/* --help, --version, a bad config: exact status and a message naming the
 * file and line. */
/* Writes cfg as p's configuration (unless NULL) and runs BIN -c CONFIG
 * ARGS: it must exit 1 and print want (its output goes to DIR/bad.log). */
static void it_refused(const vt_pipe *p, const char *bin, const char *cfg, const char *args,
                       const char *want)
{
    if (cfg)
        ck_assert_int_eq(vt_write_file(p->config, cfg), 0);
    char log[400], cmd[1400];
    snprintf(log, sizeof(log), "%s/bad.log", p->dir);
    snprintf(cmd, sizeof(cmd), "%s -c %s %s > %s 2>&1", vt_bin(bin), p->config, args, log);
    char *sh[] = {"sh", "-c", cmd, NULL};
    ck_assert_int_eq(vt_run(sh, 10), 1);
    ck_assert_msg(vt_wait_text(log, want, 100), "%s %s: missing: %s", bin, args, want);
}

#define IT_R10 "rrrrrrrrrr"
#define IT_R100 IT_R10 IT_R10 IT_R10 IT_R10 IT_R10 IT_R10 IT_R10 IT_R10 IT_R10 IT_R10

START_TEST(test_cli_and_bad_config)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, IT_RULES), 0);
    const char *bins[] = {"collector/vigil-collector", "correlator/vigil-correlator",
                          "shipper/vigil-shipper"};
    for (int i = 0; i < 3; i++) {
        char *h[] = {(char *)vt_bin(bins[i]), "--help", NULL};
        char *v[] = {(char *)vt_bin(bins[i]), "--version", NULL};
        char *t[] = {(char *)vt_bin(bins[i]), "-c", p.config, "--check-config", NULL};
        char *bad[] = {(char *)vt_bin(bins[i]), "--bogus", NULL};
        ck_assert_int_eq(vt_run(h, 10), 0);
        ck_assert_int_eq(vt_run(v, 10), 0);
        ck_assert_int_eq(vt_run(t, 10), 0);
        ck_assert_int_eq(vt_run(bad, 10), 2);
    }
    /* --help names the files each daemon uses, says what -t checks only
     * where it checks more than the file, and lists each exit status it
     * uses (3 was listed while nothing exited 3). */
    const char *help_has[][4] = {
        {"collector/vigil-collector", "DATA_DIR/collector/NAME/", "RUN_DIR/correlator.sock",
         "certificate, key and CA are loaded"},
        {"correlator/vigil-correlator", "DATA_DIR/correlator/NAME/", "RULES_DIR/lists/NAME.txt",
         "Every rule is compiled"},
        {"shipper/vigil-shipper", "DATA_DIR/shipper/NAME/", "RUN_DIR/shipper.sock",
         "See also:\n  vigil-collector --help; vigil-correlator --help;"},
    };
    for (size_t i = 0; i < sizeof(help_has) / sizeof(help_has[0]); i++) {
        char hcmd[1200], hout[400];
        snprintf(hout, sizeof(hout), "%s/help.txt", p.dir);
        snprintf(hcmd, sizeof(hcmd), "%s --help > %s", vt_bin(help_has[i][0]), hout);
        char *hsh[] = {"sh", "-c", hcmd, NULL};
        ck_assert_int_eq(vt_run(hsh, 10), 0);
        char *txt = vt_read_file(hout, NULL);
        ck_assert_ptr_nonnull(txt);
        for (int j = 1; j < 4; j++)
            ck_assert_msg(strstr(txt, help_has[i][j]), "%s --help lacks '%s'", help_has[i][0],
                          help_has[i][j]);
        ck_assert_msg(strstr(txt, "\nFiles:\n") && strstr(txt, "\nExit status:\n") &&
                          strstr(txt, "  3  a failure after the start"),
                      "%s --help: no Files or Exit status section", help_has[i][0]);
        ck_assert_msg(!strstr(txt, "(and rules)"), "%s --help: -t checks no rules here",
                      help_has[i][0]);
        free(txt);
        /* a usage error prints the synopsis, not only "Try --help" */
        const char *badargs[] = {"--bogus", "-x", "extra", "-l verbose"};
        for (size_t j = 0; j < sizeof(badargs) / sizeof(badargs[0]); j++) {
            snprintf(hcmd, sizeof(hcmd), "%s %s 2> %s", vt_bin(help_has[i][0]), badargs[j], hout);
            ck_assert_int_eq(vt_run(hsh, 10), 2);
            char want[200];
            snprintf(want, sizeof(want), "Usage: %s [-c FILE] [-t] [-l LEVEL]\n",
                     strrchr(help_has[i][0], '/') + 1);
            ck_assert_msg(vt_wait_text(hout, want, 0), "%s %s: no usage line", help_has[i][0],
                          badargs[j]);
        }
    }
    char want[600];
    snprintf(want, sizeof(want), "%s:6: listen 'tcp://127.0.0.1:99999': bad address or port",
             p.config);
    it_refused(&p, "collector/vigil-collector",
               "pipeline:\n  run_dir: run\n  data_dir: data\n"
               "collector:\n  listen:\n    - tcp://127.0.0.1:99999\n",
               "", want);

    /* A misspelt section, a file that is not a map, a mistake in a
     * collector 'tls' section while 'listen' is left at its default:
     * refused by -t, with the line. */
    const char *bad_cfg[][3] = {
        {"shipper/vigil-shipper",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorelator:\n  rules_dir: rules\n",
         ":4: unknown section 'corelator' (expected pipeline, collector, correlator or shipper)"},
        {"shipper/vigil-shipper", "- a\n- b\n", ":1: the top level must be a map of sections"},
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  tls:\n"
         "    cert: server.pem\n    kee: server.key\n",
         ":7: unknown key 'kee' (expected one of: cert, key, ca, require_client_cert, "
         "allowed_names, ciphers)"},
        /* a TLS 1.2 cipher string with a name OpenSSL does not know: it
         * skipped it, and loaded the rest */
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  tls:\n"
         "    cert: server.pem\n    key: server.key\n"
         "    ciphers: ECDHE-RSA-AES128-GCM-SHA265:ECDHE-RSA-AES256-GCM-SHA384\n",
         ":8: ciphers: 'ECDHE-RSA-AES128-GCM-SHA265' matches no TLS 1.2 cipher suite of this "
         "OpenSSL (`openssl ciphers -v` lists them; TLS 1.3 suites are not set here)"},
        /* instance names go into paths and the link's HELLO: an empty one
         * spooled into DATA_DIR/collector/ itself and every HELLO was
         * refused (nothing ever delivered), "../correlator/main" put the
         * spool inside the correlator's store */
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  name: ''\n",
         ":5: 'name' must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' "
         "(got '')"},
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  name: ../correlator/main\n",
         ":5: 'name' must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' "
         "(got '../correlator/main')"},
        {"correlator/vigil-correlator",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  name: ..\n",
         ":5: 'name' must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' "
         "(got '..')"},
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  spool_sync: always\n",
         ":5: spool_sync must be background or commit, got 'always'"},
        /* stats_log: 1s..1h, as the shipper's */
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  stats_log: 500ms\n",
         ":5: 'stats_log' must be between 1000 and 3600000 ms, got '500ms'"},
        {"correlator/vigil-correlator",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n"
         "  stats_log: 2h\n",
         ":6: 'stats_log' must be between 1000 and 3600000 ms, got '2h'"},
        /* the correlator's own socket as its shipper's: it connected to itself */
        {"correlator/vigil-correlator",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n"
         "  listen_socket: shipper.sock\n",
         ":6: listen_socket 'shipper.sock' (line 6) and shipper_socket 'shipper.sock' (the "
         "default) are both "},
        /* the two ends of a link in one file naming two sockets: every
         * daemon's -t passed, and the pipeline never connected */
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  correlator_socket: c.sock\n"
         "correlator:\n  rules_dir: rules\n",
         ":5: collector.correlator_socket 'c.sock' is not correlator.listen_socket "
         "'correlator.sock' (the default) (line 6): the collector would connect to "},
        {"shipper/vigil-shipper",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n"
         "shipper:\n  listen_socket: s.sock\n  stdout: true\n",
         ":4: correlator.shipper_socket 'shipper.sock' (the default) is not "
         "shipper.listen_socket 's.sock' (line 7)"},
        /* the same with a list of shippers: this file's shipper must be one */
        {"shipper/vigil-shipper",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n"
         "  shipper_socket: [a.sock, b.sock]\nshipper:\n  listen_socket: s.sock\n  stdout: true\n",
         ":6: correlator.shipper_socket lists no shipper.listen_socket 's.sock' (line 8): the "
         "correlator would connect to every socket of the list, and the shipper listens on "},
        {"correlator/vigil-correlator",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n"
         "  shipper_socket: [a.sock, a.sock]\n",
         ":6: shipper_socket 'a.sock' is listed twice (line 6 as 'a.sock'; both are "},
        /* two listeners on one port: -t passed, the start failed */
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n  listen:\n"
         "    - tcp://0.0.0.0:6514\n    - tls://127.0.0.1:6514\n",
         ":7: listen 'tls://127.0.0.1:6514' takes the port (or path) of 'tcp://0.0.0.0:6514', "
         "line 6"},
        {"shipper/vigil-shipper",
         "pipeline:\n  run_dir: run\n  data_dir: data\nshipper:\n"
         "  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         ":5: 'name' must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' "
         "(got 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')"},
        /* a socket path longer than a Unix socket address holds: -t passed,
         * libuv cut it, and the shipper failed to start with "no such file
         * or directory", a collector retried "connection refused" for ever */
        {"collector/vigil-collector",
         "pipeline:\n  run_dir: " IT_R100 "\n  data_dir: data\n",
         ":2: collector.correlator_socket 'correlator.sock' (the default) is the socket /"},
        {"correlator/vigil-correlator",
         "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n"
         "  shipper_socket: [s.sock, " IT_R100 ".sock]\n",
         ":6: correlator.shipper_socket '" IT_R100 ".sock' is the socket /"},
        {"shipper/vigil-shipper",
         "pipeline:\n  run_dir: run\n  data_dir: data\nshipper:\n  stdout: true\n"
         "  listen_socket: /tmp/" IT_R100 "/s.sock\n",
         ":6: shipper.listen_socket '/tmp/" IT_R100 "/s.sock' is the socket /tmp/" IT_R100
         "/s.sock, 112 bytes: a Unix socket's path holds at most 107; shorten pipeline.run_dir "
         "or give the socket a shorter absolute path\n"},
    };
    for (size_t i = 0; i < sizeof(bad_cfg) / sizeof(bad_cfg[0]); i++) {
        snprintf(want, sizeof(want), "%s%s", p.config, bad_cfg[i][2]);
        it_refused(&p, bad_cfg[i][0], bad_cfg[i][1], "-t", want);
    }
    /* 107 bytes fit */
    ck_assert_int_eq(vt_write_file(p.config, "pipeline:\n  run_dir: run\n  data_dir: data\n"
                                             "shipper:\n  stdout: true\n"
                                             "  listen_socket: /tmp/" IT_R100 "ab\n"), 0);
    char *fits[] = {(char *)vt_bin("shipper/vigil-shipper"), "-c", p.config, "-t", NULL};
    ck_assert_int_eq(vt_run(fits, 10), 0);
    /* --dump-spool before the collector ever ran: says so, creates nothing
     * (it made an empty spool, owned by root when run as root, which the
     * collector could not open once it dropped to pipeline.user) */
    snprintf(want, sizeof(want), "no spool at %s/fresh/collector/collector: No such file", p.dir);
    it_refused(&p, "collector/vigil-collector", "pipeline:\n  run_dir: run\n  data_dir: fresh\n",
               "--dump-spool", want);
    char fresh[400];
    snprintf(fresh, sizeof(fresh), "%s/fresh", p.dir);
    struct stat fsb;
    ck_assert_msg(stat(fresh, &fsb) != 0, "--dump-spool created %s", fresh);
    /* and --dump-list / --load-list before the correlator ever ran */
    snprintf(want, sizeof(want), "no correlator state at %s/fresh/correlator/correlator: No such",
             p.dir);
    it_refused(&p, "correlator/vigil-correlator", NULL, "--dump-list threat-ip", want);
    ck_assert_msg(stat(fresh, &fsb) != 0, "--dump-list created %s", fresh);
    /* -t loads the collector's TLS files, as a start would */
    snprintf(want, sizeof(want), "%s/none.pem: cannot load TLS certificate", p.dir);
    it_refused(&p, "collector/vigil-collector",
               "pipeline:\n  run_dir: run\n  data_dir: data\n"
               "collector:\n  listen: [tls://127.0.0.1:6514]\n"
               "  tls: {cert: none.pem, key: none.key}\n",
               "-t", want);
    /* -t checks the correlator's watchlists too */
    char list[400];
    snprintf(list, sizeof(list), "%s/b.txt", p.dir);
    ck_assert_int_eq(vt_write_file(list, "# feed\n10.0.0.0/33\n"), 0);
    snprintf(want, sizeof(want), "%s:2: prefix length 33 > 32 in CIDR '10.0.0.0/33'", list);
    it_refused(&p, "correlator/vigil-correlator",
               "pipeline:\n  run_dir: run\n  data_dir: data\n"
               "correlator:\n  rules_dir: rules\n  lists:\n    bad: b.txt\n",
               "-t", want);
    /* a bad list name in the configuration: its file and line */
    snprintf(want, sizeof(want), "%s:7: bad list name 'bad name'", p.config);
    it_refused(&p, "correlator/vigil-correlator",
               "pipeline:\n  run_dir: run\n  data_dir: data\n"
               "correlator:\n  rules_dir: rules\n  lists:\n    bad name: b.txt\n",
               "-t", want);
    /* RULES_DIR/lists/ in name order: l00..l09 are read before the bad
     * l09z.txt stops the load, l10..l19 are not (they came in directory
     * order, which differs from run to run and machine to machine) */
    char ldir[300];
    snprintf(ldir, sizeof(ldir), "%.280s/rules/lists", p.dir);
    ck_assert_int_eq(mkdir(ldir, 0755), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(list, sizeof(list), "%s/l%02d.txt", ldir, i);
        ck_assert_int_eq(vt_write_file(list, "192.0.2.1\n"), 0);
    }
    snprintf(list, sizeof(list), "%s/l09z.txt", ldir);
    ck_assert_int_eq(vt_write_file(list, "10.0.0.0/33\n"), 0);
    snprintf(want, sizeof(want), "%s:1: prefix length 33 > 32", list);
    it_refused(&p, "correlator/vigil-correlator",
               "pipeline:\n  run_dir: run\n  data_dir: data\ncorrelator:\n  rules_dir: rules\n",
               "-t", want);
    char log[400];
    snprintf(log, sizeof(log), "%s/bad.log", p.dir);
    for (int i = 0; i < 20; i++) {
        snprintf(want, sizeof(want), "list l%02d: 1 entries", i);
        ck_assert_msg(vt_wait_text(log, want, 0) == (i < 10), "%s: %s", want,
                      i < 10 ? "missing" : "read after the bad file");
    }
    /* data_dir naming a directory shared with others (/var/lib, /tmp, /run
     * by mistake): refused, owner and mode left as they are (the daemons
     * made it 0700 and the pipeline user's, which broke everything else
     * that used it). As root: a directory an unprivileged pipeline user
     * owns is its own, and only given its mode. */
    char shared[400], other[440];
    if (geteuid() == 0) {
        snprintf(shared, sizeof(shared), "%.380s/shared", p.dir);
        snprintf(other, sizeof(other), "%s/other-service.db", shared);
        ck_assert_int_eq(mkdir(shared, 0755), 0);
        ck_assert_int_eq(chmod(shared, 0755), 0);
        ck_assert_int_eq(vt_write_file(other, "x"), 0);
        snprintf(want, sizeof(want), "%.250s: pipeline.data_dir %.250s: holds 'other-service.db', "
                 "which is not Vigil's", p.config, shared);
        it_refused(&p, "shipper/vigil-shipper",
                   "pipeline:\n  run_dir: run\n  data_dir: shared\n"
                   "shipper:\n  outputs: [{name: o, type: stdout}]\n",
                   "", want);
        ck_assert_int_eq(stat(shared, &fsb), 0);
        ck_assert_int_eq(fsb.st_mode & 07777, 0755);
    }
    /* A unix:// listener on another program's live stream socket (the
     * correlator's, by a mistaken path): refused, and the socket left in
     * place. It was unlinked, which cut every collector off. */
    char live[400], lcfg[700];
    snprintf(live, sizeof(live), "%.380s/live.sock", p.dir);
    struct sockaddr_un lsa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(live), sizeof(lsa.sun_path));
    memcpy(lsa.sun_path, live, strlen(live) + 1);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&lsa, sizeof(lsa)), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    snprintf(lcfg, sizeof(lcfg), "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n"
             "  listen: ['unix://%s']\n", live);
    snprintf(want, sizeof(want), "cannot listen on unix://%.300s: another program's stream "
             "socket is there, live", live);
    it_refused(&p, "collector/vigil-collector", lcfg, "", want);
    ck_assert_int_eq(stat(live, &fsb), 0);
    /* ... and one in a directory that is not there: -t said valid, and
     * the start failed at the bind, without a line */
    snprintf(lcfg, sizeof(lcfg), "pipeline:\n  run_dir: run\n  data_dir: data\ncollector:\n"
             "  listen: ['unix://%.300s/no-such-dir/log']\n", p.dir);
    snprintf(want, sizeof(want), "%.150s:5: listen 'unix://%.150s/no-such-dir/log': its "
             "directory %.150s/no-such-dir: No such file or directory", p.config, p.dir, p.dir);
    it_refused(&p, "collector/vigil-collector", lcfg, "-t", want);
    it_refused(&p, "collector/vigil-collector", lcfg, "", want);
    int cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&lsa, sizeof(lsa)), 0);
    close(cfd);
    close(lfd);
    /* A configuration only root may read (it holds the outputs' secrets):
     * read as root at the start, again as pipeline.user on every SIGHUP,
     * which refused each one. Said at the start now. */
    if (geteuid() == 0 && getpwnam("nobody")) {
        char ucfg[400], ulog[400], ucmd[1200];
        snprintf(ucfg, sizeof(ucfg), "%.380s/root-only.yaml", p.dir);
        snprintf(ulog, sizeof(ulog), "%.380s/root-only.log", p.dir);
        ck_assert_int_eq(vt_write_file(ucfg, "pipeline:\n  user: nobody\n  run_dir: run-u\n"
                                             "  data_dir: data-u\nshipper:\n  stdout: true\n"),
                         0);
        ck_assert_int_eq(chmod(ucfg, 0600), 0);
        ck_assert_int_eq(chmod(p.dir, 0755), 0); /* nobody passes through to run-u, data-u */
        /* A store left by a run as root before pipeline.user was set: root's,
         * 0700. The shipper could not open it as nobody, and did not start. */
        char ustore[460], uown[480];
        snprintf(ustore, sizeof(ustore), "%.380s/data-u/shipper/shipper", p.dir);
        snprintf(uown, sizeof(uown), "%s/owner.lock", ustore);
        for (char *sl = strstr(ustore, "/data-u"); sl; sl = strchr(sl + 1, '/')) {
            *sl = '\0';
            mkdir(ustore, 0700);
            *sl = '/';
        }
        ck_assert_int_eq(mkdir(ustore, 0700), 0);
        ck_assert_int_eq(vt_write_file(uown, "1\n"), 0);
        ck_assert_int_eq(chmod(uown, 0600), 0);
        snprintf(ucmd, sizeof(ucmd), "exec %s -c %s > %s 2>&1", vt_bin("shipper/vigil-shipper"),
                 ucfg, ulog);
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", ucmd, (char *)NULL);
            _exit(127);
        }
        ck_assert_int_gt(pid, 0);
        bool up = vt_wait_text(ulog, " started (config ", 10000);
        kill(pid, SIGTERM);
        int st = 0;
        waitpid(pid, &st, 0);
        ck_assert_msg(up, "the shipper did not start as nobody");
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
        snprintf(want, sizeof(want), "warning: configuration %s is not readable by uid %ld",
                 ucfg, (long)getpwnam("nobody")->pw_uid);
        ck_assert_msg(vt_wait_text(ulog, want, 0), "missing: %s", want);
        struct stat osb;
        ck_assert_int_eq(stat(uown, &osb), 0);
        ck_assert_int_eq(osb.st_uid, getpwnam("nobody")->pw_uid);
        /* -t says it too: it runs as root (the units' ExecStartPre and
         * ExecReload), so `systemctl reload` passed its check and sent a
         * SIGHUP the daemon refused */
        snprintf(ucmd, sizeof(ucmd), "%s -c %s -t > %s 2>&1", vt_bin("shipper/vigil-shipper"),
                 ucfg, ulog);
        char *rsh[] = {"sh", "-c", ucmd, NULL};
        ck_assert_int_eq(vt_run(rsh, 10), 0);
        snprintf(want, sizeof(want),
                 "warning: %.200s: pipeline.user nobody cannot read %.200s (the configuration "
                 "itself): Permission denied; every SIGHUP reads it as that user and would be "
                 "refused", ucfg, ucfg);
        ck_assert_msg(vt_wait_text(ulog, want, 0), "missing: %s", want);
        /* -t runs as root, the outputs are opened as nobody: a directory
         * only root may write to passed -t, and the start failed */
        char rdir[420];
        snprintf(rdir, sizeof(rdir), "%.380s/root-logs", p.dir);
        ck_assert_int_eq(mkdir(rdir, 0700), 0);
        ck_assert_int_eq(vt_write_file(ucfg, "pipeline:\n  user: nobody\n  run_dir: run-u\n"
                                             "  data_dir: data-u\nshipper:\n  outputs:\n"
                                             "    - {name: a, type: file, path: root-logs/a.json}\n"),
                         0);
        snprintf(ucmd, sizeof(ucmd), "%s -c %s -t > %s 2>&1", vt_bin("shipper/vigil-shipper"),
                 ucfg, ulog);
        char *tsh[] = {"sh", "-c", ucmd, NULL};
        ck_assert_int_eq(vt_run(tsh, 10), 0);
        snprintf(want, sizeof(want),
                 "warning: %.250s: pipeline.user nobody cannot write to %.250s (the directory "
                 "of output a): Permission denied",
                 ucfg, rdir);
        ck_assert_msg(vt_wait_text(ulog, want, 0), "missing: %s", want);
    }
    vt_pipe_destroy(&p);
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = it_tcase(s, "e2e", 240);
    tcase_add_test(tc, test_10k_lines_exactly_once);
    tcase_add_test(tc, test_alert_json_exact);
    tcase_add_test(tc, test_bad_frames_counted_process_lives);
    tcase_add_test(tc, test_foreign_peer_refused);
    tcase_add_test(tc, test_two_collectors_one_name_refused);
    tcase_add_test(tc, test_sighup_reload);
    tcase_add_test(tc, test_log_to_a_closed_pipe);
    tcase_add_test(tc, test_started_without_stdio);
    tcase_add_test(tc, test_config_symlink_swapped);
    tcase_add_test(tc, test_systemd_notify);
    tcase_add_test(tc, test_cli_and_bad_config);
    /* a big rule set loading while signals come (a case of its own, so
     * that meson runs it next to other tests: tests/integration/meson.build) */
    TCase *ld = it_tcase(s, "loading", 240);
    tcase_add_test(ld, test_sighup_builds_off_the_loop);
    tcase_add_test(ld, test_signals_during_startup);
    /* SIGHUPs and signals as a long-running service gets them (session 21) */
    TCase *rl = it_tcase(s, "reloads", 120);
    tcase_add_test(rl, test_sighup_burst_builds_two);
    tcase_add_test(rl, test_reload_ready_when_rules_take_over);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a failing test exits: keep what it printed */
    SRunner *sr = srunner_create(pipeline_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
