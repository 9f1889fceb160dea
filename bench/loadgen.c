/* vigil-loadgen: a syslog-over-TCP load generator for bench/collector.
 *
 * Opens K TCP connections to 127.0.0.1:PORT (loopback only) and sends N
 * newline-framed RFC 3164 lines of about 200 bytes (sshd, sudo, kernel
 * firewall, nginx, postfix, cron; varying hosts, addresses and numbers; the
 * same seed gives the same lines) as fast as the receiver takes them. The
 * lines are built in memory before the clock starts (a pool of P distinct
 * lines, cycled), and each connection sends them with large non-blocking
 * writes from one thread, so the generator costs little next to the
 * receiver. It reports what it sent, when the first byte left (t0, Unix
 * time) and its own CPU time, as key=value pairs on one stdout line.
 *
 * With -f FILE it sends the first LINES lines of FILE instead (bench/pipeline
 * feeds vigil-genstream's stream, whose rules it checks against a replay of
 * the same lines): each once, in order, line i on connection i mod CONNS.
 *
 * Not a test and not installed: see bench/README.md.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include "bench_rng.h"

#define LG_MAX_CONNS 256
#define LG_LINE_MAX 512

typedef struct lg_conn {
    int fd;
    uint64_t left;   /* bytes still to send */
    size_t pos;      /* byte position in buf */
    uint64_t lines;  /* lines this connection sends */
    const char *buf; /* what it sends from: the shared pool (cycled), or its own lines */
    size_t size;     /* bytes in buf */
} lg_conn;

static uint64_t lg_rng;

static uint64_t lg_next(void)
{
    return bench_rng_next(&lg_rng);
}

static unsigned lg_rand(unsigned n)
{
    return (unsigned)(lg_next() % n);
}

static double lg_now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const lg_units[] = {"road", "avn", "rail"};
static const char *const lg_roles[] = {"gw",  "web", "db",  "atc", "sig",
                                       "cam", "ops", "vpn", "dns", "app"};
static const char *const lg_users[] = {"root",     "admin",    "oracle",  "deploy",
                                       "backup",   "test",     "ubuntu",  "git",
                                       "postgres", "operator", "jenkins", "guest"};
static const char *const lg_staff[] = {"alice",  "bmartin", "cdupont",
                                       "dkovac", "eng-ops", "fsilva"};
static const char *const lg_cmds[] = {"/usr/bin/systemctl restart nginx",
                                      "/usr/bin/apt-get update",
                                      "/bin/cat /etc/shadow",
                                      "/usr/sbin/iptables -L -n",
                                      "/usr/bin/journalctl -u sshd --since today",
                                      "/bin/su -",
                                      "/usr/bin/tail -n 200 /var/log/auth.log",
                                      "/usr/sbin/reboot"};
static const char *const lg_paths[] = {"/api/v1/flights",
                                       "/api/v1/trains/positions",
                                       "/login",
                                       "/static/app.js",
                                       "/api/v2/roads/incidents",
                                       "/wp-login.php",
                                       "/admin/config.php",
                                       "/healthz",
                                       "/api/v1/tickets"};
static const char *const lg_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0", "curl/7.88.1",
    "python-requests/2.28.1", "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"};
static const char *const lg_mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void lg_ip(char *out, size_t cap, int external)
{
    if (external) {
        static const int nets[][3] = {{203, 0, 113}, {198, 51, 100}, {192, 0, 2}, {45, 83, 64}};
        const int *n = nets[lg_rand(4)];
        snprintf(out, cap, "%d.%d.%d.%u", n[0], n[1], n[2], 1 + lg_rand(254));
    } else {
        snprintf(out, cap, "10.%u.%u.%u", lg_rand(3), lg_rand(64), 1 + lg_rand(254));
    }
}

/* Writes one line (with its LF) into out and returns its length. */
static int lg_line(char *out, size_t cap, uint64_t i)
{
    time_t t = 1717200000 + (time_t)(i / 50); /* June 2024, 50 lines a second */
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32], host[48], ip[24], ip2[24];
    snprintf(ts, sizeof(ts), "%s %2d %02d:%02d:%02d", lg_mon[tm.tm_mon], tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    snprintf(host, sizeof(host), "%s-%s-%02u", lg_units[lg_rand(3)], lg_roles[lg_rand(10)],
             1 + lg_rand(40));
    unsigned pid = 300 + lg_rand(60000);
    int n;
    switch (lg_rand(8)) {
    case 0:
    case 1:
        lg_ip(ip, sizeof(ip), 1);
        n = snprintf(out, cap,
                     "<38>%s %s sshd[%u]: Failed password for %s%s from %s port %u ssh2; "
                     "attempt %u of session %08x, client banner SSH-2.0-libssh_0.9.%u\n",
                     ts, host, pid, lg_rand(2) ? "invalid user " : "", lg_users[lg_rand(12)], ip,
                     1024 + lg_rand(64000), 1 + lg_rand(6), (unsigned)lg_next(), lg_rand(8));
        break;
    case 2:
        lg_ip(ip, sizeof(ip), 0);
        n = snprintf(out, cap,
                     "<86>%s %s sshd[%u]: Accepted publickey for %s from %s port %u ssh2: "
                     "ED25519 SHA256:%016llx%016llx%08x, session opened for user %s by (uid=0)\n",
                     ts, host, pid, lg_staff[lg_rand(6)], ip, 1024 + lg_rand(64000),
                     (unsigned long long)lg_next(), (unsigned long long)lg_next(),
                     (unsigned)lg_next(), lg_staff[lg_rand(6)]);
        break;
    case 3: {
        const char *u = lg_staff[lg_rand(6)];
        n = snprintf(out, cap,
                     "<85>%s %s sudo: %8s : TTY=pts/%u ; PWD=/home/%s/work/ticket-%u ; USER=root ; "
                     "ENV=LANG=C.UTF-8 ; COMMAND=%s\n",
                     ts, host, u, lg_rand(8), u, 1000 + lg_rand(9000), lg_cmds[lg_rand(8)]);
        break;
    }
    case 4:
    case 5:
        lg_ip(ip, sizeof(ip), 1);
        lg_ip(ip2, sizeof(ip2), 0);
        n = snprintf(
            out, cap,
            "<4>%s %s kernel: [%u.%06u] [UFW BLOCK] IN=eth0 OUT= "
            "SRC=%s DST=%s LEN=%u TOS=0x00 PREC=0x00 TTL=%u ID=%u DF PROTO=%s SPT=%u "
            "DPT=%u WINDOW=%u RES=0x00 SYN URGP=0\n",
            ts, host, lg_rand(2000000), lg_rand(1000000), ip, ip2, 40 + lg_rand(1400),
            32 + lg_rand(96), lg_rand(65536), lg_rand(4) ? "TCP" : "UDP", 1024 + lg_rand(64000),
            (unsigned[]){22, 23, 80, 443, 445, 3389, 5900}[lg_rand(7)], 1024 + lg_rand(64000));
        break;
    case 6:
        lg_ip(ip, sizeof(ip), lg_rand(2));
        n = snprintf(out, cap,
                     "<190>%s %s nginx: %s - - [%02d/%s/%d:%02d:%02d:%02d +0000] \"%s %s?id=%u "
                     "HTTP/1.1\" %u %u \"-\" \"%s\"\n",
                     ts, host, ip, tm.tm_mday, lg_mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, lg_rand(4) ? "GET" : "POST", lg_paths[lg_rand(9)],
                     lg_rand(100000), (unsigned[]){200, 200, 200, 301, 403, 404, 500}[lg_rand(7)],
                     lg_rand(60000), lg_agents[lg_rand(5)]);
        break;
    default:
        if (lg_rand(2)) {
            lg_ip(ip, sizeof(ip), 1);
            n = snprintf(out, cap,
                         "<22>%s %s postfix/smtpd[%u]: NOQUEUE: reject: RCPT from unknown[%s]: "
                         "554 5.7.1 <user%u@mail.example.org>: Relay access denied; from=<>, "
                         "proto=ESMTP helo=<mx%u.example.net>\n",
                         ts, host, pid, ip, lg_rand(1000), lg_rand(100));
        } else {
            n = snprintf(out, cap,
                         "<78>%s %s CRON[%u]: (%s) CMD (/usr/local/bin/backup.sh --target "
                         "nas-%02u.storage.internal --level %u --retention %ud "
                         ">>/var/log/backup/backup-%u.log 2>&1)\n",
                         ts, host, pid, lg_users[lg_rand(12)], lg_rand(20), lg_rand(3),
                         7 + lg_rand(83), lg_rand(100));
        }
        break;
    }
    if (n < 0 || (size_t)n >= cap) { /* cannot happen with these formats; keep the frame valid */
        n = (int)cap - 1;
        out[n - 1] = '\n';
    }
    return n;
}

/* -f: reads the first nlines lines of path and deals them out to the nconn
 * connections, line i to connection i mod nconn, each into a buffer of its
 * own (own[c], freed by the caller), so that one connection's lines are the
 * file's order and the receiver sees them as they were written. Sets each
 * conns[c] to send its buffer once; *total the bytes of all, *pbytes too
 * (for the average line). 1 with a message when the file cannot be read
 * or is short. */
static int lg_split_file(const char *path, uint64_t nlines, lg_conn *conns, long nconn,
                         char **own, uint64_t *total, size_t *pbytes)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap[LG_MAX_CONNS] = {0};
    char *line = NULL;
    size_t lcap = 0;
    uint64_t i = 0;
    int rc = 0;
    for (long c = 0; c < nconn; c++)
        conns[c] = (lg_conn){.fd = -1};
    while (i < nlines) {
        ssize_t n = getline(&line, &lcap, f);
        if (n <= 0)
            break;
        if (line[n - 1] != '\n') { /* the file's last line, unterminated */
            if ((size_t)n + 1 >= lcap) {
                char *t = realloc(line, (size_t)n + 2);
                if (!t) {
                    rc = 1;
                    break;
                }
                line = t;
                lcap = (size_t)n + 2;
            }
            line[n++] = '\n';
        }
        size_t c = (size_t)(i % (uint64_t)nconn);
        lg_conn *k = &conns[c];
        if (k->size + (size_t)n > cap[c]) {
            size_t want = cap[c] ? 2 * cap[c] : (size_t)1 << 20;
            while (want < k->size + (size_t)n)
                want *= 2;
            char *t = realloc(own[c], want);
            if (!t) {
                fprintf(stderr, "vigil-loadgen: out of memory reading %s\n", path);
                rc = 1;
                break;
            }
            own[c] = t;
            cap[c] = want;
        }
        memcpy(own[c] + k->size, line, (size_t)n);
        k->size += (size_t)n;
        k->lines++;
        i++;
    }
    free(line);
    fclose(f);
    if (rc == 0 && i < nlines) {
        fprintf(stderr, "vigil-loadgen: %s has %llu lines, fewer than the %llu asked for\n", path,
                (unsigned long long)i, (unsigned long long)nlines);
        rc = 1;
    }
    *total = 0;
    for (long c = 0; rc == 0 && c < nconn; c++) {
        conns[c].buf = own[c];
        conns[c].left = conns[c].size;
        *total += conns[c].size;
    }
    *pbytes = (size_t)*total;
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil-loadgen -p PORT [-n LINES] [-c CONNS] [-s SEED] [-P POOL] [-w BYTES]\n"
            "                     [-T SECONDS] [-f FILE] | -x ... | -o FILE ...\n"
            "  Sends LINES (default 1000000) newline-framed RFC 3164 lines to 127.0.0.1:PORT over\n"
            "  CONNS TCP connections (default 4), cycling through POOL distinct pre-built lines\n"
            "  (default 200000), with writes of up to BYTES (default 262144). Gives up after\n"
            "  SECONDS (default 120). Prints one line of key=value results on stdout.\n"
            "  -f FILE sends the first LINES lines of FILE instead, each once and in order\n"
            "  (line i on connection i mod CONNS); FILE must hold at least LINES lines.\n"
            "  -o FILE writes the pool to FILE instead (for inspection) and exits;\n"
            "  -x prints what would be sent (lines, bytes) without connecting.\n");
}

int main(int argc, char **argv)
{
    long port = 0;
    uint64_t nlines = 1000000, seed = 42;
    long nconn = 4, tlimit = 120;
    size_t pool_lines = 200000, wmax = 256 << 10;
    const char *dump = NULL, *from = NULL;
    int opt, dry = 0, rc = 0;
    char *own[LG_MAX_CONNS] = {0}; /* each connection's lines, with -f */
    char *pool = NULL;
    uint32_t *len = NULL;
    size_t *off = NULL;
    while ((opt = getopt(argc, argv, "p:n:c:s:P:w:T:o:f:xh")) != -1) {
        switch (opt) {
        case 'p':
            port = strtol(optarg, NULL, 10);
            break;
        case 'n':
            nlines = strtoull(optarg, NULL, 10);
            break;
        case 'c':
            nconn = strtol(optarg, NULL, 10);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'P':
            pool_lines = strtoull(optarg, NULL, 10);
            break;
        case 'w':
            wmax = strtoull(optarg, NULL, 10);
            break;
        case 'T':
            tlimit = strtol(optarg, NULL, 10);
            break;
        case 'o':
            dump = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'x':
            dry = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if ((!dump && !dry && (port < 1 || port > 65535)) || nconn < 1 || nconn > LG_MAX_CONNS ||
        nlines == 0 || nlines > 1000000000ull || pool_lines == 0 || wmax < 4096 || tlimit < 1 ||
        (from && dump)) {
        usage(stderr);
        return 64;
    }
    if (pool_lines > nlines) pool_lines = (size_t)nlines;

    lg_conn conns[LG_MAX_CONNS];
    uint64_t total_bytes = 0;
    size_t pbytes = 0;
    if (from) {
        if ((rc = lg_split_file(from, nlines, conns, nconn, own, &total_bytes, &pbytes)))
            goto out;
        pool_lines = (size_t)nlines;
        goto built;
    }

    /* ---- build the pool before the clock starts ---- */
    lg_rng = seed;
    pool = malloc(pool_lines * LG_LINE_MAX);
    len = malloc(pool_lines * sizeof(*len));
    off = malloc((pool_lines + 1) * sizeof(*off));
    if (!pool || !len || !off) {
        fprintf(stderr, "vigil-loadgen: out of memory for a pool of %zu lines\n", pool_lines);
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < pool_lines; i++) {
        off[i] = pbytes;
        int n = lg_line(pool + pbytes, LG_LINE_MAX, i);
        len[i] = (uint32_t)n;
        pbytes += (size_t)n;
    }
    off[pool_lines] = pbytes;
    if (dump) {
        FILE *f = fopen(dump, "w");
        if (!f || fwrite(pool, 1, pbytes, f) != pbytes || fclose(f) != 0) {
            perror(dump);
            rc = 1;
            goto out;
        }
        goto out;
    }

    /* Each connection sends its share of the lines, starting at its own
     * place in the pool and wrapping; count its bytes exactly. */
    for (long c = 0; c < nconn; c++) {
        lg_conn *k = &conns[c];
        k->buf = pool;
        k->size = pbytes;
        k->lines = nlines / (uint64_t)nconn + ((uint64_t)c < nlines % (uint64_t)nconn);
        size_t start = (size_t)((uint64_t)c * pool_lines / (uint64_t)nconn);
        k->pos = off[start];
        uint64_t full = k->lines / pool_lines, rest = k->lines % pool_lines;
        k->left = full * pbytes;
        size_t endl = start + (size_t)rest;
        if (endl <= pool_lines)
            k->left += off[endl] - off[start];
        else
            k->left += (pbytes - off[start]) + off[endl - pool_lines];
        total_bytes += k->left;
    }
built:
    if (dry) {
        printf("loadgen conns=%ld lines=%llu bytes=%llu avg_line=%.1f pool=%zu\n", nconn,
               (unsigned long long)nlines, (unsigned long long)total_bytes,
               (double)pbytes / (double)pool_lines, pool_lines);
        goto out;
    }

    /* ---- connect (the receiver may still be starting: retry for 10 s) ---- */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double give_up = lg_now(CLOCK_MONOTONIC) + 10;
    for (long c = 0; c < nconn; c++) {
        for (;;) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                perror("socket");
                rc = 1;
                goto out;
            }
            if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                conns[c].fd = fd;
                break;
            }
            int e = errno;
            close(fd);
            if (e != ECONNREFUSED || lg_now(CLOCK_MONOTONIC) > give_up) {
                fprintf(stderr, "vigil-loadgen: connect 127.0.0.1:%ld: %s\n", port, strerror(e));
                rc = 1;
                goto out;
            }
            struct timespec ts = {0, 20 * 1000000};
            nanosleep(&ts, NULL);
        }
    }

    /* ---- send ---- */
    struct pollfd pfd[LG_MAX_CONNS];
    struct rusage ru0, ru;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = lg_now(CLOCK_REALTIME), m0 = lg_now(CLOCK_MONOTONIC);
    double deadline = m0 + (double)tlimit;
    uint64_t sent = 0;
    long open = nconn;
    int timed_out = 0, failed = 0;
    while (open > 0) {
        int np = 0;
        for (long c = 0; c < nconn; c++) {
            lg_conn *k = &conns[c];
            if (k->fd < 0) continue;
            /* write until the socket is full, then wait for it */
            for (;;) {
                size_t n = k->size - k->pos;
                if (n > wmax) n = wmax;
                if (n > k->left) n = (size_t)k->left;
                ssize_t w = send(k->fd, k->buf + k->pos, n, MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                    if (errno == EINTR) continue;
                    fprintf(stderr, "vigil-loadgen: connection %ld: %s\n", c, strerror(errno));
                    failed = 1;
                    k->left = 0;
                } else {
                    k->left -= (uint64_t)w;
                    sent += (uint64_t)w;
                    k->pos += (size_t)w;
                    if (k->pos == k->size) k->pos = 0;
                }
                if (k->left == 0) {
                    shutdown(k->fd, SHUT_WR);
                    close(k->fd);
                    k->fd = -1;
                    open--;
                    break;
                }
            }
            if (k->fd >= 0) pfd[np++] = (struct pollfd){.fd = k->fd, .events = POLLOUT};
        }
        if (open == 0) break;
        double now = lg_now(CLOCK_MONOTONIC);
        if (now > deadline) {
            timed_out = 1;
            break;
        }
        int ms = (int)((deadline - now) * 1000) + 1;
        if (poll(pfd, (nfds_t)np, ms) < 0 && errno != EINTR) {
            perror("poll");
            rc = 1;
            goto out;
        }
    }
    double elapsed = lg_now(CLOCK_MONOTONIC) - m0;
    for (long c = 0; c < nconn; c++)
        if (conns[c].fd >= 0) close(conns[c].fd);

    /* CPU of the sending phase only (building the pool is not counted) */
    getrusage(RUSAGE_SELF, &ru);
    double cpu_user = (double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                      (double)(ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
    double cpu_sys = (double)(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                     (double)(ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    /* Lines sent: exact when complete; otherwise estimated from bytes. */
    uint64_t lines_sent = sent == total_bytes
                              ? nlines
                              : (uint64_t)((double)sent / ((double)pbytes / (double)pool_lines));
    printf("loadgen conns=%ld lines=%llu bytes=%llu avg_line=%.1f pool=%zu t0=%.6f elapsed=%.6f "
           "rate=%.0f cpu_user=%.3f cpu_sys=%.3f complete=%d\n",
           nconn, (unsigned long long)lines_sent, (unsigned long long)sent,
           (double)pbytes / (double)pool_lines, pool_lines, t0, elapsed,
           elapsed > 0 ? (double)lines_sent / elapsed : 0.0, cpu_user, cpu_sys,
           sent == total_bytes && !failed);
    if (timed_out)
        fprintf(stderr, "vigil-loadgen: time limit of %ld s reached after %llu of %llu bytes\n",
                tlimit, (unsigned long long)sent, (unsigned long long)total_bytes);
    rc = timed_out ? 2 : failed ? 1 : 0;
out:
    for (long c = 0; c < LG_MAX_CONNS; c++)
        free(own[c]);
    free(pool);
    free(len);
    free(off);
    return rc;
}
