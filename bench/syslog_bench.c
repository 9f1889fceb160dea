/* vigil-syslog-bench: vg_syslog_parse alone, on realistic lines.
 *
 *   vigil-syslog-bench [-n LINES] [-s SEED] [-r ROUNDS] [-x]
 *
 * Builds LINES (default 1,000,000) syslog lines in memory from SEED (default
 * 42; the same seed gives the same lines), then parses all of them ROUNDS
 * times (default 5) in each of two modes and prints the median rate, in
 * lines per CPU-second of the parsing thread (steadier than wall-clock time on
 * a shared machine; the median wall-clock rate follows it):
 *
 *   collector  opts.now_us = arrival time (event time + a little latency),
 *              year inferred, local time (TZ): what vigil-collector does
 *   replay     opts.year = 2024 and a fixed now_us: what --replay does
 *
 * The mix, per thousand lines: 480 RFC 3164 "<PRI>Mmm dd hh:mm:ss HOST
 * TAG[PID]: MSG" (sshd, sudo, kernel UFW, nginx, cron, systemd, postfix), 100
 * the same without PRI (as read from files), 40 without a hostname, 100 Cisco
 * (IOS with a sequence number, milliseconds, "*" or "UTC:", ASA with the year
 * before the time, with and without a hostname), 50 RFC 3164 with an RFC 3339
 * stamp (rsyslog's high-precision template), 230 RFC 5424 (three in four with
 * STRUCTURED-DATA, some with a BOM). Event time starts at 2024-06-01 00:00:00
 * UTC and advances 200 lines per second; one line in ten comes from a sender a
 * few seconds late. Average line: about 185 bytes.
 *
 * It also prints a checksum over every field of every event, so that two
 * builds of the parser can be compared on the same lines. -x prints the lines
 * instead. Not a test and not installed (bench/README.md does not describe it
 * yet).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/syslog.h"

static uint64_t sb_rng;

static uint64_t sb_next(void)
{
    uint64_t z = (sb_rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned sb_rand(unsigned n)
{
    return (unsigned)(sb_next() % n);
}

#define SB_PICK(a) ((a)[sb_rand(sizeof(a) / sizeof((a)[0]))])

static const char *const sb_mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const sb_units[] = {"road", "avn", "rail"};
static const char *const sb_roles[] = {"app", "db", "gw", "fw", "ws", "dc", "fs", "mon"};
static const char *const sb_sites[] = {"hq", "north", "south", "east", "west", "port"};
static const char *const sb_users[] = {"root", "admin",    "test",   "oracle", "ubuntu", "pi",
                                       "git",  "postgres", "deploy", "alice",  "bob",    "carol"};
static const char *const sb_paths[] = {"/",      "/index.html",   "/api/v1/status",
                                       "/login", "/wp-login.php", "/static/app.js",
                                       "/.env",  "/admin"};
static const char *const sb_apps[] = {"evntslog", "myapp",   "auditd", "kubelet",
                                      "dockerd",  "haproxy", "vault",  "consul"};
typedef struct sb_lines {
    char *buf;
    size_t len, cap;
    uint32_t *off; /* line k is buf[off[k] .. off[k+1]) */
    int64_t *now;  /* its arrival time, microseconds */
    size_t n;
} sb_lines;

__attribute__((format(printf, 2, 3))) static void sb_add(sb_lines *L, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) k = 0;
    if ((size_t)k >= sizeof tmp) k = (int)sizeof tmp - 1;
    if (L->len + (size_t)k > L->cap) {
        L->cap = L->cap * 2 + (size_t)k;
        L->buf = realloc(L->buf, L->cap);
        if (!L->buf) {
            perror("realloc");
            exit(1);
        }
    }
    memcpy(L->buf + L->len, tmp, (size_t)k);
    L->len += (size_t)k;
}

static void sb_host(char *out, size_t cap)
{
    if (sb_rand(100) < 70)
        snprintf(out, cap, "%s-%s-%02u.%s.vigil.example", SB_PICK(sb_units), SB_PICK(sb_roles),
                 1 + sb_rand(25), SB_PICK(sb_sites));
    else
        snprintf(out, cap, "web%02u.example.net", 1 + sb_rand(20));
}

static void sb_ip(char *out, size_t cap)
{
    snprintf(out, cap, "%u.%u.%u.%u", 1 + sb_rand(223), sb_rand(256), sb_rand(256),
             1 + sb_rand(254));
}

/* "TAG[PID]: MSG" of an ordinary Linux host. */
static void sb_body(sb_lines *L)
{
    char ip[24], ip2[24];
    unsigned pid = 300 + sb_rand(60000), k = sb_rand(100);
    sb_ip(ip, sizeof ip);
    sb_ip(ip2, sizeof ip2);
    if (k < 30)
        sb_add(L, "sshd[%u]: Failed password for %s%s from %s port %u ssh2", pid,
               sb_rand(2) ? "invalid user " : "", SB_PICK(sb_users), ip, 1024 + sb_rand(64000));
    else if (k < 40)
        sb_add(L, "sshd[%u]: pam_unix(sshd:session): session opened for user %s(uid=%u) by (uid=0)",
               pid, SB_PICK(sb_users), 1000 + sb_rand(30));
    else if (k < 50)
        sb_add(L,
               "sudo[%u]: %8s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl "
               "restart nginx",
               pid, SB_PICK(sb_users), sb_rand(8), SB_PICK(sb_users));
    else if (k < 70)
        sb_add(L,
               "kernel: [%u.%06u] [UFW BLOCK] IN=eth0 OUT= "
               "MAC=52:54:00:12:34:56:fa:16:3e:ab:cd:ef:08:00 "
               "SRC=%s DST=%s LEN=%u TOS=0x00 PREC=0x00 TTL=%u ID=%u PROTO=TCP SPT=%u DPT=%u "
               "WINDOW=64240 RES=0x00 SYN URGP=0",
               sb_rand(2000000), sb_rand(1000000), ip, ip2, 40 + sb_rand(1400), 32 + sb_rand(96),
               sb_rand(65536), 1024 + sb_rand(64000), sb_rand(1024));
    else if (k < 85)
        sb_add(
            L,
            "nginx[%u]: %s - - \"GET %s HTTP/1.1\" %u %u \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
            pid, ip, SB_PICK(sb_paths), sb_rand(5) ? 200u : 404u, 200 + sb_rand(90000));
    else if (k < 90)
        sb_add(L,
               "CRON[%u]: (root) CMD (/usr/local/bin/backup.sh --incremental >> "
               "/var/log/backup.log 2>&1)",
               pid);
    else if (k < 95)
        sb_add(L, "systemd[1]: Started session-%u.scope - Session %u of User %s.", sb_rand(9999),
               sb_rand(9999), SB_PICK(sb_users));
    else
        sb_add(L, "postfix/smtpd[%u]: connect from mx%u.partner-%u.example.org[%s]", pid,
               sb_rand(4), sb_rand(300), ip);
}

static void sb_generate(sb_lines *L, size_t nlines, uint64_t seed)
{
    sb_rng = seed;
    L->cap = nlines * 160 + 1024;
    L->buf = malloc(L->cap);
    L->off = malloc((nlines + 1) * sizeof *L->off);
    L->now = malloc(nlines * sizeof *L->now);
    if (!L->buf || !L->off || !L->now) {
        perror("malloc");
        exit(1);
    }
    for (size_t i = 0; i < nlines; i++) {
        int64_t t = 1717200000 + (int64_t)(i / 200);
        L->now[i] = t * 1000000 + (int64_t)sb_rand(1000000);
        if (sb_rand(10) == 0) /* a late sender */
            t -= 1 + sb_rand(5);
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        char ts[40], host[64], ip[24];
        snprintf(ts, sizeof ts, "%s %2d %02d:%02d:%02d", sb_mon[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        sb_host(host, sizeof host);
        unsigned k = sb_rand(1000), ms = sb_rand(1000);
        L->off[i] = (uint32_t)L->len;
        if (k < 480) {
            sb_add(L, "<%u>%s %s ",
                   8 * (unsigned)SB_PICK(((unsigned[]){4, 10, 3, 16, 1})) + sb_rand(8), ts, host);
            sb_body(L);
        } else if (k < 580) {
            sb_add(L, "%s %s ", ts, host);
            sb_body(L);
        } else if (k < 620) {
            sb_add(L, "<13>%s ", ts);
            sb_body(L);
        } else if (k < 720) {
            unsigned v = sb_rand(4), seq = sb_rand(100000);
            switch (v) {
            case 0:
                sb_add(L, "<189>%u: *%s.%03u: ", seq, ts, ms);
                break;
            case 1:
                sb_add(L, "<189>%u: %s.%03u UTC: ", seq, ts, ms);
                break;
            case 2:
                sb_add(L, "<166>%s %d %04d %02d:%02d:%02d: ", sb_mon[tm.tm_mon], tm.tm_mday,
                       tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
                break;
            default:
                sb_add(L, "<166>%s %s : ", ts, host);
                break;
            }
            if (v >= 2) {
                sb_ip(ip, sizeof ip);
                sb_add(L,
                       "%%ASA-6-302013: Built inbound TCP connection %u for outside:%s/%u (%s/%u) "
                       "to inside:10.1.%u.%u/443 (10.1.0.1/443)",
                       sb_rand(1u << 30), ip, 1024 + sb_rand(64000), ip, 1024 + sb_rand(64000),
                       sb_rand(256), 1 + sb_rand(254));
            } else {
                switch (sb_rand(4)) { /* Cisco IOS */
                case 0:
                    sb_add(L, "%%LINK-3-UPDOWN: Interface GigabitEthernet0/%u, changed state to up",
                           sb_rand(48));
                    break;
                case 1:
                    sb_add(L,
                           "%%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/%u, "
                           "changed state to down",
                           sb_rand(48));
                    break;
                case 2:
                    sb_add(L,
                           "%%SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.2.%u(51234) -> "
                           "10.9.9.9(22), 1 packet",
                           sb_rand(255));
                    break;
                default:
                    sb_add(L,
                           "%%SYS-5-CONFIG_I: Configured from console by admin on vty%u (10.0.0.5)",
                           sb_rand(5));
                    break;
                }
            }
        } else if (k < 770) {
            sb_add(L, "<%u>%04d-%02d-%02dT%02d:%02d:%02d.%06u+00:00 %s ", 8 * 3 + sb_rand(8),
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   sb_rand(1000000), host);
            sb_body(L);
        } else {
            sb_add(L, "<%u>1 %04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s %s %u ID%u ",
                   8 * 20 + sb_rand(8), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ms, host, SB_PICK(sb_apps), 100 + sb_rand(60000),
                   sb_rand(100));
            unsigned sd = sb_rand(4);
            if (sd == 0)
                sb_add(L, "- ");
            else if (sd == 1)
                sb_add(L,
                       "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"%u\"] ",
                       sb_rand(10000));
            else
                sb_add(L,
                       "[origin ip=\"10.%u.%u.%u\" software=\"vigil\"][meta sequenceId=\"%u\" "
                       "sysUpTime=\"%u\" language=\"en\"][req@32473 path=\"/api/v1/items\" "
                       "note=\"a \\\"quoted\\\" \\] value\"] ",
                       sb_rand(256), sb_rand(256), sb_rand(256), sb_rand(1000000),
                       sb_rand(100000000));
            if (sb_rand(5) == 0) sb_add(L, "\xEF\xBB\xBF");
            sb_add(L, "%s request from %s took %u ms; status=%u bytes=%u user=%s", SB_PICK(sb_apps),
                   host, sb_rand(5000), sb_rand(5) ? 200u : 503u, sb_rand(100000),
                   SB_PICK(sb_users));
        }
    }
    L->off[nlines] = (uint32_t)L->len;
    L->n = nlines;
}

static double sb_clock(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t sb_mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static uint64_t sb_str(uint64_t h, const char *base, vg_str s)
{
    return sb_mix(sb_mix(h, s.p ? (uint64_t)(s.p - base) + 1 : 0), s.len);
}

/* One round: parses every line; returns CPU seconds (*wall: wall seconds),
 * and the checksum in *sum. */
static double sb_round(const sb_lines *L, int replay, uint64_t *sum, double *wall)
{
    uint64_t h = 1469598103934665603ull;
    vg_event ev;
    double w0 = sb_clock(CLOCK_MONOTONIC), t0 = sb_clock(CLOCK_THREAD_CPUTIME_ID);
    for (size_t i = 0; i < L->n; i++) {
        const char *l = L->buf + L->off[i];
        vg_syslog_opts o = {.now_us = replay ? INT64_C(1760000000000000) : L->now[i],
                            .year = replay ? 2024 : 0};
        vg_syslog_parse(l, L->off[i + 1] - L->off[i], &o, &ev);
        h = sb_mix(h, (uint64_t)ev.ts_us);
        h = sb_mix(h, (uint64_t)ev.recv_us);
        h = sb_mix(h, (uint64_t)(uint32_t)ev.tz_min);
        h = sb_mix(h, (uint64_t)(uint16_t)ev.pri << 16 | ev.flags);
        h = sb_str(h, l, ev.host);
        h = sb_str(h, l, ev.app);
        h = sb_str(h, l, ev.procid);
        h = sb_str(h, l, ev.msgid);
        h = sb_str(h, l, ev.sd);
        h = sb_str(h, l, ev.msg);
        h = sb_str(h, l, ev.raw);
        h = sb_mix(h, ev.reason.len);
    }
    double dt = sb_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
    *wall = sb_clock(CLOCK_MONOTONIC) - w0;
    *sum = h;
    return dt;
}

static int sb_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t nlines = 1000000;
    uint64_t seed = 42;
    int rounds = 5, opt, print = 0;
    while ((opt = getopt(argc, argv, "n:s:r:xh")) != -1) {
        switch (opt) {
        case 'n':
            nlines = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'x':
            print = 1;
            break;
        default:
            fprintf(stderr, "usage: vigil-syslog-bench [-n LINES] [-s SEED] [-r ROUNDS] [-x]\n");
            return opt == 'h' ? 0 : 64;
        }
    }
    if (nlines == 0 || nlines > 20000000 || rounds < 1 || rounds > 101 || optind != argc) {
        fprintf(stderr, "usage: vigil-syslog-bench [-n LINES] [-s SEED] [-r ROUNDS] [-x]\n");
        return 64;
    }
    sb_lines L = {0};
    sb_generate(&L, nlines, seed);
    if (print) {
        for (size_t i = 0; i < L.n; i++)
            printf("%.*s\n", (int)(L.off[i + 1] - L.off[i]), L.buf + L.off[i]);
    } else {
        printf("syslog-bench: %zu lines, %.1f bytes/line, seed %llu, %d rounds, TZ=%s\n", L.n,
               (double)L.len / (double)L.n, (unsigned long long)seed, rounds,
               getenv("TZ") ? getenv("TZ") : "(unset)");
        static const char *const mode[] = {"collector", "replay"};
        for (int m = 0; m < 2; m++) {
            double cpu[101], wall[101];
            uint64_t sum = 0;
            sb_round(&L, m, &sum, &wall[0]); /* warm-up: page faults, caches */
            for (int r = 0; r < rounds; r++)
                cpu[r] = sb_round(&L, m, &sum, &wall[r]);
            qsort(cpu, (size_t)rounds, sizeof cpu[0], sb_cmp);
            qsort(wall, (size_t)rounds, sizeof wall[0], sb_cmp);
            double med = cpu[rounds / 2];
            printf("%-9s  %.0f lines/CPU-s (%.1f ns/line; range %.0f-%.0f), %.0f lines/s wall  "
                   "checksum %016llx\n",
                   mode[m], (double)L.n / med, med * 1e9 / (double)L.n,
                   (double)L.n / cpu[rounds - 1], (double)L.n / cpu[0],
                   (double)L.n / wall[rounds / 2], (unsigned long long)sum);
        }
    }
    free(L.buf);
    free(L.off);
    free(L.now);
    return 0;
}
