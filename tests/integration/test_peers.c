/* Real peers from Debian's packages talking to the collector: rsyslog as a
 * site relay forwarding a file of log lines (omfwd over TCP, UDP, and TLS
 * with a client certificate), and openssl s_client as a TLS sender with a
 * good, a foreign and no certificate. */
#include <check.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "it_common.h"

#define SSHD_RULES                                                                                 \
    "rules:\n  - id: test.sshd\n    name: Any sshd line\n    level: 1\n    match:\n"              \
    "      program: sshd\n      regex: '.'\n"

/* Appends the lines of path to out; returns the number appended. */
static int append_file(FILE *out, const char *path)
{
    char *b = vt_read_file(path, NULL);
    if (!b)
        return 0;
    int n = 0;
    for (char *l = b, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        if (!nl)
            break;
        *nl = '\0';
        fprintf(out, "%s\n", l);
        n++;
    }
    free(b);
    return n;
}

/* The input a relay reads: our own sample log, plus the OpenSSH log of the
 * shared corpus (read in place) when it is there. */
static int write_input(const char *path)
{
    FILE *f = fopen(path, "w");
    char p[600];
    snprintf(p, sizeof(p), "%s/tests/data/samples/auth.log", it_src_root());
    int n = append_file(f, p);
    snprintf(p, sizeof(p), "%s/../shared/corpus/loghub/OpenSSH_2k.log", it_src_root());
    int m = append_file(f, p);
    if (m == 0)
        printf("note: ../shared/corpus absent; using the bundled sample only\n");
    fclose(f);
    return n + m;
}

/* Appends s JSON-escaped the way the shipper writes it. */
static void json_esc(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    out[n] = '\0';
}

/* For every "MMM DD HH:MM:SS HOST sshd[PID]: MSG" line of input there must
 * be exactly one alert with host.name HOST and message MSG, and no other
 * alert. Returns the number of problems (printed). */
static int check_relayed(const char *input, const char *alerts, int *expected)
{
    char *in = vt_read_file(input, NULL), *al = vt_read_file(alerts, NULL);
    int problems = 0, want = 0;
    if (!in || !al)
        return 1;
    long nal = vt_count_lines(alerts);
    for (char *l = in, *nl; *l; l = nl + 1) {
        nl = strchr(l, '\n');
        if (!nl)
            break;
        *nl = '\0';
        if (nl > l && nl[-1] == '\r')
            nl[-1] = '\0'; /* the corpus has CRLF lines; the collector drops the CR */
        char host[256], prog[64];
        int off = 0;
        if (sscanf(l + 16, "%255s %63[^[:]%n", host, prog, &off) != 2 || strcmp(prog, "sshd") != 0)
            continue;
        const char *msg = strstr(l + 16, "]: ");
        if (!msg)
            continue;
        msg += 3;
        want++;
        char needle[8192], esc[4096];
        json_esc(esc, sizeof(esc), msg);
        snprintf(needle, sizeof(needle), "\"host\":{\"name\":\"%s\"}", host);
        /* find a line carrying both host and message */
        int found = 0;
        char emsg[4200];
        snprintf(emsg, sizeof(emsg), "\"message\":\"%s\",", esc);
        for (char *a = al; a && *a;) {
            char *e = strchr(a, '\n');
            if (!e)
                break;
            *e = '\0';
            if (strstr(a, needle) && strstr(a, emsg)) {
                found++;
                a[0] = '#'; /* consumed: a second identical line needs its own alert */
                *e = '\n';
                break;
            }
            *e = '\n';
            a = e + 1;
        }
        if (!found && problems++ < 10)
            printf("no alert for host %s message %.200s\n", host, msg);
    }
    if (nal != want) {
        printf("%ld alerts for %d sshd lines\n", nal, want);
        problems++;
    }
    free(in);
    free(al);
    *expected = want;
    return problems;
}

/* Runs rsyslogd in the foreground (-n) with conf; returns its pid. */
static pid_t start_rsyslog(vt_pipe *p, const char *conf)
{
    char cpath[400], pid[400], log[400];
    snprintf(cpath, sizeof(cpath), "%s/rsyslog.conf", p->dir);
    snprintf(pid, sizeof(pid), "%s/rsyslog.pid", p->dir);
    snprintf(log, sizeof(log), "%s/rsyslog.log", p->dir);
    vt_write_file(cpath, conf);
    pid_t child = fork();
    if (child == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execlp("rsyslogd", "rsyslogd", "-n", "-f", cpath, "-i", pid, (char *)NULL);
        _exit(127);
    }
    return child;
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        vt_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* mode: "tcp", "udp" or "tls". */
static void relay_test(const char *mode)
{
    vt_pipe p;
    const char *tls = strcmp(mode, "tls") == 0 ? "1" : NULL;
    char coll[800] = "";
    if (tls) {
        snprintf(coll, sizeof(coll),
                 "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n"
                 "    ca: certs/ca.pem\n    require_client_cert: true\n"
                 "    allowed_names: [\"*.aviation.example\"]\n");
    }
    /* TLS listens on the pipe's second port. */
    ck_assert_int_eq(vt_pipe_init_ex(&p, SSHD_RULES, NULL, NULL), 0);
    int tls_port = p.port2;
    if (tls) {
        char certs[400];
        snprintf(certs, sizeof(certs), "%s/certs", p.dir);
        ck_assert_int_eq(mkdir(certs, 0700), 0);
        ck_assert_int_eq(it_make_certs(certs), 0);
        char cfg[4096];
        snprintf(cfg, sizeof(cfg),
                 "pipeline:\n  run_dir: run\n  data_dir: data\n  stats_interval: 200ms\n"
                 "collector:\n  name: c1\n  listen:\n    - tcp://127.0.0.1:%d\n"
                 "    - tls://127.0.0.1:%d\n%s"
                 "correlator:\n  rules_dir: rules\n  state_size: 256M\n"
                 "shipper:\n  json_file: alerts.json\n  outbox_size: 256M\n",
                 p.port, tls_port, coll);
        ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    }
    vt_pipe_start_all(&p);
    char input[400];
    snprintf(input, sizeof(input), "%s/input.log", p.dir);
    int lines = write_input(input);
    ck_assert_int_gt(lines, 10);
    char work[400];
    snprintf(work, sizeof(work), "%s/rs-work", p.dir);
    ck_assert_int_eq(mkdir(work, 0700), 0);
    char conf[4096];
    char action[1200];
    if (strcmp(mode, "udp") == 0)
        snprintf(action, sizeof(action),
                 "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"%d\" protocol=\"udp\" "
                 "template=\"relay\")\n", p.port);
    else if (strcmp(mode, "tcp") == 0)
        snprintf(action, sizeof(action),
                 "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"%d\" protocol=\"tcp\" "
                 "template=\"relay\")\n", p.port);
    else
        snprintf(action, sizeof(action),
                 "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"%d\" protocol=\"tcp\" "
                 "StreamDriver=\"ossl\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\" "
                 "StreamDriverPermittedPeers=\"localhost\" TCP_Framing=\"octet-counted\" "
                 "template=\"relay\")\n", tls_port);
    snprintf(conf, sizeof(conf),
             "global(workDirectory=\"%s\" net.enableDNS=\"off\"%s%s%s%s%s%s%s)\n"
             "module(load=\"imfile\" mode=\"polling\" PollingInterval=\"1\")\n"
             "template(name=\"relay\" type=\"string\" string=\"<38>%%msg%%\")\n"
             "input(type=\"imfile\" File=\"%s\" Tag=\"relay\" ruleset=\"fwd\" freshStartTail=\"off\")\n"
             "ruleset(name=\"fwd\") {\n%s}\n",
             work, tls ? " DefaultNetstreamDriverCAFile=\"" : "", tls ? p.dir : "",
             tls ? "/certs/ca.pem\" DefaultNetstreamDriverCertFile=\"" : "", tls ? p.dir : "",
             tls ? "/certs/client.pem\" DefaultNetstreamDriverKeyFile=\"" : "", tls ? p.dir : "",
             tls ? "/certs/client.key\"" : "", input, action);
    pid_t rs = start_rsyslog(&p, conf);
    ck_assert_int_gt(rs, 0);
    /* Expected: every sshd line; wait until that many alerts arrived. */
    int want = 0;
    char *in = vt_read_file(input, NULL);
    for (char *l = in; (l = strstr(l, " sshd[")); l++)
        want++;
    free(in);
    bool all = vt_wait_lines(p.alerts, want, 60000);
    vt_sleep_ms(500);
    stop_child(rs);
    if (!all) {
        char rlog[400];
        snprintf(rlog, sizeof(rlog), "%s/rsyslog.log", p.dir);
        char *b = vt_read_file(rlog, NULL);
        printf("rsyslog said:\n%s\n", b ? b : "(nothing)");
        free(b);
    }
    ck_assert_msg(all, "%s: %ld of %d alerts", mode, vt_count_lines(p.alerts), want);
    int expected = 0;
    ck_assert_int_eq(check_relayed(input, p.alerts, &expected), 0);
    ck_assert_int_eq(expected, want);
    printf("%s: %d lines relayed by rsyslog, %d sshd alerts exact\n", mode, lines, want);
    vt_pipe_destroy(&p);
}

START_TEST(test_rsyslog_relay_tcp)
{
    relay_test("tcp");
}
END_TEST

START_TEST(test_rsyslog_relay_udp)
{
    relay_test("udp");
}
END_TEST

START_TEST(test_rsyslog_relay_tls_client_cert)
{
    relay_test("tls");
}
END_TEST

/* openssl s_client with the allowed client certificate, a certificate whose
 * name is not allowed, none, one whose DNS name is an allowed one with a
 * NUL and more after it, one without SANs whose CN is allowed, and one
 * whose CN is allowed but whose one DNS SAN is not: the first and the
 * fifth get through; the others are counted. A certificate with DNS SANs
 * is known by them only (RFC 6125 6.4.4). */
START_TEST(test_tls_client_certificates)
{
    vt_pipe p;
    ck_assert_int_eq(vt_pipe_init(&p, SSHD_RULES), 0);
    char certs[400], cfg[4096];
    snprintf(certs, sizeof(certs), "%s/certs", p.dir);
    ck_assert_int_eq(mkdir(certs, 0700), 0);
    ck_assert_int_eq(it_make_certs_ex(certs, true), 0);
    snprintf(cfg, sizeof(cfg),
             "pipeline:\n  run_dir: run\n  data_dir: data\n"
             "collector:\n  name: c1\n  listen:\n    - tcp://127.0.0.1:%d\n    - tls://127.0.0.1:%d\n"
             "  tls:\n    cert: certs/server.pem\n    key: certs/server.key\n    ca: certs/ca.pem\n"
             "    require_client_cert: true\n    allowed_names: [\"*.aviation.example\"]\n"
             "correlator:\n  rules_dir: rules\n"
             "shipper:\n  json_file: alerts.json\n",
             p.port, p.port2);
    ck_assert_int_eq(vt_write_file(p.config, cfg), 0);
    vt_pipe_start_all(&p);
    const char *who[] = {"client", "rogue", NULL, "nul", "cnonly", "cnsan"};
    for (int i = 0; i < 6; i++) {
        char cmd[4096];
        char certopt[1000] = "";
        if (who[i])
            snprintf(certopt, sizeof(certopt), "-cert %s/%s.pem -key %s/%s.key", certs, who[i],
                     certs, who[i]);
        snprintf(cmd, sizeof(cmd),
                 "printf '<38>1 2026-11-25T10:00:0%dZ relay%d sshd 1 - - Failed password for root "
                 "from 203.0.113.%d port 22 ssh2\\n' | timeout 10 openssl s_client -connect "
                 "127.0.0.1:%d %s -CAfile %s/ca.pem -quiet -no_ign_eof >/dev/null 2>&1",
                 i, i, i, p.port2, certopt, certs);
        char *argv[] = {"sh", "-c", cmd, NULL};
        vt_run(argv, 30);
    }
    /* The allowed client again, resuming its session as most TLS clients
     * do on a reconnect (TLS 1.2 session id, TLS 1.3 ticket): with the CA
     * set and no session id context, OpenSSL refused every resumption. */
    const char *proto[] = {"-tls1_2", "-tls1_3"};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            char cmd[4096];
            snprintf(cmd, sizeof(cmd),
                     "printf '<38>1 2026-11-25T10:00:1%dZ relay%d sshd 1 - - Failed password for "
                     "root from 203.0.113.9 port 22 ssh2\\n' | (cat; sleep 0.3) | timeout 10 "
                     "openssl s_client -connect 127.0.0.1:%d %s -cert %s/client.pem -key "
                     "%s/client.key -CAfile %s/ca.pem -no_ign_eof -sess_%s %s/sess%d "
                     ">%s/s_client%d%d.out 2>&1",
                     2 * i + k, 10 + 2 * i + k, p.port2, proto[i], certs, certs, certs,
                     k ? "in" : "out", p.dir, i, p.dir, i, k);
            char *argv[] = {"sh", "-c", cmd, NULL};
            ck_assert_int_eq(vt_run(argv, 30), 0);
        }
        char out[500];
        snprintf(out, sizeof(out), "%s/s_client%d1.out", p.dir, i);
        ck_assert_msg(vt_wait_text(out, i ? "Reused, TLSv1.3" : "Reused, TLSv1.2", 100),
                      "%s: session not resumed", proto[i]);
    }
    ck_assert(vt_wait_lines(p.alerts, 6, 20000));
    vt_sleep_ms(500);
    ck_assert_int_eq(vt_count_lines(p.alerts), 6);
    char *b = vt_read_file(p.alerts, NULL);
    ck_assert_ptr_nonnull(strstr(b, "\"host\":{\"name\":\"relay0\"}"));
    ck_assert_ptr_nonnull(strstr(b, "\"host\":{\"name\":\"relay4\"}"));
    ck_assert_ptr_null(strstr(b, "\"host\":{\"name\":\"relay5\"}"));
    for (int i = 10; i < 14; i++) {
        char host[64];
        snprintf(host, sizeof(host), "\"host\":{\"name\":\"relay%d\"}", i);
        ck_assert_msg(strstr(b, host), "no alert from %s", host);
    }
    ck_assert_ptr_nonnull(strstr(b, "\"message\":\"Failed password for root from 203.0.113.0 port 22 ssh2\""));
    ck_assert_ptr_null(strstr(b, "\"host\":{\"name\":\"relay3\"}"));
    free(b);
    char log[400];
    vt_pipe_log(&p, VT_COLLECTOR, log, sizeof(log));
    ck_assert(vt_wait_text(log, "certificate name 'rogue.example' is not in allowed_names", 100));
    ck_assert(vt_wait_text(log, "peer did not return a certificate", 100));
    ck_assert(vt_wait_text(log, "certificate name 'other.example' is not in allowed_names (its "
                                "CN 'relay6.aviation.example' is not checked: the certificate "
                                "has DNS names); closing", 100));
    kill(p.pid[VT_COLLECTOR], SIGUSR1);
    ck_assert(vt_wait_text(log, "tls_handshakes=9 tls_errors=1 tls_refused_names=3 ", 5000));
    vt_pipe_destroy(&p);
}
END_TEST

static Suite *peers_suite(void)
{
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("peers");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_tls_client_certificates);
    tcase_add_test(tc, test_rsyslog_relay_tcp);
    tcase_add_test(tc, test_rsyslog_relay_udp);
    tcase_add_test(tc, test_rsyslog_relay_tls_client_cert);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a failing test exits: keep what it printed */
    SRunner *sr = srunner_create(peers_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
